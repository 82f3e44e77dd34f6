//! Messages explained for `decode --json`: every field as JSON.

use cue::bgp::wire::{
    attribute_name, capability_name, family_name, hex, AsPath, Capability, Message, MpReach,
    MpUnreach, Notification, Open, PathAttributes, RouteRefresh, Update,
};
use ipnet::IpNet;
use serde_json::{json, Map, Value};

fn prefixes(p: &[IpNet]) -> Value {
    Value::Array(p.iter().map(|n| Value::String(n.to_string())).collect())
}

/// Every field of a message as JSON, with `type` first.
pub fn message_json(m: &Message) -> Value {
    match m {
        Message::Open(o) => open_json(o),
        Message::Update(u) => update_json(u),
        Message::Notification(n) => notification_json(n),
        Message::Keepalive => json!({"type": "KEEPALIVE"}),
        Message::RouteRefresh(r) => route_refresh_json(r),
    }
}

/// A capability as JSON: its code and registry name, then its fields.
fn capability_json(c: &Capability) -> Value {
    let fields = match c {
        Capability::Multiprotocol { afi, safi } => json!({
            "afi": afi, "safi": safi, "family": family_name(*afi, *safi),
        }),
        Capability::RouteRefresh | Capability::ExtendedMessage => json!({}),
        Capability::AddPath(families) => json!({
            "families": families.iter().map(|(afi, safi, send_receive)| json!({
                "afi": afi, "safi": safi, "family": family_name(*afi, *safi),
                "send_receive": match send_receive { 1 => "receive", 2 => "send", 3 => "send-receive", _ => "unknown" },
            })).collect::<Vec<_>>(),
        }),
        Capability::ExtendedNextHop(families) => json!({
            "families": families.iter().map(|(afi, safi, nh_afi)| json!({
                "afi": afi, "safi": safi, "next_hop_afi": nh_afi,
            })).collect::<Vec<_>>(),
        }),
        Capability::FourOctetAs(asn) => json!({"asn": asn}),
        Capability::GracefulRestart {
            restarting,
            notification,
            restart_time,
            families,
        } => json!({
            "restarting": restarting,
            "notification": notification,
            "restart_time": restart_time,
            "families": families.iter().map(|f| json!({
                "afi": f.afi, "safi": f.safi, "family": family_name(f.afi, f.safi),
                "forwarding": f.forwarding,
            })).collect::<Vec<_>>(),
        }),
        Capability::Unknown { data, .. } => json!({"data": hex(data)}),
    };
    let mut v = Map::new();
    v.insert("code".into(), json!(c.code()));
    v.insert("name".into(), json!(capability_name(c.code())));
    if let Value::Object(fields) = fields {
        v.extend(fields);
    }
    Value::Object(v)
}

fn open_json(o: &Open) -> Value {
    let caps: Vec<Value> = o.capabilities.iter().map(capability_json).collect();
    json!({
        "type": "OPEN",
        "version": o.version,
        "my_as": o.my_as,
        "asn": o.asn(),
        "hold_time": o.hold_time,
        "bgp_id": o.bgp_id.to_string(),
        "capabilities": caps,
    })
}

fn as_path_json(p: &AsPath) -> Value {
    serde_json::to_value(p).unwrap_or_default()
}

fn mp_reach_json(m: &MpReach) -> Value {
    json!({
        "afi": m.afi, "safi": m.safi, "family": family_name(m.afi, m.safi),
        "next_hops": m.next_hops.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        "nlri": prefixes(&m.nlri),
        "path_ids": m.path_ids,
        "unparsed": hex(&m.unparsed),
    })
}

fn mp_unreach_json(m: &MpUnreach) -> Value {
    json!({
        "afi": m.afi, "safi": m.safi, "family": family_name(m.afi, m.safi),
        "withdrawn": prefixes(&m.withdrawn),
        "path_ids": m.path_ids,
        "unparsed": hex(&m.unparsed),
    })
}

fn attributes_json(a: &PathAttributes) -> Value {
    let mut m = Map::new();
    if let Some(o) = a.origin {
        m.insert("origin".into(), json!(o));
    }
    if let Some(p) = &a.as_path {
        m.insert("as_path".into(), as_path_json(p));
    }
    if let Some(nh) = a.next_hop {
        m.insert("next_hop".into(), json!(nh.to_string()));
    }
    if let Some(v) = a.med {
        m.insert("med".into(), json!(v));
    }
    if let Some(v) = a.local_pref {
        m.insert("local_pref".into(), json!(v));
    }
    if a.atomic_aggregate {
        m.insert("atomic_aggregate".into(), json!(true));
    }
    if let Some((asn, addr)) = a.aggregator {
        m.insert(
            "aggregator".into(),
            json!({"asn": asn, "address": addr.to_string()}),
        );
    }
    if !a.communities.is_empty() {
        m.insert("communities".into(), json!(a.communities));
    }
    if let Some(r) = &a.mp_reach {
        m.insert("mp_reach_nlri".into(), mp_reach_json(r));
    }
    if let Some(u) = &a.mp_unreach {
        m.insert("mp_unreach_nlri".into(), mp_unreach_json(u));
    }
    if let Some(p) = &a.as4_path {
        m.insert("as4_path".into(), as_path_json(p));
    }
    if let Some((asn, addr)) = a.as4_aggregator {
        m.insert(
            "as4_aggregator".into(),
            json!({"asn": asn, "address": addr.to_string()}),
        );
    }
    if !a.large_communities.is_empty() {
        m.insert("large_communities".into(), json!(a.large_communities));
    }
    if !a.other.is_empty() {
        let other: Vec<Value> = a
            .other
            .iter()
            .map(|r| json!({"type": r.type_code, "name": attribute_name(r.type_code), "flags": r.flags, "value": hex(&r.value)}))
            .collect();
        m.insert("other".into(), Value::Array(other));
    }
    Value::Object(m)
}

fn update_json(u: &Update) -> Value {
    let mut v = json!({
        "type": "UPDATE",
        "withdrawn": prefixes(&u.withdrawn),
        "attributes": attributes_json(&u.attributes),
        "nlri": prefixes(&u.nlri),
    });
    // ADD-PATH: the path identifiers, in the order of their prefixes.
    if !u.withdrawn_path_ids.is_empty() {
        v["withdrawn_path_ids"] = json!(u.withdrawn_path_ids);
    }
    if !u.nlri_path_ids.is_empty() {
        v["nlri_path_ids"] = json!(u.nlri_path_ids);
    }
    if let Some((afi, safi)) = u.end_of_rib() {
        v["end_of_rib"] = json!(family_name(afi, safi));
    }
    v
}

fn notification_json(n: &Notification) -> Value {
    json!({
        "type": "NOTIFICATION",
        "code": n.code,
        "subcode": n.subcode,
        "reason": n.reason(),
        "data": hex(&n.data),
    })
}

fn route_refresh_json(r: &RouteRefresh) -> Value {
    json!({
        "type": "ROUTE-REFRESH",
        "afi": r.afi,
        "safi": r.safi,
        "subtype": r.subtype,
        "family": family_name(r.afi, r.safi),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cue::bgp::wire::Family;
    use std::net::Ipv4Addr;

    #[test]
    fn open_and_notification() {
        let o = Message::Open(Open::new(
            65001,
            10,
            Ipv4Addr::LOCALHOST,
            &[Family::Ipv4Unicast],
        ));
        let j = message_json(&o);
        assert_eq!(j["type"], "OPEN");
        assert_eq!(j["asn"], 65001);
        assert_eq!(j["capabilities"][0]["family"], "ipv4-unicast");
        let n = Message::Notification(Notification::admin_shutdown());
        assert_eq!(
            message_json(&n)["reason"],
            "Cease / Administrative Shutdown"
        );
    }

    #[test]
    fn attributes_kept_as_they_came_carry_their_name() {
        use cue::bgp::wire::RawAttribute;
        let raw = |type_code| RawAttribute {
            flags: 0x80,
            type_code,
            value: vec![1, 2, 3, 4],
        };
        let mut u = Update::default();
        u.attributes.other = vec![raw(9), raw(26)];
        let j = message_json(&Message::Update(u));
        assert_eq!(j["attributes"]["other"][0]["name"], "ORIGINATOR_ID");
        assert_eq!(j["attributes"]["other"][1]["name"], "attribute 26");
    }
}

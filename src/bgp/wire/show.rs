//! Messages explained: every field as JSON, and one-line summaries for
//! traces.

use super::{
    AsPath, Capability, Family, Message, MpReach, MpUnreach, Notification, Open, PathAttributes,
    RouteRefresh, Update,
};
use ipnet::IpNet;
use serde_json::{json, Map, Value};
use std::fmt::Write;

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The name of a capability code (RFC 5492 registry, the ones met in
/// practice).
pub fn capability_name(code: u8) -> &'static str {
    match code {
        1 => "multiprotocol",
        2 => "route-refresh",
        5 => "extended-next-hop",
        6 => "extended-message",
        9 => "bgp-role",
        64 => "graceful-restart",
        65 => "4-octet-as",
        69 => "add-path",
        70 => "enhanced-route-refresh",
        71 => "long-lived-graceful-restart",
        73 => "fqdn",
        128 => "route-refresh-old",
        _ => "unknown",
    }
}

fn family_name(afi: u16, safi: u8) -> String {
    match Family::from_afi_safi(afi, safi) {
        Some(f) => f.to_string(),
        None => format!("afi {afi} safi {safi}"),
    }
}

fn prefixes(p: &[IpNet]) -> Value {
    Value::Array(p.iter().map(|n| Value::String(n.to_string())).collect())
}

impl Message {
    /// Every field of the message as JSON, with `type` first.
    pub fn to_json(&self) -> Value {
        match self {
            Message::Open(o) => open_json(o),
            Message::Update(u) => update_json(u),
            Message::Notification(n) => notification_json(n),
            Message::Keepalive => json!({"type": "KEEPALIVE"}),
            Message::RouteRefresh(r) => route_refresh_json(r),
        }
    }

    /// One line: the type and what matters in it.
    pub fn summary(&self) -> String {
        match self {
            Message::Open(o) => {
                let caps: Vec<String> = o.capabilities.iter().map(|c| c.to_string()).collect();
                format!(
                    "OPEN AS {} hold {} id {} capabilities [{}]",
                    o.asn(),
                    o.hold_time,
                    o.bgp_id,
                    caps.join(", ")
                )
            }
            Message::Update(u) => update_summary(u),
            Message::Notification(n) => format!("NOTIFICATION {n}"),
            Message::Keepalive => "KEEPALIVE".into(),
            Message::RouteRefresh(r) => format!(
                "ROUTE-REFRESH {}{}",
                family_name(r.afi, r.safi),
                match r.subtype {
                    0 => "",
                    1 => " (begin)",
                    2 => " (end)",
                    _ => " (unknown subtype)",
                }
            ),
        }
    }
}

fn open_json(o: &Open) -> Value {
    let caps: Vec<Value> = o
        .capabilities
        .iter()
        .map(|c| match c {
            Capability::Multiprotocol { afi, safi } => json!({
                "code": 1, "name": "multiprotocol", "afi": afi, "safi": safi,
                "family": family_name(*afi, *safi),
            }),
            Capability::RouteRefresh => json!({"code": 2, "name": "route-refresh"}),
            Capability::FourOctetAs(asn) => json!({"code": 65, "name": "4-octet-as", "asn": asn}),
            Capability::Unknown { code, data } => json!({
                "code": code, "name": capability_name(*code), "data": hex(data),
            }),
        })
        .collect();
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
    Value::String(p.to_string())
}

fn mp_reach_json(m: &MpReach) -> Value {
    json!({
        "afi": m.afi, "safi": m.safi, "family": family_name(m.afi, m.safi),
        "next_hops": m.next_hops.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        "nlri": prefixes(&m.nlri),
    })
}

fn mp_unreach_json(m: &MpUnreach) -> Value {
    json!({
        "afi": m.afi, "safi": m.safi, "family": family_name(m.afi, m.safi),
        "withdrawn": prefixes(&m.withdrawn),
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
            .map(|r| json!({"type": r.type_code, "flags": r.flags, "value": hex(&r.value)}))
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

fn list(p: &mut dyn Iterator<Item = &IpNet>, n: usize) -> String {
    let shown: Vec<String> = p.take(4).map(|x| x.to_string()).collect();
    if n > shown.len() {
        format!("{} ... ({n})", shown.join(" "))
    } else {
        shown.join(" ")
    }
}

fn update_summary(u: &Update) -> String {
    if let Some((afi, safi)) = u.end_of_rib() {
        return format!("UPDATE End-of-RIB {}", family_name(afi, safi));
    }
    let a = &u.attributes;
    let mut s = String::from("UPDATE");
    let announced = u.announced().count();
    let withdrawn = u.withdrawn_all().count();
    if announced > 0 {
        let _ = write!(s, " announce {}", list(&mut u.announced(), announced));
    }
    if withdrawn > 0 {
        let _ = write!(s, " withdraw {}", list(&mut u.withdrawn_all(), withdrawn));
    }
    if let Some(nh) = a.next_hop {
        let _ = write!(s, " next-hop {nh}");
    }
    if let Some(m) = &a.mp_reach {
        let nh: Vec<String> = m.next_hops.iter().map(|n| n.to_string()).collect();
        let _ = write!(s, " mp-next-hop {}", nh.join(","));
    }
    if let Some(p) = a.full_as_path() {
        let _ = write!(s, " as-path [{p}]");
    }
    if let Some(o) = a.origin {
        let _ = write!(s, " origin {o}");
    }
    if let Some(v) = a.med {
        let _ = write!(s, " med {v}");
    }
    if let Some(v) = a.local_pref {
        let _ = write!(s, " local-pref {v}");
    }
    if !a.communities.is_empty() {
        let c: Vec<String> = a.communities.iter().map(|c| c.to_string()).collect();
        let _ = write!(s, " communities {}", c.join(","));
    }
    if !a.large_communities.is_empty() {
        let c: Vec<String> = a.large_communities.iter().map(|c| c.to_string()).collect();
        let _ = write!(s, " large-communities {}", c.join(","));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::super::{DecodeContext, Notification};
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn open_and_notification() {
        let o = Message::Open(Open::new(
            65001,
            10,
            Ipv4Addr::LOCALHOST,
            &[Family::Ipv4Unicast],
        ));
        let j = o.to_json();
        assert_eq!(j["type"], "OPEN");
        assert_eq!(j["asn"], 65001);
        assert_eq!(j["capabilities"][0]["family"], "ipv4-unicast");
        assert_eq!(
            o.summary(),
            "OPEN AS 65001 hold 10 id 127.0.0.1 capabilities [multiprotocol ipv4-unicast, route-refresh, 4-octet-as 65001]"
        );
        let n = Message::Notification(Notification::admin_shutdown());
        assert_eq!(
            n.summary(),
            "NOTIFICATION 6/2 Cease / Administrative Shutdown"
        );
        assert_eq!(n.to_json()["reason"], "Cease / Administrative Shutdown");
        let bytes = n.to_bytes(DecodeContext::default());
        assert_eq!(hex(&bytes[16..]), "0015030602");
    }
}

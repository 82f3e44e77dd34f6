//! Messages in one line each, for traces; hex.

use super::{family_name, Message, Update};
use ipnet::IpNet;
use std::fmt::Write;

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

impl Message {
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

/// Up to four prefixes of `n`, each with its ADD-PATH path id as
/// `PREFIX#ID` where it has one.
fn list(p: &mut dyn Iterator<Item = (&IpNet, Option<u32>)>, n: usize) -> String {
    let shown: Vec<String> = p
        .take(4)
        .map(|(x, id)| match id {
            Some(id) => format!("{x}#{id}"),
            None => x.to_string(),
        })
        .collect();
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
        let _ = write!(s, " announce {}", list(&mut u.announced_paths(), announced));
    }
    if withdrawn > 0 {
        let _ = write!(s, " withdraw {}", list(&mut u.withdrawn_paths(), withdrawn));
    }
    if let Some(nh) = a.next_hop {
        let _ = write!(s, " next-hop {nh}");
    }
    if let Some(m) = &a.mp_reach {
        let nh: Vec<String> = m.next_hops.iter().map(|n| n.to_string()).collect();
        let _ = write!(s, " mp-next-hop {}", nh.join(","));
        if !m.unparsed.is_empty() {
            let _ = write!(
                s,
                " announce {} (not parsed) {}",
                family_name(m.afi, m.safi),
                hex(&m.unparsed)
            );
        }
    }
    if let Some(m) = a.mp_unreach.as_ref().filter(|m| !m.unparsed.is_empty()) {
        let _ = write!(
            s,
            " withdraw {} (not parsed) {}",
            family_name(m.afi, m.safi),
            hex(&m.unparsed)
        );
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

/// Hex text that is not bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HexError {
    /// A character that is not a hex digit.
    #[error("{0:?} is not a hex digit")]
    NotHex(char),
    /// An odd number of digits.
    #[error("an odd number of hex digits")]
    OddLength,
}

/// Turns hex text into bytes, ignoring whitespace, colons, commas and `0x`.
///
/// ```
/// assert_eq!(cue::bgp::wire::parse_hex("ff:ff 0x00 13"), Ok(vec![0xff, 0xff, 0, 0x13]));
/// ```
pub fn parse_hex(text: &str) -> Result<Vec<u8>, HexError> {
    let cleaned: String = text
        .replace("0x", "")
        .replace("0X", "")
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':' && *c != ',')
        .collect();
    if let Some(bad) = cleaned.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(HexError::NotHex(bad));
    }
    if cleaned.len() % 2 != 0 {
        return Err(HexError::OddLength);
    }
    Ok((0..cleaned.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&cleaned[i..i + 2], 16).expect("checked hex"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::{DecodeContext, Family, Notification, Open};
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
        assert_eq!(
            o.summary(),
            "OPEN AS 65001 hold 10 id 127.0.0.1 capabilities [multiprotocol ipv4-unicast, route-refresh, 4-octet-as 65001]"
        );
        let n = Message::Notification(Notification::admin_shutdown());
        assert_eq!(
            n.summary(),
            "NOTIFICATION 6/2 Cease / Administrative Shutdown"
        );
        let bytes = n.to_bytes(DecodeContext::default());
        assert_eq!(hex(&bytes[16..]), "0015030602");
    }
}

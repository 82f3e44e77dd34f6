//! The route syntax: a prefix and the attributes written for it, as
//! `--advertise-file` lines, the `announce` and `expect` commands and
//! `cue-bgp listen --expect` take them.

use super::error::{column_of, RouteError, RouteErrorKind};
use crate::bgp::config::next_hop_usable;
use crate::bgp::wire::{Community, ExtCommunity, LargeCommunity, Origin};
use ipnet::IpNet;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// Parses a prefix, or a bare address meaning /32 or /128. Host bits are
/// cleared (`10.1.2.3/8` is `10.0.0.0/8`).
pub fn parse_prefix(s: &str) -> Result<IpNet, RouteError> {
    prefix_of(s).ok_or_else(|| RouteErrorKind::NotAPrefix(s.trim().to_string()).into())
}

/// [`parse_prefix`] without the error: what a route file's loader calls
/// for every line (an `Option` is returned in registers; the error is
/// made only for a line that has one).
#[inline]
pub(crate) fn prefix_of(s: &str) -> Option<IpNet> {
    let s = s.trim();
    if let Some(net) = parse_ipv4_dotted(s.as_bytes()).or_else(|| parse_ipv6_hex(s.as_bytes())) {
        return Some(net);
    }
    // One parse, not two: a bare address has no '/'.
    if s.contains('/') {
        s.parse::<IpNet>().map(|n| n.trunc()).ok()
    } else {
        s.parse::<IpAddr>().map(IpNet::from).ok()
    }
}

/// The common case of a route file, a dotted IPv4 address with or without
/// a length (`10.1.2.3`, `10.1.0.0/16`), read without the general parser:
/// a third of the cost of a line. Anything else (IPv6, a leading zero, a
/// mistake) is `None` and goes to the general parser, which decides.
fn parse_ipv4_dotted(s: &[u8]) -> Option<IpNet> {
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (k, octet) in octets.iter_mut().enumerate() {
        if k > 0 {
            if s.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let start = i;
        let mut v = 0u32;
        while i < s.len() && i - start < 3 && s[i].is_ascii_digit() {
            v = v * 10 + u32::from(s[i] - b'0');
            i += 1;
        }
        let digits = i - start;
        if digits == 0 || v > 255 || (digits > 1 && s[start] == b'0') {
            return None;
        }
        *octet = v as u8;
    }
    let addr = std::net::Ipv4Addr::from(octets);
    let len = match &s[i..] {
        [] => 32,
        [b'/', len @ ..] => prefix_length(len)?,
        _ => return None,
    };
    ipnet::Ipv4Net::new(addr, len)
        .ok()
        .map(|n| IpNet::V4(n.trunc()))
}

/// A prefix length of one to three digits without a leading zero.
fn prefix_length(s: &[u8]) -> Option<u8> {
    if s.is_empty() || s.len() > 3 || (s.len() > 1 && s[0] == b'0') {
        return None;
    }
    let mut v = 0u32;
    for &d in s {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(d - b'0');
    }
    u8::try_from(v).ok()
}

/// The IPv6 counterpart of [`parse_ipv4_dotted`]: groups of one to four
/// hex digits, at most one `::`, an optional length. An embedded IPv4
/// address, a zone or anything odd is `None` (the general parser decides).
fn parse_ipv6_hex(s: &[u8]) -> Option<IpNet> {
    let (text, len) = match memchr::memchr(b'/', s) {
        Some(at) => (&s[..at], prefix_length(&s[at + 1..])?),
        None => (s, 128),
    };
    let mut head = [0u16; 8];
    let mut tail = [0u16; 8];
    let (mut heads, mut tails) = (0, 0);
    let mut compressed = false;
    let mut i = 0;
    if text.starts_with(b"::") {
        compressed = true;
        i = 2;
    }
    while i < text.len() {
        let start = i;
        let mut v = 0u16;
        while i < text.len() && i - start < 4 {
            let Some(d) = char::from(text[i]).to_digit(16) else {
                break;
            };
            v = v * 16 + d as u16;
            i += 1;
        }
        if i == start {
            return None;
        }
        if compressed {
            if heads + tails >= 7 {
                return None;
            }
            tail[tails] = v;
            tails += 1;
        } else {
            if heads >= 8 {
                return None;
            }
            head[heads] = v;
            heads += 1;
        }
        if i == text.len() {
            break;
        }
        if text[i] != b':' {
            return None;
        }
        i += 1;
        if text.get(i) == Some(&b':') {
            if compressed {
                return None;
            }
            compressed = true;
            i += 1;
        } else if i == text.len() {
            return None;
        }
    }
    if (!compressed && heads != 8) || (compressed && heads + tails > 7) {
        return None;
    }
    let mut groups = [0u16; 8];
    groups[..heads].copy_from_slice(&head[..heads]);
    groups[8 - tails..].copy_from_slice(&tail[..tails]);
    ipnet::Ipv6Net::new(std::net::Ipv6Addr::from(groups), len)
        .ok()
        .map(|n| IpNet::V6(n.trunc()))
}

/// The attributes a route is written with; each one optional.
///
/// ```
/// use cue::bgp::route::AttributeSpec;
/// let a: AttributeSpec = "origin egp local-pref 200".parse().unwrap();
/// assert_eq!(a.local_pref, Some(200));
/// assert_eq!(a.to_string(), "origin egp local-pref 200");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct AttributeSpec {
    /// The path identifier (ADD-PATH, RFC 7911): routes of one prefix
    /// with different identifiers are different paths.
    pub path_id: Option<u32>,
    /// NEXT_HOP (or the MP_REACH_NLRI next hop).
    pub next_hop: Option<IpAddr>,
    /// ORIGIN.
    pub origin: Option<Origin>,
    /// AS_PATH, as one sequence of AS numbers (empty: an empty path).
    pub as_path: Option<Vec<u32>>,
    /// MULTI_EXIT_DISC.
    pub med: Option<u32>,
    /// LOCAL_PREF.
    pub local_pref: Option<u32>,
    /// COMMUNITIES.
    pub communities: Vec<Community>,
    /// LARGE_COMMUNITY.
    pub large_communities: Vec<LargeCommunity>,
    /// EXTENDED COMMUNITIES.
    pub ext_communities: Vec<ExtCommunity>,
}

impl AttributeSpec {
    /// Whether nothing is stated.
    pub fn is_empty(&self) -> bool {
        *self == AttributeSpec::default()
    }

    /// Parses the keywords of `words` (everything after the prefix); an
    /// error comes with the number of the word at fault.
    fn parse_words(words: &[&str]) -> Result<AttributeSpec, (usize, RouteErrorKind)> {
        let mut a = AttributeSpec::default();
        let mut i = 0;
        let value = |i: usize, what: &'static str| {
            words
                .get(i + 1)
                .copied()
                .ok_or((i, RouteErrorKind::NeedsValue(what)))
        };
        let number = |i: usize, what: &'static str| {
            let s = value(i, what)?;
            s.parse::<u32>().map_err(|_| {
                let value = s.to_string();
                (i + 1, RouteErrorKind::NotANumber { what, value })
            })
        };
        let community = |at: usize, e| (at + 1, RouteErrorKind::Community(e));
        while i < words.len() {
            let kw = words[i].to_ascii_lowercase();
            match kw.as_str() {
                "path-id" => a.path_id = Some(number(i, "path-id")?),
                "next-hop" => {
                    let v = value(i, "next-hop")?;
                    let bad = || (i + 1, RouteErrorKind::NotAnAddress(v.to_string()));
                    a.next_hop = Some(v.parse().map_err(|_| bad())?);
                }
                "origin" => {
                    let v = value(i, "origin")?;
                    a.origin = Some(match v.to_ascii_lowercase().as_str() {
                        "igp" => Origin::Igp,
                        "egp" => Origin::Egp,
                        "incomplete" => Origin::Incomplete,
                        _ => return Err((i + 1, RouteErrorKind::NotAnOrigin(v.to_string()))),
                    });
                }
                "as-path" => {
                    let mut path = Vec::new();
                    i += 1;
                    while let Some(asn) = words.get(i).and_then(|w| w.parse::<u32>().ok()) {
                        path.push(asn);
                        i += 1;
                    }
                    a.as_path = Some(path);
                    continue;
                }
                "med" => a.med = Some(number(i, "med")?),
                "local-pref" => a.local_pref = Some(number(i, "local-pref")?),
                "community" => {
                    let c = value(i, "community")?.parse();
                    a.communities.push(c.map_err(|e| community(i, e))?);
                }
                "large-community" => {
                    let c = value(i, "large-community")?.parse();
                    a.large_communities.push(c.map_err(|e| community(i, e))?);
                }
                "ext-community" => {
                    let c = value(i, "ext-community")?.parse();
                    a.ext_communities.push(c.map_err(|e| community(i, e))?);
                }
                other => return Err((i, RouteErrorKind::UnknownAttribute(other.to_string()))),
            }
            i += 2;
        }
        a.check_size().map_err(|e| (0, e))?;
        Ok(a)
    }

    /// Parses the keywords of `words`, slices of `text`: an error has the
    /// column of the word at fault in `text`.
    fn parse_in(text: &str, words: &[&str]) -> Result<AttributeSpec, RouteError> {
        AttributeSpec::parse_words(words).map_err(|(at, kind)| RouteError {
            column: words.get(at).and_then(|w| column_of(text, w)),
            ..RouteError::new(kind)
        })
    }
}

impl FromStr for AttributeSpec {
    type Err = RouteError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let words: Vec<&str> = s.split_whitespace().collect();
        AttributeSpec::parse_in(s, &words)
    }
}

impl fmt::Display for AttributeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if let Some(id) = self.path_id {
            parts.push(format!("path-id {id}"));
        }
        if let Some(nh) = self.next_hop {
            parts.push(format!("next-hop {nh}"));
        }
        if let Some(o) = self.origin {
            parts.push(format!("origin {}", o.to_string().to_ascii_lowercase()));
        }
        if let Some(p) = &self.as_path {
            let asns: Vec<String> = p.iter().map(|a| a.to_string()).collect();
            parts.push(format!("as-path {}", asns.join(" ")).trim_end().to_string());
        }
        if let Some(m) = self.med {
            parts.push(format!("med {m}"));
        }
        if let Some(l) = self.local_pref {
            parts.push(format!("local-pref {l}"));
        }
        parts.extend(self.communities.iter().map(|c| format!("community {c}")));
        parts.extend(
            self.large_communities
                .iter()
                .map(|c| format!("large-community {c}")),
        );
        parts.extend(
            self.ext_communities
                .iter()
                .map(|c| format!("ext-community {c}")),
        );
        f.write_str(&parts.join(" "))
    }
}

/// A route as text: a prefix (a bare address is a /32 or /128) and the
/// attributes stated for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RouteSpec {
    /// The prefix.
    pub prefix: IpNet,
    /// Its attributes.
    pub attributes: AttributeSpec,
}

impl RouteSpec {
    /// Parses several routes from one list of words: each prefix starts a
    /// route, the keywords after it are its attributes (`expect 10.0.0.0/24
    /// med 10 10.1.0.0/24`).
    ///
    /// ```
    /// use cue::bgp::route::RouteSpec;
    /// let rs = RouteSpec::parse_many(&["10.0.0.0/24", "med", "10", "192.0.2.1"]).unwrap();
    /// assert_eq!(rs.len(), 2);
    /// assert_eq!(rs[1].prefix.to_string(), "192.0.2.1/32");
    /// ```
    pub fn parse_many(words: &[&str]) -> Result<Vec<RouteSpec>, RouteError> {
        let mut out: Vec<RouteSpec> = Vec::new();
        let mut start = 0;
        let mut i = 0;
        // A word that is a prefix starts a route, unless it is the value of
        // next-hop.
        while i <= words.len() {
            let boundary = i == words.len()
                || (i > start
                    && !words[i - 1].eq_ignore_ascii_case("next-hop")
                    && parse_prefix(words[i]).is_ok()
                    && words[i].parse::<u32>().is_err());
            if boundary && i > start {
                let prefix = parse_prefix(words[start])?;
                let attributes = AttributeSpec::parse_words(&words[start + 1..i])
                    .map_err(|(_, kind)| RouteError::new(kind).of(prefix))?;
                out.push(RouteSpec { prefix, attributes });
                start = i;
            }
            i += 1;
        }
        Ok(out)
    }
}

impl AttributeSpec {
    /// Refuses attributes that leave no room for a prefix in any UPDATE,
    /// even of 65,535 octets ([`route_octets`](crate::bgp::wire::route_octets));
    /// the 4,096 octets of a session without extended messages are checked
    /// where the session is known
    /// ([`SortedRoutes::too_large`](super::SortedRoutes::too_large)).
    fn check_size(&self) -> Result<(), RouteErrorKind> {
        let octets = crate::bgp::wire::route_octets(
            self.communities.len(),
            self.large_communities.len(),
            self.ext_communities.len(),
            self.as_path.as_ref().map_or(0, Vec::len),
            0,
        );
        let max = crate::bgp::wire::MAX_EXTENDED_MESSAGE_LEN;
        if octets > max {
            return Err(RouteErrorKind::TooLarge { octets, max });
        }
        Ok(())
    }
}

impl RouteSpec {
    /// Refuses what cannot be announced: a next hop of the other address
    /// family than the prefix, or one that no router takes.
    pub fn check_announce(&self) -> Result<(), RouteError> {
        check_next_hop_family(self.prefix, self.attributes.next_hop)
    }
}

impl FromStr for RouteSpec {
    type Err = RouteError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let words: Vec<&str> = s.split_whitespace().collect();
        let Some(first) = words.first() else {
            return Err(RouteErrorKind::NoPrefix.into());
        };
        let prefix = parse_prefix(first).map_err(|e| RouteError {
            column: column_of(s, first),
            ..e
        })?;
        let attributes = AttributeSpec::parse_in(s, &words[1..]).map_err(|e| e.of(prefix))?;
        Ok(RouteSpec { prefix, attributes })
    }
}

impl fmt::Display for RouteSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.attributes.is_empty() {
            write!(f, "{}", self.prefix)
        } else {
            write!(f, "{} {}", self.prefix, self.attributes)
        }
    }
}

/// Parses one route per line, skipping blank lines and `#` comments; the
/// error names the first bad line.
pub fn parse_route_lines(text: &str) -> Result<Vec<RouteSpec>, RouteError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        // Columns count from the start of the line as written.
        let indent = column_of(raw, line).unwrap_or(1) - 1;
        let route = line.parse::<RouteSpec>();
        out.push(route.map_err(|e| e.shifted(indent).at_line(i + 1))?);
    }
    Ok(out)
}

/// Refuses a next hop of the other address family than the prefix, or one
/// that no router takes.
pub(crate) fn check_next_hop_family(
    prefix: IpNet,
    next_hop: Option<IpAddr>,
) -> Result<(), RouteError> {
    let kind = match next_hop {
        Some(nh) if nh.is_ipv4() != prefix.addr().is_ipv4() => RouteErrorKind::NextHopFamily(nh),
        Some(nh) if !next_hop_usable(nh) => RouteErrorKind::NextHopUnusable(nh),
        _ => return Ok(()),
    };
    Err(RouteError::new(kind).of(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_round_trips_and_errors() {
        let s = "10.0.0.0/24 next-hop 192.0.2.1 origin incomplete as-path 65010 65020 med 10 \
                 local-pref 300 community 65000:1 community no-export large-community 1:2:3 \
                 ext-community rt:65000:7";
        let r: RouteSpec = s.parse().unwrap();
        assert_eq!(r.to_string().parse::<RouteSpec>().unwrap(), r);
        assert_eq!(r.attributes.communities.len(), 2);
        for bad in [
            "",
            "10.0.0.300",
            "10.0.0.0/24 med x",
            "10.0.0.0/24 origin bgp",
            "10.0.0.0/24 colour red",
            "10.0.0.0/24 community 70000:1",
            "10.0.0.0/24 ext-community rt:1",
            "10.0.0.0/24 next-hop nowhere",
        ] {
            assert!(bad.parse::<RouteSpec>().is_err(), "{bad}");
        }
        let e = parse_route_lines("10.0.0.1\n# fine\n\n  10.0.0.2 med\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 4, column 12: 10.0.0.2/32: med needs a value"
        );
        assert_eq!(e.kind, RouteErrorKind::NeedsValue("med"));
    }

    #[test]
    fn many_on_one_line() {
        let rs = RouteSpec::parse_many(&[
            "10.0.0.0/24",
            "next-hop",
            "192.0.2.1",
            "as-path",
            "65001",
            "2001:db8::/32",
        ])
        .unwrap();
        assert_eq!(rs.len(), 2);
        assert_eq!(
            rs[0].attributes.next_hop,
            Some("192.0.2.1".parse().unwrap())
        );
        assert_eq!(rs[0].attributes.as_path, Some(vec![65001]));
    }

    #[test]
    fn prefixes_and_lines() {
        assert_eq!(parse_prefix("10.0.0.1"), Ok("10.0.0.1/32".parse().unwrap()));
        assert_eq!(parse_prefix("fd00::1"), Ok("fd00::1/128".parse().unwrap()));
        assert_eq!(
            parse_prefix("10.1.2.3/8"),
            Ok("10.0.0.0/8".parse().unwrap())
        );
        assert!(parse_prefix("10.0.0.0/33").is_err());
        // Files of them: what `--advertise-file` reads.
        let mut t = crate::bgp::route::RouteTable::default();
        t.parse_lines("# header\n10.0.0.1\n\n  fd00::/64  # comment\n")
            .unwrap();
        assert_eq!(t.len(), 2);
        let e = t.parse_lines("10.0.0.1\nbogus\n").unwrap_err();
        assert_eq!((e.line, e.column), (Some(2), Some(1)), "{e}");
    }

    /// The general parser's answer, the fast path's reference.
    fn parse_general(s: &str) -> Option<IpNet> {
        if s.contains('/') {
            s.parse::<IpNet>().map(|n| n.trunc()).ok()
        } else {
            s.parse::<IpAddr>().map(IpNet::from).ok()
        }
    }

    /// Whether `fast` took `text`; asserts that what it gives, and what
    /// `parse_prefix` gives, is the general parser's answer.
    fn agrees(text: &str, fast: fn(&[u8]) -> Option<IpNet>) -> bool {
        let taken = fast(text.as_bytes());
        if let Some(net) = taken {
            assert_eq!(Some(net), parse_general(text), "{text:?}");
        }
        assert_eq!(
            parse_prefix(text).ok(),
            parse_general(text.trim()),
            "{text:?}"
        );
        taken.is_some()
    }

    /// `n` texts from a xorshift generator seeded with `seed`: `char(state,
    /// k)` is the `k`th byte of a text, until it says `None`.
    fn random_texts(
        seed: u64,
        n: usize,
        char: impl Fn(u64, usize) -> Option<u8>,
    ) -> impl Iterator<Item = String> {
        let mut state = seed;
        (0..n).map(move |_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (0..)
                .map_while(|k| char(state, k))
                .map(char::from)
                .collect()
        })
    }

    #[test]
    fn dotted_ipv4_fast_path_agrees_with_the_general_parser() {
        for s in [
            "10.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "10.1.2.3/8",
            "10.0.0.0/0",
            "1.2.3.4/32",
            "1.2.3.4/33",
            "256.0.0.1",
            "01.2.3.4",
            "1.2.3",
            "1.2.3.4.5",
            "1.2.3.4/",
            "1.2.3.4/08",
            "1.2.3.4/123",
            "1..2.3",
            "1.2.3.4 ",
            "1000.2.3.4",
            "1.2.3.4/3x",
            "",
            ".",
            "1.2.3.04",
        ] {
            agrees(s, parse_ipv4_dotted);
            assert!(parse_ipv6_hex(s.as_bytes()).is_none(), "{s:?}");
        }
        // Mostly digits and dots, sometimes a slash.
        let texts = random_texts(0x2545_f491_4f6c_dd1d, 200_000, |state, k| {
            let len = 7 + (state % 12) as usize;
            (k < len).then(|| b"0123456789./"[(state.rotate_left(k as u32 * 5) % 12) as usize])
        });
        let taken = texts.filter(|t| agrees(t, parse_ipv4_dotted)).count();
        assert!(taken > 100, "only {taken} inputs took the fast path");
    }

    #[test]
    fn hex_ipv6_fast_path_agrees_with_the_general_parser() {
        for s in [
            "fd00::1",
            "::",
            "::1",
            "1::",
            "fd00::/64",
            "fd00::1:2/127",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "1:2:3:4:5:6::8",
            "1:2:3:4:5:6:7:8:9",
            "1::2::3",
            ":1::2",
            "1::2:",
            "1:::2",
            "fd00::12345",
            "FD00::ABCD",
            "::ffff:1.2.3.4",
            "fd00::/129",
            "fd00::/064",
            "fd00::/",
            "fd00::1/0",
            "2001:db8::/32",
            "1:2:3:4:5:6:7",
            "::1:2:3:4:5:6:7",
            "1:2:3:4:5:6:7::8",
            "fe80::1%eth0",
            "g::1",
            ":",
            ":::",
        ] {
            agrees(s, parse_ipv6_hex);
        }
        // Colons often, a slash now and then.
        let texts = random_texts(0x9e37_79b9_7f4a_7c15, 300_000, |state, k| {
            let len = 2 + (state % 30) as usize;
            let pick = (state.rotate_left(k as u32 * 3) ^ (k as u64).wrapping_mul(0x9e37)) % 41;
            (k < len)
                .then(|| b"0123456789abcdef:::/"[if pick < 40 { (pick % 19) as usize } else { 19 }])
        });
        let taken = texts.filter(|t| agrees(t, parse_ipv6_hex)).count();
        assert!(taken > 100, "only {taken} inputs took the fast path");
    }
}

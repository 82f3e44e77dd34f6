//! Routes written as text, with attributes of their own: the syntax of
//! `--advertise-file` lines, of the `announce` and `expect` commands and of
//! `cue-bgp listen --expect`; the tables built from them
//! ([`RouteTable`]) and checks of received routes against them.
//!
//! ```text
//! PREFIX [next-hop ADDR] [origin igp|egp|incomplete] [as-path ASN...]
//!        [med N] [local-pref N] [community C]... [large-community A:B:C]...
//!        [ext-community C]...
//! ```
//!
//! Every keyword is optional. In a route to announce, what is not stated is
//! the session's (the command line's); stated communities of a kind
//! replace the session's of that kind; `as-path` is the path behind ours
//! (towards an external peer our AS goes first, RFC 4271 section 5.1.2;
//! towards an internal peer the path goes as written). As an expectation,
//! an attribute not stated is not checked, `as-path` is the whole path
//! received, and stated communities (of each kind) must all be present,
//! others may be too.
//!
//! ```
//! use cue::bgp::route::RouteSpec;
//! let r: RouteSpec = "10.0.0.0/24 med 10 community 65000:1 as-path 65010 65020".parse().unwrap();
//! assert_eq!(r.prefix.to_string(), "10.0.0.0/24");
//! assert_eq!(r.attributes.med, Some(10));
//! assert_eq!(r.attributes.as_path, Some(vec![65010, 65020]));
//! assert!("10.0.0.0/24 med".parse::<RouteSpec>().is_err());
//! ```

use super::config::{check_next_hop, AttributeOverrides};
use super::rib::{parse_prefix, RouteAttributes};
use super::wire::{Community, Family, LargeCommunity, Origin};
use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

/// An extended community (RFC 4360): eight octets. Written `rt:ASN:N` or
/// `rt:IPV4:N` (route target), `ro:ASN:N` or `ro:IPV4:N` (route origin),
/// or as 16 hex digits (`0x0002fde800000001`).
///
/// ```
/// use cue::bgp::route::ExtCommunity;
/// let rt: ExtCommunity = "rt:65000:100".parse().unwrap();
/// assert_eq!(rt.0, [0x00, 0x02, 0xfd, 0xe8, 0, 0, 0, 100]);
/// assert_eq!(rt.to_string(), "rt:65000:100");
/// let big: ExtCommunity = "ro:4200000000:7".parse().unwrap();
/// assert_eq!(big.0[..2], [0x02, 0x03]);
/// assert_eq!("0x0002fde800000064".parse::<ExtCommunity>().unwrap(), rt);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExtCommunity(pub [u8; 8]);

const SUB_RT: u8 = 0x02;
const SUB_RO: u8 = 0x03;

impl FromStr for ExtCommunity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
            let bytes = super::wire::parse_hex(hex)
                .map_err(|e| format!("extended community {s:?}: {e}"))?;
            return <[u8; 8]>::try_from(bytes.as_slice())
                .map(ExtCommunity)
                .map_err(|_| format!("extended community {s:?}: 16 hex digits, 8 octets"));
        }
        let bad = || {
            format!("extended community {s:?} is not rt:ASN:N, rt:IPV4:N, ro:..., or 0x and 16 hex digits")
        };
        let mut parts = s.splitn(3, ':');
        let (Some(kind), Some(admin), Some(value)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let sub = match kind.to_ascii_lowercase().as_str() {
            "rt" | "target" => SUB_RT,
            "ro" | "origin" | "soo" => SUB_RO,
            _ => return Err(bad()),
        };
        let mut b = [0u8; 8];
        b[1] = sub;
        if let Ok(ip) = admin.parse::<Ipv4Addr>() {
            let n: u16 = value.parse().map_err(|_| bad())?;
            b[0] = 0x01;
            b[2..6].copy_from_slice(&ip.octets());
            b[6..8].copy_from_slice(&n.to_be_bytes());
        } else {
            let asn: u32 = admin.parse().map_err(|_| bad())?;
            match u16::try_from(asn) {
                Ok(a) => {
                    let n: u32 = value.parse().map_err(|_| bad())?;
                    b[0] = 0x00;
                    b[2..4].copy_from_slice(&a.to_be_bytes());
                    b[4..8].copy_from_slice(&n.to_be_bytes());
                }
                Err(_) => {
                    let n: u16 = value.parse().map_err(|_| bad())?;
                    b[0] = 0x02;
                    b[2..6].copy_from_slice(&asn.to_be_bytes());
                    b[6..8].copy_from_slice(&n.to_be_bytes());
                }
            }
        }
        Ok(ExtCommunity(b))
    }
}

impl fmt::Display for ExtCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        let kind = match b[1] {
            SUB_RT => "rt",
            SUB_RO => "ro",
            _ => "",
        };
        let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        match (b[0], kind) {
            (0x00, k) if !k.is_empty() => write!(f, "{k}:{}:{}", u16_at(2), u32_at(4)),
            (0x01, k) if !k.is_empty() => {
                write!(f, "{k}:{}:{}", Ipv4Addr::from(u32_at(2)), u16_at(6))
            }
            (0x02, k) if !k.is_empty() => write!(f, "{k}:{}:{}", u32_at(2), u16_at(6)),
            _ => write!(f, "0x{}", super::wire::hex(b).replace(' ', "")),
        }
    }
}

impl serde::Serialize for ExtCommunity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
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

    /// Parses the keywords of `words` (everything after the prefix).
    fn parse_words(words: &[&str]) -> Result<AttributeSpec, String> {
        let mut a = AttributeSpec::default();
        let mut i = 0;
        let value = |i: usize, what: &str| {
            words
                .get(i + 1)
                .copied()
                .ok_or_else(|| format!("{what} needs a value"))
        };
        let number = |s: &str, what: &str| {
            s.parse::<u32>()
                .map_err(|_| format!("{what}: {s:?} is not a number 0-4294967295"))
        };
        while i < words.len() {
            let kw = words[i].to_ascii_lowercase();
            match kw.as_str() {
                "next-hop" => {
                    let v = value(i, "next-hop")?;
                    a.next_hop = Some(
                        v.parse()
                            .map_err(|_| format!("next-hop: {v:?} is not an address"))?,
                    );
                    i += 2;
                }
                "origin" => {
                    let v = value(i, "origin")?;
                    a.origin = Some(match v.to_ascii_lowercase().as_str() {
                        "igp" => Origin::Igp,
                        "egp" => Origin::Egp,
                        "incomplete" => Origin::Incomplete,
                        _ => return Err(format!("origin: {v:?} is not igp, egp or incomplete")),
                    });
                    i += 2;
                }
                "as-path" => {
                    let mut path = Vec::new();
                    i += 1;
                    while let Some(asn) = words.get(i).and_then(|w| w.parse::<u32>().ok()) {
                        path.push(asn);
                        i += 1;
                    }
                    a.as_path = Some(path);
                }
                "med" => {
                    a.med = Some(number(value(i, "med")?, "med")?);
                    i += 2;
                }
                "local-pref" => {
                    a.local_pref = Some(number(value(i, "local-pref")?, "local-pref")?);
                    i += 2;
                }
                "community" => {
                    a.communities.push(value(i, "community")?.parse()?);
                    i += 2;
                }
                "large-community" => {
                    a.large_communities
                        .push(value(i, "large-community")?.parse()?);
                    i += 2;
                }
                "ext-community" => {
                    a.ext_communities.push(value(i, "ext-community")?.parse()?);
                    i += 2;
                }
                other => {
                    return Err(format!(
                        "unknown attribute {other:?}: next-hop, origin, as-path, med, \
                         local-pref, community, large-community or ext-community"
                    ))
                }
            }
        }
        Ok(a)
    }

    /// How `route` differs from what is stated here, one line per
    /// attribute (empty when it matches).
    ///
    /// ```
    /// use cue::bgp::route::AttributeSpec;
    /// use cue::bgp::RouteAttributes;
    /// let want: AttributeSpec = "med 10 community 65000:7".parse().unwrap();
    /// let got = RouteAttributes { med: Some(20), ..Default::default() };
    /// assert_eq!(want.differences(&got), vec!["med 10, got 20", "community 65000:7 missing"]);
    /// ```
    pub fn differences(&self, route: &RouteAttributes) -> Vec<String> {
        let mut d = Vec::new();
        let opt = |v: Option<u32>| v.map_or("none".to_string(), |v| v.to_string());
        if let Some(nh) = self.next_hop {
            if route.next_hop != Some(nh) && route.link_local != Some(nh) {
                let got = route.next_hop.map_or("none".to_string(), |n| n.to_string());
                d.push(format!("next-hop {nh}, got {got}"));
            }
        }
        if let Some(o) = self.origin {
            if route.origin != Some(o) {
                let got = route.origin.map_or("none".to_string(), |o| o.to_string());
                d.push(format!("origin {o}, got {got}"));
            }
        }
        if let Some(path) = &self.as_path {
            let got: Vec<u32> = route
                .as_path
                .segments
                .iter()
                .flat_map(|s| s.asns.iter().copied())
                .collect();
            if *path != got || route.as_path.segments.len() > 1 {
                let want: Vec<String> = path.iter().map(|a| a.to_string()).collect();
                d.push(format!("as-path {}, got {}", want.join(" "), route.as_path));
            }
        }
        if self.med.is_some() && self.med != route.med {
            d.push(format!("med {}, got {}", opt(self.med), opt(route.med)));
        }
        if self.local_pref.is_some() && self.local_pref != route.local_pref {
            d.push(format!(
                "local-pref {}, got {}",
                opt(self.local_pref),
                opt(route.local_pref)
            ));
        }
        for c in &self.communities {
            if !route.communities.contains(c) {
                d.push(format!("community {c} missing"));
            }
        }
        for c in &self.large_communities {
            if !route.large_communities.contains(c) {
                d.push(format!("large-community {c} missing"));
            }
        }
        for c in &self.ext_communities {
            if !route.ext_communities.contains(c) {
                d.push(format!("ext-community {c} missing"));
            }
        }
        d
    }
}

impl FromStr for AttributeSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let words: Vec<&str> = s.split_whitespace().collect();
        AttributeSpec::parse_words(&words)
    }
}

impl fmt::Display for AttributeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
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
    pub fn parse_many(words: &[&str]) -> Result<Vec<RouteSpec>, String> {
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
                    .map_err(|e| format!("{prefix}: {e}"))?;
                out.push(RouteSpec { prefix, attributes });
                start = i;
            }
            i += 1;
        }
        Ok(out)
    }
}

impl RouteSpec {
    /// Refuses what cannot be announced: a next hop of the other address
    /// family than the prefix, or one that no router takes.
    pub fn check_announce(&self) -> Result<(), String> {
        check_next_hop_family(self.prefix, self.attributes.next_hop)
    }
}

impl FromStr for RouteSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let words: Vec<&str> = s.split_whitespace().collect();
        let Some(first) = words.first() else {
            return Err("a route needs a prefix".into());
        };
        let prefix = parse_prefix(first)?;
        let attributes =
            AttributeSpec::parse_words(&words[1..]).map_err(|e| format!("{prefix}: {e}"))?;
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
pub fn parse_route_lines(text: &str) -> Result<Vec<RouteSpec>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        out.push(line.parse().map_err(|e| format!("line {}: {e}", i + 1))?);
    }
    Ok(out)
}

/// Routes to advertise, each with the attributes written for it: what
/// `--advertise-file` and `announce` build. Attribute sets are interned:
/// routes written with the same attributes share one
/// [`AttributeOverrides`], and so go out in the same UPDATEs.
///
/// ```
/// use cue::bgp::route::RouteTable;
/// let mut t = RouteTable::default();
/// t.parse_lines("10.0.0.0/24 med 10\n10.1.0.0/24 med 10\n192.0.2.1\n").unwrap();
/// let (rib, attributes) = t.finish();
/// assert_eq!(rib.len(), 3);
/// assert_eq!(attributes.len(), 2);
/// let a = &attributes[&"10.0.0.0/24".parse().unwrap()];
/// assert!(std::sync::Arc::ptr_eq(a, &attributes[&"10.1.0.0/24".parse().unwrap()]));
/// let e = RouteTable::default().parse_lines("10.0.0.1\n10.0.0.2 med\n").unwrap_err();
/// assert_eq!(e, "line 2: 10.0.0.2/32: med needs a value");
/// ```
#[derive(Debug, Default)]
pub struct RouteTable {
    /// Routes with the session's attributes.
    plain: Vec<IpNet>,
    /// Routes with attributes of their own: the number of their set in
    /// `sets.sets` (a number, not an `Arc`, so that the parser threads
    /// touch no shared counter for each line).
    own: Vec<(IpNet, u32)>,
    /// Attribute sets by the text they were written as (looked up once a
    /// line: a fast hash), with the next hop to check a line against.
    by_text: Texts,
    sets: Sets,
}

/// The distinct attribute sets of a table, numbered, and how to find one
/// by value or by the shared pointer it came as.
#[derive(Debug, Default)]
struct Sets {
    sets: Vec<Arc<AttributeOverrides>>,
    by_value: HashMap<Arc<AttributeOverrides>, u32, foldhash::fast::RandomState>,
    by_pointer: HashMap<usize, u32, foldhash::fast::RandomState>,
}

impl Sets {
    /// The number of the set equal to `a`, made if there is none.
    fn intern(&mut self, a: AttributeOverrides) -> u32 {
        if let Some(&n) = self.by_value.get(&a) {
            return n;
        }
        let n = self.sets.len() as u32;
        let shared = Arc::new(a);
        self.by_value.insert(shared.clone(), n);
        self.sets.push(shared);
        n
    }

    /// The number of a set that is already shared: the same pointer, the
    /// same number.
    fn shared(&mut self, a: &Arc<AttributeOverrides>) -> u32 {
        let key = Arc::as_ptr(a) as usize;
        if let Some(&n) = self.by_pointer.get(&key) {
            return n;
        }
        let n = self.sets.len() as u32;
        self.by_pointer.insert(key, n);
        self.sets.push(a.clone());
        n
    }
}

impl RouteTable {
    /// Adds one route. A prefix added more than once takes the attributes
    /// of the last time it was added with any.
    pub fn push(&mut self, prefix: IpNet, attributes: Option<AttributeOverrides>) {
        let prefix = prefix.trunc();
        match attributes.filter(|a| !a.is_empty()) {
            Some(a) => {
                let n = self.sets.intern(a);
                self.own.push((prefix, n));
            }
            None => self.plain.push(prefix),
        }
    }

    /// Adds a route with an attribute set that is already shared (one
    /// read from an MRT file, say): it is taken as it is, not looked up.
    pub fn push_shared(&mut self, prefix: IpNet, attributes: Arc<AttributeOverrides>) {
        let n = self.sets.shared(&attributes);
        self.own.push((prefix.trunc(), n));
    }

    /// Adds routes whose attribute sets are already shared, as
    /// [`push_shared`](Self::push_shared) does one (a run of routes with
    /// the same set is numbered with one lookup).
    pub fn extend_shared(&mut self, routes: Vec<(IpNet, Arc<AttributeOverrides>)>) {
        self.own.reserve(routes.len());
        // Neighbouring routes often share their set: no lookup for those.
        let mut last: Option<(usize, u32)> = None;
        for (prefix, a) in routes {
            let n = match last {
                Some((p, n)) if p == Arc::as_ptr(&a) as usize => n,
                _ => {
                    let n = self.sets.shared(&a);
                    last = Some((Arc::as_ptr(&a) as usize, n));
                    n
                }
            };
            self.own.push((prefix.trunc(), n));
        }
    }

    /// Adds a route written as text ([`RouteSpec`]), checked as
    /// [`RouteTable::parse_lines`] checks a line.
    pub fn push_spec(&mut self, route: &RouteSpec) -> Result<(), String> {
        route.check_announce()?;
        let o = AttributeOverrides::from_spec(&route.attributes);
        self.push(route.prefix, Some(o));
        Ok(())
    }

    /// Adds one route per line (`PREFIX [attributes]`, see the module),
    /// skipping blank lines and `#` comments. A bad line is refused with
    /// its number, and then nothing of `text` is added.
    /// A large text is parsed in parts taken in turn by one thread per core
    /// (up to 8), sharing one set of attribute sets.
    pub fn parse_lines(&mut self, text: &str) -> Result<(), String> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        // More parts than threads, taken in turn, so that a thread with
        // quick lines (IPv4) does not wait for one with slow ones.
        let parts = split_lines(text, threads * PARTS_PER_THREAD, PARALLEL_PART);
        let interner = Mutex::new(std::mem::take(&mut self.sets));
        if parts.len() <= 1 || threads == 1 {
            let (plain, own) = (self.plain.len(), self.own.len());
            let r = self.parse_lines_from(text, &interner);
            self.sets = interner.into_inner().unwrap_or_else(|e| e.into_inner());
            return r.map(|_| ()).map_err(|(line, e)| {
                self.plain.truncate(plain);
                self.own.truncate(own);
                format!("line {}: {e}", line + 1)
            });
        }
        let next = std::sync::atomic::AtomicUsize::new(0);
        let work = || {
            parse_parts(
                || {
                    let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    parts.get(k).map(|part| (k, *part))
                },
                |_| {},
                &interner,
            )
        };
        let done = std::thread::scope(|scope| {
            // This thread parses too; threads that cannot be had are done
            // without.
            let workers: Vec<_> = (1..threads.min(parts.len()))
                .filter_map(|_| std::thread::Builder::new().spawn_scoped(scope, work).ok())
                .collect();
            let mine = work();
            let mut done = joined(workers);
            done.push(mine);
            done
        });
        self.sets = interner.into_inner().unwrap_or_else(|e| e.into_inner());
        self.add_parts(done)
    }

    /// Adds one route per line read from `reader`, as
    /// [`parse_lines`](Self::parse_lines) does from a text, but parsing
    /// while reading: each part read goes to a parser thread while the next
    /// is read. A bad line (or text that is not UTF-8) is refused with its
    /// number, and then nothing is added.
    ///
    /// ```
    /// use cue::bgp::route::RouteTable;
    /// let mut t = RouteTable::default();
    /// t.parse_reader("10.0.0.0/24 med 10\n192.0.2.1\n".as_bytes()).unwrap();
    /// assert_eq!((t.len(), t.attribute_sets()), (2, 1));
    /// let e = t.parse_reader(&b"10.0.0.1\n\xff\n"[..]).unwrap_err();
    /// assert_eq!(e, "line 2: not UTF-8 text");
    /// ```
    pub fn parse_reader(&mut self, reader: impl std::io::Read) -> Result<(), String> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        self.parse_reader_on(reader, threads)
    }

    /// [`parse_reader`](Self::parse_reader) with up to `threads` parser
    /// threads (none: read, then parsed on this one).
    fn parse_reader_on(
        &mut self,
        mut reader: impl std::io::Read,
        threads: usize,
    ) -> Result<(), String> {
        let interner = Mutex::new(std::mem::take(&mut self.sets));
        let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, Vec<u8>)>(threads.max(1) * 2);
        let rx = Mutex::new(rx);
        // Parsed parts' buffers go back to the reader.
        let (back, given_back) = std::sync::mpsc::channel::<Vec<u8>>();
        let work = || {
            parse_parts(
                || rx.lock().unwrap_or_else(|e| e.into_inner()).recv().ok(),
                |buffer| {
                    let _ = back.send(buffer);
                },
                &interner,
            )
        };
        let (read, done) = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .filter_map(|_| std::thread::Builder::new().spawn_scoped(scope, work).ok())
                .collect();
            if workers.is_empty() {
                // No thread to be had: read it all, then parse it here.
                let mut parts = std::collections::VecDeque::new();
                let read = read_chunks(&mut reader, Vec::new, |k, chunk| {
                    parts.push_back((k, chunk));
                    true
                });
                return (
                    read,
                    vec![parse_parts(|| parts.pop_front(), |_| {}, &interner)],
                );
            }
            let read = read_chunks(
                &mut reader,
                || read_buffer(&given_back),
                |k, chunk| tx.send((k, chunk)).is_ok(),
            );
            drop(tx);
            (read, joined(workers))
        });
        self.sets = interner.into_inner().unwrap_or_else(|e| e.into_inner());
        read.map_err(|e| format!("reading: {e}"))?;
        self.add_parts(done)
    }

    /// Adds the parts the parser threads made, in order, with their text
    /// lookups; or, if a part has a bad line, nothing but the error of the
    /// first, numbered in the whole input.
    fn add_parts(&mut self, done: Vec<(Vec<ParsedPart>, Texts)>) -> Result<(), String> {
        let mut parts = Vec::new();
        for (parsed, texts) in done {
            parts.extend(parsed);
            for (text, a) in texts {
                self.by_text.entry(text).or_insert(a);
            }
        }
        parts.sort_by_key(|(k, _)| *k);
        let mut lines = 0;
        let mut tables = Vec::with_capacity(parts.len());
        for (_, part) in parts {
            match part {
                Ok((t, ends)) => {
                    lines += ends;
                    tables.push(t);
                }
                Err((line, e)) => return Err(format!("line {}: {e}", lines + line + 1)),
            }
        }
        self.append_parts(tables);
        Ok(())
    }

    /// Adds the routes of parts parsed apart, in order: one growth each,
    /// and the first part's lists taken as they are when there is nothing
    /// before them.
    fn append_parts(&mut self, tables: Vec<RouteTable>) {
        let (plain, own) = tables
            .iter()
            .fold((0, 0), |(p, o), t| (p + t.plain.len(), o + t.own.len()));
        for t in tables {
            if self.plain.is_empty() {
                self.plain = t.plain;
                self.plain.reserve(plain - self.plain.len());
            } else {
                self.plain.extend(t.plain);
            }
            if self.own.is_empty() {
                self.own = t.own;
                self.own.reserve(own - self.own.len());
            } else {
                self.own.extend(t.own);
            }
        }
    }

    /// Parses `text`; new attribute sets are interned in `interner`.
    /// Returns how many line ends `text` has; an error comes with the
    /// number of its line in `text`, from 0.
    fn parse_lines_from(
        &mut self,
        text: &str,
        interner: &Mutex<Sets>,
    ) -> Result<usize, (usize, String)> {
        // A host route takes 8 to 40 characters a line: reserve for the
        // short end, for the first kind of line seen.
        let reserve = text.len() / 16;
        // Routes of real tables come in runs that share attributes: the
        // last set is tried before the map.
        let mut last: Option<(&str, (u32, Option<IpAddr>))> = None;
        let mut line_ends = 0;
        for (i, line) in text.split('\n').enumerate() {
            line_ends = i;
            let line = match memchr::memchr(b'#', line.as_bytes()) {
                Some(at) => &line[..at],
                None => line,
            }
            .trim_ascii();
            if line.is_empty() {
                continue;
            }
            let at = |e: String| (i, e);
            let (first, rest) = match line.bytes().position(|b| b.is_ascii_whitespace()) {
                Some(n) => (&line[..n], line[n..].trim_ascii_start()),
                None => (line, ""),
            };
            let prefix = parse_prefix(first).map_err(at)?;
            if rest.is_empty() {
                if self.plain.capacity() == 0 {
                    self.plain.reserve(reserve);
                }
                self.plain.push(prefix);
                continue;
            }
            let (set, next_hop) = match last {
                Some((text, found)) if text == rest => found,
                _ => {
                    let found = match self.by_text.get(rest) {
                        Some(&found) => found,
                        None => {
                            let spec: AttributeSpec =
                                rest.parse().map_err(|e| at(format!("{prefix}: {e}")))?;
                            let value = AttributeOverrides::from_spec(&spec);
                            let next_hop = value.next_hop;
                            let n = interner
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .intern(value);
                            self.by_text.insert(rest.to_string(), (n, next_hop));
                            (n, next_hop)
                        }
                    };
                    last = Some((rest, found));
                    found
                }
            };
            if next_hop.is_some() {
                check_next_hop_family(prefix, next_hop).map_err(at)?;
            }
            if self.own.capacity() == 0 {
                self.own.reserve(reserve / 4);
            }
            self.own.push((prefix, set));
        }
        Ok(line_ends)
    }

    /// How many routes were added (a prefix added twice counts twice).
    pub fn len(&self) -> usize {
        self.plain.len() + self.own.len()
    }

    /// Whether none was added.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many distinct attribute sets the routes have (besides the
    /// session's).
    pub fn attribute_sets(&self) -> usize {
        self.sets.sets.len()
    }

    /// The prefixes, and the attributes of those that have their own (for
    /// [`Pool::set_routes`](super::Pool::set_routes)).
    pub fn finish(self) -> (BTreeSet<IpNet>, BTreeMap<IpNet, Arc<AttributeOverrides>>) {
        // The trees need no groups.
        self.sorted().into_trees()
    }

    /// The routes sorted, each prefix once with the attributes it was last
    /// given, and grouped by attribute set: what a session sends, ready
    /// before the trees of [`finish`](Self::finish) are built (see
    /// [`Pool::set_table`](super::Pool::set_table)).
    ///
    /// ```
    /// use cue::bgp::route::RouteTable;
    /// use cue::bgp::wire::Family;
    /// let mut t = RouteTable::default();
    /// t.parse_lines("10.0.0.2 med 1\n10.0.0.1 med 2\n10.0.0.3 med 1\n192.0.2.1\n").unwrap();
    /// let s = t.sort();
    /// assert_eq!(s.len(), 4);
    /// let groups: Vec<Vec<String>> = s
    ///     .groups(Family::Ipv4Unicast)
    ///     .map(|(_, prefixes)| prefixes.map(|p| p.to_string()).collect())
    ///     .collect();
    /// assert_eq!(groups, [vec!["10.0.0.1/32"], vec!["10.0.0.2/32", "10.0.0.3/32"]]);
    /// assert_eq!(s.plain(Family::Ipv4Unicast), ["192.0.2.1/32".parse().unwrap()]);
    /// ```
    pub fn sort(self) -> SortedRoutes {
        let mut sorted = self.sorted();
        sorted.group();
        sorted
    }

    /// The routes sorted, not yet grouped.
    fn sorted(self) -> SortedRoutes {
        let RouteTable {
            mut plain,
            mut own,
            sets,
            ..
        } = self;
        let sets = sets.sets;
        // Tables are often written in order: then there is nothing to sort.
        if !plain.windows(2).all(|w| w[0] <= w[1]) {
            plain.sort_unstable();
        }
        plain.dedup();
        // The last attributes of a prefix win: a stable sort, then keep
        // the last of each run.
        if !own.windows(2).all(|w| w[0].0 <= w[1].0) {
            own.sort_by_key(|r| r.0);
        }
        let mut keep = 0;
        for i in 0..own.len() {
            if i + 1 < own.len() && own[i + 1].0 == own[i].0 {
                continue;
            }
            own.swap(keep, i);
            keep += 1;
        }
        own.truncate(keep);
        // A prefix with attributes of its own is not sent with the
        // session's as well.
        if !own.is_empty() && !plain.is_empty() {
            let mut o = own.iter().map(|r| r.0).peekable();
            plain.retain(|p| {
                while o.next_if(|q| q < p).is_some() {}
                o.peek() != Some(p)
            });
        }
        SortedRoutes {
            plain,
            own,
            sets,
            groups: Default::default(),
            order: Vec::new(),
        }
    }
}

/// A [`RouteTable`] sorted ([`RouteTable::sort`]): each prefix once, in
/// order, and the routes of each family with attributes of their own in
/// groups that share them, in the order of their first prefix. A session
/// sends it as it is (one UPDATE run per group) while the Loc-RIB and the
/// attribute map are built from it ([`trees`](Self::trees)).
#[derive(Debug, Default)]
pub struct SortedRoutes {
    /// Routes with the session's attributes, none of them in `own`.
    plain: Vec<IpNet>,
    /// Routes with attributes of their own, by prefix, with the number of
    /// their set in `sets`.
    own: Vec<(IpNet, u32)>,
    sets: Vec<Arc<AttributeOverrides>>,
    /// Per family (IPv4, IPv6): the groups, each a set number and where
    /// its routes are in `order`.
    groups: [Vec<(u32, std::ops::Range<u32>)>; 2],
    /// Places in `own`, group by group.
    order: Vec<u32>,
}

impl SortedRoutes {
    /// Groups the routes of `own` by set, family by family, in one
    /// counting pass and one placing pass.
    fn group(&mut self) {
        const NONE: u32 = u32::MAX;
        let mut slot = vec![NONE; self.sets.len()];
        self.order = vec![0; self.own.len()];
        let split = self.own_of(Family::Ipv4Unicast).len();
        for (f, range) in [0..split, split..self.own.len()].into_iter().enumerate() {
            let groups = &mut self.groups[f];
            // How many routes each set has, in order of first appearance.
            let mut counts: Vec<u32> = Vec::new();
            for &(_, n) in &self.own[range.clone()] {
                let s = &mut slot[n as usize];
                if *s == NONE {
                    *s = counts.len() as u32;
                    counts.push(0);
                    groups.push((n, 0..0));
                }
                counts[*s as usize] += 1;
            }
            let mut at = range.start as u32;
            for (g, c) in groups.iter_mut().zip(&counts) {
                g.1 = at..at;
                at += c;
            }
            for i in range {
                let n = self.own[i].1 as usize;
                let g = &mut groups[slot[n] as usize].1;
                self.order[g.end as usize] = i as u32;
                g.end += 1;
            }
            for &(n, _) in groups.iter() {
                slot[n as usize] = NONE;
            }
        }
    }

    /// How many routes (distinct prefixes).
    pub fn len(&self) -> usize {
        self.plain.len() + self.own.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many routes have attributes of their own.
    pub fn with_own_attributes(&self) -> usize {
        self.own.len()
    }

    /// The lowest prefix of `family`, if any.
    pub fn first(&self, family: Family) -> Option<IpNet> {
        let own = self.own_of(family).first().map(|r| r.0);
        let plain = self.plain(family).first().copied();
        own.into_iter().chain(plain).min()
    }

    /// The routes of `family` with the session's attributes, in order.
    pub fn plain(&self, family: Family) -> &[IpNet] {
        of_family(&self.plain, family, |p| p)
    }

    fn own_of(&self, family: Family) -> &[(IpNet, u32)] {
        of_family(&self.own, family, |r| &r.0)
    }

    /// The routes of `family` with attributes of their own, in groups that
    /// share them: each group's prefixes in order, the groups in the order
    /// of their first prefix.
    pub fn groups(
        &self,
        family: Family,
    ) -> impl Iterator<
        Item = (
            &Arc<AttributeOverrides>,
            impl Iterator<Item = &IpNet> + Clone,
        ),
    > + '_ {
        let f = match family {
            Family::Ipv4Unicast => 0,
            Family::Ipv6Unicast => 1,
        };
        self.groups[f].iter().map(|(n, range)| {
            let at = &self.order[range.start as usize..range.end as usize];
            (
                &self.sets[*n as usize],
                at.iter().map(|&i| &self.own[i as usize].0),
            )
        })
    }

    /// As [`trees`](Self::trees), taking the lists: a table without routes
    /// of attributes of their own becomes its Loc-RIB without a copy.
    pub fn into_trees(self) -> (BTreeSet<IpNet>, BTreeMap<IpNet, Arc<AttributeOverrides>>) {
        if self.own.is_empty() {
            return (self.plain.into_iter().collect(), BTreeMap::new());
        }
        self.trees()
    }

    /// The Loc-RIB (every prefix) and the attributes of the routes that
    /// have their own, by prefix, as [`Pool::set_routes`](super::Pool::set_routes)
    /// takes them. A large table's two trees are built on two threads.
    pub fn trees(&self) -> (BTreeSet<IpNet>, BTreeMap<IpNet, Arc<AttributeOverrides>>) {
        // Two trees of a million entries each: one per core when the
        // table is large and there is a second core.
        let parallel = self.own.len() >= PARALLEL_TREES
            && std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
        self.trees_on(parallel)
    }

    /// The trees, on two threads or on this one.
    pub(crate) fn trees_on(
        &self,
        two_threads: bool,
    ) -> (BTreeSet<IpNet>, BTreeMap<IpNet, Arc<AttributeOverrides>>) {
        let (plain, own, sets) = (&self.plain, &self.own, &self.sets);
        let rib = || {
            let mut a = plain.iter().peekable();
            let mut b = own.iter().map(|(p, _)| p).peekable();
            // Two sorted lists without a common prefix.
            let merged = std::iter::from_fn(|| match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x < y => a.next(),
                (_, Some(_)) => b.next(),
                (Some(_), None) => a.next(),
                (None, None) => None,
            });
            merged.copied().collect::<BTreeSet<IpNet>>()
        };
        let attributes = || {
            own.iter()
                .map(|&(p, n)| (p, sets[n as usize].clone()))
                .collect::<BTreeMap<_, _>>()
        };
        if !two_threads {
            return (rib(), attributes());
        }
        std::thread::scope(|scope| {
            // Without a thread to spare, both here.
            let Ok(map) = std::thread::Builder::new().spawn_scoped(scope, attributes) else {
                return (rib(), attributes());
            };
            let rib = rib();
            let map = map.join().unwrap_or_else(|_| attributes());
            (rib, map)
        })
    }
}

/// The part of a sorted list of one family (IPv4 prefixes sort before
/// IPv6 ones).
fn of_family<T>(list: &[T], family: Family, prefix: impl Fn(&T) -> &IpNet) -> &[T] {
    let split = list.partition_point(|r| prefix(r).addr().is_ipv4());
    match family {
        Family::Ipv4Unicast => &list[..split],
        Family::Ipv6Unicast => &list[split..],
    }
}

/// The number of routes with attributes of their own from which the
/// Loc-RIB and the attribute map are built on two threads.
const PARALLEL_TREES: usize = 100_000;

/// A part of a text parsed: its number, and its routes with its number of
/// line ends, or the error of one of its lines (numbered from 0 in the
/// part).
type ParsedPart = (usize, Result<(RouteTable, usize), (usize, String)>);

/// Attribute sets by the text they were written as (see `RouteTable`).
type Texts = HashMap<String, (u32, Option<IpAddr>), foldhash::fast::RandomState>;

/// A part of the input for a parser thread: a slice of a text, or bytes
/// read.
trait Part {
    /// The part as text, or the number of the line (from 0 in the part)
    /// that is not UTF-8.
    fn text(&self) -> Result<&str, (usize, String)>;
}

impl Part for &str {
    fn text(&self) -> Result<&str, (usize, String)> {
        Ok(self)
    }
}

impl Part for Vec<u8> {
    fn text(&self) -> Result<&str, (usize, String)> {
        std::str::from_utf8(self).map_err(|e| {
            let line = memchr::memchr_iter(b'\n', &self[..e.valid_up_to()]).count();
            (line, "not UTF-8 text".to_string())
        })
    }
}

/// A parser thread: parses the parts `next` hands out, with their numbers,
/// until there are none, keeping its text lookups from part to part.
/// Each part goes to `done_with` once parsed (a read buffer goes back to
/// the reader).
fn parse_parts<P: Part>(
    mut next: impl FnMut() -> Option<(usize, P)>,
    mut done_with: impl FnMut(P),
    interner: &Mutex<Sets>,
) -> (Vec<ParsedPart>, Texts) {
    let mut texts = Texts::default();
    let mut done = Vec::new();
    while let Some((k, part)) = next() {
        let mut t = RouteTable {
            by_text: std::mem::take(&mut texts),
            ..Default::default()
        };
        let r = part
            .text()
            .and_then(|text| t.parse_lines_from(text, interner));
        texts = std::mem::take(&mut t.by_text);
        done.push((k, r.map(|ends| (t, ends))));
        done_with(part);
    }
    (done, texts)
}

/// What the parser threads made; a thread that failed counts as an error
/// in the first part.
fn joined(
    workers: Vec<std::thread::ScopedJoinHandle<'_, (Vec<ParsedPart>, Texts)>>,
) -> Vec<(Vec<ParsedPart>, Texts)> {
    workers
        .into_iter()
        .map(|h| {
            h.join().unwrap_or_else(|_| {
                let failed = Err((0, "a parser thread failed".to_string()));
                (vec![(0, failed)], Texts::default())
            })
        })
        .collect()
}

/// Parts of a large text per parser thread.
const PARTS_PER_THREAD: usize = 4;

/// The smallest part of a text worth a thread of its own.
const PARALLEL_PART: usize = 2 << 20;

/// Bytes read before a part goes to a parser thread.
const READ_PART: usize = 4 << 20;

/// Room in a read buffer for the partial line carried from the part
/// before.
const CARRY_ROOM: usize = 64 << 10;

/// A buffer to read a part into: one a parser thread gave back, or a new
/// one (fresh memory costs a page fault per page: a 67 MB file read into
/// new buffers spends more time there than in the copy).
fn read_buffer(back: &std::sync::mpsc::Receiver<Vec<u8>>) -> Vec<u8> {
    match back.try_recv() {
        Ok(mut b) => {
            b.clear();
            b
        }
        Err(_) => Vec::with_capacity(READ_PART + CARRY_ROOM),
    }
}

/// Reads `reader` to its end in parts of whole lines (about
/// [`READ_PART`] bytes; a longer line makes a longer part), each into a
/// buffer from `buffer` (empty), handing each to `send` with its number;
/// stops early when `send` says no.
fn read_chunks(
    reader: &mut impl std::io::Read,
    mut buffer: impl FnMut() -> Vec<u8>,
    mut send: impl FnMut(usize, Vec<u8>) -> bool,
) -> std::io::Result<()> {
    let mut carry = Vec::new();
    for k in 0.. {
        let mut part = buffer();
        part.extend_from_slice(&carry);
        carry.clear();
        let wanted = READ_PART as u64;
        let mut limited = std::io::Read::take(&mut *reader, wanted);
        let eof = std::io::Read::read_to_end(&mut limited, &mut part)? < READ_PART;
        if !eof {
            // The partial line at the end goes with the next part.
            match memchr::memrchr(b'\n', &part) {
                Some(end) => {
                    carry.extend_from_slice(&part[end + 1..]);
                    part.truncate(end + 1);
                }
                None => {
                    carry = part;
                    continue;
                }
            }
        }
        if !send(k, part) || eof {
            break;
        }
    }
    Ok(())
}

/// Splits `text` at line ends into at most `n` parts of at least `min`
/// bytes each.
fn split_lines(text: &str, n: usize, min: usize) -> Vec<&str> {
    let n = n.min(text.len() / min.max(1)).max(1);
    let mut parts = Vec::with_capacity(n);
    let mut rest = text;
    for k in (1..=n).rev() {
        if k == 1 {
            parts.push(rest);
            break;
        }
        let at = rest.len() / k;
        let end = match memchr::memchr(b'\n', &rest.as_bytes()[at..]) {
            Some(i) => at + i + 1,
            None => rest.len(),
        };
        let (part, tail) = rest.split_at(end);
        parts.push(part);
        rest = tail;
        if rest.is_empty() {
            break;
        }
    }
    parts
}

/// Refuses a next hop of the other address family than the prefix, or one
/// that no router takes.
fn check_next_hop_family(prefix: IpNet, next_hop: Option<IpAddr>) -> Result<(), String> {
    match next_hop {
        Some(nh) if nh.is_ipv4() != prefix.addr().is_ipv4() => Err(format!(
            "{prefix}: next-hop {nh} is not of the prefix's address family"
        )),
        Some(nh) => check_next_hop(nh).map_err(|e| format!("{prefix}: {e}")),
        None => Ok(()),
    }
}

/// What expectations found among the routes received.
///
/// ```
/// use cue::bgp::route::{check_routes, RouteSpec};
/// use cue::bgp::RouteAttributes;
/// use std::sync::Arc;
/// let got = vec![("192.0.2.2".to_string(), "10.0.0.0/24".parse().unwrap(),
///     Arc::new(RouteAttributes { med: Some(10), ..Default::default() }))];
/// let want: Vec<RouteSpec> = vec!["10.0.0.0/24 med 10".parse().unwrap(), "10.1.0.0/24".parse().unwrap()];
/// let report = check_routes(&want, &[], &got);
/// assert_eq!(report.missing, vec!["10.1.0.0/24"]);
/// assert!(!report.is_ok());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExpectReport {
    /// Expected routes not received at all.
    pub missing: Vec<String>,
    /// Expected routes received with other attributes.
    pub different: Vec<Difference>,
    /// Routes received that were to be absent.
    pub unexpected: Vec<String>,
}

/// An expected route received with other attributes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Difference {
    /// The route as expected.
    pub route: String,
    /// The peer that sent it.
    pub peer: String,
    /// How it differs, one entry per attribute.
    pub differences: Vec<String>,
}

impl ExpectReport {
    /// Whether every expectation holds.
    pub fn is_ok(&self) -> bool {
        self.missing.is_empty() && self.different.is_empty() && self.unexpected.is_empty()
    }

    /// The report as lines of text (none when it holds).
    pub fn lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .missing
            .iter()
            .map(|r| format!("missing {r}"))
            .collect();
        for d in &self.different {
            out.push(format!(
                "{} from {}: {}",
                d.route,
                d.peer,
                d.differences.join("; ")
            ));
        }
        out.extend(self.unexpected.iter().map(|r| format!("unexpected {r}")));
        out
    }
}

/// Checks `routes` (peer, prefix, attributes: what
/// [`Pool::adj_rib_in`](super::Pool::adj_rib_in) gives) against routes
/// expected present (from any peer, with every stated attribute) and
/// routes expected absent (no peer sends the prefix with the stated
/// attributes).
pub fn check_routes(
    expect: &[RouteSpec],
    absent: &[RouteSpec],
    routes: &[(String, IpNet, std::sync::Arc<RouteAttributes>)],
) -> ExpectReport {
    let mut by_prefix: std::collections::BTreeMap<&IpNet, Vec<(&String, &RouteAttributes)>> =
        Default::default();
    for (peer, prefix, attrs) in routes {
        by_prefix.entry(prefix).or_default().push((peer, attrs));
    }
    let mut report = ExpectReport::default();
    for want in expect {
        let Some(got) = by_prefix.get(&want.prefix) else {
            report.missing.push(want.to_string());
            continue;
        };
        let mut closest: Option<(&String, Vec<String>)> = None;
        for (peer, attrs) in got {
            let d = want.attributes.differences(attrs);
            if d.is_empty() {
                closest = None;
                break;
            }
            if closest.as_ref().map_or(true, |(_, c)| d.len() < c.len()) {
                closest = Some((peer, d));
            }
        }
        if let Some((peer, differences)) = closest {
            report.different.push(Difference {
                route: want.to_string(),
                peer: peer.clone(),
                differences,
            });
        }
    }
    for not in absent {
        if let Some(got) = by_prefix.get(&not.prefix) {
            if got
                .iter()
                .any(|(_, a)| not.attributes.differences(a).is_empty())
            {
                report.unexpected.push(not.to_string());
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bgp::wire::AsPath;

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
        let e = parse_route_lines("10.0.0.1\n# fine\n\n10.0.0.2 med\n").unwrap_err();
        assert!(e.starts_with("line 4:"), "{e}");
    }

    /// A table of random routes, some written twice, some with the
    /// session's attributes and with their own, sorted and grouped: the
    /// groups and the plain lists are the trees, family by family.
    #[test]
    fn sorted_groups_are_the_trees() {
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move |m: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % m
        };
        let mut text = String::new();
        for _ in 0..20_000 {
            let v4 = next(2) == 0;
            let host = next(3_000);
            let prefix = if v4 {
                format!("10.0.{}.{}", host / 256, host % 256)
            } else {
                format!("fd00::{host:x}")
            };
            match next(4) {
                0 => text.push_str(&format!("{prefix}\n")),
                k => text.push_str(&format!("{prefix} med {}\n", next(40) * k)),
            }
        }
        let table = || {
            let mut t = RouteTable::default();
            t.parse_lines(&text).unwrap();
            t
        };
        let sorted = table().sort();
        let (rib, map) = sorted.trees();
        assert_eq!((rib.clone(), map.clone()), table().finish());
        assert_eq!(sorted.len(), rib.len());
        assert_eq!(sorted.with_own_attributes(), map.len());
        for family in [Family::Ipv4Unicast, Family::Ipv6Unicast] {
            let of_family: Vec<IpNet> = crate::bgp::rib::family_range(&rib, family)
                .copied()
                .collect();
            assert_eq!(sorted.first(family), of_family.first().copied());
            let mut seen: Vec<IpNet> = sorted.plain(family).to_vec();
            assert!(seen.iter().all(|p| !map.contains_key(p)));
            assert!(seen.windows(2).all(|w| w[0] < w[1]));
            let mut sets = Vec::new();
            let mut firsts = Vec::new();
            for (o, prefixes) in sorted.groups(family) {
                let prefixes: Vec<IpNet> = prefixes.copied().collect();
                firsts.push(prefixes[0]);
                assert!(prefixes.windows(2).all(|w| w[0] < w[1]));
                for p in &prefixes {
                    assert!(Arc::ptr_eq(&map[p], o), "{p}");
                }
                sets.push(Arc::as_ptr(o));
                seen.extend(prefixes);
            }
            // One group per set, in the order of their first prefix.
            let mut distinct = sets.clone();
            distinct.sort();
            distinct.dedup();
            assert_eq!(distinct.len(), sets.len());
            assert!(firsts.windows(2).all(|w| w[0] < w[1]));
            seen.sort();
            assert_eq!(seen, of_family);
        }
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
    fn differences_name_each_attribute() {
        let want: AttributeSpec =
            "as-path 65002 origin igp large-community 1:2:3 ext-community rt:1:1"
                .parse()
                .unwrap();
        let got = RouteAttributes {
            as_path: AsPath::sequence(&[65002]),
            origin: Some(Origin::Igp),
            large_communities: vec!["1:2:3".parse().unwrap()],
            ext_communities: vec!["rt:1:1".parse().unwrap()],
            ..Default::default()
        };
        assert!(want.differences(&got).is_empty());
        let other = RouteAttributes {
            as_path: AsPath::sequence(&[65003, 65002]),
            ..Default::default()
        };
        assert_eq!(want.differences(&other).len(), 4);
    }

    #[test]
    fn large_tables_parse_in_parts_with_shared_attribute_sets() {
        let mut text = String::new();
        for i in 0..200_000u32 {
            let [_, b, c, d] = i.to_be_bytes();
            text.push_str(&format!("10.{b}.{c}.{d} med {} community 65000:1\n", i % 7));
        }
        assert!(
            split_lines(&text, 2, PARALLEL_PART).len() == 2,
            "{} bytes",
            text.len()
        );
        let mut t = RouteTable::default();
        t.parse_lines(&text).unwrap();
        assert_eq!(t.attribute_sets(), 7);
        let (rib, own) = t.finish();
        assert_eq!((rib.len(), own.len()), (200_000, 200_000));
        let first = &own[&"10.0.0.0/32".parse().unwrap()];
        let last = &own[&"10.3.13.63/32".parse().unwrap()]; // 199999 = 7 * 28571 + 2
        let same = &own[&"10.3.13.61/32".parse().unwrap()]; // 199997, 0 mod 7
        assert_eq!(first.med, Some(0));
        assert_eq!(last.med, Some(2));
        assert!(Arc::ptr_eq(first, same), "one set across the parts");
        // An error in the second part names its line in the whole text.
        let bad = text.replacen("10.2.73.240 med 4", "10.2.73.240 med four", 1);
        let e = RouteTable::default().parse_lines(&bad).unwrap_err();
        assert!(e.starts_with("line 150001: 10.2.73.240/32: med"), "{e}");
        // A prefix twice: its last attributes.
        let mut t = RouteTable::default();
        t.parse_lines("10.0.0.1 med 1\n10.0.0.1\n10.0.0.1 med 2\n10.0.0.2\n")
            .unwrap();
        let (rib, own) = t.finish();
        assert_eq!(rib.len(), 2);
        assert_eq!(own[&"10.0.0.1/32".parse().unwrap()].med, Some(2));
    }

    /// Hands out at most 1,000 bytes a read, as a pipe may.
    struct Trickle<'a>(&'a [u8]);

    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.0.len()).min(1000);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn tables_read_in_parts_match_tables_parsed_whole() {
        // Over three read parts, lines of both kinds, comments, no final
        // line end.
        let mut text = String::new();
        for i in 0..600_000u32 {
            let [_, b, c, d] = i.to_be_bytes();
            match i % 3 {
                0 => text.push_str(&format!("10.{b}.{c}.{d}\n")),
                1 => text.push_str(&format!(
                    "fd00::{:x}:{:x} med {} # note\n",
                    i >> 16,
                    i & 0xffff,
                    i % 11
                )),
                _ => text.push_str(&format!("10.{b}.{c}.{d}/32 community 65000:{}\n", i % 5)),
            }
        }
        text.push_str("192.0.2.1 med 1");
        assert!(text.len() > 3 * READ_PART, "{} bytes", text.len());
        let mut whole = RouteTable::default();
        whole.parse_lines(&text).unwrap();
        let mut read = RouteTable::default();
        read.parse_reader(Trickle(text.as_bytes())).unwrap();
        assert_eq!(read.attribute_sets(), whole.attribute_sets());
        assert_eq!(read.attribute_sets(), 16); // 11 MEDs, 5 communities
        let (a, b) = (whole.finish(), read.finish());
        assert_eq!(a.0, b.0);
        assert_eq!(a.1, b.1);
        assert_eq!(a.0.len(), 600_001);
        // An error in a late part names its line in the whole input, and
        // nothing is added; so does text that is not UTF-8.
        // Line 555,557 (i = 555,556, 1 mod 3), in the fourth part.
        let bad = text.replacen("fd00::8:7a24 med", "fd00::8:7a24 mad", 1);
        let at = text.find("fd00::8:7a24 med").unwrap();
        let line = 1 + text[..at].matches('\n').count();
        assert_eq!(line, 555_557);
        // Without a parser thread (none could be started): the same.
        let mut alone = RouteTable::default();
        alone.parse_reader_on(Trickle(text.as_bytes()), 0).unwrap();
        assert_eq!(alone.finish(), a);
        let mut t = RouteTable::default();
        let e = t.parse_reader(Trickle(bad.as_bytes())).unwrap_err();
        assert!(
            e.starts_with(&format!("line {line}: fd00::8:7a24/128")),
            "{e}"
        );
        assert!(t.is_empty());
        let mut bytes = text.clone().into_bytes();
        let at = text.find("10.4.0.2\n").unwrap();
        bytes[at + 3] = 0xff;
        let line = 1 + text[..at].matches('\n').count();
        let e = RouteTable::default().parse_reader(&bytes[..]).unwrap_err();
        assert_eq!(e, format!("line {line}: not UTF-8 text"));
        // A line longer than a read part.
        let long = format!(
            "10.0.0.1 {}community 65000:1\n10.0.0.2\n",
            " ".repeat(READ_PART + 10)
        );
        let mut t = RouteTable::default();
        t.parse_reader(long.as_bytes()).unwrap();
        assert_eq!((t.len(), t.attribute_sets()), (2, 1));
    }

    #[test]
    fn splitting_at_line_ends() {
        let text = "a\nbb\nccc\ndddd\n";
        let parts = split_lines(text, 3, 4);
        let joined: String = parts.concat();
        assert_eq!(joined, text);
        assert!(parts.iter().all(|p| p.ends_with('\n')));
        assert_eq!(parts.len(), 2, "{parts:?}");
        assert_eq!(split_lines("short", 8, 4).len(), 1);
        assert_eq!(split_lines("", 8, 4), vec![""]);
    }

    #[test]
    fn ext_community_forms() {
        for s in [
            "rt:65000:100",
            "rt:192.0.2.1:7",
            "ro:4200000000:9",
            "0x030c000000000008",
        ] {
            let c: ExtCommunity = s.parse().unwrap();
            assert_eq!(c.to_string(), s);
        }
    }
}

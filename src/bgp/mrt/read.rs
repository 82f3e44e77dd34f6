//! Reading routes out of MRT files (RFC 6396): a TABLE_DUMP_V2 RIB dump
//! (what route collectors, GoBGP's `table` dump and BIRD's `mrt dump`
//! write; RFC 8050 ADD-PATH entries included) or a file of BGP4MP messages
//! (an `updates` dump, or what `cue-bgp --mrt` records), replayed in
//! order. The result is a table of routes with their original attributes,
//! ready to be announced again ([`RouteTable::push_shared`]).
//!
//! ```text
//! MRT header: Timestamp (4) | Type (2) | Subtype (2) | Length (4) [| Microseconds (4), _ET types]
//! TABLE_DUMP_V2 (13) / PEER_INDEX_TABLE (1):
//!   Collector ID (4) | View Name Length (2) | View Name | Peer Count (2) |
//!   Peers: Type (1: 0x01 IPv6, 0x02 4-octet AS) | BGP ID (4) | IP (4/16) | AS (2/4)
//! TABLE_DUMP_V2 / RIB_IPV4_UNICAST (2), RIB_IPV6_UNICAST (4), _ADDPATH (8, 10):
//!   Sequence (4) | Prefix Length (1) | Prefix | Entry Count (2) |
//!   Entries: Peer Index (2) | Originated (4) | [Path ID (4)] | Attribute Length (2) | Attributes
//!   (4-octet AS always; MP_REACH_NLRI holds only the next hop length and next hop)
//! BGP4MP (16) / BGP4MP_ET (17), MESSAGE (1), MESSAGE_AS4 (4), and _LOCAL (6, 7):
//!   Peer AS (2/4) | Local AS (2/4) | Interface (2) | AFI (2) | Peer IP | Local IP | BGP message
//! ```
//!
//! Every length is checked: a truncated or malformed record is an error
//! naming its offset in the file, never a panic. Records of other types
//! (state changes, multicast RIBs, legacy TABLE_DUMP) are counted and
//! skipped; so are BGP4MP messages that do not decode.
//!
//! ```
//! use cue::bgp::mrt::read::{read_routes, MrtOptions};
//! let err = read_routes(&[0, 0, 0, 1, 0, 13, 0, 2, 0, 0, 0, 9, 1], &MrtOptions::default()).unwrap_err();
//! assert!(err.to_string().contains("at byte 0"), "{err}");
//! ```
//!
//! [`RouteTable::push_shared`]: crate::bgp::route::RouteTable::push_shared

use crate::bgp::config::AttributeOverrides;
use crate::bgp::route::ExtCommunity;
use crate::bgp::wire::{
    next_attribute, split_prefix, AddPathFamilies, AttrType, DecodeContext, Family, Message,
    PathAttributes, PrefixFault, Reader as Cursor, FLAG_EXTENDED, FLAG_OPTIONAL, FLAG_PARTIAL,
    FLAG_TRANSITIVE,
};
use ipnet::IpNet;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use super::BGP4MP;

const TABLE_DUMP_V2: u16 = 13;
const BGP4MP_ET: u16 = 17;

const PEER_INDEX_TABLE: u16 = 1;
const RIB_IPV4_UNICAST: u16 = 2;
const RIB_IPV6_UNICAST: u16 = 4;
const RIB_IPV4_UNICAST_ADDPATH: u16 = 8;
const RIB_IPV6_UNICAST_ADDPATH: u16 = 10;

/// How routes read from an MRT file are to be announced again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MrtOptions {
    /// Keep each route's next hop (by default it is ours, the session's).
    pub keep_next_hop: bool,
    /// Send each AS_PATH exactly as recorded, also to external peers (by
    /// default our AS goes in front of it towards them).
    pub as_path_exact: bool,
    /// Take only the routes of the peer with this address (by default,
    /// for each prefix, the first peer's route: the first RIB entry, or the
    /// peer seen first in a BGP4MP file).
    pub peer: Option<IpAddr>,
    /// Also replay the messages we sent (`_LOCAL` subtypes) of a BGP4MP
    /// file (by default only those received are).
    pub include_local: bool,
}

/// An MRT file that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record at byte {offset}: {fault}")]
pub struct MrtError {
    /// Where the record starts in the file.
    pub offset: usize,
    /// What is wrong with it.
    pub fault: MrtFault,
}

/// What is wrong with a record of an MRT file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MrtFault {
    /// Fewer than the 12 octets of a record header left.
    #[error("truncated MRT header")]
    TruncatedHeader,
    /// A record longer than what is left of the file.
    #[error("type {kind} record of {len} bytes, {left} left in the file")]
    TruncatedRecord {
        /// The record's type.
        kind: u16,
        /// Its length.
        len: usize,
        /// What is left of the file.
        left: usize,
    },
    /// A BGP4MP_ET record too short for its microseconds.
    #[error("BGP4MP_ET record without its microseconds")]
    NoMicroseconds,
    /// A field that runs past the end of its record.
    #[error("{what}: {needed} bytes needed, {left} left in the record")]
    Short {
        /// The field.
        what: &'static str,
        /// Its length.
        needed: usize,
        /// What is left of the record.
        left: usize,
    },
    /// A RIB entry of a peer that the PEER_INDEX_TABLE does not have.
    #[error("RIB entry of peer {peer}, but the peer index table has {peers}")]
    UnknownPeer {
        /// The entry's peer index.
        peer: usize,
        /// How many peers the table has.
        peers: usize,
    },
    /// A BGP4MP address family other than IPv4 and IPv6.
    #[error("address family {0}, not 1 (IPv4) or 2 (IPv6)")]
    AddressFamily(u16),
    /// A prefix longer than its family.
    #[error("prefix length {len} (at most {max})")]
    PrefixLength {
        /// The length written.
        len: u8,
        /// The family's longest.
        max: u8,
    },
    /// A RIB entry's attribute list that cannot be walked (the codec's
    /// reason).
    #[error("path attributes: {0}")]
    AttributeList(&'static str),
    /// A RIB entry's path attributes that do not decode.
    #[error("{0}")]
    Attributes(crate::bgp::wire::DecodeError),
    /// A fault in the entry of a prefix.
    #[error("{prefix}: {fault}")]
    Route {
        /// The prefix.
        prefix: IpNet,
        /// The fault.
        fault: Box<MrtFault>,
    },
}

/// A peer named in the file (a PEER_INDEX_TABLE entry, or the peer of
/// BGP4MP records).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MrtPeer {
    /// Its address.
    pub address: IpAddr,
    /// Its AS.
    pub asn: u32,
}

/// The routes of an MRT file, with their attributes.
#[derive(Debug, Default)]
pub struct MrtRoutes {
    /// Each prefix once, in order, with its attribute set (shared by every
    /// route that has the same attributes).
    pub routes: Vec<(IpNet, Arc<AttributeOverrides>)>,
    /// For each of `routes`, the peer it was taken from: its place in
    /// `peers`.
    pub sources: Vec<u32>,
    /// The peers the file names.
    pub peers: Vec<MrtPeer>,
    /// How many distinct attribute sets the routes have.
    pub attribute_sets: usize,
    /// TABLE_DUMP_V2 RIB records read.
    pub rib_records: usize,
    /// BGP4MP UPDATE messages applied.
    pub updates: usize,
    /// Records of a type or subtype not read (state changes, multicast,
    /// legacy TABLE_DUMP, ADD-PATH BGP4MP).
    pub skipped: usize,
    /// BGP4MP messages that did not decode (as a peer would have had them
    /// handled, they changed nothing).
    pub undecodable: usize,
}

/// Reads the routes of an MRT file (see the module).
pub fn read_routes(data: &[u8], options: &MrtOptions) -> Result<MrtRoutes, MrtError> {
    let mut r = Reader::new(options);
    let mut at = 0;
    while at < data.len() {
        let err = |fault: MrtFault| MrtError { offset: at, fault };
        let header = data
            .get(at..at + 12)
            .ok_or_else(|| err(MrtFault::TruncatedHeader))?;
        let kind = u16::from_be_bytes([header[4], header[5]]);
        let subtype = u16::from_be_bytes([header[6], header[7]]);
        let len = u32::from_be_bytes([header[8], header[9], header[10], header[11]]) as usize;
        let body = data.get(at + 12..at + 12 + len).ok_or_else(|| {
            err(MrtFault::TruncatedRecord {
                kind,
                len,
                left: data.len() - at - 12,
            })
        })?;
        match kind {
            TABLE_DUMP_V2 => r.table_dump_v2(subtype, body).map_err(err)?,
            BGP4MP => r.bgp4mp(subtype, body).map_err(err)?,
            BGP4MP_ET => {
                let body = body.get(4..).ok_or_else(|| err(MrtFault::NoMicroseconds))?;
                r.bgp4mp(subtype, body).map_err(err)?
            }
            // TABLE_DUMP (legacy), state changes, anything else.
            _ => r.out.skipped += 1,
        }
        at += 12 + len;
    }
    Ok(r.finish())
}

/// The codec's cursor over one record's body, each read naming its field
/// when it runs past the end.
struct Bytes<'a>(Cursor<'a>);

impl<'a> Bytes<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Bytes(Cursor::new(buf))
    }
    /// The fault of a read of `needed` octets that ran past the end.
    #[cold]
    fn short(&self, what: &'static str, needed: usize) -> MrtFault {
        MrtFault::Short {
            what,
            needed,
            left: self.0.remaining(),
        }
    }
    /// A read's value, or the fault of one of `needed` octets that ran
    /// short (made only then).
    fn or_short<T>(
        &self,
        read: Option<T>,
        what: &'static str,
        needed: usize,
    ) -> Result<T, MrtFault> {
        read.ok_or_else(|| self.short(what, needed))
    }
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], MrtFault> {
        let read = self.0.take(n);
        self.or_short(read, what, n)
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, MrtFault> {
        let read = self.0.u8();
        self.or_short(read, what, 1)
    }
    fn u16(&mut self, what: &'static str) -> Result<u16, MrtFault> {
        let read = self.0.u16();
        self.or_short(read, what, 2)
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, MrtFault> {
        let read = self.0.u32();
        self.or_short(read, what, 4)
    }
    fn ip(&mut self, ipv6: bool, what: &'static str) -> Result<IpAddr, MrtFault> {
        Ok(if ipv6 {
            let b: [u8; 16] = self.take(16, what)?.try_into().expect("16 bytes");
            IpAddr::V6(Ipv6Addr::from(b))
        } else {
            let b: [u8; 4] = self.take(4, what)?.try_into().expect("4 bytes");
            IpAddr::V4(Ipv4Addr::from(b))
        })
    }
    /// A prefix as RFC 6396 writes it: NLRI's encoding, read by the codec.
    fn prefix(&mut self, ipv6: bool) -> Result<IpNet, MrtFault> {
        let rest = self.0.rest();
        let (net, after) = split_prefix(rest, ipv6).map_err(|fault| match fault {
            PrefixFault::TooLong { len, max } => MrtFault::PrefixLength { len, max },
            PrefixFault::Short { needed, left } => MrtFault::Short {
                what: "prefix",
                needed,
                left,
            },
        })?;
        self.0.take(rest.len() - after.len());
        Ok(net)
    }
}

struct Reader<'o> {
    options: &'o MrtOptions,
    out: MrtRoutes,
    /// The PEER_INDEX_TABLE of a RIB dump.
    index: Vec<MrtPeer>,
    /// The RIB dump's routes, one per record, with the rank of the peer
    /// they came from (lower wins: the first entry).
    table: Vec<(IpNet, usize, Arc<AttributeOverrides>)>,
    /// BGP4MP peers in order of appearance.
    bgp4mp_peers: Vec<IpAddr>,
    /// Per BGP4MP peer, its routes (the merged table is built at the end).
    per_peer: Vec<BTreeMap<(IpNet, u32), Arc<AttributeOverrides>>>,
    /// Attribute sets of RIB entries by their bytes; of BGP4MP messages,
    /// by value.
    by_bytes: HashMap<Vec<u8>, Arc<AttributeOverrides>, foldhash::fast::RandomState>,
    by_value: HashSet<Arc<AttributeOverrides>, foldhash::fast::RandomState>,
    /// A buffer for the key of `by_bytes`.
    key: Vec<u8>,
}

impl<'o> Reader<'o> {
    fn new(options: &'o MrtOptions) -> Reader<'o> {
        Reader {
            options,
            out: MrtRoutes::default(),
            index: Vec::new(),
            table: Vec::new(),
            bgp4mp_peers: Vec::new(),
            per_peer: Vec::new(),
            by_bytes: HashMap::default(),
            by_value: HashSet::default(),
            key: Vec::new(),
        }
    }

    fn table_dump_v2(&mut self, subtype: u16, body: &[u8]) -> Result<(), MrtFault> {
        let mut b = Bytes::new(body);
        match subtype {
            PEER_INDEX_TABLE => {
                b.take(4, "collector BGP ID")?;
                let name = b.u16("view name length")? as usize;
                b.take(name, "view name")?;
                let count = b.u16("peer count")?;
                self.index.clear();
                for _ in 0..count {
                    let kind = b.u8("peer type")?;
                    b.take(4, "peer BGP ID")?;
                    let address = b.ip(kind & 0x01 != 0, "peer address")?;
                    let asn = if kind & 0x02 != 0 {
                        b.u32("peer AS")?
                    } else {
                        b.u16("peer AS")? as u32
                    };
                    self.index.push(MrtPeer { address, asn });
                }
                self.out.peers.clone_from(&self.index);
                Ok(())
            }
            RIB_IPV4_UNICAST
            | RIB_IPV6_UNICAST
            | RIB_IPV4_UNICAST_ADDPATH
            | RIB_IPV6_UNICAST_ADDPATH => {
                let ipv6 = matches!(subtype, RIB_IPV6_UNICAST | RIB_IPV6_UNICAST_ADDPATH);
                let add_path = subtype >= RIB_IPV4_UNICAST_ADDPATH;
                b.u32("sequence number")?;
                let prefix = b.prefix(ipv6)?;
                let count = b.u16("entry count")?;
                self.out.rib_records += 1;
                let mut best: Option<(usize, &[u8])> = None;
                for _ in 0..count {
                    let peer = b.u16("peer index")? as usize;
                    b.u32("originated time")?;
                    if add_path {
                        b.u32("path identifier")?;
                    }
                    let len = b.u16("attribute length")? as usize;
                    let attrs = b.take(len, "attributes")?;
                    let Some(from) = self.index.get(peer).copied() else {
                        return Err(MrtFault::UnknownPeer {
                            peer,
                            peers: self.index.len(),
                        });
                    };
                    if self.options.peer.is_some_and(|p| p != from.address) {
                        continue;
                    }
                    if best.map_or(true, |(rank, _)| peer < rank) {
                        best = Some((peer, attrs));
                    }
                }
                if let Some((peer, attrs)) = best {
                    let a = self.attributes(attrs).map_err(|e| MrtFault::Route {
                        prefix,
                        fault: Box::new(e),
                    })?;
                    self.table.push((prefix, peer, a));
                }
                Ok(())
            }
            _ => {
                self.out.skipped += 1;
                Ok(())
            }
        }
    }

    fn bgp4mp(&mut self, subtype: u16, body: &[u8]) -> Result<(), MrtFault> {
        // With the ADD-PATH subtypes (RFC 8050), NLRI carry path ids.
        let Some((four_octet, local, add_path)) = super::bgp4mp_subtype(subtype) else {
            self.out.skipped += 1;
            return Ok(());
        };
        if local && !self.options.include_local {
            return Ok(());
        }
        let mut b = Bytes::new(body);
        let peer_as = if four_octet {
            b.u32("peer AS")?
        } else {
            b.u16("peer AS")? as u32
        };
        if four_octet {
            b.u32("local AS")?;
        } else {
            b.u16("local AS")?;
        }
        b.u16("interface index")?;
        let ipv6 = match b.u16("address family")? {
            1 => false,
            2 => true,
            afi => return Err(MrtFault::AddressFamily(afi)),
        };
        let peer = b.ip(ipv6, "peer address")?;
        b.ip(ipv6, "local address")?;
        if self.options.peer.is_some_and(|p| p != peer) {
            return Ok(());
        }
        let message = b.0.rest();
        // The AS width of the message is the record's (RFC 6396 4.4.3).
        let mut ctx = DecodeContext::with_four_octet_as(four_octet);
        if add_path {
            ctx.add_path = AddPathFamilies::of(&[Family::Ipv4Unicast, Family::Ipv6Unicast]);
        }
        let update = match Message::decode(message, ctx) {
            Ok(Message::Update(u)) if u.errors.is_empty() => u,
            Ok(Message::Update(_)) | Err(_) => {
                self.out.undecodable += 1;
                return Ok(());
            }
            Ok(_) => return Ok(()),
        };
        self.out.updates += 1;
        let rank = match self.bgp4mp_peers.iter().position(|p| *p == peer) {
            Some(i) => i,
            None => {
                self.bgp4mp_peers.push(peer);
                self.per_peer.push(BTreeMap::new());
                self.out.peers.push(MrtPeer {
                    address: peer,
                    asn: peer_as,
                });
                self.bgp4mp_peers.len() - 1
            }
        };
        for (w, id) in update.withdrawn_paths() {
            self.per_peer[rank].remove(&(*w, id.unwrap_or(0)));
        }
        if update.announced().next().is_some() {
            let a = self.shared(update.attributes.clone());
            for (p, id) in update.announced_paths() {
                self.per_peer[rank].insert((*p, id.unwrap_or(0)), a.clone());
            }
        }
        Ok(())
    }

    /// The attribute set of a RIB entry's attributes (4-octet AS, the
    /// abbreviated MP_REACH_NLRI of RFC 6396 section 4.3.4).
    fn attributes(&mut self, raw: &[u8]) -> Result<Arc<AttributeOverrides>, MrtFault> {
        // The key of the set: the attributes as they are but MP_REACH_NLRI
        // (in a RIB entry it holds only a next hop) and, when the next hop
        // is to be ours, NEXT_HOP; then the next hop, when kept. Routes of
        // different peers with the same attributes then share a set.
        let mut key = std::mem::take(&mut self.key);
        key.clear();
        let mut next_hop6: &[u8] = &[];
        let mut b = Cursor::new(raw);
        while !b.is_empty() {
            let start = raw.len() - b.remaining();
            let (flags, code, value) =
                next_attribute(&mut b).map_err(|(_, why)| MrtFault::AttributeList(why))?;
            match AttrType::from_code(code) {
                Some(AttrType::MpReachNlri) => next_hop6 = value,
                Some(AttrType::NextHop) if !self.options.keep_next_hop => {}
                known => {
                    let at = key.len();
                    key.extend_from_slice(&raw[start..raw.len() - b.remaining()]);
                    // A dump is not a session: an attribute whose type we
                    // know means that attribute whatever its flags say
                    // (BIRD writes NEXT_HOP and LOCAL_PREF with none).
                    if let Some(expected) = known.map(AttrType::flags) {
                        let partial = if expected == FLAG_OPTIONAL | FLAG_TRANSITIVE {
                            FLAG_PARTIAL
                        } else {
                            0
                        };
                        key[at] = expected | (flags & (FLAG_EXTENDED | partial));
                    }
                }
            }
        }
        let attributes_end = key.len();
        if self.options.keep_next_hop {
            key.extend_from_slice(next_hop6);
        }
        if let Some(a) = self.by_bytes.get(key.as_slice()) {
            let a = a.clone();
            self.key = key;
            return Ok(a);
        }
        let ctx = DecodeContext::with_four_octet_as(true);
        let attrs =
            PathAttributes::decode(&key[..attributes_end], ctx).map_err(MrtFault::Attributes)?;
        let nh6 = self
            .options
            .keep_next_hop
            .then(|| mp_next_hop(next_hop6))
            .flatten();
        let a = Arc::new(overrides_of(attrs, nh6, self.options));
        self.by_bytes.insert(key.clone(), a.clone());
        self.key = key;
        Ok(a)
    }

    /// The shared attribute set for the attributes of a BGP4MP UPDATE.
    fn shared(&mut self, attrs: PathAttributes) -> Arc<AttributeOverrides> {
        let o = overrides_of(attrs, None, self.options);
        if let Some(a) = self.by_value.get(&o) {
            return a.clone();
        }
        let a = Arc::new(o);
        self.by_value.insert(a.clone());
        a
    }

    fn finish(mut self) -> MrtRoutes {
        // RIB records come in prefix order; the same prefix twice (never
        // seen so far) keeps its first peer's route.
        if !self.table.windows(2).all(|w| w[0].0 < w[1].0) {
            self.table.sort_by_key(|r| (r.0, r.1));
            self.table.dedup_by_key(|r| r.0);
        }
        if self.per_peer.is_empty() {
            self.out.sources = self.table.iter().map(|r| r.1 as u32).collect();
            self.out.routes = self.table.into_iter().map(|(p, _, a)| (p, a)).collect();
        } else {
            // Each prefix from the first peer that has it.
            let place = |a: IpAddr| self.out.peers.iter().rposition(|p| p.address == a);
            let places: Vec<u32> = self
                .bgp4mp_peers
                .iter()
                .map(|a| place(*a).unwrap_or_default() as u32)
                .collect();
            let mut merged: BTreeMap<IpNet, (u32, Arc<AttributeOverrides>)> = BTreeMap::new();
            for (rank, routes) in self.per_peer.into_iter().enumerate().rev() {
                // Of a peer's paths of a prefix (ADD-PATH), the lowest
                // identifier's: put in last.
                let routes = routes.into_iter().rev();
                merged.extend(routes.map(|((p, _), a)| (p, (places[rank], a))));
            }
            // A file may hold both kinds: the RIB dump's entries go first.
            for (p, peer, a) in self.table {
                merged.insert(p, (peer as u32, a));
            }
            (self.out.sources, self.out.routes) =
                merged.into_iter().map(|(p, (s, a))| (s, (p, a))).unzip();
        }
        drop(self.by_bytes);
        let used: HashSet<*const AttributeOverrides, foldhash::fast::RandomState> = self
            .out
            .routes
            .iter()
            .map(|(_, a)| Arc::as_ptr(a))
            .collect();
        self.out.attribute_sets = used.len();
        self.out
    }
}

/// The next hop of a RIB entry's MP_REACH_NLRI: the abbreviated form
/// (length, address) of RFC 6396, or the full one some writers use.
fn mp_next_hop(v: &[u8]) -> Option<IpAddr> {
    let global = |nh: &[u8]| match nh.len() {
        16 | 32 => <[u8; 16]>::try_from(&nh[..16])
            .ok()
            .map(|a| IpAddr::V6(Ipv6Addr::from(a))),
        4 => <[u8; 4]>::try_from(nh).ok().map(|a| IpAddr::V4(a.into())),
        _ => None,
    };
    match v.first() {
        Some(&n) if n as usize + 1 == v.len() => global(&v[1..]),
        // AFI (2), SAFI (1), next hop length, next hop, ...
        _ if v.len() >= 4 => {
            let n = v[3] as usize;
            v.get(4..4 + n).and_then(global)
        }
        _ => None,
    }
}

/// The attributes of a recorded route as the overrides it is announced
/// with: what it carries replaces the session's, what it lacks is the
/// session's; next hop ours unless kept.
fn overrides_of(
    attrs: PathAttributes,
    next_hop6: Option<IpAddr>,
    options: &MrtOptions,
) -> AttributeOverrides {
    let as_path = attrs.full_as_path();
    let aggregator = match (attrs.aggregator, attrs.as4_aggregator) {
        (Some(_), Some(a4)) => Some(a4),
        (a, _) => a,
    };
    let next_hop = options.keep_next_hop.then(|| {
        attrs
            .mp_reach
            .as_ref()
            .and_then(|m| m.next_hops.first().copied())
            .or(next_hop6)
            .or(attrs.next_hop.map(IpAddr::V4))
    });
    let mut ext_communities = Vec::new();
    let mut other = Vec::new();
    for raw in attrs.other {
        match AttrType::from_code(raw.type_code) {
            Some(AttrType::ExtendedCommunities) => {
                ext_communities.extend(
                    raw.value
                        .chunks_exact(8)
                        .map(|c| ExtCommunity(<[u8; 8]>::try_from(c).expect("8 bytes"))),
                );
            }
            // Passed on: optional transitive attributes we do not interpret.
            _ if raw.flags & FLAG_OPTIONAL != 0 && raw.flags & FLAG_TRANSITIVE != 0 => {
                other.push(raw)
            }
            _ => {}
        }
    }
    AttributeOverrides {
        next_hop: next_hop.flatten(),
        origin: attrs.origin,
        as_path,
        as_path_exact: options.as_path_exact,
        med: attrs.med,
        local_pref: attrs.local_pref,
        communities: (!attrs.communities.is_empty()).then_some(attrs.communities),
        large_communities: (!attrs.large_communities.is_empty()).then_some(attrs.large_communities),
        ext_communities,
        atomic_aggregate: attrs.atomic_aggregate,
        aggregator,
        other,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::super::BGP4MP_MESSAGE_AS4;
    use super::*;
    use crate::bgp::wire::{AsPath, Origin};

    fn record(kind: u16, subtype: u16, body: &[u8]) -> Vec<u8> {
        let mut r = vec![0, 0, 0, 1];
        r.extend_from_slice(&kind.to_be_bytes());
        r.extend_from_slice(&subtype.to_be_bytes());
        r.extend_from_slice(&(body.len() as u32).to_be_bytes());
        r.extend_from_slice(body);
        r
    }

    fn peer_index(peers: &[(IpAddr, u32)]) -> Vec<u8> {
        let mut b = vec![10, 0, 0, 9, 0, 0];
        b.extend_from_slice(&(peers.len() as u16).to_be_bytes());
        for (ip, asn) in peers {
            b.push(if ip.is_ipv6() { 3 } else { 2 });
            b.extend_from_slice(&[1, 1, 1, 1]);
            match ip {
                IpAddr::V4(a) => b.extend_from_slice(&a.octets()),
                IpAddr::V6(a) => b.extend_from_slice(&a.octets()),
            }
            b.extend_from_slice(&asn.to_be_bytes());
        }
        record(TABLE_DUMP_V2, PEER_INDEX_TABLE, &b)
    }

    fn attrs(path: &[u32], med: Option<u32>) -> Vec<u8> {
        let a = PathAttributes {
            origin: Some(Origin::Egp),
            as_path: Some(AsPath::sequence(path)),
            next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
            med,
            communities: vec!["65000:7".parse().unwrap()],
            ..Default::default()
        };
        let mut out = Vec::new();
        a.encode(&mut out, DecodeContext::with_four_octet_as(true));
        out
    }

    fn rib(subtype: u16, prefix: &[u8], entries: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut b = vec![0, 0, 0, 0];
        b.extend_from_slice(prefix);
        b.extend_from_slice(&(entries.len() as u16).to_be_bytes());
        for (peer, a) in entries {
            b.extend_from_slice(&peer.to_be_bytes());
            b.extend_from_slice(&[0, 0, 0, 0]);
            b.extend_from_slice(&(a.len() as u16).to_be_bytes());
            b.extend_from_slice(a);
        }
        record(TABLE_DUMP_V2, subtype, &b)
    }

    fn rib_dump() -> Vec<u8> {
        let mut f = peer_index(&[
            ("192.0.2.1".parse().unwrap(), 65010),
            ("192.0.2.2".parse().unwrap(), 4_200_000_001),
        ]);
        f.extend(rib(
            RIB_IPV4_UNICAST,
            &[24, 10, 1, 2],
            &[
                (0, attrs(&[65010, 4_200_000_001], Some(5))),
                (1, attrs(&[4_200_000_001], None)),
            ],
        ));
        f.extend(rib(
            RIB_IPV4_UNICAST,
            &[16, 10, 2],
            &[(1, attrs(&[4_200_000_001], None))],
        ));
        // An IPv6 route: the abbreviated MP_REACH_NLRI of a RIB entry.
        let mut a6 = attrs(&[65010], None);
        a6.extend_from_slice(&[0x80, 14, 17, 16]);
        a6.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        f.extend(rib(
            RIB_IPV6_UNICAST,
            &[32, 0x20, 0x01, 0x0d, 0xb8],
            &[(0, a6)],
        ));
        f
    }

    #[test]
    fn a_rib_dump_gives_each_prefix_the_first_entry() {
        let t = read_routes(&rib_dump(), &MrtOptions::default()).unwrap();
        assert_eq!(t.peers.len(), 2);
        assert_eq!(t.routes.len(), 3);
        assert_eq!(t.rib_records, 3);
        assert_eq!(t.sources, vec![0, 1, 0], "each route's peer");
        let (p, a) = &t.routes[0];
        assert_eq!(p.to_string(), "10.1.2.0/24");
        assert_eq!(a.as_path, Some(AsPath::sequence(&[65010, 4_200_000_001])));
        assert_eq!(a.med, Some(5));
        assert_eq!(a.origin, Some(Origin::Egp));
        assert_eq!(a.communities, Some(vec!["65000:7".parse().unwrap()]));
        assert_eq!(a.next_hop, None, "ours unless kept");
        // The two routes of peer 1 share one attribute set.
        let t = read_routes(
            &rib_dump(),
            &MrtOptions {
                peer: Some("192.0.2.2".parse().unwrap()),
                keep_next_hop: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(t.routes.len(), 2);
        assert!(Arc::ptr_eq(&t.routes[0].1, &t.routes[1].1));
        assert_eq!(t.attribute_sets, 1);
        assert_eq!(t.routes[0].1.next_hop, Some("192.0.2.1".parse().unwrap()));
        let t = read_routes(
            &rib_dump(),
            &MrtOptions {
                keep_next_hop: true,
                ..Default::default()
            },
        )
        .unwrap();
        let v6 = &t.routes[2];
        assert_eq!(v6.0.to_string(), "2001:db8::/32");
        assert_eq!(v6.1.next_hop, Some("2001:db8::1".parse().unwrap()));
    }

    #[test]
    fn recognised_attributes_with_wrong_flags_in_a_rib_entry_are_read() {
        // As BIRD's `protocol mrt` writes them: NEXT_HOP and LOCAL_PREF
        // with no flags at all.
        let mut a = attrs(&[65010], Some(5));
        a.extend_from_slice(&[0x00, 3, 4, 192, 0, 2, 9]);
        a.extend_from_slice(&[0x00, 5, 4, 0, 0, 0, 100]);
        let mut f = peer_index(&[("192.0.2.1".parse().unwrap(), 65010)]);
        f.extend(rib(RIB_IPV4_UNICAST, &[24, 10, 1, 2], &[(0, a)]));
        let t = read_routes(&f, &MrtOptions::default()).unwrap();
        assert_eq!(t.routes.len(), 1);
        assert_eq!(t.routes[0].1.med, Some(5));
        assert_eq!(t.routes[0].1.local_pref, Some(100));
        // An attribute of a type nobody knows still needs its flags right.
        let mut a = attrs(&[65010], None);
        a.extend_from_slice(&[0x00, 250, 1, 0]);
        let mut f = peer_index(&[("192.0.2.1".parse().unwrap(), 65010)]);
        f.extend(rib(RIB_IPV4_UNICAST, &[24, 10, 1, 2], &[(0, a)]));
        assert!(read_routes(&f, &MrtOptions::default()).is_err());
    }

    #[test]
    fn bgp4mp_updates_are_replayed_in_order() {
        let ctx = DecodeContext::with_four_octet_as(true);
        let update = |announce: &[&str], withdraw: &[&str]| {
            let u = crate::bgp::wire::Update {
                withdrawn: withdraw.iter().map(|p| p.parse().unwrap()).collect(),
                attributes: if announce.is_empty() {
                    PathAttributes::default()
                } else {
                    PathAttributes::decode(&attrs(&[65002], Some(9)), ctx).unwrap()
                },
                nlri: announce.iter().map(|p| p.parse().unwrap()).collect(),
                ..Default::default()
            };
            let mut body = vec![0, 0, 0xfd, 0xea, 0, 0, 0xfd, 0xe9, 0, 0, 0, 1];
            body.extend_from_slice(&[192, 0, 2, 2, 192, 0, 2, 1]);
            body.extend_from_slice(&Message::Update(u).to_bytes(ctx));
            record(BGP4MP, BGP4MP_MESSAGE_AS4, &body)
        };
        let mut f = update(&["10.0.0.0/24", "10.0.1.0/24"], &[]);
        f.extend(update(&[], &["10.0.0.0/24"]));
        // A message that does not decode changes nothing.
        let mut bad = vec![
            0, 0, 0xfd, 0xea, 0, 0, 0xfd, 0xe9, 0, 0, 0, 1, 192, 0, 2, 2, 192, 0, 2, 1,
        ];
        bad.extend_from_slice(&[0xff; 16]);
        bad.extend_from_slice(&[0, 23, 2, 0, 5, 0, 0]); // withdrawn routes past the end
        f.extend(record(BGP4MP, BGP4MP_MESSAGE_AS4, &bad));
        f.extend(record(BGP4MP, 5, &[0; 20])); // a state change
        let t = read_routes(&f, &MrtOptions::default()).unwrap();
        assert_eq!(t.routes.len(), 1);
        assert_eq!(t.routes[0].0.to_string(), "10.0.1.0/24");
        assert_eq!(t.routes[0].1.med, Some(9));
        assert_eq!((t.updates, t.undecodable, t.skipped), (2, 1, 1));
        assert_eq!(t.peers[0].asn, 65002);
        assert_eq!(t.sources, vec![0]);
    }

    #[test]
    fn add_path_messages_are_written_and_read_with_their_path_ids() {
        let ctx = DecodeContext {
            add_path: AddPathFamilies::of(&[Family::Ipv4Unicast]),
            ..DecodeContext::with_four_octet_as(true)
        };
        let net: IpNet = "10.0.0.0/24".parse().unwrap();
        let update = |ids: &[u32], withdraw: &[u32], med: u32| {
            let u = crate::bgp::wire::Update {
                withdrawn: vec![net; withdraw.len()],
                withdrawn_path_ids: withdraw.to_vec(),
                attributes: if ids.is_empty() {
                    PathAttributes::default()
                } else {
                    PathAttributes::decode(&attrs(&[65002], Some(med)), ctx).unwrap()
                },
                nlri: vec![net; ids.len()],
                nlri_path_ids: ids.to_vec(),
                ..Default::default()
            };
            Message::Update(u).to_bytes(ctx)
        };
        let peers = super::super::Bgp4mpPeers {
            peer_as: 65002,
            local_as: 65001,
            peer: "192.0.2.2".parse().unwrap(),
            local: "192.0.2.1".parse().unwrap(),
            four_octet_as: true,
            add_path_sent: false,
            add_path_received: true,
        };
        let at = std::time::SystemTime::UNIX_EPOCH;
        let mut f = Vec::new();
        super::super::encode_bgp4mp(&peers, false, at, &update(&[2], &[], 20), &mut f);
        assert_eq!(&f[4..8], &[0, 16, 0, 9], "BGP4MP_MESSAGE_AS4_ADDPATH");
        super::super::encode_bgp4mp(&peers, false, at, &update(&[1], &[], 10), &mut f);
        // Of the two paths of the prefix, the lowest id's.
        let t = read_routes(&f, &MrtOptions::default()).unwrap();
        assert_eq!((t.routes.len(), t.routes[0].1.med), (1, Some(10)));
        // Path 1 withdrawn: path 2 is left, not the prefix gone.
        super::super::encode_bgp4mp(&peers, false, at, &update(&[], &[1], 0), &mut f);
        let t = read_routes(&f, &MrtOptions::default()).unwrap();
        assert_eq!((t.routes.len(), t.routes[0].1.med), (1, Some(20)));
        assert_eq!((t.updates, t.undecodable, t.skipped), (3, 0, 0));
    }

    #[test]
    fn hostile_files_are_errors_with_their_offset() {
        let good = rib_dump();
        // Every truncation is an error or a shorter table, never a panic.
        for n in 0..good.len() {
            let _ = read_routes(&good[..n], &MrtOptions::default());
        }
        let e = read_routes(&good[..good.len() - 3], &MrtOptions::default()).unwrap_err();
        assert!(e.to_string().contains("left in the file"), "{e}");
        assert!(e.offset > 0);
        // A RIB entry of a peer the index does not have.
        let f = rib(RIB_IPV4_UNICAST, &[8, 10], &[(3, attrs(&[1], None))]);
        let e = read_routes(&f, &MrtOptions::default()).unwrap_err();
        assert!(
            matches!(e.fault, MrtFault::UnknownPeer { peer: 3, .. }),
            "{e}"
        );
        // A prefix longer than its family.
        let mut f = peer_index(&[("192.0.2.1".parse().unwrap(), 1)]);
        f.extend(rib(RIB_IPV4_UNICAST, &[33, 1, 2, 3, 4, 5], &[]));
        let e = read_routes(&f, &MrtOptions::default()).unwrap_err();
        assert_eq!(e.fault, MrtFault::PrefixLength { len: 33, max: 32 }, "{e}");
        // Every byte flipped, one at a time.
        for i in 0..good.len() {
            let mut f = good.clone();
            f[i] ^= 0xff;
            let _ = read_routes(&f, &MrtOptions::default());
        }
    }
}

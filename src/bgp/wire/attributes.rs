//! UPDATE path attributes (RFC 4271 section 4.3 and 5, RFC 1997, RFC 4760,
//! RFC 6793, RFC 8092).
//!
//! ```text
//!  0                   1
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Attr. Flags  |Attr. Type Code|  then 1 or 2 octets of length
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+  (2 with the Extended Length bit)
//! ```

use super::codes::{
    Afi, AttrType, Stored, FLAG_EXTENDED, FLAG_OPTIONAL, FLAG_PARTIAL, FLAG_TRANSITIVE,
};
use super::nlri::{decode_nlri, encode_nlri};
use super::reader::Reader;
use super::{
    AddPathFamilies, AsPath, AttributeError, Community, DecodeContext, DecodeError, ErrorAction,
    Family, LargeCommunity, LengthField, AS_TRANS,
};
use ipnet::IpNet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// ORIGIN values.
///
/// ```
/// use cue::bgp::wire::Origin;
/// assert_eq!(Origin::Igp.to_string(), "IGP");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Origin {
    /// Learned by an interior gateway protocol.
    #[serde(rename = "igp")]
    Igp,
    /// Learned by EGP.
    #[serde(rename = "egp")]
    Egp,
    /// Learned some other way.
    #[serde(rename = "incomplete")]
    Incomplete,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Origin::Igp => "IGP",
            Origin::Egp => "EGP",
            Origin::Incomplete => "incomplete",
        })
    }
}

/// MP_REACH_NLRI (RFC 4760).
///
/// ```
/// use cue::bgp::wire::{AsPath, DecodeContext, Family, Message, Origin, PathAttributes, UpdateBuilder};
/// let attrs = PathAttributes { origin: Some(Origin::Igp), as_path: Some(AsPath::default()), ..Default::default() };
/// let b = UpdateBuilder::new(&attrs, "10.0.0.1".parse().unwrap(),
///     &["2001:db8::1".parse().unwrap()], DecodeContext::default());
/// let mut out = Vec::new();
/// b.announce(Family::Ipv6Unicast, &["2001:db8::10/128".parse().unwrap()], &mut out);
/// let Ok(Message::Update(u)) = Message::decode(&out, DecodeContext::default()) else { panic!() };
/// let mp = u.attributes.mp_reach.unwrap();
/// assert_eq!((mp.afi, mp.safi, mp.nlri.len()), (2, 1, 1));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MpReach {
    /// Address family identifier.
    pub afi: u16,
    /// Subsequent address family identifier.
    pub safi: u8,
    /// Next hops: one address, or an IPv6 global and link-local pair.
    pub next_hops: Vec<IpAddr>,
    /// Announced prefixes (empty for families we do not handle).
    pub nlri: Vec<IpNet>,
    /// The path identifier of each of `nlri` (ADD-PATH, RFC 7911), in the
    /// same order; empty when the family carries none.
    pub path_ids: Vec<u32>,
    /// For a family this crate does not parse (flowspec, VPN, ...): the
    /// rest of the attribute after AFI and SAFI (next hop length, next
    /// hop, reserved octet, NLRI), kept as it came and written back as it
    /// came; empty otherwise.
    pub unparsed: Vec<u8>,
}

/// MP_UNREACH_NLRI (RFC 4760).
///
/// ```
/// use cue::bgp::wire::{DecodeContext, Family, Message, UpdateBuilder};
/// let mut out = Vec::new();
/// UpdateBuilder::withdraw(Family::Ipv6Unicast, &["2001:db8::10/128".parse().unwrap()], &mut out);
/// let Ok(Message::Update(u)) = Message::decode(&out, DecodeContext::default()) else { panic!() };
/// assert_eq!(u.attributes.mp_unreach.unwrap().withdrawn.len(), 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MpUnreach {
    /// Address family identifier.
    pub afi: u16,
    /// Subsequent address family identifier.
    pub safi: u8,
    /// Withdrawn prefixes (empty for families we do not handle).
    pub withdrawn: Vec<IpNet>,
    /// The path identifier of each of `withdrawn` (ADD-PATH), in the same
    /// order; empty when the family carries none.
    pub path_ids: Vec<u32>,
    /// For a family this crate does not parse: the withdrawn routes as
    /// they came (an End-of-RIB marker has none); empty otherwise.
    pub unparsed: Vec<u8>,
}

/// An attribute kept as it came (optional attributes we do not interpret).
///
/// ```
/// use cue::bgp::wire::{DecodeContext, PathAttributes, RawAttribute};
/// // An optional transitive attribute we do not interpret (type 99) is kept.
/// let mut a = PathAttributes::default();
/// a.other.push(RawAttribute { flags: 0xc0, type_code: 99, value: vec![1, 2] });
/// let mut out = Vec::new();
/// a.encode(&mut out, DecodeContext::default());
/// assert_eq!(PathAttributes::decode(&out, DecodeContext::default()).unwrap(), a);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RawAttribute {
    /// Flags.
    pub flags: u8,
    /// Type code.
    pub type_code: u8,
    /// Value.
    pub value: Vec<u8>,
}

/// The path attributes of an UPDATE.
///
/// ```
/// use cue::bgp::wire::{AsPath, DecodeContext, Origin, PathAttributes};
/// let a = PathAttributes {
///     origin: Some(Origin::Igp),
///     as_path: Some(AsPath::sequence(&[65001])),
///     med: Some(10),
///     communities: vec!["65000:1".parse().unwrap()],
///     ..Default::default()
/// };
/// let mut out = Vec::new();
/// a.encode(&mut out, DecodeContext::default());
/// assert_eq!(PathAttributes::decode(&out, DecodeContext::default()).unwrap(), a);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathAttributes {
    /// ORIGIN.
    pub origin: Option<Origin>,
    /// AS_PATH, as the peer encoded it (see [`PathAttributes::full_as_path`]).
    pub as_path: Option<AsPath>,
    /// NEXT_HOP for classic IPv4 NLRI.
    pub next_hop: Option<Ipv4Addr>,
    /// MULTI_EXIT_DISC.
    pub med: Option<u32>,
    /// LOCAL_PREF.
    pub local_pref: Option<u32>,
    /// ATOMIC_AGGREGATE present.
    pub atomic_aggregate: bool,
    /// AGGREGATOR: AS and address.
    pub aggregator: Option<(u32, Ipv4Addr)>,
    /// COMMUNITIES.
    pub communities: Vec<Community>,
    /// MP_REACH_NLRI.
    pub mp_reach: Option<MpReach>,
    /// MP_UNREACH_NLRI.
    pub mp_unreach: Option<MpUnreach>,
    /// AS4_PATH.
    pub as4_path: Option<AsPath>,
    /// AS4_AGGREGATOR.
    pub as4_aggregator: Option<(u32, Ipv4Addr)>,
    /// LARGE_COMMUNITY.
    pub large_communities: Vec<LargeCommunity>,
    /// Other optional attributes, kept as they came.
    pub other: Vec<RawAttribute>,
}

/// An attribute as read from a list: flags, type code, value.
pub(crate) type RawNext<'a> = (u8, u8, &'a [u8]);

/// The next attribute of a list: its flags, type code and value; or, when
/// the rest of the list cannot be parsed, its type code if it was read and
/// why.
pub(crate) fn next_attribute<'a>(
    r: &mut Reader<'a>,
) -> Result<RawNext<'a>, (Option<u8>, &'static str)> {
    let (Some(flags), Some(type_code)) = (r.u8(), r.u8()) else {
        return Err((None, "truncated attribute header"));
    };
    let len = if flags & FLAG_EXTENDED != 0 {
        r.u16().map(|l| l as usize)
    } else {
        r.u8().map(|l| l as usize)
    };
    match len.and_then(|l| r.take(l)) {
        Some(value) => Ok((flags, type_code, value)),
        None => Err((
            Some(type_code),
            "attribute length runs past the attribute list",
        )),
    }
}

fn u32_of(v: &[u8]) -> u32 {
    u32::from_be_bytes([v[0], v[1], v[2], v[3]])
}

/// The value of one recognised attribute, with what its errors carry.
struct Value<'a> {
    type_code: u8,
    value: &'a [u8],
    /// The whole attribute, header included: the data of its NOTIFICATION.
    whole: &'a [u8],
}

impl Value<'_> {
    fn length_error(&self) -> DecodeError {
        DecodeError::AttributeLength {
            type_code: self.type_code,
            data: self.whole.to_vec(),
        }
    }

    fn optional_error(&self, reason: &'static str) -> DecodeError {
        DecodeError::OptionalAttribute {
            type_code: self.type_code,
            reason,
            data: self.whole.to_vec(),
        }
    }

    fn exact_len(&self, len: usize) -> Result<(), DecodeError> {
        if self.value.len() == len {
            Ok(())
        } else {
            Err(self.length_error())
        }
    }

    fn u32(&self) -> Result<u32, DecodeError> {
        self.exact_len(4)?;
        Ok(u32_of(self.value))
    }

    /// AS_PATH: confederation segments never come from outside (RFC 5065
    /// section 5.3, RFC 7606 section 7.2).
    fn as_path(&self, ctx: DecodeContext) -> Result<AsPath, DecodeError> {
        let path =
            AsPath::decode(self.value, ctx.four_octet_as).ok_or(DecodeError::MalformedAsPath)?;
        if ctx.external && path.has_confederation() {
            return Err(DecodeError::MalformedAsPath);
        }
        Ok(path)
    }

    /// AS4_PATH (RFC 6793 section 6): a malformed one is discarded, and so
    /// is one from a 4-octet speaker, which must not send it.
    fn as4_path(&self, ctx: DecodeContext) -> Result<AsPath, DecodeError> {
        let path = AsPath::decode(self.value, true)
            .ok_or_else(|| self.optional_error("malformed AS4_PATH"))?;
        if ctx.four_octet_as {
            return Err(self.optional_error("AS4_PATH from a 4-octet AS speaker"));
        }
        Ok(path)
    }

    fn origin(&self) -> Result<Origin, DecodeError> {
        self.exact_len(1)?;
        match self.value[0] {
            0 => Ok(Origin::Igp),
            1 => Ok(Origin::Egp),
            2 => Ok(Origin::Incomplete),
            _ => Err(DecodeError::InvalidOrigin {
                data: self.whole.to_vec(),
            }),
        }
    }

    fn next_hop(&self) -> Result<Ipv4Addr, DecodeError> {
        let nh = Ipv4Addr::from(self.u32()?);
        if nh.is_unspecified() || nh.is_multicast() || nh.is_broadcast() {
            return Err(DecodeError::InvalidNextHop {
                data: self.whole.to_vec(),
            });
        }
        Ok(nh)
    }

    /// AGGREGATOR (2- or 4-octet AS by the session) or AS4_AGGREGATOR.
    fn aggregator(&self, four_octet: bool) -> Result<(u32, Ipv4Addr), DecodeError> {
        let v = self.value;
        match (v.len(), four_octet) {
            (6, false) => Ok((
                u16::from_be_bytes([v[0], v[1]]) as u32,
                Ipv4Addr::from(u32_of(&v[2..])),
            )),
            (8, true) => Ok((u32_of(v), Ipv4Addr::from(u32_of(&v[4..])))),
            _ => Err(self.length_error()),
        }
    }

    /// A non-empty list of fixed-size units (communities).
    fn units<T>(
        &self,
        size: usize,
        reason: &'static str,
        unit: impl Fn(&[u8]) -> T,
    ) -> Result<Vec<T>, DecodeError> {
        if self.value.is_empty() || self.value.len() % size != 0 {
            return Err(self.optional_error(reason));
        }
        Ok(self.value.chunks_exact(size).map(unit).collect())
    }

    /// MP_REACH_NLRI (RFC 4760 section 3): families we do not handle are
    /// kept without next hops or NLRI.
    fn mp_reach(&self, add_path: AddPathFamilies) -> Result<MpReach, DecodeError> {
        let mut r = Reader::new(self.value);
        let (Some(afi), Some(safi), Some(nh_len)) = (r.u16(), r.u8(), r.u8()) else {
            return Err(self.optional_error("truncated MP_REACH_NLRI"));
        };
        let nh = r
            .take(nh_len as usize)
            .ok_or_else(|| self.optional_error("next hop runs past the attribute"))?;
        r.u8()
            .ok_or_else(|| self.optional_error("truncated MP_REACH_NLRI"))?;
        let mut reach = MpReach {
            afi,
            safi,
            next_hops: Vec::new(),
            nlri: Vec::new(),
            path_ids: Vec::new(),
            unparsed: Vec::new(),
        };
        if Family::from_afi_safi(afi, safi).is_none() {
            reach.unparsed = self.value[3..].to_vec();
        }
        if let Some(family) = Family::from_afi_safi(afi, safi) {
            reach.next_hops = match nh.len() {
                4 if afi == Afi::Ipv4.code() => vec![IpAddr::V4(Ipv4Addr::from(u32_of(nh)))],
                16 | 32 => nh
                    .chunks_exact(16)
                    .map(|c| {
                        let mut o = [0u8; 16];
                        o.copy_from_slice(c);
                        IpAddr::V6(Ipv6Addr::from(o))
                    })
                    .collect(),
                _ => return Err(self.optional_error("bad next hop length")),
            };
            (reach.nlri, reach.path_ids) = decode_nlri(
                r.rest(),
                family == Family::Ipv6Unicast,
                add_path.has(family),
            )
            .map_err(|e| self.optional_error(e))?;
        }
        Ok(reach)
    }

    /// MP_UNREACH_NLRI (RFC 4760 section 4).
    fn mp_unreach(&self, add_path: AddPathFamilies) -> Result<MpUnreach, DecodeError> {
        let mut r = Reader::new(self.value);
        let (Some(afi), Some(safi)) = (r.u16(), r.u8()) else {
            return Err(self.optional_error("truncated MP_UNREACH_NLRI"));
        };
        let ((withdrawn, path_ids), unparsed) = match Family::from_afi_safi(afi, safi) {
            Some(family) => (
                decode_nlri(
                    r.rest(),
                    family == Family::Ipv6Unicast,
                    add_path.has(family),
                )
                .map_err(|e| self.optional_error(e))?,
                Vec::new(),
            ),
            None => ((Vec::new(), Vec::new()), r.rest().to_vec()),
        };
        Ok(MpUnreach {
            afi,
            safi,
            withdrawn,
            path_ids,
            unparsed,
        })
    }
}

impl PathAttributes {
    /// The AS path with any AS4_PATH merged in (RFC 6793).
    pub fn full_as_path(&self) -> Option<AsPath> {
        match (&self.as_path, &self.as4_path) {
            (Some(p), Some(p4)) => Some(p.merge_as4(p4)),
            (p, _) => p.clone(),
        }
    }

    /// Decodes a path attribute list: every malformed attribute is an
    /// error, as RFC 4271 alone has it.
    pub fn decode(buf: &[u8], ctx: DecodeContext) -> Result<PathAttributes, DecodeError> {
        let strict = DecodeContext {
            strict: true,
            ..ctx
        };
        PathAttributes::decode_revised(buf, strict, &mut Vec::new())
    }

    /// Decodes a path attribute list with the error handling of RFC 7606
    /// (unless `ctx.strict`): a malformed attribute that does not need a
    /// session reset is recorded in `errors` with its action, and decoding
    /// goes on. An attribute discarded or treated as withdrawn is left out
    /// of the result. Only what must reset the session is an `Err`.
    pub fn decode_revised(
        buf: &[u8],
        ctx: DecodeContext,
        errors: &mut Vec<AttributeError>,
    ) -> Result<PathAttributes, DecodeError> {
        let mut attrs = PathAttributes::default();
        let mut seen = [0u64; 4];
        let mut r = Reader::new(buf);
        // `rfc6793`: a malformed AS4 attribute's value, which RFC 6793
        // discards whatever the rest of the error handling is.
        let mut report = |action, attribute: Option<u8>, error, rfc6793: bool| {
            if action == ErrorAction::SessionReset || (ctx.strict && !rfc6793) {
                return Err(error);
            }
            errors.push(AttributeError {
                action,
                attribute,
                error,
            });
            Ok(())
        };
        while !r.is_empty() {
            let at = buf.len() - r.remaining();
            let (flags, type_code, value) = match next_attribute(&mut r) {
                Ok(a) => a,
                Err((type_code, reason)) => {
                    // RFC 7606 section 4: the rest of the list cannot be
                    // parsed; the Total Path Attribute Length still locates
                    // the NLRI.
                    let error = DecodeError::MalformedAttributeList(reason);
                    report(ErrorAction::TreatAsWithdraw, type_code, error, false)?;
                    break;
                }
            };
            let whole = &buf[at..buf.len() - r.remaining()];
            let bit = 1u64 << (type_code % 64);
            if seen[(type_code / 64) as usize] & bit != 0 {
                // RFC 7606 section 3 (g): a repeated MP_REACH_NLRI or
                // MP_UNREACH_NLRI resets the session; any other repeat is
                // discarded.
                let nlri =
                    AttrType::from_code(type_code).is_some_and(|t| t.stored() == Stored::Nlri);
                let action = if nlri {
                    ErrorAction::SessionReset
                } else {
                    ErrorAction::AttributeDiscard
                };
                let error = DecodeError::MalformedAttributeList("duplicate attribute");
                report(action, Some(type_code), error, false)?;
                continue;
            }
            seen[(type_code / 64) as usize] |= bit;
            if let Err(error) = attrs.decode_one(flags, type_code, value, whole, ctx) {
                // Not a recognised attribute: RFC 7606 prefers
                // treat-as-withdraw to the session reset of RFC 4271.
                let known = AttrType::from_code(type_code);
                let action = known.map_or(ErrorAction::TreatAsWithdraw, |t| {
                    t.malformed_action(ctx.external)
                });
                let rfc6793 = known.is_some_and(AttrType::discarded_even_when_strict)
                    && !matches!(error, DecodeError::AttributeFlags { .. });
                report(action, Some(type_code), error, rfc6793)?;
            }
        }
        // Attributes are a set keyed by type code (repeats are dropped):
        // keep them in the order they are encoded in.
        attrs.other.sort_by_key(|a| a.type_code);
        Ok(attrs)
    }

    /// Decodes one attribute into its field: its flags are checked first
    /// (RFC 4271 section 6.3), then its value by its own decoder.
    fn decode_one(
        &mut self,
        flags: u8,
        type_code: u8,
        value: &[u8],
        whole: &[u8],
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        let Some(ty) = AttrType::from_code(type_code) else {
            if flags & FLAG_OPTIONAL == 0 {
                return Err(DecodeError::UnrecognizedWellKnown {
                    type_code,
                    data: whole.to_vec(),
                });
            }
            self.keep(flags, type_code, value);
            return Ok(());
        };
        // The Partial bit is for optional transitive attributes only.
        let expected = ty.flags();
        if flags & (FLAG_OPTIONAL | FLAG_TRANSITIVE) != expected
            || (expected != FLAG_OPTIONAL | FLAG_TRANSITIVE && flags & FLAG_PARTIAL != 0)
        {
            return Err(DecodeError::AttributeFlags {
                type_code,
                data: whole.to_vec(),
            });
        }
        let v = Value {
            type_code,
            value,
            whole,
        };
        self.decode_value(flags, ty, &v, ctx)
    }

    /// Decodes the value of a recognised attribute whose flags are right
    /// into its field.
    fn decode_value(
        &mut self,
        flags: u8,
        ty: AttrType,
        v: &Value<'_>,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        let (type_code, value) = (v.type_code, v.value);
        match ty {
            AttrType::Origin => self.origin = Some(v.origin()?),
            AttrType::AsPath => self.as_path = Some(v.as_path(ctx)?),
            AttrType::NextHop => self.next_hop = Some(v.next_hop()?),
            AttrType::Med => self.med = Some(v.u32()?),
            AttrType::LocalPref => self.local_pref = Some(v.u32()?),
            AttrType::AtomicAggregate => {
                v.exact_len(0)?;
                self.atomic_aggregate = true;
            }
            AttrType::Aggregator => self.aggregator = Some(v.aggregator(ctx.four_octet_as)?),
            AttrType::As4Aggregator => {
                let aggregator = v.aggregator(true)?;
                if ctx.four_octet_as {
                    return Err(v.optional_error("AS4_AGGREGATOR from a 4-octet AS speaker"));
                }
                self.as4_aggregator = Some(aggregator)
            }
            AttrType::Communities => {
                self.communities = v.units(4, "length is not a positive multiple of 4", |c| {
                    Community(u32_of(c))
                })?
            }
            AttrType::LargeCommunity => {
                self.large_communities =
                    v.units(12, "length is not a positive multiple of 12", |c| {
                        LargeCommunity {
                            global: u32_of(c),
                            local1: u32_of(&c[4..]),
                            local2: u32_of(&c[8..]),
                        }
                    })?
            }
            AttrType::As4Path => self.as4_path = Some(v.as4_path(ctx)?),
            // Kept as they came once their length is checked (RFC 7606
            // sections 7.9, 7.10, 7.14 and 7.15).
            AttrType::OriginatorId => {
                v.exact_len(4)?;
                self.keep(flags, type_code, value);
            }
            AttrType::ClusterList => {
                v.units(4, "length is not a positive multiple of 4", |_| ())?;
                self.keep(flags, type_code, value);
            }
            AttrType::ExtendedCommunities => {
                v.units(8, "length is not a positive multiple of 8", |_| ())?;
                self.keep(flags, type_code, value);
            }
            AttrType::Ipv6ExtendedCommunities => {
                v.units(20, "length is not a positive multiple of 20", |_| ())?;
                self.keep(flags, type_code, value);
            }
            AttrType::MpReachNlri => self.mp_reach = Some(v.mp_reach(ctx.add_path)?),
            AttrType::MpUnreachNlri => self.mp_unreach = Some(v.mp_unreach(ctx.add_path)?),
        }
        Ok(())
    }

    /// Keeps an attribute as it came.
    fn keep(&mut self, flags: u8, type_code: u8, value: &[u8]) {
        self.other.push(RawAttribute {
            // How the length was encoded is not part of the value.
            flags: flags & !FLAG_EXTENDED,
            type_code,
            value: value.to_vec(),
        });
    }

    /// Encodes the attributes in ascending type order.
    pub fn encode(&self, out: &mut Vec<u8>, ctx: DecodeContext) {
        self.encode_range(out, ctx, 0, 13);
        if let Some(mp) = &self.mp_reach {
            encode_mp_reach(mp, out);
        }
        if let Some(mp) = &self.mp_unreach {
            let at = begin_attr(out, FLAG_OPTIONAL, AttrType::MpUnreachNlri.code());
            out.extend_from_slice(&mp.afi.to_be_bytes());
            out.push(mp.safi);
            out.extend_from_slice(&mp.unparsed);
            encode_nlri(out, &mp.withdrawn, &mp.path_ids);
            end_attr(out, at);
        }
        self.encode_range(out, ctx, 16, 255);
    }

    /// Encodes the attributes whose type code is within `lo..=hi`, except
    /// the multiprotocol ones, in ascending type order: the recognised
    /// ones and those kept as they came, merged.
    pub(crate) fn encode_range(&self, out: &mut Vec<u8>, ctx: DecodeContext, lo: u8, hi: u8) {
        let within = |t: &u8| (lo..=hi).contains(t);
        let mut others: Vec<&RawAttribute> =
            self.other.iter().filter(|a| within(&a.type_code)).collect();
        others.sort_by_key(|a| a.type_code);
        let mut others = others.into_iter().peekable();
        let fields = AttrType::ALL
            .iter()
            .filter(|t| t.stored() == Stored::Field && within(&t.code()));
        for &ty in fields {
            while let Some(a) = others.next_if(|a| a.type_code < ty.code()) {
                a.encode(out);
            }
            self.encode_known(ty, out, ctx);
        }
        for a in others {
            a.encode(out);
        }
    }

    /// Encodes the recognised attribute `ty`, when set.
    fn encode_known(&self, ty: AttrType, out: &mut Vec<u8>, ctx: DecodeContext) {
        let u32s = |out: &mut Vec<u8>, v: &[u32]| {
            for x in v {
                out.extend_from_slice(&x.to_be_bytes());
            }
        };
        match ty {
            AttrType::Origin => attr(out, ty, self.origin, |out, o| {
                out.push(match o {
                    Origin::Igp => 0,
                    Origin::Egp => 1,
                    Origin::Incomplete => 2,
                })
            }),
            AttrType::AsPath => attr(out, ty, self.as_path.as_ref(), |out, p| {
                p.encode_value(out, ctx.four_octet_as)
            }),
            AttrType::NextHop => attr(out, ty, self.next_hop, |out, nh| {
                out.extend_from_slice(&nh.octets())
            }),
            AttrType::Med => attr(out, ty, self.med, |out, v| u32s(out, &[v])),
            AttrType::LocalPref => attr(out, ty, self.local_pref, |out, v| u32s(out, &[v])),
            AttrType::AtomicAggregate => {
                attr(out, ty, self.atomic_aggregate.then_some(()), |_, ()| {})
            }
            AttrType::Aggregator => attr(out, ty, self.aggregator, |out, (asn, addr)| {
                if ctx.four_octet_as {
                    out.extend_from_slice(&asn.to_be_bytes());
                } else {
                    out.extend_from_slice(&u16::try_from(asn).unwrap_or(AS_TRANS).to_be_bytes());
                }
                out.extend_from_slice(&addr.octets());
            }),
            AttrType::Communities => {
                let set = (!self.communities.is_empty()).then_some(&self.communities);
                attr(out, ty, set, |out, c| {
                    for c in c {
                        u32s(out, &[c.0]);
                    }
                })
            }
            AttrType::As4Path => attr(out, ty, self.as4_path.as_ref(), |out, p| {
                p.encode_value(out, true)
            }),
            AttrType::As4Aggregator => attr(out, ty, self.as4_aggregator, |out, (asn, addr)| {
                u32s(out, &[asn]);
                out.extend_from_slice(&addr.octets());
            }),
            AttrType::LargeCommunity => {
                let set = (!self.large_communities.is_empty()).then_some(&self.large_communities);
                attr(out, ty, set, |out, c| {
                    for c in c {
                        u32s(out, &[c.global, c.local1, c.local2]);
                    }
                })
            }
            // Kept with the unrecognised ones, or written by the packer.
            AttrType::OriginatorId
            | AttrType::ClusterList
            | AttrType::ExtendedCommunities
            | AttrType::Ipv6ExtendedCommunities
            | AttrType::MpReachNlri
            | AttrType::MpUnreachNlri => {}
        }
    }
}

/// Writes one attribute when `value` is set: header (with the flags the
/// table gives its type), value, length.
fn attr<T>(out: &mut Vec<u8>, ty: AttrType, value: Option<T>, write: impl FnOnce(&mut Vec<u8>, T)) {
    if let Some(v) = value {
        let at = begin_attr(out, ty.flags(), ty.code());
        write(out, v);
        end_attr(out, at);
    }
}

impl RawAttribute {
    /// Writes the attribute as it came (the length's size chosen anew).
    fn encode(&self, out: &mut Vec<u8>) {
        let at = begin_attr(out, self.flags & !FLAG_EXTENDED, self.type_code);
        out.extend_from_slice(&self.value);
        end_attr(out, at);
    }
}

/// Starts an attribute with a one-octet length placeholder; [`end_attr`]
/// widens it to two octets (setting the Extended Length flag) when needed.
pub(crate) fn begin_attr(out: &mut Vec<u8>, flags: u8, type_code: u8) -> usize {
    let at = out.len();
    out.extend_from_slice(&[flags, type_code, 0]);
    at
}

/// Finishes an attribute begun with [`begin_attr`].
pub(crate) fn end_attr(out: &mut Vec<u8>, at: usize) {
    let len = out.len() - at - 3;
    if len > 255 {
        out[at] |= FLAG_EXTENDED;
        out.insert(at + 3, 0);
        out[at + 2..at + 4].copy_from_slice(&(len as u16).to_be_bytes());
    } else {
        out[at + 2] = len as u8;
    }
}

/// Starts an attribute with the Extended Length flag set and a two-octet
/// length, for values whose size is not known in advance (large NLRI).
pub(crate) fn begin_ext_attr(out: &mut Vec<u8>, flags: u8, type_code: u8) -> LengthField {
    out.extend_from_slice(&[flags | FLAG_EXTENDED, type_code]);
    LengthField::begin(out)
}

/// The AFI for an address family.
/// MP_REACH_NLRI: AFI, SAFI, then next hops, a reserved octet and the
/// prefixes, or what came for a family this crate does not parse.
fn encode_mp_reach(mp: &MpReach, out: &mut Vec<u8>) {
    let at = begin_attr(out, FLAG_OPTIONAL, AttrType::MpReachNlri.code());
    out.extend_from_slice(&mp.afi.to_be_bytes());
    out.push(mp.safi);
    if mp.unparsed.is_empty() {
        let nh_at = out.len();
        out.push(0);
        for nh in &mp.next_hops {
            match nh {
                IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
                IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
            }
        }
        out[nh_at] = (out.len() - nh_at - 1) as u8;
        out.push(0);
        encode_nlri(out, &mp.nlri, &mp.path_ids);
    } else {
        out.extend_from_slice(&mp.unparsed);
    }
    end_attr(out, at);
}

pub(crate) fn afi_of(ipv6: bool) -> u16 {
    if ipv6 {
        Afi::Ipv6.code()
    } else {
        Afi::Ipv4.code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx4() -> DecodeContext {
        DecodeContext::with_four_octet_as(true)
    }

    #[test]
    fn communities_parse_and_show() {
        assert_eq!("65000:100".parse::<Community>(), Ok(Community(0xFDE8_0064)));
        assert_eq!(Community(0xFDE8_0064).to_string(), "65000:100");
        assert_eq!("no-export".parse::<Community>(), Ok(Community::NO_EXPORT));
        assert_eq!(Community::BLACKHOLE.to_string(), "blackhole");
        assert!("65536:1".parse::<Community>().is_err());
        assert!("1:65536".parse::<Community>().is_err());
        assert!("nonsense".parse::<Community>().is_err());
        let lc: LargeCommunity = "4200000000:1:2".parse().unwrap();
        assert_eq!(lc.to_string(), "4200000000:1:2");
        assert!("1:2".parse::<LargeCommunity>().is_err());
        assert!("1:2:4294967296".parse::<LargeCommunity>().is_err());
    }

    #[test]
    fn extended_length_when_long() {
        let attrs = PathAttributes {
            communities: (0..100).map(Community).collect(),
            ..Default::default()
        };
        let mut out = Vec::new();
        attrs.encode(&mut out, ctx4());
        assert_eq!(out[0], FLAG_OPTIONAL | FLAG_TRANSITIVE | FLAG_EXTENDED);
        assert_eq!(u16::from_be_bytes([out[2], out[3]]), 400);
        assert_eq!(PathAttributes::decode(&out, ctx4()).unwrap(), attrs);
    }

    /// Found by the fuzzer: an unknown optional attribute with the Extended
    /// Length flag must re-encode to the same value.
    #[test]
    fn fuzz_unknown_attribute_with_extended_length() {
        let ctx = DecodeContext::default();
        let a = PathAttributes::decode(&[0xff, 48, 0, 0], ctx).unwrap();
        assert_eq!(a.other[0].flags, 0xef);
        let mut out = Vec::new();
        a.encode(&mut out, ctx);
        assert_eq!(PathAttributes::decode(&out, ctx).unwrap(), a);
    }

    /// Found by the fuzzer: unknown attributes out of type order decode to
    /// the value they re-encode to.
    #[test]
    fn fuzz_unknown_attributes_out_of_order() {
        let ctx = DecodeContext::default();
        let a = PathAttributes::decode(&[0xc0, 238, 1, 1, 0xc0, 50, 1, 2], ctx).unwrap();
        let mut out = Vec::new();
        a.encode(&mut out, ctx);
        assert_eq!(out, [0xc0, 50, 1, 2, 0xc0, 238, 1, 1]);
        assert_eq!(PathAttributes::decode(&out, ctx).unwrap(), a);
    }

    #[test]
    fn attribute_errors() {
        let ctx = DecodeContext::default();
        // ORIGIN marked optional: flags error, data is the whole attribute.
        let e = PathAttributes::decode(&[0xc0, 1, 1, 0], ctx).unwrap_err();
        assert_eq!(e.notification().subcode, 4);
        assert_eq!(e.notification().data, vec![0xc0, 1, 1, 0]);
        // ORIGIN of length 2.
        let e = PathAttributes::decode(&[0x40, 1, 2, 0, 0], ctx).unwrap_err();
        assert_eq!(e.notification().subcode, 5);
        // ORIGIN value 3.
        let e = PathAttributes::decode(&[0x40, 1, 1, 3], ctx).unwrap_err();
        assert_eq!(e.notification().subcode, 6);
        // NEXT_HOP 0.0.0.0.
        let e = PathAttributes::decode(&[0x40, 3, 4, 0, 0, 0, 0], ctx).unwrap_err();
        assert_eq!(e.notification().subcode, 8);
        // Unknown well-known attribute.
        let e = PathAttributes::decode(&[0x40, 99, 0], ctx).unwrap_err();
        assert_eq!(e.notification().subcode, 2);
        // Unknown optional attribute is kept.
        let a = PathAttributes::decode(&[0xc0, 99, 1, 7], ctx).unwrap();
        assert_eq!(a.other[0].value, vec![7]);
        // Duplicate.
        let e = PathAttributes::decode(&[0x40, 1, 1, 0, 0x40, 1, 1, 0], ctx).unwrap_err();
        assert_eq!(e.notification().subcode, 1);
        // Truncated.
        let e = PathAttributes::decode(&[0x40, 1, 5, 0], ctx).unwrap_err();
        assert_eq!(e.notification().subcode, 1);
        // Bad AS_PATH segment type.
        let e = PathAttributes::decode(&[0x40, 2, 4, 9, 1, 0, 1], ctx).unwrap_err();
        assert_eq!(e.notification().subcode, 11);
        // Communities of 3 bytes.
        let e = PathAttributes::decode(&[0xc0, 8, 3, 0, 0, 0], ctx).unwrap_err();
        assert_eq!(e.notification().subcode, 9);
        // MP_REACH with a 5-byte IPv6 next hop.
        let e =
            PathAttributes::decode(&[0x80, 14, 10, 0, 2, 1, 5, 0, 0, 0, 0, 0, 0], ctx).unwrap_err();
        assert_eq!(e.notification().subcode, 9);
    }
}

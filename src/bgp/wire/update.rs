//! UPDATE message (RFC 4271 section 4.3) and a packer that fills UPDATEs
//! as tightly as the 4096-octet limit allows.
//!
//! ```text
//! +-----------------------------------------------------+
//! |   Withdrawn Routes Length (2 octets)                |
//! +-----------------------------------------------------+
//! |   Withdrawn Routes (variable)                       |
//! +-----------------------------------------------------+
//! |   Total Path Attribute Length (2 octets)            |
//! +-----------------------------------------------------+
//! |   Path Attributes (variable)                        |
//! +-----------------------------------------------------+
//! |   Network Layer Reachability Information (variable) |
//! +-----------------------------------------------------+
//! ```

use super::nlri::{decode_nlri, encode_nlri, with_ids};
use super::reader::Reader;
use super::{
    begin_message, finish_message, Afi, AttrType, AttributeError, DecodeContext, DecodeError,
    ErrorAction, Family, LengthField, MessageType, PathAttributes, Safi,
};
use ipnet::IpNet;

/// An UPDATE message.
///
/// ```
/// use cue::bgp::wire::{AsPath, DecodeContext, Family, Message, Origin, PathAttributes, UpdateBuilder};
/// let attrs = PathAttributes { origin: Some(Origin::Igp), as_path: Some(AsPath::default()), ..Default::default() };
/// let b = UpdateBuilder::new(&attrs, "10.0.0.1".parse().unwrap(),
///     &["::1".parse().unwrap()], DecodeContext::default());
/// let mut out = Vec::new();
/// b.announce(Family::Ipv4Unicast, &["192.0.2.1/32".parse().unwrap()], &mut out);
/// let Ok(Message::Update(u)) = Message::decode(&out, DecodeContext::default()) else { panic!() };
/// assert_eq!(u.announced().count(), 1);
/// assert_eq!(u.attributes.next_hop, Some("10.0.0.1".parse().unwrap()));
/// assert_eq!(u.end_of_rib(), None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Update {
    /// Withdrawn IPv4 prefixes (classic field).
    pub withdrawn: Vec<IpNet>,
    /// The path identifier of each of `withdrawn` (ADD-PATH, RFC 7911), in
    /// the same order; empty when IPv4 unicast carries none.
    pub withdrawn_path_ids: Vec<u32>,
    /// Path attributes, MP_REACH_NLRI and MP_UNREACH_NLRI included.
    pub attributes: PathAttributes,
    /// Announced IPv4 prefixes (classic field).
    pub nlri: Vec<IpNet>,
    /// The path identifier of each of `nlri` (ADD-PATH), in the same
    /// order; empty when IPv4 unicast carries none.
    pub nlri_path_ids: Vec<u32>,
    /// Malformed parts that RFC 7606 let the UPDATE through with, each with
    /// its action (empty for a well-formed UPDATE; never set when encoding).
    pub errors: Vec<AttributeError>,
}

impl Update {
    pub(crate) fn decode_body(body: &[u8], ctx: DecodeContext) -> Result<Update, DecodeError> {
        let mut r = Reader::new(body);
        let wlen = r.u16().ok_or(DecodeError::MalformedAttributeList(
            "truncated withdrawn routes length",
        ))? as usize;
        let withdrawn = r.take(wlen).ok_or(DecodeError::MalformedAttributeList(
            "withdrawn routes length exceeds the message",
        ))?;
        let alen = r.u16().ok_or(DecodeError::MalformedAttributeList(
            "truncated total path attribute length",
        ))? as usize;
        let attrs = r.take(alen).ok_or(DecodeError::MalformedAttributeList(
            "total path attribute length exceeds the message",
        ))?;
        // Prefixes that cannot be parsed leave nothing to withdraw safely:
        // session reset (RFC 7606 section 5.3).
        let add_path = ctx.add_path.has(Family::Ipv4Unicast);
        let (withdrawn, withdrawn_path_ids) =
            decode_nlri(withdrawn, false, add_path).map_err(DecodeError::InvalidNetworkField)?;
        let mut errors = Vec::new();
        let attributes = PathAttributes::decode_revised(attrs, ctx, &mut errors)?;
        let (nlri, nlri_path_ids) =
            decode_nlri(r.rest(), false, add_path).map_err(DecodeError::InvalidNetworkField)?;
        let mp_nlri = attributes
            .mp_reach
            .as_ref()
            .is_some_and(|m| !m.nlri.is_empty());
        let mut missing = Vec::new();
        if !nlri.is_empty() || mp_nlri {
            missing.extend(
                attributes
                    .origin
                    .is_none()
                    .then_some(AttrType::Origin.code()),
            );
            missing.extend(
                attributes
                    .as_path
                    .is_none()
                    .then_some(AttrType::AsPath.code()),
            );
        }
        if !nlri.is_empty() && attributes.next_hop.is_none() {
            missing.push(AttrType::NextHop.code());
        }
        for type_code in missing {
            let error = DecodeError::MissingWellKnown(type_code);
            if ctx.strict {
                return Err(error);
            }
            // RFC 7606 section 3 (d); an attribute already found malformed
            // has been reported as such.
            if !errors.iter().any(|e| e.attribute == Some(type_code)) {
                errors.push(AttributeError {
                    action: ErrorAction::TreatAsWithdraw,
                    attribute: Some(type_code),
                    error,
                });
            }
        }
        Ok(Update {
            withdrawn,
            withdrawn_path_ids,
            attributes,
            nlri,
            nlri_path_ids,
            errors,
        })
    }

    /// Whether RFC 7606 has this UPDATE's announcements handled as
    /// withdrawals (a malformed attribute that affects route selection).
    /// Its withdrawals, classic and MP_UNREACH_NLRI, stand either way.
    pub fn treat_as_withdraw(&self) -> bool {
        self.errors
            .iter()
            .any(|e| e.action == ErrorAction::TreatAsWithdraw)
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>, ctx: DecodeContext) {
        let start = begin_message(out, MessageType::Update);
        let withdrawn = LengthField::begin(out);
        encode_nlri(out, &self.withdrawn, &self.withdrawn_path_ids);
        withdrawn.finish(out);
        let attributes = LengthField::begin(out);
        self.attributes.encode(out, ctx);
        attributes.finish(out);
        encode_nlri(out, &self.nlri, &self.nlri_path_ids);
        finish_message(out, start);
    }

    /// Every prefix announced, classic and multiprotocol, with its path
    /// identifier where the family carries them (ADD-PATH).
    pub fn announced_paths(&self) -> impl Iterator<Item = (&IpNet, Option<u32>)> {
        let mp = self.attributes.mp_reach.iter();
        with_ids(&self.nlri, &self.nlri_path_ids)
            .chain(mp.flat_map(|m| with_ids(&m.nlri, &m.path_ids)))
    }

    /// Every prefix withdrawn, classic and multiprotocol, with its path
    /// identifier where the family carries them (ADD-PATH).
    pub fn withdrawn_paths(&self) -> impl Iterator<Item = (&IpNet, Option<u32>)> {
        let mp = self.attributes.mp_unreach.iter();
        with_ids(&self.withdrawn, &self.withdrawn_path_ids)
            .chain(mp.flat_map(|m| with_ids(&m.withdrawn, &m.path_ids)))
    }

    /// Every prefix announced, classic and multiprotocol.
    pub fn announced(&self) -> impl Iterator<Item = &IpNet> {
        self.nlri
            .iter()
            .chain(self.attributes.mp_reach.iter().flat_map(|m| m.nlri.iter()))
    }

    /// Every prefix withdrawn, classic and multiprotocol.
    pub fn withdrawn_all(&self) -> impl Iterator<Item = &IpNet> {
        self.withdrawn.iter().chain(
            self.attributes
                .mp_unreach
                .iter()
                .flat_map(|m| m.withdrawn.iter()),
        )
    }

    /// The End-of-RIB marker of `family` (RFC 4724): an empty UPDATE for
    /// IPv4 unicast, an empty MP_UNREACH_NLRI for the others.
    ///
    /// ```
    /// use cue::bgp::wire::{Family, Update};
    /// assert_eq!(Update::end_of_rib_marker(Family::Ipv6Unicast).end_of_rib(), Some((2, 1)));
    /// ```
    pub fn end_of_rib_marker(family: Family) -> Update {
        let (afi, safi) = family.afi_safi();
        if family == Family::Ipv4Unicast {
            return Update::default();
        }
        Update {
            attributes: PathAttributes {
                mp_unreach: Some(super::MpUnreach {
                    afi,
                    safi,
                    withdrawn: vec![],
                    path_ids: vec![],
                    unparsed: vec![],
                }),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    /// Whether this is an End-of-RIB marker (RFC 4724): an empty UPDATE for
    /// IPv4, or one holding only an empty MP_UNREACH_NLRI (one that
    /// withdraws routes of a family this crate does not parse is not).
    ///
    /// ```
    /// use cue::bgp::wire::{parse_hex, DecodeContext, Message};
    /// // A flowspec withdrawal (AFI 1, SAFI 133): routes, not End-of-RIB.
    /// let bytes = parse_hex("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF0025020000000E900F000A0001850601200A000001").unwrap();
    /// let Ok(Message::Update(u)) = Message::decode(&bytes, DecodeContext::default()) else { panic!() };
    /// assert_eq!(u.end_of_rib(), None);
    /// assert_eq!(u.attributes.mp_unreach.unwrap().unparsed.len(), 7);
    /// ```
    pub fn end_of_rib(&self) -> Option<(u16, u8)> {
        let a = &self.attributes;
        if !self.withdrawn.is_empty() || !self.nlri.is_empty() {
            return None;
        }
        if *a == PathAttributes::default() {
            return Some((Afi::Ipv4.code(), Safi::Unicast.code()));
        }
        match &a.mp_unreach {
            Some(m)
                if m.withdrawn.is_empty()
                    && m.unparsed.is_empty()
                    && *a
                        == (PathAttributes {
                            mp_unreach: a.mp_unreach.clone(),
                            ..Default::default()
                        }) =>
            {
                Some((m.afi, m.safi))
            }
            _ => None,
        }
    }
}

/// Octets an UPDATE takes at most for one route (a /128, the longest
/// prefix) whose own attributes are `communities`, `large` and `ext`
/// communities and `asns` AS numbers in its AS_PATH beside ours, plus
/// `other` octets of other attributes; counted with every attribute a
/// session may add (ORIGIN, MP_REACH_NLRI with two IPv6 next hops, MED,
/// LOCAL_PREF, ATOMIC_AGGREGATE, AGGREGATOR). Above [`MAX_MESSAGE_LEN`](super::MAX_MESSAGE_LEN),
/// such a route cannot be sent (extended messages, RFC 8654, are not
/// supported).
///
/// ```
/// use cue::bgp::wire::{route_octets, MAX_MESSAGE_LEN};
/// assert!(route_octets(900, 0, 0, 2, 0) <= MAX_MESSAGE_LEN);
/// assert!(route_octets(2000, 0, 0, 0, 0) > MAX_MESSAGE_LEN);
/// ```
pub fn route_octets(
    communities: usize,
    large: usize,
    ext: usize,
    asns: usize,
    other: usize,
) -> usize {
    // Header and length fields 23, a /128 17, ORIGIN 4, MP_REACH_NLRI 41,
    // MED 7, LOCAL_PREF 7, ATOMIC_AGGREGATE 3, AGGREGATOR 12, an AS_PATH
    // with our AS 10.
    const FIXED: usize = 23 + 17 + 4 + 41 + 7 + 7 + 3 + 12 + 10;
    let list = |n: usize, each: usize| if n == 0 { 0 } else { 4 + n * each };
    FIXED
        + list(communities, 4)
        + list(large, 12)
        + list(ext, 8)
        + 4 * asns
        + 2 * (asns / 255)
        + other
}

#[cfg(test)]
mod tests {
    use super::super::nlri::prefix_wire_len;
    use super::super::{AsPath, Community, Message, MpReach, Origin};
    use super::super::{UpdateBuilder, MAX_MESSAGE_LEN};
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// MP_REACH_NLRI and MP_UNREACH_NLRI of a family not parsed (flowspec)
    /// are kept whole and written back.
    #[test]
    fn routes_of_a_family_not_parsed_are_kept_and_written_back() {
        let marker = "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF";
        let withdraw = format!("{marker}0025020000000E900F000A0001850601200A000001");
        // ORIGIN, AS_PATH and an MP_REACH_NLRI of AFI 1 SAFI 133: no next
        // hop, a reserved octet, one flowspec rule.
        let announce = format!(
            "{marker}002C02000000154001010040020080\
             0E0B00018500000501 18C00002"
        )
        .replace(' ', "");
        for hex in [withdraw, announce] {
            let bytes = super::super::parse_hex(&hex).unwrap();
            let Ok(Message::Update(u)) = Message::decode(&bytes, DecodeContext::default()) else {
                panic!("{hex} did not decode");
            };
            assert_eq!(u.end_of_rib(), None);
            let unparsed = u
                .attributes
                .mp_reach
                .as_ref()
                .map(|m| &m.unparsed)
                .or(u.attributes.mp_unreach.as_ref().map(|m| &m.unparsed))
                .unwrap();
            assert!(!unparsed.is_empty());
            // --trace says so.
            let summary = Message::Update(u.clone()).summary();
            assert!(summary.contains("(not parsed)"), "{summary}");
            // Written back whole (the attribute's length may take one
            // octet where it came in two).
            let again = Message::Update(u.clone()).to_bytes(DecodeContext::default());
            let back = Message::decode(&again, DecodeContext::default());
            assert_eq!(back, Ok(Message::Update(u)));
        }
    }

    fn ctx() -> DecodeContext {
        DecodeContext::with_four_octet_as(true)
    }

    fn attrs() -> PathAttributes {
        PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::default()),
            local_pref: Some(100),
            med: Some(123),
            communities: vec![Community(0xFDE8_0064)],
            ..Default::default()
        }
    }

    /// An IPv4 UPDATE as BIRD receives it from cue-bgp: iBGP, MED 123,
    /// LOCAL_PREF 100, community 65000:100, next hop 127.0.0.1,
    /// NLRI 192.168.101.1/32.
    const V4_UPDATE: &[u8] = &[
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x00, 0x3f, 0x02, // length 63, UPDATE
        0x00, 0x00, // withdrawn length
        0x00, 0x23, // attribute length 35
        0x40, 0x01, 0x01, 0x00, // ORIGIN IGP
        0x40, 0x02, 0x00, // AS_PATH empty
        0x40, 0x03, 0x04, 0x7f, 0x00, 0x00, 0x01, // NEXT_HOP
        0x80, 0x04, 0x04, 0x00, 0x00, 0x00, 0x7b, // MED 123
        0x40, 0x05, 0x04, 0x00, 0x00, 0x00, 0x64, // LOCAL_PREF 100
        0xc0, 0x08, 0x04, 0xfd, 0xe8, 0x00, 0x64, // COMMUNITIES
        0x20, 0xc0, 0xa8, 0x65, 0x01, // 192.168.101.1/32
    ];

    #[test]
    fn attributes_that_leave_no_room_write_nothing() {
        let nets: Vec<IpNet> = [
            "10.0.0.0/24".parse().unwrap(),
            "2001:db8::/48".parse().unwrap(),
        ]
        .into();
        for (n, fits) in [(900u32, true), (1030, false), (2000, false)] {
            let mut a = attrs();
            a.communities = (0..n).map(Community).collect();
            let b = UpdateBuilder::new(&a, Ipv4Addr::LOCALHOST, &[Ipv6Addr::LOCALHOST], ctx());
            for family in [Family::Ipv4Unicast, Family::Ipv6Unicast] {
                assert_eq!(b.fits(family), fits, "{n} communities, {family:?}");
                let mut out = Vec::new();
                let messages = b.announce(family, &nets, &mut out);
                assert_eq!(
                    (messages, out.is_empty()),
                    (usize::from(fits), !fits),
                    "{n}"
                );
                if fits {
                    assert!(out.len() <= MAX_MESSAGE_LEN);
                    assert!(Message::decode(&out, ctx()).is_ok());
                }
            }
            // The bound said beforehand agrees.
            assert_eq!(
                route_octets(n as usize, 0, 0, 0, 0) <= MAX_MESSAGE_LEN,
                fits,
                "{n}"
            );
        }
    }

    #[test]
    fn golden_ipv4_update() {
        let b = UpdateBuilder::new(&attrs(), Ipv4Addr::LOCALHOST, &[], ctx());
        let mut out = Vec::new();
        let net: IpNet = "192.168.101.1/32".parse().unwrap();
        assert_eq!(b.announce(Family::Ipv4Unicast, [&net], &mut out), 1);
        assert_eq!(out, V4_UPDATE);
        let mut expected = attrs();
        expected.next_hop = Some(Ipv4Addr::LOCALHOST);
        let update = Update {
            withdrawn: vec![],
            attributes: expected,
            nlri: vec![net],
            ..Default::default()
        };
        assert_eq!(
            Message::decode(V4_UPDATE, ctx()),
            Ok(Message::Update(update.clone()))
        );
        assert_eq!(Message::Update(update).to_bytes(ctx()), V4_UPDATE);
    }

    #[test]
    fn ipv6_update_round_trip() {
        let b = UpdateBuilder::new(&attrs(), Ipv4Addr::LOCALHOST, &[Ipv6Addr::LOCALHOST], ctx());
        let net: IpNet = "fd0b:2b0b:a7b8:1ee7:c0de:0:c0a8:6500/128".parse().unwrap();
        let mut out = Vec::new();
        b.announce(Family::Ipv6Unicast, [&net], &mut out);
        let Ok(Message::Update(u)) = Message::decode(&out, ctx()) else {
            panic!("did not decode");
        };
        assert_eq!(
            u.attributes.mp_reach,
            Some(MpReach {
                afi: 2,
                safi: 1,
                next_hops: vec![Ipv6Addr::LOCALHOST.into()],
                nlri: vec![net],
                ..Default::default()
            })
        );
        assert_eq!(u.attributes.next_hop, None);
        assert_eq!(u.attributes.med, Some(123));
        assert_eq!(u.announced().count(), 1);
    }

    fn split_and_check(family: Family, nets: &[IpNet], withdraw: bool) {
        let b = UpdateBuilder::new(&attrs(), Ipv4Addr::LOCALHOST, &[Ipv6Addr::LOCALHOST], ctx());
        let mut out = Vec::new();
        let n = if withdraw {
            UpdateBuilder::withdraw(family, nets, &mut out)
        } else {
            b.announce(family, nets, &mut out)
        };
        let mut seen = Vec::new();
        let mut rest = &out[..];
        let mut count = 0;
        while !rest.is_empty() {
            let len = super::super::frame(rest).unwrap().unwrap();
            assert!(len <= MAX_MESSAGE_LEN);
            let Ok(Message::Update(u)) = Message::decode(&rest[..len], ctx()) else {
                panic!("bad message")
            };
            if withdraw {
                seen.extend(u.withdrawn_all().copied());
            } else {
                seen.extend(u.announced().copied());
            }
            rest = &rest[len..];
            count += 1;
            // Every message but the last is full: no room for one more prefix.
            if !rest.is_empty() {
                assert!(len + prefix_wire_len(&nets[0]) > MAX_MESSAGE_LEN, "{len}");
            }
        }
        assert_eq!(count, n);
        assert_eq!(seen, nets);
    }

    #[test]
    fn splits_tightly() {
        let v4: Vec<IpNet> = (0..5000u32)
            .map(|i| IpNet::new(Ipv4Addr::from(0x0a00_0000 + i).into(), 32).unwrap())
            .collect();
        let v6: Vec<IpNet> = (0..5000u128)
            .map(|i| IpNet::new(Ipv6Addr::from(0xfd00_u128 << 112 | i).into(), 128).unwrap())
            .collect();
        split_and_check(Family::Ipv4Unicast, &v4, false);
        split_and_check(Family::Ipv4Unicast, &v4, true);
        split_and_check(Family::Ipv6Unicast, &v6, false);
        split_and_check(Family::Ipv6Unicast, &v6, true);
    }

    fn decode_update(body: &[u8], ctx: DecodeContext) -> Result<Message, DecodeError> {
        let mut m = vec![0xff; 16];
        m.extend_from_slice(&((body.len() + 19) as u16).to_be_bytes());
        m.push(2);
        m.extend_from_slice(body);
        Message::decode(&m, ctx)
    }

    fn strict() -> DecodeContext {
        DecodeContext {
            strict: true,
            ..Default::default()
        }
    }

    #[test]
    fn update_errors() {
        let mk = |body: &[u8]| decode_update(body, strict());
        // Withdrawn length past the end.
        assert_eq!(mk(&[0, 9, 0, 0]).unwrap_err().notification().subcode, 1);
        // Attribute length past the end.
        assert_eq!(mk(&[0, 0, 0, 9]).unwrap_err().notification().subcode, 1);
        // NLRI without attributes: missing ORIGIN.
        let e = mk(&[0, 0, 0, 0, 8, 10]).unwrap_err();
        assert_eq!(e, DecodeError::MissingWellKnown(1));
        assert_eq!(e.notification().data, vec![1]);
        // NLRI with a /33.
        let e = mk(&[0, 0, 0, 0, 33, 1, 2, 3, 4, 5]).unwrap_err();
        assert_eq!(e.notification().subcode, 10);
        // Missing NEXT_HOP.
        let e = mk(&[0, 0, 0, 7, 0x40, 1, 1, 0, 0x40, 2, 0, 8, 10]).unwrap_err();
        assert_eq!(e, DecodeError::MissingWellKnown(3));
        // Empty UPDATE is End-of-RIB for IPv4.
        let Ok(Message::Update(u)) = mk(&[0, 0, 0, 0]) else {
            panic!()
        };
        assert_eq!(u.end_of_rib(), Some((1, 1)));
    }

    /// ORIGIN IGP, empty AS_PATH, NEXT_HOP 10.0.0.1.
    const BASE: [&[u8]; 3] = [&[0x40, 1, 1, 0], &[0x40, 2, 0], &[0x40, 3, 4, 10, 0, 0, 1]];

    /// An UPDATE announcing 192.0.2.0/24 with the attributes of BASE and
    /// `extra` (which replaces the BASE attribute of its type), withdrawing
    /// 198.51.100.0/24.
    fn with_attrs(extra: &[u8], ctx: DecodeContext) -> Result<Message, DecodeError> {
        let mut body = vec![0, 4, 24, 198, 51, 100];
        let attrs: Vec<u8> = BASE
            .iter()
            .filter(|a| extra.get(1) != Some(&a[1]))
            .flat_map(|a| a.iter())
            .chain(extra)
            .copied()
            .collect();
        body.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        body.extend_from_slice(&attrs);
        body.extend_from_slice(&[24, 192, 0, 2]);
        decode_update(&body, ctx)
    }

    /// Every RFC 7606 case: the malformed attribute, what RFC 7606 does and
    /// the NOTIFICATION subcode RFC 4271 alone would send.
    #[test]
    fn rfc7606_actions() {
        use ErrorAction::*;
        let ebgp = DecodeContext {
            external: true,
            ..Default::default()
        };
        let four = DecodeContext::with_four_octet_as(true);
        let ibgp = DecodeContext::default();
        #[rustfmt::skip]
        let cases: &[(&str, &[u8], DecodeContext, ErrorAction, u8)] = &[
            ("ORIGIN value 3", &[0x40, 1, 1, 3], ibgp, TreatAsWithdraw, 6),
            ("MED of 5 octets", &[0x80, 4, 5, 0, 0, 0, 0, 1], ibgp, TreatAsWithdraw, 5),
            ("MED flagged transitive", &[0xc0, 4, 4, 0, 0, 0, 1], ibgp, TreatAsWithdraw, 4),
            ("LOCAL_PREF of 2 octets, iBGP", &[0x40, 5, 2, 0, 1], ibgp, TreatAsWithdraw, 5),
            ("LOCAL_PREF of 2 octets, eBGP", &[0x40, 5, 2, 0, 1], ebgp, AttributeDiscard, 5),
            ("ATOMIC_AGGREGATE of 1 octet", &[0x40, 6, 1, 0], ibgp, AttributeDiscard, 5),
            ("AGGREGATOR of 5 octets", &[0xc0, 7, 5, 0, 1, 10, 0, 0], ibgp, AttributeDiscard, 5),
            ("AGGREGATOR flagged well-known", &[0x40, 7, 6, 0, 1, 10, 0, 0, 1], ibgp, AttributeDiscard, 4),
            ("COMMUNITIES of 3 octets", &[0xc0, 8, 3, 0, 0, 0], ibgp, TreatAsWithdraw, 9),
            ("COMMUNITIES empty", &[0xc0, 8, 0], ibgp, TreatAsWithdraw, 9),
            ("ORIGINATOR_ID of 3 octets", &[0x80, 9, 3, 1, 2, 3], ibgp, TreatAsWithdraw, 5),
            ("CLUSTER_LIST of 6 octets", &[0x80, 10, 6, 1, 2, 3, 4, 5, 6], ibgp, TreatAsWithdraw, 9),
            ("EXTENDED COMMUNITIES of 7 octets", &[0xc0, 16, 7, 0, 2, 0, 1, 0, 0, 0], ibgp, TreatAsWithdraw, 9),
            ("IPv6 EXTENDED COMMUNITIES of 8", &[0xc0, 25, 8, 0, 2, 0, 1, 0, 0, 0, 1], ibgp, TreatAsWithdraw, 9),
            ("LARGE_COMMUNITY of 8 octets", &[0xc0, 32, 8, 0, 0, 0, 1, 0, 0, 0, 2], ibgp, TreatAsWithdraw, 9),
            ("AS4_PATH segment type 9", &[0xc0, 17, 6, 9, 1, 0, 0, 0, 1], ibgp, AttributeDiscard, 9),
            ("AS4_PATH from a 4-octet speaker", &[0xc0, 17, 6, 2, 1, 0, 0, 0, 1], four, AttributeDiscard, 9),
            ("AS4_AGGREGATOR of 6 octets", &[0xc0, 18, 6, 0, 1, 10, 0, 0, 1], ibgp, AttributeDiscard, 5),
            ("unrecognized well-known attribute", &[0x40, 99, 1, 0], ibgp, TreatAsWithdraw, 2),
            ("repeated MED", &[0x80, 4, 4, 0, 0, 0, 1, 0x80, 4, 4, 0, 0, 0, 2], ibgp, AttributeDiscard, 1),
            ("attribute length past the list", &[0xc0, 8, 200, 0, 0], ibgp, TreatAsWithdraw, 1),
            ("truncated attribute header", &[0xc0], ibgp, TreatAsWithdraw, 1),
        ];
        for (what, extra, ctx, action, subcode) in cases {
            let Ok(Message::Update(u)) = with_attrs(extra, *ctx) else {
                panic!("{what}: the session must be kept");
            };
            let e = &u.errors[0];
            assert_eq!(e.action, *action, "{what}");
            assert_eq!(e.error.notification().subcode, *subcode, "{what}");
            assert_eq!(u.treat_as_withdraw(), *action == TreatAsWithdraw, "{what}");
            // The withdrawals of the UPDATE stand whatever happens.
            assert_eq!(
                u.withdrawn,
                vec!["198.51.100.0/24".parse::<IpNet>().unwrap()],
                "{what}"
            );
            // RFC 4271 alone: a NOTIFICATION with that subcode.
            let strict = DecodeContext {
                strict: true,
                ..*ctx
            };
            let r = with_attrs(extra, strict);
            match what {
                // RFC 6793's discard of malformed AS4 attributes is not RFC 7606's.
                w if w.starts_with("AS4") => assert!(r.is_ok(), "{what}"),
                _ => assert_eq!(r.unwrap_err().notification().subcode, *subcode, "{what}"),
            }
        }
        // A repeated MED: the first one is kept.
        let Ok(Message::Update(u)) = with_attrs(cases[19].1, ibgp) else {
            panic!()
        };
        assert_eq!(u.attributes.med, Some(1));
        // A discarded attribute leaves the rest as it came.
        let Ok(Message::Update(u)) = with_attrs(&[0x40, 6, 1, 0, 0x80, 4, 4, 0, 0, 0, 7], ibgp)
        else {
            panic!()
        };
        assert!(!u.attributes.atomic_aggregate);
        assert_eq!(u.attributes.med, Some(7));
        assert!(!u.treat_as_withdraw());
    }

    /// Found by the fuzzer: an attribute list that overruns at an AS4
    /// attribute's header is a list error, not RFC 6793's discard: RFC 4271
    /// alone resets the session for it.
    #[test]
    fn fuzz_overrun_at_an_as4_header_is_not_a_discard() {
        let body = [0, 0, 0, 9, 0x11, 0x12, 0, 0x11, 0x12, 0, 0, 0, 0];
        let ctx = DecodeContext::with_four_octet_as(true);
        let strict = DecodeContext {
            strict: true,
            ..ctx
        };
        assert_eq!(
            decode_update(&body, strict)
                .unwrap_err()
                .notification()
                .subcode,
            1
        );
        let Ok(Message::Update(u)) = decode_update(&body, ctx) else {
            panic!()
        };
        assert_eq!(u.errors[0].action, ErrorAction::TreatAsWithdraw);
    }

    #[test]
    fn rfc7606_session_resets() {
        let ibgp = DecodeContext::default();
        // MP_REACH_NLRI with a 5-octet IPv6 next hop: the NLRI cannot be found.
        let bad_reach = [0x80, 14, 10, 0, 2, 1, 5, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            with_attrs(&bad_reach, ibgp)
                .unwrap_err()
                .notification()
                .subcode,
            9
        );
        // MP_UNREACH_NLRI twice.
        let unreach = [0x80, 15, 3, 0, 2, 1, 0x80, 15, 3, 0, 2, 1];
        assert_eq!(
            with_attrs(&unreach, ibgp)
                .unwrap_err()
                .notification()
                .subcode,
            1
        );
        // NLRI that cannot be parsed.
        let e = decode_update(&[0, 0, 0, 0, 33, 1, 2, 3, 4, 5], ibgp).unwrap_err();
        assert_eq!(e.notification().subcode, 10);
        // Withdrawn routes length past the message.
        assert!(decode_update(&[0, 9, 0, 0], ibgp).is_err());
    }

    #[test]
    fn rfc7606_missing_and_confederation() {
        let ibgp = DecodeContext::default();
        // NLRI without any attribute: treat-as-withdraw, one error per
        // missing well-known attribute.
        let Ok(Message::Update(u)) = decode_update(&[0, 0, 0, 0, 8, 10], ibgp) else {
            panic!()
        };
        let missing: Vec<_> = u.errors.iter().map(|e| e.attribute).collect();
        assert_eq!(missing, vec![Some(1), Some(2), Some(3)]);
        assert!(u.treat_as_withdraw());
        // A malformed ORIGIN is reported once, not again as missing.
        let Ok(Message::Update(u)) = with_attrs(&[0x40, 1, 1, 9], ibgp) else {
            panic!()
        };
        assert_eq!(u.errors.len(), 1);
        // AS_CONFED_SEQUENCE from an external peer.
        let ebgp = DecodeContext {
            external: true,
            ..Default::default()
        };
        let body = [
            0, 0, 0, 18, 0x40, 1, 1, 0, 0x40, 2, 4, 3, 1, 0xfd, 0xe9, 0x40, 3, 4, 10, 0, 0, 1, 24,
            192, 0, 2,
        ];
        let Ok(Message::Update(u)) = decode_update(&body, ebgp) else {
            panic!()
        };
        assert!(u.treat_as_withdraw());
        assert_eq!(u.errors[0].error.notification().subcode, 11);
        let Ok(Message::Update(u)) = decode_update(&body, ibgp) else {
            panic!()
        };
        assert!(
            u.errors.is_empty(),
            "confederation segments are fine inside"
        );
    }

    #[test]
    fn rfc7606_mp_unreach_beats_the_rest() {
        // MP_UNREACH_NLRI withdrawing 2001:db8::/32, then a malformed
        // ORIGIN: the withdrawal is carried out.
        let body = [
            0, 0, 0, 15, 0x80, 15, 8, 0, 2, 1, 32, 0x20, 0x01, 0x0d, 0xb8, 0x40, 1, 1, 9,
        ];
        let Ok(Message::Update(u)) = decode_update(&body, DecodeContext::default()) else {
            panic!()
        };
        assert_eq!(u.withdrawn_all().count(), 1);
        assert_eq!(u.errors.len(), 1);
    }
}

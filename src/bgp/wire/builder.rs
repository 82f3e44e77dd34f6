//! The UPDATE packer: announcements and withdrawals of one family packed
//! into as few UPDATEs as the largest message allows, the path attributes
//! encoded once; prefixes with or without ADD-PATH path identifiers.

use super::attributes::{afi_of, begin_ext_attr};
use super::nlri::{encode_path, encode_prefix, prefix_wire_len};
use super::{
    begin_message, finish_message, AttrType, DecodeContext, Family, LengthField, MessageType,
    PathAttributes, Safi, FLAG_OPTIONAL, MAX_MESSAGE_LEN,
};
use ipnet::IpNet;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Packs announcements and withdrawals into as few UPDATEs as the
/// 4096-octet limit allows, with the path attributes encoded once.
///
/// ```
/// use cue::bgp::wire::{AsPath, DecodeContext, Family, Origin, PathAttributes, UpdateBuilder};
/// use ipnet::IpNet;
/// let routes: Vec<IpNet> = (0..2000u32)
///     .map(|i| IpNet::from(std::net::IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i))))
///     .collect();
/// let attrs = PathAttributes { origin: Some(Origin::Igp), as_path: Some(AsPath::default()), ..Default::default() };
/// let b = UpdateBuilder::new(&attrs, "10.0.0.1".parse().unwrap(),
///     &["::1".parse().unwrap()], DecodeContext::default());
/// let mut out = Vec::new();
/// let messages = b.announce(Family::Ipv4Unicast, &routes, &mut out);
/// assert_eq!(messages, 3, "5 octets a /32, 4096 octets a message");
/// ```
#[derive(Debug, Clone)]
pub struct UpdateBuilder {
    /// All attributes for classic IPv4 NLRI, NEXT_HOP included.
    v4_attrs: Vec<u8>,
    /// Attributes with type codes below MP_REACH_NLRI, without NEXT_HOP.
    mp_head: Vec<u8>,
    /// Attributes with type codes above MP_UNREACH_NLRI.
    mp_tail: Vec<u8>,
    /// The IPv6 next hop field: a global address, or global plus link-local.
    v6_next_hop: Vec<u8>,
    /// The largest UPDATE: 4,096 octets, or 65,535 with extended messages.
    max_len: usize,
    /// IPv4 routes go in MP_REACH_NLRI with the IPv6 next hop (RFC 8950).
    ipv4_via_ipv6: bool,
}

impl UpdateBuilder {
    /// A packer for routes carrying `attrs` (its NEXT_HOP and multiprotocol
    /// fields are ignored), with the given next hops. `next_hop6` holds one
    /// global address, optionally followed by a link-local one.
    pub fn new(
        attrs: &PathAttributes,
        next_hop4: Ipv4Addr,
        next_hop6: &[Ipv6Addr],
        ctx: DecodeContext,
    ) -> UpdateBuilder {
        let mut a = attrs.clone();
        a.mp_reach = None;
        a.mp_unreach = None;
        a.next_hop = Some(next_hop4);
        let mut v4_attrs = Vec::new();
        a.encode(&mut v4_attrs, ctx);
        a.next_hop = None;
        let mut mp_head = Vec::new();
        a.encode_range(&mut mp_head, ctx, 0, AttrType::MpReachNlri.code() - 1);
        let mut mp_tail = Vec::new();
        a.encode_range(&mut mp_tail, ctx, AttrType::MpUnreachNlri.code() + 1, 255);
        let v6_next_hop = next_hop6.iter().take(2).flat_map(|a| a.octets()).collect();
        UpdateBuilder {
            v4_attrs,
            mp_head,
            mp_tail,
            v6_next_hop,
            max_len: ctx.max_message_len(),
            ipv4_via_ipv6: false,
        }
    }

    /// Sends IPv4 routes in MP_REACH_NLRI (AFI 1) with the IPv6 next hop,
    /// as extended next hop encoding (RFC 8950) has it, where the peer
    /// agreed to it.
    ///
    /// ```
    /// use cue::bgp::wire::{DecodeContext, Family, Message, PathAttributes, UpdateBuilder};
    /// let b = UpdateBuilder::new(&PathAttributes::default(), "10.0.0.1".parse().unwrap(),
    ///     &["2001:db8::1".parse().unwrap()], DecodeContext::default()).with_ipv4_via_ipv6(true);
    /// let mut out = Vec::new();
    /// b.announce(Family::Ipv4Unicast, &["192.0.2.10/32".parse().unwrap()], &mut out);
    /// let Ok(Message::Update(u)) = Message::decode(&out, DecodeContext::default()) else { panic!() };
    /// let mp = u.attributes.mp_reach.unwrap();
    /// assert_eq!((mp.afi, mp.next_hops[0]), (1, "2001:db8::1".parse().unwrap()));
    /// assert!(u.nlri.is_empty() && u.attributes.next_hop.is_none());
    /// ```
    pub fn with_ipv4_via_ipv6(mut self, on: bool) -> UpdateBuilder {
        self.ipv4_via_ipv6 = on;
        self
    }

    /// Whether routes of `family` go in MP_REACH_NLRI.
    fn multiprotocol(&self, family: Family) -> bool {
        family == Family::Ipv6Unicast || self.ipv4_via_ipv6
    }

    /// Octets the path attributes of an UPDATE of `family` take, its
    /// header and length fields included: beyond the largest UPDATE
    /// ([`MAX_MESSAGE_LEN`], or 65,535 octets with extended messages) less
    /// a prefix, no route with them can be sent.
    pub fn overhead(&self, family: Family) -> usize {
        let fixed = super::HEADER_LEN + 4;
        if self.multiprotocol(family) {
            fixed + self.mp_head.len() + 4 + 4 + self.v6_next_hop.len() + 1 + self.mp_tail.len()
        } else {
            fixed + self.v4_attrs.len()
        }
    }

    /// Whether a route of `family` with these attributes fits an UPDATE
    /// (with a /32 or /128, the longest prefix).
    pub fn fits(&self, family: Family) -> bool {
        let longest = if family == Family::Ipv6Unicast { 17 } else { 5 };
        self.overhead(family) + longest <= self.max_len
    }

    /// Appends UPDATEs announcing `prefixes` of `family` (others are
    /// skipped) to `out`. Returns how many messages were written. Routes
    /// whose attributes leave no room for them in an UPDATE (see
    /// [`fits`](Self::fits)) are not written: the caller says so.
    pub fn announce<'a>(
        &self,
        family: Family,
        prefixes: impl IntoIterator<Item = &'a IpNet>,
        out: &mut Vec<u8>,
    ) -> usize {
        self.announce_items(family, prefixes, out)
    }

    /// Appends UPDATEs announcing `paths` of `family` (others are skipped)
    /// as [`announce`](Self::announce) does, each prefix preceded by its
    /// path identifier where it has one (ADD-PATH, RFC 7911: to a peer
    /// that negotiated receiving them, every route of the family has one).
    ///
    /// ```
    /// use cue::bgp::wire::{AddPathFamilies, DecodeContext, Family, Message, PathAttributes, UpdateBuilder};
    /// let b = UpdateBuilder::new(&PathAttributes::default(), "10.0.0.1".parse().unwrap(),
    ///     &[], DecodeContext::default());
    /// let net = "192.0.2.0/24".parse().unwrap();
    /// let mut out = Vec::new();
    /// b.announce_paths(Family::Ipv4Unicast, [(&net, Some(1)), (&net, Some(2))], &mut out);
    /// let ctx = DecodeContext { add_path: AddPathFamilies::of(&[Family::Ipv4Unicast]), ..Default::default() };
    /// let Ok(Message::Update(u)) = Message::decode(&out, ctx) else { panic!() };
    /// assert_eq!((u.nlri.len(), u.nlri_path_ids), (2, vec![1, 2]));
    /// ```
    pub fn announce_paths<'a>(
        &self,
        family: Family,
        paths: impl IntoIterator<Item = (&'a IpNet, Option<u32>)>,
        out: &mut Vec<u8>,
    ) -> usize {
        self.announce_items(family, paths, out)
    }

    /// [`announce`](Self::announce) for prefixes with or without path
    /// identifiers: one copy of the code each (no cost for the plain ones).
    fn announce_items<T: Nlri>(
        &self,
        family: Family,
        items: impl IntoIterator<Item = T>,
        out: &mut Vec<u8>,
    ) -> usize {
        let ipv6 = family == Family::Ipv6Unicast;
        let mut it = items
            .into_iter()
            .filter(|r| r.net().addr().is_ipv6() == ipv6)
            .peekable();
        let len = |r: &T| r.wire_len();
        let mut messages = 0;
        while it.peek().is_some() {
            let start = begin_message(out, MessageType::Update);
            out.extend_from_slice(&[0, 0]); // no withdrawn routes
            let attributes = LengthField::begin(out);
            if self.multiprotocol(family) {
                out.extend_from_slice(&self.mp_head);
                let at = begin_ext_attr(out, FLAG_OPTIONAL, AttrType::MpReachNlri.code());
                out.extend_from_slice(&afi_of(ipv6).to_be_bytes());
                out.push(Safi::Unicast.code());
                out.push(self.v6_next_hop.len() as u8);
                out.extend_from_slice(&self.v6_next_hop);
                out.push(0);
                let limit = self.max_len - self.mp_tail.len();
                while let Some(r) = it.next_if(|r| out.len() - start + len(r) <= limit) {
                    r.encode(out);
                }
                at.finish(out);
                out.extend_from_slice(&self.mp_tail);
                attributes.finish(out);
            } else {
                out.extend_from_slice(&self.v4_attrs);
                attributes.finish(out);
                while let Some(r) = it.next_if(|r| out.len() - start + len(r) <= self.max_len) {
                    r.encode(out);
                }
            }
            if out.len() - start == self.overhead(family) {
                // Not one prefix fitted: none ever will with these
                // attributes. Nothing is written for them.
                out.truncate(start);
                break;
            }
            finish_message(out, start);
            messages += 1;
        }
        messages
    }

    /// Appends UPDATEs withdrawing `prefixes` of `family` (others are
    /// skipped) to `out`. Returns how many messages were written.
    pub fn withdraw<'a>(
        family: Family,
        prefixes: impl IntoIterator<Item = &'a IpNet>,
        out: &mut Vec<u8>,
    ) -> usize {
        Self::withdraw_items(family, prefixes, out)
    }

    /// Appends UPDATEs withdrawing `paths` of `family` as
    /// [`withdraw`](Self::withdraw) does, each prefix preceded by its path
    /// identifier where it has one (ADD-PATH).
    pub fn withdraw_paths<'a>(
        family: Family,
        paths: impl IntoIterator<Item = (&'a IpNet, Option<u32>)>,
        out: &mut Vec<u8>,
    ) -> usize {
        Self::withdraw_items(family, paths, out)
    }

    fn withdraw_items<T: Nlri>(
        family: Family,
        items: impl IntoIterator<Item = T>,
        out: &mut Vec<u8>,
    ) -> usize {
        let ipv6 = family == Family::Ipv6Unicast;
        let mut it = items
            .into_iter()
            .filter(|r| r.net().addr().is_ipv6() == ipv6)
            .peekable();
        let len = |r: &T| r.wire_len();
        let mut messages = 0;
        while it.peek().is_some() {
            let start = begin_message(out, MessageType::Update);
            if ipv6 {
                out.extend_from_slice(&[0, 0]); // no classic withdrawn routes
                let attributes = LengthField::begin(out);
                let at = begin_ext_attr(out, FLAG_OPTIONAL, AttrType::MpUnreachNlri.code());
                out.extend_from_slice(&afi_of(true).to_be_bytes());
                out.push(Safi::Unicast.code());
                while let Some(r) = it.next_if(|r| out.len() - start + len(r) <= MAX_MESSAGE_LEN) {
                    r.encode(out);
                }
                at.finish(out);
                attributes.finish(out);
            } else {
                let withdrawn = LengthField::begin(out);
                // Leave room for the two-octet total attribute length.
                while let Some(r) =
                    it.next_if(|r| out.len() - start + len(r) + 2 <= MAX_MESSAGE_LEN)
                {
                    r.encode(out);
                }
                withdrawn.finish(out);
                out.extend_from_slice(&[0, 0]); // no path attributes
            }
            finish_message(out, start);
            messages += 1;
        }
        messages
    }
}

/// A prefix as the packer writes it: alone, or with its path identifier.
trait Nlri {
    fn net(&self) -> &IpNet;
    fn wire_len(&self) -> usize;
    fn encode(&self, out: &mut Vec<u8>);
}

impl Nlri for &IpNet {
    #[inline]
    fn net(&self) -> &IpNet {
        self
    }
    #[inline]
    fn wire_len(&self) -> usize {
        prefix_wire_len(self)
    }
    #[inline]
    fn encode(&self, out: &mut Vec<u8>) {
        encode_prefix(out, self)
    }
}

impl Nlri for (&IpNet, Option<u32>) {
    #[inline]
    fn net(&self) -> &IpNet {
        self.0
    }
    #[inline]
    fn wire_len(&self) -> usize {
        prefix_wire_len(self.0) + 4 * self.1.is_some() as usize
    }
    #[inline]
    fn encode(&self, out: &mut Vec<u8>) {
        encode_path(out, self.0, self.1)
    }
}

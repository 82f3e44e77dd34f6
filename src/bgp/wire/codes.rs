//! The code points of BGP this crate knows, in one place: message types,
//! path attribute types (with the flags each must carry and what RFC 7606
//! does when one is malformed), capability codes, AFI and SAFI values and
//! NOTIFICATION error codes (their subcodes are in the notification
//! module, typed the same way). Each is an enum made from one table of
//! value, variant and name, so the value, the name and (for attributes) the
//! rules cannot drift apart.
//!
//! ```
//! use cue::bgp::wire::{AttrType, CapabilityCode, MessageType};
//! assert_eq!(MessageType::from_code(2), Some(MessageType::Update));
//! assert_eq!(AttrType::LocalPref.code(), 5);
//! assert_eq!(AttrType::from_code(32).unwrap().name(), "LARGE_COMMUNITY");
//! assert_eq!(CapabilityCode::from_code(75).unwrap().name(), "software-version");
//! assert_eq!(CapabilityCode::from_code(200), None);
//! ```

use super::ErrorAction;
use std::fmt;

/// Attribute flag: optional.
pub const FLAG_OPTIONAL: u8 = 0x80;
/// Attribute flag: transitive.
pub const FLAG_TRANSITIVE: u8 = 0x40;
/// Attribute flag: partial.
pub const FLAG_PARTIAL: u8 = 0x20;
/// Attribute flag: extended (2-octet) length.
pub const FLAG_EXTENDED: u8 = 0x10;

/// Defines a code point enum from one table of value, variant and name:
/// the enum, its conversions, its list and its names.
macro_rules! code_points {
    ($(#[$meta:meta])* $name:ident: $repr:ident {
        $($(#[$vmeta:meta])* $var:ident = $val:literal => $text:literal,)*
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        #[repr($repr)]
        pub enum $name {
            $($(#[$vmeta])* $var = $val,)*
        }

        impl $name {
            /// Every value this crate names, in ascending order.
            pub const ALL: &'static [$name] = &[$(Self::$var,)*];

            /// The code point of a wire value; `None` for one this crate
            /// does not name.
            pub fn from_code(code: $repr) -> Option<Self> {
                match code {
                    $($val => Some(Self::$var),)*
                    _ => None,
                }
            }

            /// The wire value.
            pub fn code(self) -> $repr {
                self as $repr
            }

            /// The name shown for it.
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$var => $text,)*
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

code_points! {
    /// BGP message types (RFC 4271 section 4.1, RFC 2918).
    MessageType: u8 {
        /// 1.
        Open = 1 => "OPEN",
        /// 2.
        Update = 2 => "UPDATE",
        /// 3.
        Notification = 3 => "NOTIFICATION",
        /// 4.
        Keepalive = 4 => "KEEPALIVE",
        /// 5 (RFC 2918).
        RouteRefresh = 5 => "ROUTE-REFRESH",
    }
}

impl MessageType {
    /// Whether a message of this type may be `len` octets long (header
    /// included), before the session's largest size is applied.
    pub(crate) fn length_fits(self, len: u16) -> bool {
        match self {
            Self::Open => len >= 29,
            Self::Update => len >= 23,
            Self::Notification => len >= 21,
            Self::Keepalive => len == 19,
            Self::RouteRefresh => len == 23,
        }
    }

    /// Whether the type stays within 4,096 octets even with extended
    /// messages (RFC 8654 section 4).
    pub(crate) fn never_extended(self) -> bool {
        matches!(self, Self::Open | Self::Keepalive)
    }
}

/// What RFC 7606 (section 7) does with an attribute whose value is
/// malformed, as a column of the attribute table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Malformed {
    /// The NLRI cannot be located reliably: session reset.
    Reset,
    /// The attribute does not affect route selection: discarded.
    Discard,
    /// As `Discard`, and RFC 6793 section 6 discards it even where
    /// RFC 4271 alone is followed (the AS4 attributes).
    DiscardAs4,
    /// Discarded from an external peer, which it is ignored from in any
    /// case (RFC 4271 5.1.5); treat-as-withdraw from an internal one.
    DiscardFromExternal,
    /// The routes are withdrawn.
    Withdraw,
}

/// Where a recognised attribute goes once decoded, as a column of the
/// attribute table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stored {
    /// Decoded into a field of its own, and written from it.
    Field,
    /// Its length checked, then kept as it came with the unrecognised ones.
    Checked,
    /// The multiprotocol NLRI: decoded into a field, written by the
    /// message's packer around the other attributes.
    Nlri,
}

const WELL_KNOWN: u8 = FLAG_TRANSITIVE;
const OPTIONAL: u8 = FLAG_OPTIONAL;
const OPTIONAL_TRANSITIVE: u8 = FLAG_OPTIONAL | FLAG_TRANSITIVE;

/// The attribute table: one row per recognised type with its value,
/// variant, name, required flags, RFC 7606 action and storage.
macro_rules! attribute_table {
    ($($(#[$vmeta:meta])* $var:ident = $val:literal => $text:literal,
        $flags:ident, $malformed:ident, $stored:ident;)*) => {
        code_points! {
            /// The path attribute types this crate recognises (RFC 4271
            /// section 5, RFC 1997, RFC 4360, RFC 4456, RFC 4760, RFC 5701,
            /// RFC 6793, RFC 8092). Others are kept as they came
            /// ([`RawAttribute`](super::RawAttribute)).
            AttrType: u8 {
                $($(#[$vmeta])* $var = $val => $text,)*
            }
        }

        impl AttrType {
            /// The row of the table: flags, malformed action, storage.
            fn row(self) -> (u8, Malformed, Stored) {
                match self {
                    $(Self::$var => ($flags, Malformed::$malformed, Stored::$stored),)*
                }
            }
        }
    };
}

attribute_table! {
    /// ORIGIN.
    Origin = 1 => "ORIGIN", WELL_KNOWN, Withdraw, Field;
    /// AS_PATH.
    AsPath = 2 => "AS_PATH", WELL_KNOWN, Withdraw, Field;
    /// NEXT_HOP.
    NextHop = 3 => "NEXT_HOP", WELL_KNOWN, Withdraw, Field;
    /// MULTI_EXIT_DISC.
    Med = 4 => "MULTI_EXIT_DISC", OPTIONAL, Withdraw, Field;
    /// LOCAL_PREF.
    LocalPref = 5 => "LOCAL_PREF", WELL_KNOWN, DiscardFromExternal, Field;
    /// ATOMIC_AGGREGATE.
    AtomicAggregate = 6 => "ATOMIC_AGGREGATE", WELL_KNOWN, Discard, Field;
    /// AGGREGATOR.
    Aggregator = 7 => "AGGREGATOR", OPTIONAL_TRANSITIVE, Discard, Field;
    /// COMMUNITIES (RFC 1997).
    Communities = 8 => "COMMUNITIES", OPTIONAL_TRANSITIVE, Withdraw, Field;
    /// ORIGINATOR_ID (RFC 4456).
    OriginatorId = 9 => "ORIGINATOR_ID", OPTIONAL, Withdraw, Checked;
    /// CLUSTER_LIST (RFC 4456).
    ClusterList = 10 => "CLUSTER_LIST", OPTIONAL, Withdraw, Checked;
    /// MP_REACH_NLRI (RFC 4760).
    MpReachNlri = 14 => "MP_REACH_NLRI", OPTIONAL, Reset, Nlri;
    /// MP_UNREACH_NLRI (RFC 4760).
    MpUnreachNlri = 15 => "MP_UNREACH_NLRI", OPTIONAL, Reset, Nlri;
    /// EXTENDED COMMUNITIES (RFC 4360).
    ExtendedCommunities = 16 => "EXTENDED_COMMUNITIES", OPTIONAL_TRANSITIVE, Withdraw, Checked;
    /// AS4_PATH (RFC 6793).
    As4Path = 17 => "AS4_PATH", OPTIONAL_TRANSITIVE, DiscardAs4, Field;
    /// AS4_AGGREGATOR (RFC 6793).
    As4Aggregator = 18 => "AS4_AGGREGATOR", OPTIONAL_TRANSITIVE, DiscardAs4, Field;
    /// IPv6 Address Specific Extended Community (RFC 5701).
    Ipv6ExtendedCommunities = 25 => "IPV6_EXTENDED_COMMUNITIES", OPTIONAL_TRANSITIVE, Withdraw, Checked;
    /// LARGE_COMMUNITY (RFC 8092).
    LargeCommunity = 32 => "LARGE_COMMUNITY", OPTIONAL_TRANSITIVE, Withdraw, Field;
}

impl AttrType {
    /// The optional and transitive flags the attribute must carry (RFC
    /// 4271 section 5; the Partial bit is allowed on optional transitive
    /// ones only).
    ///
    /// ```
    /// use cue::bgp::wire::{AttrType, FLAG_OPTIONAL, FLAG_TRANSITIVE};
    /// assert_eq!(AttrType::Origin.flags(), FLAG_TRANSITIVE);
    /// assert_eq!(AttrType::Communities.flags(), FLAG_OPTIONAL | FLAG_TRANSITIVE);
    /// ```
    pub fn flags(self) -> u8 {
        self.row().0
    }

    /// What RFC 7606 (section 7; RFC 6793 section 6 for the AS4
    /// attributes) does when the attribute is malformed, from a peer in
    /// another AS (`external`) or the same one.
    ///
    /// ```
    /// use cue::bgp::wire::{AttrType, ErrorAction};
    /// assert_eq!(AttrType::MpReachNlri.malformed_action(true), ErrorAction::SessionReset);
    /// assert_eq!(AttrType::LocalPref.malformed_action(true), ErrorAction::AttributeDiscard);
    /// assert_eq!(AttrType::LocalPref.malformed_action(false), ErrorAction::TreatAsWithdraw);
    /// ```
    pub fn malformed_action(self, external: bool) -> ErrorAction {
        match self.row().1 {
            Malformed::Reset => ErrorAction::SessionReset,
            Malformed::Discard | Malformed::DiscardAs4 => ErrorAction::AttributeDiscard,
            Malformed::DiscardFromExternal if external => ErrorAction::AttributeDiscard,
            Malformed::DiscardFromExternal | Malformed::Withdraw => ErrorAction::TreatAsWithdraw,
        }
    }

    /// Whether a malformed value is discarded even where RFC 4271 alone is
    /// followed (RFC 6793 section 6: AS4_PATH, AS4_AGGREGATOR).
    pub(crate) fn discarded_even_when_strict(self) -> bool {
        self.row().1 == Malformed::DiscardAs4
    }

    /// Where the attribute goes once decoded.
    pub(crate) fn stored(self) -> Stored {
        self.row().2
    }
}

/// The name of an attribute type: its RFC name, or the number.
///
/// ```
/// assert_eq!(cue::bgp::wire::attribute_name(4), "MULTI_EXIT_DISC");
/// assert_eq!(cue::bgp::wire::attribute_name(99), "attribute 99");
/// ```
pub fn attribute_name(code: u8) -> std::borrow::Cow<'static, str> {
    match AttrType::from_code(code) {
        Some(t) => t.name().into(),
        None => format!("attribute {code}").into(),
    }
}

code_points! {
    /// Capability codes (RFC 5492; the IANA registry's assigned values).
    /// The ones this crate decodes have a variant of
    /// [`Capability`](super::Capability); the others are shown by name.
    CapabilityCode: u8 {
        /// 1 (RFC 4760).
        Multiprotocol = 1 => "multiprotocol",
        /// 2 (RFC 2918).
        RouteRefresh = 2 => "route-refresh",
        /// 3 (RFC 5291).
        OutboundRouteFiltering = 3 => "outbound-route-filtering",
        /// 4 (deprecated, RFC 8277).
        MultipleRoutes = 4 => "multiple-routes",
        /// 5 (RFC 8950).
        ExtendedNextHop = 5 => "extended-next-hop",
        /// 6 (RFC 8654).
        ExtendedMessage = 6 => "extended-message",
        /// 7 (RFC 8205).
        Bgpsec = 7 => "bgpsec",
        /// 8 (RFC 8277).
        MultipleLabels = 8 => "multiple-labels",
        /// 9 (RFC 9234).
        Role = 9 => "bgp-role",
        /// 64 (RFC 4724).
        GracefulRestart = 64 => "graceful-restart",
        /// 65 (RFC 6793).
        FourOctetAs = 65 => "4-octet-as",
        /// 67 (draft-ietf-idr-dynamic-cap).
        Dynamic = 67 => "dynamic-capability",
        /// 68 (draft-ietf-idr-bgp-multisession).
        Multisession = 68 => "multisession",
        /// 69 (RFC 7911).
        AddPath = 69 => "add-path",
        /// 70 (RFC 7313).
        EnhancedRouteRefresh = 70 => "enhanced-route-refresh",
        /// 71 (RFC 9494).
        LongLivedGracefulRestart = 71 => "long-lived-graceful-restart",
        /// 72 (draft-ietf-idr-rpd).
        RoutingPolicyDistribution = 72 => "routing-policy-distribution",
        /// 73 (draft-walton-bgp-hostname-capability).
        Fqdn = 73 => "fqdn",
        /// 74 (draft-ietf-idr-bgp-bfd-strict-mode).
        Bfd = 74 => "bfd",
        /// 75 (draft-abraitis-bgp-version-capability).
        SoftwareVersion = 75 => "software-version",
        /// 76 (draft-abraitis-idr-addpath-paths-limit).
        PathsLimit = 76 => "paths-limit",
        /// 77 (draft-ietf-idr-linklocal-capability).
        LinkLocalNextHop = 77 => "link-local-next-hop",
        /// 128 (pre-standard route refresh, RFC 8810).
        PrestandardRouteRefresh = 128 => "route-refresh-old",
    }
}

/// The name of a capability code: the registry's, or `unknown`.
///
/// ```
/// assert_eq!(cue::bgp::wire::capability_name(77), "link-local-next-hop");
/// assert_eq!(cue::bgp::wire::capability_name(240), "unknown");
/// ```
pub fn capability_name(code: u8) -> &'static str {
    CapabilityCode::from_code(code).map_or("unknown", CapabilityCode::name)
}

code_points! {
    /// Address family identifiers (IANA "Address Family Numbers"), the
    /// ones met in BGP.
    Afi: u16 {
        /// 1.
        Ipv4 = 1 => "ipv4",
        /// 2.
        Ipv6 = 2 => "ipv6",
        /// 25 (RFC 4761).
        L2vpn = 25 => "l2vpn",
        /// 16388 (RFC 7752).
        BgpLs = 16388 => "bgp-ls",
    }
}

code_points! {
    /// Subsequent address family identifiers (IANA "SAFI Values"), the
    /// ones met in BGP. This crate parses the routes of unicast; the
    /// others are kept as bytes.
    Safi: u8 {
        /// 1.
        Unicast = 1 => "unicast",
        /// 2.
        Multicast = 2 => "multicast",
        /// 4 (RFC 8277).
        LabeledUnicast = 4 => "labeled-unicast",
        /// 5 (RFC 6514).
        MulticastVpn = 5 => "mcast-vpn",
        /// 65 (RFC 4761).
        Vpls = 65 => "vpls",
        /// 70 (RFC 7432).
        Evpn = 70 => "evpn",
        /// 71 (RFC 7752).
        BgpLs = 71 => "bgp-ls",
        /// 72 (RFC 7752).
        BgpLsVpn = 72 => "bgp-ls-vpn",
        /// 73 (RFC 9830).
        SrTePolicy = 73 => "sr-te-policy",
        /// 128 (RFC 4364).
        MplsVpn = 128 => "vpn",
        /// 129 (RFC 6513).
        MulticastMplsVpn = 129 => "multicast-vpn",
        /// 132 (RFC 4684).
        RouteTarget = 132 => "rtc",
        /// 133 (RFC 8955).
        Flowspec = 133 => "flowspec",
        /// 134 (RFC 8955).
        FlowspecVpn = 134 => "flowspec-vpn",
    }
}

/// The name of an AFI/SAFI pair: `ipv4-unicast`, `ipv4-flowspec`, or the
/// numbers where either is not named.
///
/// ```
/// use cue::bgp::wire::family_name;
/// assert_eq!(family_name(2, 1), "ipv6-unicast");
/// assert_eq!(family_name(1, 133), "ipv4-flowspec");
/// assert_eq!(family_name(3, 1), "afi 3 safi 1");
/// ```
pub fn family_name(afi: u16, safi: u8) -> String {
    match (Afi::from_code(afi), Safi::from_code(safi)) {
        (Some(a), Some(s)) => format!("{a}-{s}"),
        _ => format!("afi {afi} safi {safi}"),
    }
}

code_points! {
    /// NOTIFICATION error codes (RFC 4271 section 4.5, RFC 7313). With
    /// their subcodes they make a
    /// [`NotificationKind`](super::NotificationKind).
    ErrorCode: u8 {
        /// 1.
        MessageHeader = 1 => "Message Header Error",
        /// 2.
        Open = 2 => "OPEN Message Error",
        /// 3.
        Update = 3 => "UPDATE Message Error",
        /// 4.
        HoldTimerExpired = 4 => "Hold Timer Expired",
        /// 5.
        Fsm = 5 => "Finite State Machine Error",
        /// 6.
        Cease = 6 => "Cease",
        /// 7 (RFC 7313).
        RouteRefresh = 7 => "ROUTE-REFRESH Message Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every table: each value maps back to its variant, names are unique,
    /// and the list is in ascending order.
    #[test]
    fn every_code_point_round_trips() {
        fn check<T: Copy + PartialEq + std::fmt::Debug, R: Copy + PartialOrd>(
            all: &[T],
            code: impl Fn(T) -> R,
            from: impl Fn(R) -> Option<T>,
            name: impl Fn(T) -> &'static str,
        ) {
            for (i, &t) in all.iter().enumerate() {
                assert_eq!(from(code(t)), Some(t));
                assert!(all[i + 1..].iter().all(|&u| name(u) != name(t)));
                if i > 0 {
                    assert!(code(all[i - 1]) < code(t), "{t:?} out of order");
                }
            }
        }
        check(
            MessageType::ALL,
            MessageType::code,
            MessageType::from_code,
            MessageType::name,
        );
        check(
            AttrType::ALL,
            AttrType::code,
            AttrType::from_code,
            AttrType::name,
        );
        check(
            CapabilityCode::ALL,
            CapabilityCode::code,
            CapabilityCode::from_code,
            CapabilityCode::name,
        );
        check(Afi::ALL, Afi::code, Afi::from_code, Afi::name);
        check(Safi::ALL, Safi::code, Safi::from_code, Safi::name);
        check(
            ErrorCode::ALL,
            ErrorCode::code,
            ErrorCode::from_code,
            ErrorCode::name,
        );
        let named = (0..=u8::MAX).filter_map(AttrType::from_code).count();
        assert_eq!(named, AttrType::ALL.len());
    }

    /// The attribute table against RFC 4271 section 5 and RFC 7606
    /// section 7, written out once more by hand.
    #[test]
    fn the_attribute_table_holds_the_rfcs_rules() {
        use ErrorAction::*;
        let well_known = [1, 2, 3, 5, 6];
        let optional_non_transitive = [4, 9, 10, 14, 15];
        for t in AttrType::ALL {
            let c = t.code();
            let expected = if well_known.contains(&c) {
                FLAG_TRANSITIVE
            } else if optional_non_transitive.contains(&c) {
                FLAG_OPTIONAL
            } else {
                FLAG_OPTIONAL | FLAG_TRANSITIVE
            };
            assert_eq!(t.flags(), expected, "{t}");
            let (ebgp, ibgp) = match c {
                14 | 15 => (SessionReset, SessionReset),
                6 | 7 | 17 | 18 => (AttributeDiscard, AttributeDiscard),
                5 => (AttributeDiscard, TreatAsWithdraw),
                _ => (TreatAsWithdraw, TreatAsWithdraw),
            };
            assert_eq!(
                (t.malformed_action(true), t.malformed_action(false)),
                (ebgp, ibgp),
                "{t}"
            );
            assert_eq!(t.discarded_even_when_strict(), matches!(c, 17 | 18), "{t}");
        }
        assert_eq!(attribute_name(14), "MP_REACH_NLRI");
    }

    #[test]
    fn capabilities_met_in_captures_are_named() {
        for (code, name) in [
            (70, "enhanced-route-refresh"),
            (71, "long-lived-graceful-restart"),
            (73, "fqdn"),
            (75, "software-version"),
            (77, "link-local-next-hop"),
        ] {
            assert_eq!(capability_name(code), name);
        }
        assert_eq!(capability_name(0), "unknown");
    }
}

//! The session's policies as pure functions: which path attributes and
//! next hops go with our routes to one peer (RFC 4271 section 5, RFC 6793
//! for 2-octet peers, RFC 2545 for link-local sessions).

use crate::bgp::config::{is_link_local, AttributeOverrides, Parameters};
use crate::bgp::route::ExtCommunity;
use crate::bgp::wire::AttrType;
use crate::bgp::wire::{
    AsPath, Origin, PathAttributes, RawAttribute, FLAG_OPTIONAL, FLAG_PARTIAL, FLAG_TRANSITIVE,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What the export policy needs to know of a session.
///
/// ```
/// use cue::bgp::session::policy::{export, ExportContext};
/// use cue::bgp::Parameters;
/// let ctx = ExportContext {
///     local_as: 65001,
///     router_id: "10.0.0.1".parse().unwrap(),
///     peer_as: 65002,
///     four_octet_as: true,
///     local_ip: "192.0.2.1".parse().unwrap(),
/// };
/// let e = export(&ctx, &Parameters::default());
/// assert_eq!(e.next_hop4, "192.0.2.1".parse::<std::net::Ipv4Addr>().unwrap());
/// assert_eq!(e.attributes.local_pref, None, "an external peer");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportContext {
    /// Our AS.
    pub local_as: u32,
    /// Our BGP identifier (the IPv4 next hop of last resort).
    pub router_id: Ipv4Addr,
    /// The peer's AS.
    pub peer_as: u32,
    /// Both sides negotiated 4-octet AS numbers.
    pub four_octet_as: bool,
    /// The local address of the connection.
    pub local_ip: IpAddr,
}

/// The attributes and next hops of our routes towards one peer.
///
/// ```
/// use cue::bgp::session::policy::{export, ExportContext};
/// use cue::bgp::Parameters;
/// let ctx = ExportContext { local_as: 65001, router_id: "10.0.0.1".parse().unwrap(), peer_as: 65001,
///     four_octet_as: true, local_ip: "fe80::1".parse().unwrap() };
/// let p = Parameters { next_hop6: Some("2001:db8::1".parse().unwrap()), ..Default::default() };
/// let e = export(&ctx, &p);
/// assert_eq!(e.attributes.local_pref, Some(100), "an internal peer");
/// assert_eq!(e.next_hops6.len(), 2, "global and link-local over a link-local session");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// Path attributes (without next hops).
    pub attributes: PathAttributes,
    /// Next hop of IPv4 routes.
    pub next_hop4: Ipv4Addr,
    /// Next hops of IPv6 routes: a global one, and our link-local address
    /// after it over a link-local session.
    pub next_hops6: Vec<Ipv6Addr>,
}

/// The export policy: ORIGIN IGP; AS_PATH empty towards an internal peer,
/// our AS towards an external one (with AS4_PATH for a 2-octet peer when
/// our AS needs 4 octets); LOCAL_PREF (100 unless set) to internal peers
/// only; MED when not 0; communities as set. Next hops: as set, else the
/// local address of the session's family, else the router ID (IPv4) or the
/// IPv4-mapped local address (IPv6).
pub fn export(ctx: &ExportContext, params: &Parameters) -> Export {
    let ibgp = ctx.peer_as == ctx.local_as;
    let next_hop4 = params.next_hop4.unwrap_or(match ctx.local_ip {
        IpAddr::V4(a) => a,
        IpAddr::V6(_) => ctx.router_id,
    });
    let next_hop6 = params.next_hop6.unwrap_or(match ctx.local_ip {
        IpAddr::V6(a) => a,
        IpAddr::V4(a) => a.to_ipv6_mapped(),
    });
    let as_path = if ibgp {
        AsPath::default()
    } else {
        AsPath::sequence(&[ctx.local_as])
    };
    // A 2-octet peer sees AS_TRANS in AS_PATH and the real AS in AS4_PATH.
    let as4_path = (!ctx.four_octet_as && as_path.has_large_as()).then(|| as_path.clone());
    let attributes = PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(as_path),
        med: (params.med != 0).then_some(params.med),
        local_pref: ibgp.then(|| params.local_pref.unwrap_or(100)),
        communities: params.communities.clone(),
        large_communities: params.large_communities.clone(),
        as4_path,
        other: ext_communities(&params.ext_communities)
            .into_iter()
            .collect(),
        ..Default::default()
    };
    // Over a link-local session, a global next hop travels with our
    // link-local address (RFC 2545 section 3).
    let next_hops6 = match ctx.local_ip {
        IpAddr::V6(ll) if is_link_local(ll) && ll != next_hop6 => vec![next_hop6, ll],
        _ => vec![next_hop6],
    };
    Export {
        attributes,
        next_hop4,
        next_hops6,
    }
}

/// The EXTENDED COMMUNITIES attribute of `list` (none for an empty list).
fn ext_communities(list: &[ExtCommunity]) -> Option<RawAttribute> {
    (!list.is_empty()).then(|| RawAttribute {
        flags: FLAG_OPTIONAL | FLAG_TRANSITIVE,
        type_code: AttrType::ExtendedCommunities.code(),
        value: list.iter().flat_map(|c| c.0).collect(),
    })
}

/// The communities and large communities of `overrides` instead of the
/// session's, then those they add.
fn override_communities(a: &mut PathAttributes, overrides: &AttributeOverrides) {
    if let Some(c) = &overrides.communities {
        a.communities.clone_from(c);
    }
    if let Some(c) = &overrides.large_communities {
        a.large_communities.clone_from(c);
    }
    for c in &overrides.add_communities {
        if !a.communities.contains(c) {
            a.communities.push(*c);
        }
    }
    for c in &overrides.add_large_communities {
        if !a.large_communities.contains(c) {
            a.large_communities.push(*c);
        }
    }
}

/// The export of routes with `overrides`: what they set replaces the
/// session's (LOCAL_PREF towards internal peers only), added communities
/// are added, and the AS_PATH is ours (prepended `prepend` more times)
/// followed by theirs towards external peers, theirs alone towards internal
/// ones (or theirs alone everywhere with `as_path_exact`).
pub fn export_with(
    ctx: &ExportContext,
    params: &Parameters,
    overrides: &AttributeOverrides,
) -> Export {
    let mut e = export(ctx, params);
    let ibgp = ctx.peer_as == ctx.local_as;
    match overrides.next_hop {
        Some(IpAddr::V4(a)) => e.next_hop4 = a,
        Some(IpAddr::V6(a)) => {
            e.next_hops6 = match ctx.local_ip {
                IpAddr::V6(ll) if is_link_local(ll) && ll != a => vec![a, ll],
                _ => vec![a],
            }
        }
        None => {}
    }
    let a = &mut e.attributes;
    if let Some(origin) = overrides.origin {
        a.origin = Some(origin);
    }
    if let Some(med) = overrides.med {
        a.med = Some(med);
    }
    if let (Some(lp), Some(_)) = (overrides.local_pref, a.local_pref) {
        a.local_pref = Some(lp);
    }
    override_communities(a, overrides);
    if !overrides.ext_communities.is_empty() {
        let mut all = params.ext_communities.clone();
        all.extend(overrides.ext_communities.iter().copied());
        all.dedup();
        a.other
            .retain(|r| r.type_code != AttrType::ExtendedCommunities.code());
        a.other.extend(ext_communities(&all));
    }
    // Attributes we pass on without interpreting them carry the Partial bit
    // (RFC 4271 section 5).
    a.other.extend(
        overrides
            .other
            .iter()
            .filter(|r| r.flags & FLAG_OPTIONAL != 0 && r.flags & FLAG_TRANSITIVE != 0)
            .map(|r| RawAttribute {
                flags: r.flags | FLAG_PARTIAL,
                ..r.clone()
            }),
    );
    a.atomic_aggregate |= overrides.atomic_aggregate;
    if let Some((asn, addr)) = overrides.aggregator {
        a.aggregator = Some((asn, addr));
        a.as4_aggregator = (!ctx.four_octet_as && asn > u16::MAX as u32).then_some((asn, addr));
    }
    if overrides.as_path.is_some() || (overrides.prepend > 0 && !ibgp) {
        // We are in no confederation: its segments go nowhere (RFC 5065).
        let theirs = overrides
            .as_path
            .as_ref()
            .map(AsPath::without_confederation)
            .unwrap_or_default();
        let path = if ibgp || overrides.as_path_exact {
            theirs
        } else {
            theirs.prepended(ctx.local_as, 1 + overrides.prepend as usize)
        };
        a.as4_path = (!ctx.four_octet_as && path.has_large_as()).then(|| path.clone());
        a.as_path = Some(path);
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(peer_as: u32, local_ip: &str) -> ExportContext {
        ExportContext {
            local_as: 65001,
            router_id: Ipv4Addr::new(10, 0, 0, 1),
            peer_as,
            four_octet_as: true,
            local_ip: local_ip.parse().unwrap(),
        }
    }

    #[test]
    fn internal_peers_get_an_empty_path_and_local_pref() {
        let e = export(&ctx(65001, "192.0.2.1"), &Parameters::default());
        assert_eq!(e.attributes.as_path, Some(AsPath::default()));
        assert_eq!(e.attributes.local_pref, Some(100));
        assert_eq!(e.attributes.med, None);
        assert_eq!(e.attributes.origin, Some(Origin::Igp));
        let e = export(
            &ctx(65001, "192.0.2.1"),
            &Parameters {
                local_pref: Some(200),
                med: 5,
                ..Default::default()
            },
        );
        assert_eq!(e.attributes.local_pref, Some(200));
        assert_eq!(e.attributes.med, Some(5));
    }

    #[test]
    fn external_peers_get_our_as_and_no_local_pref() {
        let e = export(&ctx(65002, "192.0.2.1"), &Parameters::default());
        assert_eq!(e.attributes.as_path, Some(AsPath::sequence(&[65001])));
        assert_eq!(e.attributes.local_pref, None);
        assert_eq!(e.attributes.as4_path, None);
    }

    #[test]
    fn a_two_octet_peer_gets_as4_path_for_a_large_as() {
        let mut c = ctx(65002, "192.0.2.1");
        c.local_as = 4_200_000_000;
        c.four_octet_as = false;
        let e = export(&c, &Parameters::default());
        assert_eq!(
            e.attributes.as4_path,
            Some(AsPath::sequence(&[4_200_000_000]))
        );
        c.local_as = 65001;
        assert_eq!(export(&c, &Parameters::default()).attributes.as4_path, None);
    }

    #[test]
    fn next_hops_follow_the_session_unless_set() {
        let v4 = export(&ctx(65001, "192.0.2.1"), &Parameters::default());
        assert_eq!(v4.next_hop4, Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(
            v4.next_hops6,
            vec!["::ffff:192.0.2.1".parse::<Ipv6Addr>().unwrap()]
        );
        let v6 = export(&ctx(65001, "2001:db8::1"), &Parameters::default());
        assert_eq!(v6.next_hop4, Ipv4Addr::new(10, 0, 0, 1), "the router ID");
        assert_eq!(
            v6.next_hops6,
            vec!["2001:db8::1".parse::<Ipv6Addr>().unwrap()]
        );
        let set = Parameters {
            next_hop4: Some(Ipv4Addr::new(198, 51, 100, 1)),
            next_hop6: Some("2001:db8::99".parse().unwrap()),
            ..Default::default()
        };
        let e = export(&ctx(65001, "2001:db8::1"), &set);
        assert_eq!(e.next_hop4, Ipv4Addr::new(198, 51, 100, 1));
        assert_eq!(
            e.next_hops6,
            vec!["2001:db8::99".parse::<Ipv6Addr>().unwrap()]
        );
    }

    #[test]
    fn link_local_sessions_send_global_and_link_local() {
        let set = Parameters {
            next_hop6: Some("2001:db8::99".parse().unwrap()),
            ..Default::default()
        };
        let e = export(&ctx(65001, "fe80::2"), &set);
        let want: Vec<Ipv6Addr> = vec!["2001:db8::99".parse().unwrap(), "fe80::2".parse().unwrap()];
        assert_eq!(e.next_hops6, want);
        // Without a global one, the link-local address alone.
        let e = export(&ctx(65001, "fe80::2"), &Parameters::default());
        assert_eq!(e.next_hops6, vec!["fe80::2".parse::<Ipv6Addr>().unwrap()]);
    }

    #[test]
    fn overrides_replace_add_and_prepend() {
        let params = Parameters {
            med: 10,
            communities: vec!["65000:1".parse().unwrap()],
            ..Default::default()
        };
        let o = AttributeOverrides {
            med: Some(500),
            local_pref: Some(50),
            add_communities: vec!["65000:666".parse().unwrap()],
            prepend: 2,
            ..Default::default()
        };
        // Internal: MED and LOCAL_PREF replaced, community added, no prepend.
        let i = export_with(&ctx(65001, "192.0.2.1"), &params, &o).attributes;
        assert_eq!((i.med, i.local_pref), (Some(500), Some(50)));
        assert_eq!(i.communities.len(), 2);
        assert_eq!(i.as_path, Some(AsPath::default()));
        // External: no LOCAL_PREF, our AS three times.
        let e = export_with(&ctx(65002, "192.0.2.1"), &params, &o).attributes;
        assert_eq!(e.local_pref, None);
        assert_eq!(e.as_path, Some(AsPath::sequence(&[65001, 65001, 65001])));
        // Nothing overridden: the plain export.
        let plain = export(&ctx(65002, "192.0.2.1"), &params);
        assert_eq!(
            export_with(
                &ctx(65002, "192.0.2.1"),
                &params,
                &AttributeOverrides::default()
            ),
            plain
        );
    }

    #[test]
    fn a_route_of_its_own_keeps_what_it_states() {
        let params = Parameters {
            med: 10,
            communities: vec!["65000:1".parse().unwrap()],
            ext_communities: vec!["rt:65000:1".parse().unwrap()],
            ..Default::default()
        };
        let o = AttributeOverrides {
            next_hop: Some("198.51.100.9".parse().unwrap()),
            origin: Some(Origin::Incomplete),
            as_path: Some(AsPath::sequence(&[4_200_000_001, 65020])),
            communities: Some(vec!["65000:2".parse().unwrap()]),
            ext_communities: vec!["rt:65000:2".parse().unwrap()],
            aggregator: Some((4_200_000_001, Ipv4Addr::new(192, 0, 2, 1))),
            other: vec![
                RawAttribute {
                    flags: 0xc0,
                    type_code: 99,
                    value: vec![1],
                },
                RawAttribute {
                    flags: 0x80,
                    type_code: 9,
                    value: vec![0; 4],
                },
            ],
            ..Default::default()
        };
        let mut c = ctx(65002, "192.0.2.1");
        c.four_octet_as = false;
        let e = export_with(&c, &params, &o);
        assert_eq!(e.next_hop4, Ipv4Addr::new(198, 51, 100, 9));
        let a = e.attributes;
        assert_eq!(a.origin, Some(Origin::Incomplete));
        assert_eq!(a.med, Some(10), "the session's");
        assert_eq!(a.communities, vec!["65000:2".parse().unwrap()], "replaced");
        let path = AsPath::sequence(&[65001, 4_200_000_001, 65020]);
        assert_eq!(a.as_path, Some(path.clone()), "ours first");
        assert_eq!(a.as4_path, Some(path), "a 2-octet peer");
        assert_eq!(
            a.as4_aggregator,
            Some((4_200_000_001, Ipv4Addr::new(192, 0, 2, 1)))
        );
        let ext: Vec<&RawAttribute> = a.other.iter().filter(|r| r.type_code == 16).collect();
        assert_eq!(ext.len(), 1);
        assert_eq!(ext[0].value.len(), 16, "the session's and the route's");
        let unknown = a.other.iter().find(|r| r.type_code == 99).unwrap();
        assert_eq!(unknown.flags, 0xe0, "passed on with the Partial bit");
        assert!(
            !a.other.iter().any(|r| r.type_code == 9),
            "not transitive: dropped"
        );
        // Internal: the path as written; exact: as written to anyone.
        let i = export_with(&ctx(65001, "192.0.2.1"), &params, &o).attributes;
        assert_eq!(i.as_path, Some(AsPath::sequence(&[4_200_000_001, 65020])));
        let exact = AttributeOverrides {
            as_path_exact: true,
            ..o.clone()
        };
        let x = export_with(&ctx(65002, "192.0.2.1"), &params, &exact).attributes;
        assert_eq!(x.as_path, Some(AsPath::sequence(&[4_200_000_001, 65020])));
        // An IPv6 next hop of its own.
        let o6 = AttributeOverrides {
            next_hop: Some("2001:db8::7".parse().unwrap()),
            ..Default::default()
        };
        let e6 = export_with(&ctx(65001, "fe80::2"), &params, &o6);
        let want: Vec<Ipv6Addr> = vec!["2001:db8::7".parse().unwrap(), "fe80::2".parse().unwrap()];
        assert_eq!(e6.next_hops6, want);
    }

    #[test]
    fn fuzz_confederation_segments_of_a_replayed_path_go_nowhere() {
        // Found by the `mrt` fuzz target: a RIB dump's AS_PATH with an
        // AS_CONFED_SEQUENCE, sent as it was, is malformed at an external
        // peer (RFC 5065 section 5.3).
        use crate::bgp::wire::{AsSegment, AsSegmentKind};
        let mut path = AsPath::sequence(&[65010]);
        path.segments.insert(
            0,
            AsSegment {
                kind: AsSegmentKind::ConfedSequence,
                asns: vec![64512],
            },
        );
        for exact in [false, true] {
            let o = AttributeOverrides {
                as_path: Some(path.clone()),
                as_path_exact: exact,
                ..Default::default()
            };
            let a = export_with(&ctx(65002, "192.0.2.1"), &Parameters::default(), &o).attributes;
            assert!(!a.as_path.unwrap().has_confederation());
        }
    }
}

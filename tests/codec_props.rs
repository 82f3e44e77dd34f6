//! Property tests of the codec: what is encoded decodes to the same value,
//! and no byte sequence makes the decoder panic.

use cue::bgp::wire::{
    AddPathFamilies, AsPath, AsSegment, AsSegmentKind, Community, DecodeContext, Family,
    LargeCommunity, Message, MpReach, MpUnreach, Origin, PathAttributes, Update, UpdateBuilder,
    MAX_MESSAGE_LEN,
};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn v4net() -> impl Strategy<Value = IpNet> {
    (any::<u32>(), 0u8..=32)
        .prop_map(|(a, l)| IpNet::V4(Ipv4Net::new(Ipv4Addr::from(a), l).unwrap().trunc()))
}

fn v6net() -> impl Strategy<Value = IpNet> {
    (any::<u128>(), 0u8..=128)
        .prop_map(|(a, l)| IpNet::V6(Ipv6Net::new(Ipv6Addr::from(a), l).unwrap().trunc()))
}

fn as_path(four: bool) -> impl Strategy<Value = AsPath> {
    let asn = if four {
        any::<u32>().boxed()
    } else {
        (0u32..=65535).boxed()
    };
    prop::collection::vec(
        (
            prop_oneof![
                Just(AsSegmentKind::Sequence),
                Just(AsSegmentKind::Set),
                Just(AsSegmentKind::ConfedSequence),
                Just(AsSegmentKind::ConfedSet)
            ],
            prop::collection::vec(asn, 1..10),
        )
            .prop_map(|(kind, asns)| AsSegment { kind, asns }),
        0..4,
    )
    .prop_map(|segments| AsPath { segments })
}

fn unicast_next_hop() -> impl Strategy<Value = Ipv4Addr> {
    (1u32..0xdfff_ffff).prop_map(Ipv4Addr::from)
}

prop_compose! {
    fn update(four: bool)(
        withdrawn in prop::collection::vec(v4net(), 0..20),
        nlri in prop::collection::vec(v4net(), 0..20),
        origin in prop_oneof![Just(Origin::Igp), Just(Origin::Egp), Just(Origin::Incomplete)],
        path in as_path(four),
        next_hop in unicast_next_hop(),
        med in proptest::option::of(any::<u32>()),
        local_pref in proptest::option::of(any::<u32>()),
        communities in prop::collection::vec(any::<u32>().prop_map(Community), 0..70),
        large in prop::collection::vec((any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(global, local1, local2)| LargeCommunity { global, local1, local2 }), 0..30),
        mp6 in proptest::option::of(prop::collection::vec(v6net(), 0..20)),
        unreach6 in proptest::option::of(prop::collection::vec(v6net(), 0..20)),
        nh6 in any::<u128>(),
    ) -> Update {
        let attributes = PathAttributes {
            origin: Some(origin),
            as_path: Some(path),
            next_hop: Some(next_hop),
            med,
            local_pref,
            communities,
            large_communities: large,
            mp_reach: mp6.map(|nlri| MpReach { afi: 2, safi: 1, next_hops: vec![IpAddr::V6(Ipv6Addr::from(nh6))], nlri, ..Default::default() }),
            mp_unreach: unreach6.map(|withdrawn| MpUnreach { afi: 2, safi: 1, withdrawn, ..Default::default() }),
            ..Default::default()
        };
        Update { withdrawn, attributes, nlri, ..Default::default() }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn update_round_trip(u in update(true), four in any::<bool>(), add_path in any::<bool>(), ids in prop::collection::vec(any::<u32>(), 20)) {
        let mut u = u;
        let mut ctx = DecodeContext::with_four_octet_as(four);
        if add_path {
            // ADD-PATH (RFC 7911): every prefix with its path identifier.
            ctx.add_path = AddPathFamilies::of(&[Family::Ipv4Unicast, Family::Ipv6Unicast]);
            let of = |n: usize| ids[..n].to_vec();
            u.withdrawn_path_ids = of(u.withdrawn.len());
            u.nlri_path_ids = of(u.nlri.len());
            if let Some(m) = &mut u.attributes.mp_reach { m.path_ids = of(m.nlri.len()); }
            if let Some(m) = &mut u.attributes.mp_unreach { m.path_ids = of(m.withdrawn.len()); }
        }
        if !four {
            // 2-octet encoding cannot carry large ASes: keep the path small.
            for s in &mut u.attributes.as_path.as_mut().unwrap().segments {
                for a in &mut s.asns { *a &= 0xffff; }
            }
        }
        let bytes = Message::Update(u.clone()).to_bytes(ctx);
        prop_assume!(bytes.len() <= MAX_MESSAGE_LEN);
        prop_assert_eq!(Message::decode(&bytes, ctx), Ok(Message::Update(u)));
    }

    #[test]
    fn builder_output_decodes_to_its_input(
        v4 in prop::collection::btree_set(v4net(), 0..2000),
        v6 in prop::collection::btree_set(v6net(), 0..800),
        communities in prop::collection::vec(any::<u32>().prop_map(Community), 0..100),
    ) {
        let ctx = DecodeContext::with_four_octet_as(true);
        let attrs = PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence(&[4_200_000_000])),
            communities,
            ..Default::default()
        };
        let b = UpdateBuilder::new(&attrs, Ipv4Addr::new(192, 0, 2, 1), &[Ipv6Addr::LOCALHOST], ctx);
        let mut out = Vec::new();
        b.announce(Family::Ipv4Unicast, &v4, &mut out);
        b.announce(Family::Ipv6Unicast, &v6, &mut out);
        UpdateBuilder::withdraw(Family::Ipv4Unicast, &v4, &mut out);
        let mut announced = Vec::new();
        let mut withdrawn = Vec::new();
        let mut rest = &out[..];
        while !rest.is_empty() {
            let len = cue::bgp::wire::frame(rest).unwrap().unwrap();
            prop_assert!(len <= MAX_MESSAGE_LEN);
            match Message::decode(&rest[..len], ctx) {
                Ok(Message::Update(u)) => {
                    announced.extend(u.announced().copied());
                    withdrawn.extend(u.withdrawn_all().copied());
                }
                other => prop_assert!(false, "{:?}", other),
            }
            rest = &rest[len..];
        }
        let expected: Vec<IpNet> = v4.iter().chain(v6.iter()).copied().collect();
        prop_assert_eq!(announced, expected);
        prop_assert_eq!(withdrawn, v4.into_iter().collect::<Vec<_>>());
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(body in prop::collection::vec(any::<u8>(), 0..600), kind in 1u8..=5, four in any::<bool>()) {
        let mut m = vec![0xff; 16];
        m.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
        m.push(kind);
        m.extend_from_slice(&body);
        let ctx = DecodeContext::with_four_octet_as(four);
        if let Ok(msg) = Message::decode(&m, ctx) {
            // Whatever decodes re-encodes and decodes to the same value.
            let again = msg.to_bytes(ctx);
            prop_assert_eq!(Message::decode(&again, ctx), Ok(msg));
        } else if let Err(e) = Message::decode(&m, ctx) {
            let n = e.notification();
            prop_assert!((1..=7).contains(&n.code));
        }
    }
}

//! Messages captured from real daemons (tshark on loopback, payloads of the
//! TCP segments) decoded by our codec: BIRD 2.0.12, GoBGP 3.10, FRR 8.4 and
//! ExaBGP 4.2 talking to `cue-bgp listen`. Each message re-encoded is
//! compared with the captured bytes.

use cue::bgp::wire::{
    frame, parse_hex, AsPath, Capability, Community, DecodeContext, Family, LargeCommunity,
    Message, Origin,
};
use std::net::{IpAddr, Ipv4Addr};

/// A message with the encoding choices that RFC 4271 leaves to the sender
/// undone: an UPDATE's attributes in ascending type order, each with the
/// Extended Length flag only where its value needs it; an OPEN's
/// capabilities one to an optional parameter, in the order sent. Other
/// bytes are kept as they are. An independent reading of the bytes, written
/// for this test, not the codec's.
fn normal_form(m: &[u8]) -> Vec<u8> {
    let u16_at = |b: &[u8], i: usize| u16::from_be_bytes([b[i], b[i + 1]]) as usize;
    let body = &m[19..];
    let normal_body = match m[18] {
        2 => {
            let wlen = u16_at(body, 0);
            let alen = u16_at(body, 2 + wlen);
            let mut attrs = Vec::new();
            let mut rest = &body[4 + wlen..4 + wlen + alen];
            while !rest.is_empty() {
                let ext = rest[0] & 0x10 != 0;
                let (len, head) = if ext {
                    (u16_at(rest, 2), 4)
                } else {
                    (rest[2] as usize, 3)
                };
                attrs.push((rest[1], rest[0] & !0x10, &rest[head..head + len]));
                rest = &rest[head + len..];
            }
            attrs.sort_by_key(|a| a.0);
            let mut packed = Vec::new();
            for (code, flags, value) in attrs {
                if value.len() > 255 {
                    packed.extend_from_slice(&[flags | 0x10, code]);
                    packed.extend_from_slice(&(value.len() as u16).to_be_bytes());
                } else {
                    packed.extend_from_slice(&[flags, code, value.len() as u8]);
                }
                packed.extend_from_slice(value);
            }
            let mut b = body[..2 + wlen].to_vec();
            b.extend_from_slice(&(packed.len() as u16).to_be_bytes());
            b.extend_from_slice(&packed);
            b.extend_from_slice(&body[4 + wlen + alen..]);
            b
        }
        1 => {
            let mut params = Vec::new();
            let mut rest = &body[10..10 + body[9] as usize];
            while !rest.is_empty() {
                let (kind, len) = (rest[0], rest[1] as usize);
                let mut caps = &rest[2..2 + len];
                if kind == 2 {
                    while !caps.is_empty() {
                        let n = 2 + caps[1] as usize;
                        params.extend_from_slice(&[2, n as u8]);
                        params.extend_from_slice(&caps[..n]);
                        caps = &caps[n..];
                    }
                } else {
                    params.extend_from_slice(&rest[..2 + len]);
                }
                rest = &rest[2 + len..];
            }
            let mut b = body[..9].to_vec();
            b.push(params.len() as u8);
            b.extend_from_slice(&params);
            b
        }
        _ => body.to_vec(),
    };
    let mut out = m[..16].to_vec();
    out.extend_from_slice(&((19 + normal_body.len()) as u16).to_be_bytes());
    out.push(m[18]);
    out.extend_from_slice(&normal_body);
    out
}

/// Splits a captured byte stream into messages and decodes each. Each
/// message re-encoded is compared with its captured bytes: the same, or
/// different only by the sender's encoding choices (`normal_form`). Returns
/// the messages and the indices of those that did not come back byte for
/// byte.
fn decode_stream(s: &str) -> (Vec<Message>, Vec<usize>) {
    let bytes = parse_hex(s).expect("captured hex");
    let ctx = DecodeContext::with_four_octet_as(true);
    let mut rest = &bytes[..];
    let mut out = Vec::new();
    let mut normalised = Vec::new();
    while !rest.is_empty() {
        let len = frame(rest).unwrap().expect("a whole message");
        let captured = &rest[..len];
        let msg = Message::decode(captured, ctx).unwrap();
        let again = msg.to_bytes(ctx);
        if again != captured {
            normalised.push(out.len());
            assert_eq!(
                normal_form(&again),
                normal_form(captured),
                "message {} re-encoded differs beyond the sender's choices",
                out.len()
            );
        }
        assert_eq!(Message::decode(&again, ctx).unwrap(), msg);
        out.push(msg);
        rest = &rest[len..];
    }
    (out, normalised)
}

const BIRD_STREAM: &str = concat!(
    "ffffffffffffffffffffffffffffffff003b0104fdea00f07f0000021e021c01040001000101040002000102004002007841040000fdea46004700",
    "ffffffffffffffffffffffffffffffff001304",
    "ffffffffffffffffffffffffffffffff004b02000000314001010040020602010000fdea4003047f00000280040400000037c00804fdea0007c0200c0000fdea0000000800000009100a14",
    "ffffffffffffffffffffffffffffffff00170200000000",
    "ffffffffffffffffffffffffffffffff004b0200000034900e001c0002011020010db8000000000000000000000002003020010db800204001010040020602010000fdea80040400000042",
    "ffffffffffffffffffffffffffffffff001d0200000006800f03000201",
    "ffffffffffffffffffffffffffffffff0015030602",
);

#[test]
fn bird_session() {
    let (m, normalised) = decode_stream(BIRD_STREAM);
    // All but one come back byte for byte: BIRD puts MP_REACH_NLRI first,
    // with the Extended Length flag on a short value.
    assert_eq!(normalised, [4]);
    assert_eq!(m.len(), 7);
    let Message::Open(open) = &m[0] else { panic!() };
    assert_eq!((open.asn(), open.hold_time), (65002, 240));
    assert_eq!(open.bgp_id, Ipv4Addr::new(127, 0, 0, 2));
    assert_eq!(
        open.mp_families(),
        Some(vec![Family::Ipv4Unicast, Family::Ipv6Unicast])
    );
    assert!(open.route_refresh() && open.four_octet_as());
    // BIRD's default is "graceful restart aware": the capability with its
    // restart time (120 s) and no families. Enhanced route refresh (70) and
    // long-lived GR (71) are kept as unknown capabilities.
    assert_eq!(open.graceful_restart(), Some((120, &[][..])));
    assert!(open
        .capabilities
        .iter()
        .any(|c| matches!(c, Capability::Unknown { code: 71, .. })));
    assert_eq!(m[1], Message::Keepalive);

    let Message::Update(u) = &m[2] else { panic!() };
    let a = &u.attributes;
    assert_eq!(u.nlri, vec!["10.20.0.0/16".parse().unwrap()]);
    assert_eq!(a.origin, Some(Origin::Igp));
    assert_eq!(a.as_path, Some(AsPath::sequence(&[65002])));
    assert_eq!(a.next_hop, Some(Ipv4Addr::new(127, 0, 0, 2)));
    assert_eq!(a.med, Some(55));
    assert_eq!(a.communities, vec![Community(65002 << 16 | 7)]);
    assert_eq!(
        a.large_communities,
        vec![LargeCommunity {
            global: 65002,
            local1: 8,
            local2: 9
        }]
    );

    let Message::Update(eor) = &m[3] else {
        panic!()
    };
    assert_eq!(eor.end_of_rib(), Some((1, 1)));

    let Message::Update(u6) = &m[4] else { panic!() };
    let mp = u6.attributes.mp_reach.as_ref().unwrap();
    assert_eq!(mp.next_hops, vec!["2001:db8::2".parse::<IpAddr>().unwrap()]);
    assert_eq!(mp.nlri, vec!["2001:db8:20::/48".parse().unwrap()]);
    assert_eq!(u6.attributes.med, Some(66));

    let Message::Update(eor6) = &m[5] else {
        panic!()
    };
    assert_eq!(eor6.end_of_rib(), Some((2, 1)));

    let Message::Notification(n) = &m[6] else {
        panic!()
    };
    assert_eq!(n.reason(), "Cease / Administrative Shutdown");
}

const GOBGP_STREAM: &str = concat!(
    "ffffffffffffffffffffffffffffffff00410104fdea005a7f0000032402220200490402766d0001040001000101040002000141040000fdea0506000100010002",
    "ffffffffffffffffffffffffffffffff001304",
    "ffffffffffffffffffffffffffffffff0043020000002c4001010240020602010000fdea800e1c0002011020010db8000000000000000000000030003020010db80030",
    "ffffffffffffffffffffffffffffffff004c02000000314001010240020602010000fdea400304c000021e8004040000000ac00804fdea0001c0200c0000fdea0000000300000004180a1e00",
    "ffffffffffffffffffffffffffffffff001b020004180a1e000000",
    "ffffffffffffffffffffffffffffffff0015030603",
);

#[test]
fn gobgp_session() {
    let (m, normalised) = decode_stream(GOBGP_STREAM);
    // Every message comes back byte for byte.
    assert!(normalised.is_empty(), "{normalised:?}");
    assert_eq!(m.len(), 6);
    let Message::Open(open) = &m[0] else { panic!() };
    assert_eq!((open.asn(), open.hold_time), (65002, 90));
    // FQDN (73) is unknown to us and kept; extended next hop (5) is read.
    assert!(open.extended_next_hop_ipv4());
    let unknown: Vec<u8> = open
        .capabilities
        .iter()
        .filter_map(|c| match c {
            Capability::Unknown { code, .. } => Some(*code),
            _ => None,
        })
        .collect();
    assert_eq!(unknown, vec![73]);

    let Message::Update(u6) = &m[2] else { panic!() };
    assert_eq!(u6.attributes.origin, Some(Origin::Incomplete));
    let mp = u6.attributes.mp_reach.as_ref().unwrap();
    assert_eq!(
        mp.next_hops,
        vec!["2001:db8::30".parse::<IpAddr>().unwrap()]
    );

    let Message::Update(u) = &m[3] else { panic!() };
    assert_eq!(u.nlri, vec!["10.30.0.0/24".parse().unwrap()]);
    assert_eq!(u.attributes.next_hop, Some(Ipv4Addr::new(192, 0, 2, 30)));
    assert_eq!(u.attributes.med, Some(10));

    let Message::Update(w) = &m[4] else { panic!() };
    assert_eq!(w.withdrawn, vec!["10.30.0.0/24".parse().unwrap()]);

    let Message::Notification(n) = &m[5] else {
        panic!()
    };
    assert_eq!(n.reason(), "Cease / Peer De-configured");
}

const FRR_STREAM: &str = concat!(
    "ffffffffffffffffffffffffffffffff00720104fdeb00b47f0000035502060104000100010206010400020001020280000202020002024600020641040000fdeb02020600020a4508000101010002010102074905036361700002044002c0780210470e0001018000000000020180000000",
    "ffffffffffffffffffffffffffffffff001304",
    "ffffffffffffffffffffffffffffffff004c0200000035900e001c0002011000000000000000000000ffff7f000001003020010db80040400101005002000602010000fdeb80040400000000",
    "ffffffffffffffffffffffffffffffff001304",
    "ffffffffffffffffffffffffffffffff004c0200000032400101005002000602010000fdeb4003047f0000018004040000002cc00804fdeb0001c0200c0000fdeb0000000200000003100a28",
    "ffffffffffffffffffffffffffffffff001304",
    "ffffffffffffffffffffffffffffffff001304",
);

#[test]
fn frr_session() {
    let (m, normalised) = decode_stream(FRR_STREAM);
    // FRR's OPEN gives each capability a parameter of its own; its UPDATEs
    // set the Extended Length flag on short values (and put MP_REACH_NLRI
    // first). The rest comes back byte for byte.
    assert_eq!(normalised, [0, 2, 4]);
    let Message::Open(open) = &m[0] else { panic!() };
    assert_eq!((open.asn(), open.hold_time), (65003, 180));
    assert!(open.route_refresh() && open.four_octet_as());
    // Graceful restart with the R and N (RFC 8538) bits, kept on re-encoding.
    assert!(open.capabilities.iter().any(|c| matches!(
        c,
        Capability::GracefulRestart {
            restarting: true,
            notification: true,
            restart_time: 120,
            ..
        }
    )));
    let updates: Vec<_> = m
        .iter()
        .filter_map(|x| match x {
            Message::Update(u) => Some(u),
            _ => None,
        })
        .collect();
    assert_eq!(updates.len(), 2);
    // FRR sends AS_PATH with the Extended Length flag, and an IPv4-mapped
    // IPv6 next hop when it has no IPv6 address of its own.
    let v6 = updates[0].attributes.mp_reach.as_ref().unwrap();
    assert_eq!(
        v6.next_hops,
        vec!["::ffff:127.0.0.1".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(v6.nlri, vec!["2001:db8:40::/48".parse().unwrap()]);
    assert_eq!(
        updates[0].attributes.as_path,
        Some(AsPath::sequence(&[65003]))
    );
    let v4 = &updates[1];
    assert_eq!(v4.nlri, vec!["10.40.0.0/16".parse().unwrap()]);
    assert_eq!(v4.attributes.med, Some(44));
    assert_eq!(v4.attributes.communities, vec![Community(65003 << 16 | 1)]);
}

const EXABGP_STREAM: &str = concat!(
    "ffffffffffffffffffffffffffffffff00390104fdec00b47f0000041c02060104000100010206010400020001020641040000fdec02020600",
    "ffffffffffffffffffffffffffffffff001304",
    "ffffffffffffffffffffffffffffffff004b02000000314001010040020602010000fdec400304c000023280040400000037c00804fdec0001c0200c0000fdec0000000200000003100a32",
    "ffffffffffffffffffffffffffffffff0043020000002c4001010040020602010000fdec800e1c0002011020010db8000000000000000000000050003020010db80050",
    "ffffffffffffffffffffffffffffffff00170200000000",
    "ffffffffffffffffffffffffffffffff001e0200000007900f0003000201",
    "ffffffffffffffffffffffffffffffff001304",
    "ffffffffffffffffffffffffffffffff001304",
    "ffffffffffffffffffffffffffffffff001304",
);

#[test]
fn exabgp_session() {
    let (m, normalised) = decode_stream(EXABGP_STREAM);
    // ExaBGP's OPEN gives each capability a parameter of its own; its
    // MP_UNREACH_NLRI sets the Extended Length flag on a short value.
    assert_eq!(normalised, [0, 5]);
    let Message::Open(open) = &m[0] else { panic!() };
    assert_eq!(
        (open.asn(), open.bgp_id),
        (65004, Ipv4Addr::new(127, 0, 0, 4))
    );
    let Message::Update(u) = &m[2] else { panic!() };
    assert_eq!(u.nlri, vec!["10.50.0.0/16".parse().unwrap()]);
    assert_eq!(u.attributes.next_hop, Some(Ipv4Addr::new(192, 0, 2, 50)));
    assert_eq!(u.attributes.med, Some(55));
    assert_eq!(
        u.attributes.large_communities,
        vec![LargeCommunity {
            global: 65004,
            local1: 2,
            local2: 3
        }]
    );
    let eors: Vec<_> = m
        .iter()
        .filter_map(|x| match x {
            Message::Update(u) => u.end_of_rib(),
            _ => None,
        })
        .collect();
    assert_eq!(eors, vec![(1, 1), (2, 1)]);
}

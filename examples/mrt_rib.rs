//! Writes a synthetic but realistic MRT TABLE_DUMP_V2 RIB dump (RFC 6396)
//! for benchmarks and tests of `--advertise-mrt`: ROUTES prefixes (IPv4
//! /16 to /24 and IPv6 /32 to /48, nine in ten IPv4), each with one RIB
//! entry from one of four peers, an AS_PATH of 2 to 8 ASes (the peer's AS,
//! transit ASes from a small pool, sometimes prepended, an origin AS from
//! a pool of 30,000 with a few 4-octet ones), ORIGIN mostly IGP, 0 to 3
//! communities and now and then a large community, all following from
//! the origin AS and the peer (so that routes share attribute sets as in a
//! real table: about 300,000 sets in 1M routes), and on some routes a MED
//! or an extra community.
//! Deterministic: the same arguments write the same file.
//!
//! ```text
//! cargo run --release --example mrt_rib -- FILE [ROUTES]     (default 1,000,000)
//! ```

use cue::bgp::wire::{AsPath, Community, DecodeContext, LargeCommunity, Origin, PathAttributes};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeSet;
use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

const PEERS: [(Ipv4Addr, u32); 4] = [
    (Ipv4Addr::new(192, 0, 2, 11), 64_601),
    (Ipv4Addr::new(192, 0, 2, 12), 64_602),
    (Ipv4Addr::new(192, 0, 2, 13), 3_356),
    (Ipv4Addr::new(192, 0, 2, 14), 4_200_000_100),
];

fn record(out: &mut Vec<u8>, subtype: u16, body: &[u8]) {
    out.extend_from_slice(&1_700_000_000u32.to_be_bytes());
    out.extend_from_slice(&13u16.to_be_bytes()); // TABLE_DUMP_V2
    out.extend_from_slice(&subtype.to_be_bytes());
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let Some(file) = args.get(1) else {
        return Err("usage: mrt_rib FILE [ROUTES]".into());
    };
    let routes: usize = args.get(2).map_or(Ok(1_000_000), |n| n.parse())?;
    let mut rng = StdRng::seed_from_u64(6396);
    let mut out = Vec::with_capacity(routes * 80);

    // PEER_INDEX_TABLE: collector ID, no view name, the peers (IPv4
    // addresses, 4-octet AS numbers).
    let mut body = vec![192, 0, 2, 1, 0, 0];
    body.extend_from_slice(&(PEERS.len() as u16).to_be_bytes());
    for (ip, asn) in PEERS {
        body.push(0x02);
        body.extend_from_slice(&ip.octets());
        body.extend_from_slice(&ip.octets());
        body.extend_from_slice(&asn.to_be_bytes());
    }
    record(&mut out, 1, &body);

    // Distinct prefixes, in order (IPv4 first, as a RIB dump has them).
    let v4_count = routes * 9 / 10;
    let mut v4: BTreeSet<(u32, u8)> = BTreeSet::new();
    while v4.len() < v4_count {
        let len = rng.random_range(16..=24u8);
        let addr = rng.random_range(0x0100_0000..0xdf00_0000u32) & (u32::MAX << (32 - len));
        // Loopback is no route a router takes (BIRD calls it bogus).
        if addr >> 24 != 127 {
            v4.insert((addr, len));
        }
    }
    let mut v6: BTreeSet<(u128, u8)> = BTreeSet::new();
    while v6.len() < routes - v4_count {
        let len = rng.random_range(32..=48u8);
        let addr =
            (0x2001_0db8u128 << 96 | rng.random::<u128>() >> 32) & (u128::MAX << (128 - len));
        v6.insert((addr, len));
    }
    let transit: Vec<u32> = (0..60).map(|i| 64_700 + i).collect();
    let ctx = DecodeContext::with_four_octet_as(true);
    let mut attrs = Vec::new();
    let mut seq = 0u32;
    let mut entry = |out: &mut Vec<u8>, rng: &mut StdRng, prefix: &[u8], ipv6: bool| {
        let peer = rng.random_range(0..PEERS.len());
        let origin_as = match rng.random_range(0..100) {
            0..=2 => 4_200_001_000 + rng.random_range(0..500),
            _ => 1_000 + rng.random_range(0..30_000),
        };
        // What a route carries follows from where it comes from: the
        // routes of one origin AS through one peer share their attributes,
        // but for a MED or an extra community on some of them.
        let mut r = StdRng::seed_from_u64((origin_as as u64) << 8 | peer as u64);
        let mut path = vec![PEERS[peer].1];
        for _ in 0..r.random_range(0..=4) {
            path.push(transit[r.random_range(0..transit.len())]);
        }
        if r.random_range(0..10) == 0 {
            path.extend([origin_as; 2]);
        }
        path.push(origin_as);
        let mut communities: Vec<Community> = (0..r.random_range(0..=3))
            .map(|_| Community((PEERS[peer].1 & 0xffff) << 16 | r.random_range(0..300)))
            .collect();
        if rng.random_range(0..10) == 0 {
            communities.push(Community((PEERS[peer].1 & 0xffff) << 16 | 666));
        }
        communities.sort();
        communities.dedup();
        let a = PathAttributes {
            origin: Some(match r.random_range(0..20) {
                0 => Origin::Incomplete,
                1 => Origin::Egp,
                _ => Origin::Igp,
            }),
            as_path: Some(AsPath::sequence(&path)),
            next_hop: (!ipv6).then_some(PEERS[peer].0),
            med: (rng.random_range(0..8) == 0).then(|| rng.random_range(0..4) * 10),
            communities,
            large_communities: if r.random_range(0..20) == 0 {
                vec![LargeCommunity {
                    global: PEERS[peer].1,
                    local1: 1,
                    local2: r.random_range(0..50),
                }]
            } else {
                vec![]
            },
            ..Default::default()
        };
        attrs.clear();
        a.encode(&mut attrs, ctx);
        if ipv6 {
            // A RIB entry's MP_REACH_NLRI: the next hop length and next hop.
            attrs.extend_from_slice(&[0x80, 14, 17, 16]);
            attrs.extend_from_slice(&PEERS[peer].0.to_ipv6_mapped().octets());
        }
        let mut body = seq.to_be_bytes().to_vec();
        seq += 1;
        body.extend_from_slice(prefix);
        body.extend_from_slice(&1u16.to_be_bytes());
        body.extend_from_slice(&(peer as u16).to_be_bytes());
        body.extend_from_slice(&1_700_000_000u32.to_be_bytes());
        body.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        body.extend_from_slice(&attrs);
        record(out, if ipv6 { 4 } else { 2 }, &body);
    };
    for (addr, len) in v4 {
        let mut p = vec![len];
        p.extend_from_slice(&Ipv4Addr::from(addr).octets()[..len.div_ceil(8) as usize]);
        entry(&mut out, &mut rng, &p, false);
    }
    for (addr, len) in v6 {
        let mut p = vec![len];
        p.extend_from_slice(&Ipv6Addr::from(addr).octets()[..len.div_ceil(8) as usize]);
        entry(&mut out, &mut rng, &p, true);
    }
    std::fs::File::create(file)?.write_all(&out)?;
    println!("{file}: {routes} routes, {} bytes", out.len());
    Ok(())
}

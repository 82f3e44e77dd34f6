//! UPDATE generation: packing host routes into UPDATEs, decoding them
//! again, and the Loc-RIB to Adj-RIB-Out work done on every change.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use cue::bgp::rib::{adj_rib_out, delta, ExportFilter, LocRib};
use cue::bgp::route::RouteTable;
use cue::bgp::wire::{
    frame_within, AsPath, Community, DecodeContext, Family, Message, Origin, PathAttributes,
    UpdateBuilder,
};
use ipnet::IpNet;
use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

const N: u32 = 100_000;

fn v4(n: u32) -> Vec<IpNet> {
    (0..n)
        .map(|i| IpNet::new(Ipv4Addr::from(0x0a00_0000 + i).into(), 32).unwrap())
        .collect()
}

fn v6(n: u32) -> Vec<IpNet> {
    (0..n)
        .map(|i| IpNet::new(Ipv6Addr::from(0xfd00_u128 << 112 | i as u128).into(), 128).unwrap())
        .collect()
}

fn builder() -> UpdateBuilder {
    let attrs = PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::default()),
        local_pref: Some(100),
        med: Some(123),
        communities: vec![Community(65001 << 16 | 100)],
        ..Default::default()
    };
    UpdateBuilder::new(
        &attrs,
        Ipv4Addr::LOCALHOST,
        &[Ipv6Addr::LOCALHOST],
        DecodeContext::with_four_octet_as(true),
    )
}

fn encode(c: &mut Criterion) {
    let b = builder();
    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Elements(N as u64));
    let p4 = v4(N);
    let p6 = v6(N);
    let mut out = Vec::with_capacity(8 << 20);
    g.bench_function("announce 100k IPv4 /32", |bench| {
        bench.iter(|| {
            out.clear();
            b.announce(Family::Ipv4Unicast, &p4, &mut out)
        })
    });
    g.bench_function("announce 100k IPv6 /128", |bench| {
        bench.iter(|| {
            out.clear();
            b.announce(Family::Ipv6Unicast, &p6, &mut out)
        })
    });
    g.bench_function("withdraw 100k IPv4 /32", |bench| {
        bench.iter(|| {
            out.clear();
            UpdateBuilder::withdraw(Family::Ipv4Unicast, &p4, &mut out)
        })
    });
    g.finish();
}

/// The UPDATEs of 100k routes of `family` as one byte stream, cut into
/// messages and decoded: what a receiving session does with them.
fn decode(c: &mut Criterion) {
    let b = builder();
    let ctx = DecodeContext::with_four_octet_as(true);
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(N as u64));
    for (name, family, prefixes) in [
        ("100k IPv4 /32 announced", Family::Ipv4Unicast, v4(N)),
        ("100k IPv6 /128 announced", Family::Ipv6Unicast, v6(N)),
    ] {
        let mut stream = Vec::new();
        b.announce(family, &prefixes, &mut stream);
        g.bench_function(name, |bench| {
            bench.iter(|| {
                let (mut rest, mut routes) = (&stream[..], 0);
                while let Ok(Some(len)) = frame_within(rest, ctx.max_message_len()) {
                    if let Ok(Message::Update(u)) = Message::decode(&rest[..len], ctx) {
                        routes += u.announced().count();
                    }
                    rest = &rest[len..];
                }
                assert_eq!(routes, N as usize);
            })
        });
    }
    g.finish();
}

fn rib(c: &mut Criterion) {
    let all: BTreeSet<IpNet> = v4(500_000).into_iter().chain(v6(500_000)).collect();
    let loc: LocRib = Arc::new(all);
    // 1% of the routes replaced.
    let mut changed = (*loc).clone();
    for p in v4(5_000) {
        changed.remove(&p);
    }
    changed.extend(v4(505_000).into_iter().skip(500_000));
    let changed: LocRib = Arc::new(changed);
    let mut g = c.benchmark_group("rib");
    g.sample_size(10);
    g.throughput(Throughput::Elements(1_000_000));
    g.bench_function("delta 1M routes, 1% changed", |bench| {
        bench.iter(|| delta(&loc, &changed))
    });
    let filter = ExportFilter {
        accept: vec!["10.0.0.0/24".parse().unwrap()],
        reject: vec!["10.0.0.0/8".parse().unwrap()],
    };
    let families = [Family::Ipv4Unicast, Family::Ipv6Unicast];
    g.bench_function("adj-rib-out 1M routes, reject filter", |bench| {
        bench.iter_batched(
            || loc.clone(),
            |l| adj_rib_out(&l, &families, &filter),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("adj-rib-out 1M routes, no filter (shared)", |bench| {
        bench.iter(|| adj_rib_out(&loc, &families, &ExportFilter::default()))
    });
    g.finish();
}

/// Loading an --advertise-file of 1,000,000 host routes (500,000 IPv4 and
/// 500,000 IPv6 lines) as `cue-bgp` does: parsing (in parts, one per
/// core), then building the Loc-RIB; once with bare addresses, once with
/// every line in one of 10,000 attribute sets (route i has set i mod
/// 10,000, as in `scripts/bench-bird.sh`).
fn load(c: &mut Criterion) {
    let mut text = String::new();
    let mut own = String::new();
    for (i, p) in v4(500_000).iter().chain(v6(500_000).iter()).enumerate() {
        let k = i % 10_000;
        text.push_str(&p.addr().to_string());
        text.push('\n');
        own.push_str(&format!(
            "{} med {k} community 65000:{k} as-path {} 420000{k:04}\n",
            p.addr(),
            64512 + k % 400
        ));
    }
    let mut g = c.benchmark_group("load");
    g.sample_size(10);
    g.throughput(Throughput::Elements(1_000_000));
    g.bench_function("parse 1M lines into the Loc-RIB", |bench| {
        bench.iter(|| {
            let mut t = RouteTable::default();
            t.parse_lines(&text).unwrap();
            t.finish()
        })
    });
    g.bench_function("parse 1M lines in 10,000 attribute sets", |bench| {
        bench.iter(|| {
            let mut t = RouteTable::default();
            t.parse_lines(&own).unwrap();
            t.finish()
        })
    });
    // What a session waits for before its first UPDATE with
    // `Pool::set_table`: the routes sorted and grouped, no tree.
    g.bench_function(
        "parse 1M lines in 10,000 attribute sets, sorted and grouped",
        |bench| {
            bench.iter(|| {
                let mut t = RouteTable::default();
                t.parse_lines(&own).unwrap();
                t.sort()
            })
        },
    );
    g.finish();
}

criterion_group!(benches, encode, decode, rib, load);
criterion_main!(benches);

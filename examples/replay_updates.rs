//! Measures a peer's own ingest limit: encodes every UPDATE for a route
//! file (`--advertise-file` lines, attributes included, or an MRT dump
//! named `*.mrt`, as `--advertise-mrt` reads it) *before* connecting, brings up an iBGP session (AS 65001, IPv4 and
//! IPv6 unicast) to 127.0.0.1:PORT, prints `sending <unix-nanos>` and writes
//! the pre-encoded UPDATEs in one go, then keeps the session alive until
//! killed. `scripts/bench-bird.sh` uses it to report BIRD's limit next to
//! cue-bgp's figure.
//!
//! ```text
//! cargo run --release --example replay_updates -- PORT ROUTE-FILE
//! ```

use cue::bgp::mrt::read::{read_routes, MrtOptions};
use cue::bgp::route::RouteTable;
use cue::bgp::session::policy::{self, ExportContext};
use cue::bgp::wire::{self, DecodeContext, Family, Message, Open, UpdateBuilder};
use cue::bgp::{AttributeOverrides, Parameters};
use ipnet::IpNet;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(port), Some(file)) = (args.get(1), args.get(2)) else {
        return Err("usage: replay_updates PORT ROUTE-FILE".into());
    };
    let port: u16 = port.parse()?;
    // The routes and their attribute sets, as `cue-bgp --advertise-file`
    // reads them, encoded by the same export policy towards an internal
    // peer: only the sending differs.
    let mut table = RouteTable::default();
    if file.ends_with(".mrt") {
        // An MRT dump, read as `--advertise-mrt` reads it.
        let read = read_routes(&std::fs::read(file)?, &MrtOptions::default())?;
        table.extend_shared(read.routes);
    } else {
        table.parse_lines(&std::fs::read_to_string(file)?)?;
    }
    let (prefixes, own) = table.finish();
    let ctx = DecodeContext::with_four_octet_as(true);
    let export = ExportContext {
        local_as: 65001,
        router_id: Ipv4Addr::new(127, 0, 0, 1),
        peer_as: 65001,
        four_octet_as: true,
        local_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    let params = Parameters {
        next_hop6: Some(Ipv6Addr::LOCALHOST),
        ..Default::default()
    };
    let mut plain = Vec::new();
    let mut groups: HashMap<*const AttributeOverrides, (&AttributeOverrides, Vec<IpNet>)> =
        HashMap::new();
    for p in &prefixes {
        match own.get(p) {
            Some(a) => groups
                .entry(Arc::as_ptr(a))
                .or_insert((a, Vec::new()))
                .1
                .push(*p),
            None => plain.push(*p),
        }
    }
    let mut updates = Vec::new();
    let mut encode = |e: policy::Export, list: &[IpNet]| {
        let builder = UpdateBuilder::new(&e.attributes, e.next_hop4, &e.next_hops6, ctx);
        builder.announce(Family::Ipv4Unicast, list, &mut updates);
        builder.announce(Family::Ipv6Unicast, list, &mut updates);
    };
    encode(policy::export(&export, &params), &plain);
    for (a, list) in groups.values() {
        encode(policy::export_with(&export, &params, a), list);
    }

    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_nodelay(true)?;
    let open = Open::new(
        65001,
        90,
        Ipv4Addr::new(127, 0, 0, 1),
        &[Family::Ipv4Unicast, Family::Ipv6Unicast],
    );
    s.write_all(&Message::Open(open).to_bytes(ctx))?;
    // Wait for the peer's OPEN and KEEPALIVE.
    let mut buf = Vec::new();
    let mut seen_keepalive = false;
    while !seen_keepalive {
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err("the peer closed the connection".into());
        }
        buf.extend_from_slice(&chunk[..n]);
        while let Some(len) = wire::frame(&buf)? {
            match Message::decode(&buf[..len], ctx)? {
                Message::Open(_) => s.write_all(&Message::Keepalive.to_bytes(ctx))?,
                Message::Keepalive => seen_keepalive = true,
                Message::Notification(n) => return Err(n.to_string().into()),
                _ => {}
            }
            buf.drain(..len);
        }
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?;
    println!("sending {}", now.as_nanos());
    std::io::stdout().flush()?;
    s.write_all(&updates)?;
    loop {
        std::thread::sleep(Duration::from_secs(20));
        s.write_all(&Message::Keepalive.to_bytes(ctx))?;
    }
}

//! Measures a peer's own ingest limit: encodes every UPDATE for a prefix
//! file *before* connecting, brings up an iBGP session (AS 65001, IPv4 and
//! IPv6 unicast) to 127.0.0.1:PORT, prints `sending <unix-nanos>` and writes
//! the pre-encoded UPDATEs in one go, then keeps the session alive until
//! killed. `scripts/bench-bird.sh` uses it to report BIRD's limit next to
//! cue-bgp's figure.
//!
//! ```text
//! cargo run --release --example replay_updates -- PORT PREFIX-FILE
//! ```

use cue::bgp::wire::{
    self, AsPath, DecodeContext, Family, Message, Open, Origin, PathAttributes, UpdateBuilder,
};
use ipnet::IpNet;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpStream};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(port), Some(file)) = (args.get(1), args.get(2)) else {
        return Err("usage: replay_updates PORT PREFIX-FILE".into());
    };
    let port: u16 = port.parse()?;
    let text = std::fs::read_to_string(file)?;
    let mut prefixes: Vec<IpNet> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            l.parse::<IpNet>()
                .or_else(|_| l.parse::<IpAddr>().map(IpNet::from))
        })
        .collect::<Result<_, _>>()?;
    prefixes.sort_unstable();
    prefixes.dedup();

    let ctx = DecodeContext::with_four_octet_as(true);
    let attrs = PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::default()),
        local_pref: Some(100),
        ..Default::default()
    };
    let builder = UpdateBuilder::new(&attrs, Ipv4Addr::LOCALHOST, &[Ipv6Addr::LOCALHOST], ctx);
    let mut updates = Vec::new();
    builder.announce(Family::Ipv4Unicast, &prefixes, &mut updates);
    builder.announce(Family::Ipv6Unicast, &prefixes, &mut updates);

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

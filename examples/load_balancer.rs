//! A miniature load balancer: health-checks the services of a JSON file
//! (the format of `cue-bgp check`) and advertises the healthy VIPs to one
//! BGP peer, as they change (route health injection). Only the library's
//! public API is used.
//!
//! ```text
//! cargo run --example load_balancer -- SERVICES.json PEER [PORT]
//! cargo run --example load_balancer -- examples/services-loopback.json 127.0.0.1 1179
//! ```
//!
//! The session is iBGP, AS 65001, router ID 127.0.0.1, IPv4 and IPv6
//! unicast; over a loopback session IPv6 VIPs get the next hop ::1. SIGINT
//! withdraws every VIP and closes the session with Cease.

use cue::bgp::{Event, Parameters, PeerConfig, Pool};
use cue::director::{Config, DirectorEvent};
use cue::rhi::HealthInjector;
use std::net::{IpAddr, Ipv6Addr};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (file, peer, port) = match &args[..] {
        [f, p] => (f, p, 179),
        [f, p, port] => (f, p, port.parse()?),
        _ => return Err("usage: load_balancer SERVICES.json PEER [PORT]".into()),
    };
    let config = Config::from_json(&std::fs::read_to_string(file)?)?;
    let peer: IpAddr = peer.parse()?;

    // One iBGP peer, both families; the library checks the configuration.
    let (pool, mut bgp_events) = Pool::new();
    let next_hop6 = peer.is_loopback().then_some(Ipv6Addr::LOCALHOST);
    pool.configure(vec![PeerConfig::builder(peer, 65001, "127.0.0.1".parse()?)
        .port(port)
        .peer_as(65001)
        .multiprotocol(true)
        .connect_retry(std::time::Duration::from_secs(1))
        .parameters(Parameters {
            next_hop6,
            ..Default::default()
        })
        .build()?])
        .await?;

    // Health checks; the healthy VIPs become the pool's Loc-RIB.
    let (rhi, mut health_events) = HealthInjector::start(pool, config)?;
    loop {
        tokio::select! {
            Some(e) = health_events.recv() => match e {
                DirectorEvent::Service { service, up, available, required } => {
                    println!("service {service} {} ({available}/{required} destinations)",
                        if up { "up" } else { "down" });
                }
                DirectorEvent::Destination { service, destination, up, diagnostic } => {
                    println!("  {service} destination {destination} {} {diagnostic}",
                        if up { "up" } else { "down" });
                }
                _ => {}
            },
            Some(e) = bgp_events.recv() => match e {
                Event::State { peer, state } => println!("peer {peer}: {state}"),
                Event::Sent { announce, withdraw, .. } => {
                    for p in announce.iter() { println!("announced {p}"); }
                    for p in withdraw.iter() { println!("withdrawn {p}"); }
                }
                Event::Down { peer, reason, .. } => println!("peer {peer} down: {reason}"),
                _ => {}
            },
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    // Withdraw everything, Cease / Administrative Shutdown, final status.
    for status in rhi.shutdown().await {
        println!(
            "peer {}: {} routes advertised over its life",
            status.peer, status.counters.advertised
        );
    }
    Ok(())
}

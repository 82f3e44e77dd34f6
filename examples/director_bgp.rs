//! An embedder in a few lines: a director health-checks the services of a
//! JSON file, and a BGP pool advertises the VIPs it finds healthy, as they
//! change (route health injection).
//!
//! ```text
//! cargo run --example director_bgp -- SERVICES.json AS ROUTER-ID PEER:PORT
//! cargo run --example director_bgp -- examples/services-loopback.json 65001 127.0.0.1 127.0.0.1:1179
//! ```

use cue::bgp::{Event, PeerConfig, Pool};
use cue::director::{Config, Director, DirectorEvent};
use ipnet::IpNet;
use std::net::SocketAddr;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, file, asn, router_id, peer] = &args[..] else {
        return Err("usage: director_bgp SERVICES.json AS ROUTER-ID PEER:PORT".into());
    };
    let config = Config::from_json(&std::fs::read_to_string(file)?)?;
    let peer: SocketAddr = peer.parse()?;

    let (pool, mut bgp_events) = Pool::new();
    let mut p = PeerConfig::new(peer.ip(), asn.parse()?, router_id.parse()?);
    p.address = peer;
    p.multiprotocol = true;
    pool.configure(vec![p]).await;

    let (director, mut health_events) = Director::start(config);
    let mut changed = director.changed();
    loop {
        tokio::select! {
            r = changed.changed() => {
                if r.is_err() { break; }
                let vips = director.healthy_vips();
                println!("healthy VIPs: {vips:?}");
                pool.set_rib(vips.into_iter().map(IpNet::from));
            }
            Some(e) = health_events.recv() => {
                if !matches!(e, DirectorEvent::Probe { .. }) {
                    println!("{e:?}");
                }
            }
            Some(e) = bgp_events.recv() => {
                if let Event::State { peer, state } = e {
                    println!("{peer}: {state}");
                }
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    pool.set_rib([]);
    pool.shutdown().await;
    Ok(())
}

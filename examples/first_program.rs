//! An embedder's first program: announce two prefixes to one BGP peer,
//! wait until they are sent, withdraw one, wait until that is sent, stop.
//! Only the library's public API is used.
//!
//! ```text
//! cargo run --example first_program -- PEER [PORT]
//! ```
//!
//! The session is iBGP, AS 65001, router ID 127.0.0.1, IPv4 unicast. After
//! each step the program says what it did and waits for a line on standard
//! input (Enter goes on; at the end of input it runs to the end): a script
//! can look at the peer between the steps. The stop withdraws what is left
//! and closes the session with Cease.

use cue::bgp::{PeerConfig, Pool};
use std::net::IpAddr;
use std::time::Duration;

/// Says what was done, then waits for a line (or the end) of standard
/// input, off the runtime's threads.
async fn step(what: &str) -> Result<(), Box<dyn std::error::Error>> {
    println!("{what}");
    tokio::task::spawn_blocking(|| std::io::stdin().read_line(&mut String::new())).await??;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (peer, port) = match &args[..] {
        [p] => (p, 179),
        [p, port] => (p, port.parse()?),
        _ => return Err("usage: first_program PEER [PORT]".into()),
    };
    let peer: IpAddr = peer.parse()?;
    let (pool, _events) = Pool::new();
    let (one, two) = ("192.0.2.10/32".parse()?, "192.0.2.11/32".parse()?);
    pool.announce([one, two]);
    let config = PeerConfig::builder(peer, 65001, "127.0.0.1".parse()?)
        .port(port)
        .connect_retry(Duration::from_secs(1))
        .build()?;
    pool.configure(vec![config]).await?;
    // A bounded wait: an error at once if the peer refuses us for good.
    pool.wait_established_within(Duration::from_secs(30))
        .await?;
    // Established is not enough: wait until the routes are written.
    pool.wait_sent().await;
    step("announced 192.0.2.10/32 192.0.2.11/32").await?;
    pool.withdraw([two]);
    pool.wait_sent().await;
    step("withdrew 192.0.2.11/32").await?;
    pool.shutdown().await;
    println!("stopped");
    Ok(())
}

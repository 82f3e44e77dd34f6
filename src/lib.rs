//! # cue
//!
//! A BGP speaker and a load-balancer director: it health-checks backends
//! and advertises the virtual IP addresses (VIPs) of healthy services as
//! /32 and /128 host routes to one or more peers, over IPv4 or IPv6, with
//! multiprotocol extensions (route health injection).
//!
//! The core of a load balancer that embeds it (`examples/load_balancer.rs`
//! is the whole program):
//!
//! ```no_run
//! use cue::bgp::{Event, PeerConfig, Pool};
//! use cue::director::{Config, DirectorEvent};
//! use cue::rhi::HealthInjector;
//!
//! # async fn load_balancer(file: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::from_json(&std::fs::read_to_string(file)?)?; // checked whole
//!
//! // One iBGP peer, IPv4 and IPv6 unicast; every field is checked.
//! let (pool, mut bgp_events) = Pool::new();
//! let peer = PeerConfig::builder("127.0.0.1".parse()?, 65001, "127.0.0.1".parse()?)
//!     .port(1179)
//!     .peer_as(65001)
//!     .multiprotocol(true)
//!     .build()?;
//! pool.configure(vec![peer]).await?;
//!
//! // Health checks; the pool advertises the VIPs found healthy, as they change.
//! let (rhi, mut health_events) = HealthInjector::start(pool, config)?;
//! loop {
//!     tokio::select! {
//!         Some(DirectorEvent::Service { service, up, .. }) = health_events.recv() => {
//!             println!("service {service} {}", if up { "up" } else { "down" });
//!         }
//!         Some(Event::State { peer, state }) = bgp_events.recv() => println!("{peer}: {state}"),
//!         _ = tokio::signal::ctrl_c() => break,
//!     }
//! }
//! rhi.shutdown().await; // withdraw every VIP, Cease / Administrative Shutdown
//! # Ok(()) }
//! ```
//!
//! | module | what |
//! |---|---|
//! | [`bgp::wire`] | pure codec (RFC 4271, 4760, 6793, 1997, 8092, 2918) with RFC 4271 section 6 errors and typed NOTIFICATION codes |
//! | [`bgp::fsm`] | sans-IO session state machine, time passed in |
//! | [`bgp::core`] | sans-IO session policy beside it: graceful restart, End-of-RIB, prefix limit, close reasons, write bounds |
//! | [`bgp::config`] | [`PeerConfig`](bgp::PeerConfig) and [`Parameters`](bgp::Parameters), checked, with a builder |
//! | [`bgp::session`] | tokio driver of one session (I/O around the core); [`bgp::session::policy`] is its export policy, pure |
//! | [`bgp::rib`] | Loc-RIB to Adj-RIB-Out, deltas, Adj-RIB-In |
//! | [`bgp::route`] | routes as text: the route syntax, tables loaded from files, sorted groups, expectations |
//! | [`bgp::mrt`] | MRT (RFC 6396) reading and recording |
//! | [`bgp::pool`] | peers sharing one Loc-RIB; reconfiguration; listener; status watch |
//! | [`bgp::event`], [`bgp::error`] | events (bounded, never blocking a session) and typed errors |
//! | `director` | health checks of backends; which services and VIPs are up (feature `director`) |
//! | `rhi` | route health injection: a director and a pool joined (feature `director`) |
//! | `scenario` | a router under test: emulated peers, observers, a timeline, per-prefix latency (feature `scenario`) |
//! | [`script`] | the command language of `--commands` (announce, withdraw, expect, ...) |
//!
//! Features: `director` (default) brings the health checks (rustls,
//! hickory-proto, httparse); `scenario` (default) a router under test
//! (toml); `cli` (default) the `cue-bgp` command. With
//! `default-features = false` the crate is the BGP speaker alone, on tokio,
//! ipnet, serde, thiserror and tracing. The library emits `tracing` events
//! (sessions at info, faults at warn, UPDATE work at debug); it installs no
//! subscriber.

pub mod bgp;
#[cfg(feature = "director")]
pub mod director;
#[cfg(feature = "metrics")]
pub mod metrics;
#[cfg(feature = "director")]
pub mod rhi;
#[cfg(feature = "scenario")]
pub mod scenario;
pub mod script;

/// Locks `m`; a lock poisoned by a panicking holder is taken as it is (its
/// data stays usable: every holder leaves it consistent between calls).
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The README's code examples, compiled as doc tests.
#[cfg(all(doctest, feature = "director"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

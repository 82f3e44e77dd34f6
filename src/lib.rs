//! # cue
//!
//! A BGP speaker for route health injection: it advertises the virtual IP
//! addresses a load balancer serves as /32 and /128 host routes to one or
//! more peers, over IPv4 or IPv6, with multiprotocol extensions.
//!
//! | module | what |
//! |---|---|
//! | [`bgp::wire`] | pure codec (RFC 4271, 4760, 6793, 1997, 8092, 2918) with RFC 4271 section 6 errors |
//! | [`bgp::fsm`] | sans-IO session state machine, time passed in |
//! | [`bgp::session`] | tokio driver of one session |
//! | [`bgp::rib`] | Loc-RIB to Adj-RIB-Out, deltas, Adj-RIB-In |
//! | [`bgp::pool`] | peers sharing one Loc-RIB; reconfiguration; listener |
//! | [`bgp::event`] | events and status for the embedder |
//! | [`director`] | health checks of backends; which services and VIPs are up |
//!
//! Start with [`bgp::Pool`].

pub mod bgp;
#[cfg(feature = "director")]
pub mod director;
#[cfg(feature = "director")]
pub mod rhi;

/// The README's code examples, compiled as doc tests.
#[cfg(all(doctest, feature = "director"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

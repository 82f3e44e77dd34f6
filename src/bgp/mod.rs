//! The BGP speaker: wire codec, session state machine, tokio driver, RIBs
//! and the pool of peers.

pub mod wire;

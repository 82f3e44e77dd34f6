//! # cue
//!
//! A BGP speaker for route health injection and a load-balancer director.
//!
//! - [`bgp::wire`]: pure BGP-4 codec (RFC 4271, 4760, 6793, 1997, 8092, 2918).
pub mod bgp;

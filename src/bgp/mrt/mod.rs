//! MRT (RFC 6396), the format `bgpdump`, `mrtparse` and the route
//! collectors use: recording sessions (every BGP message sent and received,
//! as a BGP4MP record), and reading routes out of RIB dumps and recorded
//! sessions ([`read`]).
//!
//! ```text
//! MRT common header: Timestamp (4) | Type (2) = 16 BGP4MP | Subtype (2) | Length (4)
//! BGP4MP_MESSAGE_AS4 (4), or _AS4_LOCAL (7) for what we sent:
//!   Peer AS (4) | Local AS (4) | Interface Index (2) | Address Family (2)
//!   Peer IP (4 or 16) | Local IP (4 or 16) | BGP message, marker included
//! ```
//!
//! A session without 4-octet AS numbers is recorded with the 2-octet
//! subtypes (BGP4MP_MESSAGE, BGP4MP_MESSAGE_LOCAL), so that a reader
//! decodes its AS_PATH with the right width; a session whose NLRI carry
//! ADD-PATH path identifiers is recorded with the ADD-PATH subtypes of RFC
//! 8050 in the directions that carry them.
//!
//! ```
//! use cue::bgp::mrt::{encode_bgp4mp, Bgp4mpPeers};
//! let peers = Bgp4mpPeers { peer_as: 65002, local_as: 65001, peer: "192.0.2.2".parse().unwrap(),
//!     local: "192.0.2.1".parse().unwrap(), four_octet_as: true,
//!     add_path_sent: false, add_path_received: false };
//! let keepalive = [&[0xff; 16][..], &[0, 19, 4]].concat();
//! let mut out = Vec::new();
//! encode_bgp4mp(&peers, false, std::time::UNIX_EPOCH, &keepalive, &mut out);
//! assert_eq!(&out[4..8], &[0, 16, 0, 4], "BGP4MP, BGP4MP_MESSAGE_AS4");
//! assert_eq!(out.len(), 12 + 20 + 19);
//! ```

pub mod read;

use super::wire::AS_TRANS;
use std::io::{self, Write};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::SystemTime;

/// MRT type BGP4MP and its message subtypes (RFC 6396 section 4.4).
const BGP4MP: u16 = 16;
const BGP4MP_MESSAGE: u16 = 1;
const BGP4MP_MESSAGE_AS4: u16 = 4;
const BGP4MP_MESSAGE_LOCAL: u16 = 6;
const BGP4MP_MESSAGE_AS4_LOCAL: u16 = 7;
/// The same with ADD-PATH path identifiers in the NLRI (RFC 8050).
const BGP4MP_MESSAGE_ADDPATH: u16 = 8;
const BGP4MP_MESSAGE_AS4_ADDPATH: u16 = 9;
const BGP4MP_MESSAGE_LOCAL_ADDPATH: u16 = 10;
const BGP4MP_MESSAGE_AS4_LOCAL_ADDPATH: u16 = 11;

/// A BGP4MP message subtype: (4-octet AS, a message of ours, ADD-PATH),
/// or `None` for another subtype.
fn bgp4mp_subtype(subtype: u16) -> Option<(bool, bool, bool)> {
    Some(match subtype {
        BGP4MP_MESSAGE => (false, false, false),
        BGP4MP_MESSAGE_AS4 => (true, false, false),
        BGP4MP_MESSAGE_LOCAL => (false, true, false),
        BGP4MP_MESSAGE_AS4_LOCAL => (true, true, false),
        BGP4MP_MESSAGE_ADDPATH => (false, false, true),
        BGP4MP_MESSAGE_AS4_ADDPATH => (true, false, true),
        BGP4MP_MESSAGE_LOCAL_ADDPATH => (false, true, true),
        BGP4MP_MESSAGE_AS4_LOCAL_ADDPATH => (true, true, true),
        _ => return None,
    })
}

/// Who the messages of one session are between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bgp4mpPeers {
    /// The peer's AS (0 until its OPEN is known).
    pub peer_as: u32,
    /// Our AS.
    pub local_as: u32,
    /// The peer's address.
    pub peer: IpAddr,
    /// Our address on the connection.
    pub local: IpAddr,
    /// Both sides use 4-octet AS numbers.
    pub four_octet_as: bool,
    /// The NLRI of our messages carry ADD-PATH path identifiers (RFC 7911):
    /// they are recorded with the ADD-PATH subtypes of RFC 8050.
    pub add_path_sent: bool,
    /// The NLRI of the peer's messages carry path identifiers.
    pub add_path_received: bool,
}

/// Appends one BGP4MP record for `message` (one whole BGP message) to
/// `out`; `sent` marks a message of ours (the `_LOCAL` subtypes).
pub fn encode_bgp4mp(
    peers: &Bgp4mpPeers,
    sent: bool,
    time: SystemTime,
    message: &[u8],
    out: &mut Vec<u8>,
) {
    // One family for both addresses; IPv4-mapped ones are IPv4.
    let canon = |a: IpAddr| match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(a, IpAddr::V4),
        v4 => v4,
    };
    let (peer, local) = match (canon(peers.peer), canon(peers.local)) {
        (IpAddr::V4(p), IpAddr::V6(l)) => (IpAddr::V6(p.to_ipv6_mapped()), IpAddr::V6(l)),
        (IpAddr::V6(p), IpAddr::V4(l)) => (IpAddr::V6(p), IpAddr::V6(l.to_ipv6_mapped())),
        pair => pair,
    };
    let add_path = if sent {
        peers.add_path_sent
    } else {
        peers.add_path_received
    };
    let kind = (peers.four_octet_as, sent, add_path);
    let subtype = (1..=BGP4MP_MESSAGE_AS4_LOCAL_ADDPATH)
        .find(|s| bgp4mp_subtype(*s) == Some(kind))
        .expect("every kind has its subtype");
    let secs = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32);
    out.extend_from_slice(&secs.to_be_bytes());
    out.extend_from_slice(&BGP4MP.to_be_bytes());
    out.extend_from_slice(&subtype.to_be_bytes());
    let len_at = out.len();
    out.extend_from_slice(&[0; 4]);
    let body = out.len();
    let asn = |out: &mut Vec<u8>, a: u32| {
        if peers.four_octet_as {
            out.extend_from_slice(&a.to_be_bytes());
        } else {
            out.extend_from_slice(&u16::try_from(a).unwrap_or(AS_TRANS).to_be_bytes());
        }
    };
    asn(out, peers.peer_as);
    asn(out, peers.local_as);
    out.extend_from_slice(&0u16.to_be_bytes()); // interface index
    match (peer, local) {
        (IpAddr::V4(p), IpAddr::V4(l)) => {
            out.extend_from_slice(&1u16.to_be_bytes());
            out.extend_from_slice(&p.octets());
            out.extend_from_slice(&l.octets());
        }
        (IpAddr::V6(p), IpAddr::V6(l)) => {
            out.extend_from_slice(&2u16.to_be_bytes());
            out.extend_from_slice(&p.octets());
            out.extend_from_slice(&l.octets());
        }
        _ => unreachable!("both addresses are of one family by now"),
    }
    out.extend_from_slice(message);
    let len = (out.len() - body) as u32;
    out[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
}

/// An MRT file that the sessions of a pool record into
/// ([`Pool::record_mrt`](super::Pool::record_mrt)): records are appended
/// whole, one write per batch of messages.
pub struct MrtRecorder {
    out: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for MrtRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MrtRecorder")
    }
}

impl MrtRecorder {
    /// Records into a new file at `path` (truncated if it exists).
    pub fn create(path: &std::path::Path) -> io::Result<MrtRecorder> {
        Ok(MrtRecorder::new(Box::new(std::fs::File::create(path)?)))
    }

    /// Records into any writer.
    pub fn new(out: Box<dyn Write + Send>) -> MrtRecorder {
        MrtRecorder {
            out: Mutex::new(out),
        }
    }

    /// Records every whole message in `messages` (several BGP messages one
    /// after another), sent by us or received, now.
    pub fn record(&self, peers: &Bgp4mpPeers, sent: bool, messages: &[u8]) {
        let now = SystemTime::now();
        let mut buf = Vec::with_capacity(messages.len() + 64);
        let mut rest = messages;
        while let Ok(Some(len)) = super::wire::frame(rest) {
            encode_bgp4mp(peers, sent, now, &rest[..len], &mut buf);
            rest = &rest[len..];
        }
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = out.write_all(&buf).and_then(|()| out.flush()) {
            tracing::error!(error = %e, "MRT record not written");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_and_two_octet_records() {
        let keepalive = [&[0xff; 16][..], &[0, 19, 4]].concat();
        let peers = Bgp4mpPeers {
            peer_as: 4_200_000_000,
            local_as: 65001,
            peer: "2001:db8::2".parse().unwrap(),
            local: "2001:db8::1".parse().unwrap(),
            four_octet_as: false,
            add_path_sent: false,
            add_path_received: false,
        };
        let mut out = Vec::new();
        encode_bgp4mp(&peers, true, SystemTime::UNIX_EPOCH, &keepalive, &mut out);
        assert_eq!(&out[4..8], &[0, 16, 0, 6], "BGP4MP_MESSAGE_LOCAL");
        assert_eq!(&out[12..14], &AS_TRANS.to_be_bytes());
        assert_eq!(&out[18..20], &[0, 2], "IPv6");
        assert_eq!(out.len(), 12 + 2 + 2 + 2 + 2 + 32 + 19);
        // A dual-stack socket's IPv4-mapped addresses are recorded as IPv4.
        let mapped = Bgp4mpPeers {
            peer: "::ffff:192.0.2.2".parse().unwrap(),
            local: "::ffff:192.0.2.1".parse().unwrap(),
            four_octet_as: true,
            add_path_sent: false,
            add_path_received: false,
            ..peers
        };
        out.clear();
        encode_bgp4mp(&mapped, false, SystemTime::UNIX_EPOCH, &keepalive, &mut out);
        assert_eq!(&out[22..24], &[0, 1], "IPv4");
        assert_eq!(&out[24..28], &[192, 0, 2, 2]);
    }
}

//! Dialling a peer: source address, TCP MD5 key, GTSM, connect timeout.

use crate::bgp::config::{is_link_local, PeerConfig};
use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::time::Duration;
use tokio::net::{TcpSocket, TcpStream};

/// Dials the peer, from the source address when one is set, with the TCP
/// MD5 key when one is set. The attempt is bounded by the connect-retry
/// delay (1 to 30 s).
pub(super) async fn connect(config: &PeerConfig) -> std::io::Result<TcpStream> {
    let socket = match config.address {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    if let Some(src) = config.source {
        let local = match (src, config.address) {
            // A link-local source takes the peer's zone.
            (IpAddr::V6(a), SocketAddr::V6(peer)) if is_link_local(a) => {
                SocketAddr::V6(SocketAddrV6::new(a, 0, 0, peer.scope_id()))
            }
            _ => SocketAddr::new(src, 0),
        };
        socket.bind(local)?;
    }
    if let Some(key) = &config.md5_key {
        crate::bgp::md5::set_key(&socket, config.address.ip(), key.as_bytes())?;
    }
    if let Some(hops) = config.ttl_security {
        crate::bgp::gtsm::set(&socket, config.address.is_ipv6(), hops)?;
    }
    let timeout = config
        .connect_retry
        .clamp(Duration::from_secs(1), Duration::from_secs(30));
    match tokio::time::timeout(timeout, socket.connect(config.address)).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "connection timed out",
        )),
    }
}

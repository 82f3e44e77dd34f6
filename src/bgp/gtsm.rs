//! The Generalized TTL Security Mechanism (RFC 5082) on Linux: packets go
//! out with TTL (hop limit) 255, and the kernel drops any that arrive with
//! less than `256 - hops`, so a peer more than `hops` hops away, or a
//! spoofer far off, cannot reach the session. Like [`md5`](super::md5), it
//! needs socket options no safe wrapper offers.

use std::io;
use std::os::fd::AsRawFd;

/// The TTL a GTSM speaker sends with.
pub const GTSM_TTL: i32 = 255;

/// The least TTL accepted from a peer `hops` hops away (1 to 255).
pub fn min_ttl(hops: u8) -> i32 {
    256 - i32::from(hops.max(1))
}

/// Sets an integer socket option (for BFD's sockets too).
#[allow(unsafe_code)]
pub(crate) fn set_int(socket: &impl AsRawFd, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: the value is an initialised c_int of the size passed; the
    // kernel only reads it.
    let r = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (&value as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Puts GTSM for a peer `hops` hops away on a TCP socket: one about to
/// connect, a listening one (its SYN-ACKs, and the connections it accepts),
/// or an accepted one. An IPv6 socket also gets the IPv4 options, for
/// IPv4-mapped peers of a dual-stack listener.
pub fn set(socket: &impl AsRawFd, ipv6: bool, hops: u8) -> io::Result<()> {
    let min = min_ttl(hops);
    if ipv6 {
        set_int(
            socket,
            libc::IPPROTO_IPV6,
            libc::IPV6_UNICAST_HOPS,
            GTSM_TTL,
        )?;
        set_int(socket, libc::IPPROTO_IPV6, libc::IPV6_MINHOPCOUNT, min)?;
        // Only a dual-stack socket takes these; an IPv6-only one need not.
        let _ = set_int(socket, libc::IPPROTO_IP, libc::IP_TTL, GTSM_TTL);
        let _ = set_int(socket, libc::IPPROTO_IP, libc::IP_MINTTL, min);
        Ok(())
    } else {
        set_int(socket, libc::IPPROTO_IP, libc::IP_TTL, GTSM_TTL)?;
        set_int(socket, libc::IPPROTO_IP, libc::IP_MINTTL, min)
    }
}

/// Takes GTSM off a socket again: the system's default TTL, no minimum.
pub fn clear(socket: &impl AsRawFd, ipv6: bool) -> io::Result<()> {
    if ipv6 {
        set_int(socket, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, -1)?;
        set_int(socket, libc::IPPROTO_IPV6, libc::IPV6_MINHOPCOUNT, 0)?;
        let _ = set_int(socket, libc::IPPROTO_IP, libc::IP_TTL, -1);
        let _ = set_int(socket, libc::IPPROTO_IP, libc::IP_MINTTL, 0);
        Ok(())
    } else {
        set_int(socket, libc::IPPROTO_IP, libc::IP_TTL, -1)?;
        set_int(socket, libc::IPPROTO_IP, libc::IP_MINTTL, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimum_ttl_by_hops() {
        assert_eq!(min_ttl(1), 255);
        assert_eq!(min_ttl(2), 254);
        assert_eq!(min_ttl(255), 1);
        assert_eq!(min_ttl(0), 255, "0 hops is read as 1");
    }

    #[test]
    fn sockets_take_it() {
        let s = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        set(&s, false, 1).unwrap();
        let s6 = std::net::TcpListener::bind("[::1]:0").unwrap();
        set(&s6, true, 3).unwrap();
        clear(&s6, true).unwrap();
    }

    /// A connection between two GTSM sockets on loopback (TTL 255 both
    /// ways) comes up; one from a socket with the default TTL does not.
    #[test]
    fn loopback_packets_meet_the_minimum() {
        use std::time::Duration;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        set(&l, false, 1).unwrap();
        let addr = l.local_addr().unwrap();
        // Default TTL 64: the SYN is dropped, the connect times out.
        let plain = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300));
        assert!(plain.is_err(), "a TTL-64 SYN must not get through");
        // TTL 255: connects.
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        set(&socket, false, 1).unwrap();
        socket
            .connect_timeout(&addr.into(), Duration::from_secs(2))
            .expect("a TTL-255 SYN gets through");
        // Off again: the plain connection gets through.
        clear(&l, false).unwrap();
        std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))
            .expect("no minimum any more");
    }
}

//! TCP MD5 signatures (RFC 2385) on Linux: the crate's one use of `unsafe`
//! outside the SYN check's socket registration, because no safe wrapper for
//! the TCP_MD5SIG socket option exists.

use std::io;
use std::net::IpAddr;
use std::os::fd::AsRawFd;

/// Longest key the kernel accepts.
pub const MAX_KEY_LEN: usize = 80;

/// `struct tcp_md5sig` of linux/tcp.h, laid out by hand: a 128-byte
/// `sockaddr_storage`, flags, prefix length, key length, interface index and
/// an 80-byte key.
fn md5sig(peer: IpAddr, key: &[u8]) -> [u8; 216] {
    let mut b = [0u8; 216];
    match peer {
        IpAddr::V4(a) => {
            b[0..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
            b[4..8].copy_from_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            b[0..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
            b[8..24].copy_from_slice(&a.octets());
        }
    }
    // tcpm_flags, tcpm_prefixlen: 0 (a single address).
    b[130..132].copy_from_slice(&(key.len() as u16).to_ne_bytes());
    // tcpm_ifindex: 0.
    b[136..136 + key.len()].copy_from_slice(key);
    b
}

/// Sets (or, with an empty key, removes) the MD5 key for `peer` on a TCP
/// socket: a socket about to connect, or a listening one.
#[allow(unsafe_code)]
pub fn set_key(socket: &impl AsRawFd, peer: IpAddr, key: &[u8]) -> io::Result<()> {
    if key.len() > MAX_KEY_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("a TCP MD5 key holds at most {MAX_KEY_LEN} bytes"),
        ));
    }
    let sig = md5sig(peer, key);
    // SAFETY: `sig` is a fully initialised buffer of the size passed, laid
    // out as the kernel's struct tcp_md5sig; the kernel only reads it.
    let r = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_MD5SIG,
            sig.as_ptr().cast(),
            sig.len() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let b = md5sig("10.1.2.3".parse().unwrap(), b"secret");
        assert_eq!(u16::from_ne_bytes([b[0], b[1]]), libc::AF_INET as u16);
        assert_eq!(&b[4..8], &[10, 1, 2, 3]);
        assert_eq!(u16::from_ne_bytes([b[130], b[131]]), 6);
        assert_eq!(&b[136..142], b"secret");
        let too_long = vec![b'x'; 81];
        let s = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        assert!(set_key(&s, "127.0.0.1".parse().unwrap(), &too_long).is_err());
    }

    #[test]
    fn a_listening_socket_takes_a_key() {
        let s = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        set_key(&s, "127.0.0.1".parse().unwrap(), b"secret").unwrap();
        let s6 = std::net::TcpListener::bind("[::1]:0").unwrap();
        set_key(&s6, "::1".parse().unwrap(), b"secret").unwrap();
    }
}

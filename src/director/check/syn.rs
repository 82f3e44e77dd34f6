//! `syn`: a half-open TCP check from a raw socket. A SYN goes out from a
//! port no other probe in flight uses; a SYN-ACK that acknowledges it
//! passes, a RST fails. The
//! kernel, which has no socket on that port, answers the SYN-ACK with a RST,
//! so no connection is left behind. Raw sockets need CAP_NET_RAW: without it
//! the check fails with a diagnostic that says so.

use super::super::config::CheckSpec;
use super::ProbeError;
use crate::lock;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::collections::HashMap;
use std::io::Read;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};
use tokio::io::unix::AsyncFd;
use tokio::sync::oneshot;

const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

/// The Internet checksum (RFC 1071) over `parts`, each of even length but the
/// last; the carries are folded until none is left.
pub(crate) fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u64 = 0;
    let mut odd: Option<u8> = None;
    for part in parts {
        for &b in part.iter() {
            match odd.take() {
                Some(hi) => sum += u16::from_be_bytes([hi, b]) as u64,
                None => odd = Some(b),
            }
        }
    }
    if let Some(hi) = odd {
        sum += (hi as u64) << 8;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A TCP SYN segment with its checksum over the pseudo-header.
pub(crate) fn syn_segment(src: IpAddr, dst: IpAddr, sport: u16, dport: u16, seq: u32) -> Vec<u8> {
    let mut tcp = Vec::with_capacity(20);
    tcp.extend_from_slice(&sport.to_be_bytes());
    tcp.extend_from_slice(&dport.to_be_bytes());
    tcp.extend_from_slice(&seq.to_be_bytes());
    tcp.extend_from_slice(&0u32.to_be_bytes()); // ack
    tcp.push(5 << 4); // data offset: 5 words
    tcp.push(SYN);
    tcp.extend_from_slice(&65535u16.to_be_bytes()); // window
    tcp.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    let len = tcp.len() as u32;
    let sum = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut ph = Vec::with_capacity(12);
            ph.extend_from_slice(&s.octets());
            ph.extend_from_slice(&d.octets());
            ph.extend_from_slice(&[0, 6]);
            ph.extend_from_slice(&(len as u16).to_be_bytes());
            checksum(&[&ph, &tcp])
        }
        (s, d) => {
            let s6 = match s {
                IpAddr::V6(a) => a,
                IpAddr::V4(a) => a.to_ipv6_mapped(),
            };
            let d6 = match d {
                IpAddr::V6(a) => a,
                IpAddr::V4(a) => a.to_ipv6_mapped(),
            };
            let mut ph = Vec::with_capacity(40);
            ph.extend_from_slice(&s6.octets());
            ph.extend_from_slice(&d6.octets());
            ph.extend_from_slice(&len.to_be_bytes());
            ph.extend_from_slice(&[0, 0, 0, 6]);
            checksum(&[&ph, &tcp])
        }
    };
    tcp[16..18].copy_from_slice(&sum.to_be_bytes());
    tcp
}

/// Hands the raw socket to tokio's reactor. The one place in the crate with
/// `unsafe`: tokio's registration asks the caller to promise that the file
/// descriptor stays open and the same while registered.
#[allow(unsafe_code)]
fn register(sock: Socket) -> std::io::Result<AsyncFd<Socket>> {
    // SAFETY: the AsyncFd takes ownership of the Socket, which owns its file
    // descriptor and closes it only when dropped, after the registration
    // (held by the same AsyncFd) is gone; as_raw_fd always returns that fd.
    unsafe { AsyncFd::register(sock) }.map_err(std::io::Error::from)
}

/// The local address the kernel would use towards `dst` (a UDP connect
/// sends nothing).
fn source_for(dst: SocketAddr) -> std::io::Result<IpAddr> {
    let bind: SocketAddr = match dst {
        SocketAddr::V4(_) => "0.0.0.0:0".parse().expect("literal"),
        SocketAddr::V6(_) => "[::]:0".parse().expect("literal"),
    };
    let s = UdpSocket::bind(bind)?;
    s.connect(dst)?;
    Ok(s.local_addr()?.ip())
}

/// What a received TCP segment says about our SYN.
fn judge(tcp: &[u8], dport: u16, sport: u16, seq: u32) -> Option<Reply> {
    if tcp.len() < 20 {
        return None;
    }
    let from = u16::from_be_bytes([tcp[0], tcp[1]]);
    let to = u16::from_be_bytes([tcp[2], tcp[3]]);
    if from != dport || to != sport {
        return None;
    }
    let ack = u32::from_be_bytes([tcp[8], tcp[9], tcp[10], tcp[11]]);
    let flags = tcp[13];
    if flags & (SYN | ACK) == SYN | ACK && ack == seq.wrapping_add(1) {
        return Some(Ok("SYN-ACK".into()));
    }
    if flags & RST != 0 {
        return Some(Err(ProbeError::connect("RST: port closed")));
    }
    None
}

/// Raw sockets for SYN checks, one per address family, shared by every
/// SYN check of a director. One reader per socket hands each reply to the
/// probe waiting on its source port, so ten thousand SYN checks cost two
/// sockets and two tasks, not one socket (and one copy of every incoming
/// TCP segment) per probe.
///
/// ``` no_run
/// # async fn demo(specs: Vec<cue::director::CheckSpec>) {
/// use cue::director::check::{Prober, SynSockets};
/// // Many SYN checks, two raw sockets (IPv4 and IPv6) between them.
/// let shared = std::sync::Arc::new(SynSockets::default());
/// let probers: Vec<Prober> = specs.into_iter().map(|s| Prober::with_syn_sockets(s, shared.clone())).collect();
/// # }
/// ```
#[derive(Default)]
pub struct SynSockets {
    v4: std::sync::OnceLock<Result<Arc<RawFamily>, ProbeError>>,
    v6: std::sync::OnceLock<Result<Arc<RawFamily>, ProbeError>>,
}

impl std::fmt::Debug for SynSockets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SynSockets")
    }
}

type Reply = Result<String, ProbeError>;

/// One raw socket, its reader, and the probes waiting for a reply, by local
/// (source) port.
pub(crate) struct RawFamily {
    fd: Arc<AsyncFd<Socket>>,
    waiting: Arc<Mutex<HashMap<u16, Waiter>>>,
    next_port: Mutex<u16>,
    reader: tokio::task::JoinHandle<()>,
}

struct Waiter {
    remote: IpAddr,
    remote_port: u16,
    seq: u32,
    reply: oneshot::Sender<Reply>,
}

impl Drop for RawFamily {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

const FIRST_PORT: u16 = 40_000;
const LAST_PORT: u16 = 59_999;

impl RawFamily {
    fn open(ipv4: bool) -> Result<RawFamily, ProbeError> {
        let domain = if ipv4 { Domain::IPV4 } else { Domain::IPV6 };
        let raw = |e: std::io::Error| ProbeError::local(format!("raw socket: {e}"));
        let sock = Socket::new(domain, Type::RAW, Some(Protocol::TCP)).map_err(|e| {
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                ProbeError::local("syn checks need CAP_NET_RAW (raw socket: permission denied)")
            } else {
                raw(e)
            }
        })?;
        sock.set_nonblocking(true).map_err(raw)?;
        let fd = Arc::new(register(sock).map_err(raw)?);
        let waiting: Arc<Mutex<HashMap<u16, Waiter>>> = Arc::default();
        let reader = tokio::spawn(read_replies(fd.clone(), waiting.clone(), ipv4));
        Ok(RawFamily {
            fd,
            waiting,
            next_port: Mutex::new(rand::random_range(FIRST_PORT..=LAST_PORT)),
            reader,
        })
    }

    /// A source port no probe in flight uses, with the probe registered on it.
    fn register_probe(&self, w: Waiter) -> Option<u16> {
        let mut waiting = lock(&self.waiting);
        let mut next = lock(&self.next_port);
        for _ in FIRST_PORT..=LAST_PORT {
            let port = *next;
            *next = if port >= LAST_PORT {
                FIRST_PORT
            } else {
                port + 1
            };
            if let std::collections::hash_map::Entry::Vacant(e) = waiting.entry(port) {
                e.insert(w);
                return Some(port);
            }
        }
        None
    }
}

/// Reads every TCP segment the raw socket sees and answers the probe whose
/// source port it is addressed to.
async fn read_replies(
    fd: Arc<AsyncFd<Socket>>,
    waiting: Arc<Mutex<HashMap<u16, Waiter>>>,
    ipv4: bool,
) {
    let mut buf = [0u8; 1500];
    loop {
        let Ok(mut guard) = fd.readable().await else {
            return;
        };
        let n = match guard.try_io(|s| {
            let mut r: &Socket = s.get_ref();
            r.read(&mut buf)
        }) {
            Ok(Ok(n)) => n,
            Ok(Err(_)) | Err(_) => continue,
        };
        let packet = &buf[..n];
        // IPv4 raw sockets deliver the IP header too (and so the source
        // address); IPv6 ones deliver the TCP segment alone.
        let (from, tcp) = if ipv4 {
            let ihl = (packet.first().map_or(0, |b| b & 0x0f) as usize) * 4;
            let (Some(src), Some(t)) = (packet.get(12..16), packet.get(ihl..)) else {
                continue;
            };
            if ihl < 20 {
                continue;
            }
            (Some(IpAddr::from([src[0], src[1], src[2], src[3]])), t)
        } else {
            (None, packet)
        };
        if tcp.len() < 20 {
            continue;
        }
        let to = u16::from_be_bytes([tcp[2], tcp[3]]);
        let mut w = lock(&waiting);
        let Some(waiter) = w.get(&to) else { continue };
        if from.is_some_and(|f| f != waiter.remote) {
            continue;
        }
        if let Some(r) = judge(tcp, waiter.remote_port, to, waiter.seq) {
            if let Some(waiter) = w.remove(&to) {
                let _ = waiter.reply.send(r);
            }
        }
    }
}

/// Removes a probe's registration when it ends, answered or not (timeout).
struct Registered<'a> {
    family: &'a RawFamily,
    port: u16,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        lock(&self.family.waiting).remove(&self.port);
    }
}

impl SynSockets {
    fn family(&self, ipv4: bool) -> Result<Arc<RawFamily>, ProbeError> {
        let cell = if ipv4 { &self.v4 } else { &self.v6 };
        cell.get_or_init(|| RawFamily::open(ipv4).map(Arc::new))
            .clone()
    }

    /// One SYN probe: SYN out, SYN-ACK passes, RST fails; the caller bounds
    /// the wait.
    /// `source` caches the local address towards the destination between
    /// probes of one check (looked up again after a failed send).
    pub(super) async fn probe(&self, spec: &CheckSpec, source: &mut Option<IpAddr>) -> Reply {
        let dst = SocketAddr::new(spec.address, spec.port);
        let family = self.family(dst.is_ipv4())?;
        let src = match *source {
            Some(s) => s,
            None => {
                let s = source_for(dst)
                    .map_err(|e| ProbeError::local(format!("no route to {dst}: {e}")))?;
                *source = Some(s);
                s
            }
        };
        let seq: u32 = rand::random();
        let (tx, rx) = oneshot::channel();
        let port = family
            .register_probe(Waiter {
                remote: spec.address,
                remote_port: spec.port,
                seq,
                reply: tx,
            })
            .ok_or_else(|| ProbeError::local("no free source port for a SYN probe"))?;
        let _registered = Registered {
            family: &family,
            port,
        };
        let segment = syn_segment(src, spec.address, port, spec.port, seq);
        let to = SockAddr::from(SocketAddr::new(spec.address, 0));
        loop {
            let mut guard = family
                .fd
                .writable()
                .await
                .map_err(|e| ProbeError::response(format!("send: {e}")))?;
            match guard.try_io(|s| s.get_ref().send_to(&segment, &to)) {
                Ok(r) => {
                    if let Err(e) = r {
                        *source = None;
                        return Err(ProbeError::response(format!("send: {e}")));
                    }
                    break;
                }
                Err(_would_block) => continue,
            }
        }
        rx.await
            .map_err(|_| ProbeError::local("the SYN reader stopped"))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example_folds_every_carry() {
        // RFC 1071 section 3: 0001 f203 f4f5 f6f7 sums to 2ddf0, folds to
        // ddf2, whose complement is 220d.
        assert_eq!(
            checksum(&[&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]]),
            0x220d
        );
        // Many 0xffff words: the carry must be folded more than once.
        let ones = vec![0xffu8; 2 * 70_000];
        assert_eq!(checksum(&[&ones]), 0x0000);
        // Odd length: the last byte is padded.
        assert_eq!(checksum(&[&[0x01]]), !0x0100);
    }

    #[test]
    fn syn_segment_checksum_verifies() {
        let src: IpAddr = "192.0.2.1".parse().unwrap();
        let dst: IpAddr = "192.0.2.2".parse().unwrap();
        let seg = syn_segment(src, dst, 40000, 80, 0x01020304);
        let mut ph = Vec::new();
        ph.extend_from_slice(&[192, 0, 2, 1, 192, 0, 2, 2, 0, 6, 0, 20]);
        // A correct checksum makes the sum over everything fold to zero.
        assert_eq!(checksum(&[&ph, &seg]), 0);
        assert_eq!(seg[13], SYN);
        let src6: IpAddr = "2001:db8::1".parse().unwrap();
        let dst6: IpAddr = "2001:db8::2".parse().unwrap();
        let seg6 = syn_segment(src6, dst6, 40000, 80, 7);
        let mut ph6 = Vec::new();
        ph6.extend_from_slice(
            &"2001:db8::1"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
        );
        ph6.extend_from_slice(
            &"2001:db8::2"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
        );
        ph6.extend_from_slice(&[0, 0, 0, 20, 0, 0, 0, 6]);
        assert_eq!(checksum(&[&ph6, &seg6]), 0);
    }

    #[test]
    fn judging_replies() {
        let mut synack = vec![0u8; 20];
        synack[0..2].copy_from_slice(&80u16.to_be_bytes());
        synack[2..4].copy_from_slice(&40000u16.to_be_bytes());
        synack[8..12].copy_from_slice(&8u32.to_be_bytes());
        synack[13] = SYN | ACK;
        assert_eq!(judge(&synack, 80, 40000, 7), Some(Ok("SYN-ACK".into())));
        assert_eq!(judge(&synack, 80, 40000, 9), None, "wrong ack");
        assert_eq!(judge(&synack, 81, 40000, 7), None, "wrong port");
        synack[13] = RST | ACK;
        assert!(matches!(judge(&synack, 80, 40000, 7), Some(Err(_))));
        assert_eq!(judge(&synack[..10], 80, 40000, 7), None);
    }
}

//! BFD's sockets and timers around [`BfdSession`]: one task per peer, which
//! sends from a socket of its own (source port 49152-65535, TTL 255,
//! connected to the peer's port 3784 or 4784), and one receiving socket per
//! address family and port, shared by every peer of the process, which
//! hands each packet to its session by discriminator or by the peer's
//! address. A single-hop session takes only packets that arrive with TTL
//! (hop limit) 255, read from each packet (RFC 5881 section 5).

use super::{
    BfdConfig, BfdSession, BfdState, ControlPacket, Diagnostic, MULTIHOP_PORT, SINGLE_HOP_PORT,
};
use crate::bgp::gtsm::set_int;
use crate::lock;
use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Instant;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// What a BGP session sees of its peer's BFD session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BfdStatus {
    /// The state.
    pub state: BfdState,
    /// Why it last went down.
    pub diagnostic: Diagnostic,
}

/// A received packet and the TTL (hop limit) it came with.
type Received = (ControlPacket, u8);

/// Who gets the packets of a receiving socket.
#[derive(Default)]
struct Routes {
    /// By our discriminator (the packet's Your Discriminator).
    by_discriminator: HashMap<u32, mpsc::Sender<Received>>,
    /// By the peer's address, for packets with Your Discriminator 0.
    by_peer: HashMap<(IpAddr, bool), mpsc::Sender<Received>>,
}

/// The receiving sockets of the process, with their routes; gone (its
/// sockets closed, within [`RECEIVE_TICK`]) with the last BFD session.
///
/// Each socket is read by a thread of its own, not a task: BFD sessions of
/// several tokio runtimes share the sockets, and a runtime that ends must
/// not take the reading of the others' packets with it.
struct Hub {
    routes: Mutex<Routes>,
    listening: Mutex<HashSet<(bool, bool)>>,
}

/// How often a receiving thread looks whether its hub is gone.
const RECEIVE_TICK: std::time::Duration = std::time::Duration::from_millis(100);

/// The hub, and the threads reading for it (or for one that is gone).
struct Hubs {
    current: Weak<Hub>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

fn hubs() -> &'static Mutex<Hubs> {
    static HUBS: OnceLock<Mutex<Hubs>> = OnceLock::new();
    HUBS.get_or_init(|| {
        Mutex::new(Hubs {
            current: Weak::new(),
            threads: Vec::new(),
        })
    })
}

fn hub() -> Arc<Hub> {
    let mut hubs = lock(hubs());
    if let Some(h) = hubs.current.upgrade() {
        return h;
    }
    // The last hub's threads end within a tick: their sockets are closed
    // before new ones are bound to the same ports.
    for t in hubs.threads.drain(..) {
        let _ = t.join();
    }
    let h = Arc::new(Hub {
        routes: Mutex::default(),
        listening: Mutex::default(),
    });
    hubs.current = Arc::downgrade(&h);
    h
}

/// Canonical form of a peer's address (IPv4-mapped IPv6 seen as IPv4).
fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

impl Hub {
    /// Makes sure a socket receives on `port` for the family of `ipv6`.
    fn listen(self: &Arc<Self>, ipv6: bool, multihop: bool) -> io::Result<()> {
        let mut listening = lock(&self.listening);
        if listening.contains(&(ipv6, multihop)) {
            return Ok(());
        }
        let port = if multihop {
            MULTIHOP_PORT
        } else {
            SINGLE_HOP_PORT
        };
        let addr = if ipv6 {
            SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port)
        } else {
            SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port)
        };
        let s = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::DGRAM,
            Some(socket2::Protocol::UDP),
        )?;
        if ipv6 {
            s.set_only_v6(true)?;
            set_int(&s, libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT, 1)?;
        } else {
            set_int(&s, libc::IPPROTO_IP, libc::IP_RECVTTL, 1)?;
        }
        s.set_read_timeout(Some(RECEIVE_TICK))?;
        s.bind(&addr.into())
            .map_err(|e| io::Error::new(e.kind(), format!("BFD: binding UDP {addr}: {e}")))?;
        let hub = Arc::downgrade(self);
        let thread = std::thread::Builder::new()
            .name(format!("cue-bfd-{port}"))
            .spawn(move || receive(s, hub, multihop))?;
        listening.insert((ipv6, multihop));
        lock(hubs()).threads.push(thread);
        Ok(())
    }

    fn route(
        &self,
        from: IpAddr,
        multihop: bool,
        p: &ControlPacket,
    ) -> Option<mpsc::Sender<Received>> {
        let routes = lock(&self.routes);
        if p.your_discriminator != 0 {
            routes.by_discriminator.get(&p.your_discriminator).cloned()
        } else {
            routes.by_peer.get(&(canonical(from), multihop)).cloned()
        }
    }
}

/// Reads one datagram (up to 512 octets) with its TTL or hop limit.
fn recv_with_ttl(s: &socket2::Socket) -> io::Result<(Vec<u8>, SocketAddr, Option<u8>)> {
    use std::mem::MaybeUninit;
    let mut data = [MaybeUninit::new(0u8); 512];
    let mut control = [MaybeUninit::new(0u8); 64];
    let mut addr = socket2::SockAddr::from(SocketAddr::from(([0, 0, 0, 0], 0)));
    let mut bufs = [socket2::MaybeUninitSlice::new(&mut data)];
    let (n, control_len) = {
        let mut msg = socket2::MsgHdrMut::new()
            .with_addr(&mut addr)
            .with_buffers(&mut bufs)
            .with_control(&mut control);
        let n = s.recvmsg(&mut msg, 0)?;
        (n, msg.control_len())
    };
    let from = addr
        .as_socket()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no source address"))?;
    let data = initialised(&data[..n.min(512)]);
    let control = initialised(&control[..control_len.min(64)]);
    Ok((data, from, ttl_of(&control)))
}

/// Bytes that were initialised (with zeros, then written by the kernel).
#[allow(unsafe_code)]
fn initialised(b: &[std::mem::MaybeUninit<u8>]) -> Vec<u8> {
    // SAFETY: every byte was initialised when the array was made
    // (`MaybeUninit::new(0)`); the kernel only wrote over some of them.
    b.iter().map(|b| unsafe { b.assume_init() }).collect()
}

/// The TTL (IP_TTL) or hop limit (IPV6_HOPLIMIT) in a control message
/// buffer (Linux's `cmsghdr`: length, level, type, data, aligned to the
/// word size).
fn ttl_of(control: &[u8]) -> Option<u8> {
    const WORD: usize = std::mem::size_of::<usize>();
    let header = std::mem::size_of::<libc::cmsghdr>();
    let mut off = 0;
    while off + header <= control.len() {
        let mut len_bytes = [0u8; WORD];
        len_bytes.copy_from_slice(&control[off..off + WORD]);
        let len = usize::from_ne_bytes(len_bytes);
        let level = i32::from_ne_bytes(control[off + WORD..off + WORD + 4].try_into().ok()?);
        let kind = i32::from_ne_bytes(control[off + WORD + 4..off + WORD + 8].try_into().ok()?);
        if len < header || off + len > control.len() {
            return None;
        }
        let data = &control[off + header..off + len];
        let ttl_kind = (level == libc::IPPROTO_IP && kind == libc::IP_TTL)
            || (level == libc::IPPROTO_IPV6 && kind == libc::IPV6_HOPLIMIT);
        if ttl_kind && data.len() >= 4 {
            let v = i32::from_ne_bytes(data[..4].try_into().ok()?);
            return u8::try_from(v).ok();
        }
        off += len.div_ceil(WORD) * WORD;
    }
    None
}

/// The receiving loop of one socket (a thread): each valid packet to its
/// session, until the hub is gone.
fn receive(sock: socket2::Socket, hub: Weak<Hub>, multihop: bool) {
    loop {
        let (buf, from, ttl) = match recv_with_ttl(&sock) {
            Ok(r) => r,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if hub.strong_count() == 0 {
                    return;
                }
                continue;
            }
            Err(e) => {
                tracing::debug!(error = %e, "BFD: receive");
                std::thread::sleep(RECEIVE_TICK / 10);
                continue;
            }
        };
        let p = match ControlPacket::decode(&buf) {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(%from, error = %e, "BFD: packet discarded");
                continue;
            }
        };
        let Some(hub) = hub.upgrade() else { return };
        if let Some(tx) = hub.route(from.ip(), multihop, &p) {
            // A session that is behind loses a packet, as a network would.
            let _ = tx.try_send((p, ttl.unwrap_or(0)));
        }
    }
}

/// One peer's BFD session, running until dropped.
#[derive(Debug)]
pub struct BfdPeer {
    status: watch::Receiver<BfdStatus>,
    task: JoinHandle<()>,
}

impl Drop for BfdPeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl BfdPeer {
    /// Starts a BFD session with `peer` (sending from `source` when given),
    /// on the current tokio runtime.
    pub fn start(peer: IpAddr, source: Option<IpAddr>, config: BfdConfig) -> io::Result<BfdPeer> {
        let peer = canonical(peer);
        let hub = hub();
        hub.listen(peer.is_ipv6(), config.multihop)?;
        let tx = send_socket(peer, source, config.multihop)?;
        let discriminator = loop {
            let d: u32 = rand::random();
            if d != 0 && !lock(&hub.routes).by_discriminator.contains_key(&d) {
                break d;
            }
        };
        let (packets_tx, packets) = mpsc::channel(64);
        {
            let mut routes = lock(&hub.routes);
            routes
                .by_discriminator
                .insert(discriminator, packets_tx.clone());
            routes
                .by_peer
                .insert((peer, config.multihop), packets_tx.clone());
        }
        let (status_tx, status) = watch::channel(BfdStatus {
            state: BfdState::Down,
            diagnostic: Diagnostic::None,
        });
        let session = BfdSession::new(config, discriminator, Instant::now());
        tracing::debug!(%peer, discriminator, local = ?tx.local_addr().ok(), "BFD session started");
        let registered = Registered {
            hub,
            peer,
            multihop: config.multihop,
            discriminator,
            sender: packets_tx,
        };
        let task = tokio::spawn(run(registered, config, session, tx, packets, status_tx));
        Ok(BfdPeer { status, task })
    }

    /// The session's status, watched.
    pub fn status(&self) -> watch::Receiver<BfdStatus> {
        self.status.clone()
    }
}

/// The sending socket: a source port of 49152-65535 (RFC 5881 section 4),
/// TTL 255, connected to the peer's BFD port.
fn send_socket(peer: IpAddr, source: Option<IpAddr>, multihop: bool) -> io::Result<UdpSocket> {
    let port = if multihop {
        MULTIHOP_PORT
    } else {
        SINGLE_HOP_PORT
    };
    let dest = SocketAddr::new(peer, port);
    let ip = source.unwrap_or(match peer {
        IpAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        IpAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    });
    let mut last = None;
    for _ in 0..64 {
        let p = 49152 + rand::random::<u16>() % 16384;
        let s = socket2::Socket::new(
            socket2::Domain::for_address(dest),
            socket2::Type::DGRAM,
            Some(socket2::Protocol::UDP),
        )?;
        if peer.is_ipv6() {
            set_int(&s, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, 255)?;
        } else {
            set_int(&s, libc::IPPROTO_IP, libc::IP_TTL, 255)?;
        }
        match s.bind(&SocketAddr::new(ip, p).into()) {
            Ok(()) => {
                s.set_nonblocking(true)?;
                s.connect(&dest.into())?;
                return UdpSocket::from_std(s.into());
            }
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::from(io::ErrorKind::AddrInUse)))
}

fn jitter() -> f64 {
    0.75 + rand::random::<f64>() * 0.25
}

/// The session's loop: packets in, timers, packets out, the status.
async fn run(
    registered: Registered,
    config: BfdConfig,
    mut session: BfdSession,
    tx: UdpSocket,
    mut packets: mpsc::Receiver<Received>,
    status: watch::Sender<BfdStatus>,
) {
    let peer = registered.peer;
    loop {
        let now = Instant::now();
        let mut change = session.poll(now);
        if session.due(now) {
            let bytes = session.packet().encode();
            // A send that fails (no route yet, a full buffer) is a packet
            // lost: the peer's detection time deals with it.
            if let Err(e) = tx.send(&bytes).await {
                tracing::trace!(%peer, error = %e, "BFD: send");
            }
            session.sent(Instant::now(), jitter());
        }
        let deadline = tokio::time::Instant::from_std(session.next_deadline());
        tokio::select! {
            Some((p, ttl)) = packets.recv() => {
                // Single hop: only what no router has forwarded.
                if config.multihop || ttl == 255 {
                    change = change.or(session.received(&p, Instant::now()));
                } else {
                    tracing::debug!(%peer, ttl, "BFD: packet with TTL below 255 discarded");
                }
            }
            _ = tokio::time::sleep_until(deadline) => {}
        }
        if let Some(t) = change.or(session.poll(Instant::now())) {
            tracing::info!(%peer, from = %t.from, to = %t.to, diagnostic = %t.diagnostic, "BFD");
            status.send_replace(BfdStatus {
                state: t.to,
                diagnostic: t.diagnostic,
            });
        }
    }
}

/// Takes a session's routes out of the hub when it ends (the route by
/// address only if it is still this session's: a session for the same
/// peer that replaced it keeps its own).
struct Registered {
    hub: Arc<Hub>,
    peer: IpAddr,
    multihop: bool,
    discriminator: u32,
    sender: mpsc::Sender<Received>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut routes = lock(&self.hub.routes);
        routes.by_discriminator.remove(&self.discriminator);
        let key = (self.peer, self.multihop);
        if routes
            .by_peer
            .get(&key)
            .is_some_and(|s| s.same_channel(&self.sender))
        {
            routes.by_peer.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ttl_is_read_from_control_messages() {
        // One cmsghdr holding IP_TTL 255, as Linux writes it.
        let header = std::mem::size_of::<libc::cmsghdr>();
        let word = std::mem::size_of::<usize>();
        let len = header + 4;
        let mut buf = vec![0u8; len.div_ceil(word) * word];
        buf[..word].copy_from_slice(&len.to_ne_bytes());
        buf[word..word + 4].copy_from_slice(&libc::IPPROTO_IP.to_ne_bytes());
        buf[word + 4..word + 8].copy_from_slice(&libc::IP_TTL.to_ne_bytes());
        buf[header..header + 4].copy_from_slice(&255i32.to_ne_bytes());
        assert_eq!(ttl_of(&buf), Some(255));
        assert_eq!(ttl_of(&buf[..header]), None, "cut short");
        assert_eq!(ttl_of(&[]), None);
    }

    /// A session replaced by another for the same peer (a reconfiguration
    /// starts the new one before it stops the old): the old one's end does
    /// not take the new one's packets away.
    #[tokio::test]
    async fn a_replaced_session_leaves_its_successor_reachable() {
        let config = BfdConfig {
            interval: std::time::Duration::from_millis(50),
            multiplier: 3,
            multihop: true,
        };
        // Addresses of their own: sessions are found by peer address.
        let (p5, p6) = ("127.0.0.5".parse().unwrap(), "127.0.0.6".parse().unwrap());
        let Ok(a) = BfdPeer::start(p5, Some(p6), config) else {
            return; // port 4784 taken on this machine
        };
        let old = BfdPeer::start(p6, Some(p5), config).unwrap();
        let new = BfdPeer::start(p6, Some(p5), config).unwrap();
        drop(old);
        let (mut sa, mut sn) = (a.status(), new.status());
        let up = async {
            sa.wait_for(|s| s.state == BfdState::Up).await.unwrap();
            sn.wait_for(|s| s.state == BfdState::Up).await.unwrap();
        };
        tokio::time::timeout(std::time::Duration::from_secs(10), up)
            .await
            .expect("the successor comes up");
    }

    /// Two sessions of this process on loopback: the packets go through the
    /// receiving socket with their TTL, and both come up.
    #[tokio::test]
    async fn two_peers_on_loopback_come_up() {
        let config = BfdConfig {
            interval: std::time::Duration::from_millis(50),
            multiplier: 3,
            multihop: true,
        };
        // A peer of 127.0.0.2 from 127.0.0.3 and the other way round.
        let Ok(a) = BfdPeer::start(
            "127.0.0.2".parse().unwrap(),
            Some("127.0.0.3".parse().unwrap()),
            config,
        ) else {
            return; // port 4784 taken on this machine
        };
        let b = BfdPeer::start(
            "127.0.0.3".parse().unwrap(),
            Some("127.0.0.2".parse().unwrap()),
            config,
        )
        .unwrap();
        let (mut sa, mut sb) = (a.status(), b.status());
        let up = async {
            sa.wait_for(|s| s.state == BfdState::Up).await.unwrap();
            sb.wait_for(|s| s.state == BfdState::Up).await.unwrap();
        };
        tokio::time::timeout(std::time::Duration::from_secs(10), up)
            .await
            .expect("both up");
        // One stops: the other detects it.
        drop(b);
        let down = sa.wait_for(|s| s.state == BfdState::Down);
        let s = *tokio::time::timeout(std::time::Duration::from_secs(5), down)
            .await
            .expect("detected")
            .unwrap();
        assert_eq!(s.diagnostic, Diagnostic::DetectionTimeExpired);
    }
}

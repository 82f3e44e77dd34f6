//! One TCP connection to a peer: the framer that reads it, the writer with
//! what was advertised on it and who records it, and the bound that keeps a
//! write from waiting for ever on a peer that does not read.

use super::framing::Framer;
use crate::bgp::config::{Overrides, Parameters, PeerConfig};
use crate::bgp::core::WriteBound;
use crate::bgp::error::SessionError;
use crate::bgp::fsm::Negotiated;
use crate::bgp::mrt::{Bgp4mpPeers, MrtRecorder};
use crate::bgp::rib::LocRib;
use crate::lock;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::watch;

/// The socket's write half, noting when the peer last took a byte (for
/// the send hold time, RFC 9687).
pub(super) struct Wr {
    inner: OwnedWriteHalf,
    progress: Arc<Mutex<Instant>>,
}

impl Wr {
    /// When the peer last took a byte (or the connection opened).
    pub(super) fn progress(&self) -> Arc<Mutex<Instant>> {
        self.progress.clone()
    }
}

impl AsyncWrite for Wr {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            *lock(&this.progress) = Instant::now();
        }
        r
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Where a connection's messages are recorded, and as which peers.
pub(super) type Recording = (Arc<MrtRecorder>, Bgp4mpPeers);

/// Bytes read from the peer at most while a write waits.
const MAX_READ_WHILE_WRITING: usize = 1 << 20;

/// A connection: its read side and its write side, borrowed apart so that
/// the peer is read while a write waits.
pub(super) struct Connection {
    /// The read side and the bytes not yet handled.
    pub(super) reader: Framer,
    /// The write side and what was sent on it.
    pub(super) writer: Writer,
}

/// The write side of a connection.
pub(super) struct Writer {
    /// The socket's write half.
    pub(super) wr: Wr,
    /// Our address on the connection.
    pub(super) local: SocketAddr,
    /// What the Adj-RIB-Out holds, once established.
    pub(super) adv: Option<Advertised>,
    /// The MRT recording of the connection, when the pool records.
    pub(super) recording: Option<Recording>,
}

/// What an established connection has sent so far.
pub(super) struct Advertised {
    pub(super) negotiated: Negotiated,
    pub(super) local: SocketAddr,
    pub(super) rib: LocRib,
    /// The routes sent with attributes of their own.
    pub(super) overrides: Overrides,
    pub(super) params: Parameters,
    /// To a peer that receives several paths of a prefix (ADD-PATH): the
    /// paths sent, by prefix and path identifier.
    pub(super) paths: PathRib,
}

/// The paths sent to a peer that receives several (ADD-PATH), by prefix
/// and path identifier, each with its attributes of its own (`None`: the
/// session's).
pub(super) type PathRib = std::collections::BTreeMap<
    (ipnet::IpNet, u32),
    Option<Arc<crate::bgp::config::AttributeOverrides>>,
>;

impl Connection {
    /// Takes a connected stream: no Nagle delay, the peer's GTSM (a
    /// connection the listener accepted gets it too), the recording.
    pub(super) fn open(
        stream: TcpStream,
        config: &PeerConfig,
        recorder: Option<Arc<MrtRecorder>>,
    ) -> Result<Connection, SessionError> {
        let _ = stream.set_nodelay(true);
        if let Some(hops) = config.ttl_security {
            if let Err(e) = crate::bgp::gtsm::set(&stream, config.address.is_ipv6(), hops) {
                return Err(SessionError::Socket(e.into()));
            }
        }
        let local = stream
            .local_addr()
            .map_err(|e| SessionError::Socket(e.into()))?;
        let recording = recorder.map(|r| {
            let peers = Bgp4mpPeers {
                peer_as: config.peer_as.unwrap_or(0),
                local_as: config.local_as,
                peer: config.address.ip(),
                local: local.ip(),
                four_octet_as: false,
                add_path_sent: false,
                add_path_received: false,
            };
            (r, peers)
        });
        let (rd, wr) = stream.into_split();
        Ok(Connection {
            reader: Framer::new(rd),
            writer: Writer {
                wr: Wr {
                    inner: wr,
                    progress: Arc::new(Mutex::new(Instant::now())),
                },
                local,
                adv: None,
                recording,
            },
        })
    }

    /// Closes the write side (the peer sees the end of the stream).
    pub(super) async fn shutdown(mut self) {
        let _ = self.writer.wr.shutdown().await;
    }
}

impl Writer {
    /// Records `messages` (several, one after another), sent or received,
    /// when the connection is recorded; the peer's AS and the AS width are
    /// those of the OPENs as soon as they are known.
    pub(super) fn record(&mut self, sent: bool, messages: &[u8], n: Option<&Negotiated>) {
        let Some((recorder, peers)) = self.recording.as_mut() else {
            return;
        };
        if let Some(n) = n {
            peers.peer_as = n.peer_as;
            peers.four_octet_as = n.four_octet_as;
            peers.add_path_sent = !n.add_path_send.is_empty();
            peers.add_path_received = !n.add_path_receive.is_empty();
        }
        recorder.record(peers, sent, messages);
    }
}

/// The bounds of a write to the peer (see
/// [`SessionCore::write_bound`](crate::bgp::core::SessionCore::write_bound)):
/// the write ends with the session when a stop comes, or when its deadline
/// passes; bytes that arrive meanwhile are read into the framer, to be
/// handled after, and move the deadline.
pub(super) struct WriteGuard {
    /// A stop to watch, unless the write is a stop's own.
    pub(super) stop: Option<watch::Receiver<bool>>,
    /// The deadline, and how far the peer's bytes move it.
    pub(super) bound: WriteBound,
    /// When the peer last took a byte of ours (see [`Wr`]).
    pub(super) progress: Arc<Mutex<Instant>>,
}

impl WriteGuard {
    /// Runs `work` to its end, or returns why it was cut short.
    pub(super) async fn run<T>(
        mut self,
        framer: &mut Framer,
        work: impl std::future::Future<Output = T>,
    ) -> Result<T, SessionError> {
        tokio::pin!(work);
        let mut reading = true;
        // The send hold time runs from the last byte taken, or from now
        // for a write after a quiet while.
        let started = Instant::now();
        let taken = || (*lock(&self.progress)).max(started);
        let mut stall = self.bound.stall.map(|s| taken() + s);
        loop {
            let stopped = async {
                match self.stop.as_mut() {
                    Some(s) => {
                        let _ = s.changed().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                r = &mut work => return Ok(r),
                _ = stopped => return Err(SessionError::LocalStop),
                n = framer.fill(), if reading && framer.buffered() < MAX_READ_WHILE_WRITING => {
                    match n {
                        // The end of the stream is seen once the write is done.
                        Ok(0) | Err(_) => reading = false,
                        Ok(_) => {
                            if let Some(h) = self.bound.extend {
                                self.bound.deadline = Some(Instant::now() + h);
                            }
                        }
                    }
                }
                _ = until(self.bound.deadline) => return Err(SessionError::HoldTimerExpired),
                _ = until(stall) => {
                    let due = taken() + self.bound.stall.unwrap_or_default();
                    if Instant::now() >= due {
                        return Err(SessionError::SendHoldTimerExpired);
                    }
                    stall = Some(due);
                }
            }
        }
    }
}

/// Waits until `deadline` (forever when there is none).
pub(super) async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

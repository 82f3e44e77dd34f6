//! The tokio driver of one BGP session: socket, timers and channels around
//! the sans-IO [`Fsm`].
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | the [`Session`] handle, the reconnect loop, one connection's event loop |
//! | `dial.rs` | dialling: source address, TCP MD5, connect timeout |
//! | `framing.rs` | messages framed in place in the read buffer |
//! | [`policy`] | pure policies: attributes and next hops per peer, the prefix limit |
//! | `advertise.rs` | Adj-RIB-Out differences packed into UPDATEs and written |

mod advertise;
mod dial;
mod framing;
pub mod policy;

use super::config::{Overrides, Parameters, PeerConfig, PeerConfigError};
use super::error::{IoFailure, SessionError};
use super::event::{Direction, Event, EventSender, PeerStatus, PrefixList, ReceivedRoute};
use super::fsm::{Action, CloseReason, Fsm, FsmConfig};
use super::rib::{AdjRibIn, LocRib, RouteAttributes};
use super::wire::{self, Family, Message, NotificationKind};
use advertise::{Advertised, Sync};
use framing::Framer;
use ipnet::IpNet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

/// A counter bumped whenever a session's status changes (state, routes
/// sent or received), shared by the sessions of a pool.
///
/// ``` no_run
/// # async fn demo(pool: cue::bgp::Pool) {
/// let mut changes = pool.status_changes();
/// while changes.changed().await.is_ok() {
///     println!("{:?}", pool.status());
/// }
/// # }
/// ```
pub type StatusNotifier = Arc<watch::Sender<u64>>;

/// How long a stop waits for the withdrawal and the Cease to be written to
/// a peer that does not read.
const STOP_WRITE_TIME: std::time::Duration = std::time::Duration::from_millis(700);

/// Bytes read from the peer at most while a write waits.
const MAX_READ_WHILE_WRITING: usize = 1 << 20;

/// The bounds of a write to the peer. A peer that stops reading must hold
/// neither the session nor its stop: the write ends with the session when
/// a stop comes, or when the hold time passes without a byte from the peer
/// (bytes that arrive meanwhile are read into the framer, to be handled
/// after, and count as a sign of life).
struct WriteGuard {
    stop: Option<watch::Receiver<bool>>,
    hold: Option<std::time::Duration>,
    deadline: Option<Instant>,
}

impl WriteGuard {
    /// A bound of a fixed deadline only.
    fn until(deadline: Instant) -> WriteGuard {
        WriteGuard {
            stop: None,
            hold: None,
            deadline: Some(deadline),
        }
    }

    /// Runs `work` to its end, or returns why it was cut short.
    async fn run<T>(
        mut self,
        framer: &mut Framer,
        work: impl std::future::Future<Output = T>,
    ) -> Result<T, SessionError> {
        tokio::pin!(work);
        let mut reading = true;
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
                            if let Some(h) = self.hold {
                                self.deadline = Some(Instant::now() + h);
                            }
                        }
                    }
                }
                _ = stale_expiry(self.deadline) => return Err(SessionError::HoldTimerExpired),
            }
        }
    }
}

/// Waits until `deadline` (forever when there is none).
async fn stale_expiry(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

/// Raw writes ([`Session::send_raw`]) that may wait at once.
pub const RAW_QUEUE: usize = 16;

/// Why [`Session::send_raw`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendRawError {
    /// The session is not Established.
    #[error("the session is not established")]
    NotEstablished,
    /// Too many raw writes are waiting.
    #[error("too many raw writes are waiting")]
    Busy,
}

/// What the sessions of a pool share.
pub(crate) struct Shared {
    /// The Loc-RIB.
    pub(crate) loc_rib: watch::Receiver<LocRib>,
    /// Routes with attributes of their own.
    pub(crate) overrides: watch::Receiver<Overrides>,
    /// Where events go.
    pub(crate) events: EventSender,
    /// Bumped at every status change.
    pub(crate) changes: StatusNotifier,
    /// Where messages are recorded (MRT), if anywhere.
    pub(crate) mrt: watch::Receiver<Option<Arc<super::mrt::MrtRecorder>>>,
    /// A table set whose Loc-RIB is still being built, if any.
    pub(crate) staged: watch::Receiver<Option<Arc<Staged>>>,
}

/// A table given to the pool whose Loc-RIB and attribute map are still
/// being built: a session that comes up meanwhile sends the table from its
/// sorted lists, then takes the trees as what it sent.
pub(crate) struct Staged {
    /// The routes.
    pub(crate) routes: Arc<crate::bgp::route::SortedRoutes>,
    /// The Loc-RIB and attribute map, once built.
    pub(crate) built: watch::Receiver<Option<(LocRib, Overrides)>>,
}

/// The Loc-RIB and attribute map of a staged table once built; `None` if
/// they never will be (the thread building them failed).
pub(crate) async fn built(
    mut rx: watch::Receiver<Option<(LocRib, Overrides)>>,
) -> Option<(LocRib, Overrides)> {
    rx.wait_for(Option::is_some)
        .await
        .ok()
        .and_then(|b| b.clone())
}

/// A running session: dials (or waits for) its peer, reconnects after
/// failures, and advertises the shared Loc-RIB.
///
/// ``` no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use cue::bgp::{event_channel, PeerConfig, Session};
/// // One session on its own (a Pool runs several and shares one Loc-RIB).
/// let (rib, rib_rx) = tokio::sync::watch::channel(std::sync::Arc::new(["192.0.2.1/32".parse()?].into()));
/// let (events, mut rx) = event_channel(64);
/// let peer = PeerConfig::builder("127.0.0.1".parse()?, 65001, "10.0.0.1".parse()?).port(1179).build()?;
/// let session = Session::spawn(peer, rib_rx, events)?;
/// let _ = rx.recv().await;
/// let status = session.stop().await; // Cease, then the final status
/// # drop(rib); Ok(()) }
/// ```
#[derive(Debug)]
pub struct Session {
    config: PeerConfig,
    status: Arc<Mutex<PeerStatus>>,
    adj_rib_in: Arc<Mutex<AdjRibIn>>,
    parameters: watch::Sender<Parameters>,
    stop: watch::Sender<bool>,
    incoming: mpsc::Sender<TcpStream>,
    raw: mpsc::Sender<Vec<u8>>,
    changes: StatusNotifier,
    task: tokio::task::JoinHandle<()>,
}

impl Session {
    /// Starts a session, once `config` passes [`PeerConfig::validate`].
    /// `loc_rib` is the shared Loc-RIB; events go to `events` (see
    /// [`event_channel`](super::event_channel)). Must be called within a
    /// tokio runtime.
    pub fn spawn(
        config: PeerConfig,
        loc_rib: watch::Receiver<LocRib>,
        events: EventSender,
    ) -> Result<Session, PeerConfigError> {
        Session::start(
            config,
            Shared {
                loc_rib,
                // No route with attributes of its own, ever.
                overrides: watch::channel(Overrides::default()).1,
                events,
                changes: Arc::new(watch::channel(0).0),
                mrt: watch::channel(None).1,
                staged: watch::channel(None).1,
            },
        )
    }

    /// As [`spawn`](Self::spawn), with what the sessions of a pool share.
    pub(crate) fn start(config: PeerConfig, shared: Shared) -> Result<Session, PeerConfigError> {
        let Shared {
            loc_rib,
            overrides,
            events,
            changes,
            mrt,
            staged,
        } = shared;
        config.validate()?;
        let name = config.name();
        for w in config.warnings() {
            tracing::warn!(peer = %name, "{w}");
        }
        let status = Arc::new(Mutex::new(PeerStatus::new(name.clone(), config.local_as)));
        let adj_rib_in = Arc::new(Mutex::new(AdjRibIn::default()));
        let (parameters, params_rx) = watch::channel(config.parameters.clone());
        let (stop, stop_rx) = watch::channel(false);
        let (incoming, incoming_rx) = mpsc::channel(1);
        let (raw, raw_rx) = mpsc::channel(RAW_QUEUE);
        let fsm = Fsm::new(FsmConfig {
            local_as: config.local_as,
            router_id: config.router_id,
            hold_time: config.hold_time,
            peer_as: config.peer_as,
            families: config.families(),
            graceful_restart: config.graceful_restart.map(|t| t.as_secs() as u16),
        });
        let driver = Driver {
            name,
            config: config.clone(),
            fsm,
            status: status.clone(),
            adj_rib_in: adj_rib_in.clone(),
            loc_rib,
            overrides,
            params: params_rx,
            stop: stop_rx,
            incoming: incoming_rx,
            raw: raw_rx,
            events,
            changes: changes.clone(),
            restart_time: None,
            stale_deadline: None,
            mrt,
            recording: None,
            staged,
        };
        let task = tokio::spawn(driver.run());
        Ok(Session {
            config,
            status,
            adj_rib_in,
            parameters,
            stop,
            incoming,
            raw,
            changes,
            task,
        })
    }

    /// Writes `bytes` to the peer as they are, once the session is
    /// Established (for testing a peer's error handling: a malformed UPDATE,
    /// say). Nothing checks them; the peer's answer is handled as usual.
    /// Refused when the session is not Established or
    /// [`RAW_QUEUE`] writes are already waiting.
    pub fn send_raw(&self, bytes: Vec<u8>) -> Result<(), SendRawError> {
        if self.status().state != super::State::Established {
            return Err(SendRawError::NotEstablished);
        }
        self.raw.try_send(bytes).map_err(|_| SendRawError::Busy)
    }

    /// The configuration the session runs with.
    pub fn config(&self) -> &PeerConfig {
        &self.config
    }

    /// A snapshot of the status.
    pub fn status(&self) -> PeerStatus {
        lock(&self.status).clone()
    }

    /// A receiver that changes whenever the status does.
    pub fn status_changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// The routes the peer advertised to us, in prefix order.
    pub fn adj_rib_in(&self) -> Vec<(IpNet, Arc<RouteAttributes>)> {
        lock(&self.adj_rib_in)
            .routes()
            .map(|(p, a)| (*p, a.clone()))
            .collect()
    }

    /// The routes of [`adj_rib_in`](Self::adj_rib_in) kept as stale while
    /// the peer restarts (RFC 4724).
    pub fn stale_routes(&self) -> Vec<IpNet> {
        lock(&self.adj_rib_in).stale().copied().collect()
    }

    /// Changes attributes, next hops or filters; an established session
    /// sends the difference at once. Refused parameters change nothing.
    pub fn set_parameters(&mut self, parameters: Parameters) -> Result<(), PeerConfigError> {
        parameters.validate()?;
        self.config.parameters = parameters.clone();
        self.parameters.send_replace(parameters);
        Ok(())
    }

    /// Hands an accepted connection to a passive session. Returns the
    /// stream back when the session cannot take it now.
    pub fn offer(&self, stream: TcpStream) -> Result<(), TcpStream> {
        self.incoming.try_send(stream).map_err(|e| match e {
            mpsc::error::TrySendError::Full(s) | mpsc::error::TrySendError::Closed(s) => s,
        })
    }

    /// Whether the session task has ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// When connected, withdraws everything advertised, then sends Cease /
    /// Administrative Shutdown; but with graceful restart negotiated (RFC
    /// 4724) only closes the connection, so that the peer keeps the routes
    /// as stale for the restart time. Waits for the task to end and
    /// returns the final status.
    pub async fn stop(self) -> PeerStatus {
        self.stop.send_replace(true);
        let _ = self.task.await;
        lock(&self.status).clone()
    }
}

/// A Cease is the ordinary end of a session (info); any other NOTIFICATION
/// is a fault (warn).
fn log_notification(peer: &str, n: &wire::Notification, what: &str) {
    if matches!(n.kind(), NotificationKind::Cease(_)) {
        tracing::info!(%peer, notification = %n, "{what}");
    } else {
        tracing::warn!(%peer, notification = %n, "{what}");
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

struct Driver {
    name: String,
    config: PeerConfig,
    fsm: Fsm,
    status: Arc<Mutex<PeerStatus>>,
    adj_rib_in: Arc<Mutex<AdjRibIn>>,
    loc_rib: watch::Receiver<LocRib>,
    overrides: watch::Receiver<Overrides>,
    params: watch::Receiver<Parameters>,
    stop: watch::Receiver<bool>,
    incoming: mpsc::Receiver<TcpStream>,
    raw: mpsc::Receiver<Vec<u8>>,
    events: EventSender,
    changes: StatusNotifier,
    /// The peer's restart time, while a session with graceful restart
    /// negotiated (RFC 4724) is up.
    restart_time: Option<u16>,
    /// When the routes kept as stale for a restarting peer go.
    stale_deadline: Option<Instant>,
    /// Where the pool records messages.
    mrt: watch::Receiver<Option<Arc<super::mrt::MrtRecorder>>>,
    /// A table whose Loc-RIB is still being built.
    staged: watch::Receiver<Option<Arc<Staged>>>,
    /// The recorder of the connection and who it is between.
    recording: Option<(Arc<super::mrt::MrtRecorder>, super::mrt::Bgp4mpPeers)>,
}

impl Driver {
    fn emit(&self, e: Event) {
        self.events.send(e);
    }

    fn changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn trace(&self, direction: Direction, message: String) {
        self.emit(Event::Message {
            peer: self.name.clone(),
            direction,
            message,
        });
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Connects (or waits for the peer), runs the connection, and again
    /// after the connect-retry delay, until stopped.
    async fn run(mut self) {
        'session: loop {
            if self.stopping() {
                break;
            }
            let actions = self.fsm.connecting(!self.config.passive);
            self.apply_states(&actions);
            let stream = if self.config.passive {
                loop {
                    tokio::select! {
                        s = self.incoming.recv() => match s {
                            Some(s) => break s,
                            None => break 'session,
                        },
                        _ = self.stop.changed() => break 'session,
                        _ = stale_expiry(self.stale_deadline) => self.restart_over(),
                    }
                }
            } else {
                lock(&self.status).counters.attempts += 1;
                let config = self.config.clone();
                let connect = dial::connect(&config);
                tokio::pin!(connect);
                let result = loop {
                    tokio::select! {
                        r = &mut connect => break r,
                        _ = self.stop.changed() => break 'session,
                        _ = stale_expiry(self.stale_deadline) => self.restart_over(),
                    }
                };
                match result {
                    Ok(s) => s,
                    Err(e) => {
                        let error = SessionError::Connect {
                            address: self.config.address,
                            error: IoFailure::from(e),
                        };
                        tracing::info!(peer = %self.name, %error, "connection attempt failed");
                        lock(&self.status).last_error = Some(error.clone());
                        self.emit(Event::Error {
                            peer: self.name.clone(),
                            error,
                        });
                        let actions = self.fsm.reset();
                        self.apply_states(&actions);
                        if !self.retry_wait().await {
                            break;
                        }
                        continue;
                    }
                }
            };
            lock(&self.status).counters.connections += 1;
            let reason = self.run_connection(stream).await;
            let requested = reason.is_local_stop();
            let actions = self.fsm.reset();
            self.apply_states(&actions);
            // A peer with graceful restart whose session dropped without a
            // NOTIFICATION is restarting: its routes stay, as stale, for its
            // restart time (RFC 4724 section 4.2).
            let restarting = self
                .restart_time
                .take()
                .filter(|t| *t > 0)
                .filter(|_| matches!(reason, SessionError::PeerClosed | SessionError::Read(_)));
            let stale = match restarting {
                Some(t) => {
                    let stale = lock(&self.adj_rib_in).mark_stale();
                    let deadline = Instant::now() + std::time::Duration::from_secs(t.into());
                    self.stale_deadline = Some(deadline);
                    tracing::info!(peer = %self.name, stale, restart_time = t, "peer restarting: routes kept as stale");
                    self.emit(Event::Restarting {
                        peer: self.name.clone(),
                        stale,
                        restart_time: t,
                    });
                    stale
                }
                None => {
                    lock(&self.adj_rib_in).clear();
                    self.stale_deadline = None;
                    0
                }
            };
            {
                let mut s = lock(&self.status);
                s.received = stale as u64;
                s.counters.current = 0;
                s.adj_rib_out = PrefixList::List(vec![]);
                if !requested {
                    s.last_error = Some(reason.clone());
                }
            }
            match &reason {
                SessionError::LocalStop => tracing::info!(peer = %self.name, "session stopped"),
                SessionError::NotificationReceived(n)
                    if matches!(n.kind(), NotificationKind::Cease(_)) =>
                {
                    tracing::info!(peer = %self.name, %reason, "session closed by the peer")
                }
                _ => tracing::warn!(peer = %self.name, %reason, "session down"),
            }
            self.emit(Event::Down {
                peer: self.name.clone(),
                requested,
                reason,
            });
            self.changed();
            if requested || self.stopping() {
                break;
            }
            if !self.config.passive && !self.retry_wait().await {
                break;
            }
        }
        let actions = self.fsm.reset();
        self.apply_states(&actions);
    }

    /// Waits the connect-retry delay plus jitter; false when stopped.
    async fn retry_wait(&mut self) -> bool {
        // Never a tight loop, whatever the embedder configured.
        let base = self
            .config
            .connect_retry
            .max(super::config::MIN_CONNECT_RETRY);
        let jitter = base.mul_f64(rand::random::<f64>() * 0.25);
        let wait = tokio::time::sleep(base + jitter);
        tokio::pin!(wait);
        loop {
            tokio::select! {
                _ = &mut wait => return true,
                _ = self.stop.changed() => return false,
                _ = stale_expiry(self.stale_deadline) => self.restart_over(),
            }
        }
    }

    /// The restart time of a restarting peer ran out: its stale routes go.
    fn restart_over(&mut self) {
        let gone = self.remove_stale(None);
        tracing::info!(peer = %self.name, gone, "restart time over: stale routes removed");
    }

    /// Removes the routes still stale (of one family, or all), reported as
    /// withdrawn; returns how many.
    fn remove_stale(&mut self, family: Option<Family>) -> usize {
        let (gone, left) = {
            let mut rib = lock(&self.adj_rib_in);
            let gone = rib.remove_stale(family);
            let left = rib.stale().next().is_some();
            (gone, left)
        };
        if !left {
            self.stale_deadline = None;
        }
        if gone.is_empty() {
            return 0;
        }
        let held = lock(&self.adj_rib_in).len();
        lock(&self.status).received = held as u64;
        let n = gone.len();
        self.emit(Event::Received {
            peer: self.name.clone(),
            direction: Direction::Received,
            announce: vec![],
            withdraw: gone,
        });
        self.changed();
        n
    }

    fn apply_states(&self, actions: &[Action]) {
        for a in actions {
            if let Action::StateChange(state) = a {
                {
                    let mut s = lock(&self.status);
                    s.state = *state;
                    s.since = SystemTime::now();
                }
                tracing::debug!(peer = %self.name, %state, "state");
                self.emit(Event::State {
                    peer: self.name.clone(),
                    state: *state,
                });
                self.changed();
            }
        }
    }

    /// Runs one connection until it closes; returns why.
    async fn run_connection(&mut self, stream: TcpStream) -> SessionError {
        let _ = stream.set_nodelay(true);
        // A connection the listener accepted gets this peer's GTSM too.
        if let Some(hops) = self.config.ttl_security {
            if let Err(e) = super::gtsm::set(&stream, self.config.address.is_ipv6(), hops) {
                return SessionError::Socket(e.into());
            }
        }
        let local = match stream.local_addr() {
            Ok(a) => a,
            Err(e) => return SessionError::Socket(e.into()),
        };
        lock(&self.status).local_ip = Some(local.ip());
        self.recording = self.mrt.borrow().clone().map(|r| {
            let peers = super::mrt::Bgp4mpPeers {
                peer_as: self.config.peer_as.unwrap_or(0),
                local_as: self.config.local_as,
                peer: self.config.address.ip(),
                local: local.ip(),
                four_octet_as: false,
            };
            (r, peers)
        });
        let (rd, mut wr) = stream.into_split();
        let mut framer = Framer::new(rd);
        let mut reason = self.exchange(&mut framer, &mut wr, local).await;
        if let SessionError::Write(_) = reason {
            // A peer that closed while we wrote may have said why first.
            let wait = std::time::Duration::from_millis(100);
            let _ = tokio::time::timeout(wait, framer.fill()).await;
            if let Some(n) = framer.notification() {
                log_notification(&self.name, &n, "NOTIFICATION received");
                self.emit(Event::notification(&self.name, Direction::Received, &n));
                reason = SessionError::NotificationReceived(n);
            }
        }
        let _ = wr.shutdown().await;
        reason
    }

    /// The event loop of one connection: messages already read are handled
    /// first, then whichever comes next of more bytes, a stop, a change of
    /// the Loc-RIB or parameters, or a timer.
    async fn exchange(
        &mut self,
        framer: &mut Framer,
        wr: &mut OwnedWriteHalf,
        local: SocketAddr,
    ) -> SessionError {
        let mut adv: Option<Advertised> = None;
        let actions = self.fsm.connected(Instant::now());
        let guard = self.guard();
        let mut closed = guard
            .run(framer, self.perform(actions, wr, &mut adv, local))
            .await
            .unwrap_or_else(Some);
        let mut params = self.params.clone();
        let mut loc = self.loc_rib.clone();
        let mut overrides = self.overrides.clone();
        params.mark_unchanged();
        loc.mark_unchanged();
        overrides.mark_unchanged();
        loop {
            if let Some(reason) = closed {
                return reason;
            }
            // Every whole message in the buffer, decoded where it lies.
            let actions = match framer.next_len() {
                Ok(Some(len)) => {
                    let actions = self.received(framer.message(len));
                    framer.consume(len);
                    let guard = self.guard();
                    closed = guard
                        .run(framer, self.perform(actions, wr, &mut adv, local))
                        .await
                        .unwrap_or_else(Some);
                    continue;
                }
                Ok(None) => None,
                Err(e) => {
                    if self.config.trace {
                        self.trace(Direction::Received, format!("malformed header ({e})"));
                    }
                    Some(self.fsm.received(Err(e), Instant::now()))
                }
            };
            let actions = match actions {
                Some(a) => a,
                None => {
                    let deadline = self.fsm.next_deadline();
                    let sleep = async {
                        match deadline {
                            Some(d) => tokio::time::sleep_until(d.into()).await,
                            None => std::future::pending().await,
                        }
                    };
                    let established = adv.is_some();
                    tokio::select! {
                        biased;
                        r = framer.fill() => match r {
                            Ok(0) => self.fsm.closed(),
                            Ok(_) => continue,
                            Err(e) => {
                                let _ = self.fsm.closed();
                                return SessionError::Read(e.into());
                            }
                        },
                        _ = self.stop.changed() => {
                            // With graceful restart the peer keeps our
                            // routes while we are away: close, nothing more.
                            if adv.as_ref().is_some_and(|a| a.negotiated.graceful_restart) {
                                tracing::info!(peer = %self.name, "stopped without withdrawal: graceful restart");
                                return SessionError::LocalStop;
                            }
                            // Withdraw everything sent, then Cease; a peer
                            // that does not read gets a bounded wait.
                            let guard = WriteGuard::until(Instant::now() + STOP_WRITE_TIME);
                            let work = async {
                                self.sync(wr, adv.as_mut(), Sync::WithdrawAll).await?;
                                let actions = self.fsm.stop();
                                let _ = self.perform(actions, wr, &mut adv, local).await;
                                Ok::<(), std::io::Error>(())
                            };
                            return match guard.run(framer, work).await {
                                Ok(Err(e)) => SessionError::Write(e.into()),
                                _ => SessionError::LocalStop,
                            };
                        }
                        _ = loc.changed(), if established => {
                            if let Err(e) = self.guarded_sync(framer, wr, adv.as_mut()).await {
                                return e;
                            }
                            continue;
                        }
                        _ = params.changed(), if established => {
                            if let Err(e) = self.guarded_sync(framer, wr, adv.as_mut()).await {
                                return e;
                            }
                            continue;
                        }
                        Some(bytes) = self.raw.recv(), if established => {
                            if self.config.trace {
                                self.trace(Direction::Sent, format!("raw {}", wire::hex(&bytes)));
                            }
                            tracing::info!(peer = %self.name, len = bytes.len(), "raw bytes sent");
                            self.record(true, &bytes);
                            match self.guard().run(framer, wr.write_all(&bytes)).await {
                                Ok(Ok(())) => {}
                                Ok(Err(e)) => return SessionError::Write(e.into()),
                                Err(e) => return e,
                            }
                            continue;
                        }
                        _ = overrides.changed(), if established => {
                            if let Err(e) = self.guarded_sync(framer, wr, adv.as_mut()).await {
                                return e;
                            }
                            continue;
                        }
                        _ = stale_expiry(self.stale_deadline) => {
                            self.restart_over();
                            continue;
                        }
                        _ = sleep => self.fsm.poll_timers(Instant::now()),
                    }
                }
            };
            let guard = self.guard();
            closed = guard
                .run(framer, self.perform(actions, wr, &mut adv, local))
                .await
                .unwrap_or_else(Some);
        }
    }

    /// A bound for the next write to the peer: a stop, or the hold time
    /// passing with nothing from the peer.
    fn guard(&self) -> WriteGuard {
        let hold = self
            .fsm
            .negotiated()
            .map(|n| n.hold_time)
            .filter(|h| *h > 0)
            .map(|h| std::time::Duration::from_secs(h.into()));
        WriteGuard {
            stop: Some(self.stop.clone()),
            hold,
            deadline: self.fsm.hold_deadline(),
        }
    }

    /// Sends what changed in the Adj-RIB-Out, within the bounds of
    /// [`guard`](Self::guard).
    async fn guarded_sync(
        &mut self,
        framer: &mut Framer,
        wr: &mut OwnedWriteHalf,
        adv: Option<&mut Advertised>,
    ) -> Result<(), SessionError> {
        let guard = self.guard();
        match guard.run(framer, self.sync(wr, adv, Sync::Delta)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(SessionError::Write(e.into())),
            Err(e) => Err(e),
        }
    }

    /// The context for decoding the peer's messages: RFC 7606 error
    /// handling unless the configuration asks for RFC 4271 alone.
    fn decode_context(&self) -> wire::DecodeContext {
        wire::DecodeContext {
            strict: self.config.strict_errors,
            ..self.fsm.decode_context()
        }
    }

    /// Records messages (several, one after another) into the pool's MRT
    /// file, when it has one. The peer's AS and the AS width are those of
    /// the OPENs as soon as they are known.
    fn record(&mut self, sent: bool, messages: &[u8]) {
        let Some((recorder, peers)) = self.recording.as_mut() else {
            return;
        };
        if let Some(n) = self.fsm.negotiated() {
            peers.peer_as = n.peer_as;
            peers.four_octet_as = n.four_octet_as;
        }
        recorder.record(peers, sent, messages);
    }

    /// Says what RFC 7606 did with a malformed UPDATE: an event and a log
    /// line per malformed part.
    fn report_malformed(&self, update: &wire::Update) {
        for e in &update.errors {
            tracing::warn!(
                peer = %self.name,
                action = %e.action,
                attribute = e.attribute,
                error = %e.error,
                "malformed UPDATE handled without a session reset (RFC 7606)"
            );
            let withdrawn = match e.action {
                wire::ErrorAction::TreatAsWithdraw => update.announced().copied().collect(),
                _ => Vec::new(),
            };
            self.emit(Event::malformed(&self.name, e, withdrawn));
        }
    }

    /// Decodes one message and hands it to the state machine.
    fn received(&mut self, bytes: &[u8]) -> Vec<Action> {
        self.record(false, bytes);
        let msg = Message::decode(bytes, self.decode_context());
        if self.config.trace {
            let summary = match &msg {
                Ok(m) => m.summary(),
                Err(e) => format!("malformed ({e}): {}", wire::hex(bytes)),
            };
            self.trace(Direction::Received, summary);
        }
        match &msg {
            Ok(Message::Notification(n)) => {
                log_notification(&self.name, n, "NOTIFICATION received");
                self.emit(Event::notification(&self.name, Direction::Received, n));
            }
            Err(e) => {
                tracing::warn!(peer = %self.name, error = %e, "malformed message received");
            }
            _ => {}
        }
        self.fsm.received(msg, Instant::now())
    }

    /// Carries out the FSM's actions; returns why the connection must end,
    /// when it must.
    async fn perform(
        &mut self,
        actions: Vec<Action>,
        wr: &mut OwnedWriteHalf,
        adv: &mut Option<Advertised>,
        local: SocketAddr,
    ) -> Option<SessionError> {
        let mut close = None;
        let mut queue: std::collections::VecDeque<Action> = actions.into();
        while let Some(action) = queue.pop_front() {
            match action {
                Action::Send(msg) => {
                    let bytes = msg.to_bytes(self.fsm.decode_context());
                    if self.config.trace {
                        self.trace(Direction::Sent, msg.summary());
                    }
                    if let Message::Notification(n) = &msg {
                        log_notification(&self.name, n, "NOTIFICATION sent");
                        self.emit(Event::notification(&self.name, Direction::Sent, n));
                    }
                    self.record(true, &bytes);
                    let r = wr.write_all(&bytes).await;
                    // A failed write of a NOTIFICATION must not hide why we
                    // are closing.
                    if let (Err(e), false) = (r, matches!(msg, Message::Notification(_))) {
                        return Some(SessionError::Write(e.into()));
                    }
                    self.fsm.sent(Instant::now());
                }
                Action::StateChange(_) => self.apply_states(std::slice::from_ref(&action)),
                Action::Established(n) => {
                    {
                        let mut s = lock(&self.status);
                        s.counters.established += 1;
                        s.hold_time = n.hold_time;
                        s.remote_as = n.peer_as;
                        s.remote_id = Some(n.peer_id);
                        s.families = n.families.clone();
                    }
                    tracing::info!(
                        peer = %self.name,
                        remote_as = n.peer_as,
                        hold_time = n.hold_time,
                        "session established"
                    );
                    *adv = Some(Advertised {
                        negotiated: (*n).clone(),
                        local,
                        rib: Arc::default(),
                        overrides: Overrides::default(),
                        params: self.params.borrow().clone(),
                    });
                    if let Err(e) = self.sync(wr, adv.as_mut(), Sync::Full).await {
                        return Some(SessionError::Write(e.into()));
                    }
                    if n.graceful_restart {
                        self.restart_time = n.peer_restart_time;
                        // End-of-RIB for each family (RFC 4724 section 2).
                        for f in &n.families {
                            let eor = Message::Update(wire::Update::end_of_rib_marker(*f));
                            queue.push_front(Action::Send(eor));
                        }
                    }
                    // The stale routes of a restarted peer wait for its
                    // End-of-RIB, in the families whose forwarding state it
                    // kept; the others go now.
                    if self.stale_deadline.is_some() {
                        for f in [Family::Ipv4Unicast, Family::Ipv6Unicast] {
                            if !(n.graceful_restart && n.peer_forwarding.contains(&f)) {
                                self.remove_stale(Some(f));
                            }
                        }
                        if let (Some(t), Some(_)) = (n.peer_restart_time, self.stale_deadline) {
                            let t = std::time::Duration::from_secs(t.max(1).into());
                            self.stale_deadline = Some(Instant::now() + t);
                        }
                    }
                }
                Action::Received(update) => {
                    self.report_malformed(&update);
                    if let Some((afi, safi)) = update.end_of_rib() {
                        if let Some(f) = Family::from_afi_safi(afi, safi) {
                            tracing::debug!(peer = %self.name, %f, "End-of-RIB received");
                            self.remove_stale(Some(f));
                        }
                    }
                    let received = lock(&self.adj_rib_in).apply(&update);
                    let held = lock(&self.adj_rib_in).len();
                    {
                        let mut s = lock(&self.status);
                        s.counters.updates_received += 1;
                        s.counters.updates_malformed += !update.errors.is_empty() as u64;
                        s.received = held as u64;
                    }
                    let family = received
                        .announce
                        .first()
                        .map_or(Family::Ipv4Unicast, |(p, _)| Family::of(p.addr()));
                    if let Some(n) = policy::prefix_limit(held, self.config.max_prefixes, family) {
                        tracing::warn!(peer = %self.name, held, "prefix limit exceeded");
                        queue.extend(self.fsm.fail(n));
                    }
                    if !received.announce.is_empty() || !received.withdraw.is_empty() {
                        self.emit(Event::Received {
                            peer: self.name.clone(),
                            direction: Direction::Received,
                            announce: received
                                .announce
                                .into_iter()
                                .map(|(prefix, attributes)| ReceivedRoute { prefix, attributes })
                                .collect(),
                            withdraw: received.withdraw,
                        });
                        self.changed();
                    }
                }
                Action::RouteRefresh(family) => {
                    tracing::debug!(peer = %self.name, %family, "route refresh");
                    if let Err(e) = self.sync(wr, adv.as_mut(), Sync::Family(family)).await {
                        return Some(SessionError::Write(e.into()));
                    }
                }
                Action::Close(reason) => {
                    close = Some(match reason {
                        CloseReason::NotificationSent(n)
                            if n.kind() == NotificationKind::HoldTimerExpired =>
                        {
                            SessionError::HoldTimerExpired
                        }
                        CloseReason::NotificationSent(n) => SessionError::NotificationSent(n),
                        CloseReason::NotificationReceived(n) => {
                            SessionError::NotificationReceived(n)
                        }
                        CloseReason::ConnectionClosed => SessionError::PeerClosed,
                    });
                }
            }
        }
        close
    }
}

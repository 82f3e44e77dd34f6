//! The tokio driver of one BGP session: socket, timers and channels around
//! the sans-IO [`SessionCore`] and its [`Fsm`](super::fsm::Fsm).
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | the [`Session`] handle |
//! | `driver.rs` | the reconnect loop, one connection's `select!` loop |
//! | `perform.rs` | the [`SessionCore`]'s steps carried out on a connection |
//! | `connection.rs` | one connection: framer, writer, what it advertised, bounded writes |
//! | `dial.rs` | dialling: source address, TCP MD5, connect timeout |
//! | `framing.rs` | messages framed in place in the read buffer |
//! | [`policy`] | pure export policy: attributes and next hops per peer |
//! | `advertise.rs` | Adj-RIB-Out differences packed into UPDATEs and written |
//!
//! The session's policy (graceful restart, End-of-RIB, the prefix limit,
//! close reasons, write bounds) is the sans-IO [`SessionCore`]; this module
//! only does the I/O around it.

mod advertise;
mod connection;
mod dial;
mod driver;
mod framing;
mod perform;
pub mod policy;

use super::config::{Overrides, Parameters, PeerConfig, PeerConfigError};
use super::core::SessionCore;
use super::event::{EventSender, PeerStatus};
use super::fsm::FsmConfig;
use super::rib::{AdjRibIn, LocRib, RouteAttributes};
use super::wire::{self, NotificationKind};
use crate::lock;
use driver::Driver;
use ipnet::IpNet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
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
    /// The session of a peer accepted from anywhere: it ends with its
    /// connection (unless the peer's routes are kept as stale while it
    /// restarts: then when they go), and its pool forgets it.
    pub(crate) one_connection: bool,
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
    reset: watch::Sender<u64>,
    incoming: mpsc::Sender<TcpStream>,
    raw: mpsc::Sender<Vec<u8>>,
    changes: StatusNotifier,
    /// See [`Shared::one_connection`].
    one_connection: bool,
    /// The stop to come is for a restart: close only.
    keep_routes: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
    /// The BFD session with the peer, when asked for (ended with this).
    _bfd: Option<crate::bgp::bfd::driver::BfdPeer>,
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
                one_connection: false,
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
            one_connection,
        } = shared;
        config.validate()?;
        let name = config.name();
        for w in config.warnings() {
            tracing::warn!(peer = %name, "{w}");
        }
        let status = Arc::new(Mutex::new(PeerStatus::new(name.clone(), config.local_as)));
        let (parameters, params_rx) = watch::channel(config.parameters.clone());
        let (stop, stop_rx) = watch::channel(false);
        let keep_routes = Arc::new(AtomicBool::new(false));
        let (reset, reset_rx) = watch::channel(0);
        let (incoming, incoming_rx) = mpsc::channel(1);
        let (raw, raw_rx) = mpsc::channel(RAW_QUEUE);
        let fsm = FsmConfig {
            local_as: config.local_as,
            router_id: config.router_id,
            hold_time: config.hold_time,
            peer_as: config.peer_as,
            families: config.families(),
            graceful_restart: config.graceful_restart.map(|t| t.as_secs() as u16),
        };
        let core = SessionCore::new(fsm, config.max_prefixes)
            .with_send_hold_time(config.send_hold_time)
            .with_extended_messages(config.extended_messages)
            .with_extended_next_hop(config.extended_next_hop)
            .with_add_path(config.add_path);
        let adj_rib_in = core.adj_rib_in();
        let bfd = start_bfd(&config, &status, &changes)?;
        let driver = Driver {
            bfd: bfd.as_ref().map(|b| b.status()),
            name,
            config: config.clone(),
            core,
            status: status.clone(),
            loc_rib,
            overrides,
            params: params_rx,
            stop: stop_rx,
            reset: reset_rx,
            incoming: incoming_rx,
            raw: raw_rx,
            events,
            changes: changes.clone(),
            mrt,
            staged,
            one_connection,
            keep_routes: keep_routes.clone(),
        };
        let task = tokio::spawn(driver.run());
        Ok(Session {
            config,
            status,
            adj_rib_in,
            parameters,
            stop,
            reset,
            incoming,
            raw,
            changes,
            one_connection,
            keep_routes,
            task,
            _bfd: bfd,
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

    /// An accepted peer's session whose connection has ended: its pool
    /// forgets it.
    pub(crate) fn is_over(&self) -> bool {
        self.one_connection && self.task.is_finished()
    }

    /// The Adj-RIB-In itself, shared with the running session.
    pub(crate) fn rib(&self) -> Arc<Mutex<AdjRibIn>> {
        self.adj_rib_in.clone()
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

    /// When connected, closes the connection with Cease / Administrative
    /// Reset without withdrawing first (the peer drops our routes as after
    /// any session loss); the session comes back after the connect-retry
    /// delay, or when the peer connects again (passive). Not connected:
    /// nothing.
    pub fn reset(&self) {
        self.reset.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// When connected, withdraws everything advertised, then sends Cease /
    /// Administrative Shutdown (graceful restart negotiated or not). Waits
    /// for the task to end and returns the final status.
    pub async fn stop(self) -> PeerStatus {
        self.stop.send_replace(true);
        let _ = self.task.await;
        lock(&self.status).clone()
    }

    /// A stop for a planned restart: when connected, closes the connection
    /// without withdrawing and without a NOTIFICATION, so that a peer with
    /// graceful restart negotiated (RFC 4724) keeps our routes as stale
    /// for the restart time, until the next process announces them again.
    /// Waits for the task to end and returns the final status.
    pub async fn stop_keeping_routes(self) -> PeerStatus {
        self.keep_routes.store(true, Ordering::Relaxed);
        self.stop().await
    }
}

/// A Cease is the ordinary end of a session (info); any other NOTIFICATION
/// is a fault (warn).
/// Starts the BFD session with the peer, when asked for, and keeps the
/// status's BFD state current.
fn start_bfd(
    config: &PeerConfig,
    status: &Arc<Mutex<PeerStatus>>,
    changes: &StatusNotifier,
) -> Result<Option<crate::bgp::bfd::driver::BfdPeer>, PeerConfigError> {
    let Some(b) = config.bfd else { return Ok(None) };
    let peer = crate::bgp::bfd::driver::BfdPeer::start(config.address.ip(), config.source, b)
        .map_err(|e| PeerConfigError::BfdSocket(e.to_string()))?;
    lock(status).bfd = Some(crate::bgp::bfd::BfdState::Down);
    tokio::spawn(follow_bfd(peer.status(), status.clone(), changes.clone()));
    Ok(Some(peer))
}

/// Keeps the status's BFD state current.
async fn follow_bfd(
    mut bfd: watch::Receiver<crate::bgp::bfd::driver::BfdStatus>,
    status: Arc<Mutex<PeerStatus>>,
    changes: StatusNotifier,
) {
    while bfd.changed().await.is_ok() {
        let state = bfd.borrow_and_update().state;
        lock(&status).bfd = Some(state);
        changes.send_modify(|n| *n = n.wrapping_add(1));
    }
}

fn log_notification(peer: &str, n: &wire::Notification, what: &str) {
    if matches!(n.kind(), NotificationKind::Cease(_)) {
        tracing::info!(%peer, notification = %n, "{what}");
    } else {
        tracing::warn!(%peer, notification = %n, "{what}");
    }
}

//! The session task: dials (or waits for) the peer, runs each connection's
//! `select!` loop, and carries out the [`Step`]s of the sans-IO
//! [`SessionCore`]. Policy lives in the core; this file only does I/O,
//! timers, events and the status.

use super::connection::{until, Connection};
use super::{dial, lock, log_notification, Staged, StatusNotifier};
use crate::bgp::bfd::driver::BfdStatus;
use crate::bgp::bfd::BfdState;
use crate::bgp::config::{Overrides, Parameters, PeerConfig};
use crate::bgp::core::{SessionCore, Step};
use crate::bgp::error::{IoFailure, SessionError};
use crate::bgp::event::{Direction, Event, EventSender, PeerStatus, PrefixList};
use crate::bgp::mrt::MrtRecorder;
use crate::bgp::rib::LocRib;
use crate::bgp::wire::{self, Family, NotificationKind};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

pub(super) struct Driver {
    pub(super) name: String,
    pub(super) config: PeerConfig,
    pub(super) core: SessionCore,
    pub(super) status: Arc<Mutex<PeerStatus>>,
    pub(super) loc_rib: watch::Receiver<LocRib>,
    pub(super) overrides: watch::Receiver<Overrides>,
    pub(super) params: watch::Receiver<Parameters>,
    pub(super) stop: watch::Receiver<bool>,
    /// Bumped by [`Session::reset`](super::Session::reset).
    pub(super) reset: watch::Receiver<u64>,
    pub(super) incoming: mpsc::Receiver<TcpStream>,
    pub(super) raw: mpsc::Receiver<Vec<u8>>,
    pub(super) events: EventSender,
    pub(super) changes: StatusNotifier,
    /// Where the pool records messages.
    pub(super) mrt: watch::Receiver<Option<Arc<MrtRecorder>>>,
    /// A table whose Loc-RIB is still being built.
    pub(super) staged: watch::Receiver<Option<Arc<Staged>>>,
    /// See [`Shared::one_connection`](super::Shared::one_connection).
    pub(super) one_connection: bool,
    /// A stop is for a restart: close, keeping the routes at the peer.
    pub(super) keep_routes: Arc<std::sync::atomic::AtomicBool>,
    /// The BFD session's status, when BFD runs with the peer.
    pub(super) bfd: Option<watch::Receiver<BfdStatus>>,
}

/// Whether BFD lets the session come up: no BFD, or BFD up.
fn bfd_up(bfd: &Option<watch::Receiver<BfdStatus>>) -> bool {
    bfd.as_ref()
        .map_or(true, |b| b.borrow().state == BfdState::Up)
}

/// The next change of the BFD status (never, without BFD).
async fn bfd_changed(bfd: &mut Option<watch::Receiver<BfdStatus>>) -> Option<BfdStatus> {
    match bfd {
        Some(b) => match b.changed().await {
            Ok(()) => Some(*b.borrow_and_update()),
            Err(_) => std::future::pending().await,
        },
        None => std::future::pending().await,
    }
}

/// What to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sync {
    /// The difference from what was sent.
    Delta,
    /// Everything (the session just came up).
    Full,
    /// Everything of one family again (route refresh).
    Family(Family),
    /// Withdraw everything sent (the session stops).
    WithdrawAll,
}

/// What a connection attempt gave.
enum Attempt {
    Stream(TcpStream),
    Failed,
    Stopped,
}

/// What woke a connection up.
enum Wake {
    /// More bytes were read.
    Read,
    /// The core has steps to carry out.
    Steps(Vec<Step>),
    /// The Loc-RIB, the parameters or the overrides changed.
    Sync,
    /// Bytes to write as they are.
    Raw(Vec<u8>),
}

/// The Loc-RIB, the parameters and the routes' own attributes, watched for
/// changes by one connection.
struct Inputs {
    params: watch::Receiver<Parameters>,
    loc: watch::Receiver<LocRib>,
    overrides: watch::Receiver<Overrides>,
}

impl Inputs {
    /// One of them changed. One whose sender is gone never changes again
    /// (a session spawned alone has no overrides to watch): it is waited
    /// for no more, not taken as a change.
    async fn changed(&mut self) {
        tokio::select! {
            Ok(()) = self.params.changed() => {}
            Ok(()) = self.loc.changed() => {}
            Ok(()) = self.overrides.changed() => {}
            else => std::future::pending().await,
        }
    }
}

impl Driver {
    pub(super) fn emit(&self, e: Event) {
        self.events.send(e);
    }

    /// A NOTIFICATION sent or received: logged, counted, and an event.
    pub(super) fn notified(&self, direction: Direction, n: &wire::Notification) {
        let what = match direction {
            Direction::Sent => "NOTIFICATION sent",
            Direction::Received => "NOTIFICATION received",
        };
        log_notification(&self.name, n, what);
        lock(&self.status)
            .counters
            .count_notification(direction, n.code, n.subcode);
        self.emit(Event::notification(&self.name, direction, n));
    }

    pub(super) fn changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub(super) fn trace(&self, direction: Direction, message: String) {
        self.emit(Event::Message {
            peer: self.name.clone(),
            direction,
            message,
        });
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// An accepted peer's session is over once its connection has ended
    /// and no stale routes of it are kept.
    fn over(&self) -> bool {
        self.one_connection
            && lock(&self.status).counters.connections > 0
            && !self.core.holds_stale()
    }

    /// Connects (or waits for the peer), runs the connection, and again
    /// after the connect-retry delay, until stopped.
    pub(super) async fn run(mut self) {
        while !self.stopping() {
            let steps = self.core.connecting(!self.config.passive);
            self.idle_steps(steps);
            let stream = match self.attempt().await {
                Attempt::Stream(s) => s,
                Attempt::Failed if self.retry_wait().await => continue,
                Attempt::Failed | Attempt::Stopped => break,
            };
            lock(&self.status).counters.connections += 1;
            let reason = self.run_connection(stream).await;
            if !self.ended(reason).await || self.over() {
                break;
            }
        }
        let steps = self.core.attempt_failed();
        self.idle_steps(steps);
    }

    /// Waits for the peer's connection (passive) or dials it; the core's
    /// timers run meanwhile.
    async fn attempt(&mut self) -> Attempt {
        if self.config.passive {
            loop {
                tokio::select! {
                    s = self.incoming.recv() => match s {
                        // RFC 5882: no session while BFD is down.
                        Some(_) if !bfd_up(&self.bfd) => {
                            tracing::info!(peer = %self.name, "connection refused: BFD is not up");
                        }
                        Some(s) => return Attempt::Stream(s),
                        None => return Attempt::Stopped,
                    },
                    _ = bfd_changed(&mut self.bfd) => {}
                    _ = self.stop.changed() => return Attempt::Stopped,
                    _ = until(self.core.next_deadline()) => {
                        self.timers();
                        if self.over() {
                            return Attempt::Stopped;
                        }
                    }
                }
            }
        }
        // RFC 5882: no session while BFD is down.
        while !bfd_up(&self.bfd) {
            tokio::select! {
                _ = bfd_changed(&mut self.bfd) => {}
                _ = self.stop.changed() => return Attempt::Stopped,
                _ = until(self.core.next_deadline()) => self.timers(),
            }
        }
        lock(&self.status).counters.attempts += 1;
        let config = self.config.clone();
        let connect = dial::connect(&config);
        tokio::pin!(connect);
        let result = loop {
            tokio::select! {
                r = &mut connect => break r,
                _ = self.stop.changed() => return Attempt::Stopped,
                _ = until(self.core.next_deadline()) => self.timers(),
            }
        };
        match result {
            Ok(s) => Attempt::Stream(s),
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
                let steps = self.core.attempt_failed();
                self.idle_steps(steps);
                Attempt::Failed
            }
        }
    }

    /// The core's timers that are due, while not connected.
    fn timers(&mut self) {
        let steps = self.core.poll_timers(Instant::now());
        self.idle_steps(steps);
    }

    /// Carries out the steps of the core that need no connection: state
    /// changes, stale routes removed, a restarting peer.
    pub(super) fn idle_steps(&mut self, steps: Vec<Step>) {
        for step in steps {
            match step {
                Step::State(state) => self.state(state),
                Step::StaleRemoved {
                    family,
                    withdrawn,
                    withdrawn_path_ids,
                    held,
                } => self.stale_removed(family, (withdrawn, withdrawn_path_ids), held),
                Step::Restarting {
                    stale,
                    restart_time,
                } => {
                    tracing::info!(peer = %self.name, stale, restart_time, "peer restarting: routes kept as stale");
                    self.emit(Event::Restarting {
                        peer: self.name.clone(),
                        stale,
                        restart_time,
                    });
                }
                _ => {}
            }
        }
    }

    /// The session ended for `reason`: the core decides what the peer's
    /// routes become, the status and the events say so. Returns whether
    /// to go on (not stopped, and for an active session, after the retry
    /// delay).
    async fn ended(&mut self, reason: SessionError) -> bool {
        let requested = reason.is_local_stop();
        let steps = self.core.disconnected(Instant::now());
        self.idle_steps(steps);
        {
            let mut s = lock(&self.status);
            s.received = self.core.held() as u64;
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
            return false;
        }
        self.config.passive || self.retry_wait().await
    }

    /// Waits the connect-retry delay plus jitter; false when stopped.
    async fn retry_wait(&mut self) -> bool {
        // Never a tight loop, whatever the embedder configured.
        let base = self
            .config
            .connect_retry
            .max(crate::bgp::config::MIN_CONNECT_RETRY);
        let jitter = base.mul_f64(rand::random::<f64>() * 0.25);
        let wait = tokio::time::sleep(base + jitter);
        tokio::pin!(wait);
        loop {
            tokio::select! {
                _ = &mut wait => return true,
                _ = self.stop.changed() => return false,
                _ = until(self.core.next_deadline()) => self.timers(),
            }
        }
    }

    /// The status and event of a state change.
    fn state(&self, state: crate::bgp::State) {
        {
            let mut s = lock(&self.status);
            s.state = state;
            s.since = SystemTime::now();
        }
        tracing::debug!(peer = %self.name, %state, "state");
        self.emit(Event::State {
            peer: self.name.clone(),
            state,
        });
        self.changed();
    }

    /// Stale routes removed: reported as withdrawn.
    fn stale_removed(
        &self,
        family: Option<wire::Family>,
        (withdrawn, withdraw_path_ids): (Vec<ipnet::IpNet>, Vec<u32>),
        held: usize,
    ) {
        if family.is_none() {
            let gone = withdrawn.len();
            tracing::info!(peer = %self.name, gone, "restart time over: stale routes removed");
        }
        if withdrawn.is_empty() {
            return;
        }
        lock(&self.status).received = held as u64;
        self.emit(Event::Received {
            peer: self.name.clone(),
            direction: Direction::Received,
            announce: vec![],
            withdraw: withdrawn,
            withdraw_path_ids,
        });
        self.changed();
    }

    /// Runs one connection until it closes; returns why.
    async fn run_connection(&mut self, stream: TcpStream) -> SessionError {
        let recorder = self.mrt.borrow().clone();
        let mut conn = match Connection::open(stream, &self.config, recorder) {
            Ok(c) => c,
            Err(e) => return e,
        };
        lock(&self.status).local_ip = Some(conn.writer.local.ip());
        let mut reason = self.exchange(&mut conn).await;
        if let SessionError::Write(_) = reason {
            // A peer that closed while we wrote may have said why first.
            let wait = std::time::Duration::from_millis(100);
            let _ = tokio::time::timeout(wait, conn.reader.fill()).await;
            if let Some(n) = conn.reader.notification() {
                self.notified(Direction::Received, &n);
                reason = SessionError::NotificationReceived(n);
            }
        }
        conn.shutdown().await;
        reason
    }

    /// The event loop of one connection: messages already read are handled
    /// first, then whichever comes next of more bytes, a stop, a change of
    /// the Loc-RIB or parameters, raw bytes to write, or a timer.
    async fn exchange(&mut self, conn: &mut Connection) -> SessionError {
        // A reset asked for while not connected does not carry over.
        self.reset.mark_unchanged();
        let steps = self.core.connected(Instant::now());
        let mut closed = self.bounded(conn, steps).await;
        let mut inputs = Inputs {
            params: self.params.clone(),
            loc: self.loc_rib.clone(),
            overrides: self.overrides.clone(),
        };
        inputs.params.mark_unchanged();
        inputs.loc.mark_unchanged();
        inputs.overrides.mark_unchanged();
        loop {
            if let Some(reason) = closed {
                return reason;
            }
            // Every whole message in the buffer, decoded where it lies.
            let max = self.core.decode_context().max_message_len();
            let steps = match conn.reader.next_len(max) {
                Ok(Some(len)) => {
                    let steps = self.received(conn, len);
                    conn.reader.consume(len);
                    steps
                }
                Ok(None) => match self.wait(conn, &mut inputs).await {
                    Ok(Wake::Read) => continue,
                    Ok(Wake::Steps(steps)) => steps,
                    Ok(Wake::Sync) => {
                        closed = self.sync_bounded(conn, Sync::Delta).await;
                        continue;
                    }
                    Ok(Wake::Raw(bytes)) => {
                        closed = self.write_raw(conn, bytes).await;
                        continue;
                    }
                    Err(e) => return e,
                },
                Err(e) => {
                    if self.config.trace {
                        self.trace(Direction::Received, format!("malformed header ({e})"));
                    }
                    self.core.received(Err(e), Instant::now())
                }
            };
            closed = self.bounded(conn, steps).await;
        }
    }

    /// Waits for what comes next on an idle connection.
    async fn wait(
        &mut self,
        conn: &mut Connection,
        inputs: &mut Inputs,
    ) -> Result<Wake, SessionError> {
        let established = conn.writer.adv.is_some();
        let deadline = self.core.next_deadline();
        tokio::select! {
            biased;
            r = conn.reader.fill() => match r {
                Ok(0) => Ok(Wake::Steps(self.core.closed_by_peer())),
                Ok(_) => Ok(Wake::Read),
                Err(e) => {
                    let _ = self.core.closed_by_peer();
                    Err(SessionError::Read(e.into()))
                }
            },
            _ = self.stop.changed() => {
                let now = Instant::now();
                Ok(Wake::Steps(match self.keep_routes.load(std::sync::atomic::Ordering::Relaxed) {
                    true => self.core.stop_keeping_routes(now),
                    false => self.core.stop(now),
                }))
            }
            Ok(()) = self.reset.changed() => Ok(Wake::Steps(self.core.reset(Instant::now()))),
            Some(b) = bfd_changed(&mut self.bfd) => Ok(Wake::Steps(match b.state {
                BfdState::Up => vec![],
                _ => self.core.bfd_down(Instant::now(), b.diagnostic),
            })),
            _ = inputs.changed(), if established => Ok(Wake::Sync),
            Some(bytes) = self.raw.recv(), if established => Ok(Wake::Raw(bytes)),
            _ = until(deadline) => Ok(Wake::Steps(self.core.poll_timers(Instant::now()))),
        }
    }
}

//! Sans-IO session policy beside the [`Fsm`]: what a session does with
//! what the state machine decided. Graceful restart (RFC 4724: End-of-RIB
//! after the first advertisement, a restarting peer's routes kept as stale
//! until its End-of-RIB or its restart time), the prefix limit (RFC 4486),
//! why a connection ended, and how long a write to the peer may take.
//!
//! Like the [`Fsm`] it wraps, the core takes events with the time passed
//! in and returns [`Step`]s for the driver to carry out; it keeps the
//! peer's Adj-RIB-In, shared with the [`Session`](super::Session) handle
//! that reads it. No sockets, no clocks: every policy is tested with
//! scripted time.
//!
//! ```
//! use cue::bgp::core::{SessionCore, Step};
//! use cue::bgp::fsm::FsmConfig;
//! use cue::bgp::wire::{Family, Message, Open};
//! use std::time::{Duration, Instant};
//! let mut core = SessionCore::new(
//!     FsmConfig { local_as: 65001, router_id: "10.0.0.1".parse().unwrap(), hold_time: 90,
//!         peer_as: None, families: vec![Family::Ipv4Unicast], graceful_restart: Some(120) },
//!     Some(1000),
//! );
//! let t0 = Instant::now();
//! core.connecting(true);
//! core.connected(t0);
//! let open = Open::new(65002, 90, "10.0.0.2".parse().unwrap(), &[Family::Ipv4Unicast])
//!     .with_graceful_restart(60);
//! core.received(Ok(Message::Open(open)), t0);
//! let steps = core.received(Ok(Message::Keepalive), t0);
//! // Established: the routes go, then End-of-RIB.
//! assert!(matches!(steps[1], Step::Established(_)));
//! assert!(matches!(&steps[2], Step::Send(Message::Update(u)) if u.end_of_rib().is_some()));
//! // The peer drops without a NOTIFICATION: it is restarting.
//! core.closed_by_peer();
//! let steps = core.disconnected(t0 + Duration::from_secs(1));
//! assert!(steps.contains(&Step::Restarting { stale: 0, restart_time: 60 }));
//! assert_eq!(core.next_deadline(), Some(t0 + Duration::from_secs(61)));
//! ```

use super::error::SessionError;
use super::fsm::{Action, CloseReason, Fsm, FsmConfig, Negotiated, State};
use super::rib::{AdjRibIn, Received};
use super::wire::{
    AddPathMode, CeaseSubcode, DecodeContext, DecodeError, Family, Message, Notification,
    NotificationKind, Update,
};
use crate::lock;
use ipnet::IpNet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a stop waits for the withdrawal and the Cease to be written to
/// a peer that does not read.
pub const STOP_WRITE_TIME: Duration = Duration::from_millis(700);

/// What the driver must do, in order.
// Steps live for one turn of the driver; see `Message` for the size.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Write this message.
    Send(Message),
    /// The state changed.
    State(State),
    /// The session is established: send the whole Adj-RIB-Out.
    Established(Box<Negotiated>),
    /// The peer asked for the routes of this family again.
    RouteRefresh(Family),
    /// An UPDATE was applied to the Adj-RIB-In: what it changed, and how
    /// many routes the peer holds now.
    Received {
        /// The UPDATE as it came (its RFC 7606 errors, if any).
        update: Box<Update>,
        /// What it announced and withdrew.
        change: Received,
        /// Routes held after it.
        held: usize,
    },
    /// Stale routes of a restarted peer were removed (at its End-of-RIB,
    /// for a family whose forwarding state it did not keep, or when its
    /// restart time ran out: `family` is then `None`).
    StaleRemoved {
        /// The family, or every family.
        family: Option<Family>,
        /// The prefixes removed (those with a path identifier first).
        withdrawn: Vec<IpNet>,
        /// The path identifiers of the first of `withdrawn` (ADD-PATH).
        withdrawn_path_ids: Vec<u32>,
        /// Routes held after.
        held: usize,
    },
    /// The peer dropped without a NOTIFICATION while graceful restart was
    /// negotiated: its routes are kept as stale for its restart time.
    Restarting {
        /// Routes kept as stale.
        stale: usize,
        /// The peer's restart time in seconds.
        restart_time: u16,
    },
    /// Withdraw everything advertised (a stop without graceful restart).
    WithdrawAll,
    /// End the connection, for this reason.
    Close(SessionError),
}

/// How long the next write may take: until `deadline`, moved to `extend`
/// after now whenever a byte comes from the peer (a sign of life); and,
/// whatever the peer sends, no longer than `stall` without the peer taking
/// a byte (the send hold time of RFC 9687).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteBound {
    /// When the write is given up, if ever.
    pub deadline: Option<Instant>,
    /// How far a byte from the peer moves the deadline, if at all.
    pub extend: Option<Duration>,
    /// How long the write may make no progress, if bounded so.
    pub stall: Option<Duration>,
}

/// RFC 9687's least default send hold time: 8 minutes (or twice the hold
/// time, when that is longer).
pub const DEFAULT_SEND_HOLD_TIME: Duration = Duration::from_secs(480);

/// The session policy around one [`Fsm`]; see the [module](self) docs.
#[derive(Debug)]
pub struct SessionCore {
    fsm: Fsm,
    max_prefixes: Option<usize>,
    rib: Arc<Mutex<AdjRibIn>>,
    /// The peer's restart time while a session with graceful restart
    /// negotiated is up.
    restart_time: Option<u16>,
    /// When the routes kept for a restarting peer go.
    stale_deadline: Option<Instant>,
    /// The bound of the writes of a stop, once stopping.
    stop_deadline: Option<Instant>,
    /// The connection ended without a NOTIFICATION (closed or reset by the
    /// peer): a peer with graceful restart is restarting.
    silent_close: bool,
    /// The send hold time configured (RFC 9687), if not the default.
    send_hold_time: Option<Duration>,
}

impl SessionCore {
    /// A core in Idle; `max_prefixes` is the prefix limit, if any.
    pub fn new(config: FsmConfig, max_prefixes: Option<usize>) -> SessionCore {
        SessionCore {
            fsm: Fsm::new(config),
            max_prefixes,
            rib: Arc::default(),
            restart_time: None,
            stale_deadline: None,
            stop_deadline: None,
            silent_close: false,
            send_hold_time: None,
        }
    }

    /// Offers ADD-PATH (RFC 7911) in the OPEN.
    pub fn with_add_path(mut self, mode: Option<AddPathMode>) -> SessionCore {
        self.fsm.offer_add_path(mode);
        self
    }

    /// Offers IPv4 routes with IPv6 next hops (RFC 8950) in the OPEN.
    pub fn with_extended_next_hop(mut self, on: bool) -> SessionCore {
        self.fsm.offer_extended_next_hop(on);
        self
    }

    /// Offers extended messages (RFC 8654) in the OPEN.
    pub fn with_extended_messages(mut self, on: bool) -> SessionCore {
        self.fsm.offer_extended_messages(on);
        self
    }

    /// The send hold time (RFC 9687) instead of the default, the larger of
    /// [`DEFAULT_SEND_HOLD_TIME`] and twice the negotiated hold time.
    pub fn with_send_hold_time(mut self, time: Option<Duration>) -> SessionCore {
        self.send_hold_time = time;
        self
    }

    /// The peer's Adj-RIB-In, to share with readers.
    pub fn adj_rib_in(&self) -> Arc<Mutex<AdjRibIn>> {
        self.rib.clone()
    }

    /// Routes the peer holds (stale ones included).
    pub fn held(&self) -> usize {
        lock(&self.rib).len()
    }

    /// Whether a stop was asked for on this connection.
    pub fn stopping(&self) -> bool {
        self.stop_deadline.is_some()
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.fsm.state()
    }

    /// What was negotiated, once Established.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.fsm.negotiated()
    }

    /// The context for encoding and decoding messages on this session.
    pub fn decode_context(&self) -> DecodeContext {
        self.fsm.decode_context()
    }

    /// The driver starts dialling (`active`) or waiting for a connection.
    pub fn connecting(&mut self, active: bool) -> Vec<Step> {
        let actions = self.fsm.connecting(active);
        self.steps(actions, Instant::now())
    }

    /// A connection attempt failed: back to Idle.
    pub fn attempt_failed(&mut self) -> Vec<Step> {
        let actions = self.fsm.reset();
        self.steps(actions, Instant::now())
    }

    /// The TCP connection is up at `now`: our OPEN goes.
    pub fn connected(&mut self, now: Instant) -> Vec<Step> {
        let actions = self.fsm.connected(now);
        self.steps(actions, now)
    }

    /// A message (or why it could not be decoded) arrived at `now`.
    pub fn received(&mut self, msg: Result<Message, DecodeError>, now: Instant) -> Vec<Step> {
        let actions = self.fsm.received(msg, now);
        self.steps(actions, now)
    }

    /// The peer closed the connection, or reading from it failed: no
    /// NOTIFICATION came.
    pub fn closed_by_peer(&mut self) -> Vec<Step> {
        let actions = self.fsm.closed();
        self.steps(actions, Instant::now())
    }

    /// We wrote an UPDATE at `now` (the keepalive timer restarts).
    pub fn sent(&mut self, now: Instant) {
        self.fsm.sent(now);
    }

    /// Stop at `now`: withdraw what was sent, Cease, close, graceful
    /// restart negotiated or not (a stopped speaker's routes must not stay
    /// at the peer). The writes get [`STOP_WRITE_TIME`].
    pub fn stop(&mut self, now: Instant) -> Vec<Step> {
        self.stop_deadline = Some(now + STOP_WRITE_TIME);
        let mut steps = vec![Step::WithdrawAll];
        let actions = self.fsm.stop();
        steps.extend(self.steps(actions, now));
        steps
    }

    /// Stop at `now` for a planned restart: close, without withdrawing and
    /// without a NOTIFICATION, so that a peer with graceful restart
    /// negotiated keeps our routes as stale for the restart time (without
    /// it, the peer drops them as after any session loss).
    pub fn stop_keeping_routes(&mut self, now: Instant) -> Vec<Step> {
        self.stop_deadline = Some(now + STOP_WRITE_TIME);
        vec![Step::Close(SessionError::LocalStop)]
    }

    /// Close the connection with Cease / Administrative Reset, without
    /// withdrawing first: the peer drops our routes as after any session
    /// loss, and the session comes back as after any close.
    pub fn reset(&mut self, now: Instant) -> Vec<Step> {
        let n = Notification::of(
            NotificationKind::Cease(CeaseSubcode::AdministrativeReset),
            Vec::new(),
        );
        let actions = self.fsm.fail(n);
        self.steps(actions, now)
    }

    /// BFD says the peer is gone (RFC 5882): close at once with Cease / BFD
    /// Down (RFC 9384), which the peer will most likely never read.
    pub fn bfd_down(&mut self, now: Instant, diagnostic: crate::bgp::bfd::Diagnostic) -> Vec<Step> {
        let n = Notification::of(NotificationKind::Cease(CeaseSubcode::BfdDown), Vec::new());
        let actions = self.fsm.fail(n);
        self.steps(actions, now)
            .into_iter()
            .map(|s| match s {
                Step::Close(_) => Step::Close(SessionError::BfdDown(diagnostic)),
                s => s,
            })
            .collect()
    }

    /// Whether routes of a restarting peer are kept as stale.
    pub fn holds_stale(&self) -> bool {
        self.stale_deadline.is_some()
    }

    /// The earliest deadline of a timer: the hold and keepalive timers
    /// while connected, the stale routes' while a peer restarts.
    pub fn next_deadline(&self) -> Option<Instant> {
        [self.fsm.next_deadline(), self.stale_deadline]
            .into_iter()
            .flatten()
            .min()
    }

    /// The timers that are due at `now`.
    pub fn poll_timers(&mut self, now: Instant) -> Vec<Step> {
        let mut steps = Vec::new();
        if self.stale_deadline.is_some_and(|d| now >= d) {
            self.stale_deadline = None;
            steps.push(self.remove_stale(None, true));
        }
        let actions = self.fsm.poll_timers(now);
        steps.extend(self.steps(actions, now));
        steps
    }

    /// The bound of the next write to the peer: the stop's, or the hold
    /// time, moved by every byte the peer sends meanwhile, and the send
    /// hold time, which nothing the peer sends moves.
    pub fn write_bound(&self) -> WriteBound {
        if self.stop_deadline.is_some() {
            return WriteBound {
                deadline: self.stop_deadline,
                ..WriteBound::default()
            };
        }
        let extend = self
            .negotiated()
            .map(|n| n.hold_time)
            .filter(|h| *h > 0)
            .map(|h| Duration::from_secs(h.into()));
        let stall = self
            .send_hold_time
            .unwrap_or_else(|| DEFAULT_SEND_HOLD_TIME.max(extend.unwrap_or_default() * 2));
        WriteBound {
            deadline: self.fsm.hold_deadline(),
            extend,
            stall: Some(stall),
        }
    }

    /// The connection is gone (for whatever reason) at `now`: a peer with
    /// graceful restart that dropped without a NOTIFICATION is restarting,
    /// and its routes stay as stale for its restart time (RFC 4724 section
    /// 4.2); otherwise they go. Back to Idle.
    pub fn disconnected(&mut self, now: Instant) -> Vec<Step> {
        let restarting = self
            .restart_time
            .take()
            .filter(|t| *t > 0)
            .filter(|_| self.silent_close);
        self.silent_close = false;
        self.stop_deadline = None;
        let mut steps = Vec::new();
        match restarting {
            Some(t) => {
                let stale = lock(&self.rib).mark_stale();
                self.stale_deadline = Some(now + Duration::from_secs(t.into()));
                steps.push(Step::Restarting {
                    stale,
                    restart_time: t,
                });
            }
            None => {
                lock(&self.rib).clear();
                self.stale_deadline = None;
            }
        }
        let actions = self.fsm.reset();
        steps.extend(self.steps(actions, now));
        steps
    }

    /// The state machine's actions as steps, with the policy applied.
    fn steps(&mut self, actions: Vec<Action>, now: Instant) -> Vec<Step> {
        let mut steps = Vec::with_capacity(actions.len());
        for action in actions {
            match action {
                Action::Send(m) => steps.push(Step::Send(m)),
                Action::StateChange(s) => steps.push(Step::State(s)),
                Action::Established(n) => self.established(n, now, &mut steps),
                Action::Received(u) => self.update(u, now, &mut steps),
                Action::RouteRefresh(f) => steps.push(Step::RouteRefresh(f)),
                Action::Close(reason) => steps.push(Step::Close(self.close_reason(reason))),
            }
        }
        steps
    }

    /// Why the connection ends, as the session reports it.
    fn close_reason(&mut self, reason: CloseReason) -> SessionError {
        if self.stop_deadline.is_some() {
            return SessionError::LocalStop;
        }
        match reason {
            CloseReason::NotificationSent(n) if n.kind() == NotificationKind::HoldTimerExpired => {
                SessionError::HoldTimerExpired
            }
            CloseReason::NotificationSent(n) => SessionError::NotificationSent(n),
            CloseReason::NotificationReceived(n) => SessionError::NotificationReceived(n),
            CloseReason::ConnectionClosed => {
                self.silent_close = true;
                SessionError::PeerClosed
            }
        }
    }

    /// Established: the routes go, then End-of-RIB for each family when
    /// graceful restart was negotiated (RFC 4724 section 2). The stale
    /// routes of a restarted peer wait for its End-of-RIB in the families
    /// whose forwarding state it kept (for its new restart time); the
    /// others go now.
    fn established(&mut self, n: Box<Negotiated>, now: Instant, steps: &mut Vec<Step>) {
        let restarted = self.stale_deadline.is_some();
        let (gr, restart, families) = (n.graceful_restart, n.peer_restart_time, n.families.clone());
        let kept: Vec<Family> = n.peer_forwarding.clone();
        steps.push(Step::Established(n));
        if gr {
            self.restart_time = restart;
            for f in &families {
                steps.push(Step::Send(Message::Update(Update::end_of_rib_marker(*f))));
            }
        }
        if restarted {
            for f in [Family::Ipv4Unicast, Family::Ipv6Unicast] {
                if !(gr && kept.contains(&f)) {
                    self.stale_removed(Some(f), steps);
                }
            }
            if let (Some(t), Some(_)) = (restart, self.stale_deadline) {
                self.stale_deadline = Some(now + Duration::from_secs(t.max(1).into()));
            }
        }
    }

    /// An UPDATE: End-of-RIB ends the stale routes of its family; the
    /// routes go into the Adj-RIB-In; a peer over its prefix limit gets
    /// Cease / Maximum Number of Prefixes Reached.
    fn update(&mut self, update: Box<Update>, now: Instant, steps: &mut Vec<Step>) {
        if let Some(f) = update
            .end_of_rib()
            .and_then(|(afi, safi)| Family::from_afi_safi(afi, safi))
        {
            self.stale_removed(Some(f), steps);
        }
        let (change, held) = {
            let mut rib = lock(&self.rib);
            let change = rib.apply(&update);
            (change, rib.len())
        };
        let family = change
            .announce
            .first()
            .map_or(Family::Ipv4Unicast, |(p, _)| Family::of(p.addr()));
        steps.push(Step::Received {
            update,
            change,
            held,
        });
        if let Some(n) = prefix_limit(held, self.max_prefixes, family) {
            let actions = self.fsm.fail(n);
            steps.extend(self.steps(actions, now));
        }
    }

    /// Removes the stale routes of `family` and says so when there were
    /// any.
    fn stale_removed(&mut self, family: Option<Family>, steps: &mut Vec<Step>) {
        let step = self.remove_stale(family, false);
        if matches!(&step, Step::StaleRemoved { withdrawn, .. } if !withdrawn.is_empty()) {
            steps.push(step);
        }
    }

    /// Removes the routes still stale (of one family, or all); the stale
    /// timer stops once none is left (or at once, `over`).
    fn remove_stale(&mut self, family: Option<Family>, over: bool) -> Step {
        let mut rib = lock(&self.rib);
        let gone = rib.remove_stale(family);
        if over || rib.stale().next().is_none() {
            self.stale_deadline = None;
        }
        Step::StaleRemoved {
            family,
            withdrawn: gone.withdraw,
            withdrawn_path_ids: gone.withdraw_path_ids,
            held: rib.len(),
        }
    }
}

/// Cease / Maximum Number of Prefixes Reached (RFC 4486) with the family
/// and the limit as data, when a peer holds more than `limit` routes.
pub fn prefix_limit(held: usize, limit: Option<usize>, family: Family) -> Option<Notification> {
    let limit = limit.filter(|&m| held > m)?;
    let (afi, safi) = family.afi_safi();
    let mut data = afi.to_be_bytes().to_vec();
    data.push(safi);
    data.extend_from_slice(&(limit.min(u32::MAX as usize) as u32).to_be_bytes());
    Some(Notification::of(
        NotificationKind::Cease(CeaseSubcode::MaximumPrefixesReached),
        data,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::bgp::wire::{
        AsPath, Capability, GracefulRestartFamily, MpReach, Open, Origin, PathAttributes,
    };
    use std::net::Ipv4Addr;

    const T: fn(u64) -> Duration = Duration::from_secs;

    fn config(graceful_restart: Option<u16>) -> FsmConfig {
        FsmConfig {
            local_as: 65001,
            router_id: Ipv4Addr::new(10, 0, 0, 1),
            hold_time: 90,
            peer_as: Some(65002),
            families: vec![Family::Ipv4Unicast, Family::Ipv6Unicast],
            graceful_restart,
        }
    }

    /// The peer's OPEN: both families, and graceful restart with the
    /// forwarding state of `kept` preserved, when `restart` is given.
    fn peer_open(restart: Option<u16>, kept: &[Family]) -> Message {
        let families = [Family::Ipv4Unicast, Family::Ipv6Unicast];
        let mut open = Open::new(65002, 90, Ipv4Addr::new(10, 0, 0, 2), &families);
        if let Some(t) = restart {
            open.capabilities.push(Capability::GracefulRestart {
                restarting: false,
                notification: false,
                restart_time: t,
                families: families
                    .iter()
                    .map(|f| GracefulRestartFamily {
                        afi: f.afi_safi().0,
                        safi: f.afi_safi().1,
                        forwarding: kept.contains(f),
                    })
                    .collect(),
            });
        }
        Message::Open(open)
    }

    fn establish(core: &mut SessionCore, open: Message, now: Instant) -> Vec<Step> {
        core.connecting(true);
        core.connected(now);
        core.received(Ok(open), now);
        let steps = core.received(Ok(Message::Keepalive), now);
        assert_eq!(core.state(), State::Established);
        steps
    }

    /// An UPDATE announcing `prefixes` (IPv4 in NLRI, IPv6 in MP_REACH).
    fn announce(prefixes: &[&str]) -> Message {
        let nets: Vec<IpNet> = prefixes.iter().map(|p| p.parse().unwrap()).collect();
        let (v4, v6): (Vec<IpNet>, Vec<IpNet>) = nets.into_iter().partition(|p| p.addr().is_ipv4());
        let attributes = PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence(&[65002])),
            next_hop: (!v4.is_empty()).then(|| Ipv4Addr::new(10, 0, 0, 2)),
            mp_reach: (!v6.is_empty()).then(|| MpReach {
                afi: 2,
                safi: 1,
                next_hops: vec!["2001:db8::2".parse().unwrap()],
                nlri: v6,
                ..Default::default()
            }),
            ..Default::default()
        };
        Message::Update(Update {
            withdrawn: vec![],
            attributes,
            nlri: v4,
            ..Default::default()
        })
    }

    fn eor(family: Family) -> Message {
        Message::Update(Update::end_of_rib_marker(family))
    }

    fn removed(steps: &[Step]) -> Vec<(Option<Family>, Vec<String>)> {
        steps
            .iter()
            .filter_map(|s| match s {
                Step::StaleRemoved {
                    family, withdrawn, ..
                } => Some((*family, withdrawn.iter().map(|p| p.to_string()).collect())),
                _ => None,
            })
            .collect()
    }

    fn sent_eor(steps: &[Step]) -> Vec<(u16, u8)> {
        steps
            .iter()
            .filter_map(|s| match s {
                Step::Send(Message::Update(u)) => u.end_of_rib(),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn end_of_rib_follows_the_routes_only_with_graceful_restart() {
        let t0 = Instant::now();
        let mut core = SessionCore::new(config(Some(120)), None);
        let steps = establish(&mut core, peer_open(Some(60), &[]), t0);
        let at = steps.iter().position(|s| matches!(s, Step::Established(_)));
        assert_eq!(at, Some(1), "after the state change");
        assert_eq!(sent_eor(&steps[2..]), vec![(1, 1), (2, 1)]);
        let mut core = SessionCore::new(config(Some(120)), None);
        assert!(sent_eor(&establish(&mut core, peer_open(None, &[]), t0)).is_empty());
        let mut core = SessionCore::new(config(None), None);
        assert!(sent_eor(&establish(&mut core, peer_open(Some(60), &[]), t0)).is_empty());
    }

    #[test]
    fn a_restarting_peer_keeps_its_routes_until_end_of_rib() {
        let t0 = Instant::now();
        let mut core = SessionCore::new(config(Some(120)), None);
        establish(&mut core, peer_open(Some(60), &[Family::Ipv4Unicast]), t0);
        core.received(
            Ok(announce(&[
                "192.0.2.0/24",
                "198.51.100.0/24",
                "2001:db8::/32",
            ])),
            t0,
        );
        assert_eq!(core.held(), 3);
        // The connection drops without a NOTIFICATION at 10 s.
        let t1 = t0 + T(10);
        let steps = core.closed_by_peer();
        assert!(matches!(&steps[0], Step::Close(SessionError::PeerClosed)));
        let steps = core.disconnected(t1);
        assert_eq!(
            steps[0],
            Step::Restarting {
                stale: 3,
                restart_time: 60
            }
        );
        assert_eq!(core.state(), State::Idle);
        assert_eq!(core.held(), 3, "kept as stale");
        assert_eq!(core.next_deadline(), Some(t1 + T(60)));
        assert!(removed(&core.poll_timers(t1 + T(59))).is_empty());
        // Back at 30 s, keeping IPv4's forwarding state only: the IPv6
        // routes go now; the IPv4 ones wait for End-of-RIB, for the new
        // restart time (90 s).
        let t2 = t0 + T(30);
        let steps = establish(&mut core, peer_open(Some(90), &[Family::Ipv4Unicast]), t2);
        assert_eq!(
            removed(&steps),
            vec![(Some(Family::Ipv6Unicast), vec!["2001:db8::/32".into()])]
        );
        assert_eq!(core.held(), 2);
        assert_eq!(
            core.next_deadline(),
            Some(t2 + T(30)),
            "the keepalive timer first"
        );
        // One route comes again; End-of-RIB takes the other.
        core.received(Ok(announce(&["192.0.2.0/24"])), t2 + T(1));
        let steps = core.received(Ok(eor(Family::Ipv4Unicast)), t2 + T(2));
        assert_eq!(
            removed(&steps),
            vec![(Some(Family::Ipv4Unicast), vec!["198.51.100.0/24".into()])]
        );
        assert_eq!(core.held(), 1);
        // No stale route left: no stale timer (only the session's timers).
        core.poll_timers(t2 + T(120));
        assert_eq!(core.held(), 1);
    }

    #[test]
    fn stale_routes_go_when_the_restart_time_runs_out() {
        let t0 = Instant::now();
        let mut core = SessionCore::new(config(Some(120)), None);
        establish(&mut core, peer_open(Some(5), &[Family::Ipv4Unicast]), t0);
        core.received(Ok(announce(&["192.0.2.0/24", "2001:db8::/32"])), t0);
        core.closed_by_peer();
        core.disconnected(t0);
        // Not back in time: everything goes at once, as one removal.
        let steps = core.poll_timers(t0 + T(5));
        assert_eq!(removed(&steps).len(), 1);
        assert_eq!(removed(&steps)[0].0, None);
        assert_eq!(removed(&steps)[0].1.len(), 2);
        assert_eq!(core.held(), 0);
        assert_eq!(core.next_deadline(), None);
    }

    #[test]
    fn routes_go_at_once_without_graceful_restart_or_after_a_notification() {
        let t0 = Instant::now();
        // Not negotiated (we did not offer it).
        let mut core = SessionCore::new(config(None), None);
        establish(&mut core, peer_open(Some(60), &[Family::Ipv4Unicast]), t0);
        core.received(Ok(announce(&["192.0.2.0/24"])), t0);
        core.closed_by_peer();
        assert!(core
            .disconnected(t0)
            .iter()
            .all(|s| !matches!(s, Step::Restarting { .. })));
        assert_eq!(core.held(), 0);
        // Negotiated, but the peer said goodbye with a NOTIFICATION.
        let mut core = SessionCore::new(config(Some(120)), None);
        establish(&mut core, peer_open(Some(60), &[Family::Ipv4Unicast]), t0);
        core.received(Ok(announce(&["192.0.2.0/24"])), t0);
        let cease = crate::bgp::wire::Notification::admin_shutdown();
        let steps = core.received(Ok(Message::Notification(cease.clone())), t0);
        assert!(steps.contains(&Step::Close(SessionError::NotificationReceived(cease))));
        assert!(core
            .disconnected(t0)
            .iter()
            .all(|s| !matches!(s, Step::Restarting { .. })));
        assert_eq!(core.held(), 0);
        assert_eq!(core.next_deadline(), None);
        // A restart time of 0: nothing to wait for.
        let mut core = SessionCore::new(config(Some(120)), None);
        establish(&mut core, peer_open(Some(0), &[Family::Ipv4Unicast]), t0);
        core.received(Ok(announce(&["192.0.2.0/24"])), t0);
        core.closed_by_peer();
        core.disconnected(t0);
        assert_eq!(core.held(), 0);
    }

    #[test]
    fn a_peer_over_its_prefix_limit_gets_cease() {
        let t0 = Instant::now();
        let mut core = SessionCore::new(config(None), Some(2));
        establish(&mut core, peer_open(None, &[]), t0);
        let steps = core.received(Ok(announce(&["192.0.2.0/24", "198.51.100.0/24"])), t0);
        assert!(matches!(&steps[..], [Step::Received { held: 2, .. }]));
        let steps = core.received(Ok(announce(&["2001:db8::/32"])), t0 + T(1));
        assert!(matches!(&steps[0], Step::Received { held: 3, .. }));
        let n = prefix_limit(3, Some(2), Family::Ipv6Unicast).unwrap();
        assert_eq!(steps[1], Step::Send(Message::Notification(n.clone())));
        assert_eq!(steps[2], Step::Close(SessionError::NotificationSent(n)));
        assert_eq!(steps[3], Step::State(State::Idle));
        // Not a restart, whatever was negotiated: the routes go.
        core.disconnected(t0 + T(1));
        assert_eq!(core.held(), 0);
    }

    #[test]
    fn stops_and_write_bounds() {
        let t0 = Instant::now();
        let mut core = SessionCore::new(config(None), None);
        establish(&mut core, peer_open(None, &[]), t0);
        // Established: a write may take the hold time, moved by the peer;
        // and 8 minutes without progress at most (RFC 9687's default).
        let b = core.write_bound();
        assert_eq!(
            b,
            WriteBound {
                deadline: Some(t0 + T(90)),
                extend: Some(T(90)),
                stall: Some(T(480)),
            }
        );
        // A stop withdraws, says Cease, closes as asked for, within 0.7 s.
        let steps = core.stop(t0 + T(1));
        assert_eq!(steps[0], Step::WithdrawAll);
        assert!(
            matches!(&steps[1], Step::Send(Message::Notification(n)) if n.kind() == NotificationKind::Cease(CeaseSubcode::AdministrativeShutdown))
        );
        assert_eq!(steps[2], Step::Close(SessionError::LocalStop));
        assert!(core.stopping());
        assert_eq!(
            core.write_bound(),
            WriteBound {
                deadline: Some(t0 + T(1) + STOP_WRITE_TIME),
                extend: None,
                stall: None,
            }
        );
        core.disconnected(t0 + T(1));
        assert!(!core.stopping());
        // With graceful restart, a stop still withdraws and says Cease; a
        // stop for a restart only closes: the peer keeps our routes.
        let mut core = SessionCore::new(config(Some(120)), None);
        establish(&mut core, peer_open(Some(60), &[]), t0);
        assert_eq!(core.stop(t0)[0], Step::WithdrawAll);
        let mut core = SessionCore::new(config(Some(120)), None);
        establish(&mut core, peer_open(Some(60), &[]), t0);
        assert_eq!(
            core.stop_keeping_routes(t0),
            vec![Step::Close(SessionError::LocalStop)]
        );
        assert!(core.stopping());
        // A reset: Cease / Administrative Reset, nothing withdrawn, not a
        // stop (the session comes back).
        let mut core = SessionCore::new(config(None), None);
        establish(&mut core, peer_open(None, &[]), t0);
        let steps = core.reset(t0);
        assert!(!steps.contains(&Step::WithdrawAll));
        let reset = Notification::of(
            NotificationKind::Cease(CeaseSubcode::AdministrativeReset),
            vec![],
        );
        assert_eq!(steps[0], Step::Send(Message::Notification(reset.clone())));
        assert_eq!(steps[1], Step::Close(SessionError::NotificationSent(reset)));
        assert!(!core.stopping());
        // Hold Timer Expired is a close reason of its own.
        let mut core = SessionCore::new(config(None), None);
        establish(&mut core, peer_open(None, &[]), t0);
        let steps = core.poll_timers(t0 + T(90));
        assert!(steps.contains(&Step::Close(SessionError::HoldTimerExpired)));
        // A send hold time of its own; the default grows with a long hold
        // time (twice it, when that is over 8 minutes).
        let mut core = SessionCore::new(config(None), None).with_send_hold_time(Some(T(5)));
        establish(&mut core, peer_open(None, &[]), t0);
        assert_eq!(core.write_bound().stall, Some(T(5)));
        let long = FsmConfig {
            hold_time: 600,
            ..config(None)
        };
        let mut core = SessionCore::new(long, None);
        let mut open = peer_open(None, &[]);
        if let Message::Open(o) = &mut open {
            o.hold_time = 600;
        }
        establish(&mut core, open, t0);
        assert_eq!(core.write_bound().stall, Some(T(1200)));
    }

    #[test]
    fn prefix_limit_notification() {
        assert_eq!(prefix_limit(10, Some(10), Family::Ipv4Unicast), None);
        assert_eq!(prefix_limit(11, None, Family::Ipv4Unicast), None);
        let n = prefix_limit(11, Some(10), Family::Ipv6Unicast).unwrap();
        assert_eq!((n.code, n.subcode), (6, 1));
        assert_eq!(n.data, vec![0, 2, 1, 0, 0, 0, 10]);
    }
}

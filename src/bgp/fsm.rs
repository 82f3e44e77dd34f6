//! Sans-IO BGP session state machine (RFC 4271 section 8).
//!
//! Events go in (`connected`, `received`, `poll_timers`, `stop`, ...), with
//! the current time passed in; [`Action`]s come out for the driver to carry
//! out. No sockets, no clocks: every exchange can be scripted in a test.

use super::wire::{
    AddPathFamilies, AddPathMode, Afi, Capability, DecodeContext, DecodeError, Family, Message,
    Notification, Open, RouteRefresh, Update,
};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

/// Hold time used until the OPENs are exchanged (RFC 4271 suggests 4 minutes).
pub const OPEN_HOLD_TIME: Duration = Duration::from_secs(240);

/// Session states (RFC 4271 section 8.2.2).
///
/// ```
/// use cue::bgp::State;
/// assert_eq!(State::OpenConfirm.to_string(), "OPEN_CONFIRM");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    /// Not running, or waiting before the next attempt.
    Idle,
    /// Waiting for a connection (passive, or after a failed attempt).
    Active,
    /// Dialling the peer.
    Connect,
    /// OPEN sent, waiting for the peer's.
    OpenSent,
    /// OPENs exchanged, waiting for KEEPALIVE.
    OpenConfirm,
    /// Routes can be exchanged.
    Established,
}

impl State {
    /// The name as the status and JSON output show it.
    pub fn name(self) -> &'static str {
        match self {
            State::Idle => "IDLE",
            State::Active => "ACTIVE",
            State::Connect => "CONNECT",
            State::OpenSent => "OPEN_SENT",
            State::OpenConfirm => "OPEN_CONFIRM",
            State::Established => "ESTABLISHED",
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What the state machine needs to know about the local side.
///
/// ```
/// use cue::bgp::fsm::{Fsm, FsmConfig};
/// use cue::bgp::wire::Family;
/// let fsm = Fsm::new(FsmConfig {
///     local_as: 65001,
///     router_id: "10.0.0.1".parse().unwrap(),
///     hold_time: 90,
///     peer_as: None,
///     families: vec![Family::Ipv4Unicast],
///     graceful_restart: None,
/// });
/// assert_eq!(fsm.state(), cue::bgp::State::Idle);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsmConfig {
    /// Local AS.
    pub local_as: u32,
    /// Local BGP identifier.
    pub router_id: Ipv4Addr,
    /// Proposed hold time (0, or 3 and above).
    pub hold_time: u16,
    /// The AS the peer must have, if any.
    pub peer_as: Option<u32>,
    /// Families advertised in the multiprotocol capability.
    pub families: Vec<Family>,
    /// Graceful restart (RFC 4724): the restart time (seconds, at most
    /// 4095) advertised in the capability, for every family with its
    /// forwarding state preserved. `None`: no capability.
    pub graceful_restart: Option<u16>,
}

/// What both sides agreed on.
///
/// ```
/// # use cue::bgp::fsm::{Fsm, FsmConfig};
/// # use cue::bgp::wire::{Family, Message, Open};
/// # let mut fsm = Fsm::new(FsmConfig { local_as: 65001, router_id: "10.0.0.1".parse().unwrap(),
/// #     hold_time: 90, peer_as: None, families: vec![Family::Ipv4Unicast, Family::Ipv6Unicast], graceful_restart: None });
/// # let now = std::time::Instant::now();
/// # fsm.connecting(true);
/// # fsm.connected(now);
/// # fsm.received(Ok(Message::Open(Open::new(65002, 90, "10.0.0.2".parse().unwrap(), &[Family::Ipv4Unicast]))), now);
/// # fsm.received(Ok(Message::Keepalive), now);
/// let n = fsm.negotiated().unwrap();
/// assert_eq!(n.families, vec![Family::Ipv4Unicast], "what both sides support");
/// assert_eq!(n.keepalive(), Some(std::time::Duration::from_secs(30)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The peer's AS (4-octet when it said so).
    pub peer_as: u32,
    /// The peer's BGP identifier.
    pub peer_id: Ipv4Addr,
    /// Hold time in use (0: no keepalives, no hold timer).
    pub hold_time: u16,
    /// Both sides support 4-octet AS numbers.
    pub four_octet_as: bool,
    /// The peer supports route refresh.
    pub route_refresh: bool,
    /// Families both sides support.
    pub families: Vec<Family>,
    /// Both sides sent the graceful restart capability (RFC 4724): End-of-RIB
    /// markers follow the initial advertisement, and a session that drops
    /// without a NOTIFICATION leaves routes as stale rather than gone.
    pub graceful_restart: bool,
    /// The peer's restart time, when it sent the capability.
    pub peer_restart_time: Option<u16>,
    /// The families whose forwarding state the peer says it preserved
    /// across a restart (F bit): their stale routes wait for End-of-RIB.
    pub peer_forwarding: Vec<Family>,
    /// The peer's OPEN, as it came.
    pub peer_open: Open,
    /// Both sides offered extended messages (RFC 8654).
    pub extended_messages: bool,
    /// Both sides offered IPv4 unicast routes with IPv6 next hops (RFC
    /// 8950): ours go in MP_REACH_NLRI with the IPv6 next hop.
    pub extended_next_hop: bool,
    /// ADD-PATH (RFC 7911): the families whose routes we send with path
    /// identifiers (we offered to send, the peer to receive).
    pub add_path_send: AddPathFamilies,
    /// The families whose routes the peer sends with path identifiers
    /// (we offered to receive, the peer to send).
    pub add_path_receive: AddPathFamilies,
}

impl Negotiated {
    /// Keepalive interval: a third of the hold time.
    pub fn keepalive(&self) -> Option<Duration> {
        (self.hold_time > 0).then(|| Duration::from_secs(self.hold_time as u64) / 3)
    }
}

/// Why a session ended.
///
/// ```
/// use cue::bgp::fsm::CloseReason;
/// use cue::bgp::wire::Notification;
/// let r = CloseReason::NotificationReceived(Notification::admin_shutdown());
/// assert_eq!(r.to_string(), "received Cease / Administrative Shutdown");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// We sent this NOTIFICATION.
    NotificationSent(Notification),
    /// The peer sent this NOTIFICATION.
    NotificationReceived(Notification),
    /// The peer closed the connection without a NOTIFICATION.
    ConnectionClosed,
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CloseReason::NotificationSent(n) => write!(f, "sent {}", n.reason()),
            CloseReason::NotificationReceived(n) => write!(f, "received {}", n.reason()),
            CloseReason::ConnectionClosed => f.write_str("connection closed by peer"),
        }
    }
}

/// What the driver must do.
///
/// ```
/// use cue::bgp::fsm::{Action, Fsm, FsmConfig};
/// use cue::bgp::wire::{Family, Notification};
/// let mut fsm = Fsm::new(FsmConfig { local_as: 65001, router_id: "10.0.0.1".parse().unwrap(),
///     hold_time: 90, peer_as: None, families: vec![Family::Ipv4Unicast], graceful_restart: None });
/// fsm.connecting(true);
/// fsm.connected(std::time::Instant::now());
/// // A stop sends Cease and closes.
/// let actions = fsm.stop();
/// assert!(actions.iter().any(|a| matches!(a, Action::Close(_))));
/// ```
// Actions live for one step of the driver; see `Message` for the size.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this message.
    Send(Message),
    /// The state changed.
    StateChange(State),
    /// The session is established: advertise the Adj-RIB-Out.
    Established(Box<Negotiated>),
    /// An UPDATE arrived in Established.
    Received(Box<Update>),
    /// The peer asked for the routes of this family again.
    RouteRefresh(Family),
    /// Close the connection.
    Close(CloseReason),
}

/// The session state machine.
///
/// ```
/// use cue::bgp::fsm::{Action, Fsm, FsmConfig, State};
/// use cue::bgp::wire::{Family, Message, Open};
/// use std::time::Instant;
/// let mut fsm = Fsm::new(FsmConfig {
///     local_as: 65001,
///     router_id: "10.0.0.1".parse().unwrap(),
///     hold_time: 90,
///     peer_as: Some(65002),
///     families: vec![Family::Ipv4Unicast],
///     graceful_restart: None,
/// });
/// let now = Instant::now();
/// fsm.connecting(true);
/// // Connected: our OPEN goes out.
/// let actions = fsm.connected(now);
/// assert!(actions.iter().any(|a| matches!(a, Action::Send(Message::Open(_)))));
/// assert_eq!(fsm.state(), State::OpenSent);
/// // The peer's OPEN: we confirm with a KEEPALIVE.
/// let peer = Open::new(65002, 30, "10.0.0.2".parse().unwrap(), &[Family::Ipv4Unicast]);
/// let actions = fsm.received(Ok(Message::Open(peer)), now);
/// assert!(actions.contains(&Action::Send(Message::Keepalive)));
/// assert_eq!(fsm.state(), State::OpenConfirm);
/// // Its KEEPALIVE: established, with the smaller hold time.
/// let actions = fsm.received(Ok(Message::Keepalive), now);
/// assert!(actions.iter().any(|a| matches!(a, Action::Established(_))));
/// assert_eq!(fsm.negotiated().unwrap().hold_time, 30);
/// ```
#[derive(Debug)]
pub struct Fsm {
    config: FsmConfig,
    state: State,
    negotiated: Option<Negotiated>,
    pending: Option<Negotiated>,
    hold_deadline: Option<Instant>,
    keepalive_deadline: Option<Instant>,
    /// Extended messages (RFC 8654) offered in our OPEN.
    extended_messages: bool,
    /// IPv4 routes with IPv6 next hops (RFC 8950) offered in our OPEN.
    extended_next_hop: bool,
    /// ADD-PATH (RFC 7911) offered in our OPEN, for each family we offer.
    add_path: Option<AddPathMode>,
}

impl Fsm {
    /// Offers extended messages (RFC 8654) in the OPEN: when the peer does
    /// too, messages other than OPEN and KEEPALIVE may take up to 65,535
    /// octets ([`Negotiated::extended_messages`]).
    pub fn offer_extended_messages(&mut self, on: bool) {
        self.extended_messages = on;
    }

    /// Offers the extended next hop capability (RFC 8950) for IPv4 unicast
    /// with IPv6 next hops ([`Negotiated::extended_next_hop`]).
    pub fn offer_extended_next_hop(&mut self, on: bool) {
        self.extended_next_hop = on;
    }

    /// Offers ADD-PATH (RFC 7911) for each family of the session: to send
    /// several paths of a prefix, to receive them, or both
    /// ([`Negotiated::add_path_send`], [`Negotiated::add_path_receive`]).
    pub fn offer_add_path(&mut self, mode: Option<AddPathMode>) {
        self.add_path = mode;
    }

    /// The families where we offered `ours` of ADD-PATH and the peer's
    /// OPEN offers `theirs`.
    fn add_path_both(
        &self,
        ours: AddPathMode,
        open: &Open,
        theirs: AddPathMode,
    ) -> AddPathFamilies {
        if !self.add_path.is_some_and(|m| m.bits() & ours.bits() != 0) {
            return AddPathFamilies::default();
        }
        let peer = open.add_path(theirs);
        let offered = if self.config.families.is_empty() {
            vec![Family::Ipv4Unicast]
        } else {
            self.config.families.clone()
        };
        let both: Vec<Family> = offered.into_iter().filter(|f| peer.has(*f)).collect();
        AddPathFamilies::of(&both)
    }

    /// A state machine in Idle.
    pub fn new(config: FsmConfig) -> Fsm {
        Fsm {
            config,
            state: State::Idle,
            negotiated: None,
            pending: None,
            hold_deadline: None,
            keepalive_deadline: None,
            extended_messages: false,
            extended_next_hop: false,
            add_path: None,
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// What was negotiated, once Established.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }

    /// The context for decoding the peer's messages (RFC 7606 error
    /// handling; the driver sets `strict` when asked to).
    pub fn decode_context(&self) -> DecodeContext {
        let n = self.negotiated.as_ref().or(self.pending.as_ref());
        DecodeContext {
            four_octet_as: n.is_some_and(|n| n.four_octet_as),
            external: n.is_some_and(|n| n.peer_as != self.config.local_as),
            strict: false,
            extended_messages: n.is_some_and(|n| n.extended_messages),
            add_path: n.map(|n| n.add_path_receive).unwrap_or_default(),
        }
    }

    fn set_state(&mut self, state: State, out: &mut Vec<Action>) {
        if self.state != state {
            self.state = state;
            out.push(Action::StateChange(state));
        }
    }

    /// The driver starts dialling (Connect) or waiting for a connection
    /// (Active).
    pub fn connecting(&mut self, active: bool) -> Vec<Action> {
        let mut out = Vec::new();
        self.set_state(
            if active {
                State::Connect
            } else {
                State::Active
            },
            &mut out,
        );
        out
    }

    /// A connection attempt failed, or the session ended: back to Idle.
    pub fn reset(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        self.negotiated = None;
        self.pending = None;
        self.hold_deadline = None;
        self.keepalive_deadline = None;
        self.set_state(State::Idle, &mut out);
        out
    }

    /// The TCP connection is up: send OPEN.
    pub fn connected(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        let c = &self.config;
        let mut open = Open::new(c.local_as, c.hold_time, c.router_id, &c.families);
        if let Some(t) = c.graceful_restart {
            open = open.with_graceful_restart(t);
        }
        if self.extended_messages {
            open.capabilities.push(Capability::ExtendedMessage);
        }
        if self.extended_next_hop {
            let ipv4_via_ipv6 = (Afi::Ipv4.code(), 1, Afi::Ipv6.code());
            open.capabilities
                .push(Capability::ExtendedNextHop(vec![ipv4_via_ipv6]));
        }
        if let Some(mode) = self.add_path {
            let families = open.mp_families().unwrap_or(vec![Family::Ipv4Unicast]);
            let entries = families.iter().map(|f| {
                let (afi, safi) = f.afi_safi();
                (afi, safi, mode.bits())
            });
            open.capabilities
                .push(Capability::AddPath(entries.collect()));
        }
        out.push(Action::Send(Message::Open(open)));
        self.hold_deadline = Some(now + OPEN_HOLD_TIME);
        self.set_state(State::OpenSent, &mut out);
        out
    }

    /// The peer closed the connection.
    pub fn closed(&mut self) -> Vec<Action> {
        let mut out = vec![Action::Close(CloseReason::ConnectionClosed)];
        out.extend(self.reset());
        out
    }

    /// Stop the session: Cease / Administrative Shutdown when a session is
    /// open.
    pub fn stop(&mut self) -> Vec<Action> {
        self.fail(Notification::admin_shutdown())
    }

    /// Send a NOTIFICATION (when connected) and close.
    pub fn fail(&mut self, n: Notification) -> Vec<Action> {
        let mut out = Vec::new();
        if matches!(
            self.state,
            State::OpenSent | State::OpenConfirm | State::Established
        ) {
            out.push(Action::Send(Message::Notification(n.clone())));
        }
        out.push(Action::Close(CloseReason::NotificationSent(n)));
        out.extend(self.reset());
        out
    }

    /// We sent an UPDATE or KEEPALIVE: the keepalive timer restarts.
    pub fn sent(&mut self, now: Instant) {
        if let Some(k) = self.negotiated.as_ref().and_then(|n| n.keepalive()) {
            self.keepalive_deadline = Some(now + k);
        }
    }

    /// When the hold timer expires, if it runs.
    pub fn hold_deadline(&self) -> Option<Instant> {
        self.hold_deadline
    }

    /// The earliest timer deadline, if any timer runs.
    pub fn next_deadline(&self) -> Option<Instant> {
        match (self.hold_deadline, self.keepalive_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Fire the timers that are due.
    pub fn poll_timers(&mut self, now: Instant) -> Vec<Action> {
        if self.hold_deadline.is_some_and(|d| now >= d) {
            return self.fail(Notification::hold_timer_expired());
        }
        let mut out = Vec::new();
        if self.keepalive_deadline.is_some_and(|d| now >= d) {
            out.push(Action::Send(Message::Keepalive));
            self.keepalive_deadline = None;
            let k = self.negotiated.as_ref().or(self.pending.as_ref());
            if let Some(k) = k.and_then(|n| n.keepalive()) {
                self.keepalive_deadline = Some(now + k);
            }
        }
        out
    }

    fn restart_hold(&mut self, now: Instant) {
        let n = self.negotiated.as_ref().or(self.pending.as_ref());
        self.hold_deadline = match n.map(|n| n.hold_time) {
            Some(0) => None,
            Some(h) => Some(now + Duration::from_secs(h as u64)),
            None => self.hold_deadline,
        };
    }

    /// A message (or a decode error) arrived at `now`.
    pub fn received(&mut self, msg: Result<Message, DecodeError>, now: Instant) -> Vec<Action> {
        let msg = match msg {
            Ok(m) => m,
            Err(e) => return self.fail(e.notification()),
        };
        if let Message::Notification(n) = msg {
            let mut out = vec![Action::Close(CloseReason::NotificationReceived(n))];
            out.extend(self.reset());
            return out;
        }
        match (self.state, msg) {
            (State::OpenSent, Message::Open(open)) => self.on_open(open, now),
            (State::OpenSent, _) => self.fail(Notification::fsm_error(1)),
            (State::OpenConfirm, Message::Keepalive) => {
                let mut out = Vec::new();
                self.negotiated = self.pending.take();
                self.restart_hold(now);
                self.set_state(State::Established, &mut out);
                if let Some(n) = &self.negotiated {
                    out.push(Action::Established(Box::new(n.clone())));
                }
                out
            }
            (State::OpenConfirm, _) => self.fail(Notification::fsm_error(2)),
            (State::Established, Message::Keepalive) => {
                self.restart_hold(now);
                vec![]
            }
            (State::Established, Message::Update(u)) => {
                self.restart_hold(now);
                vec![Action::Received(Box::new(u))]
            }
            (State::Established, Message::RouteRefresh(RouteRefresh { afi, subtype, safi })) => {
                self.restart_hold(now);
                match Family::from_afi_safi(afi, safi) {
                    // RFC 2918: ignore families that were not negotiated.
                    Some(f)
                        if subtype == 0
                            && self
                                .negotiated
                                .as_ref()
                                .is_some_and(|n| n.families.contains(&f)) =>
                    {
                        vec![Action::RouteRefresh(f)]
                    }
                    _ => vec![],
                }
            }
            (State::Established, _) => self.fail(Notification::fsm_error(3)),
            // Not connected: nothing to answer.
            _ => vec![],
        }
    }

    fn on_open(&mut self, open: Open, now: Instant) -> Vec<Action> {
        let peer_as = open.asn();
        if let Some(expected) = self.config.peer_as {
            if expected != peer_as {
                return self.fail(DecodeError::BadPeerAs(peer_as).notification());
            }
        }
        if open.bgp_id == self.config.router_id || open.bgp_id.is_unspecified() {
            return self.fail(DecodeError::BadBgpIdentifier(open.bgp_id).notification());
        }
        let peer_families = open.mp_families().unwrap_or(vec![Family::Ipv4Unicast]);
        let ours = if self.config.families.is_empty() {
            vec![Family::Ipv4Unicast]
        } else {
            self.config.families.clone()
        };
        let families = ours
            .into_iter()
            .filter(|f| peer_families.contains(f))
            .collect();
        let negotiated = Negotiated {
            peer_as,
            peer_id: open.bgp_id,
            hold_time: self.config.hold_time.min(open.hold_time),
            four_octet_as: open.four_octet_as(),
            route_refresh: open.route_refresh(),
            families,
            graceful_restart: self.config.graceful_restart.is_some()
                && open.graceful_restart().is_some(),
            peer_restart_time: open.graceful_restart().map(|(t, _)| t),
            peer_forwarding: open
                .graceful_restart()
                .map(|(_, fams)| {
                    fams.iter()
                        .filter(|f| f.forwarding)
                        .filter_map(|f| Family::from_afi_safi(f.afi, f.safi))
                        .collect()
                })
                .unwrap_or_default(),
            extended_messages: self.extended_messages && open.extended_messages(),
            extended_next_hop: self.extended_next_hop && open.extended_next_hop_ipv4(),
            add_path_send: self.add_path_both(AddPathMode::Send, &open, AddPathMode::Receive),
            add_path_receive: self.add_path_both(AddPathMode::Receive, &open, AddPathMode::Send),
            peer_open: open,
        };
        let keepalive = negotiated.keepalive();
        self.pending = Some(negotiated);
        let mut out = vec![Action::Send(Message::Keepalive)];
        self.keepalive_deadline = keepalive.map(|k| now + k);
        self.restart_hold(now);
        self.set_state(State::OpenConfirm, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> FsmConfig {
        FsmConfig {
            local_as: 65001,
            router_id: Ipv4Addr::new(10, 0, 0, 1),
            hold_time: 9,
            peer_as: Some(65002),
            families: vec![Family::Ipv4Unicast, Family::Ipv6Unicast],
            graceful_restart: None,
        }
    }

    fn peer_open(asn: u32, hold: u16, id: [u8; 4]) -> Message {
        Message::Open(Open::new(
            asn,
            hold,
            Ipv4Addr::from(id),
            &[Family::Ipv4Unicast],
        ))
    }

    fn sent(actions: &[Action]) -> Vec<&Message> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Send(m) => Some(m),
                _ => None,
            })
            .collect()
    }

    fn establish(fsm: &mut Fsm, t0: Instant) {
        let a = fsm.connected(t0);
        assert!(matches!(sent(&a)[0], Message::Open(_)));
        assert_eq!(fsm.state(), State::OpenSent);
        let a = fsm.received(Ok(peer_open(65002, 30, [10, 0, 0, 2])), t0);
        assert_eq!(sent(&a), vec![&Message::Keepalive]);
        assert_eq!(fsm.state(), State::OpenConfirm);
        let a = fsm.received(Ok(Message::Keepalive), t0);
        assert_eq!(fsm.state(), State::Established);
        let Some(Action::Established(n)) = a.iter().find(|a| matches!(a, Action::Established(_)))
        else {
            panic!("no Established action")
        };
        assert_eq!(n.hold_time, 9);
        assert_eq!(n.families, vec![Family::Ipv4Unicast]);
        assert!(n.four_octet_as);
    }

    #[test]
    fn extended_messages_only_when_both_offer_them() {
        let t0 = Instant::now();
        for (ours, theirs) in [(true, true), (true, false), (false, true)] {
            let mut fsm = Fsm::new(config());
            fsm.offer_extended_messages(ours);
            let a = fsm.connected(t0);
            let Message::Open(open) = sent(&a)[0] else {
                panic!("an OPEN")
            };
            assert_eq!(open.extended_messages(), ours);
            let Message::Open(mut peer) = peer_open(65002, 30, [10, 0, 0, 2]) else {
                unreachable!()
            };
            if theirs {
                peer.capabilities.push(Capability::ExtendedMessage);
            }
            fsm.received(Ok(Message::Open(peer)), t0);
            fsm.received(Ok(Message::Keepalive), t0);
            let both = ours && theirs;
            assert_eq!(fsm.negotiated().unwrap().extended_messages, both);
            assert_eq!(
                fsm.decode_context().max_message_len(),
                if both { 65535 } else { 4096 }
            );
        }
    }

    #[test]
    fn extended_next_hop_only_when_both_offer_ipv4_via_ipv6() {
        let t0 = Instant::now();
        let ipv4_via_ipv6 = Capability::ExtendedNextHop(vec![(1, 1, 2)]);
        let other = Capability::ExtendedNextHop(vec![(1, 128, 2)]);
        for (ours, theirs, want) in [
            (true, Some(&ipv4_via_ipv6), true),
            (true, Some(&other), false),
            (true, None, false),
            (false, Some(&ipv4_via_ipv6), false),
        ] {
            let mut fsm = Fsm::new(config());
            fsm.offer_extended_next_hop(ours);
            let a = fsm.connected(t0);
            let Message::Open(open) = sent(&a)[0] else {
                panic!("an OPEN")
            };
            assert_eq!(open.extended_next_hop_ipv4(), ours);
            let Message::Open(mut peer) = peer_open(65002, 30, [10, 0, 0, 2]) else {
                unreachable!()
            };
            peer.capabilities.extend(theirs.cloned());
            fsm.received(Ok(Message::Open(peer)), t0);
            fsm.received(Ok(Message::Keepalive), t0);
            assert_eq!(fsm.negotiated().unwrap().extended_next_hop, want);
        }
    }

    #[test]
    fn add_path_each_way_only_where_one_sends_and_the_other_receives() {
        let t0 = Instant::now();
        let v4 = AddPathFamilies::of(&[Family::Ipv4Unicast]);
        let none = AddPathFamilies::default();
        // (ours, the peer's Send/Receive field, what we send, what we receive)
        for (ours, theirs, send, receive) in [
            (Some(AddPathMode::Both), Some(3), v4, v4),
            (Some(AddPathMode::Send), Some(3), v4, none),
            (Some(AddPathMode::Receive), Some(3), none, v4),
            (Some(AddPathMode::Send), Some(2), none, none),
            (Some(AddPathMode::Receive), Some(1), none, none),
            (Some(AddPathMode::Both), None, none, none),
            (None, Some(3), none, none),
        ] {
            let mut fsm = Fsm::new(config());
            fsm.offer_add_path(ours);
            let a = fsm.connected(t0);
            let Message::Open(open) = sent(&a)[0] else {
                panic!("an OPEN")
            };
            let offered = open
                .capabilities
                .iter()
                .any(|c| matches!(c, Capability::AddPath(_)));
            assert_eq!(offered, ours.is_some());
            let Message::Open(mut peer) = peer_open(65002, 30, [10, 0, 0, 2]) else {
                unreachable!()
            };
            // We offer IPv4 and IPv6, the peer IPv4 (and a family we do
            // not carry): only IPv4 is negotiated.
            peer.capabilities
                .extend(theirs.map(|sr| Capability::AddPath(vec![(1, 1, sr), (1, 128, sr)])));
            fsm.received(Ok(Message::Open(peer)), t0);
            fsm.received(Ok(Message::Keepalive), t0);
            let n = fsm.negotiated().unwrap();
            assert_eq!((n.add_path_send, n.add_path_receive), (send, receive));
            assert_eq!(fsm.decode_context().add_path, receive);
        }
    }

    #[test]
    fn establishes_and_keeps_alive() {
        let t0 = Instant::now();
        let mut fsm = Fsm::new(config());
        establish(&mut fsm, t0);
        // Keepalive every hold/3 = 3 s.
        assert_eq!(fsm.next_deadline(), Some(t0 + Duration::from_secs(3)));
        let a = fsm.poll_timers(t0 + Duration::from_secs(3));
        assert_eq!(sent(&a), vec![&Message::Keepalive]);
        // The peer keeps us alive at 8 s; hold expires at 17 s without more.
        fsm.received(Ok(Message::Keepalive), t0 + Duration::from_secs(8));
        let a = fsm.poll_timers(t0 + Duration::from_secs(16));
        assert_eq!(fsm.state(), State::Established);
        assert!(sent(&a).iter().all(|m| **m == Message::Keepalive));
        let a = fsm.poll_timers(t0 + Duration::from_secs(17));
        assert_eq!(
            sent(&a),
            vec![&Message::Notification(Notification::hold_timer_expired())]
        );
        assert_eq!(fsm.state(), State::Idle);
    }

    #[test]
    fn hold_time_zero_means_no_timers() {
        let t0 = Instant::now();
        let mut fsm = Fsm::new(FsmConfig {
            hold_time: 0,
            ..config()
        });
        fsm.connected(t0);
        fsm.received(Ok(peer_open(65002, 90, [10, 0, 0, 2])), t0);
        fsm.received(Ok(Message::Keepalive), t0);
        assert_eq!(fsm.state(), State::Established);
        assert_eq!(fsm.next_deadline(), None);
    }

    #[test]
    fn open_checks() {
        let t0 = Instant::now();
        let cases = [
            (peer_open(65003, 30, [10, 0, 0, 2]), (2, 2)),
            (peer_open(65002, 30, [10, 0, 0, 1]), (2, 3)),
            (peer_open(65002, 30, [0, 0, 0, 0]), (2, 3)),
            (Message::Keepalive, (5, 1)),
        ];
        for (msg, (code, subcode)) in cases {
            let mut fsm = Fsm::new(config());
            fsm.connected(t0);
            let a = fsm.received(Ok(msg), t0);
            let Message::Notification(n) = sent(&a)[0] else {
                panic!("no notification")
            };
            assert_eq!((n.code, n.subcode), (code, subcode));
            assert_eq!(fsm.state(), State::Idle);
        }
    }

    #[test]
    fn decode_errors_are_answered() {
        let mut fsm = Fsm::new(config());
        let t0 = Instant::now();
        establish(&mut fsm, t0);
        let a = fsm.received(Err(DecodeError::MalformedAsPath), t0);
        let Message::Notification(n) = sent(&a)[0] else {
            panic!()
        };
        assert_eq!((n.code, n.subcode), (3, 11));
        assert!(matches!(
            a[1],
            Action::Close(CloseReason::NotificationSent(_))
        ));
    }

    #[test]
    fn unexpected_open_in_established() {
        let mut fsm = Fsm::new(config());
        let t0 = Instant::now();
        establish(&mut fsm, t0);
        let a = fsm.received(Ok(peer_open(65002, 30, [10, 0, 0, 2])), t0);
        assert_eq!(
            sent(&a),
            vec![&Message::Notification(Notification::fsm_error(3))]
        );
    }

    #[test]
    fn notification_received_closes() {
        let mut fsm = Fsm::new(config());
        let t0 = Instant::now();
        establish(&mut fsm, t0);
        let n = Notification::admin_shutdown();
        let a = fsm.received(Ok(Message::Notification(n.clone())), t0);
        assert_eq!(a[0], Action::Close(CloseReason::NotificationReceived(n)));
        assert!(sent(&a).is_empty());
        assert_eq!(fsm.state(), State::Idle);
    }

    #[test]
    fn route_refresh_for_negotiated_family_only() {
        let mut fsm = Fsm::new(config());
        let t0 = Instant::now();
        establish(&mut fsm, t0);
        let rr = |afi| {
            Ok(Message::RouteRefresh(RouteRefresh {
                afi,
                subtype: 0,
                safi: 1,
            }))
        };
        assert_eq!(
            fsm.received(rr(1), t0),
            vec![Action::RouteRefresh(Family::Ipv4Unicast)]
        );
        assert_eq!(fsm.received(rr(2), t0), vec![]);
    }

    #[test]
    fn stop_sends_cease() {
        let mut fsm = Fsm::new(config());
        let t0 = Instant::now();
        establish(&mut fsm, t0);
        let a = fsm.stop();
        assert_eq!(
            sent(&a),
            vec![&Message::Notification(Notification::admin_shutdown())]
        );
        // Stopping an idle session sends nothing.
        assert!(sent(&fsm.stop()).is_empty());
    }
}

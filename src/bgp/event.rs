//! Events a session reports to the embedder, the bounded stream that
//! carries them, and the per-peer status.
//!
//! # When the embedder falls behind
//!
//! A pool buffers at most [`DEFAULT_EVENT_BUFFER`] events (or what
//! [`Pool::with_event_buffer`](super::Pool::with_event_buffer) says). A
//! session never waits for the embedder: when the buffer is full, new
//! events are dropped and counted, and the next [`Events::recv`] returns
//! [`Event::Lagged`] with the number lost before anything else. Nothing of
//! the sessions' state is lost with them: [`Pool::status`], [`Pool::adj_rib_in`]
//! and [`Pool::status_changes`] always tell the present.
//!
//! [`Pool::status`]: super::Pool::status
//! [`Pool::adj_rib_in`]: super::Pool::adj_rib_in
//! [`Pool::status_changes`]: super::Pool::status_changes

use super::error::SessionError;
use super::fsm::State;
use super::rib::{LocRib, RouteAttributes};
use super::wire::{AttributeError, ErrorAction, Family, Notification};
use ipnet::IpNet;
use serde::{Serialize, Serializer};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;

/// Events a pool buffers for its embedder unless told otherwise.
pub const DEFAULT_EVENT_BUFFER: usize = 4096;

/// An event type that can say "this many events were dropped here".
///
/// ```
/// use cue::bgp::{event_channel, Event};
/// let (tx, mut rx) = event_channel::<Event>(1);
/// tx.send(Event::Added { peer: "a".into() });
/// tx.send(Event::Added { peer: "b".into() }); // the buffer is full: counted
/// assert!(matches!(rx.try_recv(), Some(Event::Lagged { missed: 1 })));
/// assert!(matches!(rx.try_recv(), Some(Event::Added { .. })));
/// ```
pub trait Lagged {
    /// The event standing for `missed` dropped events.
    fn lagged(missed: u64) -> Self;
}

impl Lagged for Event {
    fn lagged(missed: u64) -> Self {
        Event::Lagged { missed }
    }
}

/// The sending side of an event stream: never waits; counts what a full
/// buffer drops.
///
/// ```
/// use cue::bgp::{event_channel, Event};
/// let (tx, mut rx) = event_channel::<Event>(16);
/// tx.send(Event::Removed { peer: "192.0.2.1".into() }); // never waits
/// assert_eq!(rx.try_recv().unwrap().peer(), "192.0.2.1");
/// ```
#[derive(Debug)]
pub struct EventSender<T = Event> {
    tx: mpsc::Sender<T>,
    missed: Arc<AtomicU64>,
}

impl<T> Clone for EventSender<T> {
    fn clone(&self) -> Self {
        EventSender {
            tx: self.tx.clone(),
            missed: self.missed.clone(),
        }
    }
}

impl<T> EventSender<T> {
    /// Sends `event`, or counts it as missed when the buffer is full.
    pub fn send(&self, event: T) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(event) {
            self.missed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A stream of events in order, with a [`Lagged`] event where some were
/// dropped (see the module docs).
///
/// ``` no_run
/// # async fn demo() {
/// use cue::bgp::{Event, Pool};
/// let (pool, mut events) = Pool::new();
/// while let Some(e) = events.recv().await {
///     match e {
///         Event::Lagged { missed } => eprintln!("{missed} events lost; status is still whole: {:?}", pool.status()),
///         e => println!("{}", serde_json::to_string(&e).unwrap()),
///     }
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct Events<T = Event> {
    rx: mpsc::Receiver<T>,
    missed: Arc<AtomicU64>,
}

impl<T: Lagged> Events<T> {
    /// The next event; `None` once every sender is gone.
    pub async fn recv(&mut self) -> Option<T> {
        if let Some(lagged) = self.lagged() {
            return Some(lagged);
        }
        // The buffer is only full, and events only dropped, while it holds
        // events: nothing is lost while this waits on an empty one.
        self.rx.recv().await
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<T> {
        self.lagged().or_else(|| self.rx.try_recv().ok())
    }

    fn lagged(&self) -> Option<T> {
        match self.missed.swap(0, Ordering::Relaxed) {
            0 => None,
            missed => Some(T::lagged(missed)),
        }
    }
}

/// A bounded event stream of `capacity` events (at least 1).
pub fn event_channel<T>(capacity: usize) -> (EventSender<T>, Events<T>) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let missed = Arc::new(AtomicU64::new(0));
    (
        EventSender {
            tx,
            missed: missed.clone(),
        },
        Events { rx, missed },
    )
}

/// Who sent a message.
///
/// ```
/// use cue::bgp::Direction;
/// assert_eq!(serde_json::to_string(&Direction::Sent).unwrap(), "\"sent\"");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// We sent it.
    Sent,
    /// The peer sent it.
    Received,
}

/// A list of prefixes: either a shared RIB (no copy) or a plain list.
///
/// ```
/// use cue::bgp::PrefixList;
/// let l = PrefixList::List(vec!["192.0.2.1/32".parse().unwrap()]);
/// assert_eq!(l.len(), 1);
/// assert_eq!(serde_json::to_string(&l).unwrap(), "[\"192.0.2.1/32\"]");
/// ```
#[derive(Debug, Clone)]
pub enum PrefixList {
    /// Every prefix of a RIB.
    Rib(LocRib),
    /// These prefixes.
    List(Vec<IpNet>),
}

impl PrefixList {
    /// How many prefixes.
    pub fn len(&self) -> usize {
        match self {
            PrefixList::Rib(r) => r.len(),
            PrefixList::List(l) => l.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The prefixes in order.
    pub fn iter(&self) -> Box<dyn Iterator<Item = &IpNet> + Send + '_> {
        match self {
            PrefixList::Rib(r) => Box::new(r.iter()),
            PrefixList::List(l) => Box::new(l.iter()),
        }
    }
}

impl Serialize for PrefixList {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// A route received from a peer.
///
/// ```
/// # fn show(e: cue::bgp::Event) {
/// use cue::bgp::Event;
/// if let Event::Received { peer, announce, .. } = e {
///     for r in announce {
///         println!("{peer}: {} next hop {:?}", r.prefix, r.attributes.next_hop);
///     }
/// }
/// # }
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct ReceivedRoute {
    /// The prefix.
    pub prefix: IpNet,
    /// Its attributes.
    #[serde(flatten)]
    pub attributes: Arc<RouteAttributes>,
}

/// Something that happened to a peer.
///
/// ```
/// use cue::bgp::{Event, State};
/// let e = Event::State { peer: "192.0.2.1".into(), state: State::Established };
/// assert_eq!(
///     serde_json::to_string(&e).unwrap(),
///     r#"{"event":"state","peer":"192.0.2.1","state":"ESTABLISHED"}"#
/// );
/// ```
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum Event {
    /// A peer was added to the pool.
    Added {
        /// The peer.
        peer: String,
    },
    /// A peer was removed from the pool.
    Removed {
        /// The peer.
        peer: String,
    },
    /// The session changed state.
    State {
        /// The peer.
        peer: String,
        /// The new state.
        state: State,
    },
    /// A NOTIFICATION was sent or received.
    Notification {
        /// The peer.
        peer: String,
        /// Sent or received.
        direction: Direction,
        /// Error code.
        code: u8,
        /// Error subcode.
        subcode: u8,
        /// Readable meaning.
        reason: String,
    },
    /// Routes were announced or withdrawn by us.
    #[serde(rename = "update")]
    Sent {
        /// The peer.
        peer: String,
        /// Always "sent".
        direction: Direction,
        /// Prefixes announced.
        announce: PrefixList,
        /// Prefixes withdrawn.
        withdraw: PrefixList,
        /// When writing them began (for timing a change's way through a
        /// router); not in the JSON.
        #[serde(skip)]
        written: std::time::Instant,
    },
    /// Routes were announced or withdrawn by the peer.
    #[serde(rename = "update")]
    Received {
        /// The peer.
        peer: String,
        /// Always "received".
        direction: Direction,
        /// Routes announced, with their attributes.
        announce: Vec<ReceivedRoute>,
        /// Prefixes withdrawn: those with a path identifier first.
        withdraw: Vec<IpNet>,
        /// The path identifiers (ADD-PATH, RFC 7911) of the first
        /// `withdraw_path_ids.len()` of `withdraw`, in the same order; the
        /// prefixes after them came without one. Empty without ADD-PATH.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        withdraw_path_ids: Vec<u32>,
    },
    /// An UPDATE from the peer was malformed, and RFC 7606 handled it
    /// without a session reset: what was done and why.
    Malformed {
        /// The peer.
        peer: String,
        /// What was done: `attribute-discard` or `treat-as-withdraw`.
        action: ErrorAction,
        /// Type code of the malformed attribute, when one is to blame.
        attribute: Option<u8>,
        /// What is wrong.
        reason: String,
        /// The NOTIFICATION code RFC 4271 alone would have sent.
        code: u8,
        /// Its subcode.
        subcode: u8,
        /// The prefixes handled as withdrawn (none for a discard).
        withdrawn: Vec<IpNet>,
    },
    /// The peer's session dropped without a NOTIFICATION and it had
    /// announced graceful restart (RFC 4724): its routes are kept, stale,
    /// until it is back and sends End-of-RIB, or the restart time runs out.
    Restarting {
        /// The peer.
        peer: String,
        /// Routes kept as stale.
        stale: usize,
        /// The peer's restart time, in seconds.
        restart_time: u16,
    },
    /// The session went down.
    Down {
        /// The peer.
        peer: String,
        /// Whether the embedder asked for it.
        requested: bool,
        /// Why.
        reason: SessionError,
    },
    /// A message sent or received, in one line (with tracing on).
    Message {
        /// The peer.
        peer: String,
        /// Sent or received.
        direction: Direction,
        /// The message explained.
        message: String,
    },
    /// A local failure (connection refused, socket error).
    Error {
        /// The peer.
        peer: String,
        /// What failed.
        error: SessionError,
    },
    /// The embedder fell behind: this many events were dropped here.
    Lagged {
        /// How many.
        missed: u64,
    },
}

impl Event {
    /// The peer this event is about (empty for [`Event::Lagged`]).
    pub fn peer(&self) -> &str {
        match self {
            Event::Added { peer }
            | Event::Removed { peer }
            | Event::State { peer, .. }
            | Event::Notification { peer, .. }
            | Event::Sent { peer, .. }
            | Event::Received { peer, .. }
            | Event::Malformed { peer, .. }
            | Event::Restarting { peer, .. }
            | Event::Down { peer, .. }
            | Event::Message { peer, .. }
            | Event::Error { peer, .. } => peer,
            Event::Lagged { .. } => "",
        }
    }

    /// The NOTIFICATION's code and subcode, typed, for a
    /// [`Event::Notification`] or [`Event::Malformed`].
    ///
    /// ```
    /// use cue::bgp::{Direction, Event};
    /// use cue::bgp::wire::{CeaseSubcode, NotificationKind};
    /// let e = Event::Notification { peer: "192.0.2.1".into(), direction: Direction::Received,
    ///     code: 6, subcode: 2, reason: String::new() };
    /// assert_eq!(e.notification_kind(), Some(NotificationKind::Cease(CeaseSubcode::AdministrativeShutdown)));
    /// ```
    pub fn notification_kind(&self) -> Option<super::wire::NotificationKind> {
        match self {
            Event::Notification { code, subcode, .. } | Event::Malformed { code, subcode, .. } => {
                Some(super::wire::NotificationKind::from_codes(*code, *subcode))
            }
            _ => None,
        }
    }

    pub(crate) fn malformed(peer: &str, e: &AttributeError, withdrawn: Vec<IpNet>) -> Event {
        let n = e.error.notification();
        Event::Malformed {
            peer: peer.to_string(),
            action: e.action,
            attribute: e.attribute,
            reason: e.error.to_string(),
            code: n.code,
            subcode: n.subcode,
            withdrawn,
        }
    }

    pub(crate) fn notification(peer: &str, direction: Direction, n: &Notification) -> Event {
        Event::Notification {
            peer: peer.to_string(),
            direction,
            code: n.code,
            subcode: n.subcode,
            reason: n.reason(),
        }
    }
}

fn rfc3339<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_rfc3339_millis(*t))
}

fn error_text<S: Serializer>(e: &Option<SessionError>, s: S) -> Result<S::Ok, S::Error> {
    match e {
        Some(e) => s.collect_str(e),
        None => s.serialize_str(""),
    }
}

fn micros<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_micros() as u64)
}

/// Counters of one peer.
///
/// ```
/// # fn show(pool: &cue::bgp::Pool) {
/// for s in pool.status() {
///     let c = &s.counters;
///     println!("{}: {} advertised now, {} UPDATEs sent, {} sessions", s.peer, c.current, c.updates_sent, c.established);
/// }
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Prefixes announced, over the peer's life.
    pub advertised: u64,
    /// Prefixes withdrawn, over the peer's life.
    pub withdrawn: u64,
    /// Prefixes currently advertised.
    pub current: u64,
    /// Connection attempts.
    pub attempts: u64,
    /// Successful TCP connections.
    pub connections: u64,
    /// Sessions that reached Established.
    pub established: u64,
    /// UPDATE messages sent.
    pub updates_sent: u64,
    /// UPDATE messages received.
    pub updates_received: u64,
    /// Received UPDATEs that were malformed and handled by RFC 7606
    /// (treat-as-withdraw or attribute discard) without a reset.
    pub updates_malformed: u64,
    /// NOTIFICATIONs sent and received, by code and subcode (in the order
    /// they first happened).
    pub notifications: Vec<NotificationCount>,
}

impl Counters {
    /// Counts a NOTIFICATION.
    pub fn count_notification(&mut self, direction: Direction, code: u8, subcode: u8) {
        match self
            .notifications
            .iter_mut()
            .find(|c| (c.direction, c.code, c.subcode) == (direction, code, subcode))
        {
            Some(c) => c.count += 1,
            None => self.notifications.push(NotificationCount {
                direction,
                code,
                subcode,
                count: 1,
            }),
        }
    }

    /// NOTIFICATIONs in one direction, of every code.
    pub fn notifications(&self, direction: Direction) -> u64 {
        self.notifications
            .iter()
            .filter(|c| c.direction == direction)
            .map(|c| c.count)
            .sum()
    }
}

/// How many NOTIFICATIONs of one code and subcode went one way.
///
/// ```
/// use cue::bgp::{Counters, Direction};
/// let mut c = Counters::default();
/// c.count_notification(Direction::Sent, 6, 2);
/// c.count_notification(Direction::Sent, 6, 2);
/// c.count_notification(Direction::Received, 4, 0);
/// assert_eq!(c.notifications(Direction::Sent), 2);
/// assert_eq!((c.notifications[0].code, c.notifications[0].subcode, c.notifications[0].count), (6, 2, 2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotificationCount {
    /// Sent or received.
    pub direction: Direction,
    /// Error code (RFC 4271 section 4.5).
    pub code: u8,
    /// Error subcode.
    pub subcode: u8,
    /// How many.
    pub count: u64,
}

/// The status of one peer.
///
/// ``` no_run
/// # async fn demo(pool: cue::bgp::Pool) {
/// use cue::bgp::State;
/// let status = pool.wait_for(|s| s.iter().all(|p| p.state == State::Established)).await;
/// for s in status {
///     println!("{} AS {} hold {} s, last error {:?}", s.peer, s.remote_as, s.hold_time, s.last_error);
/// }
/// # }
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct PeerStatus {
    /// The peer's address.
    pub peer: String,
    /// Session state.
    pub state: State,
    /// When the state last changed.
    #[serde(serialize_with = "rfc3339")]
    pub since: SystemTime,
    /// Counters.
    #[serde(flatten)]
    pub counters: Counters,
    /// The last error: NOTIFICATION sent or received, or local failure
    /// (in JSON, its text; empty when none).
    #[serde(serialize_with = "error_text")]
    pub last_error: Option<SessionError>,
    /// Negotiated hold time (seconds).
    pub hold_time: u16,
    /// Local AS.
    pub local_as: u32,
    /// The peer's AS, once known.
    pub remote_as: u32,
    /// The peer's BGP identifier, once known.
    pub remote_id: Option<Ipv4Addr>,
    /// Local address of the connection.
    pub local_ip: Option<IpAddr>,
    /// Families negotiated.
    pub families: Vec<Family>,
    /// Routes received from the peer (Adj-RIB-In size).
    pub received: u64,
    /// The BFD session's state, when BFD runs with the peer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bfd: Option<crate::bgp::bfd::BfdState>,
    /// How long the last update computation and send took (microseconds).
    #[serde(serialize_with = "micros", rename = "update_micros")]
    pub update_duration: Duration,
    /// What is currently advertised to the peer.
    pub adj_rib_out: PrefixList,
    /// The pool's Loc-RIB that the Adj-RIB-Out was last brought up to date
    /// with (for [`Pool::wait_sent`](crate::bgp::Pool::wait_sent)).
    #[serde(skip)]
    pub(crate) synced: Option<crate::bgp::LocRib>,
}

impl PeerStatus {
    pub(crate) fn new(peer: String, local_as: u32) -> PeerStatus {
        PeerStatus {
            peer,
            state: State::Idle,
            since: SystemTime::now(),
            counters: Counters::default(),
            last_error: None,
            hold_time: 0,
            local_as,
            remote_as: 0,
            remote_id: None,
            local_ip: None,
            families: vec![],
            received: 0,
            bfd: None,
            update_duration: Duration::ZERO,
            adj_rib_out: PrefixList::List(vec![]),
            synced: None,
        }
    }
}

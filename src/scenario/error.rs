//! What is wrong with a scenario file, and where.

use ipnet::IpNet;
use std::net::IpAddr;

/// A scenario file that cannot be run: where, and why. Nothing was
/// started.
///
/// ```
/// let e = cue::scenario::Scenario::from_toml("router = { address = \"127.0.0.1\", as = 65000 }\nbogus = 1\n").unwrap_err();
/// assert_eq!(e.line, Some(2));
/// assert!(e.to_string().starts_with("line 2: bogus:"), "{e}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{key}: {fault}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct ScenarioError {
    /// The line (from 1), when known.
    pub line: Option<usize>,
    /// The key, as a path (`steps[2].announce`).
    pub key: String,
    /// What is wrong (boxed: a `Result` of it stays small).
    pub fault: Box<ScenarioFault>,
}

/// What is wrong with a scenario file (a [`ScenarioError`] says where).
///
/// ```
/// use cue::scenario::{Scenario, ScenarioFault};
/// let e = Scenario::from_toml("router = { address = \"127.0.0.1\", as = 0 }\n").unwrap_err();
/// assert_eq!(*e.fault, ScenarioFault::Zero("as"));
/// assert_eq!(e.to_string(), "line 1: router: as must not be 0");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioFault {
    /// Not TOML, or not of the file's shape (the toml crate's words).
    #[error("{0}")]
    Syntax(String),
    /// A value that does not hold, in `field` of the key (none: the key's
    /// own value).
    #[error("{}{error}", if field.is_empty() { String::new() } else { format!("{field}: ") })]
    Value {
        /// The field (`file`, `wait`, `announce_p50`, ...), or empty.
        field: &'static str,
        /// What is wrong with it.
        error: ValueError,
    },
    /// A number that must not be 0.
    #[error("{0} must not be 0")]
    Zero(&'static str),
    /// A group of no peers.
    #[error("count must be at least 1")]
    NoPeers,
    /// A router address no session can go to.
    #[error("{0} cannot be a router's address")]
    RouterAddress(IpAddr),
    /// A group's attributes that do not parse.
    #[error("attributes: {0}")]
    Attributes(Box<crate::bgp::route::RouteError>),
    /// A next hop of the other family than the group's routes.
    #[error("attributes: next-hop {0} is not of the routes' address family")]
    NextHopFamily(IpAddr),
    /// A block of routes too small for its peers.
    #[error("routes: {base} holds {room} /{len}s, {wanted} wanted ({per_peer} x {count} peers)")]
    TooManyRoutes {
        /// The block.
        base: IpNet,
        /// How many prefixes of `len` it holds.
        room: u128,
        /// The routes' length.
        len: u8,
        /// How many are wanted.
        wanted: u128,
        /// Routes a peer.
        per_peer: usize,
        /// Peers.
        count: u32,
    },
    /// A group without routes, or with more than one source of them.
    #[error("a group of peers has one of routes, file or mrt")]
    RouteSource,
    /// AS numbers of a group that run past 4-octet ASes.
    #[error("as {0} + as_step x count passes 4294967295")]
    AsOverflow(u32),
    /// More observers than measured.
    #[error("{count} observers: at most {max}")]
    TooManyObservers {
        /// Given.
        count: usize,
        /// Allowed.
        max: usize,
    },
    /// A group's local addresses that run past the last address.
    #[error("local: {local} + {count} runs out of addresses")]
    AddressesRunOut {
        /// The first.
        local: IpAddr,
        /// The peers.
        count: usize,
    },
    /// A local address of two peers.
    #[error("local address {address} is also {other}'s")]
    SharedAddress {
        /// The address.
        address: IpAddr,
        /// The other one's key.
        other: String,
    },
    /// A group's routes that overlap another's.
    #[error("overlap the routes of peers[{0}]")]
    Overlap(usize),
    /// A listed route inside another group's block.
    #[error("{0} is also a route of another group")]
    RouteInBlock(IpNet),
    /// A route listed twice.
    #[error("{0} twice: each route is one peer's, to be measured")]
    RouteTwice(IpNet),
    /// A step without one action, or with more.
    #[error("a step has one of announce, withdraw, wait, flap or reset")]
    StepAction,
    /// A field that does not go with the step's action.
    #[error("{0} does not go with this step")]
    StepField(&'static str),
    /// A flap period of 0.
    #[error("period must be more than 0")]
    ZeroPeriod,
    /// A hold time of 1 or 2 seconds.
    #[error("must be 0 or at least 3 seconds")]
    HoldTime,
}

/// What is wrong with one value of a scenario file (the message of a
/// [`ScenarioError`], which says where).
///
/// ```
/// use cue::scenario::{indexes, ValueError};
/// assert_eq!(indexes("2-1", 3), Err(ValueError::Backwards("2-1".into())));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// A file that cannot be read.
    #[error("{}: {reason}", path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// A route file with a bad line.
    #[error("{}: {error}", path.display())]
    Routes {
        /// The file.
        path: std::path::PathBuf,
        /// The line and what is wrong.
        error: Box<crate::bgp::route::RouteError>,
    },
    /// An MRT file that cannot be read.
    #[error("{}: {error}", path.display())]
    Mrt {
        /// The file.
        path: std::path::PathBuf,
        /// The record and what is wrong.
        error: Box<crate::bgp::mrt::read::MrtError>,
    },
    /// Fewer routes in a file than peers to share them.
    #[error("{}: {routes} routes for {peers} peers: every peer needs one at least", path.display())]
    TooFewRoutes {
        /// The file.
        path: std::path::PathBuf,
        /// Its routes.
        routes: usize,
        /// The peers.
        peers: usize,
    },
    /// More peers asked of an MRT file than it records.
    #[error("{}: count {count}, but the file records {recorded} peers", path.display())]
    TooFewRecorded {
        /// The file.
        path: std::path::PathBuf,
        /// The peers asked for.
        count: u32,
        /// The peers it records.
        recorded: usize,
    },
    /// An MRT file that records no peer.
    #[error("{}: no peer recorded", .0.display())]
    NoPeerRecorded(std::path::PathBuf),
    /// `routes` not written `BASE /LEN COUNT`.
    #[error("routes {0:?} is not \"BASE /LEN COUNT\" (\"10.0.0.0/8 /24 1000\")")]
    RoutesSyntax(String),
    /// A `routes` base that is not a prefix.
    #[error("routes: {0:?} is not a prefix")]
    RoutesBase(String),
    /// A `routes` length outside the base's.
    #[error("routes: {len:?} is not a length from /{min} to /{max}")]
    RoutesLength {
        /// What was written.
        len: String,
        /// The base's length.
        min: u8,
        /// The family's longest.
        max: u8,
    },
    /// A `routes` count below 1.
    #[error("routes: {0:?} is not a count of at least 1")]
    RoutesCount(String),
    /// A duration that does not parse.
    #[error("{text:?} is not a duration ({reason})")]
    Duration {
        /// What was written.
        text: String,
        /// Why it is not one.
        reason: String,
    },
    /// A peer index that is not a number.
    #[error("{0:?} is not a peer index (\"all\", \"5\", \"0-9\")")]
    Index(String),
    /// A range of peers that runs backwards.
    #[error("{0:?}: the range runs backwards")]
    Backwards(String),
    /// A peer index beyond the peers.
    #[error("no peer {index}: there are {peers} (0 to {})", peers.saturating_sub(1))]
    NoSuchPeer {
        /// The index.
        index: usize,
        /// How many peers there are.
        peers: usize,
    },
}

impl ScenarioError {
    /// A fault at `line` (when known) of `key`.
    pub fn new(line: Option<usize>, key: impl Into<String>, fault: ScenarioFault) -> Self {
        ScenarioError {
            line,
            key: key.into(),
            fault: Box::new(fault),
        }
    }
}

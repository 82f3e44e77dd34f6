//! What a session is configured with: [`PeerConfig`] (how to reach a peer)
//! and [`Parameters`] (attributes, next hops and filters, which may change
//! while a session is up). Both are checked by the library, whoever built
//! them: [`PeerConfig::validate`] runs in [`Session::spawn`] and
//! [`Pool::configure`], and refuses with a [`PeerConfigError`] that names
//! the field.
//!
//! [`Session::spawn`]: super::Session::spawn
//! [`Pool::configure`]: super::Pool::configure

use super::rib::ExportFilter;
use super::wire::{
    AddPathMode, AsPath, Community, ExtCommunity, Family, LargeCommunity, Origin, RawAttribute,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;

/// The shortest delay between connection attempts: a refused connection is
/// never retried in a tight loop.
pub const MIN_CONNECT_RETRY: Duration = Duration::from_millis(100);

/// Path attributes, next hops and export filters: what may change while a
/// session is up.
///
/// ```
/// use cue::bgp::Parameters;
/// let p = Parameters {
///     med: 10,
///     communities: vec!["65000:7".parse().unwrap()],
///     ..Default::default()
/// };
/// assert!(p.validate().is_ok());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parameters {
    /// MULTI_EXIT_DISC; sent only when non-zero.
    pub med: u32,
    /// LOCAL_PREF for internal peers; 100 when unset.
    pub local_pref: Option<u32>,
    /// COMMUNITIES.
    pub communities: Vec<Community>,
    /// LARGE_COMMUNITY.
    pub large_communities: Vec<LargeCommunity>,
    /// EXTENDED COMMUNITIES (RFC 4360).
    pub ext_communities: Vec<ExtCommunity>,
    /// Next hop for IPv4 routes (default: the local address of an IPv4
    /// session, else the router ID).
    pub next_hop4: Option<Ipv4Addr>,
    /// Next hop for IPv6 routes (default: the local address of an IPv6
    /// session, else the IPv4-mapped local address).
    pub next_hop6: Option<Ipv6Addr>,
    /// Export filter.
    pub filter: ExportFilter,
}

impl Parameters {
    /// Whether the path attributes and next hops are the same (the filter
    /// may differ).
    pub(crate) fn same_attributes(&self, other: &Parameters) -> bool {
        self.med == other.med
            && self.local_pref == other.local_pref
            && self.communities == other.communities
            && self.large_communities == other.large_communities
            && self.ext_communities == other.ext_communities
            && self.next_hop4 == other.next_hop4
            && self.next_hop6 == other.next_hop6
    }

    /// Refuses next hops that no router takes: unspecified, multicast or
    /// broadcast addresses.
    pub fn validate(&self) -> Result<(), PeerConfigError> {
        self.validate_within(super::wire::MAX_EXTENDED_MESSAGE_LEN)
    }

    /// As [`validate`](Self::validate), for sessions whose UPDATEs hold
    /// `max` octets at most: the communities must leave room for a route.
    pub fn validate_within(&self, max: usize) -> Result<(), PeerConfigError> {
        let mut all = Vec::new();
        self.problems_within(max, &mut all);
        all.into_iter().next().map_or(Ok(()), Err)
    }

    /// Adds every problem of the parameters to `out`.
    fn problems_within(&self, max: usize, out: &mut Vec<PeerConfigError>) {
        let v4 = self.next_hop4.map(IpAddr::V4);
        let v6 = self.next_hop6.map(IpAddr::V6);
        out.extend(
            v4.into_iter()
                .chain(v6)
                .filter_map(|a| check_next_hop(a).err()),
        );
        let octets = super::wire::route_octets(
            self.communities.len(),
            self.large_communities.len(),
            self.ext_communities.len(),
            0,
            0,
        );
        if octets > max {
            out.push(PeerConfigError::AttributesTooLarge(octets));
        }
    }
}

/// Sessions a pool keeps at most; beyond, connections from new addresses
/// are closed (a flood of connections must not exhaust memory).
pub const MAX_ACCEPTED_PEERS: usize = 1024;

/// Refuses a next hop that no router takes: unspecified, multicast or
/// broadcast.
pub(crate) fn check_next_hop(a: IpAddr) -> Result<(), PeerConfigError> {
    match next_hop_usable(a) {
        true => Ok(()),
        false => Err(PeerConfigError::NextHop(a)),
    }
}

/// Whether a router takes `a` as a next hop: not unspecified, multicast or
/// broadcast.
pub(crate) fn next_hop_usable(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v4) => !(v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast()),
        IpAddr::V6(v6) => !(v6.is_unspecified() || v6.is_multicast()),
    }
}

/// Attributes that set some routes apart from the others, applied on top
/// of the session's [`Parameters`]: the attributes a route is written with
/// (`--advertise-file` lines, `announce ... med 10`, see
/// [`route`](super::route)), the original attributes of a route replayed
/// from an MRT dump, or a backup path that stays announced, less preferred,
/// instead of being withdrawn (as anycast operators keep a site's VIP while
/// its backends are down). Whatever is not set is the session's.
///
/// Routes that share attributes share one `Arc<AttributeOverrides>` and go
/// out in the same UPDATEs.
///
/// ```
/// use cue::bgp::AttributeOverrides;
/// let backup = AttributeOverrides {
///     med: Some(1000),
///     add_communities: vec!["65000:666".parse().unwrap()],
///     ..Default::default()
/// };
/// assert!(!backup.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttributeOverrides {
    /// Next hop instead of the session's (of the route's family).
    pub next_hop: Option<IpAddr>,
    /// ORIGIN instead of IGP.
    pub origin: Option<Origin>,
    /// The AS_PATH behind ours: towards an external peer our AS goes first
    /// (RFC 4271 section 5.1.2, and `prepend` more times), unless
    /// `as_path_exact`; towards an internal peer it goes as it is.
    pub as_path: Option<AsPath>,
    /// `as_path` goes to external peers as it is, without our AS in front
    /// (a replayed table whose paths already start with the right AS).
    pub as_path_exact: bool,
    /// MULTI_EXIT_DISC instead of the session's.
    pub med: Option<u32>,
    /// LOCAL_PREF instead of the session's (internal peers only).
    pub local_pref: Option<u32>,
    /// Communities instead of the session's.
    pub communities: Option<Vec<Community>>,
    /// Large communities instead of the session's.
    pub large_communities: Option<Vec<LargeCommunity>>,
    /// Extended communities (RFC 4360).
    pub ext_communities: Vec<ExtCommunity>,
    /// Communities added to the session's (or to `communities`).
    pub add_communities: Vec<Community>,
    /// Large communities added to the session's (or to `large_communities`).
    pub add_large_communities: Vec<LargeCommunity>,
    /// Our AS prepended this many more times (external peers only: towards
    /// an internal peer the AS_PATH stays empty).
    pub prepend: u8,
    /// ATOMIC_AGGREGATE.
    pub atomic_aggregate: bool,
    /// AGGREGATOR: AS and address.
    pub aggregator: Option<(u32, Ipv4Addr)>,
    /// Other optional transitive attributes, sent as they are (with the
    /// Partial bit set: we do not interpret them).
    pub other: Vec<RawAttribute>,
    /// The route's path identifier (ADD-PATH, RFC 7911): sent with it to a
    /// peer that receives several paths (0 when none is given).
    pub path_id: Option<u32>,
    /// The other paths of the same prefix, each with its own `path_id`
    /// (higher than this one's): sent after it to a peer that receives
    /// several paths; elsewhere this path (the lowest identifier) goes
    /// alone. [`RouteTable`](crate::bgp::route::RouteTable) gathers them
    /// from routes of one prefix with different `path-id`s.
    pub additional_paths: Vec<std::sync::Arc<AttributeOverrides>>,
}

impl AttributeOverrides {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == AttributeOverrides::default()
    }

    /// Refuses what no router takes: a next hop that is unspecified,
    /// multicast or broadcast.
    pub fn validate(&self) -> Result<(), PeerConfigError> {
        self.next_hop.map_or(Ok(()), check_next_hop)
    }
}

/// Routes with [`AttributeOverrides`], by prefix: shared by every session
/// of a pool (see [`Pool::set_overrides`](super::Pool::set_overrides)).
///
/// ```
/// # fn demo(pool: &cue::bgp::Pool) {
/// use cue::bgp::AttributeOverrides;
/// use std::sync::Arc;
/// let backup = Arc::new(AttributeOverrides { med: Some(1000), prepend: 2, ..Default::default() });
/// pool.set_overrides(Arc::new([("192.0.2.1/32".parse().unwrap(), backup)].into()));
/// # }
/// ```
pub type Overrides =
    std::sync::Arc<std::collections::BTreeMap<ipnet::IpNet, std::sync::Arc<AttributeOverrides>>>;

/// How to reach one peer.
///
/// Build one with [`PeerConfig::builder`] (checked) or
/// [`PeerConfig::new`] plus field assignments (checked when the session
/// starts).
///
/// ```
/// use cue::bgp::PeerConfig;
/// let mut peer = PeerConfig::new("192.0.2.2".parse().unwrap(), 65001, "10.0.0.1".parse().unwrap());
/// peer.multiprotocol = true;
/// peer.parameters.next_hop6 = Some("2001:db8::1".parse().unwrap());
/// assert!(peer.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    /// The peer's address and TCP port (with a scope id for link-local).
    pub address: SocketAddr,
    /// Local AS.
    pub local_as: u32,
    /// Local BGP identifier.
    pub router_id: Ipv4Addr,
    /// Proposed hold time: 0, or 3 and above.
    pub hold_time: u16,
    /// The AS the peer must have (OPEN error Bad Peer AS otherwise).
    pub peer_as: Option<u32>,
    /// Local address to bind when dialling.
    pub source: Option<IpAddr>,
    /// Advertise both IPv4 and IPv6 unicast (RFC 4760).
    pub multiprotocol: bool,
    /// Delay between connection attempts (jitter of up to a quarter is
    /// added); at least [`MIN_CONNECT_RETRY`].
    pub connect_retry: Duration,
    /// Wait for the peer to connect instead of dialling it.
    pub passive: bool,
    /// Report every message sent and received as an
    /// [`Event::Message`](super::Event::Message).
    pub trace: bool,
    /// TCP MD5 signature key (RFC 2385), 1 to 80 bytes.
    pub md5_key: Option<String>,
    /// GTSM (RFC 5082): send with TTL 255 and accept only packets from a
    /// peer at most this many hops away (1 to 255; 1 for a directly
    /// connected peer).
    pub ttl_security: Option<u8>,
    /// Graceful restart (RFC 4724): the restart time (1 s to 4095 s, whole
    /// seconds) a peer keeps our routes for when the session drops without
    /// a NOTIFICATION, and End-of-RIB markers after the initial
    /// advertisement. A stop still withdraws; a stop for a restart
    /// ([`Session::stop_keeping_routes`](super::Session::stop_keeping_routes),
    /// [`Pool::shutdown_keeping_routes`](super::Pool::shutdown_keeping_routes))
    /// closes without withdrawing (see the README's trade-off). `None`: off.
    pub graceful_restart: Option<Duration>,
    /// Routes the peer may send before the session is closed with Cease /
    /// Maximum Number of Prefixes Reached.
    pub max_prefixes: Option<usize>,
    /// Offer extended messages (RFC 8654): where the peer does too, UPDATEs
    /// may take up to 65,535 octets (routes with thousands of communities).
    pub extended_messages: bool,
    /// Offer extended next hop encoding (RFC 8950) for IPv4 unicast: where
    /// the peer agrees, IPv4 routes go with an IPv6 next hop (the session's
    /// IPv6 next hop) in MP_REACH_NLRI; the session carries IPv4 unicast as
    /// if `multiprotocol` were set.
    pub extended_next_hop: bool,
    /// Offer ADD-PATH (RFC 7911) for the session's families: `Send`
    /// advertises every path of a prefix (routes with the same prefix and
    /// different path identifiers) where the peer receives them, the path
    /// with the lowest identifier alone elsewhere; `Receive` takes several
    /// paths per prefix from the peer, kept apart by their identifiers.
    pub add_path: Option<AddPathMode>,
    /// Send hold time (RFC 9687): when nothing we write is taken by the
    /// peer for this long, the session is closed, whatever the peer sends
    /// meanwhile (a peer that sends KEEPALIVEs but reads nothing cannot
    /// hold it). `None`: the RFC's default, the larger of 8 minutes and
    /// twice the negotiated hold time. At least 1 s.
    pub send_hold_time: Option<Duration>,
    /// BFD (RFC 5880) with the peer: the session waits for BFD to be up
    /// before it connects or takes a connection, and closes (Cease / BFD
    /// Down) the moment BFD says the peer is gone (RFC 5882). `None`: off.
    pub bfd: Option<super::bfd::BfdConfig>,
    /// Answer every malformed UPDATE with a NOTIFICATION, as RFC 4271 alone
    /// has it, instead of the revised error handling of RFC 7606
    /// (treat-as-withdraw, attribute discard): for testing a peer's
    /// conformance.
    pub strict_errors: bool,
    /// Attributes and filters.
    pub parameters: Parameters,
}

/// A configuration the library takes but that peers are known to refuse or
/// mishandle: [`PeerConfig::warnings`] lists them, and the command line
/// prints them at start.
///
/// ```
/// use cue::bgp::{ConfigWarning, PeerConfig};
/// let peer = PeerConfig::builder("192.0.2.1".parse().unwrap(), 65001, "10.0.0.1".parse().unwrap())
///     .multiprotocol(true)
///     .build()
///     .unwrap();
/// assert!(matches!(peer.warnings()[0], ConfigWarning::MappedNextHop6 { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigWarning {
    /// IPv6 routes over an IPv4 session with no IPv6 next hop set: the
    /// IPv4-mapped form of the session's address is sent.
    #[error(
        "IPv6 routes to {peer} would get the IPv4-mapped next hop of the session's address, \
         which BIRD refuses (\"mismatched address family\") and GoBGP and FRR take as martian: \
         give an IPv6 next hop (-6 ADDR, Parameters::next_hop6)"
    )]
    MappedNextHop6 {
        /// The peer.
        peer: IpAddr,
    },
    /// IPv4 routes over an IPv6 session with no IPv4 next hop set: the
    /// router ID is sent as the next hop.
    #[error(
        "IPv4 routes to {peer} would get the router ID {router_id} as next hop (the session is \
         IPv6): give an IPv4 next hop (-4 ADDR, Parameters::next_hop4) unless it is reachable"
    )]
    RouterIdNextHop4 {
        /// The peer.
        peer: IpAddr,
        /// The router ID.
        router_id: Ipv4Addr,
    },
    /// A loopback next hop towards a peer that is not on loopback: it
    /// cannot forward to it (GoBGP and FRR refuse it as martian).
    #[error("next hop {next_hop} is a loopback address, but peer {peer} is not on this host")]
    LoopbackNextHop {
        /// The peer.
        peer: IpAddr,
        /// The next hop.
        next_hop: IpAddr,
    },
}

/// A [`PeerConfig`] or [`Parameters`] that cannot be used; each variant
/// names the field at fault.
///
/// ```
/// use cue::bgp::{PeerConfig, PeerConfigError};
/// let mut c = PeerConfig::new("ff02::5".parse().unwrap(), 65001, "10.0.0.1".parse().unwrap());
/// assert_eq!(c.validate(), Err(PeerConfigError::PeerAddress("ff02::5".parse().unwrap())));
/// c.address = "[2001:db8::1]:179".parse().unwrap();
/// c.connect_retry = std::time::Duration::from_millis(5);
/// assert_eq!(c.validate().unwrap_err().field(), "connect_retry");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PeerConfigError {
    /// AS 0 is reserved (RFC 7607).
    #[error("local_as: AS 0 is reserved; use 1-4294967295")]
    LocalAsZero,
    /// AS 0 is reserved (RFC 7607).
    #[error("peer_as: AS 0 is reserved; use 1-4294967295")]
    PeerAsZero,
    /// 0.0.0.0 is not a BGP identifier (RFC 6286).
    #[error("router_id: 0.0.0.0 is not a valid BGP identifier")]
    RouterIdUnspecified,
    /// Hold time 1 or 2 (RFC 4271 section 4.2).
    #[error("hold_time: {0} s; a hold time is 0 or at least 3 seconds")]
    HoldTime(u16),
    /// An unspecified, multicast or broadcast peer address.
    #[error("address: {0} cannot be a peer address")]
    PeerAddress(IpAddr),
    /// A link-local IPv6 peer without a zone (interface).
    #[error("address: {0} is link-local: give its interface as the scope id (zone)")]
    LinkLocalWithoutZone(Ipv6Addr),
    /// A zone on an address that is not link-local.
    #[error("address: {0}: only a link-local address takes a zone")]
    ZoneNotLinkLocal(Ipv6Addr),
    /// Port 0 on a session that dials.
    #[error("address: port 0 is not a BGP port")]
    PortZero,
    /// A source address of the other family than the peer's.
    #[error("source: {local} and peer {peer} are of different address families")]
    SourceFamily {
        /// The source address.
        local: IpAddr,
        /// The peer address.
        peer: IpAddr,
    },
    /// A source address that cannot be bound for an outgoing connection.
    #[error("source: {0} cannot be a source address")]
    SourceAddress(IpAddr),
    /// A delay between attempts below [`MIN_CONNECT_RETRY`].
    #[error("connect_retry: {0:?} is too short: at least 100ms")]
    ConnectRetry(Duration),
    /// An empty TCP MD5 key, or one over 80 bytes.
    #[error("md5_key: {0} bytes; a TCP MD5 key holds 1 to 80")]
    Md5KeyLength(usize),
    /// A graceful restart time outside 1 s to 4095 s.
    #[error("graceful_restart: {0:?}; the restart time is 1 s to 4095 s")]
    RestartTime(Duration),
    /// GTSM for 0 hops.
    #[error("ttl_security: 0 hops; a peer is 1 to 255 hops away")]
    TtlSecurityZero,
    /// A prefix limit of 0.
    #[error("max_prefixes: 0 would close every session that receives a route")]
    MaxPrefixesZero,
    /// A next hop that no router takes.
    #[error("{field}: {0} is unspecified, multicast or broadcast", field = next_hop_field(*.0))]
    NextHop(IpAddr),
    /// Communities that leave no room for a prefix in an UPDATE.
    #[error("parameters.communities: path attributes of up to {0} octets with a prefix: more than an UPDATE holds (4096 octets; 65535 with extended messages)")]
    AttributesTooLarge(usize),
    /// A send hold time under a second.
    #[error("send_hold_time: {0:?} is too short: at least 1s")]
    SendHoldTime(Duration),
    /// BFD timers out of range.
    #[error("bfd: {0}")]
    Bfd(super::bfd::BfdConfigError),
    /// BFD's sockets could not be opened (its UDP port taken, say).
    #[error("bfd: {0}")]
    BfdSocket(String),
}

/// The field of [`Parameters`] that holds a next hop of `a`'s family.
fn next_hop_field(a: IpAddr) -> &'static str {
    if a.is_ipv4() {
        "parameters.next_hop4"
    } else {
        "parameters.next_hop6"
    }
}

impl PeerConfigError {
    /// The field at fault, as named in [`PeerConfig`] (`parameters.next_hop4`
    /// for a field of its [`Parameters`]).
    pub fn field(&self) -> &'static str {
        use PeerConfigError::*;
        match self {
            LocalAsZero => "local_as",
            PeerAsZero => "peer_as",
            RouterIdUnspecified => "router_id",
            HoldTime(_) => "hold_time",
            PeerAddress(_) | LinkLocalWithoutZone(_) | ZoneNotLinkLocal(_) | PortZero => "address",
            SourceFamily { .. } | SourceAddress(_) => "source",
            ConnectRetry(_) => "connect_retry",
            Md5KeyLength(_) => "md5_key",
            TtlSecurityZero => "ttl_security",
            RestartTime(_) => "graceful_restart",
            MaxPrefixesZero => "max_prefixes",
            NextHop(a) => next_hop_field(*a),
            AttributesTooLarge(_) => "parameters.communities",
            SendHoldTime(_) => "send_hold_time",
            Bfd(_) | BfdSocket(_) => "bfd",
        }
    }
}

impl PeerConfig {
    /// A configuration with the original's defaults: port 179, hold time
    /// 10 s, 30 s between attempts, active, not multiprotocol. Nothing is
    /// checked until the session starts; [`PeerConfig::builder`] checks at
    /// once.
    pub fn new(peer: IpAddr, local_as: u32, router_id: Ipv4Addr) -> PeerConfig {
        PeerConfig {
            address: SocketAddr::new(peer, 179),
            local_as,
            router_id,
            hold_time: 10,
            peer_as: None,
            source: None,
            multiprotocol: false,
            connect_retry: Duration::from_secs(30),
            passive: false,
            trace: false,
            md5_key: None,
            ttl_security: None,
            graceful_restart: None,
            max_prefixes: None,
            send_hold_time: None,
            bfd: None,
            extended_messages: false,
            extended_next_hop: false,
            add_path: None,
            strict_errors: false,
            parameters: Parameters::default(),
        }
    }

    /// A builder with the defaults of [`PeerConfig::new`]; `build` checks
    /// the result.
    ///
    /// ```
    /// use cue::bgp::PeerConfig;
    /// let peer = PeerConfig::builder("127.0.0.1".parse().unwrap(), 65001, "10.0.0.1".parse().unwrap())
    ///     .port(1179)
    ///     .multiprotocol(true)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(peer.address.port(), 1179);
    /// let refused = PeerConfig::builder("127.0.0.1".parse().unwrap(), 0, "10.0.0.1".parse().unwrap()).build();
    /// assert_eq!(refused.unwrap_err().field(), "local_as");
    /// ```
    pub fn builder(peer: IpAddr, local_as: u32, router_id: Ipv4Addr) -> PeerConfigBuilder {
        PeerConfigBuilder(PeerConfig::new(peer, local_as, router_id))
    }

    /// What peers are known to refuse in this configuration, though it is
    /// valid: next hops of the wrong family, or on loopback towards a peer
    /// elsewhere (see [`ConfigWarning`]).
    pub fn warnings(&self) -> Vec<ConfigWarning> {
        let peer = self.address.ip();
        let p = &self.parameters;
        let mut w = Vec::new();
        if self.multiprotocol && peer.is_ipv4() && p.next_hop6.is_none() {
            w.push(ConfigWarning::MappedNextHop6 { peer });
        }
        let source4 = self.source.is_some_and(|s| s.is_ipv4());
        // With extended next hop, IPv4 routes go with the IPv6 next hop
        // where the peer agrees.
        let v4_over_v6 = self.multiprotocol && !self.extended_next_hop;
        if v4_over_v6 && peer.is_ipv6() && p.next_hop4.is_none() && !source4 {
            w.push(ConfigWarning::RouterIdNextHop4 {
                peer,
                router_id: self.router_id,
            });
        }
        if !peer.is_loopback() && !peer.is_unspecified() {
            let hops = [p.next_hop4.map(IpAddr::V4), p.next_hop6.map(IpAddr::V6)];
            for next_hop in hops.into_iter().flatten() {
                if next_hop.is_loopback() {
                    w.push(ConfigWarning::LoopbackNextHop { peer, next_hop });
                }
            }
        }
        w
    }

    /// Checks every field; the first problem found is returned
    /// ([`problems`](Self::problems) gives them all).
    pub fn validate(&self) -> Result<(), PeerConfigError> {
        self.problems().into_iter().next().map_or(Ok(()), Err)
    }

    /// Every problem of the configuration, field by field.
    ///
    /// ```
    /// use cue::bgp::PeerConfig;
    /// let mut c = PeerConfig::new("192.0.2.1".parse().unwrap(), 0, "0.0.0.0".parse().unwrap());
    /// c.hold_time = 1;
    /// let fields: Vec<_> = c.problems().iter().map(|p| p.field()).collect();
    /// assert_eq!(fields, ["local_as", "router_id", "hold_time"]);
    /// ```
    pub fn problems(&self) -> Vec<PeerConfigError> {
        let mut out = self.problems_except_address();
        if let Err(e) = validate_peer_address(self.address) {
            out.push(e);
        }
        // A passive session takes whatever port the peer connects from.
        if self.address.port() == 0 && !self.passive {
            out.push(PeerConfigError::PortZero);
        }
        if let Some(src) = self.source {
            if src.is_ipv4() != self.address.is_ipv4() {
                out.push(PeerConfigError::SourceFamily {
                    local: src,
                    peer: self.address.ip(),
                });
            }
        }
        out
    }

    /// The largest UPDATE the session may send: 4,096 octets, or 65,535
    /// when it offers extended messages (the peer may still refuse them).
    pub fn max_message_len(&self) -> usize {
        if self.extended_messages {
            super::wire::MAX_EXTENDED_MESSAGE_LEN
        } else {
            super::wire::MAX_MESSAGE_LEN
        }
    }

    /// The checks of [`validate`](Self::validate) but the peer's address:
    /// for the template of [`Pool::accept_any`](super::Pool::accept_any),
    /// whose address is each connecting peer's.
    pub fn validate_except_address(&self) -> Result<(), PeerConfigError> {
        let all = self.problems_except_address();
        all.into_iter().next().map_or(Ok(()), Err)
    }

    /// Every problem but the peer address's.
    fn problems_except_address(&self) -> Vec<PeerConfigError> {
        use PeerConfigError::*;
        let mut out = Vec::new();
        let mut check = |bad: bool, e: PeerConfigError| {
            if bad {
                out.push(e);
            }
        };
        check(self.local_as == 0, LocalAsZero);
        check(self.peer_as == Some(0), PeerAsZero);
        check(self.router_id.is_unspecified(), RouterIdUnspecified);
        check(matches!(self.hold_time, 1 | 2), HoldTime(self.hold_time));
        if let Some(src) = self.source {
            check(!next_hop_usable(src), SourceAddress(src));
        }
        check(
            self.connect_retry < MIN_CONNECT_RETRY,
            ConnectRetry(self.connect_retry),
        );
        if let Some(key) = &self.md5_key {
            let bad = key.is_empty() || key.len() > super::md5::MAX_KEY_LEN;
            check(bad, Md5KeyLength(key.len()));
        }
        check(self.max_prefixes == Some(0), MaxPrefixesZero);
        if let Some(t) = self.send_hold_time {
            check(t < Duration::from_secs(1), SendHoldTime(t));
        }
        if let Some(Err(e)) = self.bfd.as_ref().map(|b| b.validate()) {
            check(true, Bfd(e));
        }
        check(self.ttl_security == Some(0), TtlSecurityZero);
        if let Some(t) = self.graceful_restart {
            let max = Duration::from_secs(u64::from(super::wire::MAX_RESTART_TIME));
            check(t < Duration::from_secs(1) || t > max, RestartTime(t));
        }
        self.parameters
            .problems_within(self.max_message_len(), &mut out);
        out
    }

    /// The peer's name in status and events: its address, with the zone of
    /// a link-local one.
    pub fn name(&self) -> String {
        peer_name(self.address)
    }

    /// The address families the session offers.
    pub(crate) fn families(&self) -> Vec<Family> {
        if self.multiprotocol || self.extended_next_hop {
            vec![Family::Ipv4Unicast, Family::Ipv6Unicast]
        } else {
            vec![Family::of(self.address.ip())]
        }
    }

    /// Whether a change from `self` to `other` needs a new session (only
    /// [`Parameters`] change in place).
    pub(crate) fn needs_restart(&self, other: &PeerConfig) -> bool {
        let mut a = self.clone();
        a.parameters = other.parameters.clone();
        a != *other
    }
}

/// Refuses addresses that cannot be a BGP peer: unspecified, multicast,
/// broadcast, link-local IPv6 without a zone, a zone elsewhere. (Port 0 is
/// refused by [`PeerConfig::validate`] for a session that dials.)
pub fn validate_peer_address(address: SocketAddr) -> Result<(), PeerConfigError> {
    use PeerConfigError::*;
    match address {
        SocketAddr::V4(a) => {
            let ip = *a.ip();
            if ip.is_unspecified() || ip.is_multicast() || ip.is_broadcast() {
                return Err(PeerAddress(ip.into()));
            }
        }
        SocketAddr::V6(a) => {
            let ip = *a.ip();
            if ip.is_unspecified() || ip.is_multicast() {
                return Err(PeerAddress(ip.into()));
            }
            match (is_link_local(ip), a.scope_id()) {
                (true, 0) => return Err(LinkLocalWithoutZone(ip)),
                (false, z) if z != 0 => return Err(ZoneNotLinkLocal(ip)),
                _ => {}
            }
        }
    }
    Ok(())
}

/// Builds a [`PeerConfig`]; [`build`](Self::build) checks it.
///
/// ```
/// use cue::bgp::{Parameters, PeerConfig};
/// let peer = PeerConfig::builder("fe80::2".parse().unwrap(), 65001, "10.0.0.1".parse().unwrap())
///     .zone(3)
///     .peer_as(65002)
///     .md5_key("secret")
///     .hold_time(30)
///     .parameters(Parameters { med: 50, ..Default::default() })
///     .build()
///     .unwrap();
/// assert_eq!(peer.name(), "fe80::2%3");
/// ```
#[derive(Debug, Clone)]
pub struct PeerConfigBuilder(PeerConfig);

impl PeerConfigBuilder {
    /// The peer's TCP port (default 179).
    pub fn port(mut self, port: u16) -> Self {
        self.0.address.set_port(port);
        self
    }

    /// The zone (interface index) of a link-local IPv6 peer.
    pub fn zone(mut self, scope_id: u32) -> Self {
        if let SocketAddr::V6(a) = self.0.address {
            self.0.address = SocketAddr::V6(SocketAddrV6::new(*a.ip(), a.port(), 0, scope_id));
        }
        self
    }

    /// Proposed hold time (default 10 s).
    pub fn hold_time(mut self, seconds: u16) -> Self {
        self.0.hold_time = seconds;
        self
    }

    /// The AS the peer must have.
    pub fn peer_as(mut self, asn: u32) -> Self {
        self.0.peer_as = Some(asn);
        self
    }

    /// Local address to dial from.
    pub fn source(mut self, source: IpAddr) -> Self {
        self.0.source = Some(source);
        self
    }

    /// IPv4 and IPv6 unicast on one session (RFC 4760).
    pub fn multiprotocol(mut self, on: bool) -> Self {
        self.0.multiprotocol = on;
        self
    }

    /// Delay between connection attempts (default 30 s).
    pub fn connect_retry(mut self, delay: Duration) -> Self {
        self.0.connect_retry = delay;
        self
    }

    /// Wait for the peer to connect (with [`Pool::listen`](super::Pool::listen)).
    pub fn passive(mut self, on: bool) -> Self {
        self.0.passive = on;
        self
    }

    /// Report every message as an [`Event::Message`](super::Event::Message).
    pub fn trace(mut self, on: bool) -> Self {
        self.0.trace = on;
        self
    }

    /// TCP MD5 signature key (RFC 2385).
    pub fn md5_key(mut self, key: impl Into<String>) -> Self {
        self.0.md5_key = Some(key.into());
        self
    }

    /// Sets [`PeerConfig::strict_errors`] (RFC 4271 error handling alone).
    pub fn strict_errors(mut self, on: bool) -> Self {
        self.0.strict_errors = on;
        self
    }

    /// Sets [`PeerConfig::ttl_security`] (GTSM, RFC 5082).
    pub fn ttl_security(mut self, hops: u8) -> Self {
        self.0.ttl_security = Some(hops);
        self
    }

    /// Sets [`PeerConfig::graceful_restart`] (RFC 4724) with this restart
    /// time.
    pub fn graceful_restart(mut self, restart_time: Duration) -> Self {
        self.0.graceful_restart = Some(restart_time);
        self
    }

    /// Close the session when the peer sends more routes than this.
    pub fn max_prefixes(mut self, limit: usize) -> Self {
        self.0.max_prefixes = Some(limit);
        self
    }

    /// Offers extended messages (RFC 8654).
    pub fn extended_messages(mut self, on: bool) -> Self {
        self.0.extended_messages = on;
        self
    }

    /// Sets [`PeerConfig::send_hold_time`] (RFC 9687).
    pub fn send_hold_time(mut self, time: Duration) -> Self {
        self.0.send_hold_time = Some(time);
        self
    }

    /// Offers extended next hop encoding (RFC 8950).
    pub fn extended_next_hop(mut self, on: bool) -> Self {
        self.0.extended_next_hop = on;
        self
    }

    /// Offers ADD-PATH (RFC 7911): send, receive or both.
    pub fn add_path(mut self, mode: AddPathMode) -> Self {
        self.0.add_path = Some(mode);
        self
    }

    /// Runs BFD with the peer ([`PeerConfig::bfd`]).
    pub fn bfd(mut self, bfd: super::bfd::BfdConfig) -> Self {
        self.0.bfd = Some(bfd);
        self
    }

    /// Attributes, next hops and filters.
    pub fn parameters(mut self, parameters: Parameters) -> Self {
        self.0.parameters = parameters;
        self
    }

    /// The checked configuration.
    pub fn build(self) -> Result<PeerConfig, PeerConfigError> {
        self.0.validate()?;
        Ok(self.0)
    }
}

pub(crate) fn peer_name(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V6(a) if a.scope_id() != 0 => format!("{}%{}", a.ip(), a.scope_id()),
        a => a.ip().to_string(),
    }
}

/// Whether an IPv6 address is link-local (fe80::/10).
pub(crate) fn is_link_local(a: Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> PeerConfig {
        PeerConfig::new(
            "127.0.0.1".parse().unwrap(),
            65001,
            Ipv4Addr::new(10, 0, 0, 1),
        )
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(base().validate(), Ok(()));
        assert_eq!(
            PeerConfig::builder("::1".parse().unwrap(), 1, Ipv4Addr::new(1, 1, 1, 1))
                .build()
                .map(|_| ()),
            Ok(())
        );
    }

    #[test]
    fn link_local_zone_from_the_builder() {
        let ll: IpAddr = "fe80::1".parse().unwrap();
        let r = PeerConfig::builder(ll, 65001, Ipv4Addr::new(10, 0, 0, 1)).build();
        assert_eq!(
            r.unwrap_err(),
            PeerConfigError::LinkLocalWithoutZone("fe80::1".parse().unwrap())
        );
        let ok = PeerConfig::builder(ll, 65001, Ipv4Addr::new(10, 0, 0, 1))
            .zone(1)
            .build()
            .unwrap();
        assert_eq!(ok.name(), "fe80::1%1");
    }
}

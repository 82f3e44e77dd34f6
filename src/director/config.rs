//! The director's configuration: JSON read with serde, then checked as a
//! whole. A bad configuration is rejected with an error that names the
//! service, the destination, the check and the field.

use crate::bgp::wire::{Community, LargeCommunity};
use crate::bgp::AttributeOverrides;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

/// Transport protocol of a service.
///
/// ```
/// use cue::director::Protocol;
/// assert_eq!(Protocol::Udp.to_string(), "udp");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        })
    }
}

/// Kinds of health check.
///
/// ```
/// use cue::director::CheckType;
/// assert_eq!(CheckType::Https.to_string(), "https");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckType {
    /// HTTP request; the status code is judged.
    Http,
    /// HTTP over TLS.
    Https,
    /// Half-open TCP: SYN, wait for SYN-ACK (raw socket, CAP_NET_RAW).
    Syn,
    /// DNS query for `localhost IN A`.
    Dns,
    /// Plain TCP connect.
    Tcp,
    /// A program run directly (no shell), healthy when it exits 0.
    Command,
}

impl fmt::Display for CheckType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CheckType::Http => "http",
            CheckType::Https => "https",
            CheckType::Syn => "syn",
            CheckType::Dns => "dns",
            CheckType::Tcp => "tcp",
            CheckType::Command => "command",
        })
    }
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    s.map(|s| {
        humantime::parse_duration(&s)
            .map_err(|e| serde::de::Error::custom(format!("{s:?} is not a duration like 2s: {e}")))
    })
    .transpose()
}

/// A health check as written in the file.
///
/// ```
/// use cue::director::config::{CheckConfig, DestinationConfig};
/// let d: DestinationConfig = serde_json::from_str(r#"{"address": "10.0.0.1", "port": 8080,
///     "checks": [{"type": "http", "path": "/health"}]}"#).unwrap();
/// let spec = d.checks[0].spec(&d).unwrap(); // defaults applied
/// assert_eq!((spec.port, spec.host.as_str(), spec.timeout.as_secs()), (8080, "10.0.0.1", 2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    /// http, https, syn, dns or tcp.
    #[serde(rename = "type")]
    pub kind: CheckType,
    /// Port to probe (default: the destination's).
    #[serde(default)]
    pub port: Option<u16>,
    /// HTTP Host header and TLS SNI name (default: the destination address).
    #[serde(default)]
    pub host: Option<String>,
    /// HTTP path (default `/`).
    #[serde(default)]
    pub path: Option<String>,
    /// Accepted HTTP status codes: empty means 200; 0 accepts any.
    #[serde(default)]
    pub expect: Vec<u16>,
    /// GET or HEAD for http(s); udp or tcp for dns.
    #[serde(default)]
    pub method: Option<String>,
    /// Time between probes (default 2s).
    #[serde(default, deserialize_with = "duration")]
    pub interval: Option<Duration>,
    /// Time a whole probe may take (default 2s; 1s for dns).
    #[serde(default, deserialize_with = "duration")]
    pub timeout: Option<Duration>,
    /// How many recent results are kept (default 5).
    #[serde(default)]
    pub window: Option<u8>,
    /// Passes within the window for a down check to come up (default 5).
    #[serde(default)]
    pub rise: Option<u8>,
    /// An up check goes down when fewer than this many of the window passed
    /// (default 4).
    #[serde(default)]
    pub fall: Option<u8>,
    /// Verify the TLS certificate (https; default false).
    #[serde(default)]
    pub verify: bool,
    /// The program and its arguments (command checks): run directly, no
    /// shell unless written (`["/bin/sh", "-c", "..."]`), with
    /// `CUE_ADDRESS` and `CUE_PORT` in its environment; healthy on exit 0.
    /// A program still running at the timeout is killed, with its children.
    #[serde(default)]
    pub command: Vec<String>,
}

/// A destination (backend) as written in the file.
///
/// ```
/// use cue::director::config::DestinationConfig;
/// let d: DestinationConfig = serde_json::from_str(r#"{"address": "10.0.0.1", "port": 8080, "weight": 0}"#).unwrap();
/// assert_eq!(d.weight, 0); // out of service: no checks needed
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationConfig {
    /// Backend address.
    pub address: IpAddr,
    /// Backend port.
    pub port: u16,
    /// Weight; 0 takes the destination out of service.
    #[serde(default = "one")]
    pub weight: u32,
    /// Administratively out of service.
    #[serde(default)]
    pub disabled: bool,
    /// Health checks; all must pass.
    #[serde(default)]
    pub checks: Vec<CheckConfig>,
}

fn one() -> u32 {
    1
}

/// A service as written in the file.
///
/// ```
/// use cue::director::config::ServiceConfig;
/// let s: ServiceConfig = serde_json::from_str(r#"{"address": "192.0.2.1", "port": 53, "protocol": "udp",
///     "required": 2, "scheduler": "mh"}"#).unwrap();
/// assert_eq!((s.required, s.scheduler.as_deref()), (2, Some("mh")));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// The VIP.
    pub address: IpAddr,
    /// Service port.
    pub port: u16,
    /// tcp or udp.
    pub protocol: Protocol,
    /// Healthy destinations needed for the service to be up (default 1).
    #[serde(default = "one")]
    pub required: u32,
    /// Scheduler name, kept for the embedder.
    #[serde(default)]
    pub scheduler: Option<String>,
    /// Persistence timeout in seconds, kept for the embedder.
    #[serde(default)]
    pub persist: Option<u32>,
    /// Sticky flag, kept for the embedder.
    #[serde(default)]
    pub sticky: bool,
    /// Reset flag, kept for the embedder.
    #[serde(default)]
    pub reset: bool,
    /// Backends.
    #[serde(default)]
    pub destinations: Vec<DestinationConfig>,
    /// While the service is down, keep its VIP announced with these
    /// attributes (a less preferred backup path) instead of withdrawing it.
    #[serde(default)]
    pub down: Option<Backup>,
    /// While this file exists, the service is drained (RFC 8326): its VIP
    /// is announced with the GRACEFUL_SHUTDOWN community (65535:0) and
    /// LOCAL_PREF 0 for `drain_time`, so that routers move the traffic
    /// away, then withdrawn; removing the file brings it back.
    #[serde(default)]
    pub drain_file: Option<std::path::PathBuf>,
    /// How long a drained VIP stays announced before it is withdrawn
    /// (default: the file's, else 30s).
    #[serde(default, deserialize_with = "duration")]
    pub drain_time: Option<Duration>,
}

/// The attributes a VIP is announced with while a service on it is down
/// (`"down"` in the services file), instead of being withdrawn.
///
/// ```
/// use cue::director::Config;
/// let c = Config::from_json(r#"{"services": [{"address": "192.0.2.1", "port": 80,
///   "protocol": "tcp", "down": {"med": 1000, "communities": ["65000:666"], "prepend": 2},
///   "destinations": [{"address": "10.0.0.1", "port": 80, "checks": [{"type": "tcp"}]}]}]}"#)
///     .unwrap();
/// let backup = c.services[0].down.as_ref().unwrap().overrides();
/// assert_eq!(backup.med, Some(1000));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    /// MULTI_EXIT_DISC (replaces the session's).
    #[serde(default)]
    pub med: Option<u32>,
    /// LOCAL_PREF for internal peers (replaces the session's).
    #[serde(default)]
    pub local_pref: Option<u32>,
    /// Communities added, `ASN:VALUE` or a well-known name.
    #[serde(default, deserialize_with = "parsed")]
    pub communities: Vec<Community>,
    /// Large communities added, `GLOBAL:LOCAL1:LOCAL2`.
    #[serde(default, deserialize_with = "parsed")]
    pub large_communities: Vec<LargeCommunity>,
    /// Our AS prepended this many more times towards external peers.
    #[serde(default)]
    pub prepend: u8,
}

impl Backup {
    /// The attribute overrides of the BGP speaker.
    pub fn overrides(&self) -> AttributeOverrides {
        AttributeOverrides {
            med: self.med,
            local_pref: self.local_pref,
            add_communities: self.communities.clone(),
            add_large_communities: self.large_communities.clone(),
            prepend: self.prepend,
            ..Default::default()
        }
    }
}

/// A list of values written as strings and parsed with `FromStr`.
fn parsed<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let v: Vec<String> = Vec::deserialize(d)?;
    v.iter()
        .map(|s| s.parse().map_err(serde::de::Error::custom))
        .collect()
}

/// The whole configuration file.
///
/// ```
/// use cue::director::Config;
/// let config = Config::from_json(r#"{"services": [{"address": "192.0.2.1", "port": 80, "protocol": "tcp",
///     "destinations": [{"address": "10.0.0.1", "port": 8080,
///       "checks": [{"type": "http", "path": "/health", "interval": "1s", "window": 3, "rise": 2, "fall": 2}]}]}]}"#).unwrap();
/// assert_eq!(config.services[0].destinations.len(), 1);
/// assert!(Config::from_json(r#"{"services": [{"address": "192.0.2.1"}]}"#).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Services.
    pub services: Vec<ServiceConfig>,
    /// Drain every service while this file exists (RFC 8326): see
    /// [`ServiceConfig::drain_file`]; a service's own goes first.
    #[serde(default)]
    pub drain_file: Option<std::path::PathBuf>,
    /// How long a drained VIP stays announced as drained before it is
    /// withdrawn (default 30s); a service's own goes first.
    #[serde(default, deserialize_with = "duration")]
    pub drain_time: Option<Duration>,
}

/// A configuration that cannot be used, and where: the service, the
/// destination and the check, with the problem naming the field.
///
/// ```
/// use cue::director::{Config, ConfigError, DestinationProblem};
/// let e = Config::from_json(r#"{"services": [{"address": "192.0.2.1", "port": 80,
///   "protocol": "tcp", "destinations": [{"address": "10.0.0.1", "port": 80}]}]}"#)
///     .unwrap_err();
/// assert!(matches!(e, ConfigError::Destination { problem: DestinationProblem::NoChecks, .. }));
/// assert_eq!(e.field(), "checks");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Not JSON, or not of the file's shape (unknown field, wrong type).
    #[error("line {line} column {column}: {}{message}", if path.is_empty() { String::new() } else { format!("{path}: ") })]
    Syntax {
        /// Line of the problem (1-based).
        line: usize,
        /// Column of the problem (1-based).
        column: usize,
        /// Where in the file's structure, as `services[3].destinations[0].address`
        /// (empty when the text is not JSON at all).
        path: String,
        /// What the JSON reader says.
        message: String,
    },
    /// A service is wrong.
    #[error("service {service}: {problem}")]
    Service {
        /// `address:port/protocol`.
        service: String,
        /// What is wrong.
        problem: ServiceProblem,
    },
    /// A destination is wrong.
    #[error("service {service}: destination {destination}: {problem}")]
    Destination {
        /// `address:port/protocol`.
        service: String,
        /// `address:port`.
        destination: String,
        /// What is wrong.
        problem: DestinationProblem,
    },
    /// A check is wrong.
    #[error("service {service}: destination {destination}: check {index} ({kind}): {problem}")]
    Check {
        /// `address:port/protocol`.
        service: String,
        /// `address:port`.
        destination: String,
        /// Which check of the destination, from 1.
        index: usize,
        /// Its type.
        kind: CheckType,
        /// What is wrong.
        problem: CheckProblem,
    },
}

impl ConfigError {
    /// The field at fault, as written in the file (`port`, `checks`,
    /// `interval`, ...); `json` for a syntax error.
    pub fn field(&self) -> &'static str {
        match self {
            ConfigError::Syntax { .. } => "json",
            ConfigError::Service { problem, .. } => problem.field(),
            ConfigError::Destination { problem, .. } => problem.field(),
            ConfigError::Check { problem, .. } => problem.field(),
        }
    }
}

/// What can be wrong with a service.
///
/// ```
/// use cue::director::{Config, ConfigError, ServiceProblem};
/// let e = Config::from_json(r#"{"services": [{"address": "192.0.2.1", "port": 0, "protocol": "tcp"}]}"#).unwrap_err();
/// assert!(matches!(e, ConfigError::Service { problem: ServiceProblem::PortZero, .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceProblem {
    /// Port 0.
    #[error("port 0 is not a service port")]
    PortZero,
    /// The same address, port and protocol twice.
    #[error("listed twice")]
    ListedTwice,
    /// `required` 0: the service would be up with no healthy destination,
    /// and its VIP advertised unchecked.
    #[error("required 0 would call the service up with no healthy destination")]
    RequiredZero,
    /// A backup path (`down`) that sets nothing apart: it would look like
    /// the healthy announcement.
    #[error("down: give a med, local_pref, communities, large_communities or prepend")]
    EmptyBackup,
    /// A drain time of 0: the VIP would be withdrawn at once, with no time
    /// for routers to move the traffic away.
    #[error("drain_time 0: routers get no time to move the traffic away")]
    DrainTimeZero,
}

impl ServiceProblem {
    /// The field at fault.
    pub fn field(&self) -> &'static str {
        match self {
            ServiceProblem::PortZero => "port",
            ServiceProblem::ListedTwice => "address",
            ServiceProblem::RequiredZero => "required",
            ServiceProblem::EmptyBackup => "down",
            ServiceProblem::DrainTimeZero => "drain_time",
        }
    }
}

/// What can be wrong with a destination.
///
/// ```
/// use cue::director::{Config, ConfigError, DestinationProblem};
/// let e = Config::from_json(r#"{"services": [{"address": "192.0.2.1", "port": 80, "protocol": "tcp",
///     "destinations": [{"address": "10.0.0.1", "port": 0, "checks": [{"type": "tcp"}]}]}]}"#).unwrap_err();
/// assert!(matches!(e, ConfigError::Destination { problem: DestinationProblem::PortZero, .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DestinationProblem {
    /// Port 0.
    #[error("port 0 is not a destination port")]
    PortZero,
    /// The same address and port twice in a service.
    #[error("listed twice")]
    ListedTwice,
    /// An enabled destination with no checks: it would never be proven
    /// healthy, so it is refused rather than taken as healthy. Disable it
    /// or give it weight 0 to keep it listed without checks.
    #[error("no checks: a destination is healthy only when its checks pass; give it a check (tcp is the least), or set disabled or weight 0")]
    NoChecks,
}

impl DestinationProblem {
    /// The field at fault.
    pub fn field(&self) -> &'static str {
        match self {
            DestinationProblem::PortZero => "port",
            DestinationProblem::ListedTwice => "address",
            DestinationProblem::NoChecks => "checks",
        }
    }
}

/// What can be wrong with a check.
///
/// ```
/// use cue::director::{CheckProblem, Config, ConfigError};
/// let e = Config::from_json(r#"{"services": [{"address": "192.0.2.1", "port": 80, "protocol": "tcp",
///     "destinations": [{"address": "10.0.0.1", "port": 80, "checks": [{"type": "tcp", "rise": 9}]}]}]}"#).unwrap_err();
/// let ConfigError::Check { problem, index, .. } = e else { panic!() };
/// assert_eq!((problem, index), (CheckProblem::Rise { rise: 9, window: 5 }, 1));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckProblem {
    /// An HTTP method other than GET or HEAD.
    #[error("method {0:?} is not GET or HEAD")]
    HttpMethod(String),
    /// A DNS transport other than udp or tcp.
    #[error("method {0:?} is not udp or tcp")]
    DnsMethod(String),
    /// A method on a check type that takes none.
    #[error("a {0} check takes no method")]
    NoMethod(CheckType),
    /// host, path or expect on a check that is not http or https.
    #[error("host, path and expect are for http and https, not {0}")]
    HttpOnly(CheckType),
    /// A status code outside 100-599 (0 accepts any).
    #[error("expect: {0} is not an HTTP status code")]
    Expect(u16),
    /// A path that does not start with / or holds spaces.
    #[error("path {0:?} must start with / and hold no spaces")]
    Path(String),
    /// An empty host, or one with spaces.
    #[error("host {0:?} is not a host name")]
    Host(String),
    /// Port 0.
    #[error("port 0")]
    PortZero,
    /// An interval below 10 ms.
    #[error("interval below 10ms")]
    Interval,
    /// A timeout of 0.
    #[error("timeout 0")]
    TimeoutZero,
    /// A window outside 1-32.
    #[error("window {0} is not 1-32")]
    Window(u8),
    /// A rise outside 1-window.
    #[error("rise {rise} is not 1-{window}")]
    Rise {
        /// The rise given.
        rise: u8,
        /// The window.
        window: u8,
    },
    /// A fall outside 1-window.
    #[error("fall {fall} is not 1-{window}")]
    Fall {
        /// The fall given.
        fall: u8,
        /// The window.
        window: u8,
    },
    /// A fall above the rise.
    #[error("fall {fall} above rise {rise}: a check that just came up would go down again")]
    FallAboveRise {
        /// The fall given.
        fall: u8,
        /// The rise.
        rise: u8,
    },
    /// A command check without a program.
    #[error("a command check needs \"command\": [\"PROGRAM\", \"ARG\"...]")]
    CommandMissing,
    /// A program or argument holding a NUL byte.
    #[error("command: {0:?} holds a NUL byte")]
    CommandNul(String),
    /// `command` on a check that is not a command check.
    #[error("command is for command checks, not {0}")]
    CommandOnly(CheckType),
}

impl CheckProblem {
    /// The field at fault.
    pub fn field(&self) -> &'static str {
        use CheckProblem::*;
        match self {
            HttpMethod(_) | DnsMethod(_) | NoMethod(_) => "method",
            HttpOnly(_) => "type",
            Expect(_) => "expect",
            Path(_) => "path",
            Host(_) => "host",
            PortZero => "port",
            Interval => "interval",
            TimeoutZero => "timeout",
            Window(_) => "window",
            Rise { .. } => "rise",
            Fall { .. } => "fall",
            FallAboveRise { .. } => "fall",
            CommandMissing | CommandNul(_) | CommandOnly(_) => "command",
        }
    }
}

/// HTTP methods a check may use.
///
/// ```
/// use cue::director::config::{DestinationConfig, HttpMethod};
/// let d: DestinationConfig = serde_json::from_str(r#"{"address": "10.0.0.1", "port": 80,
///     "checks": [{"type": "http", "method": "head"}]}"#).unwrap();
/// assert_eq!(d.checks[0].spec(&d).unwrap().method, HttpMethod::Head);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum HttpMethod {
    /// GET.
    Get,
    /// HEAD.
    Head,
}

impl HttpMethod {
    /// As written on the wire and in files.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Head => "HEAD",
        }
    }
}

/// What a check probes, fully resolved: the key under which identical probes
/// are shared between services.
///
/// ```
/// use cue::director::config::DestinationConfig;
/// // Two services checking one backend the same way share one probe: the
/// // resolved spec is the key.
/// let d: DestinationConfig = serde_json::from_str(r#"{"address": "10.0.0.1", "port": 80,
///     "checks": [{"type": "tcp"}, {"type": "tcp", "port": 80, "interval": "2s"}]}"#).unwrap();
/// assert_eq!(d.checks[0].spec(&d).unwrap(), d.checks[1].spec(&d).unwrap());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct CheckSpec {
    /// Kind of check.
    pub kind: CheckType,
    /// Address probed (always the destination's).
    pub address: IpAddr,
    /// Port probed.
    pub port: u16,
    /// Host header / SNI name.
    pub host: String,
    /// HTTP path.
    pub path: String,
    /// Accepted status codes (empty: 200; 0: any).
    pub expect: Vec<u16>,
    /// HTTP method.
    pub method: HttpMethod,
    /// DNS over TCP instead of UDP.
    pub dns_tcp: bool,
    /// Verify TLS certificates.
    pub verify: bool,
    /// Time between probes.
    #[serde(with = "humantime_serde_compat")]
    pub interval: Duration,
    /// Time a probe may take.
    #[serde(with = "humantime_serde_compat")]
    pub timeout: Duration,
    /// Rise/fall rule.
    pub rule: Rule,
    /// The program and its arguments (command checks; empty otherwise).
    pub command: Vec<String>,
}

mod humantime_serde_compat {
    use serde::Serializer;
    use std::time::Duration;
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_duration(*d))
    }
}

/// The rise/fall rule of a check: the last `window` results are kept; an up
/// check goes down when fewer than `fall` of them passed; a down check comes
/// up when at least `rise` of them passed.
///
/// ```
/// use cue::director::Rule;
/// assert_eq!(Rule::default(), Rule { window: 5, rise: 5, fall: 4 });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Rule {
    /// Results kept (1-32).
    pub window: u8,
    /// Passes needed to come up.
    pub rise: u8,
    /// Fewer passes than this take it down.
    pub fall: u8,
}

impl Default for Rule {
    /// The original's rule: 5 kept, down below 4 passes, up at 5 of 5.
    fn default() -> Self {
        Rule {
            window: 5,
            rise: 5,
            fall: 4,
        }
    }
}

impl Config {
    /// Parses and checks a JSON configuration; the first problem found is
    /// returned ([`from_json_all`](Self::from_json_all) gives them all).
    pub fn from_json(text: &str) -> Result<Config, ConfigError> {
        Config::from_json_all(text).map_err(|mut all| all.swap_remove(0))
    }

    /// Parses and checks a JSON configuration; a configuration that does
    /// not parse gives its syntax error, one that parses every problem it
    /// has, in the order of the file.
    ///
    /// ```
    /// use cue::director::Config;
    /// let all = Config::from_json_all(r#"{"services": [
    ///     {"address": "192.0.2.1", "port": 0, "protocol": "tcp"},
    ///     {"address": "192.0.2.2", "port": 80, "protocol": "tcp", "required": 0}]}"#).unwrap_err();
    /// assert_eq!(all.iter().map(|e| e.field()).collect::<Vec<_>>(), ["port", "required"]);
    /// ```
    pub fn from_json_all(text: &str) -> Result<Config, Vec<ConfigError>> {
        let config = Config::parse_json(text).map_err(|e| vec![e])?;
        let problems = config.problems();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(problems)
        }
    }

    /// Reads a JSON configuration without checking it.
    fn parse_json(text: &str) -> Result<Config, ConfigError> {
        let syntax = |e: serde_json::Error, path: String| ConfigError::Syntax {
            line: e.line(),
            column: e.column(),
            path,
            message: e
                .to_string()
                .split(" at line ")
                .next()
                .unwrap_or_default()
                .to_string(),
        };
        let mut reader = serde_json::Deserializer::from_str(text);
        let config: Config = serde_path_to_error::deserialize(&mut reader).map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." || path == "?" {
                String::new()
            } else {
                path
            };
            syntax(e.into_inner(), path)
        })?;
        reader.end().map_err(|e| syntax(e, String::new()))?;
        Ok(config)
    }

    /// Checks the whole configuration; the first problem found is returned
    /// ([`problems`](Self::problems) gives them all).
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.problems().into_iter().next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Every problem of the configuration, in order: each service's, then
    /// each of its destinations' and their checks' (a check's first).
    pub fn problems(&self) -> Vec<ConfigError> {
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        for s in &self.services {
            let service = service_name(s.address, s.port, s.protocol);
            let listed_twice = !seen.insert((s.address, s.port, s.protocol));
            out.extend(
                s.problems(self.drain_time, listed_twice)
                    .into_iter()
                    .map(|problem| ConfigError::Service {
                        service: service.clone(),
                        problem,
                    }),
            );
            let mut dests = BTreeSet::new();
            for d in &s.destinations {
                let listed_twice = !dests.insert((d.address, d.port));
                d.problems(&service, listed_twice, &mut out);
            }
        }
        out
    }
}

impl ServiceConfig {
    /// What is wrong with the service itself (`listed_twice`: another
    /// service of the file has its address, port and protocol).
    fn problems(&self, drain_time: Option<Duration>, listed_twice: bool) -> Vec<ServiceProblem> {
        let mut out = Vec::new();
        if self.port == 0 {
            out.push(ServiceProblem::PortZero);
        }
        if listed_twice {
            out.push(ServiceProblem::ListedTwice);
        }
        if self.required == 0 {
            out.push(ServiceProblem::RequiredZero);
        }
        if self.down.as_ref().is_some_and(|b| b.overrides().is_empty()) {
            out.push(ServiceProblem::EmptyBackup);
        }
        if self.drain_time.or(drain_time) == Some(Duration::ZERO) {
            out.push(ServiceProblem::DrainTimeZero);
        }
        out
    }
}

impl DestinationConfig {
    /// Adds what is wrong with the destination and its checks to `out`
    /// (`listed_twice`: another destination of the service has its address
    /// and port).
    fn problems(&self, service: &str, listed_twice: bool, out: &mut Vec<ConfigError>) {
        let destination = socket_name(self.address, self.port);
        let err = |problem| ConfigError::Destination {
            service: service.to_string(),
            destination: destination.clone(),
            problem,
        };
        if self.port == 0 {
            out.push(err(DestinationProblem::PortZero));
        }
        if listed_twice {
            out.push(err(DestinationProblem::ListedTwice));
        }
        if self.checks.is_empty() && !self.disabled && self.weight > 0 {
            out.push(err(DestinationProblem::NoChecks));
        }
        for (i, c) in self.checks.iter().enumerate() {
            if let Err(problem) = c.spec(self) {
                out.push(ConfigError::Check {
                    service: service.to_string(),
                    destination: destination.clone(),
                    index: i + 1,
                    kind: c.kind,
                    problem,
                });
            }
        }
    }
}

impl CheckConfig {
    /// A command check has a program (and no NUL anywhere); no other check
    /// has one.
    fn check_command(&self) -> Result<(), CheckProblem> {
        match (self.kind, self.command.first()) {
            (CheckType::Command, None) => Err(CheckProblem::CommandMissing),
            (CheckType::Command, Some(p)) if p.is_empty() => Err(CheckProblem::CommandMissing),
            (CheckType::Command, _) => match self.command.iter().find(|a| a.contains('\0')) {
                Some(a) => Err(CheckProblem::CommandNul(a.clone())),
                None => Ok(()),
            },
            (k, Some(_)) => Err(CheckProblem::CommandOnly(k)),
            (_, None) => Ok(()),
        }
    }

    /// Resolves the check against its destination, applying defaults.
    pub fn spec(&self, d: &DestinationConfig) -> Result<CheckSpec, CheckProblem> {
        let (method, dns_tcp) = self.method()?;
        let (path, host) = self.http_target(d)?;
        let port = self.port.unwrap_or(d.port);
        if port == 0 {
            return Err(CheckProblem::PortZero);
        }
        self.check_command()?;
        let default_timeout = if self.kind == CheckType::Dns {
            Duration::from_secs(1)
        } else {
            Duration::from_secs(2)
        };
        let interval = self.interval.unwrap_or(Duration::from_secs(2));
        let timeout = self.timeout.unwrap_or(default_timeout);
        if interval < Duration::from_millis(10) {
            return Err(CheckProblem::Interval);
        }
        if timeout.is_zero() {
            return Err(CheckProblem::TimeoutZero);
        }
        Ok(CheckSpec {
            kind: self.kind,
            address: d.address,
            port,
            host,
            path,
            expect: self.expect.clone(),
            method,
            dns_tcp,
            verify: self.verify,
            interval,
            timeout,
            rule: self.checked_rule()?,
            command: self.command.clone(),
        })
    }

    /// The HTTP method (GET or HEAD; GET for the other kinds), and whether
    /// a DNS check goes over TCP (its `method` is UDP or TCP).
    fn method(&self) -> Result<(HttpMethod, bool), CheckProblem> {
        let method = match (
            self.kind,
            self.method.as_deref().map(str::to_ascii_uppercase),
        ) {
            (_, None) => HttpMethod::Get,
            (CheckType::Http | CheckType::Https, Some(m)) if m == "GET" => HttpMethod::Get,
            (CheckType::Http | CheckType::Https, Some(m)) if m == "HEAD" => HttpMethod::Head,
            (CheckType::Http | CheckType::Https, Some(m)) => {
                return Err(CheckProblem::HttpMethod(m))
            }
            (CheckType::Dns, Some(m)) if m == "UDP" || m == "TCP" => HttpMethod::Get,
            (CheckType::Dns, Some(m)) => return Err(CheckProblem::DnsMethod(m)),
            (k, Some(_)) => return Err(CheckProblem::NoMethod(k)),
        };
        let dns_tcp = self.kind == CheckType::Dns
            && self
                .method
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case("tcp"));
        Ok((method, dns_tcp))
    }

    /// The path and Host header of an HTTP check (defaults for the other
    /// kinds, which may state neither, nor expected statuses).
    fn http_target(&self, d: &DestinationConfig) -> Result<(String, String), CheckProblem> {
        let http = matches!(self.kind, CheckType::Http | CheckType::Https);
        if !http && (self.path.is_some() || !self.expect.is_empty() || self.host.is_some()) {
            return Err(CheckProblem::HttpOnly(self.kind));
        }
        if let Some(&code) = self
            .expect
            .iter()
            .find(|&&c| c != 0 && !(100..=599).contains(&c))
        {
            return Err(CheckProblem::Expect(code));
        }
        let path = self.path.clone().unwrap_or_else(|| "/".into());
        if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(CheckProblem::Path(path));
        }
        let host = match &self.host {
            Some(h) if h.is_empty() || h.chars().any(|c| c.is_whitespace() || c.is_control()) => {
                return Err(CheckProblem::Host(h.clone()))
            }
            Some(h) => h.clone(),
            None => match d.address {
                IpAddr::V6(a) => format!("[{a}]"),
                a => a.to_string(),
            },
        };
        Ok((path, host))
    }

    /// The rise/fall rule, defaults applied and checked.
    fn checked_rule(&self) -> Result<Rule, CheckProblem> {
        let def = Rule::default();
        let window = self.window.unwrap_or(def.window);
        let rule = Rule {
            window,
            rise: self.rise.unwrap_or(def.rise.min(window)),
            fall: self.fall.unwrap_or(def.fall.min(window)),
        };
        if !(1..=32).contains(&rule.window) {
            return Err(CheckProblem::Window(rule.window));
        }
        if rule.rise == 0 || rule.rise > rule.window {
            return Err(CheckProblem::Rise {
                rise: rule.rise,
                window: rule.window,
            });
        }
        if rule.fall == 0 || rule.fall > rule.window {
            return Err(CheckProblem::Fall {
                fall: rule.fall,
                window: rule.window,
            });
        }
        if rule.fall > rule.rise {
            return Err(CheckProblem::FallAboveRise {
                fall: rule.fall,
                rise: rule.rise,
            });
        }
        Ok(rule)
    }
}

/// `addr:port` with brackets for IPv6.
pub fn socket_name(a: IpAddr, port: u16) -> String {
    std::net::SocketAddr::new(a, port).to_string()
}

/// `addr:port/proto`.
pub fn service_name(a: IpAddr, port: u16, p: Protocol) -> String {
    format!("{}/{p}", socket_name(a, port))
}

#[cfg(test)]
mod tests;

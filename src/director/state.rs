//! The director's state, pure: configuration in, probe results in (with the
//! time passed in), events and status out. The tokio driver in
//! [`super::Director`] only runs the probes and feeds their results here.

use super::check::ProbeResult;
use super::config::{socket_name, CheckSpec, Config, Protocol, ServiceConfig};
use super::monitor::Monitor;
pub use super::stats::{ProbeStats, PROBE_DURATION_BUCKETS};
use crate::bgp::AttributeOverrides;
use serde::{Serialize, Serializer};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// A service: VIP, port and protocol.
///
/// ```
/// use cue::director::config::Protocol;
/// let key: cue::director::state::ServiceKey = ("192.0.2.1".parse().unwrap(), 80, Protocol::Tcp);
/// ```
pub type ServiceKey = (IpAddr, u16, Protocol);
/// A destination within a service.
///
/// ```
/// let key: cue::director::state::DestinationKey = ("10.0.0.1".parse().unwrap(), 8080);
/// ```
pub type DestinationKey = (IpAddr, u16);

fn rfc3339<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_rfc3339_millis(*t))
}

fn rfc3339_opt<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => rfc3339(t, s),
        None => s.serialize_none(),
    }
}

fn millis<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

/// A service, named by its VIP, port and protocol: `192.0.2.1:80/tcp` in
/// text and JSON.
///
/// ```
/// use cue::director::{Protocol, ServiceId};
/// let s = ServiceId { address: "2001:db8::1".parse().unwrap(), port: 53, protocol: Protocol::Udp };
/// assert_eq!(s.to_string(), "[2001:db8::1]:53/udp");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceId {
    /// The VIP.
    pub address: IpAddr,
    /// The port.
    pub port: u16,
    /// The protocol.
    pub protocol: Protocol,
}

impl std::fmt::Display for ServiceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}",
            std::net::SocketAddr::new(self.address, self.port),
            self.protocol
        )
    }
}

impl Serialize for ServiceId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// What the director reports.
///
/// ```
/// use cue::director::{DirectorEvent, Protocol, ServiceId};
/// let service = ServiceId { address: "192.0.2.1".parse().unwrap(), port: 80, protocol: Protocol::Tcp };
/// let e = DirectorEvent::Service { service, up: false, available: 0, required: 1 };
/// assert_eq!(
///     serde_json::to_string(&e).unwrap(),
///     r#"{"event":"service","service":"192.0.2.1:80/tcp","up":false,"available":0,"required":1}"#
/// );
/// ```
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum DirectorEvent {
    /// One probe finished.
    Probe {
        /// The address and port probed.
        target: std::net::SocketAddr,
        /// The kind of check.
        check: super::config::CheckType,
        /// Whether it passed.
        ok: bool,
        /// What was seen.
        diagnostic: String,
        /// How long it took (milliseconds).
        #[serde(serialize_with = "millis")]
        took: Duration,
    },
    /// A destination came up or went down.
    Destination {
        /// The service.
        service: ServiceId,
        /// The destination's address and port.
        destination: std::net::SocketAddr,
        /// New state.
        up: bool,
        /// Why (the failing check's diagnostic when down).
        diagnostic: String,
    },
    /// A service came up or went down.
    Service {
        /// The service.
        service: ServiceId,
        /// New state.
        up: bool,
        /// Healthy destinations.
        available: u32,
        /// Needed for the service to be up.
        required: u32,
    },
    /// The embedder fell behind: this many events were dropped here (state
    /// changes included: read [`Director::status`](super::Director::status)).
    Lagged {
        /// How many.
        missed: u64,
    },
}

impl crate::bgp::Lagged for DirectorEvent {
    fn lagged(missed: u64) -> Self {
        DirectorEvent::Lagged { missed }
    }
}

/// The status of one check of a destination.
///
/// ```
/// # fn show(director: &cue::director::Director) {
/// for s in director.status() {
///     println!("{}:{}/{} {} ({} available)", s.address, s.port, s.protocol, s.up, s.available);
///     for d in &s.destinations {
///         println!("  {}:{} ok {} {}", d.address, d.port, d.ok, d.diagnostic);
///         for c in &d.checks {
///             println!("    {} up {}, {} recent passes", c.check, c.up, c.passes);
///         }
///     }
/// }
/// # }
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct CheckStatus {
    /// Kind and target, e.g. `http 10.1.2.3:8080`.
    pub check: String,
    /// Counts as up.
    pub up: bool,
    /// Passes within the window.
    pub passes: u32,
    /// Last diagnostic.
    pub diagnostic: String,
    /// What its probes did since it was configured.
    pub stats: ProbeStats,
}

/// The status of one destination.
///
/// ```
/// # fn show(director: &cue::director::Director) {
/// for s in director.status() {
///     println!("{}:{}/{} {} ({} available)", s.address, s.port, s.protocol, s.up, s.available);
///     for d in &s.destinations {
///         println!("  {}:{} ok {} {}", d.address, d.port, d.ok, d.diagnostic);
///         for c in &d.checks {
///             println!("    {} up {}, {} recent passes", c.check, c.up, c.passes);
///         }
///     }
/// }
/// # }
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct DestinationStatus {
    /// Backend address.
    pub address: IpAddr,
    /// Backend port.
    pub port: u16,
    /// Weight.
    pub weight: u32,
    /// Administratively disabled.
    pub disabled: bool,
    /// Healthy: enabled, weight above zero and every check up.
    pub ok: bool,
    /// The failing check's diagnostic, or the last one.
    pub diagnostic: String,
    /// How long the last probe took (milliseconds).
    #[serde(serialize_with = "millis")]
    pub took: Duration,
    /// When it was last probed.
    #[serde(serialize_with = "rfc3339_opt")]
    pub last_probe: Option<SystemTime>,
    /// When `ok` last changed.
    #[serde(serialize_with = "rfc3339")]
    pub last_change: SystemTime,
    /// Its checks.
    pub checks: Vec<CheckStatus>,
}

/// The status of one service.
///
/// ```
/// # fn show(director: &cue::director::Director) {
/// for s in director.status() {
///     println!("{}:{}/{} {} ({} available)", s.address, s.port, s.protocol, s.up, s.available);
///     for d in &s.destinations {
///         println!("  {}:{} ok {} {}", d.address, d.port, d.ok, d.diagnostic);
///         for c in &d.checks {
///             println!("    {} up {}, {} recent passes", c.check, c.up, c.passes);
///         }
///     }
/// }
/// # }
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct ServiceStatus {
    /// VIP.
    pub address: IpAddr,
    /// Port.
    pub port: u16,
    /// Protocol.
    pub protocol: Protocol,
    /// Up: at least `required` destinations healthy.
    pub up: bool,
    /// Since when.
    #[serde(serialize_with = "rfc3339")]
    pub since: SystemTime,
    /// Healthy destinations.
    pub available: u32,
    /// Needed.
    pub required: u32,
    /// Scheduler name (for the embedder).
    pub scheduler: Option<String>,
    /// Persistence timeout (for the embedder).
    pub persist: Option<u32>,
    /// Sticky (for the embedder).
    pub sticky: bool,
    /// Reset (for the embedder).
    pub reset: bool,
    /// Destinations in address order.
    pub destinations: Vec<DestinationStatus>,
}

#[derive(Debug, Clone)]
struct Probe {
    monitor: Monitor,
    last: Option<ProbeResult>,
    last_probe: Option<SystemTime>,
    stats: ProbeStats,
}

impl Probe {
    fn new(monitor: Monitor) -> Probe {
        Probe {
            monitor,
            last: None,
            last_probe: None,
            stats: ProbeStats::default(),
        }
    }

    /// Its status, as checking `spec`.
    fn status(&self, spec: &CheckSpec) -> CheckStatus {
        CheckStatus {
            check: format!("{} {}", spec.kind, socket_name(spec.address, spec.port)),
            up: self.monitor.is_up(),
            passes: self.monitor.passes(),
            diagnostic: self
                .last
                .as_ref()
                .map(|r| r.diagnostic.clone())
                .unwrap_or_else(|| "not probed yet".into()),
            stats: self.stats.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Since {
    up: bool,
    since: SystemTime,
}

/// The whole state: the configuration, one monitor per distinct check, and
/// the derived destination and service states.
///
/// ```
/// use cue::director::{Config, DirectorState, ProbeResult};
/// use std::time::{Duration, SystemTime};
/// let config = Config::from_json(r#"{"services": [{"address": "192.0.2.1", "port": 80, "protocol": "tcp",
///     "destinations": [{"address": "10.0.0.1", "port": 8080,
///       "checks": [{"type": "http", "path": "/health", "interval": "1s", "window": 3, "rise": 2, "fall": 2}]}]}]}"#).unwrap();
/// let mut state = DirectorState::default();
/// let t = SystemTime::UNIX_EPOCH;
/// state.configure(config, t); // a new VIP starts down
/// let spec = state.specs().next().unwrap().clone();
/// let pass = ProbeResult::passed("200 OK", Duration::from_millis(2));
/// state.record(&spec, pass.clone(), t);
/// assert!(state.healthy_vips().is_empty(), "one pass is not enough: rise 2");
/// let events = state.record(&spec, pass, t);
/// assert_eq!(state.healthy_vips().len(), 1);
/// assert!(!events.is_empty());
/// ```
#[derive(Debug, Default)]
pub struct DirectorState {
    config: Config,
    /// One monitor per distinct check; each check is held once and shared.
    /// Hashed: a result is recorded thousands of times a second.
    probes: HashMap<Arc<CheckSpec>, Probe, foldhash::fast::RandomState>,
    /// The resolved checks of each destination: `specs[service][destination]`.
    specs: Vec<Vec<Vec<Arc<CheckSpec>>>>,
    /// Which services use each check, so that a result re-evaluates only them.
    users: HashMap<Arc<CheckSpec>, Vec<usize>, foldhash::fast::RandomState>,
    destinations: BTreeMap<(ServiceKey, DestinationKey), Since>,
    services: BTreeMap<ServiceKey, Since>,
}

fn key(s: &ServiceConfig) -> ServiceKey {
    (s.address, s.port, s.protocol)
}

impl DirectorState {
    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Every distinct check, for the driver to run (in no particular order).
    pub fn specs(&self) -> impl Iterator<Item = &CheckSpec> {
        self.probes.keys().map(|s| &**s)
    }

    /// Every distinct check, shared (for a driver that keeps them).
    pub fn shared_specs(&self) -> impl Iterator<Item = Arc<CheckSpec>> + '_ {
        self.probes.keys().cloned()
    }

    /// Applies a (validated) configuration. Checks that stay keep their
    /// history. New checks start by the original's rules: down for a
    /// destination of a new VIP, up for a new service on a VIP that already
    /// exists, down for a new destination of an existing service, and as the
    /// destination was when only the check changed.
    pub fn configure(&mut self, config: Config, now: SystemTime) -> Vec<DirectorEvent> {
        let old_vips: BTreeSet<IpAddr> = self.config.services.iter().map(|s| s.address).collect();
        let old_services: BTreeSet<ServiceKey> = self.config.services.iter().map(key).collect();
        let mut probes = HashMap::default();
        for s in &config.services {
            let sk = key(s);
            for d in &s.destinations {
                let dk = (d.address, d.port);
                let initial = if let Some(prev) = self.destinations.get(&(sk, dk)) {
                    prev.up
                } else if old_services.contains(&sk) {
                    false
                } else {
                    old_vips.contains(&s.address)
                };
                for c in &d.checks {
                    let Ok(spec) = c.spec(d) else { continue };
                    if probes.contains_key(&spec) {
                        continue;
                    }
                    let (spec, probe) = match self.probes.remove_entry(&spec) {
                        Some(kept) => kept,
                        None => {
                            let probe = Probe::new(Monitor::new(spec.rule, initial));
                            (Arc::new(spec), probe)
                        }
                    };
                    probes.insert(spec, probe);
                }
                // A destination that is new starts in its initial state even
                // when its checks were shared with one that already existed.
                self.destinations.entry((sk, dk)).or_insert(Since {
                    up: initial,
                    since: now,
                });
            }
            self.services.entry(sk).or_insert(Since {
                up: false,
                since: now,
            });
        }
        self.probes = probes;
        self.index_checks(&config);
        let services: BTreeSet<ServiceKey> = config.services.iter().map(key).collect();
        self.services.retain(|k, _| services.contains(k));
        let dests: BTreeSet<(ServiceKey, DestinationKey)> = config
            .services
            .iter()
            .flat_map(|s| {
                s.destinations
                    .iter()
                    .map(move |d| (key(s), (d.address, d.port)))
            })
            .collect();
        self.destinations.retain(|k, _| dests.contains(k));
        self.config = config;
        let all: Vec<usize> = (0..self.config.services.len()).collect();
        self.reevaluate(&all, now, true)
    }

    /// Which check each destination of `config` uses (by service, then
    /// destination), and which services use each check.
    fn index_checks(&mut self, config: &Config) {
        let probes = &self.probes;
        self.specs = config
            .services
            .iter()
            .map(|s| {
                s.destinations
                    .iter()
                    .map(|d| {
                        d.checks
                            .iter()
                            .filter_map(|c| c.spec(d).ok())
                            .filter_map(|spec| probes.get_key_value(&spec).map(|(k, _)| k.clone()))
                            .collect()
                    })
                    .collect()
            })
            .collect();
        self.users.clear();
        for (si, dests) in self.specs.iter().enumerate() {
            for spec in dests.iter().flatten() {
                let u = self.users.entry(spec.clone()).or_default();
                if u.last() != Some(&si) {
                    u.push(si);
                }
            }
        }
    }

    /// Records a probe result at `now`; returns a [`DirectorEvent::Probe`]
    /// for it, then what changed.
    pub fn record(
        &mut self,
        spec: &CheckSpec,
        result: ProbeResult,
        now: SystemTime,
    ) -> Vec<DirectorEvent> {
        if !self.probes.contains_key(spec) {
            return vec![];
        }
        let mut events = vec![DirectorEvent::Probe {
            target: std::net::SocketAddr::new(spec.address, spec.port),
            check: spec.kind,
            ok: result.ok,
            diagnostic: result.diagnostic.clone(),
            took: result.took,
        }];
        events.extend(self.record_change(spec, result, now));
        events
    }

    /// Records a probe result at `now`; returns only what changed (no
    /// event for the probe itself, and nothing allocated when nothing
    /// changed).
    pub fn record_change(
        &mut self,
        spec: &CheckSpec,
        result: ProbeResult,
        now: SystemTime,
    ) -> Vec<DirectorEvent> {
        let Some(p) = self.probes.get_mut(spec) else {
            return vec![];
        };
        let changed = p.monitor.record(result.ok).is_some();
        p.stats.record(&result);
        p.last = Some(result);
        p.last_probe = Some(now);
        if !changed {
            return vec![];
        }
        let users = self.users.get(spec).cloned().unwrap_or_default();
        self.reevaluate(&users, now, false)
    }

    /// Recomputes the destination and service states of `services` (indexes
    /// into the configuration) from the monitors.
    fn reevaluate(
        &mut self,
        services: &[usize],
        now: SystemTime,
        initial: bool,
    ) -> Vec<DirectorEvent> {
        let mut events = Vec::new();
        for &si in services {
            let s = &self.config.services[si];
            let sk = key(s);
            let sname = ServiceId {
                address: s.address,
                port: s.port,
                protocol: s.protocol,
            };
            let mut available = 0;
            for (di, d) in s.destinations.iter().enumerate() {
                let (ok, diagnostic) = self.destination_health(si, di);
                let entry = self
                    .destinations
                    .entry((sk, (d.address, d.port)))
                    .or_insert(Since { up: ok, since: now });
                if entry.up != ok {
                    *entry = Since { up: ok, since: now };
                    events.push(DirectorEvent::Destination {
                        service: sname,
                        destination: std::net::SocketAddr::new(d.address, d.port),
                        up: ok,
                        diagnostic,
                    });
                }
                available += ok as u32;
            }
            let up = available >= s.required;
            let entry = self.services.entry(sk).or_insert(Since { up, since: now });
            if entry.up != up || (initial && entry.since == now) {
                if entry.up != up {
                    *entry = Since { up, since: now };
                }
                events.push(DirectorEvent::Service {
                    service: sname,
                    up,
                    available,
                    required: s.required,
                });
            }
        }
        events
    }

    /// Whether destination `di` of service `si` is healthy, and why.
    fn destination_health(&self, si: usize, di: usize) -> (bool, String) {
        let d = &self.config.services[si].destinations[di];
        if d.disabled {
            return (false, "disabled".into());
        }
        if d.weight == 0 {
            return (false, "weight 0".into());
        }
        // Never healthy unproven: a destination without checks, or with one
        // that does not resolve (a configuration that skipped
        // `Config::validate`), is down.
        let specs = &self.specs[si][di];
        if specs.len() != d.checks.len() {
            return (false, "invalid check".into());
        }
        if specs.is_empty() {
            return (false, "no checks".into());
        }
        let mut diag = String::new();
        for spec in specs {
            let Some(p) = self.probes.get(spec) else {
                continue;
            };
            let last = p.last.as_ref().map(|r| r.diagnostic.as_str());
            if !p.monitor.is_up() {
                let why = last.unwrap_or("not probed yet");
                return (false, format!("{}: {why}", spec.kind));
            }
            if let Some(l) = last {
                diag = l.to_string();
            }
        }
        (true, diag)
    }

    /// Whether every check has seen a whole window of results (or started
    /// up): the state will not change without a change in the results.
    pub fn settled(&self) -> bool {
        self.probes.values().all(|p| p.monitor.settled())
    }

    /// Services sorted by address, port and protocol, with their
    /// destinations.
    pub fn status(&self) -> Vec<ServiceStatus> {
        let mut out: Vec<ServiceStatus> = self
            .config
            .services
            .iter()
            .enumerate()
            .map(|(si, s)| {
                let sk = key(s);
                let mut destinations: Vec<DestinationStatus> = s
                    .destinations
                    .iter()
                    .enumerate()
                    .map(|(di, d)| {
                        let (ok, diagnostic) = self.destination_health(si, di);
                        let probes: Vec<(&CheckSpec, &Probe)> = self.specs[si][di]
                            .iter()
                            .filter_map(|sp| self.probes.get(sp).map(|p| (&**sp, p)))
                            .collect();
                        let last_probe = probes.iter().filter_map(|(_, p)| p.last_probe).max();
                        let took = probes
                            .iter()
                            .filter_map(|(_, p)| p.last.as_ref().map(|r| r.took))
                            .max()
                            .unwrap_or_default();
                        let since = self
                            .destinations
                            .get(&(sk, (d.address, d.port)))
                            .map(|s| s.since)
                            .unwrap_or(SystemTime::UNIX_EPOCH);
                        DestinationStatus {
                            address: d.address,
                            port: d.port,
                            weight: d.weight,
                            disabled: d.disabled,
                            ok,
                            diagnostic,
                            took,
                            last_probe,
                            last_change: since,
                            checks: probes.iter().map(|(sp, p)| p.status(sp)).collect(),
                        }
                    })
                    .collect();
                destinations.sort_by_key(|d| (d.address, d.port));
                let available = destinations.iter().filter(|d| d.ok).count() as u32;
                let since = self.services.get(&sk).copied().unwrap_or(Since {
                    up: false,
                    since: SystemTime::UNIX_EPOCH,
                });
                ServiceStatus {
                    address: s.address,
                    port: s.port,
                    protocol: s.protocol,
                    up: available >= s.required,
                    since: since.since,
                    available,
                    required: s.required,
                    scheduler: s.scheduler.clone(),
                    persist: s.persist,
                    sticky: s.sticky,
                    reset: s.reset,
                    destinations,
                }
            })
            .collect();
        out.sort_by_key(|s| (s.address, s.port, s.protocol));
        out
    }

    /// Every VIP in the configuration.
    pub fn all_vips(&self) -> BTreeSet<IpAddr> {
        self.config.services.iter().map(|s| s.address).collect()
    }

    /// VIPs not healthy that stay announced as a backup path: for each, the
    /// attributes of the first service on it (in address, port and protocol
    /// order) that is down and has a `down` backup.
    pub fn backup_vips(&self) -> BTreeMap<IpAddr, AttributeOverrides> {
        let mut services: Vec<&ServiceConfig> = self.config.services.iter().collect();
        services.sort_by_key(|s| key(s));
        let mut out = BTreeMap::new();
        for s in services {
            let up = self.services.get(&key(s)).is_some_and(|x| x.up);
            if let (false, Some(b)) = (up, &s.down) {
                out.entry(s.address).or_insert_with(|| b.overrides());
            }
        }
        out
    }

    /// VIPs whose every service is up: what the BGP speaker advertises.
    pub fn healthy_vips(&self) -> BTreeSet<IpAddr> {
        let mut vips: BTreeMap<IpAddr, bool> = BTreeMap::new();
        for s in &self.config.services {
            let up = self.services.get(&key(s)).is_some_and(|x| x.up);
            *vips.entry(s.address).or_insert(true) &= up;
        }
        vips.into_iter()
            .filter(|(_, up)| *up)
            .map(|(v, _)| v)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> Config {
        Config::from_json(json).unwrap()
    }

    fn one_service(vip: &str, port: u16, dests: &[(&str, u16)]) -> String {
        let d: Vec<String> = dests
            .iter()
            .map(|(a, p)| {
                format!(r#"{{"address": "{a}", "port": {p}, "checks": [{{"type": "tcp"}}]}}"#)
            })
            .collect();
        format!(
            r#"{{"address": "{vip}", "port": {port}, "protocol": "tcp", "destinations": [{}]}}"#,
            d.join(",")
        )
    }

    fn services(s: &[String]) -> Config {
        config(&format!(r#"{{"services": [{}]}}"#, s.join(",")))
    }

    fn spec_of(st: &DirectorState, addr: &str) -> CheckSpec {
        st.specs()
            .find(|s| s.address.to_string() == addr)
            .unwrap()
            .clone()
    }

    fn pass() -> ProbeResult {
        ProbeResult::passed("connected", Duration::from_millis(1))
    }

    fn fail() -> ProbeResult {
        ProbeResult::failed("connection refused", Duration::from_millis(1))
    }

    fn vip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn new_vip_starts_down_and_comes_up_after_five_passes() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let mut st = DirectorState::default();
        let ev = st.configure(
            services(&[one_service("192.0.2.1", 80, &[("10.0.0.1", 8080)])]),
            t0,
        );
        assert!(matches!(ev[..], [DirectorEvent::Service { up: false, .. }]));
        assert!(st.healthy_vips().is_empty());
        let spec = spec_of(&st, "10.0.0.1");
        for i in 0..4 {
            let ev = st.record(&spec, pass(), t0 + Duration::from_secs(i));
            assert_eq!(ev.len(), 1, "only the probe event");
        }
        let ev = st.record(&spec, pass(), t0 + Duration::from_secs(5));
        assert!(ev
            .iter()
            .any(|e| matches!(e, DirectorEvent::Destination { up: true, .. })));
        assert!(ev.iter().any(|e| matches!(
            e,
            DirectorEvent::Service {
                up: true,
                available: 1,
                ..
            }
        )));
        assert_eq!(st.healthy_vips(), [vip("192.0.2.1")].into());
        // Two failures within the window take it down.
        st.record(&spec, fail(), t0 + Duration::from_secs(6));
        assert_eq!(st.healthy_vips().len(), 1);
        let ev = st.record(&spec, fail(), t0 + Duration::from_secs(7));
        assert!(ev
            .iter()
            .any(|e| matches!(e, DirectorEvent::Service { up: false, .. })));
        assert!(st.healthy_vips().is_empty());
        let s = &st.status()[0];
        assert_eq!(s.destinations[0].diagnostic, "tcp: connection refused");
        assert_eq!(s.since, t0 + Duration::from_secs(7));
    }

    fn bring_up(st: &mut DirectorState, addr: &str, t: SystemTime) {
        let spec = spec_of(st, addr);
        for _ in 0..5 {
            st.record(&spec, pass(), t);
        }
    }

    #[test]
    fn initial_state_rules_on_reconfiguration() {
        let t0 = SystemTime::UNIX_EPOCH;
        let mut st = DirectorState::default();
        let a = one_service("192.0.2.1", 80, &[("10.0.0.1", 8080)]);
        st.configure(services(std::slice::from_ref(&a)), t0);
        bring_up(&mut st, "10.0.0.1", t0);
        assert_eq!(st.healthy_vips().len(), 1);

        // A new service on the existing VIP starts up: the VIP stays.
        let b = one_service("192.0.2.1", 443, &[("10.0.0.2", 8443)]);
        // A new VIP starts down.
        let c = one_service("192.0.2.3", 80, &[("10.0.0.3", 8080)]);
        st.configure(services(&[a.clone(), b.clone(), c]), t0);
        assert_eq!(st.healthy_vips(), [vip("192.0.2.1")].into());
        let status = st.status();
        assert!(status.iter().find(|s| s.port == 443).unwrap().up);
        assert!(
            !status
                .iter()
                .find(|s| s.address == vip("192.0.2.3"))
                .unwrap()
                .up
        );

        // A new destination of an existing service starts down; the service
        // stays up on its old one. History of the old one carries over.
        let a2 = one_service("192.0.2.1", 80, &[("10.0.0.1", 8080), ("10.0.0.9", 8080)]);
        st.configure(services(&[a2, b]), t0);
        let s80 = st.status().into_iter().find(|s| s.port == 80).unwrap();
        assert_eq!(s80.available, 1);
        assert!(s80
            .destinations
            .iter()
            .any(|d| d.address == vip("10.0.0.1") && d.ok));
        assert!(s80
            .destinations
            .iter()
            .any(|d| d.address == vip("10.0.0.9") && !d.ok));
        assert_eq!(st.healthy_vips(), [vip("192.0.2.1")].into());
        // The removed VIP is gone.
        assert!(!st.all_vips().contains(&vip("192.0.2.3")));
    }

    #[test]
    fn a_vip_is_healthy_only_when_every_service_is_up() {
        let t0 = SystemTime::UNIX_EPOCH;
        let mut st = DirectorState::default();
        st.configure(
            services(&[
                one_service("192.0.2.1", 80, &[("10.0.0.1", 8080)]),
                one_service("192.0.2.1", 443, &[("10.0.0.2", 8443)]),
            ]),
            t0,
        );
        bring_up(&mut st, "10.0.0.1", t0);
        assert!(st.healthy_vips().is_empty());
        bring_up(&mut st, "10.0.0.2", t0);
        assert_eq!(st.healthy_vips().len(), 1);
    }

    #[test]
    fn identical_checks_are_shared() {
        let t0 = SystemTime::UNIX_EPOCH;
        let mut st = DirectorState::default();
        st.configure(
            services(&[
                one_service("192.0.2.1", 80, &[("10.0.0.1", 8080)]),
                one_service("192.0.2.2", 80, &[("10.0.0.1", 8080)]),
            ]),
            t0,
        );
        assert_eq!(st.specs().count(), 1);
        bring_up(&mut st, "10.0.0.1", t0);
        assert_eq!(st.healthy_vips().len(), 2);
    }

    #[test]
    fn disabled_and_zero_weight_are_down() {
        let t0 = SystemTime::UNIX_EPOCH;
        let mut st = DirectorState::default();
        st.configure(
            config(
                r#"{"services": [{"address": "192.0.2.1", "port": 80, "protocol": "tcp", "destinations": [
                {"address": "10.0.0.1", "port": 80, "disabled": true},
                {"address": "10.0.0.2", "port": 80, "weight": 0},
                {"address": "10.0.0.3", "port": 80, "checks": [{"type": "tcp"}]}]}]}"#,
            ),
            t0,
        );
        let s = &st.status()[0];
        assert_eq!(s.available, 0);
        assert_eq!(s.destinations[0].diagnostic, "disabled");
        assert_eq!(s.destinations[1].diagnostic, "weight 0");
        assert!(
            s.destinations[2].diagnostic.starts_with("tcp"),
            "{:?}",
            s.destinations[2]
        );
    }

    #[test]
    fn unchecked_destinations_are_never_up() {
        // A configuration built in code, never validated: the destination
        // without checks and the one with an invalid check stay down.
        let t0 = SystemTime::UNIX_EPOCH;
        let mut c = services(&[one_service(
            "192.0.2.1",
            80,
            &[("10.0.0.1", 80), ("10.0.0.2", 80)],
        )]);
        c.services[0].destinations[0].checks.clear();
        c.services[0].destinations[1].checks[0].window = Some(0);
        let mut st = DirectorState::default();
        st.configure(c, t0);
        let s = &st.status()[0];
        assert_eq!(s.destinations[0].diagnostic, "no checks");
        assert_eq!(s.destinations[1].diagnostic, "invalid check");
        assert!(st.healthy_vips().is_empty());
    }
}

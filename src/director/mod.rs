//! The director: health-checks backends and tells the embedder which
//! services and VIPs are up.
//!
//! [`Director::start`] takes a [`Config`]; one tokio task, on a thread of
//! the director's own, schedules and runs every distinct check (identical
//! checks used by several services are probed once), with jitter so that thousands of checks do not fire
//! together but never more than one interval between two probes of a
//! check, and every probe bounded by its timeout: a hung backend delays no
//! other. Results go into the pure [`DirectorState`], which
//! decides, by each check's rise/fall rule, which destinations and services
//! are up. [`Director::healthy_vips`] is what a BGP speaker advertises.
//!
//! ```no_run
//! # async fn demo() -> Result<(), cue::director::ConfigError> {
//! use cue::director::{Config, Director};
//! let config = Config::from_json(r#"{"services": [{"address": "192.0.2.1", "port": 80,
//!   "protocol": "tcp", "destinations": [{"address": "10.0.0.1", "port": 8080,
//!   "checks": [{"type": "http", "path": "/health"}]}]}]}"#)?;
//! let (director, mut events) = Director::start(config)?;
//! let mut changed = director.changed();
//! while changed.changed().await.is_ok() {
//!     println!("healthy VIPs: {:?}", director.healthy_vips());
//! }
//! # Ok(()) }
//! ```

mod build;
pub mod check;
pub mod config;
pub mod drain;
mod engine;
pub mod monitor;
pub mod state;
mod stats;

pub use check::{FailureCause, ProbeResult};
pub use config::{
    Backup, CheckConfig, CheckProblem, CheckSpec, CheckType, Config, ConfigError,
    DestinationConfig, DestinationProblem, HttpMethod, Protocol, Rule, ServiceConfig,
    ServiceProblem,
};
pub use state::{
    DestinationStatus, DirectorEvent, DirectorState, ProbeStats, ServiceId, ServiceStatus,
};

use crate::bgp::{event_channel, AttributeOverrides, EventSender, Events, DEFAULT_EVENT_BUFFER};
use crate::lock;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use tokio::sync::{mpsc, watch};

/// Probes allowed in flight at once: bounds the sockets in use.
pub const MAX_CONCURRENT_PROBES: usize = 4096;

/// A running director.
///
/// ``` no_run
/// # async fn demo() -> Result<(), cue::director::ConfigError> {
/// use cue::director::{Config, Director};
/// let config = Config::from_json(r#"{"services": [{"address": "192.0.2.1", "port": 80, "protocol": "tcp",
///     "destinations": [{"address": "10.0.0.1", "port": 8080,
///       "checks": [{"type": "http", "path": "/health", "interval": "1s", "window": 3, "rise": 2, "fall": 2}]}]}]}"#).unwrap();
/// let (director, _events) = Director::start(config)?;
/// let mut changed = director.changed();
/// changed.changed().await.ok();
/// println!("healthy: {:?}, all: {:?}", director.healthy_vips(), director.all_vips());
/// director.stop();
/// # Ok(()) }
/// ```
pub struct Director {
    shared: Arc<Shared>,
    /// The set of checks, for the engine; dropped to stop it.
    checks: Mutex<Option<mpsc::UnboundedSender<Vec<Arc<CheckSpec>>>>>,
}

struct Shared {
    state: Mutex<DirectorState>,
    /// Whether every probe result is sent as an event (off by default: at
    /// thousands of probes a second, an embedder that does not read them
    /// should not pay for them).
    probe_events: std::sync::atomic::AtomicBool,
    events: EventSender<DirectorEvent>,
    changed: watch::Sender<u64>,
    /// What is drained (RFC 8326).
    drains: Mutex<drain::Drains>,
}

impl Shared {
    /// See [`Director::announced_vips`].
    fn announced_vips(&self) -> (BTreeSet<IpAddr>, BTreeMap<IpAddr, AttributeOverrides>) {
        let (mut healthy, mut backup) = {
            let state = lock(&self.state);
            (state.healthy_vips(), state.backup_vips())
        };
        lock(&self.drains).apply(std::time::Instant::now(), &mut healthy, &mut backup);
        (healthy, backup)
    }

    fn publish(&self, events: Vec<DirectorEvent>) {
        let mut changed = false;
        let probes = self.probe_events.load(std::sync::atomic::Ordering::Relaxed);
        for e in events {
            match &e {
                DirectorEvent::Probe {
                    target,
                    check,
                    ok: false,
                    diagnostic,
                    ..
                } => tracing::debug!(%target, %check, %diagnostic, "probe failed"),
                DirectorEvent::Destination {
                    service,
                    destination,
                    up,
                    diagnostic,
                } => tracing::info!(%service, %destination, up, %diagnostic, "destination"),
                DirectorEvent::Service {
                    service,
                    up: true,
                    available,
                    ..
                } => tracing::info!(%service, available, "service up"),
                DirectorEvent::Service {
                    service,
                    up: false,
                    available,
                    required,
                } => tracing::warn!(%service, available, required, "service down"),
                _ => {}
            }
            let probe = matches!(e, DirectorEvent::Probe { .. });
            changed |= !probe;
            if probes || !probe {
                self.events.send(e);
            }
        }
        if changed {
            self.changed.send_modify(|n| *n += 1);
        }
    }
}

/// A director held weakly (by a metrics collector, which must not keep a
/// stopped director alive).
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) struct DirectorView(std::sync::Weak<Shared>);

/// VIPs: healthy, announced, draining, and all of them.
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) type VipSets = (
    BTreeSet<IpAddr>,
    BTreeSet<IpAddr>,
    BTreeSet<IpAddr>,
    BTreeSet<IpAddr>,
);

#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
impl DirectorView {
    /// The services' status, while the director lives.
    pub(crate) fn status(&self) -> Option<Vec<ServiceStatus>> {
        self.0.upgrade().map(|s| lock(&s.state).status())
    }

    /// The VIPs, while the director lives.
    pub(crate) fn vips(&self) -> Option<VipSets> {
        let shared = self.0.upgrade()?;
        let (healthy, backup) = shared.announced_vips();
        let all = lock(&shared.state).all_vips();
        let draining = lock(&shared.drains).vips.keys().copied().collect();
        let strictly_healthy = lock(&shared.state).healthy_vips();
        let announced = healthy.iter().chain(backup.keys()).copied().collect();
        Some((strictly_healthy, announced, draining, all))
    }
}

impl Director {
    /// The director held weakly.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn view(&self) -> DirectorView {
        DirectorView(Arc::downgrade(&self.shared))
    }

    /// Checks `config` ([`Config::validate`]) and starts probing, on a
    /// thread of the director's own (a single-threaded tokio runtime: one
    /// core at most, and no hand-offs between threads per probe). Where that
    /// thread cannot be started, the probes run as a task of the calling
    /// tokio runtime instead.
    pub fn start(config: Config) -> Result<(Director, Events<DirectorEvent>), ConfigError> {
        Director::with_event_buffer(config, DEFAULT_EVENT_BUFFER)
    }

    /// As [`start`](Self::start), with room for `capacity` events. A
    /// director never waits for its embedder: past that, events are dropped
    /// and counted, and [`DirectorEvent::Lagged`] says how many at the next
    /// read; [`changed`](Self::changed) and [`status`](Self::status) always
    /// tell the present.
    pub fn with_event_buffer(
        config: Config,
        capacity: usize,
    ) -> Result<(Director, Events<DirectorEvent>), ConfigError> {
        config.validate()?;
        let (events, rx) = event_channel(capacity);
        let shared = Arc::new(Shared {
            state: Mutex::new(DirectorState::default()),
            probe_events: std::sync::atomic::AtomicBool::new(false),
            events,
            changed: watch::channel(0).0,
            drains: Mutex::new(drain::Drains::default()),
        });
        let (checks, configs) = mpsc::unbounded_channel();
        let probing = engine::run(shared.clone(), Arc::default(), configs);
        let draining = watch_drains(shared.clone());
        // The drain files are looked at while the engine runs.
        let engine = Arc::new(Mutex::new(Some(async move {
            tokio::select! {
                () = probing => {}
                () = draining => {}
            }
        })));
        let theirs = engine.clone();
        let started = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .and_then(|runtime| {
                std::thread::Builder::new()
                    .name("cue-director".into())
                    .spawn(move || {
                        if let Some(engine) = lock(&theirs).take() {
                            // A task, not the root future: waking the root
                            // future of `block_on` wakes the driver through
                            // its eventfd, a system call per probe.
                            let _ = runtime.block_on(async { tokio::spawn(engine).await });
                        }
                    })
            });
        if let Err(e) = started {
            tracing::warn!(error = %e, "no thread for the director: probing on the caller's runtime");
            if let Some(engine) = lock(&engine).take() {
                tokio::spawn(engine);
            }
        }
        let director = Director {
            shared,
            checks: Mutex::new(Some(checks)),
        };
        director.apply(config);
        Ok((director, rx))
    }

    /// Replaces the configuration. A bad one is refused whole and the
    /// running one stays. Checks that stay keep their history.
    pub fn reconfigure(&self, config: Config) -> Result<(), ConfigError> {
        config.validate()?;
        self.apply(config);
        Ok(())
    }

    fn apply(&self, config: Config) {
        let (events, specs) = {
            let mut state = lock(&self.shared.state);
            let events = state.configure(config, SystemTime::now());
            (events, state.shared_specs().collect())
        };
        // The engine ends only when stopped; then there is nothing to run.
        if let Some(checks) = &*lock(&self.checks) {
            let _ = checks.send(specs);
        }
        self.shared.publish(events);
        self.shared.changed.send_modify(|n| *n += 1);
    }

    /// Sends every probe result as a [`DirectorEvent::Probe`] too (off by
    /// default; state changes are always sent).
    pub fn probe_events(&self, on: bool) {
        self.shared
            .probe_events
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Services sorted by address, port and protocol, with destinations.
    pub fn status(&self) -> Vec<ServiceStatus> {
        lock(&self.shared.state).status()
    }

    /// Every VIP configured.
    pub fn all_vips(&self) -> BTreeSet<IpAddr> {
        lock(&self.shared.state).all_vips()
    }

    /// VIPs whose every service is up.
    pub fn healthy_vips(&self) -> BTreeSet<IpAddr> {
        lock(&self.shared.state).healthy_vips()
    }

    /// VIPs not healthy that stay announced as a backup path, with the
    /// attributes of the `down` backup of their first service that is down
    /// and has one.
    pub fn backup_vips(&self) -> BTreeMap<IpAddr, AttributeOverrides> {
        lock(&self.shared.state).backup_vips()
    }

    /// The healthy VIPs and the backup ones, read at one instant, with
    /// the drains applied (see [`drain`]): a drained VIP is a backup one
    /// with GRACEFUL_SHUTDOWN and LOCAL_PREF 0, then neither.
    pub fn announced_vips(&self) -> (BTreeSet<IpAddr>, BTreeMap<IpAddr, AttributeOverrides>) {
        self.shared.announced_vips()
    }

    /// Drains every service (`true`), as a drain file would, or ends a
    /// drain asked for so (`false`; drain files still count).
    pub fn drain(&self, on: bool) {
        let now = std::time::Instant::now();
        let changed = {
            // The state first, then the drains, as everywhere.
            let state = lock(&self.shared.state);
            let mut d = lock(&self.shared.drains);
            d.set_manual(on, now);
            d.update(state.config(), now, now, |f| f.exists())
        };
        if changed {
            self.shared.changed.send_modify(|n| *n += 1);
        }
    }

    /// The VIPs drained now, with when each is (or was) withdrawn.
    pub fn drained(&self) -> BTreeMap<IpAddr, std::time::Instant> {
        lock(&self.shared.drains).vips.clone()
    }

    /// Whether every check has seen a whole rise/fall window.
    pub fn settled(&self) -> bool {
        lock(&self.shared.state).settled()
    }

    /// A receiver that changes whenever a destination or service changes
    /// state (or the configuration does).
    pub fn changed(&self) -> watch::Receiver<u64> {
        self.shared.changed.subscribe()
    }

    /// Stops every check (the engine ends at once, dropping the probes in
    /// flight and the connections kept alive).
    pub fn stop(&self) {
        lock(&self.checks).take();
    }
}

/// Looks at the drain files every [`drain::POLL`]; a change of what is
/// announced is told as any other.
async fn watch_drains(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(drain::POLL);
    let mut last = std::time::Instant::now();
    loop {
        tick.tick().await;
        let now = std::time::Instant::now();
        let changed = {
            // The state first, then the drains, as everywhere; the files
            // are few (one a service at most), looked at under the lock.
            let state = lock(&shared.state);
            let mut drains = lock(&shared.drains);
            drains.update(state.config(), now, last, |f| f.exists())
        };
        last = now;
        if changed {
            for (vip, until) in lock(&shared.drains).vips.iter() {
                match until.checked_duration_since(now) {
                    Some(left) => {
                        tracing::info!(%vip, ?left, "VIP drained: GRACEFUL_SHUTDOWN, then withdrawn")
                    }
                    None => tracing::info!(%vip, "VIP drained: withdrawn"),
                }
            }
            shared.changed.send_modify(|n| *n += 1);
        }
    }
}

impl Drop for Director {
    fn drop(&mut self) {
        self.stop();
    }
}

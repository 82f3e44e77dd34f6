//! Route health injection: a [`Director`] and a [`Pool`] joined.
//!
//! A [`HealthInjector`] keeps the pool's Loc-RIB equal to a set of fixed
//! prefixes plus the VIPs the director finds healthy. The Loc-RIB is
//! replaced only when that union changes (not at every probe), so peers see
//! an UPDATE only when a VIP comes or goes. A new director configuration or
//! new fixed prefixes are taken at run time: VIPs that stay healthy stay
//! advertised, with no withdrawal in between (the director keeps the
//! history of checks that stay, and a new service on a VIP starts up).
//!
//! A service with a `down` backup ([`Backup`](crate::director::Backup))
//! keeps its VIP announced while it is down, with the backup's attributes
//! (a higher MED, an extra community, a prepended AS path), as anycast
//! operators keep a less preferred path; when it is up again the VIP is
//! announced with the session's own attributes, with no withdrawal in
//! between. A fixed prefix is always announced with the session's own
//! attributes, or with its own when it was given some
//! ([`HealthInjector::set_fixed_routes`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use cue::bgp::{PeerConfig, Pool};
//! use cue::director::Config;
//! use cue::rhi::HealthInjector;
//!
//! let (pool, _bgp_events) = Pool::new();
//! pool.configure(vec![PeerConfig::builder("127.0.0.1".parse()?, 65001, "10.0.0.1".parse()?)
//!     .port(1179)
//!     .build()?])
//!     .await?;
//! let config = Config::from_json(&std::fs::read_to_string("services.json")?)?;
//! let (rhi, mut health_events) = HealthInjector::start(pool, config)?;
//! rhi.set_fixed(["192.0.2.0/24".parse()?]); // always advertised
//! while let Some(event) = health_events.recv().await {
//!     println!("{event:?}; advertised: {}", rhi.advertised().len());
//! }
//! # Ok(()) }
//! ```

use crate::bgp::{AttributeOverrides, Events, LocRib, Overrides, PeerStatus, Pool};
use crate::director::{Config, ConfigError, Director, DirectorEvent};
use crate::lock;
use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A director whose healthy VIPs a pool advertises, together with fixed
/// prefixes. Cloning gives another handle to the same injector.
///
/// ``` no_run
/// # async fn demo(pool: cue::bgp::Pool, config: cue::director::Config, new: cue::director::Config) {
/// use cue::rhi::HealthInjector;
/// let (rhi, _events) = HealthInjector::start(pool, config).unwrap();
/// rhi.update_fixed(|fixed| {
///     fixed.insert("192.0.2.0/24".parse().unwrap());
/// });
/// if let Err(e) = rhi.reconfigure(new) {
///     eprintln!("{e}; the running configuration stays");
/// }
/// let statuses = rhi.shutdown().await;
/// # }
/// ```
#[derive(Clone)]
pub struct HealthInjector {
    inner: Arc<Inner>,
}

/// The fixed routes: prefixes, and the attributes of those with their own.
type Fixed = (LocRib, Overrides);

struct Inner {
    pool: Pool,
    director: Arc<Director>,
    fixed: watch::Sender<Fixed>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(t) = lock(&self.task).take() {
            t.abort();
        }
        self.director.stop();
    }
}

/// The Loc-RIB for `fixed` prefixes, healthy `vips` and `backup` VIPs (as
/// /32 and /128). When every VIP is already among the fixed prefixes, the
/// fixed set itself is returned, shared and not copied.
pub fn compose(
    fixed: &LocRib,
    vips: &BTreeSet<IpAddr>,
    backup: &BTreeMap<IpAddr, AttributeOverrides>,
) -> LocRib {
    let vip_nets = vips.iter().chain(backup.keys()).map(|v| IpNet::from(*v));
    if vip_nets.clone().all(|n| fixed.contains(&n)) {
        return fixed.clone();
    }
    let mut rib: BTreeSet<IpNet> = (**fixed).clone();
    rib.extend(vip_nets);
    Arc::new(rib)
}

/// The attributes of the backup VIPs that are not fixed prefixes.
pub fn backup_overrides(
    fixed: &LocRib,
    backup: &BTreeMap<IpAddr, AttributeOverrides>,
) -> Overrides {
    Arc::new(
        backup
            .iter()
            .map(|(v, o)| (IpNet::from(*v), Arc::new(o.clone())))
            .filter(|(n, _)| !fixed.contains(n))
            .collect(),
    )
}

/// The attributes of the fixed routes with those of the backup VIPs (which
/// are not fixed prefixes); the fixed ones themselves, shared, when there is
/// no backup.
fn with_backups(fixed: &Overrides, backups: Overrides) -> Overrides {
    if backups.is_empty() {
        return fixed.clone();
    }
    if fixed.is_empty() {
        return backups;
    }
    let mut all = (**fixed).clone();
    all.extend(backups.iter().map(|(k, v)| (*k, v.clone())));
    Arc::new(all)
}

impl HealthInjector {
    /// Checks `config`, starts health-checking it and keeps `pool`'s
    /// Loc-RIB at the healthy VIPs (no fixed prefixes yet). Returns the
    /// director's events (state changes; every probe too with
    /// [`Director::probe_events`]). Must be called within a tokio runtime.
    pub fn start(
        pool: Pool,
        config: Config,
    ) -> Result<(HealthInjector, Events<DirectorEvent>), ConfigError> {
        Self::start_with_fixed(pool, config, LocRib::default())
    }

    /// As [`start`](Self::start), with `fixed` advertised from the first
    /// moment.
    pub fn start_with_fixed(
        pool: Pool,
        config: Config,
        fixed: LocRib,
    ) -> Result<(HealthInjector, Events<DirectorEvent>), ConfigError> {
        Self::start_with_routes(pool, config, fixed, Overrides::default())
    }

    /// As [`start`](Self::start), with fixed routes advertised from the
    /// first moment: `fixed` prefixes, those in `attributes` with
    /// attributes of their own (see
    /// [`set_fixed_routes`](Self::set_fixed_routes)).
    pub fn start_with_routes(
        pool: Pool,
        config: Config,
        fixed: LocRib,
        attributes: Overrides,
    ) -> Result<(HealthInjector, Events<DirectorEvent>), ConfigError> {
        let (director, events) = Director::start(config)?;
        let director = Arc::new(director);
        let (fixed, fixed_rx) = watch::channel((fixed, attributes));
        let task = tokio::spawn(keep_rib(pool.clone(), director.clone(), fixed_rx));
        let inner = Arc::new(Inner {
            pool,
            director,
            fixed,
            task: Mutex::new(Some(task)),
        });
        Ok((HealthInjector { inner }, events))
    }

    /// Replaces the fixed prefixes (host bits cleared); peers get the
    /// difference.
    pub fn set_fixed(&self, prefixes: impl IntoIterator<Item = IpNet>) {
        let rib: BTreeSet<IpNet> = prefixes.into_iter().map(|p| p.trunc()).collect();
        self.set_fixed_rib(Arc::new(rib));
    }

    /// Replaces the fixed prefixes with a shared set (advertised as it is,
    /// without a copy, while no VIP outside it is healthy), with the
    /// session's attributes.
    pub fn set_fixed_rib(&self, rib: LocRib) {
        self.set_fixed_routes(rib, Overrides::default());
    }

    /// Replaces the fixed routes: the prefixes, and the attributes of
    /// those with attributes of their own (see
    /// [`RouteTable`](crate::bgp::route::RouteTable)).
    pub fn set_fixed_routes(&self, rib: LocRib, attributes: Overrides) {
        self.inner.fixed.send_replace((rib, attributes));
    }

    /// Changes the fixed prefixes in place (`announce` and `withdraw`
    /// without rebuilding the whole set).
    pub fn update_fixed(&self, f: impl FnOnce(&mut BTreeSet<IpNet>)) {
        self.inner.fixed.send_modify(|(r, _)| f(Arc::make_mut(r)));
    }

    /// Changes the fixed routes in place: the prefixes, and the attributes
    /// of those with their own (a prefix with none there has the session's).
    pub fn update_fixed_routes(
        &self,
        f: impl FnOnce(&mut BTreeSet<IpNet>, &mut BTreeMap<IpNet, Arc<AttributeOverrides>>),
    ) {
        self.inner
            .fixed
            .send_modify(|(r, a)| f(Arc::make_mut(r), Arc::make_mut(a)));
    }

    /// The fixed prefixes.
    pub fn fixed(&self) -> LocRib {
        self.inner.fixed.borrow().0.clone()
    }

    /// The attributes of the fixed prefixes that have their own.
    pub fn fixed_attributes(&self) -> Overrides {
        self.inner.fixed.borrow().1.clone()
    }

    /// Replaces the director's configuration. A bad one is refused whole
    /// and the running one stays; VIPs that stay healthy stay advertised.
    pub fn reconfigure(&self, config: Config) -> Result<(), ConfigError> {
        self.inner.director.reconfigure(config)
    }

    /// What the pool advertises now: the fixed prefixes and healthy VIPs.
    pub fn advertised(&self) -> LocRib {
        self.inner.pool.loc_rib()
    }

    /// The director, for its status and VIP helpers.
    pub fn director(&self) -> &Director {
        &self.inner.director
    }

    /// The pool, for its peers and status.
    pub fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    /// Stops health-checking, withdraws everything, stops every session
    /// with Cease / Administrative Shutdown and returns their final status.
    pub async fn shutdown(&self) -> Vec<PeerStatus> {
        self.stop_checks().await;
        self.inner.pool.shutdown().await
    }

    /// As [`shutdown`](Self::shutdown), for a planned restart: the
    /// sessions close without withdrawing (see
    /// [`Pool::shutdown_keeping_routes`]), so that peers with graceful
    /// restart keep the VIPs until the next process announces them again.
    pub async fn shutdown_keeping_routes(&self) -> Vec<PeerStatus> {
        self.stop_checks().await;
        self.inner.pool.shutdown_keeping_routes().await
    }

    /// Stops health-checking and the Loc-RIB's upkeep.
    async fn stop_checks(&self) {
        let task = lock(&self.inner.task).take();
        if let Some(t) = task {
            t.abort();
            let _ = t.await;
        }
        self.inner.director.stop();
    }
}

/// Keeps the pool's Loc-RIB at the fixed prefixes plus the healthy VIPs,
/// recomputed when either changes and set only when different.
async fn keep_rib(pool: Pool, director: Arc<Director>, mut fixed: watch::Receiver<Fixed>) {
    let mut changed = director.changed();
    let mut healthy: BTreeSet<IpAddr> = BTreeSet::new();
    // The fixed attributes and backups last merged, and the merge: a
    // health change that leaves both alone does not copy the fixed map.
    let mut merged: Option<(Overrides, Overrides, Overrides)> = None;
    loop {
        let (base, own) = fixed.borrow_and_update().clone();
        changed.borrow_and_update();
        let (vips, backup) = director.announced_vips();
        for vip in vips.difference(&healthy) {
            tracing::info!(%vip, "VIP healthy: announced");
        }
        for vip in healthy.difference(&vips) {
            if base.contains(&IpNet::from(*vip)) {
                tracing::info!(%vip, "VIP not healthy: stays announced as a fixed prefix");
            } else if let Some(o) = backup.get(vip) {
                tracing::info!(%vip, ?o, "VIP not healthy: announced as a backup path");
            } else {
                tracing::info!(%vip, "VIP not healthy: withdrawn");
            }
        }
        // The attributes first: a VIP turning into a backup path is
        // re-announced with them, never withdrawn in between.
        let backups = backup_overrides(&base, &backup);
        let overrides = match &merged {
            Some((o, b, m)) if Arc::ptr_eq(o, &own) && *b == backups => m.clone(),
            _ => with_backups(&own, backups.clone()),
        };
        merged = Some((own, backups, overrides.clone()));
        let current = pool.overrides();
        if !Arc::ptr_eq(&current, &overrides) && *current != *overrides {
            pool.set_overrides(overrides);
        }
        let rib = compose(&base, &vips, &backup);
        let current = pool.loc_rib();
        if !Arc::ptr_eq(&current, &rib) && *current != *rib {
            tracing::debug!(routes = rib.len(), "Loc-RIB replaced");
            pool.set_loc_rib(rib);
        }
        healthy = vips;
        tokio::select! {
            r = fixed.changed() => if r.is_err() { return },
            r = changed.changed() => if r.is_err() { return },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(v: &[&str]) -> LocRib {
        Arc::new(v.iter().map(|s| s.parse().unwrap()).collect())
    }

    #[test]
    fn compose_shares_the_fixed_set_when_it_can() {
        let fixed = nets(&["10.0.0.0/24", "192.0.2.1/32"]);
        let none = BTreeMap::new();
        let same = compose(&fixed, &BTreeSet::new(), &none);
        assert!(Arc::ptr_eq(&same, &fixed));
        let inside: BTreeSet<IpAddr> = ["192.0.2.1".parse().unwrap()].into();
        assert!(Arc::ptr_eq(&compose(&fixed, &inside, &none), &fixed));
        let more: BTreeSet<IpAddr> =
            ["192.0.2.2".parse().unwrap(), "2001:db8::1".parse().unwrap()].into();
        let rib = compose(&fixed, &more, &none);
        assert_eq!(
            *rib,
            *nets(&[
                "10.0.0.0/24",
                "192.0.2.1/32",
                "192.0.2.2/32",
                "2001:db8::1/128"
            ])
        );
    }

    #[test]
    fn backup_vips_are_announced_with_their_overrides_unless_fixed() {
        let fixed = nets(&["192.0.2.1/32"]);
        let o = |med| AttributeOverrides {
            med: Some(med),
            ..Default::default()
        };
        let backup: BTreeMap<IpAddr, AttributeOverrides> = [
            ("192.0.2.1".parse().unwrap(), o(9)),
            ("192.0.2.3".parse().unwrap(), o(7)),
        ]
        .into();
        let rib = compose(&fixed, &BTreeSet::new(), &backup);
        assert_eq!(*rib, *nets(&["192.0.2.1/32", "192.0.2.3/32"]));
        let own = backup_overrides(&fixed, &backup);
        assert_eq!(
            own.len(),
            1,
            "a fixed prefix keeps the session's attributes"
        );
        assert_eq!(own[&"192.0.2.3/32".parse::<IpNet>().unwrap()].med, Some(7));
    }
}

//! Several peers sharing one Loc-RIB; reconfigurable while running, and a
//! listener that hands incoming connections to passive sessions.

use super::config::Overrides;
use super::config::{Parameters, PeerConfig, PeerConfigError};
use super::error::{IoFailure, Refusal, SessionError};
use super::event::{event_channel, Event, EventSender, Events, PeerStatus, DEFAULT_EVENT_BUFFER};
use super::rib::LocRib;
use super::route::SortedRoutes;
use super::session::{Session, Shared, Staged, StatusNotifier};
use super::State;
use crate::lock;
use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use super::config::MAX_ACCEPTED_PEERS;

/// A pool configuration that cannot be used: nothing of it was applied.
///
/// ``` no_run
/// use cue::bgp::{PeerConfig, Pool, PoolConfigError};
/// # async fn demo() {
/// let (pool, _events) = Pool::new();
/// let mut peer = PeerConfig::new("127.0.0.1".parse().unwrap(), 65001, "10.0.0.1".parse().unwrap());
/// peer.hold_time = 2;
/// match pool.configure(vec![peer]).await {
///     Err(PoolConfigError::Peer { peer, error }) => assert_eq!((peer.as_str(), error.field()), ("127.0.0.1", "hold_time")),
///     other => panic!("{other:?}"),
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PoolConfigError {
    /// One peer's configuration is refused.
    #[error("peer {peer}: {error}")]
    Peer {
        /// The peer, as in [`PeerConfig::name`].
        peer: String,
        /// What is wrong with it.
        error: PeerConfigError,
    },
    /// Two configurations for one peer address.
    #[error("peer {0} is listed twice")]
    Duplicate(IpAddr),
    /// The template of [`Pool::accept_any`] is refused.
    #[error("accept_any template: {0}")]
    Template(PeerConfigError),
    /// Parameters given to [`Pool::set_parameters`] are refused.
    #[error("{0}")]
    Parameters(PeerConfigError),
}

/// Why [`Pool::wait_established_within`] gave up.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum WaitError {
    /// No peer is configured: none will ever be Established.
    #[error("no peer is configured")]
    NoPeers,
    /// Every peer was refused in a way that retrying will not mend; the
    /// first of them.
    #[error("peer {peer}: {error}")]
    Refused {
        /// The peer.
        peer: String,
        /// Why (an OPEN Message Error NOTIFICATION).
        error: super::SessionError,
    },
    /// None was Established in time; the status then.
    #[error("no peer established in time")]
    TimedOut(Vec<PeerStatus>),
}

/// A pool of BGP sessions advertising one shared Loc-RIB.
///
/// ```no_run
/// # async fn demo() {
/// use cue::bgp::{Pool, PeerConfig};
/// use std::net::Ipv4Addr;
///
/// let (pool, mut events) = Pool::new();
/// let mut peer = PeerConfig::new("127.0.0.1".parse().unwrap(), 65001, Ipv4Addr::new(10, 0, 0, 1));
/// peer.address.set_port(1790);
/// pool.configure(vec![peer]).await;
/// pool.set_rib(["192.168.101.1/32".parse().unwrap()]);
/// while let Some(event) = events.recv().await {
///     println!("{event:?}");
/// }
/// # }
/// ```
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    loc_rib: watch::Sender<LocRib>,
    overrides: watch::Sender<Overrides>,
    sessions: Mutex<BTreeMap<IpAddr, Session>>,
    accept_any: Mutex<Option<PeerConfig>>,
    events: EventSender,
    /// Set on shutdown; listeners also stop when the pool is dropped.
    closed: watch::Sender<bool>,
    /// Bumped by every session at every status change.
    changes: StatusNotifier,
    /// Listening sockets, for the TCP MD5 keys of passive peers.
    listeners: Mutex<Vec<Arc<TcpListener>>>,
    /// Where the sessions record their messages (MRT), if anywhere.
    mrt: watch::Sender<Option<Arc<super::mrt::MrtRecorder>>>,
    /// A table of [`Pool::set_table`] whose trees are being built.
    staged: watch::Sender<Option<Arc<Staged>>>,
}

/// Builds the trees of a staged table (on one thread: the sessions send
/// meanwhile, and their peers take what is sent on the other cores),
/// installs them unless something else was set since (the check and the
/// change under the one lock), and hands them to `tx`.
fn install_table(
    inner: &std::sync::Weak<Inner>,
    staged: &Arc<Staged>,
    tx: &watch::Sender<Option<(LocRib, Overrides)>>,
) {
    let (rib, overrides) = staged.routes.trees_on(false);
    let (rib, overrides) = (Arc::new(rib), Arc::new(overrides));
    if let Some(inner) = inner.upgrade() {
        inner.staged.send_if_modified(|s| {
            if !s.as_ref().is_some_and(|s| Arc::ptr_eq(s, staged)) {
                return false;
            }
            inner.overrides.send_replace(overrides.clone());
            inner.loc_rib.send_replace(rib.clone());
            *s = None;
            true
        });
    }
    tx.send_replace(Some((rib, overrides)));
}

/// A pool held weakly (by a metrics collector, which must not keep a
/// stopped speaker alive).
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) struct WeakPool(std::sync::Weak<Inner>);

#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
impl WeakPool {
    /// The pool, while it lives.
    pub(crate) fn upgrade(&self) -> Option<Pool> {
        self.0.upgrade().map(|inner| Pool { inner })
    }
}

/// The key of a peer: its address, with IPv4-mapped IPv6 seen as IPv4.
fn key(addr: IpAddr) -> IpAddr {
    addr.to_canonical()
}

impl Pool {
    /// The pool held weakly.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn downgrade(&self) -> WeakPool {
        WeakPool(Arc::downgrade(&self.inner))
    }

    /// An empty pool and its events, buffered up to
    /// [`DEFAULT_EVENT_BUFFER`] (see [`Events`] for what happens past that).
    pub fn new() -> (Pool, Events) {
        Pool::with_event_buffer(DEFAULT_EVENT_BUFFER)
    }

    /// An empty pool whose events are buffered up to `capacity`.
    pub fn with_event_buffer(capacity: usize) -> (Pool, Events) {
        let (events, rx) = event_channel(capacity);
        let (loc_rib, _) = watch::channel(LocRib::default());
        (
            Pool {
                inner: Arc::new(Inner {
                    loc_rib,
                    overrides: watch::channel(Overrides::default()).0,
                    sessions: Mutex::new(BTreeMap::new()),
                    accept_any: Mutex::new(None),
                    events,
                    closed: watch::channel(false).0,
                    changes: Arc::new(watch::channel(0).0),
                    listeners: Mutex::new(Vec::new()),
                    mrt: watch::channel(None).0,
                    staged: watch::channel(None).0,
                }),
            },
            rx,
        )
    }

    /// Replaces the Loc-RIB; every established session sends the difference.
    /// An empty RIB withdraws everything.
    pub fn set_rib(&self, prefixes: impl IntoIterator<Item = IpNet>) {
        let rib: BTreeSet<IpNet> = prefixes.into_iter().map(|p| p.trunc()).collect();
        self.set_loc_rib(Arc::new(rib));
    }

    /// Adds prefixes to the Loc-RIB (host bits cleared); every established
    /// session announces them. The set is copied when sessions hold it:
    /// add many at once rather than one by one. Like
    /// [`set_rib`](Self::set_rib), it replaces a table of
    /// [`set_table`](Self::set_table) still being built: await that first.
    ///
    /// ```no_run
    /// # async fn demo(pool: cue::bgp::Pool) {
    /// pool.announce(["192.0.2.10/32".parse().unwrap()]);
    /// pool.wait_sent().await; // every Established peer has been sent it
    /// pool.withdraw(["192.0.2.10/32".parse().unwrap()]);
    /// # }
    /// ```
    pub fn announce(&self, prefixes: impl IntoIterator<Item = IpNet>) {
        let prefixes: Vec<IpNet> = prefixes.into_iter().map(|p| p.trunc()).collect();
        self.change_rib(
            |rib| prefixes.iter().any(|p| !rib.contains(p)),
            |rib| rib.extend(prefixes.iter().copied()),
        );
    }

    /// Removes prefixes from the Loc-RIB; every established session
    /// withdraws them.
    pub fn withdraw(&self, prefixes: impl IntoIterator<Item = IpNet>) {
        let prefixes: Vec<IpNet> = prefixes.into_iter().map(|p| p.trunc()).collect();
        self.change_rib(
            |rib| prefixes.iter().any(|p| rib.contains(p)),
            |rib| prefixes.iter().for_each(|p| _ = rib.remove(p)),
        );
    }

    /// Changes the Loc-RIB in place (a copy, when sessions hold it) if
    /// `needed` says something is to change: an unchanged Loc-RIB stays the
    /// very same set, as sent.
    fn change_rib(
        &self,
        needed: impl FnOnce(&BTreeSet<IpNet>) -> bool,
        change: impl FnOnce(&mut BTreeSet<IpNet>),
    ) {
        self.unstage();
        self.inner.loc_rib.send_if_modified(|rib| {
            if !needed(rib) {
                return false;
            }
            change(Arc::make_mut(rib));
            true
        });
    }

    /// Replaces the Loc-RIB with a shared set.
    pub fn set_loc_rib(&self, rib: LocRib) {
        self.unstage();
        self.inner.loc_rib.send_replace(rib);
    }

    /// Forgets a table of [`set_table`](Self::set_table) still being
    /// built: what is set now replaces it.
    fn unstage(&self) {
        self.inner.staged.send_if_modified(|s| s.take().is_some());
    }

    /// The current Loc-RIB (a table of [`set_table`](Self::set_table)
    /// shows here once its trees are built).
    pub fn loc_rib(&self) -> LocRib {
        self.inner.loc_rib.borrow().clone()
    }

    /// Gives some Loc-RIB prefixes attributes of their own (a backup path,
    /// say): they are announced with the session's parameters changed by
    /// their [`AttributeOverrides`](super::AttributeOverrides). A prefix
    /// here that is not in the Loc-RIB is not announced. Every established
    /// session re-announces what changed.
    pub fn set_overrides(&self, overrides: Overrides) {
        self.unstage();
        self.inner.overrides.send_replace(overrides);
    }

    /// Sets the Loc-RIB and the attributes of the routes that have their
    /// own, attributes first: a route never goes out with the session's
    /// attributes before its own.
    ///
    /// ``` no_run
    /// # fn demo(pool: &cue::bgp::Pool) {
    /// use cue::bgp::route::RouteTable;
    /// use std::sync::Arc;
    /// let mut t = RouteTable::default();
    /// t.parse_lines("10.0.0.0/24 med 10 as-path 65010\n192.0.2.1\n").unwrap();
    /// let (rib, attributes) = t.finish();
    /// pool.set_routes(Arc::new(rib), Arc::new(attributes));
    /// # }
    /// ```
    pub fn set_routes(&self, rib: LocRib, overrides: Overrides) {
        self.set_overrides(overrides);
        self.set_loc_rib(rib);
    }

    /// Sets the routes of a sorted table, as [`set_routes`](Self::set_routes)
    /// does with its trees, without waiting for them to be built: a
    /// session that comes up meanwhile sends the table from its sorted
    /// lists at once, while the Loc-RIB and the attribute map are built on
    /// a thread of their own (about 0.1 s for a million routes, on one
    /// core: the peers take what is sent on the others); they
    /// replace the Loc-RIB and [`overrides`](Self::overrides) when built,
    /// unless something else was set since. The future gives them. A
    /// table without routes of attributes of their own is built before
    /// this returns (its list would double its memory while the tree is
    /// built).
    ///
    /// ``` no_run
    /// # async fn demo(pool: &cue::bgp::Pool) {
    /// use cue::bgp::route::RouteTable;
    /// let mut t = RouteTable::default();
    /// t.parse_lines("10.0.0.0/24 med 10 as-path 65010\n192.0.2.1\n").unwrap();
    /// let built = pool.set_table(t.sort());
    /// // ... start the sessions: they need not wait for the trees ...
    /// let (rib, attributes) = built.await;
    /// assert_eq!((rib.len(), attributes.len()), (2, 1));
    /// # }
    /// ```
    pub fn set_table(
        &self,
        routes: SortedRoutes,
    ) -> impl std::future::Future<Output = (LocRib, Overrides)> + Send + 'static {
        let (tx, built) = watch::channel(None);
        if routes.with_own_attributes() == 0 {
            let (rib, overrides) = routes.into_trees();
            let (rib, overrides) = (Arc::new(rib), Arc::new(overrides));
            self.set_routes(rib.clone(), overrides.clone());
            tx.send_replace(Some((rib, overrides)));
        } else {
            let staged = Arc::new(Staged {
                routes: Arc::new(routes),
                built: built.clone(),
            });
            self.inner.staged.send_replace(Some(staged.clone()));
            let tx = Arc::new(tx);
            let inner = Arc::downgrade(&self.inner);
            let build = {
                let (inner, staged, tx) = (inner.clone(), staged.clone(), tx.clone());
                move || install_table(&inner, &staged, &tx)
            };
            let spawned = std::thread::Builder::new()
                .name("cue-loc-rib".into())
                .spawn(build);
            if spawned.is_err() {
                // Without a thread to spare, built here, as set_routes
                // would be.
                install_table(&inner, &staged, &tx);
            }
        }
        async move {
            super::session::built(built)
                .await
                .expect("the thread building the Loc-RIB failed")
        }
    }

    /// The routes with attributes of their own.
    pub fn overrides(&self) -> Overrides {
        self.inner.overrides.borrow().clone()
    }

    /// Sets the peers: new ones are started, existing ones are updated in
    /// place (attributes and filters) or restarted (anything else), and
    /// peers no longer listed are stopped with Cease / Administrative
    /// Shutdown. Every configuration is checked first
    /// ([`PeerConfig::validate`]); a refused list changes nothing. The one
    /// failure that can only show when a session starts, BFD's UDP port
    /// taken by another program, is returned after the peers before it
    /// were configured (those after it are not).
    pub async fn configure(&self, peers: Vec<PeerConfig>) -> Result<(), PoolConfigError> {
        let mut wanted: BTreeMap<IpAddr, PeerConfig> = BTreeMap::new();
        for p in peers {
            p.validate().map_err(|error| PoolConfigError::Peer {
                peer: p.name(),
                error,
            })?;
            let k = key(p.address.ip());
            if wanted.insert(k, p).is_some() {
                return Err(PoolConfigError::Duplicate(k));
            }
        }
        let mut to_stop = Vec::new();
        let mut failed = None;
        {
            let mut sessions = lock(&self.inner.sessions);
            let gone: Vec<IpAddr> = sessions
                .keys()
                .filter(|k| !wanted.contains_key(k))
                .copied()
                .collect();
            for k in gone {
                if let Some(s) = sessions.remove(&k) {
                    to_stop.push((s, true));
                }
            }
            for (k, config) in wanted {
                match sessions.get_mut(&k) {
                    Some(s) if !s.config().needs_restart(&config) => {
                        // Checked with the whole configuration above.
                        let _ = s.set_parameters(config.parameters.clone());
                    }
                    Some(_) => {
                        if let Some(old) = sessions.remove(&k) {
                            to_stop.push((old, false));
                        }
                    }
                    None => {}
                }
                if sessions.contains_key(&k) {
                    continue;
                }
                let peer = config.name();
                match self.start(config, false) {
                    Ok(s) => {
                        sessions.insert(k, s);
                    }
                    // BFD's sockets, the one thing checked only now.
                    Err(error) => {
                        failed = Some(PoolConfigError::Peer { peer, error });
                        break;
                    }
                }
            }
        }
        self.apply_md5_keys();
        self.apply_gtsm();
        for (s, removed) in to_stop {
            let name = s.config().name();
            s.stop().await;
            if removed {
                self.inner.events.send(Event::Removed { peer: name });
            }
        }
        failed.map_or(Ok(()), Err)
    }

    /// Starts a session of a configuration already checked (for a peer
    /// accepted from anywhere: `one_connection`).
    fn start(&self, config: PeerConfig, one_connection: bool) -> Result<Session, PeerConfigError> {
        let name = config.name();
        tracing::info!(peer = %name, passive = config.passive, "peer added");
        self.inner.events.send(Event::Added { peer: name.clone() });
        let started = Session::start(
            config,
            Shared {
                loc_rib: self.inner.loc_rib.subscribe(),
                overrides: self.inner.overrides.subscribe(),
                events: self.inner.events.clone(),
                changes: self.inner.changes.clone(),
                mrt: self.inner.mrt.subscribe(),
                staged: self.inner.staged.subscribe(),
                one_connection,
            },
        );
        if started.is_err() {
            self.inner.events.send(Event::Removed { peer: name });
        }
        started
    }

    /// Forgets the sessions of accepted peers whose connection has ended.
    fn prune(&self, sessions: &mut BTreeMap<IpAddr, Session>) {
        sessions.retain(|_, s| {
            if !s.is_over() {
                return true;
            }
            let peer = s.config().name();
            tracing::info!(%peer, "accepted peer gone");
            self.inner.events.send(Event::Removed { peer });
            false
        });
    }

    /// Changes attributes, next hops and filters of every peer (and of peers
    /// accepted later with [`Pool::accept_any`]); established sessions send
    /// the difference at once. Refused parameters change nothing.
    pub fn set_parameters(&self, parameters: Parameters) -> Result<(), PoolConfigError> {
        parameters.validate().map_err(PoolConfigError::Parameters)?;
        if let Some(t) = lock(&self.inner.accept_any).as_mut() {
            t.parameters = parameters.clone();
        }
        for s in lock(&self.inner.sessions).values_mut() {
            let _ = s.set_parameters(parameters.clone());
        }
        Ok(())
    }

    /// A receiver that changes whenever a session's status does (state,
    /// routes sent or received): await it instead of polling
    /// [`status`](Self::status).
    pub fn status_changes(&self) -> watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    /// Waits until `ready` holds for the status of the peers, and returns
    /// that status. Checked at once, then at every status change.
    ///
    /// ```no_run
    /// # async fn demo(pool: cue::bgp::Pool) {
    /// use cue::bgp::State;
    /// let status = pool.wait_for(|s| s.iter().any(|p| p.state == State::Established)).await;
    /// # }
    /// ```
    pub async fn wait_for(&self, mut ready: impl FnMut(&[PeerStatus]) -> bool) -> Vec<PeerStatus> {
        let mut changes = self.status_changes();
        loop {
            changes.borrow_and_update();
            let status = self.status();
            if ready(&status) {
                return status;
            }
            if changes.changed().await.is_err() {
                // The pool is gone: nothing will change any more.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Waits until at least one peer is Established (forever, if none
    /// ever is: see [`wait_established_within`](Self::wait_established_within)).
    /// The routes may not have been sent yet: see
    /// [`wait_sent`](Self::wait_sent).
    pub async fn wait_established(&self) -> Vec<PeerStatus> {
        self.wait_for(|s| s.iter().any(|p| p.state == State::Established))
            .await
    }

    /// Waits until at least one peer is Established, `timeout` at most;
    /// fails at once when there is no peer, or when every peer was refused
    /// in a way that retrying will not mend (an OPEN Message Error
    /// NOTIFICATION, sent or received: a bad peer AS, an unacceptable hold
    /// time...).
    ///
    /// ```no_run
    /// # async fn demo(pool: cue::bgp::Pool) {
    /// use cue::bgp::pool::WaitError;
    /// match pool.wait_established_within(std::time::Duration::from_secs(10)).await {
    ///     Ok(status) => println!("{} up", status.len()),
    ///     Err(WaitError::Refused { peer, error }) => eprintln!("{peer}: {error}"),
    ///     Err(e) => eprintln!("{e}"),
    /// }
    /// # }
    /// ```
    pub async fn wait_established_within(
        &self,
        timeout: std::time::Duration,
    ) -> Result<Vec<PeerStatus>, WaitError> {
        let refused = |p: &PeerStatus| {
            p.last_error
                .as_ref()
                .and_then(|e| e.notification())
                .is_some_and(|n| matches!(n.kind(), super::wire::NotificationKind::Open(_)))
        };
        let wait = self.wait_for(|s| {
            s.is_empty() || s.iter().any(|p| p.state == State::Established) || s.iter().all(refused)
        });
        let status = tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_| WaitError::TimedOut(self.status()))?;
        if status.iter().any(|p| p.state == State::Established) {
            return Ok(status);
        }
        match status.into_iter().next() {
            None => Err(WaitError::NoPeers),
            Some(p) => Err(WaitError::Refused {
                peer: p.peer.clone(),
                error: p.last_error.clone().expect("refused with an error"),
            }),
        }
    }

    /// Waits until every Established peer has been sent the current
    /// Loc-RIB (after [`announce`](Self::announce), [`set_rib`](Self::set_rib)
    /// and the like; a peer that has just come up, until its first
    /// advertisement is written). Returns at once when no peer is
    /// Established; while the Loc-RIB keeps changing, it waits for the
    /// sessions to catch up with the latest.
    pub async fn wait_sent(&self) -> Vec<PeerStatus> {
        self.wait_for(|s| {
            let loc = self.loc_rib();
            s.iter()
                .filter(|p| p.state == State::Established)
                .all(|p| p.synced.as_ref().is_some_and(|r| Arc::ptr_eq(r, &loc)))
        })
        .await
    }

    /// Writes `bytes` as they are to every Established peer (see
    /// [`Session::send_raw`]); returns how many took them.
    pub fn send_raw(&self, bytes: &[u8]) -> usize {
        lock(&self.inner.sessions)
            .values()
            .filter(|s| s.send_raw(bytes.to_vec()).is_ok())
            .count()
    }

    /// Waits until the routes received hold what `present` states (each
    /// from some peer, with every attribute stated) while none of `absent`
    /// is there, or until `timeout`; returns what was found then (see
    /// [`check_routes`](super::route::check_routes)). A route of `absent`
    /// that arrives ends the wait at once; with nothing in `present`, the
    /// wait lasts the whole timeout.
    ///
    /// ``` no_run
    /// # async fn demo(pool: cue::bgp::Pool) {
    /// let want = ["10.0.0.0/24 med 10 community 65000:7".parse().unwrap()];
    /// let report = pool.expect_routes(&want, &[], std::time::Duration::from_secs(10)).await;
    /// assert!(report.is_ok(), "{:?}", report.lines());
    /// # }
    /// ```
    pub async fn expect_routes(
        &self,
        present: &[super::route::RouteSpec],
        absent: &[super::route::RouteSpec],
        timeout: std::time::Duration,
    ) -> super::route::ExpectReport {
        let mut changes = self.status_changes();
        let deadline = tokio::time::Instant::now() + timeout;
        // Only what changed is looked at again; the whole report (which
        // routes differ, and how) is written once, at the end.
        let mut tracker = super::route::Tracker::new(present, absent);
        loop {
            changes.borrow_and_update();
            tracker.refresh(self.ribs());
            if tracker.done() {
                break;
            }
            tokio::select! {
                r = changes.changed() => if r.is_err() { break },
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        if tracker.done() && tracker.hit() == 0 {
            return super::route::ExpectReport::default();
        }
        super::route::check_routes(present, absent, &self.adj_rib_in())
    }

    /// Each session's Adj-RIB-In.
    fn ribs(&self) -> Vec<super::route::WatchedRib> {
        lock(&self.inner.sessions)
            .values()
            .map(|s| s.rib())
            .collect()
    }

    /// Records every message the sessions send and receive from now on (on
    /// connections that come up from now on) into `recorder`, as MRT
    /// BGP4MP records; `None` stops recording.
    ///
    /// ``` no_run
    /// # fn demo(pool: &cue::bgp::Pool) -> std::io::Result<()> {
    /// use cue::bgp::mrt::MrtRecorder;
    /// let recorder = std::sync::Arc::new(MrtRecorder::create("session.mrt".as_ref())?);
    /// pool.record_mrt(Some(recorder));
    /// # Ok(()) }
    /// ```
    pub fn record_mrt(&self, recorder: Option<Arc<super::mrt::MrtRecorder>>) {
        self.inner.mrt.send_replace(recorder);
    }

    /// Status of every peer, in address order (a peer accepted from
    /// anywhere whose connection has ended is gone).
    pub fn status(&self) -> Vec<PeerStatus> {
        let mut sessions = lock(&self.inner.sessions);
        self.prune(&mut sessions);
        sessions.values().map(|s| s.status()).collect()
    }

    /// The routes each peer advertised to us.
    pub fn adj_rib_in(&self) -> Vec<(String, IpNet, Arc<super::rib::RouteAttributes>)> {
        lock(&self.inner.sessions)
            .values()
            .flat_map(|s| {
                let name = s.config().name();
                s.adj_rib_in()
                    .into_iter()
                    .map(move |(p, a)| (name.clone(), p, a))
            })
            .collect()
    }

    /// The routes of [`adj_rib_in`](Self::adj_rib_in) kept as stale while
    /// their peer restarts (RFC 4724), with the peer's name.
    pub fn stale_routes(&self) -> std::collections::BTreeSet<(String, IpNet)> {
        lock(&self.inner.sessions)
            .values()
            .flat_map(|s| {
                let name = s.config().name();
                s.stale_routes().into_iter().map(move |p| (name.clone(), p))
            })
            .collect()
    }

    /// Accept connections from any peer, with `template` as their
    /// configuration (its address is replaced by the peer's; every other
    /// field is checked). `None` accepts only configured peers again.
    ///
    /// An accepted peer's session lasts as long as its connection (or, when
    /// the peer restarts with graceful restart negotiated, as long as its
    /// routes are kept as stale): then it leaves [`status`](Self::status)
    /// (an [`Event::Removed`]), and its place among the
    /// [`MAX_ACCEPTED_PEERS`] accepted at a time is free again.
    pub fn accept_any(&self, template: Option<PeerConfig>) -> Result<(), PoolConfigError> {
        if let Some(t) = &template {
            t.validate_except_address()
                .map_err(PoolConfigError::Template)?;
        }
        *lock(&self.inner.accept_any) = template;
        self.apply_gtsm();
        Ok(())
    }

    /// Listens on `addr` and hands each incoming connection to the passive
    /// session of its peer (or a new one, with [`Pool::accept_any`]).
    /// Connections from other addresses are closed. Returns the address
    /// bound.
    pub async fn listen(&self, addr: SocketAddr) -> std::io::Result<SocketAddr> {
        let listener = Arc::new(TcpListener::bind(addr).await?);
        let bound = listener.local_addr()?;
        lock(&self.inner.listeners).push(listener.clone());
        self.apply_md5_keys();
        self.apply_gtsm();
        let pool = Arc::downgrade(&self.inner);
        let mut closed = self.inner.closed.subscribe();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    // Shutdown, or the pool was dropped: stop listening.
                    _ = closed.wait_for(|c| *c) => return,
                };
                let Ok((stream, remote)) = accepted else {
                    // Out of file descriptors and the like: do not spin.
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                };
                let Some(inner) = pool.upgrade() else { return };
                let pool = Pool { inner };
                pool.dispatch(stream, remote);
            }
        });
        Ok(bound)
    }

    /// Puts the TCP MD5 key of every configured peer that has one on every
    /// listening socket of the same family.
    fn apply_md5_keys(&self) {
        let keys: Vec<(IpAddr, String)> = lock(&self.inner.sessions)
            .iter()
            .filter_map(|(ip, s)| s.config().md5_key.clone().map(|k| (*ip, k)))
            .collect();
        for l in lock(&self.inner.listeners).iter() {
            let Ok(local) = l.local_addr() else { continue };
            for (ip, key) in &keys {
                let peer = match (local.ip(), ip) {
                    // A dual-stack socket sees IPv4 peers as IPv4-mapped.
                    (IpAddr::V6(_), IpAddr::V4(a)) => IpAddr::V6(a.to_ipv6_mapped()),
                    (IpAddr::V4(_), IpAddr::V6(_)) => continue,
                    (_, ip) => *ip,
                };
                if let Err(e) = super::md5::set_key(l.as_ref(), peer, key.as_bytes()) {
                    let error = SessionError::Md5Key {
                        local,
                        error: IoFailure::from(e),
                    };
                    tracing::error!(peer = %ip, %error, "TCP MD5 key not set");
                    self.inner.events.send(Event::Error {
                        peer: ip.to_string(),
                        error,
                    });
                }
            }
        }
    }

    /// GTSM (RFC 5082) on every listening socket when every peer it may
    /// take asks for it, for the farthest of them: a SYN that arrives with
    /// too low a TTL is then dropped by the kernel. Otherwise the listening
    /// sockets have none, and each session puts its own on its connection.
    fn apply_gtsm(&self) {
        let mut hops: Vec<Option<u8>> = lock(&self.inner.sessions)
            .values()
            .filter(|s| s.config().passive)
            .map(|s| s.config().ttl_security)
            .collect();
        if let Some(t) = lock(&self.inner.accept_any).as_ref() {
            hops.push(t.ttl_security);
        }
        let farthest = match hops.iter().copied().collect::<Option<Vec<u8>>>() {
            Some(h) => h.into_iter().max(),
            None => None,
        };
        for l in lock(&self.inner.listeners).iter() {
            let Ok(local) = l.local_addr() else { continue };
            let r = match farthest {
                Some(h) => super::gtsm::set(l.as_ref(), local.is_ipv6(), h),
                None => super::gtsm::clear(l.as_ref(), local.is_ipv6()),
            };
            if let Err(e) = r {
                tracing::error!(%local, error = %e, "GTSM not set on the listening socket");
            }
        }
    }

    fn dispatch(&self, stream: tokio::net::TcpStream, remote: SocketAddr) {
        let k = key(remote.ip());
        let mut sessions = lock(&self.inner.sessions);
        self.prune(&mut sessions);
        if let Some(s) = sessions.get(&k) {
            // Only a passive session between connections takes it; a second
            // connection while a session runs is closed.
            let waiting = matches!(s.status().state, State::Active | State::Idle);
            if s.config().passive && waiting {
                let _ = s.offer(stream);
            }
            return;
        }
        let refuse = |reason| {
            let error = SessionError::Refused { remote, reason };
            tracing::info!(%error, "connection refused");
            self.inner.events.send(Event::Error {
                peer: k.to_string(),
                error,
            });
        };
        if sessions.len() >= MAX_ACCEPTED_PEERS {
            return refuse(Refusal::TooManyPeers);
        }
        let Some(mut config) = lock(&self.inner.accept_any).clone() else {
            return refuse(Refusal::NotConfigured);
        };
        config.address = SocketAddr::new(k, remote.port());
        config.passive = true;
        // BFD runs with a known peer before its session: not with one
        // that just connected from anywhere.
        config.bfd = None;
        let session = self
            .start(config, true)
            .expect("the template is checked when it is set, and has no BFD here");
        let _ = session.offer(stream);
        sessions.insert(k, session);
    }

    /// Stops listening and stops every session (see [`Session::stop`]:
    /// everything withdrawn, then Cease / Administrative Shutdown, graceful
    /// restart negotiated or not), waits for them to end, and returns their
    /// final status.
    pub async fn shutdown(&self) -> Vec<PeerStatus> {
        self.shutdown_with(false).await
    }

    /// As [`shutdown`](Self::shutdown), for a planned restart: every
    /// session closes without withdrawing and without a NOTIFICATION (see
    /// [`Session::stop_keeping_routes`]), so that peers with graceful
    /// restart negotiated keep our routes as stale until the next process
    /// announces them again.
    pub async fn shutdown_keeping_routes(&self) -> Vec<PeerStatus> {
        self.shutdown_with(true).await
    }

    async fn shutdown_with(&self, keep_routes: bool) -> Vec<PeerStatus> {
        *lock(&self.inner.accept_any) = None;
        self.inner.closed.send_replace(true);
        let sessions = std::mem::take(&mut *lock(&self.inner.sessions));
        let stops = sessions.into_values().map(|s| async move {
            let name = s.config().name();
            let status = match keep_routes {
                true => s.stop_keeping_routes().await,
                false => s.stop().await,
            };
            (name, status)
        });
        let mut out = Vec::new();
        for (name, status) in futures_join_all(stops).await {
            self.inner.events.send(Event::Removed { peer: name });
            out.push(status);
        }
        out
    }
}

/// Runs futures concurrently and collects their outputs in order.
async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        if let Ok(v) = h.await {
            out.push(v);
        }
    }
    out
}

//! Running a scenario: one [`Session`] per emulated peer (each with its own
//! Loc-RIB) and per observer, their events timestamped as they come, and
//! the timeline carried out step by step.

use super::measure::{Kind, Measure, Universe, MAX_OBSERVERS};
use super::report::{Gathered, Report};
use super::{Scenario, Step, Wait};
use crate::bgp::config::{AttributeOverrides, Overrides, Parameters, PeerConfig, PeerConfigError};
use crate::bgp::event::{event_channel, Event};
use crate::bgp::rib::LocRib;
use crate::bgp::session::{Session, Shared};
use crate::bgp::{SessionError, State};
use ipnet::IpNet;
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Events each session may buffer before its forwarder takes them.
const SESSION_EVENTS: usize = 1 << 14;

/// How often the routes held at the observers are sampled for the report.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// How often a paced step changes the peers' routes (at most; see
/// `change`).
const PACE_TICK: Duration = Duration::from_millis(10);

/// Why a scenario could not run to its end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// A session's configuration was refused.
    #[error("{who}: {error}")]
    Config {
        /// Which peer or observer.
        who: String,
        /// Why.
        error: PeerConfigError,
    },
    /// Sessions did not come up within `establish_timeout`.
    #[error("{down} of {total} sessions not established within {}; first: {who}{}", humantime::format_duration(*.timeout), .error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default())]
    NotEstablished {
        /// How many.
        down: usize,
        /// Of how many.
        total: usize,
        /// The first of them.
        who: String,
        /// Its last error, if any.
        error: Option<Box<SessionError>>,
        /// The time they had.
        timeout: Duration,
    },
    /// More observers than a run can tell apart.
    #[error("{0} observers: at most {MAX_OBSERVERS}")]
    TooManyObservers(usize),
}

/// A session of the run: a peer or an observer.
struct Member {
    name: String,
    session: Option<Session>,
    rib: watch::Sender<LocRib>,
    /// What it announces now (what its session was last given).
    current: LocRib,
    up: bool,
    last_error: Option<SessionError>,
    /// The step of its last change: what it writes is counted there (a
    /// session that comes back after a reset announces for the reset).
    step: usize,
}

/// Who an event is from: a peer (index) or an observer (index).
#[derive(Debug, Clone, Copy)]
enum Who {
    Peer(usize),
    Observer(usize),
}

struct Runner<'s> {
    scenario: &'s Scenario,
    peers: Vec<Member>,
    observers: Vec<Member>,
    events: mpsc::UnboundedReceiver<(Who, Instant, Event)>,
    measure: Measure,
    /// The step events are counted for.
    step: usize,
    start: Instant,
    held: Vec<(f64, Vec<usize>)>,
    next_sample: Instant,
    lagged: u64,
}

impl Scenario {
    /// Runs the scenario against its router: every session comes up, the
    /// steps run in order, every session stops (withdrawing what it
    /// announced), and the report says what was measured and whether the
    /// limits held. Must be called within a tokio runtime.
    pub async fn run(&self) -> Result<Report, RunError> {
        if self.observers.len() > MAX_OBSERVERS {
            return Err(RunError::TooManyObservers(self.observers.len()));
        }
        let started = Instant::now();
        let (tx, events) = mpsc::unbounded_channel();
        let mut peers = Vec::new();
        for index in 0..self.peers() {
            peers.push(self.member(Who::Peer(index), &tx)?);
        }
        let mut observers = Vec::new();
        for index in 0..self.observers.len() {
            observers.push(self.member(Who::Observer(index), &tx)?);
        }
        let measure = Measure::new(
            Universe::of(&self.groups),
            observers.len(),
            self.steps.len(),
        );
        let now = Instant::now();
        let mut runner = Runner {
            scenario: self,
            peers,
            observers,
            events,
            measure,
            step: 0,
            start: now,
            held: Vec::new(),
            next_sample: now,
            lagged: 0,
        };
        let result = runner.timeline(started).await;
        runner.stop().await;
        result
    }

    /// Starts the session of a peer or an observer.
    fn member(
        &self,
        who: Who,
        events: &mpsc::UnboundedSender<(Who, Instant, Event)>,
    ) -> Result<Member, RunError> {
        let (name, config, overrides) = match who {
            Who::Peer(i) => self.peer_config(i),
            Who::Observer(i) => {
                let o = &self.observers[i];
                let name = format!("observer {i} ({}, AS {})", o.local, o.asn);
                (name, self.config(o.local, o.asn, 1_000_000 + i), None)
            }
        };
        let (rib, rib_rx) = watch::channel(LocRib::default());
        let (ev_tx, mut ev_rx) = event_channel(SESSION_EVENTS);
        let forward = events.clone();
        tokio::spawn(async move {
            while let Some(e) = ev_rx.recv().await {
                if forward.send((who, Instant::now(), e)).is_err() {
                    break;
                }
            }
        });
        let shared = Shared {
            loc_rib: rib_rx,
            overrides: watch::channel(overrides.unwrap_or_default()).1,
            events: ev_tx,
            changes: Arc::new(watch::channel(0).0),
            mrt: watch::channel(None).1,
            staged: watch::channel(None).1,
            one_connection: false,
        };
        let session = Session::start(config, shared).map_err(|error| RunError::Config {
            who: name.clone(),
            error,
        })?;
        Ok(Member {
            name,
            session: Some(session),
            rib,
            current: LocRib::default(),
            up: false,
            last_error: None,
            step: 0,
        })
    }

    /// The configuration and own attributes of peer `index`.
    fn peer_config(&self, index: usize) -> (String, PeerConfig, Option<Overrides>) {
        let (g, k) = self.peer(index).expect("a peer index of the scenario");
        let local = g.local_of(k).expect("checked when the file was read");
        let asn = g.asn_of(k);
        let mut config = self.config(local, asn, index);
        let a = &g.attributes;
        config.parameters = Parameters {
            med: a.med.unwrap_or(0),
            local_pref: a.local_pref,
            communities: a.communities.clone(),
            large_communities: a.large_communities.clone(),
            ext_communities: a.ext_communities.clone(),
            next_hop4: match a.next_hop {
                Some(IpAddr::V4(v4)) => Some(v4),
                _ => None,
            },
            next_hop6: match a.next_hop {
                Some(IpAddr::V6(v6)) => Some(v6),
                _ => None,
            },
            ..Parameters::default()
        };
        let name = format!("peer {index} ({local}, AS {asn})");
        (name, config, overrides(g, k))
    }

    /// A session from `local` in `asn` to the router.
    fn config(&self, local: IpAddr, asn: u32, n: usize) -> PeerConfig {
        let router_id = match local {
            IpAddr::V4(v4) => v4,
            IpAddr::V6(_) => Ipv4Addr::from(0x0a00_0001 + n as u32),
        };
        let mut c = PeerConfig::new(self.router.address, asn, router_id);
        c.address = SocketAddr::new(self.router.address, self.router.port);
        c.source = Some(local);
        c.peer_as = Some(self.router.asn);
        c.hold_time = self.hold_time;
        c.multiprotocol = true;
        c.connect_retry = Duration::from_secs(1);
        c
    }
}

/// The attributes of their own of the routes of the group's peer `k`: a
/// route's own (from a file or an MRT dump), with the group's AS_PATH and
/// ORIGIN where it has none; the group's alone for the others.
fn overrides(g: &super::Group, k: usize) -> Option<Overrides> {
    let a = &g.attributes;
    let group = (a.as_path.is_some() || a.origin.is_some()).then(|| {
        Arc::new(AttributeOverrides {
            as_path: AttributeOverrides::from_spec(a).as_path,
            origin: a.origin,
            ..Default::default()
        })
    });
    let super::Routes::Listed(peers) = &g.routes else {
        // Every route of the peer shares the group's set.
        return group.map(|own| Arc::new(g.routes_of(k).map(|p| (p, own.clone())).collect()));
    };
    // Sets stay shared: one merged set per set read.
    let mut merged: std::collections::HashMap<*const AttributeOverrides, Arc<AttributeOverrides>> =
        Default::default();
    let mut map = std::collections::BTreeMap::new();
    for (p, own) in peers.get(k).into_iter().flatten() {
        let set = match (own, &group) {
            (Some(own), Some(group)) => merged
                .entry(Arc::as_ptr(own))
                .or_insert_with(|| {
                    Arc::new(AttributeOverrides {
                        as_path: own.as_path.clone().or_else(|| group.as_path.clone()),
                        origin: own.origin.or(group.origin),
                        ..(**own).clone()
                    })
                })
                .clone(),
            (Some(own), None) => own.clone(),
            (None, Some(group)) => group.clone(),
            (None, None) => continue,
        };
        map.insert(*p, set);
    }
    (!map.is_empty()).then(|| Arc::new(map))
}

impl Runner<'_> {
    /// Sessions up, then each step.
    async fn timeline(&mut self, started: Instant) -> Result<Report, RunError> {
        self.establish().await?;
        let established = started.elapsed();
        self.start = Instant::now();
        self.next_sample = self.start;
        let steps = &self.scenario.steps;
        let mut times = Vec::new();
        let mut converged = Vec::new();
        for (i, step) in steps.iter().enumerate() {
            self.step = i;
            let begin = Instant::now();
            converged.push(self.carry_out(step).await);
            times.push((begin, Instant::now()));
        }
        // Changes still on their way are given a moment.
        let end = Instant::now() + Duration::from_millis(200);
        self.pump(end, false).await;
        self.measure.finish();
        let figures = self.measure.take_figures();
        let gathered = Gathered {
            steps,
            figures,
            times,
            converged,
            start: self.start,
            established,
            held: std::mem::take(&mut self.held),
            peers: self.peers.len(),
            observers: self.observers.len(),
            lagged: self.lagged,
        };
        Ok(Report::build(gathered, &self.scenario.limits))
    }

    /// Waits until every session is established.
    async fn establish(&mut self) -> Result<(), RunError> {
        let timeout = self.scenario.establish_timeout;
        let deadline = Instant::now() + timeout;
        while !self.all_up() {
            let Ok(Some((who, at, e))) =
                tokio::time::timeout_at(deadline.into(), self.events.recv()).await
            else {
                break;
            };
            self.handle(who, at, e);
        }
        let members = self.peers.iter().chain(&self.observers);
        let down: Vec<&Member> = members.filter(|m| !m.up).collect();
        match down.first() {
            None => Ok(()),
            Some(first) => Err(RunError::NotEstablished {
                down: down.len(),
                total: self.peers.len() + self.observers.len(),
                who: first.name.clone(),
                error: first.last_error.clone().map(Box::new),
                timeout,
            }),
        }
    }

    fn all_up(&self) -> bool {
        self.peers.iter().chain(&self.observers).all(|m| m.up)
    }

    /// One step; for a wait for convergence, when it came.
    async fn carry_out(&mut self, step: &Step) -> Option<Instant> {
        match step {
            Step::Announce { peers, rate } => self.change(peers, *rate, true, usize::MAX).await,
            Step::Withdraw { peers, rate } => self.change(peers, *rate, false, usize::MAX).await,
            Step::Wait(Wait::For(d)) => {
                self.pump(Instant::now() + *d, false).await;
            }
            Step::Wait(Wait::Converged) => {
                let deadline = Instant::now() + self.scenario.converge_timeout;
                return self.pump(deadline, true).await;
            }
            Step::Flap {
                peers,
                count,
                cycles,
                period,
            } => {
                for _ in 0..*cycles {
                    let begin = Instant::now();
                    self.change(peers, 0, false, *count).await;
                    self.pump(begin + *period / 2, false).await;
                    self.change(peers, 0, true, *count).await;
                    self.pump(begin + *period, false).await;
                }
            }
            Step::Reset { peers } => {
                let now = Instant::now();
                for &i in peers {
                    let m = &mut self.peers[i];
                    m.step = self.step;
                    if let Some(s) = &m.session {
                        s.reset();
                    }
                    // The router withdraws what the peer announced.
                    self.measure
                        .sent(self.step, now, Kind::Withdraw, m.current.iter());
                }
            }
        }
        None
    }

    /// These peers announce (or withdraw) their first `count` routes, at
    /// `rate` routes per second over them (0: at once).
    async fn change(&mut self, peers: &[usize], rate: u64, announce: bool, count: usize) {
        let mut todo: Vec<(usize, Vec<IpNet>)> = peers
            .iter()
            .map(|&i| {
                let current = &self.peers[i].current;
                let (g, k) = self
                    .scenario
                    .peer(i)
                    .expect("checked when the file was read");
                let list = g.routes_of(k).take(count);
                let list: Vec<IpNet> = list.filter(|p| current.contains(p) != announce).collect();
                (i, list.into_iter().rev().collect())
            })
            .collect();
        let total: usize = todo.iter().map(|(_, l)| l.len()).sum();
        let begin = Instant::now();
        let mut done = 0;
        while done < total {
            let due = match rate {
                0 => total,
                r => {
                    let t = begin.elapsed().as_secs_f64();
                    ((t * r as f64) as usize + 1).min(total)
                }
            };
            // Round robin over the peers, one route each, until due.
            let mut batch: Vec<Vec<IpNet>> = vec![Vec::new(); todo.len()];
            while done < due {
                for (slot, (_, list)) in todo.iter_mut().enumerate() {
                    if done < due {
                        if let Some(p) = list.pop() {
                            batch[slot].push(p);
                            done += 1;
                        }
                    }
                }
            }
            let applying = Instant::now();
            for (slot, prefixes) in batch.into_iter().enumerate() {
                if !prefixes.is_empty() {
                    self.apply(todo[slot].0, &prefixes, announce);
                }
            }
            if done < total {
                // A change makes a new set of the peer's routes (and its
                // session compares the two): with big peers, ticks get
                // longer, so that this takes a quarter of the time at most;
                // the rate stays, in bigger batches.
                let next = Instant::now() + PACE_TICK.max(applying.elapsed() * 4);
                self.pump(next, false).await;
            }
        }
    }

    /// Peer `i` announces (or withdraws) `prefixes` now.
    fn apply(&mut self, i: usize, prefixes: &[IpNet], announce: bool) {
        let m = &mut self.peers[i];
        // The session holds the last set until it has sent the change:
        // a new one is made, not the shared one changed.
        let mut set: BTreeSet<IpNet> = if announce && m.current.is_empty() {
            BTreeSet::new()
        } else {
            (*m.current).clone()
        };
        for p in prefixes {
            if announce {
                set.insert(*p);
            } else {
                set.remove(p);
            }
        }
        m.current = Arc::new(set);
        m.rib.send_replace(m.current.clone());
        m.step = self.step;
        self.measure.desire(prefixes, announce);
    }

    /// Handles events until `deadline`, or until converged when asked;
    /// returns when it converged then.
    async fn pump(&mut self, deadline: Instant, until_converged: bool) -> Option<Instant> {
        loop {
            if until_converged && self.measure.converged() {
                return Some(Instant::now());
            }
            let next = deadline.min(self.next_sample);
            tokio::select! {
                e = self.events.recv() => match e {
                    Some((who, at, e)) => self.handle(who, at, e),
                    None => return None,
                },
                _ = tokio::time::sleep_until(next.into()) => {
                    let now = Instant::now();
                    if now >= self.next_sample {
                        self.sample(now);
                    }
                    if now >= deadline {
                        return None;
                    }
                }
            }
        }
    }

    /// The routes held at each observer now.
    fn sample(&mut self, now: Instant) {
        let t = now.saturating_duration_since(self.start).as_secs_f64();
        self.held
            .push(((t * 1e3).round() / 1e3, self.measure.held.clone()));
        self.next_sample = now + SAMPLE_EVERY;
    }

    /// One event of a session, at the time it came.
    fn handle(&mut self, who: Who, at: Instant, e: Event) {
        let member = match who {
            Who::Peer(i) => &mut self.peers[i],
            Who::Observer(i) => &mut self.observers[i],
        };
        match e {
            Event::State { state, .. } => member.up = state == State::Established,
            Event::Error { error, .. } => member.last_error = Some(error),
            Event::Down { reason, .. } => {
                member.up = false;
                member.last_error = Some(reason);
            }
            Event::Lagged { missed } => self.lagged += missed,
            Event::Sent {
                announce,
                withdraw,
                written,
                ..
            } if matches!(who, Who::Peer(_)) => {
                let step = member.step;
                self.measure
                    .sent(step, written, Kind::Withdraw, withdraw.iter());
                self.measure
                    .sent(step, written, Kind::Announce, announce.iter());
            }
            Event::Received {
                announce, withdraw, ..
            } => {
                if let Who::Observer(o) = who {
                    self.measure
                        .received(o, at, Kind::Withdraw, withdraw.iter());
                    let prefixes = announce.iter().map(|r| &r.prefix);
                    self.measure.received(o, at, Kind::Announce, prefixes);
                }
            }
            _ => {}
        }
    }

    /// Stops every session (each withdraws what it announced, then Cease).
    async fn stop(&mut self) {
        let mut stops = tokio::task::JoinSet::new();
        for m in self.peers.iter_mut().chain(self.observers.iter_mut()) {
            if let Some(s) = m.session.take() {
                stops.spawn(s.stop());
            }
        }
        while stops.join_next().await.is_some() {}
    }
}

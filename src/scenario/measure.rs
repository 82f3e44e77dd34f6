//! Per-prefix timing through the router: each change we write is pending
//! until each observer receives the router's UPDATE for it; what the
//! observers hold is kept against what the peers want, so that
//! convergence is a count of differences, not a walk.
//!
//! A route is found by arithmetic on the groups' blocks (no map of a
//! million prefixes), and its record is 48 bytes with no allocation of
//! its own unless more than one change of it is on the way.

use super::Group;
use ipnet::IpNet;
use std::time::{Duration, Instant};

/// Observers a scenario may have (one bit each).
pub(super) const MAX_OBSERVERS: usize = 64;

/// An announcement or a withdrawal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Announce = 0,
    Withdraw = 1,
}

/// A change written to the router, waiting for the observers.
#[derive(Debug, Clone, Copy)]
struct Pending {
    /// When it was written: nanoseconds from the start of the measurement.
    at: u64,
    /// The observers that received it (or that can no longer).
    seen: u64,
    step: u32,
    kind: Kind,
}

/// The changes of one route on their way, oldest first: seldom more than
/// one, kept without an allocation then.
#[derive(Debug, Default)]
enum Queue {
    #[default]
    Empty,
    One(Pending),
    Many(Vec<Pending>),
}

impl Queue {
    fn push(&mut self, p: Pending) {
        *self = match std::mem::take(self) {
            Queue::Empty => Queue::One(p),
            Queue::One(first) => Queue::Many(vec![first, p]),
            Queue::Many(mut v) => {
                v.push(p);
                Queue::Many(v)
            }
        };
    }

    fn as_mut_slice(&mut self) -> &mut [Pending] {
        match self {
            Queue::Empty => &mut [],
            Queue::One(p) => std::slice::from_mut(p),
            Queue::Many(v) => v,
        }
    }

    /// Drops the first `n`.
    fn drop_front(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        *self = match std::mem::take(self) {
            Queue::Many(mut v) if v.len() > n => {
                v.drain(..n);
                match v.len() {
                    1 => Queue::One(v[0]),
                    _ => Queue::Many(v),
                }
            }
            _ => Queue::Empty,
        };
    }
}

/// One of our prefixes.
#[derive(Debug, Default)]
struct Route {
    /// The observers that hold it.
    held: u64,
    /// The peers want it announced.
    desired: bool,
    pending: Queue,
}

/// Receipts that came before the change they answer was reported written
/// (the peer's report and the observer's run on different threads), by
/// route: observer, kind, time.
type Early = std::collections::HashMap<usize, Vec<(usize, Kind, u64)>, foldhash::fast::RandomState>;

/// Early receipts kept per prefix at most.
const MAX_EARLY: usize = 8;

/// The routes of a scenario, numbered: group by group, peer by peer.
#[derive(Debug, Clone)]
pub(super) struct Universe {
    /// Per group of a block: IPv4 or not, prefix length, first and last
    /// address as numbers, the shift of one prefix, the number of its
    /// first route.
    blocks: Vec<(bool, u8, u128, u128, u32, usize)>,
    /// The routes of groups with listed routes, in prefix order, with
    /// their numbers.
    listed: Vec<(IpNet, u32)>,
    total: usize,
}

impl Universe {
    pub(super) fn of(groups: &[Group]) -> Universe {
        let mut blocks = Vec::new();
        let mut listed = Vec::new();
        let mut total = 0;
        for g in groups {
            if let Some((v4, len, start, end)) = g.routes.range(g.count) {
                let shift = if v4 { 32 } else { 128 } - u32::from(len);
                blocks.push((v4, len, start, end, shift, total));
            } else {
                let routes = (0..g.count).flat_map(|k| g.routes_of(k));
                listed.extend(routes.zip(total as u32..));
            }
            total += g.total_routes();
        }
        // By family and start: the blocks of one family do not overlap (the
        // file is refused otherwise), so one binary search finds a route's.
        blocks.sort_unstable_by_key(|b| (b.0, b.2));
        listed.sort_unstable();
        Universe {
            blocks,
            listed,
            total,
        }
    }

    /// The number of one of our routes.
    pub(super) fn id(&self, p: &IpNet) -> Option<usize> {
        self.in_block(p).or_else(|| {
            let i = self.listed.partition_point(|(q, _)| q < p);
            self.listed
                .get(i)
                .filter(|(q, _)| q == p)
                .map(|(_, id)| *id as usize)
        })
    }

    /// The number of one of the routes of a block.
    fn in_block(&self, p: &IpNet) -> Option<usize> {
        let v4 = p.addr().is_ipv4();
        let n = super::number(p.addr());
        let after = self.blocks.partition_point(|b| (b.0, b.2) <= (v4, n));
        let b = self.blocks[..after].last()?;
        (b.0 == v4 && b.1 == p.prefix_len() && n <= b.3).then(|| b.5 + ((n - b.2) >> b.4) as usize)
    }
}

/// What one step measured, for each kind.
#[derive(Debug, Default, Clone)]
pub(super) struct StepFigures {
    /// Latencies, one per observer that received a change.
    pub(super) samples: [Vec<Duration>; 2],
    /// Changes written.
    pub(super) sent: [u64; 2],
    /// Changes an observer never received (counted per observer).
    pub(super) missed: [u64; 2],
    /// The first change written and the last one received.
    pub(super) first_sent: Option<Instant>,
    pub(super) last_received: Option<Instant>,
}

/// The measurement of a run.
#[derive(Debug)]
pub(super) struct Measure {
    universe: Universe,
    routes: Vec<Route>,
    /// Per observer: our prefixes whose presence there differs from what
    /// the peers want.
    mismatch: Vec<usize>,
    /// Per observer: how many of our prefixes it holds.
    pub(super) held: Vec<usize>,
    tally: Tally,
}

/// Where changes and their answers are counted (apart from the routes, so
/// that a route and the tally are borrowed together).
#[derive(Debug)]
struct Tally {
    /// What `Pending::at` counts from.
    base: Instant,
    /// Every observer's bit.
    all: u64,
    steps: Vec<StepFigures>,
    /// Changes written that some observer has not received yet.
    open: usize,
    early: Early,
}

impl Measure {
    /// A measurement of the routes of `universe` seen by `observers`, over
    /// `steps` steps.
    pub(super) fn new(universe: Universe, observers: usize, steps: usize) -> Measure {
        let mut routes = Vec::new();
        routes.resize_with(universe.total, Route::default);
        Measure {
            universe,
            routes,
            mismatch: vec![0; observers],
            held: vec![0; observers],
            tally: Tally {
                base: Instant::now(),
                all: if observers >= 64 {
                    u64::MAX
                } else {
                    (1u64 << observers) - 1
                },
                steps: vec![StepFigures::default(); steps.max(1)],
                open: 0,
                early: Early::default(),
            },
        }
    }

    fn nanos(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.tally.base).as_nanos() as u64
    }

    /// What each step measured, taken out (at the end of a run).
    pub(super) fn take_figures(&mut self) -> Vec<StepFigures> {
        std::mem::take(&mut self.tally.steps)
    }

    /// Whether every observer holds exactly what the peers want, and has
    /// had every change written (or a later one of the same prefix).
    pub(super) fn converged(&self) -> bool {
        self.tally.open == 0 && self.mismatch.iter().all(|m| *m == 0)
    }

    /// The peers now want `prefixes` announced (or not).
    pub(super) fn desire(&mut self, prefixes: &[IpNet], announced: bool) {
        for p in prefixes {
            let Some(r) = self.universe.id(p).map(|i| &mut self.routes[i]) else {
                continue;
            };
            if r.desired == announced {
                continue;
            }
            r.desired = announced;
            for (o, m) in self.mismatch.iter_mut().enumerate() {
                let holds = r.held & (1 << o) != 0;
                if holds == announced {
                    *m -= 1;
                } else {
                    *m += 1;
                }
            }
        }
    }

    /// We wrote `prefixes` as `kind` at `at`, in step `step`.
    pub(super) fn sent<'a>(
        &mut self,
        step: usize,
        at: Instant,
        kind: Kind,
        prefixes: impl Iterator<Item = &'a IpNet>,
    ) {
        if self.mismatch.is_empty() {
            return; // no observer: nothing to time
        }
        let t = self.nanos(at);
        for p in prefixes {
            let Some(i) = self.universe.id(p) else {
                continue;
            };
            let r = &mut self.routes[i];
            let tally = &mut self.tally;
            tally.open += 1;
            tally.steps[step].sent[kind as usize] += 1;
            tally.steps[step].first_sent.get_or_insert(at);
            r.pending.push(Pending {
                at: t,
                seen: 0,
                step: step as u32,
                kind,
            });
            // What came before it was written answers something older.
            let Some(early) = tally.early.remove(&i) else {
                continue;
            };
            for (o, k, e) in early.into_iter().filter(|e| e.2 >= t) {
                answer((i, r), o, k, e, tally);
            }
        }
    }

    /// Observer `o` received `prefixes` as `kind` at `at`.
    pub(super) fn received<'a>(
        &mut self,
        o: usize,
        at: Instant,
        kind: Kind,
        prefixes: impl Iterator<Item = &'a IpNet>,
    ) {
        let bit = 1u64 << o;
        let t = self.nanos(at);
        for p in prefixes {
            let Some(i) = self.universe.id(p) else {
                continue;
            };
            let r = &mut self.routes[i];
            let holds = kind == Kind::Announce;
            if (r.held & bit != 0) != holds {
                r.held ^= bit;
                if holds {
                    self.held[o] += 1;
                } else {
                    self.held[o] -= 1;
                }
                if holds == r.desired {
                    self.mismatch[o] -= 1;
                } else {
                    self.mismatch[o] += 1;
                }
            }
            answer((i, r), o, kind, t, &mut self.tally);
        }
    }

    /// Ends the measurement: what is still pending never arrived.
    pub(super) fn finish(&mut self) {
        let tally = &mut self.tally;
        tally.open = 0;
        let observers = self.mismatch.len();
        tally.early.clear();
        for r in &mut self.routes {
            for c in r.pending.as_mut_slice() {
                let unseen = (0..observers).filter(|o| c.seen & (1 << o) == 0).count();
                tally.steps[c.step as usize].missed[c.kind as usize] += unseen as u64;
            }
            r.pending = Queue::Empty;
        }
    }
}

/// Observer `o` received a change of `kind` of route `r` at `at`: the
/// oldest change of this kind it has not had is answered; changes of the
/// other kind before it never reached it (the router sent only the last
/// state). Without one, the receipt waits for its change's report.
fn answer((id, r): (usize, &mut Route), o: usize, kind: Kind, at: u64, tally: &mut Tally) {
    let bit = 1u64 << o;
    let queue = r.pending.as_mut_slice();
    let Some(at_match) = queue
        .iter()
        .position(|c| c.seen & bit == 0 && c.kind == kind)
    else {
        let early = tally.early.entry(id).or_default();
        if early.len() == MAX_EARLY {
            early.remove(0);
        }
        early.push((o, kind, at));
        return;
    };
    let received = tally.base + Duration::from_nanos(at);
    for c in queue.iter_mut().take(at_match + 1) {
        if c.seen & bit != 0 {
            continue;
        }
        c.seen |= bit;
        if c.seen & tally.all == tally.all {
            tally.open -= 1;
        }
        let figures = &mut tally.steps[c.step as usize];
        if c.kind == kind {
            let latency = Duration::from_nanos(at.saturating_sub(c.at));
            figures.samples[kind as usize].push(latency);
            figures.last_received =
                Some(figures.last_received.map_or(received, |l| l.max(received)));
        } else {
            figures.missed[c.kind as usize] += 1;
        }
    }
    let done = queue
        .iter()
        .take_while(|c| c.seen & tally.all == tally.all)
        .count();
    r.pending.drop_front(done);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(v: &[&str]) -> Vec<IpNet> {
        v.iter().map(|s| s.parse().unwrap()).collect()
    }

    /// The routes of one peer: `n` /24s from 10.0.0.0.
    fn universe(n: usize) -> Universe {
        Universe::of(&[Group {
            first: 0,
            count: 1,
            local: "127.0.1.1".parse().unwrap(),
            asn: 65100,
            as_step: 1,
            routes: super::super::Routes::Block {
                base: "10.0.0.0/8".parse().unwrap(),
                len: 24,
                per_peer: n,
            },
            attributes: Default::default(),
        }])
    }

    #[test]
    fn a_route_record_is_small() {
        assert!(
            std::mem::size_of::<Route>() <= 48,
            "{}",
            std::mem::size_of::<Route>()
        );
    }

    #[test]
    fn routes_are_numbered_by_their_block() {
        let g = |first, count, base: &str, len, per_peer| Group {
            first,
            count,
            local: "127.0.1.1".parse().unwrap(),
            asn: 65100,
            as_step: 1,
            routes: super::super::Routes::Block {
                base: base.parse().unwrap(),
                len,
                per_peer,
            },
            attributes: Default::default(),
        };
        // Listed routes: two peers, their own prefixes in no order.
        let listed = |v: &[&str]| v.iter().map(|p| (p.parse().unwrap(), None)).collect();
        let list = Group {
            first: 4,
            count: 2,
            routes: super::super::Routes::Listed(std::sync::Arc::new(vec![
                listed(&["192.0.2.128/25", "172.16.0.0/12"]),
                listed(&["192.0.2.0/25"]),
            ])),
            ..g(4, 2, "10.0.0.0/8", 24, 1)
        };
        let groups = [
            g(0, 2, "10.0.0.0/8", 24, 3),
            g(2, 2, "2001:db8::/32", 48, 2),
            list,
        ];
        let u = Universe::of(&groups);
        assert_eq!(u.total, 13);
        let all: Vec<IpNet> = (0..2)
            .flat_map(|k| {
                groups[0]
                    .routes_of(k)
                    .chain(groups[1].routes_of(k))
                    .chain(groups[2].routes_of(k))
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut ids: Vec<usize> = all.iter().map(|p| u.id(p).unwrap()).collect();
        ids.sort_unstable();
        assert_eq!(ids, (0..13).collect::<Vec<_>>(), "{all:?}");
        assert_eq!(u.id(&"10.0.1.0/24".parse().unwrap()), Some(1));
        assert_eq!(u.id(&"2001:db8:1::/48".parse().unwrap()), Some(7));
        assert_eq!(u.id(&"172.16.0.0/12".parse().unwrap()), Some(11));
        assert_eq!(u.id(&"192.0.2.0/25".parse().unwrap()), Some(12));
        for other in [
            "10.0.6.0/24",
            "10.0.0.0/25",
            "192.0.2.0/24",
            "2001:db8:4::/48",
            "172.16.0.0/16",
        ] {
            assert_eq!(u.id(&other.parse().unwrap()), None, "{other}");
        }
    }

    #[test]
    fn changes_are_timed_per_observer_and_convergence_counted() {
        let all = nets(&["10.0.0.0/24", "10.0.1.0/24"]);
        let mut m = Measure::new(universe(2), 2, 2);
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        assert!(m.converged(), "nothing wanted, nothing held");
        m.desire(&all, true);
        assert!(!m.converged());
        m.sent(0, t0, Kind::Announce, all.iter());
        m.received(0, t0 + ms(5), Kind::Announce, all.iter());
        assert!(!m.converged(), "one observer of two");
        m.received(1, t0 + ms(7), Kind::Announce, all[..1].iter());
        m.received(1, t0 + ms(9), Kind::Announce, all[1..].iter());
        assert!(m.converged());
        assert_eq!(
            m.tally.steps[0].samples[0],
            vec![ms(5), ms(5), ms(7), ms(9)]
        );
        assert_eq!(m.held, vec![2, 2]);
        // A flap the router folds into one announcement at observer 0: the
        // withdrawal never reached it.
        let t1 = t0 + ms(100);
        m.desire(&all[..1], false);
        m.sent(1, t1, Kind::Withdraw, all[..1].iter());
        m.desire(&all[..1], true);
        m.sent(1, t1 + ms(10), Kind::Announce, all[..1].iter());
        m.received(0, t1 + ms(20), Kind::Announce, all[..1].iter());
        m.received(1, t1 + ms(15), Kind::Withdraw, all[..1].iter());
        assert!(!m.converged(), "observer 1 lacks it now");
        assert!(
            !m.converged(),
            "the announcement has not reached observer 1"
        );
        m.received(1, t1 + ms(30), Kind::Announce, all[..1].iter());
        assert!(m.converged());
        let f = &m.tally.steps[1];
        assert_eq!(f.samples[1], vec![ms(15)]);
        assert_eq!(f.samples[0], vec![ms(10), ms(20)]);
        assert_eq!(f.missed, [0, 1]);
        // Something written that never arrives is counted at the end;
        // prefixes not ours are not measured.
        m.sent(1, t1, Kind::Withdraw, all[1..].iter());
        m.received(0, t1, Kind::Withdraw, nets(&["192.0.2.0/24"]).iter());
        m.finish();
        assert_eq!(m.tally.steps[1].missed, [0, 3]);
    }

    #[test]
    fn a_receipt_reported_before_its_change_is_matched_by_time() {
        let p = nets(&["10.0.0.0/24"]);
        let mut m = Measure::new(universe(1), 1, 1);
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        m.desire(&p, true);
        // The observer's receipt (at 3 ms) is handled first; the peer's
        // report that it wrote at 1 ms comes after.
        m.received(0, t0 + ms(3), Kind::Announce, p.iter());
        assert!(!m.converged() || m.tally.steps[0].sent[0] == 0);
        m.sent(0, t0 + ms(1), Kind::Announce, p.iter());
        assert_eq!(m.tally.steps[0].samples[0], vec![ms(2)]);
        assert!(m.converged());
        // A receipt from before a write does not answer it.
        m.received(0, t0 + ms(4), Kind::Withdraw, p.iter());
        m.sent(0, t0 + ms(5), Kind::Withdraw, p.iter());
        assert!(m.tally.steps[0].samples[1].is_empty());
        m.finish();
        assert_eq!(m.tally.steps[0].missed, [0, 1]);
    }
}

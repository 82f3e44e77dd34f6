//! Per-prefix timing through the router: each change we write is pending
//! until each observer receives the router's UPDATE for it; what the
//! observers hold is kept against what the peers want, so that
//! convergence is a count of differences, not a walk.

use ipnet::IpNet;
use std::collections::HashMap;
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
#[derive(Debug)]
struct Pending {
    kind: Kind,
    at: Instant,
    step: usize,
    /// The observers that received it (or that can no longer).
    seen: u64,
}

/// One of our prefixes.
#[derive(Debug, Default)]
struct Route {
    /// The peers want it announced.
    desired: bool,
    /// The observers that hold it.
    held: u64,
    /// Oldest first; seldom more than one (a Vec of its own size: a
    /// million routes each with a queue of four would be 160 MB).
    pending: Vec<Pending>,
    /// Receipts that came before the change they answer was reported
    /// written (the peer's report and the observer's run on different
    /// threads): observer, kind, time.
    early: Vec<(usize, Kind, Instant)>,
}

/// Early receipts kept per prefix at most.
const MAX_EARLY: usize = 8;

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
    routes: HashMap<IpNet, Route, foldhash::fast::RandomState>,
    all: u64,
    /// Per observer: our prefixes whose presence there differs from what
    /// the peers want.
    mismatch: Vec<usize>,
    /// Per observer: how many of our prefixes it holds.
    pub(super) held: Vec<usize>,
    pub(super) steps: Vec<StepFigures>,
    /// Changes written that some observer has not received yet.
    open: usize,
}

impl Measure {
    /// A measurement of `prefixes` (every route of every peer) seen by
    /// `observers`, over `steps` steps.
    pub(super) fn new(
        prefixes: impl Iterator<Item = IpNet>,
        observers: usize,
        steps: usize,
    ) -> Measure {
        let mut routes: HashMap<IpNet, Route, foldhash::fast::RandomState> = Default::default();
        for p in prefixes {
            routes.insert(p, Route::default());
        }
        Measure {
            routes,
            all: if observers >= 64 {
                u64::MAX
            } else {
                (1u64 << observers) - 1
            },
            mismatch: vec![0; observers],
            held: vec![0; observers],
            steps: vec![StepFigures::default(); steps.max(1)],
            open: 0,
        }
    }

    /// Whether every observer holds exactly what the peers want, and has
    /// had every change written (or a later one of the same prefix).
    pub(super) fn converged(&self) -> bool {
        self.open == 0 && self.mismatch.iter().all(|m| *m == 0)
    }

    /// The peers now want `prefixes` announced (or not).
    pub(super) fn desire(&mut self, prefixes: &[IpNet], announced: bool) {
        for p in prefixes {
            let Some(r) = self.routes.get_mut(p) else {
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
        for p in prefixes {
            let Some(r) = self.routes.get_mut(p) else {
                continue;
            };
            self.open += 1;
            self.steps[step].sent[kind as usize] += 1;
            self.steps[step].first_sent.get_or_insert(at);
            r.pending.reserve_exact(1);
            r.pending.push(Pending {
                kind,
                at,
                step,
                seen: 0,
            });
            if r.early.is_empty() {
                continue;
            }
            // What came before it was written answers something older.
            r.early.retain(|e| e.2 >= at);
            let early = std::mem::take(&mut r.early);
            for (o, k, t) in early {
                Self::answer(r, o, k, t, (self.all, &mut self.open, &mut self.steps));
            }
        }
    }

    /// Observer `o` received a change of `kind` of route `r` at `at`: the
    /// oldest change of this kind it has not had is answered; changes of
    /// the other kind before it never reached it (the router sent only the
    /// last state). Without one, the receipt waits for its change's report.
    fn answer(
        r: &mut Route,
        o: usize,
        kind: Kind,
        at: Instant,
        (all, open, steps): (u64, &mut usize, &mut [StepFigures]),
    ) {
        let bit = 1u64 << o;
        let Some(at_match) = r
            .pending
            .iter()
            .position(|c| c.seen & bit == 0 && c.kind == kind)
        else {
            if r.early.len() == MAX_EARLY {
                r.early.remove(0);
            }
            r.early.push((o, kind, at));
            return;
        };
        for c in r.pending.iter_mut().take(at_match + 1) {
            if c.seen & bit != 0 {
                continue;
            }
            c.seen |= bit;
            if c.seen & all == all {
                *open -= 1;
            }
            let figures = &mut steps[c.step];
            if c.kind == kind {
                figures.samples[kind as usize].push(at.saturating_duration_since(c.at));
                figures.last_received = Some(figures.last_received.map_or(at, |l| l.max(at)));
            } else {
                figures.missed[c.kind as usize] += 1;
            }
        }
        let done = r.pending.iter().take_while(|c| c.seen & all == all).count();
        r.pending.drain(..done);
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
        for p in prefixes {
            let Some(r) = self.routes.get_mut(p) else {
                continue;
            };
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
            Self::answer(r, o, kind, at, (self.all, &mut self.open, &mut self.steps));
        }
    }

    /// Ends the measurement: what is still pending never arrived.
    pub(super) fn finish(&mut self) {
        self.open = 0;
        let observers = self.mismatch.len();
        for r in self.routes.values_mut() {
            r.early.clear();
            for c in r.pending.drain(..) {
                let unseen = (0..observers).filter(|o| c.seen & (1 << o) == 0).count();
                self.steps[c.step].missed[c.kind as usize] += unseen as u64;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(v: &[&str]) -> Vec<IpNet> {
        v.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn changes_are_timed_per_observer_and_convergence_counted() {
        let all = nets(&["10.0.0.0/24", "10.0.1.0/24"]);
        let mut m = Measure::new(all.iter().copied(), 2, 2);
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
        assert_eq!(m.steps[0].samples[0], vec![ms(5), ms(5), ms(7), ms(9)]);
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
        let f = &m.steps[1];
        assert_eq!(f.samples[1], vec![ms(15)]);
        assert_eq!(f.samples[0], vec![ms(10), ms(20)]);
        assert_eq!(f.missed, [0, 1]);
        // Something written that never arrives is counted at the end;
        // prefixes not ours are not measured.
        m.sent(1, t1, Kind::Withdraw, all[1..].iter());
        m.received(0, t1, Kind::Withdraw, nets(&["192.0.2.0/24"]).iter());
        m.finish();
        assert_eq!(m.steps[1].missed, [0, 3]);
    }

    #[test]
    fn a_receipt_reported_before_its_change_is_matched_by_time() {
        let p = nets(&["10.0.0.0/24"]);
        let mut m = Measure::new(p.iter().copied(), 1, 1);
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        m.desire(&p, true);
        // The observer's receipt (at 3 ms) is handled first; the peer's
        // report that it wrote at 1 ms comes after.
        m.received(0, t0 + ms(3), Kind::Announce, p.iter());
        assert!(!m.converged() || m.steps[0].sent[0] == 0);
        m.sent(0, t0 + ms(1), Kind::Announce, p.iter());
        assert_eq!(m.steps[0].samples[0], vec![ms(2)]);
        assert!(m.converged());
        // A receipt from before a write does not answer it.
        m.received(0, t0 + ms(4), Kind::Withdraw, p.iter());
        m.sent(0, t0 + ms(5), Kind::Withdraw, p.iter());
        assert!(m.steps[0].samples[1].is_empty());
        m.finish();
        assert_eq!(m.steps[0].missed, [0, 1]);
    }
}

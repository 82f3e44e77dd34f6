//! The report of a run: per step and overall, latency figures of
//! announcements and withdrawals through the router, throughput at the
//! observers, convergence, and the limits checked.

use super::measure::{Kind, StepFigures};
use super::{Limits, Step, Wait};
use serde::Serialize;
use std::time::{Duration, Instant};

/// Latency figures of one kind of change (milliseconds).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    /// Changes written to the router.
    pub sent: u64,
    /// Changes received by an observer (once per observer).
    pub received: u64,
    /// Changes an observer never received (once per observer).
    pub missing: u64,
    /// Median latency.
    pub p50_ms: Option<f64>,
    /// 90th percentile.
    pub p90_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
    /// The longest.
    pub max_ms: Option<f64>,
    /// Changes received per second at the observers, from the first written
    /// to the last received.
    pub per_second: Option<f64>,
}

impl Stats {
    fn of(samples: &mut [Duration], sent: u64, missing: u64, span: Option<Duration>) -> Stats {
        samples.sort_unstable();
        let at = |q: f64| -> Option<f64> {
            if samples.is_empty() {
                return None;
            }
            // Nearest rank.
            let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
            Some(ms(samples[rank - 1]))
        };
        Stats {
            sent,
            received: samples.len() as u64,
            missing,
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            max_ms: samples.last().map(|d| ms(*d)),
            per_second: span
                .filter(|s| !s.is_zero() && !samples.is_empty())
                .map(|s| samples.len() as f64 / s.as_secs_f64()),
        }
    }

    /// The figure a limit names: 0 p50, 1 p90, 2 p99, 3 max.
    fn figure(&self, i: usize) -> Option<f64> {
        [self.p50_ms, self.p90_ms, self.p99_ms, self.max_ms][i]
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// One step of the timeline, measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepReport {
    /// Its index in the file.
    pub index: usize,
    /// What it did (`announce 0-9 rate 1000`).
    pub step: String,
    /// When it started, seconds from the start of the timeline.
    pub start_s: f64,
    /// How long it ran, seconds.
    pub duration_s: f64,
    /// Announcements written in it.
    pub announce: Stats,
    /// Withdrawals written in it.
    pub withdraw: Stats,
    /// A `wait = "converged"`: seconds from the start of the step before it
    /// until every observer held what the peers want; `None` if that never
    /// came within `converge_timeout`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub converged_s: Option<f64>,
    /// A `wait = "converged"` that ran out.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub not_converged: bool,
}

/// A limit of the file, checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LimitCheck {
    /// The key (`announce_p99`).
    pub limit: String,
    /// The limit (milliseconds, or a count for `missing`).
    pub allowed: f64,
    /// What was measured; `None` when nothing was (which fails).
    pub measured: Option<f64>,
    /// Whether it held.
    pub passed: bool,
}

/// What a run measured. Its JSON is documented in `schema/scenario.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Emulated peers.
    pub peers: usize,
    /// Observers.
    pub observers: usize,
    /// Seconds from the start until every session was established.
    pub established_s: f64,
    /// Each step.
    pub steps: Vec<StepReport>,
    /// Every announcement of the run.
    pub announce: Stats,
    /// Every withdrawal of the run.
    pub withdraw: Stats,
    /// Routes of ours each observer held over time: seconds from the
    /// start of the timeline, then one count per observer.
    pub held: Vec<(f64, Vec<usize>)>,
    /// Events lost because the run fell behind (the figures then miss
    /// changes); 0 in a sound run.
    pub lagged: u64,
    /// The latency of every change of the run at each percentile from 0
    /// to 100 (101 values, milliseconds; empty when none was received).
    pub distribution: Distribution,
    /// The limits, checked.
    pub limits: Vec<LimitCheck>,
    /// Every limit held and every wait for convergence ended converged.
    pub passed: bool,
}

/// Latency at each percentile from 0 to 100 (milliseconds), per kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Distribution {
    /// Announcements.
    pub announce_ms: Vec<f64>,
    /// Withdrawals.
    pub withdraw_ms: Vec<f64>,
}

/// The latency at each percentile of sorted `samples`, nearest rank.
fn percentiles(samples: &[Duration]) -> Vec<f64> {
    if samples.is_empty() {
        return Vec::new();
    }
    (0..=100)
        .map(|q| {
            let rank =
                ((q as f64 / 100.0 * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
            ms(samples[rank - 1])
        })
        .collect()
}

/// What the run gathered, for the report.
pub(super) struct Gathered<'a> {
    pub(super) steps: &'a [Step],
    pub(super) figures: Vec<StepFigures>,
    /// Start and end of each step.
    pub(super) times: Vec<(Instant, Instant)>,
    /// Per step: when its wait ended converged, if it did.
    pub(super) converged: Vec<Option<Instant>>,
    pub(super) start: Instant,
    pub(super) established: Duration,
    pub(super) held: Vec<(f64, Vec<usize>)>,
    pub(super) peers: usize,
    pub(super) observers: usize,
    pub(super) lagged: u64,
}

impl Report {
    pub(super) fn build(g: Gathered<'_>, limits: &Limits) -> Report {
        let secs = |t: Instant| t.saturating_duration_since(g.start).as_secs_f64();
        let mut all: [Vec<Duration>; 2] = Default::default();
        let mut totals = [[0u64; 2]; 2];
        let mut span: [(Option<Instant>, Option<Instant>); 2] = Default::default();
        let mut steps = Vec::new();
        for (i, (step, mut f)) in g.steps.iter().zip(g.figures).enumerate() {
            for k in [Kind::Announce as usize, Kind::Withdraw as usize] {
                all[k].extend_from_slice(&f.samples[k]);
                totals[k][0] += f.sent[k];
                totals[k][1] += f.missed[k];
                if !f.samples[k].is_empty() {
                    span[k].0 = span[k].0.min(f.first_sent).or(f.first_sent);
                    span[k].1 = span[k].1.max(f.last_received);
                }
            }
            let s = f
                .first_sent
                .zip(f.last_received)
                .map(|(a, b)| b.saturating_duration_since(a));
            let (started, ended) = g.times[i];
            let wait = matches!(step, Step::Wait(Wait::Converged));
            let from = i.checked_sub(1).map_or(started, |p| g.times[p].0);
            steps.push(StepReport {
                index: i,
                step: describe(step),
                start_s: secs(started),
                duration_s: ended.saturating_duration_since(started).as_secs_f64(),
                announce: Stats::of(&mut f.samples[0], f.sent[0], f.missed[0], s),
                withdraw: Stats::of(&mut f.samples[1], f.sent[1], f.missed[1], s),
                converged_s: g.converged[i]
                    .map(|c| c.saturating_duration_since(from).as_secs_f64()),
                not_converged: wait && g.converged[i].is_none(),
            });
        }
        let whole = |k: usize| {
            span[k]
                .0
                .zip(span[k].1)
                .map(|(a, b)| b.saturating_duration_since(a))
        };
        let announce = Stats::of(&mut all[0], totals[0][0], totals[0][1], whole(0));
        let withdraw = Stats::of(&mut all[1], totals[1][0], totals[1][1], whole(1));
        let distribution = Distribution {
            announce_ms: percentiles(&all[0]),
            withdraw_ms: percentiles(&all[1]),
        };
        let checks = check(limits, &announce, &withdraw, &steps);
        let passed = checks.iter().all(|c| c.passed) && steps.iter().all(|s| !s.not_converged);
        Report {
            peers: g.peers,
            observers: g.observers,
            established_s: g.established.as_secs_f64(),
            steps,
            announce,
            withdraw,
            held: g.held,
            lagged: g.lagged,
            distribution,
            limits: checks,
            passed,
        }
    }

    /// The limits that failed, as lines: which, and by how much.
    pub fn failures(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .limits
            .iter()
            .filter(|c| !c.passed)
            .map(|c| match c.measured {
                Some(m) if c.limit == "missing" => {
                    format!(
                        "{}: {m} changes never arrived, {} allowed",
                        c.limit, c.allowed
                    )
                }
                Some(m) => format!(
                    "{}: {m:.1} ms, limit {:.1} ms ({:.1} ms over)",
                    c.limit,
                    c.allowed,
                    m - c.allowed
                ),
                None => format!("{}: nothing was measured", c.limit),
            })
            .collect();
        for s in self.steps.iter().filter(|s| s.not_converged) {
            out.push(format!("step {} ({}): not converged", s.index, s.step));
        }
        out
    }
}

/// The limits against the figures.
fn check(
    limits: &Limits,
    announce: &Stats,
    withdraw: &Stats,
    steps: &[StepReport],
) -> Vec<LimitCheck> {
    let mut out = Vec::new();
    let names = ["p50", "p90", "p99", "max"];
    for (kind, stats, set) in [
        ("announce", announce, &limits.announce),
        ("withdraw", withdraw, &limits.withdraw),
    ] {
        for (i, limit) in set.iter().enumerate() {
            let Some(limit) = limit else { continue };
            let measured = stats.figure(i);
            let allowed = ms(*limit);
            out.push(LimitCheck {
                limit: format!("{kind}_{}", names[i]),
                allowed,
                measured,
                passed: measured.is_some_and(|m| m <= allowed),
            });
        }
    }
    if let Some(limit) = limits.converge {
        let allowed = ms(limit);
        let worst = steps
            .iter()
            .filter_map(|s| s.converged_s)
            .map(|s| s * 1e3)
            .fold(None, |a: Option<f64>, b| Some(a.map_or(b, |a| a.max(b))));
        out.push(LimitCheck {
            limit: "converge".into(),
            allowed,
            measured: worst,
            passed: worst.is_some_and(|w| w <= allowed),
        });
    }
    let missing = (announce.missing + withdraw.missing) as f64;
    out.push(LimitCheck {
        limit: "missing".into(),
        allowed: limits.missing as f64,
        measured: Some(missing),
        passed: missing <= limits.missing as f64,
    });
    out
}

/// A step as the file says it.
fn describe(step: &Step) -> String {
    let set = |p: &[usize]| compact(p);
    match step {
        Step::Announce { peers, rate: 0 } => format!("announce {}", set(peers)),
        Step::Announce { peers, rate } => format!("announce {} rate {rate}", set(peers)),
        Step::Withdraw { peers, rate: 0 } => format!("withdraw {}", set(peers)),
        Step::Withdraw { peers, rate } => format!("withdraw {} rate {rate}", set(peers)),
        Step::Wait(Wait::Converged) => "wait converged".into(),
        Step::Wait(Wait::For(d)) => format!("wait {}", humantime::format_duration(*d)),
        Step::Flap {
            peers,
            count,
            cycles,
            period,
        } => {
            let count = if *count == usize::MAX {
                "all".to_string()
            } else {
                count.to_string()
            };
            format!(
                "flap {} count {count} cycles {cycles} period {}",
                set(peers),
                humantime::format_duration(*period)
            )
        }
        Step::Reset { peers } => format!("reset {}", set(peers)),
    }
}

/// Sorted indexes as ranges: `0-9,12`.
fn compact(p: &[usize]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < p.len() {
        let mut j = i;
        while j + 1 < p.len() && p[j + 1] == p[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            p[i].to_string()
        } else {
            format!("{}-{}", p[i], p[j])
        });
        i = j + 1;
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank_and_limits_by_how_much() {
        let mut s: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let st = Stats::of(&mut s, 100, 0, Some(Duration::from_secs(2)));
        assert_eq!(
            (st.p50_ms, st.p90_ms, st.p99_ms, st.max_ms),
            (Some(50.0), Some(90.0), Some(99.0), Some(100.0))
        );
        assert_eq!(st.per_second, Some(50.0));
        let d = percentiles(&s);
        assert_eq!((d.len(), d[0], d[50], d[100]), (101, 1.0, 50.0, 100.0));
        let limits = Limits {
            announce: [None, None, Some(Duration::from_millis(95)), None],
            withdraw: [None, None, Some(Duration::from_millis(1)), None],
            ..Default::default()
        };
        let checks = check(&limits, &st, &Stats::default(), &[]);
        assert_eq!(checks[0].limit, "announce_p99");
        assert!(!checks[0].passed);
        assert!(!checks[1].passed, "nothing measured fails");
        assert!(checks[2].passed, "nothing missing");
        assert_eq!(compact(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
    }
}

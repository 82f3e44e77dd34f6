//! The probe engine: one task schedules and runs every check of a
//! director.
//!
//! An idle check costs a slot here (its prober, holding a kept-alive
//! connection, and its next start) and an entry in a calendar of
//! [`BATCH`]-long buckets; only a probe in flight has a future. The task
//! wakes when the first bucket is due, starts its probes at once (so that
//! thousands of checks a second cost a few hundred wake-ups, not one per
//! probe), ends the probes whose deadline passed, records the results that
//! are in, and sleeps again. It runs on the director's own thread.
//!
//! Each check is first probed at a random instant within its interval (of
//! one second at most), then each probe starts between 0.9 and 1 interval
//! after the previous one, so that checks started together spread out, and
//! a failure is seen within interval x (failed probes needed) + timeout.

use super::check::{ProbeResult, Prober, SynSockets};
use super::config::CheckSpec;
use super::{lock, Shared};
use futures_util::stream::{FuturesUnordered, StreamExt};
use futures_util::task::AtomicWaker;
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The width of a bucket of the calendar: probes due within one are
/// started together (up to this much early).
pub(super) const BATCH: Duration = Duration::from_millis(5);

/// A probe in flight: its slot, the slot's generation, the prober back and
/// the result.
type Running = Pin<Box<dyn Future<Output = (usize, u32, Prober, ProbeResult)> + Send>>;

/// The end of a probe's time, signalled by the engine: one schedule of
/// deadlines instead of a timer per probe (registering a tokio timer from
/// within the runtime can wake its driver through a system call).
#[derive(Default)]
struct Deadline {
    passed: AtomicBool,
    waker: AtomicWaker,
}

impl Deadline {
    fn fire(&self) {
        self.passed.store(true, Ordering::Release);
        self.waker.wake();
    }
}

/// Ready once the deadline has passed.
struct Passed(Arc<Deadline>);

impl Future for Passed {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.passed.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        self.0.waker.register(cx.waker());
        if self.0.passed.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

struct Slot {
    spec: Arc<CheckSpec>,
    /// `None` while a probe runs (the prober is inside it).
    prober: Option<Prober>,
    /// The running probe's deadline (a new one for each check in the slot).
    deadline: Arc<Deadline>,
    /// The number of the probe that runs or ran last.
    probe: u64,
    /// When its last probe started.
    started: Instant,
    /// Bumped when the slot is freed, so that a schedule entry or a result
    /// of a removed check is dropped.
    generation: u32,
}

/// The engine's state, apart from the futures in flight.
struct Schedule {
    slots: Vec<Slot>,
    free: Vec<usize>,
    by_spec: BTreeMap<Arc<CheckSpec>, usize>,
    /// The checks due, in buckets of one [`BATCH`] each (numbered from
    /// `epoch`): a bucket is started as a whole, so a calendar is all the
    /// order needed.
    due: BTreeMap<u64, Vec<(usize, u32)>>,
    epoch: Instant,
    /// (deadline, slot, probe number) of the probes started, one queue per
    /// timeout: each queue is in order of its deadlines already.
    deadlines: BTreeMap<Duration, VecDeque<(Instant, usize, u64)>>,
    /// Probes started, to number them.
    probes: u64,
    syn: Arc<SynSockets>,
}

impl Schedule {
    /// Keeps the checks of `specs` that exist, adds the new ones (first
    /// probe after a random part of the interval, of one second at most),
    /// frees the others.
    fn configure(&mut self, specs: Vec<Arc<CheckSpec>>, now: Instant) {
        let mut keep: BTreeMap<Arc<CheckSpec>, usize> = BTreeMap::new();
        for spec in specs {
            if let Some(i) = self.by_spec.remove(&spec) {
                keep.insert(spec, i);
                continue;
            }
            let first = spec
                .interval
                .min(Duration::from_secs(1))
                .mul_f64(rand::random::<f64>());
            let at = now + first;
            let slot = Slot {
                prober: Some(Prober::shared(spec.clone(), self.syn.clone())),
                deadline: Arc::default(),
                probe: 0,
                spec: spec.clone(),
                started: at,
                generation: 0,
            };
            let i = match self.free.pop() {
                Some(i) => {
                    let generation = self.slots[i].generation;
                    self.slots[i] = Slot { generation, ..slot };
                    i
                }
                None => {
                    self.slots.push(slot);
                    self.slots.len() - 1
                }
            };
            self.schedule(at, i);
            keep.insert(spec, i);
        }
        for (_, i) in std::mem::replace(&mut self.by_spec, keep) {
            let s = &mut self.slots[i];
            // A probe still running ends now; its result is dropped.
            s.deadline.fire();
            s.prober = None;
            s.generation = s.generation.wrapping_add(1);
            self.free.push(i);
        }
    }

    /// The next start of slot `i`, whose probe started at `started` and
    /// ended at `now`.
    fn reschedule(&mut self, i: usize, started: Instant, now: Instant) {
        let at = next_start(self.slots[i].spec.interval, started, now, rand::random());
        self.schedule(at, i);
    }

    fn bucket(&self, at: Instant) -> u64 {
        (at.saturating_duration_since(self.epoch).as_nanos() / BATCH.as_nanos()) as u64
    }

    /// Slot `i` is due at `at`.
    fn schedule(&mut self, at: Instant, i: usize) {
        let b = self.bucket(at);
        let generation = self.slots[i].generation;
        self.due.entry(b).or_default().push((i, generation));
    }

    /// When the first bucket due starts.
    fn next_due(&self) -> Option<Instant> {
        let (&b, _) = self.due.first_key_value()?;
        Some(self.epoch + Duration::from_nanos(b.saturating_mul(BATCH.as_nanos() as u64)))
    }

    /// The earliest deadline of a probe started.
    fn next_deadline(&self) -> Option<Instant> {
        self.deadlines
            .values()
            .filter_map(|q| q.front())
            .map(|d| d.0)
            .min()
    }

    /// Ends the probes whose time is up.
    fn expire(&mut self, now: Instant) {
        for queue in self.deadlines.values_mut() {
            while let Some(&(at, i, probe)) = queue.front() {
                if at > now {
                    break;
                }
                queue.pop_front();
                let s = &self.slots[i];
                if s.probe == probe && s.prober.is_none() {
                    s.deadline.fire();
                }
            }
        }
        self.deadlines.retain(|_, q| !q.is_empty());
    }
}

/// When the next probe of a check starts: between 0.9 and 1 interval
/// after the last start (`r` in [0, 1) picks where), so that checks
/// started together drift apart and stay apart, and never later than one
/// interval after it; a probe that ran longer than that is followed at
/// once (`now`), not by a burst of catching up.
fn next_start(interval: Duration, started: Instant, now: Instant, r: f64) -> Instant {
    (started + interval - interval.mul_f64(r / 10.0)).max(now)
}

impl Schedule {
    /// Starts what is due (within a batch), as far as the bound on probes
    /// in flight allows.
    fn start_due(&mut self, running: &mut FuturesUnordered<Running>, now: Instant) {
        let current = self.bucket(now);
        'start: while running.len() < super::MAX_CONCURRENT_PROBES {
            let Some(mut bucket) = self.due.first_entry() else {
                break;
            };
            if *bucket.key() > current {
                break;
            }
            while let Some((i, generation)) = bucket.get_mut().pop() {
                if running.len() >= super::MAX_CONCURRENT_PROBES {
                    break 'start;
                }
                let s = &mut self.slots[i];
                if s.generation != generation {
                    continue;
                }
                let Some(mut prober) = s.prober.take() else {
                    continue;
                };
                self.probes += 1;
                s.started = now;
                s.probe = self.probes;
                s.deadline.passed.store(false, Ordering::Release);
                let deadline = Passed(s.deadline.clone());
                let timeout = s.spec.timeout;
                self.deadlines.entry(timeout).or_default().push_back((
                    now + timeout,
                    i,
                    self.probes,
                ));
                running.push(Box::pin(async move {
                    let result = prober.probe_until(deadline).await;
                    (i, generation, prober, result)
                }));
            }
            bucket.remove();
        }
    }
}

/// Records `done` and every other result that is in, under one lock,
/// reschedules their checks, and publishes what changed.
fn record_done(
    shared: &Shared,
    schedule: &mut Schedule,
    running: &mut FuturesUnordered<Running>,
    done: (usize, u32, Prober, ProbeResult),
) {
    let wall = SystemTime::now();
    let now = Instant::now();
    let mut events = Vec::new();
    {
        let mut state = lock(&shared.state);
        let probes = shared
            .probe_events
            .load(std::sync::atomic::Ordering::Relaxed);
        let mut next = Some(done);
        while let Some((i, generation, prober, result)) = next {
            let s = &mut schedule.slots[i];
            if s.generation == generation {
                // Its deadline entry is left to expire (a no-op then):
                // cheaper than finding it in the heap.
                events.extend(if probes {
                    state.record(&s.spec, result, wall)
                } else {
                    state.record_change(&s.spec, result, wall)
                });
                s.prober = Some(prober);
                let started = s.started;
                schedule.reschedule(i, started, now);
            }
            next = futures_util::FutureExt::now_or_never(running.next()).flatten();
        }
    }
    shared.publish(events);
}

/// Runs the checks that `configs` names (each message the whole set) until
/// the sender is dropped.
pub(super) async fn run(
    shared: Arc<Shared>,
    syn: Arc<SynSockets>,
    mut configs: mpsc::UnboundedReceiver<Vec<Arc<CheckSpec>>>,
) {
    let mut schedule = Schedule {
        slots: Vec::new(),
        free: Vec::new(),
        by_spec: BTreeMap::new(),
        due: BTreeMap::new(),
        epoch: Instant::now(),
        deadlines: BTreeMap::new(),
        probes: 0,
        syn,
    };
    let mut running: FuturesUnordered<Running> = FuturesUnordered::new();
    let far = Duration::from_secs(3600);
    let sleep = tokio::time::sleep(far);
    tokio::pin!(sleep);
    loop {
        let now = Instant::now();
        schedule.expire(now);
        schedule.start_due(&mut running, now);
        let mut wake = match schedule.next_due() {
            Some(at) if running.len() < super::MAX_CONCURRENT_PROBES => at,
            _ => now + far,
        };
        if let Some(at) = schedule.next_deadline() {
            // Most entries are of probes that ended: checked with the
            // next batch, not woken for one by one.
            wake = wake.min(at + BATCH);
        }
        if sleep.deadline() != wake {
            sleep.as_mut().reset(wake);
        }
        tokio::select! {
            biased;
            done = running.next(), if !running.is_empty() => {
                let Some(done) = done else { continue };
                record_done(&shared, &mut schedule, &mut running, done);
            }
            config = configs.recv() => match config {
                Some(specs) => schedule.configure(specs, Instant::now()),
                None => return,
            },
            _ = &mut sleep => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_spread_but_never_more_than_an_interval_apart() {
        let interval = Duration::from_secs(2);
        let t0 = Instant::now();
        let mut started = t0;
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let n = 10_000;
        let (mut earliest, mut latest) = (interval, Duration::ZERO);
        for _ in 0..n {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let r = (rng >> 11) as f64 / (1u64 << 53) as f64;
            // A probe of 1 ms.
            let at = next_start(interval, started, started + Duration::from_millis(1), r);
            let gap = at - started;
            assert!(gap <= interval, "gap {gap:?}");
            earliest = earliest.min(gap);
            latest = latest.max(gap);
            started = at;
        }
        // Spread over a tenth of the interval, about 0.95 of it on average.
        assert!(earliest < interval.mul_f64(0.91), "{earliest:?}");
        assert!(latest > interval.mul_f64(0.99), "{latest:?}");
        let mean = (started - t0).as_secs_f64() / n as f64 / interval.as_secs_f64();
        assert!((0.94..0.96).contains(&mean), "mean gap {mean} intervals");
    }

    #[test]
    fn a_probe_that_ran_long_is_followed_at_once() {
        let interval = Duration::from_millis(200);
        let t0 = Instant::now();
        // A probe that took its whole 200 ms timeout and some.
        let now = t0 + Duration::from_millis(230);
        assert_eq!(next_start(interval, t0, now, 0.5), now);
        assert_eq!(next_start(interval, t0, t0, 0.0), t0 + interval);
    }

    #[test]
    fn a_probe_in_flight_is_small() {
        // Every probe started is a heap allocation of this size: the kinds
        // that need large state machines (connecting, TLS, DNS, SYN) box
        // them, so that a probe on a kept-alive connection stays small.
        let d: crate::director::config::DestinationConfig = serde_json::from_str(
            r#"{"address": "127.0.0.1", "port": 1, "checks": [{"type": "http"}]}"#,
        )
        .unwrap();
        let mut prober = Prober::new(d.checks[0].spec(&d).unwrap());
        let deadline = Passed(Arc::default());
        let probe = async move { prober.probe_until(deadline).await };
        assert!(
            std::mem::size_of_val(&probe) < 1024,
            "{} bytes",
            std::mem::size_of_val(&probe)
        );
    }
}

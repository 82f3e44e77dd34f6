//! What the probes of one check did: counts, a duration histogram and
//! failures by cause, kept by [`DirectorState`](super::DirectorState) and
//! shown in its status and the metrics.

use super::check::{FailureCause, ProbeResult};
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;
use std::time::Duration;

/// Upper bounds of the buckets of [`ProbeStats`]'s duration histogram
/// (a probe slower than the last counts only in the total).
pub const PROBE_DURATION_BUCKETS: [Duration; 14] = [
    Duration::from_micros(500),
    Duration::from_millis(1),
    Duration::from_micros(2_500),
    Duration::from_millis(5),
    Duration::from_millis(10),
    Duration::from_millis(25),
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_millis(2_500),
    Duration::from_secs(5),
    Duration::from_secs(10),
];

/// What the probes of one check did: how many, how long they took (a
/// histogram over [`PROBE_DURATION_BUCKETS`]) and why those that failed
/// failed. Kept while the check stays in the configuration.
///
/// ```
/// use cue::director::check::{FailureCause, ProbeResult};
/// use cue::director::state::ProbeStats;
/// use std::time::Duration;
/// let mut stats = ProbeStats::default();
/// stats.record(&ProbeResult::passed("200", Duration::from_millis(3)));
/// stats.record(&ProbeResult::failed("status 503 not expected", Duration::from_millis(40)));
/// assert_eq!((stats.probes, stats.failures()), (2, 1));
/// assert_eq!(stats.failures_by(FailureCause::Status), 1);
/// // Cumulative, as Prometheus counts: 3 ms is within 5 ms, both within 50 ms.
/// let within = |ms| stats.cumulative().find(|(b, _)| *b == Duration::from_millis(ms)).unwrap().1;
/// assert_eq!((within(1), within(5), within(50)), (0, 1, 2));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeStats {
    /// Probes finished.
    pub probes: u64,
    /// Failures, in the order of [`FailureCause::ALL`].
    pub by_cause: [u64; FailureCause::ALL.len()],
    /// Probes per bucket of [`PROBE_DURATION_BUCKETS`] (not cumulative:
    /// each probe counts in the first bucket that holds it).
    pub buckets: [u64; PROBE_DURATION_BUCKETS.len()],
    /// The durations added up.
    pub duration_sum: Duration,
}

impl ProbeStats {
    /// Counts one probe.
    pub fn record(&mut self, r: &ProbeResult) {
        self.probes += 1;
        self.duration_sum += r.took;
        if let Some(i) = PROBE_DURATION_BUCKETS.iter().position(|b| r.took <= *b) {
            self.buckets[i] += 1;
        }
        if !r.ok {
            let cause = r.cause.unwrap_or_else(|| FailureCause::of(&r.diagnostic));
            self.by_cause[cause as usize] += 1;
        }
    }

    /// Failures of every cause.
    pub fn failures(&self) -> u64 {
        self.by_cause.iter().sum()
    }

    /// Failures of one cause.
    pub fn failures_by(&self, cause: FailureCause) -> u64 {
        self.by_cause[cause as usize]
    }

    /// Each bucket's upper bound with the probes that took that long or
    /// less (cumulative, as Prometheus histograms are).
    pub fn cumulative(&self) -> impl Iterator<Item = (Duration, u64)> + '_ {
        PROBE_DURATION_BUCKETS
            .iter()
            .zip(self.buckets.iter().scan(0, |sum, n| {
                *sum += n;
                Some(*sum)
            }))
            .map(|(b, n)| (*b, n))
    }
}

impl Serialize for ProbeStats {
    /// `{"probes": N, "failures": {"timeout": N, ...}, "duration_ms": F}`:
    /// the causes that happened, the durations added up.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let failures: BTreeMap<&str, u64> = FailureCause::ALL
            .iter()
            .filter(|c| self.failures_by(**c) > 0)
            .map(|c| (c.as_str(), self.failures_by(*c)))
            .collect();
        let mut st = s.serialize_struct("ProbeStats", 3)?;
        st.serialize_field("probes", &self.probes)?;
        st.serialize_field("failures", &failures)?;
        st.serialize_field("duration_ms", &(self.duration_sum.as_secs_f64() * 1e3))?;
        st.end()
    }
}

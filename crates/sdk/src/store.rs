//! What the SDK keeps between runs (`state.json`): the day aggregates not
//! yet turned into reports, the upload backoff, the error counters, and the
//! local-DP and activity memories.

use std::collections::BTreeMap;

use candor_protocol::Day;
use candor_schema::Metric;
use serde::{Deserialize, Serialize};

use crate::activity::ActivityMemo;
pub(crate) use crate::metrics::Acc;

/// The aggregates of one purpose on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DayEntry {
    pub(crate) purpose: String,
    pub(crate) day: Day,
    pub(crate) metrics: BTreeMap<String, Acc>,
}

impl DayEntry {
    /// Adds a metric's value to this day's aggregates; returns how many
    /// domains were dropped over the per-day cap.
    pub(crate) fn add(&mut self, metric: &str, acc: Acc) -> usize {
        match self.metrics.get_mut(metric) {
            Some(existing) => existing.merge(acc),
            None => {
                self.metrics.insert(metric.to_owned(), acc);
                0
            }
        }
    }
}

/// Upload retry state, persisted so a restart does not hammer the collector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Backoff {
    /// Consecutive failed attempts.
    pub(crate) failures: u32,
    /// No attempt before this Unix time.
    pub(crate) next_attempt: i64,
}

/// The whole of `state.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct State {
    /// (purpose, day) → aggregates, kept sorted for deterministic files.
    #[serde(default)]
    pub(crate) days: Vec<DayEntry>,
    #[serde(default)]
    pub(crate) backoff: Backoff,
    /// Metric id (or `*` for the SDK as a whole) → error code → count.
    #[serde(default)]
    pub(crate) errors: BTreeMap<String, BTreeMap<String, u64>>,
    /// Local-DP metric id → what the device remembers of it.
    #[serde(default)]
    pub(crate) ldp: BTreeMap<String, LdpMemo>,
    /// Activity metric id → its last active day and install week.
    #[serde(default)]
    pub(crate) activity: BTreeMap<String, ActivityMemo>,
}

/// What the device remembers of one local-DP metric, so that its reports
/// never leak more than one randomized answer per true value (RAPPOR's
/// *permanent* randomized response) and the metric is sent on every
/// reported day, not only on days it was set (so presence says nothing).
/// Never leaves the device; deleted with the purpose's data on revocation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LdpMemo {
    /// The last true value recorded (index: `false` = 0, `true` = 1, or the
    /// category's index in the schema).
    #[serde(default)]
    pub(crate) last: Option<u32>,
    /// True value → the randomized answer drawn for it, once.
    #[serde(default)]
    pub(crate) answers: BTreeMap<u32, u32>,
}

impl State {
    /// Adds a harvested value of `metric` to (purpose, day); an activity
    /// cell becomes that day's flags here, from (and into) the device's
    /// activity memory. Returns how many domains were dropped over the
    /// per-day cap.
    pub(crate) fn add(&mut self, purpose: &str, day: Day, metric: &Metric, acc: Acc) -> usize {
        let acc = match (acc, metric.kind.cohort_weeks()) {
            (Acc::Used, Some(weeks)) => {
                let memo = self.activity.entry(metric.id.clone()).or_default();
                match memo.record(day, weeks) {
                    Some(activity) => Acc::Activity(activity),
                    // A day before the install week: the clock is wrong.
                    None => return 0,
                }
            }
            (Acc::Used, None) => return 0,
            (acc, _) => acc,
        };
        self.entry(purpose, day).add(&metric.id, acc)
    }

    /// The entry for (purpose, day), created if missing.
    pub(crate) fn entry(&mut self, purpose: &str, day: Day) -> &mut DayEntry {
        let at = self
            .days
            .binary_search_by(|e| (e.purpose.as_str(), e.day).cmp(&(purpose, day)));
        let i = match at {
            Ok(i) => i,
            Err(i) => {
                self.days.insert(
                    i,
                    DayEntry {
                        purpose: purpose.to_owned(),
                        day,
                        metrics: BTreeMap::new(),
                    },
                );
                i
            }
        };
        &mut self.days[i]
    }
}

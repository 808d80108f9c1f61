//! Typed metric handles and the lock-free cells behind them.
//!
//! A handle is looked up once by metric id and then used on the hot path:
//! a recording call checks the purpose's consent gate (one atomic load),
//! validates its input against the schema, and adds to an atomic cell. No
//! I/O, no global lock; only `domain_set` takes a per-metric mutex.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use candor_protocol::{Activity, MetricValue};
use candor_schema::{Metric, MetricKind};
use serde::{Deserialize, Serialize};

use crate::engine::Inner;
use crate::errors::{ErrorCounters, ErrorKind};
use crate::sanitize;

/// Largest value one recording call may add; larger ones are refused as
/// [`ErrorKind::Overflow`] so that sums cannot wrap.
pub const MAX_INCREMENT: i64 = u32::MAX as i64;

/// The in-memory accumulator of one metric for the current day.
#[derive(Debug)]
pub(crate) enum Cell {
    Counter(AtomicU64),
    LabeledCounter(Box<[AtomicU64]>),
    /// 0 = unset, 1 = false, 2 = true.
    Boolean(AtomicU8),
    /// 0 = unset, i + 1 = category i.
    Category(AtomicU32),
    Distribution(Box<[AtomicU64]>),
    DomainSet(Mutex<BTreeSet<String>>),
    /// Whether the host said the app was in use today.
    Activity(AtomicBool),
}

fn zeros(n: usize) -> Box<[AtomicU64]> {
    (0..n).map(|_| AtomicU64::new(0)).collect()
}

/// Everything the SDK holds for one metric of the schema.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) metric: Metric,
    /// Index of the metric's purpose in the engine's gate list.
    pub(crate) purpose: usize,
    pub(crate) cell: Cell,
    /// Label or category → index, for closed sets.
    pub(crate) index: HashMap<String, u32>,
    pub(crate) errors: ErrorCounters,
}

impl Slot {
    pub(crate) fn new(metric: Metric, purpose: usize) -> Self {
        let cell = match &metric.kind {
            MetricKind::Counter => Cell::Counter(AtomicU64::new(0)),
            MetricKind::LabeledCounter { labels } => Cell::LabeledCounter(zeros(labels.len())),
            MetricKind::Boolean => Cell::Boolean(AtomicU8::new(0)),
            MetricKind::Category { .. } => Cell::Category(AtomicU32::new(0)),
            MetricKind::Distribution { buckets } => Cell::Distribution(zeros(buckets.len() + 1)),
            MetricKind::DomainSet => Cell::DomainSet(Mutex::new(BTreeSet::new())),
            MetricKind::Activity { .. } => Cell::Activity(AtomicBool::new(false)),
            // A metric type this SDK version does not know cannot be
            // recorded; the cell stays empty and is never reported.
            #[allow(unreachable_patterns)]
            _ => Cell::Counter(AtomicU64::new(0)),
        };
        // Label or category → index, for closed sets.
        let names = metric.closed_set().unwrap_or_default();
        let index = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as u32))
            .collect();
        Slot {
            metric,
            purpose,
            cell,
            index,
            errors: ErrorCounters::default(),
        }
    }

    /// Takes the cell's value, leaving it empty. `None` when nothing was recorded.
    pub(crate) fn take(&self) -> Option<Acc> {
        let take_all = |cells: &[AtomicU64]| -> Option<Vec<u64>> {
            let v: Vec<u64> = cells.iter().map(|c| c.swap(0, Ordering::AcqRel)).collect();
            v.iter().any(|&x| x > 0).then_some(v)
        };
        match &self.cell {
            Cell::Counter(c) => match c.swap(0, Ordering::AcqRel) {
                0 => None,
                n => Some(Acc::Counter(n)),
            },
            Cell::LabeledCounter(cells) => take_all(cells).map(Acc::LabeledCounter),
            Cell::Boolean(b) => match b.swap(0, Ordering::AcqRel) {
                0 => None,
                v => Some(Acc::Boolean(v == 2)),
            },
            Cell::Category(c) => match c.swap(0, Ordering::AcqRel) {
                0 => None,
                v => Some(Acc::Category(v - 1)),
            },
            Cell::Distribution(cells) => take_all(cells).map(Acc::Distribution),
            Cell::DomainSet(set) => {
                let mut set = set.lock().unwrap_or_else(|p| p.into_inner());
                (!set.is_empty()).then(|| Acc::DomainSet(std::mem::take(&mut *set)))
            }
            Cell::Activity(used) => used.swap(false, Ordering::AcqRel).then_some(Acc::Used),
        }
    }

    fn error(&self, kind: ErrorKind) {
        self.errors.add(kind, 1);
    }
}

/// What a handle resolved to when it was looked up.
#[derive(Clone)]
enum Target {
    Slot(Arc<Slot>),
    /// The id names a metric of another type: every use counts `wrong_type`.
    WrongType(Arc<Slot>),
    /// The id is not in the schema: every use counts `unknown_metric`.
    Unknown(Arc<str>),
}

/// The shared part of every typed handle.
#[derive(Clone)]
struct Handle {
    inner: Arc<Inner>,
    target: Target,
    private: bool,
}

impl Handle {
    fn new(inner: &Arc<Inner>, id: &str, wanted: &str) -> Self {
        let target = match inner.slot(id) {
            Some(slot) if slot.metric.kind.type_name() == wanted => Target::Slot(slot.clone()),
            Some(slot) => Target::WrongType(slot.clone()),
            None => Target::Unknown(id.into()),
        };
        Handle {
            inner: inner.clone(),
            target,
            private: false,
        }
    }

    /// The slot to record into if recording is allowed now; counts the
    /// handle's own errors. Consent is checked first, so that without
    /// consent a call leaves no trace at all, not even an error count.
    #[inline]
    fn gate(&self) -> Option<&Slot> {
        match &self.target {
            Target::Slot(slot) => {
                if self.inner.may_record(slot.purpose, self.private) {
                    self.inner.roll_day();
                    Some(slot)
                } else {
                    None
                }
            }
            Target::WrongType(slot) => {
                if self.inner.may_record(slot.purpose, self.private) {
                    slot.error(ErrorKind::WrongType);
                }
                None
            }
            Target::Unknown(id) => {
                self.inner.unknown_metric(id);
                None
            }
        }
    }
}

macro_rules! handle_common {
    ($t:ident) => {
        impl $t {
            /// A copy of this handle that records as from a private browsing
            /// context: it records nothing unless the metric's purpose is
            /// `allowed_in_private_mode`.
            pub fn private(&self, private: bool) -> Self {
                let mut h = self.clone();
                h.0.private = private;
                h
            }
        }
    };
}

fn checked_amount(slot: &Slot, n: i64) -> Option<u64> {
    if n < 0 {
        slot.error(ErrorKind::NegativeValue);
        None
    } else if n > MAX_INCREMENT {
        slot.error(ErrorKind::Overflow);
        None
    } else {
        Some(n as u64)
    }
}

/// A `counter` metric: how many times something happened.
#[derive(Clone)]
pub struct CounterMetric(Handle);
handle_common!(CounterMetric);

impl CounterMetric {
    pub(crate) fn new(inner: &Arc<Inner>, id: &str) -> Self {
        CounterMetric(Handle::new(inner, id, "counter"))
    }

    /// Adds `n` (0 ..= [`MAX_INCREMENT`]).
    #[inline]
    pub fn add(&self, n: i64) {
        if let Some(slot) = self.0.gate()
            && let Some(n) = checked_amount(slot, n)
            && let Cell::Counter(c) = &slot.cell
        {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }
}

/// A `labeled_counter` metric: counts per label from a closed set.
#[derive(Clone)]
pub struct LabeledCounterMetric(Handle);
handle_common!(LabeledCounterMetric);

impl LabeledCounterMetric {
    pub(crate) fn new(inner: &Arc<Inner>, id: &str) -> Self {
        LabeledCounterMetric(Handle::new(inner, id, "labeled_counter"))
    }

    /// Adds `n` to `label`; a label outside the schema's set counts
    /// `unknown_label` and records nothing.
    #[inline]
    pub fn add(&self, label: &str, n: i64) {
        if let Some(slot) = self.0.gate() {
            let Some(&i) = slot.index.get(label) else {
                slot.error(ErrorKind::UnknownLabel);
                return;
            };
            if let Some(n) = checked_amount(slot, n)
                && let Cell::LabeledCounter(cells) = &slot.cell
            {
                cells[i as usize].fetch_add(n, Ordering::Relaxed);
            }
        }
    }
}

impl LabeledCounterMetric {
    /// A handle on one label, resolved once: its `add` skips the label
    /// lookup, and from other languages the label no longer crosses the
    /// FFI boundary as a string on every call. A label outside the
    /// schema's set gives a handle whose every add counts `unknown_label`.
    pub fn label(&self, label: &str) -> LabelMetric {
        let index = match &self.0.target {
            Target::Slot(slot) => slot.index.get(label).copied(),
            _ => None,
        };
        LabelMetric {
            handle: self.0.clone(),
            index,
        }
    }
}

/// One label of a `labeled_counter` metric
/// ([`LabeledCounterMetric::label`]).
#[derive(Clone)]
pub struct LabelMetric {
    handle: Handle,
    /// The label's index, `None` when the schema does not list it.
    index: Option<u32>,
}

impl LabelMetric {
    /// Adds `n` to the label, like [`LabeledCounterMetric::add`].
    #[inline]
    pub fn add(&self, n: i64) {
        if let Some(slot) = self.handle.gate() {
            let Some(i) = self.index else {
                slot.error(ErrorKind::UnknownLabel);
                return;
            };
            if let Some(n) = checked_amount(slot, n)
                && let Cell::LabeledCounter(cells) = &slot.cell
            {
                cells[i as usize].fetch_add(n, Ordering::Relaxed);
            }
        }
    }

    /// A copy that records as from a private browsing context (see
    /// [`LabeledCounterMetric::private`]).
    pub fn private(&self, private: bool) -> Self {
        let mut h = self.clone();
        h.handle.private = private;
        h
    }
}

/// A `boolean` metric: a yes/no state, the last value of the day wins.
#[derive(Clone)]
pub struct BooleanMetric(Handle);
handle_common!(BooleanMetric);

impl BooleanMetric {
    pub(crate) fn new(inner: &Arc<Inner>, id: &str) -> Self {
        BooleanMetric(Handle::new(inner, id, "boolean"))
    }

    /// Sets the value.
    #[inline]
    pub fn set(&self, value: bool) {
        if let Some(slot) = self.0.gate()
            && let Cell::Boolean(b) = &slot.cell
        {
            b.store(if value { 2 } else { 1 }, Ordering::Relaxed);
        }
    }
}

/// A `category` metric: one value of a closed set, the last of the day wins.
#[derive(Clone)]
pub struct CategoryMetric(Handle);
handle_common!(CategoryMetric);

impl CategoryMetric {
    pub(crate) fn new(inner: &Arc<Inner>, id: &str) -> Self {
        CategoryMetric(Handle::new(inner, id, "category"))
    }

    /// Sets the category; one outside the schema's set counts
    /// `unknown_label` and records nothing.
    #[inline]
    pub fn set(&self, category: &str) {
        if let Some(slot) = self.0.gate() {
            match (slot.index.get(category), &slot.cell) {
                (Some(&i), Cell::Category(c)) => c.store(i + 1, Ordering::Relaxed),
                _ => slot.error(ErrorKind::UnknownLabel),
            }
        }
    }
}

/// A `distribution` metric: samples counted into the schema's buckets.
#[derive(Clone)]
pub struct DistributionMetric(Handle);
handle_common!(DistributionMetric);

impl DistributionMetric {
    pub(crate) fn new(inner: &Arc<Inner>, id: &str) -> Self {
        DistributionMetric(Handle::new(inner, id, "distribution"))
    }

    /// Counts one sample (≥ 0) into its bucket.
    #[inline]
    pub fn accumulate(&self, sample: i64) {
        if let Some(slot) = self.0.gate()
            && let Some(v) = checked_amount(slot, sample)
            && let Cell::Distribution(cells) = &slot.cell
            && let Some(i) = slot.metric.bucket_index(v)
        {
            cells[i].fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A `domain_set` metric: the registrable domains of URLs, each at most once a day.
#[derive(Clone)]
pub struct DomainSetMetric(Handle);
handle_common!(DomainSetMetric);

impl DomainSetMetric {
    pub(crate) fn new(inner: &Arc<Inner>, id: &str) -> Self {
        DomainSetMetric(Handle::new(inner, id, "domain_set"))
    }

    /// Records the registrable domain of `url`. The URL itself is never
    /// stored: it is reduced to its eTLD+1 here, and IP literals, localhost,
    /// private and single-label hosts and non-web schemes are dropped and
    /// counted (`url_dropped`).
    pub fn record_url(&self, url: &str) {
        if let Some(slot) = self.0.gate() {
            match sanitize::registrable_domain(url) {
                Ok(domain) => {
                    if let Cell::DomainSet(set) = &slot.cell {
                        let mut set = set.lock().unwrap_or_else(|p| p.into_inner());
                        if set.len() < MAX_DOMAINS_PER_DAY || set.contains(&domain) {
                            set.insert(domain);
                        } else {
                            slot.error(ErrorKind::Overflow);
                        }
                    }
                }
                Err(rejection) => {
                    slot.error(ErrorKind::UrlDropped);
                    self.0.inner.url_dropped(rejection);
                }
            }
        }
    }
}

/// An `activity` metric: the days the app is in use, from which the device
/// derives (and the collector adds up) active devices, new devices and
/// retention without any identifier (docs/wire.md §2.5).
#[derive(Clone)]
pub struct ActivityMetric(Handle);
handle_common!(ActivityMetric);

impl ActivityMetric {
    pub(crate) fn new(inner: &Arc<Inner>, id: &str) -> Self {
        ActivityMetric(Handle::new(inner, id, "activity"))
    }

    /// Says the app is in use now. Cheap (one atomic store once the
    /// consent gate is open), callable from any thread, as often as
    /// convenient: a day counts once.
    #[inline]
    pub fn active(&self) {
        if let Some(slot) = self.0.gate()
            && let Cell::Activity(used) = &slot.cell
        {
            used.store(true, Ordering::Relaxed);
        }
    }
}

/// One metric's accumulated value for one day, before clamping and local DP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub(crate) enum Acc {
    Counter(u64),
    /// Counts indexed like the schema's labels.
    LabeledCounter(Vec<u64>),
    Boolean(bool),
    /// Index into the schema's categories.
    Category(u32),
    /// Counts indexed like the schema's buckets (n bounds, n + 1 buckets).
    Distribution(Vec<u64>),
    DomainSet(BTreeSet<String>),
    /// An activity metric's cell, taken before its day's flags were
    /// derived (never persisted: the harvest turns it into `Activity`).
    Used,
    /// An activity metric's day, with the flags the device's memory derived.
    Activity(Activity),
}

/// Most distinct domains kept per metric and day; more are counted and dropped.
pub(crate) const MAX_DOMAINS_PER_DAY: usize = 1000;

impl Acc {
    /// Merges `newer` into `self` (same variant): counts add, sets unite,
    /// and the latest boolean or category wins.
    pub(crate) fn merge(&mut self, newer: Acc) -> usize {
        let mut dropped = 0;
        match (self, newer) {
            (Acc::Counter(a), Acc::Counter(b)) => *a = a.saturating_add(b),
            (Acc::LabeledCounter(a), Acc::LabeledCounter(b))
            | (Acc::Distribution(a), Acc::Distribution(b)) => {
                for (x, y) in a.iter_mut().zip(b) {
                    *x = x.saturating_add(y);
                }
            }
            (Acc::Boolean(a), Acc::Boolean(b)) => *a = b,
            (Acc::Category(a), Acc::Category(b)) => *a = b,
            (Acc::Activity(a), Acc::Activity(b)) => crate::activity::merge(a, b),
            (Acc::DomainSet(a), Acc::DomainSet(b)) => {
                for d in b {
                    if a.len() < MAX_DOMAINS_PER_DAY || a.contains(&d) {
                        a.insert(d);
                    } else {
                        dropped += 1;
                    }
                }
            }
            // Variants come from the schema's fixed metric types, so a
            // mismatch can only come from a hand-edited state file: keep the
            // existing value.
            _ => {}
        }
        dropped
    }
}

impl Acc {
    /// The day's value as it goes on the wire, before clamping: labels,
    /// categories and buckets named by the schema's `metric`. `None` when
    /// the accumulator does not fit the metric (a hand-edited state file).
    pub(crate) fn into_value(self, metric: &Metric) -> Option<MetricValue> {
        Some(match self {
            Acc::Counter(n) => MetricValue::Counter(n),
            Acc::LabeledCounter(counts) => MetricValue::LabeledCounter(
                metric
                    .closed_set()?
                    .iter()
                    .zip(counts)
                    .filter(|(_, c)| *c > 0)
                    .map(|(l, c)| (l.clone(), c))
                    .collect(),
            ),
            Acc::Boolean(b) => MetricValue::Boolean(b),
            Acc::Category(i) => {
                MetricValue::Category(metric.closed_set()?.get(i as usize)?.clone())
            }
            Acc::Distribution(mut counts) => {
                counts.resize(metric.kind.buckets()?.len() + 1, 0);
                MetricValue::Distribution(counts)
            }
            Acc::DomainSet(set) => MetricValue::DomainSet(set),
            Acc::Activity(a) => MetricValue::Activity(a),
            Acc::Used => return None,
        })
    }

    /// The index of a one-answer value (a boolean as 0/1, a category's
    /// position), what local DP randomizes and remembers; `None` for the
    /// other types.
    pub(crate) fn choice(&self) -> Option<u32> {
        match self {
            Acc::Boolean(b) => Some(u32::from(*b)),
            Acc::Category(i) => Some(*i),
            _ => None,
        }
    }
}

/// The handle constructors, one per metric type (beside the handles).
impl crate::Candor {
    /// A handle for a `counter` metric (look it up once, use it often).
    pub fn counter(&self, id: &str) -> CounterMetric {
        CounterMetric::new(&self.inner, id)
    }

    /// A handle for a `labeled_counter` metric.
    pub fn labeled_counter(&self, id: &str) -> LabeledCounterMetric {
        LabeledCounterMetric::new(&self.inner, id)
    }

    /// A handle for a `boolean` metric.
    pub fn boolean(&self, id: &str) -> BooleanMetric {
        BooleanMetric::new(&self.inner, id)
    }

    /// A handle for a `category` metric.
    pub fn category(&self, id: &str) -> CategoryMetric {
        CategoryMetric::new(&self.inner, id)
    }

    /// A handle for a `distribution` metric.
    pub fn distribution(&self, id: &str) -> DistributionMetric {
        DistributionMetric::new(&self.inner, id)
    }

    /// A handle for a `domain_set` metric.
    pub fn domain_set(&self, id: &str) -> DomainSetMetric {
        DomainSetMetric::new(&self.inner, id)
    }

    /// A handle for an `activity` metric.
    pub fn activity(&self, id: &str) -> ActivityMetric {
        ActivityMetric::new(&self.inner, id)
    }
}

#[cfg(test)]
mod tests {
    /// Handles cross threads freely: the host app records from anywhere.
    #[test]
    fn handles_are_send_sync_and_clone() {
        fn check<T: Send + Sync + Clone>() {}
        check::<crate::Candor>();
        check::<super::CounterMetric>();
        check::<super::LabeledCounterMetric>();
        check::<super::LabelMetric>();
        check::<super::BooleanMetric>();
        check::<super::CategoryMetric>();
        check::<super::DistributionMetric>();
        check::<super::DomainSetMetric>();
        check::<super::ActivityMetric>();
    }
}

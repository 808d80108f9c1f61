//! Typed metric handles and the lock-free cells behind them.
//!
//! A handle is looked up once by metric id and then used on the hot path:
//! a recording call checks the purpose's consent gate (one atomic load),
//! validates its input against the schema, and adds to an atomic cell. No
//! I/O, no global lock; only `domain_set` takes a per-metric mutex.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use candor_schema::{Metric, MetricKind};

use crate::engine::Inner;
use crate::errors::{ErrorCounters, ErrorKind};
use crate::sanitize;
use crate::store::{Acc, MAX_DOMAINS_PER_DAY};

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

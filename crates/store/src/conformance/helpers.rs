//! What the cases share: deterministic randomness, keys, reports, rows,
//! the model of the contract, and the releases the budget cases record.

use std::collections::{BTreeMap, HashMap};

use crate::audit::AuditRecord;
use crate::{
    AggregateRow, BudgetCharge, BudgetFilter, BudgetLimits, CommitOutcome, Contribution, DayNumber,
    NewRelease, ReportCount, ReportDelta, RowFilter, RowKey, Store,
};

pub(super) const SCHEMA: &str = "org.example.browser";

/// Xorshift64: deterministic, dependency-free randomness for the suite.
pub(super) struct XorShift(pub(super) u64);

impl XorShift {
    pub(super) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform enough in `0..n` for a test (n small, n > 0).
    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

pub(super) fn key(
    schema_id: &str,
    day: DayNumber,
    purpose: &str,
    consent_version: u32,
    metric: &str,
    dimensions: &str,
    cell: &str,
) -> RowKey {
    RowKey {
        schema_id: schema_id.into(),
        day,
        purpose: purpose.into(),
        consent_version,
        metric: metric.into(),
        dimensions: dimensions.into(),
        cell: cell.into(),
    }
}

/// A report whose 16-byte id encodes `n` (and a constant tag, so ids are
/// not mostly zero bytes).
pub(super) fn report(
    n: u64,
    schema_id: &str,
    day: DayNumber,
    purpose: &str,
    contributions: &[(&RowKey, i64)],
) -> ReportDelta {
    let mut report_id = [0xA5; 16];
    report_id[..8].copy_from_slice(&n.to_be_bytes());
    ReportDelta {
        report_id,
        day,
        schema_id: schema_id.into(),
        purpose: purpose.into(),
        contributions: contributions
            .iter()
            .map(|(key, value)| Contribution {
                key: (*key).clone(),
                value: *value,
            })
            .collect(),
    }
}

pub(super) fn row(key: &RowKey, sum: i64, contributors: i64) -> AggregateRow {
    AggregateRow {
        key: key.clone(),
        sum,
        contributors,
    }
}

pub(super) fn count(schema_id: &str, day: DayNumber, purpose: &str, reports: i64) -> ReportCount {
    ReportCount {
        schema_id: schema_id.into(),
        day,
        purpose: purpose.into(),
        reports,
    }
}

pub(super) fn all_rows(store: &dyn Store) -> Vec<AggregateRow> {
    store
        .rows(&RowFilter::default())
        .unwrap_or_else(|e| panic!("reading all rows failed: {e}"))
}

pub(super) fn counts(store: &dyn Store) -> Vec<ReportCount> {
    store
        .report_counts()
        .unwrap_or_else(|e| panic!("reading report counts failed: {e}"))
}

pub(super) fn audit_record(action: &str, n: i64) -> AuditRecord {
    AuditRecord {
        at: 1_800_000_000 + n,
        actor: "analyst-1".into(),
        action: action.into(),
        detail: format!("{{\"n\":{n}}}"),
    }
}

/// Caps of the conformance releases: 1 ε per metric, 1.5 ε and 3·10⁻⁸ δ
/// per purpose and day.
pub(super) const LIMITS: BudgetLimits = BudgetLimits {
    metric_micros: 1_000_000,
    purpose_micros: 1_500_000,
    purpose_femtos: 30_000_000,
};

pub(super) fn release(
    key: &str,
    days: std::ops::RangeInclusive<DayNumber>,
    micros: u64,
) -> NewRelease {
    release_of("app.opened", key, days, micros, 0)
}

pub(super) fn release_of(
    metric: &str,
    key: &str,
    days: std::ops::RangeInclusive<DayNumber>,
    micros: u64,
    femtos: u64,
) -> NewRelease {
    NewRelease {
        cache_key: key.into(),
        answer: format!("answer of {key}"),
        last_day: *days.end(),
        charges: days
            .map(|day| BudgetCharge {
                purpose: "usage".into(),
                metric: metric.into(),
                day,
                micros,
                femtos,
            })
            .collect(),
        limits: LIMITS,
        audit: audit_record("query", 0),
    }
}

pub(super) fn spent(store: &dyn Store) -> Vec<(DayNumber, u64)> {
    store
        .budget(&BudgetFilter::default())
        .expect("read the budget")
        .into_iter()
        .map(|b| (b.day, b.micros))
        .collect()
}

// ---------------------------------------------------------------------------
// The model: the trait's contract, in memory
// ---------------------------------------------------------------------------

/// A plain in-memory implementation of the contract, the oracle of the
/// suite. Not a backend: it does not validate and is not transactional.
#[derive(Debug, Default)]
pub(super) struct Model {
    seen: HashMap<[u8; 16], DayNumber>,
    rows: BTreeMap<RowKey, (i64, i64)>,
    counts: BTreeMap<(String, DayNumber, String), i64>,
}

impl Model {
    pub(super) fn commit(&mut self, batch: &[ReportDelta]) -> Vec<CommitOutcome> {
        let mut outcomes = Vec::with_capacity(batch.len());
        for r in batch {
            if self.seen.contains_key(&r.report_id) {
                outcomes.push(CommitOutcome::Duplicate);
                continue;
            }
            self.seen.insert(r.report_id, r.day);
            let mut touched: Vec<&RowKey> = Vec::new();
            for c in &r.contributions {
                let row = self.rows.entry(c.key.clone()).or_insert((0, 0));
                row.0 += c.value;
                if !touched.contains(&&c.key) {
                    touched.push(&c.key);
                    row.1 += 1;
                }
            }
            *self
                .counts
                .entry((r.schema_id.clone(), r.day, r.purpose.clone()))
                .or_insert(0) += 1;
            outcomes.push(CommitOutcome::Accepted);
        }
        outcomes
    }

    pub(super) fn prune_seen(&mut self, before: DayNumber) -> u64 {
        let n = self.seen.len();
        self.seen.retain(|_, day| *day >= before);
        (n - self.seen.len()) as u64
    }

    pub(super) fn delete_before(&mut self, before: DayNumber) -> u64 {
        let n = self.rows.len();
        self.rows.retain(|k, _| k.day >= before);
        self.counts.retain(|(_, day, _), _| *day >= before);
        (n - self.rows.len()) as u64
    }

    pub(super) fn rows(&self, f: &RowFilter) -> Vec<AggregateRow> {
        self.rows
            .iter()
            .filter(|(k, _)| {
                f.schema_id.as_ref().is_none_or(|s| *s == k.schema_id)
                    && f.metric.as_ref().is_none_or(|m| *m == k.metric)
                    && f.purpose.as_ref().is_none_or(|p| *p == k.purpose)
                    && f.from_day.is_none_or(|d| k.day >= d)
                    && f.to_day.is_none_or(|d| k.day <= d)
            })
            .map(|(k, (sum, contributors))| row(k, *sum, *contributors))
            .collect()
    }

    pub(super) fn counts(&self) -> Vec<ReportCount> {
        self.counts
            .iter()
            .map(|((s, d, p), n)| count(s, *d, p, *n))
            .collect()
    }
}

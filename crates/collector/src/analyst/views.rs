//! The analyst service's typed views: what the API serializes and the
//! dashboard draws, built once here.

use std::collections::BTreeMap;

use candor_privacy::budget::{femtos_to_delta, micros_to_epsilon};
use candor_store::audit::{self, ChainBreak};
use candor_store::{AuditEntry, BudgetSpent, DayNumber, Head};

/// One (purpose, metric, day) line of the budget ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetEntry {
    /// The purpose.
    pub purpose: String,
    /// The metric.
    pub metric: String,
    /// The day charged.
    pub day: DayNumber,
    /// ε spent on the metric that day.
    pub spent: f64,
    /// δ spent on the metric that day.
    pub delta_spent: f64,
    /// ε a new release of the metric could still spend that day: the
    /// metric's cap or the purpose's, whichever is nearer.
    pub remaining: f64,
}

/// What one purpose spent on one day, over all its metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct PurposeDay {
    /// The purpose.
    pub purpose: String,
    /// The day.
    pub day: DayNumber,
    /// ε spent.
    pub spent: f64,
    /// δ spent.
    pub delta_spent: f64,
}

/// A region's budget: its caps and its ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetView {
    /// The region.
    pub region: String,
    /// ε per metric and day.
    pub epsilon_per_metric_day: f64,
    /// ε per purpose and day, over all the purpose's metrics.
    pub epsilon_per_purpose_day: f64,
    /// δ per purpose and day.
    pub delta_per_purpose_day: f64,
    /// The ledger, by purpose, metric and day.
    pub entries: Vec<BudgetEntry>,
    /// Totals per purpose and day.
    pub purposes: Vec<PurposeDay>,
}

impl BudgetView {
    /// The view of `entries` under the tightest caps of `policies` (the
    /// region as each served schema declares it).
    pub(crate) fn new(
        region: &str,
        policies: &[&candor_schema::Region],
        entries: impl Iterator<Item = BudgetSpent>,
    ) -> Self {
        let cap = |f: fn(&candor_schema::Region) -> f64| {
            policies.iter().map(|r| f(r)).fold(f64::INFINITY, f64::min)
        };
        let limit = cap(|r| r.epsilon_per_metric_day);
        let purpose_limit = cap(|r| r.epsilon_per_purpose_day);
        let entries: Vec<BudgetSpent> = entries.collect();
        let mut per_purpose: BTreeMap<(&str, DayNumber), (u64, u64)> = BTreeMap::new();
        for e in &entries {
            let t = per_purpose.entry((e.purpose.as_str(), e.day)).or_default();
            t.0 += e.micros;
            t.1 += e.femtos;
        }
        let rows = entries
            .iter()
            .map(|e| {
                let spent = micros_to_epsilon(e.micros);
                let (purpose_micros, _) = per_purpose[&(e.purpose.as_str(), e.day)];
                let purpose_left = purpose_limit - micros_to_epsilon(purpose_micros);
                BudgetEntry {
                    purpose: e.purpose.clone(),
                    metric: e.metric.clone(),
                    day: e.day,
                    spent,
                    delta_spent: femtos_to_delta(e.femtos),
                    remaining: (limit - spent).min(purpose_left).max(0.0),
                }
            })
            .collect();
        let purposes = per_purpose
            .iter()
            .map(|((purpose, day), (micros, femtos))| PurposeDay {
                purpose: (*purpose).to_owned(),
                day: *day,
                spent: micros_to_epsilon(*micros),
                delta_spent: femtos_to_delta(*femtos),
            })
            .collect();
        BudgetView {
            region: region.to_owned(),
            epsilon_per_metric_day: limit,
            epsilon_per_purpose_day: purpose_limit,
            delta_per_purpose_day: cap(|r| r.delta_per_purpose_day),
            entries: rows,
            purposes,
        }
    }
}

/// A region's audit log, as recorded, with its verification.
#[derive(Debug, Clone)]
pub struct AuditView {
    /// The region.
    pub region: String,
    /// Every entry, oldest first.
    pub entries: Vec<AuditEntry>,
    /// The recorded head, if any entry exists.
    pub head: Option<Head>,
    /// The number of entries that verify, or where the chain breaks.
    pub verified: Result<u64, ChainBreak>,
}

impl AuditView {
    /// Verifies `entries` against `head`.
    pub fn new(region: &str, entries: Vec<AuditEntry>, head: Option<Head>) -> Self {
        let verified = audit::verify(&entries, head, None);
        AuditView {
            region: region.to_owned(),
            entries,
            head,
            verified,
        }
    }
}

/// The last day a release may read, per (region, schema).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedDay {
    /// The region.
    pub region: String,
    /// The schema.
    pub schema: String,
    /// Its last closed day.
    pub last_closed: DayNumber,
}

/// Exact operational counts: not differentially private, for admins only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExactCounts {
    /// Region → purpose → day → reports accepted.
    pub reports: BTreeMap<String, BTreeMap<String, BTreeMap<DayNumber, i64>>>,
    /// (region, code) → reports refused since the collector started.
    pub rejected: BTreeMap<(String, &'static str), u64>,
}

/// The overview page's facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overview {
    /// Today on the collector's clock.
    pub today: DayNumber,
    /// The last closed day per (region, schema) in scope.
    pub closed: Vec<ClosedDay>,
    /// The exact counts, for admins only.
    pub exact: Option<ExactCounts>,
}

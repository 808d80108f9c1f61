//! The release engine: the only door to the stored aggregates.
//!
//! A [`Query`] names a metric, a day range, group-by keys (`day` and the
//! metric's dimensions), dimension filters and, optionally, which cells
//! (labels, categories, buckets) to show. [`release`] answers it:
//!
//! 1. **Scope.** The analyst's token must cover the region and the metric's
//!    purpose (purpose limitation).
//! 2. **Cache.** The normalized query is the cache key: the same question
//!    returns the same numbers and spends nothing.
//! 3. **Budget.** A central-DP release charges ε to every (purpose, metric,
//!    day) of its range; one that would take any day over the region's
//!    `epsilon_per_metric_day` is refused, naming the metric, the days and
//!    what they have left. Charge, cache and audit entry are written in one
//!    transaction ([`candor_store::Store::record_release`]).
//! 4. **Aggregate.** Rows are summed into groups: (day if grouped by day)
//!    × (the grouped dimensions) × cell. Rows of different days or
//!    dimension values come from different reports, so report counts add
//!    up exactly. Reports are not devices, though: a device sends one
//!    report per purpose and day, so over several days the distinct devices
//!    of a group are only known to be at least its largest *daily* report
//!    count, and that lower bound is what k is checked against (one device
//!    reporting every day of a fortnight is one device, not fourteen).
//! 5. **Release each group** (see the table below): suppressed when it has
//!    fewer than the region's `k_min` distinct devices; otherwise noised once
//!    with exact discrete Laplace noise of scale `Δ/ε`, where `Δ` is the
//!    most one report can add to the group's cells (the metric's
//!    `max_per_report`, 1 for booleans and categories). Each report is in
//!    exactly one day and one dimension value, so every group is a disjoint
//!    set of reports (parallel composition), and within a group the cells'
//!    L1 sensitivity is `Δ`. Domains (open set) are released only when the
//!    noisy count passes the threshold `τ(Δ, ε, δ)` of
//!    [`candor_privacy::threshold`], so a domain only one report named
//!    appears with probability at most `δ/Δ`.
//! 6. **Post-processing**: per-group totals over cells and each cell's
//!    share of its total are computed from released values only; they
//!    spend nothing.
//!
//! | metric | mechanism | Δ | budget |
//! |---|---|---|---|
//! | counter, labeled counter, distribution | discrete Laplace | max_per_report | ε per day |
//! | boolean, category (central) | discrete Laplace | 1 | ε per day |
//! | domain set | discrete Laplace + threshold τ | max_per_report | ε per day |
//! | boolean, category (local DP) | randomized-response estimator | — | none: the device spent it |
//!
//! Local-DP metrics arrive randomized; the release debiases them with the
//! estimator that matches the SDK's encoder
//! ([`candor_privacy::ldp::RandomizedResponse::estimate`]), which is
//! post-processing of already-private data, and applies k.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use candor_privacy::budget::{self, BudgetKey, Ledger};
use candor_privacy::dp::DiscreteLaplace;
use candor_privacy::ldp::RandomizedResponse;
use candor_privacy::threshold::{self, OpenSetRule};
use candor_schema::{Metric, MetricKind, Region, Release, Schema};
use candor_store::{
    AuditRecord, BudgetCharge, BudgetFilter, DayNumber, NewRelease, ReleaseOutcome, RowFilter,
    Store, StoreError,
};
use rand_core::Rng;
use serde::{Deserialize, Serialize};

use crate::validate::Registry;

/// The longest day range one query may cover.
pub const MAX_QUERY_DAYS: i32 = 400;

/// The pseudo-dimension that groups by day.
pub const DAY: &str = "day";

/// A question about one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    /// The region.
    pub region: String,
    /// The metric id.
    pub metric: String,
    /// The schema id; needed only when several served schemas declare the metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// First day, `YYYY-MM-DD` (UTC), inclusive.
    pub from: String,
    /// Last day, inclusive.
    pub to: String,
    /// Group by `day` and/or dimension ids; without it, one group.
    #[serde(default)]
    pub group_by: Vec<String>,
    /// Only rows whose dimension takes one of the listed values.
    #[serde(default)]
    pub filters: BTreeMap<String, Vec<String>>,
    /// Only these cells (labels, categories, `true`/`false`, bucket
    /// indices); all when empty. Not for domain sets.
    #[serde(default)]
    pub cells: Vec<String>,
    /// ε to spend per day; the metric's own ε when absent. Ignored by
    /// local-DP metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epsilon: Option<f64>,
}

/// The analyst asking: the token's name and scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The token's name (the audit log's actor).
    pub name: String,
    /// Admin tokens may also manage tokens and read the audit log.
    pub admin: bool,
    /// Regions in scope; empty means all.
    pub regions: Vec<String>,
    /// Purposes in scope; empty means all.
    pub purposes: Vec<String>,
}

impl Scope {
    /// Whether `region` is in scope.
    pub fn allows_region(&self, region: &str) -> bool {
        self.regions.is_empty() || self.regions.iter().any(|r| r == region)
    }

    /// Whether `purpose` is in scope.
    pub fn allows_purpose(&self, purpose: &str) -> bool {
        self.purposes.is_empty() || self.purposes.iter().any(|p| p == purpose)
    }
}

/// One released group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// The day, when grouped by day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<String>,
    /// The grouped dimensions' values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dimensions: BTreeMap<String, String>,
    /// The cell: label, category, `true`/`false`, bucket index, domain;
    /// absent for a counter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell: Option<String>,
    /// For a distribution bucket, its range (`≤ 10`, `10–50`, `> 1000`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// The released value: a noisy integer, or an unbiased estimate.
    pub value: f64,
    /// Its 95% interval.
    pub ci95: [f64; 2],
    /// This cell's share of its group's released total (post-processing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<f64>,
    /// The minimum group size applied.
    pub k: u32,
    /// ε of this release (for local DP: the devices' ε).
    pub epsilon: f64,
    /// `discrete_laplace`, `discrete_laplace_threshold` or `randomized_response`.
    pub mechanism: String,
}

/// A per-group total over the released cells (post-processing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Total {
    /// The day, when grouped by day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<String>,
    /// The grouped dimensions' values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dimensions: BTreeMap<String, String>,
    /// Sum of the released cells' values.
    pub value: f64,
    /// Its 95% interval (the cells' noise is independent, so variances add).
    pub ci95: [f64; 2],
}

/// The answer to a [`Query`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// The query as normalized (its cache key).
    pub query: Query,
    /// The schema id.
    pub schema: String,
    /// The metric's type.
    pub metric_type: String,
    /// The metric's purpose.
    pub purpose: String,
    /// The mechanism of every group.
    pub mechanism: String,
    /// ε per day of this release (local DP: the devices' ε).
    pub epsilon: f64,
    /// δ of the open-set threshold, for domain sets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<f64>,
    /// The region's minimum group size.
    pub k_min: u32,
    /// Δ, the most one report adds to a group's cells.
    pub contribution_bound: u64,
    /// The discrete Laplace scale Δ/ε (central DP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise_scale: Option<f64>,
    /// The open-set threshold τ (domain sets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// The released groups, ordered by day, dimensions, cell.
    pub groups: Vec<Group>,
    /// Per-group totals over released cells (multi-cell metrics).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub totals: Vec<Total>,
    /// How many groups were suppressed (fewer than k contributors). For
    /// domain sets it is not given: the number of rare domains is itself
    /// sensitive.
    pub suppressed: Option<u64>,
    /// ε this call spent per day (0 for a cached or local-DP answer).
    pub epsilon_spent: f64,
    /// The least budget left on any day of the range after this answer.
    pub budget_remaining: f64,
    /// Whether this is the cached answer of an earlier identical query.
    pub cached: bool,
}

/// Why a query was not answered. Nothing was spent or cached.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The query is malformed or names something that does not exist.
    #[error("{message}")]
    Invalid {
        /// Stable code: `invalid_query`, `unknown_region`, `unknown_metric`,
        /// `unknown_dimension`, `unknown_cell`, `invalid_epsilon`.
        code: &'static str,
        /// What exactly.
        message: String,
    },
    /// The token does not cover the region or the purpose.
    #[error("{0}")]
    Forbidden(String),
    /// Some day of the range has too little budget left.
    #[error("{message}")]
    BudgetExhausted {
        /// The whole explanation: metric, days, what is left, what was asked.
        message: String,
    },
    /// The store failed.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
}

impl QueryError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            QueryError::Invalid { code, .. } => code,
            QueryError::Forbidden(_) => "forbidden",
            QueryError::BudgetExhausted { .. } => "budget_exhausted",
            QueryError::Store(_) => "store_unavailable",
        }
    }
}

fn invalid(code: &'static str, message: impl Into<String>) -> QueryError {
    QueryError::Invalid {
        code,
        message: message.into(),
    }
}

/// A day number as `YYYY-MM-DD`.
pub fn format_day(day: DayNumber) -> String {
    let date = time::Date::from_julian_day(EPOCH_JULIAN + day).unwrap_or(time::Date::MIN);
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// Julian day of 1970-01-01.
const EPOCH_JULIAN: i32 = 2_440_588;

/// `YYYY-MM-DD` as a day number.
pub fn parse_day(text: &str) -> Option<DayNumber> {
    candor_protocol::Day::parse(text).map(|d| d.date().to_julian_day() - EPOCH_JULIAN)
}

/// The query's schema, metric and region policy, checked.
struct Plan<'a> {
    schema: &'a Schema,
    metric: &'a Metric,
    region: &'a Region,
    from: DayNumber,
    to: DayNumber,
    group_dims: Vec<String>,
    by_day: bool,
    epsilon: f64,
    query: Query,
}

/// Checks a query against the schemas and the scope and normalizes it.
fn plan<'a>(registry: &'a Registry, scope: &Scope, query: &Query) -> Result<Plan<'a>, QueryError> {
    if !scope.allows_region(&query.region) {
        return Err(QueryError::Forbidden(format!(
            "this token does not cover region {:?}",
            query.region
        )));
    }
    let candidates: Vec<&Schema> = registry
        .all()
        .filter(|s| query.schema.as_ref().is_none_or(|id| &s.id == id))
        .filter(|s| s.metric(&query.metric).is_some())
        .collect();
    let schema = match candidates.as_slice() {
        [one] => *one,
        [] => {
            return Err(invalid(
                "unknown_metric",
                format!("no served schema declares metric {:?}", query.metric),
            ));
        }
        _ => {
            return Err(invalid(
                "invalid_query",
                format!(
                    "several schemas declare {:?}; name one with \"schema\"",
                    query.metric
                ),
            ));
        }
    };
    let metric = schema.metric(&query.metric).expect("filtered above");
    let region = schema.region(&query.region).ok_or_else(|| {
        invalid(
            "unknown_region",
            format!("schema {} has no region {:?}", schema.id, query.region),
        )
    })?;
    if !scope.allows_purpose(&metric.purpose) {
        return Err(QueryError::Forbidden(format!(
            "this token does not cover purpose {:?} (of metric {})",
            metric.purpose, metric.id
        )));
    }
    let day = |text: &str| {
        parse_day(text).ok_or_else(|| {
            invalid(
                "invalid_query",
                format!("{text:?} is not a day (YYYY-MM-DD)"),
            )
        })
    };
    let (from, to) = (day(&query.from)?, day(&query.to)?);
    if from > to {
        return Err(invalid("invalid_query", "\"from\" is after \"to\""));
    }
    if to - from >= MAX_QUERY_DAYS {
        return Err(invalid(
            "invalid_query",
            format!("a query covers at most {MAX_QUERY_DAYS} days"),
        ));
    }
    let mut by_day = false;
    let mut group_dims = BTreeSet::new();
    for g in &query.group_by {
        if g == DAY {
            by_day = true;
        } else if metric.dimensions.contains(g) {
            group_dims.insert(g.clone());
        } else {
            return Err(invalid(
                "unknown_dimension",
                format!("{} has no dimension {g:?} to group by", metric.id),
            ));
        }
    }
    let mut filters = BTreeMap::new();
    for (dim, values) in &query.filters {
        let d = schema
            .dimension(dim)
            .filter(|_| metric.dimensions.contains(dim))
            .ok_or_else(|| {
                invalid(
                    "unknown_dimension",
                    format!("{} has no dimension {dim:?} to filter on", metric.id),
                )
            })?;
        if let Some(bad) = values.iter().find(|v| !d.accepts(v)) {
            return Err(invalid(
                "unknown_dimension",
                format!("{bad:?} is not a value of dimension {dim}"),
            ));
        }
        let set: BTreeSet<String> = values.iter().cloned().collect();
        filters.insert(dim.clone(), set.into_iter().collect::<Vec<_>>());
    }
    let all_cells = closed_cells(metric);
    let mut cells: Vec<String> = query.cells.clone();
    cells.sort();
    cells.dedup();
    if !cells.is_empty() {
        let Some(all) = &all_cells else {
            return Err(invalid(
                "unknown_cell",
                format!("{} has no cells to choose from", metric.id),
            ));
        };
        if let Some(bad) = cells.iter().find(|c| !all.contains(c)) {
            return Err(invalid(
                "unknown_cell",
                format!("{bad:?} is not a cell of {}", metric.id),
            ));
        }
    }
    let epsilon = match (metric.release, query.epsilon) {
        (Release::LocalDp { epsilon }, _) => epsilon,
        (_, None) => metric.release.epsilon(),
        (_, Some(e)) => {
            if !(e.is_finite() && e >= 0.001 && e <= region.epsilon_per_metric_day) {
                return Err(invalid(
                    "invalid_epsilon",
                    format!(
                        "ε must be between 0.001 and the region's daily budget {}",
                        region.epsilon_per_metric_day
                    ),
                ));
            }
            e
        }
    };
    let mut group_by: Vec<String> = group_dims.iter().cloned().collect();
    if by_day {
        group_by.insert(0, DAY.into());
    }
    let normalized = Query {
        region: query.region.clone(),
        metric: metric.id.clone(),
        schema: Some(schema.id.clone()),
        from: format_day(from),
        to: format_day(to),
        group_by,
        filters,
        cells,
        epsilon: matches!(metric.release, Release::CentralDp { .. }).then_some(epsilon),
    };
    Ok(Plan {
        schema,
        metric,
        region,
        from,
        to,
        group_dims: group_dims.into_iter().collect(),
        by_day,
        epsilon,
        query: normalized,
    })
}

/// The closed set of cells of a metric, in schema order; `None` for a
/// counter (one unnamed cell) and a domain set (open).
fn closed_cells(metric: &Metric) -> Option<Vec<String>> {
    match &metric.kind {
        MetricKind::LabeledCounter { labels } => Some(labels.clone()),
        MetricKind::Category { categories } => Some(categories.clone()),
        MetricKind::Boolean => Some(vec!["false".into(), "true".into()]),
        MetricKind::Distribution { buckets } => {
            Some((0..=buckets.len()).map(|i| i.to_string()).collect())
        }
        _ => None,
    }
}

/// A distribution bucket's range, for people.
fn bucket_label(buckets: &[u64], index: usize) -> String {
    match (
        index.checked_sub(1).and_then(|i| buckets.get(i)),
        buckets.get(index),
    ) {
        (None, Some(hi)) => format!("≤ {hi}"),
        (Some(lo), Some(hi)) => format!("{lo}–{hi}"),
        (Some(lo), None) => format!("> {lo}"),
        (None, None) => index.to_string(),
    }
}

/// A group's key: (day if grouped, grouped dimension values).
type GroupKey = (Option<DayNumber>, BTreeMap<String, String>);

/// One cell's (reports, sum) while reading.
type CellSum = (i64, i64);

/// One cell of a group, summed over its rows.
#[derive(Debug, Clone, Copy, Default)]
struct CellAgg {
    /// Reports that contributed (a device counts once a day).
    reports: i64,
    /// Sum of their values.
    sum: i64,
    /// A lower bound of the distinct devices among them: the largest
    /// number of reports on any one day of the range.
    devices: i64,
}

/// Summed rows of one group.
#[derive(Default)]
struct Cells {
    by_cell: BTreeMap<String, CellAgg>,
    /// The group's distinct devices, at least (as [`CellAgg::devices`],
    /// over all its cells): what k is checked against for local DP.
    devices: i64,
}

/// The per-day budget keys of a plan.
fn budget_keys(plan: &Plan<'_>) -> Vec<BudgetKey> {
    (plan.from..=plan.to)
        .map(|day| BudgetKey {
            region: plan.query.region.clone(),
            purpose: plan.metric.purpose.clone(),
            metric: plan.metric.id.clone(),
            day,
        })
        .collect()
}

/// Answers `query` for `scope` from `store` (the query's region's store),
/// spending budget and writing the audit log (see the module docs).
/// `now` is Unix seconds for the audit record.
///
/// # Errors
/// [`QueryError`]; in every case nothing was spent or cached (the audit
/// log records only answered queries).
pub fn release<R: Rng + ?Sized>(
    registry: &Registry,
    store: &mut dyn Store,
    scope: &Scope,
    query: &Query,
    now: i64,
    rng: &mut R,
) -> Result<Answer, QueryError> {
    let plan = plan(registry, scope, query)?;
    let cache_key = serde_json::to_string(&plan.query).expect("a query serializes");
    let audit = |spent: f64, cached: bool| AuditRecord {
        at: now,
        actor: scope.name.clone(),
        action: "query".into(),
        detail: serde_json::json!({
            "query": plan.query,
            "epsilon_spent": spent,
            "cached": cached,
        })
        .to_string(),
    };
    if let Some(answer) = store.cached_release(&cache_key)? {
        store.append_audit(&audit(0.0, true))?;
        return cached(&answer, &plan, store);
    }
    let central = matches!(plan.metric.release, Release::CentralDp { .. });
    let mut charges = Vec::new();
    // What the range has left once this release is recorded: the ledger's
    // answer for a central release; the whole budget for local DP, which
    // never charges.
    let mut left_after = budget::limit_micros(plan.region.epsilon_per_metric_day).unwrap_or(0);
    let limit = plan.region.epsilon_per_metric_day;
    if central {
        let spent = store.budget(&BudgetFilter {
            purpose: Some(plan.metric.purpose.clone()),
            metric: Some(plan.metric.id.clone()),
            from_day: Some(plan.from),
            to_day: Some(plan.to),
        })?;
        let mut ledger = Ledger::from_entries(spent.iter().map(|s| budget::LedgerEntry {
            key: BudgetKey {
                region: plan.query.region.clone(),
                purpose: s.purpose.clone(),
                metric: s.metric.clone(),
                day: s.day,
            },
            spent_micros: s.micros,
        }))
        .map_err(|e| StoreError::Backend(format!("the budget ledger is inconsistent: {e}")))?;
        let spend = ledger
            .try_spend(&budget_keys(&plan), plan.epsilon, limit)
            .map_err(|e| exhausted(&plan, e))?;
        left_after = spend.remaining.iter().map(|(_, m)| *m).min().unwrap_or(0);
        charges = (plan.from..=plan.to)
            .map(|day| BudgetCharge {
                purpose: plan.metric.purpose.clone(),
                metric: plan.metric.id.clone(),
                day,
                micros: spend.charged_micros,
            })
            .collect();
    }
    let mut answer = compute(&plan, store, rng)?;
    answer.epsilon_spent = if central { plan.epsilon } else { 0.0 };
    let json = serde_json::to_string(&answer).expect("an answer serializes");
    let outcome = store.record_release(&NewRelease {
        cache_key,
        answer: json,
        last_day: plan.to,
        charges,
        limit_micros: budget::limit_micros(limit).unwrap_or(0),
        audit: audit(answer.epsilon_spent, false),
    });
    match outcome {
        Ok(ReleaseOutcome::Recorded) => {
            answer.budget_remaining = budget::micros_to_epsilon(left_after);
            Ok(answer)
        }
        Ok(ReleaseOutcome::AlreadyCached(earlier)) => cached(&earlier, &plan, store),
        Err(StoreError::BudgetExceeded {
            metric,
            day,
            remaining_micros,
        }) => Err(QueryError::BudgetExhausted {
            message: format!(
                "the privacy budget of {metric} in region {} is spent on {}: {} left, {} asked",
                plan.query.region,
                format_day(day),
                budget::micros_to_epsilon(remaining_micros),
                plan.epsilon
            ),
        }),
        Err(e) => Err(e.into()),
    }
}

/// A cached answer as returned again: marked cached, nothing spent.
fn cached(json: &str, plan: &Plan<'_>, store: &dyn Store) -> Result<Answer, QueryError> {
    let mut answer: Answer = serde_json::from_str(json)
        .map_err(|e| StoreError::Backend(format!("a cached release does not parse: {e}")))?;
    answer.cached = true;
    answer.epsilon_spent = 0.0;
    answer.budget_remaining = remaining(plan, store)?;
    Ok(answer)
}

/// The least budget left on any day of the plan's range.
fn remaining(plan: &Plan<'_>, store: &dyn Store) -> Result<f64, QueryError> {
    let limit = plan.region.epsilon_per_metric_day;
    let spent = store.budget(&BudgetFilter {
        purpose: Some(plan.metric.purpose.clone()),
        metric: Some(plan.metric.id.clone()),
        from_day: Some(plan.from),
        to_day: Some(plan.to),
    })?;
    let most = spent.iter().map(|s| s.micros).max().unwrap_or(0);
    let limit = budget::limit_micros(limit).unwrap_or(0);
    Ok(budget::micros_to_epsilon(limit.saturating_sub(most)))
}

/// The refusal message: metric, days (as ranges of dates), what is left.
fn exhausted(plan: &Plan<'_>, e: budget::BudgetError) -> QueryError {
    let budget::BudgetError::Exhausted { overspent, .. } = &e else {
        return invalid("invalid_epsilon", e.to_string());
    };
    let least = overspent
        .iter()
        .map(|o| o.remaining_micros)
        .min()
        .unwrap_or(0);
    let days: Vec<String> = overspent.iter().map(|o| format_day(o.key.day)).collect();
    let shown = if days.len() > 6 {
        format!(
            "{} … {} ({} days)",
            days[0],
            days[days.len() - 1],
            days.len()
        )
    } else {
        days.join(", ")
    };
    QueryError::BudgetExhausted {
        message: format!(
            "the privacy budget of {} ({}) in region {} does not allow ε = {} more on {shown}: \
             {} left at most (daily budget {})",
            plan.metric.id,
            plan.metric.purpose,
            plan.query.region,
            plan.epsilon,
            budget::micros_to_epsilon(least),
            plan.region.epsilon_per_metric_day
        ),
    }
}

/// Reads, aggregates and releases (steps 4–6 of the module docs).
fn compute<R: Rng + ?Sized>(
    plan: &Plan<'_>,
    store: &dyn Store,
    rng: &mut R,
) -> Result<Answer, QueryError> {
    let wanted_cell =
        |c: &str| plan.query.cells.is_empty() || plan.query.cells.iter().any(|w| w == c);
    let central = matches!(plan.metric.release, Release::CentralDp { .. });
    // Rows are visited without copying; each distinct dimensions string is
    // parsed once (does it pass the filters, and which group values it
    // has), and groups are numbered, so a row costs two hash lookups.
    let mut dims_group: HashMap<String, Option<usize>> = HashMap::new();
    let mut group_dims: Vec<BTreeMap<String, String>> = Vec::new();
    let mut group_ids: HashMap<BTreeMap<String, String>, usize> = HashMap::new();
    let mut cell_ids: HashMap<String, u32> = HashMap::new();
    let mut cell_names: Vec<String> = Vec::new();
    // (day if grouped by day, group, cell) → (reports, sum).
    let mut sums: HashMap<(Option<DayNumber>, usize, u32), CellSum> = HashMap::new();
    // Over several days, reports are not people: one device reports once a
    // day, so a group's distinct devices are at least its largest daily
    // count of reports, and that is what k is checked against.
    let mut daily_cell: HashMap<(usize, DayNumber, u32), i64> = HashMap::new();
    let mut daily_group: HashMap<(usize, DayNumber), i64> = HashMap::new();
    let filter = RowFilter {
        schema_id: Some(plan.schema.id.clone()),
        metric: Some(plan.metric.id.clone()),
        purpose: Some(plan.metric.purpose.clone()),
        from_day: Some(plan.from),
        to_day: Some(plan.to),
    };
    store.visit_rows(&filter, &mut |row| {
        // A local-DP group's size counts the reports of every cell, shown
        // or not, so only central metrics drop unwanted cells here.
        if central && !wanted_cell(row.cell) {
            return;
        }
        let group = match dims_group.get(row.dimensions) {
            Some(g) => *g,
            None => {
                let g = group_of(row.dimensions, plan, &mut group_dims, &mut group_ids);
                dims_group.insert(row.dimensions.to_owned(), g);
                g
            }
        };
        let Some(group) = group else { return };
        let cell = match cell_ids.get(row.cell) {
            Some(c) => *c,
            None => {
                let id = cell_names.len() as u32;
                cell_names.push(row.cell.to_owned());
                cell_ids.insert(row.cell.to_owned(), id);
                id
            }
        };
        let total = sums
            .entry((plan.by_day.then_some(row.day), group, cell))
            .or_default();
        total.0 = total.0.saturating_add(row.contributors);
        total.1 = total.1.saturating_add(row.sum);
        if !plan.by_day {
            let d = daily_cell.entry((group, row.day, cell)).or_default();
            *d = d.saturating_add(row.contributors);
            let d = daily_group.entry((group, row.day)).or_default();
            *d = d.saturating_add(row.contributors);
        }
    })?;
    let mut devices_cell: HashMap<(usize, u32), i64> = HashMap::new();
    for ((group, _, cell), n) in daily_cell {
        let m = devices_cell.entry((group, cell)).or_default();
        *m = (*m).max(n);
    }
    let mut devices_group: HashMap<usize, i64> = HashMap::new();
    for ((group, _), n) in daily_group {
        let m = devices_group.entry(group).or_default();
        *m = (*m).max(n);
    }
    let mut groups: BTreeMap<GroupKey, Cells> = BTreeMap::new();
    for ((day, group, cell), (reports, sum)) in sums {
        let entry = groups.entry((day, group_dims[group].clone())).or_default();
        let devices = if plan.by_day {
            reports
        } else {
            devices_cell.get(&(group, cell)).copied().unwrap_or(0)
        };
        entry.by_cell.insert(
            cell_names[cell as usize].clone(),
            CellAgg {
                reports,
                sum,
                devices,
            },
        );
        entry.devices = if plan.by_day {
            entry.devices + reports
        } else {
            devices_group.get(&group).copied().unwrap_or(0)
        };
    }
    let k_min = plan.region.k_min;
    let metric = plan.metric;
    let mut answer = Answer {
        query: plan.query.clone(),
        schema: plan.schema.id.clone(),
        metric_type: metric.type_name().into(),
        purpose: metric.purpose.clone(),
        mechanism: String::new(),
        epsilon: plan.epsilon,
        delta: None,
        k_min,
        contribution_bound: contribution_bound(metric),
        noise_scale: None,
        threshold: None,
        groups: Vec::new(),
        totals: Vec::new(),
        suppressed: Some(0),
        epsilon_spent: 0.0,
        budget_remaining: 0.0,
        cached: false,
    };
    let mut suppressed = 0u64;
    let label = |key: &GroupKey| (key.0.map(format_day), key.1.clone());
    match metric.release {
        Release::LocalDp { epsilon } => {
            answer.mechanism = "randomized_response".into();
            let all = closed_cells(metric).unwrap_or_default();
            let rr = RandomizedResponse::new(epsilon, all.len())
                .map_err(|e| invalid("invalid_query", e.to_string()))?;
            for (key, cells) in &groups {
                // Every report holds exactly one (randomized) cell, so the
                // group's reports are the sum over cells — of all cells,
                // also those the query does not show.
                let n: i64 = cells.by_cell.values().map(|c| c.reports).sum();
                let shown: Vec<&String> = all.iter().filter(|c| wanted_cell(c)).collect();
                if !threshold::k_anonymous(cells.devices.max(0) as u64, k_min) {
                    suppressed += shown.len() as u64;
                    continue;
                }
                for cell in shown {
                    let observed = cells.by_cell.get(cell).map_or(0, |c| c.sum);
                    let e = rr.estimate(observed.max(0) as u64, n as u64);
                    let (day, dimensions) = label(key);
                    answer.groups.push(Group {
                        day,
                        dimensions,
                        cell: Some(cell.clone()),
                        bucket: None,
                        value: e.value,
                        ci95: [e.low, e.high],
                        share: None,
                        k: k_min,
                        epsilon,
                        mechanism: answer.mechanism.clone(),
                    });
                }
            }
        }
        Release::CentralDp { delta, .. } => {
            let bound = contribution_bound(metric);
            let lap = DiscreteLaplace::for_epsilon(bound, plan.epsilon)
                .map_err(|e| invalid("invalid_epsilon", e.to_string()))?;
            answer.noise_scale = Some(lap.scale().to_f64());
            let half = lap.ci95_halfwidth() as f64;
            let open_set = matches!(metric.kind, MetricKind::DomainSet);
            let rule = if open_set {
                let delta = delta.unwrap_or(1e-8);
                answer.delta = Some(delta);
                let rule = OpenSetRule::new(bound, plan.epsilon, delta)
                    .map_err(|e| invalid("invalid_epsilon", e.to_string()))?;
                answer.threshold = Some(rule.tau());
                answer.mechanism = "discrete_laplace_threshold".into();
                answer.suppressed = None;
                Some(rule)
            } else {
                answer.mechanism = "discrete_laplace".into();
                None
            };
            let all = closed_cells(metric);
            // Released cells of one group are pushed together: their range
            // in `answer.groups`, for the totals.
            let mut ranges: Vec<std::ops::Range<usize>> = Vec::with_capacity(groups.len());
            for (key, cells) in &groups {
                let (day, dimensions) = label(key);
                let start = answer.groups.len();
                let names: Vec<String> = match &all {
                    Some(all) => all.iter().filter(|c| wanted_cell(c)).cloned().collect(),
                    None => cells.by_cell.keys().cloned().collect(),
                };
                for cell in names {
                    let agg = cells.by_cell.get(&cell).copied().unwrap_or_default();
                    let sum = agg.sum;
                    if !threshold::k_anonymous(agg.devices.max(0) as u64, k_min) {
                        suppressed += 1;
                        continue;
                    }
                    let noisy = match &rule {
                        // Fresh noise, and the count compared with τ is
                        // the one released (threshold module docs).
                        Some(rule) => match rule.release(sum.max(0) as u64, rng) {
                            Some(noisy) => noisy,
                            None => continue,
                        },
                        None => lap.add_noise(sum, rng),
                    };
                    let (cell, bucket) = match &metric.kind {
                        MetricKind::Counter => (None, None),
                        MetricKind::Distribution { buckets } => {
                            let i = cell.parse::<usize>().unwrap_or(usize::MAX);
                            (Some(cell), Some(bucket_label(buckets, i)))
                        }
                        _ => (Some(cell), None),
                    };
                    let value = noisy as f64;
                    answer.groups.push(Group {
                        day: day.clone(),
                        dimensions: dimensions.clone(),
                        cell,
                        bucket,
                        value,
                        ci95: [value - half, value + half],
                        share: None,
                        k: k_min,
                        epsilon: plan.epsilon,
                        mechanism: answer.mechanism.clone(),
                    });
                }
                if answer.groups.len() > start {
                    ranges.push(start..answer.groups.len());
                }
            }
            if all.is_some() {
                add_totals(&mut answer, &ranges, lap.variance());
            }
        }
        _ => {
            return Err(invalid(
                "invalid_query",
                format!(
                    "{} has a release mechanism this collector does not know",
                    metric.id
                ),
            ));
        }
    }
    if answer.suppressed.is_some() {
        answer.suppressed = Some(suppressed);
    }
    Ok(answer)
}

/// The group of a row's canonical dimensions (`k=v,k2=v2`): `None` when a
/// filter excludes it; otherwise the number of its grouped values in
/// `group_dims`, added there if new.
fn group_of(
    dimensions: &str,
    plan: &Plan<'_>,
    group_dims: &mut Vec<BTreeMap<String, String>>,
    group_ids: &mut HashMap<BTreeMap<String, String>, usize>,
) -> Option<usize> {
    let dims: BTreeMap<&str, &str> = dimensions
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    for (dim, allowed) in &plan.query.filters {
        match dims.get(dim.as_str()) {
            Some(v) if allowed.iter().any(|a| a == v) => {}
            _ => return None,
        }
    }
    let grouped: BTreeMap<String, String> = plan
        .group_dims
        .iter()
        .map(|d| {
            (
                d.clone(),
                dims.get(d.as_str()).copied().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let next = group_dims.len();
    let id = *group_ids.entry(grouped.clone()).or_insert(next);
    if id == next {
        group_dims.push(grouped);
    }
    Some(id)
}

/// Δ: the most one report adds to one group's cells, in L1.
fn contribution_bound(metric: &Metric) -> u64 {
    match metric.kind {
        MetricKind::Boolean | MetricKind::Category { .. } => 1,
        _ => metric.max_per_report.max(1),
    }
}

/// Per-group totals and shares over the released cells (post-processing);
/// `ranges` are the runs of `answer.groups` that belong to one group.
fn add_totals(answer: &mut Answer, ranges: &[std::ops::Range<usize>], variance: f64) {
    let mut totals = Vec::with_capacity(ranges.len());
    for range in ranges {
        let cells = &mut answer.groups[range.clone()];
        let value: f64 = cells.iter().map(|g| g.value).sum();
        if value > 0.0 {
            for g in cells.iter_mut() {
                g.share = Some((g.value / value).clamp(0.0, 1.0));
            }
        }
        let half = 1.959_963_984_540_054 * (variance * cells.len() as f64).sqrt();
        totals.push(Total {
            day: cells[0].day.clone(),
            dimensions: cells[0].dimensions.clone(),
            value,
            ci95: [value - half, value + half],
        });
    }
    answer.totals = totals;
}

#[cfg(test)]
#[path = "release_tests.rs"]
mod tests;

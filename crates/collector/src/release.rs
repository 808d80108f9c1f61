//! The release engine: the only door to the stored aggregates.
//!
//! A [`Query`] names a metric, a day range, group-by keys (`day` and the
//! metric's dimensions), dimension filters and, optionally, which cells
//! (labels, categories, buckets) to show. [`release`] answers it.
//!
//! # What is protected
//!
//! The unit of privacy is **one device's report for one purpose and day**:
//! two datasets are neighbours when they differ by adding or removing one
//! such report (it carries every metric of the purpose that the device
//! recorded that day). Every number a release shows, and every decision to
//! show or hide a group, is computed from noisy values whose noise is
//! charged to the region's budget; nothing exact reaches the analyst.
//!
//! # Steps
//!
//! 1. **Scope.** The analyst's token must cover the region and the metric's
//!    purpose (purpose limitation).
//! 2. **Closed days only.** Every day of the range must be *closed*: its
//!    region's report window (`report_window_days` after the day) has
//!    passed, so no report for it can still be accepted. Otherwise the
//!    query is refused (`day_not_closed`, naming the last closed day) and
//!    nothing is spent or cached: an answer cached while reports still
//!    arrive would hide them for good.
//! 3. **Cache.** The normalized query is the cache key: the same question
//!    returns the same numbers and spends nothing.
//! 4. **Budget.** A release charges its ε (and δ, when it selects from an
//!    open set) to every (purpose, metric, day) of its range, under three
//!    caps of the region: ε per metric and day, ε per purpose and day (over
//!    all its metrics: what one device-day report can lose), δ per purpose
//!    and day ([`candor_privacy::budget`]). A release that would pass any
//!    cap on any day is refused, naming the cap, the days and what they have
//!    left. Charge, cache and audit entry are written in one transaction
//!    ([`candor_store::Store::record_release`]).
//! 5. **Groups.** Rows are summed into groups: (day if grouped by day) ×
//!    (the grouped dimensions). The possible groups are enumerated *before*
//!    looking at the data where the schema or the query fixes them (declared
//!    dimension values, filter values, the days of the range): absent groups
//!    are candidates like the others. Values of an open dimension (a
//!    coarsening rule such as `app_version`) grouped without a filter come
//!    from the data, so such a release is an **open-set selection**.
//! 6. **Selection on noisy counts.** Each candidate group's report count
//!    (over several days, its largest daily count: one report per device and
//!    day, so that a device reporting every day of a fortnight is one
//!    device, not fourteen) gets discrete Laplace noise of scale `1/ε_s`,
//!    `ε_s = ε/4` ([`SELECTION_SHARE`]), and the group is shown when the
//!    noisy count reaches `k_min`, or `max(k_min, τ)` for an open-set
//!    selection (`τ` from [`candor_privacy::threshold`] with `Δ = 1` and the
//!    metric's δ). The number of suppressed groups is returned only when the
//!    candidates were enumerated without the data; it is then computed
//!    from noisy counts too.
//! 7. **Values.** Each cell of a shown group gets fresh discrete Laplace
//!    noise of scale `Δ/ε_v`, `ε_v = ε − ε_s`, where `Δ` is the most one
//!    report adds to a group's cells (the metric's `max_per_report`, 1 for
//!    booleans and categories). Each report is in exactly one day and one
//!    dimension value, so the groups are disjoint (parallel composition) and
//!    a group's cells have L1 sensitivity `Δ`; the counts of step 6 have
//!    sensitivity 1. Domain sets (open cells) skip step 6: each (group,
//!    domain) is shown only when its own noisy count (at the full ε) passes
//!    `max(k_min, τ(Δ, ε, δ))`.
//! 8. **Local DP.** Boolean and category metrics randomized on the device
//!    arrive as randomized counts. Those counts would still disclose the
//!    number of reports exactly (they sum to it), so each cell's count gets
//!    discrete Laplace noise of scale `1/ε_v` (sensitivity 1: a report is in
//!    one cell), the noisy counts' sum is the group's `ñ`, and the estimate
//!    and its score interval come from them
//!    ([`candor_privacy::ldp::RandomizedResponse::estimate_noisy`]; over
//!    several days its interval allows for each device's memoized answer
//!    being counted once a day). The
//!    query's ε (default: the metric's `count_epsilon`) is charged.
//! 9. **Post-processing**: per-group totals over cells and each cell's
//!    share of its total are computed from released values only; they
//!    spend nothing.
//!
//! | metric | values | selection | charged per day |
//! |---|---|---|---|
//! | counter, labeled counter, distribution, central boolean/category | discrete Laplace `Δ/(¾ε)` | noisy count `1/(¼ε)` ≥ k (open: ≥ max(k, τ)) | ε (+ δ if open) |
//! | domain set | discrete Laplace `Δ/ε` | the same noisy value ≥ max(k, τ(Δ)) | ε + δ |
//! | boolean, category (local DP) | noisy randomized counts `1/(¾ε)`, debiased | noisy count `1/(¼ε)` ≥ k (open: ≥ max(k, τ)) | ε (+ δ if open) |

use std::collections::{BTreeMap, BTreeSet, HashMap};

use candor_privacy::budget::{self, Amount, BudgetKey, Caps, Ledger};
use candor_privacy::dp::DiscreteLaplace;
use candor_privacy::ldp::RandomizedResponse;
use candor_privacy::threshold::{self, OpenSetRule};
use candor_schema::{Metric, MetricKind, Region, Release, Schema};
use candor_store::{
    AuditRecord, BudgetCharge, BudgetFilter, BudgetLimits, DayNumber, NewRelease, REPORTS_CELL,
    ReleaseOutcome, RowFilter, Store, StoreError,
};
use rand_core::Rng;

use crate::validate::{DayWindow, Registry};

/// The longest day range one query may cover.
pub const MAX_QUERY_DAYS: i32 = 400;

pub use candor_api::{Answer, DAY, Group, Query, Total};

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
    /// Some day of the range is not closed: reports for it may still
    /// arrive (or it has not happened yet).
    #[error("{message}")]
    DayNotClosed {
        /// The last closed day, `YYYY-MM-DD`.
        last_closed: String,
        /// The whole explanation.
        message: String,
    },
    /// Some day of the range has too little budget left.
    #[error("{message}")]
    BudgetExhausted {
        /// The whole explanation: metric, cap, days, what is left, what was
        /// asked.
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
            QueryError::DayNotClosed { .. } => "day_not_closed",
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

/// The share of a release's ε spent on the noisy group counts that decide
/// which groups are shown (the rest goes to the values). A quarter keeps
/// the decision near `k_min` sharp enough (at ε = 0.5 the counts' noise has
/// scale 8) while costing the values a third more noise.
pub const SELECTION_SHARE: f64 = 0.25;

/// The smallest ε a query may ask for: both shares must be at least the
/// samplers' resolution of 0.001.
pub const MIN_QUERY_EPSILON: f64 = 0.004;

/// The query's schema, metric and region policy, checked.
struct Plan<'a> {
    schema: &'a Schema,
    metric: &'a Metric,
    region: &'a Region,
    from: DayNumber,
    to: DayNumber,
    /// The grouped dimensions, each with its candidate values: declared
    /// (or filtered) values, or `None` when they come from the data.
    group_dims: Vec<(String, Option<Vec<String>>)>,
    by_day: bool,
    /// ε charged per day.
    epsilon: f64,
    /// δ charged per day: the metric's δ when the release selects from an
    /// open set, else 0.
    delta: f64,
    query: Query,
}

impl Plan<'_> {
    /// Whether some group key comes from the data.
    fn open_groups(&self) -> bool {
        self.group_dims.iter().any(|(_, values)| values.is_none())
    }
}

/// Checks a query against the schemas, the scope and the closed days, and
/// normalizes it.
fn plan<'a>(
    registry: &'a Registry,
    scope: &Scope,
    query: &Query,
    window: &DayWindow,
) -> Result<Plan<'a>, QueryError> {
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
    let last_closed = window.last_closed(region);
    if to > last_closed {
        let last = format_day(last_closed);
        return Err(QueryError::DayNotClosed {
            message: format!(
                "{} is not closed yet: reports for a day are accepted until {} days after it, so \
                 region {} releases days up to {last} only (today is {})",
                format_day(to.max(last_closed + 1)),
                window.past_days(Some(region)),
                region.id,
                format_day(window.today)
            ),
            last_closed: last,
        });
    }
    let mut by_day = false;
    let mut grouped = BTreeSet::new();
    for g in &query.group_by {
        if g == DAY {
            by_day = true;
        } else if metric.dimensions.contains(g) {
            grouped.insert(g.clone());
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
        if values.is_empty() {
            return Err(invalid(
                "invalid_query",
                format!("the filter on {dim} lists no value"),
            ));
        }
        let set: BTreeSet<String> = values.iter().cloned().collect();
        filters.insert(dim.clone(), set.into_iter().collect::<Vec<_>>());
    }
    // Candidate values of each grouped dimension: the filter's, else the
    // declared ones, else (an open dimension) whatever the data holds.
    let group_dims: Vec<(String, Option<Vec<String>>)> = grouped
        .iter()
        .map(|g| {
            let values = filters.get(g).cloned().or_else(|| {
                schema
                    .dimension(g)
                    .and_then(|d| d.values())
                    .map(<[String]>::to_vec)
            });
            (g.clone(), values)
        })
        .collect();
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
    let epsilon = match query.epsilon {
        None => metric.release.release_epsilon(),
        Some(e) => {
            if !(e.is_finite() && e >= MIN_QUERY_EPSILON && e <= region.epsilon_per_metric_day) {
                return Err(invalid(
                    "invalid_epsilon",
                    format!(
                        "ε must be between {MIN_QUERY_EPSILON} and the region's daily budget per metric {}",
                        region.epsilon_per_metric_day
                    ),
                ));
            }
            e
        }
    };
    let open_selection =
        matches!(metric.kind, MetricKind::DomainSet) || group_dims.iter().any(|(_, v)| v.is_none());
    let delta = if open_selection {
        metric.release.delta().ok_or_else(|| {
            invalid(
                "invalid_query",
                format!(
                    "{} declares no delta, so it cannot be grouped by an open dimension",
                    metric.id
                ),
            )
        })?
    } else {
        0.0
    };
    let mut group_by: Vec<String> = grouped.iter().cloned().collect();
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
        epsilon: Some(epsilon),
    };
    Ok(Plan {
        schema,
        metric,
        region,
        from,
        to,
        group_dims,
        by_day,
        epsilon,
        delta,
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

/// The region's three caps.
fn caps(region: &Region) -> Result<Caps, QueryError> {
    Caps::new(
        region.epsilon_per_metric_day,
        region.epsilon_per_purpose_day,
        region.delta_per_purpose_day,
    )
    .map_err(|e| {
        StoreError::Backend(format!("region {} has invalid budget caps: {e}", region.id)).into()
    })
}

/// The ledger of the plan's purpose over the plan's days (every metric of
/// the purpose: the purpose caps add them up).
fn ledger(plan: &Plan<'_>, store: &dyn Store) -> Result<Ledger, QueryError> {
    let spent = store.budget(&BudgetFilter {
        purpose: Some(plan.metric.purpose.clone()),
        metric: None,
        from_day: Some(plan.from),
        to_day: Some(plan.to),
    })?;
    Ledger::from_entries(spent.iter().map(|s| budget::LedgerEntry {
        key: BudgetKey {
            region: plan.query.region.clone(),
            purpose: s.purpose.clone(),
            metric: s.metric.clone(),
            day: s.day,
        },
        spent: Amount {
            micros: s.micros,
            femtos: s.femtos,
        },
    }))
    .map_err(|e| StoreError::Backend(format!("the budget ledger is inconsistent: {e}")).into())
}

/// Answers `query` for `scope` from `store` (the query's region's store),
/// spending budget and writing the audit log (see the module docs).
/// `now` is Unix seconds for the audit record; `window` is the collector's
/// day and accepted window, which decide the closed days.
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
    window: &DayWindow,
    rng: &mut R,
) -> Result<Answer, QueryError> {
    let plan = plan(registry, scope, query, window)?;
    let cache_key = serde_json::to_string(&plan.query).expect("a query serializes");
    let audit = |spent: f64, cached: bool| AuditRecord {
        at: now,
        actor: scope.name.clone(),
        action: "query".into(),
        detail: serde_json::json!({
            "query": plan.query,
            "epsilon_spent": spent,
            "delta_spent": if cached { 0.0 } else { plan.delta },
            "cached": cached,
        })
        .to_string(),
    };
    if let Some(answer) = store.cached_release(&cache_key)? {
        store.append_audit(&audit(0.0, true))?;
        return cached(&answer, &plan, store);
    }
    let caps = caps(plan.region)?;
    let cost = Amount::charge(plan.epsilon, plan.delta)
        .map_err(|e| invalid("invalid_epsilon", e.to_string()))?;
    let spend = ledger(&plan, store)?
        .try_spend(&budget_keys(&plan), cost, &caps)
        .map_err(|e| exhausted(&plan, e))?;
    let left_after = spend
        .remaining
        .iter()
        .map(|(_, r)| r.epsilon_micros())
        .min()
        .unwrap_or(0);
    let charges = (plan.from..=plan.to)
        .map(|day| BudgetCharge {
            purpose: plan.metric.purpose.clone(),
            metric: plan.metric.id.clone(),
            day,
            micros: cost.micros,
            femtos: cost.femtos,
        })
        .collect();
    let mut answer = compute(&plan, store, rng)?;
    answer.epsilon_spent = plan.epsilon;
    let json = serde_json::to_string(&answer).expect("an answer serializes");
    let outcome = store.record_release(&NewRelease {
        cache_key,
        answer: json,
        last_day: plan.to,
        charges,
        limits: BudgetLimits {
            metric_micros: caps.metric_micros,
            purpose_micros: caps.purpose_micros,
            purpose_femtos: caps.purpose_femtos,
        },
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
            cap,
            remaining,
        }) => {
            let left = if cap == "purpose_delta" {
                budget::femtos_to_delta(remaining)
            } else {
                budget::micros_to_epsilon(remaining)
            };
            Err(QueryError::BudgetExhausted {
                message: format!(
                    "the privacy budget ({cap}) of {metric} in region {} is spent on {}: {left} left, \
                     ε = {} and δ = {} asked",
                    plan.query.region,
                    format_day(day),
                    plan.epsilon,
                    plan.delta
                ),
            })
        }
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

/// The least ε a further release of the plan's metric could spend on any
/// day of the plan's range: per day the lesser of the metric's and the
/// purpose's ε left (read straight from the ledger's rows: a cached answer
/// needs no [`Ledger`]).
fn remaining(plan: &Plan<'_>, store: &dyn Store) -> Result<f64, QueryError> {
    let caps = caps(plan.region)?;
    let spent = store.budget(&BudgetFilter {
        purpose: Some(plan.metric.purpose.clone()),
        metric: None,
        from_day: Some(plan.from),
        to_day: Some(plan.to),
    })?;
    // day → (the metric's micros, the purpose's micros)
    let mut by_day: HashMap<DayNumber, (u64, u64)> = HashMap::new();
    for s in &spent {
        let d = by_day.entry(s.day).or_default();
        if s.metric == plan.metric.id {
            d.0 = d.0.saturating_add(s.micros);
        }
        d.1 = d.1.saturating_add(s.micros);
    }
    let left = |(metric, purpose): (u64, u64)| {
        caps.metric_micros
            .saturating_sub(metric)
            .min(caps.purpose_micros.saturating_sub(purpose))
    };
    let days = (plan.to - plan.from + 1) as usize;
    let least = if by_day.len() < days {
        // Some day of the range has spent nothing.
        by_day
            .values()
            .map(|&d| left(d))
            .chain([left((0, 0))])
            .min()
    } else {
        by_day.values().map(|&d| left(d)).min()
    };
    Ok(budget::micros_to_epsilon(least.unwrap_or(0)))
}

/// The refusal message: metric, cap, days (as ranges of dates), what is
/// left.
fn exhausted(plan: &Plan<'_>, e: budget::BudgetError) -> QueryError {
    let budget::BudgetError::Exhausted { overspent, .. } = &e else {
        return invalid("invalid_epsilon", e.to_string());
    };
    let mut parts = Vec::new();
    for cap in [
        budget::Cap::MetricEpsilon,
        budget::Cap::PurposeEpsilon,
        budget::Cap::PurposeDelta,
    ] {
        let hit: Vec<&budget::Overspend> = overspent.iter().filter(|o| o.cap == cap).collect();
        let Some(least) = hit.iter().map(|o| o.remaining).min() else {
            continue;
        };
        let days: Vec<String> = hit.iter().map(|o| format_day(o.key.day)).collect();
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
        let (what, limit) = match cap {
            budget::Cap::MetricEpsilon => (
                format!("ε of {} per day", plan.metric.id),
                plan.region.epsilon_per_metric_day,
            ),
            budget::Cap::PurposeEpsilon => (
                format!(
                    "ε of purpose {} per day (all its metrics)",
                    plan.metric.purpose
                ),
                plan.region.epsilon_per_purpose_day,
            ),
            budget::Cap::PurposeDelta => (
                format!("δ of purpose {} per day", plan.metric.purpose),
                plan.region.delta_per_purpose_day,
            ),
        };
        parts.push(format!(
            "the {what} (budget {limit}) has {} left at most on {shown}",
            cap.to_decimal(least)
        ));
    }
    QueryError::BudgetExhausted {
        message: format!(
            "region {} cannot release {} at ε = {}{}: {}",
            plan.query.region,
            plan.metric.id,
            plan.epsilon,
            if plan.delta > 0.0 {
                format!(", δ = {}", plan.delta)
            } else {
                String::new()
            },
            parts.join("; ")
        ),
    }
}

/// A group's key: (day if grouped by day, index of its grouped values).
type GroupKey = (Option<DayNumber>, usize);

/// One group's rows, summed.
#[derive(Default)]
struct GroupRows {
    /// Reports that carried the metric, per day (the [`REPORTS_CELL`] rows).
    daily_reports: BTreeMap<DayNumber, i64>,
    /// Cell → sum of its rows.
    cells: BTreeMap<String, i64>,
}

impl GroupRows {
    /// The group's distinct devices, at least: its largest daily report
    /// count (one report per device, purpose and day). Adding or removing
    /// one report moves it by at most one.
    fn devices(&self) -> i64 {
        self.daily_reports.values().copied().max().unwrap_or(0)
    }
}

/// Grouped values, interned: each distinct tuple of grouped dimension
/// values gets an index.
#[derive(Default)]
struct Interner {
    values: Vec<Vec<String>>,
    ids: HashMap<Vec<String>, usize>,
}

impl Interner {
    fn id(&mut self, values: Vec<String>) -> usize {
        if let Some(&id) = self.ids.get(&values) {
            return id;
        }
        let id = self.values.len();
        self.ids.insert(values.clone(), id);
        self.values.push(values);
        id
    }
}

/// Reads the plan's rows into groups: the rows a filter excludes are
/// skipped; central metrics keep only the wanted cells (local DP needs all
/// of them for `ñ`).
fn read_groups(
    plan: &Plan<'_>,
    store: &dyn Store,
    keys: &mut Interner,
) -> Result<HashMap<GroupKey, GroupRows>, QueryError> {
    let central = matches!(plan.metric.release, Release::CentralDp { .. });
    let wanted = |c: &str| plan.query.cells.is_empty() || plan.query.cells.iter().any(|w| w == c);
    // Each distinct dimensions string is parsed once.
    let mut dims_key: HashMap<String, Option<usize>> = HashMap::new();
    let mut groups: HashMap<GroupKey, GroupRows> = HashMap::new();
    let filter = RowFilter {
        schema_id: Some(plan.schema.id.clone()),
        metric: Some(plan.metric.id.clone()),
        purpose: Some(plan.metric.purpose.clone()),
        from_day: Some(plan.from),
        to_day: Some(plan.to),
    };
    store.visit_rows(&filter, &mut |row| {
        let reports = row.cell == REPORTS_CELL;
        if !reports && central && !wanted(row.cell) {
            return;
        }
        let key = match dims_key.get(row.dimensions) {
            Some(k) => *k,
            None => {
                let k = grouped_values(row.dimensions, plan).map(|v| keys.id(v));
                dims_key.insert(row.dimensions.to_owned(), k);
                k
            }
        };
        let Some(key) = key else { return };
        let group = groups
            .entry((plan.by_day.then_some(row.day), key))
            .or_default();
        if reports {
            let n = group.daily_reports.entry(row.day).or_default();
            *n = n.saturating_add(row.contributors);
        } else {
            match group.cells.get_mut(row.cell) {
                Some(sum) => *sum = sum.saturating_add(row.sum),
                None => {
                    group.cells.insert(row.cell.to_owned(), row.sum);
                }
            }
        }
    })?;
    Ok(groups)
}

/// A row's grouped values (in the plan's group order), or `None` when a
/// filter excludes it. `dimensions` is the canonical `k=v,k2=v2`.
fn grouped_values(dimensions: &str, plan: &Plan<'_>) -> Option<Vec<String>> {
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
    Some(
        plan.group_dims
            .iter()
            .map(|(d, _)| dims.get(d.as_str()).copied().unwrap_or("").to_owned())
            .collect(),
    )
}

/// Every candidate group, in answer order: the days of the range (if
/// grouped by day) × the product of each grouped dimension's candidate
/// values (declared or filtered values, or those seen in the data for an
/// open dimension). Groups absent from the data are candidates too, so
/// that which groups exist is never read off the data where the schema
/// or the query already says it.
fn candidates(plan: &Plan<'_>, keys: &mut Interner) -> Vec<(Option<DayNumber>, usize)> {
    let mut per_dim: Vec<Vec<String>> = Vec::with_capacity(plan.group_dims.len());
    for (i, (_, values)) in plan.group_dims.iter().enumerate() {
        per_dim.push(match values {
            Some(v) => v.clone(),
            None => keys
                .values
                .iter()
                .map(|k| k[i].clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
        });
    }
    let mut tuples: Vec<Vec<String>> = vec![Vec::new()];
    for values in &per_dim {
        tuples = tuples
            .iter()
            .flat_map(|t| {
                values.iter().map(move |v| {
                    let mut t = t.clone();
                    t.push(v.clone());
                    t
                })
            })
            .collect();
    }
    let ids: Vec<usize> = tuples.into_iter().map(|t| keys.id(t)).collect();
    let days: Vec<Option<DayNumber>> = if plan.by_day {
        (plan.from..=plan.to).map(Some).collect()
    } else {
        vec![None]
    };
    let mut out: Vec<(Option<DayNumber>, usize)> = days
        .iter()
        .flat_map(|d| ids.iter().map(move |id| (*d, *id)))
        .collect();
    out.sort_by(|a, b| (a.0, &keys.values[a.1]).cmp(&(b.0, &keys.values[b.1])));
    out
}

/// A release's ε split into the selection's share ([`SELECTION_SHARE`])
/// and the values' (the rest).
fn split_epsilon(epsilon: f64) -> (f64, f64) {
    let select = epsilon * SELECTION_SHARE;
    (select, epsilon - select)
}

/// A discrete Laplace mechanism for `bound` at `epsilon`, or the query's
/// `invalid_epsilon`.
fn laplace(bound: u64, epsilon: f64) -> Result<DiscreteLaplace, QueryError> {
    DiscreteLaplace::for_epsilon(bound, epsilon)
        .map_err(|e| invalid("invalid_epsilon", e.to_string()))
}

/// Reads, selects and releases (steps 5–9 of the module docs).
fn compute<R: Rng + ?Sized>(
    plan: &Plan<'_>,
    store: &dyn Store,
    rng: &mut R,
) -> Result<Answer, QueryError> {
    let metric = plan.metric;
    let k_min = plan.region.k_min;
    let bound = contribution_bound(metric);
    let mut keys = Interner::default();
    let data = read_groups(plan, store, &mut keys)?;
    let candidates = candidates(plan, &mut keys);
    let empty = GroupRows::default();
    let label = |key: &(Option<DayNumber>, usize)| {
        let dims: BTreeMap<String, String> = plan
            .group_dims
            .iter()
            .zip(&keys.values[key.1])
            .map(|((d, _), v)| (d.clone(), v.clone()))
            .collect();
        (key.0.map(format_day), dims)
    };
    let mut answer = Answer {
        query: plan.query.clone(),
        schema: plan.schema.id.clone(),
        metric_type: metric.type_name().into(),
        purpose: metric.purpose.clone(),
        mechanism: String::new(),
        epsilon: plan.epsilon,
        delta: (plan.delta > 0.0).then_some(plan.delta),
        k_min,
        contribution_bound: bound,
        noise_scale: None,
        threshold: None,
        selection_noise_scale: None,
        groups: Vec::new(),
        totals: Vec::new(),
        suppressed: None,
        epsilon_spent: 0.0,
        budget_remaining: 0.0,
        cached: false,
    };

    if matches!(metric.kind, MetricKind::DomainSet) {
        // Open cells: each (group, domain) decides on its own noisy value.
        let rule = OpenSetRule::new(bound, plan.epsilon, plan.delta)
            .map_err(|e| invalid("invalid_epsilon", e.to_string()))?
            .with_k(k_min);
        let lap = rule.mechanism();
        let half = lap.ci95_halfwidth() as f64;
        answer.mechanism = "discrete_laplace_threshold".into();
        answer.noise_scale = Some(lap.scale().to_f64());
        answer.threshold = Some(rule.tau());
        for key in &candidates {
            let rows = data.get(key).unwrap_or(&empty);
            let (day, dimensions) = label(key);
            for (domain, &sum) in &rows.cells {
                let Some(noisy) = rule.release(sum.max(0) as u64, rng) else {
                    continue;
                };
                let value = noisy as f64;
                answer.groups.push(Group {
                    day: day.clone(),
                    dimensions: dimensions.clone(),
                    cell: Some(domain.clone()),
                    bucket: None,
                    value,
                    ci95: [value - half, value + half],
                    share: None,
                    k: k_min,
                    epsilon: plan.epsilon,
                    mechanism: answer.mechanism.clone(),
                });
            }
        }
        return Ok(answer);
    }

    // Selection: a noisy device count per candidate group.
    let (select_epsilon, value_epsilon) = split_epsilon(plan.epsilon);
    let select = laplace(1, select_epsilon)?;
    let threshold = if plan.open_groups() {
        OpenSetRule::new(1, select_epsilon, plan.delta)
            .map_err(|e| invalid("invalid_epsilon", e.to_string()))?
            .with_k(k_min)
            .tau()
    } else {
        f64::from(k_min)
    };
    answer.threshold = Some(threshold);
    answer.selection_noise_scale = Some(select.scale().to_f64());
    let mut suppressed = 0u64;
    let mut shown: Vec<(&(Option<DayNumber>, usize), &GroupRows)> = Vec::new();
    for key in &candidates {
        let rows = data.get(key).unwrap_or(&empty);
        let noisy = select.add_noise(rows.devices(), rng);
        if threshold::passes_threshold(noisy, threshold) {
            shown.push((key, rows));
        } else {
            suppressed += 1;
        }
    }
    answer.suppressed = (!plan.open_groups()).then_some(suppressed);
    let wanted = |c: &str| plan.query.cells.is_empty() || plan.query.cells.iter().any(|w| w == c);

    match metric.release {
        Release::LocalDp { epsilon, .. } => {
            answer.mechanism = "randomized_response".into();
            let all = closed_cells(metric).unwrap_or_default();
            let rr = RandomizedResponse::new(epsilon, all.len())
                .map_err(|e| invalid("invalid_query", e.to_string()))?;
            let counts = laplace(1, value_epsilon)?;
            answer.noise_scale = Some(counts.scale().to_f64());
            // A device's memoized answer repeats on every day it reports:
            // over a range, up to one count per day of it.
            let repeats = if plan.by_day {
                1
            } else {
                (plan.to - plan.from + 1).max(1) as u32
            };
            for (key, rows) in shown {
                // Every cell's count is noised, shown or not: ñ is their sum.
                let noisy: Vec<i64> = all
                    .iter()
                    .map(|c| counts.add_noise(rows.cells.get(c).copied().unwrap_or(0), rng))
                    .collect();
                let noisy_n: i64 = noisy.iter().fold(0i64, |a, &b| a.saturating_add(b));
                let (day, dimensions) = label(key);
                for (cell, &observed) in all.iter().zip(&noisy) {
                    if !wanted(cell) {
                        continue;
                    }
                    let e = rr.estimate_noisy(observed, noisy_n, counts.variance(), repeats);
                    answer.groups.push(Group {
                        day: day.clone(),
                        dimensions: dimensions.clone(),
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
        Release::CentralDp { .. } => {
            answer.mechanism = "discrete_laplace".into();
            let lap = laplace(bound, value_epsilon)?;
            answer.noise_scale = Some(lap.scale().to_f64());
            let half = lap.ci95_halfwidth() as f64;
            let all = closed_cells(metric);
            let names: Vec<String> = match &all {
                Some(all) => all.iter().filter(|c| wanted(c)).cloned().collect(),
                None => vec![String::new()],
            };
            // Released cells of one group are pushed together: their range
            // in `answer.groups`, for the totals.
            let mut ranges: Vec<std::ops::Range<usize>> = Vec::with_capacity(shown.len());
            for (key, rows) in shown {
                let (day, dimensions) = label(key);
                let start = answer.groups.len();
                for name in &names {
                    let noisy = lap.add_noise(rows.cells.get(name).copied().unwrap_or(0), rng);
                    let (cell, bucket) = match &metric.kind {
                        MetricKind::Counter => (None, None),
                        MetricKind::Distribution { buckets } => {
                            let i = name.parse::<usize>().unwrap_or(usize::MAX);
                            (Some(name.clone()), Some(bucket_label(buckets, i)))
                        }
                        _ => (Some(name.clone()), None),
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
    Ok(answer)
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

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
//!    The rows are read through [`Store::visit_spans`]: the region's closed
//!    days are rolled up first ([`Store::roll_up`]), so a year is a few
//!    packed sums per series instead of every day's rows, with exactly the
//!    same sums (report counts stay per day).
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

mod compute;
mod model;
mod plan;
mod read;

pub use candor_api::{Answer, DAY, Group, Query, Total};
pub use model::{
    MAX_QUERY_DAYS, MIN_QUERY_EPSILON, QueryError, SELECTION_SHARE, Scope, format_day, parse_day,
};

// The parts' items, for the orchestration below and the tests.
#[allow(unused_imports)]
use self::{compute::*, model::*, plan::*, read::*};

use std::collections::HashMap;

use candor_privacy::budget::{self, Amount};
use candor_store::{
    AuditRecord, BudgetCharge, BudgetFilter, BudgetLimits, DayNumber, NewRelease, ReleaseOutcome,
    Store, StoreError,
};
use rand_core::Rng;

use crate::validate::{DayWindow, Registry};

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
    roll_up(registry, plan.query.region.as_str(), window, store);
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

/// Rolls up the region's sealed days (see [`candor_store::rollup`]) before
/// a release reads them. Usually nothing is left to do (the background
/// jobs roll up each day once it closes, [`roll_up_closed`]); a failure
/// only costs speed (the release reads the rows), so it is logged, not
/// returned.
fn roll_up(registry: &Registry, region: &str, window: &DayWindow, store: &mut dyn Store) {
    if let Err(error) = roll_up_closed(registry, region, window, store) {
        tracing::warn!(%region, %error, "Rolling up closed days failed; the release reads the rows.");
    }
}

/// Rolls up `region`'s closed days in `store`: the days before the
/// earliest first accepted day over every served schema that declares the
/// region (a store holds all of them), which no report can reach any
/// more. Returns the spans built (none when no schema declares the
/// region).
///
/// # Errors
/// [`StoreError`] from the store; what was built before it stays.
pub(crate) fn roll_up_closed(
    registry: &Registry,
    region: &str,
    window: &DayWindow,
    store: &mut dyn Store,
) -> Result<u64, StoreError> {
    let Some(last_closed) = registry
        .all()
        .filter_map(|s| s.region(region))
        .map(|r| window.last_closed(r))
        .min()
    else {
        return Ok(0);
    };
    store.roll_up(last_closed.saturating_add(1))
}

/// Reads the plan's rows from `store` and computes the release from them
/// (steps 5–9 of the module docs; the computation itself does no I/O).
fn compute<R: Rng + ?Sized>(
    plan: &Plan<'_>,
    store: &dyn Store,
    rng: &mut R,
) -> Result<Answer, QueryError> {
    compute::from_rows(plan, read::read(plan, store)?, rng)
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

#[cfg(test)]
mod tests;

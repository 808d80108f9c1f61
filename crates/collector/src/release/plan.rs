//! Planning a release: the query checked against the schemas, the scope
//! and the closed days, normalized, with its budget keys, caps and ledger.

use std::collections::{BTreeMap, BTreeSet};

use candor_privacy::budget::{self, Amount, BudgetKey, Caps, Ledger};
use candor_schema::{Metric, Region, Schema};
use candor_store::{BudgetFilter, DayNumber, Store, StoreError};

use crate::validate::{DayWindow, Registry};

use super::*;

/// The query's schema, metric and region policy, checked.
pub(super) struct Plan<'a> {
    pub(super) schema: &'a Schema,
    pub(super) metric: &'a Metric,
    pub(super) region: &'a Region,
    pub(super) from: DayNumber,
    pub(super) to: DayNumber,
    /// The grouped dimensions, each with its candidate values: declared
    /// (or filtered) values, or `None` when they come from the data.
    pub(super) group_dims: Vec<(String, Option<Vec<String>>)>,
    pub(super) by_day: bool,
    /// ε charged per day.
    pub(super) epsilon: f64,
    /// δ charged per day: the metric's δ when the release selects from an
    /// open set, else 0.
    pub(super) delta: f64,
    pub(super) query: Query,
}

impl Plan<'_> {
    /// Whether some group key comes from the data.
    pub(super) fn open_groups(&self) -> bool {
        self.group_dims.iter().any(|(_, values)| values.is_none())
    }
}

/// Checks a query against the schemas, the scope and the closed days, and
/// normalizes it.
pub(super) fn plan<'a>(
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
    let all_cells = metric.kind.named_cells();
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
    activity_period(metric, &cells, from, to, by_day)?;
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
        metric.kind.has_open_cells() || group_dims.iter().any(|(_, v)| v.is_none());
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

/// The per-day budget keys of a plan.
pub(super) fn budget_keys(plan: &Plan<'_>) -> Vec<BudgetKey> {
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
pub(super) fn caps(region: &Region) -> Result<Caps, QueryError> {
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
pub(super) fn ledger(plan: &Plan<'_>, store: &dyn Store) -> Result<Ledger, QueryError> {
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

/// For an activity metric, the period a release of its first-in-period
/// cells must cover: a "first this week" total (`week`, or a cohort cell of
/// the retention table) counts each device once over exactly one ISO week,
/// and `month` over exactly one calendar month, so they are released over
/// that whole period as one group (never by day, where a day's total means
/// nothing and seven of them would be charged as seven releases).
fn activity_period(
    metric: &Metric,
    cells: &[String],
    from: DayNumber,
    to: DayNumber,
    by_day: bool,
) -> Result<(), QueryError> {
    if metric.kind.cohort_weeks().is_none() {
        return Ok(());
    }
    if cells.is_empty() {
        return Err(invalid(
            "invalid_query",
            format!(
                "{} releases the cells it is asked for: `today` or `new` (any days), `week` or the cohort cells `w0`, `w1`, … and `older` (one ISO week), `month` (one month)",
                metric.id
            ),
        ));
    }
    let has = |c: &str| cells.iter().any(|x| x == c);
    let weekly = has("week")
        || cells
            .iter()
            .any(|c| !candor_schema::ACTIVITY_CELLS.contains(&c.as_str()));
    let start = candor_time::Day::from_number(from).unwrap_or(candor_time::Day::EPOCH);
    let mut periods = Vec::new();
    if weekly {
        let week = candor_time::IsoWeek::of(start);
        periods.push((
            "ISO week",
            week.to_string(),
            week.days(),
            "week and cohort cells",
        ));
    }
    if has("month") {
        let month = candor_time::Month::of(start);
        periods.push(("month", month.to_string(), month.days(), "the month cell"));
    }
    for (what, name, days, cells) in periods {
        if by_day || from != *days.start() || to != *days.end() {
            return Err(invalid(
                "invalid_query",
                format!(
                    "{} releases {cells} over one whole {what}, not grouped by day: from {} to {} for {name}; release other cells apart",
                    metric.id,
                    format_day(*days.start()),
                    format_day(*days.end())
                ),
            ));
        }
    }
    Ok(())
}

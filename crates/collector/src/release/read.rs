//! Reading a release's rows from the store into groups: the only place
//! the release engine touches aggregate rows.

use std::collections::{BTreeMap, HashMap};

use candor_schema::Release;
use candor_store::{DayNumber, REPORTS_CELL, RowFilter, Store};

use super::*;

/// A group's key: (day if grouped by day, index of its grouped values).
pub(super) type GroupKey = (Option<DayNumber>, usize);

/// One group's rows, summed.
#[derive(Default)]
pub(super) struct GroupRows {
    /// Reports that carried the metric, per day (the [`REPORTS_CELL`] rows).
    pub(super) daily_reports: BTreeMap<DayNumber, i64>,
    /// Cell → sum of its rows.
    pub(super) cells: BTreeMap<String, i64>,
}

impl GroupRows {
    /// The group's distinct devices, at least: its largest daily report
    /// count (one report per device, purpose and day). Adding or removing
    /// one report moves it by at most one.
    pub(super) fn devices(&self) -> i64 {
        self.daily_reports.values().copied().max().unwrap_or(0)
    }
}

/// Grouped values, interned: each distinct tuple of grouped dimension
/// values gets an index.
#[derive(Default)]
pub(super) struct Interner {
    pub(super) values: Vec<Vec<String>>,
    pub(super) ids: HashMap<Vec<String>, usize>,
}

impl Interner {
    pub(super) fn id(&mut self, values: Vec<String>) -> usize {
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
pub(super) fn read_groups(
    plan: &Plan<'_>,
    store: &dyn Store,
    keys: &mut Interner,
) -> Result<HashMap<GroupKey, GroupRows>, QueryError> {
    let central = matches!(plan.metric.release, Release::CentralDp { .. });
    let wanted = |c: &str| plan.query.cells.is_empty() || plan.query.cells.iter().any(|w| w == c);
    // Each distinct dimensions string is parsed once.
    let mut dims_key: HashMap<String, Option<usize>> = HashMap::new();
    // Groups in a vector, found through `index`; a span's values come one
    // after another and share their group, so the last group found is
    // tried first (a year by day lends some 40 000 values).
    let mut found: Vec<GroupRows> = Vec::new();
    let mut index: HashMap<GroupKey, usize> = HashMap::new();
    let mut last_dims: Option<(String, Option<usize>)> = None;
    let mut last_group: Option<(GroupKey, usize)> = None;
    let filter = RowFilter {
        schema_id: Some(plan.schema.id.clone()),
        metric: Some(plan.metric.id.clone()),
        purpose: Some(plan.metric.purpose.clone()),
        from_day: Some(plan.from),
        to_day: Some(plan.to),
    };
    // Rolled-up spans where the store has them: a cell's sum over the
    // range is the same, and report counts still come per day.
    store.visit_spans(&filter, plan.by_day, &mut |span| {
        let row = &span.row;
        let reports = row.cell == REPORTS_CELL;
        if !reports && central && !wanted(row.cell) {
            return;
        }
        let key = match &last_dims {
            Some((dims, k)) if dims == row.dimensions => *k,
            _ => {
                let k = match dims_key.get(row.dimensions) {
                    Some(k) => *k,
                    None => {
                        let k = grouped_values(row.dimensions, plan).map(|v| keys.id(v));
                        dims_key.insert(row.dimensions.to_owned(), k);
                        k
                    }
                };
                last_dims = Some((row.dimensions.to_owned(), k));
                k
            }
        };
        let Some(key) = key else { return };
        let group_key = (plan.by_day.then_some(row.day), key);
        let at = match last_group {
            Some((k, at)) if k == group_key => at,
            _ => {
                let at = *index.entry(group_key).or_insert_with(|| {
                    found.push(GroupRows::default());
                    found.len() - 1
                });
                last_group = Some((group_key, at));
                at
            }
        };
        let group = &mut found[at];
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
    let groups = index
        .into_iter()
        .map(|(key, at)| (key, std::mem::take(&mut found[at])))
        .collect();
    Ok(groups)
}

/// A row's grouped values (in the plan's group order), or `None` when a
/// filter excludes it. `dimensions` is the canonical `k=v,k2=v2`.
pub(super) fn grouped_values(dimensions: &str, plan: &Plan<'_>) -> Option<Vec<String>> {
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

/// A release's rows, grouped, with the interned grouped values.
pub(super) struct Rows {
    /// Each group's rows.
    pub(super) data: HashMap<GroupKey, GroupRows>,
    /// The grouped values seen (and, later, the candidates').
    pub(super) keys: Interner,
}

/// Reads the plan's rows from `store`.
pub(super) fn read(plan: &Plan<'_>, store: &dyn Store) -> Result<Rows, QueryError> {
    let mut keys = Interner::default();
    let data = read_groups(plan, store, &mut keys)?;
    Ok(Rows { data, keys })
}

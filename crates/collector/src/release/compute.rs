//! Computing a release from the rows read, with no I/O: candidate
//! groups, noisy selection, noisy values and local-DP estimates, totals.

use std::collections::{BTreeMap, BTreeSet};

use candor_privacy::dp::DiscreteLaplace;
use candor_privacy::ldp::RandomizedResponse;
use candor_privacy::threshold::{self, OpenSetRule};
use candor_schema::Release;
use candor_store::DayNumber;
use rand_core::Rng;

use super::*;

/// Every candidate group, in answer order: the days of the range (if
/// grouped by day) × the product of each grouped dimension's candidate
/// values (declared or filtered values, or those seen in the data for an
/// open dimension). Groups absent from the data are candidates too, so
/// that which groups exist is never read off the data where the schema
/// or the query already says it.
pub(super) fn candidates(plan: &Plan<'_>, keys: &mut Interner) -> Vec<(Option<DayNumber>, usize)> {
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
pub(super) fn split_epsilon(epsilon: f64) -> (f64, f64) {
    let select = epsilon * SELECTION_SHARE;
    (select, epsilon - select)
}

/// A discrete Laplace mechanism for `bound` at `epsilon`, or the query's
/// `invalid_epsilon`.
pub(super) fn laplace(bound: u64, epsilon: f64) -> Result<DiscreteLaplace, QueryError> {
    DiscreteLaplace::for_epsilon(bound, epsilon)
        .map_err(|e| invalid("invalid_epsilon", e.to_string()))
}

/// Reads, selects and releases (steps 5–9 of the module docs).
pub(super) fn from_rows<R: Rng + ?Sized>(
    plan: &Plan<'_>,
    rows: Rows,
    rng: &mut R,
) -> Result<Answer, QueryError> {
    let metric = plan.metric;
    let k_min = plan.region.k_min;
    // Only the released cells count: an activity release of one flag (a
    // weekly total) has Δ = 1, not the five cells a report may add to.
    let bound = metric.contribution_bound_over(&plan.query.cells);
    let Rows { data, mut keys } = rows;
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

    if metric.kind.has_open_cells() {
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
            let all = metric.kind.named_cells().unwrap_or_default();
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
            let all = metric.kind.named_cells();
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
                    // A counter's one cell is unnamed; a bucket also
                    // says its range.
                    let cell = all.is_some().then(|| name.clone());
                    let bucket = metric.kind.bucket_label(name);
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

/// Per-group totals and shares over the released cells (post-processing);
/// `ranges` are the runs of `answer.groups` that belong to one group.
pub(super) fn add_totals(answer: &mut Answer, ranges: &[std::ops::Range<usize>], variance: f64) {
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

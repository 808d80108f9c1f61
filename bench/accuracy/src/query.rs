//! The queries of the study, and their answers compared with the truth.

use std::collections::{BTreeMap, HashMap, HashSet};

use candor_collector::release::{self, Answer, Query, Scope};
use candor_collector::validate::{DayWindow, Registry};
use candor_schema::Metric;
use rand_chacha::ChaCha8Rng;

use crate::simulate::TruthKey;
use crate::stats::{Cell, Outcome};
use crate::store::StudyStore;
use crate::{Args, REGION, SWEEP};

/// Everything the comparison needs.
pub(crate) struct World {
    pub(crate) metrics: Vec<Metric>,
    pub(crate) dims_index: HashMap<String, u32>,
    pub(crate) first_day: i32,
    /// (metric, day, dims, cell) → true total.
    pub(crate) grouped: HashMap<TruthKey, i64>,
    /// (metric, cell) → true total over every day and dimension.
    pub(crate) whole: HashMap<(usize, String), i64>,
    /// (metric, domain) of the [`crate::TOP_DOMAINS`] most mentioned domains.
    pub(crate) top: HashSet<(usize, String)>,
}

impl World {
    /// Compares an answer with the truth. `grouped`: the query grouped by
    /// day and every dimension of the metric; otherwise no grouping.
    pub(crate) fn compare(&self, m: usize, answer: &Answer, grouped: bool) -> Outcome {
        let metric = &self.metrics[m];
        let mut out = Outcome {
            suppressed: answer.suppressed.unwrap_or(0),
            ..Outcome::default()
        };
        for g in &answer.groups {
            let cell = g.cell.clone().unwrap_or_default();
            if let Some(cells) = metric.kind.cells() {
                assert!(
                    cells.contains(&cell),
                    "a released cell is one of the metric's"
                );
            }
            let truth = if grouped {
                let day = g.day.as_deref().and_then(release::parse_day).expect("day");
                let dims: Vec<String> = g
                    .dimensions
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                self.dims_index
                    .get(&dims.join(","))
                    .and_then(|&d| {
                        let day = (day - self.first_day) as usize;
                        self.grouped.get(&(m, day, d, cell.clone()))
                    })
                    .copied()
                    .unwrap_or(0)
            } else {
                assert!(g.day.is_none() && g.dimensions.is_empty());
                self.whole.get(&(m, cell.clone())).copied().unwrap_or(0)
            };
            out.cells.push(Cell {
                truth: truth as f64,
                value: g.value,
                low: g.ci95[0],
                high: g.ci95[1],
                top: !grouped && self.top.contains(&(m, cell)),
            });
            out.released_mentions += truth as f64;
        }
        if metric.kind.has_open_cells() {
            let truths: Vec<i64> = if grouped {
                self.grouped
                    .iter()
                    .filter(|(k, _)| k.0 == m)
                    .map(|(_, v)| *v)
                    .collect()
            } else {
                self.whole
                    .iter()
                    .filter(|((mm, _), _)| *mm == m)
                    .map(|(_, v)| *v)
                    .collect()
            };
            out.true_values = truths.len() as u64;
            out.true_mentions = truths.iter().sum::<i64>() as f64;
        }
        out
    }
}

/// One fresh (uncached) answer of the release engine.
fn query(
    registry: &Registry,
    store: &mut StudyStore,
    metric: &Metric,
    days: (&str, &str),
    group_by: Vec<String>,
    epsilon: Option<f64>,
    rng: &mut ChaCha8Rng,
) -> Answer {
    let scope = Scope {
        name: "accuracy".into(),
        admin: true,
        regions: Vec::new(),
        purposes: Vec::new(),
    };
    let q = Query {
        region: REGION.into(),
        metric: metric.id.clone(),
        schema: None,
        from: days.0.into(),
        to: days.1.into(),
        group_by,
        filters: BTreeMap::new(),
        cells: Vec::new(),
        epsilon,
    };
    // The whole simulated range is closed long ago.
    let window = DayWindow {
        today: release::parse_day(days.1).expect("a day") + 100,
        past_override: None,
        future: 1,
    };
    let answer = release::release(registry, store, &scope, &q, 0, &window, rng)
        .unwrap_or_else(|e| panic!("{}: {e}", metric.id));
    assert!(!answer.cached, "{}: every query must be fresh", metric.id);
    answer
}

/// Per metric: whole-range outcomes per ε of the sweep (over trials), the
/// domain threshold per ε, and the grouped outcome at the schema's ε.
pub(crate) struct Results {
    pub(crate) whole: Vec<Vec<Vec<Outcome>>>,
    pub(crate) taus: Vec<Vec<Option<f64>>>,
    pub(crate) grouped: Vec<Outcome>,
}

/// Whether `metric` is released with local DP (answered at the devices' ε).
fn is_local(metric: &Metric) -> bool {
    matches!(metric.release, candor_schema::Release::LocalDp { .. })
}

pub(crate) fn run_queries(
    world: &World,
    args: &Args,
    range: (&str, &str),
    (registry, store): (&Registry, &mut StudyStore),
    (ldp_factors, ldp_registries, ldp_stores): (&[f64], &[Registry], &mut [StudyStore]),
    noise: &mut ChaCha8Rng,
) -> Results {
    // Whole range, no group-by: every ε of the sweep, `trials` times.
    // results[m][s] = outcomes over trials.
    let mut results: Vec<Vec<Vec<Outcome>>> = Vec::new();
    let mut taus: Vec<Vec<Option<f64>>> = Vec::new();
    for (m, metric) in world.metrics.iter().enumerate() {
        let mut per_eps = Vec::new();
        let mut tau = Vec::new();
        for &factor in &SWEEP {
            let mut outs = Vec::new();
            if is_local(metric) {
                let answer = if factor == 1.0 {
                    query(registry, store, metric, range, Vec::new(), None, noise)
                } else {
                    let j = ldp_factors.iter().position(|&f| f == factor).expect("f");
                    query(
                        &ldp_registries[j],
                        &mut ldp_stores[j],
                        metric,
                        range,
                        Vec::new(),
                        None,
                        noise,
                    )
                };
                outs.push(world.compare(m, &answer, false));
                tau.push(None);
            } else {
                let base = metric.release.epsilon() * factor;
                for t in 0..args.trials {
                    let eps = base * (1.0 + t as f64 * 1e-7);
                    let answer =
                        query(registry, store, metric, range, Vec::new(), Some(eps), noise);
                    if t == 0 {
                        tau.push(answer.threshold);
                    }
                    outs.push(world.compare(m, &answer, false));
                }
            }
            per_eps.push(outs);
        }
        results.push(per_eps);
        taus.push(tau);
    }

    // Grouped by day and every dimension, at the schema's ε, once.
    let mut grouped_results: Vec<Outcome> = Vec::new();
    for (m, metric) in world.metrics.iter().enumerate() {
        let mut group_by = vec![release::DAY.to_string()];
        group_by.extend(metric.dimensions.iter().cloned());
        let eps = (!is_local(metric)).then(|| metric.release.epsilon());
        let answer = query(registry, store, metric, range, group_by, eps, noise);
        grouped_results.push(world.compare(m, &answer, true));
    }
    Results {
        whole: results,
        taus,
        grouped: grouped_results,
    }
}

//! Turning a day's aggregates into a report: clamp to the schema's bounds,
//! apply local DP where the schema asks, keep only declared dimensions.

use std::collections::{BTreeMap, BTreeSet};

use candor_privacy::ldp::RandomizedResponse;
use candor_privacy::uniform_below;
use candor_protocol::{Day, MetricValue, Report};
use candor_schema::{Metric, MetricKind, Release, Schema};
use rand_core::Rng;

use crate::store::Acc;

/// Scales counts down proportionally (flooring) so they sum to at most `bound`.
fn clamp_total(counts: &mut [u64], bound: u64) {
    let total: u128 = counts.iter().map(|&c| u128::from(c)).sum();
    if total > u128::from(bound) {
        for c in counts.iter_mut() {
            *c = (u128::from(*c) * u128::from(bound) / total) as u64;
        }
    }
}

/// A uniformly random subset of at most `bound` domains, so that which
/// domains survive the cap does not depend on the order they were visited.
fn sample_domains<R: Rng + ?Sized>(
    set: BTreeSet<String>,
    bound: u64,
    rng: &mut R,
) -> BTreeSet<String> {
    let bound = usize::try_from(bound).unwrap_or(usize::MAX);
    if set.len() <= bound {
        return set;
    }
    let mut all: Vec<String> = set.into_iter().collect();
    // Partial Fisher–Yates: the first `bound` positions become the sample.
    for i in 0..bound {
        let j = i + uniform_below((all.len() - i) as u64, rng) as usize;
        all.swap(i, j);
    }
    all.truncate(bound);
    all.into_iter().collect()
}

fn randomize<R: Rng + ?Sized>(metric: &Metric, index: usize, k: usize, rng: &mut R) -> usize {
    match metric.release {
        Release::LocalDp { epsilon } => match RandomizedResponse::new(epsilon, k) {
            Ok(rr) => rr.randomize(index, rng),
            // The schema validator refuses such ε; never send the raw value.
            Err(_) => uniform_below(k as u64, rng) as usize,
        },
        _ => index,
    }
}

/// The value to report for one metric, or `None` if nothing remains.
fn value<R: Rng + ?Sized>(metric: &Metric, acc: Acc, rng: &mut R) -> Option<MetricValue> {
    let bound = metric.max_per_report;
    Some(match (&metric.kind, acc) {
        (MetricKind::Counter, Acc::Counter(n)) => MetricValue::Counter(n.min(bound)),
        (MetricKind::LabeledCounter { labels }, Acc::LabeledCounter(mut counts)) => {
            clamp_total(&mut counts, bound);
            let map: BTreeMap<String, u64> = labels
                .iter()
                .zip(counts)
                .filter(|(_, c)| *c > 0)
                .map(|(l, c)| (l.clone(), c))
                .collect();
            if map.is_empty() {
                return None;
            }
            MetricValue::LabeledCounter(map)
        }
        (MetricKind::Boolean, Acc::Boolean(b)) => {
            MetricValue::Boolean(randomize(metric, usize::from(b), 2, rng) == 1)
        }
        (MetricKind::Category { categories }, Acc::Category(i)) => {
            let i = randomize(metric, i as usize, categories.len(), rng);
            MetricValue::Category(categories.get(i)?.clone())
        }
        (MetricKind::Distribution { buckets }, Acc::Distribution(mut counts)) => {
            counts.resize(buckets.len() + 1, 0);
            clamp_total(&mut counts, bound);
            if counts.iter().all(|&c| c == 0) {
                return None;
            }
            MetricValue::Distribution(counts)
        }
        (MetricKind::DomainSet, Acc::DomainSet(set)) => {
            MetricValue::DomainSet(sample_domains(set, bound, rng))
        }
        _ => return None,
    })
}

/// Fills `report` (whose header fields are set) with the day's `metrics`:
/// each clamped, randomized where the schema asks, with the dimensions its
/// metrics declare. Returns `None` when no metric has anything to report.
pub(crate) fn build<R: Rng + ?Sized>(
    schema: &Schema,
    dimensions: &BTreeMap<String, String>,
    mut report: Report,
    metrics: BTreeMap<String, Acc>,
    today: Day,
    rng: &mut R,
) -> Option<Report> {
    for (id, acc) in metrics {
        let Some(metric) = schema.metric(&id) else {
            continue;
        };
        if metric.purpose != report.purpose || metric.is_expired(today.date()) {
            continue;
        }
        if let Some(v) = value(metric, acc, rng) {
            for d in &metric.dimensions {
                if let Some(v) = dimensions.get(d) {
                    report.dimensions.insert(d.clone(), v.clone());
                }
            }
            report.metrics.insert(id, v);
        }
    }
    (!report.metrics.is_empty()).then_some(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamping_keeps_proportions_under_the_bound() {
        let mut c = vec![50, 30, 20];
        clamp_total(&mut c, 10);
        assert_eq!(c, vec![5, 3, 2]);
        let mut small = vec![1, 2];
        clamp_total(&mut small, 10);
        assert_eq!(small, vec![1, 2]);
        let mut huge = vec![u64::MAX, u64::MAX];
        clamp_total(&mut huge, 100);
        assert_eq!(huge.iter().sum::<u64>(), 100);
    }
}

//! Turning a day's aggregates into a report: clamp to the schema's bounds,
//! apply local DP where the schema asks, keep only declared dimensions.
//!
//! Local DP is *permanent* randomized response (as in RAPPOR): the
//! randomized answer for a true value is drawn once and remembered
//! ([`LdpMemo`]), and a local-DP metric, once set, is sent with every report
//! of its purpose (its last value), so neither repetition nor presence
//! tells more than one randomized answer per true value. docs/wire.md §2.4
//! specifies the mechanism for other clients.

use std::collections::{BTreeMap, BTreeSet};

use candor_privacy::ldp::RandomizedResponse;
use candor_privacy::uniform_below;
use candor_protocol::{Day, MetricValue, Report};
use candor_schema::{Metric, MetricKind, Release, Schema};
use rand_core::Rng;

use crate::store::{Acc, DayEntry, LdpMemo};

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

/// The randomized answer for true value `index` of a local-DP metric with
/// `k` values: the remembered one, or a fresh draw that is remembered.
fn randomize<R: Rng + ?Sized>(
    epsilon: f64,
    index: u32,
    k: usize,
    memo: &mut LdpMemo,
    rng: &mut R,
) -> u32 {
    *memo.answers.entry(index).or_insert_with(|| {
        let drawn = match RandomizedResponse::new(epsilon, k) {
            Ok(rr) => rr.randomize(index as usize, rng),
            // The schema validator refuses such ε; never send the raw value.
            Err(_) => uniform_below(k as u64, rng) as usize,
        };
        drawn as u32
    })
}

/// A local-DP metric's value for a report: today's, else the last one
/// remembered; randomized once per true value. `None` when it was never set.
fn local_value<R: Rng + ?Sized>(
    metric: &Metric,
    epsilon: f64,
    today: Option<&Acc>,
    memo: &mut LdpMemo,
    rng: &mut R,
) -> Option<MetricValue> {
    match today {
        Some(Acc::Boolean(b)) => memo.last = Some(u32::from(*b)),
        Some(Acc::Category(i)) => memo.last = Some(*i),
        _ => {}
    }
    let truth = memo.last?;
    Some(match &metric.kind {
        MetricKind::Boolean => {
            MetricValue::Boolean(randomize(epsilon, truth.min(1), 2, memo, rng) == 1)
        }
        MetricKind::Category { categories } => {
            let truth = truth.min(categories.len().saturating_sub(1) as u32);
            let i = randomize(epsilon, truth, categories.len(), memo, rng);
            MetricValue::Category(categories.get(i as usize)?.clone())
        }
        _ => return None,
    })
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
        // Central-DP booleans and categories are sent as they are: the
        // collector adds the noise. Local-DP ones go through `local_value`.
        (MetricKind::Boolean, Acc::Boolean(b)) => MetricValue::Boolean(b),
        (MetricKind::Category { categories }, Acc::Category(i)) => {
            MetricValue::Category(categories.get(i as usize)?.clone())
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

/// Remembers the local-DP values of a day that is not reported (its
/// report could no longer be delivered), so later reports carry them.
pub(crate) fn remember(schema: &Schema, entry: &DayEntry, memory: &mut BTreeMap<String, LdpMemo>) {
    for (id, acc) in &entry.metrics {
        let Some(metric) = schema.metric(id) else {
            continue;
        };
        if !matches!(metric.release, Release::LocalDp { .. }) {
            continue;
        }
        let last = match acc {
            Acc::Boolean(b) => u32::from(*b),
            Acc::Category(i) => *i,
            _ => continue,
        };
        memory.entry(id.clone()).or_default().last = Some(last);
    }
}

/// Fills `report` (whose header fields are set) with the day's `metrics`:
/// each clamped, randomized where the schema asks, with the dimensions its
/// metrics declare. Every local-DP metric of the purpose that was ever set
/// is included, with today's value or the last one (`memory` keeps it and
/// the randomized answers). Returns `None` when no metric has anything to
/// report.
pub(crate) fn build<R: Rng + ?Sized>(
    schema: &Schema,
    dimensions: &BTreeMap<String, String>,
    mut report: Report,
    mut metrics: BTreeMap<String, Acc>,
    today: Day,
    memory: &mut BTreeMap<String, LdpMemo>,
    rng: &mut R,
) -> Option<Report> {
    for metric in schema.metrics_for_purpose(&report.purpose) {
        if metric.is_expired(today.date()) {
            continue;
        }
        let value = match metric.release {
            Release::LocalDp { epsilon, .. } => {
                let memo = memory.entry(metric.id.clone()).or_default();
                local_value(metric, epsilon, metrics.get(&metric.id), memo, rng)
            }
            _ => match metrics.remove(&metric.id) {
                Some(acc) => value(metric, acc, rng),
                None => None,
            },
        };
        let Some(v) = value else { continue };
        for d in &metric.dimensions {
            if let Some(v) = dimensions.get(d) {
                report.dimensions.insert(d.clone(), v.clone());
            }
        }
        report.metrics.insert(metric.id.clone(), v);
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

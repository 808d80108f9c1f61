//! Turning a day's aggregates into a report: clamp to the schema's bounds,
//! apply local DP where the schema asks, keep only declared dimensions.
//!
//! Local DP is *permanent* randomized response (as in RAPPOR): the
//! randomized answer for a true value is drawn once and remembered
//! ([`LdpMemo`]), and a local-DP metric, once set, is sent with every report
//! of its purpose (its last value), so neither repetition nor presence
//! tells more than one randomized answer per true value. docs/wire.md §2.4
//! specifies the mechanism for other clients.

use std::collections::BTreeMap;

use candor_privacy::ldp::RandomizedResponse;
use candor_privacy::uniform_below;
use candor_protocol::{Day, MetricValue, Report};
use candor_schema::{Metric, Release, Schema};
use rand_core::Rng;

use crate::store::{Acc, DayEntry, LdpMemo};

/// The randomized answer for true value `index` of a local-DP metric with
/// `k` values: the remembered one, or a fresh draw that is remembered.
fn randomize<R: Rng + ?Sized>(
    epsilon: f64,
    index: u32,
    k: usize,
    answers: &mut BTreeMap<u32, u32>,
    rng: &mut R,
) -> u32 {
    *answers.entry(index).or_insert_with(|| {
        let drawn = match RandomizedResponse::new(epsilon, k) {
            Ok(rr) => rr.randomize(index as usize, rng),
            // The schema validator refuses such ε; never send the raw value.
            Err(_) => uniform_below(k as u64, rng) as usize,
        };
        drawn as u32
    })
}

/// What this SDK sends for a local-DP metric (boolean or category) whose
/// true value is `truth` (`false` = 0, `true` = 1, a category by its
/// position; see [`candor_values::choice_value`]): *permanent* randomized
/// response at `epsilon` (docs/wire.md §2.4). `answers` remembers the
/// answer drawn for each true value, so a value that never changes is
/// randomized once, however many reports carry it; keep one map per device
/// and metric. `None` for other metric types.
///
/// Tools that model devices (the accuracy study) call this to randomize
/// exactly as the SDK does.
pub fn local_dp_answer<R: Rng + ?Sized>(
    metric: &Metric,
    epsilon: f64,
    truth: u32,
    answers: &mut BTreeMap<u32, u32>,
    rng: &mut R,
) -> Option<MetricValue> {
    let k = metric.kind.choices()?;
    let truth = truth.min(k.saturating_sub(1) as u32);
    let i = randomize(epsilon, truth, k, answers, rng);
    candor_values::choice_value(metric, i)
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
    if let Some(choice) = today.and_then(Acc::choice) {
        memo.last = Some(choice);
    }
    let truth = memo.last?;
    local_dp_answer(metric, epsilon, truth, &mut memo.answers, rng)
}

/// The value to report for one metric, or `None` if nothing remains: the
/// day's accumulator as a value, clamped to the metric's bound
/// ([`candor_values::clamp`]). Central-DP booleans and categories are sent
/// as they are (the collector adds the noise); local-DP ones go through
/// `local_value`.
fn value<R: Rng + ?Sized>(metric: &Metric, acc: Acc, rng: &mut R) -> Option<MetricValue> {
    let raw = acc.into_value(metric)?;
    candor_values::clamp(metric, raw, rng)
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
        let Some(last) = acc.choice() else {
            continue;
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

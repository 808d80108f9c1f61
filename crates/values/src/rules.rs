//! The value rules of a report under its data dictionary: schema version,
//! purpose, metrics, dimensions, and every metric value (bounds, labels,
//! categories, buckets, domains); how a value is clamped to its bound, and
//! which cells it adds to.
//!
//! docs/wire.md §2.1 states these rules for other implementations; this
//! module is the one place they are coded.

use std::collections::{BTreeMap, BTreeSet};

use candor_privacy::uniform_below;
use candor_protocol::{Activity, Cohort, Day, MetricValue, Report};
use candor_schema::{Metric, MetricKind, Schema};
use candor_time::IsoWeek;
use rand_core::Rng;

use crate::domain::{self, DomainError};

/// One broken value rule. [`ValueError::code`] is the stable code the
/// collector answers with (docs/wire.md §10); the message names the metric,
/// dimension or value so a sender can find its bug.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// The report names another data dictionary than the one checked against.
    #[error("schema {got:?} is not {expected:?}")]
    UnknownSchema {
        /// The report's schema id.
        got: String,
        /// The schema checked against.
        expected: String,
    },
    /// The report's schema version is 0 or newer than the data dictionary's.
    #[error("schema {schema:?} version {got} is unknown (the current version is {current})")]
    UnknownSchemaVersion {
        /// The schema id.
        schema: String,
        /// The report's `schema_version`.
        got: u32,
        /// The data dictionary's version.
        current: u32,
    },
    /// The purpose is not declared.
    #[error("purpose {0:?} is not declared")]
    UnknownPurpose(String),
    /// A metric is not declared, or is declared for another purpose.
    #[error("metric {metric:?}: {detail}")]
    UnknownMetric {
        /// The metric id.
        metric: String,
        /// Why.
        detail: String,
    },
    /// A dimension breaks the dimension rule.
    #[error("dimension {dimension:?}: {detail}")]
    UnknownDimension {
        /// The dimension id.
        dimension: String,
        /// Why.
        detail: String,
    },
    /// A value's type is not its metric's.
    #[error("{metric} is a {expected}")]
    WrongType {
        /// The metric id.
        metric: String,
        /// The metric's type name.
        expected: &'static str,
    },
    /// A label or category outside the metric's closed set.
    #[error("{metric}: {what} {value:?} is not declared")]
    UnknownLabel {
        /// The metric id.
        metric: String,
        /// "label" or "category".
        what: &'static str,
        /// The value.
        value: String,
    },
    /// A value over the metric's per-report bound, a wrong bucket count.
    #[error("{metric}: {detail}")]
    OutOfBounds {
        /// The metric id.
        metric: String,
        /// What exceeds what.
        detail: String,
    },
    /// A `domain_set` member that is not a canonical registrable domain.
    #[error("{metric}: {value:?} is not a canonical registrable domain: {reason}")]
    NotADomain {
        /// The metric id.
        metric: String,
        /// The member as sent.
        value: String,
        /// Why it is not canonical.
        reason: DomainError,
    },
    /// An activity value whose flags or cohort cannot all be true of one
    /// device on the report's day (docs/wire.md §2.5).
    #[error("{metric}: impossible activity: {detail}")]
    ImpossibleActivity {
        /// The metric id.
        metric: String,
        /// Which combination.
        detail: String,
    },
}

impl ValueError {
    /// The stable code (docs/wire.md §10); a domain that is not canonical is
    /// `value_out_of_bounds`.
    pub fn code(&self) -> &'static str {
        match self {
            ValueError::UnknownSchema { .. } => "unknown_schema",
            ValueError::UnknownSchemaVersion { .. } => "unknown_schema_version",
            ValueError::UnknownPurpose(_) => "unknown_purpose",
            ValueError::UnknownMetric { .. } => "unknown_metric",
            ValueError::UnknownDimension { .. } => "unknown_dimension",
            ValueError::WrongType { .. } => "wrong_type",
            ValueError::UnknownLabel { .. } => "unknown_label",
            ValueError::OutOfBounds { .. } | ValueError::NotADomain { .. } => "value_out_of_bounds",
            ValueError::ImpossibleActivity { .. } => "impossible_activity",
        }
    }

    /// Every code [`ValueError::code`] returns.
    pub const CODES: [&'static str; 9] = [
        "unknown_schema",
        "unknown_schema_version",
        "unknown_purpose",
        "unknown_metric",
        "unknown_dimension",
        "wrong_type",
        "unknown_label",
        "value_out_of_bounds",
        "impossible_activity",
    ];
}

/// Checks a report against its data dictionary, in this order: schema id and
/// version, purpose, metric ids, the dimension rule, then each value. The
/// first broken rule is returned: a report is valid entirely or not at all.
///
/// The rules (docs/wire.md §2.1):
/// - `schema_version` is between 1 and the schema's version (devices on an
///   older version keep reporting the metrics that still exist);
/// - every metric is declared for the report's purpose;
/// - **dimensions**: a report carries only dimensions declared by at least
///   one of its metrics, each with a value the dimension accepts (closed set
///   member, or the canonical coarse version form). A dimension a metric
///   declares may be absent when the device does not know it; each metric's
///   rows are keyed by the dimensions it declares that the report carries;
/// - each value as [`check_value`], and an activity value against the
///   report's day ([`check_activity_day`]).
///
/// Whether a metric has expired, the consent version and the report's day
/// are not value rules: the collector decides them (expired metrics are
/// skipped, not refused).
///
/// # Errors
/// The first [`ValueError`].
pub fn check_report(schema: &Schema, report: &Report) -> Result<(), ValueError> {
    if report.schema != schema.id {
        return Err(ValueError::UnknownSchema {
            got: report.schema.clone(),
            expected: schema.id.clone(),
        });
    }
    if report.schema_version == 0 || report.schema_version > schema.version {
        return Err(ValueError::UnknownSchemaVersion {
            schema: schema.id.clone(),
            got: report.schema_version,
            current: schema.version,
        });
    }
    if schema.purpose(&report.purpose).is_none() {
        return Err(ValueError::UnknownPurpose(report.purpose.clone()));
    }
    let mut metrics = Vec::with_capacity(report.metrics.len());
    for (id, value) in &report.metrics {
        let metric = schema.metric(id).ok_or_else(|| ValueError::UnknownMetric {
            metric: id.clone(),
            detail: "not declared".into(),
        })?;
        if metric.purpose != report.purpose {
            return Err(ValueError::UnknownMetric {
                metric: id.clone(),
                detail: format!("belongs to purpose {:?}", metric.purpose),
            });
        }
        metrics.push((metric, value));
    }
    let declared: BTreeSet<&str> = metrics
        .iter()
        .flat_map(|(m, _)| m.dimensions.iter().map(String::as_str))
        .collect();
    for (id, value) in &report.dimensions {
        let unknown = |detail: String| ValueError::UnknownDimension {
            dimension: id.clone(),
            detail,
        };
        let dimension = schema
            .dimension(id)
            .ok_or_else(|| unknown("not declared by the schema".into()))?;
        if !declared.contains(id.as_str()) {
            return Err(unknown("no metric of the report declares it".into()));
        }
        if !dimension.accepts(value) {
            return Err(unknown(format!("value {value:?} is not allowed")));
        }
    }
    for (metric, value) in metrics {
        check_value(metric, value)?;
        if let MetricValue::Activity(activity) = value {
            check_activity_day(metric, activity, report.day)?;
        }
    }
    Ok(())
}

/// The rules of an activity value that depend on the report's day: the
/// install cohort is not after the report's ISO week, a cohort week within
/// the metric's `cohort_weeks` is sent as that week and an older one only
/// as `older` (so an old install week never singles a device out), and the
/// first day since install is in the install week.
///
/// # Errors
/// [`ValueError::ImpossibleActivity`].
pub fn check_activity_day(metric: &Metric, value: &Activity, day: Day) -> Result<(), ValueError> {
    let impossible = |detail: String| ValueError::ImpossibleActivity {
        metric: metric.id.clone(),
        detail,
    };
    let horizon = metric.kind.cohort_weeks().unwrap_or(0);
    match (activity_cohort_age(metric, value.cohort, day), value.cohort) {
        (Err(()), cohort) => Err(impossible(format!(
            "cohort {cohort} is after the report's week {}",
            IsoWeek::of(day)
        ))),
        (Ok(None), Cohort::Week(w)) => Err(impossible(format!(
            "cohort {w} is more than {horizon} weeks before the report's week {}: it must be sent as \"older\"",
            IsoWeek::of(day)
        ))),
        (Ok(age), _) if value.first_day && age != Some(0) => Err(impossible(format!(
            "first_day on {day}, but the install week is {}",
            value.cohort
        ))),
        _ => Ok(()),
    }
}

/// How many weeks before `day`'s ISO week a cohort was installed: `Ok(None)`
/// for `older` or beyond the metric's `cohort_weeks`, `Err` for a cohort
/// after it.
fn activity_cohort_age(metric: &Metric, cohort: Cohort, day: Day) -> Result<Option<u8>, ()> {
    let Cohort::Week(week) = cohort else {
        return Ok(None);
    };
    let age = IsoWeek::of(day).weeks_since(week);
    if age < 0 {
        return Err(());
    }
    let horizon = metric.kind.cohort_weeks().unwrap_or(0);
    Ok(u8::try_from(age).ok().filter(|a| *a <= horizon))
}

/// Checks one metric value against its metric:
///
/// - the value's type is the metric's;
/// - `counter`: at most `max_per_report`;
/// - `labeled_counter`: declared labels only, the **sum over all labels** at
///   most `max_per_report`;
/// - `category`: a declared category;
/// - `distribution`: exactly one count per bucket (n bounds make n + 1
///   buckets; bucket bounds are inclusive upper bounds), the **sum of the
///   counts** at most `max_per_report`;
/// - `domain_set`: at most `max_per_report` members, each a canonical
///   registrable domain ([`domain::check_canonical`]);
/// - `activity`: `today` is true (a day without use sends nothing), and
///   `first_day` comes with `first_in_week`, `first_in_month` and an install
///   week (not `older`); the rules that need the report's day are
///   [`check_activity_day`]'s.
///
/// # Errors
/// The first [`ValueError`].
pub fn check_value(metric: &Metric, value: &MetricValue) -> Result<(), ValueError> {
    let bound = metric.max_per_report;
    let over = |what: &str, n: u64| ValueError::OutOfBounds {
        metric: metric.id.clone(),
        detail: format!("{what} {n} exceeds the bound {bound}"),
    };
    match (&metric.kind, value) {
        (MetricKind::Counter, MetricValue::Counter(n)) => {
            if *n > bound {
                return Err(over("count", *n));
            }
        }
        (MetricKind::LabeledCounter { labels }, MetricValue::LabeledCounter(map)) => {
            let mut total = 0u64;
            for (label, n) in map {
                if !labels.contains(label) {
                    return Err(ValueError::UnknownLabel {
                        metric: metric.id.clone(),
                        what: "label",
                        value: label.clone(),
                    });
                }
                total = total.saturating_add(*n);
            }
            if total > bound {
                return Err(over("the total over all labels", total));
            }
        }
        (MetricKind::Boolean, MetricValue::Boolean(_)) => {}
        (MetricKind::Category { categories }, MetricValue::Category(c)) => {
            if !categories.contains(c) {
                return Err(ValueError::UnknownLabel {
                    metric: metric.id.clone(),
                    what: "category",
                    value: c.clone(),
                });
            }
        }
        (MetricKind::Distribution { buckets }, MetricValue::Distribution(counts)) => {
            if counts.len() != buckets.len() + 1 {
                return Err(ValueError::OutOfBounds {
                    metric: metric.id.clone(),
                    detail: format!(
                        "{} bucket counts, the schema has {} buckets",
                        counts.len(),
                        buckets.len() + 1
                    ),
                });
            }
            let total = counts.iter().fold(0u64, |a, &c| a.saturating_add(c));
            if total > bound {
                return Err(over("the total over all buckets", total));
            }
        }
        (MetricKind::DomainSet, MetricValue::DomainSet(set)) => {
            let n = u64::try_from(set.len()).unwrap_or(u64::MAX);
            if n > bound {
                return Err(over("the number of domains", n));
            }
            for d in set {
                domain::check_canonical(d).map_err(|reason| ValueError::NotADomain {
                    metric: metric.id.clone(),
                    value: d.clone(),
                    reason,
                })?;
            }
        }
        (MetricKind::Activity { .. }, MetricValue::Activity(a)) => {
            let impossible = |detail: &str| ValueError::ImpossibleActivity {
                metric: metric.id.clone(),
                detail: detail.to_owned(),
            };
            if !a.today {
                return Err(impossible(
                    "today is false: only a day the device was used sends an activity value",
                ));
            }
            if a.first_day && !(a.first_in_week && a.first_in_month) {
                return Err(impossible(
                    "first_day without first_in_week and first_in_month",
                ));
            }
            if a.first_day && a.cohort == Cohort::Older {
                return Err(impossible("first_day with the cohort \"older\""));
            }
        }
        _ => {
            return Err(ValueError::WrongType {
                metric: metric.id.clone(),
                expected: metric.type_name(),
            });
        }
    }
    Ok(())
}

/// The value to send for `value` under `metric`'s contribution bound, as
/// the SDK builds every report (docs/wire.md §2.1):
///
/// - `counter`: at most `max_per_report`;
/// - `labeled_counter` and `distribution`: when the total is over
///   `max_per_report`, every count is scaled down proportionally (each
///   floored), so the total fits and the proportions stay; labels left at
///   0 are dropped, and a value with nothing left is `None`;
/// - `domain_set`: over `max_per_report` domains, a uniformly random
///   subset of that many (drawn from `rng`), so which domains survive does
///   not depend on the order they were visited;
/// - `boolean`, `category`: as they are (one value).
///
/// `None` too when the value's type is not the metric's.
pub fn clamp<R: Rng + ?Sized>(
    metric: &Metric,
    value: MetricValue,
    rng: &mut R,
) -> Option<MetricValue> {
    let bound = metric.per_report_bound();
    Some(match (&metric.kind, value) {
        (MetricKind::Counter, MetricValue::Counter(n)) => MetricValue::Counter(n.min(bound)),
        (MetricKind::LabeledCounter { .. }, MetricValue::LabeledCounter(map)) => {
            let (labels, mut counts): (Vec<String>, Vec<u64>) = map.into_iter().unzip();
            clamp_total(&mut counts, bound);
            let map: BTreeMap<String, u64> = labels
                .into_iter()
                .zip(counts)
                .filter(|(_, c)| *c > 0)
                .collect();
            if map.is_empty() {
                return None;
            }
            MetricValue::LabeledCounter(map)
        }
        (MetricKind::Boolean, v @ MetricValue::Boolean(_)) => v,
        (MetricKind::Category { .. }, v @ MetricValue::Category(_)) => v,
        (MetricKind::Distribution { .. }, MetricValue::Distribution(mut counts)) => {
            clamp_total(&mut counts, bound);
            if counts.iter().all(|&c| c == 0) {
                return None;
            }
            MetricValue::Distribution(counts)
        }
        (MetricKind::DomainSet, MetricValue::DomainSet(set)) => {
            MetricValue::DomainSet(sample_domains(set, bound, rng))
        }
        (MetricKind::Activity { .. }, v @ MetricValue::Activity(_)) => v,
        _ => return None,
    })
}

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

/// The value of a boolean or category metric whose true (or randomized)
/// answer is `index`, numbered as [`MetricKind::choices`] says (`false` = 0,
/// `true` = 1, a category by its position): what local DP sends. `None` for
/// other types and past the last choice.
pub fn choice_value(metric: &Metric, index: u32) -> Option<MetricValue> {
    let i = usize::try_from(index).ok()?;
    match &metric.kind {
        MetricKind::Boolean => (i < 2).then_some(MetricValue::Boolean(i == 1)),
        MetricKind::Category { categories } => {
            categories.get(i).cloned().map(MetricValue::Category)
        }
        _ => None,
    }
}

/// The inverse of [`choice_value`]: the index of a boolean or category
/// value; `None` for other values and undeclared categories.
pub fn choice_index(metric: &Metric, value: &MetricValue) -> Option<u32> {
    match (&metric.kind, value) {
        (MetricKind::Boolean, MetricValue::Boolean(b)) => Some(u32::from(*b)),
        (MetricKind::Category { categories }, MetricValue::Category(c)) => categories
            .iter()
            .position(|x| x == c)
            .and_then(|i| u32::try_from(i).ok()),
        _ => None,
    }
}

/// The cells one value of `metric` reported for `day` adds to, as (cell,
/// amount) pairs named as the collector keys its rows (see
/// `MetricKind::cells`): the empty cell of a counter, labels,
/// `true`/`false`, categories, bucket indices, domains; an activity value's
/// flags (`today`, `week`, `month`, `new`) and, on the first day of a week,
/// its cohort's age in weeks (`w0`..) or `older`. Cells with nothing to add
/// are left out. For a value that passed [`check_report`], the sum of the
/// amounts is at most the metric's per-report bound.
pub fn cells(metric: &Metric, value: &MetricValue, day: Day) -> Vec<(String, u64)> {
    match value {
        MetricValue::Activity(a) => {
            let [today, week, month, new] = candor_schema::ACTIVITY_CELLS;
            let mut out: Vec<(String, u64)> = [
                (today, a.today),
                (week, a.first_in_week),
                (month, a.first_in_month),
                (new, a.first_day),
            ]
            .into_iter()
            .filter(|(_, on)| *on)
            .map(|(cell, _)| (cell.to_owned(), 1))
            .collect();
            if a.first_in_week {
                // A cohort after the day was refused; count it as the
                // newest cohort if a caller skipped the check.
                let age = activity_cohort_age(metric, a.cohort, day).unwrap_or(Some(0));
                out.push((candor_schema::activity_cohort_cell(age), 1));
            }
            out
        }
        MetricValue::Counter(n) => vec![(String::new(), *n)],
        MetricValue::LabeledCounter(map) => map
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(label, n)| (label.clone(), *n))
            .collect(),
        MetricValue::Boolean(b) => vec![(b.to_string(), 1)],
        MetricValue::Category(c) => vec![(c.clone(), 1)],
        MetricValue::Distribution(counts) => counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, c)| (i.to_string(), *c))
            .collect(),
        MetricValue::DomainSet(set) => set.iter().map(|d| (d.clone(), 1)).collect(),
    }
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

//! Checks an opened report against the data dictionary and turns it into
//! contributions to aggregate rows. After this, the report itself is dropped.

use std::collections::BTreeMap;

use candor_protocol::{Day, MetricValue, Report};
use candor_schema::{Metric, MetricKind, Schema};
use candor_store::{Contribution, ReportDelta, RowKey};

use crate::error::Rejection;

/// The schemas a collector serves, by id.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    schemas: BTreeMap<String, Schema>,
}

impl Registry {
    /// A registry of `schemas` (a later one with the same id replaces an earlier one).
    pub fn new(schemas: impl IntoIterator<Item = Schema>) -> Self {
        Registry {
            schemas: schemas.into_iter().map(|s| (s.id.clone(), s)).collect(),
        }
    }

    /// The schema with `id`.
    pub fn get(&self, id: &str) -> Option<&Schema> {
        self.schemas.get(id)
    }

    /// All schemas.
    pub fn all(&self) -> impl Iterator<Item = &Schema> {
        self.schemas.values()
    }
}

fn mismatch(what: &'static str, detail: impl Into<String>) -> Rejection {
    Rejection::SchemaMismatch {
        what,
        detail: detail.into(),
    }
}

/// Days since 1970-01-01 of a day.
pub(crate) fn day_number(day: Day) -> i32 {
    let epoch = Day::from_ymd(1970, 1, 1).expect("the epoch is a valid day");
    day.days_since(epoch) as i32
}

/// A registrable domain as the SDK produces it: lowercase ASCII labels of
/// letters, digits and inner hyphens, at least two, at most 253 bytes.
fn plausible_domain(d: &str) -> bool {
    d.len() <= 253
        && d.contains('.')
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// The rows one metric value adds to, as (cell, value) pairs.
fn cells(metric: &Metric, value: &MetricValue) -> Result<Vec<(String, i64)>, Rejection> {
    let bound = metric.max_per_report;
    let over = |n: u64| {
        mismatch(
            "value_out_of_bounds",
            format!("{}: {n} exceeds the bound {bound}", metric.id),
        )
    };
    let as_i64 = |n: u64| i64::try_from(n).map_err(|_| over(n));
    Ok(match (&metric.kind, value) {
        (MetricKind::Counter, MetricValue::Counter(n)) => {
            if *n > bound {
                return Err(over(*n));
            }
            vec![(String::new(), as_i64(*n)?)]
        }
        (MetricKind::LabeledCounter { labels }, MetricValue::LabeledCounter(map)) => {
            let mut total = 0u64;
            let mut out = Vec::with_capacity(map.len());
            for (label, n) in map {
                if !labels.contains(label) {
                    return Err(mismatch(
                        "unknown_label",
                        format!("{}: label {label:?} is not declared", metric.id),
                    ));
                }
                total = total.saturating_add(*n);
                if *n > 0 {
                    out.push((label.clone(), as_i64(*n)?));
                }
            }
            if total > bound {
                return Err(over(total));
            }
            out
        }
        (MetricKind::Boolean, MetricValue::Boolean(b)) => vec![(b.to_string(), 1)],
        (MetricKind::Category { categories }, MetricValue::Category(c)) => {
            if !categories.contains(c) {
                return Err(mismatch(
                    "unknown_label",
                    format!("{}: category {c:?} is not declared", metric.id),
                ));
            }
            vec![(c.clone(), 1)]
        }
        (MetricKind::Distribution { buckets }, MetricValue::Distribution(counts)) => {
            if counts.len() != buckets.len() + 1 {
                return Err(mismatch(
                    "value_out_of_bounds",
                    format!(
                        "{}: {} bucket counts, the schema has {} buckets",
                        metric.id,
                        counts.len(),
                        buckets.len() + 1
                    ),
                ));
            }
            let total = counts.iter().fold(0u64, |a, &c| a.saturating_add(c));
            if total > bound {
                return Err(over(total));
            }
            let mut out = Vec::new();
            for (i, &c) in counts.iter().enumerate() {
                if c > 0 {
                    out.push((i.to_string(), as_i64(c)?));
                }
            }
            out
        }
        (MetricKind::DomainSet, MetricValue::DomainSet(set)) => {
            if set.len() as u64 > bound {
                return Err(over(set.len() as u64));
            }
            if let Some(bad) = set.iter().find(|d| !plausible_domain(d)) {
                return Err(mismatch(
                    "value_out_of_bounds",
                    format!("{}: {bad:?} is not a registrable domain", metric.id),
                ));
            }
            set.iter().map(|d| (d.clone(), 1)).collect()
        }
        _ => {
            return Err(mismatch(
                "wrong_type",
                format!("{} is a {}", metric.id, metric.type_name()),
            ));
        }
    })
}

/// The accepted day window: `[today − past, today + future]`, where `past`
/// is the report's region's `report_window_days` (the schema's contract
/// with the SDK), widened by the collector's `day_window_past` when that is
/// larger.
#[derive(Debug, Clone, Copy)]
pub struct DayWindow {
    /// Today (days since 1970-01-01) on the collector's clock.
    pub today: i32,
    /// The collector's `[ingest] day_window_past`, if set: it can only widen
    /// the schema's window (for simulations of past days), never narrow it.
    pub past_override: Option<u32>,
    /// Days after today accepted (devices' clock skew).
    pub future: u32,
}

impl DayWindow {
    /// Days before today whose reports `region` still accepts.
    pub fn past_days(&self, region: Option<&candor_schema::Region>) -> u32 {
        region
            .map_or(0, |r| r.report_window_days)
            .max(self.past_override.unwrap_or(0))
    }

    /// The last day whose reports can no longer be accepted in `region`:
    /// the last *closed* day, the last one a release may read.
    pub fn last_closed(&self, region: &candor_schema::Region) -> i32 {
        self.first(Some(region)).saturating_sub(1)
    }

    /// The first day `region` still accepts (saturating: a configured
    /// window of any size cannot wrap around).
    pub fn first(&self, region: Option<&candor_schema::Region>) -> i32 {
        let past = i32::try_from(self.past_days(region)).unwrap_or(i32::MAX);
        self.today.saturating_sub(past)
    }

    /// The last day accepted.
    pub fn last(&self) -> i32 {
        self.today
            .saturating_add(i32::try_from(self.future).unwrap_or(i32::MAX))
    }
}

/// Validates an opened report and reduces it to a [`ReportDelta`].
///
/// Metrics that have expired are skipped (devices with an old schema may
/// still send them), everything else undeclared or out of bounds refuses the
/// whole report: a report is counted entirely or not at all.
pub fn to_delta(
    registry: &Registry,
    report: &Report,
    window: DayWindow,
    today: time::Date,
) -> Result<ReportDelta, Rejection> {
    let schema = registry
        .get(&report.schema)
        .ok_or_else(|| mismatch("unknown_schema", format!("schema {:?}", report.schema)))?;
    let purpose = schema
        .purpose(&report.purpose)
        .ok_or_else(|| mismatch("unknown_purpose", format!("purpose {:?}", report.purpose)))?;
    for (id, value) in &report.dimensions {
        let dim = schema
            .dimension(id)
            .ok_or_else(|| mismatch("unknown_dimension", format!("dimension {id:?}")))?;
        if !dim.accepts(value) {
            return Err(mismatch(
                "unknown_dimension",
                format!("{id}: value {value:?} is not allowed"),
            ));
        }
    }
    let day = day_number(report.day);
    let mut contributions = Vec::new();
    for (id, value) in &report.metrics {
        let metric = schema
            .metric(id)
            .ok_or_else(|| mismatch("unknown_metric", format!("metric {id:?}")))?;
        if metric.purpose != report.purpose {
            return Err(mismatch(
                "unknown_metric",
                format!("{id} belongs to purpose {:?}", metric.purpose),
            ));
        }
        let cells = cells(metric, value)?;
        if metric.is_expired(today) {
            continue;
        }
        // Only the dimensions this metric declares key its rows, sorted by id
        // (the report's map is ordered) so equal contexts share a row.
        let dimensions = report
            .dimensions
            .iter()
            .filter(|(d, _)| metric.dimensions.contains(d))
            .map(|(d, v)| format!("{d}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        // The metric's report count first: the release engine counts a
        // group's devices with it (candor_store::REPORTS_CELL).
        let reports = (candor_store::REPORTS_CELL.to_owned(), 1);
        for (cell, value) in std::iter::once(reports).chain(cells) {
            contributions.push(Contribution {
                key: RowKey {
                    schema_id: schema.id.clone(),
                    day,
                    purpose: report.purpose.clone(),
                    consent_version: report.consent_version,
                    metric: id.clone(),
                    dimensions: dimensions.clone(),
                    cell,
                },
                value,
            });
        }
    }
    // Consent and day come after the schema checks (docs/api.md order).
    if report.consent_version < purpose.consent_version {
        return Err(Rejection::ConsentTooOld {
            got: report.consent_version,
            current: purpose.consent_version,
        });
    }
    if report.consent_version > purpose.consent_version {
        return Err(mismatch(
            "unknown_purpose",
            format!(
                "consent version {} of {:?} is not declared",
                report.consent_version, report.purpose
            ),
        ));
    }
    if day < window.first(schema.region(&report.region)) || day > window.last() {
        return Err(Rejection::DayOutOfWindow(report.day.to_string()));
    }
    Ok(ReportDelta {
        report_id: report.report_id.0,
        day,
        schema_id: schema.id.clone(),
        purpose: report.purpose.clone(),
        contributions,
    })
}

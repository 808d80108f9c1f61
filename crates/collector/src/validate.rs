//! Checks an opened report against the data dictionary and turns it into
//! contributions to aggregate rows. After this, the report itself is dropped.

use std::collections::BTreeMap;

use candor_protocol::{Day, MetricValue, Report};
use candor_schema::Schema;
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

/// The rows one metric value adds to, as (cell, value) pairs. The value has
/// passed [`candor_values::check_value`], so this only maps it: labels,
/// categories, `true`/`false`, bucket indices and domains become cells.
fn cells(value: &MetricValue) -> Vec<(String, i64)> {
    // Every count passed the metric's bound, which the schema keeps far below
    // i64::MAX (limits::MAX_CONTRIBUTION_BOUND); saturate rather than wrap.
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    match value {
        MetricValue::Counter(n) => vec![(String::new(), count(*n))],
        MetricValue::LabeledCounter(map) => map
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(label, n)| (label.clone(), count(*n)))
            .collect(),
        MetricValue::Boolean(b) => vec![(b.to_string(), 1)],
        MetricValue::Category(c) => vec![(c.clone(), 1)],
        MetricValue::Distribution(counts) => counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, c)| (i.to_string(), count(*c)))
            .collect(),
        MetricValue::DomainSet(set) => set.iter().map(|d| (d.clone(), 1)).collect(),
    }
}

/// The accepted day window: `[today − past, today + future]`.
#[derive(Debug, Clone, Copy)]
pub struct DayWindow {
    /// First accepted day number.
    pub first: i32,
    /// Last accepted day number.
    pub last: i32,
}

/// Validates an opened report and reduces it to a [`ReportDelta`].
///
/// The value rules are [`candor_values::check_report`]'s, the same code the
/// SDK runs before sealing. Metrics that have expired are skipped (devices
/// with an old schema may still send them), everything else undeclared or
/// out of bounds refuses the whole report: a report is counted entirely or
/// not at all.
pub fn to_delta(
    registry: &Registry,
    report: &Report,
    window: DayWindow,
    today: time::Date,
) -> Result<ReportDelta, Rejection> {
    let schema = registry
        .get(&report.schema)
        .ok_or_else(|| mismatch("unknown_schema", format!("schema {:?}", report.schema)))?;
    // Schema version, purpose, metrics, the dimension rule and every value:
    // the SDK's own check before sealing, run again here.
    candor_values::check_report(schema, report)?;
    let purpose = schema
        .purpose(&report.purpose)
        .ok_or_else(|| mismatch("unknown_purpose", format!("purpose {:?}", report.purpose)))?;
    let day = day_number(report.day);
    let mut contributions = Vec::new();
    for (id, value) in &report.metrics {
        let Some(metric) = schema.metric(id) else {
            // check_report refused undeclared metrics already.
            continue;
        };
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
        for (cell, value) in cells(value) {
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
    if day < window.first || day > window.last {
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

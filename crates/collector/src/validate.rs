//! Checks an opened report against the data dictionary and turns it into
//! contributions to aggregate rows. After this, the report itself is dropped.

use std::collections::BTreeMap;

use candor_protocol::{Day, MetricValue, Report};
use candor_schema::{Metric, Schema};
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

/// The rows one metric value adds to, as (cell, value) pairs. The value has
/// passed [`candor_values::check_report`], so this only maps it
/// ([`candor_values::cells`]): labels, categories, `true`/`false`, bucket
/// indices, domains and activity flags become cells.
fn cells(metric: &Metric, value: &MetricValue, day: Day) -> impl Iterator<Item = (String, i64)> {
    // Every count passed the metric's bound, which the schema keeps far below
    // i64::MAX (limits::MAX_CONTRIBUTION_BOUND); saturate rather than wrap.
    candor_values::cells(metric, value, day)
        .into_iter()
        .map(|(cell, n)| (cell, i64::try_from(n).unwrap_or(i64::MAX)))
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
    let day = report.day.number();
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
        // The metric's report count first: the release engine counts a
        // group's devices with it (candor_store::REPORTS_CELL).
        let reports = (candor_store::REPORTS_CELL.to_owned(), 1);
        for (cell, value) in std::iter::once(reports).chain(cells(metric, value, report.day)) {
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

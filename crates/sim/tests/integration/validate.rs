//! A test-local validator: what a collector must accept, written from the
//! schema model and docs/wire.md independently of the generator.

use std::collections::BTreeSet;

use candor_protocol::{Day, MetricValue, Report};
use candor_schema::{MetricKind, Schema};

/// Checks `report` against `schema` for `region` and `day`.
pub(crate) fn check(
    schema: &Schema,
    report: &Report,
    region: &str,
    day: Day,
) -> Result<(), String> {
    if report.schema != schema.id || report.schema_version != schema.version {
        return Err(format!(
            "schema {} v{}",
            report.schema, report.schema_version
        ));
    }
    if report.region != region || schema.region(region).is_none() {
        return Err(format!("region {}", report.region));
    }
    if report.day != day {
        return Err(format!("day {}", report.day));
    }
    let purpose = schema
        .purpose(&report.purpose)
        .ok_or_else(|| format!("purpose {}", report.purpose))?;
    if report.consent_version != purpose.consent_version {
        return Err(format!("consent version {}", report.consent_version));
    }
    if report.metrics.is_empty() {
        return Err("no metrics".into());
    }
    let mut declared = BTreeSet::new();
    for (id, value) in &report.metrics {
        let metric = schema.metric(id).ok_or_else(|| format!("metric {id}"))?;
        if metric.purpose != report.purpose {
            return Err(format!("{id} belongs to {}", metric.purpose));
        }
        if metric.is_expired(day.date()) {
            return Err(format!("{id} expired"));
        }
        declared.extend(metric.dimensions.iter().cloned());
        let bound = metric.max_per_report;
        let ok = match (&metric.kind, value) {
            (MetricKind::Counter, MetricValue::Counter(n)) => *n <= bound,
            (MetricKind::LabeledCounter { labels }, MetricValue::LabeledCounter(map)) => {
                !map.is_empty()
                    && map.keys().all(|l| labels.contains(l))
                    && map.values().sum::<u64>() <= bound
            }
            (MetricKind::Boolean, MetricValue::Boolean(_)) => true,
            (MetricKind::Category { categories }, MetricValue::Category(c)) => {
                categories.contains(c)
            }
            (MetricKind::Distribution { buckets }, MetricValue::Distribution(counts)) => {
                counts.len() == buckets.len() + 1
                    && counts.iter().sum::<u64>() <= bound
                    && counts.iter().any(|&c| c > 0)
            }
            (MetricKind::DomainSet, MetricValue::DomainSet(domains)) => {
                !domains.is_empty()
                    && domains.len() as u64 <= bound
                    && domains
                        .iter()
                        .all(|d| psl::domain_str(d) == Some(d.as_str()))
            }
            // docs/wire.md §2.5: a used day; a first day opens its week's
            // cohort and is a first of its week and month; no cohort after it.
            (MetricKind::Activity { .. }, MetricValue::Activity(a)) => {
                let week = candor_time::IsoWeek::of(day);
                a.today
                    && (!a.first_day
                        || (a.first_in_week
                            && a.first_in_month
                            && a.cohort == candor_protocol::Cohort::Week(week)))
                    && match a.cohort {
                        candor_protocol::Cohort::Week(w) => w <= week,
                        _ => true,
                    }
            }
            _ => false,
        };
        if !ok {
            return Err(format!("{id} = {value:?} breaks the schema"));
        }
    }
    for (id, value) in &report.dimensions {
        if !declared.contains(id) {
            return Err(format!(
                "dimension {id} not declared by the report's metrics"
            ));
        }
        let dimension = schema
            .dimension(id)
            .ok_or_else(|| format!("dimension {id}"))?;
        if !dimension.accepts(value) {
            return Err(format!("dimension {id} = {value:?}"));
        }
    }
    report.to_json().map_err(|e| e.to_string())?;
    Ok(())
}

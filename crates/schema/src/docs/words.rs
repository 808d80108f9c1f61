//! Plain words for what a metric records, its dimensions and buckets, the
//! rows of the dimension and metric tables, and numbers as people write them.

use crate::model::{Dimension, DimensionRule, Metric, MetricKind, Release, Schema, format_date};

use super::tree::{Line, and_list, c, t};

/// Plain words for what a metric records beyond its description.
pub(super) fn records(s: &Schema, m: &Metric) -> Line {
    let mut line = match &m.kind {
        MetricKind::Counter => vec![t("Recorded as a count.")],
        MetricKind::LabeledCounter { labels } => {
            let mut l = vec![t("Recorded as a count for each of: ")];
            l.extend(and_list(labels.iter().map(|x| vec![c(x)]).collect()));
            l.push(t("."));
            l
        }
        MetricKind::Boolean => vec![t("Recorded as yes or no.")],
        MetricKind::Category { categories } => {
            let mut l = vec![t("Recorded as one of: ")];
            l.extend(and_list(categories.iter().map(|x| vec![c(x)]).collect()));
            l.push(t("."));
            l
        }
        MetricKind::Distribution { buckets } => {
            let mut l = vec![t("Recorded as how many values fell in each range: ")];
            l.extend(and_list(
                ranges(buckets).into_iter().map(|r| vec![t(r)]).collect(),
            ));
            l.push(t("."));
            l
        }
        MetricKind::DomainSet => vec![t(
            "Recorded as a list of website domains (such as example.com), never full addresses.",
        )],
        MetricKind::Activity { cohort_weeks } => vec![t(format!(
            "Recorded as a day of use: whether it is the first day of use this week, this month and since installation, and the week of installation (installations more than {cohort_weeks} weeks back are sent as one value, \"older\"). The device remembers its last day of use, its week of installation and the weeks and months already counted to derive these; that memory never leaves the device and is deleted with its other data."
        ))],
    };
    let dims: Vec<Line> = m
        .dimensions
        .iter()
        .map(|d| match s.dimension(d) {
            Some(dim) => vec![t(dimension_words(dim))],
            None => vec![c(d)],
        })
        .collect();
    if !dims.is_empty() {
        line.push(t(" Sent with: "));
        line.extend(and_list(dims));
        line.push(t("."));
    }
    line
}

/// A dimension as words in a sentence, such as `os version (major.minor)`.
fn dimension_words(d: &Dimension) -> String {
    match d.rule {
        DimensionRule::MajorMinor => format!("{} (major.minor)", d.id.replace('_', " ")),
        DimensionRule::Major => format!("{} (major version)", d.id.replace('_', " ")),
        _ => d.id.replace('_', " "),
    }
}

/// The buckets of a distribution, in words: `up to 10`, `11 to 50`, ...,
/// `more than 500`.
pub(super) fn ranges(bounds: &[u64]) -> Vec<String> {
    let mut out = Vec::with_capacity(bounds.len() + 1);
    let mut prev: Option<u64> = None;
    for &bound in bounds {
        out.push(match prev {
            None if bound == 0 => "0".to_owned(),
            None => format!("up to {bound}"),
            Some(p) if p + 1 == bound => bound.to_string(),
            Some(p) => format!("{} to {bound}", p + 1),
        });
        prev = Some(bound);
    }
    if let Some(last) = prev {
        out.push(format!("more than {last}"));
    }
    out
}

/// One row of the dimensions table: id, description, values.
pub(super) fn dimension_row(d: &Dimension) -> Vec<Line> {
    let values = match &d.rule {
        DimensionRule::Values(values) => and_list(values.iter().map(|v| vec![c(v)]).collect()),
        DimensionRule::MajorMinor => vec![t("major.minor version only, such as "), c("121.3")],
        DimensionRule::Major => vec![t("major version only, such as "), c("14")],
    };
    vec![vec![c(&d.id)], vec![t(&d.description)], values]
}

/// One row of the table of every metric.
pub(super) fn metric_row(s: &Schema, m: &Metric) -> Vec<Line> {
    let purpose = match s.purpose(&m.purpose) {
        Some(p) => vec![t(&p.title), t(" ("), c(&p.id), t(")")],
        None => vec![c(&m.purpose)],
    };
    let mut what = vec![t(&m.description), t(" ")];
    what.extend(records(s, m));
    let n = m.max_per_report;
    let plural = |one: &str, many: &str| {
        if n == 1 {
            one.to_owned()
        } else {
            many.to_owned()
        }
    };
    let bound = match &m.kind {
        MetricKind::Counter => format!("count up to {n} per day"),
        MetricKind::LabeledCounter { .. } => format!("up to {n} per day, over all labels"),
        MetricKind::Distribution { .. } => {
            format!("up to {n} {} per day", plural("value", "values"))
        }
        MetricKind::DomainSet => format!("up to {n} {} per day", plural("domain", "domains")),
        _ => "one answer per day".to_owned(),
    };
    let protection = match m.release {
        Release::CentralDp {
            epsilon,
            delta: Some(delta),
        } => format!("central DP, ε = {}, δ = {}", num(epsilon), sci(delta)),
        Release::CentralDp { epsilon, .. } => format!("central DP, ε = {}", num(epsilon)),
        Release::LocalDp {
            epsilon,
            count_epsilon,
            delta,
        } => {
            let mut text = format!(
                "local DP, ε = {} on the device; counts noised at ε = {}",
                num(epsilon),
                num(count_epsilon)
            );
            if let Some(delta) = delta {
                text.push_str(&format!(", δ = {}", sci(delta)));
            }
            text
        }
    };
    let expires = m.expires.map_or_else(|| "never".to_owned(), format_date);
    vec![
        vec![c(&m.id)],
        vec![t(m.type_name().replace('_', " "))],
        purpose,
        what,
        vec![t(bound)],
        vec![t(protection)],
        vec![t(&m.owner)],
        vec![t(expires)],
    ]
}

/// A number as people write it: `0.5`, `2`, `1.5`.
pub(super) fn num(x: f64) -> String {
    format!("{x}")
}

/// A small number in scientific notation: `1e-8`.
pub(super) fn sci(x: f64) -> String {
    format!("{x:e}")
}

//! The SDK's error codes in words, with what to do about them: what
//! `candor client` prints on stderr when a value was dropped, clamped or
//! not recorded at all. The codes stay in the messages (in parentheses) so
//! scripts and `candor client errors` can be matched against them.

use candor_protocol::MetricValue;
use candor_schema::{Metric, Schema};

/// Why a recording call for `metric` (with the `--value` given, when it
/// matters) was dropped, in words, with a hint: `code` is the SDK's error
/// code, `url_reasons` the URL sanitizer's reasons when it dropped a URL.
pub(super) fn dropped(
    code: &str,
    schema: &Schema,
    id: &str,
    used: &str,
    value: Option<&str>,
    url_reasons: &[String],
) -> String {
    let metric = schema.metric(id);
    let value = value.unwrap_or("the value");
    match (code, metric) {
        ("unknown_metric", _) => format!(
            "{id} is not a metric of schema {} ({code}).\nhint: the metrics are: {}",
            schema.id,
            schema
                .metrics
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ("wrong_type", Some(m)) => format!(
            "{id} is a {}, not a {used} ({code}).\nhint: record it with `candor client record {} {id} ...`",
            m.type_name(),
            record_command(m)
        ),
        ("unknown_label", Some(m)) => format!(
            "{value:?} is not one of {id}'s {} ({code}).\nhint: use one of: {}",
            if m.type_name() == "category" {
                "categories"
            } else {
                "labels"
            },
            m.closed_set().unwrap_or_default().join(", ")
        ),
        ("negative_value", _) => format!(
            "{id} only counts up: a negative amount is not recorded ({code}).\nhint: record a count of 0 or more"
        ),
        ("overflow", _) => format!(
            "the amount is too large to add to today's value of {id}, or today's set of domains is full ({code})"
        ),
        ("url_dropped", _) => format!(
            "the URL has no public registrable domain to keep{} ({code}).\nhint: only the domain of a public web address (https://news.example.com/... keeps example.com) is recorded; IP addresses, localhost, private and single-label hosts and non-web schemes never are",
            if url_reasons.is_empty() {
                String::new()
            } else {
                format!(": {}", url_reasons_in_words(url_reasons))
            }
        ),
        _ => code.to_owned(),
    }
}

/// The URL sanitizer's reasons (`*url` counters) in words.
fn url_reasons_in_words(reasons: &[String]) -> String {
    reasons
        .iter()
        .map(|r| match r.as_str() {
            "ip_literal" => "its host is an IP address (ip_literal)".to_owned(),
            "localhost" => "its host is this machine (localhost)".to_owned(),
            "single_label" => "its host has no dot (single_label)".to_owned(),
            "private_host" => "its host is a private network name (private_host)".to_owned(),
            "not_web" => "it is not an http(s) address (not_web)".to_owned(),
            "unparseable" => "it is not a URL (unparseable)".to_owned(),
            "no_registrable_domain" => {
                "its host is a public suffix with no domain under it (no_registrable_domain)"
                    .to_owned()
            }
            "too_long" => "its host is too long (too_long)".to_owned(),
            other => other.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// An SDK-wide error counted during a command (not tied to one recording
/// call), in words with a hint.
pub(super) fn counted(code: &str, n: u64) -> String {
    let what = match code {
        "too_late" => {
            "report(s) dropped: the collector no longer accepts their day (the region's report window has passed)"
        }
        "outbox_dropped" => {
            "queued report(s) dropped: the outbox was over its age, count or size limit"
        }
        "upload_rejected" => "report(s) refused for good by the collector and deleted",
        "seal_failed" => "report(s) could not be built or sealed",
        "storage" => "file(s) in the client directory could not be written or read",
        "key_list_refused" => {
            "key list(s) refused: not signed by the pinned signing key, or expired"
        }
        "day_already_reported" => "value(s) dropped: their day's report was already built",
        _ => "SDK error(s)",
    };
    format!("{n} {what} ({code}); see `candor client errors`")
}

/// Nothing was recorded because the SDK's consent gate is closed, in words
/// with the command that opens it; `None` when the gate is open.
pub(super) fn gate_closed(
    dir: &std::path::Path,
    purpose: &str,
    consent: Option<&candor_sdk::PurposeConsent>,
    private: bool,
    allowed_in_private: bool,
) -> Option<String> {
    let consent = consent?;
    if !consent.granted {
        let earlier = match consent.granted_version {
            Some(v) => format!(
                " (version {v} was granted; the schema now asks for version {})",
                consent.current_version
            ),
            None => String::new(),
        };
        return Some(format!(
            "consent to purpose {purpose} is not granted{earlier}: nothing is recorded for it.\nhint: run `candor client --dir {} grant {purpose}` first",
            dir.display()
        ));
    }
    if !consent.collecting {
        return Some(
            "the global opt-out or the child profile is on: nothing is recorded.\nhint: `candor client status` shows the switches; `opt-out off` or `child off` turns collection back on".to_owned(),
        );
    }
    if private && !allowed_in_private {
        return Some(format!(
            "purpose {purpose} is not allowed in private mode, and this call is private (--private, or `candor client private on`).\nhint: record without --private, or turn private mode off with `candor client private off`"
        ));
    }
    None
}

/// A warning when today's `value` of `metric` is above what one report may
/// carry: what the report will hold instead, and why.
pub(super) fn clamped(metric: &Metric, value: &MetricValue) -> Option<String> {
    let bound = metric.per_report_bound();
    let (total, unit) = match value {
        MetricValue::Counter(n) => (*n, "counted"),
        MetricValue::LabeledCounter(map) => (map.values().sum(), "counted over all labels"),
        MetricValue::Distribution(counts) => (counts.iter().sum(), "samples"),
        MetricValue::DomainSet(set) => (set.len() as u64, "distinct domains"),
        _ => return None,
    };
    if total <= bound {
        return None;
    }
    let carried = match value {
        MetricValue::Counter(_) => format!("{bound}"),
        MetricValue::DomainSet(_) => format!("{bound} of them, chosen at random"),
        _ => format!("at most {bound}, each cell scaled down in proportion"),
    };
    Some(format!(
        "{} has {total} {unit} today, more than one report may carry ({bound}, its max_per_report): today's report will carry {carried}.\nwhy: each device's contribution is bounded so that the noise added at release hides whether any one device took part",
        metric.id
    ))
}

/// A day's value (before clamping and local DP) as a short text.
pub(super) fn value(value: &MetricValue) -> String {
    let counts = |pairs: Vec<(String, u64)>| {
        let shown: Vec<String> = pairs
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        if shown.is_empty() {
            "nothing".to_owned()
        } else {
            shown.join(", ")
        }
    };
    match value {
        MetricValue::Counter(n) => n.to_string(),
        MetricValue::LabeledCounter(map) => {
            counts(map.iter().map(|(k, n)| (k.clone(), *n)).collect())
        }
        MetricValue::Boolean(b) => b.to_string(),
        MetricValue::Category(c) => c.clone(),
        MetricValue::Distribution(buckets) => counts(
            buckets
                .iter()
                .enumerate()
                .map(|(i, n)| (format!("bucket {i}:"), *n))
                .collect(),
        ),
        MetricValue::DomainSet(set) => {
            let list: Vec<&str> = set.iter().map(String::as_str).collect();
            format!("{} domain(s): {}", set.len(), list.join(", "))
        }
        _ => "recorded".to_owned(),
    }
}

/// The `candor client record` subcommand for a metric's type.
fn record_command(metric: &Metric) -> &'static str {
    match metric.type_name() {
        "counter" => "counter",
        "labeled_counter" => "labeled",
        "boolean" => "boolean",
        "category" => "category",
        "distribution" => "distribution",
        "domain_set" => "url",
        _ => "<type>",
    }
}

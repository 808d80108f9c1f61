//! Tests of the client's pure parts: the value parsers, reports as shown,
//! and the error-counter comparison.

use candor_protocol::{Day, Report};

use super::args::{parse_dimension, parse_now};
use super::session::{ErrorCounts, grown};
use super::show::Shown;

#[test]
fn now_accepts_rfc3339_and_plain_days_at_noon() {
    assert_eq!(parse_now("1970-01-02"), Ok(86_400 + 43_200));
    assert_eq!(parse_now("1970-01-01T00:01:00Z"), Ok(60));
    assert_eq!(parse_now("1970-01-01T01:00:00+01:00"), Ok(0));
    assert!(parse_now("2026-11-31").is_err());
    assert!(parse_now("yesterday").is_err());
}

#[test]
fn dimensions_need_an_id_and_an_equals_sign() {
    assert_eq!(
        parse_dimension("app_version=121.0=x"),
        Ok(("app_version".into(), "121.0=x".into()))
    );
    assert!(parse_dimension("platform").is_err());
    assert!(parse_dimension("=android").is_err());
}

#[test]
fn shown_reports_keep_the_plaintext_exactly() {
    let mut report = Report::new(
        candor_protocol::ReportId([7; 16]),
        "org.example.browser",
        3,
        "usage",
        1,
        "eu",
        Day::from_ymd(2026, 11, 29).expect("day"),
    );
    report
        .dimensions
        .insert("platform".into(), "android".into());
    report.metrics.insert(
        "browser.tabs_opened".into(),
        candor_protocol::MetricValue::Counter(3),
    );
    let plaintext = String::from_utf8(report.to_json().expect("encodes")).expect("utf-8");
    let shown = serde_json::to_string(&Shown::new(plaintext.clone())).expect("encodes");
    assert_eq!(shown, plaintext);
    let odd = serde_json::to_string(&Shown::new("{\"v\":99}".into())).expect("encodes");
    assert_eq!(odd, "{\"v\":99}");
    let text = serde_json::to_string(&Shown::new("not json".into())).expect("encodes");
    assert_eq!(text, "\"not json\"");
}

#[test]
fn grown_lists_only_increases() {
    let before: ErrorCounts = [("m".into(), [("unknown_label".into(), 1)].into())].into();
    let after: ErrorCounts = [(
        "m".into(),
        [("unknown_label".into(), 1), ("negative_value".into(), 2)].into(),
    )]
    .into();
    assert_eq!(
        grown(&before, &after, "m"),
        vec![("negative_value".to_owned(), 2)]
    );
    assert!(grown(&before, &after, "other").is_empty());
}

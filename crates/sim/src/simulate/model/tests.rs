//! Unit tests of the usage model: behaviours, domains, days, dimensions.

use super::behaviour::{Behaviour, classify};
use super::domains::{DOMAINS, Domains};
use super::*;

fn browser() -> Schema {
    let src = include_str!("../../../../../examples/browser.toml");
    candor_schema::parse(src, "browser.toml", time::macros::date!(2026 - 11 - 29))
        .expect("the example schema is valid")
        .schema
}

#[test]
fn every_metric_of_the_example_has_a_behaviour() {
    let schema = browser();
    let model = Model::new(&schema, 1);
    assert_eq!(model.metrics.len(), schema.metrics.len());
    let by_id: BTreeMap<&str, &Behaviour> = model
        .metrics
        .iter()
        .map(|m| (m.metric.id.as_str(), &m.behaviour))
        .collect();
    assert!(by_id.values().all(|b| **b != Behaviour::Unsupported));
    assert_eq!(by_id["browser.slow_domains"], &Behaviour::SlowDomains);
    assert_eq!(by_id["browser.page_load_ms"], &Behaviour::PageLoadMs);
    assert_eq!(by_id["browser.session_minutes"], &Behaviour::SessionMinutes);
    assert!(matches!(
        by_id["diagnostics.crashes"],
        Behaviour::PerDay { failure: true, .. }
    ));
    assert!(matches!(
        by_id["diagnostics.update_failed"],
        Behaviour::RareFlag { .. }
    ));
    assert_eq!(by_id["system.battery_saver"], &Behaviour::DailyState);
    assert!(matches!(
        by_id["system.storage_used_gb"],
        Behaviour::DailyLevel { .. }
    ));
}

#[test]
fn flavours_come_from_whole_words_of_the_id() {
    let mut m = browser().metrics["browser.tabs_opened"].clone();
    for (id, want) in [
        (
            "browser.tabs_opened",
            Behaviour::PerSession {
                base: 0.5,
                per_minute: 0.25,
            },
        ),
        // "stable" and "changes" hold "tab" and "hang", not the words.
        (
            "app.stable_changes",
            Behaviour::PerDay {
                mean: 3.0,
                failure: false,
            },
        ),
        (
            "app.not_responding",
            Behaviour::PerDay {
                mean: 0.05,
                failure: true,
            },
        ),
    ] {
        m.id = id.to_owned();
        assert_eq!(classify(&m), want, "{id}");
    }
}

#[test]
fn synthetic_domains_survive_the_sanitizer() {
    let d = Domains::new(1);
    assert_eq!(d.names.len(), DOMAINS);
    for (i, name) in d.names.iter().enumerate().step_by(97) {
        for v in 0..3 {
            assert_eq!(
                candor_sdk::sanitize::registrable_domain(&d.url(i, v)).as_deref(),
                Ok(name.as_str())
            );
        }
    }
}

#[test]
fn weekends_are_saturday_and_sunday() {
    let day = |d| DayCtx::new(0, Day::from_ymd(2026, 11, d).expect("day"));
    // 2026-11-28 is a Saturday.
    assert!(!day(27).weekend);
    assert!(day(28).weekend);
    assert!(day(29).weekend);
    assert!(!day(30).weekend);
}

#[test]
fn dimensions_are_coarsened_like_the_sdk_does() {
    let schema = browser();
    let model = Model::new(&schema, 1);
    let raw: BTreeMap<String, String> = [
        ("platform", "ios"),
        ("app_version", "121.3.6167.101"),
        ("os_major", "17.4.1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let m = |id: &str| {
        model
            .metrics
            .iter()
            .position(|m| m.metric.id == id)
            .expect("metric")
    };
    assert_eq!(
        model.dims(m("diagnostics.crashes"), &raw),
        "app_version=121.3,os_major=17,platform=ios"
    );
    assert_eq!(
        model.dims(m("app.opened"), &raw),
        "os_major=17,platform=ios"
    );
    assert_eq!(model.dims(m("system.storage_used_gb"), &raw), "os_major=17");
}

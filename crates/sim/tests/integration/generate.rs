//! Generated reports are valid, varied and distinct.

use std::collections::{BTreeMap, BTreeSet};

use candor_protocol::Day;
use candor_sim::load::{LoadError, ReportGenerator};

use crate::{browser_schema, day, edge_schema, validate};

#[test]
fn reports_are_valid_for_many_seeds() {
    for (schema, n) in [(browser_schema(), 200), (edge_schema(), 100)] {
        let mut metrics = BTreeSet::new();
        let mut purposes = BTreeSet::new();
        let mut dimensions = BTreeSet::new();
        for seed in 0..50 {
            let mut g = ReportGenerator::new(&schema, "eu", day(), seed).expect("generator");
            for _ in 0..n {
                let report = g.generate().expect("report");
                if let Err(e) = validate::check(&schema, &report, "eu", day()) {
                    panic!("seed {seed}: {e}: {report:?}");
                }
                purposes.insert(report.purpose.clone());
                metrics.extend(report.metrics.keys().cloned());
                dimensions.extend(report.dimensions.keys().cloned());
            }
        }
        // Every live metric, every purpose with one, and every dimension
        // turns up: the load covers the whole schema.
        let live: BTreeSet<String> = schema
            .metrics
            .values()
            .filter(|m| !m.is_expired(day().date()))
            .map(|m| m.id.clone())
            .collect();
        assert_eq!(metrics, live, "{}", schema.id);
        let live_purposes: BTreeSet<String> = schema
            .metrics
            .values()
            .filter(|m| !m.is_expired(day().date()))
            .map(|m| m.purpose.clone())
            .collect();
        assert_eq!(purposes, live_purposes, "{}", schema.id);
        assert_eq!(
            dimensions,
            schema.dimensions.keys().cloned().collect(),
            "{}",
            schema.id
        );
    }
}

#[test]
fn expired_purposes_are_not_drawn() {
    let schema = edge_schema();
    let g = ReportGenerator::new(&schema, "eu", day(), 3).expect("generator");
    assert_eq!(g.purposes().collect::<Vec<_>>(), vec!["usage"]);
}

#[test]
fn report_ids_are_distinct() {
    let schema = browser_schema();
    let mut g = ReportGenerator::new(&schema, "eu", day(), 9).expect("generator");
    let mut ids = BTreeSet::new();
    for _ in 0..20_000 {
        assert!(ids.insert(g.generate().expect("report").report_id));
    }
}

#[test]
fn content_follows_the_seed_and_is_varied() {
    let schema = browser_schema();
    let strip = |seed| {
        let mut g = ReportGenerator::new(&schema, "eu", day(), seed).expect("generator");
        (0..300)
            .map(|_| {
                let r = g.generate().expect("report");
                (r.purpose, r.dimensions, r.metrics)
            })
            .collect::<Vec<_>>()
    };
    let a = strip(5);
    assert_eq!(a, strip(5));
    assert_ne!(a, strip(6));
    // Not one report repeated over and over.
    let distinct: BTreeSet<String> = a
        .iter()
        .map(|r| serde_json::to_string(r).expect("serializes"))
        .collect();
    assert!(distinct.len() > 250, "{} distinct of 300", distinct.len());
    // Counts are skewed toward small values but reach high ones.
    let tabs: Vec<u64> = a
        .iter()
        .filter_map(|(_, _, m)| match m.get("browser.tabs_opened") {
            Some(candor_protocol::MetricValue::Counter(n)) => Some(*n),
            _ => None,
        })
        .collect();
    let small = tabs.iter().filter(|&&n| n <= 100).count();
    assert!(small * 2 > tabs.len(), "mostly small: {tabs:?}");
    assert!(tabs.iter().any(|&n| n > 200), "some large: {tabs:?}");
    let platforms: BTreeMap<&String, usize> = a
        .iter()
        .filter_map(|(_, d, _)| d.get("platform"))
        .fold(BTreeMap::new(), |mut m, p| {
            *m.entry(p).or_default() += 1;
            m
        });
    assert_eq!(platforms.len(), 3, "{platforms:?}");
}

#[test]
fn setup_errors_are_reported() {
    let schema = browser_schema();
    let err = ReportGenerator::new(&schema, "mars", day(), 1).expect_err("unknown region");
    assert!(matches!(err, LoadError::UnknownRegion { .. }), "{err}");
    let late = Day::from_ymd(2031, 1, 1).expect("a day");
    let err = ReportGenerator::new(&schema, "eu", late, 1).expect_err("all expired");
    assert!(matches!(err, LoadError::NoMetrics { .. }), "{err}");
    assert!(err.to_string().contains("2031-01-01"), "{err}");
}

//! A release read from roll-ups equals the release read from the day rows:
//! the same groups, cells, values, intervals and decisions for the same
//! noise seed, for every metric type of the example schema, over a range
//! and by day, grouped and filtered.

use super::*;

/// Every metric of the example schema, on `days` days from `DAY0`: a few
/// reports a day per platform, with values that change from day to day,
/// and a long tail of domains (most under k on any one day).
fn fill(store: &mut dyn Store, days: DayNumber) {
    let s = schema();
    for day in DAY0..DAY0 + days {
        let mut reports = Vec::new();
        let d = (day - DAY0) as u64;
        for (p, platform) in ["android", "ios", "exampleos"].iter().enumerate() {
            for n in 0..(3 + (d + p as u64) % 9) {
                for m in s.metrics.values() {
                    let value = match &m.kind {
                        MetricKind::Counter => MetricValue::Counter((d + n) % 3),
                        MetricKind::LabeledCounter { labels } => MetricValue::LabeledCounter(
                            labels
                                .iter()
                                .skip(((d + n) % 3) as usize)
                                .take(1 + ((d * n) % 2) as usize)
                                .map(|l| (l.clone(), 1))
                                .collect(),
                        ),
                        MetricKind::Boolean => MetricValue::Boolean((d + n).is_multiple_of(3)),
                        MetricKind::Category { categories } => MetricValue::Category(
                            categories[((d + n) as usize) % categories.len()].clone(),
                        ),
                        MetricKind::Distribution { buckets } => {
                            let mut counts = vec![0; buckets.len() + 1];
                            let at = ((d * 7 + n) as usize) % counts.len();
                            counts[at] = 1;
                            MetricValue::Distribution(counts)
                        }
                        // One domain in every report: over a range it
                        // passes the open-set threshold.
                        MetricKind::DomainSet => MetricValue::DomainSet(
                            (0..1 + n % 4)
                                .map(|i| format!("site{}.com", (d * 3 + n * 5 + i) % 40))
                                .chain(["popular.com".to_owned()])
                                .collect(),
                        ),
                        _ => continue,
                    };
                    let dims: Vec<(&str, &str)> = m
                        .dimensions
                        .iter()
                        .map(|dim| match dim.as_str() {
                            "platform" => ("platform", *platform),
                            "app_version" => ("app_version", ["121.0", "122.3"][n as usize % 2]),
                            _ => ("os_major", ["14", "15"][(n as usize / 2) % 2]),
                        })
                        .collect();
                    reports.push(report(&m.id, day, &dims, value));
                }
            }
        }
        ingest(store, &reports);
    }
}

/// The release of `q` computed from what `store` lends now, with noise
/// from `seed`, as JSON.
fn released(store: &dyn Store, q: &Query, seed: u64) -> Value {
    let registry = registry();
    let plan = plan(&registry, &admin(), q, &late()).expect("a valid query");
    let answer = compute(&plan, store, &mut rng(seed)).expect("released");
    serde_json::to_value(answer).expect("an answer serializes")
}

#[test]
fn a_release_from_roll_ups_equals_the_release_from_the_day_rows() {
    let mut store = candor_store::open_in_memory().expect("store");
    fill(&mut store, 150);
    let mut queries = Vec::new();
    for m in schema().metrics.values() {
        if m.kind.cohort_weeks().is_some() {
            // Activity releases are checked in `activity.rs`.
            continue;
        }
        for (from, to) in [(0, 149), (3, 140), (17, 17), (30, 94)] {
            queries.push(query(&m.id, DAY0 + from, DAY0 + to, &[]));
            queries.push(query(&m.id, DAY0 + from, DAY0 + to, &[DAY]));
            if m.dimensions.iter().any(|d| d == "platform") {
                queries.push(query(&m.id, DAY0 + from, DAY0 + to, &["platform"]));
                let mut filtered = query(&m.id, DAY0 + from, DAY0 + to, &[]);
                filtered
                    .filters
                    .insert("platform".into(), vec!["ios".into()]);
                queries.push(filtered);
            }
        }
    }
    let from_rows: Vec<Value> = queries
        .iter()
        .enumerate()
        .map(|(i, q)| released(&store, q, i as u64))
        .collect();
    // Every day of the fill is sealed now.
    let spans = store.roll_up(DAY0 + 150).expect("roll up");
    assert!(spans > 100, "only {spans} spans rolled up");
    // The reads do use them: a cell's sum over the year comes in a few
    // spans, not 150 rows.
    let mut read = 0;
    let filter = candor_store::RowFilter {
        metric: Some("browser.slow_domains".into()),
        from_day: Some(DAY0),
        to_day: Some(DAY0 + 149),
        ..candor_store::RowFilter::default()
    };
    store
        .visit_spans(&filter, false, &mut |v| {
            read += usize::from(v.last_day > v.row.day);
        })
        .expect("visit spans");
    assert!(read > 0, "no multi-day span was read");
    for (i, (q, expected)) in queries.iter().zip(&from_rows).enumerate() {
        assert_eq!(
            &released(&store, q, i as u64),
            expected,
            "the release of {q:?} changed once rolled up"
        );
    }
    // Shown domain groups exist, so the comparison covered real values.
    assert!(
        from_rows.iter().any(
            |a| a["metric_type"] == "domain_set" && !a["groups"].as_array().unwrap().is_empty()
        )
    );
}

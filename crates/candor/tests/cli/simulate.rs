//! `candor simulate` against a real `candor serve`: the simulated devices
//! drive the real SDK and upload over HTTP, and what the collector stored
//! must be exactly the eligible ground truth wherever neither the SDK's
//! clamping nor local DP changes a value.

use std::collections::BTreeMap;
use std::path::Path;

use candor_protocol::Day;
use candor_store::{AggregateRow, RowFilter, StoreConfig};
use serde_json::Value;

use crate::serve::{free_port, start, stop};
use crate::{candor, s, text};

/// (day number, metric, dimensions, cell) → (sum, contributors).
type Rows = BTreeMap<(i32, String, String, String), (i64, i64)>;

fn stored(dir: &Path, region: &str) -> Rows {
    let stores = StoreConfig::sqlite(dir);
    if !stores.has_region(region).expect("a region id") {
        return Rows::new();
    }
    let store = stores
        .open_region_read_only(region)
        .expect("the region's store opens");
    let mut rows = Rows::new();
    for AggregateRow {
        key,
        sum,
        contributors,
    } in store.rows(&RowFilter::default()).expect("rows")
    {
        if key.cell == candor_store::REPORTS_CELL {
            continue;
        }
        let e = rows
            .entry((key.day, key.metric, key.dimensions, key.cell))
            .or_default();
        e.0 += sum;
        e.1 += contributors;
    }
    rows
}

fn day_number(day: &str) -> i32 {
    Day::parse(day).expect("a day").number()
}

/// Runs `candor simulate` with `args` against the server on `port`;
/// returns the JSON summary.
fn simulate(port: u16, data: &Path, args: &[&str]) -> Value {
    let url = format!("http://127.0.0.1:{port}");
    let mut all = vec![
        "simulate",
        "--url",
        &url,
        "--data-dir",
        s(data),
        "--json",
        "--no-progress",
    ];
    all.extend_from_slice(args);
    let out = candor(&all);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "simulate failed: {stderr}\n{stdout}");
    serde_json::from_str(&stdout).expect("the summary is JSON")
}

#[test]
fn a_simulated_fleet_is_stored_exactly_as_its_eligible_ground_truth() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let port = free_port();
    let server = start(&data, port);
    let truth_path = tmp.path().join("truth.json");

    // 60 devices × 3 days ending today, all in eu.
    let summary = simulate(
        port,
        &data,
        &[
            "--devices",
            "60",
            "--days",
            "3",
            "--regions",
            "eu=1",
            "--consent",
            "usage=1,diagnostics=0.8,browsing=0.6",
            "--private-share",
            "0.3",
            "--child-share",
            "0.05",
            "--seed",
            "7",
            "--truth",
            s(&truth_path),
        ],
    );
    assert!(summary["reports"]["accepted"].as_u64().expect("accepted") > 0);
    assert_eq!(summary["reports"]["rejected"], 0, "{summary:#}");
    assert_eq!(summary["unsent"], 0);
    assert_eq!(summary["devices"], 60);
    assert_eq!(summary["purposes"]["usage"]["granted"], 60);

    // One more, tiny: every session in private mode, region us.
    let private = simulate(
        port,
        &data,
        &[
            "--devices",
            "12",
            "--days",
            "1",
            "--regions",
            "us=1",
            "--consent",
            "usage=1,diagnostics=1,browsing=1",
            "--private-share",
            "1",
            "--child-share",
            "0",
        ],
    );
    assert!(private["sessions"].as_u64().expect("sessions") > 0);
    assert_eq!(private["sessions"], private["private_sessions"]);
    stop(server);

    // The ground truth parses and has its header.
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(&truth_path).expect("written"))
            .expect("the ground truth is JSON");
    assert_eq!(truth["format"], 2);
    assert_eq!(truth["devices"], 60);
    assert_eq!(truth["devices_by_region"]["eu"], 60);
    let total = |metric: &str, version: &str| -> u64 {
        let mut sum = 0;
        for days in truth["cells"].as_object().expect("regions").values() {
            for metrics in days.as_object().expect("days").values() {
                if let Some(groups) = metrics.get(metric).and_then(Value::as_object) {
                    for g in groups.values() {
                        for cell in g[version].as_object().expect("cells").values() {
                            sum += cell[0].as_u64().expect("sum");
                        }
                    }
                }
            }
        }
        sum
    };
    // Private browsing is lost to usage and browsing, not to diagnostics
    // (allowed in private mode); everyone granted usage.
    assert!(total("browser.tabs_opened", "eligible") < total("browser.tabs_opened", "all"));
    assert!(total("browser.tabs_opened", "eligible") > 0);

    // The collector's rows against the eligible truth.
    let rows = stored(&data, "eu");
    let mut checked = 0;
    let cells = truth["cells"]["eu"].as_object().expect("eu");
    for (day, metrics) in cells {
        let day = day_number(day);
        for (metric, groups) in metrics.as_object().expect("metrics") {
            let info = &truth["metrics"][metric];
            let local_dp = matches!(info["type"].as_str(), Some("boolean" | "category"));
            for (dims, group) in groups.as_object().expect("groups") {
                let eligible = group["eligible"].as_object().expect("cells");
                let over = group
                    .get("over_bound")
                    .map_or(0, |o| o[1].as_u64().expect("count"));
                let row = |cell: &str| {
                    rows.get(&(day, metric.clone(), dims.clone(), cell.to_owned()))
                        .copied()
                        .unwrap_or_default()
                };
                if local_dp {
                    // Randomized values, but exactly one report per device.
                    let devices: u64 = eligible
                        .values()
                        .map(|c| c[1].as_u64().expect("devices"))
                        .sum();
                    let names: Vec<String> = match info["type"].as_str() {
                        Some("boolean") => vec!["true".into(), "false".into()],
                        _ => rows
                            .keys()
                            .filter(|(d, m, g, _)| *d == day && m == metric && g == dims)
                            .map(|(_, _, _, c)| c.clone())
                            .collect(),
                    };
                    let reports: i64 = names.iter().map(|c| row(c).1).sum();
                    assert_eq!(reports as u64, devices, "{day} {metric} {dims}");
                    continue;
                }
                for (cell, v) in eligible {
                    let (sum, devices) = (v[0].as_u64().expect("sum"), v[1].as_u64().expect("n"));
                    let (stored_sum, stored_devices) = row(cell);
                    if over == 0 {
                        assert_eq!(
                            (stored_sum as u64, stored_devices as u64),
                            (sum, devices),
                            "{day} {metric} {dims} {cell:?}"
                        );
                        checked += 1;
                    } else {
                        assert!(stored_sum as u64 <= sum, "{day} {metric} {dims} {cell:?}");
                    }
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} cells compared");
    // Nothing stored that the truth does not have.
    for (day, metric, dims, cell) in rows.keys() {
        let name = Day::from_number(*day).expect("day").to_string();
        assert!(
            !cells[&name][metric][dims].is_null(),
            "stored but not true: {name} {metric} {dims} {cell:?}"
        );
    }

    // The private-only fleet: nothing from browsing sessions for usage and
    // browsing, but page loads (diagnostics) and day-level usage arrived.
    let us = stored(&data, "us");
    let has = |metric: &str| us.keys().any(|(_, m, _, _)| m == metric);
    for metric in [
        "browser.tabs_opened",
        "browser.session_minutes",
        "browser.slow_domains",
        "browser.bookmarks_added",
    ] {
        assert!(!has(metric), "{metric} was recorded in private mode");
    }
    assert!(has("browser.page_load_ms"));
    assert!(has("app.opened"));
}

#[test]
fn bad_arguments_stop_before_any_traffic() {
    for args in [
        &[
            "simulate",
            "--url",
            "http://127.0.0.1:9",
            "--regions",
            "mars=1",
        ][..],
        &[
            "simulate",
            "--url",
            "http://127.0.0.1:9",
            "--consent",
            "usage=2",
        ],
        &["simulate", "--url", "http://127.0.0.1:9", "--days", "0"],
        &["simulate", "--url", "http://127.0.0.1:9", "--regions", "eu"],
    ] {
        let out = candor(args);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("error"), "{stderr}");
    }
    // No collector: the key fetch fails and says where it looked.
    let tmp = tempfile::tempdir().expect("tempdir");
    for region in ["eu", "us"] {
        let out = tmp.path().join(region).join("keys");
        assert!(
            candor(&["keygen", "--region", region, "--out", s(&out)])
                .status
                .success()
        );
    }
    let out = candor(&[
        "simulate",
        "--url",
        "http://127.0.0.1:9",
        "--data-dir",
        s(tmp.path()),
        "--devices",
        "2",
        "--no-progress",
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("/v1/regions/eu/keys"), "{stderr}");
}

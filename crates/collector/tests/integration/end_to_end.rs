use std::collections::BTreeMap;
use std::sync::Arc;

use candor_sdk::upload::HttpUploader;
use candor_sdk::{Candor, Config, ManualClock};

use crate::common::{NOON, Server, schema};

/// (metric, cell) → (sum, contributors), summed over days and dimensions.
type Totals = BTreeMap<(String, String), (i64, i64)>;

/// What the collector should hold, computed from the exact reports the
/// devices say they sent.
fn expected(reports: &[serde_json::Value]) -> Totals {
    let mut t = Totals::new();
    for r in reports {
        for (metric, v) in r["metrics"].as_object().expect("metrics") {
            let value = &v["value"];
            let cells: Vec<(String, i64)> = match v["type"].as_str().expect("type") {
                "counter" => vec![(String::new(), value.as_i64().expect("n"))],
                "labeled_counter" => value
                    .as_object()
                    .expect("map")
                    .iter()
                    .map(|(k, n)| (k.clone(), n.as_i64().expect("n")))
                    .collect(),
                "boolean" => vec![(value.as_bool().expect("bool").to_string(), 1)],
                "category" => vec![(value.as_str().expect("s").to_owned(), 1)],
                "distribution" => value
                    .as_array()
                    .expect("buckets")
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| n.as_i64() != Some(0))
                    .map(|(i, n)| (i.to_string(), n.as_i64().expect("n")))
                    .collect(),
                "domain_set" => value
                    .as_array()
                    .expect("domains")
                    .iter()
                    .map(|d| (d.as_str().expect("d").to_owned(), 1))
                    .collect(),
                other => panic!("unexpected type {other}"),
            };
            for (cell, n) in cells {
                let e = t.entry((metric.clone(), cell)).or_default();
                e.0 += n;
                e.1 += 1;
            }
        }
    }
    t
}

fn stored(server: &Server, region: &str) -> Totals {
    let mut t = Totals::new();
    for row in server.rows(region) {
        let e = t.entry((row.key.metric, row.key.cell)).or_default();
        e.0 += row.sum;
        e.1 += row.contributors;
    }
    t
}

fn device(
    server: &Server,
    region: &str,
    platform: &str,
) -> (Candor, ManualClock, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::new(NOON);
    // The device pins the region's signing key and fetches the signed key
    // list itself, through its uploader.
    let mut cfg = Config::new(dir.path(), schema(), server.signing_key(region));
    cfg.clock = Arc::new(clock.clone());
    cfg.persist_interval = None;
    cfg.uploader = Some(Arc::new(HttpUploader::new(server.url())));
    cfg.batch_size = 2;
    cfg.dimensions.insert("platform".into(), platform.into());
    cfg.dimensions
        .insert("app_version".into(), "121.0.6167.101".into());
    cfg.dimensions.insert("os_major".into(), "14".into());
    (Candor::open(cfg).expect("opens"), clock, dir)
}

#[test]
fn many_devices_in_two_regions_aggregate_exactly_and_stay_apart() {
    let server = Server::start();
    let mut sent: BTreeMap<&str, Vec<serde_json::Value>> = BTreeMap::new();
    let mut tabs_truth: BTreeMap<&str, i64> = BTreeMap::new();
    for i in 0..40u64 {
        let (region, platform, own_domain) = if i % 2 == 0 {
            ("eu", "android", "https://www.eu-only-news.de/a")
        } else {
            ("us", "ios", "https://us-only-news.com/b")
        };
        let (c, clock, _dir) = device(&server, region, platform);
        for p in ["usage", "browsing", "diagnostics"] {
            c.grant(p).expect("grant");
        }
        // Two days of usage, all within the schema's bounds.
        for day in 0..2 {
            let tabs = ((i * 7 + day * 3) % 40 + 1) as i64;
            c.counter("browser.tabs_opened").add(tabs);
            *tabs_truth.entry(region).or_default() += tabs;
            c.labeled_counter("app.opened")
                .add(["camera", "music", "clock"][(i % 3) as usize], 2);
            c.boolean("settings.dark_mode").set(i % 4 == 0);
            c.category("browser.default_search").set("ecosia");
            c.distribution("browser.page_load_ms")
                .accumulate((i * 97 % 5000) as i64);
            c.labeled_counter("diagnostics.crashes").add("gpu", 1);
            c.domain_set("browser.slow_domains").record_url(own_domain);
            c.domain_set("browser.slow_domains")
                .record_url(&format!("https://shared{}.example.org/", i % 3));
            clock.advance(86_400);
            c.flush();
        }
        let summary = c.upload_pending();
        assert_eq!(summary.remaining, 0, "{summary:?}");
        assert_eq!(summary.rejected, 0, "{summary:?} {:?}", c.error_counts());
        sent.entry(region).or_default().extend(
            c.sent_reports(30)
                .iter()
                .map(|r| serde_json::from_str(r).expect("json")),
        );
    }
    for region in ["eu", "us"] {
        let reports = &sent[region];
        assert_eq!(
            reports.len(),
            20 * 2 * 3,
            "{region}: 20 devices × 2 days × 3 purposes"
        );
        assert_eq!(stored(&server, region), expected(reports), "{region}");
        let tabs: i64 = server
            .rows(region)
            .iter()
            .filter(|r| r.key.metric == "browser.tabs_opened")
            .map(|r| r.sum)
            .sum();
        assert_eq!(
            tabs, tabs_truth[region],
            "{region}: counters equal what was recorded"
        );
        // Each metric's report-count rows count the reports that carried it.
        let mut carried: BTreeMap<String, i64> = BTreeMap::new();
        for r in reports {
            for m in r["metrics"].as_object().expect("metrics").keys() {
                *carried.entry(m.clone()).or_default() += 1;
            }
        }
        let mut counted: BTreeMap<String, i64> = BTreeMap::new();
        for row in server
            .all_rows(region)
            .iter()
            .filter(|r| r.key.cell == candor_store::REPORTS_CELL)
        {
            assert_eq!(row.sum, row.contributors, "one per report");
            *counted.entry(row.key.metric.clone()).or_default() += row.contributors;
        }
        assert_eq!(counted, carried, "{region}: report counts per metric");
    }
    // Region isolation: each database holds only its own region's data.
    let eu = server.rows("eu");
    let us = server.rows("us");
    assert!(
        eu.iter()
            .all(|r| !r.key.cell.contains("us-only") && !r.key.dimensions.contains("ios"))
    );
    assert!(
        us.iter()
            .all(|r| !r.key.cell.contains("eu-only") && !r.key.dimensions.contains("android"))
    );
    assert!(eu.iter().any(|r| r.key.cell == "eu-only-news.de"));
    assert!(us.iter().any(|r| r.key.cell == "us-only-news.com"));
    // Report counts per purpose.
    let store = server.store("eu");
    let counts: i64 = store
        .report_counts()
        .expect("counts")
        .iter()
        .map(|c| c.reports)
        .sum();
    assert_eq!(counts, 120);
    drop(store);
    server.stop();
}

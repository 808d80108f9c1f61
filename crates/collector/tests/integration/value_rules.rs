//! Every value rule checked at the door (docs/wire.md §2.1): a foreign
//! client's report that breaks one is refused with its documented code, and
//! the store is byte-identical before and after.

use serde_json::{Value, json};

use crate::common::Server;
use crate::foreign::{self, ForeignKey};

/// Posts `report`, expects `code` with status 422 (or 400 for the shape
/// rules), and an unchanged store.
fn refused(server: &Server, key: &ForeignKey, report: &Value, status: u16, code: &str) {
    let before = server.snapshot();
    let answer = foreign::post(server, key, report);
    assert_eq!(answer.status, status, "{report}: {answer:?}");
    assert_eq!(answer.json["code"], code, "{report}: {answer:?}");
    assert_eq!(answer.content_type, "application/problem+json");
    assert_eq!(server.snapshot(), before, "{report} changed the store");
}

fn domains(list: &[&str]) -> Value {
    json!({"browser.slow_domains": {"type": "domain_set", "value": list}})
}

/// Starts a collector, shows that the foreign client's reports are accepted
/// when they follow the rules (so the refusals below are about the rule
/// alone), and returns it with the eu key.
fn server() -> (Server, ForeignKey) {
    let server = Server::start();
    let key = ForeignKey::fetch(&server, "eu");
    let ok = foreign::post(
        &server,
        &key,
        &foreign::report("browsing", domains(&["example.com", "user.github.io"])),
    );
    assert_eq!(ok.status, 202, "{ok:?}");
    assert_eq!(ok.json["results"][0]["status"], "accepted");
    let mut usage = foreign::report(
        "usage",
        json!({"browser.tabs_opened": {"type": "counter", "value": 4}}),
    );
    usage["dimensions"] = json!({"platform": "android", "app_version": "121.3"});
    assert_eq!(foreign::post(&server, &key, &usage).status, 202);
    assert!(!server.rows("eu").is_empty());
    (server, key)
}

#[test]
fn a_domain_that_is_not_its_own_registrable_domain_is_refused() {
    let (server, key) = server();
    for d in [
        "www.example.com",
        "user-12345.example.com",
        "a.b.c.example.com",
        "co.uk",
        "github.io",
        "1.2.3.4",
        "192.168.1.1",
        "Example.com",
        "example.com.",
        "xn--zz.com",
        "localhost",
        "nas.local",
    ] {
        // Alone, and next to a valid domain: the whole report is refused.
        for list in [vec![d], vec!["example.org", d]] {
            refused(
                &server,
                &key,
                &foreign::report("browsing", domains(&list)),
                422,
                "value_out_of_bounds",
            );
        }
    }
    let rows = server.rows("eu");
    assert!(
        rows.iter().all(|r| !r.key.cell.contains("www.")
            && !r.key.cell.contains("12345")
            && r.key.cell != "co.uk"
            && r.key.cell != "github.io"
            && !r.key.cell.starts_with("1")),
        "{rows:?}"
    );
    server.stop();
}

#[test]
fn an_unknown_schema_version_is_refused() {
    let (server, key) = server();
    for version in [99, 4, 0] {
        let mut r = foreign::report("browsing", domains(&["example.com"]));
        r["schema_version"] = version.into();
        refused(&server, &key, &r, 422, "unknown_schema_version");
    }
    // An older version of the schema is still accepted (devices update late).
    let mut r = foreign::report("browsing", domains(&["example.com"]));
    r["schema_version"] = 2.into();
    assert_eq!(foreign::post(&server, &key, &r).status, 202);
    server.stop();
}

#[test]
fn a_report_without_metrics_is_refused() {
    let (server, key) = server();
    refused(
        &server,
        &key,
        &foreign::report("browsing", json!({})),
        400,
        "malformed_report",
    );
    let mut r = foreign::report("browsing", json!({}));
    r.as_object_mut().expect("object").remove("metrics");
    refused(&server, &key, &r, 400, "malformed_report");
    server.stop();
}

#[test]
fn a_dimension_that_breaks_the_dimension_rule_is_refused() {
    let (server, key) = server();
    let tabs = json!({"browser.tabs_opened": {"type": "counter", "value": 2}});
    let with = |dims: Value| {
        let mut r = foreign::report("usage", tabs.clone());
        r["dimensions"] = dims;
        r
    };
    // Declared by the schema but by no metric of the report
    // (browser.tabs_opened declares platform and app_version).
    refused(
        &server,
        &key,
        &with(json!({"platform": "android", "os_major": "14"})),
        422,
        "unknown_dimension",
    );
    // Not declared by the schema at all.
    refused(
        &server,
        &key,
        &with(json!({"country": "de"})),
        422,
        "unknown_dimension",
    );
    // A value the dimension does not take: outside the closed set, or a
    // version not in canonical coarse form.
    for dims in [
        json!({"platform": "windows"}),
        json!({"app_version": "121.3.6099"}),
        json!({"app_version": "121.03"}),
        json!({"platform": ""}),
    ] {
        refused(&server, &key, &with(dims), 422, "unknown_dimension");
    }
    // A dimension a metric declares may be absent: the device does not know it.
    assert_eq!(
        foreign::post(&server, &key, &with(json!({"platform": "ios"}))).status,
        202
    );
    server.stop();
}

#[test]
fn bounds_labels_categories_and_buckets_are_checked() {
    let (server, key) = server();
    let usage = |m: Value| foreign::report("usage", m);
    let cases = [
        (
            usage(json!({"browser.tabs_opened": {"type": "counter", "value": 501}})),
            "value_out_of_bounds",
        ),
        // max_per_report bounds the total over all labels (100).
        (
            usage(json!({"app.opened": {"type": "labeled_counter",
                "value": {"camera": 60, "gallery": 41}}})),
            "value_out_of_bounds",
        ),
        (
            usage(json!({"app.opened": {"type": "labeled_counter",
                "value": {"calculator": 1}}})),
            "unknown_label",
        ),
        (
            usage(json!({"settings.text_size": {"type": "category", "value": "huge"}})),
            "unknown_label",
        ),
        // 7 bounds make 8 buckets.
        (
            usage(json!({"browser.session_minutes": {"type": "distribution",
                "value": [1, 0, 0, 0, 0, 0, 0]}})),
            "value_out_of_bounds",
        ),
        // max_per_report bounds the total over all buckets (20).
        (
            usage(json!({"browser.session_minutes": {"type": "distribution",
                "value": [10, 0, 0, 0, 0, 0, 0, 11]}})),
            "value_out_of_bounds",
        ),
        (
            usage(json!({"settings.dark_mode": {"type": "counter", "value": 1}})),
            "wrong_type",
        ),
        (
            usage(json!({"diagnostics.app_not_responding": {"type": "counter", "value": 1}})),
            "unknown_metric",
        ),
    ];
    for (report, code) in cases {
        refused(&server, &key, &report, 422, code);
    }
    // 21 distinct canonical domains, over the bound of 20.
    let many: Vec<String> = (0..21).map(|i| format!("site{i}.com")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    refused(
        &server,
        &key,
        &foreign::report("browsing", domains(&many)),
        422,
        "value_out_of_bounds",
    );
    server.stop();
}

use std::collections::BTreeSet;

use candor_schema::MetricKind;

use crate::common::{DAY, device, parse, schema};

#[test]
fn equal_usage_gives_reports_that_differ_only_in_report_id() {
    let mut bodies = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for _ in 0..50 {
        let d = device();
        d.candor.grant("usage").expect("grant");
        d.candor.grant("browsing").expect("grant");
        // Same usage on every device (central-DP metrics only: local-DP
        // ones are randomized per device by design).
        d.candor.counter("browser.tabs_opened").add(12);
        d.candor.labeled_counter("app.opened").add("camera", 2);
        d.candor
            .distribution("browser.session_minutes")
            .accumulate(17);
        d.candor
            .domain_set("browser.slow_domains")
            .record_url("https://www.example.com/private/path?token=abc");
        d.clock.advance(DAY);
        d.candor.flush();
        for json in d.candor.pending_reports() {
            let mut v = parse(&json);
            ids.insert(v["report_id"].as_str().expect("id").to_owned());
            v.as_object_mut().expect("object").remove("report_id");
            bodies.insert(v.to_string());
        }
    }
    assert_eq!(ids.len(), 100, "every report has a fresh id");
    assert_eq!(
        bodies.len(),
        2,
        "one body per purpose, identical across devices"
    );
}

#[test]
fn every_field_holds_only_schema_values() {
    let schema = schema();
    let d = device();
    for p in ["usage", "diagnostics", "browsing"] {
        d.candor.grant(p).expect("grant");
    }
    let c = &d.candor;
    c.labeled_counter("app.opened").add("music", 4);
    c.counter("browser.tabs_opened").add(3);
    c.boolean("settings.dark_mode").set(false);
    c.category("browser.default_search").set("ecosia");
    c.distribution("browser.page_load_ms").accumulate(870);
    c.labeled_counter("diagnostics.crashes").add("gpu", 2);
    c.domain_set("browser.slow_domains")
        .record_url("https://user:pw@shop.example.de:8443/cart?id=99");
    d.clock.advance(DAY);
    c.flush();
    let allowed_keys: BTreeSet<&str> = [
        "v",
        "report_id",
        "schema",
        "schema_version",
        "purpose",
        "consent_version",
        "region",
        "day",
        "dimensions",
        "metrics",
    ]
    .into();
    let reports = c.pending_reports();
    assert_eq!(reports.len(), 3);
    for json in reports {
        let v = parse(&json);
        let keys: BTreeSet<&str> = v
            .as_object()
            .expect("object")
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert!(keys.is_subset(&allowed_keys), "{keys:?}");
        assert_eq!(v["schema"], schema.id.as_str());
        assert_eq!(v["region"], "eu");
        for (dim, value) in v["dimensions"].as_object().expect("dims") {
            let d = schema.dimension(dim).expect("declared dimension");
            assert!(d.accepts(value.as_str().expect("string")), "{dim}={value}");
        }
        let purpose = v["purpose"].as_str().expect("purpose");
        for (id, value) in v["metrics"].as_object().expect("metrics") {
            let metric = schema.metric(id).expect("declared metric");
            assert_eq!(metric.purpose, purpose);
            assert_eq!(value["type"], metric.type_name());
            let inner = &value["value"];
            match &metric.kind {
                MetricKind::LabeledCounter { labels } => {
                    for label in inner.as_object().expect("map").keys() {
                        assert!(labels.contains(label), "{label}");
                    }
                }
                MetricKind::Category { categories } => {
                    assert!(categories.iter().any(|c| inner == c.as_str()));
                }
                MetricKind::Distribution { buckets } => {
                    assert_eq!(inner.as_array().expect("array").len(), buckets.len() + 1);
                }
                MetricKind::DomainSet => {
                    assert_eq!(inner, &serde_json::json!(["example.de"]));
                }
                _ => assert!(inner.is_boolean() || inner.is_u64()),
            }
        }
        let mut without_id = v.clone();
        without_id
            .as_object_mut()
            .expect("object")
            .remove("report_id");
        let text = without_id.to_string();
        for secret in ["user", "pw", "8443", "cart", "id=99", "shop."] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
    }
}

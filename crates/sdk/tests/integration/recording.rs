use crate::common::{DAY, device, parse};

#[test]
fn bad_input_is_counted_and_changes_nothing() {
    let d = device();
    d.candor.grant("usage").expect("grant");
    d.candor.grant("browsing").expect("grant");
    let c = &d.candor;
    c.counter("app.opened").add(1); // wrong type: it is a labeled counter
    c.counter("no.such_metric").add(1);
    c.labeled_counter("app.opened").add("calculator", 1);
    c.labeled_counter("app.opened").add("camera", -1);
    c.counter("browser.tabs_opened").add(-5);
    c.counter("browser.tabs_opened").add(i64::MAX);
    c.category("settings.text_size").set("huge");
    c.distribution("browser.session_minutes").accumulate(-1);
    for url in [
        "http://192.168.1.1/",
        "file:///etc/passwd",
        "http://localhost:8080/",
        "http://router/",
    ] {
        c.domain_set("browser.slow_domains").record_url(url);
    }
    c.end_day();
    assert!(c.pending_reports().is_empty(), "{:?}", c.pending_reports());

    let errors = c.error_counts();
    let get = |id: &str, code: &str| errors.get(id).and_then(|m| m.get(code)).copied();
    assert_eq!(get("app.opened", "wrong_type"), Some(1));
    assert_eq!(get("no.such_metric", "unknown_metric"), Some(1));
    assert_eq!(get("app.opened", "unknown_label"), Some(1));
    assert_eq!(get("app.opened", "negative_value"), Some(1));
    assert_eq!(get("browser.tabs_opened", "negative_value"), Some(1));
    assert_eq!(get("browser.tabs_opened", "overflow"), Some(1));
    assert_eq!(get("settings.text_size", "unknown_label"), Some(1));
    assert_eq!(get("browser.session_minutes", "negative_value"), Some(1));
    assert_eq!(get("browser.slow_domains", "url_dropped"), Some(4));
    assert_eq!(get("*url", "ip_literal"), Some(1));
    assert_eq!(get("*url", "not_web"), Some(1));
    assert_eq!(get("*url", "localhost"), Some(1));
    assert_eq!(get("*url", "single_label"), Some(1));
}

#[test]
fn one_report_per_purpose_and_day_clamped_to_the_schema() {
    let d = device();
    d.candor.grant("usage").expect("grant");
    d.candor.grant("browsing").expect("grant");
    let c = &d.candor;
    c.counter("browser.tabs_opened").add(400);
    c.counter("browser.tabs_opened").add(400); // bound is 500
    c.labeled_counter("app.opened").add("camera", 150);
    c.labeled_counter("app.opened").add("music", 50); // total bound 100
    for m in [0, 3, 3, 200, 10_000] {
        c.distribution("browser.session_minutes").accumulate(m);
    }
    for i in 0..50 {
        c.domain_set("browser.slow_domains")
            .record_url(&format!("https://www.site{i}.com/page"));
    }
    c.domain_set("browser.slow_domains")
        .record_url("https://mail.google.com/u/0/?user=alice@example.org");
    c.flush(); // persisted, nothing sealed yet
    assert!(c.pending_reports().is_empty());
    d.clock.advance(DAY);
    c.flush();
    c.flush(); // idempotent: no second report for the same day
    let reports: Vec<_> = c.pending_reports().iter().map(|p| parse(p)).collect();
    assert_eq!(reports.len(), 2);
    let browsing = &reports[0];
    let usage = &reports[1];
    assert_eq!(browsing["purpose"], "browsing");
    assert_eq!(usage["day"], "2026-11-29");
    let m = &usage["metrics"];
    assert_eq!(m["browser.tabs_opened"]["value"], 500);
    assert_eq!(
        m["app.opened"]["value"],
        serde_json::json!({"camera": 75, "music": 25})
    );
    // Buckets: ≤1, ≤5, ≤15, ≤30, ≤60, ≤120, ≤240, >240.
    assert_eq!(
        m["browser.session_minutes"]["value"],
        serde_json::json!([1, 2, 0, 0, 0, 0, 1, 1])
    );
    let domains = browsing["metrics"]["browser.slow_domains"]["value"]
        .as_array()
        .expect("domains");
    assert_eq!(domains.len(), 20, "at most max_per_report domains");
    assert!(
        domains
            .iter()
            .all(|d| d.as_str().is_some_and(|d| !d.contains('/')))
    );
    // Dimensions: only those declared by the reported metrics, coarsened.
    assert_eq!(
        usage["dimensions"],
        serde_json::json!({"app_version": "121.0", "os_major": "14", "platform": "android"})
    );
    assert_eq!(
        browsing["dimensions"],
        serde_json::json!({"platform": "android"})
    );
}

#[test]
fn values_recorded_across_restarts_add_up() {
    let d = device();
    d.candor.grant("usage").expect("grant");
    d.candor.counter("browser.tabs_opened").add(3);
    d.candor.flush();
    let dir = d.dir.path().to_owned();
    drop(d.candor);
    let candor = candor_sdk::Candor::open(crate::common::config(&dir, &d.clock)).expect("reopens");
    candor.counter("browser.tabs_opened").add(4);
    d.clock.advance(DAY);
    candor.flush();
    let report = parse(&candor.pending_reports()[0]);
    assert_eq!(report["metrics"]["browser.tabs_opened"]["value"], 7);
}

#[test]
fn local_dp_metrics_are_randomized_on_the_device() {
    // At ε = 2 a boolean is reported truthfully with p = e²/(1+e²) ≈ 0.881:
    // over 300 devices all reporting `true`, some must report `false`.
    let mut falses = 0;
    for _ in 0..300 {
        let d = device();
        d.candor.grant("usage").expect("grant");
        d.candor.boolean("settings.dark_mode").set(true);
        d.candor.end_day();
        let report = parse(&d.candor.pending_reports()[0]);
        if report["metrics"]["settings.dark_mode"]["value"] == false {
            falses += 1;
        }
    }
    // Expected ≈ 36; 3 standard deviations ≈ ±17.
    assert!((10..=70).contains(&falses), "{falses} of 300 flipped");
}

#[test]
fn a_label_handle_adds_like_the_labeled_counter() {
    let d = device();
    let c = &d.candor;
    let opened = c.labeled_counter("app.opened");
    let camera = opened.label("camera");
    camera.add(1); // no consent yet: nothing
    c.grant("usage").expect("grant");
    camera.add(2);
    opened.add("camera", 3);
    camera.private(true).add(50); // usage is not allowed in private mode
    camera.add(-1);
    opened.label("calculator").add(1);
    c.counter("browser.tabs_opened").add(0); // a report for the day either way
    c.end_day();
    let reports: Vec<_> = c.pending_reports().iter().map(|r| parse(r)).collect();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0]["metrics"]["app.opened"]["value"]["camera"], 5);
    let errors = c.error_counts();
    assert_eq!(errors["app.opened"]["negative_value"], 1, "{errors:?}");
    assert_eq!(errors["app.opened"]["unknown_label"], 1, "{errors:?}");
}

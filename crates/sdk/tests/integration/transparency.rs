use crate::common::{DAY, FakeCollector, device_with, files, parse};
use std::sync::Arc;

#[test]
fn pending_and_sent_show_the_exact_json_and_sent_expires() {
    let collector = Arc::new(FakeCollector::default());
    let up = collector.clone();
    let d = device_with(|c| {
        c.uploader = Some(up);
        c.sent_retention_days = 3;
    });
    d.candor.grant("usage").expect("grant");
    d.candor.counter("browser.tabs_opened").add(2);
    d.clock.advance(DAY);
    d.candor.flush();
    let pending = d.candor.pending_reports();
    assert_eq!(pending.len(), 1);

    let summary = d.candor.upload_pending();
    assert_eq!((summary.accepted, summary.remaining), (1, 0));
    assert!(d.candor.pending_reports().is_empty());
    let sent = d.candor.sent_reports(30);
    assert_eq!(sent, pending, "the user sees exactly what was sent");
    // What the collector opened is byte for byte what the user can read.
    let received = collector.reports();
    assert_eq!(
        parse(&sent[0]),
        serde_json::to_value(&received[0]).expect("json")
    );

    d.clock.advance(5 * DAY);
    d.candor.flush();
    assert!(d.candor.sent_reports(30).is_empty(), "sent reports expire");
}

#[test]
fn delete_all_data_keeps_only_the_consent_receipts() {
    let d = device_with(|_| {});
    d.candor.grant("usage").expect("grant");
    d.candor.counter("browser.tabs_opened").add(2);
    d.clock.advance(DAY);
    d.candor.flush();
    d.candor.counter("browser.tabs_opened").add(5);
    d.candor.counter("no.such").add(1);
    d.candor.flush();
    d.candor.delete_all_data();
    assert!(d.candor.pending_reports().is_empty());
    assert!(d.candor.error_counts().is_empty());
    for (path, text) in files(d.dir.path()) {
        assert!(
            !text.contains("tabs_opened"),
            "{} still holds data",
            path.display()
        );
    }
    assert_eq!(d.candor.receipts().len(), 1);
}

#[test]
fn the_outbox_is_capped_by_count_bytes_and_age_oldest_first() {
    let d = device_with(|c| {
        c.outbox.max_reports = 2;
        c.outbox.max_age_days = 30;
    });
    d.candor.grant("usage").expect("grant");
    for _ in 0..5 {
        d.candor.counter("browser.tabs_opened").add(1);
        d.clock.advance(DAY);
        d.candor.flush();
    }
    let days: Vec<String> = d
        .candor
        .pending_reports()
        .iter()
        .map(|p| parse(p)["day"].as_str().expect("day").to_owned())
        .collect();
    // (Within eu's 3-day report window, so the count cap is what drops.)
    assert_eq!(days, ["2026-12-02", "2026-12-03"], "the newest two");
    assert_eq!(d.candor.error_counts()["*"]["outbox_dropped"], 3);

    // Age: 31 days later, everything queued is too old to send (the
    // region's report window has long passed): dropped and counted.
    d.clock.advance(31 * DAY);
    d.candor.flush();
    assert!(d.candor.pending_reports().is_empty());
    assert_eq!(d.candor.error_counts()["*"]["outbox_dropped"], 3);
    assert_eq!(d.candor.error_counts()["*"]["too_late"], 2);

    // Bytes: a cap smaller than one report keeps nothing.
    let tiny = device_with(|c| c.outbox.max_bytes = 100);
    tiny.candor.grant("usage").expect("grant");
    tiny.candor.counter("browser.tabs_opened").add(1);
    tiny.candor.end_day();
    assert!(tiny.candor.pending_reports().is_empty());
    assert_eq!(tiny.candor.error_counts()["*"]["outbox_dropped"], 1);
}

#[test]
fn today_value_is_the_unclamped_sum_of_today_and_never_a_past_day() {
    let d = device_with(|_| {});
    assert_eq!(d.candor.today_value("browser.tabs_opened"), None);
    d.candor.grant("usage").expect("grant");
    d.candor.counter("browser.tabs_opened").add(300);
    // Persisted halfway: today's value adds what is on disk and in memory.
    d.candor.flush();
    d.candor.counter("browser.tabs_opened").add(1_000_000);
    assert_eq!(
        d.candor.today_value("browser.tabs_opened"),
        Some(candor_protocol::MetricValue::Counter(1_000_300)),
        "before the bound of 500 is applied"
    );
    d.candor.labeled_counter("app.opened").add("camera", 2);
    assert_eq!(
        d.candor.today_value("app.opened"),
        Some(candor_protocol::MetricValue::LabeledCounter(
            [("camera".to_owned(), 2)].into()
        ))
    );
    assert_eq!(d.candor.today_value("no.such.metric"), None);
    // The next day starts from nothing; the report carries the bound.
    d.clock.advance(DAY);
    assert_eq!(d.candor.today_value("browser.tabs_opened"), None);
    d.candor.flush();
    let pending = parse(&d.candor.pending_reports()[0]);
    assert_eq!(pending["metrics"]["browser.tabs_opened"]["value"], 500);
}

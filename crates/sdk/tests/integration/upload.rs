use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use candor_protocol::{Opener, batch};
use candor_sdk::{BackoffPolicy, Clock, ReportResult, UploadResponse, Uploader};

use crate::common::{DAY, Device, FakeCollector, device_with, keys, parse};

/// A fake collector whose first answer is "try again in `seconds` s".
fn busy_for(seconds: u64) -> Arc<FakeCollector> {
    let collector = Arc::new(FakeCollector::default());
    collector
        .answers
        .lock()
        .expect("lock")
        .push(UploadResponse::RetryLater {
            retry_after: Some(Duration::from_secs(seconds)),
        });
    collector
}

/// A device with `days` days of usage reports queued.
fn queued(days: i64, uploader: Arc<dyn Uploader>, batch_size: usize) -> Device {
    let d = device_with(|c| {
        c.uploader = Some(uploader);
        c.batch_size = batch_size;
        c.backoff = BackoffPolicy {
            base_seconds: 60,
            max_seconds: 3600,
        };
    });
    d.candor.grant("usage").expect("grant");
    d.candor.grant("diagnostics").expect("grant");
    for _ in 0..days {
        d.candor.counter("browser.tabs_opened").add(1);
        d.candor.counter("diagnostics.app_not_responding").add(1);
        d.clock.advance(DAY);
        d.candor.flush();
    }
    d
}

#[test]
fn retry_after_is_honoured_then_everything_is_sent() {
    let collector = busy_for(120);
    let d = queued(2, collector.clone(), 50);
    let first = d.candor.upload_pending();
    assert_eq!(first.requests, 1);
    assert_eq!(first.remaining, 4);
    let until = first.retry_at.expect("backing off");
    assert_eq!(until - d.clock.now(), 120);

    d.clock.advance(119);
    let waiting = d.candor.upload_pending();
    assert_eq!(waiting.requests, 0, "no request before Retry-After");
    assert_eq!(waiting.retry_at, Some(until));

    d.clock.advance(1);
    let done = d.candor.upload_pending();
    assert_eq!((done.accepted, done.remaining, done.retry_at), (4, 0, None));
    assert_eq!(collector.reports().len(), 4);
}

#[test]
fn failures_back_off_exponentially_with_jitter_and_reset_on_success() {
    let collector = Arc::new(FakeCollector::default());
    for _ in 0..4 {
        collector
            .answers
            .lock()
            .expect("lock")
            .push(UploadResponse::RetryLater { retry_after: None });
    }
    let d = queued(1, collector.clone(), 50);
    let mut delays = Vec::new();
    for _ in 0..4 {
        let s = d.candor.upload_pending();
        let delay = s.retry_at.expect("backing off") - d.clock.now();
        delays.push(delay);
        d.clock.advance(delay);
    }
    // base 60 s doubling, capped at 3600 s; equal jitter keeps each in [d/2, d].
    for (delay, full) in delays.iter().zip([60, 120, 240, 480]) {
        assert!((full / 2..=full).contains(delay), "{delays:?}");
    }
    assert_eq!(d.candor.upload_pending().accepted, 2);
    // Four failed requests, then one per purpose.
    assert_eq!(*collector.requests.lock().expect("lock"), 6);
}

#[test]
fn backoff_survives_a_restart() {
    let collector = busy_for(600);
    let d = queued(1, collector.clone(), 50);
    let until = d.candor.upload_pending().retry_at.expect("backing off");
    drop(d.candor);
    let mut cfg = crate::common::config(d.dir.path(), &d.clock);
    cfg.uploader = Some(collector.clone());
    let candor = candor_sdk::Candor::open(cfg).expect("reopens");
    assert_eq!(candor.upload_pending().retry_at, Some(until));
    assert_eq!(*collector.requests.lock().expect("lock"), 1);
}

#[test]
fn rejected_reports_are_dropped_and_counted_accepted_ones_leave() {
    let collector = Arc::new(FakeCollector::default());
    collector
        .answers
        .lock()
        .expect("lock")
        .push(UploadResponse::Results(vec![
            ReportResult::Accepted,
            ReportResult::Rejected {
                code: "day_out_of_window".into(),
            },
            ReportResult::Duplicate,
        ]));
    let d = queued(3, collector, 50);
    let s = d.candor.upload_pending();
    // diagnostics (3 reports) went first in one request, usage in the next.
    assert_eq!((s.requests, s.accepted, s.rejected), (2, 5, 1));
    assert_eq!(s.remaining, 0);
    assert_eq!(d.candor.sent_reports(30).len(), 5);
    assert_eq!(d.candor.error_counts()["*"]["upload_rejected"], 1);
}

/// Blocks in its first upload until told to go on.
struct SlowUploader {
    started: Mutex<Option<mpsc::Sender<()>>>,
    go: Mutex<mpsc::Receiver<()>>,
    purposes: Mutex<Vec<String>>,
}

impl Uploader for SlowUploader {
    fn upload(&self, region: &str, body: &[u8]) -> UploadResponse {
        let opener = Opener::new(region, [keys()]).expect("key");
        let parts = batch::split_upload(body).expect("upload body");
        for p in &parts {
            let report = opener.open(p).expect("opens");
            self.purposes.lock().expect("lock").push(report.purpose);
        }
        if let Some(tx) = self.started.lock().expect("lock").take() {
            tx.send(()).expect("test waits");
            self.go.lock().expect("lock").recv().expect("test signals");
        }
        UploadResponse::Results(vec![ReportResult::Accepted; parts.len()])
    }
}

#[test]
fn revoking_during_an_upload_stops_that_purpose_at_once() {
    let (started_tx, started_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel();
    let slow = Arc::new(SlowUploader {
        started: Mutex::new(Some(started_tx)),
        go: Mutex::new(go_rx),
        purposes: Mutex::new(Vec::new()),
    });
    // Three days of diagnostics and usage (all within eu's 3-day report
    // window), one report per request.
    let d = queued(3, slow.clone(), 1);
    assert_eq!(d.candor.pending_reports().len(), 6);

    let uploading = {
        let c = d.candor.clone();
        std::thread::spawn(move || c.upload_pending())
    };
    started_rx.recv().expect("first request in flight");
    let in_flight = slow.purposes.lock().expect("lock")[0].clone();
    assert_eq!(in_flight, "diagnostics", "purposes go in id order");

    d.candor.revoke("diagnostics").expect("revoke");
    // At once: nothing of that purpose is queued any more.
    let queued_purposes: Vec<String> = d
        .candor
        .pending_reports()
        .iter()
        .map(|p| parse(p)["purpose"].as_str().expect("purpose").to_owned())
        .collect();
    assert!(
        queued_purposes.iter().all(|p| p == "usage"),
        "{queued_purposes:?}"
    );

    go_tx.send(()).expect("uploader waits");
    let summary = uploading.join().expect("no panic");
    let sent = slow.purposes.lock().expect("lock").clone();
    assert_eq!(
        sent.iter().filter(|p| *p == "diagnostics").count(),
        1,
        "only the request already in flight: {sent:?}"
    );
    assert_eq!(sent.iter().filter(|p| *p == "usage").count(), 3);
    assert_eq!(summary.remaining, 0);
    assert!(d.candor.pending_reports().is_empty());
}

#[test]
fn retry_now_forgets_the_backoff_and_the_next_pass_sends() {
    let collector = busy_for(600);
    let d = queued(1, collector.clone(), 50);
    assert!(d.candor.upload_pending().retry_at.is_some());
    assert_eq!(d.candor.upload_pending().requests, 0, "backing off");
    d.candor.retry_now();
    let done = d.candor.upload_pending();
    // One request per purpose.
    assert_eq!((done.requests, done.accepted, done.remaining), (2, 2, 0));
    assert_eq!(done.retry_at, None);
    // Forgotten on disk too: a restart does not bring the backoff back.
    drop(d.candor);
    let mut cfg = crate::common::config(d.dir.path(), &d.clock);
    cfg.uploader = Some(collector.clone());
    let candor = candor_sdk::Candor::open(cfg).expect("reopens");
    assert_eq!(candor.upload_pending().retry_at, None);
}

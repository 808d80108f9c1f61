//! The pipeline without HTTP or SQLite: a fake sink records what reaches it.

use std::sync::Mutex;

use candor_protocol::{Day, KeyPair, MetricValue, Report, ReportId, batch, seal};
use candor_store::ReportDelta;

use super::*;
use crate::clock::ManualClock;

/// A sink that keeps the deltas it is given and accepts them all.
#[derive(Default)]
struct FakeSink(Mutex<Vec<ReportDelta>>);

impl Sink for FakeSink {
    fn commit(&self, deltas: Vec<ReportDelta>) -> SinkFuture<'_> {
        let n = deltas.len();
        self.0.lock().unwrap().extend(deltas);
        Box::pin(async move { Ok(vec![CommitOutcome::Accepted; n]) })
    }
}

fn pipeline(sink: Arc<FakeSink>) -> (Ingest, KeyPair, Arc<Metrics>) {
    let pair = KeyPair::generate("eu", 1).unwrap();
    let keys = RegionKeys::new(
        "eu",
        vec![crate::keys::KeyEntry {
            pair: pair.clone(),
            retired_at: None,
        }],
        0,
        30,
    )
    .unwrap();
    let (ingest, metrics) = bare();
    (ingest.with_region("eu", keys, sink), pair, metrics)
}

/// A pipeline with the example schema at noon on 2026-11-29, no region yet.
fn bare() -> (Ingest, Arc<Metrics>) {
    let clock = Arc::new(ManualClock::new(crate::test_support::NOON_2026_11_29));
    let config = IngestConfig::default();
    let metrics = Arc::new(Metrics::default());
    let ingest = Ingest::new(
        Arc::new(Registry::new([crate::test_support::example_schema()])),
        Calendar::new(clock, &config),
        config,
        metrics.clone(),
    );
    (ingest, metrics)
}

fn report(tabs: u64) -> Report {
    let mut r = Report::new(
        ReportId::random().unwrap(),
        "org.example.browser",
        3,
        "usage",
        1,
        "eu",
        Day::from_ymd(2026, 11, 29).unwrap(),
    );
    r.dimensions.insert("platform".into(), "android".into());
    r.dimensions.insert("app_version".into(), "121.3".into());
    r.metrics
        .insert("browser.tabs_opened".into(), MetricValue::Counter(tabs));
    r
}

#[tokio::test]
async fn valid_reports_reach_the_sink_and_invalid_ones_do_not() {
    let sink = Arc::new(FakeSink::default());
    let (ingest, pair, metrics) = pipeline(sink.clone());
    let good = seal(&report(12), pair.config()).unwrap();
    // Over the metric's max_per_report (500): refused by validation.
    let bad = seal(&report(501), pair.config()).unwrap();
    let body = batch::encode(&[good.as_slice(), bad.as_slice()]).unwrap();

    let outcomes = ingest.process("eu", &body).await.unwrap();

    assert_eq!(outcomes[0], ReportOutcome::Accepted);
    assert!(
        matches!(&outcomes[1], ReportOutcome::Rejected(r) if r.code() == "value_out_of_bounds")
    );
    let reached = sink.0.lock().unwrap();
    assert_eq!(reached.len(), 1, "only the valid report reaches the sink");
    assert!(
        reached[0]
            .contributions
            .iter()
            .any(|c| c.key.metric == "browser.tabs_opened"
                && c.key.cell.is_empty()
                && c.value == 12)
    );
    assert_eq!(metrics.reports_with("accepted", ""), 1);
    assert_eq!(metrics.reports_with("rejected", "value_out_of_bounds"), 1);
}

#[tokio::test]
async fn a_report_for_another_region_is_refused_before_the_sink() {
    let sink = Arc::new(FakeSink::default());
    let (ingest, _, metrics) = pipeline(sink.clone());
    let us = KeyPair::generate("us", 1).unwrap();
    let mut r = report(3);
    r.region = "us".into();
    let envelope = seal(&r, us.config()).unwrap();

    let outcomes = ingest.process("eu", &envelope).await.unwrap();

    assert_eq!(outcomes, [ReportOutcome::Rejected(Rejection::WrongRegion)]);
    assert!(sink.0.lock().unwrap().is_empty());
    assert_eq!(metrics.reports_with("rejected", "wrong_region"), 1);
    assert!(
        ingest.process("us", &envelope).await.is_err(),
        "us is not served"
    );
}

/// A queue that keeps what it is given, or refuses everything.
#[derive(Default)]
struct FakeQueue {
    held: Mutex<Vec<Vec<u8>>>,
    down: bool,
}

impl Forward for FakeQueue {
    fn publish(&self, envelopes: Vec<Vec<u8>>) -> ForwardFuture<'_> {
        let result = if self.down {
            Err(ForwardError::Unavailable)
        } else {
            self.held.lock().unwrap().extend(envelopes);
            Ok(())
        };
        Box::pin(async move { result })
    }
}

/// A front's pipeline for region eu: public keys only, into `queue`.
fn front(queue: Arc<FakeQueue>, pair: &KeyPair) -> (Ingest, Arc<Metrics>) {
    let keys = crate::keys::PublicKeys::new(
        "eu",
        vec![crate::keys::PublicKeyEntry {
            config: pair.config().clone(),
            retired_at: None,
        }],
        0,
        30,
    );
    let (ingest, metrics) = bare();
    let bad = BadInputLimit::new(2);
    (
        ingest.with_forwarding_region("eu", keys, queue, bad),
        metrics,
    )
}

#[tokio::test]
async fn a_front_forwards_the_sealed_bytes_and_refuses_what_needs_no_key_to_refuse() {
    let queue = Arc::new(FakeQueue::default());
    let pair = KeyPair::generate("eu", 1).unwrap();
    let (ingest, metrics) = front(queue.clone(), &pair);
    let good = seal(&report(12), pair.config()).unwrap();
    // Over max_per_report: only a worker, after opening, can tell.
    let invalid = seal(&report(501), pair.config()).unwrap();
    let other_key = seal(&report(1), KeyPair::generate("eu", 7).unwrap().config()).unwrap();
    let body = batch::encode(&[good.as_slice(), invalid.as_slice(), other_key.as_slice()]).unwrap();

    let outcomes = ingest.process("eu", &body).await.unwrap();

    assert_eq!(
        outcomes,
        [
            ReportOutcome::Queued,
            ReportOutcome::Queued,
            ReportOutcome::Rejected(Rejection::UnknownKey(7))
        ]
    );
    assert_eq!(
        *queue.held.lock().unwrap(),
        [good, invalid],
        "byte for byte, still sealed"
    );
    assert_eq!(metrics.reports_with("queued", ""), 2);
    assert_eq!(metrics.reports_with("rejected", "unknown_key"), 1);
}

#[tokio::test]
async fn a_front_whose_queue_is_down_acknowledges_nothing() {
    let queue = Arc::new(FakeQueue {
        down: true,
        ..FakeQueue::default()
    });
    let pair = KeyPair::generate("eu", 1).unwrap();
    let (ingest, metrics) = front(queue, &pair);
    let body = seal(&report(1), pair.config()).unwrap();

    let refused = ingest.process("eu", &body).await.unwrap_err();

    assert_eq!(refused, Rejection::QueueUnavailable);
    assert!(refused.is_transient(), "answered with Retry-After");
    assert_eq!(metrics.reports_with("rejected", "queue_unavailable"), 1);
    assert_eq!(metrics.reports_with("queued", ""), 0);
}

#[tokio::test]
async fn queued_envelopes_that_fail_to_open_or_validate_are_counted_as_dropped() {
    let sink = Arc::new(FakeSink::default());
    let (ingest, pair, metrics) = pipeline(sink.clone());
    let good = seal(&report(3), pair.config()).unwrap();
    let invalid = seal(&report(501), pair.config()).unwrap();
    let mut corrupt = seal(&report(3), pair.config()).unwrap();
    *corrupt.last_mut().unwrap() ^= 1;

    let outcomes = ingest
        .process_queued(
            "eu",
            &[good.as_slice(), invalid.as_slice(), corrupt.as_slice()],
        )
        .await
        .unwrap();

    assert_eq!(outcomes[0], ReportOutcome::Accepted);
    assert_eq!(
        sink.0.lock().unwrap().len(),
        1,
        "only the valid one is stored"
    );
    assert_eq!(metrics.reports_with("dropped", "value_out_of_bounds"), 1);
    assert_eq!(metrics.reports_with("dropped", "decryption_failed"), 1);
    assert_eq!(metrics.reports_with("rejected", "decryption_failed"), 0);
}

#[tokio::test]
async fn a_front_bounds_the_rate_of_bad_input() {
    let queue = Arc::new(FakeQueue::default());
    let pair = KeyPair::generate("eu", 1).unwrap();
    let (ingest, _) = front(queue.clone(), &pair);
    let stranger = seal(&report(1), KeyPair::generate("eu", 7).unwrap().config()).unwrap();
    for _ in 0..2 {
        assert!(ingest.process("eu", &stranger).await.is_ok());
    }
    // Two refused reports this second (the bound): the next request is
    // refused before its envelopes are looked at, good or not.
    let good = seal(&report(1), pair.config()).unwrap();
    assert_eq!(
        ingest.process("eu", &good).await.unwrap_err(),
        Rejection::Overloaded
    );
    assert!(queue.held.lock().unwrap().is_empty());
}

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
    let schema = crate::test_support::example_schema();
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
    let clock = Arc::new(ManualClock::new(crate::test_support::NOON_2026_11_29));
    let config = IngestConfig::default();
    let metrics = Arc::new(Metrics::default());
    let ingest = Ingest::new(
        Arc::new(Registry::new([schema])),
        Calendar::new(clock, &config),
        config,
        metrics.clone(),
    )
    .with_region("eu", keys, sink);
    (ingest, pair, metrics)
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

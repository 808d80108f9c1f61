//! The sender against the fake collector: counting, percentiles, retries,
//! pacing, time limits and setup errors.

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::time::Duration;

use candor_protocol::{KeyPair, Opener};
use candor_sim::load::{self, Body, LoadConfig, LoadError, LoadStats};

use crate::fake::{Behaviour, FakeCollector, signer};
use crate::{browser_schema, day, validate};

fn config(url: &str, reports: usize, batch_size: usize, connections: usize) -> LoadConfig {
    let mut c = LoadConfig::new(url, signer("eu").verifying_key(), browser_schema(), day());
    c.reports = reports;
    c.batch_size = batch_size;
    c.connections = connections;
    c.progress = false;
    c.timeout = Duration::from_secs(10);
    c
}

fn bodies(reports: usize, batch_size: usize) -> Vec<Body> {
    let keys = KeyPair::generate("eu", 1).expect("key pair");
    let envelopes =
        load::preseal(&browser_schema(), keys.config(), day(), reports, 7, false).expect("sealed");
    load::group(envelopes, batch_size).expect("grouped")
}

/// The bookkeeping identities every run must satisfy.
fn assert_balanced(s: &LoadStats) {
    assert_eq!(
        s.sent,
        s.accepted + s.queued + s.duplicate + s.rejected() + s.unanswered,
        "{s:#?}"
    );
    assert_eq!(s.planned, s.sent + s.unsent, "{s:#?}");
}

#[test]
fn counts_accepted_and_overloaded_requests() {
    let fake = FakeCollector::start(Behaviour {
        overload_every_other: true,
        delay: Duration::from_millis(2),
        ..Behaviour::default()
    });
    let c = config(&fake.url(), 200, 10, 2);
    let stats = load::send(&c, &bodies(200, 10)).expect("runs");
    assert_balanced(&stats);
    assert_eq!(stats.requests, 20);
    assert_eq!(stats.sent, 200);
    assert_eq!(stats.accepted, 100);
    assert_eq!(stats.unanswered, 100);
    assert_eq!(stats.http_errors_by_status, BTreeMap::from([(503, 10)]));
    assert_eq!(
        stats.http_errors_by_code,
        BTreeMap::from([("overloaded".to_owned(), 10)])
    );
    assert_eq!(
        (stats.transport_errors, stats.retries, stats.unsent),
        (0, 0, 0)
    );
    let l = stats.latency;
    assert_eq!(l.samples, 20);
    assert!(l.p50_us >= 2_000, "the fake waits 2 ms: {l:?}");
    assert!(l.p50_us <= l.p95_us && l.p95_us <= l.p99_us && l.p99_us <= l.max_us);
    assert!(stats.accepted_per_sec > 0.0);
    // Keep-alive: one connection per sending thread, not one per request.
    assert!(
        fake.connections() <= 2,
        "{} connections",
        fake.connections()
    );
    let text = stats.to_string();
    assert!(text.contains("503: 10"), "{text}");
    assert!(text.contains("overloaded: 10"), "{text}");
    let json: serde_json::Value = serde_json::to_value(&stats).expect("serializes");
    assert_eq!(json["http_errors_by_status"]["503"], 10);
    assert_eq!(json["accepted"], 100);
    assert!(json["latency"]["p99_us"].as_u64().is_some());
}

#[test]
fn retries_honour_retry_after() {
    let fake = FakeCollector::start(Behaviour {
        overload_every_other: true,
        ..Behaviour::default()
    });
    // One connection: the fake's 503s then strictly alternate with 202s, so
    // every body is accepted on its first retry.
    let mut c = config(&fake.url(), 200, 10, 1);
    c.retries = 2;
    let stats = load::send(&c, &bodies(200, 10)).expect("runs");
    assert_balanced(&stats);
    assert_eq!(stats.accepted, 200);
    assert_eq!(stats.unanswered, 0);
    assert_eq!(stats.requests, 20 + stats.retries);
    assert_eq!(stats.http_errors_by_status.get(&503), Some(&stats.retries));
    assert!(stats.retries >= 9, "{stats:#?}");
}

#[test]
fn rate_limit_paces_the_run() {
    let fake = FakeCollector::start(Behaviour::default());
    let mut c = config(&fake.url(), 200, 10, 2);
    c.rate = Some(400.0);
    let stats = load::send(&c, &bodies(200, 10)).expect("runs");
    assert_balanced(&stats);
    assert_eq!(stats.accepted, 200);
    // 20 bodies, one every 25 ms: the last starts at 475 ms. Never faster
    // than the target; the upper bound is loose for a busy machine.
    let secs = stats.elapsed.as_secs_f64();
    assert!(secs >= 0.45, "too fast: {secs} s");
    assert!(secs < 5.0, "far too slow: {secs} s");
    assert_eq!(stats.target_rate, Some(400.0));
}

#[test]
fn time_limit_stops_the_run() {
    let fake = FakeCollector::start(Behaviour::default());
    let mut c = config(&fake.url(), 1_000, 10, 2);
    c.rate = Some(100.0);
    c.duration_limit = Some(Duration::from_millis(300));
    let stats = load::send(&c, &bodies(1_000, 10)).expect("runs");
    assert_balanced(&stats);
    assert!(stats.stopped_by_time_limit);
    assert!(stats.unsent > 0 && stats.sent > 0, "{stats:#?}");
    assert!(
        stats.sent <= 40,
        "about 30 reports fit in 300 ms: {stats:#?}"
    );
    assert!(stats.elapsed < Duration::from_secs(3));
    assert!(stats.to_string().contains("time limit"));
}

#[test]
fn refused_reports_are_counted_by_code() {
    let keys = KeyPair::generate("eu", 1).expect("key pair");
    let opener = Opener::new("eu", [keys.clone()]).expect("opener");
    let fake = FakeCollector::start(Behaviour {
        opener: Some(opener),
        reject_every: Some(4),
        ..Behaviour::default()
    });
    let envelopes =
        load::preseal(&browser_schema(), keys.config(), day(), 40, 1, false).expect("sealed");
    // Batches: every 4th report is refused inside a 202.
    let c = config(&fake.url(), 40, 8, 2);
    let stats = load::send(&c, &load::group(envelopes.clone(), 8).expect("grouped")).expect("runs");
    assert_balanced(&stats);
    assert_eq!(stats.accepted, 30);
    assert_eq!(
        stats.rejected_by_code,
        BTreeMap::from([("test_reject".to_owned(), 10)])
    );
    assert!(stats.http_errors_by_status.is_empty());
    // Sending the same reports again: the collector counts them as duplicates
    // (and rejects every 4th again).
    let stats = load::send(&c, &load::group(envelopes.clone(), 8).expect("grouped")).expect("runs");
    assert_balanced(&stats);
    assert_eq!((stats.accepted, stats.duplicate), (0, 30));

    // Bare envelopes: a refusal comes as a problem+json answer.
    let c1 = config(&fake.url(), 40, 1, 2);
    let stats = load::send(&c1, &load::group(envelopes, 1).expect("grouped")).expect("runs");
    assert_balanced(&stats);
    assert_eq!(stats.requests, 40);
    assert_eq!(stats.duplicate, 30);
    assert_eq!(
        stats.rejected_by_code,
        BTreeMap::from([("test_reject".to_owned(), 10)])
    );
    assert_eq!(stats.http_errors_by_status, BTreeMap::from([(422, 10)]));
}

#[test]
fn transport_errors_are_counted() {
    // A port that was just free: connections are refused.
    let addr = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let c = config(&format!("http://{addr}"), 30, 10, 2);
    let stats = load::send(&c, &bodies(30, 10)).expect("runs");
    assert_balanced(&stats);
    assert_eq!(stats.transport_errors, 3);
    assert_eq!(stats.unanswered, 30);
    assert_eq!(stats.latency.samples, 0);
    assert!(stats.first_transport_error.is_some());
    assert!(stats.to_string().contains("transport errors"));
}

#[test]
fn run_end_to_end_with_the_real_protocol() {
    let old = KeyPair::generate("eu", 1).expect("key pair");
    let current = KeyPair::generate("eu", 2).expect("key pair");
    let other = KeyPair::generate("us", 9).expect("key pair");
    // The fake holds only the preferred key (first of the signed list):
    // anything sealed to key 1 would come back as unknown_key.
    let opener = Opener::new("eu", [current.clone()]).expect("opener");
    let fake = FakeCollector::start(Behaviour {
        keys: vec![
            current.config().clone(),
            old.config().clone(),
            other.config().clone(),
        ],
        opener: Some(opener),
        ..Behaviour::default()
    });
    let c = config(&fake.url(), 300, 50, 3);
    let stats = load::run(&c).expect("runs");
    assert_balanced(&stats);
    assert_eq!(stats.accepted, 300, "{stats:#?}");
    assert_eq!(stats.requests, 6);
    assert!(stats.seal_elapsed > Duration::ZERO);
    let opened = fake.opened();
    assert_eq!(opened.len(), 300);
    let schema = browser_schema();
    let ids: BTreeSet<_> = opened.iter().map(|r| r.report_id).collect();
    assert_eq!(ids.len(), 300);
    for r in &opened {
        validate::check(&schema, r, "eu", day()).expect("valid");
    }
    assert_eq!(fake.uploads(), 6);
}

#[test]
fn setup_errors() {
    let fake = FakeCollector::start(Behaviour::default());
    // No keys listed: no list is served.
    let err = load::run(&config(&fake.url(), 10, 5, 1)).expect_err("no key");
    assert!(matches!(err, LoadError::FetchKeys { .. }), "{err}");
    // Not a collector.
    let err = load::fetch_key(
        &format!("{}/nothing", fake.url()),
        &signer("eu").verifying_key(),
        Duration::from_secs(5),
    )
    .expect_err("404");
    assert!(matches!(err, LoadError::FetchKeys { .. }), "{err}");
    assert!(err.to_string().contains("404"), "{err}");
    // Bad numbers are refused before anything is sent.
    for change in [
        |c: &mut LoadConfig| c.batch_size = 0,
        |c: &mut LoadConfig| c.batch_size = 1_001,
        |c: &mut LoadConfig| c.connections = 0,
        |c: &mut LoadConfig| c.rate = Some(0.0),
        |c: &mut LoadConfig| c.rate = Some(f64::NAN),
    ] {
        let mut c = config(&fake.url(), 10, 5, 1);
        change(&mut c);
        let err = load::run(&c).expect_err("invalid");
        assert!(matches!(err, LoadError::InvalidConfig(_)), "{err}");
    }
    assert_eq!(fake.uploads(), 0);
}

#[test]
fn fetch_key_takes_the_first_key_of_a_list_signed_by_the_regions_key() {
    let keys: Vec<_> = [("eu", 7), ("eu", 3), ("us", 9)]
        .into_iter()
        .map(|(r, id)| KeyPair::generate(r, id).expect("key pair").config().clone())
        .collect();
    let fake = FakeCollector::start(Behaviour {
        keys: keys.clone(),
        ..Behaviour::default()
    });
    let url = format!("{}/", fake.url());
    let key = load::fetch_key(&url, &signer("eu").verifying_key(), Duration::from_secs(5))
        .expect("fetched");
    assert_eq!(key, keys[0]);
    // Signed by another key than the one pinned: refused.
    let other = candor_protocol::SigningKey::from_seed("eu", [6; 32]).expect("key");
    let err =
        load::fetch_key(&url, &other.verifying_key(), Duration::from_secs(5)).expect_err("refused");
    assert!(
        matches!(
            err,
            LoadError::KeyListRefused {
                code: "bad_signature",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_fronts_queued_answers_are_counted_as_queued() {
    let fake = FakeCollector::start(Behaviour {
        front: true,
        reject_every: Some(50),
        ..Behaviour::default()
    });
    let c = config(&fake.url(), 100, 10, 2);
    let stats = load::send(&c, &bodies(100, 10)).expect("runs");
    assert_balanced(&stats);
    assert_eq!((stats.queued, stats.accepted), (98, 0), "{stats:#?}");
    assert_eq!(stats.rejected(), 2);
    assert!(stats.to_string().contains("queued"), "{stats}");
}

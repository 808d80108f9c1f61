//! Scale-out over the real NATS JetStream (`candor_testkit::NATS`): a
//! `front` answers `queued` only once the stream holds the envelopes, a
//! `worker` commits them and the counts appear, what fails to open or
//! validate after queueing is counted and dropped, a message delivered
//! twice is counted once, and an unreachable queue is `queue_unavailable`.
//!
//! Each test uses its own stream prefix and deletes its streams.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use candor_collector::clock::ManualClock;
use candor_collector::queue::Role;
use candor_collector::{Collector, Config, Running, StartError, keys};
use candor_protocol::{Day, KeyConfig, KeyPair, Report, batch, seal};
use candor_store::RowFilter;

use crate::common::{NOON, agent, open_store, post_raw, schema};

/// A stream prefix no other test (or run) uses.
fn prefix(test: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "t{}_{}_{test}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A runtime for the collectors of one test and the NATS client that
/// inspects and deletes its stream.
pub(crate) struct Bench {
    pub(crate) rt: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    url: String,
    prefix: String,
    pub(crate) key: KeyConfig,
}

impl Bench {
    /// None (skipped, loudly) when NATS is absent.
    pub(crate) fn new(test: &str) -> Option<Bench> {
        let url = candor_testkit::NATS.get(test)?;
        let dir = tempfile::tempdir().expect("tempdir");
        // Fronts and workers never generate keys: `candor keygen` first.
        let key = keys::generate(&dir.path().join("eu").join("keys"), "eu", None).expect("keygen");
        Some(Bench {
            rt: runtime(),
            dir,
            url,
            prefix: prefix(test),
            key,
        })
    }

    pub(crate) fn start(&self, role: Role) -> Running {
        self.start_with(role, |_| {})
    }

    pub(crate) fn start_with(&self, role: Role, tweak: impl FnOnce(&mut Config)) -> Running {
        start_with(
            &self.rt,
            self.dir.path(),
            role,
            &self.url,
            &self.prefix,
            tweak,
        )
        .expect("starts")
    }

    pub(crate) fn js(&self) -> jetstream::Context {
        // The context spawns its acknowledgement task on this runtime.
        let _inside = self.rt.enter();
        let client = self
            .rt
            .block_on(async_nats::connect(self.url.as_str()))
            .expect("nats");
        jetstream::new(client)
    }

    /// The region's stream's name.
    pub(crate) fn stream_name(&self) -> String {
        format!("{}_EU", self.prefix)
    }

    /// Messages in the region's stream now.
    pub(crate) fn messages(&self) -> u64 {
        let js = self.js();
        let name = self.stream_name();
        self.rt.block_on(async {
            let mut stream = js.get_stream(&name).await.expect("stream exists");
            stream.info().await.expect("info").state.messages
        })
    }

    /// Publishes raw envelopes to the region's subject, as a front would
    /// (each with its own message id), bypassing the front's checks.
    fn publish_raw(&self, envelopes: &[(Vec<u8>, String)]) {
        let js = self.js();
        let subject = format!("{}.eu.envelopes", self.prefix);
        self.rt.block_on(async {
            for (e, id) in envelopes {
                let m = jetstream::message::PublishMessage::build()
                    .payload(e.clone().into())
                    .message_id(id);
                js.send_publish(subject.clone(), m)
                    .await
                    .expect("publish")
                    .await
                    .expect("ack");
            }
        });
    }

    pub(crate) fn stop(&self, running: Running) {
        self.rt.block_on(running.shutdown());
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        let js = self.js();
        let name = self.stream_name();
        let _ = self.rt.block_on(js.delete_stream(&name));
    }
}

fn start(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    role: Role,
    url: &str,
    prefix: &str,
) -> Result<Running, StartError> {
    start_with(rt, dir, role, url, prefix, |_| {})
}

fn start_with(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    role: Role,
    url: &str,
    prefix: &str,
    tweak: impl FnOnce(&mut Config),
) -> Result<Running, StartError> {
    let mut config = Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: dir.to_owned(),
        regions: vec!["eu".into()],
        role,
        ..Config::default()
    };
    config.queue.url = url.to_owned();
    config.queue.stream_prefix = prefix.to_owned();
    config.queue.worker_max_wait_ms = 50;
    config.queue.publish_timeout_ms = 700;
    tweak(&mut config);
    rt.block_on(Collector::start(
        config,
        vec![schema()],
        Arc::new(ManualClock::new(NOON)),
        std::future::pending(),
    ))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn usage(tabs: u64) -> Report {
    crate::common::usage(Day::from_ymd(2026, 11, 29).expect("day"), tabs)
}

/// The stored sum of `browser.tabs_opened` in the data directory.
fn tabs_sum(dir: &Path) -> i64 {
    open_store(dir, "eu")
        .rows(&RowFilter::default())
        .expect("rows")
        .iter()
        .filter(|r| r.key.metric == "browser.tabs_opened" && r.key.cell.is_empty())
        .map(|r| r.sum)
        .sum()
}

/// Waits (up to 30 s) until `done` holds.
pub(crate) fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn statuses(answer: &crate::common::Answer) -> Vec<String> {
    answer.json["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            let status = r["status"].as_str().unwrap_or_default();
            match r["code"].as_str() {
                Some(code) => format!("{status}:{code}"),
                None => status.to_owned(),
            }
        })
        .collect()
}

#[test]
fn a_front_answers_queued_only_once_the_stream_holds_the_envelopes() {
    let Some(bench) = Bench::new("front_queued") else {
        return;
    };
    let front = bench.start(Role::Front);
    let url = format!("http://{}", front.addr);
    let unknown = KeyPair::generate("eu", 9).expect("key");
    let body = batch::encode(&[
        seal(&usage(1), &bench.key).expect("seal"),
        seal(&usage(2), &bench.key).expect("seal"),
        seal(&usage(3), unknown.config()).expect("seal"),
    ])
    .expect("batch");

    let answer = post_raw(&url, "eu", &body, &[]);
    assert_eq!(answer.status, 202, "{answer:?}");
    assert_eq!(
        statuses(&answer),
        ["queued", "queued", "rejected:unknown_key"]
    );
    assert_eq!(
        bench.messages(),
        2,
        "the 202 came after the stream held both"
    );

    // A client's retry of the same request: acknowledged again, stored once.
    let again = post_raw(&url, "eu", &body, &[]);
    assert_eq!(
        statuses(&again),
        ["queued", "queued", "rejected:unknown_key"]
    );
    assert_eq!(bench.messages(), 2, "de-duplicated by message id");

    let ready = agent()
        .get(&format!("{url}/readyz"))
        .call()
        .expect("readyz");
    assert_eq!(ready.status(), 200);
    let c = &front.collector;
    assert_eq!(c.metrics().reports_with("queued", ""), 4);
    assert_eq!(c.metrics().reports_with("rejected", "unknown_key"), 2);
    assert_eq!(
        c.queue()
            .and_then(|q| q.stats("eu"))
            .map(|s| s.published.load(Ordering::Relaxed)),
        Some(4)
    );
    // A front stores nothing: no database, no lock in the data directory.
    assert!(!bench.dir.path().join(candor_collector::LOCK_FILE).exists());
    assert!(
        !bench
            .dir
            .path()
            .join("eu")
            .join("aggregates.sqlite")
            .exists()
    );
    bench.stop(front);
}

#[test]
fn a_worker_commits_what_the_front_queued_and_drops_what_fails_to_open_or_validate() {
    let Some(bench) = Bench::new("worker_commits") else {
        return;
    };
    let front = bench.start(Role::Front);
    let worker = bench.start(Role::Worker);
    let url = format!("http://{}", front.addr);
    for _ in 0..3 {
        let envelopes: Vec<Vec<u8>> = (0..10)
            .map(|_| seal(&usage(1), &bench.key).expect("seal"))
            .collect();
        let answer = post_raw(&url, "eu", &batch::encode(&envelopes).expect("batch"), &[]);
        assert_eq!(answer.status, 202, "{answer:?}");
    }
    // Passes the front (right region and key) but cannot be opened.
    let mut corrupt = seal(&usage(1), &bench.key).expect("seal");
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0x55;
    // Opens, but breaks a value rule (over max_per_report, 500).
    let invalid = seal(&usage(501), &bench.key).expect("seal");
    let answer = post_raw(
        &url,
        "eu",
        &batch::encode(&[corrupt, invalid]).expect("batch"),
        &[],
    );
    assert_eq!(statuses(&answer), ["queued", "queued"]);

    let m = worker.collector.metrics();
    eventually("the worker committed and dropped everything", || {
        m.reports_with("accepted", "") == 30
            && m.reports_with("dropped", "decryption_failed") == 1
            && m.reports_with("dropped", "value_out_of_bounds") == 1
    });
    eventually("the stream is empty", || bench.messages() == 0);
    let text = worker.collector.render_metrics();
    assert!(
        text.contains("candor_queue_pulled_total{region=\"eu\"} 32"),
        "{text}"
    );
    let worker_url = format!("http://{}", worker.addr);
    let upload = post_raw(&worker_url, "eu", b"x", &[]);
    assert_eq!(
        upload.status, 404,
        "a worker serves no device-facing ingest"
    );
    bench.stop(worker);
    bench.stop(front);
    assert_eq!(
        tabs_sum(bench.dir.path()),
        30,
        "only the valid reports are stored"
    );
}

#[test]
fn a_message_delivered_twice_is_counted_once() {
    let Some(bench) = Bench::new("redelivered") else {
        return;
    };
    // The same envelope twice under different message ids: what a worker
    // sees when it crashed after its commit and before its ack.
    let envelope = seal(&usage(7), &bench.key).expect("seal");
    let worker = bench.start(Role::Worker);
    // The worker declares the stream and its consumer as it starts pulling.
    eventually("the worker's consumer is up", || {
        bench.rt.block_on(worker.collector.ready()).is_ok()
    });
    bench.publish_raw(&[
        (envelope.clone(), "first".into()),
        (envelope, "second".into()),
    ]);
    let m = worker.collector.metrics();
    eventually("both deliveries were processed", || {
        m.reports_with("accepted", "") + m.reports_with("duplicate", "") == 2
    });
    assert_eq!(m.reports_with("accepted", ""), 1);
    assert_eq!(m.reports_with("duplicate", ""), 1);
    eventually("the stream is empty", || bench.messages() == 0);
    bench.stop(worker);
    assert_eq!(tabs_sum(bench.dir.path()), 7);
}

#[test]
fn an_unreachable_queue_is_queue_unavailable_with_retry_after() {
    // Nothing listens on port 1: no NATS is needed for this test.
    let dir = tempfile::tempdir().expect("tempdir");
    let key = keys::generate(&dir.path().join("eu").join("keys"), "eu", None).expect("keygen");
    let rt = runtime();
    let front = start(
        &rt,
        dir.path(),
        Role::Front,
        "nats://127.0.0.1:1",
        "unreachable",
    )
    .expect("starts");
    let url = format!("http://{}", front.addr);
    let answer = post_raw(&url, "eu", &seal(&usage(1), &key).expect("seal"), &[]);
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(answer.json["code"], "queue_unavailable");
    assert_eq!(answer.retry_after.as_deref(), Some("5"));
    let ready = agent()
        .get(&format!("{url}/readyz"))
        .call()
        .expect("readyz");
    assert_eq!(ready.status(), 503);
    assert_eq!(
        front
            .collector
            .metrics()
            .reports_with("rejected", "queue_unavailable"),
        1
    );
    rt.block_on(front.shutdown());
}

#[test]
fn fronts_and_workers_never_generate_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = runtime();
    for role in [Role::Front, Role::Worker] {
        let Err(error) = start(&rt, dir.path(), role, "nats://127.0.0.1:1", "nokeys") else {
            panic!("a {role} started without keys");
        };
        assert!(matches!(error, StartError::NoKeys { .. }), "{error}");
        assert!(error.to_string().contains("candor keygen"), "{error}");
    }
    assert!(
        keys::load(&dir.path().join("eu").join("keys"))
            .expect("load")
            .is_empty()
    );
}

/// Two workers sharing a region's PostgreSQL store behind one front (no
/// data-directory lock between them), with the same envelope queued twice:
/// every report counted once, whichever worker took it.
#[cfg(feature = "postgres")]
#[test]
fn two_workers_on_postgres_count_every_report_once() {
    let Some(pg) = candor_testkit::POSTGRES.get("two workers on PostgreSQL") else {
        return;
    };
    let Some(bench) = Bench::new("two_workers") else {
        return;
    };
    let ns = crate::common::Namespace::new(&pg);
    let on_pg = |c: &mut Config| {
        ns.configure(c, &pg);
        c.queue.worker_batch = 7;
        c.queue.worker_pullers = 2;
    };
    let workers = [
        bench.start_with(Role::Worker, on_pg),
        bench.start_with(Role::Worker, on_pg),
    ];
    for w in &workers {
        eventually("the worker's consumer is up", || {
            bench.rt.block_on(w.collector.ready()).is_ok()
        });
    }
    let front = bench.start(Role::Front);
    let url = format!("http://{}", front.addr);
    for _ in 0..4 {
        let envelopes: Vec<Vec<u8>> = (0..25)
            .map(|_| seal(&usage(1), &bench.key).expect("seal"))
            .collect();
        let answer = post_raw(&url, "eu", &batch::encode(&envelopes).expect("batch"), &[]);
        assert_eq!(answer.status, 202, "{answer:?}");
    }
    let twice = seal(&usage(1), &bench.key).expect("seal");
    bench.publish_raw(&[(twice.clone(), "one".into()), (twice, "two".into())]);
    let count = |outcome: &str| -> u64 {
        workers
            .iter()
            .map(|w| w.collector.metrics().reports_with(outcome, ""))
            .sum()
    };
    eventually("both workers drained the stream", || {
        count("accepted") + count("duplicate") == 102
    });
    assert_eq!((count("accepted"), count("duplicate")), (101, 1));
    let stored: i64 = ns
        .store()
        .open_region_read_only("eu")
        .expect("store")
        .report_counts()
        .expect("counts")
        .iter()
        .map(|c| c.reports)
        .sum();
    assert_eq!(stored, 101);
    for w in workers {
        bench.stop(w);
    }
    bench.stop(front);
}

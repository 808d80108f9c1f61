//! `candor serve` as a process: crash safety under load, and clean shutdown.
//!
//! The crash test sends batches from 4 threads, SIGKILLs the server in the
//! middle, restarts it on the same data directory, and retries every batch
//! that got no 202. Each report adds 1 to `browser.tabs_opened`, so the
//! stored sum must equal the number of distinct reports: every report
//! acknowledged before the crash was durable (counted once), and every retry
//! of a report that may or may not have been committed was counted at most
//! once (dedup by report id).
//!
//! The helpers here (a free port, an HTTP agent, starting and stopping the
//! server, sealing and posting reports) are shared by the `token`, `query`
//! and `audit` tests.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;

use crate::files_under;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use candor_protocol::{Day, KeyConfig, MetricValue, Report, ReportId, batch, seal};
use candor_time::{Clock, SystemClock};

/// A port nobody listens on right now.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// An agent that returns 4xx/5xx answers instead of errors.
pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// Starts `candor serve` on 127.0.0.1:`port` with data in `dir`, its output
/// discarded, and waits until it is ready.
pub(crate) fn start(dir: &Path, port: u16) -> Child {
    start_with(dir, port, Stdio::null(), Stdio::null(), &[])
}

/// Like [`start`], with the server's stdout and stderr going to the given
/// places and extra environment variables.
pub(crate) fn start_with(
    dir: &Path,
    port: u16,
    stdout: Stdio,
    stderr: Stdio,
    env: &[(&str, &str)],
) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_candor"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir)
        .envs(env.iter().copied())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .expect("candor serve starts");
    ready(child, port)
}

/// Waits until the `candor serve` in `child` answers `/readyz` on `port`
/// with 200; kills it and fails the test after 20 s.
pub(crate) fn ready(child: Child, port: u16) -> Child {
    ready_at(child, &agent(), &format!("http://127.0.0.1:{port}"))
}

/// Like [`ready`], for the server at `base` reached with `agent` (an
/// HTTPS server and an agent that trusts its CA).
pub(crate) fn ready_at(mut child: Child, agent: &ureq::Agent, base: &str) -> Child {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(r) = agent.get(&format!("{base}/readyz")).call()
            && r.status() == 200
        {
            return child;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("candor serve did not become ready");
}

/// Stops a server with SIGTERM and asserts it exits 0.
pub(crate) fn stop(mut server: Child) {
    let pid = server.id().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill -TERM");
    let status = server.wait().expect("exits");
    assert!(status.success(), "SIGTERM exits 0: {status:?}");
}

/// The preferred public key of region eu: the first of the served signed
/// list (its signature is checked by the collector's and SDK's own tests).
pub(crate) fn key(port: u16) -> KeyConfig {
    let text = agent()
        .get(&format!("http://127.0.0.1:{port}/v1/regions/eu/keys"))
        .call()
        .expect("keys")
        .into_body()
        .read_to_string()
        .expect("body");
    let signed = candor_protocol::SignedKeyList::from_json(text.as_bytes()).expect("a signed list");
    let list: candor_protocol::KeyList = serde_json::from_str(&signed.payload).expect("payload");
    list.keys[0].clone()
}

/// Today (UTC).
pub(crate) fn today() -> Day {
    SystemClock.today()
}

/// Days before today (UTC).
pub(crate) fn days_ago(n: i64) -> Day {
    today().add_days(-n).expect("day")
}

/// A fresh usage report of region eu for `day` with `metric` = `value` and
/// the given dimensions.
fn usage_report(
    day: Day,
    metric: &str,
    value: &MetricValue,
    dimensions: &[(&str, &str)],
) -> Report {
    let mut r = Report::new(
        ReportId::random().expect("random"),
        "org.example.browser",
        3,
        "usage",
        1,
        "eu",
        day,
    );
    r.dimensions = dimensions
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect::<BTreeMap<_, _>>();
    r.metrics.insert(metric.into(), value.clone());
    r
}

/// Seals `n` distinct usage reports of region eu for `day`, each with
/// `metric` = `value` and the given dimensions, as one batch.
pub(crate) fn usage_batch(
    key: &KeyConfig,
    day: Day,
    n: usize,
    metric: &str,
    value: &MetricValue,
    dimensions: &[(&str, &str)],
) -> Vec<u8> {
    let envelopes: Vec<Vec<u8>> = (0..n)
        .map(|_| seal(&usage_report(day, metric, value, dimensions), key).expect("seal"))
        .collect();
    batch::encode(&envelopes).expect("batch")
}

/// POSTs a report body to region eu; the status, if an answer came.
pub(crate) fn post(port: u16, body: &[u8]) -> Option<u16> {
    agent()
        .post(&format!("http://127.0.0.1:{port}/v1/regions/eu/reports"))
        .header("content-type", "application/vnd.candor.report")
        .send(body)
        .ok()
        .map(|r| r.status().as_u16())
}

/// Stores `n` usage reports of region eu for `day`, each with `metric` =
/// `value` and the given dimensions, straight into the region's database
/// under `data`, reduced by the collector's own validation as ingest
/// reduces them. This is how the tests get data for *closed* days: a
/// running collector refuses reports for them, and releases nothing else.
/// Call it before `start` (the collector then owns the database).
pub(crate) fn seed(
    data: &Path,
    day: Day,
    n: usize,
    metric: &str,
    value: &MetricValue,
    dimensions: &[(&str, &str)],
) {
    let src = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/browser.toml"),
    )
    .expect("the example schema");
    let schema = candor_schema::parse(&src, "browser.toml", day.date())
        .expect("valid")
        .schema;
    let registry = candor_collector::validate::Registry::new([schema]);
    let window = candor_collector::validate::DayWindow {
        today: day.number(),
        past_override: None,
        future: 0,
    };
    let deltas: Vec<_> = (0..n)
        .map(|_| {
            let r = usage_report(day, metric, value, dimensions);
            candor_collector::validate::to_delta(&registry, &r, window, day.date())
                .expect("a valid report")
        })
        .collect();
    let mut store = candor_store::StoreConfig::sqlite(data)
        .open_region("eu")
        .expect("the region's database");
    candor_store::Store::commit(&mut store, &deltas).expect("commit");
}

/// The stored sum of `browser.tabs_opened` in region eu of the SQLite
/// data directory `dir` (the collector stopped).
pub(crate) fn tabs_sum(dir: &Path) -> i64 {
    let store = candor_store::StoreConfig::sqlite(dir)
        .open_region("eu")
        .expect("database opens after the crash");
    candor_store::Store::rows(&store, &Default::default())
        .expect("rows")
        .iter()
        .filter(|r| {
            r.key.metric == "browser.tabs_opened" && r.key.cell != candor_store::REPORTS_CELL
        })
        .map(|r| r.sum)
        .sum()
}

#[test]
fn kill_9_during_load_loses_no_acknowledged_report_and_counts_retries_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let port = free_port();
    let mut server = start(&dir, port);
    let key = key(port);
    let day = today();
    // 400 batches of 10 distinct reports.
    let bodies: Vec<Vec<u8>> = (0..400)
        .map(|_| {
            usage_batch(
                &key,
                day,
                10,
                "browser.tabs_opened",
                &MetricValue::Counter(1),
                &[],
            )
        })
        .collect();
    let acked = Arc::new(Mutex::new(vec![false; bodies.len()]));
    let next = Arc::new(Mutex::new(0usize));
    std::thread::scope(|s| {
        for _ in 0..4 {
            let (acked, next, bodies) = (acked.clone(), next.clone(), &bodies);
            s.spawn(move || {
                loop {
                    let i = {
                        let mut n = next.lock().expect("lock");
                        let i = *n;
                        *n += 1;
                        i
                    };
                    if i >= bodies.len() {
                        return;
                    }
                    if post(port, &bodies[i]) == Some(202) {
                        acked.lock().expect("lock")[i] = true;
                    }
                }
            });
        }
        // Kill the server while the senders are busy.
        let deadline = Instant::now() + Duration::from_secs(30);
        while *next.lock().expect("lock") < 120 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        server.kill().expect("SIGKILL");
        server.wait().expect("reaped");
    });
    let acked_before = acked.lock().expect("lock").iter().filter(|a| **a).count();
    assert!(
        acked_before > 0,
        "some batches were acknowledged before the crash"
    );
    assert!(acked_before < bodies.len(), "the crash interrupted the run");
    // Everything acknowledged before the crash is on disk.
    assert!(tabs_sum(&dir) >= 10 * acked_before as i64);

    // Restart and retry every batch that got no 202 (some may have been
    // committed before the kill without their answer getting out).
    let server = start(&dir, port);
    for (i, body) in bodies.iter().enumerate() {
        if !acked.lock().expect("lock")[i] {
            assert_eq!(post(port, body), Some(202), "retry of batch {i}");
        }
    }
    // Graceful stop: SIGTERM, exit 0.
    stop(server);
    assert_eq!(
        tabs_sum(&dir),
        10 * bodies.len() as i64,
        "each report counted exactly once"
    );
}

#[test]
fn a_second_serve_on_one_data_directory_refuses_and_the_first_keeps_serving() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let first = start(dir.path(), port);
    let before = files_under(dir.path());
    let other_port = free_port();
    let second = Command::new(env!("CARGO_BIN_EXE_candor"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{other_port}"),
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .expect("runs");
    assert!(!second.status.success(), "the second serve must fail");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("in use by another collector") && stderr.contains("collector.lock"),
        "{stderr}"
    );
    // The second one never listened and changed nothing.
    assert!(std::net::TcpStream::connect(("127.0.0.1", other_port)).is_err());
    assert_eq!(files_under(dir.path()), before);
    // The first still serves and accepts reports.
    let body = usage_batch(
        &key(port),
        today(),
        1,
        "browser.tabs_opened",
        &MetricValue::Counter(1),
        &[],
    );
    assert_eq!(post(port, &body), Some(202));
    stop(first);
    // Once it stopped, the directory can be served again.
    let again = start(dir.path(), port);
    stop(again);
}

#[test]
fn serve_on_a_taken_port_creates_nothing() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let parent = tempfile::tempdir().expect("tempdir");
    let data = parent.path().join("data");
    let out = Command::new(env!("CARGO_BIN_EXE_candor"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(&data)
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot listen"), "{stderr}");
    assert!(!data.exists(), "the data directory was created");
    assert_eq!(std::fs::read_dir(parent.path()).expect("dir").count(), 0);
    drop(taken);
}

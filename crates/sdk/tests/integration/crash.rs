//! Crash safety: a child process records, persists, seals and uploads in a
//! tight loop and is killed with SIGKILL at random moments; after each kill
//! the data directory must reopen, and across all runs no (purpose, day) may
//! reach the collector under two report ids, and no report may be sent again
//! once the device had recorded it as accepted.
//!
//! The child is this same test binary, re-run with `CANDOR_CRASH_CHILD` set.
//! Its clock runs 1000× real time (a simulated day every 86 ms) so that
//! days end, and reports are sealed, many times per run.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use candor_protocol::{Opener, batch};
use candor_sdk::{Candor, Clock, ReportResult, UploadResponse, Uploader};

use crate::common::{NOON, config, keys};

const CHILD: &str = "CANDOR_CRASH_CHILD";
const BASE: &str = "CANDOR_CRASH_BASE_MS";

fn real_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Simulated time: NOON plus 1000 simulated seconds per real millisecond
/// since the test started; monotone across child processes.
struct FastClock(i64);

impl Clock for FastClock {
    fn now(&self) -> i64 {
        NOON + (real_ms() - self.0) * 1000
    }
}

/// A collector that appends every report it receives to a log (fsynced
/// before answering), and flags a report that the device had already
/// recorded as sent.
struct LoggingCollector {
    log: PathBuf,
    sent_dir: PathBuf,
}

impl Uploader for LoggingCollector {
    fn upload(&self, region: &str, body: &[u8]) -> UploadResponse {
        let opener = Opener::new(region, [keys()]).expect("key");
        let Ok(parts) = batch::split_upload(body) else {
            return UploadResponse::Rejected {
                code: "malformed".into(),
            };
        };
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log");
        let mut results = Vec::new();
        for part in parts {
            let r = opener.open(part).expect("every queued envelope opens");
            let already_sent = self
                .sent_dir
                .join(format!("{}.{}.json", r.day, r.purpose))
                .exists();
            let flag = if already_sent { " RESENT" } else { "" };
            writeln!(
                log,
                "{} {} {}{flag}",
                r.report_id.to_hex(),
                r.purpose,
                r.day
            )
            .expect("log");
            results.push(ReportResult::Accepted);
        }
        log.sync_all().expect("fsync log");
        UploadResponse::Results(results)
    }
}

fn open(dir: &Path, base_ms: i64) -> Candor {
    let clock = candor_sdk::ManualClock::new(0);
    let mut cfg = config(dir, &clock);
    cfg.clock = Arc::new(FastClock(base_ms));
    cfg.uploader = Some(Arc::new(LoggingCollector {
        log: dir.join("../collector.log"),
        sent_dir: dir.join("sent"),
    }));
    cfg.batch_size = 3;
    // At 1000× a day lasts 86 ms, so the region's few-day report window
    // would pass between two runs on a loaded machine, and the SDK would
    // rightly drop a queued report as too late: possibly one the collector
    // had accepted just before a kill, so it would be logged here but never
    // archived as sent. Crash safety is what this test is about, not the
    // window: make it wider than the whole run.
    for region in cfg.schema.regions.values_mut() {
        region.report_window_days = 100_000;
    }
    cfg.outbox.max_age_days = 100_000;
    cfg.outbox.max_reports = 100_000;
    cfg.sent_retention_days = 100_000;
    // The fast clock runs through years: a key list valid through them.
    cfg.key_list = Some(
        crate::common::signed_list(&crate::common::signer(), 0, 100_000)
            .to_json()
            .into_bytes(),
    );
    Candor::open(cfg).expect("the data directory always reopens")
}

/// The child's endless workload.
fn child(dir: &Path, base_ms: i64) -> ! {
    let c = open(dir, base_ms);
    for p in ["usage", "diagnostics", "browsing"] {
        c.grant(p).expect("grant");
    }
    let tabs = c.counter("browser.tabs_opened");
    let apps = c.labeled_counter("app.opened");
    let slow = c.domain_set("browser.slow_domains");
    let mut i = 0u64;
    loop {
        for _ in 0..50 {
            tabs.add(1);
            apps.add("camera", 1);
            slow.record_url(&format!("https://s{}.example.org/", i % 5));
            i += 1;
        }
        c.flush();
        c.upload_pending();
    }
}

#[test]
fn kill_nine_at_random_points_loses_nothing_acknowledged() {
    if let Ok(dir) = std::env::var(CHILD) {
        let base = std::env::var(BASE)
            .ok()
            .and_then(|b| b.parse().ok())
            .unwrap_or(0);
        child(Path::new(&dir), base);
    }
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("device");
    let base_ms = real_ms();
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let rounds = 25;
    for _ in 0..rounds {
        let mut child = Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "crash::kill_nine_at_random_points_loses_nothing_acknowledged",
                "--nocapture",
            ])
            .env(CHILD, &dir)
            .env(BASE, base_ms.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_millis(60 + rng % 240));
        child.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix
        child.wait().expect("reaped");
        // Whatever the moment of the kill, the directory reopens cleanly.
        drop(open(&dir, base_ms));
    }
    // Drain: a last clean run sends everything still queued.
    let c = open(&dir, base_ms);
    c.flush();
    c.upload_pending();
    assert!(c.pending_reports().is_empty(), "everything queued was sent");

    let log = std::fs::read_to_string(root.path().join("collector.log")).expect("log");
    let mut ids_per_day: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let mut deliveries: BTreeMap<String, usize> = BTreeMap::new();
    for line in log.lines() {
        assert!(
            !line.ends_with("RESENT"),
            "sent again after acceptance: {line}"
        );
        let mut f = line.split(' ');
        let (id, purpose, day) = (
            f.next().expect("id").to_owned(),
            f.next().expect("purpose").to_owned(),
            f.next().expect("day").to_owned(),
        );
        ids_per_day
            .entry((purpose, day))
            .or_default()
            .insert(id.clone());
        *deliveries.entry(id).or_default() += 1;
    }
    assert!(
        ids_per_day.len() > 20,
        "the workload sealed many days: {}",
        ids_per_day.len()
    );
    for (key, ids) in &ids_per_day {
        assert_eq!(ids.len(), 1, "{key:?} reached the collector under {ids:?}");
    }
    // A retry after a kill between the collector's answer and the device
    // recording it re-sends the same report id (the collector drops it as a
    // duplicate); each kill can cause at most one such retry per request.
    let retries: usize = deliveries.values().map(|n| n - 1).sum();
    assert!(
        retries <= rounds * 3,
        "{retries} retries for {rounds} kills"
    );
    // Every accepted report is in the device's sent archive exactly once.
    let sent = c.sent_reports(100_000).len();
    assert_eq!(sent, ids_per_day.len());
}

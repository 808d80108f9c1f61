use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use candor_collector::{jobs, keys};
use candor_protocol::{Day, Report, batch, seal};

use crate::common::{NOON, Server, post_raw};

fn usage(day: Day) -> Report {
    crate::common::usage(day, 1)
}

fn today() -> Day {
    Day::from_ymd(2026, 11, 29).expect("day")
}

#[test]
fn overload_answers_503_with_retry_after_and_loses_nothing_acknowledged() {
    // A tiny queue and a slow writer (it waits up to 300 ms for company).
    let server = Server::start_with(|c| {
        c.ingest.queue_max_reports = 20;
        c.ingest.batch_max_wait_ms = 300;
        c.ingest.batch_max_reports = 1_000_000;
    });
    let key = server.key("eu");
    let bodies: Vec<Vec<u8>> = (0..16)
        .map(|_| {
            let envs: Vec<Vec<u8>> = (0..10)
                .map(|_| seal(&usage(today()), &key).expect("seal"))
                .collect();
            batch::encode(&envs).expect("batch")
        })
        .collect();
    let accepted = Arc::new(AtomicUsize::new(0));
    let overloaded = Arc::new(AtomicUsize::new(0));
    std::thread::scope(|s| {
        for body in &bodies {
            let (url, accepted, overloaded) = (server.url(), accepted.clone(), overloaded.clone());
            s.spawn(move || {
                let a = post_raw(&url, "eu", body, &[]);
                match a.status {
                    202 => {
                        accepted.fetch_add(10, Ordering::SeqCst);
                    }
                    503 => {
                        assert_eq!(a.json["code"], "overloaded");
                        assert_eq!(a.retry_after.as_deref(), Some("5"));
                        overloaded.fetch_add(1, Ordering::SeqCst);
                    }
                    other => panic!("unexpected {other}: {a:?}"),
                }
            });
        }
    });
    assert!(
        overloaded.load(Ordering::SeqCst) > 0,
        "some requests were refused"
    );
    let stored: i64 = server.rows("eu").iter().map(|r| r.sum).sum();
    assert_eq!(
        stored as usize,
        accepted.load(Ordering::SeqCst),
        "exactly the acknowledged reports"
    );
    server.stop();
}

#[test]
fn shutdown_commits_everything_accepted() {
    let server = Server::start_with(|c| c.ingest.batch_max_wait_ms = 50);
    let key = server.key("eu");
    for _ in 0..5 {
        assert_eq!(
            server
                .post("eu", &seal(&usage(today()), &key).expect("seal"))
                .status,
            202
        );
    }
    let dir = server.stop();
    let store = candor_store::StoreConfig::sqlite(dir.path())
        .open_region("eu")
        .expect("opens");
    let rows = candor_store::Store::rows(&store, &Default::default()).expect("rows");
    let (counts, values): (Vec<_>, Vec<_>) = rows
        .iter()
        .partition(|r| r.key.cell == candor_store::REPORTS_CELL);
    assert_eq!(values.iter().map(|r| r.sum).sum::<i64>(), 5);
    assert_eq!(counts.iter().map(|r| r.contributors).sum::<i64>(), 5);
}

#[test]
fn rotated_keys_work_and_retired_keys_expire_after_the_grace_period() {
    let server = Server::start_with(|c| c.keys.retired_grace_days = 30);
    let old = server.key("eu");
    let key_dir = server.dir.path().join("eu/keys");
    let new = keys::generate(&key_dir, "eu", None).expect("rotate");
    assert_eq!(new.key_id(), old.key_id() + 1);
    server.running.collector.reload_keys();
    assert_eq!(
        server.key("eu").key_id(),
        new.key_id(),
        "devices get the newest key"
    );
    for k in [&old, &new] {
        assert_eq!(
            server
                .post("eu", &seal(&usage(today()), k).expect("seal"))
                .status,
            202
        );
    }
    // Retired 10 days ago: still in grace.
    keys::retire(&key_dir, old.key_id(), NOON - 10 * 86_400).expect("retire");
    server.running.collector.reload_keys();
    assert_eq!(
        server
            .post("eu", &seal(&usage(today()), &old).expect("seal"))
            .status,
        202
    );
    assert_eq!(
        server.key_configs("eu"),
        std::slice::from_ref(&new),
        "a retired key leaves the signed list"
    );
    // 31 days later the grace period is over.
    server.clock.set(NOON + 21 * 86_400);
    server.running.collector.reload_keys();
    let r = usage(Day::from_ymd(2026, 12, 20).expect("day"));
    let answer = server.post("eu", &seal(&r, &old).expect("seal"));
    assert_eq!(
        (answer.status, answer.json["code"].as_str()),
        (400, Some("key_retired"))
    );
    assert_eq!(
        server.post("eu", &seal(&r, &new).expect("seal")).status,
        202
    );
    server.stop();
}

#[test]
fn retention_deletes_aggregates_past_the_regions_retention() {
    let server = Server::start();
    let key = server.key("eu");
    assert_eq!(
        server
            .post("eu", &seal(&usage(today()), &key).expect("seal"))
            .status,
        202
    );
    let day2 = Day::from_ymd(2026, 11, 30).expect("day");
    assert_eq!(
        server
            .post("eu", &seal(&usage(day2), &key).expect("seal"))
            .status,
        202
    );
    assert_eq!(server.rows("eu").len(), 2);
    // eu keeps 395 days: on day 396 after the 29th, only the 30th remains.
    server.clock.set(NOON + 396 * 86_400);
    let report = server
        .rt
        .block_on(jobs::run_once(&server.running.collector));
    let eu = report.iter().find(|(r, _)| r == "eu").expect("eu ran");
    // The 29th's value row and its report-count row.
    assert_eq!(eu.1.as_ref().expect("ok").rows_deleted, 2);
    let rows = server.rows("eu");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].key.day, 20_787, "2026-11-30 is day 20787");
    server.stop();
}

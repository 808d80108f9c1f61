//! `candor audit show|verify`: a log written by token changes, queries and
//! key changes verifies; each kind of tampering (edit, deletion, reorder,
//! truncation) is found at the right entry; a consistently rewritten chain
//! is caught only by a head written down earlier.

use std::path::{Path, PathBuf};
use std::process::Output;

use candor_store::audit::{AuditRecord, entry_hash};
use rusqlite::{Connection, params};
use serde_json::Value;

use crate::query::{create_token, query, seed_tabs};
use crate::serve::{days_ago, free_port, start, stop};
use crate::{candor, s, text};

/// `candor audit SUB --region eu --data-dir DATA ARGS…`.
fn audit(data: &Path, sub: &str, extra: &[&str]) -> Output {
    let mut args = vec!["audit", sub, "--region", "eu", "--data-dir", s(data)];
    args.extend_from_slice(extra);
    candor(&args)
}

/// A fresh data directory holding a copy of `data`'s eu store.
fn copy_of(data: &Path, root: &Path, name: &str) -> (PathBuf, Connection) {
    let copy = root.join(name);
    std::fs::create_dir_all(copy.join("eu")).expect("mkdir");
    for suffix in ["", "-wal"] {
        let from = data.join(format!("eu/aggregates.sqlite{suffix}"));
        if from.exists() {
            std::fs::copy(&from, copy.join(format!("eu/aggregates.sqlite{suffix}"))).expect("copy");
        }
    }
    let conn = Connection::open(copy.join("eu/aggregates.sqlite")).expect("open the copy");
    (copy, conn)
}

/// One row's fields, all but seq.
type Row = (i64, String, String, String, Vec<u8>, Vec<u8>);

fn row(conn: &Connection, seq: i64) -> Row {
    conn.query_row(
        "SELECT at, actor, action, detail, prev, hash FROM audit WHERE seq = ?1",
        [seq],
        |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        },
    )
    .expect("row")
}

fn put(conn: &Connection, seq: i64, r: &Row) {
    conn.execute(
        "UPDATE audit SET at = ?2, actor = ?3, action = ?4, detail = ?5, prev = ?6, hash = ?7 \
         WHERE seq = ?1",
        params![seq, r.0, r.1, r.2, r.3, r.4, r.5],
    )
    .expect("update");
}

/// Asserts `candor audit verify` finds the log broken at entry `seq`.
fn broken_at(data: &Path, extra: &[&str], seq: u64, why: &str) {
    let out = audit(data, "verify", extra);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{why}: {stdout}{stderr}");
    assert!(
        stdout.contains(&format!("audit log of eu is BROKEN at entry {seq}: ")),
        "{why}: {stdout}"
    );
}

#[test]
fn the_audit_chain_verifies_and_every_tampering_is_found() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let closed = days_ago(10);
    seed_tabs(&data, closed, 10, "android");
    let port = free_port();
    let server = start(&data, port);

    // Besides the collector's own entries (its first key, retention runs):
    // token.create, two queries (one cached), token.create of an
    // all-region admin, token.revoke, then key.generate and key.retire.
    let token = create_token(
        &data,
        "ana",
        &[
            "--role",
            "analyst",
            "--regions",
            "eu",
            "--purposes",
            "usage",
        ],
    );
    let day = closed.to_string();
    let ask = [
        "--region",
        "eu",
        "--metric",
        "browser.tabs_opened",
        "--from",
        &day,
        "--to",
        &day,
        "--json",
    ];
    for _ in 0..2 {
        let out = query(port, &token, &ask);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    }
    create_token(&data, "root", &["--role", "admin"]);
    let out = candor(&["token", "revoke", "--name", "ana", "--data-dir", s(&data)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);

    // Verified beside the running collector (read-only).
    let out = audit(&data, "verify", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let (stdout, _) = text(&out);
    assert!(
        stdout.starts_with("audit log of eu: ") && stdout.contains(" entries, chain intact, head "),
        "{stdout}"
    );
    stop(server);

    // Keys generated and retired in the collector's layout are logged too;
    // elsewhere a note says there is no log.
    let keys = data.join("eu/keys");
    let out = candor(&["keygen", "--region", "eu", "--out", s(&keys)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    assert_eq!(text(&out).0.trim(), "2");
    let out = candor(&[
        "keygen",
        "--region",
        "eu",
        "--out",
        s(&keys),
        "--retire",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let elsewhere = candor(&[
        "keygen",
        "--region",
        "eu",
        "--out",
        s(&tmp.path().join("k")),
    ]);
    assert_eq!(elsewhere.status.code(), Some(0));
    assert!(
        text(&elsewhere).1.contains("no audit log was written"),
        "{}",
        text(&elsewhere).1
    );

    // The log as a table and as JSON, with the head to write down.
    let out = audit(&data, "show", &[]);
    let (shown, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("Write this head down"), "{stderr}");
    let head = shown
        .lines()
        .find_map(|l| l.strip_prefix("head:"))
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|| panic!("a head in {shown}"));
    for expected in [
        "token.create",
        "token.revoke",
        "query",
        "key.generate",
        "key.retire",
        // The key history's detail (docs/api.md, "Key history").
        "\"key_id\":2",
        "\"key_id\":1",
        "\"retired_at\":",
        "time (UTC)",
    ] {
        assert!(shown.contains(expected), "{expected:?} in {shown}");
    }
    assert!(!shown.contains(&token[5..]));
    let out = audit(&data, "show", &["--json"]);
    let json: Value = serde_json::from_str(&text(&out).0).expect("JSON");
    assert_eq!(json["head"], head.as_str());
    assert_eq!(json["verified"], true);
    let entries = json["entries"].as_array().expect("entries");
    let n = entries.len() as u64;
    assert!(n >= 7, "{json}");
    assert_eq!(head.len(), format!("{n}:").len() + 64, "{head}");
    assert!(head.starts_with(&format!("{n}:")), "{head}");
    assert!(
        shown.contains(&format!("chain: intact ({n} entries)")),
        "{shown}"
    );
    let ours: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().expect("actor"),
                e["action"].as_str().expect("action"),
            )
        })
        .filter(|(actor, _)| *actor != "collector")
        .collect();
    assert_eq!(
        ours,
        [
            ("cli", "token.create"),
            ("ana", "query"),
            ("ana", "query"),
            ("cli", "token.create"),
            ("cli", "token.revoke"),
            ("cli", "key.generate"),
            ("cli", "key.retire"),
        ]
    );
    let queries: Vec<&Value> = entries.iter().filter(|e| e["action"] == "query").collect();
    assert_eq!(queries[0]["detail"]["cached"], false);
    assert_eq!(queries[1]["detail"]["cached"], true);
    assert_eq!(entries[n as usize - 2]["detail"]["key_id"], 2);
    assert_eq!(entries[n as usize - 2]["detail"]["config"]["key_id"], 2);
    assert_eq!(entries[n as usize - 1]["detail"]["key_id"], 1);
    assert!(entries[n as usize - 1]["detail"]["public_key"].is_string());

    let out = audit(&data, "verify", &["--head", &head]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).0);
    assert!(
        text(&out)
            .0
            .contains(&format!("contains the given head {n}")),
        "{}",
        text(&out).0
    );
    let pinned_early = format!(
        "3:{}",
        entries[2]["hash"].as_str().expect("hash of entry 3")
    );
    let out = audit(&data, "verify", &["--head", &pinned_early]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).0);

    // (a) An edited row.
    let (edited, conn) = copy_of(&data, tmp.path(), "edited");
    conn.execute(
        "UPDATE audit SET detail = '{\"name\":\"someone else\"}' WHERE seq = 2",
        [],
    )
    .expect("edit");
    drop(conn);
    broken_at(&edited, &[], 2, "edited");

    // (b) A row deleted in the middle.
    let (deleted, conn) = copy_of(&data, tmp.path(), "deleted");
    conn.execute("DELETE FROM audit WHERE seq = 4", [])
        .expect("delete");
    drop(conn);
    broken_at(&deleted, &[], 4, "deleted");

    // (c) Two rows' contents swapped.
    let (swapped, conn) = copy_of(&data, tmp.path(), "swapped");
    let (two, three) = (row(&conn, 2), row(&conn, 3));
    put(&conn, 2, &three);
    put(&conn, 3, &two);
    drop(conn);
    broken_at(&swapped, &[], 2, "swapped");

    // (d) The last row deleted.
    let (truncated, conn) = copy_of(&data, tmp.path(), "truncated");
    conn.execute("DELETE FROM audit WHERE seq = ?1", [n])
        .expect("delete");
    drop(conn);
    broken_at(&truncated, &[], n, "truncated");

    // A chain rewritten consistently, head included, verifies on its own;
    // only the head written down earlier catches it.
    let (rewritten, conn) = copy_of(&data, tmp.path(), "rewritten");
    conn.execute("UPDATE audit SET actor = 'nobody' WHERE seq = 2", [])
        .expect("edit");
    let mut prev = [0u8; 32];
    for seq in 1..=n as i64 {
        let r = row(&conn, seq);
        let record = AuditRecord {
            at: r.0,
            actor: r.1.clone(),
            action: r.2.clone(),
            detail: r.3.clone(),
        };
        let hash = entry_hash(&prev, seq as u64, &record);
        put(
            &conn,
            seq,
            &(r.0, r.1, r.2, r.3, prev.to_vec(), hash.to_vec()),
        );
        prev = hash;
    }
    conn.execute(
        "UPDATE audit_head SET seq = ?1, hash = ?2 WHERE one = 1",
        params![n, prev.to_vec()],
    )
    .expect("head");
    drop(conn);
    let out = audit(&rewritten, "verify", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).0);
    broken_at(
        &rewritten,
        &["--head", &head],
        n,
        "rewritten, pinned at the end",
    );
    broken_at(
        &rewritten,
        &["--head", &pinned_early],
        3,
        "rewritten, pinned at 3",
    );

    // The original is untouched, and a bad head or region is a usage error.
    assert_eq!(audit(&data, "verify", &[]).status.code(), Some(0));
    let bad = audit(&data, "verify", &["--head", "2:abc"]);
    assert_eq!(bad.status.code(), Some(2));
    let none = candor(&[
        "audit",
        "verify",
        "--region",
        "mars",
        "--data-dir",
        s(&data),
    ]);
    assert_eq!(none.status.code(), Some(2));
    assert!(text(&none).1.contains("no store"), "{}", text(&none).1);
}

//! `candor verify` against a running `candor demo`: every check passes on a
//! fresh demo, and each kind of tampering makes the check it concerns fail
//! by name (exit 1): an audit entry edited or deleted in the database, a
//! ledger row that overspends inserted by hand, a key config swapped on
//! disk (served after a restart, signed, but not the chain's), a schema
//! other than the published page's, and a consistently rewritten log that a head saved
//! earlier still catches.

use std::path::{Path, PathBuf};
use std::process::Output;

use candor_store::audit::{AuditRecord, GENESIS, entry_hash};
use rusqlite::{Connection, params};

use crate::browser::{line_value, start_demo_with};
use crate::serve::free_port;
use crate::{candor, s, text};

/// A demo serving in the background (killed when dropped), its URL, the
/// auditor token it printed and its directory.
struct Demo {
    running: Option<crate::browser::Demo>,
    url: String,
    auditor: String,
    dir: PathBuf,
}

impl Demo {
    /// A small demo (a few devices, two days) in `dir`, once it serves.
    fn start(dir: &Path) -> Demo {
        let port = free_port();
        let (running, printed) = start_demo_with(dir, port, &["--devices", "60", "--days", "2"]);
        Demo {
            running: Some(running),
            url: format!("http://127.0.0.1:{port}"),
            auditor: line_value(&printed, "Auditor token: ").to_owned(),
            dir: dir.to_owned(),
        }
    }

    /// `candor verify` against the demo's region eu with `extra` options.
    fn verify(&self, extra: &[&str]) -> Output {
        let key = self.dir.join("data/eu/keys/signing.public.json");
        let mut args = vec![
            "verify",
            "--url",
            &self.url,
            "--region",
            "eu",
            "--signing-key",
            s(&key),
        ];
        args.extend_from_slice(extra);
        crate::candor_env(&args, &[("CANDOR_TOKEN", &self.auditor)])
    }

    /// eu's store, opened beside the running collector.
    fn store(&self) -> Connection {
        Connection::open(self.dir.join("data/eu/aggregates.sqlite")).expect("eu's store")
    }
}

/// The result column of `check`'s row in the printed table.
fn result_of(stdout: &str, check: &str) -> String {
    stdout
        .lines()
        .find_map(|l| {
            let mut cells = l.split_whitespace();
            (cells.next() == Some(check)).then(|| cells.next().unwrap_or_default().to_owned())
        })
        .unwrap_or_else(|| panic!("no row {check:?} in:\n{stdout}"))
}

/// Asserts `candor verify` passed every check (`previous-head` as given).
fn passes(out: &Output, previous_head: &str) {
    let (stdout, stderr) = text(out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    for check in [
        "schema",
        "key-list",
        "signed-head",
        "audit-chain",
        "daily-epsilon",
        "ledger-accounts",
    ] {
        assert_eq!(result_of(&stdout, check), "pass", "{check}: {stdout}");
    }
    assert_eq!(
        result_of(&stdout, "previous-head"),
        previous_head,
        "{stdout}"
    );
}

/// Asserts `candor verify` failed, naming `check` (and the row says FAIL).
fn fails(out: &Output, check: &str) {
    let (stdout, stderr) = text(out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(result_of(&stdout, check), "FAIL", "{stdout}");
    let named = stderr
        .lines()
        .find_map(|l| l.strip_prefix("verify: FAILED: "))
        .unwrap_or_else(|| panic!("no failure line in {stderr}"));
    assert!(named.split(", ").any(|n| n == check), "{stderr}");
}

/// The published privacy page of the built-in schema, written to `path`.
fn published_page(schema: &Path, path: &Path) {
    let out = candor(&["schema", "docs", s(schema), "--format", "html"]);
    assert!(out.status.success(), "{:?}", text(&out));
    std::fs::write(path, &out.stdout).expect("write the page");
}

#[test]
fn verify_passes_on_a_fresh_demo_and_a_saved_head_pins_the_log() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let demo = Demo::start(&tmp.path().join("demo"));
    let page = tmp.path().join("privacy.html");
    published_page(
        &crate::workspace_root().join("examples/browser.toml"),
        &page,
    );
    let saved = tmp.path().join("head.json");
    passes(
        &demo.verify(&["--privacy-page", s(&page), "--save-head", s(&saved)]),
        "skip",
    );
    // Without a page of its own, the collector's /privacy is compared.
    passes(&demo.verify(&[]), "skip");
    passes(&demo.verify(&["--previous-head", s(&saved)]), "pass");

    // A whole log rewritten consistently (every hash and the head
    // recomputed, so the collector signs the new head) passes the chain
    // check, and only the head saved earlier catches it.
    let conn = demo.store();
    let mut prev = GENESIS;
    let rows: Vec<(i64, i64, String, String, String)> = conn
        .prepare("SELECT seq, at, actor, action, detail FROM audit ORDER BY seq")
        .expect("select")
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .expect("rows")
        .map(|r| r.expect("row"))
        .collect();
    for (i, (seq, at, actor, action, detail)) in rows.iter().enumerate() {
        let record = AuditRecord {
            at: *at,
            actor: if i == 0 {
                "mallory".into()
            } else {
                actor.clone()
            },
            action: action.clone(),
            detail: detail.clone(),
        };
        let hash = entry_hash(&prev, *seq as u64, &record);
        conn.execute(
            "UPDATE audit SET actor = ?2, prev = ?3, hash = ?4 WHERE seq = ?1",
            params![seq, record.actor, prev.to_vec(), hash.to_vec()],
        )
        .expect("rewrite");
        prev = hash;
    }
    conn.execute("UPDATE audit_head SET hash = ?1", params![prev.to_vec()])
        .expect("head");
    let out = demo.verify(&["--previous-head", s(&saved)]);
    fails(&out, "previous-head");
    assert_eq!(result_of(&text(&out).0, "audit-chain"), "pass");
}

#[test]
fn verify_fails_on_an_edited_audit_entry() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let demo = Demo::start(&tmp.path().join("demo"));
    let changed = demo
        .store()
        .execute(
            "UPDATE audit SET detail = replace(detail, '\"cached\":false', '\"cached\":true') \
             WHERE seq = (SELECT min(seq) FROM audit WHERE action = 'query')",
            [],
        )
        .expect("edit");
    assert_eq!(changed, 1);
    fails(&demo.verify(&[]), "audit-chain");
}

#[test]
fn verify_fails_on_a_deleted_audit_entry() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let demo = Demo::start(&tmp.path().join("demo"));
    let deleted = demo
        .store()
        .execute("DELETE FROM audit WHERE seq = 2", [])
        .expect("delete");
    assert_eq!(deleted, 1);
    fails(&demo.verify(&[]), "audit-chain");
}

#[test]
fn verify_fails_on_a_ledger_row_that_overspends() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let demo = Demo::start(&tmp.path().join("demo"));
    // 5 ε on a day before the demo's releases: eu allows 2 per day.
    let changed = demo
        .store()
        .execute(
            "INSERT INTO budget (purpose, metric, day, spent_micros) \
             SELECT 'usage', 'app.opened', min(day) - 1, 5000000 FROM budget",
            [],
        )
        .expect("overspend");
    assert_eq!(changed, 1);
    fails(&demo.verify(&[]), "daily-epsilon");
}

#[test]
fn verify_fails_on_a_schema_other_than_the_published_page() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let demo = Demo::start(&tmp.path().join("demo"));
    // The page published for a dictionary that differs in one word.
    let source = std::fs::read_to_string(crate::workspace_root().join("examples/browser.toml"))
        .expect("the example schema");
    let edited = source.replacen("Usage statistics", "Usage figures", 1);
    assert_ne!(edited, source);
    let schema = tmp.path().join("published.toml");
    std::fs::write(&schema, edited).expect("write");
    let page = tmp.path().join("privacy.html");
    published_page(&schema, &page);
    fails(&demo.verify(&["--privacy-page", s(&page)]), "schema");
}

#[test]
fn verify_fails_on_a_key_config_swapped_on_disk() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut demo = Demo::start(&tmp.path().join("demo"));
    passes(&demo.verify(&[]), "skip");
    // The operator stops the collector, puts a key pair of its own in
    // place of eu's key 1 and starts it again: it signs a list with the
    // swapped key (it holds the signing key), which the chain never saw.
    drop(demo.running.take());
    let other = tmp.path().join("other");
    let made = candor(&[
        "keygen",
        "--region",
        "eu",
        "--key-id",
        "1",
        "--out",
        s(&other),
    ]);
    assert!(made.status.success(), "{:?}", text(&made));
    let keys = demo.dir.join("data/eu/keys");
    for file in ["key-001.config.json", "key-001.private.json"] {
        std::fs::remove_file(keys.join(file)).expect("remove the real key");
        std::fs::copy(other.join(file), keys.join(file)).expect("swap the key");
    }
    let port: u16 = demo
        .url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let server = crate::serve::start(&demo.dir.join("data"), port);
    let out = demo.verify(&[]);
    crate::serve::stop(server);
    fails(&out, "key-list");
    assert!(
        text(&out).0.contains("has no key.generate entry"),
        "{:?}",
        text(&out)
    );
}

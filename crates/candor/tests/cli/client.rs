//! `candor client`: consent, private mode, recording, day end, upload and
//! the JSON views, driven through the real binary with `--now`.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{Value, json};

use crate::{candor, s, text};

const DAY: &str = "2026-11-29";
const NEXT_DAY: &str = "2026-11-30";
/// 2026-11-29T12:00:00Z, what `--now 2026-11-29` means.
const DAY_NOON: i64 = 1_795_953_600;

/// A client directory initialised from the example schema and a fresh `eu` key.
struct Client {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    keys: PathBuf,
}

impl Client {
    fn new() -> Self {
        Self::with_init(&["--dimension", "platform=android"])
    }

    fn with_init(extra: &[&str]) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let keys = tmp.path().join("keys");
        let out = candor(&["keygen", "--region", "eu", "--out", s(&keys)]);
        assert!(out.status.success(), "{}", text(&out).1);
        let client = Client {
            dir: tmp.path().join("client"),
            keys,
            _tmp: tmp,
        };
        let out = client.init(extra);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
        client
    }

    fn key(&self) -> PathBuf {
        self.keys.join("signing.public.json")
    }

    fn init(&self, extra: &[&str]) -> Output {
        let key = self.key();
        let list = key_list_at_day(&self.keys);
        let mut args = vec![
            "init",
            "--schema",
            "examples/browser.toml",
            "--signing-key",
            s(&key),
            "--key-list",
            s(&list),
        ];
        args.extend_from_slice(extra);
        self.at(DAY, &args)
    }

    /// `candor client --dir DIR --now NOW ARGS...`.
    fn at(&self, now: &str, args: &[&str]) -> Output {
        let mut all = vec!["client", "--dir", s(&self.dir), "--now", now];
        all.extend_from_slice(args);
        candor(&all)
    }

    /// Runs `args` on [`DAY`] and asserts exit status 1 (nothing recorded),
    /// returning stderr.
    fn nothing_recorded(&self, args: &[&str]) -> String {
        let out = self.at(DAY, args);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stdout}{stderr}");
        assert!(stdout.is_empty(), "{stdout}");
        assert!(
            stderr.starts_with("warning: nothing recorded: "),
            "{stderr}"
        );
        stderr
    }

    /// Runs `args` on [`DAY`] and asserts exit status 0.
    fn ok(&self, args: &[&str]) -> Output {
        let out = self.at(DAY, args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}{}",
            text(&out).0,
            text(&out).1
        );
        out
    }

    /// Runs a JSON-printing command on `now` and parses its stdout.
    fn json_at(&self, now: &str, args: &[&str]) -> Value {
        let out = self.at(now, args);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
    }

    fn json(&self, args: &[&str]) -> Value {
        self.json_at(DAY, args)
    }

    fn pending(&self) -> Vec<Value> {
        match self.json(&["pending"]) {
            Value::Array(reports) => reports,
            other => panic!("pending is not an array: {other}"),
        }
    }
}

fn for_purpose<'a>(reports: &'a [Value], purpose: &str) -> Vec<&'a Value> {
    reports.iter().filter(|r| r["purpose"] == purpose).collect()
}

#[test]
fn consent_gates_recording_and_end_day_queues_the_recorded_values() {
    let c = Client::with_init(&[
        "--dimension",
        "platform=android",
        "--dimension",
        "app_version=121.0.6167.101",
    ]);
    // Default deny: recorded before any grant, never reported; the client
    // says so and exits 1.
    let stderr = c.nothing_recorded(&["record", "counter", "browser.tabs_opened", "5"]);
    assert!(
        stderr.contains("consent to purpose usage is not granted"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("candor client --dir {} grant usage", s(&c.dir))),
        "{stderr}"
    );
    c.ok(&["end-day"]);
    assert_eq!(c.pending(), Vec::<Value>::new());

    // The next day, with consent.
    let on = |args: &[&str]| {
        let out = c.at(NEXT_DAY, args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out).1);
        out
    };
    on(&["grant", "usage"]);
    on(&["grant", "browsing"]);
    on(&["record", "counter", "browser.tabs_opened", "2"]);
    on(&["record", "counter", "browser.tabs_opened", "1"]);
    on(&["record", "labeled", "app.opened", "camera", "2"]);
    on(&["record", "distribution", "browser.session_minutes", "10"]);
    on(&["record", "category", "settings.text_size", "large"]);
    on(&["record", "boolean", "settings.dark_mode", "true"]);
    on(&[
        "record",
        "url",
        "browser.slow_domains",
        "https://www.news.example.co.uk/a/b?c=d",
    ]);
    let status = c.json_at(NEXT_DAY, &["status"]);
    assert_eq!(status["purposes"]["usage"]["collecting"], true, "{status}");
    assert_eq!(status["purposes"]["diagnostics"]["granted"], false);
    assert_eq!(status["region"], "eu");

    // Nothing is queued until the day ends.
    assert_eq!(c.json_at(NEXT_DAY, &["pending"]), json!([]));
    on(&["end-day"]);
    let pending = c.json_at(NEXT_DAY, &["pending"]);
    let pending = pending.as_array().expect("array");
    assert_eq!(pending.len(), 2, "{pending:?}");
    let usage = for_purpose(pending, "usage");
    assert_eq!(usage.len(), 1, "one usage report: {pending:?}");
    let usage = usage[0];
    assert_eq!(usage["day"], NEXT_DAY);
    assert_eq!(usage["region"], "eu");
    assert_eq!(usage["schema"], "org.example.browser");
    assert_eq!(usage["consent_version"], 1);
    assert_eq!(
        usage["dimensions"],
        json!({"platform": "android", "app_version": "121.0"}),
        "coarsened, and only those the metrics declare"
    );
    let metrics = &usage["metrics"];
    assert_eq!(
        metrics["browser.tabs_opened"],
        json!({"type": "counter", "value": 3})
    );
    assert_eq!(
        metrics["app.opened"],
        json!({"type": "labeled_counter", "value": {"camera": 2}})
    );
    assert_eq!(
        metrics["browser.session_minutes"],
        json!({"type": "distribution", "value": [0, 0, 1, 0, 0, 0, 0, 0]})
    );
    // Local DP may flip these; they are present with a valid value.
    assert_eq!(metrics["settings.dark_mode"]["type"], "boolean");
    assert!(metrics["settings.dark_mode"]["value"].is_boolean());
    let size = metrics["settings.text_size"]["value"]
        .as_str()
        .expect("category");
    assert!(
        ["small", "default", "large", "largest"].contains(&size),
        "{size}"
    );
    let browsing = for_purpose(pending, "browsing");
    assert_eq!(
        browsing[0]["metrics"]["browser.slow_domains"],
        json!({"type": "domain_set", "value": ["example.co.uk"]})
    );

    // Revocation deletes what is queued for the purpose at once.
    on(&["revoke", "usage"]);
    let pending = c.json_at(NEXT_DAY, &["pending"]);
    assert!(
        for_purpose(pending.as_array().expect("array"), "usage").is_empty(),
        "{pending}"
    );
    on(&["revoke", "browsing"]);
    assert_eq!(c.json_at(NEXT_DAY, &["pending"]), json!([]));

    // Every decision left a receipt, oldest first.
    let receipts = c.json(&["receipts"]);
    let actions: Vec<(&str, &str)> = receipts
        .as_array()
        .expect("array")
        .iter()
        .map(|r| {
            (
                r["purpose"].as_str().expect("purpose"),
                r["action"].as_str().expect("action"),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("usage", "grant"),
            ("browsing", "grant"),
            ("usage", "revoke"),
            ("browsing", "revoke")
        ]
    );
    assert_eq!(receipts[0]["time"], DAY_NOON + 86_400);
    assert_eq!(receipts[0]["consent_version"], 1);
    assert_eq!(receipts[0]["text_sha256"].as_str().map(str::len), Some(64));
}

#[test]
fn a_day_ends_when_the_clock_moves_past_it() {
    let c = Client::new();
    c.ok(&["grant", "diagnostics"]);
    c.ok(&["record", "counter", "diagnostics.app_not_responding", "2"]);
    assert_eq!(c.pending(), Vec::<Value>::new());
    let later = c.json_at("2026-11-30T00:00:01Z", &["pending"]);
    assert_eq!(later[0]["day"], DAY, "{later}");
    assert_eq!(
        later[0]["metrics"]["diagnostics.app_not_responding"]["value"],
        2
    );
    assert_eq!(later[0]["dimensions"], json!({}), "os_major was not given");
}

#[test]
fn private_calls_and_private_mode_record_only_purposes_allowed_in_private() {
    let c = Client::new();
    c.ok(&["grant", "usage"]);
    c.ok(&["grant", "diagnostics"]);
    // A private tab: usage is not allowed in private mode, diagnostics is.
    let stderr =
        c.nothing_recorded(&["record", "--private", "counter", "browser.tabs_opened", "1"]);
    assert!(stderr.contains("not allowed in private mode"), "{stderr}");
    c.ok(&[
        "record",
        "labeled",
        "diagnostics.crashes",
        "gpu",
        "1",
        "--private",
    ]);
    // App-wide private mode, stored by the client across commands.
    c.ok(&["private", "on"]);
    assert_eq!(c.json(&["status"])["private_mode"], true);
    c.nothing_recorded(&["record", "counter", "browser.tabs_opened", "4"]);
    c.ok(&["record", "counter", "diagnostics.app_not_responding", "2"]);
    c.ok(&["end-day"]);
    let pending = c.pending();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0]["purpose"], "diagnostics");
    assert_eq!(
        pending[0]["metrics"],
        json!({
            "diagnostics.crashes": {"type": "labeled_counter", "value": {"gpu": 1}},
            "diagnostics.app_not_responding": {"type": "counter", "value": 2},
        })
    );

    // Off again: usage records the next day.
    c.ok(&["private", "off"]);
    assert_eq!(c.json(&["status"])["private_mode"], false);
    let out = c.at(NEXT_DAY, &["record", "counter", "browser.tabs_opened", "4"]);
    assert!(out.status.success());
    let out = c.at(NEXT_DAY, &["end-day"]);
    assert!(out.status.success());
    let pending = c.json_at(NEXT_DAY, &["pending"]);
    let usage = for_purpose(pending.as_array().expect("array"), "usage");
    assert_eq!(
        usage[0]["metrics"]["browser.tabs_opened"]["value"], 4,
        "{pending}"
    );
}

#[test]
fn bad_input_says_why_in_words_with_its_code_and_a_hint_and_exits_one() {
    let c = Client::new();
    c.ok(&["grant", "usage"]);
    c.ok(&["grant", "browsing"]);
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["record", "labeled", "app.opened", "fax", "1"],
            &[
                "\"fax\" is not one of app.opened's labels (unknown_label)",
                "hint: use one of: camera, gallery",
            ],
        ),
        (
            &["record", "category", "settings.text_size", "huge"],
            &[
                "\"huge\" is not one of settings.text_size's categories (unknown_label)",
                "hint: use one of: ",
            ],
        ),
        (
            &["record", "counter", "no.such.metric", "1"],
            &[
                "no.such.metric is not a metric of schema org.example.browser (unknown_metric)",
                "hint: the metrics are: ",
                "browser.tabs_opened",
            ],
        ),
        (
            &["record", "counter", "app.opened", "1"],
            &[
                "app.opened is a labeled_counter, not a counter (wrong_type)",
                "hint: record it with `candor client record labeled app.opened ...`",
            ],
        ),
        (
            &["record", "counter", "browser.tabs_opened", "-3"],
            &["negative amount is not recorded (negative_value)"],
        ),
        (
            &[
                "record",
                "url",
                "browser.slow_domains",
                "http://10.0.0.1/admin",
            ],
            &[
                "its host is an IP address (ip_literal) (url_dropped)",
                "hint: only the domain of a public web address",
            ],
        ),
    ];
    for (args, phrases) in cases {
        let stderr = c.nothing_recorded(args);
        for phrase in *phrases {
            assert!(stderr.contains(phrase), "{args:?}: {phrase:?} in {stderr}");
        }
        // Each reason once.
        assert_eq!(stderr.matches("warning:").count(), 1, "{stderr}");
    }
    // A good call says what today's value now is.
    let out = c.ok(&["record", "labeled", "app.opened", "camera", "1"]);
    assert_eq!(
        text(&out).1,
        "Recorded: app.opened today so far: camera 1.\n"
    );

    let errors = c.json(&["errors"]);
    assert_eq!(errors["app.opened"]["unknown_label"], 1, "{errors}");
    assert_eq!(errors["app.opened"]["wrong_type"], 1, "{errors}");
    assert_eq!(errors["settings.text_size"]["unknown_label"], 1);
    assert_eq!(errors["browser.slow_domains"]["url_dropped"], 1);

    // Nothing of the bad calls reached the report.
    c.ok(&["end-day"]);
    let pending = c.pending();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(
        pending[0]["metrics"],
        json!({"app.opened": {"type": "labeled_counter", "value": {"camera": 1}}})
    );
}

#[test]
fn a_value_above_the_bound_is_recorded_and_said_to_be_clamped() {
    let c = Client::new();
    c.ok(&["grant", "usage"]);
    // Under the bound (500 for browser.tabs_opened): no warning.
    let out = c.ok(&["record", "counter", "browser.tabs_opened", "300"]);
    assert_eq!(
        text(&out).1,
        "Recorded: browser.tabs_opened today so far: 300.\n"
    );
    // The day's total crosses it: recorded (exit 0), and the warning says
    // what the report will carry and why.
    let out = c.ok(&["record", "counter", "browser.tabs_opened", "1000000"]);
    let stderr = text(&out).1;
    assert!(
        stderr.contains("browser.tabs_opened has 1000300 counted today"),
        "{stderr}"
    );
    assert!(stderr.contains("today's report will carry 500"), "{stderr}");
    assert!(stderr.contains("max_per_report"), "{stderr}");
    assert!(stderr.contains("why: "), "{stderr}");
    c.ok(&["end-day"]);
    let pending = c.pending();
    assert_eq!(
        pending[0]["metrics"]["browser.tabs_opened"]["value"], 500,
        "{pending:?}"
    );
}

#[test]
fn init_refuses_to_reinit_and_checks_its_inputs() {
    let c = Client::new();
    let config = std::fs::read_to_string(c.dir.join("client.json")).expect("client.json");
    assert!(config.contains("org.example.browser"));
    assert!(!config.contains("private_key"), "public key config only");

    let again = c.init(&[]);
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again).1.contains("--force"), "{}", text(&again).1);
    c.ok(&["grant", "usage"]);
    let forced = c.init(&["--force", "--dimension", "platform=ios"]);
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced).1);
    // The SDK's data survives a forced re-init.
    assert_eq!(c.json(&["status"])["purposes"]["usage"]["granted"], true);

    let fresh = |extra: &[&str]| {
        let other = Client::new();
        std::fs::remove_file(other.dir.join("client.json")).expect("rm");
        other.init(extra)
    };
    let bad_dimension = fresh(&["--dimension", "platform=windows"]);
    assert_eq!(bad_dimension.status.code(), Some(1));
    assert!(text(&bad_dimension).1.contains("platform"));
    let unknown_dimension = fresh(&["--dimension", "user=alice"]);
    assert_eq!(unknown_dimension.status.code(), Some(1));

    // A key of a region the schema does not declare.
    let tmp = tempfile::tempdir().expect("tempdir");
    let keys = tmp.path().join("keys");
    assert!(
        candor(&["keygen", "--region", "br", "--out", s(&keys)])
            .status
            .success()
    );
    let dir = tmp.path().join("client");
    let key = keys.join("signing.public.json");
    let out = candor(&[
        "client",
        "--dir",
        s(&dir),
        "init",
        "--schema",
        "examples/browser.toml",
        "--signing-key",
        s(&key),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("\"br\""), "{}", text(&out).1);
    assert!(!dir.join("client.json").exists());

    // An invalid schema lists its errors.
    let schema = tmp.path().join("bad.toml");
    std::fs::write(&schema, "[schema]\nid = \"x\"\nversion = 0\n").expect("write");
    let out = candor(&[
        "client",
        "init",
        "--dir",
        s(&dir),
        "--schema",
        s(&schema),
        "--signing-key",
        s(&c.key()),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("invalid schema"), "{}", text(&out).1);
}

#[test]
fn usage_errors_exit_two_and_unknown_purposes_exit_one() {
    let c = Client::new();
    let no_dir = candor(&["client", "status"]);
    assert_eq!(no_dir.status.code(), Some(2));
    assert!(text(&no_dir).1.contains("--dir"), "{}", text(&no_dir).1);

    let tmp = tempfile::tempdir().expect("tempdir");
    let not_init = candor(&["client", "--dir", s(tmp.path()), "pending"]);
    assert_eq!(not_init.status.code(), Some(2));
    assert!(text(&not_init).1.contains("candor client init"));

    let bad_now = c.at("tomorrow", &["status"]);
    assert_eq!(bad_now.status.code(), Some(2));

    let unknown = c.at(DAY, &["grant", "ads"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown).1.contains("unknown purpose \"ads\""));
}

#[test]
fn upload_without_a_collector_backs_off_and_keeps_the_report() {
    let c = Client::new();
    c.ok(&["grant", "usage"]);
    c.ok(&["record", "counter", "browser.tabs_opened", "1"]);
    c.ok(&["end-day"]);
    let before = c.pending();
    assert_eq!(before.len(), 1);

    // Nothing listens on port 1: the pass fails and backs off, and says
    // so: why, the next step, and the backoff in local time with how to
    // override it.
    let out = c.at(DAY, &["upload", "--url", "http://127.0.0.1:1"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stdout}{stderr}");
    for phrase in [
        "error: the upload failed: nothing answers at http://127.0.0.1:1; 1 report(s) stay queued.",
        "start a collector with `candor serve`",
        "local time",
        "--force",
        "an upload to another address tries at once",
    ] {
        assert!(stderr.contains(phrase), "{phrase:?} in {stderr}");
    }
    let summary: Value = serde_json::from_str(&stdout).expect("summary JSON");
    assert_eq!(summary["requests"], 1, "{summary}");
    assert_eq!(summary["accepted"], 0);
    assert_eq!(summary["remaining"], 1);
    let retry_at = summary["retry_at"].as_i64().expect("retry_at set");
    assert!(retry_at > DAY_NOON, "{summary}");
    assert_eq!(c.pending(), before, "the report is still queued, unchanged");
    assert_eq!(c.json(&["sent"]), json!([]));

    // Still backing off: no request is made, which is not a failure, and
    // stderr says why nothing was sent.
    let out = c.at(DAY, &["upload", "--url", "http://127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let summary: Value = serde_json::from_str(&text(&out).0).expect("summary JSON");
    assert_eq!(summary["requests"], 0);
    assert_eq!(summary["retry_at"], retry_at);
    let stderr = text(&out).1;
    assert!(stderr.contains("no request made"), "{stderr}");
    assert!(stderr.contains("local time"), "{stderr}");

    // --force tries at once, backoff or not.
    let out = c.at(DAY, &["upload", "--url", "http://127.0.0.1:1", "--force"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out).1);
    let summary: Value = serde_json::from_str(&text(&out).0).expect("summary JSON");
    assert_eq!(summary["requests"], 1, "{summary}");

    // Another address is not held back by the failure at this one.
    let out = c.at(DAY, &["upload", "--url", "http://127.0.0.1:2"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out).1);
    let summary: Value = serde_json::from_str(&text(&out).0).expect("summary JSON");
    assert_eq!(summary["requests"], 1, "{summary}");

    // Not a URL the uploader can use.
    let out = c.at(DAY, &["upload", "--url", "127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn delete_all_keeps_only_the_receipts() {
    let c = Client::new();
    c.ok(&["grant", "usage"]);
    c.ok(&["record", "counter", "browser.tabs_opened", "1"]);
    c.nothing_recorded(&["record", "labeled", "app.opened", "fax", "1"]);
    c.ok(&["end-day"]);
    assert_eq!(c.pending().len(), 1);
    c.ok(&["delete-all"]);
    assert_eq!(c.pending(), Vec::<Value>::new());
    assert_eq!(c.json(&["errors"]), json!({}));
    assert_eq!(c.json(&["receipts"]).as_array().map(Vec::len), Some(1));
    assert_eq!(c.json(&["status"])["purposes"]["usage"]["granted"], true);
}

#[test]
fn opt_out_and_child_profile_stop_collection() {
    let c = Client::new();
    c.ok(&["grant", "usage"]);
    c.ok(&["opt-out", "on"]);
    assert_eq!(
        c.json(&["status"])["purposes"]["usage"]["collecting"],
        false
    );
    let stderr = c.nothing_recorded(&["record", "counter", "browser.tabs_opened", "1"]);
    assert!(
        stderr.contains("opt-out or the child profile is on"),
        "{stderr}"
    );
    c.ok(&["opt-out", "off"]);
    c.ok(&["child", "on"]);
    c.nothing_recorded(&["record", "counter", "browser.tabs_opened", "1"]);
    c.ok(&["child", "off"]);
    c.ok(&["end-day"]);
    assert_eq!(c.pending(), Vec::<Value>::new());
}

/// The key list of the keys in `keys`, signed with their signing key as of
/// [`DAY_NOON`] (what `candor keygen` signed is dated by the real clock,
/// which these tests do not use): the list a collector would serve then.
fn key_list_at_day(keys: &Path) -> PathBuf {
    crate::key_list_signed_at(keys, DAY_NOON)
}

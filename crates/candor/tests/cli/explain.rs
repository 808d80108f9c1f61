//! The CLI explains itself (issue 15, "Why → The CLI"): each error once; a
//! taken port points to `--listen`; `--listen` takes host names and bare
//! ports and shows the expected form when it refuses one; an unreachable
//! collector points to `candor serve`; `candor --help` starts with
//! `candor demo`; `load` and `client init` need no schema path; a log
//! written to a file has no colour codes; and after a failed upload the
//! next upload to the right address is not skipped. (`client record`'s
//! warnings and the backoff's wording are in `client`.)

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::{candor, s, text};

/// `candor ARGS` run from `dir` (not the repository root, so nothing is
/// found by a path relative to it), without a token from the environment.
fn candor_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_candor"))
        .args(args)
        .current_dir(dir)
        .env_remove("CANDOR_TOKEN")
        .env_remove("CANDOR_URL")
        .env_remove("CANDOR_LISTEN")
        .env_remove("RUST_LOG")
        .output()
        .expect("the candor binary runs")
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A collector started with `serve --detach` in `data`; stopped on drop
/// through the process id it wrote.
struct Detached<'a> {
    data: &'a Path,
    stdout: String,
}

impl<'a> Detached<'a> {
    fn start(dir: &Path, data: &'a Path, listen: &str) -> Self {
        let out = candor_in(
            dir,
            &[
                "serve",
                "--detach",
                "--listen",
                listen,
                "--data-dir",
                s(data),
            ],
        );
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
        Detached { data, stdout }
    }
}

impl Drop for Detached<'_> {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.data.join("serve.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}

#[test]
fn help_starts_with_candor_demo() {
    let out = candor(&["--help"]);
    let (stdout, _) = text(&out);
    assert!(out.status.success());
    let first = stdout.lines().next().unwrap_or_default();
    assert!(first.contains("`candor demo`"), "{stdout}");
}

#[test]
fn an_os_error_is_printed_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    for args in [
        &["schema", "check", "missing.toml"][..],
        &[
            "load",
            "--schema",
            "missing.toml",
            "--signing-key",
            "x.json",
        ][..],
    ] {
        let out = candor_in(dir.path(), args);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(
            stderr.matches("os error 2").count(),
            1,
            "{args:?}: {stderr}"
        );
        assert_eq!(stderr.matches("error:").count(), 1, "{args:?}: {stderr}");
    }
}

#[test]
fn a_taken_port_points_to_listen() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = candor_in(
        dir.path(),
        &["serve", "--listen", &port, "--data-dir", "data"],
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
    assert_eq!(stderr.matches("os error").count(), 1, "{stderr}");
    let hint = stderr
        .lines()
        .find(|l| l.starts_with("hint: "))
        .unwrap_or_else(|| panic!("no hint in {stderr}"));
    assert!(hint.contains("--listen"), "{hint}");
    drop(taken);
}

#[test]
fn listen_refuses_a_bad_form_by_showing_the_expected_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    for bad in ["localhost", "127.0.0.1", "99999", "eight:1"] {
        let out = candor_in(dir.path(), &["serve", "--listen", bad]);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{bad}: {stderr}");
        assert!(stderr.contains("HOST:PORT"), "{bad}: {stderr}");
        assert!(stderr.contains("localhost:8750"), "{bad}: {stderr}");
        assert!(stderr.contains("a bare port"), "{bad}: {stderr}");
    }
    assert!(
        std::fs::read_dir(dir.path()).expect("dir").next().is_none(),
        "a refused address started nothing"
    );
}

#[test]
fn an_unreachable_collector_points_to_candor_serve() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("http://127.0.0.1:{}", free_port());
    let out = candor_in(
        dir.path(),
        &[
            "query",
            "--url",
            &url,
            "--token",
            "cndr_x",
            "--region",
            "eu",
            "--metric",
            "app.opened",
        ],
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot reach the collector at {url}")),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: nothing answers there: start a collector with `candor serve`"),
        "{stderr}"
    );
    // The simulator, whose errors are text: the same hint.
    let keys = dir.path().join("data/eu/keys");
    let made = candor_in(dir.path(), &["keygen", "--region", "eu", "--out", s(&keys)]);
    assert!(made.status.success(), "{}", text(&made).1);
    let out = candor_in(
        dir.path(),
        &[
            "simulate",
            "--url",
            &url,
            "--data-dir",
            "data",
            "--regions",
            "eu=1",
            "--devices",
            "2",
            "--no-progress",
        ],
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("hint: nothing answers there"), "{stderr}");
}

/// A host name and a bare port both listen; `--detach` returns once the
/// collector listens, its log (a file) has no colour codes; `load` needs
/// no schema path; a device whose upload failed at a wrong address
/// delivers at once to the right one.
#[test]
fn host_names_and_bare_ports_listen_and_the_right_address_is_not_held_back() {
    let dir = tempfile::tempdir().expect("tempdir");

    let port = free_port();
    let by_name = dir.path().join("by-name");
    let named = Detached::start(dir.path(), &by_name, &format!("localhost:{port}"));
    assert!(
        named.stdout.contains("listening on http://127.0.0.1:"),
        "{}",
        named.stdout
    );
    assert!(named.stdout.contains("kill "), "{}", named.stdout);
    drop(named);

    let port = free_port();
    let data = dir.path().join("data");
    let collector = Detached::start(dir.path(), &data, &port.to_string());
    let url = format!("http://127.0.0.1:{port}");
    assert!(
        collector.stdout.contains(&format!("listening on {url}")),
        "{}",
        collector.stdout
    );
    let log = std::fs::read_to_string(data.join("serve.log")).expect("serve.log");
    assert!(log.contains("listening on"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a log file: {log:?}"
    );

    // `load` from a directory with no examples/: the built-in schema.
    let keys = data.join("eu/keys");
    let signing = keys.join("signing.public.json");
    let out = candor_in(
        dir.path(),
        &[
            "load",
            "--url",
            &url,
            "--signing-key",
            s(&signing),
            "--reports",
            "10",
            "--batch",
            "5",
            "--no-progress",
            "--json",
        ],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let stats: Value = serde_json::from_str(&stdout).expect("JSON statistics");
    assert_eq!(stats["accepted"], 10, "{stats}");

    // A device without a schema path; its upload to a wrong address
    // fails and backs off; the right address is tried at once.
    let phone = dir.path().join("phone");
    let client = |args: &[&str]| {
        let mut all = vec!["client", "--dir", s(&phone)];
        all.extend_from_slice(args);
        candor_in(dir.path(), &all)
    };
    let init = client(&[
        "init",
        "--signing-key",
        s(&signing),
        "--key-list",
        s(&keys.join("keys.signed.json")),
        "--dimension",
        "platform=android",
    ]);
    assert_eq!(init.status.code(), Some(0), "{}", text(&init).1);
    assert!(text(&init).1.contains("built in"), "{}", text(&init).1);
    for args in [
        &["grant", "usage"][..],
        &["record", "counter", "browser.tabs_opened", "3"][..],
        &["end-day"][..],
    ] {
        let out = client(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out).1);
    }
    let wrong = format!("http://127.0.0.1:{}", free_port());
    let failed = client(&["upload", "--url", &wrong]);
    assert_eq!(failed.status.code(), Some(3), "{}", text(&failed).1);
    let right = client(&["upload", "--url", &url]);
    let (stdout, stderr) = text(&right);
    assert_eq!(right.status.code(), Some(0), "{stderr}");
    let summary: Value = serde_json::from_str(&stdout).expect("summary JSON");
    assert_eq!(summary["accepted"], 1, "{summary}: {stderr}");
    assert_eq!(summary["remaining"], 0, "{summary}");
    drop(collector);
}

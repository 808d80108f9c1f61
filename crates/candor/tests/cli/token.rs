//! `candor token`: a token is printed once and stored nowhere in plaintext
//! (not in the data directory, not in the server's output); the list shows
//! scopes, never a token or hash; revocation; clear refusals.

use std::fs::File;
use std::process::{Output, Stdio};

use serde_json::Value;

use crate::serve::{free_port, start_with, stop};
use crate::{candor, files_under, s, text};

/// `candor token ARGS… --data-dir DIR`.
fn token(dir: &std::path::Path, args: &[&str]) -> Output {
    let mut all = vec!["token"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--data-dir", s(dir)]);
    candor(&all)
}

/// Whether `needle` occurs in `hay`.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_token_is_shown_once_listed_without_secrets_and_revoked() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(&logs).expect("logs dir");
    let port = free_port();
    let server = start_with(
        &data,
        port,
        Stdio::from(File::create(logs.join("serve.stdout")).expect("log file")),
        Stdio::from(File::create(logs.join("serve.stderr")).expect("log file")),
        &[("RUST_LOG", "debug")],
    );

    // Created while the collector runs: printed once, alone, on stdout.
    let out = token(
        &data,
        &[
            "create",
            "--name",
            "ana",
            "--role",
            "analyst",
            "--regions",
            "eu",
            "--purposes",
            "usage",
        ],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "only the token on stdout: {stdout:?}");
    let secret = lines[0].to_owned();
    assert!(secret.starts_with("cndr_"), "{secret}");
    assert_eq!(secret.len(), 69);
    assert!(
        secret[5..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert!(
        stderr.contains("Store it now: it is not shown again"),
        "{stderr}"
    );
    assert!(!stderr.contains(&secret[5..]), "not on stderr: {stderr}");

    // The collector accepts it at once (the query has no data: nothing
    // released, but answered), and refuses a wrong one.
    let day = crate::serve::days_ago(10).to_string();
    let url = format!("http://127.0.0.1:{port}");
    let ask = |t: &str| {
        candor(&[
            "query",
            "--url",
            &url,
            "--token",
            t,
            "--region",
            "eu",
            "--metric",
            "browser.tabs_opened",
            "--from",
            &day,
            "--to",
            &day,
        ])
    };
    let answered = ask(&secret);
    assert_eq!(answered.status.code(), Some(0), "{}", text(&answered).1);
    assert!(!text(&answered).0.contains(&secret[5..]));
    let refused = ask("cndr_0000");
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused).1.contains("unauthorized"));

    // A taken name, an unknown region or purpose: exit 2, a clear message,
    // no token printed.
    for (args, expected) in [
        (
            vec!["--name", "ana", "--role", "admin"],
            "a token named \"ana\" already exists",
        ),
        (
            vec!["--name", "bob", "--role", "analyst", "--regions", "mars"],
            "no schema declares region \"mars\"",
        ),
        (
            vec!["--name", "bob", "--role", "analyst", "--purposes", "ads"],
            "no schema declares purpose \"ads\"",
        ),
        (
            vec!["--name", "a b", "--role", "analyst"],
            "token names are 1 to 64",
        ),
    ] {
        let mut all = vec!["create"];
        all.extend(args);
        let out = token(&data, &all);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{all:?}: {stderr}");
        assert!(stdout.is_empty(), "{all:?}: {stdout}");
        assert!(stderr.contains(expected), "{all:?}: {stderr}");
    }
    let bad_role = token(&data, &["create", "--name", "bob", "--role", "root"]);
    assert_eq!(bad_role.status.code(), Some(2));

    let admin = token(&data, &["create", "--name", "root", "--role", "admin"]);
    assert_eq!(admin.status.code(), Some(0), "{}", text(&admin).1);
    let admin_secret = text(&admin).0.trim().to_owned();

    // The list: scopes, no secrets.
    let hash = candor_store::audit::to_hex(&candor_collector::access::token_hash(&secret));
    let out = token(&data, &["list"]);
    let (list, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let ana = list
        .lines()
        .find(|l| l.starts_with("ana "))
        .unwrap_or_else(|| panic!("ana listed: {list}"));
    let cols: Vec<&str> = ana.split_whitespace().collect();
    assert_eq!(&cols[..4], ["ana", "analyst", "eu", "usage"], "{ana}");
    assert!(ana.ends_with("active"), "{ana}");
    assert!(ana.contains(" UTC"), "{ana}");
    let root = list.lines().find(|l| l.starts_with("root ")).expect("root");
    assert_eq!(
        &root.split_whitespace().collect::<Vec<_>>()[..4],
        ["root", "admin", "all", "all"]
    );
    for leak in [&secret[5..], &admin_secret[5..], &hash] {
        assert!(!list.contains(leak), "{list}");
    }
    let out = token(&data, &["list", "--json"]);
    let json_text = text(&out).0;
    let listed: Value = serde_json::from_str(&json_text).expect("JSON");
    let tokens = listed["tokens"].as_array().expect("tokens");
    assert_eq!(tokens.len(), 2);
    assert_eq!(tokens[0]["name"], "ana");
    assert_eq!(tokens[0]["regions"], serde_json::json!(["eu"]));
    assert!(tokens[0]["revoked_at"].is_null());
    assert!(tokens[0]["created_at"].as_i64().is_some());
    assert!(!json_text.contains(&secret[5..]) && !json_text.contains(&hash));

    // Revocation.
    let out = token(&data, &["revoke", "--name", "ana"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let list = text(&token(&data, &["list"])).0;
    let ana = list.lines().find(|l| l.starts_with("ana ")).expect("ana");
    assert!(ana.contains("revoked "), "{ana}");
    assert!(!ana.contains("active"), "{ana}");
    let listed: Value =
        serde_json::from_str(&text(&token(&data, &["list", "--json"])).0).expect("JSON");
    assert!(listed["tokens"][0]["revoked_at"].as_i64().is_some());
    let refused = ask(&secret);
    assert_eq!(refused.status.code(), Some(1));
    for (name, expected) in [
        ("ana", "no active token named \"ana\""),
        ("nobody", "no active token named \"nobody\""),
    ] {
        let out = token(&data, &["revoke", "--name", name]);
        assert_eq!(out.status.code(), Some(2));
        assert!(text(&out).1.contains(expected), "{}", text(&out).1);
    }

    // The plaintext is nowhere: not in any file of the data directory (the
    // token database, the stores with their audit logs, keys, WAL files),
    // not in the collector's output.
    stop(server);
    let files = files_under(&data);
    assert!(
        files.iter().any(|f| f.ends_with("access.sqlite")),
        "{files:?}"
    );
    assert!(
        files.iter().any(|f| f.ends_with("eu/aggregates.sqlite")),
        "{files:?}"
    );
    for file in files.iter().chain(&files_under(&logs)) {
        let bytes = std::fs::read(file).expect("read");
        for t in [&secret, &admin_secret] {
            assert!(
                !contains(&bytes, &t.as_bytes()[5..]),
                "a token is in {}",
                file.display()
            );
        }
    }
}

#[test]
fn an_empty_data_directory_lists_nothing_and_revokes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let out = token(&data, &["list", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let listed: Value = serde_json::from_str(&text(&out).0).expect("JSON");
    assert_eq!(listed["tokens"], serde_json::json!([]));
    let out = token(&data, &["revoke", "--name", "ana"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("no tokens"), "{}", text(&out).1);
    assert!(!data.exists(), "nothing was created");
}

//! `candor query` end to end: a real `candor serve`, sealed reports, a
//! token from `candor token create`, and the answers as a table, JSON and
//! CSV; the cache; scope, revocation and budget refusals.

use std::path::Path;
use std::process::Output;

use candor_protocol::MetricValue;
use serde_json::Value;

use crate::serve::{agent, days_ago, free_port, key, start, stop, today, usage_batch};
use crate::{candor, candor_env, s, text};

/// Creates a token in `data` and returns it.
pub(crate) fn create_token(data: &Path, name: &str, extra: &[&str]) -> String {
    let mut args = vec!["token", "create", "--name", name, "--data-dir", s(data)];
    args.extend_from_slice(extra);
    let out = candor(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    text(&out).0.trim().to_owned()
}

/// Uploads `n` reports of `browser.tabs_opened` = 3 on `platform` today and
/// asserts every one was accepted.
pub(crate) fn upload_tabs(port: u16, n: usize, platform: &str) {
    let body = usage_batch(
        &key(port),
        today(),
        n,
        "browser.tabs_opened",
        &MetricValue::Counter(3),
        &[("platform", platform), ("app_version", "121.3")],
    );
    let response = agent()
        .post(&format!("http://127.0.0.1:{port}/v1/regions/eu/reports"))
        .header("content-type", "application/vnd.candor.report")
        .send(&body[..])
        .expect("upload");
    assert_eq!(response.status().as_u16(), 202);
    let answer: Value =
        serde_json::from_str(&response.into_body().read_to_string().expect("body")).expect("JSON");
    let results = answer["results"].as_array().expect("results");
    assert_eq!(results.len(), n);
    assert!(
        results.iter().all(|r| r["status"] == "accepted"),
        "{answer}"
    );
}

/// `candor query --url URL --token TOKEN ARGS…`.
pub(crate) fn query(port: u16, token: &str, args: &[&str]) -> Output {
    let url = format!("http://127.0.0.1:{port}");
    let mut all = vec!["query", "--url", &url, "--token", token];
    all.extend_from_slice(args);
    candor(&all)
}

/// Asserts a refusal: exit 1, the token nowhere, and the HTTP status and
/// code on stderr; returns stderr.
fn refused(out: &Output, token: &str, status: u16, code: &str) -> String {
    let (stdout, stderr) = text(out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains(&format!("HTTP {status}")) && stderr.contains(code),
        "{stderr}"
    );
    assert!(!stderr.contains(&token[5..]), "the token is not printed");
    stderr
}

/// The arguments of a question about `browser.tabs_opened` on `day` in eu.
fn tabs_today<'a>(day: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "--region",
        "eu",
        "--metric",
        "browser.tabs_opened",
        "--from",
        day,
        "--to",
        day,
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn queries_end_to_end_with_cache_scope_budget_and_revocation() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let port = free_port();
    let server = start(&data, port);
    // k_min in eu is 10: android and ios groups are released, exampleos
    // (3 contributors) is suppressed.
    upload_tabs(port, 12, "android");
    upload_tabs(port, 11, "ios");
    upload_tabs(port, 3, "exampleos");
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
    let day = today().to_string();
    let tabs = |extra: &[&'static str]| tabs_today(&day, extra);

    // The table.
    let out = query(port, &token, &tabs(&["--group-by", "platform"]));
    let (table, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!table.contains(&token[5..]) && !stderr.contains(&token[5..]));
    for expected in [
        "browser.tabs_opened",
        "purpose    usage",
        "discrete_laplace",
        "ε = 0.5",
        "k = 10",
        "noise scale 1000",
        "ε spent 0.5",
        "least remaining on a day of the range 1.5",
        "cached     no",
        "95% interval",
        "1 group suppressed (fewer than k = 10 devices)",
    ] {
        assert!(table.contains(expected), "{expected:?} in\n{table}");
    }
    let released: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("android ") || l.starts_with("ios "))
        .collect();
    assert_eq!(released.len(), 2, "{table}");
    for row in released {
        let value = row.split_whitespace().nth(1).expect("a value");
        assert!(value.parse::<f64>().is_ok(), "{row}");
    }
    assert!(!table.contains("exampleos"), "{table}");

    // JSON, fresh, then the same question again: the cached answer.
    let by_day = tabs(&["--group-by", "day,platform", "--json"]);
    let first = query(port, &token, &by_day);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first).1);
    let first: Value = serde_json::from_str(&text(&first).0).expect("JSON");
    assert_eq!(first["cached"], false);
    assert_eq!(first["epsilon_spent"], 0.5);
    assert_eq!(first["suppressed"], 1);
    let groups = first["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 2, "{first}");
    for g in groups {
        assert_eq!(g["day"], day.as_str());
        assert!(g["dimensions"]["platform"] == "android" || g["dimensions"]["platform"] == "ios");
        let ci = g["ci95"].as_array().expect("ci95");
        assert_eq!(ci.len(), 2);
        assert!(ci[0].as_f64() <= g["value"].as_f64() && g["value"].as_f64() <= ci[1].as_f64());
        assert_eq!(g["k"], 10);
        assert_eq!(g["epsilon"], 0.5);
        assert_eq!(g["mechanism"], "discrete_laplace");
    }
    // The token may also come from the environment.
    let url = format!("http://127.0.0.1:{port}");
    let mut args = vec!["query", "--url", url.as_str()];
    args.extend_from_slice(&by_day);
    let again = candor_env(&args, &[("CANDOR_TOKEN", &token)]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again).1);
    let again: Value = serde_json::from_str(&text(&again).0).expect("JSON");
    assert_eq!(again["cached"], true);
    assert_eq!(again["epsilon_spent"], 0.0);
    assert_eq!(again["groups"], first["groups"], "identical numbers");
    assert_eq!(again["budget_remaining"], 1.0);
    let no_token = candor(&args);
    assert_eq!(no_token.status.code(), Some(2));
    assert!(text(&no_token).1.contains("CANDOR_TOKEN"));

    // CSV of the first (now cached) question.
    let out = query(port, &token, &tabs(&["--group-by", "platform", "--csv"]));
    let (csv, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("platform,cell,bucket,value,ci95_low,ci95_high,share,k,epsilon,mechanism")
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 2, "{csv}");
    assert!(rows[0].starts_with("android,") && rows[1].starts_with("ios,"));
    // A table again shows the same answer as cached.
    let out = query(port, &token, &tabs(&["--group-by", "platform"]));
    assert!(text(&out).0.contains("cached     yes"), "{}", text(&out).0);
    assert!(text(&out).0.contains("ε spent 0, "), "{}", text(&out).0);

    // Out of scope: another region, another purpose.
    let other_region = query(
        port,
        &token,
        &[
            "--region",
            "in",
            "--metric",
            "browser.tabs_opened",
            "--from",
            &day,
            "--to",
            &day,
        ],
    );
    let stderr = refused(&other_region, &token, 403, "forbidden");
    assert!(stderr.contains("region \"in\""), "{stderr}");
    let browsing = query(
        port,
        &token,
        &[
            "--region",
            "eu",
            "--metric",
            "browser.slow_domains",
            "--from",
            &day,
            "--to",
            &day,
        ],
    );
    let stderr = refused(&browsing, &token, 403, "forbidden");
    assert!(stderr.contains("purpose \"browsing\""), "{stderr}");
    let unknown = query(port, &token, &tabs(&["--group-by", "colour"]));
    refused(&unknown, &token, 400, "unknown_dimension");

    // The budget: a fresh metric and day, its whole daily budget (eu: 2.0)
    // at once; any other question about that day is refused, naming the
    // metric, the day and what is left.
    let yesterday = days_ago(1).to_string();
    let bookmarks = |extra: &[&str]| {
        let mut args = vec![
            "--region",
            "eu",
            "--metric",
            "browser.bookmarks_added",
            "--from",
            yesterday.as_str(),
            "--to",
            yesterday.as_str(),
        ];
        args.extend_from_slice(extra);
        query(port, &token, &args)
    };
    let all = bookmarks(&["--epsilon", "2.0", "--json"]);
    assert_eq!(all.status.code(), Some(0), "{}", text(&all).1);
    let all: Value = serde_json::from_str(&text(&all).0).expect("JSON");
    assert_eq!(all["epsilon_spent"], 2.0);
    assert_eq!(all["budget_remaining"], 0.0);
    let more = bookmarks(&["--group-by", "platform"]);
    let stderr = refused(&more, &token, 409, "budget_exhausted");
    assert!(
        stderr.contains("browser.bookmarks_added") && stderr.contains(&yesterday),
        "{stderr}"
    );
    // Verbatim: the API's own title for the same question.
    let problem = agent()
        .post(&format!("http://127.0.0.1:{port}/v1/query"))
        .header("authorization", &format!("Bearer {token}"))
        .send(
            &serde_json::to_vec(&serde_json::json!({
                "region": "eu",
                "metric": "browser.bookmarks_added",
                "from": yesterday,
                "to": yesterday,
                "group_by": ["platform"],
            }))
            .expect("JSON")[..],
        )
        .expect("answer");
    assert_eq!(problem.status().as_u16(), 409);
    let problem: Value =
        serde_json::from_str(&problem.into_body().read_to_string().expect("body")).expect("JSON");
    let title = problem["title"].as_str().expect("title");
    assert!(title.contains("left"), "{title}");
    assert!(
        stderr.contains(&format!("error: {title}\n")),
        "{title:?} verbatim in {stderr}"
    );

    // Revoked: 401.
    let out = candor(&["token", "revoke", "--name", "ana", "--data-dir", s(&data)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let revoked = query(port, &token, &tabs(&["--group-by", "platform"]));
    let stderr = refused(&revoked, &token, 401, "unauthorized");
    assert!(stderr.contains("unknown or revoked"), "{stderr}");

    stop(server);
    // Nothing to ask: exit 2, not 1.
    let down = query(port, &token, &tabs(&[]));
    assert_eq!(down.status.code(), Some(2), "{}", text(&down).1);
    assert!(text(&down).1.contains("cannot reach the collector"));
    assert!(!text(&down).1.contains(&token[5..]));
}

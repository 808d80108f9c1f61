//! `candor query` end to end: a real `candor serve`, sealed reports, a
//! token from `candor token create`, and the answers as a table, JSON and
//! CSV; the cache; scope, revocation and budget refusals.

use std::path::Path;
use std::process::Output;

use candor_protocol::{Day, MetricValue};
use serde_json::Value;

use crate::serve::{agent, days_ago, free_port, seed, start, stop};
use crate::{candor, candor_env, s, text};

/// Creates a token in `data` and returns it.
pub(crate) fn create_token(data: &Path, name: &str, extra: &[&str]) -> String {
    let mut args = vec!["token", "create", "--name", name, "--data-dir", s(data)];
    args.extend_from_slice(extra);
    let out = candor(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    text(&out).0.trim().to_owned()
}

/// Stores `n` reports of `browser.tabs_opened` = 3 on `platform` for the
/// closed day `day` (before the collector starts: it refuses days past
/// their window, and releases only those).
pub(crate) fn seed_tabs(data: &Path, day: Day, n: usize, platform: &str) {
    seed(
        data,
        day,
        n,
        "browser.tabs_opened",
        &MetricValue::Counter(3),
        &[("platform", platform), ("app_version", "121.3")],
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
    // A closed day: eu accepts reports until 3 days after a day.
    let closed = days_ago(10);
    // 200 devices on android and ios are far above k = 10 whatever the
    // noise on their counts (scale 8 at ε 0.5); exampleos, with 3, is
    // shown only if its noisy count reaches 10. Either way each platform is
    // shown or counted as suppressed.
    seed_tabs(&data, closed, 200, "android");
    seed_tabs(&data, closed, 200, "ios");
    seed_tabs(&data, closed, 3, "exampleos");
    let port = free_port();
    let server = start(&data, port);
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
    let tabs = |extra: &[&'static str]| tabs_today(&day, extra);

    // The table, then the same question as JSON: the cached answer, which
    // the table showed.
    let out = query(
        port,
        &token,
        &tabs(&["--group-by", "platform", "--epsilon", "0.5"]),
    );
    let (table, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!table.contains(&token[5..]) && !stderr.contains(&token[5..]));
    for expected in [
        "browser.tabs_opened",
        "purpose    usage",
        "discrete_laplace",
        "ε = 0.5",
        "k = 10",
        "noise scale 1333.33",
        "threshold 10 on counts with noise scale 8",
        "ε spent 0.5",
        "least remaining on a day of the range 0.5",
        "cached     no",
        "95% interval",
    ] {
        assert!(table.contains(expected), "{expected:?} in\n{table}");
    }
    let json = query(
        port,
        &token,
        &tabs(&["--group-by", "platform", "--epsilon", "0.5", "--json"]),
    );
    let a: Value = serde_json::from_str(&text(&json).0).expect("JSON");
    assert_eq!(a["cached"], true);
    let groups = a["groups"].as_array().expect("groups");
    let suppressed = a["suppressed"].as_u64().expect("a closed set of platforms");
    assert_eq!(groups.len() as u64 + suppressed, 3);
    let shown: Vec<&str> = groups
        .iter()
        .map(|g| g["dimensions"]["platform"].as_str().expect("platform"))
        .collect();
    assert!(shown.contains(&"android") && shown.contains(&"ios"), "{a}");
    for g in groups {
        // The table shows each group's value, clamped at 0 for people.
        let platform = g["dimensions"]["platform"].as_str().expect("platform");
        let value = g["value"].as_f64().expect("value").max(0.0);
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("{platform} ")))
            .unwrap_or_else(|| panic!("{platform} in\n{table}"));
        let shown: f64 = row
            .split_whitespace()
            .nth(1)
            .expect("a value")
            .parse()
            .expect("a number");
        assert!(
            (shown - value).abs() <= 0.01 * value.max(1.0),
            "{row} vs {value}"
        );
    }
    let line = if suppressed == 1 {
        "1 group suppressed (noisy device count below k = 10)".to_owned()
    } else {
        "0 groups suppressed (noisy device count below k = 10)".to_owned()
    };
    assert!(table.contains(&line), "{line:?} in\n{table}");

    // By day, fresh, then again with the token from the environment: the
    // cached answer.
    let by_day = tabs(&["--group-by", "day,platform", "--epsilon", "0.25", "--json"]);
    let first = query(port, &token, &by_day);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first).1);
    let first: Value = serde_json::from_str(&text(&first).0).expect("JSON");
    assert_eq!(first["cached"], false);
    assert_eq!(first["epsilon_spent"], 0.25);
    let groups = first["groups"].as_array().expect("groups");
    assert_eq!(
        groups.len() as u64 + first["suppressed"].as_u64().expect("closed"),
        3
    );
    for g in groups {
        assert_eq!(g["day"], day.as_str());
        let ci = g["ci95"].as_array().expect("ci95");
        assert_eq!(ci.len(), 2);
        assert!(ci[0].as_f64() <= g["value"].as_f64() && g["value"].as_f64() <= ci[1].as_f64());
        assert_eq!(g["k"], 10);
        assert_eq!(g["epsilon"], 0.25);
        assert_eq!(g["mechanism"], "discrete_laplace");
    }
    let url = format!("http://127.0.0.1:{port}");
    let mut args = vec!["query", "--url", url.as_str()];
    args.extend_from_slice(&by_day);
    let again = candor_env(&args, &[("CANDOR_TOKEN", &token)]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again).1);
    let again: Value = serde_json::from_str(&text(&again).0).expect("JSON");
    assert_eq!(again["cached"], true);
    assert_eq!(again["epsilon_spent"], 0.0);
    assert_eq!(again["groups"], first["groups"], "identical numbers");
    assert_eq!(again["budget_remaining"], 0.25);
    let no_token = candor(&args);
    assert_eq!(no_token.status.code(), Some(2));
    assert!(text(&no_token).1.contains("CANDOR_TOKEN"));

    // CSV of the first (now cached) question: the raw noisy values.
    let out = query(
        port,
        &token,
        &tabs(&["--group-by", "platform", "--epsilon", "0.5", "--csv"]),
    );
    let (csv, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("platform,cell,bucket,value,ci95_low,ci95_high,share,k,epsilon,mechanism")
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(
        rows.len(),
        a["groups"].as_array().expect("groups").len(),
        "{csv}"
    );
    assert!(rows[0].starts_with("android,"));
    // A table again shows the same answer as cached.
    let out = query(
        port,
        &token,
        &tabs(&["--group-by", "platform", "--epsilon", "0.5"]),
    );
    assert!(text(&out).0.contains("cached     yes"), "{}", text(&out).0);
    assert!(text(&out).0.contains("ε spent 0, "), "{}", text(&out).0);

    // Without dates: the week ending at the last closed day (today minus
    // eu's 3-day window, minus one), which is open for release.
    let out = query(
        port,
        &token,
        &["--region", "eu", "--metric", "browser.tabs_opened"],
    );
    let (table, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let expected = format!("{} to {}", days_ago(10), days_ago(4));
    assert!(table.contains(&expected), "{expected:?} in\n{table}");
    // A day still open is refused with its code, naming the last closed day.
    let today = days_ago(0).to_string();
    let open = query(
        port,
        &token,
        &[
            "--region",
            "eu",
            "--metric",
            "browser.tabs_opened",
            "--from",
            &today,
            "--to",
            &today,
        ],
    );
    let stderr = refused(&open, &token, 409, "day_not_closed");
    assert!(stderr.contains(&days_ago(4).to_string()), "{stderr}");

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

    // The budget: a fresh metric and closed day, its whole daily budget
    // (eu: 1.0 per metric) at once; any other question about that day is
    // refused, naming the metric, the day and what is left.
    let yesterday = days_ago(11).to_string();
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
    let all = bookmarks(&["--epsilon", "1.0", "--json"]);
    assert_eq!(all.status.code(), Some(0), "{}", text(&all).1);
    let all: Value = serde_json::from_str(&text(&all).0).expect("JSON");
    assert_eq!(all["epsilon_spent"], 1.0);
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

//! The analyst API over HTTP: a released answer, scope (403), revocation
//! (401), CSV, the cached repeat, the budget and audit endpoints, and no
//! token in plain form in any file or log.

use candor_collector::access::{self, Role, TokenSpec};
use candor_protocol::{Day, MetricValue, Report, ReportId, seal};
use serde_json::{Value, json};

use crate::common::{Server, agent};
use crate::privacy::captured_logs;

pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) content_type: String,
    pub(crate) text: String,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

fn send(req: ureq::RequestBuilder<ureq::typestate::WithBody>, body: &Value) -> Reply {
    let resp = req
        .header("content-type", "application/json")
        .send(body.to_string().as_bytes())
        .expect("request completes");
    reply(resp)
}

pub(crate) fn reply(resp: ureq::http::Response<ureq::Body>) -> Reply {
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = resp.into_body().read_to_string().unwrap_or_default();
    Reply {
        status,
        content_type,
        text,
    }
}

fn query(server: &Server, token: Option<&str>, body: &Value, path: &str) -> Reply {
    let mut req = agent().post(&format!("{}{path}", server.url()));
    if let Some(t) = token {
        req = req.header("authorization", &format!("Bearer {t}"));
    }
    send(req, body)
}

fn get(server: &Server, token: &str, path: &str) -> Reply {
    let resp = agent()
        .get(&format!("{}{path}", server.url()))
        .header("authorization", &format!("Bearer {token}"))
        .call()
        .expect("request completes");
    reply(resp)
}

pub(crate) fn token(
    server: &Server,
    name: &str,
    role: Role,
    regions: &[&str],
    purposes: &[&str],
) -> String {
    let config = candor_collector::Config {
        data_dir: server.dir.path().to_owned(),
        ..candor_collector::Config::default()
    };
    let spec = TokenSpec {
        name: name.into(),
        role,
        regions: regions.iter().map(|s| (*s).to_owned()).collect(),
        purposes: purposes.iter().map(|s| (*s).to_owned()).collect(),
    };
    let known = ["eu", "us", "in", "cn"].map(String::from);
    let purposes = ["usage", "diagnostics", "browsing"].map(String::from);
    access::create_token(&config, &spec, &known, &purposes, 1_800_000_000).expect("token")
}

/// `n` usage reports in eu for 2026-11-29, each with 4 tabs opened,
/// uploaded on that day; then the clock moves 4 days on, so that the day is
/// closed (eu's report window is 3 days) and can be released.
pub(crate) fn upload(server: &Server, n: usize) {
    server.clock.set(crate::common::NOON);
    let key = server.key("eu");
    for _ in 0..n {
        let mut r = Report::new(
            ReportId::random().expect("random"),
            "org.example.browser",
            3,
            "usage",
            1,
            "eu",
            Day::from_ymd(2026, 11, 29).expect("day"),
        );
        r.dimensions.insert("platform".into(), "android".into());
        r.dimensions.insert("app_version".into(), "121.3".into());
        r.metrics
            .insert("browser.tabs_opened".into(), MetricValue::Counter(4));
        assert_eq!(
            server.post("eu", &seal(&r, &key).expect("seals")).status,
            202
        );
    }
    server.clock.set(crate::common::NOON + 4 * 86_400);
}

/// The API's answer to `body` (expects 200).
pub(crate) fn query_api(server: &Server, token: &str, body: &Value) -> Value {
    let r = query(server, Some(token), body, "/v1/query");
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

fn tabs(region: &str) -> Value {
    json!({
        "region": region, "metric": "browser.tabs_opened",
        "from": "2026-11-29", "to": "2026-11-29", "group_by": ["platform"], "epsilon": 0.5,
    })
}

#[test]
fn analysts_get_noisy_answers_within_their_scope_only() {
    let logs = captured_logs();
    let server = Server::start();
    // 100 devices: the group's noisy count (scale 1/(ε/4) = 8) is far above
    // k = 10, so the group is shown.
    upload(&server, 100);
    let ana = token(&server, "ana", Role::Analyst, &["eu"], &["usage"]);

    // No token, a wrong token: 401 with the stable code.
    let none = query(&server, None, &tabs("eu"), "/v1/query");
    assert_eq!(
        (none.status, none.json()["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let wrong = query(&server, Some("cndr_00"), &tabs("eu"), "/v1/query");
    assert_eq!(wrong.status, 401);

    let first = query(&server, Some(&ana), &tabs("eu"), "/v1/query");
    assert_eq!(first.status, 200, "{}", first.text);
    let a = first.json();
    let group = &a["groups"][0];
    assert_eq!(group["dimensions"]["platform"], "android");
    assert_eq!(group["k"], 10);
    assert_eq!(group["epsilon"], 0.5);
    assert_eq!(group["mechanism"], "discrete_laplace");
    assert!(group["ci95"][0].as_f64() < group["value"].as_f64());
    // Bound 500 over the values' ¾ of ε 0.5; the counts' ¼: scale 8.
    assert!((a["noise_scale"].as_f64().unwrap() - 500.0 / 0.375).abs() < 1e-9);
    assert_eq!(a["selection_noise_scale"], 8.0);
    assert_eq!(a["threshold"], 10.0);
    // Three platforms are candidates: shown, or counted as suppressed.
    let shown = a["groups"].as_array().expect("groups").len() as u64;
    assert_eq!(shown + a["suppressed"].as_u64().expect("a count"), 3);
    assert_eq!(a["cached"], false);
    assert_eq!(a["epsilon_spent"], 0.5);

    // The same question: the same numbers, nothing spent.
    let again = query(&server, Some(&ana), &tabs("eu"), "/v1/query").json();
    assert_eq!(again["groups"], a["groups"]);
    assert_eq!(
        (again["cached"].as_bool(), again["epsilon_spent"].as_f64()),
        (Some(true), Some(0.0))
    );

    // CSV of the same (cached) answer.
    let csv = query(&server, Some(&ana), &tabs("eu"), "/v1/query?format=csv");
    assert!(csv.content_type.starts_with("text/csv"));
    let mut lines = csv.text.lines();
    assert_eq!(
        lines.next(),
        Some("platform,cell,bucket,value,ci95_low,ci95_high,share,k,epsilon,mechanism")
    );
    assert!(lines.next().expect("a row").starts_with("android,,,"));

    // Out of scope: another region, another purpose.
    for body in [
        tabs("in"),
        json!({"region": "eu", "metric": "browser.slow_domains", "from": "2026-11-29", "to": "2026-11-29"}),
    ] {
        let r = query(&server, Some(&ana), &body, "/v1/query");
        assert_eq!(
            (r.status, r.json()["code"].as_str()),
            (403, Some("forbidden")),
            "{body}"
        );
    }
    // Bad queries: stable codes.
    let bad = query(&server, Some(&ana), &json!({"region": "eu"}), "/v1/query");
    assert_eq!(
        (bad.status, bad.json()["code"].as_str()),
        (400, Some("invalid_query"))
    );

    // Budget, visible to the analyst; audit and tokens, admin only.
    let budget = get(&server, &ana, "/v1/regions/eu/budget").json();
    assert_eq!(budget["entries"][0]["metric"], "browser.tabs_opened");
    assert_eq!(budget["entries"][0]["spent"], 0.5);
    assert_eq!(get(&server, &ana, "/v1/regions/eu/audit").status, 403);
    assert_eq!(get(&server, &ana, "/v1/tokens").status, 403);
    let root = token(&server, "root", Role::Admin, &[], &[]);
    let audit = get(&server, &root, "/v1/regions/eu/audit").json();
    assert_eq!(audit["verified"], true);
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    // Retention runs at start, in parallel with the test's first steps.
    assert!(actions.contains(&"retention"), "{actions:?}");
    let actions: Vec<&str> = actions.into_iter().filter(|a| *a != "retention").collect();
    assert_eq!(
        actions,
        [
            "key.generate",
            "token.create",
            "query",
            "query",
            "query",
            "token.create"
        ]
    );
    let tokens = get(&server, &root, "/v1/tokens");
    assert_eq!(tokens.status, 200);
    assert!(!tokens.text.contains("hash"));

    // Revoked: 401 at once.
    let config = candor_collector::Config {
        data_dir: server.dir.path().to_owned(),
        ..candor_collector::Config::default()
    };
    access::revoke_token(&config, "ana", &["eu".into()], 1_800_000_100).expect("revoke");
    assert_eq!(
        query(&server, Some(&ana), &tabs("eu"), "/v1/query").status,
        401
    );

    // No token in plain form anywhere on disk or in the logs.
    let dir = server.stop();
    for t in [&ana, &root] {
        for file in walk(dir.path()) {
            let bytes = std::fs::read(&file).expect("read");
            assert!(
                !bytes.windows(t.len()).any(|w| w == t.as_bytes()),
                "token found in {}",
                file.display()
            );
        }
        let logged = logs.lock().expect("logs");
        assert!(
            !logged.windows(t.len()).any(|w| w == t.as_bytes()),
            "token logged"
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn the_ledger_and_the_cache_survive_a_restart() {
    let server = Server::start();
    upload(&server, 20);
    let ana = token(&server, "ana", Role::Analyst, &["eu"], &["usage"]);
    let first = query_api(&server, &ana, &tabs("eu"));
    let dir = server.stop();
    // A new collector process on the same data directory.
    let again = Server::start_with(|c| c.data_dir = dir.path().to_owned());
    again.clock.set(crate::common::NOON + 4 * 86_400);
    let repeat = query_api(&again, &ana, &tabs("eu"));
    assert_eq!(repeat["cached"], true);
    assert_eq!(
        repeat["groups"], first["groups"],
        "the same numbers after a restart"
    );
    assert_eq!(repeat["budget_remaining"], first["budget_remaining"]);
    // The ledger kept the first spend: 1.0 − 0.5 left, so ε 0.6 more is refused.
    let mut greedy = tabs("eu");
    greedy["epsilon"] = json!(0.6);
    let refused = query(&again, Some(&ana), &greedy, "/v1/query");
    assert_eq!(refused.status, 409, "{}", refused.text);
    assert!(
        refused.json()["title"]
            .as_str()
            .unwrap_or("")
            .contains("browser.tabs_opened")
    );
    again.stop();
    drop(dir);
}

#[test]
fn a_query_survives_json_exactly() {
    // Found by the query_json fuzz target: without serde_json's
    // float_roundtrip the ε read back from a query's own JSON was 1 ulp off,
    // so client, server, cache and audit log could disagree on it.
    let text = r#"{"region": "eu", "metric": "app.opened", "from": "2026-11-01",
        "to": "2026-11-28", "epsilon": 33333333333333333333333333333333.45}"#;
    let q: candor_collector::release::Query = serde_json::from_str(text).expect("parses");
    let once = serde_json::to_string(&q).expect("serializes");
    let back: candor_collector::release::Query = serde_json::from_str(&once).expect("parses");
    assert_eq!(back, q);
    assert_eq!(serde_json::to_string(&back).expect("serializes"), once);
    for eps in [
        0.1,
        1.0 / 3.0,
        2.0_f64.sqrt(),
        5e-324,
        1.7976931348623157e308,
    ] {
        let json = serde_json::to_string(&eps).expect("f64");
        assert_eq!(serde_json::from_str::<f64>(&json).expect("f64"), eps);
    }
}

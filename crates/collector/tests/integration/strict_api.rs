//! The API's edges: the upload media type (415), problem+json for every
//! error of every route, authentication before parameter checks, duplicate,
//! empty and unknown parameters refused, and `too_large` naming the limit.

use access::Role;
use candor_collector::access;
use candor_protocol::batch;

use crate::common::{Server, agent};
use crate::query::{Reply, reply, token};

/// Asserts a problem+json answer with `status` and `code`.
fn assert_problem(r: &Reply, status: u16, code: &str) {
    let json = r.json();
    assert_eq!(r.status, status, "{code}: {json:?}");
    assert_eq!(r.content_type, "application/problem+json", "{code}");
    assert_eq!(json["code"], code, "{json:?}");
    assert_eq!(json["status"], status);
    assert_eq!(json["type"], format!("urn:candor:problem:{code}"));
    assert!(json["title"].as_str().is_some_and(|t| !t.is_empty()));
}

fn upload(server: &Server, content_type: Option<&str>, body: &[u8]) -> Reply {
    let mut req = agent().post(&format!("{}/v1/regions/eu/reports", server.url()));
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    reply(req.send(body).expect("request completes"))
}

#[test]
fn uploads_need_the_report_media_type() {
    let server = Server::start();
    let report = {
        let mut r = candor_protocol::Report::new(
            candor_protocol::ReportId::random().expect("random"),
            "org.example.browser",
            3,
            "usage",
            1,
            "eu",
            candor_protocol::Day::from_ymd(2026, 11, 29).expect("day"),
        );
        r.metrics.insert(
            "browser.tabs_opened".into(),
            candor_protocol::MetricValue::Counter(1),
        );
        candor_protocol::seal(&r, &server.key("eu")).expect("seal")
    };
    let before = server.snapshot();
    for ct in [
        Some("application/octet-stream"),
        Some("text/plain"),
        Some("application/json"),
        Some("application/vnd.candor.reports"),
        None,
    ] {
        assert_problem(&upload(&server, ct, &report), 415, "unsupported_media_type");
    }
    assert_eq!(server.snapshot(), before, "a 415 changed the store");
    // The documented type, in any case and with parameters, is accepted.
    for ct in [
        "application/vnd.candor.report",
        "Application/VND.Candor.Report; charset=binary",
    ] {
        let answer = upload(&server, Some(ct), &report);
        assert_eq!(answer.status, 202, "{ct}: {:?}", answer.json());
    }
    let m = server.running.collector.metrics();
    assert_eq!(m.reports_with("rejected", "unsupported_media_type"), 5);
    server.stop();
}

#[test]
fn too_large_names_the_limit_that_was_passed() {
    let server = Server::start_with(|c| c.ingest.max_body_bytes = 100_000);
    let ct = Some("application/vnd.candor.report");
    let before = server.snapshot();
    // A batch header declaring 65,535 envelopes.
    let mut body = b"CNDB\x01\xff\xff".to_vec();
    body.extend_from_slice(&[0; 64]);
    let r = upload(&server, ct, &body);
    assert_problem(&r, 413, "too_large");
    let title = r.json()["title"].as_str().expect("title").to_owned();
    assert!(
        title.contains("65535 envelopes") && title.contains("1000 envelopes"),
        "{title}"
    );
    // An envelope over the envelope limit inside a batch.
    let big = vec![0x43; 40_000];
    let body = {
        let mut b = b"CNDB\x01\x00\x01".to_vec();
        b.extend_from_slice(&(big.len() as u32).to_be_bytes());
        b.extend_from_slice(&big);
        b
    };
    let r = upload(&server, ct, &body);
    assert_problem(&r, 413, "too_large");
    let title = r.json()["title"].as_str().expect("title").to_owned();
    assert!(
        title.contains("envelope is 40000 bytes") && title.contains("33280 bytes"),
        "{title}"
    );
    // A body over the configured request limit.
    let r = upload(&server, ct, &vec![0; 100_001]);
    assert_problem(&r, 413, "too_large");
    let title = r.json()["title"].as_str().expect("title").to_owned();
    assert!(
        title.contains("request body") && title.contains("100000 bytes"),
        "{title}"
    );
    // The batch encoder and decoder agree on the count limit.
    let too_many: Vec<Vec<u8>> = vec![vec![1]; 1001];
    assert!(batch::encode(&too_many).is_err());
    assert_eq!(server.snapshot(), before);
    server.stop();
}

#[test]
fn authentication_comes_before_parameters_and_parameters_are_strict() {
    let server = Server::start();
    let analyst = token(&server, "ana", Role::Analyst, &["eu"], &[]);
    let admin = token(&server, "root", Role::Admin, &[], &[]);
    let body = serde_json::json!({"region": "eu", "metric": "browser.tabs_opened",
        "from": "2026-11-20", "to": "2026-11-21"});
    let post = |path: &str, token: Option<&str>| {
        let mut req = agent().post(&format!("{}{path}", server.url()));
        if let Some(t) = token {
            req = req.header("authorization", &format!("Bearer {t}"));
        }
        reply(
            req.header("content-type", "application/json")
                .send(body.to_string().as_bytes())
                .expect("completes"),
        )
    };
    let bad = [
        "/v1/query?format=a&format=b",
        "/v1/query?format=csv&format=csv",
        "/v1/query?format=",
        "/v1/query?format",
        "/v1/query?format=xml",
        "/v1/query?fromat=csv",
        "/v1/query?format=%zz",
    ];
    for path in bad {
        // Without a token: 401 first, whatever the parameters.
        assert_problem(&post(path, None), 401, "unauthorized");
        assert_problem(&post(path, Some("not-a-token")), 401, "unauthorized");
        // With one: the parameter is refused.
        assert_problem(&post(path, Some(&analyst)), 400, "invalid_parameter");
    }
    // A good parameter still works.
    let ok = post("/v1/query?format=json", Some(&analyst));
    assert_ne!(ok.status, 400, "{:?}", ok.json());
    let get = |path: &str, token: Option<&str>| {
        let mut req = agent().get(&format!("{}{path}", server.url()));
        if let Some(t) = token {
            req = req.header("authorization", &format!("Bearer {t}"));
        }
        reply(req.call().expect("completes"))
    };
    for path in [
        "/v1/regions/eu/budget?x=1",
        "/v1/regions/eu/audit?x=1",
        "/v1/tokens?x=1",
        "/v1/tokens?x=1&x=1",
    ] {
        assert_problem(&get(path, None), 401, "unauthorized");
        assert_problem(&get(path, Some(&admin)), 400, "invalid_parameter");
    }
    for path in [
        "/v1/regions/eu/keys?x=1",
        "/v1/schema?x=",
        "/v1/schema?a=1&a=2",
    ] {
        assert_problem(&get(path, None), 400, "invalid_parameter");
    }
    server.stop();
}

#[test]
fn every_error_of_every_route_is_problem_json() {
    let server = Server::start();
    let get = |path: &str| {
        reply(
            agent()
                .get(&format!("{}{path}", server.url()))
                .call()
                .expect("completes"),
        )
    };
    assert_problem(&get("/v1/nothing-here"), 404, "not_found");
    // `/` leads to the dashboard (tests/integration/dashboard.rs); any other
    // unknown path outside the API is a problem too.
    assert_problem(&get("/nothing-here"), 404, "not_found");
    assert_problem(&get("/v1/regions/mars/keys"), 404, "unknown_region");
    assert_problem(&get("/v1/tokens"), 401, "unauthorized");
    // A wrong method keeps its Allow header.
    let resp = agent()
        .delete(&format!("{}/v1/schema", server.url()))
        .call()
        .expect("completes");
    let allow = resp.headers().get("allow").cloned();
    assert_problem(&reply(resp), 405, "method_not_allowed");
    assert!(allow.is_some());
    let r = reply(
        agent()
            .get(&format!("{}/v1/query", server.url()))
            .call()
            .expect("completes"),
    );
    assert_problem(&r, 405, "method_not_allowed");
    // A region path that is not valid percent-encoding.
    assert_problem(&get("/v1/regions/%ff/keys"), 400, "invalid_request");
    server.stop();
}

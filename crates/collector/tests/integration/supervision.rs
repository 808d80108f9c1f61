//! Supervision from outside: an auditor token reads the audit log, the
//! ledger and the schema of its regions and is refused every data query
//! (the API's and the dashboard explorer's) with 403 `forbidden`, spending
//! nothing and logging nothing; the audit chain's head is served signed
//! with the region signing key to anyone, and follows every append, also
//! those made on the machine while the collector runs.

use candor_collector::access::Role;
use candor_protocol::VerifyingKey;
use candor_protocol::audit_head::SignedHead;
use serde_json::{Value, json};

use crate::common::{Server, agent};
use crate::dashboard::{hidden, post_form, sign_in};
use crate::query::{Reply, query_api, reply, token, upload};

fn get(server: &Server, token: Option<&str>, path: &str) -> Reply {
    let mut req = agent().get(&format!("{}{path}", server.url()));
    if let Some(t) = token {
        req = req.header("authorization", &format!("Bearer {t}"));
    }
    reply(req.call().expect("request completes"))
}

fn tabs() -> Value {
    json!({
        "region": "eu", "metric": "browser.tabs_opened",
        "from": "2026-11-29", "to": "2026-11-29", "group_by": ["platform"], "epsilon": 0.5,
    })
}

#[test]
fn an_auditor_reads_the_log_and_the_ledger_and_is_refused_every_data_query() {
    let server = Server::start();
    upload(&server, 40);
    let ana = token(&server, "ana", Role::Analyst, &["eu"], &[]);
    query_api(&server, &ana, &tabs());
    let auditor = token(&server, "aud", Role::Auditor, &["eu"], &[]);

    let log = get(&server, Some(&auditor), "/v1/regions/eu/audit");
    assert_eq!(log.status, 200, "{}", log.text);
    let log = log.json();
    assert_eq!(log["verified"], true);
    let entries = log["entries"].as_array().expect("entries");
    assert!(entries.iter().any(|e| e["action"] == "query"));
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "key.generate" && e["detail"]["key_id"].is_u64()),
        "the key history is in the log"
    );
    // The exact text hashed and the link, so an outsider can recompute.
    assert!(entries[0]["detail_text"].is_string() && entries[0]["prev"].is_string());
    let budget = get(&server, Some(&auditor), "/v1/regions/eu/budget");
    assert_eq!(budget.status, 200, "{}", budget.text);
    let ledger = budget.json();
    assert_eq!(ledger["entries"][0]["metric"], "browser.tabs_opened");
    assert_eq!(ledger["entries"][0]["spent"], 0.5);
    assert_eq!(get(&server, Some(&auditor), "/v1/schema").status, 200);

    // Every data query is refused: a new one, the analyst's cached one,
    // and the dashboard's explorer; nothing is spent or logged.
    for q in [
        tabs(),
        json!({"region": "eu", "metric": "settings.dark_mode",
                             "from": "2026-11-29", "to": "2026-11-29"}),
    ] {
        let refused = reply(
            agent()
                .post(&format!("{}/v1/query", server.url()))
                .header("authorization", &format!("Bearer {auditor}"))
                .header("content-type", "application/json")
                .send(q.to_string().as_bytes())
                .expect("request completes"),
        );
        assert_eq!(refused.status, 403, "{}", refused.text);
        assert!(refused.content_type.starts_with("application/problem+json"));
        assert_eq!(refused.json()["code"], "forbidden");
    }
    let session = sign_in(&server, &auditor).expect("an auditor signs in");
    let form = crate::dashboard::get(
        &server,
        "/dashboard/explore?metric=browser.tabs_opened&region=eu",
        &session,
    );
    let csrf = hidden(&form.body, "csrf");
    let explored = post_form(
        &server,
        "/dashboard/explore",
        &session,
        &[
            ("metric", "browser.tabs_opened"),
            ("region", "eu"),
            ("from", "2026-11-29"),
            ("to", "2026-11-29"),
            ("csrf", &csrf),
        ],
    );
    assert_eq!(explored.status, 403, "{}", explored.body);
    assert!(!explored.body.contains("data-value="));
    let audit_page = crate::dashboard::get(&server, "/dashboard/audit", &session);
    assert_eq!(audit_page.status, 200, "the audit page is for auditors too");
    let after = get(&server, Some(&auditor), "/v1/regions/eu/audit").json();
    assert_eq!(after["entries"], log["entries"], "refusals log nothing");
    assert_eq!(
        get(&server, Some(&auditor), "/v1/regions/eu/budget").json(),
        ledger,
        "refusals spend nothing"
    );

    // Scoped by region like any token; no token list, no exact counts.
    assert_eq!(
        get(&server, Some(&auditor), "/v1/regions/us/audit").status,
        403
    );
    assert_eq!(get(&server, Some(&auditor), "/v1/tokens").status, 403);
    assert_eq!(get(&server, Some(&auditor), "/metrics").status, 403);
    // An analyst still may not read the log.
    assert_eq!(get(&server, Some(&ana), "/v1/regions/eu/audit").status, 403);
    server.stop();
}

#[test]
fn the_signed_head_is_public_and_follows_every_append() {
    let server = Server::start();
    let key = VerifyingKey::from_json(
        &std::fs::read(server.dir.path().join("eu/keys/signing.public.json"))
            .expect("the collector made eu's signing key on first start"),
    )
    .expect("a signing key");
    let admin = token(&server, "root", Role::Admin, &[], &[]);
    let signed_now = || {
        let r = get(&server, None, "/v1/regions/eu/audit/head");
        assert_eq!(r.status, 200, "no token needed: {}", r.text);
        assert_eq!(r.content_type, "application/json");
        let head = SignedHead::from_json(r.text.as_bytes()).expect("a signed head");
        assert_eq!(head.verify(&key), Ok(()));
        let log = get(&server, Some(&admin), "/v1/regions/eu/audit").json();
        assert_eq!(
            log["head"],
            format!("{}:{}", head.seq, hex::encode(head.head)),
            "the signed head is the log's head"
        );
        head
    };
    // The first start's key entries, then token.create for root.
    let first = signed_now();
    assert!(first.seq >= 2, "{first:?}");
    assert_eq!(signed_now(), first, "an unchanged head is not re-signed");
    // An append made on the machine (not through this collector) moves
    // the published head at once.
    token(&server, "aud", Role::Auditor, &["eu"], &[]);
    let moved = signed_now();
    assert_eq!(moved.seq, first.seq + 1);
    assert_ne!(moved.head, first.head);
    // Another region's key does not verify eu's head.
    let us = VerifyingKey::from_json(
        &std::fs::read(server.dir.path().join("us/keys/signing.public.json")).expect("us key"),
    )
    .expect("a signing key");
    assert!(moved.verify(&us).is_err());
    let unknown = get(&server, None, "/v1/regions/mars/audit/head");
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["code"], "unknown_region");
    server.stop();
}

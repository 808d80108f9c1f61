use std::collections::BTreeSet;
use std::path::Path;

use candor_collector::http::ROUTES;

use crate::common::{NOON, Server, agent};

#[test]
fn openapi_document_lists_exactly_the_routes() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("docs/openapi.json"))
            .expect("json");
    let mut documented = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for method in ops.as_object().expect("operations").keys() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                documented.insert((method.clone(), path.clone()));
            }
        }
    }
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(
        documented, served,
        "docs/openapi.json and the router disagree"
    );
}

fn get(server: &Server, path: &str) -> (u16, String, String) {
    let resp = agent()
        .get(&format!("{}{path}", server.url()))
        .call()
        .expect("request");
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, ct, resp.into_body().read_to_string().expect("body"))
}

#[test]
fn read_endpoints_answer() {
    let server = Server::start();
    let (status, ct, keys) = get(&server, "/v1/regions/eu/keys");
    assert_eq!((status, ct.as_str()), (200, "application/json"));
    assert!(!keys.contains("private_key"));
    let keys = crate::common::verified_keys(&keys, &server.signing_key("eu"), NOON);
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].region(), "eu");
    let (status, _, body) = get(&server, "/v1/regions/mars/keys");
    assert_eq!(status, 404);
    assert!(body.contains("unknown_region"));

    let (status, ct, schema) = get(&server, "/v1/schema");
    assert_eq!((status, ct.as_str()), (200, "application/json"));
    let schema: serde_json::Value = serde_json::from_str(&schema).expect("json");
    assert_eq!(schema["schemas"][0]["id"], "org.example.browser");

    let (status, ct, page) = get(&server, "/privacy");
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/html"));
    assert!(page.contains("browser.slow_domains"));

    assert_eq!(get(&server, "/healthz").0, 200);
    assert_eq!(get(&server, "/readyz").0, 200);
    // Exact operational counts: an admin token of every region only.
    assert_eq!(get(&server, "/metrics").0, 401);
    let config = candor_collector::Config {
        data_dir: server.dir.path().to_owned(),
        ..candor_collector::Config::default()
    };
    let known = ["eu", "us"].map(String::from);
    let purposes = ["usage", "diagnostics", "browsing"].map(String::from);
    let token = |name: &str, role, regions: &[&str]| {
        let spec = candor_collector::access::TokenSpec {
            name: name.into(),
            role,
            regions: regions.iter().map(|r| (*r).to_owned()).collect(),
            purposes: vec![],
        };
        candor_collector::access::create_token(&config, &spec, &known, &purposes, 1_800_000_000)
            .expect("token")
    };
    let analyst = token("ana", candor_collector::access::Role::Analyst, &[]);
    let eu_admin = token("eu-admin", candor_collector::access::Role::Admin, &["eu"]);
    let admin = token("root", candor_collector::access::Role::Admin, &[]);
    let with = |t: &str| {
        let resp = crate::common::agent()
            .get(&format!("{}/metrics", server.url()))
            .header("authorization", &format!("Bearer {t}"))
            .call()
            .expect("request completes");
        let status = resp.status().as_u16();
        (
            status,
            resp.into_body().read_to_string().unwrap_or_default(),
        )
    };
    assert_eq!(with(&analyst).0, 403);
    assert_eq!(with(&eu_admin).0, 403, "us's counts are not in its scope");
    let (status, metrics) = with(&admin);
    assert_eq!(status, 200);
    assert!(metrics.contains("# TYPE candor_reports_total counter"));
    assert!(metrics.contains("candor_writer_queue_reports{region=\"eu\"} 0"));
    server.stop();
}

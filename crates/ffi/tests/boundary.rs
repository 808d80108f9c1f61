//! The bindings' entry points, called as the generated code calls them:
//! invalid input through every one of them gives an error value or a
//! counted reason, never a panic (acceptance 5); and the scenario of the
//! language tests (consent, every metric type, day end, upload through a
//! host uploader, revoke, private mode) on the Rust side of the boundary.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use candor_ffi::{
    CandorError, Client, ClientOptions, HostError, HostUploader, KeyListOutcome, ReportOutcome,
    UploadOutcome,
};
use candor_protocol::{KeyList, KeyPair, SigningKey};
use serde_json::Value;

const SCHEMA: &str = include_str!("../../../examples/browser.toml");
/// 2026-11-29T12:00:00Z.
const NOON: i64 = 1_795_953_600;

/// A region `eu` signing key and a key list it signed at [`NOON`].
struct Region {
    signing_json: String,
    list_json: String,
}

fn region() -> Region {
    let key = KeyPair::generate("eu", 1).expect("key");
    let signing = SigningKey::generate("eu").expect("signing key");
    let list = KeyList {
        region: "eu".into(),
        serial: 1,
        issued_at: NOON - 86_400,
        expires_at: NOON + 30 * 86_400,
        keys: vec![key.config().clone()],
    }
    .sign(&signing)
    .expect("signs");
    Region {
        signing_json: signing.verifying_key().to_json(),
        list_json: list.to_json(),
    }
}

fn options(dir: &std::path::Path, region: &Region) -> ClientOptions {
    ClientOptions {
        data_dir: dir.display().to_string(),
        schema_toml: SCHEMA.into(),
        signing_key_json: region.signing_json.clone(),
        key_list_json: Some(region.list_json.clone()),
        dimensions: HashMap::from([("platform".into(), "android".into())]),
        collector_url: None,
        collector_ca_pem: None,
        persist_interval_seconds: 0,
        auto_upload: false,
        fixed_time: Some(NOON),
    }
}

/// What a host uploader was asked, and what it answers.
#[derive(Default)]
struct Host {
    bodies: Mutex<Vec<usize>>,
    answer: Mutex<Option<Result<UploadOutcome, HostError>>>,
}

/// The adapter the bindings get: the shared [`Host`] behind a box.
struct SharedHost(Arc<Host>);

impl HostUploader for SharedHost {
    fn upload(&self, _region: String, body: Vec<u8>) -> Result<UploadOutcome, HostError> {
        self.0.bodies.lock().unwrap().push(body.len());
        self.0
            .answer
            .lock()
            .unwrap()
            .clone()
            .unwrap_or(Ok(UploadOutcome::Results {
                results: vec![ReportOutcome::Accepted],
            }))
    }

    fn fetch_key_list(&self, _region: String) -> Result<KeyListOutcome, HostError> {
        Err(HostError::Failed {
            reason: "offline".into(),
        })
    }
}

/// A client uploading through a [`Host`] the test steers.
fn hosted(dir: &std::path::Path, region: &Region) -> (Arc<Client>, Arc<Host>) {
    let host = Arc::new(Host::default());
    let client =
        Client::open_with_uploader(options(dir, region), Box::new(SharedHost(host.clone())))
            .expect("opens");
    (client, host)
}

fn code<T: std::fmt::Debug>(r: Result<T, CandorError>) -> String {
    r.expect_err("an error value").code().to_owned()
}

fn reports(client: &Client) -> Vec<Value> {
    client
        .pending_reports()
        .iter()
        .map(|r| serde_json::from_str(r).expect("JSON"))
        .collect()
}

#[test]
fn invalid_input_to_open_is_an_error_value_with_a_stable_code() {
    let tmp = tempfile::tempdir().unwrap();
    let r = region();
    let ok = || options(tmp.path(), &r);

    let mut o = ok();
    o.signing_key_json = "not json".into();
    assert_eq!(code(Client::open(o)), "invalid_key");

    let mut o = ok();
    o.schema_toml = "[schema\nid = ".into();
    let err = Client::open(o).expect_err("bad TOML");
    assert!(matches!(err, CandorError::Schema { .. }), "{err:?}");

    let mut o = ok();
    o.schema_toml = SCHEMA.replace("purpose = \"usage\"", "purpose = \"ads\"");
    assert_eq!(code(Client::open(o)), "unknown_purpose");

    let mut o = ok();
    o.signing_key_json = SigningKey::generate("mars")
        .unwrap()
        .verifying_key()
        .to_json();
    assert_eq!(
        code(Client::open(o)),
        "invalid_config",
        "region not in the schema"
    );

    let mut o = ok();
    o.collector_url = Some("http://127.0.0.1:9".into());
    let host = Box::new(SharedHost(Arc::default()));
    assert_eq!(code(Client::open_with_uploader(o, host)), "invalid_config");

    let mut o = ok();
    o.collector_url = Some("http://127.0.0.1:9".into());
    o.collector_ca_pem = Some("no PEM here".into());
    assert_eq!(code(Client::open(o)), "invalid_ca");

    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let mut o = ok();
    o.data_dir = file.join("under-a-file").display().to_string();
    assert_eq!(code(Client::open(o)), "storage");

    // A refused bundled key list is not an open error: the SDK counts it
    // and seals nothing until a valid one arrives.
    let mut o = ok();
    o.key_list_json = Some("{\"payload\": 1}".into());
    let client = Client::open(o).expect("opens");
    assert!(
        client.error_counts().contains_key("*keys"),
        "{:?}",
        client.error_counts()
    );
}

#[test]
fn invalid_input_to_every_client_and_handle_entry_point_is_counted_or_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let r = region();
    let (client, host) = hosted(tmp.path(), &r);

    assert_eq!(code(client.grant("ads".into())), "unknown_purpose");
    assert_eq!(code(client.revoke(String::new())), "unknown_purpose");
    assert_eq!(
        code(client.set_key_list("garbage".into())),
        "malformed_key_list"
    );
    assert!(client.set_key_list(r.list_json.clone()).is_ok());
    client.grant("usage".into()).expect("grant");
    client.grant("browsing".into()).expect("grant");

    // Every handle, with ids that are unknown or of another type, and
    // values outside the rules: nothing is recorded, everything is counted.
    client.counter("no.such".into()).add(1);
    client.counter("app.opened".into()).add(1);
    let tabs = client.counter("browser.tabs_opened".into());
    tabs.add(-1);
    tabs.add(i64::MAX);
    tabs.private(true).add(-5);
    let opened = client.labeled_counter("app.opened".into());
    opened.add("no-such-label".into(), 1);
    opened.add("camera".into(), i64::MIN);
    opened.add("\u{0}\u{ffff}".into(), 1);
    opened.label("no-such-label".into()).add(1);
    opened.label("camera".into()).add(-7);
    client.boolean("browser.tabs_opened".into()).set(true);
    client
        .category("settings.text_size".into())
        .set("huge".into());
    client
        .category("settings.text_size".into())
        .set(String::new());
    let minutes = client.distribution("browser.session_minutes".into());
    minutes.accumulate(-3);
    minutes.accumulate(i64::MIN);
    let domains = client.domain_set("browser.slow_domains".into());
    for url in [
        "",
        "javascript:alert(1)",
        "http://127.0.0.1/",
        "https://localhost/",
        "::",
    ] {
        domains.record_url(url.into());
    }
    domains.record_url("x".repeat(100_000));
    client.activity("browser.tabs_opened".into()).active();
    client.activity("nope".into()).active();

    let counts = client.error_counts();
    let count = |id: &str, code: &str| counts.get(id).and_then(|c| c.get(code)).copied();
    assert!(count("*", "unknown_metric").unwrap_or(0) >= 2, "{counts:?}");
    assert_eq!(count("app.opened", "wrong_type"), Some(1), "{counts:?}");
    assert_eq!(
        count("browser.tabs_opened", "negative_value"),
        Some(1),
        "private: not counted"
    );
    assert_eq!(count("browser.tabs_opened", "overflow"), Some(1));
    assert_eq!(count("app.opened", "unknown_label"), Some(3));
    assert_eq!(count("app.opened", "negative_value"), Some(2));
    assert_eq!(count("settings.text_size", "unknown_label"), Some(2));
    assert_eq!(count("browser.session_minutes", "negative_value"), Some(2));
    assert_eq!(count("browser.slow_domains", "url_dropped"), Some(6));
    assert!(
        !counts.contains_key("*ffi"),
        "no panic was caught: {counts:?}"
    );

    // Nothing of that was recorded: the day ends with nothing to report.
    client.end_day();
    assert_eq!(client.pending_reports(), Vec::<String>::new());
    assert_eq!(client.sent_reports(u32::MAX), Vec::<String>::new());
    assert_eq!(client.sent_reports(0), Vec::<String>::new());

    // A host that fails, answers for the wrong number of reports, or
    // refuses: the reports stay queued or are dropped, never a crash.
    client.set_time(NOON + 86_400).expect("fixed clock");
    tabs.add(2);
    client.end_day();
    assert_eq!(client.pending_reports().len(), 1);
    *host.answer.lock().unwrap() = Some(Err(HostError::Failed {
        reason: "offline".into(),
    }));
    let s = client.upload();
    assert_eq!((s.accepted, s.remaining), (0, 1), "{s:?}");
    assert!(s.retry_at.is_some(), "backs off: {s:?}");
    client.set_time(NOON + 2 * 86_400 - 1).unwrap();
    *host.answer.lock().unwrap() = Some(Ok(UploadOutcome::Results { results: vec![] }));
    let s = client.upload();
    assert_eq!((s.accepted, s.remaining), (0, 1), "{s:?}");
    client.set_time(NOON + 2 * 86_400 + 43_000).unwrap();
    *host.answer.lock().unwrap() = Some(Ok(UploadOutcome::Rejected {
        code: "bad_request".into(),
    }));
    let s = client.upload();
    assert_eq!((s.rejected, s.remaining), (1, 0), "{s:?}");
    assert!(host.bodies.lock().unwrap().len() >= 2);

    // The flags and the clock, on and off again.
    client.set_global_opt_out(true).unwrap();
    client.set_global_opt_out(false).unwrap();
    client.set_child_profile(true).unwrap();
    client.set_child_profile(false).unwrap();
    client.set_private_mode(true);
    client.set_private_mode(false);
    client.set_time(i64::MIN).unwrap();
    tabs.add(1);
    client.flush();
    client.end_day();
    client.set_time(i64::MAX).unwrap();
    tabs.add(1);
    client.flush();
    client.upload();
    client.delete_all_data();
    assert_eq!(client.pending_reports(), Vec::<String>::new());
    assert!(!client.error_counts().contains_key("*ffi"));

    // A client on the system clock refuses set_time.
    let tmp2 = tempfile::tempdir().unwrap();
    let mut o = options(tmp2.path(), &r);
    o.fixed_time = None;
    let real = Client::open(o).expect("opens");
    assert_eq!(code(real.set_time(0)), "invalid_config");
}

#[test]
fn scenario_consent_every_type_day_end_upload_revoke_and_private_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let r = region();
    let (client, host) = hosted(tmp.path(), &r);
    let tabs = client.counter("browser.tabs_opened".into());

    // Default deny: nothing is recorded before a grant.
    tabs.add(5);
    let receipt = client.grant("usage".into()).expect("grant");
    assert!(receipt.granted);
    assert_eq!(
        (receipt.purpose.as_str(), receipt.consent_version),
        ("usage", 1)
    );
    client.grant("browsing".into()).expect("grant");
    assert!(client.consent_status()["usage"].collecting);

    // Private mode: nothing is recorded (usage is not allowed in it).
    client.set_private_mode(true);
    tabs.add(100);
    client.set_private_mode(false);
    tabs.private(true).add(100);

    tabs.add(2);
    tabs.add(1);
    client
        .labeled_counter("app.opened".into())
        .add("camera".into(), 2);
    client.boolean("settings.dark_mode".into()).set(true);
    client
        .category("settings.text_size".into())
        .set("large".into());
    client
        .distribution("browser.session_minutes".into())
        .accumulate(10);
    client
        .domain_set("browser.slow_domains".into())
        .record_url("https://www.news.example.co.uk/a?b=c".into());
    client.activity("app.active".into()).active();
    client.end_day();

    let pending = reports(&client);
    assert_eq!(pending.len(), 2, "{pending:?}");
    let usage = pending.iter().find(|p| p["purpose"] == "usage").unwrap();
    let m = &usage["metrics"];
    assert_eq!(m["browser.tabs_opened"]["value"], 3, "{usage}");
    assert_eq!(m["app.opened"]["value"]["camera"], 2);
    assert_eq!(m["browser.session_minutes"]["type"], "distribution");
    assert!(m["settings.dark_mode"]["value"].is_boolean());
    assert!(m["settings.text_size"]["value"].is_string());
    assert_eq!(m["app.active"]["type"], "activity");
    let browsing = pending.iter().find(|p| p["purpose"] == "browsing").unwrap();
    assert_eq!(
        browsing["metrics"]["browser.slow_domains"]["value"],
        serde_json::json!(["example.co.uk"])
    );

    // Revoking browsing purges its queued report at once.
    let receipt = client.revoke("browsing".into()).expect("revoke");
    assert!(!receipt.granted);
    let pending = reports(&client);
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["purpose"], "usage");
    assert_eq!(client.receipts().len(), 3);

    // Upload through the host: the sent view holds the exact JSON.
    let s = client.upload();
    assert_eq!((s.accepted, s.remaining), (1, 0), "{s:?}");
    assert_eq!(host.bodies.lock().unwrap().len(), 1);
    let sent = client.sent_reports(7);
    assert_eq!(sent.len(), 1);
    let sent: Value = serde_json::from_str(&sent[0]).unwrap();
    assert_eq!(sent["metrics"]["browser.tabs_opened"]["value"], 3);
}

#[test]
fn handles_record_from_many_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let r = region();
    let client = Client::open(options(tmp.path(), &r)).expect("opens");
    client.grant("usage".into()).unwrap();
    let tabs = client.counter("browser.tabs_opened".into());
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let tabs = tabs.clone();
            std::thread::spawn(move || {
                for _ in 0..50 {
                    tabs.add(1);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    client.end_day();
    let pending = reports(&client);
    // 400 is under the schema's bound of 500 per report: none is lost.
    assert_eq!(pending[0]["metrics"]["browser.tabs_opened"]["value"], 400);
}

use candor_protocol::{Day, KeyConfig, KeyPair, MetricValue, Report, ReportId, batch, seal};

use crate::common::{Server, post_raw};

fn report(purpose: &str, region: &str) -> Report {
    let mut r = Report::new(
        ReportId::random().expect("random"),
        "org.example.browser",
        3,
        purpose,
        if purpose == "diagnostics" { 2 } else { 1 },
        region,
        Day::from_ymd(2026, 11, 29).expect("day"),
    );
    r.dimensions.insert("platform".into(), "android".into());
    if purpose == "usage" || purpose == "ads" {
        r.metrics
            .insert("browser.tabs_opened".into(), MetricValue::Counter(3));
    }
    r
}

fn sealed(r: &Report, key: &KeyConfig) -> Vec<u8> {
    seal(r, key).expect("seals")
}

fn expect_rejected(server: &Server, region: &str, body: &[u8], status: u16, code: &str) {
    let before = server.snapshot();
    let answer = post_raw(&server.url(), region, body, &[]);
    assert_eq!(answer.status, status, "{code}: {answer:?}");
    assert_eq!(answer.json["code"], code, "{answer:?}");
    assert_eq!(answer.content_type, "application/problem+json");
    assert_eq!(server.snapshot(), before, "{code} changed the database");
    // The same report inside a batch is refused alone, with the same code.
    if let Ok(parts) = batch::split_upload(body)
        && parts.len() == 1
        && status != 413
    {
        let good = sealed(&report("usage", "eu"), &server.key("eu"));
        let body = batch::encode(&[good.as_slice(), parts[0]]).expect("batch");
        let answer = post_raw(&server.url(), region, &body, &[]);
        assert_eq!(answer.status, 202, "{answer:?}");
        assert_eq!(answer.json["results"][1]["code"], code);
        let first = &answer.json["results"][0]["status"];
        assert!(first == "accepted" || region != "eu", "{answer:?}");
    }
}

#[test]
fn every_error_code_answers_with_its_code_and_changes_nothing() {
    // A small body limit, so the refused body still fits the socket buffers
    // (the server answers 413 from Content-Length without reading it).
    let server = Server::start_with(|c| c.ingest.max_body_bytes = 100_000);
    let eu = server.key("eu");
    let us = server.key("us");
    // A baseline so "unchanged" is not trivially about an empty database.
    assert_eq!(
        server
            .post("eu", &sealed(&report("usage", "eu"), &eu))
            .status,
        202
    );

    let big = vec![b'C'; 100_001];
    expect_rejected(&server, "eu", &big, 413, "too_large");
    expect_rejected(
        &server,
        "eu",
        b"hello, collector",
        400,
        "malformed_envelope",
    );
    let ok = sealed(&report("usage", "eu"), &eu);
    expect_rejected(&server, "eu", &ok[..30], 400, "malformed_envelope");
    let answer = server.post("mars", &ok);
    assert_eq!(
        (answer.status, answer.json["code"].as_str()),
        (404, Some("unknown_region"))
    );
    expect_rejected(
        &server,
        "eu",
        &sealed(&report("usage", "us"), &us),
        421,
        "wrong_region",
    );
    let stranger = KeyPair::generate("eu", 200).expect("key");
    expect_rejected(
        &server,
        "eu",
        &sealed(&report("usage", "eu"), stranger.config()),
        400,
        "unknown_key",
    );
    let mut tampered = sealed(&report("usage", "eu"), &eu);
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    expect_rejected(&server, "eu", &tampered, 400, "decryption_failed");
    let mut v2 = report("usage", "eu");
    v2.v = 2;
    expect_rejected(&server, "eu", &sealed(&v2, &eu), 400, "malformed_report");

    let mut r = report("usage", "eu");
    r.schema = "org.example.other".into();
    expect_rejected(&server, "eu", &sealed(&r, &eu), 422, "unknown_schema");
    expect_rejected(
        &server,
        "eu",
        &sealed(&report("ads", "eu"), &eu),
        422,
        "unknown_purpose",
    );
    let mut r = report("usage", "eu");
    r.metrics
        .insert("browser.no_such".into(), MetricValue::Counter(1));
    expect_rejected(&server, "eu", &sealed(&r, &eu), 422, "unknown_metric");
    let mut r = report("usage", "eu");
    r.metrics.insert(
        "app.opened".into(),
        MetricValue::LabeledCounter([("calculator".to_string(), 1)].into()),
    );
    expect_rejected(&server, "eu", &sealed(&r, &eu), 422, "unknown_label");
    let mut r = report("usage", "eu");
    r.dimensions.insert("country".into(), "de".into());
    expect_rejected(&server, "eu", &sealed(&r, &eu), 422, "unknown_dimension");
    let mut r = report("usage", "eu");
    r.dimensions.insert("platform".into(), "windows".into());
    expect_rejected(&server, "eu", &sealed(&r, &eu), 422, "unknown_dimension");
    let mut r = report("usage", "eu");
    r.metrics
        .insert("browser.tabs_opened".into(), MetricValue::Boolean(true));
    expect_rejected(&server, "eu", &sealed(&r, &eu), 422, "wrong_type");
    let mut r = report("usage", "eu");
    r.metrics
        .insert("browser.tabs_opened".into(), MetricValue::Counter(501));
    expect_rejected(&server, "eu", &sealed(&r, &eu), 422, "value_out_of_bounds");
    let mut r = report("diagnostics", "eu");
    r.consent_version = 1;
    // The metric declares os_major only (the dimension rule).
    r.dimensions.clear();
    r.metrics.insert(
        "diagnostics.app_not_responding".into(),
        MetricValue::Counter(1),
    );
    expect_rejected(&server, "eu", &sealed(&r, &eu), 422, "consent_too_old");
    let mut r = report("usage", "eu");
    r.day = Day::from_ymd(2026, 11, 21).expect("day");
    expect_rejected(&server, "eu", &sealed(&r, &eu), 422, "day_out_of_window");
    let mut r = report("usage", "eu");
    r.day = Day::from_ymd(2026, 12, 1).expect("day");
    expect_rejected(&server, "eu", &sealed(&r, &eu), 422, "day_out_of_window");

    // Every rejection was counted under its code.
    let m = server.running.collector.metrics();
    assert!(m.reports_with("rejected", "decryption_failed") >= 2);
    server.stop();
}

#[test]
fn duplicates_are_acknowledged_but_counted_once() {
    let server = Server::start();
    let eu = server.key("eu");
    let body = sealed(&report("usage", "eu"), &eu);
    let first = server.post("eu", &body);
    assert_eq!(first.status, 202);
    assert_eq!(first.json["results"][0]["status"], "accepted");
    let again = server.post("eu", &body);
    assert_eq!(again.status, 202);
    assert_eq!(again.json["results"][0]["status"], "duplicate");
    // Twice in one batch: the second is the duplicate.
    let other = sealed(&report("usage", "eu"), &eu);
    let both = batch::encode(&[other.clone(), other]).expect("batch");
    let answer = server.post("eu", &both);
    assert_eq!(answer.json["results"][0]["status"], "accepted");
    assert_eq!(answer.json["results"][1]["status"], "duplicate");
    let tabs: i64 = server.rows("eu").iter().map(|r| r.sum).sum();
    assert_eq!(tabs, 6, "two distinct reports of 3 tabs");
    server.stop();
}

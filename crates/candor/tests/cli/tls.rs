//! `candor serve` terminating TLS itself (issue 14, acceptance point 5):
//! the real binary with a certificate of a test CA made at test time.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use candor_testkit::tls::{TestCa, TlsFiles};
use serde_json::Value;
use ureq::tls::{Certificate, RootCerts, TlsConfig};

use crate::query::create_token;
use crate::serve::{agent, days_ago, free_port, ready_at, stop, tabs_sum, today};
use crate::{candor, s, text};

/// An agent that trusts only `ca_pem`, returns 4xx/5xx answers and does
/// not follow redirects (the dashboard answers its sign-in with one).
fn trusting(ca_pem: &str) -> ureq::Agent {
    let ca = Certificate::from_pem(ca_pem.as_bytes()).expect("CA PEM");
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(10)))
        .tls_config(
            TlsConfig::builder()
                .root_certs(RootCerts::new_with_certs(&[ca]))
                .build(),
        )
        .build()
        .into()
}

/// `candor serve --tls-cert --tls-key` on 127.0.0.1:`port`, once ready.
fn start_tls(data: &Path, port: u16, files: &TlsFiles, https: &ureq::Agent) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_candor"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--data-dir", s(data)])
        .args(["--tls-cert", s(&files.cert), "--tls-key", s(&files.key)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("candor serve starts");
    ready_at(child, https, &format!("https://localhost:{port}"))
}

/// `candor client --dir DIR --now NOW ARGS…`, its exit code and stdout.
fn client(dir: &Path, now: &str, args: &[&str]) -> (Option<i32>, String) {
    let mut all = vec!["client", "--dir", s(dir), "--now", now];
    all.extend_from_slice(args);
    let out = candor(&all);
    let (stdout, stderr) = text(&out);
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "{args:?}: {stdout}{stderr}"
    );
    (out.status.code(), stdout)
}

/// The Set-Cookie headers of an answer.
fn set_cookies(answer: &ureq::http::Response<ureq::Body>) -> Vec<String> {
    answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("ASCII cookie").to_owned())
        .collect()
}

#[test]
fn with_tls_plain_http_fails_trusted_uploads_count_untrusted_ones_fail_and_cookies_are_secure() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let ca = TestCa::new("Candor CLI test CA");
    let tls_dir = tmp.path().join("tls");
    std::fs::create_dir(&tls_dir).expect("tls dir");
    let files = ca.write_server_files(&tls_dir);
    // The region's keys beforehand, so the client seals to the collector's key.
    let keys = data.join("eu").join("keys");
    let out = candor(&["keygen", "--region", "eu", "--out", s(&keys)]);
    assert!(out.status.success(), "{}", text(&out).1);
    let token = create_token(&data, "ana", &["--role", "analyst", "--regions", "eu"]);

    let port = free_port();
    let https = trusting(ca.cert_pem());
    let base = format!("https://localhost:{port}");
    let server = start_tls(&data, port, &files, &https);

    // Plain HTTP to the TLS port gets no answer.
    let plain = agent()
        .get(&format!("http://127.0.0.1:{port}/readyz"))
        .call();
    assert!(plain.is_err(), "plain HTTP was answered: {plain:?}");

    // A device's report for yesterday, queued in a `candor client`.
    let device = tmp.path().join("client");
    let (yesterday, today) = (days_ago(1).to_string(), today().to_string());
    let init = crate::device_init_args(&keys);
    let init: Vec<&str> = init.iter().map(String::as_str).collect();
    for args in [
        &init[..],
        &["grant", "usage"],
        &["record", "counter", "browser.tabs_opened", "7"],
        &["end-day"],
    ] {
        assert_eq!(client(&device, &yesterday, args).0, Some(0), "{args:?}");
    }

    // Not trusting the test CA (the public roots only): refused, kept.
    let (code, summary) = client(&device, &yesterday, &["upload", "--url", &base]);
    let summary: Value = serde_json::from_str(&summary).expect("summary JSON");
    assert_eq!(code, Some(3), "{summary}");
    assert_eq!(
        (
            &summary["requests"],
            &summary["accepted"],
            &summary["remaining"]
        ),
        (&Value::from(1), &Value::from(0), &Value::from(1)),
        "{summary}"
    );

    // Trusting it (a day later, past the backoff): delivered.
    let ca_file = s(&files.ca);
    let upload = ["upload", "--url", &base, "--ca-cert", ca_file];
    let (code, summary) = client(&device, &today, &upload);
    let summary: Value = serde_json::from_str(&summary).expect("summary JSON");
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(
        (&summary["accepted"], &summary["remaining"]),
        (&Value::from(1), &Value::from(0)),
        "{summary}"
    );

    // The dashboard's cookies are Secure: the sign-in form's CSRF cookie,
    // then the session cookie of a signed-in analyst.
    let form = https
        .get(&format!("{base}/dashboard/login"))
        .call()
        .expect("sign-in form");
    let csrf_cookies = set_cookies(&form);
    assert!(
        !csrf_cookies.is_empty() && csrf_cookies.iter().all(|c| c.contains("; Secure")),
        "{csrf_cookies:?}"
    );
    let body = form.into_body().read_to_string().expect("form body");
    let marker = "name=\"csrf\" value=\"";
    let at = body.find(marker).expect("the CSRF field") + marker.len();
    let csrf = &body[at..at + body[at..].find('"').expect("end of the value")];
    let csrf_pair = csrf_cookies[0].split(';').next().expect("name=value");
    let signed_in = https
        .post(&format!("{base}/dashboard/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", csrf_pair)
        .send(format!("csrf={csrf}&token={token}").as_bytes())
        .expect("sign-in answer");
    assert_eq!(signed_in.status(), 303, "signed in");
    let session = set_cookies(&signed_in);
    let session = session
        .iter()
        .find(|c| c.starts_with("candor_session="))
        .expect("a session cookie");
    assert!(session.contains("; Secure"), "{session}");

    stop(server);
    // Counted: the report uploaded over HTTPS is in the region's aggregates.
    assert_eq!(tabs_sum(&data), 7);
}

#[test]
fn serve_with_a_missing_tls_key_names_it_and_creates_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let files = TestCa::new("Candor CLI test CA").write_server_files(tmp.path());
    let missing = tmp.path().join("missing-key.pem");
    let out = candor(&[
        "serve",
        "--listen",
        &format!("127.0.0.1:{}", free_port()),
        "--data-dir",
        s(&data),
        "--tls-cert",
        s(&files.cert),
        "--tls-key",
        s(&missing),
    ]);
    let (_, stderr) = text(&out);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("TLS private key file") && stderr.contains("missing-key.pem"),
        "{stderr}"
    );
    assert!(!data.exists(), "nothing created before the TLS files load");
    // Half a pair is a usage error: it would silently serve plain HTTP.
    let half = candor(&["serve", "--tls-cert", s(&files.cert)]);
    assert_eq!(half.status.code(), Some(2), "{}", text(&half).1);
}

/// `candor relay --tls-cert --tls-key`: HTTPS only, like `candor serve`.
/// No gateway answers behind it, so a request that reaches the relay over
/// TLS gets the relay's own 502 (`gateway_unreachable`) as problem+json;
/// plain HTTP gets no answer at all.
#[test]
fn the_relay_serves_https_only_with_tls_files() {
    let ca = TestCa::new("Candor relay test CA");
    let dir = tempfile::tempdir().expect("tempdir");
    let files = ca.write_server_files(dir.path());
    let (port, gateway_port) = (free_port(), free_port());
    let mut relay = Command::new(env!("CARGO_BIN_EXE_candor"))
        .args(["relay", "--listen", &format!("127.0.0.1:{port}")])
        .args([
            "--gateway",
            &format!("http://127.0.0.1:{gateway_port}/v1/ohttp"),
        ])
        .args(["--tls-cert", s(&files.cert), "--tls-key", s(&files.key)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("candor relay starts");
    let https = trusting(ca.cert_pem());
    let url = format!("https://localhost:{port}/v1/ohttp/keys");
    let mut answer = None;
    for _ in 0..100 {
        if let Ok(a) = https.get(&url).call() {
            answer = Some(a);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let answer = answer.expect("the relay answers over HTTPS");
    assert_eq!(answer.status(), 502);
    let body: Value = serde_json::from_str(&answer.into_body().read_to_string().expect("body"))
        .expect("problem+json");
    assert_eq!(body["code"], "gateway_unreachable");
    let plain = agent()
        .get(&format!("http://127.0.0.1:{port}/v1/ohttp/keys"))
        .call();
    assert!(plain.is_err(), "plain HTTP gets no answer: {plain:?}");
    let _ = relay.kill();
    let _ = relay.wait();
}

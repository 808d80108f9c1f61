//! The collector terminating TLS itself (`[tls]`), with a test CA: the
//! SDK's uploader delivers only when it trusts the CA, and TLS files that
//! do not load stop the start before anything is created.

use std::sync::Arc;

use candor_collector::{Collector, Config, StartError};
use candor_sdk::upload::HttpUploader;
use candor_sdk::{Candor, ManualClock, Uploader};
use candor_testkit::tls::{TestCa, TlsFiles};

use crate::common::{NOON, Server, schema};

/// A collector serving HTTPS with a certificate of `ca`; the files live
/// in `tls_dir`.
fn start(ca: &TestCa, tls_dir: &std::path::Path) -> (Server, TlsFiles) {
    let files = ca.write_server_files(tls_dir);
    let (cert, key) = (files.cert.clone(), files.key.clone());
    let server = Server::start_with(move |c| {
        c.tls.cert = Some(cert);
        c.tls.key = Some(key);
    });
    (server, files)
}

/// A device of region eu that used `browser.tabs_opened` 5 times
/// yesterday, uploading with `uploader`.
fn device(server: &Server, uploader: HttpUploader) -> (Candor, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = server.dir.path().join("eu/keys");
    let list = std::fs::read(keys.join(candor_collector::keys::KEY_LIST_FILE)).expect("the list");
    let clock = ManualClock::new(NOON - 86_400);
    let mut cfg = candor_sdk::Config::new(dir.path(), schema(), server.signing_key("eu"));
    cfg.clock = Arc::new(clock.clone());
    cfg.persist_interval = None;
    cfg.uploader = Some(Arc::new(uploader) as Arc<dyn Uploader>);
    cfg.dimensions.insert("platform".into(), "android".into());
    let sdk = Candor::open(cfg).expect("opens");
    sdk.grant("usage").expect("grant");
    sdk.counter("browser.tabs_opened").add(5);
    clock.advance(86_400);
    // The signed key list the collector serves (signed at NOON, its
    // clock), handed to the device with the app once its clock reaches
    // it: the uploader under test would fetch it over the same TLS.
    sdk.set_key_list(&list).expect("a valid list");
    sdk.flush();
    (sdk, dir)
}

fn tabs(server: &Server) -> i64 {
    server
        .rows("eu")
        .iter()
        .filter(|r| r.key.metric == "browser.tabs_opened")
        .map(|r| r.sum)
        .sum()
}

#[test]
fn the_sdk_uploads_over_https_only_when_it_trusts_the_certificate() {
    let ca = TestCa::new("Candor collector test CA");
    let tls_dir = tempfile::tempdir().expect("tempdir");
    let (server, _files) = start(&ca, tls_dir.path());
    let base = format!("https://localhost:{}", server.running.addr.port());

    // The public roots (the default) and another CA: refused before any
    // byte of a report is sent; the report stays queued.
    let other = TestCa::new("Another CA");
    for uploader in [
        HttpUploader::new(base.as_str()),
        HttpUploader::with_ca_pem(base.as_str(), other.cert_pem().as_bytes()).expect("CA"),
    ] {
        let (sdk, _dir) = device(&server, uploader);
        let summary = sdk.upload_pending();
        assert_eq!(
            (summary.requests, summary.accepted, summary.remaining),
            (1, 0, 1),
            "{summary:?}"
        );
        assert!(summary.retry_at.is_some(), "{summary:?}");
    }
    assert_eq!(tabs(&server), 0, "nothing reached the collector");

    // Trusting the test CA: accepted and counted.
    let trusting = HttpUploader::with_ca_pem(base.as_str(), ca.cert_pem().as_bytes()).expect("CA");
    let (sdk, _dir) = device(&server, trusting);
    let summary = sdk.upload_pending();
    assert_eq!((summary.accepted, summary.remaining), (1, 0), "{summary:?}");
    assert_eq!(tabs(&server), 5);
    server.stop();
}

#[test]
fn tls_files_that_do_not_load_stop_the_start_before_anything_is_created() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let files = TestCa::new("CA").write_server_files(tmp.path());
    let data_dir = tmp.path().join("data");
    let config = Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: data_dir.clone(),
        tls: candor_collector::config::TlsConfig {
            cert: Some(files.cert.clone()),
            key: Some(tmp.path().join("no-such-key.pem")),
        },
        ..Config::default()
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let started = rt.block_on(Collector::start(
        config,
        vec![schema()],
        Arc::new(ManualClock::new(NOON)),
        std::future::pending(),
    ));
    let Err(error) = started else {
        panic!("a collector without its TLS key started");
    };
    assert!(matches!(error, StartError::Tls(_)), "{error:?}");
    assert!(error.to_string().contains("no-such-key.pem"), "{error}");
    assert!(!data_dir.exists(), "nothing created");
}

use std::path::Path;

use candor_collector::Config;

#[test]
fn the_sample_config_in_docs_parses_and_equals_the_defaults() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/collector.toml");
    let config = Config::load(&path).expect("docs/collector.toml parses");
    assert_eq!(
        config,
        Config::default(),
        "the sample documents the defaults"
    );
}

#[test]
fn unknown_fields_and_bad_values_are_refused() {
    let err = Config::parse("listen = \"127.0.0.1:1\"\nlisten_port = 3\n").expect_err("typo");
    assert!(err.contains("listen_port"), "{err}");
    let err =
        Config::parse("[ingest]\nmax_body_bytes = 99999999\n").expect_err("over the wire limit");
    assert!(err.contains("max_body_bytes"), "{err}");
    assert_eq!(Config::parse("").expect("empty"), Config::default());
    // A body limit too small for any envelope; with no in-flight budget it
    // would have refused every upload as `overloaded`.
    let zero = "[ingest]\nmax_body_bytes = 0\nmax_inflight_body_bytes = 0\n";
    let err = Config::parse(zero).expect_err("no envelope fits");
    assert!(
        err.contains("max_body_bytes must be at least 1024"),
        "{err}"
    );
}

#[test]
fn tls_takes_both_files_or_neither() {
    let both = Config::parse("[tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n").expect("both");
    assert!(both.tls.is_on());
    assert_eq!(
        both.tls.files(),
        Some((Path::new("cert.pem"), Path::new("key.pem")))
    );
    assert!(!Config::default().tls.is_on());
    let err = Config::parse("[tls]\ncert = \"cert.pem\"\n").expect_err("no key");
    assert!(err.contains("tls.key is not"), "{err}");
    let err = Config::parse("[tls]\nkey = \"key.pem\"\n").expect_err("no cert");
    assert!(err.contains("tls.cert is not"), "{err}");
}

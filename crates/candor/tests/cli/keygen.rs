//! `candor keygen`: key files, modes, no overwrite, rotation.

use std::os::unix::fs::PermissionsExt;

use candor_protocol::{KeyConfig, KeyPair, Opener, seal};

use crate::{candor, text};

fn keygen(dir: &std::path::Path, region: &str, extra: &[&str]) -> std::process::Output {
    let dir = dir.to_str().expect("utf-8 path");
    let mut args = vec!["keygen", "--region", region, "--out", dir];
    args.extend_from_slice(extra);
    candor(&args)
}

#[test]
fn writes_a_private_key_0600_and_a_public_config() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("keys/eu");
    let out = keygen(&dir, "eu", &[]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.trim(), "1", "prints the key id");

    let private = dir.join("key-001.private.json");
    let public = dir.join("key-001.config.json");
    let mode = std::fs::metadata(&private)
        .expect("private key")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "private key is owner-only");

    let pair = KeyPair::from_private_json(&std::fs::read(&private).expect("read")).expect("parses");
    let config = KeyConfig::from_json(&std::fs::read(&public).expect("read")).expect("parses");
    assert_eq!(pair.config(), &config);
    assert_eq!((config.region(), config.key_id()), ("eu", 1));
    let public_text = std::fs::read_to_string(&public).expect("read");
    assert!(!public_text.contains("private_key"));

    // The key list it signed names the key and verifies with the signing
    // public key it printed.
    let signing = candor_protocol::VerifyingKey::from_json(
        &std::fs::read(dir.join("signing.public.json")).expect("signing key"),
    )
    .expect("parses");
    assert!(stderr.contains(&signing.to_hex()), "{stderr}");
    let list = std::fs::read(dir.join("keys.signed.json")).expect("the signed list");
    let signed = candor_protocol::SignedKeyList::from_json(&list).expect("parses");
    let issued: serde_json::Value = serde_json::from_str(&signed.payload).expect("payload");
    let now = issued["issued_at"].as_i64().expect("issued_at");
    let listed = signed.verify(&signing, now).expect("verifies");
    assert_eq!(listed.keys, std::slice::from_ref(&config));

    // The pair works end to end.
    let mut report = candor_protocol::Report::new(
        candor_protocol::ReportId([1; 16]),
        "s",
        1,
        "usage",
        1,
        "eu",
        candor_protocol::Day::from_ymd(2026, 11, 29).expect("day"),
    );
    report
        .metrics
        .insert("a.b".into(), candor_protocol::MetricValue::Counter(1));
    let envelope = seal(&report, &config).expect("seals");
    let opener = Opener::new("eu", [pair]).expect("same region");
    assert_eq!(opener.open(&envelope).expect("opens"), report);
}

#[test]
fn never_overwrites_and_rotation_adds_the_next_id() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    assert!(keygen(dir, "in", &[]).status.success());
    let first = std::fs::read(dir.join("key-001.private.json")).expect("read");

    let again = keygen(dir, "in", &["--key-id", "1"]);
    let (_, stderr) = text(&again);
    assert!(!again.status.success());
    assert!(stderr.contains("already exists"), "{stderr}");
    assert_eq!(
        std::fs::read(dir.join("key-001.private.json")).expect("read"),
        first
    );

    let rotated = keygen(dir, "in", &[]);
    assert_eq!(text(&rotated).0.trim(), "2");
    assert!(dir.join("key-002.private.json").exists());
    assert_eq!(
        std::fs::read(dir.join("key-001.private.json")).expect("read"),
        first
    );
}

#[test]
fn refuses_another_regions_directory_and_bad_region_ids() {
    let tmp = tempfile::tempdir().expect("tempdir");
    assert!(keygen(tmp.path(), "eu", &[]).status.success());
    let other = keygen(tmp.path(), "us", &[]);
    assert!(!other.status.success());
    assert!(
        text(&other).1.contains("region \"eu\""),
        "{}",
        text(&other).1
    );

    let bad = keygen(&tmp.path().join("x"), "EU West", &[]);
    assert!(!bad.status.success());
    assert!(text(&bad).1.contains("invalid region"), "{}", text(&bad).1);
}

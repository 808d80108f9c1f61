//! The signed key list (docs/wire.md §5.2) from the device's side: a list
//! that is unsigned, signed by another key, tampered with or expired is
//! refused and counted with its code, and while the device has no valid
//! list it seals nothing: finished days stay aggregates, the outbox stays
//! empty, and once a valid list arrives they are sealed and uploaded.

use std::sync::Arc;

use candor_protocol::{MetricValue, SignedKeyList, SigningKey};
use candor_sdk::Clock;

use crate::common::{DAY, Device, FakeCollector, NOON, device_with, files, signed_list, signer};

/// A device given `document` as its bundled key list, with one day of
/// usage recorded and ended.
fn ended_day_with(document: Option<Vec<u8>>, uploader: Option<Arc<FakeCollector>>) -> Device {
    let d = device_with(|c| {
        c.key_list = document;
        c.uploader = uploader.map(|u| u as Arc<dyn candor_sdk::Uploader>);
    });
    d.candor.grant("usage").expect("grant");
    d.candor.counter("browser.tabs_opened").add(3);
    d.clock.advance(DAY);
    d.candor.flush();
    d
}

/// Nothing sealed, the outbox empty, and the day's aggregates kept on disk.
fn assert_nothing_sealed_and_day_kept(d: &Device) {
    assert!(d.candor.pending_reports().is_empty(), "nothing sealed");
    let outbox = d.dir.path().join("outbox");
    assert!(
        !outbox.exists() || files(&outbox).is_empty(),
        "the outbox is empty"
    );
    let state = std::fs::read_to_string(d.dir.path().join("state.json")).expect("state");
    assert!(
        state.contains("browser.tabs_opened"),
        "the day's aggregates are kept: {state}"
    );
}

/// The refusal counters: `*keys` by code, and the SDK-wide kind.
fn refusals(d: &Device, code: &str) -> (u64, u64) {
    let counts = d.candor.error_counts();
    let by_code = counts
        .get("*keys")
        .and_then(|c| c.get(code))
        .copied()
        .unwrap_or(0);
    let total = counts
        .get("*")
        .and_then(|c| c.get("key_list_refused"))
        .copied()
        .unwrap_or(0);
    (by_code, total)
}

fn refused(document: Vec<u8>, code: &str) {
    let d = ended_day_with(Some(document), None);
    assert_nothing_sealed_and_day_kept(&d);
    assert_eq!(refusals(&d, code), (1, 1), "{:?}", d.candor.error_counts());
}

#[test]
fn an_unsigned_list_is_refused() {
    let unsigned = SignedKeyList {
        signature: None,
        ..signed_list(&signer(), NOON, 7)
    };
    refused(unsigned.to_json().into_bytes(), "unsigned_key_list");
}

#[test]
fn a_list_signed_by_another_key_is_refused() {
    let other = SigningKey::from_seed("eu", [44; 32]).expect("key");
    refused(
        signed_list(&other, NOON, 7).to_json().into_bytes(),
        "bad_signature",
    );
}

#[test]
fn a_tampered_list_is_refused() {
    let good = signed_list(&signer(), NOON, 7);
    // The operator swaps in a key of its own, keeping the signature.
    let own = candor_protocol::KeyPair::derive("eu", 1, &[7; 32]).expect("key");
    let tampered = SignedKeyList {
        payload: good.payload.replace(
            &hex::encode(crate::common::keys().config().public_key()),
            &hex::encode(own.config().public_key()),
        ),
        ..good.clone()
    };
    assert_ne!(tampered.payload, good.payload);
    refused(tampered.to_json().into_bytes(), "bad_signature");
}

#[test]
fn an_expired_list_is_refused() {
    // Issued 8 days before the device's day ends, valid for 7.
    let expired = signed_list(&signer(), NOON - 8 * DAY, 7);
    refused(expired.to_json().into_bytes(), "key_list_expired");
}

#[test]
fn a_held_list_that_expires_stops_sealing_and_is_checked_again_when_loaded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = candor_sdk::ManualClock::new(NOON);
    let open = |list: Option<Vec<u8>>| {
        let mut config = crate::common::config(dir.path(), &clock);
        config.key_list = list;
        candor_sdk::Candor::open(config).expect("opens")
    };
    let candor = open(Some(signed_list(&signer(), NOON, 2).to_json().into_bytes()));
    candor.grant("usage").expect("grant");
    candor.counter("browser.tabs_opened").add(1);
    clock.advance(DAY);
    candor.flush();
    assert_eq!(candor.pending_reports().len(), 1, "sealed with the list");
    drop(candor);
    // Reopened from disk alone: the kept list is still valid.
    let candor = open(None);
    candor.counter("browser.tabs_opened").add(1);
    clock.advance(DAY);
    candor.flush();
    assert_eq!(candor.pending_reports().len(), 2);
    drop(candor);
    // Past its expiry: the kept list is refused when loaded, and the day
    // stays unsealed.
    clock.advance(DAY);
    let candor = open(None);
    candor.counter("browser.tabs_opened").add(1);
    clock.advance(DAY);
    candor.flush();
    let days: Vec<String> = candor
        .pending_reports()
        .iter()
        .map(|p| crate::common::parse(p)["day"].to_string())
        .collect();
    assert!(
        !days.iter().any(|d| d.contains("2026-12-02")),
        "nothing sealed for the day recorded without a valid list: {days:?}"
    );
    assert_eq!(
        candor.error_counts()["*keys"].get("key_list_expired"),
        Some(&1)
    );
}

#[test]
fn nothing_is_sealed_without_a_valid_list_until_one_arrives_then_it_is_sent() {
    let collector = Arc::new(FakeCollector::default());
    // The first list the device fetches is unsigned; the second is valid.
    let unsigned = SignedKeyList {
        signature: None,
        ..signed_list(&signer(), NOON, 7)
    };
    collector
        .key_lists
        .lock()
        .expect("lock")
        .push(unsigned.to_json().into_bytes());
    let d = ended_day_with(None, Some(collector.clone()));
    assert_nothing_sealed_and_day_kept(&d);

    let first = d.candor.upload_pending();
    assert_eq!(first.requests, 0, "nothing to send");
    assert_eq!(*collector.key_fetches.lock().expect("lock"), 1);
    assert_eq!(refusals(&d, "unsigned_key_list"), (1, 1));
    assert_nothing_sealed_and_day_kept(&d);
    assert!(collector.reports().is_empty());

    // A valid list is served; the device asks again after its retry delay.
    let now = d.clock.now();
    collector
        .key_lists
        .lock()
        .expect("lock")
        .push(signed_list(&signer(), now, 7).to_json().into_bytes());
    assert_eq!(
        d.candor.upload_pending().requests,
        0,
        "not before the delay"
    );
    d.clock.advance(60);
    let sent = d.candor.upload_pending();
    assert_eq!((sent.requests, sent.accepted, sent.remaining), (1, 1, 0));
    let reports = collector.reports();
    assert_eq!(reports.len(), 1);
    assert_eq!(
        reports[0].metrics.get("browser.tabs_opened"),
        Some(&MetricValue::Counter(3)),
        "the day kept as aggregates is the day sent"
    );
    assert_eq!(reports[0].day.to_string(), "2026-11-29");
    assert!(d.dir.path().join("key-list.json").exists(), "kept on disk");
}

#[test]
fn a_list_set_by_the_host_seals_the_waiting_days_at_once() {
    let d = ended_day_with(None, None);
    assert_nothing_sealed_and_day_kept(&d);
    let other = SigningKey::from_seed("eu", [44; 32]).expect("key");
    let now = d.clock.now();
    let forged = signed_list(&other, now, 7).to_json().into_bytes();
    assert_eq!(
        d.candor.set_key_list(&forged).map_err(|e| e.code()),
        Err("bad_signature")
    );
    assert!(d.candor.pending_reports().is_empty());
    let valid = signed_list(&signer(), now, 7).to_json().into_bytes();
    d.candor.set_key_list(&valid).expect("valid");
    assert_eq!(d.candor.pending_reports().len(), 1);
}

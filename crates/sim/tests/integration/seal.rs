//! Pre-sealed envelopes open to valid reports; grouping into bodies.

use std::collections::BTreeSet;

use candor_protocol::limits::{MAX_BATCH_BYTES, MAX_BATCH_REPORTS};
use candor_protocol::{KeyPair, Opener, batch};
use candor_sim::load::{self, LoadError};

use crate::{browser_schema, day, validate};

#[test]
fn presealed_envelopes_open_to_valid_distinct_reports() {
    let schema = browser_schema();
    let keys = KeyPair::generate("eu", 3).expect("key pair");
    // More than two sealing chunks, the last one partial.
    let n = 700;
    let envelopes = load::preseal(&schema, keys.config(), day(), n, 42, false).expect("sealed");
    assert_eq!(envelopes.len(), n);
    let opener = Opener::new("eu", [keys.clone()]).expect("opener");
    let mut ids = BTreeSet::new();
    let mut contents = Vec::new();
    for e in &envelopes {
        assert_eq!(e[5], 3, "sealed with the given key id");
        let report = opener.open(e).expect("opens");
        validate::check(&schema, &report, "eu", day()).expect("valid");
        assert!(ids.insert(report.report_id));
        contents.push((report.purpose, report.dimensions, report.metrics));
    }
    // The same seed gives the same reports in the same order (ids aside),
    // however the work was split between threads.
    let again = load::preseal(&schema, keys.config(), day(), n, 42, false).expect("sealed");
    let again: Vec<_> = again
        .iter()
        .map(|e| {
            let r = opener.open(e).expect("opens");
            assert!(!ids.contains(&r.report_id), "ids are fresh in every run");
            (r.purpose, r.dimensions, r.metrics)
        })
        .collect();
    assert_eq!(contents, again);
}

#[test]
fn preseal_refuses_a_key_of_an_undeclared_region() {
    let schema = browser_schema();
    let keys = KeyPair::generate("mars", 1).expect("key pair");
    let err = load::preseal(&schema, keys.config(), day(), 10, 1, false).expect_err("mars");
    assert!(matches!(err, LoadError::UnknownRegion { .. }), "{err}");
}

fn fake_envelopes(n: usize, len: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let mut e = b"CNDR".to_vec();
            e.extend((i as u32).to_be_bytes());
            e.resize(len.max(8), 0xab);
            e
        })
        .collect()
}

#[test]
fn grouping_respects_batch_size_and_limits() {
    for (n, batch_size, len) in [
        (2_500, 1_000, 10),
        (95, 7, 100),
        (5, 100, 100),
        (1, 2, 50),
        // 1 000 envelopes of 33 000 bytes would be 33 MB: the byte limit
        // closes batches long before the count limit.
        (300, 1_000, 33_000),
    ] {
        let envelopes = fake_envelopes(n, len);
        let bodies = load::group(envelopes.clone(), batch_size).expect("grouped");
        let mut back = Vec::new();
        for (i, body) in bodies.iter().enumerate() {
            assert!(body.reports >= 1 && body.reports <= batch_size.min(MAX_BATCH_REPORTS));
            assert!(body.bytes.len() <= MAX_BATCH_BYTES);
            let parts = batch::decode(&body.bytes).expect("a valid batch");
            assert_eq!(parts.len(), body.reports);
            back.extend(parts.into_iter().map(<[u8]>::to_vec));
            if len < 1_000 && i + 1 < bodies.len() {
                assert_eq!(body.reports, batch_size, "only the last batch is short");
            }
        }
        assert_eq!(back, envelopes, "every envelope once, in order");
        assert_eq!(
            bodies.len(),
            if len < 1_000 {
                n.div_ceil(batch_size)
            } else {
                bodies.len()
            }
        );
    }
    // Batch size 1 sends bare envelopes.
    let envelopes = fake_envelopes(3, 20);
    let bodies = load::group(envelopes.clone(), 1).expect("grouped");
    assert_eq!(
        bodies.iter().map(|b| b.bytes.clone()).collect::<Vec<_>>(),
        envelopes
    );
    for bad in [0, MAX_BATCH_REPORTS + 1] {
        let err = load::group(fake_envelopes(3, 20), bad).expect_err("out of range");
        assert!(matches!(err, LoadError::InvalidConfig(_)), "{err}");
    }
}

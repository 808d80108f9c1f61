use candor_protocol::{Envelope, KeyPair, batch, seal};
use proptest::prelude::*;

use crate::common::{any_report, openers};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn seal_then_open_returns_the_same_report(report in any_report("eu")) {
        let keys = KeyPair::generate("eu", 3).expect("keygen");
        let envelope = seal(&report, keys.config()).expect("seals");
        let decoded = Envelope::decode(&envelope).expect("decodes");
        prop_assert_eq!(&decoded.header.purpose, &report.purpose);
        prop_assert_eq!(decoded.header.key_id, 3);
        for opener in openers("eu", &[keys]) {
            prop_assert_eq!(&opener.open(&envelope).expect("opens"), &report);
        }
    }

    #[test]
    fn batches_round_trip(reports in prop::collection::vec(any_report("in"), 1..8)) {
        let keys = KeyPair::generate("in", 1).expect("keygen");
        let envelopes: Vec<Vec<u8>> =
            reports.iter().map(|r| seal(r, keys.config()).expect("seals")).collect();
        let body = batch::encode(&envelopes).expect("encodes");
        let parts = batch::split_upload(&body).expect("splits");
        for opener in openers("in", &[keys]) {
            let opened: Vec<_> = parts.iter().map(|p| opener.open(p).expect("opens")).collect();
            prop_assert_eq!(&opened, &reports);
        }
    }
}

#[test]
fn two_seals_of_one_report_differ() {
    // Fresh ephemeral keys: equal reports do not produce linkable envelopes.
    let keys = KeyPair::generate("eu", 1).expect("keygen");
    let report = crate::common::sample_report("eu", "usage");
    let a = seal(&report, keys.config()).expect("seals");
    let b = seal(&report, keys.config()).expect("seals");
    assert_ne!(a, b);
}

//! Decoders against arbitrary input: no panic, and allocation bounded by the
//! limits (measured by the counting allocator in tests/alloc_bounds.rs; here
//! the invariants of what decodes).

use candor_protocol::limits::{MAX_BATCH_REPORTS, MAX_ENVELOPE_BYTES};
use candor_protocol::{Envelope, KeyPair, Opener, Report, batch, seal};
use std::sync::OnceLock;

use proptest::prelude::*;

use crate::common::sample_report;

/// One key and one two-envelope batch, made once for all cases.
fn fixture() -> &'static (Opener, Vec<u8>) {
    static FIXTURE: OnceLock<(Opener, Vec<u8>)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let keys = KeyPair::generate("eu", 1).expect("keygen");
        let envelope = seal(&sample_report("eu", "usage"), keys.config()).expect("seals");
        let body = batch::encode(&[envelope.clone(), envelope]).expect("encodes");
        (Opener::new("eu", [keys]).expect("same region"), body)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(e) = Envelope::decode(&bytes) {
            // Whatever decodes is a consistent view of the input.
            prop_assert_eq!(e.aad.len() + e.enc.len() + e.ciphertext.len(), bytes.len());
            prop_assert_eq!(&e.header.encode()[..], e.aad);
        }
        if let Ok(parts) = batch::decode(&bytes) {
            prop_assert!(!parts.is_empty() && parts.len() <= MAX_BATCH_REPORTS);
            prop_assert!(parts.iter().all(|p| !p.is_empty() && p.len() <= MAX_ENVELOPE_BYTES));
        }
        let _ = batch::split_upload(&bytes);
        let _ = Report::from_json(&bytes);
    }

    #[test]
    fn mutated_envelopes_and_batches_never_panic(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let (opener, body) = fixture();
        let mut bad = body.clone();
        for (at, byte) in &edits {
            let i = at.index(bad.len());
            bad[i] = *byte;
        }
        bad.truncate(cut.index(bad.len() + 1).max(1));
        if let Ok(parts) = batch::split_upload(&bad) {
            for p in parts {
                let _ = opener.open(p);
            }
        }
    }
}

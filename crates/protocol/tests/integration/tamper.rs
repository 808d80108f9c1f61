use candor_protocol::{
    Error, HPKE_INFO, Header, KeyPair, Opener, seal, test_seal_with_ephemeral_ikm,
};
use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, OpModeS, Serializable};

use crate::common::{openers, sample_report};

#[test]
fn flipping_any_bit_fails_with_a_typed_error() {
    let keys = KeyPair::generate("eu", 5).expect("keygen");
    let openers = openers("eu", std::slice::from_ref(&keys));
    let envelope = seal(&sample_report("eu", "usage"), keys.config()).expect("seals");
    let mut codes = std::collections::BTreeSet::new();
    for opener in &openers {
        assert!(opener.open(&envelope).is_ok(), "{:?}", opener.backend());
    }
    for bit in 0..envelope.len() * 8 {
        let mut bad = envelope.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        let err = openers[0]
            .open(&bad)
            .expect_err("a flipped bit must never open");
        // Every failure is one of the expected, typed kinds.
        assert!(
            matches!(
                err,
                Error::MalformedEnvelope(_)
                    | Error::UnsupportedVersion(_)
                    | Error::UnsupportedSuite { .. }
                    | Error::WrongRegion { .. }
                    | Error::UnknownKey(_)
                    | Error::DecryptionFailed
            ),
            "bit {bit}: unexpected {err:?}"
        );
        // Every backend refuses it with the same error.
        for other in &openers[1..] {
            assert_eq!(
                other.open(&bad).expect_err("never opens"),
                err,
                "bit {bit}, backend {}",
                other.backend()
            );
        }
        codes.insert(err.code());
    }
    // Header flips are caught by the decoder or the AAD, body flips by the AEAD.
    assert!(codes.contains("decryption_failed"), "{codes:?}");
    assert!(codes.contains("malformed_envelope"), "{codes:?}");
    assert!(codes.contains("unknown_key"), "{codes:?}");
}

#[test]
fn low_order_and_truncated_inputs_fail_on_every_backend() {
    // RFC 9180 §7.1.4: an all-zero X25519 shared secret (from a low-order
    // `enc`, such as u = 0 or u = 1) must be refused; a ciphertext shorter
    // than the AEAD tag cannot open either.
    let keys = KeyPair::generate("eu", 5).expect("keygen");
    let envelope = seal(&sample_report("eu", "usage"), keys.config()).expect("seals");
    let header_len = envelope.len()
        - candor_protocol::Envelope::decode(&envelope)
            .expect("decodes")
            .ciphertext
            .len()
        - 32;
    let mut low_order = Vec::new();
    for u in [[0u8; 32], {
        let mut one = [0u8; 32];
        one[0] = 1;
        one
    }] {
        let mut bad = envelope.clone();
        bad[header_len..header_len + 32].copy_from_slice(&u);
        low_order.push(bad);
    }
    let truncated = envelope[..header_len + 32 + 15].to_vec();
    for opener in openers("eu", &[keys]) {
        for bad in low_order.iter().chain([&truncated]) {
            let err = opener.open(bad).expect_err("never opens");
            assert!(
                matches!(err, Error::DecryptionFailed | Error::MalformedEnvelope(_)),
                "{}: {err:?}",
                opener.backend()
            );
        }
        assert_eq!(
            opener.open(&low_order[0]).expect_err("zero point"),
            Error::DecryptionFailed,
            "{}",
            opener.backend()
        );
    }
}

#[test]
fn region_a_report_is_refused_by_region_b() {
    let eu = KeyPair::generate("eu", 1).expect("keygen");
    let us = KeyPair::generate("us", 1).expect("keygen");
    let envelope = seal(&sample_report("eu", "usage"), eu.config()).expect("seals");
    for us_opener in openers("us", std::slice::from_ref(&us)) {
        // As sent: the header says eu, so region us refuses it before decrypting.
        let err = us_opener.open(&envelope).expect_err("wrong region");
        assert!(
            matches!(err, Error::WrongRegion { ref expected, ref found } if expected == "us" && found == "eu")
        );
        assert_eq!(err.code(), "wrong_region");
    }

    // Rewriting the header to say "us" (same length) breaks the AAD: region
    // us's key cannot open it, and neither can eu's own key.
    let mut relabelled = envelope.clone();
    let at = 13; // region bytes start after the 12-byte fixed header and its length byte
    relabelled[at..at + 2].copy_from_slice(b"us");
    let eu_key_labelled_us =
        KeyPair::from_private_json(eu.to_private_json().replace("\"eu\"", "\"us\"").as_bytes())
            .expect("same key, other label");
    for (us_opener, mut eu_as_us) in openers("us", &[us]).into_iter().zip(openers("us", &[])) {
        assert_eq!(
            us_opener.open(&relabelled).expect_err("aad").code(),
            "decryption_failed"
        );
        eu_as_us
            .insert(eu_key_labelled_us.clone())
            .expect("region us");
        assert_eq!(
            eu_as_us.open(&relabelled).expect_err("aad").code(),
            "decryption_failed"
        );
    }

    // A key of another region cannot even be loaded into an opener.
    assert_eq!(
        Opener::new("us", [eu]).expect_err("eu key").code(),
        "wrong_region"
    );
}

#[test]
fn sealing_to_another_regions_key_is_refused() {
    let us = KeyPair::generate("us", 1).expect("keygen");
    let err = seal(&sample_report("eu", "usage"), us.config()).expect_err("region mismatch");
    assert_eq!(err.code(), "wrong_region");
}

#[test]
fn unknown_key_id_is_a_distinct_error() {
    let old = KeyPair::generate("eu", 1).expect("keygen");
    let new = KeyPair::generate("eu", 2).expect("keygen");
    let envelope = seal(&sample_report("eu", "usage"), old.config()).expect("seals");
    for opener in openers("eu", &[new]) {
        let err = opener.open(&envelope).expect_err("key 1 is unknown");
        assert_eq!(err, Error::UnknownKey(1));
        assert_eq!(err.code(), "unknown_key");
    }
}

#[test]
fn same_key_id_other_key_fails_decryption() {
    let a = KeyPair::generate("eu", 1).expect("keygen");
    let b = KeyPair::generate("eu", 1).expect("keygen");
    let envelope = seal(&sample_report("eu", "usage"), a.config()).expect("seals");
    for opener in openers("eu", &[b]) {
        assert_eq!(
            opener.open(&envelope).expect_err("wrong key"),
            Error::DecryptionFailed
        );
    }
}

#[test]
fn purpose_inside_must_match_header() {
    // A client that seals a "browsing" report under a "usage" header cannot
    // get it counted as usage: the header is authenticated, and the opener
    // compares it with the plaintext.
    let keys = KeyPair::generate("eu", 1).expect("keygen");
    let report = sample_report("eu", "browsing");
    let honest = test_seal_with_ephemeral_ikm(&report, keys.config(), [9; 32]).expect("seals");
    let openers = openers("eu", std::slice::from_ref(&keys));
    for opener in &openers {
        assert!(opener.open(&honest).is_ok());
    }

    // Build the forged envelope by hand: header says usage, plaintext says browsing.
    let header = Header::new(1, keys.config().suite(), "eu", "usage").expect("valid");
    let aad = header.encode();
    let pk = <X25519HkdfSha256 as hpke::Kem>::PublicKey::from_bytes(keys.config().public_key())
        .expect("valid pk");
    let (enc, ct) = hpke::single_shot_seal::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
        &OpModeS::Base,
        &pk,
        HPKE_INFO,
        &report.to_json().expect("json"),
        &aad,
    )
    .expect("seals");
    let mut forged = aad;
    forged.extend_from_slice(&enc.to_bytes());
    forged.extend_from_slice(&ct);
    for opener in &openers {
        let err = opener.open(&forged).expect_err("mismatch");
        assert_eq!(err.code(), "header_mismatch");
    }
}

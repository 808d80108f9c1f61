//! Test vectors.
//!
//! 1. RFC 9180 A.2.1 (base mode, X25519, HKDF-SHA256, ChaCha20-Poly1305)
//!    through the `hpke` crate exactly as `seal` drives it: the ephemeral key
//!    comes from a fixed 32-byte draw, which is how Candor's deterministic
//!    vectors are made too.
//! 2. Candor's own vectors, regenerated here and compared with the copy in
//!    docs/wire.md, and opened by every compiled opener backend (pyhpke opens
//!    the same copy: tools/check_wire_vectors.py). Run with `CANDOR_BLESS=1` to rewrite that copy after a
//!    deliberate change (which is a wire-format change: bump the version).

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::fmt::Write as _;

use candor_protocol::{
    Day, Envelope, KeyPair, MetricValue, Report, ReportId, batch, test_seal_with_ephemeral_ikm,
};
use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::rand_core::{TryCryptoRng, TryRng};
use hpke::{Deserializable, Kem, OpModeS, Serializable};

use crate::common::{check_doc_section, counts, hex_block, openers};

struct Fixed([u8; 32]);

impl TryRng for Fixed {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        unreachable!("the KEM draws bytes")
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        unreachable!("the KEM draws bytes")
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        dst.copy_from_slice(&self.0);
        Ok(())
    }
}
impl TryCryptoRng for Fixed {}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).expect("hex literal")
}

#[test]
fn rfc9180_a_2_1_base_mode() {
    let ikm_e: [u8; 32] = h("909a9b35d3dc4713a5e72a4da274b55d3d3821a37e5d099e74a647db583a904b")
        .try_into()
        .expect("32 bytes");
    let sk_r = h("8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb");
    let recipient = KeyPair::from_private_bytes("eu", 0, &sk_r).expect("valid key");
    assert_eq!(
        hex::encode(recipient.config().public_key()),
        "4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a"
    );
    let pk_r = <X25519HkdfSha256 as Kem>::PublicKey::from_bytes(recipient.config().public_key())
        .expect("valid public key");
    let (enc, ct) =
        hpke::single_shot_seal_with_rng::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
            &OpModeS::Base,
            &pk_r,
            &h("4f6465206f6e2061204772656369616e2055726e"),
            &h("4265617574792069732074727574682c20747275746820626561757479"),
            &h("436f756e742d30"),
            &mut Fixed(ikm_e),
        )
        .expect("seals");
    assert_eq!(
        hex::encode(enc.to_bytes()),
        "1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a"
    );
    assert_eq!(
        hex::encode(ct),
        "1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db21993c62ce81883d2dd1b51a28"
    );
}

/// Recipient key material of the vectors: bytes 0x00..=0x1f.
fn ikm_r() -> [u8; 32] {
    std::array::from_fn(|i| i as u8)
}

/// Ephemeral key material of vector `n`: every byte is 0xa0 + n.
fn ikm_e(n: u8) -> [u8; 32] {
    [0xa0 + n; 32]
}

fn day() -> Day {
    Day::from_ymd(2026, 11, 29).expect("valid day")
}

fn report_1() -> Report {
    let mut r = Report::new(
        ReportId(std::array::from_fn(|i| 0x10 + i as u8)),
        "org.example.browser",
        3,
        "usage",
        1,
        "eu",
        day(),
    );
    r.dimensions.insert("app_version".into(), "121.3".into());
    r.dimensions.insert("platform".into(), "android".into());
    r.metrics.insert(
        "app.opened".into(),
        MetricValue::LabeledCounter(counts(&[("browser", 3), ("camera", 2)])),
    );
    r.metrics
        .insert("browser.tabs_opened".into(), MetricValue::Counter(12));
    r.metrics
        .insert("settings.dark_mode".into(), MetricValue::Boolean(true));
    r
}

/// Like vector 1, a valid report of examples/browser.toml (the values
/// crate's tests check both): one domain-set metric of purpose `browsing`
/// with the one dimension it declares.
fn report_2() -> Report {
    let mut r = Report::new(
        ReportId(std::array::from_fn(|i| 0x30 + i as u8)),
        "org.example.browser",
        3,
        "browsing",
        1,
        "eu",
        day(),
    );
    r.dimensions.insert("platform".into(), "ios".into());
    r.metrics.insert(
        "browser.slow_domains".into(),
        MetricValue::DomainSet(BTreeSet::from([
            "example.co.uk".into(),
            "example.com".into(),
            "user.github.io".into(),
        ])),
    );
    r
}

fn annotated_header(aad: &[u8]) -> String {
    let r = usize::from(aad[12]);
    let p = usize::from(aad[13 + r]);
    let rows = [
        (&aad[0..4], "magic \"CNDR\""),
        (&aad[4..5], "version 1"),
        (&aad[5..6], "key id"),
        (&aad[6..8], "KEM id 0x0020 DHKEM(X25519, HKDF-SHA256)"),
        (&aad[8..10], "KDF id 0x0001 HKDF-SHA256"),
        (&aad[10..12], "AEAD id 0x0003 ChaCha20-Poly1305"),
        (&aad[12..13], "region length"),
        (&aad[13..13 + r], "region"),
        (&aad[13 + r..14 + r], "purpose length"),
        (&aad[14 + r..14 + r + p], "purpose"),
    ];
    let mut out = String::new();
    for (bytes, what) in rows {
        let _ = writeln!(out, "{:<20} # {what}", hex::encode(bytes));
    }
    out
}

fn render_vector(out: &mut String, n: u8, report: &Report, keys: &KeyPair) -> Vec<u8> {
    let ikm = ikm_e(n);
    let (sk_e, pk_e) = X25519HkdfSha256::derive_keypair(&ikm);
    let envelope = test_seal_with_ephemeral_ikm(report, keys.config(), ikm).expect("seals");
    let decoded = Envelope::decode(&envelope).expect("decodes");
    // Every compiled opener backend opens the published vector.
    for opener in openers("eu", std::slice::from_ref(keys)) {
        assert_eq!(
            &opener.open(&envelope).expect("opens"),
            report,
            "{}",
            opener.backend()
        );
    }
    let plaintext = report.to_json().expect("json");
    let _ = write!(
        out,
        "### Vector {n}: purpose `{purpose}`\n\n\
         ikmE (ephemeral key material):\n```\n{ikm}\n```\n\
         skE / pkE (pkE is `enc`):\n```\n{ske}\n{pke}\n```\n\
         Plaintext ({len} bytes, UTF-8 JSON exactly as sealed):\n```json\n{pt}\n```\n\
         Header = associated data ({aadlen} bytes):\n```\n{hdr}```\n\
         enc ({enclen} bytes):\n```\n{enc}\n```\n\
         Ciphertext ({ctlen} bytes, tag included):\n```\n{ct}\n```\n\
         Whole envelope ({total} bytes):\n```\n{env}\n```\n\n",
        purpose = report.purpose,
        ikm = hex::encode(ikm),
        ske = hex::encode(sk_e.to_bytes()),
        pke = hex::encode(pk_e.to_bytes()),
        len = plaintext.len(),
        pt = String::from_utf8(plaintext).expect("JSON is UTF-8"),
        aadlen = decoded.aad.len(),
        hdr = annotated_header(decoded.aad),
        enclen = decoded.enc.len(),
        enc = hex_block(decoded.enc),
        ctlen = decoded.ciphertext.len(),
        ct = hex_block(decoded.ciphertext),
        total = envelope.len(),
        env = hex_block(&envelope),
    );
    envelope
}

/// The vectors section of docs/wire.md, as this code produces it.
fn vectors_markdown() -> String {
    let keys = KeyPair::derive("eu", 1, &ikm_r()).expect("valid key");
    let (sk_r, _) = X25519HkdfSha256::derive_keypair(&ikm_r());
    let mut out = String::new();
    let _ = write!(
        out,
        "All vectors use region `eu` and one recipient key, derived with RFC 9180 \
         `DeriveKeyPair` from ikmR = 000102…1f:\n\n\
         ```\nikmR {ikm}\nskR  {sk}\npkR  {pk}\n```\n\
         Its key config (§5):\n```json\n{config}\n```\n\n",
        ikm = hex::encode(ikm_r()),
        sk = hex::encode(sk_r.to_bytes()),
        pk = hex::encode(keys.config().public_key()),
        config = keys.config().to_json(),
    );
    let e1 = render_vector(&mut out, 1, &report_1(), &keys);
    let e2 = render_vector(&mut out, 2, &report_2(), &keys);
    let body = batch::encode(&[&e1[..], &e2[..]]).expect("encodes");
    let _ = write!(
        out,
        "### Vector 3: a batch of vectors 1 and 2\n\n\
         ```\n{head:<20} # magic \"CNDB\", version 1, count 2\n{l1:<20} # length of vector 1\n\
         …vector 1's envelope…\n{l2:<20} # length of vector 2\n…vector 2's envelope…\n```\n\
         Whole batch ({len} bytes):\n```\n{all}\n```\n",
        head = hex::encode(&body[..7]),
        l1 = hex::encode((e1.len() as u32).to_be_bytes()),
        l2 = hex::encode((e2.len() as u32).to_be_bytes()),
        len = body.len(),
        all = hex_block(&body),
    );
    out
}

const BEGIN: &str =
    "<!-- test-vectors:begin (generated by crates/protocol/tests/integration/vectors.rs) -->\n";
const END: &str = "<!-- test-vectors:end -->";

#[test]
fn committed_vectors_reproduce_exactly() {
    check_doc_section(BEGIN, END, &vectors_markdown());
}

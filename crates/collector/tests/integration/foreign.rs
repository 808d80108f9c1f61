//! A foreign client: builds and seals reports from docs/wire.md alone, with
//! none of Candor's own code: the report is JSON written by hand (§2), the
//! header is laid out byte by byte (§3), the key config is taken from the
//! collector's signed key list after checking its Ed25519 signature with
//! the pinned `signing.public.json` (§5.1, §5.2, with ed25519-dalek
//! directly), and HPKE is called directly with the documented parameters
//! (§4). What the collector accepts or refuses from it is what
//! any third-party client would see.

use std::convert::Infallible;

use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::rand_core::{TryCryptoRng, TryRng};
use hpke::{Deserializable, Kem, OpModeS, Serializable};

use crate::common::{Answer, Server, post_raw};

/// §4: the HPKE `info` string.
const INFO: &[u8] = b"candor report v1";

/// 32 fresh bytes for the KEM's ephemeral key, drawn once (§4: a fresh
/// ephemeral key for every envelope).
struct Ephemeral([u8; 32]);

impl TryRng for Ephemeral {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        unreachable!("the KEM draws bytes")
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        unreachable!("the KEM draws bytes")
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        dst.copy_from_slice(&self.0[..dst.len()]);
        Ok(())
    }
}
impl TryCryptoRng for Ephemeral {}

/// A region's key as published on `GET /v1/regions/{region}/keys`.
pub(crate) struct ForeignKey {
    key_id: u8,
    public_key: Vec<u8>,
}

impl ForeignKey {
    /// The first key of the region's signed key list (§5.2), once its
    /// signature, region and validity check out.
    pub(crate) fn fetch(server: &Server, region: &str) -> ForeignKey {
        let pinned_path = server
            .dir
            .path()
            .join(region)
            .join("keys/signing.public.json");
        let pinned: serde_json::Value =
            serde_json::from_slice(&std::fs::read(pinned_path).expect("pinned key")).expect("json");
        assert_eq!(pinned["algorithm"], "ed25519");
        let public: [u8; 32] = hex::decode(pinned["public_key"].as_str().expect("hex"))
            .expect("hex")
            .try_into()
            .expect("32 bytes");
        let document: serde_json::Value =
            serde_json::from_str(&server.key_list_text(region)).expect("json");
        let payload = document["payload"].as_str().expect("payload");
        let signature: [u8; 64] = hex::decode(document["signature"].as_str().expect("signed"))
            .expect("hex")
            .try_into()
            .expect("64 bytes");
        // §5.1: the signed bytes.
        let mut signed = b"candor signature v1\0".to_vec();
        signed.extend_from_slice(region.as_bytes());
        signed.extend_from_slice(b"\0key-list\0");
        signed.extend_from_slice(payload.as_bytes());
        ed25519_dalek::VerifyingKey::from_bytes(&public)
            .expect("a public key")
            .verify_strict(&signed, &ed25519_dalek::Signature::from_bytes(&signature))
            .expect("the list is signed by the pinned key");
        let list: serde_json::Value = serde_json::from_str(payload).expect("payload json");
        assert_eq!(list["region"], region);
        let now = candor_collector::clock::Clock::now(&server.clock);
        let skew = 300;
        assert!(list["issued_at"].as_i64().expect("issued_at") <= now + skew);
        assert!(list["expires_at"].as_i64().expect("expires_at") + skew > now);
        let key = &list["keys"][0];
        assert_eq!(
            (&key["kem_id"], &key["kdf_id"], &key["aead_id"]),
            (&32.into(), &1.into(), &3.into()),
            "the one suite of wire v1"
        );
        ForeignKey {
            key_id: u8::try_from(key["key_id"].as_u64().expect("key_id")).expect("0..=255"),
            public_key: hex::decode(key["public_key"].as_str().expect("hex")).expect("hex"),
        }
    }
}

/// §3: magic, version, key id, suite ids, region and purpose with their
/// lengths.
fn header(key_id: u8, region: &str, purpose: &str) -> Vec<u8> {
    let mut h = b"CNDR".to_vec();
    h.push(1);
    h.push(key_id);
    h.extend_from_slice(&[0x00, 0x20, 0x00, 0x01, 0x00, 0x03]);
    h.push(u8::try_from(region.len()).expect("short"));
    h.extend_from_slice(region.as_bytes());
    h.push(u8::try_from(purpose.len()).expect("short"));
    h.extend_from_slice(purpose.as_bytes());
    h
}

/// Seals a plaintext (any bytes: the collector decides whether it is a
/// report) into an envelope for `region` and `purpose`.
pub(crate) fn seal(key: &ForeignKey, region: &str, purpose: &str, plaintext: &[u8]) -> Vec<u8> {
    let aad = header(key.key_id, region, purpose);
    let pk = <X25519HkdfSha256 as Kem>::PublicKey::from_bytes(&key.public_key).expect("pk");
    let mut ikm = [0u8; 32];
    getrandom::fill(&mut ikm).expect("os random");
    let (enc, ct) =
        hpke::single_shot_seal_with_rng::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
            &OpModeS::Base,
            &pk,
            INFO,
            plaintext,
            &aad,
            &mut Ephemeral(ikm),
        )
        .expect("seal");
    let mut envelope = aad;
    envelope.extend_from_slice(&enc.to_bytes());
    envelope.extend_from_slice(&ct);
    envelope
}

/// A fresh random `report_id` (§2: 32 lowercase hex digits).
pub(crate) fn report_id() -> String {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).expect("os random");
    hex::encode(id)
}

/// A report of the example schema, as a JSON value a test may then break.
pub(crate) fn report(purpose: &str, metrics: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "v": 1,
        "report_id": report_id(),
        "schema": "org.example.browser",
        "schema_version": 3,
        "purpose": purpose,
        "consent_version": 1,
        "region": "eu",
        "day": "2026-11-29",
        "dimensions": {},
        "metrics": metrics,
    })
}

/// Seals `report` (its region and purpose taken from it) and posts it to
/// the eu region.
pub(crate) fn post(server: &Server, key: &ForeignKey, report: &serde_json::Value) -> Answer {
    let purpose = report["purpose"].as_str().expect("purpose");
    let plaintext = serde_json::to_vec(report).expect("json");
    post_raw(
        &server.url(),
        "eu",
        &seal(key, "eu", purpose, &plaintext),
        &[],
    )
}

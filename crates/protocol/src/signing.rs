//! Region signing keys: Ed25519 (RFC 8032) signatures over the documents a
//! region publishes about itself, so that anyone holding the region's
//! signing public key (pinned in apps, printed by `candor keygen`) can check
//! them without trusting the server that serves them.
//!
//! What is signed is never the bare document: [`signed_bytes`] prefixes it
//! with [`SIGNATURE_DOMAIN`], the region and the [`SignedKind`], so a
//! signature made for one kind of document (a key-config list) can never be
//! passed off as another (an audit-chain head) or as another region's.
//! docs/wire.md §5.1 specifies the bytes, with test vectors.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::envelope::check_region;
use crate::error::Error;

/// The first bytes of every signed message (docs/wire.md §5.1).
pub const SIGNATURE_DOMAIN: &[u8] = b"candor signature v1";

/// What a signature is for: part of the signed bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignedKind {
    /// The list of a region's key configs that devices seal to.
    KeyList,
    /// The head of a region's audit chain.
    AuditHead,
}

impl SignedKind {
    /// The kind's label in the signed bytes.
    pub fn label(self) -> &'static str {
        match self {
            SignedKind::KeyList => "key-list",
            SignedKind::AuditHead => "audit-head",
        }
    }
}

/// The exact bytes an Ed25519 signature covers: `SIGNATURE_DOMAIN`, `0x00`,
/// the region, `0x00`, the kind's label, `0x00`, then the message.
///
/// Regions and labels never contain a zero byte, so the framing is
/// unambiguous.
pub fn signed_bytes(region: &str, kind: SignedKind, message: &[u8]) -> Vec<u8> {
    let label = kind.label();
    let mut out =
        Vec::with_capacity(SIGNATURE_DOMAIN.len() + region.len() + label.len() + 3 + message.len());
    out.extend_from_slice(SIGNATURE_DOMAIN);
    out.push(0);
    out.extend_from_slice(region.as_bytes());
    out.push(0);
    out.extend_from_slice(label.as_bytes());
    out.push(0);
    out.extend_from_slice(message);
    out
}

/// An Ed25519 signature (64 bytes; hex in JSON).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature([u8; 64]);

impl Signature {
    /// The signature's bytes.
    pub fn to_bytes(&self) -> [u8; 64] {
        self.0
    }

    /// Lowercase hex, as in JSON documents.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 128 hex digits.
    pub fn from_hex(text: &str) -> Result<Self, Error> {
        let bytes = hex::decode(text).map_err(|_| Error::BadSignature("signature is not hex"))?;
        let bytes: [u8; 64] = bytes
            .try_into()
            .map_err(|_| Error::BadSignature("signature is not 64 bytes"))?;
        Ok(Signature(bytes))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_hex())
    }
}

impl Serialize for Signature {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Signature::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// A region's signing public key: what apps pin and auditors are given.
///
/// JSON form (`signing.public.json`):
/// `{"region":"eu","algorithm":"ed25519","public_key":"<64 hex>"}`.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifyingKey {
    region: String,
    key: ed25519_dalek::VerifyingKey,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyingKeyJson {
    region: String,
    algorithm: String,
    public_key: String,
}

/// The one algorithm name of [`VerifyingKey`]'s JSON form.
const ALGORITHM: &str = "ed25519";

impl VerifyingKey {
    /// A region's key from its 32 public bytes in hex (as `candor keygen`
    /// prints it). Refuses a weak (small-order) point.
    pub fn from_hex(region: &str, public_key: &str) -> Result<Self, Error> {
        check_region(region)?;
        let bytes = hex::decode(public_key.trim())
            .map_err(|_| Error::InvalidKey("signing public key is not hex".into()))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| Error::InvalidKey("signing public key is not 32 bytes".into()))?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map_err(|_| Error::InvalidKey("not an Ed25519 public key".into()))?;
        if key.is_weak() {
            return Err(Error::InvalidKey("weak Ed25519 public key".into()));
        }
        Ok(VerifyingKey {
            region: region.to_owned(),
            key,
        })
    }

    /// The region whose documents this key signs.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The 32 public bytes in lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.key.as_bytes())
    }

    /// The JSON form.
    pub fn to_json(&self) -> String {
        let json = VerifyingKeyJson {
            region: self.region.clone(),
            algorithm: ALGORITHM.to_owned(),
            public_key: self.to_hex(),
        };
        serde_json::to_string_pretty(&json).expect("a verifying key always serializes")
    }

    /// Parses the JSON form.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        let json: VerifyingKeyJson =
            serde_json::from_slice(bytes).map_err(|e| Error::InvalidKey(e.to_string()))?;
        if json.algorithm != ALGORITHM {
            return Err(Error::InvalidKey(format!(
                "signing algorithm {:?} is not {ALGORITHM:?}",
                json.algorithm
            )));
        }
        Self::from_hex(&json.region, &json.public_key)
    }

    /// Checks that `signature` signs `message` as a document of `kind` of
    /// this key's region (RFC 8032 verification, strict: non-canonical
    /// encodings are refused).
    pub fn verify(
        &self,
        kind: SignedKind,
        message: &[u8],
        signature: &Signature,
    ) -> Result<(), Error> {
        let signature = ed25519_dalek::Signature::from_bytes(&signature.0);
        self.key
            .verify_strict(&signed_bytes(&self.region, kind, message), &signature)
            .map_err(|_| Error::BadSignature("the signature does not verify"))
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyingKey({}, {})", self.region, self.to_hex())
    }
}

/// A region's signing key (the private half). `Debug` never prints it.
///
/// JSON form (`signing.private.json`, readable by its owner only): the
/// public form's fields plus `private_key`, the 32-byte RFC 8032 seed in hex.
#[derive(Clone)]
pub struct SigningKey {
    region: String,
    key: ed25519_dalek::SigningKey,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SigningKeyJson {
    region: String,
    algorithm: String,
    public_key: String,
    private_key: String,
}

impl SigningKey {
    /// A fresh key from the OS CSPRNG.
    pub fn generate(region: &str) -> Result<Self, Error> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|_| Error::Randomness)?;
        Self::from_seed(region, seed)
    }

    /// The key with this RFC 8032 seed (the private key bytes), for test vectors.
    pub fn from_seed(region: &str, seed: [u8; 32]) -> Result<Self, Error> {
        check_region(region)?;
        Ok(SigningKey {
            region: region.to_owned(),
            key: ed25519_dalek::SigningKey::from_bytes(&seed),
        })
    }

    /// The region whose documents this key signs.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The public half.
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey {
            region: self.region.clone(),
            key: self.key.verifying_key(),
        }
    }

    /// Signs `message` as a document of `kind` of this key's region.
    pub fn sign(&self, kind: SignedKind, message: &[u8]) -> Signature {
        use ed25519_dalek::Signer;
        let bytes = signed_bytes(&self.region, kind, message);
        Signature(self.key.sign(&bytes).to_bytes())
    }

    /// The key file's JSON form. Whoever writes it must make the file
    /// readable by its owner only.
    pub fn to_private_json(&self) -> String {
        let json = SigningKeyJson {
            region: self.region.clone(),
            algorithm: ALGORITHM.to_owned(),
            public_key: self.verifying_key().to_hex(),
            private_key: hex::encode(self.key.to_bytes()),
        };
        serde_json::to_string_pretty(&json).expect("a signing key always serializes")
    }

    /// Parses a key file, checking that its public key matches its private key.
    pub fn from_private_json(bytes: &[u8]) -> Result<Self, Error> {
        let json: SigningKeyJson =
            serde_json::from_slice(bytes).map_err(|e| Error::InvalidKey(e.to_string()))?;
        if json.algorithm != ALGORITHM {
            return Err(Error::InvalidKey(format!(
                "signing algorithm {:?} is not {ALGORITHM:?}",
                json.algorithm
            )));
        }
        let seed = hex::decode(&json.private_key)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| Error::InvalidKey("private_key is not 32 bytes of hex".into()))?;
        let key = Self::from_seed(&json.region, seed)?;
        if key.verifying_key().to_hex() != json.public_key.to_ascii_lowercase() {
            return Err(Error::InvalidKey(
                "the public key does not belong to the private key".into(),
            ));
        }
        Ok(key)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("public", &self.verifying_key())
            .field("private", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_seed("eu", [7; 32]).unwrap()
    }

    #[test]
    fn a_signature_verifies_for_its_region_kind_and_message_only() {
        let k = key();
        let v = k.verifying_key();
        let sig = k.sign(SignedKind::KeyList, b"doc");
        assert_eq!(v.verify(SignedKind::KeyList, b"doc", &sig), Ok(()));
        assert!(v.verify(SignedKind::KeyList, b"doc2", &sig).is_err());
        assert!(v.verify(SignedKind::AuditHead, b"doc", &sig).is_err());
        let us = SigningKey::from_seed("us", [7; 32])
            .unwrap()
            .verifying_key();
        assert!(
            us.verify(SignedKind::KeyList, b"doc", &sig).is_err(),
            "same seed, other region: the region is signed"
        );
        let mut bad = sig.to_bytes();
        bad[0] ^= 1;
        assert!(
            v.verify(SignedKind::KeyList, b"doc", &Signature(bad))
                .is_err()
        );
    }

    #[test]
    fn key_files_round_trip_and_refuse_a_mismatched_public_key() {
        let k = key();
        let back = SigningKey::from_private_json(k.to_private_json().as_bytes()).unwrap();
        assert_eq!(back.verifying_key(), k.verifying_key());
        let public = VerifyingKey::from_json(k.verifying_key().to_json().as_bytes()).unwrap();
        assert_eq!(public, k.verifying_key());
        let other = SigningKey::from_seed("eu", [8; 32]).unwrap();
        let forged = k
            .to_private_json()
            .replace(&k.verifying_key().to_hex(), &other.verifying_key().to_hex());
        assert!(SigningKey::from_private_json(forged.as_bytes()).is_err());
        assert!(!format!("{k:?}").contains(&hex::encode([7u8; 32])));
    }

    #[test]
    fn signed_bytes_are_framed_as_documented() {
        assert_eq!(
            signed_bytes("eu", SignedKind::AuditHead, b"x"),
            b"candor signature v1\0eu\0audit-head\0x".to_vec()
        );
    }

    #[test]
    fn malformed_keys_and_signatures_are_refused() {
        assert!(VerifyingKey::from_hex("eu", "zz").is_err());
        assert!(VerifyingKey::from_hex("eu", &"00".repeat(31)).is_err());
        // The identity point has small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(VerifyingKey::from_hex("eu", &hex::encode(identity)).is_err());
        assert!(Signature::from_hex(&"00".repeat(63)).is_err());
    }
}

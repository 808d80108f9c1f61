//! The signed head of a region's audit chain: the collector's statement
//! "at `signed_at`, region R's audit chain ended at entry `seq` with hash
//! `head`", signed with the region signing key and published without
//! authentication (`GET /v1/regions/{region}/audit/head`).
//!
//! Anyone holding the region's signing public key can keep such a
//! statement and later check that the chain served then still starts with
//! the same entries: a head signed earlier must be an entry of today's
//! chain, unchanged, or the operator rewrote history (and signed both).
//!
//! The signed message (docs/api.md, "Signed audit head") is the ASCII text
//! `<seq>:<head as 64 lowercase hex digits>:<signed_at>` (decimal numbers,
//! no spaces), framed by [`crate::signing::signed_bytes`] with the kind
//! [`SignedKind::AuditHead`]. An empty chain has `seq` 0 and a head of 32
//! zero bytes.

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::signing::{Signature, SignedKind, SigningKey, VerifyingKey};

/// A signed audit-chain head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHead {
    /// The region whose chain it is (and whose key signed it).
    pub region: String,
    /// The last entry's seq; 0 for an empty chain.
    pub seq: u64,
    /// The last entry's hash; zeros for an empty chain.
    pub head: [u8; 32],
    /// When it was signed, Unix seconds.
    pub signed_at: i64,
    /// Ed25519 over [`SignedHead::message`] as a [`SignedKind::AuditHead`].
    pub signature: Signature,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignedHeadJson {
    region: String,
    seq: u64,
    head: String,
    signed_at: i64,
    signature: Signature,
}

/// The message of a head: `<seq>:<hex head>:<signed_at>`.
fn message(seq: u64, head: &[u8; 32], signed_at: i64) -> String {
    format!("{seq}:{}:{signed_at}", hex::encode(head))
}

impl SignedHead {
    /// Signs the head `(seq, head)` of `key`'s region at `signed_at`.
    pub fn sign(key: &SigningKey, seq: u64, head: [u8; 32], signed_at: i64) -> Self {
        let signature = key.sign(
            SignedKind::AuditHead,
            message(seq, &head, signed_at).as_bytes(),
        );
        SignedHead {
            region: key.region().to_owned(),
            seq,
            head,
            signed_at,
            signature,
        }
    }

    /// The exact message signed (before the signature framing).
    pub fn message(&self) -> String {
        message(self.seq, &self.head, self.signed_at)
    }

    /// Checks the signature with `key`, which must be of the same region.
    ///
    /// # Errors
    /// [`Error::BadSignature`] for another region's key or a signature that
    /// does not verify.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), Error> {
        if key.region() != self.region {
            return Err(Error::BadSignature(
                "the head is of another region than the key",
            ));
        }
        key.verify(
            SignedKind::AuditHead,
            self.message().as_bytes(),
            &self.signature,
        )
    }

    /// The JSON document the collector serves and `candor verify --save-head`
    /// writes: `{"region","seq","head","signed_at","signature"}`.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&SignedHeadJson {
            region: self.region.clone(),
            seq: self.seq,
            head: hex::encode(self.head),
            signed_at: self.signed_at,
            signature: self.signature,
        })
        .expect("a signed head always serializes")
    }

    /// Parses [`SignedHead::to_json`]'s form (the signature is not checked:
    /// that is [`SignedHead::verify`]'s job).
    ///
    /// # Errors
    /// [`Error::InvalidKey`] for a malformed document.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        let json: SignedHeadJson = serde_json::from_slice(bytes)
            .map_err(|e| Error::InvalidKey(format!("signed head: {e}")))?;
        let head = hex::decode(&json.head)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| Error::InvalidKey("signed head: head is not 32 bytes of hex".into()))?;
        Ok(SignedHead {
            region: json.region,
            seq: json.seq,
            head,
            signed_at: json.signed_at,
            signature: json.signature,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_verifies_only_unchanged_and_with_its_regions_key() {
        let key = SigningKey::from_seed("eu", [7; 32]).unwrap();
        let head = SignedHead::sign(&key, 3, [0xab; 32], 1_765_000_000);
        assert_eq!(head.message(), format!("3:{}:1765000000", "ab".repeat(32)));
        assert_eq!(head.verify(&key.verifying_key()), Ok(()));
        let back = SignedHead::from_json(head.to_json().as_bytes()).unwrap();
        assert_eq!(back, head);
        for tampered in [
            SignedHead {
                seq: 4,
                ..head.clone()
            },
            SignedHead {
                head: [0xac; 32],
                ..head.clone()
            },
            SignedHead {
                signed_at: 1_765_000_001,
                ..head.clone()
            },
        ] {
            assert!(tampered.verify(&key.verifying_key()).is_err());
        }
        let other = SigningKey::from_seed("eu", [8; 32]).unwrap();
        assert!(head.verify(&other.verifying_key()).is_err());
        let us = SigningKey::from_seed("us", [7; 32]).unwrap();
        assert!(head.verify(&us.verifying_key()).is_err());
    }

    /// The test vector of docs/api.md, "Signed audit head".
    #[test]
    fn the_documented_test_vector_reproduces() {
        let key = SigningKey::from_seed("eu", [7; 32]).unwrap();
        let head = SignedHead::sign(&key, 3, [0xab; 32], 1_765_000_000);
        assert_eq!(
            crate::signing::signed_bytes("eu", SignedKind::AuditHead, head.message().as_bytes()),
            format!("candor signature v1\0eu\0audit-head\0{}", head.message()).into_bytes()
        );
        assert_eq!(head.signature.to_hex(), VECTOR_SIGNATURE);
    }

    /// Checked independently with Python's `cryptography` (docs/api.md,
    /// "Signed audit head").
    const VECTOR_SIGNATURE: &str = "b69f6e9817e01a8f513237e007e4f9c727659ff28a00bb0ba7e5337f327b6b684916609aca579d6cdd1dac3c0effafb8f1084e1e817eebebd18eb5741a1c490b";
}

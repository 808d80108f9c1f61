//! The signed key-config list: what a region's collector serves at
//! `GET /v1/regions/{region}/keys`, and how a device checks it before it
//! seals anything to one of its keys.
//!
//! A device pins its region's signing public key ([`VerifyingKey`]), never a
//! bare key config: a collector that served one device a key of its own
//! would need the region's signing key to get it accepted, and every key
//! the signing key ever published is in the region's audit chain.
//!
//! The signed document is `{"payload": "<the list as JSON text>",
//! "signature": "<hex>"}`: the signature covers the payload's exact bytes
//! (framed by [`signed_bytes`](crate::signing::signed_bytes) with
//! [`SignedKind::KeyList`]), so neither side needs a canonical JSON form.
//! docs/wire.md §5.2 specifies it, with test vectors.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::envelope::check_region;
use crate::error::Error;
use crate::keys::KeyConfig;
use crate::limits::MAX_KEY_LIST_BYTES;
use crate::signing::{Signature, SignedKind, SigningKey, VerifyingKey};

/// How far a device's clock may be off from the signer's: a list is
/// refused once `expires_at + MAX_CLOCK_SKEW_SECONDS <= now`, and when
/// `issued_at > now + MAX_CLOCK_SKEW_SECONDS` (docs/wire.md §5.2).
pub const MAX_CLOCK_SKEW_SECONDS: i64 = 300;

/// A region's key configs as of one moment: the payload of a
/// [`SignedKeyList`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyList {
    /// The region whose keys these are; must equal the signing key's.
    pub region: String,
    /// Orders the lists a region signs: a later list has a larger serial
    /// (Candor's signers use the issue time), so a device never goes back
    /// to an older list it was already past.
    pub serial: u64,
    /// When the list was signed (Unix seconds).
    pub issued_at: i64,
    /// When the list stops being valid (Unix seconds); devices fetch a new
    /// one before then.
    pub expires_at: i64,
    /// The active key configs, preferred first: devices seal to the first.
    pub keys: Vec<KeyConfig>,
}

impl KeyList {
    /// The payload's JSON text (compact, field order as declared).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a key list always serializes")
    }

    /// Signs the list with the region's signing key. Refuses a list that
    /// a device would refuse as malformed, or one of another region.
    pub fn sign(&self, key: &SigningKey) -> Result<SignedKeyList, Error> {
        self.check()?;
        if self.region != key.region() {
            return Err(Error::KeyListWrongRegion {
                expected: key.region().to_owned(),
                found: self.region.clone(),
            });
        }
        let payload = self.to_json();
        let signature = key.sign(SignedKind::KeyList, payload.as_bytes());
        Ok(SignedKeyList {
            payload,
            signature: Some(signature),
        })
    }

    /// The key devices seal to: the first of the list.
    pub fn preferred(&self) -> &KeyConfig {
        // `check` refuses an empty list, and no list is built without it.
        &self.keys[0]
    }

    /// The payload rules that need no key and no clock: a valid region, at
    /// least one key, every key of the list's region, no key id twice,
    /// `issued_at < expires_at`.
    fn check(&self) -> Result<(), Error> {
        let malformed = |why: &str| Err(Error::MalformedKeyList(why.to_owned()));
        if check_region(&self.region).is_err() {
            return malformed("invalid region id");
        }
        if self.keys.is_empty() {
            return malformed("the list has no key");
        }
        if self.keys.iter().any(|k| k.region() != self.region) {
            return malformed("a key config is of another region than the list");
        }
        let ids: BTreeSet<u8> = self.keys.iter().map(KeyConfig::key_id).collect();
        if ids.len() != self.keys.len() {
            return malformed("a key id is listed twice");
        }
        if self.issued_at >= self.expires_at {
            return malformed("issued_at is not before expires_at");
        }
        Ok(())
    }
}

/// A key list and its signature, as served: JSON
/// `{"payload": "<KeyList JSON text>", "signature": "<128 hex>"}`.
///
/// `signature` is optional in the type only so that an unsigned list is
/// told apart (`unsigned_key_list`) from a badly signed one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedKeyList {
    /// The list's JSON text, exactly the bytes that were signed.
    pub payload: String,
    /// Ed25519 over `signed_bytes(region, KeyList, payload)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
}

impl SignedKeyList {
    /// The served document's JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a signed key list always serializes")
    }

    /// Parses a served document (no check of its signature or content:
    /// see [`SignedKeyList::verify`]). Refuses more than
    /// [`MAX_KEY_LIST_BYTES`] before parsing.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() > MAX_KEY_LIST_BYTES {
            return Err(Error::TooLarge {
                what: "key list",
                len: bytes.len(),
                max: MAX_KEY_LIST_BYTES,
                unit: "bytes",
            });
        }
        serde_json::from_slice(bytes).map_err(|e| Error::MalformedKeyList(e.to_string()))
    }

    /// Parses and verifies a served document in one step.
    pub fn verify_json(bytes: &[u8], key: &VerifyingKey, now: i64) -> Result<KeyList, Error> {
        Self::from_json(bytes)?.verify(key, now)
    }

    /// A device's whole check, in order: signed at all
    /// (`unsigned_key_list`), by `key` over these payload bytes
    /// (`bad_signature`), a well-formed payload (`malformed_key_list`) of
    /// `key`'s region (`key_list_wrong_region`), issued no later than
    /// `now` plus the skew allowance (`key_list_not_yet_valid`) and not
    /// expired (`key_list_expired`). Returns the list it may seal to.
    pub fn verify(&self, key: &VerifyingKey, now: i64) -> Result<KeyList, Error> {
        let signature = self.signature.as_ref().ok_or(Error::UnsignedKeyList)?;
        key.verify(SignedKind::KeyList, self.payload.as_bytes(), signature)?;
        let list: KeyList = serde_json::from_str(&self.payload)
            .map_err(|e| Error::MalformedKeyList(e.to_string()))?;
        list.check()?;
        if list.region != key.region() {
            return Err(Error::KeyListWrongRegion {
                expected: key.region().to_owned(),
                found: list.region,
            });
        }
        if list.issued_at > now.saturating_add(MAX_CLOCK_SKEW_SECONDS) {
            return Err(Error::KeyListNotYetValid {
                issued_at: list.issued_at,
                now,
            });
        }
        if list.expires_at.saturating_add(MAX_CLOCK_SKEW_SECONDS) <= now {
            return Err(Error::KeyListExpired {
                expires_at: list.expires_at,
                now,
            });
        }
        Ok(list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KeyPair;

    fn signer() -> SigningKey {
        SigningKey::from_seed("eu", [9; 32]).unwrap()
    }

    fn list() -> KeyList {
        KeyList {
            region: "eu".into(),
            serial: 1_000,
            issued_at: 1_000,
            expires_at: 2_000,
            keys: vec![KeyPair::derive("eu", 1, &[1; 32]).unwrap().config().clone()],
        }
    }

    fn code(r: Result<KeyList, Error>) -> &'static str {
        r.expect_err("refused").code()
    }

    #[test]
    fn a_signed_list_round_trips_through_json_and_verifies() {
        let signed = list().sign(&signer()).unwrap();
        let back = SignedKeyList::from_json(signed.to_json().as_bytes()).unwrap();
        assert_eq!(back, signed);
        let key = signer().verifying_key();
        assert_eq!(back.verify(&key, 1_500), Ok(list()));
        assert_eq!(list().preferred().key_id(), 1);
    }

    #[test]
    fn the_clock_rules_allow_the_stated_skew_and_no_more() {
        let signed = list().sign(&signer()).unwrap();
        let key = signer().verifying_key();
        let skew = MAX_CLOCK_SKEW_SECONDS;
        assert!(signed.verify(&key, 1_000 - skew).is_ok());
        assert_eq!(
            code(signed.verify(&key, 1_000 - skew - 1)),
            "key_list_not_yet_valid"
        );
        assert!(signed.verify(&key, 2_000 + skew - 1).is_ok());
        assert_eq!(code(signed.verify(&key, 2_000 + skew)), "key_list_expired");
    }

    #[test]
    fn each_refusal_has_its_code() {
        let key = signer().verifying_key();
        let signed = list().sign(&signer()).unwrap();
        let unsigned = SignedKeyList {
            signature: None,
            ..signed.clone()
        };
        assert_eq!(code(unsigned.verify(&key, 1_500)), "unsigned_key_list");
        let other = SigningKey::from_seed("eu", [10; 32]).unwrap();
        let by_other = list().sign(&other).unwrap();
        assert_eq!(code(by_other.verify(&key, 1_500)), "bad_signature");
        let tampered = SignedKeyList {
            payload: signed.payload.replace("\"serial\":1000", "\"serial\":1001"),
            ..signed.clone()
        };
        assert_ne!(tampered.payload, signed.payload);
        assert_eq!(code(tampered.verify(&key, 1_500)), "bad_signature");

        // A list of region `us` signed with a `us` key built from the same
        // seed still fails: the region is in the signed bytes.
        let us_signer = SigningKey::from_seed("us", [9; 32]).unwrap();
        let us_list = KeyList {
            region: "us".into(),
            keys: vec![KeyPair::derive("us", 1, &[1; 32]).unwrap().config().clone()],
            ..list()
        };
        let us_signed = us_list.sign(&us_signer).unwrap();
        assert_eq!(code(us_signed.verify(&key, 1_500)), "bad_signature");
        // Signed by the right key over another region's payload: refused
        // by its region.
        let payload = us_list.to_json();
        let wrong_region = SignedKeyList {
            signature: Some(signer().sign(SignedKind::KeyList, payload.as_bytes())),
            payload,
        };
        assert_eq!(
            code(wrong_region.verify(&key, 1_500)),
            "key_list_wrong_region"
        );
        // A signed payload that is not a key list.
        let junk = SignedKeyList {
            signature: Some(signer().sign(SignedKind::KeyList, b"{\"keys\":[]}")),
            payload: "{\"keys\":[]}".into(),
        };
        assert_eq!(code(junk.verify(&key, 1_500)), "malformed_key_list");
        assert_eq!(
            SignedKeyList::from_json(b"[]").unwrap_err().code(),
            "malformed_key_list"
        );
        let huge = vec![b' '; MAX_KEY_LIST_BYTES + 1];
        assert_eq!(
            SignedKeyList::from_json(&huge).unwrap_err().code(),
            "too_large"
        );
    }

    #[test]
    fn a_signer_refuses_what_a_device_would_refuse() {
        let empty = KeyList {
            keys: vec![],
            ..list()
        };
        assert_eq!(
            empty.sign(&signer()).unwrap_err().code(),
            "malformed_key_list"
        );
        let twice = KeyList {
            keys: vec![list().keys[0].clone(), list().keys[0].clone()],
            ..list()
        };
        assert_eq!(
            twice.sign(&signer()).unwrap_err().code(),
            "malformed_key_list"
        );
        let backwards = KeyList {
            expires_at: 1_000,
            ..list()
        };
        assert_eq!(
            backwards.sign(&signer()).unwrap_err().code(),
            "malformed_key_list"
        );
        let us = SigningKey::from_seed("us", [9; 32]).unwrap();
        assert_eq!(
            list().sign(&us).unwrap_err().code(),
            "key_list_wrong_region"
        );
    }
}

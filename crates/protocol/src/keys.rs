//! HPKE suites, public key configs and private key pairs.

use std::fmt;

use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as _, Serializable};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::envelope::check_region;

/// An HPKE cipher suite this crate can seal and open.
///
/// The suite's RFC 9180 ids travel in every envelope header and key config,
/// so another suite can be added later without a new wire version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Suite {
    /// DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305.
    X25519HkdfSha256ChaCha20Poly1305,
}

impl Suite {
    /// The (KEM, KDF, AEAD) ids of RFC 9180 §7.
    pub const fn ids(self) -> (u16, u16, u16) {
        match self {
            Suite::X25519HkdfSha256ChaCha20Poly1305 => (0x0020, 0x0001, 0x0003),
        }
    }

    /// The suite with the given RFC 9180 ids, if supported.
    pub fn from_ids(kem: u16, kdf: u16, aead: u16) -> Result<Self, Error> {
        match (kem, kdf, aead) {
            (0x0020, 0x0001, 0x0003) => Ok(Suite::X25519HkdfSha256ChaCha20Poly1305),
            _ => Err(Error::UnsupportedSuite { kem, kdf, aead }),
        }
    }

    /// Length in bytes of the KEM's encapsulated key (`Nenc`).
    pub const fn enc_len(self) -> usize {
        match self {
            Suite::X25519HkdfSha256ChaCha20Poly1305 => 32,
        }
    }

    /// Length in bytes of the AEAD tag (`Nt`).
    pub const fn tag_len(self) -> usize {
        match self {
            Suite::X25519HkdfSha256ChaCha20Poly1305 => 16,
        }
    }
}

/// A region's public key, as its collector publishes it and devices pin it.
///
/// JSON form (docs/wire.md §5):
/// `{"region":"eu","key_id":1,"kem_id":32,"kdf_id":1,"aead_id":3,"public_key":"<64 hex>"}`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "KeyConfigJson", into = "KeyConfigJson")]
pub struct KeyConfig {
    region: String,
    key_id: u8,
    suite: Suite,
    public_key: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyConfigJson {
    region: String,
    key_id: u8,
    kem_id: u16,
    kdf_id: u16,
    aead_id: u16,
    public_key: String,
}

impl TryFrom<KeyConfigJson> for KeyConfig {
    type Error = Error;

    fn try_from(j: KeyConfigJson) -> Result<Self, Error> {
        check_region(&j.region)?;
        let suite = Suite::from_ids(j.kem_id, j.kdf_id, j.aead_id)?;
        let public_key = hex::decode(&j.public_key)
            .map_err(|_| Error::InvalidKey("public_key is not hex".into()))?;
        X25519PublicKey::from_bytes(&public_key)
            .map_err(|_| Error::InvalidKey("public_key is not an X25519 public key".into()))?;
        Ok(KeyConfig {
            region: j.region,
            key_id: j.key_id,
            suite,
            public_key,
        })
    }
}

impl From<KeyConfig> for KeyConfigJson {
    fn from(k: KeyConfig) -> Self {
        let (kem_id, kdf_id, aead_id) = k.suite.ids();
        KeyConfigJson {
            region: k.region,
            key_id: k.key_id,
            kem_id,
            kdf_id,
            aead_id,
            public_key: hex::encode(k.public_key),
        }
    }
}

type X25519PublicKey = <X25519HkdfSha256 as hpke::Kem>::PublicKey;
type X25519PrivateKey = <X25519HkdfSha256 as hpke::Kem>::PrivateKey;

impl KeyConfig {
    /// The region this key belongs to.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The key id carried in envelope headers.
    pub fn key_id(&self) -> u8 {
        self.key_id
    }

    /// The HPKE suite.
    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// The serialized public key (`Npk` bytes).
    pub fn public_key(&self) -> &[u8] {
        &self.public_key
    }

    /// Parses a key config from its JSON form.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        serde_json::from_slice(bytes).map_err(|e| Error::InvalidKey(e.to_string()))
    }

    /// The key config's JSON form (pretty-printed, stable field order).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a key config always serializes")
    }

    pub(crate) fn hpke_public_key(&self) -> X25519PublicKey {
        X25519PublicKey::from_bytes(&self.public_key)
            .expect("the public key was validated when the config was built")
    }
}

impl fmt::Debug for KeyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyConfig")
            .field("region", &self.region)
            .field("key_id", &self.key_id)
            .field("suite", &self.suite)
            .field("public_key", &hex::encode(&self.public_key))
            .finish()
    }
}

/// A region's key pair: the private key the collector opens reports with,
/// and its public [`KeyConfig`].
///
/// `Debug` never prints the private key.
#[derive(Clone)]
pub struct KeyPair {
    config: KeyConfig,
    private: X25519PrivateKey,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyPairJson {
    region: String,
    key_id: u8,
    kem_id: u16,
    kdf_id: u16,
    aead_id: u16,
    public_key: String,
    private_key: String,
}

impl KeyPair {
    /// Generates a fresh key pair from the OS CSPRNG.
    pub fn generate(region: &str, key_id: u8) -> Result<Self, Error> {
        let mut ikm = [0u8; 32];
        getrandom::fill(&mut ikm).map_err(|_| Error::Randomness)?;
        Self::derive(region, key_id, &ikm)
    }

    /// Derives a key pair deterministically from input keying material
    /// (RFC 9180 `DeriveKeyPair`), for test vectors.
    pub fn derive(region: &str, key_id: u8, ikm: &[u8]) -> Result<Self, Error> {
        check_region(region)?;
        let (private, public) = X25519HkdfSha256::derive_keypair(ikm);
        Ok(Self::assemble(region, key_id, private, public))
    }

    /// Builds a key pair from a serialized X25519 private key (`Nsk` bytes).
    pub fn from_private_bytes(region: &str, key_id: u8, private: &[u8]) -> Result<Self, Error> {
        check_region(region)?;
        let private = X25519PrivateKey::from_bytes(private)
            .map_err(|_| Error::InvalidKey("not an X25519 private key".into()))?;
        let public = X25519HkdfSha256::sk_to_pk(&private);
        Ok(Self::assemble(region, key_id, private, public))
    }

    fn assemble(
        region: &str,
        key_id: u8,
        private: X25519PrivateKey,
        public: X25519PublicKey,
    ) -> Self {
        KeyPair {
            config: KeyConfig {
                region: region.to_owned(),
                key_id,
                suite: Suite::X25519HkdfSha256ChaCha20Poly1305,
                public_key: public.to_bytes().to_vec(),
            },
            private,
        }
    }

    /// The public half.
    pub fn config(&self) -> &KeyConfig {
        &self.config
    }

    /// The key file's JSON form: the key config's fields plus `private_key`.
    /// Whoever writes it must make the file readable by its owner only.
    pub fn to_private_json(&self) -> String {
        let c = KeyConfigJson::from(self.config.clone());
        let json = KeyPairJson {
            region: c.region,
            key_id: c.key_id,
            kem_id: c.kem_id,
            kdf_id: c.kdf_id,
            aead_id: c.aead_id,
            public_key: c.public_key,
            private_key: hex::encode(self.private.to_bytes()),
        };
        serde_json::to_string_pretty(&json).expect("a key pair always serializes")
    }

    /// Parses a key file, checking that its public key matches its private key.
    pub fn from_private_json(bytes: &[u8]) -> Result<Self, Error> {
        let json: KeyPairJson =
            serde_json::from_slice(bytes).map_err(|e| Error::InvalidKey(e.to_string()))?;
        let private = hex::decode(&json.private_key)
            .map_err(|_| Error::InvalidKey("private_key is not hex".into()))?;
        let config = KeyConfig::try_from(KeyConfigJson {
            region: json.region,
            key_id: json.key_id,
            kem_id: json.kem_id,
            kdf_id: json.kdf_id,
            aead_id: json.aead_id,
            public_key: json.public_key,
        })?;
        let pair = Self::from_private_bytes(&config.region, config.key_id, &private)?;
        if pair.config != config {
            return Err(Error::InvalidKey(
                "the public key does not belong to the private key".into(),
            ));
        }
        Ok(pair)
    }

    pub(crate) fn hpke_private_key(&self) -> &X25519PrivateKey {
        &self.private
    }

    /// The serialized private key (`Nsk` bytes), for an opener backend that
    /// takes raw bytes; the caller keeps it no longer than the key pair.
    #[cfg(feature = "fast-open")]
    pub(crate) fn private_key_bytes(&self) -> Vec<u8> {
        self.private.to_bytes().to_vec()
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("config", &self.config)
            .field("private", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_round_trips_and_debug_redacts() {
        let pair = KeyPair::generate("eu", 7).expect("generates");
        let json = pair.to_private_json();
        let back = KeyPair::from_private_json(json.as_bytes()).expect("parses");
        assert_eq!(back.config(), pair.config());
        let private_hex = hex::encode(pair.private.to_bytes());
        assert!(!format!("{pair:?}").contains(&private_hex));
        let config = KeyConfig::from_json(pair.config().to_json().as_bytes()).expect("parses");
        assert_eq!(&config, pair.config());
    }

    #[test]
    fn mismatched_key_file_is_refused() {
        let a = KeyPair::generate("eu", 1).expect("generates");
        let b = KeyPair::generate("eu", 1).expect("generates");
        let mut json: serde_json::Value = serde_json::from_str(&a.to_private_json()).expect("json");
        json["public_key"] = hex::encode(b.config().public_key()).into();
        let err = KeyPair::from_private_json(json.to_string().as_bytes()).expect_err("mismatch");
        assert_eq!(err.code(), "invalid_key");
    }

    #[test]
    fn unsupported_suite_in_config_is_refused() {
        let pair = KeyPair::generate("eu", 1).expect("generates");
        let json = pair
            .config()
            .to_json()
            .replace("\"aead_id\": 3", "\"aead_id\": 1");
        let err = KeyConfig::from_json(json.as_bytes()).expect_err("AES-GCM is not supported");
        assert!(err.to_string().contains("unsupported HPKE suite"), "{err}");
    }
}

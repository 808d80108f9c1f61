//! HPKE sealing and opening (RFC 9180 base mode).

use std::collections::BTreeMap;
use std::convert::Infallible;

use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::rand_core::{TryCryptoRng, TryRng};
use hpke::{Deserializable, OpModeR, OpModeS, Serializable};

use crate::envelope::{Envelope, Header};
use crate::keys::{KeyConfig, KeyPair, Suite};
use crate::limits::MAX_ENVELOPE_BYTES;
use crate::{Error, Report};

/// The HPKE `info` string of wire format v1. It binds every sealed report to
/// this protocol and version, so a ciphertext made for anything else using
/// the same key cannot be opened as a Candor report.
pub const HPKE_INFO: &[u8] = b"candor report v1";

/// Seals a report to a region's public key, returning the encoded envelope.
///
/// The report must name the key's region; its purpose goes into the header.
pub fn seal(report: &Report, key: &KeyConfig) -> Result<Vec<u8>, Error> {
    let mut ikm = [0u8; 32];
    getrandom::fill(&mut ikm).map_err(|_| Error::Randomness)?;
    seal_with_ikm(report, key, ikm)
}

/// Seals with fixed ephemeral keying material (`ikmE` of RFC 9180), so the
/// output is deterministic. Only for test vectors: reusing `ikm` with the
/// same key reuses the ephemeral key and breaks confidentiality.
pub fn test_seal_with_ephemeral_ikm(
    report: &Report,
    key: &KeyConfig,
    ikm: [u8; 32],
) -> Result<Vec<u8>, Error> {
    seal_with_ikm(report, key, ikm)
}

fn seal_with_ikm(report: &Report, key: &KeyConfig, ikm: [u8; 32]) -> Result<Vec<u8>, Error> {
    if report.region != key.region() {
        return Err(Error::WrongRegion {
            expected: key.region().to_owned(),
            found: report.region.clone(),
        });
    }
    let header = Header::new(key.key_id(), key.suite(), &report.region, &report.purpose)?;
    let plaintext = report.to_json()?;
    let aad = header.encode();
    let mut rng = Ikm {
        bytes: ikm,
        used: false,
        overdrawn: false,
    };
    let (enc, ciphertext) = match key.suite() {
        Suite::X25519HkdfSha256ChaCha20Poly1305 => {
            hpke::single_shot_seal_with_rng::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
                &OpModeS::Base,
                &key.hpke_public_key(),
                HPKE_INFO,
                &plaintext,
                &aad,
                &mut rng,
            )
            .map_err(|_| Error::SealFailed)?
        }
    };
    // The KEM must have drawn exactly the 32 bytes given; anything else means
    // the ephemeral key was not what the caller supplied, so nothing is sent.
    if !rng.used || rng.overdrawn {
        return Err(Error::SealFailed);
    }
    let mut out = aad;
    out.extend_from_slice(&enc.to_bytes());
    out.extend_from_slice(&ciphertext);
    debug_assert!(out.len() <= MAX_ENVELOPE_BYTES);
    Ok(out)
}

/// Serves one fixed 32-byte draw as the KEM's ephemeral keying material.
struct Ikm {
    bytes: [u8; 32],
    used: bool,
    overdrawn: bool,
}

impl TryRng for Ikm {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        self.overdrawn = true;
        Ok(0)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.overdrawn = true;
        Ok(0)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        if self.used || dst.len() != self.bytes.len() {
            self.overdrawn = true;
            dst.fill(0);
        } else {
            dst.copy_from_slice(&self.bytes);
            self.used = true;
        }
        Ok(())
    }
}

impl TryCryptoRng for Ikm {}

/// Opens envelopes for one region with that region's active keys.
#[derive(Debug, Clone)]
pub struct Opener {
    region: String,
    keys: BTreeMap<u8, KeyPair>,
}

impl Opener {
    /// An opener for `region` holding `keys`. Keys of other regions are
    /// refused: a region's collector never holds another region's key.
    pub fn new(region: &str, keys: impl IntoIterator<Item = KeyPair>) -> Result<Self, Error> {
        let mut opener = Opener {
            region: region.to_owned(),
            keys: BTreeMap::new(),
        };
        for key in keys {
            opener.insert(key)?;
        }
        Ok(opener)
    }

    /// Adds (or replaces) a key.
    pub fn insert(&mut self, key: KeyPair) -> Result<(), Error> {
        if key.config().region() != self.region {
            return Err(Error::WrongRegion {
                expected: self.region.clone(),
                found: key.config().region().to_owned(),
            });
        }
        self.keys.insert(key.config().key_id(), key);
        Ok(())
    }

    /// Removes a key, so envelopes sealed to it are refused as unknown.
    pub fn remove(&mut self, key_id: u8) -> Option<KeyPair> {
        self.keys.remove(&key_id)
    }

    /// The region this opener serves.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Decodes and opens one envelope.
    pub fn open(&self, bytes: &[u8]) -> Result<Report, Error> {
        self.open_envelope(&Envelope::decode(bytes)?)
    }

    /// Opens a decoded envelope: region check, key lookup, HPKE open with the
    /// header as associated data, report decoding, and a check that the
    /// report's region and purpose are the header's.
    pub fn open_envelope(&self, envelope: &Envelope<'_>) -> Result<Report, Error> {
        let header = &envelope.header;
        if header.region != self.region {
            return Err(Error::WrongRegion {
                expected: self.region.clone(),
                found: header.region.clone(),
            });
        }
        let key = self
            .keys
            .get(&header.key_id)
            .ok_or(Error::UnknownKey(header.key_id))?;
        if key.config().suite() != header.suite {
            // Same key id, other suite: the key cannot have sealed this.
            return Err(Error::DecryptionFailed);
        }
        let plaintext = match header.suite {
            Suite::X25519HkdfSha256ChaCha20Poly1305 => {
                let enc = <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(envelope.enc)
                    .map_err(|_| Error::DecryptionFailed)?;
                hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
                    &OpModeR::Base,
                    key.hpke_private_key(),
                    &enc,
                    HPKE_INFO,
                    envelope.ciphertext,
                    envelope.aad,
                )
                .map_err(|_| Error::DecryptionFailed)?
            }
        };
        let report = Report::from_json(&plaintext)?;
        for (field, inside, outside) in [
            ("region", &report.region, &header.region),
            ("purpose", &report.purpose, &header.purpose),
        ] {
            if inside != outside {
                return Err(Error::HeaderMismatch {
                    field,
                    inside: inside.clone(),
                    header: outside.clone(),
                });
            }
        }
        Ok(report)
    }
}

//! HPKE sealing (RFC 9180 base mode), always with the `hpke` crate: devices
//! and the SDK seal with it; [`crate::Opener`] (open.rs) opens.

use std::convert::Infallible;

use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::rand_core::{TryCryptoRng, TryRng};
use hpke::{OpModeS, Serializable};

use crate::envelope::Header;
use crate::keys::{KeyConfig, Suite};
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

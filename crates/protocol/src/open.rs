//! Opening envelopes: a region's key ring, and the HPKE implementation that
//! opens with it.
//!
//! Opening is the collector's hot path (one X25519 agreement per report), so
//! the HPKE implementation is chosen per [`Opener`]: the `hpke` crate that
//! [`seal`](crate::seal) uses is always compiled; the `fast-open` feature
//! adds aws-lc's through rustls. Both are RFC 9180 base mode with the same
//! suite and `info`, so each opens exactly what the other opens; the
//! crate's vector and tamper tests run against every compiled backend, and
//! docs/wire.md's vectors are also opened by pyhpke
//! (tools/check_wire_vectors.py).

use std::collections::BTreeMap;
use std::fmt;
#[cfg(feature = "fast-open")]
use std::sync::Arc;

use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, OpModeR};

use crate::envelope::Envelope;
use crate::keys::{KeyPair, Suite};
use crate::seal::HPKE_INFO;
use crate::{Error, Report};

/// The HPKE implementation an [`Opener`] decrypts with.
///
/// Backends differ only in speed and in what they cost to build: every one
/// opens the envelopes the others open and refuses the ones they refuse,
/// with the same [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OpenBackend {
    /// The `hpke` crate (x25519-dalek, RustCrypto's ChaCha20-Poly1305 and
    /// HKDF), the same code devices seal with: pure Rust, always compiled.
    /// It derives the recipient's public key from the private key on every
    /// open, a second scalar multiplication beside the agreement.
    Hpke,
    /// rustls's HPKE on aws-lc (`rustls::crypto::aws_lc_rs::hpke`):
    /// aws-lc's assembly X25519, HKDF and ChaCha20-Poly1305. Compiled with
    /// the `fast-open` feature, which builds aws-lc (a C library, needing a
    /// C compiler).
    #[cfg(feature = "fast-open")]
    AwsLc,
}

impl OpenBackend {
    /// Every backend compiled into this build.
    #[cfg(not(feature = "fast-open"))]
    pub const ALL: &'static [OpenBackend] = &[OpenBackend::Hpke];
    /// Every backend compiled into this build.
    #[cfg(feature = "fast-open")]
    pub const ALL: &'static [OpenBackend] = &[OpenBackend::Hpke, OpenBackend::AwsLc];

    /// The backend [`Opener::new`] uses: the fastest one compiled
    /// (BENCHMARKS.md, "HPKE open per backend").
    #[cfg(not(feature = "fast-open"))]
    pub const DEFAULT: OpenBackend = OpenBackend::Hpke;
    /// The backend [`Opener::new`] uses: the fastest one compiled
    /// (BENCHMARKS.md, "HPKE open per backend").
    #[cfg(feature = "fast-open")]
    pub const DEFAULT: OpenBackend = OpenBackend::AwsLc;

    /// A stable short name, for logs, metrics and benchmark ids.
    pub const fn name(self) -> &'static str {
        match self {
            OpenBackend::Hpke => "hpke",
            #[cfg(feature = "fast-open")]
            OpenBackend::AwsLc => "aws-lc",
        }
    }
}

impl fmt::Display for OpenBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One key of an opener's ring, in the form each compiled backend takes.
#[derive(Clone)]
struct RingKey {
    pair: KeyPair,
    /// The private key as rustls takes it, built once per key rather than
    /// once per open (it zeroizes its bytes when dropped).
    #[cfg(feature = "fast-open")]
    aws_lc: Arc<rustls::crypto::hpke::HpkePrivateKey>,
}

impl RingKey {
    fn new(pair: KeyPair) -> Self {
        RingKey {
            #[cfg(feature = "fast-open")]
            aws_lc: Arc::new(pair.private_key_bytes().into()),
            pair,
        }
    }
}

/// Opens envelopes for one region with that region's active keys.
#[derive(Clone)]
pub struct Opener {
    region: String,
    backend: OpenBackend,
    keys: BTreeMap<u8, RingKey>,
}

impl fmt::Debug for Opener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Key pairs redact their private halves; the backend copies are
        // never printed.
        f.debug_struct("Opener")
            .field("region", &self.region)
            .field("backend", &self.backend)
            .field(
                "keys",
                &self.keys.values().map(|k| &k.pair).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Opener {
    /// An opener for `region` holding `keys`, opening with
    /// [`OpenBackend::DEFAULT`]. Keys of other regions are refused: a
    /// region's collector never holds another region's key.
    pub fn new(region: &str, keys: impl IntoIterator<Item = KeyPair>) -> Result<Self, Error> {
        let mut opener = Opener {
            region: region.to_owned(),
            backend: OpenBackend::DEFAULT,
            keys: BTreeMap::new(),
        };
        for key in keys {
            opener.insert(key)?;
        }
        Ok(opener)
    }

    /// The same opener decrypting with `backend` (tests and benchmarks
    /// compare backends this way).
    pub fn with_backend(mut self, backend: OpenBackend) -> Self {
        self.backend = backend;
        self
    }

    /// The HPKE implementation this opener decrypts with.
    pub fn backend(&self) -> OpenBackend {
        self.backend
    }

    /// Adds (or replaces) a key.
    pub fn insert(&mut self, key: KeyPair) -> Result<(), Error> {
        if key.config().region() != self.region {
            return Err(Error::WrongRegion {
                expected: self.region.clone(),
                found: key.config().region().to_owned(),
            });
        }
        self.keys.insert(key.config().key_id(), RingKey::new(key));
        Ok(())
    }

    /// Removes a key, so envelopes sealed to it are refused as unknown.
    pub fn remove(&mut self, key_id: u8) -> Option<KeyPair> {
        self.keys.remove(&key_id).map(|k| k.pair)
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
        if key.pair.config().suite() != header.suite {
            // Same key id, other suite: the key cannot have sealed this.
            return Err(Error::DecryptionFailed);
        }
        let plaintext = self.decrypt(key, envelope)?;
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

    /// HPKE base-mode open of the ciphertext with `info` [`HPKE_INFO`] and
    /// the encoded header as associated data. Every failure, whatever the
    /// backend says about it, is [`Error::DecryptionFailed`].
    fn decrypt(&self, key: &RingKey, envelope: &Envelope<'_>) -> Result<Vec<u8>, Error> {
        match (self.backend, envelope.header.suite) {
            (OpenBackend::Hpke, Suite::X25519HkdfSha256ChaCha20Poly1305) => {
                let enc = <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(envelope.enc)
                    .map_err(|_| Error::DecryptionFailed)?;
                hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
                    &OpModeR::Base,
                    key.pair.hpke_private_key(),
                    &enc,
                    HPKE_INFO,
                    envelope.ciphertext,
                    envelope.aad,
                )
                .map_err(|_| Error::DecryptionFailed)
            }
            #[cfg(feature = "fast-open")]
            (OpenBackend::AwsLc, Suite::X25519HkdfSha256ChaCha20Poly1305) => {
                use rustls::crypto::aws_lc_rs::hpke::DH_KEM_X25519_HKDF_SHA256_CHACHA20_POLY1305 as SUITE;
                use rustls::crypto::hpke::{EncapsulatedSecret, Hpke as _};
                SUITE
                    .open(
                        &EncapsulatedSecret(envelope.enc.to_vec()),
                        HPKE_INFO,
                        envelope.aad,
                        envelope.ciphertext,
                        &key.aws_lc,
                    )
                    .map_err(|_| Error::DecryptionFailed)
            }
        }
    }
}

#[cfg(all(test, feature = "fast-open"))]
mod tests {
    use rustls::crypto::aws_lc_rs::hpke::DH_KEM_X25519_HKDF_SHA256_CHACHA20_POLY1305;
    use rustls::crypto::hpke::Hpke as _;

    use crate::Suite;

    #[test]
    fn aws_lc_suite_is_the_wire_suite() {
        let ids = DH_KEM_X25519_HKDF_SHA256_CHACHA20_POLY1305.suite();
        assert_eq!(
            (
                u16::from(ids.kem),
                u16::from(ids.sym.kdf_id),
                u16::from(ids.sym.aead_id)
            ),
            Suite::X25519HkdfSha256ChaCha20Poly1305.ids()
        );
    }
}

//! The crate's one error type.

/// Everything that can go wrong while encoding, decoding, sealing or opening.
///
/// Each variant has a stable [`code`](Error::code) that the collector uses in
/// its problem+json answers and as a metrics label, so renaming a code is a
/// breaking change; messages may improve freely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is larger than the limit for what it claims to be.
    #[error("{what} is {len} {unit}, more than the limit of {max} {unit}")]
    TooLarge {
        /// What was being decoded or built ("envelope", "batch", "report",
        /// "batch envelope count").
        what: &'static str,
        /// Its size, in `unit`s.
        len: usize,
        /// The limit, in `unit`s.
        max: usize,
        /// "bytes", or "envelopes" for a batch's count.
        unit: &'static str,
    },
    /// The envelope's bytes do not follow wire format v1.
    #[error("malformed envelope: {0}")]
    MalformedEnvelope(&'static str),
    /// The batch framing does not follow wire format v1.
    #[error("malformed batch: {0}")]
    MalformedBatch(&'static str),
    /// The envelope names a version of the wire format this code does not speak.
    #[error("unsupported wire format version {0}")]
    UnsupportedVersion(u8),
    /// The envelope or key config names an HPKE suite that is not supported.
    #[error("unsupported HPKE suite (kem {kem:#06x}, kdf {kdf:#06x}, aead {aead:#06x})")]
    UnsupportedSuite {
        /// KEM id (RFC 9180 §7.1).
        kem: u16,
        /// KDF id (RFC 9180 §7.2).
        kdf: u16,
        /// AEAD id (RFC 9180 §7.3).
        aead: u16,
    },
    /// The envelope was sealed for another region than the one opening it.
    #[error("report is for region {found:?}, this is region {expected:?}")]
    WrongRegion {
        /// The region this opener serves.
        expected: String,
        /// The region named in the envelope header.
        found: String,
    },
    /// No key with the envelope's key id is known to this opener.
    #[error("unknown key id {0}")]
    UnknownKey(u8),
    /// HPKE could not open the ciphertext: tampered, truncated, or sealed to
    /// another key.
    #[error("decryption failed")]
    DecryptionFailed,
    /// The plaintext is not a valid v1 report.
    #[error("malformed report: {0}")]
    MalformedReport(String),
    /// The plaintext's region or purpose differs from the authenticated header's.
    #[error("report {field} {inside:?} does not match the envelope header's {header:?}")]
    HeaderMismatch {
        /// "region" or "purpose".
        field: &'static str,
        /// The value inside the report.
        inside: String,
        /// The value in the header.
        header: String,
    },
    /// A key config or key file could not be parsed or is inconsistent.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// An id (region, purpose) is not of the allowed form.
    #[error("invalid {what} {value:?}: {rule}")]
    InvalidId {
        /// "region" or "purpose".
        what: &'static str,
        /// The offending value.
        value: String,
        /// What is allowed.
        rule: &'static str,
    },
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Randomness,
    /// HPKE refused to seal (should not happen with a valid public key).
    #[error("sealing failed")]
    SealFailed,
    /// A signature is malformed or does not verify (see [`crate::signing`]).
    #[error("bad signature: {0}")]
    BadSignature(&'static str),
    /// A key list carries no signature (docs/wire.md §5.2).
    #[error("the key list is not signed")]
    UnsignedKeyList,
    /// A key list's payload is not a valid list (docs/wire.md §5.2).
    #[error("malformed key list: {0}")]
    MalformedKeyList(String),
    /// A correctly signed key list names another region than its signing key's.
    #[error("the key list is for region {found:?}, the signing key for {expected:?}")]
    KeyListWrongRegion {
        /// The signing key's region.
        expected: String,
        /// The region in the list.
        found: String,
    },
    /// A key list is past its `expires_at` (beyond the clock skew allowance).
    #[error("the key list expired at {expires_at} (now {now})")]
    KeyListExpired {
        /// The list's `expires_at` (Unix seconds).
        expires_at: i64,
        /// The checker's clock (Unix seconds).
        now: i64,
    },
    /// A key list is issued in the future (beyond the clock skew allowance).
    #[error("the key list is issued at {issued_at}, in the future (now {now})")]
    KeyListNotYetValid {
        /// The list's `issued_at` (Unix seconds).
        issued_at: i64,
        /// The checker's clock (Unix seconds).
        now: i64,
    },
}

impl Error {
    /// The stable, machine-readable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::TooLarge { .. } => "too_large",
            Error::MalformedEnvelope(_) => "malformed_envelope",
            Error::MalformedBatch(_) => "malformed_batch",
            Error::UnsupportedVersion(_) => "unsupported_version",
            Error::UnsupportedSuite { .. } => "unsupported_suite",
            Error::WrongRegion { .. } => "wrong_region",
            Error::UnknownKey(_) => "unknown_key",
            Error::DecryptionFailed => "decryption_failed",
            Error::MalformedReport(_) => "malformed_report",
            Error::HeaderMismatch { .. } => "header_mismatch",
            Error::InvalidKey(_) => "invalid_key",
            Error::InvalidId { .. } => "invalid_id",
            Error::Randomness => "randomness",
            Error::SealFailed => "seal_failed",
            Error::BadSignature(_) => "bad_signature",
            Error::UnsignedKeyList => "unsigned_key_list",
            Error::MalformedKeyList(_) => "malformed_key_list",
            Error::KeyListWrongRegion { .. } => "key_list_wrong_region",
            Error::KeyListExpired { .. } => "key_list_expired",
            Error::KeyListNotYetValid { .. } => "key_list_not_yet_valid",
        }
    }
}

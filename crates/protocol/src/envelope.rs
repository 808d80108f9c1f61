//! The binary envelope: an authenticated header followed by the HPKE output.
//!
//! ```text
//! offset  size  field
//! 0       4     magic "CNDR"
//! 4       1     version (1)
//! 5       1     key id
//! 6       2     KEM id   (big-endian)
//! 8       2     KDF id   (big-endian)
//! 10      2     AEAD id  (big-endian)
//! 12      1     region length r (1..=16)
//! 13      r     region (ASCII [a-z][a-z0-9-]*)
//! 13+r    1     purpose length p (1..=32)
//! 14+r    p     purpose (ASCII [a-z][a-z0-9_]*)
//! 14+r+p  Nenc  HPKE encapsulated key
//! ...     rest  HPKE ciphertext (plaintext length + Nt)
//! ```
//! Bytes 0 .. 14+r+p are the header; they are the AEAD's associated data.

use crate::Error;
use crate::keys::Suite;
use crate::limits::{MAX_ENVELOPE_BYTES, MAX_PURPOSE_LEN, MAX_REGION_LEN};

/// The four bytes every v1 envelope starts with.
pub const MAGIC: [u8; 4] = *b"CNDR";

/// The wire format version this crate writes and reads.
pub const VERSION: u8 = 1;

/// The envelope header: everything a collector needs to route and open a
/// report, and nothing about who sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Which of the region's keys sealed the report.
    pub key_id: u8,
    /// The HPKE suite used.
    pub suite: Suite,
    /// The region whose collector may open the report.
    pub region: String,
    /// The purpose of every metric in the report.
    pub purpose: String,
}

impl Header {
    /// Builds a header after checking the region and purpose ids.
    pub fn new(key_id: u8, suite: Suite, region: &str, purpose: &str) -> Result<Self, Error> {
        check_region(region)?;
        check_purpose(purpose)?;
        Ok(Header {
            key_id,
            suite,
            region: region.to_owned(),
            purpose: purpose.to_owned(),
        })
    }

    /// The encoded header: exactly the bytes that are authenticated as the
    /// AEAD's associated data.
    pub fn encode(&self) -> Vec<u8> {
        let (kem, kdf, aead) = self.suite.ids();
        let mut out = Vec::with_capacity(14 + self.region.len() + self.purpose.len());
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        out.push(self.key_id);
        out.extend_from_slice(&kem.to_be_bytes());
        out.extend_from_slice(&kdf.to_be_bytes());
        out.extend_from_slice(&aead.to_be_bytes());
        // Lengths fit in a byte: `new` checked them against the limits.
        out.push(self.region.len() as u8);
        out.extend_from_slice(self.region.as_bytes());
        out.push(self.purpose.len() as u8);
        out.extend_from_slice(self.purpose.as_bytes());
        out
    }
}

/// A decoded envelope, borrowing the bytes it was decoded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// The parsed header.
    pub header: Header,
    /// The raw header bytes (the AEAD's associated data).
    pub aad: &'a [u8],
    /// The HPKE encapsulated key.
    pub enc: &'a [u8],
    /// The HPKE ciphertext, tag included.
    pub ciphertext: &'a [u8],
}

impl<'a> Envelope<'a> {
    /// Decodes an envelope. Never panics and allocates only the header's two
    /// short strings, whatever the input.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, Error> {
        if bytes.len() > MAX_ENVELOPE_BYTES {
            return Err(Error::TooLarge {
                what: "envelope",
                len: bytes.len(),
                max: MAX_ENVELOPE_BYTES,
                unit: "bytes",
            });
        }
        let mut r = Reader { bytes, pos: 0 };
        if r.take(4)? != MAGIC {
            return Err(Error::MalformedEnvelope("bad magic"));
        }
        let version = r.u8()?;
        if version != VERSION {
            return Err(Error::UnsupportedVersion(version));
        }
        let key_id = r.u8()?;
        let (kem, kdf, aead) = (r.u16()?, r.u16()?, r.u16()?);
        let suite = Suite::from_ids(kem, kdf, aead)?;
        let region_len = usize::from(r.u8()?);
        let region = std::str::from_utf8(r.take(region_len)?)
            .map_err(|_| Error::MalformedEnvelope("region is not ASCII"))?;
        check_region(region).map_err(|_| Error::MalformedEnvelope("invalid region id"))?;
        let purpose_len = usize::from(r.u8()?);
        let purpose = std::str::from_utf8(r.take(purpose_len)?)
            .map_err(|_| Error::MalformedEnvelope("purpose is not ASCII"))?;
        check_purpose(purpose).map_err(|_| Error::MalformedEnvelope("invalid purpose id"))?;
        let header_end = r.pos;
        let enc = r.take(suite.enc_len())?;
        let ciphertext = &bytes[r.pos..];
        if ciphertext.len() < suite.tag_len() {
            return Err(Error::MalformedEnvelope(
                "ciphertext shorter than the AEAD tag",
            ));
        }
        Ok(Envelope {
            header: Header {
                key_id,
                suite,
                region: region.to_owned(),
                purpose: purpose.to_owned(),
            },
            aad: &bytes[..header_end],
            enc,
            ciphertext,
        })
    }
}

/// A cursor over a byte slice whose reads fail, never panic, at the end.
pub(crate) struct Reader<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or(Error::MalformedEnvelope("truncated"))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, Error> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, Error> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

const REGION_RULE: &str =
    "1 to 16 characters: a lowercase letter, then lowercase letters, digits or '-'";
const PURPOSE_RULE: &str =
    "1 to 32 characters: a lowercase letter, then lowercase letters, digits or '_'";

fn id_ok(value: &str, max: usize, extra: u8) -> bool {
    let b = value.as_bytes();
    !b.is_empty()
        && b.len() <= max
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == extra)
}

/// Checks a region id: [`REGION_RULE`].
pub(crate) fn check_region(region: &str) -> Result<(), Error> {
    if id_ok(region, MAX_REGION_LEN, b'-') {
        Ok(())
    } else {
        Err(Error::InvalidId {
            what: "region",
            value: region.to_owned(),
            rule: REGION_RULE,
        })
    }
}

/// Checks a purpose id: [`PURPOSE_RULE`].
pub(crate) fn check_purpose(purpose: &str) -> Result<(), Error> {
    if id_ok(purpose, MAX_PURPOSE_LEN, b'_') {
        Ok(())
    } else {
        Err(Error::InvalidId {
            what: "purpose",
            value: purpose.to_owned(),
            rule: PURPOSE_RULE,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips() {
        let header = Header::new(9, Suite::X25519HkdfSha256ChaCha20Poly1305, "eu", "usage")
            .expect("valid header");
        let mut bytes = header.encode();
        assert_eq!(
            hex::encode(&bytes),
            "434e44520109002000010003026575057573616765"
        );
        bytes.extend_from_slice(&[0u8; 32 + 16]);
        let envelope = Envelope::decode(&bytes).expect("decodes");
        assert_eq!(envelope.header, header);
        assert_eq!(envelope.aad.len(), 21);
    }

    #[test]
    fn ids_are_checked() {
        let suite = Suite::X25519HkdfSha256ChaCha20Poly1305;
        for bad in ["", "EU", "1eu", "e u", "abcdefghijklmnopq", "eu_west"] {
            assert!(
                Header::new(1, suite, bad, "usage").is_err(),
                "region {bad:?}"
            );
        }
        for bad in ["", "Usage", "us-age", "_usage", &"p".repeat(33)] {
            assert!(Header::new(1, suite, "eu", bad).is_err(), "purpose {bad:?}");
        }
        assert!(Header::new(1, suite, "us-west-2", "usage_2").is_ok());
    }
}

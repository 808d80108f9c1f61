//! Many envelopes in one upload.
//!
//! ```text
//! offset  size  field
//! 0       4     magic "CNDB"
//! 4       1     version (1)
//! 5       2     count n (1..=1000, big-endian)
//! 7       ...   n times: length L (u32, big-endian, 1..=MAX_ENVELOPE_BYTES), then L bytes of envelope
//! ```
//! Nothing may follow the last envelope. Framing errors refuse the whole
//! batch; each envelope inside is then opened on its own, so one bad report
//! does not affect the others.

use crate::envelope::{MAGIC as ENVELOPE_MAGIC, Reader};
use crate::limits::{MAX_BATCH_BYTES, MAX_BATCH_REPORTS, MAX_ENVELOPE_BYTES};
use crate::{Error, VERSION};

/// The four bytes every v1 batch starts with.
pub const BATCH_MAGIC: [u8; 4] = *b"CNDB";

/// Frames envelopes as a batch. Refuses an empty batch, more than
/// [`MAX_BATCH_REPORTS`] envelopes, an envelope over [`MAX_ENVELOPE_BYTES`],
/// or a result over [`MAX_BATCH_BYTES`].
pub fn encode<E: AsRef<[u8]>>(envelopes: &[E]) -> Result<Vec<u8>, Error> {
    if envelopes.is_empty() {
        return Err(Error::MalformedBatch("a batch holds at least one envelope"));
    }
    if envelopes.len() > MAX_BATCH_REPORTS {
        return Err(Error::TooLarge {
            what: "batch envelope count",
            len: envelopes.len(),
            max: MAX_BATCH_REPORTS,
            unit: "envelopes",
        });
    }
    let len = 7 + envelopes
        .iter()
        .map(|e| 4 + e.as_ref().len())
        .sum::<usize>();
    if len > MAX_BATCH_BYTES {
        return Err(Error::TooLarge {
            what: "batch",
            len,
            max: MAX_BATCH_BYTES,
            unit: "bytes",
        });
    }
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&BATCH_MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&(envelopes.len() as u16).to_be_bytes());
    for e in envelopes {
        let e = e.as_ref();
        if e.is_empty() || e.len() > MAX_ENVELOPE_BYTES {
            return Err(Error::TooLarge {
                what: "envelope",
                len: e.len(),
                max: MAX_ENVELOPE_BYTES,
                unit: "bytes",
            });
        }
        out.extend_from_slice(&(e.len() as u32).to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}

/// Splits a batch into its envelopes' bytes (not yet decoded). Never panics;
/// allocates at most one slice reference per envelope, and refuses a count
/// over [`MAX_BATCH_REPORTS`] before allocating.
pub fn decode(bytes: &[u8]) -> Result<Vec<&[u8]>, Error> {
    if bytes.len() > MAX_BATCH_BYTES {
        return Err(Error::TooLarge {
            what: "batch",
            len: bytes.len(),
            max: MAX_BATCH_BYTES,
            unit: "bytes",
        });
    }
    let truncated = |_| Error::MalformedBatch("truncated");
    let mut r = Reader { bytes, pos: 0 };
    if r.take(4).map_err(truncated)? != BATCH_MAGIC {
        return Err(Error::MalformedBatch("bad magic"));
    }
    let version = r.u8().map_err(truncated)?;
    if version != VERSION {
        return Err(Error::UnsupportedVersion(version));
    }
    let count = usize::from(r.u16().map_err(truncated)?);
    if count == 0 {
        return Err(Error::MalformedBatch("a batch holds at least one envelope"));
    }
    if count > MAX_BATCH_REPORTS {
        return Err(Error::TooLarge {
            what: "batch envelope count",
            len: count,
            max: MAX_BATCH_REPORTS,
            unit: "envelopes",
        });
    }
    // Each entry takes at least 5 bytes, so a count the input cannot hold is
    // refused before anything is reserved for it.
    if count > (bytes.len() - r.pos) / 5 {
        return Err(Error::MalformedBatch("truncated"));
    }
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let len = r.u32().map_err(truncated)? as usize;
        if len == 0 {
            return Err(Error::MalformedBatch("empty envelope"));
        }
        if len > MAX_ENVELOPE_BYTES {
            return Err(Error::TooLarge {
                what: "envelope",
                len,
                max: MAX_ENVELOPE_BYTES,
                unit: "bytes",
            });
        }
        out.push(r.take(len).map_err(truncated)?);
    }
    if r.pos != bytes.len() {
        return Err(Error::MalformedBatch(
            "trailing bytes after the last envelope",
        ));
    }
    Ok(out)
}

/// Splits an upload body into envelopes: a batch is split, a single
/// envelope is returned as is. The collector accepts either on one endpoint.
pub fn split_upload(body: &[u8]) -> Result<Vec<&[u8]>, Error> {
    match body.get(..4) {
        Some(m) if m == BATCH_MAGIC => decode(body),
        Some(m) if m == ENVELOPE_MAGIC => {
            if body.len() > MAX_ENVELOPE_BYTES {
                return Err(Error::TooLarge {
                    what: "envelope",
                    len: body.len(),
                    max: MAX_ENVELOPE_BYTES,
                    unit: "bytes",
                });
            }
            Ok(vec![body])
        }
        _ => Err(Error::MalformedEnvelope(
            "body is neither an envelope nor a batch",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_framing_errors() {
        let envelopes = [b"CNDR-one".to_vec(), b"CNDR-two!".to_vec()];
        let bytes = encode(&envelopes).expect("encodes");
        // magic, version 1, count 2, length 8, then the first envelope's "C".
        assert_eq!(hex::encode(&bytes[..12]), "434e44420100020000000843");
        let parts = decode(&bytes).expect("decodes");
        assert_eq!(parts, vec![&envelopes[0][..], &envelopes[1][..]]);

        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(
            decode(&trailing).expect_err("trailing").code(),
            "malformed_batch"
        );
        assert_eq!(
            decode(&bytes[..bytes.len() - 1]).expect_err("short").code(),
            "malformed_batch"
        );
        assert!(encode::<Vec<u8>>(&[]).is_err());
    }

    #[test]
    fn huge_count_is_refused_before_allocation() {
        let mut bytes = BATCH_MAGIC.to_vec();
        bytes.push(1);
        bytes.extend_from_slice(&1000u16.to_be_bytes());
        bytes.extend_from_slice(&[0, 0, 0, 1, b'x']);
        assert_eq!(
            decode(&bytes).expect_err("truncated").code(),
            "malformed_batch"
        );
        bytes[5..7].copy_from_slice(&1001u16.to_be_bytes());
        assert_eq!(decode(&bytes).expect_err("too many").code(), "too_large");
    }
}

//! The front stage: framing and headers, with their size limits. What
//! comes out is a list of decoded envelopes, still sealed.

use candor_protocol::{Envelope, batch};

use crate::config::IngestConfig;
use crate::error::{Limit, Rejection};

/// The envelopes of an upload body (one envelope, or a batch of them),
/// still undecoded; framing and size errors refuse the whole request.
pub fn split(body: &[u8]) -> Result<Vec<&[u8]>, Rejection> {
    batch::split_upload(body).map_err(Rejection::from)
}

/// One envelope's header and ciphertext; errors refuse this report only.
pub fn envelope(part: &[u8]) -> Result<Envelope<'_>, Rejection> {
    Envelope::decode(part).map_err(Rejection::from)
}

/// The refusal of a body over `[ingest] max_body_bytes` (`size` when the
/// transport knows it).
pub fn body_too_large(config: &IngestConfig, size: Option<usize>) -> Rejection {
    Rejection::TooLarge(Limit {
        what: "request body",
        size,
        max: config.max_body_bytes,
        unit: "bytes",
    })
}

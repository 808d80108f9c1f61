//! Hard size limits of wire format v1.
//!
//! They bound what any decoder allocates: a collector can check a request's
//! length against them before reading it, and every decoder checks them
//! before it reserves memory. Raising one is a wire-format change.

/// Largest report plaintext (the JSON document), in bytes.
pub const MAX_REPORT_BYTES: usize = 32 * 1024;

/// Longest region id in an envelope header, in bytes.
pub const MAX_REGION_LEN: usize = 16;

/// Longest purpose id in an envelope header, in bytes.
pub const MAX_PURPOSE_LEN: usize = 32;

/// Longest possible header: fixed part plus the longest region and purpose.
pub const MAX_HEADER_BYTES: usize = 12 + 1 + MAX_REGION_LEN + 1 + MAX_PURPOSE_LEN;

/// Largest envelope: the longest header, a 32-byte encapsulated key, the
/// largest plaintext and a 16-byte AEAD tag, rounded up to leave room for
/// suites with larger keys and tags.
pub const MAX_ENVELOPE_BYTES: usize = MAX_REPORT_BYTES + 512;

/// Most envelopes in one batch.
pub const MAX_BATCH_REPORTS: usize = 1000;

/// Largest batch, in bytes, all framing included.
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;

/// Largest served key list (docs/wire.md §5.2), in bytes: room for all 256
/// key ids with JSON escaping.
pub const MAX_KEY_LIST_BYTES: usize = 128 * 1024;

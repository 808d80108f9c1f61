//! Integration tests of wire format v1, one binary. Every test that opens
//! runs against each compiled [`candor_protocol::OpenBackend`]
//! (`common::openers`); with `--features fast-open` that is both.
//! - `roundtrip`: seal then open returns the same report (proptest);
//! - `tamper`: every single-bit flip, cross-region, unknown-key and
//!   low-order cases fail typed, with the same error on every backend;
//! - `vectors`: RFC 9180 A.2.1 through the `hpke` crate, and Candor's own
//!   vectors in docs/wire.md, regenerated and compared byte for byte;
//! - `signing_vectors`: the signed key list's vectors in docs/wire.md
//!   §5.3, regenerated and compared byte for byte;
//! - `decode`: arbitrary bytes never panic the decoders.

mod common;
mod decode;
mod roundtrip;
mod signing_vectors;
mod tamper;
mod vectors;

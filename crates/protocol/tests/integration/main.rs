//! Integration tests of wire format v1, one binary:
//! - `roundtrip`: seal then open returns the same report (proptest);
//! - `tamper`: every single-bit flip, cross-region and unknown-key cases fail typed;
//! - `vectors`: RFC 9180 A.2.1 through the `hpke` crate, and Candor's own
//!   vectors in docs/wire.md, regenerated and compared byte for byte;
//! - `decode`: arbitrary bytes never panic the decoders.

mod common;
mod decode;
mod roundtrip;
mod tamper;
mod vectors;

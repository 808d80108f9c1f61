//! Candor wire format v1: what one report is, and how it travels sealed from
//! a device to its region's collector.
//!
//! - [`Report`] is the plaintext: a small JSON document holding a random
//!   [`ReportId`], the schema id and version, the purpose and the consent
//!   version the user agreed to, the region, the UTC [`Day`], coarse
//!   dimensions and the metric values. Nothing else can be expressed: unknown
//!   fields are refused when decoding, so a client cannot smuggle a device id
//!   through.
//! - [`Header`] and [`Envelope`] are the binary frame: magic, version, key id,
//!   HPKE suite, region and purpose, then the HPKE encapsulated key and the
//!   ciphertext. The encoded header is the AEAD's associated data, so none of
//!   it can be changed in transit.
//! - [`batch`] frames many envelopes in one upload.
//! - [`KeyConfig`] is a region's public key as published by its collector;
//!   [`KeyPair`] holds the private half; [`seal`] and [`Opener::open`] do the
//!   HPKE (RFC 9180) work: sealing always through the `hpke` crate, opening
//!   through the [`OpenBackend`] an opener was given (the `hpke` crate, or
//!   with the `fast-open` feature aws-lc's HPKE through rustls, the default
//!   then).
//! - [`signing`]: a region's Ed25519 signing key, which signs the documents
//!   a region publishes about itself (its key-config list, its audit-chain
//!   head) so that devices and auditors can check them; [`SignedKeyList`]
//!   is the key-config list a collector serves, which a device verifies
//!   against its region's pinned [`VerifyingKey`] before sealing to it.
//!
//! Every decoder here enforces the hard size limits in [`limits`] before it
//! allocates, and returns a typed [`Error`] with a stable [`Error::code`].
//! The crate does no I/O and needs no async runtime; docs/wire.md specifies
//! it byte by byte.
//!
//! ```
//! use candor_protocol::{KeyPair, Opener, Report, ReportId, Day, MetricValue, seal};
//!
//! let keys = KeyPair::generate("eu", 1).unwrap();
//! let mut report = Report::new(
//!     ReportId::random().unwrap(), "org.example.browser", 3, "usage", 1, "eu",
//!     Day::from_ymd(2026, 11, 29).unwrap(),
//! );
//! report.metrics.insert("browser.tabs_opened".into(), MetricValue::Counter(12));
//!
//! let envelope = seal(&report, keys.config()).unwrap();
//! let opener = Opener::new("eu", [keys]).unwrap();
//! assert_eq!(opener.open(&envelope).unwrap(), report);
//! ```
#![deny(missing_docs)]

pub mod audit_head;
pub mod batch;
mod envelope;
mod error;
mod key_list;
mod keys;
pub mod limits;
mod open;
mod report;
mod seal;
pub mod signing;

pub use envelope::{Envelope, Header, MAGIC, VERSION};
pub use error::Error;
pub use key_list::{KeyList, MAX_CLOCK_SKEW_SECONDS, SignedKeyList};
pub use keys::{KeyConfig, KeyPair, Suite};
pub use open::{OpenBackend, Opener};
pub use report::{Activity, Cohort, Day, MetricValue, REPORT_FORMAT_VERSION, Report, ReportId};
pub use seal::{HPKE_INFO, seal, test_seal_with_ephemeral_ikm};
pub use signing::{Signature, SignedKind, SigningKey, VerifyingKey};

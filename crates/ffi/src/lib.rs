//! Candor's SDK for apps written in Kotlin, Python (and later Swift): one
//! interface over [`candor_sdk`], from which UniFFI generates each
//! language's bindings.
//!
//! The recording cost stays in Rust; each language gets its own types:
//! [`Client`] opens a data directory, metric handles ([`CounterMetric`],
//! [`LabeledCounterMetric`], [`BooleanMetric`], [`CategoryMetric`],
//! [`DistributionMetric`], [`DomainSetMetric`], [`ActivityMetric`]; named
//! like the Rust SDK's, and never like a language's own `Boolean`) record, [`HostUploader`] lets the app's own
//! HTTP stack (proxy, certificate pinning) carry the sealed reports.
//!
//! # Why proc-macros, not a UDL file
//!
//! The interface is declared on the Rust items themselves
//! (`#[uniffi::export]`, `#[derive(uniffi::Record)]`): there is no second
//! description to keep in step with the code, the compiler checks every
//! exported signature, and the doc comments written here become the
//! generated Kotlin and Python docs. Bindings are generated from the built
//! library ("library mode", the `uniffi-bindgen` of the
//! `candor-ffi-bindgen` package), so they always describe the exact
//! library they load.
//!
//! # What crosses, what does not
//!
//! - Opening, consent, key lists and the flags return errors, which become
//!   each language's exceptions ([`CandorError`], with the stable codes of
//!   the Rust SDK).
//! - Recording never throws: bad input is counted in
//!   [`Client::error_counts`], as in Rust.
//! - No Rust panic reaches the host: every entry point runs inside
//!   [`std::panic::catch_unwind`] (see `guard`); a caught panic becomes a
//!   [`CandorError::Internal`] for calls that can fail, and an `*ffi` /
//!   `panic` error count for recording calls.
//! - Every object is behind an `Arc` and `Send + Sync`: handles may be
//!   used from any thread.

mod client;
mod error;
mod guard;
mod metrics;
mod uploader;

pub use client::{Client, ClientOptions, PurposeConsent, Receipt, UploadSummary};
pub use error::CandorError;
pub use metrics::{
    ActivityMetric, BooleanMetric, CategoryMetric, CounterMetric, DistributionMetric,
    DomainSetMetric, LabelMetric, LabeledCounterMetric,
};
pub use uploader::{HostError, HostUploader, KeyListOutcome, ReportOutcome, UploadOutcome};

uniffi::setup_scaffolding!("candor");

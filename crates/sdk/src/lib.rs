//! The device side of Candor: where the promises are kept or broken.
//!
//! [`Candor`] is a cheap, `Send + Sync` handle on one SDK instance:
//!
//! - **Consent** is default-deny per purpose ([`Candor::grant`],
//!   [`Candor::revoke`]), versioned by the schema's `consent_version`, and
//!   stored as local [`Receipt`]s. Revoking purges that purpose's memory and
//!   outbox at once.
//! - **Private mode**, the **global opt-out** and the **child profile** are
//!   hard offs: recording calls return without effect.
//! - **Recording** goes through typed handles ([`CounterMetric`],
//!   [`LabeledCounterMetric`], [`BooleanMetric`], [`CategoryMetric`],
//!   [`DistributionMetric`], [`DomainSetMetric`], [`ActivityMetric`]) that
//!   never fail toward the app and never block on I/O; bad input is counted
//!   ([`Candor::error_counts`]). URLs are reduced to registrable domains
//!   before anything is stored ([`sanitize`]).
//! - Aggregates live in memory per (purpose, day), are persisted atomically
//!   ([`Candor::flush`], and periodically), and become one report per
//!   purpose when the day ends: clamped, randomized where the schema asks
//!   for local DP, sealed with HPKE to the region's key, and queued.
//! - **Keys**: the SDK pins the region's signing public key
//!   ([`Config::signing_key`]) and seals only to a key of a signed key
//!   list it verified (docs/wire.md §5.2), bundled by the host or fetched
//!   through the [`Uploader`]. Without a valid list it seals nothing:
//!   finished days stay aggregates until one arrives.
//! - [`Candor::upload_pending`] sends the outbox through the host's
//!   [`Uploader`] with backoff and Retry-After, deleting a report only once
//!   accepted.
//! - **Transparency**: [`Candor::pending_reports`] and
//!   [`Candor::sent_reports`] return the exact JSON that is or was sent.
//!
//! ```
//! use candor_sdk::{Candor, Config, ManualClock};
//! # let schema = candor_schema::parse(include_str!("../../../examples/browser.toml"),
//! #     "browser.toml", time::macros::date!(2026 - 11 - 29)).unwrap().schema;
//! let key = candor_protocol::KeyPair::generate("eu", 1).unwrap();
//! let signing = candor_protocol::SigningKey::generate("eu").unwrap();
//! // What the region's collector serves at GET /v1/regions/eu/keys.
//! let list = candor_protocol::KeyList {
//!     region: "eu".into(), serial: 1, issued_at: 1_795_000_000,
//!     expires_at: 1_795_000_000 + 7 * 86_400, keys: vec![key.config().clone()],
//! }.sign(&signing).unwrap();
//! let dir = tempfile::tempdir().unwrap();
//! let clock = ManualClock::new(1_795_000_000);
//! let mut config = Config::new(dir.path(), schema, signing.verifying_key());
//! config.key_list = Some(list.to_json().into_bytes());
//! config.clock = std::sync::Arc::new(clock.clone());
//! let candor = Candor::open(config).unwrap();
//!
//! let tabs = candor.counter("browser.tabs_opened");
//! tabs.add(1);                        // no consent yet: nothing happens
//! candor.grant("usage").unwrap();
//! tabs.add(1);                        // counted
//! clock.advance(86_400);              // the day ends
//! candor.flush();
//! assert_eq!(candor.pending_reports().len(), 1);
//! ```
#![deny(missing_docs)]

mod activity;
mod config;
mod consent;
mod engine;
mod errors;
mod files;
mod metrics;
mod outbox;
mod report;
pub mod sanitize;
mod store;
pub mod upload;

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

pub use candor_time::{Clock, ManualClock, SystemClock};
pub use config::{BackoffPolicy, Config, OutboxLimits};
pub use consent::{ConsentAction, PurposeConsent, Receipt};
pub use engine::ConsentError;
pub use errors::{ErrorKind, OpenError};
// Every metric type's handle (and the `Candor` method that makes it) is
// defined in `metrics`, so a new type does not touch this file.
pub use metrics::*;
pub use report::local_dp_answer;
pub use upload::{KeyListFetch, ReportResult, UploadResponse, UploadSummary, Uploader};

use engine::Inner;

/// A handle on one SDK instance. Clones share the instance.
#[derive(Clone)]
pub struct Candor {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Candor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Candor")
            .field("schema", &self.inner.schema.id)
            .finish_non_exhaustive()
    }
}

impl Candor {
    /// Opens (or creates) the SDK's data directory. This is the only call
    /// that can fail: everything after it degrades to counters, never errors
    /// or panics toward the app.
    pub fn open(config: Config) -> Result<Self, OpenError> {
        let interval = config.persist_interval;
        let auto_upload = config.auto_upload;
        let inner = Inner::open(config)?;
        if let Some(every) = interval {
            spawn_background(Arc::downgrade(&inner), every, auto_upload);
        }
        Ok(Candor { inner })
    }

    /// Grants consent to `purpose` at the schema's current consent version,
    /// and stores a receipt. Collection starts only once that is on disk.
    pub fn grant(&self, purpose: &str) -> Result<(), ConsentError> {
        self.inner.set_consent(purpose, true)
    }

    /// Revokes consent to `purpose`: collection stops at once, and its
    /// in-memory values, unreported days and queued reports are deleted. An
    /// upload in progress sends nothing more for it.
    pub fn revoke(&self, purpose: &str) -> Result<(), ConsentError> {
        self.inner.set_consent(purpose, false)
    }

    /// The consent state of every purpose of the schema.
    pub fn consent_status(&self) -> BTreeMap<String, PurposeConsent> {
        self.inner.consent_status()
    }

    /// Every grant and revocation ever made on this device, oldest first.
    pub fn receipts(&self) -> Vec<Receipt> {
        self.inner.receipts()
    }

    /// A device- or browser-wide opt-out (e.g. Global Privacy Control):
    /// while on, nothing is recorded or sent for any purpose, and turning it
    /// on deletes everything queued.
    pub fn set_global_opt_out(&self, on: bool) -> std::io::Result<()> {
        self.inner.set_flag(false, on)
    }

    /// A child's profile: no collection for any purpose. Turning it on
    /// deletes everything queued.
    pub fn set_child_profile(&self, on: bool) -> std::io::Result<()> {
        self.inner.set_flag(true, on)
    }

    /// Private (incognito) mode for the whole app: while on, nothing is
    /// recorded for purposes not `allowed_in_private_mode`. For a single
    /// private tab, use a handle's `.private(true)` instead.
    pub fn set_private_mode(&self, on: bool) {
        self.inner.set_private_mode(on);
    }

    /// Persists today's aggregates and builds, seals and queues the reports
    /// of days that have ended.
    pub fn flush(&self) {
        self.inner.flush(false);
    }

    /// Ends the current day early: builds today's reports now. Anything
    /// recorded later today is dropped (one report per purpose and day).
    pub fn end_day(&self) {
        self.inner.flush(true);
    }

    /// Checks a signed key list the host obtained (the document served at
    /// `GET /v1/regions/{region}/keys`) against the pinned signing key and,
    /// if it is valid and not older than the one held, seals to it from now
    /// on: finished days waiting for a list are sealed at once. A refused
    /// list is counted (`*keys`, by code) and its error returned.
    pub fn set_key_list(&self, document: &[u8]) -> Result<(), candor_protocol::Error> {
        if self.inner.offer_key_list(document, true)? {
            self.inner.flush(false);
        }
        Ok(())
    }

    /// Sends queued reports through the uploader, unless backing off.
    /// First fetches a new signed key list through it when the device has
    /// no valid one or half of the held one's validity has passed.
    /// Blocks for the duration of the requests.
    pub fn upload_pending(&self) -> UploadSummary {
        self.inner.upload_pending()
    }

    /// Forgets the backoff of an earlier failed upload, so the next
    /// [`upload_pending`](Self::upload_pending) tries at once: for a host
    /// that knows the cause is gone (the user corrected the collector's
    /// address, the network came back). Without it, a failure delays every
    /// upload until its retry time.
    pub fn retry_now(&self) {
        self.inner.retry_now();
    }

    /// Today's value of metric `id` so far, as it would go into today's
    /// report before clamping to the schema's bound and before local DP;
    /// `None` when nothing was recorded for it today. Lets a host tell its
    /// user that a value will be clamped. Never leaves the device.
    pub fn today_value(&self, id: &str) -> Option<candor_protocol::MetricValue> {
        self.inner.today_value(id)
    }

    /// The exact plaintext JSON of every report waiting to be sent.
    pub fn pending_reports(&self) -> Vec<String> {
        self.inner.pending_reports()
    }

    /// The exact plaintext JSON of every report sent for the last `days` days.
    pub fn sent_reports(&self, days: u32) -> Vec<String> {
        self.inner.sent_reports(days)
    }

    /// Deletes all collected data — memory, unreported days, queued and sent
    /// reports, error counters — keeping only the consent receipts.
    pub fn delete_all_data(&self) {
        self.inner.delete_all_data();
    }

    /// Builds and seals today's report for `purpose` from what the last
    /// [`flush`](Self::flush) persisted, without storing or sending it: the
    /// day-end cost without file I/O, for benchmarks and tests.
    pub fn test_build_and_seal(&self, purpose: &str) -> Option<Vec<u8>> {
        self.inner.test_build_and_seal(purpose)
    }

    /// The SDK's own error counters: metric id (or `*` for the SDK as a
    /// whole, `*url` for dropped URLs by reason) → error code → count.
    pub fn error_counts(&self) -> BTreeMap<String, BTreeMap<String, u64>> {
        self.inner.error_counts()
    }
}

/// Persists (and optionally uploads) every `every` until the SDK is dropped.
fn spawn_background(inner: Weak<Inner>, every: Duration, upload: bool) {
    let spawned = std::thread::Builder::new()
        .name("candor-sdk".into())
        .spawn(move || {
            loop {
                std::thread::park_timeout(every);
                let Some(inner) = inner.upgrade() else { return };
                inner.flush(false);
                if upload {
                    inner.upload_pending();
                }
            }
        });
    // Without the thread the SDK still works: flush() and Drop persist.
    drop(spawned);
}

//! The uploader interface: how sealed batches reach the collector.
//!
//! The SDK does no networking itself (see the `http` feature for a default
//! uploader): the host supplies an [`Uploader`], and
//! [`crate::Candor::upload_pending`] drives it with retries, backoff and
//! per-report outcomes.

use std::time::Duration;

/// The collector's verdict on one report of a request, in request order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportResult {
    /// Counted. The report leaves the outbox.
    Accepted,
    /// Already counted earlier (a retry): treated like `Accepted`.
    Duplicate,
    /// Durably queued by a scale-out front (`candor serve --role front`)
    /// for a worker to open and count: the collector has taken
    /// responsibility for it, so it leaves the outbox like `Accepted`.
    Queued,
    /// Refused for good (bad schema, too old, ...): dropped and counted.
    Rejected {
        /// The collector's stable error code.
        code: String,
    },
}

/// What became of one upload request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadResponse {
    /// The collector answered for each report.
    Results(Vec<ReportResult>),
    /// Try again later (network error, 429, 503, 5xx); `retry_after` is the
    /// server's Retry-After, if it sent one.
    RetryLater {
        /// The server's requested delay.
        retry_after: Option<Duration>,
    },
    /// The whole request was refused for good (e.g. 400 or 413).
    Rejected {
        /// The collector's stable error code, or the HTTP status.
        code: String,
    },
}

/// Sends one upload body (an envelope or a batch, wire format v1) to the
/// region's collector. Implementations block; the SDK calls them from the
/// thread that called [`crate::Candor::upload_pending`] or from its
/// background thread, never while holding a lock that recording needs.
pub trait Uploader: Send + Sync + 'static {
    /// Uploads `body` for `region` and reports the outcome.
    fn upload(&self, region: &str, body: &[u8]) -> UploadResponse;

    /// Fetches the region's signed key list document (what the collector
    /// serves at `GET /v1/regions/{region}/keys`, docs/wire.md §5.2). The
    /// SDK verifies it; an uploader only carries the bytes. The default
    /// fetches nothing: the host then bundles lists itself
    /// ([`crate::Config::key_list`], [`crate::Candor::set_key_list`]).
    fn fetch_key_list(&self, region: &str) -> KeyListFetch {
        let _ = region;
        KeyListFetch::NotSupported
    }
}

/// What one [`Uploader::fetch_key_list`] came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyListFetch {
    /// The served document, unverified.
    Fetched(Vec<u8>),
    /// This uploader does not fetch key lists.
    NotSupported,
    /// The fetch failed (network, an error status); try again later.
    RetryLater,
}

/// The outcome of one [`crate::Candor::upload_pending`] pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadSummary {
    /// Requests sent.
    pub requests: usize,
    /// Reports accepted (or already counted, or durably queued by a
    /// scale-out front).
    pub accepted: usize,
    /// Reports refused for good and dropped.
    pub rejected: usize,
    /// Reports still queued.
    pub remaining: usize,
    /// Set when the pass stopped early to back off: no attempt before this
    /// Unix time.
    pub retry_at: Option<i64>,
}

#[cfg(feature = "http")]
pub use http::{CaError, FetchError, HttpUploader};

#[cfg(feature = "http")]
mod http;

//! Uploads through the host app's own HTTP stack ([`HostUploader`]), so
//! its proxy settings, certificate pinning and network policy apply.

use std::time::Duration;

use candor_sdk::{KeyListFetch, ReportResult, UploadResponse, Uploader};

use crate::guard::infallible;

/// The collector's verdict on one report of a request, in request order.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ReportOutcome {
    /// Counted (`"accepted"` in the collector's answer).
    Accepted,
    /// Already counted earlier (`"duplicate"`).
    Duplicate,
    /// Durably queued by a scale-out front (`"queued"`).
    Queued,
    /// Refused for good, with the collector's stable code.
    Rejected {
        /// The collector's code.
        code: String,
    },
}

/// What became of one upload request: the collector's answer as the host
/// read it (see docs/api.md for the upload answer's JSON).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum UploadOutcome {
    /// HTTP 200/202: one outcome per report of the body, in order. A list
    /// of another length is treated as `RetryLater`.
    Results {
        /// One per report.
        results: Vec<ReportOutcome>,
    },
    /// Network error, 429, 503 or another 5xx: try again later, no earlier
    /// than `retry_after_seconds` if the server sent Retry-After.
    RetryLater {
        /// The server's Retry-After, seconds.
        retry_after_seconds: Option<u64>,
    },
    /// The whole request was refused for good (400, 413, ...).
    Rejected {
        /// The collector's code, or the HTTP status.
        code: String,
    },
}

/// What fetching the region's signed key list came to.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum KeyListOutcome {
    /// The body of `GET /v1/regions/{region}/keys`, unverified: the SDK
    /// checks its signature against the pinned signing key.
    Fetched {
        /// The document's bytes.
        document: Vec<u8>,
    },
    /// This host does not fetch key lists (it bundles them instead).
    NotSupported,
    /// The fetch failed; try again later.
    RetryLater,
}

/// A failure the host reports from a callback (or any exception it
/// throws there): treated like a network error, never a crash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum HostError {
    /// The host could not complete the request.
    #[error("the host failed: {reason}")]
    Failed {
        /// Why (for the host's own logs; the SDK does not keep it).
        reason: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for HostError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        HostError::Failed { reason: e.reason }
    }
}

/// Implemented by the app: sends one upload body to the region's collector
/// with the app's own HTTP stack. Called from the thread that called
/// `Client.upload` (or the SDK's background thread), never while a lock
/// recording needs is held; blocking is expected.
#[uniffi::export(callback_interface)]
pub trait HostUploader: Send + Sync {
    /// POSTs `body` (content type `application/vnd.candor.report`) to
    /// `{collector}/v1/regions/{region}/reports` and returns what the
    /// collector answered.
    fn upload(&self, region: String, body: Vec<u8>) -> Result<UploadOutcome, HostError>;

    /// GETs `{collector}/v1/regions/{region}/keys` (the signed key list),
    /// or answers `NotSupported` if the app bundles key lists itself.
    fn fetch_key_list(&self, region: String) -> Result<KeyListOutcome, HostError>;
}

/// The SDK's [`Uploader`] over a host's [`HostUploader`].
pub(crate) struct HostAdapter(pub(crate) Box<dyn HostUploader>);

impl Uploader for HostAdapter {
    fn upload(&self, region: &str, body: &[u8]) -> UploadResponse {
        let retry = UploadResponse::RetryLater { retry_after: None };
        infallible(retry.clone(), || {
            match self.0.upload(region.to_owned(), body.to_vec()) {
                Ok(UploadOutcome::Results { results }) => UploadResponse::Results(
                    results
                        .into_iter()
                        .map(|r| match r {
                            ReportOutcome::Accepted => ReportResult::Accepted,
                            ReportOutcome::Duplicate => ReportResult::Duplicate,
                            ReportOutcome::Queued => ReportResult::Queued,
                            ReportOutcome::Rejected { code } => ReportResult::Rejected { code },
                        })
                        .collect(),
                ),
                Ok(UploadOutcome::RetryLater {
                    retry_after_seconds,
                }) => UploadResponse::RetryLater {
                    retry_after: retry_after_seconds.map(Duration::from_secs),
                },
                Ok(UploadOutcome::Rejected { code }) => UploadResponse::Rejected { code },
                Err(_) => retry,
            }
        })
    }

    fn fetch_key_list(&self, region: &str) -> KeyListFetch {
        infallible(KeyListFetch::RetryLater, || {
            match self.0.fetch_key_list(region.to_owned()) {
                Ok(KeyListOutcome::Fetched { document }) => KeyListFetch::Fetched(document),
                Ok(KeyListOutcome::NotSupported) => KeyListFetch::NotSupported,
                Ok(KeyListOutcome::RetryLater) | Err(_) => KeyListFetch::RetryLater,
            }
        })
    }
}

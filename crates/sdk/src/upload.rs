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
pub use http::{CaError, HttpUploader};

#[cfg(feature = "http")]
mod http {
    use std::time::Duration;

    use super::{ReportResult, UploadResponse, Uploader};

    use ureq::tls::{PemItem, RootCerts, TlsConfig};

    /// The default uploader: blocking HTTPS (rustls) POSTs of wire-format
    /// bodies to `{base}/v1/regions/{region}/reports`.
    ///
    /// Over `https://` the collector's certificate is always verified
    /// (chain, validity and host name): against Mozilla's root
    /// certificates ([`HttpUploader::new`]), or against a private CA
    /// ([`HttpUploader::with_ca_pem`]). A certificate that does not verify
    /// fails the request like a network error: nothing is sent, and the
    /// reports stay in the outbox.
    #[derive(Debug)]
    pub struct HttpUploader {
        base: String,
        agent: ureq::Agent,
    }

    /// Why [`HttpUploader::with_ca_pem`] could not use a CA certificate.
    #[derive(Debug, thiserror::Error)]
    #[non_exhaustive]
    pub enum CaError {
        /// The text is not valid PEM.
        #[error("the CA certificate is not valid PEM: {0}")]
        Pem(String),
        /// The PEM holds no `CERTIFICATE` block.
        #[error("the CA PEM holds no certificate (-----BEGIN CERTIFICATE-----)")]
        NoCertificate,
    }

    /// The agent of every uploader: certificates verified against `roots`.
    fn agent(roots: RootCerts) -> ureq::Agent {
        ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .http_status_as_error(false)
            .user_agent("candor-sdk")
            .tls_config(TlsConfig::builder().root_certs(roots).build())
            .build()
            .into()
    }

    impl HttpUploader {
        /// An uploader for the collector at `base` (e.g. `https://eu.collector.example`),
        /// trusting the public CAs (Mozilla's root certificates).
        pub fn new(base: impl Into<String>) -> Self {
            Self::with_roots(base, RootCerts::WebPki)
        }

        /// An uploader for the collector at `base` that trusts only the CA
        /// certificates in `ca_pem` (one or more PEM `CERTIFICATE` blocks)
        /// instead of the public CAs: for tests, and for private
        /// deployments whose collector has a certificate of their own CA
        /// (which then pins the collector to that CA).
        pub fn with_ca_pem(base: impl Into<String>, ca_pem: &[u8]) -> Result<Self, CaError> {
            let mut certs = Vec::new();
            for item in ureq::tls::parse_pem(ca_pem) {
                // A key or other block beside the CA is not trusted
                // material: skipped rather than refused.
                if let PemItem::Certificate(c) = item.map_err(|e| CaError::Pem(e.to_string()))? {
                    certs.push(c);
                }
            }
            if certs.is_empty() {
                return Err(CaError::NoCertificate);
            }
            Ok(Self::with_roots(base, RootCerts::new_with_certs(&certs)))
        }

        fn with_roots(base: impl Into<String>, roots: RootCerts) -> Self {
            HttpUploader {
                base: base.into().trim_end_matches('/').to_owned(),
                agent: agent(roots),
            }
        }
    }

    #[derive(serde::Deserialize)]
    struct Answer {
        results: Vec<Item>,
    }

    #[derive(serde::Deserialize)]
    struct Item {
        status: String,
        #[serde(default)]
        code: Option<String>,
    }

    #[derive(serde::Deserialize)]
    struct Problem {
        #[serde(default)]
        code: Option<String>,
    }

    impl Uploader for HttpUploader {
        fn upload(&self, region: &str, body: &[u8]) -> UploadResponse {
            let url = format!("{}/v1/regions/{region}/reports", self.base);
            let response = match self
                .agent
                .post(&url)
                .header("content-type", "application/vnd.candor.report")
                .send(body)
            {
                Ok(r) => r,
                Err(_) => return UploadResponse::RetryLater { retry_after: None },
            };
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let text = response
                .into_body()
                .with_config()
                .limit(1 << 20)
                .read_to_string()
                .unwrap_or_default();
            match status {
                200..=299 => match serde_json::from_str::<Answer>(&text) {
                    Ok(answer) => UploadResponse::Results(
                        answer
                            .results
                            .into_iter()
                            .map(|item| match item.status.as_str() {
                                "accepted" => ReportResult::Accepted,
                                "duplicate" => ReportResult::Duplicate,
                                "queued" => ReportResult::Queued,
                                _ => ReportResult::Rejected {
                                    code: item.code.unwrap_or(item.status),
                                },
                            })
                            .collect(),
                    ),
                    Err(_) => UploadResponse::RetryLater { retry_after: None },
                },
                408 | 429 | 500..=599 => UploadResponse::RetryLater { retry_after },
                _ => UploadResponse::Rejected {
                    code: serde_json::from_str::<Problem>(&text)
                        .ok()
                        .and_then(|p| p.code)
                        .unwrap_or_else(|| format!("http_{status}")),
                },
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::{CaError, HttpUploader};

        #[test]
        fn a_ca_pem_needs_a_certificate() {
            let ca = candor_testkit::tls::TestCa::new("SDK test CA");
            assert!(
                HttpUploader::with_ca_pem("https://localhost", ca.cert_pem().as_bytes()).is_ok()
            );
            let server = ca.server_cert(&["localhost"]);
            let key_only =
                HttpUploader::with_ca_pem("https://localhost", server.key_pem.as_bytes());
            assert!(
                matches!(key_only, Err(CaError::NoCertificate)),
                "{key_only:?}"
            );
            let text = HttpUploader::with_ca_pem("https://localhost", b"not PEM at all\n");
            assert!(matches!(text, Err(CaError::NoCertificate)), "{text:?}");
            let cut = &ca.cert_pem()[..ca.cert_pem().len() / 2];
            let cut = HttpUploader::with_ca_pem("https://localhost", cut.as_bytes());
            assert!(matches!(cut, Err(CaError::Pem(_))), "{cut:?}");
        }
    }
}

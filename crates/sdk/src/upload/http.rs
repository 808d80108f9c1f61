//! The default uploader: blocking HTTPS (rustls) through ureq, to the
//! collector directly or, with the `ohttp` feature, through an Oblivious
//! HTTP relay (RFC 9458) so that the collector never sees the device's
//! address.
//!
//! Every request the uploader makes goes through one function,
//! `HttpUploader::exchange`: "send this request (method, path, content
//! type, body) to the collector and give me its status, Retry-After and
//! body". Directly, that is a plain HTTP request to `{base}{path}`; through
//! a relay, the same request is written as Binary HTTP (RFC 9292),
//! encapsulated to the gateway's key and posted to the relay, and the
//! gateway's encapsulated answer is opened again. A new kind of request
//! (a key fetch, a signed key list) therefore takes the relay as soon as
//! it is written with `exchange`.

use std::time::Duration;

use ureq::tls::{PemItem, RootCerts, TlsConfig};

use super::{KeyListFetch, ReportResult, UploadResponse, Uploader};

/// The largest answer body read (the collector's answers are small JSON
/// documents).
const MAX_ANSWER_BYTES: u64 = 1 << 20;

/// Why fetching something from the collector failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// No answer came (network error, timeout, an unreadable relayed answer).
    #[error("the collector could not be reached")]
    Unreachable,
    /// The collector (or the relay) answered with an error status.
    #[error("the collector answered {status} ({})", code.as_deref().unwrap_or("no code"))]
    Status {
        /// The HTTP status.
        status: u16,
        /// The problem+json code, if the answer had one.
        code: Option<String>,
    },
    /// The answer (or a key configuration given) is not what it should be.
    #[error("invalid: {0}")]
    Invalid(String),
}

/// Where the uploader's requests go.
#[derive(Debug)]
enum Route {
    /// To the collector at this base URL.
    Direct { base: String },
    /// Encapsulated to the gateway's key, through the relay at this base URL.
    #[cfg(feature = "ohttp")]
    Relay {
        relay: String,
        gateway_keys: Vec<u8>,
    },
}

/// The collector's answer to one request, whichever way it went.
#[derive(Debug)]
struct Answer {
    status: u16,
    retry_after: Option<Duration>,
    body: Vec<u8>,
    /// Through a relay: the answer is the relay's or the gateway's own
    /// refusal, not the collector's routes' (the request never reached
    /// them).
    outer: bool,
}

/// The default uploader: blocking HTTPS (rustls) POSTs of wire-format
/// bodies to `/v1/regions/{region}/reports`, directly ([`HttpUploader::new`])
/// or through an OHTTP relay (`HttpUploader::through_relay`, feature
/// `ohttp`). It fetches a region's signed key list
/// ([`Uploader::fetch_key_list`]) the same way.
///
/// Over `https://` the server's certificate is always verified (chain,
/// validity and host name): against Mozilla's root certificates
/// ([`HttpUploader::new`]), or against a private CA
/// ([`HttpUploader::with_ca_pem`]). A certificate that does not verify
/// fails the request like a network error: nothing is sent, and the
/// reports stay in the outbox.
#[derive(Debug)]
pub struct HttpUploader {
    route: Route,
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

fn trim(url: impl Into<String>) -> String {
    url.into().trim_end_matches('/').to_owned()
}

impl HttpUploader {
    /// An uploader for the collector at `base` (e.g. `https://eu.collector.example`),
    /// trusting the public CAs (Mozilla's root certificates).
    pub fn new(base: impl Into<String>) -> Self {
        HttpUploader {
            route: Route::Direct { base: trim(base) },
            agent: agent(RootCerts::WebPki),
        }
    }

    /// An uploader for the collector at `base` that trusts only the CA
    /// certificates in `ca_pem` (one or more PEM `CERTIFICATE` blocks)
    /// instead of the public CAs: for tests, and for private deployments
    /// whose collector has a certificate of their own CA (which then pins
    /// the collector to that CA).
    pub fn with_ca_pem(base: impl Into<String>, ca_pem: &[u8]) -> Result<Self, CaError> {
        let mut certs = Vec::new();
        for item in ureq::tls::parse_pem(ca_pem) {
            // A key or other block beside the CA is not trusted material:
            // skipped rather than refused.
            if let PemItem::Certificate(c) = item.map_err(|e| CaError::Pem(e.to_string()))? {
                certs.push(c);
            }
        }
        if certs.is_empty() {
            return Err(CaError::NoCertificate);
        }
        Ok(HttpUploader {
            route: Route::Direct { base: trim(base) },
            agent: agent(RootCerts::new_with_certs(&certs)),
        })
    }

    /// An uploader that sends every request through the OHTTP relay at
    /// `relay` (its base URL, e.g. `https://relay.example`), encapsulated
    /// to the gateway key configuration list `gateway_keys`
    /// (`application/ohttp-keys`, RFC 9458 §3; see
    /// [`HttpUploader::fetch_gateway_keys`]). The relay sees the device's
    /// address but not the request; the collector sees the request but
    /// only the relay's address. Refuses a list with no usable key.
    #[cfg(feature = "ohttp")]
    pub fn through_relay(
        relay: impl Into<String>,
        gateway_keys: &[u8],
    ) -> Result<Self, FetchError> {
        // The ohttp crate indexes a config's first suite without checking
        // that one is left after dropping unsupported ones. The list never
        // changes after this check, so a list that passes it cannot make
        // it do so later: never panic into the app.
        let usable = std::panic::catch_unwind(|| {
            ohttp::ClientRequest::from_encoded_config_list(gateway_keys).is_ok()
        })
        .unwrap_or(false);
        if !usable {
            return Err(FetchError::Invalid(
                "no usable OHTTP key configuration in the list".into(),
            ));
        }
        Ok(HttpUploader {
            route: Route::Relay {
                relay: trim(relay),
                gateway_keys: gateway_keys.to_vec(),
            },
            agent: agent(RootCerts::WebPki),
        })
    }

    /// Fetches the gateway's key configuration list from the relay at
    /// `relay` (`GET /v1/ohttp/keys`), so that not even this fetch reaches
    /// the collector from the device's address. Check it (or pin it) before
    /// trusting it: it decides who can read what the device sends.
    #[cfg(feature = "ohttp")]
    pub fn fetch_gateway_keys(relay: &str) -> Result<Vec<u8>, FetchError> {
        let url = format!("{}/v1/ohttp/keys", trim(relay));
        let response = agent(RootCerts::WebPki)
            .get(&url)
            .header("accept", "application/ohttp-keys")
            .call()
            .map_err(|_| FetchError::Unreachable)?;
        let answer = read_answer(response, false).ok_or(FetchError::Unreachable)?;
        ok_body(answer)
    }

    /// Sends one request to the collector and returns its answer; `None`
    /// when no answer came (or, through a relay, none that opens).
    fn exchange(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Option<Answer> {
        match &self.route {
            Route::Direct { base } => {
                let url = format!("{base}{path}");
                let mut request = ureq::http::Request::builder().method(method).uri(url);
                if let Some(ct) = content_type {
                    request = request.header("content-type", ct);
                }
                let response = self.agent.run(request.body(body).ok()?).ok()?;
                read_answer(response, false)
            }
            #[cfg(feature = "ohttp")]
            Route::Relay {
                relay,
                gateway_keys,
            } => relayed(
                &self.agent,
                relay,
                gateway_keys,
                Inner {
                    method,
                    path,
                    content_type,
                    body,
                },
            ),
        }
    }
}

/// Status, Retry-After and body of a ureq answer (`None` if the body
/// cannot be read).
fn read_answer(response: ureq::http::Response<ureq::Body>, outer: bool) -> Option<Answer> {
    let status = response.status().as_u16();
    let retry_after = retry_after(response.headers().get("retry-after").map(|v| v.as_bytes()));
    let body = response
        .into_body()
        .with_config()
        .limit(MAX_ANSWER_BYTES)
        .read_to_vec()
        .ok()?;
    Some(Answer {
        status,
        retry_after,
        body,
        outer,
    })
}

fn retry_after(value: Option<&[u8]>) -> Option<Duration> {
    std::str::from_utf8(value?)
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// The body of a 2xx answer, or the error it stands for.
fn ok_body(answer: Answer) -> Result<Vec<u8>, FetchError> {
    if (200..300).contains(&answer.status) {
        Ok(answer.body)
    } else {
        Err(FetchError::Status {
            status: answer.status,
            code: problem_code(&answer.body),
        })
    }
}

#[derive(serde::Deserialize)]
struct Problem {
    #[serde(default)]
    code: Option<String>,
}

fn problem_code(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<Problem>(body).ok()?.code
}

/// One request as the collector's routes see it.
#[cfg(feature = "ohttp")]
struct Inner<'a> {
    method: &'a str,
    path: &'a str,
    content_type: Option<&'a str>,
    body: &'a [u8],
}

/// One request through the relay: Binary HTTP, encapsulated to the
/// gateway's key, posted to the relay; the answer opened again. An outer
/// answer that is not a 200 `message/ohttp-res` (the relay is busy, the
/// gateway refused the encapsulation) never reached the collector's
/// routes: it comes back marked `outer`, with its status and problem body.
#[cfg(feature = "ohttp")]
fn relayed(
    agent: &ureq::Agent,
    relay: &str,
    gateway_keys: &[u8],
    request: Inner<'_>,
) -> Option<Answer> {
    use std::io::Cursor;

    // The scheme and authority are the gateway's business, not the
    // device's: the inner request names no host.
    let mut message = bhttp::Message::request(
        request.method.as_bytes().to_vec(),
        b"https".to_vec(),
        Vec::new(),
        request.path.as_bytes().to_vec(),
    );
    if let Some(ct) = request.content_type {
        message.put_header("content-type", ct);
    }
    message.write_content(request.body);
    let mut inner = Vec::with_capacity(request.body.len() + 64);
    message
        .write_bhttp(bhttp::Mode::KnownLength, &mut inner)
        .ok()?;
    let client = ohttp::ClientRequest::from_encoded_config_list(gateway_keys).ok()?;
    let (encapsulated, opener) = client.encapsulate(&inner).ok()?;
    let response = agent
        .post(&format!("{relay}/v1/ohttp"))
        .header("content-type", "message/ohttp-req")
        .send(&encapsulated[..])
        .ok()?;
    let is_encapsulated = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("message/ohttp-res"));
    let outer = read_answer(response, true)?;
    if outer.status != 200 || !is_encapsulated {
        return Some(outer);
    }
    let plain = opener.decapsulate(&outer.body).ok()?;
    let answer = bhttp::Message::read_bhttp(&mut Cursor::new(&plain[..])).ok()?;
    let status = answer.control().status()?.code();
    Some(Answer {
        status,
        retry_after: retry_after(answer.header().get(b"retry-after")),
        body: answer.content().to_vec(),
        outer: false,
    })
}

#[derive(serde::Deserialize)]
struct Results {
    results: Vec<Item>,
}

#[derive(serde::Deserialize)]
struct Item {
    status: String,
    #[serde(default)]
    code: Option<String>,
}

impl Uploader for HttpUploader {
    /// `GET /v1/regions/{region}/keys`, the uploader's way (directly or
    /// through the relay); the SDK verifies what comes back.
    fn fetch_key_list(&self, region: &str) -> KeyListFetch {
        match self
            .exchange("GET", &format!("/v1/regions/{region}/keys"), None, &[])
            .map(ok_body)
        {
            Some(Ok(bytes)) => KeyListFetch::Fetched(bytes),
            _ => KeyListFetch::RetryLater,
        }
    }

    fn upload(&self, region: &str, body: &[u8]) -> UploadResponse {
        let path = format!("/v1/regions/{region}/reports");
        let Some(answer) =
            self.exchange("POST", &path, Some("application/vnd.candor.report"), body)
        else {
            return UploadResponse::RetryLater { retry_after: None };
        };
        let retry_after = answer.retry_after;
        match answer.status {
            200..=299 if !answer.outer => match serde_json::from_slice::<Results>(&answer.body) {
                Ok(results) => UploadResponse::Results(
                    results
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
            // The relay or the gateway refused the encapsulation (or
            // answered what is not one): the reports were never judged,
            // so they stay for a retry, with a key config fetched again.
            _ if answer.outer => UploadResponse::RetryLater { retry_after },
            408 | 429 | 500..=599 => UploadResponse::RetryLater { retry_after },
            status => UploadResponse::Rejected {
                code: problem_code(&answer.body).unwrap_or_else(|| format!("http_{status}")),
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
        assert!(HttpUploader::with_ca_pem("https://localhost", ca.cert_pem().as_bytes()).is_ok());
        let server = ca.server_cert(&["localhost"]);
        let key_only = HttpUploader::with_ca_pem("https://localhost", server.key_pem.as_bytes());
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

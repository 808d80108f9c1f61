//! Candor's Oblivious HTTP relay (RFC 9458 §6).
//!
//! A relay run by a third party stands between devices and a collector's
//! OHTTP gateway: it sees a device's address but only encapsulated bytes,
//! and the gateway sees the request but only the relay's address. Neither
//! alone can link a report to an address.
//!
//! [`Relay`] forwards exactly two things to **one** configured gateway:
//!
//! - `POST /v1/ohttp` (`message/ohttp-req`) to the gateway URL, answered
//!   with the gateway's `message/ohttp-res`;
//! - `GET /v1/ohttp/keys` to `{gateway}/keys`, the gateway's key
//!   configuration (`application/ohttp-keys`), so that a device need not
//!   ask the collector directly.
//!
//! What it promises (docs/api.md, "The relay"):
//!
//! - it strips every client header but the content type and adds none that
//!   identifies the client (no `Forwarded`, `X-Forwarded-For` or `Via`);
//! - it logs nothing about clients: no address, no size, no timing per
//!   request (only failures to reach the gateway, which name no client);
//! - it bounds the body ([`RelayConfig::max_body`], 413 beyond) and the
//!   requests in flight ([`RelayConfig::max_concurrency`], 503 beyond);
//! - its own refusals are problem+json with a stable code ([`CODES`]).
//!
//! The relay reads no client address at all: [`Relay::router`] is served
//! over any [`axum::serve::Listener`], so a TLS acceptor can be put in
//! front of it without touching the forwarding.
//!
//! This crate depends on no other Candor crate: whoever runs a relay runs
//! this code only, and the collector never depends on it.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use candor_relay::{Relay, RelayConfig};
//! let config = RelayConfig::new("http://collector.example:8080/v1/ohttp".parse()?);
//! let relay = Relay::new(config)?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8081").await?;
//! axum::serve(listener, relay.router()).await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::Semaphore;

/// The media type of an encapsulated request (RFC 9458 §9.2).
pub const REQUEST_MEDIA_TYPE: &str = "message/ohttp-req";
/// The media type of an encapsulated response (RFC 9458 §9.3).
pub const RESPONSE_MEDIA_TYPE: &str = "message/ohttp-res";
/// The media type of a key configuration list (RFC 9458 §9.1).
pub const KEYS_MEDIA_TYPE: &str = "application/ohttp-keys";

/// The relay's path for encapsulated requests.
pub const REQUEST_PATH: &str = "/v1/ohttp";
/// The relay's path for the gateway's key configuration.
pub const KEYS_PATH: &str = "/v1/ohttp/keys";

/// Every code of the relay's own refusals with its status; docs/api.md
/// lists the same (a test keeps them equal).
pub const CODES: [(&str, u16); 7] = [
    ("not_found", 404),
    ("method_not_allowed", 405),
    ("unsupported_media_type", 415),
    ("too_large", 413),
    ("relay_busy", 503),
    ("gateway_unreachable", 502),
    ("gateway_timeout", 504),
];

/// The default body limit: the collector's default upload limit (4 MiB, a
/// full batch) plus 1 KiB for the encapsulation and Binary HTTP framing.
pub const DEFAULT_MAX_BODY: usize = 4 * 1024 * 1024 + 1024;
/// The default number of requests forwarded at once.
pub const DEFAULT_MAX_CONCURRENCY: usize = 64;

/// Why a relay could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// The gateway URL is not a plain `http://host[:port]/path` URL (TLS
    /// to the gateway is not supported yet).
    #[error("the gateway URL must be http://host[:port]/path, got {0}")]
    GatewayUrl(String),
    /// A limit is zero.
    #[error("{0} must be at least 1")]
    ZeroLimit(&'static str),
}

/// What a relay forwards to and within which bounds.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// The gateway's URL (`POST` target); its key configuration is at this
    /// URL followed by `/keys`.
    pub gateway: Uri,
    /// The largest encapsulated request accepted, in bytes.
    pub max_body: usize,
    /// The most requests forwarded at once; more are refused with 503
    /// `relay_busy` rather than queued.
    pub max_concurrency: usize,
    /// The local address of connections to the gateway (a relay host with
    /// several addresses picks the one the gateway should see); `None` lets
    /// the system choose.
    pub outgoing_address: Option<IpAddr>,
    /// How long the gateway may take to answer.
    pub timeout: Duration,
}

impl RelayConfig {
    /// The defaults for a gateway: [`DEFAULT_MAX_BODY`] bytes,
    /// [`DEFAULT_MAX_CONCURRENCY`] requests at once (so at most 256 MiB of
    /// bodies in memory), a 30 s gateway timeout.
    pub fn new(gateway: Uri) -> Self {
        RelayConfig {
            gateway,
            max_body: DEFAULT_MAX_BODY,
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
            outgoing_address: None,
            timeout: Duration::from_secs(30),
        }
    }
}

/// A relay: its configuration, an HTTP/1 client to the gateway (a fresh
/// connection per request), and
/// the permits that bound the requests in flight.
#[derive(Debug, Clone)]
pub struct Relay {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: RelayConfig,
    keys_uri: Uri,
    client: Client<HttpConnector, Full<Bytes>>,
    permits: Semaphore,
}

impl Relay {
    /// A relay for `config`; refuses a gateway URL that is not `http://`
    /// with a host, and zero limits.
    pub fn new(config: RelayConfig) -> Result<Self, RelayError> {
        let url = config.gateway.to_string();
        if config.gateway.scheme_str() != Some("http") || config.gateway.host().is_none() {
            return Err(RelayError::GatewayUrl(url));
        }
        if config.max_body == 0 {
            return Err(RelayError::ZeroLimit("max_body"));
        }
        if config.max_concurrency == 0 {
            return Err(RelayError::ZeroLimit("max_concurrency"));
        }
        let keys_uri: Uri = format!("{}/keys", url.trim_end_matches('/'))
            .parse()
            .map_err(|_| RelayError::GatewayUrl(url))?;
        let mut connector = HttpConnector::new();
        connector.set_local_address(config.outgoing_address);
        connector.set_nodelay(true);
        // One connection per forwarded request, never a pooled one: a pooled
        // connection the gateway (or a proxy in between) has closed is only
        // found dead when the next device's request is written to it, and
        // that device would get a 502 for nothing. Requests are few and
        // small; a fresh connection costs one local round trip.
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build(connector);
        let permits = Semaphore::new(config.max_concurrency);
        Ok(Relay {
            inner: Arc::new(Inner {
                config,
                keys_uri,
                client,
                permits,
            }),
        })
    }

    /// The relay's routes, to serve with [`axum::serve`] over any listener.
    /// Every other path answers 404, every other method 405, both as
    /// problem+json.
    pub fn router(&self) -> Router {
        let (post_relay, get_relay) = (self.clone(), self.clone());
        Router::new()
            .route(
                REQUEST_PATH,
                any(
                    move |method: Method, headers: HeaderMap, body: Body| async move {
                        if method != Method::POST {
                            return method_not_allowed("POST");
                        }
                        post_relay.forward_request(&headers, body).await
                    },
                ),
            )
            .route(
                KEYS_PATH,
                any(move |method: Method| async move {
                    if method != Method::GET {
                        return method_not_allowed("GET");
                    }
                    get_relay.forward_keys().await
                }),
            )
            .fallback(|| async { problem(StatusCode::NOT_FOUND, "not_found", "no such route") })
    }

    /// `POST /v1/ohttp`: the encapsulated request, bounded, to the gateway
    /// with its content type only.
    async fn forward_request(&self, headers: &HeaderMap, body: Body) -> Response {
        let config = &self.inner.config;
        let media_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::trim);
        if !media_type.is_some_and(|m| m.eq_ignore_ascii_case(REQUEST_MEDIA_TYPE)) {
            return problem(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "a relayed request must be sent as message/ohttp-req",
            );
        }
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > config.max_body) {
            return too_large(config.max_body);
        }
        let Ok(_permit) = self.inner.permits.try_acquire() else {
            return busy();
        };
        let Ok(bytes) = axum::body::to_bytes(body, config.max_body).await else {
            return too_large(config.max_body);
        };
        let request = Request::post(config.gateway.clone())
            .header(header::CONTENT_TYPE, REQUEST_MEDIA_TYPE)
            .body(Full::new(bytes));
        self.send(request).await
    }

    /// `GET /v1/ohttp/keys`: the gateway's key configuration, fetched
    /// without any client header.
    async fn forward_keys(&self) -> Response {
        let Ok(_permit) = self.inner.permits.try_acquire() else {
            return busy();
        };
        let request = Request::get(self.inner.keys_uri.clone())
            .header(header::ACCEPT, KEYS_MEDIA_TYPE)
            .body(Full::new(Bytes::new()));
        self.send(request).await
    }

    /// Sends a request the relay built itself (so it carries no client
    /// header) and answers with the gateway's status, content type and
    /// body: nothing else of the gateway's answer reaches the client.
    async fn send(&self, request: Result<Request<Full<Bytes>>, axum::http::Error>) -> Response {
        let config = &self.inner.config;
        let Ok(request) = request else {
            return unreachable_gateway();
        };
        let answer =
            match tokio::time::timeout(config.timeout, self.inner.client.request(request)).await {
                Err(_) => return gateway_timeout(),
                Ok(Err(error)) => {
                    tracing::warn!(%error, "The gateway could not be reached.");
                    return unreachable_gateway();
                }
                Ok(Ok(answer)) => answer,
            };
        let (parts, body) = answer.into_parts();
        // The gateway's answers are small (an encapsulated JSON document or
        // a key list); the body limit bounds a misbehaving gateway too.
        let limited = Limited::new(body, config.max_body);
        let content = match tokio::time::timeout(config.timeout, limited.collect()).await {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(_)) => return unreachable_gateway(),
            Err(_) => return gateway_timeout(),
        };
        let mut response = Response::new(Body::from(content));
        *response.status_mut() = parts.status;
        if let Some(ct) = parts.headers.get(header::CONTENT_TYPE) {
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, ct.clone());
        }
        response
    }
}

/// A problem+json answer (RFC 9457) with one of [`CODES`].
fn problem(status: StatusCode, code: &str, title: &str) -> Response {
    let body = serde_json::json!({
        "type": format!("urn:candor:problem:{code}"),
        "title": title,
        "status": status.as_u16(),
        "code": code,
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

fn method_not_allowed(allow: &'static str) -> Response {
    let mut response = problem(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "the route exists with another method",
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

fn too_large(max: usize) -> Response {
    problem(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        &format!("the relay accepts requests of at most {max} bytes"),
    )
}

fn busy() -> Response {
    let mut response = problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "relay_busy",
        "too many requests in flight; retry later",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

fn unreachable_gateway() -> Response {
    problem(
        StatusCode::BAD_GATEWAY,
        "gateway_unreachable",
        "the gateway could not be reached",
    )
}

fn gateway_timeout() -> Response {
    problem(
        StatusCode::GATEWAY_TIMEOUT,
        "gateway_timeout",
        "the gateway did not answer in time",
    )
}

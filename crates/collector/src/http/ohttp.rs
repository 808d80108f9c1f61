//! The OHTTP gateway's routes: its key configuration, and encapsulated
//! requests dispatched to the device-facing routes of this same router.
//!
//! The inner request reaches those routes with no header but its content
//! type and length, so a handler behind the gateway sees exactly what it
//! would see from a direct upload, and no more (docs/api.md, "Oblivious
//! HTTP").

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;

use super::{problem, problem_body};
use crate::gateway::{
    Gateway, GatewayError, InnerReply, InnerRequest, KEYS_MEDIA_TYPE, REQUEST_MEDIA_TYPE,
    RESPONSE_MEDIA_TYPE,
};

/// The room an encapsulated request needs around the upload body it
/// carries: the encapsulation header, the HPKE encapsulated key and tag,
/// and the Binary HTTP framing of method, path and content type.
const FRAMING_BYTES: usize = 1024;

/// Every header field of an inner answer that goes back to the device:
/// what the SDK acts on. (Inner request headers are dropped whole but the
/// content type.)
const ANSWER_HEADERS: [header::HeaderName; 2] = [header::CONTENT_TYPE, header::RETRY_AFTER];

/// `GET /v1/ohttp/keys`: the gateway's key configuration list.
pub(super) fn keys(gateway: &Gateway) -> Response {
    (
        [(header::CONTENT_TYPE, KEYS_MEDIA_TYPE)],
        gateway.config_list().to_vec(),
    )
        .into_response()
}

/// The outer answer of a refused encapsulation: problem+json with the
/// gateway's code (nothing is decrypted, so nothing can be sealed back).
fn refused(error: GatewayError) -> Response {
    let status = StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    problem(status, error.code(), &error.to_string())
}

/// An answer that only the device can read, or the problem of a failure to
/// seal one (which would be a bug of the encoder).
fn sealed(reply: InnerReply, status: u16, headers: &[(&str, &[u8])], body: &[u8]) -> Response {
    match reply.seal(status, headers, body) {
        Ok(bytes) => ([(header::CONTENT_TYPE, RESPONSE_MEDIA_TYPE)], bytes).into_response(),
        Err(e) => refused(e),
    }
}

/// `POST /v1/ohttp`: decapsulate, call `inner` (the device-facing routes)
/// with the inner request, and encapsulate its answer. `max_body` is the
/// ingest's body limit: an inner upload is bounded like a direct one.
pub(super) async fn request(
    gateway: &Gateway,
    inner: Router,
    max_body: usize,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim);
    if !media_type.is_some_and(|m| m.eq_ignore_ascii_case(REQUEST_MEDIA_TYPE)) {
        return refused(GatewayError::UnsupportedMediaType);
    }
    let limit = max_body.saturating_add(FRAMING_BYTES);
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return refused(GatewayError::TooLarge);
    };
    let (request, reply) = match gateway.decapsulate(&bytes) {
        Ok(opened) => opened,
        Err((error, Some(reply))) => {
            let status =
                StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            let body = problem_body(status, error.code(), &error.to_string());
            return sealed(
                reply,
                error.http_status(),
                &[("content-type", b"application/problem+json")],
                body.as_bytes(),
            );
        }
        Err((error, None)) => return refused(error),
    };
    let answer = match inner_request(request) {
        Some(r) => inner
            .oneshot(r)
            .await
            .unwrap_or_else(|never| match never {}),
        None => problem(
            StatusCode::BAD_REQUEST,
            GatewayError::BadInnerRequest.code(),
            &GatewayError::BadInnerRequest.to_string(),
        ),
    };
    let (parts, body) = answer.into_parts();
    // The inner routes answer small JSON documents; the limit only guards
    // against a bug turning into unbounded memory.
    let Ok(content) = axum::body::to_bytes(body, 1 << 20).await else {
        return refused(GatewayError::Malformed);
    };
    let headers: Vec<(&str, &[u8])> = ANSWER_HEADERS
        .iter()
        .filter_map(|name| {
            parts
                .headers
                .get(name)
                .map(|v| (name.as_str(), v.as_bytes()))
        })
        .collect();
    sealed(reply, parts.status.as_u16(), &headers, &content)
}

/// The request the device-facing routes get: method, path, and the body
/// with its content type and length, nothing else.
fn inner_request(inner: InnerRequest) -> Option<Request<Body>> {
    let method = Method::from_bytes(inner.method.as_bytes()).ok()?;
    let mut builder = Request::builder()
        .method(method)
        .uri(inner.path.as_str())
        .header(header::CONTENT_LENGTH, inner.body.len());
    if let Some(ct) = &inner.content_type {
        builder = builder.header(header::CONTENT_TYPE, ct.as_str());
    }
    builder.body(Body::from(inner.body)).ok()
}

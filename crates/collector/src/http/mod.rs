//! HTTP routes (docs/api.md, docs/openapi.json).
//!
//! Handlers read nothing about the client: no address, no user agent, no
//! cookie or other header reaches the code below, except `content-length`
//! (to refuse oversized bodies before reading them).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::ingest::front;
use crate::queue::Role;
use crate::{Collector, Rejection, ReportOutcome};

pub mod api;
mod ohttp;

/// The routes, as `(method, path)`; the OpenAPI document must list exactly these.
pub const ROUTES: [(&str, &str); 14] = [
    ("get", "/v1/regions/{region}/keys"),
    ("post", "/v1/regions/{region}/reports"),
    ("get", "/v1/schema"),
    ("get", "/privacy"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("post", "/v1/query"),
    ("get", "/v1/regions/{region}/budget"),
    ("get", "/v1/regions/{region}/audit"),
    ("get", "/v1/tokens"),
    ("get", "/v1/ohttp/keys"),
    ("post", "/v1/ohttp"),
    ("get", "/v1/regions/{region}/audit/head"),
];

/// The collector's router. Which routes it has depends on the role: `all`
/// serves every route; a `front` the device-facing ones (key configs,
/// uploads, schema, privacy page) and health, readiness and metrics; a
/// `worker` everything but the device-facing ingest (key configs and
/// uploads), the analyst API and dashboard included since it has the store.
/// The OHTTP gateway goes with the device-facing routes (roles `all` and
/// `front`): it calls exactly those, through [`device_router`].
pub fn router(collector: Arc<Collector>) -> Router {
    let role = collector.role();
    let mut router = Router::new()
        .route(ROUTES[3].1, get(privacy))
        .route(ROUTES[4].1, get(healthz))
        .route(ROUTES[5].1, get(readyz))
        .route(ROUTES[6].1, get(metrics));
    if role == Role::Worker {
        router = router.route(ROUTES[2].1, get(schema));
    } else {
        router = device_routes(router);
        if let Some(gateway) = collector.gateway().cloned() {
            let inner = device_router(collector.clone());
            let max_body = collector.ingest().config().max_body_bytes;
            let keys_of = gateway.clone();
            router = router
                .route(
                    ROUTES[11].1,
                    get(move || async move { ohttp::keys(&keys_of) }),
                )
                .route(
                    ROUTES[12].1,
                    post(move |headers: HeaderMap, body: Body| async move {
                        ohttp::request(&gateway, inner, max_body, &headers, body).await
                    }),
                );
        }
    }
    if role != Role::Front {
        router = router
            .route(ROUTES[7].1, post(api::query))
            .route(ROUTES[8].1, get(api::budget))
            .route(ROUTES[9].1, get(api::audit))
            .route(ROUTES[10].1, get(api::tokens))
            .route(ROUTES[13].1, get(api::audit_head))
            .merge(crate::dashboard::router());
    }
    router
        .layer(axum::middleware::map_response(problem_errors))
        .with_state(collector)
}

/// The routes a device uses (key configs, uploads, schema), on `router`.
fn device_routes(router: Router<Arc<Collector>>) -> Router<Arc<Collector>> {
    router
        .route(ROUTES[0].1, get(keys))
        .route(ROUTES[1].1, post(reports))
        .route(ROUTES[2].1, get(schema))
}

/// The device-facing routes alone, with the same problem+json layer: what
/// the OHTTP gateway dispatches an inner request to, so that anything else
/// (the analyst API, metrics, the dashboard) answers 404 through it.
fn device_router(collector: Arc<Collector>) -> Router {
    device_routes(Router::new())
        .layer(axum::middleware::map_response(problem_errors))
        .with_state(collector)
}

/// The body of a problem+json answer (RFC 9457): the one place its shape
/// is written.
pub(crate) fn problem_body(status: StatusCode, code: &str, title: &str) -> String {
    json!({
        "type": format!("urn:candor:problem:{code}"),
        "title": title,
        "status": status.as_u16(),
        "code": code,
    })
    .to_string()
}

/// A problem+json answer (RFC 9457) with a stable code: the one builder of
/// every error answer of the API.
pub(crate) fn problem(status: StatusCode, code: &str, title: &str) -> Response {
    let body = problem_body(status, code, title);
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body,
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// An ingest refusal as HTTP: its documented status, its stable code, and
/// Retry-After when retrying later can succeed. The one place where an
/// ingest error becomes an HTTP answer.
fn rejection(c: &Collector, r: &Rejection) -> Response {
    let status = StatusCode::from_u16(r.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = problem(status, r.code(), &r.to_string());
    if r.is_transient() {
        let secs = c.ingest().config().retry_after_seconds.to_string();
        if let Ok(v) = HeaderValue::from_str(&secs) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    response
}

/// The code of an error answer that no handler wrote (axum's own refusals).
fn generic_code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        s if s.is_server_error() => "internal",
        _ => "invalid_request",
    }
}

/// Every generic code the problem+json layer (`problem_errors`, which
/// turns axum's own error answers into problem+json) may answer with;
/// docs/api.md lists them (a test keeps the two equal).
pub const GENERIC_CODES: [&str; 6] = [
    "not_found",
    "method_not_allowed",
    "too_large",
    "unsupported_media_type",
    "invalid_request",
    "internal",
];

/// Turns every error answer that is not already problem+json into one:
/// axum's own refusals (an unknown route, a wrong method, a path or body
/// that does not parse) and any plain-text error, so that every error body
/// of every API route has one shape. HTML pages (the dashboard's, meant
/// for a browser) are left as they are.
async fn problem_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("application/problem+json") || content_type.starts_with("text/html")
    {
        return response;
    }
    let (parts, body) = response.into_parts();
    // The refusal's own text says what was wrong (at most a short line).
    let text = axum::body::to_bytes(body, 1024)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
    let mut out = problem(status, generic_code(status), &text);
    for name in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(v) = parts.headers.get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    out
}

async fn keys(State(c): State<Arc<Collector>>, Path(region): Path<String>, uri: Uri) -> Response {
    let Some(list) = c.key_list(&region) else {
        return rejection(&c, &Rejection::UnknownRegion(region));
    };
    if let Err(r) = api::strict_params(&uri, &[]) {
        return r;
    }
    match list {
        Some(json) => (
            [(header::CONTENT_TYPE, "application/json")],
            json.to_string(),
        )
            .into_response(),
        None => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "key_list_unavailable",
            "no valid signed key list: the region's signing key has not signed its active keys",
        ),
    }
}

fn result_json(o: &ReportOutcome) -> serde_json::Value {
    match o {
        ReportOutcome::Accepted => json!({"status": "accepted"}),
        ReportOutcome::Duplicate => json!({"status": "duplicate"}),
        ReportOutcome::Queued => json!({"status": "queued"}),
        ReportOutcome::Rejected(r) => json!({"status": "rejected", "code": r.code()}),
    }
}

async fn reports(
    State(c): State<Arc<Collector>>,
    Path(region): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let response = match api::strict_params(&uri, &[]) {
        Ok(_) => upload(&c, &region, &headers, body).await,
        Err(r) => r,
    };
    c.metrics().request(response.status().as_u16());
    response
}

/// The media type of an upload body (docs/api.md); anything else is 415.
pub const REPORT_MEDIA_TYPE: &str = "application/vnd.candor.report";

/// Whether the request's `content-type` is [`REPORT_MEDIA_TYPE`]
/// (parameters after `;` are ignored, case is not significant).
fn is_report_upload(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(REPORT_MEDIA_TYPE))
}

/// The HTTP front of the ingest pipeline: media type, declared size and
/// in-flight budget before the body is read, then the pipeline.
async fn upload(c: &Arc<Collector>, region: &str, headers: &HeaderMap, body: Body) -> Response {
    let ingest = c.ingest();
    if !ingest.serves(region) {
        return rejection(c, &Rejection::UnknownRegion(region.to_owned()));
    }
    if !is_report_upload(headers) {
        return rejection(c, &ingest.refuse(region, Rejection::UnsupportedMediaType));
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    // Refuse before reading the body: the admission (KiB of body) bounds
    // the memory that requests in flight can take.
    let _admission = match ingest.admit(region, declared) {
        Ok(a) => a,
        Err(r) => return rejection(c, &r),
    };
    let limit = ingest.config().max_body_bytes;
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            let refused = ingest.refuse(region, front::body_too_large(ingest.config(), None));
            return rejection(c, &refused);
        }
    };
    let single = !bytes.starts_with(&candor_protocol::batch::BATCH_MAGIC);
    match ingest.process(region, &bytes).await {
        Err(r) => rejection(c, &r),
        Ok(outcomes) => {
            // A single report that was refused is answered as a problem, so
            // a client can act on the status alone.
            if let (true, [ReportOutcome::Rejected(r)]) = (single, outcomes.as_slice()) {
                return rejection(c, r);
            }
            accepted(&outcomes)
        }
    }
}

/// The 202 answer: one result per report, in order.
fn accepted(outcomes: &[ReportOutcome]) -> Response {
    (
        StatusCode::ACCEPTED,
        axum::Json(json!({"results": outcomes.iter().map(result_json).collect::<Vec<_>>()})),
    )
        .into_response()
}

async fn schema(State(c): State<Arc<Collector>>, uri: Uri) -> Response {
    if let Err(r) = api::strict_params(&uri, &[]) {
        return r;
    }
    (
        [(header::CONTENT_TYPE, "application/json")],
        c.schema_json().to_owned(),
    )
        .into_response()
}

async fn privacy(State(c): State<Arc<Collector>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        c.privacy_html().to_owned(),
    )
        .into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: 200 while this process can do its part (for a front,
/// reach the stream; for a worker, pull and commit), otherwise the
/// reason's problem with Retry-After.
async fn readyz(State(c): State<Arc<Collector>>) -> Response {
    match c.ready().await {
        Ok(()) => "ready\n".into_response(),
        Err(r) => rejection(&c, &r),
    }
}

/// `GET /metrics`: exact operational counts (not differentially private),
/// so only for admin tokens of every region; Prometheus sends one with
/// `authorization: { credentials_file: ... }`.
async fn metrics(State(c): State<Arc<Collector>>, headers: HeaderMap) -> Response {
    if let Err(refused) = api::require_operator(&c, &headers).await {
        return refused;
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        c.render_metrics(),
    )
        .into_response()
}

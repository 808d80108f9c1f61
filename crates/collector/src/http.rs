//! HTTP routes (docs/api.md, docs/openapi.json).
//!
//! Handlers read nothing about the client: no address, no user agent, no
//! cookie or other header reaches the code below, except `content-length`
//! (to refuse oversized bodies before reading them).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::error::Limit;
use crate::{Collector, Rejection, ReportOutcome};

/// The routes, as `(method, path)`; the OpenAPI document must list exactly these.
pub const ROUTES: [(&str, &str); 11] = [
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
];

/// The collector's router.
pub fn router(collector: Arc<Collector>) -> Router {
    Router::new()
        .route(ROUTES[0].1, get(keys))
        .route(ROUTES[1].1, post(reports))
        .route(ROUTES[2].1, get(schema))
        .route(ROUTES[3].1, get(privacy))
        .route(ROUTES[4].1, get(healthz))
        .route(ROUTES[5].1, get(readyz))
        .route(ROUTES[6].1, get(metrics))
        .route(ROUTES[7].1, post(crate::api::query))
        .route(ROUTES[8].1, get(crate::api::budget))
        .route(ROUTES[9].1, get(crate::api::audit))
        .route(ROUTES[10].1, get(crate::api::tokens))
        .merge(crate::dashboard::router())
        .with_state(collector)
}

/// A problem+json answer (RFC 9457) with the rejection's stable code.
fn problem(c: &Collector, r: &Rejection) -> Response {
    let status = r.status();
    let body = json!({
        "type": format!("urn:candor:problem:{}", r.code()),
        "title": r.to_string(),
        "status": status.as_u16(),
        "code": r.code(),
    });
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response();
    if r.is_transient() {
        let secs = c.config.ingest.retry_after_seconds.to_string();
        if let Ok(v) = HeaderValue::from_str(&secs) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    response
}

async fn keys(State(c): State<Arc<Collector>>, Path(region): Path<String>) -> Response {
    let Some(state) = c.regions.get(&region) else {
        return problem(&c, &Rejection::UnknownRegion(region));
    };
    let keys = state.keys.read().unwrap_or_else(|p| p.into_inner()).clone();
    let configs: Vec<serde_json::Value> = keys
        .active
        .iter()
        .filter_map(|k| serde_json::from_str(&k.to_json()).ok())
        .collect();
    axum::Json(configs).into_response()
}

fn result_json(o: &ReportOutcome) -> serde_json::Value {
    match o {
        ReportOutcome::Accepted => json!({"status": "accepted"}),
        ReportOutcome::Duplicate => json!({"status": "duplicate"}),
        ReportOutcome::Rejected(r) => json!({"status": "rejected", "code": r.code()}),
    }
}

async fn reports(
    State(c): State<Arc<Collector>>,
    Path(region): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let response = upload(&c, &region, &headers, body).await;
    c.metrics.request(response.status().as_u16());
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

async fn upload(c: &Arc<Collector>, region: &str, headers: &HeaderMap, body: Body) -> Response {
    if !c.regions.contains_key(region) {
        return problem(c, &Rejection::UnknownRegion(region.to_owned()));
    }
    if !is_report_upload(headers) {
        c.metrics
            .report(region, "rejected", "unsupported_media_type", 1);
        return problem(c, &Rejection::UnsupportedMediaType);
    }
    let limit = c.config.ingest.max_body_bytes;
    let body_limit = |size| {
        Rejection::TooLarge(Limit {
            what: "request body",
            size,
            max: limit,
            unit: "bytes",
        })
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        c.metrics.report(region, "rejected", "too_large", 1);
        return problem(c, &body_limit(declared));
    }
    // Refuse before reading the body: the permits (KiB of body) bound the
    // memory that requests in flight can take.
    let Ok(_permit) = c
        .permits
        .try_acquire_many(c.config.ingest.body_kib(declared))
    else {
        c.metrics.report(region, "rejected", "overloaded", 1);
        return problem(c, &Rejection::Overloaded);
    };
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            c.metrics.report(region, "rejected", "too_large", 1);
            return problem(c, &body_limit(None));
        }
    };
    let single = !bytes.starts_with(&candor_protocol::batch::BATCH_MAGIC);
    match c.ingest(region, &bytes).await {
        Err(r) => {
            c.metrics.report(region, "rejected", r.code(), 1);
            problem(c, &r)
        }
        Ok(outcomes) => {
            // A single report that was refused is answered as a problem, so
            // a client can act on the status alone.
            if let (true, [ReportOutcome::Rejected(r)]) = (single, outcomes.as_slice()) {
                return problem(c, r);
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

async fn schema(State(c): State<Arc<Collector>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        c.schema_json.clone(),
    )
        .into_response()
}

async fn privacy(State(c): State<Arc<Collector>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        c.privacy_html.clone(),
    )
        .into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(c): State<Arc<Collector>>) -> Response {
    if c.shutting_down.load(std::sync::atomic::Ordering::Relaxed) {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response()
    } else {
        "ready\n".into_response()
    }
}

async fn metrics(State(c): State<Arc<Collector>>) -> Response {
    let writers: Vec<(String, &crate::writer::Writer)> = c
        .regions
        .values()
        .map(|r| (r.id.clone(), &r.writer))
        .collect();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        c.metrics.render(&writers),
    )
        .into_response()
}

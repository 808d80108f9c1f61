//! The analyst API: `POST /v1/query`, the budget, the audit log and the
//! token list, behind bearer tokens (docs/api.md).
//!
//! Besides `content-length`, these handlers read exactly two headers:
//! `authorization` (the bearer token, hashed at once and never logged) and
//! `accept` (JSON or CSV).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query as UrlQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use candor_store::{BudgetFilter, audit};
use serde_json::json;

use crate::Collector;
use crate::access::{AuthError, Role};
use crate::release::{self, Answer, QueryError, Scope};

/// A problem+json answer with a stable code.
pub(crate) fn problem(status: StatusCode, code: &str, title: &str) -> Response {
    let body = json!({
        "type": format!("urn:candor:problem:{code}"),
        "title": title,
        "status": status.as_u16(),
        "code": code,
    });
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// The bearer token of a request, if it has one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Authenticates on a blocking thread (the token database is SQLite).
async fn authenticate(c: &Arc<Collector>, headers: &HeaderMap) -> Result<(Scope, Role), Response> {
    let Some(token) = bearer(headers).map(str::to_owned) else {
        return Err(problem(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "an Authorization: Bearer token is required",
        ));
    };
    let c = c.clone();
    let result = tokio::task::spawn_blocking(move || c.authenticate(&token))
        .await
        .unwrap_or(Err(AuthError::Unavailable));
    result.map_err(|e| match e {
        AuthError::Unavailable => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the token database is unavailable",
        ),
        AuthError::Missing | AuthError::Invalid => problem(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the token is unknown or revoked",
        ),
    })
}

/// Lets only an admin token whose scope covers every region through: the
/// operational views (`/metrics`) hold exact counts of every region, which
/// are not differentially private and are not for analysts.
pub(crate) async fn require_operator(
    c: &Arc<Collector>,
    headers: &HeaderMap,
) -> Result<(), Response> {
    let (scope, role) = authenticate(c, headers).await?;
    if role == Role::Admin && c.region_ids().all(|r| scope.allows_region(r)) {
        Ok(())
    } else {
        Err(problem(
            StatusCode::FORBIDDEN,
            "forbidden",
            "exact operational counts are for admin tokens of every region",
        ))
    }
}

fn query_error(e: &QueryError) -> Response {
    let status = match e {
        QueryError::Invalid {
            code: "unknown_region",
            ..
        } => StatusCode::NOT_FOUND,
        QueryError::Invalid { .. } => StatusCode::BAD_REQUEST,
        QueryError::Forbidden(_) => StatusCode::FORBIDDEN,
        QueryError::BudgetExhausted { .. } | QueryError::DayNotClosed { .. } => {
            StatusCode::CONFLICT
        }
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    problem(status, e.code(), &e.to_string())
}

/// The query parameters of a request, checked strictly: only the names in
/// `allowed`, each at most once, none empty. Callers run this after
/// authentication, so an unauthenticated client learns nothing about the
/// parameters a route takes.
// The error is the handler's final answer, returned once per request.
#[allow(clippy::result_large_err)]
pub(crate) fn strict_params(
    uri: &Uri,
    allowed: &[&str],
) -> Result<BTreeMap<String, String>, Response> {
    let invalid = |title: String| problem(StatusCode::BAD_REQUEST, "invalid_parameter", &title);
    let pairs = match UrlQuery::<Vec<(String, String)>>::try_from_uri(uri) {
        Ok(UrlQuery(pairs)) => pairs,
        Err(_) => return Err(invalid("the query string is not form-encoded".into())),
    };
    let mut params = BTreeMap::new();
    for (name, value) in pairs {
        if !allowed.contains(&name.as_str()) {
            return Err(invalid(if allowed.is_empty() {
                format!("this route takes no query parameters (got {name:?})")
            } else {
                format!(
                    "unknown query parameter {name:?} (allowed: {})",
                    allowed.join(", ")
                )
            }));
        }
        if value.is_empty() {
            return Err(invalid(format!("query parameter {name:?} is empty")));
        }
        if params.insert(name.clone(), value).is_some() {
            return Err(invalid(format!("query parameter {name:?} is given twice")));
        }
    }
    Ok(params)
}

/// Whether the answer is CSV: `?format=csv|json` when given (anything else
/// is refused), else the `Accept` header.
// The error is the handler's final answer, returned once per request.
#[allow(clippy::result_large_err)]
fn wants_csv(uri: &Uri, headers: &HeaderMap) -> Result<bool, Response> {
    let params = strict_params(uri, &["format"])?;
    match params
        .get("format")
        .map(|f| f.to_ascii_lowercase())
        .as_deref()
    {
        Some("csv") => Ok(true),
        Some("json") => Ok(false),
        Some(other) => Err(problem(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            &format!("format must be csv or json, not {other:?}"),
        )),
        None => Ok(headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/csv"))),
    }
}

/// `POST /v1/query`.
pub(crate) async fn query(
    State(c): State<Arc<Collector>>,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (scope, _) = match authenticate(&c, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let csv = match wants_csv(&uri, &headers) {
        Ok(csv) => csv,
        Err(r) => return r,
    };
    let q: release::Query = match serde_json::from_slice(&body) {
        Ok(q) => q,
        Err(e) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                &format!("the query is not valid JSON of the documented shape: {e}"),
            );
        }
    };
    let worker = c.clone();
    let answer = tokio::task::spawn_blocking(move || worker.query(&scope, &q)).await;
    match answer {
        Ok(Ok(answer)) => {
            c.metrics
                .query(if answer.cached { "cached" } else { "released" });
            if csv {
                (
                    [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
                    answer_csv(&answer),
                )
                    .into_response()
            } else {
                axum::Json(answer).into_response()
            }
        }
        Ok(Err(e)) => {
            c.metrics.query(e.code());
            query_error(&e)
        }
        Err(_) => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the query failed",
        ),
    }
}

/// An answer as CSV: one line per released group, the grouped dimensions
/// as columns.
pub fn answer_csv(a: &Answer) -> String {
    let dims: Vec<&String> = a
        .query
        .group_by
        .iter()
        .filter(|g| *g != release::DAY)
        .collect();
    let by_day = a.query.group_by.iter().any(|g| g == release::DAY);
    let mut out = String::new();
    let mut header: Vec<&str> = Vec::new();
    if by_day {
        header.push("day");
    }
    header.extend(dims.iter().map(|d| d.as_str()));
    header.extend([
        "cell",
        "bucket",
        "value",
        "ci95_low",
        "ci95_high",
        "share",
        "k",
        "epsilon",
        "mechanism",
    ]);
    out.push_str(&header.join(","));
    out.push('\n');
    for g in &a.groups {
        let mut row: Vec<String> = Vec::new();
        if by_day {
            row.push(g.day.clone().unwrap_or_default());
        }
        for d in &dims {
            row.push(csv_field(g.dimensions.get(*d).map_or("", String::as_str)));
        }
        row.push(csv_field(g.cell.as_deref().unwrap_or("")));
        row.push(csv_field(g.bucket.as_deref().unwrap_or("")));
        row.push(number(g.value));
        row.push(number(g.ci95[0]));
        row.push(number(g.ci95[1]));
        row.push(g.share.map(|s| format!("{s:.4}")).unwrap_or_default());
        row.push(g.k.to_string());
        row.push(g.epsilon.to_string());
        row.push(g.mechanism.clone());
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

/// A released value as text: integers (noisy counts) without a fraction,
/// estimates with two decimals. Used by the CSV answer and `candor query`.
pub fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// The outcome of reading a region's control store on a blocking thread, or
/// the problem to answer: 404 for a region not served, 503 otherwise.
// The error is the handler's final answer, returned once per request.
#[allow(clippy::result_large_err)]
fn region_read<T>(
    read: Result<Option<Result<T, candor_store::StoreError>>, tokio::task::JoinError>,
    region: &str,
    what: &str,
) -> Result<T, Response> {
    match read {
        Ok(Some(Ok(value))) => Ok(value),
        Ok(None) => Err(problem(
            StatusCode::NOT_FOUND,
            "unknown_region",
            &format!("this collector does not serve region {region:?}"),
        )),
        _ => Err(problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            &format!("the {what} could not be read"),
        )),
    }
}

/// A region's audit log as JSON (the API's and `candor audit show
/// --json`'s shape): entries, the recorded head, and whether the chain
/// verifies.
pub fn audit_log_json(
    region: &str,
    entries: &[candor_store::AuditEntry],
    head: Option<candor_store::Head>,
) -> serde_json::Value {
    let verified = audit::verify(entries, head, None);
    json!({
        "region": region,
        "head": head.map(|h| audit::format_head(&h)),
        "verified": verified.is_ok(),
        "break": verified.err().map(|b| json!({"seq": b.seq, "reason": b.reason})),
        "entries": entries.iter().map(|e| json!({
            "seq": e.seq,
            "at": e.record.at,
            "actor": e.record.actor,
            "action": e.record.action,
            "detail": serde_json::from_str::<serde_json::Value>(&e.record.detail)
                .unwrap_or_else(|_| json!(e.record.detail)),
            "hash": audit::to_hex(&e.hash),
        })).collect::<Vec<_>>(),
    })
}

/// Tokens as JSON (the API's and `candor token list --json`'s shape):
/// names, roles, scopes and times, never a hash.
pub fn tokens_json(tokens: &[candor_store::tokens::TokenRecord]) -> serde_json::Value {
    json!({
        "tokens": tokens.iter().map(|t| json!({
            "name": t.name,
            "role": t.role,
            "regions": t.regions,
            "purposes": t.purposes,
            "created_at": t.created_at,
            "revoked_at": t.revoked_at,
        })).collect::<Vec<_>>(),
    })
}

/// `GET /v1/regions/{region}/budget`: ε spent per purpose, metric and day,
/// for the purposes in the token's scope.
pub(crate) async fn budget(
    State(c): State<Arc<Collector>>,
    Path(region): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let (scope, _) = match authenticate(&c, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(r) = strict_params(&uri, &[]) {
        return r;
    }
    if !scope.allows_region(&region) {
        return problem(
            StatusCode::FORBIDDEN,
            "forbidden",
            &format!("this token does not cover region {region:?}"),
        );
    }
    let worker = c.clone();
    let r = region.clone();
    let read = tokio::task::spawn_blocking(move || {
        worker.with_control_store(&r, |s| s.budget(&BudgetFilter::default()))
    })
    .await;
    let entries = match region_read(read, &region, "budget") {
        Ok(entries) => entries,
        Err(r) => return r,
    };
    // The tightest caps over the schemas that declare the region.
    let cap = |f: fn(&candor_schema::Region) -> f64| {
        c.registry()
            .all()
            .filter_map(|s| s.region(&region))
            .map(f)
            .fold(f64::INFINITY, f64::min)
    };
    let limit = cap(|r| r.epsilon_per_metric_day);
    let purpose_limit = cap(|r| r.epsilon_per_purpose_day);
    let delta_limit = cap(|r| r.delta_per_purpose_day);
    let mut per_purpose: std::collections::BTreeMap<(&str, i32), (u64, u64)> =
        std::collections::BTreeMap::new();
    for e in entries.iter().filter(|e| scope.allows_purpose(&e.purpose)) {
        let t = per_purpose.entry((e.purpose.as_str(), e.day)).or_default();
        t.0 += e.micros;
        t.1 += e.femtos;
    }
    let rows: Vec<serde_json::Value> = entries
        .iter()
        .filter(|e| scope.allows_purpose(&e.purpose))
        .map(|e| {
            let spent = candor_privacy::budget::micros_to_epsilon(e.micros);
            let (purpose_micros, _) = per_purpose[&(e.purpose.as_str(), e.day)];
            let purpose_left =
                purpose_limit - candor_privacy::budget::micros_to_epsilon(purpose_micros);
            json!({
                "purpose": e.purpose,
                "metric": e.metric,
                "day": release::format_day(e.day),
                "spent": spent,
                "delta_spent": candor_privacy::budget::femtos_to_delta(e.femtos),
                "remaining": (limit - spent).min(purpose_left).max(0.0),
            })
        })
        .collect();
    let purposes: Vec<serde_json::Value> = per_purpose
        .iter()
        .map(|((purpose, day), (micros, femtos))| {
            json!({
                "purpose": purpose,
                "day": release::format_day(*day),
                "spent": candor_privacy::budget::micros_to_epsilon(*micros),
                "delta_spent": candor_privacy::budget::femtos_to_delta(*femtos),
            })
        })
        .collect();
    axum::Json(json!({
        "region": region,
        "epsilon_per_metric_day": limit,
        "epsilon_per_purpose_day": purpose_limit,
        "delta_per_purpose_day": delta_limit,
        "entries": rows,
        "purposes": purposes,
    }))
    .into_response()
}

/// `GET /v1/regions/{region}/audit` (admin): the log and whether its
/// chain verifies.
pub(crate) async fn audit(
    State(c): State<Arc<Collector>>,
    Path(region): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let (scope, role) = match authenticate(&c, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(r) = strict_params(&uri, &[]) {
        return r;
    }
    if role != Role::Admin || !scope.allows_region(&region) {
        return problem(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the audit log is for admin tokens of the region",
        );
    }
    let worker = c.clone();
    let r = region.clone();
    let read =
        tokio::task::spawn_blocking(move || worker.with_control_store(&r, |s| s.audit_log())).await;
    match region_read(read, &region, "audit log") {
        Ok((entries, head)) => axum::Json(audit_log_json(&region, &entries, head)).into_response(),
        Err(r) => r,
    }
}

/// `GET /v1/tokens` (admin): names, roles and scopes; never a hash.
pub(crate) async fn tokens(
    State(c): State<Arc<Collector>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    match authenticate(&c, &headers).await {
        Ok((_, Role::Admin)) => {}
        Ok(_) => {
            return problem(
                StatusCode::FORBIDDEN,
                "forbidden",
                "the token list is for admin tokens",
            );
        }
        Err(r) => return r,
    }
    if let Err(r) = strict_params(&uri, &[]) {
        return r;
    }
    let config = c.config.clone();
    let list = tokio::task::spawn_blocking(move || crate::access::list_tokens(&config)).await;
    match list {
        Ok(Ok(tokens)) => axum::Json(tokens_json(&tokens)).into_response(),
        _ => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the token list could not be read",
        ),
    }
}

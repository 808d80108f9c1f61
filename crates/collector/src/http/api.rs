//! The analyst API: `POST /v1/query`, the budget, the audit log and the
//! token list, behind bearer tokens (docs/api.md).
//!
//! Besides `content-length`, these handlers read exactly two headers:
//! `authorization` (the bearer token, hashed at once and never logged) and
//! `accept` (JSON or CSV).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query as UrlQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use candor_api::{answer_csv, audit_log_json, tokens_json};
use serde_json::json;

use super::problem;
use crate::Collector;
use crate::access::AuthError;
use crate::analyst::{BudgetView, Principal, ViewError};
use crate::release::{self, QueryError};

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
async fn authenticate(c: &Arc<Collector>, headers: &HeaderMap) -> Result<Principal, Response> {
    let Some(token) = bearer(headers).map(str::to_owned) else {
        return Err(problem(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "an Authorization: Bearer token is required",
        ));
    };
    let c = c.clone();
    let result = tokio::task::spawn_blocking(move || c.analyst().authenticate(&token))
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

/// Authenticates a request to a route without query parameters: the
/// parameters are checked only once the caller is known.
async fn authenticate_plain(
    c: &Arc<Collector>,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<Principal, Response> {
    let who = authenticate(c, headers).await?;
    strict_params(uri, &[])?;
    Ok(who)
}

/// Lets only an admin token whose scope covers every region through: the
/// operational views (`/metrics`) hold exact counts of every region, which
/// are not differentially private and are not for analysts.
pub(crate) async fn require_operator(
    c: &Arc<Collector>,
    headers: &HeaderMap,
) -> Result<(), Response> {
    let who = authenticate(c, headers).await?;
    // A front's read side serves no region: the collector's own regions
    // decide (the same set as the read side's in the other roles).
    if c.analyst().is_operator(&who) && c.region_ids().all(|r| who.scope.allows_region(r)) {
        Ok(())
    } else {
        Err(problem(
            StatusCode::FORBIDDEN,
            "forbidden",
            "exact operational counts are for admin tokens of every region",
        ))
    }
}

/// A view's refusal as HTTP.
fn view_error(e: &ViewError) -> Response {
    let (status, code) = match e {
        ViewError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
        ViewError::UnknownRegion(_) => (StatusCode::NOT_FOUND, "unknown_region"),
        ViewError::NoSigningKey(_) => (StatusCode::SERVICE_UNAVAILABLE, "no_signing_key"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
    };
    problem(status, code, &e.to_string())
}

/// The status of a query's refusal (the dashboard answers with the same).
pub(crate) fn query_status(e: &QueryError) -> StatusCode {
    match e {
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
    }
}

fn query_error(e: &QueryError) -> Response {
    problem(query_status(e), e.code(), &e.to_string())
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
    let who = match authenticate(&c, &headers).await {
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
    let answer = tokio::task::spawn_blocking(move || worker.analyst().query_as(&who, &q)).await;
    match answer {
        Ok(Ok(answer)) => {
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
        Ok(Err(e)) => query_error(&e),
        Err(_) => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the query failed",
        ),
    }
}

/// Runs a view of the analyst service on a blocking thread (it reads the
/// store) and renders it, or its refusal.
async fn view<T: Send + 'static>(
    c: &Arc<Collector>,
    read: impl FnOnce(&crate::analyst::Analyst) -> Result<T, ViewError> + Send + 'static,
    render: impl FnOnce(T) -> serde_json::Value,
) -> Response {
    let worker = c.clone();
    match tokio::task::spawn_blocking(move || read(worker.analyst())).await {
        Ok(Ok(v)) => axum::Json(render(v)).into_response(),
        Ok(Err(e)) => view_error(&e),
        Err(_) => view_error(&ViewError::Unavailable("view")),
    }
}

/// A region's budget as JSON (`GET /v1/regions/{region}/budget`).
pub fn budget_json(view: &BudgetView) -> serde_json::Value {
    json!({
        "region": view.region,
        "epsilon_per_metric_day": view.epsilon_per_metric_day,
        "epsilon_per_purpose_day": view.epsilon_per_purpose_day,
        "delta_per_purpose_day": view.delta_per_purpose_day,
        "entries": view.entries.iter().map(|e| json!({
            "purpose": e.purpose,
            "metric": e.metric,
            "day": release::format_day(e.day),
            "spent": e.spent,
            "delta_spent": e.delta_spent,
            "remaining": e.remaining,
        })).collect::<Vec<_>>(),
        "purposes": view.purposes.iter().map(|p| json!({
            "purpose": p.purpose,
            "day": release::format_day(p.day),
            "spent": p.spent,
            "delta_spent": p.delta_spent,
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
    let who = match authenticate_plain(&c, &headers, &uri).await {
        Ok(who) => who,
        Err(r) => return r,
    };
    view(
        &c,
        move |a| a.budget(&who.scope, &region),
        |v| budget_json(&v),
    )
    .await
}

/// `GET /v1/regions/{region}/audit` (admin, auditor): the log and whether
/// its chain verifies.
pub(crate) async fn audit(
    State(c): State<Arc<Collector>>,
    Path(region): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let who = match authenticate_plain(&c, &headers, &uri).await {
        Ok(who) => who,
        Err(r) => return r,
    };
    view(
        &c,
        move |a| a.audit(&who, &region),
        |v| audit_log_json(&v.region, &v.entries, v.head, &v.verified),
    )
    .await
}

/// `GET /v1/regions/{region}/audit/head`, without authentication: the
/// audit chain's head signed with the region signing key (docs/api.md,
/// "Signed audit head").
pub(crate) async fn audit_head(
    State(c): State<Arc<Collector>>,
    Path(region): Path<String>,
    uri: Uri,
) -> Response {
    if let Err(r) = strict_params(&uri, &[]) {
        return r;
    }
    let worker = c.clone();
    match tokio::task::spawn_blocking(move || worker.analyst().signed_head(&region)).await {
        Ok(Ok(head)) => {
            ([(header::CONTENT_TYPE, "application/json")], head.to_json()).into_response()
        }
        Ok(Err(e)) => view_error(&e),
        Err(_) => view_error(&ViewError::Unavailable("audit head")),
    }
}

/// `GET /v1/tokens` (admin): names, roles and scopes; never a hash.
pub(crate) async fn tokens(
    State(c): State<Arc<Collector>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let who = match authenticate(&c, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if who.role != crate::access::Role::Admin {
        return view_error(&ViewError::Forbidden(
            "the token list is for admin tokens".into(),
        ));
    }
    if let Err(r) = strict_params(&uri, &[]) {
        return r;
    }
    view(&c, move |a| a.tokens(&who), |t| tokens_json(&t)).await
}

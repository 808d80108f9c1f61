//! The dashboard: server-rendered pages for analysts and auditors.
//!
//! Plain HTML forms and inline SVG: it works without JavaScript and loads
//! nothing from anywhere else. Every number comes from the release engine
//! (the metric explorer runs [`crate::release::release`], so its numbers
//! are the query API's, cached and budgeted alike) or from counters that
//! hold no user data (reports accepted per day, rejections by code).
//!
//! Sign-in takes a token (the same bearer tokens as the API) and keeps it
//! in an `HttpOnly`, `SameSite=Strict` cookie (also `Secure` with
//! `[dashboard] secure_cookies`, for deployments behind TLS). Forms carry a CSRF token:
//! on the sign-in form a random value also set as a cookie (double submit);
//! after sign-in, `SHA-256("candor csrf v1" ‖ token)`, which only a page
//! served to the holder of the cookie can know. Every page is sent with a
//! strict Content-Security-Policy (`default-src 'none'`, styles only from
//! this server, no scripts), `X-Frame-Options: DENY`, `nosniff`,
//! `Referrer-Policy: no-referrer` and `Cache-Control: no-store`.
//!
//! Handlers read the `cookie` header (the session) and form bodies; nothing
//! of either is logged.

mod html;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Query as UrlQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use candor_schema::{Metric, Release};
use candor_store::{BudgetFilter, audit};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::Collector;
use crate::access::{AuthError, Role};
use crate::release::{self, Answer, Query, QueryError, Scope};
use html::{esc, fmt_num, page, table, td, td_num};

/// The dashboard's pages, as `(method, path)`.
pub const DASHBOARD_ROUTES: [(&str, &str); 10] = [
    ("get", "/dashboard"),
    ("get", "/dashboard/login"),
    ("post", "/dashboard/login"),
    ("post", "/dashboard/logout"),
    ("get", "/dashboard/explore"),
    ("post", "/dashboard/explore"),
    ("get", "/dashboard/budget"),
    ("get", "/dashboard/audit"),
    ("get", "/dashboard/keys"),
    ("get", "/dashboard/style.css"),
];

const SESSION_COOKIE: &str = "candor_session";
const CSRF_COOKIE: &str = "candor_csrf";
/// A session lasts 8 hours in the browser.
const SESSION_SECONDS: u32 = 8 * 3600;

/// The dashboard's router, with the security headers on every answer.
pub(crate) fn router() -> Router<Arc<Collector>> {
    Router::new()
        .route("/dashboard", get(overview))
        .route("/dashboard/login", get(login_form).post(login))
        .route("/dashboard/logout", axum::routing::post(logout))
        .route("/dashboard/explore", get(explore_form).post(explore))
        .route("/dashboard/budget", get(budget))
        .route("/dashboard/audit", get(audit_page))
        .route("/dashboard/keys", get(keys))
        .route("/dashboard/style.css", get(style))
        .layer(axum::middleware::map_response(security_headers))
}

async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// A cookie's value from the request.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The form token of a signed-in session.
fn csrf_for(token: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"candor csrf v1\0");
    h.update(token.as_bytes());
    hex::encode(h.finalize())
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The signed-in user.
struct Session {
    scope: Scope,
    role: Role,
    csrf: String,
}

impl Session {
    fn user(&self) -> Option<(&str, &str)> {
        Some((&self.scope.name, &self.csrf))
    }
}

/// The session of a request, or the answer to send instead (a redirect to
/// the sign-in page).
async fn session(c: &Arc<Collector>, headers: &HeaderMap) -> Result<Session, Response> {
    let to_login = || Redirect::to("/dashboard/login").into_response();
    let Some(token) = cookie(headers, SESSION_COOKIE).map(str::to_owned) else {
        return Err(to_login());
    };
    let worker = c.clone();
    let t = token.clone();
    let result = tokio::task::spawn_blocking(move || worker.authenticate(&t))
        .await
        .unwrap_or(Err(AuthError::Unavailable));
    match result {
        Ok((scope, role)) => Ok(Session {
            scope,
            role,
            csrf: csrf_for(&token),
        }),
        Err(AuthError::Unavailable) => Err(html_response(
            StatusCode::SERVICE_UNAVAILABLE,
            page(
                "Unavailable",
                "",
                None,
                "<p class=\"warn\">The token database is unavailable.</p>",
            ),
        )),
        Err(_) => Err(to_login()),
    }
}

fn html_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

fn ok_page(body: String) -> Response {
    html_response(StatusCode::OK, body)
}

async fn style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        html::STYLE,
    )
        .into_response()
}

// ---------------------------------------------------------------------------
// Sign in and out
// ---------------------------------------------------------------------------

fn login_page(c: &Collector, status: StatusCode, message: Option<&str>) -> Response {
    let mut nonce = [0u8; 16];
    if getrandom::fill(&mut nonce).is_err() {
        return html_response(
            StatusCode::SERVICE_UNAVAILABLE,
            page("Sign in", "", None, "<p class=\"warn\">No randomness.</p>"),
        );
    }
    let csrf = hex::encode(nonce);
    let warning = message
        .map(|m| format!("<p class=\"warn\" id=\"login-error\">{}</p>", esc(m)))
        .unwrap_or_default();
    let body = format!(
        "<div class=\"login\">{warning}<p>Sign in with an analyst or admin token \
         (<code>candor token create</code>). It is kept in a cookie only this site can read, \
         for {} hours.</p>\
         <form method=\"post\" action=\"/dashboard/login\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label for=\"token\">Token</label>\
         <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\" required>\
         <button type=\"submit\" id=\"sign-in\">Sign in</button></form>\
         <p><a href=\"/privacy\">What this service collects</a> (public)</p></div>",
        SESSION_SECONDS / 3600
    );
    let mut response = html_response(status, page("Sign in", "", None, &body));
    let set = format!(
        "{CSRF_COOKIE}={csrf}; Path=/dashboard; HttpOnly; SameSite=Strict{}",
        secure(c)
    );
    if let Ok(v) = HeaderValue::from_str(&set) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

async fn login_form(State(c): State<Arc<Collector>>) -> Response {
    login_page(&c, StatusCode::OK, None)
}

/// `; Secure` when the configuration asks for it.
fn secure(c: &Collector) -> &'static str {
    if c.config.dashboard.secure_cookies {
        "; Secure"
    } else {
        ""
    }
}

#[derive(serde::Deserialize)]
struct LoginForm {
    token: String,
    csrf: String,
}

async fn login(
    State(c): State<Arc<Collector>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let expected = cookie(&headers, CSRF_COOKIE).unwrap_or("");
    if expected.is_empty() || !same(expected, &form.csrf) {
        return login_page(
            &c,
            StatusCode::FORBIDDEN,
            Some("The form expired; please sign in again."),
        );
    }
    let worker = c.clone();
    let token = form.token.trim().to_owned();
    let t = token.clone();
    let result = tokio::task::spawn_blocking(move || worker.authenticate(&t))
        .await
        .unwrap_or(Err(AuthError::Unavailable));
    if result.is_err() {
        return login_page(
            &c,
            StatusCode::UNAUTHORIZED,
            Some("That token is unknown or revoked."),
        );
    }
    let mut response = Redirect::to("/dashboard").into_response();
    let cookies = [
        format!(
            "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECONDS}{}",
            secure(&c)
        ),
        format!(
            "{CSRF_COOKIE}=; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=0{}",
            secure(&c)
        ),
    ];
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

#[derive(serde::Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(c): State<Arc<Collector>>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let s = match session(&c, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !same(&s.csrf, &form.csrf) {
        return html_response(
            StatusCode::FORBIDDEN,
            page(
                "Forbidden",
                "",
                s.user(),
                "<p class=\"warn\">The form token does not match.</p>",
            ),
        );
    }
    let mut response = Redirect::to("/dashboard/login").into_response();
    let clear = format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        secure(&c)
    );
    if let Ok(v) = HeaderValue::from_str(&clear) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

// ---------------------------------------------------------------------------
// Overview
// ---------------------------------------------------------------------------

/// A signed-in page whose body is built on a blocking thread (it reads
/// SQLite) from the collector and the user's scope.
async fn blocking_page(
    c: Arc<Collector>,
    headers: &HeaderMap,
    (title, path): (&str, &str),
    body: impl FnOnce(&Collector, &Scope, Role) -> String + Send + 'static,
) -> Response {
    let s = match session(&c, headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (scope, role) = (s.scope.clone(), s.role);
    let body = tokio::task::spawn_blocking(move || body(&c, &scope, role))
        .await
        .unwrap_or_else(|_| format!("<p class=\"warn\">The {title} page failed.</p>"));
    ok_page(page(title, path, s.user(), &body))
}

async fn overview(State(c): State<Arc<Collector>>, headers: HeaderMap) -> Response {
    blocking_page(c, &headers, ("Overview", "/dashboard"), overview_body).await
}

fn overview_body(c: &Collector, scope: &Scope, role: Role) -> String {
    let (window, _) = c.window();
    let today = window.today;
    let first = today - 29;
    let days: Vec<i32> = (first..=today).collect();
    let labels: Vec<String> = days
        .iter()
        .map(|d| release::format_day(*d)[5..].to_owned())
        .collect();
    let mut out = String::from(
        "<p class=\"note\">Reports arrive sealed to each region's key, are opened, checked against the \
         data dictionary and added to aggregates at once; no report is stored. Statistics are released \
         only for closed days (no report for them can still arrive), through the metric explorer, with \
         differential privacy.</p>",
    );
    let mut closed: Vec<Vec<String>> = Vec::new();
    for region in c.region_ids().filter(|r| scope.allows_region(r)) {
        for schema in c.registry().all() {
            if let Some(reg) = schema.region(region) {
                closed.push(vec![
                    td(region),
                    td(&schema.id),
                    td(&release::format_day(window.last_closed(reg))),
                ]);
            }
        }
    }
    out.push_str("<h2>Days open for release</h2>");
    out.push_str(&table(
        "closed-days",
        &["region", "schema", "last closed day"],
        &closed,
    ));
    if role != Role::Admin {
        out.push_str(
            "<p class=\"note\" id=\"exact-counts-admin-only\">How many reports each region accepted is an \
             exact operational count, not differentially private, so it is shown to administrators only.</p>",
        );
        return out;
    }
    out.push_str(
        "<p class=\"warn\" id=\"exact-counts\"><b>Exact, not differentially private.</b> The counts below \
         are operational: how many reports each region accepted per purpose and day, and what it refused. \
         They are shown to administrators only and must not be published.</p>",
    );
    for region in c.region_ids().filter(|r| scope.allows_region(r)) {
        let counts = c
            .open_store(region)
            .and_then(Result::ok)
            .and_then(|s| s.report_counts().ok())
            .unwrap_or_default();
        let mut per_purpose: BTreeMap<String, BTreeMap<i32, i64>> = BTreeMap::new();
        let mut total = 0;
        for rc in counts.iter().filter(|rc| scope.allows_purpose(&rc.purpose)) {
            total += rc.reports;
            *per_purpose
                .entry(rc.purpose.clone())
                .or_default()
                .entry(rc.day)
                .or_default() += rc.reports;
        }
        let _ = write!(
            out,
            "<h2>Region {}</h2><div class=\"cards\"><div class=\"card\"><div class=\"big\" id=\"reports-{}\">{}</div>\
             <div class=\"small\">reports accepted (exact; purposes in your scope)</div></div>",
            esc(region),
            esc(region),
            fmt_num(total as f64)
        );
        for (purpose, by_day) in &per_purpose {
            let _ = write!(
                out,
                "<div class=\"card\"><div class=\"big\">{}</div><div class=\"small\">{}</div></div>",
                fmt_num(by_day.values().sum::<i64>() as f64),
                esc(purpose)
            );
        }
        out.push_str("</div>");
        let series: Vec<html::Series> = per_purpose
            .iter()
            .map(|(purpose, by_day)| html::Series {
                label: purpose.clone(),
                // Counts, not releases: a day without reports is a zero.
                points: days
                    .iter()
                    .map(|d| {
                        let n = by_day.get(d).copied().unwrap_or(0) as f64;
                        Some((n, n, n))
                    })
                    .collect(),
            })
            .collect();
        if !series.is_empty() {
            out.push_str(&html::line_chart(
                &format!("Reports per day in {region} (exact, not differentially private)"),
                &labels,
                &series,
            ));
        }
    }
    let mut rejected: BTreeMap<(String, &str), u64> = BTreeMap::new();
    for (region, outcome, code, n) in c.metrics.report_totals() {
        if outcome == "rejected" && scope.allows_region(&region) {
            *rejected.entry((region, code)).or_default() += n;
        }
    }
    out.push_str("<h2>Refused since the collector started (exact)</h2>");
    let rows: Vec<Vec<String>> = rejected
        .iter()
        .map(|((region, code), n)| vec![td(region), td(code), td_num(&fmt_num(*n as f64))])
        .collect();
    out.push_str(&table(
        "rejections",
        &["region", "code (docs/api.md)", "reports"],
        &rows,
    ));
    out
}

// ---------------------------------------------------------------------------
// Metric explorer
// ---------------------------------------------------------------------------

/// The metrics a scope may query, with their schema's regions.
fn metrics_in_scope<'a>(c: &'a Collector, scope: &Scope) -> Vec<&'a Metric> {
    let mut out: Vec<&Metric> = c
        .registry()
        .all()
        .flat_map(|s| s.metrics.values())
        .filter(|m| scope.allows_purpose(&m.purpose))
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// The explorer's form fields, parsed from pairs (checkboxes repeat `group`).
fn query_from_pairs(c: &Collector, scope: &Scope, pairs: &[(String, String)]) -> Query {
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let metric = get("metric")
        .or_else(|| metrics_in_scope(c, scope).first().map(|m| m.id.clone()))
        .unwrap_or_default();
    let region = get("region")
        .or_else(|| {
            c.region_ids()
                .find(|r| scope.allows_region(r))
                .map(str::to_owned)
        })
        .unwrap_or_default();
    let group_by: Vec<String> = pairs
        .iter()
        .filter(|(n, _)| n == "group")
        .map(|(_, v)| v.clone())
        .collect();
    // Blank means the metric's own ε; anything unreadable becomes NaN, which
    // the release engine refuses (invalid_epsilon) instead of silently
    // spending the default.
    let epsilon = get("epsilon")
        .map(|e| e.trim().to_owned())
        .filter(|e| !e.is_empty())
        .map(|e| e.parse::<f64>().unwrap_or(f64::NAN));
    // The default range is the last two weeks that are closed (released).
    let last = c.last_closed_day(&region);
    Query {
        region,
        metric,
        schema: None,
        from: get("from").unwrap_or_else(|| release::format_day(last - 13)),
        to: get("to").unwrap_or_else(|| release::format_day(last)),
        group_by: if pairs.is_empty() {
            vec![release::DAY.into()]
        } else {
            group_by
        },
        filters: BTreeMap::new(),
        cells: vec![],
        epsilon,
    }
}

fn explore_form_html(c: &Collector, s: &Session, q: &Query) -> String {
    let metrics = metrics_in_scope(c, &s.scope);
    let mut out = String::from(
        "<p class=\"note\">Each new question spends privacy budget (ε) on every day it covers; asking the \
         same question again shows the saved answer and spends nothing. A group is shown when its \
         device count plus noise reaches the region's k; only days whose reports can no longer \
         arrive are released.</p>\
         <form class=\"query\" method=\"post\" action=\"/dashboard/explore\" id=\"explore-form\">",
    );
    let _ = write!(
        out,
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(&s.csrf)
    );
    out.push_str("<label>Metric<select name=\"metric\" id=\"metric\">");
    for m in &metrics {
        let sel = if m.id == q.metric { " selected" } else { "" };
        let _ = write!(
            out,
            "<option value=\"{0}\"{sel}>{0} ({1}, {2})</option>",
            esc(&m.id),
            esc(m.type_name()),
            esc(&m.purpose)
        );
    }
    out.push_str("</select></label><label>Region<select name=\"region\" id=\"region\">");
    for r in c.region_ids().filter(|r| s.scope.allows_region(r)) {
        let sel = if r == q.region { " selected" } else { "" };
        let _ = write!(out, "<option value=\"{0}\"{sel}>{0}</option>", esc(r));
    }
    let _ = write!(
        out,
        "</select></label><label>From<input type=\"date\" name=\"from\" id=\"from\" value=\"{}\"></label>\
         <label>To<input type=\"date\" name=\"to\" id=\"to\" value=\"{}\"></label>\
         <label>ε per day (blank: the metric's own)<input name=\"epsilon\" id=\"epsilon\" inputmode=\"decimal\" value=\"{}\"></label>\
         <label>Group by<span class=\"choices\">",
        esc(&q.from),
        esc(&q.to),
        q.epsilon.map(|e| e.to_string()).unwrap_or_default()
    );
    let dims: Vec<String> = metrics
        .iter()
        .find(|m| m.id == q.metric)
        .map(|m| m.dimensions.clone())
        .unwrap_or_default();
    for g in std::iter::once(release::DAY.to_owned()).chain(dims) {
        let checked = if q.group_by.contains(&g) {
            " checked"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<label class=\"inline\"><input type=\"checkbox\" name=\"group\" value=\"{0}\" id=\"group-{0}\"{checked}> {0}</label>",
            esc(&g)
        );
    }
    out.push_str(
        "</span></label><div><button type=\"submit\" id=\"release\">Release</button></div></form>",
    );
    out
}

async fn explore_form(
    State(c): State<Arc<Collector>>,
    headers: HeaderMap,
    UrlQuery(pairs): UrlQuery<Vec<(String, String)>>,
) -> Response {
    let s = match session(&c, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let q = query_from_pairs(&c, &s.scope, &pairs);
    let body = explore_form_html(&c, &s, &q);
    ok_page(page("Metrics", "/dashboard/explore", s.user(), &body))
}

async fn explore(
    State(c): State<Arc<Collector>>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let s = match session(&c, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let csrf = pairs
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    if !same(&s.csrf, csrf) {
        return html_response(
            StatusCode::FORBIDDEN,
            page(
                "Forbidden",
                "",
                s.user(),
                "<p class=\"warn\">The form token does not match; reload the page.</p>",
            ),
        );
    }
    let q = query_from_pairs(&c, &s.scope, &pairs);
    let worker = c.clone();
    let (scope, query) = (s.scope.clone(), q.clone());
    let answer = tokio::task::spawn_blocking(move || worker.query(&scope, &query))
        .await
        .unwrap_or_else(|_| {
            Err(QueryError::Store(candor_store::StoreError::Backend(
                "the query failed".into(),
            )))
        });
    let mut body = explore_form_html(&c, &s, &q);
    let status = match &answer {
        Ok(a) => {
            c.metrics
                .query(if a.cached { "cached" } else { "released" });
            body.push_str(&answer_html(&c, a));
            StatusCode::OK
        }
        Err(e) => {
            c.metrics.query(e.code());
            let _ = write!(
                body,
                "<p class=\"warn\" id=\"query-error\"><b>{}</b>: {}</p>",
                esc(e.code()),
                esc(&e.to_string())
            );
            match e {
                QueryError::Forbidden(_) => StatusCode::FORBIDDEN,
                QueryError::BudgetExhausted { .. } | QueryError::DayNotClosed { .. } => {
                    StatusCode::CONFLICT
                }
                QueryError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_REQUEST,
            }
        }
    };
    html_response(
        status,
        page("Metrics", "/dashboard/explore", s.user(), &body),
    )
}

/// The label of a group's series: its dimensions and cell.
fn series_label(g: &release::Group) -> String {
    let mut parts: Vec<String> = g
        .dimensions
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if let Some(cell) = g.bucket.as_ref().or(g.cell.as_ref()) {
        parts.push(cell.clone());
    }
    if parts.is_empty() {
        "value".into()
    } else {
        parts.join(" · ")
    }
}

/// A released count as shown to people: clamped at its lower bound 0
/// (post-processing; the raw noisy value stays in `data-value`, the API's
/// JSON and CSV, where sums over groups stay unbiased).
fn shown(value: f64) -> f64 {
    value.max(0.0)
}

fn answer_html(c: &Collector, a: &Answer) -> String {
    let metric = c
        .registry()
        .get(&a.schema)
        .and_then(|s| s.metric(&a.query.metric));
    let mut out = format!(
        "<h2 id=\"answer-title\">{} in {}, {} to {}</h2>",
        esc(&a.query.metric),
        esc(&a.query.region),
        esc(&a.query.from),
        esc(&a.query.to)
    );
    if let Some(m) = metric {
        let _ = write!(out, "<p>{}</p>", esc(&m.description));
    }
    let protection = match (a.noise_scale, a.threshold, a.selection_noise_scale) {
        (Some(s), Some(t), Some(sel)) => format!(
            "noise scale {}; a group is shown when its device count plus noise of scale {} reaches {}",
            fmt_num(s),
            fmt_num(sel),
            fmt_num(t.ceil())
        ),
        (Some(s), Some(t), None) => format!(
            "noise scale {}; a value is shown when its noisy count reaches τ = {}",
            fmt_num(s),
            fmt_num(t.ceil())
        ),
        _ => "estimated from randomized reports".into(),
    };
    let suppressed = a
        .suppressed
        .map_or("not disclosed (open set)".to_owned(), |n| n.to_string());
    let local = metric.is_some_and(|m| matches!(m.release, Release::LocalDp { .. }));
    let _ = write!(
        out,
        "<div class=\"cards\">\
         <div class=\"card\"><div class=\"big\" id=\"mechanism\">{}</div><div class=\"small\">{}</div></div>\
         <div class=\"card\"><div class=\"big\">ε {}</div><div class=\"small\">{}</div></div>\
         <div class=\"card\"><div class=\"big\" id=\"epsilon-spent\">{}</div><div class=\"small\">ε spent by this view{}</div></div>\
         <div class=\"card\"><div class=\"big\" id=\"budget-remaining\">{}</div><div class=\"small\">ε left per day (least over the range)</div></div>\
         <div class=\"card\"><div class=\"big\">k = {}</div><div class=\"small\">minimum devices per group (noisy count)</div></div>\
         <div class=\"card\"><div class=\"big\" id=\"suppressed\">{}</div><div class=\"small\">groups suppressed</div></div></div>",
        esc(&a.mechanism.replace('_', " ")),
        esc(&protection),
        a.epsilon,
        if local {
            "on each device (local DP)"
        } else {
            "per day of data"
        },
        a.epsilon_spent,
        if a.cached { " (saved answer)" } else { "" },
        a.budget_remaining,
        a.k_min,
        esc(&suppressed)
    );
    let by_day = a.query.group_by.iter().any(|g| g == release::DAY);
    if by_day {
        let (from, to) = (
            release::parse_day(&a.query.from).unwrap_or(0),
            release::parse_day(&a.query.to).unwrap_or(0),
        );
        let days: Vec<String> = (from..=to).map(release::format_day).collect();
        let mut by_series: BTreeMap<String, BTreeMap<String, (f64, f64, f64)>> = BTreeMap::new();
        for g in &a.groups {
            by_series.entry(series_label(g)).or_default().insert(
                g.day.clone().unwrap_or_default(),
                (shown(g.value), shown(g.ci95[0]), shown(g.ci95[1])),
            );
        }
        // The six largest series keep the chart readable; the table has all.
        let mut ranked: Vec<(&String, f64)> = by_series
            .iter()
            .map(|(k, v)| (k, v.values().map(|p| p.0).sum::<f64>()))
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        let series: Vec<html::Series> = ranked
            .iter()
            .take(6)
            .map(|(label, _)| html::Series {
                label: (*label).clone(),
                points: days
                    .iter()
                    .map(|d| by_series[*label].get(d).copied())
                    .collect(),
            })
            .collect();
        let labels: Vec<String> = days.iter().map(|d| d[5..].to_owned()).collect();
        out.push_str(&html::line_chart(&a.query.metric, &labels, &series));
    } else if !a.groups.is_empty() {
        let bars: Vec<(String, f64, f64, f64)> = a
            .groups
            .iter()
            .take(40)
            .map(|g| {
                (
                    series_label(g),
                    shown(g.value),
                    shown(g.ci95[0]),
                    shown(g.ci95[1]),
                )
            })
            .collect();
        out.push_str(&html::bar_chart(&a.query.metric, &bars));
    }
    let rows: Vec<Vec<String>> = a
        .groups
        .iter()
        .map(|g| {
            vec![
                td(g.day.as_deref().unwrap_or("all days")),
                td(&series_label(g)),
                format!(
                    "<td class=\"num value\" data-value=\"{}\">{}</td>",
                    g.value,
                    esc(&fmt_num(shown(g.value)))
                ),
                format!(
                    "<td class=\"num\" data-low=\"{}\" data-high=\"{}\">{} – {}</td>",
                    g.ci95[0],
                    g.ci95[1],
                    esc(&fmt_num(shown(g.ci95[0]))),
                    esc(&fmt_num(shown(g.ci95[1])))
                ),
                td_num(
                    &g.share
                        .map(|s| format!("{:.1}%", s * 100.0))
                        .unwrap_or_default(),
                ),
            ]
        })
        .collect();
    out.push_str(&table(
        "groups",
        &["day", "group", "value", "95% interval", "share"],
        &rows,
    ));
    out
}

// ---------------------------------------------------------------------------
// Budget, audit, keys
// ---------------------------------------------------------------------------

async fn budget(State(c): State<Arc<Collector>>, headers: HeaderMap) -> Response {
    blocking_page(
        c,
        &headers,
        ("Privacy budget", "/dashboard/budget"),
        budget_body,
    )
    .await
}

fn budget_body(worker: &Collector, scope: &Scope, _role: Role) -> String {
    let mut out = String::from(
        "<p class=\"note\">Each region allows a fixed ε per metric and day, and per purpose and day over \
             all its metrics (what one device's report of a day can lose), and a δ per purpose and day. Every \
             new release spends on each day it covers; once a day's budget is spent, no new question about \
             that day is answered. Saved answers stay available at no cost.</p>",
    );
    for region in worker.region_ids().filter(|r| scope.allows_region(r)) {
        let limit = worker
            .registry()
            .all()
            .filter_map(|s| s.region(region))
            .map(|r| r.epsilon_per_metric_day)
            .fold(f64::INFINITY, f64::min);
        let entries = worker
            .with_control_store(region, |s| s.budget(&BudgetFilter::default()))
            .and_then(Result::ok)
            .unwrap_or_default();
        let (purpose_limit, delta_limit) = worker
            .registry()
            .all()
            .filter_map(|s| s.region(region))
            .map(|r| (r.epsilon_per_purpose_day, r.delta_per_purpose_day))
            .fold((f64::INFINITY, f64::INFINITY), |a, b| {
                (a.0.min(b.0), a.1.min(b.1))
            });
        let _ = write!(
            out,
            "<h2>Region {}: ε {} per metric, ε {} and δ {:e} per purpose, each day</h2>",
            esc(region),
            limit,
            purpose_limit,
            delta_limit
        );
        let entries: Vec<_> = entries
            .iter()
            .filter(|e| scope.allows_purpose(&e.purpose))
            .collect();
        // Per purpose: the most any one day has spent over all its metrics.
        let mut per_day: BTreeMap<(&str, i32), (u64, u64)> = BTreeMap::new();
        for e in &entries {
            let d = per_day.entry((e.purpose.as_str(), e.day)).or_default();
            d.0 += e.micros;
            d.1 += e.femtos;
        }
        let mut per_purpose: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for ((purpose, _), (micros, femtos)) in per_day {
            let p = per_purpose.entry(purpose).or_default();
            p.0 = p.0.max(micros);
            p.1 = p.1.max(femtos);
        }
        let purposes: Vec<Vec<String>> = per_purpose
            .iter()
            .map(|(purpose, (micros, femtos))| {
                let e = candor_privacy::budget::micros_to_epsilon(*micros);
                let d = candor_privacy::budget::femtos_to_delta(*femtos);
                vec![
                    td(purpose),
                    td_num(&format!("{e}")),
                    td_num(&format!("{:.3}", (purpose_limit - e).max(0.0))),
                    td_num(&format!("{d:e}")),
                ]
            })
            .collect();
        out.push_str(&table(
            &format!("purposes-{region}"),
            &[
                "purpose",
                "most ε spent on a day (all metrics)",
                "least ε left",
                "most δ spent on a day",
            ],
            &purposes,
        ));
        // At a glance: per metric, the days charged and the most spent
        // on any of them; the per-day ledger below, folded.
        let mut per_metric: BTreeMap<(&str, &str), (usize, i32, i32, u64)> = BTreeMap::new();
        for e in &entries {
            let m = per_metric
                .entry((e.purpose.as_str(), e.metric.as_str()))
                .or_insert((0, e.day, e.day, 0));
            m.0 += 1;
            m.1 = m.1.min(e.day);
            m.2 = m.2.max(e.day);
            m.3 = m.3.max(e.micros);
        }
        let eps = candor_privacy::budget::micros_to_epsilon;
        let summary: Vec<Vec<String>> = per_metric
                .iter()
                .map(|((purpose, metric), (days, first, last, most))| {
                    let used = (eps(*most) / limit).clamp(0.0, 1.0);
                    vec![
                        td(purpose),
                        td(metric),
                        td_num(&days.to_string()),
                        td(&format!("{} – {}", release::format_day(*first), release::format_day(*last))),
                        td_num(&format!("{}", eps(*most))),
                        td_num(&format!("{:.3}", (limit - eps(*most)).max(0.0))),
                        format!(
                            "<td><svg width=\"120\" height=\"12\" role=\"img\" aria-label=\"{:.0}% used\">\
                             <rect width=\"120\" height=\"12\" fill=\"#e5e7eb\"/>\
                             <rect width=\"{:.1}\" height=\"12\" fill=\"{}\"/></svg> {:.0}%</td>",
                            used * 100.0,
                            used * 120.0,
                            if used >= 1.0 { "#dc2626" } else { "#2563eb" },
                            used * 100.0
                        ),
                    ]
                })
                .collect();
        out.push_str(&table(
            &format!("budget-{region}"),
            &[
                "purpose",
                "metric",
                "days charged",
                "range",
                "most ε spent on a day",
                "least ε left",
                "budget used",
            ],
            &summary,
        ));
        let rows: Vec<Vec<String>> = entries
            .iter()
            .map(|e| {
                let spent = eps(e.micros);
                vec![
                    td(&e.purpose),
                    td(&e.metric),
                    td(&release::format_day(e.day)),
                    td_num(&format!("{spent}")),
                    td_num(&format!("{:.3}", (limit - spent).max(0.0))),
                ]
            })
            .collect();
        if !rows.is_empty() {
            out.push_str("<details><summary>The ledger, day by day</summary>");
            out.push_str(&table(
                &format!("ledger-{region}"),
                &["purpose", "metric", "day", "ε spent", "ε left"],
                &rows,
            ));
            out.push_str("</details>");
        }
    }
    out
}

async fn audit_page(State(c): State<Arc<Collector>>, headers: HeaderMap) -> Response {
    let s = match session(&c, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if s.role != Role::Admin {
        return html_response(
            StatusCode::FORBIDDEN,
            page(
                "Audit log",
                "/dashboard/audit",
                s.user(),
                "<p class=\"warn\">The audit log is for admin tokens.</p>",
            ),
        );
    }
    let worker = c.clone();
    let scope = s.scope.clone();
    let body = tokio::task::spawn_blocking(move || {
        let mut out = String::from(
            "<p class=\"note\">Every query, token change, key change and retention run is appended here. Each \
             entry carries the hash of the one before, so an edited, deleted or reordered entry breaks the \
             chain. Write the head down elsewhere; <code>candor audit verify --head</code> then also catches \
             a rewrite of the whole log.</p>",
        );
        for region in worker.region_ids().filter(|r| scope.allows_region(r)) {
            let Some(Ok((entries, head))) = worker.with_control_store(region, |s| s.audit_log())
            else {
                continue;
            };
            let status = match audit::verify(&entries, head, None) {
                Ok(n) => format!("<span class=\"ok\" id=\"chain-{}\">chain intact</span> ({n} entries)", esc(region)),
                Err(b) => format!("<span class=\"bad\" id=\"chain-{}\">chain broken at entry {}</span>: {}", esc(region), b.seq, esc(&b.reason)),
            };
            let _ = write!(
                out,
                "<h2>Region {}</h2><p>{status}; head <code>{}</code></p>",
                esc(region),
                esc(&head.map(|h| audit::format_head(&h)).unwrap_or_else(|| "none".into()))
            );
            let rows: Vec<Vec<String>> = entries
                .iter()
                .rev()
                .take(200)
                .map(|e| {
                    vec![
                        td_num(&e.seq.to_string()),
                        td(&time::OffsetDateTime::from_unix_timestamp(e.record.at)
                            .map(|t| format!("{} {:02}:{:02}:{:02} UTC", t.date(), t.hour(), t.minute(), t.second()))
                            .unwrap_or_default()),
                        td(&e.record.actor),
                        td(&e.record.action),
                        format!("<td><code>{}</code></td>", esc(&e.record.detail)),
                    ]
                })
                .collect();
            out.push_str(&table(
                &format!("audit-{region}"),
                &["#", "time", "who", "what", "details"],
                &rows,
            ));
        }
        out
    })
    .await
    .unwrap_or_default();
    ok_page(page("Audit log", "/dashboard/audit", s.user(), &body))
}

async fn keys(State(c): State<Arc<Collector>>, headers: HeaderMap) -> Response {
    let s = match session(&c, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut out = String::from(
        "<p class=\"note\">Each region has its own HPKE key pair (X25519, HKDF-SHA256, ChaCha20-Poly1305) and \
         its own database; a report sealed for one region is never opened or stored by another.</p>",
    );
    let rows: Vec<Vec<String>> = c
        .regions
        .values()
        .filter(|r| s.scope.allows_region(&r.id))
        .map(|r| {
            let policy = c.registry().all().find_map(|schema| schema.region(&r.id));
            let keys = r.keys.read().unwrap_or_else(|p| p.into_inner()).clone();
            let ids: Vec<String> = keys
                .active
                .iter()
                .map(|k| format!("{} ({}…)", k.key_id(), &hex::encode(k.public_key())[..12]))
                .collect();
            vec![
                td(&r.id),
                td(policy.map_or("", |p| p.name.as_str())),
                td(policy.map_or("", |p| p.law.as_str())),
                td_num(&policy.map_or(String::new(), |p| p.retention_days.to_string())),
                td_num(&policy.map_or(String::new(), |p| p.k_min.to_string())),
                td_num(&policy.map_or(String::new(), |p| p.epsilon_per_metric_day.to_string())),
                td(&ids.join(", ")),
            ]
        })
        .collect();
    out.push_str(&table(
        "regions",
        &[
            "region",
            "name",
            "law",
            "retention (days)",
            "k",
            "ε per metric·day",
            "active keys",
        ],
        &rows,
    ));
    ok_page(page("Keys & regions", "/dashboard/keys", s.user(), &out))
}

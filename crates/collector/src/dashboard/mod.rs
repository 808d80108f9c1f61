//! The dashboard: server-rendered pages for analysts and auditors.
//!
//! Plain HTML forms and inline SVG: it works without JavaScript and loads
//! nothing from anywhere else. Every number comes from the release engine
//! (the metric explorer runs [`crate::release::release`], so its numbers
//! are the query API's, cached and budgeted alike) or from counters that
//! hold no user data (reports accepted per day, rejections by code).
//!
//! Sign-in takes a token (the same bearer tokens as the API) and keeps it
//! in an `HttpOnly`, `SameSite=Strict` cookie (also `Secure` when the
//! collector serves HTTPS itself, `[tls]`, or with `[dashboard]
//! secure_cookies` behind a TLS terminator). Forms carry a CSRF token:
//! on the sign-in form a random value also set as a cookie (double submit);
//! after sign-in, `SHA-256("candor csrf v1" ‖ token)`, which only a page
//! served to the holder of the cookie can know. Every page is sent with a
//! strict Content-Security-Policy (`default-src 'none'`, styles only from
//! this server, no scripts), `X-Frame-Options: DENY`, `nosniff`,
//! `Referrer-Policy: no-referrer` and `Cache-Control: no-store`.
//!
//! Handlers read the `cookie` header (the session) and form bodies; nothing
//! of either is logged.

mod active;
mod audit;
mod budget;
mod explore;
mod html;
mod keys;
mod overview;
mod session;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::Collector;
use crate::analyst::Principal;
use html::page;
use session::Session;

/// The dashboard's pages, as `(method, path)`.
pub const DASHBOARD_ROUTES: [(&str, &str); 14] = [
    ("get", "/"),
    ("get", "/favicon.ico"),
    ("get", "/favicon.svg"),
    ("get", "/dashboard"),
    ("get", "/dashboard/login"),
    ("post", "/dashboard/login"),
    ("post", "/dashboard/logout"),
    ("get", "/dashboard/explore"),
    ("post", "/dashboard/explore"),
    ("get", "/dashboard/retention"),
    ("get", "/dashboard/budget"),
    ("get", "/dashboard/audit"),
    ("get", "/dashboard/keys"),
    ("get", "/dashboard/style.css"),
];

/// The dashboard's router, with the security headers on every answer.
pub(crate) fn router() -> Router<Arc<Collector>> {
    Router::new()
        // The bare address is where a person types first.
        .route("/", get(|| async { Redirect::to("/dashboard") }))
        // Browsers ask for /favicon.ico whatever the page links.
        .route("/favicon.ico", get(favicon))
        .route("/favicon.svg", get(favicon))
        .route("/dashboard", get(overview::show))
        .route(
            "/dashboard/login",
            get(session::login_form).post(session::login),
        )
        .route("/dashboard/logout", axum::routing::post(session::logout))
        .route(
            "/dashboard/explore",
            get(explore::form).post(explore::release),
        )
        .route("/dashboard/retention", get(active::retention))
        .route("/dashboard/budget", get(budget::show))
        .route("/dashboard/audit", get(audit::show))
        .route("/dashboard/keys", get(keys::show))
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

pub(crate) fn html_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

pub(crate) fn ok_page(body: String) -> Response {
    html_response(StatusCode::OK, body)
}

async fn style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        html::STYLE,
    )
        .into_response()
}

async fn favicon() -> Response {
    ([(header::CONTENT_TYPE, "image/svg+xml")], html::FAVICON).into_response()
}

/// [`blocking_page`] for a page about one region, chosen with `?region=`
/// (any other parameter is ignored): `body` gets the region asked for.
async fn region_page(
    c: Arc<Collector>,
    headers: &HeaderMap,
    pairs: Vec<(String, String)>,
    title_path: (&str, &str),
    body: fn(&Collector, &Principal, Option<&str>) -> String,
) -> Response {
    let asked = pairs
        .into_iter()
        .find(|(k, _)| k == "region")
        .map(|(_, v)| v);
    blocking_page(c, headers, title_path, move |c, who| {
        body(c, who, asked.as_deref())
    })
    .await
}

/// A signed-in page whose body is built on a blocking thread (it reads
/// SQLite) from the collector and the user's scope.
async fn blocking_page(
    c: Arc<Collector>,
    headers: &HeaderMap,
    (title, path): (&str, &str),
    body: impl FnOnce(&Collector, &Principal) -> String + Send + 'static,
) -> Response {
    let s: Session = match session::session(&c, headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let who = s.who.clone();
    let body = tokio::task::spawn_blocking(move || body(&c, &who))
        .await
        .unwrap_or_else(|_| format!("<p class=\"warn\">The {title} page failed.</p>"));
    ok_page(page(title, path, s.user(), &body))
}

//! Signing in and out: the session cookie (the bearer token itself,
//! `HttpOnly`, `SameSite=Strict`) and the CSRF token every form carries.

use std::sync::Arc;

use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::html::{Viewer, esc, page};
use super::html_response;
use crate::Collector;
use crate::access::AuthError;
use crate::analyst::Principal;

const SESSION_COOKIE: &str = "candor_session";
const CSRF_COOKIE: &str = "candor_csrf";
/// A session lasts 8 hours in the browser.
const SESSION_SECONDS: u32 = 8 * 3600;

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
pub(crate) struct Session {
    /// The token's scope and role.
    pub(crate) who: Principal,
    /// The form token of this session.
    pub(crate) csrf: String,
}

impl Session {
    /// The viewer the page frame shows: name, form token, and which
    /// pages the role may open (the navigation links only those).
    pub(crate) fn user(&self) -> Option<Viewer<'_>> {
        Some(Viewer {
            name: &self.who.scope.name,
            csrf: &self.csrf,
            may_query: self.who.role.may_query(),
            may_audit: self.who.role.may_read_audit(),
        })
    }

    /// Checks that a submitted form token is this session's; otherwise
    /// the 403 page to answer, saying `message`.
    // The error is the handler's final answer, returned once per request.
    #[allow(clippy::result_large_err)]
    pub(crate) fn check_form(&self, submitted: &str, message: &str) -> Result<(), Response> {
        if same(&self.csrf, submitted) {
            return Ok(());
        }
        let body = format!("<p class=\"warn\">{}</p>", esc(message));
        Err(html_response(
            StatusCode::FORBIDDEN,
            page("Forbidden", "", self.user(), &body),
        ))
    }
}

/// The session of a request, or the answer to send instead (a redirect to
/// the sign-in page).
pub(crate) async fn session(c: &Arc<Collector>, headers: &HeaderMap) -> Result<Session, Response> {
    let to_login = || Redirect::to("/dashboard/login").into_response();
    let Some(token) = cookie(headers, SESSION_COOKIE).map(str::to_owned) else {
        return Err(to_login());
    };
    let worker = c.clone();
    let t = token.clone();
    let result = tokio::task::spawn_blocking(move || worker.analyst().authenticate(&t))
        .await
        .unwrap_or(Err(AuthError::Unavailable));
    match result {
        Ok(who) => Ok(Session {
            who,
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
        "<div class=\"login\">{warning}<p>Sign in with an analyst, admin or auditor token: \
         <code>candor demo</code> prints one of each, and <code>candor token create</code> makes more. \
         It is kept in a cookie only this site can read, for {} hours.</p>\
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

pub(crate) async fn login_form(State(c): State<Arc<Collector>>) -> Response {
    login_page(&c, StatusCode::OK, None)
}

/// `; Secure` when the collector serves HTTPS itself (`[tls]`) or the
/// configuration says a TLS terminator is in front.
fn secure(c: &Collector) -> &'static str {
    if c.config().dashboard.secure_cookies || c.config().tls.is_on() {
        "; Secure"
    } else {
        ""
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct LoginForm {
    token: String,
    csrf: String,
}

pub(crate) async fn login(
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
    let result = tokio::task::spawn_blocking(move || worker.analyst().authenticate(&t))
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
pub(crate) struct CsrfForm {
    csrf: String,
}

pub(crate) async fn logout(
    State(c): State<Arc<Collector>>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let s = match session(&c, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(refused) = s.check_form(&form.csrf, "The form token does not match.") {
        return refused;
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

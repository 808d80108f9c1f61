//! The dashboard over HTTP: sign-in with CSRF, a wrong token refused,
//! security headers, the explorer's numbers equal to the query API's, and
//! forms refused without their CSRF token; active devices and retention,
//! the bare address, the favicon, role-aware links and answers that explain
//! themselves.

use candor_collector::access::Role;
use serde_json::json;

use crate::common::Server;
use crate::query::{query_api, token, upload};

#[derive(Debug)]
pub(crate) struct Page {
    pub(crate) status: u16,
    headers: Vec<(String, String)>,
    cookies: Vec<String>,
    pub(crate) body: String,
}

impl Page {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn no_redirects() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

fn page(resp: ureq::http::Response<ureq::Body>) -> Page {
    let status = resp.status().as_u16();
    let headers: Vec<(String, String)> = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let cookies = headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .map(|(_, v)| v.clone())
        .collect();
    let body = resp.into_body().read_to_string().unwrap_or_default();
    Page {
        status,
        headers,
        cookies,
        body,
    }
}

pub(crate) fn get(server: &Server, path: &str, cookie: &str) -> Page {
    let mut req = no_redirects().get(&format!("{}{path}", server.url()));
    if !cookie.is_empty() {
        req = req.header("cookie", cookie);
    }
    page(req.call().expect("request completes"))
}

pub(crate) fn post_form(server: &Server, path: &str, cookie: &str, form: &[(&str, &str)]) -> Page {
    let body: String = form
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let mut req = no_redirects()
        .post(&format!("{}{path}", server.url()))
        .header("content-type", "application/x-www-form-urlencoded");
    if !cookie.is_empty() {
        req = req.header("cookie", cookie);
    }
    page(req.send(body.as_bytes()).expect("request completes"))
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The value of `name="…" value="…"` in a page.
pub(crate) fn hidden(body: &str, name: &str) -> String {
    let at = body
        .find(&format!("name=\"{name}\" value=\""))
        .expect("hidden field");
    let rest = &body[at + name.len() + 15..];
    rest[..rest.find('"').expect("end of value")].to_owned()
}

/// `name=value` of a Set-Cookie.
fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap_or("").to_owned()
}

/// Signs in through the form; returns the session cookie.
pub(crate) fn sign_in(server: &Server, token: &str) -> Result<String, Page> {
    let form = get(server, "/dashboard/login", "");
    let csrf = hidden(&form.body, "csrf");
    let csrf_cookie = cookie_pair(&form.cookies[0]);
    let answer = post_form(
        server,
        "/dashboard/login",
        &csrf_cookie,
        &[("csrf", &csrf), ("token", token)],
    );
    if answer.status != 303 {
        return Err(answer);
    }
    let session = answer
        .cookies
        .iter()
        .find(|c| c.starts_with("candor_session="))
        .expect("a session cookie");
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Strict"),
        "{session}"
    );
    Ok(cookie_pair(session))
}

#[test]
fn the_dashboard_shows_the_query_apis_numbers_to_signed_in_users_only() {
    let server = Server::start();
    upload(&server, 40);
    let ana = token(&server, "ana", Role::Analyst, &["eu"], &["usage"]);

    // Not signed in: redirected; headers on every page.
    let anonymous = get(&server, "/dashboard", "");
    assert_eq!(anonymous.status, 303);
    assert_eq!(anonymous.header("location"), Some("/dashboard/login"));
    let login = get(&server, "/dashboard/login", "");
    assert_eq!(login.status, 200);
    let csp = login.header("content-security-policy").expect("CSP");
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(login.header("x-frame-options"), Some("DENY"));
    assert_eq!(login.header("x-content-type-options"), Some("nosniff"));
    assert!(!login.body.contains("<script"));

    // A wrong token and a missing CSRF value are refused.
    let wrong = sign_in(&server, "cndr_wrong").expect_err("refused");
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("unknown or revoked"));
    let no_csrf = post_form(
        &server,
        "/dashboard/login",
        "",
        &[("csrf", "x"), ("token", &ana)],
    );
    assert_eq!(no_csrf.status, 403);

    let session = sign_in(&server, &ana).expect("signed in");
    let overview = get(&server, "/dashboard", &session);
    assert_eq!(overview.status, 200);
    // Exact report counts are not differentially private: admins only.
    assert!(
        !overview.body.contains("id=\"reports-eu\""),
        "{}",
        overview.body
    );
    assert!(overview.body.contains("id=\"exact-counts-admin-only\""));
    assert!(overview.body.contains("2026-11-29"), "the last closed day");
    assert!(!overview.body.contains("Region us"), "us is out of scope");
    let eu_admin = token(&server, "eu-admin", Role::Admin, &["eu"], &[]);
    let eu_session = sign_in(&server, &eu_admin).expect("signed in");
    let exact = get(&server, "/dashboard", &eu_session);
    assert!(
        exact.body.contains("id=\"reports-eu\">40<"),
        "40 reports accepted in eu, shown to an admin"
    );
    assert!(exact.body.contains("Exact, not differentially private"));

    // The explorer: without the form's CSRF token, refused; with it, the
    // release engine's answer, equal to the API's for the same query.
    let form = get(
        &server,
        "/dashboard/explore?metric=browser.tabs_opened&region=eu",
        &session,
    );
    let csrf = hidden(&form.body, "csrf");
    let fields = [
        ("metric", "browser.tabs_opened"),
        ("region", "eu"),
        ("from", "2026-11-23"),
        ("to", "2026-11-29"),
        ("group", "day"),
        ("group", "platform"),
    ];
    // A typo in ε is refused, not replaced by the default (which would
    // spend budget the analyst did not ask to spend).
    let mut typo = fields.to_vec();
    typo.push(("csrf", &csrf));
    typo.push(("epsilon", "0,5"));
    let refused = post_form(&server, "/dashboard/explore", &session, &typo);
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("invalid_epsilon"));
    let forged = post_form(&server, "/dashboard/explore", &session, &fields);
    assert_eq!(forged.status, 403);
    let mut with_csrf = fields.to_vec();
    with_csrf.push(("csrf", &csrf));
    let shown = post_form(&server, "/dashboard/explore", &session, &with_csrf);
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert!(shown.body.contains("<svg") && shown.body.contains("class=\"series\""));
    assert!(
        shown.body.contains("class=\"suppressed\""),
        "days without data are marked"
    );
    let values: Vec<f64> = shown
        .body
        .match_indices("data-value=\"")
        .map(|(i, m)| {
            let rest = &shown.body[i + m.len()..];
            rest[..rest.find('"').expect("end")]
                .parse()
                .expect("a number")
        })
        .collect();
    let api = query_api(
        &server,
        &ana,
        &json!({"region": "eu", "metric": "browser.tabs_opened", "from": "2026-11-23",
                "to": "2026-11-29", "group_by": ["platform", "day"]}),
    );
    assert_eq!(
        api["cached"], true,
        "the dashboard's release is the API's cached answer"
    );
    let api_values: Vec<f64> = api["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| g["value"].as_f64().expect("value"))
        .collect();
    assert_eq!(values, api_values);
    assert!(!values.is_empty());

    // Budget page shows the spend; the audit page is for admins.
    let budget = get(&server, "/dashboard/budget", &session);
    assert!(budget.body.contains("browser.tabs_opened"));
    assert_eq!(get(&server, "/dashboard/audit", &session).status, 403);
    let root = token(&server, "root", Role::Admin, &[], &[]);
    let admin = sign_in(&server, &root).expect("admin signs in");
    let audit = get(&server, "/dashboard/audit", &admin);
    assert!(audit.body.contains("chain intact"), "{}", audit.body);
    assert!(
        get(&server, "/dashboard/keys", &admin)
            .body
            .contains("GDPR")
    );

    // Signing out needs the form token too, and clears the cookie.
    let out = post_form(&server, "/dashboard/logout", &session, &[("csrf", &csrf)]);
    assert_eq!(out.status, 303);
    assert!(
        out.cookies
            .iter()
            .any(|c| c.starts_with("candor_session=;"))
    );
}

#[test]
fn cookies_are_secure_when_configured() {
    let plain = Server::start();
    let form = get(&plain, "/dashboard/login", "");
    assert!(!form.cookies[0].contains("Secure"), "{}", form.cookies[0]);
    plain.stop();
    let behind_tls = Server::start_with(|c| c.dashboard.secure_cookies = true);
    let form = get(&behind_tls, "/dashboard/login", "");
    assert!(form.cookies[0].ends_with("; Secure"), "{}", form.cookies[0]);
    behind_tls.stop();
}

/// `n` devices of eu, new on 2026-11-29 (Sunday of 2026-W48): each sends a
/// usage report whose activity says active, first of the week, of the month
/// and since install, in the cohort 2026-W48.
fn upload_new_devices(server: &Server, n: usize) {
    use candor_protocol::{Activity, Cohort, Day, MetricValue, seal};
    use candor_time::IsoWeek;
    server.clock.set(crate::common::NOON);
    let key = server.key("eu");
    let day = Day::from_ymd(2026, 11, 29).expect("day");
    for _ in 0..n {
        let mut r = crate::common::usage(day, 1);
        r.dimensions.insert("platform".into(), "android".into());
        r.metrics.insert(
            "app.active".into(),
            MetricValue::Activity(Activity {
                today: true,
                first_in_week: true,
                first_in_month: true,
                first_day: true,
                cohort: Cohort::Week(IsoWeek::of(day)),
            }),
        );
        assert_eq!(
            server.post("eu", &seal(&r, &key).expect("seals")).status,
            202
        );
    }
    server.clock.set(crate::common::NOON + 4 * 86_400);
}

#[test]
fn the_dashboard_shows_active_devices_and_retention_and_explains_itself() {
    let server = Server::start();
    upload_new_devices(&server, 150);
    let ana = token(&server, "ana", Role::Analyst, &["eu", "us"], &["usage"]);
    let session = sign_in(&server, &ana).expect("signed in");

    // The bare address leads to the dashboard; a favicon; an unknown route
    // says what it is in its body.
    let root = get(&server, "/", "");
    assert!((300..400).contains(&root.status), "{root:?}");
    assert_eq!(root.header("location"), Some("/dashboard"));
    let icon = get(&server, "/favicon.ico", "");
    assert_eq!(
        (icon.status, icon.header("content-type")),
        (200, Some("image/svg+xml"))
    );
    let missing = get(&server, "/no/such/page", "");
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("not_found"), "{missing:?}");

    // The overview: daily active devices drawn, the week's total released,
    // and links only to pages an analyst may open.
    let overview = get(&server, "/dashboard", &session);
    assert_eq!(overview.status, 200);
    assert!(
        overview.body.contains("Daily active devices in eu"),
        "{}",
        overview.body
    );
    assert!(overview.body.contains("class=\"series\""));
    let periods = &overview.body[overview
        .body
        .find("id=\"active-periods\"")
        .expect("periods")..];
    assert!(periods.contains("week 2026-W48") && periods.contains("class=\"num value\""));
    assert!(
        !overview.body.contains("href=\"/dashboard/audit\""),
        "no audit link for analysts"
    );
    assert!(overview.body.contains("href=\"/dashboard/retention\""));
    // Seen again: saved answers only.
    let again = get(&server, "/dashboard", &session);
    assert!(again.body.contains("asked: 0 new"), "{}", again.body);

    // The retention table: the cohort 2026-W48's first week released.
    let retention = get(&server, "/dashboard/retention?region=eu", &session);
    assert_eq!(retention.status, 200);
    let heat = &retention.body[retention.body.find("id=\"retention\"").expect("heat map")..];
    assert!(
        heat.contains("<th scope=\"row\">2026-W48</th><td class=\"h5\" data-value=\""),
        "{heat}"
    );
    assert!(retention.body.contains("id=\"heat-legend\""));
    // Every one of the last 8 whole weeks is a row, asked whether or not a
    // device reported in it (which weeks did is not an analyst's to know).
    assert_eq!(heat.matches("<th scope=\"row\">").count(), 8, "{heat}");

    // ε typed wrong: echoed as typed, refused with the reason, nothing spent.
    let form = get(&server, "/dashboard/explore", &session);
    assert!(
        form.body.contains("<option value=\"eu\" selected>"),
        "opens on the first region in scope"
    );
    let csrf = hidden(&form.body, "csrf");
    let bad = post_form(
        &server,
        "/dashboard/explore",
        &session,
        &[
            ("csrf", &csrf),
            ("metric", "browser.tabs_opened"),
            ("region", "eu"),
            ("epsilon", "abc"),
            ("group", "day"),
        ],
    );
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("value=\"abc\"") && bad.body.contains("“abc” is not one"));
    assert!(!bad.body.contains("NaN"));

    // A region no device reports to: nothing exact is said about it (that
    // no device reported is a fact beside the noise); an empty answer
    // names both causes, and noise alone may release a group now and then.
    let empty = post_form(
        &server,
        "/dashboard/explore",
        &session,
        &[
            ("csrf", &csrf),
            ("metric", "browser.tabs_opened"),
            ("region", "us"),
            ("group", "day"),
        ],
    );
    assert_eq!(empty.status, 200, "{}", empty.body);
    assert!(!empty.body.contains("No device reported"), "{}", empty.body);
    let explained = empty
        .body
        .contains("either no device reported here in this range, or in every group fewer than");
    let released = empty.body.contains("<table");
    assert!(explained || released, "{}", empty.body);

    // An auditor's links: the audit log, no explorer.
    let aud = token(&server, "aud", Role::Auditor, &["eu"], &[]);
    let aud_session = sign_in(&server, &aud).expect("signed in");
    let seen = get(&server, "/dashboard", &aud_session);
    assert!(seen.body.contains("href=\"/dashboard/audit\""));
    assert!(!seen.body.contains("href=\"/dashboard/explore\""));
}

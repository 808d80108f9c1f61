//! `candor demo` end to end, and its dashboard in a real browser.
//!
//! Runs the README's first command (`candor demo`, default fleet) on a free
//! port in a temporary directory, checks the summary it prints, then drives
//! Debian's headless chromium through chromedriver (W3C WebDriver): a wrong
//! token is refused, the right one signs in, the overview, a metric's chart
//! and numbers (equal to the query API's for the same query), the budget,
//! the audit log and the keys pages render. Screenshots of every page go to
//! `target/screenshots/` for people to look at.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::serve::{agent, free_port};
use crate::webdriver::Browser;

/// Kills the demo when the test ends, however it ends.
pub(crate) struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots")
}

/// Starts the demo and returns it with everything it printed up to the
/// admin token (the last line before it serves).
fn start_demo(dir: &std::path::Path, port: u16) -> (Demo, String) {
    start_demo_with(dir, port, &[])
}

/// [`start_demo`] with extra options (a smaller fleet, fewer days).
pub(crate) fn start_demo_with(dir: &std::path::Path, port: u16, extra: &[&str]) -> (Demo, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_candor"))
        .arg("demo")
        .args(extra)
        .arg("--dir")
        .arg(dir)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("candor demo starts");
    let stdout = child.stdout.take().expect("stdout");
    let demo = Demo(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = String::new();
    // Bounded: the default demo takes well under a minute in release
    // builds; debug builds and a loaded CI machine get ten.
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("the demo did not finish; it printed:\n{printed}"));
        printed.push_str(&line);
        printed.push('\n');
        if line.starts_with("Admin token: ") {
            return (demo, printed);
        }
    }
}

pub(crate) fn line_value<'a>(printed: &'a str, prefix: &str) -> &'a str {
    printed
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} line in:\n{printed}"))
        .trim()
}

#[test]
fn the_demo_runs_end_to_end_and_its_dashboard_works_in_a_browser() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let (_demo, printed) = start_demo(&tmp.path().join("demo"), port);
    let base = format!("http://127.0.0.1:{port}");

    // The summary: reports per region and purpose, released statistics
    // with intervals, suppression, budget, the URL and the tokens.
    for needle in [
        "Reports accepted, by region and purpose (exact operational counts",
        "app.opened",
        "settings.dark_mode",
        "95% interval",
        "suppressed",
        "spent ε",
    ] {
        assert!(
            printed.contains(needle),
            "{needle:?} missing from:\n{printed}"
        );
    }
    assert_eq!(
        line_value(&printed, "Dashboard: "),
        format!("{base}/dashboard")
    );
    let analyst = line_value(&printed, "Analyst token: ").to_owned();
    let admin = line_value(&printed, "Admin token: ").to_owned();
    assert!(analyst.starts_with("cndr_") && admin.starts_with("cndr_"));

    let shots = screenshots();
    let browser = Browser::start(free_port());

    // Not signed in: the sign-in page. A wrong token is refused.
    browser.goto(&format!("{base}/dashboard"));
    assert!(
        browser.url().ends_with("/dashboard/login"),
        "{}",
        browser.url()
    );
    browser.screenshot(&shots.join("01-sign-in.png"));
    browser.type_into("#token", "cndr_not_a_real_token");
    browser.submit("#sign-in");
    assert!(
        browser.text("#login-error").contains("unknown or revoked"),
        "a wrong token must be refused"
    );
    browser.screenshot(&shots.join("02-wrong-token.png"));

    // Signed in as an analyst: the overview says which days are released,
    // and no exact count (those are for admins).
    browser.type_into("#token", &analyst);
    browser.submit("#sign-in");
    assert!(browser.url().ends_with("/dashboard"), "{}", browser.url());
    assert!(browser.text("#closed-days").contains("org.example.browser"));
    assert!(
        browser
            .text("#exact-counts-admin-only")
            .contains("administrators")
    );
    assert_eq!(
        browser.count("#reports-eu"),
        0,
        "no exact count for analysts"
    );
    browser.screenshot(&shots.join("03-overview.png"));

    // A metric: chart with interval bands, and numbers.
    browser.goto(&format!("{base}/dashboard/explore"));
    browser.select("#metric", "app.opened");
    browser.select("#region", "eu");
    browser.submit("#release");
    assert!(browser.text("#answer-title").contains("app.opened"));
    assert!(browser.count("svg .series") > 0, "a line per label");
    assert!(browser.count("svg .band") > 0, "interval bands");
    let shown: Vec<f64> = browser
        .attributes("#groups td.value", "data-value")
        .iter()
        .map(|v| v.parse().expect("a number"))
        .collect();
    assert!(!shown.is_empty(), "released numbers are shown");
    browser.screenshot(&shots.join("04-metric.png"));

    // The same query through the API: the cached answer, the same numbers.
    let from = browser.attributes("#from", "value").remove(0);
    let to = browser.attributes("#to", "value").remove(0);
    let api: Value = agent()
        .post(&format!("{base}/v1/query"))
        .header("authorization", &format!("Bearer {analyst}"))
        .header("content-type", "application/json")
        .send(
            json!({"region": "eu", "metric": "app.opened", "from": from, "to": to,
                   "group_by": ["day"]})
            .to_string()
            .as_bytes(),
        )
        .expect("query")
        .into_body()
        .read_to_string()
        .map(|t| serde_json::from_str(&t).expect("json"))
        .expect("body");
    assert_eq!(api["cached"], true, "{api}");
    let api_values: Vec<f64> = api["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| g["value"].as_f64().expect("value"))
        .collect();
    assert_eq!(shown, api_values, "dashboard and API show the same numbers");

    // A domain set, grouped over the whole range: bars, and no rare domain.
    browser.goto(&format!("{base}/dashboard/explore"));
    browser.select("#metric", "browser.slow_domains");
    browser.select("#region", "eu");
    browser.click("#group-day");
    browser.submit("#release");
    browser.screenshot(&shots.join("05-domains.png"));
    assert!(browser.text("#suppressed").contains("not disclosed"));

    browser.goto(&format!("{base}/dashboard/budget"));
    assert!(browser.text("#budget-eu").contains("app.opened"));
    browser.screenshot(&shots.join("06-budget.png"));
    browser.goto(&format!("{base}/dashboard/keys"));
    assert!(browser.text("#regions").contains("GDPR"));
    browser.screenshot(&shots.join("07-keys-and-regions.png"));
    browser.goto(&format!("{base}/privacy"));
    browser.screenshot(&shots.join("08-privacy-page.png"));

    // The audit log, as admin: intact, with the analyst's queries.
    browser.goto(&format!("{base}/dashboard"));
    browser.submit("nav .signout button");
    assert!(browser.url().ends_with("/dashboard/login"));
    browser.type_into("#token", &admin);
    browser.submit("#sign-in");
    // The admin's overview: the exact counts, labelled as such.
    browser.goto(&format!("{base}/dashboard"));
    let reports: u64 = browser
        .text("#reports-eu")
        .replace(',', "")
        .parse()
        .expect("a report count");
    assert!(reports > 0, "eu received reports");
    assert!(
        browser
            .text("#exact-counts")
            .contains("not differentially private")
    );
    assert!(browser.count("svg .series") > 0, "reports-per-day chart");
    browser.screenshot(&shots.join("10-overview-admin.png"));
    browser.goto(&format!("{base}/dashboard/audit"));
    assert_eq!(browser.text("#chain-eu"), "chain intact");
    assert!(browser.text("#audit-eu").contains("demo-analyst"));
    browser.screenshot(&shots.join("09-audit-log.png"));
}

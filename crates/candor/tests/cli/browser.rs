//! `candor demo` end to end, and its dashboard in a real browser.
//!
//! Runs the README's first command (`candor demo`, default fleet) on a free
//! port in a temporary directory, checks the summary it prints, then drives
//! Debian's headless chromium through chromedriver (W3C WebDriver): a wrong
//! token is refused, the right one signs in, the overview with its active
//! devices, a metric's chart and numbers (equal to the query API's for the
//! same query), a bad ε echoed as typed, the retention heat map, the
//! budget, the audit log and the keys pages render.
//!
//! Every page is also looked at, at desktop width and at 390 px (a phone):
//! a screenshot of the whole page goes to `target/screenshots/` (in the
//! build's target directory) for people
//! to judge; a script in the page checks that no text runs past its SVG or
//! its box and that nothing is wider than the screen; and axe-core (npm
//! `axe-core`, installed by `.ci/run` into `tools/node_modules`, or found
//! through `CANDOR_AXE`) reports no serious or critical accessibility
//! violation. Without axe-core the check is skipped loudly, and fails under
//! `CANDOR_REQUIRE_SERVICES=1` (CI).

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

/// Where the screenshots go: `screenshots/` in the build's target directory.
fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../screenshots")
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
        // Read to the end even after the caller stopped listening: a
        // closed pipe would make the demo's next line fail and end it.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
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

/// The page widths every page is looked at: a desktop and a phone.
const WIDTHS: [(u32, u32, bool, &str); 2] =
    [(1280, 1000, false, "desktop"), (390, 844, true, "390px")];

/// Finds, in the page, text that runs past its SVG or its box, and anything
/// wider than the screen; returns one line per problem. Hidden elements
/// (the other width's chart, folded rows, screen-reader text) are skipped,
/// and so are boxes made to scroll sideways (wide tables on a phone).
const OVERFLOW_CHECK: &str = r#"
const problems = [];
const vw = document.documentElement.clientWidth;
const name = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
  (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : '');
const scrolls = e => { for (let p = e.parentElement; p; p = p.parentElement) {
  const o = getComputedStyle(p).overflowX; if (o === 'auto' || o === 'scroll') return true; } return false; };
if (document.documentElement.scrollWidth > vw + 1)
  problems.push('the page is ' + document.documentElement.scrollWidth + ' px wide on a ' + vw + ' px screen');
for (const t of document.querySelectorAll('svg text')) {
  const svg = t.ownerSVGElement;
  if (!svg || svg.getClientRects().length === 0) continue;
  const r = t.getBoundingClientRect(), b = svg.getBoundingClientRect();
  if (r.width === 0) continue;
  if (r.left < b.left - 1 || r.right > b.right + 1 || r.top < b.top - 1 || r.bottom > b.bottom + 1)
    problems.push('chart text "' + t.textContent + '" runs past its SVG (' + Math.round(r.left) + '..' +
      Math.round(r.right) + ' in ' + Math.round(b.left) + '..' + Math.round(b.right) + ')');
  if (r.height < 9) problems.push('chart text "' + t.textContent + '" is ' + r.height.toFixed(1) + ' px high');
}
for (const e of document.body.querySelectorAll('*')) {
  if (e.closest('svg') || e.closest('.sr') || e.getClientRects().length === 0) continue;
  if (e.tagName === 'DETAILS' && !e.open) continue;
  const o = getComputedStyle(e).overflowX;
  if (e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1 && o !== 'auto' && o !== 'scroll')
    problems.push(name(e) + ' holds ' + e.scrollWidth + ' px of content in ' + e.clientWidth + ' px');
  const r = e.getBoundingClientRect();
  if (r.width > 0 && (r.right > vw + 1 || r.left < -1) && !scrolls(e))
    problems.push(name(e) + ' reaches past the screen (' + Math.round(r.left) + '..' + Math.round(r.right) + ' of ' + vw + ')');
}
return problems.slice(0, 20);
"#;

/// Runs axe-core on the page: how many rules passed, and its serious and
/// critical violations.
const AXE_RUN: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document).then(r => done({
  passes: r.passes.length,
  violations: r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => v.impact + ' ' + v.id + ': ' + v.help + ' (' +
      v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ') + ')'),
})).catch(e => done({ passes: 0, error: String(e) }));
"#;

/// axe-core's script, or `None` (said on stderr) when it is not installed
/// outside CI.
fn axe_source() -> Option<String> {
    let path = std::env::var_os("CANDOR_AXE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../tools/node_modules/axe-core/axe.min.js")
        });
    match std::fs::read_to_string(&path) {
        Ok(source) => Some(source),
        Err(e) if std::env::var("CANDOR_REQUIRE_SERVICES").is_ok_and(|v| v == "1") => panic!(
            "axe-core is required (CANDOR_REQUIRE_SERVICES=1) but {} cannot be read ({e}); \
             run `npm ci --prefix tools` (.ci/run does)",
            path.display()
        ),
        Err(e) => {
            eprintln!(
                "SKIPPED the accessibility check: axe-core not found at {} ({e}); \
                 run `npm ci --prefix tools` or set CANDOR_AXE",
                path.display()
            );
            None
        }
    }
}

/// Looks at the page now shown at each of [`WIDTHS`]: a whole-page
/// screenshot, the overflow check, axe-core. Problems are collected, so
/// one run reports every page's.
struct Looker {
    shots: PathBuf,
    axe: Option<String>,
    problems: Vec<String>,
    looked: usize,
}

impl Looker {
    fn look(&mut self, browser: &Browser, name: &str) {
        for (width, height, mobile, label) in WIDTHS {
            browser.viewport(width, height, mobile);
            // A phone lays a page that is too wide out wider than its
            // screen (and shrinks it): that is a problem of the page.
            let inner = browser.execute("return window.innerWidth;", json!([]));
            if inner.as_u64() != Some(u64::from(width)) {
                self.problems.push(format!(
                    "{name} at {label}: laid out {inner} px wide on a {width} px screen"
                ));
            }
            let full = browser
                .execute("return document.documentElement.scrollHeight;", json!([]))
                .as_u64()
                .unwrap_or(u64::from(height));
            // The whole page in one image (bounded: chromium's limit).
            browser.viewport(
                width,
                u32::try_from(full.clamp(u64::from(height), 8000)).unwrap_or(height),
                mobile,
            );
            browser.screenshot(&self.shots.join(format!("{name}-{label}.png")));
            let overflow = browser.execute(OVERFLOW_CHECK, json!([]));
            let overflow = overflow
                .as_array()
                .unwrap_or_else(|| panic!("the overflow check answered {overflow}"));
            for p in overflow {
                self.problems
                    .push(format!("{name} at {label}: {}", p.as_str().unwrap_or("?")));
            }
            if let Some(source) = &self.axe {
                let loaded = browser.execute(
                    &format!("{source}\n;return typeof axe === 'object';"),
                    json!([]),
                );
                assert_eq!(loaded, json!(true), "axe-core did not load");
                let result = browser.execute_async(AXE_RUN, json!([]));
                // Rules that passed prove axe looked at the page.
                assert!(
                    result["passes"].as_u64().is_some_and(|n| n > 0),
                    "axe-core answered {result}"
                );
                for v in result["violations"].as_array().into_iter().flatten() {
                    self.problems
                        .push(format!("{name} at {label}: {}", v.as_str().unwrap_or("?")));
                }
            }
        }
        browser.viewport(WIDTHS[0].0, WIDTHS[0].1, false);
        self.looked += 1;
    }
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

    // The bare address leads to the dashboard; an unknown route says so
    // in its body; there is a favicon.
    let no_redirects: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let root = no_redirects.get(&format!("{base}/")).call().expect("GET /");
    assert!(root.status().is_redirection(), "{}", root.status());
    assert_eq!(
        root.headers().get("location").and_then(|v| v.to_str().ok()),
        Some("/dashboard")
    );
    let missing = agent()
        .get(&format!("{base}/no/such/page"))
        .call()
        .expect("GET");
    assert_eq!(missing.status().as_u16(), 404);
    let text = missing.into_body().read_to_string().expect("body");
    assert!(text.contains("not_found"), "a 404 with a body: {text:?}");
    let icon = agent()
        .get(&format!("{base}/favicon.ico"))
        .call()
        .expect("favicon");
    assert_eq!(icon.status().as_u16(), 200);
    assert!(
        icon.into_body()
            .read_to_string()
            .expect("svg")
            .starts_with("<svg")
    );

    let mut looker = Looker {
        shots: screenshots(),
        axe: axe_source(),
        problems: Vec::new(),
        looked: 0,
    };
    let browser = Browser::start(free_port());

    // Not signed in: `/` leads to the sign-in page. A wrong token is refused.
    browser.goto(&format!("{base}/"));
    assert!(
        browser.url().ends_with("/dashboard/login"),
        "{}",
        browser.url()
    );
    looker.look(&browser, "01-sign-in");
    browser.type_into("#token", "cndr_not_a_real_token");
    browser.submit("#sign-in");
    assert!(
        browser.text("#login-error").contains("unknown or revoked"),
        "a wrong token must be refused"
    );
    looker.look(&browser, "02-wrong-token");

    // Signed in as an analyst: the overview shows active devices (released
    // daily values as a line, weekly and monthly totals), which days are
    // released, and no exact count (those are for admins). No link leads
    // to a page an analyst may not open.
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
    assert_eq!(
        browser.count("nav a[href=\"/dashboard/audit\"]"),
        0,
        "no audit link for analysts"
    );
    assert!(browser.count("nav a[href=\"/dashboard/retention\"]") == 1);
    assert!(browser.text("#active-devices").contains("Active devices"));
    assert!(
        browser.count("figure.chart svg.wide .series") > 0,
        "daily active devices drawn"
    );
    let weekly: Vec<f64> = browser
        .attributes("#active-periods td.value", "data-value")
        .iter()
        .map(|v| v.parse().expect("a number"))
        .collect();
    assert!(
        !weekly.is_empty(),
        "weekly or monthly active devices released"
    );
    assert!(browser.text("#active-periods").contains("week "));
    looker.look(&browser, "03-overview");
    // Seen again: the saved answers, nothing spent.
    browser.goto(&format!("{base}/dashboard"));
    assert!(
        browser.text("#activity-spend").contains(" 0 new"),
        "{}",
        browser.text("#activity-spend")
    );

    // The explorer opens on a metric worth seeing in a region with reports,
    // over closed days: released as it opens, a chart with lines, bands,
    // a title and a unit.
    browser.goto(&format!("{base}/dashboard/explore"));
    looker.look(&browser, "04-explore-form");
    browser.submit("#release");
    assert!(browser.text("#answer-title").contains("app.opened"));
    assert_eq!(
        browser.count("#nothing-released"),
        0,
        "the default question releases something"
    );
    assert!(browser.count("svg .series") > 0, "a line per label");
    assert!(browser.count("svg .band") > 0, "interval bands");
    assert!(browser.text("h3.chart-title").contains("per day"));
    // app.opened has eight labels: at most a handful of lines, the rest
    // folded into "other" and marked in the table.
    assert!(
        browser.count("figure.chart figcaption .key line") <= 5,
        "at most five series"
    );
    assert!(browser.text("#not-drawn").contains("marked in the table"));
    assert!(browser.text("#groups").contains("in “other”"));
    let shown: Vec<f64> = browser
        .attributes("#groups td.value, #groups-more td.value", "data-value")
        .iter()
        .map(|v| v.parse().expect("a number"))
        .collect();
    assert!(!shown.is_empty(), "released numbers are shown");
    looker.look(&browser, "05-metric");

    // The same query through the API: the cached answer, the same numbers.
    let region = browser
        .attributes("#region option[selected]", "value")
        .remove(0);
    let from = browser.attributes("#from", "value").remove(0);
    let to = browser.attributes("#to", "value").remove(0);
    let api: Value = agent()
        .post(&format!("{base}/v1/query"))
        .header("authorization", &format!("Bearer {analyst}"))
        .header("content-type", "application/json")
        .send(
            json!({"region": region, "metric": "app.opened", "from": from, "to": to,
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
    let mut api_values: Vec<f64> = api["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| g["value"].as_f64().expect("value"))
        .collect();
    let mut shown = shown;
    shown.sort_by(f64::total_cmp);
    api_values.sort_by(f64::total_cmp);
    assert_eq!(shown, api_values, "dashboard and API show the same numbers");

    // ε that is not a number: echoed as typed, with the reason, and
    // nothing released.
    browser.type_into("#epsilon", "abc");
    browser.submit("#release");
    assert_eq!(browser.attributes("#epsilon", "value"), ["abc"]);
    assert!(browser.text("#epsilon-error").contains("“abc” is not one"));
    assert_eq!(browser.count("#answer-title"), 0, "nothing released");
    looker.look(&browser, "06-bad-epsilon");

    // A domain set, grouped over the whole range: bars, and no rare domain.
    browser.goto(&format!("{base}/dashboard/explore"));
    browser.select("#metric", "browser.slow_domains");
    browser.select("#region", "eu");
    browser.click("#group-day");
    browser.submit("#release");
    assert!(browser.text("#suppressed").contains("not disclosed"));
    looker.look(&browser, "07-domains");

    // The retention table: install cohort × weeks since install, a heat
    // map with its legend, numbers in the cells, withheld cells marked.
    browser.goto(&format!("{base}/dashboard/retention?region=eu"));
    assert!(browser.text("#retention").contains("installed"));
    assert!(browser.text("#heat-legend").contains("withheld"));
    let cells: Vec<f64> = browser
        .attributes("#retention td[data-value]", "data-value")
        .iter()
        .map(|v| v.parse().expect("a number"))
        .collect();
    assert!(
        cells.iter().any(|v| *v > 0.0),
        "retention cells released: {cells:?}"
    );
    looker.look(&browser, "08-retention");

    browser.goto(&format!("{base}/dashboard/budget"));
    assert!(browser.text("#budget-eu").contains("app.opened"));
    assert!(
        browser.text("#budget-eu").contains("app.active"),
        "the overview's releases are charged"
    );
    looker.look(&browser, "09-budget");
    browser.goto(&format!("{base}/dashboard/keys"));
    assert!(browser.text("#regions").contains("GDPR"));
    looker.look(&browser, "10-keys-and-regions");
    browser.goto(&format!("{base}/privacy"));
    looker.look(&browser, "11-privacy-page");

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
    assert_eq!(browser.count("nav a[href=\"/dashboard/audit\"]"), 1);
    looker.look(&browser, "12-overview-admin");
    browser.goto(&format!("{base}/dashboard/audit"));
    assert_eq!(browser.text("#chain-eu"), "chain intact");
    // The analyst's releases are in the log, in its folded rows too (the
    // admin's own overview visit comes first).
    let page = browser.execute("return document.body.textContent;", json!([]));
    let page = page.as_str().unwrap_or_default();
    assert!(page.contains("demo-analyst"), "{page}");
    looker.look(&browser, "13-audit-log");

    assert_eq!(looker.looked, 13);
    assert!(
        looker.problems.is_empty(),
        "{} problems seen in the pages (screenshots in {}):\n{}",
        looker.problems.len(),
        looker.shots.display(),
        looker.problems.join("\n")
    );
}

//! `candor query`: ask a collector's analyst API (`POST /v1/query`) and
//! print the released answer as a table, JSON or CSV.
//!
//! The bearer token comes from `--token` or, better (it stays out of the
//! process list and the shell history), the `CANDOR_TOKEN` environment
//! variable. It is sent in the `Authorization` header and printed nowhere.
//! Exit 0 with an answer, 1 when the collector refused the query (bad
//! token, out of scope, budget spent, malformed), 2 when it could not be
//! asked at all.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use candor_api::{Answer, DAY, Query, last_whole_month, last_whole_week, number};
use candor_time::{Day, IsoWeek, Month, format_day};
use clap::Args;

/// The environment variable holding the bearer token.
const TOKEN_ENV: &str = "CANDOR_TOKEN";

/// The largest answer read, bytes.
const MAX_ANSWER_BYTES: u64 = 64 << 20;

/// A bearer token: its `Debug` shows nothing of it.
#[derive(Clone)]
pub(crate) struct Secret(String);

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

impl Secret {
    /// The `Authorization` header's value.
    pub(crate) fn authorization(&self) -> String {
        format!("Bearer {}", self.0.trim())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Arguments of `candor query`.
#[derive(Debug, Args)]
pub(crate) struct QueryArgs {
    /// Base URL of the collector.
    #[arg(long, env = "CANDOR_URL", default_value = "http://127.0.0.1:8750")]
    url: String,
    /// Bearer token (default: the CANDOR_TOKEN environment variable, which
    /// keeps it out of the process list).
    #[arg(long)]
    token: Option<Secret>,
    /// Region whose data to ask about.
    #[arg(long)]
    region: String,
    /// Metric id (e.g. browser.tabs_opened).
    #[arg(long)]
    metric: String,
    /// First day, YYYY-MM-DD (UTC), inclusive; default: six days before
    /// `--to`.
    #[arg(long)]
    from: Option<String>,
    /// Last day, YYYY-MM-DD (UTC), inclusive; default: the region's last
    /// closed day (today minus its report window, minus one), the newest
    /// day the collector releases.
    #[arg(long)]
    to: Option<String>,
    /// Group by `day` and/or the metric's dimensions, comma-separated.
    #[arg(long, value_delimiter = ',')]
    group_by: Vec<String>,
    /// Keep only rows whose dimension takes one of the values:
    /// `DIMENSION=VALUE[,VALUE…]`; repeatable.
    #[arg(long = "filter", value_name = "DIMENSION=VALUES")]
    filters: Vec<String>,
    /// Only these cells (labels, categories, true/false, bucket indices),
    /// comma-separated; all by default.
    #[arg(long, value_delimiter = ',')]
    cells: Vec<String>,
    /// For an activity metric, the release to make: `daily` (active
    /// devices per day), `new` (new devices per day), `weekly` (active
    /// devices in one ISO week), `monthly` (in one month) or `retention`
    /// (one week's column of the retention table: devices active that week
    /// by install cohort). Sets the cells and, for the periods, the range.
    #[arg(long, value_enum, conflicts_with = "cells")]
    active: Option<Active>,
    /// With `--active weekly` or `retention`: the ISO week (YYYY-Www);
    /// default: the last whole week up to `--to`.
    #[arg(long, conflicts_with_all = ["from", "month"])]
    week: Option<String>,
    /// With `--active monthly`: the month (YYYY-MM); default: the last
    /// whole month up to `--to`.
    #[arg(long, conflicts_with = "from")]
    month: Option<String>,
    /// ε to spend per day of the range (central DP); the metric's own ε by
    /// default.
    #[arg(long)]
    epsilon: Option<f64>,
    /// Schema id, needed only when several served schemas declare the metric.
    #[arg(long)]
    schema: Option<String>,
    /// Print the answer's JSON as the collector returned it.
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Ask for and print CSV (one line per released group).
    #[arg(long)]
    csv: bool,
}

/// The releases of an activity metric (docs/api.md, "Active devices and
/// retention").
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Active {
    /// Active devices per day (`today`).
    Daily,
    /// New devices per day (`new`).
    New,
    /// Active devices in one ISO week (`week`).
    Weekly,
    /// Active devices in one calendar month (`month`).
    Monthly,
    /// Active devices of one ISO week by install cohort (`w0`… `older`).
    Retention,
}

/// The cells, range and grouping of an `--active` release (candor-api's
/// activity queries, the ones the dashboard asks too, so both meet the same
/// cached answers), the range ending at `to` unless `--week` or `--month`
/// names the period. The flags' schema, filters, ε and any `--group-by`
/// are kept.
fn active_query(
    agent: &ureq::Agent,
    args: &QueryArgs,
    active: Active,
    query: &mut Query,
) -> Result<()> {
    let to = Day::parse(&query.to)
        .context("--to is not a day (YYYY-MM-DD)")?
        .number();
    let (region, metric) = (query.region.as_str(), query.metric.as_str());
    let week = || -> Result<IsoWeek> {
        match &args.week {
            Some(w) => IsoWeek::parse(w).context("--week is not an ISO week (YYYY-Www)"),
            None => last_whole_week(to).context("no whole week ends by --to"),
        }
    };
    let built = match active {
        Active::Daily | Active::New => {
            let from = Day::parse(&query.from)
                .context("--from is not a day (YYYY-MM-DD)")?
                .number();
            if active == Active::Daily {
                Query::active_daily(region, metric, from, to)
            } else {
                Query::new_devices(region, metric, from, to)
            }
        }
        Active::Weekly => Query::active_weekly(region, metric, week()?),
        Active::Retention => {
            let weeks = cohort_weeks(agent, &args.url, &args.metric)?;
            let weeks = u8::try_from(weeks).context("the metric's cohort_weeks is above 255")?;
            Query::retention_column(region, metric, week()?, weeks)
        }
        Active::Monthly => {
            let month = match &args.month {
                Some(m) => Month::parse(m).context("--month is not a month (YYYY-MM)")?,
                None => last_whole_month(to).context("no whole month ends by --to")?,
            };
            Query::active_monthly(region, metric, month)
        }
    };
    let group_by = if query.group_by.is_empty() {
        built.group_by.clone()
    } else {
        std::mem::take(&mut query.group_by)
    };
    *query = Query {
        schema: query.schema.take(),
        filters: std::mem::take(&mut query.filters),
        epsilon: query.epsilon,
        group_by,
        ..built
    };
    Ok(())
}

/// An activity metric's `cohort_weeks`, from the collector's `/v1/schema`.
fn cohort_weeks(agent: &ureq::Agent, base: &str, metric: &str) -> Result<u64> {
    let json = schemas(agent, base)?;
    json["schemas"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|s| s["metrics"][metric]["cohort_weeks"].as_u64())
        .with_context(|| format!("no served schema declares an activity metric {metric:?}"))
}

/// `DIM=a,b` flags as the query's filter map (values of a repeated
/// dimension add up).
fn parse_filters(flags: &[String]) -> Result<BTreeMap<String, Vec<String>>> {
    let mut filters: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for flag in flags {
        let Some((dim, values)) = flag.split_once('=') else {
            bail!("--filter {flag:?}: expected DIMENSION=VALUE[,VALUE…]");
        };
        let values: Vec<String> = values
            .split(',')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect();
        if dim.trim().is_empty() || values.is_empty() {
            bail!("--filter {flag:?}: expected DIMENSION=VALUE[,VALUE…]");
        }
        filters
            .entry(dim.trim().to_owned())
            .or_default()
            .extend(values);
    }
    Ok(filters)
}

/// The problem+json fields shown on a refusal.
#[derive(serde::Deserialize)]
struct Problem {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

/// The bearer token: `--token`, else [`TOKEN_ENV`].
pub(crate) fn bearer_token(flag: Option<&Secret>) -> Result<Secret> {
    match flag {
        Some(t) => Ok(t.clone()),
        None => match std::env::var(TOKEN_ENV) {
            Ok(t) if !t.trim().is_empty() => Ok(Secret(t)),
            _ => bail!("no token: pass --token or set {TOKEN_ENV}"),
        },
    }
}

/// The command line's HTTP agent: answers of every status are returned,
/// not turned into errors, and a slow collector is given two minutes.
pub(crate) fn http_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(120)))
        .http_status_as_error(false)
        .user_agent("candor-cli")
        .build()
        .into()
}

pub(crate) fn run(args: QueryArgs) -> Result<ExitCode> {
    let token = bearer_token(args.token.as_ref())?;
    let agent = http_agent();
    let (from, to) = match (&args.from, &args.to) {
        (Some(from), Some(to)) => (from.clone(), to.clone()),
        (from, to) => {
            let to = match to {
                Some(to) => to.clone(),
                None => format_day(last_closed_day(&agent, &args.url, &args.region)?),
            };
            let from = match from {
                Some(from) => from.clone(),
                None => format_day(
                    Day::parse(&to)
                        .context("--to is not a day (YYYY-MM-DD)")?
                        .number()
                        - 6,
                ),
            };
            (from, to)
        }
    };
    let mut query = Query {
        region: args.region.clone(),
        metric: args.metric.clone(),
        schema: args.schema.clone(),
        from,
        to,
        group_by: args.group_by.clone(),
        filters: parse_filters(&args.filters)?,
        cells: args.cells.clone(),
        epsilon: args.epsilon,
    };
    if let Some(active) = args.active {
        active_query(&agent, &args, active, &mut query)?;
    }
    let body = serde_json::to_vec(&query).context("encoding the query")?;
    let mut url = format!("{}/v1/query", args.url.trim_end_matches('/'));
    if args.csv {
        url.push_str("?format=csv");
    }
    let response = agent
        .post(&url)
        .header("authorization", &token.authorization())
        .header("content-type", "application/json")
        .header(
            "accept",
            if args.csv {
                "text/csv"
            } else {
                "application/json"
            },
        )
        .send(&body[..])
        .with_context(|| format!("cannot reach the collector at {}", args.url))?;
    let status = response.status().as_u16();
    let text = response
        .into_body()
        .with_config()
        .limit(MAX_ANSWER_BYTES)
        .read_to_string()
        .context("reading the collector's answer")?;
    if !(200..300).contains(&status) {
        report_refusal(status, &text);
        return Ok(ExitCode::from(1));
    }
    let mut out = std::io::stdout().lock();
    if args.json || args.csv {
        out.write_all(text.as_bytes())?;
        if !text.ends_with('\n') {
            out.write_all(b"\n")?;
        }
    } else {
        let answer: Answer = serde_json::from_str(&text)
            .context("the collector's answer is not an answer of this version")?;
        out.write_all(render(&answer).as_bytes())?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The region's last closed day by this machine's UTC clock, from the
/// report windows the collector's schemas declare (`GET /v1/schema`): the
/// earliest over the schemas that declare the region.
fn last_closed_day(agent: &ureq::Agent, base: &str, region: &str) -> Result<i32> {
    let json = schemas(agent, base)?;
    let window = json["schemas"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["regions"][region]["report_window_days"].as_i64())
        .max()
        .with_context(|| format!("the collector's schemas declare no region {region:?}"))?;
    let today = Day::from(super::today()).number();
    Ok(today - window as i32 - 1)
}

/// The collector's served schemas (`GET /v1/schema`).
fn schemas(agent: &ureq::Agent, base: &str) -> Result<serde_json::Value> {
    let url = format!("{}/v1/schema", base.trim_end_matches('/'));
    let text = agent
        .get(&url)
        .call()
        .with_context(|| format!("cannot reach the collector at {base}"))?
        .into_body()
        .with_config()
        .limit(MAX_ANSWER_BYTES)
        .read_to_string()
        .context("reading the collector's schemas")?;
    serde_json::from_str(&text).context("the collector's /v1/schema is not JSON")
}

/// Prints a refusal's title (verbatim: a budget refusal names the metric,
/// the days and what is left) and code on stderr.
fn report_refusal(status: u16, text: &str) {
    match serde_json::from_str::<Problem>(text) {
        Ok(Problem {
            title: Some(title),
            code,
        }) => {
            let code = code.unwrap_or_else(|| format!("http_{status}"));
            eprintln!("error: {title}");
            eprintln!("(HTTP {status}, code {code})");
        }
        _ => {
            let shown: String = text.chars().take(500).collect();
            eprintln!(
                "error: the collector answered HTTP {status}: {}",
                shown.trim()
            );
        }
    }
}

/// An answer as a header and one table row per released group.
fn render(a: &Answer) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line(format!(
        "metric     {} ({}, schema {}), region {}, {} to {}",
        a.query.metric, a.metric_type, a.schema, a.query.region, a.query.from, a.query.to
    ));
    line(format!("purpose    {}", a.purpose));
    let mut mechanism = format!("{}, ε = {}", a.mechanism, a.epsilon);
    if let Some(delta) = a.delta {
        mechanism.push_str(&format!(", δ = {delta:e}"));
    }
    mechanism.push_str(&format!(", k = {}", a.k_min));
    if let Some(scale) = a.noise_scale {
        mechanism.push_str(&format!(", noise scale {}", number(scale)));
    }
    if let Some(tau) = a.threshold {
        mechanism.push_str(&format!(", threshold {}", number(tau.ceil())));
    }
    if let Some(scale) = a.selection_noise_scale {
        mechanism.push_str(&format!(" on counts with noise scale {}", number(scale)));
    }
    line(format!("mechanism  {mechanism}"));
    line(format!(
        "budget     ε spent {}, least remaining on a day of the range {}",
        a.epsilon_spent, a.budget_remaining
    ));
    line(format!(
        "cached     {}",
        if a.cached {
            "yes (the earlier answer; nothing spent)"
        } else {
            "no"
        }
    ));
    line(String::new());

    let by_day = a.groups.iter().any(|g| g.day.is_some());
    let dims: Vec<&String> = a.query.group_by.iter().filter(|g| *g != DAY).collect();
    let with_cell = a.groups.iter().any(|g| g.cell.is_some());
    let with_bucket = a.groups.iter().any(|g| g.bucket.is_some());
    let with_share = a.groups.iter().any(|g| g.share.is_some());
    let mut header: Vec<&str> = Vec::new();
    if by_day {
        header.push("day");
    }
    header.extend(dims.iter().map(|d| d.as_str()));
    if with_cell {
        header.push("cell");
    }
    if with_bucket {
        header.push("bucket");
    }
    header.extend(["value", "95% interval"]);
    if with_share {
        header.push("share");
    }
    let rows: Vec<Vec<String>> = a
        .groups
        .iter()
        .map(|g| {
            let mut row = Vec::new();
            if by_day {
                row.push(g.day.clone().unwrap_or_default());
            }
            for d in &dims {
                row.push(g.dimensions.get(*d).cloned().unwrap_or_default());
            }
            if with_cell {
                row.push(g.cell.clone().unwrap_or_default());
            }
            if with_bucket {
                row.push(g.bucket.clone().unwrap_or_default());
            }
            // Counts for people are clamped at 0; --json and --csv keep
            // the raw noisy values.
            row.push(number(g.value.max(0.0)));
            row.push(format!(
                "[{}, {}]",
                number(g.ci95[0].max(0.0)),
                number(g.ci95[1].max(0.0))
            ));
            if with_share {
                row.push(
                    g.share
                        .map(|s| format!("{:.1}%", s * 100.0))
                        .unwrap_or_default(),
                );
            }
            row
        })
        .collect();
    if rows.is_empty() {
        out.push_str("No group released.\n");
    } else {
        out.push_str(&super::table(&header, &rows));
    }
    out.push('\n');
    match a.suppressed {
        Some(n) => out.push_str(&format!(
            "{n} {} suppressed (noisy device count below k = {})\n",
            if n == 1 { "group" } else { "groups" },
            a.k_min
        )),
        None => out.push_str(
            "Suppressed groups: not disclosed for open sets (their number is itself sensitive)\n",
        ),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_merge_by_dimension() {
        let f =
            parse_filters(&["platform=android,ios".into(), "platform=exampleos".into()]).unwrap();
        assert_eq!(f["platform"], ["android", "ios", "exampleos"]);
        assert!(parse_filters(&["platform".into()]).is_err());
        assert!(parse_filters(&["platform=".into()]).is_err());
    }

    #[test]
    fn a_secret_does_not_debug_print() {
        let s = Secret("cndr_secret".into());
        assert!(!format!("{s:?}").contains("cndr"));
    }
}

//! Active devices and retention: the overview's active-devices section and
//! the retention page, both drawn from releases of the activity metric.
//!
//! Every number here is a release through the analyst service, with the
//! very queries `candor query --active …` sends ([`candor_api::Query`]'s
//! activity builders), so noise, k, sensitivity and budget are the query
//! API's and a question asked here or on the command line meets the same
//! cached answer. The periods are fixed so that a page seen again (even on
//! a later day) asks the same questions and spends nothing: daily values
//! are released one whole ISO week at a time (and, for the days after the
//! last whole week, one day at a time), weekly and retention values one
//! week each, monthly values one month each.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Query as UrlQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use candor_api::{last_whole_month, last_whole_week};
use candor_schema::Metric;
use candor_time::IsoWeek;

use super::html::{self, esc, fmt_num, table, td, td_num};
use crate::Collector;
use crate::analyst::Principal;
use crate::release::{self, Answer, Query};

/// Whole ISO weeks of daily values and weekly totals on the overview.
const OVERVIEW_WEEKS: i32 = 4;
/// Weeks (install cohorts, and weeks since install) of the retention table.
const RETENTION_WEEKS: i32 = 8;

/// The first activity metric `who` may release, if any.
fn activity_metric<'a>(c: &'a Collector, who: &Principal) -> Option<&'a Metric> {
    c.analyst()
        .metrics_in_scope(&who.scope)
        .into_iter()
        .find(|m| m.kind.cohort_weeks().is_some())
}

/// The region a page shows: the one asked for (`?region=`) if in scope,
/// else `[dashboard] default_region` if in scope, else the first in scope.
/// Not "the first with reports": whether a region received any report is
/// an exact fact, and an analyst learns nothing exact (issue "Differential
/// privacy with no side channel").
pub(crate) fn chosen_region(c: &Collector, who: &Principal, asked: Option<&str>) -> Option<String> {
    let analyst = c.analyst();
    let configured = c.config().dashboard.default_region.as_deref();
    [asked, configured]
        .into_iter()
        .flatten()
        .find(|r| analyst.regions_in_scope(&who.scope).any(|s| s == *r))
        .or_else(|| analyst.regions_in_scope(&who.scope).next())
        .map(str::to_owned)
}

/// The last `n` whole ISO weeks up to `last_week`, oldest first. All are
/// asked (and charged) whether or not devices reported in them: which
/// weeks hold reports is for the noisy answers to say.
fn last_weeks(last_week: IsoWeek, n: i32) -> Vec<IsoWeek> {
    (0..n)
        .rev()
        .filter_map(|i| IsoWeek::from_index(last_week.index() - i))
        .collect()
}

/// Links to the same page for each region in scope, the shown one marked.
fn region_picker(c: &Collector, who: &Principal, path: &str, shown: &str) -> String {
    let mut out = String::from("<p class=\"picker\" id=\"regions\">Region: ");
    for r in c.analyst().regions_in_scope(&who.scope) {
        if r == shown {
            let _ = write!(
                out,
                "<a class=\"current\" aria-current=\"page\" href=\"{path}?region={0}\">{0}</a>",
                esc(r)
            );
        } else {
            let _ = write!(out, "<a href=\"{path}?region={0}\">{0}</a>", esc(r));
        }
    }
    out.push_str("</p>");
    out
}

/// A released count as shown to people: clamped at 0 (post-processing).
fn shown((v, lo, hi): html::Point) -> html::Point {
    (v.max(0.0), lo.max(0.0), hi.max(0.0))
}

/// What a set of releases spent and whether one failed.
#[derive(Default)]
struct Spend {
    epsilon: f64,
    saved: usize,
    fresh: usize,
    errors: BTreeMap<&'static str, String>,
}

impl Spend {
    fn release(&mut self, c: &Collector, who: &Principal, q: &Query) -> Option<Answer> {
        match c.analyst().query_as(who, q) {
            Ok(a) => {
                self.epsilon = self.epsilon.max(a.epsilon_spent);
                if a.cached {
                    self.saved += 1;
                } else {
                    self.fresh += 1;
                }
                Some(a)
            }
            Err(e) => {
                self.errors.entry(e.code()).or_insert_with(|| e.to_string());
                None
            }
        }
    }

    /// One line on what the releases cost, and each kind of refusal.
    fn html(&self) -> String {
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        let fresh = if self.fresh == 0 {
            "0 new".to_owned()
        } else {
            format!(
                "{} new (each spending ε {} on each day it covers)",
                self.fresh,
                release_epsilon(self.epsilon)
            )
        };
        let mut out = format!(
            "<p class=\"small-note\" id=\"activity-spend\">{} release{} asked: {fresh}, {} saved answer{} \
             at no cost.</p>",
            self.saved + self.fresh,
            plural(self.saved + self.fresh),
            self.saved,
            plural(self.saved),
        );
        for (code, message) in &self.errors {
            let _ = write!(
                out,
                "<p class=\"warn\">Some values were not released (<code>{}</code>): {}</p>",
                esc(code),
                esc(message)
            );
        }
        out
    }
}

/// ε summed over releases, for people.
fn release_epsilon(e: f64) -> String {
    format!("{}", (e * 1000.0).round() / 1000.0)
}

/// Why a release shows nothing, in words.
fn why_empty(region: &str, k: Option<u32>) -> String {
    format!(
        "Nothing was released: either no device in region {} reported activity on these days, or fewer \
         than k{} did (the count compared with k is itself noisy, so a group near k may be withheld).",
        esc(region),
        k.map(|k| format!(" = {k}")).unwrap_or_default()
    )
}

/// The overview's active-devices section for `region`: daily active devices
/// over the last whole weeks and the days since, weekly active devices for
/// those weeks, monthly active devices for the last whole month.
pub(crate) fn overview_section(c: &Collector, who: &Principal, region: &str) -> String {
    let mut out = String::from("<h2 id=\"active-devices\">Active devices</h2>");
    if !who.role.may_query() {
        out.push_str(
            "<p class=\"note\">Active devices are released data; auditor tokens read the ledger and the \
             audit log, not data.</p>",
        );
        return out;
    }
    let Some(metric) = activity_metric(c, who) else {
        out.push_str(
            "<p class=\"note\">No activity metric is declared for the purposes this token covers.</p>",
        );
        return out;
    };
    out.push_str(&region_picker(c, who, "/dashboard", region));
    let last = c.analyst().last_closed_day(region);
    let Some(last_week) = last_whole_week(last) else {
        return out;
    };
    let weeks = last_weeks(last_week, OVERVIEW_WEEKS);
    let first = weeks.first().map_or(last, |w| *w.days().start());
    let _ = write!(
        out,
        "<p class=\"note\">Devices that used the app (<code>{}</code>), counted on the device without any \
         identifier and released with differential privacy like every other number here. A device active \
         on several days of a week counts once in that week's total. Each value is released once, for a \
         whole week (or day, after the last whole week) and saved: the first view spends the metric's ε on \
         each day it covers, later views show the saved answer.</p>",
        esc(&metric.id)
    );
    let mut spend = Spend::default();
    let mut k = None;
    // Daily: one release per whole week, then one per day.
    let mut daily: BTreeMap<i32, html::Point> = BTreeMap::new();
    let mut asks: Vec<Query> = weeks
        .iter()
        .map(|w| Query::active_daily(region, &metric.id, *w.days().start(), *w.days().end()))
        .collect();
    asks.extend(
        (last_week.days().end() + 1..=last).map(|d| Query::active_daily(region, &metric.id, d, d)),
    );
    for q in &asks {
        if let Some(a) = spend.release(c, who, q) {
            k = Some(a.k_min);
            for g in &a.groups {
                if let Some(d) = g.day.as_deref().and_then(release::parse_day) {
                    daily.insert(d, shown((g.value, g.ci95[0], g.ci95[1])));
                }
            }
        }
    }
    // Days before the first released day are left out (post-processing of
    // the noisy answers only): a fleet that started reporting recently
    // should not sit behind weeks of withheld days.
    let start = daily.keys().next().copied().unwrap_or(first);
    let days: Vec<i32> = (start..=last).collect();
    if daily.is_empty() {
        let _ = write!(
            out,
            "<p class=\"warn\" id=\"active-empty\">{}</p>",
            why_empty(region, k)
        );
    } else {
        let labels: Vec<String> = days
            .iter()
            .map(|d| release::format_day(*d)[5..].to_owned())
            .collect();
        out.push_str(&html::line_chart(
            &format!(
                "Daily active devices in {region}, {} to {}",
                release::format_day(start),
                release::format_day(last)
            ),
            "devices per day",
            &labels,
            &[html::Series {
                label: "active devices".into(),
                points: days.iter().map(|d| daily.get(d).copied()).collect(),
                folded: false,
            }],
        ));
    }
    // Weekly and monthly totals.
    let mut rows: Vec<Vec<String>> = Vec::new();
    for w in &weeks {
        let a = spend.release(c, who, &Query::active_weekly(region, &metric.id, *w));
        rows.push(period_row(
            &format!("week {w}"),
            &format!(
                "{} – {}",
                release::format_day(*w.days().start()),
                release::format_day(*w.days().end())
            ),
            a.as_ref(),
        ));
    }
    if let Some(month) = last_whole_month(last) {
        let a = spend.release(c, who, &Query::active_monthly(region, &metric.id, month));
        rows.push(period_row(
            &format!("month {month}"),
            &format!(
                "{} – {}",
                release::format_day(*month.days().start()),
                release::format_day(*month.days().end())
            ),
            a.as_ref(),
        ));
    }
    out.push_str("<h3>Weekly and monthly active devices (closed weeks and months)</h3>");
    out.push_str(&table(
        "active-periods",
        &["period", "days", "active devices", "95% interval"],
        &rows,
    ));
    out.push_str(&spend.html());
    out
}

/// A table row for a weekly or monthly total.
fn period_row(period: &str, days: &str, a: Option<&Answer>) -> Vec<String> {
    let value = a.and_then(|a| a.groups.first());
    match value {
        Some(g) => {
            let (v, lo, hi) = shown((g.value, g.ci95[0], g.ci95[1]));
            vec![
                td(period),
                td(days),
                format!(
                    "<td class=\"num value\" data-value=\"{}\">{}</td>",
                    g.value,
                    esc(&fmt_num(v))
                ),
                td_num(&format!("{} – {}", fmt_num(lo), fmt_num(hi))),
            ]
        }
        None => vec![
            td(period),
            td(days),
            format!(
                "<td class=\"num withheld\" colspan=\"2\">{}</td>",
                if a.is_some() {
                    "withheld: fewer than k devices (noisy count)"
                } else {
                    "not released (see below)"
                }
            ),
        ],
    }
}

pub(crate) async fn retention(
    State(c): State<Arc<Collector>>,
    headers: HeaderMap,
    UrlQuery(pairs): UrlQuery<Vec<(String, String)>>,
) -> Response {
    super::region_page(
        c,
        &headers,
        pairs,
        ("Retention", "/dashboard/retention"),
        retention_body,
    )
    .await
}

/// The heat map's colour class of a share of the cohort (0..=1).
fn heat_class(share: f64) -> &'static str {
    match share {
        s if s < 0.1 => "h0",
        s if s < 0.25 => "h1",
        s if s < 0.4 => "h2",
        s if s < 0.6 => "h3",
        s if s < 0.8 => "h4",
        _ => "h5",
    }
}

/// The legend of [`heat_class`].
const HEAT_LEGEND: [(&str, &str); 6] = [
    ("h0", "under 10%"),
    ("h1", "10–25%"),
    ("h2", "25–40%"),
    ("h3", "40–60%"),
    ("h4", "60–80%"),
    ("h5", "80% and more"),
];

fn retention_body(c: &Collector, who: &Principal, asked: Option<&str>) -> String {
    let mut out = String::new();
    if !who.role.may_query() {
        out.push_str(
            "<p class=\"note\">The retention table is released data; auditor tokens read the ledger and \
             the audit log, not data.</p>",
        );
        return out;
    }
    let (Some(metric), Some(region)) = (activity_metric(c, who), chosen_region(c, who, asked))
    else {
        out.push_str(
            "<p class=\"note\">No activity metric is declared for the purposes and regions this token covers.</p>",
        );
        return out;
    };
    let cohort_weeks = metric.kind.cohort_weeks().unwrap_or(0);
    out.push_str(&region_picker(c, who, "/dashboard/retention", &region));
    let last = c.analyst().last_closed_day(&region);
    let Some(last_week) = last_whole_week(last) else {
        return out;
    };
    let weeks = last_weeks(last_week, RETENTION_WEEKS);
    let _ = write!(
        out,
        "<p class=\"note\">Of the devices that started using the app in a week (a row: the install \
         cohort), how many were active again 1, 2, 3… weeks later (the columns), as released counts and as \
         a share of the cohort's first week. Each week's column is one release of <code>{}</code> (cells \
         <code>w0</code>…<code>w{cohort_weeks}</code>, <code>older</code>), the same as <code>candor query \
         --active retention --week …</code>: a device adds at most one to one cell of a week, and the week \
         is charged its ε once on each of its days. Hover a cell for its 95% interval; the table below the \
         map lists them all.</p>",
        esc(&metric.id)
    );
    let mut spend = Spend::default();
    let mut k = None;
    // (cohort week index, weeks since install) → released value.
    let mut cells: BTreeMap<(i32, i32), html::Point> = BTreeMap::new();
    for w in &weeks {
        let q = Query::retention_column(&region, &metric.id, *w, cohort_weeks);
        if let Some(a) = spend.release(c, who, &q) {
            k = Some(a.k_min);
            for g in &a.groups {
                let age = g
                    .cell
                    .as_deref()
                    .and_then(|c| c.strip_prefix('w'))
                    .and_then(|n| n.parse::<i32>().ok());
                if let Some(age) = age {
                    cells.insert(
                        (w.index() - age, age),
                        shown((g.value, g.ci95[0], g.ci95[1])),
                    );
                }
            }
        }
    }
    let last_index = last_week.index();
    // As many columns as weeks were asked: later ones could hold nothing.
    let ages = i32::try_from(weeks.len()).unwrap_or(RETENTION_WEEKS).max(1);
    // No week with reports: no row (and nothing was asked).
    let first = weeks.first().map_or(last_index + 1, IsoWeek::index);
    out.push_str("<div class=\"legend\" id=\"heat-legend\" aria-label=\"colour scale\"><span>Share of the cohort:</span>");
    for (class, text) in HEAT_LEGEND {
        let _ = write!(out, "<span class=\"sw {class}\">{text}</span>");
    }
    out.push_str(
        "<span class=\"sw withheld\">withheld</span><span>(fewer than k devices by noisy count, or not released)</span></div>",
    );
    let mut heat = String::from(
        "<div class=\"scroll\" tabindex=\"0\"><table class=\"heat\" id=\"retention\"><caption>Active devices by install week \
         (rows) and weeks since install (columns)</caption><thead><tr><th scope=\"col\">installed</th>",
    );
    for age in 0..ages {
        let _ = write!(
            heat,
            "<th scope=\"col\">{}{age}</th>",
            if age == 0 { "week " } else { "" }
        );
    }
    heat.push_str("</tr></thead><tbody>");
    let mut interval_rows: Vec<Vec<String>> = Vec::new();
    for cohort in first..=last_index {
        let label = IsoWeek::from_index(cohort)
            .map(|w| w.to_string())
            .unwrap_or_default();
        let _ = write!(heat, "<tr><th scope=\"row\">{}</th>", esc(&label));
        let base = cells.get(&(cohort, 0)).map(|p| p.0).filter(|v| *v > 0.0);
        for age in 0..ages {
            let week = cohort + age;
            if week > last_index {
                heat.push_str("<td class=\"out\"></td>");
                continue;
            }
            match cells.get(&(cohort, age)) {
                Some(&(v, lo, hi)) => {
                    let share = base.map(|b| (v / b).min(1.0));
                    let pct = share
                        .map(|s| format!("{:.0}%", s * 100.0))
                        .unwrap_or_else(|| "–".into());
                    let _ = write!(
                        heat,
                        "<td class=\"{}\" data-value=\"{v}\" title=\"installed {label}, {age} weeks later: {} devices \
                         (95% interval {} – {}){}\"><b>{pct}</b><span class=\"n\">{}</span></td>",
                        share.map_or("h0", heat_class),
                        esc(&fmt_num(v)),
                        esc(&fmt_num(lo)),
                        esc(&fmt_num(hi)),
                        share
                            .map(|_| format!(", {pct} of the cohort's first week"))
                            .unwrap_or_default(),
                        esc(&fmt_num(v)),
                    );
                    interval_rows.push(vec![
                        td(&label),
                        td_num(&age.to_string()),
                        td_num(&fmt_num(v)),
                        td_num(&format!("{} – {}", fmt_num(lo), fmt_num(hi))),
                        td_num(&pct),
                    ]);
                }
                None => {
                    heat.push_str(
                        "<td class=\"withheld\" title=\"withheld: fewer than k devices (noisy count), or not released\">\
                         <span class=\"sr\">withheld</span>—</td>",
                    );
                    interval_rows.push(vec![
                        td(&label),
                        td_num(&age.to_string()),
                        "<td class=\"num\" colspan=\"3\">withheld</td>".into(),
                    ]);
                }
            }
        }
        heat.push_str("</tr>");
    }
    heat.push_str("</tbody></table></div>");
    if cells.is_empty() {
        let _ = write!(
            out,
            "<p class=\"warn\" id=\"retention-empty\">{}</p>",
            why_empty(&region, k)
        );
    }
    out.push_str(&heat);
    out.push_str("<details><summary>Every cell with its 95% interval</summary>");
    out.push_str(&table(
        "retention-intervals",
        &[
            "installed",
            "weeks later",
            "active devices",
            "95% interval",
            "of the cohort",
        ],
        &interval_rows,
    ));
    out.push_str("</details>");
    out.push_str(&spend.html());
    out
}

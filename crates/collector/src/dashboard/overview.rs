//! The overview page: the days open for release and, for admins only, the
//! exact operational counts.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Query as UrlQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::html::{self, esc, fmt_num, table, td, td_num};
use crate::Collector;
use crate::analyst::Principal;
use crate::release;

pub(crate) async fn show(
    State(c): State<Arc<Collector>>,
    headers: HeaderMap,
    UrlQuery(pairs): UrlQuery<Vec<(String, String)>>,
) -> Response {
    super::region_page(c, &headers, pairs, ("Overview", "/dashboard"), body).await
}

fn body(c: &Collector, who: &Principal, asked: Option<&str>) -> String {
    let overview = c.analyst().overview(who);
    let today = overview.today;
    let mut out = String::from(
        "<p class=\"note\">Reports arrive sealed to each region's key, are opened, checked against the \
         data dictionary and added to aggregates at once; no report is stored. Statistics are released \
         only for closed days (no report for them can still arrive), through the metric explorer, with \
         differential privacy.</p>",
    );
    if let Some(region) = super::active::chosen_region(c, who, asked) {
        out.push_str(&super::active::overview_section(c, who, &region));
    }
    let closed: Vec<Vec<String>> = overview
        .closed
        .iter()
        .map(|c| {
            vec![
                td(&c.region),
                td(&c.schema),
                td(&release::format_day(c.last_closed)),
            ]
        })
        .collect();
    out.push_str("<h2>Days open for release</h2>");
    out.push_str(&table(
        "closed-days",
        &["region", "schema", "last closed day"],
        &closed,
    ));
    let Some(exact) = overview.exact else {
        out.push_str(
            "<p class=\"note\" id=\"exact-counts-admin-only\">How many reports each region accepted is an \
             exact operational count, not differentially private, so it is shown to administrators only.</p>",
        );
        return out;
    };
    out.push_str(
        "<p class=\"warn\" id=\"exact-counts\"><b>Exact, not differentially private.</b> The counts below \
         are operational: how many reports each region accepted per purpose and day, and what it refused. \
         They are shown to administrators only and must not be published.</p>",
    );
    for (region, per_purpose) in &exact.reports {
        let total: i64 = per_purpose.values().flat_map(|d| d.values()).sum();
        let _ = write!(
            out,
            "<h2>Region {}</h2><div class=\"cards\"><div class=\"card\"><div class=\"big\" id=\"reports-{}\">{}</div>\
             <div class=\"small\">reports accepted (exact; purposes in your scope)</div></div>",
            esc(region),
            esc(region),
            fmt_num(total as f64)
        );
        for (purpose, by_day) in per_purpose {
            let _ = write!(
                out,
                "<div class=\"card\"><div class=\"big\">{}</div><div class=\"small\">{}</div></div>",
                fmt_num(by_day.values().sum::<i64>() as f64),
                esc(purpose)
            );
        }
        out.push_str("</div>");
        // The last 30 days, from the first with a report: leading days
        // before the fleet reported would be a flat line of zeros.
        let first = per_purpose
            .values()
            .flat_map(|d| d.iter().filter(|(_, n)| **n > 0).map(|(day, _)| *day))
            .filter(|d| *d > today - 30)
            .min()
            .unwrap_or(today - 29);
        let days: Vec<i32> = (first..=today).collect();
        let labels: Vec<String> = days
            .iter()
            .map(|d| release::format_day(*d)[5..].to_owned())
            .collect();
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
                folded: false,
            })
            .collect();
        if !series.is_empty() {
            out.push_str(&html::line_chart(
                &format!("Reports per day in {region} (exact, not differentially private)"),
                "reports per day",
                &labels,
                &html::fold_series(series).0,
            ));
        }
    }
    out.push_str("<h2>Refused since the collector started (exact)</h2>");
    let rows: Vec<Vec<String>> = exact
        .rejected
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

//! The metric explorer: a form, a release through the analyst service
//! (the query API's engine, cache and budget), and its chart and table.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Form, Query as UrlQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use candor_schema::Release;

use super::html::{self, esc, fmt_num, page, table, td, td_num};
use super::session::{Session, session};
use super::{html_response, ok_page};
use crate::Collector;
use crate::release::{self, Answer, Query, QueryError, Scope};

/// The explorer's form fields, parsed from pairs (checkboxes repeat `group`).
fn query_from_pairs(c: &Collector, scope: &Scope, pairs: &[(String, String)]) -> Query {
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let metric = get("metric")
        .or_else(|| {
            c.analyst()
                .metrics_in_scope(scope)
                .first()
                .map(|m| m.id.clone())
        })
        .unwrap_or_default();
    let region = get("region")
        .or_else(|| {
            c.analyst()
                .regions_in_scope(scope)
                .next()
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
    let last = c.analyst().last_closed_day(&region);
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
    let metrics = c.analyst().metrics_in_scope(&s.who.scope);
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
    for r in c.analyst().regions_in_scope(&s.who.scope) {
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

pub(crate) async fn form(
    State(c): State<Arc<Collector>>,
    headers: HeaderMap,
    UrlQuery(pairs): UrlQuery<Vec<(String, String)>>,
) -> Response {
    let s = match session(&c, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let q = query_from_pairs(&c, &s.who.scope, &pairs);
    let body = explore_form_html(&c, &s, &q);
    ok_page(page("Metrics", "/dashboard/explore", s.user(), &body))
}

pub(crate) async fn release(
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
    if let Err(refused) = s.check_form(csrf, "The form token does not match; reload the page.") {
        return refused;
    }
    let q = query_from_pairs(&c, &s.who.scope, &pairs);
    let worker = c.clone();
    let (who, query) = (s.who.clone(), q.clone());
    let answer = tokio::task::spawn_blocking(move || worker.analyst().query_as(&who, &query))
        .await
        .unwrap_or_else(|_| {
            Err(QueryError::Store(candor_store::StoreError::Backend(
                "the query failed".into(),
            )))
        });
    let mut body = explore_form_html(&c, &s, &q);
    let status = match &answer {
        Ok(a) => {
            body.push_str(&answer_html(&c, a));
            StatusCode::OK
        }
        Err(e) => {
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
        .analyst()
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

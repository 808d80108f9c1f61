//! The metric explorer: a form, a release through the analyst service
//! (the query API's engine, cache and budget), and its chart and table.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Form, Query as UrlQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use candor_schema::{Metric, Release};

use super::html::{self, esc, fmt_num, page, table, td, td_num};
use super::session::{Session, session};
use super::{html_response, ok_page};
use crate::Collector;
use crate::analyst::Principal;
use crate::release::{self, Answer, Query, QueryError};

/// The explorer's form as submitted: the query it asks and what was typed
/// where the query holds something else (an ε that is not a number is
/// echoed as typed, with the reason, and nothing is released).
struct Asked {
    query: Query,
    /// The ε field exactly as typed.
    epsilon_text: String,
    /// Why the ε field could not be read, if it could not.
    epsilon_error: Option<String>,
}

/// The metric the explorer opens on: the first labeled counter released
/// with central DP (one line per label, a handful of them: a chart worth
/// looking at), else the first counter, else the first that needs no cells
/// chosen (activity metrics do; their own pages show them).
fn default_metric(metrics: &[&Metric]) -> Option<String> {
    let central = |m: &&&Metric| matches!(m.release, Release::CentralDp { .. });
    metrics
        .iter()
        .filter(central)
        .find(|m| m.type_name() == "labeled_counter")
        .or_else(|| {
            metrics
                .iter()
                .filter(central)
                .find(|m| m.type_name() == "counter")
        })
        .or_else(|| metrics.iter().find(|m| m.kind.cohort_weeks().is_none()))
        .or_else(|| metrics.first())
        .map(|m| m.id.clone())
}

/// The explorer's form fields, parsed from pairs (checkboxes repeat `group`).
fn query_from_pairs(c: &Collector, who: &Principal, pairs: &[(String, String)]) -> Asked {
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let metrics = c.analyst().metrics_in_scope(&who.scope);
    let metric = get("metric")
        .or_else(|| default_metric(&metrics))
        .unwrap_or_default();
    let region = super::active::chosen_region(c, who, get("region").as_deref()).unwrap_or_default();
    let group_by: Vec<String> = pairs
        .iter()
        .filter(|(n, _)| n == "group")
        .map(|(_, v)| v.clone())
        .collect();
    // Blank means the metric's own ε; anything else must be a number.
    let epsilon_text = get("epsilon").unwrap_or_default();
    let (epsilon, epsilon_error) = match epsilon_text.trim() {
        "" => (None, None),
        t => match t.parse::<f64>() {
            Ok(e) if e.is_finite() => (Some(e), None),
            _ => (
                None,
                Some(format!(
                    "ε must be a number such as 0.5 (or blank for the metric's own); “{t}” is not one. \
                     Nothing was released or spent."
                )),
            ),
        },
    };
    // Activity metrics are released from named cells: the explorer shows
    // active or new devices per day (the overview and the retention page
    // show the weekly, monthly and cohort releases).
    let activity = metrics
        .iter()
        .any(|m| m.id == metric && m.kind.cohort_weeks().is_some());
    let cells = if activity {
        vec![match get("activity").as_deref() {
            Some("new") => "new".to_owned(),
            _ => "today".to_owned(),
        }]
    } else {
        vec![]
    };
    // The default range is the last two weeks that are closed (released).
    let last = c.analyst().last_closed_day(&region);
    Asked {
        query: Query {
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
            cells,
            epsilon,
        },
        epsilon_text,
        epsilon_error,
    }
}

fn explore_form_html(c: &Collector, s: &Session, asked: &Asked) -> String {
    let q = &asked.query;
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
         <label>ε per day (blank: the metric's own)<input name=\"epsilon\" id=\"epsilon\" inputmode=\"decimal\" value=\"{}\"{}></label>",
        esc(&q.from),
        esc(&q.to),
        esc(&asked.epsilon_text),
        if asked.epsilon_error.is_some() {
            " aria-invalid=\"true\" aria-describedby=\"epsilon-error\""
        } else {
            ""
        }
    );
    if metrics.iter().any(|m| m.kind.cohort_weeks().is_some()) {
        let new = q.cells.iter().any(|c| c == "new");
        let _ = write!(
            out,
            "<label>Activity metrics show<select name=\"activity\" id=\"activity\">\
             <option value=\"today\"{}>active devices per day</option>\
             <option value=\"new\"{}>new devices per day</option></select></label>",
            if new { "" } else { " selected" },
            if new { " selected" } else { "" }
        );
    }
    out.push_str("<fieldset class=\"choices\"><legend>Group by</legend>");
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
        "</fieldset><div><button type=\"submit\" id=\"release\">Release</button></div></form>",
    );
    if let Some(e) = &asked.epsilon_error {
        let _ = write!(
            out,
            "<p class=\"warn\" id=\"epsilon-error\"><b>invalid_epsilon</b>: {}</p>",
            esc(e)
        );
    }
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
    let asked = query_from_pairs(&c, &s.who, &pairs);
    let body = explore_form_html(&c, &s, &asked);
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
    let asked = query_from_pairs(&c, &s.who, &pairs);
    if asked.epsilon_error.is_some() {
        let body = explore_form_html(&c, &s, &asked);
        return html_response(
            StatusCode::BAD_REQUEST,
            page("Metrics", "/dashboard/explore", s.user(), &body),
        );
    }
    let q = asked.query.clone();
    let worker = c.clone();
    let (who, query) = (s.who.clone(), q.clone());
    let answer = tokio::task::spawn_blocking(move || worker.analyst().query_as(&who, &query))
        .await
        .unwrap_or_else(|_| {
            Err(QueryError::Store(candor_store::StoreError::Backend(
                "the query failed".into(),
            )))
        });
    let mut body = explore_form_html(&c, &s, &asked);
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

/// What the values of a metric count, for the chart's axis.
fn unit(m: Option<&Metric>, by_day: bool) -> String {
    let per_day = if by_day { " per day" } else { "" };
    match m {
        Some(m) if matches!(m.release, Release::LocalDp { .. }) => {
            format!("devices{per_day} (estimated)")
        }
        Some(m) => match m.type_name() {
            "boolean" | "category" | "activity" => format!("devices{per_day}"),
            "distribution" => format!("reports{per_day}"),
            "domain_set" => format!("reports naming the domain{per_day}"),
            _ => format!("total over reports{per_day}"),
        },
        None => String::new(),
    }
}

/// Why an answer released nothing, in words: no group reaching k, or
/// nothing above τ for an open set. Whether any report arrived at all is
/// not said: that would be an exact fact beside the noise (one device's
/// single report could be read off it), so the words name both causes.
fn why_nothing(a: &Answer) -> String {
    match (a.threshold, a.selection_noise_scale) {
        (Some(t), None) => format!(
            "Nothing was released: no value's noisy count reached the threshold τ = {}. Values of an open set \
             (such as domains) are shown only above τ, so that a value only a few devices sent stays hidden; τ \
             is higher for a smaller ε. Try a longer range or fewer groups.",
            fmt_num(t.ceil())
        ),
        _ => format!(
            "Nothing was released: either no device reported here in this range, or in every group fewer than \
             k = {} did (compared on a noisy count, so a group near k may be withheld). Try a longer range, fewer \
             group-by dimensions, or another region.",
            a.k_min
        ),
    }
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
    if a.groups.is_empty() {
        let _ = write!(
            out,
            "<p class=\"warn\" id=\"nothing-released\">{}</p>",
            esc(&why_nothing(a))
        );
    }
    if a.groups.is_empty() {
        return out;
    }
    // Groups in reading order: by day, then by label with numbers as numbers.
    let mut groups: Vec<&release::Group> = a.groups.iter().collect();
    groups.sort_by(|x, y| {
        x.day
            .cmp(&y.day)
            .then_with(|| html::natural_cmp(&series_label(x), &series_label(y)))
    });
    let by_day = a.query.group_by.iter().any(|g| g == release::DAY);
    let unit = unit(metric, by_day);
    // Table rows not drawn as their own line or bar, and where they went.
    let mut not_drawn: BTreeMap<String, &str> = BTreeMap::new();
    if by_day {
        let (from, to) = (
            release::parse_day(&a.query.from).unwrap_or(0),
            release::parse_day(&a.query.to).unwrap_or(0),
        );
        let days: Vec<String> = (from..=to).map(release::format_day).collect();
        let mut by_series: BTreeMap<String, BTreeMap<String, (f64, f64, f64)>> = BTreeMap::new();
        for g in &groups {
            by_series.entry(series_label(g)).or_default().insert(
                g.day.clone().unwrap_or_default(),
                (shown(g.value), shown(g.ci95[0]), shown(g.ci95[1])),
            );
        }
        let mut labels: Vec<&String> = by_series.keys().collect();
        labels.sort_by(|x, y| html::natural_cmp(x, y));
        let series: Vec<html::Series> = labels
            .iter()
            .map(|label| html::Series {
                label: (*label).clone(),
                points: days
                    .iter()
                    .map(|d| by_series[*label].get(d).copied())
                    .collect(),
                folded: false,
            })
            .collect();
        let (series, folded) = html::fold_series(series);
        for f in folded {
            not_drawn.insert(f, "in “other”");
        }
        let x_labels: Vec<String> = days.iter().map(|d| d[5..].to_owned()).collect();
        out.push_str(&html::line_chart(
            &format!("{} per day in {}", a.query.metric, a.query.region),
            &unit,
            &x_labels,
            &series,
        ));
    } else {
        let bars: Vec<(String, f64, f64, f64)> = groups
            .iter()
            .map(|g| {
                (
                    series_label(g),
                    shown(g.value),
                    shown(g.ci95[0]),
                    shown(g.ci95[1]),
                )
            })
            .collect();
        for (label, ..) in bars.iter().skip(html::MAX_BARS) {
            not_drawn.insert(label.clone(), "not in the chart");
        }
        out.push_str(&html::bar_chart(
            &format!(
                "{} in {}, {} to {}",
                a.query.metric, a.query.region, a.query.from, a.query.to
            ),
            &unit,
            &bars,
        ));
    }
    if !not_drawn.is_empty() {
        let _ = write!(
            out,
            "<p class=\"small-note\" id=\"not-drawn\">The chart draws at most {} lines ({} bars); the {} other \
             groups are marked in the table.</p>",
            html::MAX_SERIES,
            html::MAX_BARS,
            not_drawn.len()
        );
    }
    let rows: Vec<Vec<String>> = groups
        .iter()
        .map(|g| {
            let label = series_label(g);
            let mark = not_drawn
                .get(&label)
                .map(|m| format!(" <span class=\"small-note\">({m})</span>"))
                .unwrap_or_default();
            vec![
                td(g.day.as_deref().unwrap_or("all days")),
                format!("<td>{}{mark}</td>", esc(&label)),
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

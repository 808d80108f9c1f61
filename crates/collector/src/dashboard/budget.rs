//! The privacy-budget page: caps, what each purpose and metric spent, and
//! the ledger day by day, from the analyst service's budget view.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::html::{esc, table, td, td_num};
use crate::Collector;
use crate::analyst::Principal;
use crate::release;

pub(crate) async fn show(State(c): State<Arc<Collector>>, headers: HeaderMap) -> Response {
    super::blocking_page(c, &headers, ("Privacy budget", "/dashboard/budget"), body).await
}

fn body(c: &Collector, who: &Principal) -> String {
    let scope = &who.scope;
    let mut out = String::from(
        "<p class=\"note\">Each region allows a fixed ε per metric and day, and per purpose and day over \
             all its metrics (what one device's report of a day can lose), and a δ per purpose and day. Every \
             new release spends on each day it covers; once a day's budget is spent, no new question about \
             that day is answered. Saved answers stay available at no cost.</p>",
    );
    for region in c.analyst().regions_in_scope(scope) {
        let Ok(view) = c.analyst().budget(scope, region) else {
            continue;
        };
        let (limit, purpose_limit) = (view.epsilon_per_metric_day, view.epsilon_per_purpose_day);
        let _ = write!(
            out,
            "<h2>Region {}: ε {} per metric, ε {} and δ {:e} per purpose, each day</h2>",
            esc(region),
            limit,
            purpose_limit,
            view.delta_per_purpose_day
        );
        // Per purpose: the most any one day has spent over all its metrics.
        let mut per_purpose: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
        for p in &view.purposes {
            let m = per_purpose.entry(p.purpose.as_str()).or_insert((0.0, 0.0));
            m.0 = m.0.max(p.spent);
            m.1 = m.1.max(p.delta_spent);
        }
        let purposes: Vec<Vec<String>> = per_purpose
            .iter()
            .map(|(purpose, (e, d))| {
                vec![
                    td(purpose),
                    td_num(&format!("{e}")),
                    td_num(&format!("{:.3}", (purpose_limit - e).max(0.0))),
                    td_num(&if *d == 0.0 {
                        "0".to_owned()
                    } else {
                        format!("{d:e}")
                    }),
                ]
            })
            .collect();
        out.push_str(&table(
            &format!("purposes-{region}"),
            &[
                "purpose",
                "most ε spent on a day (all metrics)",
                "least ε left",
                "most δ spent on a day",
            ],
            &purposes,
        ));
        // At a glance: per metric, the days charged and the most spent
        // on any of them; the per-day ledger below, folded.
        let mut per_metric: BTreeMap<(&str, &str), (usize, i32, i32, f64)> = BTreeMap::new();
        for e in &view.entries {
            let m = per_metric
                .entry((e.purpose.as_str(), e.metric.as_str()))
                .or_insert((0, e.day, e.day, 0.0));
            m.0 += 1;
            m.1 = m.1.min(e.day);
            m.2 = m.2.max(e.day);
            m.3 = m.3.max(e.spent);
        }
        let summary: Vec<Vec<String>> = per_metric
            .iter()
            .map(|((purpose, metric), (days, first, last, most))| {
                let used = (most / limit).clamp(0.0, 1.0);
                vec![
                    td(purpose),
                    td(metric),
                    td_num(&days.to_string()),
                    td(&format!(
                        "{} – {}",
                        release::format_day(*first),
                        release::format_day(*last)
                    )),
                    td_num(&format!("{most}")),
                    td_num(&format!("{:.3}", (limit - most).max(0.0))),
                    format!(
                        "<td><svg width=\"120\" height=\"12\" role=\"img\" aria-label=\"{:.0}% used\">\
                         <rect width=\"120\" height=\"12\" fill=\"#e5e7eb\"/>\
                         <rect width=\"{:.1}\" height=\"12\" fill=\"{}\"/></svg> {:.0}%</td>",
                        used * 100.0,
                        used * 120.0,
                        if used >= 1.0 { "#dc2626" } else { "#2563eb" },
                        used * 100.0
                    ),
                ]
            })
            .collect();
        out.push_str(&table(
            &format!("budget-{region}"),
            &[
                "purpose",
                "metric",
                "days charged",
                "range",
                "most ε spent on a day",
                "least ε left",
                "budget used",
            ],
            &summary,
        ));
        let rows: Vec<Vec<String>> = view
            .entries
            .iter()
            .map(|e| {
                vec![
                    td(&e.purpose),
                    td(&e.metric),
                    td(&release::format_day(e.day)),
                    td_num(&format!("{}", e.spent)),
                    td_num(&format!("{:.3}", (limit - e.spent).max(0.0))),
                ]
            })
            .collect();
        if !rows.is_empty() {
            out.push_str("<details><summary>The ledger, day by day</summary>");
            out.push_str(&table(
                &format!("ledger-{region}"),
                &["purpose", "metric", "day", "ε spent", "ε left"],
                &rows,
            ));
            out.push_str("</details>");
        }
    }
    out
}

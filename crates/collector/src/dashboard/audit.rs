//! The audit log page (admins and auditors): each region's chain, its verification and
//! its latest entries, from the analyst service's audit view.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::html::{esc, page, table, td, td_num};
use super::session::session;
use super::{html_response, ok_page};
use crate::Collector;
use candor_store::audit;

pub(crate) async fn show(State(c): State<Arc<Collector>>, headers: HeaderMap) -> Response {
    let s = match session(&c, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !s.who.role.may_read_audit() {
        return html_response(
            StatusCode::FORBIDDEN,
            page(
                "Audit log",
                "/dashboard/audit",
                s.user(),
                "<p class=\"warn\">The audit log is for admin and auditor tokens.</p>",
            ),
        );
    }
    let worker = c.clone();
    let who = s.who.clone();
    let body = tokio::task::spawn_blocking(move || {
        let mut out = String::from(
            "<p class=\"note\">Every query, token change, key change and retention run is appended here. Each \
             entry carries the hash of the one before, so an edited, deleted or reordered entry breaks the \
             chain. Write the head down elsewhere; <code>candor audit verify --head</code> then also catches \
             a rewrite of the whole log.</p>",
        );
        for region in worker.analyst().regions_in_scope(&who.scope) {
            let Ok(view) = worker.analyst().audit(&who, region) else {
                continue;
            };
            let (entries, head) = (&view.entries, view.head);
            let status = match &view.verified {
                Ok(n) => format!("<span class=\"ok\" id=\"chain-{}\">chain intact</span> ({n} entries)", esc(region)),
                Err(b) => format!("<span class=\"bad\" id=\"chain-{}\">chain broken at entry {}</span>: {}", esc(region), b.seq, esc(&b.reason)),
            };
            let _ = write!(
                out,
                "<h2>Region {}</h2><p>{status}; head <code>{}</code></p>",
                esc(region),
                esc(&head.map(|h| audit::format_head(&h)).unwrap_or_else(|| "none".into()))
            );
            let rows: Vec<Vec<String>> = entries
                .iter()
                .rev()
                .take(200)
                .map(|e| {
                    vec![
                        td_num(&e.seq.to_string()),
                        td(&time::OffsetDateTime::from_unix_timestamp(e.record.at)
                            .map(|t| format!("{} {:02}:{:02}:{:02} UTC", t.date(), t.hour(), t.minute(), t.second()))
                            .unwrap_or_default()),
                        td(&e.record.actor),
                        td(&e.record.action),
                        format!("<td><code>{}</code></td>", esc(&e.record.detail)),
                    ]
                })
                .collect();
            out.push_str(&table(
                &format!("audit-{region}"),
                &["#", "time", "who", "what", "details"],
                &rows,
            ));
        }
        out
    })
    .await
    .unwrap_or_default();
    ok_page(page("Audit log", "/dashboard/audit", s.user(), &body))
}

//! The keys and regions page: each region's policy and active keys.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::html::{page, table, td, td_num};
use super::ok_page;
use super::session::session;
use crate::Collector;

pub(crate) async fn show(State(c): State<Arc<Collector>>, headers: HeaderMap) -> Response {
    let s = match session(&c, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut out = String::from(
        "<p class=\"note\">Each region has its own HPKE key pair (X25519, HKDF-SHA256, ChaCha20-Poly1305) and \
         its own database; a report sealed for one region is never opened or stored by another.</p>",
    );
    let rows: Vec<Vec<String>> = c
        .analyst()
        .regions_in_scope(&s.who.scope)
        .map(|id| {
            let policy = c.registry().all().find_map(|schema| schema.region(id));
            let active = c.ingest().active_keys(id).unwrap_or_default();
            let ids: Vec<String> = active
                .iter()
                .map(|k| format!("{} ({}…)", k.key_id(), &hex::encode(k.public_key())[..12]))
                .collect();
            vec![
                td(id),
                td(policy.map_or("", |p| p.name.as_str())),
                td(policy.map_or("", |p| p.law.as_str())),
                td_num(&policy.map_or(String::new(), |p| p.retention_days.to_string())),
                td_num(&policy.map_or(String::new(), |p| p.k_min.to_string())),
                td_num(&policy.map_or(String::new(), |p| p.epsilon_per_metric_day.to_string())),
                td(&ids.join(", ")),
            ]
        })
        .collect();
    out.push_str(&table(
        "regions",
        &[
            "region",
            "name",
            "law",
            "retention (days)",
            "k",
            "ε per metric·day",
            "active keys",
        ],
        &rows,
    ));
    ok_page(page("Keys & regions", "/dashboard/keys", s.user(), &out))
}

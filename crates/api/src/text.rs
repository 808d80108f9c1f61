//! The API's text shapes: answers as CSV, numbers as the CSV and
//! `candor query` print them, the audit log and the token list as JSON.

use candor_store::audit::{self, ChainBreak};
use candor_store::tokens::TokenRecord;
use candor_store::{AuditEntry, Head};
use serde_json::json;

use crate::{Answer, DAY};

/// An answer as CSV: one line per released group, the grouped dimensions
/// as columns.
pub fn answer_csv(a: &Answer) -> String {
    let dims: Vec<&String> = a.query.group_by.iter().filter(|g| *g != DAY).collect();
    let by_day = a.query.group_by.iter().any(|g| g == DAY);
    let mut out = String::new();
    let mut header: Vec<&str> = Vec::new();
    if by_day {
        header.push("day");
    }
    header.extend(dims.iter().map(|d| d.as_str()));
    header.extend([
        "cell",
        "bucket",
        "value",
        "ci95_low",
        "ci95_high",
        "share",
        "k",
        "epsilon",
        "mechanism",
    ]);
    out.push_str(&header.join(","));
    out.push('\n');
    for g in &a.groups {
        let mut row: Vec<String> = Vec::new();
        if by_day {
            row.push(g.day.clone().unwrap_or_default());
        }
        for d in &dims {
            row.push(csv_field(g.dimensions.get(*d).map_or("", String::as_str)));
        }
        row.push(csv_field(g.cell.as_deref().unwrap_or("")));
        row.push(csv_field(g.bucket.as_deref().unwrap_or("")));
        row.push(number(g.value));
        row.push(number(g.ci95[0]));
        row.push(number(g.ci95[1]));
        row.push(g.share.map(|s| format!("{s:.4}")).unwrap_or_default());
        row.push(g.k.to_string());
        row.push(g.epsilon.to_string());
        row.push(g.mechanism.clone());
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

/// A released value as text: integers (noisy counts) without a fraction,
/// estimates with two decimals. Used by the CSV answer and `candor query`.
pub fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// A region's audit log as JSON (`GET /v1/regions/{region}/audit` and
/// `candor audit show --json`): entries, the recorded head, and whether
/// the chain verifies (`verified`, from [`audit::verify`]).
pub fn audit_log_json(
    region: &str,
    entries: &[AuditEntry],
    head: Option<Head>,
    verified: &Result<u64, ChainBreak>,
) -> serde_json::Value {
    json!({
        "region": region,
        "head": head.map(|h| audit::format_head(&h)),
        "verified": verified.is_ok(),
        "break": verified.as_ref().err().map(|b| json!({"seq": b.seq, "reason": b.reason})),
        "entries": entries.iter().map(|e| json!({
            "seq": e.seq,
            "at": e.record.at,
            "actor": e.record.actor,
            "action": e.record.action,
            "detail": serde_json::from_str::<serde_json::Value>(&e.record.detail)
                .unwrap_or_else(|_| json!(e.record.detail)),
            // The exact text hashed, and the link: enough for anyone to
            // recompute the chain (`candor verify`).
            "detail_text": e.record.detail,
            "prev": audit::to_hex(&e.prev),
            "hash": audit::to_hex(&e.hash),
        })).collect::<Vec<_>>(),
    })
}

/// Tokens as JSON (the API's and `candor token list --json`'s shape):
/// names, roles, scopes and times, never a hash.
pub fn tokens_json(tokens: &[TokenRecord]) -> serde_json::Value {
    json!({
        "tokens": tokens.iter().map(|t| json!({
            "name": t.name,
            "role": t.role,
            "regions": t.regions,
            "purposes": t.purposes,
            "created_at": t.created_at,
            "revoked_at": t.revoked_at,
        })).collect::<Vec<_>>(),
    })
}

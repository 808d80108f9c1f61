//! What the commands print: JSON on stdout, reports as the plaintext that is
//! (or was) sealed.

use anyhow::{Context, Result};
use candor_protocol::Report;
use candor_sdk::UploadSummary;
use serde::Serialize;

/// The upload summary as JSON: requests, accepted, rejected, remaining, retry_at.
pub(super) fn summary_json(s: &UploadSummary) -> serde_json::Value {
    serde_json::json!({
        "requests": s.requests,
        "accepted": s.accepted,
        "rejected": s.rejected,
        "remaining": s.remaining,
        "retry_at": s.retry_at,
    })
}

/// Prints `value` as pretty JSON on stdout.
pub(super) fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).context("encoding JSON")?;
    println!("{text}");
    Ok(())
}

/// One report as shown to the user.
#[derive(Serialize)]
#[serde(untagged)]
pub(super) enum Shown {
    /// Decoded and re-encoded: the same fields and values, in the same
    /// order, as the plaintext that is (or was) sealed.
    Report(Box<Report>),
    /// Not a report this version can decode; shown as stored.
    Other(serde_json::Value),
    /// Not even JSON; shown as a string.
    Text(String),
}

impl Shown {
    pub(super) fn new(plaintext: String) -> Self {
        if let Ok(report) = Report::from_json(plaintext.as_bytes()) {
            return Shown::Report(Box::new(report));
        }
        match serde_json::from_str(&plaintext) {
            Ok(value) => Shown::Other(value),
            Err(_) => Shown::Text(plaintext),
        }
    }
}

/// Prints report plaintexts as a pretty JSON array of objects.
pub(super) fn print_reports(plaintexts: Vec<String>) -> Result<()> {
    let shown: Vec<Shown> = plaintexts.into_iter().map(Shown::new).collect();
    print_json(&shown)
}

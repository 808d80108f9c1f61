//! Integration tests for `candor-schema`, one binary.
//!
//! Modules:
//! - `errors`: one test per error kind, asserting code, line and path.
//! - `example`: `examples/browser.toml` is valid and `docs/privacy.md` is
//!   its current rendering.
//! - `model`: the consent hash, expiry, JSON and helpers.
//! - `docs`: rendering and escaping.

mod docs;
mod errors;
mod example;
mod model;

use candor_schema::{Checked, SchemaErrors};
use time::Date;
use time::macros::date;

/// The day the acceptance criteria fix for "today".
pub(crate) const TODAY: Date = date!(2026 - 11 - 29);

/// Path of a file relative to the workspace root.
pub(crate) fn workspace_file(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

pub(crate) fn parse(src: &str) -> Result<Checked, SchemaErrors> {
    candor_schema::parse(src, "test.toml", TODAY)
}

/// The 1-based line of the only line of `src` containing `needle`.
pub(crate) fn line_of(src: &str, needle: &str) -> usize {
    let hits: Vec<usize> = src
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "needle {needle:?} must occur on exactly one line"
    );
    hits[0]
}

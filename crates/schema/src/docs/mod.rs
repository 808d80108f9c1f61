//! The public privacy page, generated from the data dictionary.
//!
//! [`render`] writes the page a user or a regulator reads: Candor's promises
//! in plain language; for each purpose what is collected and why, its
//! sensitivity, private-mode behaviour, consent version and how it is
//! protected (with the actual numbers); where data is stored and for how
//! long, per region; and a table of every metric.
//!
//! The page is built once as a small document tree and then written as
//! Markdown or HTML, so both formats always say the same thing. Output is
//! deterministic (no rendering date, maps in id order), so a rendered copy
//! can be committed and checked in CI. HTML is one self-contained file:
//! inline CSS, no scripts, no external requests (a Content-Security-Policy
//! forbids them), every text escaped.
//!
//! The pieces: `tree` is the document tree both renderers walk, `page` what
//! the page says, `words` the plain words for metrics, dimensions and
//! numbers, and `markdown` and `html` the two renderers.

use crate::model::Schema;

mod html;
mod markdown;
mod page;
mod tree;
mod words;

#[cfg(test)]
mod tests;

pub use html::html_escape;

use html::html;
use markdown::markdown;
use page::page;

/// Output format of [`render`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// CommonMark with GitHub-style tables.
    Markdown,
    /// A self-contained HTML5 page.
    Html,
}

/// Renders the privacy page for `schema`.
///
/// ```
/// # use time::macros::date;
/// # let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/browser.toml")).unwrap();
/// let schema = candor_schema::parse(&src, "browser.toml", date!(2026 - 11 - 29)).unwrap().schema;
/// let html = candor_schema::docs::render(&schema, candor_schema::docs::Format::Html);
/// assert!(html.starts_with("<!DOCTYPE html>"));
/// assert!(html.contains("browser.slow_domains"));
/// ```
pub fn render(schema: &Schema, format: Format) -> String {
    let page = page(schema);
    match format {
        Format::Markdown => markdown(&page),
        Format::Html => html(schema, &page),
    }
}

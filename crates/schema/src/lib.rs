//! Candor's data dictionary: the model, parsing, validation and the public
//! privacy page.
//!
//! One TOML file is the single source of truth for what may be collected:
//! the SDK refuses anything not in it, the collector rejects anything not in
//! it, and the public privacy page is generated from it. This crate turns
//! that file into a validated [`Schema`]:
//!
//! - [`parse`] and [`load`] read the TOML and check it, returning a
//!   [`Checked`] schema (plus warnings such as expired metrics) or
//!   [`SchemaErrors`] listing *every* problem found, each a [`Diagnostic`]
//!   with file, line, column, path and a stable [`ErrorKind::code`].
//! - The model: [`Schema`] holds [`Purpose`]s (what users consent to),
//!   [`Dimension`]s (the few coarse context fields a report may carry),
//!   [`Metric`]s (what is measured, its [`MetricKind`], contribution bound
//!   and [`Release`] mechanism) and [`Region`]s (law, retention, k and
//!   privacy budget).
//! - [`docs::render`] writes the public privacy page as Markdown or HTML.
//! - [`limits`] lists every bound the validator enforces.
//!
//! # Example
//!
//! ```
//! use time::macros::date;
//!
//! let src = r#"
//! [schema]
//! id = "org.example.app"
//! version = 1
//!
//! [purposes.usage]
//! title = "Usage statistics"
//! description = "How often features are used."
//! consent_version = 1
//!
//! [metrics."app.opened"]
//! type = "counter"
//! purpose = "usage"
//! description = "How many times the app was opened."
//! owner = "app-team@example.org"
//! expires = 2027-12-31
//! max_per_report = 50
//! release = { mechanism = "central_dp", epsilon = 0.5 }
//!
//! [regions.eu]
//! name = "European Union"
//! law = "GDPR"
//! retention_days = 395
//! k_min = 10
//! epsilon_per_metric_day = 2.0
//! epsilon_per_purpose_day = 3.0
//! delta_per_purpose_day = 1e-6
//! "#;
//!
//! let checked = candor_schema::parse(src, "app.toml", date!(2026 - 11 - 29)).expect("valid");
//! assert!(checked.warnings.is_empty());
//! let metric = checked.schema.metric("app.opened").expect("declared");
//! assert_eq!(metric.type_name(), "counter");
//! assert_eq!(checked.schema.metrics_for_purpose("usage").count(), 1);
//!
//! // Every error is reported with its line and a stable code.
//! let bad = src.replace("purpose = \"usage\"", "purpose = \"ads\"");
//! let errors = candor_schema::parse(&bad, "app.toml", date!(2026 - 11 - 29)).unwrap_err();
//! assert_eq!(errors.errors[0].kind.code(), "unknown_purpose");
//! assert_eq!(errors.errors[0].line, 13);
//! assert!(errors.to_string().starts_with("app.toml:13:11: error[unknown_purpose]: "));
//! ```
//!
//! This crate depends on none of Candor's other crates; the SDK, the store,
//! the collector and the command line depend on it.

#![deny(missing_docs)]

mod diagnostic;
pub mod docs;
pub mod limits;
mod metric;
mod model;
mod parse;
mod raw;
mod rules;

use std::path::Path;

pub use diagnostic::{Diagnostic, ErrorKind, LoadError, SchemaErrors, Severity};
pub use metric::{ACTIVITY_CELLS, ACTIVITY_OLDER_CELL, activity_cohort_cell};
pub use model::{
    Dimension, DimensionRule, FINGERPRINT_PREFIX, Metric, MetricKind, Purpose, Region, Release,
    Schema, Sensitivity, json_fingerprint,
};

/// Whether `id` is a valid region id: 1 to 16 characters of `a-z`, `0-9`
/// and `-`, starting with a letter. The rule a schema's regions follow, and
/// the one storage checks before a region name becomes part of a path or a
/// database name (so a region can never name a file outside its store).
#[must_use]
pub fn is_region_id(id: &str) -> bool {
    rules::is_region_id(id)
}

/// A schema that passed validation, with the warnings found on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// The validated schema.
    pub schema: Schema,
    /// Findings that do not make the schema invalid (for example
    /// [`ErrorKind::MetricExpired`]), in source order.
    pub warnings: Vec<Diagnostic>,
}

/// Parses and validates a data dictionary.
///
/// `origin` names the source in diagnostics (usually the file name). `today`
/// is the UTC day used for the expiry check; it is injected so that results
/// do not depend on the clock. On failure every error found is returned, in
/// source order.
pub fn parse(src: &str, origin: &str, today: time::Date) -> Result<Checked, SchemaErrors> {
    parse::parse(src, origin, today)
}

/// Reads and validates the data dictionary at `path`, checking expiry
/// against the current UTC day. Diagnostics name the file as `path` was
/// given.
pub fn load(path: impl AsRef<Path>) -> Result<Checked, LoadError> {
    let path = path.as_ref();
    let src = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })?;
    let today = time::OffsetDateTime::now_utc().date();
    Ok(parse(&src, &path.display().to_string(), today)?)
}

//! The load generator's error type.

use candor_protocol::Day;

/// Why a load run could not start.
///
/// Only setup fails: once sending has begun, every failure (a refused
/// report, a 503, a timeout) is counted in [`super::LoadStats`] instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A [`super::LoadConfig`] field is out of range.
    #[error("invalid load configuration: {0}")]
    InvalidConfig(String),
    /// The schema declares no region with this id, so the collector would
    /// refuse every report.
    #[error("region {region:?} is not declared in schema {schema}")]
    UnknownRegion {
        /// The configured region.
        region: String,
        /// The schema's id.
        schema: String,
    },
    /// No purpose of the schema has a metric that may be recorded on the day.
    #[error("no purpose of schema {schema} has a metric that is live on {day}")]
    NoMetrics {
        /// The schema's id.
        schema: String,
        /// The report day.
        day: Day,
    },
    /// The collector's key list could not be fetched or parsed.
    #[error("fetching the keys from {url}: {message}")]
    FetchKeys {
        /// The key list's URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The collector's key list did not check out with the region's
    /// signing key (docs/wire.md §5.2).
    #[error("the key list at {url} was refused ({code}): {message}")]
    KeyListRefused {
        /// The key list's URL.
        url: String,
        /// The refusal's stable code.
        code: &'static str,
        /// What was wrong.
        message: String,
    },
    /// Building, sealing or framing a report failed.
    #[error("building the reports: {0}")]
    Protocol(#[from] candor_protocol::Error),
}

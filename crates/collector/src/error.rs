//! Every reason a report or request is refused, with its stable code.
//!
//! The code is part of the API: it appears in problem+json answers, in
//! per-report batch results and as the `code` label of the rejection
//! counter. Renaming one is a breaking change.

use axum::http::StatusCode;

/// Why a report (or a whole request) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The body is larger than the limit.
    #[error("the request body exceeds {0} bytes")]
    TooLarge(usize),
    /// The envelope or batch does not follow wire format v1.
    #[error("malformed envelope: {0}")]
    MalformedEnvelope(String),
    /// The URL names a region this collector does not serve.
    #[error("this collector does not serve region {0:?}")]
    UnknownRegion(String),
    /// The envelope was sealed for another region.
    #[error("the report is for another region")]
    WrongRegion,
    /// No such key id for the region.
    #[error("unknown key id {0}")]
    UnknownKey(u8),
    /// The key was retired and its grace period is over.
    #[error("key {0} was retired; fetch the current key config")]
    KeyRetired(u8),
    /// HPKE could not open the envelope.
    #[error("decryption failed")]
    DecryptionFailed,
    /// The plaintext is not a valid v1 report.
    #[error("malformed report: {0}")]
    MalformedReport(String),
    /// The report does not match the data dictionary.
    #[error("{what}: {detail}")]
    SchemaMismatch {
        /// Stable sub-code: unknown_schema, unknown_purpose, unknown_metric,
        /// unknown_label, unknown_dimension, wrong_type, value_out_of_bounds.
        what: &'static str,
        /// What exactly.
        detail: String,
    },
    /// The user agreed to an older consent text than the purpose now has.
    #[error("consent version {got} is older than the purpose's current {current}")]
    ConsentTooOld {
        /// In the report.
        got: u32,
        /// In the schema.
        current: u32,
    },
    /// The report's day is outside the accepted window.
    #[error("day {0} is outside the accepted window")]
    DayOutOfWindow(String),
    /// The writer's queue is full; try again after Retry-After.
    #[error("the collector is overloaded; retry later")]
    Overloaded,
    /// The store failed; nothing was committed.
    #[error("storage unavailable; retry later")]
    StoreUnavailable,
    /// The collector is shutting down.
    #[error("shutting down; retry later")]
    ShuttingDown,
}

impl Rejection {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::TooLarge(_) => "too_large",
            Rejection::MalformedEnvelope(_) => "malformed_envelope",
            Rejection::UnknownRegion(_) => "unknown_region",
            Rejection::WrongRegion => "wrong_region",
            Rejection::UnknownKey(_) => "unknown_key",
            Rejection::KeyRetired(_) => "key_retired",
            Rejection::DecryptionFailed => "decryption_failed",
            Rejection::MalformedReport(_) => "malformed_report",
            Rejection::SchemaMismatch { what, .. } => what,
            Rejection::ConsentTooOld { .. } => "consent_too_old",
            Rejection::DayOutOfWindow(_) => "day_out_of_window",
            Rejection::Overloaded => "overloaded",
            Rejection::StoreUnavailable => "store_unavailable",
            Rejection::ShuttingDown => "shutting_down",
        }
    }

    /// The HTTP status for a request refused with this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Rejection::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Rejection::UnknownRegion(_) => StatusCode::NOT_FOUND,
            Rejection::WrongRegion => StatusCode::MISDIRECTED_REQUEST,
            Rejection::SchemaMismatch { .. }
            | Rejection::ConsentTooOld { .. }
            | Rejection::DayOutOfWindow(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Rejection::Overloaded | Rejection::StoreUnavailable | Rejection::ShuttingDown => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// Whether a client should retry the same report later.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Rejection::Overloaded | Rejection::StoreUnavailable | Rejection::ShuttingDown
        )
    }

    /// Every code, for documentation and the metrics endpoint.
    pub const CODES: [&'static str; 20] = [
        "too_large",
        "malformed_envelope",
        "unknown_region",
        "wrong_region",
        "unknown_key",
        "key_retired",
        "decryption_failed",
        "malformed_report",
        "unknown_schema",
        "unknown_purpose",
        "unknown_metric",
        "unknown_label",
        "unknown_dimension",
        "wrong_type",
        "value_out_of_bounds",
        "consent_too_old",
        "day_out_of_window",
        "overloaded",
        "store_unavailable",
        "shutting_down",
    ];
}

impl From<candor_protocol::Error> for Rejection {
    fn from(e: candor_protocol::Error) -> Self {
        use candor_protocol::Error as E;
        match e {
            E::TooLarge { max, .. } => Rejection::TooLarge(max),
            E::WrongRegion { .. } => Rejection::WrongRegion,
            E::UnknownKey(id) => Rejection::UnknownKey(id),
            E::DecryptionFailed => Rejection::DecryptionFailed,
            E::MalformedReport(m) => Rejection::MalformedReport(m),
            E::HeaderMismatch { field, .. } => {
                Rejection::MalformedReport(format!("{field} differs from the envelope header"))
            }
            other => Rejection::MalformedEnvelope(other.to_string()),
        }
    }
}

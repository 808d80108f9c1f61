//! Every reason a report or request is refused, with its stable code.
//!
//! The code is part of the API: it appears in problem+json answers, in
//! per-report batch results and as the `code` label of the rejection
//! counter. Renaming one is a breaking change.

/// Why a report (or a whole request) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The request is not `application/vnd.candor.report`.
    #[error("an upload must be sent as application/vnd.candor.report")]
    UnsupportedMediaType,
    /// Something is larger than its limit; the message names the limit.
    #[error("{0}")]
    TooLarge(Limit),
    /// The envelope does not follow wire format v1.
    #[error("malformed envelope: {0}")]
    MalformedEnvelope(String),
    /// The batch framing does not follow wire format v1.
    #[error("malformed batch: {0}")]
    MalformedBatch(String),
    /// The envelope or batch names a wire format version this collector
    /// does not speak.
    #[error("unsupported wire format version {0}")]
    UnsupportedVersion(u8),
    /// The envelope names an HPKE suite this collector does not support.
    #[error("unsupported HPKE suite")]
    UnsupportedSuite,
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
    /// The report's region or purpose differs from the authenticated header.
    #[error("the report's {0} differs from the envelope header")]
    HeaderMismatch(&'static str),
    /// The report does not match the data dictionary (schema or purpose
    /// this collector does not serve).
    #[error("{what}: {detail}")]
    SchemaMismatch {
        /// Stable sub-code: unknown_schema, unknown_purpose.
        what: &'static str,
        /// What exactly.
        detail: String,
    },
    /// The report breaks a value rule (docs/wire.md §2.1), checked by the
    /// same code the SDK runs before sealing.
    #[error("{0}")]
    Value(candor_values::ValueError),
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
    /// A front could not get the queue's acknowledgement of every
    /// envelope; nothing is acknowledged to the client, which retries (the
    /// queue drops what it already holds by message id).
    #[error("the queue is unavailable; retry later")]
    QueueUnavailable,
}

/// The limit a `too_large` refusal passed: which one, its value, and the
/// size that was refused when it is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// What was measured: "request body", "batch", "batch envelope count",
    /// "envelope", "report".
    pub what: &'static str,
    /// The size refused, when known (a body cut off while read is not).
    pub size: Option<usize>,
    /// The limit.
    pub max: usize,
    /// "bytes" or "envelopes".
    pub unit: &'static str,
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Limit {
            what,
            size,
            max,
            unit,
        } = self;
        match size {
            Some(size) => write!(
                f,
                "the {what} is {size} {unit}, over the limit of {max} {unit}"
            ),
            None => write!(f, "the {what} exceeds the limit of {max} {unit}"),
        }
    }
}

impl Rejection {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::UnsupportedMediaType => "unsupported_media_type",
            Rejection::TooLarge(_) => "too_large",
            Rejection::MalformedEnvelope(_) => "malformed_envelope",
            Rejection::MalformedBatch(_) => "malformed_batch",
            Rejection::UnsupportedVersion(_) => "unsupported_version",
            Rejection::UnsupportedSuite => "unsupported_suite",
            Rejection::UnknownRegion(_) => "unknown_region",
            Rejection::WrongRegion => "wrong_region",
            Rejection::UnknownKey(_) => "unknown_key",
            Rejection::KeyRetired(_) => "key_retired",
            Rejection::DecryptionFailed => "decryption_failed",
            Rejection::MalformedReport(_) => "malformed_report",
            Rejection::HeaderMismatch(_) => "header_mismatch",
            Rejection::SchemaMismatch { what, .. } => what,
            Rejection::Value(e) => e.code(),
            Rejection::ConsentTooOld { .. } => "consent_too_old",
            Rejection::DayOutOfWindow(_) => "day_out_of_window",
            Rejection::Overloaded => "overloaded",
            Rejection::StoreUnavailable => "store_unavailable",
            Rejection::ShuttingDown => "shutting_down",
            Rejection::QueueUnavailable => "queue_unavailable",
        }
    }

    /// The HTTP status documented for this refusal ([`Rejection::CODES`]).
    pub fn http_status(&self) -> u16 {
        let code = self.code();
        Self::CODES
            .iter()
            .find(|(c, _)| *c == code)
            .map_or(400, |(_, status)| *status)
    }

    /// Whether a client should retry the same report later.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Rejection::Overloaded
                | Rejection::StoreUnavailable
                | Rejection::ShuttingDown
                | Rejection::QueueUnavailable
        )
    }

    /// Every code of the upload endpoint with its HTTP status, in the order
    /// the checks run: the one list that docs/wire.md §10 and docs/api.md
    /// print (a test keeps the three equal), and the metrics endpoint's
    /// `code` labels.
    pub const CODES: [(&'static str, u16); 28] = [
        ("unknown_region", 404),
        ("unsupported_media_type", 415),
        ("too_large", 413),
        ("overloaded", 503),
        ("shutting_down", 503),
        ("malformed_envelope", 400),
        ("malformed_batch", 400),
        ("unsupported_version", 400),
        ("unsupported_suite", 400),
        ("wrong_region", 421),
        ("unknown_key", 400),
        ("key_retired", 400),
        ("decryption_failed", 400),
        ("malformed_report", 400),
        ("header_mismatch", 400),
        ("unknown_schema", 422),
        ("unknown_schema_version", 422),
        ("unknown_purpose", 422),
        ("unknown_metric", 422),
        ("unknown_dimension", 422),
        ("wrong_type", 422),
        ("unknown_label", 422),
        ("value_out_of_bounds", 422),
        ("impossible_activity", 422),
        ("consent_too_old", 422),
        ("day_out_of_window", 422),
        ("store_unavailable", 503),
        ("queue_unavailable", 503),
    ];
}

impl From<candor_protocol::Error> for Rejection {
    fn from(e: candor_protocol::Error) -> Self {
        use candor_protocol::Error as E;
        match e {
            E::TooLarge {
                what,
                len,
                max,
                unit,
            } => Rejection::TooLarge(Limit {
                what,
                size: Some(len),
                max,
                unit,
            }),
            E::MalformedBatch(m) => Rejection::MalformedBatch(m.to_owned()),
            E::UnsupportedVersion(v) => Rejection::UnsupportedVersion(v),
            E::UnsupportedSuite { .. } => Rejection::UnsupportedSuite,
            E::WrongRegion { .. } => Rejection::WrongRegion,
            E::UnknownKey(id) => Rejection::UnknownKey(id),
            E::DecryptionFailed => Rejection::DecryptionFailed,
            E::MalformedReport(m) => Rejection::MalformedReport(m),
            E::HeaderMismatch { field, .. } => Rejection::HeaderMismatch(field),
            other => Rejection::MalformedEnvelope(other.to_string()),
        }
    }
}

impl From<candor_values::ValueError> for Rejection {
    fn from(e: candor_values::ValueError) -> Self {
        Rejection::Value(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_code_is_an_upload_code_with_status_422() {
        for code in candor_values::ValueError::CODES {
            assert!(
                Rejection::CODES.contains(&(code, 422)),
                "{code} is missing from Rejection::CODES"
            );
        }
    }

    #[test]
    fn codes_are_unique() {
        let mut codes: Vec<&str> = Rejection::CODES.iter().map(|(c, _)| *c).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Rejection::CODES.len());
    }
}

//! The SDK's own error counters and its one error type.
//!
//! Recording never fails toward the host app: bad input is counted here, per
//! metric and kind, and can be read with [`crate::Candor::error_counts`].

use std::sync::atomic::{AtomicU64, Ordering};

/// What went wrong with a recording call or a queued report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The metric id is not in the schema.
    UnknownMetric,
    /// The metric exists but has another type than the handle used.
    WrongType,
    /// A label or category outside the schema's closed set.
    UnknownLabel,
    /// A negative value.
    NegativeValue,
    /// A value too large to add safely.
    Overflow,
    /// A URL that the sanitizer dropped (IP literal, localhost, non-web, ...).
    UrlDropped,
    /// Data recorded for a day whose report was already built.
    DayAlreadyReported,
    /// A queued report dropped because the outbox was over its caps.
    OutboxDropped,
    /// A report the collector refused permanently.
    UploadRejected,
    /// A report that could not be built or sealed.
    SealFailed,
    /// A file could not be written or read.
    Storage,
    /// A day's report dropped because the collector no longer accepts
    /// reports of that day (the region's `report_window_days` has passed).
    TooLate,
    /// A key list refused (unsigned, signed by another key, tampered with,
    /// expired, ...); `*keys` in [`crate::Candor::error_counts`] counts
    /// them by their code (docs/wire.md §5.2).
    KeyListRefused,
}

impl ErrorKind {
    /// Every kind, in counter order.
    pub const ALL: [ErrorKind; 13] = [
        ErrorKind::UnknownMetric,
        ErrorKind::WrongType,
        ErrorKind::UnknownLabel,
        ErrorKind::NegativeValue,
        ErrorKind::Overflow,
        ErrorKind::UrlDropped,
        ErrorKind::DayAlreadyReported,
        ErrorKind::OutboxDropped,
        ErrorKind::UploadRejected,
        ErrorKind::SealFailed,
        ErrorKind::Storage,
        ErrorKind::TooLate,
        ErrorKind::KeyListRefused,
    ];

    /// Stable snake_case name.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::UnknownMetric => "unknown_metric",
            ErrorKind::WrongType => "wrong_type",
            ErrorKind::UnknownLabel => "unknown_label",
            ErrorKind::NegativeValue => "negative_value",
            ErrorKind::Overflow => "overflow",
            ErrorKind::UrlDropped => "url_dropped",
            ErrorKind::DayAlreadyReported => "day_already_reported",
            ErrorKind::OutboxDropped => "outbox_dropped",
            ErrorKind::UploadRejected => "upload_rejected",
            ErrorKind::SealFailed => "seal_failed",
            ErrorKind::Storage => "storage",
            ErrorKind::TooLate => "too_late",
            ErrorKind::KeyListRefused => "key_list_refused",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One counter per [`ErrorKind`], lock-free.
#[derive(Debug, Default)]
pub(crate) struct ErrorCounters([AtomicU64; ErrorKind::ALL.len()]);

impl ErrorCounters {
    pub(crate) fn add(&self, kind: ErrorKind, n: u64) {
        self.0[kind.index()].fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn reset(&self) {
        for c in &self.0 {
            c.store(0, Ordering::Relaxed);
        }
    }

    pub(crate) fn get(&self, kind: ErrorKind) -> u64 {
        self.0[kind.index()].load(Ordering::Relaxed)
    }
}

/// Why [`crate::Candor::open`] failed. Only opening can fail; recording,
/// consent changes and uploads report through counters and return values.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The configuration is inconsistent (region not in the schema, key of
    /// another region, ...).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The data directory could not be created or read.
    #[error("data directory {path}: {source}")]
    Io {
        /// The path involved.
        path: std::path::PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A state file exists but cannot be parsed.
    #[error("state file {path} is unreadable: {reason}")]
    Corrupt {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The OS random number generator failed.
    #[error("the system random number generator failed")]
    Randomness,
}

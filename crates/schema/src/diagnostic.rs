//! Diagnostics: what is wrong with a data dictionary, and where.

use std::fmt;
use std::path::PathBuf;

/// Whether a diagnostic rejects the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Severity {
    /// The schema is invalid.
    Error,
    /// The schema is valid but something deserves attention.
    Warning,
}

impl Severity {
    /// `error` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

macro_rules! error_kinds {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $severity:ident; )*) => {
        /// The kind of a [`Diagnostic`], with a stable [`code`](ErrorKind::code).
        ///
        /// Codes are part of the public interface (tests, CI output and
        /// tooling match on them): they never change meaning, and new kinds
        /// may be added.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorKind {
            $( $(#[$doc])* $variant, )*
        }

        impl ErrorKind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [ErrorKind] = &[$(ErrorKind::$variant),*];

            /// The stable snake_case code, for example `unknown_purpose`.
            pub fn code(self) -> &'static str {
                match self {
                    $( ErrorKind::$variant => $code, )*
                }
            }

            /// Whether this kind rejects the schema or only warns.
            pub fn severity(self) -> Severity {
                match self {
                    $( ErrorKind::$variant => Severity::$severity, )*
                }
            }
        }
    };
}

error_kinds! {
    /// The file is not valid TOML.
    Syntax = "syntax", Error;
    /// A key the format does not know (often a typo), or an unknown top-level
    /// section.
    UnknownField = "unknown_field", Error;
    /// A required key is missing.
    MissingField = "missing_field", Error;
    /// A value has the wrong type or is not one of the allowed values.
    InvalidField = "invalid_field", Error;
    /// A key that exists but does not apply here (for example `labels` on a
    /// `counter`).
    FieldNotApplicable = "field_not_applicable", Error;
    /// Two keys that exclude each other (a dimension with both `values` and
    /// `coarsen`).
    ConflictingFields = "conflicting_fields", Error;
    /// A required text (title, description, owner, ...) is empty.
    EmptyText = "empty_text", Error;
    /// An id does not follow its pattern.
    InvalidId = "invalid_id", Error;
    /// A schema or consent version below 1.
    InvalidVersion = "invalid_version", Error;
    /// A label, category or dimension value does not follow the label
    /// pattern `[a-z0-9][a-z0-9_.-]*`.
    InvalidLabel = "invalid_label", Error;
    /// A metric names a purpose that is not declared.
    UnknownPurpose = "unknown_purpose", Error;
    /// A metric names a dimension that is not declared.
    UnknownDimension = "unknown_dimension", Error;
    /// An id declared twice (a repeated TOML table such as two
    /// `[metrics."a.b"]`), or a repeated label, category, dimension value or
    /// dimension reference.
    DuplicateId = "duplicate_id", Error;
    /// A required section (`purposes`, `metrics`, `regions`) is missing or
    /// empty.
    EmptySection = "empty_section", Error;
    /// An empty closed set or bucket list.
    EmptySet = "empty_set", Error;
    /// A closed set or bucket list larger than the limits allow.
    OversizedSet = "oversized_set", Error;
    /// A label, category or dimension value that looks like personal data
    /// (e-mail address, phone number, 6 or more digits in a row).
    PersonalDataLabel = "personal_data_label", Error;
    /// Distribution bucket bounds that are not strictly increasing.
    BucketsNotIncreasing = "buckets_not_increasing", Error;
    /// ε not finite, not positive, or above the limit.
    InvalidEpsilon = "invalid_epsilon", Error;
    /// A release's ε (central DP) or `count_epsilon` (local DP) above some
    /// region's per-metric or per-purpose daily budget: the metric could
    /// never be released there.
    EpsilonOverBudget = "epsilon_over_budget", Error;
    /// δ out of range, or missing for a `domain_set` or a metric with an
    /// open dimension.
    InvalidDelta = "invalid_delta", Error;
    /// A metric's δ above some region's per-purpose daily δ budget.
    DeltaOverBudget = "delta_over_budget", Error;
    /// A region's `report_window_days` above the limit.
    ReportWindowTooLong = "report_window_too_long", Error;
    /// Local DP on a type other than `boolean` or `category`.
    LocalDpUnsupportedType = "local_dp_unsupported_type", Error;
    /// A region's `k_min` below the minimum.
    KMinTooSmall = "k_min_too_small", Error;
    /// A region's `retention_days` is 0.
    ZeroRetention = "zero_retention", Error;
    /// A region's `retention_days` above the limit.
    RetentionTooLong = "retention_too_long", Error;
    /// A region's `collector` is not an `https://` URL.
    InvalidUrl = "invalid_url", Error;
    /// `max_per_report` missing where required, 0, above the limit, or not 1
    /// for a `boolean` or `category`.
    InvalidContributionBound = "invalid_contribution_bound", Error;
    /// Warning: a metric's `expires` day has passed.
    MetricExpired = "metric_expired", Warning;
    /// Warning: a purpose no metric is collected for.
    UnusedPurpose = "unused_purpose", Warning;
    /// Warning: a dimension no metric uses.
    UnusedDimension = "unused_dimension", Warning;
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One finding, pointing into the TOML source.
///
/// Displays as `file:line:col: error[code]: path: what is wrong; what is
/// allowed` (or `warning[code]` for warnings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file name (or other origin) given to [`crate::parse`].
    pub origin: String,
    /// 1-based line in the source.
    pub line: usize,
    /// 1-based column in the source, in characters.
    pub column: usize,
    /// Where in the document, in TOML dotted-key syntax, for example
    /// `metrics."app.opened".labels[2]`.
    pub path: String,
    /// What kind of finding this is.
    pub kind: ErrorKind,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl Diagnostic {
    /// Whether this is an error or a warning (from its kind).
    pub fn severity(&self) -> Severity {
        self.kind.severity()
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}[{}]: {}: {}",
            self.origin,
            self.line,
            self.column,
            self.severity().as_str(),
            self.kind.code(),
            self.path,
            self.message
        )
    }
}

/// Every error found in an invalid schema (never empty), plus the warnings
/// found along the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaErrors {
    /// The errors, in source order.
    pub errors: Vec<Diagnostic>,
    /// The warnings, in source order.
    pub warnings: Vec<Diagnostic>,
}

impl SchemaErrors {
    /// The errors, in source order.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.errors.iter()
    }

    /// Number of errors.
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// Whether there are no errors (never true for a value returned by this
    /// crate).
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }
}

/// One error per line, in source order.
impl fmt::Display for SchemaErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SchemaErrors {}

impl<'a> IntoIterator for &'a SchemaErrors {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;

    fn into_iter(self) -> Self::IntoIter {
        self.errors.iter()
    }
}

/// Why [`crate::load`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read (or is not UTF-8).
    #[error("cannot read schema {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file was read and is not a valid schema.
    #[error("{0}")]
    Invalid(#[from] SchemaErrors),
}

/// Maps byte offsets to 1-based line and column.
pub(crate) struct LineIndex<'s> {
    src: &'s str,
    /// Byte offset of the start of every line.
    starts: Vec<usize>,
}

impl<'s> LineIndex<'s> {
    pub(crate) fn new(src: &'s str) -> Self {
        let starts = std::iter::once(0)
            .chain(src.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { src, starts }
    }

    /// 1-based (line, column) of byte `offset`; the column counts characters.
    pub(crate) fn position(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.src.len());
        while !self.src.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset);
        let start = self.starts[line - 1];
        let column = self.src[start..offset].chars().count() + 1;
        (line, column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions() {
        let idx = LineIndex::new("ab\ncé\n\nx");
        assert_eq!(idx.position(0), (1, 1));
        assert_eq!(idx.position(2), (1, 3));
        assert_eq!(idx.position(3), (2, 1));
        assert_eq!(idx.position(6), (2, 3));
        assert_eq!(idx.position(7), (3, 1));
        assert_eq!(idx.position(8), (4, 1));
        assert_eq!(idx.position(100), (4, 2));
    }

    #[test]
    fn codes_are_unique_snake_case() {
        let mut seen = std::collections::BTreeSet::new();
        for kind in ErrorKind::ALL {
            let code = kind.code();
            assert!(seen.insert(code), "duplicate code {code}");
            assert!(code.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        }
    }

    #[test]
    fn display() {
        let d = Diagnostic {
            origin: "s.toml".into(),
            line: 3,
            column: 7,
            path: "metrics.\"a.b\".purpose".into(),
            kind: ErrorKind::UnknownPurpose,
            message: "no purpose `x`; declared purposes: `usage`".into(),
        };
        assert_eq!(
            d.to_string(),
            "s.toml:3:7: error[unknown_purpose]: metrics.\"a.b\".purpose: no purpose `x`; declared purposes: `usage`"
        );
    }
}

//! The engine's model: who asks ([`Scope`]), why a query is refused
//! ([`QueryError`]), days as text, and the fixed shares and limits.

use candor_store::StoreError;

/// The longest day range one query may cover.
pub const MAX_QUERY_DAYS: i32 = 400;

/// The analyst asking: the token's name and scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The token's name (the audit log's actor).
    pub name: String,
    /// Admin tokens may also manage tokens and read the audit log.
    pub admin: bool,
    /// Regions in scope; empty means all.
    pub regions: Vec<String>,
    /// Purposes in scope; empty means all.
    pub purposes: Vec<String>,
}

impl Scope {
    /// Whether `region` is in scope.
    pub fn allows_region(&self, region: &str) -> bool {
        self.regions.is_empty() || self.regions.iter().any(|r| r == region)
    }

    /// Whether `purpose` is in scope.
    pub fn allows_purpose(&self, purpose: &str) -> bool {
        self.purposes.is_empty() || self.purposes.iter().any(|p| p == purpose)
    }
}

/// Why a query was not answered. Nothing was spent or cached.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The query is malformed or names something that does not exist.
    #[error("{message}")]
    Invalid {
        /// Stable code: `invalid_query`, `unknown_region`, `unknown_metric`,
        /// `unknown_dimension`, `unknown_cell`, `invalid_epsilon`.
        code: &'static str,
        /// What exactly.
        message: String,
    },
    /// The token does not cover the region or the purpose.
    #[error("{0}")]
    Forbidden(String),
    /// Some day of the range is not closed: reports for it may still
    /// arrive (or it has not happened yet).
    #[error("{message}")]
    DayNotClosed {
        /// The last closed day, `YYYY-MM-DD`.
        last_closed: String,
        /// The whole explanation.
        message: String,
    },
    /// Some day of the range has too little budget left.
    #[error("{message}")]
    BudgetExhausted {
        /// The whole explanation: metric, cap, days, what is left, what was
        /// asked.
        message: String,
    },
    /// The store failed.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
}

impl QueryError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            QueryError::Invalid { code, .. } => code,
            QueryError::Forbidden(_) => "forbidden",
            QueryError::DayNotClosed { .. } => "day_not_closed",
            QueryError::BudgetExhausted { .. } => "budget_exhausted",
            QueryError::Store(_) => "store_unavailable",
        }
    }
}

pub(super) fn invalid(code: &'static str, message: impl Into<String>) -> QueryError {
    QueryError::Invalid {
        code,
        message: message.into(),
    }
}

/// Day numbers as `YYYY-MM-DD` and back (`candor-time`'s).
pub use candor_time::{format_day, parse_day};

/// The share of a release's ε spent on the noisy group counts that decide
/// which groups are shown (the rest goes to the values). A quarter keeps
/// the decision near `k_min` sharp enough (at ε = 0.5 the counts' noise has
/// scale 8) while costing the values a third more noise.
pub const SELECTION_SHARE: f64 = 0.25;

/// The smallest ε a query may ask for: both shares must be at least the
/// samplers' resolution of 0.001.
pub const MIN_QUERY_EPSILON: f64 = 0.004;

//! The one error type of the bindings: each language's exception, carrying
//! the Rust SDK's stable code.

use candor_sdk::{ConsentError, OpenError};

/// Why a call failed. Every variant carries a stable snake_case `code`
/// (what programs match on) and a human `detail` (what people read; it
/// may change). Recording calls never return it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum CandorError {
    /// The options are inconsistent: region not in the schema, key of
    /// another region, two uploaders, ... (`invalid_config`).
    #[error("{code}: {detail}")]
    Config {
        /// Stable code.
        code: String,
        /// What is wrong.
        detail: String,
    },
    /// The schema does not parse or validate; `code` is the first error's
    /// code from candor-schema (for example `unknown_purpose`), `detail`
    /// lists every error with its line.
    #[error("{code}: {detail}")]
    Schema {
        /// Stable code.
        code: String,
        /// Every problem found, one per line.
        detail: String,
    },
    /// A signing key or key list was refused; `code` is candor-protocol's
    /// (for example `bad_signature`, `expired`).
    #[error("{code}: {detail}")]
    Key {
        /// Stable code.
        code: String,
        /// What is wrong.
        detail: String,
    },
    /// A purpose id not in the schema (`unknown_purpose`).
    #[error("{code}: {detail}")]
    Consent {
        /// Stable code.
        code: String,
        /// What is wrong.
        detail: String,
    },
    /// The data directory could not be read or written (`storage`), or a
    /// state file in it is unreadable (`corrupt_state`).
    #[error("{code}: {detail}")]
    Storage {
        /// Stable code.
        code: String,
        /// What is wrong.
        detail: String,
    },
    /// A bug in the SDK was caught at the boundary (`internal`) instead of
    /// crashing the app. Please report it.
    #[error("{code}: {detail}")]
    Internal {
        /// Stable code.
        code: String,
        /// What was caught.
        detail: String,
    },
}

impl CandorError {
    /// The stable code, whatever the variant.
    pub fn code(&self) -> &str {
        match self {
            CandorError::Config { code, .. }
            | CandorError::Schema { code, .. }
            | CandorError::Key { code, .. }
            | CandorError::Consent { code, .. }
            | CandorError::Storage { code, .. }
            | CandorError::Internal { code, .. } => code,
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        CandorError::Config {
            code: "invalid_config".into(),
            detail: message.into(),
        }
    }

    pub(crate) fn storage(message: impl std::fmt::Display) -> Self {
        CandorError::Storage {
            code: "storage".into(),
            detail: message.to_string(),
        }
    }
}

impl From<OpenError> for CandorError {
    fn from(e: OpenError) -> Self {
        let message = e.to_string();
        match e {
            OpenError::Config(_) => CandorError::Config {
                code: "invalid_config".into(),
                detail: message,
            },
            OpenError::Corrupt { .. } => CandorError::Storage {
                code: "corrupt_state".into(),
                detail: message,
            },
            OpenError::Randomness => CandorError::Internal {
                code: "randomness".into(),
                detail: message,
            },
            _ => CandorError::storage(message),
        }
    }
}

impl From<ConsentError> for CandorError {
    fn from(e: ConsentError) -> Self {
        match e {
            ConsentError::UnknownPurpose(_) => CandorError::Consent {
                code: "unknown_purpose".into(),
                detail: e.to_string(),
            },
            _ => CandorError::storage(e),
        }
    }
}

impl From<candor_protocol::Error> for CandorError {
    fn from(e: candor_protocol::Error) -> Self {
        CandorError::Key {
            code: e.code().into(),
            detail: e.to_string(),
        }
    }
}

impl From<candor_schema::SchemaErrors> for CandorError {
    fn from(e: candor_schema::SchemaErrors) -> Self {
        CandorError::Schema {
            code: e
                .errors
                .first()
                .map_or("invalid_schema", |d| d.kind.code())
                .into(),
            detail: e.to_string(),
        }
    }
}

impl From<std::io::Error> for CandorError {
    fn from(e: std::io::Error) -> Self {
        CandorError::storage(e)
    }
}

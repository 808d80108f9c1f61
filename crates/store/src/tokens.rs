//! Analyst and admin tokens, stored hashed.
//!
//! A token is shown once, when it is created; only its SHA-256 is stored.
//! A token is 256 random bits, so a plain hash is enough: there is nothing
//! to guess that a slow hash would protect. The collector compares hashes
//! in constant time (`candor-collector`'s `access` module).
//!
//! Tokens are not per region (one analyst may be scoped to several), so
//! they live in their own small database beside the regions' stores:
//! [`crate::sqlite::SqliteTokens`].

/// A token as stored: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Unique name, shown in the audit log as the actor.
    pub name: String,
    /// `analyst` or `admin`.
    pub role: String,
    /// Regions in scope; empty means all.
    pub regions: Vec<String>,
    /// Purposes in scope; empty means all.
    pub purposes: Vec<String>,
    /// SHA-256 of the token.
    pub hash: [u8; 32],
    /// Unix time of creation.
    pub created_at: i64,
    /// Unix time of revocation, if revoked.
    pub revoked_at: Option<i64>,
}

/// Why a token operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// A token of that name exists (revoked names are not reused, so the
    /// audit log's actors stay unambiguous).
    #[error("a token named {0:?} already exists (names are never reused)")]
    NameTaken(String),
    /// No active token has that name.
    #[error("no active token named {0:?}")]
    NotFound(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] crate::StoreError),
}

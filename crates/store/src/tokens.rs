//! Analyst and admin tokens, stored hashed.
//!
//! A token is shown once, when it is created; only its SHA-256 is stored.
//! A token is 256 random bits, so a plain hash is enough: there is nothing
//! to guess that a slow hash would protect. The collector compares hashes
//! in constant time (`candor-collector`'s `access` module).
//!
//! Tokens are not per region (one analyst may be scoped to several), so
//! they live in their own [`TokenStore`] beside the regions' stores, opened
//! with [`crate::StoreConfig::open_tokens`] (for SQLite, a small database
//! in the data directory). Every backend passes the same suite
//! ([`crate::conformance::tokens`]).

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

/// Where tokens are kept: create, list, revoke, and the active tokens that
/// authentication compares against.
///
/// Each call is its own transaction, and every handle on the same
/// configuration sees the others' changes at its next call: the CLI creates
/// and revokes tokens while a collector authenticates with them, and a
/// revocation applies to the collector's next request. A handle is `Send`
/// (the collector keeps one behind a mutex).
pub trait TokenStore: Send {
    /// Stores a new token.
    ///
    /// # Errors
    /// [`TokenError::NameTaken`] if the name was ever used (revoked names
    /// are not reused); [`TokenError::Store`] if the backend failed.
    fn create(&self, token: &TokenRecord) -> Result<(), TokenError>;

    /// Every token, revoked ones included, ordered by name.
    ///
    /// # Errors
    /// [`crate::StoreError::Backend`] if the backend failed.
    fn list(&self) -> Result<Vec<TokenRecord>, crate::StoreError>;

    /// Tokens not revoked, ordered by name: what authentication compares
    /// against.
    ///
    /// # Errors
    /// [`crate::StoreError::Backend`] if the backend failed.
    fn active(&self) -> Result<Vec<TokenRecord>, crate::StoreError>;

    /// The token of that name, revoked or not.
    ///
    /// # Errors
    /// [`crate::StoreError::Backend`] if the backend failed.
    fn get(&self, name: &str) -> Result<Option<TokenRecord>, crate::StoreError> {
        Ok(self.list()?.into_iter().find(|t| t.name == name))
    }

    /// Revokes the active token `name` at `at` (Unix time).
    ///
    /// # Errors
    /// [`TokenError::NotFound`] if no active token has that name;
    /// [`TokenError::Store`] if the backend failed.
    fn revoke(&self, name: &str, at: i64) -> Result<(), TokenError>;
}

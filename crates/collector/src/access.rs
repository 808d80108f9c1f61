//! Analyst access: tokens, their scopes, and the audit trail of changes.
//!
//! A token is `cndr_` followed by 64 hex digits (256 bits from the OS
//! CSPRNG). It is printed once by [`create_token`]; the token store
//! ([`TokenStore`], opened through [`Config::store`]) keeps only its
//! SHA-256. [`Access::authenticate`] hashes the presented token and
//! compares it with **every** active hash in constant time (no early exit,
//! no lookup by a secret-dependent key), so timing reveals neither a
//! token nor which one matched.
//!
//! Roles: an `analyst` may query the regions and purposes in scope; an
//! `admin` may also list tokens and read the audit log; an `auditor` (a
//! regulator, a journalist, a researcher) may read the audit log (key
//! history included), the budget ledger and the schema of the regions in
//! scope, and may not query data at all. Creating and
//! revoking tokens, generating keys and running retention are done on the
//! machine (the `candor` CLI) and written to the audit log of each region
//! they concern.

use std::sync::Mutex;

use candor_store::tokens::{TokenError, TokenRecord};
use candor_store::{AuditRecord, StoreConfig, StoreError, TokenStore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::Config;
use crate::release::Scope;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Queries within scope.
    Analyst,
    /// Queries within scope, token list, audit log.
    Admin,
    /// Audit log, budget ledger and schema within scope; never data.
    Auditor,
}

impl Role {
    /// Whether this role may release data: queries through the API and
    /// the dashboard's explorer. An auditor checks the books, never the data.
    pub fn may_query(self) -> bool {
        self != Role::Auditor
    }

    /// Whether this role may read a region's audit log (key history
    /// included).
    pub fn may_read_audit(self) -> bool {
        matches!(self, Role::Admin | Role::Auditor)
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Analyst => "analyst",
            Role::Admin => "admin",
            Role::Auditor => "auditor",
        }
    }

    /// Parses `analyst`, `admin` or `auditor`.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "analyst" => Some(Role::Analyst),
            "admin" => Some(Role::Admin),
            "auditor" => Some(Role::Auditor),
            _ => None,
        }
    }
}

/// What a new token is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSpec {
    /// Unique name (letters, digits, `.`, `_`, `-`; at most 64 bytes).
    pub name: String,
    /// Its role.
    pub role: Role,
    /// Regions in scope; empty means all.
    pub regions: Vec<String>,
    /// Purposes in scope; empty means all.
    pub purposes: Vec<String>,
}

/// Why a token operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccessError {
    /// The name is not allowed.
    #[error("token names are 1 to 64 letters, digits, '.', '_' or '-'; got {0:?}")]
    BadName(String),
    /// A region or purpose of the scope is not served or not declared.
    #[error("{0}")]
    BadScope(String),
    /// The OS random source failed.
    #[error("the OS random number generator failed")]
    Randomness,
    /// The token database refused.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// SHA-256 of a token, as stored.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A fresh random token.
///
/// # Errors
/// [`AccessError::Randomness`].
pub fn new_token() -> Result<String, AccessError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|_| AccessError::Randomness)?;
    Ok(format!("cndr_{}", hex::encode(bytes)))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Each region in `regions` (every region that has a store when empty),
/// sorted, for audit entries about them.
fn audited_regions(store: &StoreConfig, regions: &[String]) -> Result<Vec<String>, StoreError> {
    let mut ids = if regions.is_empty() {
        store.regions()?
    } else {
        regions.to_vec()
    };
    ids.sort();
    Ok(ids)
}

/// Appends `record` to the audit log of `region`'s store, creating the
/// store if the region has none yet (its first audit entry may come before
/// its first report).
///
/// # Errors
/// [`StoreError`] if the store cannot be opened or written.
pub fn audit_to(store: &StoreConfig, region: &str, record: &AuditRecord) -> Result<(), StoreError> {
    store.open_region(region)?.append_audit(record)?;
    Ok(())
}

/// Creates a token: stores its hash and scope, writes `token.create` to
/// the audit log of every region in scope, and returns the token, which
/// is never shown again.
///
/// # Errors
/// [`AccessError`]; the token is not created on a bad name or scope.
pub fn create_token(
    config: &Config,
    spec: &TokenSpec,
    known_regions: &[String],
    known_purposes: &[String],
    now: i64,
) -> Result<String, AccessError> {
    if !valid_name(&spec.name) {
        return Err(AccessError::BadName(spec.name.clone()));
    }
    if let Some(r) = spec.regions.iter().find(|r| !known_regions.contains(r)) {
        return Err(AccessError::BadScope(format!(
            "no schema declares region {r:?} (known: {})",
            known_regions.join(", ")
        )));
    }
    if let Some(p) = spec.purposes.iter().find(|p| !known_purposes.contains(p)) {
        return Err(AccessError::BadScope(format!(
            "no schema declares purpose {p:?} (known: {})",
            known_purposes.join(", ")
        )));
    }
    let token = new_token()?;
    let record = TokenRecord {
        name: spec.name.clone(),
        role: spec.role.as_str().into(),
        regions: spec.regions.clone(),
        purposes: spec.purposes.clone(),
        hash: token_hash(&token),
        created_at: now,
        revoked_at: None,
    };
    config.store().open_tokens()?.create(&record)?;
    let regions = if spec.regions.is_empty() {
        known_regions.to_vec()
    } else {
        spec.regions.clone()
    };
    let detail = serde_json::json!({
        "name": spec.name,
        "role": spec.role.as_str(),
        "regions": spec.regions,
        "purposes": spec.purposes,
    });
    audit_all(config, &regions, "token.create", &detail, now)?;
    Ok(token)
}

/// Revokes a token and writes `token.revoke` to the audit logs of its regions.
///
/// # Errors
/// [`AccessError`], e.g. [`TokenError::NotFound`].
pub fn revoke_token(
    config: &Config,
    name: &str,
    known_regions: &[String],
    now: i64,
) -> Result<(), AccessError> {
    let db = config.store().open_tokens()?;
    let record = db
        .get(name)?
        .ok_or_else(|| TokenError::NotFound(name.to_owned()))?;
    db.revoke(name, now)?;
    let regions = if record.regions.is_empty() {
        known_regions.to_vec()
    } else {
        record.regions
    };
    audit_all(
        config,
        &regions,
        "token.revoke",
        &serde_json::json!({ "name": name }),
        now,
    )?;
    Ok(())
}

/// Every token (hashes included, for the CLI to leave out).
///
/// # Errors
/// [`StoreError`].
pub fn list_tokens(config: &Config) -> Result<Vec<TokenRecord>, StoreError> {
    let store = config.store();
    if !store.has_tokens()? {
        return Ok(Vec::new());
    }
    store.open_tokens()?.list()
}

/// Appends an action by the local operator (`cli`) to the given regions'
/// audit logs.
///
/// # Errors
/// [`StoreError`] of the first region that failed.
pub fn audit_all(
    config: &Config,
    regions: &[String],
    action: &str,
    detail: &serde_json::Value,
    now: i64,
) -> Result<(), StoreError> {
    let record = AuditRecord {
        at: now,
        actor: "cli".into(),
        action: action.into(),
        detail: detail.to_string(),
    };
    let store = config.store();
    for region in audited_regions(&store, regions)? {
        audit_to(&store, &region, &record)?;
    }
    Ok(())
}

/// The collector's view of the token store.
pub struct Access {
    db: Mutex<Option<Box<dyn TokenStore>>>,
    store: StoreConfig,
}

/// Why a request was not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No `Authorization: Bearer` header.
    Missing,
    /// Not an active token (unknown or revoked).
    Invalid,
    /// The token database could not be read.
    Unavailable,
}

impl Access {
    /// Access through the token store of `store` (opened on first use,
    /// so a collector starts before any token exists).
    pub fn new(store: StoreConfig) -> Self {
        Access {
            db: Mutex::new(None),
            store,
        }
    }

    /// The scope of the active token `token`. Reads the database on every
    /// call, so a revocation applies to the next request.
    ///
    /// # Errors
    /// [`AuthError::Invalid`] for an unknown or revoked token.
    pub fn authenticate(&self, token: &str) -> Result<(Scope, Role), AuthError> {
        let presented = token_hash(token);
        let mut guard = self.db.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            if !self
                .store
                .has_tokens()
                .map_err(|_| AuthError::Unavailable)?
            {
                return Err(AuthError::Invalid);
            }
            *guard = Some(
                self.store
                    .open_tokens()
                    .map_err(|_| AuthError::Unavailable)?,
            );
        }
        let active = guard
            .as_ref()
            .map(|db| db.active())
            .transpose()
            .map_err(|_| AuthError::Unavailable)?
            .unwrap_or_default();
        drop(guard);
        // Compare with every hash; remember the match without branching
        // out of the loop.
        let mut found: Option<&TokenRecord> = None;
        for t in &active {
            if bool::from(t.hash.ct_eq(&presented)) {
                found = Some(t);
            }
        }
        let t = found.ok_or(AuthError::Invalid)?;
        let role = Role::parse(&t.role).ok_or(AuthError::Invalid)?;
        Ok((
            Scope {
                name: t.name.clone(),
                admin: role == Role::Admin,
                regions: t.regions.clone(),
                purposes: t.purposes.clone(),
            },
            role,
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    fn config(dir: &Path) -> Config {
        Config {
            data_dir: dir.to_path_buf(),
            ..Config::default()
        }
    }

    #[test]
    fn a_token_authenticates_until_revoked_and_only_its_hash_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(dir.path());
        let regions = vec!["eu".to_owned(), "in".to_owned()];
        let purposes = vec!["usage".to_owned()];
        let spec = TokenSpec {
            name: "ana".into(),
            role: Role::Analyst,
            regions: vec!["eu".into()],
            purposes: vec!["usage".into()],
        };
        let token = create_token(&c, &spec, &regions, &purposes, 100).unwrap();
        assert!(token.starts_with("cndr_") && token.len() == 69);
        let access = Access::new(c.store());
        let (scope, role) = access.authenticate(&token).unwrap();
        assert_eq!(role, Role::Analyst);
        assert!(scope.allows_region("eu") && !scope.allows_region("in"));
        assert_eq!(access.authenticate("cndr_nope"), Err(AuthError::Invalid));
        // No file of the data directory (the token store's among them)
        // holds the token.
        assert!(c.store().has_tokens().unwrap());
        for path in files(dir.path()) {
            let file = std::fs::read(&path).unwrap();
            assert!(!file.windows(token.len()).any(|w| w == token.as_bytes()));
        }
        revoke_token(&c, "ana", &regions, 200).unwrap();
        assert_eq!(access.authenticate(&token), Err(AuthError::Invalid));
        // Both changes are in eu's audit log, none in in's.
        let eu = c.store().open_region("eu").unwrap();
        let actions: Vec<String> = eu
            .audit_log()
            .unwrap()
            .0
            .into_iter()
            .map(|e| e.record.action)
            .collect();
        assert_eq!(actions, ["token.create", "token.revoke"]);
        assert!(!c.store().has_region("in").unwrap());
    }

    /// Every file under `dir`, recursively.
    fn files(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(files(&path));
            } else {
                out.push(path);
            }
        }
        out
    }

    #[test]
    fn bad_names_and_scopes_create_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(dir.path());
        let mut spec = TokenSpec {
            name: "a b".into(),
            role: Role::Admin,
            regions: vec![],
            purposes: vec![],
        };
        assert!(matches!(
            create_token(&c, &spec, &[], &[], 1),
            Err(AccessError::BadName(_))
        ));
        spec.name = "ok".into();
        spec.regions = vec!["mars".into()];
        assert!(matches!(
            create_token(&c, &spec, &["eu".into()], &[], 1),
            Err(AccessError::BadScope(_))
        ));
        assert!(list_tokens(&c).unwrap().is_empty());
    }
}

//! [`PgTokens`]: the token store, in the namespace's `<namespace>_tokens`
//! schema.

use std::cell::RefCell;

use super::migrations::{self, Kind};
use super::{Conn, backend};
use crate::StoreError;
use crate::tokens::{TokenError, TokenRecord, TokenStore};

const COLUMNS: &str =
    "SELECT name, role, regions, purposes, hash, created_at, revoked_at FROM tokens";

/// The token store: create, list, revoke, and the active tokens for
/// authentication. Each call is its own transaction; the CLI and running
/// collectors may use it at once.
#[derive(Debug)]
pub struct PgTokens {
    conn: RefCell<Conn>,
}

impl PgTokens {
    /// Opens (creating and migrating if needed) the token store in
    /// `schema`.
    pub(crate) fn open(url: &str, schema: &str) -> Result<Self, StoreError> {
        let mut conn = Conn::open(url, Some(schema), false)?;
        migrations::migrate(conn.client()?, schema, Kind::Tokens)?;
        Ok(Self {
            conn: RefCell::new(conn),
        })
    }

    fn select(&self, sql: &str) -> Result<Vec<TokenRecord>, StoreError> {
        self.conn.borrow_mut().run(|client, _| {
            let rows = client.query(sql, &[]).map_err(backend("read tokens"))?;
            rows.iter()
                .map(|r| {
                    let hash: Vec<u8> = r.try_get(4)?;
                    Ok(TokenRecord {
                        name: r.try_get(0)?,
                        role: r.try_get(1)?,
                        regions: r.try_get(2)?,
                        purposes: r.try_get(3)?,
                        // A hash of the wrong size (only by tampering) matches
                        // no presented token.
                        hash: <[u8; 32]>::try_from(hash.as_slice()).unwrap_or([0xff; 32]),
                        created_at: r.try_get(5)?,
                        revoked_at: r.try_get(6)?,
                    })
                })
                .collect::<Result<_, ::postgres::Error>>()
                .map_err(backend("read tokens"))
        })
    }
}

impl TokenStore for PgTokens {
    fn create(&self, token: &TokenRecord) -> Result<(), TokenError> {
        self.conn.borrow_mut().run(|client, _| {
            let inserted = client
            .execute(
                "INSERT INTO tokens (name, role, regions, purposes, hash, created_at, revoked_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (name) DO NOTHING",
                &[
                    &token.name,
                    &token.role,
                    &token.regions,
                    &token.purposes,
                    &&token.hash[..],
                    &token.created_at,
                    &token.revoked_at,
                ],
            )
            .map_err(backend("store a token"))?;
            if inserted == 0 {
                return Err(TokenError::NameTaken(token.name.clone()));
            }
            Ok(())
        })
    }

    fn list(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.select(&format!("{COLUMNS} ORDER BY name"))
    }

    fn active(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.select(&format!("{COLUMNS} WHERE revoked_at IS NULL ORDER BY name"))
    }

    fn revoke(&self, name: &str, at: i64) -> Result<(), TokenError> {
        self.conn.borrow_mut().run(|client, _| {
            let n = client
                .execute(
                    "UPDATE tokens SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL",
                    &[&name, &at],
                )
                .map_err(backend("revoke a token"))?;
            if n == 0 {
                return Err(TokenError::NotFound(name.to_owned()));
            }
            Ok(())
        })
    }
}

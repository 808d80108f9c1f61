//! [`SqliteTokens`]: the token database (one file beside the regions'
//! directories; see `layout.rs`).

use std::path::Path;

use rusqlite::{Connection, params};

use super::backend;
use crate::StoreError;
use crate::tokens::{TokenError, TokenRecord, TokenStore};

/// `PRAGMA application_id` of a token database: "CNDT" in ASCII.
const APPLICATION_ID: i32 = 0x434E_4454;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tokens (
    name       TEXT    NOT NULL PRIMARY KEY,
    role       TEXT    NOT NULL,
    regions    TEXT    NOT NULL,
    purposes   TEXT    NOT NULL,
    hash       BLOB    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;
";

/// The token database: create, list, revoke, and the active tokens for
/// authentication. Each call is its own transaction; the CLI and a running
/// collector may use the same file at once.
#[derive(Debug)]
pub struct SqliteTokens {
    conn: Connection,
}

impl SqliteTokens {
    /// Opens (creating if needed) the token database at `path`.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if the file cannot be opened or is another
    /// program's database.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let conn = Connection::open(path.as_ref()).map_err(backend("open the token database"))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(backend("set busy_timeout"))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(backend("set journal_mode"))?;
        Self::init(conn)
    }

    /// A private token database in memory, gone when dropped: for tests
    /// (the token conformance suite runs on it). Created like a file.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if SQLite fails (out of memory).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(backend("open in memory"))?;
        Self::init(conn)
    }

    /// Checks the database is ours (or empty, then creates the table).
    fn init(conn: Connection) -> Result<Self, StoreError> {
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(backend("set synchronous"))?;
        let id: i32 = conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .map_err(backend("read application_id"))?;
        if id == 0 {
            let objects: i64 = conn
                .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
                .map_err(backend("inspect a new database"))?;
            if objects != 0 {
                return Err(StoreError::Backend(
                    "not a Candor token database (it has tables but no Candor id)".into(),
                ));
            }
            conn.execute_batch(&format!(
                "BEGIN IMMEDIATE; PRAGMA application_id = {APPLICATION_ID}; {SCHEMA} COMMIT;"
            ))
            .map_err(backend("create the token table"))?;
        } else if id != APPLICATION_ID {
            return Err(StoreError::Backend(format!(
                "not a Candor token database (application_id {id:#x})"
            )));
        }
        Ok(Self { conn })
    }

    fn select(&self, sql: &str) -> Result<Vec<TokenRecord>, StoreError> {
        let split = |s: String| -> Vec<String> {
            s.split(',')
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let mut stmt = self
            .conn
            .prepare_cached(sql)
            .map_err(backend("prepare a token query"))?;
        stmt.query_map([], |r| {
            Ok(TokenRecord {
                name: r.get(0)?,
                role: r.get(1)?,
                regions: split(r.get(2)?),
                purposes: split(r.get(3)?),
                hash: super::hash_column(r.get_ref(4)?),
                created_at: r.get(5)?,
                revoked_at: r.get::<_, Option<i64>>(6)?,
            })
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(backend("read tokens"))
    }
}

/// Each call is its own statement (its own transaction), so the CLI and a
/// running collector may use the same file at once.
impl TokenStore for SqliteTokens {
    fn create(&self, token: &TokenRecord) -> Result<(), TokenError> {
        let inserted = self
            .conn
            .execute(
                "INSERT INTO tokens (name, role, regions, purposes, hash, created_at, revoked_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (name) DO NOTHING",
                params![
                    token.name,
                    token.role,
                    token.regions.join(","),
                    token.purposes.join(","),
                    &token.hash[..],
                    token.created_at,
                    token.revoked_at
                ],
            )
            .map_err(backend("store a token"))?;
        if inserted == 0 {
            return Err(TokenError::NameTaken(token.name.clone()));
        }
        Ok(())
    }

    fn list(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.select("SELECT name, role, regions, purposes, hash, created_at, revoked_at FROM tokens ORDER BY name")
    }

    fn active(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.select("SELECT name, role, regions, purposes, hash, created_at, revoked_at FROM tokens WHERE revoked_at IS NULL ORDER BY name")
    }

    fn revoke(&self, name: &str, at: i64) -> Result<(), TokenError> {
        let n = self
            .conn
            .execute(
                "UPDATE tokens SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL",
                params![name, at],
            )
            .map_err(backend("revoke a token"))?;
        if n == 0 {
            return Err(TokenError::NotFound(name.to_owned()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::tokens::token;

    #[test]
    fn create_list_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.sqlite");
        let db = SqliteTokens::open(&path).unwrap();
        db.create(&token("ana", 1)).unwrap();
        db.create(&token("bo", 2)).unwrap();
        assert!(matches!(
            db.create(&token("ana", 3)),
            Err(TokenError::NameTaken(_))
        ));
        db.revoke("ana", 20).unwrap();
        assert!(matches!(db.revoke("ana", 21), Err(TokenError::NotFound(_))));
        // A second handle (another process) sees the same state.
        let again = SqliteTokens::open(&path).unwrap();
        let all = again.list().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].revoked_at, Some(20));
        assert_eq!(all[1], token("bo", 2));
        assert_eq!(again.active().unwrap(), vec![token("bo", 2)]);
        assert!(matches!(
            db.create(&token("ana", 4)),
            Err(TokenError::NameTaken(_))
        ));
    }

    #[test]
    fn refuses_a_foreign_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.sqlite");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        assert!(SqliteTokens::open(&path).is_err());
    }
}

//! The embedded SQLite backend (feature `sqlite`): one database file per
//! region, and one for the tokens.
//!
//! Reach it through [`crate::StoreConfig::Sqlite`]: the factory lays the
//! files out under the data directory (`layout.rs`, the only place that
//! knows their names). [`SqliteStore`] and [`SqliteTokens`] stay public for
//! this crate's own tests and examples, and for tools that must tune the
//! connection ([`SqliteOptions`]).
//!
//! - WAL journal, so readers ([`SqliteStore::open_read_only`]) run beside
//!   the one writer without blocking it;
//! - `synchronous=FULL` by default: the WAL is fsynced at every commit, so a
//!   batch the collector acknowledged survives a power loss, not only a
//!   process crash ([`Synchronous`]);
//! - versioned migrations under `PRAGMA user_version`; a database written by
//!   a newer build is refused ([`StoreError::TooNew`]);
//! - a batch is one `BEGIN IMMEDIATE` transaction with cached statements:
//!   one insert per report id, then one upsert per distinct row and per
//!   (schema, day, purpose) count.
//!
//! ```
//! use candor_store::{sqlite::SqliteStore, RowFilter, Store};
//!
//! let dir = tempfile::tempdir()?;
//! let mut store = SqliteStore::open(dir.path().join("eu.sqlite"))?;
//! assert!(store.commit(&[])?.is_empty());
//! assert!(store.rows(&RowFilter::default())?.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Files: `mod.rs` opens and configures a handle and migrates it
//! (`migrations.rs`); `write.rs` is the batch commit, `read.rs` the row
//! query, `rollup.rs` the roll-ups (built and read), `store.rs` the [`Store`](crate::Store) implementation (releases and the audit
//! chain included), `tokens.rs` the token database, `layout.rs` the
//! factory's side (paths, region listing).

mod layout;
mod migrations;
mod read;
mod rollup;
mod store;
mod tokens;
mod write;

pub(crate) use layout::Layout;
pub use tokens::SqliteTokens;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::StoreError;
use crate::audit;

/// The schema version this build creates and reads (`PRAGMA user_version`).
pub const SCHEMA_VERSION: u32 = migrations::LATEST;

/// When SQLite makes a commit durable (`PRAGMA synchronous`, WAL mode).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Synchronous {
    /// fsync the WAL at every commit: a committed (acknowledged) batch
    /// survives power loss and OS crashes. The default, and what the
    /// collector's "202 only after commit" promise needs.
    #[default]
    Full,
    /// fsync only at checkpoints: a commit survives a crash of the process,
    /// but the last commits before a power loss or OS crash may be lost
    /// although they were acknowledged. The database stays consistent.
    /// Only for tests, benchmarks and deployments that accept that.
    Normal,
}

impl Synchronous {
    fn pragma_value(self) -> &'static str {
        match self {
            Self::Full => "FULL",
            Self::Normal => "NORMAL",
        }
    }
}

/// How to open a [`SqliteStore`]. Build with [`Default`] and the `with_`
/// methods.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SqliteOptions {
    /// Durability of a commit; see [`Synchronous`].
    pub synchronous: Synchronous,
    /// How long a statement waits for a lock held by another connection
    /// (a reader checkpointing, a second process) before failing.
    pub busy_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Full,
            busy_timeout: default_busy_timeout(),
        }
    }
}

/// Five seconds: far above any batch commit, well below an HTTP client's
/// patience.
fn default_busy_timeout() -> Duration {
    Duration::from_secs(5)
}

impl SqliteOptions {
    /// Sets [`SqliteOptions::synchronous`].
    #[must_use]
    pub fn with_synchronous(mut self, synchronous: Synchronous) -> Self {
        self.synchronous = synchronous;
        self
    }

    /// Sets [`SqliteOptions::busy_timeout`].
    #[must_use]
    pub fn with_busy_timeout(mut self, busy_timeout: Duration) -> Self {
        self.busy_timeout = busy_timeout;
        self
    }
}

/// A region's aggregate store in one SQLite database.
///
/// One handle is the writer; others opened with
/// [`SqliteStore::open_read_only`] may read at the same time (WAL). A handle
/// is `Send` but not `Sync`: give each thread its own.
pub struct SqliteStore {
    conn: Connection,
    read_only: bool,
    /// Series key (see `merge::series_key`) → id, for series committed to this
    /// database. Only committed ids enter it, so a rolled-back batch never
    /// leaves a dangling id behind.
    series: HashMap<String, i64>,
    /// `before` of this handle's last complete [`crate::Store::roll_up`]:
    /// the same call again costs nothing (retention only removes spans
    /// that start before the first day left, which are never rebuilt).
    rolled: Option<crate::DayNumber>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.conn.path())
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

/// Statements the prepared-statement cache must hold at once: the write
/// path's five, plus one `rows` query per combination of filter fields.
const STATEMENT_CACHE: usize = 64;

impl SqliteStore {
    /// Opens (creating the file if needed, not its directory) the writer
    /// handle of the store at `path`, with [`SqliteOptions::default`].
    ///
    /// # Errors
    /// [`StoreError::TooNew`] for a database of a newer build;
    /// [`StoreError::Backend`] if the file cannot be opened, is not a Candor
    /// store, or cannot be migrated.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, &SqliteOptions::default())
    }

    /// Like [`SqliteStore::open`], with explicit options.
    ///
    /// # Errors
    /// As [`SqliteStore::open`].
    pub fn open_with(path: impl AsRef<Path>, options: &SqliteOptions) -> Result<Self, StoreError> {
        let mut conn = Connection::open(path.as_ref()).map_err(backend("open the database"))?;
        conn.busy_timeout(options.busy_timeout)
            .map_err(backend("set busy_timeout"))?;
        // Refuse a foreign or newer database before changing anything in it
        // (switching to WAL rewrites its header).
        check_ours(&conn)?;
        // WAL is a property of the file (it persists); asking for it on
        // every open is cheap and repairs a file copied in another mode.
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(backend("set journal_mode"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Backend(format!(
                "the database refused WAL mode (it stays in {mode:?}); is it on a network file system?"
            )));
        }
        Self::configure(&conn, options)?;
        migrate(&mut conn)?;
        Ok(Self {
            conn,
            read_only: false,
            series: HashMap::new(),
            rolled: None,
        })
    }

    /// A private store in memory, gone when dropped: for tests. It is
    /// configured and migrated exactly like a file.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if SQLite fails (out of memory).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let mut conn = Connection::open_in_memory().map_err(backend("open in memory"))?;
        Self::configure(&conn, &SqliteOptions::default())?;
        migrate(&mut conn)?;
        Ok(Self {
            conn,
            read_only: false,
            series: HashMap::new(),
            rolled: None,
        })
    }

    /// Opens a reading handle on a store that a writer created (and
    /// migrated). Each read sees the batches committed before it started;
    /// [`Store::commit`](crate::Store::commit), [`Store::prune_seen`](crate::Store::prune_seen) and [`Store::delete_before`](crate::Store::delete_before)
    /// fail with [`StoreError::Backend`].
    ///
    /// # Errors
    /// [`StoreError::TooNew`] for a database of a newer build;
    /// [`StoreError::Backend`] if the file is missing, not a Candor store, or
    /// not yet migrated to [`SCHEMA_VERSION`].
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let options = SqliteOptions::default();
        let conn = Connection::open_with_flags(
            path.as_ref(),
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )
        .map_err(backend("open the database read-only"))?;
        conn.busy_timeout(options.busy_timeout)
            .map_err(backend("set busy_timeout"))?;
        Self::configure(&conn, &options)?;
        let version = check_ours(&conn)?;
        if version < SCHEMA_VERSION {
            return Err(StoreError::Backend(format!(
                "the database is at schema version {version}, this build reads \
                 {SCHEMA_VERSION}: open it for writing first (that migrates it)"
            )));
        }
        Ok(Self {
            conn,
            read_only: true,
            series: HashMap::new(),
            rolled: None,
        })
    }

    /// Pragmas of every connection (none of them persist in the file).
    fn configure(conn: &Connection, options: &SqliteOptions) -> Result<(), StoreError> {
        conn.pragma_update(None, "synchronous", options.synchronous.pragma_value())
            .map_err(backend("set synchronous"))?;
        // No foreign keys in the schema yet; on, so a later migration that
        // adds one is enforced from the start.
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(backend("set foreign_keys"))?;
        // 64 MiB of page cache: the dedup index is written at random
        // places, and re-reading its pages from the OS on every batch cost
        // more CPU than the upserts themselves under load.
        conn.pragma_update(None, "cache_size", -65_536)
            .map_err(backend("set cache_size"))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(())
    }

    /// Whether this is a reading handle.
    #[must_use]
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Refuses writes through a reading handle with a clear message.
    fn writable(&self) -> Result<(), StoreError> {
        crate::refuse_if_read_only(self.read_only)
    }
}

/// A stored hash; a value of the wrong size (only by tampering) reads as
/// all ones, which no real hash is, so verification fails at that row.
pub(crate) fn hash_column(value: rusqlite::types::ValueRef<'_>) -> audit::Hash {
    value
        .as_blob()
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .unwrap_or([0xff; 32])
}

/// Reads `user_version`, checking first that the file is Candor's.
fn schema_version(conn: &Connection) -> Result<u32, StoreError> {
    let application_id: i32 = conn
        .pragma_query_value(None, "application_id", |row| row.get(0))
        .map_err(backend("read application_id"))?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(backend("read user_version"))?;
    let fresh = application_id == 0 && version == 0;
    if !fresh && application_id != migrations::APPLICATION_ID {
        return Err(StoreError::Backend(format!(
            "not a Candor store (application_id {application_id:#x}, user_version {version})"
        )));
    }
    u32::try_from(version)
        .map_err(|_| StoreError::Backend(format!("invalid schema version {version}")))
}

/// The schema version of a database this build may open (Candor's or
/// empty, and not newer): checked before anything touches the file.
fn check_ours(conn: &Connection) -> Result<u32, StoreError> {
    let version = schema_version(conn)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    if version == 0 {
        // A file without our application_id and version is new only if it
        // is empty: never add our tables to another program's data.
        let objects: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))
            .map_err(backend("inspect a new database"))?;
        if objects != 0 {
            return Err(StoreError::Backend(
                "not a Candor store (it has tables but no Candor schema version)".into(),
            ));
        }
    }
    Ok(version)
}

/// Brings the database to [`SCHEMA_VERSION`], one migration per
/// transaction, or refuses a newer one.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    // The common case, without taking the write lock.
    if check_ours(conn)? == SCHEMA_VERSION {
        return Ok(());
    }
    loop {
        // Re-read inside the write transaction: another process may have
        // migrated between our check and our lock.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend("begin a migration"))?;
        let version = check_ours(&tx)?;
        let Some(migration) = migrations::MIGRATIONS.get(version as usize) else {
            // Up to date; nothing was written, so dropping `tx` (rollback)
            // releases the lock.
            return Ok(());
        };
        tx.execute_batch(migration.sql).map_err(|e| {
            StoreError::Backend(format!("migration {} failed: {e}", migration.version))
        })?;
        tx.pragma_update(None, "user_version", migration.version)
            .map_err(backend("set user_version"))?;
        tx.commit().map_err(backend("commit a migration"))?;
    }
}

/// Wraps a SQLite error with what we were doing. SQLite's messages name
/// tables and columns, never bound values, so no report id can leak here.
pub(crate) fn backend(context: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| StoreError::Backend(format!("{context}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pragma(store: &SqliteStore, name: &str) -> i64 {
        store
            .conn
            .pragma_query_value(None, name, |row| row.get(0))
            .unwrap()
    }

    #[test]
    fn connection_pragmas_are_set() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.sqlite");
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(pragma(&store, "synchronous"), 2, "FULL by default");
        assert_eq!(pragma(&store, "foreign_keys"), 1);
        assert_eq!(pragma(&store, "busy_timeout"), 5000);
        drop(store);
        let options = SqliteOptions::default()
            .with_synchronous(Synchronous::Normal)
            .with_busy_timeout(Duration::from_millis(250));
        let store = SqliteStore::open_with(&path, &options).unwrap();
        assert_eq!(pragma(&store, "synchronous"), 1, "NORMAL when asked");
        assert_eq!(pragma(&store, "busy_timeout"), 250);
        let reader = SqliteStore::open_read_only(&path).unwrap();
        assert_eq!(pragma(&reader, "busy_timeout"), 5000);
        assert!(reader.is_read_only() && !store.is_read_only());
    }

    #[test]
    fn debug_names_the_file_only() {
        let store = SqliteStore::open_in_memory().unwrap();
        let text = format!("{store:?}");
        assert!(text.starts_with("SqliteStore"), "{text}");
    }
}

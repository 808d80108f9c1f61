//! The embedded SQLite store: one database file per region.
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

mod migrations;
mod tokens;

pub use tokens::SqliteTokens;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior, params,
};

use crate::audit::{self, AuditEntry, AuditRecord, Head};
use crate::merge::Merge;
use crate::{
    AggregateRow, BudgetFilter, BudgetSpent, CommitOutcome, DayNumber, NewRelease, ReleaseOutcome,
    ReportCount, ReportDelta, RowFilter, RowKey, RowView, Store, StoreError, validate_batch,
};

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
    /// Series key (see [`series_key`]) → id, for series committed to this
    /// database. Only committed ids enter it, so a rolled-back batch never
    /// leaves a dangling id behind.
    series: HashMap<String, i64>,
}

/// The in-memory key of a row's series: its text fields joined with a
/// separator that cannot occur in them (ids, coarse values and domains
/// are printable ASCII).
fn series_key(k: &RowKey) -> String {
    format!(
        "{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
        k.schema_id, k.purpose, k.consent_version, k.metric, k.dimensions
    )
}

/// Series a batch created: (series key, id), cached once it committed.
type NewSeries = Vec<(String, i64)>;

/// Whether two rows belong to the same series.
fn same_series(a: &RowKey, b: &RowKey) -> bool {
    a.schema_id == b.schema_id
        && a.purpose == b.purpose
        && a.consent_version == b.consent_version
        && a.metric == b.metric
        && a.dimensions == b.dimensions
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

const INSERT_SEEN: &str = "INSERT INTO seen_reports (report_id, day) VALUES (?1, ?2) \
     ON CONFLICT (report_id) DO NOTHING";

const UPSERT_ROW: &str = "INSERT INTO aggregates (day, series, cell, sum, contributors) \
     VALUES (?1, ?2, ?3, ?4, ?5) \
     ON CONFLICT (day, series, cell) \
     DO UPDATE SET sum = sum + excluded.sum, contributors = contributors + excluded.contributors";

const SELECT_SERIES: &str = "SELECT id FROM series WHERE schema_id = ?1 AND purpose = ?2 \
     AND consent_version = ?3 AND metric = ?4 AND dimensions = ?5";

const INSERT_SERIES: &str = "INSERT INTO series \
     (schema_id, purpose, consent_version, metric, dimensions) VALUES (?1, ?2, ?3, ?4, ?5)";

const UPSERT_COUNT: &str = "INSERT INTO report_counts (day, schema_id, purpose, reports) \
     VALUES (?1, ?2, ?3, ?4) \
     ON CONFLICT (day, schema_id, purpose) DO UPDATE SET reports = reports + excluded.reports";

const ROW_COLUMNS: &str = "SELECT s.schema_id, a.day, s.purpose, s.consent_version, s.metric, \
     s.dimensions, a.cell, a.sum, a.contributors FROM aggregates a JOIN series s ON s.id = a.series";

const ROW_ORDER: &str =
    " ORDER BY s.schema_id, a.day, s.purpose, s.consent_version, s.metric, s.dimensions, a.cell";

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
        })
    }

    /// Opens a reading handle on a store that a writer created (and
    /// migrated). Each read sees the batches committed before it started;
    /// [`Store::commit`], [`Store::prune_seen`] and [`Store::delete_before`]
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

    /// Runs the row query for `filter`, in key order if `ordered`.
    fn for_each_row(
        &self,
        filter: &RowFilter,
        ordered: bool,
        visit: &mut dyn FnMut(&RowView<'_>),
    ) -> Result<(), StoreError> {
        // Only the conditions given, so SQLite can use an index for a day
        // range ("col = ?1 OR ?1 IS NULL" would defeat the planner). With a
        // metric, the series are few and `aggregates_by_series` serves each
        // one's days (migration 3). Values are always bound; the SQL text
        // has one form per combination of fields, which the statement cache
        // keeps.
        let mut conditions: Vec<&str> = Vec::new();
        let mut values: Vec<&dyn rusqlite::ToSql> = Vec::new();
        if let Some(schema_id) = &filter.schema_id {
            conditions.push("s.schema_id = ?");
            values.push(schema_id);
        }
        if let Some(metric) = &filter.metric {
            conditions.push("s.metric = ?");
            values.push(metric);
        }
        if let Some(purpose) = &filter.purpose {
            conditions.push("s.purpose = ?");
            values.push(purpose);
        }
        if let Some(from_day) = &filter.from_day {
            conditions.push("a.day >= ?");
            values.push(from_day);
        }
        if let Some(to_day) = &filter.to_day {
            conditions.push("a.day <= ?");
            values.push(to_day);
        }
        let mut sql = String::from(ROW_COLUMNS);
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        if ordered {
            sql.push_str(ROW_ORDER);
        }
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(backend("prepare the row query"))?;
        let mut rows = stmt
            .query(values.as_slice())
            .map_err(backend("read rows"))?;
        while let Some(row) = rows.next().map_err(backend("read rows"))? {
            let borrowed = |i: usize| -> Result<&str, StoreError> {
                row.get_ref(i)
                    .ok()
                    .and_then(|v| v.as_str().ok())
                    .ok_or_else(|| {
                        StoreError::Backend(format!("read rows: column {i} is not text"))
                    })
            };
            let number = |i: usize| -> Result<i64, StoreError> {
                row.get::<_, i64>(i).map_err(backend("read rows"))
            };
            visit(&RowView {
                schema_id: borrowed(0)?,
                day: i32::try_from(number(1)?).unwrap_or(i32::MAX),
                purpose: borrowed(2)?,
                consent_version: u32::try_from(number(3)?).unwrap_or(u32::MAX),
                metric: borrowed(4)?,
                dimensions: borrowed(5)?,
                cell: borrowed(6)?,
                sum: number(7)?,
                contributors: number(8)?,
            });
        }
        Ok(())
    }

    /// Whether this is a reading handle.
    #[must_use]
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Refuses writes through a reading handle with a clear message (SQLite
    /// would refuse them too, less legibly).
    fn writable(&self) -> Result<(), StoreError> {
        if self.read_only {
            return Err(StoreError::Backend(
                "this handle was opened read-only; write through the store's writer".into(),
            ));
        }
        Ok(())
    }

    /// Writes the batch's reports inside `tx`; the caller commits. Series
    /// created here are returned, to enter the cache once the commit
    /// succeeded.
    fn write_batch(
        tx: &Transaction<'_>,
        series: &HashMap<String, i64>,
        batch: &[ReportDelta],
    ) -> Result<(Vec<CommitOutcome>, NewSeries), StoreError> {
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut merge = Merge::default();
        {
            let mut seen = tx
                .prepare_cached(INSERT_SEEN)
                .map_err(backend("prepare the dedup insert"))?;
            for (index, report) in batch.iter().enumerate() {
                // The id is bound, never formatted: it appears in no error.
                let inserted = seen
                    .execute(params![&report.report_id[..], report.day])
                    .map_err(backend("record a report id"))?;
                if inserted == 0 {
                    outcomes.push(CommitOutcome::Duplicate);
                } else {
                    merge.add(index, report)?;
                    outcomes.push(CommitOutcome::Accepted);
                }
            }
        }
        let mut upsert = tx
            .prepare_cached(UPSERT_ROW)
            .map_err(backend("prepare the row upsert"))?;
        let mut created: NewSeries = Vec::new();
        // Rows come in key order, so the rows of one series are mostly
        // adjacent: look the series up only when it changes.
        let mut current: Option<(&RowKey, i64)> = None;
        for (key, delta) in merge.rows() {
            let id = match current {
                Some((k, id)) if same_series(k, key) => id,
                _ => {
                    let id = Self::series_id(tx, series, &mut created, key)?;
                    current = Some((key, id));
                    id
                }
            };
            upsert
                .execute(params![
                    key.day,
                    id,
                    key.cell,
                    delta.sum,
                    delta.contributors
                ])
                .map_err(|e| overflow_or_backend(e, &key.metric, "add to a row"))?;
        }
        let mut count = tx
            .prepare_cached(UPSERT_COUNT)
            .map_err(backend("prepare the count upsert"))?;
        for ((schema_id, day, purpose), reports) in merge.counts() {
            count
                .execute(params![day, schema_id, purpose, reports])
                .map_err(backend("count reports"))?;
        }
        Ok((outcomes, created))
    }

    /// The id of `key`'s series: from the cache, from this batch, from the
    /// table, or newly inserted (and noted in `created`).
    fn series_id(
        tx: &Transaction<'_>,
        cache: &HashMap<String, i64>,
        created: &mut NewSeries,
        key: &RowKey,
    ) -> Result<i64, StoreError> {
        let name = series_key(key);
        if let Some(&id) = cache.get(&name) {
            return Ok(id);
        }
        if let Some((_, id)) = created.iter().find(|(n, _)| *n == name) {
            return Ok(*id);
        }
        let fields = params![
            key.schema_id,
            key.purpose,
            key.consent_version,
            key.metric,
            key.dimensions
        ];
        let found: Option<i64> = tx
            .prepare_cached(SELECT_SERIES)
            .and_then(|mut s| s.query_row(fields, |r| r.get(0)).optional())
            .map_err(backend("look up a series"))?;
        let id = match found {
            Some(id) => id,
            None => {
                tx.prepare_cached(INSERT_SERIES)
                    .and_then(|mut s| s.execute(fields))
                    .map_err(backend("add a series"))?;
                tx.last_insert_rowid()
            }
        };
        created.push((name, id));
        Ok(id)
    }
}

impl Store for SqliteStore {
    fn commit(&mut self, batch: &[ReportDelta]) -> Result<Vec<CommitOutcome>, StoreError> {
        self.writable()?;
        validate_batch(batch)?;
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        // IMMEDIATE takes the write lock now, so the transaction cannot fail
        // half-way with SQLITE_BUSY on a read-to-write upgrade.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend("begin the batch"))?;
        // On an error `tx` is dropped, which rolls back (also when COMMIT
        // itself fails: rusqlite rolls back a transaction still open).
        let (outcomes, created) = Self::write_batch(&tx, &self.series, batch)?;
        tx.commit().map_err(backend("commit the batch"))?;
        self.series.extend(created);
        Ok(outcomes)
    }

    fn prune_seen(&mut self, before: DayNumber) -> Result<u64, StoreError> {
        self.writable()?;
        let n = self
            .conn
            .prepare_cached("DELETE FROM seen_reports WHERE day < ?1")
            .and_then(|mut s| s.execute([before]))
            .map_err(backend("prune report ids"))?;
        Ok(n as u64)
    }

    fn delete_before(&mut self, before: DayNumber) -> Result<u64, StoreError> {
        self.writable()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend("begin retention"))?;
        let rows = tx
            .execute("DELETE FROM aggregates WHERE day < ?1", [before])
            .map_err(backend("delete old rows"))?;
        tx.execute("DELETE FROM report_counts WHERE day < ?1", [before])
            .map_err(backend("delete old report counts"))?;
        tx.execute("DELETE FROM budget WHERE day < ?1", [before])
            .map_err(backend("delete old budget entries"))?;
        tx.execute("DELETE FROM releases WHERE last_day < ?1", [before])
            .map_err(backend("delete old releases"))?;
        tx.commit().map_err(backend("commit retention"))?;
        Ok(rows as u64)
    }

    fn rows(&self, filter: &RowFilter) -> Result<Vec<AggregateRow>, StoreError> {
        let mut rows = Vec::new();
        self.for_each_row(filter, true, &mut |v| {
            rows.push(AggregateRow {
                key: RowKey {
                    schema_id: v.schema_id.to_owned(),
                    day: v.day,
                    purpose: v.purpose.to_owned(),
                    consent_version: v.consent_version,
                    metric: v.metric.to_owned(),
                    dimensions: v.dimensions.to_owned(),
                    cell: v.cell.to_owned(),
                },
                sum: v.sum,
                contributors: v.contributors,
            });
        })?;
        Ok(rows)
    }

    fn visit_rows(
        &self,
        filter: &RowFilter,
        visit: &mut dyn FnMut(&RowView<'_>),
    ) -> Result<(), StoreError> {
        self.for_each_row(filter, false, visit)
    }

    fn report_counts(&self) -> Result<Vec<ReportCount>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT schema_id, day, purpose, reports FROM report_counts \
                 ORDER BY schema_id, day, purpose",
            )
            .map_err(backend("prepare the count query"))?;
        let counts = stmt
            .query_map([], |row| {
                Ok(ReportCount {
                    schema_id: row.get(0)?,
                    day: row.get(1)?,
                    purpose: row.get(2)?,
                    reports: row.get(3)?,
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(backend("read report counts"))?;
        Ok(counts)
    }

    fn cached_release(&self, cache_key: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .prepare_cached("SELECT answer FROM releases WHERE cache_key = ?1")
            .and_then(|mut s| s.query_row([cache_key], |r| r.get(0)).optional())
            .map_err(backend("read the release cache"))
    }

    fn budget(&self, filter: &BudgetFilter) -> Result<Vec<BudgetSpent>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT purpose, metric, day, spent_micros, spent_femtos FROM budget \
                 WHERE (?1 IS NULL OR purpose = ?1) AND (?2 IS NULL OR metric = ?2) \
                 AND (?3 IS NULL OR day >= ?3) AND (?4 IS NULL OR day <= ?4) \
                 ORDER BY purpose, metric, day",
            )
            .map_err(backend("prepare the budget query"))?;
        let rows = stmt
            .query_map(
                params![
                    filter.purpose,
                    filter.metric,
                    filter.from_day,
                    filter.to_day
                ],
                |row| {
                    Ok(BudgetSpent {
                        purpose: row.get(0)?,
                        metric: row.get(1)?,
                        day: row.get(2)?,
                        micros: row.get::<_, i64>(3)?.max(0) as u64,
                        femtos: row.get::<_, i64>(4)?.max(0) as u64,
                    })
                },
            )
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(backend("read the budget"))?;
        Ok(rows)
    }

    fn record_release(&mut self, release: &NewRelease) -> Result<ReleaseOutcome, StoreError> {
        self.writable()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend("begin a release"))?;
        let earlier: Option<String> = tx
            .prepare_cached("SELECT answer FROM releases WHERE cache_key = ?1")
            .and_then(|mut s| s.query_row([&release.cache_key], |r| r.get(0)).optional())
            .map_err(backend("read the release cache"))?;
        if let Some(answer) = earlier {
            append_audit_in(&tx, &release.audit)?;
            tx.commit().map_err(backend("commit a release"))?;
            return Ok(ReleaseOutcome::AlreadyCached(answer));
        }
        let cap = |u: u64| i64::try_from(u).unwrap_or(i64::MAX);
        let limits = &release.limits;
        let mut purpose_days = std::collections::BTreeMap::new();
        for c in &release.charges {
            let micros = cap(c.micros);
            let spent: i64 = tx
                .prepare_cached(
                    "INSERT INTO budget (purpose, metric, day, spent_micros, spent_femtos) \
                     VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT (purpose, metric, day) \
                     DO UPDATE SET spent_micros = spent_micros + excluded.spent_micros, \
                                   spent_femtos = spent_femtos + excluded.spent_femtos \
                     RETURNING spent_micros",
                )
                .and_then(|mut s| {
                    s.query_row(
                        params![c.purpose, c.metric, c.day, micros, cap(c.femtos)],
                        |r| r.get(0),
                    )
                })
                .map_err(backend("charge the budget"))?;
            if spent > cap(limits.metric_micros) {
                // Dropping `tx` rolls every charge of this release back.
                let before = spent.saturating_sub(micros);
                return Err(StoreError::BudgetExceeded {
                    metric: c.metric.clone(),
                    day: c.day,
                    cap: "metric_epsilon",
                    remaining: cap(limits.metric_micros).saturating_sub(before).max(0) as u64,
                });
            }
            purpose_days.entry((&c.purpose, c.day)).or_insert(&c.metric);
        }
        // The purpose caps, with every charge of this release added: one
        // grouped read per purpose over the release's days.
        let mut ours: std::collections::BTreeMap<(&String, DayNumber), (i64, i64)> =
            std::collections::BTreeMap::new();
        for c in &release.charges {
            let o = ours.entry((&c.purpose, c.day)).or_default();
            o.0 = o.0.saturating_add(cap(c.micros));
            o.1 = o.1.saturating_add(cap(c.femtos));
        }
        let mut purposes: std::collections::BTreeMap<&String, (DayNumber, DayNumber)> =
            std::collections::BTreeMap::new();
        for &(purpose, day) in purpose_days.keys() {
            let r = purposes.entry(purpose).or_insert((day, day));
            r.0 = r.0.min(day);
            r.1 = r.1.max(day);
        }
        for (purpose, (from, to)) in purposes {
            let totals: Vec<(DayNumber, i64, i64)> = tx
                .prepare_cached(
                    "SELECT day, SUM(spent_micros), SUM(spent_femtos) FROM budget \
                     WHERE purpose = ?1 AND day BETWEEN ?2 AND ?3 GROUP BY day",
                )
                .and_then(|mut s| {
                    s.query_map(params![purpose, from, to], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })?
                    .collect()
                })
                .map_err(backend("sum the purpose's budget"))?;
            for (day, micros, femtos) in totals {
                let Some(&(own_micros, own_femtos)) = ours.get(&(purpose, day)) else {
                    continue;
                };
                for (name, total, limit, own) in [
                    (
                        "purpose_epsilon",
                        micros,
                        cap(limits.purpose_micros),
                        own_micros,
                    ),
                    (
                        "purpose_delta",
                        femtos,
                        cap(limits.purpose_femtos),
                        own_femtos,
                    ),
                ] {
                    if total > limit {
                        return Err(StoreError::BudgetExceeded {
                            metric: purpose_days[&(purpose, day)].clone(),
                            day,
                            cap: name,
                            remaining: limit.saturating_sub(total.saturating_sub(own)).max(0)
                                as u64,
                        });
                    }
                }
            }
        }
        tx.prepare_cached("INSERT INTO releases (cache_key, last_day, answer) VALUES (?1, ?2, ?3)")
            .and_then(|mut s| {
                s.execute(params![release.cache_key, release.last_day, release.answer])
            })
            .map_err(backend("cache the release"))?;
        append_audit_in(&tx, &release.audit)?;
        tx.commit().map_err(backend("commit a release"))?;
        Ok(ReleaseOutcome::Recorded)
    }

    fn append_audit(&mut self, record: &AuditRecord) -> Result<AuditEntry, StoreError> {
        self.writable()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend("begin an audit append"))?;
        let entry = append_audit_in(&tx, record)?;
        tx.commit().map_err(backend("commit an audit append"))?;
        Ok(entry)
    }

    fn audit_log(&self) -> Result<(Vec<AuditEntry>, Option<Head>), StoreError> {
        // One read transaction, so rows and head are of the same moment.
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(backend("begin reading the audit log"))?;
        let entries = tx
            .prepare_cached(
                "SELECT seq, at, actor, action, detail, prev, hash FROM audit ORDER BY seq",
            )
            .and_then(|mut s| {
                s.query_map([], |row| {
                    Ok(AuditEntry {
                        seq: row.get::<_, i64>(0)?.max(0) as u64,
                        record: AuditRecord {
                            at: row.get(1)?,
                            actor: row.get(2)?,
                            action: row.get(3)?,
                            detail: row.get(4)?,
                        },
                        prev: hash_column(row.get_ref(5)?),
                        hash: hash_column(row.get_ref(6)?),
                    })
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(backend("read the audit log"))?;
        let head = read_head(&tx)?;
        Ok((entries, head))
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

fn read_head(conn: &Connection) -> Result<Option<Head>, StoreError> {
    conn.prepare_cached("SELECT seq, hash FROM audit_head WHERE one = 1")
        .and_then(|mut s| {
            s.query_row([], |r| {
                Ok(Head {
                    seq: r.get::<_, i64>(0)?.max(0) as u64,
                    hash: hash_column(r.get_ref(1)?),
                })
            })
            .optional()
        })
        .map_err(backend("read the audit head"))
}

/// Appends to the chain inside the caller's write transaction. The new
/// entry follows the recorded head, not the last row, so a tampered table
/// never silently re-anchors the chain.
fn append_audit_in(tx: &Transaction<'_>, record: &AuditRecord) -> Result<AuditEntry, StoreError> {
    let entry = audit::next_entry(read_head(tx)?, record.clone());
    let seq = i64::try_from(entry.seq)
        .map_err(|_| StoreError::Backend("the audit log is full".into()))?;
    tx.prepare_cached(
        "INSERT INTO audit (seq, at, actor, action, detail, prev, hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![
            seq,
            record.at,
            record.actor,
            record.action,
            record.detail,
            &entry.prev[..],
            &entry.hash[..]
        ])
    })
    .map_err(backend("append to the audit log"))?;
    tx.prepare_cached(
        "INSERT INTO audit_head (one, seq, hash) VALUES (1, ?1, ?2) \
         ON CONFLICT (one) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
    )
    .and_then(|mut s| s.execute(params![seq, &entry.hash[..]]))
    .map_err(backend("move the audit head"))?;
    Ok(entry)
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

/// An overflowing `sum + excluded.sum` becomes a REAL, which the STRICT
/// INTEGER column refuses with SQLITE_CONSTRAINT_DATATYPE.
fn overflow_or_backend(e: rusqlite::Error, metric: &str, context: &'static str) -> StoreError {
    match e.sqlite_error() {
        Some(err) if err.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_DATATYPE => {
            StoreError::Overflow {
                metric: metric.to_owned(),
            }
        }
        _ => backend(context)(e),
    }
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

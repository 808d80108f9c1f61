//! The PostgreSQL schemas, as numbered migrations, and the routine that
//! applies them.
//!
//! Every Candor schema (a region's, the tokens') holds a one-row table
//! `candor_meta (kind, version)`: `kind` says what the schema is, so a
//! region's schema is never opened as the token store or the other way
//! round, and `version` is the number of the last migration applied.
//! A schema that has tables but no `candor_meta` is another program's and
//! is refused, untouched.
//!
//! Migrating takes a transaction-scoped advisory lock on the schema's name
//! first, so two processes starting at once do not both create or migrate
//! it: the second waits, then finds it up to date. PostgreSQL's DDL is
//! transactional, so every pending migration and the version bump commit
//! together or not at all. A schema at a newer version is refused
//! ([`StoreError::TooNew`]). Never edit a released migration: add one.

use ::postgres::GenericClient;

use super::{backend, quote};
use crate::StoreError;

/// Advisory-lock class of migrations (the first key of the two-key lock;
/// the second is the schema name's hash). "CM" in ASCII.
const LOCK_MIGRATE: i32 = 0x434D;

/// What a Candor schema holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A region's aggregates, dedup ids, ledger, release cache and audit
    /// chain.
    Region,
    /// The analyst and admin tokens.
    Tokens,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::Region => "region",
            Self::Tokens => "tokens",
        }
    }

    fn migrations(self) -> &'static [&'static str] {
        match self {
            Self::Region => REGION,
            Self::Tokens => TOKENS,
        }
    }

    /// The version this build writes and reads.
    pub(crate) fn latest(self) -> u32 {
        self.migrations().len() as u32
    }
}

/// A region's schema; `REGION[i]` turns version `i` into `i + 1`.
///
/// Design notes, beside SQLite's (`src/sqlite/migrations.rs`), whose
/// reasons mostly carry over:
///
/// - Text columns use the `"C"` collation: byte-wise order, as
///   [`crate::RowKey`]'s `Ord` and the trait's `rows` order promise (the
///   database's default collation may be a locale's), and cheaper index
///   comparisons.
/// - `series` numbers the (schema id, purpose, consent version, metric,
///   dimensions) combinations, so an aggregate's key is (day, series,
///   cell): short keys, and a writer caches series ids. Series are never
///   deleted, so `aggregates.series` needs no foreign key (whose check
///   would cost a lookup and a row lock per new row).
/// - The index by series leaves `sum` and `contributors` out, so adding to
///   an existing row changes no indexed column and PostgreSQL can update it
///   in place (a HOT update) instead of touching both indexes.
/// - Amounts are `bigint`: an overflowing `sum + excluded.sum` raises
///   SQLSTATE 22003 and the batch rolls back.
const REGION_V1: &str = r#"
CREATE TABLE series (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    schema_id       text COLLATE "C" NOT NULL,
    purpose         text COLLATE "C" NOT NULL,
    consent_version bigint NOT NULL,
    metric          text COLLATE "C" NOT NULL,
    dimensions      text COLLATE "C" NOT NULL,
    UNIQUE (schema_id, purpose, consent_version, metric, dimensions)
);

CREATE TABLE aggregates (
    day          integer NOT NULL,
    series       bigint  NOT NULL,
    cell         text COLLATE "C" NOT NULL,
    sum          bigint  NOT NULL,
    contributors bigint  NOT NULL,
    PRIMARY KEY (day, series, cell)
);

CREATE INDEX aggregates_by_series ON aggregates (series, day);

CREATE TABLE seen_reports (
    report_id bytea   NOT NULL PRIMARY KEY,
    day       integer NOT NULL
);

CREATE INDEX seen_reports_day ON seen_reports (day);

CREATE TABLE report_counts (
    day       integer NOT NULL,
    schema_id text COLLATE "C" NOT NULL,
    purpose   text COLLATE "C" NOT NULL,
    reports   bigint  NOT NULL,
    PRIMARY KEY (day, schema_id, purpose)
);

CREATE TABLE budget (
    purpose      text COLLATE "C" NOT NULL,
    metric       text COLLATE "C" NOT NULL,
    day          integer NOT NULL,
    spent_micros bigint  NOT NULL CHECK (spent_micros >= 0),
    spent_femtos bigint  NOT NULL DEFAULT 0 CHECK (spent_femtos >= 0),
    PRIMARY KEY (purpose, metric, day)
);

CREATE INDEX budget_by_purpose_day ON budget (purpose, day);

CREATE TABLE releases (
    cache_key text COLLATE "C" NOT NULL PRIMARY KEY,
    last_day  integer NOT NULL,
    answer    text    NOT NULL
);

CREATE TABLE audit (
    seq    bigint NOT NULL PRIMARY KEY,
    at     bigint NOT NULL,
    actor  text   NOT NULL,
    action text   NOT NULL,
    detail text   NOT NULL,
    prev   bytea  NOT NULL,
    hash   bytea  NOT NULL
);

CREATE TABLE audit_head (
    one  integer NOT NULL PRIMARY KEY CHECK (one = 1),
    seq  bigint  NOT NULL,
    hash bytea   NOT NULL
);
"#;

/// Version 2: roll-ups (`crate::rollup`), as in the SQLite backend's
/// migration 5: a packed value per (series, span) of sealed days, and the
/// spans rolled up. Ingest never touches either table.
const REGION_V2: &str = r#"
CREATE TABLE rollups (
    series bigint  NOT NULL,
    level  integer NOT NULL,
    start  integer NOT NULL,
    data   bytea   NOT NULL,
    PRIMARY KEY (series, level, start)
);

CREATE INDEX rollups_by_span ON rollups (start, level);

CREATE TABLE rollup_spans (
    start integer NOT NULL,
    level integer NOT NULL,
    PRIMARY KEY (start, level)
);
"#;

/// Every migration of a region's schema.
const REGION: &[&str] = &[REGION_V1, REGION_V2];

/// The token schema, version 1: scopes as arrays (empty means all).
const TOKENS_V1: &str = r#"
CREATE TABLE tokens (
    name       text COLLATE "C" NOT NULL PRIMARY KEY,
    role       text   NOT NULL,
    regions    text[] NOT NULL,
    purposes   text[] NOT NULL,
    hash       bytea  NOT NULL UNIQUE,
    created_at bigint NOT NULL,
    revoked_at bigint
);
"#;

/// Every migration of the token schema.
const TOKENS: &[&str] = &[TOKENS_V1];

/// The version of `schema` if it is a Candor schema of `kind`; `None` if
/// it has no `candor_meta` (missing, or not yet created).
///
/// # Errors
/// [`StoreError::Backend`] for a Candor schema of another kind.
pub(crate) fn version(
    client: &mut impl GenericClient,
    schema: &str,
    kind: Kind,
) -> Result<Option<u32>, StoreError> {
    // Read the catalog's tables, not `to_regclass`: name lookups go
    // through a per-session cache that, inside a transaction which waited
    // for the migration lock, may still miss a schema another process has
    // just created.
    let exists = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relname = 'candor_meta')",
            &[&schema],
        )
        .map_err(backend("look for the schema version"))?
        .get::<_, bool>(0);
    let meta = format!("{}.candor_meta", quote(schema));
    if !exists {
        return Ok(None);
    }
    let row = client
        .query_one(&format!("SELECT kind, version FROM {meta}"), &[])
        .map_err(backend("read the schema version"))?;
    let (found, version): (String, i32) = (row.get(0), row.get(1));
    if found != kind.name() {
        return Err(StoreError::Backend(format!(
            "schema {schema} holds a Candor {found} store, not a {} store",
            kind.name()
        )));
    }
    u32::try_from(version)
        .map(Some)
        .map_err(|_| StoreError::Backend(format!("invalid schema version {version}")))
}

/// Refuses a version newer than this build's.
pub(crate) fn check_not_newer(version: u32, kind: Kind) -> Result<(), StoreError> {
    if version > kind.latest() {
        return Err(StoreError::TooNew {
            found: version,
            supported: kind.latest(),
        });
    }
    Ok(())
}

/// Creates `schema` if needed and brings it to this build's version.
///
/// # Errors
/// [`StoreError::TooNew`]; [`StoreError::Backend`] if the schema is
/// another program's, or a statement fails (then nothing changed).
pub(crate) fn migrate(
    client: &mut ::postgres::Client,
    schema: &str,
    kind: Kind,
) -> Result<(), StoreError> {
    // The common case, without the lock.
    if let Some(v) = version(client, schema, kind)? {
        check_not_newer(v, kind)?;
        if v == kind.latest() {
            return Ok(());
        }
    }
    let mut tx = client.transaction().map_err(backend("begin a migration"))?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2))",
        &[&LOCK_MIGRATE, &schema],
    )
    .map_err(backend("lock the schema for migration"))?;
    // Re-read under the lock: another process may have migrated meanwhile.
    let current = match version(&mut tx, schema, kind)? {
        Some(v) => v,
        None => {
            let tables: i64 = tx
                .query_one(
                    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname = $1",
                    &[&schema],
                )
                .map_err(backend("inspect a new schema"))?
                .get(0);
            if tables != 0 {
                return Err(StoreError::Backend(format!(
                    "schema {schema} is not a Candor store (it has tables but no candor_meta)"
                )));
            }
            tx.batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS {q}; \
                 CREATE TABLE {q}.candor_meta ( \
                     one integer NOT NULL PRIMARY KEY CHECK (one = 1), \
                     kind text NOT NULL, \
                     version integer NOT NULL); \
                 INSERT INTO {q}.candor_meta (one, kind, version) VALUES (1, '{kind}', 0);",
                q = quote(schema),
                kind = kind.name(),
            ))
            .map_err(backend("create the schema"))?;
            0
        }
    };
    check_not_newer(current, kind)?;
    // The migrations' names are unqualified: run them in the schema.
    tx.batch_execute(&format!("SET LOCAL search_path TO {}", quote(schema)))
        .map_err(backend("enter the schema"))?;
    for (i, sql) in kind.migrations().iter().enumerate().skip(current as usize) {
        tx.batch_execute(sql).map_err(|e| {
            StoreError::Backend(format!(
                "migration {} failed: {}",
                i + 1,
                super::describe(&e)
            ))
        })?;
    }
    let latest = i32::try_from(kind.latest()).unwrap_or(i32::MAX);
    tx.execute(
        &format!("UPDATE {}.candor_meta SET version = $1", quote(schema)),
        &[&latest],
    )
    .map_err(backend("set the schema version"))?;
    tx.commit().map_err(backend("commit a migration"))
}

//! The SQLite schema, as numbered migrations.
//!
//! `PRAGMA user_version` holds the number of the last migration applied
//! (0 for a new file); `PRAGMA application_id` marks the file as Candor's so
//! another program's database is never migrated by mistake. Migration `n`
//! turns version `n - 1` into `n`; each runs in its own `BEGIN IMMEDIATE`
//! transaction together with its `user_version` bump, so a crash leaves the
//! database at some whole version. Never edit a released migration: add one.

/// `PRAGMA application_id` of a Candor store: "CAND" in ASCII.
pub(super) const APPLICATION_ID: i32 = 0x4341_4E44;

/// One schema step.
pub(super) struct Migration {
    /// The version the database has after this migration.
    pub(super) version: u32,
    /// The statements, run with `execute_batch` inside the transaction.
    pub(super) sql: &'static str,
}

/// Every migration, in order; `MIGRATIONS[i].version == i + 1`.
pub(super) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: V1,
    },
    Migration {
        version: 2,
        sql: V2,
    },
    Migration {
        version: 3,
        sql: V3,
    },
    Migration {
        version: 4,
        sql: V4,
    },
    Migration {
        version: 5,
        sql: V5,
    },
];

/// The version this build writes and reads.
pub(super) const LATEST: u32 = MIGRATIONS.len() as u32;

// Design notes for version 1, measured with examples/commit_rate.rs (see
// the crate README for the figures):
//
// - `STRICT` makes SQLite enforce the declared types. That matters for
//   `sum`: SQLite turns an overflowing integer `+` into a REAL, which a
//   STRICT INTEGER column refuses (SQLITE_CONSTRAINT_DATATYPE), so an
//   overflow rolls the batch back instead of silently storing a float.
// - A row's key is (day, series, cell), where `series` numbers the
//   (schema id, purpose, consent version, metric, dimensions) combinations
//   in their own small table. Under load the upsert of aggregate rows was
//   the writer's largest cost (measured: skipping it halved the writer's
//   CPU), dominated by comparing the long composite text key in every
//   B-tree step; an integer series id makes keys short and comparisons
//   cheap, and the writer caches series ids in memory.
// - `aggregates` is `WITHOUT ROWID`: each row is stored once, in its
//   primary-key B-tree. With a rowid, SQLite keeps the rowid table *and* a
//   unique index repeating the whole composite text key, and every upsert
//   walks both.
// - `aggregates` and `report_counts` lead their key with `day`: retention
//   (`day < ?`) deletes a contiguous range, a release reads one day or a
//   few, and a batch's upserts (today, yesterday) touch neighbouring pages.
//   `rows()` returns key order (schema id first), so SQLite sorts the
//   result; reads are rare, writes constant. No secondary index: every new
//   row would pay for it.
// - `seen_reports` is the one table where a rowid wins. Ids are random, so
//   each new id dirties a random leaf of the id B-tree whatever the layout;
//   with a rowid, the table itself and the `day` index (day, rowid) grow at
//   their ends, whereas `WITHOUT ROWID` makes the day index (day, id)
//   random too. Measured with a million ids already seen: 16 % fewer bytes
//   written and about 20 % less CPU per report, for a 25 % larger file.
//   Dedup is by id alone (whatever day a retry claims); the `day` index
//   serves `prune_seen`.
const V1: &str = "
PRAGMA application_id = 1128353348;

CREATE TABLE series (
    id              INTEGER PRIMARY KEY,
    schema_id       TEXT    NOT NULL,
    purpose         TEXT    NOT NULL,
    consent_version INTEGER NOT NULL,
    metric          TEXT    NOT NULL,
    dimensions      TEXT    NOT NULL,
    UNIQUE (schema_id, purpose, consent_version, metric, dimensions)
) STRICT;

CREATE TABLE aggregates (
    day          INTEGER NOT NULL,
    series       INTEGER NOT NULL REFERENCES series (id),
    cell         TEXT    NOT NULL,
    sum          INTEGER NOT NULL,
    contributors INTEGER NOT NULL,
    PRIMARY KEY (day, series, cell)
) STRICT, WITHOUT ROWID;

CREATE TABLE seen_reports (
    report_id BLOB    NOT NULL PRIMARY KEY,
    day       INTEGER NOT NULL
) STRICT;

CREATE INDEX seen_reports_day ON seen_reports (day);

CREATE TABLE report_counts (
    day       INTEGER NOT NULL,
    schema_id TEXT    NOT NULL,
    purpose   TEXT    NOT NULL,
    reports   INTEGER NOT NULL,
    PRIMARY KEY (day, schema_id, purpose)
) STRICT, WITHOUT ROWID;
";

// Version 2: the release engine's state, which must survive restarts.
//
// - `budget` is the privacy ledger: micro-ε spent per (purpose, metric,
//   day). Integers, so sums are exact and "never above the limit" is an
//   integer comparison. Retention deletes a day's entries with its data.
// - `releases` caches released answers by their normalized query, so the
//   same question returns the same numbers and spends nothing.
// - `audit` is the hash chain (see `crate::audit`); `audit_head` holds the
//   last (seq, hash), written in the same transaction as each row, so that
//   deleting the last rows is detected too. Nothing deletes audit rows.
const V2: &str = "
CREATE TABLE budget (
    purpose      TEXT    NOT NULL,
    metric       TEXT    NOT NULL,
    day          INTEGER NOT NULL,
    spent_micros INTEGER NOT NULL CHECK (spent_micros >= 0),
    PRIMARY KEY (purpose, metric, day)
) STRICT, WITHOUT ROWID;

CREATE TABLE releases (
    cache_key TEXT    NOT NULL PRIMARY KEY,
    last_day  INTEGER NOT NULL,
    answer    TEXT    NOT NULL
) STRICT;

CREATE TABLE audit (
    seq    INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,
    actor  TEXT    NOT NULL,
    action TEXT    NOT NULL,
    detail TEXT    NOT NULL,
    prev   BLOB    NOT NULL,
    hash   BLOB    NOT NULL
) STRICT;

CREATE TABLE audit_head (
    one  INTEGER PRIMARY KEY CHECK (one = 1),
    seq  INTEGER NOT NULL,
    hash BLOB    NOT NULL
) STRICT;
";

// Version 3: releases read one metric's series over a range of days. With
// the key (day, series, cell) alone, SQLite walks every row of every metric
// in the range once per series of the metric (measured: 1.3 s for a
// counter over a year of the example schema, 1.4 M rows). An index on
// (series, day, cell) makes that a range scan per series (about 10 ms);
// carrying `sum` and `contributors` makes it covering, so a release never
// looks a row up in the table (a labeled counter by day over a year reads
// 35 k rows: half the read time). The price is on writes: an upsert of an
// existing row now also moves its index entry (about 10 % more CPU per
// report in `examples/commit_rate.rs`, where the store is far from the
// collector's bottleneck, HPKE).
const V3: &str = "
CREATE INDEX aggregates_by_series ON aggregates (series, day, cell, sum, contributors);
";

// Version 4: the ledger also bounds a device, not only a metric. One
// device's report for a purpose and day is what releases protect, so the
// budget is capped per (purpose, day) over all the purpose's metrics as
// well, and δ (femto-units, 10⁻¹⁵) is charged and capped beside ε. The
// index serves the per-(purpose, day) sums a release checks inside its
// transaction.
const V4: &str = "
ALTER TABLE budget ADD COLUMN spent_femtos INTEGER NOT NULL DEFAULT 0 CHECK (spent_femtos >= 0);
CREATE INDEX budget_by_purpose_day ON budget (purpose, day);
";

// Version 5: roll-ups (see `crate::rollup`). A year-long release read
// every day's rows of its metric (1.1 M rows for the example schema's
// domain set: 0.9 s); it now reads one packed value per series and aligned
// span of sealed days. `rollups` holds them: a rowid table, since a value
// is large (a span's domains: tens of kB), with its key (series, level,
// start) unique for the release's point reads, and (start, level) indexed
// for building a span from its halves and for retention. `rollup_spans`
// lists the spans rolled up (for every series at once, in the span's
// transaction): a span absent from it is read from the rows. Ingest never
// touches either table.
const V5: &str = "
CREATE TABLE rollups (
    series INTEGER NOT NULL REFERENCES series (id),
    level  INTEGER NOT NULL,
    start  INTEGER NOT NULL,
    data   BLOB    NOT NULL,
    UNIQUE (series, level, start)
) STRICT;

CREATE INDEX rollups_by_span ON rollups (start, level);

CREATE TABLE rollup_spans (
    start INTEGER NOT NULL,
    level INTEGER NOT NULL,
    PRIMARY KEY (start, level)
) STRICT, WITHOUT ROWID;
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(
                m.version as usize,
                i + 1,
                "migration at index {i} has the wrong number"
            );
        }
    }

    #[test]
    fn application_id_literal_matches_the_constant() {
        assert!(V1.contains(&format!("application_id = {APPLICATION_ID};")));
    }
}

//! What only the SQLite adapter promises.

use std::path::{Path, PathBuf};
use std::process::Command;

use candor_store::sqlite::{SCHEMA_VERSION, SqliteStore};
use candor_store::{
    CommitOutcome, Contribution, DayNumber, ReportDelta, RowFilter, RowKey, Store, StoreError,
};
use rusqlite::Connection;
use tempfile::TempDir;

const DAY: DayNumber = 19_800;

fn key(metric: &str, cell: &str) -> RowKey {
    RowKey {
        schema_id: "org.example.browser".into(),
        day: DAY,
        purpose: "usage".into(),
        consent_version: 1,
        metric: metric.into(),
        dimensions: "platform=android".into(),
        cell: cell.into(),
    }
}

fn report(id: u8, contributions: &[(&str, &str, i64)]) -> ReportDelta {
    ReportDelta {
        report_id: [id; 16],
        day: DAY,
        schema_id: "org.example.browser".into(),
        purpose: "usage".into(),
        contributions: contributions
            .iter()
            .map(|(metric, cell, value)| Contribution {
                key: key(metric, cell),
                value: *value,
            })
            .collect(),
    }
}

fn db() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("region.sqlite");
    (dir, path)
}

fn sums(store: &SqliteStore) -> Vec<(String, i64, i64)> {
    store
        .rows(&RowFilter::default())
        .expect("rows")
        .into_iter()
        .map(|r| (r.key.cell, r.sum, r.contributors))
        .collect()
}

fn raw(path: &Path) -> Connection {
    Connection::open(path).expect("open the file with rusqlite")
}

fn user_version(path: &Path) -> i64 {
    raw(path)
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("user_version")
}

#[test]
fn open_close_reopen_is_idempotent_and_keeps_data() {
    let (_dir, path) = db();
    let mut store = SqliteStore::open(&path).expect("create");
    assert_eq!(
        store
            .commit(&[report(1, &[("app.opened", "camera", 3)])])
            .expect("commit"),
        [CommitOutcome::Accepted]
    );
    drop(store);
    assert_eq!(user_version(&path), i64::from(SCHEMA_VERSION));
    for _ in 0..3 {
        let store = SqliteStore::open(&path).expect("reopen");
        assert_eq!(
            sums(&store),
            [("camera".to_owned(), 3, 1)],
            "data survives reopen"
        );
    }
    assert_eq!(
        user_version(&path),
        i64::from(SCHEMA_VERSION),
        "reopen migrates nothing"
    );
    // The id survived too.
    let mut store = SqliteStore::open(&path).expect("reopen");
    assert_eq!(
        store
            .commit(&[report(1, &[("app.opened", "camera", 3)])])
            .expect("commit"),
        [CommitOutcome::Duplicate],
        "seen ids survive reopen"
    );
}

#[test]
fn the_file_is_in_wal_mode_with_the_designed_tables() {
    let (_dir, path) = db();
    drop(SqliteStore::open(&path).expect("create"));
    let conn = raw(&path);
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .expect("journal_mode");
    assert_eq!(mode, "wal");
    let app_id: i64 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .expect("application_id");
    assert_eq!(app_id, 0x4341_4E44, "application_id is 'CAND'");
    // seen_reports keeps its rowid on purpose (see migrations.rs).
    for (table, want_without_rowid) in [
        ("aggregates", true),
        ("series", false),
        ("seen_reports", false),
        ("report_counts", true),
    ] {
        let (without_rowid, strict): (bool, bool) = conn
            .query_row(
                "SELECT wr, strict FROM pragma_table_list WHERE name = ?1",
                [table],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap_or_else(|e| panic!("table {table}: {e}"));
        assert!(strict, "{table} must be STRICT");
        assert_eq!(without_rowid, want_without_rowid, "{table}: WITHOUT ROWID");
    }
}

fn plan(conn: &Connection, sql: &str) -> String {
    let mut stmt = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .expect("explain");
    let details: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(3))
        .expect("plan")
        .collect::<Result<_, _>>()
        .expect("plan rows");
    details.join("; ")
}

#[test]
fn retention_and_pruning_use_an_index() {
    let (_dir, path) = db();
    drop(SqliteStore::open(&path).expect("create"));
    let conn = raw(&path);
    let retention = plan(&conn, "DELETE FROM aggregates WHERE day < 5");
    assert!(
        retention.contains("USING PRIMARY KEY (day<?)"),
        "retention scans: {retention}"
    );
    let prune = plan(&conn, "DELETE FROM seen_reports WHERE day < 5");
    assert!(prune.contains("seen_reports_day"), "pruning scans: {prune}");
    let day = plan(
        &conn,
        "SELECT * FROM aggregates WHERE day >= 3 AND day <= 4 AND series = 1",
    );
    assert!(
        day.contains("aggregates_by_series (series=? AND day>? AND day<?)"),
        "a series' days are an index range: {day}"
    );
    // A release's read: the metric's series, then each one's days.
    let release = plan(
        &conn,
        "SELECT a.cell FROM aggregates a JOIN series s ON s.id = a.series \
         WHERE s.schema_id = 'x' AND s.metric = 'm' AND s.purpose = 'p' AND a.day >= 3 AND a.day <= 400",
    );
    assert!(
        release.contains("aggregates_by_series"),
        "a release reads its series by index: {release}"
    );
}

#[test]
fn a_newer_database_is_refused() {
    let (_dir, path) = db();
    drop(SqliteStore::open(&path).expect("create"));
    raw(&path)
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .expect("bump user_version");
    match SqliteStore::open(&path) {
        Err(StoreError::TooNew { found, supported }) => {
            assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
        }
        other => panic!("a newer database must be refused with TooNew, got {other:?}"),
    }
    assert!(
        matches!(
            SqliteStore::open_read_only(&path),
            Err(StoreError::TooNew { .. })
        ),
        "the reader refuses it too"
    );
    assert_eq!(
        user_version(&path),
        i64::from(SCHEMA_VERSION + 1),
        "refusing touches nothing"
    );
}

#[test]
fn another_programs_database_is_refused_and_left_alone() {
    let (_dir, path) = db();
    let conn = raw(&path);
    conn.execute_batch("CREATE TABLE notes (body TEXT);")
        .expect("foreign table");
    drop(conn);
    let err = SqliteStore::open(&path).expect_err("a foreign database");
    assert!(err.to_string().contains("not a Candor store"), "{err}");
    let tables: i64 = raw(&path)
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .expect("count");
    assert_eq!(tables, 1, "nothing was added to the foreign database");
    let mode: String = raw(&path)
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .expect("journal_mode");
    assert_eq!(
        mode, "delete",
        "the foreign database was not switched to WAL"
    );
    let err = SqliteStore::open_read_only(&path).expect_err("a foreign database, read-only");
    assert!(err.to_string().contains("not a Candor store"), "{err}");

    let (_dir2, other) = db();
    let conn = raw(&other);
    conn.pragma_update(None, "application_id", 42)
        .expect("app id");
    drop(conn);
    let err = SqliteStore::open(&other).expect_err("another application_id");
    assert!(err.to_string().contains("not a Candor store"), "{err}");

    let (_dir3, garbage) = db();
    std::fs::write(
        &garbage,
        b"this is not a database, not even close..........",
    )
    .expect("write");
    assert!(matches!(
        SqliteStore::open(&garbage),
        Err(StoreError::Backend(_))
    ));
}

#[test]
fn the_reader_sees_committed_batches_and_cannot_write() {
    let (_dir, path) = db();
    let mut writer = SqliteStore::open(&path).expect("writer");
    writer
        .commit(&[report(1, &[("app.opened", "camera", 1)])])
        .expect("first");
    let mut reader = SqliteStore::open_read_only(&path).expect("reader");
    assert_eq!(sums(&reader), [("camera".to_owned(), 1, 1)]);
    writer
        .commit(&[report(
            2,
            &[("app.opened", "camera", 2), ("app.opened", "clock", 5)],
        )])
        .expect("second");
    assert_eq!(
        sums(&reader),
        [("camera".to_owned(), 3, 2), ("clock".to_owned(), 5, 1)],
        "the reader sees a batch committed after it opened"
    );
    assert_eq!(reader.report_counts().expect("counts")[0].reports, 2);

    let err = reader
        .commit(&[report(3, &[("app.opened", "camera", 1)])])
        .expect_err("a reader cannot commit");
    assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
    let text = format!("{err} {err:?}");
    assert!(
        !text.contains("030303") && !text.contains("[3, 3"),
        "no report id in errors: {text}"
    );
    assert!(reader.prune_seen(DAY + 1).is_err(), "a reader cannot prune");
    assert!(
        reader.delete_before(DAY + 1).is_err(),
        "a reader cannot delete"
    );
    assert_eq!(sums(&writer).len(), 2, "the refused writes changed nothing");

    // With the writer closed (WAL checkpointed and removed) the file is
    // still readable.
    drop(writer);
    drop(reader);
    let reader = SqliteStore::open_read_only(&path).expect("reader of a closed store");
    assert_eq!(sums(&reader).len(), 2);
}

#[test]
fn the_reader_refuses_a_missing_or_unmigrated_file() {
    let (_dir, path) = db();
    assert!(
        matches!(
            SqliteStore::open_read_only(&path),
            Err(StoreError::Backend(_))
        ),
        "a missing file"
    );
    assert!(!path.exists(), "the reader must not create the file");
    std::fs::write(&path, b"").expect("empty file");
    let err = SqliteStore::open_read_only(&path).expect_err("an unmigrated file");
    assert!(
        err.to_string().contains("open it for writing first"),
        "{err}"
    );
}

/// Set by the parent test for the child process.
const CRASH_ENV: &str = "CANDOR_STORE_TEST_CRASH_DB";

#[test]
fn a_committed_batch_survives_the_process_dying_without_closing() {
    let (_dir, path) = db();
    let exe = std::env::current_exe().expect("the test binary");
    let child = Command::new(exe)
        .args([
            "--exact",
            "sqlite::crash_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CRASH_ENV, &path)
        .output()
        .expect("run the child");
    assert_eq!(
        child.status.code(),
        Some(17),
        "the child must reach its exit; its stderr:\n{}",
        String::from_utf8_lossy(&child.stderr)
    );
    assert!(
        path.with_extension("sqlite-wal").exists(),
        "the child left its WAL behind (no clean close)"
    );
    let mut store = SqliteStore::open(&path).expect("reopen after the crash");
    assert_eq!(
        sums(&store),
        [("camera".to_owned(), 7, 1)],
        "the committed batch is there; the open transaction is not"
    );
    assert_eq!(
        store.commit(&[report(9, &[])]).expect("commit"),
        [CommitOutcome::Duplicate],
        "the committed id is there"
    );
    assert_eq!(
        store.commit(&[report(10, &[])]).expect("commit"),
        [CommitOutcome::Accepted],
        "the uncommitted id is not"
    );
}

/// Not a test on its own: the child of the test above. It commits a batch,
/// leaves a second write transaction open, and exits without closing
/// anything (no destructor runs).
#[test]
fn crash_child() {
    let Some(path) = std::env::var_os(CRASH_ENV) else {
        return;
    };
    let mut store = SqliteStore::open(&path).expect("child: open");
    store
        .commit(&[report(9, &[("app.opened", "camera", 7)])])
        .expect("child: commit");
    let other = Connection::open(&path).expect("child: second connection");
    other
        .execute_batch(
            "BEGIN IMMEDIATE;
             INSERT INTO seen_reports (report_id, day) VALUES (x'0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a', 1);
             UPDATE aggregates SET sum = sum + 1000;",
        )
        .expect("child: an open transaction");
    std::process::exit(17);
}

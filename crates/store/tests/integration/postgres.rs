//! The conformance suites against PostgreSQL, one `#[test]` per case, each
//! in a fresh namespace of the test database whose schemas are dropped
//! after the case; and what only the PostgreSQL adapter promises.
//!
//! The server is found by `candor_testkit::POSTGRES` (the local default,
//! or `CANDOR_TEST_POSTGRES_URL`); when none answers, every test prints a
//! `SKIPPED` line and returns (and fails under `CANDOR_REQUIRE_SERVICES=1`).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use candor_store::postgres::{SCHEMA_VERSION, drop_namespace};
use candor_store::{
    Contribution, ReportDelta, RowFilter, RowKey, Store, StoreConfig, StoreError, TokenStore,
};

use crate::guarded::{Guarded, GuardedTokens};

/// A namespace of its own in the test database, unique per test and
/// process; its schemas are dropped when it is.
pub(crate) struct Fresh {
    config: StoreConfig,
    url: String,
    namespace: String,
}

impl Fresh {
    /// A fresh namespace, or `None` (after saying so) without a server.
    pub(crate) fn new() -> Option<Self> {
        let test = std::thread::current()
            .name()
            .unwrap_or("a PostgreSQL store test")
            .to_owned();
        let url = candor_testkit::POSTGRES.get(&test)?;
        Some(Self::at(url))
    }

    fn at(url: String) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        // The process id and a counter keep concurrent tests apart; the
        // clock keeps this run apart from a crashed one's leftovers.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let namespace = format!(
            "t{}x{}x{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            nanos % 1_000_000
        );
        Self {
            config: StoreConfig::postgres(url.clone(), namespace.clone()),
            url,
            namespace,
        }
    }

    /// A writer of region `eu`, owning the namespace.
    fn store() -> Option<Box<dyn Store>> {
        let fresh = Self::new()?;
        let store = fresh.config.open_region("eu").expect("open a region");
        Some(Box::new(Guarded {
            store,
            _guard: fresh,
        }))
    }

    /// The token store, owning the namespace.
    fn tokens() -> Option<Box<dyn TokenStore>> {
        let fresh = Self::new()?;
        let tokens = fresh.config.open_tokens().expect("open the token store");
        Some(Box::new(GuardedTokens {
            tokens,
            _guard: fresh,
        }))
    }

    /// A direct connection to the test database, for inspecting and
    /// tampering with what the store wrote.
    fn raw(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).expect("connect to the test database")
    }
}

impl AsRef<StoreConfig> for Fresh {
    fn as_ref(&self) -> &StoreConfig {
        &self.config
    }
}

impl Drop for Fresh {
    fn drop(&mut self) {
        if let Err(e) = drop_namespace(&self.url, &self.namespace) {
            eprintln!("could not drop the test namespace {}: {e}", self.namespace);
        }
    }
}

mod postgres_store {
    candor_store::store_conformance_tests!(optional: super::Fresh::store);
}

mod postgres_tokens {
    candor_store::token_conformance_tests!(optional: super::Fresh::tokens);
}

mod postgres_config {
    candor_store::config_conformance_tests!(optional: super::Fresh::new);
}

fn report(id: u8, day: i32, cells: &[(&str, i64)]) -> ReportDelta {
    ReportDelta {
        report_id: [id; 16],
        day,
        schema_id: "org.example.browser".into(),
        purpose: "usage".into(),
        contributions: cells
            .iter()
            .map(|(cell, value)| Contribution {
                key: RowKey {
                    schema_id: "org.example.browser".into(),
                    day,
                    purpose: "usage".into(),
                    consent_version: 1,
                    metric: "app.opened".into(),
                    dimensions: "platform=android".into(),
                    cell: (*cell).into(),
                },
                value: *value,
            })
            .collect(),
    }
}

fn sums(store: &dyn Store) -> Vec<(String, i64, i64)> {
    store
        .rows(&RowFilter::default())
        .expect("rows")
        .into_iter()
        .map(|r| (r.key.cell, r.sum, r.contributors))
        .collect()
}

#[test]
fn schemas_are_versioned_and_reopening_keeps_data() {
    let Some(fresh) = Fresh::new() else { return };
    let mut store = fresh.config.open_region("us-west").expect("create");
    store
        .commit(&[report(1, 20_000, &[("camera", 3)])])
        .expect("commit");
    drop(store);
    let mut raw = fresh.raw();
    let schema = format!("{}_region_us_west", fresh.namespace);
    let row = raw
        .query_one(
            &format!("SELECT kind, version FROM \"{schema}\".candor_meta"),
            &[],
        )
        .expect("the version table");
    assert_eq!(
        (row.get::<_, String>(0), row.get::<_, i32>(1)),
        ("region".to_owned(), SCHEMA_VERSION as i32)
    );
    let store = fresh.config.open_region("us-west").expect("reopen");
    assert_eq!(sums(&*store), [("camera".to_owned(), 3, 1)]);
    assert!(
        fresh.config.describe_region("us-west").ends_with(&schema),
        "{}",
        fresh.config.describe_region("us-west")
    );
}

#[test]
fn a_newer_schema_is_refused() {
    let Some(fresh) = Fresh::new() else { return };
    drop(fresh.config.open_region("eu").expect("create"));
    fresh
        .raw()
        .batch_execute(&format!(
            "UPDATE \"{}_region_eu\".candor_meta SET version = version + 1",
            fresh.namespace
        ))
        .expect("pretend a newer build migrated it");
    for result in [
        fresh.config.open_region("eu").map(drop),
        fresh.config.open_region_read_only("eu").map(drop),
    ] {
        assert!(
            matches!(result, Err(StoreError::TooNew { found, supported })
                if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION),
            "{result:?}"
        );
    }
}

#[test]
fn a_foreign_schema_is_refused_and_left_alone() {
    let Some(fresh) = Fresh::new() else { return };
    let schema = format!("{}_region_eu", fresh.namespace);
    fresh
        .raw()
        .batch_execute(&format!(
            "CREATE SCHEMA \"{schema}\"; CREATE TABLE \"{schema}\".theirs (x int)"
        ))
        .expect("another program's schema");
    let err = fresh.config.open_region("eu").map(drop).unwrap_err();
    assert!(err.to_string().contains("not a Candor store"), "{err}");
    let tables: i64 = fresh
        .raw()
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = $1",
            &[&schema],
        )
        .expect("count")
        .get(0);
    assert_eq!(tables, 1, "nothing was added to it");
    assert_eq!(
        fresh.config.regions().expect("regions"),
        Vec::<String>::new()
    );
}

#[test]
fn writers_starting_at_once_migrate_once() {
    let Some(fresh) = Fresh::new() else { return };
    let config = &fresh.config;
    std::thread::scope(|s| {
        let starts: Vec<_> = (0..4)
            .map(|_| s.spawn(move || config.open_region("eu").map(drop)))
            .collect();
        for start in starts {
            start
                .join()
                .expect("a starting writer panicked")
                .expect("every writer opens the region");
        }
    });
    assert_eq!(config.regions().expect("regions"), ["eu"]);
}

#[test]
fn concurrent_writers_on_shared_rows_neither_deadlock_nor_lose_counts() {
    let Some(fresh) = Fresh::new() else { return };
    const WRITERS: u8 = 2;
    const BATCHES: u8 = 20;
    let cells = ["a", "b", "c", "d", "e", "f"];
    std::thread::scope(|s| {
        for w in 0..WRITERS {
            let config = &fresh.config;
            s.spawn(move || {
                let mut store = config.open_region("eu").expect("open a writer");
                for b in 0..BATCHES {
                    // Each writer touches every row, in its own order in the
                    // batch: only the store's sorting keeps the lock order.
                    let mut mine: Vec<(&str, i64)> = cells.iter().map(|c| (*c, 1)).collect();
                    if w % 2 == 1 {
                        mine.reverse();
                    }
                    let id = w * BATCHES + b;
                    let outcomes = store
                        .commit(&[report(id, 20_000, &mine), report(id, 20_000, &mine)])
                        .expect("a concurrent batch commits");
                    assert_eq!(
                        outcomes,
                        [
                            candor_store::CommitOutcome::Accepted,
                            candor_store::CommitOutcome::Duplicate
                        ]
                    );
                }
            });
        }
    });
    let store = fresh.config.open_region_read_only("eu").expect("reader");
    let expected = i64::from(WRITERS) * i64::from(BATCHES);
    assert_eq!(
        sums(&*store),
        cells
            .iter()
            .map(|c| ((*c).to_owned(), expected, expected))
            .collect::<Vec<_>>()
    );
    let counts = store.report_counts().expect("counts");
    assert_eq!(counts[0].reports, expected);
}

#[test]
fn a_lost_connection_is_reestablished_at_the_next_call() {
    let Some(url) = candor_testkit::POSTGRES.get("a_lost_connection_is_reestablished") else {
        return;
    };
    let mut fresh = Fresh::at(url.clone());
    let mut raw = fresh.raw();
    // A name of its own, so the test ends only its own store's session.
    let tagged = format!(
        "{url}{}application_name={}",
        if url.contains('?') { '&' } else { '?' },
        fresh.namespace
    );
    fresh.url = tagged.clone();
    fresh.config = StoreConfig::postgres(tagged, fresh.namespace.clone());
    let mut store = fresh.config.open_region("eu").expect("open");
    store
        .commit(&[report(1, 20_000, &[("camera", 1)])])
        .expect("commit");
    let ended: i64 = raw
        .query_one(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = $1) t",
            &[&fresh.namespace],
        )
        .expect("end the store's session")
        .get(0);
    assert_eq!(ended, 1, "the store had one session");
    // The call that meets the closed connection may fail, changing
    // nothing; the one after it reconnects.
    let first = store.commit(&[report(2, 20_000, &[("camera", 1)])]);
    if first.is_err() {
        store
            .commit(&[report(2, 20_000, &[("camera", 1)])])
            .expect("the next call reconnects");
    }
    assert_eq!(sums(&*store), [("camera".to_owned(), 2, 2)]);
}

#[test]
fn a_reader_is_read_only_in_the_database_too() {
    let Some(fresh) = Fresh::new() else { return };
    drop(fresh.config.open_region("eu").expect("create"));
    let reader = fresh.config.open_region_read_only("eu").expect("reader");
    assert!(reader.rows(&RowFilter::default()).expect("read").is_empty());
    let mut reader = reader;
    let err = reader
        .commit(&[report(1, 20_000, &[("camera", 1)])])
        .unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
}

#[test]
fn the_token_schema_is_not_a_region() {
    let Some(fresh) = Fresh::new() else { return };
    drop(fresh.config.open_tokens().expect("tokens"));
    // A namespace's token schema and regions never mix.
    let tokens_as_region = StoreConfig::postgres(fresh.url.clone(), fresh.namespace.clone());
    assert!(!tokens_as_region.has_region("tokens").expect("has_region"));
    assert!(fresh.config.has_tokens().expect("has_tokens"));
    assert_eq!(
        fresh.config.regions().expect("regions"),
        Vec::<String>::new()
    );
}

#[test]
fn bad_namespaces_are_refused_before_connecting() {
    // No server needed: the namespace is checked first.
    let config = StoreConfig::postgres("postgres://nobody@127.0.0.1:1/none", "Bad_Name");
    let err = config.open_region("eu").map(drop).unwrap_err();
    assert!(err.to_string().contains("namespace"), "{err}");
    let debug = format!(
        "{:?}",
        StoreConfig::postgres("postgres://ana:s3cret@db:5432/candor", "candor")
    );
    assert!(!debug.contains("s3cret"), "{debug}");
    assert!(debug.contains("ana@db:5432/candor"), "{debug}");
}

#[test]
fn errors_quote_no_bound_value() {
    let Some(fresh) = Fresh::new() else { return };
    let tokens = fresh.config.open_tokens().expect("tokens");
    let token = |name: &str| candor_store::TokenRecord {
        name: name.into(),
        role: "analyst".into(),
        regions: vec![],
        purposes: vec![],
        hash: [0xAB; 32],
        created_at: 1,
        revoked_at: None,
    };
    tokens.create(&token("ana")).expect("create");
    // Another name with the same hash: the unique index refuses it, and
    // PostgreSQL's DETAIL would quote the hash.
    let err = tokens.create(&token("bo")).unwrap_err().to_string();
    assert!(err.contains("SQLSTATE 23505"), "{err}");
    assert!(!err.to_lowercase().contains("abab"), "{err}");
}

/// Roll-ups are built once, even by two handles racing for them, and a
/// read handle reads a year's cell in a few spans.
#[test]
fn roll_ups_are_built_once_and_read_in_spans() {
    let Some(fresh) = Fresh::new() else { return };
    let mut a = fresh.config.open_region("eu").expect("create");
    let mut b = fresh.config.open_region("eu").expect("a second writer");
    for day in 0..40 {
        a.commit(&[report(day as u8, 20_000 + day, &[("*", 1), ("camera", 2)])])
            .expect("commit");
    }
    // 20 000 is a multiple of 32: days 20 000..=20 031 make 32 + 16 + 8 +
    // 4 + 2 + 1 spans, whoever builds them.
    let (x, y) = std::thread::scope(|s| {
        let x = s.spawn(|| a.roll_up(20_032).expect("roll up"));
        let y = s.spawn(|| b.roll_up(20_032).expect("roll up"));
        (x.join().expect("a"), y.join().expect("b"))
    });
    assert_eq!(x + y, 63, "each span is built once ({x} + {y})");
    let reader = fresh.config.open_region_read_only("eu").expect("a reader");
    let filter = RowFilter {
        from_day: Some(20_000),
        to_day: Some(20_035),
        ..RowFilter::default()
    };
    let mut seen = Vec::new();
    reader
        .visit_spans(&filter, false, &mut |v| {
            seen.push((v.row.cell.to_owned(), v.row.day, v.last_day, v.row.sum));
        })
        .expect("visit spans");
    assert!(
        seen.contains(&("camera".into(), 20_000, 20_031, 64)),
        "{seen:?}"
    );
    assert_eq!(seen.iter().filter(|s| s.0 == "camera").count(), 5);
    assert_eq!(seen.iter().filter(|s| s.0 == "*").count(), 36);
}

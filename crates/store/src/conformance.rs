//! The conformance suite: what every [`Store`] backend must do, identically.
//!
//! Each case is a public function taking a fresh, empty store and panicking
//! with a message that says what broke. A backend runs all of them with one
//! line in its tests, either one `#[test]` per case:
//!
//! ```no_run
//! mod sqlite_in_memory {
//!     candor_store::store_conformance_tests!(|| -> Box<dyn candor_store::Store> {
//!         Box::new(candor_store::sqlite::SqliteStore::open_in_memory().expect("open"))
//!     });
//! }
//! ```
//!
//! or all in one test with [`run`]:
//!
//! ```no_run
//! use candor_store::{conformance, sqlite::SqliteStore, Store};
//!
//! conformance::run(&mut || -> Box<dyn Store> {
//!     Box::new(SqliteStore::open_in_memory().expect("open an in-memory store"))
//! });
//! ```
//!
//! The expected results come from a model in this module (a plain
//! in-memory implementation of the trait's contract), so the
//! randomized case checks a backend against the specification rather than
//! against another backend.
//!
//! How a failure is forced backend-neutrally: by the shared rules, not by
//! breaking the database. A negative value is refused by
//! [`validate_batch`](crate::validate_batch) before anything is written;
//! a sum that overflows `i64` is refused by the backend in the middle of the
//! transaction, after report ids and other rows were already written, which
//! checks the rollback itself.

use std::collections::{BTreeMap, HashMap};

use crate::audit::{self, AuditRecord};
use crate::{
    AggregateRow, BudgetCharge, BudgetFilter, BudgetLimits, CommitOutcome, Contribution, DayNumber,
    NewRelease, ReleaseOutcome, ReportCount, ReportDelta, RowFilter, RowKey, Store, StoreError,
};

/// A case of the suite: gets a fresh, empty store.
pub type Case = fn(&mut dyn Store);

/// Every case, by name, in the order [`run`] runs them.
pub const CASES: &[(&str, Case)] = &[
    ("empty_store", empty_store),
    (
        "commit_sums_and_counts_contributors",
        commit_sums_and_counts_contributors,
    ),
    (
        "repeated_row_in_one_report_is_one_contributor",
        repeated_row_in_one_report_is_one_contributor,
    ),
    ("duplicates_add_nothing", duplicates_add_nothing),
    (
        "invalid_batch_commits_nothing",
        invalid_batch_commits_nothing,
    ),
    (
        "overflow_rolls_back_the_whole_batch",
        overflow_rolls_back_the_whole_batch,
    ),
    (
        "prune_seen_forgets_only_older_days",
        prune_seen_forgets_only_older_days,
    ),
    (
        "delete_before_removes_old_rows_and_counts",
        delete_before_removes_old_rows_and_counts,
    ),
    ("rows_filter_and_order", rows_filter_and_order),
    (
        "visit_rows_sees_the_same_rows",
        visit_rows_sees_the_same_rows,
    ),
    (
        "report_counts_per_schema_day_purpose",
        report_counts_per_schema_day_purpose,
    ),
    ("large_batch", large_batch),
    ("randomized_against_model", randomized_against_model),
    (
        "release_charges_caches_and_logs",
        release_charges_caches_and_logs,
    ),
    (
        "release_over_budget_changes_nothing",
        release_over_budget_changes_nothing,
    ),
    (
        "release_over_the_purpose_cap_changes_nothing",
        release_over_the_purpose_cap_changes_nothing,
    ),
    (
        "audit_log_is_a_verified_chain",
        audit_log_is_a_verified_chain,
    ),
    (
        "retention_keeps_the_audit_log",
        retention_keeps_the_audit_log,
    ),
];

/// Runs every case, each on a fresh store from `make`. The name of the case
/// is printed before it runs, so a failure's output says which one it was.
pub fn run(make: &mut dyn FnMut() -> Box<dyn Store>) {
    for (name, case) in CASES {
        eprintln!("candor-store conformance: {name}");
        let mut store = make();
        case(&mut *store);
    }
}

/// Generates one `#[test]` per conformance case (plus one checking that the
/// list is complete) in the current module, each on a fresh store from the
/// given factory, an expression of type `impl FnMut() -> Box<dyn Store>`.
///
/// ```no_run
/// mod sqlite_in_memory {
///     candor_store::store_conformance_tests!(|| -> Box<dyn candor_store::Store> {
///         Box::new(candor_store::sqlite::SqliteStore::open_in_memory().expect("open"))
///     });
/// }
/// ```
#[macro_export]
macro_rules! store_conformance_tests {
    ($make:expr) => {
        $crate::store_conformance_tests!(@cases $make;
            empty_store,
            commit_sums_and_counts_contributors,
            repeated_row_in_one_report_is_one_contributor,
            duplicates_add_nothing,
            invalid_batch_commits_nothing,
            overflow_rolls_back_the_whole_batch,
            prune_seen_forgets_only_older_days,
            delete_before_removes_old_rows_and_counts,
            rows_filter_and_order,
            visit_rows_sees_the_same_rows,
            report_counts_per_schema_day_purpose,
            large_batch,
            randomized_against_model,
            release_charges_caches_and_logs,
            release_over_budget_changes_nothing,
            release_over_the_purpose_cap_changes_nothing,
            audit_log_is_a_verified_chain,
            retention_keeps_the_audit_log,
        );
    };
    (@cases $make:expr; $($case:ident),+ $(,)?) => {
        $(
            #[test]
            fn $case() {
                let mut make = $make;
                let mut store: ::std::boxed::Box<dyn $crate::Store> = make();
                $crate::conformance::$case(&mut *store);
            }
        )+

        #[test]
        fn conformance_list_is_complete() {
            let generated: &[&str] = &[$(stringify!($case)),+];
            let all: ::std::vec::Vec<&str> =
                $crate::conformance::CASES.iter().map(|(name, _)| *name).collect();
            assert_eq!(
                generated,
                all.as_slice(),
                "store_conformance_tests! and conformance::CASES list different cases"
            );
        }
    };
}

// ---------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------

/// A new store is empty, and an empty batch or a prune of nothing changes
/// nothing.
pub fn empty_store(store: &mut dyn Store) {
    assert_eq!(
        all_rows(store),
        [],
        "a new store must have no aggregate rows"
    );
    assert_eq!(counts(store), [], "a new store must have no report counts");
    let outcomes = store.commit(&[]).expect("an empty batch must commit");
    assert!(
        outcomes.is_empty(),
        "an empty batch has no outcomes, got {outcomes:?}"
    );
    assert_eq!(
        store
            .prune_seen(DayNumber::MAX)
            .expect("prune_seen on an empty store"),
        0,
        "prune_seen on an empty store must forget nothing"
    );
    assert_eq!(
        store
            .delete_before(DayNumber::MAX)
            .expect("delete_before on an empty store"),
        0,
        "delete_before on an empty store must delete nothing"
    );
    let filter = RowFilter {
        schema_id: Some(SCHEMA.into()),
        from_day: Some(0),
        to_day: Some(DayNumber::MAX),
        ..RowFilter::default()
    };
    assert_eq!(
        store.rows(&filter).expect("rows with a filter"),
        [],
        "a filtered read of an empty store must be empty"
    );
}

/// Several reports sharing rows: sums add up and each report counts once per
/// row; a second batch adds to the same rows.
pub fn commit_sums_and_counts_contributors(store: &mut dyn Store) {
    let day = 19_000;
    let tabs = key(SCHEMA, day, "usage", 1, "tabs", "platform=android", "");
    let cam = key(
        SCHEMA,
        day,
        "usage",
        1,
        "app.opened",
        "platform=android",
        "camera",
    );
    let gal = key(
        SCHEMA,
        day,
        "usage",
        1,
        "app.opened",
        "platform=android",
        "gallery",
    );
    let ios = key(SCHEMA, day, "usage", 1, "tabs", "platform=ios", "");
    let batch = [
        report(1, SCHEMA, day, "usage", &[(&tabs, 10), (&cam, 2)]),
        report(2, SCHEMA, day, "usage", &[(&tabs, 5), (&cam, 1), (&gal, 4)]),
        report(3, SCHEMA, day, "usage", &[(&tabs, 0), (&ios, 7)]),
    ];
    let outcomes = store.commit(&batch).expect("a valid batch must commit");
    assert_eq!(
        outcomes,
        [CommitOutcome::Accepted; 3],
        "three new reports must all be accepted, in batch order"
    );
    let want = vec![
        row(&cam, 3, 2),
        row(&gal, 4, 1),
        row(&tabs, 15, 3),
        row(&ios, 7, 1),
    ];
    assert_eq!(
        all_rows(store),
        want,
        "rows must hold the exact sums and one contributor per report (a zero value counts)"
    );

    let second = [report(4, SCHEMA, day, "usage", &[(&tabs, 1), (&gal, 1)])];
    store.commit(&second).expect("a second batch must commit");
    let want = vec![
        row(&cam, 3, 2),
        row(&gal, 5, 2),
        row(&tabs, 16, 4),
        row(&ios, 7, 1),
    ];
    assert_eq!(
        all_rows(store),
        want,
        "a second batch must add to the existing rows"
    );
    assert_eq!(
        counts(store),
        [count(SCHEMA, day, "usage", 4)],
        "four accepted reports must be counted"
    );
}

/// A report that lists the same row twice adds both values but is one
/// contributor (documented on [`Store::commit`]).
pub fn repeated_row_in_one_report_is_one_contributor(store: &mut dyn Store) {
    let day = 19_000;
    let k = key(SCHEMA, day, "usage", 1, "tabs", "", "");
    let batch = [
        report(1, SCHEMA, day, "usage", &[(&k, 3), (&k, 4)]),
        report(2, SCHEMA, day, "usage", &[(&k, 1)]),
    ];
    store
        .commit(&batch)
        .expect("a batch with a repeated row must commit");
    assert_eq!(
        all_rows(store),
        [row(&k, 8, 2)],
        "a report listing a row twice must add both values and count as one contributor"
    );
}

/// A duplicate id, across batches or within one batch, whatever its content
/// or day, adds nothing and is reported `Duplicate`.
pub fn duplicates_add_nothing(store: &mut dyn Store) {
    let day = 19_000;
    let k = key(SCHEMA, day, "usage", 1, "tabs", "", "");
    let first = [
        report(1, SCHEMA, day, "usage", &[(&k, 10)]),
        report(2, SCHEMA, day, "usage", &[(&k, 20)]),
    ];
    assert_eq!(
        store.commit(&first).expect("first batch"),
        [CommitOutcome::Accepted, CommitOutcome::Accepted],
        "two new reports must be accepted"
    );
    let k2 = key(SCHEMA, day + 1, "usage", 1, "tabs", "", "");
    let second = [
        // Same id as before, different content.
        report(1, SCHEMA, day, "usage", &[(&k, 1000)]),
        report(3, SCHEMA, day, "usage", &[(&k, 30)]),
        // Same id as the previous report of this batch.
        report(3, SCHEMA, day, "usage", &[(&k, 3000)]),
        // Same id as before, claiming another day.
        report(2, SCHEMA, day + 1, "usage", &[(&k2, 2000)]),
    ];
    assert_eq!(
        store.commit(&second).expect("second batch"),
        [
            CommitOutcome::Duplicate,
            CommitOutcome::Accepted,
            CommitOutcome::Duplicate,
            CommitOutcome::Duplicate,
        ],
        "ids seen in an earlier batch or earlier in the same batch must be Duplicate"
    );
    assert_eq!(
        all_rows(store),
        [row(&k, 60, 3)],
        "duplicates must add nothing to any row"
    );
    assert_eq!(
        counts(store),
        [count(SCHEMA, day, "usage", 3)],
        "duplicates must not be counted"
    );
    let again = store.commit(&second).expect("the same batch again");
    assert_eq!(
        again,
        [CommitOutcome::Duplicate; 4],
        "a retried batch must be all Duplicate"
    );
    assert_eq!(
        all_rows(store),
        [row(&k, 60, 3)],
        "a retried batch must add nothing"
    );
}

/// A batch that breaks the shared validation rules is refused as a whole
/// before anything is written: its ids stay unseen.
pub fn invalid_batch_commits_nothing(store: &mut dyn Store) {
    let day = 19_000;
    let k = key(SCHEMA, day, "usage", 1, "tabs", "", "");
    let other_day = key(SCHEMA, day + 1, "usage", 1, "tabs", "", "");
    let good = [
        report(1, SCHEMA, day, "usage", &[(&k, 1)]),
        report(2, SCHEMA, day, "usage", &[(&k, 2)]),
    ];
    let invalid: [(ReportDelta, &str); 4] = [
        (
            report(3, SCHEMA, day, "usage", &[(&k, -1)]),
            "a negative value",
        ),
        (
            report(3, SCHEMA, day, "usage", &[(&other_day, 1)]),
            "a row of another day",
        ),
        (
            report(
                3,
                SCHEMA,
                day,
                "usage",
                &[(&key("other", day, "usage", 1, "tabs", "", ""), 1)],
            ),
            "a row of another schema",
        ),
        (
            report(
                3,
                SCHEMA,
                day,
                "usage",
                &[(&key(SCHEMA, day, "other", 1, "tabs", "", ""), 1)],
            ),
            "a row of another purpose",
        ),
    ];
    for (bad, what) in invalid {
        let mut batch = good.to_vec();
        batch.push(bad);
        match store.commit(&batch) {
            Err(StoreError::InvalidBatch { report: 2, .. }) => {}
            other => panic!(
                "a batch whose third report has {what} must fail with InvalidBatch {{ report: 2 }}, got {other:?}"
            ),
        }
        assert_eq!(
            all_rows(store),
            [],
            "a refused batch ({what}) must add no row"
        );
        assert_eq!(
            counts(store),
            [],
            "a refused batch ({what}) must count no report"
        );
    }
    assert_eq!(
        store.commit(&good).expect("the valid reports alone"),
        [CommitOutcome::Accepted; 2],
        "the ids of a refused batch must not be recorded as seen"
    );
    assert_eq!(
        all_rows(store),
        [row(&k, 3, 2)],
        "the valid reports alone must be counted"
    );
}

/// A sum overflowing `i64` fails in the middle of the transaction; nothing
/// of the batch remains (rows, counts, ids).
pub fn overflow_rolls_back_the_whole_batch(store: &mut dyn Store) {
    let day = 19_000;
    // "zz" sorts last, so a backend that writes rows in key order has
    // already written the others when the overflow hits.
    let big = key(SCHEMA, day, "usage", 1, "zz", "", "");
    let a = key(SCHEMA, day, "usage", 1, "aa", "", "");
    let b = key(SCHEMA, day, "usage", 1, "bb", "", "");
    store
        .commit(&[report(1, SCHEMA, day, "usage", &[(&big, i64::MAX)])])
        .expect("a row may hold i64::MAX");
    let before = all_rows(store);
    let before_counts = counts(store);
    let batch = [
        report(2, SCHEMA, day, "usage", &[(&a, 1), (&b, 2)]),
        report(3, SCHEMA, day, "usage", &[(&a, 1), (&big, 1)]),
    ];
    match store.commit(&batch) {
        Err(StoreError::Overflow { metric }) => {
            assert_eq!(
                metric, "zz",
                "Overflow must name the overflowing row's metric"
            );
        }
        other => panic!("a sum above i64::MAX must fail with Overflow, got {other:?}"),
    }
    assert_eq!(
        all_rows(store),
        before,
        "an overflowing batch must leave every row as it was"
    );
    assert_eq!(
        counts(store),
        before_counts,
        "an overflowing batch must count no report"
    );
    assert_eq!(
        store
            .commit(&batch[..1])
            .expect("a report of the failed batch, alone"),
        [CommitOutcome::Accepted],
        "the ids of a rolled-back batch must not be recorded as seen"
    );
    assert_eq!(
        all_rows(store),
        [row(&a, 1, 1), row(&b, 2, 1), row(&big, i64::MAX, 1)],
        "after the rollback only the resubmitted report must be added"
    );
}

/// `prune_seen` forgets exactly the ids of days before its argument; a
/// forgotten id is accepted again (the collector's day window prevents that
/// in practice), a kept one is still a duplicate.
pub fn prune_seen_forgets_only_older_days(store: &mut dyn Store) {
    let batch: Vec<ReportDelta> = (0..6)
        .map(|i| {
            let day = 100 + i / 2; // days 100, 100, 101, 101, 102, 102
            let k = key(SCHEMA, day, "usage", 1, "tabs", "", "");
            report(
                u64::from(i.unsigned_abs()),
                SCHEMA,
                day,
                "usage",
                &[(&k, 1)],
            )
        })
        .collect();
    store.commit(&batch).expect("six reports over three days");
    assert_eq!(
        store.prune_seen(101).expect("prune_seen(101)"),
        2,
        "prune_seen(101) must forget the two ids of day 100"
    );
    assert_eq!(
        store.prune_seen(101).expect("prune_seen(101) again"),
        0,
        "a second prune_seen(101) must forget nothing"
    );
    let rows_before = all_rows(store);
    assert_eq!(
        store.commit(&batch).expect("the batch again"),
        [
            CommitOutcome::Accepted,
            CommitOutcome::Accepted,
            CommitOutcome::Duplicate,
            CommitOutcome::Duplicate,
            CommitOutcome::Duplicate,
            CommitOutcome::Duplicate,
        ],
        "only the pruned ids (day 100) may be accepted again"
    );
    let day100 = key(SCHEMA, 100, "usage", 1, "tabs", "", "");
    let mut want = rows_before;
    want[0] = row(&day100, 4, 4);
    assert_eq!(
        all_rows(store),
        want,
        "a re-accepted id adds to its row again"
    );
    assert_eq!(
        store.prune_seen(DayNumber::MAX).expect("prune everything"),
        6,
        "prune_seen(MAX) must forget every id"
    );
    assert_eq!(
        all_rows(store),
        want,
        "prune_seen must not touch aggregate rows"
    );
}

/// `delete_before` removes the rows and report counts of older days, keeps
/// the rest, returns the number of rows, and does not forget seen ids.
pub fn delete_before_removes_old_rows_and_counts(store: &mut dyn Store) {
    let mut batch = Vec::new();
    for day in 200..204 {
        let a = key(SCHEMA, day, "usage", 1, "tabs", "", "");
        let b = key(SCHEMA, day, "diagnostics", 2, "crashes", "", "");
        let id = u64::try_from(day).expect("positive day");
        batch.push(report(id, SCHEMA, day, "usage", &[(&a, 1)]));
        batch.push(report(id + 1000, SCHEMA, day, "diagnostics", &[(&b, 1)]));
    }
    store.commit(&batch).expect("eight reports over four days");
    assert_eq!(
        store.delete_before(202).expect("delete_before(202)"),
        4,
        "delete_before(202) must delete the four rows of days 200 and 201"
    );
    let days: Vec<DayNumber> = all_rows(store).iter().map(|r| r.key.day).collect();
    assert_eq!(
        days,
        [202, 202, 203, 203],
        "only rows of days ≥ 202 may remain"
    );
    let count_days: Vec<DayNumber> = counts(store).iter().map(|c| c.day).collect();
    assert_eq!(
        count_days,
        [202, 202, 203, 203],
        "only counts of days ≥ 202 may remain"
    );
    assert_eq!(
        store
            .commit(&batch[..2])
            .expect("reports of a deleted day again"),
        [CommitOutcome::Duplicate; 2],
        "delete_before must not forget seen ids (that is prune_seen)"
    );
    assert_eq!(
        store.delete_before(202).expect("delete_before(202) again"),
        0,
        "a second delete_before(202) must delete nothing"
    );
}

/// `rows` filters by schema, metric, purpose and an inclusive day range, in
/// any combination, and returns rows in key order.
pub fn rows_filter_and_order(store: &mut dyn Store) {
    let mut model = Model::default();
    let mut batch = Vec::new();
    let mut id = 0u64;
    // Inserted in an order unlike the key order; strings chosen so byte
    // order differs from a case-insensitive or length-first order.
    for schema in ["s.b", "s.a", "S.c"] {
        for day in [305, 300, 302] {
            for purpose in ["usage", "diagnostics"] {
                let mut contributions = Vec::new();
                for (cv, metric, dims, cell) in [
                    (2, "m2", "platform=ios", "x"),
                    (1, "m10", "", ""),
                    (1, "m2", "platform=android", "b"),
                    (1, "m2", "platform=android", "a"),
                    (1, "m2", "platform=android", "B"),
                ] {
                    contributions.push((key(schema, day, purpose, cv, metric, dims, cell), 1));
                }
                let refs: Vec<(&RowKey, i64)> =
                    contributions.iter().map(|(k, v)| (k, *v)).collect();
                id += 1;
                batch.push(report(id, schema, day, purpose, &refs));
            }
        }
    }
    let outcomes = store.commit(&batch).expect("the filter fixture");
    assert_eq!(outcomes, model.commit(&batch), "fixture outcomes");
    let all = all_rows(store);
    assert_eq!(all.len(), 90, "3 schemas × 3 days × 2 purposes × 5 cells");
    assert!(
        all.windows(2).all(|w| w[0].key < w[1].key),
        "rows() must be strictly ordered by RowKey's Ord (byte-wise strings)"
    );
    let filters = [
        RowFilter::default(),
        RowFilter {
            schema_id: Some("s.a".into()),
            ..RowFilter::default()
        },
        RowFilter {
            schema_id: Some("nope".into()),
            ..RowFilter::default()
        },
        RowFilter {
            metric: Some("m2".into()),
            ..RowFilter::default()
        },
        RowFilter {
            purpose: Some("diagnostics".into()),
            ..RowFilter::default()
        },
        RowFilter {
            from_day: Some(302),
            ..RowFilter::default()
        },
        RowFilter {
            to_day: Some(302),
            ..RowFilter::default()
        },
        RowFilter {
            from_day: Some(301),
            to_day: Some(304),
            ..RowFilter::default()
        },
        RowFilter {
            from_day: Some(302),
            to_day: Some(302),
            ..RowFilter::default()
        },
        RowFilter {
            from_day: Some(303),
            to_day: Some(301),
            ..RowFilter::default()
        },
        RowFilter {
            schema_id: Some("S.c".into()),
            metric: Some("m2".into()),
            purpose: Some("usage".into()),
            from_day: Some(300),
            to_day: Some(302),
        },
    ];
    for filter in &filters {
        let got = store.rows(filter).expect("rows(filter)");
        assert_eq!(
            got,
            model.rows(filter),
            "rows({filter:?}) must return exactly the matching rows, in key order"
        );
    }
}

/// `report_counts` counts accepted reports per (schema, day, purpose),
/// ordered, including reports without contributions.
pub fn report_counts_per_schema_day_purpose(store: &mut dyn Store) {
    let batch = [
        report(1, "s.b", 11, "usage", &[]),
        report(2, "s.a", 11, "usage", &[]),
        report(3, "s.a", 10, "usage", &[]),
        report(4, "s.a", 11, "diagnostics", &[]),
        report(5, "s.a", 11, "usage", &[]),
        report(5, "s.a", 11, "usage", &[]),
    ];
    store.commit(&batch).expect("reports without contributions");
    assert_eq!(
        all_rows(store),
        [],
        "reports without contributions add no row"
    );
    assert_eq!(
        counts(store),
        [
            count("s.a", 10, "usage", 1),
            count("s.a", 11, "diagnostics", 1),
            count("s.a", 11, "usage", 2),
            count("s.b", 11, "usage", 1),
        ],
        "report_counts must count accepted reports (not duplicates) per (schema, day, purpose), ordered"
    );
    store
        .commit(&[report(6, "s.a", 11, "usage", &[])])
        .expect("one more");
    assert_eq!(
        counts(store)[2],
        count("s.a", 11, "usage", 3),
        "a later batch must add to an existing count"
    );
}

/// 5,000 reports × 10 contributions in one batch, over a few hundred rows,
/// are summed exactly; the same batch again is all duplicates.
pub fn large_batch(store: &mut dyn Store) {
    const REPORTS: u64 = 5_000;
    let day = 19_500;
    let mut model = Model::default();
    let batch: Vec<ReportDelta> = (0..REPORTS)
        .map(|i| {
            let keys: Vec<(RowKey, i64)> = (0..10u64)
                .map(|j| {
                    let platform =
                        ["android", "ios", "exampleos"][usize::try_from(i % 3).unwrap_or(0)];
                    let k = key(
                        SCHEMA,
                        day,
                        "usage",
                        1,
                        &format!("metric.{j}"),
                        &format!("platform={platform}"),
                        &format!("cell{}", (i * 7 + j) % 11),
                    );
                    let value = i64::try_from((i * 31 + j) % 500).unwrap_or(0);
                    (k, value)
                })
                .collect();
            let refs: Vec<(&RowKey, i64)> = keys.iter().map(|(k, v)| (k, *v)).collect();
            report(i, SCHEMA, day, "usage", &refs)
        })
        .collect();
    let want_outcomes = model.commit(&batch);
    let outcomes = store.commit(&batch).expect("a batch of 5,000 reports");
    assert_eq!(
        outcomes, want_outcomes,
        "every report of the large batch is new"
    );
    let rows = all_rows(store);
    assert!(
        rows.len() > 200,
        "the fixture spreads over a few hundred rows, got {}",
        rows.len()
    );
    assert_eq!(
        rows,
        model.rows(&RowFilter::default()),
        "large batch: every sum and count must be exact"
    );
    let total: i64 = rows.iter().map(|r| r.contributors).sum();
    assert_eq!(total, 50_000, "large batch: 5,000 reports × 10 rows each");
    assert_eq!(counts(store), model.counts(), "large batch: report count");
    let again = store.commit(&batch).expect("the large batch again");
    assert!(
        again.iter().all(|o| *o == CommitOutcome::Duplicate),
        "the large batch again must be all Duplicate"
    );
    assert_eq!(
        all_rows(store),
        rows,
        "the large batch again must add nothing"
    );
}

/// Random batches (with ids repeated within and across batches, repeated
/// rows, invalid batches, prunes and retention) checked step by step against
/// an in-memory model of the contract. Seeded, so a failure reproduces.
pub fn randomized_against_model(store: &mut dyn Store) {
    const SEED: u64 = 0x5EED_CA4D_0000_0001;
    const STEPS: usize = 300;
    let mut rng = XorShift(SEED);
    let mut model = Model::default();
    let schemas = ["org.example.browser", "org.example.os"];
    let purposes = ["usage", "diagnostics"];
    let metrics = ["tabs", "app.opened", "session"];
    let dims = ["", "platform=android", "os_major=14,platform=ios"];
    let cells = ["", "camera", "3", "true"];
    for step in 0..STEPS {
        let op = rng.below(100);
        if op < 80 {
            let len = rng.below(40);
            let mut batch = Vec::with_capacity(len);
            for _ in 0..len {
                // A small id pool: many duplicates, within and across batches.
                let id = rng.below(400) as u64;
                let schema = schemas[rng.below(schemas.len())];
                let purpose = purposes[rng.below(purposes.len())];
                let day = 1000 + rng.below(8) as DayNumber;
                let n = rng.below(7);
                let mut contributions: Vec<(RowKey, i64)> = Vec::with_capacity(n);
                for _ in 0..n {
                    let k = if !contributions.is_empty() && rng.below(10) == 0 {
                        // Occasionally a repeated row within the report.
                        contributions[0].0.clone()
                    } else {
                        key(
                            schema,
                            day,
                            purpose,
                            1 + rng.below(2) as u32,
                            metrics[rng.below(metrics.len())],
                            dims[rng.below(dims.len())],
                            cells[rng.below(cells.len())],
                        )
                    };
                    contributions.push((k, rng.below(1000) as i64));
                }
                let refs: Vec<(&RowKey, i64)> =
                    contributions.iter().map(|(k, v)| (k, *v)).collect();
                batch.push(report(id, schema, day, purpose, &refs));
            }
            let invalid_at = if !batch.is_empty() && rng.below(20) == 0 {
                let at = rng.below(batch.len());
                let k = key(
                    batch[at].schema_id.as_str(),
                    batch[at].day,
                    batch[at].purpose.as_str(),
                    1,
                    "tabs",
                    "",
                    "",
                );
                batch[at]
                    .contributions
                    .push(Contribution { key: k, value: -5 });
                Some(at)
            } else {
                None
            };
            let got = store.commit(&batch);
            match invalid_at {
                Some(at) => match got {
                    Err(StoreError::InvalidBatch { report, .. }) if report == at => {}
                    other => panic!(
                        "step {step}: a batch with a negative value at report {at} must fail with InvalidBatch, got {other:?}"
                    ),
                },
                None => {
                    let got = got
                        .unwrap_or_else(|e| panic!("step {step}: a valid batch must commit: {e}"));
                    assert_eq!(
                        got,
                        model.commit(&batch),
                        "step {step}: outcomes differ from the model"
                    );
                }
            }
        } else if op < 88 {
            let before = 1000 + rng.below(8) as DayNumber;
            let got = store
                .prune_seen(before)
                .unwrap_or_else(|e| panic!("step {step}: prune_seen: {e}"));
            assert_eq!(
                got,
                model.prune_seen(before),
                "step {step}: prune_seen({before}) count differs from the model"
            );
        } else if op < 92 {
            let before = 1000 + rng.below(4) as DayNumber;
            let got = store
                .delete_before(before)
                .unwrap_or_else(|e| panic!("step {step}: delete_before: {e}"));
            assert_eq!(
                got,
                model.delete_before(before),
                "step {step}: delete_before({before}) count differs from the model"
            );
        } else {
            let filter = RowFilter {
                schema_id: (rng.below(2) == 0).then(|| schemas[rng.below(2)].to_owned()),
                metric: (rng.below(2) == 0).then(|| metrics[rng.below(3)].to_owned()),
                purpose: (rng.below(2) == 0).then(|| purposes[rng.below(2)].to_owned()),
                from_day: (rng.below(2) == 0).then(|| 1000 + rng.below(8) as DayNumber),
                to_day: (rng.below(2) == 0).then(|| 1000 + rng.below(8) as DayNumber),
            };
            let got = store
                .rows(&filter)
                .unwrap_or_else(|e| panic!("step {step}: rows: {e}"));
            assert_eq!(
                got,
                model.rows(&filter),
                "step {step}: rows({filter:?}) differ from the model"
            );
        }
        if step % 25 == 24 || step + 1 == STEPS {
            assert_eq!(
                all_rows(store),
                model.rows(&RowFilter::default()),
                "step {step}: rows differ from the model"
            );
            assert_eq!(
                counts(store),
                model.counts(),
                "step {step}: report counts differ from the model"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// The model: the trait's contract, in memory
// ---------------------------------------------------------------------------

/// A plain in-memory implementation of the contract, the oracle of the
/// suite. Not a backend: it does not validate and is not transactional.
#[derive(Debug, Default)]
struct Model {
    seen: HashMap<[u8; 16], DayNumber>,
    rows: BTreeMap<RowKey, (i64, i64)>,
    counts: BTreeMap<(String, DayNumber, String), i64>,
}

impl Model {
    fn commit(&mut self, batch: &[ReportDelta]) -> Vec<CommitOutcome> {
        let mut outcomes = Vec::with_capacity(batch.len());
        for r in batch {
            if self.seen.contains_key(&r.report_id) {
                outcomes.push(CommitOutcome::Duplicate);
                continue;
            }
            self.seen.insert(r.report_id, r.day);
            let mut touched: Vec<&RowKey> = Vec::new();
            for c in &r.contributions {
                let row = self.rows.entry(c.key.clone()).or_insert((0, 0));
                row.0 += c.value;
                if !touched.contains(&&c.key) {
                    touched.push(&c.key);
                    row.1 += 1;
                }
            }
            *self
                .counts
                .entry((r.schema_id.clone(), r.day, r.purpose.clone()))
                .or_insert(0) += 1;
            outcomes.push(CommitOutcome::Accepted);
        }
        outcomes
    }

    fn prune_seen(&mut self, before: DayNumber) -> u64 {
        let n = self.seen.len();
        self.seen.retain(|_, day| *day >= before);
        (n - self.seen.len()) as u64
    }

    fn delete_before(&mut self, before: DayNumber) -> u64 {
        let n = self.rows.len();
        self.rows.retain(|k, _| k.day >= before);
        self.counts.retain(|(_, day, _), _| *day >= before);
        (n - self.rows.len()) as u64
    }

    fn rows(&self, f: &RowFilter) -> Vec<AggregateRow> {
        self.rows
            .iter()
            .filter(|(k, _)| {
                f.schema_id.as_ref().is_none_or(|s| *s == k.schema_id)
                    && f.metric.as_ref().is_none_or(|m| *m == k.metric)
                    && f.purpose.as_ref().is_none_or(|p| *p == k.purpose)
                    && f.from_day.is_none_or(|d| k.day >= d)
                    && f.to_day.is_none_or(|d| k.day <= d)
            })
            .map(|(k, (sum, contributors))| row(k, *sum, *contributors))
            .collect()
    }

    fn counts(&self) -> Vec<ReportCount> {
        self.counts
            .iter()
            .map(|((s, d, p), n)| count(s, *d, p, *n))
            .collect()
    }
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const SCHEMA: &str = "org.example.browser";

/// Xorshift64: deterministic, dependency-free randomness for the suite.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform enough in `0..n` for a test (n small, n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn key(
    schema_id: &str,
    day: DayNumber,
    purpose: &str,
    consent_version: u32,
    metric: &str,
    dimensions: &str,
    cell: &str,
) -> RowKey {
    RowKey {
        schema_id: schema_id.into(),
        day,
        purpose: purpose.into(),
        consent_version,
        metric: metric.into(),
        dimensions: dimensions.into(),
        cell: cell.into(),
    }
}

/// A report whose 16-byte id encodes `n` (and a constant tag, so ids are
/// not mostly zero bytes).
fn report(
    n: u64,
    schema_id: &str,
    day: DayNumber,
    purpose: &str,
    contributions: &[(&RowKey, i64)],
) -> ReportDelta {
    let mut report_id = [0xA5; 16];
    report_id[..8].copy_from_slice(&n.to_be_bytes());
    ReportDelta {
        report_id,
        day,
        schema_id: schema_id.into(),
        purpose: purpose.into(),
        contributions: contributions
            .iter()
            .map(|(key, value)| Contribution {
                key: (*key).clone(),
                value: *value,
            })
            .collect(),
    }
}

fn row(key: &RowKey, sum: i64, contributors: i64) -> AggregateRow {
    AggregateRow {
        key: key.clone(),
        sum,
        contributors,
    }
}

fn count(schema_id: &str, day: DayNumber, purpose: &str, reports: i64) -> ReportCount {
    ReportCount {
        schema_id: schema_id.into(),
        day,
        purpose: purpose.into(),
        reports,
    }
}

fn all_rows(store: &dyn Store) -> Vec<AggregateRow> {
    store
        .rows(&RowFilter::default())
        .unwrap_or_else(|e| panic!("reading all rows failed: {e}"))
}

fn counts(store: &dyn Store) -> Vec<ReportCount> {
    store
        .report_counts()
        .unwrap_or_else(|e| panic!("reading report counts failed: {e}"))
}

// ---------------------------------------------------------------------------
// Release bookkeeping and the audit log
// ---------------------------------------------------------------------------

fn audit_record(action: &str, n: i64) -> AuditRecord {
    AuditRecord {
        at: 1_800_000_000 + n,
        actor: "analyst-1".into(),
        action: action.into(),
        detail: format!("{{\"n\":{n}}}"),
    }
}

/// Caps of the conformance releases: 1 ε per metric, 1.5 ε and 3·10⁻⁸ δ
/// per purpose and day.
const LIMITS: BudgetLimits = BudgetLimits {
    metric_micros: 1_000_000,
    purpose_micros: 1_500_000,
    purpose_femtos: 30_000_000,
};

fn release(key: &str, days: std::ops::RangeInclusive<DayNumber>, micros: u64) -> NewRelease {
    release_of("app.opened", key, days, micros, 0)
}

fn release_of(
    metric: &str,
    key: &str,
    days: std::ops::RangeInclusive<DayNumber>,
    micros: u64,
    femtos: u64,
) -> NewRelease {
    NewRelease {
        cache_key: key.into(),
        answer: format!("answer of {key}"),
        last_day: *days.end(),
        charges: days
            .map(|day| BudgetCharge {
                purpose: "usage".into(),
                metric: metric.into(),
                day,
                micros,
                femtos,
            })
            .collect(),
        limits: LIMITS,
        audit: audit_record("query", 0),
    }
}

fn spent(store: &dyn Store) -> Vec<(DayNumber, u64)> {
    store
        .budget(&BudgetFilter::default())
        .expect("read the budget")
        .into_iter()
        .map(|b| (b.day, b.micros))
        .collect()
}

/// A release charges each day, caches its answer, and logs; the same key
/// again charges nothing and returns the first answer.
pub fn release_charges_caches_and_logs(store: &mut dyn Store) {
    assert_eq!(store.cached_release("q1").expect("read cache"), None);
    let first = release("q1", 10..=12, 400_000);
    assert_eq!(
        store.record_release(&first).expect("release"),
        ReleaseOutcome::Recorded
    );
    assert_eq!(
        spent(store),
        vec![(10, 400_000), (11, 400_000), (12, 400_000)]
    );
    assert_eq!(
        store.cached_release("q1").expect("read cache").as_deref(),
        Some("answer of q1")
    );
    let mut again = release("q1", 10..=12, 400_000);
    again.answer = "another answer".into();
    assert_eq!(
        store.record_release(&again).expect("release again"),
        ReleaseOutcome::AlreadyCached("answer of q1".into()),
        "the same key must return the first answer"
    );
    assert_eq!(
        spent(store),
        vec![(10, 400_000), (11, 400_000), (12, 400_000)],
        "no second charge"
    );
    let filtered = store
        .budget(&BudgetFilter {
            from_day: Some(11),
            metric: Some("app.opened".into()),
            ..BudgetFilter::default()
        })
        .expect("filtered budget");
    assert_eq!(filtered.len(), 2);
    let (log, _) = store.audit_log().expect("audit log");
    assert_eq!(log.len(), 2, "both queries are logged");
}

/// A release that would take one day over the limit charges no day,
/// caches nothing and logs nothing.
pub fn release_over_budget_changes_nothing(store: &mut dyn Store) {
    store
        .record_release(&release("a", 10..=11, 700_000))
        .expect("first release");
    let err = store
        .record_release(&release("b", 9..=12, 400_000))
        .expect_err("day 10 would reach 1.1");
    match err {
        StoreError::BudgetExceeded {
            day,
            cap,
            remaining,
            ..
        } => assert_eq!((day, cap, remaining), (10, "metric_epsilon", 300_000)),
        other => panic!("expected BudgetExceeded, got {other}"),
    }
    assert_eq!(spent(store), vec![(10, 700_000), (11, 700_000)]);
    assert_eq!(store.cached_release("b").expect("cache"), None);
    assert_eq!(store.audit_log().expect("log").0.len(), 1);
    // Exactly up to the limit is allowed.
    store
        .record_release(&release("c", 10..=10, 300_000))
        .expect("spending the rest");
    assert_eq!(spent(store)[0], (10, 1_000_000));
}

/// The purpose's ε and δ caps add up every metric of the purpose on a day:
/// a release within its own metric's cap is refused when the purpose's sum
/// would pass its cap, and nothing of it is written.
pub fn release_over_the_purpose_cap_changes_nothing(store: &mut dyn Store) {
    store
        .record_release(&release_of("a", "qa", 10..=11, 1_000_000, 10_000_000))
        .expect("metric a spends its whole metric cap");
    let err = store
        .record_release(&release_of("b", "qb", 11..=11, 600_000, 0))
        .expect_err("the purpose has 0.5 left on day 11");
    match err {
        StoreError::BudgetExceeded {
            metric,
            day,
            cap,
            remaining,
        } => assert_eq!(
            (metric.as_str(), day, cap, remaining),
            ("b", 11, "purpose_epsilon", 500_000)
        ),
        other => panic!("expected BudgetExceeded, got {other}"),
    }
    assert_eq!(store.cached_release("qb").expect("cache"), None);
    store
        .record_release(&release_of("b", "qb2", 11..=11, 400_000, 20_000_000))
        .expect("within both purpose caps");
    let err = store
        .record_release(&release_of("c", "qc", 10..=11, 100_000, 1))
        .expect_err("δ on day 11 is spent");
    match err {
        StoreError::BudgetExceeded {
            day,
            cap,
            remaining,
            ..
        } => {
            assert_eq!((day, cap, remaining), (11, "purpose_delta", 0))
        }
        other => panic!("expected BudgetExceeded, got {other}"),
    }
    let ledger = store.budget(&BudgetFilter::default()).expect("budget");
    let femtos: u64 = ledger
        .iter()
        .filter(|b| b.day == 11)
        .map(|b| b.femtos)
        .sum();
    let micros: u64 = ledger
        .iter()
        .filter(|b| b.day == 11)
        .map(|b| b.micros)
        .sum();
    assert_eq!((micros, femtos), (1_400_000, 30_000_000));
    assert_eq!(ledger.len(), 3, "the refused releases wrote nothing");
    assert_eq!(store.audit_log().expect("log").0.len(), 2);
}

/// Appends form a chain that verifies, with the head the store recorded.
pub fn audit_log_is_a_verified_chain(store: &mut dyn Store) {
    assert_eq!(store.audit_log().expect("empty log"), (Vec::new(), None));
    let mut appended = Vec::new();
    for n in 0..5 {
        appended.push(
            store
                .append_audit(&audit_record("token.create", n))
                .expect("append"),
        );
    }
    let (entries, head) = store.audit_log().expect("log");
    assert_eq!(entries, appended);
    assert_eq!(
        entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(head.map(|h| (h.seq, h.hash)), Some((5, entries[4].hash)));
    assert_eq!(audit::verify(&entries, head, None), Ok(5));
}

/// Retention deletes old budget entries and cached answers, never audit rows.
pub fn retention_keeps_the_audit_log(store: &mut dyn Store) {
    store
        .record_release(&release("old", 10..=11, 100_000))
        .expect("release");
    store
        .record_release(&release("new", 20..=20, 100_000))
        .expect("release");
    store.delete_before(15).expect("retention");
    assert_eq!(spent(store), vec![(20, 100_000)]);
    assert_eq!(store.cached_release("old").expect("cache"), None);
    assert!(store.cached_release("new").expect("cache").is_some());
    let (entries, head) = store.audit_log().expect("log");
    assert_eq!(audit::verify(&entries, head, None), Ok(2));
}

/// [`Store::visit_rows`] lends exactly the rows [`Store::rows`] returns
/// (in any order), for every filter.
pub fn visit_rows_sees_the_same_rows(store: &mut dyn Store) {
    let mut batch = Vec::new();
    for (i, (day, metric, dims, cell)) in [
        (1, "m.a", "p=x", ""),
        (1, "m.a", "p=y", ""),
        (2, "m.a", "p=x", ""),
        (2, "m.b", "", "red"),
        (3, "m.b", "", "blue"),
        (3, "m.b", "", "red"),
    ]
    .into_iter()
    .enumerate()
    {
        let key = RowKey {
            schema_id: "s".into(),
            day,
            purpose: "usage".into(),
            consent_version: 1,
            metric: metric.into(),
            dimensions: dims.into(),
            cell: cell.into(),
        };
        batch.push(ReportDelta {
            report_id: [i as u8 + 1; 16],
            day,
            schema_id: "s".into(),
            purpose: "usage".into(),
            contributions: vec![Contribution {
                key,
                value: i as i64 + 1,
            }],
        });
    }
    store.commit(&batch).expect("commit");
    let filters = [
        RowFilter::default(),
        RowFilter {
            metric: Some("m.a".into()),
            ..RowFilter::default()
        },
        RowFilter {
            metric: Some("m.b".into()),
            from_day: Some(3),
            to_day: Some(3),
            schema_id: Some("s".into()),
            purpose: Some("usage".into()),
        },
        RowFilter {
            from_day: Some(2),
            ..RowFilter::default()
        },
    ];
    for filter in filters {
        let mut seen = Vec::new();
        store
            .visit_rows(&filter, &mut |v| {
                seen.push(AggregateRow {
                    key: RowKey {
                        schema_id: v.schema_id.into(),
                        day: v.day,
                        purpose: v.purpose.into(),
                        consent_version: v.consent_version,
                        metric: v.metric.into(),
                        dimensions: v.dimensions.into(),
                        cell: v.cell.into(),
                    },
                    sum: v.sum,
                    contributors: v.contributors,
                });
            })
            .expect("visit");
        seen.sort_by(|a, b| a.key.cmp(&b.key));
        assert_eq!(
            seen,
            store.rows(&filter).expect("rows"),
            "filter {filter:?}"
        );
    }
}

//! Commits: sums and contributor counts, duplicates, and the all-or-nothing
//! batch (validation, overflow).

use super::helpers::*;
use crate::{CommitOutcome, DayNumber, ReportDelta, RowFilter, Store, StoreError};

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

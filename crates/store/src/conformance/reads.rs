//! Forgetting and reading: dedup pruning, retention, row filters and
//! order, the visitor, report counts, a large batch.

use super::helpers::*;
use crate::{
    AggregateRow, CommitOutcome, Contribution, DayNumber, ReportDelta, RowFilter, RowKey, Store,
};

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

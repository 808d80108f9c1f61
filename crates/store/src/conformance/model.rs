//! The randomized case, checked step by step against the model of the
//! contract (`helpers.rs`).

use super::helpers::*;
use crate::{Contribution, DayNumber, RowFilter, RowKey, Store, StoreError};

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

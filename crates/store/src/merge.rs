//! The in-memory half of group commit, shared by every backend: the new
//! (not duplicate) reports of a batch are folded into one delta per distinct
//! row and one count per (schema, day, purpose), so the database sees one
//! upsert per row instead of one per contribution. Many reports of a batch
//! share rows (same day, same few dimensions), which is the whole win.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use crate::{DayNumber, ReportDelta, RowKey, StoreError};

/// What a batch adds to one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RowDelta {
    /// Sum of the values.
    pub(crate) sum: i64,
    /// Distinct reports that contributed.
    pub(crate) contributors: i64,
    /// Index of the last report that contributed, so a report listing the
    /// same row twice counts once.
    last_report: usize,
}

/// The in-memory key of a row's series (its key without day and cell):
/// its text fields joined with a separator that cannot occur in them (ids,
/// coarse values and domains are printable ASCII). Backends that number
/// series cache their ids under it.
pub(crate) fn series_key(k: &RowKey) -> String {
    format!(
        "{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
        k.schema_id, k.purpose, k.consent_version, k.metric, k.dimensions
    )
}

/// Series a batch created: (series key, id), cached once it committed.
pub(crate) type NewSeries = Vec<(String, i64)>;

/// (schema id, day, purpose), borrowed from the batch.
pub(crate) type CountKey<'a> = (&'a str, DayNumber, &'a str);

/// The merged deltas of a batch. Borrowing the keys from the batch keeps the
/// merge free of string copies. Both maps are ordered, so every backend
/// writes rows in key order: good locality in a B-tree, and (for a server
/// database with concurrent writers) one lock order, which cannot deadlock.
#[derive(Debug, Default)]
pub(crate) struct Merge<'a> {
    rows: BTreeMap<&'a RowKey, RowDelta>,
    counts: BTreeMap<CountKey<'a>, i64>,
}

impl<'a> Merge<'a> {
    /// Adds the report at `index` of the batch (a new one, not a duplicate).
    ///
    /// # Errors
    /// [`StoreError::Overflow`] if a row's merged sum leaves `i64`.
    pub(crate) fn add(&mut self, index: usize, report: &'a ReportDelta) -> Result<(), StoreError> {
        for c in &report.contributions {
            match self.rows.entry(&c.key) {
                Entry::Vacant(v) => {
                    v.insert(RowDelta {
                        sum: c.value,
                        contributors: 1,
                        last_report: index,
                    });
                }
                Entry::Occupied(mut o) => {
                    let row = o.get_mut();
                    row.sum = row
                        .sum
                        .checked_add(c.value)
                        .ok_or_else(|| StoreError::Overflow {
                            metric: c.key.metric.clone(),
                        })?;
                    if row.last_report != index {
                        row.last_report = index;
                        row.contributors += 1;
                    }
                }
            }
        }
        *self
            .counts
            .entry((&report.schema_id, report.day, &report.purpose))
            .or_insert(0) += 1;
        Ok(())
    }

    /// The merged rows, in key order.
    pub(crate) fn rows(&self) -> impl Iterator<Item = (&'a RowKey, RowDelta)> + '_ {
        self.rows.iter().map(|(k, d)| (*k, *d))
    }

    /// The merged report counts, in key order.
    pub(crate) fn counts(&self) -> impl Iterator<Item = (CountKey<'a>, i64)> + '_ {
        self.counts.iter().map(|(k, n)| (*k, *n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Contribution;

    fn key(metric: &str, cell: &str) -> RowKey {
        RowKey {
            schema_id: "s".into(),
            day: 10,
            purpose: "p".into(),
            consent_version: 1,
            metric: metric.into(),
            dimensions: String::new(),
            cell: cell.into(),
        }
    }

    fn report(id: u8, contributions: &[(&RowKey, i64)]) -> ReportDelta {
        ReportDelta {
            report_id: [id; 16],
            day: 10,
            schema_id: "s".into(),
            purpose: "p".into(),
            contributions: contributions
                .iter()
                .map(|(k, v)| Contribution {
                    key: (*k).clone(),
                    value: *v,
                })
                .collect(),
        }
    }

    #[test]
    fn merges_rows_and_counts_a_repeated_key_as_one_contributor() {
        let (a, b) = (key("m", "a"), key("m", "b"));
        let r0 = report(0, &[(&a, 2), (&b, 3)]);
        let r1 = report(1, &[(&a, 5), (&a, 7)]);
        let mut m = Merge::default();
        m.add(0, &r0).unwrap();
        m.add(1, &r1).unwrap();
        let rows: Vec<_> = m
            .rows()
            .map(|(k, d)| (k.cell.as_str(), d.sum, d.contributors))
            .collect();
        assert_eq!(rows, [("a", 14, 2), ("b", 3, 1)]);
        let counts: Vec<_> = m.counts().collect();
        assert_eq!(counts, [(("s", 10, "p"), 2)]);
    }

    #[test]
    fn overflow_is_an_error() {
        let a = key("big", "");
        let r0 = report(0, &[(&a, i64::MAX)]);
        let r1 = report(1, &[(&a, 1)]);
        let mut m = Merge::default();
        m.add(0, &r0).unwrap();
        let err = m.add(1, &r1).unwrap_err();
        assert!(
            matches!(err, StoreError::Overflow { ref metric } if metric == "big"),
            "{err:?}"
        );
    }
}

//! The batch commit: report ids for dedup, then the merged rows and
//! counts, inside the caller's `BEGIN IMMEDIATE` transaction.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, Transaction, params};

use super::{SqliteStore, backend};
use crate::merge::{Merge, NewSeries, series_key};
use crate::{CommitOutcome, ReportDelta, RowKey, StoreError};

/// Whether two rows belong to the same series.
fn same_series(a: &RowKey, b: &RowKey) -> bool {
    a.schema_id == b.schema_id
        && a.purpose == b.purpose
        && a.consent_version == b.consent_version
        && a.metric == b.metric
        && a.dimensions == b.dimensions
}

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

impl SqliteStore {
    /// Writes the batch's reports inside `tx`; the caller commits. Series
    /// created here are returned, to enter the cache once the commit
    /// succeeded.
    pub(super) fn write_batch(
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

/// An overflowing `sum + excluded.sum` becomes a REAL, which the STRICT
/// INTEGER column refuses with SQLITE_CONSTRAINT_DATATYPE.
pub(super) fn overflow_or_backend(
    e: rusqlite::Error,
    metric: &str,
    context: &'static str,
) -> StoreError {
    match e.sqlite_error() {
        Some(err) if err.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_DATATYPE => {
            StoreError::Overflow {
                metric: metric.to_owned(),
            }
        }
        _ => backend(context)(e),
    }
}

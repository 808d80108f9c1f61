//! The batch commit: report ids for dedup, the series of new rows, then
//! the merged rows and counts, each as one statement over arrays
//! (`unnest`), in one transaction.
//!
//! One statement per table rather than one per report or row: a batch of
//! 500 reports is five round trips instead of about a thousand. Arrays are
//! sorted by the table's key, so concurrent writers lock rows in one
//! order and cannot deadlock.

use std::collections::{BTreeMap, HashMap, HashSet};

use ::postgres::Transaction;
use ::postgres::error::SqlState;

use super::{PgStore, backend, prepared};
use crate::merge::{Merge, NewSeries, series_key};
use crate::{CommitOutcome, ReportDelta, RowKey, StoreError};

const INSERT_SEEN: &str = "INSERT INTO seen_reports (report_id, day) \
     SELECT * FROM unnest($1::bytea[], $2::int4[]) ON CONFLICT (report_id) DO NOTHING \
     RETURNING report_id";

const INSERT_SERIES: &str = "INSERT INTO series \
     (schema_id, purpose, consent_version, metric, dimensions) \
     SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[]) \
     ON CONFLICT DO NOTHING";

const SELECT_SERIES: &str = "SELECT s.id, s.schema_id, s.purpose, s.consent_version, s.metric, \
     s.dimensions FROM series s \
     JOIN unnest($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[]) \
     AS u (schema_id, purpose, consent_version, metric, dimensions) \
     ON s.schema_id = u.schema_id AND s.purpose = u.purpose \
     AND s.consent_version = u.consent_version AND s.metric = u.metric \
     AND s.dimensions = u.dimensions";

const UPSERT_ROWS: &str = "INSERT INTO aggregates (day, series, cell, sum, contributors) \
     SELECT * FROM unnest($1::int4[], $2::int8[], $3::text[], $4::int8[], $5::int8[]) \
     ON CONFLICT (day, series, cell) DO UPDATE \
     SET sum = aggregates.sum + excluded.sum, \
         contributors = aggregates.contributors + excluded.contributors";

const UPSERT_COUNTS: &str = "INSERT INTO report_counts (day, schema_id, purpose, reports) \
     SELECT * FROM unnest($1::int4[], $2::text[], $3::text[], $4::int8[]) \
     ON CONFLICT (day, schema_id, purpose) DO UPDATE \
     SET reports = report_counts.reports + excluded.reports";

/// After an overflow rolled the batch back: the first row of the batch
/// whose addition leaves `bigint`, by its position (from 1).
const FIND_OVERFLOW: &str = "SELECT u.i FROM \
     unnest($1::int4[], $2::int8[], $3::text[], $4::int8[], $5::int8[]) \
     WITH ORDINALITY AS u (day, series, cell, sum, contributors, i) \
     JOIN aggregates a ON a.day = u.day AND a.series = u.series AND a.cell = u.cell \
     WHERE a.sum::numeric + u.sum > 9223372036854775807 \
     OR a.contributors::numeric + u.contributors > 9223372036854775807 \
     ORDER BY u.i LIMIT 1";

/// A series' fields, borrowed from a row key, in the `series` key's order.
type SeriesFields<'a> = (&'a str, &'a str, i64, &'a str, &'a str);

fn series_fields(k: &RowKey) -> SeriesFields<'_> {
    (
        &k.schema_id,
        &k.purpose,
        i64::from(k.consent_version),
        &k.metric,
        &k.dimensions,
    )
}

/// Series as insert arrays, one per column of [`SeriesFields`].
type SeriesColumns<'a> = (
    Vec<&'a str>,
    Vec<&'a str>,
    Vec<i64>,
    Vec<&'a str>,
    Vec<&'a str>,
);

/// The rows of a batch as upsert arrays, sorted by (day, series, cell).
#[derive(Default)]
struct RowArrays<'a> {
    days: Vec<i32>,
    series: Vec<i64>,
    cells: Vec<&'a str>,
    sums: Vec<i64>,
    contributors: Vec<i64>,
    metrics: Vec<&'a str>,
}

impl PgStore {
    /// Writes the batch inside `tx`; the caller commits. Series created
    /// here are returned, to enter the cache once the commit succeeded.
    pub(super) fn write_batch(
        tx: &mut Transaction<'_>,
        statements: &mut HashMap<String, ::postgres::Statement>,
        cache: &HashMap<String, i64>,
        batch: &[ReportDelta],
    ) -> Result<(Vec<CommitOutcome>, NewSeries, Option<RowArraysOwned>), StoreError> {
        // Each id once (its first report's day), sorted.
        let mut first: BTreeMap<&[u8; 16], i32> = BTreeMap::new();
        for r in batch {
            first.entry(&r.report_id).or_insert(r.day);
        }
        let ids: Vec<&[u8]> = first.keys().map(|id| &id[..]).collect();
        let days: Vec<i32> = first.values().copied().collect();
        let insert =
            prepared(tx, statements, INSERT_SEEN).map_err(backend("prepare the dedup insert"))?;
        // The ids are bound, never formatted: they appear in no error.
        let inserted: HashSet<Vec<u8>> = tx
            .query(&insert, &[&ids, &days])
            .map_err(backend("record the report ids"))?
            .iter()
            .map(|row| row.get::<_, Vec<u8>>(0))
            .collect();
        let mut fresh: HashSet<&[u8]> = inserted.iter().map(Vec::as_slice).collect();
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut merge = Merge::default();
        for (index, report) in batch.iter().enumerate() {
            // The first report with a new id is counted; any later one with
            // the same id is a duplicate, as is one seen before.
            if fresh.remove(&report.report_id[..]) {
                merge.add(index, report)?;
                outcomes.push(CommitOutcome::Accepted);
            } else {
                outcomes.push(CommitOutcome::Duplicate);
            }
        }
        let created = Self::resolve_series(tx, statements, cache, &merge)?;
        let ids: HashMap<&str, i64> = cache
            .iter()
            .chain(created.iter().map(|(k, v)| (k, v)))
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        let mut rows: Vec<(i32, i64, &str, i64, i64, &str)> = Vec::new();
        for (key, delta) in merge.rows() {
            let name = series_key(key);
            let Some(&series) = ids.get(name.as_str()) else {
                return Err(StoreError::Backend(
                    "a series of the batch has no id (it was not stored)".into(),
                ));
            };
            rows.push((
                key.day,
                series,
                &key.cell,
                delta.sum,
                delta.contributors,
                &key.metric,
            ));
        }
        rows.sort_unstable_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
        let mut arrays = RowArrays::default();
        for (day, series, cell, sum, contributors, metric) in rows {
            arrays.days.push(day);
            arrays.series.push(series);
            arrays.cells.push(cell);
            arrays.sums.push(sum);
            arrays.contributors.push(contributors);
            arrays.metrics.push(metric);
        }
        let upsert =
            prepared(tx, statements, UPSERT_ROWS).map_err(backend("prepare the row upsert"))?;
        if let Err(e) = tx.execute(
            &upsert,
            &[
                &arrays.days,
                &arrays.series,
                &arrays.cells,
                &arrays.sums,
                &arrays.contributors,
            ],
        ) {
            if e.code() == Some(&SqlState::NUMERIC_VALUE_OUT_OF_RANGE) {
                // The caller rolls back, then asks which row it was.
                return Ok((outcomes, created, Some(RowArraysOwned::from(arrays))));
            }
            return Err(backend("add to the rows")(e));
        }
        let mut count_days = Vec::new();
        let mut count_schemas = Vec::new();
        let mut count_purposes = Vec::new();
        let mut count_reports = Vec::new();
        // Merge's order (schema, day, purpose) is the same in every writer.
        for ((schema_id, day, purpose), reports) in merge.counts() {
            count_days.push(day);
            count_schemas.push(schema_id);
            count_purposes.push(purpose);
            count_reports.push(reports);
        }
        let counts =
            prepared(tx, statements, UPSERT_COUNTS).map_err(backend("prepare the count upsert"))?;
        tx.execute(
            &counts,
            &[&count_days, &count_schemas, &count_purposes, &count_reports],
        )
        .map_err(backend("count reports"))?;
        Ok((outcomes, created, None))
    }

    /// Ids of the batch's series that the cache lacks: inserted if new
    /// (sorted, so concurrent writers insert in one order), then read.
    fn resolve_series(
        tx: &mut Transaction<'_>,
        statements: &mut HashMap<String, ::postgres::Statement>,
        cache: &HashMap<String, i64>,
        merge: &Merge<'_>,
    ) -> Result<NewSeries, StoreError> {
        let mut missing: BTreeMap<SeriesFields<'_>, String> = BTreeMap::new();
        for (key, _) in merge.rows() {
            let name = series_key(key);
            if !cache.contains_key(&name) {
                missing.entry(series_fields(key)).or_insert(name);
            }
        }
        if missing.is_empty() {
            return Ok(Vec::new());
        }
        let mut columns: SeriesColumns<'_> = Default::default();
        for &(schema_id, purpose, consent, metric, dimensions) in missing.keys() {
            columns.0.push(schema_id);
            columns.1.push(purpose);
            columns.2.push(consent);
            columns.3.push(metric);
            columns.4.push(dimensions);
        }
        let params: [&(dyn ::postgres::types::ToSql + Sync); 5] =
            [&columns.0, &columns.1, &columns.2, &columns.3, &columns.4];
        let insert = prepared(tx, statements, INSERT_SERIES)
            .map_err(backend("prepare the series insert"))?;
        tx.execute(&insert, &params)
            .map_err(backend("add series"))?;
        let select =
            prepared(tx, statements, SELECT_SERIES).map_err(backend("prepare the series query"))?;
        let mut created = Vec::with_capacity(missing.len());
        for row in tx
            .query(&select, &params)
            .map_err(backend("look up series"))?
        {
            let fields: SeriesFields<'_> =
                (row.get(1), row.get(2), row.get(3), row.get(4), row.get(5));
            if let Some(name) = missing.get(&fields) {
                created.push((name.clone(), row.get::<_, i64>(0)));
            }
        }
        Ok(created)
    }

    /// The metric of the first row that overflows, after the batch was
    /// rolled back; the first row's if the database no longer shows one
    /// (another writer moved it meanwhile).
    pub(super) fn overflowing_metric(
        client: &mut ::postgres::Client,
        arrays: &RowArraysOwned,
    ) -> String {
        let found = client
            .query_opt(
                FIND_OVERFLOW,
                &[
                    &arrays.days,
                    &arrays.series,
                    &arrays.cells,
                    &arrays.sums,
                    &arrays.contributors,
                ],
            )
            .ok()
            .flatten()
            .and_then(|row| usize::try_from(row.get::<_, i64>(0)).ok());
        found
            .and_then(|i| arrays.metrics.get(i.wrapping_sub(1)))
            .or_else(|| arrays.metrics.first())
            .cloned()
            .unwrap_or_default()
    }
}

/// The row arrays of a batch that overflowed, kept past its rollback.
pub(super) struct RowArraysOwned {
    days: Vec<i32>,
    series: Vec<i64>,
    cells: Vec<String>,
    sums: Vec<i64>,
    contributors: Vec<i64>,
    metrics: Vec<String>,
}

impl From<RowArrays<'_>> for RowArraysOwned {
    fn from(a: RowArrays<'_>) -> Self {
        Self {
            days: a.days,
            series: a.series,
            cells: a.cells.into_iter().map(str::to_owned).collect(),
            sums: a.sums,
            contributors: a.contributors,
            metrics: a.metrics.into_iter().map(str::to_owned).collect(),
        }
    }
}

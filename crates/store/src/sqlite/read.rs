//! The row query: one SQL text per combination of filter fields, values
//! always bound, rows lent to a visitor straight from SQLite's buffers.

use super::{SqliteStore, backend};
use crate::{RowFilter, RowView, StoreError};

const ROW_COLUMNS: &str = "SELECT s.schema_id, a.day, s.purpose, s.consent_version, s.metric, \
     s.dimensions, a.cell, a.sum, a.contributors FROM aggregates a JOIN series s ON s.id = a.series";

const ROW_ORDER: &str =
    " ORDER BY s.schema_id, a.day, s.purpose, s.consent_version, s.metric, s.dimensions, a.cell";

impl SqliteStore {
    /// Runs the row query for `filter`, in key order if `ordered`.
    pub(super) fn for_each_row(
        &self,
        filter: &RowFilter,
        ordered: bool,
        visit: &mut dyn FnMut(&RowView<'_>),
    ) -> Result<(), StoreError> {
        // Only the conditions given, so SQLite can use an index for a day
        // range ("col = ?1 OR ?1 IS NULL" would defeat the planner). With a
        // metric, the series are few and `aggregates_by_series` serves each
        // one's days (migration 3). Values are always bound; the SQL text
        // has one form per combination of fields, which the statement cache
        // keeps.
        let mut conditions: Vec<&str> = Vec::new();
        let mut values: Vec<&dyn rusqlite::ToSql> = Vec::new();
        if let Some(schema_id) = &filter.schema_id {
            conditions.push("s.schema_id = ?");
            values.push(schema_id);
        }
        if let Some(metric) = &filter.metric {
            conditions.push("s.metric = ?");
            values.push(metric);
        }
        if let Some(purpose) = &filter.purpose {
            conditions.push("s.purpose = ?");
            values.push(purpose);
        }
        if let Some(from_day) = &filter.from_day {
            conditions.push("a.day >= ?");
            values.push(from_day);
        }
        if let Some(to_day) = &filter.to_day {
            conditions.push("a.day <= ?");
            values.push(to_day);
        }
        let mut sql = String::from(ROW_COLUMNS);
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        if ordered {
            sql.push_str(ROW_ORDER);
        }
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(backend("prepare the row query"))?;
        let mut rows = stmt
            .query(values.as_slice())
            .map_err(backend("read rows"))?;
        while let Some(row) = rows.next().map_err(backend("read rows"))? {
            let borrowed = |i: usize| -> Result<&str, StoreError> {
                row.get_ref(i)
                    .ok()
                    .and_then(|v| v.as_str().ok())
                    .ok_or_else(|| {
                        StoreError::Backend(format!("read rows: column {i} is not text"))
                    })
            };
            let number = |i: usize| -> Result<i64, StoreError> {
                row.get::<_, i64>(i).map_err(backend("read rows"))
            };
            visit(&RowView {
                schema_id: borrowed(0)?,
                day: i32::try_from(number(1)?).unwrap_or(i32::MAX),
                purpose: borrowed(2)?,
                consent_version: u32::try_from(number(3)?).unwrap_or(u32::MAX),
                metric: borrowed(4)?,
                dimensions: borrowed(5)?,
                cell: borrowed(6)?,
                sum: number(7)?,
                contributors: number(8)?,
            });
        }
        Ok(())
    }
}

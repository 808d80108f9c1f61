//! Roll-ups in SQLite (`crate::rollup`): building the spans of sealed days
//! (one transaction each) and the release's read over them.

use std::collections::{HashMap, HashSet};

use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};

use super::{SqliteStore, backend};
use crate::rollup::{self, Rollup, Series, Span, lend};
use crate::{DayNumber, RowFilter, SpanView, StoreError};

impl SqliteStore {
    /// [`crate::Store::roll_up`].
    pub(super) fn roll_up_sync(&mut self, before: DayNumber) -> Result<u64, StoreError> {
        self.writable()?;
        if self.rolled == Some(before) {
            return Ok(0);
        }
        let first: Option<DayNumber> = self
            .conn
            .prepare_cached("SELECT min(day) FROM aggregates")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .map_err(backend("find the first day"))?;
        let Some(first) = first else { return Ok(0) };
        let last = before.saturating_sub(1);
        let done = self.rolled_spans(first, last)?;
        let mut built = 0;
        let mut complete = true;
        for span in rollup::spans_within(first, last) {
            if done.contains(&span) {
                continue;
            }
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend("begin a roll-up"))?;
            // Another handle may have rolled it up meanwhile.
            let exists = tx
                .prepare_cached("SELECT 1 FROM rollup_spans WHERE start = ?1 AND level = ?2")
                .and_then(|mut s| {
                    s.query_row(params![span.start, span.level], |_| Ok(()))
                        .optional()
                })
                .map_err(backend("read the rolled-up spans"))?
                .is_some();
            if exists {
                continue;
            }
            if !build(&tx, span)? {
                // A half is missing (retention ran meanwhile): look again
                // on the next call.
                complete = false;
                continue;
            }
            tx.commit().map_err(backend("commit a roll-up"))?;
            built += 1;
        }
        if complete {
            self.rolled = Some(before);
        }
        Ok(built)
    }

    /// The spans rolled up with a start in `first..=last`.
    fn rolled_spans(&self, first: DayNumber, last: DayNumber) -> Result<HashSet<Span>, StoreError> {
        self.conn
            .prepare_cached("SELECT start, level FROM rollup_spans WHERE start BETWEEN ?1 AND ?2")
            .and_then(|mut s| {
                s.query_map(params![first, last], |r| {
                    Ok(Span {
                        start: r.get(0)?,
                        level: r.get(1)?,
                    })
                })?
                .collect()
            })
            .map_err(backend("read the rolled-up spans"))
    }

    /// [`crate::Store::visit_spans`]: rolled-up spans where they exist, the
    /// rows of the days between.
    pub(super) fn visit_spans_sync(
        &self,
        filter: &RowFilter,
        per_day: bool,
        visit: &mut dyn FnMut(&SpanView<'_>),
    ) -> Result<(), StoreError> {
        let (Some(from), Some(to)) = (filter.from_day, filter.to_day) else {
            return rollup::rows_as_spans(self, filter, visit);
        };
        let done = self.rolled_spans(from, to)?;
        let spans = rollup::rows_between(
            self,
            filter,
            (from, to),
            per_day,
            |s| done.contains(&s),
            visit,
        )?;
        if spans.is_empty() {
            return Ok(());
        }
        let series = self.series_of(filter)?;
        // One-day spans (a by-day read) come in runs: one range read per
        // series and run. Longer spans are few and far apart: one point
        // read each.
        let mut runs: Vec<(Span, DayNumber)> = Vec::new();
        for &span in &spans {
            match runs.last_mut() {
                Some((first, last))
                    if span.level == 0 && first.level == 0 && *last + 1 == span.start =>
                {
                    *last = span.start;
                }
                _ => runs.push((span, span.last())),
            }
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT start, data FROM rollups WHERE series = ?1 AND level = ?2 \
                 AND start BETWEEN ?3 AND ?4",
            )
            .map_err(backend("prepare the roll-up read"))?;
        for s in &series {
            for &(span, last) in &runs {
                let mut found = stmt
                    .query(params![s.id, span.level, span.start, last])
                    .map_err(backend("read a roll-up"))?;
                while let Some(row) = found.next().map_err(backend("read a roll-up"))? {
                    let span = Span {
                        level: span.level,
                        start: row.get(0).map_err(backend("read a roll-up"))?,
                    };
                    let data = row
                        .get_ref(1)
                        .ok()
                        .and_then(|v| v.as_blob().ok())
                        .ok_or_else(|| StoreError::Backend("a roll-up is not a blob".into()))?;
                    lend(s, span, data, visit)?;
                }
            }
        }
        Ok(())
    }

    /// The series matching the filter's schema, metric and purpose.
    fn series_of(&self, filter: &RowFilter) -> Result<Vec<Series>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, schema_id, purpose, consent_version, metric, dimensions FROM series \
                 WHERE (?1 IS NULL OR schema_id = ?1) AND (?2 IS NULL OR metric = ?2) \
                 AND (?3 IS NULL OR purpose = ?3)",
            )
            .map_err(backend("prepare the series query"))?;
        stmt.query_map(
            params![filter.schema_id, filter.metric, filter.purpose],
            |r| {
                Ok(Series {
                    id: r.get(0)?,
                    schema_id: r.get(1)?,
                    purpose: r.get(2)?,
                    consent_version: r.get(3)?,
                    metric: r.get(4)?,
                    dimensions: r.get(5)?,
                })
            },
        )
        .and_then(|rows| rows.collect())
        .map_err(backend("read the series"))
    }
}

/// Rolls `span` up inside `tx`: a day from its rows, a longer span from its
/// two halves. Returns `false` (nothing written) when a half is missing.
fn build(tx: &Transaction<'_>, span: Span) -> Result<bool, StoreError> {
    let rollups: Vec<(i64, Rollup)> = match span.children() {
        None => from_rows(tx, span.start)?,
        Some([left, right]) => {
            let (Some(l), Some(r)) = (children(tx, left)?, children(tx, right)?) else {
                return Ok(false);
            };
            rollup::merge_halves(&l, &r, left.days() as usize)
        }
    };
    let mut insert = tx
        .prepare_cached("INSERT INTO rollups (series, level, start, data) VALUES (?1, ?2, ?3, ?4)")
        .map_err(backend("prepare the roll-up insert"))?;
    for (series, r) in rollups {
        insert
            .execute(params![series, span.level, span.start, r.encode()])
            .map_err(backend("write a roll-up"))?;
    }
    tx.prepare_cached("INSERT INTO rollup_spans (start, level) VALUES (?1, ?2)")
        .and_then(|mut s| s.execute(params![span.start, span.level]))
        .map_err(backend("record a rolled-up span"))?;
    Ok(true)
}

/// One day's rows per series. The key order (day, series, cell) gives each
/// series' cells in byte order (SQLite's BINARY collation), as a roll-up
/// keeps them.
fn from_rows(tx: &Transaction<'_>, day: DayNumber) -> Result<Vec<(i64, Rollup)>, StoreError> {
    let mut stmt = tx
        .prepare_cached(
            "SELECT series, cell, sum, contributors FROM aggregates WHERE day = ?1 \
             ORDER BY series, cell",
        )
        .map_err(backend("prepare the day's rows"))?;
    let mut rows = stmt.query([day]).map_err(backend("read the day's rows"))?;
    let mut out: Vec<(i64, Rollup)> = Vec::new();
    while let Some(row) = rows.next().map_err(backend("read the day's rows"))? {
        let series: i64 = row.get(0).map_err(backend("read the day's rows"))?;
        let cell: String = row.get(1).map_err(backend("read the day's rows"))?;
        let sum: i64 = row.get(2).map_err(backend("read the day's rows"))?;
        let contributors: i64 = row.get(3).map_err(backend("read the day's rows"))?;
        rollup::push_row(&mut out, series, cell, sum, contributors);
    }
    Ok(out)
}

/// A span's roll-ups by series, or `None` if it is not rolled up.
fn children(tx: &Transaction<'_>, span: Span) -> Result<Option<HashMap<i64, Rollup>>, StoreError> {
    let exists = tx
        .prepare_cached("SELECT 1 FROM rollup_spans WHERE start = ?1 AND level = ?2")
        .and_then(|mut s| {
            s.query_row(params![span.start, span.level], |_| Ok(()))
                .optional()
        })
        .map_err(backend("read the rolled-up spans"))?;
    if exists.is_none() {
        return Ok(None);
    }
    let mut stmt = tx
        .prepare_cached("SELECT series, data FROM rollups WHERE start = ?1 AND level = ?2")
        .map_err(backend("prepare the roll-up read"))?;
    let mut rows = stmt
        .query(params![span.start, span.level])
        .map_err(backend("read a roll-up"))?;
    let mut out = HashMap::new();
    while let Some(row) = rows.next().map_err(backend("read a roll-up"))? {
        let series: i64 = row.get(0).map_err(backend("read a roll-up"))?;
        let data = row
            .get_ref(1)
            .ok()
            .and_then(|v| v.as_blob().ok())
            .ok_or_else(|| StoreError::Backend("a roll-up is not a blob".into()))?;
        out.insert(series, Rollup::decode(data)?);
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Contribution, REPORTS_CELL, ReportDelta, Store};

    fn commit_days(store: &mut SqliteStore, days: std::ops::Range<DayNumber>) {
        for day in days {
            let key = |cell: &str| crate::RowKey {
                schema_id: "s".into(),
                day,
                purpose: "usage".into(),
                consent_version: 1,
                metric: "m".into(),
                dimensions: String::new(),
                cell: cell.into(),
            };
            let mut report_id = [0u8; 16];
            report_id[..4].copy_from_slice(&day.to_be_bytes());
            store
                .commit(&[ReportDelta {
                    report_id,
                    day,
                    schema_id: "s".into(),
                    purpose: "usage".into(),
                    contributions: vec![
                        Contribution {
                            key: key(REPORTS_CELL),
                            value: 1,
                        },
                        Contribution {
                            key: key("a"),
                            value: 2,
                        },
                    ],
                }])
                .unwrap();
        }
    }

    #[test]
    fn spans_are_built_once_read_by_other_handles_and_dropped_by_retention() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.sqlite");
        let mut store = SqliteStore::open(&path).unwrap();
        commit_days(&mut store, 0..40);
        // Days 0..=31: 32 + 16 + 8 + 4 + 2 + 1 spans.
        assert_eq!(store.roll_up(32).unwrap(), 63);
        assert_eq!(store.roll_up(32).unwrap(), 0);
        let reader = SqliteStore::open_read_only(&path).unwrap();
        let filter = RowFilter {
            from_day: Some(0),
            to_day: Some(35),
            ..RowFilter::default()
        };
        let mut seen = Vec::new();
        reader
            .visit_spans(&filter, false, &mut |v| {
                seen.push((v.row.cell.to_owned(), v.row.day, v.last_day, v.row.sum));
            })
            .unwrap();
        // One span of 32 days for the cell, each day's count apart, and
        // the rows of the four days not rolled up.
        assert!(seen.contains(&("a".into(), 0, 31, 64)), "{seen:?}");
        assert_eq!(seen.iter().filter(|s| s.0 == "a").count(), 5);
        assert_eq!(seen.iter().filter(|s| s.0 == REPORTS_CELL).count(), 36);
        // Retention drops every span starting before its cutoff; rolling
        // up again builds what the remaining days allow.
        store.delete_before(8).unwrap();
        let spans: i64 = store
            .conn
            .query_row(
                "SELECT count(*) FROM rollup_spans WHERE start < 8",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(spans, 0);
        assert!(store.roll_up(40).unwrap() > 0);
    }
}

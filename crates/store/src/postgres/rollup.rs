//! Roll-ups in PostgreSQL (`crate::rollup`): building the spans of sealed
//! days, one transaction each, safely beside other processes on the same
//! region, and the release's read over them in a few round trips.

use std::collections::{HashMap, HashSet};

use ::postgres::GenericClient;
use ::postgres::fallible_iterator::FallibleIterator;

use super::{PgStore, backend};
use crate::rollup::{self, Rollup, Series, Span, lend};
use crate::{DayNumber, RowFilter, SpanView, StoreError};

impl PgStore {
    /// [`crate::Store::roll_up`].
    pub(super) fn roll_up_sync(&mut self, before: DayNumber) -> Result<u64, StoreError> {
        self.writable()?;
        if self.rolled == Some(before) {
            return Ok(0);
        }
        let mut complete = true;
        let conn = self.conn.get_mut();
        let (first, built) = conn.run(|client, _| {
            let first: Option<DayNumber> = client
                .query_one("SELECT min(day) FROM aggregates", &[])
                .and_then(|r| r.try_get(0))
                .map_err(backend("find the first day"))?;
            let Some(first) = first else {
                return Ok::<_, StoreError>((None, 0));
            };
            let last = before.saturating_sub(1);
            let done = rolled_spans(client, first, last)?;
            let mut built = 0;
            for span in rollup::spans_within(first, last) {
                if done.contains(&span) {
                    continue;
                }
                let mut tx = client.transaction().map_err(backend("begin a roll-up"))?;
                // Claiming the span first: a process rolling up the same
                // span waits on this row and then finds it taken.
                let claimed = tx
                    .execute(
                        "INSERT INTO rollup_spans (start, level) VALUES ($1, $2) \
                         ON CONFLICT DO NOTHING",
                        &[&span.start, &i32::from(span.level)],
                    )
                    .map_err(backend("record a rolled-up span"))?;
                if claimed == 0 {
                    continue;
                }
                if build(&mut tx, span)? {
                    tx.commit().map_err(backend("commit a roll-up"))?;
                    built += 1;
                } else {
                    // A half is still being built by another process:
                    // look again on the next call.
                    complete = false;
                }
            }
            Ok((Some(first), built))
        })?;
        if first.is_some() && complete {
            self.rolled = Some(before);
        }
        Ok(built)
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
        let done = self
            .conn()?
            .run(|client, _| rolled_spans(client, from, to))?;
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
        let levels: Vec<i32> = spans.iter().map(|s| i32::from(s.level)).collect();
        let starts: Vec<i32> = spans.iter().map(|s| s.start).collect();
        self.conn()?.run(|client, _| {
            let series: HashMap<i64, Series> = client
                .query(
                    "SELECT id, schema_id, purpose, consent_version, metric, dimensions \
                     FROM series WHERE ($1::text IS NULL OR schema_id = $1) \
                     AND ($2::text IS NULL OR metric = $2) AND ($3::text IS NULL OR purpose = $3)",
                    &[&filter.schema_id, &filter.metric, &filter.purpose],
                )
                .map_err(backend("read the series"))?
                .iter()
                .map(|r| {
                    Ok((
                        r.try_get(0)?,
                        Series {
                            id: r.try_get(0)?,
                            schema_id: r.try_get(1)?,
                            purpose: r.try_get(2)?,
                            consent_version: u32::try_from(r.try_get::<_, i64>(3)?)
                                .unwrap_or(u32::MAX),
                            metric: r.try_get(4)?,
                            dimensions: r.try_get(5)?,
                        },
                    ))
                })
                .collect::<Result<_, ::postgres::Error>>()
                .map_err(backend("read the series"))?;
            let ids: Vec<i64> = series.keys().copied().collect();
            // Every wanted (series, span) in one round trip.
            let mut rows = client
                .query_raw(
                    "SELECT r.series, r.level, r.start, r.data FROM rollups r \
                     JOIN unnest($2::int4[], $3::int4[]) AS w (level, start) \
                     ON r.level = w.level AND r.start = w.start \
                     WHERE r.series = ANY ($1::int8[])",
                    [
                        &ids as &(dyn ::postgres::types::ToSql + Sync),
                        &levels,
                        &starts,
                    ],
                )
                .map_err(backend("read the roll-ups"))?;
            while let Some(row) = rows.next().map_err(backend("read the roll-ups"))? {
                let (id, level, start, data): (i64, i32, i32, &[u8]) = (|| {
                    Ok::<_, ::postgres::Error>((
                        row.try_get(0)?,
                        row.try_get(1)?,
                        row.try_get(2)?,
                        row.try_get(3)?,
                    ))
                })()
                .map_err(backend("read the roll-ups"))?;
                let (Some(s), Ok(level)) = (series.get(&id), u8::try_from(level)) else {
                    continue;
                };
                lend(s, Span { level, start }, data, visit)?;
            }
            Ok(())
        })
    }
}

/// The spans rolled up with a start in `first..=last`.
fn rolled_spans(
    client: &mut impl GenericClient,
    first: DayNumber,
    last: DayNumber,
) -> Result<HashSet<Span>, StoreError> {
    client
        .query(
            "SELECT start, level FROM rollup_spans WHERE start BETWEEN $1 AND $2",
            &[&first, &last],
        )
        .map_err(backend("read the rolled-up spans"))?
        .iter()
        .map(|r| {
            let level: i32 = r.try_get(1)?;
            Ok(Span {
                start: r.try_get(0)?,
                level: u8::try_from(level).unwrap_or(u8::MAX),
            })
        })
        .collect::<Result<_, ::postgres::Error>>()
        .map_err(backend("read the rolled-up spans"))
}

/// Rolls `span` up inside `tx`: a day from its rows, a longer span from its
/// two halves. Returns `false` when a half is missing (the caller then
/// rolls back its claim).
fn build(tx: &mut impl GenericClient, span: Span) -> Result<bool, StoreError> {
    let rollups: Vec<(i64, Rollup)> = match span.children() {
        None => from_rows(tx, span.start)?,
        Some([left, right]) => {
            let (Some(l), Some(r)) = (children(tx, left)?, children(tx, right)?) else {
                return Ok(false);
            };
            let mut ids: Vec<i64> = l.keys().chain(r.keys()).copied().collect();
            ids.sort_unstable();
            ids.dedup();
            let empty = Rollup::empty(left.days() as usize);
            ids.into_iter()
                .map(|id| {
                    let merged =
                        Rollup::merge(l.get(&id).unwrap_or(&empty), r.get(&id).unwrap_or(&empty));
                    (id, merged)
                })
                .collect()
        }
    };
    // One insert for the span's series, as arrays.
    let ids: Vec<i64> = rollups.iter().map(|(id, _)| *id).collect();
    let data: Vec<Vec<u8>> = rollups.iter().map(|(_, r)| r.encode()).collect();
    tx.execute(
        "INSERT INTO rollups (series, level, start, data) \
         SELECT s, $2, $3, d FROM unnest($1::int8[], $4::bytea[]) AS u (s, d)",
        &[&ids, &i32::from(span.level), &span.start, &data],
    )
    .map_err(backend("write the roll-ups"))?;
    Ok(true)
}

/// One day's rows per series, each series' cells in byte order (the
/// columns are `COLLATE "C"`), as a roll-up keeps them.
fn from_rows(
    tx: &mut impl GenericClient,
    day: DayNumber,
) -> Result<Vec<(i64, Rollup)>, StoreError> {
    let rows = tx
        .query(
            "SELECT series, cell, sum, contributors FROM aggregates WHERE day = $1 \
             ORDER BY series, cell",
            &[&day],
        )
        .map_err(backend("read the day's rows"))?;
    let mut out: Vec<(i64, Rollup)> = Vec::new();
    for row in &rows {
        let (series, cell, sum, contributors): (i64, String, i64, i64) = (|| {
            Ok::<_, ::postgres::Error>((
                row.try_get(0)?,
                row.try_get(1)?,
                row.try_get(2)?,
                row.try_get(3)?,
            ))
        })()
        .map_err(backend("read the day's rows"))?;
        rollup::push_row(&mut out, series, cell, sum, contributors);
    }
    Ok(out)
}

/// A span's roll-ups by series, or `None` if it is not rolled up.
fn children(
    tx: &mut impl GenericClient,
    span: Span,
) -> Result<Option<HashMap<i64, Rollup>>, StoreError> {
    let level = i32::from(span.level);
    let exists = tx
        .query_opt(
            "SELECT 1 FROM rollup_spans WHERE start = $1 AND level = $2",
            &[&span.start, &level],
        )
        .map_err(backend("read the rolled-up spans"))?;
    if exists.is_none() {
        return Ok(None);
    }
    let rows = tx
        .query(
            "SELECT series, data FROM rollups WHERE start = $1 AND level = $2",
            &[&span.start, &level],
        )
        .map_err(backend("read a roll-up"))?;
    let mut out = HashMap::new();
    for row in &rows {
        let series: i64 = row.try_get(0).map_err(backend("read a roll-up"))?;
        let data: &[u8] = row.try_get(1).map_err(backend("read a roll-up"))?;
        out.insert(series, Rollup::decode(data)?);
    }
    Ok(Some(out))
}

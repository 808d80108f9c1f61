//! [`Store`] for [`PgStore`]: commits, retention, reads, the budget
//! ledger with its release cache, and the audit chain.

use std::collections::BTreeMap;

use ::postgres::types::ToSql;
use ::postgres::{GenericClient, IsolationLevel};

use super::{PgStore, backend, prepared};
use crate::audit::{self, AuditEntry, AuditRecord, Head};
use crate::ledger::{Caps, units};
use crate::{
    AggregateRow, BudgetCharge, BudgetFilter, BudgetSpent, CommitOutcome, DayNumber, NewRelease,
    ReleaseOutcome, ReportCount, ReportDelta, RowFilter, RowView, SpanView, Store, StoreError,
    validate_batch,
};

/// Advisory-lock class of a region's ledger and audit chain (the second
/// key is the schema name's hash). "CL" in ASCII.
const LOCK_LEDGER: i32 = 0x434C;

const ROW_COLUMNS: &str = "SELECT s.schema_id, a.day, s.purpose, s.consent_version, s.metric, \
     s.dimensions, a.cell, a.sum, a.contributors FROM aggregates a JOIN series s ON s.id = a.series";

const ROW_ORDER: &str =
    " ORDER BY s.schema_id, a.day, s.purpose, s.consent_version, s.metric, s.dimensions, a.cell";

impl Store for PgStore {
    fn commit(&mut self, batch: &[ReportDelta]) -> Result<Vec<CommitOutcome>, StoreError> {
        self.writable()?;
        validate_batch(batch)?;
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let cache = &self.series;
        let (outcomes, created) = self.conn.get_mut().run(|client, statements| {
            let mut tx = client.transaction().map_err(backend("begin the batch"))?;
            // On an error `tx` is dropped, which rolls back.
            let (outcomes, created, overflow) =
                Self::write_batch(&mut tx, statements, cache, batch)?;
            if let Some(rows) = overflow {
                tx.rollback().map_err(backend("roll the batch back"))?;
                return Err(StoreError::Overflow {
                    metric: Self::overflowing_metric(client, &rows),
                });
            }
            tx.commit().map_err(backend("commit the batch"))?;
            Ok((outcomes, created))
        })?;
        self.series.extend(created);
        Ok(outcomes)
    }

    fn prune_seen(&mut self, before: DayNumber) -> Result<u64, StoreError> {
        self.writable()?;
        self.conn.get_mut().run(|client, _| {
            client
                .execute("DELETE FROM seen_reports WHERE day < $1", &[&before])
                .map_err(backend("prune report ids"))
        })
    }

    fn delete_before(&mut self, before: DayNumber) -> Result<u64, StoreError> {
        self.writable()?;
        self.conn
            .get_mut()
            .run(|client, _| {
                let mut tx = client.transaction().map_err(backend("begin retention"))?;
                let rows = tx
                    .execute("DELETE FROM aggregates WHERE day < $1", &[&before])
                    .map_err(backend("delete old rows"))?;
                tx.execute("DELETE FROM report_counts WHERE day < $1", &[&before])
                    .map_err(backend("delete old report counts"))?;
                tx.execute("DELETE FROM budget WHERE day < $1", &[&before])
                    .map_err(backend("delete old budget entries"))?;
                tx.execute("DELETE FROM releases WHERE last_day < $1", &[&before])
                    .map_err(backend("delete old releases"))?;
                // A span starting before the cutoff summed rows that are gone.
                tx.execute("DELETE FROM rollups WHERE start < $1", &[&before])
                    .map_err(backend("delete old roll-ups"))?;
                tx.execute("DELETE FROM rollup_spans WHERE start < $1", &[&before])
                    .map_err(backend("delete old roll-ups"))?;
                tx.commit().map_err(backend("commit retention"))?;
                Ok(rows)
            })
            .inspect(|_| self.rolled = None)
    }

    fn rows(&self, filter: &RowFilter) -> Result<Vec<AggregateRow>, StoreError> {
        let mut rows = Vec::new();
        self.for_each_row(filter, true, &mut |v| rows.push(v.to_row()))?;
        Ok(rows)
    }

    fn visit_rows(
        &self,
        filter: &RowFilter,
        visit: &mut dyn FnMut(&RowView<'_>),
    ) -> Result<(), StoreError> {
        self.for_each_row(filter, false, visit)
    }

    fn roll_up(&mut self, before: DayNumber) -> Result<u64, StoreError> {
        self.roll_up_sync(before)
    }

    fn visit_spans(
        &self,
        filter: &RowFilter,
        per_day: bool,
        visit: &mut dyn FnMut(&SpanView<'_>),
    ) -> Result<(), StoreError> {
        self.visit_spans_sync(filter, per_day, visit)
    }

    fn report_counts(&self) -> Result<Vec<ReportCount>, StoreError> {
        self.conn()?.run(|client, _| {
            let rows = client
                .query(
                    "SELECT schema_id, day, purpose, reports FROM report_counts \
                 ORDER BY schema_id, day, purpose",
                    &[],
                )
                .map_err(backend("read report counts"))?;
            rows.iter()
                .map(|r| {
                    Ok(ReportCount {
                        schema_id: r.try_get(0)?,
                        day: r.try_get(1)?,
                        purpose: r.try_get(2)?,
                        reports: r.try_get(3)?,
                    })
                })
                .collect::<Result<_, ::postgres::Error>>()
                .map_err(backend("read report counts"))
        })
    }

    fn cached_release(&self, cache_key: &str) -> Result<Option<String>, StoreError> {
        self.conn()?.run(|client, _| cached(client, cache_key))
    }

    fn budget(&self, filter: &BudgetFilter) -> Result<Vec<BudgetSpent>, StoreError> {
        self.conn()?.run(|client, _| {
            let rows = client
                .query(
                    "SELECT purpose, metric, day, spent_micros, spent_femtos FROM budget \
                 WHERE ($1::text IS NULL OR purpose = $1) AND ($2::text IS NULL OR metric = $2) \
                 AND ($3::int4 IS NULL OR day >= $3) AND ($4::int4 IS NULL OR day <= $4) \
                 ORDER BY purpose, metric, day",
                    &[
                        &filter.purpose,
                        &filter.metric,
                        &filter.from_day,
                        &filter.to_day,
                    ],
                )
                .map_err(backend("read the budget"))?;
            rows.iter()
                .map(|r| {
                    Ok(BudgetSpent {
                        purpose: r.try_get(0)?,
                        metric: r.try_get(1)?,
                        day: r.try_get(2)?,
                        micros: r.try_get::<_, i64>(3)?.max(0) as u64,
                        femtos: r.try_get::<_, i64>(4)?.max(0) as u64,
                    })
                })
                .collect::<Result<_, ::postgres::Error>>()
                .map_err(backend("read the budget"))
        })
    }

    fn record_release(&mut self, release: &NewRelease) -> Result<ReleaseOutcome, StoreError> {
        self.writable()?;
        let schema = &self.schema;
        self.conn.get_mut().run(|client, _| {
            let mut tx = client.transaction().map_err(backend("begin a release"))?;
            lock_ledger(&mut tx, schema)?;
            if let Some(answer) = cached(&mut tx, &release.cache_key)? {
                append_audit_in(&mut tx, &release.audit)?;
                tx.commit().map_err(backend("commit a release"))?;
                return Ok(ReleaseOutcome::AlreadyCached(answer));
            }
            let caps = Caps::new(release);
            // Every charge in one statement: a release over a year charges
            // 365 days, and a round trip each cost more than the release
            // itself. An upsert may touch a row once, so charges of the
            // same key are added first.
            let mut merged: BTreeMap<(&str, &str, DayNumber), (u64, u64)> = BTreeMap::new();
            for c in &release.charges {
                let m = merged.entry((&c.purpose, &c.metric, c.day)).or_default();
                m.0 = m.0.saturating_add(c.micros);
                m.1 = m.1.saturating_add(c.femtos);
            }
            let charges: Vec<BudgetCharge> = merged
                .into_iter()
                .map(|((purpose, metric, day), (micros, femtos))| BudgetCharge {
                    purpose: purpose.to_owned(),
                    metric: metric.to_owned(),
                    day,
                    micros,
                    femtos,
                })
                .collect();
            let purposes: Vec<&str> = charges.iter().map(|c| c.purpose.as_str()).collect();
            let metrics: Vec<&str> = charges.iter().map(|c| c.metric.as_str()).collect();
            let days: Vec<DayNumber> = charges.iter().map(|c| c.day).collect();
            let micros: Vec<i64> = charges.iter().map(|c| units(c.micros)).collect();
            let femtos: Vec<i64> = charges.iter().map(|c| units(c.femtos)).collect();
            let spent: BTreeMap<(String, String, DayNumber), i64> = tx
                .query(
                    "INSERT INTO budget (purpose, metric, day, spent_micros, spent_femtos) \
                     SELECT * FROM unnest($1::text[], $2::text[], $3::int4[], $4::int8[], \
                     $5::int8[]) \
                     ON CONFLICT (purpose, metric, day) \
                     DO UPDATE SET spent_micros = budget.spent_micros + excluded.spent_micros, \
                                   spent_femtos = budget.spent_femtos + excluded.spent_femtos \
                     RETURNING purpose, metric, day, spent_micros",
                    &[&purposes, &metrics, &days, &micros, &femtos],
                )
                .map_err(backend("charge the budget"))?
                .iter()
                .map(|r| Ok(((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?), r.try_get(3)?)))
                .collect::<Result<_, ::postgres::Error>>()
                .map_err(backend("charge the budget"))?;
            for c in &charges {
                let key = (c.purpose.clone(), c.metric.clone(), c.day);
                // On a refusal, dropping `tx` rolls every charge back.
                caps.check_metric(c, spent.get(&key).copied().unwrap_or(i64::MAX))?;
            }
            // The purpose caps, with every charge of this release added. The
            // ledger lock makes these sums final until we commit.
            for (purpose, from, to) in caps.purpose_ranges() {
                let totals = tx
                    .query(
                        "SELECT day, SUM(spent_micros)::int8, SUM(spent_femtos)::int8 FROM budget \
                     WHERE purpose = $1 AND day BETWEEN $2 AND $3 GROUP BY day",
                        &[&purpose, &from, &to],
                    )
                    .map_err(backend("sum the purpose's budget"))?;
                for r in totals {
                    caps.check_purpose(purpose, r.get(0), r.get(1), r.get(2))?;
                }
            }
            tx.execute(
                "INSERT INTO releases (cache_key, last_day, answer) VALUES ($1, $2, $3)",
                &[&release.cache_key, &release.last_day, &release.answer],
            )
            .map_err(backend("cache the release"))?;
            append_audit_in(&mut tx, &release.audit)?;
            tx.commit().map_err(backend("commit a release"))?;
            Ok(ReleaseOutcome::Recorded)
        })
    }

    fn append_audit(&mut self, record: &AuditRecord) -> Result<AuditEntry, StoreError> {
        self.writable()?;
        let schema = &self.schema;
        self.conn.get_mut().run(|client, _| {
            let mut tx = client
                .transaction()
                .map_err(backend("begin an audit append"))?;
            lock_ledger(&mut tx, schema)?;
            let entry = append_audit_in(&mut tx, record)?;
            tx.commit().map_err(backend("commit an audit append"))?;
            Ok(entry)
        })
    }

    fn audit_log(&self) -> Result<(Vec<AuditEntry>, Option<Head>), StoreError> {
        // One snapshot, so rows and head are of the same moment.
        self.conn()?.run(|client, _| {
            let mut tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .map_err(backend("begin reading the audit log"))?;
            let entries = tx
                .query(
                    "SELECT seq, at, actor, action, detail, prev, hash FROM audit ORDER BY seq",
                    &[],
                )
                .map_err(backend("read the audit log"))?
                .iter()
                .map(|row| {
                    Ok(AuditEntry {
                        seq: row.try_get::<_, i64>(0)?.max(0) as u64,
                        record: AuditRecord {
                            at: row.try_get(1)?,
                            actor: row.try_get(2)?,
                            action: row.try_get(3)?,
                            detail: row.try_get(4)?,
                        },
                        prev: hash_column(row.try_get(5)?),
                        hash: hash_column(row.try_get(6)?),
                    })
                })
                .collect::<Result<Vec<_>, ::postgres::Error>>()
                .map_err(backend("read the audit log"))?;
            let head = read_head(&mut tx)?;
            tx.commit().map_err(backend("end reading the audit log"))?;
            Ok((entries, head))
        })
    }

    fn audit_head(&self) -> Result<Option<Head>, StoreError> {
        self.conn()?.run(|client, _| read_head(client))
    }
}

impl PgStore {
    /// Runs the row query for `filter`, in key order if `ordered`,
    /// streaming the rows to `visit` (a year of a metric is a million
    /// rows: they are never all in memory at once).
    pub(super) fn for_each_row(
        &self,
        filter: &RowFilter,
        ordered: bool,
        visit: &mut dyn FnMut(&RowView<'_>),
    ) -> Result<(), StoreError> {
        // Only the conditions given, so the planner sees a plain range;
        // values are always bound.
        let fields: [(&str, Option<&(dyn ToSql + Sync)>); 5] = [
            ("s.schema_id =", filter.schema_id.as_ref().map(|v| v as _)),
            ("s.metric =", filter.metric.as_ref().map(|v| v as _)),
            ("s.purpose =", filter.purpose.as_ref().map(|v| v as _)),
            ("a.day >=", filter.from_day.as_ref().map(|v| v as _)),
            ("a.day <=", filter.to_day.as_ref().map(|v| v as _)),
        ];
        let mut conditions: Vec<String> = Vec::new();
        let mut values: Vec<&(dyn ToSql + Sync)> = Vec::new();
        for (condition, value) in fields {
            if let Some(value) = value {
                values.push(value);
                conditions.push(format!("{condition} ${}", values.len()));
            }
        }
        let mut sql = String::from(ROW_COLUMNS);
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        if ordered {
            sql.push_str(ROW_ORDER);
        }
        self.conn()?.run(|client, statements| {
            let stmt =
                prepared(client, statements, &sql).map_err(backend("prepare the row query"))?;
            let mut rows = client
                .query_raw(&stmt, values.iter().copied())
                .map_err(backend("read rows"))?;
            use ::postgres::fallible_iterator::FallibleIterator;
            while let Some(row) = rows.next().map_err(backend("read rows"))? {
                let view = (|| {
                    Ok::<_, ::postgres::Error>(RowView {
                        schema_id: row.try_get(0)?,
                        day: row.try_get(1)?,
                        purpose: row.try_get(2)?,
                        consent_version: u32::try_from(row.try_get::<_, i64>(3)?)
                            .unwrap_or(u32::MAX),
                        metric: row.try_get(4)?,
                        dimensions: row.try_get(5)?,
                        cell: row.try_get(6)?,
                        sum: row.try_get(7)?,
                        contributors: row.try_get(8)?,
                    })
                })()
                .map_err(backend("read rows"))?;
                visit(&view);
            }
            Ok(())
        })
    }
}

/// Takes the region's ledger lock until the transaction ends: releases
/// and audit appends of every process on this region queue here.
fn lock_ledger(tx: &mut impl GenericClient, schema: &str) -> Result<(), StoreError> {
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2))",
        &[&LOCK_LEDGER, &schema],
    )
    .map(drop)
    .map_err(backend("lock the ledger"))
}

fn cached(client: &mut impl GenericClient, cache_key: &str) -> Result<Option<String>, StoreError> {
    client
        .query_opt(
            "SELECT answer FROM releases WHERE cache_key = $1",
            &[&cache_key],
        )
        .map(|row| row.map(|r| r.get(0)))
        .map_err(backend("read the release cache"))
}

/// A stored hash; a value of the wrong size (only by tampering) reads as
/// all ones, which no real hash is, so verification fails at that row.
fn hash_column(value: Vec<u8>) -> audit::Hash {
    <[u8; 32]>::try_from(value.as_slice()).unwrap_or([0xff; 32])
}

fn read_head(client: &mut impl GenericClient) -> Result<Option<Head>, StoreError> {
    client
        .query_opt("SELECT seq, hash FROM audit_head WHERE one = 1", &[])
        .map_err(backend("read the audit head"))?
        .map(|r| {
            Ok(Head {
                seq: r.try_get::<_, i64>(0)?.max(0) as u64,
                hash: hash_column(r.try_get(1)?),
            })
        })
        .transpose()
        .map_err(backend("read the audit head"))
}

/// Appends to the chain inside the caller's transaction, which holds the
/// ledger lock. The new entry follows the recorded head, not the last
/// row, so a tampered table never silently re-anchors the chain.
fn append_audit_in(
    tx: &mut impl GenericClient,
    record: &AuditRecord,
) -> Result<AuditEntry, StoreError> {
    let entry = audit::next_entry(read_head(tx)?, record.clone());
    let seq = i64::try_from(entry.seq)
        .map_err(|_| StoreError::Backend("the audit log is full".into()))?;
    tx.execute(
        "INSERT INTO audit (seq, at, actor, action, detail, prev, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &seq,
            &record.at,
            &record.actor,
            &record.action,
            &record.detail,
            &&entry.prev[..],
            &&entry.hash[..],
        ],
    )
    .map_err(backend("append to the audit log"))?;
    tx.execute(
        "INSERT INTO audit_head (one, seq, hash) VALUES (1, $1, $2) \
         ON CONFLICT (one) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        &[&seq, &&entry.hash[..]],
    )
    .map_err(backend("move the audit head"))?;
    Ok(entry)
}

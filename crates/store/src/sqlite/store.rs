//! [`Store`] for [`SqliteStore`]: commits, retention, reads, the budget
//! ledger with its release cache, and the audit chain.

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use super::{SqliteStore, backend, hash_column};
use crate::audit::{self, AuditEntry, AuditRecord, Head};
use crate::ledger::{Caps, units};
use crate::{
    AggregateRow, BudgetFilter, BudgetSpent, CommitOutcome, DayNumber, NewRelease, ReleaseOutcome,
    ReportCount, ReportDelta, RowFilter, RowView, SpanView, Store, StoreError, validate_batch,
};

impl Store for SqliteStore {
    fn commit(&mut self, batch: &[ReportDelta]) -> Result<Vec<CommitOutcome>, StoreError> {
        self.writable()?;
        validate_batch(batch)?;
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        // IMMEDIATE takes the write lock now, so the transaction cannot fail
        // half-way with SQLITE_BUSY on a read-to-write upgrade.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend("begin the batch"))?;
        // On an error `tx` is dropped, which rolls back (also when COMMIT
        // itself fails: rusqlite rolls back a transaction still open).
        let (outcomes, created) = Self::write_batch(&tx, &self.series, batch)?;
        tx.commit().map_err(backend("commit the batch"))?;
        self.series.extend(created);
        Ok(outcomes)
    }

    fn prune_seen(&mut self, before: DayNumber) -> Result<u64, StoreError> {
        self.writable()?;
        let n = self
            .conn
            .prepare_cached("DELETE FROM seen_reports WHERE day < ?1")
            .and_then(|mut s| s.execute([before]))
            .map_err(backend("prune report ids"))?;
        Ok(n as u64)
    }

    fn delete_before(&mut self, before: DayNumber) -> Result<u64, StoreError> {
        self.writable()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend("begin retention"))?;
        let rows = tx
            .execute("DELETE FROM aggregates WHERE day < ?1", [before])
            .map_err(backend("delete old rows"))?;
        tx.execute("DELETE FROM report_counts WHERE day < ?1", [before])
            .map_err(backend("delete old report counts"))?;
        tx.execute("DELETE FROM budget WHERE day < ?1", [before])
            .map_err(backend("delete old budget entries"))?;
        tx.execute("DELETE FROM releases WHERE last_day < ?1", [before])
            .map_err(backend("delete old releases"))?;
        // A span starting before the cutoff summed rows that are gone now.
        tx.execute("DELETE FROM rollups WHERE start < ?1", [before])
            .map_err(backend("delete old roll-ups"))?;
        tx.execute("DELETE FROM rollup_spans WHERE start < ?1", [before])
            .map_err(backend("delete old roll-ups"))?;
        tx.commit().map_err(backend("commit retention"))?;
        self.rolled = None;
        Ok(rows as u64)
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
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT schema_id, day, purpose, reports FROM report_counts \
                 ORDER BY schema_id, day, purpose",
            )
            .map_err(backend("prepare the count query"))?;
        let counts = stmt
            .query_map([], |row| {
                Ok(ReportCount {
                    schema_id: row.get(0)?,
                    day: row.get(1)?,
                    purpose: row.get(2)?,
                    reports: row.get(3)?,
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(backend("read report counts"))?;
        Ok(counts)
    }

    fn cached_release(&self, cache_key: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .prepare_cached("SELECT answer FROM releases WHERE cache_key = ?1")
            .and_then(|mut s| s.query_row([cache_key], |r| r.get(0)).optional())
            .map_err(backend("read the release cache"))
    }

    fn budget(&self, filter: &BudgetFilter) -> Result<Vec<BudgetSpent>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT purpose, metric, day, spent_micros, spent_femtos FROM budget \
                 WHERE (?1 IS NULL OR purpose = ?1) AND (?2 IS NULL OR metric = ?2) \
                 AND (?3 IS NULL OR day >= ?3) AND (?4 IS NULL OR day <= ?4) \
                 ORDER BY purpose, metric, day",
            )
            .map_err(backend("prepare the budget query"))?;
        let rows = stmt
            .query_map(
                params![
                    filter.purpose,
                    filter.metric,
                    filter.from_day,
                    filter.to_day
                ],
                |row| {
                    Ok(BudgetSpent {
                        purpose: row.get(0)?,
                        metric: row.get(1)?,
                        day: row.get(2)?,
                        micros: row.get::<_, i64>(3)?.max(0) as u64,
                        femtos: row.get::<_, i64>(4)?.max(0) as u64,
                    })
                },
            )
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(backend("read the budget"))?;
        Ok(rows)
    }

    fn record_release(&mut self, release: &NewRelease) -> Result<ReleaseOutcome, StoreError> {
        self.writable()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend("begin a release"))?;
        let earlier: Option<String> = tx
            .prepare_cached("SELECT answer FROM releases WHERE cache_key = ?1")
            .and_then(|mut s| s.query_row([&release.cache_key], |r| r.get(0)).optional())
            .map_err(backend("read the release cache"))?;
        if let Some(answer) = earlier {
            append_audit_in(&tx, &release.audit)?;
            tx.commit().map_err(backend("commit a release"))?;
            return Ok(ReleaseOutcome::AlreadyCached(answer));
        }
        let caps = Caps::new(release);
        for c in &release.charges {
            let spent: i64 = tx
                .prepare_cached(
                    "INSERT INTO budget (purpose, metric, day, spent_micros, spent_femtos) \
                     VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT (purpose, metric, day) \
                     DO UPDATE SET spent_micros = spent_micros + excluded.spent_micros, \
                                   spent_femtos = spent_femtos + excluded.spent_femtos \
                     RETURNING spent_micros",
                )
                .and_then(|mut s| {
                    s.query_row(
                        params![c.purpose, c.metric, c.day, units(c.micros), units(c.femtos)],
                        |r| r.get(0),
                    )
                })
                .map_err(backend("charge the budget"))?;
            // On a refusal, dropping `tx` rolls every charge of this
            // release back.
            caps.check_metric(c, spent)?;
        }
        // The purpose caps, with every charge of this release added: one
        // grouped read per purpose over the release's days.
        for (purpose, from, to) in caps.purpose_ranges() {
            let totals: Vec<(DayNumber, i64, i64)> = tx
                .prepare_cached(
                    "SELECT day, SUM(spent_micros), SUM(spent_femtos) FROM budget \
                     WHERE purpose = ?1 AND day BETWEEN ?2 AND ?3 GROUP BY day",
                )
                .and_then(|mut s| {
                    s.query_map(params![purpose, from, to], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })?
                    .collect()
                })
                .map_err(backend("sum the purpose's budget"))?;
            for (day, micros, femtos) in totals {
                caps.check_purpose(purpose, day, micros, femtos)?;
            }
        }
        tx.prepare_cached("INSERT INTO releases (cache_key, last_day, answer) VALUES (?1, ?2, ?3)")
            .and_then(|mut s| {
                s.execute(params![release.cache_key, release.last_day, release.answer])
            })
            .map_err(backend("cache the release"))?;
        append_audit_in(&tx, &release.audit)?;
        tx.commit().map_err(backend("commit a release"))?;
        Ok(ReleaseOutcome::Recorded)
    }

    fn append_audit(&mut self, record: &AuditRecord) -> Result<AuditEntry, StoreError> {
        self.writable()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend("begin an audit append"))?;
        let entry = append_audit_in(&tx, record)?;
        tx.commit().map_err(backend("commit an audit append"))?;
        Ok(entry)
    }

    fn audit_log(&self) -> Result<(Vec<AuditEntry>, Option<Head>), StoreError> {
        // One read transaction, so rows and head are of the same moment.
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(backend("begin reading the audit log"))?;
        let entries = tx
            .prepare_cached(
                "SELECT seq, at, actor, action, detail, prev, hash FROM audit ORDER BY seq",
            )
            .and_then(|mut s| {
                s.query_map([], |row| {
                    Ok(AuditEntry {
                        seq: row.get::<_, i64>(0)?.max(0) as u64,
                        record: AuditRecord {
                            at: row.get(1)?,
                            actor: row.get(2)?,
                            action: row.get(3)?,
                            detail: row.get(4)?,
                        },
                        prev: hash_column(row.get_ref(5)?),
                        hash: hash_column(row.get_ref(6)?),
                    })
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(backend("read the audit log"))?;
        let head = read_head(&tx)?;
        Ok((entries, head))
    }

    fn audit_head(&self) -> Result<Option<Head>, StoreError> {
        read_head(&self.conn)
    }
}

fn read_head(conn: &Connection) -> Result<Option<Head>, StoreError> {
    conn.prepare_cached("SELECT seq, hash FROM audit_head WHERE one = 1")
        .and_then(|mut s| {
            s.query_row([], |r| {
                Ok(Head {
                    seq: r.get::<_, i64>(0)?.max(0) as u64,
                    hash: hash_column(r.get_ref(1)?),
                })
            })
            .optional()
        })
        .map_err(backend("read the audit head"))
}

/// Appends to the chain inside the caller's write transaction. The new
/// entry follows the recorded head, not the last row, so a tampered table
/// never silently re-anchors the chain.
fn append_audit_in(tx: &Transaction<'_>, record: &AuditRecord) -> Result<AuditEntry, StoreError> {
    let entry = audit::next_entry(read_head(tx)?, record.clone());
    let seq = i64::try_from(entry.seq)
        .map_err(|_| StoreError::Backend("the audit log is full".into()))?;
    tx.prepare_cached(
        "INSERT INTO audit (seq, at, actor, action, detail, prev, hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![
            seq,
            record.at,
            record.actor,
            record.action,
            record.detail,
            &entry.prev[..],
            &entry.hash[..]
        ])
    })
    .map_err(backend("append to the audit log"))?;
    tx.prepare_cached(
        "INSERT INTO audit_head (one, seq, hash) VALUES (1, ?1, ?2) \
         ON CONFLICT (one) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
    )
    .and_then(|mut s| s.execute(params![seq, &entry.hash[..]]))
    .map_err(backend("move the audit head"))?;
    Ok(entry)
}

//! Background jobs: retention, dedup pruning, roll-ups of closed days, key
//! reload.

use std::sync::Arc;
use std::time::Duration;

use crate::Collector;

/// What one run of the jobs did in one region.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobReport {
    /// Aggregate rows deleted past retention.
    pub rows_deleted: u64,
    /// Dedup entries pruned.
    pub ids_pruned: u64,
}

/// Runs retention and pruning once for every region, through each
/// region's writer (so the database keeps a single writer), rolls up the
/// days that closed (through the region's release handle), and reloads
/// the key directories.
///
/// A region's retention is the shortest any schema declares for it: rows
/// of every schema in that region's database go at that age, which never
/// keeps data longer than any schema promises.
pub async fn run_once(
    c: &Arc<Collector>,
) -> Vec<(String, Result<JobReport, candor_store::StoreError>)> {
    c.reload_keys();
    let (window, _) = c.calendar().window();
    let today = window.today;
    let mut out = Vec::new();
    for (id, r) in c.runtimes() {
        // A front stores nothing: only its keys are reloaded.
        let Some(writer) = &r.writer else {
            continue;
        };
        let retention = c
            .registry()
            .all()
            .filter_map(|s| s.region(id).map(|reg| reg.retention_days))
            .min()
            .unwrap_or(u32::MAX);
        let cutoff = today.saturating_sub(i32::try_from(retention).unwrap_or(i32::MAX));
        // Reports older than the window are refused anyway, so their ids
        // can be forgotten (the widest window of the region's schemas).
        let first = c
            .registry()
            .all()
            .map(|s| window.first(s.region(id)))
            .min()
            .unwrap_or(today);
        let result = writer
            .maintain(cutoff, first)
            .await
            .map(|(rows_deleted, ids_pruned)| JobReport {
                rows_deleted,
                ids_pruned,
            });
        if let Ok(report) = &result {
            let record = candor_store::AuditRecord {
                at: crate::clock::audit_now(),
                actor: "collector".into(),
                action: "retention".into(),
                detail: serde_json::json!({
                    "deleted_before": crate::release::format_day(cutoff),
                    "rows_deleted": report.rows_deleted,
                    "ids_pruned": report.ids_pruned,
                })
                .to_string(),
            };
            // On a blocking thread: the store may be PostgreSQL, whose
            // driver must not run on an async one.
            let (worker, region) = (c.clone(), id.clone());
            let logged = tokio::task::spawn_blocking(move || {
                worker.analyst().append_audit(&region, &record)
            })
            .await;
            match logged {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    tracing::error!(region = %id, %error, "Writing the retention run to the audit log failed.");
                }
                Err(error) => {
                    tracing::error!(region = %id, %error, "Writing the retention run to the audit log panicked.");
                }
            }
        }
        // Roll up the days that closed (after retention, which drops the
        // spans it touches), so that no release waits for it. On a
        // blocking thread, as above.
        let (worker, region) = (c.clone(), id.clone());
        match tokio::task::spawn_blocking(move || worker.analyst().roll_up(&region)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(spans)) => tracing::info!(region = %id, spans, "Closed days rolled up."),
            Ok(Err(error)) => {
                tracing::warn!(region = %id, %error, "Rolling up closed days failed; releases read the rows.");
            }
            Err(error) => {
                tracing::error!(region = %id, %error, "Rolling up closed days panicked.");
            }
        }
        match &result {
            Ok(report) => tracing::info!(
                region = %id,
                rows_deleted = report.rows_deleted,
                ids_pruned = report.ids_pruned,
                "Retention ran."
            ),
            Err(error) => tracing::error!(region = %id, %error, "Retention failed."),
        }
        out.push((id.clone(), result));
    }
    out
}

/// Runs the jobs now and then every `jobs.interval_seconds`.
pub(crate) fn spawn(c: Arc<Collector>) -> tokio::task::JoinHandle<()> {
    let every = Duration::from_secs(c.config().jobs.interval_seconds.max(1));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            run_once(&c).await;
        }
    })
}

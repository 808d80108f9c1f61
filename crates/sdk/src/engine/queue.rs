//! The outbox and its upload: the age, count and byte caps, and one upload
//! pass in batches of one purpose each, with backoff after a failure.

use std::sync::atomic::Ordering;

use candor_protocol::batch;

use crate::errors::ErrorKind;
use crate::outbox::Queued;
use crate::upload::{ReportResult, UploadResponse, UploadSummary};

use super::{Inner, lock, offset_day};

impl Inner {
    /// Drops queued reports beyond the age, count and byte caps, oldest
    /// first, and returns what remains.
    pub(super) fn enforce_outbox_limits(&self) -> Vec<Queued> {
        let Ok(list) = self.outbox.list() else {
            self.errors.add(ErrorKind::Storage, 1);
            return Vec::new();
        };
        let today = self.clock.today();
        let oldest_kept = offset_day(today, -i64::from(self.limits.max_age_days));
        let oldest_accepted = offset_day(today, -i64::from(self.report_window_days));
        let mut count = list.len();
        let mut bytes: u64 = list.iter().map(|(_, b)| b).sum();
        let mut kept = Vec::with_capacity(list.len());
        for (q, size) in list {
            let over = count > self.limits.max_reports || bytes > self.limits.max_bytes;
            let too_late = q.day < oldest_accepted;
            if q.day < oldest_kept || over || too_late {
                if self.outbox.remove(&q.purpose, q.day).is_ok() {
                    self.errors.add(
                        if too_late {
                            ErrorKind::TooLate
                        } else {
                            ErrorKind::OutboxDropped
                        },
                        1,
                    );
                }
                count -= 1;
                bytes -= size;
            } else {
                kept.push(q);
            }
        }
        kept
    }

    /// Forgets the upload backoff, so the next pass tries at once.
    pub(crate) fn retry_now(&self) {
        let mut state = lock(&self.state);
        if state.backoff != Default::default() {
            state.backoff = Default::default();
            self.persist(&mut state);
        }
    }

    /// Sends the queued reports of open purposes, if an uploader is set and
    /// no backoff is pending; a failure schedules the next attempt.
    pub(crate) fn upload_pending(&self) -> UploadSummary {
        // A new key list first (outside the upload lock): with it, the days
        // that ended while the device had none are sealed now and go out
        // in this pass.
        if self.refresh_key_list() {
            self.flush(false);
        }
        let _one_pass_at_a_time = lock(&self.upload);
        let now = self.clock.now();
        let mut summary = UploadSummary::default();
        let next_attempt = lock(&self.state).backoff.next_attempt;
        let queued = self.enforce_outbox_limits();
        summary.remaining = queued.len();
        let Some(uploader) = self.uploader.clone() else {
            return summary;
        };
        if now < next_attempt {
            summary.retry_at = Some(next_attempt);
            return summary;
        }
        let mut pending: Vec<Queued> = Vec::new();
        for q in queued {
            if self.outbox.is_sent(&q.purpose, q.day) {
                // Accepted before a crash that left the queued copy behind.
                let _ = self.outbox.remove(&q.purpose, q.day);
            } else {
                pending.push(q);
            }
        }
        // Batches hold one purpose each, so a revocation stops the very next request.
        pending.sort_by(|a, b| (&a.purpose, a.day).cmp(&(&b.purpose, b.day)));
        let mut failed = None;
        let mut rest = pending.as_slice();
        while !rest.is_empty() {
            let same = rest
                .iter()
                .take_while(|q| q.purpose == rest[0].purpose)
                .count();
            let n = same.min(self.batch_size);
            let (chunk, tail) = rest.split_at(n);
            rest = tail;
            let Ok(i) = self.gate_index(&chunk[0].purpose) else {
                continue;
            };
            if !self.gates[i].open.load(Ordering::Acquire) {
                continue;
            }
            let envelopes: Vec<Vec<u8>> = chunk
                .iter()
                .filter_map(|q| hex::decode(&q.envelope).ok())
                .collect();
            if envelopes.len() != chunk.len() {
                self.errors.add(ErrorKind::Storage, 1);
                continue;
            }
            let body = if envelopes.len() == 1 {
                envelopes[0].clone()
            } else {
                match batch::encode(&envelopes) {
                    Ok(b) => b,
                    Err(_) => {
                        self.errors.add(ErrorKind::SealFailed, 1);
                        continue;
                    }
                }
            };
            summary.requests += 1;
            match uploader.upload(&self.region, &body) {
                UploadResponse::Results(results) if results.len() == chunk.len() => {
                    let now = self.clock.now();
                    for (q, r) in chunk.iter().zip(results) {
                        let done = match r {
                            ReportResult::Accepted
                            | ReportResult::Duplicate
                            | ReportResult::Queued => {
                                summary.accepted += 1;
                                self.outbox.mark_sent(q, now)
                            }
                            ReportResult::Rejected { .. } => {
                                summary.rejected += 1;
                                self.errors.add(ErrorKind::UploadRejected, 1);
                                self.outbox.remove(&q.purpose, q.day)
                            }
                        };
                        if done.is_err() {
                            self.errors.add(ErrorKind::Storage, 1);
                        }
                    }
                }
                UploadResponse::Results(_) => {
                    failed = Some(None);
                    break;
                }
                UploadResponse::RetryLater { retry_after } => {
                    failed = Some(retry_after.map(|d| d.as_secs() as i64));
                    break;
                }
                UploadResponse::Rejected { .. } => {
                    for q in chunk {
                        summary.rejected += 1;
                        self.errors.add(ErrorKind::UploadRejected, 1);
                        let _ = self.outbox.remove(&q.purpose, q.day);
                    }
                }
            }
        }
        // What is left, counted from the disk: revocations during the pass
        // may have removed more than this pass did.
        summary.remaining = self.outbox.count().unwrap_or(summary.remaining);
        let mut state = lock(&self.state);
        let before = state.backoff;
        match failed {
            None => state.backoff = Default::default(),
            Some(retry_after) => {
                let failures = state.backoff.failures.saturating_add(1);
                let delay = match retry_after {
                    Some(s) => s.clamp(1, self.backoff.max_seconds),
                    None => {
                        // "Equal jitter": half fixed, half random, so a fleet
                        // that failed together does not retry together.
                        let d = self.backoff.delay(failures);
                        let mut rng = lock(&self.rng);
                        d / 2
                            + candor_privacy::uniform_below((d - d / 2 + 1) as u64, &mut *rng)
                                as i64
                    }
                };
                state.backoff.failures = failures;
                state.backoff.next_attempt = self.clock.now().saturating_add(delay);
                summary.retry_at = Some(state.backoff.next_attempt);
            }
        }
        if state.backoff != before {
            self.persist(&mut state);
        }
        summary
    }
}

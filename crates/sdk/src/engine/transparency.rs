//! What the user can see and delete: the queued and sent reports, deleting
//! everything collected, and the error counters.

use std::collections::BTreeMap;

use candor_protocol::MetricValue;

use crate::errors::ErrorKind;
use crate::store::State;

use super::{Inner, lock, offset_day};

impl Inner {
    /// The plaintext of every queued report.
    pub(crate) fn pending_reports(&self) -> Vec<String> {
        self.outbox
            .list()
            .map(|l| l.into_iter().map(|(q, _)| q.plaintext).collect())
            .unwrap_or_default()
    }

    /// The plaintext of the reports sent in the last `days` days.
    pub(crate) fn sent_reports(&self, days: u32) -> Vec<String> {
        let since = offset_day(self.clock.today(), -i64::from(days));
        self.outbox
            .sent_since(since)
            .map(|l| l.into_iter().map(|s| s.plaintext).collect())
            .unwrap_or_default()
    }

    /// Today's value of metric `id` so far, before clamping and local DP,
    /// or `None` when nothing was recorded for it today (or it is not in
    /// the schema). Never leaves the device.
    pub(crate) fn today_value(&self, id: &str) -> Option<MetricValue> {
        let slot = self.slots.get(id)?;
        let purpose = &self.gates[slot.purpose].id;
        let mut state = lock(&self.state);
        // The cells join the day's aggregates first (persisted by the next
        // flush, as after any harvest).
        self.harvest(&mut state);
        let today = self.clock.today();
        let entry = state
            .days
            .iter()
            .find(|e| e.day == today && e.purpose == *purpose)?;
        entry.metrics.get(id)?.clone().into_value(&slot.metric)
    }

    /// Deletes all collected data and resets the error counters; consent
    /// receipts are kept.
    pub(crate) fn delete_all_data(&self) {
        for slot in self.slots.values() {
            let _ = slot.take();
        }
        let mut state = lock(&self.state);
        *state = State::default();
        if self.outbox.clear().is_err() {
            self.errors.add(ErrorKind::Storage, 1);
        }
        for slot in self.slots.values() {
            slot.errors.reset();
        }
        self.errors.reset();
        lock(&self.unknown_metrics).clear();
        lock(&self.url_drops).clear();
        lock(&self.key_refusals).clear();
        self.persist(&mut state);
    }

    /// The persisted error counters: metric id (`*` for the SDK, `*keys` for
    /// refused key lists) → code → count.
    pub(super) fn error_snapshot(&self) -> BTreeMap<String, BTreeMap<String, u64>> {
        let mut out: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        let mut put = |id: &str, kind: ErrorKind, n: u64| {
            if n > 0 {
                out.entry(id.to_owned())
                    .or_default()
                    .insert(kind.code().to_owned(), n);
            }
        };
        for (id, slot) in &self.slots {
            for kind in ErrorKind::ALL {
                put(id, kind, slot.errors.get(kind));
            }
        }
        for kind in ErrorKind::ALL {
            put("*", kind, self.errors.get(kind));
        }
        let refusals = self.key_refusal_counts();
        if !refusals.is_empty() {
            out.insert(super::key_list::REFUSALS.to_owned(), refusals);
        }
        out
    }

    /// All error counters, with unknown metric ids, dropped URLs (`*url`)
    /// and refused key lists (`*keys`).
    pub(crate) fn error_counts(&self) -> BTreeMap<String, BTreeMap<String, u64>> {
        let mut out = self.error_snapshot();
        for (id, n) in lock(&self.unknown_metrics).iter() {
            out.entry(id.clone())
                .or_default()
                .insert(ErrorKind::UnknownMetric.code().to_owned(), *n);
        }
        for (code, n) in lock(&self.url_drops).iter() {
            out.entry("*url".to_owned())
                .or_default()
                .insert((*code).to_owned(), *n);
        }
        out
    }
}

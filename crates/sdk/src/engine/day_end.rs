//! The end of a day: cells harvested into the day's aggregates, the state
//! persisted, and each finished (purpose, day) built into a report, checked
//! against the collector's value rules, sealed and queued — sealed only to
//! a key of a valid signed key list: without one, finished days stay
//! aggregates until one arrives.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use candor_protocol::{Day, KeyConfig, Report, ReportId, seal};

use crate::errors::ErrorKind;
use crate::files::write_atomic;
use crate::outbox::Queued;
use crate::report;
use crate::store::{DayEntry, LdpMemo, State};
use candor_time::{SECONDS_PER_DAY, day_number_of_unix};

use super::gates::Gate;
use super::{Inner, lock, offset_day};

/// What building one day's report came to.
enum Sealed {
    /// Report id, plaintext JSON and envelope.
    Done((ReportId, Vec<u8>, Vec<u8>)),
    /// Nothing to report (or nothing that could ever be sealed).
    Nothing,
    /// A transient failure: keep the data and try again later.
    Retry,
}

impl Inner {
    /// Takes every cell into the aggregates of the day being recorded, then
    /// starts the clock's current day. Values of purposes whose gate is
    /// closed (revoked while a call was in flight) are discarded here, so
    /// they never reach the disk.
    pub(super) fn harvest(&self, state: &mut State) {
        // Saturating: a host clock at an absurd time (the bindings' tests
        // set i64::MIN) must not panic here, least of all in Drop.
        let day = Day::from_unix_seconds_or_epoch(
            self.current_day
                .load(Ordering::Relaxed)
                .saturating_mul(SECONDS_PER_DAY),
        );
        for slot in self.slots.values() {
            if let Some(acc) = slot.take() {
                let gate = &self.gates[slot.purpose];
                if !gate.open.load(Ordering::Acquire) {
                    continue;
                }
                let dropped = state.add(&gate.id, day, &slot.metric, acc);
                if dropped > 0 {
                    slot.errors.add(ErrorKind::Overflow, dropped as u64);
                }
            }
        }
        self.current_day
            .store(day_number_of_unix(self.clock.now()), Ordering::Relaxed);
    }

    /// Writes the aggregates and error counters to `state.json`.
    pub(super) fn persist(&self, state: &mut State) {
        state.errors = self.error_snapshot();
        let result = serde_json::to_vec(&*state)
            .map_err(std::io::Error::other)
            .and_then(|bytes| write_atomic(&self.dir.join("state.json"), &bytes));
        if result.is_err() {
            self.errors.add(ErrorKind::Storage, 1);
        }
    }

    /// Persists the aggregates and builds the reports of finished days
    /// (`through_today` also ends today).
    pub(crate) fn flush(&self, through_today: bool) {
        let mut state = lock(&self.state);
        self.harvest(&mut state);
        let today = self.clock.today();
        let (ready, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut state.days)
            .into_iter()
            .partition(|e| e.day < today || (through_today && e.day == today));
        state.days = keep;
        let key = self.sealing_key();
        let oldest_accepted = offset_day(today, -i64::from(self.report_window_days));
        for entry in ready {
            if entry.day < oldest_accepted {
                // The collector no longer accepts reports of that day (its
                // window has passed): sending it would only be refused.
                report::remember(&self.schema, &entry, &mut state.ldp);
                self.errors.add(ErrorKind::TooLate, 1);
                continue;
            }
            if let Err(entry) = self.seal_day(entry, today, &mut state.ldp, key.as_ref()) {
                // No valid key list, or sealing or writing failed: keep the
                // data for the next try.
                let (purpose, day) = (entry.purpose.clone(), entry.day);
                let back = state.entry(&purpose, day);
                for (id, acc) in entry.metrics {
                    back.add(&id, acc);
                }
            }
        }
        self.enforce_outbox_limits();
        let cutoff = offset_day(today, -i64::from(self.sent_retention_days));
        if self.outbox.prune_sent(cutoff).is_err() {
            self.errors.add(ErrorKind::Storage, 1);
        }
        self.persist(&mut state);
    }

    /// Builds, seals to `key` and queues one (purpose, day) report. Returns
    /// the entry back if it should be retried later (always when there is
    /// no key: the device has no valid signed key list).
    fn seal_day(
        &self,
        entry: DayEntry,
        today: Day,
        memory: &mut BTreeMap<String, LdpMemo>,
        key: Option<&KeyConfig>,
    ) -> Result<(), DayEntry> {
        let Some(gate) = self.gates.iter().find(|g| g.id == entry.purpose) else {
            return Ok(());
        };
        if !gate.open.load(Ordering::Acquire) {
            return Ok(());
        }
        if self.outbox.already_built(&entry.purpose, entry.day) {
            // One report per (purpose, day): late data for a day already
            // reported is dropped, never sent under a second report id.
            self.errors.add(ErrorKind::DayAlreadyReported, 1);
            return Ok(());
        }
        let Some(key) = key else {
            return Err(entry);
        };
        let (report_id, plaintext, envelope) =
            match self.build_and_seal(gate, &entry, today, memory, key) {
                Sealed::Done(parts) => parts,
                Sealed::Nothing => return Ok(()),
                Sealed::Retry => return Err(entry),
            };
        let (purpose, day) = (entry.purpose.clone(), entry.day);
        let queued = Queued {
            purpose,
            day,
            report_id: report_id.to_hex(),
            created: self.clock.now(),
            plaintext: String::from_utf8_lossy(&plaintext).into_owned(),
            envelope: hex::encode(envelope),
        };
        if self.outbox.push(&queued).is_err() {
            self.errors.add(ErrorKind::Storage, 1);
            return Err(entry);
        }
        Ok(())
    }

    /// Builds and seals to `key` the report of one (purpose, day), without
    /// storing it.
    fn build_and_seal(
        &self,
        gate: &Gate,
        entry: &DayEntry,
        today: Day,
        memory: &mut BTreeMap<String, LdpMemo>,
        key: &KeyConfig,
    ) -> Sealed {
        let Ok(report_id) = ReportId::random() else {
            self.errors.add(ErrorKind::SealFailed, 1);
            return Sealed::Retry;
        };
        let header = Report::new(
            report_id,
            self.schema.id.clone(),
            self.schema.version,
            entry.purpose.clone(),
            gate.consent_version,
            self.region.clone(),
            entry.day,
        );
        let report = {
            let mut rng = lock(&self.rng);
            report::build(
                &self.schema,
                &self.dimensions,
                header,
                entry.metrics.clone(),
                today,
                memory,
                &mut *rng,
            )
        };
        let Some(report) = report else {
            return Sealed::Nothing;
        };
        // The collector's value rules, through the same code: a report it
        // would refuse is never sealed (and so never retried forever).
        if candor_values::check_report(&self.schema, &report).is_err() {
            self.errors.add(ErrorKind::SealFailed, 1);
            return Sealed::Nothing;
        }
        match report
            .to_json()
            .and_then(|plain| Ok((plain, seal(&report, key)?)))
        {
            Ok((plaintext, envelope)) => Sealed::Done((report_id, plaintext, envelope)),
            Err(_) => {
                // Too large or unsealable: retrying cannot help.
                self.errors.add(ErrorKind::SealFailed, 1);
                Sealed::Nothing
            }
        }
    }

    /// Builds and seals today's report of `purpose` from the persisted
    /// aggregates, storing nothing: the cost of the day-end step without its
    /// file I/O (benchmarks).
    pub(crate) fn test_build_and_seal(&self, purpose: &str) -> Option<Vec<u8>> {
        let today = self.clock.today();
        let (entry, mut memory) = {
            let state = lock(&self.state);
            let entry = state
                .days
                .iter()
                .find(|e| e.purpose == purpose && e.day == today)?
                .clone();
            (entry, state.ldp.clone())
        };
        let gate = self.gates.iter().find(|g| g.id == purpose)?;
        let key = self.sealing_key()?;
        match self.build_and_seal(gate, &entry, today, &mut memory, &key) {
            Sealed::Done((_, _, envelope)) => Some(envelope),
            _ => None,
        }
    }
}

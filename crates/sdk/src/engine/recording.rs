//! The recording hot path: the consent check every recording makes, the day
//! roll-over it may trigger, and the counters of calls that record nothing.
//! None of it waits on a lock.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::errors::ErrorKind;
use crate::metrics::Slot;
use crate::sanitize::Rejection;
use candor_time::day_number_of_unix;

use super::{Inner, MAX_UNKNOWN_IDS, lock};

impl Inner {
    /// The recording slot of metric `id`.
    pub(crate) fn slot(&self, id: &str) -> Option<&Arc<Slot>> {
        self.slots.get(id)
    }

    /// Whether a recording for the purpose at `purpose` may happen now.
    #[inline]
    pub(crate) fn may_record(&self, purpose: usize, private_call: bool) -> bool {
        let gate = &self.gates[purpose];
        gate.open.load(Ordering::Acquire)
            && (gate.private_ok || !(private_call || self.private_mode.load(Ordering::Relaxed)))
    }

    /// Moves the cells into the finished day's aggregates when the day changed.
    #[inline]
    pub(crate) fn roll_day(&self) {
        let today = day_number_of_unix(self.clock.now());
        if self.current_day.load(Ordering::Relaxed) != today {
            // Never wait on a flush's I/O here: if the state is busy, the
            // flush itself rolls the day over.
            if let Ok(mut state) = self.state.try_lock() {
                self.harvest(&mut state);
            }
        }
    }

    /// Counts a recording for a metric the schema does not declare.
    pub(crate) fn unknown_metric(&self, id: &str) {
        let mut map = lock(&self.unknown_metrics);
        if map.len() < MAX_UNKNOWN_IDS || map.contains_key(id) {
            *map.entry(id.to_owned()).or_default() += 1;
        }
        drop(map);
        self.errors.add(ErrorKind::UnknownMetric, 1);
    }

    /// Counts a URL that was dropped, by reason.
    pub(crate) fn url_dropped(&self, rejection: Rejection) {
        *lock(&self.url_drops).entry(rejection.code()).or_default() += 1;
    }
}

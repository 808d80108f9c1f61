//! Time, injected so that tests and the fleet simulator can run days in
//! seconds.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use candor_protocol::Day;

/// A source of the current time in Unix seconds (UTC).
pub trait Clock: Send + Sync + 'static {
    /// Seconds since 1970-01-01T00:00:00Z.
    fn now(&self) -> i64;

    /// The current UTC day.
    fn today(&self) -> Day {
        day_of(self.now())
    }
}

/// The UTC day of a Unix time, saturating at the representable range.
pub(crate) fn day_of(seconds: i64) -> Day {
    Day::from_unix_seconds(seconds)
        .or_else(|| Day::from_unix_seconds(0))
        .expect("1970-01-01 is representable")
}

/// Days since 1970-01-01 of a Unix time; cheap, for the recording hot path.
pub(crate) fn day_number(seconds: i64) -> i64 {
    seconds.div_euclid(86_400)
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_secs() as i64,
            Err(e) => -(e.duration().as_secs() as i64),
        }
    }
}

/// A clock that only moves when told to; clones share the same time.
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock showing `now` (Unix seconds).
    pub fn new(now: i64) -> Self {
        ManualClock(Arc::new(AtomicI64::new(now)))
    }

    /// Sets the time.
    pub fn set(&self, now: i64) {
        self.0.store(now, Ordering::SeqCst);
    }

    /// Moves the time forward by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

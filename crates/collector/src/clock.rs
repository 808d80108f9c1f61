//! The server's clock, injected so tests can move the day window.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use candor_protocol::Day;

/// Unix time in seconds.
pub trait Clock: Send + Sync + 'static {
    /// Seconds since 1970-01-01T00:00:00Z.
    fn now(&self) -> i64;
}

/// The wall-clock time of the audit log. The audit log records when people
/// did things, so it always reads the operating system's clock, even when
/// the data's clock is simulated (tests, `candor demo`).
pub fn audit_now() -> i64 {
    SystemClock.now()
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

/// A clock that moves only when told to; clones share the time.
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock at `now`.
    pub fn new(now: i64) -> Self {
        ManualClock(Arc::new(AtomicI64::new(now)))
    }

    /// Sets the time.
    pub fn set(&self, now: i64) {
        self.0.store(now, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The clock's current UTC day.
pub fn today(clock: &dyn Clock) -> Day {
    Day::from_unix_seconds(clock.now())
        .or_else(|| Day::from_unix_seconds(0))
        .expect("1970-01-01 is representable")
}

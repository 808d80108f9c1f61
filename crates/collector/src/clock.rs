//! The server's clock, injected so tests can move the day window
//! (`candor-time`'s [`Clock`], with [`ManualClock`] for tests), and the
//! audit log's wall clock.

pub use candor_time::{Clock, ManualClock, SystemClock};

/// The wall-clock time of the audit log. The audit log records when people
/// did things, so it always reads the operating system's clock, even when
/// the data's clock is simulated (tests, `candor demo`).
pub fn audit_now() -> i64 {
    SystemClock.now()
}

//! Time, injected so that tests, `candor demo` and the fleet simulator can
//! run days in seconds.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::Day;

/// A source of the current time in Unix seconds (UTC).
pub trait Clock: Send + Sync + 'static {
    /// Seconds since 1970-01-01T00:00:00Z.
    fn now(&self) -> i64;

    /// The current UTC day (1970-01-01 if the clock is outside the
    /// representable years).
    fn today(&self) -> Day {
        Day::from_unix_seconds_or_epoch(self.now())
    }
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

    /// Moves the time forward by `seconds` (back when negative).
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SECONDS_PER_DAY;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_clones_share_it() {
        let clock = ManualClock::new(Day::EPOCH.noon());
        let twin = clock.clone();
        assert_eq!(clock.now(), 43_200);
        assert_eq!(clock.today(), Day::EPOCH);
        clock.advance(SECONDS_PER_DAY);
        assert_eq!(twin.now(), 43_200 + SECONDS_PER_DAY);
        assert_eq!(twin.today(), Day::EPOCH.next().expect("a day"));
        twin.set(-1);
        assert_eq!(clock.now(), -1);
        assert_eq!(clock.today().to_string(), "1969-12-31");
        clock.set(i64::MAX);
        assert_eq!(twin.today(), Day::EPOCH);
        assert_eq!(ManualClock::default().now(), 0);
    }

    #[test]
    fn the_system_clock_is_after_2020() {
        let now = SystemClock.now();
        assert!(now > 1_577_836_800, "{now}");
        assert!(SystemClock.today() > Day::from_ymd(2020, 1, 1).expect("a day"));
        let dyn_clock: &dyn Clock = &SystemClock;
        assert!(dyn_clock.now() >= now);
    }
}

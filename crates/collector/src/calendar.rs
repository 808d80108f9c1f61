//! The collector's days: today on its clock, the window of days it accepts,
//! and the last closed day a release may read. Ingest, the analyst service
//! and the jobs all ask this one place.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::IngestConfig;
use crate::validate::{DayWindow, Registry};

/// The clock with the configured day window around it.
#[derive(Clone)]
pub struct Calendar {
    clock: Arc<dyn Clock>,
    past_override: Option<u32>,
    future: u32,
}

impl Calendar {
    /// The calendar of `clock` with the `[ingest]` day-window settings.
    pub fn new(clock: Arc<dyn Clock>, ingest: &IngestConfig) -> Self {
        Calendar {
            clock,
            past_override: ingest.day_window_past,
            future: ingest.day_window_future,
        }
    }

    /// The clock's time, Unix seconds.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The accepted day window as of now, and today's date.
    pub fn window(&self) -> (DayWindow, time::Date) {
        let today = self.clock.today();
        (
            DayWindow {
                today: today.number(),
                past_override: self.past_override,
                future: self.future,
            },
            today.date(),
        )
    }

    /// The last closed day of `region` now: the last day a release may
    /// read (the earliest over the served schemas that declare the region;
    /// yesterday's predecessor when none does).
    pub fn last_closed_day(&self, registry: &Registry, region: &str) -> i32 {
        let (window, _) = self.window();
        registry
            .all()
            .filter_map(|s| s.region(region))
            .map(|r| window.last_closed(r))
            .min()
            .unwrap_or(window.today - 1)
    }
}

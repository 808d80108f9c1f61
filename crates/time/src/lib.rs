//! Candor's days and clocks, in one place every side may depend on.
//!
//! The SDK records per UTC day and reads its clock to roll the day over; the
//! collector accepts a window of days around its clock and releases by day
//! number; the fleet simulator and the command line move a manual clock from
//! noon to noon. They all need the same few basics, so they live here once:
//!
//! - [`Day`]: a UTC calendar day, written `"YYYY-MM-DD"` on the wire (the
//!   report's `day` field; `candor-protocol` re-exports it);
//! - [`DayNumber`]: days since 1970-01-01, the key of the store's rows
//!   (`candor-store` re-exports it), with [`Day::number`],
//!   [`Day::from_number`], [`day_number_of_unix`], [`format_day`] and
//!   [`parse_day`] between the two;
//! - [`IsoWeek`] and [`Month`]: the periods active devices are counted
//!   over (ISO 8601 weeks, written `YYYY-Www`, and calendar months);
//! - [`Clock`]: the injected source of Unix time, with [`SystemClock`] for
//!   production and [`ManualClock`] for tests, `candor demo` and the
//!   simulator.
//!
//! This crate depends on nothing of ours (only `time` and `serde`), so the
//! SDK, the collector, the store, the simulator and the CLI may all use it
//! without pulling in each other.
#![deny(missing_docs)]

mod calendar;
mod clock;
mod day;

pub use calendar::{IsoWeek, Month};
pub use clock::{Clock, ManualClock, SystemClock};
pub use day::{Day, DayNumber, SECONDS_PER_DAY, day_number_of_unix, format_day, parse_day};

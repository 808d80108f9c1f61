//! The on-device memory of an `activity` metric, and the flags derived from
//! it (docs/wire.md §2.5).
//!
//! The device keeps, per activity metric, only its last active day and its
//! install week ([`ActivityMemo`], in `state.json`). From them and the day
//! being harvested it derives what a report says of that day: active today,
//! first active day of the ISO week, of the calendar month, since install,
//! and the install cohort (folded into `older` beyond the metric's
//! `cohort_weeks`). The memory never leaves the device; revoking the
//! purpose, the global opt-out, the child profile and "delete all data"
//! delete it, after which the device counts as a new install (a new cohort).
//!
//! A device adds at most one "first in week" per ISO week and one "first in
//! month" per month, whatever its clock does: a day is a first only when it
//! is in a later week (month) than the last active day, so a clock that
//! jumps back never counts a period twice, and a day before the install
//! week (a clock far in the past) sends no activity at all.

use candor_protocol::{Activity, Cohort, Day};
use candor_time::{IsoWeek, Month};
use serde::{Deserialize, Serialize};

/// What the device remembers of one activity metric. Never sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ActivityMemo {
    /// The latest day the device was active (the maximum, so a clock that
    /// went back does not move it back).
    #[serde(default)]
    pub(crate) last_day: Option<Day>,
    /// The ISO week of the first active day recorded (the install week).
    #[serde(default)]
    pub(crate) install_week: Option<IsoWeek>,
}

impl ActivityMemo {
    /// Records that the device was active on `day` and returns that day's
    /// flags, for a metric keeping `cohort_weeks` cohorts apart; `None` for a
    /// day before the install week (the clock is wrong, and an install
    /// cohort after the report's day is impossible).
    ///
    /// Called again for the same day (each harvest of the day), it returns
    /// no first flags; [`merge`] keeps those of the first call.
    pub(crate) fn record(&mut self, day: Day, cohort_weeks: u8) -> Option<Activity> {
        let week = IsoWeek::of(day);
        let install = *self.install_week.get_or_insert(week);
        let age = week.weeks_since(install);
        if age < 0 {
            return None;
        }
        let first_day = self.last_day.is_none();
        let (first_in_week, first_in_month) = match self.last_day {
            None => (true, true),
            Some(last) => (week > IsoWeek::of(last), Month::of(day) > Month::of(last)),
        };
        self.last_day = Some(self.last_day.map_or(day, |last| last.max(day)));
        let cohort = if age <= i32::from(cohort_weeks) {
            Cohort::Week(install)
        } else {
            Cohort::Older
        };
        Some(Activity {
            today: true,
            first_in_week,
            first_in_month,
            first_day,
            cohort,
        })
    }
}

/// Merges a later harvest of the same day into `day`: a flag set once that
/// day stays set, and the cohort of the first harvest stays (it was derived
/// for the same day, so it only differs if the memory was deleted in
/// between, and then the first value is the one already counted).
pub(crate) fn merge(day: &mut Activity, later: Activity) {
    day.first_in_week |= later.first_in_week;
    day.first_in_month |= later.first_in_month;
    day.first_day |= later.first_day;
    if later.first_day {
        day.cohort = later.cohort;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(y: i32, m: u8, d: u8) -> Day {
        Day::from_ymd(y, m, d).expect("a day")
    }

    fn flags(a: Option<Activity>) -> (bool, bool, bool) {
        let a = a.expect("an activity");
        (a.first_in_week, a.first_in_month, a.first_day)
    }

    #[test]
    fn the_first_day_is_first_in_everything_and_opens_a_cohort() {
        let mut m = ActivityMemo::default();
        // Wednesday 2026-12-09: consent granted mid-week, first use recorded.
        let a = m.record(day(2026, 12, 9), 4).expect("active");
        assert_eq!(
            (a.first_in_week, a.first_in_month, a.first_day),
            (true, true, true)
        );
        assert_eq!(a.cohort.to_string(), "2026-W50");
        // The same day again (a second harvest): nothing new.
        assert_eq!(flags(m.record(day(2026, 12, 9), 4)), (false, false, false));
        // Later that week; then Monday of the next week.
        assert_eq!(flags(m.record(day(2026, 12, 13), 4)), (false, false, false));
        let next = m.record(day(2026, 12, 14), 4).expect("active");
        assert_eq!((next.first_in_week, next.first_in_month), (true, false));
        assert_eq!(next.cohort.to_string(), "2026-W50");
    }

    #[test]
    fn a_month_can_start_inside_a_counted_week() {
        let mut m = ActivityMemo::default();
        m.record(day(2026, 12, 28), 4); // Monday of 2026-W53
        // 2027-01-01 is Friday of the same ISO week: first of the month only.
        assert_eq!(flags(m.record(day(2027, 1, 1), 4)), (false, true, false));
        // 2027-01-04 is Monday of 2027-W01: first of the week only.
        assert_eq!(flags(m.record(day(2027, 1, 4), 4)), (true, false, false));
    }

    #[test]
    fn a_clock_that_jumps_back_counts_no_period_twice() {
        let mut m = ActivityMemo::default();
        m.record(day(2026, 12, 9), 4);
        m.record(day(2026, 12, 16), 4);
        // Back a week, into a week already counted: active, nothing first.
        assert_eq!(flags(m.record(day(2026, 12, 10), 4)), (false, false, false));
        // Forward again to the week already counted: still nothing first.
        assert_eq!(flags(m.record(day(2026, 12, 17), 4)), (false, false, false));
        // Before the install week: no activity at all.
        assert_eq!(m.record(day(2026, 11, 30), 4), None);
        assert_eq!(m.last_day, Some(day(2026, 12, 17)));
    }

    #[test]
    fn a_device_unused_for_months_comes_back_in_the_older_cohort() {
        let mut m = ActivityMemo::default();
        m.record(day(2026, 1, 5), 4);
        let back = m.record(day(2026, 6, 3), 4).expect("active");
        assert_eq!(
            (back.first_in_week, back.first_in_month, back.first_day),
            (true, true, false)
        );
        assert_eq!(back.cohort, Cohort::Older);
        // Exactly cohort_weeks after the install week is still a cohort.
        let mut m = ActivityMemo::default();
        m.record(day(2026, 1, 5), 4);
        let edge = m.record(day(2026, 2, 2), 4).expect("active");
        assert_eq!(edge.cohort.to_string(), "2026-W02");
    }

    #[test]
    fn a_reinstall_is_a_new_device_in_a_new_cohort() {
        let mut m = ActivityMemo::default();
        m.record(day(2026, 12, 9), 4);
        // Deleting all data (or reinstalling) forgets the memory.
        m = ActivityMemo::default();
        let again = m.record(day(2026, 12, 23), 4).expect("active");
        assert!(again.first_day && again.first_in_week && again.first_in_month);
        assert_eq!(again.cohort.to_string(), "2026-W52");
    }

    #[test]
    fn merging_keeps_the_first_flags_of_the_day() {
        let mut m = ActivityMemo::default();
        let mut a = m.record(day(2026, 12, 9), 4).expect("active");
        merge(&mut a, m.record(day(2026, 12, 9), 4).expect("active"));
        assert!(a.first_day && a.first_in_week && a.first_in_month);
    }

    /// The example schema's kind of activity metric, as the collector
    /// keys its cells.
    fn metric() -> candor_schema::Metric {
        candor_schema::Metric {
            id: "app.active".into(),
            kind: candor_schema::MetricKind::Activity { cohort_weeks: 4 },
            purpose: "usage".into(),
            description: "Use.".into(),
            owner: "o@example.org".into(),
            expires: None,
            max_per_report: 1,
            dimensions: Vec::new(),
            release: candor_schema::Release::CentralDp {
                epsilon: 0.2,
                delta: None,
            },
        }
    }

    proptest! {
        /// A device active on any days of an ISO week (all seven included),
        /// after any earlier history, adds exactly one to that week's
        /// weekly total (`week` summed over the week's days, as a weekly
        /// release reads it) and exactly one to its retention cells, and
        /// one to `today` per active day.
        #[test]
        fn a_week_of_use_adds_exactly_one_to_the_weekly_total(
            mask in 1u8..128,
            history in proptest::collection::vec(1i32..200, 0..5),
        ) {
            let metric = metric();
            let monday = day(2026, 12, 7).number();
            let mut m = ActivityMemo::default();
            let mut earlier = history;
            earlier.sort_unstable_by(|a, b| b.cmp(a));
            for back in earlier {
                m.record(Day::from_number(monday - back).expect("a day"), 4);
            }
            let mut totals = std::collections::BTreeMap::<String, u64>::new();
            for i in 0..7 {
                if mask & (1 << i) == 0 {
                    continue;
                }
                let d = Day::from_number(monday + i).expect("a day");
                let a = m.record(d, 4).expect("after the install");
                let value = candor_protocol::MetricValue::Activity(a);
                for (cell, n) in candor_values::cells(&metric, &value, d) {
                    *totals.entry(cell).or_default() += n;
                }
            }
            prop_assert_eq!(totals.get("week").copied(), Some(1));
            let cohorts: u64 = totals
                .iter()
                .filter(|(c, _)| c.starts_with('w') && c.as_str() != "week" || c.as_str() == "older")
                .map(|(_, n)| n)
                .sum();
            prop_assert_eq!(cohorts, 1);
            prop_assert_eq!(totals.get("today").copied(), Some(u64::from(mask.count_ones())));
        }

        /// Whatever the days a device is active on, in any order (a clock
        /// that jumps around), it is "first in week" at most once per ISO
        /// week and "first in month" at most once per month, and exactly
        /// once per week when its days come in order.
        #[test]
        fn at_most_one_first_per_week_and_month(
            days in proptest::collection::vec(0i32..120, 1..60),
            sorted in any::<bool>(),
        ) {
            let mut days = days;
            if sorted {
                days.sort_unstable();
            }
            let base = day(2026, 11, 2).number();
            let mut m = ActivityMemo::default();
            let mut weeks = std::collections::BTreeMap::<IsoWeek, u32>::new();
            let mut months = std::collections::BTreeMap::<Month, u32>::new();
            for n in &days {
                let d = Day::from_number(base + n).expect("a day");
                if let Some(a) = m.record(d, 4) {
                    prop_assert!(a.today);
                    *weeks.entry(IsoWeek::of(d)).or_default() += u32::from(a.first_in_week);
                    *months.entry(Month::of(d)).or_default() += u32::from(a.first_in_month);
                    prop_assert!(!a.first_day || (a.first_in_week && a.first_in_month));
                }
            }
            prop_assert!(weeks.values().all(|&n| n <= 1));
            prop_assert!(months.values().all(|&n| n <= 1));
            if sorted {
                prop_assert!(weeks.values().all(|&n| n == 1));
                prop_assert!(months.values().all(|&n| n == 1));
            }
        }
    }
}

//! The UTC day and its day number.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Days since 1970-01-01 (negative before it): how the store keys its rows
/// and the release engine counts ranges.
pub type DayNumber = i32;

/// Seconds in a UTC day (Unix time has no leap seconds).
pub const SECONDS_PER_DAY: i64 = 86_400;

/// Julian day of 1970-01-01.
const EPOCH_JULIAN: i32 = 2_440_588;

/// A UTC calendar day, the finest time a report may carry.
///
/// Written in JSON as `"YYYY-MM-DD"`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(time::Date);

impl Day {
    /// 1970-01-01, day number 0.
    pub const EPOCH: Day = Day(time::macros::date!(1970 - 01 - 01));

    /// The day with the given year, month (1–12) and day of month, if it exists.
    pub fn from_ymd(year: i32, month: u8, day: u8) -> Option<Self> {
        let month = time::Month::try_from(month).ok()?;
        time::Date::from_calendar_date(year, month, day)
            .ok()
            .map(Day)
    }

    /// The UTC day containing the given Unix time (seconds since 1970-01-01T00:00:00Z).
    pub fn from_unix_seconds(seconds: i64) -> Option<Self> {
        time::OffsetDateTime::from_unix_timestamp(seconds)
            .ok()
            .map(|t| Day(t.date()))
    }

    /// The UTC day containing the given Unix time, or [`Day::EPOCH`] when
    /// the time lies outside the representable years (±9999): a clock that
    /// far off is broken, and a day is still needed.
    pub fn from_unix_seconds_or_epoch(seconds: i64) -> Self {
        Day::from_unix_seconds(seconds).unwrap_or(Day::EPOCH)
    }

    /// The day with the given day number, if representable.
    pub fn from_number(number: DayNumber) -> Option<Self> {
        time::Date::from_julian_day(EPOCH_JULIAN.checked_add(number)?)
            .ok()
            .map(Day)
    }

    /// Days since 1970-01-01 (negative before it).
    pub fn number(&self) -> DayNumber {
        self.0.to_julian_day() - EPOCH_JULIAN
    }

    /// Noon (12:00 UTC) of the day, in Unix seconds.
    pub fn noon(&self) -> i64 {
        i64::from(self.number()) * SECONDS_PER_DAY + SECONDS_PER_DAY / 2
    }

    /// The day `delta` days later (earlier when negative), if representable.
    pub fn add_days(&self, delta: i64) -> Option<Self> {
        let number = i64::from(self.number()).checked_add(delta)?;
        Day::from_number(DayNumber::try_from(number).ok()?)
    }

    /// The day as a `time::Date`.
    pub fn date(&self) -> time::Date {
        self.0
    }

    /// The following day, if representable.
    pub fn next(&self) -> Option<Self> {
        self.0.next_day().map(Day)
    }

    /// Whole days from `earlier` to `self` (negative when `self` is earlier).
    pub fn days_since(&self, earlier: Day) -> i64 {
        (self.0 - earlier.0).whole_days()
    }

    /// Parses `YYYY-MM-DD` (four-digit year, zero-padded month and day).
    pub fn parse(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' || !digits(0..4) || !digits(5..7) {
            return None;
        }
        if !digits(8..10) {
            return None;
        }
        let year = text[0..4].parse().ok()?;
        let month = text[5..7].parse().ok()?;
        let day = text[8..10].parse().ok()?;
        Day::from_ymd(year, month, day)
    }
}

/// The day number of a Unix time: `seconds` divided by [`SECONDS_PER_DAY`],
/// rounded down. Cheap (no calendar), for the SDK's recording hot path;
/// defined for every `i64`, so it is an `i64` rather than a [`DayNumber`].
pub fn day_number_of_unix(seconds: i64) -> i64 {
    seconds.div_euclid(SECONDS_PER_DAY)
}

/// A day number as `YYYY-MM-DD`; a number outside the representable years
/// prints as the earliest day (`-9999-01-01`).
pub fn format_day(day: DayNumber) -> String {
    Day::from_number(day)
        .unwrap_or(Day(time::Date::MIN))
        .to_string()
}

/// `YYYY-MM-DD` as a day number.
pub fn parse_day(text: &str) -> Option<DayNumber> {
    Day::parse(text).map(|d| d.number())
}

impl From<time::Date> for Day {
    fn from(date: time::Date) -> Self {
        Day(date)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}",
            self.0.year(),
            u8::from(self.0.month()),
            self.0.day()
        )
    }
}

impl fmt::Debug for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Day({self})")
    }
}

impl Serialize for Day {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <&str>::deserialize(d)?;
        Day::parse(text).ok_or_else(|| serde::de::Error::custom("day must be a date YYYY-MM-DD"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn first() -> Day {
        Day(time::Date::MIN)
    }

    fn last() -> Day {
        Day(time::Date::MAX)
    }

    #[test]
    fn day_parses_and_prints_canonically() {
        let day = Day::parse("2026-02-28").expect("valid day");
        assert_eq!(day.to_string(), "2026-02-28");
        assert_eq!(
            day.next().map(|d| d.to_string()).as_deref(),
            Some("2026-03-01")
        );
        for bad in [
            "2026-2-28",
            "2026-02-29",
            "26-02-28",
            "2026/02/28",
            "2026-02-28T00",
            "+026-02-28",
        ] {
            assert!(Day::parse(bad).is_none(), "{bad} must not parse");
        }
        assert_eq!(
            Day::from_unix_seconds(0).map(|d| d.to_string()).as_deref(),
            Some("1970-01-01")
        );
    }

    #[test]
    fn the_wire_form_is_a_plain_date_string() {
        let day = Day::from_ymd(2026, 11, 29).expect("a day");
        assert_eq!(serde_json::to_string(&day).unwrap(), r#""2026-11-29""#);
        assert_eq!(serde_json::from_str::<Day>(r#""2026-11-29""#).unwrap(), day);
        let err = serde_json::from_str::<Day>(r#""2026-11-31""#).unwrap_err();
        assert!(err.to_string().contains("day must be a date YYYY-MM-DD"));
        assert!(serde_json::from_str::<Day>("20261129").is_err());
        assert_eq!(format!("{day:?}"), "Day(2026-11-29)");
    }

    #[test]
    fn day_numbers_count_from_the_epoch() {
        assert_eq!(Day::EPOCH.to_string(), "1970-01-01");
        assert_eq!(Day::EPOCH.number(), 0);
        assert_eq!(Day::from_number(0), Some(Day::EPOCH));
        let day = Day::from_ymd(2026, 11, 29).expect("a day");
        assert_eq!(day.number(), 20_786);
        assert_eq!(Day::from_number(20_786), Some(day));
        assert_eq!(format_day(20_786), "2026-11-29");
        assert_eq!(parse_day("2026-11-29"), Some(20_786));
        assert_eq!(parse_day("2026-11-31"), None);
        assert_eq!(day.days_since(Day::EPOCH), i64::from(day.number()));
    }

    #[test]
    fn days_before_the_epoch_are_negative() {
        let eve = Day::from_ymd(1969, 12, 31).expect("a day");
        assert_eq!(eve.number(), -1);
        assert_eq!(Day::from_number(-1), Some(eve));
        assert_eq!(Day::from_unix_seconds(-1), Some(eve));
        assert_eq!(day_number_of_unix(-1), -1);
        assert_eq!(day_number_of_unix(-SECONDS_PER_DAY), -1);
        assert_eq!(day_number_of_unix(-SECONDS_PER_DAY - 1), -2);
        assert_eq!(eve.noon(), -SECONDS_PER_DAY / 2);
        assert_eq!(format_day(-1), "1969-12-31");
        assert_eq!(Day::EPOCH.add_days(-1), Some(eve));
    }

    #[test]
    fn noon_is_twelve_hours_into_the_day() {
        let day = Day::from_ymd(2026, 11, 29).expect("a day");
        let noon = day.noon();
        assert_eq!(noon, 20_786 * SECONDS_PER_DAY + 43_200);
        assert_eq!(Day::from_unix_seconds(noon), Some(day));
        let expected = day
            .date()
            .with_time(time::macros::time!(12:00))
            .assume_utc()
            .unix_timestamp();
        assert_eq!(noon, expected);
        assert_eq!(Day::EPOCH.noon(), 43_200);
    }

    #[test]
    fn the_ends_of_the_range_are_bounds() {
        assert_eq!(Day::from_number(first().number()), Some(first()));
        assert_eq!(Day::from_number(last().number()), Some(last()));
        assert_eq!(Day::from_number(first().number() - 1), None);
        assert_eq!(Day::from_number(last().number() + 1), None);
        assert_eq!(Day::from_number(DayNumber::MAX), None);
        assert_eq!(Day::from_number(DayNumber::MIN), None);
        assert_eq!(last().add_days(1), None);
        assert_eq!(first().add_days(-1), None);
        assert_eq!(Day::EPOCH.add_days(i64::MAX), None);
        assert_eq!(Day::EPOCH.add_days(i64::MIN), None);
        assert_eq!(last().next(), None);
        assert_eq!(format_day(DayNumber::MAX), "-9999-01-01");
        assert_eq!(format_day(DayNumber::MIN), "-9999-01-01");
        assert_eq!(Day::from_unix_seconds(i64::MAX), None);
        assert_eq!(Day::from_unix_seconds_or_epoch(i64::MAX), Day::EPOCH);
        assert_eq!(Day::from_unix_seconds_or_epoch(i64::MIN), Day::EPOCH);
        assert_eq!(day_number_of_unix(i64::MIN), i64::MIN / SECONDS_PER_DAY - 1);
    }

    proptest! {
        #[test]
        fn numbers_and_days_round_trip(n in first().number()..=last().number()) {
            let day = Day::from_number(n).expect("in range");
            prop_assert_eq!(day.number(), n);
            prop_assert_eq!(day.days_since(Day::EPOCH), i64::from(n));
            if day.date().year() >= 0 {
                // Only four-digit years are written on the wire.
                prop_assert_eq!(Day::parse(&day.to_string()), Some(day));
                prop_assert_eq!(parse_day(&format_day(n)), Some(n));
            }
            prop_assert_eq!(day.add_days(1), day.next());
            prop_assert_eq!(Day::from_unix_seconds(day.noon()), Some(day));
        }

        #[test]
        fn unix_seconds_and_day_numbers_agree(
            s in first().noon() - SECONDS_PER_DAY / 2..=last().noon() + SECONDS_PER_DAY / 2 - 1
        ) {
            let day = Day::from_unix_seconds(s).expect("in range");
            prop_assert_eq!(i64::from(day.number()), day_number_of_unix(s));
            prop_assert_eq!(Day::from_unix_seconds_or_epoch(s), day);
        }
    }
}

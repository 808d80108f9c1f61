//! ISO weeks and calendar months of [`Day`]s: the periods active-device
//! counts are taken over (the SDK derives its activity flags from them, the
//! collector checks them and releases over them).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Day, DayNumber};

/// An ISO 8601 week (Monday to Sunday), written `YYYY-Www` (for example
/// `2026-W49`), the year being the ISO week-numbering year.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IsoWeek {
    /// The ISO week-numbering year.
    year: i32,
    /// 1..=52 or 53.
    week: u8,
}

impl IsoWeek {
    /// The ISO week holding `day`.
    pub fn of(day: Day) -> Self {
        let (year, week, _) = day.date().to_iso_week_date();
        IsoWeek { year, week }
    }

    /// The week with this ISO year and week number, if that week exists.
    pub fn new(year: i32, week: u8) -> Option<Self> {
        time::Date::from_iso_week_date(year, week, time::Weekday::Monday)
            .ok()
            .map(|_| IsoWeek { year, week })
    }

    /// Its Monday.
    pub fn monday(&self) -> Day {
        time::Date::from_iso_week_date(self.year, self.week, time::Weekday::Monday)
            .map(Day::from)
            // A value of this type only exists for a week `time` can represent.
            .unwrap_or(Day::EPOCH)
    }

    /// Its seven days as day numbers, Monday first.
    pub fn days(&self) -> std::ops::RangeInclusive<DayNumber> {
        let monday = self.monday().number();
        monday..=monday + 6
    }

    /// A running week number: consecutive weeks have consecutive indices
    /// (week 0 starts on Monday 1969-12-29), so differences count weeks.
    pub fn index(&self) -> i32 {
        (self.monday().number() + 3).div_euclid(7)
    }

    /// The week with running number `index` (see [`IsoWeek::index`]).
    pub fn from_index(index: i32) -> Option<Self> {
        let monday = Day::from_number(index.checked_mul(7)?.checked_sub(3)?)?;
        Some(IsoWeek::of(monday))
    }

    /// Whole weeks from `earlier` to `self` (negative when `self` is earlier).
    pub fn weeks_since(&self, earlier: IsoWeek) -> i32 {
        self.index() - earlier.index()
    }

    /// Parses `YYYY-Www` (four-digit year, two-digit week that exists in
    /// that ISO year).
    pub fn parse(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        if b.len() != 8 || &b[4..6] != b"-W" {
            return None;
        }
        if !b[..4].iter().chain(&b[6..]).all(u8::is_ascii_digit) {
            return None;
        }
        IsoWeek::new(text[..4].parse().ok()?, text[6..].parse().ok()?)
    }
}

impl fmt::Display for IsoWeek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-W{:02}", self.year, self.week)
    }
}

impl fmt::Debug for IsoWeek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IsoWeek({self})")
    }
}

impl Serialize for IsoWeek {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IsoWeek {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'_, str>>::deserialize(d)?;
        IsoWeek::parse(&text)
            .ok_or_else(|| serde::de::Error::custom("expected an ISO week such as 2026-W49"))
    }
}

/// A calendar month, written `YYYY-MM`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    /// 1..=12.
    month: u8,
}

impl Month {
    /// The month holding `day`.
    pub fn of(day: Day) -> Self {
        let date = day.date();
        Month {
            year: date.year(),
            month: u8::from(date.month()),
        }
    }

    /// Its first and last day as day numbers.
    pub fn days(&self) -> std::ops::RangeInclusive<DayNumber> {
        let first = Day::from_ymd(self.year, self.month, 1).unwrap_or(Day::EPOCH);
        let month = time::Month::try_from(self.month).unwrap_or(time::Month::January);
        let len = i32::from(month.length(self.year));
        first.number()..=first.number() + len - 1
    }

    /// Parses `YYYY-MM`.
    pub fn parse(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        if b.len() != 7 || b[4] != b'-' {
            return None;
        }
        if !b[..4].iter().chain(&b[5..]).all(u8::is_ascii_digit) {
            return None;
        }
        let year = text[..4].parse().ok()?;
        let month = text[5..].parse().ok()?;
        Day::from_ymd(year, month, 1).map(Month::of)
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl fmt::Debug for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Month({self})")
    }
}

impl Serialize for Month {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'_, str>>::deserialize(d)?;
        Month::parse(&text)
            .ok_or_else(|| serde::de::Error::custom("expected a month such as 2026-12"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(y: i32, m: u8, d: u8) -> Day {
        Day::from_ymd(y, m, d).expect("a day")
    }

    #[test]
    fn iso_weeks_cross_years_as_iso_8601_says() {
        // 2026-12-31 is a Thursday: week 53 of 2026; 2027-01-03 (Sunday) too.
        assert_eq!(IsoWeek::of(day(2026, 12, 31)).to_string(), "2026-W53");
        assert_eq!(IsoWeek::of(day(2027, 1, 3)).to_string(), "2026-W53");
        assert_eq!(IsoWeek::of(day(2027, 1, 4)).to_string(), "2027-W01");
        // 2024-12-30 (Monday) already belongs to 2025's week 1.
        assert_eq!(IsoWeek::of(day(2024, 12, 30)).to_string(), "2025-W01");
        assert_eq!(
            IsoWeek::parse("2026-W53"),
            Some(IsoWeek::of(day(2026, 12, 28)))
        );
        assert_eq!(IsoWeek::parse("2025-W53"), None, "2025 has 52 weeks");
        assert_eq!(IsoWeek::parse("2026-W00"), None);
        assert_eq!(IsoWeek::parse("2026-w10"), None);
        assert_eq!(IsoWeek::parse("2026-W1"), None);
        let w = IsoWeek::of(day(2026, 12, 9));
        assert_eq!(w.monday(), day(2026, 12, 7));
        assert_eq!(
            w.days(),
            day(2026, 12, 7).number()..=day(2026, 12, 13).number()
        );
        assert_eq!(IsoWeek::of(Day::EPOCH).index(), 0);
        assert_eq!(IsoWeek::of(day(2027, 1, 4)).weeks_since(w), 4);
    }

    #[test]
    fn months_know_their_days() {
        let feb = Month::of(day(2028, 2, 15));
        assert_eq!(feb.to_string(), "2028-02");
        assert_eq!(
            feb.days(),
            day(2028, 2, 1).number()..=day(2028, 2, 29).number()
        );
        assert_eq!(Month::parse("2026-12"), Some(Month::of(day(2026, 12, 31))));
        assert_eq!(Month::parse("2026-13"), None);
        assert_eq!(Month::parse("2026-1"), None);
    }

    proptest! {
        /// Every day lies in its week and month, and weeks are numbered
        /// without gaps, so week arithmetic is day arithmetic over 7.
        #[test]
        fn periods_hold_their_days(n in -100_000i32..100_000) {
            let d = Day::from_number(n).expect("a representable day");
            let w = IsoWeek::of(d);
            prop_assert!(w.days().contains(&n));
            prop_assert_eq!(w.index(), (n + 3).div_euclid(7));
            prop_assert_eq!(IsoWeek::from_index(w.index()), Some(w));
            prop_assert_eq!(IsoWeek::parse(&w.to_string()), Some(w));
            let m = Month::of(d);
            prop_assert!(m.days().contains(&n));
            prop_assert_eq!(Month::parse(&m.to_string()), Some(m));
        }
    }
}

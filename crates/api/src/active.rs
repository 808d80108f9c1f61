//! The queries of an activity metric's releases (docs/api.md, "Active
//! devices and retention"): which cells, which range and which grouping
//! each release asks for. Shared so that every asker (the command line's
//! `--active`, the dashboard's overview and retention pages) sends the same
//! normalized query for the same period, and so meets the same cached
//! answer and the same charge.

use candor_time::{Day, DayNumber, IsoWeek, Month, format_day};

use crate::{DAY, Query};

/// A query of `metric` in `region` over `from..=to` for `cells`, ungrouped.
fn cells_query(
    region: &str,
    metric: &str,
    from: DayNumber,
    to: DayNumber,
    cells: &[String],
) -> Query {
    Query {
        region: region.to_owned(),
        metric: metric.to_owned(),
        schema: None,
        from: format_day(from),
        to: format_day(to),
        group_by: Vec::new(),
        filters: Default::default(),
        cells: cells.to_vec(),
        epsilon: None,
    }
}

impl Query {
    /// Active devices per day from `from` to `to` (cell `today`, by day).
    pub fn active_daily(region: &str, metric: &str, from: DayNumber, to: DayNumber) -> Query {
        let mut q = cells_query(region, metric, from, to, &["today".to_owned()]);
        q.group_by = vec![DAY.to_owned()];
        q
    }

    /// New devices per day from `from` to `to` (cell `new`, by day).
    pub fn new_devices(region: &str, metric: &str, from: DayNumber, to: DayNumber) -> Query {
        let mut q = cells_query(region, metric, from, to, &["new".to_owned()]);
        q.group_by = vec![DAY.to_owned()];
        q
    }

    /// Active devices in one ISO week (cell `week`, over the whole week).
    pub fn active_weekly(region: &str, metric: &str, week: IsoWeek) -> Query {
        let days = week.days();
        cells_query(
            region,
            metric,
            *days.start(),
            *days.end(),
            &["week".to_owned()],
        )
    }

    /// Active devices in one calendar month (cell `month`, over the whole
    /// month).
    pub fn active_monthly(region: &str, metric: &str, month: Month) -> Query {
        let days = month.days();
        cells_query(
            region,
            metric,
            *days.start(),
            *days.end(),
            &["month".to_owned()],
        )
    }

    /// One week's column of the retention table: the devices active in
    /// `week` by install cohort, `w0` (installed that week) to
    /// `w<cohort_weeks>`, then `older`.
    pub fn retention_column(region: &str, metric: &str, week: IsoWeek, cohort_weeks: u8) -> Query {
        let cells: Vec<String> = (0..=cohort_weeks)
            .map(|k| format!("w{k}"))
            .chain(["older".to_owned()])
            .collect();
        let days = week.days();
        cells_query(region, metric, *days.start(), *days.end(), &cells)
    }
}

/// The last whole ISO week that ends on or before `day`.
pub fn last_whole_week(day: DayNumber) -> Option<IsoWeek> {
    let week = IsoWeek::of(Day::from_number(day)?);
    if *week.days().end() == day {
        Some(week)
    } else {
        IsoWeek::from_index(week.index() - 1)
    }
}

/// The last whole calendar month that ends on or before `day`.
pub fn last_whole_month(day: DayNumber) -> Option<Month> {
    let month = Month::of(Day::from_number(day)?);
    if *month.days().end() == day {
        Some(month)
    } else {
        Some(Month::of(Day::from_number(*month.days().start() - 1)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> DayNumber {
        Day::parse(text).expect("a day").number()
    }

    #[test]
    fn whole_periods_end_on_or_before_the_day() {
        // 2026-11-29 is a Sunday, 2026-11-30 a Monday and the month's last day.
        assert_eq!(
            last_whole_week(day("2026-11-29")).map(|w| w.to_string()),
            Some("2026-W48".into())
        );
        assert_eq!(
            last_whole_week(day("2026-11-30")).map(|w| w.to_string()),
            Some("2026-W48".into())
        );
        assert_eq!(
            last_whole_month(day("2026-11-30")).map(|m| m.to_string()),
            Some("2026-11".into())
        );
        assert_eq!(
            last_whole_month(day("2026-11-29")).map(|m| m.to_string()),
            Some("2026-10".into())
        );
    }

    #[test]
    fn period_queries_cover_exactly_their_period() {
        let week = IsoWeek::parse("2026-W49").expect("a week");
        let q = Query::active_weekly("eu", "app.active", week);
        assert_eq!(
            (q.from.as_str(), q.to.as_str()),
            ("2026-11-30", "2026-12-06")
        );
        assert_eq!(q.cells, ["week"]);
        assert!(q.group_by.is_empty());
        let m = Query::active_monthly(
            "eu",
            "app.active",
            Month::parse("2026-02").expect("a month"),
        );
        assert_eq!(
            (m.from.as_str(), m.to.as_str()),
            ("2026-02-01", "2026-02-28")
        );
        let r = Query::retention_column("eu", "app.active", week, 2);
        assert_eq!(r.cells, ["w0", "w1", "w2", "older"]);
        let d = Query::active_daily("eu", "app.active", day("2026-12-01"), day("2026-12-03"));
        assert_eq!(
            (d.cells.as_slice(), d.group_by.as_slice()),
            (&["today".to_owned()][..], &[DAY.to_owned()][..])
        );
    }
}

//! Releases of an activity metric (`app.active` of the example schema):
//! the weekly and monthly totals and the retention columns are released over
//! their whole period as one query with the sensitivity of one device's one
//! first-in-period flag, and the ledger never charges less than a release
//! costs.

use candor_protocol::{Activity, Cohort};
use candor_time::{IsoWeek, Month};

use super::*;

const ACTIVE: &str = "app.active";

/// An activity value a device could send on `day`: `bits` picks the flags,
/// `age` the cohort (weeks before the day's week; beyond 12, `older`).
fn activity(day: DayNumber, bits: u8, age: u8) -> MetricValue {
    let d = Day::from_number(day).expect("a day");
    let first_day = bits & 4 != 0;
    let week = IsoWeek::of(d);
    let cohort = match (first_day, age) {
        (true, _) => Cohort::Week(week),
        (false, a) if a <= 12 => {
            Cohort::Week(IsoWeek::from_index(week.index() - i32::from(a)).expect("a week"))
        }
        _ => Cohort::Older,
    };
    MetricValue::Activity(Activity {
        today: true,
        first_in_week: first_day || bits & 1 != 0,
        first_in_month: first_day || bits & 2 != 0,
        first_day,
        cohort,
    })
}

/// What one report adds to the released cells `cells`, in L1: the most a
/// neighbouring dataset (one report fewer) moves the release by.
fn l1(report: &Report, cells: &[String]) -> u64 {
    let metric = schema().metric(ACTIVE).expect("declared");
    report
        .metrics
        .values()
        .flat_map(|v| candor_values::cells(metric, v, report.day))
        .filter(|(c, _)| cells.contains(c))
        .map(|(_, n)| n)
        .sum()
}

/// A query of `cells` from `from` to `to`.
fn cells_query(cells: &[&str], from: DayNumber, to: DayNumber, by_day: bool) -> Query {
    let mut q = query(ACTIVE, from, to, if by_day { &[DAY] } else { &[] });
    q.cells = cells.iter().map(|c| (*c).to_owned()).collect();
    q
}

/// 2026-11-02, a Monday.
const MONDAY: DayNumber = DAY0 + 1;

#[test]
fn first_in_period_cells_are_released_over_their_whole_period_only() {
    let mut store = candor_store::open_in_memory().expect("store");
    let refused = |store: &mut dyn Store, q: &Query| match release(
        &registry(),
        store,
        &admin(),
        q,
        0,
        &late(),
        &mut rng(1),
    ) {
        Err(e) => assert_eq!(e.code(), "invalid_query", "{q:?}: {e}"),
        Ok(a) => panic!("{q:?} was released: {a:?}"),
    };
    // A week's total by day, over part of a week, over two weeks.
    refused(
        &mut store,
        &cells_query(&["week"], MONDAY, MONDAY + 6, true),
    );
    refused(
        &mut store,
        &cells_query(&["week"], MONDAY, MONDAY + 5, false),
    );
    refused(
        &mut store,
        &cells_query(&["w0", "w1"], MONDAY, MONDAY + 13, false),
    );
    refused(
        &mut store,
        &cells_query(&["month"], MONDAY, MONDAY + 6, false),
    );
    refused(&mut store, &cells_query(&[], MONDAY, MONDAY, false));
    assert!(
        store
            .budget(&BudgetFilter::default())
            .expect("ledger")
            .is_empty()
    );
    // The whole week, the whole month (November 2026), a day's actives.
    for q in [
        cells_query(&["week"], MONDAY, MONDAY + 6, false),
        cells_query(&["month"], DAY0, DAY0 + 29, false),
        cells_query(&["today", "new"], MONDAY, MONDAY + 2, true),
    ] {
        let a = release(
            &registry(),
            &mut store,
            &admin(),
            &q,
            0,
            &late(),
            &mut rng(2),
        )
        .unwrap_or_else(|e| panic!("{q:?}: {e}"));
        assert_eq!(a.contribution_bound, if q.cells.len() == 2 { 2 } else { 1 });
    }
}

#[test]
fn weekly_active_devices_are_counted_once_and_cover_the_truth() {
    // 3,000 devices active in the week of MONDAY, each on 1 to 7 days: each
    // sends "first in week" on its first active day only.
    let mut store = candor_store::open_in_memory().expect("store");
    let mut reports = Vec::new();
    let devices = 3_000u32;
    for device in 0..devices {
        let first = (device % 7) as DayNumber;
        let days = 1 + (device / 7) % (7 - first as u32);
        for (i, day) in (MONDAY + first..MONDAY + first + days as DayNumber).enumerate() {
            let bits = u8::from(i == 0);
            reports.push(report(
                ACTIVE,
                day,
                &[("platform", "android")],
                activity(day, bits, 1),
            ));
        }
    }
    ingest(&mut store, &reports);
    let q = cells_query(&["week"], MONDAY, MONDAY + 6, false);
    let a = release(
        &roomy_registry(),
        &mut store,
        &admin(),
        &q,
        0,
        &late(),
        &mut rng(3),
    )
    .expect("released");
    let g = &a.groups[0];
    assert_eq!(a.contribution_bound, 1);
    let truth = f64::from(devices);
    assert!(
        (g.value - truth).abs() <= 0.05 * truth,
        "{} vs {truth}",
        g.value
    );
    assert!(
        g.ci95[0] <= truth && truth <= g.ci95[1],
        "{:?} misses {truth}",
        g.ci95
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// For any activity data and any sequence of activity releases (daily
    /// actives and new devices over any days, weekly totals and retention
    /// columns over an ISO week, monthly totals over a month, at any ε),
    /// every release states a Δ at least the most one report adds to what
    /// it releases, scales its noise to that Δ, and charges its full ε to
    /// every day it read, once: never less than it costs.
    #[test]
    fn the_ledger_never_charges_less_than_an_activity_release_costs(
        data in proptest::collection::vec((0i32..35, 0u8..8, 0u8..16), 1..120),
        queries in proptest::collection::vec((0usize..4, 0i32..4, 0i32..7, 1u32..=4, any::<bool>()), 1..12),
        seed in any::<u64>(),
    ) {
        let mut store = candor_store::open_in_memory().unwrap();
        let reports: Vec<Report> = data
            .iter()
            .map(|&(d, bits, age)| {
                let day = MONDAY + d;
                report(ACTIVE, day, &[("platform", "ios")], activity(day, bits, age))
            })
            .collect();
        ingest(&mut store, &reports);
        let mut r = rng(seed);
        for (kind, week, len, quarter, by_day) in queries {
            let monday = MONDAY + 7 * week;
            let q = match kind {
                0 => cells_query(&["today"], monday, monday + len, by_day),
                1 => cells_query(&["today", "new"], monday, monday + len, by_day),
                2 => cells_query(&["week"], monday, monday + 6, false),
                _ => cells_query(&["w0", "w1", "w2", "w3", "older"], monday, monday + 6, false),
            };
            let mut q = q;
            q.epsilon = Some(f64::from(quarter) * 0.05);
            let before = store.budget(&BudgetFilter::default()).unwrap();
            let answer = release(&registry(), &mut store, &admin(), &q, 0, &late(), &mut r);
            let after = store.budget(&BudgetFilter::default()).unwrap();
            let a = match answer {
                Ok(a) => a,
                Err(QueryError::BudgetExhausted { .. }) => {
                    prop_assert_eq!(after, before);
                    continue;
                }
                Err(e) => return Err(TestCaseError::fail(format!("unexpected error {e}"))),
            };
            let worst = reports.iter().map(|r| l1(r, &q.cells)).max().unwrap_or(0);
            prop_assert!(a.contribution_bound >= worst.max(1),
                "Δ {} < {} for {:?}", a.contribution_bound, worst, q.cells);
            let value_epsilon = split_epsilon(a.epsilon).1;
            let lap = DiscreteLaplace::for_epsilon(a.contribution_bound, value_epsilon).unwrap();
            prop_assert!(a.noise_scale.unwrap() >= lap.scale().to_f64());
            let charged = |ledger: &[candor_store::BudgetCharge], day: DayNumber| {
                ledger.iter().filter(|b| b.metric == ACTIVE && b.day == day).map(|b| b.micros).sum::<u64>()
            };
            let (from, to) = (candor_time::parse_day(&q.from).unwrap(), candor_time::parse_day(&q.to).unwrap());
            let micros = (a.epsilon_spent * 1e6).round() as u64;
            for day in from..=to {
                let spent = charged(&after, day) - charged(&before, day);
                if a.cached {
                    prop_assert_eq!(spent, 0);
                } else {
                    prop_assert!(micros > 0);
                    prop_assert!(spent >= micros, "day {} charged {} < {}", day, spent, micros);
                }
            }
            prop_assert!(charged(&after, from - 1) == charged(&before, from - 1));
        }
    }
}

#[test]
fn a_month_is_read_whole() {
    let november = Month::of(Day::from_number(DAY0).expect("a day"));
    assert_eq!(*november.days().start(), DAY0);
    let q = cells_query(&["month"], DAY0, *november.days().end(), false);
    let mut store = candor_store::open_in_memory().expect("store");
    let a = release(
        &registry(),
        &mut store,
        &admin(),
        &q,
        0,
        &late(),
        &mut rng(4),
    )
    .expect("released");
    let charged: Vec<DayNumber> = store
        .budget(&BudgetFilter::default())
        .expect("ledger")
        .iter()
        .map(|b| b.day)
        .collect();
    assert_eq!(
        charged,
        november.days().collect::<Vec<_>>(),
        "every day of the month, once"
    );
    assert_eq!(a.contribution_bound, 1);
}

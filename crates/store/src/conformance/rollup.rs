//! Roll-ups: whatever a backend sums ahead of time, [`Store::visit_spans`]
//! adds up to exactly what the rows hold, before and after
//! [`Store::roll_up`] and retention.

use std::collections::BTreeMap;

use super::helpers::{SCHEMA, XorShift, key, report};
use crate::{DayNumber, REPORTS_CELL, RowFilter, SpanView, Store};

/// (metric, dimensions, cell, day if kept apart) → (sum, contributors).
type Totals = BTreeMap<(String, String, String, Option<DayNumber>), (i64, i64)>;

const BASE: DayNumber = 20_000;

/// Adds one visited row or span to `totals`, checking that it lies in the
/// filter's range and keeps days apart where it must.
fn add(totals: &mut Totals, v: &SpanView<'_>, filter: &RowFilter, per_day: bool) {
    let (first, last) = (v.row.day, v.last_day);
    let what = format!(
        "{} {} {:?} {first}..={last}",
        v.row.metric, v.row.dimensions, v.row.cell
    );
    assert!(first <= last, "a span ends before it starts: {what}");
    assert!(
        filter.from_day.is_none_or(|d| first >= d) && filter.to_day.is_none_or(|d| last <= d),
        "a span leaves the filter's range {:?}..={:?}: {what}",
        filter.from_day,
        filter.to_day
    );
    let reports = v.row.cell == REPORTS_CELL;
    if reports || per_day {
        assert_eq!(
            first, last,
            "a report count or a by-day value spans days: {what}"
        );
    }
    assert_eq!(v.row.schema_id, SCHEMA, "{what}");
    let day = (reports || per_day).then_some(first);
    let t = totals
        .entry((
            v.row.metric.to_owned(),
            v.row.dimensions.to_owned(),
            v.row.cell.to_owned(),
            day,
        ))
        .or_default();
    t.0 += v.row.sum;
    t.1 += v.row.contributors;
}

fn from_rows(store: &dyn Store, filter: &RowFilter, per_day: bool) -> Totals {
    let mut totals = Totals::new();
    store
        .visit_rows(filter, &mut |row| {
            let span = SpanView {
                row: *row,
                last_day: row.day,
            };
            add(&mut totals, &span, filter, per_day);
        })
        .expect("visit rows");
    totals
}

fn from_spans(store: &dyn Store, filter: &RowFilter, per_day: bool) -> Totals {
    let mut totals = Totals::new();
    store
        .visit_spans(filter, per_day, &mut |v| {
            add(&mut totals, v, filter, per_day)
        })
        .expect("visit spans");
    totals
}

/// Compares the spans with the rows over many ranges and filters.
fn check(store: &dyn Store, rng: &mut XorShift, when: &str) {
    for i in 0..60 {
        let from = BASE - 3 + rng.below(80) as DayNumber;
        let to = from + rng.below(70) as DayNumber;
        let filter = RowFilter {
            schema_id: Some(SCHEMA.into()),
            metric: (i % 3 != 0).then(|| ["m.counter", "m.domains"][i % 2].to_owned()),
            purpose: (i % 4 == 0).then(|| "usage".to_owned()),
            from_day: Some(from),
            to_day: Some(to),
        };
        for per_day in [false, true] {
            assert_eq!(
                from_spans(store, &filter, per_day),
                from_rows(store, &filter, per_day),
                "{when}: spans and rows differ for {filter:?}, per_day {per_day}"
            );
        }
    }
}

/// 70 days of two metrics (a closed-set counter with dimensions and an
/// open set of domains, some of them adding zero), each (metric,
/// dimensions, day) with its report-count row; then spans read as rows
/// before rolling up, after, after retention, and after rolling up again.
pub fn visit_spans_adds_up_to_the_rows(store: &mut dyn Store) {
    let mut rng = XorShift(0x5eed_2011);
    let mut id = 0u64;
    for day in BASE..BASE + 70 {
        let mut batch = Vec::new();
        for _ in 0..3 {
            let mut keys = Vec::new();
            for (metric, dims, cells) in [
                ("m.counter", "platform=android", vec![String::new()]),
                ("m.counter", "platform=ios", vec![String::new()]),
                (
                    "m.domains",
                    "",
                    (0..1 + rng.below(6))
                        .map(|_| format!("site{}.example", rng.below(12)))
                        .collect(),
                ),
            ] {
                // Not every report carries every series.
                if rng.below(5) == 0 {
                    continue;
                }
                let mut cells = cells;
                cells.sort();
                cells.dedup();
                keys.push((key(SCHEMA, day, "usage", 1, metric, dims, REPORTS_CELL), 1));
                for cell in cells {
                    let value = rng.below(4) as i64;
                    keys.push((key(SCHEMA, day, "usage", 1, metric, dims, &cell), value));
                }
            }
            id += 1;
            let refs: Vec<_> = keys.iter().map(|(k, v)| (k, *v)).collect();
            batch.push(report(id, SCHEMA, day, "usage", &refs));
        }
        store.commit(&batch).expect("commit");
    }
    check(store, &mut rng, "before rolling up");
    store.roll_up(BASE + 60).expect("roll up");
    assert_eq!(
        store.roll_up(BASE + 60).expect("roll up again"),
        0,
        "a second roll-up to the same day has nothing to do"
    );
    check(store, &mut rng, "after rolling up");
    store.delete_before(BASE + 13).expect("retention");
    check(store, &mut rng, "after retention");
    store.roll_up(BASE + 66).expect("roll up after retention");
    check(store, &mut rng, "after rolling up again");
}

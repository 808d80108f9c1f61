//! The `activity` metric at the door (docs/wire.md §2.5): a foreign
//! client's activity values, written from the spec alone, are accepted and
//! counted into the flag and cohort cells; impossible combinations are
//! refused with `impossible_activity` and change nothing.

use serde_json::{Value, json};

use crate::common::Server;
use crate::foreign::{self, ForeignKey};

/// A `usage` report of 2026-11-29 (Sunday of ISO week 2026-W48) carrying
/// one activity value of `app.active`.
fn active(value: Value) -> Value {
    let mut report = foreign::report(
        "usage",
        json!({"app.active": {"type": "activity", "value": value}}),
    );
    report["dimensions"] = json!({"platform": "android"});
    report
}

fn flags(week: bool, month: bool, first_day: bool, cohort: &str) -> Value {
    json!({"today": true, "first_in_week": week, "first_in_month": month,
        "first_day": first_day, "cohort": cohort})
}

/// The sum of `app.active`'s rows by cell.
fn cells(server: &Server) -> Vec<(String, i64)> {
    let mut out: Vec<(String, i64)> = server
        .all_rows("eu")
        .into_iter()
        .filter(|r| r.key.metric == "app.active")
        .map(|r| (r.key.cell.clone(), r.sum))
        .collect();
    out.sort();
    out
}

#[test]
fn a_foreign_clients_activity_is_accepted_and_counted() {
    let server = Server::start();
    let key = ForeignKey::fetch(&server, "eu");
    for value in [
        // A new device: first of everything, its own week as the cohort.
        flags(true, true, true, "2026-W48"),
        // Installed two weeks earlier, first use this week.
        flags(true, false, false, "2026-W46"),
        // Installed before the 12-week horizon, already counted this week.
        flags(false, false, false, "older"),
        // Installed more than 12 weeks back, first use this week and month.
        flags(true, true, false, "older"),
    ] {
        let answer = foreign::post(&server, &key, &active(value.clone()));
        assert_eq!(answer.status, 202, "{value}: {answer:?}");
        assert_eq!(answer.json["results"][0]["status"], "accepted");
    }
    let expected: Vec<(String, i64)> = [
        ("*", 4),
        ("month", 2),
        ("new", 1),
        ("older", 1),
        ("today", 4),
        ("w0", 1),
        ("w2", 1),
        ("week", 3),
    ]
    .iter()
    .map(|(c, n)| ((*c).to_owned(), *n))
    .collect();
    assert_eq!(cells(&server), expected);
}

#[test]
fn impossible_activity_is_refused_with_its_code() {
    let server = Server::start();
    let key = ForeignKey::fetch(&server, "eu");
    let ok = foreign::post(&server, &key, &active(flags(true, true, true, "2026-W48")));
    assert_eq!(ok.status, 202, "{ok:?}");
    let not_today = json!({"today": false, "first_in_week": true, "first_in_month": false,
            "first_day": false, "cohort": "2026-W40"});
    for value in [
        // "First this week" without "active today".
        not_today,
        // A first day that is not a first of its week and month.
        flags(false, true, true, "2026-W48"),
        flags(true, false, true, "2026-W48"),
        // A first day in another week than the install, or an old cohort.
        flags(true, true, true, "2026-W47"),
        flags(true, true, true, "older"),
        // A cohort after the report's day.
        flags(true, true, false, "2026-W49"),
        // A cohort beyond the metric's 12 weeks not folded into "older".
        flags(true, true, false, "2026-W35"),
    ] {
        let before = server.snapshot();
        let answer = foreign::post(&server, &key, &active(value.clone()));
        assert_eq!(answer.status, 422, "{value}: {answer:?}");
        assert_eq!(answer.json["code"], "impossible_activity", "{value}");
        assert_eq!(server.snapshot(), before, "{value} changed the store");
    }
    // Not an ISO week at all: not a report (§2).
    let answer = foreign::post(&server, &key, &active(flags(true, true, false, "2026-W60")));
    assert_eq!(
        (answer.status, answer.json["code"].as_str()),
        (400, Some("malformed_report"))
    );
    // The edge of the horizon is a cohort: 12 weeks before 2026-W48.
    let edge = foreign::post(
        &server,
        &key,
        &active(flags(true, false, false, "2026-W36")),
    );
    assert_eq!(edge.status, 202, "{edge:?}");
}

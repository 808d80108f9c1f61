//! Local DP on the device: permanent randomized response (one randomized
//! answer per true value, reused every day and across restarts), local-DP
//! metrics sent on every reported day once set, the memory forgotten on
//! revocation; and days past the region's report window dropped.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::common::{DAY, Device, config, device, device_with, files};

fn parse(s: &str) -> Value {
    serde_json::from_str(s).expect("report JSON")
}

/// The queued reports of `purpose`, by day.
fn queued(d: &Device, purpose: &str) -> BTreeMap<String, Value> {
    d.candor
        .pending_reports()
        .iter()
        .map(|p| parse(p))
        .filter(|r| r["purpose"] == purpose)
        .map(|r| (r["day"].as_str().expect("day").to_owned(), r))
        .collect()
}

/// The dark-mode answer of every usage report a device builds over `days`
/// days, the setting switched on only on the first day; the other days
/// record tabs only.
fn answers_over_days(d: &Device, days: usize) -> Vec<Option<bool>> {
    d.candor.grant("usage").expect("grant");
    let mut out = Vec::new();
    for day in 0..days {
        if day == 0 {
            d.candor.boolean("settings.dark_mode").set(true);
        }
        d.candor.counter("browser.tabs_opened").add(1);
        d.candor.end_day();
        let today = queued(d, "usage")
            .into_values()
            .max_by_key(|r| r["day"].as_str().map(str::to_owned))
            .expect("today's report");
        out.push(today["metrics"]["settings.dark_mode"]["value"].as_bool());
        d.clock.advance(DAY);
    }
    out
}

#[test]
fn a_setting_that_never_changes_sends_the_same_answer_every_day() {
    let (mut flipped, devices) = (0, 120);
    for _ in 0..devices {
        let d = device();
        let answers = answers_over_days(&d, 6);
        assert!(
            answers.iter().all(|a| a.is_some()),
            "sent on every reported day once set: {answers:?}"
        );
        assert!(
            answers.windows(2).all(|w| w[0] == w[1]),
            "one randomized answer, reused: {answers:?}"
        );
        if answers[0] == Some(false) {
            flipped += 1;
        }
    }
    // ε = 2: the truth is kept with p = e²/(e² + 1) ≈ 0.881, so about 14 of
    // 120 devices report the other value; 2..=35 is far beyond 4 sd.
    assert!(
        (2..=35).contains(&flipped),
        "{flipped} of {devices} devices answered false"
    );
}

#[test]
fn the_answer_survives_a_restart_and_switching_back() {
    let d = device();
    let first = answers_over_days(&d, 2)[0];
    // Switch off, then on again: the answer for "on" is the one drawn first.
    d.candor.boolean("settings.dark_mode").set(false);
    d.candor.end_day();
    d.clock.advance(DAY);
    d.candor.boolean("settings.dark_mode").set(true);
    d.candor.end_day();
    let last = queued(&d, "usage")
        .into_values()
        .max_by_key(|r| r["day"].as_str().map(str::to_owned))
        .expect("report");
    assert_eq!(
        last["metrics"]["settings.dark_mode"]["value"].as_bool(),
        first
    );
    // A new process on the same directory remembers it.
    let Device { candor, clock, dir } = d;
    drop(candor);
    clock.advance(DAY);
    let reopened = candor_sdk::Candor::open(config(dir.path(), &clock)).expect("reopens");
    reopened.counter("browser.tabs_opened").add(1);
    reopened.end_day();
    let again = reopened
        .pending_reports()
        .iter()
        .map(|p| parse(p))
        .filter(|r| r["purpose"] == "usage")
        .max_by_key(|r| r["day"].as_str().map(str::to_owned))
        .expect("report");
    assert_eq!(
        again["metrics"]["settings.dark_mode"]["value"].as_bool(),
        first
    );
}

#[test]
fn revocation_forgets_the_remembered_values_and_answers() {
    let d = device();
    answers_over_days(&d, 2);
    let remembers = |d: &Device| {
        files(d.dir.path())
            .iter()
            .any(|(_, text)| text.contains("settings.dark_mode"))
    };
    assert!(remembers(&d), "state.json holds the memory");
    d.candor.revoke("usage").expect("revoke");
    assert!(
        !remembers(&d),
        "nothing of the purpose is left on the device after revocation"
    );
    // Granted again, nothing is sent for dark mode until it is set again.
    d.candor.grant("usage").expect("grant");
    d.candor.counter("browser.tabs_opened").add(1);
    d.candor.end_day();
    let report = queued(&d, "usage").into_values().next().expect("report");
    assert!(report["metrics"].get("settings.dark_mode").is_none());
}

#[test]
fn days_past_the_report_window_are_dropped_and_counted() {
    // Used on one day, then not opened for a week: that day's report could
    // no longer be accepted (eu accepts 3 days back), so it is not built.
    let d = device_with(|_| {});
    d.candor.grant("usage").expect("grant");
    d.candor.counter("browser.tabs_opened").add(2);
    d.candor.flush();
    d.clock.advance(7 * DAY);
    d.candor.flush();
    assert!(d.candor.pending_reports().is_empty());
    assert_eq!(d.candor.error_counts()["*"]["too_late"], 1);
    // Queued in time but not sent before the window closed: dropped too.
    d.candor.counter("browser.tabs_opened").add(2);
    d.candor.end_day();
    assert_eq!(d.candor.pending_reports().len(), 1);
    d.clock.advance(4 * DAY);
    d.candor.flush();
    assert!(d.candor.pending_reports().is_empty());
    assert_eq!(d.candor.error_counts()["*"]["too_late"], 2);
}

//! The `activity` metric: the flags a device derives from its on-device
//! memory, the gates that keep it from recording, and the memory's deletion.

use serde_json::Value;

use crate::common::{DAY, Device, NOON, device, files, parse};

const ACTIVE: &str = "app.active";

/// The activity values of the queued reports, by day.
fn activity_by_day(d: &Device) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = d
        .candor
        .pending_reports()
        .iter()
        .map(|r| parse(r))
        .filter_map(|r| {
            let value = r["metrics"][ACTIVE]["value"].clone();
            (!value.is_null()).then(|| (r["day"].as_str().unwrap_or_default().to_owned(), value))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Whether any file of the device's data directory mentions `needle`.
fn on_disk(d: &Device, needle: &str) -> bool {
    files(d.dir.path())
        .iter()
        .any(|(_, text)| text.contains(needle))
}

/// Uses the app on the clock's day, ends the day, queues its reports.
fn use_today_and_end_the_day(d: &Device) {
    d.candor.activity(ACTIVE).active();
    d.clock.advance(DAY);
    d.candor.flush();
}

#[test]
fn active_days_send_flags_and_the_memory_stays_on_the_device() {
    let d = device();
    d.candor.grant("usage").expect("grant");
    let active = d.candor.activity(ACTIVE);
    // Sunday 2026-11-29 (ISO week 48), used three times; then Monday.
    for _ in 0..3 {
        active.active();
    }
    d.candor.flush(); // a harvest in the middle of the day changes nothing
    active.active();
    d.clock.advance(DAY);
    active.active();
    d.clock.advance(DAY);
    d.candor.flush();
    let days = activity_by_day(&d);
    assert_eq!(days.len(), 2, "{days:?}");
    assert_eq!(days[0].0, "2026-11-29");
    assert_eq!(
        days[0].1,
        serde_json::json!({"today": true, "first_in_week": true, "first_in_month": true,
            "first_day": true, "cohort": "2026-W48"})
    );
    assert_eq!(days[1].0, "2026-11-30");
    assert_eq!(
        days[1].1,
        serde_json::json!({"today": true, "first_in_week": true, "first_in_month": false,
            "first_day": false, "cohort": "2026-W48"})
    );
    // The memory is in state.json; no report carries any of it.
    assert!(on_disk(&d, "install_week"));
    for report in d.candor.pending_reports() {
        assert!(!report.contains("install_week") && !report.contains("last_day"));
    }
}

#[test]
fn the_day_is_the_day_of_the_devices_clock() {
    let d = device();
    d.candor.grant("usage").expect("grant");
    let active = d.candor.activity(ACTIVE);
    // One second before and one second after midnight UTC of 2026-11-30:
    // two days, as for every other metric.
    d.clock.set(NOON + DAY / 2 - 1);
    active.active();
    d.clock.advance(2);
    active.active();
    d.clock.advance(DAY);
    d.candor.flush();
    let days: Vec<String> = activity_by_day(&d)
        .into_iter()
        .map(|(day, _)| day)
        .collect();
    assert_eq!(days, ["2026-11-29", "2026-11-30"]);
}

#[test]
fn a_clock_set_before_the_install_sends_no_activity() {
    let d = device();
    d.candor.grant("usage").expect("grant");
    use_today_and_end_the_day(&d);
    // Back to a day of the week before the install week (Sunday is the
    // install day; the Saturday before is still week 48, the Sunday a week
    // earlier is week 47).
    d.clock.set(NOON - 7 * DAY);
    use_today_and_end_the_day(&d);
    let days: Vec<String> = activity_by_day(&d)
        .into_iter()
        .map(|(day, _)| day)
        .collect();
    assert_eq!(days, ["2026-11-29"]);
}

#[test]
fn without_consent_no_activity_is_recorded() {
    let d = device();
    use_today_and_end_the_day(&d);
    assert!(d.candor.pending_reports().is_empty());
    assert!(
        !on_disk(&d, ACTIVE),
        "nothing of the metric reached the disk"
    );
    // The first day after a grant mid-week is the device's first day.
    d.candor.grant("usage").expect("grant");
    use_today_and_end_the_day(&d);
    let days = activity_by_day(&d);
    assert_eq!(days.len(), 1);
    assert_eq!(days[0].1["first_day"], true);
}

#[test]
fn private_mode_records_no_activity() {
    let d = device();
    d.candor.grant("usage").expect("grant");
    d.candor.set_private_mode(true);
    use_today_and_end_the_day(&d);
    d.candor.set_private_mode(false);
    // A private tab in a normal session: the same, per call.
    d.candor.activity(ACTIVE).private(true).active();
    d.clock.advance(DAY);
    d.candor.flush();
    assert!(d.candor.pending_reports().is_empty());
    assert!(!on_disk(&d, "install_week"), "no memory was started");
}

#[test]
fn the_global_opt_out_records_no_activity() {
    let d = device();
    d.candor.grant("usage").expect("grant");
    d.candor.set_global_opt_out(true).expect("opt out");
    use_today_and_end_the_day(&d);
    assert!(d.candor.pending_reports().is_empty());
    assert!(!on_disk(&d, "install_week"));
}

#[test]
fn a_child_profile_records_no_activity() {
    let d = device();
    d.candor.grant("usage").expect("grant");
    d.candor.set_child_profile(true).expect("child profile");
    use_today_and_end_the_day(&d);
    assert!(d.candor.pending_reports().is_empty());
    assert!(!on_disk(&d, "install_week"));
}

#[test]
fn deleting_all_data_deletes_the_activity_memory() {
    let d = device();
    d.candor.grant("usage").expect("grant");
    use_today_and_end_the_day(&d);
    assert!(on_disk(&d, "install_week"));
    d.candor.delete_all_data();
    assert!(!on_disk(&d, "install_week"), "the memory is gone");
    assert!(!on_disk(&d, "last_day"));
    // The next active day is a new install, in the week it happens.
    d.clock.advance(7 * DAY);
    use_today_and_end_the_day(&d);
    let days = activity_by_day(&d);
    assert_eq!(days.len(), 1);
    assert_eq!(days[0].1["first_day"], true);
    assert_eq!(days[0].1["cohort"], "2026-W50");
}

#[test]
fn revoking_consent_forgets_the_activity_memory() {
    let d = device();
    d.candor.grant("usage").expect("grant");
    use_today_and_end_the_day(&d);
    d.candor.revoke("usage").expect("revoke");
    assert!(!on_disk(&d, "install_week"));
}

//! The fleet simulator against the fake collector: the reports the real SDK
//! sends are valid and match the ground truth, the hooks follow the
//! simulated days, and refusals and overload are counted and retried.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use candor_protocol::{Day, KeyPair, MetricValue, Opener};
use candor_sim::simulate::{self, SimConfig, SimHooks, SimSummary, Version};

use crate::fake::{Behaviour, FakeCollector};
use crate::{browser_schema, validate};

/// 2026-11-27 (a Friday) to 2026-11-29.
fn start() -> Day {
    Day::from_ymd(2026, 11, 27).expect("a real day")
}

fn config(url: &str, devices: usize, days: u32) -> SimConfig {
    // Struct update syntax from another crate (the demo builds it so).
    SimConfig {
        devices,
        days,
        regions: vec![("eu".into(), 1.0)],
        threads: 3,
        signing_keys: vec![crate::fake::signer("eu")],
        ..SimConfig::new(url, browser_schema(), start().date())
    }
}

#[derive(Default)]
struct Recorder {
    days: Mutex<Vec<i64>>,
    progress: Mutex<Vec<(u64, u64)>>,
}

impl SimHooks for Recorder {
    fn day_started(&self, unix_seconds: i64) {
        self.days.lock().expect("lock").push(unix_seconds);
    }
    fn progress(&self, done: u64, total: u64) {
        self.progress.lock().expect("lock").push((done, total));
    }
}

fn assert_balanced(s: &SimSummary) {
    let by_code: u64 = s.rejected_by_code.values().sum();
    assert_eq!(s.reports.rejected, by_code, "{s:#?}");
    let by_region: u64 = s.regions.values().map(|r| r.reports.accepted).sum();
    let by_purpose: u64 = s.purposes.values().map(|p| p.reports.accepted).sum();
    assert_eq!(s.reports.accepted, by_region);
    assert_eq!(s.reports.accepted, by_purpose);
}

#[test]
fn the_devices_send_valid_reports_that_match_the_ground_truth() {
    let keys = KeyPair::generate("eu", 4).expect("key pair");
    let fake = FakeCollector::start(Behaviour {
        keys: vec![keys.config().clone()],
        opener: Some(Opener::new("eu", [keys]).expect("opener")),
        ..Behaviour::default()
    });
    let mut c = config(&fake.url(), 40, 3);
    c.consent = BTreeMap::from([
        ("usage".to_owned(), 1.0),
        ("diagnostics".to_owned(), 0.5),
        ("browsing".to_owned(), 0.5),
    ]);
    c.private_share = 0.2;
    c.child_share = 0.0;
    let hooks = Recorder::default();
    let summary = simulate::run(&c, &hooks).expect("runs");
    assert_balanced(&summary);
    assert_eq!(summary.unsent, 0);
    assert_eq!(summary.reports.rejected, 0);

    // The clock hook saw each day's noon, in order; progress reached the end.
    let noon = start().noon();
    assert_eq!(
        *hooks.days.lock().expect("lock"),
        vec![noon, noon + 86_400, noon + 2 * 86_400]
    );
    assert_eq!(
        hooks.progress.lock().expect("lock").last(),
        Some(&(120, 120))
    );

    // Every report is valid for its day, and each id is new.
    let opened = fake.opened();
    assert_eq!(opened.len() as u64, summary.reports.accepted);
    let ids: BTreeSet<_> = opened.iter().map(|r| r.report_id).collect();
    assert_eq!(ids.len(), opened.len());
    let schema = browser_schema();
    let mut tabs_by_day: BTreeMap<Day, u64> = BTreeMap::new();
    for r in &opened {
        validate::check(&schema, r, "eu", r.day).expect("valid");
        assert!(r.day >= start() && r.day <= c.end().expect("end"));
        if let Some(MetricValue::Counter(n)) = r.metrics.get("browser.tabs_opened") {
            *tabs_by_day.entry(r.day).or_default() += n;
        }
    }
    // Tabs never reach their bound (500), so what the devices sent is the
    // eligible ground truth, day by day.
    let truth = &summary.truth;
    assert!(
        truth
            .groups("browser.tabs_opened")
            .all(|g| g.over_bound == [0, 0])
    );
    for (day, sent) in &tabs_by_day {
        let want: u64 = truth.cells["eu"][&day.to_string()]["browser.tabs_opened"]
            .values()
            .flat_map(|g| g.eligible.values())
            .map(|[sum, _]| sum)
            .sum();
        assert_eq!(*sent, want, "{day}");
    }
    assert!(truth.total("browser.tabs_opened", Version::Eligible) > 0);
    assert_eq!(truth.devices_by_region["eu"], 40);
    assert_eq!(truth.consenting_devices["usage"], 40);
}

#[test]
fn refusals_are_counted_by_code_and_overload_is_retried() {
    let keys = KeyPair::generate("eu", 1).expect("key pair");
    let fake = FakeCollector::start(Behaviour {
        keys: vec![keys.config().clone()],
        overload_every_other: true,
        reject_every: Some(7),
        ..Behaviour::default()
    });
    let mut c = config(&fake.url(), 25, 2);
    c.child_share = 0.0;
    let summary = simulate::run(&c, &simulate::NoHooks).expect("runs");
    assert_balanced(&summary);
    assert!(summary.retried_requests > 0, "{summary:#?}");
    assert!(summary.rejected_by_code["test_reject"] > 0, "{summary:#?}");
    // Every 503 was retried, on the next day or in the final passes.
    assert_eq!(summary.unsent, 0, "{summary:#?}");
    assert!(summary.reports.accepted > 0);
    assert_eq!(
        summary.requests,
        fake.uploads() as u64,
        "every request was counted"
    );
    // The text summary names the code.
    assert!(summary.to_string().contains("rejected test_reject"));
}

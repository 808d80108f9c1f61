use std::sync::Arc;

use candor_sdk::Candor;

use crate::common::{DAY, device, parse};

/// Hammers every usage and diagnostics metric from 8 threads.
fn hammer(c: &Candor, private_calls: bool) {
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let c = c.clone();
            std::thread::spawn(move || {
                let tabs = c.counter("browser.tabs_opened").private(private_calls);
                let apps = c.labeled_counter("app.opened").private(private_calls);
                let slow = c.domain_set("browser.slow_domains").private(private_calls);
                let crashes = c
                    .labeled_counter("diagnostics.crashes")
                    .private(private_calls);
                for i in 0..2000 {
                    tabs.add(1);
                    apps.add("browser", 1);
                    slow.record_url(&format!("https://site{}.example.com/", i % 7));
                    crashes.add("renderer", 1);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("no panic");
    }
}

fn purposes_reported(c: &Candor) -> Vec<String> {
    c.pending_reports()
        .iter()
        .map(|p| parse(p)["purpose"].as_str().expect("purpose").to_owned())
        .collect()
}

#[test]
fn private_mode_records_only_purposes_allowed_in_private_mode() {
    let d = device();
    for p in ["usage", "diagnostics", "browsing"] {
        d.candor.grant(p).expect("grant");
    }
    d.candor.set_private_mode(true);
    hammer(&d.candor, false);
    d.candor.set_private_mode(false);
    // A private tab in a normal session: same rule, per call.
    hammer(&d.candor, true);
    d.clock.advance(DAY);
    d.candor.flush();
    // diagnostics is allowed_in_private_mode in the example; the others are not.
    assert_eq!(purposes_reported(&d.candor), vec!["diagnostics"]);
    let report = parse(&d.candor.pending_reports()[0]);
    assert_eq!(
        report["metrics"]["diagnostics.crashes"]["value"]["renderer"], 20,
        "clamped to the contribution bound"
    );
}

#[test]
fn global_opt_out_and_child_profile_record_nothing_from_many_threads() {
    for child in [false, true] {
        let d = device();
        for p in ["usage", "diagnostics", "browsing"] {
            d.candor.grant(p).expect("grant");
        }
        // Something queued already: switching on deletes it.
        d.candor.counter("browser.tabs_opened").add(3);
        d.candor.end_day();
        assert_eq!(d.candor.pending_reports().len(), 1);
        let flag = |on| {
            if child {
                d.candor.set_child_profile(on)
            } else {
                d.candor.set_global_opt_out(on)
            }
        };
        flag(true).expect("stored");
        assert!(d.candor.pending_reports().is_empty(), "queue purged");
        hammer(&d.candor, false);
        let c = Arc::new(d.candor.clone());
        d.clock.advance(DAY);
        c.flush();
        assert!(purposes_reported(&c).is_empty(), "child={child}");
        assert!(c.consent_status().values().all(|s| !s.collecting));
        // Turning it off again resumes collection under the standing grants.
        flag(false).expect("stored");
        c.counter("browser.tabs_opened").add(1);
        c.end_day();
        assert_eq!(purposes_reported(&c), vec!["usage"]);
    }
}

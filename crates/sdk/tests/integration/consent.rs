use candor_sdk::{Candor, ConsentAction};

use crate::common::{DAY, config, device, files, parse};

/// Records one value of every metric type.
fn record_everything(c: &Candor) {
    c.labeled_counter("app.opened").add("camera", 3);
    c.counter("browser.tabs_opened").add(7);
    c.boolean("settings.dark_mode").set(true);
    c.category("settings.text_size").set("large");
    c.distribution("browser.page_load_ms").accumulate(1234);
    c.domain_set("browser.slow_domains")
        .record_url("https://news.example.co.uk/a?q=secret");
    c.labeled_counter("diagnostics.crashes").add("gpu", 1);
}

#[test]
fn without_a_grant_nothing_reaches_the_disk() {
    let d = device();
    record_everything(&d.candor);
    d.clock.advance(DAY);
    d.candor.flush();
    record_everything(&d.candor);
    d.candor.end_day();

    assert!(d.candor.pending_reports().is_empty());
    let all = files(d.dir.path());
    let outbox: Vec<_> = all
        .iter()
        .filter(|(p, _)| p.parent().is_some_and(|p| p.ends_with("outbox")))
        .collect();
    assert!(outbox.is_empty(), "outbox holds {outbox:?}");
    let state = all
        .iter()
        .find(|(p, _)| p.ends_with("state.json"))
        .map(|(_, t)| parse(t))
        .expect("state.json written");
    assert_eq!(state["days"], serde_json::json!([]), "no day aggregates");
    for (path, text) in &all {
        for needle in ["camera", "example.co.uk", "tabs_opened", "large", "gpu"] {
            assert!(
                !text.contains(needle),
                "{needle} found in {}",
                path.display()
            );
        }
    }
    // No consent is not an error: nothing was counted at all.
    assert!(
        d.candor.error_counts().is_empty(),
        "{:?}",
        d.candor.error_counts()
    );
}

#[test]
fn grant_records_and_revoke_purges_everything_queued() {
    let d = device();
    d.candor.grant("usage").expect("grant");
    d.candor.grant("browsing").expect("grant");
    record_everything(&d.candor);
    d.clock.advance(DAY);
    d.candor.flush(); // yesterday sealed into the outbox
    record_everything(&d.candor);
    d.candor.flush(); // today persisted in state.json
    let pending = d.candor.pending_reports();
    assert_eq!(pending.len(), 2, "usage and browsing for yesterday");

    d.candor.revoke("usage").expect("revoke");
    let pending: Vec<_> = d
        .candor
        .pending_reports()
        .iter()
        .map(|p| parse(p))
        .collect();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["purpose"], "browsing");
    for (path, text) in files(d.dir.path()) {
        if path.ends_with("consent.json") {
            continue;
        }
        assert!(
            !text.contains("tabs_opened"),
            "usage data left in {}",
            path.display()
        );
    }
    // Recording after revocation does nothing.
    d.candor.counter("browser.tabs_opened").add(1);
    d.candor.end_day();
    assert!(
        d.candor
            .pending_reports()
            .iter()
            .all(|p| parse(p)["purpose"] != "usage")
    );
    let status = d.candor.consent_status();
    assert!(!status["usage"].granted && !status["usage"].collecting);
    assert!(status["browsing"].collecting);
}

#[test]
fn receipts_record_each_decision_with_the_text_hash() {
    let d = device();
    d.candor.grant("diagnostics").expect("grant");
    d.clock.advance(60);
    d.candor.revoke("diagnostics").expect("revoke");
    let receipts = d.candor.receipts();
    assert_eq!(receipts.len(), 2);
    assert_eq!(receipts[0].action, ConsentAction::Grant);
    assert_eq!(receipts[1].action, ConsentAction::Revoke);
    assert_eq!(receipts[0].consent_version, 2);
    assert_eq!(receipts[1].time - receipts[0].time, 60);
    let expected = crate::common::schema()
        .purpose("diagnostics")
        .expect("declared")
        .consent_text_sha256();
    assert_eq!(receipts[0].text_sha256, hex::encode(expected));
    assert!(d.candor.grant("advertising").is_err(), "unknown purpose");
}

#[test]
fn raising_the_consent_version_voids_the_old_grant() {
    let d = device();
    d.candor.grant("usage").expect("grant");
    drop(d.candor);

    // The app updates to a schema whose usage purpose changed materially.
    let mut cfg = config(d.dir.path(), &d.clock);
    cfg.schema
        .purposes
        .get_mut("usage")
        .expect("declared")
        .consent_version = 2;
    let candor = Candor::open(cfg).expect("reopens");
    let status = candor.consent_status();
    assert_eq!(status["usage"].granted_version, Some(1));
    assert!(!status["usage"].granted && !status["usage"].collecting);
    candor.counter("browser.tabs_opened").add(5);
    candor.end_day();
    assert!(candor.pending_reports().is_empty());

    candor.grant("usage").expect("grant again");
    candor.counter("browser.tabs_opened").add(5);
    d.clock.advance(DAY);
    candor.flush();
    let pending = candor.pending_reports();
    assert_eq!(pending.len(), 1);
    assert_eq!(parse(&pending[0])["consent_version"], 2);
}

//! The model: consent hash, helpers, JSON.

use candor_schema::{MetricKind, Purpose, Release, Sensitivity};
use time::macros::date;

use crate::{TODAY, parse, workspace_file};

fn purpose() -> Purpose {
    Purpose {
        id: "usage".into(),
        title: "Usage statistics".into(),
        description: "How often features are used.".into(),
        legal_basis: "consent".into(),
        sensitivity: Sensitivity::Low,
        consent_version: 1,
        allowed_in_private_mode: false,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn consent_hash_is_stable() {
    // SHA-256("candor-consent-v1" || be32(5) "usage" || be32(1)
    //          || be32(16) "Usage statistics" || be32(28) "How often features are used.")
    assert_eq!(
        hex(&purpose().consent_text_sha256()),
        "1a95f6d78387076d88321ef25476611120bc69e87fadfcd50056d5ce12cc3204"
    );
}

#[test]
fn consent_hash_covers_version_and_texts_but_not_other_fields() {
    let base = purpose().consent_text_sha256();
    let mut p = purpose();
    p.consent_version = 2;
    assert_ne!(p.consent_text_sha256(), base);
    let mut p = purpose();
    p.title.push('.');
    assert_ne!(p.consent_text_sha256(), base);
    let mut p = purpose();
    p.description.push(' ');
    assert_ne!(p.consent_text_sha256(), base);
    // Moving text between title and description changes the hash (length
    // prefixes make the encoding unambiguous).
    let mut p = purpose();
    p.title = "Usage statisticsH".into();
    p.description = "ow often features are used.".into();
    assert_ne!(p.consent_text_sha256(), base);
    // Settings that are not consent text do not.
    let mut p = purpose();
    p.sensitivity = Sensitivity::High;
    p.allowed_in_private_mode = true;
    assert_eq!(p.consent_text_sha256(), base);
}

fn example() -> candor_schema::Schema {
    let src = std::fs::read_to_string(workspace_file("examples/browser.toml")).expect("readable");
    parse(&src).expect("valid").schema
}

#[test]
fn helpers() {
    let s = example();
    let m = s.metric("app.opened").expect("declared");
    assert_eq!(m.type_name(), "labeled_counter");
    assert_eq!(m.closed_set().map(<[String]>::len), Some(8));
    assert!(s.metric("app.closed").is_none());
    assert_eq!(
        s.purpose("browsing").map(|p| p.sensitivity),
        Some(Sensitivity::High)
    );
    let browsing: Vec<&str> = s
        .metrics_for_purpose("browsing")
        .map(|m| m.id.as_str())
        .collect();
    assert_eq!(browsing, ["browser.slow_domains"]);
    assert!(!m.is_expired(TODAY));
    assert!(!m.is_expired(date!(2027 - 12 - 31)));
    assert!(m.is_expired(date!(2028 - 01 - 01)));
    let slow = s.metric("browser.slow_domains").expect("declared");
    assert_eq!(slow.kind, MetricKind::DomainSet);
    assert_eq!(
        slow.release,
        Release::CentralDp {
            epsilon: 1.0,
            delta: Some(1e-8)
        }
    );
    assert_eq!(slow.release.mechanism(), "central_dp");
    let page = s.metric("browser.page_load_ms").expect("declared");
    assert_eq!(page.bucket_index(100), Some(0));
    assert_eq!(page.bucket_index(101), Some(1));
    assert_eq!(page.bucket_index(20_000), Some(8));
    let dark = s.metric("settings.dark_mode").expect("declared");
    assert_eq!(dark.max_per_report, 1);
    assert_eq!(dark.release.epsilon(), 2.0);
    let v = s.dimension("app_version").expect("declared");
    assert_eq!(v.coarsen("121.3.6099.230").as_deref(), Some("121.3"));
    assert!(s.dimension("platform").expect("declared").accepts("ios"));
}

#[test]
fn json_mirrors_the_toml() {
    let json: serde_json::Value = serde_json::from_str(&example().to_json()).expect("valid JSON");
    assert_eq!(json["id"], "org.example.browser");
    assert_eq!(json["version"], 3);
    let m = &json["metrics"]["app.opened"];
    assert_eq!(m["type"], "labeled_counter");
    assert_eq!(m["labels"][0], "camera");
    assert_eq!(m["expires"], "2027-12-31");
    assert_eq!(m["release"]["mechanism"], "central_dp");
    assert_eq!(m["release"]["epsilon"], 0.5);
    assert_eq!(m["release"]["delta"], 1e-8);
    let bookmarks = &json["metrics"]["browser.bookmarks_added"]["release"];
    assert!(bookmarks.get("delta").is_none());
    let dark = &json["metrics"]["settings.dark_mode"]["release"];
    assert_eq!(dark["mechanism"], "local_dp");
    assert_eq!(dark["count_epsilon"], 0.25);
    assert_eq!(
        json["metrics"]["browser.slow_domains"]["release"]["delta"],
        1e-8
    );
    assert_eq!(json["metrics"]["browser.page_load_ms"]["buckets"][0], 100);
    assert_eq!(json["dimensions"]["app_version"]["coarsen"], "major_minor");
    assert_eq!(json["dimensions"]["platform"]["values"][1], "ios");
    assert_eq!(json["purposes"]["browsing"]["sensitivity"], "high");
    assert_eq!(json["regions"]["eu"]["k_min"], 10);
    assert_eq!(json["regions"]["eu"]["epsilon_per_purpose_day"], 3.0);
    assert_eq!(json["regions"]["eu"]["delta_per_purpose_day"], 1e-6);
    assert_eq!(json["regions"]["eu"]["report_window_days"], 3);
}

#[test]
fn load_reads_files_and_reports_unreadable_ones() {
    let checked = candor_schema::load(workspace_file("examples/browser.toml")).expect("valid");
    assert_eq!(checked.schema.id, "org.example.browser");
    match candor_schema::load(workspace_file("examples/does-not-exist.toml")) {
        Err(candor_schema::LoadError::Read { .. }) => {}
        other => panic!("expected a read error, got {other:?}"),
    }
}

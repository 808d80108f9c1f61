//! Report generators shared by the tests.

use std::collections::{BTreeMap, BTreeSet};

use candor_protocol::{Day, KeyPair, MetricValue, OpenBackend, Opener, Report, ReportId};
use proptest::prelude::*;

/// A fixed, realistic report for region `region` and purpose `purpose`.
pub(crate) fn sample_report(region: &str, purpose: &str) -> Report {
    let mut report = Report::new(
        ReportId([7; 16]),
        "org.example.browser",
        3,
        purpose,
        1,
        region,
        Day::from_ymd(2026, 11, 29).expect("valid day"),
    );
    report
        .dimensions
        .insert("platform".into(), "android".into());
    report
        .metrics
        .insert("browser.tabs_opened".into(), MetricValue::Counter(12));
    report
}

fn id() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_]{0,12}(\\.[a-z][a-z0-9_]{0,12})?"
}

fn metric_value() -> impl Strategy<Value = MetricValue> {
    prop_oneof![
        any::<u64>().prop_map(MetricValue::Counter),
        prop::collection::btree_map(id(), any::<u64>(), 0..6).prop_map(MetricValue::LabeledCounter),
        any::<bool>().prop_map(MetricValue::Boolean),
        id().prop_map(MetricValue::Category),
        prop::collection::vec(0u64..1000, 1..12).prop_map(MetricValue::Distribution),
        prop::collection::btree_set("[a-z0-9-]{1,20}\\.(com|co\\.uk|de|github\\.io)", 0..20)
            .prop_map(|s: BTreeSet<String>| MetricValue::DomainSet(s)),
    ]
}

/// Any structurally valid report for `region`.
pub(crate) fn any_report(region: &'static str) -> impl Strategy<Value = Report> {
    (
        any::<[u8; 16]>(),
        "[a-z]{2,8}(\\.[a-z]{2,8}){1,3}",
        1u32..100,
        "[a-z][a-z0-9_]{0,31}",
        1u32..10,
        (1970i32..2200, 1u8..=12, 1u8..=28),
        prop::collection::btree_map(id(), "[a-z0-9.]{1,10}", 0..4),
        prop::collection::btree_map(id(), metric_value(), 1..8),
    )
        .prop_map(
            move |(rid, schema, version, purpose, consent, (y, m, d), dims, metrics)| {
                let mut r = Report::new(
                    ReportId(rid),
                    schema,
                    version,
                    purpose,
                    consent,
                    region,
                    Day::from_ymd(y, m, d).expect("day <= 28 always exists"),
                );
                r.dimensions = dims;
                r.metrics = metrics;
                r
            },
        )
}

/// A map literal helper for tests.
pub(crate) fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

/// One opener per compiled HPKE backend, each holding `keys`: every test
/// that opens runs against all of them, so the backends cannot drift apart.
pub(crate) fn openers(region: &str, keys: &[KeyPair]) -> Vec<Opener> {
    OpenBackend::ALL
        .iter()
        .map(|&backend| {
            Opener::new(region, keys.iter().cloned())
                .expect("keys of this region")
                .with_backend(backend)
        })
        .collect()
}

/// Compares the part of docs/wire.md between the `begin` and `end` markers
/// with `expected`, what the code produces; with `CANDOR_BLESS=1` rewrites
/// that part instead (a deliberate wire-format change).
pub(crate) fn check_doc_section(begin: &str, end: &str, expected: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/wire.md");
    let doc = std::fs::read_to_string(&path).expect("docs/wire.md exists");
    let start = doc.find(begin).expect("docs/wire.md has the begin marker") + begin.len();
    let stop = doc.find(end).expect("docs/wire.md has the end marker");
    if std::env::var_os("CANDOR_BLESS").is_some() {
        let updated = format!("{}{}{}", &doc[..start], expected, &doc[stop..]);
        std::fs::write(&path, updated).expect("write docs/wire.md");
        return;
    }
    assert!(
        doc[start..stop] == *expected,
        "docs/wire.md test vectors ({begin}) differ from what the code produces; if the wire \
         format changed on purpose, bump its version and rerun with CANDOR_BLESS=1"
    );
}

/// Hex in lines of 32 bytes, for reading and copying.
pub(crate) fn hex_block(bytes: &[u8]) -> String {
    bytes
        .chunks(32)
        .map(hex::encode)
        .collect::<Vec<_>>()
        .join("\n")
}

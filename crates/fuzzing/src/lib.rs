//! The entry points of Candor's fuzz targets, each with the invariants it
//! asserts, so that the coverage-guided targets in `fuzz/` (cargo-fuzz,
//! nightly) and the corpus replay test here (stable, part of `cargo test
//! --workspace`) run exactly the same code on the same inputs.
//!
//! Each function takes arbitrary bytes, never fails on bad input, and
//! panics only when an invariant breaks: that panic is the finding.
//!
//! | target | decoder | invariants beyond "no panic" |
//! |---|---|---|
//! | [`envelope`] | `Envelope::decode`, `split_upload`, HPKE open | the header re-encodes to its bytes; the parts cover the input; every error maps to a documented upload code; opening yields a report that re-validates |
//! | [`batch`] | `batch::decode` | re-encoding gives the input back; count and sizes within the limits |
//! | [`report_json`] | `Report::from_json` | encode → decode round trip; the value rules agree with the collector's validation; every stored cell is within the bounds |
//! | [`schema_toml`] | `candor_schema::parse` | references resolve; limits hold; coarsened dimension values are accepted; docs render |
//! | [`collector_config`] | `Config::parse` | the documented limits hold; derived sizes do not overflow |
//! | [`query_json`] | `release::Query` JSON | serializing is stable after one round trip |
//!
//! Who may depend on it: nothing but `fuzz/`. It is a workspace member only
//! so that the replay test runs on the stable toolchain.
#![deny(missing_docs)]

use std::collections::BTreeSet;
use std::sync::OnceLock;

use candor_collector::Rejection;
use candor_collector::validate::{DayWindow, Registry, to_delta};
use candor_protocol::limits::{MAX_BATCH_BYTES, MAX_BATCH_REPORTS, MAX_ENVELOPE_BYTES};
use candor_protocol::{Envelope, Header, KeyPair, MetricValue, Opener, Report, batch};
use candor_schema::{MetricKind, Schema, limits};

/// The example data dictionary every report is checked against.
const EXAMPLE_SCHEMA: &str = include_str!("../../../examples/browser.toml");

/// The day the fuzzed schemas and reports are judged on.
const TODAY: time::Date = time::macros::date!(2026 - 11 - 29);

/// The names of the targets, which are also the corpus folders under
/// `fuzz/corpus/`.
pub const TARGETS: [&str; 6] = [
    "envelope",
    "batch",
    "report_json",
    "schema_toml",
    "collector_config",
    "query_json",
];

/// Runs the target named `name` on `data`.
///
/// # Panics
/// When `name` is not one of [`TARGETS`], or an invariant breaks.
pub fn run(name: &str, data: &[u8]) {
    match name {
        "envelope" => envelope(data),
        "batch" => batch(data),
        "report_json" => report_json(data),
        "schema_toml" => schema_toml(data),
        "collector_config" => collector_config(data),
        "query_json" => query_json(data),
        other => panic!("no fuzz target {other:?}"),
    }
}

fn example_schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        candor_schema::parse(EXAMPLE_SCHEMA, "examples/browser.toml", TODAY)
            .expect("the example schema is valid")
            .schema
    })
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry::new([example_schema().clone()]))
}

/// The opener of the test vectors' key (docs/wire.md §9: region `eu`, key
/// id 1, ikmR = 00 01 … 1f), so the committed vectors open.
fn opener() -> &'static Opener {
    static OPENER: OnceLock<Opener> = OnceLock::new();
    OPENER.get_or_init(|| {
        let ikm: Vec<u8> = (0u8..32).collect();
        let key = KeyPair::derive("eu", 1, &ikm).expect("the vector key derives");
        Opener::new("eu", [key]).expect("an opener for eu")
    })
}

/// Every upload error maps to a code of the documented list.
fn assert_documented(e: candor_protocol::Error) {
    let code = Rejection::from(e).code();
    assert!(
        Rejection::CODES.iter().any(|(c, _)| *c == code),
        "{code} is not a documented upload code"
    );
}

/// `Envelope::decode` and `split_upload` on one envelope, then HPKE open.
pub fn envelope(data: &[u8]) {
    match batch::split_upload(data) {
        Ok(parts) if data.starts_with(b"CNDR") => assert_eq!(parts, vec![data]),
        Ok(parts) => assert!(!parts.is_empty() && parts.len() <= MAX_BATCH_REPORTS),
        Err(e) => assert_documented(e),
    }
    let env = match Envelope::decode(data) {
        Ok(env) => env,
        Err(e) => return assert_documented(e),
    };
    assert!(data.len() <= MAX_ENVELOPE_BYTES);
    assert_eq!(env.aad, env.header.encode().as_slice(), "header re-encodes");
    assert_eq!(
        env.aad.len() + env.enc.len() + env.ciphertext.len(),
        data.len(),
        "header, enc and ciphertext cover the envelope"
    );
    assert_eq!(env.enc.len(), 32);
    assert!(env.ciphertext.len() >= 16);
    let rebuilt = Header::new(
        env.header.key_id,
        env.header.suite,
        &env.header.region,
        &env.header.purpose,
    )
    .expect("a decoded header's ids are valid");
    assert_eq!(rebuilt, env.header);
    match opener().open_envelope(&env) {
        Ok(report) => {
            // Only an authentic envelope opens; its report agrees with the
            // header and decodes again from its own encoding.
            assert_eq!(report.region, env.header.region);
            assert_eq!(report.purpose, env.header.purpose);
            check_report_invariants(&report);
        }
        Err(e) => assert_documented(e),
    }
}

/// `batch::decode`.
pub fn batch(data: &[u8]) {
    let parts = match batch::decode(data) {
        Ok(parts) => parts,
        Err(e) => return assert_documented(e),
    };
    assert!(data.len() <= MAX_BATCH_BYTES);
    assert!((1..=MAX_BATCH_REPORTS).contains(&parts.len()));
    for p in &parts {
        assert!((1..=MAX_ENVELOPE_BYTES).contains(&p.len()));
    }
    let again = batch::encode(&parts).expect("a decoded batch re-encodes");
    assert_eq!(again, data, "decode then encode is the identity");
    assert_eq!(batch::split_upload(data).expect("splits"), parts);
}

/// `Report::from_json`, then the value rules and the collector's reduction.
pub fn report_json(data: &[u8]) {
    match Report::from_json(data) {
        Ok(report) => check_report_invariants(&report),
        Err(e) => assert_documented(e),
    }
    // The same bytes as one would-be domain: the canonical check and the
    // sanitizer's host map agree.
    if let Ok(text) = std::str::from_utf8(data) {
        check_domain(text);
    }
}

/// A canonical domain is exactly a fixed point of the sanitizer's host map.
fn check_domain(text: &str) {
    if candor_values::domain::check_canonical(text).is_ok() {
        assert_eq!(
            candor_values::domain::of_host(text).as_deref(),
            Ok(text),
            "a canonical domain maps to itself"
        );
        assert!(text.len() <= 253 && text.contains('.'));
    }
}

fn check_report_invariants(report: &Report) {
    assert!(!report.metrics.is_empty(), "a decoded report has metrics");
    let json = report.to_json().expect("a decoded report encodes");
    let again = Report::from_json(&json).expect("its encoding decodes");
    assert_eq!(&again, report, "encode → decode round trip");
    assert_eq!(
        again.to_json().expect("encodes"),
        json,
        "encoding is stable"
    );

    let schema = example_schema();
    let verdict = candor_values::check_report(schema, report);
    // Every day is in the window: the day check is not what this target
    // exercises.
    let window = DayWindow {
        today: 0,
        past_override: Some(u32::MAX),
        future: u32::MAX,
    };
    let delta = to_delta(registry(), report, window, TODAY);
    match (&verdict, &delta) {
        (Err(e), Err(r)) if report.schema == schema.id => {
            assert_eq!(
                e.code(),
                r.code(),
                "the collector refuses with the rule's code"
            );
        }
        (Err(_), Err(_)) => {}
        (Err(e), Ok(_)) => panic!("the collector stored a report that breaks {e}"),
        (Ok(()), Err(r)) => assert!(
            matches!(r.code(), "consent_too_old" | "unknown_purpose"),
            "a valid report refused with {r}"
        ),
        (Ok(()), Ok(_)) => {}
    }
    let Ok(delta) = delta else { return };
    // Everything stored is within the schema: declared metrics, cells of
    // their sets, canonical domains, dimensions their metric declares.
    // Each counted metric has exactly one report-count contribution of 1.
    let counted: Vec<&str> = delta
        .contributions
        .iter()
        .filter(|c| c.key.cell == candor_store::REPORTS_CELL)
        .map(|c| c.key.metric.as_str())
        .collect();
    let distinct: std::collections::BTreeSet<&str> = counted.iter().copied().collect();
    assert_eq!(counted.len(), distinct.len(), "one report count per metric");
    for c in &delta.contributions {
        let metric = schema.metric(&c.key.metric).expect("declared metric");
        if c.key.cell == candor_store::REPORTS_CELL {
            assert_eq!(c.value, 1, "a report counts once");
            continue;
        }
        assert!(
            distinct.contains(c.key.metric.as_str()),
            "a value row without its report count"
        );
        assert!(c.value >= 1);
        let value = u64::try_from(c.value).expect("positive");
        assert!(
            value <= metric.contribution_bound(),
            "a cell over the bound"
        );
        // One of the metric's cells: a label, a category, `true`/`false`,
        // a bucket index or a counter's empty cell; any canonical domain
        // for an open set.
        match metric.kind.cells() {
            Some(cells) => assert!(cells.contains(&c.key.cell), "a declared cell"),
            None => assert_eq!(candor_values::domain::check_canonical(&c.key.cell), Ok(())),
        }
        for kv in c.key.dimensions.split(',').filter(|s| !s.is_empty()) {
            let (d, v) = kv.split_once('=').expect("dimension=value");
            assert!(metric.dimensions.iter().any(|m| m == d));
            assert!(schema.dimension(d).expect("declared").accepts(v));
        }
    }
    for value in report.metrics.values() {
        if let MetricValue::DomainSet(set) = value {
            for d in set {
                check_domain(d);
            }
        }
    }
}

/// `candor_schema::parse` of a data dictionary.
pub fn schema_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let checked = match candor_schema::parse(text, "fuzz.toml", TODAY) {
        Ok(checked) => checked,
        Err(errors) => {
            let shown = errors.to_string();
            assert!(!shown.is_empty(), "a refusal says why");
            return;
        }
    };
    let s = &checked.schema;
    assert!(!s.id.is_empty() && s.id.len() <= limits::MAX_SCHEMA_ID_LEN);
    for (id, m) in &s.metrics {
        assert_eq!(id, &m.id);
        assert!(m.id.len() <= limits::MAX_METRIC_ID_LEN);
        assert!(s.purpose(&m.purpose).is_some(), "{id}: purpose resolves");
        for d in &m.dimensions {
            assert!(s.dimension(d).is_some(), "{id}: dimension {d} resolves");
        }
        assert!(m.max_per_report <= limits::MAX_CONTRIBUTION_BOUND);
        match &m.kind {
            MetricKind::LabeledCounter { labels: set }
            | MetricKind::Category { categories: set } => {
                assert!(!set.is_empty() && set.len() <= limits::MAX_SET_SIZE);
                let unique: BTreeSet<&String> = set.iter().collect();
                assert_eq!(unique.len(), set.len(), "{id}: a set without repeats");
            }
            MetricKind::Distribution { buckets } => {
                assert!(buckets.len() <= limits::MAX_BUCKET_BOUNDS);
                assert!(buckets.windows(2).all(|w| w[0] < w[1]), "{id}: increasing");
            }
            _ => {}
        }
    }
    for dim in s.dimensions.values() {
        for raw in ["121.3.6099", "0", "17.2-beta", " 14 ", "android", ""] {
            if let Some(v) = dim.coarsen(raw) {
                assert!(dim.accepts(&v), "{}: coarsen({raw:?}) is accepted", dim.id);
            }
        }
    }
    let json: serde_json::Value =
        serde_json::from_str(&s.to_json()).expect("the schema's JSON is JSON");
    assert_eq!(json["id"], s.id.as_str());
    let _ = candor_schema::docs::render(s, candor_schema::docs::Format::Markdown);
    let _ = candor_schema::docs::render(s, candor_schema::docs::Format::Html);
}

/// `Config::parse` of a collector configuration.
pub fn collector_config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = candor_collector::Config::parse(text) else {
        return;
    };
    let ingest = &config.ingest;
    assert!(ingest.max_body_bytes <= MAX_BATCH_BYTES);
    assert!(ingest.batch_max_reports >= 1);
    assert!(ingest.max_inflight_body_bytes >= ingest.max_body_bytes);
    // The body permits: a request never needs more than exist, so a body
    // within the limit can always be admitted when nothing else is in flight.
    let permits = ingest.inflight_body_kib();
    for declared in [None, Some(0), Some(ingest.max_body_bytes), Some(usize::MAX)] {
        let need = ingest.body_kib(declared) as usize;
        if declared.is_none_or(|n| n <= ingest.max_body_bytes) {
            assert!(need <= permits, "{need} KiB over {permits} permits");
        }
    }
    let dir = config.region_dir("eu");
    assert!(dir.starts_with(&config.data_dir));
}

/// `release::Query` from JSON (the body of `POST /v1/query`).
pub fn query_json(data: &[u8]) {
    let Ok(query) = serde_json::from_slice::<candor_collector::release::Query>(data) else {
        return;
    };
    let once = serde_json::to_string(&query).expect("a query serializes");
    let back: candor_collector::release::Query =
        serde_json::from_str(&once).expect("its JSON is a query");
    let twice = serde_json::to_string(&back).expect("serializes");
    assert_eq!(once, twice, "serializing is stable after one round trip");
    assert_eq!(back.region, query.region);
    assert_eq!(back.metric, query.metric);
    assert_eq!(back.group_by, query.group_by);
    assert_eq!(back.filters, query.filters);
}

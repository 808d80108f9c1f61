//! Hot paths of the device SDK.
//!
//! `cargo bench -p candor-sdk --bench sdk`. Figures go to BENCHMARKS.md.
//! - counter add / labeled counter add: the host app's cost per call
//!   (consent gate, validation, day check, one atomic add);
//! - domain record: URL parse, sanitizer, Public Suffix List, set insert;
//! - report build + seal: one day's usage report from the persisted
//!   aggregates: clamp, local DP, JSON, HPKE seal (no file I/O).

use std::hint::black_box;
use std::sync::Arc;

use candor_sdk::{Candor, Clock, Config, SystemClock};
use criterion::{Criterion, criterion_group, criterion_main};

fn sdk() -> (Candor, tempfile::TempDir) {
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/browser.toml"
    ))
    .expect("example schema");
    let schema = candor_schema::parse(&src, "browser.toml", time::macros::date!(2026 - 11 - 29))
        .expect("valid")
        .schema;
    let key = candor_protocol::KeyPair::derive("eu", 1, &[42; 32]).expect("key");
    let dir = tempfile::tempdir().expect("tempdir");
    let signing = candor_protocol::SigningKey::from_seed("eu", [43; 32]).expect("signing key");
    let now = SystemClock.now();
    let list = candor_protocol::KeyList {
        region: "eu".into(),
        serial: 1,
        issued_at: now,
        expires_at: now + 86_400,
        keys: vec![key.config().clone()],
    }
    .sign(&signing)
    .expect("signs");
    let mut config = Config::new(dir.path(), schema, signing.verifying_key());
    config.key_list = Some(list.to_json().into_bytes());
    // The production clock: every recording reads it to detect the day's end.
    config.clock = Arc::new(SystemClock);
    config.persist_interval = None;
    config
        .dimensions
        .insert("platform".into(), "android".into());
    let candor = Candor::open(config).expect("opens");
    for p in ["usage", "browsing"] {
        candor.grant(p).expect("grant");
    }
    (candor, dir)
}

fn bench(c: &mut Criterion) {
    let (candor, _dir) = sdk();
    let counter = candor.counter("browser.tabs_opened");
    c.bench_function("counter add", |b| b.iter(|| counter.add(black_box(1))));
    let labeled = candor.labeled_counter("app.opened");
    c.bench_function("labeled counter add", |b| {
        b.iter(|| labeled.add(black_box("camera"), black_box(1)))
    });
    let domains = candor.domain_set("browser.slow_domains");
    let urls: Vec<String> = (0..64)
        .map(|i| format!("https://www.site{i}.co.uk/path/page.html?q={i}#top"))
        .collect();
    let mut i = 0;
    c.bench_function("domain record", |b| {
        b.iter(|| {
            i = (i + 1) % urls.len();
            domains.record_url(black_box(&urls[i]));
        })
    });

    // A realistic day of usage: every usage metric recorded.
    candor.labeled_counter("app.opened").add("gallery", 3);
    candor.boolean("settings.dark_mode").set(true);
    candor.category("settings.text_size").set("large");
    candor.category("browser.default_search").set("ecosia");
    candor.boolean("system.battery_saver").set(false);
    candor.counter("browser.bookmarks_added").add(2);
    candor
        .distribution("browser.session_minutes")
        .accumulate(42);
    candor
        .distribution("system.storage_used_gb")
        .accumulate(100);
    candor.flush();
    assert!(candor.test_build_and_seal("usage").is_some());
    c.bench_function("report build + seal", |b| {
        b.iter(|| candor.test_build_and_seal(black_box("usage")))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

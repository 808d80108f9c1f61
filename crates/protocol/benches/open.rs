//! Cost of opening one envelope, per compiled [`OpenBackend`].
//!
//! `cargo bench -p candor-protocol --bench open` (the `hpke` crate only), and
//! `cargo bench -p candor-protocol --features fast-open --bench open` (both
//! backends). Figures go to BENCHMARKS.md ("HPKE open per backend").
//!
//! - `open/<backend>`: `Opener::open` of a day's usage report as devices
//!   seal it (decode, HPKE open, JSON decode, header checks), cycling over
//!   64 envelopes sealed to the same key with fresh ephemeral keys;
//! - `report json decode`: the JSON decode alone, the part of `open/*` no
//!   backend changes;
//! - `seal`: the device side, for scale.

use std::collections::BTreeMap;
use std::hint::black_box;

use candor_protocol::{Day, KeyPair, MetricValue, OpenBackend, Opener, Report, ReportId, seal};
use criterion::{Criterion, criterion_group, criterion_main};

/// A day of usage, shaped like what the SDK sends for examples/browser.toml.
fn report(n: u8) -> Report {
    let mut r = Report::new(
        ReportId([n; 16]),
        "org.example.browser",
        3,
        "usage",
        1,
        "eu",
        Day::from_ymd(2026, 11, 29).expect("valid day"),
    );
    for (k, v) in [
        ("app_version", "121.3"),
        ("os_major", "14"),
        ("platform", "android"),
    ] {
        r.dimensions.insert(k.into(), v.into());
    }
    let labels: BTreeMap<String, u64> = [("browser", 3), ("camera", 2), ("maps", 1)]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    let m = &mut r.metrics;
    m.insert("app.opened".into(), MetricValue::LabeledCounter(labels));
    m.insert("browser.tabs_opened".into(), MetricValue::Counter(12));
    m.insert("browser.pages_loaded".into(), MetricValue::Counter(87));
    m.insert("settings.dark_mode".into(), MetricValue::Boolean(true));
    m.insert(
        "settings.search_engine".into(),
        MetricValue::Category("default".into()),
    );
    m.insert(
        "browser.page_load_ms".into(),
        MetricValue::Distribution(vec![120, 340, 95, 810, 230, 410, 150]),
    );
    r
}

fn bench(c: &mut Criterion) {
    let keys = KeyPair::derive("eu", 1, &[42; 32]).expect("key");
    let envelopes: Vec<Vec<u8>> = (0..64)
        .map(|n| seal(&report(n), keys.config()).expect("seals"))
        .collect();
    println!(
        "envelope: {} bytes; backends compiled: {:?}",
        envelopes[0].len(),
        OpenBackend::ALL
    );
    for &backend in OpenBackend::ALL {
        let opener = Opener::new("eu", [keys.clone()])
            .expect("same region")
            .with_backend(backend);
        let mut i = 0;
        c.bench_function(&format!("open/{backend}"), |b| {
            b.iter(|| {
                i = (i + 1) % envelopes.len();
                black_box(opener.open(black_box(&envelopes[i])).expect("opens"))
            })
        });
    }
    let json = report(1).to_json().expect("json");
    c.bench_function("report json decode", |b| {
        b.iter(|| black_box(Report::from_json(black_box(&json)).expect("decodes")))
    });
    let r = report(1);
    c.bench_function("seal", |b| {
        b.iter(|| black_box(seal(black_box(&r), keys.config()).expect("seals")))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

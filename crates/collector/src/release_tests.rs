//! The release engine's guarantees as property and statistical tests, on
//! an in-memory store and the example schema.

use std::collections::BTreeMap;

use candor_privacy::ldp::RandomizedResponse;
use candor_store::sqlite::SqliteStore;
use candor_store::{BudgetFilter, Contribution, ReportDelta, RowKey, Store};
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use super::*;

const SCHEMA: &str = include_str!("../../../examples/browser.toml");
/// 2026-11-01 as a day number.
const DAY0: DayNumber = 20_758;

fn registry() -> Registry {
    let schema = candor_schema::parse(SCHEMA, "browser.toml", time::macros::date!(2026 - 11 - 29))
        .expect("the example schema is valid")
        .schema;
    Registry::new([schema])
}

fn admin() -> Scope {
    Scope {
        name: "test".into(),
        admin: true,
        regions: vec![],
        purposes: vec![],
    }
}

fn query(metric: &str, from: DayNumber, to: DayNumber, group_by: &[&str]) -> Query {
    Query {
        region: "eu".into(),
        metric: metric.into(),
        schema: None,
        from: format_day(from),
        to: format_day(to),
        group_by: group_by.iter().map(|s| (*s).to_owned()).collect(),
        filters: BTreeMap::new(),
        cells: vec![],
        epsilon: None,
    }
}

/// The row of `metric` on `day` with canonical dimensions `dims` and `cell`.
fn row(purpose: &str, metric: &str, day: DayNumber, dims: &str, cell: &str) -> RowKey {
    RowKey {
        schema_id: "org.example.browser".into(),
        day,
        purpose: purpose.into(),
        consent_version: if purpose == "diagnostics" { 2 } else { 1 },
        metric: metric.into(),
        dimensions: dims.into(),
        cell: cell.into(),
    }
}

/// One report per value, each adding its value to `key`.
fn reports(store: &mut dyn Store, key: RowKey, values: impl IntoIterator<Item = i64>) {
    let batch: Vec<ReportDelta> = values
        .into_iter()
        .map(|value| {
            let mut id = [0u8; 16];
            getrandom::fill(&mut id).expect("random id");
            ReportDelta {
                report_id: id,
                day: key.day,
                schema_id: key.schema_id.clone(),
                purpose: key.purpose.clone(),
                contributions: vec![Contribution {
                    key: key.clone(),
                    value,
                }],
            }
        })
        .collect();
    store.commit(&batch).expect("commit");
}

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

const PLATFORMS: [&str; 3] = ["android", "ios", "exampleos"];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// No released group has fewer than k_min distinct devices (its largest
    /// daily report count), for any data and any grouping, even when one
    /// device's daily reports add up over the range; every group is
    /// released or counted as suppressed.
    #[test]
    fn no_released_group_is_below_k(
        sizes in proptest::collection::vec(0usize..25, 9),
        by_day in any::<bool>(),
        by_platform in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut store = SqliteStore::open_in_memory().unwrap();
        // 3 days × 3 platforms, each (day, platform) with its own contributor count.
        let mut truth: BTreeMap<(DayNumber, &str), i64> = BTreeMap::new();
        for (i, &n) in sizes.iter().enumerate() {
            let (day, platform) = (DAY0 + (i / 3) as i32, PLATFORMS[i % 3]);
            if n > 0 {
                reports(&mut store, row("usage", "browser.bookmarks_added", day,
                    &format!("platform={platform}"), ""), (0..n).map(|j| j as i64 % 5));
            }
            truth.insert((day, platform), n as i64);
        }
        let mut group_by = vec![];
        if by_day { group_by.push("day"); }
        if by_platform { group_by.push("platform"); }
        let q = query("browser.bookmarks_added", DAY0, DAY0 + 2, &group_by);
        let a = release(&registry(), &mut store, &admin(), &q, 0, &mut rng(seed)).unwrap();
        // Each possible group's distinct devices, as far as they can be
        // known: its largest daily report count (one report per device
        // and day).
        let mut daily: BTreeMap<(Option<String>, Option<String>), BTreeMap<DayNumber, i64>> =
            BTreeMap::new();
        for ((day, platform), n) in &truth {
            if *n == 0 { continue; }
            let key = (by_day.then(|| format_day(*day)), by_platform.then(|| (*platform).to_owned()));
            *daily.entry(key).or_default().entry(*day).or_default() += n;
        }
        let groups: BTreeMap<_, i64> = daily
            .into_iter()
            .map(|(k, days)| (k, days.values().copied().max().unwrap_or(0)))
            .collect();
        for g in &a.groups {
            let key = (g.day.clone(), g.dimensions.get("platform").cloned());
            let n = groups.get(&key).copied().unwrap_or(0);
            prop_assert!(n >= 10, "group {key:?} released with {n} devices at most");
            prop_assert_eq!(g.k, 10);
        }
        let below = groups.values().filter(|&&n| n < 10).count() as u64;
        prop_assert_eq!(a.suppressed, Some(below));
        prop_assert_eq!(a.groups.len() + below as usize, groups.len());
    }

    /// The noise scale is the contribution bound over ε, for every metric
    /// and every ε the engine accepts (multiples of 0.001).
    #[test]
    fn noise_scale_is_bound_over_epsilon(metric_index in 0usize..14, milli in 1u32..=2000) {
        let registry = registry();
        let schema = registry.all().next().unwrap();
        let metric = schema.metrics.values().nth(metric_index).unwrap();
        prop_assume!(matches!(metric.release, Release::CentralDp { .. }));
        let epsilon = f64::from(milli) / 1000.0;
        let mut store = SqliteStore::open_in_memory().unwrap();
        let mut q = query(&metric.id, DAY0, DAY0, &[]);
        q.epsilon = Some(epsilon);
        let a = release(&registry, &mut store, &admin(), &q, 0, &mut rng(1)).unwrap();
        let bound = match metric.kind {
            MetricKind::Boolean | MetricKind::Category { .. } => 1,
            _ => metric.max_per_report,
        };
        prop_assert_eq!(a.contribution_bound, bound);
        let expected = bound as f64 / epsilon;
        let scale = a.noise_scale.unwrap();
        prop_assert!((scale - expected).abs() <= 1e-12 * expected, "{scale} vs {expected}");
        // And exactly, as the sampler's rational scale.
        let lap = DiscreteLaplace::for_epsilon(bound, epsilon).unwrap();
        prop_assert_eq!(
            u128::from(lap.scale().num()) * u128::from(milli),
            u128::from(bound) * 1000 * u128::from(lap.scale().den())
        );
    }

    /// Across any sequence of queries no day's spend exceeds its budget;
    /// a refused query spends nothing; a repeated query spends nothing and
    /// returns the same numbers.
    #[test]
    fn the_ledger_never_overspends_and_repeats_are_free(
        queries in proptest::collection::vec((0i32..6, 0i32..4, 1u32..=8, any::<bool>()), 1..25),
        seed in any::<u64>(),
    ) {
        let registry = registry();
        let mut store = SqliteStore::open_in_memory().unwrap();
        for day in DAY0..DAY0 + 9 {
            reports(&mut store, row("usage", "browser.tabs_opened", day,
                "app_version=121.3,platform=android", ""), 0..40);
        }
        let mut r = rng(seed);
        let limit = 2_000_000; // eu: 2.0 per metric and day
        let mut answers: BTreeMap<String, Answer> = BTreeMap::new();
        for (start, len, quarter, by_day) in queries {
            let mut q = query("browser.tabs_opened", DAY0 + start, DAY0 + start + len,
                if by_day { &["day"] } else { &[] });
            q.epsilon = Some(f64::from(quarter) * 0.25);
            let key = serde_json::to_string(&q).unwrap();
            let before = store.budget(&BudgetFilter::default()).unwrap();
            match release(&registry, &mut store, &admin(), &q, 0, &mut r) {
                Ok(a) => {
                    if let Some(first) = answers.get(&key) {
                        prop_assert!(a.cached);
                        prop_assert_eq!(&a.groups, &first.groups);
                        prop_assert_eq!(a.epsilon_spent, 0.0);
                        prop_assert_eq!(store.budget(&BudgetFilter::default()).unwrap(), before);
                    } else {
                        prop_assert!(!a.cached);
                        answers.insert(key, a);
                    }
                }
                Err(QueryError::BudgetExhausted { message }) => {
                    prop_assert!(message.contains("browser.tabs_opened"), "{}", message);
                    prop_assert_eq!(store.budget(&BudgetFilter::default()).unwrap(), before);
                }
                Err(e) => prop_assert!(false, "unexpected error {e}"),
            }
            for b in store.budget(&BudgetFilter::default()).unwrap() {
                prop_assert!(b.micros <= limit, "day {} spent {}", b.day, b.micros);
            }
        }
    }
}

/// The local-DP estimate is unbiased within its interval on simulated
/// populations: over many seeded populations the 95% interval covers the
/// true count about 95% of the time, and the mean error is near zero.
#[test]
fn local_dp_estimates_cover_the_truth() {
    let registry = registry();
    // settings.dark_mode: boolean, local DP at ε = 2, dimensions platform, os_major.
    let rr = RandomizedResponse::new(2.0, 2).unwrap();
    let (populations, n) = (60, 4_000usize);
    let mut covered = 0;
    let mut errors = Vec::new();
    for seed in 0..populations {
        let mut r = rng(1_000 + seed);
        let mut store = SqliteStore::open_in_memory().unwrap();
        let share = 0.1 + 0.8 * (seed as f64 / populations as f64);
        let mut truth = 0i64;
        let mut by_cell: BTreeMap<&str, usize> = BTreeMap::new();
        for _ in 0..n {
            let value = candor_privacy::bernoulli(share, &mut r);
            truth += i64::from(value);
            let sent = rr.randomize(usize::from(value), &mut r) == 1;
            *by_cell
                .entry(if sent { "true" } else { "false" })
                .or_default() += 1;
        }
        for (cell, count) in by_cell {
            reports(
                &mut store,
                row(
                    "usage",
                    "settings.dark_mode",
                    DAY0,
                    "os_major=14,platform=android",
                    cell,
                ),
                std::iter::repeat_n(1, count),
            );
        }
        let mut q = query("settings.dark_mode", DAY0, DAY0, &[]);
        q.cells = vec!["true".into()];
        let a = release(&registry, &mut store, &admin(), &q, 0, &mut r).unwrap();
        assert_eq!(a.mechanism, "randomized_response");
        assert_eq!(a.epsilon_spent, 0.0, "local DP spends no central budget");
        let g = &a.groups[0];
        if g.ci95[0] <= truth as f64 && truth as f64 <= g.ci95[1] {
            covered += 1;
        }
        errors.push((g.value - truth as f64) / n as f64);
    }
    // 95% nominal; with 60 populations, fewer than 51 covered would happen
    // with probability < 0.5% if the intervals were right.
    assert!(covered >= 51, "covered {covered} of {populations}");
    let mean = errors.iter().sum::<f64>() / errors.len() as f64;
    assert!(mean.abs() < 0.01, "mean relative error {mean}");
}

/// Central noise: over many releases of the same count, the values average
/// to the truth, spread with the discrete Laplace variance, and the stated
/// 95% interval covers the truth about 95% of the time.
#[test]
fn central_noise_is_unbiased_and_its_interval_covers() {
    let registry = registry();
    let mut store = SqliteStore::open_in_memory().unwrap();
    let mut r = rng(7);
    let (n, truth) = (2_000, 150.0);
    let mut values = Vec::new();
    let mut covered = 0;
    // A day's budget (2.0) allows four releases at ε = 0.5, so each sample
    // is the same count (10 reports of 15) on its own day.
    for i in 0..n {
        let day = DAY0 + i;
        reports(
            &mut store,
            row("usage", "browser.bookmarks_added", day, "platform=ios", ""),
            std::iter::repeat_n(15, 10),
        );
        let q = query("browser.bookmarks_added", day, day, &[]);
        let a = release(&registry, &mut store, &admin(), &q, 0, &mut r).unwrap();
        let g = &a.groups[0];
        values.push(g.value);
        if g.ci95[0] <= truth && truth <= g.ci95[1] {
            covered += 1;
        }
    }
    let scale: f64 = 50.0 / 0.5; // bound 50, ε 0.5
    let p = (-1.0 / scale).exp();
    let variance = 2.0 * p / (1.0 - p).powi(2);
    let count = f64::from(n);
    let mean = values.iter().sum::<f64>() / count;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (count - 1.0);
    // 5 standard errors each: the mean's is √(σ²/n); the sample
    // variance's relative one is √((κ − 1)/n) with kurtosis κ = 6.
    assert!(
        (mean - truth).abs() < 5.0 * (variance / count).sqrt(),
        "mean {mean}"
    );
    assert!(
        (var / variance - 1.0).abs() < 5.0 * (5.0 / count).sqrt(),
        "variance {var} vs {variance}"
    );
    let coverage = f64::from(covered) / count;
    assert!((0.93..=0.975).contains(&coverage), "coverage {coverage}");
}

#[test]
fn scope_limits_regions_and_purposes() {
    let registry = registry();
    let mut store = SqliteStore::open_in_memory().unwrap();
    let analyst = Scope {
        name: "ana".into(),
        admin: false,
        regions: vec!["eu".into()],
        purposes: vec!["usage".into()],
    };
    let ok = query("browser.tabs_opened", DAY0, DAY0, &[]);
    assert!(release(&registry, &mut store, &analyst, &ok, 0, &mut rng(1)).is_ok());
    let mut other_region = ok.clone();
    other_region.region = "in".into();
    assert!(matches!(
        release(
            &registry,
            &mut store,
            &analyst,
            &other_region,
            0,
            &mut rng(1)
        ),
        Err(QueryError::Forbidden(_))
    ));
    let browsing = query("browser.slow_domains", DAY0, DAY0, &[]);
    assert!(matches!(
        release(&registry, &mut store, &analyst, &browsing, 0, &mut rng(1)),
        Err(QueryError::Forbidden(_))
    ));
    // Refusals are not logged as queries; the one answered query is.
    assert_eq!(store.audit_log().unwrap().0.len(), 1);
}

#[test]
fn rare_domains_never_appear_and_common_ones_do() {
    let registry = registry();
    let mut store = SqliteStore::open_in_memory().unwrap();
    // Threshold at ε = 1, Δ = 20, δ = 1e-8 is about 1 + 20·ln(20/(2e-8)) ≈ 415.
    reports(
        &mut store,
        row(
            "browsing",
            "browser.slow_domains",
            DAY0,
            "platform=android",
            "popular.example",
        ),
        std::iter::repeat_n(1, 2_000),
    );
    for i in 0..200 {
        reports(
            &mut store,
            row(
                "browsing",
                "browser.slow_domains",
                DAY0,
                "platform=android",
                &format!("rare{i}.example"),
            ),
            std::iter::repeat_n(1, 12),
        );
    }
    let a = release(
        &registry,
        &mut store,
        &admin(),
        &query("browser.slow_domains", DAY0, DAY0, &[]),
        0,
        &mut rng(3),
    )
    .unwrap();
    let cells: Vec<&str> = a.groups.iter().filter_map(|g| g.cell.as_deref()).collect();
    assert_eq!(cells, ["popular.example"]);
    assert_eq!(
        a.suppressed, None,
        "the number of rare domains is not disclosed"
    );
    assert!(a.threshold.unwrap() > 400.0);
    assert_eq!(a.mechanism, "discrete_laplace_threshold");
}

#[test]
fn budget_refusal_names_metric_days_and_remaining() {
    let registry = registry();
    let mut store = SqliteStore::open_in_memory().unwrap();
    let mut q = query("browser.tabs_opened", DAY0, DAY0 + 2, &[]);
    q.epsilon = Some(1.5);
    release(&registry, &mut store, &admin(), &q, 0, &mut rng(1)).unwrap();
    let mut again = q.clone();
    again.group_by = vec!["day".into()];
    let err = release(&registry, &mut store, &admin(), &again, 0, &mut rng(1)).unwrap_err();
    let message = err.to_string();
    assert_eq!(err.code(), "budget_exhausted");
    for needle in [
        "browser.tabs_opened",
        "2026-11-01",
        "2026-11-03",
        "0.5 left",
    ] {
        assert!(
            message.contains(needle),
            "{needle:?} missing from {message:?}"
        );
    }
}

#[test]
fn bad_queries_have_stable_codes_and_change_nothing() {
    let registry = registry();
    let mut store = SqliteStore::open_in_memory().unwrap();
    let base = query("app.opened", DAY0, DAY0, &[]);
    type Change = Box<dyn Fn(&mut Query)>;
    let cases: Vec<(Change, &str)> = vec![
        (Box::new(|q| q.metric = "nope".into()), "unknown_metric"),
        (Box::new(|q| q.region = "mars".into()), "unknown_region"),
        (
            Box::new(|q| q.group_by = vec!["app_version".into()]),
            "unknown_dimension",
        ),
        (
            Box::new(|q| {
                q.filters.insert("platform".into(), vec!["windows".into()]);
            }),
            "unknown_dimension",
        ),
        (Box::new(|q| q.cells = vec!["nope".into()]), "unknown_cell"),
        (Box::new(|q| q.epsilon = Some(0.0)), "invalid_epsilon"),
        (Box::new(|q| q.epsilon = Some(5.0)), "invalid_epsilon"),
        (Box::new(|q| q.from = "2026-13-01".into()), "invalid_query"),
        (Box::new(|q| q.to = "2026-10-01".into()), "invalid_query"),
        (Box::new(|q| q.from = "2025-01-01".into()), "invalid_query"),
    ];
    for (change, code) in cases {
        let mut q = base.clone();
        change(&mut q);
        let err = release(&registry, &mut store, &admin(), &q, 0, &mut rng(1)).unwrap_err();
        assert_eq!(err.code(), code, "{q:?}: {err}");
    }
    assert!(store.budget(&BudgetFilter::default()).unwrap().is_empty());
    assert!(store.audit_log().unwrap().0.is_empty());
}

#[test]
fn labeled_counters_release_cells_with_totals_and_shares() {
    let registry = registry();
    let mut store = SqliteStore::open_in_memory().unwrap();
    let dims = "os_major=14,platform=android";
    reports(
        &mut store,
        row("usage", "app.opened", DAY0, dims, "camera"),
        std::iter::repeat_n(10, 500),
    );
    reports(
        &mut store,
        row("usage", "app.opened", DAY0, dims, "gallery"),
        std::iter::repeat_n(2, 500),
    );
    reports(
        &mut store,
        row("usage", "app.opened", DAY0, dims, "maps"),
        std::iter::repeat_n(1, 3),
    );
    let a = release(
        &registry,
        &mut store,
        &admin(),
        &query("app.opened", DAY0, DAY0, &[]),
        0,
        &mut rng(5),
    )
    .unwrap();
    let cells: Vec<&str> = a.groups.iter().filter_map(|g| g.cell.as_deref()).collect();
    assert_eq!(
        cells,
        ["camera", "gallery"],
        "maps has 3 contributors, below k"
    );
    let labels = registry
        .all()
        .next()
        .unwrap()
        .metric("app.opened")
        .unwrap()
        .closed_set()
        .unwrap()
        .len();
    assert_eq!(a.suppressed, Some(labels as u64 - 2));
    assert_eq!(a.totals.len(), 1);
    let total = a.totals[0].value;
    assert_eq!(total, a.groups.iter().map(|g| g.value).sum::<f64>());
    let shares: f64 = a.groups.iter().filter_map(|g| g.share).sum();
    assert!((shares - 1.0).abs() < 1e-9);
    // Values are near the truth (scale 100/0.5 = 200).
    assert!((a.groups[0].value - 5_000.0).abs() < 3_000.0);
}

/// A device reporting every day is one device: nine days of the same five
/// reports a day do not make a group of 45.
#[test]
fn k_counts_devices_not_reports_across_days() {
    let registry = registry();
    let mut store = SqliteStore::open_in_memory().unwrap();
    for day in DAY0..DAY0 + 9 {
        reports(
            &mut store,
            row("usage", "browser.bookmarks_added", day, "platform=ios", ""),
            std::iter::repeat_n(1, 5),
        );
    }
    let q = query("browser.bookmarks_added", DAY0, DAY0 + 8, &[]);
    let a = release(&registry, &mut store, &admin(), &q, 0, &mut rng(2)).unwrap();
    assert!(a.groups.is_empty(), "5 devices a day is below k = 10");
    assert_eq!(a.suppressed, Some(1));
    // Ten on one day of the range is enough: at least ten devices.
    reports(
        &mut store,
        row(
            "usage",
            "browser.bookmarks_added",
            DAY0 + 4,
            "platform=ios",
            "",
        ),
        std::iter::repeat_n(1, 5),
    );
    let mut q = q;
    q.epsilon = Some(0.25);
    let a = release(&registry, &mut store, &admin(), &q, 0, &mut rng(2)).unwrap();
    assert_eq!(a.groups.len(), 1);
}

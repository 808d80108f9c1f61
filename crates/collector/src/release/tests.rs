//! The release engine's guarantees as property and statistical tests, on
//! an in-memory store and the example schema. Data is written the way
//! ingest writes it: reports built as [`Report`]s and reduced by
//! [`crate::validate::to_delta`], so every test sees the report-count rows
//! too.
//!
//! The attacker's probes (acceptance of "Differential privacy with no side
//! channel") compare two neighbouring datasets, one report apart, and run
//! the engine's read-and-release step ([`compute`]) many times on each: no
//! decision and no number may tell them apart with certainty, and their
//! rates may differ by at most the `e^ε` factor the budget was charged for.

use std::collections::{BTreeMap, BTreeSet};

use candor_privacy::dp::DiscreteLaplace;
use candor_privacy::ldp::RandomizedResponse;
use candor_protocol::{Day, MetricValue, Report, ReportId};
use candor_store::{BudgetFilter, Store};
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde_json::Value;

use super::*;
use crate::validate::{DayWindow, to_delta};
use candor_privacy::budget::Caps;
use candor_schema::{MetricKind, Release, Schema};

const SCHEMA: &str = include_str!("../../../../examples/browser.toml");
/// 2026-11-01 as a day number.
const DAY0: DayNumber = 20_758;

/// The example schema, parsed once (tests build thousands of reports).
fn schema() -> &'static Schema {
    static SCHEMA_ONCE: std::sync::OnceLock<Schema> = std::sync::OnceLock::new();
    SCHEMA_ONCE.get_or_init(|| {
        candor_schema::parse(SCHEMA, "browser.toml", time::macros::date!(2026 - 11 - 29))
            .expect("the example schema is valid")
            .schema
    })
}

fn registry() -> Registry {
    Registry::new([schema().clone()])
}

/// The example schema with region eu's caps raised, for statistical tests
/// that release the same day many times (the ledger is tested elsewhere).
fn roomy_registry() -> Registry {
    let mut s = schema().clone();
    let eu = s.regions.get_mut("eu").expect("eu");
    eu.epsilon_per_metric_day = 1e5;
    eu.epsilon_per_purpose_day = 1e5;
    eu.delta_per_purpose_day = 1.0;
    Registry::new([s])
}

fn admin() -> Scope {
    Scope {
        name: "test".into(),
        admin: true,
        regions: vec![],
        purposes: vec![],
    }
}

/// A window in which every day up to `DAY0 + 400` is closed.
fn late() -> DayWindow {
    DayWindow {
        today: DAY0 + 500,
        past_override: None,
        future: 1,
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

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// One report of `metric` on `day` with `dims` (raw `id=value` pairs) and
/// `value`, reduced as ingest reduces it.
fn report(metric: &str, day: DayNumber, dims: &[(&str, &str)], value: MetricValue) -> Report {
    let s = schema();
    let m = s.metric(metric).expect("declared");
    let purpose = s.purpose(&m.purpose).expect("declared");
    let mut r = Report::new(
        ReportId::random().expect("random id"),
        s.id.clone(),
        s.version,
        m.purpose.clone(),
        purpose.consent_version,
        "eu",
        Day::parse(&format_day(day)).expect("a day"),
    );
    for (d, v) in dims {
        r.dimensions.insert((*d).into(), (*v).into());
    }
    r.metrics.insert(metric.into(), value);
    r
}

/// Commits reports through the validator, as ingest does.
fn ingest(store: &mut dyn Store, reports: &[Report]) {
    static REGISTRY: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    let registry = REGISTRY.get_or_init(registry);
    let today = time::macros::date!(2026 - 11 - 29);
    let window = DayWindow {
        today: DAY0,
        past_override: Some(10_000),
        future: 10_000,
    };
    let deltas: Vec<_> = reports
        .iter()
        .map(|r| to_delta(registry, r, window, today).expect("a valid report"))
        .collect();
    store.commit(&deltas).expect("commit");
}

/// `n` reports of `metric` on `day`, each with `value`.
fn many(
    store: &mut dyn Store,
    n: usize,
    metric: &str,
    day: DayNumber,
    dims: &[(&str, &str)],
    value: MetricValue,
) {
    let reports: Vec<Report> = (0..n)
        .map(|_| report(metric, day, dims, value.clone()))
        .collect();
    ingest(store, &reports);
}

fn labels(pairs: &[(&str, u64)]) -> MetricValue {
    MetricValue::LabeledCounter(pairs.iter().map(|(l, n)| ((*l).into(), *n)).collect())
}

fn domains(names: &[&str]) -> MetricValue {
    MetricValue::DomainSet(names.iter().map(|d| (*d).to_owned()).collect())
}

/// Runs the read-and-release step `trials` times on `store` (no ledger, no
/// cache: the probes repeat the same question on purpose) and counts the
/// answers for which `event` holds.
fn rate(
    registry: &Registry,
    store: &dyn Store,
    q: &Query,
    trials: u32,
    seed: u64,
    event: impl Fn(&Answer) -> bool,
) -> f64 {
    let plan = plan(registry, &admin(), q, &late()).expect("a valid query");
    let mut r = rng(seed);
    let hits = (0..trials)
        .filter(|_| event(&compute(&plan, store, &mut r).expect("released")))
        .count();
    hits as f64 / f64::from(trials)
}

/// Asserts that two release rates of neighbouring datasets are within the
/// `e^ε` factor (on both the event and its complement, plus δ), allowing 4
/// standard errors of sampling noise, and that neither is certain.
fn assert_neighbours(p0: f64, p1: f64, epsilon: f64, delta: f64, trials: u32, what: &str) {
    let se = |p: f64| (p.max(1e-3) * (1.0 - p).max(1e-3) / f64::from(trials)).sqrt();
    let slack = 4.0 * (se(p0) + se(p1));
    let factor = epsilon.exp();
    for (a, b) in [
        (p0, p1),
        (p1, p0),
        (1.0 - p0, 1.0 - p1),
        (1.0 - p1, 1.0 - p0),
    ] {
        assert!(
            a <= factor * b + delta + slack * (1.0 + factor),
            "{what}: rates {p0} and {p1} differ by more than e^{epsilon}"
        );
    }
}

/// Every numeric leaf of an answer's JSON, by path (arrays by index).
fn leaves(value: &Value, path: String, out: &mut BTreeMap<String, String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                leaves(v, format!("{path}.{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                leaves(v, format!("{path}[{i}]"), out);
            }
        }
        other => {
            out.insert(path, other.to_string());
        }
    }
}

/// The paths of an answer whose value is the same in every one of `runs`
/// releases, with that value. A path that is sometimes absent, or that
/// varies, is not constant.
fn constant_paths(runs: &[Answer]) -> BTreeMap<String, String> {
    let mut seen: Vec<BTreeMap<String, String>> = Vec::new();
    for a in runs {
        let mut m = BTreeMap::new();
        leaves(
            &serde_json::to_value(a).expect("json"),
            String::new(),
            &mut m,
        );
        seen.push(m);
    }
    let first = seen[0].clone();
    first
        .into_iter()
        .filter(|(path, v)| seen.iter().all(|m| m.get(path) == Some(v)))
        .collect()
}

/// The no-exact-number check: released many times over two neighbouring
/// datasets, every field of the answer is either noisy (varies) or the same
/// on both datasets (a parameter of the release). A field that is constant
/// on each dataset but differs between them would be an exact function of
/// the data.
fn assert_no_exact_field(q: &Query, a: &dyn Store, b: &dyn Store) {
    let registry = roomy_registry();
    let plan = plan(&registry, &admin(), q, &late()).expect("a valid query");
    let mut r = rng(11);
    let runs = |s: &dyn Store, r: &mut ChaCha20Rng| -> Vec<Answer> {
        (0..200)
            .map(|_| compute(&plan, s, r).expect("released"))
            .collect()
    };
    let (ca, cb) = (
        constant_paths(&runs(a, &mut r)),
        constant_paths(&runs(b, &mut r)),
    );
    for (path, va) in &ca {
        if let Some(vb) = cb.get(path) {
            assert_eq!(
                va, vb,
                "{}: field {path} is exact: {va} on one dataset, {vb} on its neighbour",
                q.metric
            );
        }
    }
}

// ---------------------------------------------------------------------------
// The attacker's probes
// ---------------------------------------------------------------------------

/// The rare-domain probe of the audit: a domain named by 9 devices on each
/// of 30 days, with and without one more report naming it. Before, k on
/// exact counts released it 0 of 20 times without the report and 20 of 20
/// with it. Now the domain's fate hangs on a noisy count against τ: at that
/// size it is (almost) never shown either way, and near τ the two rates
/// differ by at most e^ε.
#[test]
fn rare_domain_probe_is_bounded_by_epsilon() {
    let registry = roomy_registry();
    let trials = 1_500;
    let q = query("browser.slow_domains", DAY0, DAY0 + 29, &[]);
    let shows = |a: &Answer| {
        a.groups
            .iter()
            .any(|g| g.cell.as_deref() == Some("rare-site.com"))
    };
    let dims = [("platform", "android")];
    let mut without = candor_store::open_in_memory().unwrap();
    for day in DAY0..DAY0 + 30 {
        many(
            &mut without,
            9,
            "browser.slow_domains",
            day,
            &dims,
            domains(&["rare-site.com"]),
        );
    }
    let mut with = candor_store::open_in_memory().unwrap();
    for day in DAY0..DAY0 + 30 {
        let n = if day == DAY0 + 7 { 10 } else { 9 };
        many(
            &mut with,
            n,
            "browser.slow_domains",
            day,
            &dims,
            domains(&["rare-site.com"]),
        );
    }
    let p0 = rate(&registry, &without, &q, trials, 1, shows);
    let p1 = rate(&registry, &with, &q, trials, 2, shows);
    assert_neighbours(
        p0,
        p1,
        1.0,
        1e-8,
        trials,
        "rare domain, 270 vs 271 mentions",
    );
    // Near the threshold τ ≈ 416 (Δ = 20, ε = 1, δ = 1e-8) the decision is
    // genuinely random, and one report moves it by at most e^ε.
    let plan = plan(&registry, &admin(), &q, &late()).unwrap();
    let tau = compute(&plan, &without, &mut rng(3))
        .unwrap()
        .threshold
        .unwrap();
    let near = tau.round() as usize;
    let mut a = candor_store::open_in_memory().unwrap();
    many(
        &mut a,
        near,
        "browser.slow_domains",
        DAY0,
        &dims,
        domains(&["rare-site.com"]),
    );
    let mut b = candor_store::open_in_memory().unwrap();
    many(
        &mut b,
        near + 1,
        "browser.slow_domains",
        DAY0,
        &dims,
        domains(&["rare-site.com"]),
    );
    let p0 = rate(&registry, &a, &q, trials, 4, shows);
    let p1 = rate(&registry, &b, &q, trials, 5, shows);
    assert!(p0 > 0.2 && p0 < 0.8, "near τ the decision is random: {p0}");
    assert_neighbours(p0, p1, 1.0, 1e-8, trials, "domain near τ");
    assert_no_exact_field(&q, &a, &b);
}

/// The k-boundary probe: `app.opened` for platform=android, os_major=14 was
/// suppressed at 9 devices and released at 10, every time. Now the group's
/// device count is noisy: both are released sometimes, at rates within
/// e^ε_s of each other, and the camera value is noisy too.
#[test]
fn k_boundary_probe_is_bounded_by_epsilon() {
    let registry = roomy_registry();
    let trials = 3_000;
    let mut q = query("app.opened", DAY0, DAY0, &[]);
    q.filters.insert("platform".into(), vec!["android".into()]);
    q.filters.insert("os_major".into(), vec!["14".into()]);
    let dims = [("platform", "android"), ("os_major", "14")];
    let store = |n: usize| {
        let mut s = candor_store::open_in_memory().unwrap();
        many(
            &mut s,
            n,
            "app.opened",
            DAY0,
            &dims,
            labels(&[("camera", 3)]),
        );
        s
    };
    let (nine, ten) = (store(9), store(10));
    let shown = |a: &Answer| !a.groups.is_empty();
    let p9 = rate(&registry, &nine, &q, trials, 1, shown);
    let p10 = rate(&registry, &ten, &q, trials, 2, shown);
    assert!(p9 > 0.1 && p10 < 0.9, "neither is certain: {p9}, {p10}");
    let epsilon_s = 0.5 * SELECTION_SHARE;
    assert_neighbours(p9, p10, epsilon_s, 0.0, trials, "9 vs 10 devices");
    assert_no_exact_field(&q, &nine, &ten);
}

/// The `app_version=999.1` probe: `suppressed` went from 0 to 1 the moment
/// a single device with that version reported. Now it comes from a noisy
/// count: 0 and 1 device are told apart only at the e^ε_s rate.
#[test]
fn filter_on_an_unseen_value_probe_is_bounded_by_epsilon() {
    let registry = roomy_registry();
    let trials = 3_000;
    let mut q = query("browser.tabs_opened", DAY0, DAY0, &[]);
    q.filters.insert("app_version".into(), vec!["999.1".into()]);
    let empty = candor_store::open_in_memory().unwrap();
    let mut one = candor_store::open_in_memory().unwrap();
    many(
        &mut one,
        1,
        "browser.tabs_opened",
        DAY0,
        &[("platform", "ios"), ("app_version", "999.1")],
        MetricValue::Counter(7),
    );
    let suppressed = |a: &Answer| a.suppressed == Some(1);
    let p0 = rate(&registry, &empty, &q, trials, 1, suppressed);
    let p1 = rate(&registry, &one, &q, trials, 2, suppressed);
    assert!(p0 > 0.5 && p0 < 1.0 && p1 < 1.0, "{p0}, {p1}");
    let epsilon_s = 0.25 * SELECTION_SHARE;
    assert_neighbours(p0, p1, epsilon_s, 0.0, trials, "0 vs 1 device of 999.1");
    assert_no_exact_field(&q, &empty, &one);
}

/// Grouping by an open dimension (`app_version` takes any well-formed
/// value) released the exact set of versions with ≥ k devices. Now it is an
/// open-set selection: a version only one device reported appears with
/// probability at most δ, δ is charged, and `suppressed` is not given.
#[test]
fn grouping_by_an_open_dimension_thresholds_like_domains() {
    let registry = roomy_registry();
    let mut store = candor_store::open_in_memory().unwrap();
    many(
        &mut store,
        600,
        "browser.tabs_opened",
        DAY0,
        &[("platform", "ios"), ("app_version", "122.0")],
        MetricValue::Counter(3),
    );
    many(
        &mut store,
        1,
        "browser.tabs_opened",
        DAY0,
        &[("platform", "ios"), ("app_version", "999.1")],
        MetricValue::Counter(3),
    );
    let q = query("browser.tabs_opened", DAY0, DAY0, &["app_version"]);
    let plan = plan(&registry, &admin(), &q, &late()).unwrap();
    assert_eq!(plan.delta, 1e-8, "an open selection spends the metric's δ");
    let mut r = rng(9);
    for _ in 0..300 {
        let a = compute(&plan, &store, &mut r).unwrap();
        let versions: Vec<&str> = a
            .groups
            .iter()
            .map(|g| g.dimensions["app_version"].as_str())
            .collect();
        assert_eq!(versions, ["122.0"]);
        assert_eq!(a.suppressed, None);
        assert_eq!(a.delta, Some(1e-8));
        assert!(a.threshold.unwrap() > f64::from(a.k_min));
    }
    // Filtered to a declared list, the same dimension is a closed set.
    let mut closed = q.clone();
    closed
        .filters
        .insert("app_version".into(), vec!["122.0".into(), "999.1".into()]);
    let plan = super::plan(&registry, &admin(), &closed, &late()).unwrap();
    assert_eq!(plan.delta, 0.0);
    let a = compute(&plan, &store, &mut r).unwrap();
    assert!(a.suppressed.is_some());
    assert_eq!(a.threshold, Some(f64::from(a.k_min)));
}

/// Local DP: the randomized counts gave away the exact number of reports
/// (the estimates summed to it, and one value with its interval gave it
/// back). The recovery that worked then is tried on the new releases and
/// mostly fails; on exact counts it always succeeds, so the attack is real.
#[test]
fn exact_report_count_cannot_be_recovered_from_local_dp_releases() {
    let registry = roomy_registry();
    let rr = RandomizedResponse::new(2.0, 2).unwrap();
    let mut r = rng(21);
    let (trials, mut recovered) = (200, 0);
    for t in 0..trials {
        let n = 40 + t % 25;
        let mut store = candor_store::open_in_memory().unwrap();
        let reports: Vec<Report> = (0..n)
            .map(|i| {
                let sent = rr.randomize(usize::from(i % 3 == 0), &mut r) == 1;
                report(
                    "settings.dark_mode",
                    DAY0,
                    &[("platform", "android"), ("os_major", "14")],
                    MetricValue::Boolean(sent),
                )
            })
            .collect();
        ingest(&mut store, &reports);
        let mut q = query("settings.dark_mode", DAY0, DAY0, &[]);
        q.filters.insert("platform".into(), vec!["android".into()]);
        let plan = plan(&registry, &admin(), &q, &late()).unwrap();
        let a = compute(&plan, &store, &mut r).unwrap();
        if a.groups.len() < 2 {
            continue;
        }
        // Attack 1: the estimates of all cells sum to n.
        let sum: f64 = a.groups.iter().map(|g| g.value).sum();
        // Attack 2: a cell's interval half-width pins n (for a boolean the
        // variance does not depend on the cell's count).
        let g = &a.groups[0];
        let half = (g.ci95[1] - g.ci95[0]) / 2.0;
        let d = rr.p_keep() - rr.q_other();
        let from_width =
            (half * d / 1.959_963_984_540_054).powi(2) / (rr.q_other() * (1.0 - rr.q_other()));
        if sum.round() as usize == n || from_width.round() as usize == n {
            recovered += 1;
        }
        // The same attack on exact counts recovers n every time.
        let exact = rr.estimate_noisy(0, n as i64, 0.0, 1).value
            + rr.estimate_noisy(n as i64, n as i64, 0.0, 1).value;
        assert!((exact - n as f64).abs() < 1e-6);
    }
    assert!(
        recovered * 5 < trials,
        "n recovered exactly in {recovered} of {trials} releases"
    );
}

/// The local-DP release spends its count ε, and the noisy counts keep the
/// estimate unbiased and its interval honest.
#[test]
fn local_dp_estimates_cover_the_truth() {
    let registry = registry();
    let rr = RandomizedResponse::new(2.0, 2).unwrap();
    let (populations, n) = (60u64, 2_000usize);
    let mut covered = 0;
    let mut errors = Vec::new();
    for seed in 0..populations {
        let mut r = rng(1_000 + seed);
        let mut store = candor_store::open_in_memory().unwrap();
        let share = 0.1 + 0.8 * (seed as f64 / populations as f64);
        let mut truth = 0i64;
        let reports: Vec<Report> = (0..n)
            .map(|_| {
                let value = candor_privacy::bernoulli(share, &mut r);
                truth += i64::from(value);
                let sent = rr.randomize(usize::from(value), &mut r) == 1;
                report(
                    "settings.dark_mode",
                    DAY0,
                    &[("platform", "android"), ("os_major", "14")],
                    MetricValue::Boolean(sent),
                )
            })
            .collect();
        ingest(&mut store, &reports);
        let mut q = query("settings.dark_mode", DAY0, DAY0, &[]);
        q.cells = vec!["true".into()];
        let a = release(&registry, &mut store, &admin(), &q, 0, &late(), &mut r).unwrap();
        assert_eq!(a.mechanism, "randomized_response");
        assert_eq!(a.epsilon_spent, 0.25, "the count ε is charged");
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

/// A client written from docs/wire.md §2.4 alone (not the SDK, not
/// candor-privacy's encoder): k-ary randomized response with
/// `p = e^ε/(e^ε + k − 1)`, the answer drawn once per device. The engine's
/// estimate of its reports covers the truth.
#[test]
fn a_spec_only_randomized_response_client_is_debiased() {
    // The spec's client: a tiny xorshift generator, floating point coins.
    struct Client(u64);
    impl Client {
        fn uniform(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
        /// The spec: keep the true index with probability p, else one of the
        /// other k − 1 uniformly.
        fn answer(&mut self, truth: usize, k: usize, epsilon: f64) -> usize {
            let e = epsilon.exp();
            let p = e / (e + k as f64 - 1.0);
            if self.uniform() < p {
                return truth;
            }
            let other = ((self.uniform() * (k - 1) as f64) as usize).min(k - 2);
            if other >= truth { other + 1 } else { other }
        }
    }
    let registry = roomy_registry();
    let s = schema();
    let MetricKind::Category { categories } = &s.metric("settings.text_size").unwrap().kind else {
        panic!("text_size is a category");
    };
    let shares = [0.1, 0.6, 0.25, 0.05];
    let n = 3_000;
    let mut client = Client(0x9e37_79b9_7f4a_7c15);
    let mut truth = [0usize; 4];
    let mut store = candor_store::open_in_memory().unwrap();
    let reports: Vec<Report> = (0..n)
        .map(|i| {
            let u = (i as f64 + 0.5) / n as f64;
            let mut acc = 0.0;
            let v = shares
                .iter()
                .position(|s| {
                    acc += s;
                    u < acc
                })
                .unwrap_or(3);
            truth[v] += 1;
            let sent = client.answer(v, categories.len(), 1.5);
            report(
                "settings.text_size",
                DAY0,
                &[("platform", "ios")],
                MetricValue::Category(categories[sent].clone()),
            )
        })
        .collect();
    ingest(&mut store, &reports);
    let q = query("settings.text_size", DAY0, DAY0, &[]);
    let mut covered = 0;
    let trials = 40;
    let mut r = rng(5);
    let plan = plan(&registry, &admin(), &q, &late()).unwrap();
    for _ in 0..trials {
        let a = compute(&plan, &store, &mut r).unwrap();
        assert_eq!(a.groups.len(), 4);
        for (g, &t) in a.groups.iter().zip(&truth) {
            if g.ci95[0] <= t as f64 && t as f64 <= g.ci95[1] {
                covered += 1;
            }
        }
    }
    // 160 intervals at 95%: fewer than 140 covered would be broken.
    assert!(covered >= 140, "covered {covered} of {}", 4 * trials);
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// A closed set of candidate groups is released or counted as
    /// suppressed, group by group, for any data and grouping: nothing is
    /// dropped silently and nothing invented outside the candidates.
    #[test]
    fn every_candidate_is_shown_or_counted(
        sizes in proptest::collection::vec(0usize..25, 9),
        by_day in any::<bool>(),
        by_platform in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut store = candor_store::open_in_memory().unwrap();
        for (i, &n) in sizes.iter().enumerate() {
            let (day, platform) = (DAY0 + (i / 3) as i32, ["android", "ios", "exampleos"][i % 3]);
            many(&mut store, n, "browser.bookmarks_added", day, &[("platform", platform)],
                MetricValue::Counter(2));
        }
        let mut group_by = vec![];
        if by_day { group_by.push("day"); }
        if by_platform { group_by.push("platform"); }
        let q = query("browser.bookmarks_added", DAY0, DAY0 + 2, &group_by);
        let a = release(&registry(), &mut store, &admin(), &q, 0, &late(), &mut rng(seed)).unwrap();
        let candidates = if by_day { 3 } else { 1 } * if by_platform { 3 } else { 1 };
        prop_assert_eq!(a.groups.len() as u64 + a.suppressed.unwrap(), candidates);
        let keys: BTreeSet<_> = a.groups.iter().map(|g| (g.day.clone(), g.dimensions.clone())).collect();
        prop_assert_eq!(keys.len(), a.groups.len());
        prop_assert_eq!(a.threshold, Some(10.0));
    }

    /// The noise scales are Δ/ε_v for the values and 1/ε_s for the
    /// selection, with ε_v + ε_s ≤ ε (each rounded towards more noise), for
    /// every metric and every ε the engine accepts.
    #[test]
    fn noise_scales_split_epsilon(metric_index in 0usize..15, milli in 4u32..=1000) {
        let registry = registry();
        let schema = registry.all().next().unwrap();
        let metric = schema.metrics.values().nth(metric_index).unwrap();
        let epsilon = f64::from(milli) / 1000.0;
        let mut store = candor_store::open_in_memory().unwrap();
        let mut q = query(&metric.id, DAY0, DAY0, &[]);
        if metric.kind.cohort_weeks().is_some() {
            // An activity release names its cells (daily ones here).
            q.cells = vec!["new".into(), "today".into()];
        }
        q.epsilon = Some(epsilon);
        let a = release(&registry, &mut store, &admin(), &q, 0, &late(), &mut rng(1)).unwrap();
        let bound = metric.contribution_bound_over(&q.cells);
        prop_assert_eq!(a.contribution_bound, bound);
        prop_assert_eq!(a.epsilon_spent, epsilon);
        let value = a.noise_scale.unwrap();
        if matches!(metric.kind, MetricKind::DomainSet) {
            let lap = DiscreteLaplace::for_epsilon(bound, epsilon).unwrap();
            prop_assert_eq!(value, lap.scale().to_f64());
            prop_assert!(a.selection_noise_scale.is_none());
        } else {
            let sel = a.selection_noise_scale.unwrap();
            let value_bound = if matches!(metric.release, Release::LocalDp { .. }) { 1 } else { bound };
            let used = value_bound as f64 / value + 1.0 / sel;
            prop_assert!(used <= epsilon * (1.0 + 1e-12), "{used} > {epsilon}");
            prop_assert!(used > epsilon - 0.0021, "{used} wastes ε {epsilon}");
            let lap = DiscreteLaplace::for_epsilon(value_bound, split_epsilon(epsilon).1).unwrap();
            prop_assert_eq!(value, lap.scale().to_f64());
        }
    }

    /// Across any sequence of queries over several metrics of one purpose
    /// (some spending δ), no (purpose, metric, day) exceeds the metric cap,
    /// no (purpose, day) exceeds the purpose's ε or δ cap; a refused query
    /// spends, caches and logs nothing; a repeated query spends nothing and
    /// returns the same numbers.
    #[test]
    fn the_ledger_never_overspends_and_repeats_are_free(
        queries in proptest::collection::vec((0usize..5, 0i32..6, 0i32..4, 1u32..=8, any::<bool>()), 1..30),
        seed in any::<u64>(),
    ) {
        let metrics = [
            ("browser.tabs_opened", "app_version"),
            ("app.opened", "os_major"),
            ("browser.bookmarks_added", "platform"),
            ("settings.dark_mode", "os_major"),
            ("browser.session_minutes", "platform"),
        ];
        let registry = registry();
        let region = registry.all().next().unwrap().region("eu").unwrap().clone();
        let caps = Caps::new(region.epsilon_per_metric_day, region.epsilon_per_purpose_day,
            region.delta_per_purpose_day).unwrap();
        let mut store = candor_store::open_in_memory().unwrap();
        let mut r = rng(seed);
        let mut answers: BTreeMap<String, Answer> = BTreeMap::new();
        for (m, start, len, quarter, grouped) in queries {
            let (metric, dim) = metrics[m];
            let group: Vec<&str> = if grouped { vec![dim] } else { vec![] };
            let mut q = query(metric, DAY0 + start, DAY0 + start + len, &group);
            q.epsilon = Some(f64::from(quarter) * 0.125);
            let key = serde_json::to_string(&q).unwrap();
            let before = store.budget(&BudgetFilter::default()).unwrap();
            let logged = store.audit_log().unwrap().0.len();
            match release(&registry, &mut store, &admin(), &q, 0, &late(), &mut r) {
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
                Err(e @ QueryError::BudgetExhausted { .. }) => {
                    prop_assert!(e.to_string().contains(metric), "{}", e);
                    prop_assert_eq!(store.budget(&BudgetFilter::default()).unwrap(), before);
                    prop_assert_eq!(store.audit_log().unwrap().0.len(), logged);
                }
                Err(e) => prop_assert!(false, "unexpected error {e}"),
            }
            let ledger = store.budget(&BudgetFilter::default()).unwrap();
            let mut per_day: BTreeMap<DayNumber, (u64, u64)> = BTreeMap::new();
            for b in &ledger {
                prop_assert!(b.micros <= caps.metric_micros, "{} on day {} spent {}", b.metric, b.day, b.micros);
                let e = per_day.entry(b.day).or_default();
                e.0 += b.micros;
                e.1 += b.femtos;
            }
            for (day, (micros, femtos)) in per_day {
                prop_assert!(micros <= caps.purpose_micros, "purpose ε on day {day}: {micros}");
                prop_assert!(femtos <= caps.purpose_femtos, "purpose δ on day {day}: {femtos}");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Statistics and behaviour
// ---------------------------------------------------------------------------

/// Central noise: over many releases of the same sum, the values average
/// to the truth, spread with the discrete Laplace variance of the stated
/// scale, and the stated 95% interval covers the truth about 95% of the
/// time.
#[test]
fn central_noise_is_unbiased_and_its_interval_covers() {
    let registry = roomy_registry();
    let mut store = candor_store::open_in_memory().unwrap();
    many(
        &mut store,
        400,
        "browser.bookmarks_added",
        DAY0,
        &[("platform", "ios")],
        MetricValue::Counter(15),
    );
    let truth = 6_000.0;
    let q = query("browser.bookmarks_added", DAY0, DAY0, &[]);
    let plan = plan(&registry, &admin(), &q, &late()).unwrap();
    let mut r = rng(7);
    let n = 2_000u32;
    let (mut values, mut covered, mut scale) = (Vec::new(), 0, 0.0);
    for _ in 0..n {
        let a = compute(&plan, &store, &mut r).unwrap();
        scale = a.noise_scale.unwrap();
        let g = &a.groups[0];
        values.push(g.value);
        if g.ci95[0] <= truth && truth <= g.ci95[1] {
            covered += 1;
        }
    }
    let p = (-1.0 / scale).exp();
    let variance = 2.0 * p / (1.0 - p).powi(2);
    let count = f64::from(n);
    let mean = values.iter().sum::<f64>() / count;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (count - 1.0);
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

/// A device reporting every day is one device: nine days of the same five
/// reports a day are selected like one day of five, not like 45.
#[test]
fn k_counts_devices_not_reports_across_days() {
    let registry = roomy_registry();
    let dims = [("platform", "ios")];
    let mut nine_days = candor_store::open_in_memory().unwrap();
    for day in DAY0..DAY0 + 9 {
        many(
            &mut nine_days,
            5,
            "browser.bookmarks_added",
            day,
            &dims,
            MetricValue::Counter(1),
        );
    }
    let mut one_day = candor_store::open_in_memory().unwrap();
    many(
        &mut one_day,
        5,
        "browser.bookmarks_added",
        DAY0,
        &dims,
        MetricValue::Counter(1),
    );
    let mut big = candor_store::open_in_memory().unwrap();
    many(
        &mut big,
        45,
        "browser.bookmarks_added",
        DAY0,
        &dims,
        MetricValue::Counter(1),
    );
    let q = query("browser.bookmarks_added", DAY0, DAY0 + 8, &[]);
    let shown = |a: &Answer| !a.groups.is_empty();
    let trials = 2_000;
    let p9 = rate(&registry, &nine_days, &q, trials, 1, shown);
    let p1 = rate(&registry, &one_day, &q, trials, 2, shown);
    let p45 = rate(&registry, &big, &q, trials, 3, shown);
    let se = (0.25 / f64::from(trials)).sqrt();
    assert!((p9 - p1).abs() < 6.0 * se, "{p9} vs {p1}");
    assert!(
        p45 > p9 + 0.2,
        "45 devices are shown far more often: {p45} vs {p9}"
    );
}

#[test]
fn scope_limits_regions_and_purposes() {
    let registry = registry();
    let mut store = candor_store::open_in_memory().unwrap();
    let analyst = Scope {
        name: "ana".into(),
        admin: false,
        regions: vec!["eu".into()],
        purposes: vec!["usage".into()],
    };
    let ok = query("browser.tabs_opened", DAY0, DAY0, &[]);
    let release_as = |store: &mut dyn Store, q: &Query| {
        release(&registry, store, &analyst, q, 0, &late(), &mut rng(1))
    };
    assert!(release_as(&mut store, &ok).is_ok());
    let mut other_region = ok.clone();
    other_region.region = "in".into();
    assert!(matches!(
        release_as(&mut store, &other_region),
        Err(QueryError::Forbidden(_))
    ));
    let browsing = query("browser.slow_domains", DAY0, DAY0, &[]);
    assert!(matches!(
        release_as(&mut store, &browsing),
        Err(QueryError::Forbidden(_))
    ));
    // Refusals are not logged as queries; the one answered query is.
    assert_eq!(store.audit_log().unwrap().0.len(), 1);
}

#[test]
fn rare_domains_never_appear_and_common_ones_do() {
    let registry = registry();
    let mut store = candor_store::open_in_memory().unwrap();
    let dims = [("platform", "android")];
    many(
        &mut store,
        2_000,
        "browser.slow_domains",
        DAY0,
        &dims,
        domains(&["popular.com"]),
    );
    let rare: Vec<String> = (0..200).map(|i| format!("rare{i}.com")).collect();
    let reports: Vec<Report> = (0..12)
        .map(|_| {
            report(
                "browser.slow_domains",
                DAY0,
                &dims,
                MetricValue::DomainSet(rare.iter().take(20).cloned().collect()),
            )
        })
        .collect();
    ingest(&mut store, &reports);
    let q = query("browser.slow_domains", DAY0, DAY0, &[]);
    let a = release(&registry, &mut store, &admin(), &q, 0, &late(), &mut rng(3)).unwrap();
    let cells: Vec<&str> = a.groups.iter().filter_map(|g| g.cell.as_deref()).collect();
    assert_eq!(cells, ["popular.com"]);
    assert_eq!(
        a.suppressed, None,
        "the number of rare domains is not disclosed"
    );
    assert!(a.threshold.unwrap() > 400.0);
    assert_eq!(a.mechanism, "discrete_laplace_threshold");
    assert_eq!(a.delta, Some(1e-8));
    let spent = store.budget(&BudgetFilter::default()).unwrap();
    assert_eq!((spent[0].micros, spent[0].femtos), (1_000_000, 10_000_000));
}

/// Open, today's and future days are refused with `day_not_closed` naming
/// the last closed day; nothing is spent, cached or logged.
#[test]
fn only_closed_days_are_released() {
    let registry = registry();
    let mut store = candor_store::open_in_memory().unwrap();
    many(
        &mut store,
        50,
        "browser.bookmarks_added",
        DAY0,
        &[("platform", "ios")],
        MetricValue::Counter(1),
    );
    // eu keeps days open for 3 days after them: on DAY0 + 10 the last
    // closed day is DAY0 + 6.
    let now = DayWindow {
        today: DAY0 + 10,
        past_override: None,
        future: 1,
    };
    for (from, to) in [
        (DAY0, DAY0 + 7),
        (DAY0 + 9, DAY0 + 9),
        (DAY0 + 10, DAY0 + 10),
        (DAY0 + 2, DAY0 + 40),
        (DAY0 + 400, DAY0 + 400),
    ] {
        let q = query("browser.bookmarks_added", from, to, &[]);
        let err = release(&registry, &mut store, &admin(), &q, 0, &now, &mut rng(1)).unwrap_err();
        assert_eq!(err.code(), "day_not_closed");
        let QueryError::DayNotClosed { last_closed, .. } = &err else {
            panic!("{err}");
        };
        assert_eq!(last_closed, &format_day(DAY0 + 6));
        assert!(err.to_string().contains("2026-11-07"), "{err}");
    }
    assert!(store.budget(&BudgetFilter::default()).unwrap().is_empty());
    assert!(store.audit_log().unwrap().0.is_empty());
    let q = query("browser.bookmarks_added", DAY0, DAY0 + 6, &[]);
    let cache_key =
        serde_json::to_string(&plan(&registry, &admin(), &q, &now).unwrap().query).unwrap();
    assert_eq!(store.cached_release(&cache_key).unwrap(), None);
    // The last closed day itself is released.
    assert!(release(&registry, &mut store, &admin(), &q, 0, &now, &mut rng(1)).is_ok());
    // A collector that accepts reports for longer keeps days open longer.
    let wide = DayWindow {
        past_override: Some(7),
        ..now
    };
    let q = query("browser.bookmarks_added", DAY0 + 3, DAY0 + 3, &[]);
    let err = release(&registry, &mut store, &admin(), &q, 0, &wide, &mut rng(1)).unwrap_err();
    assert_eq!(err.code(), "day_not_closed");
}

#[test]
fn budget_refusal_names_cap_days_and_remaining() {
    let registry = registry();
    let mut store = candor_store::open_in_memory().unwrap();
    let mut q = query("browser.tabs_opened", DAY0, DAY0 + 2, &[]);
    q.epsilon = Some(0.75);
    release(&registry, &mut store, &admin(), &q, 0, &late(), &mut rng(1)).unwrap();
    let mut again = q.clone();
    again.group_by = vec!["day".into()];
    let err = release(
        &registry,
        &mut store,
        &admin(),
        &again,
        0,
        &late(),
        &mut rng(1),
    )
    .unwrap_err();
    let message = err.to_string();
    assert_eq!(err.code(), "budget_exhausted");
    for needle in [
        "browser.tabs_opened",
        "2026-11-01",
        "2026-11-03",
        "0.25 left",
    ] {
        assert!(
            message.contains(needle),
            "{needle:?} missing from {message:?}"
        );
    }
    // The purpose cap: eu allows 3.0 per purpose and day over all metrics.
    for metric in [
        "app.opened",
        "browser.bookmarks_added",
        "browser.session_minutes",
    ] {
        let mut q = query(metric, DAY0, DAY0, &[]);
        q.epsilon = Some(0.75);
        release(&registry, &mut store, &admin(), &q, 0, &late(), &mut rng(1)).unwrap();
    }
    let mut q = query("system.storage_used_gb", DAY0, DAY0, &[]);
    q.epsilon = Some(0.5);
    let err = release(&registry, &mut store, &admin(), &q, 0, &late(), &mut rng(1)).unwrap_err();
    assert!(err.to_string().contains("purpose usage"), "{err}");
    assert!(err.to_string().contains("0 left"), "{err}");
}

#[test]
fn bad_queries_have_stable_codes_and_change_nothing() {
    let registry = registry();
    let mut store = candor_store::open_in_memory().unwrap();
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
        (
            Box::new(|q| {
                q.filters.insert("platform".into(), vec![]);
            }),
            "invalid_query",
        ),
        (Box::new(|q| q.cells = vec!["nope".into()]), "unknown_cell"),
        (Box::new(|q| q.epsilon = Some(0.0)), "invalid_epsilon"),
        (Box::new(|q| q.epsilon = Some(0.003)), "invalid_epsilon"),
        (Box::new(|q| q.epsilon = Some(5.0)), "invalid_epsilon"),
        (Box::new(|q| q.from = "2026-13-01".into()), "invalid_query"),
        (Box::new(|q| q.to = "2026-10-01".into()), "invalid_query"),
        (Box::new(|q| q.from = "2025-01-01".into()), "invalid_query"),
    ];
    for (change, code) in cases {
        let mut q = base.clone();
        change(&mut q);
        let err =
            release(&registry, &mut store, &admin(), &q, 0, &late(), &mut rng(1)).unwrap_err();
        assert_eq!(err.code(), code, "{q:?}: {err}");
    }
    assert!(store.budget(&BudgetFilter::default()).unwrap().is_empty());
    assert!(store.audit_log().unwrap().0.is_empty());
}

#[test]
fn labeled_counters_release_cells_with_totals_and_shares() {
    let registry = registry();
    let mut store = candor_store::open_in_memory().unwrap();
    let dims = [("platform", "android"), ("os_major", "14")];
    many(
        &mut store,
        500,
        "app.opened",
        DAY0,
        &dims,
        labels(&[("camera", 10), ("gallery", 2)]),
    );
    let mut q = query("app.opened", DAY0, DAY0, &[]);
    q.cells = vec!["camera".into(), "gallery".into(), "clock".into()];
    let a = release(&registry, &mut store, &admin(), &q, 0, &late(), &mut rng(5)).unwrap();
    let cells: Vec<&str> = a.groups.iter().filter_map(|g| g.cell.as_deref()).collect();
    assert_eq!(
        cells,
        ["camera", "gallery", "clock"],
        "the wanted cells, in schema order"
    );
    assert_eq!(a.suppressed, Some(0));
    assert_eq!(a.totals.len(), 1);
    let total = a.totals[0].value;
    assert_eq!(total, a.groups.iter().map(|g| g.value).sum::<f64>());
    // Values are near the truth (scale 100/0.375 ≈ 267).
    assert!((a.groups[0].value - 5_000.0).abs() < 3_000.0);
}

mod activity;
mod rollup;

//! Unit tests of the usage model and the ground truth, offline: the model
//! plays days into the truth recorder only, no SDK and no collector.

use std::collections::BTreeMap;

use candor_protocol::Day;
use candor_schema::Schema;

use super::model::{DayCtx, Fleet, Interner, Model, Profile};
use super::truth::{DayRecorder, GroundTruth, TruthCells, TruthTable, Version};
use super::{SimConfig, SimError};

fn browser() -> Schema {
    let src = include_str!("../../../../examples/browser.toml");
    candor_schema::parse(src, "browser.toml", time::macros::date!(2026 - 11 - 29))
        .expect("the example schema is valid")
        .schema
}

fn start() -> Day {
    // A Monday, so a week covers both weekend days.
    Day::from_ymd(2026, 11, 23).expect("a real day")
}

/// Two regions, consent per purpose.
fn fleet(model: &Model, consent: f64, private_share: f64, child_share: f64) -> Fleet {
    Fleet {
        days: 7,
        region_cdf: vec![0.6, 1.0],
        consent: model.purposes.iter().map(|_| consent).collect(),
        private_share,
        child_share,
    }
}

/// The offline run: profiles, then `days` days of every device into
/// `tables` truth tables (devices dealt round-robin, like the workers),
/// merged.
fn offline_table(
    model: &Model,
    fleet: &Fleet,
    devices: usize,
    days: u32,
    tables: usize,
) -> (Vec<Profile>, TruthTable, Interner) {
    let mut interner = Interner::default();
    let profiles: Vec<Profile> = (0..devices)
        .map(|i| model.profile(i, fleet, &mut interner))
        .collect();
    let mut parts = vec![TruthTable::default(); tables];
    for i in 0..days {
        let ctx = DayCtx::new(i, start().add_days(i64::from(i)).expect("day"));
        let mut recorder = DayRecorder::new(model);
        for p in &profiles {
            recorder.start(p, ctx.day);
            model.day(p, ctx, &mut recorder);
            recorder.finish(&mut parts[p.index % tables], p, ctx.index);
        }
    }
    let mut table = TruthTable::default();
    for part in parts {
        table.merge(part);
    }
    (profiles, table, interner)
}

const REGIONS: [&str; 2] = ["eu", "us"];

/// [`offline_table`] as cells.
fn offline(
    model: &Model,
    fleet: &Fleet,
    devices: usize,
    days: u32,
    tables: usize,
) -> (Vec<Profile>, TruthCells) {
    let (profiles, table, interner) = offline_table(model, fleet, devices, days, tables);
    let names: Vec<String> = (0..days)
        .map(|i| start().add_days(i64::from(i)).expect("day").to_string())
        .collect();
    let regions = REGIONS.map(String::from);
    let cells = table.into_cells(model, &regions, &names, &interner.names);
    (profiles, cells)
}

fn truth_of(cells: TruthCells) -> GroundTruth {
    GroundTruth {
        cells,
        ..GroundTruth::default()
    }
}

#[test]
fn the_same_seed_replays_the_same_fleet_whatever_the_threads() {
    let schema = browser();
    let model = Model::new(&schema, 42);
    let f = fleet(&model, 0.6, 0.2, 0.05);
    let (profiles_a, a) = offline(&model, &f, 150, 4, 1);
    let (profiles_b, b) = offline(&Model::new(&schema, 42), &f, 150, 4, 3);
    assert_eq!(profiles_a, profiles_b);
    assert_eq!(a, b, "splitting the devices over tables changes nothing");
    let (_, other) = offline(&Model::new(&schema, 43), &f, 150, 4, 1);
    assert_ne!(a, other, "another seed, another fleet");
}

#[test]
fn every_metric_is_exercised() {
    let schema = browser();
    let model = Model::new(&schema, 7);
    let truth = truth_of(offline(&model, &fleet(&model, 1.0, 0.0, 0.0), 400, 7, 1).1);
    for id in schema.metrics.keys() {
        assert!(truth.total(id, Version::All) > 0, "{id} was never recorded");
    }
}

#[test]
fn eligible_is_a_part_of_all() {
    let schema = browser();
    let model = Model::new(&schema, 5);
    let (_, cells) = offline(&model, &fleet(&model, 0.5, 0.3, 0.1), 300, 7, 2);
    let mut some_difference = false;
    for days in cells.values() {
        for metrics in days.values() {
            for groups in metrics.values() {
                for g in groups.values() {
                    for (cell, [sum, devices]) in &g.eligible {
                        let [all_sum, all_devices] = g.all[cell];
                        assert!(*sum <= all_sum && *devices <= all_devices);
                        assert!(*devices <= *sum || *sum == 0);
                        some_difference |= *sum < all_sum;
                    }
                    some_difference |= g.eligible.len() < g.all.len();
                    assert!(g.over_bound[1] <= g.over_bound[0]);
                }
            }
        }
    }
    assert!(some_difference);
}

#[test]
fn full_consent_without_private_mode_or_children_makes_eligible_equal_all() {
    let schema = browser();
    let model = Model::new(&schema, 9);
    let (_, cells) = offline(&model, &fleet(&model, 1.0, 0.0, 0.0), 200, 3, 1);
    for days in cells.values() {
        for metrics in days.values() {
            for groups in metrics.values() {
                for g in groups.values() {
                    assert_eq!(g.all, g.eligible);
                }
            }
        }
    }
}

#[test]
fn private_mode_hides_only_purposes_not_allowed_there() {
    let schema = browser();
    let model = Model::new(&schema, 11);
    // Every session private: browsing-session metrics of usage and browsing
    // are never eligible; diagnostics (allowed in private mode) are.
    let truth = truth_of(offline(&model, &fleet(&model, 1.0, 1.0, 0.0), 200, 3, 1).1);
    for id in [
        "browser.tabs_opened",
        "browser.session_minutes",
        "browser.slow_domains",
    ] {
        assert!(truth.total(id, Version::All) > 0, "{id}");
        assert_eq!(truth.total(id, Version::Eligible), 0, "{id}");
    }
    assert_eq!(
        truth.total("browser.page_load_ms", Version::Eligible),
        truth.total("browser.page_load_ms", Version::All)
    );
    // Day-level usage metrics happen outside private mode.
    assert_eq!(
        truth.total("app.opened", Version::Eligible),
        truth.total("app.opened", Version::All)
    );
}

#[test]
fn child_profiles_and_refusals_report_nothing() {
    let schema = browser();
    let model = Model::new(&schema, 13);
    for f in [fleet(&model, 1.0, 0.0, 1.0), fleet(&model, 0.0, 0.0, 0.0)] {
        let truth = truth_of(offline(&model, &f, 100, 2, 1).1);
        for id in schema.metrics.keys() {
            assert_eq!(truth.total(id, Version::Eligible), 0, "{id}");
        }
        assert!(truth.total("app.opened", Version::All) > 0);
    }
}

#[test]
fn sums_and_device_counts_are_consistent() {
    let schema = browser();
    let model = Model::new(&schema, 17);
    let devices = 300;
    let days = 7;
    let (profiles, cells) = offline(&model, &fleet(&model, 0.7, 0.15, 0.05), devices, days, 2);
    let eu_devices = profiles.iter().filter(|p| p.region == 0).count() as u64;
    let truth = truth_of(cells);
    for (region, by_day) in &truth.cells {
        let r = usize::from(region != "eu");
        let region_devices = if r == 0 {
            eu_devices
        } else {
            devices as u64 - eu_devices
        };
        for (day, metrics) in by_day {
            // A setting is set once a day by each active device: every
            // contribution is 1, and no device is counted twice. (The old
            // fixed model had more than half the devices active each day;
            // under the engagement model it is the model's own decision.)
            let dark: u64 = metrics["settings.dark_mode"]
                .values()
                .flat_map(|g| g.all.values())
                .map(|[sum, devices]| {
                    assert_eq!(sum, devices);
                    *devices
                })
                .sum();
            let d = Day::parse(day).expect("a day");
            let ctx = DayCtx::new(d.days_since(start()) as u32, d);
            let active = profiles
                .iter()
                .filter(|p| p.region == r && model.active(p.index, &p.life, ctx))
                .count() as u64;
            assert_eq!(dark, active, "{region} {day}");
            assert!(dark > 0 && dark <= region_devices);
            for groups in metrics.values() {
                for g in groups.values() {
                    for [_, devices] in g.all.values() {
                        assert!(*devices <= region_devices);
                    }
                }
            }
        }
    }
    // Storage is one sample per active device-day.
    let storage: u64 = truth
        .groups("system.storage_used_gb")
        .flat_map(|g| g.all.values())
        .map(|[sum, _]| sum)
        .sum();
    let dark: u64 = truth
        .groups("settings.dark_mode")
        .flat_map(|g| g.all.values())
        .map(|[sum, _]| sum)
        .sum();
    assert_eq!(storage, dark);
}

#[test]
fn usage_is_skewed_and_follows_the_week() {
    let schema = browser();
    let model = Model::new(&schema, 19);
    let (_, cells) = offline(&model, &fleet(&model, 1.0, 0.0, 0.0), 1_000, 7, 1);
    let mut weekday: BTreeMap<String, u64> = BTreeMap::new();
    let mut weekend: BTreeMap<String, u64> = BTreeMap::new();
    let mut domains: BTreeMap<String, u64> = BTreeMap::new();
    for by_day in cells.values() {
        for (day, metrics) in by_day {
            // 2026-11-28 and -29 are the weekend.
            let target = if day.as_str() >= "2026-11-28" {
                &mut weekend
            } else {
                &mut weekday
            };
            for g in metrics["app.opened"].values() {
                for (label, [sum, _]) in &g.all {
                    *target.entry(label.clone()).or_default() += sum;
                }
            }
            for g in metrics["browser.slow_domains"].values() {
                for (domain, [_, devices]) in &g.all {
                    *domains.entry(domain.clone()).or_default() += devices;
                }
            }
        }
    }
    // Messages are the most opened app, settings the least.
    let total: u64 = weekday.values().sum();
    assert!(weekday["messages"] > 5 * weekday["settings"], "{weekday:?}");
    // The camera's share is larger at weekends.
    let share = |m: &BTreeMap<String, u64>, l: &str| m[l] as f64 / m.values().sum::<u64>() as f64;
    assert!(share(&weekend, "camera") > 1.3 * share(&weekday, "camera"));
    assert!(total > 0);
    // A long tail of slow domains, with the popular sites at the head.
    assert!(domains.len() > 200, "{} domains", domains.len());
    let top = domains.iter().max_by_key(|(_, n)| **n).expect("some");
    assert!(top.0.starts_with("sim"), "{top:?}");
}

#[test]
fn consent_rates_and_shares_are_as_configured() {
    let schema = browser();
    let model = Model::new(&schema, 23);
    let f = Fleet {
        days: 7,
        region_cdf: vec![0.25, 1.0],
        consent: model
            .purposes
            .iter()
            .map(|p| match p.id.as_str() {
                "usage" => 0.7,
                "browsing" => 0.3,
                _ => 0.5,
            })
            .collect(),
        private_share: 0.15,
        child_share: 0.1,
    };
    let mut interner = Interner::default();
    let n = 8_000;
    let profiles: Vec<Profile> = (0..n)
        .map(|i| model.profile(i, &f, &mut interner))
        .collect();
    let rate = |pred: &dyn Fn(&Profile) -> bool| {
        profiles.iter().filter(|p| pred(p)).count() as f64 / n as f64
    };
    let idx = |id: &str| {
        model
            .purposes
            .iter()
            .position(|p| p.id == id)
            .expect("purpose")
    };
    let (usage, browsing) = (idx("usage"), idx("browsing"));
    assert!((rate(&|p| p.granted[usage]) - 0.7).abs() < 0.02);
    assert!((rate(&|p| p.granted[browsing]) - 0.3).abs() < 0.02);
    // Correlated: most who allow browsing allow usage too.
    assert!(rate(&|p| p.granted[browsing] && p.granted[usage]) > 0.228);
    assert!((rate(&|p| p.region == 0) - 0.25).abs() < 0.02);
    assert!((rate(&|p| p.child) - 0.1).abs() < 0.015);
    let mean_private = profiles.iter().map(|p| p.private_p).sum::<f64>() / n as f64;
    assert!((mean_private - 0.15).abs() < 0.015, "{mean_private}");
    // Platforms: android ahead of ios ahead of exampleos.
    let platform = |v: &str| rate(&|p| p.dims_raw["platform"] == v);
    assert!(platform("android") > platform("ios") && platform("ios") > platform("exampleos"));
}

#[test]
fn the_truth_json_is_sorted_and_round_trips() {
    let schema = browser();
    let model = Model::new(&schema, 29);
    let truth = truth_of(offline(&model, &fleet(&model, 0.5, 0.2, 0.0), 50, 2, 1).1);
    let json = truth.to_json();
    let back: GroundTruth = serde_json::from_str(&json).expect("parses");
    assert_eq!(back, truth);
    assert_eq!(back.to_json(), json, "stable");
    let value: serde_json::Value = serde_json::from_str(&json).expect("json");
    let day = &value["cells"]["eu"]["2026-11-23"];
    let group = day["app.opened"]
        .as_object()
        .expect("groups")
        .values()
        .next()
        .expect("a group");
    assert!(group["all"].as_object().is_some_and(|m| !m.is_empty()));
    assert!(day["browser.tabs_opened"].as_object().is_some());
}

#[test]
fn configurations_are_checked() {
    let schema = browser();
    let mut ok = SimConfig::new("http://127.0.0.1:1", schema, start());
    ok.signing_keys = signing_keys();
    ok.validate().expect("the defaults are valid");
    assert_eq!(ok.regions.len(), 2);
    assert_eq!(ok.end(), Day::from_ymd(2026, 11, 29));
    let changes: [fn(&mut SimConfig); 11] = [
        |c| c.signing_keys.clear(),
        |c| c.devices = 0,
        |c| c.days = 0,
        |c| c.threads = 0,
        |c| c.regions.clear(),
        |c| c.regions = vec![("mars".into(), 1.0)],
        |c| c.regions = vec![("eu".into(), 0.0)],
        |c| c.regions = vec![("eu".into(), 1.0), ("eu".into(), 1.0)],
        |c| {
            c.consent.insert("marketing".into(), 0.5);
        },
        |c| {
            c.consent.insert("usage".into(), 1.5);
        },
        |c| c.private_share = f64::NAN,
    ];
    for change in changes {
        let mut c = ok.clone();
        change(&mut c);
        assert!(matches!(c.validate(), Err(SimError::InvalidConfig(_))));
    }
    // Setup errors come before any network traffic or directory.
    let mut c = ok.clone();
    c.devices = 0;
    assert!(matches!(
        super::run(&c, &super::NoHooks),
        Err(SimError::InvalidConfig(_))
    ));
}

#[test]
fn an_unreachable_collector_fails_in_setup() {
    let mut c = SimConfig::new("http://127.0.0.1:9", browser(), start());
    c.signing_keys = signing_keys();
    c.devices = 3;
    c.days = 1;
    let err = super::run(&c, &super::NoHooks).expect_err("no collector");
    assert!(matches!(err, SimError::Keys(_)), "{err}");
}

/// Signing keys of the default regions.
fn signing_keys() -> Vec<candor_protocol::SigningKey> {
    ["eu", "us"]
        .map(|r| candor_protocol::SigningKey::from_seed(r, [5; 32]).expect("key"))
        .to_vec()
}

/// The activity truth of `devices` devices over `days` days (consent
/// `consent`, 5 % child profiles), as `run` computes it.
fn activity_of(
    seed: u64,
    consent: f64,
    devices: usize,
    days: u32,
    tables: usize,
) -> (
    Vec<Profile>,
    BTreeMap<String, BTreeMap<String, super::ActivityTruth>>,
) {
    let schema = browser();
    let model = Model::new(&schema, seed);
    let f = Fleet {
        days,
        ..fleet(&model, consent, 0.15, 0.05)
    };
    let (profiles, table, _) = offline_table(&model, &f, devices, days, tables);
    let regions = REGIONS.map(String::from);
    (profiles, table.activity(&model, &regions, start(), days))
}

#[test]
fn activity_truth_is_the_same_whatever_the_tables() {
    let (_, one) = activity_of(31, 0.7, 300, 21, 1);
    let (_, three) = activity_of(31, 0.7, 300, 21, 3);
    assert_eq!(one, three);
    assert!(one["app.active"].contains_key("eu"));
}

#[test]
fn activity_truth_counts_each_device_once_per_period() {
    let days = 35;
    let (profiles, truth) = activity_of(11, 0.7, 1_500, days, 2);
    let schema = browser();
    let model = Model::new(&schema, 11);
    let usage = model
        .purposes
        .iter()
        .position(|p| p.id == "usage")
        .expect("usage");
    for (r, region) in REGIONS.iter().enumerate() {
        let t = &truth["app.active"][*region];
        // Every figure recomputed here by brute force from the model's own
        // day decisions, per device.
        let in_region: Vec<&Profile> = profiles.iter().filter(|p| p.region == r).collect();
        let ctxs: Vec<DayCtx> = (0..days)
            .map(|i| DayCtx::new(i, start().add_days(i64::from(i)).expect("day")))
            .collect();
        for (version, counts) in [(0, &t.all), (1, &t.eligible)] {
            let devices: Vec<Vec<u32>> = in_region
                .iter()
                .filter(|p| version == 0 || (p.granted[usage] && !p.child))
                .map(|p| {
                    ctxs.iter()
                        .filter(|c| model.active(p.index, &p.life, **c))
                        .map(|c| c.index)
                        .collect::<Vec<u32>>()
                })
                .filter(|d| !d.is_empty())
                .collect();
            assert_eq!(counts.daily.len(), days as usize);
            for c in &ctxs {
                let day = c.day.to_string();
                let active = devices.iter().filter(|d| d.contains(&c.index)).count();
                let new = devices.iter().filter(|d| d[0] == c.index).count();
                assert_eq!(counts.daily[&day], active as u64, "{region} {day}");
                assert_eq!(counts.new[&day], new as u64, "{region} {day}");
            }
            let week_of = |i: u32| candor_time::IsoWeek::of(ctxs[i as usize].day);
            for (week, n) in &counts.weekly {
                let active = devices
                    .iter()
                    .filter(|d| d.iter().any(|i| week_of(*i).to_string() == *week))
                    .count();
                assert_eq!(*n, active as u64, "{region} {week}");
            }
            assert_eq!(counts.weekly.len(), 5, "2026-11-23 + 35 days: five weeks");
            assert_eq!(counts.monthly.len(), 2, "November and December");
            let installs: u64 = counts.new.values().sum();
            assert_eq!(installs, devices.len() as u64);
            for (cohort, ages) in &counts.retention {
                let members: Vec<&Vec<u32>> = devices
                    .iter()
                    .filter(|d| week_of(d[0]).to_string() == *cohort)
                    .collect();
                assert_eq!(ages[&0], members.len() as u64, "{cohort}");
                for (age, n) in ages {
                    let active = members
                        .iter()
                        .filter(|d| {
                            d.iter()
                                .any(|i| week_of(*i).weeks_since(week_of(d[0])) == *age as i32)
                        })
                        .count();
                    assert_eq!(*n, active as u64, "{cohort} +{age}");
                }
            }
        }
        // Eligible is a part of all.
        for (day, n) in &t.eligible.daily {
            assert!(*n <= t.all.daily[day]);
        }
    }
}

#[test]
fn engagement_makes_active_periods_and_retention_meaningful() {
    let days = 56;
    let n = 4_000;
    let (profiles, truth) = activity_of(5, 1.0, n, days, 1);
    let mut all = super::ActivityCounts::default();
    for t in truth["app.active"].values() {
        for (k, v) in &t.all.daily {
            *all.daily.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &t.all.weekly {
            *all.weekly.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &t.all.monthly {
            *all.monthly.entry(k.clone()).or_default() += v;
        }
        for (cohort, ages) in &t.all.retention {
            for (age, v) in ages {
                *all.retention
                    .entry(cohort.clone())
                    .or_default()
                    .entry(*age)
                    .or_default() += v;
            }
        }
    }
    // A full week in the middle: its daily mean, weekly and the month.
    let week = "2026-W50";
    let week_days: Vec<u64> = (0..7)
        .map(|i| {
            let d = Day::from_ymd(2026, 12, 7)
                .expect("a day")
                .add_days(i)
                .expect("day");
            all.daily[&d.to_string()]
        })
        .collect();
    let dau = week_days.iter().sum::<u64>() as f64 / 7.0;
    let wau = all.weekly[week] as f64;
    let mau = all.monthly["2026-12"] as f64;
    // Not everyone every day, not everyone every week.
    assert!(dau < 0.7 * wau, "DAU {dau} WAU {wau}");
    assert!(wau < 0.9 * mau, "WAU {wau} MAU {mau}");
    assert!(mau < 0.95 * n as f64, "MAU {mau} of {n}");
    // Devices arrive during the run, and the cohorts after the first are
    // not empty; retention falls after the install week.
    let arriving = profiles.iter().filter(|p| p.life.arrives).count() as f64;
    assert!((arriving / n as f64 - 0.3).abs() < 0.03, "{arriving}");
    for (cohort, ages) in &all.retention {
        if ages.len() >= 3 && ages[&0] >= 50 {
            assert!(ages[&1] < ages[&0], "{cohort}: {ages:?}");
            assert!(ages[&2] < ages[&0], "{cohort}: {ages:?}");
        }
    }
    assert!(all.retention.len() >= 8, "a cohort per week");
    let first = &all.retention["2026-W48"];
    let last_age = *first.keys().max().expect("ages");
    assert!(first[&last_age] < first[&0], "{first:?}");
}

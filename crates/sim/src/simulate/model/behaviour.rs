//! How each metric is driven (its [`Behaviour`], from its type and the
//! words of its id) and the population's tables: platform, version, label
//! and category shares.

use candor_schema::{Metric, MetricKind};

use super::super::rng::cumulative;

/// Words in a metric id that mark it as a rare failure.
const FAILURE_WORDS: [&str; 15] = [
    "crash",
    "crashes",
    "crashed",
    "error",
    "errors",
    "fail",
    "failed",
    "failure",
    "failures",
    "freeze",
    "freezes",
    "hang",
    "hangs",
    "anr",
    "responding",
];

/// How a metric is driven, chosen from its type and words in its id.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Behaviour {
    /// Counter: Poisson(`base` + `per_minute` × minutes) per browsing
    /// session (ids with `tab`, `bookmark`).
    PerSession {
        /// Events per session regardless of its length.
        base: f64,
        /// Events per minute of the session.
        per_minute: f64,
    },
    /// Counter or labeled counter: Poisson(`mean` × activity) events a day,
    /// or × instability for failures (`crash`, `fail`, ...). Labels are
    /// drawn from the device's preferences (Zipf over the labels, noisy per
    /// device, shifted at weekends).
    PerDay {
        /// Events a day of a typical device.
        mean: f64,
        /// Scaled by the device's instability instead of its activity.
        failure: bool,
    },
    /// Boolean: a setting, fixed per device, true with this probability.
    Setting {
        /// Share of devices with the setting on.
        p_true: f64,
    },
    /// Boolean: drawn daily from a per-device propensity (`battery`,
    /// `saver`, `power`).
    DailyState,
    /// Boolean: a daily failure flag, true with this probability × the
    /// device's instability (`fail`, `crash`, ...).
    RareFlag {
        /// Daily probability for a typical device.
        p: f64,
    },
    /// Category: a setting fixed per device, with skewed shares.
    Choice {
        /// Cumulative share of each category.
        cdf: Vec<f64>,
    },
    /// Distribution: one sample per browsing session, its length in minutes
    /// (`minute`, `session`, `duration`).
    SessionMinutes,
    /// Distribution: one sample per page load, in ms (`ms`, `load`,
    /// `latency`).
    PageLoadMs,
    /// Distribution: one daily sample of a slowly growing per-device level
    /// (`storage`, `gb`, `disk`, `memory`), scaled to the buckets.
    DailyLevel {
        /// Median level over devices.
        median: f64,
    },
    /// Distribution: Poisson(3 × activity) samples a day, log-normal around
    /// the middle bucket bound.
    Samples {
        /// Median sample.
        median: f64,
    },
    /// Domain set: the domains of page loads slower than 8 s (`slow`).
    SlowDomains,
    /// Domain set: the domain of every page load.
    VisitedDomains,
    /// Activity: the app is in use on every day the device is active.
    Active,
    /// A metric type this simulator does not know: never recorded.
    Unsupported,
}

/// Raw app versions and their shares (a rollout in progress).
pub(super) const APP_VERSIONS: [(&str, f64); 4] = [
    ("122.0.6261.64", 0.42),
    ("121.3.6167.101", 0.33),
    ("121.0.6167.85", 0.15),
    ("120.1.6099.230", 0.10),
];

/// Raw OS versions by platform, and their shares.
pub(super) fn os_versions(platform: Option<&str>) -> &'static [(&'static str, f64)] {
    match platform {
        Some("android") => &[("14", 0.42), ("13.0.1", 0.30), ("12.1", 0.18), ("11", 0.10)],
        Some("ios") => &[("17.4.1", 0.55), ("16.7.5", 0.33), ("15.8.2", 0.12)],
        Some("exampleos") => &[("4.2.0", 0.7), ("3.9.1", 0.3)],
        _ => &[("14.1", 0.4), ("13", 0.3), ("12.2", 0.2), ("11", 0.1)],
    }
}

/// Share of a known platform name.
pub(super) fn platform_weight(name: &str) -> Option<f64> {
    Some(match name {
        "android" => 0.55,
        "ios" => 0.35,
        "exampleos" => 0.10,
        _ => return None,
    })
}

/// Popularity of a known label (apps and crashing components).
pub(super) fn label_weight(name: &str) -> Option<f64> {
    Some(match name {
        "messages" => 1.0,
        "browser" => 0.8,
        "phone" => 0.6,
        "camera" => 0.45,
        "music" => 0.35,
        "gallery" => 0.3,
        "clock" => 0.2,
        "settings" => 0.12,
        "renderer" => 1.0,
        "gpu" => 0.4,
        "network" => 0.3,
        "browser_main" => 0.2,
        "system_ui" => 0.15,
        "launcher" => 0.1,
        _ => return None,
    })
}

/// How a label's use changes at weekends.
pub(super) fn label_weekend(name: &str) -> f64 {
    match name {
        "camera" => 1.8,
        "gallery" => 1.5,
        "music" => 1.3,
        "browser" => 1.15,
        "messages" => 1.1,
        "phone" => 0.85,
        "clock" => 0.7,
        _ => 1.0,
    }
}

/// Share of a known category (search engines, text sizes).
fn category_weight(name: &str) -> Option<f64> {
    Some(match name {
        "google" => 0.72,
        "bing" => 0.09,
        "duckduckgo" => 0.06,
        "baidu" => 0.04,
        "yandex" => 0.03,
        "ecosia" => 0.02,
        "qwant" => 0.01,
        "other" => 0.03,
        "default" => 0.70,
        "large" => 0.14,
        "small" => 0.09,
        "largest" => 0.07,
        _ => return None,
    })
}

/// Zipf weight of the `i`-th entry of a declared list.
pub(super) fn zipf(i: usize) -> f64 {
    1.0 / (i as f64 + 1.0).powf(1.1)
}

/// Whether one of the words of `id` (split at `.` and `_`) is in `words`.
fn has_any(id: &str, words: &[&str]) -> bool {
    id.split(['.', '_']).any(|w| words.contains(&w))
}

/// The geometric middle of a distribution's bucket bounds.
fn middle_bound(buckets: &[u64]) -> f64 {
    match buckets {
        [] => 10.0,
        b => (b[b.len() / 2].max(1)) as f64,
    }
}

/// Chooses how `metric` is driven.
pub(crate) fn classify(metric: &Metric) -> Behaviour {
    let id = metric.id.to_ascii_lowercase();
    let failure = has_any(&id, &FAILURE_WORDS);
    match &metric.kind {
        MetricKind::Counter if failure => Behaviour::PerDay {
            mean: 0.05,
            failure: true,
        },
        MetricKind::Counter if has_any(&id, &["bookmark", "bookmarks"]) => Behaviour::PerSession {
            base: 0.0,
            per_minute: 0.01,
        },
        MetricKind::Counter if has_any(&id, &["tab", "tabs"]) => Behaviour::PerSession {
            base: 0.5,
            per_minute: 0.25,
        },
        MetricKind::Counter => Behaviour::PerDay {
            mean: 3.0,
            failure: false,
        },
        MetricKind::LabeledCounter { .. } if failure => Behaviour::PerDay {
            mean: 0.04,
            failure: true,
        },
        MetricKind::LabeledCounter { .. } => Behaviour::PerDay {
            mean: 18.0,
            failure: false,
        },
        MetricKind::Boolean if failure => Behaviour::RareFlag { p: 0.01 },
        MetricKind::Boolean if has_any(&id, &["battery", "saver", "power"]) => {
            Behaviour::DailyState
        }
        MetricKind::Boolean => Behaviour::Setting { p_true: 0.35 },
        MetricKind::Category { categories } => Behaviour::Choice {
            cdf: cumulative(
                categories
                    .iter()
                    .enumerate()
                    .map(|(i, c)| category_weight(c).unwrap_or(0.5 * zipf(i))),
            ),
        },
        MetricKind::Distribution { .. }
            if has_any(
                &id,
                &["minute", "minutes", "session", "sessions", "duration"],
            ) =>
        {
            Behaviour::SessionMinutes
        }
        MetricKind::Distribution { .. } if has_any(&id, &["ms", "load", "latency"]) => {
            Behaviour::PageLoadMs
        }
        MetricKind::Distribution { buckets }
            if has_any(&id, &["storage", "gb", "disk", "memory"]) =>
        {
            Behaviour::DailyLevel {
                median: 0.7 * middle_bound(buckets),
            }
        }
        MetricKind::Distribution { buckets } => Behaviour::Samples {
            median: middle_bound(buckets),
        },
        MetricKind::DomainSet if has_any(&id, &["slow"]) => Behaviour::SlowDomains,
        MetricKind::DomainSet => Behaviour::VisitedDomains,
        MetricKind::Activity { .. } => Behaviour::Active,
        _ => Behaviour::Unsupported,
    }
}

//! The TOML as written, before validation.
//!
//! Every field that a semantic check may point at is `Spanned`, so its error
//! carries the exact line. `deny_unknown_fields` everywhere turns typos into
//! errors instead of silently ignored keys.

use serde::Deserialize;
use toml::Spanned;

use crate::model::Sensitivity;

/// A list of labels, categories, dimension values or dimension ids.
pub(crate) type SpannedStrings = Spanned<Vec<Spanned<String>>>;

/// `[schema]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHeader {
    /// Schema id.
    pub(crate) id: Spanned<String>,
    /// Schema version, at least 1.
    pub(crate) version: Spanned<u32>,
}

/// `[purposes.ID]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPurpose {
    /// Consent title.
    pub(crate) title: Spanned<String>,
    /// Consent description.
    pub(crate) description: Spanned<String>,
    /// Legal basis; `consent` when absent.
    #[serde(default)]
    pub(crate) legal_basis: Option<Spanned<String>>,
    /// Sensitivity; low when absent.
    #[serde(default)]
    pub(crate) sensitivity: Option<Sensitivity>,
    /// Consent version, at least 1.
    pub(crate) consent_version: Spanned<u32>,
    /// Private-mode collection; false when absent.
    #[serde(default)]
    pub(crate) allowed_in_private_mode: bool,
}

/// `coarsen = "..."`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawCoarsen {
    /// `major_minor`.
    MajorMinor,
    /// `major`.
    Major,
}

/// `[dimensions.ID]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDimension {
    /// Plain-language description.
    pub(crate) description: Spanned<String>,
    /// Closed value set (exclusive with `coarsen`).
    #[serde(default)]
    pub(crate) values: Option<SpannedStrings>,
    /// Coarsening rule (exclusive with `values`).
    #[serde(default)]
    pub(crate) coarsen: Option<Spanned<RawCoarsen>>,
}

/// `type = "..."`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawKind {
    /// `counter`.
    Counter,
    /// `labeled_counter`.
    LabeledCounter,
    /// `boolean`.
    Boolean,
    /// `category`.
    Category,
    /// `distribution`.
    Distribution,
    /// `domain_set`.
    DomainSet,
    /// `activity`.
    Activity,
}

impl RawKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            RawKind::Counter => "counter",
            RawKind::LabeledCounter => "labeled_counter",
            RawKind::Boolean => "boolean",
            RawKind::Category => "category",
            RawKind::Distribution => "distribution",
            RawKind::DomainSet => "domain_set",
            RawKind::Activity => "activity",
        }
    }
}

/// `mechanism = "..."`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawMechanism {
    /// `central_dp`.
    CentralDp,
    /// `local_dp`.
    LocalDp,
}

/// `release = { ... }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRelease {
    /// The mechanism.
    pub(crate) mechanism: Spanned<RawMechanism>,
    /// ε.
    pub(crate) epsilon: Spanned<f64>,
    /// δ of open-set selections.
    #[serde(default)]
    pub(crate) delta: Option<Spanned<f64>>,
    /// ε of the collector's noise on local-DP counts (local DP only).
    #[serde(default)]
    pub(crate) count_epsilon: Option<Spanned<f64>>,
}

/// `[metrics."area.name"]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMetric {
    /// Metric type.
    #[serde(rename = "type")]
    pub(crate) kind: Spanned<RawKind>,
    /// Purpose id.
    pub(crate) purpose: Spanned<String>,
    /// Plain-language description.
    pub(crate) description: Spanned<String>,
    /// Owner.
    pub(crate) owner: Spanned<String>,
    /// A TOML local date, a `YYYY-MM-DD` string, or `"never"`.
    pub(crate) expires: Spanned<toml::Value>,
    /// Labels (labeled_counter only).
    #[serde(default)]
    pub(crate) labels: Option<SpannedStrings>,
    /// Categories (category only).
    #[serde(default)]
    pub(crate) categories: Option<SpannedStrings>,
    /// Bucket upper bounds (distribution only).
    #[serde(default)]
    pub(crate) buckets: Option<Spanned<Vec<Spanned<u64>>>>,
    /// Install cohorts kept apart, in weeks (activity only).
    #[serde(default)]
    pub(crate) cohort_weeks: Option<Spanned<u32>>,
    /// Contribution bound.
    #[serde(default)]
    pub(crate) max_per_report: Option<Spanned<u64>>,
    /// Dimension ids.
    #[serde(default)]
    pub(crate) dimensions: Option<SpannedStrings>,
    /// Release mechanism.
    pub(crate) release: Spanned<RawRelease>,
}

/// `[regions.ID]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRegion {
    /// Human name.
    pub(crate) name: Spanned<String>,
    /// Governing law.
    pub(crate) law: Spanned<String>,
    /// Retention in days.
    pub(crate) retention_days: Spanned<u32>,
    /// Minimum k.
    pub(crate) k_min: Spanned<u32>,
    /// ε budget per metric per day.
    pub(crate) epsilon_per_metric_day: Spanned<f64>,
    /// ε budget per purpose per day.
    pub(crate) epsilon_per_purpose_day: Spanned<f64>,
    /// δ budget per purpose per day.
    pub(crate) delta_per_purpose_day: Spanned<f64>,
    /// Days after a day during which its reports are accepted.
    #[serde(default)]
    pub(crate) report_window_days: Option<Spanned<u32>>,
    /// Collector base URL.
    #[serde(default)]
    pub(crate) collector: Option<Spanned<String>>,
}

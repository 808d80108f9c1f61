//! Candor's analyst API types: the query an analyst sends, the answer a
//! collector releases, and the JSON and CSV shapes both the server and the
//! command line print (docs/api.md). Shared so that `candor query` and
//! `candor audit show --json` need nothing of the collector's internals.
#![deny(missing_docs)]

mod active;
mod text;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use active::{last_whole_month, last_whole_week};
pub use text::{answer_csv, audit_log_json, number, tokens_json};

/// The pseudo-dimension that groups by day.
pub const DAY: &str = "day";

/// A question about one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    /// The region.
    pub region: String,
    /// The metric id.
    pub metric: String,
    /// The schema id; needed only when several served schemas declare the metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// First day, `YYYY-MM-DD` (UTC), inclusive.
    pub from: String,
    /// Last day, inclusive.
    pub to: String,
    /// Group by `day` and/or dimension ids; without it, one group.
    #[serde(default)]
    pub group_by: Vec<String>,
    /// Only rows whose dimension takes one of the listed values.
    #[serde(default)]
    pub filters: BTreeMap<String, Vec<String>>,
    /// Only these cells (labels, categories, `true`/`false`, bucket
    /// indices); all when empty. Not for domain sets.
    #[serde(default)]
    pub cells: Vec<String>,
    /// ε to spend per day; the metric's own ε when absent. Ignored by
    /// local-DP metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epsilon: Option<f64>,
}

/// One released group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// The day, when grouped by day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<String>,
    /// The grouped dimensions' values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dimensions: BTreeMap<String, String>,
    /// The cell: label, category, `true`/`false`, bucket index, domain;
    /// absent for a counter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell: Option<String>,
    /// For a distribution bucket, its range (`≤ 10`, `10–50`, `> 1000`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// The released value: a noisy integer, or an unbiased estimate.
    pub value: f64,
    /// Its 95% interval.
    pub ci95: [f64; 2],
    /// This cell's share of its group's released total (post-processing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<f64>,
    /// The minimum group size applied.
    pub k: u32,
    /// ε of this release (for local DP: the devices' ε).
    pub epsilon: f64,
    /// `discrete_laplace`, `discrete_laplace_threshold` or `randomized_response`.
    pub mechanism: String,
}

/// A per-group total over the released cells (post-processing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Total {
    /// The day, when grouped by day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<String>,
    /// The grouped dimensions' values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dimensions: BTreeMap<String, String>,
    /// Sum of the released cells' values.
    pub value: f64,
    /// Its 95% interval (the cells' noise is independent, so variances add).
    pub ci95: [f64; 2],
}

/// The answer to a [`Query`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// The query as normalized (its cache key).
    pub query: Query,
    /// The schema id.
    pub schema: String,
    /// The metric's type.
    pub metric_type: String,
    /// The metric's purpose.
    pub purpose: String,
    /// The mechanism of every group.
    pub mechanism: String,
    /// ε of this release per day: what it charged (local DP: the noise on
    /// the randomized counts; the devices' own ε is in each group).
    pub epsilon: f64,
    /// δ of this release per day, when it selected from an open set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<f64>,
    /// The region's minimum group size, compared with noisy counts.
    pub k_min: u32,
    /// Δ, the most one report adds to a group's cells.
    pub contribution_bound: u64,
    /// The discrete Laplace scale of the released values (central DP:
    /// `Δ/ε_v`; local DP: the scale on the randomized counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise_scale: Option<f64>,
    /// The threshold a group's (or a domain's) noisy count had to reach:
    /// `k_min`, or `max(k_min, τ)` for an open-set selection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// The discrete Laplace scale of the noisy group counts compared with
    /// the threshold (absent for domain sets, which compare their values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection_noise_scale: Option<f64>,
    /// The released groups, ordered by day, dimensions, cell.
    pub groups: Vec<Group>,
    /// Per-group totals over released cells (multi-cell metrics).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub totals: Vec<Total>,
    /// How many candidate groups were not shown (their noisy count was
    /// below the threshold). Given only when the candidates were known
    /// without looking at the data; absent for open-set selections, where
    /// the number of rare values is itself sensitive.
    pub suppressed: Option<u64>,
    /// ε this call spent per day (0 for a cached answer).
    pub epsilon_spent: f64,
    /// The least ε a further release of this metric could still spend on
    /// any day of the range (the lesser of the metric's and the purpose's
    /// budget left).
    pub budget_remaining: f64,
    /// Whether this is the cached answer of an earlier identical query.
    pub cached: bool,
}

//! The validated data dictionary.
//!
//! Values of these types come out of [`crate::parse`] and [`crate::load`]
//! already checked: ids follow their patterns, every reference resolves and
//! every privacy parameter is in range. Code that builds them by hand (tests)
//! takes that responsibility on itself.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize, Serializer};
use sha2::{Digest, Sha256};
use time::Date;

use crate::limits;

/// A validated data dictionary: everything that may be collected, why, how it
/// is protected and where it is kept.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Schema {
    /// Reverse-DNS-like id, `[a-z0-9][a-z0-9._-]*` (for example
    /// `org.example.browser`). Reports name it.
    pub id: String,
    /// Version of the dictionary, at least 1. Reports name it.
    pub version: u32,
    /// Purposes by id.
    pub purposes: BTreeMap<String, Purpose>,
    /// Dimensions (coarse context fields a report may carry) by id.
    pub dimensions: BTreeMap<String, Dimension>,
    /// Metrics by id.
    pub metrics: BTreeMap<String, Metric>,
    /// Regions by id.
    pub regions: BTreeMap<String, Region>,
}

impl Schema {
    /// The metric with this id.
    pub fn metric(&self, id: &str) -> Option<&Metric> {
        self.metrics.get(id)
    }

    /// The purpose with this id.
    pub fn purpose(&self, id: &str) -> Option<&Purpose> {
        self.purposes.get(id)
    }

    /// The dimension with this id.
    pub fn dimension(&self, id: &str) -> Option<&Dimension> {
        self.dimensions.get(id)
    }

    /// The region with this id.
    pub fn region(&self, id: &str) -> Option<&Region> {
        self.regions.get(id)
    }

    /// The metrics collected for `purpose`, in id order.
    pub fn metrics_for_purpose<'a>(
        &'a self,
        purpose: &'a str,
    ) -> impl Iterator<Item = &'a Metric> + 'a {
        self.metrics.values().filter(move |m| m.purpose == purpose)
    }

    /// The dictionary as pretty-printed JSON (the body of the collector's
    /// public `GET /v1/schema`). Deterministic: maps are in id order.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self)
            .expect("a Schema has only string keys and finite numbers, so it always serializes")
    }

    /// The dictionary's fingerprint: [`json_fingerprint`] of its JSON, as
    /// `GET /v1/schema` serves it. The privacy page states it, so that a
    /// reader (or `candor verify`) can check that the dictionary a
    /// collector serves is the one the page describes.
    pub fn fingerprint(&self) -> String {
        let value: serde_json::Value =
            serde_json::from_str(&self.to_json()).expect("a Schema's JSON always parses back");
        json_fingerprint(&value)
    }
}

/// The prefix of a fingerprint as the privacy page writes it
/// (`candor-schema-sha256:<64 hex digits>`), so a program can find it.
pub const FINGERPRINT_PREFIX: &str = "candor-schema-sha256:";

/// SHA-256, in lowercase hex, of a JSON document in canonical form: no
/// whitespace, object keys sorted by their bytes, strings escaped and
/// numbers written the shortest way that reads back exactly (as
/// `serde_json` writes them). Whitespace and key order of the served
/// bytes therefore do not matter (docs/api.md, "Schema fingerprint").
pub fn json_fingerprint(doc: &serde_json::Value) -> String {
    // serde_json's maps are sorted (the workspace does not enable its
    // `preserve_order` feature), so its compact output is canonical.
    let canonical = serde_json::to_string(doc).expect("a JSON value always serializes");
    Sha256::digest(canonical.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// How sensitive the data collected for a purpose is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Sensitivity {
    /// Counts of feature use and similar: says little about a person.
    Low,
    /// Could reveal something personal (for example which sites someone
    /// visits), even in aggregate.
    High,
}

impl Sensitivity {
    /// The TOML spelling: `low` or `high`.
    pub fn as_str(self) -> &'static str {
        match self {
            Sensitivity::Low => "low",
            Sensitivity::High => "high",
        }
    }
}

/// Why data is collected; users consent to purposes, one by one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Purpose {
    /// Id, `[a-z][a-z0-9_]{0,31}`.
    pub id: String,
    /// Short title shown when asking for consent.
    pub title: String,
    /// Plain-language description shown when asking for consent.
    pub description: String,
    /// Legal basis for processing (default `consent`).
    pub legal_basis: String,
    /// Sensitivity (default low).
    pub sensitivity: Sensitivity,
    /// Version of the consent text, at least 1. Raised when the purpose
    /// changes materially; clients then ask again.
    pub consent_version: u32,
    /// Whether recording continues in private mode (default false).
    pub allowed_in_private_mode: bool,
}

/// Domain-separation tag that opens the consent hash input.
const CONSENT_HASH_TAG: &[u8] = b"candor-consent-v1";

impl Purpose {
    /// SHA-256 of the consent text the user saw, stored in consent receipts.
    ///
    /// The input is the ASCII tag `candor-consent-v1` (17 bytes, no length
    /// prefix) followed by, in order:
    ///
    /// 1. `u32` big-endian byte length of `id`, then `id` in UTF-8;
    /// 2. `consent_version` as a `u32` big-endian;
    /// 3. `u32` big-endian byte length of `title`, then `title` in UTF-8;
    /// 4. `u32` big-endian byte length of `description`, then `description`
    ///    in UTF-8.
    ///
    /// Strings are hashed exactly as parsed from the TOML (no trimming or
    /// normalization), so any edit to the text changes the hash. The length
    /// prefixes make the encoding unambiguous.
    pub fn consent_text_sha256(&self) -> [u8; 32] {
        fn field(h: &mut Sha256, bytes: &[u8]) {
            let len = u32::try_from(bytes.len())
                .expect("consent texts come from a TOML file far smaller than 4 GiB");
            h.update(len.to_be_bytes());
            h.update(bytes);
        }
        let mut h = Sha256::new();
        h.update(CONSENT_HASH_TAG);
        field(&mut h, self.id.as_bytes());
        h.update(self.consent_version.to_be_bytes());
        field(&mut h, self.title.as_bytes());
        field(&mut h, self.description.as_bytes());
        h.finalize().into()
    }
}

/// A coarse context field a report may carry (platform, app version, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dimension {
    /// Id, `[a-z][a-z0-9_]{0,31}`.
    pub id: String,
    /// What the dimension is, in plain language.
    pub description: String,
    /// Which values are allowed.
    pub rule: DimensionRule,
}

/// The values a [`Dimension`] allows.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DimensionRule {
    /// A closed set of labels (TOML `values = [...]`).
    Values(Vec<String>),
    /// A version coarsened to `major.minor`, for example `121.3`
    /// (TOML `coarsen = "major_minor"`).
    MajorMinor,
    /// A version coarsened to its major number, for example `14`
    /// (TOML `coarsen = "major"`).
    Major,
}

impl DimensionRule {
    /// The TOML name of a coarsening rule, or `None` for a closed set.
    pub fn coarsen_name(&self) -> Option<&'static str> {
        match self {
            DimensionRule::Values(_) => None,
            DimensionRule::MajorMinor => Some("major_minor"),
            DimensionRule::Major => Some("major"),
        }
    }
}

impl Dimension {
    /// Whether the dimension's values are an open set: a coarsening rule
    /// accepts values nobody declared, so a group keyed by one exists only
    /// because some report carried it, and releasing it is an open-set
    /// selection (a noisy threshold with δ).
    pub fn is_open(&self) -> bool {
        !matches!(self.rule, DimensionRule::Values(_))
    }

    /// The declared values of a closed dimension; `None` for an open one.
    pub fn values(&self) -> Option<&[String]> {
        match &self.rule {
            DimensionRule::Values(values) => Some(values),
            _ => None,
        }
    }

    /// Whether a report may carry `value` for this dimension (collector side).
    ///
    /// For a closed set: exact membership. For a coarsening rule: the value
    /// must already be in canonical coarse form: decimal components without
    /// leading zeros (`0` itself is fine), each at most
    /// [`limits::MAX_VERSION_COMPONENT_DIGITS`] digits, two of them joined by
    /// a dot for `major_minor` (`121.3`) and one for `major` (`14`).
    pub fn accepts(&self, value: &str) -> bool {
        match &self.rule {
            DimensionRule::Values(values) => values.iter().any(|v| v == value),
            DimensionRule::MajorMinor => value
                .split_once('.')
                .is_some_and(|(major, minor)| canonical_number(major) && canonical_number(minor)),
            DimensionRule::Major => canonical_number(value),
        }
    }

    /// The value to record for `raw` (SDK side), or `None` if `raw` cannot be
    /// mapped to an allowed value.
    ///
    /// For a closed set `raw` must be a member. For a coarsening rule `raw` is
    /// a version string: surrounding whitespace is ignored, components are
    /// separated by dots, and the leading digits of each needed component are
    /// kept (so `121.3.6099.230` becomes `121.3` and `17.2-beta` becomes
    /// `17.2`; a missing minor counts as `0`). A component without leading
    /// digits, or with more than [`limits::MAX_VERSION_COMPONENT_DIGITS`],
    /// makes the whole value `None`. The result always satisfies
    /// [`Dimension::accepts`].
    pub fn coarsen(&self, raw: &str) -> Option<String> {
        match &self.rule {
            DimensionRule::Values(values) => values.iter().find(|v| *v == raw).cloned(),
            DimensionRule::MajorMinor => {
                let mut parts = raw.trim().split('.');
                let major = leading_number(parts.next()?)?;
                let minor = match parts.next() {
                    Some(p) => leading_number(p)?,
                    None => 0,
                };
                Some(format!("{major}.{minor}"))
            }
            DimensionRule::Major => {
                let major = leading_number(raw.trim().split('.').next()?)?;
                Some(major.to_string())
            }
        }
    }
}

/// A decimal number without sign or leading zeros, short enough for a `u32`.
fn canonical_number(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= limits::MAX_VERSION_COMPONENT_DIGITS
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'))
}

/// The number formed by the leading ASCII digits of `s`, if there are some
/// and not too many.
fn leading_number(s: &str) -> Option<u32> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > limits::MAX_VERSION_COMPONENT_DIGITS {
        return None;
    }
    s[..digits].parse().ok()
}

impl Serialize for Dimension {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // The JSON mirrors the TOML: `values` or `coarsen`, never both.
        #[derive(Serialize)]
        struct Json<'a> {
            id: &'a str,
            description: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            values: Option<&'a [String]>,
            #[serde(skip_serializing_if = "Option::is_none")]
            coarsen: Option<&'static str>,
        }
        let values = match &self.rule {
            DimensionRule::Values(v) => Some(v.as_slice()),
            _ => None,
        };
        Json {
            id: &self.id,
            description: &self.description,
            values,
            coarsen: self.rule.coarsen_name(),
        }
        .serialize(serializer)
    }
}

/// One thing that may be measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metric {
    /// Id, `area.name` with each part `[a-z][a-z0-9_]*`, at most 64 bytes.
    pub id: String,
    /// The metric type and its type-specific parameters.
    #[serde(flatten)]
    pub kind: MetricKind,
    /// Id of the [`Purpose`] this metric is collected for.
    pub purpose: String,
    /// What is recorded, in plain language.
    pub description: String,
    /// Who answers for this metric (team or e-mail-like contact).
    pub owner: String,
    /// Last UTC day on which the metric may be recorded; `None` means the
    /// TOML said `"never"`.
    #[serde(serialize_with = "serialize_expires")]
    pub expires: Option<Date>,
    /// Per-report contribution bound: the most a single report may add.
    /// Counter: largest count; labeled counter: largest total over all
    /// labels; distribution: most samples; domain set: most distinct domains;
    /// boolean and category: always 1.
    pub max_per_report: u64,
    /// Ids of the dimensions reports of this metric may carry (possibly
    /// none), in the order the TOML lists them.
    pub dimensions: Vec<String>,
    /// How aggregates of this metric are released.
    pub release: Release,
}

fn serialize_expires<S: Serializer>(expires: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
    match expires {
        Some(date) => s.serialize_str(&format_date(*date)),
        None => s.serialize_str("never"),
    }
}

/// `YYYY-MM-DD`, the form the TOML uses.
pub(crate) fn format_date(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

pub use crate::metric::MetricKind;

impl Metric {
    /// Whether the metric has expired on `today` (UTC): true once `today` is
    /// after the `expires` day. A metric that expires `"never"` never expires.
    pub fn is_expired(&self, today: Date) -> bool {
        self.expires.is_some_and(|expires| today > expires)
    }
}

/// How a metric's aggregates are released.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "mechanism", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Release {
    /// The collector adds calibrated noise to released aggregates (central
    /// differential privacy).
    CentralDp {
        /// Privacy loss per release, in (0, [`limits::MAX_EPSILON`]].
        epsilon: f64,
        /// Probability the ε bound may fail, in (0, [`limits::MAX_DELTA`]]:
        /// the chance that a value only one report named (a domain, an
        /// undeclared dimension value) is shown. Required for `domain_set`
        /// and for metrics with an open dimension; spent only by releases
        /// that select from an open set.
        #[serde(skip_serializing_if = "Option::is_none")]
        delta: Option<f64>,
    },
    /// The device randomizes each value before sending it (local
    /// differential privacy); only for `boolean` and `category`. The
    /// collector then adds central noise to the randomized counts, so that
    /// not even the number of reports is released exactly.
    LocalDp {
        /// The device's privacy loss for one randomized answer, in (0,
        /// [`limits::MAX_EPSILON`]]. The answer is memoized per true value,
        /// so a value that never changes costs this once, not once a day.
        epsilon: f64,
        /// ε of the central noise on the randomized counts, spent from the
        /// region's budget by each release, in (0, [`limits::MAX_EPSILON`]].
        count_epsilon: f64,
        /// As for central DP: required when the metric has an open
        /// dimension.
        #[serde(skip_serializing_if = "Option::is_none")]
        delta: Option<f64>,
    },
}

impl Release {
    /// The TOML `mechanism` string: `central_dp` or `local_dp`.
    pub fn mechanism(&self) -> &'static str {
        match self {
            Release::CentralDp { .. } => "central_dp",
            Release::LocalDp { .. } => "local_dp",
        }
    }

    /// The ε of either mechanism: the collector's noise for central DP,
    /// the device's randomization for local DP.
    pub fn epsilon(&self) -> f64 {
        match *self {
            Release::CentralDp { epsilon, .. } | Release::LocalDp { epsilon, .. } => epsilon,
        }
    }

    /// The ε a release spends from the region's budget by default: the
    /// central ε, or the local-DP metric's `count_epsilon`.
    pub fn release_epsilon(&self) -> f64 {
        match *self {
            Release::CentralDp { epsilon, .. } => epsilon,
            Release::LocalDp { count_epsilon, .. } => count_epsilon,
        }
    }

    /// δ of releases that select from an open set, if declared.
    pub fn delta(&self) -> Option<f64> {
        match *self {
            Release::CentralDp { delta, .. } | Release::LocalDp { delta, .. } => delta,
        }
    }
}

/// A region: where reports are sent, under which law, and for how long the
/// aggregates are kept.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Region {
    /// Id, `[a-z][a-z0-9-]{0,15}`.
    pub id: String,
    /// Human name, for example `European Union`.
    pub name: String,
    /// Governing law, for example `GDPR`.
    pub law: String,
    /// Days aggregates are kept before deletion, in 1..=
    /// [`limits::MAX_RETENTION_DAYS`].
    pub retention_days: u32,
    /// Minimum number of distinct contributors for a group to be released,
    /// at least [`limits::MIN_K`].
    pub k_min: u32,
    /// Privacy budget: total ε that may be spent per metric per day, in
    /// (0, [`limits::MAX_EPSILON`]].
    pub epsilon_per_metric_day: f64,
    /// Privacy budget: total ε that may be spent per purpose per day, over
    /// all the purpose's metrics, in (0, [`limits::MAX_EPSILON`]]. One
    /// device's report for a purpose and day is what releases protect, so
    /// this bounds what all of them together can reveal about it.
    pub epsilon_per_purpose_day: f64,
    /// Total δ that may be spent per purpose per day, in (0,
    /// [`limits::MAX_DELTA`]].
    pub delta_per_purpose_day: f64,
    /// Days after a day ends during which its reports are still accepted,
    /// in 0..=[`limits::MAX_REPORT_WINDOW_DAYS`]; default
    /// [`limits::DEFAULT_REPORT_WINDOW_DAYS`]. A day is released only once
    /// this window has passed (it is then *closed*), and the SDK drops a
    /// report it could no longer deliver in time.
    pub report_window_days: u32,
    /// Base `https://` URL of the region's collector, if announced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collector: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dim(rule: DimensionRule) -> Dimension {
        Dimension {
            id: "d".into(),
            description: "d".into(),
            rule,
        }
    }

    #[test]
    fn coarsen_major_minor() {
        let d = dim(DimensionRule::MajorMinor);
        let cases = [
            ("121.3.6099.230", Some("121.3")),
            ("121.3", Some("121.3")),
            ("121", Some("121.0")),
            (" 17.2-beta ", Some("17.2")),
            ("007.010", Some("7.10")),
            ("1.2rc1", Some("1.2")),
            ("0.0.1", Some("0.0")),
            ("v121.3", None),
            ("121.x", None),
            ("", None),
            ("garbage", None),
            (".3", None),
            ("1234567890.1", None),
        ];
        for (raw, want) in cases {
            let got = d.coarsen(raw);
            assert_eq!(got.as_deref(), want, "coarsen({raw:?})");
            if let Some(v) = got {
                assert!(d.accepts(&v), "coarsen({raw:?}) = {v:?} must be accepted");
            }
        }
    }

    #[test]
    fn coarsen_major() {
        let d = dim(DimensionRule::Major);
        let cases = [
            ("14", Some("14")),
            ("14.1.2", Some("14")),
            ("017", Some("17")),
            ("14-beta", Some("14")),
            ("", None),
            ("android", None),
            ("9999999999", None),
        ];
        for (raw, want) in cases {
            let got = d.coarsen(raw);
            assert_eq!(got.as_deref(), want, "coarsen({raw:?})");
            if let Some(v) = got {
                assert!(d.accepts(&v));
            }
        }
    }

    #[test]
    fn coarsen_values() {
        let d = dim(DimensionRule::Values(vec!["android".into(), "ios".into()]));
        assert_eq!(d.coarsen("ios").as_deref(), Some("ios"));
        assert_eq!(d.coarsen("iOS"), None);
        assert_eq!(d.coarsen("windows"), None);
    }

    #[test]
    fn accepts_table() {
        let mm = dim(DimensionRule::MajorMinor);
        let major = dim(DimensionRule::Major);
        let set = dim(DimensionRule::Values(vec!["android".into(), "ios".into()]));
        let cases: [(&Dimension, &str, bool); 20] = [
            (&mm, "121.3", true),
            (&mm, "0.0", true),
            (&mm, "121.30", true),
            (&mm, "121", false),
            (&mm, "121.3.1", false),
            (&mm, "121.03", false),
            (&mm, "01.3", false),
            (&mm, "121.", false),
            (&mm, ".3", false),
            (&mm, "1234567890.1", false),
            (&mm, "+1.2", false),
            (&major, "14", true),
            (&major, "0", true),
            (&major, "014", false),
            (&major, "14.0", false),
            (&major, "", false),
            (&major, "-1", false),
            (&set, "android", true),
            (&set, "Android", false),
            (&set, "", false),
        ];
        for (d, value, want) in cases {
            assert_eq!(d.accepts(value), want, "{:?}.accepts({value:?})", d.rule);
        }
    }

    #[test]
    fn buckets() {
        let m = Metric {
            id: "a.b".into(),
            kind: MetricKind::Distribution {
                buckets: vec![10, 50, 100],
            },
            purpose: "p".into(),
            description: "d".into(),
            owner: "o".into(),
            expires: None,
            max_per_report: 10,
            dimensions: vec![],
            release: Release::CentralDp {
                epsilon: 1.0,
                delta: None,
            },
        };
        let cases = [
            (0, 0),
            (10, 0),
            (11, 1),
            (50, 1),
            (51, 2),
            (100, 2),
            (101, 3),
            (u64::MAX, 3),
        ];
        for (v, want) in cases {
            assert_eq!(m.bucket_index(v), Some(want), "bucket_index({v})");
        }
        assert!(!m.is_expired(time::macros::date!(2026 - 11 - 29)));
    }
}

//! The report plaintext: the JSON document that is sealed inside an envelope.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;
use crate::limits::MAX_REPORT_BYTES;

/// The value of the report's `v` field for this version of the format.
pub const REPORT_FORMAT_VERSION: u8 = 1;

/// A random 128-bit identifier, used by the collector only to drop a retried
/// duplicate of a report it has already counted.
///
/// It is drawn afresh for every report, so it links nothing: two reports from
/// the same device share no identifier.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReportId(pub [u8; 16]);

impl ReportId {
    /// Draws a new id from the operating system's CSPRNG.
    pub fn random() -> Result<Self, Error> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|_| Error::Randomness)?;
        Ok(ReportId(bytes))
    }

    /// The id as 32 lowercase hex digits, as it appears in the JSON.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for ReportId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReportId({})", self.to_hex())
    }
}

impl Serialize for ReportId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for ReportId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <&str>::deserialize(d)?;
        let mut bytes = [0u8; 16];
        if text.len() != 32 || text.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(serde::de::Error::custom(
                "report_id must be 32 lowercase hex digits",
            ));
        }
        hex::decode_to_slice(text, &mut bytes)
            .map_err(|_| serde::de::Error::custom("report_id must be 32 lowercase hex digits"))?;
        Ok(ReportId(bytes))
    }
}

/// A UTC calendar day, the finest time a report may carry (`candor-time`'s,
/// written in JSON as `"YYYY-MM-DD"`).
pub use candor_time::Day;

/// One metric's value in a report. The variant must match the metric's type
/// in the schema; the collector checks labels, buckets and bounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    content = "value",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum MetricValue {
    /// How many times something happened that day.
    Counter(u64),
    /// Counts per label from the schema's closed label set.
    LabeledCounter(BTreeMap<String, u64>),
    /// A yes/no state (possibly randomized on the device under local DP).
    Boolean(bool),
    /// One category from the schema's closed set (possibly randomized).
    Category(String),
    /// Sample counts per bucket, one entry per bucket of the schema (the
    /// schema's n bounds make n + 1 buckets).
    Distribution(Vec<u64>),
    /// Registrable domains (eTLD+1), each at most once.
    DomainSet(BTreeSet<String>),
    /// That the device was in use on the report's day, with the flags its
    /// on-device memory derived (docs/wire.md §2.5).
    Activity(Activity),
}

/// An `activity` value: the device was in use on the report's day, and what
/// that day was for it. The device derives the flags from what it remembers
/// (its last active day, install week, the weeks and months already
/// counted), which never leaves it; the collector only adds flags up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Activity {
    /// Active on the report's day: always true in a valid report (a day
    /// without use sends no activity value).
    pub today: bool,
    /// The first active day of its ISO week (Monday to Sunday).
    pub first_in_week: bool,
    /// The first active day of its calendar month.
    pub first_in_month: bool,
    /// The first active day since the install (or since the device's
    /// activity memory was deleted).
    pub first_day: bool,
    /// The install week, or [`Cohort::Older`] beyond the schema's horizon.
    pub cohort: Cohort,
}

/// An install cohort: the ISO week of the install, or every install more
/// than the metric's `cohort_weeks` before the report's week folded into
/// one value, so an old install week cannot single a device out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cohort {
    /// Installed in this ISO week (JSON `"2026-W49"`).
    Week(candor_time::IsoWeek),
    /// Installed before the horizon (JSON `"older"`).
    Older,
}

/// The JSON spelling of [`Cohort::Older`].
const OLDER: &str = "older";

impl fmt::Display for Cohort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cohort::Week(w) => w.fmt(f),
            Cohort::Older => f.write_str(OLDER),
        }
    }
}

impl Serialize for Cohort {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cohort {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'_, str>>::deserialize(d)?;
        if text == OLDER {
            return Ok(Cohort::Older);
        }
        candor_time::IsoWeek::parse(&text)
            .map(Cohort::Week)
            .ok_or_else(|| {
                serde::de::Error::custom(
                    "cohort must be an ISO week such as 2026-W49, or \"older\"",
                )
            })
    }
}

/// The plaintext of one report: one device's data for one purpose and one day.
///
/// Exactly these fields, no more: decoding refuses unknown fields, so a
/// report cannot carry a device id, a time finer than a day, an IP address or
/// a user agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Format version; [`REPORT_FORMAT_VERSION`] for this crate.
    pub v: u8,
    /// Random id used only to drop retried duplicates.
    pub report_id: ReportId,
    /// The data dictionary's id, e.g. `org.example.browser`.
    pub schema: String,
    /// The data dictionary's version the device used.
    pub schema_version: u32,
    /// The purpose every metric in this report belongs to.
    pub purpose: String,
    /// The consent version the user agreed to for that purpose.
    pub consent_version: u32,
    /// The region whose collector may open this report.
    pub region: String,
    /// The UTC day the values were recorded on.
    pub day: Day,
    /// Coarse context fields (platform, app version as major.minor, ...).
    #[serde(default)]
    pub dimensions: BTreeMap<String, String>,
    /// Metric id to value.
    pub metrics: BTreeMap<String, MetricValue>,
}

/// Why a report without metrics is malformed (docs/wire.md §2): it would
/// say nothing but that a device exists.
const NO_METRICS: &str = "a report holds at least one metric";

impl Report {
    /// An empty report (no dimensions, no metrics) with the given header fields.
    pub fn new(
        report_id: ReportId,
        schema: impl Into<String>,
        schema_version: u32,
        purpose: impl Into<String>,
        consent_version: u32,
        region: impl Into<String>,
        day: Day,
    ) -> Self {
        Report {
            v: REPORT_FORMAT_VERSION,
            report_id,
            schema: schema.into(),
            schema_version,
            purpose: purpose.into(),
            consent_version,
            region: region.into(),
            day,
            dimensions: BTreeMap::new(),
            metrics: BTreeMap::new(),
        }
    }

    /// Encodes the report as compact JSON, refusing one without metrics or
    /// over [`MAX_REPORT_BYTES`].
    pub fn to_json(&self) -> Result<Vec<u8>, Error> {
        if self.metrics.is_empty() {
            return Err(Error::MalformedReport(NO_METRICS.into()));
        }
        let bytes = serde_json::to_vec(self).map_err(|e| Error::MalformedReport(e.to_string()))?;
        if bytes.len() > MAX_REPORT_BYTES {
            return Err(Error::TooLarge {
                what: "report",
                len: bytes.len(),
                max: MAX_REPORT_BYTES,
                unit: "bytes",
            });
        }
        Ok(bytes)
    }

    /// Decodes a report, refusing one over [`MAX_REPORT_BYTES`], with unknown
    /// fields, without metrics, or of another format version.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() > MAX_REPORT_BYTES {
            return Err(Error::TooLarge {
                what: "report",
                len: bytes.len(),
                max: MAX_REPORT_BYTES,
                unit: "bytes",
            });
        }
        let report: Report =
            serde_json::from_slice(bytes).map_err(|e| Error::MalformedReport(e.to_string()))?;
        if report.metrics.is_empty() {
            return Err(Error::MalformedReport(NO_METRICS.into()));
        }
        if report.v != REPORT_FORMAT_VERSION {
            return Err(Error::MalformedReport(format!(
                "report format version {} is not supported (expected {REPORT_FORMAT_VERSION})",
                report.v
            )));
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_refused() {
        let json = br#"{"v":1,"report_id":"000102030405060708090a0b0c0d0e0f","schema":"s","schema_version":1,
            "purpose":"usage","consent_version":1,"region":"eu","day":"2026-11-29","metrics":{},
            "device_id":"abc"}"#;
        let err = Report::from_json(json).expect_err("device_id is not a report field");
        assert_eq!(err.code(), "malformed_report");
    }

    #[test]
    fn report_id_must_be_lowercase_hex() {
        let mk = |id: &str| {
            format!(
                r#"{{"v":1,"report_id":"{id}","schema":"s","schema_version":1,"purpose":"usage","consent_version":1,"region":"eu","day":"2026-11-29","metrics":{{"m.n":{{"type":"counter","value":1}}}}}}"#
            )
        };
        assert!(Report::from_json(mk("000102030405060708090a0b0c0d0e0f").as_bytes()).is_ok());
        assert!(Report::from_json(mk("000102030405060708090A0B0C0D0E0F").as_bytes()).is_err());
        assert!(Report::from_json(mk("0001").as_bytes()).is_err());
    }

    #[test]
    fn metric_values_are_tagged() {
        let v = MetricValue::LabeledCounter(BTreeMap::from([("camera".to_string(), 3)]));
        let json = serde_json::to_string(&v).expect("serializes");
        assert_eq!(json, r#"{"type":"labeled_counter","value":{"camera":3}}"#);
        let neg = r#"{"type":"counter","value":-1}"#;
        assert!(serde_json::from_str::<MetricValue>(neg).is_err());
    }

    #[test]
    fn activity_values_are_flags_and_a_cohort() {
        let week = candor_time::IsoWeek::parse("2026-W49").expect("a week");
        let v = MetricValue::Activity(Activity {
            today: true,
            first_in_week: true,
            first_in_month: false,
            first_day: false,
            cohort: Cohort::Week(week),
        });
        let json = serde_json::to_string(&v).expect("serializes");
        assert_eq!(
            json,
            r#"{"type":"activity","value":{"today":true,"first_in_week":true,"first_in_month":false,"first_day":false,"cohort":"2026-W49"}}"#
        );
        assert_eq!(serde_json::from_str::<MetricValue>(&json).ok(), Some(v));
        let older = json.replace("2026-W49", "older");
        assert!(serde_json::from_str::<MetricValue>(&older).is_ok());
        for bad in ["2026-W54", "2026-12-07", "Older"] {
            let text = json.replace("2026-W49", bad);
            assert!(serde_json::from_str::<MetricValue>(&text).is_err(), "{bad}");
        }
        let extra = json.replace(r#""today":true"#, r#""today":true,"device":"x""#);
        assert!(serde_json::from_str::<MetricValue>(&extra).is_err());
    }

    #[test]
    fn a_report_without_metrics_is_malformed() {
        let json = br#"{"v":1,"report_id":"000102030405060708090a0b0c0d0e0f","schema":"s","schema_version":1,
            "purpose":"usage","consent_version":1,"region":"eu","day":"2026-11-29","metrics":{}}"#;
        let err = Report::from_json(json).expect_err("no metrics");
        assert_eq!(err.code(), "malformed_report");
        let mut report: Report = serde_json::from_slice(json).expect("the shape parses");
        assert_eq!(
            report.to_json().map_err(|e| e.code()),
            Err("malformed_report")
        );
        report.metrics.insert("m.n".into(), MetricValue::Counter(1));
        assert!(report.to_json().is_ok());
    }
}

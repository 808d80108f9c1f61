//! One metric: its purpose, texts, expiry, kind-specific fields (labels,
//! categories, buckets), contribution bound and dimensions; the release
//! settings are checked in `release`.

use std::collections::BTreeSet;

use time::Date;
use toml::Spanned;

use crate::diagnostic::ErrorKind;
use crate::limits;
use crate::model::{Metric, MetricKind, format_date};
use crate::raw::{RawKind, RawMetric, SpannedStrings};
use crate::rules;

use super::paths::{index, join};
use super::{Cx, Entry, Refs};

const METRIC_ID_RULE: &str = "metric ids are `area.name`, each part a-z, 0-9 and '_' starting with a letter, at most 64 characters in all";

impl Cx<'_> {
    /// One `[metrics.ID]` item; records the purposes and dimensions it uses,
    /// so unused ones can be reported.
    pub(super) fn metric(
        &mut self,
        e: &Entry<'_, '_>,
        refs: &Refs<'_>,
        used_purposes: &mut BTreeSet<String>,
        used_dimensions: &mut BTreeSet<String>,
    ) -> Option<Metric> {
        let mut ok = self.id(e, rules::is_metric_id, METRIC_ID_RULE);
        let raw: RawMetric = self.de(e.value, &e.path)?;
        let path = e.path.as_str();
        let kind = *raw.kind.get_ref();

        // Purpose.
        let purpose = raw.purpose.get_ref();
        used_purposes.insert(purpose.clone());
        if !refs.purposes.contains(purpose) {
            self.report(
                raw.purpose.span(),
                join(path, "purpose"),
                ErrorKind::UnknownPurpose,
                format!(
                    "no purpose `{purpose}` is declared; declared purposes: {}",
                    list(refs.purposes.iter())
                ),
            );
            ok = false;
        }
        ok &= self.text(&raw.description, path, "description");
        ok &= self.text(&raw.owner, path, "owner");

        // Expiry.
        let expires = self.expires(&raw.expires, &join(path, "expires"), refs.today);
        ok &= expires.is_some();

        // Type-specific fields.
        let applies = [
            (
                "labels",
                raw.labels.as_ref().map(Spanned::span),
                RawKind::LabeledCounter,
            ),
            (
                "categories",
                raw.categories.as_ref().map(Spanned::span),
                RawKind::Category,
            ),
            (
                "buckets",
                raw.buckets.as_ref().map(Spanned::span),
                RawKind::Distribution,
            ),
            (
                "cohort_weeks",
                raw.cohort_weeks.as_ref().map(Spanned::span),
                RawKind::Activity,
            ),
        ];
        for (field, span, only) in applies {
            if let Some(span) = span.filter(|_| kind != only) {
                self.report(
                    span,
                    join(path, field),
                    ErrorKind::FieldNotApplicable,
                    format!(
                        "`{field}` does not apply to a {} metric; it is only for {} metrics",
                        kind.name(),
                        only.name()
                    ),
                );
                ok = false;
            }
        }
        let metric_kind = match kind {
            RawKind::Counter => Some(MetricKind::Counter),
            RawKind::Boolean => Some(MetricKind::Boolean),
            RawKind::DomainSet => Some(MetricKind::DomainSet),
            RawKind::LabeledCounter => self
                .required_set(raw.labels.as_ref(), e, "labels", "label", kind)
                .map(|labels| MetricKind::LabeledCounter { labels }),
            RawKind::Category => self
                .required_set(raw.categories.as_ref(), e, "categories", "category", kind)
                .map(|categories| MetricKind::Category { categories }),
            RawKind::Distribution => self
                .buckets(raw.buckets.as_ref(), e)
                .map(|buckets| MetricKind::Distribution { buckets }),
            RawKind::Activity => self
                .cohort_weeks(raw.cohort_weeks.as_ref(), e)
                .map(|cohort_weeks| MetricKind::Activity { cohort_weeks }),
        };

        let bound = self.bound(raw.max_per_report.as_ref(), e, kind);

        // Dimensions.
        let mut dims = Vec::new();
        if let Some(list_) = &raw.dimensions {
            let mut seen = BTreeSet::new();
            for (i, d) in list_.get_ref().iter().enumerate() {
                let name = d.get_ref();
                used_dimensions.insert(name.clone());
                let item_path = index(&join(path, "dimensions"), i);
                if !refs.dimensions.contains(name) {
                    self.report(
                        d.span(),
                        item_path,
                        ErrorKind::UnknownDimension,
                        format!(
                            "no dimension `{name}` is declared; declared dimensions: {}",
                            list(refs.dimensions.iter())
                        ),
                    );
                    ok = false;
                } else if !seen.insert(name.clone()) {
                    self.report(
                        d.span(),
                        item_path,
                        ErrorKind::DuplicateId,
                        format!("dimension `{name}` is listed twice; list each dimension once"),
                    );
                    ok = false;
                } else {
                    dims.push(name.clone());
                }
            }
        }

        let open_dims: Vec<&str> = dims
            .iter()
            .filter(|d| refs.open_dimensions.contains(*d))
            .map(String::as_str)
            .collect();
        let release = self.release(&raw.release, path, kind, &open_dims, refs);

        let (Some(metric_kind), Some(max_per_report), Some(expires), Some(release), true) =
            (metric_kind, bound, expires, release, ok)
        else {
            return None;
        };
        Some(Metric {
            id: e.id.clone(),
            kind: metric_kind,
            purpose: raw.purpose.into_inner(),
            description: raw.description.into_inner(),
            owner: raw.owner.into_inner(),
            expires,
            max_per_report,
            dimensions: dims,
            release,
        })
    }

    /// A closed set the metric's kind requires (labels, categories).
    fn required_set(
        &mut self,
        set: Option<&SpannedStrings>,
        e: &Entry<'_, '_>,
        field: &str,
        noun: &str,
        kind: RawKind,
    ) -> Option<Vec<String>> {
        let path = join(&e.path, field);
        match set {
            Some(set) => self.closed_set(set, &path, noun),
            None => {
                self.report(
                    e.value.span(),
                    path,
                    ErrorKind::MissingField,
                    format!(
                        "missing field `{field}`; a {} metric needs a closed set of 1 to {} {noun}s",
                        kind.name(),
                        limits::MAX_SET_SIZE
                    ),
                );
                None
            }
        }
    }

    /// A distribution's bucket bounds: 1 to `MAX_BUCKET_BOUNDS`, strictly increasing.
    fn buckets(
        &mut self,
        buckets: Option<&Spanned<Vec<Spanned<u64>>>>,
        e: &Entry<'_, '_>,
    ) -> Option<Vec<u64>> {
        let path = join(&e.path, "buckets");
        let Some(buckets) = buckets else {
            self.report(
                e.value.span(),
                path,
                ErrorKind::MissingField,
                format!(
                    "missing field `buckets`; a distribution needs 1 to {} strictly increasing bucket upper bounds",
                    limits::MAX_BUCKET_BOUNDS
                ),
            );
            return None;
        };
        let items = buckets.get_ref();
        let mut ok = true;
        if items.is_empty() {
            self.report(
                buckets.span(),
                path.clone(),
                ErrorKind::EmptySet,
                format!(
                    "no bucket bounds given; list 1 to {} strictly increasing upper bounds",
                    limits::MAX_BUCKET_BOUNDS
                ),
            );
            ok = false;
        } else if items.len() > limits::MAX_BUCKET_BOUNDS {
            self.report(
                buckets.span(),
                path.clone(),
                ErrorKind::OversizedSet,
                format!(
                    "{} bucket bounds given; at most {} are allowed",
                    items.len(),
                    limits::MAX_BUCKET_BOUNDS
                ),
            );
            ok = false;
        }
        for (i, pair) in items.windows(2).enumerate() {
            let (prev, next) = (*pair[0].get_ref(), *pair[1].get_ref());
            if next <= prev {
                self.report(
                    pair[1].span(),
                    index(&path, i + 1),
                    ErrorKind::BucketsNotIncreasing,
                    format!(
                        "bucket bound {next} is not greater than the bound before it ({prev}); bounds must be strictly increasing"
                    ),
                );
                ok = false;
            }
        }
        ok.then(|| items.iter().map(|b| *b.get_ref()).collect())
    }

    /// An activity metric's `cohort_weeks`: required, 1 to `MAX_COHORT_WEEKS`.
    fn cohort_weeks(&mut self, weeks: Option<&Spanned<u32>>, e: &Entry<'_, '_>) -> Option<u8> {
        let path = join(&e.path, "cohort_weeks");
        let max = limits::MAX_COHORT_WEEKS;
        let Some(weeks) = weeks else {
            self.report(
                e.value.span(),
                path,
                ErrorKind::MissingField,
                format!(
                    "missing field `cohort_weeks`; an activity metric declares how many weekly install cohorts it keeps apart, from 1 to {max} (older installs are sent as one value)"
                ),
            );
            return None;
        };
        let n = *weeks.get_ref();
        match u8::try_from(n).ok().filter(|n| (1..=max).contains(n)) {
            Some(n) => Some(n),
            None => {
                self.report(
                    weeks.span(),
                    path,
                    ErrorKind::InvalidField,
                    format!("cohort_weeks is {n}; it must be from 1 to {max}"),
                );
                None
            }
        }
    }

    /// `max_per_report`: fixed at 1 for one-value kinds, otherwise required and in range.
    fn bound(
        &mut self,
        bound: Option<&Spanned<u64>>,
        e: &Entry<'_, '_>,
        kind: RawKind,
    ) -> Option<u64> {
        let path = join(&e.path, "max_per_report");
        let limit = match kind {
            RawKind::Boolean | RawKind::Category | RawKind::Activity => {
                return match bound {
                    None => Some(1),
                    Some(b) if *b.get_ref() == 1 => Some(1),
                    Some(b) => {
                        self.report(
                            b.span(),
                            path,
                            ErrorKind::InvalidContributionBound,
                            format!(
                                "max_per_report is {}, but a {} report carries exactly one value; omit it or set it to 1",
                                b.get_ref(),
                                kind.name()
                            ),
                        );
                        None
                    }
                };
            }
            RawKind::DomainSet => limits::MAX_DOMAINS_PER_REPORT,
            _ => limits::MAX_CONTRIBUTION_BOUND,
        };
        let Some(b) = bound else {
            self.report(
                e.value.span(),
                path,
                ErrorKind::InvalidContributionBound,
                format!(
                    "missing `max_per_report`; a {} metric must bound what one report may add, from 1 to {limit}",
                    kind.name()
                ),
            );
            return None;
        };
        let v = *b.get_ref();
        if v == 0 || v > limit {
            self.report(
                b.span(),
                path,
                ErrorKind::InvalidContributionBound,
                format!(
                    "max_per_report is {v}; it must be from 1 to {limit} for a {} metric",
                    kind.name()
                ),
            );
            return None;
        }
        Some(v)
    }

    /// `expires`: a date or `"never"`; a past date is a warning.
    fn expires(
        &mut self,
        value: &Spanned<toml::Value>,
        path: &str,
        today: Date,
    ) -> Option<Option<Date>> {
        let date = match value.get_ref() {
            toml::Value::String(s) if s == "never" => return Some(None),
            toml::Value::String(s) => parse_date(s),
            toml::Value::Datetime(dt) => match (dt.date, dt.time, dt.offset) {
                (Some(d), None, None) => time::Month::try_from(d.month)
                    .ok()
                    .and_then(|m| Date::from_calendar_date(i32::from(d.year), m, d.day).ok()),
                _ => None,
            },
            _ => None,
        };
        let Some(date) = date else {
            self.report(
                value.span(),
                path,
                ErrorKind::InvalidField,
                format!(
                    "expires is {}; expected a date such as 2027-12-31 (the last day the metric may be recorded) or \"never\"",
                    value.get_ref()
                ),
            );
            return None;
        };
        if today > date {
            self.report(
                value.span(),
                path,
                ErrorKind::MetricExpired,
                format!(
                    "the metric expired on {} (today is {}); clients no longer need to record it: extend `expires` or remove the metric",
                    format_date(date),
                    format_date(today)
                ),
            );
        }
        Some(Some(date))
    }
}

/// Backquoted ids for a message, or `none`.
fn list<'a>(items: impl Iterator<Item = &'a String>) -> String {
    let items: Vec<String> = items.map(|i| format!("`{i}`")).collect();
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

/// A `YYYY-MM-DD` date.
fn parse_date(s: &str) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s, &format).ok()
}

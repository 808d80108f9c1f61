//! The `[schema]` header and the items metrics refer to: purposes,
//! dimensions and regions, each checked on its own.

use toml::Spanned;
use toml::de::DeTable;

use crate::diagnostic::ErrorKind;
use crate::limits;
use crate::model::{Dimension, DimensionRule, Purpose, Region, Sensitivity};
use crate::raw::{RawCoarsen, RawDimension, RawHeader, RawPurpose, RawRegion};
use crate::rules;

use super::paths::join;
use super::{Cx, Entry};

const PURPOSE_ID_RULE: &str =
    "purpose ids are 1-32 characters of a-z, 0-9 and '_', starting with a letter";
const DIMENSION_ID_RULE: &str =
    "dimension ids are 1-32 characters of a-z, 0-9 and '_', starting with a letter";
const REGION_ID_RULE: &str =
    "region ids are 1-16 characters of a-z, 0-9 and '-', starting with a letter";

impl Cx<'_> {
    /// The `[schema]` table: the schema id and version.
    pub(super) fn header(&mut self, root: &DeTable<'_>) -> Option<(String, u32)> {
        let Some(value) = root.get("schema") else {
            self.report(
                0..0,
                "schema",
                ErrorKind::MissingField,
                "missing [schema] table; it must give the schema `id` and `version`",
            );
            return None;
        };
        let raw: RawHeader = self.de(value, "schema")?;
        let mut ok = true;
        if !rules::is_schema_id(raw.id.get_ref()) {
            self.report(
                raw.id.span(),
                "schema.id",
                ErrorKind::InvalidId,
                format!(
                    "`{}` is not a valid schema id; use 1-{} characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit, such as `org.example.app`",
                    raw.id.get_ref(),
                    limits::MAX_SCHEMA_ID_LEN
                ),
            );
            ok = false;
        }
        if *raw.version.get_ref() == 0 {
            self.report(
                raw.version.span(),
                "schema.version",
                ErrorKind::InvalidVersion,
                "version is 0; schema versions start at 1",
            );
            ok = false;
        }
        ok.then(|| (raw.id.into_inner(), raw.version.into_inner()))
    }

    /// One `[purposes.ID]` item.
    pub(super) fn purpose(&mut self, e: &Entry<'_, '_>) -> Option<Purpose> {
        let mut ok = self.id(e, rules::is_purpose_id, PURPOSE_ID_RULE);
        let raw: RawPurpose = self.de(e.value, &e.path)?;
        ok &= self.text(&raw.title, &e.path, "title");
        ok &= self.text(&raw.description, &e.path, "description");
        if let Some(basis) = &raw.legal_basis {
            ok &= self.text(basis, &e.path, "legal_basis");
        }
        if *raw.consent_version.get_ref() == 0 {
            self.report(
                raw.consent_version.span(),
                join(&e.path, "consent_version"),
                ErrorKind::InvalidVersion,
                "consent_version is 0; consent versions start at 1",
            );
            ok = false;
        }
        ok.then(|| Purpose {
            id: e.id.clone(),
            title: raw.title.into_inner(),
            description: raw.description.into_inner(),
            legal_basis: raw
                .legal_basis
                .map_or_else(|| "consent".to_owned(), Spanned::into_inner),
            sensitivity: raw.sensitivity.unwrap_or(Sensitivity::Low),
            consent_version: raw.consent_version.into_inner(),
            allowed_in_private_mode: raw.allowed_in_private_mode,
        })
    }

    /// One `[dimensions.ID]` item: a closed set of values or a coarsening rule.
    pub(super) fn dimension(&mut self, e: &Entry<'_, '_>) -> Option<Dimension> {
        let mut ok = self.id(e, rules::is_purpose_id, DIMENSION_ID_RULE);
        let raw: RawDimension = self.de(e.value, &e.path)?;
        ok &= self.text(&raw.description, &e.path, "description");
        let rule = match (&raw.values, &raw.coarsen) {
            (Some(values), None) => self
                .closed_set(values, &join(&e.path, "values"), "dimension value")
                .map(DimensionRule::Values),
            (None, Some(coarsen)) => Some(match coarsen.get_ref() {
                RawCoarsen::MajorMinor => DimensionRule::MajorMinor,
                RawCoarsen::Major => DimensionRule::Major,
            }),
            (Some(_), Some(coarsen)) => {
                self.report(
                    coarsen.span(),
                    join(&e.path, "coarsen"),
                    ErrorKind::ConflictingFields,
                    "both `values` and `coarsen` are set; a dimension has exactly one of them",
                );
                None
            }
            (None, None) => {
                self.report(
                    e.value.span(),
                    join(&e.path, "values"),
                    ErrorKind::MissingField,
                    "neither `values` nor `coarsen` is set; give a closed set `values = [...]` or `coarsen = \"major_minor\"` / `\"major\"`",
                );
                None
            }
        };
        let rule = rule?;
        ok.then(|| Dimension {
            id: e.id.clone(),
            description: raw.description.into_inner(),
            rule,
        })
    }

    /// One `[regions.ID]` item: its law, retention, k and budgets.
    pub(super) fn region(&mut self, e: &Entry<'_, '_>) -> Option<Region> {
        let mut ok = self.id(e, rules::is_region_id, REGION_ID_RULE);
        let raw: RawRegion = self.de(e.value, &e.path)?;
        ok &= self.text(&raw.name, &e.path, "name");
        ok &= self.text(&raw.law, &e.path, "law");
        let retention = *raw.retention_days.get_ref();
        let retention_path = join(&e.path, "retention_days");
        if retention == 0 {
            self.report(
                raw.retention_days.span(),
                retention_path,
                ErrorKind::ZeroRetention,
                format!(
                    "retention_days is 0, so nothing could ever be released; give 1 to {} days",
                    limits::MAX_RETENTION_DAYS
                ),
            );
            ok = false;
        } else if retention > limits::MAX_RETENTION_DAYS {
            self.report(
                raw.retention_days.span(),
                retention_path,
                ErrorKind::RetentionTooLong,
                format!(
                    "retention_days is {retention}; at most {} days (about ten years) are allowed",
                    limits::MAX_RETENTION_DAYS
                ),
            );
            ok = false;
        }
        let k = *raw.k_min.get_ref();
        if k < limits::MIN_K {
            self.report(
                raw.k_min.span(),
                join(&e.path, "k_min"),
                ErrorKind::KMinTooSmall,
                format!(
                    "k_min is {k}, which would release groups of a single person; k_min must be at least {}",
                    limits::MIN_K
                ),
            );
            ok = false;
        }
        ok &= self.epsilon(
            &raw.epsilon_per_metric_day,
            &join(&e.path, "epsilon_per_metric_day"),
        );
        ok &= self.epsilon(
            &raw.epsilon_per_purpose_day,
            &join(&e.path, "epsilon_per_purpose_day"),
        );
        ok &= self.delta(
            &raw.delta_per_purpose_day,
            &join(&e.path, "delta_per_purpose_day"),
        );
        let window = raw
            .report_window_days
            .as_ref()
            .map_or(limits::DEFAULT_REPORT_WINDOW_DAYS, |w| *w.get_ref());
        if let Some(w) = raw
            .report_window_days
            .as_ref()
            .filter(|w| *w.get_ref() > limits::MAX_REPORT_WINDOW_DAYS)
        {
            self.report(
                w.span(),
                join(&e.path, "report_window_days"),
                ErrorKind::ReportWindowTooLong,
                format!(
                    "report_window_days is {window}; at most {} days are allowed, because no day is released before its window has passed",
                    limits::MAX_REPORT_WINDOW_DAYS
                ),
            );
            ok = false;
        }
        if let Some(url) = raw
            .collector
            .as_ref()
            .filter(|u| !is_https_url(u.get_ref()))
        {
            self.report(
                    url.span(),
                    join(&e.path, "collector"),
                    ErrorKind::InvalidUrl,
                    format!(
                        "`{}` is not a valid collector URL; use an https:// URL with a host and no credentials, query or fragment, such as https://eu.collector.example",
                        url.get_ref()
                    ),
                );
            ok = false;
        }
        ok.then(|| Region {
            id: e.id.clone(),
            name: raw.name.into_inner(),
            law: raw.law.into_inner(),
            retention_days: retention,
            k_min: k,
            epsilon_per_metric_day: raw.epsilon_per_metric_day.into_inner(),
            epsilon_per_purpose_day: raw.epsilon_per_purpose_day.into_inner(),
            delta_per_purpose_day: raw.delta_per_purpose_day.into_inner(),
            report_window_days: window,
            collector: raw.collector.map(Spanned::into_inner),
        })
    }
}

/// Whether `url` is an https URL with a host and no credentials, query or
/// fragment.
fn is_https_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let host = rest.split('/').next().unwrap_or_default();
    !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        && !rest.contains(['?', '#', ' ', '@'])
        && !rest.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(is_https_url("https://eu.collector.example"));
        assert!(is_https_url("https://eu.collector.example:8443/v1"));
        assert!(!is_https_url("http://eu.collector.example"));
        assert!(!is_https_url("https://"));
        assert!(!is_https_url("https://user@host"));
        assert!(!is_https_url("https://host/?q"));
    }
}

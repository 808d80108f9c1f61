//! Parsing and validation: TOML source to [`Checked`] or [`SchemaErrors`].
//!
//! The document is parsed once into a span-carrying tree. Each item (the
//! header, every purpose, dimension, region and metric) is then deserialized
//! on its own, so a typo in one metric does not hide the errors of the next,
//! and then checked field by field. Every finding is collected; nothing stops
//! at the first error except a TOML syntax error, after which the tree is
//! only a best-effort recovery and further findings would be noise.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use serde::de::DeserializeOwned;
use time::Date;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use crate::Checked;
use crate::diagnostic::{Diagnostic, ErrorKind, LineIndex, SchemaErrors, Severity};
use crate::limits;
use crate::model::{
    Dimension, DimensionRule, Metric, MetricKind, Purpose, Region, Release, Schema, Sensitivity,
    format_date,
};
use crate::raw::{
    RawCoarsen, RawDimension, RawHeader, RawKind, RawMechanism, RawMetric, RawPurpose, RawRegion,
    SpannedStrings,
};
use crate::rules;

type Span = Range<usize>;

/// The top-level sections, in the order the docs describe them.
const SECTIONS: [&str; 5] = ["schema", "purposes", "dimensions", "metrics", "regions"];

/// Sections whose entries are named items (`[metrics."a.b"]`), with the noun
/// used in messages.
const ITEM_SECTIONS: [(&str, &str); 4] = [
    ("purposes", "purpose"),
    ("dimensions", "dimension"),
    ("metrics", "metric"),
    ("regions", "region"),
];

pub(crate) fn parse(src: &str, origin: &str, today: Date) -> Result<Checked, SchemaErrors> {
    let mut cx = Cx {
        src,
        origin,
        index: LineIndex::new(src),
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let (root, syntax_errors) = DeTable::parse_recoverable(src);
    if !syntax_errors.is_empty() {
        cx.syntax(syntax_errors);
        return Err(cx.into_errors());
    }
    let root = root.into_inner();
    let schema = cx.schema(&root, today);
    match schema {
        Some(schema) if cx.errors.is_empty() => {
            let mut warnings = cx.warnings;
            sort(&mut warnings);
            Ok(Checked { schema, warnings })
        }
        _ => Err(cx.into_errors()),
    }
}

fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by_key(|d| (d.line, d.column));
}

/// One named item of a section, for example one metric.
struct Entry<'r, 's> {
    id: String,
    id_span: Span,
    value: &'r Spanned<DeValue<'s>>,
    path: String,
}

struct Cx<'s> {
    src: &'s str,
    origin: &'s str,
    index: LineIndex<'s>,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl Cx<'_> {
    fn into_errors(self) -> SchemaErrors {
        let mut errors = self.errors;
        let mut warnings = self.warnings;
        sort(&mut errors);
        sort(&mut warnings);
        SchemaErrors { errors, warnings }
    }

    fn report(
        &mut self,
        span: Span,
        path: impl Into<String>,
        kind: ErrorKind,
        message: impl Into<String>,
    ) {
        let (line, column) = self.index.position(span.start);
        let d = Diagnostic {
            origin: self.origin.to_owned(),
            line,
            column,
            path: path.into(),
            kind,
            message: message.into(),
        };
        match kind.severity() {
            Severity::Warning => self.warnings.push(d),
            _ => self.errors.push(d),
        }
    }

    // ----- syntax -------------------------------------------------------

    fn syntax(&mut self, mut errors: Vec<toml::de::Error>) {
        errors.sort_by_key(|e| e.span().map_or(0, |s| s.start));
        // A repeated table header makes the parser merge both tables, which
        // then reports every key they share as a duplicate too. Those echoes
        // say nothing new, so they are dropped up to the next header.
        let mut echo_until = 0;
        let mut last_syntax_line = None;
        for e in errors {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().to_owned();
            if message.starts_with("duplicate key") {
                if let Some(parts) = self.header_at(span.start) {
                    let item = match parts.as_slice() {
                        [section, id] => ITEM_SECTIONS
                            .iter()
                            .find(|(s, _)| s == section)
                            .map(|(_, noun)| (join(section, id), id.clone(), *noun)),
                        _ => None,
                    };
                    if let Some((path, id, noun)) = item {
                        let first = self
                            .first_header(&parts, span.start)
                            .map(|l| format!(" (first at line {l})"))
                            .unwrap_or_default();
                        self.report(
                            span.clone(),
                            path,
                            ErrorKind::DuplicateId,
                            format!(
                                "{noun} `{id}` is declared twice{first}; each id may be declared only once"
                            ),
                        );
                        echo_until = self.next_header_after(span.start);
                        continue;
                    }
                } else if span.start < echo_until {
                    continue;
                }
            }
            // After the first syntax error on a line the parser is guessing;
            // the rest of that line's errors are consequences.
            let line = self.index.position(span.start).0;
            if last_syntax_line == Some(line) {
                continue;
            }
            last_syntax_line = Some(line);
            let path = self.enclosing_header(span.start);
            if self.errors.len() >= limits::MAX_SYNTAX_ERRORS {
                self.report(
                    span,
                    path,
                    ErrorKind::Syntax,
                    "more syntax errors follow; fix the ones above first (a file that is not TOML at all produces one per line)",
                );
                break;
            }
            self.report(span, path, ErrorKind::Syntax, tidy(&message));
        }
    }

    /// The line containing byte `offset`.
    fn line_at(&self, offset: usize) -> (usize, &str) {
        let offset = offset.min(self.src.len());
        let start = self.src[..offset].rfind('\n').map_or(0, |i| i + 1);
        let end = self.src[offset..]
            .find('\n')
            .map_or(self.src.len(), |i| offset + i);
        (start, &self.src[start..end])
    }

    /// The key parts of the table header on the line containing `offset`.
    fn header_at(&self, offset: usize) -> Option<Vec<String>> {
        parse_header(self.line_at(offset).1)
    }

    /// The 1-based line of the first header equal to `parts` before `before`.
    fn first_header(&self, parts: &[String], before: usize) -> Option<usize> {
        self.src[..before.min(self.src.len())]
            .lines()
            .position(|line| parse_header(line).as_deref() == Some(parts))
            .map(|i| i + 1)
    }

    /// Byte offset of the next header line after the line containing `offset`.
    fn next_header_after(&self, offset: usize) -> usize {
        let (start, line) = self.line_at(offset);
        let mut pos = start + line.len() + 1;
        while pos < self.src.len() {
            let (s, l) = self.line_at(pos);
            if l.trim_start().starts_with('[') {
                return s;
            }
            pos = s + l.len() + 1;
        }
        self.src.len()
    }

    /// Path of the table header at or above `offset`, for syntax errors.
    fn enclosing_header(&self, offset: usize) -> String {
        let offset = offset.min(self.src.len());
        let (start, line) = self.line_at(offset);
        let end = start + line.len();
        self.src[..end]
            .lines()
            .rev()
            .find_map(parse_header)
            .map(|parts| parts.iter().fold(String::new(), |p, k| join(&p, k)))
            .unwrap_or_else(|| "(top level)".to_owned())
    }

    // ----- structure ----------------------------------------------------

    /// Deserializes one item; a serde error becomes a diagnostic.
    fn de<T: DeserializeOwned>(&mut self, value: &Spanned<DeValue<'_>>, path: &str) -> Option<T> {
        match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(t) => Some(t),
            Err(e) => {
                let span = e.span().unwrap_or_else(|| value.span());
                let message = e.message();
                let at = locate(value, path.to_owned(), &span);
                if let Some(field) = between(message, "missing field `", "`") {
                    let m = format!("missing field `{field}`; it is required here");
                    self.report(span, join(&at, field), ErrorKind::MissingField, m);
                } else if message.starts_with("unknown field") {
                    self.report(span, at, ErrorKind::UnknownField, tidy(message));
                } else {
                    self.report(span, at, ErrorKind::InvalidField, tidy(message));
                }
                None
            }
        }
    }

    /// The named items of a section; reports a section or item that is not a
    /// table, and a required section that is missing or empty.
    fn entries<'r, 's>(
        &mut self,
        root: &'r DeTable<'s>,
        section: &str,
        required: bool,
    ) -> Vec<Entry<'r, 's>> {
        let noun = ITEM_SECTIONS
            .iter()
            .find(|(s, _)| *s == section)
            .map_or("item", |(_, n)| *n);
        let Some((key, value)) = root.get_key_value(section) else {
            if required {
                self.report(
                    0..0,
                    section,
                    ErrorKind::EmptySection,
                    format!("no [{section}] declared; a schema needs at least one {noun}"),
                );
            }
            return Vec::new();
        };
        let Some(table) = value.get_ref().as_table() else {
            self.report(
                value.span(),
                section,
                ErrorKind::InvalidField,
                format!(
                    "`{section}` is a {}; expected a table of {noun}s such as [{section}.ID]",
                    value.get_ref().type_str()
                ),
            );
            return Vec::new();
        };
        if table.is_empty() && required {
            self.report(
                key.span(),
                section,
                ErrorKind::EmptySection,
                format!("[{section}] is empty; a schema needs at least one {noun}"),
            );
        }
        let mut out = Vec::new();
        for (k, v) in table.iter() {
            let path = join(section, k.get_ref());
            if v.get_ref().as_table().is_none() {
                self.report(
                    v.span(),
                    path,
                    ErrorKind::InvalidField,
                    format!(
                        "{noun} `{}` is a {}; expected a table such as [{section}.ID]",
                        k.get_ref(),
                        v.get_ref().type_str()
                    ),
                );
                continue;
            }
            out.push(Entry {
                id: k.get_ref().to_string(),
                id_span: k.span(),
                value: v,
                path,
            });
        }
        out
    }

    // ----- the schema ---------------------------------------------------

    fn schema(&mut self, root: &DeTable<'_>, today: Date) -> Option<Schema> {
        for (k, _) in root.iter() {
            if !SECTIONS.contains(&k.get_ref().as_ref()) {
                self.report(
                    k.span(),
                    join("", k.get_ref()),
                    ErrorKind::UnknownField,
                    format!(
                        "unknown section `{}`; expected one of `schema`, `purposes`, `dimensions`, `metrics`, `regions`",
                        k.get_ref()
                    ),
                );
            }
        }
        let header = self.header(root);

        let purpose_entries = self.entries(root, "purposes", true);
        let declared_purposes: BTreeSet<String> =
            purpose_entries.iter().map(|e| e.id.clone()).collect();
        let mut purposes = BTreeMap::new();
        for e in &purpose_entries {
            if let Some(p) = self.purpose(e) {
                purposes.insert(p.id.clone(), p);
            }
        }

        let dimension_entries = self.entries(root, "dimensions", false);
        let declared_dimensions: BTreeSet<String> =
            dimension_entries.iter().map(|e| e.id.clone()).collect();
        let mut dimensions = BTreeMap::new();
        for e in &dimension_entries {
            if let Some(d) = self.dimension(e) {
                dimensions.insert(d.id.clone(), d);
            }
        }

        let mut regions = BTreeMap::new();
        for e in &self.entries(root, "regions", true) {
            if let Some(r) = self.region(e) {
                regions.insert(r.id.clone(), r);
            }
        }

        let open_dimensions: BTreeSet<String> = dimensions
            .values()
            .filter(|d: &&Dimension| d.is_open())
            .map(|d| d.id.clone())
            .collect();
        let refs = Refs {
            purposes: &declared_purposes,
            dimensions: &declared_dimensions,
            open_dimensions: &open_dimensions,
            regions: &regions,
            today,
        };
        let mut used_purposes = BTreeSet::new();
        let mut used_dimensions = BTreeSet::new();
        let mut metrics = BTreeMap::new();
        for e in &self.entries(root, "metrics", true) {
            if let Some(m) = self.metric(e, &refs, &mut used_purposes, &mut used_dimensions) {
                metrics.insert(m.id.clone(), m);
            }
        }

        for e in &purpose_entries {
            if !used_purposes.contains(&e.id) {
                self.report(
                    e.id_span.clone(),
                    e.path.clone(),
                    ErrorKind::UnusedPurpose,
                    format!(
                        "no metric is collected for purpose `{}`; remove it or add metrics",
                        e.id
                    ),
                );
            }
        }
        for e in &dimension_entries {
            if !used_dimensions.contains(&e.id) {
                self.report(
                    e.id_span.clone(),
                    e.path.clone(),
                    ErrorKind::UnusedDimension,
                    format!("no metric uses dimension `{}`; remove it or list it in a metric's `dimensions`", e.id),
                );
            }
        }

        let (id, version) = header?;
        Some(Schema {
            id,
            version,
            purposes,
            dimensions,
            metrics,
            regions,
        })
    }

    fn header(&mut self, root: &DeTable<'_>) -> Option<(String, u32)> {
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

    fn purpose(&mut self, e: &Entry<'_, '_>) -> Option<Purpose> {
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

    fn dimension(&mut self, e: &Entry<'_, '_>) -> Option<Dimension> {
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

    fn region(&mut self, e: &Entry<'_, '_>) -> Option<Region> {
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

    fn metric(
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

    // ----- field checks -------------------------------------------------

    fn id(&mut self, e: &Entry<'_, '_>, valid: fn(&str) -> bool, rule: &str) -> bool {
        if valid(&e.id) {
            return true;
        }
        self.report(
            e.id_span.clone(),
            e.path.clone(),
            ErrorKind::InvalidId,
            format!("`{}` is not a valid id; {rule}", e.id),
        );
        false
    }

    fn text(&mut self, s: &Spanned<String>, path: &str, field: &str) -> bool {
        if !s.get_ref().trim().is_empty() {
            return true;
        }
        self.report(
            s.span(),
            join(path, field),
            ErrorKind::EmptyText,
            format!("`{field}` is empty; write a plain-language text"),
        );
        false
    }

    fn delta(&mut self, delta: &Spanned<f64>, path: &str) -> bool {
        let v = *delta.get_ref();
        if v.is_finite() && v > 0.0 && v <= limits::MAX_DELTA {
            return true;
        }
        self.report(
            delta.span(),
            path,
            ErrorKind::InvalidDelta,
            format!(
                "delta {v:e} is out of range; it must satisfy 0 < delta <= {:e}, for example 1e-8",
                limits::MAX_DELTA
            ),
        );
        false
    }

    fn epsilon(&mut self, eps: &Spanned<f64>, path: &str) -> bool {
        let v = *eps.get_ref();
        if v.is_finite() && v > 0.0 && v <= limits::MAX_EPSILON {
            return true;
        }
        self.report(
            eps.span(),
            path,
            ErrorKind::InvalidEpsilon,
            format!(
                "epsilon {v} is out of range; epsilon must be a finite number with 0 < epsilon <= {}",
                limits::MAX_EPSILON
            ),
        );
        false
    }

    /// Checks a closed set (labels, categories, dimension values).
    fn closed_set(&mut self, set: &SpannedStrings, path: &str, noun: &str) -> Option<Vec<String>> {
        let items = set.get_ref();
        let mut ok = true;
        if items.is_empty() {
            self.report(
                set.span(),
                path,
                ErrorKind::EmptySet,
                format!(
                    "no {noun}s given; list 1 to {} of them",
                    limits::MAX_SET_SIZE
                ),
            );
            ok = false;
        } else if items.len() > limits::MAX_SET_SIZE {
            self.report(
                set.span(),
                path,
                ErrorKind::OversizedSet,
                format!(
                    "{} {noun}s given; at most {} are allowed, since every one adds released cells",
                    items.len(),
                    limits::MAX_SET_SIZE
                ),
            );
            ok = false;
        }
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, item) in items.iter().enumerate() {
            let s = item.get_ref().as_str();
            let item_path = index(path, i);
            if let Some(what) = rules::personal_data(s) {
                self.report(
                    item.span(),
                    item_path,
                    ErrorKind::PersonalDataLabel,
                    format!(
                        "{noun} {s:?} looks like {what}; closed sets name categories of things, never a person's data"
                    ),
                );
                ok = false;
            } else if !rules::is_label(s) {
                self.report(
                    item.span(),
                    item_path,
                    ErrorKind::InvalidLabel,
                    format!(
                        "{noun} {s:?} is not allowed; use 1-{} characters of a-z, 0-9, '_', '.', '-', starting with a letter or digit",
                        limits::MAX_LABEL_LEN
                    ),
                );
                ok = false;
            } else if let Some(first) = seen.insert(s, i) {
                seen.insert(s, first);
                self.report(
                    item.span(),
                    item_path,
                    ErrorKind::DuplicateId,
                    format!("{noun} {s:?} is listed twice (also at index {first}); list each once"),
                );
                ok = false;
            }
        }
        ok.then(|| items.iter().map(|i| i.get_ref().clone()).collect())
    }

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

    fn bound(
        &mut self,
        bound: Option<&Spanned<u64>>,
        e: &Entry<'_, '_>,
        kind: RawKind,
    ) -> Option<u64> {
        let path = join(&e.path, "max_per_report");
        let limit = match kind {
            RawKind::Boolean | RawKind::Category => {
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

    fn release(
        &mut self,
        release: &Spanned<crate::raw::RawRelease>,
        path: &str,
        kind: RawKind,
        open_dims: &[&str],
        refs: &Refs<'_>,
    ) -> Option<Release> {
        let rpath = join(path, "release");
        let r = release.get_ref();
        let eps = *r.epsilon.get_ref();
        let mut ok = self.epsilon(&r.epsilon, &join(&rpath, "epsilon"));
        let local = matches!(r.mechanism.get_ref(), RawMechanism::LocalDp);
        if local && !matches!(kind, RawKind::Boolean | RawKind::Category) {
            self.report(
                r.mechanism.span(),
                join(&rpath, "mechanism"),
                ErrorKind::LocalDpUnsupportedType,
                format!(
                    "local_dp cannot protect a {} metric; it is only for boolean and category metrics (randomized response over a small closed set): use central_dp",
                    kind.name()
                ),
            );
            ok = false;
        }
        // The ε a release spends from the region's budget.
        let (spend, spend_field) = match (local, &r.count_epsilon) {
            (true, Some(c)) => {
                ok &= self.epsilon(c, &join(&rpath, "count_epsilon"));
                (Some(*c.get_ref()), "count_epsilon")
            }
            (true, None) => {
                self.report(
                    release.span(),
                    join(&rpath, "count_epsilon"),
                    ErrorKind::MissingField,
                    "local_dp needs a count_epsilon: the ε of the noise the collector adds to the randomized counts, so that not even the number of reports is released exactly; for example count_epsilon = 0.5",
                );
                ok = false;
                (None, "count_epsilon")
            }
            (false, Some(c)) => {
                self.report(
                    c.span(),
                    join(&rpath, "count_epsilon"),
                    ErrorKind::FieldNotApplicable,
                    "count_epsilon applies only to local_dp; a central_dp release spends its epsilon: remove it",
                );
                ok = false;
                (None, "count_epsilon")
            }
            (false, None) => (Some(eps), "epsilon"),
        };
        let needs_delta = if kind == RawKind::DomainSet {
            Some("a domain_set needs a delta for its open-set threshold".to_owned())
        } else {
            open_dims.first().map(|d| format!(
                "dimension `{d}` has open values (a coarsening rule), and showing a value only one report carried must stay unlikely, so the metric needs a delta"
            ))
        };
        match (&r.delta, needs_delta) {
            (Some(d), _) => ok &= self.delta(d, &join(&rpath, "delta")),
            (None, Some(why)) => {
                self.report(
                    release.span(),
                    join(&rpath, "delta"),
                    ErrorKind::InvalidDelta,
                    format!(
                        "{why}; add delta with 0 < delta <= {:e}, for example 1e-8",
                        limits::MAX_DELTA
                    ),
                );
                ok = false;
            }
            (None, None) => {}
        }
        let delta = r.delta.as_ref().map(|d| *d.get_ref());
        if let (Some(spend), true) = (spend, ok) {
            // The tightest region for each cap, so the message names it.
            let over = |cap: fn(&Region) -> f64| {
                refs.regions
                    .values()
                    .filter(|reg| spend > cap(reg))
                    .min_by(|a, b| cap(a).total_cmp(&cap(b)))
            };
            for (cap, what) in [
                (
                    (|r: &Region| r.epsilon_per_metric_day) as fn(&Region) -> f64,
                    "per metric per day",
                ),
                (
                    |r: &Region| r.epsilon_per_purpose_day,
                    "per purpose per day",
                ),
            ] {
                if let Some(region) = over(cap) {
                    let span = if local {
                        r.count_epsilon
                            .as_ref()
                            .map_or(release.span(), |f| f.span())
                    } else {
                        r.epsilon.span()
                    };
                    self.report(
                        span,
                        join(&rpath, spend_field),
                        ErrorKind::EpsilonOverBudget,
                        format!(
                            "{spend_field} {spend} exceeds the budget of region `{}` ({} {what}), so the metric could never be released there; use {spend_field} <= {}",
                            region.id,
                            cap(region),
                            cap(region)
                        ),
                    );
                    ok = false;
                }
            }
            if let Some(d) = delta {
                let tight = refs
                    .regions
                    .values()
                    .filter(|reg| d > reg.delta_per_purpose_day)
                    .min_by(|a, b| a.delta_per_purpose_day.total_cmp(&b.delta_per_purpose_day));
                if let (Some(region), Some(field)) = (tight, &r.delta) {
                    self.report(
                        field.span(),
                        join(&rpath, "delta"),
                        ErrorKind::DeltaOverBudget,
                        format!(
                            "delta {d:e} exceeds the budget of region `{}` ({:e} per purpose per day), so the metric could never be released there; use delta <= {:e}",
                            region.id, region.delta_per_purpose_day, region.delta_per_purpose_day
                        ),
                    );
                    ok = false;
                }
            }
        }
        if !ok {
            return None;
        }
        Some(if local {
            Release::LocalDp {
                epsilon: eps,
                count_epsilon: spend.expect("checked above"),
                delta,
            }
        } else {
            Release::CentralDp {
                epsilon: eps,
                delta,
            }
        })
    }
}

/// What metrics may refer to.
struct Refs<'a> {
    purposes: &'a BTreeSet<String>,
    dimensions: &'a BTreeSet<String>,
    /// Dimensions whose values are an open set (coarsening rules).
    open_dimensions: &'a BTreeSet<String>,
    regions: &'a BTreeMap<String, Region>,
    today: Date,
}

const PURPOSE_ID_RULE: &str =
    "purpose ids are 1-32 characters of a-z, 0-9 and '_', starting with a letter";
const DIMENSION_ID_RULE: &str =
    "dimension ids are 1-32 characters of a-z, 0-9 and '_', starting with a letter";
const REGION_ID_RULE: &str =
    "region ids are 1-16 characters of a-z, 0-9 and '-', starting with a letter";
const METRIC_ID_RULE: &str = "metric ids are `area.name`, each part a-z, 0-9 and '_' starting with a letter, at most 64 characters in all";

// ----- helpers --------------------------------------------------------------

/// `parent.key`, quoting `key` when TOML needs quotes.
pub(crate) fn join(parent: &str, key: &str) -> String {
    let key = if rules::is_bare_key(key) {
        key.to_owned()
    } else {
        format!("{key:?}")
    };
    if parent.is_empty() {
        key
    } else {
        format!("{parent}.{key}")
    }
}

fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

fn contains(outer: &Span, inner: &Span) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

/// The path of the deepest value under `v` whose key or value span holds
/// `span`.
fn locate(v: &Spanned<DeValue<'_>>, path: String, span: &Span) -> String {
    match v.get_ref() {
        DeValue::Table(t) => {
            for (k, child) in t.iter() {
                if k.span() == *span {
                    return join(&path, k.get_ref());
                }
                if contains(&child.span(), span) {
                    return locate(child, join(&path, k.get_ref()), span);
                }
            }
        }
        DeValue::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                if contains(&child.span(), span) {
                    return locate(child, index(&path, i), span);
                }
            }
        }
        _ => {}
    }
    path
}

fn between<'a>(s: &'a str, prefix: &str, suffix: &str) -> Option<&'a str> {
    let rest = s.strip_prefix(prefix)?;
    rest.find(suffix).map(|i| &rest[..i])
}

/// Serde and parser messages in the `what is wrong; what is allowed` form,
/// with Rust type names replaced by words.
fn tidy(message: &str) -> String {
    message
        .replacen(", expected ", "; expected ", 1)
        .replace(
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        )
        .replace("expected u64", "expected a whole number of at least 0")
        .replace("expected f64", "expected a number")
}

fn list<'a>(items: impl Iterator<Item = &'a String>) -> String {
    let items: Vec<String> = items.map(|i| format!("`{i}`")).collect();
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

fn parse_date(s: &str) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s, &format).ok()
}

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

/// The key parts of a `[table.header]` line, unquoted; `None` for any other
/// line (including `[[array.of.tables]]`).
pub(crate) fn parse_header(line: &str) -> Option<Vec<String>> {
    let body = line.trim_start().strip_prefix('[')?;
    if body.starts_with('[') {
        return None;
    }
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = body.chars();
    loop {
        match chars.next()? {
            ']' => {
                parts.push(current.trim().to_owned());
                return Some(parts);
            }
            '.' => parts.push(std::mem::take(&mut current).trim().to_owned()),
            '"' => loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => current.push(chars.next()?),
                    c => current.push(c),
                }
            },
            '\'' => loop {
                match chars.next()? {
                    '\'' => break,
                    c => current.push(c),
                }
            },
            c => current.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        assert_eq!(
            parse_header(r#"[metrics."app.opened"]"#),
            Some(vec!["metrics".to_owned(), "app.opened".to_owned()])
        );
        assert_eq!(
            parse_header(" [ regions . eu ] # x"),
            Some(vec!["regions".to_owned(), "eu".to_owned()])
        );
        assert_eq!(parse_header("[[a]]"), None);
        assert_eq!(parse_header("a = 1"), None);
    }

    #[test]
    fn paths() {
        assert_eq!(join("metrics", "app.opened"), "metrics.\"app.opened\"");
        assert_eq!(join("", "regions"), "regions");
        assert_eq!(index("a.labels", 2), "a.labels[2]");
    }

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

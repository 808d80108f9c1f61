//! Parsing and validation: TOML source to [`Checked`] or [`SchemaErrors`].
//!
//! The document is parsed once into a span-carrying tree. Each item (the
//! header, every purpose, dimension, region and metric) is then deserialized
//! on its own, so a typo in one metric does not hide the errors of the next,
//! and then checked field by field. Every finding is collected; nothing stops
//! at the first error except a TOML syntax error, after which the tree is
//! only a best-effort recovery and further findings would be noise.
//!
//! This module holds the orchestration: the checking context `Cx` that
//! collects diagnostics, and the walk over the sections that ties items and
//! their references together. The checks themselves live beside it:
//!
//! - `syntax`: TOML syntax errors, with duplicate tables named as such;
//! - `tree`: deserializing one item and listing a section's items;
//! - `items`: the `[schema]` header, purposes, dimensions and regions;
//! - `metric`: one metric, its kind-specific fields and expiry;
//! - `release`: a metric's release settings against the regions' budgets;
//! - `fields`: checks shared by every item (ids, texts, ε, δ, closed sets);
//! - `paths`: the TOML paths diagnostics point at.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use time::Date;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::Checked;
use crate::diagnostic::{Diagnostic, ErrorKind, LineIndex, SchemaErrors, Severity};
use crate::model::{Dimension, Region, Schema};

mod fields;
mod items;
mod metric;
mod paths;
mod release;
mod syntax;
mod tree;

use paths::join;

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

/// Parses and checks one schema document; `today` decides which metrics
/// have expired.
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

/// The checking context: the source, and the findings collected so far.
struct Cx<'s> {
    src: &'s str,
    origin: &'s str,
    index: LineIndex<'s>,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl Cx<'_> {
    /// All findings, errors and warnings each in source order.
    fn into_errors(self) -> SchemaErrors {
        let mut errors = self.errors;
        let mut warnings = self.warnings;
        sort(&mut errors);
        sort(&mut warnings);
        SchemaErrors { errors, warnings }
    }

    /// Records one finding at `span`, as an error or a warning by its kind.
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

    /// Checks every section and builds the schema if nothing is wrong.
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

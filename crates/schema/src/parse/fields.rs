//! Field checks every item shares: ids, plain-language texts, ε and δ in
//! range, and closed sets (labels, categories, dimension values).

use std::collections::BTreeMap;

use toml::Spanned;

use crate::diagnostic::ErrorKind;
use crate::limits;
use crate::raw::SpannedStrings;
use crate::rules;

use super::paths::{index, join};
use super::{Cx, Entry};

impl Cx<'_> {
    /// Checks an item's id against `valid`; `rule` says what is allowed.
    pub(super) fn id(&mut self, e: &Entry<'_, '_>, valid: fn(&str) -> bool, rule: &str) -> bool {
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

    /// Checks that a text field is not blank.
    pub(super) fn text(&mut self, s: &Spanned<String>, path: &str, field: &str) -> bool {
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

    /// Checks that δ is in `(0, MAX_DELTA]`.
    pub(super) fn delta(&mut self, delta: &Spanned<f64>, path: &str) -> bool {
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

    /// Checks that ε is finite and in `(0, MAX_EPSILON]`.
    pub(super) fn epsilon(&mut self, eps: &Spanned<f64>, path: &str) -> bool {
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
    pub(super) fn closed_set(
        &mut self,
        set: &SpannedStrings,
        path: &str,
        noun: &str,
    ) -> Option<Vec<String>> {
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
}

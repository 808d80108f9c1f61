//! The document tree, item by item.
//!
//! Each named item is deserialized on its own so one item's mistakes do not
//! hide the next one's; a serde error becomes a diagnostic at the deepest
//! path that holds it, in the `what is wrong; what is allowed` form.

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use crate::diagnostic::ErrorKind;

use super::paths::{join, locate};
use super::{Cx, Entry, ITEM_SECTIONS};

impl Cx<'_> {
    /// Deserializes one item; a serde error becomes a diagnostic.
    pub(super) fn de<T: DeserializeOwned>(
        &mut self,
        value: &Spanned<DeValue<'_>>,
        path: &str,
    ) -> Option<T> {
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
    pub(super) fn entries<'r, 's>(
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
}

fn between<'a>(s: &'a str, prefix: &str, suffix: &str) -> Option<&'a str> {
    let rest = s.strip_prefix(prefix)?;
    rest.find(suffix).map(|i| &rest[..i])
}

/// Serde and parser messages in the `what is wrong; what is allowed` form,
/// with Rust type names replaced by words.
pub(super) fn tidy(message: &str) -> String {
    message
        .replacen(", expected ", "; expected ", 1)
        .replace(
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        )
        .replace("expected u64", "expected a whole number of at least 0")
        .replace("expected f64", "expected a number")
}

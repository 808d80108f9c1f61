//! The TOML paths diagnostics point at, such as `metrics."app.opened".labels[2]`.

use toml::Spanned;
use toml::de::DeValue;

use crate::rules;

use super::Span;

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

/// `parent[i]`, the path of an array element.
pub(super) fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

fn contains(outer: &Span, inner: &Span) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

/// The path of the deepest value under `v` whose key or value span holds
/// `span`.
pub(super) fn locate(v: &Spanned<DeValue<'_>>, path: String, span: &Span) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(join("metrics", "app.opened"), "metrics.\"app.opened\"");
        assert_eq!(join("", "regions"), "regions");
        assert_eq!(index("a.labels", 2), "a.labels[2]");
    }
}

//! The document tree the page is built as: blocks of lines of inline spans,
//! written by both renderers so Markdown and HTML always say the same thing.

/// A run of inline content.
pub(super) enum Span {
    Text(String),
    Code(String),
    Strong(String),
}

/// One line of text: a paragraph, a list item or a table cell.
pub(super) type Line = Vec<Span>;

/// A block of the page.
pub(super) enum Block {
    Heading(u8, Line),
    Paragraph(Line),
    List(Vec<Line>),
    Table {
        head: Vec<&'static str>,
        rows: Vec<Vec<Line>>,
    },
}

/// Plain text.
pub(super) fn t(s: impl Into<String>) -> Span {
    Span::Text(s.into())
}

/// Code: an id, a label, a value.
pub(super) fn c(s: impl Into<String>) -> Span {
    Span::Code(s.into())
}

/// Strong emphasis.
pub(super) fn b(s: impl Into<String>) -> Span {
    Span::Strong(s.into())
}

/// Joins `items` into one line: `a, b and c`.
pub(super) fn and_list(items: Vec<Line>) -> Line {
    let n = items.len();
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(t(if i + 1 == n { " and " } else { ", " }));
        }
        out.extend(item);
    }
    out
}

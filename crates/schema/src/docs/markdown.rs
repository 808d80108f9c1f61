//! The Markdown renderer: CommonMark with GitHub-style tables, every text
//! escaped so it shows literally.

use std::fmt::Write as _;

use super::tree::{Block, Line, Span};

/// The page as Markdown.
pub(super) fn markdown(page: &[Block]) -> String {
    let mut out = String::new();
    for (i, block) in page.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        match block {
            Block::Heading(level, line) => {
                let _ = writeln!(out, "{} {}", "#".repeat(usize::from(*level)), md_line(line));
            }
            Block::Paragraph(line) => {
                let _ = writeln!(out, "{}", md_line(line));
            }
            Block::List(items) => {
                for item in items {
                    let _ = writeln!(out, "- {}", md_line(item));
                }
            }
            Block::Table { head, rows } => {
                let _ = writeln!(out, "| {} |", head.join(" | "));
                let _ = writeln!(out, "|{}", "---|".repeat(head.len()));
                for row in rows {
                    let cells: Vec<String> = row.iter().map(md_line).collect();
                    let _ = writeln!(out, "| {} |", cells.join(" | "));
                }
            }
        }
    }
    out
}

fn md_line(line: &Line) -> String {
    line.iter()
        .map(|span| match span {
            Span::Text(s) => md_escape(s),
            Span::Strong(s) => format!("**{}**", md_escape(s)),
            Span::Code(s) => md_code(s),
        })
        .collect()
}

/// Escapes text so Markdown shows it literally, on one line (it may sit in a
/// table cell).
pub(super) fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in collapse_whitespace(s).chars() {
        if matches!(
            ch,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '&' | '~'
        ) {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// A code span; the fence is longer than any backtick run inside, and `|` is
/// escaped so the span can sit in a table cell.
pub(super) fn md_code(s: &str) -> String {
    let s = collapse_whitespace(s).replace('|', "\\|");
    let longest = s
        .split(|c| c != '`')
        .map(str::len)
        .max()
        .unwrap_or_default();
    let fence = "`".repeat(longest + 1);
    if s.starts_with('`') || s.ends_with('`') {
        format!("{fence} {s} {fence}")
    } else {
        format!("{fence}{s}{fence}")
    }
}

/// Every run of whitespace (including newlines) as one space, keeping a
/// leading or trailing one: spans are concatenated.
fn collapse_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if ch.is_whitespace() {
            if !out.ends_with(' ') {
                out.push(' ');
            }
        } else {
            out.push(ch);
        }
    }
    out
}

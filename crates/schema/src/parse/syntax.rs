//! TOML syntax errors as diagnostics.
//!
//! The parser's errors are sorted and thinned: a repeated table header is
//! reported once as a duplicate id (pointing at the first declaration), its
//! echoes are dropped, and only the first error of a line is kept. The
//! header-line helpers here read the source text directly, since after a
//! syntax error the tree is only a best-effort recovery.

use crate::diagnostic::ErrorKind;
use crate::limits;

use super::paths::join;
use super::tree::tidy;
use super::{Cx, ITEM_SECTIONS};

impl Cx<'_> {
    /// Reports the parser's errors, thinned as the module docs describe.
    pub(super) fn syntax(&mut self, mut errors: Vec<toml::de::Error>) {
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
}

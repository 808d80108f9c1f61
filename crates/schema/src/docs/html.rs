//! The HTML renderer: one self-contained HTML5 file with inline CSS, no
//! scripts and no external requests (a Content-Security-Policy forbids
//! them), every text escaped.

use std::fmt::Write as _;

use crate::model::Schema;

use super::tree::{Block, Line, Span};

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;line-height:1.5;color:#1b1b1b;background:#fff;margin:0}\
main{max-width:72rem;margin:0 auto;padding:1.5rem}\
h1{font-size:1.8rem}h2{margin-top:2.5rem;border-bottom:1px solid #ddd}h3{margin-top:2rem}\
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f3f3f3;padding:0 .2em;border-radius:3px}\
table{border-collapse:collapse;width:100%;font-size:.92rem}\
th,td{border:1px solid #ccc;padding:.35rem .5rem;text-align:left;vertical-align:top}\
th{background:#f3f3f3}\
.scroll{overflow-x:auto}code{overflow-wrap:anywhere}\
@media (prefers-color-scheme:dark){body{color:#e8e8e8;background:#161616}code,th{background:#2a2a2a}th,td{border-color:#444}h2{border-color:#444}}";

/// The page as HTML, titled after `schema`.
pub(super) fn html(schema: &Schema, page: &[Block]) -> String {
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n",
    );
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(
        out,
        "<title>Privacy: what {} collects</title>",
        html_escape(&schema.id)
    );
    let _ = writeln!(out, "<style>{CSS}</style>");
    out.push_str("</head>\n<body>\n<main>\n");
    for block in page {
        match block {
            Block::Heading(level, line) => {
                let _ = writeln!(out, "<h{level}>{}</h{level}>", html_line(line));
            }
            Block::Paragraph(line) => {
                let _ = writeln!(out, "<p>{}</p>", html_line(line));
            }
            Block::List(items) => {
                out.push_str("<ul>\n");
                for item in items {
                    let _ = writeln!(out, "<li>{}</li>", html_line(item));
                }
                out.push_str("</ul>\n");
            }
            Block::Table { head, rows } => {
                // A wide table scrolls sideways on a phone instead of
                // widening the page.
                out.push_str("<div class=\"scroll\" tabindex=\"0\">\n<table>\n<thead>\n<tr>");
                for h in head {
                    let _ = write!(out, "<th scope=\"col\">{}</th>", html_escape(h));
                }
                out.push_str("</tr>\n</thead>\n<tbody>\n");
                for row in rows {
                    out.push_str("<tr>");
                    for cell in row {
                        let _ = write!(out, "<td>{}</td>", html_line(cell));
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</tbody>\n</table>\n</div>\n");
            }
        }
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

fn html_line(line: &Line) -> String {
    line.iter()
        .map(|span| match span {
            Span::Text(s) => html_escape(s),
            Span::Strong(s) => format!("<strong>{}</strong>", html_escape(s)),
            Span::Code(s) => format!("<code>{}</code>", html_escape(s)),
        })
        .collect()
}

/// Escapes text for HTML content and attribute values (`&`, `<`, `>`, `"`,
/// `'`): the privacy page's escaping, shared with the collector's dashboard.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

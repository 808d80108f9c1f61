//! The public privacy page, generated from the data dictionary.
//!
//! [`render`] writes the page a user or a regulator reads: Candor's promises
//! in plain language; for each purpose what is collected and why, its
//! sensitivity, private-mode behaviour, consent version and how it is
//! protected (with the actual numbers); where data is stored and for how
//! long, per region; and a table of every metric.
//!
//! The page is built once as a small document tree and then written as
//! Markdown or HTML, so both formats always say the same thing. Output is
//! deterministic (no rendering date, maps in id order), so a rendered copy
//! can be committed and checked in CI. HTML is one self-contained file:
//! inline CSS, no scripts, no external requests (a Content-Security-Policy
//! forbids them), every text escaped.

use std::fmt::Write as _;

use crate::model::{
    Dimension, DimensionRule, Metric, MetricKind, Purpose, Release, Schema, Sensitivity,
    format_date,
};

/// Output format of [`render`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// CommonMark with GitHub-style tables.
    Markdown,
    /// A self-contained HTML5 page.
    Html,
}

/// Renders the privacy page for `schema`.
///
/// ```
/// # use time::macros::date;
/// # let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/browser.toml")).unwrap();
/// let schema = candor_schema::parse(&src, "browser.toml", date!(2026 - 11 - 29)).unwrap().schema;
/// let html = candor_schema::docs::render(&schema, candor_schema::docs::Format::Html);
/// assert!(html.starts_with("<!DOCTYPE html>"));
/// assert!(html.contains("browser.slow_domains"));
/// ```
pub fn render(schema: &Schema, format: Format) -> String {
    let page = page(schema);
    match format {
        Format::Markdown => markdown(&page),
        Format::Html => html(schema, &page),
    }
}

// ----- the document tree ----------------------------------------------------

/// A run of inline content.
enum Span {
    Text(String),
    Code(String),
    Strong(String),
}

type Line = Vec<Span>;

enum Block {
    Heading(u8, Line),
    Paragraph(Line),
    List(Vec<Line>),
    Table {
        head: Vec<&'static str>,
        rows: Vec<Vec<Line>>,
    },
}

fn t(s: impl Into<String>) -> Span {
    Span::Text(s.into())
}

fn c(s: impl Into<String>) -> Span {
    Span::Code(s.into())
}

fn b(s: impl Into<String>) -> Span {
    Span::Strong(s.into())
}

/// Joins `items` into one line: `a, b and c`.
fn and_list(items: Vec<Line>) -> Line {
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

// ----- the content ----------------------------------------------------------

fn page(s: &Schema) -> Vec<Block> {
    let mut out = Vec::new();
    out.push(Block::Heading(
        1,
        vec![
            t("What "),
            c(&s.id),
            t(" collects, and how your privacy is protected"),
        ],
    ));
    out.push(Block::Paragraph(vec![
        t("This page is generated from the data dictionary "),
        c(&s.id),
        t(format!(
            " (version {}), the same file the app and our servers use to decide what may be collected. Anything not listed here is refused by the app and rejected by our servers.",
            s.version
        )),
    ]));

    out.push(Block::Heading(2, vec![t("Our promises")]));
    out.push(Block::List(vec![
        vec![
            b("Consented."),
            t(" Nothing is collected for a purpose until you agree to it. You can withdraw at any time, and whatever is still waiting on your device for that purpose is deleted at once."),
        ],
        vec![
            b("Anonymous."),
            t(" Reports carry no name, account, device identifier, IP address or precise time: only the day, your region and the few coarse details listed below. At most one report per purpose and day leaves your device."),
        ],
        vec![
            b("Encrypted."),
            t(" Each report is sealed on your device so that only the collector of your region can open it."),
        ],
        vec![
            b("Aggregated."),
            t(" On arrival a report is added to totals and then thrown away: nobody looks at individual reports, only at totals over many people."),
        ],
        vec![
            b("Regional."),
            t(" Reports go to the collector of the region you are in and stay there, and totals are deleted after that region's retention period."),
        ],
        vec![
            b("Transparent."),
            t(" This page lists everything that may be collected; if it is not here, it is not collected."),
        ],
    ]));

    out.push(Block::Heading(2, vec![t("How the numbers are protected")]));
    out.push(Block::Paragraph(vec![
        b("What is protected:"),
        t(" one report of one device, for one purpose, on one day. Every number we publish, and every decision to show or hide a group, looks almost the same whether or not that report exists. That is the promise of differential privacy, and the figures below (ε and δ) say how strong it is."),
    ]));
    out.push(Block::List(vec![
        vec![
            b("Differential privacy on our servers (central, ε):"),
            t(" before any total is published, random noise is added to it; the smaller ε (epsilon), the more noise and the more privacy. Even the number of reports behind a total is never published exactly."),
        ],
        vec![
            b("Minimum group size (k):"),
            t(" a group is shown only if its device count, with noise added, reaches k; groups that only a few devices could have formed stay hidden. Because the count is noisy, k hides small groups most of the time rather than always: the protection comes from the noise, and k keeps tiny groups out of sight."),
        ],
        vec![
            b("Values nobody declared:"),
            t(" website domains, and details such as an app version that take values not listed in advance, are shown only when their noisy count passes a higher threshold, so that a value only your report contained appears at most with the tiny probability δ (delta)."),
        ],
        vec![
            b("Differential privacy on your device (local, ε):"),
            t(" for some yes/no and multiple-choice answers your device sends a randomized answer instead of the real one. It draws that answer once for each real value and keeps it, so sending it every day reveals no more than sending it once; our servers add noise to the randomized counts too."),
        ],
        vec![
            b("Contribution limit:"),
            t(" each report can add only a bounded amount to any total (the limits are in the table at the end), so no one device can move a number much."),
        ],
        vec![
            b("Privacy budget:"),
            t(" every publication spends some of a fixed daily budget per region, per purpose and per metric, and a question that would overspend is refused. A repeated question gets the same answer and spends nothing."),
        ],
        vec![
            b("Only finished days:"),
            t(" a day is published only after the last report for it can have arrived, so no number changes later and no late report can be singled out."),
        ],
        vec![
            b("What is not differentially private:"),
            t(" the collector's operators see exact operational counts (how many reports each region accepted or refused per purpose and day) to keep the service running. Those counts are shown only to administrators, labelled as exact, and never to analysts or the public. They count reports, never what is in them."),
        ],
    ]));

    out.push(Block::Heading(2, vec![t("What is collected, and why")]));
    for p in s.purposes.values() {
        purpose(s, p, &mut out);
    }

    if !s.dimensions.is_empty() {
        out.push(Block::Heading(2, vec![t("Details sent with reports")]));
        out.push(Block::Paragraph(vec![t(
            "Besides the day and your region, a report may carry only these coarse details, and only for the metrics that list them:",
        )]));
        out.push(Block::Table {
            head: vec!["Detail", "What it is", "Possible values"],
            rows: s.dimensions.values().map(dimension_row).collect(),
        });
    }

    out.push(Block::Heading(
        2,
        vec![t("Where your data is stored, and for how long")],
    ));
    out.push(Block::Paragraph(vec![t(
        "Your device sends reports only to the collector of the region you are in. Each region keeps the totals for a fixed time and then deletes them, hides groups whose noisy count is below its k, and limits the privacy budget that all publications together may spend on each day's reports: per metric, and per purpose over all its metrics. A day's reports are accepted until its report window has passed; only then is the day published.",
    )]));
    out.push(Block::Table {
        head: vec![
            "Region",
            "Law",
            "Kept for",
            "Minimum group size (k)",
            "ε per metric per day",
            "ε per purpose per day",
            "δ per purpose per day",
            "Report window",
            "Collector",
        ],
        rows: s
            .regions
            .values()
            .map(|r| {
                vec![
                    vec![t(&r.name), t(" ("), c(&r.id), t(")")],
                    vec![t(&r.law)],
                    vec![t(format!("{} days", r.retention_days))],
                    vec![t(r.k_min.to_string())],
                    vec![t(num(r.epsilon_per_metric_day))],
                    vec![t(num(r.epsilon_per_purpose_day))],
                    vec![t(sci(r.delta_per_purpose_day))],
                    vec![t(format!("{} days after the day", r.report_window_days))],
                    vec![match &r.collector {
                        Some(url) => c(url),
                        None => t("not announced yet"),
                    }],
                ]
            })
            .collect(),
    });

    out.push(Block::Heading(2, vec![t("The most one device can lose")]));
    out.push(Block::Paragraph(vec![t(
        "Differential privacy adds up: everything published about one day's reports of a purpose together spends at most that purpose's daily budget, so for one device and one purpose the loss is at most the figures below per day; over a year, if your reports could all be linked to each other (they carry no identifier, so that is the worst case), at most 365 times as much. Answers randomized on your device cost their ε once per real value you ever have, however many days they are sent.",
    )]));
    out.push(Block::Table {
        head: vec![
            "Purpose",
            "Region",
            "One device, one day (ε, δ)",
            "One device, one year (ε, δ)",
            "Randomized on the device (ε per value)",
        ],
        rows: s
            .purposes
            .values()
            .flat_map(|p| {
                let local: f64 = s
                    .metrics_for_purpose(&p.id)
                    .filter(|m| matches!(m.release, Release::LocalDp { .. }))
                    .map(|m| m.release.epsilon())
                    .sum();
                s.regions.values().map(move |r| {
                    vec![
                        vec![c(&p.id)],
                        vec![c(&r.id)],
                        vec![t(format!(
                            "ε ≤ {}, δ ≤ {}",
                            num(r.epsilon_per_purpose_day),
                            sci(r.delta_per_purpose_day)
                        ))],
                        vec![t(format!(
                            "ε ≤ {}, δ ≤ {}",
                            num(365.0 * r.epsilon_per_purpose_day),
                            sci(365.0 * r.delta_per_purpose_day)
                        ))],
                        vec![t(if local > 0.0 {
                            format!("{} in all", num(local))
                        } else {
                            "none".to_owned()
                        })],
                    ]
                })
            })
            .collect(),
    });

    out.push(Block::Heading(2, vec![t("Every metric")]));
    out.push(Block::Paragraph(vec![t(
        "Each metric is collected only for its purpose, only with your consent to that purpose, and only until it expires. Every published group also needs a noisy count of at least k devices (k by region, above). The ε below is what one publication spends by default.",
    )]));
    out.push(Block::Table {
        head: vec![
            "Metric",
            "Type",
            "Purpose",
            "What it records",
            "Limit per report",
            "Protection",
            "Owner",
            "Expires",
        ],
        rows: s.metrics.values().map(|m| metric_row(s, m)).collect(),
    });
    out
}

fn purpose(s: &Schema, p: &Purpose, out: &mut Vec<Block>) {
    out.push(Block::Heading(
        3,
        vec![t(&p.title), t(" ("), c(&p.id), t(")")],
    ));
    out.push(Block::Paragraph(vec![t(&p.description)]));
    let hash: String = p
        .consent_text_sha256()
        .iter()
        .fold(String::new(), |mut acc, byte| {
            let _ = write!(acc, "{byte:02x}");
            acc
        });
    let facts = vec![
        vec![
            b("Sensitivity:"),
            t(match p.sensitivity {
                Sensitivity::High => {
                    " high: this could say something personal about you, even in totals."
                }
                _ => " low: counts and settings that say little about you.",
            }),
        ],
        vec![
            b("Private mode:"),
            t(if p.allowed_in_private_mode {
                " also collected while you use private mode."
            } else {
                " never collected while you use private mode."
            }),
        ],
        vec![
            b("Consent:"),
            t(format!(
                " asked for before anything is collected (legal basis: {}). Consent version {}: if this purpose changes materially, the version goes up and you are asked again. Fingerprint of the consent text (SHA-256): ",
                p.legal_basis, p.consent_version
            )),
            c(hash),
            t("."),
        ],
    ];

    out.push(Block::List(facts));

    let metrics: Vec<&Metric> = s.metrics_for_purpose(&p.id).collect();
    if metrics.is_empty() {
        out.push(Block::Paragraph(vec![t(
            "No metric is collected for this purpose yet.",
        )]));
        return;
    }
    out.push(Block::Paragraph(vec![b("What is collected:")]));
    out.push(Block::List(
        metrics
            .iter()
            .map(|m| {
                let mut line = vec![c(&m.id), t(": "), t(&m.description), t(" ")];
                line.extend(records(s, m));
                line
            })
            .collect(),
    ));

    out.push(Block::Paragraph(vec![b("How it is protected:")]));
    let ks: Vec<Line> = s
        .regions
        .values()
        .map(|r| vec![t(format!("{} in {}", r.k_min, r.name))])
        .collect();
    let mut protection = vec![{
        let mut line = vec![
            b("Minimum group size:"),
            t(" a group is published only if its noisy device count reaches k (k = "),
        ];
        line.extend(and_list(ks));
        line.push(t("); smaller groups are hidden."));
        line
    }];
    let central: Vec<Line> = metrics
        .iter()
        .filter_map(|m| match m.release {
            Release::CentralDp { epsilon, delta } => {
                let mut item = vec![c(&m.id), t(format!(" ε = {}", num(epsilon)))];
                if let Some(delta) = delta {
                    item.push(t(format!(", δ = {}", sci(delta))));
                }
                Some(item)
            }
            _ => None,
        })
        .collect();
    if !central.is_empty() {
        let mut line = vec![
            b("Noise added on our servers (central differential privacy):"),
            t(
                " random noise is added to every published total, so no one can tell from the numbers whether you took part (",
            ),
        ];
        line.extend(and_list(central));
        line.push(t("; smaller ε means more noise and more privacy)."));
        protection.push(line);
    }
    let local: Vec<Line> = metrics
        .iter()
        .filter_map(|m| match m.release {
            Release::LocalDp {
                epsilon,
                count_epsilon,
                ..
            } => Some(vec![
                c(&m.id),
                t(format!(
                    " ε = {} on the device, then ε = {} of noise on our servers",
                    num(epsilon),
                    num(count_epsilon)
                )),
            ]),
            _ => None,
        })
        .collect();
    if !local.is_empty() {
        let mut line = vec![
            b("Answers randomized on your device (local differential privacy):"),
            t(
                " your device sends a randomized answer, drawn once per real value and kept, so even your own reports do not reveal your real answer (",
            ),
        ];
        line.extend(and_list(local));
        line.push(t(")."));
        protection.push(line);
    }
    let regions: Vec<Line> = s
        .regions
        .values()
        .map(|r| vec![t(format!("{} days in {}", r.retention_days, r.name))])
        .collect();
    let mut stored = vec![
        b("Stored:"),
        t(" only in the region you are in, as totals, and deleted after "),
    ];
    stored.extend(and_list(regions));
    stored.push(t("."));
    protection.push(stored);
    let budgets: Vec<Line> = s
        .regions
        .values()
        .map(|r| {
            vec![t(format!(
                "ε {} and δ {} per day in {}",
                num(r.epsilon_per_purpose_day),
                sci(r.delta_per_purpose_day),
                r.name
            ))]
        })
        .collect();
    let mut budget = vec![
        b("Budget:"),
        t(" all publications about one day's reports of this purpose together spend at most "),
    ];
    budget.extend(and_list(budgets));
    budget.push(t("."));
    protection.push(budget);
    out.push(Block::List(protection));
}

/// Plain words for what a metric records beyond its description.
fn records(s: &Schema, m: &Metric) -> Line {
    let mut line = match &m.kind {
        MetricKind::Counter => vec![t("Recorded as a count.")],
        MetricKind::LabeledCounter { labels } => {
            let mut l = vec![t("Recorded as a count for each of: ")];
            l.extend(and_list(labels.iter().map(|x| vec![c(x)]).collect()));
            l.push(t("."));
            l
        }
        MetricKind::Boolean => vec![t("Recorded as yes or no.")],
        MetricKind::Category { categories } => {
            let mut l = vec![t("Recorded as one of: ")];
            l.extend(and_list(categories.iter().map(|x| vec![c(x)]).collect()));
            l.push(t("."));
            l
        }
        MetricKind::Distribution { buckets } => {
            let mut l = vec![t("Recorded as how many values fell in each range: ")];
            l.extend(and_list(
                ranges(buckets).into_iter().map(|r| vec![t(r)]).collect(),
            ));
            l.push(t("."));
            l
        }
        MetricKind::DomainSet => vec![t(
            "Recorded as a list of website domains (such as example.com), never full addresses.",
        )],
    };
    let dims: Vec<Line> = m
        .dimensions
        .iter()
        .map(|d| match s.dimension(d) {
            Some(dim) => vec![t(dimension_words(dim))],
            None => vec![c(d)],
        })
        .collect();
    if !dims.is_empty() {
        line.push(t(" Sent with: "));
        line.extend(and_list(dims));
        line.push(t("."));
    }
    line
}

fn dimension_words(d: &Dimension) -> String {
    match d.rule {
        DimensionRule::MajorMinor => format!("{} (major.minor)", d.id.replace('_', " ")),
        DimensionRule::Major => format!("{} (major version)", d.id.replace('_', " ")),
        _ => d.id.replace('_', " "),
    }
}

/// The buckets of a distribution, in words: `up to 10`, `11 to 50`, ...,
/// `more than 500`.
fn ranges(bounds: &[u64]) -> Vec<String> {
    let mut out = Vec::with_capacity(bounds.len() + 1);
    let mut prev: Option<u64> = None;
    for &bound in bounds {
        out.push(match prev {
            None if bound == 0 => "0".to_owned(),
            None => format!("up to {bound}"),
            Some(p) if p + 1 == bound => bound.to_string(),
            Some(p) => format!("{} to {bound}", p + 1),
        });
        prev = Some(bound);
    }
    if let Some(last) = prev {
        out.push(format!("more than {last}"));
    }
    out
}

fn dimension_row(d: &Dimension) -> Vec<Line> {
    let values = match &d.rule {
        DimensionRule::Values(values) => and_list(values.iter().map(|v| vec![c(v)]).collect()),
        DimensionRule::MajorMinor => vec![t("major.minor version only, such as "), c("121.3")],
        DimensionRule::Major => vec![t("major version only, such as "), c("14")],
    };
    vec![vec![c(&d.id)], vec![t(&d.description)], values]
}

fn metric_row(s: &Schema, m: &Metric) -> Vec<Line> {
    let purpose = match s.purpose(&m.purpose) {
        Some(p) => vec![t(&p.title), t(" ("), c(&p.id), t(")")],
        None => vec![c(&m.purpose)],
    };
    let mut what = vec![t(&m.description), t(" ")];
    what.extend(records(s, m));
    let n = m.max_per_report;
    let plural = |one: &str, many: &str| {
        if n == 1 {
            one.to_owned()
        } else {
            many.to_owned()
        }
    };
    let bound = match &m.kind {
        MetricKind::Counter => format!("count up to {n} per day"),
        MetricKind::LabeledCounter { .. } => format!("up to {n} per day, over all labels"),
        MetricKind::Distribution { .. } => {
            format!("up to {n} {} per day", plural("value", "values"))
        }
        MetricKind::DomainSet => format!("up to {n} {} per day", plural("domain", "domains")),
        _ => "one answer per day".to_owned(),
    };
    let protection = match m.release {
        Release::CentralDp {
            epsilon,
            delta: Some(delta),
        } => format!("central DP, ε = {}, δ = {}", num(epsilon), sci(delta)),
        Release::CentralDp { epsilon, .. } => format!("central DP, ε = {}", num(epsilon)),
        Release::LocalDp {
            epsilon,
            count_epsilon,
            delta,
        } => {
            let mut text = format!(
                "local DP, ε = {} on the device; counts noised at ε = {}",
                num(epsilon),
                num(count_epsilon)
            );
            if let Some(delta) = delta {
                text.push_str(&format!(", δ = {}", sci(delta)));
            }
            text
        }
    };
    let expires = m.expires.map_or_else(|| "never".to_owned(), format_date);
    vec![
        vec![c(&m.id)],
        vec![t(m.type_name().replace('_', " "))],
        purpose,
        what,
        vec![t(bound)],
        vec![t(protection)],
        vec![t(&m.owner)],
        vec![t(expires)],
    ]
}

/// A number as people write it: `0.5`, `2`, `1.5`.
fn num(x: f64) -> String {
    format!("{x}")
}

/// A small number in scientific notation: `1e-8`.
fn sci(x: f64) -> String {
    format!("{x:e}")
}

// ----- Markdown -------------------------------------------------------------

fn markdown(page: &[Block]) -> String {
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
fn md_escape(s: &str) -> String {
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
fn md_code(s: &str) -> String {
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

// ----- HTML -----------------------------------------------------------------

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;line-height:1.5;color:#1b1b1b;background:#fff;margin:0}\
main{max-width:72rem;margin:0 auto;padding:1.5rem}\
h1{font-size:1.8rem}h2{margin-top:2.5rem;border-bottom:1px solid #ddd}h3{margin-top:2rem}\
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f3f3f3;padding:0 .2em;border-radius:3px}\
table{border-collapse:collapse;width:100%;font-size:.92rem}\
th,td{border:1px solid #ccc;padding:.35rem .5rem;text-align:left;vertical-align:top}\
th{background:#f3f3f3}\
@media (prefers-color-scheme:dark){body{color:#e8e8e8;background:#161616}code,th{background:#2a2a2a}th,td{border-color:#444}h2{border-color:#444}}";

fn html(schema: &Schema, page: &[Block]) -> String {
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
                out.push_str("<table>\n<thead>\n<tr>");
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
                out.push_str("</tbody>\n</table>\n");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_ranges() {
        assert_eq!(
            ranges(&[10, 50, 51, 100]),
            ["up to 10", "11 to 50", "51", "52 to 100", "more than 100"]
        );
        assert_eq!(ranges(&[0, 1]), ["0", "1", "more than 1"]);
    }

    #[test]
    fn escaping() {
        assert_eq!(
            html_escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(
            md_escape("a|b *c* <d>\nnext "),
            "a\\|b \\*c\\* \\<d\\> next "
        );
        assert_eq!(md_code("a`b"), "``a`b``");
        assert_eq!(md_code("x|y"), "`x\\|y`");
    }
}

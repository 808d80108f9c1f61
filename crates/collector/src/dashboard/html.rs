//! HTML building blocks: escaping, the page frame, tables, and SVG charts.
//!
//! Every piece of text that reaches a page goes through [`esc`]; the pages
//! load nothing from elsewhere (one stylesheet from this server, no
//! scripts), which the Content-Security-Policy enforces.

use std::fmt::Write as _;

pub(crate) use candor_schema::docs::html_escape as esc;

/// Who may follow a navigation link.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Every signed-in role.
    Any,
    /// Roles that may release data (analysts, admins).
    Query,
    /// Roles that may read the audit log (admins, auditors).
    Audit,
}

/// The navigation entries: (path, label, who may see the page). A link is
/// shown only to roles the page serves, so nobody follows a link to be told
/// the page is not for them.
const NAV: [(&str, &str, Need); 7] = [
    ("/dashboard", "Overview", Need::Any),
    ("/dashboard/explore", "Metrics", Need::Query),
    ("/dashboard/retention", "Retention", Need::Query),
    ("/dashboard/budget", "Privacy budget", Need::Any),
    ("/dashboard/audit", "Audit log", Need::Audit),
    ("/dashboard/keys", "Keys & regions", Need::Any),
    ("/privacy", "What we collect", Need::Any),
];

/// The signed-in user as the page frame shows them: the token's name, the
/// sign-out form's token, and what the role may open.
#[derive(Clone, Copy)]
pub(crate) struct Viewer<'a> {
    /// The token's name.
    pub(crate) name: &'a str,
    /// The session's form token.
    pub(crate) csrf: &'a str,
    /// Whether the role may release data.
    pub(crate) may_query: bool,
    /// Whether the role may read the audit log.
    pub(crate) may_audit: bool,
}

/// A whole page. `user` is the signed-in viewer; `None` on the sign-in page.
pub(crate) fn page(title: &str, current: &str, user: Option<Viewer<'_>>, body: &str) -> String {
    let mut nav = String::new();
    if let Some(v) = user {
        nav.push_str("<nav aria-label=\"Dashboard\"><span class=\"brand\">Candor</span>");
        for (href, label, need) in NAV {
            let allowed = match need {
                Need::Any => true,
                Need::Query => v.may_query,
                Need::Audit => v.may_audit,
            };
            if !allowed {
                continue;
            }
            let cls = if href == current {
                " class=\"current\" aria-current=\"page\""
            } else {
                ""
            };
            let _ = write!(nav, "<a href=\"{href}\"{cls}>{}</a>", esc(label));
        }
        let _ = write!(
            nav,
            "<form method=\"post\" action=\"/dashboard/logout\" class=\"signout\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <span>signed in as <b>{}</b></span> <button type=\"submit\">Sign out</button></form></nav>",
            esc(v.csrf),
            esc(v.name)
        );
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · Candor</title><link rel=\"icon\" href=\"/favicon.svg\" type=\"image/svg+xml\">\
         <link rel=\"stylesheet\" href=\"/dashboard/style.css\"></head>\
         <body>{nav}<main><h1>{}</h1>{body}</main>\
         <footer>Candor: consented, anonymous, encrypted, aggregated, regional. \
         Released statistics are differentially private and thresholded on noisy counts; numbers marked \
         “exact” are operational counts, shown to administrators only. Every query is in the audit log.</footer>\
         </body></html>\n",
        esc(title),
        esc(title)
    )
}

/// The favicon: Candor's mark, an SVG served from this server.
pub(crate) const FAVICON: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 32 32\">\
<rect width=\"32\" height=\"32\" rx=\"7\" fill=\"#1e3a8a\"/>\
<rect x=\"7\" y=\"17\" width=\"4\" height=\"8\" fill=\"#93c5fd\"/>\
<rect x=\"14\" y=\"12\" width=\"4\" height=\"13\" fill=\"#bfdbfe\"/>\
<rect x=\"21\" y=\"7\" width=\"4\" height=\"18\" fill=\"#fff\"/></svg>";

/// Rows a table shows before the rest is folded away.
pub(crate) const TABLE_ROWS_SHOWN: usize = 20;

/// A table with escaped headers; `rows` are already-built `<td>` strings.
/// Past [`TABLE_ROWS_SHOWN`] rows the rest is folded into a `<details>`
/// holding the same table's continuation (`{id}-more`), so a long answer
/// does not push the page's end out of reach.
pub(crate) fn table(id: &str, headers: &[&str], rows: &[Vec<String>]) -> String {
    table_or(id, headers, rows, "nothing yet")
}

/// [`table`] saying `empty` (HTML) when there is no row.
pub(crate) fn table_or(id: &str, headers: &[&str], rows: &[Vec<String>], empty: &str) -> String {
    let head = |id: &str| {
        let mut out = format!(
            "<div class=\"scroll\" tabindex=\"0\"><table id=\"{}\"><thead><tr>",
            esc(id)
        );
        for h in headers {
            let _ = write!(out, "<th scope=\"col\">{}</th>", esc(h));
        }
        out.push_str("</tr></thead><tbody>");
        out
    };
    let body = |out: &mut String, rows: &[Vec<String>]| {
        for r in rows {
            out.push_str("<tr>");
            for c in r {
                out.push_str(c);
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table></div>");
    };
    let mut out = head(id);
    if rows.is_empty() {
        let _ = write!(
            out,
            "<tr><td colspan=\"{}\" class=\"empty\">{empty}</td></tr>",
            headers.len()
        );
    }
    // Folding fewer than a handful of rows would hide less than it costs.
    let fold = rows.len() > TABLE_ROWS_SHOWN + 5;
    let shown = if fold { TABLE_ROWS_SHOWN } else { rows.len() };
    body(&mut out, &rows[..shown]);
    if fold {
        let _ = write!(
            out,
            "<details class=\"more\"><summary>Show the other {} rows</summary>",
            rows.len() - shown
        );
        out.push_str(&head(&format!("{id}-more")));
        body(&mut out, &rows[shown..]);
        out.push_str("</details>");
    }
    out
}

/// A `<td>` of escaped text.
pub(crate) fn td(s: &str) -> String {
    format!("<td>{}</td>", esc(s))
}

/// A right-aligned numeric `<td>`.
pub(crate) fn td_num(s: &str) -> String {
    format!("<td class=\"num\">{}</td>", esc(s))
}

/// A number for people: integers with thousands separators, others with two decimals.
pub(crate) fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        let s = format!("{}", v.abs() as u64);
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        if v < 0.0 { format!("-{out}") } else { out }
    } else {
        format!("{v:.2}")
    }
}

/// Orders text the way people read numbers in it: `"3" < "11"`, and
/// `"os_major=3 · x" < "os_major=11 · x"` (runs of digits compare as
/// numbers, everything else as text).
pub(crate) fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (mut a, mut b) = (a, b);
    loop {
        match (a.chars().next(), b.chars().next()) {
            (None, None) => return Ordering::Equal,
            (None, _) => return Ordering::Less,
            (_, None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let da = a.find(|c: char| !c.is_ascii_digit()).unwrap_or(a.len());
                let db = b.find(|c: char| !c.is_ascii_digit()).unwrap_or(b.len());
                let (na, nb) = (
                    a[..da].trim_start_matches('0'),
                    b[..db].trim_start_matches('0'),
                );
                let o = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
                if o != Ordering::Equal {
                    return o;
                }
                (a, b) = (&a[da..], &b[db..]);
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(&y);
                }
                (a, b) = (&a[x.len_utf8()..], &b[y.len_utf8()..]);
            }
        }
    }
}

/// A value with its 95% interval: (value, low, high).
pub(crate) type Point = (f64, f64, f64);

/// The most series a line chart draws: the largest `MAX_SERIES - 1` and,
/// when there are more, one "other" line summing the rest (docs/ARCHITECTURE.md,
/// "Dashboard"). Beyond five lines with bands, nobody can tell them apart.
pub(crate) const MAX_SERIES: usize = 5;

/// One series of a line chart: a label and, per x position, a value with
/// its interval (`None` where the value was suppressed or absent).
pub(crate) struct Series {
    pub(crate) label: String,
    pub(crate) points: Vec<Option<Point>>,
    /// The sum of the series folded away ("other"): drawn grey and dashed,
    /// without a band (its parts' intervals do not add up to one).
    pub(crate) folded: bool,
}

const COLORS: [&str; MAX_SERIES] = ["#1d4ed8", "#b45309", "#047857", "#be185d", "#6d28d9"];
const OTHER_COLOR: &str = "#4b5563";

/// Round ticks covering `lo..=hi`: about five, at multiples of 1, 2, 2.5
/// or 5 × 10ⁿ, the first at or below `lo`, the last at or above `hi`.
pub(crate) fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let (lo, hi) = if hi > lo { (lo, hi) } else { (lo, lo + 1.0) };
    let raw = (hi - lo) / 4.0;
    let pow = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * pow)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * pow);
    let first = (lo / step).floor();
    let last = (hi / step).ceil();
    (0..=((last - first) as i64).min(20))
        .map(|i| (first + i as f64) * step)
        .collect()
}

/// A tick's label: as many decimals as the step needs.
fn tick_label(v: f64, step: f64) -> String {
    if step >= 1.0 || v == 0.0 {
        fmt_num(v.round())
    } else {
        let decimals = (-step.log10().floor()) as usize
            + usize::from(step * 10f64.powf(-step.log10().floor()) % 1.0 != 0.0);
        format!("{v:.decimals$}")
    }
}

/// Roughly how wide `text` is in a sans-serif face at `font` px: a bound
/// the layout uses so that no label runs past its SVG (the browser test
/// measures the real widths).
fn text_width(text: &str, font: f64) -> f64 {
    text.chars().count() as f64 * font * 0.62
}

/// `text` cut to fit `width` px at `font` px, with an ellipsis when cut.
fn fit(text: &str, width: f64, font: f64) -> String {
    let max = (width / (font * 0.62)).floor().max(1.0) as usize;
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut t: String = text.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// An SVG's size and the room around its plot.
struct Frame {
    w: f64,
    h: f64,
    font: f64,
    /// Most x labels drawn.
    x_labels: usize,
    /// `wide` (desktop) or `narrow` (phones): the stylesheet shows one.
    class: &'static str,
}

const WIDE: Frame = Frame {
    w: 760.0,
    h: 300.0,
    font: 12.0,
    x_labels: 10,
    class: "wide",
};
const NARROW: Frame = Frame {
    w: 340.0,
    h: 240.0,
    font: 12.0,
    x_labels: 4,
    class: "narrow",
};

/// The chart's heading and the figure around its two drawings (one for
/// wide screens, one for narrow ones: an SVG scaled down to a phone's width
/// would shrink its text below reading size).
fn figure(title: &str, unit: &str, wide: &str, narrow: &str, caption: &str) -> String {
    format!(
        "<figure class=\"chart\"><h3 class=\"chart-title\">{}</h3>{wide}{narrow}\
         <figcaption>{caption}</figcaption></figure>",
        esc(&if unit.is_empty() {
            title.to_owned()
        } else {
            format!("{title} ({unit})")
        })
    )
}

/// A line chart with 95% bands, round y ticks over the data's range, x
/// labels every few points, and a cross marking each suppressed point.
/// Only presentation attributes (no inline styles), so the page's CSP
/// needs no `unsafe-inline`. At most [`MAX_SERIES`] series are drawn; the
/// caller folds the rest (see [`fold_series`]).
pub(crate) fn line_chart(
    title: &str,
    unit: &str,
    x_labels: &[String],
    series: &[Series],
) -> String {
    let series = &series[..series.len().min(MAX_SERIES)];
    let wide = line_svg(&WIDE, title, unit, x_labels, series);
    let narrow = line_svg(&NARROW, title, unit, x_labels, series);
    let mut caption = String::new();
    for (si, s) in series.iter().enumerate() {
        let (color, dash) = if s.folded {
            (OTHER_COLOR, " stroke-dasharray=\"4 3\"")
        } else {
            (COLORS[si % COLORS.len()], "")
        };
        let _ = write!(
            caption,
            "<span class=\"key\"><svg width=\"18\" height=\"10\" aria-hidden=\"true\"><line x1=\"0\" x2=\"18\" y1=\"5\" y2=\"5\" stroke=\"{color}\" stroke-width=\"3\"{dash}/></svg> {}</span> ",
            esc(&s.label)
        );
    }
    let any_band = series
        .iter()
        .filter(|s| !s.folded)
        .flat_map(|s| s.points.iter().flatten())
        .any(|&(_, lo, hi)| hi > lo);
    if any_band {
        caption.push_str("<span class=\"key\">shaded: 95% interval</span> ");
    }
    if series.iter().any(|s| s.points.iter().any(Option::is_none)) {
        caption.push_str(
            "<span class=\"key\"><svg width=\"12\" height=\"12\" aria-hidden=\"true\"><path d=\"M2 2 l8 8 m0 -8 l-8 8\" stroke=\"#b91c1c\" stroke-width=\"1.5\"/></svg> \
             not shown: noisy device count below k, or no data</span>",
        );
    }
    figure(title, unit, &wide, &narrow, &caption)
}

fn line_svg(f: &Frame, title: &str, unit: &str, x_labels: &[String], series: &[Series]) -> String {
    let n = x_labels.len().max(1);
    let values: Vec<f64> = series
        .iter()
        .flat_map(|s| {
            s.points
                .iter()
                .flatten()
                .flat_map(|&(v, lo, hi)| [v, lo, hi])
        })
        .collect();
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if values.is_empty() {
        (0.0, 1.0)
    } else {
        (lo, hi)
    };
    let ticks = ticks(lo, hi);
    let (min, max) = (ticks[0], ticks[ticks.len() - 1]);
    let step = ticks.get(1).map_or(1.0, |t| t - min);
    let labels: Vec<String> = ticks.iter().map(|t| tick_label(*t, step)).collect();
    let font = f.font;
    let left = 8.0
        + labels
            .iter()
            .map(|l| text_width(l, font))
            .fold(0.0, f64::max);
    let (right, top, bottom) = (
        // The last x label is centred on the last point.
        x_labels
            .last()
            .map_or(10.0, |l| text_width(l, font) / 2.0 + 4.0),
        font * 2.0,
        font * 2.2,
    );
    let (w, h) = (f.w, f.h);
    let x = |i: usize| {
        if n == 1 {
            left + (w - left - right) / 2.0
        } else {
            left + (w - left - right) * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: f64| top + (h - top - bottom) * (1.0 - (v - min) / (max - min));
    let mut out = format!(
        "<svg class=\"{}\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" \
         role=\"img\" aria-label=\"{}\" width=\"100%\">",
        f.class,
        esc(title)
    );
    if !unit.is_empty() {
        let _ = write!(
            out,
            "<text x=\"2\" y=\"{:.1}\" font-size=\"{font}\" fill=\"#374151\">{}</text>",
            font,
            esc(&fit(unit, w - 4.0, font))
        );
    }
    for (t, label) in ticks.iter().zip(&labels) {
        let yy = y(*t);
        let _ = write!(
            out,
            "<line x1=\"{left:.1}\" x2=\"{:.1}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#e5e7eb\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"{font}\" fill=\"#374151\">{}</text>",
            w - right,
            left - 4.0,
            yy + font / 3.0,
            esc(label)
        );
    }
    let step = n.div_ceil(f.x_labels).max(1);
    for (i, label) in x_labels.iter().enumerate() {
        // Every `step`-th label, and the last one unless it would touch
        // the one before.
        if i % step == 0 || (i + 1 == n && i % step >= step.div_ceil(2)) {
            let _ = write!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"{font}\" fill=\"#374151\">{}</text>",
                x(i),
                h - bottom + font * 1.5,
                esc(label)
            );
        }
    }
    for (si, s) in series.iter().enumerate() {
        let color = if s.folded {
            OTHER_COLOR
        } else {
            COLORS[si % COLORS.len()]
        };
        // Band and line per run of consecutive released points.
        let mut runs: Vec<Vec<(usize, Point)>> = vec![Vec::new()];
        for (i, p) in s.points.iter().enumerate() {
            match p {
                Some(p) => runs.last_mut().expect("one run").push((i, *p)),
                None => runs.push(Vec::new()),
            }
        }
        for run in runs.iter().filter(|r| !r.is_empty()) {
            if !s.folded {
                let mut band = String::new();
                for &(i, (_, _, hi)) in run {
                    let _ = write!(band, "{:.1},{:.1} ", x(i), y(hi));
                }
                for &(i, (_, lo, _)) in run.iter().rev() {
                    let _ = write!(band, "{:.1},{:.1} ", x(i), y(lo));
                }
                let _ = write!(
                    out,
                    "<polygon class=\"band\" points=\"{band}\" fill=\"{color}\" fill-opacity=\"0.12\"/>"
                );
            }
            let line: String = run
                .iter()
                .map(|&(i, (v, _, _))| format!("{:.1},{:.1}", x(i), y(v)))
                .collect::<Vec<_>>()
                .join(" ");
            let dash = if s.folded {
                " stroke-dasharray=\"5 4\""
            } else {
                ""
            };
            let _ = write!(
                out,
                "<polyline class=\"series\" points=\"{line}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"{dash}/>"
            );
            for &(i, (v, _, _)) in run {
                let _ = write!(
                    out,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"{color}\"/>",
                    x(i),
                    y(v)
                );
            }
        }
        for (i, p) in s.points.iter().enumerate() {
            if p.is_none() {
                let (cx, cy) = (x(i), h - bottom - 6.0);
                let _ = write!(
                    out,
                    "<path class=\"suppressed\" d=\"M{:.1} {:.1} l8 8 m0 -8 l-8 8\" stroke=\"#b91c1c\" stroke-width=\"1.5\"/>",
                    cx - 4.0,
                    cy - 4.0
                );
            }
        }
    }
    out.push_str("</svg>");
    out
}

/// Keeps the `MAX_SERIES - 1` largest series (by their summed values) and
/// folds the rest into one "other" series, the sum of their released
/// values at each point; returns the series to draw and the labels folded.
pub(crate) fn fold_series(mut series: Vec<Series>) -> (Vec<Series>, Vec<String>) {
    if series.len() <= MAX_SERIES {
        return (series, Vec::new());
    }
    let total = |s: &Series| s.points.iter().flatten().map(|p| p.0).sum::<f64>();
    series.sort_by(|a, b| total(b).total_cmp(&total(a)));
    let rest = series.split_off(MAX_SERIES - 1);
    let len = rest.iter().map(|s| s.points.len()).max().unwrap_or(0);
    let points = (0..len)
        .map(|i| {
            let released: Vec<f64> = rest
                .iter()
                .filter_map(|s| s.points.get(i).copied().flatten().map(|p| p.0))
                .collect();
            (!released.is_empty()).then(|| {
                let v: f64 = released.iter().sum();
                (v, v, v)
            })
        })
        .collect();
    let folded: Vec<String> = rest.into_iter().map(|s| s.label).collect();
    series.push(Series {
        label: format!("other ({} groups, summed)", folded.len()),
        points,
        folded: true,
    });
    (series, folded)
}

/// The most bars a bar chart draws; the table marks the rest.
pub(crate) const MAX_BARS: usize = 40;

/// A horizontal bar chart of labelled values with their intervals: each
/// bar under its label, the value at the line's end, so no label is cut at
/// the chart's edge (a label too long for a phone's width ends in "…" and
/// is whole in the table and the bar's tooltip).
pub(crate) fn bar_chart(title: &str, unit: &str, bars: &[(String, f64, f64, f64)]) -> String {
    let bars = &bars[..bars.len().min(MAX_BARS)];
    let svg = |f: &Frame| {
        let font = f.font;
        let row = font * 2.9;
        let w = f.w;
        let h = row * bars.len().max(1) as f64 + 4.0;
        let max = bars.iter().map(|b| b.3.max(b.1)).fold(0.0f64, f64::max);
        let top = ticks(0.0, max.max(1.0)).last().copied().unwrap_or(1.0);
        let sx = |v: f64| 2.0 + (w - 4.0) * (v.max(0.0) / top);
        let mut out = format!(
            "<svg class=\"{}\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h:.1}\" \
             role=\"img\" aria-label=\"{}\" width=\"100%\">",
            f.class,
            esc(title)
        );
        for (i, (label, v, lo, hi)) in bars.iter().enumerate() {
            let yy = row * i as f64;
            let value = fmt_num(*v);
            let room = w - 4.0 - text_width(&value, font) - font;
            let _ = write!(
                out,
                "<g><title>{}: {} (95% interval {} – {})</title>\
                 <text x=\"2\" y=\"{:.1}\" font-size=\"{font}\" fill=\"#111827\">{}</text>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"{font}\" fill=\"#374151\">{}</text>\
                 <rect class=\"bar\" x=\"2\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#1d4ed8\" fill-opacity=\"0.8\"/>\
                 <line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#111827\" stroke-width=\"1.5\"/></g>",
                esc(label),
                esc(&value),
                esc(&fmt_num(*lo)),
                esc(&fmt_num(*hi)),
                yy + font,
                esc(&fit(label, room, font)),
                w - 2.0,
                yy + font,
                esc(&value),
                yy + font * 1.4,
                (sx(*v) - 2.0).max(0.5),
                font * 0.9,
                sx(*lo),
                sx(*hi),
                yy + font * 1.85,
                yy + font * 1.85,
            );
        }
        out.push_str("</svg>");
        out
    };
    figure(
        title,
        unit,
        &svg(&WIDE),
        &svg(&NARROW),
        "bars: released values; whiskers: 95% intervals",
    )
}

/// The stylesheet, served from this server (`/dashboard/style.css`).
pub(crate) const STYLE: &str = "
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; margin: 0; color: #111827; background: #f9fafb; }
nav { display: flex; gap: 1.1rem; align-items: center; background: #111827; color: #f9fafb; padding: .6rem 1.2rem; flex-wrap: wrap; }
nav a { color: #d1d5db; text-decoration: none; }
nav a.current, nav a:hover { color: #fff; border-bottom: 2px solid #60a5fa; }
nav .brand { font-weight: 700; letter-spacing: .02em; margin-right: .6rem; }
nav .signout { margin-left: auto; display: flex; gap: .5rem; align-items: center; }
main { max-width: 1100px; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
h1 { font-size: 1.5rem; margin: .8rem 0 1rem; }
h2 { font-size: 1.15rem; margin: 1.6rem 0 .6rem; }
table { border-collapse: collapse; width: 100%; background: #fff; margin: .4rem 0 1rem; font-size: 14px; }
th, td { border-bottom: 1px solid #e5e7eb; padding: .35rem .6rem; text-align: left; vertical-align: top; }
th { background: #f3f4f6; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.empty { color: #6b7280; font-style: italic; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: .8rem; margin: .5rem 0 1rem; }
.card { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: .7rem .9rem; }
.card .big { font-size: 1.6rem; font-weight: 700; }
.card .small { color: #4b5563; font-size: 13px; }
.note { background: #eff6ff; border-left: 4px solid #2563eb; padding: .6rem .9rem; margin: .8rem 0; }
.warn { background: #fef2f2; border-left: 4px solid #dc2626; padding: .6rem .9rem; margin: .8rem 0; }
.ok { color: #047857; font-weight: 600; }
.bad { color: #b91c1c; font-weight: 600; }
form.query { display: grid; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr)); gap: .6rem 1rem; background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: .9rem; }
form.query label { display: flex; flex-direction: column; font-size: 13px; color: #374151; gap: .2rem; }
form.query label.inline { flex-direction: row; align-items: center; gap: .35rem; font-size: 14px; }
form.query .choices { display: flex; flex-wrap: wrap; gap: .2rem .9rem; }
input, select, button { font: inherit; padding: .3rem .45rem; }
button { background: #2563eb; color: #fff; border: 0; border-radius: 6px; padding: .4rem .9rem; cursor: pointer; }
nav button { background: #374151; }
figure.chart { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; margin: .6rem 0 1rem; padding: .6rem; }
figure.chart > svg { display: block; }
figure.chart > svg.narrow { display: none; }
h3.chart-title { font-size: 1rem; margin: .1rem 0 .4rem; }
.scroll { overflow-x: auto; }
.scroll:focus { outline: 2px solid #1d4ed8; }
details.more summary { margin: 0 0 .4rem; }
.picker { display: flex; flex-wrap: wrap; gap: .3rem .9rem; margin: .3rem 0 .8rem; }
.picker a.current { font-weight: 700; color: #111827; text-decoration: none; }
table.heat { width: auto; }
table.heat td, table.heat th { text-align: center; padding: .25rem .35rem; min-width: 2.6rem; }
table.heat th[scope=row] { text-align: left; white-space: nowrap; }
table.heat td .n { display: block; font-size: 12px; }
table.heat td.h0 { background: #eff6ff; } table.heat td.h1 { background: #bfdbfe; }
table.heat td.h2 { background: #93c5fd; } table.heat td.h3 { background: #2563eb; color: #fff; }
table.heat td.h4 { background: #1d4ed8; color: #fff; } table.heat td.h5 { background: #1e3a8a; color: #fff; }
table.heat td.withheld { background: repeating-linear-gradient(45deg, #f3f4f6 0 4px, #e5e7eb 4px 8px); color: #374151; }
table.heat td.out { background: #fff; }
.legend { display: flex; flex-wrap: wrap; gap: .2rem .2rem; align-items: center; font-size: 13px; margin: .4rem 0; }
.legend span.sw { display: inline-block; padding: .1rem .45rem; border: 1px solid #e5e7eb; }
.legend .h0 { background: #eff6ff; } .legend .h1 { background: #bfdbfe; } .legend .h2 { background: #93c5fd; }
.legend .h3 { background: #2563eb; color: #fff; } .legend .h4 { background: #1d4ed8; color: #fff; } .legend .h5 { background: #1e3a8a; color: #fff; }
.legend .withheld { background: repeating-linear-gradient(45deg, #f3f4f6 0 4px, #e5e7eb 4px 8px); }
.small-note { color: #374151; font-size: 13px; }
td.withheld { color: #374151; font-style: italic; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
@media (max-width: 600px) {
  main { padding: .5rem .6rem 2rem; }
  nav { gap: .5rem .8rem; padding: .5rem .6rem; }
  figure.chart { padding: .4rem; }
  figure.chart > svg.wide { display: none; }
  figure.chart > svg.narrow { display: block; }
  th, td { padding: .3rem .35rem; }
  table.heat td, table.heat th { min-width: 0; padding: .2rem .15rem; font-size: 12px; }
}
figcaption { font-size: 12px; color: #4b5563; }
figcaption .key { margin-right: .9rem; white-space: nowrap; display: inline-block; }
.login { max-width: 460px; margin: 3rem auto; background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 1.2rem 1.4rem; }
.login input { width: 100%; box-sizing: border-box; margin: .4rem 0 .8rem; }
details summary { cursor: pointer; color: #1d4ed8; margin: .2rem 0 .6rem; }
code { background: #f3f4f6; padding: 0 .25rem; border-radius: 3px; overflow-wrap: anywhere; }
footer { text-align: center; color: #4b5563; font-size: 12px; padding: 1rem; }
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(fmt_num(1234567.0), "1,234,567");
        assert_eq!(fmt_num(-1000.0), "-1,000");
        assert_eq!(fmt_num(12.345), "12.35");
    }

    #[test]
    fn charts_mark_suppressed_points_and_escape_labels() {
        let svg = line_chart(
            "t<",
            "devices",
            &["a".into(), "b".into(), "c".into()],
            &[Series {
                label: "<s>".into(),
                points: vec![Some((5.0, 3.0, 7.0)), None, Some((6.0, 4.0, 8.0))],
                folded: false,
            }],
        );
        // One wide and one narrow drawing, each marking the gap.
        assert_eq!(svg.matches("class=\"suppressed\"").count(), 2);
        assert_eq!(svg.matches("class=\"series\"").count(), 4);
        assert!(svg.contains("&lt;s&gt;") && !svg.contains("<s>"));
        assert!(svg.contains("t&lt; (devices)"), "a title with its unit");
        let bars = bar_chart("b", "", &[("x".into(), 3.0, 1.0, 5.0)]);
        assert!(bars.contains("class=\"bar\""));
    }

    #[test]
    fn ticks_are_round_and_cover_the_data() {
        for (lo, hi) in [
            (0.0, 620.0),
            (155.0, 620.0),
            (0.0, 1.0),
            (3.0, 3.0),
            (0.2, 0.9),
            (1200.0, 98_000.0),
        ] {
            let t = ticks(lo, hi);
            assert!(
                t[0] <= lo && *t.last().expect("ticks") >= hi,
                "{lo}..{hi}: {t:?}"
            );
            assert!((3..=7).contains(&t.len()), "{lo}..{hi}: {t:?}");
            let step = t[1] - t[0];
            let mantissa = step / 10f64.powf(step.log10().floor());
            assert!(
                [1.0, 2.0, 2.5, 5.0]
                    .iter()
                    .any(|m| (m - mantissa).abs() < 1e-9),
                "{lo}..{hi}: step {step}"
            );
        }
        // The axis starts at the data's range, not at a negative number.
        assert_eq!(
            ticks(1210.0, 1290.0),
            [1200.0, 1220.0, 1240.0, 1260.0, 1280.0, 1300.0]
        );
        assert_eq!(ticks(0.0, 620.0), [0.0, 200.0, 400.0, 600.0, 800.0]);
    }

    #[test]
    fn numbers_in_text_sort_as_numbers() {
        let mut v = vec![
            "os_major=17",
            "os_major=3",
            "os_major=11",
            "os_major=4",
            "b",
            "a",
        ];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            v,
            [
                "a",
                "b",
                "os_major=3",
                "os_major=4",
                "os_major=11",
                "os_major=17"
            ]
        );
    }

    #[test]
    fn more_series_than_the_limit_fold_into_other() {
        let series: Vec<Series> = (0..8)
            .map(|i| Series {
                label: format!("s{i}"),
                points: vec![Some((f64::from(i), 0.0, 0.0)), None],
                folded: false,
            })
            .collect();
        let (drawn, folded) = fold_series(series);
        assert_eq!(drawn.len(), MAX_SERIES);
        assert_eq!(folded.len(), 8 - (MAX_SERIES - 1));
        let other = drawn.last().expect("other");
        assert!(other.folded);
        // s0..s3 are the smallest, folded: 0 + 1 + 2 + 3.
        assert_eq!(other.points[0], Some((6.0, 6.0, 6.0)));
        assert_eq!(other.points[1], None);
    }

    #[test]
    fn long_tables_fold_their_tail() {
        let rows: Vec<Vec<String>> = (0..112).map(|i| vec![td(&i.to_string())]).collect();
        let t = table("t", &["n"], &rows);
        assert!(t.contains("id=\"t-more\"") && t.contains("Show the other 92 rows"));
        assert_eq!(
            t.matches("<tr><td>").count(),
            112,
            "every row is still there"
        );
    }
}

//! HTML building blocks: escaping, the page frame, tables, and SVG charts.
//!
//! Every piece of text that reaches a page goes through [`esc`]; the pages
//! load nothing from elsewhere (one stylesheet from this server, no
//! scripts), which the Content-Security-Policy enforces.

use std::fmt::Write as _;

pub(crate) use candor_schema::docs::html_escape as esc;

/// The navigation entries: (path, label, admin only).
const NAV: [(&str, &str, bool); 6] = [
    ("/dashboard", "Overview", false),
    ("/dashboard/explore", "Metrics", false),
    ("/dashboard/budget", "Privacy budget", false),
    ("/dashboard/audit", "Audit log", true),
    ("/dashboard/keys", "Keys & regions", false),
    ("/privacy", "What we collect", false),
];

/// A whole page. `user` is the signed-in token's name and `csrf` the form
/// token for the sign-out button; `None` on the sign-in page.
pub(crate) fn page(title: &str, current: &str, user: Option<(&str, &str)>, body: &str) -> String {
    let mut nav = String::new();
    if let Some((name, csrf)) = user {
        nav.push_str("<nav><span class=\"brand\">Candor</span>");
        for (href, label, _) in NAV {
            let cls = if href == current {
                " class=\"current\""
            } else {
                ""
            };
            let _ = write!(nav, "<a href=\"{href}\"{cls}>{label}</a>");
        }
        let _ = write!(
            nav,
            "<form method=\"post\" action=\"/dashboard/logout\" class=\"signout\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <span>signed in as <b>{}</b></span> <button type=\"submit\">Sign out</button></form></nav>",
            esc(csrf),
            esc(name)
        );
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · Candor</title><link rel=\"stylesheet\" href=\"/dashboard/style.css\"></head>\
         <body>{nav}<main><h1>{}</h1>{body}</main>\
         <footer>Candor: consented, anonymous, encrypted, aggregated, regional. \
         Released statistics are differentially private and thresholded on noisy counts; numbers marked \
         “exact” are operational counts, shown to administrators only. Every query is in the audit log.</footer>\
         </body></html>\n",
        esc(title),
        esc(title)
    )
}

/// A table with escaped headers; `rows` are already-built `<td>` strings.
pub(crate) fn table(id: &str, headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("<table id=\"{}\"><thead><tr>", esc(id));
    for h in headers {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    if rows.is_empty() {
        let _ = write!(
            out,
            "<tr><td colspan=\"{}\" class=\"empty\">nothing yet</td></tr>",
            headers.len()
        );
    }
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            out.push_str(c);
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
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

/// A number for people: integers with thin grouping, others with two decimals.
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

/// A value with its 95% interval: (value, low, high).
pub(crate) type Point = (f64, f64, f64);

/// One series of a line chart: a label and, per x position, a value with
/// its interval (`None` where the value was suppressed or absent).
pub(crate) struct Series {
    pub(crate) label: String,
    pub(crate) points: Vec<Option<Point>>,
}

const COLORS: [&str; 6] = [
    "#2563eb", "#d97706", "#059669", "#db2777", "#7c3aed", "#0891b2",
];

/// A line chart with 95% bands, x labels every few points, and a cross
/// marking each suppressed point. Only presentation attributes (no inline
/// styles), so the page's CSP needs no `unsafe-inline`.
pub(crate) fn line_chart(title: &str, x_labels: &[String], series: &[Series]) -> String {
    let (w, h, left, right, top, bottom) = (760.0, 300.0, 70.0, 20.0, 20.0, 50.0);
    let n = x_labels.len().max(1);
    let values = series.iter().flat_map(|s| {
        s.points
            .iter()
            .flatten()
            .flat_map(|&(v, lo, hi)| [v, lo, hi])
    });
    let (mut min, mut max) = values.fold((0.0f64, 1.0f64), |(a, b), v| (a.min(v), b.max(v)));
    let pad = (max - min) * 0.05;
    min -= if min < 0.0 { pad } else { 0.0 };
    max += pad;
    let x = |i: usize| {
        if n == 1 {
            left + (w - left - right) / 2.0
        } else {
            left + (w - left - right) * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: f64| top + (h - top - bottom) * (1.0 - (v - min) / (max - min));
    let mut out = format!(
        "<figure class=\"chart\"><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" \
         role=\"img\" aria-label=\"{}\" width=\"100%\">",
        esc(title)
    );
    // Axes and horizontal grid with values.
    for i in 0..=4 {
        let v = min + (max - min) * f64::from(i) / 4.0;
        let yy = y(v);
        let _ = write!(
            out,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#e5e7eb\"/>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"11\" fill=\"#4b5563\">{}</text>",
            w - right,
            left - 6.0,
            yy + 4.0,
            esc(&fmt_num(v.round()))
        );
    }
    let step = n.div_ceil(8).max(1);
    for (i, label) in x_labels.iter().enumerate() {
        // Every `step`-th label, and the last one unless it would touch
        // the one before.
        if i % step == 0 || (i + 1 == n && i % step >= step.div_ceil(2)) {
            let _ = write!(
                out,
                "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\" fill=\"#4b5563\">{}</text>",
                x(i),
                h - bottom + 18.0,
                esc(label)
            );
        }
    }
    for (si, s) in series.iter().enumerate() {
        let color = COLORS[si % COLORS.len()];
        // Band and line per run of consecutive released points.
        let mut runs: Vec<Vec<(usize, Point)>> = vec![Vec::new()];
        for (i, p) in s.points.iter().enumerate() {
            match p {
                Some(p) => runs.last_mut().expect("one run").push((i, *p)),
                None => runs.push(Vec::new()),
            }
        }
        for run in runs.iter().filter(|r| !r.is_empty()) {
            let mut band = String::new();
            for &(i, (_, _, hi)) in run {
                let _ = write!(band, "{:.1},{:.1} ", x(i), y(hi));
            }
            for &(i, (_, lo, _)) in run.iter().rev() {
                let _ = write!(band, "{:.1},{:.1} ", x(i), y(lo));
            }
            let line: String = run
                .iter()
                .map(|&(i, (v, _, _))| format!("{:.1},{:.1}", x(i), y(v)))
                .collect::<Vec<_>>()
                .join(" ");
            let _ = write!(
                out,
                "<polygon class=\"band\" points=\"{band}\" fill=\"{color}\" fill-opacity=\"0.15\"/>\
                 <polyline class=\"series\" points=\"{line}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"/>"
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
                    "<path class=\"suppressed\" d=\"M{:.1} {:.1} l8 8 m0 -8 l-8 8\" stroke=\"#dc2626\" stroke-width=\"1.5\"/>",
                    cx - 4.0,
                    cy - 4.0
                );
            }
        }
    }
    out.push_str("</svg><figcaption>");
    for (si, s) in series.iter().enumerate() {
        let _ = write!(
            out,
            "<span class=\"key\"><svg width=\"12\" height=\"12\"><rect width=\"12\" height=\"12\" fill=\"{}\"/></svg> {}</span> ",
            COLORS[si % COLORS.len()],
            esc(&s.label)
        );
    }
    let any_band = series
        .iter()
        .flat_map(|s| s.points.iter().flatten())
        .any(|&(_, lo, hi)| hi > lo);
    if any_band {
        out.push_str("<span class=\"key\">shaded: 95% interval</span> ");
    }
    if series.iter().any(|s| s.points.iter().any(Option::is_none)) {
        out.push_str(
            "<span class=\"key\"><svg width=\"12\" height=\"12\"><path d=\"M2 2 l8 8 m0 -8 l-8 8\" stroke=\"#dc2626\"/></svg> \
             not shown (noisy device count below k) or no data</span>",
        );
    }
    out.push_str("</figcaption></figure>");
    out
}

/// A horizontal bar chart of labelled values with their intervals.
pub(crate) fn bar_chart(title: &str, bars: &[(String, f64, f64, f64)]) -> String {
    let row = 22.0;
    let (w, left, right) = (760.0, 180.0, 90.0);
    let h = row * bars.len().max(1) as f64 + 10.0;
    let max = bars.iter().map(|b| b.3.max(b.1)).fold(1.0f64, f64::max);
    let sx = |v: f64| left + (w - left - right) * (v.max(0.0) / max);
    let mut out = format!(
        "<figure class=\"chart\"><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" \
         role=\"img\" aria-label=\"{}\" width=\"100%\">",
        esc(title)
    );
    for (i, (label, v, lo, hi)) in bars.iter().enumerate() {
        let yy = 5.0 + row * i as f64;
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"12\" fill=\"#111827\">{}</text>\
             <rect class=\"bar\" x=\"{left}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#2563eb\" fill-opacity=\"0.8\"/>\
             <line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#111827\" stroke-width=\"1.5\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#374151\">{}</text>",
            left - 8.0,
            yy + 14.0,
            esc(label),
            yy + 3.0,
            (sx(*v) - left).max(0.5),
            row - 6.0,
            sx(*lo),
            sx(*hi),
            yy + row / 2.0,
            yy + row / 2.0,
            sx(hi.max(*v)) + 6.0,
            yy + 14.0,
            esc(&fmt_num(*v))
        );
    }
    out.push_str(
        "</svg><figcaption>bars: released values; whiskers: 95% intervals</figcaption></figure>",
    );
    out
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
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(180px, 1fr)); gap: .8rem; margin: .5rem 0 1rem; }
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
figcaption { font-size: 12px; color: #4b5563; }
figcaption .key { margin-right: .9rem; }
.login { max-width: 460px; margin: 3rem auto; background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 1.2rem 1.4rem; }
.login input { width: 100%; box-sizing: border-box; margin: .4rem 0 .8rem; }
details summary { cursor: pointer; color: #1d4ed8; margin: .2rem 0 .6rem; }
code { background: #f3f4f6; padding: 0 .25rem; border-radius: 3px; }
footer { text-align: center; color: #6b7280; font-size: 12px; padding: 1rem; }
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
            &["a".into(), "b".into(), "c".into()],
            &[Series {
                label: "<s>".into(),
                points: vec![Some((5.0, 3.0, 7.0)), None, Some((6.0, 4.0, 8.0))],
            }],
        );
        assert_eq!(svg.matches("class=\"suppressed\"").count(), 1);
        assert_eq!(svg.matches("class=\"series\"").count(), 2);
        assert!(svg.contains("&lt;s&gt;") && !svg.contains("<s>"));
        let bars = bar_chart("b", &[("x".into(), 3.0, 1.0, 5.0)]);
        assert!(bars.contains("class=\"bar\""));
    }
}

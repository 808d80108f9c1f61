//! Rendering: completeness, escaping, determinism.

use candor_schema::docs::{Format, render};

use crate::{parse, workspace_file};

fn example() -> candor_schema::Schema {
    let src = std::fs::read_to_string(workspace_file("examples/browser.toml")).expect("readable");
    parse(&src).expect("valid").schema
}

#[test]
fn every_metric_purpose_and_region_appears() {
    let s = example();
    for format in [Format::Markdown, Format::Html] {
        let page = render(&s, format);
        for m in s.metrics.values() {
            assert!(page.contains(&m.id), "{format:?} lacks metric {}", m.id);
            assert!(
                page.contains(&m.owner),
                "{format:?} lacks owner of {}",
                m.id
            );
        }
        for r in s.regions.values() {
            assert!(page.contains(&r.name), "{format:?} lacks region {}", r.id);
            assert!(page.contains(&format!("{} days", r.retention_days)));
        }
        for p in s.purposes.values() {
            assert!(page.contains(&p.title), "{format:?} lacks purpose {}", p.id);
        }
        assert!(page.contains("δ = 1e-8"));
        assert!(page.contains("local DP, ε = 1.5 on the device"));
        assert!(page.contains("more than 16000"));
    }
}

/// The page states what is protected (one device's report for one purpose
/// and day), what is not differentially private and who sees it, and per
/// purpose and region what one device's day and year can cost at most.
#[test]
fn the_page_states_the_neighbouring_relation_and_per_device_bounds() {
    let s = example();
    let page = render(&s, Format::Markdown);
    for needle in [
        "one report of one device, for one purpose, on one day",
        "What is not differentially private",
        "shown only to administrators",
        "Only finished days",
        "One device, one day (ε, δ)",
        "One device, one year (ε, δ)",
    ] {
        assert!(page.contains(needle), "{needle:?} missing");
    }
    for p in s.purposes.values() {
        for r in s.regions.values() {
            let row = format!(
                "| `{}` | `{}` | ε ≤ {}, δ ≤ {:e} | ε ≤ {}, δ ≤ {:e} |",
                p.id,
                r.id,
                r.epsilon_per_purpose_day,
                r.delta_per_purpose_day,
                365.0 * r.epsilon_per_purpose_day,
                365.0 * r.delta_per_purpose_day
            );
            assert!(page.contains(&row), "{row:?} missing");
            // The example keeps every purpose at ε ≤ 4 per device-day.
            assert!(r.epsilon_per_purpose_day <= 4.0);
        }
    }
}

#[test]
fn html_is_self_contained() {
    let html = render(&example(), Format::Html);
    assert!(html.starts_with("<!DOCTYPE html>\n"));
    assert!(html.ends_with("</html>\n"));
    assert!(html.contains("<style>"));
    assert!(html.contains("default-src 'none'"));
    for forbidden in [
        "<script", "<link", "<img", "src=", "href=", "@import", "url(",
    ] {
        assert!(
            !html.contains(forbidden),
            "HTML must not contain {forbidden:?}"
        );
    }
}

#[test]
fn text_is_escaped() {
    let mut s = example();
    let p = s.purposes.get_mut("usage").expect("declared");
    p.title = "<script>alert('x')</script> & more".into();
    p.description = "Line one\nline *two* | [link](http://x) <b>".into();
    s.regions.get_mut("eu").expect("declared").law = "GDPR \"Art. 6\"".into();

    let html = render(&s, Format::Html);
    assert!(!html.contains("<script>"));
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more"));
    assert!(html.contains("GDPR &quot;Art. 6&quot;"));
    assert!(!html.contains("<b>"));

    let md = render(&s, Format::Markdown);
    assert!(md.contains("\\<script\\>alert('x')\\</script\\> \\& more"));
    assert!(md.contains("Line one line \\*two\\* \\| \\[link\\](http://x) \\<b\\>"));
    // Table rows keep their column count despite the `|` in texts.
    for row in md.lines().filter(|l| l.starts_with("| `")) {
        let unescaped = row.replace("\\|", "");
        let cells = unescaped.matches('|').count();
        assert!(matches!(cells, 4 | 6 | 9 | 10), "{row}");
    }
}

#[test]
fn output_is_deterministic() {
    let s = example();
    assert_eq!(
        render(&s, Format::Markdown),
        render(&s.clone(), Format::Markdown)
    );
    assert_eq!(render(&s, Format::Html), render(&s.clone(), Format::Html));
}

//! The Markdown tables of the study (BENCHMARKS.md, "Release accuracy").

use crate::query::{Results, World};
use crate::stats::{Cell, pct, stats};
use crate::{SWEEP, TOP_DOMAINS};

/// Prints every table: whole range at the schema's ε, the ε sweeps, the
/// grouped release and the volume clamping removed.
pub(crate) fn print(
    world: &World,
    results: &Results,
    volume: &[(u64, u64)],
    header: &str,
    trials: usize,
) {
    let (taus, grouped_results) = (&results.taus, &results.grouped);
    let results = &results.whole;
    println!("{header}");

    println!("### Whole range, no group-by, at the schema's ε\n");
    println!(
        "| metric | type | mechanism | ε | cells | true total | median rel. error | p90 | \
         weighted | ±ci95 / truth | ci95 covers truth | suppressed |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let at_one = SWEEP
        .iter()
        .position(|&f| f == 1.0)
        .expect("1.0 in the sweep");
    for (m, metric) in world.metrics.iter().enumerate() {
        let outs = &results[m][at_one];
        let cells: Vec<Cell> = outs.iter().flat_map(|o| o.cells.iter().copied()).collect();
        let st = stats(&cells);
        let suppressed: u64 = outs.iter().map(|o| o.suppressed).sum();
        let (cells_col, supp_col) = if metric.kind.has_open_cells() {
            let o = &outs[0];
            (
                format!(
                    "{} of {} domains ({} of mentions)",
                    o.cells.len(),
                    o.true_values,
                    pct(o.released_mentions / o.true_mentions)
                ),
                format!("τ = {:.0}", taus[m][at_one].unwrap_or(f64::NAN)),
            )
        } else {
            (
                format!("{}", st.n / outs.len()),
                format!("{}", suppressed / outs.len() as u64),
            )
        };
        let truth: i64 = world
            .whole
            .iter()
            .filter(|((mm, _), _)| *mm == m)
            .map(|(_, v)| *v)
            .sum();
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            metric.id,
            metric.type_name(),
            metric.release.mechanism(),
            metric.release.epsilon(),
            cells_col,
            truth,
            pct(st.median),
            pct(st.p90),
            pct(st.weighted),
            pct(st.half),
            pct(st.coverage),
            supp_col
        );
    }

    println!("\n### ε sweep, whole range, per metric type\n");
    println!(
        "Median / p90 relative error per released cell, pooled over the metrics of a type \
         (central: over {trials} trials), and the share of 95% intervals that cover the truth.\n"
    );
    let mut header = "| type | mechanism |".to_string();
    let mut rule = "|---|---|".to_string();
    for f in SWEEP {
        header.push_str(&format!(" ε × {f} |"));
        rule.push_str("---|");
    }
    println!("{header}\n{rule}");
    let mut kinds: Vec<(&str, &str)> = world
        .metrics
        .iter()
        .map(|m| (m.type_name(), m.release.mechanism()))
        .collect();
    kinds.sort();
    kinds.dedup();
    for (kind, mech) in &kinds {
        let mut row = format!("| {kind} | {mech} |");
        for (s, _) in SWEEP.iter().enumerate() {
            let cells: Vec<Cell> = world
                .metrics
                .iter()
                .enumerate()
                .filter(|(_, metric)| {
                    metric.type_name() == *kind && metric.release.mechanism() == *mech
                })
                .flat_map(|(m, _)| results[m][s].iter().flat_map(|o| o.cells.iter().copied()))
                .collect();
            let st = stats(&cells);
            row.push_str(&format!(
                " {} / {} ({} covered) |",
                pct(st.median),
                pct(st.p90),
                pct(st.coverage)
            ));
        }
        println!("{row}");
    }

    println!("\n### ε sweep per metric\n");
    println!(
        "Median relative error of the released cells, and in brackets the median half-width \
         of their 95% interval relative to the truth (the error to expect). Domain set: the \
         released domains (those over τ), then the {TOP_DOMAINS} most mentioned domains alone.\n"
    );
    let mut header = "| metric | schema ε |".to_string();
    let mut rule = "|---|---|".to_string();
    for f in SWEEP {
        header.push_str(&format!(" ε × {f} |"));
        rule.push_str("---|");
    }
    println!("{header}\n{rule}");
    for (m, metric) in world.metrics.iter().enumerate() {
        let mut row = format!("| {} | {} |", metric.id, metric.release.epsilon());
        for s in 0..SWEEP.len() {
            let cells: Vec<Cell> = results[m][s]
                .iter()
                .flat_map(|o| o.cells.iter().copied())
                .collect();
            let st = stats(&cells);
            if metric.kind.has_open_cells() {
                let o = &results[m][s][0];
                let top: Vec<Cell> = cells.iter().copied().filter(|c| c.top).collect();
                let tst = stats(&top);
                row.push_str(&format!(
                    " {} (±{}), {} of {} domains over τ = {:.0}; top {TOP_DOMAINS}: {} \
                     released, {} (±{}) |",
                    pct(st.median),
                    pct(st.half),
                    o.cells.len(),
                    o.true_values,
                    taus[m][s].unwrap_or(f64::NAN),
                    top.len() / results[m][s].len(),
                    pct(tst.median),
                    pct(tst.half),
                ));
            } else {
                row.push_str(&format!(" {} (±{}) |", pct(st.median), pct(st.half)));
            }
        }
        println!("{row}");
    }

    println!("\n### Grouped by day and every dimension of the metric, at the schema's ε\n");
    println!(
        "| metric | dimensions | released cells | median rel. error | p90 | weighted | \
         ci95 covers truth | suppressed (< k) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (m, metric) in world.metrics.iter().enumerate() {
        let o = &grouped_results[m];
        let st = stats(&o.cells);
        let supp = if metric.kind.has_open_cells() {
            format!(
                "{} of {} (day, platform, domain) released, {} of mentions",
                o.cells.len(),
                o.true_values,
                pct(o.released_mentions / o.true_mentions)
            )
        } else {
            format!(
                "{} of {} ({})",
                o.suppressed,
                o.suppressed + o.cells.len() as u64,
                pct(o.suppressed as f64 / (o.suppressed + o.cells.len() as u64).max(1) as f64)
            )
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            metric.id,
            metric.dimensions.join(" × "),
            st.n,
            pct(st.median),
            pct(st.p90),
            pct(st.weighted),
            pct(st.coverage),
            supp
        );
    }

    println!("\n### Contribution bounds (not noise): volume the devices' clamping removed\n");
    println!("| metric | max_per_report | recorded | reported | removed |");
    println!("|---|---|---|---|---|");
    for (m, metric) in world.metrics.iter().enumerate() {
        let (raw, clamped) = volume[m];
        // One answer per report: nothing to clamp.
        if metric.kind.choices().is_some() {
            continue;
        }
        println!(
            "| {} | {} | {raw} | {clamped} | {} |",
            metric.id,
            metric.max_per_report,
            pct(1.0 - clamped as f64 / raw.max(1) as f64)
        );
    }
}

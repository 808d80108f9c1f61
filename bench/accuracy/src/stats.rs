//! Released cells against their truth, and the statistics of the tables.

/// One released cell against its truth.
#[derive(Clone, Copy)]
pub(crate) struct Cell {
    pub(crate) truth: f64,
    pub(crate) value: f64,
    pub(crate) low: f64,
    pub(crate) high: f64,
    /// A domain among the [`crate::TOP_DOMAINS`] most mentioned (whole range).
    pub(crate) top: bool,
}

/// One answer compared with the truth.
#[derive(Default)]
pub(crate) struct Outcome {
    pub(crate) cells: Vec<Cell>,
    pub(crate) suppressed: u64,
    /// Domain sets: distinct true domains (group × domain) and their
    /// mentions, and how many of each were released.
    pub(crate) true_values: u64,
    pub(crate) true_mentions: f64,
    pub(crate) released_mentions: f64,
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}

/// Errors of a set of released cells.
pub(crate) struct Stats {
    pub(crate) n: usize,
    pub(crate) median: f64,
    pub(crate) p90: f64,
    pub(crate) weighted: f64,
    pub(crate) coverage: f64,
    /// Median of the 95% interval's half-width relative to the truth.
    pub(crate) half: f64,
}

pub(crate) fn stats(cells: &[Cell]) -> Stats {
    let mut rel: Vec<f64> = cells
        .iter()
        .filter(|c| c.truth > 0.0)
        .map(|c| (c.value - c.truth).abs() / c.truth)
        .collect();
    rel.sort_by(f64::total_cmp);
    let abs: f64 = cells.iter().map(|c| (c.value - c.truth).abs()).sum();
    let total: f64 = cells.iter().map(|c| c.truth).sum();
    let covered = cells
        .iter()
        .filter(|c| c.low <= c.truth && c.truth <= c.high)
        .count();
    let mut half: Vec<f64> = cells
        .iter()
        .filter(|c| c.truth > 0.0)
        .map(|c| (c.high - c.low) / 2.0 / c.truth)
        .collect();
    half.sort_by(f64::total_cmp);
    Stats {
        half: percentile(&half, 0.5),
        n: cells.len(),
        median: percentile(&rel, 0.5),
        p90: percentile(&rel, 0.9),
        weighted: abs / total,
        coverage: covered as f64 / cells.len().max(1) as f64,
    }
}

/// A share as a percentage with sensible digits; `—` for none.
pub(crate) fn pct(x: f64) -> String {
    if x.is_nan() {
        "—".into()
    } else if x == 0.0 {
        "0".into()
    } else if x < 0.0001 {
        format!("{:.4}%", x * 100.0)
    } else if x < 0.001 {
        format!("{:.3}%", x * 100.0)
    } else if x < 0.1 {
        format!("{:.2}%", x * 100.0)
    } else {
        format!("{:.1}%", x * 100.0)
    }
}

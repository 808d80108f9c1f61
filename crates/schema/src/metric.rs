//! A metric's type ([`MetricKind`], defined here) and what it means to the
//! rest of Candor: its TOML name, the
//! cells its reports add to, how much one report may add, its buckets.
//!
//! This is the one place outside parsing and the privacy page that matches
//! on [`MetricKind`] to answer those questions. The SDK, the collector's
//! validation and release engine, the simulator, the benches and the
//! accuracy study ask these methods instead of matching themselves, so a
//! new metric type is taught here once (value-level questions, such as
//! whether a value is acceptable and how to clamp it, live in
//! `candor-values`).

use serde::Serialize;

use crate::model::Metric;

/// The type of a metric, with its type-specific parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum MetricKind {
    /// A count (`max_per_report` bounds it per report).
    Counter,
    /// One count per label from a closed set (`max_per_report` bounds the
    /// total over all labels).
    LabeledCounter {
        /// The allowed labels, in TOML order, at most [`limits::MAX_SET_SIZE`](crate::limits::MAX_SET_SIZE).
        labels: Vec<String>,
    },
    /// Yes or no.
    Boolean,
    /// One value from a closed set.
    Category {
        /// The allowed categories, in TOML order, at most
        /// [`limits::MAX_SET_SIZE`](crate::limits::MAX_SET_SIZE).
        categories: Vec<String>,
    },
    /// A histogram over fixed buckets.
    ///
    /// `buckets` holds n strictly increasing upper bounds, which define n + 1
    /// buckets: bucket 0 holds values `v <= buckets[0]`, bucket i (for
    /// 0 < i < n) holds `buckets[i-1] < v <= buckets[i]`, and the last bucket,
    /// n, is open-ended and holds `v > buckets[n-1]`.
    Distribution {
        /// The bucket upper bounds (inclusive), strictly increasing, at most
        /// [`limits::MAX_BUCKET_BOUNDS`](crate::limits::MAX_BUCKET_BOUNDS).
        buckets: Vec<u64>,
    },
    /// A set of registrable domains (an open set), at most `max_per_report`
    /// per report.
    DomainSet,
    /// That the device was in use on a day, with the flags its on-device
    /// memory derives (first active day of the ISO week, of the month,
    /// since install) and its install cohort: what active devices and
    /// retention are released from, without any identifier.
    ///
    /// Its cells ([`ACTIVITY_CELLS`], then one per cohort age): `today`
    /// (every report), `week`, `month`, `new` (the flags), and for a report
    /// that is the first of its week, `w<k>` (installed k weeks before the
    /// report's week, k = 0..=`cohort_weeks`) or `older`.
    Activity {
        /// The install cohorts kept apart: installs more than this many
        /// weeks before a report's week are sent as one value, `older`
        /// (1..=[`limits::MAX_COHORT_WEEKS`](crate::limits::MAX_COHORT_WEEKS)).
        cohort_weeks: u8,
    },
}

/// The cells of an activity metric before its cohort cells, in order: active
/// that day, first active day of the ISO week, of the calendar month, since
/// install.
pub const ACTIVITY_CELLS: [&str; 4] = ["today", "week", "month", "new"];

/// The cohort cell of an activity report whose install week lies beyond the
/// metric's `cohort_weeks`.
pub const ACTIVITY_OLDER_CELL: &str = "older";

/// The most cells one activity report adds to: its four flags and one
/// cohort cell, each by one.
const ACTIVITY_MAX_CELLS: u64 = ACTIVITY_CELLS.len() as u64 + 1;

/// The name of the cohort cell of a first-in-week activity report whose
/// install week is `age` weeks before its own (`None` beyond the horizon:
/// [`ACTIVITY_OLDER_CELL`]).
pub fn activity_cohort_cell(age: Option<u8>) -> String {
    match age {
        Some(k) => format!("w{k}"),
        None => ACTIVITY_OLDER_CELL.to_owned(),
    }
}

/// The cell names of a boolean, as the collector keys its rows: index 0 is
/// `false`, index 1 is `true`.
const BOOLEAN_CELLS: [&str; 2] = ["false", "true"];

impl MetricKind {
    /// The TOML `type` string, for example `labeled_counter`.
    pub fn type_name(&self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::LabeledCounter { .. } => "labeled_counter",
            MetricKind::Boolean => "boolean",
            MetricKind::Category { .. } => "category",
            MetricKind::Distribution { .. } => "distribution",
            MetricKind::DomainSet => "domain_set",
            MetricKind::Activity { .. } => "activity",
        }
    }

    /// Every cell a report of this type can add to, in schema order and
    /// named as the collector keys its rows: `""` (the one unnamed cell of
    /// a counter), the labels, the categories, `false`/`true`, or the
    /// bucket indices `0..=n` of a distribution. `None` for a type whose
    /// cells are an open set (a domain set: any registrable domain).
    pub fn cells(&self) -> Option<Vec<String>> {
        match self {
            MetricKind::Counter => Some(vec![String::new()]),
            _ => self.named_cells(),
        }
    }

    /// The closed set of *named* cells (labels, categories, `false`/`true`,
    /// bucket indices), in schema order: what a release reports one value
    /// per cell for, with totals and shares over them. `None` for a counter
    /// (one unnamed cell) and for an open set.
    pub fn named_cells(&self) -> Option<Vec<String>> {
        match self {
            MetricKind::LabeledCounter { labels } => Some(labels.clone()),
            MetricKind::Category { categories } => Some(categories.clone()),
            MetricKind::Boolean => Some(BOOLEAN_CELLS.iter().map(|c| (*c).to_owned()).collect()),
            MetricKind::Distribution { buckets } => {
                Some((0..=buckets.len()).map(|i| i.to_string()).collect())
            }
            MetricKind::Activity { cohort_weeks } => Some(
                (0..self.activity_cells_len(*cohort_weeks))
                    .filter_map(|i| self.cell_name(i))
                    .collect(),
            ),
            _ => None,
        }
    }

    /// How many cells an activity metric with this horizon has.
    fn activity_cells_len(&self, cohort_weeks: u8) -> usize {
        ACTIVITY_CELLS.len() + usize::from(cohort_weeks) + 2
    }

    /// The name of cell `index` of [`MetricKind::cells`], without building
    /// the list; `None` past its end and for an open set.
    pub fn cell_name(&self, index: usize) -> Option<String> {
        match self {
            MetricKind::Counter => (index == 0).then(String::new),
            MetricKind::LabeledCounter { labels } => labels.get(index).cloned(),
            MetricKind::Category { categories } => categories.get(index).cloned(),
            MetricKind::Boolean => BOOLEAN_CELLS.get(index).map(|c| (*c).to_owned()),
            MetricKind::Distribution { buckets } => {
                (index <= buckets.len()).then(|| index.to_string())
            }
            MetricKind::Activity { cohort_weeks } => {
                let flags = ACTIVITY_CELLS.len();
                match index.checked_sub(flags) {
                    None => Some(ACTIVITY_CELLS[index].to_owned()),
                    Some(age) if age <= usize::from(*cohort_weeks) => {
                        Some(activity_cohort_cell(u8::try_from(age).ok()))
                    }
                    Some(age) if age == usize::from(*cohort_weeks) + 1 => {
                        Some(ACTIVITY_OLDER_CELL.to_owned())
                    }
                    Some(_) => None,
                }
            }
            _ => None,
        }
    }

    /// Whether the cells are an open set (a domain set): a cell exists only
    /// because some report named it, so releasing one is a selection from
    /// an open set (a noisy threshold, with δ).
    pub fn has_open_cells(&self) -> bool {
        matches!(self, MetricKind::DomainSet)
    }

    /// For a type whose report carries exactly one value of a closed set
    /// (boolean, category), how many values there are; `None` otherwise.
    /// Values are numbered as [`MetricKind::cells`] lists them (`false` = 0,
    /// `true` = 1, a category by its position): local differential privacy
    /// randomizes that index, and it is only declared for these types.
    pub fn choices(&self) -> Option<usize> {
        match self {
            MetricKind::Boolean => Some(BOOLEAN_CELLS.len()),
            MetricKind::Category { categories } => Some(categories.len()),
            _ => None,
        }
    }

    /// The closed set of a labeled counter (labels) or category metric
    /// (categories); `None` for other types.
    pub fn closed_set(&self) -> Option<&[String]> {
        match self {
            MetricKind::LabeledCounter { labels } => Some(labels),
            MetricKind::Category { categories } => Some(categories),
            _ => None,
        }
    }

    /// An activity metric's cohort horizon in weeks; `None` for other types.
    pub fn cohort_weeks(&self) -> Option<u8> {
        match self {
            MetricKind::Activity { cohort_weeks } => Some(*cohort_weeks),
            _ => None,
        }
    }

    /// A distribution's bucket upper bounds (see
    /// [`MetricKind::Distribution`]); `None` for other types.
    pub fn buckets(&self) -> Option<&[u64]> {
        match self {
            MetricKind::Distribution { buckets } => Some(buckets),
            _ => None,
        }
    }

    /// For a distribution, the range of the bucket a cell names, for people:
    /// `≤ 10`, `10–50`, `> 100`. `None` for other types.
    pub fn bucket_label(&self, cell: &str) -> Option<String> {
        let buckets = self.buckets()?;
        let index = cell.parse::<usize>().unwrap_or(usize::MAX);
        Some(
            match (
                index.checked_sub(1).and_then(|i| buckets.get(i)),
                buckets.get(index),
            ) {
                (None, Some(hi)) => format!("≤ {hi}"),
                (Some(lo), Some(hi)) => format!("{lo}–{hi}"),
                (Some(lo), None) => format!("> {lo}"),
                (None, None) => index.to_string(),
            },
        )
    }
}

impl Metric {
    /// The TOML `type` string, for example `labeled_counter`.
    pub fn type_name(&self) -> &'static str {
        self.kind.type_name()
    }

    /// The closed set of a labeled counter (labels) or category metric
    /// (categories); `None` for other types.
    pub fn closed_set(&self) -> Option<&[String]> {
        self.kind.closed_set()
    }

    /// For a distribution, the index of the bucket `value` falls into
    /// (see [`MetricKind::Distribution`]); `None` for other types.
    pub fn bucket_index(&self, value: u64) -> Option<usize> {
        self.kind
            .buckets()
            .map(|buckets| buckets.partition_point(|&b| b < value))
    }

    /// The most one report may carry, as the SDK clamps it and validation
    /// checks it: a counter's count, the total of a labeled counter or a
    /// distribution, the number of domains of a domain set
    /// (`max_per_report`); 1 for a boolean or category (one value).
    /// An activity report adds one to each of at most
    /// five cells (its four flags and one cohort cell).
    pub fn per_report_bound(&self) -> u64 {
        match (&self.kind, self.kind.choices()) {
            (_, Some(_)) => 1,
            (MetricKind::Activity { .. }, None) => ACTIVITY_MAX_CELLS,
            (_, None) => self.max_per_report,
        }
    }

    /// Δ, the contribution bound of releases: the most one report adds to
    /// one group's cells, in L1. [`Metric::per_report_bound`], at least 1 so
    /// that noise is never scaled to zero.
    pub fn contribution_bound(&self) -> u64 {
        self.per_report_bound().max(1)
    }

    /// Δ of a release of only `cells` (all of them when empty): the most one
    /// report adds to those cells of one group, in L1. For an activity
    /// metric a report adds at most one to each flag cell and to one
    /// cohort cell, so Δ is the number of flag cells released plus one if
    /// any cohort cell is (a weekly total alone, or a week's retention
    /// column alone, has Δ = 1); every other type keeps
    /// [`Metric::contribution_bound`], whatever the cells.
    pub fn contribution_bound_over(&self, cells: &[String]) -> u64 {
        if self.kind.cohort_weeks().is_none() || cells.is_empty() {
            return self.contribution_bound();
        }
        let mut flags: Vec<&str> = ACTIVITY_CELLS
            .iter()
            .copied()
            .filter(|f| cells.iter().any(|c| c == f))
            .collect();
        flags.dedup();
        let cohorts = cells.iter().any(|c| !ACTIVITY_CELLS.contains(&c.as_str()));
        (flags.len() as u64 + u64::from(cohorts)).clamp(1, ACTIVITY_MAX_CELLS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_and_names_agree() {
        let kinds = [
            MetricKind::Counter,
            MetricKind::LabeledCounter {
                labels: vec!["a".into(), "b".into()],
            },
            MetricKind::Boolean,
            MetricKind::Category {
                categories: vec!["x".into(), "y".into(), "z".into()],
            },
            MetricKind::Distribution {
                buckets: vec![10, 50],
            },
            MetricKind::Activity { cohort_weeks: 2 },
        ];
        for kind in kinds {
            let cells = kind.cells().expect("a closed type");
            for (i, c) in cells.iter().enumerate() {
                assert_eq!(kind.cell_name(i).as_ref(), Some(c), "{kind:?}");
            }
            assert_eq!(kind.cell_name(cells.len()), None, "{kind:?}");
            assert!(!kind.has_open_cells());
        }
        assert_eq!(MetricKind::DomainSet.cells(), None);
        assert!(MetricKind::DomainSet.has_open_cells());
        assert_eq!(MetricKind::Counter.named_cells(), None);
        assert_eq!(
            MetricKind::Activity { cohort_weeks: 2 }.cells(),
            Some(
                ["today", "week", "month", "new", "w0", "w1", "w2", "older"]
                    .map(String::from)
                    .to_vec()
            )
        );
    }

    #[test]
    fn an_activity_release_is_bounded_by_the_cells_it_releases() {
        let metric = Metric {
            id: "app.active".into(),
            kind: MetricKind::Activity { cohort_weeks: 2 },
            purpose: "usage".into(),
            description: "Use.".into(),
            owner: "o@example.org".into(),
            expires: None,
            max_per_report: 1,
            dimensions: Vec::new(),
            release: crate::model::Release::CentralDp {
                epsilon: 0.2,
                delta: None,
            },
        };
        let over = |cells: &[&str]| {
            let cells: Vec<String> = cells.iter().map(|c| (*c).to_owned()).collect();
            metric.contribution_bound_over(&cells)
        };
        assert_eq!(over(&[]), 5);
        assert_eq!(over(&["week"]), 1);
        assert_eq!(over(&["w0", "w1", "w2", "older"]), 1);
        assert_eq!(over(&["today", "new"]), 2);
        assert_eq!(over(&["today", "week", "month", "new", "w1", "older"]), 5);
    }

    #[test]
    fn bucket_labels() {
        let kind = MetricKind::Distribution {
            buckets: vec![10, 50],
        };
        let labels: Vec<String> = ["0", "1", "2"]
            .iter()
            .filter_map(|c| kind.bucket_label(c))
            .collect();
        assert_eq!(labels, ["≤ 10", "10–50", "> 50"]);
        assert_eq!(MetricKind::Counter.bucket_label("0"), None);
    }
}

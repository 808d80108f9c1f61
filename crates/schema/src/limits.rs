//! The limits the validator enforces, in one place.
//!
//! They are deliberately tight: a data dictionary describes a small number of
//! coarse, closed-set measurements, and every limit below either keeps the
//! number of aggregate cells (and therefore the chance of a tiny, identifying
//! group) small, or catches a typo that would silently weaken the privacy
//! guarantees. Raising one is a privacy decision, not a convenience.

/// Most labels a `labeled_counter` may declare, categories a `category` may
/// declare, or values a closed-set dimension may declare (inclusive).
///
/// Every label multiplies the number of released cells; beyond a few dozen a
/// closed set is usually an open set in disguise.
pub const MAX_SET_SIZE: usize = 64;

/// Most bucket bounds a `distribution` may declare (inclusive); it then has
/// one more bucket than bounds.
pub const MAX_BUCKET_BOUNDS: usize = 64;

/// Most install cohorts an `activity` metric may keep apart
/// (`cohort_weeks`, inclusive): a year of weekly cohorts. Every cohort is a
/// retention row, and an old, narrow cohort is a small group.
pub const MAX_COHORT_WEEKS: u8 = 52;

/// Longest label, category or dimension value, in bytes.
pub const MAX_LABEL_LEN: usize = 64;

/// Longest metric id (`area.name`), in bytes.
pub const MAX_METRIC_ID_LEN: usize = 64;

/// Longest purpose or dimension id, in bytes (`[a-z][a-z0-9_]{0,31}`).
pub const MAX_PURPOSE_ID_LEN: usize = 32;

/// Longest region id, in bytes (`[a-z][a-z0-9-]{0,15}`).
pub const MAX_REGION_ID_LEN: usize = 16;

/// Longest schema id, in bytes.
pub const MAX_SCHEMA_ID_LEN: usize = 128;

/// Largest ε accepted anywhere (release parameters and regional budgets).
///
/// At ε = 10 a randomized-response answer is truthful with odds e¹⁰ ≈ 22 000
/// to one; above that the guarantee is meaningless and the value is almost
/// certainly a typo (for example `epsilon = 50` meant as `0.5`).
pub const MAX_EPSILON: f64 = 10.0;

/// Largest δ accepted for central DP (inclusive). δ is the probability that
/// the ε guarantee does not hold; it must be far below one over the number of
/// contributors, so anything above 10⁻³ is rejected.
pub const MAX_DELTA: f64 = 1e-3;

/// Longest report window a region may declare, in days after the day ends.
/// A day is released only once its window has passed, so a long window
/// delays every statistic by as much.
pub const MAX_REPORT_WINDOW_DAYS: u32 = 30;

/// The report window of a region that does not declare one, in days after
/// the day ends (`report_window_days`). Measured with the fleet simulator's
/// usage model (BENCHMARKS.md, "Report arrival"): with 3 days, 0.2 % of a
/// day's reports arrive too late when devices are always online, 1.9 % when
/// they are offline on 5 % of days (2-day spells), 3.5 % at 10 %; 7 days
/// would lose 0.0 %, 0.15 % and 0.3 % but delay every release by four more
/// days. Regions whose devices are often offline should declare more.
pub const DEFAULT_REPORT_WINDOW_DAYS: u32 = 3;

/// Smallest allowed k (minimum number of distinct contributors for a released
/// group). A group of one is a single person.
pub const MIN_K: u32 = 2;

/// Longest retention a region may declare, in days (about ten years).
pub const MAX_RETENTION_DAYS: u32 = 3650;

/// Largest per-report contribution bound (`max_per_report`) for counters,
/// labeled counters and distributions. Noise grows with the bound, so a huge
/// bound makes every released number useless.
pub const MAX_CONTRIBUTION_BOUND: u64 = 1_000_000;

/// Largest `max_per_report` for a `domain_set` (distinct domains per report).
pub const MAX_DOMAINS_PER_REPORT: u64 = 100;

/// A label, category or dimension value containing a run of this many ASCII
/// digits or more is rejected as possible personal data (account, card or
/// phone numbers, timestamps).
pub const PERSONAL_DATA_DIGIT_RUN: usize = 6;

/// A label made only of digits and phone punctuation (`+ - . ( )` and spaces)
/// with at least this many digits is rejected as a phone number.
pub const PHONE_MIN_DIGITS: usize = 7;

/// Most digits in one component of a coarse version (`121.3`, `14`), so that
/// every component fits a `u32` and a value stays short.
pub const MAX_VERSION_COMPONENT_DIGITS: usize = 9;

/// Most syntax errors reported for one file; one more diagnostic then says
/// that more follow. After a few syntax errors the parser is guessing, and a
/// file that is not TOML at all would otherwise yield one error per line.
pub const MAX_SYNTAX_ERRORS: usize = 10;

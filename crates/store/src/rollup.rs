//! Roll-ups: a series' rows summed over aligned spans of sealed days, so
//! that a release over a year reads a few dozen packed values per series
//! instead of every day's rows. Backend-neutral: the spans, the cover of a
//! day range, and the packed encoding every backend stores.
//!
//! # Spans
//!
//! A [`Span`] of level `k` holds the days `[j·2ᵏ, (j+1)·2ᵏ)` for an integer
//! `j` (day numbers, so spans never move), `k` from 0 (one day) to
//! [`MAX_LEVEL`]. Any range of days is covered by at most two spans of each
//! level ([`cover`]): a year by about a dozen. A level-0 span is one day's
//! rows of a series in one value, which makes a by-day release read one
//! value per series and day instead of one row per cell.
//!
//! # What a roll-up holds, and why releases stay exact
//!
//! For one series (schema, purpose, consent version, metric, dimensions)
//! and one span: every cell present in the span's day rows, with its `sum`
//! and `contributors` added over the span's days (cells whose rows sum to
//! zero stay present, as they would in the rows), and the
//! [`REPORTS_CELL`](crate::REPORTS_CELL) row of **each day** apart, since a
//! release takes the largest daily report count of a group, which sums
//! over days cannot give. Sums of non-negative values are added saturating,
//! as the release engine adds rows, so the order of additions never changes
//! a total. A roll-up is therefore exactly what summing the day rows gives;
//! [`crate::Store::visit_spans`] lends it in place of those rows.
//!
//! A span is rolled up only once all its days are **sealed**: the caller
//! of [`crate::Store::roll_up`] promises that no report for them is
//! accepted any more (the collector's day window refuses them, as it does
//! for [`crate::Store::prune_seen`]), so the rows can no longer change but
//! through retention, which drops every roll-up starting before its cutoff
//! together with the rows.
//!
//! # The packed form (version 1)
//!
//! ```text
//! u8      version (1)
//! varint  n, the span's days (2^level)
//! n ×     varint: the day's report-count row's sum + 1, then, when that is
//!         not 0 (0: no such row), varint contributors
//! varint  m, the cells (the report-count cell excluded)
//! m ×     varint length, UTF-8 bytes of the cell, varint sum, varint
//!         contributors — in byte order of the cell, each cell once
//! ```
//!
//! Varints are unsigned LEB128 of the `i64` (all values are ≥ 0).

use std::collections::HashMap;

use crate::{DayNumber, REPORTS_CELL, RowFilter, RowView, SpanView, Store, StoreError};

/// The highest level: spans of 256 days (a query covers at most 400 days,
/// so a span of 512 could never lie wholly inside one).
pub const MAX_LEVEL: u8 = 8;

/// The encoding's version byte.
const VERSION: u8 = 1;

/// An aligned span of days: level `k` starts at a multiple of `2ᵏ`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    /// `log2` of the number of days, 0..=[`MAX_LEVEL`].
    pub level: u8,
    /// The first day, a multiple of `2^level`.
    pub start: DayNumber,
}

impl Span {
    /// The number of days.
    #[must_use]
    pub fn days(self) -> i32 {
        1 << self.level
    }

    /// The last day (inclusive).
    #[must_use]
    pub fn last(self) -> DayNumber {
        self.start + (self.days() - 1)
    }

    /// The span of `level` starting at `day`, if `day` is aligned for it.
    #[must_use]
    pub fn at(level: u8, day: DayNumber) -> Option<Span> {
        (level <= MAX_LEVEL && day.rem_euclid(1 << level) == 0)
            .then_some(Span { level, start: day })
    }

    /// The two halves of a span of level ≥ 1.
    #[must_use]
    pub fn children(self) -> Option<[Span; 2]> {
        let level = self.level.checked_sub(1)?;
        Some([
            Span {
                level,
                start: self.start,
            },
            Span {
                level,
                start: self.start + (1 << level),
            },
        ])
    }
}

/// Every span with all its days in `first..=last`, bottom level first,
/// each level in day order: what [`crate::Store::roll_up`] builds.
#[must_use]
pub fn spans_within(first: DayNumber, last: DayNumber) -> Vec<Span> {
    let mut out = Vec::new();
    for level in 0..=MAX_LEVEL {
        let len = 1i32 << level;
        // The first aligned start at or after `first`.
        let mut start = first + (len - first.rem_euclid(len)) % len;
        while start <= last && last - start >= len - 1 {
            out.push(Span { level, start });
            start += len;
        }
    }
    out
}

/// How [`cover`] splits a day range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cover {
    /// Rolled-up spans to read.
    pub spans: Vec<Span>,
    /// Runs of days (first, last) with no roll-up, to read from the rows.
    pub rows: Vec<(DayNumber, DayNumber)>,
}

/// Splits `from..=to` into the fewest rolled-up spans `built` says exist,
/// taking at each day the largest aligned one that fits (at most two of a
/// level when all exist), and runs of days left to the rows. With
/// `per_day`, only one-day spans are used (a by-day release needs each
/// day apart).
pub fn cover(from: DayNumber, to: DayNumber, per_day: bool, built: impl Fn(Span) -> bool) -> Cover {
    let mut out = Cover::default();
    let top = if per_day { 0 } else { MAX_LEVEL };
    let mut day = from;
    while day <= to {
        let found = (0..=top)
            .rev()
            .filter_map(|level| Span::at(level, day))
            .find(|s| s.last() <= to && built(*s));
        match found {
            Some(span) => {
                out.spans.push(span);
                day = span.last() + 1;
            }
            None => {
                match out.rows.last_mut() {
                    Some((_, last)) if *last + 1 == day => *last = day,
                    _ => out.rows.push((day, day)),
                }
                day += 1;
            }
        }
    }
    out
}

/// A day's report-count row as rolled up: `(sum, contributors)`.
pub type DayCount = Option<(i64, i64)>;

/// One series over one span, unpacked: per-day report counts and the
/// summed cells (owned: the form a roll-up is built in).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rollup {
    /// The report-count row of each day of the span, in day order.
    pub days: Vec<DayCount>,
    /// `(cell, sum, contributors)` in byte order of the cell.
    pub cells: Vec<(String, i64, i64)>,
}

impl Rollup {
    /// An empty roll-up of a span of `days` days.
    #[must_use]
    pub fn empty(days: usize) -> Self {
        Rollup {
            days: vec![None; days],
            cells: Vec::new(),
        }
    }

    /// The roll-up of two adjacent halves: days one after the other,
    /// cells added (saturating, as the release engine adds rows).
    #[must_use]
    pub fn merge(left: &Rollup, right: &Rollup) -> Rollup {
        let mut days = Vec::with_capacity(left.days.len() + right.days.len());
        days.extend_from_slice(&left.days);
        days.extend_from_slice(&right.days);
        let mut cells = Vec::with_capacity(left.cells.len().max(right.cells.len()));
        let (mut a, mut b) = (left.cells.iter().peekable(), right.cells.iter().peekable());
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) => match x.0.as_bytes().cmp(y.0.as_bytes()) {
                    std::cmp::Ordering::Less => a.next().cloned(),
                    std::cmp::Ordering::Greater => b.next().cloned(),
                    std::cmp::Ordering::Equal => {
                        let (x, y) = (a.next().expect("peeked"), b.next().expect("peeked"));
                        Some((
                            x.0.clone(),
                            x.1.saturating_add(y.1),
                            x.2.saturating_add(y.2),
                        ))
                    }
                },
                (Some(_), None) => a.next().cloned(),
                (None, Some(_)) => b.next().cloned(),
                (None, None) => break,
            };
            cells.extend(next);
        }
        Rollup { days, cells }
    }

    /// The packed form (see the module docs).
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            8 + self.days.len() * 2 + self.cells.iter().map(|c| c.0.len() + 6).sum::<usize>(),
        );
        out.push(VERSION);
        put(&mut out, self.days.len() as u64);
        for day in &self.days {
            match day {
                None => put(&mut out, 0),
                Some((sum, contributors)) => {
                    put(&mut out, unsigned(*sum).saturating_add(1));
                    put(&mut out, unsigned(*contributors));
                }
            }
        }
        put(&mut out, self.cells.len() as u64);
        for (cell, sum, contributors) in &self.cells {
            put(&mut out, cell.len() as u64);
            out.extend_from_slice(cell.as_bytes());
            put(&mut out, unsigned(*sum));
            put(&mut out, unsigned(*contributors));
        }
        out
    }

    /// Unpacks a stored roll-up into the owned form.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if the bytes are not a roll-up.
    pub fn decode(bytes: &[u8]) -> Result<Rollup, StoreError> {
        let mut out = Rollup::default();
        visit(bytes, &mut |entry| match entry {
            Entry::Day(_, count) => out.days.push(count),
            Entry::Cell(cell, sum, contributors) => {
                out.cells.push((cell.to_owned(), sum, contributors));
            }
        })?;
        Ok(out)
    }
}

/// A series' fields, as a backend's read lends them with each value.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) struct Series {
    pub(crate) id: i64,
    pub(crate) schema_id: String,
    pub(crate) purpose: String,
    pub(crate) consent_version: u32,
    pub(crate) metric: String,
    pub(crate) dimensions: String,
}

/// Lends one series' packed roll-up of `span` to `visit`: each day's
/// report count as a one-day row, each cell summed over the span.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn lend(
    s: &Series,
    span: Span,
    data: &[u8],
    visit: &mut dyn FnMut(&SpanView<'_>),
) -> Result<(), StoreError> {
    self::visit(data, &mut |entry| {
        let (day, last_day, cell, sum, contributors) = match entry {
            Entry::Day(_, None) => return,
            Entry::Day(offset, Some((sum, n))) => {
                let day = span.start + offset;
                (day, day, REPORTS_CELL, sum, n)
            }
            Entry::Cell(cell, sum, n) => (span.start, span.last(), cell, sum, n),
        };
        visit(&SpanView {
            row: RowView {
                schema_id: &s.schema_id,
                day,
                purpose: &s.purpose,
                consent_version: s.consent_version,
                metric: &s.metric,
                dimensions: &s.dimensions,
                cell,
                sum,
                contributors,
            },
            last_day,
        });
    })
}

/// The rows of `filter` as one-day spans: [`Store::visit_spans`] without
/// roll-ups.
pub(crate) fn rows_as_spans<S: Store + ?Sized>(
    store: &S,
    filter: &RowFilter,
    visit: &mut dyn FnMut(&SpanView<'_>),
) -> Result<(), StoreError> {
    store.visit_rows(filter, &mut |row| {
        visit(&SpanView {
            row: *row,
            last_day: row.day,
        });
    })
}

/// A backend's [`Store::visit_spans`] up to its roll-ups: covers
/// `from..=to` with the spans `done` says exist ([`cover`]), visits the
/// rows of the days left between them, and returns the spans for the
/// backend to read.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn rows_between<S: Store + ?Sized>(
    store: &S,
    filter: &RowFilter,
    (from, to): (DayNumber, DayNumber),
    per_day: bool,
    done: impl Fn(Span) -> bool,
    visit: &mut dyn FnMut(&SpanView<'_>),
) -> Result<Vec<Span>, StoreError> {
    let cover = cover(from, to, per_day, done);
    for &(first, last) in &cover.rows {
        let days = RowFilter {
            from_day: Some(first),
            to_day: Some(last),
            ..filter.clone()
        };
        rows_as_spans(store, &days, visit)?;
    }
    Ok(cover.spans)
}

/// Adds one stored row of a day to the roll-ups being built from the
/// day's rows, which come ordered by series, then cell in byte order.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn push_row(
    out: &mut Vec<(i64, Rollup)>,
    series: i64,
    cell: String,
    sum: i64,
    contributors: i64,
) {
    if out.last().is_none_or(|(s, _)| *s != series) {
        out.push((series, Rollup::empty(1)));
    }
    let (_, r) = out.last_mut().expect("pushed above");
    if cell == REPORTS_CELL {
        r.days[0] = Some((sum, contributors));
    } else {
        r.cells.push((cell, sum, contributors));
    }
}

/// The roll-ups of a span from those of its halves (`half` days each), by
/// series; a series absent from a half had no rows there.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn merge_halves(
    left: &HashMap<i64, Rollup>,
    right: &HashMap<i64, Rollup>,
    half: usize,
) -> Vec<(i64, Rollup)> {
    let mut ids: Vec<i64> = left.keys().chain(right.keys()).copied().collect();
    ids.sort_unstable();
    ids.dedup();
    let empty = Rollup::empty(half);
    ids.into_iter()
        .map(|id| {
            let merged = Rollup::merge(
                left.get(&id).unwrap_or(&empty),
                right.get(&id).unwrap_or(&empty),
            );
            (id, merged)
        })
        .collect()
}

/// One item of a packed roll-up, as [`visit`] lends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry<'a> {
    /// The report-count row of the span's day at this offset.
    Day(i32, DayCount),
    /// A cell summed over the span.
    Cell(&'a str, i64, i64),
}

/// Reads a packed roll-up without allocating: every day's report count
/// (in day order, by offset into the span), then every cell.
///
/// # Errors
/// [`StoreError::Backend`] if the bytes are not a roll-up (truncated, of
/// another version, a cell that is not UTF-8, a value past `i64`).
pub fn visit<'a>(bytes: &'a [u8], f: &mut dyn FnMut(Entry<'a>)) -> Result<(), StoreError> {
    let mut r = Reader { bytes, at: 0 };
    if r.byte()? != VERSION {
        return Err(corrupt("unknown version"));
    }
    let days = r.count()?;
    for offset in 0..days {
        let first = r.varint()?;
        let count = match first.checked_sub(1) {
            None => None,
            Some(sum) => Some((
                i64::try_from(sum).map_err(|_| corrupt("a value is past i64"))?,
                r.value()?,
            )),
        };
        f(Entry::Day(offset as i32, count));
    }
    let cells = r.count()?;
    for _ in 0..cells {
        let len = r.count()?;
        let raw = r.take(len)?;
        let cell = std::str::from_utf8(raw).map_err(|_| corrupt("a cell is not UTF-8"))?;
        let (sum, contributors) = (r.value()?, r.value()?);
        f(Entry::Cell(cell, sum, contributors));
    }
    if r.at != bytes.len() {
        return Err(corrupt("trailing bytes"));
    }
    Ok(())
}

/// Stored values are ≥ 0 ([`crate::validate_batch`]); a negative one
/// (impossible) would encode as 0 rather than wrap.
fn unsigned(v: i64) -> u64 {
    v.max(0).unsigned_abs()
}

fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Backend(format!("a stored roll-up is corrupt: {what}"))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, StoreError> {
        let b = *self
            .bytes
            .get(self.at)
            .ok_or_else(|| corrupt("truncated"))?;
        self.at += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, StoreError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(corrupt("a varint is too long"))
    }

    fn value(&mut self) -> Result<i64, StoreError> {
        i64::try_from(self.varint()?).map_err(|_| corrupt("a value is past i64"))
    }

    /// A length or count: never more than the bytes left, so a corrupt
    /// count cannot make a reader allocate or loop for long.
    fn count(&mut self) -> Result<usize, StoreError> {
        let n = self.varint()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.bytes.len() - self.at)
            .ok_or_else(|| corrupt("a count is past the end"))
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], StoreError> {
        let raw = self
            .bytes
            .get(self.at..self.at + len)
            .ok_or_else(|| corrupt("truncated"))?;
        self.at += len;
        Ok(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_aligned_and_halve() {
        assert_eq!(Span::at(3, 16).map(Span::last), Some(23));
        assert_eq!(Span::at(3, 12), None);
        assert_eq!(Span::at(MAX_LEVEL + 1, 0), None);
        // Negative days (before 1970) align the same way.
        assert_eq!(Span::at(2, -8).map(Span::last), Some(-5));
        let [a, b] = Span::at(2, 8).unwrap().children().unwrap();
        assert_eq!((a.start, a.last(), b.start, b.last()), (8, 9, 10, 11));
        assert_eq!(Span::at(0, 5).unwrap().children(), None);
    }

    #[test]
    fn spans_within_lie_inside_the_range() {
        let spans = spans_within(5, 20);
        assert!(spans.iter().all(|s| s.start >= 5 && s.last() <= 20));
        // 16 one-day, 7 two-day (6..=19), 3 four-day (8..=19), 1 eight-day.
        let per_level: Vec<usize> = (0..=MAX_LEVEL)
            .map(|l| spans.iter().filter(|s| s.level == l).count())
            .collect();
        assert_eq!(per_level, [16, 7, 3, 1, 0, 0, 0, 0, 0]);
        assert!(spans_within(5, 4).is_empty());
    }

    #[test]
    fn cover_uses_the_largest_spans_and_falls_back_to_rows() {
        let all = cover(20_000, 20_364, false, |_| true);
        assert!(all.rows.is_empty());
        let days: i32 = all.spans.iter().map(|s| s.days()).sum();
        assert_eq!(days, 365);
        assert!(
            all.spans.len() <= 2 * (usize::from(MAX_LEVEL) + 1),
            "{all:?}"
        );
        // Contiguous, in order.
        for w in all.spans.windows(2) {
            assert_eq!(w[0].last() + 1, w[1].start);
        }
        // Nothing built: one run of rows.
        let none = cover(3, 9, false, |_| false);
        assert_eq!((none.spans.len(), none.rows), (0, vec![(3, 9)]));
        // Only one-day spans of odd days: rows on the even ones.
        let odd = cover(4, 8, false, |s| s.level == 0 && s.start % 2 == 1);
        assert_eq!(odd.rows, vec![(4, 4), (6, 6), (8, 8)]);
        assert_eq!(odd.spans.len(), 2);
        // By day: one-day spans only.
        let by_day = cover(0, 15, true, |_| true);
        assert!(by_day.spans.iter().all(|s| s.level == 0));
        assert_eq!(by_day.spans.len(), 16);
    }

    fn sample(days: Vec<DayCount>, cells: &[(&str, i64, i64)]) -> Rollup {
        Rollup {
            days,
            cells: cells
                .iter()
                .map(|&(c, s, n)| (c.to_owned(), s, n))
                .collect(),
        }
    }

    #[test]
    fn encoding_round_trips() {
        let r = sample(
            vec![None, Some((0, 0)), Some((i64::MAX, 3))],
            &[("", 0, 0), ("a.example", 5, 2), ("é", i64::MAX, i64::MAX)],
        );
        assert_eq!(Rollup::decode(&r.encode()).unwrap(), r);
        let empty = Rollup::empty(4);
        assert_eq!(Rollup::decode(&empty.encode()).unwrap(), empty);
    }

    #[test]
    fn corrupt_bytes_are_an_error_not_a_panic() {
        let good = sample(vec![Some((1, 1))], &[("x", 1, 1)]).encode();
        for cut in 0..good.len() {
            assert!(Rollup::decode(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = good.clone();
        extra.push(0);
        assert!(Rollup::decode(&extra).is_err());
        let mut version = good;
        version[0] = 2;
        assert!(Rollup::decode(&version).is_err());
        assert!(Rollup::decode(&[1, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
    }

    #[test]
    fn merge_adds_cells_and_concatenates_days() {
        let left = sample(vec![Some((2, 2)), None], &[("a", 1, 1), ("c", 4, 2)]);
        let right = sample(vec![None, Some((3, 3))], &[("b", 0, 0), ("c", i64::MAX, 1)]);
        let merged = Rollup::merge(&left, &right);
        assert_eq!(
            merged,
            sample(
                vec![Some((2, 2)), None, None, Some((3, 3))],
                &[("a", 1, 1), ("b", 0, 0), ("c", i64::MAX, 3)]
            )
        );
    }
}

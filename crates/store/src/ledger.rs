//! The budget caps of a release, checked the same way by every backend.
//!
//! A backend adds each charge of a [`NewRelease`] to its ledger inside the
//! release's transaction, reads the new total back and asks
//! [`Caps::check_metric`]; once every charge is added it sums each
//! (purpose, day) the release touched over all its metrics and asks
//! [`Caps::check_purpose`]. The first refusal rolls the transaction back.
//! What makes the check safe against a concurrent spender (the write lock
//! of SQLite, an advisory lock in PostgreSQL) is the backend's business.

use std::collections::BTreeMap;

use crate::{BudgetCharge, BudgetLimits, DayNumber, NewRelease, StoreError};

/// A ledger amount (micro-ε, femto-δ) as the databases store it: `u64`
/// above `i64::MAX` saturates, which no real charge or cap comes near.
pub(crate) fn units(u: u64) -> i64 {
    i64::try_from(u).unwrap_or(i64::MAX)
}

/// What one release charges, per (purpose, day), against its caps.
pub(crate) struct Caps<'a> {
    limits: BudgetLimits,
    /// The release's own micro-ε and femto-δ per (purpose, day), and the
    /// first metric it charges there (named in an error).
    ours: BTreeMap<(&'a str, DayNumber), (i64, i64, &'a str)>,
}

impl<'a> Caps<'a> {
    /// The caps and charges of `release`.
    pub(crate) fn new(release: &'a NewRelease) -> Self {
        let mut ours: BTreeMap<(&str, DayNumber), (i64, i64, &str)> = BTreeMap::new();
        for c in &release.charges {
            let o = ours.entry((&c.purpose, c.day)).or_insert((0, 0, &c.metric));
            o.0 = o.0.saturating_add(units(c.micros));
            o.1 = o.1.saturating_add(units(c.femtos));
        }
        Self {
            limits: release.limits,
            ours,
        }
    }

    /// Checks the metric cap after `charge` was added: `spent` is its
    /// (purpose, metric, day)'s total micro-ε with it.
    ///
    /// # Errors
    /// [`StoreError::BudgetExceeded`] (`metric_epsilon`).
    pub(crate) fn check_metric(&self, charge: &BudgetCharge, spent: i64) -> Result<(), StoreError> {
        let limit = units(self.limits.metric_micros);
        if spent <= limit {
            return Ok(());
        }
        let before = spent.saturating_sub(units(charge.micros));
        Err(StoreError::BudgetExceeded {
            metric: charge.metric.clone(),
            day: charge.day,
            cap: "metric_epsilon",
            remaining: limit.saturating_sub(before).max(0) as u64,
        })
    }

    /// Each purpose the release charges, with the first and last day it
    /// charges: one grouped read per purpose covers them.
    pub(crate) fn purpose_ranges(&self) -> Vec<(&'a str, DayNumber, DayNumber)> {
        let mut ranges: BTreeMap<&str, (DayNumber, DayNumber)> = BTreeMap::new();
        for &(purpose, day) in self.ours.keys() {
            let r = ranges.entry(purpose).or_insert((day, day));
            r.0 = r.0.min(day);
            r.1 = r.1.max(day);
        }
        ranges
            .into_iter()
            .map(|(purpose, (from, to))| (purpose, from, to))
            .collect()
    }

    /// Checks the purpose caps of one (purpose, day) given its totals over
    /// every metric, this release's charges included. Days the release
    /// does not charge pass (the grouped read may return them).
    ///
    /// # Errors
    /// [`StoreError::BudgetExceeded`] (`purpose_epsilon` or `purpose_delta`).
    pub(crate) fn check_purpose(
        &self,
        purpose: &str,
        day: DayNumber,
        micros: i64,
        femtos: i64,
    ) -> Result<(), StoreError> {
        let Some(&(own_micros, own_femtos, metric)) = self.ours.get(&(purpose, day)) else {
            return Ok(());
        };
        for (cap, total, limit, own) in [
            (
                "purpose_epsilon",
                micros,
                units(self.limits.purpose_micros),
                own_micros,
            ),
            (
                "purpose_delta",
                femtos,
                units(self.limits.purpose_femtos),
                own_femtos,
            ),
        ] {
            if total > limit {
                return Err(StoreError::BudgetExceeded {
                    metric: metric.to_owned(),
                    day,
                    cap,
                    remaining: limit.saturating_sub(total.saturating_sub(own)).max(0) as u64,
                });
            }
        }
        Ok(())
    }
}

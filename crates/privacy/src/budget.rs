//! Privacy-budget accounting: a pure, in-memory ledger of the ε and δ spent
//! per `(region, purpose, metric, day)`, checked against three caps.
//!
//! # What a budget bounds
//!
//! The unit of privacy is **one device's report for one purpose and day**
//! (the neighbouring datasets differ by adding or removing one such
//! report). A release over several days reads each day's reports once, so
//! it spends its ε (and δ) on **each** day's key; releases of one day
//! compose sequentially (basic composition: ε and δ add up). A report
//! carries every metric of its purpose, so what one device's day can leak
//! through all releases is the sum over the purpose's metrics. Hence three
//! caps, all enforced together ([`Caps`]):
//!
//! - ε per (purpose, metric, day): no single metric eats the purpose's
//!   budget;
//! - ε per (purpose, day), summed over its metrics: the bound on one
//!   device-day report;
//! - δ per (purpose, day), summed over its metrics: the open-set selections'
//!   failure probabilities add up too.
//!
//! A spend is all-or-nothing: if any key would exceed any cap, nothing is
//! recorded and [`BudgetError::Exhausted`] lists every key and cap that
//! would overspend with what it has left.
//!
//! # Exact arithmetic
//!
//! ε is accounted in integer micro-units (10⁻⁶ ε) and δ in femto-units
//! (10⁻¹⁵ δ), so that repeated spends cannot drift the way summed `f64`s do
//! (ten spends of 0.1 sum to exactly 1.0 here). Conversions are
//! conservative:
//!
//! - a spend `x` is charged the smallest `k` units whose `f64` value is at
//!   least `x` (rounded **up**, never under-charged);
//! - a cap `L` allows the largest `k` units whose `f64` value is at most `L`
//!   (rounded **down**).
//!
//! Both read a value as the decimal the caller wrote: `0.1` is 100 000
//! micro-units even though the `f64` nearest 0.1 is slightly above it (the
//! same reading as [`crate::dp::DiscreteLaplace::for_epsilon`]).
//!
//! The ledger does no I/O; [`Ledger::entries`] and [`Ledger::from_entries`]
//! let the collector persist and restore it.

use std::collections::{BTreeMap, BTreeSet};

/// Micro-units per unit of ε.
pub const MICROS_PER_EPSILON: u64 = 1_000_000;

/// Femto-units per unit of δ.
pub const FEMTOS_PER_DELTA: u64 = 1_000_000_000_000_000;

/// The largest ε (per spend) or ε cap accepted, so that every micro-unit
/// total fits comfortably in `u64` (`10¹²` micro-units).
pub const MAX_EPSILON: f64 = 1_000_000.0;

/// The largest δ (per spend) or δ cap accepted: a probability.
pub const MAX_DELTA: f64 = 1.0;

/// The unit a budget is kept for: one metric of one purpose in one region on
/// one day.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BudgetKey {
    /// The region whose data is released.
    pub region: String,
    /// The purpose the data was collected for.
    pub purpose: String,
    /// The metric's name.
    pub metric: String,
    /// The day, in days since 1970-01-01 (UTC).
    pub day: i32,
}

impl BudgetKey {
    /// The (region, purpose, day) whose cap this key shares with the
    /// purpose's other metrics.
    fn purpose_day(&self) -> (&str, &str, i32) {
        (&self.region, &self.purpose, self.day)
    }
}

/// An amount of privacy loss in exact units: ε in micro-units, δ in
/// femto-units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount {
    /// ε, in micro-units (10⁻⁶ ε).
    pub micros: u64,
    /// δ, in femto-units (10⁻¹⁵ δ).
    pub femtos: u64,
}

impl Amount {
    /// The charge for a release at `(epsilon, delta)`: ε rounded up to a
    /// micro-unit, δ (0 for a pure ε-DP release) rounded up to a
    /// femto-unit.
    ///
    /// Errors: [`BudgetError::InvalidEpsilon`] unless `0 < ε ≤`
    /// [`MAX_EPSILON`]; [`BudgetError::InvalidDelta`] unless `0 ≤ δ ≤`
    /// [`MAX_DELTA`].
    pub fn charge(epsilon: f64, delta: f64) -> Result<Self, BudgetError> {
        if !(epsilon.is_finite() && epsilon > 0.0 && epsilon <= MAX_EPSILON) {
            return Err(BudgetError::InvalidEpsilon(epsilon));
        }
        if !(0.0..=MAX_DELTA).contains(&delta) {
            return Err(BudgetError::InvalidDelta(delta));
        }
        Ok(Amount {
            micros: units_up(epsilon, MICROS_PER_EPSILON),
            femtos: units_up(delta, FEMTOS_PER_DELTA),
        })
    }

    /// The ε this amount stands for.
    pub fn epsilon(&self) -> f64 {
        micros_to_epsilon(self.micros)
    }

    /// The δ this amount stands for.
    pub fn delta(&self) -> f64 {
        femtos_to_delta(self.femtos)
    }

    fn saturating_add(self, other: Amount) -> Amount {
        Amount {
            micros: self.micros.saturating_add(other.micros),
            femtos: self.femtos.saturating_add(other.femtos),
        }
    }
}

/// The three caps a spend must respect (see the module docs), in exact
/// units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// ε per (purpose, metric, day), micro-units.
    pub metric_micros: u64,
    /// ε per (purpose, day) over all its metrics, micro-units.
    pub purpose_micros: u64,
    /// δ per (purpose, day) over all its metrics, femto-units.
    pub purpose_femtos: u64,
}

impl Caps {
    /// Caps from their decimal values, each rounded down to its unit.
    ///
    /// Errors: [`BudgetError::InvalidLimit`] for an ε cap outside
    /// `[0,` [`MAX_EPSILON`]`]`, [`BudgetError::InvalidDelta`] for a δ cap
    /// outside `[0,` [`MAX_DELTA`]`]`.
    pub fn new(
        metric_epsilon: f64,
        purpose_epsilon: f64,
        purpose_delta: f64,
    ) -> Result<Self, BudgetError> {
        if !(0.0..=MAX_DELTA).contains(&purpose_delta) {
            return Err(BudgetError::InvalidDelta(purpose_delta));
        }
        Ok(Caps {
            metric_micros: limit_micros(metric_epsilon)?,
            purpose_micros: limit_micros(purpose_epsilon)?,
            purpose_femtos: units_down(purpose_delta, FEMTOS_PER_DELTA),
        })
    }
}

/// Which cap a spend ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cap {
    /// ε per (purpose, metric, day).
    MetricEpsilon,
    /// ε per (purpose, day), summed over the purpose's metrics.
    PurposeEpsilon,
    /// δ per (purpose, day), summed over the purpose's metrics.
    PurposeDelta,
}

impl Cap {
    /// A stable name: `metric_epsilon`, `purpose_epsilon`, `purpose_delta`.
    pub fn name(&self) -> &'static str {
        match self {
            Cap::MetricEpsilon => "metric_epsilon",
            Cap::PurposeEpsilon => "purpose_epsilon",
            Cap::PurposeDelta => "purpose_delta",
        }
    }

    /// A left-over amount of this cap's unit, as a decimal (ε or δ).
    pub fn to_decimal(&self, units: u64) -> f64 {
        match self {
            Cap::PurposeDelta => femtos_to_delta(units),
            _ => micros_to_epsilon(units),
        }
    }
}

/// One persisted ledger row: the ε and δ spent on a key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LedgerEntry {
    /// The budget key.
    pub key: BudgetKey,
    /// What was spent so far.
    pub spent: Amount,
}

/// What a key has left under each cap after a spend, in each cap's unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remaining {
    /// ε left for this metric on this day, micro-units.
    pub metric_micros: u64,
    /// ε left for the purpose on this day, micro-units.
    pub purpose_micros: u64,
    /// δ left for the purpose on this day, femto-units.
    pub purpose_femtos: u64,
}

impl Remaining {
    /// The ε a further release of this metric could still spend on this
    /// day: the lesser of the metric's and the purpose's.
    pub fn epsilon_micros(&self) -> u64 {
        self.metric_micros.min(self.purpose_micros)
    }
}

/// A successful spend: what was charged and what each key has left.
#[derive(Debug, Clone, PartialEq)]
pub struct Spend {
    /// What was charged on each key.
    pub charged: Amount,
    /// Each distinct key charged, with what it has left after the spend, in
    /// key order.
    pub remaining: Vec<(BudgetKey, Remaining)>,
}

/// A key and cap that a refused spend would have overspent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overspend {
    /// The budget key.
    pub key: BudgetKey,
    /// The cap it would exceed.
    pub cap: Cap,
    /// What the cap has left on that key, in the cap's unit.
    pub remaining: u64,
}

/// Why a spend was refused. Nothing is recorded when any of these is
/// returned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BudgetError {
    /// ε must be finite, positive and at most [`MAX_EPSILON`].
    #[error("epsilon must be finite and in (0, {MAX_EPSILON}], got {0}")]
    InvalidEpsilon(f64),
    /// δ must be in `[0,` [`MAX_DELTA`]`]`.
    #[error("delta must be in [0, {MAX_DELTA}], got {0}")]
    InvalidDelta(f64),
    /// An ε cap must be finite, non-negative and at most [`MAX_EPSILON`].
    #[error("budget limit must be finite and in [0, {MAX_EPSILON}], got {0}")]
    InvalidLimit(f64),
    /// A spend must name at least one key.
    #[error("a spend must name at least one budget key")]
    NoKeys,
    /// The spend would exceed a cap on the listed keys.
    #[error("{}", exhausted_message(.overspent))]
    Exhausted {
        /// What was asked per key.
        asked: Amount,
        /// Every key and cap that would overspend, in key order, with what
        /// is left.
        overspent: Vec<Overspend>,
    },
    /// [`Ledger::from_entries`] got the same key twice.
    #[error(
        "duplicate ledger entry for metric {:?} (region {:?}, purpose {:?}) on day {}",
        .0.metric, .0.region, .0.purpose, .0.day
    )]
    DuplicateEntry(BudgetKey),
}

/// "privacy budget exhausted: metric_epsilon of "m" (region r, purpose p)
/// on day 19000 (0.2 left), day 19001 (0 left); purpose_delta ...".
fn exhausted_message(overspent: &[Overspend]) -> String {
    use core::fmt::Write as _;
    let mut msg = String::from("privacy budget exhausted:");
    let mut current: Option<(Cap, &str, &str, &str)> = None;
    for o in overspent {
        let k = &o.key;
        let group = (
            o.cap,
            k.metric.as_str(),
            k.region.as_str(),
            k.purpose.as_str(),
        );
        if current == Some(group) {
            msg.push(',');
        } else {
            if current.is_some() {
                msg.push(';');
            }
            let _ = write!(
                msg,
                " {} of {:?} (region {:?}, purpose {:?}) on",
                o.cap.name(),
                k.metric,
                k.region,
                k.purpose
            );
            current = Some(group);
        }
        let _ = write!(
            msg,
            " day {} ({} left)",
            k.day,
            o.cap.to_decimal(o.remaining)
        );
    }
    msg
}

/// `k/10⁶` as `f64`, the ε a micro-unit count stands for.
pub fn micros_to_epsilon(micros: u64) -> f64 {
    micros as f64 / MICROS_PER_EPSILON as f64
}

/// `k/10¹⁵` as `f64`, the δ a femto-unit count stands for.
pub fn femtos_to_delta(femtos: u64) -> f64 {
    femtos as f64 / FEMTOS_PER_DELTA as f64
}

/// The smallest `k` with `k/per ≥ x` (as `f64`), for `0 ≤ x·per < 2⁶³`.
fn units_up(x: f64, per: u64) -> u64 {
    let value = |k: u64| k as f64 / per as f64;
    let mut k = (x * per as f64).ceil() as u64;
    // The product may round across an integer either way; one step fixes it
    // because its error is far below one unit.
    if k > 0 && value(k - 1) >= x {
        k -= 1;
    } else if value(k) < x {
        k += 1;
    }
    k
}

/// The largest `k` with `k/per ≤ x` (as `f64`), for `0 ≤ x·per < 2⁶³`.
fn units_down(x: f64, per: u64) -> u64 {
    let value = |k: u64| k as f64 / per as f64;
    let mut k = (x * per as f64).floor() as u64;
    if value(k + 1) <= x {
        k += 1;
    } else if k > 0 && value(k) > x {
        k -= 1;
    }
    k
}

/// The micro-units charged for a spend of `epsilon`: the smallest `k` with
/// `k/10⁶ ≥ ε` (as `f64`).
pub fn spend_micros(epsilon: f64) -> Result<u64, BudgetError> {
    Amount::charge(epsilon, 0.0).map(|a| a.micros)
}

/// The micro-units a limit of `limit` allows: the largest `k` with
/// `k/10⁶ ≤ limit` (as `f64`).
pub fn limit_micros(limit: f64) -> Result<u64, BudgetError> {
    if !(0.0..=MAX_EPSILON).contains(&limit) {
        return Err(BudgetError::InvalidLimit(limit));
    }
    Ok(units_down(limit, MICROS_PER_EPSILON))
}

/// The in-memory budget ledger: ε and δ spent per [`BudgetKey`].
///
/// Keys never spent are absent and have spent nothing. The caps are passed
/// to each call rather than stored, so a policy change applies to past
/// spends too (lowering a cap below what was spent leaves nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    spent: BTreeMap<BudgetKey, Amount>,
    /// region → purpose → day → the sum over the purpose's metrics: kept
    /// beside `spent` so a purpose cap is checked in O(log n), not by a
    /// scan of every entry per key (a year-long release checks 365 keys).
    purposes: BTreeMap<String, BTreeMap<String, BTreeMap<i32, Amount>>>,
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// Restores a ledger from [`Ledger::entries`]. Entries with nothing
    /// spent are accepted and dropped; a key given twice is an error
    /// ([`BudgetError::DuplicateEntry`]) rather than silently merged.
    pub fn from_entries<I>(entries: I) -> Result<Self, BudgetError>
    where
        I: IntoIterator<Item = LedgerEntry>,
    {
        let mut ledger = Ledger::default();
        for LedgerEntry { key, spent: amount } in entries {
            if ledger.spent.contains_key(&key) {
                return Err(BudgetError::DuplicateEntry(key));
            }
            if amount != Amount::default() {
                ledger.add(&key, amount);
            }
        }
        Ok(ledger)
    }

    /// Adds `amount` to `key` and to its purpose's total.
    fn add(&mut self, key: &BudgetKey, amount: Amount) {
        match self.spent.get_mut(key) {
            Some(own) => *own = own.saturating_add(amount),
            None => {
                self.spent.insert(key.clone(), amount);
            }
        }
        // Look up before inserting, so the usual case (one region and
        // purpose) clones no string.
        if !self.purposes.contains_key(&key.region) {
            self.purposes.insert(key.region.clone(), BTreeMap::new());
        }
        let regions = self.purposes.get_mut(&key.region).expect("inserted above");
        if !regions.contains_key(&key.purpose) {
            regions.insert(key.purpose.clone(), BTreeMap::new());
        }
        let days = regions.get_mut(&key.purpose).expect("inserted above");
        let total = days.entry(key.day).or_default();
        *total = total.saturating_add(amount);
    }

    /// Every key with a non-zero spend, in key order, for persistence or
    /// inspection.
    pub fn entries(&self) -> Vec<LedgerEntry> {
        self.spent
            .iter()
            .map(|(key, &spent)| LedgerEntry {
                key: key.clone(),
                spent,
            })
            .collect()
    }

    /// What was spent on `key` so far.
    pub fn spent(&self, key: &BudgetKey) -> Amount {
        self.spent.get(key).copied().unwrap_or_default()
    }

    /// What `key`'s purpose has spent on `key`'s day over all its metrics.
    pub fn purpose_spent(&self, key: &BudgetKey) -> Amount {
        self.purposes
            .get(&key.region)
            .and_then(|p| p.get(&key.purpose))
            .and_then(|d| d.get(&key.day))
            .copied()
            .unwrap_or_default()
    }

    /// What `key` has left under `caps`, never negative.
    pub fn remaining(&self, key: &BudgetKey, caps: &Caps) -> Remaining {
        let own = self.spent(key);
        let purpose = self.purpose_spent(key);
        Remaining {
            metric_micros: caps.metric_micros.saturating_sub(own.micros),
            purpose_micros: caps.purpose_micros.saturating_sub(purpose.micros),
            purpose_femtos: caps.purpose_femtos.saturating_sub(purpose.femtos),
        }
    }

    /// Spends `cost` on each distinct key of `keys` if every key stays
    /// within every cap (the purpose caps counting this spend's other keys
    /// of the same purpose and day too); otherwise spends nothing.
    ///
    /// A key listed twice is charged once: a release reads each day's data
    /// once however the caller lists the days.
    ///
    /// Errors: [`BudgetError::NoKeys`], and [`BudgetError::Exhausted`]
    /// naming every key and cap that would overspend.
    pub fn try_spend(
        &mut self,
        keys: &[BudgetKey],
        cost: Amount,
        caps: &Caps,
    ) -> Result<Spend, BudgetError> {
        let keys: BTreeSet<&BudgetKey> = keys.iter().collect();
        if keys.is_empty() {
            return Err(BudgetError::NoKeys);
        }
        // Check every key before touching any, so a refusal changes nothing.
        let mut added: BTreeMap<(&str, &str, i32), Amount> = BTreeMap::new();
        for &key in &keys {
            let slot = added.entry(key.purpose_day()).or_default();
            *slot = slot.saturating_add(cost);
        }
        let mut overspent = Vec::new();
        for &key in &keys {
            let before = self.remaining(key, caps);
            let own = self.spent(key).saturating_add(cost);
            // Saturating: a restored entry may hold any u64, and a
            // saturated total is above every valid cap anyway.
            let purpose = self
                .purpose_spent(key)
                .saturating_add(added[&key.purpose_day()]);
            for (cap, total, limit, left) in [
                (
                    Cap::MetricEpsilon,
                    own.micros,
                    caps.metric_micros,
                    before.metric_micros,
                ),
                (
                    Cap::PurposeEpsilon,
                    purpose.micros,
                    caps.purpose_micros,
                    before.purpose_micros,
                ),
                (
                    Cap::PurposeDelta,
                    purpose.femtos,
                    caps.purpose_femtos,
                    before.purpose_femtos,
                ),
            ] {
                if total > limit {
                    overspent.push(Overspend {
                        key: key.clone(),
                        cap,
                        remaining: left,
                    });
                }
            }
        }
        if !overspent.is_empty() {
            overspent.sort_by(|a, b| (a.cap, &a.key).cmp(&(b.cap, &b.key)));
            return Err(BudgetError::Exhausted {
                asked: cost,
                overspent,
            });
        }
        for &key in &keys {
            self.add(key, cost);
        }
        let remaining = keys
            .iter()
            .map(|&key| (key.clone(), self.remaining(key, caps)))
            .collect();
        Ok(Spend {
            charged: cost,
            remaining,
        })
    }
}

#[cfg(test)]
mod tests;

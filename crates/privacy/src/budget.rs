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
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(metric: &str, day: i32) -> BudgetKey {
        BudgetKey {
            region: "eu".into(),
            purpose: "product".into(),
            metric: metric.into(),
            day,
        }
    }

    fn eps(e: f64) -> Amount {
        Amount::charge(e, 0.0).unwrap()
    }

    /// Only the per-metric cap binds.
    fn metric_cap(limit: f64) -> Caps {
        Caps::new(limit, MAX_EPSILON, MAX_DELTA).unwrap()
    }

    #[test]
    fn units_read_the_written_decimal() {
        assert_eq!(spend_micros(0.1), Ok(100_000));
        assert_eq!(spend_micros(0.3), Ok(300_000));
        assert_eq!(spend_micros(1e-7), Ok(1));
        assert_eq!(spend_micros(0.1234567), Ok(123_457));
        assert_eq!(limit_micros(0.3), Ok(300_000));
        assert_eq!(limit_micros(0.1234567), Ok(123_456));
        assert_eq!(limit_micros(0.0), Ok(0));
        assert_eq!(limit_micros(1e-7), Ok(0));
        assert_eq!(Amount::charge(1.0, 1e-8).unwrap().femtos, 10_000_000);
        assert_eq!(Amount::charge(1.0, 1e-16).unwrap().femtos, 1, "rounded up");
        assert_eq!(Caps::new(1.0, 1.0, 1e-16).unwrap().purpose_femtos, 0);
        assert_eq!(
            Caps::new(1.0, 1.0, 1e-6).unwrap().purpose_femtos,
            1_000_000_000
        );
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 2e6] {
            assert!(matches!(
                spend_micros(bad),
                Err(BudgetError::InvalidEpsilon(_))
            ));
        }
        for bad in [-1e-9, f64::NAN, f64::INFINITY, 2e6] {
            assert!(matches!(
                limit_micros(bad),
                Err(BudgetError::InvalidLimit(_))
            ));
        }
        for bad in [-1e-9, f64::NAN, 1.5] {
            assert!(matches!(
                Amount::charge(1.0, bad),
                Err(BudgetError::InvalidDelta(_))
            ));
            assert!(matches!(
                Caps::new(1.0, 1.0, bad),
                Err(BudgetError::InvalidDelta(_))
            ));
        }
    }

    #[test]
    fn ten_tenths_make_exactly_one() {
        let mut ledger = Ledger::new();
        let k = key("clicks", 19_000);
        let caps = metric_cap(1.0);
        for i in 0..10 {
            let spend = ledger
                .try_spend(std::slice::from_ref(&k), eps(0.1), &caps)
                .unwrap();
            assert_eq!(spend.charged.micros, 100_000);
            assert_eq!(spend.remaining[0].1.metric_micros, 900_000 - 100_000 * i);
        }
        assert_eq!(ledger.remaining(&k, &caps).metric_micros, 0);
        assert!(matches!(
            ledger.try_spend(std::slice::from_ref(&k), eps(1e-6), &caps),
            Err(BudgetError::Exhausted { .. })
        ));
    }

    #[test]
    fn multi_day_spend_is_all_or_nothing() {
        let mut ledger = Ledger::new();
        let caps = metric_cap(1.0);
        let days: Vec<BudgetKey> = (19_000..19_003).map(|d| key("domains", d)).collect();
        ledger.try_spend(&days[1..2], eps(0.8), &caps).unwrap();
        let before = ledger.clone();
        let err = ledger.try_spend(&days, eps(0.5), &caps).unwrap_err();
        assert_eq!(ledger, before, "a refused spend changes nothing");
        assert_eq!(
            err,
            BudgetError::Exhausted {
                asked: eps(0.5),
                overspent: vec![Overspend {
                    key: days[1].clone(),
                    cap: Cap::MetricEpsilon,
                    remaining: 200_000
                }],
            }
        );
        assert_eq!(
            err.to_string(),
            "privacy budget exhausted: metric_epsilon of \"domains\" \
             (region \"eu\", purpose \"product\") on day 19001 (0.2 left)"
        );
        // Within budget on every day: each day is charged.
        let spend = ledger.try_spend(&days, eps(0.2), &caps).unwrap();
        assert_eq!(spend.remaining.len(), 3);
        assert_eq!(ledger.remaining(&days[0], &caps).metric_micros, 800_000);
        assert_eq!(ledger.remaining(&days[1], &caps).metric_micros, 0);
        assert_eq!(ledger.remaining(&days[2], &caps).metric_micros, 800_000);
    }

    #[test]
    fn the_purpose_cap_adds_up_its_metrics_and_delta() {
        let mut ledger = Ledger::new();
        // 1.0 per metric, 1.5 per purpose, δ 2e-8 per purpose and day.
        let caps = Caps::new(1.0, 1.5, 2e-8).unwrap();
        let (a, b, c) = (key("a", 7), key("b", 7), key("c", 7));
        ledger
            .try_spend(std::slice::from_ref(&a), eps(1.0), &caps)
            .unwrap();
        // b alone is within its metric cap but the purpose has 0.5 left.
        let err = ledger
            .try_spend(std::slice::from_ref(&b), eps(0.6), &caps)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "privacy budget exhausted: purpose_epsilon of \"b\" \
             (region \"eu\", purpose \"product\") on day 7 (0.5 left)"
        );
        let with_delta = Amount::charge(0.25, 1e-8).unwrap();
        ledger
            .try_spend(std::slice::from_ref(&b), with_delta, &caps)
            .unwrap();
        ledger
            .try_spend(std::slice::from_ref(&c), with_delta, &caps)
            .unwrap();
        assert_eq!(
            ledger.purpose_spent(&a),
            Amount {
                micros: 1_500_000,
                femtos: 20_000_000
            }
        );
        // ε is spent and so is δ: a further δ-spending release is refused
        // for δ alone once ε allows it elsewhere.
        let other_day = key("c", 8);
        ledger
            .try_spend(std::slice::from_ref(&other_day), with_delta, &caps)
            .unwrap();
        let err = ledger
            .try_spend(
                std::slice::from_ref(&other_day),
                Amount::charge(0.1, 2e-8).unwrap(),
                &caps,
            )
            .unwrap_err();
        let BudgetError::Exhausted { overspent, .. } = err else {
            panic!()
        };
        assert_eq!(overspent.len(), 1);
        assert_eq!(overspent[0].cap, Cap::PurposeDelta);
        assert_eq!(overspent[0].remaining, 10_000_000);
        // Another purpose or region is untouched.
        let mut elsewhere = a.clone();
        elsewhere.purpose = "other".into();
        assert_eq!(
            ledger.remaining(&elsewhere, &caps).purpose_micros,
            1_500_000
        );
        // Two keys of one purpose-day in one spend count together.
        let mut fresh = Ledger::new();
        let err = fresh
            .try_spend(&[key("x", 1), key("y", 1)], eps(0.8), &caps)
            .unwrap_err();
        assert!(matches!(err, BudgetError::Exhausted { .. }));
        assert_eq!(fresh, Ledger::new());
    }

    #[test]
    fn duplicates_are_charged_once_and_bad_input_is_refused() {
        let mut ledger = Ledger::new();
        let caps = metric_cap(1.0);
        let k = key("m", 5);
        let spend = ledger
            .try_spend(&[k.clone(), k.clone()], eps(0.6), &caps)
            .unwrap();
        assert_eq!(spend.remaining.len(), 1);
        assert_eq!(spend.remaining[0].1.metric_micros, 400_000);
        assert_eq!(
            ledger.try_spend(&[], eps(0.1), &caps),
            Err(BudgetError::NoKeys)
        );
        // A lowered cap leaves nothing rather than a negative remainder.
        assert_eq!(ledger.remaining(&k, &metric_cap(0.5)).metric_micros, 0);
        let entry = |micros| LedgerEntry {
            key: k.clone(),
            spent: Amount { micros, femtos: 0 },
        };
        assert_eq!(
            Ledger::from_entries([entry(1), entry(2)]),
            Err(BudgetError::DuplicateEntry(k.clone()))
        );
        // A corrupt, huge restored entry saturates instead of overflowing.
        let mut huge = Ledger::from_entries([entry(u64::MAX)]).unwrap();
        assert!(
            huge.try_spend(&[k], eps(MAX_EPSILON), &metric_cap(MAX_EPSILON))
                .is_err()
        );
    }

    fn arb_key() -> impl Strategy<Value = BudgetKey> {
        (0u8..2, 0u8..2, 0u8..3, -2i32..4).prop_map(|(r, p, m, day)| BudgetKey {
            region: format!("r{r}"),
            purpose: format!("p{p}"),
            metric: format!("m{m}"),
            day,
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Over any sequence of spends, no key exceeds the metric cap and no
        /// (region, purpose, day) exceeds the purpose's ε or δ cap; a
        /// refused spend changes nothing, and an accepted one adds exactly
        /// the charge to each distinct key.
        #[test]
        fn never_overspent_and_refusals_change_nothing(
            metric_limit in 0.0f64..3.0,
            purpose_limit in 0.0f64..5.0,
            delta_limit in 0.0f64..1e-7,
            spends in prop::collection::vec(
                (
                    prop::collection::vec(arb_key(), 0..5),
                    1e-7f64..1.5,
                    prop_oneof![Just(0.0), 1e-10f64..3e-8],
                ),
                1..40,
            ),
        ) {
            let caps = Caps::new(metric_limit, purpose_limit, delta_limit).unwrap();
            let mut ledger = Ledger::new();
            for (keys, e, d) in spends {
                let before = ledger.clone();
                let cost = Amount::charge(e, d).unwrap();
                match ledger.try_spend(&keys, cost, &caps) {
                    Ok(spend) => {
                        let distinct: BTreeSet<_> = keys.iter().collect();
                        prop_assert_eq!(spend.remaining.len(), distinct.len());
                        for k in distinct {
                            prop_assert_eq!(
                                ledger.spent(k),
                                before.spent(k).saturating_add(cost)
                            );
                        }
                        for e in before.entries() {
                            if !keys.contains(&e.key) {
                                prop_assert_eq!(ledger.spent(&e.key), e.spent);
                            }
                        }
                    }
                    Err(err) => {
                        prop_assert_eq!(&ledger, &before);
                        if let BudgetError::Exhausted { overspent, .. } = err {
                            prop_assert!(!overspent.is_empty());
                            for o in overspent {
                                let left = before.remaining(&o.key, &caps);
                                let (left, asked) = match o.cap {
                                    Cap::MetricEpsilon => (left.metric_micros, cost.micros),
                                    Cap::PurposeEpsilon => (left.purpose_micros, cost.micros),
                                    Cap::PurposeDelta => (left.purpose_femtos, cost.femtos),
                                };
                                prop_assert_eq!(o.remaining, left);
                                // Refused only when the asked amount (for the
                                // purpose: times this spend's keys of that
                                // purpose-day) does not fit.
                                let same = keys.iter().filter(|k| k.purpose_day() == o.key.purpose_day())
                                    .collect::<BTreeSet<_>>().len() as u64;
                                let need = if o.cap == Cap::MetricEpsilon { asked } else { asked * same };
                                prop_assert!(left < need);
                            }
                        } else {
                            prop_assert!(keys.is_empty(), "unexpected {:?}", err);
                        }
                    }
                }
                for e in ledger.entries() {
                    prop_assert!(e.spent.micros <= caps.metric_micros);
                    let p = ledger.purpose_spent(&e.key);
                    prop_assert!(p.micros <= caps.purpose_micros);
                    prop_assert!(p.femtos <= caps.purpose_femtos);
                }
            }
            // Persistence round-trips.
            let restored = Ledger::from_entries(ledger.entries()).unwrap();
            prop_assert_eq!(&restored, &ledger);
            prop_assert_eq!(restored.entries(), ledger.entries());
        }

        /// The charge is never below ε and the allowance never above the
        /// limit, each within one micro-unit; likewise for δ.
        #[test]
        fn conversions_are_conservative(x in 1e-6f64..MAX_EPSILON, d in 1e-15f64..1.0) {
            let up = spend_micros(x).unwrap();
            let down = limit_micros(x).unwrap();
            prop_assert!(micros_to_epsilon(up) >= x);
            prop_assert!(micros_to_epsilon(down) <= x);
            prop_assert!(up - down <= 1);
            let up = Amount::charge(1.0, d).unwrap().femtos;
            let down = Caps::new(1.0, 1.0, d).unwrap().purpose_femtos;
            prop_assert!(femtos_to_delta(up) >= d);
            prop_assert!(femtos_to_delta(down) <= d);
            prop_assert!(up - down <= 1);
        }
    }
}

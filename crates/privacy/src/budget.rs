//! Privacy-budget accounting: a pure, in-memory ledger of the ε spent per
//! `(region, purpose, metric, day)`.
//!
//! A release over several days spends its ε on **each** day's key (the days
//! are disjoint data, so each day's budget bounds what is learned about that
//! day's reports; basic sequential composition within a key). A spend is
//! all-or-nothing: if any key would exceed the limit, nothing is recorded
//! and [`BudgetError::Exhausted`] lists every key that would overspend with
//! what it has left.
//!
//! # Exact arithmetic
//!
//! ε is accounted in integer micro-units (10⁻⁶ ε) so that repeated spends
//! cannot drift the way summed `f64`s do (ten spends of 0.1 sum to exactly
//! 1.0 here). Conversions are conservative:
//!
//! - a spend `ε` is charged `⌈ε·10⁶⌉` micro-units, the smallest `k` whose
//!   `f64` value `k/10⁶` is at least `ε` (rounded **up**, never under-charged);
//! - a limit `L` allows `⌊L·10⁶⌋` micro-units, the largest `k` whose `f64`
//!   value `k/10⁶` is at most `L` (rounded **down**).
//!
//! Both read ε as the decimal the caller wrote: `0.1` is 100 000 micro-units
//! even though the `f64` nearest 0.1 is slightly above it (the same reading
//! as [`crate::dp::DiscreteLaplace::for_epsilon`]).
//!
//! The ledger does no I/O; [`Ledger::entries`] and [`Ledger::from_entries`]
//! let the collector persist and restore it.

use std::collections::{BTreeMap, BTreeSet};

/// Micro-units per unit of ε.
pub const MICROS_PER_EPSILON: u64 = 1_000_000;

/// The largest ε (per spend) or limit accepted, so that every micro-unit
/// total fits comfortably in `u64` (`10¹²` micro-units).
pub const MAX_EPSILON: f64 = 1_000_000.0;

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

/// One persisted ledger row: the ε spent on a key, in micro-units.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LedgerEntry {
    /// The budget key.
    pub key: BudgetKey,
    /// ε spent so far, in micro-units (10⁻⁶ ε).
    pub spent_micros: u64,
}

/// A successful spend: what was charged and what each key has left.
#[derive(Debug, Clone, PartialEq)]
pub struct Spend {
    /// The ε charged on each key, in micro-units (`⌈ε·10⁶⌉`).
    pub charged_micros: u64,
    /// Each distinct key charged, with the budget it has left after the
    /// spend, in micro-units, in key order.
    pub remaining: Vec<(BudgetKey, u64)>,
}

/// A key that a refused spend would have overspent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overspend {
    /// The budget key.
    pub key: BudgetKey,
    /// What the key has left, in micro-units.
    pub remaining_micros: u64,
}

/// Why a spend was refused. Nothing is recorded when any of these is
/// returned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BudgetError {
    /// ε must be finite, positive and at most [`MAX_EPSILON`].
    #[error("epsilon must be finite and in (0, {MAX_EPSILON}], got {0}")]
    InvalidEpsilon(f64),
    /// The limit must be finite, non-negative and at most [`MAX_EPSILON`].
    #[error("budget limit must be finite and in [0, {MAX_EPSILON}], got {0}")]
    InvalidLimit(f64),
    /// A spend must name at least one key.
    #[error("a spend must name at least one budget key")]
    NoKeys,
    /// The spend would exceed the limit on the listed keys.
    #[error("{}", exhausted_message(*.epsilon, .overspent))]
    Exhausted {
        /// The ε requested per key.
        epsilon: f64,
        /// Every key that would overspend, in key order, with its
        /// remaining budget.
        overspent: Vec<Overspend>,
    },
    /// [`Ledger::from_entries`] got the same key twice.
    #[error(
        "duplicate ledger entry for metric {:?} (region {:?}, purpose {:?}) on day {}",
        .0.metric, .0.region, .0.purpose, .0.day
    )]
    DuplicateEntry(BudgetKey),
}

/// "privacy budget exhausted: ε=0.5 would overspend metric "m" (region r,
/// purpose p) on day 19000 (0.2 left), day 19001 (0 left)".
fn exhausted_message(epsilon: f64, overspent: &[Overspend]) -> String {
    use core::fmt::Write as _;
    let mut msg = format!("privacy budget exhausted: spending epsilon={epsilon} would overspend");
    let mut current: Option<(&str, &str, &str)> = None;
    for o in overspent {
        let k = &o.key;
        let group = (k.metric.as_str(), k.region.as_str(), k.purpose.as_str());
        if current == Some(group) {
            msg.push(',');
        } else {
            if current.is_some() {
                msg.push(';');
            }
            let _ = write!(
                msg,
                " metric {:?} (region {:?}, purpose {:?}) on",
                k.metric, k.region, k.purpose
            );
            current = Some(group);
        }
        let _ = write!(
            msg,
            " day {} ({} left)",
            k.day,
            micros_to_epsilon(o.remaining_micros)
        );
    }
    msg
}

/// `k/10⁶` as `f64`, the ε a micro-unit count stands for.
pub fn micros_to_epsilon(micros: u64) -> f64 {
    micros as f64 / MICROS_PER_EPSILON as f64
}

/// The micro-units charged for a spend of `epsilon`: the smallest `k` with
/// `k/10⁶ ≥ ε` (as `f64`).
pub fn spend_micros(epsilon: f64) -> Result<u64, BudgetError> {
    if !(epsilon.is_finite() && epsilon > 0.0 && epsilon <= MAX_EPSILON) {
        return Err(BudgetError::InvalidEpsilon(epsilon));
    }
    // `as` is exact here: the product is at most 10¹² < 2⁵³.
    let mut k = (epsilon * MICROS_PER_EPSILON as f64).ceil() as u64;
    // The product may round across an integer either way; one step fixes it
    // because its error is far below one unit.
    if k > 0 && micros_to_epsilon(k - 1) >= epsilon {
        k -= 1;
    } else if micros_to_epsilon(k) < epsilon {
        k += 1;
    }
    Ok(k)
}

/// The micro-units a limit of `limit` allows: the largest `k` with
/// `k/10⁶ ≤ limit` (as `f64`).
pub fn limit_micros(limit: f64) -> Result<u64, BudgetError> {
    if !(0.0..=MAX_EPSILON).contains(&limit) {
        return Err(BudgetError::InvalidLimit(limit));
    }
    let mut k = (limit * MICROS_PER_EPSILON as f64).floor() as u64;
    if micros_to_epsilon(k + 1) <= limit {
        k += 1;
    } else if k > 0 && micros_to_epsilon(k) > limit {
        k -= 1;
    }
    Ok(k)
}

/// The in-memory budget ledger: ε spent per [`BudgetKey`], in micro-units.
///
/// Keys never spent are absent and have spent nothing. The limit is passed
/// to each call rather than stored, so a policy change applies to past
/// spends too (lowering a limit below what was spent leaves nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    spent: BTreeMap<BudgetKey, u64>,
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// Restores a ledger from [`Ledger::entries`]. Entries with zero spent
    /// are accepted and dropped; a key given twice is an error
    /// ([`BudgetError::DuplicateEntry`]) rather than silently merged.
    pub fn from_entries<I>(entries: I) -> Result<Self, BudgetError>
    where
        I: IntoIterator<Item = LedgerEntry>,
    {
        let mut spent = BTreeMap::new();
        let mut seen = BTreeSet::new();
        for LedgerEntry { key, spent_micros } in entries {
            if !seen.insert(key.clone()) {
                return Err(BudgetError::DuplicateEntry(key));
            }
            if spent_micros > 0 {
                spent.insert(key, spent_micros);
            }
        }
        Ok(Self { spent })
    }

    /// Every key with a non-zero spend, in key order, for persistence or
    /// inspection.
    pub fn entries(&self) -> Vec<LedgerEntry> {
        self.spent
            .iter()
            .map(|(key, &spent_micros)| LedgerEntry {
                key: key.clone(),
                spent_micros,
            })
            .collect()
    }

    /// The micro-units spent on `key` so far.
    pub fn spent_micros(&self, key: &BudgetKey) -> u64 {
        self.spent.get(key).copied().unwrap_or(0)
    }

    /// The ε left on `key` under `limit_epsilon`, never negative. An invalid
    /// limit (not finite, negative or above [`MAX_EPSILON`]) leaves nothing.
    pub fn remaining(&self, key: &BudgetKey, limit_epsilon: f64) -> f64 {
        micros_to_epsilon(self.remaining_micros(key, limit_epsilon))
    }

    /// [`Ledger::remaining`] in micro-units.
    pub fn remaining_micros(&self, key: &BudgetKey, limit_epsilon: f64) -> u64 {
        limit_micros(limit_epsilon)
            .map(|limit| limit.saturating_sub(self.spent_micros(key)))
            .unwrap_or(0)
    }

    /// Spends `epsilon` on each distinct key of `keys` if every one of them
    /// stays within `limit`; otherwise spends nothing.
    ///
    /// A key listed twice is charged once: a release reads each day's data
    /// once however the caller lists the days.
    ///
    /// Errors: [`BudgetError::InvalidEpsilon`], [`BudgetError::InvalidLimit`],
    /// [`BudgetError::NoKeys`], and [`BudgetError::Exhausted`] naming every
    /// key that would overspend.
    pub fn try_spend(
        &mut self,
        keys: &[BudgetKey],
        epsilon: f64,
        limit: f64,
    ) -> Result<Spend, BudgetError> {
        let charge = spend_micros(epsilon)?;
        let limit_m = limit_micros(limit)?;
        let keys: BTreeSet<&BudgetKey> = keys.iter().collect();
        if keys.is_empty() {
            return Err(BudgetError::NoKeys);
        }
        // Check every key before touching any, so a refusal changes nothing.
        let mut overspent = Vec::new();
        let mut after = Vec::with_capacity(keys.len());
        for &key in &keys {
            let spent = self.spent_micros(key);
            // Saturating: a restored entry may hold any u64, and a
            // saturated total is above every valid limit anyway.
            let total = spent.saturating_add(charge);
            if total > limit_m {
                overspent.push(Overspend {
                    key: key.clone(),
                    remaining_micros: limit_m.saturating_sub(spent),
                });
            } else {
                after.push((key, total));
            }
        }
        if !overspent.is_empty() {
            return Err(BudgetError::Exhausted { epsilon, overspent });
        }
        let mut remaining = Vec::with_capacity(after.len());
        for (key, total) in after {
            self.spent.insert(key.clone(), total);
            remaining.push((key.clone(), limit_m - total));
        }
        Ok(Spend {
            charged_micros: charge,
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

    #[test]
    fn micro_units_read_the_written_decimal() {
        assert_eq!(spend_micros(0.1), Ok(100_000));
        assert_eq!(spend_micros(0.3), Ok(300_000));
        assert_eq!(spend_micros(1e-7), Ok(1));
        assert_eq!(spend_micros(0.1234567), Ok(123_457));
        assert_eq!(limit_micros(0.3), Ok(300_000));
        assert_eq!(limit_micros(0.1234567), Ok(123_456));
        assert_eq!(limit_micros(0.0), Ok(0));
        assert_eq!(limit_micros(1e-7), Ok(0));
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
    }

    #[test]
    fn ten_tenths_make_exactly_one() {
        let mut ledger = Ledger::new();
        let k = key("clicks", 19_000);
        for i in 0..10 {
            let spend = ledger
                .try_spend(std::slice::from_ref(&k), 0.1, 1.0)
                .unwrap();
            assert_eq!(spend.charged_micros, 100_000);
            assert_eq!(spend.remaining, vec![(k.clone(), 900_000 - 100_000 * i)]);
        }
        assert_eq!(ledger.remaining(&k, 1.0), 0.0);
        assert!(matches!(
            ledger.try_spend(std::slice::from_ref(&k), 1e-6, 1.0),
            Err(BudgetError::Exhausted { .. })
        ));
    }

    #[test]
    fn multi_day_spend_is_all_or_nothing() {
        let mut ledger = Ledger::new();
        let days: Vec<BudgetKey> = (19_000..19_003).map(|d| key("domains", d)).collect();
        ledger.try_spend(&days[1..2], 0.8, 1.0).unwrap();
        let before = ledger.clone();
        let err = ledger.try_spend(&days, 0.5, 1.0).unwrap_err();
        assert_eq!(ledger, before, "a refused spend changes nothing");
        assert_eq!(
            err,
            BudgetError::Exhausted {
                epsilon: 0.5,
                overspent: vec![Overspend {
                    key: days[1].clone(),
                    remaining_micros: 200_000
                }],
            }
        );
        assert_eq!(
            err.to_string(),
            "privacy budget exhausted: spending epsilon=0.5 would overspend metric \"domains\" \
             (region \"eu\", purpose \"product\") on day 19001 (0.2 left)"
        );
        // Within budget on every day: each day is charged.
        let spend = ledger.try_spend(&days, 0.2, 1.0).unwrap();
        assert_eq!(spend.remaining.len(), 3);
        assert_eq!(ledger.remaining(&days[0], 1.0), 0.8);
        assert_eq!(ledger.remaining(&days[1], 1.0), 0.0);
        assert_eq!(ledger.remaining(&days[2], 1.0), 0.8);
    }

    #[test]
    fn error_lists_every_overspent_day_grouped_by_metric() {
        let mut ledger = Ledger::new();
        let keys = [key("a", 1), key("a", 2), key("b", 2)];
        ledger.try_spend(&keys, 0.7, 1.0).unwrap();
        let err = ledger.try_spend(&keys, 0.5, 1.0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "privacy budget exhausted: spending epsilon=0.5 would overspend \
             metric \"a\" (region \"eu\", purpose \"product\") on day 1 (0.3 left), day 2 (0.3 left); \
             metric \"b\" (region \"eu\", purpose \"product\") on day 2 (0.3 left)"
        );
    }

    #[test]
    fn duplicates_are_charged_once_and_bad_input_is_refused() {
        let mut ledger = Ledger::new();
        let k = key("m", 5);
        let spend = ledger.try_spend(&[k.clone(), k.clone()], 0.6, 1.0).unwrap();
        assert_eq!(spend.remaining, vec![(k.clone(), 400_000)]);
        assert_eq!(ledger.try_spend(&[], 0.1, 1.0), Err(BudgetError::NoKeys));
        assert!(matches!(
            ledger.try_spend(std::slice::from_ref(&k), f64::NAN, 1.0),
            Err(BudgetError::InvalidEpsilon(_))
        ));
        assert!(matches!(
            ledger.try_spend(std::slice::from_ref(&k), 0.1, -1.0),
            Err(BudgetError::InvalidLimit(_))
        ));
        assert_eq!(ledger.remaining(&k, f64::NAN), 0.0);
        // A lowered limit leaves nothing rather than a negative remainder.
        assert_eq!(ledger.remaining(&k, 0.5), 0.0);
        assert_eq!(
            Ledger::from_entries([
                LedgerEntry {
                    key: k.clone(),
                    spent_micros: 1
                },
                LedgerEntry {
                    key: k.clone(),
                    spent_micros: 2
                },
            ]),
            Err(BudgetError::DuplicateEntry(k.clone()))
        );
        // A corrupt, huge restored entry saturates instead of overflowing.
        let mut huge = Ledger::from_entries([LedgerEntry {
            key: k.clone(),
            spent_micros: u64::MAX,
        }])
        .unwrap();
        assert!(huge.try_spend(&[k], MAX_EPSILON, MAX_EPSILON).is_err());
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

        /// Over any sequence of spends, no key's total ever exceeds the
        /// limit, a refused spend changes nothing, and an accepted one adds
        /// exactly the charge to each distinct key.
        #[test]
        fn never_overspent_and_refusals_change_nothing(
            limit in 0.0f64..3.0,
            spends in prop::collection::vec(
                (prop::collection::vec(arb_key(), 0..5), 1e-7f64..1.5),
                1..40,
            ),
        ) {
            let limit_m = limit_micros(limit).unwrap();
            let mut ledger = Ledger::new();
            for (keys, eps) in spends {
                let before = ledger.clone();
                match ledger.try_spend(&keys, eps, limit) {
                    Ok(spend) => {
                        let distinct: BTreeSet<_> = keys.iter().collect();
                        prop_assert_eq!(spend.remaining.len(), distinct.len());
                        for k in distinct {
                            prop_assert_eq!(
                                ledger.spent_micros(k),
                                before.spent_micros(k) + spend.charged_micros
                            );
                        }
                        // Keys not named are untouched.
                        for e in before.entries() {
                            if !keys.contains(&e.key) {
                                prop_assert_eq!(ledger.spent_micros(&e.key), e.spent_micros);
                            }
                        }
                    }
                    Err(err) => {
                        prop_assert_eq!(&ledger, &before);
                        if let BudgetError::Exhausted { overspent, .. } = err {
                            prop_assert!(!overspent.is_empty());
                            for o in overspent {
                                prop_assert_eq!(o.remaining_micros, before.remaining_micros(&o.key, limit));
                                prop_assert!(o.remaining_micros < spend_micros(eps).unwrap());
                            }
                        } else {
                            prop_assert!(keys.is_empty(), "unexpected {:?}", err);
                        }
                    }
                }
                for e in ledger.entries() {
                    prop_assert!(e.spent_micros <= limit_m);
                    prop_assert!(ledger.remaining(&e.key, limit) >= 0.0);
                }
            }
            // Persistence round-trips.
            let restored = Ledger::from_entries(ledger.entries()).unwrap();
            prop_assert_eq!(&restored, &ledger);
            prop_assert_eq!(restored.entries(), ledger.entries());
        }

        /// The charge is never below ε and the allowance never above the
        /// limit, each within one micro-unit.
        #[test]
        fn conversions_are_conservative(x in 1e-6f64..MAX_EPSILON) {
            let up = spend_micros(x).unwrap();
            let down = limit_micros(x).unwrap();
            prop_assert!(micros_to_epsilon(up) >= x);
            prop_assert!(micros_to_epsilon(down) <= x);
            prop_assert!(up - down <= 1);
        }
    }
}

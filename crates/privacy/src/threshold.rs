//! Release rules as pure functions: the noise scale of a bounded
//! contribution, and the noisy thresholds that decide what a release shows.
//!
//! # Every decision on noisy counts
//!
//! Whether a group (or an open-set value) appears in a release is itself
//! information: "suppressed with 9 devices, shown with 10, every time"
//! tells an analyst whether one more device reported. So a release decides
//! only on **noisy** counts ([`passes_threshold`]), and there are two cases:
//!
//! - **Closed key sets** (every possible group is known before looking at
//!   the data: the declared values of a dimension, the days of the range,
//!   the labels of a metric): every group is given a noisy count, absent
//!   ones included, and shown when the noisy count reaches `k_min`. The
//!   noisy counts are ε-DP, so the decision is post-processing; `k_min` is a
//!   threshold on a noisy quantity, not a guarantee about the exact one.
//! - **Open key sets** (values that exist only because some report named
//!   them: domains, and dimension values not declared in the schema): a
//!   group that one report created must stay hidden with probability at
//!   least `1 − δ`, so the threshold is `max(k_min, τ)` with the `τ` below
//!   ([`OpenSetRule::with_k`]).
//!
//! # Open-set metrics: the noisy threshold
//!
//! An open-set metric (e.g. the set of domains a report lists) has no fixed
//! list of cells: a cell exists only because some report named it, so even
//! *whether* it is released can reveal one report. Each report lists at most
//! `Δ` values (the contribution bound). Each value's count gets discrete
//! Laplace noise of scale `t = Δ/ε` ([`noise_scale`]; `t` is rounded up as in
//! [`DiscreteLaplace::for_epsilon`]), and a value is released, with that same
//! noisy count, only if `count + X ≥ τ` ([`open_set_threshold`]):
//!
//! ```text
//! τ = 1 + t · ln(Δ / (δ·(1 + p))),   p = exp(-1/t).
//! ```
//!
//! This is the stability-based histogram / DP set-union threshold
//! (Korolova, Kenthapadi, Mishra and Ntoulas, *Releasing Search Queries and
//! Clicks Privately*, WWW 2009; see also Desfontaines, Voss, Gipson and
//! Mandayam, *Differentially Private Partition Selection*, PoPETs 2022, and
//! Wilkins, Kifer, Zhang and Karrer, *Exact Privacy Analysis of the Gaussian
//! Sparse Histogram Mechanism*, 2024, for the general argument). For
//! continuous Laplace noise of scale `b` the usual form is
//! `τ = 1 + b·ln(Δ/(2δ))`, from the tail `P[X ≥ a] = ½·e^(-a/b)`. The
//! *discrete* Laplace tail is heavier by up to a factor of two
//! (`P[X ≥ m] = p^m/(1+p)`, which tends to `p^m` as `t → 0`), so the
//! continuous `2` is replaced by the exact `1 + p`; as `t → ∞`, `p → 1` and
//! the two forms agree. The proof below is self-contained.
//!
//! **Claim.** A value with exactly one contributor is released with
//! probability at most `δ/Δ`; hence a single report's values are released
//! "by it alone" with probability at most `δ`.
//!
//! **Proof.** For `X ~ DLap(t)`, `P[X = x] = (1-p)/(1+p) · p^|x|`, so for an
//! integer `m ≥ 0`, `P[X ≥ m] = (1-p)/(1+p) · Σ_{x≥m} p^x = p^m/(1+p)`. A
//! value with one contributor has count 1 and is released iff `1 + X ≥ τ`,
//! i.e. (`X` being an integer) iff `X ≥ m := ⌈τ - 1⌉`, where
//! `m ≥ τ - 1 = t·ln(Δ/(δ(1+p))) > 0` because `δ ≤ ½ < Δ/(1+p)`. Then
//! `P[release] = p^m/(1+p) ≤ e^(-(τ-1)/t)/(1+p) = (δ(1+p)/Δ)/(1+p) = δ/Δ`.
//! A report names at most `Δ` values, so at most `Δ` values can have it as
//! their only contributor, and by the union bound the probability that any
//! of them is released is at most `Δ·δ/Δ = δ`. ∎
//!
//! With that, releasing the thresholded noisy counts is `(ε, δ)`-DP for
//! adding or removing one report: on the values the report shares with
//! others, the count vector has L1 sensitivity `Δ` (at most `Δ` counts move
//! by one), so scale `t ≥ Δ/ε` makes the noisy counts ε-DP (the geometric
//! mechanism; thresholding them is post-processing); the values only it
//! names appear with probability at most `δ`. The noise MUST be fresh per
//! value and the count compared with `τ` MUST be the one released.
//!
//! `τ` is evaluated in `f64` and padded by a relative and an absolute
//! `10⁻¹²` in the logarithm, which covers its rounding error and raises `τ`
//! by a negligible amount, so rounding can only make the rule stricter.

use rand_core::Rng;

use crate::Error;
use crate::dp::{DiscreteLaplace, Ratio};

/// Relative and absolute padding of the logarithm in `τ` (see the module
/// docs): far above the `f64` rounding of `ln`, `exp` and the divisions.
const TAU_PADDING: f64 = 1e-12;

/// The discrete Laplace scale for a query whose contribution bound is
/// `bound` at `epsilon`: `bound/ε'` with `ε' = ⌊1000·ε⌋/1000 ≤ ε`, i.e. the
/// scale of [`DiscreteLaplace::for_epsilon`], equal to `bound/ε` when ε is a
/// multiple of 0.001 and rounded up (never less noise) otherwise.
///
/// Errors: as [`DiscreteLaplace::for_epsilon`].
pub fn noise_scale(bound: u64, epsilon: f64) -> Result<Ratio, Error> {
    Ok(DiscreteLaplace::for_epsilon(bound, epsilon)?.scale())
}

/// The noisy threshold `τ = 1 + t·ln(Δ/(δ(1+p)))`, `t =`
/// [`noise_scale`]`(Δ, ε)`, `p = e^(-1/t)`, for an open-set metric whose
/// reports each name at most `delta_bound` (Δ) values (see the module docs
/// for the formula's derivation and guarantee).
///
/// Errors: [`Error::InvalidDelta`] unless `0 < δ ≤ ½`, and those of
/// [`noise_scale`].
pub fn open_set_threshold(delta_bound: u64, epsilon: f64, delta: f64) -> Result<f64, Error> {
    if !(delta.is_finite() && delta > 0.0 && delta <= 0.5) {
        return Err(Error::InvalidDelta(delta));
    }
    let t = noise_scale(delta_bound, epsilon)?.to_f64();
    Ok(tau_for_scale(delta_bound, t, delta))
}

/// `τ` for a scale `t`, padded as the module docs state.
fn tau_for_scale(delta_bound: u64, t: f64, delta: f64) -> f64 {
    let p = (-1.0 / t).exp();
    // ln(Δ/(δ(1+p))) as a difference of logs: each term is exact to an ulp
    // and the result is at least ln(1/(½·2)) = 0 before padding.
    let log = (delta_bound as f64).ln() - delta.ln() - p.ln_1p();
    let padded = log * (1.0 + TAU_PADDING) + TAU_PADDING;
    1.0 + t * padded.max(0.0)
}

/// Whether a noisy count passes the threshold `tau`: `noisy_count ≥ τ`,
/// compared as integers (`noisy_count ≥ ⌈τ⌉`) so that no `f64` rounding of
/// a large count can let it through.
pub fn passes_threshold(noisy_count: i64, tau: f64) -> bool {
    // `as` saturates, and τ ≥ 1 is finite for every valid parameter set.
    noisy_count >= tau.ceil() as i64
}

/// The open-set release rule with its parameters fixed: the discrete
/// Laplace mechanism of scale `Δ/ε` and the threshold `τ`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpenSetRule {
    mechanism: DiscreteLaplace,
    tau: f64,
}

impl OpenSetRule {
    /// The rule for reports naming at most `delta_bound` values, at
    /// `(epsilon, delta)`; errors as [`open_set_threshold`].
    pub fn new(delta_bound: u64, epsilon: f64, delta: f64) -> Result<Self, Error> {
        let tau = open_set_threshold(delta_bound, epsilon, delta)?;
        let mechanism = DiscreteLaplace::for_epsilon(delta_bound, epsilon)?;
        Ok(Self { mechanism, tau })
    }

    /// The noise mechanism (its scale, variance and 95% interval).
    pub fn mechanism(&self) -> DiscreteLaplace {
        self.mechanism
    }

    /// The threshold `τ`.
    pub fn tau(&self) -> f64 {
        self.tau
    }

    /// The same rule with its threshold raised to at least `k_min`, so an
    /// open-set value is shown only when its noisy count reaches both `τ`
    /// and the region's minimum group size. Raising the threshold can only
    /// lower the probability of showing a rare value, so the `(ε, δ)` proof
    /// above still holds.
    pub fn with_k(self, k_min: u32) -> Self {
        Self {
            tau: self.tau.max(f64::from(k_min)),
            ..self
        }
    }

    /// Draws fresh noise for one value's true `count` and returns the noisy
    /// count if it passes `τ`, `None` if the value is suppressed.
    pub fn release<R: Rng + ?Sized>(&self, count: u64, rng: &mut R) -> Option<i64> {
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        let noisy = self.mechanism.add_noise(count, rng);
        passes_threshold(noisy, self.tau).then_some(noisy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;

    /// Trials per simulation.
    const N: u64 = 200_000;
    /// Tolerance in standard errors, as in `dp`'s tests.
    const Z: f64 = 5.0;

    /// The exact probability that a value with one contributor is released:
    /// `P[X ≥ ⌈τ - 1⌉] = p^m/(1+p)`.
    fn single_release_probability(rule: &OpenSetRule) -> f64 {
        let t = rule.mechanism().scale().to_f64();
        let m = (rule.tau() - 1.0).ceil();
        let p = (-1.0 / t).exp();
        (-m / t).exp() / (1.0 + p)
    }

    #[test]
    fn k_raises_the_threshold_only() {
        let rule = OpenSetRule::new(1, 1.0, 1e-3).unwrap();
        assert!(rule.tau() < 20.0);
        assert_eq!(rule.with_k(20).tau(), 20.0);
        assert_eq!(rule.with_k(2).tau(), rule.tau());
        assert_eq!(rule.with_k(20).mechanism(), rule.mechanism());
    }

    #[test]
    fn noise_scale_equals_bound_over_epsilon() {
        for (bound, eps) in [(1, 1.0), (3, 0.5), (10, 0.1), (7, 0.3), (2, 0.001)] {
            let s = noise_scale(bound, eps).unwrap();
            let milli = (eps * 1000.0).round() as u64;
            assert_eq!(
                s,
                Ratio::new(bound * 1000, milli).unwrap(),
                "Δ={bound} ε={eps}"
            );
            assert_eq!(s, DiscreteLaplace::for_epsilon(bound, eps).unwrap().scale());
        }
        assert_eq!(noise_scale(0, 1.0), Err(Error::ZeroSensitivity));
        assert!(matches!(
            noise_scale(1, f64::NAN),
            Err(Error::InvalidEpsilon(_))
        ));
    }

    #[test]
    fn threshold_matches_the_formula_and_validates() {
        // Δ = 1, ε = 1: t = 1, τ = 1 + ln(1/(δ(1 + 1/e))).
        let tau = open_set_threshold(1, 1.0, 1e-3).unwrap();
        let exact = 1.0 + (1.0 / (1e-3 * (1.0 + (-1.0f64).exp()))).ln();
        assert!(tau >= exact && tau - exact < 1e-9, "{tau} vs {exact}");
        // Large t: the continuous form 1 + t·ln(Δ/(2δ)).
        let tau = open_set_threshold(4, 0.001, 1e-6).unwrap();
        let continuous = 1.0 + 4000.0 * (4.0 / 2e-6f64).ln();
        assert!((tau - continuous).abs() / continuous < 1e-3);
        for bad in [0.0, -1e-6, 0.6, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                open_set_threshold(1, 1.0, bad),
                Err(Error::InvalidDelta(_))
            ));
        }
        assert_eq!(
            open_set_threshold(0, 1.0, 1e-6),
            Err(Error::ZeroSensitivity)
        );
        assert!(open_set_threshold(1, 1.0, 0.5).unwrap() >= 1.0);
        assert!(passes_threshold(16, 15.2));
        assert!(!passes_threshold(15, 15.2));
        assert!(passes_threshold(15, 15.0));
        assert!(!passes_threshold(i64::MIN, 1.0));
    }

    /// Simulates a value with exactly one contributor: its empirical release
    /// rate stays below δ/Δ and matches the exact tail; a value with 10·τ
    /// contributors is always released.
    #[test]
    fn single_contributor_is_released_with_probability_at_most_delta_over_bound() {
        for (i, (bound, eps, delta)) in [(1u64, 1.0, 1e-3), (3, 1.5, 1e-3), (1, 0.25, 1e-2)]
            .into_iter()
            .enumerate()
        {
            let rule = OpenSetRule::new(bound, eps, delta).unwrap();
            let per_value = delta / bound as f64;
            let exact = single_release_probability(&rule);
            assert!(exact <= per_value, "exact {exact} > δ/Δ {per_value}");

            let mut g = ChaCha8Rng::seed_from_u64(100 + i as u64);
            let released = (0..N).filter(|_| rule.release(1, &mut g).is_some()).count() as f64;
            let rate = released / N as f64;
            assert!(
                rate <= per_value,
                "Δ={bound} ε={eps} δ={delta}: empirical {rate} > δ/Δ {per_value}"
            );
            let se = (exact * (1.0 - exact) / N as f64).sqrt();
            assert!(
                (rate - exact).abs() <= Z * se,
                "empirical {rate} vs exact {exact} ± {}",
                Z * se
            );

            let big = 10 * rule.tau().ceil() as u64;
            assert!(
                (0..10_000).all(|_| rule.release(big, &mut g).is_some()),
                "count {big} suppressed"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The exact single-contributor release probability is at most δ/Δ
        /// and, because the formula is tight, above `p·δ/Δ`.
        #[test]
        fn threshold_bounds_single_release(
            bound in 1u64..=64,
            eps in 0.01f64..20.0,
            log_delta in -12.0f64..-0.31,
        ) {
            let delta = 10f64.powf(log_delta);
            let rule = OpenSetRule::new(bound, eps, delta).unwrap();
            let exact = single_release_probability(&rule);
            let per_value = delta / bound as f64;
            let p = (-1.0 / rule.mechanism().scale().to_f64()).exp();
            prop_assert!(exact <= per_value, "{} > {}", exact, per_value);
            prop_assert!(exact >= p * per_value * (1.0 - 1e-6), "{} too conservative", exact);
            prop_assert!(rule.tau() >= 1.0);
        }

        /// Noise scale equals bound/ε up to the documented rounding of ε
        /// down to a multiple of 0.001.
        #[test]
        fn noise_scale_is_bound_over_rounded_epsilon(bound in 1u64..=1000, eps in 0.001f64..100.0) {
            let s = noise_scale(bound, eps).unwrap();
            // ε' = bound/scale ∈ (ε - 0.001, ε].
            let eps_used = bound as f64 / s.to_f64();
            prop_assert!(eps_used <= eps * (1.0 + 1e-12));
            prop_assert!(eps_used > eps - 0.001 - 1e-9);
        }
    }
}

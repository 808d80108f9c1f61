//! Privacy mechanisms for Candor, pure and deterministic given their
//! randomness.
//!
//! - [`ldp::RandomizedResponse`]: the local-DP encoder a device applies to a
//!   boolean or a category before sealing it, and the matching unbiased
//!   estimator ([`ldp::RandomizedResponse::estimate_noisy`]) on counts the
//!   collector has noised, with a score-type 95% interval.
//!
//! - [`dp::DiscreteLaplace`] and [`dp::DiscreteGaussian`]: the central-DP
//!   noise the collector adds to released counts and sums, sampled exactly
//!   with integer arithmetic (Canonne, Kamath and Steinke 2020) from a
//!   rational scale ([`dp::Ratio`]); each states its variance and 95%
//!   interval.
//!
//! - [`threshold`]: the release rules as pure functions: decisions on noisy
//!   counts only ([`threshold::passes_threshold`]), the noise scale `Δ/ε`
//!   of a bounded contribution ([`threshold::noise_scale`]) and the noisy
//!   threshold `τ` that decides which values of an open set (domains,
//!   undeclared dimension values) are released
//!   ([`threshold::open_set_threshold`], [`threshold::OpenSetRule`]), with
//!   its `(ε, δ)` proof in the module docs.
//!
//! - [`budget`]: the privacy-budget accountant, a pure in-memory
//!   [`budget::Ledger`] of the ε and δ spent per [`budget::BudgetKey`]
//!   (region, purpose, metric, day) in exact integer units, under three
//!   caps ([`budget::Caps`]: ε per metric and day, ε and δ per purpose and
//!   day); a release over several days spends on each day, all or nothing.
//!   The collector persists it through [`budget::Ledger::entries`] and
//!   [`budget::Ledger::from_entries`].
//!
//! Randomness is always supplied by the caller (`rand_core::Rng`), so the
//! SDK passes a CSPRNG and tests pass a seeded generator.
//!
//! ```
//! use candor_privacy::ldp::RandomizedResponse;
//! use rand_core::{Rng, TryRng};
//!
//! // A toy generator for the example; real callers pass a CSPRNG.
//! struct Counter(u64);
//! impl TryRng for Counter {
//!     type Error = core::convert::Infallible;
//!     fn try_next_u32(&mut self) -> Result<u32, Self::Error> { Ok(self.try_next_u64()? as u32) }
//!     fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
//!         self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
//!         Ok(self.0)
//!     }
//!     fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
//!         for b in dst { *b = self.try_next_u64()? as u8 } Ok(())
//!     }
//! }
//!
//! let rr = RandomizedResponse::new(2.0, 2).unwrap(); // a boolean at ε = 2
//! let reported = rr.randomize(1, &mut Counter(7));   // true is index 1
//! assert!(reported < 2);
//!
//! // A count of sensitivity 1 released at ε = 0.5: scale 2, exact noise.
//! let lap = candor_privacy::dp::DiscreteLaplace::for_epsilon(1, 0.5).unwrap();
//! let noisy = lap.add_noise(1234, &mut Counter(9));
//! let _interval = (noisy - lap.ci95_halfwidth() as i64, noisy + lap.ci95_halfwidth() as i64);
//! ```
#![deny(missing_docs)]

pub mod budget;
pub mod dp;
pub mod ldp;
mod sample;
pub mod threshold;

pub use sample::{bernoulli, bernoulli_rational, uniform_below};

/// Errors from building a mechanism with invalid parameters.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// ε must be finite and positive.
    #[error("epsilon must be finite and > 0, got {0}")]
    InvalidEpsilon(f64),
    /// A category set needs at least two values to randomize between.
    #[error("randomized response needs at least 2 categories, got {0}")]
    TooFewCategories(usize),
    /// A rational parameter had a zero denominator.
    #[error("a rational parameter needs a non-zero denominator")]
    ZeroDenominator,
    /// A noise scale (Laplace `t` or Gaussian `σ²`) must be positive.
    #[error("the noise scale must be > 0")]
    NonPositiveScale,
    /// A noise scale beyond the bounds that keep the exact samplers within
    /// 128-bit arithmetic (see [`dp`]'s module docs).
    #[error("noise scale {num}/{den} is too large for the exact sampler")]
    ScaleTooLarge {
        /// Numerator of the rejected parameter (or the sensitivity).
        num: u64,
        /// Its denominator.
        den: u64,
    },
    /// A mechanism needs a query sensitivity of at least 1.
    #[error("sensitivity must be >= 1")]
    ZeroSensitivity,
    /// ε is rounded down to a multiple of 0.001 and must stay positive.
    #[error("epsilon must be >= 0.001 for a discrete mechanism, got {0}")]
    EpsilonTooSmall(f64),
    /// ρ (zCDP) must be finite and at least 10^-6.
    #[error("rho must be finite and >= 1e-6, got {0}")]
    InvalidRho(f64),
    /// δ of a noisy threshold must be in `(0, 1/2]`.
    #[error("delta must be in (0, 0.5], got {0}")]
    InvalidDelta(f64),
    /// A draw left the `i64` range or 128-bit arithmetic; its probability
    /// is astronomically small (see [`dp`]).
    #[error("a noise draw fell outside the representable range")]
    SampleOutOfRange,
}

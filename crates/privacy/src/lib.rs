//! Privacy mechanisms for Candor, pure and deterministic given their
//! randomness.
//!
//! - [`ldp::RandomizedResponse`]: the local-DP encoder a device applies to a
//!   boolean or a category before sealing it, and the matching unbiased
//!   estimator ([`ldp::RandomizedResponse::estimate`]) with a 95% interval.
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
//! ```
#![deny(missing_docs)]

pub mod ldp;
mod sample;

pub use sample::{bernoulli, uniform_below};

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
}

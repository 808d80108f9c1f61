//! Exact uniform and Bernoulli draws from a caller-supplied generator.

use rand_core::Rng;

/// A uniform integer in `0..n` (`n > 0`), without modulo bias: draws that
/// fall in the incomplete top range are rejected and redrawn.
pub fn uniform_below<R: Rng + ?Sized>(n: u64, rng: &mut R) -> u64 {
    debug_assert!(n > 0);
    let n = n.max(1);
    // The largest multiple of n that fits, so every residue is equally likely.
    let zone = u64::MAX - (u64::MAX % n + 1) % n;
    loop {
        let x = rng.next_u64();
        if x <= zone {
            return x % n;
        }
    }
}

/// `true` with probability `p` (clamped to [0, 1]), comparing a uniform
/// 53-bit fraction with `p`. Used only for randomized response, whose
/// privacy does not hinge on the last bits of `p` (unlike a floating-point
/// Laplace sampler).
pub fn bernoulli<R: Rng + ?Sized>(p: f64, rng: &mut R) -> bool {
    let u = (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
    u < p
}

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

/// A uniform integer in `0..n` (`n > 0`) for 128-bit bounds, by the same
/// rejection as [`uniform_below`] (two 64-bit draws per attempt).
pub(crate) fn uniform_below_u128<R: Rng + ?Sized>(n: u128, rng: &mut R) -> u128 {
    debug_assert!(n > 0);
    let n = n.max(1);
    if let Ok(small) = u64::try_from(n) {
        return u128::from(uniform_below(small, rng));
    }
    let zone = u128::MAX - (u128::MAX % n + 1) % n;
    loop {
        let x = (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
        if x <= zone {
            return x % n;
        }
    }
}

/// `true` with probability exactly `num / den` (`den > 0`; `num >= den`
/// always gives `true`), with no floating point: a uniform draw below `den`
/// is compared with `num`. A zero `den` is treated as probability 1 in
/// release builds (and is a debug assertion), so it never panics.
pub fn bernoulli_rational<R: Rng + ?Sized>(num: u64, den: u64, rng: &mut R) -> bool {
    debug_assert!(den > 0);
    if num >= den {
        return true;
    }
    uniform_below(den, rng) < num
}

/// [`bernoulli_rational`] for 128-bit numerator and denominator.
pub(crate) fn bernoulli_rational_u128<R: Rng + ?Sized>(num: u128, den: u128, rng: &mut R) -> bool {
    debug_assert!(den > 0);
    if num >= den {
        return true;
    }
    uniform_below_u128(den, rng) < num
}

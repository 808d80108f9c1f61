//! Exact discrete Laplace and discrete Gaussian noise for central DP.
//!
//! The samplers follow Canonne, Kamath and Steinke, *The Discrete Gaussian
//! for Differential Privacy* (2020), Algorithms 1–3, using only integer and
//! rational arithmetic (`u64`/`u128`): no floating point touches a sample,
//! so the output distribution is exactly the stated one and the privacy
//! proof does not hinge on rounding (unlike a floating-point Laplace, which
//! leaks through its low bits; Mironov 2012).
//!
//! - [`Ratio`]: a non-negative rational with `u64` parts, the parameter type.
//! - [`bernoulli_exp_neg`]: `Bernoulli(exp(-γ))` for rational `γ ≥ 0`.
//! - [`sample_discrete_laplace`], [`sample_discrete_gaussian`]: the raw
//!   samplers.
//! - [`DiscreteLaplace`], [`DiscreteGaussian`]: validated mechanisms with
//!   their scale, variance and 95% interval, as a release states them.
//!
//! # Randomness
//!
//! Every function takes the generator from the caller. Production code MUST
//! pass a cryptographically secure generator seeded from the OS, e.g.
//! `rand_chacha::ChaCha20Rng::from_seed(seed)` with `seed` filled by
//! `getrandom::fill` (as the SDK does); tests pass a seeded generator.
//!
//! # Bounds
//!
//! All intermediate products fit in `u128` for the accepted parameters:
//!
//! - Laplace scale `t = num/den` with `0 < t ≤ 2^40` ([`MAX_LAPLACE_SCALE`]).
//!   A sample is `floor((U + num·V)/den)` with `U < num < 2^64` and `V` a
//!   geometric count, so it fits in `u128` unless `V ≥ 2^64`, which takes
//!   more than `2^64` consecutive successful coin flips. A sample beyond
//!   `i64` has probability below `exp(-2^23)`; the raw sampler reports it as
//!   [`Error::SampleOutOfRange`] instead of wrapping.
//! - Gaussian `σ² = n/d` with `Q = 2·n·d·t² ≤ 2^110` where `t = ⌊σ⌋ + 1`
//!   (for an integer σ² this allows σ up to about `1.5·10^8`). The rejection
//!   exponent is `a²/Q` with `a = |Y|·d·t − n`; when `a²` would overflow,
//!   `γ > u128::MAX / Q ≥ 2^18` and the candidate is rejected by an exact
//!   `Bernoulli(exp(-2^18))` coin (see [`sample_discrete_gaussian`]).

use rand_core::Rng;

use crate::Error;
use crate::sample::{bernoulli_rational_u128, uniform_below};

/// The largest discrete Laplace scale accepted (`2^40 ≈ 1.1·10^12`).
pub const MAX_LAPLACE_SCALE: u64 = 1 << 40;

/// The largest `2·n·d·t²` accepted for a discrete Gaussian `σ² = n/d`.
const MAX_GAUSS_Q: u128 = 1 << 110;

/// Denominator of ε when [`DiscreteLaplace::for_epsilon`] makes it rational.
const EPSILON_DEN: u64 = 1000;

/// Denominator of ρ when [`DiscreteGaussian::for_zcdp`] makes it rational.
const RHO_DEN: u64 = 1_000_000;

/// Below this σ² the Gaussian variance and interval are summed exactly from
/// the probability mass function; above it they equal the continuous ones
/// to far below `f64` resolution.
const GAUSS_EXACT_SIGMA2: f64 = 100.0;

/// A non-negative rational `num/den` with `u64` parts, kept reduced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ratio {
    num: u64,
    den: u64,
}

impl Ratio {
    /// `num/den` reduced by their gcd; `den` must be non-zero.
    pub fn new(num: u64, den: u64) -> Result<Self, Error> {
        if den == 0 {
            return Err(Error::ZeroDenominator);
        }
        let g = gcd(num, den); // ≥ 1 because den ≠ 0
        Ok(Self {
            num: num / g,
            den: den / g,
        })
    }

    /// The integer `n` as a ratio `n/1`.
    pub const fn integer(n: u64) -> Self {
        Self { num: n, den: 1 }
    }

    /// The reduced numerator.
    pub const fn num(self) -> u64 {
        self.num
    }

    /// The reduced denominator (never zero).
    pub const fn den(self) -> u64 {
        self.den
    }

    /// The nearest `f64`, for display and statistics only.
    pub fn to_f64(self) -> f64 {
        self.num as f64 / self.den as f64
    }
}

impl core::fmt::Display for Ratio {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}/{}", self.num, self.den)
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `true` with probability exactly `exp(-γ)`, for rational `γ ≥ 0`
/// (CKS20 Algorithm 1, including its decomposition for `γ > 1`).
///
/// Expected cost is a handful of uniform draws for any `γ`: the `γ > 1`
/// loop stops at the first failed `Bernoulli(exp(-1))` coin.
pub fn bernoulli_exp_neg<R: Rng + ?Sized>(gamma: Ratio, rng: &mut R) -> bool {
    bernoulli_exp_neg_u128(u128::from(gamma.num), u128::from(gamma.den), rng)
}

/// [`bernoulli_exp_neg`] for `γ = num/den` with 128-bit parts (`den > 0`).
fn bernoulli_exp_neg_u128<R: Rng + ?Sized>(num: u128, den: u128, rng: &mut R) -> bool {
    // exp(-γ) = exp(-1)^⌊γ⌋ · exp(-(γ - ⌊γ⌋)), each factor an independent coin.
    let whole = num / den;
    let mut k = 0u128;
    while k < whole {
        if !bernoulli_exp_neg_unit(1, 1, rng) {
            return false;
        }
        k += 1;
    }
    bernoulli_exp_neg_unit(num % den, den, rng)
}

/// `Bernoulli(exp(-γ))` for `γ = num/den ∈ [0, 1]`: count `K` while
/// `Bernoulli(γ/K)` succeeds and return whether the final `K` is odd.
fn bernoulli_exp_neg_unit<R: Rng + ?Sized>(num: u128, den: u128, rng: &mut R) -> bool {
    debug_assert!(num <= den);
    let mut k: u128 = 1;
    // Bernoulli(γ/K) as the product of independent Bernoulli(γ) and
    // Bernoulli(1/K) coins, so that den·K never has to be formed.
    while bernoulli_rational_u128(num, den, rng) && bernoulli_rational_u128(1, k, rng) {
        k += 1;
    }
    k % 2 == 1
}

fn check_laplace_scale(scale: Ratio) -> Result<(), Error> {
    if scale.num == 0 {
        return Err(Error::NonPositiveScale);
    }
    // scale > MAX ⇔ num > MAX·den, compared in u128 so it cannot overflow.
    if u128::from(scale.num) > u128::from(MAX_LAPLACE_SCALE) * u128::from(scale.den) {
        return Err(Error::ScaleTooLarge {
            num: scale.num,
            den: scale.den,
        });
    }
    Ok(())
}

/// One draw from the discrete Laplace distribution with scale `t`:
/// `P[X = x] ∝ exp(-|x|/t)` on the integers (CKS20 Algorithm 2).
///
/// Errors: [`Error::NonPositiveScale`], [`Error::ScaleTooLarge`] (above
/// [`MAX_LAPLACE_SCALE`]) and, with probability below `exp(-2^23)`,
/// [`Error::SampleOutOfRange`] for a draw beyond `i64`.
pub fn sample_discrete_laplace<R: Rng + ?Sized>(scale: Ratio, rng: &mut R) -> Result<i64, Error> {
    check_laplace_scale(scale)?;
    laplace_unchecked(scale, rng)
}

/// Algorithm 2 with the paper's `t/s` = `scale.num/scale.den`.
fn laplace_unchecked<R: Rng + ?Sized>(scale: Ratio, rng: &mut R) -> Result<i64, Error> {
    let (t, s) = (scale.num, scale.den);
    loop {
        // X = U + t·V is Geometric(1 - exp(-1/t)) on {0, 1, ...}: U is its
        // residue mod t (accepted with weight exp(-U/t)), V its quotient.
        let u = uniform_below(t, rng);
        if !bernoulli_exp_neg_unit(u128::from(u), u128::from(t), rng) {
            continue;
        }
        let mut v: u128 = 0;
        while bernoulli_exp_neg_unit(1, 1, rng) {
            v += 1;
        }
        let x = u128::from(t)
            .checked_mul(v)
            .and_then(|tv| tv.checked_add(u128::from(u)))
            .ok_or(Error::SampleOutOfRange)?;
        let y = x / u128::from(s);
        // A fair sign; rejecting "-0" keeps zero from being counted twice.
        let negative = rng.next_u64() & 1 == 1;
        if negative && y == 0 {
            continue;
        }
        let y = i64::try_from(y).map_err(|_| Error::SampleOutOfRange)?;
        return Ok(if negative { -y } else { y });
    }
}

/// The validated integer form of a discrete Gaussian's `σ² = n/d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct GaussParams {
    n: u128,
    d: u128,
    /// `⌊σ⌋ + 1`, the scale of the Laplace proposal.
    t: u64,
    /// `2·n·d·t²`, the denominator of the rejection exponent.
    q: u128,
}

impl GaussParams {
    fn new(sigma2: Ratio) -> Result<Self, Error> {
        if sigma2.num == 0 {
            return Err(Error::NonPositiveScale);
        }
        // ⌊√x⌋ = ⌊√⌊x⌋⌋ for real x ≥ 0, so integer square roots are exact.
        let t = (sigma2.num / sigma2.den).isqrt() + 1;
        let (n, d) = (u128::from(sigma2.num), u128::from(sigma2.den));
        let too_large = Error::ScaleTooLarge {
            num: sigma2.num,
            den: sigma2.den,
        };
        let q = (2 * n)
            .checked_mul(d)
            .and_then(|x| x.checked_mul(u128::from(t)))
            .and_then(|x| x.checked_mul(u128::from(t)))
            .filter(|&q| q <= MAX_GAUSS_Q)
            .ok_or(too_large)?;
        Ok(Self { n, d, t, q })
    }

    /// Accept a Laplace candidate of magnitude `y` with probability
    /// `exp(-(y - σ²/t)² / (2σ²)) = exp(-a²/Q)`, `a = y·d·t - n`.
    fn accept<R: Rng + ?Sized>(&self, y: u64, rng: &mut R) -> Result<bool, Error> {
        let a2 = u128::from(y)
            .checked_mul(self.d)
            .and_then(|yd| yd.checked_mul(u128::from(self.t)))
            .map(|ydt| ydt.abs_diff(self.n))
            .and_then(|a| a.checked_mul(a));
        match a2 {
            Some(a2) => Ok(bernoulli_exp_neg_u128(a2, self.q, rng)),
            None => {
                // a² > u128::MAX, so γ > G = ⌊u128::MAX / Q⌋ ≥ 2^18 and
                // Bernoulli(exp(-γ)) = Bernoulli(exp(-G)) ∧ Bernoulli(exp(-(γ-G))).
                // The first coin almost surely rejects, exactly; only if it
                // succeeds (probability < exp(-2^18)) would the unrepresentable
                // remainder be needed, and that is reported instead.
                let g = u128::MAX / self.q;
                if bernoulli_exp_neg_u128(g, 1, rng) {
                    Err(Error::SampleOutOfRange)
                } else {
                    Ok(false)
                }
            }
        }
    }
}

/// One draw from the discrete Gaussian with parameter `σ²`:
/// `P[X = x] ∝ exp(-x²/(2σ²))` on the integers (CKS20 Algorithm 3:
/// rejection from a discrete Laplace with scale `⌊σ⌋ + 1`).
///
/// Errors: [`Error::NonPositiveScale`], [`Error::ScaleTooLarge`] (see the
/// module's bounds) and, with negligible probability (below
/// `exp(-2^18)` per candidate), [`Error::SampleOutOfRange`].
pub fn sample_discrete_gaussian<R: Rng + ?Sized>(sigma2: Ratio, rng: &mut R) -> Result<i64, Error> {
    let params = GaussParams::new(sigma2)?;
    gaussian_unchecked(&params, rng)
}

fn gaussian_unchecked<R: Rng + ?Sized>(p: &GaussParams, rng: &mut R) -> Result<i64, Error> {
    let proposal = Ratio::integer(p.t);
    loop {
        let y = laplace_unchecked(proposal, rng)?;
        if p.accept(y.unsigned_abs(), rng)? {
            return Ok(y);
        }
    }
}

/// Converts a positive `f64` to a rational `k/den` with `k = ⌊x·den⌋`
/// (never above `x`); `None` if `x` is below `1/den`.
fn rational_floor(x: f64, den: u64) -> Option<u64> {
    let scaled = (x * den as f64).floor();
    // `as` saturates for values beyond u64.
    let mut k = scaled as u64;
    // x·den may round across an integer either way: step back if k/den
    // exceeds x, forward if (k+1)/den does not (1.023·1000 is
    // 1022.999…9 in f64, yet 1023/1000 is the very f64 of 1.023).
    if k > 0 && k as f64 / den as f64 > x {
        k -= 1;
    } else if k < u64::MAX && (k + 1) as f64 / den as f64 <= x {
        k += 1;
    }
    (k > 0).then_some(k)
}

/// The discrete Laplace mechanism: adds noise with `P[X = x] ∝
/// exp(-|x|/t)`, which is `(Δ/t)`-DP for a query of sensitivity `Δ`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiscreteLaplace {
    scale: Ratio,
}

impl DiscreteLaplace {
    /// The mechanism with scale `t` (`0 < t ≤` [`MAX_LAPLACE_SCALE`]).
    pub fn new(scale: Ratio) -> Result<Self, Error> {
        check_laplace_scale(scale)?;
        Ok(Self { scale })
    }

    /// The mechanism that is ε-DP for a query of sensitivity `Δ`, with
    /// scale `Δ/ε'` where `ε' = ⌊1000·ε⌋/1000 ≤ ε`: rounding ε down rounds
    /// the scale up, so the guarantee is never weaker than claimed (ε is
    /// read as the decimal the caller wrote: a value whose `f64` form sits a
    /// rounding error below a multiple of 0.001 is taken at that multiple).
    ///
    /// Errors: [`Error::ZeroSensitivity`], [`Error::InvalidEpsilon`] (not
    /// finite and positive), [`Error::EpsilonTooSmall`] (below 0.001),
    /// [`Error::ScaleTooLarge`].
    pub fn for_epsilon(sensitivity: u64, epsilon: f64) -> Result<Self, Error> {
        if sensitivity == 0 {
            return Err(Error::ZeroSensitivity);
        }
        if !(epsilon.is_finite() && epsilon > 0.0) {
            return Err(Error::InvalidEpsilon(epsilon));
        }
        let eps_num =
            rational_floor(epsilon, EPSILON_DEN).ok_or(Error::EpsilonTooSmall(epsilon))?;
        // scale = Δ / (eps_num/1000) = 1000·Δ / eps_num.
        let num = sensitivity
            .checked_mul(EPSILON_DEN)
            .ok_or(Error::ScaleTooLarge {
                num: sensitivity,
                den: 1,
            })?;
        Self::new(Ratio::new(num, eps_num)?)
    }

    /// The scale `t`.
    pub fn scale(&self) -> Ratio {
        self.scale
    }

    /// One noise draw.
    ///
    /// A draw beyond `i64` (probability below `exp(-2^23)`) is redrawn, so
    /// this samples the distribution conditioned on the `i64` range; its
    /// total-variation distance from the untruncated one is below that
    /// probability.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> i64 {
        loop {
            if let Ok(x) = laplace_unchecked(self.scale, rng) {
                return x;
            }
        }
    }

    /// `value` plus one noise draw, saturating at the `i64` bounds.
    pub fn add_noise<R: Rng + ?Sized>(&self, value: i64, rng: &mut R) -> i64 {
        value.saturating_add(self.sample(rng))
    }

    /// The noise variance `2p/(1-p)²` with `p = exp(-1/t)`.
    pub fn variance(&self) -> f64 {
        let inv_t = 1.0 / self.scale.to_f64();
        let p = (-inv_t).exp();
        let one_minus_p = -(-inv_t).exp_m1(); // accurate for large t
        2.0 * p / (one_minus_p * one_minus_p)
    }

    /// The smallest `k` with `P[|X| ≤ k] ≥ 0.95`: from the exact tail
    /// `P[|X| > k] = 2p^(k+1)/(1+p)`, `k = ⌈ln(0.025(1+p))/ln p⌉ - 1`
    /// (evaluated in `f64`).
    pub fn ci95_halfwidth(&self) -> u64 {
        let ln_p = -1.0 / self.scale.to_f64();
        let p = ln_p.exp();
        let k = ((0.025 * (1.0 + p)).ln() / ln_p).ceil() - 1.0;
        k.max(0.0) as u64
    }
}

/// The discrete Gaussian mechanism: adds noise with `P[X = x] ∝
/// exp(-x²/(2σ²))`, which is `Δ²/(2σ²)`-zCDP for a query of sensitivity
/// `Δ` (CKS20 Theorem 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiscreteGaussian {
    sigma2: Ratio,
    params: GaussParams,
}

impl DiscreteGaussian {
    /// The mechanism with parameter `σ² > 0` (bounded as in the module docs).
    pub fn new(sigma2: Ratio) -> Result<Self, Error> {
        Ok(Self {
            sigma2,
            params: GaussParams::new(sigma2)?,
        })
    }

    /// The mechanism that is ρ-zCDP for a query of sensitivity `Δ`:
    /// `σ² = Δ²/(2ρ')` with `ρ' = ⌊10^6·ρ⌋/10^6 ≤ ρ` (σ² rounded up).
    ///
    /// Errors: [`Error::ZeroSensitivity`], [`Error::InvalidRho`] (not finite
    /// and at least `10^-6`), [`Error::ScaleTooLarge`].
    pub fn for_zcdp(sensitivity: u64, rho: f64) -> Result<Self, Error> {
        if sensitivity == 0 {
            return Err(Error::ZeroSensitivity);
        }
        if !(rho.is_finite() && rho > 0.0) {
            return Err(Error::InvalidRho(rho));
        }
        let rho_num = rational_floor(rho, RHO_DEN).ok_or(Error::InvalidRho(rho))?;
        let too_large = Error::ScaleTooLarge {
            num: sensitivity,
            den: 1,
        };
        // σ² = Δ² / (2·rho_num/10^6) = 10^6·Δ² / (2·rho_num).
        let num = sensitivity
            .checked_mul(sensitivity)
            .and_then(|d2| d2.checked_mul(RHO_DEN))
            .ok_or_else(|| too_large.clone())?;
        let den = rho_num.checked_mul(2).ok_or(too_large)?;
        Self::new(Ratio::new(num, den)?)
    }

    /// The parameter `σ²`.
    pub fn sigma2(&self) -> Ratio {
        self.sigma2
    }

    /// One noise draw; like [`DiscreteLaplace::sample`], the negligible
    /// [`Error::SampleOutOfRange`] event is redrawn.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> i64 {
        loop {
            if let Ok(x) = gaussian_unchecked(&self.params, rng) {
                return x;
            }
        }
    }

    /// `value` plus one noise draw, saturating at the `i64` bounds.
    pub fn add_noise<R: Rng + ?Sized>(&self, value: i64, rng: &mut R) -> i64 {
        value.saturating_add(self.sample(rng))
    }

    /// The noise variance `Σ x² e^(-x²/2σ²) / Σ e^(-x²/2σ²)`, always below
    /// σ² (CKS20 Proposition 5). Summed over `|x| ≤ 40σ + 1` for
    /// `σ² ≤ 100`; above that it equals σ² to within a relative
    /// `O(σ² e^(-2π²σ²))` (Poisson summation), far below `f64` precision.
    pub fn variance(&self) -> f64 {
        let s2 = self.sigma2.to_f64();
        if s2 > GAUSS_EXACT_SIGMA2 {
            return s2;
        }
        let (mut z, mut m2) = (0.0, 0.0);
        for x in gauss_support(s2) {
            let w = gauss_weight(x, s2);
            z += w;
            m2 += (x * x) as f64 * w;
        }
        m2 / z
    }

    /// The smallest `k` with `P[|X| ≤ k] ≥ 0.95`, summed exactly from the
    /// mass function for `σ² ≤ 100`; above that `⌈1.96·σ⌉`, the continuous
    /// quantile, which by the midpoint rule (`P[|X| ≤ k] ≈ P[|N| ≤ k + ½]`)
    /// overshoots the discrete one by about half a unit, so it stays a
    /// valid 95% bound.
    pub fn ci95_halfwidth(&self) -> u64 {
        let s2 = self.sigma2.to_f64();
        if s2 > GAUSS_EXACT_SIGMA2 {
            return (1.959_963_984_540_054 * s2.sqrt()).ceil() as u64;
        }
        let z: f64 = gauss_support(s2).map(|x| gauss_weight(x, s2)).sum();
        let mut inside = gauss_weight(0, s2) / z;
        let mut k = 0u64;
        while inside < 0.95 {
            k += 1;
            inside += 2.0 * gauss_weight(k as i64, s2) / z;
        }
        k
    }
}

fn gauss_support(sigma2: f64) -> core::ops::RangeInclusive<i64> {
    let r = (40.0 * sigma2.sqrt()).ceil() as i64 + 1;
    -r..=r
}

fn gauss_weight(x: i64, sigma2: f64) -> f64 {
    (-((x * x) as f64) / (2.0 * sigma2)).exp()
}

#[cfg(test)]
mod tests;

//! Seeded randomness for the usage model: ChaCha8 streams derived from the
//! run's seed, and the few distributions the model draws from.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng as _, SeedableRng};

/// SplitMix64 of `a` and `b`: independent, well-mixed seeds for
/// neighbouring indices (device, day).
pub(crate) fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A deterministic random stream.
#[derive(Debug, Clone)]
pub(crate) struct Rng(ChaCha8Rng);

impl Rng {
    /// The stream of `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Rng(ChaCha8Rng::seed_from_u64(seed))
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform in `0..n` (`n` ≥ 1; 0 when `n` is 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        ((self.unit() * n as f64) as usize).min(n.saturating_sub(1))
    }

    /// Standard normal (Box–Muller; one of the pair is used).
    pub(crate) fn normal(&mut self) -> f64 {
        // 1 − u is in (0, 1], so the logarithm is finite.
        let u = 1.0 - self.unit();
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// Log-normal with the given median and log-scale σ.
    pub(crate) fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }

    /// Poisson with the given mean (Knuth's method below 30, a rounded
    /// normal approximation above).
    pub(crate) fn poisson(&mut self, mean: f64) -> u64 {
        if mean.is_nan() || mean <= 0.0 {
            return 0;
        }
        if mean < 30.0 {
            let limit = (-mean).exp();
            let mut k = 0;
            let mut p = self.unit();
            while p > limit {
                k += 1;
                p *= self.unit();
            }
            k
        } else {
            (mean + mean.sqrt() * self.normal()).round().max(0.0) as u64
        }
    }

    /// Gamma with the given shape (> 0) and scale 1 (Marsaglia and Tsang;
    /// shapes below 1 through `Gamma(shape + 1) · U^(1/shape)`).
    pub(crate) fn gamma(&mut self, shape: f64) -> f64 {
        if shape < 1.0 {
            let u = 1.0 - self.unit();
            return self.gamma(shape + 1.0) * u.powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = 1.0 - self.unit();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v;
            }
        }
    }

    /// Beta with mean `mean` in [0, 1] and concentration `k` (α + β): small
    /// `k` spreads the values towards 0 and 1. Mean 0 or 1 gives exactly
    /// that value.
    pub(crate) fn beta_mean(&mut self, mean: f64, k: f64) -> f64 {
        if mean <= 0.0 {
            return 0.0;
        }
        if mean >= 1.0 {
            return 1.0;
        }
        let a = self.gamma(mean * k);
        let b = self.gamma((1.0 - mean) * k);
        if a + b > 0.0 { a / (a + b) } else { mean }
    }

    /// An index drawn from a cumulative weight table (non-decreasing, last
    /// entry the total, which must be positive).
    pub(crate) fn pick(&mut self, cumulative: &[f64]) -> usize {
        let total = cumulative.last().copied().unwrap_or(0.0);
        let x = self.unit() * total;
        cumulative
            .partition_point(|&c| c <= x)
            .min(cumulative.len().saturating_sub(1))
    }
}

/// Running sums of `weights`: the table [`Rng::pick`] draws from.
pub(crate) fn cumulative(weights: impl IntoIterator<Item = f64>) -> Vec<f64> {
    let mut total = 0.0;
    weights
        .into_iter()
        .map(|w| {
            total += w.max(0.0);
            total
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distributions_have_their_means() {
        let mut rng = Rng::new(3);
        let n = 20_000;
        for mean in [0.05, 1.0, 7.5, 45.0] {
            let total: u64 = (0..n).map(|_| rng.poisson(mean)).sum();
            let got = total as f64 / n as f64;
            assert!(
                (got - mean).abs() < 0.05 * mean + 0.02,
                "poisson {mean}: {got}"
            );
        }
        let mut above = 0;
        for _ in 0..n {
            if rng.lognormal(10.0, 1.0) > 10.0 {
                above += 1;
            }
        }
        assert!((above as f64 / n as f64 - 0.5).abs() < 0.02, "median");
        for (mean, k) in [(0.15, 2.0), (0.5, 1.0), (0.9, 5.0)] {
            let total: f64 = (0..n).map(|_| rng.beta_mean(mean, k)).sum();
            let got = total / n as f64;
            assert!((got - mean).abs() < 0.01, "beta {mean}: {got}");
        }
        assert_eq!(rng.beta_mean(0.0, 2.0), 0.0);
        assert_eq!(rng.beta_mean(1.0, 2.0), 1.0);
        assert_eq!(rng.poisson(0.0), 0);
        assert_eq!(rng.poisson(f64::NAN), 0);
    }

    #[test]
    fn picks_follow_the_weights() {
        let mut rng = Rng::new(9);
        let table = cumulative([1.0, 0.0, 3.0]);
        let mut counts = [0usize; 3];
        for _ in 0..40_000 {
            counts[rng.pick(&table)] += 1;
        }
        assert_eq!(counts[1], 0);
        let share = counts[2] as f64 / 40_000.0;
        assert!((share - 0.75).abs() < 0.01, "{counts:?}");
    }

    #[test]
    fn streams_are_reproducible() {
        let a: Vec<u64> = (0..5).map(|_| Rng::new(mix(1, 2)).poisson(4.0)).collect();
        let b: Vec<u64> = (0..5).map(|_| Rng::new(mix(1, 2)).poisson(4.0)).collect();
        assert_eq!(a, b);
        assert_ne!(mix(1, 2), mix(2, 1));
    }
}

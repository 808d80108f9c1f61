//! Local differential privacy: k-ary randomized response.
//!
//! A device keeps its true value with probability `p = e^ε / (e^ε + k − 1)`
//! and otherwise reports one of the other `k − 1` values uniformly, each with
//! probability `q = 1 / (e^ε + k − 1)`. Any two true values produce any
//! report with probabilities whose ratio is at most `p / q = e^ε`: that is
//! ε-local differential privacy. For a boolean, `k = 2`.
//!
//! The collector sees only randomized counts `c_v` out of `n` reports. Since
//! `E[c_v] = n_v p + (n − n_v) q`, the estimate `(c_v − n q) / (p − q)` of the
//! true count `n_v` is unbiased, with variance
//! `(n_v p(1−p) + (n − n_v) q(1−q)) / (p − q)²`.

use rand_core::Rng;

use crate::Error;
use crate::sample::{bernoulli, uniform_below};

/// Randomized response over `k` values, indexed `0..k`, at a given ε.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomizedResponse {
    epsilon: f64,
    k: usize,
    p: f64,
    q: f64,
}

/// An unbiased estimate of one value's true count, with its 95% interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// The unbiased point estimate (may be negative or exceed `n` for small samples).
    pub value: f64,
    /// Standard error of the estimate.
    pub std_error: f64,
    /// Lower end of the 95% normal-approximation interval.
    pub low: f64,
    /// Upper end of the 95% normal-approximation interval.
    pub high: f64,
}

/// z for a two-sided 95% normal interval.
const Z95: f64 = 1.959_963_984_540_054;

impl RandomizedResponse {
    /// The mechanism for `k` values at privacy parameter `epsilon`.
    pub fn new(epsilon: f64, k: usize) -> Result<Self, Error> {
        if !epsilon.is_finite() || epsilon <= 0.0 {
            return Err(Error::InvalidEpsilon(epsilon));
        }
        if k < 2 {
            return Err(Error::TooFewCategories(k));
        }
        let e = epsilon.exp();
        let denom = e + (k as f64 - 1.0);
        Ok(RandomizedResponse {
            epsilon,
            k,
            p: e / denom,
            q: 1.0 / denom,
        })
    }

    /// ε of this mechanism.
    pub fn epsilon(&self) -> f64 {
        self.epsilon
    }

    /// Number of values.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Probability of reporting the true value.
    pub fn p_keep(&self) -> f64 {
        self.p
    }

    /// Probability of reporting one particular other value.
    pub fn q_other(&self) -> f64 {
        self.q
    }

    /// Randomizes the true value index `truth` (taken modulo `k` so that no
    /// input can escape the value set).
    pub fn randomize<R: Rng + ?Sized>(&self, truth: usize, rng: &mut R) -> usize {
        let truth = truth % self.k;
        if bernoulli(self.p, rng) {
            return truth;
        }
        // One of the other k − 1 values, uniformly.
        let other = uniform_below(self.k as u64 - 1, rng) as usize;
        if other >= truth { other + 1 } else { other }
    }

    /// Estimates the true number of reports holding value `v`, given that
    /// `observed` of `n` randomized reports hold it.
    pub fn estimate(&self, observed: u64, n: u64) -> Estimate {
        let (c, n) = (observed as f64, n as f64);
        let d = self.p - self.q;
        let value = (c - n * self.q) / d;
        // Plug-in variance with the estimate clamped to [0, n].
        let nv = value.clamp(0.0, n);
        let var = (nv * self.p * (1.0 - self.p) + (n - nv) * self.q * (1.0 - self.q)) / (d * d);
        let std_error = var.sqrt();
        Estimate {
            value,
            std_error,
            low: value - Z95 * std_error,
            high: value + Z95 * std_error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;

    #[test]
    fn parameters_are_checked() {
        assert!(RandomizedResponse::new(0.0, 2).is_err());
        assert!(RandomizedResponse::new(f64::NAN, 2).is_err());
        assert!(RandomizedResponse::new(1.0, 1).is_err());
        let rr = RandomizedResponse::new(2.0_f64.ln(), 2).expect("valid");
        assert!((rr.p_keep() - 2.0 / 3.0).abs() < 1e-12);
        assert!(
            (rr.p_keep() / rr.q_other() - 2.0).abs() < 1e-12,
            "ratio is e^ε"
        );
    }

    #[test]
    fn output_distribution_matches_p_and_q() {
        let rr = RandomizedResponse::new(1.0, 4).expect("valid");
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let n = 200_000;
        let mut counts = [0u64; 4];
        for _ in 0..n {
            counts[rr.randomize(2, &mut rng)] += 1;
        }
        for (v, &c) in counts.iter().enumerate() {
            let expect = if v == 2 { rr.p_keep() } else { rr.q_other() } * n as f64;
            let sd = (expect * (1.0 - expect / n as f64)).sqrt();
            assert!(
                (c as f64 - expect).abs() < 5.0 * sd,
                "value {v}: {c} vs {expect}"
            );
        }
    }

    #[test]
    fn estimator_is_unbiased_within_its_interval() {
        // A simulated population: 30% true among 100 000 devices, ε = 2.
        let rr = RandomizedResponse::new(2.0, 2).expect("valid");
        let n = 100_000u64;
        let truth = 30_000u64;
        let mut covered = 0;
        let trials = 40;
        let mut mean_error = 0.0;
        for seed in 0..trials {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let observed = (0..n)
                .filter(|&i| rr.randomize(usize::from(i < truth), &mut rng) == 1)
                .count() as u64;
            let est = rr.estimate(observed, n);
            mean_error += (est.value - truth as f64) / trials as f64;
            if est.low <= truth as f64 && truth as f64 <= est.high {
                covered += 1;
            }
        }
        // 95% intervals: expect ~38 of 40; fewer than 34 would be a broken interval.
        assert!(covered >= 34, "covered {covered}/{trials}");
        // Mean error of 40 unbiased estimates: sd of the mean ~ se/√40.
        let se = rr.estimate(0, n).std_error.max(rr.estimate(n, n).std_error);
        assert!(
            mean_error.abs() < 4.0 * se / (trials as f64).sqrt(),
            "bias {mean_error}"
        );
    }
}

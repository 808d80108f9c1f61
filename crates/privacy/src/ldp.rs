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
//!
//! # Releasing without disclosing `n`
//!
//! Exact randomized counts would give away the number of reports: they sum
//! to `n`, and adding one device's report moves that sum by exactly one. So
//! the collector adds discrete Laplace noise of variance `σ²` to every
//! cell's count before estimating ([`RandomizedResponse::estimate_noisy`]),
//! and uses the sum of the noisy counts as `ñ`. One report is in exactly one
//! cell, so the vector of counts has L1 sensitivity 1 and the noisy counts
//! are ε-DP for adding or removing a report; the estimates are
//! post-processing of them. The estimator stays unbiased (the noise has mean
//! zero), and its error variance gains `σ²·((1−q)² + (k−1)q²)/(p−q)²`.
//!
//! With *permanent* randomized response (the device draws its answer once
//! per true value and repeats it every day it reports), the reports of one
//! device over a range of days are not independent: its answer is counted
//! up to `r` times, and the randomization's variance is up to `r` times
//! the variance of independent reports (`Var(Σ mᵢXᵢ) = Σ mᵢ² Var(Xᵢ) ≤
//! r·Σ mᵢ Var(Xᵢ)` for `mᵢ ≤ r` reports per device). The interval takes
//! that bound (`repeats`); for one day, `r` = 1.
//!
//! Its 95% interval is a **score** (Wilson-type) interval, not a plug-in:
//! it is the set of true counts `m` for which the observed estimate is
//! within 1.96 standard errors *computed at `m`*, which keeps its coverage
//! near 95% for small groups and extreme shares where the plug-in interval
//! (the variance evaluated at the estimate itself) is too narrow.

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
    /// Lower end of the 95% interval.
    pub low: f64,
    /// Upper end of the 95% interval.
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

    /// Estimates the true number of reports holding value `v` from counts
    /// that carry independent central noise of variance `noise_variance`
    /// on every one of the `k` cells: `noisy_observed` is `v`'s noisy count
    /// and `noisy_n` the sum of all `k` noisy counts; `repeats` (≥ 1) is the
    /// most reports one device's memoized answer may have been counted in
    /// (the days of the range; see the module docs).
    /// The interval is the score interval, clamped below at 0 (a count is
    /// never negative, so clamping cannot lose coverage); the point
    /// estimate is not clamped, so it stays unbiased.
    pub fn estimate_noisy(
        &self,
        noisy_observed: i64,
        noisy_n: i64,
        noise_variance: f64,
        repeats: u32,
    ) -> Estimate {
        let (p, q, k) = (self.p, self.q, self.k as f64);
        let d = p - q;
        let n = noisy_n.max(0) as f64;
        let x = noisy_observed as f64 - noisy_n as f64 * q;
        let value = x / d;
        // Var(x | m) = a + b·m, in the units of x.
        let r = f64::from(repeats.max(1));
        let noise = noise_variance.max(0.0) * ((1.0 - q).powi(2) + (k - 1.0) * q * q);
        let a = r * n * q * (1.0 - q) + noise;
        let b = r * (p * (1.0 - p) - q * (1.0 - q));
        let std_at = |m: f64| (a + b * m.clamp(0.0, n)).max(0.0).sqrt() / d;
        let std_error = std_at(value);
        // (x − d·m)² ≤ z²(a + b·m)  ⇔  d²m² − (2dx + z²b)m + x² − z²a ≤ 0.
        let z2 = Z95 * Z95;
        let qa = d * d;
        let qb = -(2.0 * d * x + z2 * b);
        let qc = x * x - z2 * a;
        let disc = qb * qb - 4.0 * qa * qc;
        let (low, high) = if disc >= 0.0 {
            let r = disc.sqrt();
            ((-qb - r) / (2.0 * qa), (-qb + r) / (2.0 * qa))
        } else {
            // Only when a + b·m < 0 somewhere near the estimate, which the
            // clamped standard error avoids: fall back to it.
            (value - Z95 * std_error, value + Z95 * std_error)
        };
        Estimate {
            value,
            std_error,
            low: low.max(0.0),
            high: high.max(0.0),
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
            let est = rr.estimate_noisy(observed as i64, n as i64, 0.0, 1);
            mean_error += (est.value - truth as f64) / trials as f64;
            if est.low <= truth as f64 && truth as f64 <= est.high {
                covered += 1;
            }
        }
        // 95% intervals: expect ~38 of 40; fewer than 34 would be a broken interval.
        assert!(covered >= 34, "covered {covered}/{trials}");
        // Mean error of 40 unbiased estimates: sd of the mean ~ se/√40.
        let se = rr
            .estimate_noisy(0, n as i64, 0.0, 1)
            .std_error
            .max(rr.estimate_noisy(n as i64, n as i64, 0.0, 1).std_error);
        assert!(
            mean_error.abs() < 4.0 * se / (trials as f64).sqrt(),
            "bias {mean_error}"
        );
    }

    /// Noisy counts (discrete Laplace of scale 4 on every cell, as a
    /// release at a count ε of 0.25 adds) around small groups near k: the
    /// score interval covers the truth in about 95% of populations, and
    /// the estimate is unbiased.
    #[test]
    fn noisy_estimate_covers_small_groups() {
        use crate::dp::DiscreteLaplace;
        let lap = DiscreteLaplace::for_epsilon(1, 0.25).expect("valid");
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for (k, eps, n, share) in [
            (2usize, 2.0, 12u64, 0.3),
            (4, 1.5, 15, 0.5),
            (8, 2.0, 25, 0.1),
            (2, 2.0, 200, 0.9),
        ] {
            let rr = RandomizedResponse::new(eps, k).expect("valid");
            let truth = (n as f64 * share).round() as u64;
            let trials = 3000;
            let (mut covered, mut sum_error) = (0, 0.0);
            for _ in 0..trials {
                let mut counts = vec![0i64; k];
                for i in 0..n {
                    counts[rr.randomize(usize::from(i >= truth), &mut rng)] += 1;
                }
                let noisy: Vec<i64> = counts.iter().map(|&c| lap.add_noise(c, &mut rng)).collect();
                let noisy_n: i64 = noisy.iter().sum();
                let e = rr.estimate_noisy(noisy[0], noisy_n, lap.variance(), 1);
                sum_error += e.value - truth as f64;
                if e.low <= truth as f64 && truth as f64 <= e.high {
                    covered += 1;
                }
            }
            let rate = covered as f64 / trials as f64;
            assert!(rate >= 0.93, "k={k} n={n}: coverage {rate}");
            let e = rr.estimate_noisy(0, n as i64, lap.variance(), 1);
            let mean_error = sum_error / trials as f64;
            assert!(
                mean_error.abs() < 5.0 * e.std_error.max(1.0) / (trials as f64).sqrt(),
                "k={k} n={n}: bias {mean_error}"
            );
        }
    }

    /// Permanent randomized response over several days: each device's
    /// answer is drawn once and counted on every day it reports. With the
    /// days as `repeats` the interval still covers the truth (it does not
    /// with `repeats = 1`, which treats the repeated answers as independent).
    #[test]
    fn memoized_answers_over_days_are_covered_with_repeats() {
        let rr = RandomizedResponse::new(2.0, 2).expect("valid");
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let (devices, days, trials) = (300usize, 7u32, 400);
        let (mut covered, mut covered_naive) = (0, 0);
        for _ in 0..trials {
            let (mut observed, mut n, mut truth) = (0i64, 0i64, 0i64);
            for i in 0..devices {
                let value = usize::from(i % 4 == 0);
                let answer = rr.randomize(value, &mut rng) as i64;
                // Reports on 5 to 7 of the days.
                let m = 5 + (i % 3) as i64;
                observed += m * answer;
                n += m;
                truth += m * value as i64;
            }
            let e = rr.estimate_noisy(observed, n, 0.0, days);
            if e.low <= truth as f64 && truth as f64 <= e.high {
                covered += 1;
            }
            let naive = rr.estimate_noisy(observed, n, 0.0, 1);
            if naive.low <= truth as f64 && truth as f64 <= naive.high {
                covered_naive += 1;
            }
        }
        let rate = f64::from(covered) / f64::from(trials);
        let naive = f64::from(covered_naive) / f64::from(trials);
        assert!(rate >= 0.94, "coverage {rate}");
        assert!(
            naive < 0.8,
            "treating repeats as independent under-covers: {naive}"
        );
    }
}

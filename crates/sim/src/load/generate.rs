//! Random reports that a correct SDK could have sent: valid for the schema.

use std::collections::BTreeSet;

use candor_protocol::{Day, MetricValue, Report, ReportId};
use candor_schema::{Dimension, DimensionRule, Metric, MetricKind, Schema};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

use super::LoadError;

/// Most domains put into one `domain_set` value, whatever the schema's bound:
/// a device reports a handful of slow sites a day, not a hundred.
const MAX_DOMAINS: u64 = 20;

/// Public suffixes the generated domains end in. Each generated name is one
/// label under one of these, so it is its own registrable domain (eTLD+1),
/// as the SDK's sanitizer would have produced it.
const SUFFIXES: [&str; 8] = ["com", "org", "net", "de", "fr", "io", "co.uk", "com.au"];

/// How many distinct site names the domains are drawn from (skewed, so some
/// sites are reported by many devices and pass a release threshold).
const SITES: u64 = 5_000;

/// Probability that a live metric of the chosen purpose is in a report.
const METRIC_PROBABILITY: f64 = 0.6;

/// One purpose and the metrics a report for it may carry on the day.
#[derive(Debug, Clone)]
struct Plan<'a> {
    id: &'a str,
    consent_version: u32,
    metrics: Vec<&'a Metric>,
}

/// Generates random reports that are valid for a schema, region and day.
///
/// Each report: a fresh [`ReportId`] from the OS CSPRNG (so two runs never
/// collide in the collector's duplicate check); a purpose drawn among those
/// with a metric live on the day; that purpose's current consent version; a
/// random subset (at least one) of the purpose's live metrics with values
/// inside the schema's bounds and closed sets; and one accepted value for
/// each dimension that the chosen metrics declare.
///
/// Everything but the report id is a function of the seed, so a run can be
/// reproduced. Values are skewed (small counts, a few popular labels and
/// sites) the way real usage is, so aggregates have a realistic number of
/// distinct cells.
#[derive(Debug, Clone)]
pub struct ReportGenerator<'a> {
    schema: &'a Schema,
    region: String,
    day: Day,
    plans: Vec<Plan<'a>>,
    rng: ChaCha8Rng,
}

impl<'a> ReportGenerator<'a> {
    /// A generator for reports of `schema` to `region` on `day`.
    ///
    /// Fails when the schema does not declare the region, or when no purpose
    /// has a metric that is live (not expired) on `day`.
    pub fn new(schema: &'a Schema, region: &str, day: Day, seed: u64) -> Result<Self, LoadError> {
        if schema.region(region).is_none() {
            return Err(LoadError::UnknownRegion {
                region: region.to_owned(),
                schema: schema.id.clone(),
            });
        }
        let plans: Vec<Plan<'a>> = schema
            .purposes
            .values()
            .map(|p| Plan {
                id: &p.id,
                consent_version: p.consent_version,
                metrics: schema
                    .metrics_for_purpose(&p.id)
                    .filter(|m| !m.is_expired(day.date()) && can_generate(m))
                    .collect(),
            })
            .filter(|p| !p.metrics.is_empty())
            .collect();
        if plans.is_empty() {
            return Err(LoadError::NoMetrics {
                schema: schema.id.clone(),
                day,
            });
        }
        Ok(ReportGenerator {
            schema,
            region: region.to_owned(),
            day,
            plans,
            rng: ChaCha8Rng::seed_from_u64(seed),
        })
    }

    /// Restarts the generator's random sequence from `seed` (the report ids
    /// stay random).
    pub fn reseed(&mut self, seed: u64) {
        self.rng = ChaCha8Rng::seed_from_u64(seed);
    }

    /// The purposes reports are drawn from: those with a live metric.
    pub fn purposes(&self) -> impl Iterator<Item = &str> + '_ {
        self.plans.iter().map(|p| p.id)
    }

    /// The next report. Fails only if the OS random number generator does.
    pub fn generate(&mut self) -> Result<Report, LoadError> {
        let report_id = ReportId::random()?;
        let rng = &mut self.rng;
        let plan = &self.plans[below(rng, self.plans.len() as u64) as usize];
        let mut chosen: Vec<&Metric> = plan
            .metrics
            .iter()
            .copied()
            .filter(|_| chance(rng, METRIC_PROBABILITY))
            .collect();
        if chosen.is_empty() {
            chosen.push(plan.metrics[below(rng, plan.metrics.len() as u64) as usize]);
        }
        let mut report = Report::new(
            report_id,
            &self.schema.id,
            self.schema.version,
            plan.id,
            plan.consent_version,
            &self.region,
            self.day,
        );
        let mut dimensions = BTreeSet::new();
        for metric in chosen {
            if let Some(value) = value(metric, rng) {
                dimensions.extend(metric.dimensions.iter().map(String::as_str));
                report.metrics.insert(metric.id.clone(), value);
            }
        }
        for id in dimensions {
            if let Some(v) = self.schema.dimension(id).and_then(|d| dimension(d, rng)) {
                report.dimensions.insert(id.to_owned(), v);
            }
        }
        Ok(report)
    }
}

/// Whether [`value`] always yields a value for this metric: the closed set
/// is not empty and the bound leaves room for at least one.
fn can_generate(metric: &Metric) -> bool {
    match &metric.kind {
        MetricKind::Counter | MetricKind::Boolean => true,
        MetricKind::LabeledCounter { labels } => !labels.is_empty() && metric.max_per_report > 0,
        MetricKind::Category { categories } => !categories.is_empty(),
        MetricKind::Distribution { .. } | MetricKind::DomainSet => metric.max_per_report > 0,
        MetricKind::Activity { .. } => true,
        // A type this generator does not know yet: leave it out rather than
        // send something the collector refuses.
        _ => false,
    }
}

/// A random value within the metric's bounds (`None` only for a metric that
/// [`can_generate`] refuses).
fn value(metric: &Metric, rng: &mut ChaCha8Rng) -> Option<MetricValue> {
    let bound = metric.max_per_report;
    Some(match &metric.kind {
        MetricKind::Counter => {
            MetricValue::Counter(if bound == 0 { 0 } else { skewed(rng, bound) })
        }
        MetricKind::LabeledCounter { labels } => {
            if labels.is_empty() || bound == 0 {
                return None;
            }
            let total = skewed(rng, bound);
            let wanted = (1 + below(rng, labels.len().min(3) as u64)).min(total);
            let mut picked = BTreeSet::new();
            // Bounded: at most a few draws per wanted label, then whatever
            // was picked (at least one) is used.
            for _ in 0..wanted * 8 {
                if picked.len() as u64 == wanted {
                    break;
                }
                picked.insert(skewed_index(rng, labels.len()));
            }
            let picked: Vec<usize> = picked.into_iter().collect();
            let counts = split(rng, total, picked.len(), None);
            MetricValue::LabeledCounter(
                picked
                    .iter()
                    .zip(counts)
                    .filter(|(_, c)| *c > 0)
                    .map(|(&i, c)| (labels[i].clone(), c))
                    .collect(),
            )
        }
        MetricKind::Boolean => MetricValue::Boolean(chance(rng, 0.3)),
        MetricKind::Category { categories } => {
            if categories.is_empty() {
                return None;
            }
            MetricValue::Category(categories[skewed_index(rng, categories.len())].clone())
        }
        MetricKind::Distribution { buckets } => {
            if bound == 0 {
                return None;
            }
            let n = buckets.len() + 1;
            let total = skewed(rng, bound);
            // Samples cluster around one bucket, as load times or session
            // lengths of one device do.
            let center = below(rng, n as u64) as usize;
            MetricValue::Distribution(split(rng, total, n, Some(center)))
        }
        MetricKind::DomainSet => {
            if bound == 0 {
                return None;
            }
            let wanted = skewed(rng, bound.min(MAX_DOMAINS));
            let mut set = BTreeSet::new();
            for _ in 0..wanted * 8 {
                if set.len() as u64 == wanted {
                    break;
                }
                let site = skewed(rng, SITES);
                let suffix = SUFFIXES[(site % SUFFIXES.len() as u64) as usize];
                set.insert(format!("site{site}.{suffix}"));
            }
            MetricValue::DomainSet(set)
        }
        // A returning device installed before the horizon: valid on any
        // day, whatever its flags of week and month.
        MetricKind::Activity { .. } => MetricValue::Activity(candor_protocol::Activity {
            today: true,
            first_in_week: chance(rng, 0.3),
            first_in_month: chance(rng, 0.1),
            first_day: false,
            cohort: candor_protocol::Cohort::Older,
        }),
        _ => return None,
    })
}

/// A value the dimension accepts, or `None` for an empty closed set or a
/// rule this generator does not know (the dimension is then left out).
fn dimension(dimension: &Dimension, rng: &mut ChaCha8Rng) -> Option<String> {
    match &dimension.rule {
        DimensionRule::Values(values) if values.is_empty() => None,
        DimensionRule::Values(values) => Some(values[skewed_index(rng, values.len())].clone()),
        DimensionRule::MajorMinor => {
            Some(format!("{}.{}", 118 + skewed(rng, 8) - 1, below(rng, 6)))
        }
        DimensionRule::Major => Some((9 + skewed(rng, 7)).to_string()),
        _ => None,
    }
}

/// Splits `total` into `n` parts that sum to at most `total`, every part at
/// least 1 while `total` allows, with random weights that peak at `center`
/// when given.
fn split(rng: &mut ChaCha8Rng, total: u64, n: usize, center: Option<usize>) -> Vec<u64> {
    let mut parts = vec![0u64; n];
    if n == 0 {
        return parts;
    }
    let weights: Vec<f64> = (0..n)
        .map(|i| {
            let peak = center.map_or(1.0, |c| 1.0 / (1.0 + i.abs_diff(c) as f64).powi(2));
            peak * (0.1 + unit(rng))
        })
        .collect();
    let sum: f64 = weights.iter().sum();
    let mut left = total;
    if center.is_none() {
        // Labeled counters: every picked label was seen at least once.
        for p in parts.iter_mut().take(total.min(n as u64) as usize) {
            *p = 1;
            left -= 1;
        }
    }
    let spread = left;
    for (p, w) in parts.iter_mut().zip(&weights) {
        // Flooring keeps the sum at or below `spread`; the float product
        // is at most `spread`, so the cast cannot overflow.
        let share = ((spread as f64) * w / sum).floor() as u64;
        let share = share.min(left);
        *p += share;
        left -= share;
    }
    if parts.iter().all(|&p| p == 0) && total > 0 {
        parts[center.unwrap_or(0)] = 1;
    }
    parts
}

/// Uniform in `0..n` (`n` ≥ 1), without modulo bias.
fn below(rng: &mut ChaCha8Rng, n: u64) -> u64 {
    debug_assert!(n > 0);
    let n = n.max(1);
    let zone = u64::MAX - (u64::MAX % n);
    loop {
        let x = rng.next_u64();
        if x < zone {
            return x % n;
        }
    }
}

/// Uniform in `[0, 1)`.
fn unit(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

fn chance(rng: &mut ChaCha8Rng, p: f64) -> bool {
    unit(rng) < p
}

/// In `1..=max` (`max` ≥ 1), mostly small: the cube of a uniform draw, so the
/// median is an eighth of `max`.
fn skewed(rng: &mut ChaCha8Rng, max: u64) -> u64 {
    let max = max.max(1);
    let u = unit(rng);
    let v = 1 + ((max - 1) as f64 * u * u * u) as u64;
    v.min(max)
}

/// An index in `0..n` (`n` ≥ 1), the first ones most likely.
fn skewed_index(rng: &mut ChaCha8Rng, n: usize) -> usize {
    let u = unit(rng);
    ((n as f64 * u * u) as usize).min(n.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_respects_the_total() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for total in [0, 1, 2, 3, 10, 999, 1_000_000] {
            for n in [1, 2, 3, 9] {
                for center in [None, Some(0), Some(n - 1)] {
                    let parts = split(&mut rng, total, n, center);
                    assert_eq!(parts.len(), n);
                    let sum: u64 = parts.iter().sum();
                    assert!(sum <= total, "{parts:?} > {total}");
                    if total > 0 {
                        assert!(sum > 0, "{parts:?} for {total}");
                    }
                    if center.is_none() && total >= n as u64 {
                        assert!(parts.iter().all(|&p| p > 0), "{parts:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn draws_stay_in_range() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for max in [1, 2, 7, 500] {
            for _ in 0..1000 {
                let v = skewed(&mut rng, max);
                assert!((1..=max).contains(&v));
                assert!(below(&mut rng, max) < max);
                assert!(skewed_index(&mut rng, max as usize) < max as usize);
            }
        }
    }
}

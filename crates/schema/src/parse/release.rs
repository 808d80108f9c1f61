//! A metric's release settings: the mechanism it allows for the metric's
//! kind, the ε it spends, the δ an open set needs, and both against every
//! region's budget, so a metric that could never be released is refused.

use toml::Spanned;

use crate::diagnostic::ErrorKind;
use crate::limits;
use crate::model::{Region, Release};
use crate::raw::{RawKind, RawMechanism};

use super::paths::join;
use super::{Cx, Refs};

impl Cx<'_> {
    /// Checks `[metrics.ID.release]`; `open_dims` are the metric's dimensions
    /// with open values.
    pub(super) fn release(
        &mut self,
        release: &Spanned<crate::raw::RawRelease>,
        path: &str,
        kind: RawKind,
        open_dims: &[&str],
        refs: &Refs<'_>,
    ) -> Option<Release> {
        let rpath = join(path, "release");
        let r = release.get_ref();
        let eps = *r.epsilon.get_ref();
        let mut ok = self.epsilon(&r.epsilon, &join(&rpath, "epsilon"));
        let local = matches!(r.mechanism.get_ref(), RawMechanism::LocalDp);
        if local && !matches!(kind, RawKind::Boolean | RawKind::Category) {
            self.report(
                r.mechanism.span(),
                join(&rpath, "mechanism"),
                ErrorKind::LocalDpUnsupportedType,
                format!(
                    "local_dp cannot protect a {} metric; it is only for boolean and category metrics (randomized response over a small closed set): use central_dp",
                    kind.name()
                ),
            );
            ok = false;
        }
        // The ε a release spends from the region's budget.
        let (spend, spend_field) = match (local, &r.count_epsilon) {
            (true, Some(c)) => {
                ok &= self.epsilon(c, &join(&rpath, "count_epsilon"));
                (Some(*c.get_ref()), "count_epsilon")
            }
            (true, None) => {
                self.report(
                    release.span(),
                    join(&rpath, "count_epsilon"),
                    ErrorKind::MissingField,
                    "local_dp needs a count_epsilon: the ε of the noise the collector adds to the randomized counts, so that not even the number of reports is released exactly; for example count_epsilon = 0.5",
                );
                ok = false;
                (None, "count_epsilon")
            }
            (false, Some(c)) => {
                self.report(
                    c.span(),
                    join(&rpath, "count_epsilon"),
                    ErrorKind::FieldNotApplicable,
                    "count_epsilon applies only to local_dp; a central_dp release spends its epsilon: remove it",
                );
                ok = false;
                (None, "count_epsilon")
            }
            (false, None) => (Some(eps), "epsilon"),
        };
        let needs_delta = if kind == RawKind::DomainSet {
            Some("a domain_set needs a delta for its open-set threshold".to_owned())
        } else {
            open_dims.first().map(|d| format!(
                "dimension `{d}` has open values (a coarsening rule), and showing a value only one report carried must stay unlikely, so the metric needs a delta"
            ))
        };
        match (&r.delta, needs_delta) {
            (Some(d), _) => ok &= self.delta(d, &join(&rpath, "delta")),
            (None, Some(why)) => {
                self.report(
                    release.span(),
                    join(&rpath, "delta"),
                    ErrorKind::InvalidDelta,
                    format!(
                        "{why}; add delta with 0 < delta <= {:e}, for example 1e-8",
                        limits::MAX_DELTA
                    ),
                );
                ok = false;
            }
            (None, None) => {}
        }
        let delta = r.delta.as_ref().map(|d| *d.get_ref());
        if let (Some(spend), true) = (spend, ok) {
            // The tightest region for each cap, so the message names it.
            let over = |cap: fn(&Region) -> f64| {
                refs.regions
                    .values()
                    .filter(|reg| spend > cap(reg))
                    .min_by(|a, b| cap(a).total_cmp(&cap(b)))
            };
            for (cap, what) in [
                (
                    (|r: &Region| r.epsilon_per_metric_day) as fn(&Region) -> f64,
                    "per metric per day",
                ),
                (
                    |r: &Region| r.epsilon_per_purpose_day,
                    "per purpose per day",
                ),
            ] {
                if let Some(region) = over(cap) {
                    let span = if local {
                        r.count_epsilon
                            .as_ref()
                            .map_or(release.span(), |f| f.span())
                    } else {
                        r.epsilon.span()
                    };
                    self.report(
                        span,
                        join(&rpath, spend_field),
                        ErrorKind::EpsilonOverBudget,
                        format!(
                            "{spend_field} {spend} exceeds the budget of region `{}` ({} {what}), so the metric could never be released there; use {spend_field} <= {}",
                            region.id,
                            cap(region),
                            cap(region)
                        ),
                    );
                    ok = false;
                }
            }
            if let Some(d) = delta {
                let tight = refs
                    .regions
                    .values()
                    .filter(|reg| d > reg.delta_per_purpose_day)
                    .min_by(|a, b| a.delta_per_purpose_day.total_cmp(&b.delta_per_purpose_day));
                if let (Some(region), Some(field)) = (tight, &r.delta) {
                    self.report(
                        field.span(),
                        join(&rpath, "delta"),
                        ErrorKind::DeltaOverBudget,
                        format!(
                            "delta {d:e} exceeds the budget of region `{}` ({:e} per purpose per day), so the metric could never be released there; use delta <= {:e}",
                            region.id, region.delta_per_purpose_day, region.delta_per_purpose_day
                        ),
                    );
                    ok = false;
                }
            }
        }
        if !ok {
            return None;
        }
        Some(if local {
            Release::LocalDp {
                epsilon: eps,
                count_epsilon: spend.expect("checked above"),
                delta,
            }
        } else {
            Release::CentralDp {
                epsilon: eps,
                delta,
            }
        })
    }
}

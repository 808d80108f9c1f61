//! Typed metric handles: look one up once ([`crate::Client::counter`], ...),
//! then record from any thread. Recording never throws and never blocks on
//! I/O: without consent, in private mode or on bad input it does nothing
//! (bad input is counted in [`crate::Client::error_counts`]).

use std::sync::Arc;

use crate::guard::infallible;

/// Declares one handle object over an SDK handle, with its `private` copy.
macro_rules! handle {
    ($(#[$doc:meta])* $name:ident($sdk:ty)) => {
        $(#[$doc])*
        #[derive(uniffi::Object)]
        pub struct $name(pub(crate) $sdk);

        #[uniffi::export]
        impl $name {
            /// A copy of this handle that records as from a private
            /// browsing context (a private tab): it records nothing unless
            /// the metric's purpose is `allowed_in_private_mode`.
            pub fn private(&self, private: bool) -> Arc<Self> {
                Arc::new($name(self.0.private(private)))
            }
        }
    };
}

handle!(
    /// A `counter` metric: how many times something happened.
    CounterMetric(candor_sdk::CounterMetric)
);
handle!(
    /// A `labeled_counter` metric: counts per label of a closed set.
    LabeledCounterMetric(candor_sdk::LabeledCounterMetric)
);
handle!(
    /// One label of a `labeled_counter` metric
    /// ([`LabeledCounterMetric::label`]): the label crosses the boundary
    /// once, not on every add.
    LabelMetric(candor_sdk::LabelMetric)
);
handle!(
    /// A `boolean` metric: the last value of the day wins.
    BooleanMetric(candor_sdk::BooleanMetric)
);
handle!(
    /// A `category` metric: one value of a closed set, the last of the day wins.
    CategoryMetric(candor_sdk::CategoryMetric)
);
handle!(
    /// A `distribution` metric: samples counted into the schema's buckets.
    DistributionMetric(candor_sdk::DistributionMetric)
);
handle!(
    /// A `domain_set` metric: the registrable domains of URLs.
    DomainSetMetric(candor_sdk::DomainSetMetric)
);
handle!(
    /// An `activity` metric: the days the app is in use.
    ActivityMetric(candor_sdk::ActivityMetric)
);

#[uniffi::export]
impl CounterMetric {
    /// Adds `n` (0 ..= 4,294,967,295); anything else is counted
    /// (`negative_value`, `overflow`) and dropped.
    pub fn add(&self, n: i64) {
        infallible((), || self.0.add(n));
    }
}

#[uniffi::export]
impl LabeledCounterMetric {
    /// Adds `n` to `label`; a label outside the schema's set is counted
    /// (`unknown_label`) and dropped.
    pub fn add(&self, label: String, n: i64) {
        infallible((), || self.0.add(&label, n));
    }

    /// A handle on one label, for hot paths: its `add` takes only the
    /// number (about half the crossing cost of `add(label, n)` from
    /// Python or Kotlin). A label outside the schema's set gives a handle
    /// whose every add is counted (`unknown_label`).
    pub fn label(&self, label: String) -> Arc<LabelMetric> {
        Arc::new(LabelMetric(self.0.label(&label)))
    }
}

#[uniffi::export]
impl LabelMetric {
    /// Adds `n` to the label (0 ..= 4,294,967,295).
    pub fn add(&self, n: i64) {
        infallible((), || self.0.add(n));
    }
}

#[uniffi::export]
impl BooleanMetric {
    /// Sets the day's value.
    pub fn set(&self, value: bool) {
        infallible((), || self.0.set(value));
    }
}

#[uniffi::export]
impl CategoryMetric {
    /// Sets the day's category; one outside the schema's set is counted
    /// (`unknown_label`) and dropped.
    pub fn set(&self, category: String) {
        infallible((), || self.0.set(&category));
    }
}

#[uniffi::export]
impl DistributionMetric {
    /// Counts one sample (≥ 0) into its bucket.
    pub fn accumulate(&self, sample: i64) {
        infallible((), || self.0.accumulate(sample));
    }
}

#[uniffi::export]
impl DomainSetMetric {
    /// Records the registrable domain of `url` (never the URL itself); IP
    /// literals, localhost, private and single-label hosts and non-web
    /// schemes are dropped and counted (`url_dropped`).
    pub fn record_url(&self, url: String) {
        infallible((), || self.0.record_url(&url));
    }
}

#[uniffi::export]
impl ActivityMetric {
    /// Says the app is in use now; a day counts once, however often this is
    /// called.
    pub fn active(&self) {
        infallible((), || self.0.active());
    }
}

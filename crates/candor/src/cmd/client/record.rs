//! `candor client record`: one recording call per metric type, through the
//! SDK's typed handles. Recording never fails; when the SDK counted an error
//! for the call, a warning names the error code.

use clap::{Args, Subcommand, ValueEnum};

use super::session::{Session, grown};

/// Arguments of `candor client record`.
#[derive(Debug, Args)]
pub(super) struct RecordArgs {
    /// Record as from a private tab: nothing is recorded unless the metric's
    /// purpose is allowed in private mode.
    #[arg(long, global = true)]
    private: bool,
    #[command(subcommand)]
    metric: RecordCommand,
}

/// One recording call per metric type.
#[derive(Debug, Subcommand)]
pub(super) enum RecordCommand {
    /// Add N to a `counter`.
    Counter {
        /// The metric id.
        id: String,
        /// The amount.
        #[arg(allow_negative_numbers = true)]
        n: i64,
    },
    /// Add N to one label of a `labeled_counter`.
    Labeled {
        /// The metric id.
        id: String,
        /// The label (from the schema's closed set).
        label: String,
        /// The amount.
        #[arg(allow_negative_numbers = true)]
        n: i64,
    },
    /// Set a `boolean`.
    Boolean {
        /// The metric id.
        id: String,
        /// `true` or `false`.
        value: BoolValue,
    },
    /// Set a `category`.
    Category {
        /// The metric id.
        id: String,
        /// The category (from the schema's closed set).
        value: String,
    },
    /// Count one sample into a `distribution`'s buckets.
    Distribution {
        /// The metric id.
        id: String,
        /// The sample.
        #[arg(allow_negative_numbers = true)]
        sample: i64,
    },
    /// Record the registrable domain of a URL into a `domain_set`.
    Url {
        /// The metric id.
        id: String,
        /// The URL; only its registrable domain is kept.
        url: String,
    },
}

impl RecordCommand {
    fn metric_id(&self) -> &str {
        match self {
            RecordCommand::Counter { id, .. }
            | RecordCommand::Labeled { id, .. }
            | RecordCommand::Boolean { id, .. }
            | RecordCommand::Category { id, .. }
            | RecordCommand::Distribution { id, .. }
            | RecordCommand::Url { id, .. } => id,
        }
    }
}

/// `true` or `false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum BoolValue {
    True,
    False,
}

impl Session {
    /// Records one value; never fails. Warns when the SDK counted an error
    /// for the metric.
    pub(super) fn record(&self, args: RecordArgs) {
        let sdk = &self.sdk;
        let before = sdk.error_counts();
        let private = args.private;
        match &args.metric {
            RecordCommand::Counter { id, n } => sdk.counter(id).private(private).add(*n),
            RecordCommand::Labeled { id, label, n } => {
                sdk.labeled_counter(id).private(private).add(label, *n);
            }
            RecordCommand::Boolean { id, value } => sdk
                .boolean(id)
                .private(private)
                .set(*value == BoolValue::True),
            RecordCommand::Category { id, value } => sdk.category(id).private(private).set(value),
            RecordCommand::Distribution { id, sample } => {
                sdk.distribution(id).private(private).accumulate(*sample);
            }
            RecordCommand::Url { id, url } => sdk.domain_set(id).private(private).record_url(url),
        }
        let after = sdk.error_counts();
        let id = args.metric.metric_id();
        let reasons: Vec<String> = grown(&before, &after, "*url")
            .into_iter()
            .map(|(code, _)| code)
            .collect();
        for (code, _) in grown(&before, &after, id) {
            if code == "url_dropped" && !reasons.is_empty() {
                eprintln!("warning: nothing recorded: {code} ({})", reasons.join(", "));
            } else {
                eprintln!("warning: nothing recorded: {code}");
            }
        }
    }
}

//! `candor client record`: one recording call per metric type, through the
//! SDK's typed handles. The SDK's call never fails; when it recorded
//! nothing (consent not granted, private mode, or an error it counted) a
//! warning says why in words and the exit status is 1; otherwise a note
//! says what today's value now is, and a value above the metric's
//! per-report bound is flagged as clamped.

use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};

use super::NOTHING_RECORDED;
use super::session::{Session, grown};
use super::words;

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
    /// Records one value (the SDK's call never fails) and says on stderr,
    /// in words, when nothing was recorded and why, or when today's value
    /// will be clamped. Exit 1 when nothing was recorded, else 0.
    pub(super) fn record(&self, args: RecordArgs) -> ExitCode {
        let sdk = &self.sdk;
        let id = args.metric.metric_id().to_owned();
        let private = args.private || self.file.private_mode;
        // The consent gate drops a call without counting it: say so here.
        if let Some(metric) = self.schema.metric(&id) {
            let purpose = &metric.purpose;
            let allowed = self
                .schema
                .purpose(purpose)
                .is_some_and(|p| p.allowed_in_private_mode);
            let status = sdk.consent_status();
            if let Some(why) =
                words::gate_closed(&self.dir, purpose, status.get(purpose), private, allowed)
            {
                eprintln!("warning: nothing recorded: {why}");
                return ExitCode::from(NOTHING_RECORDED);
            }
        }
        let before = sdk.error_counts();
        let (used, value) = match &args.metric {
            RecordCommand::Counter { n, .. } => {
                sdk.counter(&id).private(args.private).add(*n);
                ("counter", None)
            }
            RecordCommand::Labeled { label, n, .. } => {
                sdk.labeled_counter(&id)
                    .private(args.private)
                    .add(label, *n);
                ("labeled_counter", Some(label.as_str()))
            }
            RecordCommand::Boolean { value, .. } => {
                sdk.boolean(&id)
                    .private(args.private)
                    .set(*value == BoolValue::True);
                ("boolean", None)
            }
            RecordCommand::Category { value, .. } => {
                sdk.category(&id).private(args.private).set(value);
                ("category", Some(value.as_str()))
            }
            RecordCommand::Distribution { sample, .. } => {
                sdk.distribution(&id)
                    .private(args.private)
                    .accumulate(*sample);
                ("distribution", None)
            }
            RecordCommand::Url { url, .. } => {
                sdk.domain_set(&id).private(args.private).record_url(url);
                ("domain_set", None)
            }
        };
        let after = sdk.error_counts();
        let url_reasons: Vec<String> = grown(&before, &after, "*url")
            .into_iter()
            .map(|(code, _)| code)
            .collect();
        let dropped = grown(&before, &after, &id);
        if !dropped.is_empty() {
            for (code, _) in dropped {
                eprintln!(
                    "warning: nothing recorded: {}",
                    words::dropped(&code, &self.schema, &id, used, value, &url_reasons)
                );
            }
            return ExitCode::from(NOTHING_RECORDED);
        }
        if let (Some(metric), Some(today)) = (self.schema.metric(&id), sdk.today_value(&id)) {
            eprintln!("Recorded: {id} today so far: {}.", words::value(&today));
            if let Some(warning) = words::clamped(metric, &today) {
                eprintln!("warning: {warning}");
            }
        }
        ExitCode::SUCCESS
    }
}

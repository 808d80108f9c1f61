//! One module per subcommand.

pub(crate) mod client;
pub(crate) mod keygen;
pub(crate) mod load;
pub(crate) mod schema;
pub(crate) mod serve;

/// Today's UTC date, for schema expiry checks.
pub(crate) fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`). Logs carry
/// counts and codes only; see docs/ARCHITECTURE.md.
pub(crate) fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

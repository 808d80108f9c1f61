//! One module per subcommand, and what several of them share: where the
//! data directory is, which regions and purposes are served, and plain
//! text tables.

pub(crate) mod audit;
pub(crate) mod client;
pub(crate) mod demo;
pub(crate) mod keygen;
pub(crate) mod load;
pub(crate) mod query;
pub(crate) mod relay;
pub(crate) mod schema;
pub(crate) mod serve;
pub(crate) mod simulate;
pub(crate) mod token;
pub(crate) mod verify;

use std::path::PathBuf;

use anyhow::Result;
use candor_collector::Config;
use candor_time::{Clock, Day, SystemClock};
use clap::Args;

/// Today's UTC date, for schema expiry checks.
pub(crate) fn today() -> time::Date {
    SystemClock.today().date()
}

/// Now, in Unix seconds.
pub(crate) fn now() -> i64 {
    SystemClock.now()
}

/// A `YYYY-MM-DD` argument (`--start`, `--day`).
pub(crate) fn parse_day(s: &str) -> Result<Day, String> {
    Day::parse(s).ok_or_else(|| format!("{s:?} is not a day of the form YYYY-MM-DD"))
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

/// Where the collector's configuration and data are: the same two options,
/// resolved the same way, for `serve`, `token` and `audit`.
#[derive(Debug, Args)]
pub(crate) struct ConfigArgs {
    /// The collector's configuration file (TOML); without it every default
    /// applies: 127.0.0.1:8750, ./candor-data, the built-in example schema.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override the data directory from the configuration.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Keep the aggregates, ledger, audit log and tokens in PostgreSQL at
    /// this URL (`postgres://user[:password]@host[:port]/db`) instead of
    /// the configuration's `[store]`; also read from `CANDOR_STORE_URL`
    /// (better for a password than the command line).
    #[arg(long)]
    store_url: Option<String>,
}

/// The environment variable `--store-url` falls back to.
pub(crate) const STORE_URL_ENV: &str = "CANDOR_STORE_URL";

impl ConfigArgs {
    /// The configuration file (or the defaults) with the overrides applied.
    pub(crate) fn load(&self) -> Result<Config> {
        let mut config = match &self.config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        if let Some(dir) = &self.data_dir {
            config.data_dir.clone_from(dir);
        }
        apply_store_url(&mut config, self.store_url.as_deref())?;
        Ok(config)
    }
}

/// Points `config` at PostgreSQL when `--store-url` (`flag`) or
/// [`STORE_URL_ENV`] names one: every command that touches a store
/// resolves it the same way.
pub(crate) fn apply_store_url(config: &mut Config, flag: Option<&str>) -> Result<()> {
    let url = flag.map(str::to_owned).or_else(|| {
        std::env::var(STORE_URL_ENV)
            .ok()
            .filter(|v| !v.trim().is_empty())
    });
    if let Some(url) = url {
        config
            .store
            .use_postgres(url)
            .map_err(|e| anyhow::anyhow!("--store-url / {STORE_URL_ENV}: {e}"))?;
        config
            .store
            .check()
            .map_err(|e| anyhow::anyhow!("--store-url / {STORE_URL_ENV}: {e}"))?;
    }
    Ok(())
}

/// The regions a collector with `config` serves (as `candor serve` picks
/// them: the configured ones, or every region of the schemas) and the
/// purposes its schemas declare, both sorted.
pub(crate) fn served(config: &Config) -> Result<(Vec<String>, Vec<String>)> {
    let schemas = serve::load_schemas(config)?;
    let mut regions: Vec<String> = if config.regions.is_empty() {
        schemas
            .iter()
            .flat_map(|s| s.regions.keys().cloned())
            .collect()
    } else {
        config.regions.clone()
    };
    regions.sort();
    regions.dedup();
    let mut purposes: Vec<String> = schemas
        .iter()
        .flat_map(|s| s.purposes.keys().cloned())
        .collect();
    purposes.sort();
    purposes.dedup();
    Ok((regions, purposes))
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS` (UTC).
pub(crate) fn utc(seconds: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(seconds) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => format!("@{seconds}"),
    }
}

/// A plain text table: columns padded to their widest cell (counted in
/// characters), two spaces apart, the last column unpadded.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let columns = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut out = String::new();
        for (i, cell) in cells.enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            out.push_str(cell);
            if i + 1 < columns {
                let pad = widths[i].saturating_sub(cell.chars().count());
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
        out
    };
    let mut out = line(&mut header.iter().copied());
    for row in rows {
        out.push_str(&line(&mut row.iter().map(String::as_str)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_url_selects_postgres() {
        let args = ConfigArgs {
            config: None,
            data_dir: None,
            store_url: Some("postgres://ana:s3cret@db/candor".into()),
        };
        let config = args.load().expect("loads");
        assert_eq!(
            config.store(),
            candor_store::StoreConfig::postgres("postgres://ana:s3cret@db/candor", "candor")
        );
        let default = ConfigArgs {
            config: None,
            data_dir: Some("d".into()),
            store_url: None,
        };
        if std::env::var_os(STORE_URL_ENV).is_none() {
            assert_eq!(
                default.load().expect("loads").store(),
                candor_store::StoreConfig::sqlite("d")
            );
        }
    }

    #[test]
    fn tables_align_by_characters() {
        let t = table(
            &["a", "bb", "c"],
            &[
                vec!["≤ 10".into(), "x".into(), "last".into()],
                vec!["1".into(), "yyy".into(), String::new()],
            ],
        );
        assert_eq!(t, "a     bb   c\n≤ 10  x    last\n1     yyy\n");
    }

    #[test]
    fn utc_formats_unix_seconds() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(1_795_953_600), "2026-11-29 12:00:00");
    }
}

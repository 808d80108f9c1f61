//! One module per subcommand, and what several of them share: where the
//! data directory is, which regions and purposes are served, and plain
//! text tables.

pub(crate) mod audit;
pub(crate) mod client;
pub(crate) mod demo;
pub(crate) mod errors;
pub(crate) mod keygen;
pub(crate) mod load;
pub(crate) mod query;
pub(crate) mod relay;
pub(crate) mod schema;
pub(crate) mod serve;
pub(crate) mod simulate;
pub(crate) mod token;
pub(crate) mod verify;

use std::io::IsTerminal;
use std::net::{SocketAddr, ToSocketAddrs};
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

/// The form `--listen` takes, for messages.
const LISTEN_FORM: &str = "HOST:PORT (127.0.0.1:8750, localhost:8750, [::1]:8750, \
0.0.0.0:8750 for every interface) or a bare port (8750, meaning 127.0.0.1:8750)";

/// A `--listen` argument: `IP:PORT`, `HOST:PORT` with a host name this
/// machine resolves (its first IPv4 address, else its first address), or a
/// bare port on loopback, so that `localhost:18761` and `8750` work as a
/// reader would expect. A refusal shows the accepted forms.
pub(crate) fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<u16>()
            .map(|port| SocketAddr::from(([127, 0, 0, 1], port)))
            .map_err(|_| format!("{s:?} is not a port (0-65535); expected {LISTEN_FORM}"));
    }
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let refused = || format!("{s:?} is not an address to listen on; expected {LISTEN_FORM}");
    match s.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {}
        _ => return Err(refused()),
    }
    let addrs: Vec<SocketAddr> = s.to_socket_addrs().map_err(|_| refused())?.collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(refused)
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`). Logs carry
/// counts and codes only; see docs/ARCHITECTURE.md. Colour only on a
/// terminal: a log written to a file holds no escape codes.
pub(crate) fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
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

/// Unix seconds as this machine's local time, `YYYY-MM-DD HH:MM:SS local
/// time (UTC+HH:MM)`, or as UTC when the local offset cannot be known.
pub(crate) fn local_time(seconds: i64) -> String {
    let offset = time::UtcOffset::current_local_offset().ok();
    match (
        offset,
        time::OffsetDateTime::from_unix_timestamp(seconds).ok(),
    ) {
        (Some(offset), Some(t)) => {
            let t = t.to_offset(offset);
            let (h, m, _) = offset.as_hms();
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02} local time (UTC{}{:02}:{:02})",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                if offset.is_negative() { '-' } else { '+' },
                h.unsigned_abs(),
                m.unsigned_abs()
            )
        }
        _ => format!("{} UTC", utc(seconds)),
    }
}

/// A number of seconds from now in words: `in 1 min 5 s`, `now`.
pub(crate) fn in_words(seconds: i64) -> String {
    if seconds <= 0 {
        return "now".to_owned();
    }
    let (h, m, s) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    let mut parts = Vec::new();
    if h > 0 {
        parts.push(format!("{h} h"));
    }
    if m > 0 {
        parts.push(format!("{m} min"));
    }
    if s > 0 && h == 0 {
        parts.push(format!("{s} s"));
    }
    format!("in {}", parts.join(" "))
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
    fn listen_takes_ip_host_names_and_bare_ports() {
        assert_eq!(parse_listen("8750"), Ok(([127, 0, 0, 1], 8750).into()));
        assert_eq!(
            parse_listen("0.0.0.0:8443"),
            Ok(([0, 0, 0, 0], 8443).into())
        );
        assert_eq!(parse_listen("[::1]:8750").map(|a| a.is_ipv6()), Ok(true));
        let local = parse_listen("localhost:18761").expect("localhost resolves");
        assert!(local.ip().is_loopback(), "{local}");
        assert_eq!(local.port(), 18761);
        for bad in [
            "",
            "localhost",
            "99999",
            "127.0.0.1:",
            ":8750",
            "host name:1",
        ] {
            let e = parse_listen(bad).expect_err(bad);
            assert!(e.contains("HOST:PORT") && e.contains("bare port"), "{e}");
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
    fn delays_read_as_words() {
        assert_eq!(in_words(0), "now");
        assert_eq!(in_words(65), "in 1 min 5 s");
        assert_eq!(in_words(7_260), "in 2 h 1 min");
        assert!(local_time(0).starts_with("19"), "{}", local_time(0));
    }

    #[test]
    fn utc_formats_unix_seconds() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(1_795_953_600), "2026-11-29 12:00:00");
    }
}

//! The load generator: many valid, sealed reports sent to one collector at
//! a chosen rate, with every outcome counted.
//!
//! [`run`] does it all from a [`LoadConfig`]; its steps are public for
//! callers (and tests) that want one of them alone:
//!
//! 1. [`fetch_key`]: `GET {base}/v1/regions/{region}/keys`, check the signed
//!    list with the region's signing public key, and take its first key.
//! 2. [`preseal`]: N reports from a [`ReportGenerator`], sealed on every
//!    core before the clock starts, so that the run measures the collector
//!    and not the generator's HPKE.
//! 3. [`group`]: envelopes into upload bodies, a bare envelope for batch
//!    size 1 and wire-format batches otherwise.
//! 4. [`send`]: `connections` threads with one keep-alive connection each
//!    post the bodies to `POST {base}/v1/regions/{region}/reports`, paced
//!    to the target rate, and count every answer in [`LoadStats`].
//!
//! A 429 or 503 is counted, not retried, unless [`LoadConfig::retries`] says
//! otherwise: overload tests want to see them.

mod error;
mod generate;
mod http;
mod send;
mod stats;

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use candor_protocol::limits::{MAX_BATCH_BYTES, MAX_BATCH_REPORTS};
use candor_protocol::{Day, KeyConfig, VerifyingKey, batch, seal};
use candor_schema::Schema;
use indicatif::{ProgressBar, ProgressState, ProgressStyle};

use crate::keys::KeyError;

pub use error::LoadError;
pub use generate::ReportGenerator;
pub use send::send;
pub use stats::{Latency, LoadStats};

/// Reports generated and sealed per work unit. Each unit has its own seed
/// derived from the run's seed, so the reports do not depend on how many
/// threads sealed them.
const SEAL_CHUNK: usize = 256;

/// What to send where, how fast.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LoadConfig {
    /// The collector's base URL, e.g. `http://127.0.0.1:8750`.
    pub base_url: String,
    /// The region whose key seals the reports and whose endpoint gets them
    /// (the signing key's).
    pub region: String,
    /// The region's signing public key (`signing.public.json`): the key
    /// list is used only once it checks out with it.
    pub signing_key: VerifyingKey,
    /// The data dictionary the reports must satisfy.
    pub schema: Schema,
    /// How many distinct reports to send.
    pub reports: usize,
    /// Most reports per request body, 1..=[`MAX_BATCH_REPORTS`]; 1 sends bare
    /// envelopes.
    pub batch_size: usize,
    /// Concurrent connections (threads), at least 1.
    pub connections: usize,
    /// Target rate in reports per second; `None` sends as fast as the
    /// connections allow.
    pub rate: Option<f64>,
    /// The UTC day every report carries.
    pub day: Day,
    /// Seed of everything random in the reports except their ids.
    pub seed: u64,
    /// Whether to draw progress bars on stderr (hidden anyway when stderr is
    /// not a terminal).
    pub progress: bool,
    /// Stop sending after this long, whatever is left.
    pub duration_limit: Option<Duration>,
    /// Timeout of one HTTP request, answer included.
    pub timeout: Duration,
    /// How often a body answered with 429 or 503 is sent again, after the
    /// answer's Retry-After (at most 30 s; 1 s when absent). 0, the default,
    /// counts the overload and moves on.
    pub retries: u32,
}

impl LoadConfig {
    /// A configuration with the defaults of `candor load`: 10 000 reports in
    /// batches of 100 over 4 connections, no rate limit, seed 1, progress
    /// bars, a 30 s request timeout, no time limit and no retries.
    pub fn new(
        base_url: impl Into<String>,
        signing_key: VerifyingKey,
        schema: Schema,
        day: Day,
    ) -> Self {
        LoadConfig {
            base_url: base_url.into(),
            region: signing_key.region().to_owned(),
            signing_key,
            schema,
            reports: 10_000,
            batch_size: 100,
            connections: 4,
            rate: None,
            day,
            seed: 1,
            progress: true,
            duration_limit: None,
            timeout: Duration::from_secs(30),
            retries: 0,
        }
    }

    /// Checks the numeric fields.
    pub fn validate(&self) -> Result<(), LoadError> {
        let bad = |m: String| Err(LoadError::InvalidConfig(m));
        if self.batch_size == 0 || self.batch_size > MAX_BATCH_REPORTS {
            return bad(format!(
                "batch size must be 1..={MAX_BATCH_REPORTS}, not {}",
                self.batch_size
            ));
        }
        if self.connections == 0 {
            return bad("at least one connection is needed".into());
        }
        if let Some(rate) = self.rate
            && !(rate.is_finite() && rate > 0.0)
        {
            return bad(format!("the rate must be a positive number, not {rate}"));
        }
        if self.timeout.is_zero() {
            return bad("the request timeout must be positive".into());
        }
        Ok(())
    }
}

/// One request body: a bare envelope or a batch, and how many reports it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    /// The wire-format bytes.
    pub bytes: Vec<u8>,
    /// Reports in it.
    pub reports: usize,
}

/// Fetches the region's key list and seals, groups and sends
/// `config.reports` reports (see the module docs). Fails only in setup.
pub fn run(config: &LoadConfig) -> Result<LoadStats, LoadError> {
    config.validate()?;
    // Check the schema before the network, so a bad region or day says so.
    ReportGenerator::new(&config.schema, &config.region, config.day, config.seed)?;
    let key = fetch_key(&config.base_url, &config.signing_key, config.timeout)?;
    let sealing = Instant::now();
    let envelopes = preseal(
        &config.schema,
        &key,
        config.day,
        config.reports,
        config.seed,
        config.progress,
    )?;
    let bodies = group(envelopes, config.batch_size)?;
    let seal_elapsed = sealing.elapsed();
    let mut stats = send(config, &bodies)?;
    stats.seal_elapsed = seal_elapsed;
    Ok(stats)
}

/// The region's current key: the first of the signed key list at
/// `{base_url}/v1/regions/{region}/keys`, checked with `signing` (the
/// region's `signing.public.json`) on the system clock (see
/// [`crate::keys::fetch_key`], which the simulator shares).
pub fn fetch_key(
    base_url: &str,
    signing: &VerifyingKey,
    timeout: Duration,
) -> Result<KeyConfig, LoadError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    crate::keys::fetch_key(base_url, signing, Some(now), timeout).map_err(|e| match e {
        KeyError::Fetch { url, message } => LoadError::FetchKeys { url, message },
        KeyError::Refused { url, code, message } => {
            LoadError::KeyListRefused { url, code, message }
        }
    })
}

/// Generates `reports` reports for `key`'s region with a [`ReportGenerator`]
/// and seals each to `key`, on all cores. Returns the envelopes in an order
/// that depends only on `seed` (apart from the random report ids and HPKE
/// ephemeral keys).
pub fn preseal(
    schema: &Schema,
    key: &KeyConfig,
    day: Day,
    reports: usize,
    seed: u64,
    progress: bool,
) -> Result<Vec<Vec<u8>>, LoadError> {
    let generator = ReportGenerator::new(schema, key.region(), day, seed)?;
    let chunks = reports.div_ceil(SEAL_CHUNK);
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(chunks)
        .max(1);
    let bar = progress_bar(progress, reports as u64, "sealing");
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<(usize, Vec<Vec<u8>>)>> = Mutex::new(Vec::with_capacity(chunks));
    let work = || -> Result<(), LoadError> {
        let mut generator = generator.clone();
        loop {
            let c = next.fetch_add(1, Ordering::Relaxed);
            if c >= chunks {
                return Ok(());
            }
            generator.reseed(chunk_seed(seed, c as u64));
            let n = SEAL_CHUNK.min(reports - c * SEAL_CHUNK);
            let mut sealed = Vec::with_capacity(n);
            for _ in 0..n {
                sealed.push(seal(&generator.generate()?, key)?);
            }
            bar.inc(n as u64);
            // A poisoned lock means another sealing thread panicked; its
            // panic is re-raised by the scope below, so the data is moot.
            if let Ok(mut done) = done.lock() {
                done.push((c, sealed));
            }
        }
    };
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads).map(|_| s.spawn(work)).collect();
        let mut result = Ok(());
        for h in handles {
            match h.join() {
                Ok(r) => result = result.and(r),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        result
    })?;
    bar.finish_and_clear();
    let mut done = done.into_inner().unwrap_or_else(|p| p.into_inner());
    done.sort_unstable_by_key(|(c, _)| *c);
    Ok(done.into_iter().flat_map(|(_, e)| e).collect())
}

/// Groups envelopes into request bodies in order: a bare envelope each for
/// `batch_size` 1, otherwise batches of up to `batch_size` envelopes (never
/// more than [`MAX_BATCH_REPORTS`], and a batch is closed early rather than
/// exceed [`MAX_BATCH_BYTES`]).
pub fn group(envelopes: Vec<Vec<u8>>, batch_size: usize) -> Result<Vec<Body>, LoadError> {
    if batch_size == 0 || batch_size > MAX_BATCH_REPORTS {
        return Err(LoadError::InvalidConfig(format!(
            "batch size must be 1..={MAX_BATCH_REPORTS}, not {batch_size}"
        )));
    }
    if batch_size == 1 {
        return Ok(envelopes
            .into_iter()
            .map(|bytes| Body { bytes, reports: 1 })
            .collect());
    }
    let mut bodies = Vec::with_capacity(envelopes.len().div_ceil(batch_size));
    let mut open: Vec<Vec<u8>> = Vec::with_capacity(batch_size);
    // Batch framing: 7 header bytes, then a 4-byte length per envelope.
    let mut open_bytes = 7;
    for e in envelopes {
        let len = 4 + e.len();
        if !open.is_empty() && (open.len() == batch_size || open_bytes + len > MAX_BATCH_BYTES) {
            bodies.push(Body {
                bytes: batch::encode(&open)?,
                reports: open.len(),
            });
            open.clear();
            open_bytes = 7;
        }
        open_bytes += len;
        open.push(e);
    }
    if !open.is_empty() {
        bodies.push(Body {
            bytes: batch::encode(&open)?,
            reports: open.len(),
        });
    }
    Ok(bodies)
}

/// SplitMix64 of the run's seed and a chunk index: independent streams for
/// neighbouring chunks.
fn chunk_seed(seed: u64, chunk: u64) -> u64 {
    let mut z = seed ^ chunk.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A progress bar over `len` reports on stderr, or a hidden one.
fn progress_bar(show: bool, len: u64, what: &'static str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len).with_prefix(what);
    if let Ok(style) = ProgressStyle::with_template(
        "{prefix:>8} [{bar:40}] {pos}/{len} reports ({rate}, {elapsed_precise}, eta {eta})",
    ) {
        bar.set_style(
            style
                .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.0}/s", s.per_sec());
                })
                .progress_chars("=> "),
        );
    }
    bar
}

//! The timed phase: connection threads posting pre-built bodies.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use serde::Deserialize;

use super::http::{self, Connection};
use super::stats::{LATE_THRESHOLD, Shape, Tally};
use super::{Body, LoadConfig, LoadError, LoadStats, progress_bar};

/// Longest Retry-After a retry waits (a confused server must not stall the
/// run), and the wait when the header is missing or unreadable.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Largest answer body read; the collector's answers are a few KiB.
const MAX_ANSWER_BYTES: u64 = 1 << 20;

/// The media type of an upload body (docs/wire.md).
pub(super) const CONTENT_TYPE: &str = "application/vnd.candor.report";

#[derive(Deserialize)]
struct Answer {
    results: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    status: String,
    #[serde(default)]
    code: Option<String>,
}

#[derive(Deserialize)]
struct Problem {
    #[serde(default)]
    code: Option<String>,
}

/// Sends `bodies` to the collector as `config` says and counts the outcome.
///
/// `connections` threads each own one keep-alive connection and take the
/// next body from a shared index. With a target rate, body i is due at
/// `start + (reports before i) / rate`; a thread sleeps until its body is
/// due, and a body that starts more than 10 ms late is counted in
/// [`LoadStats::late_requests`] (latency is measured from the actual send,
/// so check that count before trusting the percentiles of an overloaded
/// generator). Stops when every body was sent or at the time limit.
pub fn send(config: &LoadConfig, bodies: &[Body]) -> Result<LoadStats, LoadError> {
    config.validate()?;
    let authority = http::authority(&config.base_url).ok_or_else(|| {
        LoadError::InvalidConfig(format!(
            "the load generator speaks plain http://host:port only, not {:?}",
            config.base_url
        ))
    })?;
    let path = format!("/v1/regions/{}/reports", config.region);
    // Cumulative report counts give each body its scheduled offset.
    let mut before = Vec::with_capacity(bodies.len());
    let mut total = 0u64;
    for b in bodies {
        before.push(total);
        total += b.reports as u64;
    }
    let bar = progress_bar(config.progress, total, "sending");
    let next = AtomicUsize::new(0);
    let start = Instant::now();
    let deadline = config.duration_limit.map(|d| start + d);
    let worker = Worker {
        config,
        authority,
        path: &path,
        bodies,
        before: &before,
        next: &next,
        start,
        deadline,
        bar: &bar,
    };
    let mut tally = Tally::default();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..config.connections)
            .map(|_| s.spawn(|| worker.run()))
            .collect();
        for h in handles {
            match h.join() {
                Ok(t) => tally.merge(t),
                // A sending thread has no panicking code path; if one did
                // panic, it is a bug worth surfacing as such.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    let elapsed = start.elapsed();
    bar.finish_and_clear();
    Ok(LoadStats::new(
        Shape {
            planned: total,
            batch_size: config.batch_size,
            connections: config.connections,
            target_rate: config.rate,
        },
        tally,
        elapsed,
    ))
}

/// What every connection thread shares.
struct Worker<'a> {
    config: &'a LoadConfig,
    authority: &'a str,
    path: &'a str,
    bodies: &'a [Body],
    before: &'a [u64],
    next: &'a AtomicUsize,
    start: Instant,
    deadline: Option<Instant>,
    bar: &'a ProgressBar,
}

/// How one request ended.
enum Outcome {
    /// Every report got its verdict (or the body was refused as a whole).
    Done,
    /// 429 or 503: may be retried after the given delay.
    Overloaded(Duration),
    /// No verdict, and no retry.
    Unanswered,
}

impl Worker<'_> {
    fn run(&self) -> Tally {
        let mut conn = Connection::new(
            self.authority,
            self.path,
            CONTENT_TYPE,
            self.config.timeout,
            MAX_ANSWER_BYTES as usize,
        );
        let mut tally = Tally::default();
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(body) = self.bodies.get(i) else {
                break;
            };
            let due = match self.config.rate {
                Some(rate) => self.start + Duration::from_secs_f64(self.before[i] as f64 / rate),
                None => Instant::now(),
            };
            if self
                .deadline
                .is_some_and(|d| due >= d || Instant::now() >= d)
            {
                tally.stopped_by_time_limit = true;
                break;
            }
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            } else if self.config.rate.is_some() {
                let lag = now - due;
                tally.max_schedule_lag = tally.max_schedule_lag.max(lag);
                if lag > LATE_THRESHOLD {
                    tally.late_requests += 1;
                }
            }
            tally.sent += body.reports as u64;
            let mut attempts = 0u32;
            loop {
                match self.post(&mut conn, body, &mut tally) {
                    Outcome::Done => break,
                    Outcome::Unanswered => {
                        tally.unanswered += body.reports as u64;
                        break;
                    }
                    Outcome::Overloaded(wait) => {
                        let resume = Instant::now() + wait;
                        if attempts >= self.config.retries
                            || self.deadline.is_some_and(|d| resume >= d)
                        {
                            tally.unanswered += body.reports as u64;
                            break;
                        }
                        attempts += 1;
                        tally.retries += 1;
                        std::thread::sleep(wait);
                    }
                }
            }
            self.bar.inc(body.reports as u64);
        }
        tally
    }

    /// One POST: counts its latency and every verdict in it.
    fn post(&self, conn: &mut Connection, body: &Body, tally: &mut Tally) -> Outcome {
        tally.requests += 1;
        let sent_at = Instant::now();
        let answer = match conn.post(&body.bytes) {
            Ok(a) => a,
            Err(e) => {
                tally.transport_errors += 1;
                tally
                    .first_transport_error
                    .get_or_insert_with(|| e.to_string());
                return Outcome::Unanswered;
            }
        };
        let status = answer.status;
        let retry_after = answer
            .retry_after
            .map_or(DEFAULT_RETRY_AFTER, Duration::from_secs)
            .min(MAX_RETRY_AFTER);
        let text = String::from_utf8_lossy(&answer.body);
        tally
            .latencies_us
            .push(u64::try_from(sent_at.elapsed().as_micros()).unwrap_or(u64::MAX));
        let reports = body.reports as u64;
        match status {
            200..=299 => match serde_json::from_str::<Answer>(&text) {
                Ok(answer) if answer.results.len() == body.reports => {
                    for item in answer.results {
                        match item.status.as_str() {
                            "accepted" => tally.accepted += 1,
                            "duplicate" => tally.duplicate += 1,
                            "queued" => tally.queued += 1,
                            other => {
                                tally.reject(item.code.as_deref().unwrap_or(other), 1);
                            }
                        }
                    }
                    Outcome::Done
                }
                _ => {
                    tally.malformed_answers += 1;
                    Outcome::Unanswered
                }
            },
            _ => {
                let code = serde_json::from_str::<Problem>(&text)
                    .ok()
                    .and_then(|p| p.code);
                tally.http_error(status, code.as_deref());
                match status {
                    429 | 503 => Outcome::Overloaded(retry_after),
                    408 | 500..=599 => Outcome::Unanswered,
                    _ => {
                        let code = code.unwrap_or_else(|| format!("http_{status}"));
                        tally.reject(&code, reports);
                        Outcome::Done
                    }
                }
            }
        }
    }
}

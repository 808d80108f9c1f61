//! The front's last stage in scale-out: still-sealed envelopes go to a
//! durable queue instead of being opened here.
//!
//! A front (`--role front`) checks what needs no private key (framing,
//! header, size, region, key id) and hands the envelopes that pass to a
//! [`Forward`]; the answer to the device (202, per-report `queued`) waits
//! for the queue's acknowledgement of every one of them. The NATS
//! JetStream implementation is `crate::queue::Publisher` (feature `queue`);
//! tests use fakes. No plaintext ever reaches a `Forward`.

use std::future::Future;
use std::pin::Pin;

/// Why a queue took none of a request's envelopes (or cannot say that it
/// took all of them); both are transient for the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ForwardError {
    /// The queue did not acknowledge every envelope in time; the client
    /// retries, and the queue drops what it already holds by message id.
    #[error("the queue is unavailable")]
    Unavailable,
    /// The front no longer takes work.
    #[error("the front is shutting down")]
    ShuttingDown,
}

/// What a publication resolves to.
pub type ForwardFuture<'a> = Pin<Box<dyn Future<Output = Result<(), ForwardError>> + Send + 'a>>;

/// Takes still-sealed envelopes and answers once the queue holds them.
pub trait Forward: Send + Sync {
    /// Publishes the envelopes of one request (possibly none), each whole
    /// and still sealed, and resolves once the queue acknowledged every
    /// one, or to an error when it cannot say so.
    fn publish(&self, envelopes: Vec<Vec<u8>>) -> ForwardFuture<'_>;
}

/// A bound on the rate of bad input one front takes for one region:
/// reports its checks refused (framing, header, region, key id), counted
/// per one-second window. Once a window holds `per_second` of them, the
/// front refuses further uploads of the region with `overloaded` (503,
/// Retry-After) until the window ends, before reading their bodies. The
/// front reads no client address, so the bound is per region, not per
/// client: it caps the work garbage can cost, not who sends it.
#[derive(Debug)]
pub struct BadInputLimit {
    per_second: u32,
    window: std::sync::Mutex<(std::time::Instant, u32)>,
}

impl BadInputLimit {
    /// At most `per_second` refused reports a second; 0 means no bound.
    pub fn new(per_second: u32) -> Self {
        BadInputLimit {
            per_second,
            window: std::sync::Mutex::new((std::time::Instant::now(), 0)),
        }
    }

    /// The current window, restarted if a second has passed.
    fn current(&self) -> std::sync::MutexGuard<'_, (std::time::Instant, u32)> {
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        if w.0.elapsed() >= std::time::Duration::from_secs(1) {
            *w = (std::time::Instant::now(), 0);
        }
        w
    }

    /// Whether this window's bad input is used up.
    pub fn exhausted(&self) -> bool {
        self.per_second != 0 && self.current().1 >= self.per_second
    }

    /// Counts `n` refused reports in this window.
    pub fn spend(&self, n: usize) {
        if self.per_second != 0 && n > 0 {
            let mut w = self.current();
            w.1 = w.1.saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_is_bounded_per_window_and_zero_means_unbounded() {
        let limit = BadInputLimit::new(3);
        assert!(!limit.exhausted());
        limit.spend(2);
        assert!(!limit.exhausted());
        limit.spend(1);
        assert!(limit.exhausted());
        let unbounded = BadInputLimit::new(0);
        unbounded.spend(1_000_000);
        assert!(!unbounded.exhausted());
    }
}

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

//! The last stage of ingest: where validated contributions go.
//!
//! The pipeline hands a sink the deltas of one request's valid reports and
//! waits for its verdict per report. The embedded collector's sink is the
//! region's group-commit [`Writer`](super::writer::Writer); a queue in
//! front of aggregation workers is another. A sink answers only once what
//! it accepted is durable: the pipeline turns that answer into the 202.

use std::future::Future;
use std::pin::Pin;

use candor_store::{CommitOutcome, ReportDelta};

/// Why a sink took nothing of a request; every case is transient for the
/// client (retry later).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// The sink's queue is full.
    #[error("the sink is overloaded")]
    Overloaded,
    /// The sink no longer takes work.
    #[error("the sink is shutting down")]
    ShuttingDown,
    /// The sink's storage failed; nothing of the request was kept.
    #[error("the sink's storage is unavailable")]
    Unavailable,
}

/// What a sink's commit resolves to: one outcome per delta, in order.
pub type SinkFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<CommitOutcome>, SinkError>> + Send + 'a>>;

/// Receives validated deltas and answers once they are durable.
pub trait Sink: Send + Sync {
    /// Takes the deltas of one request (possibly none) and resolves to one
    /// [`CommitOutcome`] per delta once they are committed, or to an error
    /// when none of them was.
    fn commit(&self, deltas: Vec<ReportDelta>) -> SinkFuture<'_>;
}

//! Scale-out over NATS JetStream: stateless `front`s publish still-sealed
//! envelopes to one stream per region, `worker`s pull, open, validate and
//! commit them (docs/ARCHITECTURE.md, "Roles and the queue").
//!
//! - [`config`]: the [`Role`] of a process and the `[queue]` section
//!   (always compiled, so a configuration reads the same in every build);
//! - `publisher` (feature `queue`): the front's [`Forward`](crate::ingest::Forward)
//!   into the region's stream, answering once JetStream acknowledged;
//! - `worker` (feature `queue`): the consumer that commits batches
//!   through [`Ingest::process_queued`](crate::ingest::Ingest::process_queued)
//!   and acknowledges only after the commit;
//! - `stats` (feature `queue`): the queue's Prometheus series;
//! - [`QueueRuntime`]: a process's connection and what runs over it (a
//!   stand-in without the feature, which refuses `front` and `worker`).
//!
//! Invariants: the stream holds sealed envelopes only (a stolen stream
//! reveals nothing without the region's private keys); a message is
//! acknowledged only after the transaction holding its report committed,
//! so a crash at any point redelivers it, and the report-id dedup makes a
//! redelivered report a `duplicate`.

pub mod config;
#[cfg(feature = "queue")]
mod publisher;
#[cfg(feature = "queue")]
mod stats;
#[cfg(feature = "queue")]
mod worker;

pub use config::{QueueConfig, Role, redact_url};
#[cfg(feature = "queue")]
pub use publisher::Publisher;
#[cfg(feature = "queue")]
pub use stats::QueueStats;

pub use runtime::{QueueError, QueueRuntime};

#[cfg(feature = "queue")]
mod runtime;
/// Without the `queue` feature: the same interface, refusing to start.
#[cfg(not(feature = "queue"))]
#[path = "no_runtime.rs"]
mod runtime;

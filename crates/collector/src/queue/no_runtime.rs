//! The queue's interface in a build without the `queue` feature: starting
//! a `front` or `worker` fails and says which feature is missing, and the
//! embedded collector (`all`) never needs a queue.

use std::sync::Arc;

use super::{QueueConfig, Role};
use crate::Collector;
use crate::error::Rejection;
use crate::ingest::Forward;

/// Why the queue could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// This build has no queue client.
    #[error(
        "the {0} role needs the queue, and this build has none: build candor-collector with the `queue` feature (the `candor` binary enables it by default)"
    )]
    NotBuilt(Role),
}

/// Never constructed in this build.
pub struct QueueRuntime {
    _never: std::convert::Infallible,
}

impl QueueRuntime {
    /// Always fails: no queue client in this build.
    ///
    /// # Errors
    /// [`QueueError::NotBuilt`].
    pub async fn connect(
        _config: &QueueConfig,
        role: Role,
        _regions: &[String],
    ) -> Result<Self, QueueError> {
        Err(QueueError::NotBuilt(role))
    }

    /// Never called: there is no runtime.
    pub fn publisher(&self, _region: &str) -> Option<Arc<dyn Forward>> {
        match self._never {}
    }

    pub(crate) async fn declare_streams(&self) {
        match self._never {}
    }

    pub(crate) fn spawn_workers(&self, _collector: &Arc<Collector>) {
        match self._never {}
    }

    pub(crate) async fn stop(&self) {
        match self._never {}
    }

    /// Never called: there is no runtime.
    pub async fn ready(&self) -> Result<(), Rejection> {
        match self._never {}
    }

    /// Never called: there is no runtime.
    pub fn render_metrics(&self) -> String {
        match self._never {}
    }
}

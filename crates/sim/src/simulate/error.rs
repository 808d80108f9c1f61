//! The simulator's error type.

use std::path::PathBuf;

use crate::keys::KeyError;

/// Why a simulation could not run.
///
/// Only setup fails: once the days run, a refused report or an unreachable
/// collector is counted in [`super::SimSummary`] instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// A [`super::SimConfig`] field is out of range or names something the
    /// schema does not declare.
    #[error("invalid simulation configuration: {0}")]
    InvalidConfig(String),
    /// A region's public key could not be fetched from the collector.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// The device data directories could not be created or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A device's SDK instance could not be opened.
    #[error("opening the SDK of device {device}: {source}")]
    Device {
        /// The device's index.
        device: usize,
        /// The SDK's error.
        source: candor_sdk::OpenError,
    },
    /// A device's consent decision could not be stored.
    #[error("storing the consent of device {device}: {source}")]
    Consent {
        /// The device's index.
        device: usize,
        /// The SDK's error.
        source: candor_sdk::ConsentError,
    },
}

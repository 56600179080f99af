//! The error type of the boundary crate: what an operator configured wrongly.

use std::path::PathBuf;

/// Why a registry document or one of its entries cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A registry entry is invalid; names the entry and the field.
    #[error("plugin {name:?}: {field}: {reason}")]
    InvalidEntry {
        /// The entry's name (or its index when it has none).
        name: String,
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The registry file could not be read or parsed.
    #[error("registry {path}: {reason}")]
    Registry {
        /// The file.
        path: PathBuf,
        /// Why it could not be used.
        reason: String,
    },
}

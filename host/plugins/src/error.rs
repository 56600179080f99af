//! The error type of the plugin host.

use std::path::PathBuf;

use crate::cache::CompileError;
use crate::inspect::Incompatibility;
use crate::registry::PluginKind;

/// Why the host could not load, find or configure a plugin. A failing *call* is not an error of
/// this kind: it is a [`crate::Failure`] inside a measurement or a condition result.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A registry document or entry is invalid (names the entry and the field).
    #[error(transparent)]
    Registry(#[from] aviary_boundary::Error),
    /// The component could not be fetched.
    #[error("plugin {name:?}: cannot fetch {location}: {reason}")]
    Fetch {
        /// The entry's name.
        name: String,
        /// Where it was fetched from.
        location: String,
        /// Why it failed.
        reason: String,
    },
    /// An `oci://` component could not be pulled, is not a component artifact, or its
    /// signature does not verify.
    #[error("plugin {name:?}: {location}: {cause}")]
    Oci {
        /// The entry.
        name: String,
        /// The `oci://` location.
        location: String,
        /// What the registry, the layout or the signature check refused.
        #[source]
        cause: crate::oci::OciError,
    },
    /// The fetched bytes do not have the digest the entry pins.
    #[error("plugin {name:?}: sha256 mismatch: the entry pins {expected} but {location} has {actual}")]
    DigestMismatch {
        /// The entry's name.
        name: String,
        /// Where the bytes came from.
        location: String,
        /// The pinned digest.
        expected: String,
        /// The digest of what was fetched.
        actual: String,
    },
    /// The bytes are not a component of a supported world and version.
    #[error("plugin {name:?}: {cause}")]
    Incompatible {
        /// The entry's name or the file's path.
        name: String,
        /// What the component is and why it is refused.
        #[source]
        cause: Incompatibility,
    },
    /// The component claims a world but its imports or exports do not type-check against it
    /// (a different contract version, a missing function...).
    #[error("plugin {name:?}: does not match the aviary:plugin@{} {} world: {source:#}", crate::contract::NEWEST, .world.as_str())]
    Link {
        /// The entry's name or the file's path.
        name: String,
        /// The world it was linked against.
        world: PluginKind,
        /// What the linker refused.
        #[source]
        source: wasmtime::Error,
    },
    /// Compiling the component failed.
    #[error("plugin {name:?}: cannot compile: {cause}")]
    Compile {
        /// The entry's name.
        name: String,
        /// The compiler's error.
        #[source]
        cause: CompileError,
    },
    /// No plugin of that name is loaded (or its entry failed to load).
    #[error("plugin {name:?} is not loaded{detail}")]
    NotFound {
        /// The name asked for.
        name: String,
        /// Why, when known (e.g. the load error of its entry).
        detail: String,
    },
    /// The plugin exists but is of the other kind.
    #[error("plugin {name:?} is a {actual} plugin, not a {expected}")]
    WrongKind {
        /// The name asked for.
        name: String,
        /// The kind the caller needs.
        expected: &'static str,
        /// The kind it is.
        actual: &'static str,
    },
    /// The wasmtime engine could not be configured (a host set-up problem).
    #[error("cannot set up the Wasm engine: {0}")]
    Engine(String),
    /// The compile cache directory could not be used.
    #[error("compile cache {path}: {reason}")]
    Cache {
        /// The cache directory.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
}

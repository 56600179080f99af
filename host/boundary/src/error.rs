//! The error types of the boundary crate: what an operator configured wrongly.

use std::path::PathBuf;

use crate::registry::BUILTIN_PREFIX;

/// Why a registry document or one of its entries cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A registry entry is invalid; names the entry and the field. The other entries of the
    /// document are unaffected.
    #[error("plugin {name:?}: {field}: {cause}")]
    InvalidEntry {
        /// The entry's name (or its index when it has none).
        name: String,
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        #[source]
        cause: Invalid,
    },
    /// A registry text is not a registry document (YAML syntax, an unknown field or kind...).
    /// The whole document is refused, so the caller keeps what it had before.
    #[error("{0}")]
    Document(#[source] serde_norway::Error),
    /// The registry file could not be read.
    #[error("registry {path}: {source}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The registry file is not a registry document.
    #[error("registry {path}: {source}")]
    Registry {
        /// The file.
        path: PathBuf,
        /// What the YAML parser refused.
        #[source]
        source: serde_norway::Error,
    },
}

/// Why one value an operator wrote (a field of a registry entry, a quantity, a duration, an
/// allowedHosts entry) cannot be used. Each variant names the value, so that the message says
/// what to fix without the document at hand; [`Error::InvalidEntry`] adds the entry and field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Invalid {
    /// A plugin name that is not `org/name`.
    #[error("{name:?} must look like org/name (letters, digits, '.', '_', '-')")]
    Name {
        /// The name as written.
        name: String,
    },
    /// A name under the first-party prefix on an entry that is not a `builtin:` location.
    #[error("{}* is reserved for first-party plugins (use location builtin:{name})", BUILTIN_PREFIX)]
    ReservedName {
        /// The name as written.
        name: String,
    },
    /// A `builtin:` location on an entry named differently: an entry re-configures one
    /// first-party plugin, under that plugin's name.
    #[error("{location:?} re-configures {builtin:?}, so the entry must be named {builtin:?}")]
    BuiltinName {
        /// The location as written.
        location: String,
        /// The first-party plugin it names.
        builtin: String,
    },
    /// A location that is not a URL.
    #[error("{location:?}: {source}")]
    Location {
        /// The location as written.
        location: String,
        /// What the URL parser refused.
        #[source]
        source: url::ParseError,
    },
    /// A `file:` URL that does not name a local path.
    #[error("{location:?} is not a local path")]
    NotALocalPath {
        /// The location as written.
        location: String,
    },
    /// A URL scheme the host cannot fetch from.
    #[error("unsupported scheme {scheme:?} (use file://, https://, oci:// or builtin:)")]
    Scheme {
        /// The scheme.
        scheme: String,
    },
    /// A `sha256` that is not 64 hex digits.
    #[error("{digest:?} is not 64 hex digits")]
    Digest {
        /// The digest as written.
        digest: String,
    },
    /// A malformed `oci://` location.
    #[error("{location:?}: {cause}")]
    Oci {
        /// The location as written.
        location: String,
        /// Which part is wrong.
        #[source]
        cause: crate::oci::OciSyntax,
    },
    /// A field that only an `oci://` location uses, on another location.
    #[error("applies to oci:// locations only")]
    OciOnly,
    /// A Secret name that Kubernetes would refuse.
    #[error("{name:?} is not a Kubernetes object name")]
    SecretName {
        /// The name as written.
        name: String,
    },
    /// An unusable `verify.key`.
    #[error("key {reason}")]
    VerifyKey {
        /// Why.
        reason: String,
    },
    /// No `verify` although the document's policy requires a signature.
    #[error("is required: the registry's policy.requireSignature is set, and only oci:// components carry signatures")]
    SignatureRequired,
    /// A remote location without a pinned digest.
    #[error("is required for a remote location: Aviary never runs unpinned remote code")]
    Unpinned,
    /// `disabled` on an entry that is not a step plugin (Argo allows it for those only).
    #[error("only a step plugin can be disabled; this entry is a {kind} plugin")]
    DisabledNotStep {
        /// The entry's kind.
        kind: &'static str,
    },
    /// A zero deadline, which no call could meet.
    #[error("must be greater than zero")]
    ZeroTimeout,
    /// A memory cap too small for any component to start.
    #[error("{text:?} is below the 1Mi minimum a component needs")]
    TooLittleMemory {
        /// The quantity as written.
        text: String,
    },
    /// Not a byte quantity: no leading digits, or more than a `u64` holds.
    #[error("{text:?} is not a byte quantity such as 64Mi")]
    NotAQuantity {
        /// The quantity as written.
        text: String,
        /// Why its digits are not a number.
        #[source]
        source: std::num::ParseIntError,
    },
    /// A byte quantity with a unit Kubernetes quantities do not have (or that makes no sense
    /// for bytes).
    #[error("{text:?}: unknown unit {unit:?} (use Ki, Mi, Gi, k, M or G)")]
    UnknownUnit {
        /// The quantity as written.
        text: String,
        /// The unit.
        unit: String,
    },
    /// A byte quantity larger than a `u64` once its unit is applied.
    #[error("{text:?} is too large")]
    TooLarge {
        /// The quantity as written.
        text: String,
    },
    /// Not a duration (`30s`, `1m30s`, `500ms` or a number of seconds).
    #[error("{text:?} is not a duration such as 30s: {source}")]
    NotADuration {
        /// The duration as written.
        text: String,
        /// What the duration parser refused.
        #[source]
        source: humantime::DurationError,
    },
    /// A `kubernetes` grant that names no kind or verb, a wildcard, a malformed group, or
    /// Secrets.
    #[error("{entry}: {reason}")]
    Grant {
        /// Which grant (`kubernetes[0]`).
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An empty allowedHosts entry.
    #[error("allowedHosts entry {entry:?}: empty")]
    EmptyHost {
        /// The entry as written.
        entry: String,
    },
    /// An allowedHosts entry that does not parse as a host (or a URL).
    #[error("allowedHosts entry {entry:?}: {source}")]
    HostSyntax {
        /// The entry as written.
        entry: String,
        /// What the URL parser refused.
        #[source]
        source: url::ParseError,
    },
    /// An allowedHosts URL without a host.
    #[error("allowedHosts entry {entry:?}: no host")]
    NoHost {
        /// The entry as written.
        entry: String,
    },
    /// An allowedHosts entry with a path, query, fragment or user: a host is all it may name.
    #[error("allowedHosts entry {entry:?}: expected host, host:port or *.domain")]
    NotAHost {
        /// The entry as written.
        entry: String,
    },
}

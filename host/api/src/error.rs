//! The crate's error type: what can go wrong turning text into API objects.

/// Why a manifest could not be turned into one of this crate's types.
///
/// Every variant names the document (file or object) and, where the parser knows it, the path of
/// the offending field, so that a user can find the mistake without reading Rust.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The YAML or JSON text could not be parsed, or a field had the wrong shape.
    #[error("{source_name}: {field}: {reason}")]
    Parse {
        /// The file or object the text came from.
        source_name: String,
        /// The path of the field that failed (`.` when the document itself is wrong).
        field: String,
        /// What the parser said.
        reason: String,
    },
    /// The document parsed but is of another kind than expected.
    #[error("{source_name}: kind: expected {expected}, found {found:?}")]
    WrongKind {
        /// The file or object the text came from.
        source_name: String,
        /// The kind the caller asked for.
        expected: &'static str,
        /// The kind the document declares.
        found: String,
    },
    /// Rendering a CRD or an object back to YAML failed.
    #[error("rendering {what}: {reason}")]
    Render {
        /// What was being rendered.
        what: String,
        /// What the serializer said.
        reason: String,
    },
}

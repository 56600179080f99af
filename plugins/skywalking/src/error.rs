//! Why a SkyWalking query gave no value. Each becomes an `Error` measurement whose message is
//! the `Display` text; where Argo's provider (or its GraphQL client) has a message for the same
//! case, it is that one.

/// Every way the SkyWalking provider fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkyWalkingError {
    /// `address` is empty or not an http(s) URL.
    #[error("address {0:?} is not an http:// or https:// URL")]
    Address(String),
    /// `query` is empty.
    #[error("query is empty: the provider needs a GraphQL query")]
    EmptyQuery,
    /// `interval` is not a Go duration (Go's message, as Argo reports it).
    #[error("{0}")]
    Interval(String),
    /// The request got no response.
    #[error("{0}")]
    Http(String),
    /// The answer is not a GraphQL response (the client's `decoding response` error).
    #[error("decoding response: {reason}{status}")]
    Decode {
        /// The JSON parser's complaint.
        reason: String,
        /// ` (HTTP nnn)` when the status was not 2xx.
        status: String,
    },
    /// The answer's first GraphQL error.
    #[error("graphql: {0}")]
    GraphQl(String),
    /// The answer has no `data` (Argo's message).
    #[error("no results returned from SkyWalking query")]
    NoResults,
}

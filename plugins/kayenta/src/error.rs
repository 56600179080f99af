//! Why a judgement could not be started or read. Each becomes an `Error` measurement whose
//! message is the `Display` text; where Argo's provider has a message for the same case, it is
//! Argo's.

/// Every way the Kayenta provider fails.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KayentaError {
    /// `address` is empty or not an http(s) URL.
    #[error("address {0:?} is not an http:// or https:// URL")]
    Address(String),
    /// Kayenta answered with a status other than 200 (Argo: `Invalid Response`).
    #[error("Invalid Response: HTTP {status}{detail}")]
    Status {
        /// The status code.
        status: u16,
        /// `: ` and Kayenta's own message, when its error body has one.
        detail: String,
    },
    /// The request got no response.
    #[error("{0}")]
    Http(String),
    /// The body is not the JSON Kayenta's API answers with.
    #[error("{what}: {reason}")]
    Decode {
        /// What was being read.
        what: &'static str,
        /// The JSON parser's complaint.
        reason: String,
    },
    /// No canary config of that name in the application (Argo's message).
    #[error("Canary config not found")]
    ConfigNotFound,
    /// A scope sets `start` (or `end`) on one side only (Argo's message).
    #[error("controlScope.{0} and experimentScope.{0} must both be set or be empty")]
    OneSided(&'static str),
    /// The metric's interval is not a Go duration (Argo's message).
    #[error("Invalid duration {interval:?}: {reason}")]
    Interval {
        /// The interval as written.
        interval: String,
        /// Go's parse error.
        reason: String,
    },
    /// `lookback` is on but the run's start time is missing or unreadable.
    #[error("lookback needs the AnalysisRun's start time (runStartedAt), got {0:?}")]
    RunStartedAt(String),
    /// The start answer has no usable `canaryExecutionId` (Argo's message).
    #[error("Invalid canaryExecutionId")]
    ExecutionId,
    /// `resume` got a measurement without the execution id `measure` stores.
    #[error("the measurement has no canaryExecutionId to poll")]
    NoExecutionId,
    /// The execution's status has no boolean `complete` (Argo's message).
    #[error("Missing Complete Status")]
    MissingComplete,
    /// A complete execution has no `result.judgeResult.score.score` (Argo's message).
    #[error("Missing Score")]
    MissingScore,
    /// A field on the way to `complete` or the score has the wrong type (the message of the
    /// Kubernetes accessor Argo reads it with).
    #[error("{path} accessor error: {value} is of the type {found}, expected {expected}")]
    Accessor {
        /// The JSON path (`.complete`, `.result.judgeResult`).
        path: String,
        /// The value found, as JSON.
        value: String,
        /// Its type, as Go names it.
        found: &'static str,
        /// The type wanted, as Go names it.
        expected: &'static str,
    },
}

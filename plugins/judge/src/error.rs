//! Why a judgement could not be made.

/// What went wrong. The condition returns the message as its error, so it names the field at
/// fault (the measurement ends as `Error` with this message).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The expression (the judge's settings) is not valid.
    #[error("aviary/judge settings: {0}")]
    Settings(String),
    /// The measured value does not hold the series the judge compares.
    #[error("aviary/judge value: {0}")]
    Value(String),
    /// A test was asked of an empty sample (the classifier never does: no data is `Nodata`).
    #[error("a sample is empty")]
    EmptySample,
    /// Every observation is tied, so the rank test has no variance (Kayenta: "cannot compute
    /// confidence interval when all observations are tied").
    #[error("cannot compute the confidence interval when all observations are tied")]
    AllTied,
}

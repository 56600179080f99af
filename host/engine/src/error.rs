//! The engine's error type.

/// Why the engine could not answer. Every variant names the object and the field concerned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The object failed Argo's validation; each entry names a field.
    #[error("{object}: invalid spec: {}", .errors.join("; "))]
    InvalidSpec {
        /// The object (e.g. `rollout "demo"`).
        object: String,
        /// One message per invalid field.
        errors: Vec<String>,
    },
    /// The object is not of the shape the operation needs (e.g. `plan` on a blue-green rollout
    /// given a canary state).
    #[error("{object}: {field}: {reason}")]
    Unsupported {
        /// The object.
        object: String,
        /// The field concerned.
        field: String,
        /// Why.
        reason: String,
    },
    /// A walk did not converge: a step's target was not reached within the reconcile budget.
    #[error("{object}: {field}: step did not complete after {reconciles} reconciles ({reason})")]
    Stuck {
        /// The object.
        object: String,
        /// The step, e.g. `spec.strategy.canary.steps[2]`.
        field: String,
        /// How many reconciles were simulated.
        reconciles: usize,
        /// What was still missing.
        reason: String,
    },
    /// Input data (a scenario or measurement file) is inconsistent.
    #[error("{source_name}: {field}: {reason}")]
    BadInput {
        /// The file or object.
        source_name: String,
        /// The field.
        field: String,
        /// Why.
        reason: String,
    },
}

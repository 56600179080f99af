//! Argo's validation rules and messages.
//!
//! An invalid object yields a list of [`FieldError`]s, each naming the field by its full path
//! (`spec.strategy.canary.steps[2].setWeight`) and carrying Argo's message word for word; nothing
//! here panics on bad input. Errors print the way Kubernetes' `field.Error` prints them, so that
//! a message copied from Argo's documentation or from `kubectl argo rollouts lint` matches ours.

mod analysis;
mod rollout;

use std::fmt;

pub use analysis::{MetricsError, metric_errors, validate_analysis_run, validate_analysis_template, validate_metrics};
pub use rollout::{
    downward_api_metadata as rollout_downward_api, messages, validate_resolved_rollout, validate_rollout,
};

/// The kind of a field error, as in Kubernetes' `field.ErrorType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldErrorKind {
    /// A required field is missing (`Required value`).
    Required,
    /// A field has a bad value (`Invalid value`).
    Invalid,
    /// A field may not be set in this context (`Forbidden`).
    Forbidden,
    /// An internal inconsistency (`Internal error`).
    Internal,
}

/// One validation failure: which field, what kind, the bad value and Argo's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The field's full path, e.g. `spec.strategy.canary.steps[0].setWeight`.
    pub field: String,
    /// What is wrong with it.
    pub kind: FieldErrorKind,
    /// The offending value as Go's field errors print it (strings quoted), when there is one.
    pub value: Option<String>,
    /// Argo's message.
    pub detail: String,
}

impl FieldError {
    /// A missing field.
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError { field: field.into(), kind: FieldErrorKind::Required, value: None, detail: detail.into() }
    }

    /// A field with a bad value.
    pub fn invalid(field: impl Into<String>, value: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            kind: FieldErrorKind::Invalid,
            value: Some(value.into()),
            detail: detail.into(),
        }
    }

    /// A field that may not be set here.
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError { field: field.into(), kind: FieldErrorKind::Forbidden, value: None, detail: detail.into() }
    }

    /// An internal inconsistency.
    pub fn internal(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError { field: field.into(), kind: FieldErrorKind::Internal, value: None, detail: detail.into() }
    }
}

impl FieldError {
    /// The error as Argo's controller words it in the InvalidSpec condition. Argo validates a
    /// strategy with the path of `spec.strategy` itself, so its messages name
    /// `spec.strategy.steps[0]` for `spec.strategy.canary.steps[0]` and `spec.strategy.strategy`
    /// for a missing or doubled strategy; the condition repeats that, word for word, while lint
    /// keeps the true path (it points at the line).
    pub fn as_argo(&self) -> FieldError {
        let field = if self.field == "spec.strategy" {
            "spec.strategy.strategy".to_string()
        } else if let Some(rest) =
            ["spec.strategy.canary", "spec.strategy.blueGreen"].iter().find_map(|p| self.field.strip_prefix(p))
        {
            format!("spec.strategy{rest}")
        } else {
            self.field.clone()
        };
        FieldError { field, ..self.clone() }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            FieldErrorKind::Required => {
                write!(f, "{}: Required value", self.field)?;
                if !self.detail.is_empty() {
                    write!(f, ": {}", self.detail)?;
                }
                Ok(())
            }
            FieldErrorKind::Invalid => {
                write!(f, "{}: Invalid value: {}: {}", self.field, self.value.as_deref().unwrap_or("null"), self.detail)
            }
            FieldErrorKind::Forbidden => write!(f, "{}: Forbidden: {}", self.field, self.detail),
            FieldErrorKind::Internal => {
                write!(f, "{}: Internal error: {}", self.field, self.detail)
            }
        }
    }
}

/// Formats a string value the way Go's field errors do (quoted).
pub(crate) fn quoted(s: &str) -> String {
    format!("{s:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argo_paths_drop_the_strategy_name_as_argo_does() {
        let cases = [
            ("spec.strategy.canary.steps[0].setWeight", "spec.strategy.steps[0].setWeight"),
            ("spec.strategy.blueGreen.activeService", "spec.strategy.activeService"),
            ("spec.strategy", "spec.strategy.strategy"),
            ("spec.selector", "spec.selector"),
        ];
        for (ours, argo) in cases {
            let e = FieldError::invalid(ours, "1", "bad");
            assert_eq!(e.as_argo().field, argo);
            assert_eq!(e.as_argo().to_string(), format!("{argo}: Invalid value: 1: bad"));
        }
    }
}

//! The `aviary:plugin@0.1.0` measurement record converted to and from the host's validated
//! [`Measurement`]: the one mapping between the WIT type and the host type.

use aviary_boundary::measurement::{Measurement, Phase, RawMeasurement};

use super::types as wit;

/// A guest's answer, checked: a bad one is an `invalid value` failure.
pub(crate) fn from_wit(plugin: &str, m: wit::Measurement) -> Measurement {
    RawMeasurement {
        phase: match m.phase {
            wit::Phase::Measured => Phase::Measured,
            wit::Phase::Running => Phase::Running,
            wit::Phase::Successful => Phase::Successful,
            wit::Phase::Failed => Phase::Failed,
            wit::Phase::Inconclusive => Phase::Inconclusive,
            wit::Phase::Error => Phase::Error,
        },
        value: m.value,
        message: m.message,
        metadata: m.metadata,
        resume_after_ms: m.resume_after_ms,
    }
    .validate(plugin)
}

/// Converts back to the WIT record, for `resume` and `terminate`.
pub(crate) fn to_wit(m: &Measurement) -> wit::Measurement {
    wit::Measurement {
        phase: match m.phase {
            Phase::Measured => wit::Phase::Measured,
            Phase::Running => wit::Phase::Running,
            Phase::Successful => wit::Phase::Successful,
            Phase::Failed => wit::Phase::Failed,
            Phase::Inconclusive => wit::Phase::Inconclusive,
            Phase::Error => wit::Phase::Error,
        },
        value: m.value.clone(),
        message: m.message.clone(),
        metadata: m.metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        resume_after_ms: m.resume_after.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
    }
}

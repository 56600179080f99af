//! A provider's measurement as the host hands it on, validated.
//!
//! The guest's answer is checked before anyone sees it: the value must be extended JSON (it is
//! re-written in canonical form, which is what Argo stores), and the message, value and metadata
//! must be of a size a Kubernetes status can hold. Anything else is an `invalid value` failure.

use std::collections::BTreeMap;
use std::time::Duration;

use aviary_value::Value;

use crate::failure::Failure;
use crate::wit::v0_1::types as wit;

/// Largest value text accepted from a plugin.
pub const MAX_VALUE_BYTES: usize = 64 << 10;
/// Largest message accepted from a plugin.
pub const MAX_MESSAGE_BYTES: usize = 8 << 10;
/// Largest total of metadata keys and values accepted from a plugin.
pub const MAX_METADATA_BYTES: usize = 64 << 10;

/// Which analysis asks for a measurement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallContext {
    /// Namespace of the AnalysisRun.
    pub namespace: String,
    /// Name of the AnalysisRun.
    pub run_name: String,
    /// Name of the metric.
    pub metric_name: String,
}

/// Where a measurement stands after the provider call (before conditions are applied).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// A value to be judged by the metric's conditions.
    Measured,
    /// In flight: resume later.
    Running,
    /// Judged by the provider: passed.
    Successful,
    /// Judged by the provider: failed.
    Failed,
    /// Judged by the provider: neither.
    Inconclusive,
    /// Not measured; see the message (and [`Measurement::failure`] when the host caused it).
    Error,
}

impl Phase {
    /// Argo's name of a final phase; `Measured` has none (it still needs judging).
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Measured => "Measured",
            Phase::Running => "Running",
            Phase::Successful => "Successful",
            Phase::Failed => "Failed",
            Phase::Inconclusive => "Inconclusive",
            Phase::Error => "Error",
        }
    }
}

/// One provider measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// Where it stands.
    pub phase: Phase,
    /// The value in canonical extended-JSON text, if any.
    pub value: Option<String>,
    /// Explanation.
    pub message: String,
    /// Details shown with the measurement.
    pub metadata: BTreeMap<String, String>,
    /// With `Running`: when to resume.
    pub resume_after: Option<Duration>,
    /// Set when the call itself failed (timeout, trap, ...), for metrics and tests.
    pub failure: Option<Failure>,
}

impl Measurement {
    /// An `Error` measurement caused by a failed call.
    pub fn from_failure(failure: Failure) -> Self {
        Self {
            phase: Phase::Error,
            value: None,
            message: failure.to_string(),
            metadata: BTreeMap::new(),
            resume_after: None,
            failure: Some(failure),
        }
    }

    /// The decoded value (`null` when there is none): what conditions see as `result`.
    pub fn result(&self) -> Value {
        self.value.as_deref().and_then(|v| Value::parse(v).ok()).unwrap_or(Value::Null)
    }

    /// Converts back to the WIT record, for `resume` and `terminate`.
    pub(crate) fn to_wit(&self) -> wit::Measurement {
        wit::Measurement {
            phase: match self.phase {
                Phase::Measured => wit::Phase::Measured,
                Phase::Running => wit::Phase::Running,
                Phase::Successful => wit::Phase::Successful,
                Phase::Failed => wit::Phase::Failed,
                Phase::Inconclusive => wit::Phase::Inconclusive,
                Phase::Error => wit::Phase::Error,
            },
            value: self.value.clone(),
            message: self.message.clone(),
            metadata: self.metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            resume_after_ms: self.resume_after.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        }
    }

    /// Validates a guest's answer; a bad one is an `invalid value` failure.
    pub(crate) fn from_wit(plugin: &str, m: wit::Measurement) -> Self {
        let invalid =
            |detail: String| Measurement::from_failure(Failure::InvalidValue { plugin: plugin.to_string(), detail });
        if m.message.len() > MAX_MESSAGE_BYTES {
            return invalid(format!("message of {} bytes exceeds {MAX_MESSAGE_BYTES}", m.message.len()));
        }
        let meta_size: usize = m.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
        if meta_size > MAX_METADATA_BYTES {
            return invalid(format!("metadata of {meta_size} bytes exceeds {MAX_METADATA_BYTES}"));
        }
        let value = match m.value {
            None => None,
            Some(text) if text.len() > MAX_VALUE_BYTES => {
                return invalid(format!("value of {} bytes exceeds {MAX_VALUE_BYTES}", text.len()));
            }
            Some(text) => match Value::parse(&text) {
                Ok(v) => Some(v.to_string()),
                Err(e) => return invalid(format!("the value is not JSON: {e}: {}", preview(&text))),
            },
        };
        Measurement {
            phase: match m.phase {
                wit::Phase::Measured => Phase::Measured,
                wit::Phase::Running => Phase::Running,
                wit::Phase::Successful => Phase::Successful,
                wit::Phase::Failed => Phase::Failed,
                wit::Phase::Inconclusive => Phase::Inconclusive,
                wit::Phase::Error => Phase::Error,
            },
            value,
            message: m.message,
            metadata: m.metadata.into_iter().collect(),
            resume_after: m.resume_after_ms.map(Duration::from_millis),
            failure: None,
        }
    }
}

fn preview(text: &str) -> String {
    let mut end = text.len().min(80);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wit_measurement(value: Option<&str>) -> wit::Measurement {
        wit::Measurement {
            phase: wit::Phase::Measured,
            value: value.map(str::to_string),
            message: String::new(),
            metadata: vec![],
            resume_after_ms: None,
        }
    }

    #[test]
    fn values_are_rewritten_canonically() {
        let m = Measurement::from_wit("p", wit_measurement(Some(" [ 10.0 , NaN ] ")));
        assert_eq!(m.phase, Phase::Measured);
        assert_eq!(m.value.as_deref(), Some("[10,NaN]"));
    }

    #[test]
    fn garbage_values_are_invalid_value_errors() {
        let m = Measurement::from_wit("p", wit_measurement(Some("{not json")));
        assert_eq!(m.phase, Phase::Error);
        assert!(m.message.starts_with("invalid value: plugin \"p\": the value is not JSON"), "{}", m.message);
        assert_eq!(m.failure.as_ref().map(Failure::reason), Some("invalid_value"));
    }

    #[test]
    fn oversized_answers_are_refused() {
        let big = format!("\"{}\"", "x".repeat(MAX_VALUE_BYTES));
        assert_eq!(Measurement::from_wit("p", wit_measurement(Some(&big))).phase, Phase::Error);
        let mut m = wit_measurement(None);
        m.metadata = vec![("k".into(), "v".repeat(MAX_METADATA_BYTES))];
        assert_eq!(Measurement::from_wit("p", m).phase, Phase::Error);
    }

    #[test]
    fn missing_values_read_as_null() {
        let m = Measurement::from_wit("p", wit_measurement(None));
        assert_eq!(m.result(), Value::Null);
    }
}

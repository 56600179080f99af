//! One measurement's phase from its conditions (reference §3.1; Argo `EvaluateResult`).
//!
//! The engine does not evaluate expressions: the caller evaluates `successCondition` and
//! `failureCondition` (with the condition plugin) and hands over the outcomes. [`judge`] calls
//! an evaluator lazily, in Argo's order (success first; failure only if success evaluated), for
//! callers that have one at hand.

use chrono::{DateTime, Utc};
use serde_json::Value;

use aviary_api::{AnalysisPhase, Measurement, Metric, Time};

/// The message suffix Argo uses when a condition could not be evaluated against no data.
pub const NO_DATA_MESSAGE: &str = "metric result is nil or empty: no data returned from the metric provider";

/// A condition and what evaluating it gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConditionEval<'a> {
    /// The expression, as written in the metric.
    pub expression: &'a str,
    /// `Ok(bool)`, or the evaluator's error (compile error, runtime error, non-bool result).
    pub outcome: Result<bool, String>,
}

/// A measurement's phase and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Successful, Failed, Inconclusive or Error.
    pub phase: AnalysisPhase,
    /// The error message, empty unless the phase is Error.
    pub message: String,
}

/// Whether a provider value is "no data": JSON null or an empty array.
pub fn value_is_nil_or_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// Argo's `EvaluateResult` (reference §3.1). `None` means the condition is not set.
///
/// - An evaluation error gives Error with `could not evaluate successCondition "<expr>": <err>`
///   (or failureCondition); for a success condition over no data the reason is
///   [`NO_DATA_MESSAGE`]. The success condition is looked at first.
/// - No condition: Successful. Only success: true → Successful, false → Failed. Only failure:
///   true → Failed, false → Successful. Both: failure true → Failed; success true → Successful;
///   both false → Inconclusive.
pub fn measurement_phase(
    success: Option<ConditionEval<'_>>,
    failure: Option<ConditionEval<'_>>,
    result_is_empty: bool,
) -> Verdict {
    let mut success_value = false;
    let mut failure_value = false;
    if let Some(s) = &success {
        match &s.outcome {
            Ok(b) => success_value = *b,
            Err(e) => {
                let reason = if result_is_empty { NO_DATA_MESSAGE } else { e.as_str() };
                return error(format!("could not evaluate successCondition {:?}: {reason}", s.expression));
            }
        }
    }
    if let Some(f) = &failure {
        match &f.outcome {
            Ok(b) => failure_value = *b,
            Err(e) => {
                return error(format!("could not evaluate failureCondition {:?}: {e}", f.expression));
            }
        }
    }
    match (success.is_some(), failure.is_some()) {
        (false, false) => return ok(AnalysisPhase::Successful),
        (true, false) => failure_value = !success_value,
        (false, true) => success_value = !failure_value,
        (true, true) => {}
    }
    if failure_value {
        ok(AnalysisPhase::Failed)
    } else if !success_value {
        ok(AnalysisPhase::Inconclusive)
    } else {
        ok(AnalysisPhase::Successful)
    }
}

fn ok(phase: AnalysisPhase) -> Verdict {
    Verdict { phase, message: String::new() }
}

fn error(message: String) -> Verdict {
    Verdict { phase: AnalysisPhase::Error, message }
}

/// Judges `value` against the metric's conditions, calling `evaluate(expression)` lazily in
/// Argo's order: the failure condition is not evaluated when the success condition failed to.
pub fn judge(metric: &Metric, value: &Value, evaluate: &mut dyn FnMut(&str) -> Result<bool, String>) -> Verdict {
    let empty = value_is_nil_or_empty(value);
    let success = (!metric.success_condition.is_empty())
        .then(|| ConditionEval { expression: &metric.success_condition, outcome: evaluate(&metric.success_condition) });
    if let Some(s) = &success
        && s.outcome.is_err()
    {
        return measurement_phase(success, None, empty);
    }
    let failure = (!metric.failure_condition.is_empty())
        .then(|| ConditionEval { expression: &metric.failure_condition, outcome: evaluate(&metric.failure_condition) });
    measurement_phase(success, failure, empty)
}

/// A completed measurement taken at `now` with the given verdict and value text.
pub fn completed_measurement(verdict: Verdict, value: String, now: DateTime<Utc>) -> Measurement {
    Measurement {
        phase: verdict.phase,
        message: verdict.message,
        started_at: Some(Time(now)),
        finished_at: Some(Time(now)),
        value,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c<'a>(expr: &'a str, outcome: Result<bool, &str>) -> Option<ConditionEval<'a>> {
        Some(ConditionEval { expression: expr, outcome: outcome.map_err(str::to_string) })
    }

    /// E1-E8 of reference §4 (the evaluator's part is the plugin's; here its outcomes).
    #[test]
    fn condition_outcome_rows_e1_to_e8() {
        use AnalysisPhase::*;
        assert_eq!(measurement_phase(c("true", Ok(true)), c("false", Ok(false)), false).phase, Successful); // E1
        assert_eq!(measurement_phase(c("true", Ok(true)), c("true", Ok(true)), false).phase, Failed); // E2
        assert_eq!(measurement_phase(c("false", Ok(false)), c("false", Ok(false)), false).phase, Inconclusive); // E3
        assert_eq!(measurement_phase(None, c("false", Ok(false)), false).phase, Successful); // E4
        assert_eq!(measurement_phase(c("false", Ok(false)), None, false).phase, Failed); // E5
        assert_eq!(measurement_phase(None, None, false).phase, Successful); // E6
        let e7 = measurement_phase(c("a == true", Err("unknown name a")), c("true", Ok(true)), false);
        assert_eq!(
            e7,
            Verdict {
                phase: Error,
                message: "could not evaluate successCondition \"a == true\": unknown name a".into()
            }
        );
        let e8 = measurement_phase(c("true", Ok(true)), c("a == true", Err("unknown name a")), false);
        assert_eq!(
            e8,
            Verdict {
                phase: Error,
                message: "could not evaluate failureCondition \"a == true\": unknown name a".into()
            }
        );
    }

    #[test]
    fn prometheus_nan_rows_p3_to_p5() {
        use AnalysisPhase::*;
        // NaN comparisons are false.
        assert_eq!(
            measurement_phase(c("result >= 0.9", Ok(false)), c("result < 0.9", Ok(false)), false).phase,
            Inconclusive
        );
        assert_eq!(measurement_phase(c("result >= 0.9 || isNaN(result)", Ok(true)), None, false).phase, Successful);
        assert_eq!(measurement_phase(c("result >= 0.9", Ok(false)), None, false).phase, Failed);
    }

    #[test]
    fn no_data_replaces_the_error_of_the_success_condition() {
        let v = measurement_phase(c("result[0] >= 0.95", Err("index out of range")), None, true);
        assert_eq!(
            v.message,
            "could not evaluate successCondition \"result[0] >= 0.95\": metric result is nil or empty: no data returned from the metric provider"
        );
        assert!(value_is_nil_or_empty(&Value::Null));
        assert!(value_is_nil_or_empty(&serde_json::json!([])));
        assert!(!value_is_nil_or_empty(&serde_json::json!([0])));
    }

    #[test]
    fn judge_does_not_evaluate_failure_after_a_success_error() {
        let metric = Metric { success_condition: "bad".into(), failure_condition: "x".into(), ..Default::default() };
        let mut calls = Vec::new();
        let v = judge(&metric, &serde_json::json!(1), &mut |e| {
            calls.push(e.to_string());
            Err("boom".to_string())
        });
        assert_eq!(v.phase, AnalysisPhase::Error);
        assert_eq!(calls, vec!["bad".to_string()]);
    }
}

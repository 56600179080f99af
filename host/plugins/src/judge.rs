//! A measured value judged by the metric's success and failure conditions, with the condition
//! plugin in force. The rules are the engine's (Argo's `EvaluateResult`, reference §3.1); this
//! module only supplies the evaluations, in Argo's order: the failure condition is not evaluated
//! when the success condition could not be.

use aviary_api::AnalysisPhase;
use aviary_engine::analysis::measurement::{ConditionEval, Verdict, measurement_phase};
use aviary_value::Value;

use crate::host::PluginHost;

/// The conditions of a metric, as written (empty or `None` means "not set").
#[derive(Debug, Clone, Copy, Default)]
pub struct Conditions<'a> {
    /// `successCondition`.
    pub success: Option<&'a str>,
    /// `failureCondition`.
    pub failure: Option<&'a str>,
}

/// Judges `value` (extended JSON text; `None` is `null`) with the condition plugin `evaluator`.
pub async fn judge(host: &PluginHost, evaluator: &str, value: Option<&str>, conditions: Conditions<'_>) -> Verdict {
    let text = value.unwrap_or("null");
    let empty = Value::parse(text).map(|v| v.is_empty_result()).unwrap_or(false);
    let success = match conditions.success.filter(|s| !s.is_empty()) {
        Some(expression) => {
            let outcome = host.evaluate(evaluator, expression, text).await.map_err(|e| e.to_string());
            if outcome.is_err() {
                return measurement_phase(Some(ConditionEval { expression, outcome }), None, empty);
            }
            Some(ConditionEval { expression, outcome })
        }
        None => None,
    };
    let failure = match conditions.failure.filter(|s| !s.is_empty()) {
        Some(expression) => Some(ConditionEval {
            expression,
            outcome: host.evaluate(evaluator, expression, text).await.map_err(|e| e.to_string()),
        }),
        None => None,
    };
    measurement_phase(success, failure, empty)
}

/// Argo's name of a phase (`Successful`, ...), as the CLI and status print it.
pub fn phase_name(phase: AnalysisPhase) -> &'static str {
    match phase {
        AnalysisPhase::Pending => "Pending",
        AnalysisPhase::Running => "Running",
        AnalysisPhase::Successful => "Successful",
        AnalysisPhase::Failed => "Failed",
        AnalysisPhase::Error => "Error",
        AnalysisPhase::Inconclusive => "Inconclusive",
    }
}

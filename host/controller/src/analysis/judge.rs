//! A measured value judged by the metric's success and failure conditions, with the condition
//! plugin in force. The rules are the engine's ([`Judge`]: which condition to evaluate, in
//! Argo's order, and the verdict; reference §3.1); this only evaluates what it asks for with the
//! plugin host. `aviary replay` drives the same `Judge` with a synchronous evaluator.

use aviary_engine::analysis::measurement::{Judge, Verdict, condition_plugin};
use aviary_plugins::PluginHost;
use aviary_value::Value;

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
    let mut judge = Judge::new(conditions.success.unwrap_or_default(), conditions.failure.unwrap_or_default(), empty);
    while let Some(expression) = judge.next() {
        // A condition may name its own plugin (`aviary/judge: {...}`); the others go to
        // `evaluator`.
        let (plugin, expression) = condition_plugin(expression).unwrap_or((evaluator, expression));
        judge.record(host.evaluate(plugin, expression, text).await.map_err(|e| e.to_string()));
    }
    judge.verdict()
}

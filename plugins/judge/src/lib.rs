//! `aviary/judge`: a canary-versus-baseline judgement with the statistics of Kayenta's
//! NetflixACAJudge, as a condition component, so that a team gets Kayenta's verdict without
//! running Spinnaker or a Kayenta server.
//!
//! The metric's provider returns both series (see [`input`]); the condition, instead of an expr
//! expression, is a JSON object of the judge's settings (see [`settings`]). For each metric the
//! judge runs Kayenta's classifier (a Mann–Whitney confidence interval of the shift canary −
//! baseline, the direction, effect-size and critical rules: [`classify`]), scores the metrics by
//! weighted groups ([`score`]) and classifies the score as Pass (`score >= pass`), Marginal
//! (`marginal <= score < pass`) or Fail (`score < marginal`). The condition is true when the
//! verdict is the one its `is` field names:
//!
//! ```yaml
//! apiVersion: argoproj.io/v1alpha1
//! kind: AnalysisTemplate
//! metadata:
//!   name: canary-judge
//! spec:
//!   metrics:
//!     - name: judge
//!       interval: 5m
//!       count: 3
//!       # The provider returns {"metrics": {"latency": {"canary": [...], "baseline": [...]},
//!       #                                   "errors": {"canary": [...], "baseline": [...]}}}
//!       provider:
//!         web:
//!           url: http://canary-metrics.monitoring/compare?window=5m
//!           jsonPath: "{$}"
//!       successCondition: >-
//!         {"is": "pass", "pass": 95, "marginal": 75, "groupWeights": {"latency": 60, "errors": 40},
//!          "metrics": {"latency": {"direction": "increase"},
//!                      "errors": {"direction": "increase", "critical": true}}}
//!       failureCondition: >-
//!         {"is": "fail", "pass": 95, "marginal": 75, "groupWeights": {"latency": 60, "errors": 40},
//!          "metrics": {"latency": {"direction": "increase"},
//!                      "errors": {"direction": "increase", "critical": true}}}
//! ```
//!
//! With both conditions, Argo's rules give: Pass → Successful, Fail → Failed, Marginal → neither
//! condition holds → Inconclusive (the rollout pauses; `inconclusiveLimit` applies). With only a
//! `successCondition` (`"is": "pass"`), Marginal and Fail are both Failed.
//!
//! The condition plugin in force is chosen per controller (the `conditionPlugin` key of the
//! `aviary-config` ConfigMap), and per command in the CLI (`--condition aviary/judge`): see
//! docs/judge.md.
//!
//! A condition returns only a bool, so the score and each metric's classification are written to
//! the controller's log (the `log` import, tagged with the plugin's name), one line per
//! evaluation.
//!
//! Everything but the export is plain Rust ([`judge`]), unit-tested natively; the statistics are
//! in [`stats`], with no Wasm in sight.

pub mod classify;
mod error;
pub mod input;
pub mod score;
pub mod settings;
pub mod stats;

use std::fmt::Write as _;

use aviary_plugin_sdk::{Condition, export_condition};

pub use aviary_plugin_sdk::Value;
pub use error::Error;

use classify::{MetricResult, TestParams};
use score::{Classification, Score};
use settings::{Outcome, Settings};

/// A complete judgement: every metric's classification and the score.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// The metrics, by name.
    pub metrics: Vec<MetricResult>,
    /// The score and its classification.
    pub score: Score,
    /// The thresholds and the verdict the condition asks about.
    pub settings: Settings,
}

impl Judgement {
    /// Whether the condition holds: the verdict is the one `is` names.
    pub fn holds(&self) -> bool {
        matches!(
            (self.settings.is, self.score.classification),
            (Outcome::Pass, Classification::Pass)
                | (Outcome::Marginal, Classification::Marginal)
                | (Outcome::Fail, Classification::Fail)
        )
    }

    /// One line for the log: the score, the verdict, and every metric.
    pub fn summary(&self) -> String {
        let s = &self.score;
        let mut line = format!(
            "score {} ({}; pass {}, marginal {})",
            s.score, s.classification, self.settings.pass, self.settings.marginal
        );
        if let Some(reason) = &s.reason {
            let _ = write!(line, ": {reason}");
        }
        for m in &self.metrics {
            let _ = write!(line, "; {} {}", m.name, m.label);
            if m.critical {
                line.push_str(" (critical)");
            }
            if m.muted {
                line.push_str(" (muted)");
            }
            if let Some(i) = &m.interval {
                let _ = write!(
                    line,
                    " [ratio {:.4}, shift {:.6} in {:.6}..{:.6}]",
                    m.deviation, i.estimate, i.lower, i.upper
                );
            } else if let Some(reason) = &m.reason {
                let _ = write!(line, " ({reason})");
            }
        }
        line
    }
}

/// Judges `value` (the provider's series) with the settings in `expression`.
pub fn judge(expression: &str, value: &Value) -> Result<Judgement, Error> {
    let settings = Settings::parse(expression)?;
    let mut series = input::parse(value)?;
    // A metric configured but absent from the value has no data, as in Kayenta, where every
    // configured metric gets a (possibly empty) pair of series.
    for name in settings.metrics.keys() {
        series.entry(name.clone()).or_default();
    }
    let params = TestParams { confidence: settings.confidence, tolerance: settings.tolerance };
    let metrics: Vec<MetricResult> =
        series.iter().map(|(name, s)| classify::classify(name, s, &settings.metric(name), params)).collect();
    let score = score::score(&metrics, &settings.group_weights, settings.pass, settings.marginal);
    Ok(Judgement { metrics, score, settings })
}

/// Evaluates the condition: [`judge`], then whether the verdict is the one asked.
pub fn evaluate(expression: &str, value: &Value) -> Result<bool, String> {
    judge(expression, value).map(|j| j.holds()).map_err(|e| e.to_string())
}

struct Judge;

impl Condition for Judge {
    fn evaluate(expression: &str, result: Value) -> Result<bool, String> {
        let judgement = judge(expression, &result).map_err(|e| e.to_string())?;
        aviary_plugin_sdk::log::info(&judgement.summary());
        Ok(judgement.holds())
    }
}

export_condition!(Judge);

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> Value {
        Value::parse(text).unwrap()
    }

    const CANARY_UP: &str = r#"{"canary": [20.9, 21.8, 19.7, 15.9, 19.5, 19.4, 22.9, 17.2, 18.7, 23.4],
        "baseline": [11.1, 9.96, 7.07, 7.30, 9.79, 9.60, 6.19, 12.3, 10.4, 8.61]}"#;

    #[test]
    fn the_condition_holds_for_the_verdict_it_names() {
        let v = value(CANARY_UP);
        assert_eq!(evaluate(r#"{"is": "fail", "pass": 95, "marginal": 75}"#, &v), Ok(true));
        assert_eq!(evaluate(r#"{"is": "pass", "pass": 95, "marginal": 75}"#, &v), Ok(false));
        assert_eq!(evaluate(r#"{"is": "marginal", "pass": 95, "marginal": 75}"#, &v), Ok(false));
        // Only a decrease counts: the canary passes.
        assert_eq!(evaluate(r#"{"is": "pass", "pass": 95, "marginal": 75, "direction": "decrease"}"#, &v), Ok(true));
        // A score of 0 with a marginal threshold of 0 is marginal.
        assert_eq!(evaluate(r#"{"is": "marginal", "pass": 95, "marginal": 0}"#, &v), Ok(true));
    }

    #[test]
    fn several_metrics_are_scored_by_weighted_groups() {
        let v = value(
            r#"{"metrics": {
                "latency": {"canary": [20.9, 21.8, 19.7, 15.9, 19.5, 19.4, 22.9, 17.2, 18.7, 23.4],
                            "baseline": [11.1, 9.96, 7.07, 7.30, 9.79, 9.60, 6.19, 12.3, 10.4, 8.61]},
                "errors": {"canary": [1, 0, 2, 1, 0], "baseline": [0, 1, 1, 2, 0]}}}"#,
        );
        let j =
            judge(r#"{"is": "pass", "pass": 95, "marginal": 75, "groupWeights": {"latency": 20, "errors": 80}}"#, &v)
                .unwrap();
        assert_eq!(j.score.score, 80.0);
        assert_eq!(j.score.classification, Classification::Marginal);
        let names: Vec<_> = j.metrics.iter().map(|m| (m.name.as_str(), m.label)).collect();
        assert_eq!(names, [("errors", classify::Label::Pass), ("latency", classify::Label::High)]);
        assert!(j.summary().starts_with("score 80 (Marginal; pass 95, marginal 75); errors Pass"), "{}", j.summary());
        // latency critical: the canary fails whatever the weights.
        let j = judge(r#"{"is": "fail", "pass": 95, "marginal": 75, "metrics": {"latency": {"critical": true}}}"#, &v)
            .unwrap();
        assert!(j.holds());
        assert_eq!(j.score.score, 0.0);
    }

    #[test]
    fn a_configured_metric_missing_from_the_value_has_no_data() {
        let j =
            judge(r#"{"is": "fail", "pass": 95, "marginal": 75, "metrics": {"cpu": {}}}"#, &value(CANARY_UP)).unwrap();
        let cpu = j.metrics.iter().find(|m| m.name == "cpu").unwrap();
        assert_eq!(cpu.label, classify::Label::Nodata);
        assert_eq!(j.score.reason.as_deref(), Some("Canary Failed: 50% or more metrics returned NODATA"));
    }

    #[test]
    fn errors_name_their_side_and_field() {
        let e = evaluate(r#"{"is": "pass", "pass": 95, "marginal": 75}"#, &value("[1, 2]")).unwrap_err();
        assert!(e.starts_with("aviary/judge value: expected {\"canary\""), "{e}");
        let e = evaluate("result > 1", &value(CANARY_UP)).unwrap_err();
        assert!(e.starts_with("aviary/judge settings: the condition must be a JSON object"), "{e}");
    }
}

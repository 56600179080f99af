//! `aviary replay`: recorded measurements fed through the analysis state machine.
//!
//! The replay builds an AnalysisRun from a template and runs the same reconcile loop as the
//! controller (argument resolution, validation, dry-run selection, scheduling, metric and run
//! assessment, measurement retention) on a simulated clock. Each metric is fed its next recorded
//! measurement only when the run asks for one, so a run that stops early leaves measurements
//! unused, and a run that needs more than were recorded stops where it starved.
//!
//! Recorded measurements are either `{phase: ...}` (taken as is) or `{value: ...}` (judged by
//! the metric's success and failure conditions through a [`ConditionEvaluator`], the condition
//! plugin in the CLI; the engine never evaluates expressions itself).

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use aviary_api::analysis::{AnalysisRunSpec, AnalysisTemplateSpec, Argument};
use aviary_api::{AnalysisPhase, AnalysisRunStatus};
use aviary_value::Value as ExtValue;

use crate::analysis::args::merge_args;
use crate::analysis::measurement::{Verdict, completed_measurement};
use crate::analysis::reconcile::{due, next_at, settle};
use crate::analysis::run::prepare;
use crate::error::EngineError;

/// Evaluates one condition against one value (extended JSON text: JSON plus bare `NaN`,
/// `Infinity`, `-Infinity`). The CLI passes the condition plugin; tests pass closures.
pub trait ConditionEvaluator {
    /// `Ok(bool)` or the evaluation error, worded as the condition language words it.
    fn evaluate(&self, expression: &str, value_json: &str) -> Result<bool, String>;
}

impl<F> ConditionEvaluator for F
where
    F: Fn(&str, &str) -> Result<bool, String>,
{
    fn evaluate(&self, expression: &str, value_json: &str) -> Result<bool, String> {
        self(expression, value_json)
    }
}

/// One recorded measurement.
#[derive(Clone, Debug, PartialEq)]
pub enum Recorded {
    /// A measurement whose phase is known (from a real run, or made up).
    Phase {
        /// Successful, Failed, Inconclusive or Error.
        phase: AnalysisPhase,
        /// Its message (for Error, the provider's error).
        message: String,
    },
    /// A provider value, to be judged by the metric's conditions.
    Value(ExtValue),
}

/// The measurements file: per metric, the measurements in order, plus optional arguments.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Recording {
    /// Argument values supplied to the run (as a Rollout would supply them).
    pub args: BTreeMap<String, String>,
    /// Measurements by metric name, in order.
    pub measurements: BTreeMap<String, Vec<Recorded>>,
    /// When the simulated run starts; default 2000-01-01T00:00:00Z.
    pub start: Option<DateTime<Utc>>,
}

/// A recorded value: any YAML/JSON value, with YAML's `.nan`, `.inf` and `-.inf` kept.
struct RecordedValue(ExtValue);

impl<'de> Deserialize<'de> for RecordedValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ExtValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<ExtValue, E> {
                Ok(ExtValue::Null)
            }
            fn visit_none<E>(self) -> Result<ExtValue, E> {
                Ok(ExtValue::Null)
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<ExtValue, D2::Error> {
                d.deserialize_any(V)
            }
            fn visit_bool<E>(self, b: bool) -> Result<ExtValue, E> {
                Ok(ExtValue::Bool(b))
            }
            fn visit_i64<E>(self, v: i64) -> Result<ExtValue, E> {
                Ok(ExtValue::Number(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<ExtValue, E> {
                Ok(ExtValue::Number(v as f64))
            }
            fn visit_f64<E>(self, v: f64) -> Result<ExtValue, E> {
                Ok(ExtValue::Number(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<ExtValue, E> {
                Ok(ExtValue::String(v.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ExtValue, A::Error> {
                let mut out = Vec::new();
                while let Some(RecordedValue(v)) = seq.next_element()? {
                    out.push(v);
                }
                Ok(ExtValue::Array(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ExtValue, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((k, RecordedValue(v))) = map.next_entry::<String, RecordedValue>()? {
                    out.insert(k, v);
                }
                Ok(ExtValue::Object(out))
            }
        }
        d.deserialize_any(V).map(RecordedValue)
    }
}

fn always_some<'de, D: Deserializer<'de>>(d: D) -> Result<Option<RecordedValue>, D::Error> {
    RecordedValue::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    #[serde(default)]
    phase: Option<AnalysisPhase>,
    #[serde(default, deserialize_with = "always_some")]
    value: Option<RecordedValue>,
    /// The value as extended JSON text (`NaN`, `[1, Infinity]`).
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    args: BTreeMap<String, String>,
    #[serde(default)]
    start: Option<aviary_api::Time>,
    measurements: BTreeMap<String, Vec<RawEntry>>,
}

fn bad(source: &str, field: impl Into<String>, reason: impl Into<String>) -> EngineError {
    EngineError::BadInput { source_name: source.to_string(), field: field.into(), reason: reason.into() }
}

fn parse_yaml<T: de::DeserializeOwned>(text: &str, source: &str) -> Result<T, EngineError> {
    let de = serde_norway::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        bad(source, if path == "." { "(document)".to_string() } else { path }, e.into_inner().to_string())
    })
}

impl Recording {
    /// Parses a measurements file: either `{measurements: {METRIC: [...]}, args: {...},
    /// start: TIME}` or directly `{METRIC: [...]}`. Each entry is `{phase: P, message: M}`,
    /// `{value: V}` (YAML `.nan`/`.inf` allowed) or `{text: "NaN"}` (extended JSON text).
    pub fn from_yaml(text: &str, source: &str) -> Result<Recording, EngineError> {
        let probe: serde_norway::Value = parse_yaml(text, source)?;
        let structured = probe.get("measurements").is_some_and(|m| m.is_mapping());
        let (raw, prefix) = if structured {
            (parse_yaml::<RawFile>(text, source)?, "measurements.")
        } else {
            let measurements: BTreeMap<String, Vec<RawEntry>> = parse_yaml(text, source)?;
            (RawFile { args: BTreeMap::new(), start: None, measurements }, "")
        };
        let mut out = Recording { args: raw.args, measurements: BTreeMap::new(), start: raw.start.map(|t| t.0) };
        for (metric, entries) in raw.measurements {
            let mut list = Vec::with_capacity(entries.len());
            for (i, e) in entries.into_iter().enumerate() {
                let field = format!("{prefix}{metric}[{i}]");
                let rec = match (e.phase, e.value, e.text) {
                    (Some(phase), None, None) => {
                        if !phase.is_completed() {
                            return Err(bad(
                                source,
                                format!("{field}.phase"),
                                format!(
                                    "a recorded measurement must be completed (Successful, Failed, Inconclusive or Error), not {phase}"
                                ),
                            ));
                        }
                        Recorded::Phase { phase, message: e.message.unwrap_or_default() }
                    }
                    (None, Some(RecordedValue(v)), None) => Recorded::Value(v),
                    (None, None, Some(t)) => Recorded::Value(
                        ExtValue::parse(&t).map_err(|err| bad(source, format!("{field}.text"), err.to_string()))?,
                    ),
                    _ => {
                        return Err(bad(source, field, "exactly one of phase, value and text must be set"));
                    }
                };
                list.push(rec);
            }
            out.measurements.insert(metric, list);
        }
        Ok(out)
    }
}

/// Loads the analysis to replay: an AnalysisTemplate, a ClusterAnalysisTemplate or an
/// AnalysisRun manifest, checked against its CRD schema (a misspelt field is an input error
/// naming the field; breaking Argo's metric rules is not: the replayed run goes to Error, as
/// Argo's would).
pub fn load_template(text: &str, source: &str) -> Result<AnalysisTemplateSpec, EngineError> {
    let raw: serde_json::Value = parse_yaml(text, source)?;
    let kind = raw.get("kind").and_then(|k| k.as_str()).unwrap_or_default().to_string();
    if !matches!(kind.as_str(), "AnalysisTemplate" | "ClusterAnalysisTemplate" | "AnalysisRun") {
        return Err(bad(
            source,
            "kind",
            format!("expected AnalysisTemplate, ClusterAnalysisTemplate or AnalysisRun, found {kind:?}"),
        ));
    }
    if let Some(first) = aviary_api::crd::check_manifest(&raw).and_then(|e| e.into_iter().next()) {
        return Err(bad(source, first.path.trim_start_matches('.').to_string(), first.reason));
    }
    Ok(match kind.as_str() {
        "AnalysisTemplate" => parse_yaml::<aviary_api::AnalysisTemplate>(text, source)?.spec,
        "ClusterAnalysisTemplate" => parse_yaml::<aviary_api::ClusterAnalysisTemplate>(text, source)?.spec.template,
        _ => {
            let run = parse_yaml::<aviary_api::AnalysisRun>(text, source)?.spec;
            AnalysisTemplateSpec {
                metrics: run.metrics,
                args: run.args,
                dry_run: run.dry_run,
                measurement_retention: run.measurement_retention,
                templates: Vec::new(),
            }
        }
    })
}

/// One measurement of the replay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimelineEntry {
    /// Offset from the run's start, e.g. `+1m30s`.
    pub at: String,
    /// The metric.
    pub metric: String,
    /// The measurement's phase.
    pub phase: AnalysisPhase,
    /// The measured value, as Argo stores it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The measurement's message.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The metric's phase after this reconcile.
    pub metric_phase: AnalysisPhase,
    /// The run's phase after this reconcile.
    pub run_phase: AnalysisPhase,
}

/// A metric's final state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MetricSummary {
    /// Its phase.
    pub phase: AnalysisPhase,
    /// Its message.
    pub message: String,
    /// Measurements that did not error.
    pub count: i32,
    /// Successful measurements.
    pub successful: i32,
    /// Failed measurements.
    pub failed: i32,
    /// Inconclusive measurements.
    pub inconclusive: i32,
    /// Errored measurements.
    pub error: i32,
}

/// The outcome of a replay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReplayOutcome {
    /// The run's phase.
    pub phase: AnalysisPhase,
    /// The run's message.
    pub message: String,
    /// Each metric's final state.
    pub metrics: BTreeMap<String, MetricSummary>,
    /// Every measurement taken, in order.
    pub timeline: Vec<TimelineEntry>,
    /// Recorded measurements the run never asked for, by metric.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub unused: BTreeMap<String, usize>,
    /// Metrics the run asked a measurement of when none was left: the replay stopped there.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub starved: Vec<String>,
    /// Recorded metrics the template does not have.
    #[serde(rename = "unknownMetrics", skip_serializing_if = "Vec::is_empty")]
    pub unknown_metrics: Vec<String>,
}

/// The default simulated start.
pub fn default_start() -> DateTime<Utc> {
    DateTime::from_timestamp(946_684_800, 0).unwrap_or_default()
}

fn offset(d: Duration) -> String {
    let total = d.num_seconds();
    if total == 0 {
        return "+0s".to_string();
    }
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    let mut out = String::from("+");
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// A guard against templates that would never finish (an interval with no count, fed forever).
const MAX_RECONCILES: usize = 100_000;

/// Replays `recording` through an AnalysisRun made from `template` (see the module docs).
pub fn replay(
    template: &AnalysisTemplateSpec,
    recording: &Recording,
    evaluator: &dyn ConditionEvaluator,
) -> ReplayOutcome {
    let mut outcome = ReplayOutcome {
        phase: AnalysisPhase::Pending,
        message: String::new(),
        metrics: BTreeMap::new(),
        timeline: Vec::new(),
        unused: BTreeMap::new(),
        starved: Vec::new(),
        unknown_metrics: recording
            .measurements
            .keys()
            .filter(|k| !template.metrics.iter().any(|m| &m.name == *k))
            .cloned()
            .collect(),
    };
    let error = |mut o: ReplayOutcome, message: String| {
        o.phase = AnalysisPhase::Error;
        o.message = message;
        o
    };
    if template.metrics.is_empty() && !template.templates.is_empty() {
        let names: Vec<_> = template.templates.iter().map(|t| t.template_name.as_str()).collect();
        return error(
            outcome,
            format!(
                "the template only references other templates ({}); replay needs the metrics in one file",
                names.join(", ")
            ),
        );
    }
    let supplied: Vec<Argument> = recording
        .args
        .iter()
        .map(|(k, v)| Argument { name: k.clone(), value: Some(v.clone()), value_from: None })
        .collect();
    let args = match merge_args(&supplied, &template.args) {
        Ok(a) => a,
        Err(e) => return error(outcome, format!("Unable to resolve metric arguments: {e}")),
    };
    let spec = AnalysisRunSpec {
        metrics: template.metrics.clone(),
        args,
        dry_run: template.dry_run.clone(),
        measurement_retention: template.measurement_retention.clone(),
        ..Default::default()
    };
    let prepared = match prepare(&spec) {
        Ok(p) => p,
        Err(a) => return error(outcome, a.message),
    };

    let start = recording.start.unwrap_or_else(default_start);
    let mut now = start;
    let mut status = AnalysisRunStatus::default();
    let mut cursor: BTreeMap<&str, usize> = BTreeMap::new();
    for _ in 0..MAX_RECONCILES {
        let tasks = due(&prepared, spec.terminate, &status, now);
        let stamp = now.trunc_subsecs(0);
        let first_entry = outcome.timeline.len();
        let mut measured = Vec::with_capacity(tasks.len());
        for task in &tasks {
            let Some(metric) = prepared.metrics.get(task.metric_index) else { continue };
            let next = recording.measurements.get(&metric.name).and_then(|list| {
                let i = cursor.entry(metric.name.as_str()).or_insert(0);
                let r = list.get(*i);
                if r.is_some() {
                    *i = i.saturating_add(1);
                }
                r
            });
            let Some(rec) = next else {
                if !outcome.starved.contains(&metric.name) {
                    outcome.starved.push(metric.name.clone());
                }
                continue;
            };
            let (verdict, value) = match rec {
                Recorded::Phase { phase, message } => (Verdict { phase: *phase, message: message.clone() }, None),
                Recorded::Value(v) => {
                    let text = v.to_string();
                    let verdict = judge_value(metric, v, &text, evaluator);
                    (verdict, Some(text))
                }
            };
            measured.push((task, completed_measurement(verdict.clone(), value.clone().unwrap_or_default(), stamp)));
            outcome.timeline.push(TimelineEntry {
                at: offset(stamp.signed_duration_since(start)),
                metric: metric.name.clone(),
                phase: verdict.phase,
                value,
                message: verdict.message,
                metric_phase: AnalysisPhase::Running,
                run_phase: AnalysisPhase::Running,
            });
        }
        // The controller's own fold of a reconcile's measurements into the status.
        status = settle(&prepared, spec.terminate, status, measured, &[], now).status;
        for entry in outcome.timeline.iter_mut().skip(first_entry) {
            entry.metric_phase = status
                .metric_results
                .iter()
                .find(|r| r.name == entry.metric)
                .map_or(AnalysisPhase::Pending, |r| r.phase);
            entry.run_phase = status.phase;
        }
        if status.phase.is_completed() || !outcome.starved.is_empty() {
            break;
        }
        match next_at(&prepared, &status, now) {
            // Argo measures strictly after the interval: wake up a moment later.
            Some(next) => now = crate::clock::after(next.max(now), Duration::milliseconds(1)),
            None => break,
        }
    }
    outcome.phase = status.phase;
    outcome.message = status.message.clone();
    for metric in &prepared.metrics {
        let summary = match status.metric_results.iter().find(|r| r.name == metric.name) {
            Some(r) => MetricSummary {
                phase: r.phase,
                message: r.message.clone(),
                count: r.count,
                successful: r.successful,
                failed: r.failed,
                inconclusive: r.inconclusive,
                error: r.error,
            },
            None => MetricSummary {
                phase: AnalysisPhase::Pending,
                message: String::new(),
                count: 0,
                successful: 0,
                failed: 0,
                inconclusive: 0,
                error: 0,
            },
        };
        outcome.metrics.insert(metric.name.clone(), summary);
        let used = cursor.get(metric.name.as_str()).copied().unwrap_or(0);
        let recorded = recording.measurements.get(&metric.name).map_or(0, Vec::len);
        if recorded > used {
            outcome.unused.insert(metric.name.clone(), recorded.saturating_sub(used));
        }
    }
    outcome
}

fn judge_value(metric: &aviary_api::Metric, v: &ExtValue, text: &str, evaluator: &dyn ConditionEvaluator) -> Verdict {
    crate::analysis::measurement::judge(
        &metric.success_condition,
        &metric.failure_condition,
        v.is_empty_result(),
        |e| evaluator.evaluate(e, text),
    )
}

/// The replay as text: the timeline, then each metric, then the run.
pub fn render_text(o: &ReplayOutcome) -> String {
    let mut out = String::new();
    for e in &o.timeline {
        out.push_str(&format!("{:>8}  {:<20} {:<12}", e.at, e.metric, e.phase.as_str()));
        if let Some(v) = &e.value {
            out.push_str(&format!(" value={v}"));
        }
        if !e.message.is_empty() {
            out.push_str(&format!(" ({})", e.message));
        }
        out.push_str(&format!("  → metric {}, run {}\n", e.metric_phase, e.run_phase));
    }
    if !o.timeline.is_empty() {
        out.push('\n');
    }
    for (name, m) in &o.metrics {
        out.push_str(&format!(
            "metric {name}: {} (count {}, successful {}, failed {}, inconclusive {}, error {})",
            m.phase, m.count, m.successful, m.failed, m.inconclusive, m.error
        ));
        if !m.message.is_empty() {
            out.push_str(&format!(": {}", m.message));
        }
        out.push('\n');
    }
    for (name, n) in &o.unused {
        out.push_str(&format!("note: {n} recorded measurement(s) of {name} were not needed\n"));
    }
    for name in &o.starved {
        out.push_str(&format!(
            "note: the run asked for another measurement of {name} but none was recorded; replay stopped\n"
        ));
    }
    for name in &o.unknown_metrics {
        out.push_str(&format!("note: recorded metric {name} is not in the template\n"));
    }
    out.push_str(&format!("run: {}", o.phase));
    if !o.message.is_empty() {
        out.push_str(&format!(": {}", o.message));
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(yaml: &str) -> AnalysisTemplateSpec {
        serde_norway::from_str(yaml).unwrap()
    }

    /// A stand-in for the condition plugin: `result >= X` and `result < X` over a number.
    fn threshold(expression: &str, value: &str) -> Result<bool, String> {
        let v: f64 = match value {
            "NaN" => f64::NAN,
            other => other.parse().map_err(|_| format!("cannot compare {other}"))?,
        };
        if let Some(x) = expression.strip_prefix("result >= ") {
            return Ok(v >= x.parse::<f64>().map_err(|e| e.to_string())?);
        }
        if let Some(x) = expression.strip_prefix("result < ") {
            return Ok(v < x.parse::<f64>().map_err(|e| e.to_string())?);
        }
        Err(format!("unknown name {expression}"))
    }

    const SUCCESS_RATE: &str = "
metrics:
- name: success-rate
  interval: 1m
  count: 3
  successCondition: result >= 0.95
  provider: {prometheus: {address: http://prom, query: q}}
";

    #[test]
    fn a_run_of_good_values_succeeds_on_schedule() {
        let rec =
            Recording::from_yaml("success-rate: [{value: 0.99}, {value: 0.97}, {value: 0.98}, {value: 0.5}]", "m.yaml")
                .unwrap();
        let o = replay(&template(SUCCESS_RATE), &rec, &threshold);
        assert_eq!(o.phase, AnalysisPhase::Successful);
        let at: Vec<_> = o.timeline.iter().map(|e| e.at.as_str()).collect();
        assert_eq!(at, vec!["+0s", "+1m", "+2m"]);
        assert_eq!(o.metrics["success-rate"].count, 3);
        assert_eq!(o.unused.get("success-rate"), Some(&1));
        assert_eq!(o.timeline[0].value.as_deref(), Some("0.99"));
    }

    #[test]
    fn a_failure_beyond_the_limit_fails_the_run_and_stops_feeding() {
        let t = template(&SUCCESS_RATE.replace("count: 3", "count: 5\n  failureLimit: 1"));
        let rec = Recording::from_yaml(
            "success-rate: [{value: 0.9}, {value: 0.99}, {value: 0.8}, {value: 0.99}, {value: 0.99}]",
            "m.yaml",
        )
        .unwrap();
        let o = replay(&t, &rec, &threshold);
        assert_eq!(o.phase, AnalysisPhase::Failed);
        assert_eq!(o.message, "Metric \"success-rate\" assessed Failed due to failed (2) > failureLimit (1)");
        assert_eq!(o.timeline.len(), 3);
        assert_eq!(o.unused["success-rate"], 2);
        assert_eq!(o.metrics["success-rate"].failed, 2);
    }

    #[test]
    fn an_error_is_retried_after_ten_seconds() {
        let t = template(&SUCCESS_RATE.replace("interval: 1m", "interval: 5m").replace("count: 3", "count: 2"));
        let rec = Recording::from_yaml(
            "measurements:\n  success-rate:\n  - {phase: Error, message: connection refused}\n  - {value: 0.99}\n  - {value: 0.99}\n",
            "m.yaml",
        )
        .unwrap();
        let o = replay(&t, &rec, &threshold);
        let at: Vec<_> = o.timeline.iter().map(|e| e.at.as_str()).collect();
        assert_eq!(at, vec!["+0s", "+10s", "+5m10s"]);
        assert_eq!(o.timeline[0].message, "connection refused");
        assert_eq!(o.phase, AnalysisPhase::Successful);
        assert_eq!(o.metrics["success-rate"].error, 1);
    }

    #[test]
    fn nan_is_inconclusive_with_both_conditions() {
        let t = template(&SUCCESS_RATE.replace("count: 3", "count: 1").replace("interval: 1m\n  ", "").replace(
            "successCondition: result >= 0.95",
            "successCondition: result >= 0.95\n  failureCondition: result < 0.95",
        ));
        let rec = Recording::from_yaml("success-rate: [{text: NaN}]", "m.yaml").unwrap();
        let o = replay(&t, &rec, &threshold);
        assert_eq!(o.timeline[0].phase, AnalysisPhase::Inconclusive);
        assert_eq!(o.timeline[0].value.as_deref(), Some("NaN"));
        assert_eq!(o.phase, AnalysisPhase::Inconclusive);
        let rec = Recording::from_yaml("success-rate: [{value: .nan}]", "m.yaml").unwrap();
        assert_eq!(replay(&t, &rec, &threshold).timeline[0].value.as_deref(), Some("NaN"));
    }

    #[test]
    fn no_data_errors_say_so() {
        let t = template(
            &SUCCESS_RATE.replace("count: 3", "count: 1").replace("interval: 1m\n  ", "").replace("consecutive", ""),
        );
        let rec = Recording::from_yaml("success-rate: [{value: []}, {value: null}]", "m.yaml").unwrap();
        let o = replay(&t, &rec, &threshold);
        assert_eq!(
            o.timeline[0].message,
            "could not evaluate successCondition \"result >= 0.95\": metric result is nil or empty: no data returned from the metric provider"
        );
    }

    #[test]
    fn an_invalid_template_is_an_error_run() {
        let t = template(&SUCCESS_RATE.replace("  interval: 1m\n", ""));
        let o = replay(&t, &Recording::default(), &threshold);
        assert_eq!(o.phase, AnalysisPhase::Error);
        assert_eq!(o.message, "Analysis spec invalid: metrics[0]: interval must be specified when count > 1");
    }

    #[test]
    fn running_out_of_measurements_stops_the_replay() {
        let rec = Recording::from_yaml("success-rate: [{value: 0.99}]", "m.yaml").unwrap();
        let o = replay(&template(SUCCESS_RATE), &rec, &threshold);
        assert_eq!(o.phase, AnalysisPhase::Running);
        assert_eq!(o.starved, vec!["success-rate".to_string()]);
    }

    #[test]
    fn args_are_supplied_and_missing_ones_are_reported() {
        let t = template(
            "
args: [{name: threshold}]
metrics:
- name: success-rate
  successCondition: result >= {{args.threshold}}
  provider: {prometheus: {query: q}}
",
        );
        let o = replay(&t, &Recording::default(), &threshold);
        assert_eq!(o.message, "Unable to resolve metric arguments: args.threshold was not resolved");
        let rec =
            Recording::from_yaml("measurements: {success-rate: [{value: 0.96}]}\nargs: {threshold: '0.95'}", "m.yaml")
                .unwrap();
        assert_eq!(replay(&t, &rec, &threshold).phase, AnalysisPhase::Successful);
    }

    #[test]
    fn dry_run_metrics_do_not_decide_the_run() {
        let t = template(
            "
dryRun: [{metricName: latency}]
metrics:
- name: latency
  successCondition: result < 100
  provider: {prometheus: {query: q}}
- name: success-rate
  successCondition: result >= 0.95
  provider: {prometheus: {query: q}}
",
        );
        let rec = Recording::from_yaml("latency: [{value: 500}]\nsuccess-rate: [{value: 0.99}]", "m.yaml").unwrap();
        let o = replay(&t, &rec, &threshold);
        assert_eq!(o.phase, AnalysisPhase::Successful);
        assert_eq!(o.metrics["latency"].phase, AnalysisPhase::Failed);
        assert_eq!(o.metrics["latency"].message, "Metric assessed Failed due to failed (1) > failureLimit (0)");
    }

    #[test]
    fn templates_are_checked_against_the_schema() {
        let text = "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata: {name: t}\nspec:\n  metrics:\n  - name: m\n    count: [1]\n    provider: {web: {url: http://x}}\n";
        let err = load_template(text, "t.yaml").unwrap_err().to_string();
        assert_eq!(err, "t.yaml: spec.metrics[0].count: expected integer or string, got array");
        let err = load_template("kind: Rollout\n", "t.yaml").unwrap_err().to_string();
        assert!(err.starts_with("t.yaml: kind: expected AnalysisTemplate"), "{err}");
    }

    #[test]
    fn file_errors_name_the_field() {
        let err = Recording::from_yaml("success-rate: [{phase: Running}]", "m.yaml").unwrap_err().to_string();
        assert!(err.starts_with("m.yaml: success-rate[0].phase:"), "{err}");
        let err = Recording::from_yaml("success-rate: [{value: 1, phase: Failed}]", "m.yaml").unwrap_err().to_string();
        assert!(err.contains("exactly one of phase, value and text"), "{err}");
        let err = Recording::from_yaml("success-rate: [{valu: 1}]", "m.yaml").unwrap_err().to_string();
        assert!(err.contains("success-rate[0]") && err.contains("valu"), "{err}");
    }
}

//! Argo's metric validation (`ValidateMetrics` / `ValidateMetric`), rules and messages.
//!
//! Argo stops at the first error and the AnalysisRun's message carries it
//! (`Analysis spec invalid: metrics[1]: count must be >= failureLimit`); [`validate_metrics`]
//! reproduces that message. [`validate_analysis_template`] reports every error, each with its
//! field path, for linting and the CLI.

use std::collections::HashSet;

use super::{FieldError, quoted};
use crate::analysis::{AnalysisRunSpec, AnalysisTemplateSpec, Metric, int_or_string_value};
use crate::duration::parse_go_duration;

/// The first validation error of a metric list, worded as Argo words it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct MetricsError {
    /// Index of the offending metric, when the error concerns one.
    pub index: Option<usize>,
    /// The field, relative to the metric (`count`, `interval`, ...), when known.
    pub field: Option<&'static str>,
    /// Argo's message, e.g. `metrics[0]: interval must be specified when count > 1`.
    pub message: String,
}

/// Every rule a single metric breaks, in Argo's order, as (field, message).
pub fn metric_errors(metric: &Metric) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let count = metric.count.as_ref().map(int_or_string_value).unwrap_or(0);
    let fl = metric.failure_limit_or_default();
    let il = metric.inconclusive_limit_or_default();
    let csl = metric.consecutive_success_limit_or_default();

    if count > 0 {
        if fl >= 0 && csl >= 0 {
            if count < fl.saturating_add(csl) {
                if csl > 0 {
                    out.push(("count", "count must be >= failureLimit + consecutiveSuccessLimit".to_string()));
                } else {
                    out.push(("count", "count must be >= failureLimit".to_string()));
                }
            }
        } else if fl < 0 && count < csl {
            out.push(("count", "count must be >= consecutiveSuccessLimit".to_string()));
        }
        if count < il {
            out.push(("count", "count must be >= inconclusiveLimit".to_string()));
        }
    }
    if count > 1 && metric.interval.is_empty() {
        out.push(("interval", "interval must be specified when count > 1".to_string()));
    }
    if !metric.interval.is_empty()
        && let Err(e) = parse_go_duration(&metric.interval)
    {
        out.push(("interval", format!("invalid interval string: {e}")));
    }
    if !metric.initial_delay.is_empty()
        && let Err(e) = parse_go_duration(&metric.initial_delay)
    {
        out.push(("initialDelay", format!("invalid startDelay string: {e}")));
    }
    if fl < -1 {
        out.push(("failureLimit", "failureLimit must be >= -1".to_string()));
    }
    if csl < 0 {
        out.push(("consecutiveSuccessLimit", "consecutiveSuccessLimit must be >= 0".to_string()));
    }
    if fl == -1 && csl == 0 {
        out.push(("failureLimit", "failureLimit and consecutiveSuccessLimit cannot both be disabled".to_string()));
    }
    if il < 0 {
        out.push(("inconclusiveLimit", "inconclusiveLimit must be >= 0".to_string()));
    }
    if metric.consecutive_error_limit.is_some() && metric.consecutive_error_limit_or_default() < 0 {
        out.push(("consecutiveErrorLimit", "consecutiveErrorLimit must be >= 0".to_string()));
    }
    match metric.provider.configured().len() {
        0 => out.push(("provider", "no provider specified".to_string())),
        1 => {}
        _ => out.push(("provider", "multiple providers specified".to_string())),
    }
    out
}

/// Argo's `ValidateMetrics`: the first error, worded as Argo words it.
pub fn validate_metrics(metrics: &[Metric]) -> Result<(), MetricsError> {
    if metrics.is_empty() {
        return Err(MetricsError { index: None, field: None, message: "no metrics specified".to_string() });
    }
    let mut seen = HashSet::new();
    for (i, metric) in metrics.iter().enumerate() {
        if !seen.insert(metric.name.as_str()) {
            return Err(MetricsError {
                index: Some(i),
                field: Some("name"),
                message: format!("metrics[{i}]: duplicate name '{}'", metric.name),
            });
        }
        if let Some((field, msg)) = metric_errors(metric).into_iter().next() {
            return Err(MetricsError { index: Some(i), field: Some(field), message: format!("metrics[{i}]: {msg}") });
        }
    }
    Ok(())
}

fn all_metric_errors(metrics: &[Metric], path: &str, errs: &mut Vec<FieldError>, require_metrics: bool) {
    if metrics.is_empty() && require_metrics {
        errs.push(FieldError::required(format!("{path}.metrics"), "no metrics specified"));
    }
    let mut seen = HashSet::new();
    for (i, metric) in metrics.iter().enumerate() {
        let mp = format!("{path}.metrics[{i}]");
        if metric.name.is_empty() {
            errs.push(FieldError::required(format!("{mp}.name"), ""));
        }
        if !seen.insert(metric.name.as_str()) {
            errs.push(FieldError::invalid(
                format!("{mp}.name"),
                quoted(&metric.name),
                format!("duplicate name '{}'", metric.name),
            ));
        }
        for (field, msg) in metric_errors(metric) {
            let value = match field {
                "interval" => quoted(&metric.interval),
                "initialDelay" => quoted(&metric.initial_delay),
                "provider" => metric.provider.configured().join(","),
                "count" => metric.count.as_ref().map(|c| int_or_string_value(c).to_string()).unwrap_or_default(),
                "failureLimit" => metric.failure_limit_or_default().to_string(),
                "inconclusiveLimit" => metric.inconclusive_limit_or_default().to_string(),
                "consecutiveErrorLimit" => metric.consecutive_error_limit_or_default().to_string(),
                "consecutiveSuccessLimit" => metric.consecutive_success_limit_or_default().to_string(),
                _ => String::new(),
            };
            errs.push(FieldError::invalid(format!("{mp}.{field}"), value, msg));
        }
    }
}

/// Every error of an AnalysisTemplate or ClusterAnalysisTemplate spec, by field path.
///
/// A template that only references other templates (`templates:`) may have no metrics of its
/// own; the metrics are checked once the references are resolved.
pub fn validate_analysis_template(spec: &AnalysisTemplateSpec) -> Vec<FieldError> {
    let mut errs = Vec::new();
    all_metric_errors(&spec.metrics, "spec", &mut errs, spec.templates.is_empty());
    for (i, arg) in spec.args.iter().enumerate() {
        if arg.name.is_empty() {
            errs.push(FieldError::required(format!("spec.args[{i}].name"), ""));
        }
        if let Some(vf) = &arg.value_from
            && vf.secret_key_ref.is_some() == vf.field_ref.is_some()
        {
            errs.push(FieldError::invalid(
                format!("spec.args[{i}].valueFrom"),
                quoted(&arg.name),
                "exactly one of secretKeyRef and fieldRef must be set",
            ));
        }
    }
    errs
}

/// Every error of an AnalysisRun spec, by field path.
pub fn validate_analysis_run(spec: &AnalysisRunSpec) -> Vec<FieldError> {
    let mut errs = Vec::new();
    all_metric_errors(&spec.metrics, "spec", &mut errs, true);
    errs
}

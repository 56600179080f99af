//! The AnalysisRun's phase (reference §3.3; Argo `reconcileAnalysisRun` preparation,
//! `assessRunStatus`, `IsTerminating`).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use aviary_api::validation::validate_metrics;
use aviary_api::{AnalysisPhase, AnalysisRunSpec, AnalysisRunStatus, Metric, RunSummary, Time};

use super::args::resolve_metrics_without_secrets;
use super::metric::{assess_metric, failure_inconclusive_or_error};
use super::retention::{dry_run_metrics, retention_limits};

/// A run's phase and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunAssessment {
    /// The run's phase.
    pub phase: AnalysisPhase,
    /// Why (empty while Running).
    pub message: String,
}

/// Argo's `IsTerminating`: `spec.terminate`, or a non-dry-run metric already Failed, Error or
/// Inconclusive.
pub fn is_terminating(terminate: bool, status: &AnalysisRunStatus) -> bool {
    terminate
        || status.metric_results.iter().any(|r| {
            !r.dry_run && matches!(r.phase, AnalysisPhase::Failed | AnalysisPhase::Error | AnalysisPhase::Inconclusive)
        })
}

/// The order of run phases from best to worst: Successful, Running, Pending, Inconclusive,
/// Error, Failed.
pub fn severity(phase: AnalysisPhase) -> u8 {
    match phase {
        AnalysisPhase::Successful => 0,
        AnalysisPhase::Running => 1,
        AnalysisPhase::Pending => 2,
        AnalysisPhase::Inconclusive => 3,
        AnalysisPhase::Error => 4,
        AnalysisPhase::Failed => 5,
    }
}

/// What a reconcile of a run needs once its spec is known to be usable.
#[derive(Clone, Debug, PartialEq)]
pub struct PreparedRun {
    /// The metrics with arguments substituted (secrets as a placeholder).
    pub metrics: Vec<Metric>,
    /// Names of the dry-run metrics.
    pub dry_run: HashSet<String>,
    /// Retention limits by metric name.
    pub retention: HashMap<String, i32>,
}

/// The first part of Argo's `reconcileAnalysisRun`: resolve the arguments, validate the metrics,
/// select the dry-run metrics and the retention rules. Any failure puts the run straight into
/// Error with Argo's message (`Unable to resolve metric arguments: ...` or
/// `Analysis spec invalid: ...`).
pub fn prepare(spec: &AnalysisRunSpec) -> Result<PreparedRun, RunAssessment> {
    let err = |message: String| RunAssessment { phase: AnalysisPhase::Error, message };
    let metrics = resolve_metrics_without_secrets(&spec.metrics, &spec.args)
        .map_err(|e| err(format!("Unable to resolve metric arguments: {e}")))?;
    validate_metrics(&metrics).map_err(|e| err(format!("Analysis spec invalid: {e}")))?;
    let dry_run = dry_run_metrics(&spec.dry_run, &metrics).map_err(|e| err(format!("Analysis spec invalid: {e}")))?;
    let retention = retention_limits(&spec.measurement_retention, &metrics)
        .map_err(|e| err(format!("Analysis spec invalid: {e}")))?;
    Ok(PreparedRun { metrics, dry_run, retention })
}

/// Argo's `assessRunStatus`: updates each metric result's phase (and message), the run and
/// dry-run summaries and `startedAt`, and returns the run's phase and message.
///
/// `terminating` is decided from the status as it stands before this assessment, as Argo does,
/// so a metric that fails in this reconcile makes the run terminating only from the next one.
pub fn assess_run(
    metrics: &[Metric],
    terminate: bool,
    dry_run: &HashSet<String>,
    status: &mut AnalysisRunStatus,
    now: DateTime<Utc>,
) -> RunAssessment {
    let terminating = is_terminating(terminate, status);
    if status.started_at.is_none() {
        status.started_at = Some(Time(now));
    }
    let mut worst: Option<AnalysisPhase> = None;
    let mut worst_message = if terminate { "Run Terminated".to_string() } else { String::new() };
    let mut everything_completed = true;
    let mut summary = RunSummary::default();
    let mut dry_summary = RunSummary::default();

    for metric in metrics {
        let is_dry = dry_run.contains(&metric.name);
        if is_dry {
            dry_summary.count = dry_summary.count.saturating_add(1);
        } else {
            summary.count = summary.count.saturating_add(1);
        }
        let Some(result) = status.metric_results.iter_mut().find(|r| r.name == metric.name) else {
            everything_completed = false;
            continue;
        };
        let metric_status = assess_metric(metric, result, terminating);
        if result.phase != metric_status {
            if let Some(last) = result.measurements.last() {
                result.message = last.message.clone();
            }
            result.phase = metric_status;
        }
        if !metric_status.is_completed() {
            everything_completed = false;
            continue;
        }
        let (phase, message) = match failure_inconclusive_or_error(metric, result) {
            Some((p, m)) => (Some(p), m),
            None => (None, String::new()),
        };
        let bucket = if is_dry { &mut dry_summary } else { &mut summary };
        match phase {
            Some(AnalysisPhase::Error) => bucket.error = bucket.error.saturating_add(1),
            Some(AnalysisPhase::Failed) => bucket.failed = bucket.failed.saturating_add(1),
            Some(AnalysisPhase::Inconclusive) => bucket.inconclusive = bucket.inconclusive.saturating_add(1),
            _ => bucket.successful = bucket.successful.saturating_add(1),
        }
        if !is_dry {
            if worst.is_none_or(|w| severity(metric_status) > severity(w)) {
                worst = Some(metric_status);
                if !message.is_empty() {
                    worst_message = format!("Metric \"{}\" assessed {} due to {}", metric.name, metric_status, message);
                    if !result.message.is_empty() {
                        worst_message.push_str(&format!(": \"Error Message: {}\"", result.message));
                    }
                }
            }
        } else {
            if worst.is_none() {
                worst = Some(AnalysisPhase::Successful);
            }
            if !message.is_empty() {
                result.message = format!("Metric assessed {metric_status} due to {message}");
            }
        }
    }
    status.run_summary = summary;
    status.dry_run_summary = Some(dry_summary);
    let worst_message = worst_message.trim().to_string();
    if terminating {
        return RunAssessment { phase: worst.unwrap_or(AnalysisPhase::Successful), message: worst_message };
    }
    match worst {
        Some(w) if everything_completed => RunAssessment { phase: w, message: worst_message },
        _ => RunAssessment { phase: AnalysisPhase::Running, message: String::new() },
    }
}

/// Writes an assessment into the status as Argo does: the phase and message change only when
/// the phase changes, and a completed phase stamps `completedAt`.
pub fn apply_assessment(status: &mut AnalysisRunStatus, assessment: &RunAssessment, now: DateTime<Utc>) {
    if status.phase != assessment.phase {
        status.phase = assessment.phase;
        status.message = assessment.message.clone();
        if assessment.phase.is_completed() && status.completed_at.is_none() {
            status.completed_at = Some(Time(now));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aviary_api::{IntOrString, Measurement, MetricProvider, MetricResult};

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn m(name: &str) -> Metric {
        Metric { name: name.into(), interval: "1m".into(), ..Default::default() }
    }

    fn done(phase: AnalysisPhase) -> Measurement {
        Measurement { phase, finished_at: Some(Time(now())), ..Default::default() }
    }

    fn result(name: &str, phase: AnalysisPhase, measurements: Vec<Measurement>) -> MetricResult {
        MetricResult { name: name.into(), phase, measurements, ..Default::default() }
    }

    #[test]
    fn r1_one_running_metric_keeps_the_run_running() {
        let metrics = [m("latency"), m("success-rate")];
        let mut st = AnalysisRunStatus {
            metric_results: vec![
                result("latency", AnalysisPhase::Successful, vec![done(AnalysisPhase::Successful)]),
                result(
                    "success-rate",
                    AnalysisPhase::Running,
                    vec![Measurement { phase: AnalysisPhase::Running, ..Default::default() }],
                ),
            ],
            ..Default::default()
        };
        let a = assess_run(&metrics, false, &HashSet::new(), &mut st, now());
        assert_eq!(a, RunAssessment { phase: AnalysisPhase::Running, message: String::new() });
    }

    #[test]
    fn r2_the_worst_completed_metric_wins() {
        let metrics = [m("a"), m("b")];
        let mut st = AnalysisRunStatus {
            metric_results: vec![
                result("a", AnalysisPhase::Successful, vec![done(AnalysisPhase::Successful)]),
                MetricResult {
                    failed: 1,
                    count: 1,
                    ..result("b", AnalysisPhase::Failed, vec![done(AnalysisPhase::Failed)])
                },
            ],
            ..Default::default()
        };
        let a = assess_run(&metrics, false, &HashSet::new(), &mut st, now());
        assert_eq!(a.phase, AnalysisPhase::Failed);
        assert_eq!(a.message, "Metric \"b\" assessed Failed due to failed (1) > failureLimit (0)");
        assert_eq!(st.run_summary, RunSummary { count: 2, successful: 1, failed: 1, ..Default::default() });
    }

    /// TestAssessRunStatusUpdateResult.
    #[test]
    fn r3_a_metric_failing_in_this_reconcile_flips_but_the_run_stays_running() {
        let metrics = [m("sleep-infinity"), Metric { count: Some(IntOrString::Int(1)), ..m("fail-after-30") }];
        let mut st = AnalysisRunStatus {
            metric_results: vec![
                result(
                    "sleep-infinity",
                    AnalysisPhase::Running,
                    vec![Measurement { phase: AnalysisPhase::Running, ..Default::default() }],
                ),
                MetricResult {
                    count: 1,
                    failed: 1,
                    ..result("fail-after-30", AnalysisPhase::Running, vec![done(AnalysisPhase::Failed)])
                },
            ],
            ..Default::default()
        };
        let a = assess_run(&metrics, false, &HashSet::new(), &mut st, now());
        assert_eq!(a.phase, AnalysisPhase::Running);
        assert_eq!(st.metric_results[1].phase, AnalysisPhase::Failed);
        assert_eq!(st.started_at, Some(Time(now())));
    }

    #[test]
    fn r4_only_dry_run_metrics_finish_successful() {
        let metrics = [m("dry")];
        let mut st = AnalysisRunStatus {
            metric_results: vec![MetricResult {
                dry_run: true,
                ..result("dry", AnalysisPhase::Successful, vec![done(AnalysisPhase::Successful)])
            }],
            ..Default::default()
        };
        let dry = HashSet::from(["dry".to_string()]);
        let a = assess_run(&metrics, false, &dry, &mut st, now());
        assert_eq!(a.phase, AnalysisPhase::Successful);
        assert_eq!(st.dry_run_summary, Some(RunSummary { count: 1, successful: 1, ..Default::default() }));
    }

    #[test]
    fn r5_inconclusive_wins_over_a_failed_dry_run_metric() {
        let metrics = [m("run-forever"), m("success-metric")];
        let mut st = AnalysisRunStatus {
            metric_results: vec![
                MetricResult {
                    inconclusive: 1,
                    ..result(
                        "run-forever",
                        AnalysisPhase::Inconclusive,
                        vec![Measurement { phase: AnalysisPhase::Running, ..Default::default() }],
                    )
                },
                MetricResult {
                    failed: 1,
                    count: 1,
                    dry_run: true,
                    ..result("success-metric", AnalysisPhase::Running, vec![done(AnalysisPhase::Failed)])
                },
            ],
            ..Default::default()
        };
        let dry = HashSet::from(["success-metric".to_string()]);
        let a = assess_run(&metrics, false, &dry, &mut st, now());
        assert_eq!(a.phase, AnalysisPhase::Inconclusive);
        assert_eq!(
            a.message,
            "Metric \"run-forever\" assessed Inconclusive due to inconclusive (1) > inconclusiveLimit (0)"
        );
        assert_eq!(st.metric_results[1].message, "Metric assessed Failed due to failed (1) > failureLimit (0)");
        assert_eq!(st.dry_run_summary.as_ref().unwrap().failed, 1);
    }

    #[test]
    fn r6_a_terminating_run_returns_the_worst_status() {
        let metrics = [m("failed-metric")];
        let mut st = AnalysisRunStatus {
            metric_results: vec![MetricResult {
                failed: 1,
                count: 1,
                ..result("failed-metric", AnalysisPhase::Failed, vec![done(AnalysisPhase::Failed)])
            }],
            ..Default::default()
        };
        let a = assess_run(&metrics, true, &HashSet::new(), &mut st, now());
        assert_eq!(a.phase, AnalysisPhase::Failed);
        assert_eq!(a.message, "Metric \"failed-metric\" assessed Failed due to failed (1) > failureLimit (0)");
    }

    #[test]
    fn terminated_before_any_measurement_is_successful() {
        let metrics = [m("a")];
        let mut st = AnalysisRunStatus::default();
        let a = assess_run(&metrics, true, &HashSet::new(), &mut st, now());
        assert_eq!(a, RunAssessment { phase: AnalysisPhase::Successful, message: "Run Terminated".into() });
    }

    #[test]
    fn error_message_of_the_last_measurement_is_appended() {
        let metrics = [Metric { consecutive_error_limit: Some(IntOrString::Int(0)), ..m("a") }];
        let mut st = AnalysisRunStatus {
            metric_results: vec![MetricResult {
                error: 1,
                consecutive_error: 1,
                ..result(
                    "a",
                    AnalysisPhase::Running,
                    vec![Measurement { message: "timeout".into(), ..done(AnalysisPhase::Error) }],
                )
            }],
            ..Default::default()
        };
        let a = assess_run(&metrics, false, &HashSet::new(), &mut st, now());
        assert_eq!(a.phase, AnalysisPhase::Error);
        assert_eq!(
            a.message,
            "Metric \"a\" assessed Error due to consecutiveErrors (1) > consecutiveErrorLimit (0): \"Error Message: timeout\""
        );
    }

    #[test]
    fn invalid_specs_put_the_run_in_error() {
        let bad = AnalysisRunSpec {
            metrics: vec![Metric {
                count: Some(IntOrString::Int(3)),
                ..Metric {
                    name: "x".into(),
                    provider: MetricProvider { web: Some(Default::default()), ..Default::default() },
                    ..Default::default()
                }
            }],
            ..Default::default()
        };
        let e = prepare(&bad).unwrap_err();
        assert_eq!(e.phase, AnalysisPhase::Error);
        assert_eq!(e.message, "Analysis spec invalid: metrics[0]: interval must be specified when count > 1");
        let unresolved = AnalysisRunSpec {
            metrics: vec![Metric { name: "x".into(), success_condition: "{{args.a}}".into(), ..Default::default() }],
            ..Default::default()
        };
        assert_eq!(
            prepare(&unresolved).unwrap_err().message,
            "Unable to resolve metric arguments: failed to resolve {{args.a}}"
        );
        assert_eq!(
            prepare(&AnalysisRunSpec::default()).unwrap_err().message,
            "Analysis spec invalid: no metrics specified"
        );
    }
}

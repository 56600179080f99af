//! One AnalysisRun reconcile, decided (Argo's `reconcileAnalysisRun`), in the two halves around
//! the measurements: [`due`] says which metrics to measure (or resume, or terminate) now;
//! [`settle`] folds what was measured into the status (record, assess, retention, redaction)
//! and says what to record and when to look again. The controller measures with plugins
//! between the two and writes the status; `aviary replay` feeds recorded values and the same
//! two functions, so its timeline is the controller's.

use std::time::Duration;

use aviary_api::AnalysisPhase;
use aviary_api::analysis::{AnalysisRunStatus, Measurement};
use chrono::{DateTime, Utc};

use crate::analysis::args::redact;
use crate::analysis::metric::{record_measurement, result_mut};
use crate::analysis::retention::trim_measurements;
use crate::analysis::run::{PreparedRun, apply_assessment, assess_run, is_terminating};
use crate::analysis::schedule::{MetricTask, metric_tasks, next_reconcile_time};

/// Look again this soon after a run completed (its Rollout acts on it).
const AFTER_COMPLETION: Duration = Duration::from_secs(1);
/// Look again this long after nothing is due (a run waiting on nothing but a change).
const IDLE: Duration = Duration::from_secs(300);
/// A measurement becomes due strictly after its interval: wake up this much later.
const SLACK: Duration = Duration::from_millis(50);
/// Never requeue sooner than this.
const MIN_REQUEUE: Duration = Duration::from_millis(100);

/// The measurements to take now, each with its metric's index in `prepared.metrics`.
pub fn due(prepared: &PreparedRun, terminate: bool, status: &AnalysisRunStatus, now: DateTime<Utc>) -> Vec<MetricTask> {
    metric_tasks(&prepared.metrics, status, is_terminating(terminate, status), now)
}

/// An event to record on the AnalysisRun.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunEvent {
    /// Warning (a Failed or Error result) or Normal.
    pub warning: bool,
    /// `MetricSuccessful`, `AnalysisRunFailed`, ...
    pub reason: String,
    /// Argo's message, word for word: tools match on it.
    pub message: String,
}

/// What one reconcile of a run does once its measurements are in.
#[derive(Clone, Debug, PartialEq)]
pub struct RunDecision {
    /// The status to write.
    pub status: AnalysisRunStatus,
}

/// Folds the measurements taken for `due` tasks into `status`: each recorded on its metric's
/// result, the run assessed (Argo's `assessRunStatus`), measurements beyond retention dropped,
/// and `secrets` redacted from every message.
pub fn settle<'a>(
    prepared: &PreparedRun,
    terminate: bool,
    mut status: AnalysisRunStatus,
    measured: impl IntoIterator<Item = (&'a MetricTask, Measurement)>,
    secrets: &[String],
    now: DateTime<Utc>,
) -> RunDecision {
    for (task, measurement) in measured {
        let Some(metric) = prepared.metrics.get(task.metric_index) else { continue };
        let is_dry = prepared.dry_run.contains(&metric.name);
        record_measurement(result_mut(&mut status, &metric.name, is_dry), measurement, task.resume);
    }
    let assessment = assess_run(&prepared.metrics, terminate, &prepared.dry_run, &mut status, now);
    apply_assessment(&mut status, &assessment, now);
    trim_measurements(&mut status, &prepared.retention);
    for r in &mut status.metric_results {
        r.message = redact(&r.message, secrets);
    }
    status.message = redact(&status.message, secrets);
    RunDecision { status }
}

/// Failed and Error are reported as warnings.
fn is_bad(phase: AnalysisPhase) -> bool {
    matches!(phase, AnalysisPhase::Failed | AnalysisPhase::Error)
}

/// Argo's run completion event (`Analysis Completed. Result: Failed`).
pub fn completion_event(phase: AnalysisPhase) -> RunEvent {
    RunEvent {
        warning: is_bad(phase),
        reason: format!("AnalysisRun{phase}"),
        message: format!("Analysis Completed. Result: {phase}"),
    }
}

/// The events of a reconcile, from the status before it and the status written: each metric
/// that completed (`Metric 'errors' Completed. Result: Failed`), then the run's completion.
pub fn events(before: &AnalysisRunStatus, written: &AnalysisRunStatus) -> Vec<RunEvent> {
    let mut out = Vec::new();
    for result in &written.metric_results {
        let was = before.metric_results.iter().find(|r| r.name == result.name).map(|r| r.phase);
        if result.phase.is_completed() && was != Some(result.phase) {
            out.push(RunEvent {
                warning: is_bad(result.phase),
                reason: format!("Metric{}", result.phase),
                message: format!("Metric '{}' Completed. Result: {}", result.name, result.phase),
            });
        }
    }
    if written.phase.is_completed() && !before.phase.is_completed() {
        out.push(completion_event(written.phase));
    }
    out
}

/// When the next measurement is due, if any (Argo measures strictly after the interval).
pub fn next_at(prepared: &PreparedRun, status: &AnalysisRunStatus, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    next_reconcile_time(&prepared.metrics, status, now)
}

/// How long until the run is looked at again, given the status written: a moment after it
/// completed (its Rollout acts), a little after the next measurement is due, or a while when
/// nothing is.
pub fn requeue_after(
    prepared: &PreparedRun,
    before: &AnalysisRunStatus,
    written: &AnalysisRunStatus,
    now: DateTime<Utc>,
) -> Duration {
    if written.phase.is_completed() && !before.phase.is_completed() {
        return AFTER_COMPLETION;
    }
    let wait = next_at(prepared, written, now).map_or(IDLE, |t| crate::clock::until(now, t).saturating_add(SLACK));
    wait.max(MIN_REQUEUE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aviary_api::analysis::{AnalysisRunSpec, Metric, MetricProvider};
    use aviary_api::{IntOrString, Time};

    use crate::analysis::run::prepare;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
    }

    fn spec(count: i32, failure_limit: i32) -> AnalysisRunSpec {
        AnalysisRunSpec {
            metrics: vec![Metric {
                name: "errors".into(),
                interval: "10s".into(),
                count: Some(IntOrString::Int(count)),
                failure_limit: Some(IntOrString::Int(failure_limit)),
                success_condition: "result < 1".into(),
                provider: MetricProvider { web: Some(Default::default()), ..Default::default() },
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn measured(phase: AnalysisPhase, at: DateTime<Utc>) -> Measurement {
        Measurement {
            phase,
            started_at: Some(Time(at)),
            finished_at: Some(Time(at)),
            value: "0".into(),
            ..Default::default()
        }
    }

    /// Two measurements ten seconds apart: due at once, then not before the interval, then the
    /// run completes with Argo's events and a prompt requeue.
    #[test]
    fn a_run_measures_on_its_interval_and_completes_with_events() {
        let p = prepare(&spec(2, 0)).unwrap();
        let start = AnalysisRunStatus::default();
        let tasks = due(&p, false, &start, t(0));
        assert_eq!(tasks.len(), 1);
        let first = settle(
            &p,
            false,
            start.clone(),
            tasks.iter().map(|task| (task, measured(AnalysisPhase::Successful, t(0)))),
            &[],
            t(0),
        );
        assert_eq!(first.status.phase, AnalysisPhase::Running);
        assert!(events(&start, &first.status).is_empty());
        assert_eq!(requeue_after(&p, &start, &first.status, t(0)), Duration::from_millis(10_050));
        assert!(due(&p, false, &first.status, t(5)).is_empty(), "not before the interval");

        let tasks = due(&p, false, &first.status, t(11));
        let second = settle(
            &p,
            false,
            first.status.clone(),
            tasks.iter().map(|task| (task, measured(AnalysisPhase::Successful, t(11)))),
            &[],
            t(11),
        );
        assert_eq!(second.status.phase, AnalysisPhase::Successful);
        let ev: Vec<_> =
            events(&first.status, &second.status).into_iter().map(|e| (e.warning, e.reason, e.message)).collect();
        assert_eq!(
            ev,
            vec![
                (false, "MetricSuccessful".to_string(), "Metric 'errors' Completed. Result: Successful".to_string()),
                (false, "AnalysisRunSuccessful".to_string(), "Analysis Completed. Result: Successful".to_string()),
            ]
        );
        assert_eq!(requeue_after(&p, &first.status, &second.status, t(11)), AFTER_COMPLETION);
    }

    #[test]
    fn a_failure_beyond_the_limit_fails_the_run_with_warnings_and_secrets_are_redacted() {
        let p = prepare(&spec(3, 0)).unwrap();
        let start = AnalysisRunStatus::default();
        let tasks = due(&p, false, &start, t(0));
        let mut m = measured(AnalysisPhase::Failed, t(0));
        m.message = "token s3cr3t refused".into();
        let d =
            settle(&p, false, start.clone(), tasks.iter().map(|task| (task, m.clone())), &["s3cr3t".to_string()], t(0));
        assert_eq!(d.status.phase, AnalysisPhase::Failed);
        let ev = events(&start, &d.status);
        assert!(ev.iter().all(|e| e.warning), "{ev:?}");
        assert_eq!(ev.last().unwrap().reason, "AnalysisRunFailed");
        assert!(d.status.metric_results.iter().all(|r| !r.message.contains("s3cr3t")));
    }

    #[test]
    fn nothing_due_is_looked_at_after_a_while_and_never_sooner_than_the_minimum() {
        let p = prepare(&spec(2, 0)).unwrap();
        let start = AnalysisRunStatus::default();
        let tasks = due(&p, false, &start, t(0));
        let first = settle(
            &p,
            false,
            start,
            tasks.iter().map(|task| (task, measured(AnalysisPhase::Successful, t(0)))),
            &[],
            t(0),
        );
        // The next measurement is due right now: still the minimum wait.
        assert_eq!(requeue_after(&p, &first.status, &first.status, t(10)), MIN_REQUEUE);
        let none = PreparedRun { metrics: vec![], dry_run: Default::default(), retention: Default::default() };
        assert_eq!(requeue_after(&none, &first.status, &first.status, t(0)), IDLE);
    }
}

//! When to measure, and when to reconcile again (reference §3.4; Argo `generateMetricTasks`,
//! `calculateNextReconcileTime`).

use chrono::{DateTime, Duration, Utc};

use aviary_api::duration::parse_go_duration_chrono;
use aviary_api::{AnalysisPhase, AnalysisRunStatus, Metric, MetricResult};

/// Argo's `DefaultErrorRetryInterval`: a metric whose last measurement errored is retried after
/// 10 s, whatever its interval.
pub const ERROR_RETRY_INTERVAL: Duration = Duration::seconds(10);

/// A measurement to take (or resume) in this reconcile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricTask {
    /// Index of the metric in the run's (resolved) metric list.
    pub metric_index: usize,
    /// True when the last measurement is in flight and must be resumed (or terminated).
    pub resume: bool,
}

/// The result for a metric, if any.
pub fn result_for<'a>(status: &'a AnalysisRunStatus, name: &str) -> Option<&'a MetricResult> {
    status.metric_results.iter().find(|r| r.name == name)
}

/// Argo's `generateMetricTasks`: completed metrics are skipped; an in-flight measurement is
/// resumed (unless its `resumeAt` is in the future and the run is not terminating); nothing new
/// starts while terminating; the first measurement waits for `initialDelay`; a metric whose count
/// is reached is done; otherwise measure when `now` is strictly after the last finish plus the
/// interval (10 s after an Error).
pub fn metric_tasks(
    metrics: &[Metric],
    status: &AnalysisRunStatus,
    terminating: bool,
    now: DateTime<Utc>,
) -> Vec<MetricTask> {
    let mut tasks = Vec::new();
    for (i, metric) in metrics.iter().enumerate() {
        let result = result_for(status, &metric.name);
        if result.is_some_and(|r| r.phase.is_completed()) {
            continue;
        }
        let last = result.and_then(|r| r.measurements.last());
        if let Some(last) = last
            && last.finished_at.is_none()
        {
            if !terminating && last.resume_at.is_some_and(|t| t.0 > now) {
                continue;
            }
            tasks.push(MetricTask { metric_index: i, resume: true });
            continue;
        }
        if terminating {
            continue;
        }
        let Some(last) = last else {
            if !metric.initial_delay.is_empty() {
                let Some(started) = status.started_at else {
                    continue;
                };
                let Ok(delay) = parse_go_duration_chrono(&metric.initial_delay) else {
                    continue;
                };
                if crate::clock::after(started.0, delay) > now {
                    continue;
                }
            }
            tasks.push(MetricTask { metric_index: i, resume: false });
            continue;
        };
        let count = result.map_or(0, |r| r.count);
        if metric.effective_count().is_some_and(|c| i64::from(count) >= c) {
            continue;
        }
        let interval = if last.phase == AnalysisPhase::Error || metric.interval.is_empty() {
            ERROR_RETRY_INTERVAL
        } else {
            match parse_go_duration_chrono(&metric.interval) {
                Ok(d) => d,
                Err(_) => continue,
            }
        };
        if let Some(finished) = last.finished_at
            && now > crate::clock::after(finished.0, interval)
        {
            tasks.push(MetricTask { metric_index: i, resume: false });
        }
    }
    tasks
}

/// Argo's `calculateNextReconcileTime`: the earliest of each unfinished metric's next moment
/// (end of initialDelay, an in-flight measurement's resumeAt, last finish plus the interval or
/// the 10 s error retry). `None` when nothing is scheduled.
pub fn next_reconcile_time(
    metrics: &[Metric],
    status: &AnalysisRunStatus,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let mut next: Option<DateTime<Utc>> = None;
    let mut consider = |t: DateTime<Utc>| next = Some(next.map_or(t, |n| n.min(t)));
    for metric in metrics {
        let result = result_for(status, &metric.name);
        if result.is_some_and(|r| r.phase.is_completed()) {
            continue;
        }
        let Some(last) = result.and_then(|r| r.measurements.last()) else {
            if !metric.initial_delay.is_empty() {
                let start = status.started_at.map_or(now, |t| t.0);
                if let Ok(delay) = parse_go_duration_chrono(&metric.initial_delay) {
                    consider(crate::clock::after(start, delay));
                }
            }
            continue;
        };
        let Some(finished) = last.finished_at else {
            if let Some(resume) = last.resume_at {
                consider(resume.0);
            }
            continue;
        };
        let count = result.map_or(0, |r| r.count);
        if metric.effective_count().is_some_and(|c| i64::from(count) >= c) {
            continue;
        }
        let interval = if last.phase == AnalysisPhase::Error {
            ERROR_RETRY_INTERVAL
        } else if !metric.interval.is_empty() {
            match parse_go_duration_chrono(&metric.interval) {
                Ok(d) => d,
                Err(_) => continue,
            }
        } else {
            continue;
        };
        consider(crate::clock::after(finished.0, interval));
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use aviary_api::{IntOrString, Measurement, Time};

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-01-01T00:10:00Z").unwrap().with_timezone(&Utc)
    }

    fn finished(phase: AnalysisPhase, ago: i64) -> Measurement {
        let t = Time(now() - Duration::seconds(ago));
        Measurement { phase, started_at: Some(t), finished_at: Some(t), ..Default::default() }
    }

    fn result(name: &str, phase: AnalysisPhase, count: i32, measurements: Vec<Measurement>) -> MetricResult {
        MetricResult { name: name.into(), phase, count, measurements, ..Default::default() }
    }

    fn status(results: Vec<MetricResult>) -> AnalysisRunStatus {
        AnalysisRunStatus {
            metric_results: results,
            started_at: Some(Time(now() - Duration::minutes(5))),
            ..Default::default()
        }
    }

    fn m(name: &str, interval: &str) -> Metric {
        Metric { name: name.into(), interval: interval.into(), ..Default::default() }
    }

    #[test]
    fn s1_interval_must_have_passed() {
        let metrics = [m("m", "60s")];
        let st = status(vec![result("m", AnalysisPhase::Running, 1, vec![finished(AnalysisPhase::Successful, 50)])]);
        assert!(metric_tasks(&metrics, &st, false, now()).is_empty());
        let st = status(vec![result("m", AnalysisPhase::Running, 1, vec![finished(AnalysisPhase::Successful, 61)])]);
        assert_eq!(metric_tasks(&metrics, &st, false, now()), vec![MetricTask { metric_index: 0, resume: false }]);
        // Exactly at the boundary: not strictly after.
        let st = status(vec![result("m", AnalysisPhase::Running, 1, vec![finished(AnalysisPhase::Successful, 60)])]);
        assert!(metric_tasks(&metrics, &st, false, now()).is_empty());
    }

    #[test]
    fn s2_terminating_schedules_nothing_new() {
        let metrics = [m("a", "60s"), m("b", "60s")];
        let st = status(vec![result("a", AnalysisPhase::Failed, 1, vec![finished(AnalysisPhase::Failed, 100)])]);
        assert!(metric_tasks(&metrics, &st, true, now()).is_empty());
        assert_eq!(metric_tasks(&metrics, &status(vec![]), false, now()).len(), 2);
    }

    #[test]
    fn s3_count_reached_without_interval() {
        let metrics = [m("m", "")];
        let st = status(vec![result("m", AnalysisPhase::Running, 1, vec![finished(AnalysisPhase::Successful, 100)])]);
        assert!(metric_tasks(&metrics, &st, false, now()).is_empty());
    }

    #[test]
    fn s4_in_flight_measurement_is_resumed() {
        let metrics = [m("m", "60s")];
        let inflight =
            Measurement { phase: AnalysisPhase::Running, started_at: Some(Time(now())), ..Default::default() };
        let st = status(vec![result("m", AnalysisPhase::Running, 0, vec![inflight.clone()])]);
        assert_eq!(metric_tasks(&metrics, &st, false, now()), vec![MetricTask { metric_index: 0, resume: true }]);
        // resumeAt in the future: wait, unless terminating.
        let later = Measurement { resume_at: Some(Time(now() + Duration::seconds(30))), ..inflight };
        let st = status(vec![result("m", AnalysisPhase::Running, 0, vec![later])]);
        assert!(metric_tasks(&metrics, &st, false, now()).is_empty());
        assert_eq!(metric_tasks(&metrics, &st, true, now()).len(), 1);
        assert_eq!(next_reconcile_time(&metrics, &st, now()), Some(now() + Duration::seconds(30)));
    }

    #[test]
    fn errors_retry_after_ten_seconds() {
        let metrics = [m("m", "5m")];
        let st = status(vec![result("m", AnalysisPhase::Running, 0, vec![finished(AnalysisPhase::Error, 11)])]);
        assert_eq!(metric_tasks(&metrics, &st, false, now()).len(), 1);
        let st = status(vec![result("m", AnalysisPhase::Running, 0, vec![finished(AnalysisPhase::Error, 0)])]);
        assert_eq!(next_reconcile_time(&metrics, &st, now()), Some(now() + Duration::seconds(10)));
    }

    #[test]
    fn initial_delay_counts_from_the_run_start() {
        let metrics = [Metric { initial_delay: "10m".into(), ..m("m", "1m") }];
        let st = status(vec![]);
        assert!(metric_tasks(&metrics, &st, false, now()).is_empty());
        assert_eq!(next_reconcile_time(&metrics, &st, now()), Some(now() + Duration::minutes(5)));
        assert_eq!(metric_tasks(&metrics, &st, false, now() + Duration::minutes(5)).len(), 1);
    }

    #[test]
    fn next_time_is_the_earliest_metric() {
        let metrics = [m("a", "60s"), Metric { count: Some(IntOrString::Int(2)), ..m("b", "30s") }];
        let st = status(vec![
            result("a", AnalysisPhase::Running, 1, vec![finished(AnalysisPhase::Successful, 0)]),
            result("b", AnalysisPhase::Running, 1, vec![finished(AnalysisPhase::Successful, 0)]),
        ]);
        assert_eq!(next_reconcile_time(&metrics, &st, now()), Some(now() + Duration::seconds(30)));
    }
}

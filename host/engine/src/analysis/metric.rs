//! Metric counters and the metric's phase (reference §3.1 counters, §3.2; Argo
//! `runMeasurements` bookkeeping, `assessMetricStatus`, `assessMetricFailureInconclusiveOrError`).

use aviary_api::{AnalysisPhase, Measurement, Metric, MetricResult};

/// Records a measurement in a metric result: replaces the in-flight last measurement when
/// `resumed`, appends otherwise; a completed measurement updates the counters (an Error does not
/// count towards `count`; any non-error resets `consecutiveError`).
pub fn record_measurement(result: &mut MetricResult, measurement: Measurement, resumed: bool) {
    if measurement.phase.is_completed() {
        match measurement.phase {
            AnalysisPhase::Successful => {
                result.successful = result.successful.saturating_add(1);
                result.count = result.count.saturating_add(1);
                result.consecutive_error = 0;
                result.consecutive_success = result.consecutive_success.saturating_add(1);
            }
            AnalysisPhase::Failed => {
                result.failed = result.failed.saturating_add(1);
                result.count = result.count.saturating_add(1);
                result.consecutive_error = 0;
                result.consecutive_success = 0;
            }
            AnalysisPhase::Inconclusive => {
                result.inconclusive = result.inconclusive.saturating_add(1);
                result.count = result.count.saturating_add(1);
                result.consecutive_error = 0;
                result.consecutive_success = 0;
            }
            AnalysisPhase::Error => {
                result.error = result.error.saturating_add(1);
                result.consecutive_error = result.consecutive_error.saturating_add(1);
                result.consecutive_success = 0;
            }
            AnalysisPhase::Pending | AnalysisPhase::Running => {}
        }
    }
    match result.measurements.last_mut() {
        Some(last) if resumed => *last = measurement,
        _ => result.measurements.push(measurement),
    }
}

/// The result of `metric` in `status`, created (phase Running, with its dry-run flag) the first
/// time the metric is measured, as Argo's `runMeasurements` does.
pub fn result_mut<'a>(
    status: &'a mut aviary_api::AnalysisRunStatus,
    metric: &str,
    dry_run: bool,
) -> &'a mut MetricResult {
    if let Some(i) = status.metric_results.iter().position(|r| r.name == metric) {
        // Found just above: the index is in bounds.
        #[allow(clippy::indexing_slicing)]
        return &mut status.metric_results[i];
    }
    status.metric_results.push(MetricResult {
        name: metric.to_string(),
        phase: AnalysisPhase::Running,
        dry_run,
        ..Default::default()
    });
    let last = status.metric_results.len().saturating_sub(1);
    // Pushed just above: the list is not empty.
    #[allow(clippy::indexing_slicing)]
    &mut status.metric_results[last]
}

/// Argo's `assessMetricFailureInconclusiveOrError`: the limit checks, later ones overriding
/// earlier ones (Error > Inconclusive > Failed), with Argo's message. A negative failureLimit
/// disables the failure check.
pub fn failure_inconclusive_or_error(metric: &Metric, result: &MetricResult) -> Option<(AnalysisPhase, String)> {
    let mut out = None;
    let fl = metric.failure_limit_or_default();
    if fl >= 0 && i64::from(result.failed) > fl {
        out = Some((AnalysisPhase::Failed, format!("failed ({}) > failureLimit ({fl})", result.failed)));
    }
    let il = metric.inconclusive_limit_or_default();
    if i64::from(result.inconclusive) > il {
        out = Some((
            AnalysisPhase::Inconclusive,
            format!("inconclusive ({}) > inconclusiveLimit ({il})", result.inconclusive),
        ));
    }
    let el = metric.consecutive_error_limit_or_default();
    if i64::from(result.consecutive_error) > el {
        out = Some((
            AnalysisPhase::Error,
            format!("consecutiveErrors ({}) > consecutiveErrorLimit ({el})", result.consecutive_error),
        ));
    }
    out
}

/// Argo's `assessMetricStatus` (reference §3.2), in order: a completed phase is sticky; no
/// measurement → Pending (Successful when terminating); an in-flight measurement → Running; the
/// limit checks; consecutiveSuccessLimit reached → Successful; the count reached → Inconclusive
/// (failure limit applicable and a success limit not reached), Failed (only a success limit),
/// else Successful; otherwise Successful when terminating, else Running.
pub fn assess_metric(metric: &Metric, result: &MetricResult, terminating: bool) -> AnalysisPhase {
    if result.phase.is_completed() {
        return result.phase;
    }
    let Some(last) = result.measurements.last() else {
        return if terminating { AnalysisPhase::Successful } else { AnalysisPhase::Pending };
    };
    if !last.phase.is_completed() {
        return AnalysisPhase::Running;
    }
    if let Some((phase, _)) = failure_inconclusive_or_error(metric, result) {
        return phase;
    }
    let csl = metric.consecutive_success_limit_or_default();
    if csl > 0 && i64::from(result.consecutive_success) >= csl {
        return AnalysisPhase::Successful;
    }
    if let Some(count) = metric.effective_count()
        && i64::from(result.count) >= count
    {
        let failure_applicable = metric.failure_limit_or_default() >= 0;
        return if failure_applicable && csl > 0 {
            AnalysisPhase::Inconclusive
        } else if csl > 0 {
            AnalysisPhase::Failed
        } else {
            AnalysisPhase::Successful
        };
    }
    if terminating { AnalysisPhase::Successful } else { AnalysisPhase::Running }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aviary_api::IntOrString;

    fn metric(fl: Option<i32>, csl: Option<i32>, interval: bool, count: Option<i32>) -> Metric {
        Metric {
            name: "m".into(),
            failure_limit: fl.map(IntOrString::Int),
            consecutive_success_limit: csl.map(IntOrString::Int),
            interval: if interval { "60s".into() } else { String::new() },
            count: count.map(IntOrString::Int),
            ..Default::default()
        }
    }

    fn result(failed: i32, successful: i32, consecutive_success: i32, count: i32, last: AnalysisPhase) -> MetricResult {
        MetricResult {
            name: "m".into(),
            phase: AnalysisPhase::Running,
            failed,
            successful,
            consecutive_success,
            count,
            measurements: vec![Measurement { phase: last, ..Default::default() }],
            ..Default::default()
        }
    }

    /// Reference §3.8, rows A1-A16: (not terminating, terminating).
    #[test]
    fn metric_assessment_rows_a1_to_a16() {
        use AnalysisPhase::*;
        let empty = MetricResult { name: "m".into(), phase: Running, ..Default::default() };
        let rows: Vec<(&str, Metric, MetricResult, AnalysisPhase, AnalysisPhase)> = vec![
            ("A1", Metric::default(), empty, Pending, Successful),
            ("A2", Metric::default(), result(0, 0, 0, 0, Running), Running, Running),
            ("A3", metric(Some(2), None, true, None), result(3, 0, 0, 3, Failed), Failed, Failed),
            ("A4", metric(Some(3), None, true, None), result(3, 0, 0, 3, Failed), Running, Successful),
            ("A5", metric(Some(-1), Some(3), true, None), result(3, 4, 3, 7, Successful), Successful, Successful),
            ("A6", metric(Some(-1), Some(5), true, None), result(3, 4, 3, 7, Successful), Running, Successful),
            ("A7", metric(Some(-1), Some(5), true, Some(7)), result(3, 4, 3, 7, Successful), Failed, Failed),
            ("A8", metric(Some(-1), Some(3), true, Some(7)), result(3, 4, 3, 7, Successful), Successful, Successful),
            ("A9", metric(Some(-1), Some(3), true, Some(9)), result(3, 4, 3, 7, Successful), Successful, Successful),
            ("A10", metric(Some(-1), Some(5), true, Some(9)), result(3, 4, 3, 7, Successful), Running, Successful),
            ("A11", metric(Some(4), Some(4), true, None), result(3, 4, 3, 7, Successful), Running, Successful),
            ("A12", metric(Some(4), Some(4), true, None), result(5, 9, 0, 9, Failed), Failed, Failed),
            ("A13", metric(Some(4), Some(4), true, None), result(3, 5, 4, 8, Successful), Successful, Successful),
            ("A14", metric(Some(4), Some(4), true, None), result(5, 5, 4, 10, Successful), Failed, Failed),
            (
                "A15",
                metric(Some(4), Some(4), true, Some(10)),
                result(4, 6, 3, 10, Successful),
                Inconclusive,
                Inconclusive,
            ),
            ("A16", metric(Some(4), Some(4), true, Some(10)), result(5, 5, 3, 10, Successful), Failed, Failed),
        ];
        for (id, m, r, not_terminating, terminating) in rows {
            assert_eq!(assess_metric(&m, &r, false), not_terminating, "{id} not terminating");
            assert_eq!(assess_metric(&m, &r, true), terminating, "{id} terminating");
        }
    }

    #[test]
    fn the_fifth_consecutive_error_fails_the_metric_with_defaults() {
        let m = Metric { name: "m".into(), interval: "10s".into(), ..Default::default() };
        let mut r = MetricResult { name: "m".into(), phase: AnalysisPhase::Running, ..Default::default() };
        for i in 1..=5 {
            record_measurement(&mut r, Measurement { phase: AnalysisPhase::Error, ..Default::default() }, false);
            let want = if i < 5 { AnalysisPhase::Running } else { AnalysisPhase::Error };
            assert_eq!(assess_metric(&m, &r, false), want, "after {i} errors");
        }
        assert_eq!(
            failure_inconclusive_or_error(&m, &r).unwrap().1,
            "consecutiveErrors (5) > consecutiveErrorLimit (4)"
        );
        assert_eq!(r.count, 0);
    }

    #[test]
    fn a_success_after_errors_resets_the_consecutive_error_counter() {
        // TestRunMeasurementsResetConsecutiveErrorCounter.
        let mut r = MetricResult::default();
        record_measurement(&mut r, Measurement { phase: AnalysisPhase::Error, ..Default::default() }, false);
        record_measurement(&mut r, Measurement { phase: AnalysisPhase::Error, ..Default::default() }, false);
        assert_eq!(r.consecutive_error, 2);
        record_measurement(&mut r, Measurement { phase: AnalysisPhase::Successful, ..Default::default() }, false);
        assert_eq!((r.consecutive_error, r.error, r.count, r.successful, r.consecutive_success), (0, 2, 1, 1, 1));
    }

    #[test]
    fn counters_follow_the_table() {
        let mut r = MetricResult::default();
        for p in
            [AnalysisPhase::Successful, AnalysisPhase::Successful, AnalysisPhase::Inconclusive, AnalysisPhase::Failed]
        {
            record_measurement(&mut r, Measurement { phase: p, ..Default::default() }, false);
        }
        assert_eq!((r.count, r.successful, r.inconclusive, r.failed, r.consecutive_success), (4, 2, 1, 1, 0));
        // A resumed in-flight measurement replaces the last entry.
        record_measurement(&mut r, Measurement { phase: AnalysisPhase::Running, ..Default::default() }, false);
        record_measurement(&mut r, Measurement { phase: AnalysisPhase::Successful, ..Default::default() }, true);
        assert_eq!(r.measurements.len(), 5);
        assert_eq!(r.successful, 3);
    }

    #[test]
    fn limit_messages_match_argo() {
        let m = metric(Some(0), None, false, None);
        let r = result(1, 0, 0, 1, AnalysisPhase::Failed);
        assert_eq!(
            failure_inconclusive_or_error(&m, &r),
            Some((AnalysisPhase::Failed, "failed (1) > failureLimit (0)".into()))
        );
        let mut r = result(1, 0, 0, 2, AnalysisPhase::Inconclusive);
        r.inconclusive = 1;
        assert_eq!(failure_inconclusive_or_error(&m, &r).unwrap().0, AnalysisPhase::Inconclusive);
    }
}

//! Dry-run selection and measurement retention (reference §3.4, §3.5; Argo
//! `GetDryRunMetrics`, `GetMeasurementRetentionMetrics`, `garbageCollectMeasurements`).

use std::collections::{HashMap, HashSet};

use regex::Regex;

use aviary_api::{AnalysisRunStatus, DryRun, MeasurementRetention, Metric};

/// Measurements kept per metric unless a retention rule says otherwise.
pub const DEFAULT_MEASUREMENT_HISTORY_LIMIT: usize = 10;

/// Go's `regexp.MatchString(pattern, name)`: unanchored; a pattern that does not compile matches
/// nothing (Argo ignores the compile error). `*` alone selects every metric, as Argo documents.
fn matches(pattern: &str, name: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    Regex::new(pattern).is_ok_and(|re| re.is_match(name))
}

/// Argo's `GetDryRunMetrics`: the names of the metrics that run in dry-run mode. A rule that
/// matches no metric (including a pattern that is not a valid regular expression) is an error,
/// which puts the run in Error.
pub fn dry_run_metrics(rules: &[DryRun], metrics: &[Metric]) -> Result<HashSet<String>, String> {
    let mut out = HashSet::new();
    for (i, rule) in rules.iter().enumerate() {
        let mut matched = 0usize;
        for m in metrics {
            if matches(&rule.metric_name, &m.name) {
                out.insert(m.name.clone());
                matched = matched.saturating_add(1);
            }
        }
        if matched == 0 {
            return Err(format!("dryRun[{i}]: Rule didn't match any metric name(s)"));
        }
    }
    Ok(out)
}

/// Argo's `GetMeasurementRetentionMetrics`: metric name → retention limit, from the rules.
pub fn retention_limits(rules: &[MeasurementRetention], metrics: &[Metric]) -> Result<HashMap<String, i32>, String> {
    let mut out = HashMap::new();
    for (i, rule) in rules.iter().enumerate() {
        let mut matched = 0usize;
        for m in metrics {
            if matches(&rule.metric_name, &m.name) {
                out.insert(m.name.clone(), rule.limit);
                matched = matched.saturating_add(1);
            }
        }
        if matched == 0 {
            return Err(format!("measurementRetention[{i}]: Rule didn't match any metric name(s)"));
        }
    }
    Ok(out)
}

/// The number of measurements to keep for a metric: its retention limit when positive, else 10.
pub fn limit_for(limits: &HashMap<String, i32>, metric: &str) -> usize {
    match limits.get(metric) {
        Some(l) if *l > 0 => *l as usize,
        _ => DEFAULT_MEASUREMENT_HISTORY_LIMIT,
    }
}

/// Trims each metric's measurements to its limit, keeping the most recent. Returns, per metric
/// trimmed, the limit applied (the controller then calls the provider's GarbageCollect with it).
pub fn trim_measurements(status: &mut AnalysisRunStatus, limits: &HashMap<String, i32>) -> Vec<(String, usize)> {
    let mut trimmed = Vec::new();
    for result in &mut status.metric_results {
        let limit = limit_for(limits, &result.name);
        let len = result.measurements.len();
        if len > limit {
            result.measurements.drain(..len.saturating_sub(limit));
            trimmed.push((result.name.clone(), limit));
        }
    }
    trimmed
}

/// What an AnalysisRun object may weigh, serialised, when the controller writes it: etcd refuses
/// a request over 1.5 MiB (its default `--max-request-bytes`), and the object's managedFields and
/// the write's own envelope need room besides.
pub const OBJECT_BUDGET_BYTES: usize = 1 << 20;

/// The least the status is allowed, whatever the size of the spec.
pub const MIN_STATUS_BUDGET_BYTES: usize = 64 << 10;

/// How [`fit_status`] made the status fit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fit {
    /// It fitted as it was.
    AsIs,
    /// The oldest measurements were dropped (each metric keeps at least its newest), as Argo's
    /// retention drops them, only sooner.
    Trimmed {
        /// How many measurements were dropped.
        dropped: usize,
    },
    /// Even one measurement per metric did not fit: their values, metadata and messages were
    /// cleared. The run cannot go on; the message says why, for its Error phase.
    Shrunk {
        /// The reason, naming both sizes.
        message: String,
    },
}

/// Serialised size of a value as the API server receives it (JSON).
pub fn json_size<T: serde::Serialize>(value: &T) -> usize {
    serde_json::to_vec(value).map_or(usize::MAX, |v| v.len())
}

/// Keeps a run's status within `budget` bytes of JSON, so that a write is never refused as too
/// large and the run never stuck behind it: first drops the oldest measurements across all
/// metrics (never a metric's newest, which holds an in-flight measurement's state); if that is
/// not enough, clears what the kept measurements carry. A plugin's answers are bounded one by one
/// (`aviary_boundary::measurement`); this bounds their sum, whatever the retention rules ask.
pub fn fit_status(status: &mut AnalysisRunStatus, budget: usize) -> Fit {
    let mut size = json_size(status);
    if size <= budget {
        return Fit::AsIs;
    }
    let before = size;
    let mut dropped = 0usize;
    while size > budget {
        // The oldest droppable measurement: the first of a metric with more than one, earliest
        // start first (a measurement without a start sorts first: it carries no history).
        let oldest = status
            .metric_results
            .iter()
            .enumerate()
            .filter(|(_, r)| r.measurements.len() > 1)
            .min_by_key(|(_, r)| r.measurements.first().and_then(|m| m.started_at).map(|t| t.0))
            .map(|(i, _)| i);
        let Some(result) = oldest.and_then(|i| status.metric_results.get_mut(i)) else { break };
        let removed = result.measurements.remove(0);
        // The measurement and the comma that separated it.
        size = size.saturating_sub(json_size(&removed).saturating_add(1));
        dropped = dropped.saturating_add(1);
    }
    if size <= budget {
        return Fit::Trimmed { dropped };
    }
    for result in &mut status.metric_results {
        for m in &mut result.measurements {
            m.value.clear();
            m.metadata.clear();
            m.message = cut(&m.message, 256);
        }
        result.message = cut(&result.message, 256);
    }
    Fit::Shrunk {
        message: format!(
            "the AnalysisRun's status of {before} bytes exceeds the {budget} bytes the API server accepts, even with \
             one measurement per metric; their values and metadata were removed"
        ),
    }
}

fn cut(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    text.get(..end).unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aviary_api::{Measurement, MetricResult, Time};

    fn metrics(names: &[&str]) -> Vec<Metric> {
        names.iter().map(|n| Metric { name: (*n).into(), ..Default::default() }).collect()
    }

    #[test]
    fn dry_run_rules_are_unanchored_regexes() {
        let ms = metrics(&["error-rate", "latency", "total-errors"]);
        let got = dry_run_metrics(&[DryRun { metric_name: "error".into() }], &ms).unwrap();
        assert_eq!(got, HashSet::from(["error-rate".to_string(), "total-errors".to_string()]));
        let all = dry_run_metrics(&[DryRun { metric_name: ".*".into() }], &ms).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(dry_run_metrics(&[DryRun { metric_name: "*".into() }], &ms).unwrap().len(), 3);
    }

    #[test]
    fn a_rule_matching_nothing_or_a_bad_regex_is_an_error() {
        let ms = metrics(&["latency"]);
        assert_eq!(
            dry_run_metrics(&[DryRun { metric_name: "nope".into() }], &ms).unwrap_err(),
            "dryRun[0]: Rule didn't match any metric name(s)"
        );
        assert!(dry_run_metrics(&[DryRun { metric_name: "(".into() }], &ms).is_err());
        assert_eq!(
            retention_limits(&[MeasurementRetention { metric_name: "x".into(), limit: 3 }], &ms).unwrap_err(),
            "measurementRetention[0]: Rule didn't match any metric name(s)"
        );
    }

    #[test]
    fn keeps_the_last_ten_or_the_rule_limit() {
        let mk = |name: &str, n: usize| MetricResult {
            name: name.into(),
            measurements: (0..n).map(|i| Measurement { value: i.to_string(), ..Default::default() }).collect(),
            ..Default::default()
        };
        let mut status =
            AnalysisRunStatus { metric_results: vec![mk("a", 12), mk("b", 12), mk("c", 4)], ..Default::default() };
        let limits = retention_limits(
            &[MeasurementRetention { metric_name: "^b$".into(), limit: 3 }],
            &metrics(&["a", "b", "c"]),
        )
        .unwrap();
        let trimmed = trim_measurements(&mut status, &limits);
        assert_eq!(trimmed, vec![("a".to_string(), 10), ("b".to_string(), 3)]);
        assert_eq!(status.metric_results[0].measurements.first().unwrap().value, "2");
        assert_eq!(status.metric_results[1].measurements.len(), 3);
        assert_eq!(status.metric_results[1].measurements[0].value, "9");
        assert_eq!(status.metric_results[2].measurements.len(), 4);
    }

    fn fat(i: usize, started: i64) -> Measurement {
        Measurement {
            value: format!("\"{}\"", "v".repeat(30_000)),
            message: format!("measurement {i}"),
            started_at: Some(Time(chrono::DateTime::from_timestamp(started, 0).unwrap())),
            ..Default::default()
        }
    }

    #[test]
    fn a_status_that_fits_is_left_alone() {
        let mut status = AnalysisRunStatus {
            metric_results: vec![MetricResult {
                name: "a".into(),
                measurements: vec![fat(0, 0)],
                ..Default::default()
            }],
            ..Default::default()
        };
        let before = status.clone();
        assert_eq!(fit_status(&mut status, OBJECT_BUDGET_BYTES), Fit::AsIs);
        assert_eq!(status, before);
    }

    #[test]
    fn the_oldest_measurements_across_metrics_go_first_and_each_metric_keeps_its_newest() {
        // a: started at 0, 10, 20, ...; b: at 5, 15, 25, ...: 60 measurements of ~30 KB.
        let mk = |name: &str, offset: i64| MetricResult {
            name: name.into(),
            measurements: (0..30).map(|i| fat(i, offset + 10 * i as i64)).collect(),
            ..Default::default()
        };
        let mut status = AnalysisRunStatus { metric_results: vec![mk("a", 0), mk("b", 5)], ..Default::default() };
        assert!(json_size(&status) > 1_500_000);
        let fit = fit_status(&mut status, 300_000);
        let Fit::Trimmed { dropped } = fit else { panic!("{fit:?}") };
        assert!(json_size(&status) <= 300_000, "{}", json_size(&status));
        let kept: usize = status.metric_results.iter().map(|r| r.measurements.len()).sum();
        assert_eq!(kept + dropped, 60);
        // The survivors are the newest of each metric, alternating as they were taken.
        let first = |r: &MetricResult| r.measurements[0].started_at.unwrap().0.timestamp();
        assert!((first(&status.metric_results[0]) - first(&status.metric_results[1])).abs() <= 10);
        assert_eq!(status.metric_results[0].measurements.last().unwrap().message, "measurement 29");
        assert_eq!(status.metric_results[1].measurements.last().unwrap().message, "measurement 29");
        // The size it counted as it dropped is the size it has.
        let mut again = status.clone();
        assert_eq!(fit_status(&mut again, 300_000), Fit::AsIs);
    }

    #[test]
    fn when_one_measurement_per_metric_is_too_much_the_run_is_told_why() {
        let metric_results = (0..40)
            .map(|i| MetricResult { name: format!("m{i}"), measurements: vec![fat(i, 0)], ..Default::default() })
            .collect();
        let mut status = AnalysisRunStatus { metric_results, ..Default::default() };
        let fit = fit_status(&mut status, OBJECT_BUDGET_BYTES);
        let Fit::Shrunk { message } = fit else { panic!("{fit:?}") };
        assert!(message.contains("exceeds the 1048576 bytes"), "{message}");
        assert!(json_size(&status) < 64 << 10);
        assert!(status.metric_results.iter().all(|r| r.measurements.len() == 1 && r.measurements[0].value.is_empty()));
    }
}

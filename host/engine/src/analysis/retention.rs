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
        let mut matched = 0;
        for m in metrics {
            if matches(&rule.metric_name, &m.name) {
                out.insert(m.name.clone());
                matched += 1;
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
        let mut matched = 0;
        for m in metrics {
            if matches(&rule.metric_name, &m.name) {
                out.insert(m.name.clone(), rule.limit);
                matched += 1;
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
            result.measurements.drain(..len - limit);
            trimmed.push((result.name.clone(), limit));
        }
    }
    trimmed
}

#[cfg(test)]
mod tests {
    use super::*;
    use aviary_api::{Measurement, MetricResult};

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
}

//! The scorer: Kayenta's `WeightedSumScorer` and `ThresholdScoreClassifier`.
//!
//! Muted metrics are left out. Each group's score is the share of its metrics that are `Pass`
//! among those that are `Pass`, `High`, `Low` or `NodataFailMetric` (`Nodata` and `Error` do not
//! count), times 100; a group with none of them has no data and counts as 100. The summary is the
//! weighted sum of the group scores, weights out of 100, the groups without a weight sharing what
//! the configured weights leave; rounded half-up to two decimals. It is forced to 0 when a
//! critical metric is not `Pass`, or when half or more of the metrics are `Nodata`. Then
//! `score >= pass` is Pass, `score >= marginal` Marginal, anything lower Fail.

use std::collections::BTreeMap;

use crate::classify::{Label, MetricResult};

/// Kayenta's `NODATA_THRESHOLD`: this share (percent) of metrics without data fails the canary.
pub const NODATA_THRESHOLD: f64 = 50.0;

/// The classification of the summary score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Classification {
    /// At or above the pass threshold.
    Pass,
    /// At or above the marginal threshold, below pass.
    Marginal,
    /// Below the marginal threshold.
    Fail,
}

impl std::fmt::Display for Classification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Classification::Pass => "Pass",
            Classification::Marginal => "Marginal",
            Classification::Fail => "Fail",
        })
    }
}

/// One group's score.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupScore {
    /// The group.
    pub name: String,
    /// 0 to 100 (0 when it has no data).
    pub score: f64,
    /// No metric of the group counted: it scores 100 in the summary.
    pub no_data: bool,
}

/// The summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    /// 0 to 100, two decimals.
    pub score: f64,
    /// Pass, Marginal or Fail.
    pub classification: Classification,
    /// Why the score was forced to 0, if it was.
    pub reason: Option<String>,
    /// The groups' scores, by name.
    pub groups: Vec<GroupScore>,
}

/// Scores classified metrics against group weights and the thresholds.
pub fn score(results: &[MetricResult], weights: &BTreeMap<String, f64>, pass: f64, marginal: f64) -> Score {
    let scored: Vec<&MetricResult> = results.iter().filter(|r| !r.muted).collect();
    let mut labels: BTreeMap<&str, Vec<Label>> = BTreeMap::new();
    for r in &scored {
        for g in &r.groups {
            labels.entry(g.as_str()).or_default().push(r.label);
        }
    }
    let groups: Vec<GroupScore> = labels
        .into_iter()
        .map(|(name, labels)| {
            let count = |l: Label| labels.iter().filter(|x| **x == l).count();
            let passed = count(Label::Pass);
            let total = passed + count(Label::High) + count(Label::Low) + count(Label::NodataFailMetric);
            GroupScore {
                name: name.to_string(),
                score: if total == 0 { 0.0 } else { passed as f64 / total as f64 * 100.0 },
                no_data: total == 0,
            }
        })
        .collect();

    let critical = scored.iter().find(|r| r.critical && r.label != Label::Pass);
    let nodata = scored.iter().filter(|r| r.label == Label::Nodata).count() as f64 / scored.len() as f64 * 100.0;
    let (score, reason) = if let Some(failure) = critical {
        (0.0, Some(format!("Canary Failed: {}", failure.reason.as_deref().unwrap_or(&failure.name))))
    } else if nodata >= NODATA_THRESHOLD {
        (0.0, Some(format!("Canary Failed: {NODATA_THRESHOLD}% or more metrics returned NODATA")))
    } else {
        (summary(&groups, weights), None)
    };
    let classification = if score >= pass {
        Classification::Pass
    } else if score >= marginal {
        Classification::Marginal
    } else {
        Classification::Fail
    };
    Score { score, classification, reason, groups }
}

fn summary(groups: &[GroupScore], weights: &BTreeMap<String, f64>) -> f64 {
    let configured: f64 = weights.values().sum();
    let unweighted = groups.iter().filter(|g| !weights.contains_key(&g.name)).count();
    let shared = if unweighted > 0 { (100.0 - configured) / unweighted as f64 } else { 0.0 };
    let total: f64 = groups
        .iter()
        .map(|g| {
            let effective = if g.no_data { 100.0 } else { g.score };
            effective * (weights.get(&g.name).copied().unwrap_or(shared) / 100.0)
        })
        .sum();
    round2(total)
}

/// Commons Math's `Precision.round(x, 2)`: half-up on the decimal digits of the shortest
/// representation of `x` (so 66.665 is 66.67, where `(x * 100).round() / 100` gives 66.66).
pub fn round2(x: f64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    let text = format!("{}", x.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    if frac.len() <= 2 {
        return x;
    }
    let digits = format!("{int}{}", &frac[..2]);
    let Ok(mut hundredths) = digits.parse::<u128>() else { return x };
    if frac.as_bytes()[2] >= b'5' {
        hundredths += 1;
    }
    let rounded = hundredths as f64 / 100.0;
    if x < 0.0 { -rounded } else { rounded }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metric(name: &str, label: Label, groups: &[&str]) -> MetricResult {
        MetricResult {
            name: name.into(),
            label,
            reason: Some(format!("{name} was classified as {label}")),
            critical: false,
            deviation: 1.0,
            muted: false,
            groups: groups.iter().map(|g| g.to_string()).collect(),
            interval: None,
        }
    }

    fn weights(w: &[(&str, f64)]) -> BTreeMap<String, f64> {
        w.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn a_group_scores_its_share_of_passing_metrics() {
        let r = [
            metric("a", Label::Pass, &["g"]),
            metric("b", Label::High, &["g"]),
            metric("c", Label::Pass, &["g"]),
            metric("d", Label::Nodata, &["g"]),
            metric("e", Label::Error, &["g"]),
        ];
        let s = score(&r, &BTreeMap::new(), 95.0, 60.0);
        assert_eq!(s.score, 66.67);
        assert_eq!(s.classification, Classification::Marginal);
        let s = score(&r, &BTreeMap::new(), 95.0, 75.0);
        assert_eq!(s.classification, Classification::Fail);
        let s = score(&r[..1], &BTreeMap::new(), 100.0, 75.0);
        assert_eq!((s.score, s.classification), (100.0, Classification::Pass));
    }

    #[test]
    fn weights_and_shared_weights() {
        // latency 0 (weight 60), errors 100 (weight 30), cpu 100 shares the remaining 10.
        let r = [
            metric("latency", Label::High, &["latency"]),
            metric("errors", Label::Pass, &["errors"]),
            metric("cpu", Label::Pass, &["cpu"]),
        ];
        let s = score(&r, &weights(&[("latency", 60.0), ("errors", 30.0)]), 95.0, 75.0);
        assert_eq!(s.score, 40.0);
        // Without weights the three share equally.
        assert_eq!(score(&r, &BTreeMap::new(), 95.0, 75.0).score, 66.67);
        // A weight for a group that has no metric still takes its share.
        let s = score(&r[1..], &weights(&[("latency", 50.0)]), 95.0, 75.0);
        assert_eq!(s.score, 50.0);
    }

    #[test]
    fn a_group_without_data_counts_as_passing_and_nodata_fail_metric_as_failing() {
        let r = [
            metric("a", Label::Nodata, &["quiet"]),
            metric("b", Label::Pass, &["busy"]),
            metric("c", Label::NodataFailMetric, &["busy"]),
        ];
        let s = score(&r, &BTreeMap::new(), 95.0, 75.0);
        assert_eq!(s.score, 75.0, "quiet: 100, busy: 50");
        assert_eq!(s.classification, Classification::Marginal);
        assert!(s.groups.iter().any(|g| g.name == "quiet" && g.no_data));
    }

    #[test]
    fn a_critical_failure_or_too_much_missing_data_scores_zero() {
        let mut critical = metric("errors", Label::High, &["errors"]);
        critical.critical = true;
        critical.reason = Some("The metric errors was classified as High (Critical)".into());
        let r = [critical, metric("latency", Label::Pass, &["latency"])];
        let s = score(&r, &BTreeMap::new(), 95.0, 75.0);
        assert_eq!((s.score, s.classification), (0.0, Classification::Fail));
        assert_eq!(s.reason.as_deref(), Some("Canary Failed: The metric errors was classified as High (Critical)"));
        let r = [metric("a", Label::Nodata, &["a"]), metric("b", Label::Pass, &["b"])];
        let s = score(&r, &BTreeMap::new(), 95.0, 75.0);
        assert_eq!(s.score, 0.0);
        assert_eq!(s.reason.as_deref(), Some("Canary Failed: 50% or more metrics returned NODATA"));
    }

    #[test]
    fn muted_metrics_do_not_count() {
        let mut muted = metric("a", Label::High, &["g"]);
        muted.muted = true;
        let s = score(&[muted, metric("b", Label::Pass, &["g"])], &BTreeMap::new(), 95.0, 75.0);
        assert_eq!(s.score, 100.0);
    }

    #[test]
    fn a_metric_in_two_groups_counts_in_both() {
        let r = [metric("a", Label::High, &["x", "y"]), metric("b", Label::Pass, &["y"])];
        let s = score(&r, &BTreeMap::new(), 95.0, 75.0);
        // x: 0, y: 50; equal weights.
        assert_eq!(s.score, 25.0);
    }

    #[test]
    fn rounding_is_half_up_on_decimal_digits() {
        assert_eq!(round2(66.665), 66.67);
        assert_eq!(round2(66.664999), 66.66);
        assert_eq!(round2(100.0 / 3.0), 33.33);
        assert_eq!(round2(200.0 / 3.0), 66.67);
        assert_eq!(round2(12.5), 12.5);
        assert_eq!(round2(99.995), 100.0);
    }
}

//! The metric classifier: Kayenta's `MannWhitneyClassifier` with NetflixACAJudge's
//! preprocessing (NaN strategy, outlier removal).
//!
//! For one metric, after NaN handling and outlier removal of each series:
//!
//! 1. An empty series is `Nodata` (with `nanStrategy: remove`; `NodataFailMetric` when the
//!    metric `mustHaveData` and is not critical) or `Pass` (with `nanStrategy: replace`).
//! 2. Identical series, or a single distinct value in both, `Pass`.
//! 3. Otherwise the Mann–Whitney interval of the shift canary − baseline at the configured
//!    confidence (two constant series get Kayenta's tiny Gaussian noise first). With
//!    `bound = tolerance |estimate|`, the metric is `High` when the direction is `increase` or
//!    `either`, the interval's lower end is above `bound` and the effect size is at least
//!    `allowedIncrease` (or cannot be computed); `Low` symmetrically below `-bound` and
//!    `allowedDecrease`; else `Pass`.
//! 4. A critical metric is flagged critical when High with an effect of at least
//!    `criticalIncrease` (or Low, at most `criticalDecrease`), or when it has no data; a critical
//!    flag fails the whole canary (see [`crate::score`]).
//! 5. A failure of the statistics (every observation tied) is `Error`, left out of the score.

use crate::input::Series;
use crate::settings::{Direction, EffectMeasure, MetricConfig, NanStrategy};
use crate::stats::effect::{cles, mean_ratio};
use crate::stats::mannwhitney::{ShiftInterval, shift_interval};
use crate::stats::noise::{JavaRandom, SEED, add_noise};
use crate::stats::outliers::remove_outliers;

/// Kayenta's metric classification labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// No significant difference, or one too small to matter.
    Pass,
    /// The canary is significantly higher.
    High,
    /// The canary is significantly lower.
    Low,
    /// No data, and the metric must have data: counts as a failed metric.
    NodataFailMetric,
    /// No data: left out of its group's score.
    Nodata,
    /// The statistics failed: left out of the score.
    Error,
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Label::Pass => "Pass",
            Label::High => "High",
            Label::Low => "Low",
            Label::NodataFailMetric => "NodataFailMetric",
            Label::Nodata => "Nodata",
            Label::Error => "Error",
        })
    }
}

/// The classification of one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricResult {
    /// The metric's name.
    pub name: String,
    /// Its label.
    pub label: Label,
    /// Why, when there is more to say than the label.
    pub reason: Option<String>,
    /// A critical metric that fails the canary (see the module docs).
    pub critical: bool,
    /// Mean ratio canary / baseline (Kayenta's deviation); 1 when not computed.
    pub deviation: f64,
    /// Left out of the score.
    pub muted: bool,
    /// Scoring groups.
    pub groups: Vec<String>,
    /// The interval of the shift, when the test ran.
    pub interval: Option<ShiftInterval>,
}

/// The Mann–Whitney parameters shared by every metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestParams {
    /// Confidence level of the interval.
    pub confidence: f64,
    /// Fraction of the estimate bounding a significant shift.
    pub tolerance: f64,
}

/// Classifies metric `name` from its series and settings.
pub fn classify(name: &str, series: &Series, config: &MetricConfig, params: TestParams) -> MetricResult {
    let prepare = |values: &[f64]| -> Vec<f64> {
        let cleaned: Vec<f64> = match config.nan_strategy {
            NanStrategy::Remove => values.iter().copied().filter(|v| !v.is_nan()).collect(),
            NanStrategy::Replace => values.iter().map(|v| if v.is_nan() { 0.0 } else { *v }).collect(),
        };
        match config.outlier_factor {
            Some(factor) => remove_outliers(&cleaned, factor),
            None => cleaned,
        }
    };
    let canary = prepare(&series.canary);
    let baseline = prepare(&series.baseline);
    let result = |label, reason: Option<String>, critical, deviation, interval| MetricResult {
        name: name.to_string(),
        label,
        reason,
        critical,
        deviation,
        muted: config.muted,
        groups: config.groups.clone(),
        interval,
    };

    if canary.is_empty() || baseline.is_empty() {
        return match config.nan_strategy {
            NanStrategy::Remove => {
                let reason = Some(format!("Missing data for {name}"));
                if config.must_have_data && !config.critical {
                    result(Label::NodataFailMetric, reason, false, 1.0, None)
                } else {
                    result(Label::Nodata, reason, config.critical, 1.0, None)
                }
            }
            NanStrategy::Replace => result(Label::Pass, None, false, 1.0, None),
        };
    }
    if canary.iter().chain(&baseline).any(|v| v.is_infinite()) {
        // Kayenta's arithmetic would turn these into NaN bounds; an error is more honest.
        return result(Label::Error, Some(format!("{name} has an infinite value")), false, 1.0, None);
    }
    let sorted = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v
    };
    if sorted(&canary) == sorted(&baseline) {
        return result(Label::Pass, Some("The canary and baseline data are identical".into()), false, 1.0, None);
    }
    let first = canary[0];
    let constant = |v: &[f64]| v.iter().all(|x| *x == v[0]);
    if canary.iter().chain(&baseline).all(|v| *v == first) {
        return result(Label::Pass, None, false, 1.0, None);
    }

    // Two constant series: Kayenta's Gaussian noise, canary first (from a seeded generator).
    let (canary, baseline) = if constant(&canary) && constant(&baseline) {
        let mut rng = JavaRandom::new(SEED);
        let c = add_noise(&canary, &mut rng);
        (c, add_noise(&baseline, &mut rng))
    } else {
        (canary, baseline)
    };
    let interval = match shift_interval(&canary, &baseline, params.confidence) {
        Ok(i) => i,
        Err(e) => return result(Label::Error, Some(format!("Metric Classification Failed: {e}")), false, 1.0, None),
    };
    let deviation = mean_ratio(&baseline, &canary);
    let effect = match config.measure {
        EffectMeasure::MeanRatio => deviation,
        EffectMeasure::Cles => cles(&baseline, &canary),
    };
    let bound = params.tolerance * interval.estimate.abs();
    let (allowed_decrease, allowed_increase) = config.allowed;
    let is_high = matches!(config.direction, Direction::Increase | Direction::Either)
        && interval.lower > bound
        && (effect.is_nan() || effect >= allowed_increase);
    let is_low = matches!(config.direction, Direction::Decrease | Direction::Either)
        && interval.upper < -bound
        && (effect.is_nan() || effect <= allowed_decrease);
    let label = if is_high {
        Label::High
    } else if is_low {
        Label::Low
    } else {
        Label::Pass
    };
    let (critical_decrease, critical_increase) = config.critical_effect;
    let critical = config.critical
        && match label {
            Label::High => effect.is_nan() || effect >= critical_increase,
            Label::Low => effect.is_nan() || effect <= critical_decrease,
            _ => false,
        };
    let reason = match (label, critical) {
        (Label::Pass, _) => None,
        (_, true) => Some(format!("The metric {name} was classified as {label} (Critical)")),
        (_, false) => Some(format!("{name} was classified as {label}")),
    };
    result(label, reason, critical, deviation, Some(interval))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;

    const PARAMS: TestParams = TestParams { confidence: 0.98, tolerance: 0.25 };

    fn config(settings: &str) -> MetricConfig {
        let separator = if settings.is_empty() { "" } else { ", " };
        Settings::parse(&format!(r#"{{"is": "pass", "pass": 95, "marginal": 75{separator}{settings}}}"#))
            .unwrap()
            .metric("m")
    }

    fn label(canary: &[f64], baseline: &[f64], settings: &str) -> MetricResult {
        let series = Series { canary: canary.to_vec(), baseline: baseline.to_vec() };
        classify("m", &series, &config(settings), PARAMS)
    }

    /// Kayenta's ClassifierSuite samples (normal data, n = 30), to four decimals.
    const CONTROL: [f64; 30] = [
        11.1454, 9.9618, 7.0686, 7.3013, 9.7945, 9.6038, 6.1868, 12.3456, 10.3719, 8.6094, 9.9132, 10.3614, 14.2068,
        10.9462, 10.2159, 11.7398, 10.9076, 12.8234, 8.1019, 8.4982, 12.1134, 13.2722, 10.1146, 6.9464, 6.2105,
        10.1604, 8.3458, 8.3838, 7.002, 10.7558,
    ];
    const HIGHER: [f64; 30] = [
        20.8784, 21.7855, 19.7083, 15.8599, 19.5101, 19.392, 22.9265, 17.1565, 18.6551, 23.4226, 24.0558, 22.6269,
        21.9795, 21.6593, 20.0677, 22.1196, 16.4404, 21.5596, 21.0002, 17.7794, 17.806, 18.5372, 20.5556, 19.5529,
        21.7711, 21.8096, 20.9618, 20.9776, 19.1063, 16.9769,
    ];

    #[test]
    fn a_higher_canary_is_high_unless_only_a_decrease_counts() {
        let r = label(&HIGHER, &CONTROL, r#""direction": "either""#);
        assert_eq!(r.label, Label::High);
        assert!(r.interval.unwrap().lower > 0.0);
        assert!((r.deviation - 2.0).abs() < 0.1, "{}", r.deviation);
        assert_eq!(label(&HIGHER, &CONTROL, r#""direction": "increase""#).label, Label::High);
        assert_eq!(label(&HIGHER, &CONTROL, r#""direction": "decrease""#).label, Label::Pass);
        assert_eq!(label(&CONTROL, &HIGHER, r#""direction": "decrease""#).label, Label::Low);
        assert_eq!(label(&CONTROL, &HIGHER, r#""direction": "increase""#).label, Label::Pass);
    }

    #[test]
    fn an_effect_below_the_allowed_increase_passes() {
        // The canary is about twice the baseline: allowed up to 2.5x, it passes.
        let r = label(&HIGHER, &CONTROL, r#""effectSize": {"allowedIncrease": 2.5}"#);
        assert_eq!(r.label, Label::Pass);
        let r = label(&HIGHER, &CONTROL, r#""effectSize": {"measure": "cles", "allowedIncrease": 0.9}"#);
        assert_eq!(r.label, Label::High, "every canary value is above every baseline value: CLES 1");
    }

    #[test]
    fn critical_only_when_the_effect_reaches_the_critical_threshold() {
        let r = label(&HIGHER, &CONTROL, r#""critical": true"#);
        assert!(r.critical && r.label == Label::High);
        assert_eq!(r.reason.as_deref(), Some("The metric m was classified as High (Critical)"));
        let r = label(&HIGHER, &CONTROL, r#""critical": true, "effectSize": {"criticalIncrease": 3}"#);
        assert!(!r.critical && r.label == Label::High);
    }

    #[test]
    fn no_data_depends_on_nan_strategy_must_have_data_and_critical() {
        let nan = [f64::NAN, f64::NAN];
        assert_eq!(label(&nan, &CONTROL, "").label, Label::Nodata);
        assert!(!label(&nan, &CONTROL, "").critical);
        assert_eq!(label(&[], &CONTROL, r#""mustHaveData": true"#).label, Label::NodataFailMetric);
        let r = label(&[], &CONTROL, r#""mustHaveData": true, "critical": true"#);
        assert!(r.label == Label::Nodata && r.critical);
        // replace: NaN are zeros, so there is data; an empty series passes.
        assert_eq!(label(&[], &CONTROL, r#""nanStrategy": "replace""#).label, Label::Pass);
        assert_eq!(label(&nan, &[5.0, 6.0, 7.0], r#""nanStrategy": "replace""#).label, Label::Low);
    }

    #[test]
    fn identical_or_single_valued_data_passes() {
        let r = label(&[3.0, 1.0, 2.0], &[1.0, 2.0, 3.0], "");
        assert_eq!((r.label, r.reason.as_deref()), (Label::Pass, Some("The canary and baseline data are identical")));
        assert_eq!(label(&[2.0, 2.0], &[2.0], "").label, Label::Pass);
    }

    #[test]
    fn two_constant_series_get_reproducible_noise_and_are_compared() {
        let a = label(&[10.0; 20], &[5.0; 20], "");
        assert_eq!(a.label, Label::High);
        assert_eq!(a, label(&[10.0; 20], &[5.0; 20], ""), "the same data, the same verdict");
        assert_eq!(label(&[5.0; 20], &[10.0; 20], "").label, Label::Low);
    }

    #[test]
    fn outliers_are_removed_only_when_asked() {
        // One huge spike in an otherwise equal canary.
        let mut canary: Vec<f64> = CONTROL.to_vec();
        canary[0] = 1e6;
        canary.push(1e6);
        assert_eq!(label(&canary, &CONTROL, r#""outliers": {"strategy": "remove"}"#).label, Label::Pass);
    }

    #[test]
    fn infinite_values_are_an_error() {
        assert_eq!(label(&[f64::INFINITY, 1.0], &[1.0, 2.0], "").label, Label::Error);
    }
}

//! The judge's settings: the condition expression, a JSON object.
//!
//! Kayenta splits these between the canary config (per metric: `analysisConfigurations.canary`,
//! `groups`; `classifier.groupWeights`) and the request (`scoreThresholds`). Here they are all in
//! the expression the template author writes, so that the provider only has to return the data
//! and a template says everything about how it is judged. Every field is checked; an unknown
//! field or a bad value is an error naming the field (Kayenta silently falls back to a default
//! for an unknown `direction` or `nanStrategy`: a typo must not change a verdict here).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::Error;

/// Which verdict makes the condition true.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The score is at least `pass` (Kayenta's Pass): use in `successCondition`.
    Pass,
    /// The score is at least `marginal` and below `pass` (Kayenta's Marginal).
    Marginal,
    /// The score is below `marginal` (Kayenta's Fail): use in `failureCondition`.
    Fail,
}

/// Which change of a metric counts against the canary (Kayenta's `direction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Only an increase is bad (latency, errors).
    Increase,
    /// Only a decrease is bad (throughput, success rate).
    Decrease,
    /// Both are (Kayenta's default).
    Either,
}

/// What to do with NaN (and `null`) points (Kayenta's `nanStrategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NanStrategy {
    /// Drop them (default): a series of NaN only is no data.
    Remove,
    /// Count them as 0 (for counters that report nothing when nothing happened).
    Replace,
}

/// How the size of a change is measured (Kayenta's `effectSize.measure`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum EffectMeasure {
    /// Mean of the canary over mean of the baseline (default).
    #[serde(rename = "meanRatio")]
    MeanRatio,
    /// Common-language effect size: probability that a canary value exceeds a baseline value.
    #[serde(rename = "cles")]
    Cles,
}

/// Kayenta's `outliers.strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutlierStrategy {
    /// Keep every point (default).
    Keep,
    /// Remove points outside the IQR fences ([`crate::stats::outliers`]).
    Remove,
}

/// `effectSize`, as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EffectSizeSettings {
    /// `meanRatio` or `cles`.
    pub measure: Option<EffectMeasure>,
    /// A significant increase is High only if the effect is at least this.
    pub allowed_increase: Option<f64>,
    /// A significant decrease is Low only if the effect is at most this.
    pub allowed_decrease: Option<f64>,
    /// A critical metric fails the canary on High only if the effect is at least this.
    pub critical_increase: Option<f64>,
    /// A critical metric fails the canary on Low only if the effect is at most this.
    pub critical_decrease: Option<f64>,
}

/// `outliers`, as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OutlierSettings {
    /// `keep` or `remove`.
    pub strategy: Option<OutlierStrategy>,
    /// The IQR factor (default 3).
    pub outlier_factor: Option<f64>,
}

/// One metric's analysis settings as written (Kayenta's `analysisConfigurations.canary`, plus
/// `groups`); every field optional, a metric's own entry overriding the top-level defaults field
/// by field.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MetricSettings {
    /// `increase`, `decrease` or `either`.
    pub direction: Option<Direction>,
    /// `remove` or `replace`.
    pub nan_strategy: Option<NanStrategy>,
    /// A critical metric that is not Pass fails the whole canary (score 0).
    pub critical: Option<bool>,
    /// No data counts as a failed metric (`NodataFailMetric`) instead of being left out.
    pub must_have_data: Option<bool>,
    /// Classified but left out of the score.
    pub muted: Option<bool>,
    /// The groups the metric is scored in (default: one group named after the metric).
    pub groups: Option<Vec<String>>,
    /// Effect-size thresholds.
    pub effect_size: Option<EffectSizeSettings>,
    /// Outlier removal.
    pub outliers: Option<OutlierSettings>,
}

/// The expression as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Written {
    is: Option<Outcome>,
    pass: Option<f64>,
    marginal: Option<f64>,
    confidence: Option<f64>,
    tolerance: Option<f64>,
    group_weights: Option<BTreeMap<String, f64>>,
    metrics: Option<BTreeMap<String, MetricSettings>>,
    // Defaults for every metric (the fields of MetricSettings that make sense for all).
    direction: Option<Direction>,
    nan_strategy: Option<NanStrategy>,
    critical: Option<bool>,
    must_have_data: Option<bool>,
    effect_size: Option<EffectSizeSettings>,
    outliers: Option<OutlierSettings>,
}

/// The confidence level NetflixACAJudge gives its Mann–Whitney classifier.
pub const DEFAULT_CONFIDENCE: f64 = 0.98;
/// The fraction of the estimate that bounds a significant shift in NetflixACAJudge.
pub const DEFAULT_TOLERANCE: f64 = 0.25;
/// The IQR factor of Kayenta's outlier removal.
pub const DEFAULT_OUTLIER_FACTOR: f64 = 3.0;

/// Validated settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Which verdict makes the condition true.
    pub is: Outcome,
    /// Scores at or above this pass.
    pub pass: f64,
    /// Scores at or above this (and below `pass`) are marginal; below it, the canary fails.
    pub marginal: f64,
    /// Confidence level of the interval (Kayenta: 0.98).
    pub confidence: f64,
    /// A shift is significant when the interval excludes `±tolerance |estimate|` (Kayenta: 0.25).
    pub tolerance: f64,
    /// Weights of the groups, out of 100; groups without one share what is left.
    pub group_weights: BTreeMap<String, f64>,
    /// Defaults for every metric.
    pub defaults: MetricSettings,
    /// Per-metric settings.
    pub metrics: BTreeMap<String, MetricSettings>,
}

/// One metric's settings, resolved with Kayenta's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricConfig {
    /// Which change counts against the canary.
    pub direction: Direction,
    /// NaN handling.
    pub nan_strategy: NanStrategy,
    /// Critical metric.
    pub critical: bool,
    /// No data fails the metric.
    pub must_have_data: bool,
    /// Left out of the score.
    pub muted: bool,
    /// Scoring groups.
    pub groups: Vec<String>,
    /// Effect-size measure.
    pub measure: EffectMeasure,
    /// (allowed decrease, allowed increase).
    pub allowed: (f64, f64),
    /// (critical decrease, critical increase).
    pub critical_effect: (f64, f64),
    /// The IQR factor when outliers are removed.
    pub outlier_factor: Option<f64>,
}

fn invalid(field: &str, reason: impl std::fmt::Display) -> Error {
    Error::Settings(format!("field {field}: {reason}"))
}

/// An example to show in errors.
const EXAMPLE: &str = r#"{"is": "pass", "pass": 95, "marginal": 75}"#;

impl Settings {
    /// Parses and validates the expression.
    pub fn parse(expression: &str) -> Result<Settings, Error> {
        let not_an_object = |e: &dyn std::fmt::Display| {
            Error::Settings(format!(
                "the condition must be a JSON object of the judge's settings, such as {EXAMPLE}: {e}"
            ))
        };
        let mut de = serde_json::Deserializer::from_str(expression);
        let written: Written = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.is_syntax() || inner.is_eof() || (path == "." && inner.to_string().starts_with("invalid type")) {
                not_an_object(&inner)
            } else if path == "." {
                Error::Settings(inner.to_string())
            } else {
                invalid(&path, inner)
            }
        })?;
        de.end().map_err(|e| not_an_object(&e))?;
        let is = written
            .is
            .ok_or_else(|| invalid("is", format!("missing: \"pass\", \"marginal\" or \"fail\" (e.g. {EXAMPLE})")))?;
        // Required, as Kayenta's scoreThresholds are: a gate's thresholds are never implicit.
        let pass = written.pass.ok_or_else(|| {
            invalid(
                "pass",
                format!("missing: the score out of 100 at or above which the canary passes (e.g. {EXAMPLE})"),
            )
        })?;
        let marginal = written.marginal.ok_or_else(|| {
            invalid("marginal", format!("missing: the score out of 100 below which the canary fails (e.g. {EXAMPLE})"))
        })?;
        for (field, v) in [("pass", pass), ("marginal", marginal)] {
            if !(0.0..=100.0).contains(&v) {
                return Err(invalid(field, format!("must be a score between 0 and 100, got {v}")));
            }
        }
        if marginal > pass {
            return Err(invalid("marginal", format!("must not exceed pass ({pass}), got {marginal}")));
        }
        let confidence = written.confidence.unwrap_or(DEFAULT_CONFIDENCE);
        if !(confidence > 0.0 && confidence < 1.0) {
            return Err(invalid("confidence", format!("must be between 0 and 1 (exclusive), got {confidence}")));
        }
        let tolerance = written.tolerance.unwrap_or(DEFAULT_TOLERANCE);
        if !(tolerance.is_finite() && tolerance >= 0.0) {
            return Err(invalid("tolerance", format!("must be a number of at least 0, got {tolerance}")));
        }
        let group_weights = written.group_weights.unwrap_or_default();
        for (group, w) in &group_weights {
            if !(w.is_finite() && *w >= 0.0) {
                return Err(invalid(&format!("groupWeights.{group}"), format!("must be at least 0, got {w}")));
            }
        }
        let total: f64 = group_weights.values().sum();
        if total > 100.0 + 1e-9 {
            return Err(invalid("groupWeights", format!("the weights are out of 100 and add up to {total}")));
        }
        let defaults = MetricSettings {
            direction: written.direction,
            nan_strategy: written.nan_strategy,
            critical: written.critical,
            must_have_data: written.must_have_data,
            muted: None,
            groups: None,
            effect_size: written.effect_size,
            outliers: written.outliers,
        };
        validate_metric("", &defaults)?;
        let metrics = written.metrics.unwrap_or_default();
        for (name, m) in &metrics {
            validate_metric(&format!("metrics.{name}."), m)?;
        }
        Ok(Settings { is, pass, marginal, confidence, tolerance, group_weights, defaults, metrics })
    }

    /// The settings of metric `name`: its own entry, else the top-level defaults, else Kayenta's.
    pub fn metric(&self, name: &str) -> MetricConfig {
        let own = self.metrics.get(name).cloned().unwrap_or_default();
        let d = &self.defaults;
        let effect = |f: fn(&EffectSizeSettings) -> Option<f64>| {
            own.effect_size.as_ref().and_then(f).or_else(|| d.effect_size.as_ref().and_then(f))
        };
        let measure = own
            .effect_size
            .as_ref()
            .and_then(|e| e.measure)
            .or_else(|| d.effect_size.as_ref().and_then(|e| e.measure))
            .unwrap_or(EffectMeasure::MeanRatio);
        // Kayenta: 1.0 for the mean ratio (no change), 0.5 for CLES (no change).
        let neutral = match measure {
            EffectMeasure::MeanRatio => 1.0,
            EffectMeasure::Cles => 0.5,
        };
        let outliers = |f: fn(&OutlierSettings) -> Option<OutlierStrategy>| {
            own.outliers.as_ref().and_then(f).or_else(|| d.outliers.as_ref().and_then(f))
        };
        let strategy = outliers(|o| o.strategy).unwrap_or(OutlierStrategy::Keep);
        let factor = own
            .outliers
            .as_ref()
            .and_then(|o| o.outlier_factor)
            .or_else(|| d.outliers.as_ref().and_then(|o| o.outlier_factor))
            .unwrap_or(DEFAULT_OUTLIER_FACTOR);
        MetricConfig {
            direction: own.direction.or(d.direction).unwrap_or(Direction::Either),
            nan_strategy: own.nan_strategy.or(d.nan_strategy).unwrap_or(NanStrategy::Remove),
            critical: own.critical.or(d.critical).unwrap_or(false),
            must_have_data: own.must_have_data.or(d.must_have_data).unwrap_or(false),
            muted: own.muted.unwrap_or(false),
            groups: own.groups.clone().unwrap_or_else(|| vec![name.to_string()]),
            measure,
            allowed: (
                effect(|e| e.allowed_decrease).unwrap_or(neutral),
                effect(|e| e.allowed_increase).unwrap_or(neutral),
            ),
            critical_effect: (
                effect(|e| e.critical_decrease).unwrap_or(neutral),
                effect(|e| e.critical_increase).unwrap_or(neutral),
            ),
            outlier_factor: (strategy == OutlierStrategy::Remove).then_some(factor),
        }
    }
}

fn validate_metric(prefix: &str, m: &MetricSettings) -> Result<(), Error> {
    if let Some(e) = &m.effect_size {
        for (field, v) in [
            ("allowedIncrease", e.allowed_increase),
            ("allowedDecrease", e.allowed_decrease),
            ("criticalIncrease", e.critical_increase),
            ("criticalDecrease", e.critical_decrease),
        ] {
            if let Some(v) = v
                && !(v.is_finite() && v >= 0.0)
            {
                return Err(invalid(&format!("{prefix}effectSize.{field}"), format!("must be at least 0, got {v}")));
            }
        }
    }
    if let Some(f) = m.outliers.as_ref().and_then(|o| o.outlier_factor)
        && !(f.is_finite() && f > 0.0)
    {
        return Err(invalid(&format!("{prefix}outliers.outlierFactor"), format!("must be greater than 0, got {f}")));
    }
    if let Some(groups) = &m.groups {
        if groups.is_empty() {
            return Err(invalid(&format!("{prefix}groups"), "must name at least one group"));
        }
        if let Some(g) = groups.iter().find(|g| g.is_empty()) {
            return Err(invalid(&format!("{prefix}groups"), format!("a group name is empty: {g:?}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(expression: &str) -> String {
        Settings::parse(expression).unwrap_err().to_string()
    }

    #[test]
    fn defaults_are_kayentas() {
        let s = Settings::parse(r#"{"is": "pass", "pass": 95, "marginal": 75}"#).unwrap();
        assert_eq!((s.pass, s.marginal, s.confidence, s.tolerance), (95.0, 75.0, 0.98, 0.25));
        let m = s.metric("latency");
        assert_eq!(m.direction, Direction::Either);
        assert_eq!(m.nan_strategy, NanStrategy::Remove);
        assert_eq!(m.groups, vec!["latency".to_string()]);
        assert_eq!((m.allowed, m.critical_effect), ((1.0, 1.0), (1.0, 1.0)));
        assert_eq!(m.outlier_factor, None);
        assert!(!m.critical && !m.must_have_data && !m.muted);
    }

    #[test]
    fn a_metric_entry_overrides_the_defaults_field_by_field() {
        let s = Settings::parse(
            r#"{"is": "fail", "pass": 95, "marginal": 75, "direction": "increase", "effectSize": {"allowedIncrease": 1.1},
                "outliers": {"strategy": "remove"},
                "metrics": {"errors": {"critical": true, "effectSize": {"criticalIncrease": 2}, "groups": ["g"]},
                            "cpu": {"effectSize": {"measure": "cles"}, "direction": "either"}}}"#,
        )
        .unwrap();
        let errors = s.metric("errors");
        assert_eq!(errors.direction, Direction::Increase);
        assert!(errors.critical);
        assert_eq!(errors.allowed, (1.0, 1.1));
        assert_eq!(errors.critical_effect, (1.0, 2.0));
        assert_eq!(errors.groups, vec!["g".to_string()]);
        assert_eq!(errors.outlier_factor, Some(3.0));
        let cpu = s.metric("cpu");
        assert_eq!(cpu.direction, Direction::Either);
        assert_eq!(cpu.measure, EffectMeasure::Cles);
        assert_eq!(cpu.allowed, (0.5, 1.1));
        assert_eq!(cpu.critical_effect, (0.5, 0.5));
    }

    #[test]
    fn bad_settings_name_their_field() {
        assert!(
            err("result > 0.5").contains("must be a JSON object of the judge's settings"),
            "{}",
            err("result > 0.5")
        );
        assert!(err(r#"{"pass": 95}"#).contains("field is: missing"));
        assert!(
            err(r#"{"is": "maybe"}"#).contains("field is: unknown variant `maybe`"),
            "{}",
            err(r#"{"is": "maybe"}"#)
        );
        assert!(
            err(r#"{"is": "pass", "pass": 120, "marginal": 75}"#)
                .contains("field pass: must be a score between 0 and 100, got 120")
        );
        assert!(err(r#"{"is": "pass", "pass": 50, "marginal": 60}"#).contains("field marginal: must not exceed pass"));
        assert!(err(r#"{"is": "pass", "pass": 95, "marginal": 75, "confidence": 1}"#).contains("field confidence"));
        assert!(err(r#"{"is": "pass", "pass": 95, "marginal": 75, "tolerance": -1}"#).contains("field tolerance"));
        assert!(err(r#"{"is": "pass", "pass": 95, "marginal": 75, "passs": 95}"#).contains("unknown field `passs`"));
        let e = err(r#"{"is": "pass", "pass": 95, "marginal": 75, "metrics": {"latency": {"direction": "up"}}}"#);
        assert!(e.contains("field metrics.latency.direction: unknown variant `up`"), "{e}");
        let e = err(r#"{"is": "pass", "pass": 95, "marginal": 75, "metrics": {"latency": {"weight": 3}}}"#);
        assert!(e.contains("field metrics.latency.weight: unknown field `weight`"), "{e}");
        let e = err(
            r#"{"is": "pass", "pass": 95, "marginal": 75, "metrics": {"l": {"effectSize": {"allowedIncrease": -1}}}}"#,
        );
        assert!(e.contains("field metrics.l.effectSize.allowedIncrease: must be at least 0"), "{e}");
        let e = err(
            r#"{"is": "pass", "pass": 95, "marginal": 75, "outliers": {"strategy": "remove", "outlierFactor": 0}}"#,
        );
        assert!(e.contains("field outliers.outlierFactor: must be greater than 0"), "{e}");
        let e = err(r#"{"is": "pass", "pass": 95, "marginal": 75, "groupWeights": {"a": 60, "b": 50}}"#);
        assert!(e.contains("field groupWeights: the weights are out of 100 and add up to 110"), "{e}");
        assert!(
            err(r#"{"is": "pass", "pass": 95, "marginal": 75, "metrics": {"l": {"groups": []}}}"#)
                .contains("field metrics.l.groups")
        );
        assert!(err(r#"{"is": "pass", "pass": 95, "marginal": 75} x"#).contains("must be a JSON object"));
        assert!(err(r#"{"is": "pass", "marginal": 75}"#).contains("field pass: missing: the score out of 100"));
        assert!(err(r#"{"is": "fail", "pass": 95}"#).contains("field marginal: missing"));
    }
}

//! The measured value: the canary and baseline series the judge compares.
//!
//! ```text
//! {"canary": [1.2, 1.3, ...], "baseline": [1.1, 1.2, ...]}          one metric, named "result"
//! {"metrics": {"latency": {"canary": [...], "baseline": [...]},
//!              "errors":  {"canary": [...], "baseline": [...]}}}    several, scored together
//! ```
//!
//! A point is a number (NaN and ±Infinity included, as the plugin boundary carries them) or
//! `null`, which is a missing point like NaN (Prometheus and Graphite leave gaps). A series that
//! is `null` is empty. Other keys of the value are ignored, so a provider may add what it likes
//! (the queries it ran, the window).
//!
//! The value carries data only. How a metric is judged (direction, weight, criticality) is the
//! template author's decision and lives in the condition ([`crate::settings`]), as Kayenta keeps
//! it in the canary config rather than in the metric data: the same provider can then feed
//! templates that judge it differently, and the stored measurement holds what was measured.

use std::collections::BTreeMap;

use aviary_plugin_sdk::Value;

use crate::Error;

/// The name of the metric of the single-metric form.
pub const SINGLE: &str = "result";

/// One metric's two series.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    /// The canary's points (Kayenta's experiment).
    pub canary: Vec<f64>,
    /// The baseline's points (Kayenta's control).
    pub baseline: Vec<f64>,
}

/// Reads the metrics of a measured value.
pub fn parse(value: &Value) -> Result<BTreeMap<String, Series>, Error> {
    let shape = || {
        Error::Value(format!(
            "expected {{\"canary\": [...], \"baseline\": [...]}} or {{\"metrics\": {{NAME: {{\"canary\": [...], \
             \"baseline\": [...]}}}}}}, got {}",
            kind(value)
        ))
    };
    let Value::Object(top) = value else { return Err(shape()) };
    match top.get("metrics") {
        Some(metrics) => {
            if top.contains_key("canary") || top.contains_key("baseline") {
                return Err(Error::Value(
                    "has both metrics and canary/baseline: give one metric as canary/baseline, or several under metrics"
                        .into(),
                ));
            }
            let Value::Object(metrics) = metrics else {
                return Err(Error::Value(format!(
                    "field metrics: expected an object of metrics by name, got {}",
                    kind(metrics)
                )));
            };
            metrics.iter().map(|(name, m)| Ok((name.clone(), series(&format!("metrics.{name}."), m)?))).collect()
        }
        None if top.contains_key("canary") || top.contains_key("baseline") => {
            Ok(BTreeMap::from([(SINGLE.to_string(), series("", value)?)]))
        }
        None => Err(shape()),
    }
}

fn series(prefix: &str, v: &Value) -> Result<Series, Error> {
    let Value::Object(o) = v else {
        return Err(Error::Value(format!(
            "field {}: expected an object with canary and baseline, got {}",
            prefix.trim_end_matches('.'),
            kind(v)
        )));
    };
    let points = |key: &str| -> Result<Vec<f64>, Error> {
        let field = format!("{prefix}{key}");
        match o.get(key) {
            None => Err(Error::Value(format!("field {field}: missing (an array of numbers)"))),
            Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, p)| match p {
                    Value::Number(n) => Ok(*n),
                    Value::Null => Ok(f64::NAN),
                    other => {
                        Err(Error::Value(format!("field {field}[{i}]: expected a number or null, got {}", kind(other))))
                    }
                })
                .collect(),
            Some(other) => {
                Err(Error::Value(format!("field {field}: expected an array of numbers, got {}", kind(other))))
            }
        }
    };
    Ok(Series { canary: points("canary")?, baseline: points("baseline")? })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<BTreeMap<String, Series>, String> {
        parse(&Value::parse(text).unwrap()).map_err(|e| e.to_string())
    }

    #[test]
    fn one_metric_or_several() {
        let one = read(r#"{"canary": [1, null, NaN], "baseline": [2], "query": "ignored"}"#).unwrap();
        assert_eq!(one.len(), 1);
        let s = &one["result"];
        assert_eq!(s.canary.len(), 3);
        assert!(s.canary[1].is_nan() && s.canary[2].is_nan());
        assert_eq!(s.baseline, vec![2.0]);
        let two =
            read(r#"{"metrics": {"a": {"canary": [1], "baseline": null}, "b": {"canary": [], "baseline": [3]}}}"#)
                .unwrap();
        assert_eq!(two.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert!(two["a"].baseline.is_empty());
    }

    #[test]
    fn a_malformed_value_names_the_field() {
        assert!(read("[1, 2]").unwrap_err().contains("expected {\"canary\": [...]"));
        assert!(read(r#"{"canary": [1]}"#).unwrap_err().contains("field baseline: missing"));
        assert!(
            read(r#"{"canary": [1, "2"], "baseline": []}"#)
                .unwrap_err()
                .contains("field canary[1]: expected a number or null, got a string")
        );
        assert!(
            read(r#"{"metrics": {"a": {"canary": 1, "baseline": []}}}"#)
                .unwrap_err()
                .contains("field metrics.a.canary: expected an array")
        );
        assert!(read(r#"{"metrics": {"a": [1]}}"#).unwrap_err().contains("field metrics.a: expected an object"));
        assert!(read(r#"{"metrics": [], "canary": []}"#).unwrap_err().contains("both metrics and canary"));
        assert!(read(r#"{"metrics": []}"#).unwrap_err().contains("field metrics: expected an object"));
    }
}

//! Argo's `metricDataQueries` → the GetMetricData input of the JSON 1.0 protocol, checked the way
//! CloudWatch would refuse them, but before a call, with the field named.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aviary_plugin_sdk::duration::parse_go_duration;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::Config;

/// Argo's default window.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);

/// One query, as Argo's `CloudWatchMetricDataQuery`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricDataQuery {
    /// The query's id (how expressions refer to it).
    #[serde(default)]
    pub id: String,
    /// A metric math expression.
    #[serde(default)]
    pub expression: Option<String>,
    /// A label for the result.
    #[serde(default)]
    pub label: Option<String>,
    /// The metric and statistic.
    #[serde(default)]
    pub metric_stat: Option<MetricStat>,
    /// The period of an expression's result (an int or a string of digits, as Argo's
    /// IntOrString).
    #[serde(default)]
    pub period: Option<Value>,
    /// Whether the result is returned.
    #[serde(default)]
    pub return_data: Option<bool>,
}

/// Argo's `CloudWatchMetricStat`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricStat {
    /// The metric.
    #[serde(default)]
    pub metric: Metric,
    /// The period in seconds (IntOrString).
    #[serde(default)]
    pub period: Option<Value>,
    /// The statistic (`Sum`, `Average`, `p99`, ...).
    #[serde(default)]
    pub stat: String,
    /// The unit (`Count`, `Percent`, ...).
    #[serde(default)]
    pub unit: String,
}

/// Argo's `CloudWatchMetricStatMetric`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metric {
    /// Dimensions.
    #[serde(default)]
    pub dimensions: Vec<Dimension>,
    /// The metric's name.
    #[serde(default)]
    pub metric_name: String,
    /// The metric's namespace.
    #[serde(default)]
    pub namespace: Option<String>,
}

/// A dimension.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Dimension {
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Value.
    #[serde(default)]
    pub value: String,
}

/// A validated GetMetricData query: the window and the queries as the API spells them.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    interval: Duration,
    queries: Vec<Value>,
}

impl Query {
    /// Checks the config; the error names the field.
    pub fn new(config: &Config) -> Result<Self, String> {
        let interval = if config.interval.is_empty() {
            DEFAULT_INTERVAL
        } else {
            let nanos = parse_go_duration(&config.interval).map_err(|e| format!("interval: {e}"))?;
            u64::try_from(nanos)
                .ok()
                .filter(|n| *n > 0)
                .map(Duration::from_nanos)
                .ok_or_else(|| format!("interval: {:?} must be a positive duration", config.interval))?
        };
        if config.metric_data_queries.is_empty() {
            return Err("metricDataQueries: at least one query is required".into());
        }
        let queries = config
            .metric_data_queries
            .iter()
            .enumerate()
            .map(|(i, q)| api_query(q, &format!("metricDataQueries[{i}]")))
            .collect::<Result<_, _>>()?;
        Ok(Self { interval, queries })
    }

    /// The window.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The JSON 1.0 input for the window ending at `now` (epoch seconds, as the protocol writes
    /// timestamps).
    pub fn body(&self, now: SystemTime) -> Value {
        let end = now.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs();
        let start = end.saturating_sub(self.interval.as_secs());
        json!({"StartTime": start, "EndTime": end, "MetricDataQueries": self.queries})
    }
}

/// One query as the API spells it (PascalCase, absent fields left out).
fn api_query(q: &MetricDataQuery, at: &str) -> Result<Value, String> {
    if q.id.is_empty() {
        return Err(format!("{at}.id is required"));
    }
    let expression = q.expression.as_deref().filter(|e| !e.is_empty());
    if expression.is_some() == q.metric_stat.is_some() {
        return Err(format!("{at} ({}) needs exactly one of expression and metricStat", q.id));
    }
    let mut out = Map::new();
    out.insert("Id".into(), q.id.clone().into());
    if let Some(e) = expression {
        out.insert("Expression".into(), e.into());
    }
    if let Some(label) = &q.label {
        out.insert("Label".into(), label.clone().into());
    }
    if let Some(stat) = &q.metric_stat {
        out.insert("MetricStat".into(), api_metric_stat(stat, &format!("{at}.metricStat"))?);
    }
    if let Some(p) = &q.period {
        out.insert("Period".into(), period(p, &format!("{at}.period"))?.into());
    }
    if let Some(r) = q.return_data {
        out.insert("ReturnData".into(), r.into());
    }
    Ok(Value::Object(out))
}

fn api_metric_stat(s: &MetricStat, at: &str) -> Result<Value, String> {
    if s.metric.metric_name.is_empty() {
        return Err(format!("{at}.metric.metricName is required"));
    }
    if s.stat.is_empty() {
        return Err(format!("{at}.stat is required (Sum, Average, Maximum, p99, ...)"));
    }
    let p = s.period.as_ref().ok_or_else(|| format!("{at}.period is required (seconds)"))?;
    let mut metric = Map::new();
    if let Some(ns) = &s.metric.namespace {
        metric.insert("Namespace".into(), ns.clone().into());
    }
    metric.insert("MetricName".into(), s.metric.metric_name.clone().into());
    if !s.metric.dimensions.is_empty() {
        let dims: Vec<Value> = s.metric.dimensions.iter().map(|d| json!({"Name": d.name, "Value": d.value})).collect();
        metric.insert("Dimensions".into(), dims.into());
    }
    let mut out = Map::new();
    out.insert("Metric".into(), Value::Object(metric));
    out.insert("Period".into(), period(p, &format!("{at}.period"))?.into());
    out.insert("Stat".into(), s.stat.clone().into());
    if !s.unit.is_empty() {
        out.insert("Unit".into(), s.unit.clone().into());
    }
    Ok(Value::Object(out))
}

/// An IntOrString period in seconds.
fn period(v: &Value, at: &str) -> Result<i64, String> {
    let n = match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    n.filter(|n| *n > 0).ok_or_else(|| format!("{at}: {v} is not a positive number of seconds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(queries: Value) -> Config {
        serde_json::from_value(json!({"interval": "30m", "metricDataQueries": queries})).unwrap()
    }

    #[test]
    fn argos_documented_template_becomes_the_api_input() {
        let c = config(json!([
            {"id": "rate", "expression": "errors / requests"},
            {"id": "errors", "metricStat": {"metric": {"namespace": "app", "metricName": "errors",
                "dimensions": [{"name": "Service", "value": "checkout"}]},
                "period": 300, "stat": "Sum", "unit": "Count"}, "returnData": false},
            {"id": "requests", "metricStat": {"metric": {"namespace": "app", "metricName": "requests"},
                "period": "300", "stat": "Sum"}, "returnData": false, "label": "all"},
        ]));
        let q = Query::new(&c).unwrap();
        let body = q.body(UNIX_EPOCH + Duration::from_secs(1_735_689_600));
        assert_eq!(body["StartTime"], 1_735_689_600 - 1800);
        assert_eq!(body["EndTime"], 1_735_689_600);
        assert_eq!(
            body["MetricDataQueries"],
            json!([
                {"Id": "rate", "Expression": "errors / requests"},
                {"Id": "errors", "MetricStat": {"Metric": {"Namespace": "app", "MetricName": "errors",
                    "Dimensions": [{"Name": "Service", "Value": "checkout"}]},
                    "Period": 300, "Stat": "Sum", "Unit": "Count"}, "ReturnData": false},
                {"Id": "requests", "Label": "all", "MetricStat": {"Metric": {"Namespace": "app",
                    "MetricName": "requests"}, "Period": 300, "Stat": "Sum"}, "ReturnData": false},
            ])
        );
    }

    #[test]
    fn the_default_window_is_five_minutes() {
        let mut c = config(json!([{"id": "a", "expression": "SELECT 1"}]));
        c.interval = String::new();
        assert_eq!(Query::new(&c).unwrap().interval(), Duration::from_secs(300));
    }

    #[test]
    fn bad_queries_name_the_field() {
        let err = |q: Value| Query::new(&config(q)).unwrap_err();
        assert_eq!(err(json!([])), "metricDataQueries: at least one query is required");
        assert_eq!(err(json!([{"expression": "a"}])), "metricDataQueries[0].id is required");
        assert_eq!(
            err(json!([{"id": "a"}])),
            "metricDataQueries[0] (a) needs exactly one of expression and metricStat"
        );
        assert_eq!(
            err(
                json!([{"id": "a", "expression": "x"}, {"id": "b", "metricStat": {"metric": {"metricName": "m"}, "stat": "Sum"}}])
            ),
            "metricDataQueries[1].metricStat.period is required (seconds)"
        );
        assert_eq!(
            err(json!([{"id": "a", "metricStat": {"metric": {"metricName": "m"}, "period": "5m", "stat": "Sum"}}])),
            "metricDataQueries[0].metricStat.period: \"5m\" is not a positive number of seconds"
        );
        let mut c = config(json!([{"id": "a", "expression": "x"}]));
        c.interval = "5 minutes".into();
        assert!(Query::new(&c).unwrap_err().starts_with("interval: time: "), "{:?}", Query::new(&c));
    }
}

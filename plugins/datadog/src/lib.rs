//! `aviary/datadog` (Argo's `datadog` provider): runs a Datadog metrics query over the last
//! `interval` and hands the number to the metric's conditions.
//!
//! Fields are Argo's: `apiVersion` (`v1`, the default, or `v2`), `query`, or `queries` with a
//! `formula` (v2), `interval` (default `5m`), `aggregator` (v2, default `last`) and
//! `requestTimeout` (default `10s`). Credentials never come from the template: the host resolves
//! Argo's `secretRef` (a Secret with `api-key`, `app-key` and optionally `address`) and adds them
//! to the config as `apiKey`, `appKey` and `address`; the plugin sends the keys as
//! `DD-API-KEY` / `DD-APPLICATION-KEY` and the host redacts them from every message.
//!
//! - v1: `GET {address}/api/v1/query?query=..&from=..&to=..` (seconds); the value is the last
//!   point of the first series that is not null.
//! - v2: `POST {address}/api/v2/query/scalar` with the queries, the formula and the aggregator;
//!   the value is the first number column's first value, or, for a query grouped `by {tag}`,
//!   the list of values, with the groups in the `groups` metadata (as Argo does).
//!
//! No data (an empty series, only nulls, no rows) is the value `null`, which is what Argo hands
//! its conditions, so `default(result, 0) < 1` passes and `result < 1` is an error. Unlike Argo,
//! a trailing null point is skipped rather than read as 0: a gap in the data must not look like a
//! perfect error rate. HTTP 429 is retried once within the call when Datadog asks to wait at most
//! [`MAX_RETRY_WAIT`]; otherwise it is an error saying how long Datadog asked to wait.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aviary_plugin_sdk::duration::parse_go_duration;
use aviary_plugin_sdk::{Context, Error, Measurement, Provider, Value, export_provider, http};
use serde::Deserialize;

/// Datadog's default site.
pub const DEFAULT_ADDRESS: &str = "https://api.datadoghq.com";
/// A 429 asking to wait longer than this is reported, not waited for: the next measurement
/// (Argo's `interval` later) is the retry.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(2);

/// The provider block, as Argo writes it, plus the credentials the host adds.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// The query window, a Go duration (`5m`).
    #[serde(default)]
    pub interval: String,
    /// One query.
    #[serde(default)]
    pub query: String,
    /// Named queries, combined by `formula` (v2).
    #[serde(default)]
    pub queries: BTreeMap<String, String>,
    /// A formula over `queries` (v2).
    #[serde(default)]
    pub formula: String,
    /// `v1` (default) or `v2`.
    #[serde(default)]
    pub api_version: String,
    /// v2 aggregator: avg, min, max, sum, last (default), percentile, mean, l2norm, area.
    #[serde(default)]
    pub aggregator: String,
    /// A Go duration (`30s`); default 10 s.
    #[serde(default)]
    pub request_timeout: Option<serde_json::Value>,
    /// Argo's Secret reference: resolved by the host, ignored here.
    #[serde(default)]
    pub secret_ref: Option<serde_json::Value>,
    /// Added by the host from the Secret: the site's address.
    #[serde(default)]
    pub address: String,
    /// Added by the host from the Secret.
    #[serde(default)]
    pub api_key: String,
    /// Added by the host from the Secret.
    #[serde(default)]
    pub app_key: String,
}

struct Datadog;

impl Provider for Datadog {
    type Config = Config;

    fn measure(_ctx: &Context, config: Config) -> Result<Measurement, Error> {
        let query = Query::new(&config).map_err(Error)?;
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let request = query.request(&config, now);
        let mut retried = false;
        loop {
            let response = match request.clone().send() {
                Ok(r) => r,
                Err(e) => {
                    let outcome = if e == http::Error::Timeout { "timeout" } else { "transport_error" };
                    return Ok(Measurement::error(format!(
                        "Datadog API request failed before receiving an HTTP response: {e}"
                    ))
                    .with_metadata("requestOutcome", outcome)
                    .with_metadata("responseReceived", "false"));
                }
            };
            let wait = (response.status == 429).then(|| retry_after(&response)).flatten();
            if let Some(wait) = wait
                && !retried
                && wait <= MAX_RETRY_WAIT
            {
                retried = true;
                std::thread::sleep(wait);
                continue;
            }
            let m = query.judge(&response, wait);
            return Ok(m
                .with_metadata("httpStatusCode", response.status.to_string())
                .with_metadata("responseReceived", "true"));
        }
    }
}

export_provider!(Datadog);

/// A validated query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    v2: bool,
    interval: u64,
    timeout: Duration,
    query: String,
    queries: BTreeMap<String, String>,
    formula: String,
    aggregator: String,
}

impl Query {
    /// Checks the config as Argo's `validateIncomingProps` does, with its messages.
    pub fn new(c: &Config) -> Result<Self, String> {
        let v2 = match c.api_version.as_str() {
            "" | "v1" => false,
            "v2" => true,
            other => return Err(format!("Invalid API version: {other}")),
        };
        if c.query.is_empty() && c.queries.is_empty() {
            return Err("Must have either a query or queries. Please review the Analysis Template.".into());
        }
        if !c.query.is_empty() && !c.queries.is_empty() {
            return Err("Cannot have both a query and queries. Please review the Analysis Template.".into());
        }
        if !v2 && c.query.is_empty() {
            return Err(
                "Query is empty. API Version v1 only supports using the query parameter in your Analysis Template."
                    .into(),
            );
        }
        if !c.formula.is_empty() && c.queries.is_empty() {
            return Err("Formula are only valid when queries are set. Please review the Analysis Template.".into());
        }
        if c.formula.is_empty() && c.queries.len() > 1 {
            return Err("When multiple queries are provided you must include a formula.".into());
        }
        if !v2 && !c.aggregator.is_empty() {
            return Err("Aggregator is not supported in v1. Please review the Analysis Template.".into());
        }
        if c.api_key.is_empty() || c.app_key.is_empty() {
            return Err("API or App token not found".into());
        }
        let interval = if c.interval.is_empty() { Duration::from_secs(300) } else { go_duration(&c.interval)? };
        let timeout = match &c.request_timeout {
            None | Some(serde_json::Value::Null) => Duration::from_secs(10),
            Some(serde_json::Value::String(s)) if s.is_empty() => Duration::from_secs(10),
            Some(serde_json::Value::String(s)) => {
                let t = go_duration(s).map_err(|e| {
                    format!("Could not parse the request timeout: {e}. Please review the Analysis Template.")
                })?;
                if t.is_zero() {
                    return Err(
                        "Request timeout must be a positive duration (e.g. 30s). Please review the Analysis Template."
                            .into(),
                    );
                }
                t
            }
            Some(other) => return Err(format!("requestTimeout {other} is not a duration such as 30s")),
        };
        Ok(Self {
            v2,
            interval: interval.as_secs(),
            timeout,
            query: c.query.clone(),
            queries: c.queries.clone(),
            formula: c.formula.clone(),
            aggregator: if c.aggregator.is_empty() { "last".into() } else { c.aggregator.clone() },
        })
    }

    /// The request for the window ending at `now` (Unix seconds).
    pub fn request(&self, c: &Config, now: u64) -> http::Request {
        let address = if c.address.is_empty() { DEFAULT_ADDRESS } else { c.address.trim_end_matches('/') };
        let from = now.saturating_sub(self.interval);
        let request = if self.v2 {
            http::Request::post(format!("{address}/api/v2/query/scalar")).body(self.body(from, now).to_string())
        } else {
            let params = form_urlencoded::Serializer::new(String::new())
                .append_pair("from", &from.to_string())
                .append_pair("query", &self.query)
                .append_pair("to", &now.to_string())
                .finish();
            http::Request::get(format!("{address}/api/v1/query?{params}"))
        };
        request
            .header("Content-Type", "application/json")
            .header("DD-API-KEY", &c.api_key)
            .header("DD-APPLICATION-KEY", &c.app_key)
            .timeout(self.timeout)
    }

    /// The v2 request body (milliseconds, as Datadog's v2 API wants).
    pub fn body(&self, from: u64, to: u64) -> serde_json::Value {
        let queries: BTreeMap<&str, &str> = if self.queries.is_empty() {
            BTreeMap::from([("query", self.query.as_str())])
        } else {
            self.queries.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
        };
        let queries: Vec<serde_json::Value> = queries
            .into_iter()
            .map(|(name, query)| {
                serde_json::json!({"aggregator": self.aggregator, "data_source": "metrics", "name": name, "query": query})
            })
            .collect();
        let formulas = if self.formula.is_empty() {
            serde_json::json!([])
        } else {
            serde_json::json!([{"formula": self.formula}])
        };
        serde_json::json!({"data": {"type": "scalar_request", "attributes": {
            "from": from * 1000, "to": to * 1000, "queries": queries, "formulas": formulas,
        }}})
    }

    /// The measurement a response gives; `retry_after` is set for a 429 that was not retried.
    pub fn judge(&self, response: &http::Response, retry_after: Option<Duration>) -> Measurement {
        let body = response.text();
        let http_error = |message: String| Measurement::error(message).with_metadata("requestOutcome", "http_error");
        match response.status {
            200 => {}
            401 | 403 => {
                return http_error(format!("received authentication error response code: {} {body}", response.status));
            }
            429 => {
                let mut m = format!("received non 2xx response code: 429 {body}");
                if let Some(wait) = retry_after {
                    m.push_str(&format!(" (rate limited: Datadog asks to retry after {}s)", wait.as_secs()));
                }
                return http_error(m);
            }
            status => return http_error(format!("received non 2xx response code: {status} {body}")),
        }
        let parsed: serde_json::Value = match serde_json::from_str(&body) {
            Ok(v) => v,
            Err(e) => {
                return Measurement::error(format!("Could not parse JSON body: {e}"))
                    .with_metadata("requestOutcome", "response_error");
            }
        };
        let result = if self.v2 { parse_v2(&parsed) } else { parse_v1(&parsed) };
        match result {
            Ok((value, groups)) => {
                let mut m = Measurement::measured(value).with_metadata("requestOutcome", "success");
                if let Some(groups) = groups {
                    m = m.with_metadata("groups", groups);
                }
                m
            }
            Err(e) => Measurement::error(e).with_metadata("requestOutcome", "response_error"),
        }
    }
}

/// v1: the last non-null point of the first series; no point at all is `null`.
fn parse_v1(body: &serde_json::Value) -> Result<(Value, Option<String>), String> {
    if let Some(error) = body.get("error").and_then(|e| e.as_str()).filter(|e| !e.is_empty()) {
        return Err(format!("There were errors in your query: {error}"));
    }
    let series = body.get("series").and_then(|s| s.as_array()).map(Vec::as_slice).unwrap_or_default();
    let Some(first) = series.first() else { return Ok((Value::Null, None)) };
    let points = first.get("pointlist").and_then(|p| p.as_array()).map(Vec::as_slice).unwrap_or_default();
    for point in points.iter().rev() {
        let pair = point.as_array().filter(|p| p.len() == 2).ok_or("Datapoint does not have 2 values")?;
        if let Some(v) = pair[1].as_f64() {
            return Ok((Value::Number(v), None));
        }
        if !pair[1].is_null() {
            return Err(format!("Datapoint value {} is not a number", pair[1]));
        }
    }
    Ok((Value::Null, None))
}

/// v2 scalar: the first number column; grouped queries give a list and their groups.
fn parse_v2(body: &serde_json::Value) -> Result<(Value, Option<String>), String> {
    let data = body.get("data").unwrap_or(&serde_json::Value::Null);
    let errors = match data.get("errors").or_else(|| body.get("errors")) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Array(a)) => {
            a.iter().map(|e| e.as_str().map_or(e.to_string(), str::to_string)).collect::<Vec<_>>().join("; ")
        }
        _ => String::new(),
    };
    if !errors.is_empty() {
        return Err(format!("There were errors in your query: {errors}"));
    }
    let columns = data.pointer("/attributes/columns").and_then(|c| c.as_array()).map(Vec::as_slice).unwrap_or_default();
    let kind = |c: &serde_json::Value| c.get("type").and_then(|t| t.as_str()).unwrap_or("").to_string();
    let number = columns.iter().find(|c| matches!(kind(c).as_str(), "" | "number"));
    let group_columns: Vec<&serde_json::Value> = columns.iter().filter(|c| kind(c) == "group").collect();
    let values = |c: &serde_json::Value| c.get("values").and_then(|v| v.as_array()).cloned().unwrap_or_default();
    let Some(number) = number else { return Ok((Value::Null, None)) };
    let mut out = Vec::new();
    let mut groups = Vec::new();
    for (i, v) in values(number).iter().enumerate() {
        if v.is_null() {
            continue;
        }
        let n = v.as_f64().ok_or_else(|| format!("could not parse numeric value {v} in column {}", number["name"]))?;
        out.push(n);
        if !group_columns.is_empty() {
            let mut label = Vec::new();
            for col in &group_columns {
                let tags = values(col).get(i).and_then(|t| t.as_array()).cloned().unwrap_or_default();
                if tags.is_empty() {
                    return Err(format!("could not parse group label at index {i}"));
                }
                label.extend(tags.iter().map(|t| t.as_str().map_or(t.to_string(), str::to_string)));
            }
            groups.push(serde_json::json!({"name": label.join(","), "value": n}));
        }
    }
    if group_columns.is_empty() {
        return Ok((out.first().map_or(Value::Null, |n| Value::Number(*n)), None));
    }
    let groups = serde_json::Value::Array(groups).to_string();
    Ok((Value::Array(out.into_iter().map(Value::Number).collect()), Some(groups)))
}

/// How long a 429 asks to wait: `Retry-After` (seconds), else Datadog's `X-RateLimit-Reset`.
fn retry_after(r: &http::Response) -> Option<Duration> {
    let seconds = r.header("retry-after").or_else(|| r.header("x-ratelimit-reset"))?;
    seconds.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// A Go duration (`300ms`, `10s`, `5m`, `1h30m`), read by Go's `time.ParseDuration`; a negative
/// one is refused: a window or a timeout cannot be negative.
pub fn go_duration(text: &str) -> Result<Duration, String> {
    let nanos = parse_go_duration(text).map_err(|e| e.to_string())?;
    u64::try_from(nanos).map(Duration::from_nanos).map_err(|_| format!("time: invalid duration \"{text}\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: serde_json::Value) -> Config {
        let mut c: Config = serde_json::from_value(json).unwrap();
        c.api_key = "k".into();
        c.app_key = "a".into();
        c
    }

    #[test]
    fn configs_are_validated_with_argos_messages() {
        let err = |j| Query::new(&config(j)).unwrap_err();
        assert!(err(serde_json::json!({})).starts_with("Must have either a query or queries"));
        assert!(err(serde_json::json!({"query": "q", "queries": {"a": "q"}})).starts_with("Cannot have both"));
        assert!(err(serde_json::json!({"queries": {"a": "q"}})).starts_with("Query is empty. API Version v1"));
        assert!(
            err(serde_json::json!({"apiVersion": "v2", "queries": {"a": "q", "b": "r"}}))
                .starts_with("When multiple queries")
        );
        assert!(
            err(serde_json::json!({"query": "q", "aggregator": "sum"}))
                .starts_with("Aggregator is not supported in v1")
        );
        assert_eq!(err(serde_json::json!({"query": "q", "apiVersion": "v3"})), "Invalid API version: v3");
        let no_keys = Query::new(&serde_json::from_value(serde_json::json!({"query": "q"})).unwrap()).unwrap_err();
        assert_eq!(no_keys, "API or App token not found");
    }

    #[test]
    fn the_v2_body_carries_queries_formula_window_and_aggregator() {
        let c = config(serde_json::json!({
            "apiVersion": "v2", "interval": "1m", "formula": "a / b * 100",
            "queries": {"b": "sum:hits{*}.as_count()", "a": "sum:errors{*}.as_count()"}
        }));
        let q = Query::new(&c).unwrap();
        let body = q.body(1_000, 1_060);
        let attrs = &body["data"]["attributes"];
        assert_eq!(body["data"]["type"], "scalar_request");
        assert_eq!((attrs["from"].as_u64(), attrs["to"].as_u64()), (Some(1_000_000), Some(1_060_000)));
        assert_eq!(attrs["formulas"], serde_json::json!([{"formula": "a / b * 100"}]));
        assert_eq!(attrs["queries"][0]["name"], "a");
        assert_eq!(attrs["queries"][0]["aggregator"], "last");
        assert_eq!(attrs["queries"][1]["data_source"], "metrics");
    }

    #[test]
    fn v1_takes_the_last_point_that_is_not_null() {
        let v = |j| parse_v1(&j).map(|(v, _)| v);
        assert_eq!(
            v(serde_json::json!({"series": [{"pointlist": [[1, 0.5], [2, 0.7], [3, null]]}]})),
            Ok(Value::Number(0.7))
        );
        assert_eq!(v(serde_json::json!({"series": []})), Ok(Value::Null));
        assert_eq!(v(serde_json::json!({"series": [{"pointlist": [[1, null]]}]})), Ok(Value::Null));
        assert!(v(serde_json::json!({"series": [{"pointlist": [[1]]}]})).is_err());
    }

    #[test]
    fn v2_reads_scalars_groups_and_skips_nulls() {
        let scalar = serde_json::json!({"data": {"attributes": {"columns": [{"name": "a", "type": "number", "values": [0.25]}]}}});
        assert_eq!(parse_v2(&scalar), Ok((Value::Number(0.25), None)));
        let grouped = serde_json::json!({"data": {"attributes": {"columns": [
            {"name": "region", "type": "group", "values": [["eu"], ["us"], ["ap"]]},
            {"name": "a", "type": "number", "values": [1.0, null, 3.0]}]}}});
        let (v, groups) = parse_v2(&grouped).unwrap();
        assert_eq!(v, Value::Array(vec![Value::Number(1.0), Value::Number(3.0)]));
        assert_eq!(groups.as_deref(), Some(r#"[{"name":"eu","value":1.0},{"name":"ap","value":3.0}]"#));
        let empty = serde_json::json!({"data": {"attributes": {"columns": [{"name": "a", "type": "number", "values": [null]}]}}});
        assert_eq!(parse_v2(&empty), Ok((Value::Null, None)));
        let errors = serde_json::json!({"errors": ["Invalid query"]});
        assert_eq!(parse_v2(&errors).unwrap_err(), "There were errors in your query: Invalid query");
    }

    #[test]
    fn go_durations_parse() {
        assert_eq!(go_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(go_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(go_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(go_duration("5 minutes").is_err());
        assert_eq!(go_duration(""), Err(r#"time: invalid duration """#.to_string()));
        assert_eq!(go_duration("-5m"), Err(r#"time: invalid duration "-5m""#.to_string()));
    }
}

//! The GraphQL request as Argo's client sends it, and the reading of the answer.

use std::time::{Duration, SystemTime};

use aviary_plugin_sdk::duration::parse_go_duration;
use serde::Deserialize;

use crate::Config;
use crate::error::SkyWalkingError;

/// A validated query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    base: String,
    query: String,
    /// The window, in nanoseconds (Go allows a negative one).
    interval: i64,
}

impl Query {
    /// Checks the config: an http(s) `address`, a `query`, and an `interval` Go can parse (an
    /// empty one is Go's `time: invalid duration ""`, as in Argo).
    pub fn new(c: &Config) -> Result<Self, SkyWalkingError> {
        let base = c.address.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(SkyWalkingError::Address(c.address.clone()));
        }
        if c.query.trim().is_empty() {
            return Err(SkyWalkingError::EmptyQuery);
        }
        let interval = parse_go_duration(&c.interval).map_err(|e| SkyWalkingError::Interval(e.to_string()))?;
        Ok(Self { base: base.to_string(), query: c.query.clone(), interval })
    }

    /// `{address}/graphql`.
    pub fn url(&self) -> String {
        format!("{}/graphql", self.base)
    }

    /// The request body for the window ending at `now`.
    pub fn body(&self, now: SystemTime) -> serde_json::Value {
        let back = Duration::from_nanos(self.interval.unsigned_abs());
        let start = if self.interval >= 0 { now.checked_sub(back) } else { now.checked_add(back) };
        serde_json::json!({
            "query": self.query,
            "variables": {"duration": {
                "start": minute(start.unwrap_or(SystemTime::UNIX_EPOCH)),
                "end": minute(now),
                "step": "MINUTE",
            }},
        })
    }
}

/// SkyWalking's minute precision, Go layout `2006-01-02 1504`, in UTC.
pub fn minute(t: SystemTime) -> String {
    // `2006-01-02T15:04:05Z`: every field at a fixed offset.
    let text = humantime::format_rfc3339_seconds(t).to_string();
    format!("{} {}{}", &text[..10], &text[11..13], &text[14..16])
}

/// A GraphQL response.
#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(default)]
    data: Option<serde_json::Value>,
    #[serde(default)]
    errors: Vec<GraphQlError>,
}

#[derive(Debug, Deserialize)]
struct GraphQlError {
    #[serde(default)]
    message: String,
}

/// The `data` of an answer, as Argo's client reads it: the status is not looked at, a body
/// that is not a GraphQL response is an error, then the first of `errors`, then no `data`.
pub fn data(status: u16, body: &[u8]) -> Result<serde_json::Value, SkyWalkingError> {
    let answer: Answer = serde_json::from_slice(body).map_err(|e| SkyWalkingError::Decode {
        reason: e.to_string(),
        status: if (200..300).contains(&status) { String::new() } else { format!(" (HTTP {status})") },
    })?;
    if let Some(first) = answer.errors.into_iter().next() {
        return Err(SkyWalkingError::GraphQl(first.message));
    }
    match answer.data {
        None | Some(serde_json::Value::Null) => Err(SkyWalkingError::NoResults),
        Some(data) => Ok(data),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APDEX: &str = "query queryData($duration: Duration!) { service_apdex: readMetricsValues(condition: { name: \"service_apdex\", entity: { scope: Service, serviceName: \"agent::songs\", normal: true } }, duration: $duration) { label values { values { value } } } }";

    fn config(interval: &str) -> Config {
        Config { address: "http://oap.skywalking:12800/".into(), query: APDEX.into(), interval: interval.into() }
    }

    #[test]
    fn the_body_carries_the_query_and_the_last_interval_in_minutes() {
        let q = Query::new(&config("10m")).unwrap();
        assert_eq!(q.url(), "http://oap.skywalking:12800/graphql");
        let now = humantime::parse_rfc3339("2024-05-01T12:03:45Z").unwrap();
        assert_eq!(
            q.body(now),
            serde_json::json!({"query": APDEX, "variables": {"duration": {
                "start": "2024-05-01 1153", "end": "2024-05-01 1203", "step": "MINUTE"}}})
        );
    }

    #[test]
    fn configs_are_checked_field_by_field() {
        let err = |c: Config| Query::new(&c).unwrap_err().to_string();
        assert_eq!(err(config("")), r#"time: invalid duration """#);
        assert_eq!(err(config("5")), r#"time: missing unit in duration "5""#);
        assert_eq!(
            err(Config { query: " ".into(), ..config("5m") }),
            "query is empty: the provider needs a GraphQL query"
        );
        assert_eq!(
            err(Config { address: "oap:12800".into(), ..config("5m") }),
            r#"address "oap:12800" is not an http:// or https:// URL"#
        );
    }

    #[test]
    fn the_value_is_the_whole_data_object() {
        let body = br#"{"data": {"service_apdex": {"label": null, "values": {"values": [{"value": 9800}, {"value": 10000}]}}}}"#;
        assert_eq!(
            data(200, body).unwrap(),
            serde_json::json!({"service_apdex": {"label": null, "values": {"values": [{"value": 9800}, {"value": 10000}]}}})
        );
    }

    #[test]
    fn errors_and_missing_data_are_errors_with_the_clients_messages() {
        let body = br#"{"data": null, "errors": [{"message": "Validation error of type FieldUndefined"}, {"message": "second"}]}"#;
        assert_eq!(data(200, body).unwrap_err().to_string(), "graphql: Validation error of type FieldUndefined");
        assert_eq!(
            data(200, br#"{"data": null}"#).unwrap_err().to_string(),
            "no results returned from SkyWalking query"
        );
        assert_eq!(data(200, br#"{}"#).unwrap_err(), SkyWalkingError::NoResults);
        let err = data(502, b"Bad Gateway").unwrap_err().to_string();
        assert!(err.starts_with("decoding response: expected value") && err.ends_with(" (HTTP 502)"), "{err}");
    }
}

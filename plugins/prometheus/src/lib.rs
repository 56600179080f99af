//! `aviary/prometheus` (Argo's `prometheus` provider): runs an instant query and hands the
//! result to the metric's conditions.
//!
//! As in Argo: a scalar becomes a number, a vector a list of its samples' values, a matrix the
//! list of all its values; NaN and ±Inf are kept (they travel as extended JSON); an empty result
//! is an empty list, so `len(result) == 0 || result[0] >= 0.95` works and `result[0]` on it is
//! an error reported as "no data". Fields: `address`, `query`, `timeout` (seconds), `headers`,
//! `authentication.basicAuth` and `authentication.oauth2`. `rangeQuery` and `sigv4` are refused
//! with a clear error rather than half-supported.

use std::time::Duration;

use aviary_plugin_sdk::auth::{BasicAuth, OAuth2};
use aviary_plugin_sdk::{Context, Error, Measurement, Provider, Value, export_provider, http, log};
use serde::Deserialize;

/// A header, as Argo writes them.
#[derive(Debug, Clone, Deserialize)]
pub struct Header {
    /// Name.
    pub key: String,
    /// Value.
    pub value: String,
}

/// Argo's prometheus `authentication` block.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Authentication {
    /// Basic authentication.
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// Client-credentials OAuth2.
    #[serde(default)]
    pub oauth2: Option<OAuth2>,
    /// AWS SigV4: not supported (refused with an error).
    #[serde(default)]
    pub sigv4: Option<serde_json::Value>,
}

/// The prometheus provider's configuration (Argo's `PrometheusMetric`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// Base URL of the Prometheus server.
    pub address: String,
    /// PromQL.
    pub query: String,
    /// Query timeout in seconds.
    #[serde(default)]
    pub timeout: Option<u64>,
    /// Extra request headers.
    #[serde(default)]
    pub headers: Vec<Header>,
    /// Skip TLS verification; the host always verifies.
    #[serde(default)]
    pub insecure: bool,
    /// Authentication.
    #[serde(default)]
    pub authentication: Option<Authentication>,
    /// A range query: not supported yet.
    #[serde(default)]
    pub range_query: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ApiResponse {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    warnings: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    result_type: String,
    result: serde_json::Value,
}

struct Prometheus;

impl Provider for Prometheus {
    type Config = Config;

    fn measure(_ctx: &Context, config: Config) -> Result<Measurement, Error> {
        if config.range_query.is_some() {
            return Err(Error::msg("rangeQuery is not supported by aviary/prometheus yet; use an instant query"));
        }
        if config.authentication.as_ref().is_some_and(|a| a.sigv4.is_some()) {
            return Err(Error::msg("sigv4 authentication is not supported by aviary/prometheus"));
        }
        if config.insecure {
            log::warn("insecure is ignored: the Aviary host always verifies TLS certificates");
        }
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("query", &config.query);
        if let Some(t) = config.timeout.filter(|t| *t > 0) {
            form.append_pair("timeout", &format!("{t}s"));
        }
        let url = format!("{}/api/v1/query", config.address.trim_end_matches('/'));
        let mut request =
            http::Request::post(url).header("Content-Type", "application/x-www-form-urlencoded").body(form.finish());
        if let Some(t) = config.timeout.filter(|t| *t > 0) {
            request = request.timeout(Duration::from_secs(t));
        }
        if let Some(auth) = &config.authentication {
            if let Some(basic) = &auth.basic_auth {
                request = request.header("Authorization", basic.header());
            } else if let Some(oauth2) = &auth.oauth2 {
                request = request.header("Authorization", oauth2.header()?);
            }
        }
        for h in &config.headers {
            request = request.header(&h.key, &h.value);
        }
        let response = request.send()?;
        let api: ApiResponse = response.json().map_err(|e| {
            Error(format!(
                "prometheus at {} answered HTTP {} with a body that is not its API's JSON: {e}",
                config.address, response.status
            ))
        })?;
        if api.status != "success" {
            return Err(Error(format!(
                "prometheus query failed: {}: {}",
                api.error_type.unwrap_or_else(|| format!("HTTP {}", response.status)),
                api.error.unwrap_or_default()
            )));
        }
        for w in &api.warnings {
            log::warn(&format!("prometheus warning: {w}"));
        }
        let data = api.data.ok_or_else(|| Error::msg("prometheus answered success without data"))?;
        let value = to_value(&data.result_type, &data.result)?;
        Ok(Measurement::measured(value).with_metadata("query", config.query))
    }
}

/// Converts a query result to the value conditions see.
fn to_value(result_type: &str, result: &serde_json::Value) -> Result<Value, Error> {
    let bad = || Error(format!("malformed {result_type} result from prometheus"));
    match result_type {
        "scalar" => sample(result).ok_or_else(bad).map(Value::Number),
        "vector" => {
            let series = result.as_array().ok_or_else(bad)?;
            series
                .iter()
                .map(|s| s.get("value").and_then(sample).map(Value::Number).ok_or_else(bad))
                .collect::<Result<_, _>>()
                .map(Value::Array)
        }
        "matrix" => {
            let series = result.as_array().ok_or_else(bad)?;
            let mut values = Vec::new();
            for s in series {
                for point in s.get("values").and_then(|v| v.as_array()).ok_or_else(bad)? {
                    values.push(Value::Number(sample(point).ok_or_else(bad)?));
                }
            }
            Ok(Value::Array(values))
        }
        other => Err(Error(format!("Prometheus metric type not supported: {other}"))),
    }
}

/// A `[timestamp, "value"]` pair's value; Prometheus writes NaN and infinities as `NaN`, `+Inf`,
/// `-Inf`.
fn sample(pair: &serde_json::Value) -> Option<f64> {
    let text = pair.as_array()?.get(1)?.as_str()?;
    match text {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        t => t.parse().ok(),
    }
}

export_provider!(Prometheus);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn result_types_become_argo_values() {
        assert_eq!(to_value("scalar", &json!([1.0, "10"])).unwrap().to_string(), "10");
        let vector = json!([{"metric": {}, "value": [1, "0.5"]}, {"metric": {}, "value": [1, "NaN"]}]);
        assert_eq!(to_value("vector", &vector).unwrap().to_string(), "[0.5,NaN]");
        assert_eq!(to_value("vector", &json!([])).unwrap().to_string(), "[]");
        let matrix =
            json!([{"metric": {}, "values": [[1, "11"], [2, "12"]]}, {"metric": {}, "values": [[1, "13"], [2, "14"]]}]);
        assert_eq!(to_value("matrix", &matrix).unwrap().to_string(), "[11,12,13,14]");
        assert_eq!(to_value("scalar", &json!([1, "+Inf"])).unwrap().to_string(), "Infinity");
        assert!(to_value("string", &json!([1, "x"])).unwrap_err().0.contains("not supported"));
        assert!(to_value("vector", &json!({"no": "list"})).is_err());
    }
}

//! `aviary/prometheus` (Argo's `prometheus` provider): runs an instant or a range query and hands
//! the result to the metric's conditions.
//!
//! As in Argo: a scalar becomes a number, a vector a list of its samples' values, a matrix the
//! list of all its values; NaN and ±Inf are kept (they travel as extended JSON); an empty result
//! is an empty list, so `len(result) == 0 || result[0] >= 0.95` works and `result[0]` on it is
//! an error reported as "no data". Fields: `address`, `query`, `timeout` (seconds, default 30,
//! the time the whole query may take), `headers`, `insecure` (the host skips TLS verification for
//! this call), `authentication.basicAuth`, `authentication.oauth2`, `authentication.sigv4` and
//! `rangeQuery` (`start`/`end` time expressions and `step`, see [`range`]; the value is the
//! matrix's values, as Argo shapes it).
//!
//! SigV4, as Argo applies it: only for an Amazon Managed Prometheus address (`aps-workspaces`),
//! signed for the service `aps` with the credentials the host adds to `authentication.sigv4`:
//! the AWS SDK chain's of the controller for `profile`, or those of `roleArn` assumed with them
//! (the host does both; the component only signs).

pub mod range;

use std::time::{Duration, SystemTime};

use aviary_plugin_sdk::auth::{BasicAuth, OAuth2};
use aviary_plugin_sdk::sigv4;
use aviary_plugin_sdk::{Context, Error, Measurement, Provider, Value, export_provider, http, log};
use serde::Deserialize;

/// Argo's timeout when the metric sets none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The service Amazon Managed Prometheus is signed for.
pub const SIGV4_SERVICE: &str = "aps";

/// A header, as Argo writes them.
#[derive(Debug, Clone, Deserialize)]
pub struct Header {
    /// Name.
    pub key: String,
    /// Value.
    pub value: String,
}

/// Argo's `authentication.sigv4`, plus the credentials the host adds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sigv4 {
    /// The region (the host fills in the controller's when empty).
    #[serde(default)]
    pub region: String,
    /// The AWS profile whose chain the host takes the credentials from.
    #[serde(default)]
    pub profile: String,
    /// The role the host assumes (STS AssumeRole) for the credentials.
    #[serde(default)]
    pub role_arn: String,
    /// Added by the host: the profile's or the role's credentials.
    #[serde(flatten)]
    pub aws: sigv4::HostCredentials,
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
    /// AWS SigV4 (Amazon Managed Prometheus).
    #[serde(default)]
    pub sigv4: Option<Sigv4>,
}

/// Argo's `rangeQuery`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RangeQuery {
    /// Start, an expr time expression (`now() - duration("1h")`).
    #[serde(default)]
    pub start: String,
    /// End, an expr time expression (`now()`).
    #[serde(default)]
    pub end: String,
    /// Resolution, a Go duration.
    #[serde(default)]
    pub step: String,
}

/// The prometheus provider's configuration (Argo's `PrometheusMetric`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// Base URL of the Prometheus server.
    pub address: String,
    /// PromQL.
    pub query: String,
    /// Query timeout in seconds (default 30; negative is an error, as in Argo).
    #[serde(default)]
    pub timeout: Option<i64>,
    /// Extra request headers.
    #[serde(default)]
    pub headers: Vec<Header>,
    /// Skip TLS verification: honoured by the host for this first-party plugin.
    #[serde(default)]
    pub insecure: bool,
    /// Authentication.
    #[serde(default)]
    pub authentication: Option<Authentication>,
    /// A range query instead of an instant query.
    #[serde(default)]
    pub range_query: Option<RangeQuery>,
}

impl Config {
    /// The request timeout.
    pub fn timeout(&self) -> Result<Duration, Error> {
        match self.timeout {
            None => Ok(DEFAULT_TIMEOUT),
            Some(t) if t < 0 => Err(Error::msg("prometheus timeout should not be negative")),
            Some(t) => Ok(Duration::from_secs(t.unsigned_abs())),
        }
    }

    /// The SigV4 settings when requests are signed: Argo signs only for Amazon Managed
    /// Prometheus (`aps-workspaces` in the address) with a non-empty `sigv4` block.
    pub fn sigv4(&self) -> Option<&Sigv4> {
        let s = self.authentication.as_ref()?.sigv4.as_ref().filter(|s| **s != Sigv4::default())?;
        if self.address.contains("aps-workspaces") {
            Some(s)
        } else {
            log::warn("authentication.sigv4 is ignored: the address is not an Amazon Managed Prometheus workspace");
            None
        }
    }
}

/// The query request (URL and form body) for `now`.
pub fn query_request(config: &Config, now: SystemTime) -> Result<(String, String), Error> {
    let address = config.address.trim_end_matches('/');
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("query", &config.query);
    let url = match &config.range_query {
        Some(r) => {
            let range = range::Range::resolve(&r.start, &r.end, &r.step, now).map_err(Error)?;
            form.append_pair("start", &range.start.to_string());
            form.append_pair("end", &range.end.to_string());
            form.append_pair("step", &range.step.to_string());
            format!("{address}/api/v1/query_range")
        }
        None => format!("{address}/api/v1/query"),
    };
    Ok((url, form.finish()))
}

/// The `X-Amz-Date`, token and `Authorization` headers of a signed request.
pub fn sigv4_headers(
    s: &Sigv4,
    url: &str,
    headers: &[(String, String)],
    body: &str,
    now: SystemTime,
) -> Result<Vec<(String, String)>, Error> {
    let Some(credentials) = s.aws.credentials() else {
        return Err(Error::msg(
            "authentication.sigv4: no AWS credentials (the controller adds them from the AWS SDK's default chain)",
        ));
    };
    let request = sigv4::Request { method: "POST", url, headers, body: body.as_bytes() };
    let signed = sigv4::sign(&credentials, &s.region, SIGV4_SERVICE, &request, now)
        .map_err(|e| Error(format!("authentication.sigv4: {e}")))?;
    Ok(signed.headers)
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
        let timeout = config.timeout()?;
        let now = SystemTime::now();
        let (url, body) = query_request(&config, now)?;
        let content_type = vec![("Content-Type".to_string(), "application/x-www-form-urlencoded".to_string())];
        let mut request = http::Request::post(&url).body(body.clone()).timeout(timeout);
        if let Some(s) = config.sigv4() {
            // Signed before the custom headers are added, as Argo's round trippers do.
            for (name, value) in sigv4_headers(s, &url, &content_type, &body, now)? {
                request = request.header(name, value);
            }
        }
        for (name, value) in content_type {
            request = request.header(name, value);
        }
        if let Some(auth) = &config.authentication {
            if let Some(basic) = &auth.basic_auth {
                request = request.header("Authorization", basic.header());
            } else if let Some(oauth2) = auth.oauth2.as_ref().filter(|o| !o.token_url.is_empty()) {
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
        let data = api.data.ok_or_else(|| Error::msg("prometheus answered success without data"))?;
        let value = to_value(&data.result_type, &data.result)?;
        let mut m = Measurement::measured(value).with_metadata("query", config.query);
        if !api.warnings.is_empty() {
            // Argo's metadata: the warnings quoted and comma-separated.
            let warnings = api.warnings.iter().map(|w| format!("\"{w}\"")).collect::<Vec<_>>().join(", ");
            log::warn(&format!("Prometheus returned the following warnings: {warnings}"));
            m = m.with_metadata("warnings", warnings);
        }
        Ok(m)
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
    use std::time::UNIX_EPOCH;

    fn config(j: serde_json::Value) -> Config {
        serde_json::from_value(j).unwrap()
    }

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

    #[test]
    fn range_queries_post_start_end_and_step_as_client_golang_does() {
        let c = config(json!({"address": "http://prom:9090/", "query": "rate(x[1m])",
            "rangeQuery": {"start": "now() - duration(\"1h\")", "end": "now()", "step": "1m30s"}}));
        let (url, body) = query_request(&c, UNIX_EPOCH + Duration::from_secs(1_735_689_600)).unwrap();
        assert_eq!(url, "http://prom:9090/api/v1/query_range");
        assert_eq!(body, "query=rate%28x%5B1m%5D%29&start=1735686000&end=1735689600&step=90");
        let instant = config(json!({"address": "http://prom:9090", "query": "up"}));
        assert_eq!(
            query_request(&instant, UNIX_EPOCH).unwrap(),
            ("http://prom:9090/api/v1/query".to_string(), "query=up".to_string())
        );
    }

    #[test]
    fn timeouts_default_to_thirty_seconds_and_may_not_be_negative() {
        assert_eq!(config(json!({"address": "a", "query": "q"})).timeout(), Ok(DEFAULT_TIMEOUT));
        assert_eq!(config(json!({"address": "a", "query": "q", "timeout": 5})).timeout(), Ok(Duration::from_secs(5)));
        assert_eq!(
            config(json!({"address": "a", "query": "q", "timeout": -1})).timeout(),
            Err(Error::msg("prometheus timeout should not be negative"))
        );
    }

    #[test]
    fn sigv4_signs_with_the_keys_the_host_added() {
        let amp = "https://aps-workspaces.us-west-2.amazonaws.com/workspaces/ws-1";
        let keys = json!({"region": "us-west-2", "accessKeyId": "AKID", "secretAccessKey": "s"});
        let c = config(json!({"address": amp, "query": "up", "authentication": {"sigv4": keys}}));
        let s = c.sigv4().expect("signed");
        let headers = sigv4_headers(s, &format!("{amp}/api/v1/query"), &[], "query=up", UNIX_EPOCH).unwrap();
        assert_eq!(headers[0], ("X-Amz-Date".to_string(), "19700101T000000Z".to_string()));
        assert!(headers[1].1.starts_with("AWS4-HMAC-SHA256 Credential=AKID/19700101/us-west-2/aps/aws4_request, "));
        // With a role, the host has put the role's keys in: they are what signs.
        let role = Sigv4 { role_arn: "arn:aws:iam::1:role/r".into(), ..s.clone() };
        assert_eq!(sigv4_headers(&role, amp, &[], "", UNIX_EPOCH).unwrap()[1].1[..45], headers[1].1[..45]);
        let none = Sigv4 { region: "us-west-2".into(), ..Sigv4::default() };
        assert!(sigv4_headers(&none, amp, &[], "", UNIX_EPOCH).unwrap_err().0.contains("no AWS credentials"));
    }
}

//! `aviary/wavefront` (Argo's `wavefront` provider): asks Wavefront's chart API for the point of
//! each series closest to now and hands the value(s) to the metric's conditions.
//!
//! Fields are Argo's `WavefrontMetric`: `address` (the Wavefront host, such as
//! `example.wavefront.com`) and `query` (a WQL query). The API token never comes from the
//! template: as Argo does, the controller reads the Secret `wavefront-api-tokens` in its own
//! namespace, whose keys are addresses and values tokens, and adds the token of the metric's
//! address to the config as `token`; it is redacted from every message.
//!
//! The request is go-wavefront's, which Argo uses: `GET https://{address}/api/v2/chart/api` with
//! `Authorization: Bearer {token}`, `Accept: application/json` and the parameters `q` (the
//! query), `s` and `e` (both now, in epoch milliseconds), `g=s`, `p=1`, `i=true` (series whose
//! points are outside the window), `autoEvents`, `includeObsoleteMetrics`, `listmode` and `strict`
//! all `false`, sorted by name as Go encodes them. For each series the value is that of the point
//! closest to the request time; one series gives a number, several a list (`result > 0.9`,
//! `all(result, {# < 0.1})`), with the points' `timestamps` and `drift` (seconds from now) and
//! Wavefront's `warnings` in the metadata. No series is an Error "No TimeSeries found in response
//! from Wavefront"; a status other than 200 an Error "server returned {status}" with the body.
//!
//! Differences from Argo: the value is shown as JSON where Argo prints Go's `%.2f` (`0.125`
//! where Argo shows `0.13`; the conditions see the same, unrounded number in both). A series without points is `null` and a null point is skipped, where Argo reads 0 (a gap
//! must not pass as a zero error rate). An `address` holding a scheme (`http://127.0.0.1:9000`)
//! is used as the base URL as it is, for proxies and tests; Argo always prepends `https://`. When
//! Wavefront answers without series but with an `errorMessage`, the message is added to the
//! error.

use std::time::{Duration, SystemTime};

use aviary_plugin_sdk::{Context, Error, Measurement, Provider, Value, export_provider, http, url};
use serde::Deserialize;

/// The request gives up after this long (go-wavefront has no timeout of its own; the host's
/// deadline also applies).
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// The provider block, as Argo writes it, plus the token the controller adds.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// The Wavefront host (`example.wavefront.com`).
    #[serde(default)]
    pub address: String,
    /// WQL.
    #[serde(default)]
    pub query: String,
    /// Added by the controller from the Secret `wavefront-api-tokens`.
    #[serde(default)]
    pub token: String,
}

struct Wavefront;

impl Provider for Wavefront {
    type Config = Config;

    fn measure(_ctx: &Context, config: Config) -> Result<Measurement, Error> {
        if config.token.is_empty() {
            return Err(Error::msg("API token not found"));
        }
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let url = query_url(&config.address, &config.query, now).map_err(Error)?;
        let response = http::Request::get(url)
            .header("Authorization", format!("Bearer {}", config.token))
            .header("Accept", "application/json")
            .timeout(TIMEOUT)
            .send()?;
        if response.status != 200 {
            return Ok(Measurement::error(format!(
                "server returned {}\n{}",
                http::status_line(response.status),
                response.text()
            )));
        }
        Ok(judge(&response.text(), now))
    }
}

export_provider!(Wavefront);

/// The chart API URL for `query` at `now` (Unix seconds).
pub fn query_url(address: &str, query: &str, now: u64) -> Result<String, String> {
    let host = address.split_once("://").map_or(address, |(_, rest)| rest);
    if host.is_empty() || host.starts_with('/') || address.chars().any(char::is_whitespace) {
        return Err(format!("Wavefront address {address:?} is not a host name"));
    }
    let base =
        if address.contains("://") { address.trim_end_matches('/').to_string() } else { format!("https://{address}") };
    let ms = (now * 1000).to_string();
    let params = [
        ("autoEvents", "false"),
        ("e", ms.as_str()),
        ("g", "s"),
        ("i", "true"),
        ("includeObsoleteMetrics", "false"),
        ("listmode", "false"),
        ("p", "1"),
        ("q", query),
        ("s", ms.as_str()),
        ("strict", "false"),
    ];
    Ok(format!("{base}/api/v2/chart/api?{}", url::encode_values(&params)))
}

/// The part of Wavefront's query response the provider reads.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Response {
    #[serde(default)]
    timeseries: Vec<Series>,
    #[serde(default)]
    warnings: String,
    #[serde(default)]
    error_message: String,
}

#[derive(Debug, Default, Deserialize)]
struct Series {
    #[serde(default)]
    data: Vec<Vec<Option<f64>>>,
}

/// The point of a series picked for a measurement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Picked {
    /// Its value.
    pub value: f64,
    /// Its time (Unix seconds).
    pub at: i64,
    /// Its time less the request's (seconds).
    pub drift: i64,
}

/// The point of a series closest to `now`; `None` when it has none.
pub fn closest(points: &[Vec<Option<f64>>], now: u64) -> Result<Option<Picked>, String> {
    let now = now as f64;
    let mut best: Option<(f64, f64, f64)> = None;
    for point in points {
        let [Some(at), value] = point[..] else {
            return Err(format!("data point {point:?} is not [timestamp, value]"));
        };
        let Some(value) = value else { continue };
        let delta = at - now;
        if best.is_none_or(|(_, _, d)| delta.abs() < d.abs()) {
            best = Some((value, at, delta));
        }
    }
    Ok(best.map(|(value, at, d)| Picked { value, at: at as i64, drift: d as i64 }))
}

/// The measurement a 200 answer gives, for a request made at `now` (Unix seconds).
pub fn judge(body: &str, now: u64) -> Measurement {
    let response: Response = match serde_json::from_str(body) {
        Ok(r) => r,
        Err(e) => return Measurement::error(format!("cannot parse the Wavefront answer: {e}")),
    };
    let warnings = |m: Measurement| {
        if response.warnings.is_empty() { m } else { m.with_metadata("warnings", response.warnings.clone()) }
    };
    if response.timeseries.is_empty() {
        let mut message = "No TimeSeries found in response from Wavefront".to_string();
        if !response.error_message.is_empty() {
            message.push_str(&format!(": {}", response.error_message));
        }
        return warnings(Measurement::error(message));
    }
    let mut picked = Vec::new();
    for series in &response.timeseries {
        match closest(&series.data, now) {
            Ok(p) => picked.push(p),
            Err(e) => return warnings(Measurement::error(e)),
        }
    }
    let value = |p: &Option<Picked>| p.map_or(Value::Null, |p| Value::Number(p.value));
    let at = |p: &Option<Picked>| p.map_or("none".to_string(), |p| p.at.to_string());
    let drift = |p: &Option<Picked>| p.map_or("none".to_string(), |p| p.drift.to_string());
    let m = if let [one] = picked.as_slice() {
        Measurement::measured(value(one)).with_metadata("timestamps", at(one)).with_metadata("drift", drift(one))
    } else {
        let list =
            |f: &dyn Fn(&Option<Picked>) -> String| format!("[{}]", picked.iter().map(f).collect::<Vec<_>>().join(","));
        Measurement::measured(Value::Array(picked.iter().map(value).collect()))
            .with_metadata("timestamps", list(&at))
            .with_metadata("drift", list(&drift))
    };
    warnings(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aviary_plugin_sdk::Phase;

    #[test]
    fn the_url_carries_argos_parameters_sorted_as_go_encodes_them() {
        let url = query_url("example.wavefront.com", "ts(http.errors, env=prod)", 1_700_000_000).unwrap();
        assert_eq!(
            url,
            "https://example.wavefront.com/api/v2/chart/api?autoEvents=false&e=1700000000000&g=s&i=true\
             &includeObsoleteMetrics=false&listmode=false&p=1&q=ts%28http.errors%2C+env%3Dprod%29\
             &s=1700000000000&strict=false"
        );
        assert!(query_url("http://127.0.0.1:9/", "q", 1).unwrap().starts_with("http://127.0.0.1:9/api/v2/chart/api?"));
        assert!(query_url("", "q", 1).is_err());
    }

    #[test]
    fn the_closest_point_wins_and_its_drift_is_signed() {
        let points = vec![vec![Some(90.0), Some(1.0)], vec![Some(104.0), Some(2.0)], vec![Some(97.0), Some(3.0)]];
        assert_eq!(closest(&points, 100), Ok(Some(Picked { value: 3.0, at: 97, drift: -3 })));
        assert_eq!(
            closest(&[vec![Some(99.0), None], vec![Some(80.0), Some(5.0)]], 100),
            Ok(Some(Picked { value: 5.0, at: 80, drift: -20 }))
        );
        assert_eq!(closest(&[], 100), Ok(None));
        assert!(closest(&[vec![Some(1.0)]], 100).is_err());
    }

    #[test]
    fn one_series_is_a_number_several_a_list_with_their_metadata() {
        let one = judge(
            r#"{"query": "q", "granularity": 1, "timeseries": [{"label": "a", "host": "h", "data": [[995, 0.25], [1001, 0.5]]}]}"#,
            1000,
        );
        assert_eq!((one.phase, one.value.clone()), (Phase::Measured, Some(Value::Number(0.5))));
        assert_eq!(one.metadata["timestamps"], "1001");
        assert_eq!(one.metadata["drift"], "1");
        let two = judge(
            r#"{"warnings": "partial", "timeseries": [{"data": [[1000, 1]]}, {"data": [[990, 2]]}, {"data": []}]}"#,
            1000,
        );
        assert_eq!(two.value, Some(Value::Array(vec![Value::Number(1.0), Value::Number(2.0), Value::Null])));
        assert_eq!(two.metadata["timestamps"], "[1000,990,none]");
        assert_eq!(two.metadata["drift"], "[0,-10,none]");
        assert_eq!(two.metadata["warnings"], "partial");
    }

    #[test]
    fn no_series_is_argos_error() {
        let m = judge(r#"{"timeseries": []}"#, 1);
        assert_eq!((m.phase, m.message.as_str()), (Phase::Error, "No TimeSeries found in response from Wavefront"));
        let m = judge(r#"{"errorType": "QuerySyntaxError", "errorMessage": "Unknown function: tss"}"#, 1);
        assert_eq!(m.message, "No TimeSeries found in response from Wavefront: Unknown function: tss");
    }
}

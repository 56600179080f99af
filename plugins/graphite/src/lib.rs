//! `aviary/graphite` (Argo's `graphite` provider): runs a query against Graphite's render API and
//! hands the values of the first series to the metric's conditions.
//!
//! Fields are Argo's `GraphiteMetric`: `address` (the Graphite base URL) and `query` (the render
//! API's query string, such as `target=sumSeries(app.http.*.5xx.count)&from=-2min`). Graphite
//! needs no credentials. As Argo's client does, the plugin removes all whitespace from the query,
//! re-encodes its parameters the way Go's `url.Values.Encode` does (sorted by name), sets
//! `format=json` and sends `GET {address}/render?{query}` with a 10 s timeout.
//!
//! The value is the list of the first series' non-null datapoint values (`[10, 12.5]`), so
//! conditions read `result[0]`, `all(result, {# < 5})` or `10 in result`, as with Argo. No series,
//! or a series without datapoints, is an Error "no values found"; a series whose datapoints are
//! all null is the empty list (Argo does the same). A status of 400 or more is an Error
//! "error response: {body}". Datapoint values and timestamps may be numbers or numeric strings,
//! as Argo's parser accepts.
//!
//! Differences from Argo: the measurement's value is shown as JSON (`[10]`) where Argo prints Go's
//! `%f` (`[10.000000]`); the conditions see the same numbers. A query with an invalid percent
//! escape or a `#` is an Error naming it, where Go's URL parser silently drops the parameter (or
//! the rest of the query).

use std::time::Duration;

use aviary_plugin_sdk::{Context, Error, Measurement, Provider, Value, export_provider, http, url};
use serde::Deserialize;

/// Argo's Graphite client gives up after this long.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The provider block, as Argo writes it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// The Graphite base URL (`http://graphite.monitoring:8080`).
    #[serde(default)]
    pub address: String,
    /// The render API's query string.
    #[serde(default)]
    pub query: String,
}

struct Graphite;

impl Provider for Graphite {
    type Config = Config;

    fn measure(_ctx: &Context, config: Config) -> Result<Measurement, Error> {
        let url = render_url(&config.address, &config.query).map_err(Error)?;
        let response = http::Request::get(&url).timeout(TIMEOUT).send()?;
        Ok(judge(response.status, &response.text()))
    }
}

export_provider!(Graphite);

/// The measurement a render API answer gives.
pub fn judge(status: u16, body: &str) -> Measurement {
    if status >= 400 {
        return Measurement::error(format!("error response: {body}"));
    }
    match first_series(body) {
        Ok(points) if points.is_empty() => Measurement::error("no values found"),
        Ok(points) => Measurement::measured(Value::Array(points.into_iter().flatten().map(Value::Number).collect())),
        Err(e) => Measurement::error(e),
    }
}

/// `GET {address}/render?{query}` as Argo's client builds it.
pub fn render_url(address: &str, query: &str) -> Result<String, String> {
    let invalid = || format!("Graphite address {address} is not a valid URL");
    let base = address.split(['?', '#']).next().unwrap_or_default().trim_end_matches('/');
    let rest = base.strip_prefix("http://").or_else(|| base.strip_prefix("https://")).ok_or_else(invalid)?;
    if rest.is_empty() || rest.starts_with('/') || rest.chars().any(char::is_whitespace) {
        return Err(invalid());
    }
    let query: String = query.chars().filter(|c| !c.is_whitespace()).collect();
    if query.contains('#') {
        return Err(format!("graphite query {query:?}: '#' would start a URL fragment; write it as %23"));
    }
    let mut params = parse_query(&query)?;
    params.retain(|(k, _)| k != "format");
    params.push(("format".into(), "json".into()));
    Ok(format!("{base}/render?{}", url::encode_values(&params)))
}

/// Go's `url.ParseQuery`: `&`-separated `name=value` pairs, `+` and `%XX` decoded.
pub fn parse_query(query: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.push((query_unescape(k)?, query_unescape(v)?));
    }
    Ok(out)
}

fn query_unescape(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s.get(i + 1..i + 3).filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
                let Some(hex) = hex else {
                    let bad: String = s[i..].chars().take(3).collect();
                    return Err(format!("graphite query: invalid URL escape {bad:?}"));
                };
                out.push(u8::from_str_radix(hex, 16).map_err(|e| e.to_string())?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| format!("graphite query: {s:?} does not decode to UTF-8"))
}

/// The datapoint values of the first series (`None` for a null value); no series is empty.
pub fn first_series(body: &str) -> Result<Vec<Option<f64>>, String> {
    #[derive(Deserialize)]
    struct Series {
        #[serde(default)]
        datapoints: Vec<serde_json::Value>,
    }
    let series: Vec<Series> =
        serde_json::from_str(body).map_err(|e| format!("cannot parse the Graphite answer: {e}"))?;
    let Some(first) = series.into_iter().next() else { return Ok(Vec::new()) };
    first.datapoints.iter().map(datapoint).collect()
}

/// One `[value, timestamp]` pair, checked as Argo's `dataPoint.UnmarshalJSON` does.
fn datapoint(point: &serde_json::Value) -> Result<Option<f64>, String> {
    let pair =
        point.as_array().filter(|p| p.len() == 2).ok_or_else(|| format!("error unmarshaling data point: {point}"))?;
    let value = match &pair[0] {
        serde_json::Value::Null => None,
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => {
            Some(s.trim().parse::<f64>().map_err(|_| format!("error unmarshaling value: {s:?} is not a number"))?)
        }
        other => return Err(format!("error unmarshaling value: {other}")),
    };
    match &pair[1] {
        serde_json::Value::Null | serde_json::Value::Number(_) => {}
        serde_json::Value::String(s) if s.parse::<i64>().is_ok() => {}
        other => return Err(format!("error unmarshaling timestamp: {other}")),
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aviary_plugin_sdk::Phase;

    #[test]
    fn the_query_is_stripped_of_whitespace_re_encoded_sorted_and_asks_for_json() {
        let url =
            render_url("http://graphite:8080", "\n  target=sumSeries(app.http.*.*.count)&from=-2min \t\n").unwrap();
        assert_eq!(
            url,
            "http://graphite:8080/render?format=json&from=-2min&target=sumSeries%28app.http.%2A.%2A.count%29"
        );
        let url = render_url("https://g.example/graphite/", "target=a&format=raw&target=b&until=now").unwrap();
        assert_eq!(url, "https://g.example/graphite/render?format=json&target=a&target=b&until=now");
        let url = render_url("http://g", "target=alias(a.b,%22x%20y%22)&from=-5min").unwrap();
        assert_eq!(url, "http://g/render?format=json&from=-5min&target=alias%28a.b%2C%22x+y%22%29");
    }

    #[test]
    fn bad_addresses_and_queries_are_named() {
        assert_eq!(render_url(":::", "target=a").unwrap_err(), "Graphite address ::: is not a valid URL");
        assert_eq!(render_url("", "target=a").unwrap_err(), "Graphite address  is not a valid URL");
        assert!(render_url("http://g", "target=a%zz").unwrap_err().contains("invalid URL escape \"%zz\""));
        assert!(render_url("http://g", "target=#a").unwrap_err().contains("'#'"));
    }

    #[test]
    fn datapoints_parse_like_argos_numbers_strings_and_nulls() {
        let body = r#"[{"target": "a", "tags": {"name": "a"},
                        "datapoints": [[100.0, 1621348430], ["12.5", "1621348440"], [null, 1621348450]]},
                       {"target": "b", "datapoints": [[1, 1]]}]"#;
        assert_eq!(first_series(body), Ok(vec![Some(100.0), Some(12.5), None]));
        assert_eq!(first_series("[]"), Ok(vec![]));
        assert_eq!(first_series(r#"[{"datapoints": [[10]]}]"#).unwrap_err(), "error unmarshaling data point: [10]");
        assert_eq!(first_series(r#"[{"datapoints": [[[], 1]]}]"#).unwrap_err(), "error unmarshaling value: []");
        assert_eq!(
            first_series(r#"[{"datapoints": [[100, "f"]]}]"#).unwrap_err(),
            "error unmarshaling timestamp: \"f\""
        );
        assert!(first_series("invalid JSON").unwrap_err().starts_with("cannot parse the Graphite answer"));
    }

    #[test]
    fn the_value_is_the_list_of_non_null_values_and_no_datapoint_is_an_error() {
        let m = judge(200, r#"[{"target": "a", "datapoints": [[10, 1], [null, 2], [5.5, 3]]}]"#);
        assert_eq!(
            (m.phase, m.value),
            (Phase::Measured, Some(Value::Array(vec![Value::Number(10.0), Value::Number(5.5)])))
        );
        let all_null = judge(200, r#"[{"target": "a", "datapoints": [[null, 1]]}]"#);
        assert_eq!(all_null.value, Some(Value::Array(vec![])));
        for empty in ["[]", r#"[{"target": "a", "datapoints": []}]"#] {
            let m = judge(200, empty);
            assert_eq!((m.phase, m.message.as_str()), (Phase::Error, "no values found"));
        }
        let m = judge(500, "bar");
        assert_eq!((m.phase, m.message.as_str()), (Phase::Error, "error response: bar"));
    }
}

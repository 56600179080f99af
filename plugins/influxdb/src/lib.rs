//! `aviary/influxdb` (Argo's `influxdb` provider): runs a Flux query through InfluxDB's v2 HTTP
//! API and hands the `_value` of every record to the metric's conditions.
//!
//! Fields are Argo's `InfluxdbMetric`: `query` (Flux) and `profile` (the Secret holding the
//! server's address, token and organisation; default `influxdb`, in the controller's namespace).
//! Credentials never come from the template: the controller reads that Secret's `address`,
//! `authToken` and `org` keys, as Argo does, and adds them to the config under the same names;
//! the token is redacted from every message.
//!
//! The request is influxdb-client-go's, which Argo uses: `POST {address}/api/v2/query?org={org}`
//! with `Authorization: Token {authToken}`, `Content-Type: application/json` and the body
//! `{"dialect": {"annotations": ["datatype", "group", "default"], "delimiter": ",", "header":
//! true}, "query": ..., "type": "flux"}`, within 30 s. The answer is annotated CSV ([`csv`]); the
//! value is the list of every record's `_value` across all tables, typed by its column's
//! `#datatype` (`double`, `long` and `unsignedLong` as numbers, `boolean` as a bool, the others as
//! strings; an empty cell without default is `null`). So `result[0] > 0.99` and
//! `all(result, {# < 100})` read as with Argo. No record is an Error "no results returned from
//! flux query"; a non-2xx answer is an Error with InfluxDB's `code: message`, as the client
//! reports it.
//!
//! Differences from Argo: the value is shown as JSON (`[1,6.6]`) where Argo prints Go's
//! `fmt.Sprint` (`[1 6.6]`); times and durations reach the conditions as their RFC 3339 /
//! Flux text rather than Go values. An in-band error table (a Flux runtime error) or malformed CSV
//! is an Error with its message; Argo's client stops reading there and, with no record read,
//! reports "no results returned from flux query" (with some, it judges those). The request is sent
//! without `Accept-Encoding: gzip`, so the answer is plain CSV.

pub mod csv;

use std::time::Duration;

use aviary_plugin_sdk::{Context, Error, Measurement, Provider, Value, export_provider, http, url};
use serde::Deserialize;

/// Argo's query timeout.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// The provider block, as Argo writes it, plus what the controller adds from the Secret.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// Flux.
    #[serde(default)]
    pub query: String,
    /// The Secret the controller read (informational here).
    #[serde(default)]
    pub profile: String,
    /// Added by the controller: the server's base URL (`http://influxdb.monitoring:8086`).
    #[serde(default)]
    pub address: String,
    /// Added by the controller: the API token.
    #[serde(default)]
    pub auth_token: String,
    /// Added by the controller: the organisation (name or ID).
    #[serde(default)]
    pub org: String,
}

struct Influxdb;

impl Provider for Influxdb {
    type Config = Config;

    fn measure(_ctx: &Context, config: Config) -> Result<Measurement, Error> {
        let request = request(&config).map_err(Error)?;
        let response = request.send()?;
        if !response.is_success() {
            return Ok(Measurement::error(http_error(&response)));
        }
        Ok(judge(&response.text()))
    }
}

export_provider!(Influxdb);

/// The query request, as influxdb-client-go sends it.
pub fn request(c: &Config) -> Result<http::Request, String> {
    if c.auth_token.is_empty() || c.org.is_empty() || c.address.is_empty() {
        return Err("authToken, org, or address not found".into());
    }
    let url = query_url(&c.address, &c.org)?;
    let body = serde_json::json!({
        "dialect": {"annotations": ["datatype", "group", "default"], "delimiter": ",", "header": true},
        "query": c.query,
        "type": "flux",
    });
    Ok(http::Request::post(url).header("Authorization", format!("Token {}", c.auth_token)).json(&body).timeout(TIMEOUT))
}

/// `{address}/api/v2/query?org={org}`.
pub fn query_url(address: &str, org: &str) -> Result<String, String> {
    let scheme_ok = ["http://", "https://"].iter().any(|s| address.strip_prefix(s).is_some_and(|h| !h.is_empty()));
    if !scheme_ok || address.chars().any(char::is_whitespace) {
        return Err(format!("InfluxDB address {address} is not a valid URL"));
    }
    let org = url::query_escape(org);
    Ok(format!("{}/api/v2/query?org={org}", address.trim_end_matches('/')))
}

/// The measurement a successful answer gives.
pub fn judge(body: &str) -> Measurement {
    match csv::values(body) {
        Ok(values) if values.is_empty() => Measurement::error("no results returned from flux query"),
        Ok(values) => Measurement::measured(Value::Array(values)),
        Err(e) => Measurement::error(e),
    }
}

/// A non-2xx answer as influxdb-client-go's `Error()` words it: `code: message` from InfluxDB's
/// JSON error, or the status line and the body.
pub fn http_error(r: &http::Response) -> String {
    let status = r.status;
    let line = http::status_line(status);
    let json = r.header("content-type").is_some_and(|t| t.split(';').next().unwrap_or("").trim() == "application/json");
    let (mut code, mut message) = if json {
        #[derive(Deserialize)]
        struct Body {
            #[serde(default)]
            code: String,
            #[serde(default)]
            message: String,
        }
        match serde_json::from_slice::<Body>(&r.body) {
            Ok(b) => (b.code, b.message),
            Err(e) => return e.to_string(),
        }
    } else {
        (line.clone(), r.text())
    };
    if code.is_empty() && message.is_empty() {
        (code, message) = match status {
            429 => ("too many requests".into(), "exceeded rate limit".into()),
            503 => ("unavailable".into(), "service temporarily unavailable".into()),
            _ => (line, r.header("x-influxdb-error").unwrap_or_default().to_string()),
        };
    }
    if !code.is_empty() && !message.is_empty() {
        format!("{code}: {message}")
    } else {
        format!("Unexpected status code {status}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aviary_plugin_sdk::Phase;

    fn response(status: u16, content_type: &str, body: &str) -> http::Response {
        http::Response {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn the_url_is_the_v2_query_endpoint_with_the_org() {
        assert_eq!(query_url("http://influx:8086", "my-org").unwrap(), "http://influx:8086/api/v2/query?org=my-org");
        assert_eq!(query_url("https://i.example/", "Acme Inc").unwrap(), "https://i.example/api/v2/query?org=Acme+Inc");
        assert_eq!(query_url("influx:8086", "o").unwrap_err(), "InfluxDB address influx:8086 is not a valid URL");
    }

    #[test]
    fn missing_credentials_are_argos_error() {
        let c = Config { query: "from(bucket: \"b\")".into(), address: "http://i".into(), ..Config::default() };
        assert_eq!(request(&c).unwrap_err(), "authToken, org, or address not found");
    }

    #[test]
    fn errors_read_as_the_go_client_words_them() {
        let r = response(
            401,
            "application/json; charset=utf-8",
            r#"{"code":"unauthorized","message":"unauthorized access"}"#,
        );
        assert_eq!(http_error(&r), "unauthorized: unauthorized access");
        assert_eq!(http_error(&response(500, "text/plain", "boom")), "500 Internal Server Error: boom");
        assert_eq!(http_error(&response(429, "application/json", "{}")), "too many requests: exceeded rate limit");
        assert_eq!(http_error(&response(404, "application/json", "{}")), "Unexpected status code 404");
        let mut with_header = response(400, "application/json", "{}");
        with_header.headers.push(("x-influxdb-error".into(), "bad flux".into()));
        assert_eq!(http_error(&with_header), "400 Bad Request: bad flux");
    }

    #[test]
    fn no_record_is_an_error_and_records_are_a_list() {
        let empty =
            "#datatype,string,long,double\n#group,false,false,false\n#default,_result,,\n,result,table,_value\n";
        let m = judge(empty);
        assert_eq!((m.phase, m.message.as_str()), (Phase::Error, "no results returned from flux query"));
        let m = judge(&format!("{empty},,0,10\n,,0,20\n"));
        assert_eq!(m.value, Some(Value::Array(vec![Value::Number(10.0), Value::Number(20.0)])));
    }
}

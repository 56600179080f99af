//! `aviary/web` (Argo's `web` provider): calls an HTTP endpoint and hands the JSON value at
//! `jsonPath` to the metric's conditions.
//!
//! Fields, as in Argo: `url`, `method` (GET, POST, PUT; default GET), `headers` (`[{key,
//! value}]`), `body` or `jsonBody`, `timeoutSeconds` (default 10), `jsonPath` (Kubernetes
//! JSONPath template, default `{$}`), `insecure` (the host skips TLS verification for this call),
//! `authentication.oauth2`. Header values from Secrets come as Argo's do: `{{args.name}}` of an
//! argument with `valueFrom.secretKeyRef`, resolved by the controller and redacted. Errors use Argo's
//! wording (`received non 2xx response code: 503`, `Could not parse JSON body: ...`).

use std::time::Duration;

use aviary_plugin_sdk::auth::OAuth2;
use aviary_plugin_sdk::{Context, Error, Measurement, Provider, Value, export_provider, http};
use serde::Deserialize;

/// A header, as Argo writes them.
#[derive(Debug, Clone, Deserialize)]
pub struct Header {
    /// Name.
    pub key: String,
    /// Value.
    pub value: String,
}

/// Argo's `authentication` block; only `oauth2` applies to the web provider.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Authentication {
    /// Client-credentials OAuth2.
    #[serde(default)]
    pub oauth2: Option<OAuth2>,
}

/// The web provider's configuration (Argo's `WebMetric`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// The endpoint.
    pub url: String,
    /// GET, POST or PUT.
    #[serde(default)]
    pub method: Option<String>,
    /// Request headers.
    #[serde(default)]
    pub headers: Vec<Header>,
    /// A raw body.
    #[serde(default)]
    pub body: Option<String>,
    /// A JSON body (sent with `Content-Type: application/json`).
    #[serde(default)]
    pub json_body: Option<serde_json::Value>,
    /// Request timeout in seconds (default 10).
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// Where the value is in the response (default `{$}`: all of it).
    #[serde(default)]
    pub json_path: Option<String>,
    /// Skip TLS verification: honoured by the host for this first-party plugin (and logged).
    #[serde(default)]
    pub insecure: bool,
    /// Authentication.
    #[serde(default)]
    pub authentication: Option<Authentication>,
}

/// Argo's default web timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

struct Web;

impl Provider for Web {
    type Config = Config;

    fn measure(_ctx: &Context, config: Config) -> Result<Measurement, Error> {
        let method = config.method.clone().unwrap_or_else(|| "GET".into()).to_ascii_uppercase();
        if !matches!(method.as_str(), "GET" | "POST" | "PUT") {
            return Err(Error(format!("unsupported method {method:?}: web metrics support GET, POST and PUT")));
        }
        if config.body.is_some() && config.json_body.is_some() {
            return Err(Error::msg("body and jsonBody are mutually exclusive"));
        }
        let timeout = config.timeout_seconds.filter(|s| *s > 0).map_or(DEFAULT_TIMEOUT, Duration::from_secs);
        let mut request = http::Request::new(method.clone(), &config.url).timeout(timeout);
        if let Some(json) = &config.json_body {
            request = request.json(json);
        } else if let Some(body) = &config.body {
            request = request.body(body.clone());
        }
        if let Some(oauth2) = config.authentication.as_ref().and_then(|a| a.oauth2.as_ref()) {
            request = request.header("Authorization", oauth2.header()?);
        }
        for h in &config.headers {
            request = request.header(&h.key, &h.value);
        }
        let response = request.send().map_err(|e| go_url_error(&method, &config.url, e))?;
        if !response.is_success() {
            return Err(Error(format!("received non 2xx response code: {}", response.status)));
        }
        let body: serde_json::Value = response.json().map_err(|e| Error(format!("Could not parse JSON body: {e}")))?;
        let value = select(&body, config.json_path.as_deref().unwrap_or("{$}"))?;
        Ok(Measurement::measured(value))
    }
}

/// A request that got no response, worded as Go's `*url.Error` (`Get "http://x/": dial tcp
/// ...`), which is what Argo's web provider records: alerts and runbooks written against Argo's
/// messages keep matching.
fn go_url_error(method: &str, url: &str, e: http::Error) -> Error {
    let op = match method {
        "POST" => "Post",
        "PUT" => "Put",
        _ => "Get",
    };
    match e {
        http::Error::Transport(m) => Error(format!("{op} {url:?}: {m}")),
        http::Error::Timeout => {
            Error(format!("{op} {url:?}: context deadline exceeded (Client.Timeout exceeded while awaiting headers)"))
        }
        other => Error(other.to_string()),
    }
}

/// Evaluates a Kubernetes JSONPath template (`{$.data.ok}`, `{.data}`) on the body. One match is
/// the value itself; several make an array; none is Argo's "Could not find JSONPath" error.
pub fn select(body: &serde_json::Value, template: &str) -> Result<Value, Error> {
    match aviary_plugin_sdk::jsonpath::select(body, template) {
        Err(e) => Err(Error(format!("Could not find JSONPath in body: invalid jsonPath {template:?}: {e}"))),
        Ok(None) => Err(Error(format!("Could not find JSONPath in body: {template} is not found"))),
        Ok(Some(found)) => Ok(Value::from_json(found)),
    }
}

export_provider!(Web);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_path_templates_select_like_kubernetes() {
        let body = json!({"data": {"ok": true, "successPercent": 0.95, "items": [{"v": 1}, {"v": 2}]}});
        assert_eq!(select(&body, "{$}").unwrap().to_string(), body.to_string().replace(' ', ""));
        assert_eq!(select(&body, "{$.data.ok}").unwrap(), Value::Bool(true));
        assert_eq!(select(&body, "{.data.successPercent}").unwrap(), Value::Number(0.95));
        assert_eq!(select(&body, "$.data.items[*].v").unwrap().to_string(), "[1,2]");
        assert_eq!(select(&body, "{$.data.items[?(@.v > 1)].v}").unwrap().to_string(), "2");
    }

    #[test]
    fn missing_paths_use_argos_message() {
        let err = select(&json!({"a": 1}), "{$.b}").unwrap_err();
        assert!(err.0.starts_with("Could not find JSONPath in body"), "{err}");
        assert!(select(&json!({}), "{$..[}").is_err());
    }
}

//! json-number: an Aviary metric provider. It reads a JSON document over HTTP and returns the number
//! found at `path`, for the metric's successCondition to judge (`result < 1`).
//!
//! Every call runs in a fresh sandbox: no files, no environment, no sockets. The network is
//! `http::Request::send`, and only towards the hosts the plugin's registry entry allows.

use std::collections::BTreeMap;

use aviary_plugin_sdk::{Context, Error, Measurement, Provider, Value, export_provider, http};
use serde::Deserialize;

/// The configuration: the JSON under `provider.plugin.<name>` in an AnalysisTemplate, with
/// `{{args.*}}` already substituted.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// The JSON document to read.
    pub url: String,
    /// Where the number is: keys and array indices separated by dots (`data.0.hits`).
    #[serde(default = "default_path")]
    pub path: String,
    /// Extra request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

fn default_path() -> String {
    "value".to_string()
}

struct JsonNumber;

impl Provider for JsonNumber {
    type Config = Config;

    fn measure(_ctx: &Context, config: Config) -> Result<Measurement, Error> {
        let mut request = http::Request::get(&config.url).header("Accept", "application/json");
        for (name, value) in &config.headers {
            request = request.header(name, value);
        }
        let response = request.send()?;
        if !response.is_success() {
            return Err(Error::msg(format!("GET {}: HTTP {}", config.url, response.status)));
        }
        let body: serde_json::Value =
            response.json().map_err(|e| Error::msg(format!("GET {}: the body is not JSON: {e}", config.url)))?;
        match number_at(&body, &config.path) {
            Some(n) => Ok(Measurement::measured(Value::Number(n))),
            None => Err(Error::msg(format!("no number at {}", config.path))),
        }
    }
}

/// The number at `path` in `doc`: a JSON number, or a string holding one.
pub fn number_at(doc: &serde_json::Value, path: &str) -> Option<f64> {
    let mut at = doc;
    for key in path.split('.').filter(|k| !k.is_empty()) {
        at = match at {
            serde_json::Value::Object(map) => map.get(key)?,
            serde_json::Value::Array(items) => items.get(key.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    match at {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

export_provider!(JsonNumber);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_number_is_found_by_keys_and_indices() {
        let doc = serde_json::json!({"data": [{"hits": 42}, {"hits": "7.5"}], "name": "x"});
        assert_eq!(number_at(&doc, "data.0.hits"), Some(42.0));
        assert_eq!(number_at(&doc, "data.1.hits"), Some(7.5));
        assert_eq!(number_at(&doc, "name"), None);
        assert_eq!(number_at(&doc, "data.2.hits"), None);
    }
}

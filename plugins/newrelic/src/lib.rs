//! `aviary/newrelic` (Argo's `newRelic` provider): runs an NRQL query through NerdGraph, New
//! Relic's GraphQL API, and hands the result rows to the metric's conditions.
//!
//! Fields are Argo's `NewRelicMetric`: `query` (NRQL), `timeout` (seconds, default 5, negative is
//! an error) and `profile` (the Secret holding the account; default `newrelic`, in the
//! controller's namespace). Credentials never come from the template: the controller reads that
//! Secret's keys as Argo does (`personal-api-key`, `account-id`, `region`, `base-url-nerdgraph`)
//! and adds them to the config as `personalApiKey`, `accountId`, `region` and `baseUrlNerdgraph`
//! (the NerdGraph URL of the region when the Secret names none); the key is redacted from every
//! message. `base-url-rest` is read too, as Argo does, but NRQL never uses the REST API.
//!
//! The request is newrelic-client-go's, which Argo uses: `POST` to NerdGraph
//! (`https://api.newrelic.com/graphql`; `eu`: `https://api.eu.newrelic.com/graphql`; `staging`
//! and `local` too; an unknown region is the US one, as the client does; `baseUrlNerdgraph`
//! replaces it) with `Api-Key`, `Content-Type: application/json`, `NewRelic-Requesting-Services`
//! and `X-Query-Source-Component-Id`, and Argo's GraphQL document ([`NRQL_QUERY`]) with the
//! variables `accountId`, `query` and `timeout`. One result row is handed to the conditions as an
//! object (`result.count < 10`, `result['percentile.duration']['95'] < 0.5`), several as a list of
//! objects (a `FACET` or `TIMESERIES` query); no row, or one empty row, is an Error "no results
//! returned from NRQL query". GraphQL `errors` are an Error with their messages (joined by `, `),
//! except deprecation notices, as the client does; a 401 is the client's "Invalid credentials
//! provided" error.
//!
//! Differences from Argo: the client retries a 5xx or a NerdGraph `TIMEOUT` up to three times with
//! back-off within one measurement; Aviary reports it as an Error, and the next measurement (the
//! metric's `interval` later, within its `consecutiveErrorLimit`) is the retry. The `User-Agent`
//! names Aviary rather than Argo.

use std::time::Duration;

use aviary_plugin_sdk::{Context, Error, Measurement, Provider, Value, export_provider, http};
use serde::Deserialize;

/// Argo's GraphQL document, byte for byte.
pub const NRQL_QUERY: &str = concat!(
    "query (\n",
    "  $query: Nrql!, \n",
    "  $accountId: Int!,\n",
    "  $timeout: Seconds!\n",
    ")\n",
    "{\n",
    "  actor {\n",
    "    account(id: $accountId) {\n",
    "      nrql(query: $query, timeout: $timeout) {\n",
    "        results\n",
    "      }\n",
    "    }\n",
    "  }\n",
    "}\n",
);

/// NRQL's timeout when the metric sets none (seconds).
pub const DEFAULT_TIMEOUT: i64 = 5;

/// The provider block, as Argo writes it, plus what the controller adds from the Secret.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// NRQL.
    #[serde(default)]
    pub query: String,
    /// NRQL's timeout in seconds (default 5).
    #[serde(default)]
    pub timeout: Option<i64>,
    /// The Secret the controller read (informational here).
    #[serde(default)]
    pub profile: String,
    /// Added by the controller: the personal API key.
    #[serde(default)]
    pub personal_api_key: String,
    /// Added by the controller: the account ID (digits).
    #[serde(default)]
    pub account_id: String,
    /// Added by the controller: `us` (default), `eu`, `staging` or `local`.
    #[serde(default)]
    pub region: String,
    /// Added by the controller: the NerdGraph URL, replacing the region's.
    #[serde(default)]
    pub base_url_nerdgraph: Option<String>,
    /// Read by Argo and passed on; NRQL does not use the REST API.
    #[serde(default)]
    pub base_url_rest: Option<String>,
}

struct NewRelic;

impl Provider for NewRelic {
    type Config = Config;

    fn measure(_ctx: &Context, config: Config) -> Result<Measurement, Error> {
        let request = request(&config).map_err(Error)?;
        let response = request.send()?;
        Ok(judge(response.status, &response.body))
    }
}

export_provider!(NewRelic);

/// NerdGraph's URL for a region, as newrelic-client-go's region table has it (an unknown region
/// is the default, US).
pub fn nerdgraph_url(region: &str) -> &'static str {
    match region.to_ascii_lowercase().as_str() {
        "eu" => "https://api.eu.newrelic.com/graphql",
        "staging" => "https://staging-api.newrelic.com/graphql",
        "local" => "http://localhost:3000/graphql",
        _ => "https://api.newrelic.com/graphql",
    }
}

/// The NerdGraph request, checked as Argo checks the Secret and the metric.
pub fn request(c: &Config) -> Result<http::Request, String> {
    if c.personal_api_key.is_empty() || c.account_id.is_empty() {
        return Err("account ID or personal API key not found".into());
    }
    let url = match c.base_url_nerdgraph.as_deref() {
        Some("") => return Err("nerdgraph base URL can not be empty".into()),
        Some(url) => url,
        None => nerdgraph_url(&c.region),
    };
    let account: i64 =
        c.account_id.trim().parse().map_err(|_| {
            format!("could not parse account ID: strconv.Atoi: parsing {:?}: invalid syntax", c.account_id)
        })?;
    let timeout = c.timeout.unwrap_or(DEFAULT_TIMEOUT);
    if timeout < 0 {
        return Err("timeout value needs to be a positive value".into());
    }
    let body = serde_json::json!({
        "query": NRQL_QUERY,
        "variables": {"accountId": account, "query": c.query, "timeout": timeout},
    });
    // NRQL's own timeout plus time to answer; the host's deadline applies as well.
    let wait = Duration::from_secs(u64::try_from(timeout).unwrap_or(0).saturating_add(10));
    Ok(http::Request::post(url)
        .header("Api-Key", &c.personal_api_key)
        .header("NewRelic-Requesting-Services", "newrelic-client-go")
        .header("X-Query-Source-Component-Id", "newrelic-client-go")
        .header("User-Agent", concat!("aviary/", env!("CARGO_PKG_VERSION"), " (argo-rollouts newRelic provider)"))
        .json(&body)
        .timeout(wait))
}

#[derive(Debug, Default, Deserialize)]
struct GraphQlError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    extensions: Extensions,
}

#[derive(Debug, Default, Deserialize)]
struct Extensions {
    #[serde(default)]
    error_code: String,
}

#[derive(Debug, Default, Deserialize)]
struct Errors {
    #[serde(default)]
    errors: Vec<GraphQlError>,
}

/// The measurement NerdGraph's answer gives, judged as newrelic-client-go and Argo do.
pub fn judge(status: u16, body: &[u8]) -> Measurement {
    if status == 404 {
        return Measurement::error("resource not found");
    }
    let errors: Errors = serde_json::from_slice(body).unwrap_or_default();
    let messages: Vec<&str> = errors.errors.iter().map(|e| e.message.as_str()).filter(|m| !m.is_empty()).collect();
    if !(200..300).contains(&status) {
        let unauthorized = !errors.errors.is_empty()
            && (status == 401 || errors.errors.iter().any(|e| e.extensions.error_code == "BAD_API_KEY"));
        let message = if status == 402 {
            "Payment Required".to_string()
        } else if unauthorized {
            "401 response returned: Invalid credentials provided. Missing API key or an invalid API key was provided."
                .to_string()
        } else if messages.is_empty() {
            format!("{status} response returned")
        } else {
            format!("{status} response returned: {}", messages.join(", "))
        };
        return Measurement::error(message);
    }
    let deprecated = errors.errors.iter().any(|e| e.message.starts_with("This field is deprecated!"));
    if !deprecated && !messages.is_empty() {
        return Measurement::error(messages.join(", "));
    }
    match results(body) {
        Ok(value) => Measurement::measured(value),
        Err(e) => Measurement::error(e),
    }
}

/// `data.actor.account.nrql.results`: one row as an object, several as a list.
pub fn results(body: &[u8]) -> Result<Value, String> {
    let parsed: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("cannot parse the NerdGraph answer: {e}"))?;
    let rows = match parsed.pointer("/data/actor/account/nrql/results") {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(serde_json::Value::Array(rows)) => rows.clone(),
        Some(other) => return Err(format!("NerdGraph's nrql.results is not a list: {other}")),
    };
    if let Some(bad) = rows.iter().find(|r| !r.is_object()) {
        return Err(format!("NerdGraph's nrql.results holds {bad}, not a row"));
    }
    match rows.as_slice() {
        [] => Err("no results returned from NRQL query".into()),
        [one] if one.as_object().is_some_and(|o| o.is_empty()) => Err("no results returned from NRQL query".into()),
        [one] => Ok(Value::from_json(one.clone())),
        _ => Ok(Value::from_json(serde_json::Value::Array(rows))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aviary_plugin_sdk::Phase;

    fn config() -> Config {
        Config {
            query: "FROM K8sContainerSample SELECT average(cpuUsedCores)".into(),
            personal_api_key: "NRAK-KEY".into(),
            account_id: "1234567".into(),
            ..Config::default()
        }
    }

    fn nrql(results: serde_json::Value) -> Vec<u8> {
        serde_json::json!({"data": {"actor": {"account": {"nrql": {"results": results}}}}}).to_string().into_bytes()
    }

    #[test]
    fn the_secret_and_metric_are_checked_with_argos_messages() {
        let missing = Config { personal_api_key: String::new(), ..config() };
        assert_eq!(request(&missing).unwrap_err(), "account ID or personal API key not found");
        let bad_id = Config { account_id: "12ab".into(), ..config() };
        assert_eq!(
            request(&bad_id).unwrap_err(),
            "could not parse account ID: strconv.Atoi: parsing \"12ab\": invalid syntax"
        );
        let negative = Config { timeout: Some(-1), ..config() };
        assert_eq!(request(&negative).unwrap_err(), "timeout value needs to be a positive value");
        let empty_url = Config { base_url_nerdgraph: Some(String::new()), ..config() };
        assert_eq!(request(&empty_url).unwrap_err(), "nerdgraph base URL can not be empty");
    }

    #[test]
    fn regions_map_to_nerdgraph_urls_as_the_client_does() {
        assert_eq!(nerdgraph_url(""), "https://api.newrelic.com/graphql");
        assert_eq!(nerdgraph_url("EU"), "https://api.eu.newrelic.com/graphql");
        assert_eq!(nerdgraph_url("staging"), "https://staging-api.newrelic.com/graphql");
        assert_eq!(nerdgraph_url("mars"), "https://api.newrelic.com/graphql");
    }

    #[test]
    fn one_row_is_an_object_several_a_list_none_an_error() {
        let m = judge(200, &nrql(serde_json::json!([{"average.cpuUsedCores": 0.25}])));
        let Some(Value::Object(row)) = &m.value else { panic!("{m:?}") };
        assert_eq!(row["average.cpuUsedCores"], Value::Number(0.25));
        let m = judge(200, &nrql(serde_json::json!([{"facet": "a", "count": 1}, {"facet": "b", "count": 2}])));
        assert!(matches!(&m.value, Some(Value::Array(rows)) if rows.len() == 2), "{m:?}");
        for empty in [serde_json::json!([]), serde_json::json!([{}]), serde_json::Value::Null] {
            let m = judge(200, &nrql(empty));
            assert_eq!((m.phase, m.message.as_str()), (Phase::Error, "no results returned from NRQL query"));
        }
    }

    #[test]
    fn graphql_errors_and_statuses_read_as_the_client_words_them() {
        let errors =
            |list: serde_json::Value| serde_json::json!({"errors": list, "data": null}).to_string().into_bytes();
        let m = judge(200, &errors(serde_json::json!([{"message": "NRQL Syntax Error: x"}, {"message": "second"}])));
        assert_eq!(m.message, "NRQL Syntax Error: x, second");
        let deprecated = serde_json::json!({"errors": [{"message": "This field is deprecated! Use y."}],
            "data": {"actor": {"account": {"nrql": {"results": [{"count": 3}]}}}}});
        let m = judge(200, deprecated.to_string().as_bytes());
        assert_eq!(m.phase, Phase::Measured, "{}", m.message);
        let m = judge(
            401,
            &errors(serde_json::json!([{"message": "bad key", "extensions": {"error_code": "BAD_API_KEY"}}])),
        );
        assert!(m.message.starts_with("401 response returned: Invalid credentials provided."), "{}", m.message);
        assert_eq!(judge(503, b"unavailable").message, "503 response returned");
        assert_eq!(judge(404, b"").message, "resource not found");
    }
}

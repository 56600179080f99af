//! `aviary/skywalking` (Argo's `skywalking` provider): one GraphQL query to an Apache SkyWalking
//! OAP server, whose `data` is the value the metric's conditions judge.
//!
//! As Argo's provider (and the GraphQL client it uses) does: `POST {address}/graphql` with
//! `{"query": <query>, "variables": {"duration": {"start", "end", "step": "MINUTE"}}}`, the
//! window being the last `interval` (a Go duration, required) up to now, in SkyWalking's minute
//! format `2006-01-02 1504` (UTC). The answer's `data` object, whatever the query's shape, is the
//! value (`result.service_apdex.values.values[0].value` in a condition); the first of its
//! `errors` is an error measurement (`graphql: <message>`), and no `data` is the error
//! `no results returned from SkyWalking query`. There are no credentials (Argo's provider has
//! none); the one host the plugin may reach is `address`.

pub mod error;
pub mod query;

use std::time::{Duration, SystemTime};

use aviary_plugin_sdk::{Context, Error, Measurement, Provider, Value, export_provider, http};
use serde::Deserialize;

pub use error::SkyWalkingError;

/// The query's timeout (Argo's `defaultQueryTimeout`).
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(30);

/// `provider.skywalking`, field for field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// The OAP server's address (`http://skywalking-oap.skywalking:12800`); `/graphql` is added.
    #[serde(default)]
    pub address: String,
    /// The GraphQL query; it may use the `$duration` variable.
    #[serde(default)]
    pub query: String,
    /// The window the `duration` variable covers, a Go duration (`5m`).
    #[serde(default)]
    pub interval: String,
}

struct SkyWalking;

impl Provider for SkyWalking {
    type Config = Config;

    fn measure(_ctx: &Context, config: Config) -> Result<Measurement, Error> {
        Ok(match run(&config, SystemTime::now()) {
            Ok(data) => Measurement::measured(Value::from_json(data)),
            Err(e) => Measurement::error(e.to_string()),
        })
    }
}

export_provider!(SkyWalking);

/// Sends the query for the window ending at `now` and returns the answer's `data`.
fn run(c: &Config, now: SystemTime) -> Result<serde_json::Value, SkyWalkingError> {
    let request = query::Query::new(c)?;
    let response = http::Request::post(request.url())
        .header("Content-Type", "application/json; charset=utf-8")
        .header("Accept", "application/json; charset=utf-8")
        .body(request.body(now).to_string())
        .timeout(QUERY_TIMEOUT)
        .send()
        .map_err(|e| SkyWalkingError::Http(e.to_string()))?;
    query::data(response.status, &response.body)
}

//! `aviary/kayenta` (Argo's `kayenta` provider): a canary judgement by a Kayenta server, started
//! by one measurement and polled until Kayenta has scored it.
//!
//! As Argo's provider does:
//!
//! 1. `measure` looks the canary config up by name (`GET {address}/canaryConfig?application=..
//!    &configurationAccountName=..`, where Argo passes the `storageAccountName`), then starts an
//!    execution (`POST {address}/canary/{configId}?application=..&metricsAccountName=..
//!    &configurationAccountName=..&storageAccountName=..` with the scopes and thresholds) and
//!    returns `Running` with the `canaryExecutionId` in the metadata, to resume in 15 s.
//! 2. `resume` polls `GET {address}/canary/{canaryExecutionId}`: `complete: false` is `Running`
//!    again; complete, the score (`result.judgeResult.score.score`, truncated to an integer) is
//!    the value and is judged against `threshold`: `>= pass` Successful, `>= marginal`
//!    Inconclusive, lower Failed. The metric's conditions are not used.
//! 3. `terminate` leaves the measurement as it is, sending nothing (Argo does not cancel the
//!    execution either).
//!
//! A scope without `start`/`end` gets them from the time of the measurement: the end is now, the
//! start one metric `interval` earlier, or the run's start with `lookback: true`. The metric's
//! interval and the run's start are not in the provider block: the controller adds them to the
//! config as `interval` and `runStartedAt`. There are no credentials (Argo's provider has none);
//! the one host the plugin may reach is `address`.

pub mod answer;
pub mod config;
pub mod error;
pub mod request;

use std::time::{Duration, SystemTime};

use aviary_plugin_sdk::{Context, Error, Measurement, Provider, Value, export_provider, http};

use answer::Execution;
pub use config::Config;
pub use error::KayentaError;

/// How long to wait before polling an execution again (Argo's `resumeDelay`).
pub const RESUME_DELAY: Duration = Duration::from_secs(15);
/// Each request's timeout (Argo's `httpConnectionTimeout`).
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(15);
/// The metadata key holding the execution to poll (Argo's).
pub const EXECUTION_ID: &str = "canaryExecutionId";

struct Kayenta;

impl Provider for Kayenta {
    type Config = Config;

    fn measure(_ctx: &Context, config: Config) -> Result<Measurement, Error> {
        Ok(start(&config, SystemTime::now()).unwrap_or_else(|e| Measurement::error(e.to_string())))
    }

    fn resume(_ctx: &Context, config: Config, measurement: Measurement) -> Result<Measurement, Error> {
        Ok(poll(&config, measurement))
    }

    fn terminate(_ctx: &Context, _config: Config, measurement: Measurement) -> Result<Measurement, Error> {
        Ok(measurement)
    }
}

export_provider!(Kayenta);

/// Looks the canary config up and starts an execution for the window ending at `now`.
fn start(c: &Config, now: SystemTime) -> Result<Measurement, KayentaError> {
    let base = c.base()?;
    let configs = ok_body(http::Request::get(request::config_lookup_url(c, base)).timeout(HTTP_TIMEOUT).send())?;
    let config_id = answer::config_id(&configs, &c.canary_config_name)?;
    let body = request::start_request(c, now)?;
    let body = serde_json::to_value(&body)
        .map_err(|e| KayentaError::Decode { what: "cannot encode the request", reason: e.to_string() })?;
    let started =
        ok_body(http::Request::post(request::start_url(c, base, &config_id)).json(&body).timeout(HTTP_TIMEOUT).send())?;
    let id = answer::execution_id(&started)?;
    Ok(Measurement::running(RESUME_DELAY).with_metadata(EXECUTION_ID, id))
}

/// Polls the execution of a running measurement; errors keep its metadata, as Argo's do.
fn poll(c: &Config, measurement: Measurement) -> Measurement {
    let polled = (|| {
        let base = c.base()?;
        let id =
            measurement.metadata.get(EXECUTION_ID).filter(|id| !id.is_empty()).ok_or(KayentaError::NoExecutionId)?;
        let status = ok_body(http::Request::get(request::status_url(base, id)).timeout(HTTP_TIMEOUT).send())?;
        answer::execution(&status)
    })();
    let metadata = measurement.metadata.clone();
    let judged = match polled {
        Ok(Execution::Running) => Measurement { resume_after: Some(RESUME_DELAY), ..measurement },
        Ok(Execution::Scored(score)) => {
            let value = Value::Number(score as f64);
            Measurement::judged(answer::judge(score, c.threshold), Some(value))
        }
        Err(e) => Measurement::error(e.to_string()),
    };
    Measurement { metadata, ..judged }
}

/// The body of a 200 answer; any other status (or none) is an error.
fn ok_body(sent: Result<http::Response, http::Error>) -> Result<Vec<u8>, KayentaError> {
    let response = sent.map_err(|e| KayentaError::Http(e.to_string()))?;
    if response.status != 200 {
        // Kayenta's errors are JSON with a `message`; show it when there is one.
        let detail = serde_json::from_slice::<serde_json::Value>(&response.body)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(|m| format!(": {m}")))
            .unwrap_or_default();
        return Err(KayentaError::Status { status: response.status, detail });
    }
    Ok(response.body)
}

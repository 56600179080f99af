//! The provider block as Argo's `KayentaMetric` has it, plus the two facts of the run that Argo's
//! provider reads from the AnalysisRun and the metric, which a sandboxed component can only get
//! through its config: the controller adds them (see `host/controller/src/analysis/providers.rs`).

use serde::Deserialize;

use crate::error::KayentaError;

/// `provider.kayenta`, field for field.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// The Kayenta server (`https://kayenta.example`), the one host the plugin may reach.
    #[serde(default)]
    pub address: String,
    /// The Kayenta application the canary config belongs to.
    #[serde(default)]
    pub application: String,
    /// The name of the canary config to judge with.
    #[serde(default)]
    pub canary_config_name: String,
    /// The account Kayenta reads metrics from.
    #[serde(default)]
    pub metrics_account_name: String,
    /// The account Kayenta keeps canary configs in.
    #[serde(default)]
    pub configuration_account_name: String,
    /// The account Kayenta keeps results in.
    #[serde(default)]
    pub storage_account_name: String,
    /// The score thresholds.
    #[serde(default)]
    pub threshold: Threshold,
    /// The scopes to compare, each a control and an experiment.
    #[serde(default)]
    pub scopes: Vec<Scope>,
    /// Start every scope without a `start` at the run's start instead of one `interval` ago.
    #[serde(default, deserialize_with = "null_is_false")]
    pub lookback: bool,
    /// Added by the controller: the metric's `interval` (a Go duration), the window of a scope
    /// without `start` when `lookback` is off.
    #[serde(default)]
    pub interval: String,
    /// Added by the controller: when the AnalysisRun started (RFC 3339), the start of a scope
    /// without `start` when `lookback` is on.
    #[serde(default)]
    pub run_started_at: String,
}

/// `threshold`: scores at or above `pass` pass, at or above `marginal` are inconclusive, lower
/// ones fail.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct Threshold {
    /// The lowest passing score.
    #[serde(default)]
    pub pass: i64,
    /// The lowest inconclusive score.
    #[serde(default)]
    pub marginal: i64,
}

/// One entry of `scopes`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scope {
    /// The scope's name (the key of the request's `scopes` map).
    #[serde(default)]
    pub name: String,
    /// The baseline's scope.
    #[serde(default)]
    pub control_scope: ScopeDetail,
    /// The canary's scope.
    #[serde(default)]
    pub experiment_scope: ScopeDetail,
}

/// `controlScope` / `experimentScope`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ScopeDetail {
    /// The metrics query's scope (`app=guestbook and rollouts-pod-template-hash=...`).
    #[serde(default)]
    pub scope: String,
    /// Sent to Kayenta as the scope's `location`.
    #[serde(default)]
    pub region: String,
    /// The step in seconds.
    #[serde(default)]
    pub step: i64,
    /// RFC 3339 start; empty: computed (see [`Config::lookback`]).
    #[serde(default)]
    pub start: String,
    /// RFC 3339 end; empty: the time of the measurement.
    #[serde(default)]
    pub end: String,
}

fn null_is_false<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(false))
}

impl Config {
    /// The address without a trailing slash, refused when it is not an http(s) URL: the plugin
    /// could reach nothing else anyway, and the message names the field.
    pub fn base(&self) -> Result<&str, KayentaError> {
        let address = self.address.trim_end_matches('/');
        if !(address.starts_with("http://") || address.starts_with("https://")) {
            return Err(KayentaError::Address(self.address.clone()));
        }
        Ok(address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argos_block_reads_with_the_controllers_additions() {
        let c: Config = serde_json::from_value(serde_json::json!({
            "address": "https://kayenta.example/", "application": "guestbook",
            "canaryConfigName": "cc", "metricsAccountName": "m", "configurationAccountName": "c",
            "storageAccountName": "s", "threshold": {"pass": 90, "marginal": 75},
            "scopes": [{"name": "default",
                        "controlScope": {"scope": "a", "region": "us-west-2", "step": 60},
                        "experimentScope": {"scope": "b", "region": "us-west-2", "step": 60}}],
            "lookback": null, "interval": "5m", "runStartedAt": "2019-03-29T01:00:00Z"
        }))
        .unwrap();
        assert_eq!(c.threshold, Threshold { pass: 90, marginal: 75 });
        assert_eq!(c.scopes[0].control_scope.region, "us-west-2");
        assert!(!c.lookback);
        assert_eq!(c.base().unwrap(), "https://kayenta.example");
    }

    #[test]
    fn an_address_that_is_not_a_url_is_refused_by_name() {
        let c = Config { address: "kayenta:8090".into(), ..Config::default() };
        assert_eq!(c.base().unwrap_err().to_string(), r#"address "kayenta:8090" is not an http:// or https:// URL"#);
    }
}

//! Which plugin takes a metric's measurements, and with what config.
//!
//! Argo's providers map to plugins by name: `web`, `prometheus`, `datadog`, `graphite`,
//! `influxdb`, `wavefront` and `newRelic` are first-party
//! components embedded in the binary (datadog's credentials are added by the caller, see
//! [`super::credentials`]; influxdb's, wavefront's and newRelic's in [`super::profile_secrets`];
//! graphite needs none; `kayenta` and `skywalking` need none either, kayenta gets the metric's
//! `interval` and the run's start added to its config), `plugin: {org/name: config}` is a plugin
//! from the registry. Argo
//! providers Aviary does not ship yet get an `Error` measurement naming them, never a silent
//! skip.

use std::time::Duration;

use aviary_api::AnalysisPhase;
use aviary_api::analysis::{Measurement, Metric};
use aviary_plugins::Phase;
use chrono::{DateTime, SecondsFormat, Utc};

/// The plugin name and its config (JSON) for a metric.
pub fn plugin_for(metric: &Metric) -> Result<(String, String), String> {
    let p = &metric.provider;
    let json = |v: serde_json::Result<String>| v.map_err(|e| format!("cannot serialise the provider config: {e}"));
    if let Some(web) = &p.web {
        return Ok(("web".into(), json(serde_json::to_string(web))?));
    }
    if let Some(prom) = &p.prometheus {
        return Ok(("prometheus".into(), json(serde_json::to_string(prom))?));
    }
    if let Some(datadog) = &p.datadog {
        return Ok(("datadog".into(), json(serde_json::to_string(datadog))?));
    }
    if let Some(job) = &p.job {
        return Ok(("job".into(), json(serde_json::to_string(job))?));
    }
    if let Some(cloud_watch) = &p.cloud_watch {
        return Ok(("cloudWatch".into(), json(serde_json::to_string(cloud_watch))?));
    }
    if let Some(graphite) = &p.graphite {
        return Ok(("graphite".into(), json(serde_json::to_string(graphite))?));
    }
    if let Some(influxdb) = &p.influxdb {
        return Ok(("influxdb".into(), json(serde_json::to_string(influxdb))?));
    }
    if let Some(wavefront) = &p.wavefront {
        return Ok(("wavefront".into(), json(serde_json::to_string(wavefront))?));
    }
    if let Some(new_relic) = &p.new_relic {
        return Ok(("newRelic".into(), json(serde_json::to_string(new_relic))?));
    }
    if let Some(kayenta) = &p.kayenta {
        // Argo's provider also reads the metric's interval (a scope's window without `start`).
        let mut config =
            serde_json::to_value(kayenta).map_err(|e| format!("cannot serialise the provider config: {e}"))?;
        if let Some(fields) = config.as_object_mut() {
            fields.insert("interval".into(), metric.interval.clone().into());
        }
        return Ok(("kayenta".into(), config.to_string()));
    }
    if let Some(skywalking) = &p.skywalking {
        return Ok(("skywalking".into(), json(serde_json::to_string(skywalking))?));
    }
    if let Some((name, config)) = p.plugin.iter().next() {
        if p.plugin.len() > 1 {
            return Err(format!("metric {:?}: provider.plugin must name exactly one plugin", metric.name));
        }
        return Ok((name.clone(), config.to_string()));
    }
    Err(format!("metric {:?} has no provider", metric.name))
}

/// Adds to a `kayenta` config the time its `lookback` starts from: the AnalysisRun's start, which
/// Argo's provider reads from the run (`runStartedAt`, RFC 3339, whole seconds as Go's RFC3339).
pub fn with_run_started_at(config: &str, started: DateTime<Utc>) -> Result<String, String> {
    let mut value: serde_json::Value =
        serde_json::from_str(config).map_err(|e| format!("cannot read the provider config: {e}"))?;
    let fields = value.as_object_mut().ok_or("the kayenta provider config is not an object")?;
    fields.insert("runStartedAt".into(), started.to_rfc3339_opts(SecondsFormat::Secs, true).into());
    Ok(value.to_string())
}

/// An in-flight measurement from the run's status, as the plugin host takes it back.
pub fn to_host(m: &Measurement) -> aviary_plugins::Measurement {
    aviary_plugins::Measurement {
        phase: match m.phase {
            AnalysisPhase::Running | AnalysisPhase::Pending => Phase::Running,
            AnalysisPhase::Successful => Phase::Successful,
            AnalysisPhase::Failed => Phase::Failed,
            AnalysisPhase::Inconclusive => Phase::Inconclusive,
            AnalysisPhase::Error => Phase::Error,
        },
        value: (!m.value.is_empty()).then(|| m.value.clone()),
        message: m.message.clone(),
        metadata: m.metadata.clone(),
        resume_after: None::<Duration>,
        failure: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aviary_api::analysis::MetricProvider;

    #[test]
    fn graphite_influxdb_wavefront_and_newrelic_map_to_their_first_party_plugins() {
        for (provider, plugin, field) in [
            (serde_json::json!({"graphite": {"address": "http://g:8080", "query": "target=a"}}), "graphite", "query"),
            (serde_json::json!({"influxdb": {"profile": "influx-prod", "query": "from()"}}), "influxdb", "profile"),
            (
                serde_json::json!({"wavefront": {"address": "a.wavefront.com", "query": "ts(x)"}}),
                "wavefront",
                "address",
            ),
            (serde_json::json!({"newRelic": {"query": "SELECT 1", "timeout": 10}}), "newRelic", "timeout"),
        ] {
            let m: Metric =
                serde_json::from_value(serde_json::json!({"name": "m", "provider": provider.clone()})).unwrap();
            let (name, config) = plugin_for(&m).unwrap();
            assert_eq!(name, plugin);
            let config: serde_json::Value = serde_json::from_str(&config).unwrap();
            let block = provider.as_object().unwrap().values().next().unwrap();
            assert_eq!(config[field], block[field], "{provider}");
        }
    }

    #[test]
    fn kayenta_gets_the_metrics_interval_and_the_runs_start_and_skywalking_its_block() {
        let m: Metric = serde_json::from_value(serde_json::json!({
            "name": "m", "interval": "5m", "provider": {"kayenta": {
                "address": "http://kayenta:8090", "application": "guestbook", "canaryConfigName": "cc",
                "metricsAccountName": "prom", "configurationAccountName": "cfg", "storageAccountName": "store",
                "threshold": {"pass": 90, "marginal": 75}, "lookback": true,
                "scopes": [{"name": "default",
                            "controlScope": {"scope": "a", "region": "r", "step": 60},
                            "experimentScope": {"scope": "b", "region": "r", "step": 60}}]}}
        }))
        .unwrap();
        let (plugin, config) = plugin_for(&m).unwrap();
        assert_eq!(plugin, "kayenta");
        let started = DateTime::parse_from_rfc3339("2024-05-01T11:02:03.456Z").unwrap().with_timezone(&Utc);
        let config: serde_json::Value = serde_json::from_str(&with_run_started_at(&config, started).unwrap()).unwrap();
        assert_eq!((config["interval"].as_str(), config["lookback"].as_bool()), (Some("5m"), Some(true)));
        assert_eq!(config["runStartedAt"], "2024-05-01T11:02:03Z");
        assert_eq!(config["threshold"]["marginal"], 75);
        assert_eq!(config["scopes"][0]["experimentScope"]["scope"], "b");

        let m: Metric = serde_json::from_value(serde_json::json!({
            "name": "m", "provider": {"skywalking": {"address": "http://oap:12800", "query": "{ x }", "interval": "3m"}}
        }))
        .unwrap();
        let (plugin, config) = plugin_for(&m).unwrap();
        assert_eq!(plugin, "skywalking");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&config).unwrap(),
            serde_json::json!({"address": "http://oap:12800", "query": "{ x }", "interval": "3m"})
        );
    }

    #[test]
    fn argo_providers_map_to_plugins_and_a_metric_without_one_is_an_error() {
        let m: Metric = serde_json::from_value(serde_json::json!({
            "name": "m", "provider": {"web": {"url": "http://x/y", "jsonPath": "{$.a}"}}
        }))
        .unwrap();
        let (plugin, config) = plugin_for(&m).unwrap();
        assert_eq!(plugin, "web");
        let config: serde_json::Value = serde_json::from_str(&config).unwrap();
        assert_eq!(config["jsonPath"], "{$.a}");

        let m: Metric = serde_json::from_value(serde_json::json!({
            "name": "m", "provider": {"plugin": {"acme/dd": {"query": "q"}}}
        }))
        .unwrap();
        assert_eq!(plugin_for(&m).unwrap(), ("acme/dd".to_string(), r#"{"query":"q"}"#.to_string()));

        let m: Metric = serde_json::from_value(serde_json::json!({
            "name": "m", "provider": {"job": {"spec": {"template": {"spec": {"containers": []}}}}}
        }))
        .unwrap();
        let (plugin, config) = plugin_for(&m).unwrap();
        assert_eq!(plugin, "job");
        let config: serde_json::Value = serde_json::from_str(&config).unwrap();
        assert_eq!(config["spec"]["template"]["spec"]["containers"], serde_json::json!([]));

        let m: Metric = serde_json::from_value(serde_json::json!({
            "name": "m", "provider": {"datadog": {"apiVersion": "v2", "queries": {"a": "q"}, "formula": "a",
                                                  "secretRef": {"name": "dd", "namespaced": true}}}
        }))
        .unwrap();
        let (plugin, config) = plugin_for(&m).unwrap();
        assert_eq!(plugin, "datadog");
        let config: serde_json::Value = serde_json::from_str(&config).unwrap();
        assert_eq!(config["queries"]["a"], "q");
        assert_eq!(config["secretRef"]["name"], "dd");
        let empty = Metric { name: "m".into(), provider: MetricProvider::default(), ..Default::default() };
        assert!(plugin_for(&empty).is_err());
    }
}

//! Which plugin takes a metric's measurements, and with what config.
//!
//! Argo's providers map to plugins by name: `web`, `prometheus` and `datadog` are first-party
//! components embedded in the binary (datadog's credentials are added by the caller, see
//! [`super::credentials`]), `plugin: {org/name: config}` is a plugin from the registry. Argo
//! providers Aviary does not ship yet get an `Error` measurement naming them, never a silent
//! skip.

use std::time::Duration;

use aviary_api::AnalysisPhase;
use aviary_api::analysis::{Measurement, Metric};
use aviary_plugins::Phase;

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
    if let Some((name, config)) = p.plugin.iter().next() {
        if p.plugin.len() > 1 {
            return Err(format!("metric {:?}: provider.plugin must name exactly one plugin", metric.name));
        }
        return Ok((name.clone(), config.to_string()));
    }
    let unsupported = [
        (p.kayenta.is_some(), "kayenta"),
        (p.wavefront.is_some(), "wavefront"),
        (p.new_relic.is_some(), "newRelic"),
        (p.job.is_some(), "job"),
        (p.cloud_watch.is_some(), "cloudWatch"),
        (p.graphite.is_some(), "graphite"),
        (p.influxdb.is_some(), "influxdb"),
        (p.skywalking.is_some(), "skywalking"),
    ];
    match unsupported.iter().find(|(set, _)| *set) {
        Some((_, name)) => Err(format!(
            "provider {name:?} is not available in Aviary yet: register a plugin for it and use provider.plugin"
        )),
        None => Err(format!("metric {:?} has no provider", metric.name)),
    }
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
    fn argo_providers_map_to_plugins_and_unsupported_ones_are_named() {
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
        assert!(plugin_for(&m).unwrap_err().contains("provider \"job\" is not available"));

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

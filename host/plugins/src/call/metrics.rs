//! Prometheus metrics of the plugin host: calls, their duration, failures by stable reason, and
//! the loaded plugins by name and digest. Labels carry plugin names (a handful per cluster),
//! never object names, so cardinality stays bounded however many rollouts there are.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::host::PluginHost;

/// Labels of a call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// The plugin's name.
    pub plugin: String,
    /// `measure`, `resume`, `terminate` or `evaluate`.
    pub operation: String,
    /// `ok` or the failure reason (`timeout`, `memory_limit`, `trap`, `invalid_value`,
    /// `unavailable`, `denied_host`).
    pub outcome: String,
}

/// Labels of a duration.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PluginLabels {
    /// The plugin's name.
    pub plugin: String,
}

/// Labels of a refused request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeniedLabels {
    /// The plugin's name.
    pub plugin: String,
    /// `host` (not in allowedHosts), `kubernetes` (a Kubernetes call its grants do not allow)
    /// or `budget` (past the per-call request budget).
    pub reason: String,
}

/// Labels of a loaded plugin.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LoadedLabels {
    plugin: String,
    kind: String,
    digest: String,
}

/// The host's metric families.
#[derive(Debug)]
pub struct PluginMetrics {
    calls: Family<CallLabels, Counter>,
    duration: Family<PluginLabels, Histogram, fn() -> Histogram>,
    denied: Family<DeniedLabels, Counter>,
}

fn duration_histogram() -> Histogram {
    // From 100 µs (a condition) to 30 s (a provider's default deadline).
    Histogram::new([0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0])
}

impl Default for PluginMetrics {
    fn default() -> Self {
        Self {
            calls: Family::default(),
            duration: Family::new_with_constructor(duration_histogram),
            denied: Family::default(),
        }
    }
}

impl PluginMetrics {
    /// Records one call.
    pub fn record(&self, plugin: &str, operation: &str, outcome: &str, took: Duration) {
        self.calls
            .get_or_create(&CallLabels { plugin: plugin.into(), operation: operation.into(), outcome: outcome.into() })
            .inc();
        self.duration.get_or_create(&PluginLabels { plugin: plugin.into() }).observe(took.as_secs_f64());
    }

    /// Records a request refused by the allow-list.
    pub fn denied_host(&self, plugin: &str) {
        self.denied(plugin, "host");
    }

    /// Records a request refused because the call had spent its request budget.
    pub fn denied_budget(&self, plugin: &str) {
        self.denied(plugin, "budget");
    }

    /// Records a Kubernetes call refused by the plugin's grants (kind, verb, namespace, Secret).
    pub fn denied_kubernetes(&self, plugin: &str) {
        self.denied(plugin, "kubernetes");
    }

    fn denied(&self, plugin: &str, reason: &str) {
        self.denied.get_or_create(&DeniedLabels { plugin: plugin.into(), reason: reason.into() }).inc();
    }
}

/// Reports the loaded plugins at scrape time, from the host itself (no stale series).
#[derive(Debug)]
struct Loaded(PluginHost);

impl Collector for Loaded {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let plugins = self.0.plugins();
        let gauge = ConstGauge::new(1i64);
        let mut family = encoder.encode_descriptor(
            "aviary_plugin_loaded",
            "A plugin loaded and serving, by name, kind and sha256 digest",
            None,
            gauge.metric_type(),
        )?;
        for p in plugins {
            let labels = LoadedLabels { plugin: p.name, kind: p.kind.as_str().into(), digest: p.sha256 };
            ConstGauge::new(1i64).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

impl PluginHost {
    /// Registers the host's metrics: `aviary_plugin_calls_total`,
    /// `aviary_plugin_call_duration_seconds`, `aviary_plugin_denied_requests_total` and
    /// `aviary_plugin_loaded`.
    pub fn register_metrics(&self, registry: &mut Registry) {
        let m: Arc<PluginMetrics> = self.metrics();
        registry.register("aviary_plugin_calls", "Plugin calls by plugin, operation and outcome", m.calls.clone());
        registry.register(
            "aviary_plugin_call_duration_seconds",
            "Duration of plugin calls, in a fresh instance, including host calls",
            m.duration.clone(),
        );
        registry.register(
            "aviary_plugin_denied_requests",
            "Requests refused: an HTTP host not in the plugin's allowedHosts (reason=host), a Kubernetes call its grants do not allow (reason=kubernetes), or the call spent its request budget (reason=budget)",
            m.denied.clone(),
        );
        registry.register_collector(Box::new(Loaded(self.clone())));
    }
}

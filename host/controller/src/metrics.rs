//! Prometheus metrics with Argo Rollouts' names and labels, so that existing dashboards and alerts
//! keep working, plus Aviary's plugin metrics.
//!
//! Object state (`rollout_info`, `rollout_info_replicas_*`, `analysis_run_info`,
//! `analysis_run_metric_*`) is read from the watch caches at scrape time, so a deleted object's
//! series disappear with it and nothing accumulates. Request counters
//! (`controller_clientset_k8s_request_total`) carry the resource kind, the verb and the status
//! code but never object names: argo-rollouts PR #3929 was an out-of-memory caused by names in
//! those labels.

use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use aviary_api::{AnalysisRun, Rollout};
use futures::future::BoxFuture;
use kube::ResourceExt;
use kube::runtime::reflector::Store;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::compact::Compact;

/// One `rollout_info_replicas_*` family: its name, help text and how to read it from a Rollout.
type ReplicaGauge = (&'static str, &'static str, fn(&RolloutSummary) -> i64);

/// What the per-Rollout gauges show of one Rollout (decoded from the cache one at a time, so
/// that a scrape never holds every Rollout decoded at once).
struct RolloutSummary {
    namespace: String,
    name: String,
    strategy: &'static str,
    router: &'static str,
    phase: String,
    available: i64,
    unavailable: i64,
    desired: i64,
    updated: i64,
}

impl RolloutSummary {
    fn of(r: &Rollout) -> Self {
        let status = r.status.clone().unwrap_or_default();
        Self {
            namespace: r.namespace().unwrap_or_default(),
            name: r.name_any(),
            strategy: if r.spec.blue_green().is_some() { "blueGreen" } else { "canary" },
            router: if r.spec.canary().is_some_and(|c| c.traffic_routing.is_some()) { "traffic-routed" } else { "" },
            phase: status.phase.map(|p| format!("{p:?}")).unwrap_or_default(),
            available: i64::from(status.available_replicas),
            unavailable: i64::from(status.replicas.saturating_sub(status.available_replicas).max(0)),
            desired: i64::from(r.spec.replicas_or_default()),
            updated: i64::from(status.updated_replicas),
        }
    }
}

/// `namespace`, `name`: Argo's labels on per-object reconcile metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ObjectLabels {
    /// The object's namespace.
    pub namespace: String,
    /// The object's name.
    pub name: String,
}

/// Labels of an API request: no object names.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    kind: String,
    verb: String,
    status_code: String,
}

/// Argo's labels of the notification counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NotificationLabels {
    namespace: String,
    name: String,
    r#type: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    version: String,
}

type HistogramFamily = Family<ObjectLabels, Histogram, fn() -> Histogram>;

/// Argo's reconcile histogram buckets.
fn reconcile_histogram() -> Histogram {
    Histogram::new([0.01, 0.15, 0.25, 0.5, 1.0])
}

/// The controller's metrics.
#[derive(Debug)]
pub struct Metrics {
    rollout_reconcile: HistogramFamily,
    rollout_reconcile_error: Family<ObjectLabels, Counter>,
    analysis_run_reconcile: HistogramFamily,
    analysis_run_reconcile_error: Family<ObjectLabels, Counter>,
    requests: Family<RequestLabels, Counter>,
    panics: Family<KindLabels, Counter>,
    notification_success: Family<NotificationLabels, Counter>,
    notification_error: Family<NotificationLabels, Counter>,
    notification_send: HistogramFamily,
    /// Reconcile latency of every object together, for percentiles in benchmarks without per-object
    /// series.
    pub reconcile_seconds: Histogram,
    /// Events not written because too many were waiting (see [`crate::events`]): client-go drops
    /// them silently; here an operator can alert on it.
    pub events_dropped: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            rollout_reconcile: Family::new_with_constructor(reconcile_histogram),
            rollout_reconcile_error: Family::default(),
            analysis_run_reconcile: Family::new_with_constructor(reconcile_histogram),
            analysis_run_reconcile_error: Family::default(),
            requests: Family::default(),
            panics: Family::default(),
            notification_success: Family::default(),
            notification_error: Family::default(),
            notification_send: Family::new_with_constructor(reconcile_histogram),
            reconcile_seconds: Histogram::new([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]),
            events_dropped: Counter::default(),
        }
    }
}

impl Metrics {
    /// Records a Rollout reconcile.
    pub fn rollout_reconciled(&self, namespace: &str, name: &str, took: Duration, failed: bool) {
        let labels = ObjectLabels { namespace: namespace.into(), name: name.into() };
        self.rollout_reconcile.get_or_create(&labels).observe(took.as_secs_f64());
        self.reconcile_seconds.observe(took.as_secs_f64());
        if failed {
            self.rollout_reconcile_error.get_or_create(&labels).inc();
        }
    }

    /// Records an AnalysisRun reconcile.
    pub fn analysis_run_reconciled(&self, namespace: &str, name: &str, took: Duration, failed: bool) {
        let labels = ObjectLabels { namespace: namespace.into(), name: name.into() };
        self.analysis_run_reconcile.get_or_create(&labels).observe(took.as_secs_f64());
        if failed {
            self.analysis_run_reconcile_error.get_or_create(&labels).inc();
        }
    }

    /// Records a notification sent (`ok`) or not, with how long its service took when it was
    /// called (Argo's `notification_send_success`, `notification_send_error`,
    /// `notification_send`).
    pub fn notification_sent(
        &self,
        namespace: &str,
        name: &str,
        warning: bool,
        reason: &str,
        ok: bool,
        took: Option<Duration>,
    ) {
        let labels = NotificationLabels {
            namespace: namespace.into(),
            name: name.into(),
            r#type: if warning { "Warning" } else { "Normal" }.into(),
            reason: reason.into(),
        };
        if ok { &self.notification_success } else { &self.notification_error }.get_or_create(&labels).inc();
        if let Some(took) = took {
            let object = ObjectLabels { namespace: namespace.into(), name: name.into() };
            self.notification_send.get_or_create(&object).observe(took.as_secs_f64());
        }
    }

    /// Counts a reconcile that panicked (caught by [`crate::panic_guard`]).
    pub fn reconcile_panicked(&self, kind: &str) {
        self.panics.get_or_create(&KindLabels { kind: kind.into() }).inc();
    }

    /// Reconciles of `kind` that panicked so far.
    pub fn reconcile_panics(&self, kind: &str) -> u64 {
        self.panics.get_or_create(&KindLabels { kind: kind.into() }).get()
    }

    /// Forgets the series of a deleted object, so that a long-running controller does not keep
    /// every object it ever saw.
    pub fn forget(&self, namespace: &str, name: &str) {
        let labels = ObjectLabels { namespace: namespace.into(), name: name.into() };
        self.rollout_reconcile.remove(&labels);
        self.notification_send.remove(&labels);
        self.rollout_reconcile_error.remove(&labels);
        self.analysis_run_reconcile.remove(&labels);
        self.analysis_run_reconcile_error.remove(&labels);
    }

    /// Registers every family, the object-state collector and the plugin host's metrics.
    pub fn register(
        self: &Arc<Self>,
        registry: &mut Registry,
        rollouts: Store<Compact<Rollout>>,
        runs: Store<AnalysisRun>,
        plugins: &aviary_plugins::PluginHost,
    ) {
        registry.register("rollout_reconcile", "Rollout reconciliation performance", self.rollout_reconcile.clone());
        registry.register(
            "rollout_reconcile_error",
            "Error occurring during the rollout",
            self.rollout_reconcile_error.clone(),
        );
        registry.register(
            "analysis_run_reconcile",
            "Analysis Run reconciliation performance",
            self.analysis_run_reconcile.clone(),
        );
        registry.register(
            "analysis_run_reconcile_error",
            "Error occurring during the analysis run",
            self.analysis_run_reconcile_error.clone(),
        );
        registry.register(
            "controller_clientset_k8s_request",
            "Number of kubernetes requests executed during application reconciliation",
            self.requests.clone(),
        );
        registry.register(
            "aviary_reconcile_panics",
            "Reconciles that panicked, by kind; each was caught, logged with its object and retried",
            self.panics.clone(),
        );
        registry.register("notification_send_success", "Notification send success.", self.notification_success.clone());
        registry.register("notification_send_error", "Error sending the notification", self.notification_error.clone());
        registry.register("notification_send", "Notification send performance.", self.notification_send.clone());
        registry.register(
            "aviary_reconcile_seconds",
            "Reconcile latency of all Rollouts",
            self.reconcile_seconds.clone(),
        );
        let info = Family::<VersionLabels, Gauge>::default();
        info.get_or_create(&VersionLabels { version: env!("CARGO_PKG_VERSION").into() }).set(1);
        registry.register(
            "aviary_events_dropped",
            "Events not written because the queue of Events waiting to be written was full",
            self.events_dropped.clone(),
        );
        registry.register("aviary_controller_info", "Running Aviary controller build information", info);
        registry.register_collector(Box::new(StateCollector { rollouts, runs }));
        plugins.register_metrics(registry);
    }

    /// A tower layer counting every API request by kind, verb and status code.
    pub fn request_layer(self: &Arc<Self>) -> RequestLayer {
        RequestLayer { metrics: self.clone() }
    }
}

/// Object state read from the caches at scrape time.
#[derive(Debug)]
struct StateCollector {
    rollouts: Store<Compact<Rollout>>,
    runs: Store<AnalysisRun>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RolloutInfoLabels {
    namespace: String,
    name: String,
    strategy: String,
    traffic_router: String,
    phase: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunInfoLabels {
    namespace: String,
    name: String,
    phase: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MetricTypeLabels {
    namespace: String,
    name: String,
    metric: String,
    r#type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MetricPhaseLabels {
    namespace: String,
    name: String,
    metric: String,
    r#type: String,
    dry_run: String,
    phase: String,
}

/// The Argo provider type of a metric, as Argo's metrics name it.
fn provider_type(m: &aviary_api::Metric) -> String {
    let p = &m.provider;
    let known = [
        (p.prometheus.is_some(), "Prometheus"),
        (p.web.is_some(), "Web"),
        (p.datadog.is_some(), "Datadog"),
        (p.kayenta.is_some(), "Kayenta"),
        (p.job.is_some(), "Job"),
        (p.wavefront.is_some(), "Wavefront"),
        (p.new_relic.is_some(), "NewRelic"),
        (p.cloud_watch.is_some(), "CloudWatch"),
        (p.graphite.is_some(), "Graphite"),
        (p.influxdb.is_some(), "Influxdb"),
        (p.skywalking.is_some(), "SkyWalking"),
        (!p.plugin.is_empty(), "RPCPlugin"),
    ];
    known.iter().find(|(set, _)| *set).map_or("Unknown", |(_, n)| n).to_string()
}

impl Collector for StateCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let one = ConstGauge::new(1i64);
        let rollouts: Vec<RolloutSummary> =
            self.rollouts.state().iter().filter_map(|c| c.decoded()).map(|r| RolloutSummary::of(&r)).collect();
        let mut info =
            encoder.encode_descriptor("rollout_info", "Information about rollout", None, one.metric_type())?;
        for r in &rollouts {
            let labels = RolloutInfoLabels {
                namespace: r.namespace.clone(),
                name: r.name.clone(),
                strategy: r.strategy.into(),
                traffic_router: r.router.into(),
                phase: r.phase.clone(),
            };
            ConstGauge::new(1i64).encode(info.encode_family(&labels)?)?;
        }
        let replicas: [ReplicaGauge; 4] = [
            ("rollout_info_replicas_available", "The number of available replicas per rollout", |r| r.available),
            ("rollout_info_replicas_unavailable", "The number of unavailable replicas per rollout", |r| r.unavailable),
            ("rollout_info_replicas_desired", "The number of desired replicas per rollout", |r| r.desired),
            ("rollout_info_replicas_updated", "The number of updated replicas per rollout", |r| r.updated),
        ];
        for (name, help, value) in replicas {
            let mut family = encoder.encode_descriptor(name, help, None, one.metric_type())?;
            for r in &rollouts {
                let labels = ObjectLabels { namespace: r.namespace.clone(), name: r.name.clone() };
                ConstGauge::new(value(r)).encode(family.encode_family(&labels)?)?;
            }
        }

        let runs = self.runs.state();
        let mut info = encoder.encode_descriptor(
            "analysis_run_info",
            "Information about analysis run",
            None,
            one.metric_type(),
        )?;
        for run in &runs {
            let phase = run.status.as_ref().map(|s| s.phase).unwrap_or_default();
            let labels = RunInfoLabels {
                namespace: run.namespace().unwrap_or_default(),
                name: run.name_any(),
                phase: phase.to_string(),
            };
            ConstGauge::new(1i64).encode(info.encode_family(&labels)?)?;
        }
        let mut types = encoder.encode_descriptor(
            "analysis_run_metric_type",
            "Information on the type of a specific metric in the Analysis Runs",
            None,
            one.metric_type(),
        )?;
        for run in &runs {
            for m in &run.spec.metrics {
                let labels = MetricTypeLabels {
                    namespace: run.namespace().unwrap_or_default(),
                    name: run.name_any(),
                    metric: m.name.clone(),
                    r#type: provider_type(m),
                };
                ConstGauge::new(1i64).encode(types.encode_family(&labels)?)?;
            }
        }
        let mut phases = encoder.encode_descriptor(
            "analysis_run_metric_phase",
            "Information on the duration of a specific metric in the Analysis Run",
            None,
            one.metric_type(),
        )?;
        for run in &runs {
            let Some(status) = &run.status else { continue };
            for result in &status.metric_results {
                let kind =
                    run.spec.metrics.iter().find(|m| m.name == result.name).map(provider_type).unwrap_or_default();
                let labels = MetricPhaseLabels {
                    namespace: run.namespace().unwrap_or_default(),
                    name: run.name_any(),
                    metric: result.name.clone(),
                    r#type: kind,
                    dry_run: result.dry_run.to_string(),
                    phase: result.phase.to_string(),
                };
                ConstGauge::new(1i64).encode(phases.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

/// Counts API requests (see [`Metrics::request_layer`]).
#[derive(Clone)]
pub struct RequestLayer {
    metrics: Arc<Metrics>,
}

impl<S> tower::Layer<S> for RequestLayer {
    type Service = CountedService<S>;
    fn layer(&self, inner: S) -> CountedService<S> {
        CountedService { inner, metrics: self.metrics.clone() }
    }
}

/// The service of [`RequestLayer`].
#[derive(Clone)]
pub struct CountedService<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S, B, R> tower::Service<http::Request<B>> for CountedService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Send,
    S::Future: Send + 'static,
    S::Error: 'static,
    R: 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let (kind, verb) = classify(req.method(), req.uri());
        let metrics = self.metrics.clone();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let result = fut.await;
            let status_code = match &result {
                Ok(r) => r.status().as_u16().to_string(),
                Err(_) => "error".to_string(),
            };
            metrics.requests.get_or_create(&RequestLabels { kind, verb, status_code }).inc();
            result
        })
    }
}

/// The resource (with subresource) and Kubernetes verb of a request path, without names.
pub fn classify(method: &http::Method, uri: &http::Uri) -> (String, String) {
    let parts: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    // /api/v1/... or /apis/group/version/...
    let rest: &[&str] = match parts.first() {
        Some(&"api") if parts.len() >= 2 => parts.get(2..).unwrap_or_default(),
        Some(&"apis") if parts.len() >= 3 => parts.get(3..).unwrap_or_default(),
        _ => return ("other".into(), method.as_str().to_lowercase()),
    };
    let rest =
        if rest.first() == Some(&"namespaces") && rest.len() >= 3 { rest.get(2..).unwrap_or_default() } else { rest };
    let kind = match rest {
        [] => "namespaces".to_string(),
        [resource] | [resource, _] => (*resource).to_string(),
        [resource, _, sub, ..] => format!("{resource}/{sub}"),
    };
    let named = rest.len() >= 2;
    let watch = uri.query().is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"));
    let verb = match *method {
        http::Method::GET if watch => "watch",
        http::Method::GET if named => "get",
        http::Method::GET => "list",
        http::Method::POST => "create",
        http::Method::PUT => "update",
        http::Method::PATCH => "patch",
        http::Method::DELETE => "delete",
        _ => "other",
    };
    (kind, verb.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(method: &str, uri: &str) -> (String, String) {
        classify(&method.parse().unwrap(), &uri.parse().unwrap())
    }

    #[test]
    fn request_labels_name_the_resource_and_verb_but_no_object() {
        assert_eq!(
            c("GET", "/apis/argoproj.io/v1alpha1/namespaces/ns/rollouts/web"),
            ("rollouts".into(), "get".into())
        );
        assert_eq!(
            c("PUT", "/apis/argoproj.io/v1alpha1/namespaces/ns/rollouts/web/status"),
            ("rollouts/status".into(), "update".into())
        );
        assert_eq!(
            c("GET", "/apis/apps/v1/replicasets?labelSelector=x&watch=true"),
            ("replicasets".into(), "watch".into())
        );
        assert_eq!(c("GET", "/apis/apps/v1/namespaces/ns/replicasets"), ("replicasets".into(), "list".into()));
        assert_eq!(
            c("POST", "/api/v1/namespaces/ns/serviceaccounts/sa/token"),
            ("serviceaccounts/token".into(), "create".into())
        );
        assert_eq!(c("PATCH", "/api/v1/namespaces/ns/services/svc"), ("services".into(), "patch".into()));
        assert_eq!(c("DELETE", "/api/v1/namespaces/ns"), ("namespaces".into(), "delete".into()));
        assert_eq!(c("GET", "/version"), ("other".into(), "get".into()));
    }
}

//! What every reconcile shares: the client, the plugin host, the caches and the event recorder.

use std::collections::HashMap;
use std::sync::Mutex;

use aviary_api::{AnalysisRun, Rollout};
use aviary_plugins::PluginHost;
use k8s_openapi::api::apps::v1::ReplicaSet;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::Store;
use kube::{Client, Resource};

/// The name under which Aviary reports Events.
pub const REPORTER: &str = "aviary-controller";

/// Shared state of the controllers.
pub struct Context {
    /// The API client.
    pub client: Client,
    /// The Wasm plugin host (providers and condition evaluators).
    pub plugins: PluginHost,
    /// Cache of every ReplicaSet (the controllers own the ones with a Rollout owner).
    pub replica_sets: Store<ReplicaSet>,
    /// Cache of every AnalysisRun.
    pub analysis_runs: Store<AnalysisRun>,
    /// The namespace the controller runs in (its ConfigMap lives there).
    pub namespace: String,
    /// Prometheus metrics.
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
    /// The instance id, copied onto the AnalysisRuns this controller creates.
    pub instance_id: Option<String>,
    /// The condition plugin applied to successCondition/failureCondition.
    pub condition_plugin: std::sync::RwLock<String>,
    /// Pod templates as the API server defaults them, by (rollout uid, template hash): computed
    /// once per template with a dry-run create, to recognise an existing ReplicaSet of the same
    /// template (rollbacks, `undo`, ReplicaSets created by Argo).
    pub defaulted_templates: Mutex<HashMap<(String, String), serde_json::Value>>,
    recorder: Recorder,
}

impl Context {
    /// Builds the context.
    pub fn new(
        client: Client,
        plugins: PluginHost,
        replica_sets: Store<ReplicaSet>,
        analysis_runs: Store<AnalysisRun>,
        namespace: String,
        metrics: std::sync::Arc<crate::metrics::Metrics>,
        instance_id: Option<String>,
    ) -> Self {
        let reporter = Reporter { controller: REPORTER.into(), instance: std::env::var("POD_NAME").ok() };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            plugins,
            replica_sets,
            analysis_runs,
            namespace,
            metrics,
            instance_id,
            condition_plugin: std::sync::RwLock::new(aviary_plugins::builtin::DEFAULT_CONDITION.to_string()),
            defaulted_templates: Mutex::new(HashMap::new()),
        }
    }

    /// The condition plugin in force.
    pub fn condition_plugin(&self) -> String {
        self.condition_plugin.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Records an Event on `object`. A failure to record is logged, never fatal: events are
    /// for people, and losing one must not stop a rollout.
    pub async fn event<K: Resource<DynamicType = ()>>(&self, object: &K, warning: bool, reason: &str, note: String) {
        let event = Event {
            type_: if warning { EventType::Warning } else { EventType::Normal },
            reason: reason.to_string(),
            note: Some(truncate(note, 1000)),
            action: reason.to_string(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, &object.object_ref(&())).await {
            tracing::warn!(reason, "cannot record event: {e}");
        }
    }

    /// The ReplicaSets whose controller is the Rollout with this uid.
    pub fn owned_replica_sets(&self, rollout: &Rollout) -> Vec<std::sync::Arc<ReplicaSet>> {
        let uid = rollout.metadata.uid.clone().unwrap_or_default();
        self.replica_sets.state().into_iter().filter(|rs| controlled_by(&rs.metadata, &uid)).collect()
    }

    /// The AnalysisRuns whose controller is the Rollout with this uid.
    pub fn owned_analysis_runs(&self, rollout: &Rollout) -> Vec<std::sync::Arc<AnalysisRun>> {
        let uid = rollout.metadata.uid.clone().unwrap_or_default();
        self.analysis_runs.state().into_iter().filter(|r| controlled_by(&r.metadata, &uid)).collect()
    }
}

/// Whether `meta` has a controller owner reference to `uid`.
pub fn controlled_by(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta, uid: &str) -> bool {
    meta.owner_references.iter().flatten().any(|o| o.controller == Some(true) && o.uid == uid)
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

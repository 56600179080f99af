//! What every reconcile shares: the client, the plugin host, the caches and the event recorder.

use std::collections::HashMap;
use std::sync::Mutex;

use aviary_api::{AnalysisRun, Rollout};
use aviary_plugins::PluginHost;
use k8s_openapi::api::apps::v1::ReplicaSet;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::Store;
use kube::{Client, Resource};

/// What the controller learnt about where each kind keeps its status.
#[derive(Debug, Default)]
pub struct StatusSubresources {
    /// Rollouts.
    pub rollout: crate::status_write::Subresource,
    /// AnalysisRuns.
    pub analysis_run: crate::status_write::Subresource,
}

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
    /// Cache of every Experiment (empty until [`crate::run`] sets the watched one).
    pub experiments: Store<aviary_api::Experiment>,
    /// Cache of every Service (experiments claim theirs from it).
    pub services: Store<k8s_openapi::api::core::v1::Service>,
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
    /// How long one measurement may stay Running before it is terminated as Error
    /// (`--max-measurement-running`).
    pub max_measurement_running: std::time::Duration,
    /// Whether Rollouts and AnalysisRuns have a status subresource (Argo's CRDs: Rollouts do,
    /// AnalysisRuns do not), learnt from the API server.
    pub status_subresources: StatusSubresources,
    /// Rollouts this process has seen (by uid), for Argo's `RolloutAddedToInformer` event.
    pub seen_rollouts: Mutex<std::collections::HashSet<String>>,
    /// The most an AnalysisRun may weigh when written (`--analysis-run-budget`).
    pub analysis_run_budget: usize,
    /// How often an idle Rollout is looked at again (`--rollout-resync`).
    pub resync: std::time::Duration,
    /// The SMI TrafficSplit version `aviary/smi` is told to write (`--traffic-split-api-version`).
    pub traffic_split_api_version: Option<String>,
    /// The `kubernetes` import's side in the controller, one for the routers and the metric
    /// providers (its discovery cache shared by every call).
    pub kube_access: std::sync::Arc<crate::kube_access::KubeAccess>,
    /// What each router returned as its state, by `rollout uid/plugin` (lost on restart: the
    /// contract tells routers to rebuild from their objects).
    router_states: Mutex<HashMap<String, String>>,
    /// AWS credentials of `cloudWatch` and signing Prometheus metrics (the SDK's default chain).
    pub aws: crate::analysis::aws::AwsCredentials,
    /// Panics caught per object, for the back-off (see [`crate::panic_guard`]).
    pub panics: crate::panic_guard::PanicGuard,
    events: Mutex<Events>,
}

/// The event recorder and the last note published per (object, reason, type).
///
/// kube's `Recorder` folds a repeat of (object, reason, action, type) into the first Event's
/// series and keeps that first Event's note, so "plugin X loaded (sha256 B)" would show as another
/// occurrence of "... (sha256 A)". When the note changes, publishing goes through a fresh
/// recorder, so the new note gets an Event of its own; identical repeats still fold into a series.
struct Events {
    recorder: Recorder,
    last_notes: HashMap<(String, String, bool), String>,
}

/// Past this many remembered notes the memory is cleared (a repeat then starts a new series).
const MAX_REMEMBERED_NOTES: usize = 10_000;

fn reporter() -> Reporter {
    Reporter { controller: REPORTER.into(), instance: std::env::var("POD_NAME").ok() }
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
        // Metric providers with Kubernetes grants (Argo's `job`) reach the cluster through the
        // same access the routers use.
        let kube_access = std::sync::Arc::new(crate::kube_access::KubeAccess::new(
            client.clone(),
            crate::kube_access::Discovery::default(),
        ));
        let plugins = plugins.with_kubernetes(kube_access.clone());
        Self {
            events: Mutex::new(Events {
                recorder: Recorder::new(client.clone(), reporter()),
                last_notes: HashMap::new(),
            }),
            client,
            plugins,
            replica_sets,
            analysis_runs,
            experiments: kube::runtime::reflector::store().0,
            services: kube::runtime::reflector::store().0,
            namespace,
            metrics,
            instance_id,
            condition_plugin: std::sync::RwLock::new(aviary_plugins::builtin::DEFAULT_CONDITION.to_string()),
            defaulted_templates: Mutex::new(HashMap::new()),
            max_measurement_running: aviary_plugins::measurement::MAX_RUNNING,
            panics: crate::panic_guard::PanicGuard::from_env(),
            status_subresources: StatusSubresources::default(),
            seen_rollouts: Mutex::new(std::collections::HashSet::new()),
            analysis_run_budget: aviary_engine::analysis::retention::OBJECT_BUDGET_BYTES,
            resync: std::time::Duration::from_secs(900),
            kube_access,
            traffic_split_api_version: None,
            router_states: Mutex::new(HashMap::new()),
            aws: crate::analysis::aws::AwsCredentials::new(),
        }
    }

    /// A router's state for a Rollout (`rollout uid/plugin`).
    pub fn router_state(&self, key: &str) -> Option<String> {
        self.router_states.lock().unwrap_or_else(|p| p.into_inner()).get(key).cloned()
    }

    /// Keeps a router's state for a Rollout.
    pub fn set_router_state(&self, key: String, state: String) {
        self.router_states.lock().unwrap_or_else(|p| p.into_inner()).insert(key, state);
    }

    /// The condition plugin in force.
    pub fn condition_plugin(&self) -> String {
        self.condition_plugin.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Records an Event on `object`. A failure to record is logged, never fatal: events are
    /// for people, and losing one must not stop a rollout.
    pub async fn event<K: Resource<DynamicType = ()>>(&self, object: &K, warning: bool, reason: &str, note: String) {
        let note = truncate(note, 1000);
        let reference = object.object_ref(&());
        let recorder = {
            let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
            let key = (
                format!(
                    "{}/{}/{}",
                    reference.kind.clone().unwrap_or_default(),
                    reference.namespace.clone().unwrap_or_default(),
                    reference.name.clone().unwrap_or_default()
                ),
                reason.to_string(),
                warning,
            );
            if events.last_notes.len() >= MAX_REMEMBERED_NOTES {
                events.last_notes.clear();
            }
            match events.last_notes.insert(key, note.clone()) {
                Some(previous) if previous != note => {
                    events.recorder = Recorder::new(self.client.clone(), reporter());
                }
                _ => {}
            }
            events.recorder.clone()
        };
        let event = Event {
            type_: if warning { EventType::Warning } else { EventType::Normal },
            reason: reason.to_string(),
            note: Some(note),
            action: reason.to_string(),
            secondary: None,
        };
        if let Err(e) = recorder.publish(&event, &reference).await {
            tracing::warn!(reason, "cannot record event: {e}");
        }
    }

    /// The ReplicaSets whose controller is the Rollout with this uid.
    pub fn owned_replica_sets(&self, rollout: &Rollout) -> Vec<std::sync::Arc<ReplicaSet>> {
        let uid = rollout.metadata.uid.clone().unwrap_or_default();
        self.replica_sets.state().into_iter().filter(|rs| controlled_by(&rs.metadata, &uid)).collect()
    }

    /// The Experiments whose controller is this Rollout.
    pub fn owned_experiments(&self, rollout: &Rollout) -> Vec<std::sync::Arc<aviary_api::Experiment>> {
        let uid = rollout.metadata.uid.clone().unwrap_or_default();
        self.experiments.state().into_iter().filter(|e| controlled_by(&e.metadata, &uid)).collect()
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
            cut = cut.saturating_sub(1);
        }
        s.truncate(cut);
    }
    s
}

//! What every reconcile shares: the client, the plugin host, the caches and the event recorder.

use std::collections::HashMap;
use std::sync::Mutex;

use aviary_api::{AnalysisRun, Rollout};
use aviary_plugins::PluginHost;
use k8s_openapi::api::apps::v1::ReplicaSet;
use kube::runtime::reflector::Store;
use kube::{Client, Resource};

use crate::compact::Compact;

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
    /// Argo's notifications: the configuration in force and the sender's queue.
    pub notifier: crate::notifications::Notifier,
    /// The Wasm plugin host (providers and condition evaluators).
    pub plugins: PluginHost,
    /// Cache of every ReplicaSet (the controllers own the ones with a Rollout owner), kept as
    /// JSON ([`crate::compact`]).
    pub replica_sets: Store<Compact<ReplicaSet>>,
    /// Cache of every AnalysisRun.
    pub analysis_runs: Store<AnalysisRun>,
    /// Cache of every Rollout, as JSON (empty until [`crate::run`] sets the watched one): the
    /// stored spec as it is, unknown fields included, for the revision write.
    pub rollouts: Store<Compact<Rollout>>,
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
    /// Rollouts as this controller wrote them, until the cache shows it (see [`crate::own_writes`]).
    pub own_rollouts: crate::own_writes::OwnWrites<Rollout>,
    /// ReplicaSets as this controller created, wrote or deleted them, until the cache shows it.
    pub own_replica_sets: crate::own_writes::OwnWrites<ReplicaSet>,
    /// The cached ReplicaSets by controller (fed by [`crate::run`]'s watch).
    pub replica_set_owners: crate::owners::OwnerIndex,
    /// The cached AnalysisRuns by controller.
    pub analysis_run_owners: crate::owners::OwnerIndex,
    /// The cached Experiments by controller.
    pub experiment_owners: crate::owners::OwnerIndex,
    events: crate::events::Recorder,
}

fn reporter() -> crate::events::Reporter {
    let instance = std::env::var("POD_NAME").ok().unwrap_or_else(|| REPORTER.into());
    crate::events::Reporter { controller: REPORTER.into(), instance }
}

impl Context {
    /// Builds the context.
    pub fn new(
        client: Client,
        plugins: PluginHost,
        replica_sets: Store<Compact<ReplicaSet>>,
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
            events: crate::events::Recorder::new(client.clone(), reporter(), metrics.events_dropped.clone()),
            notifier: crate::notifications::Notifier::default(),
            client,
            plugins,
            replica_sets,
            analysis_runs,
            experiments: kube::runtime::reflector::store().0,
            rollouts: kube::runtime::reflector::store().0,
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
            own_rollouts: Default::default(),
            own_replica_sets: Default::default(),
            replica_set_owners: Default::default(),
            analysis_run_owners: Default::default(),
            experiment_owners: Default::default(),
        }
    }

    /// Writes Events through `client` (one whose requests give way to the reconciles', see
    /// [`crate::throttle`]); call before the first Event.
    pub fn record_events_with(&mut self, client: Client) {
        self.events = crate::events::Recorder::new(client, reporter(), self.metrics.events_dropped.clone());
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

    /// Records an Event on `object`, off the reconcile path (see [`crate::events`]). A failure to
    /// record is logged, never fatal: events are for people, and losing one must not stop a
    /// rollout.
    /// A Rollout's Event is also offered to the notifications sender ([`crate::notifications`]),
    /// as Argo's recorder sends notifications for the Events it records.
    pub async fn event<K: Resource<DynamicType = ()> + serde::Serialize>(
        &self,
        object: &K,
        warning: bool,
        reason: &str,
        note: String,
    ) {
        self.events.record(crate::events::Recorded {
            regarding: object.object_ref(&()),
            warning,
            reason: reason.to_string(),
            note: truncate(note, 1000),
        });
        self.notifier.offer(&self.metrics, object, warning, reason);
    }

    /// The ReplicaSets whose controller is the Rollout with this uid, with this controller's
    /// own writes the cache does not show yet.
    pub fn owned_replica_sets(&self, rollout: &Rollout) -> Vec<std::sync::Arc<ReplicaSet>> {
        let uid = rollout.metadata.uid.clone().unwrap_or_default();
        let ns = rollout.metadata.namespace.clone().unwrap_or_default();
        let cached = owned(&self.replica_sets, &self.replica_set_owners, &uid)
            .filter(|rs| rs.meta().namespace.as_deref() == Some(ns.as_str()))
            .filter_map(|rs| rs.decoded())
            .collect();
        self.own_replica_sets.merge(&ns, cached, |rs| controlled_by(&rs.metadata, &uid))
    }

    /// Records a Rollout as the API server stored it after a write made on `before`, when the
    /// write changed it.
    pub fn wrote_rollout(&self, before: &Rollout, written: &Rollout) {
        let (was, is) = (&before.metadata.resource_version, &written.metadata.resource_version);
        if was != is {
            self.own_rollouts.wrote(was.as_slice(), written.clone());
        }
    }

    /// Records a Rollout's status write (see [`crate::status_write::Stored`]): every version it
    /// was written over is one the cache must not be taken for newer.
    pub fn wrote_rollout_status(&self, stored: &crate::status_write::Stored<Rollout>) {
        if !stored.replaced.is_empty() {
            self.own_rollouts.wrote(&stored.replaced, stored.object.clone());
        }
    }

    /// Records a ReplicaSet as the API server stored it after a write made on `before` (`None`:
    /// created).
    pub fn wrote_replica_set(&self, before: Option<&ReplicaSet>, written: ReplicaSet) -> std::sync::Arc<ReplicaSet> {
        self.own_replica_sets.wrote(before.map(|b| b.metadata.resource_version.as_slice()).unwrap_or_default(), written)
    }

    /// The Experiments whose controller is this Rollout.
    pub fn owned_experiments(&self, rollout: &Rollout) -> Vec<std::sync::Arc<aviary_api::Experiment>> {
        let uid = rollout.metadata.uid.clone().unwrap_or_default();
        owned(&self.experiments, &self.experiment_owners, &uid).collect()
    }

    /// The AnalysisRuns whose controller is the Rollout with this uid.
    pub fn owned_analysis_runs(&self, rollout: &Rollout) -> Vec<std::sync::Arc<AnalysisRun>> {
        let uid = rollout.metadata.uid.clone().unwrap_or_default();
        owned(&self.analysis_runs, &self.analysis_run_owners, &uid).collect()
    }
}

/// The objects of `store` that `index` says `uid` controls, each checked against the cache.
pub(crate) fn owned<'a, K>(
    store: &'a Store<K>,
    index: &crate::owners::OwnerIndex,
    uid: &'a str,
) -> impl Iterator<Item = std::sync::Arc<K>> + 'a
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    index
        .owned_by(uid)
        .into_iter()
        .filter_map(|(ns, name)| store.get(&kube::runtime::reflector::ObjectRef::new(&name).within(&ns)))
        .filter(move |o| controlled_by(o.meta(), uid))
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

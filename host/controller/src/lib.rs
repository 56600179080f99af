//! The Aviary controller: reconciles Argo Rollouts' API (Rollouts and AnalysisRuns) with every
//! decision taken by `aviary-engine` and every measurement and condition evaluated by Wasm
//! plugins (`aviary-plugins`).
//!
//! Data flows one way: watch events → observed state (caches of ReplicaSets and AnalysisRuns) →
//! the engine decides → the controller applies one change (scale a ReplicaSet, switch a Service,
//! create or terminate an AnalysisRun) and writes the status.

// No panic reachable from input (plugin answers, object content, API responses): see
// docs/plugin-boundary.md. Tests may unwrap.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

mod analysis;
pub mod cli;
mod compact;
mod compat;
mod context;
mod error;
mod events;
mod experiment;
pub mod kube_access;
mod leader;
mod metrics;
mod notifications;
mod own_writes;
mod owners;
mod panic_guard;
mod registry;
mod rollout;
mod server;
mod service_release;
mod status_write;
mod throttle;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use aviary_api::{AnalysisRun, Rollout};
use compact::Compact;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Service;
use kube::runtime::controller::Controller;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, Client, ResourceExt};

pub use analysis::judge;
pub use context::Context;
pub use error::Error;

/// The label that assigns an object to one controller instance (Argo's `--instance-id`).
pub const INSTANCE_ID_LABEL: &str = "argo-rollouts.argoproj.io/controller-instance-id";

/// How the controller runs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The controller's namespace (ConfigMap, Lease).
    pub namespace: String,
    /// Only objects labelled with this instance id; without one, only unlabelled objects.
    pub instance_id: Option<String>,
    /// Watch only the controller's namespace.
    pub namespaced: bool,
    /// Leader election; `None` when disabled.
    pub leader: Option<leader::LeaderConfig>,
    /// Where `/metrics` is served.
    pub metrics_addr: SocketAddr,
    /// Where `/healthz` and `/readyz` are served.
    pub health_addr: SocketAddr,
    /// How long one measurement may stay Running before it is terminated as Error.
    pub max_measurement_running: std::time::Duration,
    /// The most an AnalysisRun may weigh when written, in bytes of JSON.
    pub analysis_run_budget: usize,
    /// How often an idle Rollout is looked at again (Argo's `--rollout-resync`).
    pub resync: std::time::Duration,
    /// Rollouts reconciled at once (Argo's `--rollout-threads`).
    pub rollout_workers: u16,
    /// AnalysisRuns reconciled at once (Argo's `--analysis-threads`).
    pub analysis_workers: u16,
    /// Which controllers run (Argo's `--controllers`).
    pub controllers: std::collections::BTreeSet<Part>,
    /// The SMI TrafficSplit version to write (Argo's `--traffic-split-api-version`); `None`:
    /// the first one the cluster serves from `v1alpha1` on.
    pub traffic_split_api_version: Option<String>,
    /// Argo's `--self-service-notification-enabled`: each Rollout's namespace may configure
    /// notifications too.
    pub self_service_notifications: bool,
}

/// A part of the controller that `--controllers` turns on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    /// Rollouts (their ReplicaSets, Services, AnalysisRuns).
    Rollout,
    /// AnalysisRuns (measurements through plugins).
    Analysis,
}

impl RunConfig {
    /// The label selector of Argo's instance-id semantics.
    pub fn instance_selector(&self) -> String {
        match &self.instance_id {
            Some(id) => format!("{INSTANCE_ID_LABEL}={id}"),
            None => format!("!{INSTANCE_ID_LABEL}"),
        }
    }
}

fn api<K>(client: &Client, config: &RunConfig) -> Api<K>
where
    K: kube::Resource<DynamicType = ()>,
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
{
    if config.namespaced { Api::namespaced(client.clone(), &config.namespace) } else { Api::all(client.clone()) }
}

/// Waits until a watch cache holds its initial list. kube-runtime's readiness signal is a
/// oneshot with a single waker: while the controller also waits on it, another waiter may never
/// be woken, so this waits in one-second rounds, each of which sees the signal once it is sent.
async fn synced<K>(store: &kube::runtime::reflector::Store<K>)
where
    K: kube::runtime::reflector::Lookup + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    while tokio::time::timeout(std::time::Duration::from_secs(1), store.wait_until_ready()).await.is_err() {}
}

/// Runs the controller until a signal: the metrics and health endpoints at once, then (once
/// leader) the registry watcher and the Rollout and AnalysisRun controllers.
pub async fn run(
    client: Client,
    event_client: Client,
    plugins: aviary_plugins::PluginHost,
    config: RunConfig,
    metrics: Arc<metrics::Metrics>,
) -> Result<(), Error> {
    let health = Arc::new(server::Health::default());
    let (rollout_reader, rollout_writer) = reflector::store::<Compact<Rollout>>();
    // ReplicaSets, AnalysisRuns and Experiments are each cached once and shared: the Rollout
    // controller owns all three kinds, the Experiment controller ReplicaSets and runs too.
    let (rs_reader, rs_writer) = reflector::store_shared::<Compact<ReplicaSet>>(AR_SUBSCRIBER_BUFFER);
    let rs_for_rollouts = rs_writer.subscribe().ok_or_else(|| Error::Invalid("shared ReplicaSet store".into()))?;
    let rs_for_experiments = rs_writer.subscribe().ok_or_else(|| Error::Invalid("shared ReplicaSet store".into()))?;
    let (ex_reader, ex_writer) = reflector::store_shared::<aviary_api::Experiment>(AR_SUBSCRIBER_BUFFER);
    let ex_for_rollouts = ex_writer.subscribe().ok_or_else(|| Error::Invalid("shared Experiment store".into()))?;
    let ex_for_experiments = ex_writer.subscribe().ok_or_else(|| Error::Invalid("shared Experiment store".into()))?;
    let (svc_reader, svc_writer) = reflector::store::<Service>();
    // One AnalysisRun cache for both controllers: the Rollout controller owns runs, the
    // AnalysisRun controller reconciles them (a second watch would double the memory).
    let (ar_reader, ar_writer) = reflector::store_shared::<AnalysisRun>(AR_SUBSCRIBER_BUFFER);
    let ar_for_rollouts = ar_writer.subscribe().ok_or_else(|| Error::Invalid("shared AnalysisRun store".into()))?;
    let ar_for_runs = ar_writer.subscribe().ok_or_else(|| Error::Invalid("shared AnalysisRun store".into()))?;
    let ar_for_experiments = ar_writer.subscribe().ok_or_else(|| Error::Invalid("shared AnalysisRun store".into()))?;

    let mut registry = prometheus_client::registry::Registry::default();
    metrics.register(&mut registry, rollout_reader.clone(), ar_reader.clone(), &plugins);
    server::serve(config.metrics_addr, config.health_addr, Arc::new(registry), health.clone())
        .await
        .map_err(|e| Error::Invalid(format!("cannot serve metrics/health endpoints: {e}")))?;

    let mut elector = config.leader.clone().map(|c| leader::Elector::new(client.clone(), c));
    if let Some(e) = elector.as_mut() {
        tracing::info!("waiting to become the leader");
        e.acquire().await;
    }
    health.leader.store(true, Ordering::SeqCst);

    let selector = config.instance_selector();
    let (rs_owners, ar_owners, ex_owners) =
        (owners::OwnerIndex::default(), owners::OwnerIndex::default(), owners::OwnerIndex::default());
    let rollout_stream = reflector(
        rollout_writer,
        watcher(api::<Compact<Rollout>>(&client, &config), watcher::Config::default().labels(&selector)).modify(slim),
    )
    .default_backoff()
    .touched_objects();
    // Only ReplicaSets with the pod-template-hash label can belong to a Rollout.
    let rs_config = watcher::Config::default().labels(rollout::replicasets::HASH_LABEL);
    let rs_root = watcher(api::<Compact<ReplicaSet>>(&client, &config), rs_config)
        .modify(slim)
        .default_backoff()
        .inspect(indexing(&rs_owners))
        .reflect_shared(rs_writer)
        .for_each(|event| async move {
            if let Err(e) = event {
                tracing::warn!("watching ReplicaSets: {e}");
            }
        });
    let ex_root =
        watcher(api::<aviary_api::Experiment>(&client, &config), watcher::Config::default().labels(&selector))
            .modify(slim)
            .default_backoff()
            .inspect(indexing(&ex_owners))
            .reflect_shared(ex_writer)
            .for_each(|event| async move {
                if let Err(e) = event {
                    tracing::warn!("watching Experiments: {e}");
                }
            });
    let svc_stream =
        reflector(svc_writer, watcher(api::<Service>(&client, &config), watcher::Config::default()).modify(slim))
            .default_backoff()
            .touched_objects();
    let ar_api = api::<AnalysisRun>(&client, &config);
    let ar_root = watcher(ar_api, watcher::Config::default().labels(&selector))
        .modify(slim)
        .default_backoff()
        .inspect(indexing(&ar_owners))
        .reflect_shared(ar_writer)
        .for_each(|event| async move {
            if let Err(e) = event {
                tracing::warn!("watching AnalysisRuns: {e}");
            }
        });

    let mut ctx = Context::new(
        client.clone(),
        plugins,
        rs_reader.clone(),
        ar_reader.clone(),
        config.namespace.clone(),
        metrics.clone(),
        config.instance_id.clone(),
    );
    ctx.max_measurement_running = config.max_measurement_running;
    ctx.analysis_run_budget = config.analysis_run_budget;
    ctx.resync = config.resync;
    ctx.traffic_split_api_version = config.traffic_split_api_version.clone();
    ctx.notifier.self_service = config.self_service_notifications;
    ctx.experiments = ex_reader.clone();
    ctx.rollouts = rollout_reader.clone();
    ctx.services = svc_reader.clone();
    ctx.record_events_with(event_client);
    (ctx.replica_set_owners, ctx.analysis_run_owners, ctx.experiment_owners) = (rs_owners, ar_owners, ex_owners);
    let ctx = Arc::new(ctx);
    let mut applied = registry::Applied::default();
    registry::initial(&ctx, &mut applied).await;
    tokio::spawn(registry::watch(ctx.clone(), applied));
    tokio::spawn(notifications::watch_config(ctx.clone()));

    // No reconcile acts before every cache holds a full list: a controller that has just taken
    // over must not take a ReplicaSet it has not listed yet for a missing one (it would scale the
    // canary to 100% past maxSurge). The watches are driven by the controllers below, so the
    // reconciles wait for this signal rather than the controllers being started after it.
    let (synced_tx, synced_rx) = tokio::sync::watch::channel(false);
    {
        let (health, r, s, a) = (health.clone(), rollout_reader.clone(), rs_reader.clone(), ar_reader.clone());
        let (services, experiments) = (svc_reader.clone(), ex_reader.clone());
        tokio::spawn(async move {
            synced(&r).await;
            synced(&s).await;
            synced(&a).await;
            synced(&services).await;
            synced(&experiments).await;
            health.synced.store(true, Ordering::SeqCst);
            let _ = synced_tx.send(true);
            tracing::info!("caches synced");
        });
    }
    let (rollout_synced, analysis_synced, experiments_synced) =
        (synced_rx.clone(), synced_rx.clone(), synced_rx.clone());
    tokio::spawn(notifications::run(ctx.clone(), synced_rx.clone()));
    let services_synced = synced_rx;

    let workers = |n: u16| kube::runtime::controller::Config::default().concurrency(n);
    // A Deployment a Rollout references (workloadRef) wakes that Rollout when it changes: only
    // metadata is watched (the generation moves with the template), and the reconcile reads it.
    let deployments = watcher(
        api::<kube::core::PartialObjectMeta<k8s_openapi::api::apps::v1::Deployment>>(&client, &config),
        watcher::Config::default(),
    )
    .default_backoff()
    .touched_objects();
    let referencing = rollout_reader.clone();
    let rollout_controller = Controller::for_stream(rollout_stream, rollout_reader.clone())
        .with_config(workers(config.rollout_workers))
        .watches_stream(deployments, move |d| {
            let (ns, name) = (d.namespace(), d.name_any());
            referencing
                .state()
                .into_iter()
                .filter(|r| r.namespace() == ns && r.mentions("workloadRef"))
                .filter(|r| {
                    r.decoded().is_some_and(|r| {
                        r.spec.workload_ref.as_ref().is_some_and(|w| w.kind == "Deployment" && w.name == name)
                    })
                })
                .map(|r| kube::runtime::reflector::ObjectRef::from_obj(&*r))
                .collect::<Vec<_>>()
        })
        .owns_shared_stream(rs_for_rollouts)
        .owns_shared_stream(ar_for_rollouts)
        .owns_shared_stream(ex_for_rollouts)
        .shutdown_on_signal()
        .run(
            move |r, ctx: Arc<Context>| {
                let mut synced = rollout_synced.clone();
                async move {
                    let _ = synced.wait_for(|s| *s).await;
                    let started = Instant::now();
                    let (ns, name) = (r.namespace().unwrap_or_default(), r.name_any());
                    let reconcile = rollout::reconcile(r, ctx.clone());
                    let result =
                        panic_guard::guarded(&ctx.panics, &ctx.metrics, "Rollout", (&ns, &name), reconcile).await;
                    ctx.metrics.rollout_reconciled(&ns, &name, started.elapsed(), result.is_err());
                    result
                }
            },
            rollout::error_policy,
            ctx.clone(),
        )
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!("rollout reconcile: {e}");
            }
        });
    let analysis_controller = Controller::for_shared_stream(ar_for_runs, ar_reader.clone())
        .with_config(workers(config.analysis_workers))
        .shutdown_on_signal()
        .run(
            move |r, ctx: Arc<Context>| {
                let mut synced = analysis_synced.clone();
                async move {
                    let _ = synced.wait_for(|s| *s).await;
                    let started = Instant::now();
                    let (ns, name) = (r.namespace().unwrap_or_default(), r.name_any());
                    let reconcile = analysis::reconcile(r, ctx.clone());
                    let result =
                        panic_guard::guarded(&ctx.panics, &ctx.metrics, "AnalysisRun", (&ns, &name), reconcile).await;
                    ctx.metrics.analysis_run_reconciled(&ns, &name, started.elapsed(), result.is_err());
                    result
                }
            },
            analysis::error_policy,
            ctx.clone(),
        )
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!("analysis reconcile: {e}");
            }
        });
    let experiment_controller = Controller::for_shared_stream(ex_for_experiments, ex_reader.clone())
        .with_config(workers(config.rollout_workers))
        .owns_shared_stream(rs_for_experiments)
        .owns_shared_stream(ar_for_experiments)
        .shutdown_on_signal()
        .run(
            move |ex, ctx: Arc<Context>| {
                let mut synced = experiments_synced.clone();
                async move {
                    let _ = synced.wait_for(|s| *s).await;
                    let (ns, name) = (ex.namespace().unwrap_or_default(), ex.name_any());
                    let reconcile = experiment::reconcile(ex, ctx.clone());
                    panic_guard::guarded(&ctx.panics, &ctx.metrics, "Experiment", (&ns, &name), reconcile).await
                }
            },
            experiment::error_policy,
            ctx.clone(),
        )
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!("experiment reconcile: {e}");
            }
        });
    // Services handed back when their Rollout no longer manages them (Argo's service controller).
    let service_ctx =
        Arc::new(service_release::ServiceContext { client: client.clone(), rollouts: rollout_reader.clone() });
    let svc_index = svc_reader.clone();
    let service_controller = Controller::for_stream(svc_stream, svc_reader)
        .watches(api::<Rollout>(&client, &config), watcher::Config::default().labels(&selector), move |ro| {
            service_release::managed_by(&ro, &svc_index)
        })
        .shutdown_on_signal()
        .run(
            move |svc, ctx: Arc<service_release::ServiceContext>| {
                let mut synced = services_synced.clone();
                async move {
                    let _ = synced.wait_for(|s| *s).await;
                    service_release::reconcile(svc, ctx).await
                }
            },
            service_release::error_policy,
            service_ctx,
        )
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!("service reconcile: {e}");
            }
        });
    tracing::info!(instance_selector = %selector, namespaced = config.namespaced, "aviary-controller started");
    let (run_rollouts, run_analysis) =
        (config.controllers.contains(&Part::Rollout), config.controllers.contains(&Part::Analysis));
    tracing::info!(rollouts = run_rollouts, analysis = run_analysis, "controllers");
    let controllers = async {
        let rollouts = async {
            if run_rollouts {
                tokio::join!(rollout_controller, service_controller, experiment_controller);
            } else {
                std::future::pending::<()>().await;
            }
        };
        let runs = async {
            if run_analysis {
                analysis_controller.await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            _ = async { tokio::join!(rollouts, runs) } => {}
            () = ar_root => {}
            () = rs_root => {}
            () = ex_root => {}
        }
    };
    match elector.as_mut() {
        Some(e) => {
            tokio::select! {
                () = controllers => {
                    tracing::info!("shutting down: releasing the lease");
                    e.release().await;
                }
                () = e.hold() => {
                    // Another controller may already be writing: stop at once, as client-go's
                    // elector does, and let the Deployment restart us as a candidate.
                    tracing::error!("leadership lost; exiting");
                    std::process::exit(1);
                }
            }
        }
        None => controllers.await,
    }
    tracing::info!("aviary-controller stopped");
    Ok(())
}

/// Room for this many AnalysisRun events per subscriber of the shared cache before its watch waits.
const AR_SUBSCRIBER_BUFFER: usize = 1024;

/// Drops from a cached object what the controller never reads: `managedFields` (a parsed tree of
/// field paths, often larger than the object itself) and kubectl's last-applied annotation.
/// Writes never send cached objects back whole, so nothing is lost on the server.
fn slim<K: kube::Resource>(object: &mut K) {
    let meta = object.meta_mut();
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
}

/// Feeds a watch's events to an owner index, ahead of the cache they build (see [`owners`]).
fn indexing<K: kube::Resource, E>(index: &owners::OwnerIndex) -> impl FnMut(&Result<watcher::Event<K>, E>) + use<K, E> {
    let index = index.clone();
    move |event| {
        if let Ok(event) = event {
            index.observe(event);
        }
    }
}

//! The Aviary controller: reconciles Argo Rollouts' API (Rollouts and AnalysisRuns) with every
//! decision taken by `aviary-engine` and every measurement and condition evaluated by Wasm
//! plugins (`aviary-plugins`).
//!
//! Data flows one way: watch events → observed state (caches of ReplicaSets and AnalysisRuns) →
//! the engine decides → the controller applies one change (scale a ReplicaSet, switch a Service,
//! create or terminate an AnalysisRun) and writes the status.

pub mod analysis;
pub mod context;
pub mod error;
pub mod hash;
pub mod registry;
pub mod rollout;

use std::sync::Arc;

use aviary_api::{AnalysisRun, Rollout};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use kube::runtime::controller::Controller;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, Client};

pub use context::Context;
pub use error::Error;

/// Runs the Rollout and AnalysisRun controllers and the registry watcher until a signal.
pub async fn run(client: Client, plugins: aviary_plugins::PluginHost, namespace: String) {
    let rs_api: Api<ReplicaSet> = Api::all(client.clone());
    let ar_api: Api<AnalysisRun> = Api::all(client.clone());
    let (rs_reader, rs_writer) = reflector::store();
    let (ar_reader, ar_writer) = reflector::store();
    // Only ReplicaSets with the pod-template-hash label can belong to a Rollout.
    let rs_config = watcher::Config::default().labels(rollout::replicasets::HASH_LABEL);
    let rs_stream = reflector(rs_writer, watcher(rs_api, rs_config)).default_backoff().touched_objects();
    let ar_stream =
        reflector(ar_writer, watcher(ar_api.clone(), watcher::Config::default())).default_backoff().touched_objects();

    let ctx = Arc::new(Context::new(client.clone(), plugins, rs_reader, ar_reader, namespace));
    let mut applied = registry::Applied::default();
    registry::initial(&ctx, &mut applied).await;
    tokio::spawn(registry::watch(ctx.clone(), applied));

    let rollouts: Api<Rollout> = Api::all(client.clone());
    let rollout_controller = Controller::new(rollouts, watcher::Config::default())
        .owns_stream(rs_stream)
        .owns_stream(ar_stream)
        .shutdown_on_signal()
        .run(rollout::reconcile, rollout::error_policy, ctx.clone())
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!("rollout reconcile: {e}");
            }
        });
    let analysis_controller = Controller::new(ar_api, watcher::Config::default())
        .shutdown_on_signal()
        .run(analysis::reconcile, analysis::error_policy, ctx.clone())
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!("analysis reconcile: {e}");
            }
        });
    tracing::info!("aviary-controller started");
    tokio::join!(rollout_controller, analysis_controller);
    tracing::info!("aviary-controller stopped");
}

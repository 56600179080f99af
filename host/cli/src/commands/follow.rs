//! Reading a rollout or an experiment and everything it owns, once ([`fetch`],
//! [`fetch_experiment`]) or as it changes ([`follow`], [`follow_experiment`]).
//!
//! Following watches the object, and the ReplicaSets, pods, AnalysisRuns (and, for a rollout,
//! Experiments) of the namespace and reads them again whenever one changes (events arriving
//! together are taken as one change), plus once a second so that ages and pause countdowns move.
//! It ends when the callback says so, on Ctrl-C, or at the timeout.

use std::time::Duration;

use anyhow::Context as _;
use aviary_api::{AnalysisRun, Experiment, Rollout};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

use super::kubeargs::Connection;
use crate::render::info::{ExperimentObjects, Objects};

/// Reads the rollout `name` and the objects of its namespace that the view needs.
pub async fn fetch(conn: &Connection, name: &str) -> anyhow::Result<Objects> {
    let rollouts: Api<Rollout> = Api::namespaced(conn.client.clone(), &conn.namespace);
    let rollout = rollouts
        .get_opt(name)
        .await
        .with_context(|| format!("reading rollout {name}"))?
        .with_context(|| format!("rollout {name:?} not found in namespace {:?}", conn.namespace))?;
    let selector = selector_of(&rollout);
    let params = ListParams::default().labels(&selector);
    let rs: Api<ReplicaSet> = Api::namespaced(conn.client.clone(), &conn.namespace);
    let pods: Api<Pod> = Api::namespaced(conn.client.clone(), &conn.namespace);
    let runs: Api<AnalysisRun> = Api::namespaced(conn.client.clone(), &conn.namespace);
    let all = ListParams::default();
    let (mut replica_sets, mut pod_list, runs, experiments) =
        tokio::try_join!(rs.list(&params), pods.list(&params), runs.list(&all), list_experiments(conn))
            .context("listing the rollout's ReplicaSets, pods, AnalysisRuns and Experiments")?;
    // An experiment's templates need not carry the rollout's selector labels: when the rollout
    // owns one, read every ReplicaSet and pod of the namespace, as Argo's CLI does always.
    let uid = rollout.metadata.uid.clone().unwrap_or_default();
    let owns_experiments =
        experiments.iter().any(|e| e.metadata.owner_references.iter().flatten().any(|o| o.uid == uid));
    if owns_experiments {
        (replica_sets, pod_list) = tokio::try_join!(rs.list(&all), pods.list(&all))
            .context("listing the ReplicaSets and pods of the rollout's experiments")?;
    }
    Ok(Objects {
        rollout,
        replica_sets: replica_sets.items,
        pods: pod_list.items,
        analysis_runs: runs.items,
        experiments,
    })
}

/// The Experiments of the namespace; none where the Experiment CRD is not installed (a cluster
/// with only the Rollout and AnalysisRun CRDs still shows its rollouts).
async fn list_experiments(conn: &Connection) -> Result<Vec<Experiment>, kube::Error> {
    let api: Api<Experiment> = Api::namespaced(conn.client.clone(), &conn.namespace);
    match api.list(&ListParams::default()).await {
        Ok(list) => Ok(list.items),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Reads the experiment `name` and every ReplicaSet, pod and AnalysisRun of its namespace (an
/// experiment's templates have selectors of their own, so there is no one label to filter by).
pub async fn fetch_experiment(conn: &Connection, name: &str) -> anyhow::Result<ExperimentObjects> {
    let experiments: Api<Experiment> = Api::namespaced(conn.client.clone(), &conn.namespace);
    let experiment = experiments
        .get_opt(name)
        .await
        .with_context(|| format!("reading experiment {name}"))?
        .with_context(|| format!("experiment {name:?} not found in namespace {:?}", conn.namespace))?;
    let rs: Api<ReplicaSet> = Api::namespaced(conn.client.clone(), &conn.namespace);
    let pods: Api<Pod> = Api::namespaced(conn.client.clone(), &conn.namespace);
    let runs: Api<AnalysisRun> = Api::namespaced(conn.client.clone(), &conn.namespace);
    let all = ListParams::default();
    let (rs, pods, runs) = tokio::try_join!(rs.list(&all), pods.list(&all), runs.list(&all))
        .context("listing the experiment's ReplicaSets, pods and AnalysisRuns")?;
    Ok(ExperimentObjects { experiment, replica_sets: rs.items, pods: pods.items, analysis_runs: runs.items })
}

/// The rollout's `matchLabels` as a label selector (its ReplicaSets and pods carry them).
fn selector_of(rollout: &Rollout) -> String {
    let labels = rollout.spec.selector.as_ref().and_then(|s| s.match_labels.clone()).unwrap_or_default();
    labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// What the callback of [`follow`] wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep following.
    Continue,
    /// Stop now.
    Stop,
}

/// How [`follow`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The callback said stop.
    Stopped,
    /// The user pressed Ctrl-C.
    Interrupted,
    /// The timeout passed.
    TimedOut,
}

fn changes<K>(api: Api<K>, config: watcher::Config) -> impl Stream<Item = ()> + Send + 'static
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    // A failing watch (e.g. a brief disconnection, or the Experiment CRD missing) is retried with
    // a backoff rather than at once in a loop; the once-a-second tick reads the objects anyway.
    watcher(api, config).default_backoff().map(|_| ())
}

/// Calls `on` with fresh objects of the rollout `name` now, on every change, and every second,
/// until it returns [`Flow::Stop`], Ctrl-C, or `timeout`.
pub async fn follow(
    conn: &Connection,
    name: &str,
    timeout: Option<Duration>,
    on: impl FnMut(&Objects) -> anyhow::Result<Flow>,
) -> anyhow::Result<Ended> {
    let ns = &conn.namespace;
    let client = &conn.client;
    let streams = vec![
        changes(Api::<Rollout>::namespaced(client.clone(), ns), by_name(name)).boxed(),
        // The rollout's experiments show in its tree.
        changes(Api::<Experiment>::namespaced(client.clone(), ns), watcher::Config::default()).boxed(),
    ];
    follow_with(conn, streams, timeout, || fetch(conn, name), on).await
}

/// [`follow`] for the experiment `name`.
pub async fn follow_experiment(
    conn: &Connection,
    name: &str,
    timeout: Option<Duration>,
    on: impl FnMut(&ExperimentObjects) -> anyhow::Result<Flow>,
) -> anyhow::Result<Ended> {
    let api = Api::<Experiment>::namespaced(conn.client.clone(), &conn.namespace);
    let streams = vec![changes(api, by_name(name)).boxed()];
    follow_with(conn, streams, timeout, || fetch_experiment(conn, name), on).await
}

fn by_name(name: &str) -> watcher::Config {
    watcher::Config::default().fields(&format!("metadata.name={name}"))
}

/// The loop of [`follow`] and [`follow_experiment`]: `watched` streams plus the ReplicaSets,
/// pods and AnalysisRuns of the namespace, a tick a second, Ctrl-C and the timeout.
async fn follow_with<T, F, Fut>(
    conn: &Connection,
    watched: Vec<BoxStream<'static, ()>>,
    timeout: Option<Duration>,
    mut fetch: F,
    mut on: impl FnMut(&T) -> anyhow::Result<Flow>,
) -> anyhow::Result<Ended>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let ns = &conn.namespace;
    let client = &conn.client;
    let mut events = futures::stream::select_all(watched.into_iter().chain([
        changes(Api::<ReplicaSet>::namespaced(client.clone(), ns), watcher::Config::default()).boxed(),
        changes(Api::<Pod>::namespaced(client.clone(), ns), watcher::Config::default()).boxed(),
        changes(Api::<AnalysisRun>::namespaced(client.clone(), ns), watcher::Config::default()).boxed(),
    ]));
    let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        if on(&fetch().await?)? == Flow::Stop {
            return Ok(Ended::Stopped);
        }
        let sleep_until_deadline = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut ctrl_c => return Ok(Ended::Interrupted),
            () = sleep_until_deadline => return Ok(Ended::TimedOut),
            _ = tick.tick() => {}
            Some(()) = events.next() => {
                // Take what arrives together as one change (a status write, then its pods...).
                tokio::time::sleep(Duration::from_millis(150)).await;
                while let Some(Some(())) = futures::FutureExt::now_or_never(events.next()) {}
            }
        }
    }
}

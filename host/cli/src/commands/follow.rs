//! Reading a rollout and everything it owns, once ([`fetch`]) or as it changes ([`follow`]).
//!
//! `follow` watches the rollout, ReplicaSets, pods and AnalysisRuns of the namespace and reads
//! them again whenever one changes (events arriving together are taken as one change), plus once
//! a second so that ages and pause countdowns move. It ends when the callback says so, on
//! Ctrl-C, or at the timeout.

use std::time::Duration;

use anyhow::Context as _;
use aviary_api::{AnalysisRun, Rollout};
use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use kube::runtime::watcher;
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

use super::kubeargs::Connection;
use crate::render::info::Objects;

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
    let (rs, pods, runs) = tokio::try_join!(rs.list(&params), pods.list(&params), runs.list(&all))
        .context("listing the rollout's ReplicaSets, pods and AnalysisRuns")?;
    Ok(Objects { rollout, replica_sets: rs.items, pods: pods.items, analysis_runs: runs.items })
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

fn changes<K>(api: Api<K>, config: watcher::Config) -> impl Stream<Item = ()> + Send
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    // A failing watch (e.g. a brief disconnection) is retried by the once-a-second tick anyway.
    watcher(api, config).map(|_| ())
}

/// Calls `on` with fresh objects now, on every change, and every second, until it returns
/// [`Flow::Stop`], Ctrl-C, or `timeout`.
pub async fn follow(
    conn: &Connection,
    name: &str,
    timeout: Option<Duration>,
    mut on: impl FnMut(&Objects) -> anyhow::Result<Flow>,
) -> anyhow::Result<Ended> {
    let ns = &conn.namespace;
    let client = &conn.client;
    let mut events = futures::stream::select_all([
        changes(
            Api::<Rollout>::namespaced(client.clone(), ns),
            watcher::Config::default().fields(&format!("metadata.name={name}")),
        )
        .boxed(),
        changes(Api::<ReplicaSet>::namespaced(client.clone(), ns), watcher::Config::default()).boxed(),
        changes(Api::<Pod>::namespaced(client.clone(), ns), watcher::Config::default()).boxed(),
        changes(Api::<AnalysisRun>::namespaced(client.clone(), ns), watcher::Config::default()).boxed(),
    ]);
    let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        if on(&fetch(conn, name).await?)? == Flow::Stop {
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

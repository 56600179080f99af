//! `spec.restartAt`: pods created before that time are deleted, a few at a time, so that their
//! ReplicaSets recreate them (Argo's pod restarter, used by `kubectl argo rollouts restart`).

use aviary_api::{Rollout, Time};
use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams};
use kube::{Api, ResourceExt};

use super::replicasets::Roles;
use crate::context::Context;
use crate::error::Error;

/// What the restarter did.
pub enum Restart {
    /// Nothing to do, or done: `restartedAt` may record this time.
    Done(Option<Time>),
    /// Pods were deleted or are still to be: wait for them.
    InProgress,
}

/// Deletes at most `maxUnavailable` (at least one) old pods while every pod is available.
pub async fn reconcile(ctx: &Context, rollout: &Rollout, roles: &Roles, now: DateTime<Utc>) -> Result<Restart, Error> {
    let Some(restart_at) = rollout.spec.restart_at else { return Ok(Restart::Done(None)) };
    let already = rollout.status.as_ref().and_then(|s| s.restarted_at);
    if already.as_ref() == Some(&restart_at) || restart_at.0 > now {
        return Ok(Restart::Done(already));
    }
    let hashes: Vec<&str> = roles.all.iter().map(|r| super::replicasets::hash(r)).collect();
    let selector = rollout
        .spec
        .selector
        .as_ref()
        .and_then(|s| s.match_labels.as_ref())
        .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","))
        .unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &rollout.namespace().unwrap_or_default());
    let pods =
        api.list(&ListParams::default().labels(&selector)).await.map_err(Error::kube("listing pods to restart"))?;
    let ours: Vec<&Pod> = pods
        .items
        .iter()
        .filter(|p| p.labels().get(super::replicasets::HASH_LABEL).is_some_and(|h| hashes.contains(&h.as_str())))
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    let old: Vec<&&Pod> = ours
        .iter()
        .filter(|p| p.metadata.creation_timestamp.as_ref().is_some_and(|t| t.0.as_second() < restart_at.0.timestamp()))
        .collect();
    if old.is_empty() {
        return Ok(Restart::Done(Some(restart_at)));
    }
    let desired = rollout.spec.replicas_or_default();
    let available = roles
        .all
        .iter()
        .map(|r| r.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0))
        .fold(0i32, i32::saturating_add);
    let budget = aviary_engine::fenceposts::max_unavailable(&rollout.spec)
        .max(1)
        .saturating_sub(desired.saturating_sub(available).max(0));
    for pod in old.into_iter().take(usize::try_from(budget).unwrap_or(0)) {
        api.delete(&pod.name_any(), &DeleteParams::default())
            .await
            .map_err(Error::kube(format!("restarting pod {}", pod.name_any())))?;
        ctx.event(
            rollout,
            false,
            "RestartingPod",
            format!("Restarting pod {} (restartAt {restart_at})", pod.name_any()),
        )
        .await;
    }
    Ok(Restart::InProgress)
}

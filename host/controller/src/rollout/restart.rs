//! `spec.restartAt`: pods created before that time are deleted, a few at a time, so that their
//! ReplicaSets recreate them (Argo's pod restarter, used by `kubectl argo rollouts restart`).

use aviary_api::{Rollout, Time};
use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{EvictParams, ListParams};
use kube::{Api, ResourceExt};

use super::replicasets::Roles;
use crate::context::Context;
use crate::error::Error;

/// What the restarter did.
pub enum Restart {
    /// Nothing to do, or done: `restartedAt` may record this time.
    Done(Option<Time>),
    /// Pods were evicted in this reconcile: the availability counts no longer hold, so the
    /// reconcile ends here (Argo's pod restarter) and looks again after [`RECHECK`].
    Evicted,
    /// Old pods remain but none could be evicted now (not enough available): the reconcile goes
    /// on, and the restarter looks again after [`RECHECK`].
    Waiting,
}

/// How soon a restart in progress is looked at again (Argo's `restartPodCheckTime`).
pub const RECHECK: std::time::Duration = std::time::Duration::from_secs(10);

/// Argo's `RolloutPodRestarter.Reconcile`: evicts pods created before `spec.restartAt`, at most
/// `maxUnavailable` (at least one) beyond what keeps `max(replicas, total)` minus that available.
pub async fn reconcile(ctx: &Context, rollout: &Rollout, roles: &Roles, now: DateTime<Utc>) -> Result<Restart, Error> {
    let Some(restart_at) = rollout.spec.restart_at else { return Ok(Restart::Done(None)) };
    let already = rollout.status.as_ref().and_then(|s| s.restarted_at);
    if already.as_ref() == Some(&restart_at) || restart_at.0 > now {
        return Ok(Restart::Done(already));
    }
    let hashes: Vec<&str> = roles.all.iter().map(|r| super::replicasets::hash(r)).collect();
    let selector = rollout.spec.selector.as_ref().map(super::replicasets::selector_string).unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &rollout.namespace().unwrap_or_default());
    let pods =
        api.list(&ListParams::default().labels(&selector)).await.map_err(Error::kube("listing pods to restart"))?;
    let ours: Vec<&Pod> = pods
        .items
        .iter()
        .filter(|p| p.labels().get(super::replicasets::HASH_LABEL).is_some_and(|h| hashes.contains(&h.as_str())))
        .collect();
    let replicas = rollout.spec.replicas_or_default();
    let total =
        roles.all.iter().map(|r| r.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0)).fold(0i32, i32::saturating_add);
    let available = i32::try_from(ours.iter().filter(|p| available_pod(p)).count()).unwrap_or(i32::MAX);
    let concurrent = aviary_engine::fenceposts::max_unavailable(&rollout.spec).max(1);
    let mut can_restart = available.saturating_sub(replicas.max(total).saturating_sub(concurrent));
    let (mut needs, mut evicted) = (0usize, 0usize);
    for pod in ours {
        let created = pod.metadata.creation_timestamp.as_ref().map(|t| t.0.as_second());
        if created.is_some_and(|c| c >= restart_at.0.timestamp()) {
            continue;
        }
        needs = needs.saturating_add(1);
        if can_restart <= 0 || pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        tracing::info!(pod = %pod.name_any(), %restart_at, "restarting a pod older than restartAt");
        match api.evict(&pod.name_any(), &EvictParams::default()).await {
            Ok(_) => {}
            // A PodDisruptionBudget said no: try again later.
            Err(kube::Error::Api(s)) if s.code == 429 => continue,
            Err(e) => return Err(Error::kube(format!("evicting pod {}", pod.name_any()))(e)),
        }
        can_restart = can_restart.saturating_sub(1);
        evicted = evicted.saturating_add(1);
    }
    Ok(match (needs, evicted) {
        (0, _) => Restart::Done(Some(restart_at)),
        (_, 0) => Restart::Waiting,
        _ => Restart::Evicted,
    })
}

/// Argo's `getAvailablePodCount` for one pod: Ready for `minReadySeconds`; here, Ready.
fn available_pod(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

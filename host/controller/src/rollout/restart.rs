//! `spec.restartAt`: the pods the engine picks ([`aviary_engine::rollout::restart`]) are
//! evicted, a few at a time, so that their ReplicaSets recreate them (Argo's pod restarter, used
//! by `kubectl argo rollouts restart`).

use aviary_api::Rollout;
use aviary_engine::rollout::restart::{self, PodState, Restart, RestartDecision};
use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{EvictParams, ListParams};
use kube::{Api, ResourceExt};

use super::replicasets::{HASH_LABEL, Roles};
use crate::context::Context;
use crate::error::Error;

/// Lists the Rollout's pods, asks the engine which to restart, and evicts them in order until the
/// budget is spent; an eviction a PodDisruptionBudget refuses (429) is skipped and does not count.
pub async fn reconcile(ctx: &Context, rollout: &Rollout, roles: &Roles, now: DateTime<Utc>) -> Result<Restart, Error> {
    if let Err(kept) = restart::due(rollout, now) {
        return Ok(Restart::Done(kept));
    }
    let selector = rollout.spec.selector.as_ref().map(super::replicasets::selector_string).unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &rollout.namespace().unwrap_or_default());
    let pods =
        api.list(&ListParams::default().labels(&selector)).await.map_err(Error::kube("listing pods to restart"))?;
    let states: Vec<PodState> = pods.items.iter().map(pod_state).collect();
    let plan = match restart::decide(rollout, &roles.observed(), &states, now) {
        RestartDecision::Done(at) => return Ok(Restart::Done(at)),
        RestartDecision::Evict(plan) => plan,
    };
    let mut evicted = 0usize;
    for name in &plan.candidates {
        if i32::try_from(evicted).unwrap_or(i32::MAX) >= plan.budget {
            break;
        }
        tracing::info!(pod = %name, "restarting a pod older than restartAt");
        match api.evict(name, &EvictParams::default()).await {
            Ok(_) => evicted = evicted.saturating_add(1),
            // A PodDisruptionBudget said no: try again later.
            Err(kube::Error::Api(s)) if s.code == 429 => {}
            Err(e) => return Err(Error::kube(format!("evicting pod {name}"))(e)),
        }
    }
    Ok(plan.outcome(evicted))
}

/// A pod as the engine's restart decision sees it.
fn pod_state(pod: &Pod) -> PodState {
    let terminating = pod.metadata.deletion_timestamp.is_some();
    let ready = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    PodState {
        name: pod.name_any(),
        pod_template_hash: pod.labels().get(HASH_LABEL).cloned().unwrap_or_default(),
        created: pod.metadata.creation_timestamp.as_ref().and_then(|t| DateTime::from_timestamp(t.0.as_second(), 0)),
        available: ready && !terminating,
        terminating,
    }
}

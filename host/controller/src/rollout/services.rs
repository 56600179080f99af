//! The Services a rollout switches: the canary and stable Services follow the ReplicaSets by
//! pod template hash (Argo's `reconcileStableAndCanaryService`); the blue-green active and
//! preview Services are observed here and switched where the engine decides.

use aviary_api::Rollout;
use aviary_engine::rollout::{BlueGreenServices, ServiceState, ServiceTarget};
use k8s_openapi::api::core::v1::Service;
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;

use super::replicasets::{HASH_LABEL, Roles};
use crate::context::Context;
use crate::error::Error;

/// Marks a Service whose selector Aviary (or Argo) manages.
pub const MANAGED_BY: &str = "argo-rollouts.argoproj.io/managed-by-rollouts";

/// Points the canary's Services at their ReplicaSets as the engine decides
/// ([`aviary_engine::rollout::canary_service_targets`], Argo's `reconcileStableAndCanaryService`).
pub async fn reconcile(ctx: &Context, rollout: &Rollout, roles: &Roles) -> Result<(), Error> {
    let observed = roles.observed();
    for target in aviary_engine::rollout::canary_service_targets(rollout, &observed) {
        ensure(ctx, rollout, &target, roles).await?;
    }
    Ok(())
}

/// Argo's `ensureSVCTargets`: switches one Service to its ReplicaSet when the engine says so.
pub async fn ensure(ctx: &Context, rollout: &Rollout, target: &ServiceTarget, roles: &Roles) -> Result<(), Error> {
    let Some(rs) = roles.get(target.role) else { return Ok(()) };
    let Some(svc) = read(ctx, rollout, &target.service).await? else { return Ok(()) };
    let current = svc.selector.unwrap_or_default();
    let state = super::replicasets::state(&rs);
    let Some(desired) =
        aviary_engine::rollout::service_selector(&current, svc.managed, &state, target.check_availability)
    else {
        return Ok(());
    };
    switch(ctx, rollout, &target.service, &current, desired, !svc.managed).await
}

/// A Service as the decisions see it (its pod-template-hash selector, whether it is managed);
/// `None` when the name is empty or the Service does not exist.
async fn read(ctx: &Context, rollout: &Rollout, name: &str) -> Result<Option<ServiceState>, Error> {
    if name.is_empty() {
        return Ok(None);
    }
    let api: Api<Service> = Api::namespaced(ctx.client.clone(), &rollout.namespace().unwrap_or_default());
    let svc = api.get_opt(name).await.map_err(Error::kube(format!("reading Service {name}")))?;
    Ok(svc.map(|svc| ServiceState {
        name: name.to_string(),
        selector: svc.spec.as_ref().and_then(|s| s.selector.as_ref()).and_then(|s| s.get(HASH_LABEL)).cloned(),
        managed: svc.annotations().contains_key(MANAGED_BY),
    }))
}

/// The blue-green Services as the engine decides on them (a missing one is `None`: the
/// reference check reports it before a reconcile gets here).
pub async fn observe_blue_green(ctx: &Context, rollout: &Rollout) -> Result<BlueGreenServices, Error> {
    let Some(bg) = rollout.spec.blue_green() else { return Ok(BlueGreenServices::default()) };
    let active = read(ctx, rollout, &bg.active_service).await?;
    let preview = read(ctx, rollout, &bg.preview_service).await?;
    Ok(BlueGreenServices { active, preview })
}

/// Argo's `switchServiceSelector`: the Service selects `to` (and is marked managed by the
/// rollout when `adopt`), and the `SwitchService` event says so.
pub async fn switch(
    ctx: &Context,
    rollout: &Rollout,
    name: &str,
    from: &str,
    to: &str,
    adopt: bool,
) -> Result<(), Error> {
    let api: Api<Service> = Api::namespaced(ctx.client.clone(), &rollout.namespace().unwrap_or_default());
    let patch = if adopt {
        json!({"metadata": {"annotations": {MANAGED_BY: rollout.name_any()}}, "spec": {"selector": {HASH_LABEL: to}}})
    } else {
        json!({"spec": {"selector": {HASH_LABEL: to}}})
    };
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(Error::kube(format!("switching Service {name}")))?;
    ctx.event(rollout, false, "SwitchService", aviary_engine::rollout::service_switched_message(name, from, to)).await;
    Ok(())
}

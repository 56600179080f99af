//! Argo's service controller: a Service whose selector a Rollout managed is handed back once that
//! Rollout is deleted or no longer names it (a strategy changed from blue-green to canary, a
//! Service renamed): the `argo-rollouts.argoproj.io/managed-by-rollouts` annotation and the
//! `rollouts-pod-template-hash` selector are removed, so the Service selects every pod of its own
//! selector again instead of pointing at a ReplicaSet nobody manages. The decision is the
//! engine's ([`aviary_engine::rollout::service_released`]).
//!
//! Services are looked at when they change, when a Rollout that manages one changes or goes away,
//! and every 30 s from the cache while managed (the cache may see a deletion after the event
//! that triggered the look). The Rollout is read from the cache first; only when the cache says it
//! is gone or no longer names the Service is it read from the API server, as Argo does, so that a
//! Rollout of another controller instance (not in this one's cache) never loses its Service.

use std::sync::Arc;

use aviary_api::Rollout;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

use crate::error::Error;
use crate::rollout::replicasets::HASH_LABEL;
use crate::rollout::services::MANAGED_BY;

/// How soon a Service its Rollout still manages is looked at again (cache only, no request).
const RECHECK: std::time::Duration = std::time::Duration::from_secs(30);

/// What the service controller needs.
pub struct ServiceContext {
    /// The API client.
    pub client: Client,
    /// The Rollout cache of the Rollout controller.
    pub rollouts: Store<crate::compact::Compact<Rollout>>,
}

/// The Services (from `services`) a Rollout event concerns: those marked as managed by it.
pub fn managed_by(rollout: &Rollout, services: &Store<Service>) -> Vec<ObjectRef<Service>> {
    let (ns, name) = (rollout.namespace(), rollout.name_any());
    services
        .state()
        .iter()
        .filter(|s| s.namespace() == ns && s.annotations().get(MANAGED_BY) == Some(&name))
        .map(|s| ObjectRef::from_obj(&**s))
        .collect()
}

/// Hands a Service back when its Rollout no longer manages it (see the module documentation).
pub async fn reconcile(svc: Arc<Service>, ctx: Arc<ServiceContext>) -> Result<Action, Error> {
    // A Service without the annotation is left as it is (Argo's patch for one would only remove
    // an annotation it does not have).
    let Some(owner) = svc.annotations().get(MANAGED_BY).cloned() else { return Ok(Action::await_change()) };
    let (ns, name) = (svc.namespace().unwrap_or_default(), svc.name_any());
    let cached = ctx.rollouts.get(&ObjectRef::new(&owner).within(&ns)).and_then(|c| c.decoded());
    if !aviary_engine::rollout::service_released(&name, cached.as_deref()) {
        // The cache may not have seen a deletion yet (its watch and the one that brought this
        // event are not ordered): look again later, from the cache alone.
        return Ok(Action::requeue(RECHECK));
    }
    let api: Api<Rollout> = Api::namespaced(ctx.client.clone(), &ns);
    let current = api.get_opt(&owner).await.map_err(Error::kube(format!("reading Rollout {owner}")))?;
    if !aviary_engine::rollout::service_released(&name, current.as_ref()) {
        return Ok(Action::await_change());
    }
    let patch = json!({
        "metadata": {"annotations": {MANAGED_BY: null}},
        "spec": {"selector": {HASH_LABEL: null}},
    });
    let services: Api<Service> = Api::namespaced(ctx.client.clone(), &ns);
    match services.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
        Ok(_) => {
            tracing::info!(service = %name, rollout = %owner, "released the Service: its Rollout no longer manages it")
        }
        Err(e) if crate::error::is_not_found(&e) => {}
        Err(e) => return Err(Error::kube(format!("releasing Service {name}"))(e)),
    }
    Ok(Action::await_change())
}

/// Retries a failed release after a while.
pub fn error_policy(svc: Arc<Service>, error: &Error, _ctx: Arc<ServiceContext>) -> Action {
    tracing::warn!(service = %svc.name_any(), "releasing a Service failed: {error}");
    Action::requeue(std::time::Duration::from_secs(10))
}

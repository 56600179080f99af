//! The Rollout controller: validation, then the reconcile of its strategy (canary or blue-green).

pub mod analysis;
pub mod conditions;
pub mod ephemeral;
pub mod experiments;
pub mod references;
pub mod replicasets;
pub mod restart;
pub mod routing;
pub mod services;
pub mod step_plugins;
pub mod sync;
pub mod workload;

use std::sync::Arc;
use std::time::Duration;

use aviary_api::Rollout;
use aviary_api::validation::{FieldError, validate_resolved_rollout};
use chrono::Utc;
use kube::runtime::controller::Action;
use kube::{Api, Resource, ResourceExt};
use tracing::instrument;

use crate::compact::Compact;
use crate::context::Context;
use crate::error::Error;

/// Reconciles one Rollout.
#[instrument(skip_all, fields(
    rollout = %cached.name_any(),
    namespace = cached.namespace().unwrap_or_default(),
    revision = replicasets::revision(cached.meta()),
    step = tracing::field::Empty,
))]
pub async fn reconcile(cached: Arc<Compact<Rollout>>, ctx: Arc<Context>) -> Result<Action, Error> {
    let Some(rollout) = cached.decoded() else {
        return Err(Error::Invalid(format!("Rollout {}: cannot decode the cached object", cached.name_any())));
    };
    if let Some(step) = rollout.status.as_ref().and_then(|s| s.current_step_index) {
        tracing::Span::current().record("step", step);
    }
    if rollout.metadata.deletion_timestamp.is_some() {
        ctx.seen_rollouts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(rollout.metadata.uid.as_deref().unwrap_or_default());
        return Ok(Action::await_change());
    }
    // Act on the cache, with this controller's own writes it does not show yet (a reconcile
    // woken by a ReplicaSet we just scaled may run before the watch delivers the status written
    // with it): see `own_writes`. Every status write carries the version it was decided on, so
    // a change by another writer the cache does not show yet is a conflict, decided again.
    let Some(rollout) = ctx.own_rollouts.latest(rollout) else { return Ok(Action::await_change()) };
    let api: Api<Rollout> = Api::namespaced(ctx.client.clone(), &rollout.namespace().unwrap_or_default());
    let now = Utc::now();
    let first_sight = ctx
        .seen_rollouts
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(rollout.metadata.uid.clone().unwrap_or_default());
    if first_sight {
        // Argo records this when its informer first lists or receives the Rollout: at start-up
        // for every Rollout, and on creation.
        let note = format!(
            "Rollout resource added to informer: {}/{}",
            rollout.namespace().unwrap_or_default(),
            rollout.name_any()
        );
        ctx.event(&*rollout, false, conditions::reason::ADDED_TO_INFORMER, note).await;
    }
    // workloadRef: the template comes from the referenced workload, in memory only.
    let rollout = match workload::resolve(&ctx, &rollout).await? {
        workload::Resolved::Invalid(why) => {
            let message = format!("The Rollout {:?} is invalid: {why}", rollout.name_any());
            return write_invalid(&ctx, &rollout, message, WORKLOAD_RETRY).await;
        }
        workload::Resolved::Rollout(resolved, generation) => {
            let mut resolved = *resolved;
            if rollout.spec.workload_ref.is_some()
                && let Some(written) = workload::record_generation(&ctx, &rollout, generation).await?
            {
                // The reconcile goes on from the version written (its status writes carry it).
                resolved.metadata.resource_version = written.metadata.resource_version;
                resolved.metadata.annotations = written.metadata.annotations;
            }
            Arc::new(resolved)
        }
    };
    if let Some(message) = invalid_spec(&ctx, &rollout).await? {
        return write_invalid(&ctx, &rollout, message, INVALID_RETRY).await;
    }
    // Argo writes `spec.replicas: 1` into a Rollout that has none (so that an HPA can scale it,
    // argo-rollouts#119), and acts on the next reconcile.
    if rollout.spec.replicas.is_none() {
        let patch = serde_json::json!({"spec": {"replicas": aviary_api::rollout::DEFAULT_REPLICAS}});
        let written = api
            .patch(&rollout.name_any(), &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&patch))
            .await
            .map_err(Error::kube("defaulting spec.replicas"))?;
        ctx.wrote_rollout(&rollout, &written);
        tracing::info!("defaulted .spec.replicas to 1");
        return Ok(Action::requeue(Duration::from_millis(100)));
    }
    let result = sync::RolloutSync::new(&ctx, rollout.clone(), now).run().await;
    match result {
        Err(e) if e.is_conflict() => {
            tracing::debug!("status conflict; retrying with the current object");
            Ok(Action::requeue(Duration::from_millis(200)))
        }
        other => other,
    }
}

/// How soon an invalid rollout is looked at again: referenced objects may appear later.
const INVALID_RETRY: Duration = Duration::from_secs(30);
/// The same for a workload reference that cannot be resolved (Argo's 20 s).
const WORKLOAD_RETRY: Duration = Duration::from_secs(20);

/// Backs off on errors; a conflict is retried at once.
pub fn error_policy(rollout: Arc<Compact<Rollout>>, error: &Error, ctx: Arc<Context>) -> Action {
    tracing::warn!(rollout = %rollout.name_any(), "reconcile failed: {error}");
    Action::requeue(error.retry_after(&ctx))
}

/// Argo's validation plus the referenced resources (Services, analysis templates). The message
/// names each field; `None` when the rollout is valid.
async fn invalid_spec(ctx: &Context, rollout: &Rollout) -> Result<Option<String>, Error> {
    // Argo reports the first error, with its own paths (see `FieldError::as_argo`); `aviary
    // lint` lists them all.
    // A workloadRef's template was resolved (and its emptiness checked) before this.
    if let Some(first) = validate_resolved_rollout(rollout).first() {
        return Ok(Some(format!("The Rollout {:?} is invalid: {}", rollout.name_any(), first.as_argo())));
    }
    if let Some(e) = unsupported(rollout) {
        return Ok(Some(format!("The Rollout {:?} is invalid: {e}", rollout.name_any())));
    }
    if let Err(e) = routing::check_available(ctx, rollout) {
        return Ok(Some(format!("The Rollout {:?} is invalid: {e}", rollout.name_any())));
    }
    if let Some(e) = references::first_error(ctx, rollout).await? {
        return Ok(Some(format!("The Rollout {:?} is invalid: {e}", rollout.name_any())));
    }
    Ok(None)
}

/// What Argo would run but this controller cannot (a traffic router no component serves),
/// named by its field: refused with the InvalidSpec condition (the rollout stops, Degraded, and
/// says why) rather than half done.
fn unsupported(rollout: &Rollout) -> Option<FieldError> {
    let canary = rollout.spec.canary()?;
    if let Some(tr) = &canary.traffic_routing
        && let Err(e) = routing::routers(tr)
    {
        return Some(e);
    }
    None
}

/// Argo's `createInvalidRolloutCondition` (decided by
/// [`aviary_engine::rollout::invalid_spec_status`]): the InvalidSpec condition, phase Degraded,
/// written when it changes. No Event, as Argo.
async fn write_invalid(ctx: &Context, rollout: &Rollout, message: String, retry: Duration) -> Result<Action, Error> {
    let (status, changed) = aviary_engine::rollout::invalid_spec_status(rollout, &message, Utc::now());
    if rollout.status.as_ref() != Some(&status) {
        let mut next = rollout.clone();
        next.status = Some(status);
        let api: Api<Rollout> = Api::namespaced(ctx.client.clone(), &rollout.namespace().unwrap_or_default());
        let how = crate::status_write::Write::Patch;
        let written = crate::status_write::write_status(&api, rollout, &next, how, &ctx.status_subresources.rollout)
            .await
            .map_err(Error::kube("writing the InvalidSpec condition"))?;
        ctx.wrote_rollout_status(&written);
    }
    if changed {
        tracing::warn!("{message}");
    }
    // Referenced objects (a Service, a template, the workload) may appear later.
    Ok(Action::requeue(retry))
}

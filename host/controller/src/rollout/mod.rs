//! The Rollout controller: validation, then the canary reconcile.

pub mod analysis;
pub mod canary;
pub mod conditions;
pub mod pause;
pub mod replicasets;
pub mod restart;
pub mod services;

use std::sync::Arc;
use std::time::Duration;

use aviary_api::Rollout;
use aviary_api::validation::validate_rollout;
use aviary_engine::phase::rollout_phase;
use chrono::Utc;
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use tracing::instrument;

use crate::context::Context;
use crate::error::Error;

/// Reconciles one Rollout.
#[instrument(skip_all, fields(
    rollout = %rollout.name_any(),
    namespace = rollout.namespace().unwrap_or_default(),
    revision = replicasets::revision(&rollout.metadata),
    step = rollout.status.as_ref().and_then(|s| s.current_step_index),
))]
pub async fn reconcile(rollout: Arc<Rollout>, ctx: Arc<Context>) -> Result<Action, Error> {
    if rollout.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    // Act on the latest version, not the cache's: a reconcile triggered by one of our own
    // writes (a ReplicaSet scaled, an AnalysisRun created) may run before the watch delivers
    // the status we just wrote, and acting on that stale status would repeat an action.
    let api: Api<Rollout> = Api::namespaced(ctx.client.clone(), &rollout.namespace().unwrap_or_default());
    let rollout = match api.get_opt(&rollout.name_any()).await.map_err(Error::kube("reading the Rollout"))? {
        Some(latest) => Arc::new(latest),
        None => return Ok(Action::await_change()),
    };
    let now = Utc::now();
    if let Some(message) = invalid_spec(&ctx, &rollout).await? {
        return write_invalid(&ctx, &rollout, message).await;
    }
    let result = canary::CanarySync::new(&ctx, rollout.clone(), now).run().await;
    match result {
        Err(e) if e.is_conflict() => {
            tracing::debug!("status conflict; retrying with the current object");
            Ok(Action::requeue(Duration::from_millis(200)))
        }
        other => other,
    }
}

/// Backs off on errors; a conflict is retried at once.
pub fn error_policy(rollout: Arc<Rollout>, error: &Error, ctx: Arc<Context>) -> Action {
    tracing::warn!(rollout = %rollout.name_any(), "reconcile failed: {error}");
    Action::requeue(error.retry_after(&ctx))
}

/// Argo's validation plus the referenced resources (Services, analysis templates). The message
/// names each field; `None` when the rollout is valid.
async fn invalid_spec(ctx: &Context, rollout: &Rollout) -> Result<Option<String>, Error> {
    let errors = validate_rollout(rollout);
    if !errors.is_empty() {
        let list: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        return Ok(Some(format!("The Rollout {:?} is invalid: {}", rollout.name_any(), list.join("; "))));
    }
    if rollout.spec.blue_green().is_some() {
        return Ok(Some("spec.strategy.blueGreen: aviary-controller reconciles canary rollouts only; blue-green is not supported yet".into()));
    }
    if rollout.spec.workload_ref.is_some() {
        return Ok(Some(
            "spec.workloadRef: aviary-controller does not support workloadRef yet; use spec.template".into(),
        ));
    }
    if let Some(canary) = rollout.spec.canary() {
        if canary.traffic_routing.is_some() {
            return Ok(Some("spec.strategy.canary.trafficRouting: aviary-controller does not route traffic yet; remove trafficRouting for a basic canary".into()));
        }
        if let Some(missing) = services::missing(ctx, rollout).await?.into_iter().next() {
            return Ok(Some(format!("spec.strategy.canary: Service {missing:?} not found")));
        }
        let ns = rollout.namespace().unwrap_or_default();
        let mut refs: Vec<(String, Vec<aviary_api::rollout::AnalysisTemplateRef>)> = Vec::new();
        for (i, step) in canary.steps.iter().enumerate() {
            if let Some(a) = &step.analysis {
                refs.push((format!("spec.strategy.canary.steps[{i}].analysis.templates"), a.templates.clone()));
            }
        }
        if let Some(a) = &canary.analysis {
            refs.push(("spec.strategy.canary.analysis.templates".into(), a.analysis.templates.clone()));
        }
        for (field, templates) in refs {
            match analysis::templates(ctx, &ns, &templates).await {
                Ok(_) => {}
                Err(Error::Invalid(why)) => return Ok(Some(format!("{field}: {why}"))),
                Err(e) => return Err(e),
            }
        }
    }
    Ok(None)
}

/// Records an InvalidSpec condition (phase Degraded, the message) and an Event, once.
async fn write_invalid(ctx: &Context, rollout: &Rollout, message: String) -> Result<Action, Error> {
    let now = Utc::now();
    let mut next = rollout.clone();
    let status = next.status.get_or_insert_with(Default::default);
    let changed = conditions::set(
        status,
        conditions::kind::INVALID_SPEC,
        true,
        conditions::reason::INVALID_SPEC,
        message.clone(),
        now,
    );
    status.observed_generation = rollout.metadata.generation.unwrap_or(0).to_string();
    let pm = rollout_phase(&next);
    if let Some(st) = next.status.as_mut() {
        st.phase = Some(pm.phase);
        st.message = pm.message;
    }
    if next.status != rollout.status {
        let api: Api<Rollout> = Api::namespaced(ctx.client.clone(), &rollout.namespace().unwrap_or_default());
        crate::status_write::replace_status(&api, rollout, next)
            .await
            .map_err(Error::kube("writing the InvalidSpec condition"))?;
    }
    if changed {
        tracing::warn!("{message}");
        ctx.event(rollout, true, conditions::reason::INVALID_SPEC, message).await;
    }
    // Referenced objects (a Service, a template) may appear later; look again in a while.
    Ok(Action::requeue(Duration::from_secs(30)))
}

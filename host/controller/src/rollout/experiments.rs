//! A canary's Experiments (Argo's `reconcileExperiments`): the current `experiment:` step's
//! Experiment created from the stable and canary ReplicaSets, the rollout's reaction to its phase
//! (the engine's: pause on Inconclusive, abort on Failed or Error), the others terminated, and
//! the finished ones beyond the history limits deleted.

use std::collections::BTreeMap;
use std::sync::Arc;

use aviary_api::experiment::Experiment;
use aviary_api::rollout_status::{PauseReason, WeightDestination};
use aviary_api::{AnalysisPhase, Rollout};
use aviary_engine::experiment::from_step::{self, OwnedExperiment};
use aviary_engine::rollout::PauseContext;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Resource, ResourceExt};
use serde_json::json;

use super::replicasets::{Roles, hash, owner_reference};
use crate::context::{Context, controlled_by};
use crate::error::{Error, is_already_exists, is_not_found};

/// What the rollout's decision needs of its experiments.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The phase of the experiment the stored status names as current.
    pub phase: Option<AnalysisPhase>,
    /// The experiment to record as current (none once it finished).
    pub current: String,
}

/// The experiment the rollout's status names as current (from the cache, else the API server),
/// and the traffic its weighted templates take while it runs: what traffic routing needs, before
/// the experiments are reconciled (Argo's order).
pub async fn current(
    ctx: &Context,
    rollout: &Rollout,
) -> Result<(Option<Arc<Experiment>>, Vec<WeightDestination>), Error> {
    let name = rollout.status.as_ref().map(|s| s.canary.current_experiment.clone()).unwrap_or_default();
    if name.is_empty() {
        return Ok((None, Vec::new()));
    }
    let uid = rollout.metadata.uid.clone().unwrap_or_default();
    let cached = ctx.owned_experiments(rollout).into_iter().find(|e| e.name_any() == name);
    let found = match cached {
        Some(e) => Some(e),
        None => {
            let api: Api<Experiment> = Api::namespaced(ctx.client.clone(), &rollout.namespace().unwrap_or_default());
            api.get_opt(&name)
                .await
                .map_err(Error::kube("reading the current Experiment"))?
                .filter(|e| controlled_by(&e.metadata, &uid))
                .map(Arc::new)
        }
    };
    let destinations = from_step::weight_destinations(rollout, found.as_deref());
    Ok((found, destinations))
}

/// Reconciles the rollout's experiments; `current` is what [`current`] found.
pub async fn reconcile(
    ctx: &Context,
    rollout: &Rollout,
    roles: &Roles,
    pause: &mut PauseContext,
    current: Option<Arc<Experiment>>,
) -> Result<Outcome, Error> {
    let status = rollout.status.clone().unwrap_or_default();
    let mut out =
        Outcome { phase: current.as_ref().and_then(|e| e.status.as_ref()).and_then(|s| s.phase), ..Default::default() };
    let current_name = current.as_ref().map(|e| e.name_any());
    let mut others: Vec<Arc<Experiment>> = ctx
        .owned_experiments(rollout)
        .into_iter()
        .filter(|e| e.metadata.deletion_timestamp.is_none() && Some(e.name_any()) != current_name)
        .collect();
    if pause.is_aborted(rollout) || status.promote_full {
        terminate(ctx, others.iter().chain(current.iter())).await?;
        return Ok(out);
    }
    if status.pause_conditions.iter().any(|c| c.reason == PauseReason::InconclusiveAnalysisRun) {
        return Ok(out);
    }
    let on_step = aviary_engine::weight::current_step(rollout).0.is_some_and(|s| s.experiment.is_some());
    if on_step {
        let ex = match current.clone() {
            Some(ex) => ex,
            None => {
                // The first deploy runs no experiment: there is no stable to compare with.
                let (Some(stable), Some(new_rs)) = (roles.stable_rs.as_deref(), roles.new_rs.as_deref()) else {
                    tracing::info!("Cannot create experiment until stableRS exists");
                    return Ok(out);
                };
                let created = create(ctx, rollout, stable, new_rs).await?;
                let note = format!("Created Experiment '{}'", created.name_any());
                ctx.event(rollout, false, "ExperimentCreated", note).await;
                created
            }
        };
        let s = ex.status.clone().unwrap_or_default();
        if from_step::react(pause, s.phase, &s.message) {
            out.current = ex.name_any();
            others.retain(|o| o.name_any() != out.current);
        }
    } else if let Some(cur) = &current {
        others.push(cur.clone());
    }
    terminate(ctx, others.iter()).await?;
    delete_old(ctx, rollout, roles, &others).await?;
    Ok(out)
}

/// Creates the current step's Experiment; a name taken by one that is ours, unfinished and of
/// the same spec is that one (a restart), otherwise `-1`, `-2`... are tried (Argo's
/// `createExperimentWithCollisionHandling`).
async fn create(
    ctx: &Context,
    rollout: &Rollout,
    stable: &k8s_openapi::api::apps::v1::ReplicaSet,
    new_rs: &k8s_openapi::api::apps::v1::ReplicaSet,
) -> Result<Arc<Experiment>, Error> {
    let pod_hash = hash(new_rs).to_string();
    let Some(mut ex) = from_step::experiment_for_step(rollout, &pod_hash, stable, new_rs)
        .map_err(|e| Error::Invalid(format!("building the experiment: {e}")))?
    else {
        return Err(Error::Invalid("the current step is not an experiment step".into()));
    };
    ex.metadata.owner_references = Some(vec![owner_reference(rollout)]);
    if let Some(id) = &ctx.instance_id {
        ex.metadata.labels.get_or_insert_with(BTreeMap::new).insert(crate::INSTANCE_ID_LABEL.into(), id.clone());
    }
    let api: Api<Experiment> = Api::namespaced(ctx.client.clone(), &rollout.namespace().unwrap_or_default());
    let base = ex.name_any();
    let uid = rollout.metadata.uid.clone().unwrap_or_default();
    for attempt in 0..=100u32 {
        let name = if attempt == 0 { base.clone() } else { format!("{base}-{attempt}") };
        ex.metadata.name = Some(name.clone());
        match api.create(&PostParams::default(), &ex).await {
            Ok(created) => return Ok(Arc::new(created)),
            Err(e) if is_already_exists(&e) => {
                let existing = api.get(&name).await.map_err(Error::kube("reading an existing Experiment"))?;
                let finished = existing.status.as_ref().and_then(|s| s.phase).is_some_and(AnalysisPhase::is_completed);
                let mut spec = existing.spec.clone();
                spec.terminate = false;
                if !finished && spec == ex.spec && controlled_by(&existing.metadata, &uid) {
                    return Ok(Arc::new(existing));
                }
            }
            Err(e) => return Err(Error::kube(format!("creating Experiment {name}"))(e)),
        }
    }
    Err(Error::Invalid(format!("could not find a free name for Experiment {base}")))
}

/// Sets `spec.terminate` on the experiments that are still going.
async fn terminate<'a>(ctx: &Context, exs: impl Iterator<Item = &'a Arc<Experiment>>) -> Result<(), Error> {
    for ex in exs {
        let finished = ex.status.as_ref().and_then(|s| s.phase).is_some_and(AnalysisPhase::is_completed);
        if ex.spec.terminate || finished {
            continue;
        }
        let api: Api<Experiment> = Api::namespaced(ctx.client.clone(), &ex.namespace().unwrap_or_default());
        let patch = json!({"spec": {"terminate": true}});
        match api.patch(&ex.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => tracing::info!(experiment = %ex.name_any(), "terminating Experiment"),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(Error::kube(format!("terminating Experiment {}", ex.name_any()))(e)),
        }
    }
    Ok(())
}

/// Argo's `FilterExperimentsToDelete` on the experiments that are not current.
async fn delete_old(ctx: &Context, rollout: &Rollout, roles: &Roles, others: &[Arc<Experiment>]) -> Result<(), Error> {
    let live: BTreeMap<&str, bool> =
        roles.all.iter().map(|r| (hash(r), r.metadata.deletion_timestamp.is_some())).collect();
    let owned: Vec<OwnedExperiment<'_>> = others
        .iter()
        .map(|e| OwnedExperiment {
            created: e
                .meta()
                .creation_timestamp
                .as_ref()
                .and_then(|t| chrono::DateTime::from_timestamp(t.0.as_second(), 0)),
            name: e.meta().name.as_deref().unwrap_or_default(),
            pod_hash: e.meta().labels.as_ref().and_then(|l| l.get(super::replicasets::HASH_LABEL)).map(String::as_str),
            phase: e.status.as_ref().and_then(|s| s.phase),
        })
        .collect();
    let analysis = rollout.spec.analysis.as_ref();
    let successful = analysis.and_then(|a| a.successful_run_history_limit).unwrap_or(5);
    let unsuccessful = analysis.and_then(|a| a.unsuccessful_run_history_limit).unwrap_or(5);
    for i in from_step::experiments_to_delete(&owned, &live, successful, unsuccessful) {
        let Some(ex) = others.get(i) else { continue };
        let api: Api<Experiment> = Api::namespaced(ctx.client.clone(), &ex.namespace().unwrap_or_default());
        match api.delete(&ex.name_any(), &DeleteParams::default()).await {
            Ok(_) => tracing::info!(experiment = %ex.name_any(), "deleted old Experiment"),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(Error::kube(format!("deleting Experiment {}", ex.name_any()))(e)),
        }
    }
    Ok(())
}

//! The AnalysisRuns of a Rollout: created from templates for analysis steps and for the
//! background analysis, terminated when the rollout moves on, garbage-collected by Argo's
//! history limits; their outcome pauses (Inconclusive) or aborts (Failed, Error) the rollout.

use std::collections::BTreeMap;
use std::sync::Arc;

use aviary_api::analysis::{AnalysisRun, AnalysisRunSpec, AnalysisTemplateSpec};
use aviary_api::rollout::RolloutAnalysis;
use aviary_api::rollout_status::RolloutAnalysisRunStatus;
use aviary_api::{AnalysisPhase, Rollout};
use aviary_engine::analysis::args::{build_rollout_args, merge_args};
use aviary_engine::rollout::RunObservation;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

use super::replicasets::{HASH_LABEL, REVISION, Roles, hash, owner_reference, revision};
use crate::context::Context;
use crate::error::{Error, is_already_exists, is_not_found};
use aviary_engine::rollout::PauseContext;
use aviary_engine::rollout::runs::{self, RunChoice, RunRole};

pub use aviary_engine::rollout::runs::{ROLLOUT_TYPE, STEP_INDEX};

/// The runs this reconcile keeps as current.
#[derive(Debug, Default, Clone)]
pub struct CurrentRuns {
    /// The current step's run.
    pub step: Option<Arc<AnalysisRun>>,
    /// The background run.
    pub background: Option<Arc<AnalysisRun>>,
    /// Blue-green: the pre-promotion run.
    pub pre_promotion: Option<Arc<AnalysisRun>>,
    /// Blue-green: the post-promotion run.
    pub post_promotion: Option<Arc<AnalysisRun>>,
}

impl CurrentRuns {
    fn all(&self) -> impl Iterator<Item = &Arc<AnalysisRun>> {
        [&self.step, &self.background, &self.pre_promotion, &self.post_promotion].into_iter().flatten()
    }

    fn names(&self) -> Vec<String> {
        self.all().map(|r| r.name_any()).collect()
    }
}

/// A run's status as the Rollout records it.
pub fn run_status(run: &AnalysisRun) -> RolloutAnalysisRunStatus {
    match &run.status {
        // Created in this reconcile: Argo records the Go zero value.
        None => RolloutAnalysisRunStatus { name: run.name_any(), status: String::new(), message: String::new() },
        Some(s) => RolloutAnalysisRunStatus {
            name: run.name_any(),
            status: s.phase.as_str().to_string(),
            message: s.message.clone(),
        },
    }
}

/// A current run as the engine's decision needs it.
pub fn observation(run: &AnalysisRun) -> RunObservation {
    RunObservation { record: run_status(run), phase: phase(run) }
}

fn phase(run: &AnalysisRun) -> AnalysisPhase {
    run.status.as_ref().map(|s| s.phase).unwrap_or_default()
}

/// Argo's `reconcileAnalysisRuns` (a canary's step and background runs, a blue-green rollout's
/// pre- and post-promotion runs).
pub async fn reconcile(
    ctx: &Context,
    rollout: &Rollout,
    roles: &Roles,
    pause: &mut PauseContext,
    skip: bool,
) -> Result<CurrentRuns, Error> {
    let status = rollout.status.clone().unwrap_or_default();
    let mut owned = ctx.owned_analysis_runs(rollout);
    // A run the status names but the cache has not seen yet (created a moment ago) is read from
    // the API server, as Argo does: otherwise it would look missing and be created again.
    let api: Api<AnalysisRun> = Api::namespaced(ctx.client.clone(), &rollout.namespace().unwrap_or_default());
    for recorded in [
        &status.canary.current_step_analysis_run_status,
        &status.canary.current_background_analysis_run_status,
        &status.blue_green.pre_promotion_analysis_run_status,
        &status.blue_green.post_promotion_analysis_run_status,
    ]
    .into_iter()
    .flatten()
    {
        if !owned.iter().any(|r| r.name_any() == recorded.name)
            && let Some(run) = api.get_opt(&recorded.name).await.map_err(Error::kube("reading an AnalysisRun"))?
            && crate::context::controlled_by(&run.metadata, rollout.metadata.uid.as_deref().unwrap_or_default())
        {
            owned.push(Arc::new(run));
        }
    }
    let by_name = |name: Option<&String>| name.and_then(|n| owned.iter().find(|r| &r.name_any() == n)).cloned();
    let current = CurrentRuns {
        step: by_name(status.canary.current_step_analysis_run_status.as_ref().map(|s| &s.name)),
        background: by_name(status.canary.current_background_analysis_run_status.as_ref().map(|s| &s.name)),
        pre_promotion: by_name(status.blue_green.pre_promotion_analysis_run_status.as_ref().map(|s| &s.name)),
        post_promotion: by_name(status.blue_green.post_promotion_analysis_run_status.as_ref().map(|s| &s.name)),
    };
    let was_current = current.names();
    let now_current = if skip {
        // Fully promoted, aborted, promoting fully, rolling back fast or first deployed: the
        // current runs are cancelled; a canary no longer records them, a blue-green rollout
        // keeps its promotion runs in the status.
        cancel(ctx, &current.all().cloned().collect::<Vec<_>>()).await?;
        CurrentRuns {
            pre_promotion: current.pre_promotion.clone(),
            post_promotion: current.post_promotion.clone(),
            ..Default::default()
        }
    } else if rollout.spec.blue_green().is_some() {
        let pre_promotion =
            carry_out(ctx, rollout, roles, pause, current.pre_promotion.clone(), RunRole::PrePromotion).await?;
        let post_promotion =
            carry_out(ctx, rollout, roles, pause, current.post_promotion.clone(), RunRole::PostPromotion).await?;
        CurrentRuns { pre_promotion, post_promotion, ..Default::default() }
    } else {
        let step = carry_out(ctx, rollout, roles, pause, current.step.clone(), RunRole::Step).await?;
        let background = carry_out(ctx, rollout, roles, pause, current.background.clone(), RunRole::Background).await?;
        CurrentRuns { step, background, ..Default::default() }
    };

    // Those that were not current (a run created a moment ago that a stale status did not name
    // yet is rescued), cancelled and trimmed to the history limits.
    let keep = now_current.names();
    let others: Vec<Arc<AnalysisRun>> = owned
        .iter()
        .filter(|r| !keep.contains(&r.name_any()) && !was_current.contains(&r.name_any()))
        .cloned()
        .collect();
    cancel(ctx, &others).await?;
    delete_old(ctx, rollout, roles, &others).await?;

    // Argo's order (`reconcileAnalysisRunStatusChanges`).
    let changes = [
        (&status.blue_green.post_promotion_analysis_run_status, &now_current.post_promotion, RunRole::PostPromotion),
        (&status.blue_green.pre_promotion_analysis_run_status, &now_current.pre_promotion, RunRole::PrePromotion),
        (&status.canary.current_step_analysis_run_status, &now_current.step, RunRole::Step),
        (&status.canary.current_background_analysis_run_status, &now_current.background, RunRole::Background),
    ];
    for (previous, run, role) in changes {
        emit_changes(ctx, rollout, previous.as_ref(), run.as_deref(), role).await;
    }
    Ok(now_current)
}

/// Carries out the engine's choice for one current run.
async fn carry_out(
    ctx: &Context,
    rollout: &Rollout,
    roles: &Roles,
    pause: &mut PauseContext,
    current: Option<Arc<AnalysisRun>>,
    role: RunRole,
) -> Result<Option<Arc<AnalysisRun>>, Error> {
    let new_rs = roles.new_rs.as_deref().map(super::replicasets::state);
    let choice = match role {
        RunRole::Step => runs::step_run(rollout, current.as_deref()),
        RunRole::Background => runs::background_run(rollout, current.as_deref()),
        RunRole::PrePromotion | RunRole::PostPromotion => {
            runs::promotion_run(rollout, role, new_rs.as_ref(), current.as_deref())
        }
    };
    match choice {
        RunChoice::Keep { react } => {
            if react && let Some(run) = &current {
                runs::react(pause, run, role);
            }
            Ok(current)
        }
        RunChoice::Cancel => {
            cancel(ctx, &current.into_iter().collect::<Vec<_>>()).await?;
            Ok(None)
        }
        RunChoice::CancelKeep => {
            cancel(ctx, &current.iter().cloned().collect::<Vec<_>>()).await?;
            if let Some(run) = &current {
                runs::react(pause, run, role);
            }
            Ok(current)
        }
        RunChoice::Drop => Ok(None),
        RunChoice::Create { analysis, step } => Ok(Some(create(ctx, rollout, roles, analysis, step, role).await?)),
    }
}

/// Sets `spec.terminate` on runs that are still going.
pub async fn cancel(ctx: &Context, runs: &[Arc<AnalysisRun>]) -> Result<(), Error> {
    for run in runs {
        if run.spec.terminate || phase(run).is_completed() {
            continue;
        }
        let api: Api<AnalysisRun> = Api::namespaced(ctx.client.clone(), &run.namespace().unwrap_or_default());
        match api
            .patch(&run.name_any(), &PatchParams::default(), &Patch::Merge(json!({"spec": {"terminate": true}})))
            .await
        {
            Ok(_) => tracing::info!(run = %run.name_any(), "terminating AnalysisRun"),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(Error::kube(format!("terminating AnalysisRun {}", run.name_any()))(e)),
        }
    }
    Ok(())
}

/// Argo's `FilterAnalysisRunsToDelete`: runs of ReplicaSets that are gone, and completed runs
/// beyond `successfulRunHistoryLimit` / `unsuccessfulRunHistoryLimit` (newest kept).
async fn delete_old(ctx: &Context, rollout: &Rollout, roles: &Roles, others: &[Arc<AnalysisRun>]) -> Result<(), Error> {
    let live: BTreeMap<&str, bool> =
        roles.all.iter().map(|r| (hash(r), r.metadata.deletion_timestamp.is_some())).collect();
    let candidates: Vec<&AnalysisRun> = others.iter().map(|r| &**r).collect();
    for i in runs::runs_to_delete(rollout, &live, &candidates) {
        let Some(run) = candidates.get(i) else { continue };
        if run.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let api: Api<AnalysisRun> = Api::namespaced(ctx.client.clone(), &run.namespace().unwrap_or_default());
        match api.delete(&run.name_any(), &DeleteParams::default()).await {
            Ok(_) | Err(kube::Error::Api(_)) => {}
            Err(e) => return Err(Error::kube(format!("deleting AnalysisRun {}", run.name_any()))(e)),
        }
    }
    Ok(())
}

async fn emit_changes(
    ctx: &Context,
    rollout: &Rollout,
    previous: Option<&RolloutAnalysisRunStatus>,
    run: Option<&AnalysisRun>,
    role: RunRole,
) {
    let Some(run) = run else { return };
    let phase = run.status.as_ref().map(|s| s.phase);
    if let Some(e) = runs::phase_change_event(previous, &run.name_any(), phase, role) {
        ctx.event(rollout, e.warning, e.reason, e.message).await;
    }
}

/// Builds and creates a run for `analysis`: Argo's name (`<rollout>-<hash>-<revision>[-<step>]`),
/// labels and owner; an existing run of the same name that is ours, unfinished and equal is
/// reused (a stale cache or a restart), otherwise the name gets a `.N` suffix.
async fn create(
    ctx: &Context,
    rollout: &Rollout,
    roles: &Roles,
    analysis: &RolloutAnalysis,
    step: Option<i32>,
    role: RunRole,
) -> Result<Arc<AnalysisRun>, Error> {
    let ns = rollout.namespace().unwrap_or_default();
    let new_hash = roles.new_rs.as_deref().map(hash).unwrap_or_default().to_string();
    if new_hash.is_empty() {
        return Err(Error::Invalid("the latest ReplicaSet has no pod template hash".into()));
    }
    let stable_hash = roles.stable_rs.as_deref().map(hash).unwrap_or_default().to_string();
    let rollout_args = build_rollout_args(&analysis.args, &stable_hash, &new_hash, rollout)
        .map_err(|e| Error::Invalid(e.to_string()))?;
    let spec =
        run_spec(ctx, &ns, &analysis.templates, &rollout_args, &analysis.dry_run, &analysis.measurement_retention)
            .await?
            .map_err(Error::Invalid)?;

    let rev = revision(&rollout.metadata);
    let mut name = format!("{}-{new_hash}-{rev}", rollout.name_any());
    if let Some(i) = step {
        name.push_str(&format!("-{i}"));
    }
    if let Some(suffix) = role.name_suffix() {
        name.push_str(&format!("-{suffix}"));
    }
    let mut labels = BTreeMap::from([
        (ROLLOUT_TYPE.to_string(), role.label().to_string()),
        (HASH_LABEL.to_string(), new_hash.clone()),
    ]);
    if let Some(i) = step {
        labels.insert(STEP_INDEX.into(), i.to_string());
    }
    if let Some(id) = &ctx.instance_id {
        labels.insert(crate::INSTANCE_ID_LABEL.into(), id.clone());
    }
    labels.extend(analysis.analysis_run_metadata.labels.clone());
    if let Some(sel) = rollout.spec.selector.as_ref().and_then(|s| s.match_labels.clone()) {
        labels.extend(sel);
    }
    let mut annotations = BTreeMap::from([(REVISION.to_string(), rev.to_string())]);
    annotations.extend(analysis.analysis_run_metadata.annotations.clone());
    let meta = ObjectMeta {
        name: Some(name),
        namespace: Some(ns),
        labels: Some(labels),
        annotations: Some(annotations),
        owner_references: Some(vec![owner_reference(rollout)]),
        ..Default::default()
    };
    create_with_collisions(ctx, meta, spec).await
}

/// Argo's run spec from analysis templates: their metrics (flattened, nested templates
/// included; two of the same name refused), the caller's arguments merged with the templates',
/// and the dry-run and retention lists with the templates' appended. `Ok(Err)` says what is wrong
/// with the templates (one missing, a clash).
pub async fn run_spec(
    ctx: &Context,
    namespace: &str,
    templates: &[aviary_api::rollout::AnalysisTemplateRef],
    args: &[aviary_api::Argument],
    dry_run: &[aviary_api::DryRun],
    retention: &[aviary_api::MeasurementRetention],
) -> Result<Result<AnalysisRunSpec, String>, Error> {
    let specs: Vec<AnalysisTemplateSpec> =
        match super::references::templates(ctx, namespace, templates, "templates").await? {
            Ok(found) => found.into_iter().map(|(_, spec)| spec).collect(),
            Err(e) => return Ok(Err(e.to_string())),
        };
    let mut spec =
        AnalysisRunSpec { dry_run: dry_run.to_vec(), measurement_retention: retention.to_vec(), ..Default::default() };
    let mut template_args = Vec::new();
    for t in &specs {
        for m in &t.metrics {
            if spec.metrics.iter().any(|x| x.name == m.name) {
                return Ok(Err(format!("two metrics have the same name {:?}", m.name)));
            }
            spec.metrics.push(m.clone());
        }
        for a in &t.args {
            if !template_args.iter().any(|x: &aviary_api::Argument| x.name == a.name) {
                template_args.push(a.clone());
            }
        }
        spec.dry_run.extend(t.dry_run.iter().cloned());
        spec.measurement_retention.extend(t.measurement_retention.iter().cloned());
    }
    match merge_args(args, &template_args) {
        Ok(merged) => spec.args = merged,
        Err(e) => return Ok(Err(e.to_string())),
    }
    Ok(Ok(spec))
}

/// Argo's `CreateWithCollisionCounter`: creates the run `meta` names; when the name is taken by
/// a run of the same controller, unfinished and with the same metrics, that run is the answer
/// (a stale cache or a restart), otherwise the name gets a `.N` suffix.
pub async fn create_with_collisions(
    ctx: &Context,
    meta: ObjectMeta,
    spec: AnalysisRunSpec,
) -> Result<Arc<AnalysisRun>, Error> {
    let ns = meta.namespace.clone().unwrap_or_default();
    let owner_uid = meta
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
        .map(|o| o.uid.clone())
        .unwrap_or_default();
    let api: Api<AnalysisRun> = Api::namespaced(ctx.client.clone(), &ns);
    // Created as JSON: the spec in the form Argo's Go types write it (see
    // `aviary_api::hash::normalized_analysis_run_spec`), which the typed API would not keep.
    let go_spec =
        serde_json::to_value(&spec).map_err(Error::serde("serialising an AnalysisRun spec")).and_then(|v| {
            aviary_api::hash::normalized_analysis_run_spec(&v).map_err(|e| Error::Invalid(format!("spec: {e}")))
        })?;
    let resource = kube::api::ApiResource::erase::<AnalysisRun>(&());
    let raw: Api<kube::api::DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ns, &resource);
    let base = meta.name.clone().unwrap_or_default();
    let mut name = base.clone();
    for attempt in 1..=100 {
        let run = AnalysisRun {
            metadata: ObjectMeta { name: Some(name.clone()), ..meta.clone() },
            spec: spec.clone(),
            status: None,
        };
        let mut body: kube::api::DynamicObject = serde_json::to_value(&run)
            .and_then(serde_json::from_value)
            .map_err(Error::serde("serialising an AnalysisRun"))?;
        if let Some(data) = body.data.as_object_mut() {
            data.insert("spec".into(), go_spec.clone());
        }
        let created = raw.create(&PostParams::default(), &body).await.and_then(|o| {
            serde_json::to_value(o).and_then(serde_json::from_value::<AnalysisRun>).map_err(kube::Error::SerdeError)
        });
        match created {
            Ok(created) => {
                tracing::info!(run = %created.name_any(), "created AnalysisRun");
                return Ok(Arc::new(created));
            }
            Err(e) if is_already_exists(&e) => {
                let existing = api.get(&name).await.map_err(Error::kube("reading an existing AnalysisRun"))?;
                if !phase(&existing).is_completed()
                    && !existing.spec.terminate
                    && existing.spec.metrics == spec.metrics
                    && crate::context::controlled_by(&existing.metadata, &owner_uid)
                {
                    return Ok(Arc::new(existing));
                }
                name = format!("{base}.{attempt}");
            }
            Err(e) => return Err(Error::kube(format!("creating AnalysisRun {name}"))(e)),
        }
    }
    Err(Error::Invalid(format!("could not find a free name for AnalysisRun {base}")))
}

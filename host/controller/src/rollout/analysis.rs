//! The AnalysisRuns of a Rollout: created from templates for analysis steps and for the
//! background analysis, terminated when the rollout moves on, garbage-collected by Argo's
//! history limits; their outcome pauses (Inconclusive) or aborts (Failed, Error) the rollout.

use std::collections::BTreeMap;
use std::sync::Arc;

use aviary_api::analysis::{AnalysisRun, AnalysisRunSpec, AnalysisTemplateSpec};
use aviary_api::rollout::RolloutAnalysis;
use aviary_api::rollout_status::{PauseReason, RolloutAnalysisRunStatus};
use aviary_api::{AnalysisPhase, Rollout};
use aviary_engine::analysis::args::{build_rollout_args, merge_args};
use aviary_engine::rollout::RunObservation;
use aviary_engine::weight::current_step;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

use super::replicasets::{HASH_LABEL, REVISION, Roles, hash, owner_reference, revision};
use crate::context::Context;
use crate::error::{Error, is_already_exists, is_not_found};
use aviary_engine::rollout::PauseContext;
use aviary_engine::rollout::pause::condition;

/// Label: which part of the rollout a run serves.
pub const ROLLOUT_TYPE: &str = "rollout-type";
/// Label: the step a step run belongs to.
pub const STEP_INDEX: &str = "step-index";

/// The runs this reconcile keeps as current.
#[derive(Debug, Default, Clone)]
pub struct CurrentRuns {
    /// The current step's run.
    pub step: Option<Arc<AnalysisRun>>,
    /// The background run.
    pub background: Option<Arc<AnalysisRun>>,
}

impl CurrentRuns {
    fn names(&self) -> Vec<String> {
        [&self.step, &self.background].into_iter().flatten().map(|r| r.name_any()).collect()
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

/// Argo's `reconcileAnalysisRuns` for a canary.
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
    for recorded in
        [&status.canary.current_step_analysis_run_status, &status.canary.current_background_analysis_run_status]
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
    };
    let was_current = current.names();
    let now_current = if skip {
        // Fully promoted, aborted, promoting fully, rolling back fast or first deployed: the
        // current runs are cancelled and no longer recorded.
        cancel(ctx, &[current.step.clone(), current.background.clone()].into_iter().flatten().collect::<Vec<_>>())
            .await?;
        CurrentRuns::default()
    } else {
        let step = reconcile_step_run(ctx, rollout, roles, pause, current.step.clone()).await?;
        let background = reconcile_background_run(ctx, rollout, roles, pause, current.background.clone()).await?;
        CurrentRuns { step, background }
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

    emit_changes(
        ctx,
        rollout,
        status.canary.current_step_analysis_run_status.as_ref(),
        now_current.step.as_deref(),
        "Step",
    )
    .await;
    emit_changes(
        ctx,
        rollout,
        status.canary.current_background_analysis_run_status.as_ref(),
        now_current.background.as_deref(),
        "Background",
    )
    .await;
    Ok(now_current)
}

/// Whether a run must be (re)created (Argo's `needsNewAnalysisRun`).
fn needs_new(current: Option<&AnalysisRun>, rollout: &Rollout) -> bool {
    let Some(current) = current else { return true };
    let status = rollout.status.clone().unwrap_or_default();
    if status.controller_pause
        && condition(rollout, PauseReason::CanaryPauseStep).is_none()
        && condition(rollout, PauseReason::BlueGreenPause).is_none()
    {
        return phase(current) == AnalysisPhase::Inconclusive;
    }
    status.aborted_at.is_some()
}

/// Argo's reaction to a run's phase: Inconclusive pauses, Failed and Error abort with the run's
/// message behind `kind` ("Step-based" or "Background").
fn react(pause: &mut PauseContext, run: &AnalysisRun, kind: &str) {
    match phase(run) {
        AnalysisPhase::Inconclusive => pause.add_pause(PauseReason::InconclusiveAnalysisRun),
        AnalysisPhase::Failed | AnalysisPhase::Error => {
            let mut message = format!("{kind} analysis phase error/failed");
            if let Some(m) = run.status.as_ref().map(|s| &s.message).filter(|m| !m.is_empty()) {
                message.push_str(": ");
                message.push_str(m);
            }
            pause.add_abort(message);
        }
        _ => {}
    }
}

async fn reconcile_step_run(
    ctx: &Context,
    rollout: &Rollout,
    roles: &Roles,
    pause: &mut PauseContext,
    current: Option<Arc<AnalysisRun>>,
) -> Result<Option<Arc<AnalysisRun>>, Error> {
    let status = rollout.status.clone().unwrap_or_default();
    if !status.pause_conditions.is_empty() || status.abort {
        return Ok(current);
    }
    let (step, index) = current_step(rollout);
    let analysis = step.and_then(|s| s.analysis.as_ref()).filter(|a| !a.templates.is_empty());
    // A run left from the previous step (a promotion) is cancelled; the next reconcile creates
    // this step's, as Argo does.
    let from_previous_step = analysis.is_some()
        && current.as_ref().is_some_and(|r| r.labels().get(STEP_INDEX) != index.map(|i| i.to_string()).as_ref());
    let (Some(analysis), Some(index), false) = (analysis, index, from_previous_step) else {
        cancel(ctx, &current.into_iter().collect::<Vec<_>>()).await?;
        return Ok(None);
    };
    if needs_new(current.as_deref(), rollout) {
        return Ok(Some(create(ctx, rollout, roles, analysis, Some(index)).await?));
    }
    if let Some(run) = &current {
        react(pause, run, "Step-based");
    }
    Ok(current)
}

async fn reconcile_background_run(
    ctx: &Context,
    rollout: &Rollout,
    roles: &Roles,
    pause: &mut PauseContext,
    current: Option<Arc<AnalysisRun>>,
) -> Result<Option<Arc<AnalysisRun>>, Error> {
    let Some(background) =
        rollout.spec.canary().and_then(|c| c.analysis.as_ref()).filter(|a| !a.analysis.templates.is_empty())
    else {
        cancel(ctx, &current.into_iter().collect::<Vec<_>>()).await?;
        return Ok(None);
    };
    let status = rollout.status.clone().unwrap_or_default();
    let steps = rollout.spec.canary().map_or(0, |c| c.steps.len() as i32);
    let (_, index) = current_step(rollout);
    let fully_promoted = !status.stable_rs.is_empty() && status.stable_rs == status.current_pod_hash;
    let before_start = background.starting_step.is_some_and(|s| index.unwrap_or(steps) < s);
    if fully_promoted || status.stable_rs.is_empty() || status.current_pod_hash.is_empty() || before_start {
        return Ok(None);
    }
    if condition(rollout, PauseReason::InconclusiveAnalysisRun).is_some() {
        return Ok(current);
    }
    if needs_new(current.as_deref(), rollout) {
        return Ok(Some(create(ctx, rollout, roles, &background.analysis, None).await?));
    }
    if let Some(run) = &current {
        react(pause, run, "Background");
    }
    Ok(current)
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
    let limits = rollout.spec.analysis.clone().unwrap_or_default();
    let keep_ok = limits.successful_run_history_limit.unwrap_or(5);
    let keep_bad = limits.unsuccessful_run_history_limit.unwrap_or(5);
    let live: BTreeMap<&str, bool> =
        roles.all.iter().map(|r| (hash(r), r.metadata.deletion_timestamp.is_some())).collect();
    let mut runs: Vec<&Arc<AnalysisRun>> = others.iter().collect();
    runs.sort_by_key(|r| std::cmp::Reverse(r.metadata.creation_timestamp.clone().map(|t| t.0)));
    let (mut ok, mut bad) = (0, 0);
    let mut doomed = Vec::new();
    for run in runs {
        let Some(h) = run.labels().get(HASH_LABEL) else { continue };
        match live.get(h.as_str()) {
            None | Some(true) => doomed.push(run),
            Some(false) => match phase(run) {
                AnalysisPhase::Successful if ok < keep_ok => ok = ok.saturating_add(1),
                AnalysisPhase::Successful => doomed.push(run),
                p if p.is_completed() && bad < keep_bad => bad = bad.saturating_add(1),
                p if p.is_completed() => doomed.push(run),
                _ => {}
            },
        }
    }
    for run in doomed {
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
    kind: &str,
) {
    let Some(run) = run else { return };
    let Some(status) = &run.status else { return };
    // Argo's controller never writes Pending: a run whose phase reads so has none yet.
    if status.phase == AnalysisPhase::Pending {
        return;
    }
    let changed = match previous {
        None => true,
        Some(p) => p.name == run.name_any() && p.status != status.phase.as_str(),
    };
    if !changed {
        return;
    }
    let before = previous.map_or("NoPreviousStatus".to_string(), |p| p.status.clone());
    ctx.event(
        rollout,
        matches!(status.phase, AnalysisPhase::Failed | AnalysisPhase::Error),
        &format!("AnalysisRun{}", status.phase),
        format!("{kind} Analysis Run '{}' Status New: '{}' Previous: '{before}'", run.name_any(), status.phase),
    )
    .await;
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
) -> Result<Arc<AnalysisRun>, Error> {
    let ns = rollout.namespace().unwrap_or_default();
    let new_hash = roles.new_rs.as_deref().map(hash).unwrap_or_default().to_string();
    if new_hash.is_empty() {
        return Err(Error::Invalid("the latest ReplicaSet has no pod template hash".into()));
    }
    let stable_hash = roles.stable_rs.as_deref().map(hash).unwrap_or_default().to_string();
    let specs: Vec<AnalysisTemplateSpec> = super::references::templates(ctx, &ns, &analysis.templates, "templates")
        .await?
        .map_err(|e| Error::Invalid(e.to_string()))?
        .into_iter()
        .map(|(_, spec)| spec)
        .collect();
    let rollout_args = build_rollout_args(&analysis.args, &stable_hash, &new_hash, rollout).map_err(Error::Invalid)?;
    let mut spec = AnalysisRunSpec {
        dry_run: analysis.dry_run.clone(),
        measurement_retention: analysis.measurement_retention.clone(),
        ..Default::default()
    };
    let mut template_args = Vec::new();
    for t in &specs {
        for m in &t.metrics {
            if spec.metrics.iter().any(|x| x.name == m.name) {
                return Err(Error::Invalid(format!("two metrics have the same name {:?}", m.name)));
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
    spec.args = merge_args(&rollout_args, &template_args).map_err(Error::Invalid)?;

    let rev = revision(&rollout.metadata);
    let mut name = format!("{}-{new_hash}-{rev}", rollout.name_any());
    if let Some(i) = step {
        name.push_str(&format!("-{i}"));
    }
    let mut labels = BTreeMap::from([
        (ROLLOUT_TYPE.to_string(), if step.is_some() { "Step" } else { "Background" }.to_string()),
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

    let api: Api<AnalysisRun> = Api::namespaced(ctx.client.clone(), &ns);
    let base = name.clone();
    for attempt in 1..=100 {
        let run = AnalysisRun {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(ns.clone()),
                labels: Some(labels.clone()),
                annotations: Some(annotations.clone()),
                owner_references: Some(vec![owner_reference(rollout)]),
                ..Default::default()
            },
            spec: spec.clone(),
            status: None,
        };
        match api.create(&PostParams::default(), &run).await {
            Ok(created) => {
                tracing::info!(run = %created.name_any(), "created AnalysisRun");
                return Ok(Arc::new(created));
            }
            Err(e) if is_already_exists(&e) => {
                let existing = api.get(&name).await.map_err(Error::kube("reading an existing AnalysisRun"))?;
                let uid = rollout.metadata.uid.clone().unwrap_or_default();
                if !phase(&existing).is_completed()
                    && !existing.spec.terminate
                    && existing.spec.metrics == spec.metrics
                    && crate::context::controlled_by(&existing.metadata, &uid)
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

//! The Experiment a canary's `experiment:` step runs (Argo's `GetExperimentFromTemplate`), and
//! what the rollout does with the experiment's phase (Argo's `reconcileExperiments`).

use std::collections::BTreeMap;

use aviary_api::experiment::{Experiment, ExperimentAnalysisTemplateRef, ExperimentSpec, TemplateSpec};
use aviary_api::k8s_openapi::api::apps::v1::ReplicaSet;
use aviary_api::rollout::TemplateService;
use aviary_api::rollout::{ReplicaSetSpecRef, RolloutExperimentStep};
use aviary_api::rollout_status::PauseReason;
use aviary_api::{AnalysisPhase, Rollout};

use crate::analysis::args::{ArgsError, build_rollout_args};
use crate::rollout::PauseContext;

/// The pod-template-hash label.
const HASH_LABEL: &str = "rollouts-pod-template-hash";
/// The revision annotation.
const REVISION: &str = "rollout.argoproj.io/revision";

/// Argo's `GetCurrentExperimentStep`: the nearest `experiment` step at or before the current
/// step index (its traffic weights still apply on the reconcile after a promote).
pub fn current_experiment_step(rollout: &Rollout) -> Option<(usize, &RolloutExperimentStep)> {
    let steps = &rollout.spec.canary()?.steps;
    let index = rollout.status.as_ref()?.current_step_index.unwrap_or(0);
    let index = usize::try_from(index).ok()?.min(steps.len().checked_sub(1)?);
    (0..=index).rev().find_map(|i| steps.get(i)?.experiment.as_ref().map(|e| (i, e)))
}

/// The Experiment for the rollout's current `experiment` step, from its canary (`new_rs`) and
/// stable ReplicaSets as stored: named `<rollout>-<hash>-<revision>-<step>`, labelled with the
/// rollout's labels and the pod-template hash. The owner reference and the instance-id label are
/// the controller's to add. `None` when the current step is not an experiment step.
pub fn experiment_for_step(
    rollout: &Rollout,
    pod_hash: &str,
    stable_rs: &ReplicaSet,
    new_rs: &ReplicaSet,
) -> Result<Option<Experiment>, ArgsError> {
    let Some((_, step)) = rollout.status.as_ref().and_then(|_| current_step(rollout)) else { return Ok(None) };
    let index = rollout.status.as_ref().and_then(|s| s.current_step_index).unwrap_or(0);
    let revision = rollout.metadata.annotations.as_ref().and_then(|a| a.get(REVISION)).cloned().unwrap_or_default();
    let mut labels = rollout.metadata.labels.clone().unwrap_or_default();
    labels.insert(HASH_LABEL.into(), pod_hash.into());
    let hash_of =
        |rs: &ReplicaSet| rs.metadata.labels.as_ref().and_then(|l| l.get(HASH_LABEL)).cloned().unwrap_or_default();
    let (stable_hash, new_hash) = (hash_of(stable_rs), hash_of(new_rs));
    let mut templates = Vec::with_capacity(step.templates.len());
    for t in &step.templates {
        let source = match t.spec_ref {
            ReplicaSetSpecRef::Canary => new_rs,
            ReplicaSetSpecRef::Stable => stable_rs,
        };
        let spec = source.spec.clone().unwrap_or_default();
        let mut template = spec.template.clone().unwrap_or_default();
        let mut selector = t.selector.clone().unwrap_or_else(|| spec.selector.clone());
        let meta = template.metadata.get_or_insert_with(Default::default);
        for (k, v) in &t.metadata.labels {
            meta.labels.get_or_insert_with(BTreeMap::new).insert(k.clone(), v.clone());
            selector.match_labels.get_or_insert_with(BTreeMap::new).insert(k.clone(), v.clone());
        }
        for (k, v) in &t.metadata.annotations {
            meta.annotations.get_or_insert_with(BTreeMap::new).insert(k.clone(), v.clone());
        }
        let service = (t.weight.is_some() || t.service.is_some())
            .then(|| TemplateService { name: t.service.as_ref().map(|s| s.name.clone()).unwrap_or_default() });
        templates.push(TemplateSpec {
            name: t.name.clone(),
            replicas: t.replicas,
            min_ready_seconds: spec.min_ready_seconds.unwrap_or(0),
            selector: Some(selector),
            template,
            service,
        });
    }
    let mut analyses = Vec::with_capacity(step.analyses.len());
    for a in &step.analyses {
        analyses.push(ExperimentAnalysisTemplateRef {
            name: a.name.clone(),
            template_name: a.template_name.clone(),
            cluster_scope: a.cluster_scope,
            args: build_rollout_args(&a.args, &stable_hash, &new_hash, rollout)?,
            required_for_completion: a.required_for_completion,
        });
    }
    let name = format!("{}-{pod_hash}-{revision}-{index}", rollout.metadata.name.clone().unwrap_or_default());
    let mut ex = Experiment::new(
        &name,
        ExperimentSpec {
            templates,
            duration: step.duration.clone(),
            progress_deadline_seconds: rollout.spec.progress_deadline_seconds,
            terminate: false,
            analyses,
            scale_down_delay_seconds: step.scale_down_delay_seconds,
            dry_run: step.dry_run.clone(),
            measurement_retention: Vec::new(),
            analysis_run_metadata: step.analysis_run_metadata.clone(),
        },
    );
    ex.metadata.namespace = rollout.metadata.namespace.clone();
    ex.metadata.labels = Some(labels);
    ex.metadata.annotations = Some(BTreeMap::from([(REVISION.to_string(), revision)]));
    Ok(Some(ex))
}

/// The current step when it is an experiment step.
fn current_step(rollout: &Rollout) -> Option<(usize, &RolloutExperimentStep)> {
    let (step, index) = crate::weight::current_step(rollout);
    Some((usize::try_from(index?).ok()?, step?.experiment.as_ref()?))
}

/// Argo's reaction to the current step's experiment: Inconclusive pauses the rollout, Failed or
/// Error aborts it (`Experiment analysis phase is error/failed[: message]`). Returns whether the
/// rollout keeps it as `status.canary.currentExperiment` (not once it finished).
pub fn react(pause: &mut PauseContext, phase: Option<AnalysisPhase>, message: &str) -> bool {
    match phase {
        Some(AnalysisPhase::Inconclusive) => {
            pause.add_pause(PauseReason::InconclusiveExperiment);
            false
        }
        Some(AnalysisPhase::Error | AnalysisPhase::Failed) => {
            let mut m = "Experiment analysis phase is error/failed".to_string();
            if !message.is_empty() {
                m.push_str(": ");
                m.push_str(message);
            }
            pause.add_abort(m);
            false
        }
        Some(AnalysisPhase::Successful) => false,
        _ => true,
    }
}

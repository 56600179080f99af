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

/// Argo's `calculateWeightDestinationsFromExperiment`: while the rollout's current experiment
/// (as stored) is Running, each of its templates the step gives a `weight` is a destination of
/// traffic besides the canary and the stable, through the template's Service.
pub fn weight_destinations(
    rollout: &Rollout,
    current: Option<&Experiment>,
) -> Vec<aviary_api::rollout_status::WeightDestination> {
    let (Some((_, step)), Some(ex)) = (current_experiment_step(rollout), current) else { return Vec::new() };
    let status = ex.status.clone().unwrap_or_default();
    if status.phase != Some(AnalysisPhase::Running) {
        return Vec::new();
    }
    status
        .template_statuses
        .iter()
        .filter_map(|ts| {
            let weight = step.templates.iter().find(|t| t.name == ts.name)?.weight?;
            Some(aviary_api::rollout_status::WeightDestination {
                weight,
                service_name: ts.service_name.clone(),
                pod_template_hash: ts.pod_template_hash.clone(),
            })
        })
        .collect()
}

/// One experiment of a rollout, as its cleanup sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnedExperiment<'a> {
    /// Its creation time (ties broken by name).
    pub created: Option<chrono::DateTime<chrono::Utc>>,
    /// Its name.
    pub name: &'a str,
    /// Its `rollouts-pod-template-hash` label.
    pub pod_hash: Option<&'a str>,
    /// Its phase.
    pub phase: Option<AnalysisPhase>,
}

/// Argo's `FilterExperimentsToDelete` over the rollout's experiments that are not current
/// (indexes into `exs`): those of no live ReplicaSet of the rollout (`replica_sets`: hash → being
/// deleted), and finished ones beyond the history limits, newest kept.
pub fn experiments_to_delete(
    exs: &[OwnedExperiment<'_>],
    replica_sets: &BTreeMap<&str, bool>,
    limit_successful: i32,
    limit_unsuccessful: i32,
) -> Vec<usize> {
    let mut order: Vec<(usize, &OwnedExperiment<'_>)> = exs.iter().enumerate().collect();
    order.sort_by(|(_, x), (_, y)| (y.created, y.name).cmp(&(x.created, x.name)));
    let (mut successful, mut unsuccessful) = (0_i32, 0_i32);
    let mut out = Vec::new();
    for (i, ex) in order {
        let live = ex.pod_hash.and_then(|h| replica_sets.get(h)).is_some_and(|deleting| !deleting);
        if !live {
            out.push(i);
            continue;
        }
        let (kept, limit) = match ex.phase {
            Some(AnalysisPhase::Successful) => (&mut successful, limit_successful),
            Some(AnalysisPhase::Failed | AnalysisPhase::Error | AnalysisPhase::Inconclusive) => {
                (&mut unsuccessful, limit_unsuccessful)
            }
            _ => continue,
        };
        if *kept < limit {
            *kept = kept.saturating_add(1);
        } else {
            out.push(i);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use aviary_api::experiment::{ExperimentStatus, TemplateStatus};
    use aviary_api::rollout::{CanaryStep, RolloutExperimentTemplate};

    fn at(s: i64) -> Option<chrono::DateTime<chrono::Utc>> {
        chrono::DateTime::from_timestamp(1_800_000_000 + s, 0)
    }

    #[test]
    fn experiments_of_gone_replica_sets_and_beyond_the_limits_are_deleted_newest_kept() {
        let ex = |name, s, hash, phase| OwnedExperiment { created: at(s), name, pod_hash: hash, phase };
        let exs = vec![
            ex("old-ok", 1, Some("a"), Some(AnalysisPhase::Successful)),
            ex("new-ok", 2, Some("a"), Some(AnalysisPhase::Successful)),
            ex("failed", 3, Some("a"), Some(AnalysisPhase::Failed)),
            ex("no-label", 4, None, Some(AnalysisPhase::Running)),
            ex("gone-rs", 5, Some("z"), Some(AnalysisPhase::Running)),
            ex("deleting-rs", 6, Some("d"), Some(AnalysisPhase::Successful)),
            ex("running", 7, Some("a"), Some(AnalysisPhase::Running)),
        ];
        let rs = BTreeMap::from([("a", false), ("d", true)]);
        let mut got: Vec<&str> = experiments_to_delete(&exs, &rs, 1, 1).into_iter().map(|i| exs[i].name).collect();
        got.sort_unstable();
        assert_eq!(got, vec!["deleting-rs", "gone-rs", "no-label", "old-ok"]);
    }

    #[test]
    fn a_running_experiment_adds_its_weighted_templates_as_destinations() {
        let step = RolloutExperimentStep {
            templates: vec![
                RolloutExperimentTemplate { name: "exp".into(), weight: Some(20), ..Default::default() },
                RolloutExperimentTemplate { name: "plain".into(), ..Default::default() },
            ],
            ..Default::default()
        };
        let mut ro = crate::testing::RolloutBuilder::canary(4)
            .set_weight(10)
            .step(CanaryStep { experiment: Some(step), ..Default::default() })
            .index(1)
            .build();
        let mut ex = Experiment::new("e", Default::default());
        let ts = |name: &str| TemplateStatus {
            name: name.into(),
            service_name: format!("svc-{name}"),
            pod_template_hash: format!("h-{name}"),
            ..Default::default()
        };
        ex.status = Some(ExperimentStatus {
            phase: Some(AnalysisPhase::Running),
            template_statuses: vec![ts("exp"), ts("plain")],
            ..Default::default()
        });
        let want = vec![aviary_api::rollout_status::WeightDestination {
            weight: 20,
            service_name: "svc-exp".into(),
            pod_template_hash: "h-exp".into(),
        }];
        assert_eq!(weight_destinations(&ro, Some(&ex)), want);
        // Still on the reconcile after a promote (the nearest experiment step before).
        ro.status.as_mut().unwrap().current_step_index = Some(2);
        assert_eq!(weight_destinations(&ro, Some(&ex)), want);
        // Not before it runs, nor without an experiment.
        ex.status.as_mut().unwrap().phase = Some(AnalysisPhase::Pending);
        assert!(weight_destinations(&ro, Some(&ex)).is_empty());
        assert!(weight_destinations(&ro, None).is_empty());
    }
}

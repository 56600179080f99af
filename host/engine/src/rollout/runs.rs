//! Which AnalysisRuns a canary keeps, creates, cancels or deletes, and what their outcome does to
//! the rollout (Argo's `reconcileAnalysisRuns` for a canary): decided here, carried out by the
//! controller (which resolves the templates, creates and terminates the runs).

use std::collections::BTreeMap;

use aviary_api::analysis::AnalysisRun;
use aviary_api::rollout::RolloutAnalysis;
use aviary_api::rollout_status::{PauseReason, RolloutAnalysisRunStatus};
use aviary_api::{AnalysisPhase, Rollout};

use super::pause::{PauseContext, condition};
use crate::conditions::Event;
use crate::observed::ReplicaSetState;
use crate::weight::{current_step, status};

/// Label: which part of the rollout a run serves.
pub const ROLLOUT_TYPE: &str = "rollout-type";
/// Label: the step a step run belongs to.
pub const STEP_INDEX: &str = "step-index";

/// The part of a canary a run serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunRole {
    /// An `analysis` step.
    Step,
    /// `strategy.canary.analysis`, running alongside the steps.
    Background,
    /// `strategy.blueGreen.prePromotionAnalysis`: gates the switch of the active Service.
    PrePromotion,
    /// `strategy.blueGreen.postPromotionAnalysis`: gates the scale-down of the old ReplicaSet.
    PostPromotion,
}

impl RunRole {
    /// The `rollout-type` label and the word events use.
    pub fn label(self) -> &'static str {
        match self {
            RunRole::Step => "Step",
            RunRole::Background => "Background",
            RunRole::PrePromotion => "PrePromotion",
            RunRole::PostPromotion => "PostPromotion",
        }
    }

    /// What Argo appends to a run's name (`<rollout>-<hash>-<revision>-pre`); a step run gets
    /// its index instead.
    pub fn name_suffix(self) -> Option<&'static str> {
        match self {
            RunRole::PrePromotion => Some("pre"),
            RunRole::PostPromotion => Some("post"),
            RunRole::Step | RunRole::Background => None,
        }
    }

    /// How an abort message names the run (`Step-based analysis phase error/failed`).
    fn abort_prefix(self) -> &'static str {
        match self {
            RunRole::Step => "Step-based",
            RunRole::Background => "Background",
            RunRole::PrePromotion => "Blue/green pre-promotion",
            RunRole::PostPromotion => "Blue/green post-promotion",
        }
    }
}

/// What becomes of one current run.
#[derive(Clone, Debug, PartialEq)]
pub enum RunChoice<'a> {
    /// It stays current; its outcome pauses or aborts the rollout ([`react`]) when `react`.
    Keep {
        /// Whether its phase is acted on in this reconcile.
        react: bool,
    },
    /// It is no longer current and is terminated.
    Cancel,
    /// Blue-green: it is terminated but stays current (the status keeps naming it) and its
    /// outcome is acted on (Argo's pre- and post-promotion runs once skipped).
    CancelKeep,
    /// It is no longer current but left running (the history limits deal with it).
    Drop,
    /// A new run is created from `analysis` (for step `step`) and becomes current.
    Create {
        /// The templates and arguments.
        analysis: &'a RolloutAnalysis,
        /// The step index, for a step run.
        step: Option<i32>,
    },
}

fn phase(run: &AnalysisRun) -> AnalysisPhase {
    run.status.as_ref().map(|s| s.phase).unwrap_or_default()
}

/// Argo's `needsNewAnalysisRun`: no current run, or a retry after an abort, or a promoted
/// Inconclusive run.
pub fn needs_new(current: Option<&AnalysisRun>, rollout: &Rollout) -> bool {
    let Some(current) = current else { return true };
    let status = status(rollout);
    if status.controller_pause
        && condition(rollout, PauseReason::CanaryPauseStep).is_none()
        && condition(rollout, PauseReason::BlueGreenPause).is_none()
    {
        return phase(current) == AnalysisPhase::Inconclusive;
    }
    status.aborted_at.is_some()
}

/// Argo's reaction to a run's phase: Inconclusive pauses, Failed and Error abort with the run's
/// message.
pub fn react(pause: &mut PauseContext, run: &AnalysisRun, role: RunRole) {
    match phase(run) {
        AnalysisPhase::Inconclusive => pause.add_pause(PauseReason::InconclusiveAnalysisRun),
        AnalysisPhase::Failed | AnalysisPhase::Error => {
            let mut message = format!("{} analysis phase error/failed", role.abort_prefix());
            if let Some(m) = run.status.as_ref().map(|s| &s.message).filter(|m| !m.is_empty()) {
                message.push_str(": ");
                message.push_str(m);
            }
            pause.add_abort(message);
        }
        _ => {}
    }
}

/// The current step's run (Argo's `reconcileStepBasedAnalysisRun`).
pub fn step_run<'a>(rollout: &'a Rollout, current: Option<&AnalysisRun>) -> RunChoice<'a> {
    let status = status(rollout);
    if !status.pause_conditions.is_empty() || status.abort {
        return RunChoice::Keep { react: false };
    }
    let (step, index) = current_step(rollout);
    let analysis = step.and_then(|s| s.analysis.as_ref()).filter(|a| !a.templates.is_empty());
    // A run left from the previous step (a promotion) is cancelled; the next reconcile creates
    // this step's, as Argo does.
    let from_previous_step = analysis.is_some()
        && current.is_some_and(|r| {
            r.metadata.labels.as_ref().and_then(|l| l.get(STEP_INDEX)) != index.map(|i| i.to_string()).as_ref()
        });
    let (Some(analysis), Some(index), false) = (analysis, index, from_previous_step) else {
        return RunChoice::Cancel;
    };
    if needs_new(current, rollout) {
        return RunChoice::Create { analysis, step: Some(index) };
    }
    RunChoice::Keep { react: true }
}

/// The background run (Argo's `reconcileBackgroundAnalysisRun`).
pub fn background_run<'a>(rollout: &'a Rollout, current: Option<&AnalysisRun>) -> RunChoice<'a> {
    let Some(background) =
        rollout.spec.canary().and_then(|c| c.analysis.as_ref()).filter(|a| !a.analysis.templates.is_empty())
    else {
        return RunChoice::Cancel;
    };
    let status = status(rollout);
    let steps = rollout.spec.canary().map_or(0, |c| i32::try_from(c.steps.len()).unwrap_or(i32::MAX));
    let (_, index) = current_step(rollout);
    let fully_promoted = !status.stable_rs.is_empty() && status.stable_rs == status.current_pod_hash;
    let before_start = background.starting_step.is_some_and(|s| index.unwrap_or(steps) < s);
    if fully_promoted || status.stable_rs.is_empty() || status.current_pod_hash.is_empty() || before_start {
        return RunChoice::Drop;
    }
    if condition(rollout, PauseReason::InconclusiveAnalysisRun).is_some() {
        return RunChoice::Keep { react: false };
    }
    if needs_new(current, rollout) {
        return RunChoice::Create { analysis: &background.analysis, step: None };
    }
    RunChoice::Keep { react: true }
}

/// Argo's `skipPrePromotionAnalysisRun`: no pre-promotion run once the active Service selects
/// the new ReplicaSet, on the first deploy, or (before one started) while the preview is not up
/// (`previewReplicaCount` available, or saturated).
pub fn skip_pre_promotion(rollout: &Rollout, new_rs: Option<&ReplicaSetState>, current: Option<&AnalysisRun>) -> bool {
    let st = status(rollout);
    let hash = new_rs.map(|r| r.pod_template_hash.as_str()).unwrap_or_default();
    let active = st.blue_green.active_selector.as_str();
    if st.stable_rs == hash || active.is_empty() || active == hash || hash.is_empty() {
        return true;
    }
    if current.is_some() {
        return false;
    }
    let Some(new_rs) = new_rs else { return true };
    match rollout.spec.blue_green().and_then(|b| b.preview_replica_count) {
        Some(preview) => new_rs.spec_replicas != preview || new_rs.available != preview,
        None => !crate::rollout::bluegreen::saturated(rollout, new_rs),
    }
}

/// Argo's `skipPostPromotionAnalysisRun`: no post-promotion run before the active Service
/// selects the new ReplicaSet, once it is stable, or (before one started) while it is not
/// saturated.
pub fn skip_post_promotion(rollout: &Rollout, new_rs: Option<&ReplicaSetState>, current: Option<&AnalysisRun>) -> bool {
    let st = status(rollout);
    let hash = new_rs.map(|r| r.pod_template_hash.as_str()).unwrap_or_default();
    if st.stable_rs == hash || st.blue_green.active_selector != hash || hash.is_empty() {
        return true;
    }
    if current.is_some() {
        return false;
    }
    new_rs.is_none_or(|r| !crate::rollout::bluegreen::saturated(rollout, r))
}

/// A blue-green promotion run (Argo's `reconcilePrePromotionAnalysisRun` and
/// `reconcilePostPromotionAnalysisRun`); its outcome is always acted on while it is current.
pub fn promotion_run<'a>(
    rollout: &'a Rollout,
    role: RunRole,
    new_rs: Option<&ReplicaSetState>,
    current: Option<&AnalysisRun>,
) -> RunChoice<'a> {
    let bg = rollout.spec.blue_green();
    let analysis = match role {
        RunRole::PrePromotion => bg.and_then(|b| b.pre_promotion_analysis.as_ref()),
        _ => bg.and_then(|b| b.post_promotion_analysis.as_ref()),
    };
    let Some(analysis) = analysis.filter(|a| !a.templates.is_empty()) else { return RunChoice::Cancel };
    let skip = match role {
        RunRole::PrePromotion => skip_pre_promotion(rollout, new_rs, current),
        _ => skip_post_promotion(rollout, new_rs, current),
    };
    if skip {
        return if current.is_some() { RunChoice::CancelKeep } else { RunChoice::Drop };
    }
    if condition(rollout, PauseReason::InconclusiveAnalysisRun).is_some() || !needs_new(current, rollout) {
        return RunChoice::Keep { react: true };
    }
    RunChoice::Create { analysis, step: None }
}

/// Argo's `FilterAnalysisRunsToDelete`: of the runs that are no longer current (newest first
/// within), those of ReplicaSets that are gone or going (`live` maps a pod-template hash to
/// "being deleted"), and completed runs beyond `successfulRunHistoryLimit` /
/// `unsuccessfulRunHistoryLimit` (default 5 each). Returns their indices in `others`.
pub fn runs_to_delete(rollout: &Rollout, live: &BTreeMap<&str, bool>, others: &[&AnalysisRun]) -> Vec<usize> {
    let limits = rollout.spec.analysis.clone().unwrap_or_default();
    let keep_ok = limits.successful_run_history_limit.unwrap_or(5);
    let keep_bad = limits.unsuccessful_run_history_limit.unwrap_or(5);
    let mut order: Vec<usize> = (0..others.len()).collect();
    order.sort_by_key(|i| {
        std::cmp::Reverse(others.get(*i).and_then(|r| r.metadata.creation_timestamp.clone()).map(|t| t.0))
    });
    let (mut ok, mut bad) = (0, 0);
    let mut doomed = Vec::new();
    for i in order {
        let Some(run) = others.get(i) else { continue };
        let Some(h) = run.metadata.labels.as_ref().and_then(|l| l.get(HASH_LABEL)) else {
            continue;
        };
        match live.get(h.as_str()) {
            None | Some(true) => doomed.push(i),
            Some(false) => match phase(run) {
                AnalysisPhase::Successful if ok < keep_ok => ok = ok.saturating_add(1),
                AnalysisPhase::Successful => doomed.push(i),
                p if p.is_completed() && bad < keep_bad => bad = bad.saturating_add(1),
                p if p.is_completed() => doomed.push(i),
                _ => {}
            },
        }
    }
    doomed
}

/// The label with a ReplicaSet's pod-template hash, on runs as on ReplicaSets.
pub use aviary_api::rollout::POD_TEMPLATE_HASH_LABEL as HASH_LABEL;

/// Argo's event when a current run's phase changes (`AnalysisRunFailed: Step Analysis Run 'x'
/// Status New: 'Failed' Previous: 'Running'`); none for a Pending run (Argo never writes one).
pub fn phase_change_event(
    previous: Option<&RolloutAnalysisRunStatus>,
    name: &str,
    run_phase: Option<AnalysisPhase>,
    role: RunRole,
) -> Option<Event> {
    let phase = run_phase.filter(|p| *p != AnalysisPhase::Pending)?;
    let changed = match previous {
        None => true,
        Some(p) => p.name == name && p.status != phase.as_str(),
    };
    if !changed {
        return None;
    }
    let before = previous.map_or("NoPreviousStatus".to_string(), |p| p.status.clone());
    let reason = match phase {
        AnalysisPhase::Pending => "AnalysisRunPending",
        AnalysisPhase::Running => "AnalysisRunRunning",
        AnalysisPhase::Successful => "AnalysisRunSuccessful",
        AnalysisPhase::Failed => "AnalysisRunFailed",
        AnalysisPhase::Error => "AnalysisRunError",
        AnalysisPhase::Inconclusive => "AnalysisRunInconclusive",
    };
    let message = format!("{} Analysis Run '{name}' Status New: '{phase}' Previous: '{before}'", role.label());
    Some(if matches!(phase, AnalysisPhase::Failed | AnalysisPhase::Error) {
        Event::warning(reason, message)
    } else {
        Event::normal(reason, message)
    })
}

#[cfg(test)]
mod tests {
    use aviary_api::Time;
    use aviary_api::analysis::AnalysisRunStatus;
    use aviary_api::rollout::{AnalysisTemplateRef, CanaryStep};
    use aviary_api::rollout_status::PauseCondition;
    use chrono::DateTime;

    use super::*;
    use crate::testing::RolloutBuilder;

    fn run(name: &str, phase: AnalysisPhase, labels: &[(&str, &str)], created: i64) -> AnalysisRun {
        let mut r: AnalysisRun = serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "labels": labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>()},
            "spec": {"metrics": []},
        }))
        .unwrap();
        r.metadata.creation_timestamp = Some(aviary_api::k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            aviary_api::k8s_openapi::jiff::Timestamp::from_second(1_700_000_000 + created).unwrap(),
        ));
        r.status = Some(AnalysisRunStatus {
            phase,
            message: "metric \"errors\" assessed Failed".into(),
            ..Default::default()
        });
        r
    }

    fn analysis_step() -> CanaryStep {
        CanaryStep {
            analysis: Some(RolloutAnalysis {
                templates: vec![AnalysisTemplateRef { template_name: "errors".into(), ..Default::default() }],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_step_run_is_created_kept_or_cancelled() {
        let ro = RolloutBuilder::canary(4).set_weight(25).step(analysis_step()).index(1).build();
        assert!(matches!(step_run(&ro, None), RunChoice::Create { step: Some(1), .. }));
        let current = run("r", AnalysisPhase::Running, &[(STEP_INDEX, "1")], 0);
        assert_eq!(step_run(&ro, Some(&current)), RunChoice::Keep { react: true });
        // A run of the previous step is cancelled; the next reconcile creates this step's.
        let stale = run("r", AnalysisPhase::Running, &[(STEP_INDEX, "0")], 0);
        assert_eq!(step_run(&ro, Some(&stale)), RunChoice::Cancel);
        // Not at an analysis step: cancelled.
        let at_weight = RolloutBuilder::canary(4).set_weight(25).step(analysis_step()).index(0).build();
        assert_eq!(step_run(&at_weight, Some(&current)), RunChoice::Cancel);
        // While paused or aborted, the run is left as it is and not acted on.
        let aborted = RolloutBuilder::canary(4).set_weight(25).step(analysis_step()).index(1).abort().build();
        assert_eq!(step_run(&aborted, Some(&current)), RunChoice::Keep { react: false });
    }

    #[test]
    fn a_retry_after_an_abort_or_a_promoted_inconclusive_run_needs_a_new_run() {
        let mut ro = RolloutBuilder::canary(4).step(analysis_step()).index(0).build();
        let inconclusive = run("r", AnalysisPhase::Inconclusive, &[], 0);
        assert!(!needs_new(Some(&inconclusive), &ro));
        ro.status.as_mut().unwrap().aborted_at = Some(Time(DateTime::from_timestamp(0, 0).unwrap()));
        assert!(needs_new(Some(&inconclusive), &ro), "retry after abort");
        let st = ro.status.as_mut().unwrap();
        st.aborted_at = None;
        st.controller_pause = true;
        assert!(needs_new(Some(&inconclusive), &ro), "promoted after Inconclusive");
        st_pause(&mut ro);
        assert!(!needs_new(Some(&inconclusive), &ro), "still paused at a pause step");
    }

    fn st_pause(ro: &mut Rollout) {
        ro.status.as_mut().unwrap().pause_conditions = vec![PauseCondition {
            reason: PauseReason::CanaryPauseStep,
            start_time: Time(DateTime::from_timestamp(0, 0).unwrap()),
        }];
    }

    #[test]
    fn a_runs_outcome_pauses_or_aborts_the_rollout() {
        let ro = RolloutBuilder::canary(4).build();
        let mut pause = PauseContext::default();
        react(&mut pause, &run("r", AnalysisPhase::Inconclusive, &[], 0), RunRole::Step);
        assert!(pause.has_add_pause());
        let mut pause = PauseContext::default();
        react(&mut pause, &run("r", AnalysisPhase::Failed, &[], 0), RunRole::Background);
        assert!(pause.is_aborted(&ro));
        assert_eq!(pause.abort_message, "Background analysis phase error/failed: metric \"errors\" assessed Failed");
        let mut pause = PauseContext::default();
        react(&mut pause, &run("r", AnalysisPhase::Successful, &[], 0), RunRole::Step);
        assert_eq!(pause, PauseContext::default());
    }

    #[test]
    fn history_limits_keep_the_newest_completed_runs_and_drop_orphans() {
        let mut ro = RolloutBuilder::canary(4).build();
        ro.spec.analysis = Some(aviary_api::rollout::AnalysisRunStrategy {
            successful_run_history_limit: Some(1),
            unsuccessful_run_history_limit: Some(1),
        });
        let runs = [
            run("ok-old", AnalysisPhase::Successful, &[(HASH_LABEL, "a")], 0),
            run("ok-new", AnalysisPhase::Successful, &[(HASH_LABEL, "a")], 10),
            run("bad-old", AnalysisPhase::Failed, &[(HASH_LABEL, "a")], 1),
            run("bad-new", AnalysisPhase::Error, &[(HASH_LABEL, "a")], 11),
            run("running", AnalysisPhase::Running, &[(HASH_LABEL, "a")], 12),
            run("orphan", AnalysisPhase::Running, &[(HASH_LABEL, "gone")], 13),
            run("going", AnalysisPhase::Successful, &[(HASH_LABEL, "b")], 14),
        ];
        let live = BTreeMap::from([("a", false), ("b", true)]);
        let refs: Vec<&AnalysisRun> = runs.iter().collect();
        let mut names: Vec<_> =
            runs_to_delete(&ro, &live, &refs).into_iter().map(|i| refs[i].metadata.name.clone().unwrap()).collect();
        names.sort();
        assert_eq!(names, vec!["bad-old", "going", "ok-old", "orphan"]);
    }

    #[test]
    fn a_phase_change_is_an_event_worded_as_argo() {
        let e = phase_change_event(None, "app-1", Some(AnalysisPhase::Running), RunRole::Step).unwrap();
        assert_eq!(
            (e.warning, e.reason, e.message.as_str()),
            (
                false,
                "AnalysisRunRunning",
                "Step Analysis Run 'app-1' Status New: 'Running' Previous: 'NoPreviousStatus'"
            )
        );
        let previous =
            RolloutAnalysisRunStatus { name: "app-1".into(), status: "Running".into(), message: String::new() };
        let e = phase_change_event(Some(&previous), "app-1", Some(AnalysisPhase::Failed), RunRole::Background).unwrap();
        assert_eq!(
            (e.warning, e.reason, e.message.as_str()),
            (true, "AnalysisRunFailed", "Background Analysis Run 'app-1' Status New: 'Failed' Previous: 'Running'")
        );
        assert_eq!(phase_change_event(Some(&previous), "app-1", Some(AnalysisPhase::Running), RunRole::Step), None);
        assert_eq!(phase_change_event(None, "app-1", Some(AnalysisPhase::Pending), RunRole::Step), None);
    }

    fn promotion(pre: bool, post: bool) -> Rollout {
        let analysis = || {
            Some(RolloutAnalysis {
                templates: vec![AnalysisTemplateRef { template_name: "smoke".into(), ..Default::default() }],
                ..Default::default()
            })
        };
        let mut ro = RolloutBuilder::blue_green(3).build();
        let bg = ro.spec.strategy.blue_green.as_mut().unwrap();
        bg.pre_promotion_analysis = if pre { analysis() } else { None };
        bg.post_promotion_analysis = if post { analysis() } else { None };
        ro.status.as_mut().unwrap().blue_green.active_selector = "stable".into();
        ro
    }

    fn saturated_new() -> ReplicaSetState {
        ReplicaSetState { desired_replicas: Some(3), ..ReplicaSetState::ready("canary", 3) }
    }

    #[test]
    fn a_pre_promotion_run_starts_once_the_preview_is_up_and_is_kept_after_the_switch() {
        let ro = promotion(true, false);
        let up = saturated_new();
        let coming = ReplicaSetState { desired_replicas: Some(3), ..ReplicaSetState::new("canary", 3, 1) };
        assert_eq!(promotion_run(&ro, RunRole::PrePromotion, Some(&coming), None), RunChoice::Drop);
        assert!(matches!(
            promotion_run(&ro, RunRole::PrePromotion, Some(&up), None),
            RunChoice::Create { step: None, .. }
        ));
        let current = run("pre", AnalysisPhase::Running, &[], 0);
        assert_eq!(
            promotion_run(&ro, RunRole::PrePromotion, Some(&coming), Some(&current)),
            RunChoice::Keep { react: true }
        );
        // Once the active Service selects the new ReplicaSet the run is terminated but stays current.
        let mut switched = ro.clone();
        switched.status.as_mut().unwrap().blue_green.active_selector = "canary".into();
        assert_eq!(promotion_run(&switched, RunRole::PrePromotion, Some(&up), Some(&current)), RunChoice::CancelKeep);
        // Not configured: cancelled.
        assert_eq!(
            promotion_run(&promotion(false, false), RunRole::PrePromotion, Some(&up), Some(&current)),
            RunChoice::Cancel
        );
    }

    #[test]
    fn a_post_promotion_run_starts_after_the_switch() {
        let ro = promotion(false, true);
        let up = saturated_new();
        assert_eq!(promotion_run(&ro, RunRole::PostPromotion, Some(&up), None), RunChoice::Drop, "not switched yet");
        let mut switched = ro.clone();
        switched.status.as_mut().unwrap().blue_green.active_selector = "canary".into();
        assert!(matches!(promotion_run(&switched, RunRole::PostPromotion, Some(&up), None), RunChoice::Create { .. }));
        // Stable already: nothing to analyse.
        let mut stable = switched.clone();
        stable.status.as_mut().unwrap().stable_rs = "canary".into();
        assert_eq!(promotion_run(&stable, RunRole::PostPromotion, Some(&up), None), RunChoice::Drop);
    }

    #[test]
    fn promotion_runs_are_named_labelled_and_abort_as_argo_s() {
        assert_eq!((RunRole::PrePromotion.label(), RunRole::PrePromotion.name_suffix()), ("PrePromotion", Some("pre")));
        assert_eq!(
            (RunRole::PostPromotion.label(), RunRole::PostPromotion.name_suffix()),
            ("PostPromotion", Some("post"))
        );
        let mut pause = PauseContext::default();
        react(&mut pause, &run("r", AnalysisPhase::Failed, &[], 0), RunRole::PostPromotion);
        assert_eq!(
            pause.abort_message,
            "Blue/green post-promotion analysis phase error/failed: metric \"errors\" assessed Failed"
        );
    }
}

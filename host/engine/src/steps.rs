//! Step completion (Argo `completedCurrentCanaryStep`, `AtDesiredReplicaCountsForCanary`,
//! `ReplicaProgressThresholdMet`, `CompletedCanaryPauseStep`).

use chrono::{DateTime, Utc};

use aviary_api::AnalysisPhase;
use aviary_api::rollout::{ReplicaProgressThreshold, ReplicaProgressThresholdType, Rollout, RolloutPause};
use aviary_api::rollout_status::{PauseReason, TrafficWeights};

use crate::canary::desired_counts;
use crate::observed::{ObservedReplicaSets, ReplicaSetState};
use crate::weight::{current_step, status};

/// Argo's `ReplicaProgressThresholdMet`: with no threshold (or a negative value), the canary is
/// done when `spec == desired == available`; with one, when enough pods are available: `Pods`
/// counts pods, `Percent` is a share of the desired count, rounded up; neither asks for more
/// than the desired count.
pub fn replica_progress_threshold_met(
    threshold: Option<&ReplicaProgressThreshold>,
    rs: Option<&ReplicaSetState>,
    desired: i32,
) -> bool {
    let Some(rs) = rs else { return false };
    match threshold {
        Some(t) if t.value >= 0 => {
            let required = match t.type_ {
                ReplicaProgressThresholdType::Pods => t.value,
                ReplicaProgressThresholdType::Percent => {
                    (f64::from(t.value) * f64::from(desired) / 100.0).ceil() as i32
                }
            };
            // A threshold above the desired count would never be met: cap it.
            rs.available >= required.min(desired)
        }
        _ => rs.spec_replicas == desired && rs.available == desired,
    }
}

/// Argo's `AtDesiredReplicaCountsForCanary` (the step-done check for setWeight and
/// setCanaryScale): the canary meets the progress threshold; the stable has
/// `spec == desired == status.replicas` (skipped with traffic routing and dynamicStableScale);
/// and, for a basic canary, the older ReplicaSets have no available pods.
pub fn at_desired_replica_counts(
    rollout: &Rollout,
    observed: &ObservedReplicaSets,
    weights: Option<&TrafficWeights>,
) -> bool {
    let Some(canary) = rollout.spec.canary() else {
        return false;
    };
    let desired = desired_counts(rollout, observed, weights);
    if !replica_progress_threshold_met(
        canary.replica_progress_threshold.as_ref(),
        observed.new_rs.as_ref(),
        desired.canary,
    ) {
        return false;
    }
    let traffic_routed = canary.traffic_routing.is_some();
    if !traffic_routed || !canary.dynamic_stable_scale {
        let stable_ok = observed
            .distinct_stable()
            .is_some_and(|s| s.spec_replicas == desired.stable && s.status_replicas == desired.stable);
        if !stable_ok {
            return false;
        }
    }
    if !traffic_routed && observed.older.iter().map(|r| r.available).sum::<i32>() != 0 {
        return false;
    }
    true
}

/// The state of a canary pause step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PauseState {
    /// When the `CanaryPauseStep` pause condition started, if there is one.
    pub condition_started_at: Option<DateTime<Utc>>,
    /// `status.controllerPause`.
    pub controller_pause: bool,
}

impl PauseState {
    /// Reads the pause state from a rollout's status.
    pub fn of(rollout: &Rollout) -> Self {
        let st = status(rollout);
        PauseState {
            condition_started_at: st
                .pause_conditions
                .iter()
                .find(|c| c.reason == PauseReason::CanaryPauseStep)
                .map(|c| c.start_time.0),
            controller_pause: st.controller_pause,
        }
    }
}

/// Argo's `CompletedCanaryPauseStep`: a timed pause ends strictly after start + duration; any
/// pause ends when the user resumed (controllerPause set, pause condition cleared).
pub fn pause_step_completed(pause: &RolloutPause, state: PauseState, now: DateTime<Utc>) -> bool {
    if pause.duration.is_some()
        && let Some(start) = state.condition_started_at
        && now > crate::clock::after_seconds(start, i64::from(pause.duration_seconds()))
    {
        return true;
    }
    state.controller_pause && state.condition_started_at.is_none()
}

/// When a timed pause step ends (for requeueing); `None` for an indefinite pause.
pub fn pause_step_ends_at(pause: &RolloutPause, state: PauseState) -> Option<DateTime<Utc>> {
    pause.duration.as_ref()?;
    state.condition_started_at.map(|s| crate::clock::after_seconds(s, i64::from(pause.duration_seconds())))
}

/// What the controller knows about the current step's other objects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepContext {
    /// The current step's AnalysisRun phase, if it exists.
    pub step_analysis: Option<AnalysisPhase>,
    /// The current step's Experiment phase, if it exists.
    pub experiment: Option<AnalysisPhase>,
    /// The current plugin step is complete (Argo's `isStepPluginCompleted`: its run finished, its
    /// plugin is disabled, or a running run was terminated or aborted; never in a reconcile whose
    /// step-plugin stage failed).
    pub plugin_complete: bool,
    /// `status.canary.weights.verified` after this reconcile's traffic update.
    pub weight_verified: Option<bool>,
    /// The pause state.
    pub pause: PauseState,
}

/// Argo's `completedCurrentCanaryStep`: whether the current step is done, so that the step index
/// may advance.
pub fn completed_current_step(
    rollout: &Rollout,
    observed: &ObservedReplicaSets,
    ctx: &StepContext,
    now: DateTime<Utc>,
) -> bool {
    if rollout.spec.paused {
        return false;
    }
    let (Some(step), _) = current_step(rollout) else {
        return false;
    };
    if let Some(p) = &step.pause {
        return pause_step_completed(p, ctx.pause, now);
    }
    if step.set_canary_scale.is_some() {
        return at_desired_replica_counts(rollout, observed, None);
    }
    if step.set_weight.is_some() {
        return at_desired_replica_counts(rollout, observed, None) && ctx.weight_verified != Some(false);
    }
    if step.experiment.is_some() {
        return ctx.experiment == Some(AnalysisPhase::Successful);
    }
    if step.analysis.is_some() {
        return ctx.step_analysis == Some(AnalysisPhase::Successful);
    }
    if step.set_header_route.is_some() || step.set_mirror_route.is_some() {
        return true;
    }
    if step.plugin.is_some() {
        return ctx.plugin_complete;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::RolloutBuilder;
    use ReplicaProgressThresholdType::{Percent, Pods};
    use aviary_api::IntOrString;
    use chrono::Duration;

    fn t(type_: ReplicaProgressThresholdType, value: i32) -> ReplicaProgressThreshold {
        ReplicaProgressThreshold { type_, value }
    }

    fn rs(spec: i32, avail: i32) -> ReplicaSetState {
        ReplicaSetState::new("canary", spec, avail)
    }

    /// The ReplicaProgressThresholdMet list of the reference, in order.
    #[test]
    fn replica_progress_threshold_rows() {
        assert!(replica_progress_threshold_met(Some(&t(Percent, 90)), Some(&rs(10, 9)), 10));
        assert!(replica_progress_threshold_met(Some(&t(Pods, 9)), Some(&rs(10, 9)), 10));
        assert!(!replica_progress_threshold_met(Some(&t(Percent, 90)), Some(&rs(10, 8)), 10));
        assert!(!replica_progress_threshold_met(Some(&t(Pods, 8)), Some(&rs(10, 7)), 10));
        assert!(replica_progress_threshold_met(Some(&t(Pods, -100)), Some(&rs(10, 10)), 10));
        assert!(!replica_progress_threshold_met(None, Some(&rs(5, 10)), 10));
        assert!(!replica_progress_threshold_met(Some(&t(Percent, 90)), None, 10));
        assert!(replica_progress_threshold_met(Some(&t(Percent, 100)), Some(&rs(100, 100)), 10));
        assert!(replica_progress_threshold_met(Some(&t(Percent, 90)), Some(&rs(0, 0)), 0));
    }

    fn observed(new: (i32, i32, i32), stable: (i32, i32, i32)) -> ObservedReplicaSets {
        ObservedReplicaSets {
            new_rs: Some(ReplicaSetState {
                pod_template_hash: "canary".into(),
                spec_replicas: new.0,
                available: new.1,
                status_replicas: new.2,
                ..Default::default()
            }),
            stable_rs: Some(ReplicaSetState {
                pod_template_hash: "stable".into(),
                spec_replicas: stable.0,
                available: stable.1,
                status_replicas: stable.2,
                ..Default::default()
            }),
            older: vec![],
        }
    }

    /// The AtDesiredReplicaCountsForCanary list (basic; N=4, surge 1, unavailable 1).
    #[test]
    fn at_desired_replica_counts_rows() {
        let ro = |w| RolloutBuilder::canary(4).set_weight(w).fenceposts(1, 1).build();
        assert!(at_desired_replica_counts(&ro(50), &observed((2, 2, 2), (2, 2, 2)), None));
        assert!(!at_desired_replica_counts(&ro(50), &observed((2, 1, 2), (2, 2, 2)), None));
        assert!(!at_desired_replica_counts(&ro(75), &observed((3, 3, 3), (2, 2, 2)), None));
        assert!(at_desired_replica_counts(&ro(75), &observed((3, 3, 3), (1, 0, 1)), None));
        assert!(!at_desired_replica_counts(&ro(50), &observed((2, 2, 2), (2, 2, 3)), None));
    }

    #[test]
    fn older_available_pods_block_a_basic_step() {
        let ro = RolloutBuilder::canary(4).set_weight(50).fenceposts(1, 1).build();
        let mut obs = observed((2, 2, 2), (2, 2, 2));
        obs.older.push(ReplicaSetState::new("old", 0, 1));
        assert!(!at_desired_replica_counts(&ro, &obs, None));
    }

    #[test]
    fn set_weight_waits_for_weight_verification() {
        let ro = RolloutBuilder::canary(4).set_weight(50).fenceposts(1, 1).build();
        let obs = observed((2, 2, 2), (2, 2, 2));
        let now = Utc::now();
        let mut ctx = StepContext::default();
        assert!(completed_current_step(&ro, &obs, &ctx, now));
        ctx.weight_verified = Some(false);
        assert!(!completed_current_step(&ro, &obs, &ctx, now));
        ctx.weight_verified = None;
        let paused = RolloutBuilder::canary(4).set_weight(50).fenceposts(1, 1).paused().build();
        assert!(!completed_current_step(&paused, &obs, &ctx, now));
    }

    #[test]
    fn timed_pause_ends_strictly_after_its_duration_and_on_resume() {
        let start = DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        let pause = RolloutPause { duration: Some(IntOrString::String("30s".into())) };
        let state = PauseState { condition_started_at: Some(start), controller_pause: true };
        assert!(!pause_step_completed(&pause, state, start + Duration::seconds(30)));
        assert!(pause_step_completed(&pause, state, start + Duration::seconds(31)));
        assert_eq!(pause_step_ends_at(&pause, state), Some(start + Duration::seconds(30)));
        let indefinite = RolloutPause::default();
        assert!(!pause_step_completed(&indefinite, state, start + Duration::days(1)));
        let resumed = PauseState { condition_started_at: None, controller_pause: true };
        assert!(pause_step_completed(&indefinite, resumed, start));
    }

    #[test]
    fn analysis_and_experiment_steps_need_success() {
        let now = Utc::now();
        let obs = ObservedReplicaSets::default();
        let ro = RolloutBuilder::canary(4)
            .step(aviary_api::rollout::CanaryStep { analysis: Some(Default::default()), ..Default::default() })
            .build();
        let mut ctx = StepContext { step_analysis: Some(AnalysisPhase::Running), ..Default::default() };
        assert!(!completed_current_step(&ro, &obs, &ctx, now));
        ctx.step_analysis = Some(AnalysisPhase::Inconclusive);
        assert!(!completed_current_step(&ro, &obs, &ctx, now));
        ctx.step_analysis = Some(AnalysisPhase::Successful);
        assert!(completed_current_step(&ro, &obs, &ctx, now));
    }
}

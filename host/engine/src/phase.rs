//! The rollout phase and message (reference §1.4; Argo `CalculateRolloutPhase`,
//! `GetRolloutPhase`). Checks run in order and the first match wins.

use aviary_api::rollout::{Rollout, RolloutSpec};
use aviary_api::rollout_status::{RolloutPhase, RolloutStatus};

use crate::weight::status;

/// Condition reason of an aborted rollout.
pub const REASON_ROLLOUT_ABORTED: &str = "RolloutAborted";
/// Condition reason of a rollout past its progress deadline.
pub const REASON_PROGRESS_DEADLINE_EXCEEDED: &str = "ProgressDeadlineExceeded";
/// Condition type of an invalid spec.
pub const CONDITION_INVALID_SPEC: &str = "InvalidSpec";

/// A phase and the message that explains it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhaseAndMessage {
    /// The phase.
    pub phase: RolloutPhase,
    /// Why (empty when Healthy).
    pub message: String,
}

fn pm(phase: RolloutPhase, message: impl Into<String>) -> PhaseAndMessage {
    PhaseAndMessage { phase, message: message.into() }
}

/// Argo's `CalculateRolloutPhase`: what the controller writes into `status.phase` and
/// `status.message` from the spec and the status it just computed.
pub fn rollout_phase(rollout: &Rollout) -> PhaseAndMessage {
    phase_of(&rollout.spec, status(rollout))
}

/// [`rollout_phase`] of a spec and a status the controller is about to write, without
/// assembling a Rollout for it.
pub fn phase_of(spec: &RolloutSpec, st: &RolloutStatus) -> PhaseAndMessage {
    for cond in &st.conditions {
        // Argo prefixes the message with the condition type or reason.
        if cond.type_ == CONDITION_INVALID_SPEC {
            return pm(RolloutPhase::Degraded, format!("{CONDITION_INVALID_SPEC}: {}", cond.message));
        }
        if cond.reason == REASON_ROLLOUT_ABORTED || cond.reason == REASON_PROGRESS_DEADLINE_EXCEEDED {
            return pm(RolloutPhase::Degraded, format!("{}: {}", cond.reason, cond.message));
        }
    }
    if spec.paused {
        return pm(RolloutPhase::Paused, "manually paused");
    }
    if let Some(c) = st.pause_conditions.first() {
        return pm(RolloutPhase::Paused, c.reason.as_str());
    }
    if let Some(restart_at) = spec.restart_at
        && st.restarted_at != Some(restart_at)
    {
        return pm(RolloutPhase::Progressing, "rollout is restarting");
    }
    if st.updated_replicas < spec.replicas_or_default() {
        return pm(RolloutPhase::Progressing, "more replicas need to be updated");
    }
    if st.available_replicas < st.updated_replicas {
        return pm(RolloutPhase::Progressing, "updated replicas are still becoming available");
    }
    let fully_promoted = !st.stable_rs.is_empty() && st.stable_rs == st.current_pod_hash;
    if let Some(bg) = spec.blue_green() {
        if st.blue_green.active_selector.is_empty() || st.blue_green.active_selector != st.current_pod_hash {
            return pm(RolloutPhase::Progressing, "active service cutover pending");
        }
        if !fully_promoted {
            let msg = if bg.post_promotion_analysis.is_some() {
                "waiting for post-promotion verification to complete"
            } else {
                "waiting for analysis to complete"
            };
            return pm(RolloutPhase::Progressing, msg);
        }
    } else if let Some(canary) = spec.canary() {
        if canary.traffic_routing.is_none() && st.replicas > st.updated_replicas {
            return pm(RolloutPhase::Progressing, "old replicas are pending termination");
        }
        if !fully_promoted {
            return pm(RolloutPhase::Progressing, "waiting for all steps to complete");
        }
    }
    pm(RolloutPhase::Healthy, "")
}

/// Argo's client-side `GetRolloutPhase`: Progressing while the controller has not observed the
/// latest generation (or the referenced workload's), or while a resume is being processed;
/// otherwise the phase in the status.
pub fn observed_phase(rollout: &Rollout, workload_generation: Option<i64>) -> PhaseAndMessage {
    let st = status(rollout);
    let generation = rollout.metadata.generation.map(|g| g.to_string()).unwrap_or_default();
    if st.observed_generation != generation {
        return pm(RolloutPhase::Progressing, "waiting for rollout spec update to be observed");
    }
    if st.controller_pause && st.pause_conditions.is_empty() {
        return pm(RolloutPhase::Progressing, "waiting for rollout to be resumed");
    }
    if let Some(wg) = workload_generation
        && st.workload_observed_generation != wg.to_string()
    {
        return pm(
            RolloutPhase::Progressing,
            "waiting for rollout spec update to be observed for the reference workload",
        );
    }
    match st.phase {
        Some(phase) => pm(phase, st.message.clone()),
        None => pm(RolloutPhase::Progressing, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::RolloutBuilder;
    use aviary_api::Time;
    use aviary_api::rollout_status::{PauseCondition, PauseReason, RolloutCondition};

    fn t() -> Time {
        Time::parse("2024-01-01T00:00:00Z").unwrap()
    }

    fn healthy_canary() -> Rollout {
        let mut ro = RolloutBuilder::canary(3).set_weight(50).index(1).stable_hash("canary").build();
        let st = ro.status.as_mut().unwrap();
        st.updated_replicas = 3;
        st.available_replicas = 3;
        st.replicas = 3;
        ro
    }

    fn cond(type_: &str, reason: &str, message: &str) -> RolloutCondition {
        RolloutCondition {
            type_: type_.into(),
            status: "False".into(),
            last_update_time: t(),
            last_transition_time: t(),
            reason: reason.into(),
            message: message.into(),
        }
    }

    #[test]
    fn checks_run_in_order() {
        assert_eq!(rollout_phase(&healthy_canary()), pm(RolloutPhase::Healthy, ""));

        let mut ro = healthy_canary();
        ro.status.as_mut().unwrap().conditions.push(cond("InvalidSpec", "InvalidSpec", "bad spec"));
        ro.spec.paused = true;
        assert_eq!(rollout_phase(&ro), pm(RolloutPhase::Degraded, "InvalidSpec: bad spec"));

        let mut ro = healthy_canary();
        ro.status.as_mut().unwrap().conditions.push(cond("Progressing", "RolloutAborted", "aborted"));
        assert_eq!(rollout_phase(&ro), pm(RolloutPhase::Degraded, "RolloutAborted: aborted"));

        let mut ro = healthy_canary();
        ro.status.as_mut().unwrap().conditions.push(cond("Progressing", "ProgressDeadlineExceeded", "too slow"));
        assert_eq!(rollout_phase(&ro), pm(RolloutPhase::Degraded, "ProgressDeadlineExceeded: too slow"));

        let mut ro = healthy_canary();
        ro.spec.paused = true;
        assert_eq!(rollout_phase(&ro), pm(RolloutPhase::Paused, "manually paused"));

        let mut ro = healthy_canary();
        ro.status
            .as_mut()
            .unwrap()
            .pause_conditions
            .push(PauseCondition { reason: PauseReason::CanaryPauseStep, start_time: t() });
        assert_eq!(rollout_phase(&ro), pm(RolloutPhase::Paused, "CanaryPauseStep"));

        let mut ro = healthy_canary();
        ro.spec.restart_at = Some(t());
        assert_eq!(rollout_phase(&ro), pm(RolloutPhase::Progressing, "rollout is restarting"));
        ro.status.as_mut().unwrap().restarted_at = Some(t());
        assert_eq!(rollout_phase(&ro).phase, RolloutPhase::Healthy);

        let mut ro = healthy_canary();
        ro.status.as_mut().unwrap().updated_replicas = 2;
        assert_eq!(rollout_phase(&ro), pm(RolloutPhase::Progressing, "more replicas need to be updated"));

        let mut ro = healthy_canary();
        ro.status.as_mut().unwrap().available_replicas = 2;
        assert_eq!(rollout_phase(&ro), pm(RolloutPhase::Progressing, "updated replicas are still becoming available"));

        let mut ro = healthy_canary();
        ro.status.as_mut().unwrap().replicas = 5;
        assert_eq!(rollout_phase(&ro), pm(RolloutPhase::Progressing, "old replicas are pending termination"));

        let mut ro = healthy_canary();
        ro.status.as_mut().unwrap().stable_rs = "stable".into();
        assert_eq!(rollout_phase(&ro), pm(RolloutPhase::Progressing, "waiting for all steps to complete"));
    }

    #[test]
    fn blue_green_waits_for_cutover_and_promotion() {
        let mut ro = RolloutBuilder::blue_green(2).build();
        {
            let st = ro.status.as_mut().unwrap();
            st.updated_replicas = 2;
            st.available_replicas = 2;
            st.blue_green.active_selector = "stable".into();
        }
        assert_eq!(rollout_phase(&ro), pm(RolloutPhase::Progressing, "active service cutover pending"));
        ro.status.as_mut().unwrap().blue_green.active_selector = "canary".into();
        assert_eq!(rollout_phase(&ro), pm(RolloutPhase::Progressing, "waiting for analysis to complete"));
        ro.status.as_mut().unwrap().stable_rs = "canary".into();
        assert_eq!(rollout_phase(&ro).phase, RolloutPhase::Healthy);
    }

    #[test]
    fn client_side_phase_waits_for_the_generation() {
        let mut ro = healthy_canary();
        ro.metadata.generation = Some(2);
        ro.status.as_mut().unwrap().observed_generation = "1".into();
        assert_eq!(observed_phase(&ro, None).phase, RolloutPhase::Progressing);
        ro.status.as_mut().unwrap().observed_generation = "2".into();
        ro.status.as_mut().unwrap().phase = Some(RolloutPhase::Healthy);
        assert_eq!(observed_phase(&ro, None).phase, RolloutPhase::Healthy);
        ro.status.as_mut().unwrap().controller_pause = true;
        assert_eq!(observed_phase(&ro, None).phase, RolloutPhase::Progressing);
    }
}

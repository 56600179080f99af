//! A Rollout's conditions, exactly as Argo computes them (argo-rollouts v1.10
//! `utils/conditions`, `rollout/sync.go` `calculateRolloutConditions`, `checkPausedConditions`,
//! `sendStateChangeEvents`).
//!
//! Alerting rules, Argo CD's health check and people read these: the reasons and messages are
//! Argo's, and so are its quirks, kept on purpose: a condition whose status and reason do not
//! change is not rewritten, even when its message would differ; `Completed` and `Healthy` keep the
//! reasons `RolloutCompleted` and `RolloutHealthy` when False; a fresh Rollout has no `Paused`
//! condition, and once added it is never removed, only set True or False.

use aviary_api::Time;
use aviary_api::rollout::Rollout;
use aviary_api::rollout_status::{RolloutCondition, RolloutStatus};
use chrono::{DateTime, Utc};

/// Condition types.
pub mod kind {
    /// Progress of the update.
    pub const PROGRESSING: &str = "Progressing";
    /// Minimum availability.
    pub const AVAILABLE: &str = "Available";
    /// Paused by a step, an analysis or a person.
    pub const PAUSED: &str = "Paused";
    /// The update finished.
    pub const COMPLETED: &str = "Completed";
    /// Fully available and completed.
    pub const HEALTHY: &str = "Healthy";
    /// The spec is invalid.
    pub const INVALID_SPEC: &str = "InvalidSpec";
    /// A ReplicaSet could not create pods.
    pub const REPLICA_FAILURE: &str = "ReplicaFailure";
}

/// Condition and event reasons (Argo's `utils/conditions`).
pub mod reason {
    #![allow(missing_docs)]
    pub const INVALID_SPEC: &str = "InvalidSpec";
    pub const AVAILABLE: &str = "AvailableReason";
    pub const REPLICA_SET_UPDATED: &str = "ReplicaSetUpdated";
    pub const REPLICA_SET_NOT_AVAILABLE: &str = "ReplicaSetNotAvailable";
    pub const NEW_REPLICA_SET_CREATED: &str = "NewReplicaSetCreated";
    pub const FOUND_NEW_REPLICA_SET: &str = "FoundNewReplicaSet";
    pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
    pub const TIMED_OUT: &str = "ProgressDeadlineExceeded";
    pub const PAUSED: &str = "RolloutPaused";
    pub const RESUMED: &str = "RolloutResumed";
    pub const ABORTED: &str = "RolloutAborted";
    pub const RETRY: &str = "RolloutRetry";
    pub const COMPLETED: &str = "RolloutCompleted";
    pub const NOT_COMPLETED: &str = "RolloutNotCompleted";
    pub const HEALTHY: &str = "RolloutHealthy";
    pub const STEP_COMPLETED: &str = "RolloutStepCompleted";
    pub const SCALING: &str = "ScalingReplicaSet";
    pub const RS_CREATE_ERROR: &str = "ReplicaSetCreateError";
    pub const RECONCILIATION_ERROR: &str = "ReconciliationError";
    pub const UPDATED: &str = "RolloutUpdated";
    pub const SERVICE_REFERENCE_ERROR: &str = "ServiceReferenceError";
    pub const ADDED_TO_INFORMER: &str = "RolloutAddedToInformer";
    pub const SKIP_STEPS: &str = "SkipSteps";
}

/// Argo's messages.
pub mod message {
    #![allow(missing_docs)]
    pub const PAUSED: &str = "Rollout is paused";
    pub const RESUMED: &str = "Rollout is resumed";
    pub const RETRY: &str = "Retrying Rollout after abort";
    pub const HEALTHY: &str = "Rollout is healthy";
    pub const NOT_HEALTHY: &str = "Rollout is not healthy";
    pub const AVAILABLE: &str = "Rollout has minimum availability";
    pub const NOT_AVAILABLE: &str = "Rollout does not have minimum availability";
}

/// An event to record on the Rollout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Warning (else Normal).
    pub warning: bool,
    /// The reason.
    pub reason: &'static str,
    /// The message.
    pub message: String,
}

impl Event {
    /// A Normal event.
    pub fn normal(reason: &'static str, message: impl Into<String>) -> Self {
        Event { warning: false, reason, message: message.into() }
    }

    /// A Warning event.
    pub fn warning(reason: &'static str, message: impl Into<String>) -> Self {
        Event { warning: true, reason, message: message.into() }
    }
}

/// The condition of `type_`, if present.
pub fn get<'a>(status: &'a RolloutStatus, type_: &str) -> Option<&'a RolloutCondition> {
    status.conditions.iter().find(|c| c.type_ == type_)
}

/// A new condition at `now`.
pub fn new(
    type_: &str,
    status: &str,
    reason: &str,
    message: impl Into<String>,
    now: DateTime<Utc>,
) -> RolloutCondition {
    RolloutCondition {
        type_: type_.to_string(),
        status: status.to_string(),
        last_update_time: Time(now),
        last_transition_time: Time(now),
        reason: reason.to_string(),
        message: message.into(),
    }
}

/// Argo's `SetRolloutCondition`: nothing changes when a condition of that type has the same
/// status and reason (whatever the message); otherwise the new one replaces it, at the end of
/// the list, keeping the old transition time when the status is the same. Returns whether it
/// changed.
pub fn set(status: &mut RolloutStatus, mut condition: RolloutCondition) -> bool {
    if let Some(current) = get(status, &condition.type_) {
        if current.status == condition.status && current.reason == condition.reason {
            return false;
        }
        if current.status == condition.status {
            condition.last_transition_time = current.last_transition_time;
        }
    }
    remove(status, &condition.type_);
    status.conditions.push(condition);
    true
}

/// Removes the condition of `type_`.
pub fn remove(status: &mut RolloutStatus, type_: &str) {
    status.conditions.retain(|c| c.type_ != type_);
}

/// Argo's `RolloutCompleted`: the current pod hash is the stable one.
pub fn completed(status: &RolloutStatus) -> bool {
    !status.stable_rs.is_empty() && status.stable_rs == status.current_pod_hash
}

fn generation(rollout: &Rollout) -> String {
    rollout.metadata.generation.unwrap_or(0).to_string()
}

/// Argo's `RolloutHealthy`: every replica updated and available, the previous status observed the
/// current generation, and the strategy done (every step, the stable is the current template and
/// the old pods are gone; for blue-green, the services select it).
pub fn healthy(rollout: &Rollout, new: &RolloutStatus) -> bool {
    let replicas = rollout.spec.replicas_or_default();
    let old = crate::weight::status(rollout);
    let mut completed_strategy = true;
    if let Some(bg) = rollout.spec.blue_green() {
        let active = new.blue_green.active_selector == new.current_pod_hash;
        let preview = bg.preview_service.is_empty() || new.blue_green.preview_selector == new.current_pod_hash;
        completed_strategy = active && preview;
    }
    if let Some(canary) = rollout.spec.canary() {
        let steps = i32::try_from(canary.steps.len()).unwrap_or(i32::MAX);
        let all_steps = steps == 0 || new.current_step_index.is_none_or(|i| i == steps);
        completed_strategy = all_steps && completed(new) && new.replicas == replicas;
    }
    new.updated_replicas == replicas
        && new.available_replicas == replicas
        && old.observed_generation == generation(rollout)
        && completed_strategy
}

/// Argo's `RolloutProgressing`: more updated, ready or available pods, fewer old pods, or (canary)
/// a new stable, step or steps, or (blue-green) a service switched.
pub fn progressing(rollout: &Rollout, new: &RolloutStatus) -> bool {
    let old = crate::weight::status(rollout);
    let mut strategy = false;
    if rollout.spec.blue_green().is_some() {
        strategy = old.blue_green.active_selector != new.blue_green.active_selector
            || old.blue_green.preview_selector != new.blue_green.preview_selector;
    }
    if rollout.spec.canary().is_some() {
        let step_changed = matches!((new.current_step_index, old.current_step_index), (Some(a), Some(b)) if a != b);
        strategy = new.stable_rs != old.stable_rs || step_changed || new.current_step_hash != old.current_step_hash;
    }
    let old_old = old.replicas.saturating_sub(old.updated_replicas);
    let new_old = new.replicas.saturating_sub(new.updated_replicas);
    new.updated_replicas != old.updated_replicas
        || new_old < old_old
        || new.ready_replicas > old.ready_replicas
        || new.available_replicas > old.available_replicas
        || strategy
}

/// Argo's `RolloutTimedOut`: the Progressing condition of `status` has not been updated for
/// `progressDeadlineSeconds` (never while aborted or paused; always once timed out).
pub fn timed_out(rollout: &Rollout, status: &RolloutStatus, now: DateTime<Utc>) -> bool {
    let Some(c) = get(status, kind::PROGRESSING) else { return false };
    if c.reason == reason::ABORTED || c.reason == reason::PAUSED {
        return false;
    }
    if c.reason == reason::TIMED_OUT {
        return true;
    }
    let deadline = i64::from(rollout.spec.progress_deadline_seconds_or_default());
    crate::clock::after_seconds(c.last_update_time.0, deadline) < now
}

/// When the Progressing condition of `status` times out (for requeueing), if it can.
pub fn times_out_at(rollout: &Rollout, status: &RolloutStatus) -> Option<DateTime<Utc>> {
    let c = get(status, kind::PROGRESSING)?;
    if [reason::ABORTED, reason::PAUSED, reason::TIMED_OUT, reason::NEW_RS_AVAILABLE].contains(&c.reason.as_str()) {
        return None;
    }
    Some(crate::clock::after_seconds(
        c.last_update_time.0,
        i64::from(rollout.spec.progress_deadline_seconds_or_default()),
    ))
}

/// What `calculateRolloutConditions` needs besides the Rollout (its previous status) and the new
/// status.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// The update is (or becomes) aborted in this reconcile.
    pub aborted: bool,
    /// Why, when it becomes aborted now (an analysis's message).
    pub abort_message: String,
    /// The ReplicaSet of the current template, if any.
    pub new_rs_name: Option<String>,
    /// The `rollout.argoproj.io/revision` of the Rollout.
    pub revision: i64,
    /// The current step waits as long as it takes (pause, analysis, experiment, or a Paused
    /// condition set).
    pub indefinite_step: bool,
    /// An old ReplicaSet still waits for its scale-down deadline.
    pub waiting_for_scale_down: bool,
    /// Available pods of every ReplicaSet.
    pub available: i32,
    /// The active ReplicaSet (blue-green) is saturated.
    pub active_saturated: bool,
}

/// Argo's `calculateRolloutConditions`: Healthy, the abort, Progressing (available, progressing,
/// timed out), Available and Completed, in Argo's order, into `new`; returns the events Argo
/// records on the way (`RolloutAborted`, `RolloutNotCompleted`).
pub fn calculate(rollout: &Rollout, new: &mut RolloutStatus, o: &Observed, now: DateTime<Utc>) -> Vec<Event> {
    let mut events = Vec::new();
    let old = crate::weight::status(rollout);
    let paused = !new.pause_conditions.is_empty() || rollout.spec.paused;
    let mut became_unhealthy = false;
    if !paused && healthy(rollout, new) {
        set(new, self::new(kind::HEALTHY, "True", reason::HEALTHY, message::HEALTHY, now));
    } else if get(old, kind::HEALTHY).is_some() {
        became_unhealthy = set(new, self::new(kind::HEALTHY, "False", reason::HEALTHY, message::NOT_HEALTHY, now));
    }
    if o.aborted {
        let mut text = format!("Rollout aborted update to revision {}", o.revision);
        if !o.abort_message.is_empty() {
            text = format!("{text}: {}", o.abort_message);
        }
        if set(new, self::new(kind::PROGRESSING, "False", reason::ABORTED, text.clone(), now)) {
            events.push(Event::warning(reason::ABORTED, text));
        }
    } else {
        let current = get(old, kind::PROGRESSING).cloned();
        if healthy(rollout, new) {
            let text =
                format!("ReplicaSet {:?} has successfully progressed.", o.new_rs_name.clone().unwrap_or_default());
            set(new, self::new(kind::PROGRESSING, "True", reason::NEW_RS_AVAILABLE, text, now));
        } else if progressing(rollout, new) || became_unhealthy {
            let (reason, text) = if completed(new) && became_unhealthy {
                (reason::REPLICA_SET_NOT_AVAILABLE, message::NOT_AVAILABLE.to_string())
            } else {
                let text = match &o.new_rs_name {
                    Some(rs) => format!("ReplicaSet {rs:?} is progressing."),
                    None => format!("Rollout {:?} is progressing.", rollout.metadata.name.clone().unwrap_or_default()),
                };
                (reason::REPLICA_SET_UPDATED, text)
            };
            let mut condition = self::new(kind::PROGRESSING, "True", reason, text, now);
            // Progress refreshes the condition even with the same reason: its lastUpdateTime is
            // what the progress deadline counts from.
            if let Some(c) = &current {
                if c.status == "True" {
                    condition.last_transition_time = c.last_transition_time;
                }
                remove(new, kind::PROGRESSING);
            }
            set(new, condition);
        } else if !o.indefinite_step && !o.waiting_for_scale_down && timed_out(rollout, new, now) {
            let text = match &o.new_rs_name {
                Some(rs) => format!("ReplicaSet {rs:?} has timed out progressing."),
                None => format!(
                    "Rollout {:?} has timed out progressing.",
                    rollout.metadata.name.clone().unwrap_or_default()
                ),
            };
            set(new, self::new(kind::PROGRESSING, "False", reason::TIMED_OUT, text, now));
        }
    }
    let available = if rollout.spec.blue_green().is_some() {
        o.active_saturated
    } else {
        o.available >= rollout.spec.replicas_or_default()
    };
    let (status, text) = if available { ("True", message::AVAILABLE) } else { ("False", message::NOT_AVAILABLE) };
    set(new, self::new(kind::AVAILABLE, status, reason::AVAILABLE, text, now));
    if completed(new) {
        set(new, self::new(kind::COMPLETED, "True", reason::COMPLETED, reason::COMPLETED, now));
    } else if set(new, self::new(kind::COMPLETED, "False", reason::COMPLETED, reason::COMPLETED, now)) {
        events.push(Event::normal(
            reason::NOT_COMPLETED,
            format!("Rollout not completed, started update to revision {} ({})", o.revision, new.current_pod_hash),
        ));
    }
    events
}

/// Argo's `checkPausedConditions`, run first in every reconcile on the status as it is: the
/// Progressing condition follows the pause (Unknown, RolloutPaused / RolloutResumed) unless the
/// rollout is aborted or completed, a retry after an abort shows as RolloutRetry, and the Paused
/// condition follows the pause (same reason and message for True and False). Returns the
/// conditions to set, in Argo's order; when there are any, Argo writes them and ends the
/// reconcile there.
pub fn paused_conditions(rollout: &Rollout, now: DateTime<Utc>) -> Vec<RolloutCondition> {
    paused_conditions_of(rollout.spec.paused, crate::weight::status(rollout), now)
}

/// [`paused_conditions`] of a status about to be written (`spec_paused` is the Rollout's
/// `spec.paused`).
pub fn paused_conditions_of(spec_paused: bool, st: &RolloutStatus, now: DateTime<Utc>) -> Vec<RolloutCondition> {
    let progressing = get(st, kind::PROGRESSING);
    let progressing_paused = progressing.is_some_and(|c| c.reason == reason::PAUSED);
    let paused = !st.pause_conditions.is_empty() || spec_paused;
    let abort_condition = progressing.is_some_and(|c| c.reason == reason::ABORTED);
    let mut out = Vec::new();
    if paused != progressing_paused && !abort_condition && !completed(st) {
        out.push(if paused {
            new(kind::PROGRESSING, "Unknown", reason::PAUSED, message::PAUSED, now)
        } else {
            new(kind::PROGRESSING, "Unknown", reason::RESUMED, message::RESUMED, now)
        });
    }
    if !st.abort && abort_condition {
        out.push(new(kind::PROGRESSING, "Unknown", reason::RETRY, message::RETRY, now));
    }
    let paused_true = get(st, kind::PAUSED).is_some_and(|c| c.status == "True");
    if paused != paused_true && !abort_condition {
        let status = if paused { "True" } else { "False" };
        out.push(new(kind::PAUSED, status, reason::PAUSED, message::PAUSED, now));
    }
    out
}

/// Argo's `sendStateChangeEvents`: `RolloutPaused` when the first pause condition appears,
/// `RolloutResumed` when the last goes (unless an abort cleared them).
pub fn state_change_events(old: &RolloutStatus, new: &RolloutStatus) -> Vec<Event> {
    let (was, is) = (!old.pause_conditions.is_empty(), !new.pause_conditions.is_empty());
    match (was, is, new.pause_conditions.first()) {
        (false, true, Some(first)) => {
            vec![Event::normal(reason::PAUSED, format!("{} ({})", message::PAUSED, first.reason.as_str()))]
        }
        (true, false, _) if new.aborted_at.is_none() => vec![Event::normal(reason::RESUMED, message::RESUMED)],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::RolloutBuilder;
    use aviary_api::rollout_status::{PauseCondition, PauseReason};

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
    }

    #[test]
    fn a_condition_with_the_same_status_and_reason_is_not_rewritten_even_with_another_message() {
        let mut st = RolloutStatus::default();
        assert!(set(&mut st, new(kind::PROGRESSING, "True", reason::NEW_REPLICA_SET_CREATED, "a", t(0))));
        assert!(!set(&mut st, new(kind::PROGRESSING, "True", reason::NEW_REPLICA_SET_CREATED, "b", t(5))));
        assert_eq!(get(&st, kind::PROGRESSING).unwrap().message, "a");
        assert!(set(&mut st, new(kind::PROGRESSING, "True", reason::REPLICA_SET_UPDATED, "c", t(10))));
        let c = get(&st, kind::PROGRESSING).unwrap();
        assert_eq!((c.last_transition_time, c.last_update_time), (Time(t(0)), Time(t(10))));
        assert!(set(&mut st, new(kind::AVAILABLE, "True", reason::AVAILABLE, "x", t(11))));
        assert!(set(&mut st, new(kind::PROGRESSING, "False", reason::ABORTED, "d", t(20))));
        // Replaced conditions move to the end, as Argo appends them.
        assert_eq!(st.conditions.iter().map(|c| c.type_.as_str()).collect::<Vec<_>>(), ["Available", "Progressing"]);
        assert_eq!(get(&st, kind::PROGRESSING).unwrap().last_transition_time, Time(t(20)));
    }

    #[test]
    fn completed_and_healthy_keep_their_reasons_when_false() {
        let mut ro = RolloutBuilder::canary(4).set_weight(50).build();
        ro.metadata.generation = Some(2);
        ro.status = Some(RolloutStatus {
            observed_generation: "2".into(),
            conditions: vec![new(kind::HEALTHY, "True", reason::HEALTHY, message::HEALTHY, t(0))],
            ..Default::default()
        });
        let mut st = RolloutStatus {
            current_pod_hash: "new".into(),
            stable_rs: "old".into(),
            conditions: ro.status.clone().unwrap().conditions,
            ..Default::default()
        };
        let events = calculate(
            &ro,
            &mut st,
            &Observed { revision: 2, new_rs_name: Some("app-new".into()), ..Default::default() },
            t(5),
        );
        let healthy = get(&st, kind::HEALTHY).unwrap();
        assert_eq!(
            (healthy.status.as_str(), healthy.reason.as_str(), healthy.message.as_str()),
            ("False", "RolloutHealthy", "Rollout is not healthy")
        );
        let completed = get(&st, kind::COMPLETED).unwrap();
        assert_eq!(
            (completed.status.as_str(), completed.reason.as_str(), completed.message.as_str()),
            ("False", "RolloutCompleted", "RolloutCompleted")
        );
        assert_eq!(
            events,
            [Event::normal("RolloutNotCompleted", "Rollout not completed, started update to revision 2 (new)")]
        );
    }

    #[test]
    fn healthy_is_only_set_false_when_it_was_there() {
        let ro = RolloutBuilder::canary(4).build();
        let mut st = RolloutStatus { current_pod_hash: "a".into(), ..Default::default() };
        calculate(&ro, &mut st, &Observed::default(), t(0));
        assert!(get(&st, kind::HEALTHY).is_none());
    }

    #[test]
    fn a_fresh_rollout_has_no_paused_condition_and_a_pause_adds_one_that_stays() {
        let mut ro = RolloutBuilder::canary(4).build();
        assert!(paused_conditions(&ro, t(0)).is_empty());
        ro.status = Some(RolloutStatus {
            pause_conditions: vec![PauseCondition { reason: PauseReason::CanaryPauseStep, start_time: Time(t(0)) }],
            ..Default::default()
        });
        let set_now = paused_conditions(&ro, t(1));
        assert_eq!(
            set_now.iter().map(|c| (c.type_.as_str(), c.status.as_str(), c.reason.as_str())).collect::<Vec<_>>(),
            [("Progressing", "Unknown", "RolloutPaused"), ("Paused", "True", "RolloutPaused")]
        );
        // Resumed: Progressing says so, Paused turns False with the same reason and message.
        let st = ro.status.as_mut().unwrap();
        st.pause_conditions.clear();
        st.conditions = set_now;
        let resumed = paused_conditions(&ro, t(2));
        assert_eq!(
            resumed
                .iter()
                .map(|c| (c.type_.as_str(), c.status.as_str(), c.reason.as_str(), c.message.as_str()))
                .collect::<Vec<_>>(),
            [
                ("Progressing", "Unknown", "RolloutResumed", "Rollout is resumed"),
                ("Paused", "False", "RolloutPaused", "Rollout is paused")
            ]
        );
    }

    #[test]
    fn pause_and_resume_events_follow_the_pause_conditions() {
        let paused = RolloutStatus {
            pause_conditions: vec![PauseCondition { reason: PauseReason::CanaryPauseStep, start_time: Time(t(0)) }],
            ..Default::default()
        };
        let none = RolloutStatus::default();
        assert_eq!(
            state_change_events(&none, &paused),
            [Event::normal("RolloutPaused", "Rollout is paused (CanaryPauseStep)")]
        );
        assert_eq!(state_change_events(&paused, &none), [Event::normal("RolloutResumed", "Rollout is resumed")]);
        let aborted = RolloutStatus { aborted_at: Some(Time(t(3))), ..Default::default() };
        assert!(state_change_events(&paused, &aborted).is_empty());
    }

    #[test]
    fn progress_is_any_move_towards_the_new_version() {
        let old = RolloutStatus { replicas: 10, updated_replicas: 0, available_replicas: 10, ..Default::default() };
        let mut ro = RolloutBuilder::canary(10).build();
        ro.status = Some(old.clone());
        assert!(!progressing(&ro, &old));
        let more_updated = RolloutStatus { updated_replicas: 3, replicas: 13, ..old.clone() };
        assert!(progressing(&ro, &more_updated));
        // A step index counts only when both statuses have one, as in Argo.
        let first_index = RolloutStatus { current_step_index: Some(1), ..old.clone() };
        assert!(!progressing(&ro, &first_index));
        ro.status = Some(RolloutStatus { current_step_index: Some(0), ..old.clone() });
        assert!(progressing(&ro, &first_index));
        let fewer_available = RolloutStatus { available_replicas: 9, current_step_index: Some(0), ..old };
        assert!(!progressing(&ro, &fewer_available));
    }
}

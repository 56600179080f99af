//! Rollout conditions with Argo's types, reasons and messages, and Argo's rules for updating
//! them (a condition whose status does not change keeps its `lastTransitionTime`).

use aviary_api::Time;
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
}

/// Condition and event reasons (Argo's `utils/conditions`).
pub mod reason {
    #![allow(missing_docs)]
    pub const INVALID_SPEC: &str = "InvalidSpec";
    pub const AVAILABLE: &str = "AvailableReason";
    pub const REPLICA_SET_UPDATED: &str = "ReplicaSetUpdated";
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
    pub const NOT_HEALTHY: &str = "RolloutNotHealthy";
    pub const STEP_COMPLETED: &str = "RolloutStepCompleted";
    pub const SCALING: &str = "ScalingReplicaSet";
    pub const RS_CREATE_ERROR: &str = "ReplicaSetCreateError";
    pub const RECONCILIATION_ERROR: &str = "ReconciliationError";
    pub const UPDATED: &str = "RolloutUpdated";
    pub const SERVICE_REFERENCE_ERROR: &str = "ServiceReferenceError";
}

/// The condition of `type_`, if present.
pub fn get<'a>(status: &'a RolloutStatus, type_: &str) -> Option<&'a RolloutCondition> {
    status.conditions.iter().find(|c| c.type_ == type_)
}

/// Argo's `SetRolloutCondition`: no change when status, reason and message are the same; the
/// transition time is kept while the status stays the same. Returns whether anything changed.
pub fn set(
    status: &mut RolloutStatus,
    type_: &str,
    cond_status: bool,
    reason: &str,
    message: String,
    now: DateTime<Utc>,
) -> bool {
    let s = if cond_status { "True" } else { "False" };
    set_raw(status, type_, s, reason, message, now)
}

/// [`set`] with an arbitrary status string (`Unknown` for pause bookkeeping).
pub fn set_raw(
    status: &mut RolloutStatus,
    type_: &str,
    cond_status: &str,
    reason: &str,
    message: String,
    now: DateTime<Utc>,
) -> bool {
    let current = get(status, type_);
    if current.is_some_and(|c| c.status == cond_status && c.reason == reason && c.message == message) {
        return false;
    }
    let transition = match current {
        Some(c) if c.status == cond_status => c.last_transition_time,
        _ => Time(now),
    };
    remove(status, type_);
    status.conditions.push(RolloutCondition {
        type_: type_.to_string(),
        status: cond_status.to_string(),
        last_update_time: Time(now),
        last_transition_time: transition,
        reason: reason.to_string(),
        message,
    });
    true
}

/// Removes the condition of `type_`.
pub fn remove(status: &mut RolloutStatus, type_: &str) {
    status.conditions.retain(|c| c.type_ != type_);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
    }

    #[test]
    fn same_status_keeps_the_transition_time_and_identical_conditions_are_not_rewritten() {
        let mut st = RolloutStatus::default();
        assert!(set(&mut st, kind::PROGRESSING, true, reason::NEW_REPLICA_SET_CREATED, "a".into(), t(0)));
        assert!(!set(&mut st, kind::PROGRESSING, true, reason::NEW_REPLICA_SET_CREATED, "a".into(), t(5)));
        assert_eq!(get(&st, kind::PROGRESSING).unwrap().last_update_time, Time(t(0)));
        assert!(set(&mut st, kind::PROGRESSING, true, reason::REPLICA_SET_UPDATED, "b".into(), t(10)));
        let c = get(&st, kind::PROGRESSING).unwrap();
        assert_eq!((c.last_transition_time, c.last_update_time), (Time(t(0)), Time(t(10))));
        assert!(set(&mut st, kind::PROGRESSING, false, reason::ABORTED, "c".into(), t(20)));
        assert_eq!(get(&st, kind::PROGRESSING).unwrap().last_transition_time, Time(t(20)));
        assert_eq!(st.conditions.len(), 1);
    }
}

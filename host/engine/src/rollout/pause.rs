//! What a reconcile decides about pausing and aborting, applied to the status at the end
//! (Argo's `pauseContext`): several parts of a reconcile (the analysis runs, the pause step, the
//! progress deadline, a full promotion) may add or remove a pause reason or an abort, and the
//! status is computed once from all of them.

use aviary_api::rollout_status::{PauseCondition, PauseReason, RolloutStatus};
use aviary_api::{Rollout, Time};
use chrono::{DateTime, Utc};

/// Pause and abort decisions of one reconcile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PauseContext {
    add: Vec<PauseReason>,
    remove: Vec<PauseReason>,
    clear: bool,
    add_abort: bool,
    remove_abort: bool,
    /// Why the rollout aborts (an analysis's message), for the Progressing condition.
    pub abort_message: String,
}

impl PauseContext {
    /// The decisions a reconcile starts with: a fully promoted rollout cannot be aborted, so an
    /// abort left on one is lifted before anything else looks at it.
    pub fn start(rollout: &Rollout) -> Self {
        let mut pause = Self::default();
        if let Some(status) = &rollout.status
            && !status.stable_rs.is_empty()
            && status.stable_rs == status.current_pod_hash
            && status.abort
        {
            pause.remove_abort();
        }
        pause
    }

    /// Whether an Inconclusive analysis (or a pause step) added a pause in this reconcile.
    pub fn has_add_pause(&self) -> bool {
        !self.add.is_empty()
    }

    /// Whether the rollout is (or becomes) aborted.
    pub fn is_aborted(&self, rollout: &Rollout) -> bool {
        !self.remove_abort && (self.add_abort || rollout.status.as_ref().is_some_and(|s| s.abort))
    }

    /// Aborts the update, with the message shown in the Progressing condition.
    pub fn add_abort(&mut self, message: String) {
        self.add_abort = true;
        self.abort_message = message;
    }

    /// Lifts an abort (full promotion).
    pub fn remove_abort(&mut self) {
        self.remove_abort = true;
    }

    /// Adds a pause reason.
    pub fn add_pause(&mut self, reason: PauseReason) {
        self.add.push(reason);
    }

    /// Removes a pause reason.
    pub fn remove_pause(&mut self, reason: PauseReason) {
        self.remove.push(reason);
    }

    /// Drops every pause condition.
    pub fn clear(&mut self) {
        self.clear = true;
    }

    /// Adds the decisions of another part of the reconcile (a blue-green reconcile decides its
    /// pause before its analysis runs react, and applies both at the end).
    pub fn merge(&mut self, other: PauseContext) {
        self.add.extend(other.add);
        self.remove.extend(other.remove);
        self.clear |= other.clear;
        self.add_abort |= other.add_abort;
        self.remove_abort |= other.remove_abort;
        if other.add_abort {
            self.abort_message = other.abort_message;
        }
    }

    /// Writes abort, pause conditions and controllerPause into `new`, from the rollout's previous
    /// status and this reconcile's decisions.
    pub fn apply(&self, rollout: &Rollout, new: &mut RolloutStatus, now: DateTime<Utc>) {
        let old = crate::weight::status(rollout);
        new.pause_conditions.clear();
        new.controller_pause = false;
        if self.add_abort || (!self.remove_abort && old.abort) {
            new.abort = true;
            new.aborted_at = old.aborted_at.or(Some(Time(now)));
            return;
        }
        new.abort = false;
        new.aborted_at = None;
        if self.clear {
            return;
        }
        let mut controller_pause = old.controller_pause;
        let mut conditions: Vec<PauseCondition> =
            old.pause_conditions.iter().filter(|c| !self.remove.contains(&c.reason)).cloned().collect();
        for reason in &self.add {
            if !old.pause_conditions.iter().any(|c| c.reason == *reason)
                && !conditions.iter().any(|c| c.reason == *reason)
            {
                conditions.push(PauseCondition { reason: *reason, start_time: Time(now) });
                controller_pause = true;
            }
        }
        if conditions.is_empty() {
            return;
        }
        new.controller_pause = controller_pause;
        new.pause_conditions = conditions;
    }
}

/// The pause condition of `reason` in the rollout's status.
pub fn condition(rollout: &Rollout, reason: PauseReason) -> Option<&PauseCondition> {
    rollout.status.as_ref()?.pause_conditions.iter().find(|c| c.reason == reason)
}

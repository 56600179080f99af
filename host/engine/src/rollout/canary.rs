//! The canary's status decision, in Argo's order (`rolloutCanary` from the scale on,
//! `syncRolloutStatusCanary`, `persistRolloutStatus`): the pause step, the step index, full
//! promotion, the abort, the progress deadline, the conditions, the phase and message.

use std::time::Duration;

use aviary_api::Rollout;
use aviary_api::rollout_status::{CanaryStatus, PauseReason, RolloutStatus, TrafficWeights};
use chrono::{DateTime, Utc};

use super::describe::{selector_string, step_string};
use super::pause::{PauseContext, condition};
use super::{Observed, PING_PONG_PING, PING_PONG_PONG, RolloutAction, RolloutDecision};
use crate::clock::until;
use crate::conditions::{self as cond, Event, kind, reason};
use crate::observed::ReplicaSetState;
use crate::steps::{
    PauseState, StepContext, completed_current_step, pause_step_ends_at, replica_progress_threshold_met,
};
use crate::weight::current_step;

/// Requeue this soon when the next step may be acted on at once.
const NEXT_STEP: Duration = Duration::from_millis(100);
/// Requeue this long after a timed pause ends (its end is compared strictly).
const PAUSE_SLACK: Duration = Duration::from_millis(500);
/// Requeue this long after the progress deadline passes.
const DEADLINE_SLACK: Duration = Duration::from_secs(1);

/// The state of one decision.
pub(super) struct Decider<'a> {
    pub(super) rollout: &'a Rollout,
    pub(super) o: &'a Observed,
    pub(super) pause: PauseContext,
    pub(super) now: DateTime<Utc>,
    pub(super) actions: Vec<RolloutAction>,
    /// The traffic weights this reconcile decided (`Some(None)`: no traffic routing, none);
    /// `None` keeps the previous ones (a reset decides none: Argo starts from the old status's
    /// weights and does not reach `reconcileTrafficRouting`).
    pub(super) weights: Option<Option<TrafficWeights>>,
    pub(super) events: Vec<Event>,
    requeue: Option<Duration>,
    /// See [`RolloutDecision::keep_scale_down_deadline`].
    pub(super) keep_scale_down_deadline: bool,
    /// The step-plugin stage's list, error and calls.
    pub(super) step_plugins: super::step_plugins::StepPlugins,
}

impl<'a> Decider<'a> {
    pub(super) fn new(rollout: &'a Rollout, o: &'a Observed, pause: PauseContext, now: DateTime<Utc>) -> Self {
        Self {
            rollout,
            o,
            pause,
            now,
            actions: Vec::new(),
            weights: None,
            events: Vec::new(),
            requeue: None,
            keep_scale_down_deadline: false,
            step_plugins: Default::default(),
        }
    }

    pub(super) fn status(&self) -> &'a RolloutStatus {
        crate::weight::status(self.rollout)
    }

    fn steps(&self) -> i32 {
        self.rollout.spec.canary().map_or(0, |c| i32::try_from(c.steps.len()).unwrap_or(i32::MAX))
    }

    pub(super) fn new_rs(&self) -> Option<&'a ReplicaSetState> {
        self.o.replica_sets.new_rs.as_ref()
    }

    pub(super) fn stable_rs(&self) -> Option<&'a ReplicaSetState> {
        self.o.replica_sets.stable_rs.as_ref()
    }

    /// Looks again within `d` (the earliest of all the reasons wins).
    pub(super) fn requeue_in(&mut self, d: Duration) {
        self.requeue = Some(self.requeue.map_or(d, |r| r.min(d)));
    }

    /// Argo's `reconcileCanaryPause`: reaching a pause step adds the CanaryPauseStep pause (once:
    /// after a promote, controllerPause remembers that the step was already paused). Returns
    /// whether the reconcile ends at the pause step (Argo's `stillReconciling`: the step-plugin
    /// stage is not reached).
    pub(super) fn reconcile_pause_step(&mut self) -> bool {
        let status = self.status();
        if self.rollout.spec.paused || status.promote_full {
            return false;
        }
        let (Some(step), Some(_)) = current_step(self.rollout) else { return false };
        let Some(pause) = &step.pause else { return false };
        match condition(self.rollout, PauseReason::CanaryPauseStep) {
            None if !status.controller_pause => self.pause.add_pause(PauseReason::CanaryPauseStep),
            None => {}
            Some(_) => {
                if let Some(end) = pause_step_ends_at(pause, PauseState::of(self.rollout)) {
                    self.requeue_in(until(self.now, end).saturating_add(PAUSE_SLACK));
                }
            }
        }
        true
    }

    /// The status Argo computes in `syncRolloutStatusCanary`; `reset` is Argo's
    /// `resetRolloutStatus` after a change of template or steps.
    pub(super) fn sync_status(mut self, reset: bool) -> RolloutDecision {
        let old = self.status();
        let mut s = self.base_status(old);
        let steps = self.steps();
        let (_, mut index) = current_step(self.rollout);

        if reset {
            self.pause.clear();
            self.pause.remove_abort();
            s.restarted_at = self.rollout.spec.restart_at;
            s.promote_full = false;
            s.blue_green.pre_promotion_analysis_run_status = None;
            s.blue_green.post_promotion_analysis_run_status = None;
            s.blue_green.scale_up_preview_check_point = false;
            s.canary.current_step_analysis_run_status = None;
            s.canary.current_background_analysis_run_status = None;
            s.canary.step_plugin_statuses.clear();
            index = (steps > 0).then_some(0);
            if let Some(new_rs) = self.new_rs()
                && steps > 0
                && old.stable_rs == new_rs.pod_template_hash
            {
                self.events.push(Event::normal(reason::SKIP_STEPS, "Rollback to stable ReplicaSets"));
                index = Some(steps);
            } else if let Some(new_rs) = self.new_rs()
                && steps > 0
                && self.is_rollback_within_window()
                && new_rs.spec_replicas > 0
            {
                self.events
                    .push(Event::normal(reason::SKIP_STEPS, "Rollback to active ReplicaSets within RollbackWindow"));
                index = Some(steps);
            }
            s.current_step_index = index;
            return self.finish(s);
        }

        if let Some(list) = &self.step_plugins.list {
            s.canary.step_plugin_statuses = list.clone();
        }
        if old.promote_full || self.is_rollback_within_window() {
            self.pause.clear();
            self.pause.remove_abort();
            if steps > 0 {
                index = Some(steps);
            }
        }
        if let Some(why) = self.should_full_promote(index) {
            self.promote_stable(&mut s, &why);
            return self.finish(s);
        }
        if self.pause.is_aborted(self.rollout) {
            if steps > 0 {
                index = Some(if s.stable_rs == s.current_pod_hash { steps } else { 0 });
            }
            s.current_step_index = index;
            return self.finish(s);
        }
        let step_ctx = StepContext {
            step_analysis: self.o.step_run.as_ref().map(|r| r.phase),
            experiment: self.o.experiment,
            pause: PauseState::of(self.rollout),
            weight_verified: self.weights.clone().flatten().and_then(|w| w.verified),
            plugin_complete: self.step_plugin_complete(),
        };
        if completed_current_step(self.rollout, &self.o.replica_sets, &step_ctx, self.now) {
            let (step, i) = current_step(self.rollout);
            let i = i.unwrap_or(0).saturating_add(1);
            index = Some(i);
            s.canary.current_step_analysis_run_status = None;
            let description = step.map(step_string).unwrap_or_default();
            self.events.push(Event::normal(
                reason::STEP_COMPLETED,
                format!("Rollout step {i}/{steps} completed ({description})"),
            ));
            self.pause.remove_pause(PauseReason::CanaryPauseStep);
            // The next step may be acted on at once.
            self.requeue_in(NEXT_STEP);
        }
        s.current_step_index = index;
        self.finish(s)
    }

    /// Argo's `isRollbackWithinWindow`: the new ReplicaSet is older than the stable one, and
    /// fewer than `rollbackWindow.revisions` ReplicaSets lie between them.
    pub(super) fn is_rollback_within_window(&self) -> bool {
        let (Some(new_rs), Some(stable)) = (self.new_rs(), self.stable_rs()) else { return false };
        let (new_at, stable_at) = (new_rs.created, stable.created);
        if new_at >= stable_at {
            return false;
        }
        let Some(window) = self.rollout.spec.rollback_window.as_ref().filter(|w| w.revisions > 0) else {
            return false;
        };
        let between = self
            .o
            .replica_sets
            .all()
            .filter(|r| !r.from_experiment)
            .filter(|r| r.created < stable_at && new_at < r.created)
            .count();
        i32::try_from(between).unwrap_or(i32::MAX) < window.revisions
    }

    /// Argo's `isFastRollback`: back to the stable ReplicaSet, or to one within the window.
    pub(super) fn is_fast_rollback(&self) -> bool {
        let Some(new_rs) = self.new_rs() else { return false };
        self.stable_rs().is_some()
            && (self.status().stable_rs == new_rs.pod_template_hash || self.is_rollback_within_window())
    }

    /// Argo's `shouldFullPromote` for a canary.
    fn should_full_promote(&self, index: Option<i32>) -> Option<String> {
        if self.stable_rs().is_none() {
            return Some("Initial deploy".into());
        }
        if self.pause.is_aborted(self.rollout) {
            return None;
        }
        let new_rs = self.new_rs()?;
        let desired = self.rollout.spec.replicas_or_default();
        // Fewer available than desired blocks the promotion unless the progress threshold is
        // met; more (a scale-down not yet applied) does not.
        let threshold = self.rollout.spec.canary().and_then(|c| c.replica_progress_threshold.as_ref());
        if new_rs.available < desired && !replica_progress_threshold_met(threshold, Some(new_rs), desired) {
            return None;
        }
        if self.status().promote_full {
            return Some("Full promotion requested".into());
        }
        if self.is_fast_rollback() {
            return Some(
                if self.is_rollback_within_window() { "Rollback within window" } else { "Fast rollback" }.into(),
            );
        }
        let steps = self.steps();
        (steps == 0 || index == Some(steps)).then(|| format!("Completed all {steps} canary steps"))
    }

    /// Argo's `promoteStable`: the new ReplicaSet becomes the stable one.
    pub(super) fn promote_stable(&mut self, s: &mut RolloutStatus, why: &str) {
        self.pause.clear();
        self.pause.remove_abort();
        s.blue_green.scale_up_preview_check_point = false;
        if self.rollout.spec.canary().is_some() {
            let steps = self.steps();
            s.current_step_index = (steps > 0).then_some(steps);
        }
        if s.stable_rs != s.current_pod_hash {
            // With ping-pong, the Service that carried the canary now carries the stable.
            if self.rollout.spec.canary().is_some_and(|c| c.ping_pong.is_some()) {
                s.canary.stable_ping_pong =
                    if super::stable_is_ping(self.rollout) { PING_PONG_PONG } else { PING_PONG_PING }.into();
            }
            s.stable_rs = s.current_pod_hash.clone();
            // A full promotion is done once its revision is stable. Argo clears the flag on the
            // next reconcile (its base status compares with the old stable); clearing it in the
            // same write means no status ever says Healthy with a full promotion pending.
            s.promote_full = false;
            self.events.push(Event::normal(
                reason::COMPLETED,
                format!("Rollout completed update to revision {} ({}): {why}", self.o.revision, s.current_pod_hash),
            ));
        }
        s.canary.current_step_analysis_run_status = None;
    }

    /// Argo's `calculateBaseStatus` plus what every canary status carries.
    pub(super) fn base_status(&self, old: &RolloutStatus) -> RolloutStatus {
        let rs = &self.o.replica_sets;
        let current_pod_hash =
            self.new_rs().map_or_else(|| old.current_pod_hash.clone(), |r| r.pod_template_hash.clone());
        let mut conditions = old.conditions.clone();
        conditions.retain(|c| c.type_ != kind::INVALID_SPEC);
        RolloutStatus {
            current_pod_hash: current_pod_hash.clone(),
            current_step_hash: self.o.steps_hash.clone(),
            replicas: rs.sum(|r| r.status_replicas),
            updated_replicas: self.new_rs().map_or(0, |r| r.status_replicas),
            ready_replicas: rs.sum(|r| r.ready),
            available_replicas: rs.sum(|r| r.available),
            hpa_replicas: rs.sum(|r| r.status_replicas),
            selector: self.rollout.spec.selector.as_ref().map(selector_string).unwrap_or_default(),
            stable_rs: old.stable_rs.clone(),
            collision_count: old.collision_count,
            conditions,
            restarted_at: self.o.restarted_at,
            promote_full: current_pod_hash != old.stable_rs && old.promote_full,
            current_step_index: old.current_step_index,
            canary: CanaryStatus {
                current_step_analysis_run_status: self.o.step_run.as_ref().map(|r| r.record.clone()),
                current_background_analysis_run_status: self.o.background_run.as_ref().map(|r| r.record.clone()),
                weights: self.weights.clone().unwrap_or_else(|| old.canary.weights.clone()),
                stable_ping_pong: old.canary.stable_ping_pong.clone(),
                step_plugin_statuses: old.canary.step_plugin_statuses.clone(),
                current_experiment: self.o.current_experiment.clone(),
            },
            observed_generation: self.rollout.metadata.generation.unwrap_or(0).to_string(),
            abort: old.abort,
            aborted_at: old.aborted_at,
            pause_conditions: old.pause_conditions.clone(),
            controller_pause: old.controller_pause,
            ..Default::default()
        }
    }

    /// Argo's `persistRolloutStatus`: the observed generation, the progress-deadline abort, the
    /// pause and abort fields, the conditions, the phase; and the events of the change.
    pub(super) fn finish(mut self, mut s: RolloutStatus) -> RolloutDecision {
        let old = self.status();
        s.observed_generation = self.rollout.metadata.generation.unwrap_or(0).to_string();
        self.progress_deadline_abort(&s);
        self.pause.apply(self.rollout, &mut s, self.now);
        let observed = cond::Observed {
            aborted: self.pause.is_aborted(self.rollout),
            abort_message: self.pause.abort_message.clone(),
            new_rs_name: self.new_rs().map(|r| r.name.clone()),
            revision: self.o.revision,
            indefinite_step: self.indefinite_step(),
            waiting_for_scale_down: self.waiting_for_scale_down(),
            available: self.o.replica_sets.sum(|r| r.available),
            active_saturated: self.active_saturated(&s),
        };
        let events = cond::calculate(self.rollout, &mut s, &observed, self.now);
        self.events.extend(events);
        if let Some(at) = cond::times_out_at(self.rollout, &s)
            && !observed.indefinite_step
        {
            self.requeue_in(until(self.now, at).saturating_add(DEADLINE_SLACK));
        }
        let status = super::with_phase(self.rollout, s);
        self.events.extend(cond::state_change_events(old, &status));
        RolloutDecision {
            actions: self.actions,
            status,
            events: self.events,
            requeue_after: self.requeue,
            keep_scale_down_deadline: self.keep_scale_down_deadline,
            step_plugin_calls: self.step_plugins.calls,
        }
    }

    /// Blue-green: the ReplicaSet the active Service selects is saturated (Argo's `IsSaturated`
    /// of the ReplicaSet whose hash is `blueGreen.activeSelector`).
    fn active_saturated(&self, s: &RolloutStatus) -> bool {
        let active = &s.blue_green.active_selector;
        !active.is_empty()
            && self
                .o
                .replica_sets
                .all()
                .find(|r| r.pod_template_hash == *active)
                .is_some_and(|r| super::bluegreen::saturated(self.rollout, r))
    }

    /// Argo's `evaluateProgressDeadlineAbort`: with `progressDeadlineAbort`, an update that made
    /// no progress within the deadline is aborted.
    fn progress_deadline_abort(&mut self, s: &RolloutStatus) {
        if !self.rollout.spec.progress_deadline_abort || self.pause.is_aborted(self.rollout) || cond::completed(s) {
            return;
        }
        if cond::progressing(self.rollout, s) || self.indefinite_step() || self.waiting_for_scale_down() {
            return;
        }
        if !cond::timed_out(self.rollout, self.status(), self.now) {
            return;
        }
        let message = match self.new_rs() {
            Some(rs) => format!("ReplicaSet {:?} has timed out progressing.", rs.name),
            None => format!(
                "Rollout {:?} has timed out progressing.",
                self.rollout.metadata.name.clone().unwrap_or_default()
            ),
        };
        self.events.push(Event::warning(reason::ABORTED, message.clone()));
        self.pause.add_abort(message);
    }

    /// Argo's `isIndefiniteStep`: a pause, analysis or experiment step, or a Paused condition
    /// set, may take as long as it takes.
    fn indefinite_step(&self) -> bool {
        current_step(self.rollout)
            .0
            .is_some_and(|s| s.analysis.is_some() || s.experiment.is_some() || s.pause.is_some())
            || cond::get(self.status(), kind::PAUSED).is_some_and(|c| c.status == "True")
    }

    /// Argo's `isWaitingForReplicaSetScaleDown`: an old ReplicaSet still has a scale-down deadline.
    fn waiting_for_scale_down(&self) -> bool {
        self.o.replica_sets.older.iter().any(|r| r.scale_down_deadline.is_some())
    }
}

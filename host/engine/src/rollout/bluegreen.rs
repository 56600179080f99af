//! One blue-green reconcile, in Argo's order (`rolloutBlueGreen`): the preview Service follows
//! the new ReplicaSet; a new template resets the status; the ReplicaSets are scaled (the stable
//! at full size, the new one at its preview or full size, the older ones down after their
//! scale-down delay); the `BlueGreenPause` is added or lifted; the active Service is switched
//! once the new ReplicaSet is saturated and promoted; then the status (`syncRolloutStatusBlueGreen`,
//! `persistRolloutStatus`).
//!
//! The Services are observed once, before the decision; a switch decided here is what the rest
//! of the reconcile sees, as Argo's in-memory Service objects are.

use std::time::Duration;

use aviary_api::rollout_status::{PauseReason, RolloutStatus};
use aviary_api::{AnalysisPhase, Rollout};
use chrono::{DateTime, Utc};

use super::canary::Decider;
use super::describe::selector_string;
use super::pause::{PauseContext, condition};
use super::{BlueGreenServices, Observed, RolloutAction, RolloutDecision, ServiceState};
use crate::bluegreen::new_rs_replicas;
use crate::clock::{after_seconds, until};
use crate::observed::ReplicaSetState;
use crate::reconcile_order::{AbortHold, ReplicaSetRole, ScaleAction, abort_hold, deadlines_to_remove, halt_reason};

/// Argo's `DefaultScaleDownDelaySeconds` and `DefaultAbortScaleDownDelaySeconds`.
const DEFAULT_DELAY_SECONDS: i32 = 30;

/// Argo's `CheckPodSpecChange`: the new ReplicaSet is not the template the status records.
pub(super) fn pod_spec_changed(rollout: &Rollout, o: &Observed) -> bool {
    let current = &crate::weight::status(rollout).current_pod_hash;
    !current.is_empty() && o.replica_sets.new_rs.as_ref().is_some_and(|r| r.pod_template_hash != *current)
}

/// Argo's `annotations.IsSaturated`: the ReplicaSet runs the Rollout's full size, was last scaled
/// for it, and every pod is available.
pub fn saturated(rollout: &Rollout, rs: &ReplicaSetState) -> bool {
    let n = rollout.spec.replicas_or_default();
    rs.spec_replicas == n && rs.desired_replicas == Some(n) && rs.available == n
}

/// Decides one blue-green reconcile (see the module's documentation).
///
/// `runs` holds what the analysis runs decided (an Inconclusive pause, an abort). Argo reconciles
/// the runs after the ReplicaSets, the pause and the active Service, so those decide from the
/// reconcile's start ([`PauseContext::start`]) and the runs' decisions join for the status.
pub(super) fn reconcile(rollout: &Rollout, o: &Observed, runs: PauseContext, now: DateTime<Utc>) -> RolloutDecision {
    let start = PauseContext::start(rollout);
    let mut d = BlueGreen { d: Decider::new(rollout, o, start, now), services: o.services.clone() };
    let halted = halt_reason(rollout).is_some();
    if !halted && let Some(new_hash) = d.new_hash() {
        d.switch(Which::Preview, &new_hash);
    }
    if pod_spec_changed(rollout, o) {
        d.d.pause.merge(runs);
        return d.sync_status(true);
    }
    d.replica_sets();
    d.pause();
    d.active_service(halted);
    d.d.pause.merge(runs);
    d.sync_status(false)
}

#[derive(Clone, Copy)]
enum Which {
    Active,
    Preview,
}

struct BlueGreen<'a> {
    d: Decider<'a>,
    /// The Services as switched so far in this reconcile.
    services: BlueGreenServices,
}

impl<'a> BlueGreen<'a> {
    fn rollout(&self) -> &'a Rollout {
        self.d.rollout
    }

    fn status(&self) -> &'a RolloutStatus {
        self.d.status()
    }

    fn new_hash(&self) -> Option<String> {
        self.d.new_rs().map(|r| r.pod_template_hash.clone()).filter(|h| !h.is_empty())
    }

    fn service(&self, which: Which) -> Option<&ServiceState> {
        match which {
            Which::Active => self.services.active.as_ref(),
            Which::Preview => self.services.preview.as_ref(),
        }
    }

    fn selector(&self, which: Which) -> String {
        self.service(which).and_then(|s| s.selector.clone()).unwrap_or_default()
    }

    /// Argo's `switchServiceSelector`: nothing when the Service already selects `to` and is
    /// managed; otherwise the selector (and the managed-by annotation) is written.
    fn switch(&mut self, which: Which, to: &str) {
        let svc = match which {
            Which::Active => self.services.active.as_mut(),
            Which::Preview => self.services.preview.as_mut(),
        };
        let Some(svc) = svc else { return };
        if svc.selector.as_deref() == Some(to) && svc.managed {
            return;
        }
        self.d.actions.push(RolloutAction::SwitchService {
            service: svc.name.clone(),
            from: svc.selector.clone().unwrap_or_default(),
            to: to.to_string(),
            adopt: !svc.managed,
        });
        svc.selector = Some(to.to_string());
        svc.managed = true;
    }

    fn scale(&mut self, which: ReplicaSetRole, from: i32, to: i32) {
        self.d.actions.push(RolloutAction::Scale(ScaleAction { which, from, to }));
    }

    fn deadline(&mut self, which: ReplicaSetRole, at: Option<DateTime<Utc>>) {
        self.d.actions.push(RolloutAction::ScaleDownDeadline { which, at });
    }

    /// Whether the rollout was aborted before this reconcile's analysis (Argo scales the
    /// ReplicaSets before it reconciles the runs; they join later, see [`reconcile`]).
    fn aborted_before_runs(&self) -> bool {
        self.d.pause.is_aborted(self.rollout())
    }

    /// Argo's `GetAbortScaleDownDelaySecondsOrDefault` for blue-green: `None` when set to 0.
    fn abort_delay(&self) -> Option<i32> {
        let bg = self.rollout().spec.blue_green()?;
        match bg.abort_scale_down_delay_seconds {
            Some(0) => None,
            Some(s) => Some(s),
            None => Some(DEFAULT_DELAY_SECONDS),
        }
    }

    /// Argo's `shouldDelayScaleDownOnAbort`: an aborted update keeps the preview up for
    /// `abortScaleDownDelaySeconds`.
    fn delay_scale_down_on_abort(&self) -> bool {
        self.aborted_before_runs() && self.d.stable_rs().is_some() && self.abort_delay().is_some()
    }

    /// Argo's `ReadyForPause`: the new ReplicaSet has its size and every pod available.
    fn ready_for_pause(&self) -> bool {
        let want = new_rs_replicas(self.rollout(), &self.d.o.replica_sets);
        self.d.new_rs().is_some_and(|r| r.spec_replicas == want && r.available == want)
    }

    /// Argo's `reconcileBlueGreenReplicaSets`.
    fn replica_sets(&mut self) {
        let delay_on_abort = self.delay_scale_down_on_abort();
        self.d.keep_scale_down_deadline = delay_on_abort;
        let (new_rs, stable) = (self.d.new_rs(), self.d.stable_rs());
        let mut new_deadline = new_rs.and_then(|r| r.scale_down_deadline);
        for which in deadlines_to_remove(&self.d.o.replica_sets, delay_on_abort) {
            if which == ReplicaSetRole::Canary {
                new_deadline = None;
            }
            self.deadline(which, None);
        }
        let n = self.rollout().spec.replicas_or_default();
        if let Some(s) = stable {
            self.scale(ReplicaSetRole::Stable, s.spec_replicas, n);
        }
        if let Some(new_rs) = new_rs {
            self.new_replica_set(new_rs, new_deadline, delay_on_abort);
        }
        self.older_replica_sets();
    }

    /// Argo's `reconcileNewReplicaSet` for blue-green.
    fn new_replica_set(&mut self, rs: &ReplicaSetState, deadline: Option<DateTime<Utc>>, delay_on_abort: bool) {
        let mut count = new_rs_replicas(self.rollout(), &self.d.o.replica_sets);
        if delay_on_abort && let Some(delay) = self.abort_delay() {
            let n = self.rollout().spec.replicas_or_default();
            let stable = self.d.stable_rs().map(|s| s.available);
            match abort_hold(deadline, stable, n, delay, self.d.now) {
                AbortHold::Until(at) => {
                    // Not yet: only the desired-replicas annotation follows the Rollout.
                    self.d.requeue_in(until(self.d.now, at));
                    self.scale(ReplicaSetRole::Canary, rs.spec_replicas, rs.spec_replicas);
                    return;
                }
                AbortHold::Over => count = 0,
                AbortHold::Start(at) => {
                    self.scale(ReplicaSetRole::Canary, rs.spec_replicas, rs.spec_replicas);
                    if let Some(at) = at {
                        self.deadline(ReplicaSetRole::Canary, Some(at));
                        self.d.requeue_in(until(self.d.now, at));
                    }
                    return;
                }
            }
        }
        self.scale(ReplicaSetRole::Canary, rs.spec_replicas, count);
    }

    /// Argo's `isReplicaSetReferenced`: a ReplicaSet the status or a Service still points at is
    /// never scaled down.
    fn referenced(&self, rs: &ReplicaSetState) -> bool {
        let hash = rs.pod_template_hash.as_str();
        if hash.is_empty() {
            return false;
        }
        let st = self.status();
        [&st.stable_rs, &st.current_pod_hash, &st.blue_green.active_selector, &st.blue_green.preview_selector]
            .iter()
            .any(|r| r.as_str() == hash)
            || [Which::Active, Which::Preview]
                .iter()
                .any(|w| self.service(*w).and_then(|s| s.selector.as_deref()) == Some(hash))
    }

    /// Argo's `scaleDownOldReplicaSetsForBlueGreen` with `scaleDownDelayHelper`: the older
    /// ReplicaSets that still run pods get a scale-down deadline (`scaleDownDelaySeconds`, at
    /// most `scaleDownDelayRevisionLimit` of them, newest first) and go to zero once it passes;
    /// one beyond the limit goes at once.
    fn older_replica_sets(&mut self) {
        let older = &self.d.o.replica_sets.older;
        if older.iter().map(|r| r.spec_replicas.max(0)).sum::<i32>() == 0 {
            return;
        }
        if condition(self.rollout(), PauseReason::InconclusiveAnalysisRun).is_some() {
            return;
        }
        if !self.post_promotion_allows_scale_down() {
            return;
        }
        let Some(bg) = self.rollout().spec.blue_green() else { return };
        let limit = bg.scale_down_delay_revision_limit.unwrap_or(i32::MAX);
        let delay = bg.scale_down_delay_seconds.unwrap_or(DEFAULT_DELAY_SECONDS);
        let n = self.rollout().spec.replicas_or_default();
        let mut order: Vec<(usize, &ReplicaSetState)> =
            older.iter().enumerate().filter(|(_, r)| r.spec_replicas > 0).collect();
        order.sort_by_key(|(_, r)| std::cmp::Reverse(r.revision));
        let mut annotated = 0i32;
        for (i, rs) in order {
            if self.referenced(rs) {
                continue;
            }
            let mut desired = 0;
            match rs.scale_down_deadline {
                None => {
                    if annotated < limit {
                        annotated = annotated.saturating_add(1);
                        desired = rs.spec_replicas;
                        if delay > 0 {
                            let at = after_seconds(self.d.now, i64::from(delay));
                            self.deadline(ReplicaSetRole::Older(i), Some(at));
                        }
                        self.d.requeue_in(Duration::from_secs(u64::try_from(delay.max(0)).unwrap_or(0)));
                    }
                }
                Some(at) => {
                    annotated = annotated.saturating_add(1);
                    if annotated <= limit && at > self.d.now {
                        self.d.requeue_in(until(self.d.now, at));
                        desired = n;
                    }
                }
            }
            if rs.spec_replicas != desired {
                self.scale(ReplicaSetRole::Older(i), rs.spec_replicas, desired);
            }
        }
    }

    /// With a post-promotion analysis and no `scaleDownDelaySeconds`, the old ReplicaSets wait
    /// for it to succeed (Argo's `scaleDownOldReplicaSetsForBlueGreen`).
    fn post_promotion_allows_scale_down(&self) -> bool {
        let Some(bg) = self.rollout().spec.blue_green() else { return true };
        if bg.post_promotion_analysis.is_none() || bg.scale_down_delay_seconds.is_some() {
            return true;
        }
        if self.skip_post_promotion_analysis() {
            return true;
        }
        self.d.o.post_promotion_run.as_ref().is_some_and(|r| r.phase == AnalysisPhase::Successful)
    }

    /// Argo's `skipPostPromotionAnalysisRun`.
    fn skip_post_promotion_analysis(&self) -> bool {
        let st = self.status();
        let Some(new_rs) = self.d.new_rs() else { return true };
        let hash = &new_rs.pod_template_hash;
        if st.stable_rs == *hash || st.blue_green.active_selector != *hash || hash.is_empty() {
            return true;
        }
        if self.d.o.post_promotion_run.is_some() {
            return false;
        }
        !saturated(self.rollout(), new_rs)
    }

    /// Argo's `completedPrePromotionAnalysis`.
    fn completed_pre_promotion_analysis(&self) -> bool {
        let configured = self.rollout().spec.blue_green().is_some_and(|b| b.pre_promotion_analysis.is_some());
        !configured || self.d.o.pre_promotion_run.as_ref().is_some_and(|r| r.phase == AnalysisPhase::Successful)
    }

    /// Argo's `CompletedBlueGreenPause`: resumed by hand, or `autoPromotionSeconds` passed.
    fn completed_pause(&self) -> bool {
        let rollout = self.rollout();
        let st = self.status();
        let Some(bg) = rollout.spec.blue_green() else { return true };
        let pause = condition(rollout, PauseReason::BlueGreenPause);
        if self.d.pause.has_add_pause() {
            return false;
        }
        if st.blue_green.scale_up_preview_check_point {
            return true;
        }
        if bg.auto_promotion_enabled.unwrap_or(true) {
            return match (bg.auto_promotion_seconds, pause) {
                (0, _) => true,
                (secs, Some(p)) => self.d.now > after_seconds(p.start_time.0, i64::from(secs)),
                (_, None) => false,
            };
        }
        st.controller_pause && pause.is_none()
    }

    /// Argo's `isBlueGreenFastTracked`: no pause before a fast rollback, a full promotion, a
    /// first switch of the active Service, or when it already selects the new ReplicaSet.
    fn fast_tracked(&self) -> bool {
        if self.d.is_fast_rollback() || self.status().promote_full {
            return true;
        }
        let active = self.service(Which::Active).and_then(|s| s.selector.clone());
        match active {
            None => true,
            Some(a) => Some(a) == self.new_hash(),
        }
    }

    /// Argo's `reconcileBlueGreenPause`.
    fn pause(&mut self) {
        let rollout = self.rollout();
        let st = self.status();
        if st.abort || !self.ready_for_pause() || halt_reason(rollout).is_some() {
            return;
        }
        let Some(bg) = rollout.spec.blue_green() else { return };
        let needs_controller_pause = bg.auto_promotion_enabled == Some(false) || bg.auto_promotion_seconds > 0;
        if self.fast_tracked()
            || Some(self.selector(Which::Active)) == self.new_hash()
            || st.blue_green.scale_up_preview_check_point
            || !needs_controller_pause
        {
            self.d.pause.remove_pause(PauseReason::BlueGreenPause);
            return;
        }
        if !self.completed_pre_promotion_analysis() {
            return;
        }
        match condition(rollout, PauseReason::BlueGreenPause) {
            Some(p) if !self.completed_pause() && bg.auto_promotion_seconds > 0 => {
                let at = after_seconds(p.start_time.0, i64::from(bg.auto_promotion_seconds));
                // The start time is recorded to the second, so the deadline is never late.
                self.d.requeue_in(until(self.d.now, at).saturating_add(Duration::from_millis(500)));
            }
            Some(_) if !self.completed_pause() => {}
            Some(_) => self.d.pause.remove_pause(PauseReason::BlueGreenPause),
            None if !st.controller_pause => self.d.pause.add_pause(PauseReason::BlueGreenPause),
            None => {}
        }
    }

    /// Argo's `reconcileActiveService`: once the new ReplicaSet is saturated, the active Service
    /// moves to it when fast-tracked or promoted (pause completed, pre-promotion analysis
    /// passed); an aborted update keeps it on (or returns it to) the stable ReplicaSet.
    fn active_service(&mut self, halted: bool) {
        if halted || self.services.active.is_none() || !self.ready_for_pause() {
            return;
        }
        let Some(new_rs) = self.d.new_rs() else { return };
        if !saturated(self.rollout(), new_rs) {
            return;
        }
        let mut to = self.selector(Which::Active);
        if self.fast_tracked() || (self.completed_pause() && self.completed_pre_promotion_analysis()) {
            to = new_rs.pod_template_hash.clone();
        }
        if self.status().abort {
            to = self.status().stable_rs.clone();
        }
        self.switch(Which::Active, &to);
    }

    /// Argo's `shouldFullPromote` for blue-green.
    fn should_full_promote(&self, s: &RolloutStatus) -> Option<String> {
        if self.d.stable_rs().is_none() || s.blue_green.active_selector.is_empty() {
            return Some("Initial deploy".into());
        }
        if s.blue_green.active_selector != s.current_pod_hash {
            return None;
        }
        if self.status().promote_full {
            return Some("Full promotion requested".into());
        }
        if self.d.is_fast_rollback() {
            return Some(
                if self.d.is_rollback_within_window() { "Rollback within window" } else { "Fast rollback" }.into(),
            );
        }
        if self.d.pause.is_aborted(self.rollout()) {
            return None;
        }
        let post = self.rollout().spec.blue_green().is_some_and(|b| b.post_promotion_analysis.is_some());
        if post && self.d.o.post_promotion_run.as_ref().is_none_or(|r| r.phase != AnalysisPhase::Successful) {
            return None;
        }
        Some("Completed blue-green update".into())
    }

    /// Argo's `calculateScaleUpPreviewCheckPoint`: a one-way trip-wire, set once the preview runs
    /// `previewReplicaCount` available pods after the pause and the pre-promotion analysis.
    fn scale_up_preview_check_point(&self) -> bool {
        let Some(preview) = self.rollout().spec.blue_green().and_then(|b| b.preview_replica_count) else {
            return false;
        };
        if self.status().blue_green.scale_up_preview_check_point {
            return true;
        }
        if !self.completed_pre_promotion_analysis() || !self.completed_pause() {
            return false;
        }
        self.d.new_rs().is_some_and(|r| r.available == preview)
    }

    /// Argo's `syncRolloutStatusBlueGreen`; `reset` is its `resetRolloutStatus` after a change
    /// of template.
    fn sync_status(mut self, reset: bool) -> RolloutDecision {
        let old = self.status();
        let mut s = self.d.base_status(old);
        s.stable_rs = old.stable_rs.clone();
        // Argo starts from an empty status: no step index, the blue-green fields set below.
        s.current_step_index = None;
        s.blue_green = Default::default();
        s.blue_green.pre_promotion_analysis_run_status = self.d.o.pre_promotion_run.as_ref().map(|r| r.record.clone());
        s.blue_green.post_promotion_analysis_run_status =
            self.d.o.post_promotion_run.as_ref().map(|r| r.record.clone());
        if reset {
            self.d.pause.clear();
            self.d.pause.remove_abort();
            s.restarted_at = self.rollout().spec.restart_at;
            s.promote_full = false;
            s.blue_green.pre_promotion_analysis_run_status = None;
            s.blue_green.post_promotion_analysis_run_status = None;
            s.blue_green.scale_up_preview_check_point = false;
        }
        if old.promote_full || self.d.is_rollback_within_window() {
            self.d.pause.clear();
            self.d.pause.remove_abort();
        }
        s.blue_green.preview_selector = self.selector(Which::Preview);
        s.blue_green.active_selector = self.selector(Which::Active);
        match self.should_full_promote(&s) {
            Some(why) => self.d.promote_stable(&mut s, &why),
            None => s.blue_green.scale_up_preview_check_point = self.scale_up_preview_check_point(),
        }
        let active = &s.blue_green.active_selector;
        let rs = &self.d.o.replica_sets;
        match (!active.is_empty()).then(|| rs.all().find(|r| r.pod_template_hash == *active)).flatten() {
            Some(a) => {
                s.hpa_replicas = a.status_replicas;
                let mut selector = self.rollout().spec.selector.clone().unwrap_or_default();
                selector
                    .match_labels
                    .get_or_insert_with(Default::default)
                    .insert(aviary_api::rollout::POD_TEMPLATE_HASH_LABEL.into(), a.pod_template_hash.clone());
                s.selector = selector_string(&selector);
                s.available_replicas = a.available;
                s.ready_replicas = a.ready;
            }
            None => {
                s.hpa_replicas = rs.sum(|r| r.status_replicas);
                s.available_replicas = rs.sum(|r| r.available);
            }
        }
        self.d.finish(s)
    }
}

#[cfg(test)]
mod tests;

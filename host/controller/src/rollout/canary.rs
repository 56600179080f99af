//! One reconcile of a canary Rollout, in Argo's order (`rolloutCanary`): ReplicaSets found or
//! created, pod restarts, revision history, Services, AnalysisRuns (an Inconclusive pause stops
//! here), one ReplicaSet scaled (and stop), the pause step, and the status. Every number comes
//! from `aviary-engine`; this module only observes, applies and records.

use std::sync::Arc;
use std::time::Duration;

use aviary_api::rollout_status::{CanaryStatus, PauseReason, RolloutStatus};
use aviary_api::{Rollout, Time};
use aviary_engine::phase::rollout_phase;
use aviary_engine::reconcile_order::{ReplicaSetRole, canary_scaling};
use aviary_engine::steps::{
    PauseState, StepContext, completed_current_step, pause_step_ends_at, replica_progress_threshold_met,
};
use aviary_engine::weight::current_step;
use chrono::{DateTime, Utc};
use k8s_openapi::api::apps::v1::ReplicaSet;
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};

use super::analysis::{self, CurrentRuns, run_status};
use super::conditions::{self as cond, kind, reason};
use super::ephemeral;
use super::pause::{PauseContext, condition};
use super::replicasets::{self, Created, Roles, hash};
use super::restart::{self, Restart};
use super::services;
use crate::context::Context;
use crate::error::Error;
use crate::status_write::Write;

/// The state of one canary reconcile.
pub struct CanarySync<'a> {
    ctx: &'a Context,
    rollout: Arc<Rollout>,
    now: DateTime<Utc>,
    roles: Roles,
    pause: PauseContext,
    runs: CurrentRuns,
    created: Option<String>,
    restarted_at: Option<Time>,
    requeue: Option<Duration>,
    /// `status.currentStepHash` of the steps as they are now (computed once per reconcile).
    steps_hash: String,
    /// The status is written whole (Argo's `UpdateStatus` where it creates a ReplicaSet or
    /// records its first Progressing condition), not patched.
    full_write: bool,
}

impl<'a> CanarySync<'a> {
    /// Starts a reconcile of `rollout` at `now`.
    pub fn new(ctx: &'a Context, rollout: Arc<Rollout>, now: DateTime<Utc>) -> Self {
        let restarted_at = rollout.status.as_ref().and_then(|s| s.restarted_at);
        Self {
            ctx,
            rollout,
            now,
            roles: Roles::default(),
            pause: PauseContext::default(),
            runs: CurrentRuns::default(),
            created: None,
            restarted_at,
            requeue: None,
            steps_hash: String::new(),
            full_write: false,
        }
    }

    fn status(&self) -> RolloutStatus {
        self.rollout.status.clone().unwrap_or_default()
    }

    /// Continues with the Rollout as the API server returned it from a write of its metadata or
    /// spec (new resourceVersion and generation), keeping the status this reconcile works on.
    fn adopt(&mut self, written: Rollout) {
        let mut next = written;
        next.status = self.rollout.status.clone();
        self.rollout = Arc::new(next);
    }

    /// Changes the status this reconcile starts from, as Argo's whole-status writes on the way
    /// do (the new ReplicaSet, a first Progressing condition); the final write carries them.
    fn update_status(&mut self, change: impl FnOnce(&mut RolloutStatus)) {
        let mut next = (*self.rollout).clone();
        change(next.status.get_or_insert_with(Default::default));
        self.rollout = Arc::new(next);
        self.full_write = true;
    }

    /// Argo's `getAllReplicaSetsAndSyncRevision` for an existing new ReplicaSet: its revision and
    /// annotations, then the Rollout's revision, and a first Progressing condition when there is
    /// none.
    async fn sync_revision(&mut self) -> Result<(), Error> {
        if let Some(written) = replicasets::sync_revision(self.ctx, &self.rollout, &self.roles).await? {
            self.adopt(written);
        }
        if let Some(rs) = self.roles.new_rs.clone()
            && cond::get(&self.status(), kind::PROGRESSING).is_none()
        {
            let condition = cond::new(
                kind::PROGRESSING,
                "True",
                reason::FOUND_NEW_REPLICA_SET,
                format!("Found new replica set {:?}", rs.name_any()),
                self.now,
            );
            self.update_status(|st| {
                cond::set(st, condition);
            });
        }
        Ok(())
    }

    /// Argo's `patchCondition`: the conditions set, with the observed generation and the phase.
    async fn patch_conditions(
        self,
        updates: Vec<aviary_api::rollout_status::RolloutCondition>,
    ) -> Result<Action, Error> {
        let mut next = (*self.rollout).clone();
        let st = next.status.get_or_insert_with(Default::default);
        for c in updates {
            cond::set(st, c);
        }
        st.observed_generation = self.rollout.metadata.generation.unwrap_or(0).to_string();
        let pm = rollout_phase(&next);
        if let Some(st) = next.status.as_mut() {
            st.phase = Some(pm.phase);
            st.message = pm.message;
        }
        self.write(&next, Write::Patch).await?;
        Ok(Action::requeue(Duration::from_millis(100)))
    }

    fn steps(&self) -> i32 {
        self.rollout.spec.canary().map_or(0, |c| c.steps.len() as i32)
    }

    fn requeue_in(&mut self, d: Duration) {
        self.requeue = Some(self.requeue.map_or(d, |r| r.min(d)));
    }

    /// Runs the reconcile (Argo's `newRolloutContext`, `rolloutContext.reconcile` and
    /// `rolloutCanary`).
    pub async fn run(mut self) -> Result<Action, Error> {
        let owned: Vec<Arc<ReplicaSet>> = self
            .ctx
            .owned_replica_sets(&self.rollout)
            .into_iter()
            .filter(|r| r.metadata.deletion_timestamp.is_none())
            .collect();
        let new_rs = replicasets::find_new(self.ctx, &self.rollout, &owned).await?;
        let status = self.status();
        // The ReplicaSet of a new template is created first, and the reconcile ends there (Argo
        // creates it while building its rollout context, and lets the next reconcile act).
        let Some(new_rs) = new_rs else { return self.create_new_replica_set(&owned).await };
        if !status.stable_rs.is_empty() && status.stable_rs == status.current_pod_hash && status.abort {
            // A fully promoted rollout cannot be aborted.
            self.pause.remove_abort();
        }
        // The Paused and Progressing conditions follow a pause first, in a write of their own.
        let updates = cond::paused_conditions(&self.rollout, self.now);
        if !updates.is_empty() {
            return self.patch_conditions(updates).await;
        }
        let steps_hash = step_hash(&self.rollout)?;
        self.steps_hash = steps_hash.clone();
        self.roles = Roles::new(owned, Some(new_rs.clone()), &status.stable_rs);
        self.sync_revision().await?;
        // Argo's `PodTemplateOrStepsChanged`: only record the change (the status is reset), and
        // act on the next reconcile.
        let steps_changed = status.current_step_hash.is_empty() || status.current_step_hash != steps_hash;
        let template_changed = !status.current_pod_hash.is_empty() && status.current_pod_hash != hash(&new_rs);
        if steps_changed || template_changed {
            return self.sync_status(true).await;
        }

        match restart::reconcile(self.ctx, &self.rollout, &self.roles, self.now).await? {
            Restart::Done(at) => self.restarted_at = at,
            Restart::Evicted => return Ok(Action::requeue(restart::RECHECK)),
            Restart::Waiting => self.requeue_in(restart::RECHECK),
        }

        ephemeral::reconcile(self.ctx, &self.rollout, &self.roles, &status.stable_rs).await?;

        let deleted = replicasets::cleanup_history(self.ctx, &self.rollout, &self.roles.older).await?;
        if !deleted.is_empty() {
            tracing::info!(?deleted, "deleted old ReplicaSets beyond revisionHistoryLimit");
        }

        services::reconcile(self.ctx, &self.rollout, self.roles.stable_rs.as_deref(), self.roles.new_rs.as_deref())
            .await?;

        // Argo's `shouldCancelCurrentAnalysis`.
        let fully_promoted = !status.stable_rs.is_empty() && status.stable_rs == status.current_pod_hash;
        let skip_analysis = fully_promoted
            || self.pause.is_aborted(&self.rollout)
            || status.promote_full
            || self.is_fast_rollback()
            || status.stable_rs.is_empty();
        self.runs = analysis::reconcile(self.ctx, &self.rollout, &self.roles, &mut self.pause, skip_analysis).await?;
        if self.pause.has_add_pause() {
            return self.sync_status(false).await;
        }

        if self.scale().await? {
            return self.sync_status(false).await;
        }
        self.reconcile_pause_step();
        self.sync_status(false).await
    }

    /// Argo's `createDesiredReplicaSet`: the ReplicaSet of the current template, with no pods yet,
    /// the Rollout's revision, and the Progressing condition recording it (the whole status
    /// written); the next reconcile acts on it.
    async fn create_new_replica_set(mut self, owned: &[Arc<ReplicaSet>]) -> Result<Action, Error> {
        let status = self.status();
        let stable_exists = !status.stable_rs.is_empty() && owned.iter().any(|r| hash(r) == status.stable_rs);
        // The canary's metadata while a stable one runs; with none, the stable's follows from
        // the next reconcile's sync (ephemeral.rs), as in Argo.
        let canary = self.rollout.spec.canary();
        let ephemeral = if stable_exists { canary.and_then(|c| c.canary_metadata.as_ref()) } else { None };
        let max_old = owned.iter().map(|r| replicasets::revision(&r.metadata)).max().unwrap_or(0);
        let rev = max_old.saturating_add(1);
        let rs = match replicasets::create(self.ctx, &self.rollout, rev, ephemeral).await? {
            Created::ReplicaSet(rs) => rs,
            Created::Collision => return self.bump_collision_count().await,
        };
        if let Some(written) = replicasets::set_rollout_revision(self.ctx, &self.rollout, rev).await? {
            self.adopt(written);
        }
        let condition = cond::new(
            kind::PROGRESSING,
            "True",
            reason::NEW_REPLICA_SET_CREATED,
            format!("Created new replica set {:?}", rs.name_any()),
            self.now,
        );
        let mut next = (*self.rollout).clone();
        cond::set(next.status.get_or_insert_with(Default::default), condition);
        self.write(&next, Write::Replace).await?;
        Ok(Action::requeue(Duration::from_millis(100)))
    }

    /// Applies the engine's scaling decision; true when a ReplicaSet changed size.
    async fn scale(&mut self) -> Result<bool, Error> {
        let decision = canary_scaling(&self.rollout, &self.roles.observed(), None, self.now);
        if let Some(at) = decision.requeue_at {
            self.requeue_in(at.signed_duration_since(self.now).to_std().unwrap_or_default());
        }
        let mut scaled = false;
        for action in decision.actions {
            let rs = match action.which {
                ReplicaSetRole::Stable => self.roles.stable_rs.clone(),
                ReplicaSetRole::Canary => self.roles.new_rs.clone(),
                ReplicaSetRole::Older(i) => self.roles.older.get(i).cloned(),
            };
            if let Some(rs) = rs {
                scaled |= replicasets::scale(self.ctx, &self.rollout, &rs, action.to).await?;
            }
        }
        Ok(scaled)
    }

    /// Argo's `reconcileCanaryPause`: reaching a pause step adds the CanaryPauseStep pause (once:
    /// after a promote, controllerPause remembers that the step was already paused).
    fn reconcile_pause_step(&mut self) {
        let status = self.status();
        if self.rollout.spec.paused || status.promote_full {
            return;
        }
        let (Some(step), Some(_)) = current_step(&self.rollout) else { return };
        let Some(pause) = &step.pause else { return };
        match condition(&self.rollout, PauseReason::CanaryPauseStep) {
            None if !status.controller_pause => self.pause.add_pause(PauseReason::CanaryPauseStep),
            None => {}
            Some(_) => {
                if let Some(end) = pause_step_ends_at(pause, PauseState::of(&self.rollout)) {
                    let wait = end
                        .signed_duration_since(self.now)
                        .to_std()
                        .unwrap_or_default()
                        .saturating_add(Duration::from_millis(500));
                    self.requeue_in(wait);
                }
            }
        }
    }

    async fn bump_collision_count(&self) -> Result<Action, Error> {
        let mut rollout = (*self.rollout).clone();
        let status = rollout.status.get_or_insert_with(Default::default);
        status.collision_count = Some(status.collision_count.unwrap_or(0).saturating_add(1));
        tracing::warn!(collision_count = ?status.collision_count, "hash collision with an existing ReplicaSet; bumping collisionCount");
        self.write(&rollout, Write::Replace).await?;
        Ok(Action::requeue(Duration::from_millis(200)))
    }

    /// The status Argo computes in `syncRolloutStatusCanary`, then written if it changed.
    async fn sync_status(mut self, reset: bool) -> Result<Action, Error> {
        let old = self.status();
        let mut s = self.base_status(&old);
        let steps = self.steps();
        let (_, mut index) = current_step(&self.rollout);

        if reset {
            // Argo's `resetRolloutStatus`.
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
            if let Some(new_rs) = &self.roles.new_rs
                && steps > 0
                && old.stable_rs == hash(new_rs)
            {
                self.ctx
                    .event(&*self.rollout, false, reason::SKIP_STEPS, "Rollback to stable ReplicaSets".into())
                    .await;
                index = Some(steps);
            } else if let Some(new_rs) = &self.roles.new_rs
                && steps > 0
                && self.is_rollback_within_window()
                && new_rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0) > 0
            {
                self.ctx
                    .event(
                        &*self.rollout,
                        false,
                        reason::SKIP_STEPS,
                        "Rollback to active ReplicaSets within RollbackWindow".into(),
                    )
                    .await;
                index = Some(steps);
            }
            s.current_step_index = index;
            return self.finish(s).await;
        }

        if old.promote_full || self.is_rollback_within_window() {
            self.pause.clear();
            self.pause.remove_abort();
            if steps > 0 {
                index = Some(steps);
            }
        }
        if let Some(why) = self.should_full_promote(index) {
            self.promote_stable(&mut s, &why).await;
            return self.finish(s).await;
        }
        if self.pause.is_aborted(&self.rollout) {
            if steps > 0 {
                index = Some(if s.stable_rs == s.current_pod_hash { steps } else { 0 });
            }
            s.current_step_index = index;
            return self.finish(s).await;
        }
        let step_ctx = StepContext {
            step_analysis: self.runs.step.as_ref().map(|r| r.status.as_ref().map(|s| s.phase).unwrap_or_default()),
            pause: PauseState::of(&self.rollout),
            ..Default::default()
        };
        if completed_current_step(&self.rollout, &self.roles.observed(), &step_ctx, self.now) {
            let (step, i) = current_step(&self.rollout);
            let i = i.unwrap_or(0).saturating_add(1);
            index = Some(i);
            s.canary.current_step_analysis_run_status = None;
            let description = step.map(step_string).unwrap_or_default();
            self.ctx
                .event(
                    &*self.rollout,
                    false,
                    reason::STEP_COMPLETED,
                    format!("Rollout step {i}/{steps} completed ({description})"),
                )
                .await;
            self.pause.remove_pause(PauseReason::CanaryPauseStep);
            // The next step may be acted on at once.
            self.requeue_in(Duration::from_millis(100));
        }
        s.current_step_index = index;
        self.finish(s).await
    }

    /// Argo's `isRollbackWithinWindow`: the new ReplicaSet is older than the stable one, and
    /// fewer than `rollbackWindow.revisions` ReplicaSets lie between them.
    fn is_rollback_within_window(&self) -> bool {
        let (Some(new_rs), Some(stable)) = (&self.roles.new_rs, &self.roles.stable_rs) else { return false };
        let created = |r: &ReplicaSet| r.metadata.creation_timestamp.as_ref().map(|t| t.0);
        let (new_at, stable_at) = (created(new_rs), created(stable));
        if new_at >= stable_at {
            return false;
        }
        let Some(window) = self.rollout.spec.rollback_window.as_ref().filter(|w| w.revisions > 0) else {
            return false;
        };
        let between = self
            .roles
            .all
            .iter()
            .filter(|r| r.annotations().get(replicasets::EXPERIMENT_NAME).is_none_or(|n| n.is_empty()))
            .filter(|r| created(r) < stable_at && new_at < created(r))
            .count();
        i32::try_from(between).unwrap_or(i32::MAX) < window.revisions
    }

    /// Argo's `isFastRollback`: back to the stable ReplicaSet, or to one within the window.
    fn is_fast_rollback(&self) -> bool {
        let Some(new_rs) = &self.roles.new_rs else { return false };
        self.roles.stable_rs.is_some() && (self.status().stable_rs == hash(new_rs) || self.is_rollback_within_window())
    }

    /// Argo's `shouldFullPromote` for a canary.
    fn should_full_promote(&self, index: Option<i32>) -> Option<String> {
        if self.roles.stable_rs.is_none() {
            return Some("Initial deploy".into());
        }
        if self.pause.is_aborted(&self.rollout) {
            return None;
        }
        let new_rs = self.roles.new_rs.as_ref()?;
        let available = new_rs.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0);
        let desired = self.rollout.spec.replicas_or_default();
        // Fewer available than desired blocks the promotion unless the progress threshold is
        // met; more (a scale-down not yet applied) does not.
        let threshold = self.rollout.spec.canary().and_then(|c| c.replica_progress_threshold.as_ref());
        if available < desired
            && !replica_progress_threshold_met(threshold, self.roles.observed().new_rs.as_ref(), desired)
        {
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

    async fn promote_stable(&mut self, s: &mut RolloutStatus, why: &str) {
        self.pause.clear();
        self.pause.remove_abort();
        let steps = self.steps();
        s.current_step_index = (steps > 0).then_some(steps);
        if s.stable_rs != s.current_pod_hash {
            s.stable_rs = s.current_pod_hash.clone();
            // A full promotion is done once its revision is stable. Argo clears the flag on the
            // next reconcile (its base status compares with the old stable); clearing it in the
            // same write means no status ever says Healthy with a full promotion pending.
            s.promote_full = false;
            let rev = replicasets::revision(&self.rollout.metadata);
            self.ctx
                .event(
                    &*self.rollout,
                    false,
                    reason::COMPLETED,
                    format!("Rollout completed update to revision {rev} ({}): {why}", s.current_pod_hash),
                )
                .await;
        }
        s.canary.current_step_analysis_run_status = None;
    }

    /// Argo's `calculateBaseStatus` plus what every canary status carries.
    fn base_status(&self, old: &RolloutStatus) -> RolloutStatus {
        let sum = |f: fn(&ReplicaSet) -> i32| self.roles.all.iter().map(|r| f(r)).sum::<i32>();
        let current_pod_hash = match &self.roles.new_rs {
            Some(rs) => hash(rs).to_string(),
            None => replicasets::desired_hash(&self.rollout).unwrap_or_default(),
        };
        let mut conditions = old.conditions.clone();
        conditions.retain(|c| c.type_ != kind::INVALID_SPEC);
        RolloutStatus {
            current_pod_hash: current_pod_hash.clone(),
            current_step_hash: self.steps_hash.clone(),
            replicas: sum(|r| r.status.as_ref().map_or(0, |s| s.replicas)),
            updated_replicas: self.roles.new_rs.as_ref().and_then(|r| r.status.as_ref()).map_or(0, |s| s.replicas),
            ready_replicas: sum(|r| r.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0)),
            available_replicas: sum(|r| r.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0)),
            hpa_replicas: sum(|r| r.status.as_ref().map_or(0, |s| s.replicas)),
            selector: selector_string(&self.rollout),
            stable_rs: old.stable_rs.clone(),
            collision_count: old.collision_count,
            conditions,
            restarted_at: self.restarted_at,
            promote_full: current_pod_hash != old.stable_rs && old.promote_full,
            current_step_index: old.current_step_index,
            canary: CanaryStatus {
                current_step_analysis_run_status: self.runs.step.as_deref().map(run_status),
                current_background_analysis_run_status: self.runs.background.as_deref().map(run_status),
                ..Default::default()
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
    /// pause and abort fields, the conditions, the phase; then the write, and the events of the
    /// change.
    async fn finish(mut self, mut s: RolloutStatus) -> Result<Action, Error> {
        let old = self.status();
        s.observed_generation = self.rollout.metadata.generation.unwrap_or(0).to_string();
        self.progress_deadline_abort(&s).await;
        self.pause.apply(&self.rollout, &mut s, self.now);
        let observed = cond::Observed {
            aborted: self.pause.is_aborted(&self.rollout),
            abort_message: self.pause.abort_message.clone(),
            new_rs_name: self.roles.new_rs.as_ref().map(|r| r.name_any()),
            revision: replicasets::revision(&self.rollout.metadata),
            indefinite_step: self.indefinite_step(),
            waiting_for_scale_down: self.waiting_for_scale_down(),
            available: self
                .roles
                .all
                .iter()
                .map(|r| r.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0))
                .fold(0, i32::saturating_add),
            active_saturated: false,
        };
        let mut events = cond::calculate(&self.rollout, &mut s, &observed, self.now);
        if let Some(at) = cond::times_out_at(&self.rollout, &s)
            && !observed.indefinite_step
        {
            self.requeue_in(
                at.signed_duration_since(self.now).to_std().unwrap_or_default().saturating_add(Duration::from_secs(1)),
            );
        }

        let mut next = (*self.rollout).clone();
        next.status = Some(s);
        let pm = rollout_phase(&next);
        if let Some(st) = next.status.as_mut() {
            st.phase = Some(pm.phase);
            st.message = pm.message;
        }
        let how = if self.full_write || self.created.is_some() { Write::Replace } else { Write::Patch };
        if next.status != self.rollout.status || how == Write::Replace {
            self.write(&next, how).await?;
            events.extend(cond::state_change_events(&old, next.status.as_ref().unwrap_or(&RolloutStatus::default())));
        }
        for e in events {
            self.ctx.event(&*self.rollout, e.warning, e.reason, e.message).await;
        }
        // An idle rollout is looked at again after `--rollout-resync` (progress deadlines and
        // timed pauses requeue earlier on their own).
        Ok(Action::requeue(self.requeue.unwrap_or(self.ctx.resync)))
    }

    /// Argo's `evaluateProgressDeadlineAbort`: with `progressDeadlineAbort`, an update that made
    /// no progress within the deadline is aborted.
    async fn progress_deadline_abort(&mut self, s: &RolloutStatus) {
        if !self.rollout.spec.progress_deadline_abort || self.pause.is_aborted(&self.rollout) || cond::completed(s) {
            return;
        }
        if cond::progressing(&self.rollout, s) || self.indefinite_step() || self.waiting_for_scale_down() {
            return;
        }
        if !cond::timed_out(&self.rollout, &self.status(), self.now) {
            return;
        }
        let message = match &self.roles.new_rs {
            Some(rs) => format!("ReplicaSet {:?} has timed out progressing.", rs.name_any()),
            None => format!("Rollout {:?} has timed out progressing.", self.rollout.name_any()),
        };
        self.ctx.event(&*self.rollout, true, reason::ABORTED, message.clone()).await;
        self.pause.add_abort(message);
    }

    /// Argo's `isIndefiniteStep`: a pause, analysis or experiment step, or a Paused condition
    /// set, may take as long as it takes.
    fn indefinite_step(&self) -> bool {
        current_step(&self.rollout)
            .0
            .is_some_and(|s| s.analysis.is_some() || s.experiment.is_some() || s.pause.is_some())
            || cond::get(&self.status(), kind::PAUSED).is_some_and(|c| c.status == "True")
    }

    /// Argo's `isWaitingForReplicaSetScaleDown`: an old ReplicaSet still has a scale-down deadline.
    fn waiting_for_scale_down(&self) -> bool {
        self.roles.older.iter().any(|r| r.annotations().contains_key(replicasets::SCALE_DOWN_DEADLINE))
    }

    /// Writes the status of `next` over the Rollout this reconcile read (see
    /// [`crate::status_write`]): a concurrent change of spec or status (a user's promote) is a
    /// conflict, decided again from the current object, never overwritten.
    async fn write(&self, next: &Rollout, how: Write) -> Result<(), Error> {
        let api: Api<Rollout> = Api::namespaced(self.ctx.client.clone(), &next.namespace().unwrap_or_default());
        crate::status_write::write_status(&api, &self.rollout, next, how, &self.ctx.status_subresources.rollout)
            .await
            .map_err(Error::kube(format!("writing the status of Rollout {}", self.rollout.name_any())))?;
        Ok(())
    }
}

/// The hash of the canary steps (`status.currentStepHash`), as Argo computes it: a change of
/// steps restarts them.
pub fn step_hash(rollout: &Rollout) -> Result<String, Error> {
    aviary_api::hash::step_hash(rollout).map_err(|e| Error::Invalid(format!("spec.strategy.canary.steps: {e}")))
}

/// `status.selector`: the label selector as `k=v,k2=v2`, for the scale subresource (HPA).
fn selector_string(rollout: &Rollout) -> String {
    rollout.spec.selector.as_ref().map(replicasets::selector_string).unwrap_or_default()
}

/// How Argo names a step in events and in the CLI (`setWeight: 25`, `pause: 30s`): Argo's
/// `CanaryStepString`.
pub fn step_string(step: &aviary_api::CanaryStep) -> String {
    if let Some(w) = step.set_weight {
        return format!("setWeight: {w}");
    }
    if let Some(p) = &step.pause {
        return match &p.duration {
            Some(aviary_api::IntOrString::Int(i)) => format!("pause: {i}"),
            Some(aviary_api::IntOrString::String(s)) => format!("pause: {s}"),
            None => "pause".into(),
        };
    }
    if step.experiment.is_some() {
        return "experiment".into();
    }
    if step.analysis.is_some() {
        return "analysis".into();
    }
    if let Some(scs) = &step.set_canary_scale {
        if let Some(w) = scs.weight {
            return format!("setCanaryScale{{weight: {w}}}");
        } else if scs.match_traffic_weight {
            return "setCanaryScale{matchTrafficWeight: true}".into();
        } else if let Some(r) = scs.replicas {
            return format!("setCanaryScale{{replicas: {r}}}");
        }
    }
    if let Some(p) = &step.plugin {
        return format!("plugin: {}", p.name);
    }
    if let Some(h) = &step.set_header_route {
        return format!("setHeaderRoute: {}", h.name);
    }
    if let Some(m) = &step.set_mirror_route {
        return format!("setMirrorRoute: {}", m.name);
    }
    "invalid".into()
}

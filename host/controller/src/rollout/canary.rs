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
use aviary_engine::steps::{PauseState, StepContext, completed_current_step, pause_step_ends_at};
use aviary_engine::weight::current_step;
use chrono::{DateTime, Utc};
use k8s_openapi::api::apps::v1::ReplicaSet;
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};

use super::analysis::{self, CurrentRuns, run_status};
use super::conditions::{self as cond, kind, reason};
use super::pause::{PauseContext, condition};
use super::replicasets::{self, Created, Roles, hash};
use super::restart::{self, Restart};
use super::services;
use crate::context::Context;
use crate::error::Error;

/// How long an idle rollout waits before it is looked at again (Argo's resync is 15 minutes;
/// progress deadlines and timed pauses requeue earlier on their own).
const RESYNC: Duration = Duration::from_secs(300);

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
        }
    }

    fn status(&self) -> RolloutStatus {
        self.rollout.status.clone().unwrap_or_default()
    }

    fn steps(&self) -> i32 {
        self.rollout.spec.canary().map_or(0, |c| c.steps.len() as i32)
    }

    fn requeue_in(&mut self, d: Duration) {
        self.requeue = Some(self.requeue.map_or(d, |r| r.min(d)));
    }

    /// Runs the reconcile.
    pub async fn run(mut self) -> Result<Action, Error> {
        let owned: Vec<Arc<ReplicaSet>> = self
            .ctx
            .owned_replica_sets(&self.rollout)
            .into_iter()
            .filter(|r| r.metadata.deletion_timestamp.is_none())
            .collect();
        let mut new_rs = replicasets::find_new(self.ctx, &self.rollout, &owned).await?;
        let status = self.status();
        let steps_hash = step_hash(&self.rollout)?;
        self.steps_hash = steps_hash.clone();
        let current_hash = match &new_rs {
            Some(rs) => hash(rs).to_string(),
            None => replicasets::desired_hash(&self.rollout)?,
        };
        if status.current_pod_hash != current_hash || status.current_step_hash != steps_hash {
            // The template or the steps changed: record that first (Argo resets the status in a
            // reconcile of its own), then act on the next one.
            self.roles = Roles::new(owned, new_rs, &status.stable_rs);
            return self.sync_status(true).await;
        }

        let mut all = owned;
        if new_rs.is_none() {
            let stable_exists = !status.stable_rs.is_empty() && all.iter().any(|r| hash(r) == status.stable_rs);
            let replicas = if stable_exists { 0 } else { self.rollout.spec.replicas_or_default() };
            let canary = self.rollout.spec.canary();
            let ephemeral = if stable_exists {
                canary.and_then(|c| c.canary_metadata.as_ref())
            } else {
                canary.and_then(|c| c.stable_metadata.as_ref())
            };
            let max_old = all.iter().map(|r| replicasets::revision(&r.metadata)).max().unwrap_or(0);
            match replicasets::create(self.ctx, &self.rollout, replicas, max_old.saturating_add(1), ephemeral).await? {
                Created::ReplicaSet(rs) => {
                    self.created = Some(rs.name_any());
                    all.push(rs.clone());
                    new_rs = Some(rs);
                }
                Created::Collision => return self.bump_collision_count().await,
            }
        }
        self.roles = Roles::new(all, new_rs, &status.stable_rs);
        replicasets::sync_revision(self.ctx, &self.rollout, &self.roles).await?;

        match restart::reconcile(self.ctx, &self.rollout, &self.roles, self.now).await? {
            Restart::Done(at) => self.restarted_at = at,
            Restart::InProgress => {
                self.requeue_in(Duration::from_secs(2));
                return self.sync_status(false).await;
            }
        }

        let deleted = replicasets::cleanup_history(self.ctx, &self.rollout, &self.roles.older).await?;
        if !deleted.is_empty() {
            tracing::info!(?deleted, "deleted old ReplicaSets beyond revisionHistoryLimit");
        }

        services::reconcile(self.ctx, &self.rollout, self.roles.stable_rs.as_deref(), self.roles.new_rs.as_deref())
            .await?;

        let skip_analysis = self.pause.is_aborted(&self.rollout) || status.promote_full || status.stable_rs.is_empty();
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
        self.persist(rollout).await?;
        Ok(Action::requeue(Duration::from_millis(200)))
    }

    /// The status Argo computes in `syncRolloutStatusCanary`, then written if it changed.
    async fn sync_status(mut self, reset: bool) -> Result<Action, Error> {
        let old = self.status();
        let mut s = self.base_status(&old);
        let steps = self.steps();
        let (_, mut index) = current_step(&self.rollout);

        if reset {
            self.pause.clear();
            self.pause.remove_abort();
            s.canary.current_step_analysis_run_status = None;
            s.canary.current_background_analysis_run_status = None;
            index = (steps > 0).then_some(0);
            let template_changed = old.current_pod_hash != s.current_pod_hash;
            if let Some(new_rs) = &self.roles.new_rs
                && !old.stable_rs.is_empty()
                && old.stable_rs == hash(new_rs)
                && steps > 0
            {
                self.ctx.event(&*self.rollout, false, "SkipSteps", "Rollback to stable".into()).await;
                index = Some(steps);
            } else if template_changed && !old.current_pod_hash.is_empty() {
                let rev = replicasets::revision(&self.rollout.metadata).saturating_add(1);
                self.ctx
                    .event(&*self.rollout, false, reason::UPDATED, format!("Rollout updated to revision {rev}"))
                    .await;
            }
            s.current_step_index = index;
            return self.finish(s).await;
        }

        if old.promote_full {
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
        if available != self.rollout.spec.replicas_or_default() {
            return None;
        }
        if self.status().promote_full {
            return Some("Full promotion requested".into());
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

    /// Conditions, pause bookkeeping, phase and message; then the write.
    async fn finish(mut self, mut s: RolloutStatus) -> Result<Action, Error> {
        let old = self.status();
        let was_aborted = old.abort;
        self.progress_conditions(&old, &mut s);
        self.pause.apply(&self.rollout, &mut s, self.now);
        self.pause_conditions(&old, &mut s);
        self.completion_conditions(&mut s);
        if s.abort && !was_aborted {
            let rev = replicasets::revision(&self.rollout.metadata);
            let message = match self.pause.abort_message.as_str() {
                "" => format!("Rollout aborted update to revision {rev}"),
                m => format!("Rollout aborted update to revision {rev}: {m}"),
            };
            self.ctx.event(&*self.rollout, true, reason::ABORTED, message).await;
        }

        let mut next = (*self.rollout).clone();
        next.status = Some(s);
        let pm = rollout_phase(&next);
        if let Some(st) = next.status.as_mut() {
            st.phase = Some(pm.phase);
            st.message = pm.message;
        }
        if next.status != self.rollout.status {
            self.persist(next).await?;
        }
        Ok(Action::requeue(self.requeue.unwrap_or(RESYNC)))
    }

    /// Argo's `calculateRolloutConditions`: Progressing (created, updated, available, aborted,
    /// timed out) and Available. Skipped while paused, as in Argo.
    fn progress_conditions(&mut self, old: &RolloutStatus, s: &mut RolloutStatus) {
        let now = self.now;
        let rs_name = self.roles.new_rs.as_ref().map(|r| r.name_any());
        if let Some(name) = &self.created {
            cond::set(
                s,
                kind::PROGRESSING,
                true,
                reason::NEW_REPLICA_SET_CREATED,
                format!("Created new replica set {name:?}"),
                now,
            );
        }
        let paused = !old.pause_conditions.is_empty() || self.rollout.spec.paused;
        if !paused {
            let current = cond::get(old, kind::PROGRESSING).cloned();
            // Argo skips progress bookkeeping once the rollout completed; it also requires the
            // new revision to be the stable one here, or an update whose pods become available
            // between two reconciles would keep the old "successfully progressed" condition
            // (and an abort would then never show as Degraded).
            let complete_rollout = s.replicas == s.available_replicas
                && s.stable_rs == s.current_pod_hash
                && current.as_ref().is_some_and(|c| c.reason == reason::NEW_RS_AVAILABLE);
            let n = self.rollout.spec.replicas_or_default();
            if !complete_rollout {
                if self.pause.is_aborted(&self.rollout) {
                    let rev = replicasets::revision(&self.rollout.metadata);
                    let keep =
                        current.as_ref().filter(|c| c.reason == reason::ABORTED && self.pause.abort_message.is_empty());
                    let message = match (keep, self.pause.abort_message.as_str()) {
                        (Some(c), _) => c.message.clone(),
                        (None, "") => format!("Rollout aborted update to revision {rev}"),
                        (None, m) => format!("Rollout aborted update to revision {rev}: {m}"),
                    };
                    cond::set(s, kind::PROGRESSING, false, reason::ABORTED, message, now);
                } else if s.updated_replicas == n
                    && s.replicas == n
                    && s.available_replicas == n
                    && old.observed_generation == s.observed_generation
                    && !s.stable_rs.is_empty()
                    && s.stable_rs == s.current_pod_hash
                {
                    let message = match &rs_name {
                        Some(name) => format!("ReplicaSet {name:?} has successfully progressed."),
                        None => format!("Rollout {:?} has successfully progressed.", self.rollout.name_any()),
                    };
                    cond::set(s, kind::PROGRESSING, true, reason::NEW_RS_AVAILABLE, message, now);
                } else if progressing(old, s) {
                    let message = match &rs_name {
                        Some(name) => format!("ReplicaSet {name:?} is progressing."),
                        None => format!("Rollout {:?} is progressing.", self.rollout.name_any()),
                    };
                    // Progress refreshes lastUpdateTime even when nothing else changes: that is
                    // what the progress deadline is measured from.
                    let transition =
                        cond::get(s, kind::PROGRESSING).filter(|c| c.status == "True").map(|c| c.last_transition_time);
                    cond::remove(s, kind::PROGRESSING);
                    cond::set(s, kind::PROGRESSING, true, reason::REPLICA_SET_UPDATED, message, now);
                    if let (Some(t), Some(c)) =
                        (transition, s.conditions.iter_mut().find(|c| c.type_ == kind::PROGRESSING))
                    {
                        c.last_transition_time = t;
                    }
                } else if !self.indefinite_step() {
                    self.check_deadline(old, s);
                }
            }
            let available = s.available_replicas >= n;
            let message = if available {
                "Rollout has minimum availability"
            } else {
                "Rollout does not have minimum availability"
            };
            cond::set(s, kind::AVAILABLE, available, reason::AVAILABLE, message.into(), now);
        }
    }

    /// Argo's `RolloutTimedOut` and `progressDeadlineAbort`.
    fn check_deadline(&mut self, old: &RolloutStatus, s: &mut RolloutStatus) {
        let Some(current) = cond::get(old, kind::PROGRESSING) else { return };
        if current.reason == reason::NEW_RS_AVAILABLE {
            return;
        }
        let deadline = i64::from(self.rollout.spec.progress_deadline_seconds_or_default());
        let expires = aviary_engine::clock::after_seconds(current.last_update_time.0, deadline);
        if current.reason != reason::TIMED_OUT && expires > self.now {
            self.requeue_in(
                expires
                    .signed_duration_since(self.now)
                    .to_std()
                    .unwrap_or_default()
                    .saturating_add(Duration::from_secs(1)),
            );
            return;
        }
        let message = match &self.roles.new_rs {
            Some(rs) => format!("ReplicaSet {:?} has timed out progressing.", rs.name_any()),
            None => format!("Rollout {:?} has timed out progressing.", self.rollout.name_any()),
        };
        cond::set(s, kind::PROGRESSING, false, reason::TIMED_OUT, message.clone(), self.now);
        if self.rollout.spec.progress_deadline_abort && !self.pause.is_aborted(&self.rollout) {
            self.pause.add_abort(message);
        }
    }

    /// Analysis and experiment steps may take as long as they take.
    fn indefinite_step(&self) -> bool {
        current_step(&self.rollout).0.is_some_and(|s| s.analysis.is_some() || s.experiment.is_some())
    }

    /// Argo's `checkPausedConditions`: the Paused condition, and Progressing set to Unknown while
    /// paused, when resumed, and on a retry after an abort.
    fn pause_conditions(&self, old: &RolloutStatus, s: &mut RolloutStatus) {
        let now = self.now;
        let paused = !s.pause_conditions.is_empty() || self.rollout.spec.paused;
        let progressing_reason = cond::get(s, kind::PROGRESSING).map(|c| c.reason.clone()).unwrap_or_default();
        if paused && progressing_reason != reason::PAUSED && !s.abort {
            cond::set_raw(s, kind::PROGRESSING, "Unknown", reason::PAUSED, "Rollout is paused".into(), now);
        } else if !paused && progressing_reason == reason::PAUSED {
            cond::set_raw(s, kind::PROGRESSING, "Unknown", reason::RESUMED, "Rollout is resumed".into(), now);
        }
        let abort_cond = cond::get(s, kind::PROGRESSING).is_some_and(|c| c.reason == reason::ABORTED);
        if old.abort && !s.abort && abort_cond {
            cond::set_raw(s, kind::PROGRESSING, "Unknown", reason::RETRY, "Retrying Rollout after abort".into(), now);
        }
        let abort_cond = cond::get(s, kind::PROGRESSING).is_some_and(|c| c.reason == reason::ABORTED);
        cond::set(s, kind::PAUSED, paused && !abort_cond, reason::PAUSED, "Rollout is paused".into(), now);
    }

    /// The Completed and Healthy conditions of newer Argo versions.
    fn completion_conditions(&self, s: &mut RolloutStatus) {
        let now = self.now;
        let n = self.rollout.spec.replicas_or_default();
        let completed = !s.stable_rs.is_empty() && s.stable_rs == s.current_pod_hash;
        if completed {
            cond::set(s, kind::COMPLETED, true, reason::COMPLETED, reason::COMPLETED.into(), now);
        } else {
            cond::set(s, kind::COMPLETED, false, reason::NOT_COMPLETED, reason::NOT_COMPLETED.into(), now);
        }
        let healthy = completed && s.updated_replicas == n && s.available_replicas == n && s.replicas == n && !s.abort;
        if healthy {
            cond::set(s, kind::HEALTHY, true, reason::HEALTHY, "Rollout is healthy".into(), now);
        } else {
            cond::set(s, kind::HEALTHY, false, reason::NOT_HEALTHY, "Rollout is not healthy".into(), now);
        }
    }

    /// Writes the whole status with the resourceVersion it was computed from: a concurrent
    /// change of spec or status (a user's promote) is a conflict, decided again from the current
    /// object, never overwritten (see [`crate::status_write`]).
    async fn persist(&self, next: Rollout) -> Result<(), Error> {
        let api: Api<Rollout> = Api::namespaced(self.ctx.client.clone(), &next.namespace().unwrap_or_default());
        crate::status_write::replace_status(&api, &self.rollout, next)
            .await
            .map_err(Error::kube(format!("writing the status of Rollout {}", self.rollout.name_any())))?;
        Ok(())
    }
}

/// Argo's progress test: more updated, ready or available pods, fewer old pods, or a change of
/// template, steps, step index or stable ReplicaSet.
fn progressing(old: &RolloutStatus, new: &RolloutStatus) -> bool {
    let old_old = old.replicas.saturating_sub(old.updated_replicas);
    let new_old = new.replicas.saturating_sub(new.updated_replicas);
    new.updated_replicas != old.updated_replicas
        || new_old < old_old
        || new.ready_replicas > old.ready_replicas
        || new.available_replicas > old.available_replicas
        || new.current_step_hash != old.current_step_hash
        || new.current_pod_hash != old.current_pod_hash
        || new.current_step_index != old.current_step_index
        || new.stable_rs != old.stable_rs
}

/// The hash of the canary steps (`status.currentStepHash`), as Argo computes it: a change of
/// steps restarts them.
pub fn step_hash(rollout: &Rollout) -> Result<String, Error> {
    aviary_api::hash::step_hash(rollout).map_err(|e| Error::Invalid(format!("spec.strategy.canary.steps: {e}")))
}

/// `status.selector`: the label selector as `k=v,k2=v2`, for the scale subresource (HPA).
fn selector_string(rollout: &Rollout) -> String {
    let Some(sel) = &rollout.spec.selector else { return String::new() };
    let mut parts: Vec<String> = sel.match_labels.iter().flatten().map(|(k, v)| format!("{k}={v}")).collect();
    for e in sel.match_expressions.iter().flatten() {
        let values = e.values.clone().unwrap_or_default().join(",");
        parts.push(match e.operator.as_str() {
            "In" => format!("{} in ({values})", e.key),
            "NotIn" => format!("{} notin ({values})", e.key),
            "Exists" => e.key.clone(),
            _ => format!("!{}", e.key),
        });
    }
    parts.join(",")
}

/// How Argo names a step in events and in the CLI (`setWeight: 25`, `pause: 30s`).
pub fn step_string(step: &aviary_api::CanaryStep) -> String {
    if let Some(w) = step.set_weight {
        return format!("setWeight: {w}");
    }
    if let Some(p) = &step.pause {
        return match &p.duration {
            Some(d) => format!(
                "pause: {}",
                serde_json::to_value(d).map(|v| v.to_string().trim_matches('"').to_string()).unwrap_or_default()
            ),
            None => "pause".into(),
        };
    }
    if step.analysis.is_some() {
        return "analysis".into();
    }
    if step.experiment.is_some() {
        return "experiment".into();
    }
    if let Some(scs) = &step.set_canary_scale {
        return format!("setCanaryScale: {}", serde_json::to_string(scs).unwrap_or_default());
    }
    step.kind_name().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_any_move_towards_the_new_version() {
        let old = RolloutStatus { replicas: 10, updated_replicas: 0, available_replicas: 10, ..Default::default() };
        assert!(!progressing(&old, &old.clone()));
        let mut new = old.clone();
        new.updated_replicas = 3;
        new.replicas = 13;
        assert!(progressing(&old, &new));
        let mut new = old.clone();
        new.current_step_index = Some(1);
        assert!(progressing(&old, &new));
        let mut new = old.clone();
        new.available_replicas = 9;
        assert!(!progressing(&old, &new));
    }
}

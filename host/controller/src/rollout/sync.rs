//! One reconcile of a Rollout, canary or blue-green, in Argo's order (`rolloutCanary`,
//! `rolloutBlueGreen`): ReplicaSets found or created, pod restarts, revision history, Services
//! observed, AnalysisRuns, then the engine's decision ([`aviary_engine::rollout::reconcile`]: the
//! ReplicaSets to scale and mark, the Services to switch, the status, the events) applied in
//! order. This module observes and applies; it decides nothing itself.

use std::sync::Arc;
use std::time::Duration;

use aviary_api::Rollout;
use aviary_api::rollout_status::RolloutStatus;
use aviary_engine::reconcile_order::ReplicaSetRole;
use aviary_engine::rollout::{self as decide, Observed, PauseContext, RolloutAction, RolloutDecision, ServiceTarget};
use chrono::{DateTime, Utc};
use k8s_openapi::api::apps::v1::ReplicaSet;
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};

use super::analysis;
use super::ephemeral;
use super::experiments;
use super::replicasets::{self, Created, Roles, hash};
use super::restart;
use super::routing;
use super::services;
use super::step_plugins;
use crate::context::Context;
use crate::error::Error;
use crate::status_write::Write;
use aviary_engine::rollout::restart::{RECHECK, Restart};

/// Requeue this soon after a write that ends a reconcile early: the next one acts on it.
const AT_ONCE: Duration = Duration::from_millis(100);

/// The state of one Rollout reconcile.
pub struct RolloutSync<'a> {
    ctx: &'a Context,
    rollout: Arc<Rollout>,
    now: DateTime<Utc>,
    roles: Roles,
    requeue: Option<Duration>,
    /// The status is written whole (Argo's `UpdateStatus` where it records its first
    /// Progressing condition), not patched.
    full_write: bool,
}

impl<'a> RolloutSync<'a> {
    /// Starts a reconcile of `rollout` at `now`.
    pub fn new(ctx: &'a Context, rollout: Arc<Rollout>, now: DateTime<Utc>) -> Self {
        Self { ctx, rollout, now, roles: Roles::default(), requeue: None, full_write: false }
    }

    fn status(&self) -> RolloutStatus {
        self.rollout.status.clone().unwrap_or_default()
    }

    /// Continues with the Rollout as the API server returned it from a write of its metadata or
    /// spec (new resourceVersion and generation), keeping the status this reconcile works on.
    fn adopt(&mut self, written: Rollout) {
        let mut next = written;
        next.status = self.rollout.status.clone();
        // A workloadRef's template and selector live in memory only (the API server returns the
        // Rollout without them), as does the generation this reconcile resolved.
        if next.spec.workload_ref.is_some() {
            next.spec.template = self.rollout.spec.template.clone();
            if next.spec.selector.is_none() {
                next.spec.selector = self.rollout.spec.selector.clone();
            }
            if let Some(g) = self.rollout.annotations().get(aviary_engine::rollout::workload::WORKLOAD_GENERATION) {
                next.annotations_mut().insert(aviary_engine::rollout::workload::WORKLOAD_GENERATION.into(), g.clone());
            }
        }
        self.rollout = Arc::new(next);
    }

    /// Argo's `getAllReplicaSetsAndSyncRevision` for an existing new ReplicaSet: its revision and
    /// annotations, then the Rollout's revision, and a first Progressing condition when there is
    /// none (the status then written whole).
    async fn sync_revision(&mut self) -> Result<(), Error> {
        if let Some(written) = replicasets::sync_revision(self.ctx, &self.rollout, &self.roles).await? {
            self.adopt(written);
        }
        if let Some(rs) = &self.roles.new_rs
            && let Some(condition) = decide::found_new_replica_set(&self.status(), &rs.name_any(), self.now)
        {
            let mut next = (*self.rollout).clone();
            aviary_engine::conditions::set(next.status.get_or_insert_with(Default::default), condition);
            self.rollout = Arc::new(next);
            self.full_write = true;
        }
        Ok(())
    }

    /// What the engine decides on: the ReplicaSets by role and what this reconcile did so far.
    fn observe(&self, steps_hash: String) -> Observed {
        Observed {
            replica_sets: self.roles.observed(),
            steps_hash,
            revision: replicasets::revision(&self.rollout.metadata),
            restarted_at: self.status().restarted_at,
            step_run: None,
            background_run: None,
            experiment: None,
            services: Default::default(),
            pre_promotion_run: None,
            post_promotion_run: None,
            weight_verified: None,
            step_plugin_answers: None,
            current_experiment: String::new(),
            experiment_destinations: Vec::new(),
        }
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
        let mut pause = PauseContext::start(&self.rollout);
        // The Paused and Progressing conditions follow a pause first, in a write of their own.
        if let Some(next) = decide::paused_conditions_status(&self.rollout, self.now) {
            self.write(next, Write::Patch).await?;
            return Ok(Action::requeue(AT_ONCE));
        }
        let steps_hash = step_hash(&self.rollout)?;
        self.roles = Roles::new(owned, Some(new_rs), &status.stable_rs);
        self.sync_revision().await?;
        let mut observed = self.observe(steps_hash);
        // Argo's `PodTemplateOrStepsChanged`: only record the change (the status is reset), and
        // act on the next reconcile.
        if decide::must_reset(&self.rollout, &observed) {
            observed.services = services::observe_blue_green(self.ctx, &self.rollout).await?;
            let decision = decide::reconcile(&self.rollout, &observed, pause, self.now);
            return self.apply(decision).await;
        }

        match restart::reconcile(self.ctx, &self.rollout, &self.roles, self.now).await? {
            Restart::Done(at) => observed.restarted_at = at,
            Restart::Evicted => return Ok(Action::requeue(RECHECK)),
            Restart::Waiting => self.requeue = Some(RECHECK),
        }

        ephemeral::reconcile(self.ctx, &self.rollout, &self.roles, &status.stable_rs).await?;

        let deleted = replicasets::cleanup_history(self.ctx, &self.rollout, &self.roles).await?;
        if !deleted.is_empty() {
            tracing::info!(?deleted, "deleted old ReplicaSets beyond revisionHistoryLimit");
        }

        services::reconcile(self.ctx, &self.rollout, &self.roles).await?;

        // The current experiment, whose weighted templates take traffic while it runs.
        let canary = self.rollout.spec.canary().is_some();
        let (current_experiment, destinations) =
            if canary { experiments::current(self.ctx, &self.rollout).await? } else { (None, Vec::new()) };
        observed.experiment_destinations = destinations;
        // Traffic routing, before the experiments, the analysis runs and any scaling (Argo's
        // order): a router that fails ends the reconcile here.
        if let Some(plan) =
            decide::traffic::plan(&self.rollout, &observed.replica_sets, &observed.experiment_destinations)
        {
            if plan.canary_service_to_stable
                && let Some(c) = self.rollout.spec.canary()
            {
                let target = ServiceTarget {
                    service: c.canary_service.clone(),
                    role: ReplicaSetRole::Stable,
                    check_availability: false,
                };
                services::ensure(self.ctx, &self.rollout, &target, &self.roles).await?;
            }
            observed.weight_verified = routing::run(self.ctx, &self.rollout, &plan).await?.verified;
        }

        if self.rollout.spec.blue_green().is_some() {
            observed.services = services::observe_blue_green(self.ctx, &self.rollout).await?;
        }
        if canary {
            let found =
                experiments::reconcile(self.ctx, &self.rollout, &self.roles, &mut pause, current_experiment).await?;
            observed.experiment = found.phase;
            observed.current_experiment = found.current;
        }
        let skip_analysis = decide::skip_analysis(&self.rollout, &observed, &pause, self.now);
        let runs = analysis::reconcile(self.ctx, &self.rollout, &self.roles, &mut pause, skip_analysis).await?;
        observed.step_run = runs.step.as_deref().map(analysis::observation);
        observed.background_run = runs.background.as_deref().map(analysis::observation);
        observed.pre_promotion_run = runs.pre_promotion.as_deref().map(analysis::observation);
        observed.post_promotion_run = runs.post_promotion.as_deref().map(analysis::observation);

        // The decision, and those of the reconciles after it that would decide from the status
        // alone (one status write for a step and the pause after it, see `reconcile_settled`).
        let mut decision = decide::reconcile_settled(&self.rollout, &observed, pause.clone(), self.now);
        // Step plugins: the calls the decision needs, then the decision again with their answers.
        if !decision.step_plugin_calls.is_empty() {
            let answers = step_plugins::call(self.ctx, &self.rollout, &decision.step_plugin_calls).await?;
            observed.step_plugin_answers = Some(answers);
            decision = decide::reconcile_settled(&self.rollout, &observed, pause, self.now);
        }
        self.apply(decision).await
    }

    /// Applies a decision: the ReplicaSets scaled in order, the status written if it changed,
    /// then the events.
    async fn apply(self, decision: RolloutDecision) -> Result<Action, Error> {
        for action in &decision.actions {
            match action {
                RolloutAction::Scale(a) => {
                    if let Some(rs) = self.replica_set(a.which) {
                        replicasets::scale(self.ctx, &self.rollout, &rs, a.to, decision.keep_scale_down_deadline)
                            .await?;
                    }
                }
                RolloutAction::ScaleDownDeadline { which, at } => {
                    if let Some(rs) = self.replica_set(*which) {
                        replicasets::set_scale_down_deadline(self.ctx, &rs, *at).await?;
                    }
                }
                RolloutAction::SwitchService { service, from, to, adopt } => {
                    services::switch(self.ctx, &self.rollout, service, from, to, *adopt).await?;
                }
            }
        }
        // workloadRef: the Deployment gives up its pods as `scaleDown` says.
        let new_count = decision.scales().find(|a| a.which == ReplicaSetRole::Canary).map(|a| a.to);
        let promoted =
            !decision.status.stable_rs.is_empty() && decision.status.stable_rs == decision.status.current_pod_hash;
        let new_rs = self.roles.observed().new_rs;
        if let Some(replicas) =
            aviary_engine::rollout::workload::deployment_replicas(&self.rollout, new_rs.as_ref(), new_count, promoted)
            && let Err(e) = super::workload::scale_deployment(self.ctx, &self.rollout, replicas).await
        {
            tracing::warn!("scaling down the referenced Deployment: {e}");
        }
        let how = if self.full_write { Write::Replace } else { Write::Patch };
        if self.rollout.status.as_ref() != Some(&decision.status) || how == Write::Replace {
            self.write(decision.status, how).await?;
        }
        for e in decision.events {
            self.ctx.event(&*self.rollout, e.warning, e.reason, e.message).await;
        }
        // An idle rollout is looked at again after `--rollout-resync` (progress deadlines and
        // timed pauses requeue earlier on their own).
        let requeue = match (decision.requeue_after, self.requeue) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Ok(Action::requeue(requeue.unwrap_or(self.ctx.resync)))
    }

    fn replica_set(&self, which: ReplicaSetRole) -> Option<Arc<ReplicaSet>> {
        self.roles.get(which)
    }

    /// Argo's `createDesiredReplicaSet`: the ReplicaSet of the current template, with no pods yet,
    /// the Rollout's revision, and the Progressing condition recording it (the whole status
    /// written); the next reconcile acts on it.
    async fn create_new_replica_set(mut self, owned: &[Arc<ReplicaSet>]) -> Result<Action, Error> {
        let status = self.status();
        let stable_exists = !status.stable_rs.is_empty() && owned.iter().any(|r| hash(r) == status.stable_rs);
        // The canary's metadata while a stable one runs; with none, the stable's follows from
        // the next reconcile's sync (ephemeral.rs), as in Argo.
        // Blue-green: the preview's metadata while a stable one runs, the active's otherwise.
        let canary = self.rollout.spec.canary();
        let ephemeral = match (self.rollout.spec.blue_green(), stable_exists) {
            (Some(bg), true) => bg.preview_metadata.as_ref(),
            (Some(bg), false) => bg.active_metadata.as_ref(),
            (None, true) => canary.and_then(|c| c.canary_metadata.as_ref()),
            (None, false) => None,
        };
        let max_old = owned.iter().map(|r| replicasets::revision(&r.metadata)).max().unwrap_or(0);
        let rev = max_old.saturating_add(1);
        let rs = match replicasets::create(self.ctx, &self.rollout, rev, ephemeral).await? {
            Created::ReplicaSet(rs) => rs,
            Created::Collision => return self.bump_collision_count().await,
        };
        if let Some(written) = replicasets::set_rollout_revision(self.ctx, &self.rollout, rev).await? {
            self.adopt(written);
        }
        let next = decide::created_replica_set_status(&self.rollout, &rs.name_any(), self.now);
        self.write(next, Write::Replace).await?;
        Ok(Action::requeue(AT_ONCE))
    }

    async fn bump_collision_count(&self) -> Result<Action, Error> {
        let mut next = self.status();
        next.collision_count = Some(next.collision_count.unwrap_or(0).saturating_add(1));
        tracing::warn!(collision_count = ?next.collision_count, "hash collision with an existing ReplicaSet; bumping collisionCount");
        self.write(next, Write::Replace).await?;
        Ok(Action::requeue(Duration::from_millis(200)))
    }

    /// Writes `status` over the Rollout this reconcile read (see [`crate::status_write`]): a
    /// concurrent change of spec or status (a user's promote) is a conflict, decided again from
    /// the current object, never overwritten.
    async fn write(&self, status: RolloutStatus, how: Write) -> Result<(), Error> {
        let mut next = (*self.rollout).clone();
        next.status = Some(status);
        let api: Api<Rollout> = Api::namespaced(self.ctx.client.clone(), &next.namespace().unwrap_or_default());
        let written =
            crate::status_write::write_status(&api, &self.rollout, &next, how, &self.ctx.status_subresources.rollout)
                .await
                .map_err(Error::kube(format!("writing the status of Rollout {}", self.rollout.name_any())))?;
        self.ctx.wrote_rollout_status(&written);
        Ok(())
    }
}

/// The hash of the canary steps (`status.currentStepHash`), as Argo computes it: a change of
/// steps restarts them.
pub fn step_hash(rollout: &Rollout) -> Result<String, Error> {
    aviary_api::hash::step_hash(rollout).map_err(|e| Error::Invalid(format!("spec.strategy.canary.steps: {e}")))
}

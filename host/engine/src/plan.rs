//! `aviary plan`: what the controller would do to a rollout's ReplicaSets, offline.
//!
//! Two questions: "given this cluster state, what counts does the controller want now?"
//! ([`desired_now`]) and "walk the whole update from a fresh start" ([`walk`]): stable at full
//! scale and available, pods ready at once, one ReplicaSet change per reconcile (older
//! ReplicaSets together, as Argo does), pauses, analyses and experiments treated as promoted or
//! successful, scale-down delays treated as elapsed. The walk is the controller's own decision
//! ([`crate::rollout::reconcile`]) in a loop over a simulated cluster; [`desired_now`] calls the
//! scaling decision it makes ([`crate::reconcile_order::canary_scaling`]).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use aviary_api::AnalysisPhase;
use aviary_api::rollout::{CanaryStep, Rollout};
use aviary_api::rollout_status::{PauseReason, RolloutStatus};
use aviary_api::validation::validate_rollout;

use crate::canary::desired_counts;
use crate::error::EngineError;
use crate::observed::{ObservedReplicaSets, ReplicaSetState};
use crate::reconcile_order::{ReplicaSetRole, ScaleAction, canary_scaling, older_scaling, scale_down_deadline};
use crate::rollout::{self, BlueGreenServices, Observed, PauseContext, RolloutAction, RunObservation, ServiceState};
use crate::weight::{
    canary_replicas_or_weight, current_step, desired_canary_weight, max_weight, status as status_of, traffic_weights,
};

const STABLE: &str = "stable";
const CANARY: &str = "canary";

/// A plan scenario: a Rollout and, optionally, the cluster state now.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The Rollout manifest.
    pub rollout: Rollout,
    /// What the cluster looks like now; absent means "walk the whole update".
    #[serde(default)]
    pub state: Option<ScenarioState>,
}

/// The cluster state of a scenario.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScenarioState {
    /// `status.currentStepIndex`; default 0.
    #[serde(default)]
    pub current_step_index: i32,
    /// `status.abort`.
    #[serde(default)]
    pub abort: bool,
    /// `status.promoteFull`.
    #[serde(default)]
    pub promote_full: bool,
    /// The stable ReplicaSet; null when there is none (first deploy).
    #[serde(default)]
    pub stable: Option<ReplicaCounts>,
    /// The canary ReplicaSet; null when it does not exist yet.
    #[serde(default)]
    pub canary: Option<ReplicaCounts>,
    /// Other old ReplicaSets, newest first.
    #[serde(default)]
    pub older: Vec<ReplicaCounts>,
    /// Traffic weights recorded in the status.
    #[serde(default)]
    pub weights: Option<ScenarioWeights>,
}

/// A ReplicaSet's pods in a scenario.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReplicaCounts {
    /// `spec.replicas`.
    pub replicas: i32,
    /// Available pods; default: all of them.
    #[serde(default)]
    pub available: Option<i32>,
}

/// Traffic weights in a scenario.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioWeights {
    /// Canary weight.
    pub canary: i32,
    /// Stable weight.
    pub stable: i32,
}

impl Scenario {
    /// Parses a scenario from YAML, naming the file and the field on error. The rollout's
    /// `metadata` may be left out.
    pub fn from_yaml(text: &str, source_name: &str) -> Result<Scenario, EngineError> {
        let mut raw: serde_json::Value = serde_norway::from_str(text).map_err(|e| EngineError::BadInput {
            source_name: source_name.to_string(),
            field: "(document)".to_string(),
            reason: e.to_string(),
        })?;
        if let Some(ro) = raw.get_mut("rollout").and_then(serde_json::Value::as_object_mut) {
            ro.entry("metadata").or_insert_with(|| serde_json::json!({}));
        }
        serde_path_to_error::deserialize(raw).map_err(|e| {
            let path = e.path().to_string();
            EngineError::BadInput {
                source_name: source_name.to_string(),
                field: if path == "." || path.is_empty() { "(document)".to_string() } else { path },
                reason: e.into_inner().to_string(),
            }
        })
    }
}

impl Scenario {
    /// Parses a scenario and checks its rollout against the Rollout CRD schema first, the way
    /// `kubectl apply` with strict validation would: a misspelt step type or a string where a
    /// number belongs is reported with its field path.
    pub fn from_yaml_checked(text: &str, source_name: &str) -> Result<Scenario, EngineError> {
        let raw: serde_json::Value = serde_norway::from_str(text).map_err(|e| EngineError::BadInput {
            source_name: source_name.to_string(),
            field: "(document)".to_string(),
            reason: e.to_string(),
        })?;
        if let Some(ro) = raw.get("rollout")
            && let Some(schema) = aviary_api::crd::schema_for_kind("Rollout")
            && let Some(first) = aviary_api::crd::check_against_schema(ro, schema).into_iter().next()
        {
            return Err(EngineError::BadInput {
                source_name: source_name.to_string(),
                field: format!("rollout{}", first.path),
                reason: first.reason,
            });
        }
        Scenario::from_yaml(text, source_name)
    }
}

fn object_name(rollout: &Rollout) -> String {
    format!("rollout {:?}", rollout.metadata.name.clone().unwrap_or_default())
}

/// Argo's validation, as an engine error naming every invalid field.
pub fn check_valid(rollout: &Rollout) -> Result<(), EngineError> {
    let errors = validate_rollout(rollout);
    if errors.is_empty() {
        return Ok(());
    }
    Err(EngineError::InvalidSpec {
        object: object_name(rollout),
        errors: errors.iter().map(|e| e.to_string()).collect(),
    })
}

fn rs(hash: &str, c: ReplicaCounts) -> ReplicaSetState {
    ReplicaSetState::new(hash, c.replicas, c.available.unwrap_or(c.replicas))
}

/// The counts the controller wants now, for a scenario with a state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DesiredNow {
    /// Pods the stable (blue-green: active) ReplicaSet should have.
    pub stable: i32,
    /// Pods the canary (blue-green: preview) ReplicaSet should have.
    pub canary: i32,
    /// Pods each older ReplicaSet should have, in the scenario's order.
    pub older: Vec<i32>,
    /// The desired weight (out of `maxWeight`).
    pub weight: i32,
    /// The scale weights are out of.
    #[serde(rename = "maxWeight")]
    pub max_weight: i32,
    /// The change the controller makes in its next reconcile.
    #[serde(rename = "nextActions")]
    pub next_actions: Vec<PlanAction>,
}

/// One scaling action, named for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlanAction {
    /// `stable`, `canary` or `older`.
    #[serde(rename = "replicaSet")]
    pub replica_set: String,
    /// Pods before.
    pub from: i32,
    /// Pods after.
    pub to: i32,
}

fn label(observed: &ObservedReplicaSets, which: ReplicaSetRole) -> String {
    let hash = match which {
        ReplicaSetRole::Stable => return STABLE.to_string(),
        ReplicaSetRole::Canary => return CANARY.to_string(),
        ReplicaSetRole::Older(i) => observed.older.get(i).map(|r| r.pod_template_hash.as_str()).unwrap_or_default(),
    };
    if hash == STABLE { STABLE.to_string() } else { "older".to_string() }
}

fn status_for(state: &ScenarioState, max: i32) -> RolloutStatus {
    let _ = max;
    RolloutStatus {
        stable_rs: if state.stable.is_some() { STABLE.to_string() } else { String::new() },
        current_pod_hash: CANARY.to_string(),
        current_step_index: Some(state.current_step_index),
        abort: state.abort,
        promote_full: state.promote_full,
        canary: aviary_api::rollout_status::CanaryStatus {
            weights: state.weights.map(|w| traffic_weights(w.canary, w.stable)),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// The counts the controller computes now for the scenario's state. A canary ReplicaSet that
/// does not exist yet counts as one with 0 pods (the controller creates it first).
pub fn desired_now(rollout: &Rollout, state: &ScenarioState, now: DateTime<Utc>) -> Result<DesiredNow, EngineError> {
    check_valid(rollout)?;
    let mut ro = rollout.clone();
    let max = max_weight(&ro);
    ro.status = Some(status_for(state, max));
    let observed = ObservedReplicaSets {
        new_rs: Some(state.canary.map(|c| rs(CANARY, c)).unwrap_or_else(|| ReplicaSetState::new(CANARY, 0, 0))),
        stable_rs: state.stable.map(|c| rs(STABLE, c)),
        older: state.older.iter().enumerate().map(|(i, c)| rs(&format!("older-{i}"), *c)).collect(),
    };
    if rollout.spec.blue_green().is_some() {
        let preview = crate::bluegreen::new_rs_replicas(&ro, &observed);
        return Ok(DesiredNow {
            stable: observed.stable_rs.as_ref().map_or(0, |r| r.spec_replicas),
            canary: preview,
            older: observed.older.iter().map(|r| r.spec_replicas).collect(),
            weight: max,
            max_weight: max,
            next_actions: Vec::new(),
        });
    }
    let target = canary_replicas_or_weight(&ro, &observed);
    let new_weights = ro.spec.canary().and_then(|c| c.traffic_routing.as_ref()).map(|_| {
        let w = desired_canary_weight(&ro, &observed);
        traffic_weights(w, max.saturating_sub(w))
    });
    let weights = ro.status.as_ref().and_then(|s| s.canary.weights.clone()).or(new_weights.clone());
    let counts = desired_counts(&ro, &observed, weights.as_ref());
    let olders = older_scaling(&ro, &observed, now);
    let mut older: Vec<i32> = observed.older.iter().map(|r| r.spec_replicas).collect();
    for a in &olders.actions {
        if let ReplicaSetRole::Older(i) = a.which
            && let Some(spec) = older.get_mut(i)
        {
            *spec = a.to;
        }
    }
    let next = canary_scaling(&ro, &observed, new_weights.as_ref(), now);
    Ok(DesiredNow {
        stable: if observed.stable_exists() { counts.stable } else { 0 },
        canary: counts.canary,
        older,
        weight: target.weight,
        max_weight: max,
        next_actions: next
            .actions
            .iter()
            .map(|a| PlanAction { replica_set: label(&observed, a.which), from: a.from, to: a.to })
            .collect(),
    })
}

/// One step of a walk.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlannedStep {
    /// The step's index.
    pub index: usize,
    /// The step as written.
    pub step: CanaryStep,
    /// The scaling actions taken while the step ran, in order.
    pub actions: Vec<PlanAction>,
    /// Canary pods once the step is complete.
    pub canary: i32,
    /// Stable pods once the step is complete.
    pub stable: i32,
    /// Pods of older ReplicaSets once the step is complete.
    #[serde(skip_serializing_if = "is_zero")]
    pub older: i32,
    /// Reconciles the step took.
    pub reconciles: usize,
    /// The weight in force during the step (out of `maxWeight`), for the text table.
    #[serde(skip)]
    pub weight: i32,
}

fn is_zero(v: &i32) -> bool {
    *v == 0
}

/// After the last step: full promotion and the old stable's scale-down.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlannedPromotion {
    /// The scaling actions, in order.
    pub actions: Vec<PlanAction>,
    /// Canary (now stable) pods at the end.
    pub canary: i32,
    /// Pods left on the previous stable at the end.
    pub stable: i32,
    /// Reconciles it took.
    pub reconciles: usize,
}

/// A whole walk.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Plan {
    /// `spec.replicas`.
    pub replicas: i32,
    /// The scale weights are out of.
    #[serde(rename = "maxWeight")]
    pub max_weight: i32,
    /// One entry per step.
    pub steps: Vec<PlannedStep>,
    /// The full promotion after the last step.
    pub promotion: PlannedPromotion,
}

/// The cluster `walk` simulates: the rollout with its status, its ReplicaSets (pods ready at
/// once), the clock, and the decisions taken so far sorted by step.
struct Walker {
    ro: Rollout,
    observed: ObservedReplicaSets,
    now: DateTime<Utc>,
    steps_hash: String,
    planned: Vec<PlannedStep>,
    promotion: PlannedPromotion,
    /// Blue-green: the active and preview Services as the reconciles switched them.
    services: BlueGreenServices,
}

impl Walker {
    fn status(&self) -> &RolloutStatus {
        status_of(&self.ro)
    }

    fn promoted(&self) -> bool {
        self.status().stable_rs == CANARY
    }

    /// Applies a scale action as the cluster would: the pods exist and are available at once.
    fn apply(&mut self, a: &ScaleAction) -> PlanAction {
        let label = label(&self.observed, a.which);
        let desired = self.ro.spec.replicas_or_default();
        if let Some(r) = self.observed.role_mut(a.which) {
            r.spec_replicas = a.to;
            r.status_replicas = a.to;
            r.available = a.to;
            r.ready = a.to;
            r.desired_replicas = Some(desired);
        }
        PlanAction { replica_set: label, from: a.from, to: a.to }
    }

    /// Applies one decided change; a size change is returned for the plan. A scale-down deadline
    /// is treated as elapsed (the clock moves past it).
    fn carry_out(&mut self, action: &RolloutAction) -> Option<PlanAction> {
        match action {
            RolloutAction::Scale(a) if a.from != a.to => Some(self.apply(a)),
            RolloutAction::Scale(_) => None,
            RolloutAction::SwitchService { service, to, .. } => {
                for svc in [self.services.active.as_mut(), self.services.preview.as_mut()].into_iter().flatten() {
                    if svc.name == *service {
                        svc.selector = Some(to.clone());
                        svc.managed = true;
                    }
                }
                None
            }
            RolloutAction::ScaleDownDeadline { which, at } => {
                if let Some(r) = self.observed.role_mut(*which) {
                    r.scale_down_deadline = *at;
                }
                if let Some(at) = at {
                    self.now = self.now.max(crate::clock::after(*at, Duration::seconds(1)));
                }
                None
            }
        }
    }

    /// What the controller would observe now: analysis steps and experiments succeed.
    fn observe(&self) -> Observed {
        let (step, _) = current_step(&self.ro);
        let run = |phase| RunObservation {
            record: aviary_api::rollout_status::RolloutAnalysisRunStatus {
                name: "plan".into(),
                status: "Successful".into(),
                message: String::new(),
            },
            phase,
        };
        Observed {
            replica_sets: self.observed.clone(),
            steps_hash: self.steps_hash.clone(),
            revision: 2,
            step_run: step.and_then(|s| s.analysis.as_ref()).map(|_| run(AnalysisPhase::Successful)),
            experiment: step.and_then(|s| s.experiment.as_ref()).map(|_| AnalysisPhase::Successful),
            services: self.services.clone(),
            pre_promotion_run: self
                .ro
                .spec
                .blue_green()
                .and_then(|b| b.pre_promotion_analysis.as_ref())
                .map(|_| run(AnalysisPhase::Successful)),
            post_promotion_run: self
                .ro
                .spec
                .blue_green()
                .and_then(|b| b.post_promotion_analysis.as_ref())
                .map(|_| run(AnalysisPhase::Successful)),
            ..Default::default()
        }
    }

    /// A step plugin's call, answered Successful.
    fn step_succeeded(&self, c: &crate::step_plugin::Call) -> crate::step_plugin::CallAnswer {
        crate::step_plugin::CallAnswer {
            index: c.index,
            operation: c.operation,
            outcome: crate::step_plugin::Outcome::Answered(crate::step_plugin::Answer::Result {
                phase: aviary_api::rollout_status::StepPluginPhase::Successful,
                message: String::new(),
                requeue_after: None,
                status: c.status.clone(),
            }),
            at: self.now,
        }
    }

    /// The people around the controller: a pause step is promoted (an indefinite one by
    /// `kubectl argo rollouts promote`, a timed one by waiting it out), a user pause lifted.
    fn operate(&mut self) {
        let mut status = self.status().clone();
        // A blue-green pause is promoted (`kubectl argo rollouts promote`).
        if status.pause_conditions.iter().any(|c| c.reason == PauseReason::BlueGreenPause) {
            status.pause_conditions.clear();
            self.ro.status = Some(status);
            return;
        }
        let Some(pause) = status.pause_conditions.iter().find(|c| c.reason == PauseReason::CanaryPauseStep) else {
            return;
        };
        let timed = current_step(&self.ro).0.and_then(|s| s.pause.as_ref()).and_then(|p| {
            p.duration
                .as_ref()
                .map(|_| crate::clock::after_seconds(pause.start_time.0, i64::from(p.duration_seconds())))
        });
        match timed {
            Some(end) => self.now = self.now.max(crate::clock::after(end, Duration::seconds(1))),
            None => {
                status.pause_conditions.clear();
                self.ro.status = Some(status);
            }
        }
    }

    /// One reconcile of the controller ([`crate::rollout::reconcile`], after the Paused
    /// conditions' own write); the scale actions are returned.
    fn reconcile(&mut self) -> Vec<PlanAction> {
        self.now = crate::clock::after(self.now, Duration::seconds(1));
        if let Some(status) = rollout::paused_conditions_status(&self.ro, self.now) {
            self.ro.status = Some(status);
            return Vec::new();
        }
        let o = self.observe();
        let pause = PauseContext::start(&self.ro);
        let mut decision = rollout::reconcile(&self.ro, &o, pause.clone(), self.now);
        if !decision.step_plugin_calls.is_empty() {
            // Step plugins answer Successful at once, as analyses and experiments do here.
            let mut o = o;
            o.step_plugin_answers = Some(decision.step_plugin_calls.iter().map(|c| self.step_succeeded(c)).collect());
            decision = rollout::reconcile(&self.ro, &o, pause, self.now);
        }
        let actions: Vec<PlanAction> = decision.actions.iter().filter_map(|a| self.carry_out(a)).collect();
        let was_promoted = self.promoted();
        self.ro.status = Some(decision.status);
        if !was_promoted && self.promoted() {
            // The canary is the stable now; the previous stable is an older ReplicaSet, kept
            // until its scale-down deadline (treated as elapsed).
            let deadline = scale_down_deadline(&self.ro, self.now);
            if let Some(mut old) = self.observed.stable_rs.take() {
                old.scale_down_deadline = deadline;
                self.observed.older.insert(0, old);
            }
            self.observed.stable_rs = self.observed.new_rs.clone();
            if let Some(d) = deadline {
                self.now = self.now.max(crate::clock::after(d, Duration::seconds(1)));
            }
        }
        actions
    }

    fn pods(&self, hash: &str) -> i32 {
        [self.observed.new_rs.as_ref(), self.observed.stable_rs.as_ref()]
            .into_iter()
            .flatten()
            .chain(self.observed.older.iter())
            .find(|r| r.pod_template_hash == hash)
            .map_or(0, |r| r.spec_replicas)
    }

    fn older_pods(&self) -> i32 {
        self.observed.older.iter().filter(|r| r.pod_template_hash != STABLE).map(|r| r.spec_replicas).sum()
    }

    /// Where the actions of a reconcile that started at step `index` belong.
    fn record(&mut self, index: Option<usize>, actions: Vec<PlanAction>) {
        match index.and_then(|i| self.planned.get_mut(i)) {
            Some(step) => {
                step.actions.extend(actions);
                step.reconciles = step.reconciles.saturating_add(1);
            }
            None => {
                self.promotion.actions.extend(actions);
                self.promotion.reconciles = self.promotion.reconciles.saturating_add(1);
            }
        }
    }

    /// The pods once step `index` is complete.
    fn close(&mut self, index: usize) {
        let (canary, stable, older) = (self.pods(CANARY), self.pods(STABLE), self.older_pods());
        if let Some(step) = self.planned.get_mut(index) {
            step.canary = canary;
            step.stable = stable;
            step.older = older;
        }
    }
}

/// Walks the whole update from a fresh start (see the module documentation): the controller's
/// own decision ([`crate::rollout::reconcile`]) in a loop over a simulated cluster, from the
/// moment the new ReplicaSet exists until the previous stable has no pods.
pub fn walk(rollout: &Rollout, start: DateTime<Utc>) -> Result<Plan, EngineError> {
    check_valid(rollout)?;
    let n = rollout.spec.replicas_or_default();
    if rollout.spec.blue_green().is_some() {
        return walk_blue_green(rollout, start);
    }
    let mut ro = rollout.clone();
    let max = max_weight(&ro);
    let steps = ro.spec.canary().map(|c| c.steps.clone()).unwrap_or_default();
    let count = i32::try_from(steps.len()).unwrap_or(i32::MAX);
    let steps_hash = aviary_api::hash::step_hash(&ro).map_err(|e| EngineError::BadInput {
        source_name: object_name(rollout),
        field: "spec.strategy.canary.steps".into(),
        reason: e.to_string(),
    })?;
    let traffic_routed = ro.spec.canary().is_some_and(|c| c.traffic_routing.is_some());
    // The previous update is done: the stable runs the previous template at full scale, and
    // the new template's ReplicaSet has just been created.
    ro.status = Some(RolloutStatus {
        stable_rs: STABLE.to_string(),
        current_pod_hash: STABLE.to_string(),
        current_step_hash: steps_hash.clone(),
        current_step_index: (count > 0).then_some(count),
        observed_generation: ro.metadata.generation.unwrap_or(0).to_string(),
        canary: aviary_api::rollout_status::CanaryStatus {
            weights: traffic_routed.then(|| traffic_weights(0, max)),
            ..Default::default()
        },
        ..Default::default()
    });
    let mut w = Walker {
        ro,
        observed: ObservedReplicaSets {
            new_rs: Some(ReplicaSetState { name: CANARY.into(), ..ReplicaSetState::new(CANARY, 0, 0) }),
            stable_rs: Some(ReplicaSetState { name: STABLE.into(), ..ReplicaSetState::ready(STABLE, n) }),
            older: vec![],
        },
        now: start,
        steps_hash,
        planned: steps
            .iter()
            .enumerate()
            .map(|(index, step)| PlannedStep {
                index,
                step: step.clone(),
                actions: Vec::new(),
                canary: 0,
                stable: 0,
                older: 0,
                reconciles: 0,
                weight: 0,
            })
            .collect(),
        promotion: PlannedPromotion { actions: Vec::new(), canary: 0, stable: 0, reconciles: 0 },
        services: BlueGreenServices::default(),
    };
    let budget = usize::try_from(n).unwrap_or(0).saturating_add(steps.len()).saturating_mul(8).saturating_add(64);
    let mut quiet = 0u32;
    let mut last: Option<usize> = None;
    for _ in 0..budget {
        // The step this reconcile starts at, once the update has started (the first reconcile
        // resets the previous update's step index).
        let started = w.status().current_pod_hash == CANARY;
        let index = if started && !w.promoted() {
            w.status().current_step_index.and_then(|i| usize::try_from(i).ok()).filter(|i| *i < steps.len())
        } else {
            None
        };
        if index != last {
            // The previous step is complete: its pods are the ones before this reconcile.
            if let Some(prev) = last {
                w.close(prev);
            }
            if let Some(i) = index {
                let weight = canary_replicas_or_weight(&w.ro, &w.observed).weight;
                if let Some(step) = w.planned.get_mut(i) {
                    step.weight = weight;
                }
            }
            last = index;
        }
        let before = w.status().clone();
        let actions = w.reconcile();
        let changed = !actions.is_empty() || *w.status() != before;
        if started || !actions.is_empty() {
            w.record(index, actions);
        }
        w.operate();
        quiet = if changed { 0 } else { quiet.saturating_add(1) };
        if w.promoted() && w.pods(STABLE) == 0 && quiet >= 1 {
            return Ok(Plan {
                replicas: n,
                max_weight: max,
                promotion: PlannedPromotion { canary: w.pods(CANARY), stable: w.pods(STABLE), ..w.promotion },
                steps: w.planned,
            });
        }
        if quiet >= 3 {
            break;
        }
    }
    let field = match w.status().current_step_index {
        Some(i) if !w.promoted() && usize::try_from(i).is_ok_and(|i| i < steps.len()) => {
            format!("spec.strategy.canary.steps[{i}]")
        }
        _ => "spec.strategy.canary".to_string(),
    };
    Err(EngineError::Stuck {
        object: object_name(&w.ro),
        field,
        reconciles: budget,
        reason: format!("canary {} / stable {} pods, target not reached", w.pods(CANARY), w.pods(STABLE)),
    })
}

/// The blue-green walk: the same reconcile in a loop, the active and preview Services
/// simulated, pauses promoted and promotion analyses successful. With `previewReplicaCount`, the
/// preview coming up is a step of its own; everything from the preview scale-up checkpoint on
/// (full scale, the switch, the old ReplicaSet's scale-down) is the promotion.
fn walk_blue_green(rollout: &Rollout, start: DateTime<Utc>) -> Result<Plan, EngineError> {
    let n = rollout.spec.replicas_or_default();
    let bg = rollout.spec.blue_green();
    let preview_count = bg.and_then(|b| b.preview_replica_count);
    let selecting_stable =
        |name: &str| ServiceState { name: name.into(), selector: Some(STABLE.into()), managed: true };
    let mut ro = rollout.clone();
    // The previous update is done: the active (and preview) Service selects the stable
    // ReplicaSet, and the new template's ReplicaSet has just been created.
    ro.status = Some(RolloutStatus {
        stable_rs: STABLE.to_string(),
        current_pod_hash: STABLE.to_string(),
        observed_generation: ro.metadata.generation.unwrap_or(0).to_string(),
        blue_green: aviary_api::rollout_status::BlueGreenStatus {
            active_selector: STABLE.to_string(),
            preview_selector: bg
                .filter(|b| !b.preview_service.is_empty())
                .map(|_| STABLE.to_string())
                .unwrap_or_default(),
            ..Default::default()
        },
        ..Default::default()
    });
    let mut w = Walker {
        ro,
        observed: ObservedReplicaSets {
            new_rs: Some(ReplicaSetState { name: CANARY.into(), ..ReplicaSetState::new(CANARY, 0, 0) }),
            stable_rs: Some(ReplicaSetState {
                name: STABLE.into(),
                desired_replicas: Some(n),
                ..ReplicaSetState::ready(STABLE, n)
            }),
            older: vec![],
        },
        now: start,
        steps_hash: String::new(),
        planned: Vec::new(),
        promotion: PlannedPromotion { actions: Vec::new(), canary: n, stable: 0, reconciles: 0 },
        services: BlueGreenServices {
            active: bg.map(|b| selecting_stable(&b.active_service)),
            preview: bg.filter(|b| !b.preview_service.is_empty()).map(|b| selecting_stable(&b.preview_service)),
        },
    };
    let mut preview = PlannedStep {
        index: 0,
        step: CanaryStep::default(),
        actions: Vec::new(),
        canary: 0,
        stable: n,
        older: 0,
        reconciles: 0,
        weight: 0,
    };
    let budget = usize::try_from(n).unwrap_or(0).saturating_mul(8).saturating_add(64);
    for _ in 0..budget {
        let in_preview =
            preview_count.is_some() && !w.status().blue_green.scale_up_preview_check_point && !w.promoted();
        let actions = w.reconcile();
        if !actions.is_empty() {
            let (list, reconciles) = if in_preview {
                (&mut preview.actions, &mut preview.reconciles)
            } else {
                (&mut w.promotion.actions, &mut w.promotion.reconciles)
            };
            list.extend(actions);
            *reconciles = reconciles.saturating_add(1);
        }
        if in_preview {
            preview.canary = w.pods(CANARY);
        }
        w.operate();
        if w.promoted() && w.pods(STABLE) == 0 && w.pods(CANARY) == n {
            let steps = if preview_count.is_some() { vec![preview] } else { Vec::new() };
            return Ok(Plan { replicas: n, max_weight: 100, steps, promotion: w.promotion });
        }
    }
    Err(EngineError::Stuck {
        object: object_name(rollout),
        field: "spec.strategy.blueGreen".into(),
        reconciles: budget,
        reason: format!("new {} / previous {} pods, promotion not reached", w.pods(CANARY), w.pods(STABLE)),
    })
}

fn describe_step(step: &CanaryStep) -> String {
    if let Some(w) = step.set_weight {
        return format!("setWeight {w}");
    }
    if let Some(p) = &step.pause {
        return match &p.duration {
            None => "pause (until promoted)".to_string(),
            Some(aviary_api::IntOrString::Int(s)) => format!("pause {s}s"),
            Some(aviary_api::IntOrString::String(s)) => format!("pause {s}"),
        };
    }
    if let Some(s) = &step.set_canary_scale {
        if let Some(r) = s.replicas {
            return format!("setCanaryScale replicas {r}");
        }
        if let Some(w) = s.weight {
            return format!("setCanaryScale weight {w}");
        }
        return "setCanaryScale matchTrafficWeight".to_string();
    }
    if let Some(a) = &step.analysis {
        let names: Vec<_> = a.templates.iter().map(|t| t.template_name.as_str()).collect();
        return format!("analysis {}", names.join(","));
    }
    if let Some(e) = &step.experiment {
        let names: Vec<_> = e.templates.iter().map(|t| t.name.as_str()).collect();
        return format!("experiment {} (waits until it succeeds)", names.join(","));
    }
    if let Some(h) = &step.set_header_route {
        return format!("setHeaderRoute {}", h.name);
    }
    if let Some(m) = &step.set_mirror_route {
        return format!("setMirrorRoute {}", m.name);
    }
    if let Some(p) = &step.plugin {
        return format!("plugin {} (waits until it answers successful)", p.name);
    }
    "preview".to_string()
}

fn describe_actions(actions: &[PlanAction]) -> String {
    if actions.is_empty() {
        return "-".to_string();
    }
    actions.iter().map(|a| format!("{} {}→{}", a.replica_set, a.from, a.to)).collect::<Vec<_>>().join(", ")
}

fn share(canary: i32, stable: i32) -> String {
    let total = canary.saturating_add(stable);
    if total == 0 {
        return "-".to_string();
    }
    format!("{:.1}%", f64::from(canary) * 100.0 / f64::from(total))
}

/// The walk as a table a person reads at a glance: per step, the actions, the pod totals and
/// the real canary share next to the requested weight.
pub fn render_text(plan: &Plan) -> String {
    let mut rows: Vec<[String; 6]> = vec![[
        "STEP".into(),
        "ACTIONS".into(),
        "CANARY".into(),
        "STABLE".into(),
        "PODS".into(),
        "CANARY SHARE / WEIGHT".into(),
    ]];
    let weight_pct = |w: i32| format!("{:.1}%", f64::from(w) * 100.0 / f64::from(plan.max_weight.max(1)));
    for s in &plan.steps {
        let requested = weight_pct(s.weight);
        rows.push([
            format!("{} {}", s.index, describe_step(&s.step)),
            describe_actions(&s.actions),
            s.canary.to_string(),
            s.stable.to_string(),
            s.canary.saturating_add(s.stable).saturating_add(s.older).to_string(),
            format!("{} / {}", share(s.canary, s.stable), requested),
        ]);
    }
    rows.push([
        "promote".into(),
        describe_actions(&plan.promotion.actions),
        plan.promotion.canary.to_string(),
        plan.promotion.stable.to_string(),
        plan.promotion.canary.saturating_add(plan.promotion.stable).to_string(),
        format!("{} / {}", share(plan.promotion.canary, plan.promotion.stable), weight_pct(plan.max_weight)),
    ]);
    let mut widths = [0usize; 6];
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = format!("replicas {}\n", plan.replicas);
    for r in rows {
        let line: Vec<String> = r.iter().zip(widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// The desired counts as text.
pub fn render_desired_text(d: &DesiredNow) -> String {
    let mut out = format!("stable {}  canary {}  weight {}/{}\n", d.stable, d.canary, d.weight, d.max_weight);
    if !d.older.is_empty() {
        out.push_str(&format!("older {:?}\n", d.older));
    }
    if d.next_actions.is_empty() {
        out.push_str("next reconcile: nothing to scale\n");
    } else {
        out.push_str(&format!("next reconcile: {}\n", describe_actions(&d.next_actions)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::RolloutBuilder;
    use aviary_api::IntOrString;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn valid(b: RolloutBuilder) -> Rollout {
        let mut ro = b.build();
        ro.spec.selector = Some(aviary_api::k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
            match_labels: Some([("app".to_string(), "demo".to_string())].into()),
            ..Default::default()
        });
        ro.spec.template = Some(
            serde_json::from_value(serde_json::json!({
                "metadata": {"labels": {"app": "demo"}},
                "spec": {"containers": [{"name": "app", "image": "nginx"}]}
            }))
            .unwrap(),
        );
        ro
    }

    fn act(rs: &str, from: i32, to: i32) -> PlanAction {
        PlanAction { replica_set: rs.into(), from, to }
    }

    /// Reference §2.8: 10 replicas, setWeight 25 then pause, default fenceposts.
    #[test]
    fn reference_walk_10_replicas_25_percent() {
        let ro = valid(RolloutBuilder::canary(10).set_weight(25).pause());
        let plan = walk(&ro, t0()).unwrap();
        assert_eq!(plan.steps[0].actions, vec![act("stable", 10, 8), act("canary", 0, 3)]);
        assert_eq!((plan.steps[0].canary, plan.steps[0].stable), (3, 8));
        assert!(plan.steps[1].actions.is_empty());
        assert_eq!((plan.promotion.canary, plan.promotion.stable), (10, 0));
    }

    /// §2.8 variant: maxSurge 0 / maxUnavailable 1 alternates one pod at a time.
    #[test]
    fn reference_walk_no_surge_alternates() {
        let ro = valid(RolloutBuilder::canary(10).set_weight(25).pause().fenceposts(0, 1));
        let plan = walk(&ro, t0()).unwrap();
        assert_eq!(
            plan.steps[0].actions,
            vec![
                act("stable", 10, 9),
                act("canary", 0, 1),
                act("stable", 9, 8),
                act("canary", 1, 2),
                act("stable", 8, 7),
                act("canary", 2, 3)
            ]
        );
        assert_eq!((plan.steps[0].canary, plan.steps[0].stable), (3, 7));
    }

    #[test]
    fn traffic_routed_walk_keeps_the_stable_at_full_scale() {
        let ro = valid(RolloutBuilder::canary(10).traffic_routing().set_weight(25).pause());
        let plan = walk(&ro, t0()).unwrap();
        assert_eq!(plan.steps[0].actions, vec![act("canary", 0, 3)]);
        assert_eq!((plan.steps[0].canary, plan.steps[0].stable), (3, 10));
        assert_eq!(plan.promotion.actions.last(), Some(&act("stable", 10, 0)));
    }

    #[test]
    fn dynamic_stable_scale_lags_the_weight_by_one_reconcile() {
        let ro = valid(RolloutBuilder::canary(10).traffic_routing().dynamic_stable_scale().set_weight(25).pause());
        let plan = walk(&ro, t0()).unwrap();
        // The weight moves to 25 only once the canary's 3 pods are available (the step then
        // completes), and the stable follows the recorded weight one reconcile later: at the
        // pause step.
        assert_eq!(plan.steps[0].actions, vec![act("canary", 0, 3)]);
        assert_eq!(plan.steps[1].actions.first(), Some(&act("stable", 10, 8)), "{:?}", plan.steps[1]);
    }

    /// A plugin step waits for its plugin and an experiment step for its experiment (both
    /// assumed to succeed at once here); the walk goes on through them, the plugin's call asked
    /// for by the controller's own decision.
    #[test]
    fn a_walk_runs_through_plugin_and_experiment_steps() {
        let plugin = aviary_api::CanaryStep {
            plugin: Some(aviary_api::rollout::PluginStep { name: "acme/check".into(), config: None }),
            ..Default::default()
        };
        let experiment = aviary_api::CanaryStep {
            experiment: Some(aviary_api::rollout::RolloutExperimentStep {
                templates: vec![aviary_api::rollout::RolloutExperimentTemplate {
                    name: "baseline".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        let ro = valid(RolloutBuilder::canary(10).set_weight(25).step(plugin).step(experiment).set_weight(50));
        let plan = walk(&ro, t0()).unwrap();
        assert_eq!(plan.steps.len(), 4);
        assert_eq!(describe_step(&plan.steps[1].step), "plugin acme/check (waits until it answers successful)");
        assert_eq!(describe_step(&plan.steps[2].step), "experiment baseline (waits until it succeeds)");
        assert!(plan.steps[1].actions.is_empty(), "{:?}", plan.steps[1]);
        assert!(plan.steps[2].actions.is_empty(), "{:?}", plan.steps[2]);
        assert_eq!((plan.steps[3].canary, plan.promotion.canary), (5, 10));
    }

    #[test]
    fn desired_now_matches_the_reference_state() {
        let ro = valid(RolloutBuilder::canary(10).set_weight(25).pause());
        let state = ScenarioState {
            stable: Some(ReplicaCounts { replicas: 10, available: Some(10) }),
            canary: Some(ReplicaCounts { replicas: 0, available: Some(0) }),
            ..Default::default()
        };
        let d = desired_now(&ro, &state, t0()).unwrap();
        assert_eq!((d.stable, d.canary, d.weight), (8, 3, 25));
        assert_eq!(d.next_actions, vec![act("stable", 10, 8)]);
    }

    #[test]
    fn invalid_rollouts_are_refused_with_the_field() {
        let ro = valid(RolloutBuilder::canary(10).set_weight(120));
        let err = walk(&ro, t0()).unwrap_err().to_string();
        assert!(err.contains("spec.strategy.canary.steps[0].setWeight"), "{err}");
        assert!(err.contains("SetWeight needs to be between 0 and 100"), "{err}");
    }

    #[test]
    fn scenario_errors_name_the_file_and_field() {
        let err = Scenario::from_yaml("rollout:\n  spec:\n    replicas: ten\n", "s.yaml").unwrap_err().to_string();
        assert!(err.starts_with("s.yaml: rollout.spec.replicas:"), "{err}");
        let err = Scenario::from_yaml("rollout: {spec: {}}\nstate:\n  stabel: {replicas: 1}\n", "s.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("state") && err.contains("stabel"), "{err}");
    }

    #[test]
    fn unknown_step_types_are_named_by_the_schema_check() {
        let text = "rollout:\n  spec:\n    strategy:\n      canary:\n        steps:\n        - setWieght: 20\n";
        let err = Scenario::from_yaml_checked(text, "s.yaml").unwrap_err().to_string();
        assert_eq!(err, "s.yaml: rollout.spec.strategy.canary.steps[0].setWieght: field not declared in schema");
        let err = Scenario::from_yaml_checked("rollout: [", "s.yaml").unwrap_err().to_string();
        assert!(err.starts_with("s.yaml: (document): "), "{err}");
    }

    #[test]
    fn blue_green_walk_previews_then_promotes() {
        let mut ro = valid(RolloutBuilder::blue_green(4));
        ro.spec.strategy.blue_green.as_mut().unwrap().preview_replica_count = Some(1);
        let plan = walk(&ro, t0()).unwrap();
        assert_eq!(plan.steps[0].actions, vec![act("canary", 0, 1)]);
        assert_eq!(plan.promotion.actions, vec![act("canary", 1, 4), act("stable", 4, 0)]);
    }

    #[test]
    fn blue_green_walk_without_preview_count_is_one_promotion() {
        let ro = valid(RolloutBuilder::blue_green(4));
        let plan = walk(&ro, t0()).unwrap();
        assert!(plan.steps.is_empty());
        assert_eq!(plan.promotion.actions, vec![act("canary", 0, 4), act("stable", 4, 0)]);
        assert_eq!((plan.promotion.canary, plan.promotion.stable), (4, 0));
    }

    #[test]
    fn blue_green_walk_promotes_a_manual_pause_and_passes_its_analyses() {
        let mut ro = valid(RolloutBuilder::blue_green(3));
        let bg = ro.spec.strategy.blue_green.as_mut().unwrap();
        bg.auto_promotion_enabled = Some(false);
        bg.pre_promotion_analysis = Some(Default::default());
        bg.post_promotion_analysis = Some(Default::default());
        bg.preview_replica_count = Some(2);
        let plan = walk(&ro, t0()).unwrap();
        assert_eq!(plan.steps[0].actions, vec![act("canary", 0, 2)]);
        assert_eq!(plan.steps[0].canary, 2);
        assert_eq!(plan.promotion.actions, vec![act("canary", 2, 3), act("stable", 3, 0)]);
    }

    #[test]
    fn text_table_shows_share_and_weight() {
        let ro =
            valid(RolloutBuilder::canary(10).set_weight(25).pause().max_unavailable(IntOrString::String("25%".into())));
        let text = render_text(&walk(&ro, t0()).unwrap());
        assert!(text.contains("0 setWeight 25"), "{text}");
        assert!(text.contains("27.3% / 25.0%"), "{text}");
        assert!(text.contains("stable 10→8, canary 0→3"), "{text}");
    }
}

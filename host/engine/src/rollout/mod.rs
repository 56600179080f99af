//! One reconcile of a canary Rollout, decided.
//!
//! The controller observes (the ReplicaSets, the current AnalysisRuns and what their outcome
//! asks for, the pod restarts it made), calls [`reconcile`], and applies the answer: the
//! ReplicaSets to scale, the status to write, the events to record, when to look again.
//! `aviary plan` feeds the same function a simulated cluster, so what it prints is what the
//! controller does. Every rule about the step index, full promotion, pause and abort handling,
//! the progress deadline, the Progressing, Available, Healthy, Completed and Paused conditions,
//! the phase and the message is decided here ([`canary`], [`crate::conditions`],
//! [`crate::phase`]); the writes that end a reconcile early have their own small functions
//! ([`paused_conditions_status`], [`invalid_spec_status`], [`created_replica_set_status`],
//! [`found_new_replica_set`]).

mod bluegreen;
mod canary;
mod describe;
pub mod pause;
pub mod restart;
pub mod revision;
pub mod runs;
#[cfg(test)]
mod step_plugin_tests;
mod step_plugins;
#[cfg(test)]
mod tests;
pub mod traffic;
pub mod workload;

use std::time::Duration;

use aviary_api::rollout_status::{RolloutAnalysisRunStatus, RolloutCondition, RolloutStatus};
use aviary_api::{AnalysisPhase, Rollout, Time};
use chrono::{DateTime, Utc};

use crate::conditions::{self as cond, Event, kind, reason};
use crate::observed::{ObservedReplicaSets, ReplicaSetState};
use crate::phase::phase_of;
use crate::reconcile_order::{ReplicaSetRole, ScaleAction, canary_scaling};

/// Argo's `GetRolloutVerifyRetryInterval`: an unverified weight is asked about again this soon.
pub const VERIFY_RETRY: Duration = Duration::from_secs(10);

pub use describe::{selector_string, step_string};
pub use pause::PauseContext;

/// An AnalysisRun the rollout keeps as current, as the decision needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunObservation {
    /// What the rollout's status records of it (name, phase as text, message).
    pub record: RolloutAnalysisRunStatus,
    /// Its phase.
    pub phase: AnalysisPhase,
}

/// What the controller observed and did before the decision, for one reconcile.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    /// The rollout's ReplicaSets by role. The new one exists: the controller creates it first
    /// ([`created_replica_set_status`]) and decides on the next reconcile.
    pub replica_sets: ObservedReplicaSets,
    /// The hash of the canary steps as they are now (`status.currentStepHash`).
    pub steps_hash: String,
    /// The Rollout's `rollout.argoproj.io/revision`.
    pub revision: i64,
    /// `status.restartedAt` after the pod restarts of this reconcile.
    pub restarted_at: Option<Time>,
    /// The current step's AnalysisRun, after this reconcile created or cancelled runs.
    pub step_run: Option<RunObservation>,
    /// The background AnalysisRun, likewise.
    pub background_run: Option<RunObservation>,
    /// The phase of the Experiment the rollout's status names as current (what completes an
    /// experiment step; `aviary plan` treats experiments as successful).
    pub experiment: Option<AnalysisPhase>,
    /// The Experiment to record as `status.canary.currentExperiment` after this reconcile's
    /// reaction to it (none once it finished).
    pub current_experiment: String,
    /// The traffic the current experiment's weighted templates take (see
    /// [`crate::experiment::from_step::weight_destinations`]).
    pub experiment_destinations: Vec<aviary_api::rollout_status::WeightDestination>,
    /// Blue-green: the active and preview Services as read at the start of the reconcile.
    pub services: BlueGreenServices,
    /// Blue-green: the pre-promotion AnalysisRun, after this reconcile created or cancelled runs.
    pub pre_promotion_run: Option<RunObservation>,
    /// Blue-green: the post-promotion AnalysisRun, likewise.
    pub post_promotion_run: Option<RunObservation>,
    /// Traffic routing: what the routers answered to this reconcile's `verify-weight` (`None`:
    /// they cannot tell, or were not asked).
    pub weight_verified: Option<bool>,
    /// Step plugins: the answers to the calls a first decision asked for
    /// ([`RolloutDecision::step_plugin_calls`]); `None` before they are made. With answers the
    /// decision asks for no call.
    pub step_plugin_answers: Option<Vec<crate::step_plugin::CallAnswer>>,
}

/// A Service whose `rollouts-pod-template-hash` selector the rollout switches.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceState {
    /// Its name.
    pub name: String,
    /// The `rollouts-pod-template-hash` in its selector; `None` when it has none.
    pub selector: Option<String>,
    /// It carries the `argo-rollouts.argoproj.io/managed-by-rollouts` annotation.
    pub managed: bool,
}

/// The blue-green Services of a rollout (`activeService`, `previewService`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlueGreenServices {
    /// `activeService` (always set for a valid blue-green rollout).
    pub active: Option<ServiceState>,
    /// `previewService`, when the rollout names one.
    pub preview: Option<ServiceState>,
}

/// One change the controller makes to the cluster, in the order the decision lists them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RolloutAction {
    /// Scale a ReplicaSet (also brings its desired-replicas annotation up to date when the size
    /// stays: Argo's `scaleReplicaSetAndRecordEvent`).
    Scale(ScaleAction),
    /// Set (`Some`) or remove (`None`) a ReplicaSet's `scale-down-deadline` annotation.
    ScaleDownDeadline {
        /// The ReplicaSet.
        which: ReplicaSetRole,
        /// The deadline, written RFC 3339 to the second.
        at: Option<DateTime<Utc>>,
    },
    /// Point a Service's `rollouts-pod-template-hash` selector at `to` (Argo's
    /// `switchServiceSelector`), adding the managed-by annotation when `adopt`.
    SwitchService {
        /// The Service.
        service: String,
        /// The hash it selected (empty: none), for the event.
        from: String,
        /// The hash it selects from now on.
        to: String,
        /// It has no managed-by annotation yet.
        adopt: bool,
    },
}

/// What one reconcile does.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RolloutDecision {
    /// The changes to make, in order, before the status is written.
    pub actions: Vec<RolloutAction>,
    /// A ReplicaSet scaled to zero keeps its `scale-down-deadline` annotation (Argo's
    /// `shouldDelayScaleDownOnAbort`: an aborted blue-green update's preview); otherwise
    /// scaling to zero removes it.
    pub keep_scale_down_deadline: bool,
    /// The status to write (phase and message included); unchanged means no write.
    pub status: RolloutStatus,
    /// Events to record once the status is written.
    pub events: Vec<Event>,
    /// Look again this soon (a timed pause, the progress deadline, the next step, a
    /// scale-down deadline); `None`: only on a change or the resync.
    pub requeue_after: Option<Duration>,
    /// Step plugin calls this decision needs answered: when not empty, the decision is not
    /// applied; the controller makes the calls, in order (stopping after one whose plugin is
    /// unavailable), and decides again with [`Observed::step_plugin_answers`].
    pub step_plugin_calls: Vec<crate::step_plugin::Call>,
}

impl RolloutDecision {
    /// The ReplicaSet scale actions, in order.
    pub fn scales(&self) -> impl Iterator<Item = &ScaleAction> {
        self.actions.iter().filter_map(|a| match a {
            RolloutAction::Scale(s) => Some(s),
            _ => None,
        })
    }
}

/// Argo's `PodTemplateOrStepsChanged` (canary) and `CheckPodSpecChange` (blue-green): a new
/// template or new steps reset the status in this reconcile (a canary acts on nothing else until
/// the next one).
pub fn must_reset(rollout: &Rollout, o: &Observed) -> bool {
    if rollout.spec.blue_green().is_some() {
        return bluegreen::pod_spec_changed(rollout, o);
    }
    let Some(status) = &rollout.status else { return true };
    let steps_changed = status.current_step_hash.is_empty() || status.current_step_hash != o.steps_hash;
    let template_changed = !status.current_pod_hash.is_empty()
        && o.replica_sets.new_rs.as_ref().is_some_and(|rs| rs.pod_template_hash != status.current_pod_hash);
    steps_changed || template_changed
}

/// Argo's `shouldCancelCurrentAnalysis` for a canary: fully promoted, aborted, promoting fully,
/// rolling back fast or deploying for the first time, the current runs are cancelled and no
/// new ones are created.
pub fn skip_analysis(rollout: &Rollout, o: &Observed, pause: &PauseContext, now: DateTime<Utc>) -> bool {
    // `isFastRollback` and the rest are the same for blue-green.
    let status = crate::weight::status(rollout);
    let fully_promoted = !status.stable_rs.is_empty() && status.stable_rs == status.current_pod_hash;
    fully_promoted
        || pause.is_aborted(rollout)
        || status.promote_full
        || canary::Decider::new(rollout, o, pause.clone(), now).is_fast_rollback()
        || status.stable_rs.is_empty()
}

/// Decides one canary reconcile, from the analysis runs on (Argo's `rolloutCanary` after
/// `reconcileAnalysisRuns`): a reset after a change of template or steps; else, unless an
/// analysis paused the rollout, the one ReplicaSet change of this reconcile or, with none, the
/// pause step; then the status (`syncRolloutStatusCanary`, `persistRolloutStatus`).
///
/// `pause` holds what the analysis runs decided (an Inconclusive pause, an abort), started from
/// [`PauseContext::start`].
///
/// A blue-green rollout is decided by `bluegreen.rs` (Argo's `rolloutBlueGreen`).
///
/// The status decided carries the Paused and Progressing conditions that follow its pause
/// ([`with_paused_conditions`]): Argo writes those in a reconcile of their own right after the
/// one that paused or resumed, a request per pause and per resume that changes nothing else.
pub fn reconcile(rollout: &Rollout, o: &Observed, pause: PauseContext, now: DateTime<Utc>) -> RolloutDecision {
    let mut d = decide(rollout, o, pause, now);
    d.status = with_paused_conditions(rollout, std::mem::take(&mut d.status), now);
    d
}

/// [`reconcile`], and where the next reconcile would decide from nothing but the status this
/// one writes (see [`decided_by_status_alone`]), that one too, up to [`MAX_PASSES`] in all: a
/// step completed and the pause that follows it, or a pause that ended and the promotion after
/// it, are one status write instead of Argo's two or three. Each pass is the decision Argo's
/// next reconcile makes, on the same observations; its events follow the previous pass's, and
/// only the last pass may act (scale a ReplicaSet), as the next reconcile would. What the
/// controller runs; [`reconcile`] is one of Argo's reconciles, which the tables test.
pub fn reconcile_settled(rollout: &Rollout, o: &Observed, pause: PauseContext, now: DateTime<Utc>) -> RolloutDecision {
    let mut d = reconcile(rollout, o, pause, now);
    if !decided_by_status_alone(rollout) {
        return d;
    }
    let mut base = std::borrow::Cow::Borrowed(rollout);
    for _ in 1..MAX_PASSES {
        let acted = !d.actions.is_empty() || !d.step_plugin_calls.is_empty();
        if acted || base.status.as_ref() == Some(&d.status) || must_reset(&base, o) {
            break;
        }
        let mut next = base.into_owned();
        next.status = Some(d.status.clone());
        let mut again = reconcile(&next, o, PauseContext::start(&next), now);
        if again.status == d.status && again.actions.is_empty() {
            break;
        }
        let mut events = std::mem::take(&mut d.events);
        events.append(&mut again.events);
        let requeue_after = match (d.requeue_after, again.requeue_after) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        d = RolloutDecision { events, requeue_after, ..again };
        base = std::borrow::Cow::Owned(next);
    }
    d
}

/// Decisions in one reconcile at most (see [`reconcile_settled`]): a step, a pause, and what follows
/// the pause.
pub const MAX_PASSES: usize = 3;

/// Whether the reconcile after this one would decide from the Rollout's status and the
/// ReplicaSets alone, so that deciding it now, on the same observations, is the same decision:
/// a canary without traffic routing or background analysis whose steps only set weights and
/// pause. Any other step (an analysis, an experiment, a plugin, a route) needs what the
/// controller observes or creates for the step first.
pub fn decided_by_status_alone(rollout: &Rollout) -> bool {
    let Some(c) = rollout.spec.canary() else { return false };
    rollout.spec.blue_green().is_none()
        && c.traffic_routing.is_none()
        && c.analysis.is_none()
        && c.steps.iter().all(|s| {
            (s.set_weight.is_some() || s.pause.is_some())
                && s.experiment.is_none()
                && s.analysis.is_none()
                && s.set_canary_scale.is_none()
                && s.set_header_route.is_none()
                && s.set_mirror_route.is_none()
                && s.plugin.is_none()
        })
}

fn decide(rollout: &Rollout, o: &Observed, pause: PauseContext, now: DateTime<Utc>) -> RolloutDecision {
    if rollout.spec.blue_green().is_some() {
        return bluegreen::reconcile(rollout, o, pause, now);
    }
    let mut d = canary::Decider::new(rollout, o, pause, now);
    if must_reset(rollout, o) {
        return d.sync_status(true);
    }
    // With traffic routing, the weight is set before the analysis runs and the ReplicaSets
    // (Argo's `reconcileTrafficRouting`: the controller ran the plan's router operations), and
    // recorded in the status at the end.
    let traffic = traffic::plan(rollout, &o.replica_sets, &o.experiment_destinations);
    let new_weights = traffic.as_ref().and_then(|t| t.status_weights(rollout, o.weight_verified));
    if let Some(t) = &traffic {
        d.events.extend(t.event.clone());
        if new_weights.as_ref().is_some_and(|w| w.verified == Some(false)) {
            d.requeue_in(VERIFY_RETRY);
        }
    }
    d.weights = Some(new_weights.clone());
    if d.pause.has_add_pause() {
        return d.sync_status(false);
    }
    let scaling = canary_scaling(rollout, &o.replica_sets, new_weights.as_ref(), now);
    if let Some(at) = scaling.requeue_at {
        d.requeue_in(crate::clock::until(now, at));
    }
    let scaled = scaling.actions.iter().any(|a: &ScaleAction| a.from != a.to);
    d.keep_scale_down_deadline = scaling.keep_deadline;
    d.actions =
        scaling.deadlines.into_iter().map(|(which, at)| RolloutAction::ScaleDownDeadline { which, at }).collect();
    d.actions.extend(scaling.actions.into_iter().map(RolloutAction::Scale));
    if !scaled && !d.reconcile_pause_step() {
        d.reconcile_step_plugins();
    }
    d.sync_status(false)
}

/// The status with its observed generation, phase and message brought up to date: what every
/// early write of a reconcile carries.
fn with_phase(rollout: &Rollout, mut status: RolloutStatus) -> RolloutStatus {
    status.observed_generation = rollout.metadata.generation.unwrap_or(0).to_string();
    status.workload_observed_generation = workload::observed_generation(rollout);
    let pm = phase_of(&rollout.spec, &status);
    status.phase = Some(pm.phase);
    status.message = pm.message;
    status
}

/// Argo's `checkPausedConditions`, run first in every reconcile: when the Paused or Progressing
/// condition must follow a pause, resume or retry, the status to write (Argo writes it and ends
/// the reconcile there); `None` when nothing changes.
pub fn paused_conditions_status(rollout: &Rollout, now: DateTime<Utc>) -> Option<RolloutStatus> {
    let updates = cond::paused_conditions(rollout, now);
    (!updates.is_empty()).then(|| set_with_phase(rollout, rollout.status.clone().unwrap_or_default(), updates))
}

/// `status`, about to be written for `rollout`, with what Argo's `checkPausedConditions` would
/// set on it in the next reconcile (the Paused and Progressing conditions of a pause, resume or
/// retry), and its phase brought up to date when that changes anything. The status is what
/// Argo's next reconcile writes; only the intermediate version, the pause without its
/// condition, is never stored.
pub fn with_paused_conditions(rollout: &Rollout, status: RolloutStatus, now: DateTime<Utc>) -> RolloutStatus {
    let updates = cond::paused_conditions_of(rollout.spec.paused, &status, now);
    if updates.is_empty() { status } else { set_with_phase(rollout, status, updates) }
}

/// `status` with `conditions` set, in order, and its phase brought up to date.
fn set_with_phase(rollout: &Rollout, mut status: RolloutStatus, conditions: Vec<RolloutCondition>) -> RolloutStatus {
    for c in conditions {
        cond::set(&mut status, c);
    }
    with_phase(rollout, status)
}

/// Argo's `createInvalidRolloutCondition`: the status with the InvalidSpec condition (phase
/// Degraded, the message), the condition replaced when the reason the spec is invalid changes.
/// The flag says whether the message is new (worth a log line; Argo records no event).
pub fn invalid_spec_status(rollout: &Rollout, message: &str, now: DateTime<Utc>) -> (RolloutStatus, bool) {
    let mut status = rollout.status.clone().unwrap_or_default();
    let changed = cond::get(&status, kind::INVALID_SPEC).is_none_or(|c| c.message != message);
    if changed {
        cond::remove(&mut status, kind::INVALID_SPEC);
        cond::set(&mut status, cond::new(kind::INVALID_SPEC, "True", reason::INVALID_SPEC, message, now));
    }
    (with_phase(rollout, status), changed)
}

/// Argo's `createDesiredReplicaSet`: once the ReplicaSet of a new template exists, the status
/// records it in the Progressing condition (written whole; the next reconcile acts on it).
pub fn created_replica_set_status(rollout: &Rollout, name: &str, now: DateTime<Utc>) -> RolloutStatus {
    let mut status = rollout.status.clone().unwrap_or_default();
    cond::set(
        &mut status,
        cond::new(
            kind::PROGRESSING,
            "True",
            reason::NEW_REPLICA_SET_CREATED,
            format!("Created new replica set {name:?}"),
            now,
        ),
    );
    status
}

/// Argo's `getAllReplicaSetsAndSyncRevision`: a status with no Progressing condition gets one
/// naming the existing new ReplicaSet.
pub fn found_new_replica_set(status: &RolloutStatus, name: &str, now: DateTime<Utc>) -> Option<RolloutCondition> {
    cond::get(status, kind::PROGRESSING).is_none().then(|| {
        cond::new(
            kind::PROGRESSING,
            "True",
            reason::FOUND_NEW_REPLICA_SET,
            format!("Found new replica set {name:?}"),
            now,
        )
    })
}

/// Argo's `ensureSVCTargets` for one Service whose selector holds `current` (a pod-template
/// hash, empty when none) and should follow `rs`: the hash to switch it to, if any. With
/// `check_availability`, a Service not yet adopted (`managed` false) only switches to a fully
/// available ReplicaSet, so that it never points at an underprovisioned one (Argo PR #1777),
/// and no Service switches to a ReplicaSet with no available pod.
pub fn service_selector<'a>(
    current: &str,
    managed: bool,
    rs: &'a ReplicaSetState,
    check_availability: bool,
) -> Option<&'a str> {
    if current == rs.pod_template_hash {
        return None;
    }
    let fully_available = rs.spec_replicas > 0 && rs.available > 0 && rs.available >= rs.spec_replicas;
    if check_availability && ((!managed && !fully_available) || rs.available == 0) {
        return None;
    }
    Some(rs.pod_template_hash.as_str())
}

/// Which ReplicaSet a canary's Service follows this reconcile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceTarget {
    /// The Service.
    pub service: String,
    /// The ReplicaSet it should select.
    pub role: ReplicaSetRole,
    /// Whether the switch waits for the ReplicaSet's availability (see [`service_selector`]).
    pub check_availability: bool,
}

/// `status.canary.stablePingPong` when the ping Service carries the stable (Argo's `PPPing`).
pub const PING_PONG_PING: &str = "ping";
/// `status.canary.stablePingPong` when the pong Service carries the stable (Argo's `PPPong`).
pub const PING_PONG_PONG: &str = "pong";

/// Argo's `IsStablePing`: the ping Service carries the stable (`status.canary.stablePingPong`
/// is `ping`; empty, before the first promotion, counts as pong).
pub fn stable_is_ping(rollout: &Rollout) -> bool {
    rollout.status.as_ref().is_some_and(|s| s.canary.stable_ping_pong == PING_PONG_PING)
}

/// Argo's `GetStableAndCanaryServices`: the (stable, canary) Service names. With ping-pong, the
/// ping and pong Services by `stablePingPong` when `prefer_ping_pong` (what the controller's own
/// Service switching uses) or when the Rollout names neither canaryService nor stableService (what
/// Argo's Istio router uses); otherwise `stableService` and `canaryService`.
pub fn stable_and_canary_services(rollout: &Rollout, prefer_ping_pong: bool) -> (&str, &str) {
    let Some(canary) = rollout.spec.canary() else { return ("", "") };
    if let Some(pp) = &canary.ping_pong
        && (prefer_ping_pong || (canary.stable_service.is_empty() && canary.canary_service.is_empty()))
    {
        return if stable_is_ping(rollout) {
            (&pp.ping_service, &pp.pong_service)
        } else {
            (&pp.pong_service, &pp.ping_service)
        };
    }
    (&canary.stable_service, &canary.canary_service)
}

/// Argo's `reconcilePingAndPongService` then `reconcileStableAndCanaryService`. With ping-pong,
/// until the update is fully promoted, the Service that is not the stable one follows the new
/// ReplicaSet at once (no availability wait: the router gives it weight only as pods come up).
/// Then the stable Service follows the stable ReplicaSet;
/// the canary Service the new one, except on an abort without traffic routing (the stable, at
/// once) and while a dynamic rollback still needs the interrupted canary. With traffic routing,
/// an abort moves the canary Service in [`traffic::TrafficPlan::canary_service_to_stable`].
pub fn canary_service_targets(rollout: &Rollout, o: &ObservedReplicaSets) -> Vec<ServiceTarget> {
    let Some(canary) = rollout.spec.canary() else { return Vec::new() };
    let target = |service: &str, role| ServiceTarget { service: service.to_string(), role, check_availability: true };
    let mut targets = Vec::new();
    if canary.ping_pong.is_some() && !crate::weight::fully_promoted(rollout) {
        let (_, canary_service) = stable_and_canary_services(rollout, true);
        if !canary_service.is_empty() {
            targets.push(ServiceTarget {
                service: canary_service.to_string(),
                role: ReplicaSetRole::Canary,
                check_availability: false,
            });
        }
    }
    if !canary.stable_service.is_empty() {
        targets.push(target(&canary.stable_service, ReplicaSetRole::Stable));
    }
    if canary.canary_service.is_empty() {
        return targets;
    }
    if crate::weight::status(rollout).abort && canary.traffic_routing.is_none() {
        targets.push(target(&canary.canary_service, ReplicaSetRole::Stable));
    } else if traffic::dynamically_rolling_back(rollout, o.new_rs.as_ref()).is_none() {
        targets.push(target(&canary.canary_service, ReplicaSetRole::Canary));
    }
    targets
}

/// Argo's `GetRolloutServiceKeys`: the Services whose pod-template-hash selector the rollout
/// manages (active and preview, or canary, stable, ping and pong).
pub fn managed_services(rollout: &Rollout) -> Vec<&str> {
    let names: Vec<&str> = if let Some(bg) = rollout.spec.blue_green() {
        vec![&bg.active_service, &bg.preview_service]
    } else if let Some(c) = rollout.spec.canary() {
        let ping_pong = c.ping_pong.as_ref();
        vec![
            &c.canary_service,
            &c.stable_service,
            ping_pong.map_or("", |p| p.ping_service.as_str()),
            ping_pong.map_or("", |p| p.pong_service.as_str()),
        ]
    } else {
        Vec::new()
    };
    names.into_iter().filter(|n| !n.is_empty()).collect()
}

/// Argo's service controller (`syncService`): a Service marked as managed by a Rollout is handed
/// back (the annotation and the pod-template-hash selector removed, so that it selects every pod
/// of its selector again) once that Rollout is gone or no longer names it.
pub fn service_released(service: &str, owner: Option<&Rollout>) -> bool {
    owner.is_none_or(|r| !managed_services(r).contains(&service))
}

/// Argo's `SwitchService` event message.
pub fn service_switched_message(service: &str, from: &str, to: &str) -> String {
    format!("Switched selector for service '{service}' from '{from}' to '{to}'")
}

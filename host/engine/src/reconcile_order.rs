//! The order in which the controller scales ReplicaSets: one ReplicaSet change per reconcile
//! (Argo `reconcileCanaryReplicaSets`, `scaleDownOldReplicaSetsForCanary`,
//! `cleanupUnhealthyReplicas`, `scaleDownDelayHelper`).
//!
//! The stable goes first, then the canary, then the older ReplicaSets; the controller applies
//! the first change, returns, and recomputes on the next event. This module is the whole of
//! that decision, so that the controller only executes what it returns.

use chrono::{DateTime, Utc};
use serde::Serialize;

use aviary_api::rollout::Rollout;
use aviary_api::rollout_status::{PauseReason, TrafficWeights};

use crate::canary::{basic, traffic};
use crate::fenceposts::max_unavailable;
use crate::observed::{ObservedReplicaSets, ReplicaSetState};
use crate::weight::status;

/// Which ReplicaSet an action concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplicaSetRole {
    /// The stable ReplicaSet.
    Stable,
    /// The canary (new) ReplicaSet.
    Canary,
    /// `ObservedReplicaSets::older[i]`.
    Older(usize),
}

/// Scale one ReplicaSet from `from` to `to` pods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ScaleAction {
    /// The ReplicaSet.
    pub which: ReplicaSetRole,
    /// Its current `spec.replicas`.
    pub from: i32,
    /// The new `spec.replicas`.
    pub to: i32,
}

/// What this reconcile does to ReplicaSets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScalingDecision {
    /// The changes, in order. Empty, one stable or canary change, or the older ReplicaSets'
    /// changes (which Argo makes together in one reconcile).
    pub actions: Vec<ScaleAction>,
    /// Why nothing was scaled, when scaling was skipped on purpose.
    pub halted: Option<&'static str>,
    /// Reconcile again at this time (an older ReplicaSet's scale-down deadline).
    pub requeue_at: Option<DateTime<Utc>>,
    /// Scale-down deadlines to set (`Some`) or remove (`None`), before the scaling.
    pub deadlines: Vec<(ReplicaSetRole, Option<DateTime<Utc>>)>,
    /// A ReplicaSet scaled to zero keeps its deadline (an aborted canary's, as Argo).
    pub keep_deadline: bool,
}

impl ScalingDecision {
    fn requeue_at(&mut self, at: DateTime<Utc>) {
        self.requeue_at = Some(self.requeue_at.map_or(at, |r| r.min(at)));
    }
}

/// Argo's `removeScaleDownDeadlines` (both strategies): the new ReplicaSet's deadline goes unless
/// an aborted update keeps it up for a while, and the stable's goes (when it is not that same
/// ReplicaSet kept up).
pub fn deadlines_to_remove(observed: &ObservedReplicaSets, delay_on_abort: bool) -> Vec<ReplicaSetRole> {
    let mut out = Vec::new();
    let remove_new = observed.new_rs.is_some() && !delay_on_abort;
    if remove_new && observed.new_rs.as_ref().is_some_and(|n| n.scale_down_deadline.is_some()) {
        out.push(ReplicaSetRole::Canary);
    }
    if let Some(s) = &observed.stable_rs
        && (!remove_new
            || observed.new_rs.as_ref().is_none_or(|n| n.name != s.name || n.pod_template_hash != s.pod_template_hash))
        && s.scale_down_deadline.is_some()
    {
        out.push(ReplicaSetRole::Stable);
    }
    out
}

/// Where an aborted update's new ReplicaSet stands while it keeps its pods for a while (Argo's
/// `reconcileNewReplicaSet` under `shouldDelayScaleDownOnAbort`, both strategies).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbortHold {
    /// Its deadline is ahead: keep the pods, look again then.
    Until(DateTime<Utc>),
    /// Its deadline has passed: scale it to zero.
    Over,
    /// No deadline yet: keep the pods; set this one (`None` until the stable can take all the
    /// traffic, since the deadline scales the new ReplicaSet down unconditionally).
    Start(Option<DateTime<Utc>>),
}

/// [`AbortHold`] for a new ReplicaSet with `deadline`, a stable with `stable_available` pods of
/// `replicas`, and a delay of `delay_seconds`.
pub fn abort_hold(
    deadline: Option<DateTime<Utc>>,
    stable_available: Option<i32>,
    replicas: i32,
    delay_seconds: i32,
    now: DateTime<Utc>,
) -> AbortHold {
    match deadline {
        Some(at) if at > now => AbortHold::Until(at),
        Some(_) => AbortHold::Over,
        None => AbortHold::Start(
            stable_available
                .is_some_and(|a| a >= replicas)
                .then(|| crate::clock::after_seconds(now, i64::from(delay_seconds))),
        ),
    }
}

/// Argo's `shouldDelayScaleDownOnAbort` for a canary: an aborted traffic-routed canary keeps its
/// pods for `abortScaleDownDelaySeconds` (default 30; 0 keeps them), so that the router has
/// moved the traffic away first; with dynamicStableScale only when the delay is set explicitly.
pub fn canary_delays_scale_down_on_abort(rollout: &Rollout, observed: &ObservedReplicaSets) -> bool {
    let Some(canary) = rollout.spec.canary() else { return false };
    if !status(rollout).abort || observed.stable_rs.is_none() || canary.traffic_routing.is_none() {
        return false;
    }
    if canary.abort_scale_down_delay().is_none() {
        return false;
    }
    !(canary.dynamic_stable_scale && canary.abort_scale_down_delay_seconds.is_none())
}

/// Argo's `haltProgress`: a manual pause or an inconclusive analysis stops all scaling.
pub fn halt_reason(rollout: &Rollout) -> Option<&'static str> {
    if rollout.spec.paused {
        return Some("user paused");
    }
    if status(rollout).pause_conditions.iter().any(|c| c.reason == PauseReason::InconclusiveAnalysisRun) {
        return Some("inconclusive analysis");
    }
    None
}

/// The ReplicaSet changes of one canary reconcile.
///
/// `new_weights` are the traffic weights this reconcile set on the router (used for the canary,
/// as Argo uses `newStatus`); the stable uses the weights already recorded in the rollout's
/// status, which is why a dynamically scaled stable lags the traffic by one reconcile.
pub fn canary_scaling(
    rollout: &Rollout,
    observed: &ObservedReplicaSets,
    new_weights: Option<&TrafficWeights>,
    now: DateTime<Utc>,
) -> ScalingDecision {
    if let Some(reason) = halt_reason(rollout) {
        return ScalingDecision { halted: Some(reason), ..Default::default() };
    }
    let traffic_routed = rollout.spec.canary().is_some_and(|c| c.traffic_routing.is_some());
    let delay_on_abort = canary_delays_scale_down_on_abort(rollout, observed);
    let mut deadlines: Vec<(ReplicaSetRole, Option<DateTime<Utc>>)> =
        deadlines_to_remove(observed, delay_on_abort).into_iter().map(|r| (r, None)).collect();
    // Same-size actions that only bring a desired-replicas annotation up to date (Argo's
    // scaleReplicaSet writes it on every call for the stable and the new ReplicaSet, whatever
    // their size, but does not count that as scaling).
    let mut annotation_only: Vec<ScaleAction> = Vec::new();
    let with = |mut d: ScalingDecision,
                deadlines: Vec<(ReplicaSetRole, Option<DateTime<Utc>>)>,
                annotation_only: Vec<ScaleAction>| {
        d.deadlines.splice(0..0, deadlines);
        d.actions.splice(0..0, annotation_only);
        d.keep_deadline = delay_on_abort;
        d
    };
    let replicas = rollout.spec.replicas_or_default();
    // Only an annotation that says another count: both controllers write it on every ReplicaSet
    // they create, so a missing one is a ReplicaSet neither made, annotated when it is scaled.
    let stale = |rs: &crate::ReplicaSetState| rs.desired_replicas.is_some_and(|d| d != replicas);

    if let Some(stable) = observed.distinct_stable() {
        let desired = if traffic_routed {
            traffic::traffic_routed_counts(rollout, observed, status(rollout).canary.weights.as_ref()).stable
        } else {
            basic::basic_canary_counts(rollout, observed).stable
        };
        if desired != stable.spec_replicas {
            return with(one(ReplicaSetRole::Stable, stable.spec_replicas, desired), deadlines, annotation_only);
        }
        if stale(stable) {
            annotation_only.push(ScaleAction { which: ReplicaSetRole::Stable, from: desired, to: desired });
        }
    }
    let mut waiting = ScalingDecision::default();
    if let Some(new_rs) = &observed.new_rs {
        let mut desired = if traffic_routed {
            traffic::traffic_routed_counts(rollout, observed, new_weights).canary
        } else {
            basic::basic_canary_counts(rollout, observed).canary
        };
        // Argo's `reconcileNewReplicaSet` on an abort: the canary keeps its pods until its
        // deadline, which is set once the stable can take all the traffic.
        let mut delayed = false;
        if delay_on_abort {
            let delay = rollout.spec.canary().and_then(|c| c.abort_scale_down_delay()).unwrap_or(0);
            let stable = observed.stable_rs.as_ref().map(|s| s.available);
            match abort_hold(new_rs.scale_down_deadline, stable, rollout.spec.replicas_or_default(), delay, now) {
                AbortHold::Until(at) => {
                    waiting.requeue_at(at);
                    delayed = true;
                }
                AbortHold::Over => desired = 0,
                AbortHold::Start(at) => {
                    if let Some(at) = at {
                        deadlines.push((ReplicaSetRole::Canary, Some(at)));
                        waiting.requeue_at(at);
                    }
                    delayed = true;
                }
            }
        }
        if !delayed && desired != new_rs.spec_replicas {
            return with(one(ReplicaSetRole::Canary, new_rs.spec_replicas, desired), deadlines, annotation_only);
        }
        if stale(new_rs) {
            let size = new_rs.spec_replicas;
            annotation_only.push(ScaleAction { which: ReplicaSetRole::Canary, from: size, to: size });
        }
    }
    let mut older = older_scaling(rollout, observed, now);
    if let Some(at) = waiting.requeue_at {
        older.requeue_at(at);
    }
    with(older, deadlines, annotation_only)
}

fn one(which: ReplicaSetRole, from: i32, to: i32) -> ScalingDecision {
    ScalingDecision { actions: vec![ScaleAction { which, from, to }], ..Default::default() }
}

/// Older ReplicaSets: unhealthy pods are removed first; then, newest first, pods are removed
/// while availability stays at or above `replicas − maxUnavailable`. With traffic routing an
/// older ReplicaSet that carries a scale-down deadline keeps its pods until the deadline (for at
/// most `scaleDownDelayRevisionLimit` of them).
pub fn older_scaling(rollout: &Rollout, observed: &ObservedReplicaSets, now: DateTime<Utc>) -> ScalingDecision {
    let mut decision = ScalingDecision::default();
    if observed.older.is_empty() {
        return decision;
    }
    let n = rollout.spec.replicas_or_default();
    // Current spec of each older ReplicaSet as this reconcile changes them.
    let mut specs: Vec<i32> = observed.older.iter().map(|r| r.spec_replicas).collect();

    // cleanupUnhealthyReplicas: oldest first (older is newest first).
    for (i, (rs, spec)) in observed.older.iter().zip(specs.iter_mut()).enumerate().rev() {
        if *spec == 0 || *spec <= rs.available {
            continue;
        }
        let to = rs.available.max(0);
        decision.actions.push(ScaleAction { which: ReplicaSetRole::Older(i), from: *spec, to });
        *spec = to;
    }

    let min_available = n.saturating_sub(max_unavailable(&rollout.spec));
    let mut max_scale_down = observed.total_available().saturating_sub(min_available);
    if max_scale_down <= 0 {
        return decision;
    }
    let canary = rollout.spec.canary();
    let traffic_routed = canary.is_some_and(|c| c.traffic_routing.is_some());
    let revision_limit = canary.and_then(|c| c.scale_down_delay_revision_limit).unwrap_or(i32::MAX);
    let mut annotated = 0i32;
    let st = status(rollout);
    let fully_promoted = crate::weight::fully_promoted(rollout);
    // Argo's `isReplicaSetReferenced`: a ReplicaSet the recorded weights still send traffic to.
    let referenced = |rs: &ReplicaSetState| {
        st.canary.weights.as_ref().is_some_and(|w| {
            let h = rs.pod_template_hash.as_str();
            w.canary.pod_template_hash == h
                || w.stable.pod_template_hash == h
                || w.additional.iter().any(|d| d.pod_template_hash == h)
        })
    };
    for (i, (rs, spec)) in observed.older.iter().zip(specs.iter_mut()).enumerate() {
        if traffic_routed && referenced(rs) {
            continue;
        }
        if max_scale_down <= 0 {
            break;
        }
        if *spec == 0 {
            continue;
        }
        let mut desired = 0;
        if !traffic_routed {
            if *spec > max_scale_down {
                desired = spec.saturating_sub(max_scale_down);
            }
        } else if fully_promoted || rs.scale_down_deadline.is_some() {
            // The previous stable: at once with dynamicStableScale; otherwise kept (at its
            // current size) until its scale-down deadline, which is set now if it has none
            // (Argo's `scaleDownDelayHelper`, for at most scaleDownDelayRevisionLimit of them).
            if !canary.is_some_and(|c| c.dynamic_stable_scale) {
                match rs.scale_down_deadline {
                    None if annotated < revision_limit => {
                        annotated = annotated.saturating_add(1);
                        desired = *spec;
                        let delay = canary.map_or(0, |c| c.scale_down_delay_seconds_or_default());
                        if delay > 0 {
                            let at = crate::clock::after_seconds(now, i64::from(delay));
                            decision.deadlines.push((ReplicaSetRole::Older(i), Some(at)));
                            decision.requeue_at(at);
                        }
                    }
                    None => {}
                    Some(deadline) => {
                        annotated = annotated.saturating_add(1);
                        if annotated <= revision_limit && deadline > now {
                            desired = *spec;
                            decision.requeue_at(deadline);
                        }
                    }
                }
            }
        }
        if *spec == desired {
            continue;
        }
        decision.actions.push(ScaleAction { which: ReplicaSetRole::Older(i), from: *spec, to: desired });
        max_scale_down = max_scale_down.saturating_sub(spec.saturating_sub(desired));
        *spec = desired;
    }
    decision
}

/// The scale-down deadline to put on the previous stable after a promotion: now plus
/// `scaleDownDelaySeconds` (canary with traffic routing, or blue-green); `None` when the old
/// ReplicaSet goes at once (basic canary, or dynamicStableScale).
pub fn scale_down_deadline(rollout: &Rollout, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if let Some(bg) = rollout.spec.blue_green() {
        return Some(crate::clock::after_seconds(now, i64::from(bg.scale_down_delay_seconds_or_default())));
    }
    let canary = rollout.spec.canary()?;
    if canary.traffic_routing.is_none() || canary.dynamic_stable_scale {
        return None;
    }
    Some(crate::clock::after_seconds(now, i64::from(canary.scale_down_delay_seconds_or_default())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observed::ReplicaSetState;
    use crate::testing::RolloutBuilder;
    use chrono::Duration;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn obs(stable: (i32, i32), canary: (i32, i32)) -> ObservedReplicaSets {
        ObservedReplicaSets {
            new_rs: Some(ReplicaSetState::new("canary", canary.0, canary.1)),
            stable_rs: Some(ReplicaSetState::new("stable", stable.0, stable.1)),
            older: vec![],
        }
    }

    /// §2.8: reconcile 1 scales the stable 10→8 and stops; reconcile 2 scales the canary 0→3.
    #[test]
    fn stable_first_then_canary() {
        let ro = RolloutBuilder::canary(10).set_weight(25).pause().build();
        let d = canary_scaling(&ro, &obs((10, 10), (0, 0)), None, now());
        assert_eq!(d.actions, vec![ScaleAction { which: ReplicaSetRole::Stable, from: 10, to: 8 }]);
        let d = canary_scaling(&ro, &obs((8, 8), (0, 0)), None, now());
        assert_eq!(d.actions, vec![ScaleAction { which: ReplicaSetRole::Canary, from: 0, to: 3 }]);
        let d = canary_scaling(&ro, &obs((8, 8), (3, 3)), None, now());
        assert!(d.actions.is_empty());
    }

    /// Argo's scaleReplicaSet on the stable and the new ReplicaSet: a desired-replicas annotation
    /// that says another count is brought up to date by a same-size action (not counted as
    /// scaling), before a real scale that follows in the same reconcile; older ReplicaSets are
    /// left alone.
    #[test]
    fn stale_desired_replicas_annotations_are_synced_without_scaling() {
        let ro = RolloutBuilder::canary(10).set_weight(25).pause().build();
        let annotated = |rs: ReplicaSetState, d: i32| ReplicaSetState { desired_replicas: Some(d), ..rs };
        let o = ObservedReplicaSets {
            new_rs: Some(annotated(ReplicaSetState::new("canary", 3, 3), 4)),
            stable_rs: Some(annotated(ReplicaSetState::new("stable", 8, 8), 4)),
            older: vec![annotated(ReplicaSetState::new("old", 0, 0), 4)],
        };
        let d = canary_scaling(&ro, &o, None, now());
        assert_eq!(
            d.actions,
            vec![
                ScaleAction { which: ReplicaSetRole::Stable, from: 8, to: 8 },
                ScaleAction { which: ReplicaSetRole::Canary, from: 3, to: 3 },
            ]
        );
        // The stable's annotation is synced before the canary's real scale.
        let growing =
            ObservedReplicaSets { new_rs: Some(annotated(ReplicaSetState::new("canary", 0, 0), 10)), ..o.clone() };
        let d = canary_scaling(&ro, &growing, None, now());
        assert_eq!(
            d.actions,
            vec![
                ScaleAction { which: ReplicaSetRole::Stable, from: 8, to: 8 },
                ScaleAction { which: ReplicaSetRole::Canary, from: 0, to: 3 },
            ]
        );
        // Up to date: nothing.
        let current = ObservedReplicaSets {
            new_rs: Some(annotated(ReplicaSetState::new("canary", 3, 3), 10)),
            stable_rs: Some(annotated(ReplicaSetState::new("stable", 8, 8), 10)),
            older: vec![],
        };
        assert!(canary_scaling(&ro, &current, None, now()).actions.is_empty());
    }

    #[test]
    fn a_manual_pause_or_inconclusive_analysis_halts_scaling() {
        let ro = RolloutBuilder::canary(10).set_weight(25).paused().build();
        let d = canary_scaling(&ro, &obs((10, 10), (0, 0)), None, now());
        assert_eq!(d.halted, Some("user paused"));
        assert!(d.actions.is_empty());
    }

    #[test]
    fn basic_olders_scale_down_within_availability_newest_first() {
        let ro = RolloutBuilder::canary(10).set_weight(100).fenceposts(3, 2).index(1).build();
        let mut o = obs((0, 0), (10, 10));
        o.older = vec![ReplicaSetState::ready("old2", 2), ReplicaSetState::ready("old1", 3)];
        // available 15, min available 8: may remove 7: old2 → 0 (2), old1 → 0 (3).
        let d = canary_scaling(&ro, &o, None, now());
        assert_eq!(
            d.actions,
            vec![
                ScaleAction { which: ReplicaSetRole::Older(0), from: 2, to: 0 },
                ScaleAction { which: ReplicaSetRole::Older(1), from: 3, to: 0 },
            ]
        );
        // Only 1 pod may go: old2 2 → 1.
        let mut o = obs((0, 0), (7, 7));
        o.older = vec![ReplicaSetState::ready("old2", 2)];
        let d = older_scaling(&ro, &o, now());
        assert_eq!(d.actions, vec![ScaleAction { which: ReplicaSetRole::Older(0), from: 2, to: 1 }]);
    }

    #[test]
    fn unhealthy_older_pods_are_cleaned_up_first() {
        let ro = RolloutBuilder::canary(10).set_weight(100).fenceposts(3, 2).build();
        let mut o = obs((0, 0), (8, 8));
        o.older = vec![ReplicaSetState::new("old", 4, 1)];
        let d = older_scaling(&ro, &o, now());
        assert_eq!(d.actions[0], ScaleAction { which: ReplicaSetRole::Older(0), from: 4, to: 1 });
    }

    #[test]
    fn traffic_routed_older_waits_for_its_deadline() {
        let ro = RolloutBuilder::canary(10).traffic_routing().set_weight(100).build();
        let mut o = obs((0, 0), (10, 10));
        let deadline = now() + Duration::seconds(30);
        o.older = vec![ReplicaSetState { scale_down_deadline: Some(deadline), ..ReplicaSetState::ready("old", 10) }];
        let d = older_scaling(&ro, &o, now());
        assert!(d.actions.is_empty());
        assert_eq!(d.requeue_at, Some(deadline));
        let d = older_scaling(&ro, &o, deadline + Duration::seconds(1));
        assert_eq!(d.actions, vec![ScaleAction { which: ReplicaSetRole::Older(0), from: 10, to: 0 }]);
    }

    /// Argo's scaleDownDelayHelper: the previous stable of a promoted traffic-routed canary gets
    /// a deadline and keeps its pods until then; with dynamicStableScale it goes at once; an
    /// intermediate ReplicaSet of an interrupted update goes at once.
    #[test]
    fn a_promoted_canary_keeps_the_previous_stable_until_its_new_deadline() {
        let promoted = |b: RolloutBuilder| {
            let mut ro = b.stable_hash("canary").build();
            ro.status.get_or_insert_with(Default::default).current_pod_hash = "canary".into();
            ro
        };
        let mut o = obs((10, 10), (10, 10));
        o.stable_rs = o.new_rs.clone();
        o.older = vec![ReplicaSetState::ready("old", 10)];
        let ro = promoted(RolloutBuilder::canary(10).traffic_routing().set_weight(100));
        let d = older_scaling(&ro, &o, now());
        assert!(d.actions.is_empty(), "{:?}", d.actions);
        assert_eq!(d.deadlines, vec![(ReplicaSetRole::Older(0), Some(now() + Duration::seconds(30)))]);
        assert_eq!(d.requeue_at, Some(now() + Duration::seconds(30)));
        let dynamic = promoted(RolloutBuilder::canary(10).traffic_routing().dynamic_stable_scale().set_weight(100));
        let d = older_scaling(&dynamic, &o, now());
        assert_eq!(d.actions, vec![ScaleAction { which: ReplicaSetRole::Older(0), from: 10, to: 0 }]);
        let mut midway = RolloutBuilder::canary(10).traffic_routing().set_weight(50).stable_hash("stable").build();
        midway.status.get_or_insert_with(Default::default).current_pod_hash = "canary".into();
        let d = older_scaling(&midway, &obs((10, 10), (5, 5)), now());
        assert!(d.deadlines.is_empty());
    }

    /// Argo's shouldDelayScaleDownOnAbort for a canary: the aborted canary keeps its pods for
    /// abortScaleDownDelaySeconds once the stable is whole, then goes; its deadline stays.
    #[test]
    fn an_aborted_routed_canary_waits_for_its_deadline() {
        let ro = RolloutBuilder::canary(4).traffic_routing().set_weight(50).abort().stable_hash("stable").build();
        let o = obs((4, 4), (2, 2));
        assert!(canary_delays_scale_down_on_abort(&ro, &o));
        let d = canary_scaling(&ro, &o, None, now());
        assert!(d.actions.is_empty(), "{:?}", d.actions);
        assert_eq!(d.deadlines, vec![(ReplicaSetRole::Canary, Some(now() + Duration::seconds(30)))]);
        assert!(d.keep_deadline);
        let mut waiting = o.clone();
        waiting.new_rs.as_mut().unwrap().scale_down_deadline = Some(now() + Duration::seconds(30));
        let d = canary_scaling(&ro, &waiting, None, now() + Duration::seconds(10));
        assert!(d.actions.is_empty() && d.deadlines.is_empty());
        assert_eq!(d.requeue_at, Some(now() + Duration::seconds(30)));
        let d = canary_scaling(&ro, &waiting, None, now() + Duration::seconds(31));
        assert_eq!(d.actions, vec![ScaleAction { which: ReplicaSetRole::Canary, from: 2, to: 0 }]);
        // Not before the stable can take everything.
        let d = canary_scaling(&ro, &obs((4, 3), (2, 2)), None, now());
        assert!(d.deadlines.is_empty() && d.actions.is_empty(), "{d:?}");
        // A basic canary and a dynamic one without an explicit delay do not wait.
        let basic = RolloutBuilder::canary(4).set_weight(50).abort().stable_hash("stable").build();
        assert!(!canary_delays_scale_down_on_abort(&basic, &o));
        let dynamic = RolloutBuilder::canary(4)
            .traffic_routing()
            .dynamic_stable_scale()
            .set_weight(50)
            .abort()
            .stable_hash("stable")
            .build();
        assert!(!canary_delays_scale_down_on_abort(&dynamic, &o));
    }

    #[test]
    fn scale_down_deadline_defaults_to_30_seconds_with_traffic_routing_only() {
        let tr = RolloutBuilder::canary(10).traffic_routing().build();
        assert_eq!(scale_down_deadline(&tr, now()), Some(now() + Duration::seconds(30)));
        let basic = RolloutBuilder::canary(10).build();
        assert_eq!(scale_down_deadline(&basic, now()), None);
        let bg = RolloutBuilder::blue_green(10).build();
        assert_eq!(scale_down_deadline(&bg, now()), Some(now() + Duration::seconds(30)));
    }
}

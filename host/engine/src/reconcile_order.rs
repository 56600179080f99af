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
use crate::observed::ObservedReplicaSets;
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

    if let Some(stable) = observed.distinct_stable() {
        let desired = if traffic_routed {
            traffic::traffic_routed_counts(rollout, observed, status(rollout).canary.weights.as_ref()).stable
        } else {
            basic::basic_canary_counts(rollout, observed).stable
        };
        if desired != stable.spec_replicas {
            return one(ReplicaSetRole::Stable, stable.spec_replicas, desired);
        }
    }
    if let Some(new_rs) = &observed.new_rs {
        let desired = if traffic_routed {
            traffic::traffic_routed_counts(rollout, observed, new_weights).canary
        } else {
            basic::basic_canary_counts(rollout, observed).canary
        };
        if desired != new_rs.spec_replicas {
            return one(ReplicaSetRole::Canary, new_rs.spec_replicas, desired);
        }
    }
    older_scaling(rollout, observed, now)
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
    for (i, (rs, spec)) in observed.older.iter().zip(specs.iter_mut()).enumerate() {
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
        } else if let Some(deadline) = rs.scale_down_deadline {
            annotated = annotated.saturating_add(1);
            if annotated <= revision_limit && deadline > now {
                desired = n;
                decision.requeue_at = Some(decision.requeue_at.map_or(deadline, |r: DateTime<Utc>| r.min(deadline)));
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

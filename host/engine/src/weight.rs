//! The desired canary weight, or an explicit canary replica count (reference §2.2; Argo
//! `GetCanaryReplicasOrWeight`, `GetCurrentSetWeight`, `UseSetCanaryScale`,
//! `GetDesiredCanaryWeight`).

use std::sync::LazyLock;

use aviary_api::rollout::{CanaryStep, Rollout, SetCanaryScale};
use aviary_api::rollout_status::{RolloutStatus, TrafficWeights, WeightDestination};

use crate::observed::ObservedReplicaSets;

static EMPTY_STATUS: LazyLock<RolloutStatus> = LazyLock::new(RolloutStatus::default);

/// Traffic weights with `canary` and `stable` set (no additional destinations, unverified).
pub fn traffic_weights(canary: i32, stable: i32) -> TrafficWeights {
    TrafficWeights {
        canary: WeightDestination { weight: canary, ..Default::default() },
        stable: WeightDestination { weight: stable, ..Default::default() },
        ..Default::default()
    }
}

/// The rollout's status, or an empty one for a rollout never reconciled.
pub fn status(rollout: &Rollout) -> &RolloutStatus {
    rollout.status.as_ref().unwrap_or(&EMPTY_STATUS)
}

/// Argo's `IsFullyPromoted`: the stable ReplicaSet is the current template's (also true of a
/// rollout that has neither yet, as in Argo).
pub fn fully_promoted(rollout: &Rollout) -> bool {
    let st = status(rollout);
    st.stable_rs == st.current_pod_hash
}

/// What the canary should be scaled to: an explicit count (from `setCanaryScale.replicas`) or a
/// weight out of `maxTrafficWeight`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CanaryTarget {
    /// An explicit canary pod count, when a setCanaryScale step gives one.
    pub replicas: Option<i32>,
    /// The weight (out of `maxTrafficWeight`); 0 when `replicas` is set.
    pub weight: i32,
}

/// Argo's `GetCurrentCanaryStep`: the current step and its index. No steps gives (None, None);
/// an index past the last step gives (None, Some(index)).
pub fn current_step(rollout: &Rollout) -> (Option<&CanaryStep>, Option<i32>) {
    let Some(canary) = rollout.spec.canary() else {
        return (None, None);
    };
    if canary.steps.is_empty() {
        return (None, None);
    }
    let index = status(rollout).current_step_index.unwrap_or(0);
    let step = usize::try_from(index).ok().and_then(|i| canary.steps.get(i));
    (step, Some(index))
}

/// `ceil(weight × replicas / maxWeight)`: the pods that carry `weight` of the traffic.
pub fn traffic_weight_to_replicas(replicas: i32, weight: i32, max_weight: i32) -> i32 {
    if max_weight <= 0 {
        return 0;
    }
    let v = f64::from(weight) * f64::from(replicas) / f64::from(max_weight);
    v.ceil() as i32
}

/// Argo's `GetCurrentSetWeight`: 0 when aborted; `maxTrafficWeight` past the last step or with
/// no steps; else the nearest setWeight at or before the current step, or 0.
pub fn current_set_weight(rollout: &Rollout) -> i32 {
    let max = max_weight(rollout);
    if status(rollout).abort {
        return 0;
    }
    let (step, index) = current_step(rollout);
    if step.is_none() {
        return max;
    }
    let steps = &rollout.spec.canary().map(|c| c.steps.as_slice()).unwrap_or_default();
    let index = usize::try_from(index.unwrap_or(0)).unwrap_or(0);
    steps.iter().take(index.saturating_add(1)).rev().find_map(|s| s.set_weight).unwrap_or(0)
}

/// The rollout's `maxTrafficWeight` (100 unless traffic routing says otherwise).
pub fn max_weight(rollout: &Rollout) -> i32 {
    rollout.spec.canary().map_or(aviary_api::rollout::DEFAULT_MAX_TRAFFIC_WEIGHT, |c| c.max_traffic_weight())
}

/// Argo's `UseSetCanaryScale`: the latest setCanaryScale at or before the current step, unless
/// a later one says `matchTrafficWeight`, the rollout has no traffic routing, or it is aborted
/// (and `abortScaleDownDelaySeconds` is not 0).
pub fn use_set_canary_scale(rollout: &Rollout) -> Option<&SetCanaryScale> {
    let canary = rollout.spec.canary()?;
    canary.traffic_routing.as_ref()?;
    if status(rollout).abort && canary.abort_scale_down_delay().is_some() {
        return None;
    }
    let (step, index) = current_step(rollout);
    step?;
    let index = usize::try_from(index?).ok()?;
    for s in canary.steps.iter().take(index.saturating_add(1)).rev() {
        if let Some(scs) = &s.set_canary_scale {
            if scs.match_traffic_weight {
                return None;
            }
            return Some(scs);
        }
    }
    None
}

/// Argo's `GetDesiredCanaryWeight`: on an abort with dynamic stable scaling, step the weight
/// down the setWeight ladder as the stable comes back; otherwise [`current_set_weight`].
pub fn desired_canary_weight(rollout: &Rollout, observed: &ObservedReplicaSets) -> i32 {
    let st = status(rollout);
    if let Some(canary) = rollout.spec.canary()
        && st.abort
        && canary.dynamic_stable_scale
        && let (Some(new_rs), Some(stable_rs)) = (&observed.new_rs, observed.distinct_stable())
    {
        let n = rollout.spec.replicas_or_default();
        let max = canary.max_traffic_weight();
        let expected_canary = n.saturating_sub(stable_rs.available);
        let canary_replicas = if canary.abort_scale_down_delay_seconds.is_some_and(|s| s > 0) {
            expected_canary
        } else {
            expected_canary.max(new_rs.available)
        };
        return canary
            .steps
            .iter()
            .rev()
            .filter_map(|s| s.set_weight)
            .find(|w| traffic_weight_to_replicas(n, *w, max) < canary_replicas)
            .unwrap_or(0);
    }
    current_set_weight(rollout)
}

/// Argo's `GetCanaryReplicasOrWeight` (reference §2.2), evaluated in order:
/// 0. a non-canary (blue-green) rollout → `maxTrafficWeight`;
/// 1. promoteFull, the initial deploy (no stableRS) or a rollback to stable → `maxTrafficWeight`;
/// 2. with traffic routing, an applicable setCanaryScale → its replicas or weight;
/// 3. otherwise [`desired_canary_weight`].
pub fn canary_replicas_or_weight(rollout: &Rollout, observed: &ObservedReplicaSets) -> CanaryTarget {
    let st = status(rollout);
    let max = max_weight(rollout);
    // Weights are a canary notion: a blue-green new ReplicaSet always carries all of it.
    if rollout.spec.canary().is_none() {
        return CanaryTarget { replicas: None, weight: max };
    }
    if st.promote_full || st.stable_rs.is_empty() || st.current_pod_hash == st.stable_rs {
        return CanaryTarget { replicas: None, weight: max };
    }
    if let Some(scs) = use_set_canary_scale(rollout) {
        if let Some(r) = scs.replicas {
            return CanaryTarget { replicas: Some(r), weight: 0 };
        }
        if let Some(w) = scs.weight {
            return CanaryTarget { replicas: None, weight: w };
        }
    }
    CanaryTarget { replicas: None, weight: desired_canary_weight(rollout, observed) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::RolloutBuilder;

    #[test]
    fn traffic_weight_to_replicas_rounds_up() {
        // TestTrafficWeightToReplicas.
        for (n, w, want) in [(10, 0, 0), (10, 20, 2), (10, 25, 3), (10, 33, 4), (10, 99, 10), (10, 100, 10)] {
            assert_eq!(traffic_weight_to_replicas(n, w, 100), want, "({n},{w})");
        }
    }

    #[test]
    fn current_set_weight_follows_the_step_index() {
        // GetCurrentSetWeight: steps [setWeight 10]: index 1 → 100; index 0 → 10; abort → 0.
        let ro = RolloutBuilder::canary(10).set_weight(10).index(1).build();
        assert_eq!(current_set_weight(&ro), 100);
        let ro = RolloutBuilder::canary(10).set_weight(10).index(0).build();
        assert_eq!(current_set_weight(&ro), 10);
        let ro = RolloutBuilder::canary(10).set_weight(10).index(0).abort().build();
        assert_eq!(current_set_weight(&ro), 0);
    }

    #[test]
    fn replicas_or_weight_vectors() {
        let obs = ObservedReplicaSets::default();
        // promoteFull → (nil, 100).
        let ro = RolloutBuilder::canary(10).set_weight(10).promote_full().build();
        assert_eq!(canary_replicas_or_weight(&ro, &obs), CanaryTarget { replicas: None, weight: 100 });
        // [setWeight 10, setCanaryScale{weight 20}], TR, index 1 → (nil, 20).
        let ro = RolloutBuilder::canary(10).traffic_routing().set_weight(10).canary_scale_weight(20).index(1).build();
        assert_eq!(canary_replicas_or_weight(&ro, &obs), CanaryTarget { replicas: None, weight: 20 });
        // same with setCanaryScale{replicas 5} → (5, 0).
        let ro = RolloutBuilder::canary(10).traffic_routing().set_weight(10).canary_scale_replicas(5).index(1).build();
        assert_eq!(canary_replicas_or_weight(&ro, &obs), CanaryTarget { replicas: Some(5), weight: 0 });
        // blueGreen, abort → (nil, 100).
        let ro = RolloutBuilder::blue_green(10).abort().build();
        assert_eq!(canary_replicas_or_weight(&ro, &obs), CanaryTarget { replicas: None, weight: 100 });
    }

    #[test]
    fn initial_deploy_and_rollback_skip_the_steps() {
        let obs = ObservedReplicaSets::default();
        let ro = RolloutBuilder::canary(10).set_weight(10).stable_hash("").build();
        assert_eq!(canary_replicas_or_weight(&ro, &obs).weight, 100);
        let ro = RolloutBuilder::canary(10).set_weight(10).stable_hash("canary").build();
        assert_eq!(canary_replicas_or_weight(&ro, &obs).weight, 100);
    }

    /// TestGetDesiredCanaryWeightOnAbortWithScaleDownDelay.
    #[test]
    fn abort_weight_steps_down_the_ladder_as_the_stable_returns() {
        let cases = [(None, 9, 10), (Some(30), 5, 10), (Some(30), 9, 0), (Some(0), 9, 10)];
        for (delay, x, want) in cases {
            let mut b = RolloutBuilder::canary(10)
                .traffic_routing()
                .dynamic_stable_scale()
                .set_weight(10)
                .set_weight(50)
                .abort();
            if let Some(d) = delay {
                b = b.abort_scale_down_delay(d);
            }
            let ro = b.build();
            let obs = ObservedReplicaSets {
                new_rs: Some(crate::ReplicaSetState::new("canary", 5, 5)),
                stable_rs: Some(crate::ReplicaSetState::new("stable", x, x)),
                older: vec![],
            };
            assert_eq!(desired_canary_weight(&ro, &obs), want, "delay {delay:?}, stable {x}");
        }
    }
}

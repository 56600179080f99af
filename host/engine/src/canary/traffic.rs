//! The traffic-routed canary: a router carries the weight, pods only need to be there
//! (reference §2.4; Argo `CalculateReplicaCountsForTrafficRoutedCanary`,
//! `CheckMinPodsPerReplicaSet`).

use aviary_api::rollout::Rollout;
use aviary_api::rollout_status::TrafficWeights;

use super::CanaryCounts;
use crate::observed::ObservedReplicaSets;
use crate::weight::{canary_replicas_or_weight, max_weight, status, traffic_weight_to_replicas};

/// Argo's `CheckMinPodsPerReplicaSet`: 0 stays 0; otherwise at least
/// `min(minPodsPerReplicaSet, spec.replicas)` (traffic routing only).
pub fn check_min_pods(rollout: &Rollout, count: i32) -> i32 {
    if count == 0 {
        return 0;
    }
    let Some(canary) = rollout.spec.canary() else {
        return count;
    };
    match (canary.min_pods_per_replica_set, &canary.traffic_routing) {
        (Some(min), Some(_)) => count.max(min.min(rollout.spec.replicas_or_default())),
        _ => count,
    }
}

/// Argo's `CalculateReplicaCountsForTrafficRoutedCanary`. The stable stays at full scale unless
/// `dynamicStableScale`; then it follows the higher of the desired and the current stable weight
/// (`weights` are the weights recorded in the status, so the stable lags the traffic by one
/// reconcile), and on abort the canary keeps the pods its current weight needs.
pub fn traffic_routed_counts(
    rollout: &Rollout,
    observed: &ObservedReplicaSets,
    weights: Option<&TrafficWeights>,
) -> CanaryCounts {
    let n = rollout.spec.replicas_or_default();
    let max = max_weight(rollout);
    let target = canary_replicas_or_weight(rollout, observed);
    let mut canary = match target.replicas {
        Some(r) => r,
        None => check_min_pods(rollout, traffic_weight_to_replicas(n, target.weight, max)),
    };
    let dynamic = rollout.spec.canary().is_some_and(|c| c.dynamic_stable_scale);
    if !dynamic {
        return CanaryCounts { canary, stable: n };
    }
    let mut stable = traffic_weight_to_replicas(n, max.saturating_sub(target.weight), max);
    if let Some(w) = weights {
        stable = stable.max(traffic_weight_to_replicas(n, w.stable.weight, max));
        if status(rollout).abort {
            canary = canary.max(traffic_weight_to_replicas(n, w.canary.weight, max));
        }
    }
    CanaryCounts { canary: check_min_pods(rollout, canary), stable: check_min_pods(rollout, stable) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observed::ReplicaSetState;
    use crate::testing::RolloutBuilder;
    use aviary_api::rollout::SetCanaryScale;

    fn obs(canary: Option<(i32, i32)>, stable: Option<(i32, i32)>) -> ObservedReplicaSets {
        ObservedReplicaSets {
            new_rs: canary.map(|(s, a)| ReplicaSetState::new("canary", s, a)),
            stable_rs: stable.map(|(s, a)| ReplicaSetState::new("stable", s, a)),
            older: vec![],
        }
    }

    #[test]
    fn t1_set_canary_scale_replicas_beyond_spec() {
        let ro = RolloutBuilder::canary(1).traffic_routing().set_weight(100).canary_scale_replicas(9).index(1).build();
        let got = traffic_routed_counts(&ro, &obs(None, Some((1, 1))), None);
        assert_eq!((got.canary, got.stable), (9, 1));
    }

    #[test]
    fn t2_set_canary_scale_weight_over_100() {
        let ro = RolloutBuilder::canary(4).traffic_routing().set_weight(100).canary_scale_weight(200).index(1).build();
        let got = traffic_routed_counts(&ro, &obs(None, Some((4, 4))), None);
        assert_eq!((got.canary, got.stable), (8, 4));
    }

    #[test]
    fn t3_match_traffic_weight_cancels_set_canary_scale() {
        let ro = RolloutBuilder::canary(10)
            .traffic_routing()
            .set_weight(20)
            .canary_scale(SetCanaryScale { replicas: Some(9), weight: Some(100), match_traffic_weight: true })
            .index(1)
            .build();
        let got = traffic_routed_counts(&ro, &obs(None, Some((10, 10))), None);
        assert_eq!((got.canary, got.stable), (2, 10));
    }

    #[test]
    fn t4_abort_with_zero_delay_keeps_set_canary_scale() {
        let ro = RolloutBuilder::canary(1)
            .traffic_routing()
            .canary_scale_replicas(1)
            .abort_scale_down_delay(0)
            .abort()
            .build();
        let got = traffic_routed_counts(&ro, &obs(None, Some((1, 1))), None);
        assert_eq!((got.canary, got.stable), (1, 1));
    }

    /// TestCalculateReplicaCountsForCanaryTrafficRoutingDynamicScale, rows D1-D4.
    #[test]
    fn dynamic_stable_scale_rows_d1_to_d4() {
        let rows = [
            ("D1", Some((6, 6)), Some((4, 4)), 6, 8),
            ("D2", Some((1, 1)), Some((4, 4)), 6, 8),
            ("D3", Some((2, 2)), Some((8, 4)), 6, 8),
            ("D4", None, None, 6, 10),
        ];
        for (id, canary, stable, exp_c, exp_s) in rows {
            let ro = RolloutBuilder::canary(10)
                .traffic_routing()
                .dynamic_stable_scale()
                .set_weight(20)
                .set_weight(60)
                .abort()
                .weights(60, 40)
                .build();
            let weights = ro.status.as_ref().unwrap().canary.weights.clone();
            let got = traffic_routed_counts(&ro, &obs(canary, stable), weights.as_ref());
            assert_eq!((got.canary, got.stable), (exp_c, exp_s), "{id}");
        }
    }

    #[test]
    fn abort_with_delay_and_weights_keeps_stable_at_full() {
        // "Then delay 30, stable 9/9, weights 10/90 → stable count 10."
        let ro = RolloutBuilder::canary(10)
            .traffic_routing()
            .dynamic_stable_scale()
            .abort_scale_down_delay(30)
            .set_weight(10)
            .set_weight(50)
            .abort()
            .weights(10, 90)
            .build();
        let weights = ro.status.as_ref().unwrap().canary.weights.clone();
        let got = traffic_routed_counts(&ro, &obs(Some((5, 5)), Some((9, 9))), weights.as_ref());
        assert_eq!(got.stable, 10);
    }

    #[test]
    fn min_pods_per_replica_set_raises_non_zero_counts_only() {
        let ro = RolloutBuilder::canary(10).traffic_routing().min_pods_per_replica_set(2).set_weight(5).build();
        assert_eq!(check_min_pods(&ro, 0), 0);
        assert_eq!(check_min_pods(&ro, 1), 2);
        let got = traffic_routed_counts(&ro, &obs(Some((0, 0)), Some((10, 10))), None);
        assert_eq!(got.canary, 2);
        // Capped at spec.replicas.
        let ro = RolloutBuilder::canary(1).traffic_routing().min_pods_per_replica_set(3).set_weight(5).build();
        assert_eq!(check_min_pods(&ro, 1), 1);
    }

    #[test]
    fn reference_example_traffic_routed() {
        // §2.8 variants: without dynamic scale canary 3 / stable 10; with it, stable waits for the
        // recorded weight 75 before dropping to 8.
        let ro = RolloutBuilder::canary(10).traffic_routing().set_weight(25).build();
        assert_eq!(
            traffic_routed_counts(&ro, &obs(Some((0, 0)), Some((10, 10))), None),
            CanaryCounts { canary: 3, stable: 10 }
        );
        let ro =
            RolloutBuilder::canary(10).traffic_routing().dynamic_stable_scale().set_weight(25).weights(0, 100).build();
        let w = ro.status.as_ref().unwrap().canary.weights.clone();
        assert_eq!(traffic_routed_counts(&ro, &obs(Some((3, 3)), Some((10, 10))), w.as_ref()).stable, 10);
        let ro =
            RolloutBuilder::canary(10).traffic_routing().dynamic_stable_scale().set_weight(25).weights(25, 75).build();
        let w = ro.status.as_ref().unwrap().canary.weights.clone();
        assert_eq!(traffic_routed_counts(&ro, &obs(Some((3, 3)), Some((10, 10))), w.as_ref()).stable, 8);
    }
}

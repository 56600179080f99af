//! Canary replica counts: basic (traffic follows pods) and traffic-routed.

pub mod basic;
pub mod traffic;

use aviary_api::rollout::Rollout;
use aviary_api::rollout_status::TrafficWeights;

use crate::observed::ObservedReplicaSets;

/// Target pod counts for the canary and the stable ReplicaSets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CanaryCounts {
    /// Pods for the canary (new) ReplicaSet.
    pub canary: i32,
    /// Pods for the stable ReplicaSet.
    pub stable: i32,
}

/// The counts the controller scales towards now: [`basic::basic_canary_counts`] without traffic
/// routing, [`traffic::traffic_routed_counts`] with it (given the weights to use).
pub fn desired_counts(
    rollout: &Rollout,
    observed: &ObservedReplicaSets,
    weights: Option<&TrafficWeights>,
) -> CanaryCounts {
    let traffic_routed = rollout.spec.canary().is_some_and(|c| c.traffic_routing.is_some());
    if traffic_routed {
        traffic::traffic_routed_counts(rollout, observed, weights)
    } else {
        basic::basic_canary_counts(rollout, observed)
    }
}

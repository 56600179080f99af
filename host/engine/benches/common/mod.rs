//! The reconcile measured by both benchmarks: one canary decision, types already parsed.

use std::hint::black_box;

use aviary_api::rollout::Rollout;
use aviary_engine::observed::{ObservedReplicaSets, ReplicaSetState};
use aviary_engine::phase::rollout_phase;
use aviary_engine::reconcile_order::canary_scaling;
use aviary_engine::steps::{StepContext, completed_current_step};
use aviary_engine::testing::RolloutBuilder;
use chrono::{DateTime, Utc};

/// A mid-update basic canary: 10 replicas, 8 steps, at setWeight 40 with the stable still at 8,
/// one older ReplicaSet draining.
pub fn basic_case() -> (Rollout, ObservedReplicaSets) {
    let ro = RolloutBuilder::canary(10)
        .with_pods()
        .set_weight(20)
        .pause()
        .set_weight(40)
        .pause()
        .set_weight(60)
        .pause()
        .set_weight(80)
        .pause()
        .index(2)
        .build();
    let observed = ObservedReplicaSets {
        new_rs: Some(ReplicaSetState::ready("canary", 2)),
        stable_rs: Some(ReplicaSetState::ready("stable", 8)),
        older: vec![ReplicaSetState::ready("old", 1)],
    };
    (ro, observed)
}

/// A traffic-routed canary with dynamic stable scaling, mid-update.
pub fn traffic_case() -> (Rollout, ObservedReplicaSets) {
    let ro = RolloutBuilder::canary(10)
        .with_pods()
        .traffic_routing()
        .dynamic_stable_scale()
        .set_weight(20)
        .pause()
        .set_weight(40)
        .pause()
        .index(2)
        .weights(20, 80)
        .build();
    let observed = ObservedReplicaSets {
        new_rs: Some(ReplicaSetState::ready("canary", 2)),
        stable_rs: Some(ReplicaSetState::ready("stable", 10)),
        older: vec![],
    };
    (ro, observed)
}

/// One reconcile's decisions: the ReplicaSet change, whether the step is done, the phase.
pub fn reconcile(ro: &Rollout, observed: &ObservedReplicaSets, now: DateTime<Utc>) -> usize {
    let scaling = canary_scaling(black_box(ro), black_box(observed), None, now);
    let done = completed_current_step(ro, observed, &StepContext::default(), now);
    let phase = rollout_phase(ro);
    black_box(scaling.actions.len() + usize::from(done) + phase.message.len())
}

/// A fixed `now`.
pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default()
}

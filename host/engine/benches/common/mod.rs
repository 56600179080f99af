//! The reconcile measured by both benchmarks: one whole canary or blue-green reconcile decision
//! ([`aviary_engine::rollout::reconcile`]: scaling, step, pause and abort, conditions, phase,
//! events), types already parsed and the ReplicaSets summarised.

use std::hint::black_box;

use aviary_api::rollout::Rollout;
use aviary_engine::observed::{ObservedReplicaSets, ReplicaSetState};
use aviary_engine::rollout::{Observed, PauseContext};
use aviary_engine::testing::RolloutBuilder;
use chrono::{DateTime, Utc};

/// A mid-update basic canary: 10 replicas, 8 steps, at setWeight 40 with the stable still at 8,
/// one older ReplicaSet draining.
pub fn basic_case() -> (Rollout, Observed) {
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
    observe(ro, observed)
}

/// A traffic-routed canary with dynamic stable scaling, mid-update.
pub fn traffic_case() -> (Rollout, Observed) {
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
    observe(ro, observed)
}

/// The reference canary of issue 16's target: 10 replicas, setWeight 25, pause, 50, pause, 100,
/// at `setWeight: 50` with the stable scaled to 5 and the canary still at 3.
pub fn reference_case() -> (Rollout, Observed) {
    let ro = RolloutBuilder::canary(10)
        .with_pods()
        .set_weight(25)
        .pause()
        .set_weight(50)
        .pause()
        .set_weight(100)
        .index(2)
        .build();
    let observed = ObservedReplicaSets {
        new_rs: Some(ReplicaSetState::ready("canary", 3)),
        stable_rs: Some(ReplicaSetState::ready("stable", 5)),
        older: vec![],
    };
    observe(ro, observed)
}

/// A blue-green update waiting for its promotion: 10 replicas, `previewReplicaCount: 3`, manual
/// promotion, a pre-promotion analysis that passed, the preview up, an older ReplicaSet past its
/// scale-down deadline (the Services, the pause, the checkpoint and the older scale-down all run).
pub fn blue_green_case() -> (Rollout, Observed) {
    use aviary_engine::rollout::{BlueGreenServices, RunObservation, ServiceState};
    let mut ro = RolloutBuilder::blue_green(10).build();
    if let Some(bg) = ro.spec.strategy.blue_green.as_mut() {
        bg.preview_replica_count = Some(3);
        bg.auto_promotion_enabled = Some(false);
        bg.pre_promotion_analysis = Some(Default::default());
    }
    if let Some(st) = ro.status.as_mut() {
        st.blue_green.active_selector = "stable".into();
        st.blue_green.preview_selector = "canary".into();
    }
    let set = |hash: &str, n: i32| ReplicaSetState { desired_replicas: Some(10), ..ReplicaSetState::ready(hash, n) };
    let replica_sets = ObservedReplicaSets {
        new_rs: Some(set("canary", 3)),
        stable_rs: Some(set("stable", 10)),
        older: vec![ReplicaSetState { scale_down_deadline: Some(now()), ..set("old", 10) }],
    };
    let svc = |name: &str, hash: &str| ServiceState { name: name.into(), selector: Some(hash.into()), managed: true };
    let run = RunObservation {
        record: aviary_api::rollout_status::RolloutAnalysisRunStatus {
            name: "demo-canary-2-pre".into(),
            status: "Successful".into(),
            message: String::new(),
        },
        phase: aviary_api::AnalysisPhase::Successful,
    };
    let observed = Observed {
        replica_sets,
        revision: 2,
        services: BlueGreenServices { active: Some(svc("active", "stable")), preview: Some(svc("preview", "canary")) },
        pre_promotion_run: Some(run),
        ..Default::default()
    };
    (ro, observed)
}

/// The rollout as the controller sees it mid-update (its steps hash recorded, so that the
/// reconcile acts instead of resetting) and what it observed.
fn observe(mut ro: Rollout, replica_sets: ObservedReplicaSets) -> (Rollout, Observed) {
    let steps_hash = aviary_api::hash::step_hash(&ro).unwrap_or_default();
    if let Some(st) = ro.status.as_mut() {
        st.current_step_hash = steps_hash.clone();
    }
    (ro, Observed { replica_sets, steps_hash, revision: 2, ..Default::default() })
}

/// One whole reconcile decision.
pub fn reconcile(ro: &Rollout, observed: &Observed, now: DateTime<Utc>) -> usize {
    let d = aviary_engine::rollout::reconcile(black_box(ro), black_box(observed), PauseContext::start(ro), now);
    black_box(d.actions.len() + d.events.len() + d.status.message.len())
}

/// A fixed `now`.
pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default()
}

//! Properties of whole simulated updates (pods ready at once, one ReplicaSet change per
//! reconcile), for any replicas, weights, surge and unavailability:
//! - a basic canary never runs more than `replicas + maxSurge` pods and never has fewer than
//!   `replicas − maxUnavailable` available;
//! - a weight strictly between 0 and 100 gives the canary at least one pod when replicas ≥ 2,
//!   except where Argo's approximation has no option to choose from and keeps every pod stable
//!   (`argo_has_no_option`; the cases are rows of the engine's approximation table);
//! - every step reaches its target within a bounded number of reconciles;
//! - a traffic-routed canary keeps the stable at full scale and the canary at its weight.

use aviary_api::IntOrString;
use aviary_engine::canary::basic::{approximate, floor_ceiling_tied};
use aviary_engine::fenceposts::{max_surge, max_unavailable};
use aviary_engine::plan::{Plan, walk};
use aviary_engine::testing::RolloutBuilder;
use aviary_engine::weight::traffic_weight_to_replicas;
use chrono::{DateTime, Utc};
use proptest::prelude::*;

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap()
}

fn fencepost() -> impl Strategy<Value = IntOrString> {
    prop_oneof![
        (0i32..=5).prop_map(IntOrString::Int),
        (0i32..=60).prop_map(|p| IntOrString::String(format!("{p}%"))),
        Just(IntOrString::String("25".to_string())),
    ]
}

/// Argo's `approximateWeightedCanaryStableReplicaCounts` finds no option ("should not get here")
/// and returns (0, replicas) when, without surge, `replicas × weight / 100` lies exactly half a pod
/// below `replicas`: the ceiling would leave no stable pod and the floor is tied. That happens for
/// (2, 75), (5, 90), (10, 95), (25, 98) and (50, 99); the engine does what Argo does.
fn argo_has_no_option(n: i32, w: i32, surge: i32) -> bool {
    surge == 0
        && n >= 2
        && w > 0
        && w < 100
        && floor_ceiling_tied(w, n, 100)
        && (f64::from(n) * f64::from(w) / 100.0).ceil() as i32 == n
}

/// Replays a plan's actions from the walk's start, checking the pod invariants after each one.
fn check_pods(plan: &Plan, n: i32, surge: i32, unavailable: i32) -> Result<(), TestCaseError> {
    let (mut stable, mut canary) = (n, 0);
    let actions = plan.steps.iter().flat_map(|s| s.actions.iter()).chain(plan.promotion.actions.iter());
    for a in actions {
        match a.replica_set.as_str() {
            "stable" => {
                prop_assert_eq!(stable, a.from);
                stable = a.to;
            }
            "canary" => {
                prop_assert_eq!(canary, a.from);
                canary = a.to;
            }
            other => prop_assert!(false, "unexpected ReplicaSet {}", other),
        }
        prop_assert!(stable + canary <= n + surge, "{} pods > {} + {} after {:?}", stable + canary, n, surge, a);
        prop_assert!(
            stable + canary >= n - unavailable,
            "{} available < {} - {} after {:?}",
            stable + canary,
            n,
            unavailable,
            a
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn basic_canary_respects_surge_unavailability_and_progress(
        n in 0i32..=40,
        weights in prop::collection::vec(0i32..=100, 1..6),
        surge in fencepost(),
        unavailable in fencepost(),
    ) {
        let mut b = RolloutBuilder::canary(n).with_pods().max_surge(surge).max_unavailable(unavailable);
        for w in &weights {
            b = b.set_weight(*w).pause();
        }
        let ro = b.build();
        prop_assume!(aviary_api::validation::validate_rollout(&ro).is_empty());
        let (s, u) = (max_surge(&ro.spec), max_unavailable(&ro.spec));
        let plan = walk(&ro, t0()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        check_pods(&plan, n, s, u)?;
        let bound = 2 * (n.max(0) as usize) + 4;
        for step in &plan.steps {
            prop_assert!(step.reconciles <= bound, "step {} took {} reconciles (bound {})", step.index, step.reconciles, bound);
            if let Some(w) = step.step.set_weight
                && w > 0 && w < 100 && n >= 2 && !argo_has_no_option(n, w, s)
            {
                prop_assert!(step.canary >= 1, "weight {} left the canary without pods", w);
                prop_assert!(step.stable >= 1, "weight {} left the stable without pods", w);
            }
            if let Some(w) = step.step.set_weight {
                let (c, st) = approximate(n, w, 100, s);
                prop_assert_eq!((step.canary, step.stable), (c, st), "step {} target", step.index);
            }
        }
        prop_assert_eq!((plan.promotion.canary, plan.promotion.stable), (n, 0));
    }

    #[test]
    fn traffic_routed_canary_scales_only_the_canary(
        n in 1i32..=40,
        weights in prop::collection::vec(0i32..=100, 1..6),
    ) {
        let mut b = RolloutBuilder::canary(n).with_pods().traffic_routing();
        for w in &weights {
            b = b.set_weight(*w);
        }
        let plan = walk(&b.build(), t0()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for step in &plan.steps {
            let w = step.step.set_weight.unwrap();
            prop_assert_eq!(step.stable, n);
            prop_assert_eq!(step.canary, traffic_weight_to_replicas(n, w, 100));
            if w > 0 {
                prop_assert!(step.canary >= 1);
            }
        }
    }

    #[test]
    fn approximation_is_close_and_never_starves_a_side(
        n in 1i32..=200,
        w in 0i32..=100,
        surge in 0i32..=3,
    ) {
        let (c, s) = approximate(n, w, 100, surge);
        prop_assert!(c >= 0 && s >= 0);
        let total = c + s;
        prop_assert!(total == n || (total == n + 1 && surge > 0), "total {}", total);
        if argo_has_no_option(n, w, surge) {
            prop_assert_eq!((c, s), (0, n));
        } else if w > 0 && w < 100 && total >= 2 {
            prop_assert!(c >= 1 && s >= 1, "({}, {})", c, s);
        }
        if w == 0 { prop_assert_eq!(c, 0); }
        if w == 100 { prop_assert_eq!(s, 0); }
    }
}

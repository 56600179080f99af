//! Argo's `reconcileTrafficRouting`, decided: for a traffic-routed canary, the router operations
//! of this reconcile in Argo's order, the weight they set, and the `status.canary.weights` to
//! record. The controller runs the operations on every router of the rollout before anything
//! is scaled (an error ends the reconcile there), and gives the answer of `verify-weight` back
//! to [`super::reconcile`] through [`super::Observed::weight_verified`].
//!
//! The order is what keeps traffic off pods that cannot take it: no weight goes to a canary
//! with no available pods (and a weight it had is taken back before the routing points at a new
//! one), the stable gets its share only once it has the pods for it, and on an abort the weight
//! goes back to the stable before the canary is scaled down (the scale-down reads the weights
//! recorded by this reconcile only in the next one).

use aviary_api::Rollout;
use aviary_api::rollout::{SetHeaderRoute, SetMirrorRoute};
use aviary_api::rollout_status::{TrafficWeights, WeightDestination};

use crate::conditions::Event;
use crate::observed::{ObservedReplicaSets, ReplicaSetState};
use crate::steps::{at_desired_replica_counts, replica_progress_threshold_met};
use crate::weight::{current_set_weight, current_step, desired_canary_weight, fully_promoted, max_weight, status};

/// Argo's `TrafficWeightUpdatedReason`.
pub const WEIGHT_UPDATED: &str = "TrafficWeightUpdated";
/// Argo's `WeightVerifyErrorReason`.
pub const WEIGHT_VERIFY_ERROR: &str = "WeightVerifyError";
/// Argo's event reason when a router fails to set a weight.
pub const ROUTING_ERROR: &str = "TrafficRoutingError";

/// One call of Argo's router interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrafficOperation {
    /// Remove the header and mirror routes the router added.
    RemoveManagedRoutes,
    /// The current step's `setHeaderRoute`.
    SetHeaderRoute(SetHeaderRoute),
    /// The current step's `setMirrorRoute`.
    SetMirrorRoute(SetMirrorRoute),
    /// Point the routing at these ReplicaSets.
    UpdateHash {
        /// The canary's pod-template hash (empty: none).
        canary_hash: String,
        /// The stable's (empty: none).
        stable_hash: String,
        /// Experiment destinations.
        additional: Vec<WeightDestination>,
    },
    /// Send `weight` to the canary. An error is a `TrafficRoutingError` event.
    SetWeight {
        /// Out of maxTrafficWeight.
        weight: i32,
        /// Experiment destinations.
        additional: Vec<WeightDestination>,
    },
    /// Ask whether `weight` is in effect; the answer becomes `status.canary.weights.verified`.
    VerifyWeight {
        /// Out of maxTrafficWeight.
        weight: i32,
        /// Experiment destinations.
        additional: Vec<WeightDestination>,
    },
}

/// The traffic-routing part of one reconcile.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TrafficPlan {
    /// The operations, in order, for each router.
    pub operations: Vec<TrafficOperation>,
    /// On an abort, point the canary Service back at the stable ReplicaSet before the routers
    /// are called (once the weight is all back, with dynamicStableScale).
    pub canary_service_to_stable: bool,
    /// The weight sent to the canary.
    pub desired_weight: i32,
    /// The weights to record when they changed (`verified` unset: the router's answer fills it
    /// in); `None` keeps the recorded ones.
    pub weights: Option<TrafficWeights>,
    /// `TrafficWeightUpdated`, when the weights changed.
    pub event: Option<Event>,
    /// An unverified weight ends the reconcile with an error (Argo's end-of-rollout check):
    /// the old ReplicaSets are not scaled down before the router confirms the full weight.
    pub verify_blocks: bool,
}

impl TrafficPlan {
    /// The weights the rest of the reconcile sees (Argo's `newStatus.Canary.Weights`): the new
    /// ones or the recorded ones, with the router's verification when it was asked.
    pub fn status_weights(&self, rollout: &Rollout, verified: Option<bool>) -> Option<TrafficWeights> {
        let asked = self.operations.iter().any(|o| matches!(o, TrafficOperation::VerifyWeight { .. }));
        let mut weights = self.weights.clone().or_else(|| status(rollout).canary.weights.clone());
        if asked && let Some(w) = weights.as_mut() {
            w.verified = verified;
        }
        weights
    }
}

fn hash(rs: Option<&ReplicaSetState>) -> String {
    rs.map(|r| r.pod_template_hash.clone()).unwrap_or_default()
}

/// Argo's `IsDynamicallyRollingBackToStable`: fully promoted back to the stable while the
/// routing still points at an interrupted canary; the hash of that canary.
pub fn dynamically_rolling_back(rollout: &Rollout, new_rs: Option<&ReplicaSetState>) -> Option<String> {
    let canary = rollout.spec.canary()?;
    if !fully_promoted(rollout) || canary.traffic_routing.is_none() || !canary.dynamic_stable_scale {
        return None;
    }
    let previous = status(rollout).canary.weights.as_ref()?.canary.pod_template_hash.clone();
    let new_rs = new_rs?;
    (previous != new_rs.pod_template_hash && new_rs.available < rollout.spec.replicas_or_default()).then_some(previous)
}

/// Argo's `calculateDesiredWeightOnAbortOrStableRollback`: with dynamicStableScale, the weight
/// leaves the canary only as fast as the stable's pods come back; without, at once.
fn weight_on_abort(rollout: &Rollout, o: &ObservedReplicaSets) -> i32 {
    let Some(canary) = rollout.spec.canary() else { return 0 };
    let n = rollout.spec.replicas_or_default();
    let (Some(stable), Some(_)) = (o.stable_rs.as_ref(), o.new_rs.as_ref()) else { return 0 };
    if !canary.dynamic_stable_scale || n == 0 {
        return 0;
    }
    let max = max_weight(rollout);
    let desired = desired_canary_weight(rollout, o);
    let stable_share = max.saturating_mul(stable.available).checked_div(n).unwrap_or(0);
    let expected = (max.saturating_sub(stable_share)).max(0);
    let Some(current) = status(rollout).canary.weights.as_ref().map(|w| w.canary.weight) else {
        return expected.max(desired);
    };
    if desired <= 0 {
        return expected.min(current);
    }
    if stable_share < max.saturating_sub(desired) {
        return current;
    }
    desired.min(current)
}

/// Argo's `checkReplicasAvailable`: the ReplicaSet has the pods for `weight` of the traffic (or
/// meets the progress threshold); no ReplicaSet never does.
fn replicas_available(rollout: &Rollout, rs: Option<&ReplicaSetState>, weight: i32) -> bool {
    let Some(rs) = rs else { return false };
    let max = max_weight(rollout);
    let needed = weight.saturating_mul(rollout.spec.replicas_or_default()).checked_div(max).unwrap_or(0);
    let threshold = rollout.spec.canary().and_then(|c| c.replica_progress_threshold.as_ref());
    rs.available >= needed || replica_progress_threshold_met(threshold, Some(rs), needed)
}

/// Argo's `calculateWeightStatus`: the weights of this reconcile, and whether they differ from
/// the recorded ones.
fn weight_status(
    rollout: &Rollout,
    canary_hash: &str,
    stable_hash: &str,
    weight: i32,
    additional: &[WeightDestination],
) -> (bool, TrafficWeights) {
    let spec = rollout.spec.canary();
    let service = |f: fn(&aviary_api::rollout::CanaryStrategy) -> &String| spec.map(f).cloned().unwrap_or_default();
    let stable_weight =
        additional.iter().fold(max_weight(rollout).saturating_sub(weight), |w, d| w.saturating_sub(d.weight));
    let weights = TrafficWeights {
        canary: WeightDestination {
            weight,
            service_name: service(|c| &c.canary_service),
            pod_template_hash: canary_hash.to_string(),
        },
        stable: WeightDestination {
            weight: stable_weight,
            service_name: service(|c| &c.stable_service),
            pod_template_hash: stable_hash.to_string(),
        },
        additional: additional.to_vec(),
        verified: None,
    };
    let modified =
        status(rollout).canary.weights.as_ref().is_none_or(|p| {
            p.canary != weights.canary || p.stable != weights.stable || p.additional != weights.additional
        });
    (modified, weights)
}

/// Argo's `trafficWeightUpdatedMessage`.
fn weight_updated_message(previous: Option<&TrafficWeights>, new: &TrafficWeights) -> String {
    let mut details = Vec::new();
    match previous {
        None => details.push(format!("to {}", new.canary.weight)),
        Some(p) if p.canary.weight != new.canary.weight => {
            details.push(format!("from {} to {}", p.canary.weight, new.canary.weight));
        }
        Some(_) => {}
    }
    if let Some(p) = previous
        && p.additional != new.additional
    {
        let shown: Vec<String> = new
            .additional
            .iter()
            .map(|d| format!("{{{} {} {}}}", d.weight, d.service_name, d.pod_template_hash))
            .collect();
        details.push(format!("additional: [{}]", shown.join(" ")));
    }
    format!("Traffic weight updated {}", details.join(", "))
}

/// Decides the traffic routing of one canary reconcile (Argo's `reconcileTrafficRouting`);
/// `None` for a rollout without traffic routing. `additional` are the destinations of a running
/// experiment step (none until experiments run).
pub fn plan(rollout: &Rollout, o: &ObservedReplicaSets, additional: &[WeightDestination]) -> Option<TrafficPlan> {
    let canary = rollout.spec.canary()?;
    canary.traffic_routing.as_ref()?;
    let st = status(rollout);
    let max = max_weight(rollout);
    let (step, index) = current_step(rollout);
    let new_rs = o.new_rs.as_ref();
    let stable_hash = hash(o.stable_rs.as_ref());
    let mut canary_hash = hash(new_rs);
    let mut plan = TrafficPlan::default();
    let mut weight = 0;
    let mut destinations: Vec<WeightDestination> = Vec::new();
    let ops = &mut plan.operations;

    if let Some(previous) = dynamically_rolling_back(rollout, new_rs) {
        weight = weight_on_abort(rollout, o);
        // The stable is the desired ReplicaSet again: the weight is balanced between it and the
        // interrupted canary the routing still points at.
        canary_hash = previous;
    } else if fully_promoted(rollout) {
        ops.push(TrafficOperation::RemoveManagedRoutes);
    } else if st.abort {
        weight = weight_on_abort(rollout, o);
        plan.canary_service_to_stable = !canary.dynamic_stable_scale || weight == 0;
        ops.push(TrafficOperation::RemoveManagedRoutes);
    } else if new_rs.is_none_or(|rs| rs.available == 0) {
        destinations.extend_from_slice(additional);
        ops.push(TrafficOperation::RemoveManagedRoutes);
    } else if st.promote_full {
        if canary.dynamic_stable_scale {
            let n = rollout.spec.replicas_or_default();
            weight = max.saturating_mul(new_rs.map_or(0, |r| r.available)).checked_div(n).unwrap_or(0);
        } else if let Some(w) = &st.canary.weights {
            weight = w.canary.weight;
        }
        ops.push(TrafficOperation::RemoveManagedRoutes);
    } else if let Some(i) = index {
        let steps = &canary.steps;
        if !at_desired_replica_counts(rollout, o, None) {
            // The canary is not ready for this step's weight: keep the previous step's.
            let before = usize::try_from(i).unwrap_or(0);
            weight = steps.iter().take(before).rev().find_map(|s| s.set_weight).unwrap_or(0);
            destinations.extend_from_slice(additional);
        } else if usize::try_from(i).ok() != Some(steps.len()) {
            weight = current_set_weight(rollout);
            destinations.extend_from_slice(additional);
        } else {
            weight = max;
        }
    }

    // The stable must have the pods for its share before anything changes.
    plan.desired_weight = weight;
    if !replicas_available(rollout, o.stable_rs.as_ref(), max.saturating_sub(weight)) {
        return Some(plan);
    }
    // Header and mirror routes of the current step (not at the first deploy, revision 1).
    if let Some(step) = step
        && rollout_revision(rollout) > 1
    {
        if let Some(h) = &step.set_header_route {
            ops.push(TrafficOperation::SetHeaderRoute(h.clone()));
        }
        if let Some(m) = &step.set_mirror_route {
            ops.push(TrafficOperation::SetMirrorRoute(m.clone()));
        }
    }
    // A canary that lost its pods loses its weight before the routing points anywhere new.
    if new_rs.is_none_or(|rs| rs.available == 0) && st.canary.weights.as_ref().is_some_and(|w| w.canary.weight > 0) {
        ops.push(TrafficOperation::SetWeight { weight, additional: destinations.clone() });
    }
    ops.push(TrafficOperation::UpdateHash {
        canary_hash: canary_hash.clone(),
        stable_hash: stable_hash.clone(),
        additional: destinations.clone(),
    });
    ops.push(TrafficOperation::SetWeight { weight, additional: destinations.clone() });
    let (modified, weights) = weight_status(rollout, &canary_hash, &stable_hash, weight, &destinations);
    if modified {
        plan.event = Some(Event::normal(WEIGHT_UPDATED, weight_updated_message(st.canary.weights.as_ref(), &weights)));
        plan.weights = Some(weights);
    }
    ops.push(TrafficOperation::VerifyWeight { weight, additional: destinations });
    let steps = canary.steps.len();
    plan.verify_blocks =
        weight == max && st.current_step_index.is_some_and(|i| usize::try_from(i).is_ok_and(|i| steps >= i));
    Some(plan)
}

/// The Rollout's `rollout.argoproj.io/revision` (0 when absent).
fn rollout_revision(rollout: &Rollout) -> i64 {
    rollout
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("rollout.argoproj.io/revision"))
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::RolloutBuilder;
    use TrafficOperation::*;

    /// A traffic-routed rollout mid-update: stable `stable`, canary `canary`, revision 2.
    fn updating(b: RolloutBuilder) -> Rollout {
        let mut ro = b.stable_hash("stable").services("canary-svc", "stable-svc").build();
        ro.status.get_or_insert_with(Default::default).current_pod_hash = "canary".into();
        ro.metadata.annotations = Some([("rollout.argoproj.io/revision".to_string(), "2".to_string())].into());
        ro
    }

    fn observed(canary: (i32, i32), stable: (i32, i32)) -> ObservedReplicaSets {
        ObservedReplicaSets {
            new_rs: Some(ReplicaSetState::new("canary", canary.0, canary.1)),
            stable_rs: Some(ReplicaSetState::new("stable", stable.0, stable.1)),
            older: Vec::new(),
        }
    }

    fn weights_set(plan: &TrafficPlan) -> Vec<i32> {
        plan.operations
            .iter()
            .filter_map(|o| match o {
                SetWeight { weight, .. } => Some(*weight),
                _ => None,
            })
            .collect()
    }

    fn update_hash() -> TrafficOperation {
        UpdateHash { canary_hash: "canary".into(), stable_hash: "stable".into(), additional: vec![] }
    }

    #[test]
    fn no_traffic_routing_no_plan() {
        let ro = updating(RolloutBuilder::canary(10).set_weight(10));
        assert_eq!(plan(&ro, &observed((1, 1), (10, 10)), &[]), None);
    }

    /// TestRolloutUseDesiredWeight: at the desired counts, the step's weight, recorded with
    /// the Services and hashes, then verified.
    #[test]
    fn the_step_weight_once_the_canary_is_at_its_count() {
        let ro = updating(RolloutBuilder::canary(10).traffic_routing().set_weight(10).pause().index(0));
        let p = plan(&ro, &observed((1, 1), (10, 10)), &[]).unwrap();
        assert_eq!(
            p.operations,
            vec![
                update_hash(),
                SetWeight { weight: 10, additional: vec![] },
                VerifyWeight { weight: 10, additional: vec![] }
            ]
        );
        let w = p.weights.clone().unwrap();
        assert_eq!((w.canary.weight, w.stable.weight), (10, 90));
        assert_eq!((w.canary.service_name.as_str(), w.stable.pod_template_hash.as_str()), ("canary-svc", "stable"));
        assert_eq!(p.event.unwrap().message, "Traffic weight updated to 10");
        assert!(!p.verify_blocks);
    }

    /// TestRolloutUsePreviousSetWeight: the canary's pods are not all available yet, so the
    /// previous step's weight stays.
    #[test]
    fn the_previous_weight_until_the_canary_is_ready() {
        let mut ro =
            updating(RolloutBuilder::canary(10).traffic_routing().set_weight(10).pause().set_weight(50).index(2));
        ro.status.as_mut().unwrap().canary.weights = Some(weight_status(&ro, "canary", "stable", 10, &[]).1);
        let p = plan(&ro, &observed((5, 2), (10, 10)), &[]).unwrap();
        assert_eq!(weights_set(&p), vec![10]);
        assert_eq!(p.weights, None, "unchanged weights are not written again");
        assert_eq!(p.event, None);
        let p = plan(&ro, &observed((5, 5), (10, 10)), &[]).unwrap();
        assert_eq!(weights_set(&p), vec![50]);
        assert_eq!(p.event.unwrap().message, "Traffic weight updated from 10 to 50");
    }

    /// A canary with no available pods gets no weight, its header and mirror routes go, and a
    /// weight it had is taken back before the routing points at the new hashes.
    #[test]
    fn no_weight_to_a_canary_without_available_pods() {
        let ro = updating(RolloutBuilder::canary(10).traffic_routing().set_weight(30).index(0).weights(30, 70));
        let p = plan(&ro, &observed((3, 0), (10, 10)), &[]).unwrap();
        assert_eq!(
            p.operations,
            vec![
                RemoveManagedRoutes,
                SetWeight { weight: 0, additional: vec![] },
                update_hash(),
                SetWeight { weight: 0, additional: vec![] },
                VerifyWeight { weight: 0, additional: vec![] }
            ]
        );
        let set_at = |ops: &[TrafficOperation]| ops.iter().position(|o| matches!(o, SetWeight { .. }));
        let hash_at = |ops: &[TrafficOperation]| ops.iter().position(|o| matches!(o, UpdateHash { .. }));
        assert!(set_at(&p.operations) < hash_at(&p.operations));
    }

    /// TestRolloutSetWeightToZeroWhenFullyRolledOut: past the last step the canary takes all;
    /// once promoted, the managed routes go and the weight is 0 (the canary is the stable).
    #[test]
    fn all_the_weight_at_the_end_then_none_once_promoted() {
        let ro = updating(RolloutBuilder::canary(10).traffic_routing().set_weight(10).index(1).weights(10, 90));
        let p = plan(&ro, &observed((10, 10), (10, 10)), &[]).unwrap();
        assert_eq!(weights_set(&p), vec![100]);
        assert!(p.verify_blocks, "the full weight must be verified before the old pods go");
        let mut done = ro.clone();
        done.status.as_mut().unwrap().stable_rs = "canary".into();
        let o = ObservedReplicaSets { stable_rs: observed((10, 10), (0, 0)).new_rs, ..observed((10, 10), (0, 0)) };
        let p = plan(&done, &o, &[]).unwrap();
        assert_eq!(p.operations.first(), Some(&RemoveManagedRoutes));
        assert_eq!(weights_set(&p), vec![0]);
    }

    /// An abort sends everything back to the stable at once and points the canary Service at
    /// the stable, unless dynamicStableScale waits for the stable's pods.
    #[test]
    fn abort_shifts_back_to_the_stable() {
        let ro = updating(RolloutBuilder::canary(10).traffic_routing().set_weight(50).index(0).weights(50, 50).abort());
        let p = plan(&ro, &observed((5, 5), (10, 10)), &[]).unwrap();
        assert_eq!(weights_set(&p), vec![0]);
        assert!(p.canary_service_to_stable);
        assert_eq!(p.operations.first(), Some(&RemoveManagedRoutes));
    }

    /// TestDynamicScalingDecreaseWeightAccordingToStableAvailabilityWhenAborted and
    /// TestDynamicScalingDontIncreaseWeightWhenAborted.
    #[test]
    fn dynamic_abort_follows_the_stable_back() {
        let b = || {
            RolloutBuilder::canary(5)
                .traffic_routing()
                .dynamic_stable_scale()
                .set_weight(80)
                .pause()
                .index(1)
                .weights(80, 20)
                .abort()
        };
        let ro = updating(b());
        // 4 of 5 stable pods: 80 % of the traffic fits, the canary keeps 20.
        let p = plan(&ro, &observed((4, 4), (4, 4)), &[]).unwrap();
        assert_eq!(weights_set(&p), vec![20]);
        assert!(!p.canary_service_to_stable, "the canary Service stays until the weight is all back");
        // 1 of 5: the weight stays where it is (never raised again).
        let p = plan(&ro, &observed((4, 4), (1, 1)), &[]).unwrap();
        assert_eq!(p.desired_weight, 80);
        // All 5 back: everything to the stable, and the canary Service too.
        let p = plan(&ro, &observed((4, 4), (5, 5)), &[]).unwrap();
        assert_eq!(weights_set(&p), vec![0]);
        assert!(p.canary_service_to_stable);
    }

    /// checkReplicasAvailable: a stable without the pods for its share changes nothing.
    #[test]
    fn nothing_moves_until_the_stable_can_take_its_share() {
        let ro = updating(RolloutBuilder::canary(10).traffic_routing().set_weight(10).index(0).weights(0, 100));
        let p = plan(&ro, &observed((1, 1), (10, 8)), &[]).unwrap();
        assert!(weights_set(&p).is_empty());
        assert_eq!(p.weights, None);
        let p = plan(&ro, &observed((1, 1), (10, 9)), &[]).unwrap();
        assert_eq!(weights_set(&p), vec![10]);
    }

    /// Header and mirror routes of the current step, not on the first deploy (revision 1).
    #[test]
    fn header_and_mirror_routes_of_the_current_step() {
        let header = aviary_api::rollout::SetHeaderRoute { name: "h".into(), ..Default::default() };
        let mirror = aviary_api::rollout::SetMirrorRoute { name: "m".into(), ..Default::default() };
        let step = aviary_api::rollout::CanaryStep {
            set_header_route: Some(header.clone()),
            set_mirror_route: Some(mirror.clone()),
            ..Default::default()
        };
        let mut ro = updating(RolloutBuilder::canary(10).traffic_routing().set_weight(10).step(step).index(1));
        let p = plan(&ro, &observed((1, 1), (10, 10)), &[]).unwrap();
        assert_eq!(p.operations.first(), Some(&TrafficOperation::SetHeaderRoute(header)));
        assert_eq!(p.operations.get(1), Some(&TrafficOperation::SetMirrorRoute(mirror)));
        ro.metadata.annotations = None;
        let p = plan(&ro, &observed((1, 1), (10, 10)), &[]).unwrap();
        let routes = |o: &&TrafficOperation| {
            matches!(o, TrafficOperation::SetHeaderRoute(_) | TrafficOperation::SetMirrorRoute(_))
        };
        assert!(!p.operations.iter().any(|o| routes(&o)));
    }

    /// The verification answer is recorded with the weights, whether they changed or not.
    #[test]
    fn verification_is_recorded() {
        let ro = updating(RolloutBuilder::canary(10).traffic_routing().set_weight(10).pause().index(0));
        let p = plan(&ro, &observed((1, 1), (10, 10)), &[]).unwrap();
        assert_eq!(p.status_weights(&ro, Some(false)).unwrap().verified, Some(false));
        assert_eq!(p.status_weights(&ro, None).unwrap().verified, None);
    }

    /// promoteFull: without dynamicStableScale the weight stays until the end; with it, the
    /// weight follows the canary's available pods.
    #[test]
    fn promote_full_moves_with_the_canary() {
        let ro = updating(
            RolloutBuilder::canary(10).traffic_routing().set_weight(10).index(0).weights(10, 90).promote_full(),
        );
        let p = plan(&ro, &observed((10, 6), (10, 10)), &[]).unwrap();
        assert_eq!(weights_set(&p), vec![10]);
        let ro = updating(
            RolloutBuilder::canary(10)
                .traffic_routing()
                .dynamic_stable_scale()
                .set_weight(10)
                .index(0)
                .weights(10, 90)
                .promote_full(),
        );
        let p = plan(&ro, &observed((10, 6), (10, 10)), &[]).unwrap();
        assert_eq!(weights_set(&p), vec![60]);
    }
}

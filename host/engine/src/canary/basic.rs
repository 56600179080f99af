//! The basic canary: no traffic router, so traffic follows pod counts (reference §2.3; Argo
//! `CalculateReplicaCountsForBasicCanary`, `approximateWeightedCanaryStableReplicaCounts`,
//! `GetReplicasForScaleDown`, `calculateScaleDownReplicaCount`, `adjustReplicaWithinLimits`).
//!
//! The float arithmetic mirrors Go's operation for operation (the tie test is an exact `== 0.5`
//! on a float product), so that every split matches Argo's.

use aviary_api::rollout::Rollout;

use super::CanaryCounts;
use crate::fenceposts::{max_surge, max_unavailable};
use crate::observed::{ObservedReplicaSets, ReplicaSetState};
use crate::weight::{canary_replicas_or_weight, max_weight};

/// Whether `total × weight / maxWeight` has a fractional part of exactly one half (Argo's
/// `floorCeilingTied`): floor and ceiling are then equally far from the weight.
pub fn floor_ceiling_tied(weight: i32, total: i32, max_weight: i32) -> bool {
    let v = f64::from(total) * (f64::from(weight) / f64::from(max_weight));
    v - v.trunc() == 0.5
}

fn weight_delta(weight: i32, canary: i32, total: i32, max_weight: i32) -> f64 {
    let actual = f64::from(canary) * f64::from(max_weight) / f64::from(total);
    (actual - f64::from(weight)).abs()
}

/// Argo's `approximateWeightedCanaryStableReplicaCounts`: the (canary, stable) split closest to
/// `weight`, summing to `replicas` or, when surge allows, `replicas + 1`. A weight strictly
/// between 0 and max never rounds the canary to 0 when two or more pods are possible.
pub fn approximate(replicas: i32, weight: i32, max_weight: i32, surge: i32) -> (i32, i32) {
    if replicas == 0 {
        return (0, 0);
    }
    let product = f64::from(replicas) * f64::from(weight) / f64::from(max_weight);
    let ceil_c = product.ceil() as i32;
    let floor_c = product.floor() as i32;
    let tied = floor_ceiling_tied(weight, replicas, max_weight);
    let zero_allowed = weight == max_weight || weight == 0 || (replicas == 1 && surge == 0);

    let surged = replicas.saturating_add(1);
    let options = [
        (ceil_c < replicas || zero_allowed).then_some((ceil_c, replicas)),
        (!tied && (floor_c != 0 || zero_allowed)).then_some((floor_c, replicas)),
        (surge > 0).then_some((ceil_c, surged)),
        (surge > 0 && !floor_ceiling_tied(weight, surged, max_weight) && (floor_c != 0 || zero_allowed))
            .then_some((floor_c, surged)),
    ];
    // The first of the closest options, in Argo's order.
    let mut best: Option<((i32, i32), f64)> = None;
    for opt in options.into_iter().flatten() {
        let d = weight_delta(weight, opt.0, opt.1, max_weight);
        if best.is_none_or(|(_, best_delta)| d < best_delta) {
            best = Some((opt, d));
        }
    }
    match best {
        Some(((canary, total), _)) => (canary, total.saturating_sub(canary)),
        None => (0, replicas),
    }
}

/// Argo's `GetReplicasForScaleDown`: the pods of `rs` counted as available when deciding how far
/// to scale down. Spec when it is below availability (the extra pods are going away) or when
/// availability may be ignored; otherwise the available pods.
pub fn replicas_for_scale_down(rs: Option<&ReplicaSetState>, ignore_availability: bool) -> i32 {
    let Some(rs) = rs else { return 0 };
    if rs.spec_replicas < rs.available || ignore_availability {
        return rs.spec_replicas;
    }
    rs.available
}

fn scale_down_count(drain: Option<&ReplicaSetState>, desired: i32, scale_down: i32, current: i32) -> i32 {
    match drain {
        Some(rs) if rs.spec_replicas > desired => desired.max(rs.spec_replicas.saturating_sub(scale_down)),
        _ => current,
    }
}

/// Argo's `adjustReplicaWithinLimits`: keep the pair within `maxTotal` pods and `minAvailable`
/// available pods, giving back to `adjust` what the surge cap took when availability needs it.
fn adjust_within_limits(
    drain: Option<&ReplicaSetState>,
    adjust: Option<&ReplicaSetState>,
    mut drain_count: i32,
    mut adjust_count: i32,
    max_total: i32,
    min_available: i32,
) -> (i32, i32) {
    let mut over = 0.max(adjust_count.saturating_add(drain_count).saturating_sub(max_total));
    let mut available = 0i32;
    if let Some(d) = drain {
        available = available.saturating_add(d.available.min(drain_count));
    }
    if let Some(a) = adjust {
        adjust_count = adjust_count.saturating_sub(over);
        available = available.saturating_add(a.available.min(adjust_count));
        let extra = 0.max(a.available.saturating_sub(adjust_count));
        let need = 0.max(min_available.saturating_sub(available));
        adjust_count = adjust_count.saturating_add(extra.min(need));
        over = 0.max(adjust_count.saturating_add(drain_count).saturating_sub(max_total));
        drain_count = drain_count.saturating_sub(over);
    }
    (drain_count, adjust_count)
}

/// Argo's `CalculateReplicaCountsForBasicCanary` (reference §2.3): the counts the canary and the
/// stable should have now, moving towards the weight's split within maxSurge and maxUnavailable.
pub fn basic_canary_counts(rollout: &Rollout, observed: &ObservedReplicaSets) -> CanaryCounts {
    let n = rollout.spec.replicas_or_default();
    let weight = canary_replicas_or_weight(rollout, observed).weight;
    let surge = max_surge(&rollout.spec);
    let max_w = max_weight(rollout);
    let (mut desired_new, mut desired_stable) = approximate(n, weight, max_w, surge);

    let new_rs = observed.new_rs.as_ref();
    let mut new_count = new_rs.map_or(0, |r| r.spec_replicas);
    let scale_stable = observed.stable_exists();
    let stable_rs = if scale_stable { observed.stable_rs.as_ref() } else { None };
    let mut stable_count = 0;
    if let Some(s) = stable_rs {
        stable_count = s.spec_replicas;
    } else {
        desired_new = n;
        desired_stable = 0;
    }

    let max_total = n.saturating_add(surge);
    let mut scale_up = max_total.saturating_sub(observed.total_spec());
    if let Some(s) = stable_rs
        && s.spec_replicas < desired_stable
        && scale_up > 0
    {
        if s.spec_replicas.saturating_add(scale_up) < desired_stable {
            stable_count = s.spec_replicas.saturating_add(scale_up);
            scale_up = 0;
        } else {
            stable_count = desired_stable;
            scale_up = scale_up.saturating_sub(desired_stable.saturating_sub(s.spec_replicas));
        }
    }
    if let Some(nr) = new_rs
        && nr.spec_replicas < desired_new
        && scale_up > 0
    {
        new_count = desired_new.min(nr.spec_replicas.saturating_add(scale_up));
    }

    if observed.older.iter().map(|r| r.spec_replicas).fold(0, i32::saturating_add) > 0 {
        // Older ReplicaSets are scaled down first, elsewhere.
        return CanaryCounts { canary: new_count, stable: stable_count };
    }

    let min_available = n.saturating_sub(max_unavailable(&rollout.spec));
    let increasing = new_rs.is_none_or(|r| desired_new >= r.spec_replicas);
    let countable =
        replicas_for_scale_down(new_rs, !increasing).saturating_add(replicas_for_scale_down(stable_rs, increasing));
    if countable <= min_available {
        return CanaryCounts { canary: new_count, stable: stable_count };
    }
    let scale_down = countable.saturating_sub(min_available);
    if !increasing {
        new_count = scale_down_count(new_rs, desired_new, scale_down, new_count);
        (new_count, stable_count) =
            adjust_within_limits(new_rs, stable_rs, new_count, stable_count, max_total, min_available);
    } else if scale_stable {
        stable_count = scale_down_count(stable_rs, desired_stable, scale_down, stable_count);
        (stable_count, new_count) =
            adjust_within_limits(stable_rs, new_rs, stable_count, new_count, max_total, min_available);
    }
    CanaryCounts { canary: new_count, stable: stable_count }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::RolloutBuilder;
    use aviary_api::IntOrString;

    fn pct(s: &str) -> IntOrString {
        IntOrString::String(s.to_string())
    }

    /// TestCalculateReplicaCountsForCanary (reference §2.5), one row per case.
    #[test]
    fn basic_canary_rows_b1_to_b16() {
        use IntOrString::Int;
        #[allow(clippy::type_complexity)]
        let rows: &[(&str, i32, i32, IntOrString, IntOrString, (i32, i32), (i32, i32), i32, i32)] = &[
            ("B1", 10, 100, Int(3), Int(0), (7, 8), (6, 3), 7, 6),
            ("B2", 10, 20, Int(2), Int(0), (10, 10), (0, 0), 10, 2),
            ("B3", 10, 20, pct("20%"), Int(0), (10, 10), (0, 0), 10, 2),
            ("B4", 10, 20, pct("20%"), Int(0), (10, 10), (2, 2), 8, 2),
            ("B5", 10, 30, Int(2), Int(0), (10, 10), (0, 0), 10, 2),
            ("B6", 10, 20, Int(0), Int(2), (10, 10), (0, 0), 8, 0),
            ("B7", 10, 20, Int(0), pct("20%"), (10, 10), (0, 0), 8, 0),
            ("B8", 10, 30, Int(0), Int(2), (10, 10), (0, 0), 8, 0),
            ("B9", 10, 50, Int(2), Int(1), (10, 10), (0, 0), 9, 2),
            ("B10", 10, 0, Int(1), Int(1), (10, 10), (1, 1), 10, 0),
            ("B11", 10, 100, Int(1), Int(1), (1, 1), (10, 10), 0, 10),
            ("B12", 1, 20, Int(1), Int(0), (1, 1), (0, 0), 1, 1),
            ("B13", 1, 90, Int(1), Int(0), (1, 1), (0, 0), 1, 1),
            ("B14", 1, 49, Int(0), Int(1), (1, 1), (0, 0), 1, 0),
            ("B15", 1, 51, Int(0), Int(1), (1, 1), (0, 0), 0, 0),
            ("B16", 1, 51, Int(0), Int(1), (0, 0), (0, 0), 0, 1),
        ];
        for (id, n, w, surge, unav, (ss, sa), (cs, ca), exp_s, exp_c) in rows {
            let ro = RolloutBuilder::canary(*n)
                .set_weight(*w)
                .max_surge(surge.clone())
                .max_unavailable(unav.clone())
                .build();
            let obs = ObservedReplicaSets {
                new_rs: Some(ReplicaSetState::new("canary", *cs, *ca)),
                stable_rs: Some(ReplicaSetState::new("stable", *ss, *sa)),
                older: vec![],
            };
            let got = basic_canary_counts(&ro, &obs);
            assert_eq!((got.stable, got.canary), (*exp_s, *exp_c), "{id}");
        }
    }

    #[test]
    fn new_deployment_where_new_is_stable_goes_straight_to_full() {
        // TestCalculateReplicaCountsForNewDeployment.
        let ro = RolloutBuilder::canary(10).set_weight(10).fenceposts(0, 1).build();
        let obs = ObservedReplicaSets {
            new_rs: Some(ReplicaSetState::new("stable", 10, 0)),
            stable_rs: Some(ReplicaSetState::new("stable", 10, 0)),
            older: vec![],
        };
        assert_eq!(basic_canary_counts(&ro, &obs), CanaryCounts { canary: 10, stable: 0 });
    }

    #[test]
    fn missing_stable_or_empty_stable_rs_scales_new_to_full() {
        // TestCalculateReplicaCountsForCanaryStableRSdEdgeCases.
        let ro = RolloutBuilder::canary(10).set_weight(10).stable_hash("").build();
        for stable in [None, Some(ReplicaSetState::new("canary", 9, 9))] {
            let obs = ObservedReplicaSets {
                new_rs: Some(ReplicaSetState::new("canary", 9, 9)),
                stable_rs: stable,
                older: vec![],
            };
            assert_eq!(basic_canary_counts(&ro, &obs), CanaryCounts { canary: 10, stable: 0 });
        }
    }

    /// TestApproximateWeightedNewStableReplicaCounts (reference §2.7).
    #[test]
    fn approximation_vectors() {
        // (N, surge, [(weight, (canary, stable))]).
        type Row = (i32, i32, &'static [(i32, (i32, i32))]);
        let rows: &[Row] = &[
            (0, 0, &[(0, (0, 0)), (50, (0, 0)), (100, (0, 0))]),
            (0, 1, &[(0, (0, 0)), (50, (0, 0)), (100, (0, 0))]),
            (1, 0, &[(0, (0, 1)), (1, (0, 1)), (49, (0, 1)), (50, (1, 0)), (99, (1, 0)), (100, (1, 0))]),
            (1, 1, &[(0, (0, 1)), (1, (1, 1)), (49, (1, 1)), (50, (1, 1)), (99, (1, 1)), (100, (1, 0))]),
            (2, 0, &[(0, (0, 2)), (1, (1, 1)), (50, (1, 1)), (99, (1, 1)), (100, (2, 0))]),
            (2, 1, &[(0, (0, 2)), (1, (1, 2)), (50, (1, 1)), (99, (2, 1)), (100, (2, 0))]),
            (3, 0, &[(10, (1, 2)), (25, (1, 2)), (33, (1, 2)), (34, (1, 2)), (49, (1, 2)), (50, (2, 1))]),
            (3, 1, &[(10, (1, 3)), (25, (1, 3)), (33, (1, 2)), (34, (1, 2)), (49, (2, 2)), (50, (2, 2))]),
        ];
        for (n, surge, cases) in rows {
            for (w, want) in *cases {
                assert_eq!(approximate(*n, *w, 100, *surge), *want, "N={n} surge={surge} w={w}");
            }
        }
    }

    #[test]
    fn v1_2_behaviour_change_rows() {
        // (N, surge, w): v1.1 → now (PR #1759).
        assert_eq!(approximate(1, 10, 100, 0), (0, 1));
        assert_eq!(approximate(1, 50, 100, 0), (1, 0));
        assert_eq!(approximate(3, 33, 100, 1), (1, 2));
        assert_eq!(approximate(3, 50, 100, 0), (2, 1));
    }

    #[test]
    fn no_option_keeps_every_pod_stable_as_argo_does() {
        // Without surge, ceil(N×w/100) = N leaves no stable pod and the floor is tied: Argo's
        // option list is empty and it returns (0, N) ("should not get here").
        for (n, w) in [(2, 75), (5, 90), (10, 95), (25, 98), (50, 99)] {
            assert_eq!(approximate(n, w, 100, 0), (0, n), "N={n} w={w}");
            // With surge the N+1 options exist and the canary gets its pods.
            assert!(approximate(n, w, 100, 1).0 >= 1, "N={n} w={w} surge 1");
        }
    }

    #[test]
    fn reference_example_10_replicas_25_percent() {
        // §2.8: approximate(10, 25, 100, 3) = (3, 8).
        assert_eq!(approximate(10, 25, 100, 3), (3, 8));
        let ro = RolloutBuilder::canary(10).set_weight(25).pause().build();
        // Reconcile 1: stable 10/10, canary 0 → stable to 8, canary to 3.
        let obs = ObservedReplicaSets {
            new_rs: Some(ReplicaSetState::new("canary", 0, 0)),
            stable_rs: Some(ReplicaSetState::ready("stable", 10)),
            older: vec![],
        };
        assert_eq!(basic_canary_counts(&ro, &obs), CanaryCounts { canary: 3, stable: 8 });
        // Variant maxSurge 0 / maxUnavailable 1: target (3, 7).
        assert_eq!(approximate(10, 25, 100, 0), (3, 7));
    }

    #[test]
    fn max_traffic_weight_scales_the_split() {
        // 250 of 1000 is 25%.
        assert_eq!(approximate(10, 250, 1000, 3), (3, 8));
    }
}

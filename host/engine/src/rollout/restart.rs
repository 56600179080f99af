//! `spec.restartAt`: which pods to restart and how many at once (Argo's `RolloutPodRestarter`,
//! used by `kubectl argo rollouts restart`). The controller lists the pods, evicts the candidates
//! in order until the budget is spent (an eviction a PodDisruptionBudget refuses does not count),
//! and reports how many it evicted ([`RestartPlan::outcome`]).

use std::time::Duration;

use aviary_api::{Rollout, Time};
use chrono::{DateTime, Utc};

use crate::fenceposts::max_unavailable;
use crate::observed::ObservedReplicaSets;

/// How soon a restart in progress is looked at again (Argo's `restartPodCheckTime`).
pub const RECHECK: Duration = Duration::from_secs(10);

/// One pod of the Rollout, as the restart decision needs it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodState {
    /// Its name (what is evicted).
    pub name: String,
    /// Its `rollouts-pod-template-hash` label: pods of other ReplicaSets are not the Rollout's.
    pub pod_template_hash: String,
    /// `metadata.creationTimestamp`.
    pub created: Option<DateTime<Utc>>,
    /// Ready and not terminating (Argo's `getAvailablePodCount`, without `minReadySeconds`).
    pub available: bool,
    /// It has a deletion timestamp: already going, never evicted again.
    pub terminating: bool,
}

/// What the restarter decides before evicting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RestartDecision {
    /// Nothing to restart: `status.restartedAt` may record this time (or keep what it has).
    Done(Option<Time>),
    /// Pods created before `restartAt` remain.
    Evict(RestartPlan),
}

/// The pods to evict for a restart, and how many may go now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestartPlan {
    /// The pods older than `restartAt` that are not already terminating, in list order.
    pub candidates: Vec<String>,
    /// How many may be evicted now: the available pods beyond `max(replicas, Σ spec) −
    /// maxUnavailable` (at least one unavailable allowed). Zero or less: none now.
    pub budget: i32,
}

/// What the restarter did, once the evictions were tried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Restart {
    /// Nothing to do, or done: `restartedAt` may record this time.
    Done(Option<Time>),
    /// Pods were evicted in this reconcile: the availability counts no longer hold, so the
    /// reconcile ends here (Argo's pod restarter) and looks again after [`RECHECK`].
    Evicted,
    /// Old pods remain but none could be evicted now: the reconcile goes on, and the restarter
    /// looks again after [`RECHECK`].
    Waiting,
}

impl RestartPlan {
    /// The outcome once `evicted` of the candidates were evicted.
    pub fn outcome(&self, evicted: usize) -> Restart {
        if evicted == 0 { Restart::Waiting } else { Restart::Evicted }
    }
}

/// Whether a restart is due: `Ok(restartAt)` when `spec.restartAt` has passed and
/// `status.restartedAt` does not record it yet (the pods must then be looked at), otherwise
/// `Err` with what `restartedAt` keeps.
pub fn due(rollout: &Rollout, now: DateTime<Utc>) -> Result<Time, Option<Time>> {
    let Some(restart_at) = rollout.spec.restart_at else { return Err(None) };
    let already = rollout.status.as_ref().and_then(|s| s.restarted_at);
    if already.as_ref() == Some(&restart_at) || restart_at.0 > now {
        return Err(already);
    }
    Ok(restart_at)
}

/// Argo's `RolloutPodRestarter.Reconcile`: whether pods created before `spec.restartAt` remain
/// among the Rollout's pods, and which may be evicted now.
pub fn decide(
    rollout: &Rollout,
    observed: &ObservedReplicaSets,
    pods: &[PodState],
    now: DateTime<Utc>,
) -> RestartDecision {
    let restart_at = match due(rollout, now) {
        Ok(at) => at,
        Err(kept) => return RestartDecision::Done(kept),
    };
    let ours: Vec<&PodState> =
        pods.iter().filter(|p| observed.all().any(|r| r.pod_template_hash == p.pod_template_hash)).collect();
    let total = observed.sum(|r| r.spec_replicas);
    let available = i32::try_from(ours.iter().filter(|p| p.available).count()).unwrap_or(i32::MAX);
    let concurrent = max_unavailable(&rollout.spec).max(1);
    let budget = available.saturating_sub(rollout.spec.replicas_or_default().max(total).saturating_sub(concurrent));
    let old: Vec<&PodState> =
        ours.into_iter().filter(|p| p.created.is_none_or(|c| c.timestamp() < restart_at.0.timestamp())).collect();
    if old.is_empty() {
        return RestartDecision::Done(Some(restart_at));
    }
    let candidates =
        if budget > 0 { old.iter().filter(|p| !p.terminating).map(|p| p.name.clone()).collect() } else { Vec::new() };
    RestartDecision::Evict(RestartPlan { candidates, budget })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observed::ReplicaSetState;
    use crate::testing::RolloutBuilder;
    use aviary_api::IntOrString;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
    }

    fn pod(name: &str, hash: &str, created: i64, available: bool) -> PodState {
        PodState {
            name: name.into(),
            pod_template_hash: hash.into(),
            created: Some(at(created)),
            available,
            terminating: false,
        }
    }

    fn stable(n: i32) -> ObservedReplicaSets {
        ObservedReplicaSets {
            new_rs: Some(ReplicaSetState::ready("s", n)),
            stable_rs: Some(ReplicaSetState::ready("s", n)),
            older: vec![],
        }
    }

    fn rollout(n: i32, restart_at: Option<i64>, restarted_at: Option<i64>, unavailable: i32) -> Rollout {
        let mut ro = RolloutBuilder::canary(n).max_unavailable(IntOrString::Int(unavailable)).build();
        ro.spec.restart_at = restart_at.map(|s| Time(at(s)));
        ro.status.get_or_insert_with(Default::default).restarted_at = restarted_at.map(|s| Time(at(s)));
        ro
    }

    fn plan(candidates: &[&str], budget: i32) -> RestartDecision {
        RestartDecision::Evict(RestartPlan { candidates: candidates.iter().map(|c| c.to_string()).collect(), budget })
    }

    #[test]
    fn no_restart_at_or_one_already_done_or_in_the_future_does_nothing() {
        let pods = [pod("a", "s", 0, true)];
        assert_eq!(decide(&rollout(1, None, None, 0), &stable(1), &pods, at(100)), RestartDecision::Done(None));
        assert_eq!(
            decide(&rollout(1, Some(50), Some(50), 0), &stable(1), &pods, at(100)),
            RestartDecision::Done(Some(Time(at(50))))
        );
        assert_eq!(
            decide(&rollout(1, Some(200), Some(10), 0), &stable(1), &pods, at(100)),
            RestartDecision::Done(Some(Time(at(10))))
        );
    }

    #[test]
    fn restart_is_done_when_every_pod_is_younger_than_restart_at() {
        let pods = [pod("a", "s", 60, true), pod("b", "s", 50, true)];
        assert_eq!(
            decide(&rollout(2, Some(50), None, 1), &stable(2), &pods, at(100)),
            RestartDecision::Done(Some(Time(at(50))))
        );
    }

    #[test]
    fn max_unavailable_pods_go_at_once_and_at_least_one() {
        let pods: Vec<PodState> = (0..4).map(|i| pod(&format!("p{i}"), "s", 0, true)).collect();
        assert_eq!(
            decide(&rollout(4, Some(50), None, 2), &stable(4), &pods, at(100)),
            plan(&["p0", "p1", "p2", "p3"], 2)
        );
        // maxUnavailable 0 still restarts one at a time.
        assert_eq!(
            decide(&rollout(4, Some(50), None, 0), &stable(4), &pods, at(100)),
            plan(&["p0", "p1", "p2", "p3"], 1)
        );
    }

    #[test]
    fn unavailable_pods_use_up_the_budget() {
        let pods = [pod("a", "s", 0, false), pod("b", "s", 0, true), pod("c", "s", 0, true)];
        // 2 available of 3, maxUnavailable 1: 2 − (3 − 1) = 0, nothing now.
        assert_eq!(decide(&rollout(3, Some(50), None, 1), &stable(3), &pods, at(100)), plan(&[], 0));
        assert_eq!(plan(&[], 0), RestartDecision::Evict(RestartPlan { candidates: vec![], budget: 0 }));
    }

    #[test]
    fn terminating_pods_still_count_as_old_but_are_not_evicted_again() {
        let mut going = pod("a", "s", 0, false);
        going.terminating = true;
        let pods = [going, pod("b", "s", 0, true), pod("c", "s", 0, true)];
        assert_eq!(decide(&rollout(2, Some(50), None, 1), &stable(2), &pods, at(100)), plan(&["b", "c"], 1));
    }

    #[test]
    fn pods_of_other_replica_sets_are_not_the_rollouts() {
        let pods = [pod("x", "other", 0, true), pod("a", "s", 60, true)];
        assert_eq!(
            decide(&rollout(1, Some(50), None, 1), &stable(1), &pods, at(100)),
            RestartDecision::Done(Some(Time(at(50))))
        );
    }

    #[test]
    fn the_outcome_ends_the_reconcile_only_when_a_pod_was_evicted() {
        let p = RestartPlan { candidates: vec!["a".into()], budget: 1 };
        assert_eq!(p.outcome(0), Restart::Waiting);
        assert_eq!(p.outcome(1), Restart::Evicted);
    }
}

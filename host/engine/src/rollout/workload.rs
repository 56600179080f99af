//! `workloadRef`: a Rollout that takes its pod template from a Deployment (Argo's
//! `templateref.go`), and how far it scales that Deployment down as its own pods take over
//! (`scaleDown: never | onsuccess | progressively`, Argo's `scaleDeployment` callers).

use aviary_api::rollout_status::RolloutPhase;
use aviary_api::{Rollout, RolloutStatus};

use crate::observed::ReplicaSetState;

/// The annotation a workloadRef rollout carries with the referenced object's generation.
pub const WORKLOAD_GENERATION: &str = "rollout.argoproj.io/workload-generation";

/// Argo's `ScaleDownOnSuccess`.
pub const ON_SUCCESS: &str = "onsuccess";
/// Argo's `ScaleDownProgressively`.
pub const PROGRESSIVELY: &str = "progressively";

/// `status.workloadObservedGeneration`: the workload generation the rollout acted on (its
/// annotation), none without a workloadRef.
pub fn observed_generation(rollout: &Rollout) -> String {
    if rollout.spec.workload_ref.is_none() {
        return String::new();
    }
    rollout.metadata.annotations.as_ref().and_then(|a| a.get(WORKLOAD_GENERATION)).cloned().unwrap_or_default()
}

/// The size to give the referenced Deployment in this reconcile, if any (Argo's two callers of
/// `scaleDeployment`):
/// - `onsuccess`: once the first revision is promoted and the stored phase is Healthy, zero;
/// - `progressively`: while the new ReplicaSet is the first revision, zero once Healthy, and
///   before that `spec.replicas` less the rollout's ready pods (so that the two together never
///   fall below what the Deployment ran), when the rollout has ready pods or shrinks.
///
/// `new_rs` is the new ReplicaSet as observed, `new_count` its size after this reconcile's
/// scaling, `promoted` whether this reconcile reached the promotion of a stable.
pub fn deployment_replicas(
    rollout: &Rollout,
    new_rs: Option<&ReplicaSetState>,
    new_count: Option<i32>,
    promoted: bool,
) -> Option<i32> {
    let workload = rollout.spec.workload_ref.as_ref()?;
    let default_status = RolloutStatus::default();
    let status = rollout.status.as_ref().unwrap_or(&default_status);
    let healthy = status.phase == Some(RolloutPhase::Healthy);
    match workload.scale_down.as_str() {
        ON_SUCCESS => {
            let revision =
                rollout.metadata.annotations.as_ref().and_then(|a| a.get(crate::rollout::revision::REVISION));
            (promoted && healthy && revision.map(String::as_str) == Some("1")).then_some(0)
        }
        PROGRESSIVELY => {
            let new_rs = new_rs.filter(|rs| rs.revision == 1)?;
            if healthy {
                return Some(0);
            }
            let old = new_rs.spec_replicas;
            let new = new_count.unwrap_or(old);
            let replicas = rollout.spec.replicas?;
            (status.ready_replicas > 0 || old > new).then(|| replicas.saturating_sub(status.ready_replicas).max(0))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aviary_api::rollout::ObjectRef;

    fn rollout(mode: &str, phase: RolloutPhase, ready: i32) -> Rollout {
        let mut ro = crate::testing::RolloutBuilder::canary(4).build();
        ro.spec.workload_ref = Some(ObjectRef {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            name: "web".into(),
            scale_down: mode.into(),
        });
        ro.metadata.annotations = Some([(crate::rollout::revision::REVISION.to_string(), "1".to_string())].into());
        let st = ro.status.as_mut().unwrap();
        st.phase = Some(phase);
        st.ready_replicas = ready;
        ro
    }

    fn rs(revision: i64, spec: i32) -> ReplicaSetState {
        ReplicaSetState { revision, ..ReplicaSetState::new("canary", spec, spec) }
    }

    #[test]
    fn progressively_hands_pods_over_as_the_rollout_s_become_ready() {
        use RolloutPhase::{Healthy, Progressing};
        let rows = [
            ("nothing ready yet, growing", Progressing, 0, 0, Some(2), None),
            ("one ready", Progressing, 1, 2, Some(2), Some(3)),
            ("all ready", Progressing, 4, 4, Some(4), Some(0)),
            ("shrinking gives the Deployment pods back", Progressing, 0, 4, Some(2), Some(4)),
            ("healthy", Healthy, 4, 4, Some(4), Some(0)),
        ];
        for (name, phase, ready, old, new, want) in rows {
            let ro = rollout(PROGRESSIVELY, phase, ready);
            assert_eq!(deployment_replicas(&ro, Some(&rs(1, old)), new, false), want, "{name}");
        }
        // Later revisions never touch the Deployment.
        let ro = rollout(PROGRESSIVELY, RolloutPhase::Progressing, 2);
        assert_eq!(deployment_replicas(&ro, Some(&rs(2, 2)), Some(4), false), None);
    }

    #[test]
    fn on_success_scales_to_zero_once_the_first_revision_is_healthy_and_never_does_nothing() {
        let ro = rollout(ON_SUCCESS, RolloutPhase::Healthy, 4);
        assert_eq!(deployment_replicas(&ro, Some(&rs(1, 4)), Some(4), true), Some(0));
        assert_eq!(deployment_replicas(&ro, Some(&rs(1, 4)), Some(4), false), None, "not promoted");
        let progressing = rollout(ON_SUCCESS, RolloutPhase::Progressing, 4);
        assert_eq!(deployment_replicas(&progressing, Some(&rs(1, 4)), Some(4), true), None);
        for mode in ["never", "", "unknown"] {
            let ro = rollout(mode, RolloutPhase::Healthy, 4);
            assert_eq!(deployment_replicas(&ro, Some(&rs(1, 4)), Some(4), true), None, "{mode:?}");
        }
        assert_eq!(observed_generation(&ro), "");
    }
}

//! Blue-green replica counts (reference §1.3; Argo `NewRSNewReplicas` for blue-green). The rest
//! of a blue-green reconcile is decided in [`crate::rollout`].

use aviary_api::rollout::Rollout;

use crate::observed::ObservedReplicaSets;
use crate::weight::status;

/// Pods for the new (preview) ReplicaSet (Argo's `NewRSNewReplicas` for blue-green): full scale
/// unless `previewReplicaCount` is set; with it, full scale once the active Service selects the
/// new ReplicaSet (or selects none that exists: the first deploy), on a full promotion, or when
/// resumed past the preview scale-up checkpoint; `previewReplicaCount` before that, and always
/// for a template the status has not recorded yet (a new update).
pub fn new_rs_replicas(rollout: &Rollout, observed: &ObservedReplicaSets) -> i32 {
    let n = rollout.spec.replicas_or_default();
    let Some(preview) = rollout.spec.blue_green().and_then(|bg| bg.preview_replica_count) else {
        return n;
    };
    let st = status(rollout);
    let active = &st.blue_green.active_selector;
    let new_rs = observed.new_rs.as_ref();
    let active_rs = (!active.is_empty()).then(|| observed.all().find(|r| r.pod_template_hash == *active)).flatten();
    match active_rs {
        None => return n,
        Some(a) if new_rs.is_some_and(|r| r.name == a.name && r.pod_template_hash == a.pod_template_hash) => return n,
        Some(_) => {}
    }
    if st.promote_full {
        return n;
    }
    if new_rs.is_none_or(|r| r.pod_template_hash != st.current_pod_hash) {
        return preview;
    }
    let not_paused = !rollout.spec.paused && st.pause_conditions.is_empty();
    if not_paused && st.blue_green.scale_up_preview_check_point {
        return n;
    }
    preview
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observed::ReplicaSetState;
    use crate::testing::RolloutBuilder;

    fn with_preview(count: Option<i32>) -> Rollout {
        let mut ro = RolloutBuilder::blue_green(10).build();
        ro.spec.strategy.blue_green.as_mut().unwrap().preview_replica_count = count;
        ro.status.as_mut().unwrap().blue_green.active_selector = "stable".into();
        ro
    }

    fn obs(new: (i32, i32)) -> ObservedReplicaSets {
        ObservedReplicaSets {
            new_rs: Some(ReplicaSetState::new("canary", new.0, new.1)),
            stable_rs: Some(ReplicaSetState::ready("stable", 10)),
            older: vec![],
        }
    }

    #[test]
    fn preview_replica_count_until_promotion() {
        let ro = with_preview(Some(2));
        assert_eq!(new_rs_replicas(&ro, &obs((0, 0))), 2);
        let mut promoted = ro.clone();
        promoted.status.as_mut().unwrap().blue_green.scale_up_preview_check_point = true;
        assert_eq!(new_rs_replicas(&promoted, &obs((2, 2))), 10);
        assert_eq!(new_rs_replicas(&with_preview(None), &obs((0, 0))), 10);
        let mut first = with_preview(Some(2));
        first.status.as_mut().unwrap().blue_green.active_selector.clear();
        assert_eq!(new_rs_replicas(&first, &obs((0, 0))), 10);
    }
}

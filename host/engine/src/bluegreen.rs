//! Blue-green counts and promotion (reference §1.3; Argo `NewRSNewReplicas` for blue-green,
//! `reconcileBlueGreenPause`).

use chrono::{DateTime, Utc};

use aviary_api::AnalysisPhase;
use aviary_api::rollout::Rollout;
use aviary_api::rollout_status::PauseReason;

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

/// What a blue-green rollout does about promotion in this reconcile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlueGreenPromotion {
    /// The preview ReplicaSet is not fully available yet.
    WaitForPreview,
    /// The pre-promotion analysis has not succeeded yet.
    WaitForAnalysis,
    /// Pause (add the `BlueGreenPause` condition) and wait for a promote.
    Pause,
    /// Paused; promote automatically after this time unless promoted earlier.
    PromoteAfter(DateTime<Utc>),
    /// Switch the active service to the new ReplicaSet now.
    Promote,
    /// Already promoted: the active service selects the new ReplicaSet.
    Promoted,
    /// Aborted: never promote.
    Aborted,
}

/// Decides promotion: the preview must be fully available and the pre-promotion analysis (if
/// any) successful; then promote at once when `autoPromotionEnabled` (default) and no
/// `autoPromotionSeconds`; otherwise pause until promoted by hand or until
/// `autoPromotionSeconds` after the pause started.
pub fn promotion(
    rollout: &Rollout,
    observed: &ObservedReplicaSets,
    pre_promotion_analysis: Option<AnalysisPhase>,
    now: DateTime<Utc>,
) -> BlueGreenPromotion {
    let st = status(rollout);
    let Some(bg) = rollout.spec.blue_green() else {
        return BlueGreenPromotion::Promoted;
    };
    if st.abort {
        return BlueGreenPromotion::Aborted;
    }
    let new_hash = observed.new_rs.as_ref().map(|r| r.pod_template_hash.clone()).unwrap_or_default();
    if !st.blue_green.active_selector.is_empty() && st.blue_green.active_selector == new_hash {
        return BlueGreenPromotion::Promoted;
    }
    if st.promote_full {
        return BlueGreenPromotion::Promote;
    }
    let desired = new_rs_replicas(rollout, observed);
    let ready = observed.new_rs.as_ref().is_some_and(|r| r.spec_replicas == desired && r.available >= desired);
    if !ready {
        return BlueGreenPromotion::WaitForPreview;
    }
    if bg.pre_promotion_analysis.is_some() && pre_promotion_analysis != Some(AnalysisPhase::Successful) {
        return BlueGreenPromotion::WaitForAnalysis;
    }
    let pause = st.pause_conditions.iter().find(|c| c.reason == PauseReason::BlueGreenPause);
    let resumed = st.controller_pause && pause.is_none();
    if resumed {
        return BlueGreenPromotion::Promote;
    }
    let auto = bg.auto_promotion_enabled_or_default();
    if auto && bg.auto_promotion_seconds == 0 {
        return BlueGreenPromotion::Promote;
    }
    match pause {
        None => BlueGreenPromotion::Pause,
        Some(p) if auto => {
            let deadline = crate::clock::after_seconds(p.start_time.0, i64::from(bg.auto_promotion_seconds));
            if now > deadline { BlueGreenPromotion::Promote } else { BlueGreenPromotion::PromoteAfter(deadline) }
        }
        Some(_) => BlueGreenPromotion::Pause,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observed::ReplicaSetState;
    use crate::testing::RolloutBuilder;
    use aviary_api::Time;
    use aviary_api::rollout_status::PauseCondition;
    use chrono::Duration;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z").unwrap().with_timezone(&Utc)
    }

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

    #[test]
    fn auto_promotion_after_the_preview_is_ready() {
        let ro = with_preview(None);
        assert_eq!(promotion(&ro, &obs((10, 5)), None, now()), BlueGreenPromotion::WaitForPreview);
        assert_eq!(promotion(&ro, &obs((10, 10)), None, now()), BlueGreenPromotion::Promote);
    }

    #[test]
    fn manual_promotion_pauses_until_resumed() {
        let mut ro = with_preview(None);
        ro.spec.strategy.blue_green.as_mut().unwrap().auto_promotion_enabled = Some(false);
        assert_eq!(promotion(&ro, &obs((10, 10)), None, now()), BlueGreenPromotion::Pause);
        ro.status.as_mut().unwrap().controller_pause = true;
        assert_eq!(promotion(&ro, &obs((10, 10)), None, now()), BlueGreenPromotion::Promote);
    }

    #[test]
    fn auto_promotion_seconds_count_from_the_pause() {
        let mut ro = with_preview(None);
        ro.spec.strategy.blue_green.as_mut().unwrap().auto_promotion_seconds = 60;
        assert_eq!(promotion(&ro, &obs((10, 10)), None, now()), BlueGreenPromotion::Pause);
        ro.status
            .as_mut()
            .unwrap()
            .pause_conditions
            .push(PauseCondition { reason: PauseReason::BlueGreenPause, start_time: Time(now()) });
        let deadline = now() + Duration::seconds(60);
        assert_eq!(promotion(&ro, &obs((10, 10)), None, now()), BlueGreenPromotion::PromoteAfter(deadline));
        assert_eq!(promotion(&ro, &obs((10, 10)), None, deadline + Duration::seconds(1)), BlueGreenPromotion::Promote);
    }

    #[test]
    fn pre_promotion_analysis_must_succeed() {
        let mut ro = with_preview(None);
        ro.spec.strategy.blue_green.as_mut().unwrap().pre_promotion_analysis = Some(Default::default());
        assert_eq!(
            promotion(&ro, &obs((10, 10)), Some(AnalysisPhase::Running), now()),
            BlueGreenPromotion::WaitForAnalysis
        );
        assert_eq!(promotion(&ro, &obs((10, 10)), Some(AnalysisPhase::Successful), now()), BlueGreenPromotion::Promote);
    }
}

//! Decision tables for one blue-green reconcile, each row named after the behaviour: the preview
//! Service first, promotion with and without auto-promotion, `autoPromotionSeconds`,
//! `previewReplicaCount` and its checkpoint, the scale-down delay and its revision limit, abort
//! with `abortScaleDownDelaySeconds`, a full promotion, a halt, a new template.
//!
//! The rollout of every row: 3 replicas, active Service `active` and preview Service `preview`,
//! stable ReplicaSet `stable` (`demo-stable`), new ReplicaSet `canary` (`demo-canary`),
//! revision 2, at `t0`.

use aviary_api::Time;
use aviary_api::rollout_status::{PauseCondition, PauseReason, RolloutPhase};
use chrono::Duration as Span;

use super::*;
use crate::conditions::{self as cond, kind, reason as r};
use crate::observed::ObservedReplicaSets;
use crate::reconcile_order::ReplicaSetRole::{Canary, Older, Stable};
use crate::rollout::{self as decide, BlueGreenServices, Observed, RolloutAction, ServiceState};
use crate::testing::RolloutBuilder;

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().with_timezone(&Utc)
}

fn at(seconds: i64) -> DateTime<Utc> {
    t0() + Span::seconds(seconds)
}

/// A ReplicaSet last scaled for the rollout's 3 replicas.
fn rs(hash: &str, spec: i32, available: i32) -> ReplicaSetState {
    ReplicaSetState {
        name: format!("demo-{hash}"),
        desired_replicas: Some(3),
        ready: available,
        ..ReplicaSetState::new(hash, spec, available)
    }
}

fn svc(name: &str, selector: Option<&str>) -> ServiceState {
    ServiceState { name: name.into(), selector: selector.map(str::to_string), managed: selector.is_some() }
}

/// An update from `stable` to `canary` in progress; the Services select `active` / `preview`.
fn rollout(edit: impl FnOnce(&mut aviary_api::rollout::BlueGreenStrategy)) -> Rollout {
    let mut ro = RolloutBuilder::blue_green(3).build();
    ro.metadata.generation = Some(1);
    ro.spec.selector = Some(aviary_api::k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
        match_labels: Some([("app".to_string(), "demo".to_string())].into()),
        ..Default::default()
    });
    edit(ro.spec.strategy.blue_green.as_mut().unwrap());
    let st = ro.status.as_mut().unwrap();
    st.observed_generation = "1".into();
    st.blue_green.active_selector = "stable".into();
    st.blue_green.preview_selector = "canary".into();
    st.conditions = vec![cond::new(
        kind::PROGRESSING,
        "True",
        r::REPLICA_SET_UPDATED,
        "ReplicaSet \"demo-canary\" is progressing.",
        t0(),
    )];
    ro
}

fn observed(canary: (i32, i32), active: Option<&str>, preview: Option<&str>) -> Observed {
    Observed {
        replica_sets: ObservedReplicaSets {
            new_rs: Some(rs("canary", canary.0, canary.1)),
            stable_rs: Some(rs("stable", 3, 3)),
            older: vec![],
        },
        revision: 2,
        services: BlueGreenServices { active: Some(svc("active", active)), preview: Some(svc("preview", preview)) },
        ..Default::default()
    }
}

fn decide(ro: &Rollout, o: &Observed, now: DateTime<Utc>) -> RolloutDecision {
    decide::reconcile(ro, o, PauseContext::start(ro), now)
}

fn switches(d: &RolloutDecision) -> Vec<(String, String)> {
    d.actions
        .iter()
        .filter_map(|a| match a {
            RolloutAction::SwitchService { service, to, .. } => Some((service.clone(), to.clone())),
            _ => None,
        })
        .collect()
}

fn sizes(d: &RolloutDecision) -> Vec<(crate::reconcile_order::ReplicaSetRole, i32, i32)> {
    d.scales().map(|a| (a.which, a.from, a.to)).collect()
}

fn deadlines(d: &RolloutDecision) -> Vec<(crate::reconcile_order::ReplicaSetRole, Option<DateTime<Utc>>)> {
    d.actions
        .iter()
        .filter_map(|a| match a {
            RolloutAction::ScaleDownDeadline { which, at } => Some((*which, *at)),
            _ => None,
        })
        .collect()
}

fn pauses(d: &RolloutDecision) -> Vec<PauseReason> {
    d.status.pause_conditions.iter().map(|c| c.reason).collect()
}

fn pair(service: &str, to: &str) -> (String, String) {
    (service.to_string(), to.to_string())
}

#[test]
fn the_preview_service_follows_the_new_replica_set_first() {
    let ro = rollout(|_| {});
    let d = decide(&ro, &observed((0, 0), Some("stable"), Some("stable")), t0());
    assert_eq!(switches(&d), [pair("preview", "canary")]);
    // The stable stays at full size, the new ReplicaSet comes up; the active Service waits.
    assert_eq!(sizes(&d), [(Stable, 3, 3), (Canary, 0, 3)]);
    assert_eq!(d.status.blue_green.preview_selector, "canary");
    assert_eq!(d.status.blue_green.active_selector, "stable");
    assert_eq!(d.status.phase, Some(RolloutPhase::Progressing));
}

#[test]
fn an_unmanaged_preview_service_is_adopted_even_when_it_already_selects_the_new_replica_set() {
    let ro = rollout(|_| {});
    let mut o = observed((3, 3), Some("stable"), Some("canary"));
    o.services.preview.as_mut().unwrap().managed = false;
    let d = decide(&ro, &o, t0());
    assert!(d.actions.contains(&RolloutAction::SwitchService {
        service: "preview".into(),
        from: "canary".into(),
        to: "canary".into(),
        adopt: true
    }));
}

#[test]
fn auto_promotion_switches_the_active_service_once_the_new_replica_set_is_saturated() {
    let ro = rollout(|_| {});
    let d = decide(&ro, &observed((3, 2), Some("stable"), Some("canary")), t0());
    assert_eq!(switches(&d), Vec::<(String, String)>::new(), "not saturated yet");
    let d = decide(&ro, &observed((3, 3), Some("stable"), Some("canary")), t0());
    assert_eq!(switches(&d), [pair("active", "canary")]);
    // Switched and promoted in the same reconcile.
    assert_eq!(d.status.blue_green.active_selector, "canary");
    assert_eq!(d.status.stable_rs, "canary");
    assert!(d.events.iter().any(|e| e.reason == r::COMPLETED
        && e.message == "Rollout completed update to revision 2 (canary): Completed blue-green update"));
    assert_eq!(d.status.phase, Some(RolloutPhase::Healthy));
}

#[test]
fn a_desired_replicas_annotation_of_another_size_is_not_saturated() {
    let ro = rollout(|_| {});
    let mut o = observed((3, 3), Some("stable"), Some("canary"));
    o.replica_sets.new_rs.as_mut().unwrap().desired_replicas = Some(5);
    assert_eq!(switches(&decide(&ro, &o, t0())), Vec::<(String, String)>::new());
}

#[test]
fn without_auto_promotion_the_rollout_pauses_until_promoted() {
    let ro = rollout(|bg| bg.auto_promotion_enabled = Some(false));
    let d = decide(&ro, &observed((3, 3), Some("stable"), Some("canary")), t0());
    assert_eq!(switches(&d), Vec::<(String, String)>::new());
    assert_eq!(pauses(&d), [PauseReason::BlueGreenPause]);
    assert!(d.status.controller_pause);
    assert_eq!(d.status.phase, Some(RolloutPhase::Paused));
    // `promote` removes the pause condition and leaves controllerPause: the switch follows.
    let mut promoted = ro.clone();
    promoted.status.as_mut().unwrap().controller_pause = true;
    let d = decide(&promoted, &observed((3, 3), Some("stable"), Some("canary")), t0());
    assert_eq!(switches(&d), [pair("active", "canary")]);
    assert_eq!(d.status.stable_rs, "canary");
}

#[test]
fn a_paused_rollout_stays_paused_while_the_pause_condition_is_there() {
    let mut ro = rollout(|bg| bg.auto_promotion_enabled = Some(false));
    let st = ro.status.as_mut().unwrap();
    st.pause_conditions = vec![PauseCondition { reason: PauseReason::BlueGreenPause, start_time: Time(t0()) }];
    st.controller_pause = true;
    let d = decide(&ro, &observed((3, 3), Some("stable"), Some("canary")), at(600));
    assert_eq!(switches(&d), Vec::<(String, String)>::new());
    assert_eq!(pauses(&d), [PauseReason::BlueGreenPause]);
}

#[test]
fn auto_promotion_seconds_count_from_the_pause() {
    let mut ro = rollout(|bg| bg.auto_promotion_seconds = 30);
    let d = decide(&ro, &observed((3, 3), Some("stable"), Some("canary")), t0());
    assert_eq!(pauses(&d), [PauseReason::BlueGreenPause]);
    let st = ro.status.as_mut().unwrap();
    st.pause_conditions = vec![PauseCondition { reason: PauseReason::BlueGreenPause, start_time: Time(t0()) }];
    st.controller_pause = true;
    let d = decide(&ro, &observed((3, 3), Some("stable"), Some("canary")), at(10));
    assert_eq!(switches(&d), Vec::<(String, String)>::new());
    assert_eq!(d.requeue_after, Some(std::time::Duration::from_millis(20_500)));
    let d = decide(&ro, &observed((3, 3), Some("stable"), Some("canary")), at(31));
    assert_eq!(switches(&d), [pair("active", "canary")]);
    assert_eq!(pauses(&d), Vec::<PauseReason>::new());
}

#[test]
fn preview_replica_count_until_promotion_then_the_checkpoint_scales_it_up() {
    let mut ro = rollout(|bg| {
        bg.preview_replica_count = Some(1);
        bg.auto_promotion_enabled = Some(false);
    });
    let d = decide(&ro, &observed((0, 0), Some("stable"), Some("canary")), t0());
    assert_eq!(sizes(&d), [(Stable, 3, 3), (Canary, 0, 1)]);
    let d = decide(&ro, &observed((1, 1), Some("stable"), Some("canary")), t0());
    assert_eq!(pauses(&d), [PauseReason::BlueGreenPause]);
    assert!(!d.status.blue_green.scale_up_preview_check_point);
    // Promoted: the checkpoint is set while the preview still runs its count...
    ro.status.as_mut().unwrap().controller_pause = true;
    let d = decide(&ro, &observed((1, 1), Some("stable"), Some("canary")), t0());
    assert!(d.status.blue_green.scale_up_preview_check_point);
    assert_eq!(switches(&d), Vec::<(String, String)>::new(), "1 of 3 is not saturated");
    // ...and from then on the new ReplicaSet runs the full count, then takes the traffic.
    let st = ro.status.as_mut().unwrap();
    st.blue_green.scale_up_preview_check_point = true;
    st.controller_pause = false;
    let d = decide(&ro, &observed((1, 1), Some("stable"), Some("canary")), t0());
    assert_eq!(sizes(&d), [(Stable, 3, 3), (Canary, 1, 3)]);
    let d = decide(&ro, &observed((3, 3), Some("stable"), Some("canary")), t0());
    assert_eq!(switches(&d), [pair("active", "canary")]);
    assert!(!d.status.blue_green.scale_up_preview_check_point, "promotion resets the checkpoint");
}

#[test]
fn promote_full_skips_the_pause_and_the_preview_count() {
    let mut ro = rollout(|bg| {
        bg.preview_replica_count = Some(1);
        bg.auto_promotion_enabled = Some(false);
    });
    ro.status.as_mut().unwrap().promote_full = true;
    let d = decide(&ro, &observed((1, 1), Some("stable"), Some("canary")), t0());
    assert_eq!(sizes(&d), [(Stable, 3, 3), (Canary, 1, 3)]);
    assert_eq!(pauses(&d), Vec::<PauseReason>::new());
    let d = decide(&ro, &observed((3, 3), Some("stable"), Some("canary")), t0());
    assert_eq!(switches(&d), [pair("active", "canary")]);
    assert!(d.events.iter().any(|e| e.message.ends_with("Full promotion requested")));
    assert!(!d.status.promote_full);
}

/// After the promotion: the previous stable is an older ReplicaSet.
fn promoted(edit: impl FnOnce(&mut aviary_api::rollout::BlueGreenStrategy)) -> (Rollout, Observed) {
    let mut ro = rollout(edit);
    let st = ro.status.as_mut().unwrap();
    st.stable_rs = "canary".into();
    st.blue_green.active_selector = "canary".into();
    let mut o = observed((3, 3), Some("canary"), Some("canary"));
    o.replica_sets.stable_rs = Some(rs("canary", 3, 3));
    o.replica_sets.older = vec![ReplicaSetState { revision: 1, ..rs("stable", 3, 3) }];
    (ro, o)
}

#[test]
fn the_old_replica_set_gets_a_scale_down_deadline_then_goes_to_zero() {
    let (ro, mut o) = promoted(|_| {});
    let d = decide(&ro, &o, t0());
    assert_eq!(deadlines(&d), [(Older(0), Some(at(30)))], "scaleDownDelaySeconds defaults to 30");
    assert_eq!(sizes(&d), [(Stable, 3, 3), (Canary, 3, 3)], "kept at its size meanwhile");
    assert_eq!(d.requeue_after, Some(std::time::Duration::from_secs(30)));
    o.replica_sets.older[0].scale_down_deadline = Some(at(30));
    let d = decide(&ro, &o, at(10));
    assert_eq!(sizes(&d), [(Stable, 3, 3), (Canary, 3, 3)]);
    let d = decide(&ro, &o, at(31));
    assert_eq!(sizes(&d), [(Stable, 3, 3), (Canary, 3, 3), (Older(0), 3, 0)]);
    assert!(!d.keep_scale_down_deadline, "scaling to zero removes the annotation");
}

#[test]
fn beyond_the_revision_limit_old_replica_sets_go_at_once() {
    let (ro, mut o) = promoted(|bg| {
        bg.scale_down_delay_revision_limit = Some(1);
        bg.scale_down_delay_seconds = Some(86400);
    });
    o.replica_sets.older = vec![
        ReplicaSetState { revision: 1, scale_down_deadline: Some(at(86000)), ..rs("r1", 3, 3) },
        ReplicaSetState { revision: 2, scale_down_deadline: Some(at(86400)), ..rs("stable", 3, 3) },
    ];
    let d = decide(&ro, &o, t0());
    // Newest first: revision 2 keeps its delay, revision 1 is beyond the limit.
    assert_eq!(sizes(&d), [(Stable, 3, 3), (Canary, 3, 3), (Older(0), 3, 0)]);
}

#[test]
fn a_replica_set_a_service_still_selects_is_not_scaled_down() {
    let (ro, mut o) = promoted(|_| {});
    o.services.preview = Some(svc("preview", Some("stable")));
    o.replica_sets.older[0].scale_down_deadline = Some(t0());
    // The preview Service is switched to the new ReplicaSet first, so the old one is free.
    let d = decide(&ro, &o, at(1));
    assert!(sizes(&d).contains(&(Older(0), 3, 0)));
    // The status still naming it keeps it.
    let mut ro2 = ro.clone();
    ro2.status.as_mut().unwrap().blue_green.preview_selector = "stable".into();
    let d = decide(&ro2, &o, at(1));
    assert!(!sizes(&d).iter().any(|s| s.0 == Older(0)));
}

#[test]
fn abort_keeps_the_active_service_on_the_stable_and_scales_the_preview_down_after_the_delay() {
    let mut ro = rollout(|bg| bg.abort_scale_down_delay_seconds = Some(5));
    let st = ro.status.as_mut().unwrap();
    st.abort = true;
    st.aborted_at = Some(Time(t0()));
    let o = observed((3, 3), Some("stable"), Some("canary"));
    let d = decide(&ro, &o, t0());
    assert_eq!(switches(&d), Vec::<(String, String)>::new(), "the active Service stays on the stable");
    assert_eq!(deadlines(&d), [(Canary, Some(at(5)))]);
    assert_eq!(sizes(&d), [(Stable, 3, 3), (Canary, 3, 3)]);
    assert_eq!(d.status.phase, Some(RolloutPhase::Degraded));
    let mut o2 = o.clone();
    o2.replica_sets.new_rs.as_mut().unwrap().scale_down_deadline = Some(at(5));
    let d = decide(&ro, &o2, at(2));
    assert_eq!(sizes(&d), [(Stable, 3, 3), (Canary, 3, 3)]);
    let d = decide(&ro, &o2, at(6));
    assert_eq!(sizes(&d), [(Stable, 3, 3), (Canary, 3, 0)]);
    assert!(d.keep_scale_down_deadline, "the aborted preview keeps its deadline annotation");
}

#[test]
fn abort_after_the_switch_returns_the_active_service_to_the_stable() {
    let mut ro = rollout(|bg| bg.abort_scale_down_delay_seconds = Some(0));
    let st = ro.status.as_mut().unwrap();
    st.abort = true;
    let d = decide(&ro, &observed((3, 3), Some("canary"), Some("canary")), t0());
    assert_eq!(switches(&d), [pair("active", "stable")]);
    // abortScaleDownDelaySeconds 0: no delay, the preview is not kept up.
    assert_eq!(deadlines(&d), []);
    assert!(!d.keep_scale_down_deadline);
}

#[test]
fn a_user_pause_halts_the_service_switches() {
    let mut ro = rollout(|_| {});
    ro.spec.paused = true;
    let d = decide(&ro, &observed((3, 3), Some("stable"), Some("stable")), t0());
    assert_eq!(switches(&d), Vec::<(String, String)>::new());
}

#[test]
fn the_first_deploy_switches_the_active_service_and_promotes_at_once() {
    let mut ro = RolloutBuilder::blue_green(3).build();
    ro.status = Some(Default::default());
    let o = Observed {
        replica_sets: ObservedReplicaSets { new_rs: Some(rs("canary", 3, 3)), stable_rs: None, older: vec![] },
        revision: 1,
        services: BlueGreenServices { active: Some(svc("active", None)), preview: None },
        ..Default::default()
    };
    let d = decide(&ro, &o, t0());
    assert_eq!(switches(&d), [pair("active", "canary")]);
    assert_eq!(d.status.stable_rs, "canary");
    assert!(d.events.iter().any(|e| e.message.ends_with("Initial deploy")));
}

#[test]
fn a_new_template_resets_the_status_but_still_moves_the_preview() {
    let mut ro = rollout(|_| {});
    let st = ro.status.as_mut().unwrap();
    st.current_pod_hash = "older".into();
    st.blue_green.scale_up_preview_check_point = true;
    let d = decide(&ro, &observed((0, 0), Some("stable"), Some("older")), t0());
    assert_eq!(switches(&d), [pair("preview", "canary")]);
    assert_eq!(sizes(&d), [], "nothing is scaled in the reconcile that records the new template");
    assert!(!d.status.blue_green.scale_up_preview_check_point);
    assert_eq!(d.status.current_pod_hash, "canary");
}

#[test]
fn available_follows_the_active_replica_set() {
    let ro = rollout(|bg| bg.auto_promotion_enabled = Some(false));
    let d = decide(&ro, &observed((3, 3), Some("stable"), Some("canary")), t0());
    let available = cond::get(&d.status, kind::AVAILABLE).unwrap();
    assert_eq!(available.status, "True");
    // The status counts the active ReplicaSet's pods.
    assert_eq!((d.status.available_replicas, d.status.hpa_replicas), (3, 3));
    assert_eq!(d.status.selector, "app=demo,rollouts-pod-template-hash=stable");
}

fn run(phase: aviary_api::AnalysisPhase) -> crate::rollout::RunObservation {
    crate::rollout::RunObservation {
        record: aviary_api::rollout_status::RolloutAnalysisRunStatus {
            name: "demo-canary-2-pre".into(),
            status: phase.as_str().into(),
            message: String::new(),
        },
        phase,
    }
}

#[test]
fn the_pre_promotion_analysis_gates_the_switch() {
    use aviary_api::AnalysisPhase::{Running, Successful};
    let ro = rollout(|bg| bg.pre_promotion_analysis = Some(Default::default()));
    let mut o = observed((3, 3), Some("stable"), Some("canary"));
    o.pre_promotion_run = Some(run(Running));
    let d = decide(&ro, &o, t0());
    assert_eq!(switches(&d), Vec::<(String, String)>::new(), "running: no switch");
    assert_eq!(
        d.status.blue_green.pre_promotion_analysis_run_status.as_ref().map(|r| r.status.as_str()),
        Some("Running")
    );
    o.pre_promotion_run = Some(run(Successful));
    assert_eq!(switches(&decide(&ro, &o, t0())), [pair("active", "canary")]);
}

#[test]
fn without_auto_promotion_the_pause_waits_for_the_pre_promotion_analysis() {
    use aviary_api::AnalysisPhase::{Running, Successful};
    let ro = rollout(|bg| {
        bg.auto_promotion_enabled = Some(false);
        bg.pre_promotion_analysis = Some(Default::default());
    });
    let mut o = observed((3, 3), Some("stable"), Some("canary"));
    o.pre_promotion_run = Some(run(Running));
    assert_eq!(pauses(&decide(&ro, &o, t0())), Vec::<PauseReason>::new(), "no pause before the analysis passes");
    o.pre_promotion_run = Some(run(Successful));
    assert_eq!(pauses(&decide(&ro, &o, t0())), [PauseReason::BlueGreenPause]);
}

#[test]
fn the_post_promotion_analysis_gates_completion_and_the_old_replica_sets_scale_down() {
    use aviary_api::AnalysisPhase::{Running, Successful};
    let (ro, mut o) = promoted(|bg| bg.post_promotion_analysis = Some(Default::default()));
    // Switched but not stable yet: the status still names the old stable.
    let mut switched = ro.clone();
    switched.status.as_mut().unwrap().stable_rs = "stable".into();
    o.replica_sets.stable_rs = Some(rs("stable", 3, 3));
    o.replica_sets.older = vec![];
    o.post_promotion_run = Some(run(Running));
    let d = decide(&switched, &o, t0());
    assert_eq!(d.status.stable_rs, "stable", "not promoted while the post-promotion analysis runs");
    o.post_promotion_run = Some(run(Successful));
    let d = decide(&switched, &o, t0());
    assert_eq!(d.status.stable_rs, "canary");
    assert!(d.events.iter().any(|e| e.message.ends_with("Completed blue-green update")));
}

#[test]
fn without_a_scale_down_delay_old_replica_sets_wait_for_the_post_promotion_analysis() {
    use aviary_api::AnalysisPhase::{Running, Successful};
    let (mut ro, mut o) = promoted(|bg| bg.post_promotion_analysis = Some(Default::default()));
    // The new ReplicaSet is active but not yet stable; an older ReplicaSet still runs pods.
    ro.status.as_mut().unwrap().stable_rs = "stable".into();
    o.replica_sets.stable_rs = Some(rs("stable", 3, 3));
    o.replica_sets.older = vec![ReplicaSetState { revision: 0, scale_down_deadline: Some(t0()), ..rs("r0", 3, 3) }];
    o.post_promotion_run = Some(run(Running));
    assert!(!sizes(&decide(&ro, &o, at(1))).iter().any(|s| s.0 == Older(0)), "held while the analysis runs");
    o.post_promotion_run = Some(run(Successful));
    assert!(sizes(&decide(&ro, &o, at(1))).contains(&(Older(0), 3, 0)));
}

#[test]
fn a_failed_promotion_analysis_aborts_with_argo_s_message() {
    // What the runs decided joins the status (see `reconcile`): an abort from a failed run.
    let ro = rollout(|_| {});
    let mut runs = PauseContext::start(&ro);
    runs.add_abort("Blue/green pre-promotion analysis phase error/failed: metric \"web\" assessed Failed".into());
    let d = decide::reconcile(&ro, &observed((3, 3), Some("stable"), Some("canary")), runs, t0());
    assert!(d.status.abort);
    assert_eq!(d.status.phase, Some(RolloutPhase::Degraded));
    let progressing = cond::get(&d.status, kind::PROGRESSING).unwrap();
    assert_eq!(progressing.reason, r::ABORTED);
    assert!(
        progressing
            .message
            .ends_with("Blue/green pre-promotion analysis phase error/failed: metric \"web\" assessed Failed")
    );
}

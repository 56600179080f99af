//! Decision tables for one canary reconcile: every Progressing reason, every phase message the
//! controller writes for a canary, and every operation (promote, promote --full, abort, retry,
//! undo, restart, pause, the progress deadline with and without abort), each a row named after
//! the behaviour and checked without a cluster.
//!
//! The rollout of every row: 10 replicas, steps `setWeight: 25`, `pause: {}`, `setWeight: 50`,
//! `pause: 30s`, default surge and unavailability (25 %: 3 and 2 pods), stable `stable`, new
//! ReplicaSet `canary` (`demo-canary`), revision 2. A row starts from a status that matches what
//! it observes (so that only what the row changes counts as progress) and lists what it expects.

use aviary_api::Time;
use aviary_api::rollout_status::{PauseCondition, PauseReason, RolloutPhase};
use chrono::Duration as Span;

use super::*;
use crate::conditions::{message, reason as r};
use crate::observed::ReplicaSetState;
use crate::reconcile_order::ReplicaSetRole::{self, Canary, Older, Stable};
use crate::testing::RolloutBuilder;

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().with_timezone(&Utc)
}

fn at(seconds: i64) -> DateTime<Utc> {
    t0() + Span::seconds(seconds)
}

fn rs(hash: &str, spec: i32, available: i32) -> ReplicaSetState {
    ReplicaSetState { name: format!("demo-{hash}"), ..ReplicaSetState::new(hash, spec, available) }
}

/// The reference rollout at step `index`, its status as the previous reconcile left it for
/// `stable` and `canary` pods (spec, available).
fn rollout(index: i32, stable: (i32, i32), canary: (i32, i32)) -> Rollout {
    let mut ro = RolloutBuilder::canary(10)
        .set_weight(25)
        .pause()
        .set_weight(50)
        .step(aviary_api::CanaryStep {
            pause: Some(aviary_api::rollout::RolloutPause {
                duration: Some(aviary_api::IntOrString::String("30s".into())),
            }),
            ..Default::default()
        })
        .index(index)
        .with_pods()
        .build();
    ro.metadata.generation = Some(1);
    let hash = aviary_api::hash::step_hash(&ro).unwrap();
    let st = ro.status.as_mut().unwrap();
    st.current_step_hash = hash;
    st.observed_generation = "1".into();
    st.replicas = stable.0 + canary.0;
    st.updated_replicas = canary.0;
    st.ready_replicas = stable.1 + canary.1;
    st.available_replicas = stable.1 + canary.1;
    st.hpa_replicas = st.replicas;
    st.selector = "app=demo".into();
    st.conditions = vec![
        cond::new(
            kind::PROGRESSING,
            "True",
            r::REPLICA_SET_UPDATED,
            "ReplicaSet \"demo-canary\" is progressing.",
            t0(),
        ),
        cond::new(kind::AVAILABLE, "True", r::AVAILABLE, message::AVAILABLE, t0()),
        cond::new(kind::COMPLETED, "False", r::COMPLETED, r::COMPLETED, t0()),
    ];
    ro
}

fn observed(ro: &Rollout, stable: (i32, i32), canary: (i32, i32)) -> Observed {
    Observed {
        replica_sets: ObservedReplicaSets {
            new_rs: Some(rs("canary", canary.0, canary.1)),
            stable_rs: Some(rs("stable", stable.0, stable.1)),
            older: vec![],
        },
        steps_hash: ro.status.as_ref().unwrap().current_step_hash.clone(),
        revision: 2,
        ..Default::default()
    }
}

fn paused_since(ro: &mut Rollout, reason: PauseReason, since: DateTime<Utc>) {
    let st = ro.status.as_mut().unwrap();
    st.pause_conditions = vec![PauseCondition { reason, start_time: Time(since) }];
    st.controller_pause = true;
    st.conditions.push(cond::new(kind::PAUSED, "True", r::PAUSED, message::PAUSED, since));
    // What the reconcile after the pause wrote (`paused_conditions_status`).
    st.conditions.retain(|c| c.type_ != kind::PROGRESSING);
    st.conditions.push(cond::new(kind::PROGRESSING, "Unknown", r::PAUSED, message::PAUSED, since));
}

/// One row's expectations; `None` leaves a field unchecked.
#[derive(Default)]
struct Expect {
    scale: Vec<(ReplicaSetRole, i32, i32)>,
    index: Option<Option<i32>>,
    phase: Option<(RolloutPhase, &'static str)>,
    /// (type, status, reason, message) that must be in the status.
    conditions: Vec<(&'static str, &'static str, &'static str, String)>,
    /// (warning, reason, message): exactly the events of the decision.
    events: Option<Vec<(bool, &'static str, String)>>,
    /// The pause conditions' reasons.
    pauses: Option<Vec<PauseReason>>,
    abort: Option<bool>,
    stable_rs: Option<&'static str>,
    requeue: Option<Duration>,
}

fn check(name: &str, d: &RolloutDecision, e: &Expect) {
    let scale: Vec<_> = d.scales().map(|a| (a.which, a.from, a.to)).collect();
    assert_eq!(scale, e.scale, "{name}: scale");
    if let Some(index) = e.index {
        assert_eq!(d.status.current_step_index, index, "{name}: step index");
    }
    if let Some((phase, msg)) = e.phase {
        assert_eq!((d.status.phase, d.status.message.as_str()), (Some(phase), msg), "{name}: phase and message");
    }
    for (type_, status, reason, msg) in &e.conditions {
        let c = cond::get(&d.status, type_).unwrap_or_else(|| panic!("{name}: no {type_} condition"));
        assert_eq!(
            (c.status.as_str(), c.reason.as_str(), c.message.as_str()),
            (*status, *reason, msg.as_str()),
            "{name}: {type_} condition"
        );
    }
    if let Some(events) = &e.events {
        let got: Vec<_> = d.events.iter().map(|ev| (ev.warning, ev.reason, ev.message.clone())).collect();
        assert_eq!(&got, events, "{name}: events");
    }
    if let Some(pauses) = &e.pauses {
        let got: Vec<_> = d.status.pause_conditions.iter().map(|c| c.reason).collect();
        assert_eq!(&got, pauses, "{name}: pause conditions");
    }
    if let Some(abort) = e.abort {
        assert_eq!(d.status.abort, abort, "{name}: abort");
    }
    if let Some(stable) = e.stable_rs {
        assert_eq!(d.status.stable_rs, stable, "{name}: stableRS");
    }
    if let Some(requeue) = e.requeue {
        assert_eq!(d.requeue_after, Some(requeue), "{name}: requeue");
    }
}

fn progressing(
    status: &'static str,
    reason: &'static str,
    msg: impl Into<String>,
) -> (&'static str, &'static str, &'static str, String) {
    (kind::PROGRESSING, status, reason, msg.into())
}

const IS_PROGRESSING: &str = "ReplicaSet \"demo-canary\" is progressing.";
const TIMED_OUT: &str = "ReplicaSet \"demo-canary\" has timed out progressing.";

#[test]
fn a_new_template_resets_the_steps_and_acts_on_the_next_reconcile() {
    let mut ro = rollout(4, (10, 10), (0, 0));
    {
        let st = ro.status.as_mut().unwrap();
        st.current_pod_hash = "stable".into();
        st.conditions.retain(|c| c.type_ != kind::COMPLETED);
        st.conditions.push(cond::new(kind::COMPLETED, "True", r::COMPLETED, r::COMPLETED, t0()));
    }
    let o = observed(&ro, (10, 10), (0, 0));
    assert!(must_reset(&ro, &o));
    let d = reconcile(&ro, &o, PauseContext::start(&ro), at(1));
    check(
        "reset",
        &d,
        &Expect {
            index: Some(Some(0)),
            phase: Some((RolloutPhase::Progressing, "more replicas need to be updated")),
            conditions: vec![
                progressing("True", r::REPLICA_SET_UPDATED, IS_PROGRESSING),
                (kind::COMPLETED, "False", r::COMPLETED, r::COMPLETED.into()),
            ],
            events: Some(vec![(
                false,
                r::NOT_COMPLETED,
                "Rollout not completed, started update to revision 2 (canary)".into(),
            )]),
            ..Default::default()
        },
    );
    assert_eq!(d.status.current_pod_hash, "canary");
}

#[test]
fn set_weight_scales_one_replica_set_per_reconcile_stable_first() {
    let ro = rollout(0, (10, 10), (0, 0));
    let o = observed(&ro, (10, 10), (0, 0));
    let d = reconcile(&ro, &o, PauseContext::start(&ro), at(1));
    check(
        "stable first",
        &d,
        &Expect {
            scale: vec![(Stable, 10, 8)],
            index: Some(Some(0)),
            phase: Some((RolloutPhase::Progressing, "more replicas need to be updated")),
            events: Some(vec![]),
            ..Default::default()
        },
    );
    let ro = rollout(0, (8, 8), (0, 0));
    let d = reconcile(&ro, &observed(&ro, (8, 8), (0, 0)), PauseContext::start(&ro), at(2));
    check("then the canary", &d, &Expect { scale: vec![(Canary, 0, 3)], index: Some(Some(0)), ..Default::default() });
}

#[test]
fn a_set_weight_step_completes_once_its_counts_are_available() {
    let ro = rollout(0, (8, 8), (3, 1));
    let d = reconcile(&ro, &observed(&ro, (8, 8), (3, 1)), PauseContext::start(&ro), at(1));
    check("not yet available", &d, &Expect { index: Some(Some(0)), events: Some(vec![]), ..Default::default() });

    let ro = rollout(0, (8, 8), (3, 3));
    let d = reconcile(&ro, &observed(&ro, (8, 8), (3, 3)), PauseContext::start(&ro), at(1));
    check(
        "available",
        &d,
        &Expect {
            index: Some(Some(1)),
            events: Some(vec![(false, r::STEP_COMPLETED, "Rollout step 1/4 completed (setWeight: 25)".into())]),
            requeue: Some(Duration::from_millis(100)),
            ..Default::default()
        },
    );
}

#[test]
fn reaching_a_pause_step_pauses_with_canary_pause_step() {
    let ro = rollout(1, (8, 8), (3, 3));
    let d = reconcile(&ro, &observed(&ro, (8, 8), (3, 3)), PauseContext::start(&ro), at(5));
    check(
        "pause step",
        &d,
        &Expect {
            index: Some(Some(1)),
            phase: Some((RolloutPhase::Paused, "CanaryPauseStep")),
            pauses: Some(vec![PauseReason::CanaryPauseStep]),
            events: Some(vec![(false, r::PAUSED, "Rollout is paused (CanaryPauseStep)".into())]),
            ..Default::default()
        },
    );
    assert!(d.status.controller_pause);
    // The Paused condition and Progressing RolloutPaused, which Argo writes in the next
    // reconcile, are in the same status: that reconcile finds nothing left to write.
    let st = &d.status;
    let paused = cond::get(st, kind::PAUSED).unwrap();
    assert_eq!((paused.status.as_str(), paused.reason.as_str()), ("True", r::PAUSED));
    let p = cond::get(st, kind::PROGRESSING).unwrap();
    assert_eq!((p.status.as_str(), p.reason.as_str(), p.message.as_str()), ("Unknown", r::PAUSED, message::PAUSED));
    let mut next = ro.clone();
    next.status = Some(d.status.clone());
    assert_eq!(paused_conditions_status(&next, at(6)), None);
    // The same status as Argo's two writes: the pause, then its conditions.
    let mut argo_first = ro.clone();
    argo_first.status =
        Some(super::decide(&ro, &observed(&ro, (8, 8), (3, 3)), PauseContext::start(&ro), at(5)).status);
    assert_eq!(
        cond::get(argo_first.status.as_ref().unwrap(), kind::PAUSED),
        None,
        "Argo's first write has no Paused condition"
    );
    let argo_second = paused_conditions_status(&argo_first, at(5)).expect("Argo's second write");
    assert_eq!(argo_second, d.status);
}

#[test]
fn promote_resumes_an_indefinite_pause_and_completes_the_step() {
    let mut ro = rollout(1, (8, 8), (3, 3));
    paused_since(&mut ro, PauseReason::CanaryPauseStep, t0());
    // `kubectl argo rollouts promote`: the pause conditions go, controllerPause stays.
    ro.status.as_mut().unwrap().pause_conditions.clear();
    let st = paused_conditions_status(&ro, at(10)).expect("the resume is reflected first");
    let p = cond::get(&st, kind::PROGRESSING).unwrap();
    assert_eq!((p.status.as_str(), p.reason.as_str(), p.message.as_str()), ("Unknown", r::RESUMED, message::RESUMED));
    assert_eq!(cond::get(&st, kind::PAUSED).unwrap().status, "False");
    assert_eq!(st.phase, Some(RolloutPhase::Progressing));

    ro.status = Some(st);
    let d = reconcile(&ro, &observed(&ro, (8, 8), (3, 3)), PauseContext::start(&ro), at(11));
    check(
        "promoted",
        &d,
        &Expect {
            index: Some(Some(2)),
            pauses: Some(vec![]),
            events: Some(vec![(false, r::STEP_COMPLETED, "Rollout step 2/4 completed (pause)".into())]),
            ..Default::default()
        },
    );
}

#[test]
fn a_timed_pause_waits_its_duration_then_completes() {
    let mut ro = rollout(3, (5, 5), (5, 5));
    paused_since(&mut ro, PauseReason::CanaryPauseStep, t0());
    let o = observed(&ro, (5, 5), (5, 5));
    let d = reconcile(&ro, &o, PauseContext::start(&ro), at(10));
    check(
        "waiting",
        &d,
        &Expect {
            index: Some(Some(3)),
            phase: Some((RolloutPhase::Paused, "CanaryPauseStep")),
            requeue: Some(Duration::from_millis(20_500)),
            ..Default::default()
        },
    );
    let d = reconcile(&ro, &o, PauseContext::start(&ro), at(31));
    check(
        "elapsed",
        &d,
        &Expect {
            index: Some(Some(4)),
            pauses: Some(vec![]),
            events: Some(vec![
                (false, r::STEP_COMPLETED, "Rollout step 4/4 completed (pause: 30s)".into()),
                (false, r::RESUMED, message::RESUMED.into()),
            ]),
            // The Paused condition follows the resume in the same status (Argo's next reconcile).
            conditions: vec![(kind::PAUSED, "False", r::PAUSED, message::PAUSED.into())],
            ..Default::default()
        },
    );
    let mut next = ro.clone();
    next.status = Some(d.status);
    assert_eq!(paused_conditions_status(&next, at(32)), None);
}

#[test]
fn completing_every_step_promotes_the_canary_to_stable() {
    let ro = rollout(4, (0, 0), (10, 10));
    let d = reconcile(&ro, &observed(&ro, (0, 0), (10, 10)), PauseContext::start(&ro), at(1));
    check(
        "all steps done",
        &d,
        &Expect {
            stable_rs: Some("canary"),
            index: Some(Some(4)),
            phase: Some((RolloutPhase::Healthy, "")),
            conditions: vec![
                progressing("True", r::NEW_RS_AVAILABLE, "ReplicaSet \"demo-canary\" has successfully progressed."),
                (kind::HEALTHY, "True", r::HEALTHY, message::HEALTHY.into()),
                (kind::COMPLETED, "True", r::COMPLETED, r::COMPLETED.into()),
                (kind::AVAILABLE, "True", r::AVAILABLE, message::AVAILABLE.into()),
            ],
            events: Some(vec![(
                false,
                r::COMPLETED,
                "Rollout completed update to revision 2 (canary): Completed all 4 canary steps".into(),
            )]),
            ..Default::default()
        },
    );
}

/// Argo's promoteStable with ping-pong: the Service that carried the canary carries the stable
/// once it is promoted (`stablePingPong` flips, from empty to `ping` on the first promotion), and
/// the value is kept on every other reconcile.
#[test]
fn promotion_flips_stable_ping_pong() {
    let with = |value: &str, steps_done: bool| {
        let mut ro = rollout(4, (0, 0), (10, 10));
        ro.spec.strategy.canary.as_mut().unwrap().ping_pong =
            Some(aviary_api::rollout::PingPongSpec { ping_service: "ping".into(), pong_service: "pong".into() });
        let st = ro.status.as_mut().unwrap();
        st.canary.stable_ping_pong = value.into();
        if !steps_done {
            st.current_step_index = Some(1);
        }
        ro
    };
    for (before, after) in [("", "ping"), ("ping", "pong"), ("pong", "ping")] {
        let ro = with(before, true);
        let d = reconcile(&ro, &observed(&ro, (0, 0), (10, 10)), PauseContext::start(&ro), at(1));
        assert_eq!(d.status.stable_rs, "canary", "{before:?}: promoted");
        assert_eq!(d.status.canary.stable_ping_pong, after, "{before:?}");
    }
    let mid = with("pong", false);
    let d = reconcile(&mid, &observed(&mid, (5, 5), (5, 5)), PauseContext::start(&mid), at(1));
    assert_eq!(d.status.stable_rs, "stable", "not promoted mid-update");
    assert_eq!(d.status.canary.stable_ping_pong, "pong", "kept while not promoted");
}

#[test]
fn the_old_stable_is_scaled_down_after_the_last_step() {
    let ro = rollout(4, (8, 8), (10, 10));
    let d = reconcile(&ro, &observed(&ro, (8, 8), (10, 10)), PauseContext::start(&ro), at(1));
    check(
        "old replicas",
        &d,
        &Expect {
            scale: vec![(Stable, 8, 0)],
            stable_rs: Some("canary"),
            phase: Some((RolloutPhase::Progressing, "old replicas are pending termination")),
            ..Default::default()
        },
    );
}

#[test]
fn promote_full_skips_the_remaining_steps_and_clears_the_flag_once_stable() {
    let mut ro = rollout(1, (8, 8), (3, 3));
    paused_since(&mut ro, PauseReason::CanaryPauseStep, t0());
    ro.status.as_mut().unwrap().promote_full = true;
    let d = reconcile(&ro, &observed(&ro, (8, 8), (3, 3)), PauseContext::start(&ro), at(1));
    check(
        "scaling to full weight, stable first",
        &d,
        &Expect { scale: vec![(Stable, 8, 5)], index: Some(Some(4)), pauses: Some(vec![]), ..Default::default() },
    );
    assert!(d.status.promote_full, "still promoting");

    let mut ro = rollout(4, (0, 0), (10, 10));
    ro.status.as_mut().unwrap().promote_full = true;
    let d = reconcile(&ro, &observed(&ro, (0, 0), (10, 10)), PauseContext::start(&ro), at(2));
    check(
        "promoted",
        &d,
        &Expect {
            stable_rs: Some("canary"),
            events: Some(vec![(
                false,
                r::COMPLETED,
                "Rollout completed update to revision 2 (canary): Full promotion requested".into(),
            )]),
            ..Default::default()
        },
    );
    assert!(!d.status.promote_full);
}

#[test]
fn abort_returns_to_the_stable_and_degrades() {
    let mut ro = rollout(2, (8, 8), (3, 3));
    ro.status.as_mut().unwrap().abort = true;
    let text = "Rollout aborted update to revision 2";
    let d = reconcile(&ro, &observed(&ro, (8, 8), (3, 3)), PauseContext::start(&ro), at(1));
    check(
        "abort",
        &d,
        &Expect {
            scale: vec![(Stable, 8, 10)],
            index: Some(Some(0)),
            abort: Some(true),
            phase: Some((RolloutPhase::Degraded, "RolloutAborted: Rollout aborted update to revision 2")),
            conditions: vec![progressing("False", r::ABORTED, text)],
            events: Some(vec![(true, r::ABORTED, text.into())]),
            ..Default::default()
        },
    );
    assert_eq!(d.status.aborted_at, Some(Time(at(1))));
}

#[test]
fn a_failed_analysis_aborts_with_the_runs_message() {
    let ro = rollout(2, (5, 5), (5, 5));
    let mut pause = PauseContext::start(&ro);
    pause.add_abort("Step-based analysis phase error/failed: metric \"errors\" assessed Failed".into());
    let d = reconcile(&ro, &observed(&ro, (5, 5), (5, 5)), pause, at(1));
    let text = "Rollout aborted update to revision 2: Step-based analysis phase error/failed: metric \"errors\" assessed Failed";
    check(
        "analysis abort",
        &d,
        &Expect {
            abort: Some(true),
            conditions: vec![progressing("False", r::ABORTED, text)],
            events: Some(vec![(true, r::ABORTED, text.into())]),
            ..Default::default()
        },
    );
}

#[test]
fn retry_after_an_abort_shows_rollout_retry() {
    let mut ro = rollout(0, (10, 10), (0, 0));
    {
        let st = ro.status.as_mut().unwrap();
        st.conditions.retain(|c| c.type_ != kind::PROGRESSING);
        st.conditions.push(cond::new(
            kind::PROGRESSING,
            "False",
            r::ABORTED,
            "Rollout aborted update to revision 2",
            t0(),
        ));
        // `kubectl argo rollouts retry`: the abort is lifted.
        st.abort = false;
    }
    let st = paused_conditions_status(&ro, at(1)).expect("the retry is reflected first");
    let p = cond::get(&st, kind::PROGRESSING).unwrap();
    assert_eq!((p.status.as_str(), p.reason.as_str(), p.message.as_str()), ("Unknown", r::RETRY, message::RETRY));
}

#[test]
fn an_inconclusive_analysis_pauses_without_scaling() {
    let ro = rollout(0, (10, 10), (0, 0));
    let mut pause = PauseContext::start(&ro);
    pause.add_pause(PauseReason::InconclusiveAnalysisRun);
    let d = reconcile(&ro, &observed(&ro, (10, 10), (0, 0)), pause, at(1));
    check(
        "inconclusive",
        &d,
        &Expect {
            pauses: Some(vec![PauseReason::InconclusiveAnalysisRun]),
            phase: Some((RolloutPhase::Paused, "InconclusiveAnalysisRun")),
            events: Some(vec![(false, r::PAUSED, "Rollout is paused (InconclusiveAnalysisRun)".into())]),
            ..Default::default()
        },
    );
}

#[test]
fn a_manual_pause_halts_scaling_and_shows_in_the_conditions() {
    let mut ro = rollout(0, (10, 10), (0, 0));
    ro.spec.paused = true;
    let st = paused_conditions_status(&ro, at(1)).expect("the pause is reflected first");
    assert_eq!(cond::get(&st, kind::PROGRESSING).unwrap().reason, r::PAUSED);
    assert_eq!(cond::get(&st, kind::PAUSED).unwrap().status, "True");
    assert_eq!((st.phase, st.message.as_str()), (Some(RolloutPhase::Paused), "manually paused"));
    ro.status = Some(st);
    let d = reconcile(&ro, &observed(&ro, (10, 10), (0, 0)), PauseContext::start(&ro), at(2));
    check("paused", &d, &Expect { phase: Some((RolloutPhase::Paused, "manually paused")), ..Default::default() });
}

/// A rollout stuck at `setWeight: 25` (canary pods never available) whose Progressing
/// condition was last updated at t0.
fn stuck() -> (Rollout, Observed) {
    let ro = rollout(0, (8, 8), (3, 0));
    let o = observed(&ro, (8, 8), (3, 0));
    (ro, o)
}

#[test]
fn the_progress_deadline_degrades_the_rollout() {
    let (ro, o) = stuck();
    let d = reconcile(&ro, &o, PauseContext::start(&ro), at(599));
    check(
        "within the deadline",
        &d,
        &Expect {
            conditions: vec![progressing("True", r::REPLICA_SET_UPDATED, IS_PROGRESSING)],
            requeue: Some(Duration::from_secs(2)),
            ..Default::default()
        },
    );
    let d = reconcile(&ro, &o, PauseContext::start(&ro), at(601));
    check(
        "past the deadline",
        &d,
        &Expect {
            abort: Some(false),
            phase: Some((
                RolloutPhase::Degraded,
                "ProgressDeadlineExceeded: ReplicaSet \"demo-canary\" has timed out progressing.",
            )),
            conditions: vec![progressing("False", r::TIMED_OUT, TIMED_OUT)],
            events: Some(vec![]),
            ..Default::default()
        },
    );
}

#[test]
fn the_progress_deadline_aborts_with_progress_deadline_abort() {
    let (mut ro, o) = stuck();
    ro.spec.progress_deadline_abort = true;
    let d = reconcile(&ro, &o, PauseContext::start(&ro), at(601));
    let text = format!("Rollout aborted update to revision 2: {TIMED_OUT}");
    check(
        "aborted",
        &d,
        &Expect {
            abort: Some(true),
            conditions: vec![progressing("False", r::ABORTED, text.clone())],
            phase: Some((
                RolloutPhase::Degraded,
                "RolloutAborted: Rollout aborted update to revision 2: ReplicaSet \"demo-canary\" has timed out progressing.",
            )),
            events: Some(vec![(true, r::ABORTED, TIMED_OUT.into()), (true, r::ABORTED, text)]),
            ..Default::default()
        },
    );
}

#[test]
fn a_pause_step_never_times_out() {
    let mut ro = rollout(1, (8, 8), (3, 3));
    paused_since(&mut ro, PauseReason::CanaryPauseStep, t0());
    let d = reconcile(&ro, &observed(&ro, (8, 8), (3, 3)), PauseContext::start(&ro), at(3600));
    check(
        "paused an hour",
        &d,
        &Expect {
            conditions: vec![progressing("Unknown", r::PAUSED, message::PAUSED)],
            phase: Some((RolloutPhase::Paused, "CanaryPauseStep")),
            ..Default::default()
        },
    );
}

#[test]
fn undo_to_the_stable_template_skips_the_steps() {
    let ro = rollout(2, (8, 8), (3, 3));
    // `kubectl argo rollouts undo`: the template is the stable's again.
    let o = Observed {
        replica_sets: ObservedReplicaSets {
            new_rs: Some(rs("stable", 8, 8)),
            stable_rs: Some(rs("stable", 8, 8)),
            older: vec![rs("canary", 3, 3)],
        },
        ..observed(&ro, (8, 8), (3, 3))
    };
    assert!(must_reset(&ro, &o));
    let d = reconcile(&ro, &o, PauseContext::start(&ro), at(1));
    check(
        "undo",
        &d,
        &Expect {
            index: Some(Some(4)),
            events: Some(vec![(false, r::SKIP_STEPS, "Rollback to stable ReplicaSets".into())]),
            ..Default::default()
        },
    );
    assert_eq!(d.status.current_pod_hash, "stable");
    // The next reconcile brings the stable back to full scale, then the abandoned canary goes.
    let mut next = ro.clone();
    next.status = Some(d.status);
    let d = reconcile(&next, &o, PauseContext::start(&next), at(2));
    check("stable back to full scale", &d, &Expect { scale: vec![(Canary, 8, 10)], ..Default::default() });
    let mut o = o;
    for r in [&mut o.replica_sets.new_rs, &mut o.replica_sets.stable_rs].into_iter().flatten() {
        *r = rs("stable", 10, 10);
    }
    let d = reconcile(&next, &o, PauseContext::start(&next), at(3));
    check("canary scaled away", &d, &Expect { scale: vec![(Older(0), 3, 0)], ..Default::default() });
}

/// A fully promoted rollout: stable and canary are the same ReplicaSet.
fn promoted() -> (Rollout, Observed) {
    let mut ro = rollout(4, (0, 0), (10, 10));
    {
        let st = ro.status.as_mut().unwrap();
        st.stable_rs = "canary".into();
        st.conditions = vec![
            cond::new(
                kind::PROGRESSING,
                "True",
                r::NEW_RS_AVAILABLE,
                "ReplicaSet \"demo-canary\" has successfully progressed.",
                t0(),
            ),
            cond::new(kind::AVAILABLE, "True", r::AVAILABLE, message::AVAILABLE, t0()),
            cond::new(kind::COMPLETED, "True", r::COMPLETED, r::COMPLETED, t0()),
            cond::new(kind::HEALTHY, "True", r::HEALTHY, message::HEALTHY, t0()),
        ];
    }
    let o = Observed {
        replica_sets: ObservedReplicaSets {
            new_rs: Some(rs("canary", 10, 10)),
            stable_rs: Some(rs("canary", 10, 10)),
            older: vec![],
        },
        ..observed(&ro, (0, 0), (10, 10))
    };
    (ro, o)
}

#[test]
fn restart_shows_as_restarting_until_the_pods_are_restarted() {
    let (mut ro, mut o) = promoted();
    ro.spec.restart_at = Some(Time(at(0)));
    let d = reconcile(&ro, &o, PauseContext::start(&ro), at(1));
    check(
        "restarting",
        &d,
        &Expect { phase: Some((RolloutPhase::Progressing, "rollout is restarting")), ..Default::default() },
    );
    o.restarted_at = Some(Time(at(0)));
    let d = reconcile(&ro, &o, PauseContext::start(&ro), at(2));
    check("restarted", &d, &Expect { phase: Some((RolloutPhase::Healthy, "")), ..Default::default() });
    assert_eq!(d.status.restarted_at, Some(Time(at(0))));
}

#[test]
fn a_healthy_rollout_losing_pods_is_not_available() {
    let (ro, mut o) = promoted();
    for r in [&mut o.replica_sets.new_rs, &mut o.replica_sets.stable_rs].into_iter().flatten() {
        r.available = 7;
        r.ready = 7;
    }
    let d = reconcile(&ro, &o, PauseContext::start(&ro), at(1));
    check(
        "pods lost",
        &d,
        &Expect {
            phase: Some((RolloutPhase::Progressing, "updated replicas are still becoming available")),
            conditions: vec![
                progressing("True", r::REPLICA_SET_NOT_AVAILABLE, message::NOT_AVAILABLE),
                (kind::HEALTHY, "False", r::HEALTHY, message::NOT_HEALTHY.into()),
                (kind::AVAILABLE, "False", r::AVAILABLE, message::NOT_AVAILABLE.into()),
            ],
            ..Default::default()
        },
    );
}

#[test]
fn a_fully_promoted_rollout_cannot_be_aborted() {
    let (mut ro, o) = promoted();
    ro.status.as_mut().unwrap().abort = true;
    let pause = PauseContext::start(&ro);
    assert!(!pause.is_aborted(&ro));
    let d = reconcile(&ro, &o, pause, at(1));
    check(
        "abort ignored",
        &d,
        &Expect { abort: Some(false), phase: Some((RolloutPhase::Healthy, "")), ..Default::default() },
    );
}

#[test]
fn an_analysis_step_waits_for_its_run() {
    let mut ro = RolloutBuilder::canary(10).set_weight(100).with_pods().build();
    ro.spec
        .strategy
        .canary
        .as_mut()
        .unwrap()
        .steps
        .push(aviary_api::CanaryStep { analysis: Some(Default::default()), ..Default::default() });
    ro.metadata.generation = Some(1);
    let hash = aviary_api::hash::step_hash(&ro).unwrap();
    {
        let st = ro.status.as_mut().unwrap();
        st.current_step_hash = hash;
        st.current_step_index = Some(1);
        st.observed_generation = "1".into();
        st.conditions = vec![cond::new(kind::COMPLETED, "False", r::COMPLETED, r::COMPLETED, t0())];
    }
    let mut o = observed(&ro, (0, 0), (10, 10));
    let run = |phase: AnalysisPhase| RunObservation {
        record: RolloutAnalysisRunStatus {
            name: "demo-canary-2-1".into(),
            status: phase.as_str().into(),
            message: String::new(),
        },
        phase,
    };
    o.step_run = Some(run(AnalysisPhase::Running));
    let d = reconcile(&ro, &o, PauseContext::start(&ro), at(1));
    check(
        "running",
        &d,
        &Expect {
            index: Some(Some(1)),
            phase: Some((RolloutPhase::Progressing, "waiting for all steps to complete")),
            ..Default::default()
        },
    );
    assert_eq!(d.status.canary.current_step_analysis_run_status, Some(run(AnalysisPhase::Running).record));
    o.step_run = Some(run(AnalysisPhase::Successful));
    let d = reconcile(&ro, &o, PauseContext::start(&ro), at(2));
    check(
        "successful",
        &d,
        &Expect {
            index: Some(Some(2)),
            events: Some(vec![(false, r::STEP_COMPLETED, "Rollout step 2/2 completed (analysis)".into())]),
            ..Default::default()
        },
    );
    assert_eq!(d.status.canary.current_step_analysis_run_status, None);
}

#[test]
fn the_writes_that_end_a_reconcile_early() {
    let ro = rollout(0, (10, 10), (0, 0));
    let (st, changed) =
        invalid_spec_status(&ro, "The Rollout \"demo\" is invalid: spec.selector: Required value", at(1));
    assert!(changed);
    let c = cond::get(&st, kind::INVALID_SPEC).unwrap();
    assert_eq!((c.status.as_str(), c.reason.as_str()), ("True", r::INVALID_SPEC));
    assert_eq!(
        (st.phase, st.message.as_str()),
        (Some(RolloutPhase::Degraded), "InvalidSpec: The Rollout \"demo\" is invalid: spec.selector: Required value")
    );
    let mut again = ro.clone();
    again.status = Some(st.clone());
    let (same, changed) =
        invalid_spec_status(&again, "The Rollout \"demo\" is invalid: spec.selector: Required value", at(2));
    assert!(!changed);
    assert_eq!(same, st, "an unchanged InvalidSpec is not rewritten");

    let created = created_replica_set_status(&ro, "demo-abc", at(1));
    let p = cond::get(&created, kind::PROGRESSING).unwrap();
    assert_eq!(
        (p.reason.as_str(), p.message.as_str()),
        (r::NEW_REPLICA_SET_CREATED, "Created new replica set \"demo-abc\"")
    );

    let mut bare = RolloutStatus::default();
    let found = found_new_replica_set(&bare, "demo-abc", at(1)).unwrap();
    assert_eq!(
        (found.reason.as_str(), found.message.as_str()),
        (r::FOUND_NEW_REPLICA_SET, "Found new replica set \"demo-abc\"")
    );
    cond::set(&mut bare, found);
    assert_eq!(found_new_replica_set(&bare, "demo-abc", at(2)), None, "only when there is no Progressing condition");
}

#[test]
fn services_follow_their_replica_set_and_an_adopted_one_waits_for_full_availability() {
    let ready = rs("canary", 3, 3);
    let starting = rs("canary", 3, 1);
    assert_eq!(service_selector("stable", true, &ready, true), Some("canary"));
    assert_eq!(
        service_selector("stable", true, &starting, true),
        Some("canary"),
        "a managed Service switches once a pod is available"
    );
    assert_eq!(service_selector("", false, &starting, true), None, "adopted: not before every pod is available");
    assert_eq!(service_selector("", false, &ready, true), Some("canary"));
    assert_eq!(service_selector("canary", true, &ready, true), None, "already there");
    let none = ReplicaSetState::new("canary", 3, 0);
    assert_eq!(service_selector("stable", true, &none, true), None, "never to a ReplicaSet with no available pod");
    assert_eq!(service_selector("stable", true, &none, false), Some("canary"), "unless the caller says so");
    assert_eq!(
        service_switched_message("app-canary", "stable", "canary"),
        "Switched selector for service 'app-canary' from 'stable' to 'canary'"
    );
}

/// Argo's reconcilePingAndPongService and GetStableAndCanaryServices: until the update is fully
/// promoted, the Service that is not the stable one (by `stablePingPong`) follows the new
/// ReplicaSet without waiting for availability; stable/canary Services, when named, still follow
/// their own rules, and the Istio router's view only uses ping-pong without them.
#[test]
fn ping_pong_services_follow_stable_ping_pong() {
    let o = ObservedReplicaSets {
        new_rs: Some(rs("canary", 2, 0)),
        stable_rs: Some(rs("stable", 4, 4)),
        older: Vec::new(),
    };
    let with_ping_pong = |stable_ping_pong: &str| {
        let mut ro = RolloutBuilder::canary(4).traffic_routing().set_weight(50).services("", "").build();
        ro.spec.strategy.canary.as_mut().unwrap().ping_pong =
            Some(aviary_api::rollout::PingPongSpec { ping_service: "ping".into(), pong_service: "pong".into() });
        ro.status.as_mut().unwrap().canary.stable_ping_pong = stable_ping_pong.into();
        ro
    };
    let targets = |ro: &Rollout| -> Vec<(String, ReplicaSetRole, bool)> {
        canary_service_targets(ro, &o).into_iter().map(|t| (t.service, t.role, t.check_availability)).collect()
    };
    // Before the first promotion (empty) the stable counts as pong, so ping follows the canary.
    assert_eq!(targets(&with_ping_pong("")), vec![("ping".to_string(), ReplicaSetRole::Canary, false)]);
    assert_eq!(targets(&with_ping_pong("ping")), vec![("pong".to_string(), ReplicaSetRole::Canary, false)]);
    assert_eq!(targets(&with_ping_pong("pong")), vec![("ping".to_string(), ReplicaSetRole::Canary, false)]);
    assert_eq!(stable_and_canary_services(&with_ping_pong("ping"), false), ("ping", "pong"));
    assert_eq!(stable_and_canary_services(&with_ping_pong("pong"), false), ("pong", "ping"));

    // Fully promoted: nothing to switch.
    let mut promoted = with_ping_pong("ping");
    promoted.status.as_mut().unwrap().stable_rs = "canary".into();
    assert!(targets(&promoted).is_empty());

    // With stable and canary Services as well (ALB), those follow their rules after ping-pong's,
    // and the router's view (not preferring ping-pong) is the named Services.
    let mut both = with_ping_pong("ping");
    let c = both.spec.strategy.canary.as_mut().unwrap();
    c.stable_service = "s".into();
    c.canary_service = "c".into();
    assert_eq!(
        targets(&both),
        vec![
            ("pong".to_string(), ReplicaSetRole::Canary, false),
            ("s".to_string(), ReplicaSetRole::Stable, true),
            ("c".to_string(), ReplicaSetRole::Canary, true),
        ]
    );
    assert_eq!(stable_and_canary_services(&both, false), ("s", "c"));
    assert_eq!(stable_and_canary_services(&both, true), ("ping", "pong"));
}

#[test]
fn canary_services_follow_argo_on_abort_and_dynamic_rollback() {
    let roles = |ro: &Rollout, o: &ObservedReplicaSets| -> Vec<(String, ReplicaSetRole)> {
        canary_service_targets(ro, o).into_iter().map(|t| (t.service, t.role)).collect()
    };
    let o = ObservedReplicaSets {
        new_rs: Some(rs("canary", 2, 2)),
        stable_rs: Some(rs("stable", 4, 4)),
        older: Vec::new(),
    };
    let basic = RolloutBuilder::canary(4).set_weight(50).services("c", "s").build();
    assert_eq!(
        roles(&basic, &o),
        vec![("s".to_string(), ReplicaSetRole::Stable), ("c".to_string(), ReplicaSetRole::Canary)]
    );
    let aborted = RolloutBuilder::canary(4).set_weight(50).services("c", "s").abort().build();
    assert_eq!(roles(&aborted, &o)[1], ("c".to_string(), ReplicaSetRole::Stable), "no routing: back at once");
    let routed = RolloutBuilder::canary(4).traffic_routing().set_weight(50).services("c", "s").abort().build();
    assert_eq!(roles(&routed, &o)[1], ("c".to_string(), ReplicaSetRole::Canary), "the router's plan moves it");
    let only_stable = RolloutBuilder::canary(4).set_weight(50).services("", "s").build();
    assert_eq!(roles(&only_stable, &o).len(), 1);
}

/// Argo's reconciles one after another on the same observations, each on the status the one
/// before wrote, until one acts or changes nothing: the status written last, every event in
/// order, the last one's actions, and how many status writes Argo made.
fn argo_reconciles(
    ro: &Rollout,
    o: &Observed,
    now: DateTime<Utc>,
) -> (RolloutStatus, Vec<Event>, RolloutDecision, usize) {
    let mut ro = ro.clone();
    let (mut events, mut writes) = (Vec::new(), 0);
    loop {
        let d = reconcile(&ro, o, PauseContext::start(&ro), now);
        events.extend(d.events.iter().cloned());
        let changed = ro.status.as_ref() != Some(&d.status);
        writes += usize::from(changed);
        ro.status = Some(d.status.clone());
        if !d.actions.is_empty() || !changed {
            return (d.status.clone(), events, d, writes);
        }
    }
}

#[test]
fn a_settled_decision_is_argo_s_next_reconciles_in_one_write() {
    let at_step_0 = rollout(0, (8, 8), (3, 3));
    let mut pause_elapsed = rollout(3, (5, 5), (5, 5));
    paused_since(&mut pause_elapsed, PauseReason::CanaryPauseStep, t0());
    let mut promoted = rollout(1, (8, 8), (3, 3));
    paused_since(&mut promoted, PauseReason::CanaryPauseStep, t0());
    promoted.status.as_mut().unwrap().pause_conditions.clear();
    let promoted = {
        // The kubectl plugin's promote, and the write of its conditions that comes first.
        let st = paused_conditions_status(&promoted, at(10)).unwrap();
        promoted.status = Some(st);
        promoted
    };
    struct Row {
        name: &'static str,
        ro: Rollout,
        o: (i32, i32, i32, i32),
        now: DateTime<Utc>,
        expect: Expect,
        argo_writes: usize,
    }
    let rows = [
        Row {
            name: "setWeight 25 done, then the indefinite pause",
            ro: at_step_0,
            o: (8, 8, 3, 3),
            now: at(5),
            expect: Expect {
                index: Some(Some(1)),
                phase: Some((RolloutPhase::Paused, "CanaryPauseStep")),
                pauses: Some(vec![PauseReason::CanaryPauseStep]),
                conditions: vec![(kind::PAUSED, "True", r::PAUSED, message::PAUSED.into())],
                events: Some(vec![
                    (false, r::STEP_COMPLETED, "Rollout step 1/4 completed (setWeight: 25)".into()),
                    (false, r::PAUSED, "Rollout is paused (CanaryPauseStep)".into()),
                ]),
                ..Default::default()
            },
            argo_writes: 2,
        },
        Row {
            name: "the timed pause ends, and the last step's promotion follows",
            ro: pause_elapsed,
            o: (5, 5, 5, 5),
            now: at(31),
            expect: Expect {
                scale: vec![(Stable, 5, 3)],
                index: Some(Some(4)),
                pauses: Some(vec![]),
                conditions: vec![(kind::PAUSED, "False", r::PAUSED, message::PAUSED.into())],
                ..Default::default()
            },
            argo_writes: 1,
        },
        Row {
            name: "promoted from the indefinite pause: the step completes and the next one scales",
            ro: promoted,
            o: (8, 8, 3, 3),
            now: at(11),
            expect: Expect { scale: vec![(Stable, 8, 5)], index: Some(Some(2)), ..Default::default() },
            argo_writes: 1,
        },
    ];
    for row in rows {
        let (stable, canary) = ((row.o.0, row.o.1), (row.o.2, row.o.3));
        let o = observed(&row.ro, stable, canary);
        let settled = reconcile_settled(&row.ro, &o, PauseContext::start(&row.ro), row.now);
        check(row.name, &settled, &row.expect);
        let (status, events, last, writes) = argo_reconciles(&row.ro, &o, row.now);
        assert_eq!(settled.status, status, "{}: the status Argo's reconciles write last", row.name);
        assert_eq!(settled.events, events, "{}: Argo's events, in order", row.name);
        assert_eq!(settled.actions, last.actions, "{}: the actions of Argo's last reconcile", row.name);
        assert_eq!(writes, row.argo_writes, "{}: Argo's status writes (Aviary: one)", row.name);
    }
}

#[test]
fn a_rollout_whose_steps_need_observations_is_decided_one_reconcile_at_a_time() {
    let mut routed = rollout(0, (8, 8), (3, 3));
    routed.spec.strategy.canary.as_mut().unwrap().traffic_routing =
        RolloutBuilder::canary(1).traffic_routing().build().spec.strategy.canary.and_then(|c| c.traffic_routing);
    let mut with_analysis = rollout(0, (8, 8), (3, 3));
    with_analysis
        .spec
        .strategy
        .canary
        .as_mut()
        .unwrap()
        .steps
        .insert(1, aviary_api::CanaryStep { analysis: Some(Default::default()), ..Default::default() });
    let plain = rollout(0, (8, 8), (3, 3));
    assert!(decided_by_status_alone(&plain));
    for ro in [routed, with_analysis] {
        assert!(!decided_by_status_alone(&ro));
        let o = observed(&ro, (8, 8), (3, 3));
        let one = reconcile(&ro, &o, PauseContext::start(&ro), at(5));
        assert_eq!(reconcile_settled(&ro, &o, PauseContext::start(&ro), at(5)), one);
    }
}

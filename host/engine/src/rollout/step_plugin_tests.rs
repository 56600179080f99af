//! The step-plugin stage of a canary reconcile, row by row against Argo's
//! `rollout/stepplugin_test.go` and the e2e scenarios of `test/e2e/step_plugin_test.go`
//! (docs/design/argo-step-plugins.md): which calls a decision asks for, and what their answers
//! do to the list, the step index, the abort, the events and the requeue.

use std::time::Duration;

use aviary_api::rollout::PluginStep;
use aviary_api::rollout_status::{RolloutPhase, StepPluginOperation as Op, StepPluginPhase as Ph, StepPluginStatus};
use aviary_api::{CanaryStep, Time};
use chrono::Duration as Span;
use serde_json::json;

use super::*;
use crate::conditions::reason as r;
use crate::observed::{ObservedReplicaSets, ReplicaSetState};
use crate::step_plugin::{Answer, CallAnswer, Outcome};
use crate::testing::RolloutBuilder;

const NAME: &str = "step/e2e-test";

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().with_timezone(&Utc)
}

fn plugin(config: serde_json::Value) -> CanaryStep {
    CanaryStep { plugin: Some(PluginStep { name: NAME.into(), config: Some(config) }), ..Default::default() }
}

/// Argo's e2e rollout: one replica, two plugin steps, at step `index`, Progressing, with the
/// stable pod up and no canary pod (a plugin step carries no weight).
fn rollout(index: i32) -> Rollout {
    let mut ro = RolloutBuilder::canary(1)
        .step(plugin(json!({"return": "Successful"})))
        .step(plugin(json!({"return": "Running", "requeue": "17s"})))
        .index(index)
        .with_pods()
        .build();
    ro.metadata.generation = Some(1);
    let hash = aviary_api::hash::step_hash(&ro).unwrap();
    let st = ro.status.as_mut().unwrap();
    st.current_step_hash = hash;
    st.phase = Some(RolloutPhase::Progressing);
    st.replicas = 1;
    st.available_replicas = 1;
    ro
}

fn observed(ro: &Rollout, answers: Option<Vec<CallAnswer>>) -> Observed {
    let rs = |hash: &str, n| ReplicaSetState { name: format!("demo-{hash}"), ..ReplicaSetState::new(hash, n, n) };
    Observed {
        replica_sets: ObservedReplicaSets {
            new_rs: Some(rs("canary", 0)),
            stable_rs: Some(rs("stable", 1)),
            older: vec![],
        },
        steps_hash: ro.status.as_ref().unwrap().current_step_hash.clone(),
        revision: 2,
        step_plugin_answers: answers,
        ..Default::default()
    }
}

fn decide(ro: &Rollout, answers: Option<Vec<CallAnswer>>) -> RolloutDecision {
    reconcile(ro, &observed(ro, answers), PauseContext::start(ro), t0())
}

fn answered(index: i32, operation: Op, outcome: Outcome) -> CallAnswer {
    CallAnswer { index, operation, outcome, at: t0() }
}

fn result(phase: Ph, requeue: Option<u64>, status: serde_json::Value) -> Outcome {
    Outcome::Answered(Answer::Result {
        phase,
        message: String::new(),
        requeue_after: requeue.map(Duration::from_secs),
        status: Some(status),
    })
}

fn entry(index: i32, operation: Op, phase: Ph) -> StepPluginStatus {
    StepPluginStatus {
        phase: Some(phase),
        started_at: Some(Time(t0() - Span::seconds(60))),
        updated_at: Some(Time(t0() - Span::seconds(60))),
        executions: 1,
        status: Some(json!({"count": 1})),
        ..crate::step_plugin::disabled(index, NAME)
    }
    .tap(|e| {
        e.disabled = false;
        e.operation = operation;
    })
}

trait Tap: Sized {
    fn tap(mut self, f: impl FnOnce(&mut Self)) -> Self {
        f(&mut self);
        self
    }
}
impl Tap for StepPluginStatus {}

fn events(d: &RolloutDecision) -> Vec<(bool, &'static str, String)> {
    d.events.iter().map(|e| (e.warning, e.reason, e.message.clone())).collect()
}

#[test]
fn a_plugin_step_asks_for_its_run_then_advances_on_success() {
    let ro = rollout(0);
    let first = decide(&ro, None);
    assert_eq!(first.step_plugin_calls.len(), 1, "{:?}", first.step_plugin_calls);
    let call = &first.step_plugin_calls[0];
    assert_eq!((call.index, call.name.as_str(), call.operation), (0, NAME, Op::Run));
    assert_eq!(call.config, json!({"return": "Successful"}));
    assert_eq!(call.status, None, "a first run has no status");

    let d = decide(&ro, Some(vec![answered(0, Op::Run, result(Ph::Successful, None, json!({"count": 1})))]));
    assert!(d.step_plugin_calls.is_empty(), "a decision with answers asks for nothing");
    assert_eq!(d.status.current_step_index, Some(1));
    let list = &d.status.canary.step_plugin_statuses;
    assert_eq!(list.len(), 1);
    assert_eq!((list[0].phase, list[0].operation, list[0].executions), (Some(Ph::Successful), Op::Run, 1));
    assert_eq!(list[0].status, Some(json!({"count": 1})));
    assert_eq!(list[0].finished_at, Some(Time(t0())));
    assert!(
        events(&d).contains(&(false, r::STEP_COMPLETED, format!("Rollout step 1/2 completed (plugin: {NAME})"))),
        "{:?}",
        events(&d)
    );
    assert!(!events(&d).iter().any(|e| e.1 == crate::step_plugin::TRANSITION), "a success records no transition");
}

#[test]
fn a_running_step_waits_its_requeue_and_keeps_its_status_for_the_next_call() {
    let ro = rollout(1);
    let d = decide(&ro, Some(vec![answered(1, Op::Run, result(Ph::Running, Some(17), json!({"count": 1})))]));
    assert_eq!(d.status.current_step_index, Some(1), "a running step does not advance");
    let list = &d.status.canary.step_plugin_statuses;
    assert_eq!((list[0].phase, list[0].backoff.as_str()), (Some(Ph::Running), "17s"));
    assert_eq!(d.requeue_after, Some(Duration::from_secs(22)), "the backoff plus Argo's 5 s slack");
    assert!(events(&d).contains(&(
        false,
        crate::step_plugin::TRANSITION,
        format!("Step plugin {NAME} (step 2) transitioned to Running")
    )));

    // Within the backoff: no call, a wake-up at its end.
    let mut waiting = ro.clone();
    waiting.status.as_mut().unwrap().canary.step_plugin_statuses = d.status.canary.step_plugin_statuses.clone();
    let soon = reconcile(&waiting, &observed(&waiting, None), PauseContext::start(&waiting), t0() + Span::seconds(7));
    assert!(soon.step_plugin_calls.is_empty());
    assert_eq!(soon.requeue_after, Some(Duration::from_secs(15)));
    // After it: the call, with the status the last run kept.
    let later = reconcile(&waiting, &observed(&waiting, None), PauseContext::start(&waiting), t0() + Span::seconds(18));
    assert_eq!(later.step_plugin_calls.len(), 1);
    assert_eq!(later.step_plugin_calls[0].status, Some(json!({"count": 1})));
}

#[test]
fn a_failed_step_aborts_the_rollout_with_argo_s_message() {
    let ro = rollout(1);
    let failed = Outcome::Answered(Answer::Result {
        phase: Ph::Failed,
        message: "the endpoint said no".into(),
        requeue_after: None,
        status: None,
    });
    let d = decide(&ro, Some(vec![answered(1, Op::Run, failed)]));
    assert!(d.status.abort);
    assert_eq!(d.status.current_step_index, Some(0), "an abort goes back to step 0");
    let progressing = d.status.conditions.iter().find(|c| c.type_ == "Progressing").unwrap();
    assert_eq!(progressing.reason, "RolloutAborted");
    assert_eq!(
        progressing.message,
        format!("Rollout aborted update to revision 2: Step Plugin 2 ({NAME}) failed: the endpoint said no")
    );
    assert!(events(&d).contains(&(
        true,
        crate::step_plugin::TRANSITION,
        format!("Step plugin {NAME} (step 2) transitioned to Failed")
    )));
}

#[test]
fn an_abort_calls_abort_on_the_steps_that_ran_last_first_once_each() {
    let mut ro = rollout(1);
    {
        let st = ro.status.as_mut().unwrap();
        st.abort = true;
        st.phase = Some(RolloutPhase::Degraded);
        st.canary.step_plugin_statuses = vec![entry(0, Op::Run, Ph::Successful), entry(1, Op::Run, Ph::Running)];
    }
    let first = decide(&ro, None);
    let asked: Vec<(i32, Op)> = first.step_plugin_calls.iter().map(|c| (c.index, c.operation)).collect();
    assert_eq!(asked, vec![(1, Op::Abort), (0, Op::Abort)]);
    assert_eq!(first.step_plugin_calls[0].status, Some(json!({"count": 1})), "abort gets the run's status");
    let d = decide(
        &ro,
        Some(vec![
            answered(1, Op::Abort, result(Ph::Successful, None, json!(null))),
            answered(0, Op::Abort, result(Ph::Running, None, json!(null))),
        ]),
    );
    let list: Vec<(i32, Op, Option<Ph>)> =
        d.status.canary.step_plugin_statuses.iter().map(|e| (e.index, e.operation, e.phase)).collect();
    assert_eq!(
        list,
        vec![
            (0, Op::Run, Some(Ph::Successful)),
            (1, Op::Run, Some(Ph::Running)),
            (1, Op::Abort, Some(Ph::Successful)),
            // An abort cannot run asynchronously: Running is recorded as Failed.
            (0, Op::Abort, Some(Ph::Failed)),
        ]
    );
    let mut after = ro.clone();
    after.status.as_mut().unwrap().canary.step_plugin_statuses = d.status.canary.step_plugin_statuses.clone();
    assert!(decide(&after, None).step_plugin_calls.is_empty(), "each abort is attempted once");
}

#[test]
fn a_full_promotion_terminates_the_running_step_and_completes() {
    // `promote --full` scaled the canary up and made it the stable; the next reconcile that
    // scales nothing terminates the step left running.
    let mut ro = rollout(2);
    ro.status.as_mut().unwrap().stable_rs = "canary".into();
    ro.status.as_mut().unwrap().canary.step_plugin_statuses =
        vec![entry(0, Op::Run, Ph::Successful), entry(1, Op::Run, Ph::Running)];
    let promoted = |answers| {
        let mut o = observed(&ro, answers);
        o.replica_sets.stable_rs = o.replica_sets.new_rs.clone().map(|r| ReplicaSetState {
            spec_replicas: 1,
            available: 1,
            status_replicas: 1,
            ready: 1,
            ..r
        });
        o.replica_sets.new_rs = o.replica_sets.stable_rs.clone();
        reconcile(&ro, &o, PauseContext::start(&ro), t0())
    };
    let first = promoted(None);
    let asked: Vec<(i32, Op)> = first.step_plugin_calls.iter().map(|c| (c.index, c.operation)).collect();
    assert_eq!(asked, vec![(1, Op::Terminate)]);
    let d = promoted(Some(vec![answered(1, Op::Terminate, result(Ph::Successful, None, json!(null)))]));
    let ops: Vec<(i32, Op)> = d.status.canary.step_plugin_statuses.iter().map(|e| (e.index, e.operation)).collect();
    assert_eq!(ops, vec![(0, Op::Run), (1, Op::Run), (1, Op::Terminate)]);
    assert!(events(&d).contains(&(
        false,
        crate::step_plugin::TRANSITION,
        format!("Step plugin {NAME} (step 2) terminated (Successful)")
    )));
}

#[test]
fn an_unavailable_plugin_is_a_reconciliation_error_that_records_nothing() {
    let ro = rollout(0);
    let d = decide(&ro, Some(vec![answered(0, Op::Run, Outcome::Unavailable("no step plugin \"x\"".into()))]));
    assert_eq!(d.status.current_step_index, Some(0));
    assert!(d.status.canary.step_plugin_statuses.is_empty());
    assert!(events(&d).contains(&(
        true,
        r::RECONCILIATION_ERROR,
        "Reconciliation failed with error: could not create step plugin at index 0 : no step plugin \"x\"".into()
    )));
    assert!(d.requeue_after.is_some_and(|r| r <= Duration::from_secs(30)));
}

#[test]
fn an_erring_call_is_retried_after_30_seconds_and_the_step_waits() {
    let ro = rollout(0);
    let err = Outcome::Answered(Answer::Error("step/e2e-test run: could not parse phase".into()));
    let d = decide(&ro, Some(vec![answered(0, Op::Run, err)]));
    assert_eq!(d.status.current_step_index, Some(0));
    let e = &d.status.canary.step_plugin_statuses[0];
    assert_eq!((e.phase, e.backoff.as_str(), e.executions), (Some(Ph::Error), "30s", 1));
    assert_eq!(d.requeue_after, Some(Duration::from_secs(35)));
}

#[test]
fn a_disabled_plugin_completes_its_step_without_a_call() {
    let ro = rollout(0);
    let d = decide(&ro, Some(vec![answered(0, Op::Run, Outcome::Disabled)]));
    assert_eq!(d.status.current_step_index, Some(1));
    let e = &d.status.canary.step_plugin_statuses[0];
    assert!(e.disabled && e.phase.is_none());
}

#[test]
fn only_a_progressing_rollout_runs_its_plugin_step() {
    for phase in [RolloutPhase::Paused, RolloutPhase::Degraded, RolloutPhase::Healthy] {
        let mut ro = rollout(0);
        ro.status.as_mut().unwrap().phase = Some(phase);
        assert!(decide(&ro, None).step_plugin_calls.is_empty(), "{phase:?}");
    }
}

#[test]
fn a_retry_at_step_zero_wipes_the_list_of_the_aborted_attempt() {
    // `retry` lifted the abort of a Degraded rollout, back at step 0.
    let mut ro = rollout(0);
    ro.status.as_mut().unwrap().phase = Some(RolloutPhase::Degraded);
    ro.status.as_mut().unwrap().canary.step_plugin_statuses = vec![
        entry(0, Op::Run, Ph::Successful),
        entry(1, Op::Run, Ph::Running),
        entry(1, Op::Abort, Ph::Successful),
        entry(0, Op::Abort, Ph::Successful),
    ];
    let wiped = decide(&ro, None);
    assert!(wiped.step_plugin_calls.is_empty(), "not Progressing yet: no run");
    assert!(wiped.status.canary.step_plugin_statuses.is_empty(), "the aborted attempt's list is dropped");
    assert_eq!(wiped.status.current_step_index, Some(0), "and step 0 is not complete");
    // The next reconcile runs step 0 from scratch.
    let mut next = ro.clone();
    next.status.as_mut().unwrap().phase = Some(RolloutPhase::Progressing);
    next.status.as_mut().unwrap().canary.step_plugin_statuses.clear();
    let first = decide(&next, None);
    let asked: Vec<(i32, Op, Option<serde_json::Value>)> =
        first.step_plugin_calls.iter().map(|c| (c.index, c.operation, c.status.clone())).collect();
    assert_eq!(asked, vec![(0, Op::Run, None)]);
}

#[test]
fn a_new_template_resets_the_list_without_calling_any_plugin() {
    let mut ro = rollout(1);
    ro.status.as_mut().unwrap().canary.step_plugin_statuses = vec![entry(1, Op::Run, Ph::Running)];
    let mut o = observed(&ro, None);
    o.replica_sets.new_rs.as_mut().unwrap().pod_template_hash = "newer".into();
    let d = reconcile(&ro, &o, PauseContext::start(&ro), t0());
    assert!(d.step_plugin_calls.is_empty());
    assert!(d.status.canary.step_plugin_statuses.is_empty());
}

//! Step plugins' bookkeeping in `status.canary.stepPluginStatuses`, as Argo Rollouts keeps it
//! (docs/design/argo-step-plugins.md §2.3–§2.10): whether a `run` call is due, what an answer
//! does to the step's entry, when the step is complete, how long to wait, and which steps a
//! full promotion terminates and an abort aborts. Pure: the controller makes the calls.
//!
//! Entries are keyed on (index, operation). A `run` entry counts its calls (`executions`) and
//! keeps the plugin's opaque `status` across them; its `backoff` (a Go duration) says when the
//! next call is due after `updatedAt`. `terminate` and `abort` are called once per step and
//! recorded, never retried.

use std::time::Duration;

use aviary_api::Time;
use aviary_api::duration::{format_go_duration, parse_go_duration};
use aviary_api::rollout_status::{StepPluginOperation, StepPluginPhase, StepPluginStatus};
use chrono::{DateTime, Utc};

/// The wait between polls of a running step when the plugin asks for 10 s or less (or nothing),
/// and after an error.
pub const DEFAULT_BACKOFF: Duration = Duration::from_secs(30);
/// A plugin's `requeue-after` is honoured only above this.
pub const MIN_REQUEUE: Duration = Duration::from_secs(10);
/// Added to every wake-up, so the backoff has surely elapsed when the rollout is looked at again.
pub const WAKE_UP_SLACK: Duration = Duration::from_secs(5);

/// A step plugin call's answer, as the contract's `step-result` (or its error).
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// The plugin answered.
    Result {
        /// Its phase.
        phase: StepPluginPhase,
        /// Its message (an empty one overwrites the last).
        message: String,
        /// With Running: when to call again.
        requeue_after: Option<Duration>,
        /// The state to keep (`None`: JSON null).
        status: Option<serde_json::Value>,
    },
    /// The call failed: the plugin answered an error, or the sandbox ended it (deadline, memory,
    /// trap), or the plugin could not be loaded.
    Error(String),
}

/// A call a reconcile needs answered before it can decide (see
/// [`crate::rollout::RolloutDecision::step_plugin_calls`]): the controller makes them in order and
/// decides again with the answers ([`crate::rollout::Observed::step_plugin_answers`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// The step's index in `spec.strategy.canary.steps`.
    pub index: i32,
    /// The step's `plugin.name`.
    pub name: String,
    /// Run, Terminate or Abort.
    pub operation: StepPluginOperation,
    /// The step's `plugin.config` (`null` when absent).
    pub config: serde_json::Value,
    /// The status the step's `run` entry keeps, handed to the plugin.
    pub status: Option<serde_json::Value>,
}

/// What came of a [`Call`].
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The plugin answered, or its call failed (an `Error` entry, retried for a run).
    Answered(Answer),
    /// The plugin's registry entry disables it: a run completes at once, nothing else happens.
    Disabled,
    /// The plugin is not loaded (not registered, failed to load, not a step plugin): Argo's
    /// resolve error, a `ReconciliationError` with nothing recorded, and the step stays put.
    Unavailable(String),
}

/// The answer to one [`Call`], with when it came.
#[derive(Clone, Debug, PartialEq)]
pub struct CallAnswer {
    /// The call's step index.
    pub index: i32,
    /// The call's operation.
    pub operation: StepPluginOperation,
    /// What came of it.
    pub outcome: Outcome,
    /// When the answer came (the entry's `updatedAt` or `finishedAt`).
    pub at: DateTime<Utc>,
}

/// The `StepPluginTransition` event of an entry whose phase changed (Argo's `recordPhase`):
/// `None` for a run that succeeded or a disabled one.
pub fn transition_event(entry: &StepPluginStatus) -> Option<crate::conditions::Event> {
    let phase = entry.phase?;
    let what = match entry.operation {
        StepPluginOperation::Run if phase == StepPluginPhase::Successful => return None,
        StepPluginOperation::Run => format!("transitioned to {}", phase.as_str()),
        StepPluginOperation::Terminate => format!("terminated ({})", phase.as_str()),
        StepPluginOperation::Abort => format!("aborted ({})", phase.as_str()),
    };
    let message = format!("Step plugin {} (step {}) {what}", entry.name, entry.index.saturating_add(1));
    let normal = match entry.operation {
        StepPluginOperation::Run => phase == StepPluginPhase::Running,
        _ => phase == StepPluginPhase::Successful,
    };
    Some(if normal {
        crate::conditions::Event::normal(TRANSITION, message)
    } else {
        crate::conditions::Event::warning(TRANSITION, message)
    })
}

/// The reason of the events of a step plugin's phase changes.
pub const TRANSITION: &str = "StepPluginTransition";

/// Whether a `run` call is due for the step at `index`.
#[derive(Clone, Debug, PartialEq)]
pub enum RunDue {
    /// The step's run is over (Successful or Failed): nothing to call.
    Finished,
    /// The backoff has not elapsed: look again at this time.
    Wait(DateTime<Utc>),
    /// Call `run` with this entry's `status`; `entry` is what the answer updates.
    Call(StepPluginStatus),
}

fn time(t: DateTime<Utc>) -> Option<Time> {
    Some(Time(t))
}

fn find(list: &[StepPluginStatus], index: i32, operation: StepPluginOperation) -> Option<&StepPluginStatus> {
    list.iter().find(|e| e.index == index && e.operation == operation)
}

/// A backoff as Argo stores it; an unparsable one (only a plugin answering `Error` as its phase
/// leaves one empty) counts as [`DEFAULT_BACKOFF`] rather than stalling the step as Argo does.
fn backoff(entry: &StepPluginStatus) -> Duration {
    parse_go_duration(&entry.backoff)
        .ok()
        .and_then(|n| u64::try_from(n).ok())
        .map_or(DEFAULT_BACKOFF, Duration::from_nanos)
}

fn due_at(entry: &StepPluginStatus) -> Option<DateTime<Utc>> {
    let updated = entry.updated_at.as_ref()?.0;
    let wait = chrono::Duration::from_std(backoff(entry)).unwrap_or(chrono::Duration::MAX);
    updated.checked_add_signed(wait)
}

/// Argo's `Run` preamble: the persisted entry of (index, name), a fresh one when there is none
/// (or it was written for a disabled plugin), and whether its backoff has elapsed.
pub fn run_due(persisted: &[StepPluginStatus], index: i32, name: &str, now: DateTime<Utc>) -> RunDue {
    let existing = find(persisted, index, StepPluginOperation::Run).filter(|e| e.name == name && !e.disabled);
    let Some(entry) = existing else {
        return RunDue::Call(StepPluginStatus {
            phase: Some(StepPluginPhase::Running),
            started_at: time(now),
            ..blank(index, name, StepPluginOperation::Run)
        });
    };
    if matches!(entry.phase, Some(StepPluginPhase::Successful | StepPluginPhase::Failed)) {
        return RunDue::Finished;
    }
    if entry.executions > 0
        && let Some(at) = due_at(entry)
        && at > now
    {
        return RunDue::Wait(at);
    }
    RunDue::Call(entry.clone())
}

/// The entry after a `run` call answered at `now` (Argo's `plugin.Run`): one more execution; an
/// error keeps the plugin's status and retries after 30 s; a running step polls after its
/// `requeue-after` when above 10 s, else 30 s; a finished one records when.
pub fn after_run(mut entry: StepPluginStatus, answer: Answer, now: DateTime<Utc>) -> StepPluginStatus {
    entry.backoff.clear();
    entry.updated_at = time(now);
    entry.executions = entry.executions.saturating_add(1);
    match answer {
        Answer::Error(message) => {
            entry.phase = Some(StepPluginPhase::Error);
            entry.message = message;
            entry.backoff = format_go_duration(DEFAULT_BACKOFF);
        }
        Answer::Result { phase, message, requeue_after, status } => {
            entry.message = message;
            entry.phase = Some(phase);
            match phase {
                StepPluginPhase::Successful | StepPluginPhase::Failed => entry.finished_at = time(now),
                StepPluginPhase::Running => {
                    let wait = requeue_after.filter(|d| *d > MIN_REQUEUE).unwrap_or(DEFAULT_BACKOFF);
                    entry.backoff = format_go_duration(wait);
                }
                // Argo leaves the backoff empty here and then cannot parse it; a plugin's own
                // Error is retried like a failed call instead.
                StepPluginPhase::Error => entry.backoff = format_go_duration(DEFAULT_BACKOFF),
            }
            if phase != StepPluginPhase::Error {
                entry.status = status;
            }
        }
    }
    entry
}

/// Argo's `updateStepPluginStatus`: replaces the entry of the same (index, operation) in place,
/// or appends it. Returns whether the phase changed (an event is due).
pub fn merge(list: &mut Vec<StepPluginStatus>, entry: StepPluginStatus) -> bool {
    match list.iter_mut().find(|e| e.index == entry.index && e.operation == entry.operation) {
        Some(old) => {
            let changed = old.phase != entry.phase;
            *old = entry;
            changed
        }
        None => {
            list.push(entry);
            true
        }
    }
}

/// Argo's `isStepPluginCompleted`: the step at `index` is done when its run finished (or its
/// plugin is disabled), or when a running run was terminated or aborted.
pub fn run_complete(list: &[StepPluginStatus], index: i32) -> bool {
    let Some(run) = find(list, index, StepPluginOperation::Run) else { return false };
    if run.disabled || matches!(run.phase, Some(StepPluginPhase::Successful | StepPluginPhase::Failed)) {
        return true;
    }
    run.phase == Some(StepPluginPhase::Running)
        && (find(list, index, StepPluginOperation::Terminate).is_some()
            || find(list, index, StepPluginOperation::Abort).is_some())
}

/// When to look at the rollout again for a running or erring run entry: its backoff after its
/// last call, plus [`WAKE_UP_SLACK`]; `None` for a finished one.
pub fn wake_up(entry: &StepPluginStatus, now: DateTime<Utc>) -> Option<Duration> {
    if !matches!(entry.phase, Some(StepPluginPhase::Running | StepPluginPhase::Error)) {
        return None;
    }
    let at = due_at(entry).unwrap_or(now);
    let wait = at.signed_duration_since(now).to_std().unwrap_or_default();
    Some(wait.saturating_add(WAKE_UP_SLACK))
}

/// The message a failed step aborts the rollout with (Argo's, the index counted from 1).
pub fn failed_message(entry: &StepPluginStatus) -> String {
    format!("Step Plugin {} ({}) failed: {}", entry.index.saturating_add(1), entry.name, entry.message)
}

/// Argo's `getStepToTerminate`: on full promotion, the last step whose run is still running,
/// unless a terminate already succeeded later in the list.
pub fn step_to_terminate(persisted: &[StepPluginStatus]) -> Option<i32> {
    for e in persisted.iter().rev() {
        match e.operation {
            StepPluginOperation::Terminate if e.phase == Some(StepPluginPhase::Successful) => return None,
            StepPluginOperation::Run if e.phase == Some(StepPluginPhase::Running) => return Some(e.index),
            _ => {}
        }
    }
    None
}

/// The steps an abort calls `abort` on, in Argo's order (last run first): runs that are Running
/// or Successful, not disabled, and not aborted already.
pub fn steps_to_abort(persisted: &[StepPluginStatus]) -> Vec<i32> {
    persisted
        .iter()
        .rev()
        .filter(|e| e.operation == StepPluginOperation::Run && !e.disabled)
        .filter(|e| matches!(e.phase, Some(StepPluginPhase::Running | StepPluginPhase::Successful)))
        .filter(|e| find(persisted, e.index, StepPluginOperation::Abort).is_none())
        .map(|e| e.index)
        .collect()
}

/// The entry a `terminate` or `abort` call records (Argo's `plugin.Terminate`/`Abort`): Successful
/// unless the plugin says otherwise; Running is not allowed for these (Failed instead); an error
/// is Error; always finished. The plugin's status and requeue are ignored.
pub fn after_stop(
    index: i32,
    name: &str,
    operation: StepPluginOperation,
    started: DateTime<Utc>,
    answer: Answer,
    now: DateTime<Utc>,
) -> StepPluginStatus {
    let (phase, message) = match answer {
        Answer::Error(message) => (StepPluginPhase::Error, message),
        Answer::Result { phase: StepPluginPhase::Running, message, .. } => (StepPluginPhase::Failed, message),
        Answer::Result { phase, message, .. } => (phase, message),
    };
    StepPluginStatus {
        phase: Some(phase),
        message,
        started_at: time(started),
        finished_at: time(now),
        ..blank(index, name, operation)
    }
}

/// The entry of a step whose plugin is disabled in the registry: complete at once, no call.
pub fn disabled(index: i32, name: &str) -> StepPluginStatus {
    StepPluginStatus { disabled: true, ..blank(index, name, StepPluginOperation::Run) }
}

/// An entry with nothing recorded yet.
fn blank(index: i32, name: &str, operation: StepPluginOperation) -> StepPluginStatus {
    StepPluginStatus {
        index,
        name: name.to_string(),
        operation,
        phase: None,
        message: String::new(),
        started_at: None,
        updated_at: None,
        finished_at: None,
        backoff: String::new(),
        executions: 0,
        disabled: false,
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use StepPluginOperation::{Abort, Run, Terminate};
    use StepPluginPhase::{Error, Failed, Running, Successful};
    use serde_json::json;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    fn entry(index: i32, operation: StepPluginOperation, phase: StepPluginPhase) -> StepPluginStatus {
        StepPluginStatus { phase: Some(phase), ..blank(index, "acme/step", operation) }
    }

    trait Tap: Sized {
        fn tap(mut self, f: impl FnOnce(&mut Self)) -> Self {
            f(&mut self);
            self
        }
    }
    impl Tap for StepPluginStatus {}

    fn ok(phase: StepPluginPhase, requeue: Option<u64>, status: serde_json::Value) -> Answer {
        Answer::Result {
            phase,
            message: format!("{phase:?}"),
            requeue_after: requeue.map(Duration::from_secs),
            status: Some(status),
        }
    }

    #[test]
    fn a_first_run_starts_a_fresh_entry_and_a_finished_one_is_not_called_again() {
        let RunDue::Call(fresh) = run_due(&[], 2, "acme/step", at(0)) else { panic!("a first call is due") };
        assert_eq!((fresh.index, fresh.phase, fresh.executions), (2, Some(Running), 0));
        assert_eq!(fresh.started_at, time(at(0)));
        for phase in [Successful, Failed] {
            assert_eq!(run_due(&[entry(2, Run, phase)], 2, "acme/step", at(0)), RunDue::Finished);
        }
        // Another plugin at that index (the steps changed) or a disabled entry: start afresh.
        let other = entry(2, Run, Successful).tap(|e| e.name = "acme/other".into());
        assert!(matches!(run_due(&[other], 2, "acme/step", at(0)), RunDue::Call(e) if e.executions == 0));
        let off = disabled(2, "acme/step");
        assert!(matches!(run_due(&[off], 2, "acme/step", at(0)), RunDue::Call(e) if !e.disabled));
    }

    #[test]
    fn the_backoff_gates_the_next_call_and_the_wake_up_follows_it() {
        // Argo's e2e: requeueAfter 17s → backoff "17s"; 5s or nothing → "30s".
        let RunDue::Call(fresh) = run_due(&[], 0, "acme/step", at(0)) else { panic!() };
        let polled = after_run(fresh, ok(Running, Some(17), json!({"n": 1})), at(0));
        assert_eq!((polled.backoff.as_str(), polled.executions), ("17s", 1));
        assert_eq!(polled.status, Some(json!({"n": 1})));
        assert_eq!(run_due(std::slice::from_ref(&polled), 0, "acme/step", at(10)), RunDue::Wait(at(17)));
        assert_eq!(wake_up(&polled, at(10)), Some(Duration::from_secs(12)));
        let RunDue::Call(again) = run_due(std::slice::from_ref(&polled), 0, "acme/step", at(17)) else { panic!() };
        let short = after_run(again, ok(Running, Some(5), json!({"n": 2})), at(17));
        assert_eq!((short.backoff.as_str(), short.executions), ("30s", 2));
        let long = after_run(short.clone(), ok(Running, Some(90), json!(null)), at(47));
        assert_eq!(long.backoff, "1m30s");
        let exactly_ten = after_run(short, ok(Running, Some(10), json!(null)), at(47));
        assert_eq!(exactly_ten.backoff, "30s", "only above 10 s is honoured");
    }

    #[test]
    fn errors_keep_the_plugins_status_and_retry_in_thirty_seconds_without_a_limit() {
        let mut e = entry(0, Run, Running).tap(|e| e.status = Some(json!({"kept": true})));
        for n in 1..=5 {
            e = after_run(e, Answer::Error("deadline of 5s exceeded".into()), at(30 * i64::from(n)));
            assert_eq!((e.phase, e.executions, e.backoff.as_str()), (Some(Error), n, "30s"));
        }
        assert_eq!(e.status, Some(json!({"kept": true})));
        assert_eq!(e.finished_at, None);
        // A plugin's own Error phase is retried the same way (Argo would stall on an empty backoff).
        let own = after_run(entry(0, Run, Running), ok(Error, None, json!({"lost": 1})), at(0));
        assert_eq!((own.backoff.as_str(), own.status), ("30s", None));
        // Recovery replaces the Error.
        let back = after_run(e, ok(Successful, None, json!({"done": 1})), at(200));
        assert_eq!((back.phase, back.finished_at, back.backoff.as_str()), (Some(Successful), time(at(200)), ""));
    }

    #[test]
    fn completion_follows_argos_table() {
        let run = |p| entry(1, Run, p);
        let cases: Vec<(Vec<StepPluginStatus>, bool)> = vec![
            (vec![], false),
            (vec![run(Running)], false),
            (vec![run(Error)], false),
            (vec![run(Successful)], true),
            (vec![run(Failed)], true),
            (vec![disabled(1, "acme/step")], true),
            (vec![run(Running), entry(1, Terminate, Successful)], true),
            (vec![run(Running), entry(1, Abort, Error)], true),
            (vec![run(Error), entry(1, Terminate, Successful)], false),
            (vec![entry(0, Run, Successful)], false),
        ];
        for (list, done) in cases {
            assert_eq!(run_complete(&list, 1), done, "{list:?}");
        }
    }

    #[test]
    fn merging_replaces_by_index_and_operation_in_place() {
        let mut list = vec![entry(0, Run, Successful), entry(1, Run, Running)];
        assert!(!merge(&mut list, entry(1, Run, Running).tap(|e| e.executions = 2)));
        assert_eq!(list[1].executions, 2);
        assert!(merge(&mut list, entry(1, Run, Successful)));
        assert!(merge(&mut list, entry(1, Abort, Successful)));
        assert_eq!(
            list.iter().map(|e| (e.index, e.operation)).collect::<Vec<_>>(),
            vec![(0, Run), (1, Run), (1, Abort)]
        );
    }

    #[test]
    fn promotion_terminates_the_last_running_step_and_abort_goes_backwards_once() {
        let list = vec![entry(0, Run, Successful), entry(2, Run, Running)];
        assert_eq!(step_to_terminate(&list), Some(2));
        let terminated = [list.clone(), vec![entry(2, Terminate, Successful)]].concat();
        assert_eq!(step_to_terminate(&terminated), None);
        assert_eq!(step_to_terminate(&[entry(0, Run, Successful)]), None);

        let list = vec![entry(0, Run, Successful), entry(1, Run, Failed), entry(2, Run, Error), entry(3, Run, Running)];
        assert_eq!(steps_to_abort(&list), vec![3, 0], "Failed and Error runs are not aborted");
        let aborted = [list, vec![entry(3, Abort, Successful)]].concat();
        assert_eq!(steps_to_abort(&aborted), vec![0], "each step is aborted once");
    }

    #[test]
    fn terminate_and_abort_are_recorded_finished_and_never_running() {
        let e = after_stop(2, "acme/step", Terminate, at(0), ok(Running, Some(60), json!({"x": 1})), at(1));
        assert_eq!((e.phase, e.finished_at, e.status.clone()), (Some(Failed), time(at(1)), None));
        let e = after_stop(2, "acme/step", Abort, at(0), Answer::Error("trap".into()), at(1));
        assert_eq!((e.phase, e.message.as_str()), (Some(Error), "trap"));
        let e = after_stop(2, "acme/step", Abort, at(0), ok(Successful, None, json!(null)), at(1));
        assert_eq!((e.operation, e.phase, e.started_at), (Abort, Some(Successful), time(at(0))));
        assert_eq!(
            failed_message(&entry(2, Run, Failed).tap(|e| e.message = "smoke test: 3 of 5 failed".into())),
            "Step Plugin 3 (acme/step) failed: smoke test: 3 of 5 failed"
        );
    }
}

//! The canary's step-plugin stage (Argo's `stepPluginContext.reconcile`), reached when nothing
//! was scaled and the current step is not a pause: on an abort, `abort` for each step that ran;
//! on a full promotion, `terminate` for the step still running; else `run` for a current
//! `plugin:` step while the rollout is Progressing. The calls themselves are the controller's:
//! a first decision lists them ([`super::RolloutDecision::step_plugin_calls`]), and the decision
//! taken again with their answers ([`super::Observed::step_plugin_answers`]) records them.

use std::time::Duration;

use aviary_api::RolloutPhase;
use aviary_api::rollout::PluginStep;
use aviary_api::rollout_status::{StepPluginOperation, StepPluginPhase, StepPluginStatus};

use super::canary::Decider;
use crate::conditions::{Event, reason};
use crate::step_plugin::{
    self as sp, Call, CallAnswer, Outcome, RunDue, after_run, after_stop, merge, run_complete, run_due,
    step_to_terminate, steps_to_abort, transition_event,
};
use crate::weight::current_step;

/// Argo's `defaultControllerErrorBackoff`: a step plugin that could not be resolved is looked at
/// again this soon.
const ERROR_BACKOFF: Duration = Duration::from_secs(30);

/// What the stage decided: the list to write, whether an error keeps the step from completing,
/// and the calls still to make.
#[derive(Debug, Default)]
pub(super) struct StepPlugins {
    /// The working `stepPluginStatuses` (`None`: the stage did not run; the persisted list stays).
    pub(super) list: Option<Vec<StepPluginStatus>>,
    /// Argo's `hasError`: the current step cannot complete in this reconcile.
    pub(super) error: bool,
    /// The calls to make before deciding again.
    pub(super) calls: Vec<Call>,
}

/// Where an operation stands for one step in this decision.
enum Answered<'a> {
    /// The calls are not made yet: ask for this one.
    Ask,
    /// Made, with this answer.
    Got(&'a CallAnswer),
    /// The controller stopped before this call (an earlier one could not be resolved).
    NotMade,
}

impl<'a> Decider<'a> {
    /// The plugin step at `index` of the spec, if it is one.
    fn plugin_step(&self, index: i32) -> Option<&PluginStep> {
        let steps = &self.rollout.spec.canary()?.steps;
        steps.get(usize::try_from(index).ok()?)?.plugin.as_ref()
    }

    fn answered(&self, index: i32, operation: StepPluginOperation) -> Answered<'a> {
        match &self.o.step_plugin_answers {
            None => Answered::Ask,
            Some(answers) => answers
                .iter()
                .find(|a| a.index == index && a.operation == operation)
                .map_or(Answered::NotMade, Answered::Got),
        }
    }

    fn ask(&mut self, index: i32, step: &PluginStep, operation: StepPluginOperation, run: Option<&StepPluginStatus>) {
        self.step_plugins.calls.push(Call {
            index,
            name: step.name.clone(),
            operation,
            config: step.config.clone().unwrap_or(serde_json::Value::Null),
            status: run.and_then(|r| r.status.clone()),
        });
    }

    /// Argo's `handleError`: a `ReconciliationError` event, no completion, a look again soon.
    fn step_plugin_error(&mut self, message: String) {
        self.step_plugins.error = true;
        self.events
            .push(Event::warning(reason::RECONCILIATION_ERROR, format!("Reconciliation failed with error: {message}")));
        self.requeue_in(ERROR_BACKOFF);
    }

    /// Merges `entry` into `list`, with its transition event when its phase changed.
    fn record(&mut self, list: &mut Vec<StepPluginStatus>, entry: StepPluginStatus) {
        let event = transition_event(&entry);
        if merge(list, entry)
            && let Some(e) = event
        {
            self.events.push(e);
        }
    }

    /// The stage itself; see the module documentation.
    pub(super) fn reconcile_step_plugins(&mut self) {
        let status = self.status();
        let persisted = &status.canary.step_plugin_statuses;
        let mut list = persisted.clone();
        if self.pause.is_aborted(self.rollout) {
            for index in steps_to_abort(persisted) {
                if !self.stop(&mut list, index, StepPluginOperation::Abort) {
                    break;
                }
            }
        } else if status.promote_full || (!status.stable_rs.is_empty() && status.stable_rs == status.current_pod_hash) {
            if let Some(index) = step_to_terminate(persisted) {
                self.stop(&mut list, index, StepPluginOperation::Terminate);
            }
        } else {
            self.clean_for_retry(&mut list);
            self.run(&mut list);
        }
        self.step_plugins.list = Some(list);
    }

    /// Argo's `cleanStatusForRetry`: back at step 0 after an abort was lifted, the list from the
    /// aborted attempt is dropped (step 0 runs again from scratch).
    fn clean_for_retry(&self, list: &mut Vec<StepPluginStatus>) {
        let status = self.status();
        if list.is_empty() || status.abort || status.current_step_index != Some(0) {
            return;
        }
        if self.plugin_step(0).is_none() || run_complete(list, 0) {
            list.clear();
        }
    }

    /// `terminate` or `abort` on the step at `index`, once. `false` ends an abort loop (the
    /// plugin could not be resolved, or the controller stopped before this call).
    fn stop(&mut self, list: &mut Vec<StepPluginStatus>, index: i32, operation: StepPluginOperation) -> bool {
        let Some(step) = self.plugin_step(index).cloned() else { return true };
        let persisted = &self.status().canary.step_plugin_statuses;
        let already = persisted.iter().any(|e| e.index == index && e.operation == operation && e.name == step.name);
        let run = persisted
            .iter()
            .find(|e| e.index == index && e.operation == StepPluginOperation::Run && e.name == step.name);
        let wanted = match operation {
            StepPluginOperation::Terminate => &[StepPluginPhase::Running][..],
            _ => &[StepPluginPhase::Running, StepPluginPhase::Successful][..],
        };
        let Some(run) = run.filter(|r| !r.disabled && r.phase.is_some_and(|p| wanted.contains(&p))) else {
            return true;
        };
        if already {
            return true;
        }
        let run = run.clone();
        match self.answered(index, operation) {
            Answered::Ask => {
                self.ask(index, &step, operation, Some(&run));
                true
            }
            Answered::NotMade => false,
            Answered::Got(a) => match &a.outcome {
                Outcome::Disabled => true,
                Outcome::Unavailable(e) => {
                    self.step_plugin_error(format!("could not create step plugin at index {index} : {e}"));
                    false
                }
                Outcome::Answered(answer) => {
                    let entry = after_stop(index, &step.name, operation, self.now, answer.clone(), a.at);
                    self.record(list, entry);
                    true
                }
            },
        }
    }

    /// Argo's Run branch: the current step's plugin, while the rollout is Progressing.
    fn run(&mut self, list: &mut Vec<StepPluginStatus>) {
        let (_, Some(index)) = current_step(self.rollout) else { return };
        let Some(step) = self.plugin_step(index).cloned() else { return };
        if self.status().phase != Some(RolloutPhase::Progressing) {
            return;
        }
        let entry = match run_due(&self.status().canary.step_plugin_statuses, index, &step.name, self.now) {
            RunDue::Finished => return,
            RunDue::Wait(at) => {
                self.requeue_in(crate::clock::until(self.now, at).saturating_add(sp::WAKE_UP_SLACK));
                return;
            }
            RunDue::Call(entry) => entry,
        };
        let a = match self.answered(index, StepPluginOperation::Run) {
            Answered::Ask => return self.ask(index, &step, StepPluginOperation::Run, Some(&entry)),
            Answered::NotMade => return,
            Answered::Got(a) => a,
        };
        match &a.outcome {
            Outcome::Disabled => {
                merge(list, sp::disabled(index, &step.name));
            }
            Outcome::Unavailable(e) => {
                self.step_plugin_error(format!("could not create step plugin at index {index} : {e}"));
            }
            Outcome::Answered(answer) => {
                let entry = after_run(entry, answer.clone(), a.at);
                if let Some(wait) = sp::wake_up(&entry, self.now) {
                    self.requeue_in(wait);
                }
                if entry.phase == Some(StepPluginPhase::Failed) {
                    self.pause.add_abort(sp::failed_message(&entry));
                }
                self.record(list, entry);
            }
        }
    }

    /// Argo's `isStepPluginCompleted` for the current step, on this decision's list.
    pub(super) fn step_plugin_complete(&self) -> bool {
        let (_, Some(index)) = current_step(self.rollout) else { return false };
        let list = self.step_plugins.list.as_ref().unwrap_or(&self.status().canary.step_plugin_statuses);
        !self.step_plugins.error && run_complete(list, index)
    }
}

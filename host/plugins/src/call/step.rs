//! The host's side of a step-plugin call: which operation ([`StepOperation`]), for which step of
//! which Rollout ([`StepCall`]), and what comes back ([`StepReply`], [`StepError`]). Free of any
//! WIT version, so the controller never depends on one.

use std::fmt;
use std::time::Duration;

use crate::failure::Failure;

/// One operation of Argo's step-plugin interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOperation {
    /// Run (or poll) the step.
    Run,
    /// Stop a running step: the rollout was fully promoted past it.
    Terminate,
    /// Undo the step: the rollout was aborted.
    Abort,
}

impl StepOperation {
    /// The operation's name in the WIT, in metrics and in messages.
    pub fn name(self) -> &'static str {
        match self {
            StepOperation::Run => "run",
            StepOperation::Terminate => "terminate",
            StepOperation::Abort => "abort",
        }
    }
}

/// For which step of which Rollout a step plugin is called.
#[derive(Debug, Clone, Copy)]
pub struct StepCall<'a> {
    /// The Rollout's namespace: every Kubernetes call of the plugin is confined to it.
    pub namespace: &'a str,
    /// The Rollout's name.
    pub rollout_name: &'a str,
    /// The Rollout as JSON, as read at the start of the reconcile.
    pub rollout: &'a str,
    /// The step's `plugin.config` as JSON (`null` when absent).
    pub config: &'a str,
    /// The index of the step in `spec.strategy.canary.steps`.
    pub step_index: u32,
    /// The status the step's last `run` kept, if any.
    pub status: Option<&'a str>,
}

/// Where a step stands after a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepPhase {
    /// Not done; call `run` again later.
    Running,
    /// Done.
    Successful,
    /// Done and failed: the rollout aborts.
    Failed,
    /// The plugin could not tell; retried.
    Error,
}

/// A step call's answer, bounded by the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepReply {
    /// Where the step stands.
    pub phase: StepPhase,
    /// The plugin's message (at most 1024 bytes).
    pub message: String,
    /// With `Running`: when to call again.
    pub requeue_after: Option<Duration>,
    /// The plugin's state to keep, as JSON text (at most 64 KiB); `None` keeps the previous one.
    pub status: Option<String>,
}

/// Why a step call has no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepError {
    /// The sandbox ended the call (timeout, memory, trap) or the plugin is unavailable.
    Plugin(Failure),
    /// The plugin answered with an error (its words).
    Step {
        /// The plugin's name.
        plugin: String,
        /// The operation.
        operation: &'static str,
        /// Its message.
        message: String,
    },
}

impl StepError {
    /// The stable reason, as in the call metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            StepError::Plugin(f) => f.reason(),
            StepError::Step { .. } => "step_error",
        }
    }
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepError::Plugin(failure) => write!(f, "{failure}"),
            StepError::Step { plugin, operation, message } => write!(f, "{plugin} {operation}: {message}"),
        }
    }
}

impl std::error::Error for StepError {}

//! Step plugins (Argo's canary `plugin:` steps): the calls the engine's decision asks for
//! ([`aviary_engine::rollout::RolloutDecision::step_plugin_calls`]) made through the plugin host,
//! each in a fresh sandbox with its registry entry's grants, and their answers handed back to the
//! engine. Nothing is decided here: what an answer does to the rollout is the engine's.

use std::sync::Arc;

use aviary_api::Rollout;
use aviary_api::rollout_status::{StepPluginOperation, StepPluginPhase};
use aviary_engine::step_plugin::{Answer, Call, CallAnswer, Outcome};
use aviary_plugins::kubernetes::KubernetesApi;
use aviary_plugins::{Failure, StepCall, StepError, StepOperation, StepPhase};
use chrono::{SubsecRound, Utc};
use kube::ResourceExt;

use crate::context::Context;
use crate::error::Error;

/// Makes `calls` in order. A call whose plugin is unavailable ends the list there (Argo stops its
/// abort loop at a plugin it cannot resolve); the engine treats the calls after it as not made.
pub async fn call(ctx: &Context, rollout: &Rollout, calls: &[Call]) -> Result<Vec<CallAnswer>, Error> {
    let json = serde_json::to_string(rollout).map_err(Error::serde("serialising the Rollout for its step plugins"))?;
    let namespace = rollout.namespace().unwrap_or_default();
    let name = rollout.name_any();
    let api: Arc<dyn KubernetesApi> = ctx.kube_access.clone();
    let mut answers = Vec::with_capacity(calls.len());
    for c in calls {
        let outcome = if ctx.plugins.step_disabled(&c.name) {
            Outcome::Disabled
        } else {
            let config = c.config.to_string();
            let status = c.status.as_ref().map(serde_json::Value::to_string);
            let call = StepCall {
                namespace: &namespace,
                rollout_name: &name,
                rollout: &json,
                config: &config,
                step_index: u32::try_from(c.index).unwrap_or_default(),
                status: status.as_deref(),
            };
            let operation = match c.operation {
                StepPluginOperation::Run => StepOperation::Run,
                StepPluginOperation::Terminate => StepOperation::Terminate,
                StepPluginOperation::Abort => StepOperation::Abort,
            };
            let reply = ctx.plugins.step(&c.name, call, operation, api.clone()).await;
            outcome(reply, c)
        };
        if let Outcome::Answered(Answer::Error(e)) = &outcome {
            tracing::warn!(plugin = %c.name, step = c.index, operation = ?c.operation, "step plugin call failed: {e}");
        }
        let stop = matches!(outcome, Outcome::Unavailable(_));
        // Kubernetes times are whole seconds: the entry's times are what the next reconcile reads.
        answers.push(CallAnswer { index: c.index, operation: c.operation, outcome, at: Utc::now().trunc_subsecs(0) });
        if stop {
            break;
        }
    }
    Ok(answers)
}

/// The engine's form of a host answer. The contract's `status: none` keeps the status the call
/// was given.
fn outcome(reply: Result<aviary_plugins::StepReply, StepError>, call: &Call) -> Outcome {
    match reply {
        Ok(r) => {
            let status = match r.status.as_deref().map(serde_json::from_str) {
                None => call.status.clone(),
                Some(Ok(v)) => Some(v),
                // The host only passes JSON on; never trust that silently.
                Some(Err(e)) => {
                    return Outcome::Answered(Answer::Error(format!("{}: status is not JSON: {e}", call.name)));
                }
            };
            Outcome::Answered(Answer::Result {
                phase: match r.phase {
                    StepPhase::Running => StepPluginPhase::Running,
                    StepPhase::Successful => StepPluginPhase::Successful,
                    StepPhase::Failed => StepPluginPhase::Failed,
                    StepPhase::Error => StepPluginPhase::Error,
                },
                message: r.message,
                requeue_after: r.requeue_after,
                status,
            })
        }
        Err(StepError::Plugin(Failure::Unavailable { detail })) => Outcome::Unavailable(detail),
        Err(e) => Outcome::Answered(Answer::Error(e.to_string())),
    }
}

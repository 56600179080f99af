//! {{name}}: an Aviary step plugin, run by a canary step `plugin: {name: acme/{{name}}}`. It is an
//! approval gate: the rollout waits at the step until the ConfigMap `<rollout>-approval` (or the
//! one named by `configMap`) in the Rollout's namespace says `approved: "true"`, and is aborted
//! if it says `approved: "false"`. Change `run` to wait for your own condition.
//!
//! Every call runs in a fresh sandbox: no files, no environment, no sockets. What the step must
//! remember between calls goes into the status of its answer, which the controller keeps in the
//! Rollout and hands back in `ctx.status`. Kubernetes objects are read through `ctx.cluster`, in
//! the Rollout's namespace only, and only the kinds and verbs of the registry entry's
//! `kubernetes:` grants: list them in `GRANTS`, which the tests hold the step to.

use std::time::Duration;

use aviary_plugin_sdk::duration::parse_go_duration;
use aviary_plugin_sdk::export_step;
use aviary_plugin_sdk::kubernetes::{Grant, ObjectRef, Verb};
use aviary_plugin_sdk::step::{Context, Error, Step, StepResult, log};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The Kubernetes grants the step needs: copy them into its registry entry.
pub const GRANTS: &[Grant] = &[Grant { api_group: "", kinds: &["ConfigMap"], verbs: &[Verb::Get] }];

/// The configuration: the step's `plugin.config` in the Rollout (may be left out).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Config {
    /// The ConfigMap to read; `<rollout>-approval` when empty.
    pub config_map: String,
    /// How long to wait between checks, as a Go duration (`30s` when empty).
    pub interval: String,
}

/// What the step keeps between calls.
#[derive(Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// How many times the ConfigMap was checked.
    pub checks: u32,
}

struct Approval;

impl Step for Approval {
    type Config = Config;

    fn run(ctx: &Context<'_>, config: Config) -> Result<StepResult, Error> {
        let interval = match config.interval.as_str() {
            "" => Duration::from_secs(30),
            text => {
                let nanos = parse_go_duration(text).map_err(|e| Error::msg(format!("invalid config: interval: {e}")))?;
                Duration::from_nanos(u64::try_from(nanos).unwrap_or(0))
            }
        };
        let name = match config.config_map.as_str() {
            "" => format!("{}-approval", ctx.rollout_name),
            name => name.to_string(),
        };
        let mut state: State = ctx.status_as()?.unwrap_or_default();
        state.checks += 1;
        let status = serde_json::to_value(&state)?;
        let config_map = ObjectRef::new("v1", "ConfigMap", name.as_str());
        let approved = match ctx.cluster.get(&config_map) {
            Ok(object) => object.pointer("/data/approved").and_then(Value::as_str).map(str::to_string),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(Error::msg(format!("{config_map}: {e}"))),
        };
        match approved.as_deref() {
            Some("true") => {
                log::info(&format!("{} approved by {config_map}", ctx.rollout_name));
                Ok(StepResult::successful().with_message(format!("approved by {config_map}")).with_status(status))
            }
            Some("false") => Ok(StepResult::failed(format!("rejected by {config_map}")).with_status(status)),
            _ => Ok(StepResult::running(Some(interval))
                .with_message(format!("waiting for approved: \"true\" in {config_map} (check {})", state.checks))
                .with_status(status)),
        }
    }
}

export_step!(Approval);

#[cfg(test)]
mod tests {
    use super::*;
    use aviary_plugin_sdk::kubernetes::fake::FakeCluster;
    use aviary_plugin_sdk::step::Phase;
    use serde_json::json;

    fn rollout() -> Value {
        json!({"metadata": {"name": "web", "namespace": "shop", "uid": "web-uid"}})
    }

    fn approval(value: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-approval"}, "data": {"approved": value}})
    }

    #[test]
    fn the_step_waits_until_approved_counting_its_checks() {
        // The fake allows only what GRANTS allow, as the host does with the registry entry.
        let cluster = FakeCluster::new("shop").granting(GRANTS);
        let first = Approval::run(&Context::new(rollout(), &cluster), Config::default()).unwrap();
        assert_eq!((first.phase, first.requeue_after), (Phase::Running, Some(Duration::from_secs(30))));
        assert_eq!(first.status, Some(json!({"checks": 1})));
        // The controller hands the status back on the next call.
        let ctx = Context::new(rollout(), &cluster).with_status(first.status);
        let config = Config { interval: "10s".into(), ..Config::default() };
        let second = Approval::run(&ctx, config).unwrap();
        assert_eq!((second.phase, second.requeue_after), (Phase::Running, Some(Duration::from_secs(10))));
        assert_eq!(second.status, Some(json!({"checks": 2})));
        cluster.insert(approval("true"));
        let done = Approval::run(&Context::new(rollout(), &cluster), Config::default()).unwrap();
        assert_eq!(done.phase, Phase::Successful);
        assert_eq!(done.message, "approved by ConfigMap \"web-approval\"");
        assert_eq!(cluster.verbs(), [Verb::Get, Verb::Get, Verb::Get]);
    }

    #[test]
    fn a_rejection_fails_the_step() {
        let cluster = FakeCluster::new("shop").granting(GRANTS).with(approval("false"));
        let result = Approval::run(&Context::new(rollout(), &cluster), Config::default()).unwrap();
        assert_eq!((result.phase, result.message.as_str()), (Phase::Failed, "rejected by ConfigMap \"web-approval\""));
    }

    #[test]
    fn a_bad_interval_is_an_error_naming_the_field() {
        let cluster = FakeCluster::new("shop").granting(GRANTS);
        let config = Config { interval: "soon".into(), ..Config::default() };
        let err = Approval::run(&Context::new(rollout(), &cluster), config).unwrap_err();
        assert!(err.0.starts_with("invalid config: interval: "), "{err}");
    }
}

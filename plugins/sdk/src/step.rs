//! Step plugins: the [`Step`] trait and the glue that exports it as the `step` world of
//! `aviary:plugin@0.2.0` (feature `step`).
//!
//! A step plugin is what a canary step `plugin: {name, config}` runs, as Argo Rollouts' step
//! plugins are. The controller calls [`Step::run`] when the rollout reaches the step, and again
//! after the requested delay for as long as it answers [`Phase::Running`]; [`Phase::Successful`]
//! moves the rollout on, [`Phase::Failed`] aborts it. When the rollout is promoted past a running
//! step the controller calls [`Step::terminate`]; when it is aborted, [`Step::abort`] for every
//! step plugin that ran, the latest first.
//!
//! ```ignore
//! use std::time::Duration;
//! use aviary_plugin_sdk::step::{Context, Error, Step, StepResult};
//! use aviary_plugin_sdk::{export_step, http};
//!
//! #[derive(serde::Deserialize)]
//! struct Config { url: String }
//!
//! struct Ready;
//! impl Step for Ready {
//!     type Config = Config;
//!     fn run(_ctx: &Context<'_>, config: Config) -> Result<StepResult, Error> {
//!         match http::Request::get(&config.url).send() {
//!             Ok(r) if r.is_success() => Ok(StepResult::successful()),
//!             _ => Ok(StepResult::running(Some(Duration::from_secs(15)))),
//!         }
//!     }
//! }
//! export_step!(Ready);
//! ```
//!
//! Every call runs in a fresh sandboxed instance: what a step needs to remember between `run`
//! calls (attempts made, when it started, the id of what it created) goes into its
//! [`StepResult::with_status`], which the controller keeps in the Rollout's
//! `status.canary.stepPluginStatuses` and hands back in [`Context::status`]. The status is
//! bounded by the host (64 KiB of JSON); keep it small.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::kubernetes::{self, Cluster};

/// Bindings generated from `wit/v0.2` for the `step` world. Public so that
/// [`crate::export_step!`] can name them from the plugin's crate; not meant for direct use.
#[doc(hidden)]
#[allow(missing_docs, clippy::too_many_arguments)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/v0.2",
        world: "step",
        pub_export_macro: true,
        export_macro_name: "__aviary_export_step",
        default_bindings_module: "aviary_plugin_sdk::step::bindings",
    });
}

use bindings::aviary::plugin::steps as wit;

/// The contract version of the `step` world this SDK builds against.
pub const CONTRACT_VERSION: &str = "0.2.0";

/// Why a step call has no answer. The controller records the message on the step
/// (`stepPluginStatuses[].message`) with phase `Error` and calls `run` again after 30 s, as Argo
/// does with a plugin's `RpcError`: use it for what may pass (a config the user is fixing, an API
/// that is down), and [`StepResult::failed`] for a verdict.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Error(pub String);

impl Error {
    /// An error with the given message.
    pub fn msg(message: impl std::fmt::Display) -> Self {
        Error(message.to_string())
    }
}

impl From<kubernetes::Error> for Error {
    fn from(e: kubernetes::Error) -> Self {
        Error(e.to_string())
    }
}

impl From<crate::http::Error> for Error {
    fn from(e: crate::http::Error) -> Self {
        Error(e.to_string())
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error(e.to_string())
    }
}

/// Where a step stands after a call; the meaning of each is the WIT's `step-phase`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Not done: `run` is called again after [`StepResult::requeue_after`].
    Running,
    /// Done: the rollout moves to the next step.
    Successful,
    /// Done and failed: the rollout is aborted with the message.
    Failed,
    /// Could not tell: retried in 30 s, like an [`Error`].
    Error,
}

impl Phase {
    /// Argo's name of the phase (`Running`, `Successful`, `Failed`, `Error`), as written in
    /// `stepPluginStatuses[].phase`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Running => "Running",
            Phase::Successful => "Successful",
            Phase::Failed => "Failed",
            Phase::Error => "Error",
        }
    }

    /// The phase of Argo's name, exactly as Argo's `StepPhase.Validate` accepts it (case
    /// matters); anything else is Argo's error text, `phase '<x>' is not valid`.
    pub fn parse(name: &str) -> Result<Phase, String> {
        match name {
            "Running" => Ok(Phase::Running),
            "Successful" => Ok(Phase::Successful),
            "Failed" => Ok(Phase::Failed),
            "Error" => Ok(Phase::Error),
            other => Err(format!("phase '{other}' is not valid")),
        }
    }
}

/// A step call's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct StepResult {
    /// Where the step stands.
    pub phase: Phase,
    /// Shown in `stepPluginStatuses[].message` and, for a failure, in the abort message (the
    /// host cuts it to 1 KiB).
    pub message: String,
    /// With [`Phase::Running`]: when to call `run` again (the controller waits at least 10 s, and
    /// 30 s when none is given, as Argo does).
    pub requeue_after: Option<Duration>,
    /// The state to keep for the next call; `None` keeps the previous one.
    pub status: Option<Value>,
}

impl StepResult {
    fn with_phase(phase: Phase) -> Self {
        Self { phase, message: String::new(), requeue_after: None, status: None }
    }

    /// Not done yet: call `run` again after `requeue_after` (the controller's default when
    /// `None`).
    pub fn running(requeue_after: Option<Duration>) -> Self {
        Self { requeue_after, ..Self::with_phase(Phase::Running) }
    }

    /// Done: the rollout moves on.
    pub fn successful() -> Self {
        Self::with_phase(Phase::Successful)
    }

    /// Done and failed: the rollout aborts, with `message` as the reason. Say what was expected
    /// and what was found.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::with_phase(Phase::Failed).with_message(message)
    }

    /// Could not tell, but with a status to keep (an [`Error`] keeps the previous status).
    pub fn error(message: impl Into<String>) -> Self {
        Self::with_phase(Phase::Error).with_message(message)
    }

    /// The same answer with a message.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// The same answer with a status to keep and hand back in the next call's
    /// [`Context::status`].
    pub fn with_status(mut self, status: Value) -> Self {
        self.status = Some(status);
        self
    }
}

/// What every step call gets: the Rollout, the step, the status kept by the last `run`, and the
/// cluster to act on.
pub struct Context<'a> {
    /// Namespace of the Rollout; every cluster call is confined to it.
    pub namespace: String,
    /// Name of the Rollout.
    pub rollout_name: String,
    /// The whole Rollout (metadata, spec and status) as it stood at the start of the reconcile,
    /// earlier steps' `status.canary.stepPluginStatuses` included.
    pub rollout: Value,
    /// The step's `plugin.name` (one plugin may serve several steps).
    pub plugin_name: String,
    /// The index of the step in `spec.strategy.canary.steps`.
    pub step_index: u32,
    /// For `run`, the status the last `run` of this step returned (`None` at the first call);
    /// for `terminate` and `abort`, the `run` call's.
    pub status: Option<Value>,
    /// Where Kubernetes calls go: the host in the component, a fake in tests.
    pub cluster: &'a dyn Cluster,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("namespace", &self.namespace)
            .field("rollout_name", &self.rollout_name)
            .field("plugin_name", &self.plugin_name)
            .field("step_index", &self.step_index)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl<'a> Context<'a> {
    /// A context for `rollout` (its namespace and name from its metadata), at step 0 of an
    /// unnamed plugin, without status: what tests build, then adjust with the `with_` methods.
    pub fn new(rollout: Value, cluster: &'a dyn Cluster) -> Self {
        let at = |pointer: &str| rollout.pointer(pointer).and_then(Value::as_str).unwrap_or("").to_string();
        Self {
            namespace: at("/metadata/namespace"),
            rollout_name: at("/metadata/name"),
            plugin_name: String::new(),
            step_index: 0,
            status: None,
            rollout,
            cluster,
        }
    }

    /// The same context for the step at `step_index`, run by the plugin named `plugin_name`.
    pub fn with_step(mut self, plugin_name: impl Into<String>, step_index: u32) -> Self {
        self.plugin_name = plugin_name.into();
        self.step_index = step_index;
        self
    }

    /// The same context with the status of a previous `run`.
    pub fn with_status(mut self, status: Option<Value>) -> Self {
        self.status = status;
        self
    }

    /// The Rollout's `metadata.uid` (empty when absent): what names objects the step creates
    /// for this Rollout, so that a later call finds them again.
    pub fn uid(&self) -> &str {
        self.rollout.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or("")
    }

    /// The kept status decoded as the step's own type; `None` at the first call. A status that
    /// does not decode (written by another version of the plugin) is an [`Error`] naming the
    /// field, rather than a silent fresh start.
    pub fn status_as<T: DeserializeOwned>(&self) -> Result<Option<T>, Error> {
        match &self.status {
            None | Some(Value::Null) => Ok(None),
            Some(status) => decode(status.clone()).map(Some).map_err(|e| Error(format!("invalid status: {e}"))),
        }
    }
}

/// A canary step plugin. Implement it for a unit type and export it with
/// [`crate::export_step!`]. Only [`Step::run`] is required: Argo's step plugins that have nothing
/// to stop or undo answer successful to `terminate` and `abort`, as the defaults do.
pub trait Step {
    /// The step's configuration: its `plugin.config`. A config that does not deserialize is an
    /// error naming the field, before the operation is called. An absent config is read as `{}`,
    /// so a config whose fields all have defaults may be left out.
    type Config: DeserializeOwned;

    /// Runs the step, or polls it when it answered [`Phase::Running`] before (then
    /// [`Context::status`] holds what that call kept).
    fn run(ctx: &Context<'_>, config: Self::Config) -> Result<StepResult, Error>;

    /// Stops a running step because the rollout was promoted past it. The answer is recorded,
    /// never retried. The default has nothing to stop.
    fn terminate(ctx: &Context<'_>, config: Self::Config) -> Result<StepResult, Error> {
        let _ = (ctx, config);
        Ok(StepResult::successful())
    }

    /// Undoes what the step did because the rollout was aborted. The answer is recorded, never
    /// retried. The default has nothing to undo.
    fn abort(ctx: &Context<'_>, config: Self::Config) -> Result<StepResult, Error> {
        let _ = (ctx, config);
        Ok(StepResult::successful())
    }
}

/// Logging into the host's logs through the `aviary:plugin/log@0.2.0` import. Natively (in unit
/// tests) lines go to stderr.
pub mod log {
    world_log!();
}

/// Decodes `value` as `T`, naming the path of the field that does not fit
/// (`expectedStatus[1]: invalid type: string "x", expected u16`).
fn decode<T: DeserializeOwned>(value: Value) -> Result<T, String> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." { inner.to_string() } else { format!("{path}: {inner}") }
    })
}

/// A step's config from the JSON the host hands it: `null` (no `config:` in the step) is read
/// as `{}` when the type does not take `null`, and a config that does not deserialize is
/// `invalid config: <field>: <why>`.
pub fn parse_config<C: DeserializeOwned>(config: &str) -> Result<C, Error> {
    let value: Value = serde_json::from_str(config).map_err(|e| Error(format!("invalid config: {e}")))?;
    let result = match value {
        Value::Null => decode(Value::Null).or_else(|_| decode(Value::Object(serde_json::Map::new()))),
        value => decode(value),
    };
    result.map_err(|e| Error(format!("invalid config: {e}")))
}

// ---- export glue ----

fn call<S: Step>(
    ctx: wit::StepContext,
    f: impl FnOnce(&Context<'_>, S::Config) -> Result<StepResult, Error>,
) -> Result<wit::StepResult, String> {
    let rollout: Value =
        serde_json::from_str(&ctx.rollout).map_err(|e| format!("invalid Rollout JSON from the host: {e}"))?;
    let status = match ctx.status {
        Some(text) => {
            Some(serde_json::from_str::<Value>(&text).map_err(|e| format!("invalid status JSON from the host: {e}"))?)
        }
        None => None,
    };
    let config: S::Config = parse_config(&ctx.config).map_err(|e| e.0)?;
    let host = kubernetes::Host;
    let context = Context {
        namespace: ctx.namespace,
        rollout_name: ctx.rollout_name,
        rollout,
        plugin_name: ctx.plugin_name,
        step_index: ctx.step_index,
        status,
        cluster: &host,
    };
    f(&context, config).map(to_wit).map_err(|e| e.0)
}

fn to_wit(result: StepResult) -> wit::StepResult {
    wit::StepResult {
        phase: match result.phase {
            Phase::Running => wit::StepPhase::Running,
            Phase::Successful => wit::StepPhase::Successful,
            Phase::Failed => wit::StepPhase::Failed,
            Phase::Error => wit::StepPhase::Error,
        },
        message: result.message,
        requeue_after_ms: result.requeue_after.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        status: result.status.map(|s| s.to_string()),
    }
}

/// Runs [`Step::run`] for the exported glue.
#[doc(hidden)]
pub fn run_run<S: Step>(ctx: wit::StepContext) -> Result<wit::StepResult, String> {
    call::<S>(ctx, |c, config| S::run(c, config))
}

/// Runs [`Step::terminate`] for the exported glue.
#[doc(hidden)]
pub fn run_terminate<S: Step>(ctx: wit::StepContext) -> Result<wit::StepResult, String> {
    call::<S>(ctx, |c, config| S::terminate(c, config))
}

/// Runs [`Step::abort`] for the exported glue.
#[doc(hidden)]
pub fn run_abort<S: Step>(ctx: wit::StepContext) -> Result<wit::StepResult, String> {
    call::<S>(ctx, |c, config| S::abort(c, config))
}

/// Exports a [`Step`] implementation as this component's `step` world.
#[macro_export]
macro_rules! export_step {
    ($step:ty) => {
        #[doc(hidden)]
        struct __AviaryStepExport;

        impl $crate::step::bindings::Guest for __AviaryStepExport {
            fn run(
                context: $crate::step::bindings::aviary::plugin::steps::StepContext,
            ) -> ::std::result::Result<$crate::step::bindings::aviary::plugin::steps::StepResult, ::std::string::String>
            {
                $crate::step::run_run::<$step>(context)
            }
            fn terminate(
                context: $crate::step::bindings::aviary::plugin::steps::StepContext,
            ) -> ::std::result::Result<$crate::step::bindings::aviary::plugin::steps::StepResult, ::std::string::String>
            {
                $crate::step::run_terminate::<$step>(context)
            }
            fn abort(
                context: $crate::step::bindings::aviary::plugin::steps::StepContext,
            ) -> ::std::result::Result<$crate::step::bindings::aviary::plugin::steps::StepResult, ::std::string::String>
            {
                $crate::step::run_abort::<$step>(context)
            }
        }

        $crate::step::bindings::__aviary_export_step!(__AviaryStepExport with_types_in $crate::step::bindings);
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Config {
        url: String,
        #[serde(default)]
        expected_status: Vec<u16>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    struct Optional {
        r#return: String,
    }

    #[test]
    fn config_errors_name_the_field() {
        let missing = parse_config::<Config>("{}").unwrap_err().0;
        assert!(missing.starts_with("invalid config: missing field `url`"), "{missing}");
        let wrong = parse_config::<Config>(r#"{"url": "u", "expectedStatus": [200, "x"]}"#).unwrap_err().0;
        assert!(wrong.starts_with("invalid config: expectedStatus[1]: invalid type: string \"x\""), "{wrong}");
        let absent = parse_config::<Config>("null").unwrap_err().0;
        assert!(absent.starts_with("invalid config: missing field `url`"), "{absent}");
        assert!(parse_config::<Config>("not json").unwrap_err().0.starts_with("invalid config: "));
    }

    #[test]
    fn an_absent_config_is_an_empty_object() {
        assert_eq!(parse_config::<Optional>("null").unwrap().r#return, "");
        assert_eq!(parse_config::<Value>("null").unwrap(), Value::Null);
        let config = parse_config::<Config>(r#"{"url":"u","expectedStatus":[204]}"#).unwrap();
        assert_eq!((config.url.as_str(), config.expected_status.as_slice()), ("u", &[204][..]));
    }

    #[test]
    fn phases_parse_as_argo_validates_them() {
        for phase in [Phase::Running, Phase::Successful, Phase::Failed, Phase::Error] {
            assert_eq!(Phase::parse(phase.as_str()), Ok(phase));
        }
        assert_eq!(Phase::parse("successful"), Err("phase 'successful' is not valid".to_string()));
    }

    #[test]
    fn results_convert_to_the_wit() {
        let running = to_wit(StepResult::running(Some(Duration::from_secs(17))).with_status(json!({"n": 1})));
        assert_eq!(running.phase, wit::StepPhase::Running);
        assert_eq!(running.requeue_after_ms, Some(17_000));
        assert_eq!(running.status.as_deref(), Some(r#"{"n":1}"#));
        let failed = to_wit(StepResult::failed("expected 200, got 503"));
        assert_eq!(
            (failed.phase, failed.message.as_str(), failed.status),
            (wit::StepPhase::Failed, "expected 200, got 503", None)
        );
        assert_eq!(to_wit(StepResult::successful().with_message("ok")).message, "ok");
        assert_eq!(to_wit(StepResult::error("e")).phase, wit::StepPhase::Error);
    }

    struct Echo;
    impl Step for Echo {
        type Config = Optional;
        fn run(ctx: &Context<'_>, config: Optional) -> Result<StepResult, Error> {
            if config.r#return == "error" {
                return Err(Error::msg("asked to fail"));
            }
            let count = ctx.status_as::<Value>()?.and_then(|s| s["count"].as_u64()).unwrap_or(0);
            Ok(StepResult::running(None)
                .with_message(format!(
                    "{}/{} {} step {}",
                    ctx.namespace, ctx.rollout_name, ctx.plugin_name, ctx.step_index
                ))
                .with_status(json!({"count": count + 1})))
        }
    }

    fn context(config: &str, status: Option<&str>) -> wit::StepContext {
        wit::StepContext {
            namespace: "ns".into(),
            rollout_name: "web".into(),
            rollout: r#"{"metadata":{"name":"web","namespace":"ns"}}"#.into(),
            plugin_name: "acme/echo".into(),
            config: config.into(),
            step_index: 2,
            status: status.map(str::to_string),
        }
    }

    #[test]
    fn the_glue_hands_the_step_its_context_and_status() {
        let first = run_run::<Echo>(context("null", None)).unwrap();
        assert_eq!(first.message, "ns/web acme/echo step 2");
        assert_eq!(first.status.as_deref(), Some(r#"{"count":1}"#));
        let second = run_run::<Echo>(context("{}", first.status.as_deref())).unwrap();
        assert_eq!(second.status.as_deref(), Some(r#"{"count":2}"#));
        assert_eq!(run_run::<Echo>(context(r#"{"return":"error"}"#, None)).unwrap_err(), "asked to fail");
        let bad = run_run::<Echo>(context(r#"{"return":5}"#, None)).unwrap_err();
        assert!(bad.starts_with("invalid config: return: invalid type: integer `5`"), "{bad}");
        assert_eq!(run_terminate::<Echo>(context("{}", None)).unwrap().phase, wit::StepPhase::Successful);
        assert_eq!(run_abort::<Echo>(context("{}", Some("{}"))).unwrap().phase, wit::StepPhase::Successful);
    }

    #[test]
    fn a_status_that_does_not_decode_names_the_field() {
        #[derive(Debug, Deserialize)]
        struct State {
            #[allow(dead_code)]
            count: u32,
        }
        let cluster = NoCluster;
        let ctx = Context::new(json!({}), &cluster).with_status(Some(json!({"count": "x"})));
        let err = ctx.status_as::<State>().unwrap_err().0;
        assert!(err.starts_with("invalid status: count: invalid type: string \"x\""), "{err}");
        assert!(Context::new(json!({}), &cluster).status_as::<State>().unwrap().is_none());
    }

    /// A cluster for tests that make no Kubernetes call (the fake needs the `testing` feature).
    struct NoCluster;
    impl Cluster for NoCluster {
        fn get(&self, o: &kubernetes::ObjectRef) -> Result<Value, kubernetes::Error> {
            Err(kubernetes::Error::NotFound(o.to_string()))
        }
        fn list(&self, _: &str, _: &str, _: Option<&str>) -> Result<Vec<Value>, kubernetes::Error> {
            Ok(Vec::new())
        }
        fn create(&self, _: &Value) -> Result<Value, kubernetes::Error> {
            Err(kubernetes::Error::Denied("no cluster".into()))
        }
        fn patch(
            &self,
            o: &kubernetes::ObjectRef,
            _: kubernetes::PatchType,
            _: &Value,
        ) -> Result<Value, kubernetes::Error> {
            Err(kubernetes::Error::NotFound(o.to_string()))
        }
        fn delete(&self, o: &kubernetes::ObjectRef) -> Result<(), kubernetes::Error> {
            Err(kubernetes::Error::NotFound(o.to_string()))
        }
    }
}

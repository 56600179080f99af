//! A test-only step plugin: Argo Rollouts' e2e step plugin
//! (`test/cmd/step-plugin-e2e/internal/plugin/plugin.go`), so that Argo's step-plugin scenarios
//! run against Aviary unchanged, plus hostile modes that prove a misbehaving step costs one
//! failed call and never the controller.
//!
//! As Argo's, its config keys are matched case-insensitively (Go's `encoding/json`) and nested:
//! `{return, requeue, abort: {return}, terminate: {return}}`.
//!
//! - `run` decodes its state `{Data, Count}` from the kept status, sets `Data` to a new UUID when
//!   empty, adds 1 to `Count`, and answers the phase `return` (default `Successful`; anything but
//!   Argo's four names is the error `could not parse phase: phase '<x>' is not valid`) with
//!   requeue `requeue` (a Go duration) and the state as its status, in Go's field names
//!   (`{"Data":"…","Count":1}`). The message is always empty.
//! - `terminate` and `abort` answer `terminate.return` and `abort.return` (default
//!   `Successful`) with the state they were given, unchanged.
//!
//! The UUID comes from WASI's random source (the host's sandbox provides one, as it does a
//! wall clock), through the standard library's hash seeds: a fresh instance per call gets fresh
//! seeds, so two Rollouts never share an id.
//!
//! The config key `hostile` (ours, which Argo's plugin would ignore) makes every operation
//! misbehave:
//!
//! | value         | what the operation does                                               |
//! |---------------|-----------------------------------------------------------------------|
//! | `loop`        | spins forever (the host's deadline must stop it)                      |
//! | `panic`       | panics with `the step panicked on purpose`                             |
//! | `memory`      | allocates until the memory cap stops it                               |
//! | `huge-status` | answers normally, with a status of [`HUGE_STATUS_BYTES`] bytes of JSON |
//! | `bad-status`  | answers normally, with a status that is not JSON                      |

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use aviary_plugin_sdk::duration::parse_go_duration;
use aviary_plugin_sdk::step::bindings::aviary::plugin::steps::{StepContext, StepResult as WitStepResult};
use aviary_plugin_sdk::step::{self, Context, Error, Phase, Step, StepResult, log};
use serde_json::{Map, Value, json};

/// The size of the status of `hostile: huge-status`: over the host's cap of 64 KiB.
pub const HUGE_STATUS_BYTES: usize = 100_000;

/// Argo's e2e plugin's config (`Config`, with `Abort` and `Terminate` flattened).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct E2eConfig {
    /// `return`: the phase `run` answers.
    pub return_phase: String,
    /// `requeue`: the Go duration `run` asks to be called again after.
    pub requeue: String,
    /// `abort.return`: the phase `abort` answers.
    pub abort_return: String,
    /// `terminate.return`: the phase `terminate` answers.
    pub terminate_return: String,
}

/// Argo's e2e plugin's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// A unique id, set by the first `run`.
    pub data: String,
    /// How many times `run` was called.
    pub count: i64,
}

impl State {
    /// The state as Go's `json.Marshal` writes it: Go's field names, in declaration order.
    pub fn to_json(&self) -> Value {
        json!({"Data": self.data, "Count": self.count})
    }
}

/// A field as Go's `encoding/json` finds it: the exact name, or else one equal ignoring case.
fn field<'v>(object: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    object.get(name).or_else(|| object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
}

/// Go's name of a JSON value's kind, for its unmarshal errors.
fn go_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn mismatch(value: &Value, field: &str, go_type: &str) -> String {
    format!("json: cannot unmarshal {} into Go struct field {field} of type {go_type}", go_kind(value))
}

/// An object field of a Go struct: `null` or absent leaves it zero.
fn object<'v>(value: &'v Value, path: &str, go_type: &str) -> Result<Option<&'v Map<String, Value>>, String> {
    match value {
        Value::Null => Ok(None),
        Value::Object(map) => Ok(Some(map)),
        other if path.is_empty() => {
            Err(format!("json: cannot unmarshal {} into Go value of type {go_type}", go_kind(other)))
        }
        other => Err(mismatch(other, path, go_type)),
    }
}

fn string(map: &Map<String, Value>, name: &str, path: &str) -> Result<String, String> {
    match field(map, name) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(mismatch(other, path, "string")),
    }
}

/// The nested `{return}` of `abort` or `terminate`.
fn nested_return(map: &Map<String, Value>, name: &str, go_name: &str) -> Result<String, String> {
    let Some(value) = field(map, name) else { return Ok(String::new()) };
    match object(value, &format!("Config.{go_name}"), &format!("plugin.{go_name}"))? {
        Some(inner) => string(inner, "return", &format!("Config.{go_name}.Return")),
        None => Ok(String::new()),
    }
}

/// Decodes the config as Argo's plugin does (`json.Unmarshal` into its `Config`); an error is
/// Argo's `could not unmarshal config: <Go's error>`.
pub fn parse_config(config: &Value) -> Result<E2eConfig, Error> {
    let decode = || -> Result<E2eConfig, String> {
        let Some(map) = object(config, "", "plugin.Config")? else { return Ok(E2eConfig::default()) };
        Ok(E2eConfig {
            return_phase: string(map, "return", "Config.Return")?,
            requeue: string(map, "requeue", "Config.Requeue")?,
            abort_return: nested_return(map, "abort", "Abort")?,
            terminate_return: nested_return(map, "terminate", "Terminate")?,
        })
    };
    decode().map_err(|e| Error(format!("could not unmarshal config: {e}")))
}

/// Decodes the kept status into the state as Argo's plugin does; an error is Argo's
/// `could not unmarshal status: <Go's error>`.
pub fn parse_state(status: Option<&Value>) -> Result<State, Error> {
    let decode = || -> Result<State, String> {
        let Some(map) = status.map(|s| object(s, "", "plugin.State")).transpose()?.flatten() else {
            return Ok(State::default());
        };
        let count = match field(map, "count") {
            None | Some(Value::Null) => 0,
            Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64().unwrap_or_default(),
            Some(Value::Number(n)) => {
                return Err(format!("json: cannot unmarshal number {n} into Go struct field State.Count of type int"));
            }
            Some(other) => return Err(mismatch(other, "State.Count", "int")),
        };
        Ok(State { data: string(map, "data", "State.Data")?, count })
    };
    decode().map_err(|e| Error(format!("could not unmarshal status: {e}")))
}

/// The phase of a `return` field: `Successful` when empty, Argo's error when not one of the
/// four names.
fn phase(name: &str) -> Result<Phase, Error> {
    if name.is_empty() {
        return Ok(Phase::Successful);
    }
    Phase::parse(name).map_err(|e| Error(format!("could not parse phase: {e}")))
}

/// A version-4 UUID (`xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`) from the standard library's random
/// hash seeds, which come from WASI's random source in the component and the OS's natively.
pub fn new_uuid() -> String {
    let random = || RandomState::new().build_hasher().finish();
    let (hi, lo) = (random(), random());
    let bytes: u128 = (u128::from(hi) << 64) | u128::from(lo);
    // Version 4 and the RFC 4122 variant.
    let bytes = (bytes & !(0xF << 76)) | (0x4 << 76);
    let bytes = (bytes & !(0x3 << 62)) | (0x2 << 62);
    let hex = format!("{bytes:032x}");
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

fn result(state: &State, phase: Phase, requeue: Option<Duration>) -> StepResult {
    StepResult { phase, message: String::new(), requeue_after: requeue, status: Some(state.to_json()) }
}

/// Argo's e2e step plugin.
pub struct E2e;

impl Step for E2e {
    type Config = Value;

    fn run(ctx: &Context<'_>, config: Value) -> Result<StepResult, Error> {
        log::info(&format!("Run plugin for rollout {}/{}", ctx.namespace, ctx.rollout_name));
        let config = parse_config(&config)?;
        let mut state = parse_state(ctx.status.as_ref())?;
        if state.data.is_empty() {
            state.data = new_uuid();
        }
        state.count = state.count.saturating_add(1);
        let requeue = if config.requeue.is_empty() {
            None
        } else {
            let nanos = parse_go_duration(&config.requeue)
                .map_err(|e| Error(format!("could not parse requeue duration: {e}")))?;
            // Go's time.Duration may be negative; the WIT's requeue may not: none then.
            u64::try_from(nanos).ok().map(Duration::from_nanos)
        };
        Ok(result(&state, phase(&config.return_phase)?, requeue))
    }

    fn terminate(ctx: &Context<'_>, config: Value) -> Result<StepResult, Error> {
        log::info(&format!("Terminate plugin for rollout {}/{}", ctx.namespace, ctx.rollout_name));
        let config = parse_config(&config)?;
        let state = parse_state(ctx.status.as_ref())?;
        Ok(result(&state, phase(&config.terminate_return)?, None))
    }

    fn abort(ctx: &Context<'_>, config: Value) -> Result<StepResult, Error> {
        log::info(&format!("Abort plugin for rollout {}/{}", ctx.namespace, ctx.rollout_name));
        let config = parse_config(&config)?;
        let state = parse_state(ctx.status.as_ref())?;
        Ok(result(&state, phase(&config.abort_return)?, None))
    }
}

/// The `hostile` mode of a config (empty when none), found as Argo's keys are.
pub fn hostile_mode(config: &str) -> String {
    match serde_json::from_str::<Value>(config) {
        Ok(Value::Object(map)) => field(&map, "hostile").and_then(Value::as_str).unwrap_or("").to_string(),
        _ => String::new(),
    }
}

/// Runs one operation under the config's hostile mode.
fn guarded(
    ctx: StepContext,
    operation: fn(StepContext) -> Result<WitStepResult, String>,
) -> Result<WitStepResult, String> {
    let mode = hostile_mode(&ctx.config);
    match mode.as_str() {
        "" | "huge-status" | "bad-status" => {}
        "loop" => {
            log::info("looping forever");
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        "panic" => panic!("the step panicked on purpose"),
        "memory" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![0xA5; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        other => return Err(format!("unknown hostile mode {other:?}")),
    }
    let mut answer = operation(ctx)?;
    match mode.as_str() {
        "huge-status" => answer.status = Some(json!({"Data": "x".repeat(HUGE_STATUS_BYTES)}).to_string()),
        "bad-status" => answer.status = Some("{not json".to_string()),
        _ => {}
    }
    Ok(answer)
}

/// The component's exports: the SDK's glue for [`E2e`], behind the hostile modes (which need
/// to answer what the SDK's types cannot express, such as a status that is not JSON).
struct Export;

impl step::bindings::Guest for Export {
    fn run(context: StepContext) -> Result<WitStepResult, String> {
        guarded(context, step::run_run::<E2e>)
    }

    fn terminate(context: StepContext) -> Result<WitStepResult, String> {
        guarded(context, step::run_terminate::<E2e>)
    }

    fn abort(context: StepContext) -> Result<WitStepResult, String> {
        guarded(context, step::run_abort::<E2e>)
    }
}

step::bindings::__aviary_export_step!(Export with_types_in aviary_plugin_sdk::step::bindings);

#[cfg(test)]
mod tests {
    use super::*;
    use aviary_plugin_sdk::step::bindings::aviary::plugin::steps::StepPhase;

    fn context(config: Value, status: Option<Value>) -> StepContext {
        StepContext {
            namespace: "ns".into(),
            rollout_name: "step-plugin-e2e-x".into(),
            rollout: r#"{"metadata":{"name":"step-plugin-e2e-x","namespace":"ns"}}"#.into(),
            plugin_name: "step/e2e-test".into(),
            config: config.to_string(),
            step_index: 1,
            status: status.map(|s| s.to_string()),
        }
    }

    fn status(answer: &WitStepResult) -> Value {
        serde_json::from_str(answer.status.as_deref().unwrap()).unwrap()
    }

    #[test]
    fn run_answers_the_configured_phase_and_counts() {
        let first = Export::run_for_test(context(json!({"Return": "Running", "REQUEUE": "17s"}), None)).unwrap();
        assert_eq!(first.phase, StepPhase::Running);
        assert_eq!(first.requeue_after_ms, Some(17_000));
        assert_eq!(first.message, "");
        let kept = status(&first);
        assert_eq!(kept["Count"], 1);
        let id = kept["Data"].as_str().unwrap().to_string();
        assert_eq!((id.len(), &id[14..15]), (36, "4"), "{id}");
        let second = Export::run_for_test(context(json!({"return": "Running"}), Some(kept))).unwrap();
        assert_eq!(status(&second), json!({"Data": id, "Count": 2}));
        assert_eq!(second.requeue_after_ms, None);
        let done = Export::run_for_test(context(Value::Null, None)).unwrap();
        assert_eq!(done.phase, StepPhase::Successful);
        assert_ne!(status(&done)["Data"], json!(id), "each first run has its own id");
    }

    #[test]
    fn errors_are_argos() {
        let cases = [
            (
                json!({"return": "invalidPhaseCausingPluginError"}),
                None,
                "could not parse phase: phase 'invalidPhaseCausingPluginError' is not valid",
            ),
            (json!({"requeue": "soon"}), None, "could not parse requeue duration: time: invalid duration \"soon\""),
            (
                json!({"return": 5}),
                None,
                "could not unmarshal config: json: cannot unmarshal number into Go struct field Config.Return of type string",
            ),
            (
                json!("x"),
                None,
                "could not unmarshal config: json: cannot unmarshal string into Go value of type plugin.Config",
            ),
            (
                json!({}),
                Some(json!({"Count": "x"})),
                "could not unmarshal status: json: cannot unmarshal string into Go struct field State.Count of type int",
            ),
            (json!({"hostile": "other"}), None, "unknown hostile mode \"other\""),
        ];
        for (config, kept, expected) in cases {
            assert_eq!(Export::run_for_test(context(config.clone(), kept)).unwrap_err(), expected, "{config}");
        }
    }

    #[test]
    fn terminate_and_abort_answer_their_phases_with_the_state_unchanged() {
        let kept = json!({"Data": "d", "Count": 3});
        let config = json!({"terminate": {"return": "Failed"}, "Abort": {"RETURN": "Running"}});
        let t = Export::terminate_for_test(context(config.clone(), Some(kept.clone()))).unwrap();
        assert_eq!((t.phase, status(&t)), (StepPhase::Failed, kept.clone()));
        let a = Export::abort_for_test(context(config, Some(kept.clone()))).unwrap();
        assert_eq!((a.phase, status(&a), a.requeue_after_ms), (StepPhase::Running, kept.clone(), None));
        let default = Export::abort_for_test(context(json!({}), None)).unwrap();
        assert_eq!((default.phase, status(&default)), (StepPhase::Successful, json!({"Data": "", "Count": 0})));
        let bad = Export::terminate_for_test(context(json!({"terminate": "x"}), None)).unwrap_err();
        assert_eq!(
            bad,
            "could not unmarshal config: json: cannot unmarshal string into Go struct field Config.Terminate of type plugin.Terminate"
        );
    }

    #[test]
    fn hostile_statuses_are_what_the_host_must_refuse() {
        let huge = Export::run_for_test(context(json!({"hostile": "huge-status"}), None)).unwrap();
        let text = huge.status.unwrap();
        assert!(text.len() > HUGE_STATUS_BYTES && text.len() > 64 << 10);
        assert!(serde_json::from_str::<Value>(&text).is_ok(), "valid JSON: only its size is wrong");
        let bad = Export::run_for_test(context(json!({"Hostile": "bad-status"}), None)).unwrap();
        assert!(serde_json::from_str::<Value>(bad.status.as_deref().unwrap()).is_err());
    }

    #[test]
    #[should_panic(expected = "the step panicked on purpose")]
    fn panic_panics() {
        let _ = Export::run_for_test(context(json!({"hostile": "panic"}), None));
    }

    impl Export {
        fn run_for_test(c: StepContext) -> Result<WitStepResult, String> {
            <Export as step::bindings::Guest>::run(c)
        }
        fn terminate_for_test(c: StepContext) -> Result<WitStepResult, String> {
            <Export as step::bindings::Guest>::terminate(c)
        }
        fn abort_for_test(c: StepContext) -> Result<WitStepResult, String> {
            <Export as step::bindings::Guest>::abort(c)
        }
    }
}

//! Step plugins (contract 0.2.0, the `step` world): Argo's e2e step plugin
//! (`aviary_test_step.wasm`) answers through the host exactly as Argo's does, a step that loops,
//! exhausts its memory, panics or answers an oversized or non-JSON status fails its call with a
//! clear reason, and the first-party `aviary/wait-for-http` waits for a loopback endpoint.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use aviary_plugins::registry::RegistryFile;
use aviary_plugins::{Failure, PluginHost, StepCall, StepError, StepOperation, StepPhase, StepReply};
use aviary_test_support::kubernetes_memory::MemoryApi;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};

const TEST_STEP: &str = "aviary_test_step.wasm";

async fn step_host() -> PluginHost {
    let host = common::host();
    let registry = RegistryFile::parse(&format!(
        "plugins:\n\
         - {{name: step/e2e-test, kind: step, location: 'file://{}', timeout: 1s, memoryLimit: 32Mi}}\n",
        common::test_component(TEST_STEP).display(),
    ))
    .unwrap();
    for (name, result) in host.load_registry(&registry).await {
        result.unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    host
}

fn rollout() -> String {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "step-plugin-e2e-a", "namespace": "team-a", "uid": "u1"},
        "spec": {"strategy": {"canary": {"steps": [{"plugin": {"name": "step/e2e-test"}}]}}}
    })
    .to_string()
}

async fn call(
    host: &PluginHost,
    plugin: &str,
    operation: StepOperation,
    config: Value,
    status: Option<&str>,
) -> Result<StepReply, StepError> {
    let rollout = rollout();
    let config = config.to_string();
    let call = StepCall {
        namespace: "team-a",
        rollout_name: "step-plugin-e2e-a",
        rollout: &rollout,
        config: &config,
        step_index: 1,
        status,
    };
    host.step(plugin, call, operation, Arc::new(MemoryApi::default())).await
}

async fn run(host: &PluginHost, config: Value, status: Option<&str>) -> Result<StepReply, StepError> {
    call(host, "step/e2e-test", StepOperation::Run, config, status).await
}

fn status_of(reply: &StepReply) -> Value {
    serde_json::from_str(reply.status.as_deref().expect("a status")).expect("JSON status")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argos_e2e_step_answers_its_phase_requeue_and_counting_status() {
    let host = step_host().await;
    let first = run(&host, json!({"return": "Running", "requeue": "17s"}), None).await.unwrap();
    assert_eq!(first.phase, StepPhase::Running);
    assert_eq!(first.requeue_after, Some(Duration::from_secs(17)));
    assert_eq!(first.message, "");
    let status = status_of(&first);
    assert_eq!(status["Count"], 1);
    let id = status["Data"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36, "a UUID: {id}");

    // The status handed back is counted on: the same id, one more run.
    let second = run(&host, json!({"return": "Running", "requeue": "17s"}), first.status.as_deref()).await.unwrap();
    assert_eq!(status_of(&second), json!({"Data": id, "Count": 2}));

    // Keys are matched case-insensitively; the default phase is Successful, without requeue.
    let done = run(&host, json!({"RETURN": "Successful"}), second.status.as_deref()).await.unwrap();
    assert_eq!((done.phase, done.requeue_after), (StepPhase::Successful, None));
    assert_eq!(status_of(&done)["Count"], 3);
    let default = run(&host, Value::Null, None).await.unwrap();
    assert_eq!(default.phase, StepPhase::Successful);
    assert_ne!(status_of(&default)["Data"], json!(id), "another step's run gets its own id");
    let failed = run(&host, json!({"return": "Failed"}), None).await.unwrap();
    assert_eq!(failed.phase, StepPhase::Failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_phase_is_the_steps_error_in_argos_words() {
    let host = step_host().await;
    let result = run(&host, json!({"return": "invalidPhaseCausingPluginError"}), None).await;
    match result {
        Err(StepError::Step { plugin, operation, message }) => {
            assert_eq!((plugin.as_str(), operation), ("step/e2e-test", "run"));
            assert_eq!(message, "could not parse phase: phase 'invalidPhaseCausingPluginError' is not valid");
        }
        other => panic!("expected the step's error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_and_abort_answer_their_configured_phase_with_the_run_status() {
    let host = step_host().await;
    let kept = r#"{"Data":"d-1","Count":2}"#;
    let config = json!({"terminate": {"return": "Failed"}, "abort": {"return": "Successful"}});
    let terminated = call(&host, "step/e2e-test", StepOperation::Terminate, config.clone(), Some(kept)).await.unwrap();
    assert_eq!(terminated.phase, StepPhase::Failed);
    assert_eq!(status_of(&terminated), json!({"Data": "d-1", "Count": 2}), "not counted: only run counts");
    let aborted = call(&host, "step/e2e-test", StepOperation::Abort, config, Some(kept)).await.unwrap();
    assert_eq!((aborted.phase, aborted.requeue_after), (StepPhase::Successful, None));
    let default = call(&host, "step/e2e-test", StepOperation::Abort, json!({}), None).await.unwrap();
    assert_eq!(default.phase, StepPhase::Successful);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_exploding_or_panicking_step_fails_its_call_and_the_host_carries_on() {
    let host = step_host().await;
    let started = Instant::now();
    let result = run(&host, json!({"hostile": "loop"}), None).await;
    let took = started.elapsed();
    assert!(matches!(&result, Err(StepError::Plugin(Failure::Timeout { .. }))), "{result:?}");
    assert!(took >= Duration::from_secs(1) && took < Duration::from_secs(3), "took {took:?}");

    let result = run(&host, json!({"hostile": "memory"}), None).await;
    assert!(matches!(&result, Err(StepError::Plugin(Failure::MemoryLimit { .. }))), "{result:?}");

    match run(&host, json!({"hostile": "panic"}), None).await {
        Err(StepError::Plugin(Failure::Trap { detail, .. })) => {
            assert!(detail.contains("the step panicked on purpose"), "{detail}");
        }
        other => panic!("expected a trap, got {other:?}"),
    }

    for (mode, why) in [("huge-status", "over the cap"), ("bad-status", "not JSON")] {
        match run(&host, json!({"hostile": mode}), None).await {
            Err(StepError::Plugin(Failure::InvalidValue { detail, .. })) => {
                assert!(detail.contains(why), "{mode}: {detail}")
            }
            other => panic!("{mode}: expected an invalid value, got {other:?}"),
        }
    }

    let after = run(&host, json!({}), None).await;
    assert!(matches!(&after, Ok(r) if r.phase == StepPhase::Successful), "the next call succeeds: {after:?}");
}

/// A health endpoint that answers 503 to its first request and `{"status": "ready"}` after.
async fn health(State(seen): State<Arc<AtomicU32>>) -> (StatusCode, String) {
    if seen.fetch_add(1, Ordering::SeqCst) == 0 {
        (StatusCode::SERVICE_UNAVAILABLE, "starting".into())
    } else {
        (StatusCode::OK, r#"{"status": "ready", "replicas": 3}"#.into())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_http_runs_until_the_endpoint_answers_as_expected() {
    let host = step_host().await;
    let (addr, seen) = common::serve_seen(axum::Router::new().route("/health", get(health))).await;
    let config = json!({
        "url": format!("http://{addr}/health"),
        "jsonPath": "{$.status}",
        "expectedValue": "ready",
        "interval": "15s",
    });
    let first = call(&host, "aviary/wait-for-http", StepOperation::Run, config.clone(), None).await.unwrap();
    assert_eq!(first.phase, StepPhase::Running, "{first:?}");
    assert_eq!(first.requeue_after, Some(Duration::from_secs(15)));
    assert!(first.message.contains("answered 503 Service Unavailable"), "{}", first.message);
    let status = status_of(&first);
    assert_eq!((status["attempts"].clone(), status["lastStatus"].clone()), (json!(1), json!(503)));
    assert!(
        status["firstAttemptAt"].as_str().is_some_and(|t| t.ends_with('Z')),
        "the guest read the wall clock: {status}"
    );

    let second =
        call(&host, "aviary/wait-for-http", StepOperation::Run, config, first.status.as_deref()).await.unwrap();
    assert_eq!(second.phase, StepPhase::Successful, "{second:?}");
    assert!(
        second.message.ends_with("answered 200 OK with {$.status} = \"ready\" after 2 attempts"),
        "{}",
        second.message
    );
    let status = status_of(&second);
    assert_eq!((status["attempts"].clone(), status["lastValue"].clone()), (json!(2), json!("ready")));
    assert_eq!(status["firstAttemptAt"], status_of(&first)["firstAttemptAt"], "the first attempt's time is kept");
    assert_eq!(seen.load(Ordering::SeqCst), 2, "one request per run");

    // Nothing to stop or undo.
    let aborted = call(&host, "aviary/wait-for-http", StepOperation::Abort, json!({"url": "http://x"}), None).await;
    assert_eq!(aborted.unwrap().phase, StepPhase::Successful);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_http_gives_up_after_its_attempts_and_reports_a_denied_host() {
    let host = step_host().await;
    let (addr, _) = common::serve_seen::<Arc<AtomicU32>>(
        axum::Router::new().route("/health", get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "down") })),
    )
    .await;
    let config = json!({"url": format!("http://{addr}/health"), "maxAttempts": 2});
    let first = call(&host, "aviary/wait-for-http", StepOperation::Run, config.clone(), None).await.unwrap();
    assert_eq!(first.phase, StepPhase::Running);
    assert_eq!(first.requeue_after, Some(Duration::from_secs(30)), "the default interval");
    let last = call(&host, "aviary/wait-for-http", StepOperation::Run, config, first.status.as_deref()).await.unwrap();
    assert_eq!(last.phase, StepPhase::Failed);
    assert!(
        last.message.starts_with("gave up after 2 attempts")
            && last.message.contains(&format!(
                "expected a 2xx status, but GET http://{addr}/health answered 503 Service Unavailable"
            )),
        "{}",
        last.message
    );

    // An entry for the first-party step that allows another host only: the step keeps waiting
    // (the entry may be fixed), saying why.
    let restricted = common::host();
    let registry = RegistryFile::parse(
        "plugins: [{name: aviary/wait-for-http, kind: step, location: 'builtin:aviary/wait-for-http', \
         allowedHosts: [example.invalid]}]",
    )
    .unwrap();
    for (name, result) in restricted.load_registry(&registry).await {
        result.unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let config = json!({"url": format!("http://{addr}/health")});
    let denied = call(&restricted, "aviary/wait-for-http", StepOperation::Run, config, None).await.unwrap();
    assert_eq!(denied.phase, StepPhase::Running);
    assert!(denied.message.contains("got no response: denied host: 127.0.0.1"), "{}", denied.message);

    // A config error names the field, as the step's error.
    let result =
        call(&host, "aviary/wait-for-http", StepOperation::Run, json!({"url": "http://x", "interval": "soon"}), None)
            .await;
    assert!(
        matches!(&result, Err(StepError::Step { message, .. }) if message.starts_with("invalid config: interval: ")),
        "{result:?}"
    );
}

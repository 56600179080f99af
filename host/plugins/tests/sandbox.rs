//! Hostile components cost one failed call each, within their deadline, and the host carries on.

mod common;

use std::time::{Duration, Instant};

use aviary_plugins::capability::AllowedHosts;
use aviary_plugins::registry::RegistryFile;
use aviary_plugins::{CallContext, EvalError, Measurement, Phase, PluginHost};

const HOSTILE: &str = "aviary_test_hostile.wasm";
const HOSTILE_CONDITION: &str = "aviary_test_hostile_condition.wasm";

fn ctx() -> CallContext {
    CallContext { namespace: "ns".into(), run_name: "run".into(), metric_name: "m".into(), ..Default::default() }
}

/// A host with the hostile provider registered with a short deadline and a small memory cap.
async fn hostile_host() -> PluginHost {
    let host = common::host();
    let registry = RegistryFile::parse(&format!(
        "plugins:\n\
         - {{name: test/hostile, kind: metric-provider, location: 'file://{}', timeout: 2s, memoryLimit: 32Mi}}\n\
         - {{name: test/hostile-condition, kind: condition, location: 'file://{}', memoryLimit: 16Mi}}\n",
        common::test_component(HOSTILE).display(),
        common::test_component(HOSTILE_CONDITION).display()
    ))
    .unwrap();
    for (name, result) in host.load_registry(&registry).await {
        result.unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    host
}

async fn measure(host: &PluginHost, config: &str) -> (Measurement, Duration) {
    let started = Instant::now();
    let m = host.measure("test/hostile", &ctx(), config).await;
    (m, started.elapsed())
}

/// After any misbehaviour the same host and the same plugin answer the next call correctly.
async fn assert_next_call_succeeds(host: &PluginHost) {
    let (m, _) = measure(host, r#"{"mode": "ok", "value": 42}"#).await;
    assert_eq!(m.phase, Phase::Measured, "{}", m.message);
    assert_eq!(m.value.as_deref(), Some("42"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_loop_times_out_at_the_deadline() {
    let host = hostile_host().await;
    let (m, took) = measure(&host, r#"{"mode": "loop"}"#).await;
    assert_eq!(m.phase, Phase::Error);
    assert!(m.message.starts_with("timeout: plugin \"test/hostile\""), "{}", m.message);
    assert_eq!(m.failure.as_ref().map(|f| f.reason()), Some("timeout"));
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(4), "took {took:?}");
    assert_next_call_succeeds(&host).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_plugin_does_not_block_other_calls() {
    let host = hostile_host().await;
    let looping = {
        let host = host.clone();
        tokio::spawn(async move { measure(&host, r#"{"mode": "loop"}"#).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    // While the loop spins, an honest call completes promptly.
    let (m, took) = measure(&host, r#"{"mode": "ok", "value": 1}"#).await;
    assert_eq!(m.phase, Phase::Measured);
    assert!(took < Duration::from_secs(1), "an honest call waited {took:?} behind a looping one");
    let (looped, _) = looping.await.unwrap();
    assert_eq!(looped.phase, Phase::Error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_bomb_hits_the_memory_limit() {
    let host = hostile_host().await;
    let (m, took) = measure(&host, r#"{"mode": "memory-bomb"}"#).await;
    assert_eq!(m.phase, Phase::Error);
    assert_eq!(m.message, "memory limit: plugin \"test/hostile\" exceeded its 32Mi memory limit");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert_next_call_succeeds(&host).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_is_a_trap_with_the_panic_message() {
    let host = hostile_host().await;
    let (m, _) = measure(&host, r#"{"mode": "panic"}"#).await;
    assert_eq!(m.phase, Phase::Error);
    assert!(m.message.starts_with("trap: plugin \"test/hostile\": the plugin panicked"), "{}", m.message);
    assert!(m.message.contains("the plugin panicked on purpose"), "{}", m.message);
    assert_next_call_succeeds(&host).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_filesystem_is_not_visible() {
    let host = hostile_host().await;
    let secret = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret.path(), "top secret").unwrap();
    for path in [secret.path().to_str().unwrap(), "/etc/hostname", "/"] {
        let (m, _) = measure(&host, &format!(r#"{{"mode": "read-file", "path": "{path}"}}"#)).await;
        assert_eq!(m.phase, Phase::Error, "{path}: {m:?}");
        assert!(m.message.starts_with(&format!("reading {path}: ")), "{}", m.message);
        assert!(!m.message.contains("top secret"));
        assert_eq!(m.value, None);
    }
    assert_next_call_succeeds(&host).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_environment_is_empty() {
    let host = hostile_host().await;
    // The host process has PATH and HOME; the guest must see none of it.
    assert!(std::env::var("PATH").is_ok());
    for var in ["PATH", "HOME", "CARGO_MANIFEST_DIR"] {
        let (m, _) = measure(&host, &format!(r#"{{"mode": "read-env", "variable": "{var}"}}"#)).await;
        assert_eq!(m.phase, Phase::Error);
        assert_eq!(m.message, format!("environment variable {var} not visible (0 visible)"));
    }
    assert_next_call_succeeds(&host).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_not_allowed_is_refused_before_any_connection() {
    let host = hostile_host().await;
    // A real server that would answer: the refusal must come from the allow-list, not from the
    // network.
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    let addr = common::serve(
        "127.0.0.1",
        axum::Router::new().route(
            "/",
            axum::routing::get(move || {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async { "hi" }
            }),
        ),
    )
    .await;
    let (m, _) = measure(&host, &format!(r#"{{"mode": "http", "url": "http://{addr}/"}}"#)).await;
    assert_eq!(m.phase, Phase::Error);
    assert_eq!(m.message, format!("denied host: {addr} is not in the plugin's allowed hosts"));
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    // Granting the host makes the same call work.
    host.allow_hosts("test/hostile", AllowedHosts::parse(&[addr.to_string()]).unwrap()).unwrap();
    let (m, _) = measure(&host, &format!(r#"{{"mode": "http", "url": "http://{addr}/"}}"#)).await;
    assert_eq!(m.phase, Phase::Measured, "{}", m.message);
    assert_eq!(m.value.as_deref(), Some("200"));
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_call_that_never_returns_ends_at_the_plugin_deadline() {
    let host = hostile_host().await;
    let hole = common::black_hole().await;
    host.allow_hosts("test/hostile", AllowedHosts::parse(&[hole.to_string()]).unwrap()).unwrap();
    let (m, took) = measure(&host, &format!(r#"{{"mode": "sleep-http", "url": "http://{hole}/"}}"#)).await;
    assert_eq!(m.phase, Phase::Error);
    // The http import gives up at the call's deadline; whether the guest still reports the
    // import's timeout or the host's deadline ends the call first, the reason is `timeout`.
    assert!(m.message.starts_with("timeout"), "{}", m.message);
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(4), "took {took:?}");
    assert_next_call_succeeds(&host).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_that_is_not_json_is_an_invalid_value() {
    let host = hostile_host().await;
    let (m, _) = measure(&host, r#"{"mode": "garbage"}"#).await;
    assert_eq!(m.phase, Phase::Error);
    assert!(m.message.starts_with("invalid value: plugin \"test/hostile\": the value is not JSON"), "{}", m.message);
    assert_next_call_succeeds(&host).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_condition_is_bounded_too() {
    let host = hostile_host().await;
    let started = Instant::now();
    let r = host.evaluate("test/hostile-condition", "loop", "true").await;
    let took = started.elapsed();
    match r {
        Err(EvalError::Plugin(f)) => assert_eq!(f.reason(), "timeout", "{f}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(took >= Duration::from_secs(1) && took < Duration::from_secs(2), "the 1s condition deadline took {took:?}");
    match host.evaluate("test/hostile-condition", "memory-bomb", "true").await {
        Err(EvalError::Plugin(f)) => {
            assert_eq!(f.to_string(), "memory limit: plugin \"test/hostile-condition\" exceeded its 16Mi memory limit")
        }
        other => panic!("expected a memory limit, got {other:?}"),
    }
    match host.evaluate("test/hostile-condition", "panic", "true").await {
        Err(EvalError::Plugin(f)) => assert!(f.to_string().contains("the condition panicked on purpose"), "{f}"),
        other => panic!("expected a trap, got {other:?}"),
    }
    assert_eq!(host.evaluate("test/hostile-condition", "ok", "true").await, Ok(true));
    assert_eq!(host.evaluate("test/hostile-condition", "ok", "false").await, Ok(false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_is_not_a_condition_and_an_unknown_name_is_unavailable() {
    let host = hostile_host().await;
    match host.evaluate("test/hostile", "true", "true").await {
        Err(EvalError::Plugin(f)) => assert_eq!(
            f.to_string(),
            "unavailable: plugin \"test/hostile\" is a metric-provider plugin, not a condition"
        ),
        other => panic!("{other:?}"),
    }
    let m = host.measure("acme/missing", &ctx(), "{}").await;
    assert_eq!(m.phase, Phase::Error);
    assert_eq!(m.message, "unavailable: plugin \"acme/missing\" is not registered");
}

/// The hostile condition exports an init function that leaves 41 in a static; `preinit` adds one
/// and is true only when the call starts from the init's snapshot in a fresh instance. So each
/// call sees the pre-initialised state, and no call sees what an earlier one left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pre_initialised_plugin_starts_every_call_from_its_snapshot() {
    let host = hostile_host().await;
    for _ in 0..3 {
        assert_eq!(host.evaluate("test/hostile-condition", "preinit", "true").await, Ok(true));
    }
    let info = host.plugins().into_iter().find(|p| p.name == "test/hostile-condition").unwrap();
    assert!(info.preinitialised);
    assert_eq!(info.sha256, aviary_plugins::cache::sha256_hex(&common::read_component(HOSTILE_CONDITION)));
}

/// `aviary/expr` asks for pre-initialisation (its table of built-in functions is built at load
/// time), and its init, which runs under the condition deadline of 1 s after the compile, works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_expr_evaluator_is_pre_initialised() {
    let host = hostile_host().await;
    assert_eq!(host.evaluate("aviary/expr", "result[0] >= 0.95", "[0.97]").await, Ok(true));
    let plugins = host.plugins();
    let info = |name: &str| plugins.iter().find(|p| p.name == name).unwrap().clone();
    assert!(info("aviary/expr").preinitialised, "{:?}", info("aviary/expr"));
    // A component without an init function is loaded as it is.
    assert!(!info("test/hostile").preinitialised);
}

/// Every lie of the hostile provider is bounded or refused by the host before anyone sees it;
/// each refusal names the field and the bound, and the next call is answered normally.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lies_are_bounded_or_refused_with_the_reason() {
    use aviary_plugins::measurement::{MAX_RESUME_AFTER, MIN_RESUME_AFTER};
    let host = hostile_host().await;
    for (mode, resume) in
        [("resume-far", MAX_RESUME_AFTER), ("resume-max", MAX_RESUME_AFTER), ("resume-now", MIN_RESUME_AFTER)]
    {
        let (m, _) = measure(&host, &format!(r#"{{"mode": "{mode}"}}"#)).await;
        assert_eq!((m.phase, m.resume_after), (Phase::Running, Some(resume)), "{mode}");
        let resumed = host.resume("test/hostile", &ctx(), &format!(r#"{{"mode": "{mode}"}}"#), &m).await;
        assert_eq!((resumed.phase, resumed.resume_after), (Phase::Running, Some(resume)), "{mode} resumed");
    }
    let refused = [
        ("huge-metadata", "metadata of 1048577 bytes exceeds 16384"),
        ("wide-metadata", "metadata of 100000 entries exceeds 64"),
        ("huge-message", "message of 1048576 bytes exceeds 4096"),
        ("deep-value", "nesting too deep"),
        ("float-overflow", "number 1e400 does not fit a 64-bit float"),
    ];
    for (mode, reason) in refused {
        let (m, _) = measure(&host, &format!(r#"{{"mode": "{mode}"}}"#)).await;
        assert_eq!(m.phase, Phase::Error, "{mode}");
        assert!(m.message.starts_with("invalid value: plugin \"test/hostile\": "), "{mode}: {}", m.message);
        assert!(m.message.contains(reason), "{mode}: {}", m.message);
        assert_eq!(m.value, None, "{mode}");
        assert!(m.message.len() < 300, "{mode}: the refusal does not echo the lie: {} bytes", m.message.len());
    }
    let (m, _) = measure(&host, r#"{"mode": "fat"}"#).await;
    assert_eq!(m.phase, Phase::Measured, "{}", m.message);
    assert_eq!(m.metadata.len(), 65, "64 of the plugin's and the host's digest");
    assert_next_call_succeeds(&host).await;
}

/// A provider may make a bounded number of requests per call: past the budget each request is
/// refused without touching the network, and the refusals are counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_requests_stops_at_the_per_call_budget() {
    let host = hostile_host().await;
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    let addr = common::serve(
        "127.0.0.1",
        axum::Router::new().route(
            "/",
            axum::routing::get(move || {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async { "hi" }
            }),
        ),
    )
    .await;
    host.allow_hosts("test/hostile", AllowedHosts::parse(&[addr.to_string()]).unwrap()).unwrap();
    let (m, _) = measure(&host, &format!(r#"{{"mode": "flood", "url": "http://{addr}/"}}"#)).await;
    assert_eq!(m.phase, Phase::Measured, "{}", m.message);
    assert_eq!(m.value.as_deref(), Some("32"), "answered requests");
    assert!(m.message.contains("request budget spent: at most 32 HTTP requests per call"), "{}", m.message);
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 32, "requests that reached the server");
    // The next call has a budget of its own.
    let (m, _) = measure(&host, &format!(r#"{{"mode": "http", "url": "http://{addr}/"}}"#)).await;
    assert_eq!(m.value.as_deref(), Some("200"));
}

/// A component whose pre-initialisation never returns costs its deadline once: it is loaded as
/// it is (and works), and loading the same digest again does not run the init again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_init_costs_its_deadline_once_per_digest() {
    let host = common::host();
    let registry = RegistryFile::parse(&format!(
        "plugins:\n- {{name: test/looping-init, kind: condition, location: 'file://{}', timeout: 2s}}\n",
        common::test_component("aviary_test_looping_init.wasm").display()
    ))
    .unwrap();
    let started = Instant::now();
    for (name, result) in host.load_registry(&registry).await {
        let info = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!info.preinitialised);
    }
    assert!(started.elapsed() >= Duration::from_secs(2), "the init ran until its deadline");
    assert_eq!(host.evaluate("test/looping-init", "anything", "true").await, Ok(true));
    // A reload of the registry (the controller does one at every ConfigMap change).
    let again = Instant::now();
    for (name, result) in host.load_registry(&registry).await {
        result.unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    assert!(again.elapsed() < Duration::from_secs(1), "the reload ran the init again: {:?}", again.elapsed());
    assert_eq!(host.evaluate("test/looping-init", "anything", "false").await, Ok(false));
}

//! Traffic routers (contract 0.2.0): the `kubernetes` import reaches the embedder only for what
//! the router's grants allow, in the Rollout's namespace; a router that reaches further, loops,
//! explodes or panics fails its operation with a clear reason, and the host carries on.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aviary_plugins::kubernetes::Verb;
use aviary_plugins::registry::RegistryFile;
use aviary_plugins::{
    ACCESS_DENIED_REASON, PluginHost, RouterCall, RouterError, RouterEvent, RouterOperation, RouterReply,
};
use aviary_test_support::kubernetes_memory::MemoryApi;

const HOSTILE_ROUTER: &str = "aviary_test_hostile_router.wasm";

async fn router_host() -> PluginHost {
    let host = common::host();
    let registry = RegistryFile::parse(&format!(
        "plugins:\n\
         - {{name: test/router, kind: traffic-router, location: 'file://{}', timeout: 2s, memoryLimit: 32Mi,\n\
            kubernetes: [{{apiGroup: split.smi-spec.io, kinds: [TrafficSplit], verbs: [get, create, patch]}}]}}\n",
        common::test_component(HOSTILE_ROUTER).display(),
    ))
    .unwrap();
    for (name, result) in host.load_registry(&registry).await {
        result.unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    host
}

fn rollout(attack: &str) -> String {
    serde_json::json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "web", "namespace": "team-a", "uid": "u1", "annotations": {"aviary.test/attack": attack}},
        "spec": {"strategy": {"canary": {"canaryService": "web-canary", "stableService": "web-stable"}}}
    })
    .to_string()
}

async fn set_weight(
    host: &PluginHost,
    api: &Arc<MemoryApi>,
    attack: &str,
    state: Option<&str>,
) -> (Result<RouterReply, RouterError>, Duration) {
    set_weight_to(host, api, attack, state, 20).await
}

async fn set_weight_to(
    host: &PluginHost,
    api: &Arc<MemoryApi>,
    attack: &str,
    state: Option<&str>,
    weight: i32,
) -> (Result<RouterReply, RouterError>, Duration) {
    let rollout = rollout(attack);
    let call = RouterCall {
        namespace: "team-a",
        rollout_name: "web",
        rollout: &rollout,
        config: r#"{"rootService": "web"}"#,
        state,
    };
    let op = RouterOperation::SetWeight { weight, additional: Vec::new() };
    let started = Instant::now();
    let result = host.route("test/router", call, &op, api.clone()).await;
    (result, started.elapsed())
}

fn router_message(result: Result<RouterReply, RouterError>) -> String {
    match result {
        Err(RouterError::Router { message, .. }) => message,
        other => panic!("expected the router's error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_honest_router_writes_in_its_namespace_and_keeps_its_state() {
    let host = router_host().await;
    let api = Arc::new(MemoryApi::default());
    let (first, _) = set_weight(&host, &api, "none", None).await;
    let first = first.unwrap();
    let calls = api.calls();
    assert!(calls.iter().all(|c| c.namespace == "team-a" && c.kind == "TrafficSplit"), "{calls:?}");
    let created = calls.iter().find(|c| c.verb == Verb::Create).expect("the TrafficSplit is created");
    assert_eq!(created.body.as_ref().unwrap().pointer("/metadata/namespace"), Some(&serde_json::json!("team-a")));
    let created = RouterEvent {
        warning: false,
        reason: "TrafficSplitCreated".into(),
        message: "TrafficSplit `web` created with weight 20".into(),
    };
    assert_eq!(first.events, [created], "the router's event comes back");
    let state = first.state.expect("the router keeps a state");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&state).unwrap()["writes"], 1);
    let (second, _) = set_weight_to(&host, &api, "none", Some(&state), 30).await;
    let second = second.unwrap();
    assert_eq!(second.events.len(), 1, "{:?}", second.events);
    assert_eq!(second.events[0].message, "TrafficSplit `web` set to weight 30");
    let state = second.state.unwrap();
    assert_eq!(serde_json::from_str::<serde_json::Value>(&state).unwrap()["writes"], 2, "the state came back");
    let (third, _) = set_weight_to(&host, &api, "none", Some(&state), 30).await;
    assert_eq!(third.unwrap().events, [], "no write, no event");
}

/// Events come back with the router's own error too, bounded: an invalid reason is dropped, at
/// most 16 per call, messages cut to 1024 bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_bounded_and_come_back_with_an_error() {
    let host = router_host().await;
    let api = Arc::new(MemoryApi::default());
    let (result, _) = set_weight(&host, &api, "events", None).await;
    let err = result.unwrap_err();
    assert!(matches!(&err, RouterError::Router { message, .. } if message == "attack events: flooded"), "{err:?}");
    let events = err.events();
    assert_eq!(events.len(), 16);
    assert!(events.iter().all(|e| e.warning && e.reason == "Flood" && e.message.len() == 1024));
    assert!(events[0].message.starts_with("0 xxx") && events[15].message.starts_with("15 xxx"));
    // A sandbox failure carries no events.
    let (result, _) = set_weight(&host, &api, "panic", None).await;
    assert_eq!(result.unwrap_err().events(), []);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ungranted_kinds_other_namespaces_and_secrets_never_reach_the_api() {
    let host = router_host().await;
    let api = Arc::new(MemoryApi::default());
    for (attack, expected) in [
        ("kind", "patch ConfigMap (core): not granted to this plugin"),
        ("namespace", "create TrafficSplit in namespace \"other\": a plugin may only act in namespace \"team-a\""),
        ("secret", "get Secret: plugins never read Secrets"),
    ] {
        let (result, _) = set_weight(&host, &api, attack, None).await;
        // The refusal comes back as a Warning Event for the Rollout too, whatever the router
        // does with the error it was given.
        let events = result.as_ref().err().map(|e| e.events().to_vec()).unwrap_or_default();
        assert!(
            matches!(&events[..], [e] if e.warning && e.reason == ACCESS_DENIED_REASON
                && e.message.starts_with("plugin test/router: refused: ") && e.message.contains(expected)),
            "{attack}: {events:?}"
        );
        let message = router_message(result);
        assert!(message.starts_with(&format!("attack {attack}: ")), "{message}");
        assert!(message.contains(expected), "{attack}: {message}");
        assert!(!message.contains("NOT DENIED"), "{message}");
    }
    assert!(api.calls().is_empty(), "nothing reached the API server: {:?}", api.calls());
    let mut text = String::new();
    let mut registry = prometheus_client::registry::Registry::default();
    host.register_metrics(&mut registry);
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(
        text.contains(r#"aviary_plugin_denied_requests_total{plugin="test/router",reason="kubernetes"} 3"#),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_exploding_or_panicking_router_fails_its_operation_and_the_host_carries_on() {
    let host = router_host().await;
    let api = Arc::new(MemoryApi::default());
    let (result, took) = set_weight(&host, &api, "loop", None).await;
    assert!(matches!(&result, Err(RouterError::Plugin(f)) if f.reason() == "timeout"), "{result:?}");
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(4), "took {took:?}");
    let (result, _) = set_weight(&host, &api, "explode", None).await;
    assert!(matches!(&result, Err(RouterError::Plugin(f)) if f.reason() == "memory_limit"), "{result:?}");
    let (result, _) = set_weight(&host, &api, "panic", None).await;
    let text = result.unwrap_err().to_string();
    assert!(text.contains("panicked"), "{text}");
    let (result, _) = set_weight(&host, &api, "none", None).await;
    assert!(result.is_ok(), "the next call succeeds: {result:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_is_not_a_provider_and_names_are_checked() {
    let host = router_host().await;
    assert_eq!(host.router_available("test/router"), Ok(()));
    assert_eq!(host.router_available("aviary/smi"), Ok(()));
    assert_eq!(host.router_available("argoproj-labs/gatewayAPI"), Ok(()));
    assert!(host.router_available("web").unwrap_err().contains("not a traffic-router"));
    assert!(host.router_available("acme/nope").unwrap_err().contains("no traffic-router plugin \"acme/nope\""));
    let m = host
        .measure(
            "test/router",
            &aviary_plugins::CallContext {
                namespace: "n".into(),
                run_name: "r".into(),
                metric_name: "m".into(),
                ..Default::default()
            },
            "{}",
        )
        .await;
    assert_eq!(m.phase, aviary_plugins::Phase::Error);
    assert!(m.message.contains("traffic-router plugin, not a metric-provider"), "{}", m.message);
}

//! The first-party web provider against a real HTTP server on loopback.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aviary_plugins::registry::RegistryFile;
use aviary_plugins::{CallContext, Measurement, Phase, PluginHost};
use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use serde_json::{Value, json};

async fn web(host: &PluginHost, config: Value) -> Measurement {
    host.measure("web", &CallContext::default(), &config.to_string()).await
}

async fn server(other_host_hits: Arc<AtomicUsize>) -> (std::net::SocketAddr, std::net::SocketAddr) {
    // A second server on another loopback address: "another host" for the redirect test.
    let other = common::serve(
        "127.0.0.2",
        axum::Router::new().route(
            "/json",
            get(move || {
                other_host_hits.fetch_add(1, Ordering::SeqCst);
                async { Json(json!({"data": {"ok": false}})) }
            }),
        ),
    )
    .await;
    let router = axum::Router::new()
        .route(
            "/json",
            get(|| async { Json(json!({"data": {"ok": true, "successPercent": 0.95, "latency": [120, 80]}})) }),
        )
        .route(
            "/headers",
            get(|headers: HeaderMap| async move {
                let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                let tenant = headers.get("x-tenant").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                Json(json!({"auth": auth, "tenant": tenant}))
            }),
        )
        .route(
            "/echo",
            post(|headers: HeaderMap, body: String| async move {
                let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
                Json(json!({"contentType": ct, "received": parsed}))
            }),
        )
        .route("/unavailable", get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "down") }))
        .route("/text", get(|| async { "not json" }))
        .route("/redirect-home", get(|| async { Redirect::temporary("/json") }))
        .route("/redirect-away", get(move || async move { Redirect::temporary(&format!("http://{other}/json")) }))
        .route("/big", get(|| async { vec![b'7'; 11 << 20].into_response() }));
    (common::serve("127.0.0.1", router).await, other)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_path_selects_the_value_for_the_conditions() {
    let host = common::host();
    let (addr, _) = server(Arc::default()).await;
    let m = web(&host, json!({"url": format!("http://{addr}/json"), "jsonPath": "{$.data}"})).await;
    assert_eq!(m.phase, Phase::Measured, "{}", m.message);
    assert_eq!(m.value.as_deref(), Some(r#"{"latency":[120,80],"ok":true,"successPercent":0.95}"#));
    let m = web(&host, json!({"url": format!("http://{addr}/json"), "jsonPath": "{$.data.successPercent}"})).await;
    assert_eq!(m.value.as_deref(), Some("0.95"));
    // The whole document by default.
    let m = web(&host, json!({"url": format!("http://{addr}/json")})).await;
    assert!(m.value.as_deref().unwrap().starts_with(r#"{"data":"#));
    let m = web(&host, json!({"url": format!("http://{addr}/json"), "jsonPath": "{$.data.missing}"})).await;
    assert_eq!(m.phase, Phase::Error);
    assert!(m.message.starts_with("Could not find JSONPath in body"), "{}", m.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_and_bodies_reach_the_server() {
    let host = common::host();
    let (addr, _) = server(Arc::default()).await;
    let m = web(
        &host,
        json!({"url": format!("http://{addr}/headers"), "headers": [{"key": "Authorization", "value": "Bearer t0k3n"}, {"key": "X-Tenant", "value": "blue"}]}),
    )
    .await;
    assert_eq!(m.value.as_deref(), Some(r#"{"auth":"Bearer t0k3n","tenant":"blue"}"#), "{}", m.message);
    let m = web(&host, json!({"url": format!("http://{addr}/echo"), "method": "POST", "jsonBody": {"service": "checkout", "window": 5}})).await;
    assert_eq!(
        m.value.as_deref(),
        Some(r#"{"contentType":"application/json","received":{"service":"checkout","window":5}}"#),
        "{}",
        m.message
    );
    let m = web(&host, json!({"url": format!("http://{addr}/echo"), "method": "POST", "body": "plain words"})).await;
    assert_eq!(m.value.as_deref(), Some(r#"{"contentType":"","received":"plain words"}"#), "{}", m.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_errors_use_argos_messages() {
    let host = common::host();
    let (addr, _) = server(Arc::default()).await;
    let m = web(&host, json!({"url": format!("http://{addr}/unavailable")})).await;
    assert_eq!((m.phase, m.message.as_str()), (Phase::Error, "received non 2xx response code: 503"));
    let m = web(&host, json!({"url": format!("http://{addr}/text")})).await;
    assert_eq!(m.phase, Phase::Error);
    assert!(m.message.starts_with("Could not parse JSON body: "), "{}", m.message);
    let m = web(&host, json!({"url": "http://127.0.0.1:9/nothing-listens"})).await;
    assert_eq!(m.phase, Phase::Error);
    // Go's words, as Argo's web provider records them.
    assert_eq!(
        m.message,
        "Get \"http://127.0.0.1:9/nothing-listens\": dial tcp 127.0.0.1:9: connect: connection refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_ends_at_the_deadline() {
    let host = common::host();
    let hole = common::black_hole().await;
    // Argo's timeoutSeconds bounds the request...
    let started = Instant::now();
    let m = web(&host, json!({"url": format!("http://{hole}/"), "timeoutSeconds": 1})).await;
    let took = started.elapsed();
    assert_eq!(m.phase, Phase::Error);
    assert_eq!(
        m.message,
        format!("Get \"http://{hole}/\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)")
    );
    // Well under the 10 s default (the bound is loose: the first call also loads the plugin).
    assert!(took >= Duration::from_secs(1) && took < Duration::from_secs(8), "took {took:?}");
    // ...and the plugin's own deadline bounds it whatever the config asks for.
    let registry = RegistryFile::parse(
        "plugins: [{name: aviary/web, kind: metric-provider, location: 'builtin:aviary/web', timeout: 2s}]",
    )
    .unwrap();
    for (_, r) in host.load_registry(&registry).await {
        r.unwrap();
    }
    let started = Instant::now();
    let m = web(&host, json!({"url": format!("http://{hole}/"), "timeoutSeconds": 600})).await;
    let took = started.elapsed();
    assert_eq!(m.phase, Phase::Error);
    assert!(m.message.starts_with("timeout"), "{}", m.message);
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(4), "took {took:?}: {}", m.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_followed_only_within_the_allowed_hosts() {
    let host = common::host();
    let hits = Arc::new(AtomicUsize::new(0));
    let (addr, other) = server(hits.clone()).await;
    let m = web(&host, json!({"url": format!("http://{addr}/redirect-home"), "jsonPath": "{$.data.ok}"})).await;
    assert_eq!((m.phase, m.value.as_deref()), (Phase::Measured, Some("true")), "{}", m.message);
    let m = web(&host, json!({"url": format!("http://{addr}/redirect-away")})).await;
    assert_eq!(m.phase, Phase::Error);
    assert_eq!(m.message, format!("denied host: {other} is not in the plugin's allowed hosts"));
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the other host must never be contacted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_cap_is_refused() {
    let host = common::host();
    let (addr, _) = server(Arc::default()).await;
    let m = web(&host, json!({"url": format!("http://{addr}/big")})).await;
    assert_eq!((m.phase, m.message.as_str()), (Phase::Error, "response too large: over 10485760 bytes"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provider_reaches_only_the_host_in_its_own_config() {
    let host = common::host();
    let (addr, other) = server(Arc::default()).await;
    // The url names `addr`; an oauth2 token endpoint on another host is not reachable.
    let m = web(
        &host,
        json!({"url": format!("http://{addr}/json"), "authentication": {"oauth2": {"tokenUrl": format!("http://{other}/token"), "clientId": "a", "clientSecret": "b"}}}),
    )
    .await;
    assert_eq!(m.phase, Phase::Error);
    assert_eq!(m.message, format!("denied host: {other} is not in the plugin's allowed hosts"));
}

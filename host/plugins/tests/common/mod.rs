//! Shared helpers of the plugin host's integration tests.
#![allow(dead_code, missing_docs)]

pub mod sigv4;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use aviary_api::AnalysisPhase;
use aviary_engine::analysis::measurement::Judge;
use aviary_plugins::recording::{RecordedMeasurement, Recording, Replay};
use aviary_plugins::{CallContext, HostConfig, HttpMode, Measurement, PluginHost};
use axum::http::HeaderMap;
use serde_json::Value;

/// A host with a compile cache shared by the test binaries (it is content-addressed, so sharing
/// is safe and keeps the tests fast).
pub fn host() -> PluginHost {
    PluginHost::new(HostConfig { cache_dir: Some(cache_dir()), ..HostConfig::default() }).expect("host")
}

pub fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("aviary-plugin-cache")
}

/// A test component built by the build script from plugins/testing.
pub fn test_component(file: &str) -> PathBuf {
    PathBuf::from(env!("AVIARY_WASM_DIR")).join(file)
}

pub fn read_component(file: &str) -> Vec<u8> {
    std::fs::read(test_component(file)).expect("test component built by build.rs")
}

/// Serves `router` on a fresh port of `ip` (a loopback address) and returns its address.
pub async fn serve(ip: &str, router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve");
    });
    addr
}

/// Serves a fake service's `routes` on 127.0.0.1 with a fresh `S` as their state, what the
/// service saw, and returns its address and that state for the test to look at.
pub async fn serve_seen<S: Default + Clone + Send + Sync + 'static>(routes: axum::Router<S>) -> (SocketAddr, S) {
    let seen = S::default();
    let addr = serve("127.0.0.1", routes.with_state(seen.clone())).await;
    (addr, seen)
}

/// Accepts connections and never answers, holding them open.
pub async fn black_hole() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    addr
}

/// Calls `provider`'s measure as the controller does for a run with no context of its own.
pub async fn measure(host: &PluginHost, provider: &str, config: &str) -> Measurement {
    host.measure(provider, &CallContext::default(), config).await
}

/// Judges a measurement's value with Argo's success and failure conditions (an empty failure
/// condition is none) through the first-party `aviary/expr`, the way the controller judges it, so
/// a provider's test checks that its values read as Argo's documented conditions expect.
pub async fn verdict(host: &PluginHost, m: &Measurement, success: &str, failure: &str) -> AnalysisPhase {
    let text = m.value.as_deref().unwrap_or("null");
    let mut judge = Judge::new(success, failure, false);
    while let Some(expression) = judge.next() {
        judge.record(host.evaluate("aviary/expr", expression, text).await.map_err(|e| e.to_string()));
    }
    judge.verdict().phase
}

/// A provider's config as the controller hands it over: `base` (the credentials it adds from
/// Secrets) with the template's `fields` laid over it.
pub fn config_with(mut base: Value, fields: Value) -> String {
    base.as_object_mut().expect("base is an object").extend(fields.as_object().expect("fields are an object").clone());
    base.to_string()
}

/// A replay of one measurement written out in the recording's JSON form.
pub fn replay_of(recorded: Value) -> Arc<Replay> {
    let recorded: RecordedMeasurement = serde_json::from_value(recorded).expect("a recorded measurement");
    Arc::new(Replay::new(&recorded).expect("replay"))
}

/// Measures with `provider` against `replay` instead of the network, and checks that every
/// request the provider sent was in the recording.
pub async fn measure_replayed(host: &PluginHost, replay: &Arc<Replay>, provider: &str, config: &str) -> Measurement {
    let m = host.with_http(HttpMode::Replay(replay.clone())).measure(provider, &CallContext::default(), config).await;
    assert!(replay.misses().is_empty(), "{:?}", replay.misses());
    m
}

/// The config and recording a first-party provider ships in `plugins/<dir>/test`: what
/// `aviary plugin test <dir> --config @plugins/<dir>/test/config.json --replay
/// plugins/<dir>/test/replay.json` runs.
pub fn shipped_recording(dir: &str) -> (String, Recording) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins").join(dir).join("test");
    let config = std::fs::read_to_string(dir.join("config.json")).expect("config.json");
    let recording =
        Recording::parse(&std::fs::read_to_string(dir.join("replay.json")).expect("replay.json")).expect("a recording");
    (config, recording)
}

/// A request header as text, empty when absent or not text.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

//! Answering the `http` import from a recording, and making recordings from a real run.

mod common;

use std::sync::Arc;
use std::time::SystemTime;

use aviary_plugins::recording::{RecordedMeasurement, Recorder, Replay};
use aviary_plugins::{CallContext, HttpMode, Phase};
use axum::Json;
use axum::response::Redirect;
use axum::routing::get;
use serde_json::json;

fn measurement(json: serde_json::Value) -> RecordedMeasurement {
    serde_json::from_value(json).unwrap()
}

#[tokio::test]
async fn a_replayed_measurement_never_touches_the_network_and_follows_recorded_redirects() {
    let host = common::host();
    // Nothing listens on these: only the recording can answer.
    let m = measurement(json!({
        "at": "2025-01-01T00:00:00Z",
        "exchanges": [
            {"request": {"method": "GET", "url": "http://metrics.example/old"},
             "response": {"status": 302, "headers": {"location": "/stats"}}},
            {"request": {"method": "GET", "url": "http://metrics.example/stats"},
             "response": {"status": 200, "json": {"data": {"hits": 42}}}},
        ]
    }));
    let replay = Arc::new(Replay::new(&m).unwrap());
    let replaying = host.with_http(HttpMode::Replay(replay.clone()));
    let config = json!({"url": "http://metrics.example/old", "jsonPath": "{$.data.hits}"}).to_string();
    let out = replaying.measure("web", &CallContext::default(), &config).await;
    assert_eq!((out.phase, out.value.as_deref()), (Phase::Measured, Some("42")), "{}", out.message);
    assert!(replay.misses().is_empty());
    assert!(replay.unused().is_empty());
}

#[tokio::test]
async fn a_request_missing_from_the_recording_fails_the_measurement_and_is_named() {
    let host = common::host();
    let m = measurement(json!({"at": "2025-01-01T00:00:00Z", "exchanges": []}));
    let replay = Arc::new(Replay::new(&m).unwrap());
    let config = json!({"url": "http://metrics.example/stats?service=a"}).to_string();
    let out = host.with_http(HttpMode::Replay(replay.clone())).measure("web", &CallContext::default(), &config).await;
    assert_eq!(out.phase, Phase::Error);
    assert!(
        out.message.contains("not in the recording: GET http://metrics.example/stats?service=a"),
        "{}",
        out.message
    );
    assert_eq!(replay.misses(), vec!["GET http://metrics.example/stats?service=a".to_string()]);
}

#[tokio::test]
async fn the_allow_list_is_enforced_when_replaying() {
    let host = common::host();
    // The recording could answer, but the plugin may not reach the redirect's target host.
    let m = measurement(json!({
        "at": "2025-01-01T00:00:00Z",
        "exchanges": [
            {"request": {"method": "GET", "url": "http://metrics.example/stats"},
             "response": {"status": 307, "headers": {"location": "http://elsewhere.example/stats"}}},
            {"request": {"method": "GET", "url": "http://elsewhere.example/stats"},
             "response": {"status": 200, "json": 1}},
        ]
    }));
    let replay = Arc::new(Replay::new(&m).unwrap());
    let config = json!({"url": "http://metrics.example/stats"}).to_string();
    let out = host.with_http(HttpMode::Replay(replay.clone())).measure("web", &CallContext::default(), &config).await;
    assert_eq!(out.phase, Phase::Error);
    assert!(out.message.contains("elsewhere.example:80"), "{}", out.message);
    assert_eq!(replay.unused(), vec!["GET http://elsewhere.example/stats".to_string()]);
}

#[tokio::test]
async fn a_recorded_run_replays_to_the_same_measurement() {
    let addr = common::serve(
        "127.0.0.1",
        axum::Router::new()
            .route("/moved", get(|| async { Redirect::temporary("/stats") }))
            .route("/stats", get(|| async { Json(json!({"data": {"hits": 7}})) })),
    )
    .await;
    let host = common::host();
    let recorder = Arc::new(Recorder::new(SystemTime::now()));
    let config = json!({"url": format!("http://{addr}/moved"), "jsonPath": "{$.data.hits}"}).to_string();
    let live =
        host.with_http(HttpMode::Record(recorder.clone())).measure("web", &CallContext::default(), &config).await;
    assert_eq!(live.value.as_deref(), Some("7"), "{}", live.message);
    let recorded = recorder.measurement(None);
    assert_eq!(recorded.exchanges.len(), 2, "{recorded:?}");
    assert_eq!(recorded.exchanges[0].response.as_ref().unwrap().status, 307);

    let replay = Arc::new(Replay::new(&recorded).unwrap());
    let again = host.with_http(HttpMode::Replay(replay.clone())).measure("web", &CallContext::default(), &config).await;
    assert_eq!((again.phase, again.value), (live.phase, live.value));
    assert!(replay.misses().is_empty() && replay.unused().is_empty());
}

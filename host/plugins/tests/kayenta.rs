//! The first-party Kayenta provider against a loopback server that speaks Kayenta's REST API as
//! Argo's client uses it (`GET /canaryConfig`, `POST /canary/{configId}`, `GET /canary/{executionId}`),
//! checking every request and running each execution for one poll before it completes.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aviary_plugins::recording::Replay;
use aviary_plugins::{CallContext, HttpMode, Measurement, Phase, PluginHost};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

/// The canary configs of the `checkout` application, and the score Kayenta's judge gives each.
const CONFIGS: &[(&str, &str, f64)] = &[
    ("3c7f1a52-6a0e-4f4b-9d7e-2b8c1e5a9f01", "checkout-passing", 92.7),
    ("8e2d4b61-1f3c-4a8d-b5e9-7c0a6d2f4e13", "checkout-marginal", 80.0),
    ("c4a9e7d3-5b2f-4e61-8a0c-9f1d3b7e5a24", "checkout-failing", 41.3),
    ("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c45", "checkout-broken", f64::NAN),
];

/// What the fake Kayenta saw, and its executions.
#[derive(Default)]
struct Seen {
    lookups: Vec<HashMap<String, String>>,
    starts: Vec<(String, HashMap<String, String>, Value)>,
    polls: Vec<String>,
    /// Execution id → (canary config id, polls so far).
    executions: HashMap<String, (String, usize)>,
}

type Shared = Arc<Mutex<Seen>>;

async fn canary_configs(State(seen): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    seen.lock().unwrap().lookups.push(q.clone());
    if q.get("application").map(String::as_str) != Some("checkout") {
        return Json(json!([])).into_response();
    }
    let list: Vec<Value> = CONFIGS
        .iter()
        .map(|(id, name, _)| {
            json!({"id": id, "name": name, "updatedTimestamp": 1_733_000_000_000u64,
                   "updatedTimestampIso": "2024-11-30T20:53:20Z", "applications": ["checkout"]})
        })
        .collect();
    Json(Value::Array(list)).into_response()
}

async fn start(
    State(seen): State<Shared>,
    Path(config_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    body: String,
) -> Response {
    let request: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let mut s = seen.lock().unwrap();
    s.starts.push((config_id.clone(), q, request.clone()));
    if !CONFIGS.iter().any(|(id, _, _)| *id == config_id) {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "Not Found", "message": format!("No canary config with id '{config_id}'")})),
        )
            .into_response();
    }
    if request.pointer("/scopes").and_then(Value::as_object).is_none_or(|m| m.is_empty()) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "Bad Request", "message": "At least one scope must be specified"})),
        )
            .into_response();
    }
    let id = format!("01JGBQ8Z4T7K3M9X2R5V6W8Y{:02}", s.executions.len());
    s.executions.insert(id.clone(), (config_id, 0));
    Json(json!({"canaryExecutionId": id})).into_response()
}

/// Kayenta's `CanaryExecutionStatusResponse`: incomplete at the first poll, scored at the next.
async fn status(State(seen): State<Shared>, Path(id): Path<String>) -> Response {
    let mut s = seen.lock().unwrap();
    s.polls.push(id.clone());
    let Some((config_id, polls)) = s.executions.get_mut(&id) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "Not Found", "message": format!("Unable to find pipeline execution {id}")})),
        )
            .into_response();
    };
    *polls += 1;
    let score = CONFIGS.iter().find(|(c, _, _)| c == config_id).map_or(0.0, |(_, _, score)| *score);
    let mut answer = json!({
        "application": "checkout", "pipelineId": id, "canaryConfigId": config_id,
        "metricsAccountName": "prometheus-prod", "configurationAccountName": "kayenta-configs",
        "storageAccountName": "kayenta-results", "startTimeIso": "2025-01-01T00:30:00.456Z",
    });
    let fields = answer.as_object_mut().unwrap();
    if *polls == 1 {
        fields.insert("complete".into(), json!(false));
        fields.insert("executionStatus".into(), json!("RUNNING"));
        fields.insert(
            "stageStatus".into(),
            json!({"fetchControl0": "succeeded", "fetchExperiment0": "running", "judge": "not_started"}),
        );
    } else if score.is_nan() {
        // A judgement that failed in Kayenta: complete, with an exception and no result.
        fields.insert("complete".into(), json!(true));
        fields.insert("executionStatus".into(), json!("TERMINAL"));
        fields.insert("exception".into(), json!({"details": {"errors": ["No metrics for scope"]}}));
    } else {
        fields.insert("complete".into(), json!(true));
        fields.insert("executionStatus".into(), json!("SUCCEEDED"));
        fields.insert(
            "result".into(),
            json!({"judgeResult": {
            "judgeName": "NetflixACAJudge-v1.0",
            "groupScores": [{"name": "errors", "score": score, "classification": "", "classificationReason": ""}],
            "score": {"score": score, "classification": "Pass", "classificationReason": ""}},
            "canaryDuration": "PT30M"}),
        );
    }
    Json(answer).into_response()
}

async fn kayenta() -> (String, Shared) {
    let routes =
        axum::Router::new().route("/canaryConfig", get(canary_configs)).route("/canary/{id}", get(status).post(start));
    let (addr, seen) = common::serve_seen(routes).await;
    (format!("http://{addr}"), seen)
}

/// Argo's block with explicit windows, as a template passing `{{args.start-time}}` has it.
fn config(address: &str, canary_config: &str) -> Value {
    let scope = |hash: &str| {
        json!({"scope": format!("app=checkout and rollouts-pod-template-hash={hash}"), "region": "eu-west-1",
               "step": 60, "start": "2025-01-01T00:00:00Z", "end": "2025-01-01T00:30:00Z"})
    };
    json!({
        "address": address, "application": "checkout", "canaryConfigName": canary_config,
        "metricsAccountName": "prometheus-prod", "configurationAccountName": "kayenta-configs",
        "storageAccountName": "kayenta-results", "threshold": {"pass": 90, "marginal": 75},
        "scopes": [{"name": "default", "controlScope": scope("5d8f7b9c6"), "experimentScope": scope("7c4b5f8d9")}],
        "interval": "30m", "runStartedAt": "2025-01-01T00:00:00Z",
    })
}

/// Measures, then resumes while the measurement is running (at most `limit` times).
async fn judged(host: &PluginHost, config: &str, limit: usize) -> (Measurement, Vec<Measurement>) {
    let ctx = CallContext::default();
    let first = host.measure("kayenta", &ctx, config).await;
    let mut polls = Vec::new();
    let mut m = first.clone();
    while m.phase == Phase::Running && polls.len() < limit {
        m = host.resume("kayenta", &ctx, config, &m).await;
        polls.push(m.clone());
    }
    (first, polls)
}

#[tokio::test]
async fn a_passing_judgement_is_started_polled_until_complete_and_succeeds() {
    let (address, seen) = kayenta().await;
    let host = common::host();
    let cfg = config(&address, "checkout-passing").to_string();
    let (first, polls) = judged(&host, &cfg, 5).await;

    assert_eq!(first.phase, Phase::Running, "{}", first.message);
    assert_eq!(first.resume_after, Some(Duration::from_secs(15)));
    let id = first.metadata.get("canaryExecutionId").cloned().unwrap();
    assert_eq!(id, "01JGBQ8Z4T7K3M9X2R5V6W8Y00");

    // Incomplete at the first poll: Running again, the id kept; scored at the second.
    assert_eq!(polls.len(), 2);
    assert_eq!((polls[0].phase, polls[0].resume_after), (Phase::Running, Some(Duration::from_secs(15))));
    assert_eq!(polls[0].metadata.get("canaryExecutionId"), Some(&id));
    let done = &polls[1];
    assert_eq!((done.phase, done.value.as_deref()), (Phase::Successful, Some("92")), "{}", done.message);
    assert_eq!(done.metadata.get("canaryExecutionId"), Some(&id));

    let s = seen.lock().unwrap();
    // The lookup names the storage account as configurationAccountName, as Argo's does.
    assert_eq!(s.lookups.len(), 1);
    assert_eq!(s.lookups[0].get("application").map(String::as_str), Some("checkout"));
    assert_eq!(s.lookups[0].get("configurationAccountName").map(String::as_str), Some("kayenta-results"));
    let (config_id, query, body) = &s.starts[0];
    assert_eq!(config_id, "3c7f1a52-6a0e-4f4b-9d7e-2b8c1e5a9f01");
    let q = |k: &str| query.get(k).map(String::as_str);
    assert_eq!(
        (q("application"), q("metricsAccountName"), q("configurationAccountName"), q("storageAccountName")),
        (Some("checkout"), Some("prometheus-prod"), Some("kayenta-configs"), Some("kayenta-results"))
    );
    let side = |hash: &str| {
        json!({"scope": format!("app=checkout and rollouts-pod-template-hash={hash}"), "location": "eu-west-1",
               "step": 60, "start": "2025-01-01T00:00:00Z", "end": "2025-01-01T00:30:00Z"})
    };
    assert_eq!(
        body,
        &json!({"scopes": {"default": {"controlScope": side("5d8f7b9c6"), "experimentScope": side("7c4b5f8d9")}},
                "thresholds": {"pass": 90, "marginal": 75}})
    );
    assert_eq!(s.polls, [id.clone(), id]);
}

#[tokio::test]
async fn a_marginal_score_is_inconclusive_and_a_low_one_fails() {
    let (address, _) = kayenta().await;
    let host = common::host();
    for (canary_config, phase, value) in
        [("checkout-marginal", Phase::Inconclusive, "80"), ("checkout-failing", Phase::Failed, "41")]
    {
        let (_, polls) = judged(&host, &config(&address, canary_config).to_string(), 5).await;
        let done = polls.last().unwrap();
        assert_eq!((done.phase, done.value.as_deref()), (phase, Some(value)), "{canary_config}: {}", done.message);
    }
}

#[tokio::test]
async fn scopes_without_times_cover_the_last_interval_or_the_run_with_lookback() {
    let (address, seen) = kayenta().await;
    let host = common::host();
    let mut cfg = config(&address, "checkout-passing");
    for side in ["controlScope", "experimentScope"] {
        let s = cfg["scopes"][0][side].as_object_mut().unwrap();
        s.remove("start");
        s.remove("end");
    }
    let m = common::measure(&host, "kayenta", &cfg.to_string()).await;
    assert_eq!(m.phase, Phase::Running, "{}", m.message);
    cfg["lookback"] = json!(true);
    let m = common::measure(&host, "kayenta", &cfg.to_string()).await;
    assert_eq!(m.phase, Phase::Running, "{}", m.message);

    let s = seen.lock().unwrap();
    let time = |v: &Value| humantime::parse_rfc3339(v.as_str().unwrap()).unwrap();
    let window = &s.starts[0].2["scopes"]["default"];
    let (start, end) = (time(&window["controlScope"]["start"]), time(&window["controlScope"]["end"]));
    assert_eq!(end.duration_since(start).unwrap(), Duration::from_secs(30 * 60));
    let age = std::time::SystemTime::now().duration_since(end).unwrap_or_default();
    assert!(age < Duration::from_secs(60), "the window ends now, not {age:?} ago");
    assert_eq!(window["experimentScope"]["start"], window["controlScope"]["start"]);
    let lookback = &s.starts[1].2["scopes"]["default"]["experimentScope"];
    assert_eq!(lookback["start"], "2025-01-01T00:00:00Z");
}

#[tokio::test]
async fn failures_are_errors_with_argos_messages() {
    let (address, seen) = kayenta().await;
    let host = common::host();
    let ctx = CallContext::default();

    let m = host.measure("kayenta", &ctx, &config(&address, "checkout-unknown").to_string()).await;
    assert_eq!((m.phase, m.message.as_str()), (Phase::Error, "Canary config not found"));
    assert!(seen.lock().unwrap().starts.is_empty(), "nothing is started without a config");

    let mut no_scopes = config(&address, "checkout-passing");
    no_scopes["scopes"] = json!([]);
    let m = host.measure("kayenta", &ctx, &no_scopes.to_string()).await;
    assert_eq!(
        (m.phase, m.message.as_str()),
        (Phase::Error, "Invalid Response: HTTP 400: At least one scope must be specified")
    );

    // Complete without a result (Kayenta's judgement itself failed).
    let (_, polls) = judged(&host, &config(&address, "checkout-broken").to_string(), 5).await;
    let done = polls.last().unwrap();
    assert_eq!((done.phase, done.message.as_str()), (Phase::Error, "Missing Score"));

    // An execution Kayenta does not know.
    let lost =
        Measurement { metadata: [("canaryExecutionId".to_string(), "01NOPE".to_string())].into(), ..polls[0].clone() };
    let m = host.resume("kayenta", &ctx, &config(&address, "checkout-passing").to_string(), &lost).await;
    assert_eq!(
        (m.phase, m.message.as_str()),
        (Phase::Error, "Invalid Response: HTTP 404: Unable to find pipeline execution 01NOPE")
    );
    assert_eq!(m.metadata.get("canaryExecutionId").map(String::as_str), Some("01NOPE"));
}

#[tokio::test]
async fn terminate_leaves_the_execution_alone_as_argo_does() {
    let (address, seen) = kayenta().await;
    let host = common::host();
    let ctx = CallContext::default();
    let cfg = config(&address, "checkout-passing").to_string();
    let m = host.measure("kayenta", &ctx, &cfg).await;
    let requests = |s: &Seen| s.lookups.len() + s.starts.len() + s.polls.len();
    let before = requests(&seen.lock().unwrap());
    let t = host.terminate("kayenta", &ctx, &cfg, &m).await;
    assert_eq!(requests(&seen.lock().unwrap()), before, "terminate sends nothing");
    assert_eq!((t.phase, t.metadata.clone()), (Phase::Running, m.metadata.clone()));
}

/// The recording at plugins/kayenta/test (what `aviary plugin test kayenta --config
/// @plugins/kayenta/test/config.json --replay plugins/kayenta/test/replay.json` runs): a
/// judgement polled twice that passes, one that fails, and one Kayenta could not score.
#[tokio::test]
async fn the_recorded_judgements_replay_as_recorded() {
    let (config, recording) = common::shipped_recording("kayenta");
    let host = common::host();
    assert_eq!(recording.measurements.len(), 3);
    for recorded in &recording.measurements {
        let replay = Arc::new(Replay::new(recorded).unwrap());
        let (_, polls) = judged(&host.with_http(HttpMode::Replay(replay.clone())), &config, 10).await;
        let done = polls.last().unwrap();
        let expect = recorded.expect.as_ref().unwrap();
        assert_eq!(expect.mismatches(done.phase.as_str(), done.value.as_deref(), &done.message), Vec::<String>::new());
        assert!(replay.misses().is_empty(), "{:?}", replay.misses());
        assert!(replay.unused().is_empty(), "{:?}", replay.unused());
    }
}

//! The first-party SkyWalking provider against a loopback server that answers SkyWalking OAP's
//! GraphQL endpoint (`POST /graphql`) as its query protocol describes, checking the request the
//! provider sends (headers, query, the `duration` variable).

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aviary_api::AnalysisPhase;
use aviary_plugins::Phase;
use aviary_plugins::recording::Replay;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// Argo's documented query (docs/analysis/skywalking.md).
const APDEX: &str = "query queryData($duration: Duration!) {
  service_apdex: readMetricsValues(
    condition: { name: \"service_apdex\", entity: { scope: Service, serviceName: \"agent::songs\", normal: true } },
    duration: $duration) {
      label values { values { value } }
    }
}";

/// Argo's documented condition.
const APDEX_OK: &str = "all(result.service_apdex.values.values, {asFloat(.value) >= 9900})";

/// What the fake OAP saw: headers and bodies of the queries.
type Shared = Arc<Mutex<Vec<(HeaderMap, Value)>>>;

async fn graphql(State(seen): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let request: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    seen.lock().unwrap().push((headers, request.clone()));
    let query = request["query"].as_str().unwrap_or_default();
    if request.pointer("/variables/duration/step") != Some(&json!("MINUTE")) {
        return Json(json!({"data": null, "errors": [{"message": "Variable 'duration' has an invalid value"}]}))
            .into_response();
    }
    let values = |vals: &[i64]| json!({"label": null, "values": {"values": vals.iter().map(|v| json!({"value": v})).collect::<Vec<_>>()}});
    if query.contains("\"service_apdex\"") && query.contains("agent::songs") {
        return Json(json!({"data": {"service_apdex": values(&[9950, 9980, 10000])}})).into_response();
    }
    if query.contains("\"service_apdex\"") && query.contains("agent::reviews") {
        return Json(json!({"data": {"service_apdex": values(&[9950, 9700, 9990])}})).into_response();
    }
    if query.contains("not_a_metric") {
        // graphql-java's shape for a failed field: data null, the error with its path.
        return Json(json!({"data": null, "errors": [{
            "message": "Exception while fetching data (/m) : Metrics not_a_metric doesn't exist",
            "locations": [{"line": 1, "column": 40}], "path": ["m"],
            "extensions": {"classification": "DataFetchingException"}}]}))
        .into_response();
    }
    (StatusCode::BAD_GATEWAY, "upstream connect error").into_response()
}

async fn oap() -> (String, Shared) {
    let routes = axum::Router::new().route("/graphql", post(graphql));
    let (addr, seen) = common::serve_seen(routes).await;
    (format!("http://{addr}"), seen)
}

fn config(address: &str, query: &str, interval: &str) -> String {
    json!({"address": address, "query": query, "interval": interval}).to_string()
}

/// `2006-01-02 1504` → a time.
fn minute(text: &str) -> SystemTime {
    let rfc = format!("{}T{}:{}:00Z", &text[..10], &text[11..13], &text[13..15]);
    humantime::parse_rfc3339(&rfc).unwrap()
}

#[tokio::test]
async fn argos_documented_apdex_query_is_sent_with_its_window_and_judged() {
    let (address, seen) = oap().await;
    let host = common::host();
    let m = common::measure(&host, "skywalking", &config(&address, APDEX, "3m")).await;
    assert_eq!(m.phase, Phase::Measured, "{}", m.message);
    assert_eq!(
        m.value.as_deref(),
        Some(r#"{"service_apdex":{"label":null,"values":{"values":[{"value":9950},{"value":9980},{"value":10000}]}}}"#)
    );
    assert_eq!(common::verdict(&host, &m, APDEX_OK, "").await, AnalysisPhase::Successful);

    let (headers, body) = seen.lock().unwrap()[0].clone();
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert_eq!(h("content-type"), "application/json; charset=utf-8");
    assert_eq!(h("accept"), "application/json; charset=utf-8");
    assert_eq!(body["query"], APDEX);
    let duration = &body["variables"]["duration"];
    assert_eq!(duration["step"], "MINUTE");
    let (start, end) = (minute(duration["start"].as_str().unwrap()), minute(duration["end"].as_str().unwrap()));
    assert_eq!(end.duration_since(start).unwrap(), Duration::from_secs(180));
    let age = SystemTime::now().duration_since(end).unwrap_or_default();
    assert!(age < Duration::from_secs(120), "the window ends now, not {age:?} ago");
}

#[tokio::test]
async fn a_low_apdex_fails_the_documented_condition() {
    let (address, _) = oap().await;
    let host = common::host();
    let m =
        common::measure(&host, "skywalking", &config(&address, &APDEX.replace("agent::songs", "agent::reviews"), "5m"))
            .await;
    assert_eq!(m.phase, Phase::Measured, "{}", m.message);
    assert_eq!(common::verdict(&host, &m, APDEX_OK, "").await, AnalysisPhase::Failed);
}

#[tokio::test]
async fn graphql_errors_bad_answers_and_bad_configs_are_errors() {
    let (address, seen) = oap().await;
    let host = common::host();
    let m = common::measure(
        &host,
        "skywalking",
        &config(&address, "query m($duration: Duration!) { m: not_a_metric }", "5m"),
    )
    .await;
    assert_eq!(
        (m.phase, m.message.as_str()),
        (Phase::Error, "graphql: Exception while fetching data (/m) : Metrics not_a_metric doesn't exist")
    );
    let m = common::measure(&host, "skywalking", &config(&address, "{ other }", "5m")).await;
    assert_eq!(m.phase, Phase::Error);
    assert!(m.message.starts_with("decoding response: ") && m.message.ends_with(" (HTTP 502)"), "{}", m.message);

    let before = seen.lock().unwrap().len();
    let m = common::measure(&host, "skywalking", &config(&address, APDEX, "")).await;
    assert_eq!((m.phase, m.message.as_str()), (Phase::Error, r#"time: invalid duration """#));
    let m = common::measure(&host, "skywalking", &config("", APDEX, "5m")).await;
    assert_eq!((m.phase, m.message.as_str()), (Phase::Error, r#"address "" is not an http:// or https:// URL"#));
    assert_eq!(seen.lock().unwrap().len(), before, "a bad config sends nothing");
}

/// The recording at plugins/skywalking/test (what `aviary plugin test skywalking --config
/// @plugins/skywalking/test/config.json --replay plugins/skywalking/test/replay.json --success
/// 'all(result.service_apdex.values.values, {asFloat(.value) >= 9900})'` runs): one apdex
/// series that passes Argo's documented condition, one that fails it, and a GraphQL error.
#[tokio::test]
async fn the_recorded_queries_replay_as_recorded() {
    let (config, recording) = common::shipped_recording("skywalking");
    let host = common::host();
    assert_eq!(recording.measurements.len(), 3);
    for recorded in &recording.measurements {
        let replay = Arc::new(Replay::new(recorded).unwrap());
        let m = common::measure_replayed(&host, &replay, "skywalking", &config).await;
        let phase = match m.phase {
            Phase::Measured => common::verdict(&host, &m, APDEX_OK, "").await.to_string(),
            other => other.as_str().to_string(),
        };
        let expect = recorded.expect.as_ref().unwrap();
        assert_eq!(expect.mismatches(&phase, m.value.as_deref(), &m.message), Vec::<String>::new());
    }
}

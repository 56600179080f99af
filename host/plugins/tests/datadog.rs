//! The first-party Datadog provider against a loopback server that answers Datadog's v1 and v2
//! query APIs with realistic payloads and checks the keys and the body it receives.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aviary_api::AnalysisPhase;
use aviary_plugins::Phase;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

const API_KEY: &str = "dd-api-key-0123456789";
const APP_KEY: &str = "dd-app-key-9876543210";

/// What the fake Datadog saw.
#[derive(Default)]
struct Seen {
    v1: Vec<HashMap<String, String>>,
    v2: Vec<Value>,
    calls: HashMap<String, usize>,
}

type Shared = Arc<Mutex<Seen>>;

fn authorised(headers: &HeaderMap) -> bool {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    h("dd-api-key") == API_KEY && h("dd-application-key") == APP_KEY && h("content-type") == "application/json"
}

fn forbidden() -> Response {
    (StatusCode::FORBIDDEN, Json(json!({"errors": ["Forbidden"]}))).into_response()
}

/// A 429 the first time a query is seen, as Datadog answers when the org's rate limit is hit.
fn rate_limited(retry_after: &str) -> Response {
    let mut r = (StatusCode::TOO_MANY_REQUESTS, Json(json!({"errors": ["Too many requests"]}))).into_response();
    let h = r.headers_mut();
    h.insert("retry-after", retry_after.parse().unwrap());
    h.insert("x-ratelimit-limit", "1600".parse().unwrap());
    h.insert("x-ratelimit-period", "3600".parse().unwrap());
    h.insert("x-ratelimit-remaining", "0".parse().unwrap());
    h.insert("x-ratelimit-reset", retry_after.parse().unwrap());
    r
}

fn series(points: Value, query: &str) -> Value {
    json!({
        "status": "ok", "res_type": "time_series", "query": query, "message": "", "group_by": [],
        "from_date": 1_700_000_000_000u64, "to_date": 1_700_000_300_000u64,
        "series": if points.is_null() { json!([]) } else { json!([{
            "metric": "trace.http.request.errors", "display_name": "trace.http.request.errors",
            "scope": "service:checkout", "expression": query, "aggr": "sum", "interval": 10, "length": 3,
            "start": 1_700_000_000_000u64, "end": 1_700_000_299_999u64, "tag_set": [], "unit": null,
            "pointlist": points,
        }]) },
    })
}

async fn v1(State(seen): State<Shared>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    let query = q.get("query").cloned().unwrap_or_default();
    let calls = {
        let mut s = seen.lock().unwrap();
        s.v1.push(q.clone());
        let n = s.calls.entry(query.clone()).or_default();
        *n += 1;
        *n
    };
    if !authorised(&headers) {
        return forbidden();
    }
    let body = match query.as_str() {
        "errors:value" => series(json!([[1_700_000_000_000.0, 0.5], [1_700_000_010_000.0, 0.25]]), &query),
        "errors:empty" => series(Value::Null, &query),
        "errors:nulls" => series(json!([[1_700_000_000_000.0, 0.4], [1_700_000_010_000.0, null]]), &query),
        "errors:limited-briefly" if calls == 1 => return rate_limited("1"),
        "errors:limited-briefly" => series(json!([[1_700_000_000_000.0, 0.1]]), &query),
        "errors:limited" => return rate_limited("30"),
        _ => return (StatusCode::BAD_REQUEST, Json(json!({"errors": ["Error parsing query"]}))).into_response(),
    };
    Json(body).into_response()
}

async fn v2(State(seen): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let request: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    seen.lock().unwrap().v2.push(request.clone());
    if !authorised(&headers) {
        return forbidden();
    }
    let first = request.pointer("/data/attributes/queries/0/query").and_then(Value::as_str).unwrap_or_default();
    let number = |values: Value| json!({"name": "a", "type": "number", "values": values, "meta": {"unit": null}});
    let columns = match first {
        q if q.starts_with("sum:trace.http.request.errors") => json!([number(json!([0.42]))]),
        "errors:empty" => json!([number(json!([]))]),
        "errors:grouped" => json!([
            {"name": "region", "type": "group", "values": [["eu-west-1"], ["us-east-1"]]},
            number(json!([0.2, 1.7])),
        ]),
        _ => return (StatusCode::BAD_REQUEST, Json(json!({"errors": ["Error parsing query"]}))).into_response(),
    };
    Json(json!({"data": {"id": "0", "type": "scalar_response", "attributes": {"columns": columns}}})).into_response()
}

async fn datadog() -> (String, Shared) {
    let routes = axum::Router::new().route("/api/v1/query", get(v1)).route("/api/v2/query/scalar", post(v2));
    let (addr, seen) = common::serve_seen(routes).await;
    (format!("http://{addr}"), seen)
}

fn config(address: &str, fields: Value) -> String {
    common::config_with(json!({"address": address, "apiKey": API_KEY, "appKey": APP_KEY}), fields)
}

#[tokio::test]
async fn the_articles_canary_gate_queries_v2_with_a_formula_and_passes() {
    let (address, seen) = datadog().await;
    let host = common::host();
    let cfg = config(
        &address,
        json!({
            "apiVersion": "v2", "interval": "5m",
            "queries": {
                "a": "sum:trace.http.request.errors{service:checkout}.as_count()",
                "b": "sum:trace.http.request.hits{service:checkout}.as_count()",
            },
            "formula": "(moving_rollup(a, 60, 'sum') / moving_rollup(b, 60, 'sum')) * 100",
        }),
    );
    let m = common::measure(&host, "datadog", &cfg).await;
    assert_eq!((m.phase, m.value.as_deref()), (Phase::Measured, Some("0.42")), "{}", m.message);
    assert_eq!(m.metadata.get("httpStatusCode").map(String::as_str), Some("200"));
    assert_eq!(m.metadata.get("requestOutcome").map(String::as_str), Some("success"));
    assert_eq!(common::verdict(&host, &m, "default(result, 0) < 1", "").await, AnalysisPhase::Successful);

    let body = seen.lock().unwrap().v2[0].clone();
    let attrs = &body["data"]["attributes"];
    assert_eq!(body["data"]["type"], "scalar_request");
    assert_eq!(attrs["to"].as_u64().unwrap() - attrs["from"].as_u64().unwrap(), 300_000);
    assert_eq!(
        attrs["formulas"],
        json!([{"formula": "(moving_rollup(a, 60, 'sum') / moving_rollup(b, 60, 'sum')) * 100"}])
    );
    assert_eq!(
        attrs["queries"],
        json!([
            {"aggregator": "last", "data_source": "metrics", "name": "a", "query": "sum:trace.http.request.errors{service:checkout}.as_count()"},
            {"aggregator": "last", "data_source": "metrics", "name": "b", "query": "sum:trace.http.request.hits{service:checkout}.as_count()"},
        ])
    );
}

#[tokio::test]
async fn v1_sends_the_keys_and_the_window_and_reads_the_last_point() {
    let (address, seen) = datadog().await;
    let host = common::host();
    let m =
        common::measure(&host, "datadog", &config(&address, json!({"query": "errors:value", "interval": "10m"}))).await;
    assert_eq!((m.phase, m.value.as_deref()), (Phase::Measured, Some("0.25")), "{}", m.message);
    let q = seen.lock().unwrap().v1[0].clone();
    let (from, to): (u64, u64) = (q["from"].parse().unwrap(), q["to"].parse().unwrap());
    assert_eq!(to - from, 600);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!(now.abs_diff(to) < 60, "to={to} now={now}");
}

#[tokio::test]
async fn wrong_keys_are_an_authentication_error() {
    let (address, _) = datadog().await;
    let host = common::host();
    let cfg = json!({"address": address, "apiKey": "wrong", "appKey": APP_KEY, "query": "errors:value"}).to_string();
    let m = common::measure(&host, "datadog", &cfg).await;
    assert_eq!(m.phase, Phase::Error);
    assert_eq!(m.message, r#"received authentication error response code: 403 {"errors":["Forbidden"]}"#);
    assert_eq!(m.metadata.get("requestOutcome").map(String::as_str), Some("http_error"));
    let missing =
        common::measure(&host, "datadog", &json!({"address": address, "query": "errors:value"}).to_string()).await;
    assert_eq!((missing.phase, missing.message.as_str()), (Phase::Error, "API or App token not found"));
}

#[tokio::test]
async fn no_data_is_null_for_the_conditions_on_both_apis() {
    let (address, _) = datadog().await;
    let host = common::host();
    for fields in [json!({"query": "errors:empty"}), json!({"apiVersion": "v2", "query": "errors:empty"})] {
        let m = common::measure(&host, "datadog", &config(&address, fields.clone())).await;
        assert_eq!((m.phase, m.value.as_deref()), (Phase::Measured, Some("null")), "{fields}: {}", m.message);
        assert_eq!(common::verdict(&host, &m, "default(result, 0) < 1", "").await, AnalysisPhase::Successful);
        assert_eq!(common::verdict(&host, &m, "result < 1", "").await, AnalysisPhase::Error);
    }
}

#[tokio::test]
async fn a_trailing_null_point_is_skipped_not_read_as_zero() {
    let (address, _) = datadog().await;
    let host = common::host();
    let m = common::measure(&host, "datadog", &config(&address, json!({"query": "errors:nulls"}))).await;
    assert_eq!(m.value.as_deref(), Some("0.4"), "{}", m.message);
}

#[tokio::test]
async fn grouped_v2_queries_give_a_list_and_their_groups() {
    let (address, _) = datadog().await;
    let host = common::host();
    let m =
        common::measure(&host, "datadog", &config(&address, json!({"apiVersion": "v2", "query": "errors:grouped"})))
            .await;
    assert_eq!(m.value.as_deref(), Some("[0.2,1.7]"), "{}", m.message);
    assert_eq!(
        m.metadata.get("groups").map(String::as_str),
        Some(r#"[{"name":"eu-west-1","value":0.2},{"name":"us-east-1","value":1.7}]"#)
    );
    assert_eq!(common::verdict(&host, &m, "all(result, {# < 1})", "").await, AnalysisPhase::Failed);
}

#[tokio::test]
async fn a_short_rate_limit_is_waited_out_and_a_long_one_reported() {
    let (address, seen) = datadog().await;
    let host = common::host();
    let m = common::measure(&host, "datadog", &config(&address, json!({"query": "errors:limited-briefly"}))).await;
    assert_eq!((m.phase, m.value.as_deref()), (Phase::Measured, Some("0.1")), "{}", m.message);
    assert_eq!(seen.lock().unwrap().calls["errors:limited-briefly"], 2);

    let m = common::measure(&host, "datadog", &config(&address, json!({"query": "errors:limited"}))).await;
    assert_eq!(m.phase, Phase::Error);
    assert_eq!(
        m.message,
        r#"received non 2xx response code: 429 {"errors":["Too many requests"]} (rate limited: Datadog asks to retry after 30s)"#
    );
    assert_eq!(m.metadata.get("httpStatusCode").map(String::as_str), Some("429"));
    assert_eq!(seen.lock().unwrap().calls["errors:limited"], 1);
}

#[tokio::test]
async fn replays_see_the_recorded_time_so_windowed_queries_match() {
    let host = common::host();
    // 2025-01-01T00:00:00Z is 1735689600: a 5-minute window ends there.
    let replay = common::replay_of(json!({
        "at": "2025-01-01T00:00:00Z",
        "exchanges": [{
            "request": {"method": "GET",
                        "url": "https://api.datadoghq.com/api/v1/query?query=errors%3Avalue&from=1735689300&to=1735689600"},
            "response": {"status": 200, "json": series(json!([[1.0, 0.75]]), "errors:value")},
        }],
    }));
    let cfg = json!({"apiKey": API_KEY, "appKey": APP_KEY, "query": "errors:value"}).to_string();
    let m = common::measure_replayed(&host, &replay, "datadog", &cfg).await;
    assert_eq!(m.value.as_deref(), Some("0.75"), "{}", m.message);
}

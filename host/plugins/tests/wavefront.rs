//! The first-party Wavefront provider against a loopback server that answers Wavefront's chart
//! API (`GET /api/v2/chart/api` with a bearer token, answered with `timeseries` of
//! `[epoch seconds, value]` points, `stats` and `warnings`), checking the parameters Argo's client
//! sends and judging the values with Argo's conditions.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aviary_api::AnalysisPhase;
use aviary_plugins::{Measurement, Phase, PluginHost};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

const TOKEN: &str = "wf-token-5a1c9d0e-0000-4b6e-9f00-123456789abc";

#[derive(Default)]
struct Seen {
    params: Vec<HashMap<String, String>>,
    accept: Vec<String>,
}

type Shared = Arc<Mutex<Seen>>;

fn now() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

fn series(label: &str, host: &str, data: Value) -> Value {
    json!({"label": label, "host": host, "tags": {"env": "prod"}, "data": data})
}

fn answer(query: &str, timeseries: Value, warnings: Option<&str>) -> Value {
    let mut body = json!({
        "name": query, "query": query, "granularity": 1, "timeseries": timeseries,
        "stats": {"keys": 12, "points": 40, "summaries": 40, "buffer_keys": 12, "compacted_keys": 0,
                  "latency": 7, "queries": 3, "s3_keys": 0, "skipped_compacted_keys": 0, "cpu_ns": 1_841_000},
        "hostsUsed": ["web-1", "web-2"],
    });
    if let Some(w) = warnings {
        body["warnings"] = json!(w);
    }
    body
}

async fn chart(State(seen): State<Shared>, headers: HeaderMap, Query(p): Query<HashMap<String, String>>) -> Response {
    {
        let mut s = seen.lock().unwrap();
        s.params.push(p.clone());
        s.accept.push(headers.get("accept").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string());
    }
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {TOKEN}")) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"status": {"result": "ERROR", "message": "Unauthorized", "code": 401}})),
        )
            .into_response();
    }
    let at: i64 = p.get("s").and_then(|s| s.parse::<i64>().ok()).unwrap_or_default() / 1000;
    let query = p.get("q").cloned().unwrap_or_default();
    let body = match query.as_str() {
        "sum(rate(ts(http.errors, env=prod)))" => {
            answer(&query, json!([series("http.errors", "web-1", json!([[at - 61, 0.5], [at - 1, 0.125]]))]), None)
        }
        "rate(ts(http.errors, env=prod))" => answer(
            &query,
            json!([
                series("http.errors", "web-1", json!([[at - 2, 0.01]])),
                series("http.errors", "web-2", json!([[at - 30, 0.2], [at + 5, 0.03]])),
            ]),
            Some("Partial results: one cluster did not answer"),
        ),
        "ts(http.nothing)" => answer(&query, json!([]), None),
        _ => return (StatusCode::BAD_REQUEST, format!("Syntax error in query {query}")).into_response(),
    };
    Json(body).into_response()
}

async fn wavefront() -> (String, Shared) {
    let routes = axum::Router::new().route("/api/v2/chart/api", get(chart));
    let (addr, seen) = common::serve_seen(routes).await;
    (format!("http://{addr}"), seen)
}

async fn measure(host: &PluginHost, address: &str, query: &str) -> Measurement {
    let config = json!({"address": address, "query": query, "token": TOKEN}).to_string();
    common::measure(host, "wavefront", &config).await
}

#[tokio::test]
async fn one_series_gives_the_value_of_the_point_closest_to_now_with_argos_parameters() {
    let (address, seen) = wavefront().await;
    let host = common::host();
    let before = now();
    let m = measure(&host, &address, "sum(rate(ts(http.errors, env=prod)))").await;
    assert_eq!((m.phase, m.value.as_deref()), (Phase::Measured, Some("0.125")), "{}", m.message);
    assert_eq!(m.metadata.get("drift").map(String::as_str), Some("-1"));
    assert_eq!(common::verdict(&host, &m, "result < 0.2", "").await, AnalysisPhase::Successful);

    let s = seen.lock().unwrap();
    let p = &s.params[0];
    let at: i64 = p["s"].parse().unwrap();
    assert_eq!(p["e"], p["s"], "Argo asks for one instant");
    assert!((at / 1000 - before).abs() < 60 && at % 1000 == 0, "s={at} is now in whole seconds, as milliseconds");
    assert_eq!(m.metadata["timestamps"], (at / 1000 - 1).to_string());
    for (k, v) in [
        ("g", "s"),
        ("p", "1"),
        ("i", "true"),
        ("autoEvents", "false"),
        ("includeObsoleteMetrics", "false"),
        ("listmode", "false"),
        ("strict", "false"),
    ] {
        assert_eq!(p.get(k).map(String::as_str), Some(v), "{k}");
    }
    assert_eq!(p.len(), 10, "{p:?}");
    assert_eq!(s.accept[0], "application/json");
}

#[tokio::test]
async fn several_series_give_a_list_with_their_timestamps_drifts_and_warnings() {
    let (address, _) = wavefront().await;
    let host = common::host();
    let m = measure(&host, &address, "rate(ts(http.errors, env=prod))").await;
    assert_eq!(m.value.as_deref(), Some("[0.01,0.03]"), "{}", m.message);
    assert_eq!(m.metadata.get("drift").map(String::as_str), Some("[-2,5]"));
    assert_eq!(m.metadata.get("warnings").map(String::as_str), Some("Partial results: one cluster did not answer"));
    assert_eq!(common::verdict(&host, &m, "all(result, {# < 0.05})", "").await, AnalysisPhase::Successful);
}

#[tokio::test]
async fn no_series_a_bad_query_and_a_bad_token_are_errors() {
    let (address, _) = wavefront().await;
    let host = common::host();
    let m = measure(&host, &address, "ts(http.nothing)").await;
    assert_eq!((m.phase, m.message.as_str()), (Phase::Error, "No TimeSeries found in response from Wavefront"));
    let m = measure(&host, &address, "tss(oops").await;
    assert_eq!(
        (m.phase, m.message.as_str()),
        (Phase::Error, "server returned 400 Bad Request\nSyntax error in query tss(oops")
    );
    let wrong = json!({"address": address, "query": "ts(http.nothing)", "token": "stolen"}).to_string();
    let m = common::measure(&host, "wavefront", &wrong).await;
    assert!(m.message.starts_with("server returned 401 Unauthorized\n"), "{}", m.message);
    let none = json!({"address": address, "query": "ts(x)"}).to_string();
    let m = common::measure(&host, "wavefront", &none).await;
    assert_eq!((m.phase, m.message.as_str()), (Phase::Error, "API token not found"));
}

#[tokio::test]
async fn a_bare_address_is_reached_over_https_as_argo_does_and_replays() {
    let host = common::host();
    // 2025-01-01T00:00:00Z is 1735689600.
    let replay = common::replay_of(json!({
        "at": "2025-01-01T00:00:00Z",
        "exchanges": [{
            "request": {"method": "GET",
                        "url": "https://acme.wavefront.com/api/v2/chart/api?autoEvents=false&e=1735689600000&g=s&i=true&includeObsoleteMetrics=false&listmode=false&p=1&q=sum%28rate%28ts%28http.errors%29%29%29&s=1735689600000&strict=false"},
            "response": {"status": 200, "json": answer("sum(rate(ts(http.errors)))",
                json!([series("http.errors", "web-1", json!([[1_735_689_598, 0.02]]))]), None)},
        }],
    }));
    let cfg =
        json!({"address": "acme.wavefront.com", "query": "sum(rate(ts(http.errors)))", "token": TOKEN}).to_string();
    let m = common::measure_replayed(&host, &replay, "wavefront", &cfg).await;
    assert_eq!(m.value.as_deref(), Some("0.02"), "{}", m.message);
    assert_eq!(m.metadata.get("drift").map(String::as_str), Some("-2"));
}

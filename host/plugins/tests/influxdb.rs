//! The first-party InfluxDB provider against a loopback server that speaks InfluxDB 2's query API
//! (`POST /api/v2/query?org=..` with a token, a Flux query and the annotated-CSV dialect, answered
//! with annotated CSV, CRLF line ends and blank lines between tables, or InfluxDB's JSON errors),
//! checking what the provider sends and judging the values with Argo's conditions.
//!
//! A real server is not used: Debian packages InfluxDB 1.6, which has no Flux.

mod common;

use std::sync::{Arc, Mutex};

use aviary_api::AnalysisPhase;
use aviary_plugins::Phase;
use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

const TOKEN: &str = "influx-token-0123456789abcdef==";
const ORG: &str = "acme";

/// What the fake InfluxDB saw: query string, headers of interest, and the JSON body.
#[derive(Default)]
struct Seen {
    requests: Vec<(String, HeaderMap, Value)>,
}

type Shared = Arc<Mutex<Seen>>;

fn csv(text: &str) -> Response {
    let body = text.replace('\n', "\r\n");
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response()
}

fn influx_error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"code": code, "message": message}))).into_response()
}

/// The error rate of two hosts, one table each, as `aggregateWindow` + `yield` answer it.
const TWO_TABLES: &str = "\
#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,string,string,string
#group,false,false,true,true,false,false,true,true,true
#default,_result,,,,,,,,
,result,table,_start,_stop,_time,_value,_field,_measurement,host
,,0,2025-01-01T00:00:00Z,2025-01-01T00:05:00Z,2025-01-01T00:05:00Z,0.012,error_rate,http,web-1
,,1,2025-01-01T00:00:00Z,2025-01-01T00:05:00Z,2025-01-01T00:05:00Z,0.004,error_rate,http,web-2

";

/// A count (`long`) from a second `yield`, with the annotations in the order InfluxDB 2 writes
/// them (`#group` first).
const COUNT: &str = "\
#group,false,false,true,true,false,false
#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,long,string
#default,requests,,,,,
,result,table,_start,_stop,_value,_field
,,0,2025-01-01T00:00:00Z,2025-01-01T00:05:00Z,1520,count

";

/// A Flux runtime error, reported in band with a 200 as InfluxDB does once the response started.
const RUNTIME_ERROR: &str = "\
#datatype,string,string
#group,true,true
#default,,
,error,reference
,\"runtime error @1:45-1:60: division by zero\",

";

const EMPTY: &str = "\
#datatype,string,long,double
#group,false,false,false
#default,_result,,
,result,table,_value

";

async fn query(State(seen): State<Shared>, headers: HeaderMap, RawQuery(raw): RawQuery, body: String) -> Response {
    let raw = raw.unwrap_or_default();
    let request: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    seen.lock().unwrap().requests.push((raw.clone(), headers.clone(), request.clone()));
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Token {TOKEN}")) {
        return influx_error(StatusCode::UNAUTHORIZED, "unauthorized", "unauthorized access");
    }
    if raw != format!("org={ORG}") {
        return influx_error(StatusCode::NOT_FOUND, "not found", &format!("organization name \"{raw}\" not found"));
    }
    if request["type"] != "flux" || request["dialect"]["annotations"] != json!(["datatype", "group", "default"]) {
        return influx_error(StatusCode::BAD_REQUEST, "invalid", "only annotated Flux CSV is served here");
    }
    match request["query"].as_str().unwrap_or_default() {
        q if q.contains("error_rate") => csv(TWO_TABLES),
        q if q.contains("count()") => csv(COUNT),
        q if q.contains("/ 0") => csv(RUNTIME_ERROR),
        q if q.contains("\"empty\"") => csv(EMPTY),
        q => influx_error(
            StatusCode::BAD_REQUEST,
            "invalid",
            &format!("compilation failed: error @1:1-1:{}: undefined identifier bad", q.len()),
        ),
    }
}

async fn influxdb() -> (String, Shared) {
    let routes = axum::Router::new().route("/api/v2/query", post(query));
    let (addr, seen) = common::serve_seen(routes).await;
    (format!("http://{addr}"), seen)
}

/// The config as the controller hands it over: Argo's block plus the Secret's keys.
fn config(address: &str, flux: &str) -> String {
    json!({"query": flux, "address": address, "authToken": TOKEN, "org": ORG}).to_string()
}

const FLUX: &str =
    r#"from(bucket: "app") |> range(start: -5m) |> filter(fn: (r) => r._field == "error_rate") |> last()"#;

#[tokio::test]
async fn a_flux_query_is_posted_with_the_token_and_every_records_value_is_judged() {
    let (address, seen) = influxdb().await;
    let host = common::host();
    let m = common::measure(&host, "influxdb", &config(&address, FLUX)).await;
    assert_eq!((m.phase, m.value.as_deref()), (Phase::Measured, Some("[0.012,0.004]")), "{}", m.message);
    assert_eq!(common::verdict(&host, &m, "all(result, {# < 0.05})", "").await, AnalysisPhase::Successful);
    assert_eq!(common::verdict(&host, &m, "result[0] < 0.01", "result[0] >= 0.01").await, AnalysisPhase::Failed);

    let (raw, headers, body) = seen.lock().unwrap().requests[0].clone();
    assert_eq!(raw, "org=acme");
    assert_eq!(headers.get("content-type").unwrap(), "application/json");
    assert_eq!(headers.get("authorization").unwrap().to_str().unwrap(), format!("Token {TOKEN}"));
    assert_eq!(
        body,
        json!({"dialect": {"annotations": ["datatype", "group", "default"], "delimiter": ",", "header": true},
               "query": FLUX, "type": "flux"}),
        "the body influxdb-client-go sends"
    );
}

#[tokio::test]
async fn long_values_are_numbers_whatever_the_annotation_order() {
    let (address, _) = influxdb().await;
    let host = common::host();
    let flux = r#"from(bucket: "app") |> range(start: -5m) |> count() |> yield(name: "requests")"#;
    let m = common::measure(&host, "influxdb", &config(&address, flux)).await;
    assert_eq!(m.value.as_deref(), Some("[1520]"), "{}", m.message);
    assert_eq!(common::verdict(&host, &m, "result[0] >= 1000", "").await, AnalysisPhase::Successful);
}

#[tokio::test]
async fn no_record_a_runtime_error_and_a_compile_error_are_errors() {
    let (address, _) = influxdb().await;
    let host = common::host();
    let m =
        common::measure(&host, "influxdb", &config(&address, r#"from(bucket: "empty") |> range(start: -1m)"#)).await;
    assert_eq!((m.phase, m.message.as_str()), (Phase::Error, "no results returned from flux query"));
    let m = common::measure(
        &host,
        "influxdb",
        &config(&address, r#"from(bucket: "app") |> map(fn: (r) => ({r with _value: 1 / 0}))"#),
    )
    .await;
    assert_eq!((m.phase, m.message.as_str()), (Phase::Error, "runtime error @1:45-1:60: division by zero"));
    let m = common::measure(&host, "influxdb", &config(&address, "bad")).await;
    assert_eq!(
        (m.phase, m.message.as_str()),
        (Phase::Error, "invalid: compilation failed: error @1:1-1:3: undefined identifier bad")
    );
}

#[tokio::test]
async fn a_wrong_token_or_org_is_influxdbs_error_and_missing_credentials_argos() {
    let (address, _) = influxdb().await;
    let host = common::host();
    let wrong = json!({"query": FLUX, "address": address, "authToken": "nope", "org": ORG}).to_string();
    let m = common::measure(&host, "influxdb", &wrong).await;
    assert_eq!((m.phase, m.message.as_str()), (Phase::Error, "unauthorized: unauthorized access"));
    let other_org = json!({"query": FLUX, "address": address, "authToken": TOKEN, "org": "globex"}).to_string();
    let m = common::measure(&host, "influxdb", &other_org).await;
    assert_eq!(m.message, "not found: organization name \"org=globex\" not found");
    let m = common::measure(&host, "influxdb", &json!({"query": FLUX, "address": address}).to_string()).await;
    assert_eq!((m.phase, m.message.as_str()), (Phase::Error, "authToken, org, or address not found"));
}

#[tokio::test]
async fn the_recorded_exchange_replays() {
    let host = common::host();
    let replay = common::replay_of(json!({
        "at": "2025-01-01T00:05:00Z",
        "exchanges": [{
            "request": {"method": "POST", "url": "http://influxdb.monitoring:8086/api/v2/query?org=acme",
                        "json": {"dialect": {"annotations": ["datatype", "group", "default"], "delimiter": ",", "header": true},
                                 "query": FLUX, "type": "flux"}},
            "response": {"status": 200, "headers": {"content-type": "text/csv; charset=utf-8"},
                         "text": TWO_TABLES.replace('\n', "\r\n")},
        }],
    }));
    let cfg = config("http://influxdb.monitoring:8086", FLUX);
    let m = common::measure_replayed(&host, &replay, "influxdb", &cfg).await;
    assert_eq!(m.value.as_deref(), Some("[0.012,0.004]"), "{}", m.message);
}

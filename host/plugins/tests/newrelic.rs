//! The first-party New Relic provider against a loopback server that answers NerdGraph (`POST
//! /graphql` with an `Api-Key`, a GraphQL document and variables, answered with
//! `data.actor.account.nrql.results` or GraphQL `errors`), checking what the provider sends and
//! judging the rows with Argo's conditions.

mod common;

use std::sync::{Arc, Mutex};

use aviary_api::AnalysisPhase;
use aviary_plugins::Phase;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

const KEY: &str = "NRAK-0123456789ABCDEFGHIJKLMNOPQ";
const ACCOUNT: i64 = 3_141_592;

/// Argo's GraphQL document, as sent (the trailing space after `Nrql!,` included).
const DOCUMENT: &str = "query (\n  $query: Nrql!, \n  $accountId: Int!,\n  $timeout: Seconds!\n)\n{\n  actor {\n    account(id: $accountId) {\n      nrql(query: $query, timeout: $timeout) {\n        results\n      }\n    }\n  }\n}\n";

#[derive(Default)]
struct Seen {
    requests: Vec<(HeaderMap, Value)>,
}

type Shared = Arc<Mutex<Seen>>;

fn rows(results: Value) -> Value {
    json!({"data": {"actor": {"account": {"nrql": {"results": results}}}}})
}

async fn graphql(State(seen): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let request: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    seen.lock().unwrap().requests.push((headers.clone(), request.clone()));
    if headers.get("api-key").and_then(|v| v.to_str().ok()) != Some(KEY) {
        // NerdGraph answers a bad key with 200 or 401 and a BAD_API_KEY error.
        let error = json!({"errors": [{"message": "Invalid API key", "extensions": {"error_code": "BAD_API_KEY"}}]});
        return (StatusCode::UNAUTHORIZED, Json(error)).into_response();
    }
    if request["query"] != DOCUMENT || request["variables"]["accountId"] != ACCOUNT {
        return Json(json!({"errors": [{"message": "Unexpected document or account"}]})).into_response();
    }
    let nrql = request["variables"]["query"].as_str().unwrap_or_default();
    let body = match nrql {
        "SELECT percentage(count(*), WHERE error IS true) AS errorRate FROM Transaction WHERE appName = 'checkout' SINCE 5 minutes ago" => {
            rows(json!([{"errorRate": 0.8}]))
        }
        "SELECT percentile(duration, 95) FROM Transaction FACET appName SINCE 5 minutes ago" => rows(json!([
            {"appName": "checkout", "facet": "checkout", "percentile.duration": {"95": 0.41}},
            {"appName": "cart", "facet": "cart", "percentile.duration": {"95": 0.73}},
        ])),
        "SELECT count(*) FROM Transaction WHERE appName = 'nobody' SINCE 1 minute ago" => rows(json!([])),
        _ => json!({
            "data": {"actor": {"account": {"nrql": null}}},
            "errors": [{"message": format!("NRQL Syntax Error: Error at line 1 position 1, unexpected '{nrql}'"),
                        "path": ["actor", "account", "nrql"],
                        "extensions": {"errorClass": "INVALID_INPUT", "nrqlErrorType": "NRQL_SYNTAX_ERROR"}}],
        }),
    };
    Json(body).into_response()
}

async fn nerdgraph() -> (String, Shared) {
    let routes = axum::Router::new().route("/graphql", post(graphql));
    let (addr, seen) = common::serve_seen(routes).await;
    (format!("http://{addr}/graphql"), seen)
}

/// The config as the controller hands it over: Argo's block plus the Secret's keys.
fn config(url: &str, fields: Value) -> String {
    common::config_with(
        json!({"personalApiKey": KEY, "accountId": ACCOUNT.to_string(), "region": "us", "baseUrlNerdgraph": url}),
        fields,
    )
}

const ERROR_RATE: &str = "SELECT percentage(count(*), WHERE error IS true) AS errorRate FROM Transaction WHERE appName = 'checkout' SINCE 5 minutes ago";

#[tokio::test]
async fn argos_documented_error_rate_query_is_one_row_read_as_an_object() {
    let (url, seen) = nerdgraph().await;
    let host = common::host();
    let m = common::measure(&host, "newRelic", &config(&url, json!({"query": ERROR_RATE}))).await;
    assert_eq!((m.phase, m.value.as_deref()), (Phase::Measured, Some(r#"{"errorRate":0.8}"#)), "{}", m.message);
    assert_eq!(common::verdict(&host, &m, "result.errorRate < 1", "").await, AnalysisPhase::Successful);

    let (headers, body) = seen.lock().unwrap().requests[0].clone();
    assert_eq!(headers.get("api-key").unwrap(), KEY);
    assert_eq!(headers.get("content-type").unwrap(), "application/json");
    assert_eq!(headers.get("newrelic-requesting-services").unwrap(), "newrelic-client-go");
    assert_eq!(headers.get("x-query-source-component-id").unwrap(), "newrelic-client-go");
    assert_eq!(
        body,
        json!({"query": DOCUMENT, "variables": {"accountId": ACCOUNT, "query": ERROR_RATE, "timeout": 5}}),
        "Argo's document, the account as a number and the default timeout of 5 s"
    );
}

#[tokio::test]
async fn a_facet_query_is_a_list_of_rows_and_the_timeout_is_passed_on() {
    let (url, seen) = nerdgraph().await;
    let host = common::host();
    let nrql = "SELECT percentile(duration, 95) FROM Transaction FACET appName SINCE 5 minutes ago";
    let m = common::measure(&host, "newRelic", &config(&url, json!({"query": nrql, "timeout": 30}))).await;
    assert_eq!(m.phase, Phase::Measured, "{}", m.message);
    assert_eq!(
        common::verdict(&host, &m, "all(result, {#['percentile.duration']['95'] < 1})", "").await,
        AnalysisPhase::Successful
    );
    assert_eq!(common::verdict(&host, &m, "result[1].facet == 'cart'", "").await, AnalysisPhase::Successful);
    assert_eq!(seen.lock().unwrap().requests[0].1["variables"]["timeout"], 30);
}

#[tokio::test]
async fn no_rows_nrql_errors_and_a_bad_key_are_errors() {
    let (url, _) = nerdgraph().await;
    let host = common::host();
    let none = "SELECT count(*) FROM Transaction WHERE appName = 'nobody' SINCE 1 minute ago";
    let m = common::measure(&host, "newRelic", &config(&url, json!({"query": none}))).await;
    assert_eq!((m.phase, m.message.as_str()), (Phase::Error, "no results returned from NRQL query"));
    let m = common::measure(&host, "newRelic", &config(&url, json!({"query": "SELEC oops"}))).await;
    assert_eq!(
        (m.phase, m.message.as_str()),
        (Phase::Error, "NRQL Syntax Error: Error at line 1 position 1, unexpected 'SELEC oops'")
    );
    let wrong = json!({"personalApiKey": "NRAK-WRONG", "accountId": "1", "baseUrlNerdgraph": url, "query": none});
    let m = common::measure(&host, "newRelic", &wrong.to_string()).await;
    assert_eq!(
        m.message,
        "401 response returned: Invalid credentials provided. Missing API key or an invalid API key was provided."
    );
    let m = common::measure(&host, "newRelic", &config(&url, json!({"query": none, "timeout": -1}))).await;
    assert_eq!((m.phase, m.message.as_str()), (Phase::Error, "timeout value needs to be a positive value"));
}

#[tokio::test]
async fn the_region_picks_nerdgraph_and_the_recorded_exchange_replays() {
    let host = common::host();
    let replay = common::replay_of(json!({
        "at": "2025-01-01T00:00:00Z",
        "exchanges": [{
            "request": {"method": "POST", "url": "https://api.eu.newrelic.com/graphql",
                        "json": {"query": DOCUMENT, "variables": {"accountId": ACCOUNT, "query": ERROR_RATE, "timeout": 5}}},
            "response": {"status": 200, "json": rows(json!([{"errorRate": 0.25}]))},
        }],
    }));
    // What the controller adds for a Secret with `region: eu`.
    let cfg = json!({"personalApiKey": KEY, "accountId": ACCOUNT.to_string(), "region": "eu",
                     "baseUrlNerdgraph": "https://api.eu.newrelic.com/graphql", "query": ERROR_RATE})
    .to_string();
    let m = common::measure_replayed(&host, &replay, "newRelic", &cfg).await;
    assert_eq!(m.value.as_deref(), Some(r#"{"errorRate":0.25}"#), "{}", m.message);
}

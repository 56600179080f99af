//! Argo's `influxdb` and `newRelic` providers end to end: AnalysisRuns whose credentials are only
//! in the Secrets Argo reads (named by `profile`, in the controller's namespace), against loopback
//! servers that speak InfluxDB 2's query API and NerdGraph and check the credentials they receive;
//! and a token a server echoes back in its error, redacted from the run's status.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aviary_api::{AnalysisPhase, AnalysisRun, AnalysisRunStatus};
use aviary_test_support::{TestNamespace, namespace};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use common::*;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(150);
const INFLUX_TOKEN: &str = "influx-e2e-token-7c1d2e3f4a5b6c7d8e9f";
const NR_KEY: &str = "NRAK-E2E0123456789ABCDEFGHIJKLMN";

/// Calls each fake server accepted and refused.
#[derive(Default)]
struct Seen {
    influx_ok: usize,
    nerdgraph_ok: usize,
}

type Shared = Arc<Mutex<Seen>>;

const CSV: &str = "#datatype,string,long,double,string\r\n#group,false,false,false,true\r\n#default,_result,,,\r\n\
                   ,result,table,_value,host\r\n,,0,0.012,web-1\r\n,,1,0.004,web-2\r\n\r\n";

/// InfluxDB's `POST /api/v2/query`: the CSV for the right token and org; a 401 echoing any other
/// token (so that its redaction shows).
async fn influx(State(seen): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    if auth != format!("Token {INFLUX_TOKEN}") {
        let message = format!("authorization {auth:?} is not valid");
        return (StatusCode::UNAUTHORIZED, Json(json!({"code": "unauthorized", "message": message}))).into_response();
    }
    let request: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    assert_eq!(request["type"], "flux");
    seen.lock().unwrap().influx_ok += 1;
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], CSV).into_response()
}

/// NerdGraph's `POST /graphql`: one row for the right key and account.
async fn nerdgraph(State(seen): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let request: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    if headers.get("api-key").and_then(|v| v.to_str().ok()) != Some(NR_KEY) || request["variables"]["accountId"] != 42 {
        return (StatusCode::UNAUTHORIZED, Json(json!({"errors": [{"message": "Invalid API key"}]}))).into_response();
    }
    seen.lock().unwrap().nerdgraph_ok += 1;
    Json(json!({"data": {"actor": {"account": {"nrql": {"results": [{"errorRate": 0.4}]}}}}})).into_response()
}

async fn servers() -> (String, String, Shared) {
    let seen = Shared::default();
    let router = axum::Router::new()
        .route("/api/v2/query", axum::routing::post(influx))
        .route("/graphql", axum::routing::post(nerdgraph))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (format!("http://{addr}"), format!("http://{addr}/graphql"), seen)
}

async fn secret(client: &kube::Client, name: &str, data: Value) {
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": CONTROLLER_NS}, "stringData": data,
    });
    kube::Api::<Secret>::namespaced(client.clone(), CONTROLLER_NS)
        .patch(name, &PatchParams::apply("aviary-e2e-profiles").force(), &Patch::Apply(&secret))
        .await
        .unwrap();
}

/// The run's status once it has completed.
async fn ended(ns: &TestNamespace, run: &str) -> Result<AnalysisRunStatus, String> {
    eventually_ok(&format!("AnalysisRun {run} to end"), T, || async {
        let r = ns.api::<AnalysisRun>().get(run).await.ok()?;
        r.status.filter(|s| s.phase.is_completed())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn influxdb_and_newrelic_runs_use_the_profiles_secrets_and_never_show_a_token() -> TestResult {
    env().await;
    let ns = namespace("influx-nr").await?;
    let (address, nerdgraph_url, seen) = servers().await;
    let (influx_profile, wrong_profile, nr_profile) =
        (format!("influx-{}", ns.name()), format!("influx-wrong-{}", ns.name()), format!("nr-{}", ns.name()));
    secret(ns.client(), &influx_profile, json!({"address": address, "authToken": INFLUX_TOKEN, "org": "acme"})).await;
    let wrong_token = format!("{INFLUX_TOKEN}-revoked");
    secret(ns.client(), &wrong_profile, json!({"address": address, "authToken": wrong_token, "org": "acme"})).await;
    secret(
        ns.client(),
        &nr_profile,
        json!({"personal-api-key": NR_KEY, "account-id": "42", "region": "us", "base-url-nerdgraph": nerdgraph_url}),
    )
    .await;

    let flux = r#"from(bucket: "app") |> range(start: -5m) |> last()"#;
    let _: AnalysisRun = create(
        &ns,
        json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun", "metadata": {"name": "good"},
            "spec": {"metrics": [
                {"name": "influx-error-rate", "successCondition": "all(result, {# < 0.05})",
                 "provider": {"influxdb": {"profile": influx_profile, "query": flux}}},
                {"name": "nr-error-rate", "successCondition": "result.errorRate < 1",
                 "provider": {"newRelic": {"profile": nr_profile, "query": "SELECT 1 AS errorRate FROM Transaction"}}},
            ]}
        }),
    )
    .await;
    let _: AnalysisRun = create(
        &ns,
        json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun", "metadata": {"name": "revoked"},
            "spec": {"metrics": [
                {"name": "influx-error-rate", "successCondition": "all(result, {# < 0.05})", "consecutiveErrorLimit": 0,
                 "provider": {"influxdb": {"profile": wrong_profile, "query": flux}}},
            ]}
        }),
    )
    .await;

    let good = match ended(&ns, "good").await {
        Ok(s) => s,
        Err(e) => panic!("{e}\ncontroller log:\n{}", env().await.log_tail(80)),
    };
    assert_eq!(good.phase, AnalysisPhase::Successful, "{:#?}", good.metric_results);
    let value = |name: &str| {
        let r = good.metric_results.iter().find(|r| r.name == name).unwrap();
        r.measurements[0].value.clone()
    };
    assert_eq!(value("influx-error-rate"), "[0.012,0.004]");
    assert_eq!(value("nr-error-rate"), r#"{"errorRate":0.4}"#);

    let revoked = ended(&ns, "revoked").await?;
    assert_eq!(revoked.phase, AnalysisPhase::Error, "{}", revoked.message);
    let m = &revoked.metric_results[0].measurements[0];
    assert_eq!(m.message, "unauthorized: authorization \"Token *****\" is not valid");

    let stored = serde_json::to_string(&ns.api::<AnalysisRun>().list(&Default::default()).await?.items)?;
    for key in [INFLUX_TOKEN, NR_KEY] {
        assert!(!stored.contains(key), "a credential reached an AnalysisRun");
    }
    let seen = seen.lock().unwrap();
    assert!(seen.influx_ok >= 1 && seen.nerdgraph_ok >= 1);
    Ok(())
}

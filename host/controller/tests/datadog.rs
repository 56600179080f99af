//! Argo's `datadog` provider end to end: the canary gate of the Argo Rollouts article (v2,
//! queries + formula, every 10 s, 2 times, `default(result, 0) < 1`, failureLimit 1) against a
//! loopback server that answers Datadog's v2 scalar API and checks the keys it receives, with the
//! keys and address in Argo's default Secret `datadog` in the controller's namespace; and runs
//! whose Secret, or one of its keys, is missing.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aviary_api::{AnalysisPhase, AnalysisRun, AnalysisTemplate, Rollout};
use aviary_test_support::{TestNamespace, namespace};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use common::*;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(150);
const API_KEY: &str = "dd-api-0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const APP_KEY: &str = "dd-app-a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4";
const ERRORS: &str = "sum:trace.http.request.errors{service:checkout,version:canary}.as_count()";
const HITS: &str = "sum:trace.http.request.hits{service:checkout,version:canary}.as_count()";
const FORMULA: &str = "(moving_rollup(a, 60, 'sum') / moving_rollup(b, 60, 'sum')) * 100";

/// The request bodies the fake Datadog accepted, and the number of rejected calls.
#[derive(Default)]
struct Seen {
    bodies: Vec<Value>,
    rejected: usize,
}

/// Datadog's `POST /api/v2/query/scalar`: 403 unless both keys are right; 0.42 (% errors).
async fn scalar(State(seen): State<Arc<Mutex<Seen>>>, headers: HeaderMap, body: String) -> Response {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    if h("dd-api-key") != API_KEY || h("dd-application-key") != APP_KEY {
        seen.lock().unwrap().rejected += 1;
        return (StatusCode::FORBIDDEN, Json(json!({"errors": ["Forbidden"]}))).into_response();
    }
    seen.lock().unwrap().bodies.push(serde_json::from_str(&body).unwrap_or(Value::Null));
    Json(json!({"data": {"id": "0", "type": "scalar_response", "attributes": {"columns": [
        {"name": "query1", "type": "number", "values": [0.42], "meta": {"unit": [{"family": "percentage"}, null]}}
    ]}}}))
    .into_response()
}

async fn fake_datadog() -> (String, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let router =
        axum::Router::new().route("/api/v2/query/scalar", axum::routing::post(scalar)).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (format!("http://{addr}"), seen)
}

/// The article's metric, with `secret_ref` as the template writes it (`null` for none).
fn error_rate_metric(secret_ref: Value) -> Value {
    let mut datadog = json!({
        "apiVersion": "v2", "interval": "5m",
        "queries": {"a": ERRORS, "b": HITS},
        "formula": FORMULA,
    });
    if !secret_ref.is_null() {
        datadog["secretRef"] = secret_ref;
    }
    json!({
        "name": "error-rate", "interval": "10s", "count": 2,
        "successCondition": "default(result, 0) < 1", "failureLimit": 1,
        "provider": {"datadog": datadog}
    })
}

async fn runs(ns: &TestNamespace) -> Vec<AnalysisRun> {
    ns.api::<AnalysisRun>().list(&Default::default()).await.unwrap().items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_articles_datadog_gate_passes_with_keys_from_argos_default_secret() -> TestResult {
    env().await;
    let ns = namespace("datadog-gate").await?;
    let (address, seen) = fake_datadog().await;
    // Argo's default: the Secret `datadog` in the controller's namespace.
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "datadog", "namespace": CONTROLLER_NS},
        "stringData": {"api-key": API_KEY, "app-key": APP_KEY, "address": address},
    });
    kube::Api::<Secret>::namespaced(ns.client().clone(), CONTROLLER_NS)
        .patch("datadog", &PatchParams::apply("aviary-e2e-datadog").force(), &Patch::Apply(&secret))
        .await?;
    let _: AnalysisTemplate = create(
        &ns,
        json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate", "metadata": {"name": "error-rate"},
            "spec": {"metrics": [error_rate_metric(Value::Null)]}
        }),
    )
    .await;
    let steps =
        json!([{"setWeight": 20}, {"analysis": {"templates": [{"templateName": "error-rate"}]}}, {"setWeight": 100}]);
    let _: Rollout = create(&ns, rollout("checkout", 2, "nginx:1.19", steps, json!({}))).await;
    let v1 = wait_phase(&ns, "checkout", "Healthy", T).await.status.unwrap().stable_rs;
    set_image(&ns, "checkout", "nginx:1.20").await;
    let promoted = eventually_ok("the canary promoted past the Datadog analysis", T, || async {
        let s = ns.api::<Rollout>().get("checkout").await.ok()?.status?;
        (format!("{:?}", s.phase?) == "Healthy" && s.stable_rs != v1 && s.current_step_index == Some(3)).then_some(())
    })
    .await;
    if let Err(e) = promoted {
        panic!("{e}\nruns: {:#?}\ncontroller log:\n{}", runs(&ns).await, env().await.log_tail(80));
    }

    let runs = runs(&ns).await;
    assert_eq!(runs.len(), 1);
    let status = runs[0].status.clone().unwrap();
    assert_eq!(status.phase, AnalysisPhase::Successful, "{}", status.message);
    let m = &status.metric_results[0];
    assert_eq!((m.count, m.successful, m.failed, m.error), (2, 2, 0, 0));
    for measurement in &m.measurements {
        assert_eq!(measurement.value, "0.42");
        assert_eq!(measurement.metadata.get("httpStatusCode").map(String::as_str), Some("200"));
    }
    // Argo's interval: the second measurement about 10 s after the first.
    let gap = m.measurements[1].started_at.unwrap().0 - m.measurements[0].started_at.unwrap().0;
    assert!(gap >= chrono::Duration::seconds(9), "measurements {gap} apart");

    let seen = seen.lock().unwrap();
    assert_eq!(seen.rejected, 0, "every call carried the Secret's keys");
    assert_eq!(seen.bodies.len(), 2);
    let attrs = &seen.bodies[0]["data"]["attributes"];
    assert_eq!(attrs["formulas"], json!([{"formula": FORMULA}]));
    let queries: Vec<(&str, &str)> = attrs["queries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| (q["name"].as_str().unwrap(), q["query"].as_str().unwrap()))
        .collect();
    assert_eq!(queries, [("a", ERRORS), ("b", HITS)]);
    assert_eq!(attrs["to"].as_u64().unwrap() - attrs["from"].as_u64().unwrap(), 300_000, "a 5m window in ms");
    // The keys reach the plugin only: never the run's spec or status.
    let stored = serde_json::to_string(&runs[0])?;
    assert!(!stored.contains(API_KEY) && !stored.contains(APP_KEY));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_secret_or_key_is_an_error_naming_the_secret_and_the_key() -> TestResult {
    env().await;
    let ns = namespace("datadog-nosecret").await?;
    let (address, seen) = fake_datadog().await;
    // `namespaced: true`: the Secret is looked up in the run's namespace. This one lacks app-key.
    let _: Secret = create(
        &ns,
        json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "dd-half"},
            "stringData": {"api-key": API_KEY, "address": address},
        }),
    )
    .await;
    for (run, secret) in [("missing", "dd-missing"), ("half", "dd-half")] {
        let _: AnalysisRun = create(
            &ns,
            json!({
                "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun", "metadata": {"name": run},
                "spec": {"metrics": [error_rate_metric(json!({"name": secret, "namespaced": true}))]}
            }),
        )
        .await;
    }
    let ns_name = ns.name().to_string();
    let expect = [
        (
            "missing",
            format!(
                "Secret {ns_name}/dd-missing not found, and the controller has no DD_API_KEY/DD_APP_KEY: the datadog \
                 provider needs a Secret with the keys \"api-key\" and \"app-key\" (and optionally \"address\")"
            ),
        ),
        (
            "half",
            format!(
                "Secret {ns_name}/dd-half has no key \"app-key\" (the Datadog application key of the datadog provider)"
            ),
        ),
    ];
    for (run, message) in expect {
        let status = eventually_ok(&format!("AnalysisRun {run} to end"), T, || async {
            let r = ns.api::<AnalysisRun>().get(run).await.ok()?;
            r.status.filter(|s| s.phase.is_completed())
        })
        .await?;
        // Errors do not count towards `count`; Argo's default consecutiveErrorLimit (4) ends the
        // metric at the fifth Error in a row, 10 s (the interval) apart.
        assert_eq!(status.phase, AnalysisPhase::Error, "{}", status.message);
        let m = &status.metric_results[0];
        assert_eq!((m.error, m.consecutive_error, m.count), (5, 5, 0));
        for measurement in &m.measurements {
            assert_eq!(measurement.phase, AnalysisPhase::Error);
            assert_eq!(measurement.message, message, "run {run}");
        }
    }
    let seen = seen.lock().unwrap();
    assert_eq!((seen.bodies.len(), seen.rejected), (0, 0), "Datadog was never called without keys");
    Ok(())
}

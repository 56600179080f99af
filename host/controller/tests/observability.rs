//! `/metrics` with Argo's names and labels plus plugin metrics, `/healthz` and `/readyz`.

mod common;

use std::time::Duration;

use aviary_api::{AnalysisTemplate, Rollout};
use aviary_test_support::namespace;
use common::*;
use serde_json::json;

const T: Duration = Duration::from_secs(120);

async fn get(port: u16, path: &str) -> (u16, String) {
    http_get(port, path).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_use_argos_names_and_health_means_something() -> TestResult {
    let env = env().await;
    let (metrics_port, health_port) = env.ports;
    eventually_ok("readyz 200", T, || async { (get(health_port, "/readyz").await.0 == 200).then_some(()) }).await?;
    assert_eq!(get(health_port, "/healthz").await.0, 200);

    let ns = namespace("metrics").await?;
    let _: AnalysisTemplate = create(
        &ns,
        json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate", "metadata": {"name": "steady"},
            "spec": {"metrics": [{"name": "m", "successCondition": "result > 0",
                     "provider": {"plugin": {"acme/steady": {"value": 1}}}}]}
        }),
    )
    .await;
    let steps = json!([{"setWeight": 50}, {"analysis": {"templates": [{"templateName": "steady"}]}}]);
    let _: Rollout = create(&ns, rollout("app", 2, "nginx:1.19", steps, json!({}))).await;
    wait_phase(&ns, "app", "Healthy", T).await;
    set_image(&ns, "app", "nginx:1.20").await;
    wait_phase(&ns, "app", "Healthy", T).await;

    let (status, body) = get(metrics_port, "/metrics").await;
    assert_eq!(status, 200);
    let line = |prefix: &str| body.lines().find(|l| l.starts_with(prefix)).map(str::to_string);
    let ns_name = ns.name();
    assert!(
        line(&format!("rollout_info{{namespace=\"{ns_name}\",name=\"app\",strategy=\"canary\",traffic_router=\"\",phase=\"Healthy\"}} 1"))
            .is_some(),
        "{body}"
    );
    assert!(
        line(&format!("rollout_info_replicas_available{{namespace=\"{ns_name}\",name=\"app\"}} 2")).is_some(),
        "{body}"
    );
    assert!(
        line(&format!("rollout_info_replicas_desired{{namespace=\"{ns_name}\",name=\"app\"}} 2")).is_some(),
        "{body}"
    );
    assert!(
        line(&format!("rollout_reconcile_bucket{{le=\"0.01\",namespace=\"{ns_name}\",name=\"app\"}}")).is_some(),
        "{body}"
    );
    assert!(line("analysis_run_info{").is_some_and(|l| l.contains("phase=\"Successful\"")), "{body}");
    assert!(
        line(&format!("analysis_run_metric_type{{namespace=\"{ns_name}\""))
            .is_some_and(|l| l.contains("type=\"RPCPlugin\"")),
        "{body}"
    );
    assert!(line("analysis_run_metric_phase{").is_some(), "{body}");
    // Request counters: kind, verb and status code, never an object's name or namespace.
    let requests: Vec<&str> =
        body.lines().filter(|l| l.starts_with("controller_clientset_k8s_request_total{")).collect();
    assert!(
        requests.iter().any(|l| l.contains("kind=\"rollouts/status\"")
            && l.contains("verb=\"update\"")
            && l.contains("status_code=\"200\"")),
        "{requests:#?}"
    );
    assert!(requests.iter().all(|l| !l.contains("name=") && !l.contains("namespace=")), "{requests:#?}");
    // Plugin metrics.
    assert!(
        body.lines()
            .any(|l| l.starts_with("aviary_plugin_loaded{plugin=\"acme/steady\",kind=\"metric-provider\",digest=\"")),
        "{body}"
    );
    assert!(
        body.lines()
            .any(|l| l
                .starts_with("aviary_plugin_calls_total{plugin=\"acme/steady\",operation=\"measure\",outcome=\"ok\"}")),
        "{body}"
    );
    assert!(
        body.lines().any(|l| l
            .starts_with("aviary_plugin_calls_total{plugin=\"aviary/expr\",operation=\"evaluate\",outcome=\"ok\"}")),
        "{body}"
    );
    assert!(
        body.lines()
            .any(|l| l.starts_with("aviary_plugin_call_duration_seconds_bucket{le=\"30.0\",plugin=\"acme/steady\"}")),
        "{body}"
    );
    Ok(())
}

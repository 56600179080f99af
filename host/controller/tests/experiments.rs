//! Experiments on the real control plane, named after Argo's `test/e2e/experiment_test.go` and
//! asserting what it asserts: standalone Experiments with Services and a scale-down delay, with
//! dry-run and retained metrics, and a canary `experiment:` step whose required analysis (a Job
//! run by the test cluster's fake kubelet) gets the template hashes. Beyond Argo's: an
//! experiment step whose analysis fails aborts the canary.

mod common;

use std::time::Duration;

use aviary_api::experiment::{Experiment, TemplateStatusCode};
use aviary_api::{AnalysisPhase, AnalysisRun, AnalysisTemplate, Rollout};
use aviary_test_support::{TestNamespace, namespace};
use common::*;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Service;
use kube::ResourceExt;
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(150);

/// Argo's `experiment-with-service.yaml`: 10 s, scale-down delay 5 s, one template with a
/// Service; `service` and `ports` vary by test.
fn experiment_with_service(name: &str, service: Value, ports: Value) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Experiment", "metadata": {"name": name},
        "spec": {
            "duration": "10s", "scaleDownDelaySeconds": 5,
            "templates": [{
                "name": "test", "replicas": 1, "service": service,
                "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{
                    "name": "app", "image": "nginx:1.19-alpine", "ports": ports
                }]}}
            }]
        }
    })
}

async fn experiment(ns: &TestNamespace, name: &str) -> Experiment {
    ns.api::<Experiment>().get(name).await.expect("experiment")
}

/// Waits until the experiment reaches `phase`, and returns it.
async fn wait_experiment(ns: &TestNamespace, name: &str, phase: AnalysisPhase) -> Experiment {
    let api = ns.api::<Experiment>();
    let found = eventually_ok(&format!("experiment {name} {phase}"), T, || async {
        let ex = api.get(name).await.ok()?;
        (ex.status.as_ref()?.phase == Some(phase)).then_some(ex)
    })
    .await;
    match found {
        Ok(ex) => ex,
        Err(e) => panic!(
            "{e}\nstatus: {}\ncontroller log:\n{}",
            serde_json::to_string_pretty(&experiment(ns, name).await.status).unwrap_or_default(),
            env().await.log_tail(60)
        ),
    }
}

/// The Services claimed by the experiment (its controller, both annotations): Argo's
/// `ExpectExperimentServiceCount`.
async fn claimed_services(ns: &TestNamespace, ex: &Experiment) -> Vec<Service> {
    let uid = ex.metadata.uid.clone().unwrap_or_default();
    let list = ns.api::<Service>().list(&Default::default()).await.expect("services");
    list.items
        .into_iter()
        .filter(|s| s.owner_references().iter().any(|o| o.uid == uid && o.controller == Some(true)))
        .filter(|s| s.annotations().get("experiment.argoproj.io/name") == Some(&ex.name_any()))
        .collect()
}

async fn template_rs(ns: &TestNamespace, ex: &str, template: &str) -> ReplicaSet {
    ns.api::<ReplicaSet>().get(&format!("{ex}-{template}")).await.expect("the template's ReplicaSet")
}

/// Argo's three service scenarios: Running with the ReplicaSet up and one Service; Successful
/// with the ReplicaSet scaled to zero after the delay and the Service gone.
async fn service_and_scale_down_delay(ns: &TestNamespace, name: &str, service: Value, ports: Value, svc_name: &str) {
    let _: Experiment = create(ns, experiment_with_service(name, service, ports.clone())).await;
    let running = wait_experiment(ns, name, AnalysisPhase::Running).await;
    let rs = template_rs(ns, name, "test").await;
    assert_eq!(rs.status.as_ref().map(|s| s.replicas), Some(1));
    let hash = rs.labels().get("rollouts-pod-template-hash").cloned().expect("a hash label");
    assert_eq!(
        rs.spec.as_ref().unwrap().selector.match_labels.as_ref().unwrap().get("rollouts-pod-template-hash"),
        Some(&hash)
    );
    assert_eq!(rs.annotations().get("experiment.argoproj.io/template-name").map(String::as_str), Some("test"));
    let api = ns.api::<Experiment>();
    let services = eventually_ok("the template's Service", T, || async {
        let ex = api.get(name).await.ok()?;
        let s = claimed_services(ns, &ex).await;
        (s.len() == 1).then_some(s)
    })
    .await
    .expect("one Service");
    assert_eq!(services[0].name_any(), svc_name);
    let ports_out: Vec<(Option<String>, i32)> = services[0]
        .spec
        .as_ref()
        .and_then(|s| s.ports.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|p| (p.name, p.port))
        .collect();
    let ports_in: Vec<(Option<String>, i32)> = ports
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().map(String::from), p["containerPort"].as_i64().unwrap() as i32))
        .collect();
    assert_eq!(ports_out, ports_in, "one Service port per container port");
    let selector = services[0].spec.as_ref().and_then(|s| s.selector.clone()).unwrap_or_default();
    assert_eq!(selector.get("rollouts-pod-template-hash"), Some(&hash));
    let ts = &running.status.as_ref().unwrap().template_statuses[0];
    assert_eq!(ts.status, Some(TemplateStatusCode::Running));

    wait_experiment(ns, name, AnalysisPhase::Successful).await;
    let scaled = eventually_ok("the ReplicaSet scaled down after its delay", T, || async {
        let rs = ns.api::<ReplicaSet>().get(&format!("{name}-test")).await.ok()?;
        let s = rs.status?;
        (s.replicas == 0 && s.available_replicas.unwrap_or(0) == 0).then_some(())
    })
    .await;
    assert!(scaled.is_ok(), "{scaled:?}");
    let rs = template_rs(ns, name, "test").await;
    assert!(rs.annotations().contains_key("scale-down-deadline"), "the delay is recorded on the ReplicaSet");
    let gone = eventually_ok("the Service deleted", T, || async {
        let ex = api.get(name).await.ok()?;
        claimed_services(ns, &ex).await.is_empty().then_some(())
    })
    .await;
    assert!(gone.is_ok(), "{gone:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn experiment_with_service_and_scale_down_delay() -> TestResult {
    env().await;
    let ns = namespace("ex-service").await?;
    let ports = json!([{"protocol": "TCP", "containerPort": 8080}]);
    service_and_scale_down_delay(&ns, "experiment-with-service", json!({}), ports, "experiment-with-service-test")
        .await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn experiment_with_service_name_and_scale_down_delay() -> TestResult {
    env().await;
    let ns = namespace("ex-service-name").await?;
    let ports = json!([{"protocol": "TCP", "containerPort": 8080}]);
    let service = json!({"name": "test-service-name"});
    service_and_scale_down_delay(&ns, "experiment-with-service-name", service, ports, "test-service-name").await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn experiment_with_multiport_service_and_scale_down_delay() -> TestResult {
    env().await;
    let ns = namespace("ex-multiport").await?;
    let ports = json!([
        {"name": "testport1", "protocol": "TCP", "containerPort": 8080},
        {"name": "testport2", "protocol": "TCP", "containerPort": 8081},
        {"name": "testport3", "protocol": "TCP", "containerPort": 8082}
    ]);
    service_and_scale_down_delay(&ns, "experiment-with-multiport", json!({}), ports, "experiment-with-multiport-test")
        .await;
    Ok(())
}

/// A Job metric whose container ends with `code`.
fn job_template(name: &str, code: i32) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate", "metadata": {"name": name},
        "spec": {"metrics": [{"name": "test-1", "interval": "3s", "provider": {"job": {"spec": {
            "backoffLimit": 0,
            "template": {"spec": {"restartPolicy": "Never", "containers": [{
                "name": "sleep", "image": "alpine:3.8", "command": ["sh", "-c"], "args": [format!("exit {code}")]
            }]}}
        }}}}]}
    })
}

fn standalone(name: &str, template: &str, extra: Value) -> Value {
    let mut ex = json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Experiment", "metadata": {"name": name},
        "spec": {
            "duration": "30s", "progressDeadlineSeconds": 30,
            "templates": [{
                "name": "baseline", "replicas": 1,
                "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{
                    "name": "app", "image": "nginx:1.19-alpine"
                }]}}
            }],
            "analyses": [{"name": template, "templateName": template}]
        }
    });
    if let (Some(spec), Some(extra)) = (ex["spec"].as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    ex
}

async fn the_run(ns: &TestNamespace, ex: &Experiment) -> AnalysisRun {
    let name = &ex.status.as_ref().unwrap().analysis_runs[0].analysis_run;
    ns.api::<AnalysisRun>().get(name).await.expect("the experiment's AnalysisRun")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn experiment_with_dry_run_metrics() -> TestResult {
    env().await;
    let ns = namespace("ex-dry-run").await?;
    let _: AnalysisTemplate = create(&ns, job_template("dry-run-job", 1)).await;
    let _: Experiment = create(
        &ns,
        standalone("experiment-with-dry-run", "dry-run-job", json!({"dryRun": [{"metricName": "test.*"}]})),
    )
    .await;
    let ex = wait_experiment(&ns, "experiment-with-dry-run", AnalysisPhase::Successful).await;
    assert_eq!(ex.status.as_ref().unwrap().analysis_runs[0].analysis_run, "experiment-with-dry-run-dry-run-job");
    let run = the_run(&ns, &ex).await;
    let summary = serde_json::to_value(&run.status.as_ref().unwrap().dry_run_summary)?;
    assert_eq!(summary["count"], 1, "{summary}");
    assert_eq!(summary["failed"], 1, "{summary}");
    assert_eq!(summary.get("successful").and_then(Value::as_i64).unwrap_or(0), 0, "{summary}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn experiment_with_measurement_retention_metrics() -> TestResult {
    env().await;
    let ns = namespace("ex-retention").await?;
    let _: AnalysisTemplate = create(&ns, job_template("mr-job", 0)).await;
    let retention = json!({"measurementRetention": [{"metricName": "test.*", "limit": 2}]});
    let _: Experiment = create(&ns, standalone("experiment-with-mr", "mr-job", retention)).await;
    let ex = wait_experiment(&ns, "experiment-with-mr", AnalysisPhase::Successful).await;
    let run = the_run(&ns, &ex).await;
    let measurements = &run.status.as_ref().unwrap().metric_results[0].measurements;
    assert_eq!(measurements.len(), 2, "{measurements:?}");
    Ok(())
}

/// Argo's `rollout-experiment-analysis.yaml`: step 0 an experiment of the stable and the canary
/// with a required Job analysis that echoes the four hashes, step 1 a pause.
fn echo_pod_hash() -> Value {
    let env = |name: &str, arg: &str| json!({"name": name, "value": format!("{{{{args.{arg}}}}}")});
    json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate", "metadata": {"name": "echo-pod-hash"},
        "spec": {
            "args": [{"name": "latest-hash"}, {"name": "stable-hash"}, {"name": "baseline-hash"}, {"name": "canary-hash"}],
            "metrics": [{"name": "echo-pod-hash", "provider": {"job": {
                "metadata": {"labels": {"foo": "bar"}, "annotations": {"foo2": "bar2"}},
                "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never", "containers": [{
                    "name": "echo-pod-hash", "image": "nginx:1.19-alpine", "command": ["sh", "-c"],
                    // The fake kubelet ends a container at its `exit`.
                    "args": ["echo $(LATEST_HASH) $(STABLE_HASH) $(BASELINE_HASH) $(CANARY_HASH); exit 0"],
                    "env": [env("LATEST_HASH", "latest-hash"), env("STABLE_HASH", "stable-hash"),
                            env("BASELINE_HASH", "baseline-hash"), env("CANARY_HASH", "canary-hash")]
                }]}}}
            }}}]
        }
    })
}

fn experiment_step(template: &str) -> Value {
    json!({"experiment": {
        "templates": [{"name": "baseline", "specRef": "stable"}, {"name": "canary", "specRef": "canary"}],
        "analyses": [{"name": template, "templateName": template, "requiredForCompletion": true, "args": [
            {"name": "stable-hash", "valueFrom": {"podTemplateHashValue": "Stable"}},
            {"name": "latest-hash", "valueFrom": {"podTemplateHashValue": "Latest"}},
            {"name": "baseline-hash", "value": "{{templates.baseline.podTemplateHash}}"},
            {"name": "canary-hash", "value": "{{templates.canary.podTemplateHash}}"}
        ]}]
    }})
}

async fn rs_of_revision(ns: &TestNamespace, rollout: &str, revision: &str) -> ReplicaSet {
    let list = ns.api::<ReplicaSet>().list(&Default::default()).await.expect("list");
    list.items
        .into_iter()
        .find(|rs| {
            rs.owner_references().iter().any(|o| o.kind == "Rollout" && o.name == rollout)
                && rs.annotations().get("rollout.argoproj.io/revision").map(String::as_str) == Some(revision)
        })
        .unwrap_or_else(|| panic!("no ReplicaSet of revision {revision}"))
}

fn pod_hash(rs: &ReplicaSet) -> String {
    rs.labels().get("rollouts-pod-template-hash").cloned().unwrap_or_default()
}

fn pod_spec(rs: &ReplicaSet) -> Value {
    serde_json::to_value(rs.spec.as_ref().and_then(|s| s.template.as_ref()).and_then(|t| t.spec.as_ref())).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_with_experiment_and_analysis() -> TestResult {
    env().await;
    let ns = namespace("ex-rollout").await?;
    let _: AnalysisTemplate = create(&ns, echo_pod_hash()).await;
    let steps = json!([experiment_step("echo-pod-hash"), {"pause": {}}]);
    let _: Rollout = create(&ns, rollout("rollout-experiment", 1, "nginx:1.19-alpine", steps, json!({}))).await;
    wait_phase(&ns, "rollout-experiment", "Healthy", T).await;
    assert!(
        ns.api::<Experiment>().list(&Default::default()).await?.items.is_empty(),
        "no experiment on the first deploy"
    );
    set_image(&ns, "rollout-experiment", "nginx:1.20-alpine").await;
    wait_phase(&ns, "rollout-experiment", "Paused", T).await;

    let exs = ns.api::<Experiment>().list(&Default::default()).await?.items;
    assert_eq!(exs.len(), 1);
    let ex = &exs[0];
    assert_eq!(ex.annotations().get("rollout.argoproj.io/revision").map(String::as_str), Some("2"));
    assert_eq!(ex.status.as_ref().unwrap().phase, Some(AnalysisPhase::Successful));
    assert_eq!(ex.status.as_ref().unwrap().message, "Required AnalysisRuns completed");
    let (rev1, rev2) =
        (rs_of_revision(&ns, "rollout-experiment", "1").await, rs_of_revision(&ns, "rollout-experiment", "2").await);
    assert!(!pod_hash(&rev1).is_empty() && pod_hash(&rev1) != pod_hash(&rev2));
    assert!(ex.name_any().starts_with(&format!("rollout-experiment-{}-2-0", pod_hash(&rev2))), "{}", ex.name_any());
    let baseline = template_rs(&ns, &ex.name_any(), "baseline").await;
    let canary = template_rs(&ns, &ex.name_any(), "canary").await;
    assert_eq!(pod_spec(&baseline), pod_spec(&rev1), "baseline runs the stable's pods");
    assert_eq!(pod_spec(&canary), pod_spec(&rev2), "canary runs the canary's pods");
    assert_ne!(pod_hash(&canary), pod_hash(&rev2), "the experiment hashes its own template");

    let runs: Vec<AnalysisRun> = ns
        .api::<AnalysisRun>()
        .list(&Default::default())
        .await?
        .items
        .into_iter()
        .filter(|r| r.owner_references().iter().any(|o| o.kind == "Experiment" && o.name == ex.name_any()))
        .collect();
    assert_eq!(runs.len(), 1);
    let jobs: Vec<Job> = ns
        .api::<Job>()
        .list(&Default::default())
        .await?
        .items
        .into_iter()
        .filter(|j| j.owner_references().iter().any(|o| o.name == runs[0].name_any()))
        .collect();
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    let container = &job.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0];
    let env: Vec<String> = container.env.iter().flatten().map(|e| e.value.clone().unwrap_or_default()).collect();
    assert_eq!(env, vec![pod_hash(&rev2), pod_hash(&rev1), pod_hash(&baseline), pod_hash(&canary)]);
    assert_ne!(env[2], env[3]);
    assert_eq!(job.labels().get("foo").map(String::as_str), Some("bar"));
    assert_eq!(job.annotations().get("foo2").map(String::as_str), Some("bar2"));

    patch_status(&ns, "rollout-experiment", json!({"status": {"pauseConditions": null}})).await;
    wait_phase(&ns, "rollout-experiment", "Healthy", T).await;
    Ok(())
}

/// An experiment step whose required analysis fails aborts the canary with the experiment's
/// message; the rollout goes back to its stable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_experiment_step_with_a_failing_analysis_aborts_the_canary() -> TestResult {
    env().await;
    let ns = namespace("ex-abort").await?;
    let _: AnalysisTemplate = create(&ns, job_template("fails", 1)).await;
    let step = json!({"experiment": {
        "templates": [{"name": "canary", "specRef": "canary"}],
        "analyses": [{"name": "fails", "templateName": "fails", "requiredForCompletion": true}]
    }});
    let _: Rollout = create(&ns, rollout("app", 1, "nginx:1.19", json!([step, {"pause": {}}]), json!({}))).await;
    let stable = wait_phase(&ns, "app", "Healthy", T).await.status.unwrap().stable_rs;
    set_image(&ns, "app", "nginx:1.20").await;
    let degraded = wait_phase(&ns, "app", "Degraded", T).await.status.unwrap();
    assert!(degraded.abort);
    assert_eq!(degraded.stable_rs, stable);
    assert!(
        degraded.message.contains(
            "RolloutAborted: Rollout aborted update to revision 2: Experiment analysis phase is error/failed"
        ),
        "{}",
        degraded.message
    );
    assert_eq!(degraded.canary.current_experiment, "", "a finished experiment is not current");
    let ex = ns.api::<Experiment>().list(&Default::default()).await?.items.into_iter().next().expect("the experiment");
    assert_eq!(ex.status.as_ref().unwrap().phase, Some(AnalysisPhase::Failed));
    Ok(())
}

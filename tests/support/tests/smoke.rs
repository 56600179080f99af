//! Smoke tests of the test control plane through kube-rs: the real controllers act on the pods that
//! the fake kubelet plays. Each test uses its own namespace and waits on conditions with timeouts.

use std::time::Duration;

use aviary_test_support::{TestNamespace, eventually, namespace, wait_for_object};
use k8s_openapi::api::{
    apps::v1::{Deployment, ReplicaSet},
    batch::v1::Job,
    core::v1::Pod,
};
use kube::{
    Api,
    api::{DeleteParams, ListParams, Patch, PatchParams, PostParams},
};
use serde_json::json;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

const TIMEOUT: Duration = Duration::from_secs(90);

fn condition_is<'a>(conditions: impl IntoIterator<Item = (&'a str, &'a str)>, type_: &str) -> Option<&'a str> {
    conditions.into_iter().find(|(t, _)| *t == type_).map(|(_, s)| s)
}

fn pod_condition<'a>(pod: &'a Pod, type_: &str) -> Option<&'a str> {
    let conditions = pod.status.as_ref()?.conditions.as_ref()?;
    condition_is(conditions.iter().map(|c| (c.type_.as_str(), c.status.as_str())), type_)
}

fn job_condition<'a>(job: &'a Job, type_: &str) -> Option<&'a str> {
    let conditions = job.status.as_ref()?.conditions.as_ref()?;
    condition_is(conditions.iter().map(|c| (c.type_.as_str(), c.status.as_str())), type_)
}

fn pod_template(app: &str, image: &str) -> serde_json::Value {
    json!({
        "metadata": {"labels": {"app": app}},
        "spec": {"containers": [{"name": "main", "image": image}]}
    })
}

async fn pods_with_label(ns: &TestNamespace, app: &str) -> Result<Vec<Pod>, kube::Error> {
    let pods: Api<Pod> = ns.api();
    Ok(pods.list(&ListParams::default().labels(&format!("app={app}"))).await?.items)
}

#[tokio::test]
async fn deployment_of_three_becomes_available() -> TestResult {
    let ns = namespace("deployment").await?;
    let deployments: Api<Deployment> = ns.api();
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": pod_template("web", "nginx:1.19-alpine"),
        }
    }))?;
    deployments.create(&PostParams::default(), &deployment).await?;

    let available = |d: Option<&Deployment>| {
        d.and_then(|d| d.status.as_ref()).is_some_and(|s| {
            s.available_replicas == Some(3)
                && s.conditions.iter().flatten().any(|c| c.type_ == "Available" && c.status == "True")
        })
    };
    wait_for_object(&deployments, "web", TIMEOUT, available).await?;

    let pods = pods_with_label(&ns, "web").await?;
    assert_eq!(pods.len(), 3, "three pods, owned through a ReplicaSet");
    for pod in &pods {
        assert_eq!(pod_condition(pod, "Ready"), Some("True"), "pod {:?}", pod.metadata.name);
        assert!(pod.status.as_ref().and_then(|s| s.pod_ip.as_ref()).is_some(), "pods get an IP");
    }
    Ok(())
}

#[tokio::test]
async fn replicaset_scaled_to_zero_deletes_its_pods() -> TestResult {
    let ns = namespace("replicaset").await?;
    let replicasets: Api<ReplicaSet> = ns.api();
    let rs: ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": "rs"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "rs"}},
            "template": pod_template("rs", "nginx:1.19-alpine"),
        }
    }))?;
    replicasets.create(&PostParams::default(), &rs).await?;
    let ready =
        |rs: Option<&ReplicaSet>| rs.and_then(|rs| rs.status.as_ref()).is_some_and(|s| s.ready_replicas == Some(2));
    wait_for_object(&replicasets, "rs", TIMEOUT, ready).await?;
    assert_eq!(pods_with_label(&ns, "rs").await?.len(), 2);

    replicasets.patch_scale("rs", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 0}}))).await?;
    eventually("the ReplicaSet's pods to be deleted", TIMEOUT, || async {
        Ok(pods_with_label(&ns, "rs").await?.is_empty().then_some(()))
    })
    .await?;
    let rs = replicasets.get("rs").await?;
    assert_eq!(rs.status.and_then(|s| s.ready_replicas).unwrap_or(0), 0);
    Ok(())
}

async fn run_job(
    ns: &TestNamespace,
    name: &str,
    script: &str,
) -> Result<Job, Box<dyn std::error::Error + Send + Sync>> {
    let jobs: Api<Job> = ns.api();
    let job: Job = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "main", "image": "alpine:3.8", "command": ["sh", "-c", script]}]
                }
            }
        }
    }))?;
    jobs.create(&PostParams::default(), &job).await?;
    let finished = |j: Option<&Job>| {
        j.is_some_and(|j| job_condition(j, "Complete") == Some("True") || job_condition(j, "Failed") == Some("True"))
    };
    Ok(wait_for_object(&jobs, name, TIMEOUT, finished).await?.expect("a finished job exists"))
}

#[tokio::test]
async fn job_that_exits_1_fails() -> TestResult {
    let ns = namespace("job-fail").await?;
    let job = run_job(&ns, "fails", "sleep 1 && exit 1").await?;
    assert_eq!(job_condition(&job, "Failed"), Some("True"), "{:?}", job.status);
    assert_eq!(job.status.as_ref().and_then(|s| s.failed), Some(1));

    let pods: Api<Pod> = ns.api();
    let pod =
        pods.list(&ListParams::default().labels("job-name=fails")).await?.items.pop().expect("the job's pod is kept");
    let status = pod.status.expect("pod status");
    assert_eq!(status.phase.as_deref(), Some("Failed"));
    let exit_code = status
        .container_statuses
        .as_ref()
        .and_then(|cs| cs[0].state.as_ref()?.terminated.as_ref().map(|t| t.exit_code));
    assert_eq!(exit_code, Some(1));
    Ok(())
}

#[tokio::test]
async fn job_that_exits_0_completes() -> TestResult {
    let ns = namespace("job-ok").await?;
    let job = run_job(&ns, "succeeds", "sleep 1 && exit 0").await?;
    assert_eq!(job_condition(&job, "Complete"), Some("True"), "{:?}", job.status);
    assert_eq!(job.status.as_ref().and_then(|s| s.succeeded), Some(1));
    Ok(())
}

#[tokio::test]
async fn pod_with_readiness_gate_is_ready_only_after_the_gate_is_true() -> TestResult {
    const GATE: &str = "aviary.dev/e2e-readiness";
    let ns = namespace("gate").await?;
    let pods: Api<Pod> = ns.api();
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "gated"},
        "spec": {
            "readinessGates": [{"conditionType": GATE}],
            "containers": [{"name": "main", "image": "nginx:1.19-alpine"}]
        }
    }))?;
    pods.create(&PostParams::default(), &pod).await?;

    // The kubelet writes ContainersReady and Ready in the same status update, so once the
    // containers are ready we know what it decided about Ready.
    let containers_ready = |p: Option<&Pod>| p.is_some_and(|p| pod_condition(p, "ContainersReady") == Some("True"));
    let pod = wait_for_object(&pods, "gated", TIMEOUT, containers_ready).await?.expect("pod");
    assert_eq!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Running"));
    assert_eq!(pod_condition(&pod, "Ready"), Some("False"), "not Ready while the gate is missing");

    // What Argo's e2e does: set the gate's condition through the status subresource.
    let patch = json!({"status": {"conditions": [{"type": GATE, "status": "True"}]}});
    pods.patch_status("gated", &PatchParams::default(), &Patch::Strategic(patch)).await?;
    let ready = |p: Option<&Pod>| p.is_some_and(|p| pod_condition(p, "Ready") == Some("True"));
    let pod = wait_for_object(&pods, "gated", TIMEOUT, ready).await?.expect("pod");
    assert_eq!(pod_condition(&pod, GATE), Some("True"), "the gate condition is kept");
    Ok(())
}

#[tokio::test]
async fn pod_with_missing_image_never_becomes_ready() -> TestResult {
    let ns = namespace("bad-image").await?;
    let pods: Api<Pod> = ns.api();
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "broken"},
        "spec": {"containers": [{"name": "main", "image": "registry.invalid/does-not-exist:1.0"}]}
    }))?;
    pods.create(&PostParams::default(), &pod).await?;

    let pull_failed = |p: Option<&Pod>| {
        p.and_then(|p| p.status.as_ref()?.container_statuses.as_ref()?.first().cloned())
            .and_then(|cs| cs.state?.waiting?.reason)
            .is_some_and(|r| r == "ErrImagePull")
    };
    let pod = wait_for_object(&pods, "broken", TIMEOUT, pull_failed).await?.expect("pod");
    assert_eq!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Pending"));
    assert_eq!(pod_condition(&pod, "Ready"), Some("False"));

    // And it stays that way: watch it for a while and expect no Ready.
    let ready = |p: Option<&Pod>| p.is_some_and(|p| pod_condition(p, "Ready") == Some("True"));
    let outcome = wait_for_object(&pods, "broken", Duration::from_secs(3), ready).await;
    assert!(matches!(outcome, Err(aviary_test_support::Error::WaitTimeout { .. })), "became Ready: {outcome:?}");
    Ok(())
}

#[tokio::test]
async fn deleting_a_deployment_collects_its_replicasets_and_pods() -> TestResult {
    let ns = namespace("gc").await?;
    let deployments: Api<Deployment> = ns.api();
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "gc"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "gc"}},
            "template": pod_template("gc", "nginx:1.19-alpine"),
        }
    }))?;
    deployments.create(&PostParams::default(), &deployment).await?;
    let available =
        |d: Option<&Deployment>| d.and_then(|d| d.status.as_ref()).is_some_and(|s| s.available_replicas == Some(2));
    wait_for_object(&deployments, "gc", TIMEOUT, available).await?;

    // Background propagation: the garbage collector follows the owner references.
    deployments.delete("gc", &DeleteParams::background()).await?;
    let replicasets: Api<ReplicaSet> = ns.api();
    eventually("the garbage collector to delete the ReplicaSet and pods", TIMEOUT, || async {
        let rs_left = replicasets.list(&ListParams::default()).await?.items.len();
        let pods_left = pods_with_label(&ns, "gc").await?.len();
        Ok((rs_left == 0 && pods_left == 0).then_some(()))
    })
    .await?;
    Ok(())
}

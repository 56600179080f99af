//! `workloadRef` on the real control plane (the test cluster runs the Deployment controller),
//! named after the workloadRef cases of Argo's `test/e2e/functional_test.go` and asserting what
//! they assert; plus: a Deployment migrated progressively never leaves fewer pods available than
//! the Rollout's `maxUnavailable` allows, and deleting the referenced Deployment is a reported
//! error (InvalidSpec), not a crash, that clears when it comes back.

mod common;

use std::time::Duration;

use aviary_api::Rollout;
use aviary_test_support::{TestNamespace, namespace};
use common::*;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(150);

fn deployment(name: &str, replicas: i32, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "app", "image": image}]}}
        }
    })
}

/// A Rollout whose pods come from Deployment `target`.
fn referencing(name: &str, target: &str, replicas: i32, scale_down: &str, strategy: Value) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "workloadRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target, "scaleDown": scale_down},
            "strategy": strategy
        }
    })
}

fn blue_green(active: &str) -> Value {
    json!({"blueGreen": {"activeService": active}})
}

async fn active_service(ns: &TestNamespace, name: &str, app: &str) {
    let _: Service = create(
        ns,
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
               "spec": {"selector": {"app": app}, "ports": [{"port": 80, "targetPort": 8080}]}}),
    )
    .await;
}

async fn selector(ns: &TestNamespace, service: &str) -> std::collections::BTreeMap<String, String> {
    let svc = ns.api::<Service>().get(service).await.expect("service");
    svc.spec.and_then(|s| s.selector).unwrap_or_default()
}

async fn deployment_replicas(ns: &TestNamespace, name: &str) -> Option<i32> {
    ns.api::<Deployment>().get(name).await.ok()?.spec?.replicas
}

async fn wait_deployment_replicas(ns: &TestNamespace, name: &str, want: i32) {
    let got = eventually_ok(&format!("Deployment {name} at {want}"), T, || async {
        (deployment_replicas(ns, name).await == Some(want)).then_some(())
    })
    .await;
    assert!(
        got.is_ok(),
        "{got:?}: at {:?}\ncontroller log:\n{}",
        deployment_replicas(ns, name).await,
        env().await.log_tail(40)
    );
}

async fn set_deployment_image(ns: &TestNamespace, name: &str, image: &str) {
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}});
    ns.api::<Deployment>().patch(name, &PatchParams::default(), &Patch::Strategic(&patch)).await.expect("patch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workload_ref_template() -> TestResult {
    env().await;
    let ns = namespace("wr-template").await?;
    let _: Deployment = create(&ns, deployment("rollout-ref-deployment", 0, "nginx:green")).await;
    let mut manifest =
        referencing("rollout-ref", "rollout-ref-deployment", 1, "", blue_green("rollout-bluegreen-active"));
    manifest["spec"]["selector"] = json!({"matchLabels": {"app": "rollout-ref-deployment"}});
    manifest["spec"]["template"] = json!({"metadata": {"labels": {"app": "rollout-ref-deployment"}}});
    let _: Rollout = create(&ns, manifest).await;
    let s = wait_phase(&ns, "rollout-ref", "Degraded", T).await.status.unwrap();
    assert_eq!(s.conditions.len(), 1, "{:?}", s.conditions);
    assert!(
        s.conditions[0].message.contains("template must be empty for workload reference rollout"),
        "{}",
        s.conditions[0].message
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workload_ref() -> TestResult {
    env().await;
    let ns = namespace("wr").await?;
    let app = "rollout-ref-deployment";
    active_service(&ns, "rollout-bluegreen-active", app).await;
    let mut manifest = referencing("rollout-ref", app, 1, "", blue_green("rollout-bluegreen-active"));
    manifest["spec"]["progressDeadlineSeconds"] = json!(5);
    manifest["spec"]["revisionHistoryLimit"] = json!(2);
    let _: Rollout = create(&ns, manifest).await;

    // 1. No Deployment yet: Degraded, and the Service untouched.
    let s = wait_phase(&ns, "rollout-ref", "Degraded", T).await.status.unwrap();
    assert!(s.message.contains(&format!("deployments.apps \"{}/{app}\" not found", ns.name())), "{}", s.message);
    assert!(s.message.contains(r#"spec.workloadRef: Invalid value: {"apiVersion":"apps/v1","kind":"Deployment","name":"rollout-ref-deployment"}"#), "{}", s.message);
    assert_eq!(selector(&ns, "rollout-bluegreen-active").await, [("app".to_string(), app.to_string())].into());

    // 2. The Deployment appears: Healthy, generation 1 observed, the Service on the Rollout's pods.
    let _: Deployment = create(&ns, deployment(app, 0, "nginx:green")).await;
    let s = wait_phase(&ns, "rollout-ref", "Healthy", T).await.status.unwrap();
    assert_eq!(s.workload_observed_generation, "1");
    let want: std::collections::BTreeMap<String, String> =
        [("app".to_string(), app.to_string()), ("rollouts-pod-template-hash".to_string(), s.current_pod_hash.clone())]
            .into();
    assert_eq!(selector(&ns, "rollout-bluegreen-active").await, want);

    // 3. A broken image in the Deployment: Degraded at the progress deadline, generation 2.
    set_deployment_image(&ns, app, "nginx:does-not-exist").await;
    let s = wait_phase(&ns, "rollout-ref", "Degraded", T).await.status.unwrap();
    assert_eq!(s.workload_observed_generation, "2");
    // 4. Fixed: Healthy.
    set_deployment_image(&ns, app, "nginx:blue").await;
    wait_phase(&ns, "rollout-ref", "Healthy", T).await;

    // 5. A reference to nothing: Degraded. 6. Back: Healthy, and nothing resolved was stored.
    let rollouts = ns.api::<Rollout>();
    let to = |n: &str| json!({"spec": {"workloadRef": {"name": n}}});
    rollouts.patch("rollout-ref", &PatchParams::default(), &Patch::Merge(&to("non-existent-deploy"))).await?;
    wait_phase(&ns, "rollout-ref", "Degraded", T).await;
    rollouts.patch("rollout-ref", &PatchParams::default(), &Patch::Merge(&to(app))).await?;
    let healthy = wait_phase(&ns, "rollout-ref", "Healthy", T).await;
    assert!(healthy.spec.selector.is_none(), "the resolved selector is not stored");
    let containers = healthy.spec.template.and_then(|t| t.spec).map_or(0, |s| s.containers.len());
    assert_eq!(containers, 0, "the resolved template is not stored");

    // 7. An inline template instead: Healthy, no workload generation.
    let inline = json!({"spec": {
        "workloadRef": null,
        "selector": {"matchLabels": {"app": app}},
        "template": {"metadata": {"labels": {"app": app}}, "spec": {"containers": [{"name": "app", "image": "nginx:blue"}]}}
    }});
    rollouts.patch("rollout-ref", &PatchParams::default(), &Patch::Merge(&inline)).await?;
    let s = wait_phase(&ns, "rollout-ref", "Healthy", T).await.status.unwrap();
    assert_eq!(s.workload_observed_generation, "");
    Ok(())
}

async fn scale_down(ns: &TestNamespace, mode: &str) {
    let app = "rollout-ref-deployment";
    active_service(ns, "rollout-bluegreen-active", app).await;
    let _: Deployment = create(ns, deployment(app, 2, "nginx:green")).await;
    let _: Rollout = create(ns, referencing("rollout-ref", app, 2, mode, blue_green("rollout-bluegreen-active"))).await;
    wait_phase(ns, "rollout-ref", "Healthy", T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_down_on_success() -> TestResult {
    env().await;
    let ns = namespace("wr-onsuccess").await?;
    scale_down(&ns, "onsuccess").await;
    wait_deployment_replicas(&ns, "rollout-ref-deployment", 0).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_down_progressively() -> TestResult {
    env().await;
    let ns = namespace("wr-progressively").await?;
    scale_down(&ns, "progressively").await;
    wait_deployment_replicas(&ns, "rollout-ref-deployment", 0).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_scale_down() -> TestResult {
    env().await;
    let ns = namespace("wr-never").await?;
    scale_down(&ns, "never").await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(deployment_replicas(&ns, "rollout-ref-deployment").await, Some(2));
    Ok(())
}

/// Argo's TestScaleDownProgressivelyCompletedCanary, with availability watched all along: a
/// 4-pod Deployment migrated to a canary Rollout with `maxUnavailable: 0` never has fewer than 4
/// pods available between the two; the Deployment is at zero after later scaling (once the
/// Rollout is Healthy) and stays there through a later revision.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_down_progressively_completed_canary_never_below_max_unavailable() -> TestResult {
    env().await;
    let ns = namespace("wr-canary").await?;
    let app = "rollout-ref-canary";
    let _: Deployment = create(&ns, deployment(app, 4, "nginx:green")).await;
    let deployments = ns.api::<Deployment>();
    eventually_ok("the Deployment's 4 pods available", T, || async {
        let d = deployments.get(app).await.ok()?;
        (d.status?.available_replicas == Some(4)).then_some(())
    })
    .await?;
    let steps = json!([
        {"setWeight": 25}, {"pause": {"duration": "2s"}},
        {"setWeight": 50}, {"pause": {"duration": "2s"}},
        {"setWeight": 75}, {"pause": {"duration": "2s"}}
    ]);
    let strategy = json!({"canary": {"maxSurge": 1, "maxUnavailable": 0, "steps": steps}});
    let mut manifest = referencing("rollout-ref", app, 4, "progressively", strategy);
    manifest["spec"]["selector"] = json!({"matchLabels": {"app": app}});
    let _: Rollout = create(&ns, manifest).await;
    let rollouts = ns.api::<Rollout>();
    let mut lowest = i32::MAX;
    let deadline = std::time::Instant::now() + T;
    loop {
        let d = deployments.get(app).await?;
        let r = rollouts.get("rollout-ref").await?;
        let deployment_available = d.status.and_then(|s| s.available_replicas).unwrap_or(0);
        let rollout_available = r.status.as_ref().map_or(0, |s| s.available_replicas);
        lowest = lowest.min(deployment_available + rollout_available);
        let healthy = r.status.as_ref().and_then(|s| s.phase).map(|p| format!("{p:?}")).as_deref() == Some("Healthy");
        if healthy && d.spec.and_then(|s| s.replicas) == Some(0) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "migration did not finish; lowest availability {lowest}");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert!(lowest >= 4, "at some moment only {lowest} pods were available (maxUnavailable 0 of 4)");

    rollouts.patch("rollout-ref", &PatchParams::default(), &Patch::Merge(&json!({"spec": {"replicas": 8}}))).await?;
    eventually_ok("8 pods", T, || async {
        let s = rollouts.get("rollout-ref").await.ok()?.status?;
        (s.available_replicas == 8 && s.replicas == 8).then_some(())
    })
    .await?;
    // While the new pods become ready, Argo's rule gives the Deployment the difference back
    // (`replicas - ready`, the first revision still current); once Healthy, it is at zero again.
    wait_phase(&ns, "rollout-ref", "Healthy", T).await;
    wait_deployment_replicas(&ns, app, 0).await;
    let before = rollouts.get("rollout-ref").await?.status.unwrap_or_default().stable_rs;
    set_deployment_image(&ns, app, "nginx:blue").await;
    let generation = ns.api::<Deployment>().get(app).await?.metadata.generation.unwrap_or(0).to_string();
    let done = eventually_ok("the new revision promoted", Duration::from_secs(200), || async {
        let s = rollouts.get("rollout-ref").await.ok()?.status?;
        let healthy = s.phase.map(|p| format!("{p:?}")).as_deref() == Some("Healthy");
        (healthy && s.stable_rs != before && s.workload_observed_generation == generation).then_some(())
    })
    .await;
    assert!(done.is_ok(), "{done:?}\ncontroller log:\n{}", env().await.log_tail(40));
    assert_eq!(deployment_replicas(&ns, app).await, Some(0), "later revisions never touch the Deployment");
    Ok(())
}

/// Deleting the referenced Deployment: the Rollout says so (InvalidSpec, Degraded) and the
/// controller carries on; the Deployment back, the Rollout is Healthy again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_referenced_deployment_is_a_reported_error() -> TestResult {
    env().await;
    let ns = namespace("wr-deleted").await?;
    scale_down(&ns, "never").await;
    ns.api::<Deployment>().delete("rollout-ref-deployment", &DeleteParams::default()).await?;
    let s = wait_phase(&ns, "rollout-ref", "Degraded", T).await.status.unwrap();
    assert!(s.message.starts_with("InvalidSpec: "), "{}", s.message);
    assert!(s.message.contains("not found"), "{}", s.message);
    let _: Deployment = create(&ns, deployment("rollout-ref-deployment", 2, "nginx:green")).await;
    wait_phase(&ns, "rollout-ref", "Healthy", T).await;
    Ok(())
}

//! A blue-green update survives SIGKILLs at its most delicate moment: the controller is killed
//! right after it switched the active Service (before it marked the old ReplicaSet for scale-down)
//! and again once it had written the scale-down deadline. The restarted controller finishes the
//! rollout, scales the old ReplicaSet down at the deadline it wrote (not later, not earlier, not
//! reset by the restart), and a watch on the pods and the Service never sees the active Service
//! select a ReplicaSet without a ready pod.
//!
//! A test binary of its own: it kills the controller that every test of its binary shares.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aviary_api::Rollout;
use aviary_test_support::{TestNamespace, namespace};
use chrono::{DateTime, Utc};
use common::*;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::ResourceExt;
use kube::runtime::watcher;
use serde_json::json;

const T: Duration = Duration::from_secs(120);
const HASH: &str = "rollouts-pod-template-hash";
const DELAY_SECONDS: i64 = 10;

fn ready(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The active Service's pod-template hash (empty when none).
fn selected(svc: &Service) -> String {
    svc.spec.as_ref().and_then(|s| s.selector.as_ref()).and_then(|s| s.get(HASH)).cloned().unwrap_or_default()
}

/// Watches the pods and the active Service together; records every moment (after `armed`) at
/// which the Service selects a hash with no ready pod.
fn watch_active(ns: &TestNamespace, armed: Arc<Mutex<bool>>) -> Arc<Mutex<Vec<String>>> {
    let violations = Arc::new(Mutex::new(Vec::new()));
    let state: Arc<Mutex<(HashMap<String, Pod>, String)>> = Arc::new(Mutex::new((HashMap::new(), String::new())));
    let check = {
        let (violations, state, armed) = (violations.clone(), state.clone(), armed.clone());
        move |what: &str| {
            if !*armed.lock().unwrap() {
                return;
            }
            let (pods, active) = &*state.lock().unwrap();
            let n = pods.values().filter(|p| p.labels().get(HASH) == Some(active) && ready(p)).count();
            if n == 0 {
                let at = Utc::now().format("%H:%M:%S%.3f");
                violations
                    .lock()
                    .unwrap()
                    .push(format!("{at} after {what}: active selects {active:?} with no ready pod"));
            }
        }
    };
    let pods_api = ns.api::<Pod>();
    let (s, c) = (state.clone(), check.clone());
    tokio::spawn(async move {
        let mut events = watcher(pods_api, watcher::Config::default()).boxed();
        while let Some(event) = events.next().await {
            match event {
                Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) => {
                    s.lock().unwrap().0.insert(p.name_any(), p);
                }
                Ok(watcher::Event::Delete(p)) => {
                    s.lock().unwrap().0.remove(&p.name_any());
                }
                _ => continue,
            }
            c("a pod event");
        }
    });
    let services = ns.api::<Service>();
    tokio::spawn(async move {
        let config = watcher::Config::default().fields("metadata.name=app-active");
        let mut events = watcher(services, config).boxed();
        while let Some(event) = events.next().await {
            if let Ok(watcher::Event::Apply(svc) | watcher::Event::InitApply(svc)) = event {
                state.lock().unwrap().1 = selected(&svc);
                check("a Service event");
            }
        }
    });
    violations
}

async fn old_replica_set(ns: &TestNamespace, hash: &str) -> ReplicaSet {
    ns.api::<ReplicaSet>().get(&format!("app-{hash}")).await.expect("old ReplicaSet")
}

fn deadline(rs: &ReplicaSet) -> Option<DateTime<Utc>> {
    rs.annotations().get("scale-down-deadline").and_then(|d| DateTime::parse_from_rfc3339(d).ok()).map(|d| d.to_utc())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_killed_around_the_switch_finishes_without_an_empty_active_service() -> TestResult {
    let env = env().await;
    let ns = namespace("bg-kills").await?;
    let _: Service = create(
        &ns,
        json!({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "app-active"},
            "spec": {"selector": {"app": "app"}, "ports": [{"port": 80, "targetPort": 8080}]}
        }),
    )
    .await;
    let mut manifest = rollout("app", 3, "nginx:1.0", json!([]), json!({}));
    manifest["spec"]["strategy"] =
        json!({"blueGreen": {"activeService": "app-active", "scaleDownDelaySeconds": DELAY_SECONDS}});
    let _: Rollout = create(&ns, manifest).await;
    let first = wait_phase(&ns, "app", "Healthy", T).await;
    let old_hash = first.status.unwrap_or_default().stable_rs;

    let armed = Arc::new(Mutex::new(false));
    let violations = watch_active(&ns, armed.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;
    *armed.lock().unwrap() = true;

    set_image(&ns, "app", "nginx:1.1").await;
    // Kill the moment the active Service leaves the old ReplicaSet.
    let services = ns.api::<Service>();
    eventually_ok("the active Service to switch", T, || async {
        let svc = services.get("app-active").await.ok()?;
        let s = selected(&svc);
        (!s.is_empty() && s != old_hash).then_some(())
    })
    .await?;
    env.kill_controller();
    let old = old_replica_set(&ns, &old_hash).await;
    println!("killed after the switch; old ReplicaSet deadline then: {:?}", deadline(&old));
    tokio::time::sleep(Duration::from_secs(2)).await;
    env.restart_controller();

    // The restarted controller marks the old ReplicaSet; kill it again once it has.
    let marked = eventually_ok("the old ReplicaSet's scale-down deadline", T, || async {
        deadline(&old_replica_set(&ns, &old_hash).await)
    })
    .await?;
    env.kill_controller();
    let still = old_replica_set(&ns, &old_hash).await;
    assert_eq!(still.spec.as_ref().and_then(|s| s.replicas), Some(3), "kept at full size until its deadline");
    tokio::time::sleep(Duration::from_secs(2)).await;
    env.restart_controller();

    let scaled_at = eventually_ok("the old ReplicaSet scaled down", T, || async {
        let rs = old_replica_set(&ns, &old_hash).await;
        (rs.spec.as_ref().and_then(|s| s.replicas) == Some(0)).then(Utc::now)
    })
    .await?;
    assert!(scaled_at >= marked, "scaled down at {scaled_at}, before its deadline {marked}");
    assert!(
        scaled_at <= marked + chrono::Duration::seconds(DELAY_SECONDS),
        "scaled down at {scaled_at}, long after its deadline {marked}: the restart must not reset it"
    );
    let done = wait_phase(&ns, "app", "Healthy", T).await;
    let status = done.status.unwrap_or_default();
    assert_eq!(status.stable_rs, status.current_pod_hash);
    assert_eq!(status.blue_green.active_selector, status.current_pod_hash);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seen = violations.lock().unwrap().clone();
    assert!(seen.is_empty(), "the active Service selected no ready pod: {seen:#?}\n{}", env.log_tail(40));
    Ok(())
}

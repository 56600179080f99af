//! Two controllers with leader election: only the leader writes; when it dies, the other takes
//! over within the lease duration and finishes the rollout.

mod common;

use std::time::{Duration, Instant};

use aviary_api::Rollout;
use aviary_test_support::namespace;
use common::*;
use serde_json::json;

const T: Duration = Duration::from_secs(120);

async fn http_status(port: u16, path: &str) -> u16 {
    http_get(port, path).await.0
}

async fn body(port: u16, path: &str) -> String {
    http_get(port, path).await.1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_writes_and_a_follower_takes_over_within_the_lease() -> TestResult {
    let env = env().await;
    eventually_ok("the first controller ready", T, || async {
        (http_status(env.ports.1, "/readyz").await == 200).then_some(())
    })
    .await?;

    // A second controller: a follower, not ready, writing nothing but lease reads.
    let ports = (free_port(), free_port());
    let log = env.log.with_file_name("aviary-controller-b.log");
    let mut second = spawn_controller(&env.controller, &env.kubeconfig, &log, ports, &[])?;
    eventually_ok("the second controller serving", T, || async {
        (http_status(ports.1, "/healthz").await == 200).then_some(())
    })
    .await?;

    let ns = namespace("ha").await?;
    let _: Rollout = create(
        &ns,
        rollout("app", 2, "nginx:1.19", json!([{"setWeight": 50}, {"pause": {}}, {"setWeight": 100}]), json!({})),
    )
    .await;
    wait_phase(&ns, "app", "Healthy", T).await;
    set_image(&ns, "app", "nginx:1.20").await;
    wait_phase(&ns, "app", "Paused", T).await;
    assert_eq!(http_status(ports.1, "/readyz").await, 503, "a follower is not ready");
    let metrics = body(ports.0, "/metrics").await;
    let writes: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("controller_clientset_k8s_request_total{"))
        .filter(|l| ["create", "update", "patch", "delete"].iter().any(|v| l.contains(&format!("verb=\"{v}\""))))
        .collect();
    assert!(writes.is_empty(), "the follower wrote: {writes:#?}");

    // The leader dies; the follower leads within the lease (3 s in these tests) plus one retry.
    env.kill_controller();
    let killed = Instant::now();
    eventually_ok("the second controller ready", T, || async {
        (http_status(ports.1, "/readyz").await == 200).then_some(())
    })
    .await?;
    let took = killed.elapsed();
    assert!(took < Duration::from_secs(3 + 3), "takeover took {took:?}");

    patch_status(&ns, "app", json!({"status": {"pauseConditions": null}})).await;
    let healthy = wait_phase(&ns, "app", "Healthy", T).await;
    let s = healthy.status.unwrap();
    assert_eq!(s.stable_rs, s.current_pod_hash);
    let _ = second.kill();
    let _ = second.wait();
    Ok(())
}

//! Optimistic concurrency: while another writer updates the Rollout many times a second and a user
//! promotes it, the controller's status writes conflict, are retried on the current object, and
//! lose nothing (the promote takes effect; the other writer's annotations all survive).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use aviary_api::Rollout;
use aviary_test_support::namespace;
use common::*;
use kube::api::{Patch, PatchParams};
use serde_json::json;

const T: Duration = Duration::from_secs(150);

async fn conflicts_seen(port: u16) -> f64 {
    let (_, text) = http_get(port, "/metrics").await;
    text.lines()
        .filter(|l| l.starts_with("controller_clientset_k8s_request_total{") && l.contains("status_code=\"409\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_conflicts_are_retried_and_nothing_is_lost() -> TestResult {
    let env = env().await;
    let ns = namespace("conflicts").await?;
    let steps = json!([{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}, {"setWeight": 100}]);
    let _: Rollout = create(&ns, rollout("app", 4, "nginx:1.0", steps, json!({}))).await;
    wait_phase(&ns, "app", "Healthy", T).await;
    let before = conflicts_seen(env.ports.0).await;

    // Another writer: a new annotation every few milliseconds, each a new resourceVersion.
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicUsize::new(0));
    let hammer = {
        let (api, stop, written) = (ns.api::<Rollout>(), stop.clone(), written.clone());
        tokio::spawn(async move {
            let mut i = 0usize;
            while !stop.load(Ordering::SeqCst) {
                let patch = json!({"metadata": {"annotations": {format!("example.com/write-{i}"): "x"}}});
                if api.patch("app", &PatchParams::default(), &Patch::Merge(&patch)).await.is_ok() {
                    written.fetch_add(1, Ordering::SeqCst);
                    i += 1;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };

    set_image(&ns, "app", "nginx:1.1").await;
    for step in [1, 3] {
        eventually_ok(&format!("paused at step {step}"), T, || async {
            let r = ns.api::<Rollout>().get("app").await.ok()?;
            let s = r.status?;
            (s.current_step_index == Some(step) && !s.pause_conditions.is_empty()).then_some(())
        })
        .await
        .map_err(|e| format!("{e}\ncontroller log:\n{}", env.log_tail(80)))?;
        // Argo's `promote`: clear the pause conditions through the status subresource.
        patch_status(&ns, "app", json!({"status": {"pauseConditions": null}})).await;
    }
    let healthy = wait_phase(&ns, "app", "Healthy", T).await;
    stop.store(true, Ordering::SeqCst);
    hammer.await?;

    let s = healthy.status.as_ref().unwrap();
    assert_eq!(s.current_step_index, Some(5));
    assert_eq!(s.stable_rs, s.current_pod_hash);
    let annotations = ns.api::<Rollout>().get("app").await?.metadata.annotations.unwrap_or_default();
    let n = written.load(Ordering::SeqCst);
    let kept = (0..n).filter(|i| annotations.contains_key(&format!("example.com/write-{i}"))).count();
    assert_eq!(kept, n, "every annotation written during the rollout survives");
    assert!(n >= 20, "the other writer wrote only {n} times");
    let conflicts = conflicts_seen(env.ports.0).await - before;
    assert!(conflicts >= 1.0, "no 409 during {n} concurrent writes: the test did not exercise conflicts");
    println!("{n} concurrent writes, {conflicts} conflicts retried");
    Ok(())
}

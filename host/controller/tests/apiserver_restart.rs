//! The API server restarts in the middle of a rollout: every watch breaks, watches resuming from a
//! resource version the new server no longer has get 410 Gone and re-list, and the rollout
//! finishes; a change made after the restart is seen through the recovered watches.
//!
//! A test binary of its own: restarting the API server disturbs every test of its binary.

mod common;

use std::time::Duration;

use aviary_api::{AnalysisTemplate, Rollout};
use aviary_test_support::namespace;
use common::*;
use serde_json::json;

const T: Duration = Duration::from_secs(180);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_survives_an_api_server_restart_mid_canary() -> TestResult {
    let env = env().await;
    let cluster = aviary_test_support::cluster().await?;
    // The production lease (15 s, renew within 10 s) outlasts an API server restart; the tests'
    // 3 s lease would make the controller give up leadership and exit, which is not what is tested.
    env.restart_controller_with(&[
        "--leader-election-lease-duration",
        "15s",
        "--leader-election-renew-deadline",
        "10s",
    ]);
    let ns = namespace("apiserver-restart").await?;
    let metrics = Metrics::start(1.0).await;
    let _: AnalysisTemplate = create(&ns, web_template("ok", &metrics.url(), "1s", 4)).await;
    let steps = json!([
        {"setWeight": 25},
        {"analysis": {"templates": [{"templateName": "ok"}]}},
        {"setWeight": 50},
        {"pause": {"duration": "3s"}},
        {"setWeight": 100}
    ]);
    let _: Rollout = create(&ns, rollout("app", 4, "nginx:1.0", steps, json!({}))).await;
    wait_phase(&ns, "app", "Healthy", T).await;
    set_image(&ns, "app", "nginx:1.1").await;
    eventually_ok("the canary at its analysis step", T, || async {
        let r = ns.api::<Rollout>().get("app").await.ok()?;
        (r.status?.current_step_index == Some(1)).then_some(())
    })
    .await?;

    let log_before = std::fs::read_to_string(&env.log)?.len();
    cluster.restart_apiserver().await?;
    let healthy = wait_phase(&ns, "app", "Healthy", T).await;
    let s = healthy.status.clone().unwrap();
    assert_eq!(s.stable_rs, s.current_pod_hash);
    assert_eq!(s.current_step_index, Some(5));

    // A change after the restart reaches the controller through its recovered watches.
    set_image(&ns, "app", "nginx:1.2").await;
    eventually_ok("the new canary started after the restart", T, || async {
        let r = ns.api::<Rollout>().get("app").await.ok()?;
        let s = r.status?;
        (s.current_pod_hash != healthy.status.as_ref()?.current_pod_hash
            && s.current_step_index.is_some_and(|i| i >= 1))
        .then_some(())
    })
    .await
    .map_err(|e| format!("{e}\ncontroller log:\n{}", env.log_tail(60)))?;
    let done = wait_phase(&ns, "app", "Healthy", T).await;
    let image = done.spec.template.and_then(|t| t.spec).map(|p| p.containers[0].image.clone()).unwrap_or_default();
    assert_eq!(image.as_deref(), Some("nginx:1.2"));
    // The same process carried on: it never gave up leadership nor restarted.
    let log = std::fs::read_to_string(&env.log)?.split_off(log_before);
    assert!(!log.contains("leadership lost"), "the controller gave up:\n{}", env.log_tail(60));
    assert!(!log.contains("aviary-controller started"), "the controller restarted:\n{}", env.log_tail(60));
    let broken = log.lines().filter(|l| l.contains("watch") && (l.contains("WARN") || l.contains("ERROR"))).count();
    assert!(broken > 0, "the restart should have broken the watches");
    let expired: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("code: 410") || l.contains("too old resource version") || l.contains("Expired"))
        .collect();
    // The new API server's watch cache starts at the current etcd revision: a watch resuming from an
    // older resource version gets 410 Gone ("too old resource version") and must re-list, which
    // the change made after the restart (seen above) proves it did.
    assert!(!expired.is_empty(), "no watch expired (410) across the restart:\n{}", env.log_tail(60));
    println!("{broken} watch errors in the controller log, recovered from; 410 Gone, re-listed: {expired:#?}");
    Ok(())
}

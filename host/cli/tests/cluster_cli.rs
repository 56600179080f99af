//! The `aviary` cluster commands, run as a user runs them, against a real control plane with
//! `aviary-controller` running: each operation must change the rollout exactly as Argo's CLI
//! would (checked on the resulting object) and the controller must act on it.

use std::process::Output;
use std::time::Duration;

use aviary_api::Rollout;
use aviary_test_support::e2e::{self, TestResult, create, rollout, wait_phase};
use aviary_test_support::{TestNamespace, cluster, namespace};
use k8s_openapi::api::apps::v1::ReplicaSet;
use kube::api::ListParams;
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(120);

async fn env() {
    e2e::env_with(&e2e::controller_binary()).await;
}

/// Runs `aviary ARGS -n NS --kubeconfig ADMIN` and returns its output.
async fn aviary(ns: &TestNamespace, args: &[&str]) -> Output {
    let kubeconfig = cluster().await.expect("cluster").kubeconfig_path().to_path_buf();
    tokio::process::Command::new(env!("CARGO_BIN_EXE_aviary"))
        .args(args)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["-n", ns.name()])
        .env("NO_COLOR", "1")
        .output()
        .await
        .expect("run aviary")
}

/// Like [`aviary`], and asserts it succeeded; returns stdout.
async fn ok(ns: &TestNamespace, args: &[&str]) -> String {
    let out = aviary(ns, args).await;
    assert!(
        out.status.success(),
        "aviary {args:?} exited {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn get(ns: &TestNamespace, name: &str) -> Rollout {
    ns.api::<Rollout>().get(name).await.expect("rollout")
}

/// A Healthy rollout of `replicas` nginx:1.19 pods with `steps`; returns the stable hash.
async fn deployed(ns: &TestNamespace, replicas: i32, steps: Value) -> String {
    let _: Rollout = create(ns, rollout("app", replicas, "nginx:1.19", steps, json!({}))).await;
    wait_phase(ns, "app", "Healthy", T).await.status.unwrap().stable_rs
}

fn image(ro: &Rollout) -> String {
    ro.spec.template.as_ref().unwrap().spec.as_ref().unwrap().containers[0].image.clone().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_image_then_promote_walks_the_steps_to_healthy() -> TestResult {
    env().await;
    let ns = namespace("cli-promote").await?;
    let old = deployed(&ns, 2, json!([{"setWeight": 50}, {"pause": {}}, {"setWeight": 100}])).await;
    let out = ok(&ns, &["set", "image", "app", "app=nginx:1.20"]).await;
    assert_eq!(out.trim(), "rollout \"app\" image updated");
    assert_eq!(image(&get(&ns, "app").await), "nginx:1.20");
    wait_phase(&ns, "app", "Paused", T).await;
    assert_eq!(ok(&ns, &["promote", "app"]).await.trim(), "rollout 'app' promoted");
    // Promote cleared the pause conditions (and nothing else): the controller finishes the steps.
    let s = wait_phase(&ns, "app", "Healthy", T).await.status.unwrap();
    assert_ne!(s.stable_rs, old);
    assert_eq!(s.current_step_index, Some(3));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_full_skips_the_remaining_steps() -> TestResult {
    env().await;
    let ns = namespace("cli-promote-full").await?;
    deployed(&ns, 4, json!([{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}])).await;
    ok(&ns, &["set", "image", "app", "app=nginx:1.20"]).await;
    wait_phase(&ns, "app", "Paused", T).await;
    assert_eq!(ok(&ns, &["promote", "app", "--full"]).await.trim(), "rollout 'app' fully promoted");
    let s = wait_phase(&ns, "app", "Healthy", T).await.status.unwrap();
    assert_eq!(s.stable_rs, s.current_pod_hash);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_degrades_status_exits_1_and_retry_resumes() -> TestResult {
    env().await;
    let ns = namespace("cli-abort").await?;
    deployed(&ns, 2, json!([{"setWeight": 50}, {"pause": {}}, {"setWeight": 100}])).await;
    ok(&ns, &["set", "image", "app", "app=nginx:1.20"]).await;
    wait_phase(&ns, "app", "Paused", T).await;
    assert_eq!(ok(&ns, &["abort", "app"]).await.trim(), "rollout 'app' aborted");
    assert!(get(&ns, "app").await.status.unwrap().abort, "abort writes status.abort");
    wait_phase(&ns, "app", "Degraded", T).await;
    let status = aviary(&ns, &["status", "app", "--timeout", "60s"]).await;
    assert_eq!(status.status.code(), Some(1), "{}", String::from_utf8_lossy(&status.stdout));
    assert!(String::from_utf8_lossy(&status.stdout).contains("Degraded - RolloutAborted"));

    assert_eq!(ok(&ns, &["retry", "rollout", "app"]).await.trim(), "rollout 'app' retried");
    let s = wait_phase(&ns, "app", "Paused", T).await.status.unwrap();
    assert!(!s.abort);
    assert_eq!(s.current_step_index, Some(1));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_sets_spec_paused_and_promote_clears_it() -> TestResult {
    env().await;
    let ns = namespace("cli-pause").await?;
    deployed(&ns, 1, json!([{"setWeight": 50}, {"setWeight": 100}])).await;
    assert_eq!(ok(&ns, &["pause", "app"]).await.trim(), "rollout 'app' paused");
    assert!(get(&ns, "app").await.spec.paused);
    let s = wait_phase(&ns, "app", "Paused", T).await.status.unwrap();
    assert_eq!(s.message, "manually paused");
    ok(&ns, &["promote", "app"]).await;
    assert!(!get(&ns, "app").await.spec.paused);
    wait_phase(&ns, "app", "Healthy", T).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_writes_restart_at_and_the_controller_restarts_the_pods() -> TestResult {
    env().await;
    let ns = namespace("cli-restart").await?;
    deployed(&ns, 2, json!([{"setWeight": 50}, {"setWeight": 100}])).await;
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    assert_eq!(ok(&ns, &["restart", "app"]).await.trim(), "rollout 'app' restarts in 0s");
    let at = get(&ns, "app").await.spec.restart_at.expect("spec.restartAt").0;
    assert!(at >= before && at <= chrono::Utc::now(), "restartAt {at} is not now");
    e2e::eventually_ok("status.restartedAt", T, || async {
        (get(&ns, "app").await.status?.restarted_at.map(|t| t.0) == Some(at)).then_some(())
    })
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_restores_the_previous_revision_template() -> TestResult {
    env().await;
    let ns = namespace("cli-undo").await?;
    let v1 = deployed(&ns, 2, json!([{"setWeight": 50}, {"setWeight": 100}])).await;
    ok(&ns, &["set", "image", "app", "app=nginx:1.20"]).await;
    let v2 = wait_phase(&ns, "app", "Healthy", T).await.status.unwrap().stable_rs;
    assert_ne!(v1, v2);
    assert_eq!(ok(&ns, &["undo", "app"]).await.trim(), "rollout 'app' undo");
    let ro = get(&ns, "app").await;
    assert_eq!(image(&ro), "nginx:1.19");
    let labels = ro.spec.template.as_ref().unwrap().metadata.as_ref().unwrap().labels.clone().unwrap();
    assert!(!labels.contains_key("rollouts-pod-template-hash"), "the hash label is not copied: {labels:?}");
    let s = wait_phase(&ns, "app", "Healthy", T).await.status.unwrap();
    assert_eq!(s.stable_rs, v1, "the revision-1 ReplicaSet is stable again");
    let rss = ns.api::<ReplicaSet>().list(&ListParams::default().labels("app=app")).await?.items;
    assert_eq!(rss.len(), 2, "undo reuses the old ReplicaSet");
    // Nothing left to undo to the same template.
    let again = ok(&ns, &["undo", "app", "--to-revision", "3"]).await;
    assert!(again.starts_with("skipped rollback"), "{again}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_exits_0_when_healthy_and_2_on_timeout() -> TestResult {
    env().await;
    let ns = namespace("cli-status").await?;
    deployed(&ns, 1, json!([{"setWeight": 50}, {"pause": {}}, {"setWeight": 100}])).await;
    let healthy = aviary(&ns, &["status", "app", "--timeout", "60s"]).await;
    assert_eq!(healthy.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&healthy.stdout).trim(), "Healthy");
    ok(&ns, &["set", "image", "app", "app=nginx:1.20"]).await;
    wait_phase(&ns, "app", "Paused", T).await;
    let started = std::time::Instant::now();
    let paused = aviary(&ns, &["status", "app", "--timeout", "2s"]).await;
    assert_eq!(paused.status.code(), Some(2), "{}", String::from_utf8_lossy(&paused.stderr));
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(String::from_utf8_lossy(&paused.stdout).contains("Paused - CanaryPauseStep"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_and_list_show_the_rollout_as_text_json_and_yaml() -> TestResult {
    env().await;
    let ns = namespace("cli-get").await?;
    deployed(&ns, 2, json!([{"setWeight": 50}, {"pause": {}}, {"setWeight": 100}])).await;
    ok(&ns, &["set", "image", "app", "app=nginx:1.20"]).await;
    wait_phase(&ns, "app", "Paused", T).await;

    let text = ok(&ns, &["get", "rollout", "app"]).await;
    for expected in
        ["Status:          ॥ Paused", "  Step:          1/3", "  SetWeight:     50", "revision:2", "revision:1"]
    {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    assert!(!text.contains('\u{1b}'), "no colour when stdout is not a terminal");
    let json: Value = serde_json::from_str(&ok(&ns, &["get", "rollout", "app", "-o", "json"]).await)?;
    assert_eq!(json["status"], "Paused");
    assert_eq!(json["actualWeight"], 50);
    assert_eq!(json["revisions"][0]["replicaSets"][0]["canary"], true);
    let yaml: Value = serde_norway::from_str(&ok(&ns, &["get", "rollout", "app", "-o", "yaml"]).await)?;
    assert_eq!(yaml["step"], "1/3");

    let list: Value = serde_json::from_str(&ok(&ns, &["list", "rollouts", "-o", "json"]).await)?;
    assert_eq!(list[0]["name"], "app");
    assert_eq!(list[0]["status"], "Paused");
    let table = ok(&ns, &["list", "rollouts"]).await;
    assert!(table.starts_with("NAME"), "{table}");

    // --watch --until returns once the status is reached.
    let watched = ok(&ns, &["get", "rollout", "app", "--watch", "--until", "paused", "--timeout", "60s"]).await;
    assert!(watched.contains("Paused"), "{watched}");
    Ok(())
}

/// Every change of a ReplicaSet's `spec.replicas` in `ns`, in the order the API server made
/// them: `(name, from, to)`. Starts once the current sizes are known (returned future resolves
/// then), so the deploy before it is not counted.
async fn watch_scaling(ns: &TestNamespace) -> std::sync::Arc<std::sync::Mutex<Vec<(String, i32, i32)>>> {
    use futures::StreamExt;
    use kube::ResourceExt;
    use kube::runtime::watcher;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let out = seen.clone();
    let api = ns.api::<ReplicaSet>();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut ready = Some(ready_tx);
        let mut sizes: std::collections::HashMap<String, i32> = std::collections::HashMap::new();
        let mut stream = watcher(api, watcher::Config::default()).boxed();
        while let Some(event) = stream.next().await {
            let spec = |rs: &ReplicaSet| rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            match event {
                Ok(watcher::Event::InitApply(rs)) => {
                    sizes.insert(rs.name_any(), spec(&rs));
                }
                Ok(watcher::Event::InitDone) => {
                    if let Some(tx) = ready.take() {
                        let _ = tx.send(());
                    }
                }
                Ok(watcher::Event::Apply(rs)) => {
                    let to = spec(&rs);
                    let from = sizes.insert(rs.name_any(), to).unwrap_or(0);
                    if from != to {
                        out.lock().unwrap().push((rs.name_any(), from, to));
                    }
                }
                _ => {}
            }
        }
    });
    ready_rx.await.expect("the ReplicaSet watch started");
    seen
}

/// Consecutive changes of one ReplicaSet in one direction as one (`3→5, 5→7` is `3→7`): the
/// walk sees the pods of a scale-up become available together, the controller may act on part
/// of them first and reach the same size in more than one change.
fn fold(actions: impl IntoIterator<Item = (String, i32, i32)>) -> Vec<(String, i32, i32)> {
    let mut out: Vec<(String, i32, i32)> = Vec::new();
    for (rs, from, to) in actions {
        if let Some(last) = out.last_mut()
            && last.0 == rs
            && (last.2 > last.1) == (to > from)
            && last.2 == from
        {
            last.2 = to;
            continue;
        }
        out.push((rs, from, to));
    }
    out
}

/// The update of `manifest` from nginx:1.19 to 1.20, promoted at every pause, against the walk
/// `aviary plan -o json` prints for the same manifest.
async fn controller_follows_the_plan(ns_name: &str, manifest: Value) -> TestResult {
    env().await;
    let ns = namespace(ns_name).await?;
    let blue_green = manifest["spec"]["strategy"]["blueGreen"].is_object();
    if blue_green {
        for name in ["app-active", "app-preview"] {
            let _: k8s_openapi::api::core::v1::Service = create(
                &ns,
                json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                       "spec": {"selector": {"app": "app"}, "ports": [{"port": 80}]}}),
            )
            .await;
        }
    }
    let _: Rollout = create(&ns, manifest.clone()).await;
    let stable = wait_phase(&ns, "app", "Healthy", T).await.status.unwrap().stable_rs;
    let scaling = watch_scaling(&ns).await;
    ok(&ns, &["set", "image", "app", "app=nginx:1.20"]).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    loop {
        let ro = get(&ns, "app").await;
        let st = ro.status.clone().unwrap_or_default();
        let done = st.phase.map(|p| p.as_str()) == Some("Healthy") && st.stable_rs != stable;
        if done && !st.stable_rs.is_empty() {
            break;
        }
        if !st.pause_conditions.is_empty() {
            if blue_green {
                // While the preview waits: `get rollout` shows it beside the active ReplicaSet.
                let text = ok(&ns, &["get", "rollout", "app"]).await;
                assert!(text.contains("stable,active") && text.contains("preview"), "{text}");
                let json: Value = serde_json::from_str(&ok(&ns, &["get", "rollout", "app", "-o", "json"]).await)?;
                assert_eq!(json["strategy"], "BlueGreen");
                assert_eq!(json["revisions"][0]["replicaSets"][0]["preview"], true, "{json}");
                assert_eq!(json["revisions"][1]["replicaSets"][0]["active"], true, "{json}");
            }
            ok(&ns, &["promote", "app"]).await;
        }
        assert!(tokio::time::Instant::now() < deadline, "the update did not finish: {st:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A blue-green rollout is Healthy before its previous ReplicaSet's scale-down delay ends.
    let new_stable = get(&ns, "app").await.status.unwrap_or_default().stable_rs;
    e2e::eventually_ok("every previous ReplicaSet scaled down", T, || async {
        let all = ns.api::<ReplicaSet>().list(&ListParams::default()).await.ok()?;
        all.items
            .iter()
            .filter(|r| !r.metadata.name.as_deref().unwrap_or_default().ends_with(&new_stable))
            .all(|r| r.spec.as_ref().and_then(|s| s.replicas) == Some(0))
            .then_some(())
    })
    .await?;
    // The last scale-down lands before Healthy; give the watch a moment to deliver it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let role = |name: &str| if name.ends_with(&format!("-{stable}")) { "stable" } else { "canary" };
    let performed = fold(scaling.lock().unwrap().iter().map(|(n, f, t)| (role(n).to_string(), *f, *t)));

    let dir = tempfile::tempdir()?;
    let scenario = dir.path().join("scenario.yaml");
    std::fs::write(&scenario, serde_json::to_string(&json!({"rollout": manifest}))?)?;
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_aviary"))
        .args(["plan", "-f", scenario.to_str().unwrap(), "-o", "json"])
        .output()
        .await?;
    assert!(out.status.success(), "aviary plan: {}", String::from_utf8_lossy(&out.stderr));
    let plan: Value = serde_json::from_slice(&out.stdout)?;
    let walk = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["actions"].as_array().unwrap().iter())
        .chain(plan["promotion"]["actions"].as_array().unwrap())
        .map(|a| {
            (
                a["replicaSet"].as_str().unwrap().to_string(),
                a["from"].as_i64().unwrap() as i32,
                a["to"].as_i64().unwrap() as i32,
            )
        });
    let planned = fold(walk);
    assert!(!planned.is_empty());
    assert_eq!(performed, planned, "the controller's scale actions (left) differ from `aviary plan -o json` (right)");
    Ok(())
}

/// The reference canary: 10 replicas, setWeight 25, pause, 50, pause, 100, default surge and
/// unavailability.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_scales_as_plan_prints_for_the_reference_canary() -> TestResult {
    let steps = json!([{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}, {"setWeight": 100}]);
    controller_follows_the_plan("plan-truth-reference", rollout("app", 10, "nginx:1.19", steps, json!({}))).await
}

/// No surge, one pod unavailable at a time: stable and canary alternate pod by pod.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_scales_as_plan_prints_without_surge() -> TestResult {
    let steps = json!([{"setWeight": 30}, {"pause": {}}, {"setWeight": 70}, {"pause": {}}]);
    let extra = json!({"maxSurge": 0, "maxUnavailable": 1});
    controller_follows_the_plan("plan-truth-no-surge", rollout("app", 6, "nginx:1.19", steps, extra)).await
}

/// Blue-green with a preview count and a manual promotion: the preview comes up to
/// `previewReplicaCount`, then to full size, the switch, the previous ReplicaSet down after its
/// delay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_scales_as_plan_prints_for_a_blue_green_rollout() -> TestResult {
    let mut manifest = rollout("app", 4, "nginx:1.19", json!([]), json!({}));
    manifest["spec"]["strategy"] = json!({"blueGreen": {
        "activeService": "app-active", "previewService": "app-preview",
        "previewReplicaCount": 2, "autoPromotionEnabled": false, "scaleDownDelaySeconds": 3
    }});
    controller_follows_the_plan("plan-truth-blue-green", manifest).await
}

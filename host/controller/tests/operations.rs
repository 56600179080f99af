//! Operations through the fields Argo's CLI writes (so `kubectl argo rollouts` works unchanged),
//! and the pause, abort, retry, undo and restart behaviours they drive.

mod common;

use std::time::Duration;

use aviary_api::Rollout;
use aviary_test_support::{TestNamespace, namespace};
use common::*;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::ResourceExt;
use kube::api::ListParams;
use serde_json::json;

const T: Duration = Duration::from_secs(120);

async fn deployed(
    ns: &TestNamespace,
    name: &str,
    replicas: i32,
    steps: serde_json::Value,
    extra: serde_json::Value,
) -> String {
    let _: Rollout = create(ns, rollout(name, replicas, "nginx:1.19", steps, extra)).await;
    let r = wait_phase(ns, name, "Healthy", T).await;
    r.status.unwrap().stable_rs
}

async fn status(ns: &TestNamespace, name: &str) -> aviary_api::RolloutStatus {
    ns.api::<Rollout>().get(name).await.unwrap().status.unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_pause_waits_then_continues_on_its_own() -> TestResult {
    env().await;
    let ns = namespace("pause-timed").await?;
    deployed(&ns, "app", 2, json!([{"setWeight": 50}, {"pause": {"duration": "3s"}}, {"setWeight": 100}]), json!({}))
        .await;
    set_image(&ns, "app", "nginx:1.20").await;
    let paused = wait_phase(&ns, "app", "Paused", T).await;
    let s = paused.status.unwrap();
    assert_eq!(s.message, "CanaryPauseStep");
    assert_eq!(s.current_step_index, Some(1));
    let started = std::time::Instant::now();
    wait_phase(&ns, "app", "Healthy", T).await;
    assert!(started.elapsed() >= Duration::from_secs(2), "the pause ended after {:?}", started.elapsed());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_indefinite_pause_waits_for_promote() -> TestResult {
    env().await;
    let ns = namespace("pause-promote").await?;
    deployed(&ns, "app", 2, json!([{"setWeight": 50}, {"pause": {}}, {"setWeight": 100}]), json!({})).await;
    set_image(&ns, "app", "nginx:1.20").await;
    wait_phase(&ns, "app", "Paused", T).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(phase(&ns, "app").await.0, "Paused", "an indefinite pause must not end on its own");
    let s = status(&ns, "app").await;
    assert!(s.controller_pause);
    assert_eq!(s.pause_conditions.len(), 1);
    // `kubectl argo rollouts promote`: clears the pause conditions.
    patch_status(&ns, "app", json!({"status": {"pauseConditions": null}})).await;
    let healthy = wait_phase(&ns, "app", "Healthy", T).await;
    let s = healthy.status.unwrap();
    assert_eq!(s.stable_rs, s.current_pod_hash);
    assert_eq!(s.current_step_index, Some(3));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_full_skips_the_remaining_steps() -> TestResult {
    env().await;
    let ns = namespace("promote-full").await?;
    let old =
        deployed(&ns, "app", 4, json!([{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]), json!({}))
            .await;
    set_image(&ns, "app", "nginx:1.20").await;
    wait_phase(&ns, "app", "Paused", T).await;
    // `kubectl argo rollouts promote --full`.
    patch_status(&ns, "app", json!({"status": {"promoteFull": true}})).await;
    let healthy = wait_phase(&ns, "app", "Healthy", T).await;
    let s = healthy.status.unwrap();
    assert_ne!(s.stable_rs, old);
    assert!(!s.promote_full, "promoteFull is cleared once the new revision is stable");
    assert_eq!(replica_sets(&ns, "app").await.get(&old).map(|r| r.0), Some(0));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_then_retry() -> TestResult {
    env().await;
    let ns = namespace("abort-retry").await?;
    let old = deployed(&ns, "app", 4, json!([{"setWeight": 50}, {"pause": {}}, {"setWeight": 100}]), json!({})).await;
    set_image(&ns, "app", "nginx:1.20").await;
    wait_phase(&ns, "app", "Paused", T).await;
    // `kubectl argo rollouts abort`.
    patch_status(&ns, "app", json!({"status": {"abort": true}})).await;
    let degraded = wait_phase(&ns, "app", "Degraded", T).await;
    let s = degraded.status.unwrap();
    assert!(s.message.starts_with("RolloutAborted: Rollout aborted update to revision 2"), "{}", s.message);
    assert!(s.aborted_at.is_some());
    assert_eq!(s.current_step_index, Some(0));
    eventually_ok("canary scaled to 0", T, || async {
        let rss = replica_sets(&ns, "app").await;
        let canary: i32 = rss.iter().filter(|(h, _)| **h != old).map(|(_, r)| r.0).sum();
        (canary == 0 && rss.get(&old) == Some(&(4, 4))).then_some(())
    })
    .await?;
    // `kubectl argo rollouts retry rollout`.
    patch_status(&ns, "app", json!({"status": {"abort": false}})).await;
    let paused = wait_phase(&ns, "app", "Paused", T).await;
    let s = paused.status.unwrap();
    assert!(!s.abort);
    assert!(s.aborted_at.is_none());
    assert_eq!(s.current_step_index, Some(1));
    // The pause condition comes first, then (in Argo's next reconcile, as in ours) the
    // Progressing condition says RolloutPaused.
    eventually_ok("Progressing: RolloutPaused", T, || async {
        let r = ns.api::<Rollout>().get("app").await.ok()?;
        let c = r.status?.conditions.into_iter().find(|c| c.type_ == "Progressing")?;
        (c.reason == "RolloutPaused").then_some(())
    })
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_pause_halts_scaling_until_unpaused() -> TestResult {
    env().await;
    let ns = namespace("manual-pause").await?;
    let old = deployed(&ns, "app", 4, json!([{"setWeight": 50}, {"setWeight": 100}]), json!({})).await;
    // `kubectl argo rollouts pause`, then an update: nothing moves.
    patch_spec(&ns, "app", json!({"spec": {"paused": true}})).await;
    wait_phase(&ns, "app", "Paused", T).await;
    set_image(&ns, "app", "nginx:1.20").await;
    let r = wait_phase(&ns, "app", "Paused", T).await;
    assert_eq!(r.status.unwrap().message, "manually paused");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(replica_sets(&ns, "app").await.get(&old), Some(&(4, 4)));
    patch_spec(&ns, "app", json!({"spec": {"paused": false}})).await;
    let healthy = wait_phase(&ns, "app", "Healthy", T).await;
    assert_ne!(healthy.status.unwrap().stable_rs, old);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_image_change_mid_canary_starts_over_from_the_stable() -> TestResult {
    env().await;
    let ns = namespace("second-update").await?;
    let v1 = deployed(&ns, "app", 4, json!([{"setWeight": 50}, {"pause": {}}, {"setWeight": 100}]), json!({})).await;
    set_image(&ns, "app", "nginx:1.20").await;
    let paused = wait_phase(&ns, "app", "Paused", T).await;
    let v2 = paused.status.unwrap().current_pod_hash;
    set_image(&ns, "app", "nginx:1.21").await;
    // Paused again at the first step, of the new revision (the rollout was Paused already, at v2's
    // pause, until the controller sees the change).
    let s = eventually_ok("paused at the third revision", T, || async {
        let r = ns.api::<Rollout>().get("app").await.ok()?;
        r.status.filter(|s| {
            s.phase == Some(aviary_api::rollout_status::RolloutPhase::Paused)
                && !s.current_pod_hash.is_empty()
                && s.current_pod_hash != v2
        })
    })
    .await?;
    let v3 = s.current_pod_hash.clone();
    assert!(v3 != v2 && v3 != v1);
    assert_eq!(s.stable_rs, v1, "the stable stays the last promoted revision");
    eventually_ok("v2 scaled to 0, v3 at half, v1 at half", T, || async {
        let rss = replica_sets(&ns, "app").await;
        (rss.get(&v2).map(|r| r.0) == Some(0)
            && rss.get(&v3).map(|r| r.0) == Some(2)
            && rss.get(&v1).map(|r| r.0) == Some(2))
        .then_some(())
    })
    .await?;
    patch_status(&ns, "app", json!({"status": {"pauseConditions": null}})).await;
    let healthy = wait_phase(&ns, "app", "Healthy", T).await;
    assert_eq!(healthy.status.unwrap().stable_rs, v3);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_reuses_the_older_replica_set() -> TestResult {
    env().await;
    let ns = namespace("undo").await?;
    let v1 = deployed(&ns, "app", 2, json!([{"setWeight": 50}, {"setWeight": 100}]), json!({})).await;
    set_image(&ns, "app", "nginx:1.20").await;
    let r = wait_phase(&ns, "app", "Healthy", T).await;
    let v2 = r.status.unwrap().stable_rs;
    assert_ne!(v1, v2);
    // `kubectl argo rollouts undo`: the template of the ReplicaSet of revision 1 (as the API
    // server stored it, defaults included) becomes the rollout's template.
    let rss = ns.api::<ReplicaSet>().list(&ListParams::default().labels("app=app")).await?.items;
    let old = rss
        .iter()
        .find(|rs| rs.annotations().get("rollout.argoproj.io/revision").map(String::as_str) == Some("1"))
        .unwrap();
    let mut template = serde_json::to_value(old.spec.as_ref().unwrap().template.clone().unwrap())?;
    template["metadata"]["labels"].as_object_mut().unwrap().remove("rollouts-pod-template-hash");
    template["metadata"]["creationTimestamp"] = serde_json::Value::Null;
    patch_spec(&ns, "app", json!({"spec": {"template": template}})).await;
    let healthy = wait_phase(&ns, "app", "Healthy", T).await;
    let s = healthy.status.unwrap();
    assert_eq!(s.stable_rs, v1, "the old ReplicaSet is the new revision again");
    let rss = ns.api::<ReplicaSet>().list(&ListParams::default().labels("app=app")).await?.items;
    assert_eq!(rss.len(), 2, "no third ReplicaSet: {:?}", rss.iter().map(|r| r.name_any()).collect::<Vec<_>>());
    let reused = rss.iter().find(|rs| rs.labels().get("rollouts-pod-template-hash") == Some(&v1)).unwrap();
    assert_eq!(reused.annotations().get("rollout.argoproj.io/revision").map(String::as_str), Some("3"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_follow_the_stable_and_canary_revisions() -> TestResult {
    env().await;
    let ns = namespace("services").await?;
    for svc in ["app-stable", "app-canary"] {
        let _: Service = create(
            &ns,
            json!({
                "apiVersion": "v1", "kind": "Service", "metadata": {"name": svc},
                "spec": {"selector": {"app": "app"}, "ports": [{"port": 80}]}
            }),
        )
        .await;
    }
    let extra = json!({"stableService": "app-stable", "canaryService": "app-canary"});
    let v1 = deployed(&ns, "app", 2, json!([{"setWeight": 50}, {"pause": {}}, {"setWeight": 100}]), extra).await;
    let selector = |svc: Service| svc.spec.unwrap().selector.unwrap().get("rollouts-pod-template-hash").cloned();
    eventually_ok("stable service on v1", T, || async {
        (selector(ns.api::<Service>().get("app-stable").await.ok()?) == Some(v1.clone())).then_some(())
    })
    .await?;
    set_image(&ns, "app", "nginx:1.20").await;
    let paused = wait_phase(&ns, "app", "Paused", T).await;
    let v2 = paused.status.unwrap().current_pod_hash;
    eventually_ok("canary service on v2", T, || async {
        (selector(ns.api::<Service>().get("app-canary").await.ok()?) == Some(v2.clone())).then_some(())
    })
    .await?;
    assert_eq!(selector(ns.api::<Service>().get("app-stable").await?), Some(v1.clone()));
    let svc = ns.api::<Service>().get("app-stable").await?;
    assert_eq!(svc.annotations().get("argo-rollouts.argoproj.io/managed-by-rollouts").map(String::as_str), Some("app"));
    patch_status(&ns, "app", json!({"status": {"pauseConditions": null}})).await;
    wait_phase(&ns, "app", "Healthy", T).await;
    eventually_ok("stable service on v2", T, || async {
        (selector(ns.api::<Service>().get("app-stable").await.ok()?) == Some(v2.clone())).then_some(())
    })
    .await?;

    // Deleting the Rollout hands its Services back (Argo's service controller): no managed-by
    // annotation, no pod-template-hash selector; a Service of another Rollout is left alone.
    let _: Service = create(
        &ns,
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "other", "annotations": {"argo-rollouts.argoproj.io/managed-by-rollouts": "other"}},
            "spec": {"selector": {"app": "other"}, "ports": [{"port": 80}]}
        }),
    )
    .await;
    let _: Rollout = create(&ns, rollout("other", 1, "nginx:1.19", json!([]), json!({"stableService": "other"}))).await;
    wait_phase(&ns, "other", "Healthy", T).await;
    ns.api::<Rollout>().delete("app", &Default::default()).await?;
    for svc in ["app-stable", "app-canary"] {
        eventually_ok(&format!("{svc} handed back"), T, || async {
            let s = ns.api::<Service>().get(svc).await.ok()?;
            let annotated = s.annotations().contains_key("argo-rollouts.argoproj.io/managed-by-rollouts");
            (!annotated && selector(s).is_none()).then_some(())
        })
        .await?;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let other = ns.api::<Service>().get("other").await?;
    assert!(other.annotations().contains_key("argo-rollouts.argoproj.io/managed-by-rollouts"));
    assert!(selector(other).is_some(), "a Service its Rollout still manages keeps its selector");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_replaces_every_pod_and_records_restarted_at() -> TestResult {
    env().await;
    let ns = namespace("restart").await?;
    deployed(&ns, "app", 3, json!([{"setWeight": 50}, {"setWeight": 100}]), json!({})).await;
    let before: Vec<String> = ns
        .api::<Pod>()
        .list(&ListParams::default().labels("app=app"))
        .await?
        .items
        .iter()
        .map(|p| p.name_any())
        .collect();
    assert_eq!(before.len(), 3);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    // `kubectl argo rollouts restart`.
    patch_spec(&ns, "app", json!({"spec": {"restartAt": at}})).await;
    eventually_ok("status.restartedAt recorded", T, || async {
        let s = status(&ns, "app").await;
        (s.restarted_at.map(|t| t.to_string()) == Some(at.clone())).then_some(())
    })
    .await?;
    let after: Vec<String> = ns
        .api::<Pod>()
        .list(&ListParams::default().labels("app=app"))
        .await?
        .items
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(|p| p.name_any())
        .collect();
    assert!(after.iter().all(|p| !before.contains(p)), "old pods remain: before {before:?}, after {after:?}");
    wait_phase(&ns, "app", "Healthy", T).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_update_exceeds_its_progress_deadline_and_may_abort() -> TestResult {
    env().await;
    let ns = namespace("deadline").await?;
    for (name, abort) in [("stuck", false), ("stuck-abort", true)] {
        let mut manifest = rollout(name, 2, "nginx:1.19", json!([{"setWeight": 50}, {"setWeight": 100}]), json!({}));
        manifest["spec"]["progressDeadlineSeconds"] = json!(5);
        manifest["spec"]["progressDeadlineAbort"] = json!(abort);
        let _: Rollout = create(&ns, manifest).await;
        wait_phase(&ns, name, "Healthy", T).await;
        // The fake kubelet keeps an image named does-not-exist in ErrImagePull, never Ready.
        set_image(&ns, name, "registry.example/does-not-exist:1").await;
    }
    let stuck = wait_phase(&ns, "stuck", "Degraded", T).await;
    let s = stuck.status.unwrap();
    assert!(s.message.starts_with("ProgressDeadlineExceeded: ReplicaSet \"stuck-"), "{}", s.message);
    assert!(s.message.ends_with("\" has timed out progressing."), "{}", s.message);
    assert!(!s.abort);
    let aborted = wait_phase(&ns, "stuck-abort", "Degraded", T).await;
    let s = aborted.status.unwrap();
    assert!(s.abort, "progressDeadlineAbort aborts the update");
    let old = s.stable_rs.clone();
    eventually_ok("the stuck canary scaled to 0", T, || async {
        let rss = replica_sets(&ns, "stuck-abort").await;
        let canary: i32 = rss.iter().filter(|(h, _)| **h != old).map(|(_, r)| r.0).sum();
        (canary == 0).then_some(())
    })
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_replica_sets_beyond_the_revision_history_limit_are_deleted() -> TestResult {
    env().await;
    let ns = namespace("history").await?;
    let mut manifest = rollout("app", 1, "nginx:1.10", json!([]), json!({}));
    manifest["spec"]["revisionHistoryLimit"] = json!(1);
    let _: Rollout = create(&ns, manifest).await;
    wait_phase(&ns, "app", "Healthy", T).await;
    for v in 11..14 {
        set_image(&ns, "app", &format!("nginx:1.{v}")).await;
        wait_phase(&ns, "app", "Healthy", T).await;
    }
    // Four revisions; the current one plus one old ReplicaSet remain.
    let left = eventually_ok("two ReplicaSets left", T, || async {
        let rss = ns.api::<ReplicaSet>().list(&ListParams::default().labels("app=app")).await.ok()?.items;
        let alive: Vec<ReplicaSet> = rss.into_iter().filter(|r| r.metadata.deletion_timestamp.is_none()).collect();
        (alive.len() == 2).then_some(alive)
    })
    .await?;
    let mut revisions: Vec<String> =
        left.iter().map(|r| r.annotations()["rollout.argoproj.io/revision"].clone()).collect();
    revisions.sort();
    assert_eq!(revisions, ["3", "4"]);
    Ok(())
}

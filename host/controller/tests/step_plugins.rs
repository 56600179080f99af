//! Canary `plugin:` steps run by Wasm step plugins on the real control plane, named after Argo's
//! `test/e2e/step_plugin_test.go` and asserting what it asserts. `step/e2e-test` is the test
//! component `aviary-test-step` (plugins/testing/step), which answers as Argo's e2e step plugin
//! does (`return`, `requeue`, `abort: {return}`, `terminate: {return}`; its status `{Data, Count}` counts its runs);
//! `step/e2e-test-disabled` is the same component under an entry with `disabled: true`. Both
//! are in the test registry (tests/support/src/e2e.rs), with a 2 s deadline and a 32 MiB cap.
//!
//! Beyond Argo's: a step plugin that loops, panics or exhausts its memory fails its step with the
//! reason, retried, and the progress deadline still applies; the controller carries on.

mod common;

use std::time::Duration;

use aviary_api::Rollout;
use aviary_api::rollout_status::{StepPluginOperation as Op, StepPluginPhase as Ph, StepPluginStatus};
use aviary_test_support::{TestNamespace, namespace};
use common::*;
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(120);
const NAME: &str = "step/e2e-test";

/// Argo's `template-rollout.yaml`: one replica, step 0 a plugin that succeeds, step 1 one that
/// answers `phase` and asks to be called again in 17 s.
fn template(name: &str, phase: &str, extra: Value) -> Value {
    let steps = json!([
        {"plugin": {"name": NAME, "config": {"return": "Successful"}}},
        {"plugin": {"name": NAME, "config": {"return": phase, "requeue": "17s"}}}
    ]);
    rollout(name, 1, "nginx:1.19", steps, extra)
}

async fn list(ns: &TestNamespace, name: &str) -> Vec<StepPluginStatus> {
    let r: Rollout = ns.api::<Rollout>().get(name).await.expect("rollout");
    r.status.unwrap_or_default().canary.step_plugin_statuses
}

/// (index, operation, phase) of each entry.
fn shape(list: &[StepPluginStatus]) -> Vec<(i32, Op, Option<Ph>)> {
    list.iter().map(|e| (e.index, e.operation, e.phase)).collect()
}

/// Argo's `UpdateSpec()`: a new revision of the pod template.
async fn update(ns: &TestNamespace, name: &str, revision: u32) {
    set_image(ns, name, &format!("nginx:1.{}", 19 + revision)).await;
}

/// Waits until the current step is `index` and its run entry is Running (Argo's
/// `WaitForRolloutStepPluginRunning`).
async fn wait_step_running(ns: &TestNamespace, name: &str, index: i32) {
    let api = ns.api::<Rollout>();
    let found = eventually_ok(&format!("step {index} of {name} running"), T, || async {
        let s = api.get(name).await.ok()?.status?;
        let running = s
            .canary
            .step_plugin_statuses
            .iter()
            .any(|e| e.index == index && e.operation == Op::Run && e.phase == Some(Ph::Running));
        (s.current_step_index == Some(index) && running).then_some(())
    })
    .await;
    if let Err(e) = found {
        panic!("{e}\nlist: {:?}\ncontroller log:\n{}", shape(&list(ns, name).await), env().await.log_tail(60));
    }
}

async fn stable_revision(ns: &TestNamespace, name: &str) -> String {
    let r: Rollout = ns.api::<Rollout>().get(name).await.expect("rollout");
    let stable = r.status.unwrap_or_default().stable_rs;
    let sets = ns.api::<k8s_openapi::api::apps::v1::ReplicaSet>().list(&Default::default()).await.expect("list");
    sets.items
        .into_iter()
        .find(|rs| rs.metadata.labels.as_ref().and_then(|l| l.get("rollouts-pod-template-hash")) == Some(&stable))
        .and_then(|rs| rs.metadata.annotations?.get("rollout.argoproj.io/revision").cloned())
        .unwrap_or_default()
}

async fn events(ns: &TestNamespace) -> Vec<(String, String)> {
    let list = ns.api::<k8s_openapi::api::core::v1::Event>().list(&Default::default()).await.expect("events");
    list.items.into_iter().map(|e| (e.reason.unwrap_or_default(), e.message.unwrap_or_default())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_completes_when_step_successful() -> TestResult {
    env().await;
    let ns = namespace("step-successful").await?;
    let _: Rollout = create(&ns, template("app", "Successful", json!({}))).await;
    wait_phase(&ns, "app", "Healthy", T).await;
    update(&ns, "app", 1).await;
    wait_phase(&ns, "app", "Healthy", T).await;
    assert_eq!(stable_revision(&ns, "app").await, "2");
    let l = list(&ns, "app").await;
    assert_eq!(shape(&l), vec![(0, Op::Run, Some(Ph::Successful)), (1, Op::Run, Some(Ph::Successful))]);
    assert_eq!(l[1].name, NAME);
    // The plugin's status went through: a first run of each step counts one.
    assert_eq!(l[1].status.as_ref().and_then(|s| s.get("Count")), Some(&json!(1)), "{:?}", l[1].status);
    let ev = events(&ns).await;
    assert!(ev.contains(&("RolloutStepCompleted".into(), format!("Rollout step 2/2 completed (plugin: {NAME})"))));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_abort_when_step_fails() -> TestResult {
    env().await;
    let ns = namespace("step-fails").await?;
    let _: Rollout = create(&ns, template("app", "Failed", json!({}))).await;
    wait_phase(&ns, "app", "Healthy", T).await;
    update(&ns, "app", 1).await;
    let degraded = wait_phase(&ns, "app", "Degraded", T).await;
    let s = degraded.status.unwrap();
    assert_eq!(stable_revision(&ns, "app").await, "1");
    assert!(s.abort);
    // The aborts run in a reconcile after the one that aborted (as in Argo).
    let expected =
        vec![(0, Op::Run, Some(Ph::Successful)), (1, Op::Run, Some(Ph::Failed)), (0, Op::Abort, Some(Ph::Successful))];
    let api = ns.api::<Rollout>();
    let got = eventually_ok("the abort recorded", T, || async {
        let l = api.get("app").await.ok()?.status?.canary.step_plugin_statuses;
        (shape(&l) == expected).then_some(())
    })
    .await;
    assert!(got.is_ok(), "the failed run is not aborted; the successful one is: {:?}", shape(&list(&ns, "app").await));
    let progressing = s.conditions.iter().find(|c| c.type_ == "Progressing").expect("Progressing");
    assert_eq!(progressing.reason, "RolloutAborted");
    assert!(
        progressing
            .message
            .starts_with(&format!("Rollout aborted update to revision 2: Step Plugin 2 ({NAME}) failed")),
        "{}",
        progressing.message
    );
    Ok(())
}

/// Steps 3 of Argo's scenarios: a running step 1 when the user aborts.
async fn aborted_while_running(ns: &TestNamespace) {
    let _: Rollout = create(ns, template("app", "Running", json!({}))).await;
    wait_phase(ns, "app", "Healthy", T).await;
    update(ns, "app", 1).await;
    wait_phase(ns, "app", "Progressing", T).await;
    wait_step_running(ns, "app", 1).await;
    patch_status(ns, "app", json!({"status": {"abort": true}})).await;
    wait_phase(ns, "app", "Degraded", T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_abort_steps_when_aborted() -> TestResult {
    env().await;
    let ns = namespace("step-aborted").await?;
    aborted_while_running(&ns).await;
    let s = ns.api::<Rollout>().get("app").await?.status.unwrap();
    assert!(s.abort);
    let expected = vec![
        (0, Op::Run, Some(Ph::Successful)),
        (1, Op::Run, Some(Ph::Running)),
        (1, Op::Abort, Some(Ph::Successful)),
        (0, Op::Abort, Some(Ph::Successful)),
    ];
    let api = ns.api::<Rollout>();
    let got = eventually_ok("both aborts recorded", T, || async {
        let l = api.get("app").await.ok()?.status?.canary.step_plugin_statuses;
        (shape(&l) == expected).then_some(())
    })
    .await;
    assert!(got.is_ok(), "{got:?}: {:?}", shape(&list(&ns, "app").await));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_retry_aborted_rollout() -> TestResult {
    env().await;
    let ns = namespace("step-retry").await?;
    aborted_while_running(&ns).await;
    let api = ns.api::<Rollout>();
    eventually_ok("the aborts recorded", T, || async {
        let l = api.get("app").await.ok()?.status?.canary.step_plugin_statuses;
        (l.iter().filter(|e| e.operation == Op::Abort).count() == 2).then_some(())
    })
    .await?;
    patch_status(&ns, "app", json!({"status": {"abort": false}})).await;
    wait_step_running(&ns, "app", 1).await;
    let s = api.get("app").await?.status.unwrap();
    assert!(!s.abort);
    let l = &s.canary.step_plugin_statuses;
    assert_eq!(shape(l), vec![(0, Op::Run, Some(Ph::Successful)), (1, Op::Run, Some(Ph::Running))]);
    assert_eq!(l[0].executions, 1, "step 0 ran again from scratch");
    assert_eq!(l[0].status.as_ref().and_then(|s| s.get("Count")), Some(&json!(1)));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_completes_when_promoted_and_step_running() -> TestResult {
    env().await;
    let ns = namespace("step-promoted").await?;
    let _: Rollout = create(&ns, template("app", "Running", json!({}))).await;
    wait_phase(&ns, "app", "Healthy", T).await;
    update(&ns, "app", 1).await;
    wait_step_running(&ns, "app", 1).await;
    patch_status(&ns, "app", json!({"status": {"promoteFull": true}})).await;
    wait_phase(&ns, "app", "Healthy", T).await;
    let api = ns.api::<Rollout>();
    let expected = vec![
        (0, Op::Run, Some(Ph::Successful)),
        (1, Op::Run, Some(Ph::Running)),
        (1, Op::Terminate, Some(Ph::Successful)),
    ];
    let got = eventually_ok("the terminate recorded", T, || async {
        let l = api.get("app").await.ok()?.status?.canary.step_plugin_statuses;
        (shape(&l) == expected).then_some(())
    })
    .await;
    assert!(got.is_ok(), "{got:?}: {:?}", shape(&list(&ns, "app").await));
    assert_eq!(stable_revision(&ns, "app").await, "2");
    Ok(())
}

/// Argo's deadline scenarios: `progressDeadlineSeconds: 45`, the step keeps answering `phase`;
/// the rollout degrades at the deadline and the plugin is called no more. Returns step 1's entry.
async fn until_deadline(ns: &TestNamespace, phase: &str) -> StepPluginStatus {
    let _: Rollout = create(ns, template("app", phase, json!({}))).await;
    wait_phase(ns, "app", "Healthy", T).await;
    patch_spec(ns, "app", json!({"spec": {"progressDeadlineSeconds": 45}})).await;
    update(ns, "app", 1).await;
    wait_phase(ns, "app", "Progressing", T).await;
    let degraded = wait_phase(ns, "app", "Degraded", Duration::from_secs(150)).await;
    let s = degraded.status.unwrap();
    assert_eq!(s.current_step_index, Some(1));
    assert!(s.message.contains("ProgressDeadlineExceeded"), "{}", s.message);
    let l = s.canary.step_plugin_statuses;
    assert_eq!(l.len(), 2, "{:?}", shape(&l));
    let entry = l[1].clone();
    // Degraded, the rollout is no longer Progressing: no more calls.
    tokio::time::sleep(Duration::from_secs(25)).await;
    let later = list(ns, "app").await;
    assert_eq!(later[1].executions, entry.executions, "no call after the deadline");
    entry
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_retries_until_deadline_when_running() -> TestResult {
    env().await;
    let ns = namespace("step-deadline-running").await?;
    let e = until_deadline(&ns, "Running").await;
    assert_eq!((e.index, e.operation, e.phase), (1, Op::Run, Some(Ph::Running)));
    assert_eq!(e.backoff, "17s");
    assert!(e.status.is_some());
    // Calls 22 s apart (17 s and Argo's 5 s of slack) within 45 s: at 0, 22 and 44 s; the last
    // may land after the deadline's reconcile on a loaded machine.
    assert!((2..=3).contains(&e.executions), "executions {}", e.executions);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_retries_until_deadline_when_error() -> TestResult {
    env().await;
    let ns = namespace("step-deadline-error").await?;
    let e = until_deadline(&ns, "invalidPhaseCausingPluginError").await;
    assert_eq!((e.index, e.operation, e.phase), (1, Op::Run, Some(Ph::Error)));
    assert!(e.message.contains("phase 'invalidPhaseCausingPluginError' is not valid"), "{}", e.message);
    assert_eq!(e.status, None, "an error keeps no status");
    assert_eq!(e.backoff, "30s");
    // 35 s apart (30 s and the slack): at 0 and 35 s.
    assert_eq!(e.executions, 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_status_is_not_used_on_new_rollout() -> TestResult {
    env().await;
    let ns = namespace("step-new-rollout").await?;
    let _: Rollout = create(&ns, template("app", "Successful", json!({}))).await;
    wait_phase(&ns, "app", "Healthy", T).await;
    update(&ns, "app", 1).await;
    wait_phase(&ns, "app", "Healthy", T).await;
    assert_eq!(stable_revision(&ns, "app").await, "2");
    let steps = json!([{"plugin": {"name": NAME, "config": {"return": "Successful"}}}]);
    patch_spec(&ns, "app", json!({"spec": {"strategy": {"canary": {"steps": steps}}}})).await;
    update(&ns, "app", 2).await;
    wait_phase(&ns, "app", "Healthy", T).await;
    assert_eq!(stable_revision(&ns, "app").await, "3");
    let l = list(&ns, "app").await;
    assert_eq!(shape(&l), vec![(0, Op::Run, Some(Ph::Successful))]);
    assert_eq!(l[0].status.as_ref().and_then(|s| s.get("Count")), Some(&json!(1)), "a fresh status");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_error_when_step_plugin_not_configured() -> TestResult {
    env().await;
    let ns = namespace("step-not-configured").await?;
    let steps = json!([{"plugin": {"name": "step/e2e-test-invalid-name"}}]);
    let _: Rollout = create(&ns, rollout("app", 1, "nginx:1.19", steps, json!({}))).await;
    patch_spec(&ns, "app", json!({"spec": {"progressDeadlineSeconds": 15}})).await;
    wait_phase(&ns, "app", "Healthy", T).await;
    update(&ns, "app", 1).await;
    let s = wait_phase(&ns, "app", "Degraded", T).await.status.unwrap();
    assert_eq!(stable_revision(&ns, "app").await, "1");
    assert_eq!(s.current_step_index, Some(0));
    assert!(s.canary.step_plugin_statuses.is_empty());
    let ev = events(&ns).await;
    let error = ev.iter().find(|(r, _)| r == "ReconciliationError").expect("a ReconciliationError event");
    assert!(
        error.1.starts_with("Reconciliation failed with error: could not create step plugin at index 0 : "),
        "{}",
        error.1
    );
    assert!(error.1.contains("step/e2e-test-invalid-name"), "{}", error.1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_skip_plugin_when_disabled() -> TestResult {
    env().await;
    let ns = namespace("step-disabled").await?;
    let steps = json!([
        {"plugin": {"name": "step/e2e-test-disabled", "config": {"return": "Successful"}}},
        {"plugin": {"name": NAME, "config": {"return": "Successful"}}}
    ]);
    let _: Rollout = create(&ns, rollout("app", 1, "nginx:1.19", steps, json!({}))).await;
    wait_phase(&ns, "app", "Healthy", T).await;
    update(&ns, "app", 1).await;
    wait_phase(&ns, "app", "Healthy", T).await;
    assert_eq!(stable_revision(&ns, "app").await, "2");
    let l = list(&ns, "app").await;
    assert_eq!(l.len(), 2);
    assert_eq!(
        (l[0].name.as_str(), l[0].index, l[0].operation, l[0].disabled),
        ("step/e2e-test-disabled", 0, Op::Run, true)
    );
    assert_eq!(l[0].phase, None);
    assert_eq!((l[1].name.as_str(), l[1].index, l[1].phase, l[1].disabled), (NAME, 1, Some(Ph::Successful), false));
    Ok(())
}

/// A step plugin that loops, panics or exhausts its memory costs its step an `Error` entry with
/// the reason, retried; the progress deadline degrades the rollout; the controller and another
/// rollout carry on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_step_plugin_fails_its_step_with_the_reason_and_the_progress_deadline_applies() -> TestResult {
    env().await;
    let ns = namespace("step-hostile").await?;
    let cases = [
        ("loop", "did not finish within its 2s deadline"),
        ("panic", "the plugin panicked"),
        ("memory", "exceeded its 32Mi memory limit"),
        ("huge-status", "over the cap"),
        ("bad-status", "not JSON"),
    ];
    for (attack, _) in cases {
        let steps = json!([{"plugin": {"name": NAME, "config": {"hostile": attack}}}]);
        let mut manifest = rollout(attack, 1, "nginx:1.19", steps, json!({}));
        manifest["spec"]["progressDeadlineSeconds"] = json!(20);
        let _: Rollout = create(&ns, manifest).await;
    }
    let _: Rollout = create(&ns, template("honest", "Successful", json!({}))).await;
    for (attack, _) in cases {
        wait_phase(&ns, attack, "Healthy", T).await;
        update(&ns, attack, 1).await;
    }
    wait_phase(&ns, "honest", "Healthy", T).await;
    update(&ns, "honest", 1).await;
    for (attack, reason) in cases {
        let s = wait_phase(&ns, attack, "Degraded", T).await.status.unwrap();
        assert!(s.message.contains("ProgressDeadlineExceeded"), "{attack}: {}", s.message);
        let l = s.canary.step_plugin_statuses;
        assert_eq!(shape(&l), vec![(0, Op::Run, Some(Ph::Error))], "{attack}");
        assert!(l[0].message.contains(reason), "{attack}: {:?} names {reason:?}", l[0].message);
        assert_eq!(l[0].backoff, "30s", "{attack}");
        assert!(l[0].executions >= 1, "{attack}");
    }
    wait_phase(&ns, "honest", "Healthy", T).await;
    assert_eq!(stable_revision(&ns, "honest").await, "2");
    Ok(())
}

/// The first-party `aviary/wait-for-http`: the step waits while the endpoint answers 503, polled
/// at its `interval`, and completes once it answers 200 with the expected value; its status
/// counts the attempts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_http_waits_until_the_endpoint_answers_as_expected() -> TestResult {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    env().await;
    let ns = namespace("step-wait-for-http").await?;
    let hits = Arc::new(AtomicU32::new(0));
    let counter = hits.clone();
    let router = axum::Router::new().route(
        "/ready",
        axum::routing::get(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 {
                    (axum::http::StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({"status": "warming"})))
                } else {
                    (axum::http::StatusCode::OK, axum::Json(json!({"status": "ready"})))
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let config = json!({"url": format!("http://{addr}/ready"), "jsonPath": "{$.status}", "expectedValue": "ready",
                        "interval": "11s", "maxAttempts": 5});
    let steps =
        json!([{"plugin": {"name": "aviary/wait-for-http", "config": config}}, {"setWeight": 50}, {"pause": {}}]);
    let _: Rollout = create(&ns, rollout("app", 2, "nginx:1.19", steps, json!({}))).await;
    wait_phase(&ns, "app", "Healthy", T).await;
    update(&ns, "app", 1).await;
    wait_step_running(&ns, "app", 0).await;
    let paused = wait_phase(&ns, "app", "Paused", T).await.status.unwrap();
    assert_eq!(paused.current_step_index, Some(2));
    let l = paused.canary.step_plugin_statuses;
    assert_eq!(shape(&l), vec![(0, Op::Run, Some(Ph::Successful))]);
    assert_eq!(l[0].executions, 2, "one 503, then the 200");
    assert_eq!(l[0].status.as_ref().and_then(|s| s.get("attempts")), Some(&json!(2)), "{:?}", l[0].status);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    Ok(())
}

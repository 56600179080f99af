//! Analysis through Wasm plugins: a registered plugin by name, a plugin that hangs, background
//! analysis, Inconclusive results, and malformed rollouts.

mod common;

use std::time::Duration;

use aviary_api::{AnalysisPhase, AnalysisRun, AnalysisTemplate, Rollout};
use aviary_test_support::{TestNamespace, namespace};
use common::*;
use kube::ResourceExt;
use serde_json::json;

const T: Duration = Duration::from_secs(150);

fn plugin_template(
    name: &str,
    plugin: &str,
    config: serde_json::Value,
    metric: serde_json::Value,
) -> serde_json::Value {
    let mut m = json!({"name": "m", "provider": {"plugin": {plugin: config}}});
    if let (Some(m), Some(extra)) = (m.as_object_mut(), metric.as_object()) {
        for (k, v) in extra {
            m.insert(k.clone(), v.clone());
        }
    }
    json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate", "metadata": {"name": name}, "spec": {"metrics": [m]}})
}

async fn runs(ns: &TestNamespace) -> Vec<AnalysisRun> {
    ns.api::<AnalysisRun>().list(&Default::default()).await.unwrap().items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_plugin_gates_the_canary_by_name() -> TestResult {
    env().await;
    let ns = namespace("plugin-by-name").await?;
    let _: AnalysisTemplate = create(
        &ns,
        plugin_template(
            "steady",
            "acme/steady",
            json!({"mode": "ok", "value": 0.97}),
            json!({"interval": "1s", "count": 2, "successCondition": "result > 0.9"}),
        ),
    )
    .await;
    let steps =
        json!([{"setWeight": 50}, {"analysis": {"templates": [{"templateName": "steady"}]}}, {"setWeight": 100}]);
    let _: Rollout = create(&ns, rollout("app", 2, "nginx:1.19", steps, json!({}))).await;
    let v1 = wait_phase(&ns, "app", "Healthy", T).await.status.unwrap().stable_rs;
    set_image(&ns, "app", "nginx:1.20").await;
    eventually_ok("a new revision promoted", T, || async {
        let r = ns.api::<Rollout>().get("app").await.ok()?;
        let s = r.status?;
        (s.phase.map(|p| format!("{p:?}")) == Some("Healthy".into())
            && s.stable_rs != v1
            && s.current_step_index == Some(3))
        .then_some(())
    })
    .await?;
    let runs = runs(&ns).await;
    assert_eq!(runs.len(), 1);
    let st = runs[0].status.clone().unwrap();
    assert_eq!(st.phase, AnalysisPhase::Successful);
    let m = &st.metric_results[0];
    assert_eq!((m.count, m.successful), (2, 2));
    assert_eq!(m.measurements[0].value, "0.97");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_plugin_errors_at_its_deadline_while_other_rollouts_progress() -> TestResult {
    env().await;
    let ns = namespace("plugin-hang").await?;
    // acme/hang loops forever; its registry entry gives it 3 s. Three errors in a row end the
    // metric (consecutiveErrorLimit 2), about 30 s with Argo's 10 s retry after an Error.
    let _: AnalysisTemplate = create(
        &ns,
        plugin_template(
            "hang",
            "acme/hang",
            json!({"mode": "loop"}),
            json!({"consecutiveErrorLimit": 2, "successCondition": "true"}),
        ),
    )
    .await;
    let steps = json!([{"setWeight": 50}, {"analysis": {"templates": [{"templateName": "hang"}]}}, {"setWeight": 100}]);
    let _: Rollout = create(&ns, rollout("stuck", 2, "nginx:1.19", steps, json!({}))).await;
    let _: Rollout =
        create(&ns, rollout("other", 2, "nginx:1.19", json!([{"setWeight": 50}, {"setWeight": 100}]), json!({}))).await;
    wait_phase(&ns, "stuck", "Healthy", T).await;
    let other_v1 = wait_phase(&ns, "other", "Healthy", T).await.status.unwrap().stable_rs;

    set_image(&ns, "stuck", "nginx:1.20").await;
    eventually_ok("the hanging analysis to start", T, || async {
        let r = runs(&ns).await;
        r.first()?.status.as_ref()?.metric_results.first()?.measurements.first().map(|_| ())
    })
    .await?;
    // While the stuck rollout's measurements time out, another rollout completes an update.
    set_image(&ns, "other", "nginx:1.20").await;
    let other = wait_phase(&ns, "other", "Healthy", T).await;
    assert_ne!(other.status.unwrap().stable_rs, other_v1);
    assert_ne!(phase(&ns, "stuck").await.0, "Degraded", "the other rollout finished first");

    let degraded = wait_phase(&ns, "stuck", "Degraded", T).await;
    let msg = degraded.status.unwrap().message;
    assert!(msg.contains("consecutiveErrors (3) > consecutiveErrorLimit (2)"), "{msg}");
    let run = runs(&ns).await.into_iter().next().unwrap();
    let m = run.status.unwrap().metric_results.remove(0);
    assert_eq!(m.error, 3);
    for measurement in &m.measurements {
        assert_eq!(measurement.phase, AnalysisPhase::Error);
        assert!(
            measurement.message.starts_with("timeout: plugin \"acme/hang\" did not finish within its 3s deadline"),
            "{}",
            measurement.message
        );
        let took = measurement.finished_at.unwrap().0 - measurement.started_at.unwrap().0;
        assert!(took < chrono::Duration::seconds(6), "a measurement took {took}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_background_analysis_aborts() -> TestResult {
    env().await;
    let ns = namespace("background").await?;
    let metrics = Metrics::start(0.99).await;
    let _: AnalysisTemplate = create(
        &ns,
        json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate", "metadata": {"name": "bg"},
            "spec": {"metrics": [{"name": "ok", "interval": "1s", "successCondition": "result == true",
                     "provider": {"web": {"url": metrics.url(), "jsonPath": "{$.ok}"}}}]}
        }),
    )
    .await;
    let extra = json!({"analysis": {"templates": [{"templateName": "bg"}], "startingStep": 1}});
    let _: Rollout = create(
        &ns,
        rollout("app", 2, "nginx:1.19", json!([{"setWeight": 50}, {"pause": {}}, {"setWeight": 100}]), extra),
    )
    .await;
    wait_phase(&ns, "app", "Healthy", T).await;
    set_image(&ns, "app", "nginx:1.20").await;
    wait_phase(&ns, "app", "Paused", T).await;
    let run = eventually_ok("a background run", T, || async {
        runs(&ns).await.into_iter().find(|r| r.labels().get("rollout-type").map(String::as_str) == Some("Background"))
    })
    .await?;
    assert!(run.name_any().starts_with("app-"), "{}", run.name_any());
    metrics.set(0.1);
    let degraded = wait_phase(&ns, "app", "Degraded", T).await;
    let s = degraded.status.unwrap();
    assert!(s.abort);
    assert!(s.message.contains("Background analysis phase error/failed: "), "{}", s.message);
    // As Argo, an aborted rollout no longer names its runs (from the reconcile after the abort);
    // the run itself says Failed.
    let rollouts = ns.api::<Rollout>();
    eventually_ok("the aborted rollout to drop its background run", T, || async {
        let ro = rollouts.get("app").await.ok()?;
        ro.status.filter(|st| st.canary.current_background_analysis_run_status.is_none())
    })
    .await?;
    let run = ns.api::<AnalysisRun>().get(&run.name_any()).await?;
    assert_eq!(run.status.map(|st| st.phase), Some(AnalysisPhase::Failed));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inconclusive_analysis_pauses_the_rollout() -> TestResult {
    env().await;
    let ns = namespace("inconclusive").await?;
    let metrics = Metrics::start(0.7).await;
    let _: AnalysisTemplate = create(
        &ns,
        json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate", "metadata": {"name": "gray"},
            "spec": {"metrics": [{"name": "v", "successCondition": "result > 0.95", "failureCondition": "result < 0.5",
                     "provider": {"web": {"url": metrics.url(), "jsonPath": "{$.value}"}}}]}
        }),
    )
    .await;
    let steps = json!([{"setWeight": 50}, {"analysis": {"templates": [{"templateName": "gray"}]}}, {"setWeight": 100}]);
    let _: Rollout = create(&ns, rollout("app", 2, "nginx:1.19", steps, json!({}))).await;
    wait_phase(&ns, "app", "Healthy", T).await;
    set_image(&ns, "app", "nginx:1.20").await;
    let paused = wait_phase(&ns, "app", "Paused", T).await;
    let s = paused.status.unwrap();
    assert_eq!(s.message, "InconclusiveAnalysisRun");
    assert_eq!(s.canary.current_step_analysis_run_status.map(|r| r.phase()), Some(AnalysisPhase::Inconclusive));
    // Promoting after a look at the data starts a fresh analysis; now the metric passes.
    metrics.set(0.99);
    patch_status(&ns, "app", json!({"status": {"pauseConditions": null}})).await;
    wait_phase(&ns, "app", "Healthy", T).await;
    let all = runs(&ns).await;
    assert_eq!(all.len(), 2, "{:?}", all.iter().map(|r| r.name_any()).collect::<Vec<_>>());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_rollouts_are_invalid_spec_and_others_keep_working() -> TestResult {
    env().await;
    let ns = namespace("invalid").await?;
    // An unknown step type: the API server prunes the unknown field, leaving an empty step.
    let _: Rollout = create(&ns, rollout("unknown-step", 1, "nginx:1.19", json!([{"setWieght": 20}]), json!({}))).await;
    let _: Rollout = create(&ns, rollout("negative", 1, "nginx:1.19", json!([{"setWeight": -5}]), json!({}))).await;
    let _: Rollout = create(&ns, rollout("fine", 1, "nginx:1.19", json!([{"setWeight": 50}]), json!({}))).await;
    let bad = wait_phase(&ns, "unknown-step", "Degraded", T).await;
    let msg = bad.status.unwrap().message;
    assert!(msg.starts_with("InvalidSpec: "), "{msg}");
    // Argo's own path for the step (it validates a strategy with the path `spec.strategy`).
    assert!(msg.contains("spec.strategy.steps[0]"), "{msg}");
    let neg = wait_phase(&ns, "negative", "Degraded", T).await;
    let msg = neg.status.unwrap().message;
    assert!(msg.contains("spec.strategy.steps[0].setWeight"), "{msg}");
    wait_phase(&ns, "fine", "Healthy", T).await;
    // Fixing the spec clears the condition.
    patch_spec(&ns, "negative", json!({"spec": {"strategy": {"canary": {"steps": [{"setWeight": 5}]}}}})).await;
    wait_phase(&ns, "negative", "Healthy", T).await;
    Ok(())
}

/// What the controller cannot run (a router of Argo's that no component serves) is refused up
/// front, naming the field — never accepted and left waiting past its progress deadline. No
/// ReplicaSet is made for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_not_implemented_are_invalid_spec_naming_the_field() -> TestResult {
    env().await;
    let ns = namespace("not-yet").await?;
    let extra = json!({"canaryService": "c", "stableService": "s",
                       "trafficRouting": {"alb": {"ingress": "web", "servicePort": 80}}});
    let _: Rollout = create(&ns, rollout("alb", 1, "nginx:1.19", json!([{"setWeight": 50}]), extra)).await;
    let degraded = wait_phase(&ns, "alb", "Degraded", T).await;
    let status = degraded.status.unwrap();
    assert!(status.message.starts_with("InvalidSpec: "), "{}", status.message);
    assert!(status.message.contains("spec.strategy.canary.trafficRouting.alb"), "{}", status.message);
    assert!(status.message.contains("aviary-controller has no alb router yet"), "{}", status.message);
    let invalid = status.conditions.iter().find(|c| c.type_ == "InvalidSpec").expect("an InvalidSpec condition");
    assert_eq!(invalid.status, "True");
    let replica_sets = ns.api::<k8s_openapi::api::apps::v1::ReplicaSet>().list(&Default::default()).await?;
    assert!(replica_sets.items.is_empty(), "nothing is half done: {:?}", replica_sets.items.len());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arguments_resolve_from_values_secrets_field_refs_and_hashes_and_secrets_are_redacted() -> TestResult {
    env().await;
    let ns = namespace("args").await?;
    let _: k8s_openapi::api::core::v1::Secret = create(
        &ns,
        json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"}, "stringData": {"token": "s3cr3t-t0ken"}
        }),
    )
    .await;
    // The metric calls a port where nothing listens, with every argument in the URL: the
    // transport error quotes the URL, so the measurement shows what each argument became.
    let _: AnalysisTemplate = create(&ns, json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate", "metadata": {"name": "echo"},
        "spec": {
            "args": [{"name": "token", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
                     {"name": "hash"}, {"name": "rollout"}, {"name": "env", "value": "prod"}],
            "metrics": [{"name": "m", "consecutiveErrorLimit": 0,
                "provider": {"web": {"url": "http://127.0.0.1:9/{{args.env}}/{{args.rollout}}/{{args.hash}}/{{args.token}}"}}}]
        }
    }))
    .await;
    let steps = json!([{"setWeight": 50}, {"analysis": {
        "templates": [{"templateName": "echo"}],
        "args": [{"name": "hash", "valueFrom": {"podTemplateHashValue": "Latest"}},
                 {"name": "rollout", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
    }}]);
    let _: Rollout = create(&ns, rollout("app", 1, "nginx:1.19", steps, json!({}))).await;
    wait_phase(&ns, "app", "Healthy", T).await;
    set_image(&ns, "app", "nginx:1.20").await;
    let degraded = wait_phase(&ns, "app", "Degraded", T).await;
    let s = degraded.status.unwrap();
    // Aborted, the rollout no longer names its run (as Argo): it is the only one.
    let run = runs(&ns).await.into_iter().next().ok_or("no AnalysisRun")?;
    let st = run.status.clone().unwrap();
    let message = &st.metric_results[0].measurements[0].message;
    assert!(message.contains(&format!("/prod/app/{}/*****", s.current_pod_hash)), "{message}");
    assert!(!message.contains("s3cr3t-t0ken"));
    assert!(!st.message.contains("s3cr3t-t0ken"));
    assert!(
        !serde_json::to_string(&run.spec)?.contains("s3cr3t-t0ken"),
        "the secret stays a reference in the run's spec"
    );
    Ok(())
}

/// A loopback service answering both series of a canary comparison, as a metrics backend would.
async fn series_server(canary: Vec<f64>, baseline: Vec<f64>) -> String {
    let body = json!({"canary": canary, "baseline": baseline});
    let router = axum::Router::new().route(
        "/compare",
        axum::routing::get(move || {
            let body = body.clone();
            async move { axum::Json(body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}/compare")
}

/// `aviary/judge` picked by one metric's conditions (`aviary/judge: {...}`) while the other
/// metric of the same run keeps its expr condition: a canary like its baseline passes the judge,
/// one much slower fails it and the canary is aborted.
async fn judged_canary(ns: &TestNamespace, canary: Vec<f64>) -> Rollout {
    let baseline = vec![180.0, 176.0, 191.0, 185.0, 179.0, 188.0, 183.0, 181.0];
    let url = series_server(canary, baseline).await;
    let metrics = Metrics::start(0.99).await;
    let settings =
        |is: &str| format!(r#"aviary/judge: {{"is": "{is}", "pass": 95, "marginal": 75, "direction": "increase"}}"#);
    let _: AnalysisTemplate = create(
        ns,
        json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate", "metadata": {"name": "judged"},
            "spec": {"metrics": [
                {"name": "latency", "count": 1,
                 "successCondition": settings("pass"), "failureCondition": settings("fail"),
                 "provider": {"web": {"url": url, "jsonPath": "{$}"}}},
                {"name": "ok", "count": 1, "successCondition": "result == true",
                 "provider": {"web": {"url": metrics.url(), "jsonPath": "{$.ok}"}}}
            ]}
        }),
    )
    .await;
    let steps =
        json!([{"setWeight": 50}, {"analysis": {"templates": [{"templateName": "judged"}]}}, {"setWeight": 100}]);
    let _: Rollout = create(ns, rollout("app", 2, "nginx:1.19", steps, json!({}))).await;
    let v1 = wait_phase(ns, "app", "Healthy", T).await.status.unwrap().stable_rs;
    set_image(ns, "app", "nginx:1.20").await;
    eventually_ok("the judged update to finish", T, || async {
        let r = ns.api::<Rollout>().get("app").await.ok()?;
        let s = r.status.as_ref()?;
        (s.abort || (s.stable_rs != v1 && s.stable_rs == s.current_pod_hash)).then_some(r)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metric_picks_aviary_judge_by_its_conditions() -> TestResult {
    env().await;
    let ns = namespace("judge-pass").await?;
    let done = judged_canary(&ns, vec![182.0, 178.0, 190.0, 186.0, 181.0, 187.0, 184.0, 180.0]).await;
    assert!(!done.status.unwrap().abort, "a canary like its baseline passes");
    let run = runs(&ns).await.into_iter().next().expect("the step's run");
    let st = run.status.unwrap();
    assert_eq!(st.phase, AnalysisPhase::Successful, "{st:?}");
    let latency = st.metric_results.iter().find(|r| r.name == "latency").unwrap();
    assert_eq!(latency.measurements[0].phase, AnalysisPhase::Successful);

    let ns = namespace("judge-fail").await?;
    let done = judged_canary(&ns, vec![212.0, 230.0, 251.0, 224.0, 240.0, 236.0, 229.0, 244.0]).await;
    assert!(done.status.unwrap().abort, "a much slower canary fails the judge and is aborted");
    let run = runs(&ns).await.into_iter().next().expect("the step's run");
    let latency = run.status.unwrap().metric_results.into_iter().find(|r| r.name == "latency").unwrap();
    assert_eq!(latency.measurements[0].phase, AnalysisPhase::Failed);
    Ok(())
}

/// A measurement taken while its run is terminated is recorded, not lost: the web server holds
/// its answer until the test has set `spec.terminate`, so the controller's status write (made
/// from the run before the terminate) conflicts. Argo writes a run's status without a
/// resourceVersion, so the measurement lands and the run then ends as terminated; a reconcile
/// that started over instead would forget the measurement (and, for a Job, leave it running).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_measurement_taken_while_the_run_is_terminated_is_recorded() -> TestResult {
    env().await;
    let ns = namespace("terminate-mid-measurement").await?;
    let (asked_tx, mut asked) = tokio::sync::mpsc::channel::<()>(4);
    let release = std::sync::Arc::new(tokio::sync::Notify::new());
    let router = axum::Router::new().route(
        "/held",
        axum::routing::get({
            let release = release.clone();
            move || {
                let (asked_tx, release) = (asked_tx.clone(), release.clone());
                async move {
                    let _ = asked_tx.send(()).await;
                    release.notified().await;
                    axum::Json(json!({"value": 0.97}))
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/held", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let run: AnalysisRun = create(
        &ns,
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun", "metadata": {"name": "held"},
               "spec": {"metrics": [{"name": "held", "interval": "1h", "successCondition": "result > 0.9",
                                     "provider": {"web": {"url": url, "jsonPath": "{$.value}"}}}]}}),
    )
    .await;
    tokio::time::timeout(T, asked.recv()).await?.ok_or("the server's channel closed")?;
    let patch = json!({"spec": {"terminate": true}});
    ns.api::<AnalysisRun>().patch(&run.name_any(), &Default::default(), &kube::api::Patch::Merge(&patch)).await?;
    release.notify_one();
    let done = eventually_ok("the run completed", T, || async {
        let r = ns.api::<AnalysisRun>().get("held").await.ok()?;
        r.status.filter(|s| s.phase.is_completed())
    })
    .await?;
    assert_eq!((done.phase, done.message.as_str()), (AnalysisPhase::Successful, "Run Terminated"), "{done:?}");
    let m = done.metric_results.first().ok_or_else(|| format!("the measurement was lost: {done:?}"))?;
    assert_eq!(m.measurements.len(), 1, "{m:?}");
    assert_eq!((m.measurements[0].phase, m.measurements[0].value.as_str()), (AnalysisPhase::Successful, "0.97"));
    Ok(())
}

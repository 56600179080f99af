//! Argo's `job` provider as the first-party component `aviary/job`, on the real control plane:
//! the Jobs are created through the plugin host's `kubernetes` import and run by the test
//! cluster's job controller and fake kubelet (`sh -c "sleep N && exit K"` really ends with K).
//! Named after Argo's analysis_test.go cases that use Job metrics.

mod common;

use std::time::Duration;

use aviary_api::{AnalysisPhase, AnalysisRun, AnalysisTemplate, Rollout};
use aviary_test_support::{TestNamespace, namespace};
use common::*;
use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;
use serde_json::json;

const T: Duration = Duration::from_secs(150);

/// Argo's functional/analysistemplate-sleep-job.yaml: a Job that sleeps, then exits with a code.
fn sleep_job(name: &str, script: &str) -> serde_json::Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate", "metadata": {"name": name},
        "spec": {"metrics": [{"name": "sleep-job", "count": 1, "provider": {"job": {
            "metadata": {"labels": {"team": "shop"}, "annotations": {"purpose": "smoke"}},
            "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never", "containers": [{
                "name": "sleep-job", "image": "nginx:1.19-alpine", "command": ["sh", "-c", "-x"], "args": [script]
            }]}}}
        }}}]}
    })
}

async fn runs(ns: &TestNamespace) -> Vec<AnalysisRun> {
    ns.api::<AnalysisRun>().list(&Default::default()).await.unwrap().items
}

async fn jobs(ns: &TestNamespace) -> Vec<Job> {
    ns.api::<Job>().list(&Default::default()).await.unwrap().items
}

/// Argo's TestCanaryInlineAnalysis: a step's Job succeeds, the canary goes on; the Job is
/// Argo's (name, labels, annotations, owner) and the measurement names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_inline_analysis_with_a_successful_job() -> TestResult {
    env().await;
    let ns = namespace("job-inline").await?;
    let _: AnalysisTemplate = create(&ns, sleep_job("sleep-job", "sleep 1 && exit 0")).await;
    let steps =
        json!([{"setWeight": 50}, {"analysis": {"templates": [{"templateName": "sleep-job"}]}}, {"setWeight": 100}]);
    let _: Rollout = create(&ns, rollout("app", 2, "nginx:1.19", steps, json!({}))).await;
    let v1 = wait_phase(&ns, "app", "Healthy", T).await.status.unwrap().stable_rs;
    set_image(&ns, "app", "nginx:1.20").await;
    eventually_ok("the canary promoted after its Job succeeded", T, || async {
        let s = ns.api::<Rollout>().get("app").await.ok()?.status?;
        (s.phase.map(|p| format!("{p:?}")) == Some("Healthy".into()) && s.stable_rs != v1).then_some(())
    })
    .await?;
    let runs = runs(&ns).await;
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    let st = run.status.clone().unwrap();
    assert_eq!(st.phase, AnalysisPhase::Successful);
    let m = &st.metric_results[0].measurements[0];
    assert_eq!(m.phase, AnalysisPhase::Successful);
    let uid = run.metadata.uid.clone().unwrap();
    let name = format!("{uid}.sleep-job.1");
    assert_eq!(m.metadata.get("job-name"), Some(&name));
    assert_eq!(m.metadata.get("job-namespace"), Some(&ns.name().to_string()));

    let job = ns.api::<Job>().get(&name).await?;
    assert_eq!(job.labels().get("analysisrun.argoproj.io/uid"), Some(&uid));
    assert_eq!(job.labels().get("team").map(String::as_str), Some("shop"));
    let a = job.annotations();
    assert_eq!(a.get("analysisrun.argoproj.io/name"), Some(&run.name_any()));
    assert_eq!(a.get("analysisrun.argoproj.io/metric-name").map(String::as_str), Some("sleep-job"));
    assert_eq!(a.get("purpose").map(String::as_str), Some("smoke"));
    let owner = &job.owner_references()[0];
    assert_eq!((owner.kind.as_str(), owner.uid.as_str(), owner.controller), ("AnalysisRun", uid.as_str(), Some(true)));
    assert_eq!(job.status.and_then(|s| s.succeeded), Some(1), "the Job really ran to success");
    Ok(())
}

/// Argo's TestCanaryFailInlineMultipleAnalysis: a step's Job fails, the run fails and the canary
/// is aborted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_inline_analysis_with_a_failing_job_aborts() -> TestResult {
    env().await;
    let ns = namespace("job-fail").await?;
    let _: AnalysisTemplate = create(&ns, sleep_job("sleep-job", "sleep 1 && exit 1")).await;
    let steps =
        json!([{"setWeight": 50}, {"analysis": {"templates": [{"templateName": "sleep-job"}]}}, {"setWeight": 100}]);
    let _: Rollout = create(&ns, rollout("app", 2, "nginx:1.19", steps, json!({}))).await;
    wait_phase(&ns, "app", "Healthy", T).await;
    set_image(&ns, "app", "nginx:1.20").await;
    let degraded = wait_phase(&ns, "app", "Degraded", T).await;
    assert!(degraded.status.unwrap().abort);
    let run = runs(&ns).await.into_iter().next().expect("the step's run");
    let st = run.status.unwrap();
    assert_eq!(st.phase, AnalysisPhase::Failed);
    assert_eq!(st.metric_results[0].measurements[0].phase, AnalysisPhase::Failed);
    let job = jobs(&ns).await.into_iter().next().expect("the Job");
    assert_eq!(job.status.and_then(|s| s.failed), Some(1), "the Job really failed");
    Ok(())
}

/// Argo's TestCanaryBackgroundAnalysisLongRunningJob: the rollout completes while its background
/// Job still runs; the run is terminated, its Job deleted, and the measurement is Inconclusive
/// (never Successful: the Job did not finish).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminated_run_deletes_its_running_job() -> TestResult {
    env().await;
    let ns = namespace("job-terminate").await?;
    let _: AnalysisTemplate = create(&ns, sleep_job("long-running-job", "sleep 6000")).await;
    let extra = json!({"analysis": {"templates": [{"templateName": "long-running-job"}]}});
    let steps = json!([{"setWeight": 50}, {"pause": {}}]);
    let _: Rollout = create(&ns, rollout("app", 2, "nginx:1.19", steps, extra)).await;
    wait_phase(&ns, "app", "Healthy", T).await;
    set_image(&ns, "app", "nginx:1.20").await;
    wait_phase(&ns, "app", "Paused", T).await;
    let job = eventually_ok("the background Job running", T, || async {
        jobs(&ns).await.into_iter().find(|j| j.status.as_ref().and_then(|s| s.active) == Some(1))
    })
    .await?;
    // `kubectl argo rollouts promote --full`: the update completes while the Job still runs.
    patch_status(&ns, "app", json!({"status": {"promoteFull": true}})).await;
    wait_phase(&ns, "app", "Healthy", T).await;
    let run = eventually_ok("the background run terminated", T, || async {
        runs(&ns).await.into_iter().find(|r| r.status.as_ref().is_some_and(|s| s.phase.is_completed()))
    })
    .await?;
    let all = runs(&ns).await;
    assert_eq!(
        all.len(),
        1,
        "one background run: {:?}",
        all.iter().map(|r| (r.name_any(), &r.status)).collect::<Vec<_>>()
    );
    let st = run.status.unwrap();
    assert_eq!(st.phase, AnalysisPhase::Inconclusive, "{st:?}");
    assert_eq!(st.metric_results[0].measurements.last().map(|m| m.phase), Some(AnalysisPhase::Inconclusive));
    eventually_ok("the Job deleted", T, || async {
        ns.api::<Job>().get_opt(&job.name_any()).await.ok()?.is_none().then_some(())
    })
    .await?;
    Ok(())
}

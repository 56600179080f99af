//! The reference canary of argo-semantics §2.8 end to end: 10 replicas, setWeight 25, analysis,
//! setWeight 50, analysis, setWeight 100, the analysis a web metric against a loopback server,
//! taken by the first-party `web` plugin and judged by `aviary/expr`.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use aviary_api::{AnalysisPhase, AnalysisRun, Rollout};
use aviary_test_support::namespace;
use common::*;
use kube::ResourceExt;
use serde_json::json;

const LONG: Duration = Duration::from_secs(150);

fn reference_steps() -> serde_json::Value {
    json!([
        {"setWeight": 25},
        {"analysis": {"templates": [{"templateName": "ok-rate"}]}},
        {"setWeight": 50},
        {"analysis": {"templates": [{"templateName": "ok-rate"}]}},
        {"setWeight": 100}
    ])
}

/// Watches the ReplicaSets until the rollout is `phase`, recording every distinct (stable,
/// canary) pair of spec counts (each ReplicaSet change arrives as its own watch event, so no
/// intermediate state is missed) and the largest number of pods asked for at once.
async fn watch_until(
    ns: &aviary_test_support::TestNamespace,
    name: &str,
    old_hash: &str,
    phase_wanted: &str,
) -> (Vec<(i32, i32)>, i32) {
    use futures::StreamExt;
    use k8s_openapi::api::apps::v1::ReplicaSet;
    use kube::runtime::watcher;
    let mut specs: std::collections::BTreeMap<String, i32> = std::collections::BTreeMap::new();
    let mut seen: Vec<(i32, i32)> = Vec::new();
    let mut max_total = 0;
    let config = watcher::Config::default().labels(&format!("app={name}"));
    let mut events = watcher(ns.api::<ReplicaSet>(), config).boxed();
    let deadline = tokio::time::Instant::now() + LONG;
    loop {
        let next = tokio::time::timeout(Duration::from_millis(500), events.next()).await;
        if let Ok(Some(Ok(watcher::Event::Apply(rs) | watcher::Event::InitApply(rs)))) = next {
            let h = rs.labels().get("rollouts-pod-template-hash").cloned().unwrap_or_default();
            specs.insert(h, rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0));
            let stable = specs.get(old_hash).copied().unwrap_or(0);
            let canary: i32 = specs.iter().filter(|(h, _)| h.as_str() != old_hash).map(|(_, r)| *r).sum();
            max_total = max_total.max(stable + canary);
            if seen.last() != Some(&(stable, canary)) {
                seen.push((stable, canary));
            }
        }
        let r: Rollout = ns.api::<Rollout>().get(name).await.unwrap();
        let s = r.status.clone().unwrap_or_default();
        let p = s.phase.map(|p| format!("{p:?}")).unwrap_or_default();
        let observed = s.observed_generation == r.metadata.generation.unwrap_or(0).to_string();
        if p == phase_wanted && s.current_pod_hash != old_hash && observed && seen.last() == Some(&(0, 10)) {
            return (seen, max_total);
        }
        if tokio::time::Instant::now() > deadline {
            panic!(
                "rollout never became {phase_wanted}; seen {seen:?}\nstatus {s:#?}\nlog:\n{}",
                env().await.log_tail(80)
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_canary_walks_its_steps_and_promotes() -> TestResult {
    env().await;
    let ns = namespace("canary-ok").await?;
    let metrics = Metrics::start(0.99).await;
    let _: aviary_api::AnalysisTemplate = create(&ns, web_template("ok-rate", &metrics.url(), "5s", 3)).await;
    let _: Rollout = create(&ns, rollout("web", 10, "nginx:1.19", reference_steps(), json!({}))).await;
    let first = wait_phase(&ns, "web", "Healthy", LONG).await;
    let old_hash = first.status.unwrap().stable_rs;
    assert!(!old_hash.is_empty());
    // The first deploy skips the steps and creates no analysis.
    assert!(ns.api::<AnalysisRun>().list(&Default::default()).await?.items.is_empty());

    set_image(&ns, "web", "nginx:1.20").await;
    let (seen, max_total) = watch_until(&ns, "web", &old_hash, "Healthy").await;

    // Reference §2.8: stable 10→8 first, then the canary 0→3; later 5/5; then full promotion.
    let pos = |pair: (i32, i32)| seen.iter().position(|p| *p == pair);
    let (a, b, c) = (pos((8, 0)), pos((8, 3)), pos((5, 5)));
    assert!(a.is_some() && b.is_some() && c.is_some(), "expected (8,0), (8,3) and (5,5) in order: {seen:?}");
    assert!(a < b && b < c, "out of order: {seen:?}");
    assert!(max_total <= 13, "never more than replicas + maxSurge pods: {max_total} ({seen:?})");
    assert_eq!(seen.last(), Some(&(0, 10)), "{seen:?}");

    let r: Rollout = ns.api::<Rollout>().get("web").await?;
    let s = r.status.unwrap();
    assert_eq!(s.stable_rs, s.current_pod_hash);
    assert_ne!(s.stable_rs, old_hash);
    assert_eq!(s.current_step_index, Some(5));
    assert_eq!((s.replicas, s.updated_replicas, s.available_replicas), (10, 10, 10));
    assert_eq!(
        r.metadata.annotations.unwrap_or_default().get("rollout.argoproj.io/revision").map(String::as_str),
        Some("2")
    );

    // One step run per analysis step, each Successful after its three measurements.
    let runs = ns.api::<AnalysisRun>().list(&Default::default()).await?.items;
    let steps: BTreeSet<String> = runs.iter().filter_map(|r| r.labels().get("step-index").cloned()).collect();
    assert_eq!(steps, BTreeSet::from(["1".to_string(), "3".to_string()]), "{runs:#?}");
    for run in &runs {
        let st = run.status.clone().unwrap();
        assert_eq!(st.phase, AnalysisPhase::Successful, "{}", run.name_any());
        assert_eq!(st.metric_results[0].count, 3);
        assert_eq!(st.metric_results[0].measurements[0].value, "true");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_analysis_aborts_and_scales_the_canary_down() -> TestResult {
    env().await;
    let ns = namespace("canary-fail").await?;
    let metrics = Metrics::start(0.99).await;
    let _: aviary_api::AnalysisTemplate = create(&ns, web_template("ok-rate", &metrics.url(), "5s", 3)).await;
    let _: Rollout = create(&ns, rollout("web", 10, "nginx:1.19", reference_steps(), json!({}))).await;
    let first = wait_phase(&ns, "web", "Healthy", LONG).await;
    let old_hash = first.status.unwrap().stable_rs;

    metrics.set(0.5);
    set_image(&ns, "web", "nginx:1.20").await;
    let degraded = wait_phase(&ns, "web", "Degraded", LONG).await;
    let s = degraded.status.unwrap();
    assert!(s.abort);
    assert!(s.message.starts_with("RolloutAborted: Rollout aborted update to revision 2"), "{}", s.message);
    assert!(s.message.contains("Metric \"ok\" assessed Failed due to failed (1) > failureLimit (0)"), "{}", s.message);

    // The canary goes to 0; the stable is intact.
    eventually_ok("canary scaled to 0 and stable at 10", LONG, || async {
        let rss = replica_sets(&ns, "web").await;
        let canary: i32 = rss.iter().filter(|(h, _)| h.as_str() != old_hash).map(|(_, r)| r.0).sum();
        (canary == 0 && rss.get(&old_hash) == Some(&(10, 10))).then_some(())
    })
    .await?;
    let r: Rollout = ns.api::<Rollout>().get("web").await?;
    assert_eq!(r.status.unwrap().stable_rs, old_hash);
    Ok(())
}

//! SIGKILL the controller twenty times at random moments while canaries with analysis run: every
//! rollout completes, a watch on the pods never sees more than replicas + maxSurge pods nor fewer
//! than replicas − maxUnavailable available ones, and no step gets a second AnalysisRun.
//!
//! A test binary of its own: it kills the controller that every test of its binary shares.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aviary_api::{AnalysisPhase, AnalysisRun, AnalysisTemplate, Rollout};
use aviary_test_support::{TestNamespace, namespace};
use common::*;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::runtime::watcher;
use serde_json::json;

const T: Duration = Duration::from_secs(240);
const REPLICAS: usize = 4;
const MAX_SURGE: usize = 1;
const MAX_UNAVAILABLE: usize = 1;
const ROLLOUTS: [&str; 2] = ["a", "b"];
const KILLS: usize = 20;

fn ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Per rollout: the pods that are not terminating, how many of them are ready, and the count per
/// pod-template-hash (for the failure message).
fn census(pods: &HashMap<String, Pod>) -> BTreeMap<String, (usize, usize, BTreeMap<String, usize>)> {
    let mut out = BTreeMap::new();
    for pod in pods.values().filter(|p| p.metadata.deletion_timestamp.is_none()) {
        let app = pod.labels().get("app").cloned().unwrap_or_default();
        let hash = pod.labels().get("rollouts-pod-template-hash").cloned().unwrap_or_default();
        let e = out.entry(app).or_insert((0, 0, BTreeMap::new()));
        e.0 += 1;
        e.1 += usize::from(ready(pod));
        *e.2.entry(hash).or_insert(0) += 1;
    }
    out
}

/// Watches the namespace's pods and records every state that breaks the surge or availability
/// bound, from the moment `armed` is set (after the first rollout of each is Healthy).
fn watch_invariants(ns: &TestNamespace, armed: Arc<Mutex<bool>>) -> Arc<Mutex<Vec<String>>> {
    let violations = Arc::new(Mutex::new(Vec::new()));
    let v = violations.clone();
    let api = ns.api::<Pod>();
    tokio::spawn(async move {
        let mut pods: HashMap<String, Pod> = HashMap::new();
        let mut init: HashMap<String, Pod> = HashMap::new();
        let mut stream = watcher(api, watcher::Config::default()).boxed();
        while let Some(event) = stream.next().await {
            match event {
                Ok(watcher::Event::Apply(p)) => {
                    pods.insert(p.name_any(), p);
                }
                Ok(watcher::Event::Delete(p)) => {
                    pods.remove(&p.name_any());
                }
                Ok(watcher::Event::Init) => init.clear(),
                Ok(watcher::Event::InitApply(p)) => {
                    init.insert(p.name_any(), p);
                }
                Ok(watcher::Event::InitDone) => pods = std::mem::take(&mut init),
                Err(_) => continue,
            }
            if !*armed.lock().unwrap() {
                continue;
            }
            for (app, (running, available, by_hash)) in census(&pods) {
                if running > REPLICAS + MAX_SURGE || available < REPLICAS - MAX_UNAVAILABLE {
                    let at = chrono::Utc::now().format("%H:%M:%S%.3f");
                    v.lock().unwrap().push(format!("{at} {app}: {running} pods, {available} available {by_hash:?}"));
                }
            }
        }
    });
    violations
}

async fn latest_images_healthy(ns: &TestNamespace, images: &BTreeMap<&str, String>) -> bool {
    for (name, image) in images {
        let Ok(r) = ns.api::<Rollout>().get(name).await else { return false };
        let Some(s) = r.status.as_ref() else { return false };
        let current = r
            .spec
            .template
            .as_ref()
            .and_then(|t| t.spec.as_ref())
            .map(|p| p.containers[0].image.clone().unwrap_or_default());
        let observed = s.observed_generation == r.metadata.generation.unwrap_or(0).to_string();
        let healthy = s.phase.map(|p| format!("{p:?}")).as_deref() == Some("Healthy");
        if !(observed && healthy && current.as_deref() == Some(image.as_str()) && s.stable_rs == s.current_pod_hash) {
            return false;
        }
    }
    true
}

async fn http_ready(port: u16) -> bool {
    http_get(port, "/readyz").await.0 == 200
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_sigkills_during_canaries_with_analysis_break_no_invariant() -> TestResult {
    let env = env().await;
    let ns = namespace("kills").await?;
    let metrics = Metrics::start(1.0).await;
    let _: AnalysisTemplate = create(&ns, web_template("ok", &metrics.url(), "1s", 3)).await;
    let steps = json!([
        {"setWeight": 25},
        {"analysis": {"templates": [{"templateName": "ok"}]}},
        {"setWeight": 50},
        {"pause": {"duration": "2s"}},
        {"setWeight": 75},
        {"analysis": {"templates": [{"templateName": "ok"}]}}
    ]);
    let strategy = json!({"maxSurge": MAX_SURGE, "maxUnavailable": MAX_UNAVAILABLE});
    let mut images = BTreeMap::new();
    for name in ROLLOUTS {
        let _: Rollout =
            create(&ns, rollout(name, REPLICAS as i32, "nginx:1.0", steps.clone(), strategy.clone())).await;
        images.insert(name, "nginx:1.0".to_string());
    }
    for name in ROLLOUTS {
        wait_phase(&ns, name, "Healthy", T).await;
    }
    let armed = Arc::new(Mutex::new(false));
    let violations = watch_invariants(&ns, armed.clone());
    // Let the watch list the pods before the bounds apply.
    tokio::time::sleep(Duration::from_secs(1)).await;
    *armed.lock().unwrap() = true;

    let mut rng = KillRng::from_env();
    let seed = rng.seed;
    let mut version = 1;
    let started = Instant::now();
    for kill in 0..KILLS {
        // Whichever rollout is done starts another canary, so that every kill lands mid-canary.
        for name in ROLLOUTS {
            let one: BTreeMap<&str, String> = [(name, images[name].clone())].into();
            if latest_images_healthy(&ns, &one).await {
                version += 1;
                let image = format!("nginx:1.{version}");
                set_image(&ns, name, &image).await;
                images.insert(name, image);
            }
        }
        eventually_ok(&format!("controller ready before kill {kill}"), T, || async {
            http_ready(env.ports.1).await.then_some(())
        })
        .await?;
        tokio::time::sleep(Duration::from_millis(rng.next() % 2500)).await;
        env.restart_controller();
    }
    let killing = started.elapsed();
    eventually_ok("every rollout Healthy on its latest image", T, || async {
        latest_images_healthy(&ns, &images).await.then_some(())
    })
    .await
    .map_err(|e| format!("{e}\nimages {images:?}\ncontroller log:\n{}", env.log_tail(60)))?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seen = violations.lock().unwrap().clone();
    if !seen.is_empty() {
        let log = std::fs::read_to_string(&env.log).unwrap_or_default();
        let actions: Vec<&str> = log
            .lines()
            .filter(|l| {
                l.contains("scaled") || l.contains("started") || l.contains("synced") || l.contains("completed")
            })
            .collect();
        panic!("bounds broken (seed {seed}): {seen:#?}\ncontroller actions:\n{}", actions.join("\n"));
    }
    assert!(version >= 3, "the kills should span several canaries, saw {} image updates", version - 1);

    // One AnalysisRun per (rollout, revision, step), each Successful.
    let runs = ns.api::<AnalysisRun>().list(&Default::default()).await?.items;
    let mut per_step: BTreeMap<(String, String, String), Vec<String>> = BTreeMap::new();
    for run in &runs {
        let labels = run.labels();
        let owner = run.owner_references().first().map(|o| o.name.clone()).unwrap_or_default();
        let key = (
            owner,
            labels.get("rollouts-pod-template-hash").cloned().unwrap_or_default(),
            labels.get("step-index").cloned().unwrap_or_default(),
        );
        per_step.entry(key).or_default().push(run.name_any());
        let phase = run.status.as_ref().map(|s| s.phase);
        assert_eq!(phase, Some(AnalysisPhase::Successful), "{}: {:?}", run.name_any(), run.status);
    }
    let duplicates: Vec<_> = per_step.iter().filter(|(_, names)| names.len() > 1).collect();
    assert!(duplicates.is_empty(), "duplicate AnalysisRuns (seed {seed}): {duplicates:#?}");
    // The last canary of each rollout ran both analysis steps (older runs beyond Argo's default
    // history of five successful runs are deleted, as Argo does).
    for name in ROLLOUTS {
        let hash = ns.api::<Rollout>().get(name).await?.status.unwrap_or_default().current_pod_hash;
        for step in ["1", "5"] {
            let key = (name.to_string(), hash.clone(), step.to_string());
            assert!(per_step.contains_key(&key), "no run for {key:?}: {per_step:#?}");
        }
    }
    println!("{KILLS} kills over {killing:?}; {} image updates; {} step AnalysisRuns", version - 1, per_step.len());
    Ok(())
}

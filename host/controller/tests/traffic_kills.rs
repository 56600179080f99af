//! The traffic invariant: across traffic-routed canaries (one with dynamicStableScale) and their
//! aborts, with the controller SIGKILLed at random moments, no revision of a routing object ever
//! sends weight to a Service whose ReplicaSet has no available pod at that moment.
//!
//! Every revision of the TrafficSplits, Services and ReplicaSets is recorded from watches and
//! replayed in resourceVersion order (the API server's own order of writes), so each TrafficSplit
//! revision is checked against the ReplicaSets and Service selectors as they were when it was
//! written, whatever order the watches delivered them in.
//!
//! A test binary of its own: it kills the controller that every test of its binary shares.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aviary_api::Rollout;
use aviary_test_support::{TestNamespace, cluster, namespace};
use common::*;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Service;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::watcher;
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(240);
const KILLS: usize = 12;

/// One recorded revision: its resourceVersion, its kind and the object.
type Revision = (u64, &'static str, Value);

fn record<K>(api: kube::Api<K>, kind: &'static str, log: Arc<Mutex<Vec<Revision>>>)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug + Send + 'static,
{
    tokio::spawn(async move {
        let mut events = watcher(api, watcher::Config::default()).boxed();
        while let Some(event) = events.next().await {
            let (watcher::Event::Apply(o) | watcher::Event::InitApply(o) | watcher::Event::Delete(o)) = (match event {
                Ok(e) => e,
                Err(_) => continue,
            }) else {
                continue;
            };
            let value = serde_json::to_value(&o).unwrap_or_default();
            let rv = value.pointer("/metadata/resourceVersion").and_then(Value::as_str).and_then(|s| s.parse().ok());
            if let Some(rv) = rv {
                log.lock().unwrap().push((rv, kind, value));
            }
        }
    });
}

/// Replays the revisions in resourceVersion order; returns the violations, and how many weights
/// (canary or stable, on a Service selecting one ReplicaSet) were checked.
fn check(revisions: &mut [Revision]) -> (Vec<String>, usize) {
    revisions.sort_by_key(|r| r.0);
    let mut available: BTreeMap<String, i64> = BTreeMap::new();
    let mut selector: BTreeMap<String, String> = BTreeMap::new();
    let mut violations = Vec::new();
    let mut weighted = 0;
    for (rv, kind, o) in revisions.iter() {
        match *kind {
            "ReplicaSet" => {
                let hash = o.pointer("/metadata/labels/rollouts-pod-template-hash").and_then(Value::as_str);
                let avail = o.pointer("/status/availableReplicas").and_then(Value::as_i64).unwrap_or(0);
                if let Some(h) = hash {
                    available.insert(h.to_string(), avail);
                }
            }
            "Service" => {
                let name = o.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
                let hash = o.pointer("/spec/selector/rollouts-pod-template-hash").and_then(Value::as_str);
                selector.insert(name.to_string(), hash.unwrap_or_default().to_string());
            }
            _ => {
                let backends = o.pointer("/spec/backends").and_then(Value::as_array).cloned().unwrap_or_default();
                for b in backends {
                    let weight = b["weight"].as_i64().unwrap_or(0);
                    let service = b["service"].as_str().unwrap_or_default();
                    // A Service with no pod-template-hash selector selects every pod of the app.
                    let hash = selector.get(service).cloned().unwrap_or_default();
                    if weight == 0 || hash.is_empty() {
                        continue;
                    }
                    weighted += 1;
                    let pods = available.get(&hash).copied().unwrap_or(0);
                    if pods == 0 {
                        violations.push(format!(
                            "TrafficSplit revision {rv}: weight {weight} to {service} (selecting {hash:?}) with {pods} available pods"
                        ));
                    }
                }
            }
        }
    }
    (violations, weighted)
}

async fn routed(ns: &TestNamespace, name: &str, dynamic: bool) {
    for svc in ["canary", "stable", "root"] {
        let _: Service = create(
            ns,
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": format!("{name}-{svc}")},
                   "spec": {"selector": {"app": name}, "ports": [{"port": 80}]}}),
        )
        .await;
    }
    let steps = json!([
        {"setWeight": 25}, {"pause": {"duration": "2s"}},
        {"setWeight": 50}, {"pause": {"duration": "2s"}},
        {"setWeight": 75}, {"pause": {"duration": "2s"}}
    ]);
    let extra = json!({
        "canaryService": format!("{name}-canary"),
        "stableService": format!("{name}-stable"),
        "dynamicStableScale": dynamic,
        "trafficRouting": {"smi": {"rootService": format!("{name}-root"), "trafficSplitName": name}}
    });
    let _: Rollout = create(ns, rollout(name, 4, "nginx:1.0", steps, extra)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_weight_ever_reaches_a_replica_set_without_available_pods_across_kills_and_aborts() -> TestResult {
    let env = env().await;
    cluster().await?.install_routing_crds().await?;
    let ns = namespace("traffic-kills").await?;
    let log = Arc::new(Mutex::new(Vec::new()));
    let splits: kube::Api<DynamicObject> = kube::Api::namespaced_with(
        ns.client().clone(),
        ns.name(),
        &ApiResource::from_gvk(&GroupVersionKind::gvk("split.smi-spec.io", "v1alpha4", "TrafficSplit")),
    );
    record(splits, "TrafficSplit", log.clone());
    record(ns.api::<Service>(), "Service", log.clone());
    record(ns.api::<ReplicaSet>(), "ReplicaSet", log.clone());
    routed(&ns, "fixed", false).await;
    routed(&ns, "dyn", true).await;
    for name in ["fixed", "dyn"] {
        wait_phase(&ns, name, "Healthy", T).await;
    }

    let mut rng = KillRng::from_env();
    let started = Instant::now();
    for round in 0..KILLS {
        // Every other round starts a new canary on both; the round after, one of them is
        // aborted, so kills land while weights rise and while they fall back.
        if round.is_multiple_of(2) {
            for name in ["fixed", "dyn"] {
                set_image(&ns, name, &format!("nginx:1.{}", round + 1)).await;
            }
        } else {
            let victim = if rng.next().is_multiple_of(2) { "fixed" } else { "dyn" };
            tokio::time::sleep(Duration::from_millis(rng.next() % 3000)).await;
            patch_status(&ns, victim, json!({"status": {"abort": true}})).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.next() % 2500)).await;
        env.restart_controller();
    }
    let killing = started.elapsed();
    // A last canary on both, to completion, with the controller left alone.
    for name in ["fixed", "dyn"] {
        set_image(&ns, name, "nginx:2.0").await;
    }
    for name in ["fixed", "dyn"] {
        wait_phase(&ns, name, "Healthy", T).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut revisions = log.lock().unwrap().clone();
    let splits = revisions.iter().filter(|r| r.1 == "TrafficSplit").count();
    let (violations, weighted) = check(&mut revisions);
    println!(
        "{KILLS} kills over {killing:?}; {} revisions recorded, {splits} of TrafficSplits, {weighted} weights checked",
        revisions.len()
    );
    assert!(weighted >= 10, "the canaries should have carried weight several times: {weighted}");
    assert!(violations.is_empty(), "{} violations:\n{}", violations.len(), violations.join("\n"));
    Ok(())
}

#[test]
fn the_replay_catches_weight_on_a_replica_set_without_pods() {
    let rs = |rv, avail| {
        (
            rv,
            "ReplicaSet",
            json!({"metadata": {"labels": {"rollouts-pod-template-hash": "c1"}}, "status": {"availableReplicas": avail}}),
        )
    };
    let svc = (
        2,
        "Service",
        json!({"metadata": {"name": "x-canary"}, "spec": {"selector": {"rollouts-pod-template-hash": "c1"}}}),
    );
    let split = |rv, w| (rv, "TrafficSplit", json!({"spec": {"backends": [{"service": "x-canary", "weight": w}]}}));
    // Weight after the pod became available: fine, whatever order the watches delivered.
    let mut ok = vec![split(4, 25), rs(3, 1), svc.clone(), rs(1, 0)];
    assert_eq!(check(&mut ok), (vec![], 1));
    // Weight before it: a violation.
    let mut bad = vec![rs(1, 0), svc, split(3, 25), rs(4, 1)];
    let (violations, _) = check(&mut bad);
    assert_eq!(violations.len(), 1, "{violations:?}");
}

//! The plugin registry in the ConfigMap `aviary-config`: a broken entry is reported by name (log
//! and Event) and runs that need it get Error measurements naming it, while the rest keep working.

mod common;

use std::time::Duration;

use aviary_api::{AnalysisPhase, AnalysisRun, AnalysisTemplate, Rollout};
use aviary_test_support::namespace;
use common::*;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::events::v1::Event;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;

const T: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_entry_is_reported_and_only_its_runs_fail() -> TestResult {
    env().await;
    let client = aviary_test_support::cluster().await?.client().await?;
    let hostile = std::path::Path::new(aviary_plugins::GUEST_DIR).join("aviary_test_hostile.wasm");
    let plugins = format!(
        "plugins:\n\
         - name: acme/steady\n  kind: metric-provider\n  location: file://{h}\n\
         - name: acme/broken\n  kind: metric-provider\n  location: file://{h}\n  sha256: '{zeros}'\n",
        h = hostile.display(),
        zeros = "0".repeat(64)
    );
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), CONTROLLER_NS);
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "aviary-config"}, "data": {"plugins.yaml": plugins}});
    cms.patch("aviary-config", &PatchParams::apply("aviary-e2e").force(), &Patch::Apply(&cm)).await?;

    let events: Api<Event> = Api::namespaced(client.clone(), CONTROLLER_NS);
    let note = eventually_ok("a PluginLoadFailed event on the ConfigMap", T, || async {
        let list = events.list(&ListParams::default()).await.ok()?;
        list.items.into_iter().find_map(|e| {
            let on_cm = e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("aviary-config");
            (on_cm && e.reason.as_deref() == Some("PluginLoadFailed")).then(|| e.note.unwrap_or_default())
        })
    })
    .await?;
    assert!(
        note.starts_with("plugin \"acme/broken\" failed to load: plugin \"acme/broken\": sha256 mismatch"),
        "{note}"
    );

    let ns = namespace("broken").await?;
    for (name, plugin) in [("broken", "acme/broken"), ("steady", "acme/steady")] {
        let _: AnalysisTemplate = create(
            &ns,
            json!({
                "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate", "metadata": {"name": name},
                "spec": {"metrics": [{"name": "m", "consecutiveErrorLimit": 0, "successCondition": "result > 0",
                         "provider": {"plugin": {plugin: {"value": 1}}}}]}
            }),
        )
        .await;
        let steps =
            json!([{"setWeight": 50}, {"analysis": {"templates": [{"templateName": name}]}}, {"setWeight": 100}]);
        let _: Rollout = create(&ns, rollout(name, 1, "nginx:1.19", steps, json!({}))).await;
    }
    let mut first = std::collections::BTreeMap::new();
    for name in ["broken", "steady"] {
        first.insert(name, wait_phase(&ns, name, "Healthy", T).await.status.unwrap().stable_rs);
        set_image(&ns, name, "nginx:1.20").await;
    }
    wait_phase(&ns, "broken", "Degraded", T).await;
    // An aborted rollout no longer names its run (as Argo): find it by its rollout's name.
    let runs = ns.api::<AnalysisRun>().list(&Default::default()).await?;
    let run = runs.items.into_iter().find(|r| r.name_any().starts_with("broken-")).ok_or("no run of broken")?;
    let m = &run.status.unwrap().metric_results[0].measurements[0];
    assert_eq!(m.phase, AnalysisPhase::Error);
    assert!(m.message.starts_with("unavailable: plugin \"acme/broken\" failed to load: "), "{}", m.message);
    let steady = eventually_ok("the steady rollout promoted", T, || async {
        let r = ns.api::<Rollout>().get("steady").await.ok()?;
        let s = r.status?;
        let promoted = s.stable_rs != first["steady"] && s.stable_rs == s.current_pod_hash;
        (promoted && s.current_step_index == Some(3) && s.phase.map(|p| format!("{p:?}")) == Some("Healthy".into()))
            .then_some(())
    })
    .await;
    assert!(steady.is_ok(), "{steady:?}\n{}", env().await.log_tail(40));
    Ok(())
}

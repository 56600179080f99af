//! Hot plugin reload: editing `aviary-config` in the middle of an analysis swaps the component
//! without a restart, and each measurement is taken by the version in force when it began (a
//! measurement in flight during the edit finishes with the old version).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aviary_api::{AnalysisPhase, AnalysisRun};
use aviary_test_support::namespace;
use chrono::Timelike;
use common::*;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::events::v1::Event;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams};
use serde_json::json;

const T: Duration = Duration::from_secs(120);

/// `bytes` plus a custom section: the same behaviour, another sha256 (a new "release").
fn variant(bytes: &[u8]) -> Vec<u8> {
    let name = b"aviary-test-variant";
    let payload = b"v2";
    let mut section = vec![name.len() as u8];
    section.extend_from_slice(name);
    section.extend_from_slice(payload);
    let mut out = bytes.to_vec();
    out.push(0); // custom section id
    out.push(section.len() as u8);
    out.extend_from_slice(&section);
    out
}

fn digest(bytes: &[u8]) -> String {
    format!("acme/slow@sha256:{}", &aviary_plugins::cache::sha256_hex(bytes)[..16])
}

async fn registry(client: &kube::Client, path: &std::path::Path, allowed: &str) {
    let plugins = format!(
        "plugins:\n- name: acme/slow\n  kind: metric-provider\n  location: file://{}\n  allowedHosts: ['{allowed}']\n",
        path.display()
    );
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "aviary-config"}, "data": {"plugins.yaml": plugins}});
    Api::<ConfigMap>::namespaced(client.clone(), CONTROLLER_NS)
        .patch("aviary-config", &PatchParams::apply("aviary-e2e").force(), &Patch::Apply(&cm))
        .await
        .expect("patch the registry");
}

async fn loaded(client: &kube::Client, sha: &str) -> chrono::DateTime<chrono::Utc> {
    let events: Api<Event> = Api::namespaced(client.clone(), CONTROLLER_NS);
    let at = match eventually_ok(&format!("PluginLoaded for {sha}"), T, || async {
        let list = events.list(&ListParams::default()).await.ok()?;
        list.items.into_iter().find_map(|e| {
            let hit = e.reason.as_deref() == Some("PluginLoaded") && e.note.as_deref().is_some_and(|n| n.contains(sha));
            hit.then(|| e.event_time.map(|t| t.0.as_second()).unwrap_or_default())
        })
    })
    .await
    {
        Ok(at) => at,
        Err(e) => panic!("{e}\ncontroller log:\n{}", env().await.log_tail(40)),
    };
    chrono::DateTime::from_timestamp(at, 0).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_edit_mid_analysis_applies_to_measurements_that_begin_after_it() -> TestResult {
    env().await;
    let client = aviary_test_support::cluster().await?.client().await?;
    // A server that answers after 3 s, so that a measurement is in flight during the edit.
    let hits = Arc::new(AtomicU64::new(0));
    let h = hits.clone();
    let router = axum::Router::new().route(
        "/slow",
        axum::routing::get(move || {
            h.fetch_add(1, Ordering::SeqCst);
            async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });

    let dir = tempfile::tempdir()?;
    let a = std::fs::read(std::path::Path::new(aviary_plugins::GUEST_DIR).join("aviary_test_hostile.wasm"))?;
    let b = variant(&a);
    let (path_a, path_b) = (dir.path().join("slow-1.wasm"), dir.path().join("slow-2.wasm"));
    std::fs::write(&path_a, &a)?;
    std::fs::write(&path_b, &b)?;
    registry(&client, &path_a, &addr.to_string()).await;
    loaded(&client, &aviary_plugins::cache::sha256_hex(&a)).await;

    let ns = namespace("reload").await?;
    let _: AnalysisRun = create(
        &ns,
        json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun", "metadata": {"name": "slow"},
            "spec": {"metrics": [{"name": "m", "interval": "1s", "count": 4, "successCondition": "result == 200",
                     "provider": {"plugin": {"acme/slow": {"mode": "http", "url": format!("http://{addr}/slow")}}}}]}
        }),
    )
    .await;
    eventually_ok("the first measurement in flight", T, || async { (hits.load(Ordering::SeqCst) >= 1).then_some(()) })
        .await?;
    let edited_at = chrono::Utc::now();
    registry(&client, &path_b, &addr.to_string()).await;
    let loaded_b = loaded(&client, &aviary_plugins::cache::sha256_hex(&b)).await;

    let run = eventually_ok("the run completes", T, || async {
        let r = ns.api::<AnalysisRun>().get("slow").await.ok()?;
        r.status.as_ref().is_some_and(|s| s.phase.is_completed()).then_some(r)
    })
    .await?;
    let st = run.status.unwrap();
    assert_eq!(st.phase, AnalysisPhase::Successful, "{st:#?}");
    let ms = &st.metric_results[0].measurements;
    assert_eq!(ms.len(), 4);
    let by = |m: &aviary_api::Measurement| m.metadata.get("aviary.dev/plugin").cloned().unwrap_or_default();
    // The first began before the edit and finished after it: the old version took it.
    assert!(ms[0].started_at.unwrap().0 <= edited_at, "{ms:#?}");
    assert!(ms[0].finished_at.unwrap().0 >= edited_at.with_nanosecond(0).unwrap(), "{ms:#?}");
    assert_eq!(by(&ms[0]), digest(&a));
    // Every measurement that began after the new version loaded used it.
    let after: Vec<_> = ms.iter().filter(|m| m.started_at.unwrap().0 > loaded_b).collect();
    assert!(!after.is_empty(), "{ms:#?}");
    assert!(after.iter().all(|m| by(m) == digest(&b)), "{ms:#?}");
    Ok(())
}

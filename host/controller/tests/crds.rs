//! The generated CRDs (deploy/crds) against a real kube-apiserver: Argo's example manifests of
//! host/api/tests/fixtures/valid are accepted, the malformed ones of fixtures/invalid/schema-* are
//! rejected by the server's own validation (strict field validation).

mod common;

use std::path::{Path, PathBuf};

use aviary_test_support::namespace;
use common::*;
use kube::api::{DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::discovery::pinned_kind;
use kube::{Api, ResourceExt};

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../api/tests/fixtures").join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

async fn create_strict(ns: &str, path: &Path) -> Result<(), String> {
    let client = aviary_test_support::cluster().await.unwrap().client().await.unwrap();
    let text = std::fs::read_to_string(path).unwrap();
    let mut obj: DynamicObject = serde_norway::from_str(&text).map_err(|e| format!("YAML: {e}"))?;
    let gvk = GroupVersionKind::try_from(obj.types.as_ref().unwrap()).unwrap();
    let (resource, caps) = pinned_kind(&client, &gvk).await.unwrap();
    let api: Api<DynamicObject> = match caps.scope {
        kube::discovery::Scope::Namespaced => Api::namespaced_with(client.clone(), ns, &resource),
        kube::discovery::Scope::Cluster => Api::all_with(client.clone(), &resource),
    };
    if caps.scope == kube::discovery::Scope::Namespaced {
        obj.metadata.namespace = Some(ns.to_string());
    }
    // Server-side apply with strict field validation: what `kubectl apply --server-side` does.
    // A status is only written through the status subresource (the main endpoint ignores it),
    // so a manifest with a status is created first and its status applied second.
    let pp = PatchParams::apply("aviary-crd-test").validation_strict();
    let status = obj.data.as_object_mut().and_then(|d| d.remove("status"));
    let mut result = api.patch(&obj.name_any(), &pp, &Patch::Apply(&obj)).await.map(|_| ()).map_err(|e| e.to_string());
    if let (Ok(()), Some(status)) = (&result, status) {
        obj.data["status"] = status;
        // Kinds without a status subresource (AnalysisRun, Experiment, as Argo's) take it
        // through the main endpoint.
        result = match api.patch_status(&obj.name_any(), &pp.clone().force(), &Patch::Apply(&obj)).await {
            Err(kube::Error::Api(e)) if e.code == 404 => {
                api.patch(&obj.name_any(), &pp.clone().force(), &Patch::Apply(&obj)).await
            }
            other => other,
        }
        .map(|_| ())
        .map_err(|e| e.to_string());
    }
    if result.is_ok() && caps.scope == kube::discovery::Scope::Cluster {
        let _ = api.delete(&obj.name_any(), &Default::default()).await;
    }
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argo_manifests_are_accepted_and_malformed_ones_rejected_by_the_api_server() -> TestResult {
    env().await;
    let ns = namespace("crds").await?;
    let mut failures = Vec::new();
    for path in fixtures("valid") {
        if let Err(e) = create_strict(ns.name(), &path).await {
            failures.push(format!("{} was rejected: {e}", path.display()));
        }
    }
    let mut rejected = 0;
    for path in
        fixtures("invalid").into_iter().filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("schema-"))
    {
        match create_strict(ns.name(), &path).await {
            Ok(()) => failures.push(format!("{} was accepted", path.display())),
            Err(_) => rejected += 1,
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(rejected >= 6, "only {rejected} malformed manifests checked");
    Ok(())
}

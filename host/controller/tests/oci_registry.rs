//! `oci://` plugin entries in the controller, against a real OCI registry on loopback
//! (tests/registry) and the real control plane: a registry that is down when the controller
//! starts delays only its entries (their measurements are Errors naming why, retried until the
//! registry is back); a private, signed component loads with the credentials and key of its
//! Secrets; a tag is resolved once and the digest recorded, so a moved tag changes nothing, even
//! across a restart, until the entry is edited.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use aviary_api::{AnalysisPhase, AnalysisRun};
use aviary_plugins::oci::{self, Credentials, OciLocation};
use aviary_test_support::registry::{self as test_registry, Registry};
use aviary_test_support::{TestNamespace, namespace};
use common::*;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::api::events::v1::Event;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use sigstore::crypto::SigningScheme;

const T: Duration = Duration::from_secs(120);

fn component(file: &str) -> Vec<u8> {
    std::fs::read(std::path::Path::new(aviary_plugins::GUEST_DIR).join(file)).unwrap()
}

async fn push(file: &str, at: &str, credentials: &Credentials) -> OciLocation {
    let annotations = BTreeMap::from([(oci::ANNOTATION_WORLD.to_string(), "metric-provider".to_string())]);
    oci::push(&component(file), &OciLocation::parse(at).unwrap(), credentials, annotations, (vec![], vec![]))
        .await
        .unwrap()
}

/// Sets `plugins.yaml` of aviary-config: the harness's own entries stay (the `acme/steady`
/// provider among them), `extra` is appended.
async fn set_registry(client: &kube::Client, extra: &str) {
    let hostile = std::path::Path::new(aviary_plugins::GUEST_DIR).join("aviary_test_hostile.wasm");
    let plugins = format!(
        "plugins:\n- name: acme/steady\n  kind: metric-provider\n  location: file://{}\n{extra}",
        hostile.display()
    );
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "aviary-config"},
                    "data": {"plugins.yaml": plugins}});
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), CONTROLLER_NS);
    cms.patch("aviary-config", &PatchParams::apply("aviary-e2e").force(), &Patch::Apply(&cm)).await.unwrap();
}

/// The note of the newest event of `reason` on aviary-config that mentions `needle`.
async fn event_note(client: &kube::Client, reason: &str, needle: &str) -> Result<String, String> {
    let events: Api<Event> = Api::namespaced(client.clone(), CONTROLLER_NS);
    eventually_ok(&format!("a {reason} event mentioning {needle}"), T, || async {
        let list = events.list(&ListParams::default()).await.ok()?;
        list.items.into_iter().rev().find_map(|e| {
            let on_cm = e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("aviary-config");
            let note = e.note.unwrap_or_default();
            (on_cm && e.reason.as_deref() == Some(reason) && note.contains(needle)).then_some(note)
        })
    })
    .await
}

/// Runs a one-measurement AnalysisRun of `plugin` (config `{"value": 1}`, success `result > 0`)
/// and returns its first measurement's phase and message.
async fn measure(ns: &TestNamespace, name: &str, plugin: &str) -> (AnalysisPhase, String) {
    let _: AnalysisRun = create(
        ns,
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun", "metadata": {"name": name},
               "spec": {"metrics": [{"name": "m", "count": 1, "successCondition": "result > 0",
                        "provider": {"plugin": {plugin: {"value": 1}}}}]}}),
    )
    .await;
    let runs = ns.api::<AnalysisRun>();
    let m = eventually_ok(&format!("a measurement of {name}"), T, || async {
        let run = runs.get(name).await.ok()?;
        let status = run.status?;
        let m = status.metric_results.first()?.measurements.first()?.clone();
        (m.phase != AnalysisPhase::Running).then_some(m)
    })
    .await
    .unwrap();
    (m.phase, m.message)
}

/// [`measure`] once the plugin serves: a run made while its pull (from the disk cache after a
/// restart) is under way measures "being pulled", and another run is made.
async fn measure_when_loaded(ns: &TestNamespace, name: &str, plugin: &str) -> (AnalysisPhase, String) {
    for attempt in 0..30 {
        let (phase, message) = measure(ns, &format!("{name}-{attempt}"), plugin).await;
        if !message.contains("being pulled") {
            return (phase, message);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    panic!("{plugin} was never loaded")
}

async fn secret(client: &kube::Client, name: &str, type_: &str, data: serde_json::Value) {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), CONTROLLER_NS);
    let s: Secret =
        serde_json::from_value(json!({"metadata": {"name": name}, "type": type_, "stringData": data})).unwrap();
    secrets.create(&PostParams::default(), &s).await.unwrap();
}

fn resolved(cm: &ConfigMap, name: &str) -> Option<String> {
    let text = cm.metadata.annotations.as_ref()?.get("plugins.aviary.dev/resolved")?;
    let mut map = serde_json::from_str::<BTreeMap<String, serde_json::Value>>(text).ok()?;
    map.remove(name)?.get("resolved")?.as_str().map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_entries_load_in_the_background_with_their_secrets_and_keep_their_digest() -> TestResult {
    let env = env().await;
    let client = aviary_test_support::cluster().await?.client().await?;
    let ns = namespace("oci").await?;

    // 1. The registry is down when the controller starts.
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let at = format!("oci://{listen}/acme/value:1");
    set_registry(&client, &format!("- name: acme/remote\n  kind: metric-provider\n  location: {at}\n")).await;
    env.restart_controller();
    let note = event_note(&client, "PluginLoadFailed", "acme/remote").await?;
    assert!(
        note.starts_with(&format!("plugin \"acme/remote\" failed to load: plugin \"acme/remote\": {at}: registry: ")),
        "{note}"
    );
    assert!(note.contains("trying again in"), "{note}");
    // The other plugins serve meanwhile; a run of the missing one measures an Error saying why.
    assert_eq!(measure(&ns, "steady-1", "acme/steady").await.0, AnalysisPhase::Successful);
    let (phase, message) = measure(&ns, "remote-1", "acme/remote").await;
    assert_eq!(phase, AnalysisPhase::Error);
    assert!(message.starts_with("unavailable: plugin \"acme/remote\" failed to load: "), "{message}");

    // The registry comes back with the component: the retry loads it and records the digest.
    let registry = Registry::start_on(&listen)?;
    let pushed = push("aviary_test_hostile.wasm", &at, &Credentials::Anonymous).await;
    let loaded = event_note(&client, "PluginLoaded", "acme/remote").await?;
    assert!(loaded.contains(&format!("from {pushed}")), "{loaded}\n{}", env.log_tail(30));
    assert_eq!(measure(&ns, "remote-2", "acme/remote").await.0, AnalysisPhase::Successful);
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), CONTROLLER_NS);
    let recorded = eventually_ok("the digest recorded", T, || async {
        resolved(&cms.get("aviary-config").await.ok()?, "acme/remote")
    })
    .await?;
    assert_eq!(recorded, pushed.to_string());

    // 2. A private, signed component: credentials and key from Secrets of the controller's namespace.
    let signer = SigningScheme::ECDSA_P256_SHA256_ASN1.create_signer().unwrap();
    let pair = signer.to_sigstore_keypair().unwrap();
    let (private_pem, public_pem) =
        (pair.private_key_to_encrypted_pem(b"pw").unwrap().to_string(), pair.public_key_to_pem().unwrap());
    let private = Credentials::Basic { username: test_registry::USER.into(), password: test_registry::PASSWORD.into() };
    let signed_at = format!("{}:stable", registry.location("private/acme/signed"));
    push("aviary_test_hostile.wasm", &signed_at, &private).await;
    oci::sign(&OciLocation::parse(&signed_at).unwrap(), &private, private_pem.as_bytes(), b"pw").await.unwrap();
    let unsigned_at = format!("{}:1", registry.location("private/acme/unsigned"));
    push("aviary_test_hostile.wasm", &unsigned_at, &private).await;
    secret(
        &client,
        "registry-creds",
        "kubernetes.io/dockerconfigjson",
        json!({".dockerconfigjson": test_registry::docker_config(registry.addr())}),
    )
    .await;
    secret(&client, "acme-cosign", "Opaque", json!({"cosign.pub": public_pem})).await;
    let signed_entries = |extra: &str| {
        format!(
            "- name: acme/signed\n  kind: metric-provider\n  location: {signed_at}\n  pullSecret: registry-creds\n  \
               verify: {{key: 'k8s://{CONTROLLER_NS}/acme-cosign'}}\n{extra}\
             - name: acme/unsigned\n  kind: metric-provider\n  location: {unsigned_at}\n  pullSecret: registry-creds\n  \
               verify: {{key: 'k8s://{CONTROLLER_NS}/acme-cosign'}}\n"
        )
    };
    set_registry(&client, &signed_entries("")).await;
    let loaded = event_note(&client, "PluginLoaded", "acme/signed").await?;
    let first_digest = loaded.split('@').nth(1).and_then(|r| r.split(' ').next()).unwrap_or_default().to_string();
    assert!(first_digest.starts_with("sha256:"), "{loaded}");
    let refused = event_note(&client, "PluginLoadFailed", "acme/unsigned").await?;
    assert!(refused.contains("no cosign signature of sha256:"), "{refused}");
    assert!(refused.contains("the registry holds no signature of it"), "{refused}");
    assert_eq!(measure(&ns, "signed-1", "acme/signed").await.0, AnalysisPhase::Successful);
    let (phase, message) = measure(&ns, "unsigned-1", "acme/unsigned").await;
    assert_eq!(phase, AnalysisPhase::Error);
    assert!(message.contains("no cosign signature"), "{message}");

    // 3. The tag moves to another component, signed too; a restart keeps the recorded digest
    // (the web provider, asked for a `value`, would not measure 1).
    push("aviary_plugin_web.wasm", &signed_at, &private).await;
    oci::sign(&OciLocation::parse(&signed_at).unwrap(), &private, private_pem.as_bytes(), b"pw").await.unwrap();
    env.restart_controller();
    let (phase, message) = measure_when_loaded(&ns, "signed-2", "acme/signed").await;
    assert_eq!(phase, AnalysisPhase::Successful, "{message}");
    let cm = cms.get("aviary-config").await?;
    assert!(resolved(&cm, "acme/signed").is_some_and(|r| r.ends_with(&first_digest)), "{:?}", cm.metadata.annotations);

    // Editing the entry resolves the tag again: now the web provider serves it.
    set_registry(&client, &signed_entries("  timeout: 20s\n")).await;
    let moved = eventually_ok("acme/signed at the moved tag", T, || async {
        let cm = cms.get("aviary-config").await.ok()?;
        resolved(&cm, "acme/signed").filter(|r| !r.ends_with(&first_digest))
    })
    .await?;
    assert!(moved.starts_with(&signed_at), "{moved}");
    let (phase, message) = measure(&ns, "signed-3", "acme/signed").await;
    assert_ne!(phase, AnalysisPhase::Successful, "{message}");
    Ok(())
}

//! The plugin registry of the controller: the ConfigMap `aviary-config` in the controller's
//! namespace, key `plugins.yaml` (the schema of the CLI's `--plugins` file), watched so that an
//! edit takes effect without a restart.
//!
//! Each entry loads on its own: a broken entry is reported (log, and a Warning Event on the
//! ConfigMap) while the other entries, and the previous good version of the same name, keep
//! serving. A removed entry stops being offered to new measurements; measurements already
//! running finish with it. `oci://` entries are pulled by a task each, retried with backoff, so
//! that neither the controller's start nor the other plugins wait for a registry.

use std::collections::BTreeMap;
use std::sync::Arc;

use aviary_plugins::oci::OciLocation;
use aviary_plugins::registry::{Location, OciAccess, PluginSpec, Policy, RegistryEntry, RegistryFile, VerifyKey};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use kube::api::{Patch, PatchParams};
use kube::runtime::watcher;

use crate::context::Context;

/// The ConfigMap's name.
pub const CONFIG_MAP: &str = "aviary-config";
/// The key holding the registry document.
pub const PLUGINS_KEY: &str = "plugins.yaml";
/// The key naming the condition plugin in force (default `aviary/expr`).
pub const CONDITION_KEY: &str = "conditionPlugin";

/// The annotation of the ConfigMap recording, for each `oci://` entry named by a tag, the
/// location at the digest the tag resolved to (a JSON object: entry name to `{"resolved":
/// "oci://...:TAG@sha256:...", "entry": <fingerprint of the entry>}`): the tag is resolved once,
/// and a restart keeps that digest, so a moved tag never changes a running plugin. Editing the
/// entry (or removing the record) resolves it again.
pub const RESOLVED_ANNOTATION: &str = "plugins.aviary.dev/resolved";
/// First wait before pulling a failed `oci://` entry again; doubled up to [`MAX_RETRY`].
const FIRST_RETRY: std::time::Duration = std::time::Duration::from_secs(2);
/// Longest wait between two pulls of a failing `oci://` entry.
const MAX_RETRY: std::time::Duration = std::time::Duration::from_secs(300);
/// Deadline of one pull (the registry's requests, the signature check, the compile).
const PULL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(180);

/// Entries currently applied, by name, the policy they were checked under, and the pulls of
/// `oci://` entries under way.
#[derive(Default)]
pub struct Applied {
    entries: BTreeMap<String, RegistryEntry>,
    policy: Policy,
    pulls: BTreeMap<String, tokio::task::AbortHandle>,
}

impl Applied {
    /// Stops the pull of `name`, if one runs (its entry changed or went away).
    fn stop_pull(&mut self, name: &str) {
        if let Some(pull) = self.pulls.remove(name) {
            pull.abort();
        }
    }
}

/// Loads the registry once (before the controllers start, so that runs never see a registered
/// plugin missing), then follows every change of the ConfigMap. `oci://` entries are pulled in
/// the background: a registry that is down delays only the entries it serves.
pub async fn initial(ctx: &Arc<Context>, applied: &mut Applied) {
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    match api.get_opt(CONFIG_MAP).await {
        Ok(Some(cm)) => apply(ctx, &cm, applied).await,
        Ok(None) => {
            tracing::info!(namespace = %ctx.namespace, "no {CONFIG_MAP} ConfigMap: only first-party plugins are available")
        }
        Err(e) => tracing::error!("cannot read the {CONFIG_MAP} ConfigMap: {e}"),
    }
}

/// Watches the ConfigMap forever.
pub async fn watch(ctx: Arc<Context>, mut applied: Applied) {
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let config = watcher::Config::default().fields(&format!("metadata.name={CONFIG_MAP}"));
    let mut stream = watcher(api, config).boxed();
    while let Some(event) = stream.next().await {
        match event {
            Ok(watcher::Event::Apply(cm) | watcher::Event::InitApply(cm)) => {
                guarded_apply(&ctx, &cm, &mut applied).await
            }
            Ok(watcher::Event::Delete(_)) => {
                guarded_apply(&ctx, &ConfigMap::default(), &mut applied).await;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!("watching the {CONFIG_MAP} ConfigMap: {e}");
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            }
        }
    }
}

/// [`apply`], with a panic caught (see [`crate::panic_guard`]): the watch outlives a bug, and the
/// next edit of the ConfigMap is applied.
async fn guarded_apply(ctx: &Arc<Context>, cm: &ConfigMap, applied: &mut Applied) {
    use futures::FutureExt;
    if let Err(payload) = std::panic::AssertUnwindSafe(apply(ctx, cm, applied)).catch_unwind().await {
        let message = crate::panic_guard::panic_message(payload.as_ref());
        ctx.metrics.reconcile_panicked("ConfigMap");
        tracing::error!("applying the {CONFIG_MAP} ConfigMap panicked; keeping the plugins loaded before: {message}");
    }
}

/// Applies a version of the ConfigMap: changed entries are (re)loaded, removed ones dropped.
pub async fn apply(ctx: &Arc<Context>, cm: &ConfigMap, applied: &mut Applied) {
    let data = cm.data.clone().unwrap_or_default();
    let condition = data.get(CONDITION_KEY).map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    *ctx.condition_plugin.write().unwrap_or_else(|p| p.into_inner()) =
        condition.unwrap_or_else(|| aviary_plugins::builtin::DEFAULT_CONDITION.to_string());
    let doc = match RegistryFile::parse(data.get(PLUGINS_KEY).map(String::as_str).unwrap_or("")) {
        Ok(doc) => doc,
        Err(e) => {
            let message = format!(
                "{CONFIG_MAP}: {PLUGINS_KEY} is not a valid registry document, keeping the plugins loaded before: {e}"
            );
            tracing::error!("{message}");
            ctx.event(cm, true, "PluginConfigInvalid", message).await;
            return;
        }
    };
    // A new policy re-checks every entry.
    let policy_changed = doc.policy != applied.policy;
    applied.policy = doc.policy.clone();
    let recorded = recorded_resolutions(cm);
    let mut seen = Vec::new();
    let changed: Vec<(usize, RegistryEntry)> = doc
        .plugins
        .into_iter()
        .enumerate()
        .filter(|(_, e)| {
            seen.push(e.name.clone());
            policy_changed || applied.entries.get(&e.name) != Some(e)
        })
        .collect();
    for (index, entry) in changed {
        let name = entry.display_name(index);
        // Remembered as applied whatever the outcome: an unchanged broken entry is not retried
        // on every event, but a fix is picked up.
        applied.entries.insert(name.clone(), entry.clone());
        applied.stop_pull(&name);
        let spec = match entry.validate_with(&doc.policy) {
            Ok(spec) => spec,
            Err(e) => {
                failed(ctx, cm, &name, &aviary_plugins::Error::from(e).to_string()).await;
                continue;
            }
        };
        if let Location::Oci(location) = &spec.location {
            // The digest recorded for this very entry (an edited entry resolves its tag again).
            let print = fingerprint(&entry);
            let pinned = match recorded.get(&name) {
                Some(r) if location.digest.is_none() && r.entry == print => {
                    OciLocation::parse(&r.resolved).unwrap_or_else(|_| location.clone())
                }
                _ => location.clone(),
            };
            ctx.plugins.set_unavailable(&name, format!("being pulled from {pinned}"));
            let task = tokio::spawn(pull(ctx.clone(), cm.clone(), name.clone(), spec.clone(), pinned, print));
            applied.pulls.insert(name, task.abort_handle());
            continue;
        }
        match ctx.plugins.load(&spec).await {
            Ok(info) => loaded(ctx, cm, &name, &info).await,
            Err(e) => failed(ctx, cm, &name, &e.to_string()).await,
        }
    }
    let removed: Vec<String> = applied.entries.keys().filter(|n| !seen.contains(n)).cloned().collect();
    for name in removed {
        applied.entries.remove(&name);
        applied.stop_pull(&name);
        if ctx.plugins.remove(&name) {
            tracing::info!(plugin = %name, "plugin removed");
            ctx.event(cm, false, "PluginRemoved", format!("plugin {name:?} removed")).await;
        }
    }
}

async fn loaded(ctx: &Context, cm: &ConfigMap, name: &str, info: &aviary_plugins::PluginInfo) {
    tracing::info!(plugin = %name, sha256 = %info.sha256, cached = info.cached, "plugin loaded");
    let from = if info.location.starts_with(aviary_plugins::oci::SCHEME) {
        format!(" from {}", info.location)
    } else {
        String::new()
    };
    ctx.event(
        cm,
        false,
        "PluginLoaded",
        format!("plugin {name:?} loaded{from} (sha256 {}, {} bytes)", info.sha256, info.size),
    )
    .await;
}

async fn failed(ctx: &Context, cm: &ConfigMap, name: &str, reason: &str) {
    let message = format!("plugin {name:?} failed to load: {reason}");
    tracing::error!("{message}");
    ctx.event(cm, true, "PluginLoadFailed", message).await;
    ctx.plugins.set_unavailable(name, reason.to_string());
}

/// Pulls an `oci://` entry until it loads, waiting longer after each failure (a registry that is
/// down, a component not signed yet): each new reason is a `PluginLoadFailed` event, and the
/// version loaded before keeps serving meanwhile. Once loaded, a tag's digest is recorded.
async fn pull(ctx: Arc<Context>, cm: ConfigMap, name: String, mut spec: PluginSpec, at: OciLocation, print: String) {
    let location = at.clone();
    spec.location = Location::Oci(at);
    let mut wait = FIRST_RETRY;
    let mut last_reason = String::new();
    loop {
        let attempt = async {
            let access = oci_access(&ctx, &spec).await?;
            tokio::time::timeout(PULL_TIMEOUT, ctx.plugins.load_with(&spec, &access))
                .await
                .map_err(|_| format!("{location}: no answer within {}", humantime::format_duration(PULL_TIMEOUT)))?
                .map_err(|e| e.to_string())
        };
        match attempt.await {
            Ok(info) => {
                loaded(&ctx, &cm, &name, &info).await;
                if location.digest.is_none()
                    && let Err(e) = record_resolution(
                        &ctx,
                        &name,
                        Resolution { resolved: info.location.clone(), entry: print.clone() },
                    )
                    .await
                {
                    tracing::warn!(plugin = %name, "cannot record the digest of {}: {e}", info.location);
                }
                return;
            }
            Err(reason) => {
                let retry = format!("{reason} (trying again in {})", humantime::format_duration(wait));
                if reason != last_reason {
                    failed(&ctx, &cm, &name, &retry).await;
                    last_reason = reason;
                } else {
                    ctx.plugins.set_unavailable(&name, retry);
                }
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2).min(MAX_RETRY);
            }
        }
    }
}

/// The registry credentials of an entry's `pullSecret` and the public key of a `verify.key`
/// that names a Secret, read from the controller's namespace.
async fn oci_access(ctx: &Context, spec: &PluginSpec) -> Result<OciAccess, String> {
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let read = |name: String, key: &'static str| {
        let secrets = secrets.clone();
        async move {
            let secret = secrets
                .get_opt(&name)
                .await
                .map_err(|e| format!("cannot read the Secret {name}: {e}"))?
                .ok_or_else(|| format!("the Secret {name} does not exist"))?;
            secret
                .data
                .and_then(|mut d| d.remove(key))
                .map(|v| v.0)
                .ok_or_else(|| format!("the Secret {name} has no key {key}"))
        }
    };
    let mut access = OciAccess::default();
    if let (Some(secret), Location::Oci(location)) = (&spec.pull_secret, &spec.location) {
        let json = read(secret.clone(), ".dockerconfigjson").await.map_err(|e| format!("pullSecret: {e}"))?;
        access.credentials = aviary_plugins::oci::credentials_from_docker_config(&json, &location.registry)
            .map_err(|e| format!("pullSecret: the Secret {secret}: {e}"))?;
    }
    if let Some(VerifyKey::Secret { namespace, name }) = &spec.verify {
        if namespace != &ctx.namespace {
            return Err(format!(
                "verify.key: k8s://{namespace}/{name}: the controller reads keys from its own namespace {} only",
                ctx.namespace
            ));
        }
        let pem = read(name.clone(), "cosign.pub").await.map_err(|e| format!("verify.key: {e}"))?;
        access.key = Some(
            String::from_utf8(pem).map_err(|_| format!("verify.key: the Secret {name}'s cosign.pub is not text"))?,
        );
    }
    Ok(access)
}

/// One record of [`RESOLVED_ANNOTATION`]: what the tag of an entry resolved to, and a
/// fingerprint of the entry it was resolved for (an edit of the entry resolves it again).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Resolution {
    /// The location at its digest.
    resolved: String,
    /// [`fingerprint`] of the entry.
    entry: String,
}

/// A short digest of an entry as written.
fn fingerprint(entry: &RegistryEntry) -> String {
    let json = serde_json::to_vec(entry).unwrap_or_default();
    aviary_plugins::cache::sha256_hex(&json).chars().take(16).collect()
}

/// What [`RESOLVED_ANNOTATION`] records, by entry name; a record that does not parse is ignored
/// (the tag is resolved again).
fn recorded_resolutions(cm: &ConfigMap) -> BTreeMap<String, Resolution> {
    let text = cm.metadata.annotations.as_ref().and_then(|a| a.get(RESOLVED_ANNOTATION));
    text.and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default()
}

/// Serialises the records' read-modify-write: pulls finish concurrently.
static RECORDING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Records what a tag resolved to in [`RESOLVED_ANNOTATION`], written with the ConfigMap's
/// resourceVersion (an edit in between is read again, up to three times).
async fn record_resolution(ctx: &Context, name: &str, record: Resolution) -> Result<(), kube::Error> {
    let _one_at_a_time = RECORDING.lock().await;
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let mut tries = 0u8;
    loop {
        tries = tries.saturating_add(1);
        let Some(cm) = api.get_opt(CONFIG_MAP).await? else { return Ok(()) };
        let mut map = recorded_resolutions(&cm);
        // Records of entries no longer in the document go.
        let doc = cm.data.as_ref().and_then(|d| d.get(PLUGINS_KEY)).and_then(|t| RegistryFile::parse(t).ok());
        let names: Vec<String> = doc.map(|d| d.plugins.into_iter().map(|e| e.name).collect()).unwrap_or_default();
        map.retain(|n, _| names.contains(n));
        if map.get(name) == Some(&record) {
            return Ok(());
        }
        map.insert(name.to_string(), record.clone());
        let patch = serde_json::json!({"metadata": {
            "resourceVersion": cm.metadata.resource_version,
            "annotations": {RESOLVED_ANNOTATION: serde_json::to_string(&map).unwrap_or_default()},
        }});
        match api.patch(CONFIG_MAP, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(e)) if e.code == 409 && tries < 3 => continue,
            Err(e) => return Err(e),
        }
    }
}

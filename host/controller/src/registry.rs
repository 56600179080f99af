//! The plugin registry of the controller: the ConfigMap `aviary-config` in the controller's
//! namespace, key `plugins.yaml` (the schema of the CLI's `--plugins` file), watched so that an
//! edit takes effect without a restart.
//!
//! Each entry loads on its own: a broken entry is reported (log, and a Warning Event on the
//! ConfigMap) while the other entries, and the previous good version of the same name, keep
//! serving. A removed entry stops being offered to new measurements; measurements already
//! running finish with it.

use std::collections::BTreeMap;
use std::sync::Arc;

use aviary_plugins::registry::{RegistryEntry, RegistryFile};
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::runtime::watcher;

use crate::context::Context;

/// The ConfigMap's name.
pub const CONFIG_MAP: &str = "aviary-config";
/// The key holding the registry document.
pub const PLUGINS_KEY: &str = "plugins.yaml";
/// The key naming the condition plugin in force (default `aviary/expr`).
pub const CONDITION_KEY: &str = "conditionPlugin";

/// Entries currently applied, by name.
#[derive(Default)]
pub struct Applied {
    entries: BTreeMap<String, RegistryEntry>,
}

/// Loads the registry once (before the controllers start, so that runs never see a registered
/// plugin missing), then follows every change of the ConfigMap.
pub async fn initial(ctx: &Context, applied: &mut Applied) {
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
async fn guarded_apply(ctx: &Context, cm: &ConfigMap, applied: &mut Applied) {
    use futures::FutureExt;
    if let Err(payload) = std::panic::AssertUnwindSafe(apply(ctx, cm, applied)).catch_unwind().await {
        let message = crate::panic_guard::panic_message(payload.as_ref());
        ctx.metrics.reconcile_panicked("ConfigMap");
        tracing::error!("applying the {CONFIG_MAP} ConfigMap panicked; keeping the plugins loaded before: {message}");
    }
}

/// Applies a version of the ConfigMap: changed entries are (re)loaded, removed ones dropped.
pub async fn apply(ctx: &Context, cm: &ConfigMap, applied: &mut Applied) {
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
    let mut seen = Vec::new();
    let changed: Vec<RegistryEntry> = doc
        .plugins
        .into_iter()
        .filter(|e| {
            seen.push(e.name.clone());
            applied.entries.get(&e.name) != Some(e)
        })
        .collect();
    let results = ctx.plugins.load_registry(&RegistryFile { plugins: changed.clone() }).await;
    for (entry, (name, result)) in changed.into_iter().zip(results) {
        match result {
            Ok(info) => {
                tracing::info!(plugin = %name, sha256 = %info.sha256, cached = info.cached, "plugin loaded");
                ctx.event(
                    cm,
                    false,
                    "PluginLoaded",
                    format!("plugin {name:?} loaded (sha256 {}, {} bytes)", info.sha256, info.size),
                )
                .await;
                applied.entries.insert(name, entry);
            }
            Err(e) => {
                let message = format!("plugin {name:?} failed to load: {e}");
                tracing::error!("{message}");
                ctx.event(cm, true, "PluginLoadFailed", message).await;
                // Remember it as applied only if no good version serves: an unchanged broken
                // entry is not retried on every event, but a fix is picked up.
                applied.entries.insert(name, entry);
            }
        }
    }
    let removed: Vec<String> = applied.entries.keys().filter(|n| !seen.contains(n)).cloned().collect();
    for name in removed {
        applied.entries.remove(&name);
        if ctx.plugins.remove(&name) {
            tracing::info!(plugin = %name, "plugin removed");
            ctx.event(cm, false, "PluginRemoved", format!("plugin {name:?} removed")).await;
        }
    }
}

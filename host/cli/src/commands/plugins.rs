//! Options shared by commands that run plugins: the registry file and the compile cache.

use std::path::PathBuf;

use anyhow::Context as _;
use aviary_plugins::registry::RegistryFile;
use aviary_plugins::{HostConfig, PluginHost};

/// `--plugins FILE` and `--cache-dir DIR`.
#[derive(Debug, Clone, clap::Args)]
pub struct PluginOptions {
    /// A registry file (`plugins: [...]`, the schema of the controller's ConfigMap).
    #[arg(long = "plugins", value_name = "FILE")]
    pub registry: Option<PathBuf>,
    /// Where compiled plugins are cached [default: $XDG_CACHE_HOME/aviary/plugins].
    #[arg(long, env = "AVIARY_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

impl PluginOptions {
    /// A plugin host with the registry loaded; any entry that fails to load stops the command,
    /// since a person running it by hand wants to know.
    pub async fn host(&self) -> anyhow::Result<PluginHost> {
        let host = PluginHost::new(HostConfig {
            cache_dir: self.cache_dir.clone().or_else(default_cache_dir),
            ..HostConfig::default()
        })?;
        if let Some(path) = &self.registry {
            let file = RegistryFile::read(path)?;
            for (name, result) in host.load_registry_with(&file, &super::plugin::oci::access_for).await {
                result.with_context(|| format!("{}: entry {name:?}", path.display()))?;
            }
        }
        Ok(host)
    }
}

fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("aviary").join("plugins"))
}

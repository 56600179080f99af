//! The connection flags every cluster command takes, as kubectl spells them: `--kubeconfig`,
//! `--context`, `-n/--namespace`. Without them: `$KUBECONFIG` or `~/.kube/config`, its current
//! context, and that context's namespace (else `default`), exactly as kubectl resolves them, so
//! `aviary` and `kubectl` always talk to the same place.

use std::path::PathBuf;

use anyhow::Context as _;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// `--kubeconfig`, `--context`, `-n/--namespace`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct KubeArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, value_name = "FILE", global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: its current context).
    #[arg(long, value_name = "NAME", global = true)]
    pub context: Option<String>,
    /// The namespace (default: the context's namespace, else `default`).
    #[arg(short = 'n', long, value_name = "NAMESPACE", global = true)]
    pub namespace: Option<String>,
}

/// A client and the namespace the command works in.
#[derive(Clone)]
pub struct Connection {
    /// The API client.
    pub client: Client,
    /// The namespace.
    pub namespace: String,
}

impl KubeArgs {
    /// Connects as kubectl would with the same flags.
    pub async fn connect(&self) -> anyhow::Result<Connection> {
        install_crypto_provider();
        let options = KubeConfigOptions { context: self.context.clone(), ..KubeConfigOptions::default() };
        let config = match &self.kubeconfig {
            Some(path) => {
                let kubeconfig =
                    Kubeconfig::read_from(path).with_context(|| format!("reading kubeconfig {}", path.display()))?;
                Config::from_custom_kubeconfig(kubeconfig, &options).await?
            }
            None => Config::from_kubeconfig(&options)
                .await
                .context("no usable kubeconfig (pass --kubeconfig FILE, set $KUBECONFIG, or write ~/.kube/config)")?,
        };
        let namespace = self.namespace.clone().unwrap_or_else(|| config.default_namespace.clone());
        let client = Client::try_from(config)?;
        Ok(Connection { client, namespace })
    }
}

/// kube's rustls backend needs a process-wide crypto provider when more than one could be chosen.
pub fn install_crypto_provider() {
    // An error only means one is installed already, which is just as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBECONFIG: &str = "\
apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: c
  cluster: {server: 'https://127.0.0.1:6443'}
users:
- name: u
  user: {token: t}
contexts:
- name: dev
  context: {cluster: c, user: u}
- name: shop
  context: {cluster: c, user: u, namespace: shop}
";

    async fn namespace_with(context: Option<&str>, namespace: Option<&str>) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        std::fs::write(&path, KUBECONFIG).unwrap();
        let args = KubeArgs {
            kubeconfig: Some(path),
            context: context.map(String::from),
            namespace: namespace.map(String::from),
        };
        args.connect().await.unwrap().namespace
    }

    #[tokio::test]
    async fn the_namespace_comes_from_the_flag_then_the_context_then_default() {
        assert_eq!(namespace_with(None, None).await, "default");
        assert_eq!(namespace_with(Some("shop"), None).await, "shop");
        assert_eq!(namespace_with(Some("shop"), Some("prod")).await, "prod");
    }
}

//! `aviary-controller`: the program a cluster operator deploys.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use kube::config::{KubeConfigOptions, Kubeconfig};

/// Aviary: a progressive-delivery controller for Argo Rollouts' API, with Wasm plugins.
#[derive(Debug, Parser)]
#[command(name = "aviary-controller", version, about)]
struct Args {
    /// Path to a kubeconfig; otherwise the in-cluster configuration or $KUBECONFIG.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// The controller's namespace (its ConfigMap `aviary-config` lives there).
    #[arg(long, env = "POD_NAMESPACE", default_value = "aviary")]
    namespace: String,
    /// Log level: error, warn, info, debug, trace (or a tracing filter).
    #[arg(long = "loglevel", default_value = "info")]
    log_level: String,
    /// Log format: text or json.
    #[arg(long = "logformat", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    /// Where compiled and downloaded plugins are cached.
    #[arg(long, env = "AVIARY_CACHE_DIR", default_value = "/tmp/aviary-cache")]
    cache_dir: PathBuf,
    /// Plugin calls running at once, across all plugins.
    #[arg(long, default_value_t = 64)]
    max_concurrent_plugin_calls: usize,
    /// Exit when stdin reaches end of file: a supervisor (or a test harness) that holds the pipe
    /// stops the controller simply by going away, even if it is killed.
    #[arg(long, hide = true)]
    exit_on_stdin_close: bool,
}

fn init_logging(level: &str, format: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(level).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    init_logging(&args.log_level, &args.log_format);
    if args.exit_on_stdin_close {
        std::thread::spawn(|| {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
            tracing::info!("stdin closed: exiting");
            std::process::exit(0);
        });
    }
    aviary_plugins::install_crypto_provider();
    let config = match &args.kubeconfig {
        Some(path) => {
            let kubeconfig =
                Kubeconfig::read_from(path).with_context(|| format!("reading kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?
        }
        None => kube::Config::infer()
            .await
            .context("no kubeconfig: pass --kubeconfig, set KUBECONFIG, or run in a cluster")?,
    };
    let client = kube::Client::try_from(config)?;
    let plugins = aviary_plugins::PluginHost::new(aviary_plugins::HostConfig {
        cache_dir: Some(args.cache_dir.clone()),
        max_concurrent_calls: args.max_concurrent_plugin_calls,
    })?;
    aviary_controller::run(client, plugins, args.namespace).await;
    Ok(())
}

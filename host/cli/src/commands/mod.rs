//! One module per `aviary` subcommand; each exposes `Args` (its flags) and `run`.

pub mod completion;
pub mod condition;
pub mod dashboard;
pub mod demo;
pub mod follow;
pub mod get;
pub mod kubeargs;
pub mod lint;
pub mod list;
pub mod ops;
pub mod output;
pub mod plan;
pub mod plugin;
pub mod plugins;
pub mod replay;
pub mod status;

/// Sends logs to stderr, filtered by `AVIARY_LOG` (default `warn`), so that stdout carries only
/// the command's output and stays machine-readable with `-o json`.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("AVIARY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// A tokio runtime for commands that call plugins or the API server.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}

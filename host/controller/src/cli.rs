//! The controller's command line: `aviary-controller`'s flags (Aviary's own and Argo's), logging,
//! the runtime and the start-up. A library module so that the `aviary` CLI can run the very same
//! controller in-process (`aviary controller ...`, which the demo uses): one build serves both.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Parser;
use kube::config::Kubeconfig;

use crate::compat;
use crate::error::Error;

/// Aviary: a progressive-delivery controller for Argo Rollouts' API, with Wasm plugins.
#[derive(Debug, Parser)]
#[command(name = "aviary-controller", version, about, args_override_self = true)]
pub struct Args {
    /// Path to a kubeconfig; otherwise the in-cluster configuration or $KUBECONFIG.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// The controller's namespace (its ConfigMap `aviary-config` and its Lease live there); else
    /// `$POD_NAMESPACE`, else the service account's namespace, else `argo-rollouts` (Argo's).
    #[arg(long)]
    namespace: Option<String>,
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
    /// Elect a leader among replicas through a coordination Lease in the controller's namespace;
    /// only the leader reconciles.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    leader_elect: bool,
    /// How long a lease lasts without renewal.
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    leader_election_lease_duration: std::time::Duration,
    /// How long the leader retries renewing before it gives up leadership.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    leader_election_renew_deadline: std::time::Duration,
    /// How often candidates try to acquire the lease and the leader renews it.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    leader_election_retry_period: std::time::Duration,
    /// Reconcile only objects labelled `argo-rollouts.argoproj.io/controller-instance-id=<id>`;
    /// without it, only objects without that label (Argo's semantics).
    #[arg(long)]
    instance_id: Option<String>,
    /// Watch only the controller's own namespace (use deploy/namespaced for the matching RBAC).
    #[arg(long)]
    namespaced: bool,
    /// Port of the Prometheus `/metrics` endpoint (Argo's `--metricsPort`).
    #[arg(long, visible_alias = "metricsPort", alias = "metricsport", default_value_t = 8090)]
    metrics_port: u16,
    /// Port of the `/healthz` (liveness) and `/readyz` (readiness) endpoints (Argo's
    /// `--healthzPort`).
    #[arg(long, visible_alias = "healthzPort", default_value_t = 8080)]
    healthz_port: u16,
    /// Address the metrics and health endpoints bind to.
    #[arg(long, default_value = "0.0.0.0")]
    bind_address: std::net::IpAddr,
    /// How long one measurement may stay Running (a Job, a Kayenta judgement) before the
    /// controller terminates it as Error: a provider that answers Running forever holds its metric
    /// for at most this long.
    #[arg(long, default_value = "6h", value_parser = humantime::parse_duration)]
    max_measurement_running: std::time::Duration,
    /// The most an AnalysisRun may weigh when written, in bytes of JSON: older measurements are
    /// dropped to stay under it (etcd refuses requests over 1.5 MiB by default). Should the API
    /// server refuse a write as too large anyway, the controller halves it for that write.
    #[arg(long, default_value_t = aviary_engine::analysis::retention::OBJECT_BUDGET_BYTES, hide = true)]
    analysis_run_budget: usize,
    /// Exit when stdin reaches end of file: a supervisor (or a test harness) that holds the pipe
    /// stops the controller simply by going away, even if it is killed.
    #[arg(long, hide = true)]
    exit_on_stdin_close: bool,
    /// Argo's own flags, so that Argo's Deployment runs this binary unchanged.
    #[command(flatten)]
    argo: compat::ArgoFlags,
}

fn init_logging(level: &str, format: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(level).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour only on a terminal: a log file or a log collector gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Stack of each runtime thread. A reconcile is a deep future, and a panic in one (caught by
/// the controller's panic guard) unwinds through it: 8 MiB leaves room for that where the
/// default 2 MiB did not.
const THREAD_STACK: usize = 8 << 20;

/// Parses `argv` (program name first) as `aviary-controller` does and runs the controller until
/// a signal. `--help` and `--version` print and exit, as any command line does.
pub fn main<I, T>(argv: I) -> Result<(), Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args = Args::parse_from(argv);
    init_logging(&args.argo.log_filter(&args.log_level), &args.log_format);
    args.argo.report_ignored();
    install_panic_hook();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(THREAD_STACK)
        .build()
        .map_err(|e| startup("cannot start the async runtime", e))?
        .block_on(run(args))
}

/// A start-up failure, with what was being done.
fn startup(what: impl Into<String>, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Startup { what: what.into(), source: Box::new(e) }
}

/// Reports a panic as one log line with its location. The default hook symbolises a backtrace
/// when `RUST_BACKTRACE` is set, which needs more stack than a runtime thread deep in a reconcile
/// has left (a stack overflow aborts the process, which the panic guard cannot catch). Panics are
/// caught per reconcile; the object is in the guard's own log line.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        let message = crate::panic_guard::panic_message(info.payload());
        let thread = std::thread::current().name().unwrap_or("unnamed").to_string();
        tracing::error!(%location, %thread, "panicked: {message}");
    }));
}

async fn run(args: Args) -> Result<(), Error> {
    if args.exit_on_stdin_close {
        std::thread::spawn(|| {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
            tracing::info!("stdin closed: exiting");
            std::process::exit(0);
        });
    }
    aviary_plugins::install_crypto_provider();
    let options = args.argo.kubeconfig_options();
    let config = match &args.kubeconfig {
        Some(path) => {
            let kubeconfig = Kubeconfig::read_from(path)
                .map_err(|e| startup(format!("reading kubeconfig {}", path.display()), e))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|e| startup(format!("loading kubeconfig {}", path.display()), e))?
        }
        None if args.argo.selects_from_kubeconfig() => kube::Config::from_kubeconfig(&options)
            .await
            .map_err(|e| startup("--context, --cluster and --user select from a kubeconfig: none was found", e))?,
        None => kube::Config::infer()
            .await
            .map_err(|e| startup("no kubeconfig: pass --kubeconfig, set KUBECONFIG, or run in a cluster", e))?,
    };
    let metrics = std::sync::Arc::new(crate::metrics::Metrics::default());
    // Two clients on one throttle budget: Events give way to the reconciles' requests.
    let throttle = args.argo.throttle();
    let build = |throttle: Option<crate::throttle::ThrottleLayer>| -> Result<kube::Client, Error> {
        Ok(kube::client::ClientBuilder::try_from(config.clone())
            .map_err(|e| startup("building the API client", e))?
            .with_layer(&metrics.request_layer())
            .with_layer(&tower::util::option_layer(throttle))
            .build())
    };
    let event_client = build(throttle.as_ref().map(crate::throttle::ThrottleLayer::background))?;
    let client = build(throttle)?;
    let namespace = args.namespace.clone().unwrap_or_else(compat::controller_namespace);
    let plugins = aviary_plugins::PluginHost::new(aviary_plugins::HostConfig {
        cache_dir: Some(args.cache_dir.clone()),
        max_concurrent_calls: args.max_concurrent_plugin_calls,
    })
    .map_err(|e| startup("starting the plugin host", e))?;
    // Argo's Lease: while both controllers run (a migration, a rollback of it), only one leads.
    let leader = args.leader_elect.then(|| crate::leader::LeaderConfig {
        lease_name: match &args.instance_id {
            Some(id) => format!("argo-rollouts-controller-lock-{id}"),
            None => "argo-rollouts-controller-lock".into(),
        },
        namespace: namespace.clone(),
        identity: crate::leader::identity(),
        lease_duration: args.leader_election_lease_duration,
        renew_deadline: args.leader_election_renew_deadline,
        retry_period: args.leader_election_retry_period,
    });
    let run = crate::RunConfig {
        namespace,
        resync: args.argo.resync(),
        rollout_workers: args.argo.rollout_threads,
        analysis_workers: args.argo.analysis_threads,
        controllers: args.argo.enabled_controllers()?,
        instance_id: args.instance_id,
        namespaced: args.namespaced,
        leader,
        metrics_addr: std::net::SocketAddr::new(args.bind_address, args.metrics_port),
        health_addr: std::net::SocketAddr::new(args.bind_address, args.healthz_port),
        max_measurement_running: args.max_measurement_running,
        analysis_run_budget: args.analysis_run_budget,
        traffic_split_api_version: args.argo.traffic_split_version(),
        self_service_notifications: args.argo.self_service_notification_enabled,
    };
    crate::run(client, event_client, plugins, run, metrics).await
}

//! `aviary plugin run|inspect`: run one measurement by hand, or look inside a component.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use aviary_plugins::builtin::DEFAULT_CONDITION;
use aviary_plugins::capability::AllowedHosts;
use aviary_plugins::judge::{Conditions, judge, phase_name};
use aviary_plugins::{CallContext, Measurement, Phase, PluginHost};
use clap::Subcommand;
use serde::Serialize;

use super::output::{OutputFormat, print_json};
use super::plugins::PluginOptions;

/// `aviary plugin ...`
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: PluginCommand,
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Take one measurement with a provider plugin and judge it with the conditions.
    #[command(after_help = "Examples:\n  \
        aviary plugin run web --config '{\"url\": \"http://127.0.0.1:8080/health\", \"jsonPath\": \"{$.ok}\"}' --success 'result == true'\n  \
        aviary plugin run ./my_provider.wasm --config '{}' --allow-host api.example.com -o json\n  \
        aviary plugin run acme/datadog --plugins plugins.yaml --config @config.json")]
    Run(RunArgs),
    /// Show a component's world, contract version, imports, exports and digest.
    #[command(after_help = "Example:\n  aviary plugin inspect target/wasm32-wasip2/release/my_provider.wasm")]
    Inspect(InspectArgs),
}

/// Flags of `plugin run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// A registered name (`org/name`), a first-party provider (`web`, `prometheus`), or the path
    /// of a .wasm component.
    plugin: String,
    /// The provider's config as JSON, or `@FILE` to read it from a file.
    #[arg(long)]
    config: String,
    /// Let the plugin reach this host (`host`, `host:port`, `*.domain`); repeatable. A plugin
    /// run by path has no network otherwise.
    #[arg(long = "allow-host", value_name = "HOST")]
    allow_hosts: Vec<String>,
    /// successCondition.
    #[arg(long)]
    success: Option<String>,
    /// failureCondition.
    #[arg(long)]
    failure: Option<String>,
    /// The condition plugin.
    #[arg(long, default_value = DEFAULT_CONDITION)]
    condition: String,
    #[command(flatten)]
    plugins: PluginOptions,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    output: OutputFormat,
}

/// Flags of `plugin inspect`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// The .wasm component.
    path: PathBuf,
    #[command(flatten)]
    plugins: PluginOptions,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    output: OutputFormat,
}

/// The JSON printed by `plugin run` (DESIGN.md's CLI contract).
#[derive(Debug, Serialize)]
struct RunOutput {
    phase: &'static str,
    value: Option<String>,
    message: String,
    metadata: BTreeMap<String, String>,
}

/// Runs `aviary plugin ...`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        PluginCommand::Run(a) => run_measurement(a),
        PluginCommand::Inspect(a) => inspect(a),
    }
}

/// A provider left running is polled at most this long by hand.
const MAX_FOLLOW: Duration = Duration::from_secs(600);

fn run_measurement(args: RunArgs) -> anyhow::Result<ExitCode> {
    let config = match args.config.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("--config @{path}"))?,
        None => args.config.clone(),
    };
    serde_json::from_str::<serde_json::Value>(&config).with_context(|| format!("--config is not JSON: {config}"))?;
    let extra = AllowedHosts::parse(&args.allow_hosts).map_err(anyhow::Error::msg)?;
    let runtime = super::runtime()?;
    let out = runtime.block_on(async {
        let host = args.plugins.host().await?;
        let name = resolve(&host, &args.plugin, extra)?;
        let ctx = CallContext { namespace: "default".into(), run_name: "aviary-cli".into(), metric_name: "cli".into() };
        let mut m = host.measure(&name, &ctx, &config).await;
        let started = std::time::Instant::now();
        while m.phase == Phase::Running && started.elapsed() < MAX_FOLLOW {
            tokio::time::sleep(m.resume_after.unwrap_or(Duration::from_secs(1))).await;
            m = host.resume(&name, &ctx, &config, &m).await;
        }
        anyhow::Ok(finish(&host, &args, m).await)
    })?;
    match args.output {
        OutputFormat::Json => print_json(&out)?,
        OutputFormat::Text => {
            println!("phase:   {}", out.phase);
            println!("value:   {}", out.value.as_deref().unwrap_or("<none>"));
            if !out.message.is_empty() {
                println!("message: {}", out.message);
            }
            for (k, v) in &out.metadata {
                println!("{k}: {v}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A path is loaded as a component with only the `--allow-host` grants; a name must be
/// registered or first-party, and `--allow-host` adds to what its entry grants.
fn resolve(host: &PluginHost, plugin: &str, extra: AllowedHosts) -> anyhow::Result<String> {
    let path = Path::new(plugin);
    if plugin.ends_with(".wasm") || path.is_file() {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {plugin}"))?;
        host.load_bytes(plugin, &bytes, extra)?;
    } else if !extra.is_empty() {
        host.allow_hosts(plugin, extra)?;
    }
    Ok(plugin.to_string())
}

async fn finish(host: &PluginHost, args: &RunArgs, m: Measurement) -> RunOutput {
    let (phase, message) = match m.phase {
        Phase::Measured => {
            let conditions = Conditions { success: args.success.as_deref(), failure: args.failure.as_deref() };
            let verdict = judge(host, &args.condition, m.value.as_deref(), conditions).await;
            let message = if verdict.message.is_empty() { m.message.clone() } else { verdict.message };
            (phase_name(verdict.phase), message)
        }
        other => (other.as_str(), m.message.clone()),
    };
    RunOutput { phase, value: m.value, message, metadata: m.metadata }
}

fn inspect(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&args.path).with_context(|| format!("cannot read {}", args.path.display()))?;
    let runtime = super::runtime()?;
    let info = runtime.block_on(async {
        let host = args.plugins.host().await?;
        anyhow::Ok(host.inspect(&args.path.display().to_string(), &bytes)?)
    })?;
    let Some(world) = info.world else { bail!("{} is not an Aviary plugin", args.path.display()) };
    match args.output {
        OutputFormat::Json => print_json(&info)?,
        OutputFormat::Text => {
            println!("component: {}", args.path.display());
            println!("world:     {}", world.as_str());
            println!(
                "contract:  aviary:plugin@{}",
                info.version.as_deref().unwrap_or(aviary_plugins::inspect::SUPPORTED_VERSIONS[0])
            );
            println!("size:      {} bytes", info.size);
            println!("sha256:    {}", info.sha256);
            println!("imports:");
            for i in &info.imports {
                println!("  {i}");
            }
            println!("exports:");
            for e in &info.exports {
                println!("  {e}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

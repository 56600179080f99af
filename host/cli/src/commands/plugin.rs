//! `aviary plugin run|inspect|new|test|push|sign|verify`: run one measurement by hand, look
//! inside a component, start a plugin project, test a plugin against recorded HTTP exchanges, or
//! publish and sign it in an OCI registry.

mod new;
pub(crate) mod oci;
mod test;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use aviary_boundary::kubernetes::KubernetesGrant;
use aviary_controller::judge::judge;
use aviary_plugins::capability::AllowedHosts;
use aviary_plugins::registry::{PluginKind, RegistryEntry, RegistryFile};
use aviary_plugins::{CallContext, Measurement, Phase, PluginHost};
use clap::Subcommand;
use serde::Serialize;

use super::condition::ConditionFlags;
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
    /// Show a component's world, contract version, imports, exports, size, digest, and the
    /// registry entry that registers it.
    #[command(
        after_help = "Example:\n  aviary plugin inspect target/wasm32-wasip2/release/my_provider.wasm \\\n    --name acme/my-provider --location https://plugins.acme.example/my_provider-0.1.0.wasm"
    )]
    Inspect(InspectArgs),
    /// Start a plugin project (Rust, Python or JavaScript) in a new directory.
    #[command(after_help = "Examples:\n  \
        aviary plugin new error-rate --lang rust\n  \
        aviary plugin new error-rate --lang python ~/src/error-rate\n  \
        aviary plugin new threshold --lang js --kind condition\n  \
        aviary plugin new my-router --lang rust --kind traffic-router")]
    New(new::NewArgs),
    /// Run a plugin against recorded HTTP exchanges (--replay), or record a real run (--record).
    #[command(after_help = "Examples:\n  \
        aviary plugin test ./my_provider.wasm --config @test/config.json --replay test/replay.json \\\n      --allow-host metrics.example\n  \
        aviary plugin test ./my_provider.wasm --config @config.json --record today.json --count 3 --interval 10s \\\n      --allow-host api.example.com")]
    Test(test::TestArgs),
    /// Push a component to an OCI registry (the Wasm artifact layout, with its world and contract
    /// version in the manifest's annotations).
    #[command(after_help = "Examples:\n  \
        aviary plugin push target/wasm32-wasip2/release/error_rate.wasm oci://ghcr.io/acme/error-rate:1.0.0\n  \
        echo \"$TOKEN\" | aviary plugin push error_rate.wasm oci://registry.acme.io/plugins/error-rate:1.0.0 \\\n      --username ci --password-stdin")]
    Push(oci::PushArgs),
    /// Sign a pushed component with a cosign key (the signature is stored beside it, where
    /// `cosign verify` and the controller's `verify` find it).
    #[command(
        after_help = "Example:\n  COSIGN_PASSWORD=... aviary plugin sign oci://ghcr.io/acme/error-rate:1.0.0 --key cosign.key"
    )]
    Sign(oci::SignArgs),
    /// Check that a pushed component carries a signature made with a cosign public key (exit 1
    /// when it does not).
    #[command(after_help = "Example:\n  aviary plugin verify oci://ghcr.io/acme/error-rate:1.0.0 --key cosign.pub")]
    Verify(oci::VerifyArgs),
    /// Write a cosign key pair (cosign.key, encrypted with COSIGN_PASSWORD, and cosign.pub), as
    /// `cosign generate-key-pair` does.
    #[command(after_help = "Example:\n  COSIGN_PASSWORD=... aviary plugin keygen")]
    Keygen(oci::KeygenArgs),
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
    #[command(flatten)]
    conditions: ConditionFlags,
    #[command(flatten)]
    plugins: PluginOptions,
    /// How long to keep polling a measurement the provider leaves Running (it waits as the
    /// provider asks, within 1 s and 1 h); after that the measurement is an Error.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    follow_limit: Duration,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    output: OutputFormat,
}

/// Flags of `plugin inspect`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// The component: the path of a .wasm file, a name registered in `--plugins` (`org/name`),
    /// a first-party plugin (`web`, `prometheus`, `datadog`, `aviary/expr`), as `plugin run`
    /// takes it, or an `oci://` location (read from the registry, never run).
    plugin: String,
    /// For an `oci://` location: check its signature with this cosign public key.
    #[arg(long, value_name = "FILE")]
    key: Option<std::path::PathBuf>,
    /// The name to register it under, in the printed registry entry [default: the registered
    /// name, or example/<file>].
    #[arg(long)]
    name: Option<String>,
    /// Where the controller will fetch it from, in the printed registry entry (an https:// URL
    /// of your artifact store) [default: the file's own file:// URL, or the registered entry's
    /// location].
    #[arg(long)]
    location: Option<String>,
    /// A host the plugin calls (`host`, `host:port`, `*.domain`), for the printed entry's
    /// `allowedHosts`; repeatable. Without it the plugin has no network once registered.
    #[arg(long = "allow-host", value_name = "HOST")]
    allow_hosts: Vec<String>,
    /// Print only the registry file (`plugins: [...]`): the value of `plugins.yaml` in the
    /// controller's ConfigMap, ready to save and apply.
    #[arg(long, conflicts_with = "output")]
    entry: bool,
    #[command(flatten)]
    plugins: PluginOptions,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    output: OutputFormat,
}

/// The JSON printed by `plugin run` (DESIGN.md's CLI contract).
#[derive(Debug, Serialize)]
pub(crate) struct RunOutput {
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
        PluginCommand::New(a) => new::run(a),
        PluginCommand::Test(a) => test::run(a),
        PluginCommand::Push(a) => oci::push(a),
        PluginCommand::Sign(a) => oci::sign(a),
        PluginCommand::Verify(a) => oci::verify(a),
        PluginCommand::Keygen(a) => oci::keygen(a),
    }
}

/// A provider left running is polled at most this long by `plugin test`.
pub(crate) const MAX_FOLLOW: Duration = Duration::from_secs(600);

/// Takes a measurement and polls it while it is Running, waiting as the plugin asks (a delay the
/// host has already bounded), but never past `limit`: a provider that stays Running, whatever
/// delay it asks for, ends as an Error when the limit is reached.
pub(crate) async fn follow(
    host: &PluginHost,
    name: &str,
    ctx: &CallContext,
    config: &str,
    limit: Duration,
) -> Measurement {
    let deadline = tokio::time::Instant::now() + limit;
    let mut m = host.measure(name, ctx, config).await;
    while m.phase == Phase::Running {
        let wake = tokio::time::Instant::now() + m.resume_after.unwrap_or(Duration::from_secs(1));
        if wake > deadline {
            tokio::time::sleep_until(deadline).await;
            let said = if m.message.is_empty() { String::new() } else { format!("; the provider said: {}", m.message) };
            return Measurement {
                phase: Phase::Error,
                message: format!(
                    "measurement still Running after {} (the follow limit){said}",
                    humantime::format_duration(limit)
                ),
                resume_after: None,
                ..m
            };
        }
        tokio::time::sleep_until(wake).await;
        m = host.resume(name, ctx, config, &m).await;
    }
    m
}

/// `--config`: JSON, or `@FILE`; checked to be JSON.
pub(crate) fn read_config(arg: &str) -> anyhow::Result<String> {
    let config = match arg.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("--config @{path}"))?,
        None => arg.to_string(),
    };
    serde_json::from_str::<serde_json::Value>(&config).with_context(|| format!("--config is not JSON: {config}"))?;
    Ok(config)
}

fn run_measurement(args: RunArgs) -> anyhow::Result<ExitCode> {
    let config = read_config(&args.config)?;
    let extra = AllowedHosts::parse(&args.allow_hosts)?;
    let runtime = super::runtime()?;
    let out = runtime.block_on(async {
        let host = args.plugins.host().await?;
        let name = resolve(&host, &args.plugin, extra)?;
        let ctx = CallContext {
            namespace: "default".into(),
            run_name: "aviary-cli".into(),
            metric_name: "cli".into(),
            ..Default::default()
        };
        let m = follow(&host, &name, &ctx, &config, args.follow_limit).await;
        anyhow::Ok(judged(&host, &args.conditions, m).await)
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
/// registered or first-party, and `--allow-host` adds to what its entry grants. A traffic
/// router is refused: `plugin run` and `plugin test` take measurements.
pub(crate) fn resolve(host: &PluginHost, plugin: &str, extra: AllowedHosts) -> anyhow::Result<String> {
    let path = Path::new(plugin);
    if plugin.ends_with(".wasm") || path.is_file() {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {plugin}"))?;
        host.load_bytes(plugin, &bytes, extra)?;
    } else if !extra.is_empty() && host.router_available(plugin).is_err() {
        host.allow_hosts(plugin, extra)?;
    }
    if host.router_available(plugin).is_ok() {
        bail!(
            "{plugin} is a traffic-router: routers are called by the controller, in each reconcile of a \
             canary with trafficRouting (set-weight, verify-weight, ...), not run by hand. Test one with \
             its own tests against the in-memory cluster (`cargo test` in its project), and look at it \
             with `aviary plugin inspect {plugin}`"
        );
    }
    if host.available(plugin, PluginKind::Step).is_ok() {
        bail!(
            "{plugin} is a step plugin: it is run by the controller as a canary `plugin:` step (run, \
             terminate, abort), not by hand. Test one with its own tests (`cargo test` in its project), \
             and look at it with `aviary plugin inspect {plugin}`"
        );
    }
    Ok(plugin.to_string())
}

/// A provider's measurement as `plugin run` prints it: a value judged with the conditions.
pub(crate) async fn judged(host: &PluginHost, flags: &ConditionFlags, m: Measurement) -> RunOutput {
    let (phase, message) = match m.phase {
        Phase::Measured => {
            let verdict = judge(host, &flags.condition, m.value.as_deref(), flags.conditions()).await;
            let message = if verdict.message.is_empty() { m.message.clone() } else { verdict.message };
            (verdict.phase.as_str(), message)
        }
        other => (other.as_str(), m.message.clone()),
    };
    RunOutput { phase, value: m.value, message, metadata: m.metadata }
}

/// What `plugin inspect -o json` prints: the component, and the entry that registers it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct InspectOutput {
    #[serde(flatten)]
    info: aviary_plugins::inspect::ComponentInfo,
    registry_entry: RegistryEntry,
    /// For an `oci://` location: what the registry holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    registry: Option<oci::RegistryView>,
}

/// A component to inspect, found as `plugin run` finds one.
struct Inspected {
    /// How the component was named on the command line.
    label: String,
    bytes: Vec<u8>,
    /// The entry that registers it already (a registered or first-party name).
    registered: Option<RegistryEntry>,
    /// For an `oci://` location: what the registry holds.
    registry: Option<oci::RegistryView>,
}

/// A path is read; a name is looked up in the `--plugins` file, then among the first-party
/// plugins, and fetched and verified as the controller would.
async fn find_component(args: &InspectArgs, host: &PluginHost) -> anyhow::Result<Inspected> {
    let path = Path::new(&args.plugin);
    if args.plugin.starts_with(aviary_boundary::oci::SCHEME) {
        let location = aviary_boundary::oci::OciLocation::parse(&args.plugin)
            .with_context(|| format!("{:?} is not an oci:// location", args.plugin))?;
        let (view, bytes, pinned) = oci::inspect(&location, args.key.as_deref()).await?;
        return Ok(Inspected { label: pinned.to_string(), bytes, registered: None, registry: Some(view) });
    }
    if args.plugin.ends_with(".wasm") || path.is_file() {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", args.plugin))?;
        return Ok(Inspected { label: args.plugin.clone(), bytes, registered: None, registry: None });
    }
    let from_file = match &args.plugins.registry {
        Some(file) => RegistryFile::read(file)?.plugins.into_iter().find(|e| e.name == args.plugin),
        None => None,
    };
    let entry = match (from_file, aviary_plugins::builtin::find(&args.plugin)) {
        (Some(entry), _) => entry,
        (None, Some(b)) => RegistryEntry {
            name: b.name.to_string(),
            kind: b.kind,
            location: format!("builtin:{}", b.name),
            sha256: None,
            allowed_hosts: Vec::new(),
            timeout: None,
            memory_limit: None,
            // A first-party router's own grants, which an entry without `kubernetes` gets.
            kubernetes: b
                .kubernetes
                .iter()
                .map(|g| KubernetesGrant {
                    api_group: g.api_group.to_string(),
                    kinds: g.kinds.iter().map(|k| k.to_string()).collect(),
                    verbs: g.verbs.to_vec(),
                })
                .collect(),
            disabled: false,
            pull_secret: None,
            verify: None,
        },
        (None, None) => bail!(
            "{:?} is neither a file, nor registered in {}, nor a first-party plugin ({})",
            args.plugin,
            args.plugins.registry.as_ref().map_or("a --plugins file".to_string(), |p| p.display().to_string()),
            aviary_plugins::builtin::BUILTINS
                .iter()
                .map(|b| b.argo_name.map_or(b.name.to_string(), |a| format!("{a} ({})", b.name)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let spec = entry.validate().with_context(|| format!("registry entry {:?}", entry.name))?;
    let bytes = host.fetch_bytes(&spec, &oci::access_for(&spec)).await?;
    Ok(Inspected { label: args.plugin.clone(), bytes, registered: Some(entry), registry: None })
}

/// What a first-party plugin may reach by default: the host named by one field of its config, a
/// default site, or nothing.
fn builtin_reach(host_field: Option<&str>, default_url: Option<&str>) -> String {
    match (host_field, default_url) {
        (Some(f), Some(d)) => format!("the host of its `{f}` field, else {d}"),
        (Some(f), None) => format!("the host of its `{f}` field"),
        (None, Some(d)) => d.to_string(),
        (None, None) => "no network".into(),
    }
}

fn inspect(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let runtime = super::runtime()?;
    let (found, info) = runtime.block_on(async {
        let host = args.plugins.host().await?;
        let found = find_component(&args, &host).await?;
        let info = host.inspect(&found.label, &found.bytes)?;
        anyhow::Ok((found, info))
    })?;
    let Some(world) = info.world else { bail!("{} is not an Aviary plugin", found.label) };
    let entry = registry_entry(&args, &found, world, &info.sha256)?;
    let registry = found.registry.clone();
    if args.entry {
        print!("{}", serde_norway::to_string(&RegistryFile { plugins: vec![entry], ..RegistryFile::default() })?);
        return Ok(ExitCode::SUCCESS);
    }
    match args.output {
        OutputFormat::Json => print_json(&InspectOutput { info, registry_entry: entry, registry })?,
        OutputFormat::Text => {
            println!("component: {}", found.label);
            if let Some(view) = &registry {
                let note = |key: &str| view.inspection.annotations.get(key).map_or("(not annotated)", String::as_str);
                println!("digest:    {} (the manifest)", view.inspection.digest);
                println!(
                    "annotated: world {}, contract {}",
                    note(aviary_plugins::oci::ANNOTATION_WORLD),
                    note(aviary_plugins::oci::ANNOTATION_CONTRACT)
                );
                println!("signatures: {} in the registry; {}", view.inspection.signatures, view.signature);
            }
            println!("world:     {}", world.as_str());
            println!("contract:  aviary:plugin@{}", contract_version(&info, world));
            println!("size:      {} bytes ({})", info.size, human_size(info.size));
            println!("sha256:    {}", info.sha256);
            println!("imports:");
            for i in &info.imports {
                println!("  {i}");
            }
            println!("exports:");
            for e in &info.exports {
                println!("  {e}");
            }
            if let Some(b) = aviary_plugins::builtin::find(&found.label) {
                println!();
                println!(
                    "first-party ({}):",
                    b.argo_name.map_or("an Aviary plugin".to_string(), |a| format!("Argo's {a:?}"))
                );
                println!("  may reach: {}", builtin_reach(b.host_field, b.default_url));
                if b.kubernetes.is_empty() {
                    println!("  kubernetes: nothing");
                }
                for g in b.kubernetes {
                    let group = if g.api_group.is_empty() { "core" } else { g.api_group };
                    let verbs: Vec<String> = g.verbs.iter().map(|v| format!("{v:?}").to_lowercase()).collect();
                    println!(
                        "  kubernetes: {} ({group}): {}, in the object's namespace",
                        g.kinds.join(", "),
                        verbs.join(", ")
                    );
                }
            }
            println!();
            println!("registry entry (add it under `plugins:` in the controller's ConfigMap aviary-config,");
            if world.since_0_2() {
                println!("key plugins.yaml, or in a --plugins file; list the Kubernetes objects it reads and");
                println!(
                    "writes in kubernetes, as apiGroup, kinds and verbs, and the hosts it calls in allowedHosts):"
                );
            } else {
                println!("key plugins.yaml, or in a --plugins file; list the hosts it calls in allowedHosts):");
            }
            let no_hosts = entry.allowed_hosts.is_empty();
            let no_grants = entry.kubernetes.is_empty();
            let yaml = serde_norway::to_string(&RegistryFile { plugins: vec![entry], ..RegistryFile::default() })?;
            print!("{yaml}");
            // Providers, steps and notifiers call out over HTTP: show where the hosts go.
            if matches!(world, PluginKind::MetricProvider | PluginKind::Step | PluginKind::Notifier) && no_hosts {
                println!("  allowedHosts: []");
            }
            if world.since_0_2() && no_grants {
                println!("  kubernetes: []");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The registry entry for an inspected component: the one that registers it already (with the
/// flags applied), or a new one for a file.
fn registry_entry(
    args: &InspectArgs,
    found: &Inspected,
    world: PluginKind,
    sha256: &str,
) -> anyhow::Result<RegistryEntry> {
    let mut entry = match &found.registered {
        Some(entry) => entry.clone(),
        None => {
            let (stem, location) = if found.registry.is_some() {
                // The artifact at the digest just read: what the controller will pull.
                let repository = found.label.rsplit('/').next().unwrap_or_default();
                let stem = repository.split([':', '@']).next().unwrap_or_default().to_string();
                (stem, found.label.clone())
            } else {
                let path = Path::new(&args.plugin);
                let stem = path.file_stem().map(|s| s.to_string_lossy().replace('_', "-")).unwrap_or_default();
                (stem, format!("file://{}", std::fs::canonicalize(path)?.display()))
            };
            RegistryEntry {
                name: format!("example/{stem}"),
                kind: world,
                location,
                sha256: None,
                allowed_hosts: Vec::new(),
                timeout: None,
                memory_limit: None,
                kubernetes: Vec::new(),
                disabled: false,
                pull_secret: None,
                verify: None,
            }
        }
    };
    if let Some(name) = &args.name {
        entry.name = name.clone();
    }
    if let Some(location) = &args.location {
        entry.location = location.clone();
    }
    // A first-party plugin is pinned by its location, a registry's by its manifest digest;
    // anything else by the component's digest.
    if !entry.location.starts_with("builtin:") && !entry.location.starts_with(aviary_boundary::oci::SCHEME) {
        entry.sha256 = Some(sha256.to_string());
    }
    if !args.allow_hosts.is_empty() {
        entry.allowed_hosts = args.allow_hosts.clone();
    }
    // A signature just verified with --key: the entry requires it.
    if let (Some(view), Some(path)) = (&found.registry, &args.key)
        && view.signature.starts_with("verified")
    {
        entry.verify = Some(aviary_plugins::registry::Verify { key: oci::read_key(path)?.trim().to_string() });
    }
    entry.validate().context("the registry entry would be refused")?;
    Ok(entry)
}

/// The contract a component was built against: the version of the `aviary:plugin` interfaces it
/// imports, or, for one that imports none, the version its world first appeared in.
fn contract_version(info: &aviary_plugins::inspect::ComponentInfo, world: PluginKind) -> &str {
    let versions = aviary_plugins::inspect::SUPPORTED_VERSIONS;
    let first = if world.since_0_2() { versions[1] } else { versions[0] };
    info.version.as_deref().unwrap_or(first)
}

fn human_size(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / f64::from(1 << 20)),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / f64::from(1 << 10)),
        b => format!("{b} B"),
    }
}

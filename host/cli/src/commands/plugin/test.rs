//! `aviary plugin test`: a plugin against recorded HTTP exchanges instead of the network, or a
//! real run written down as such a recording (`--record`).
//!
//! A recording (see `aviary_plugins::recording`) holds, per measurement, the time the plugin's
//! clock reads, the requests it sends with their answers, and the outcome it must produce. A
//! replay fails when the plugin sends a request the recording lacks (the request is named), or
//! when a measurement's outcome differs from the expected one. `--record` writes the outcome it
//! saw as the expectation, so a recording made today is a regression test tomorrow.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::commands::condition::ConditionFlags;
use anyhow::Context as _;
use aviary_plugins::capability::AllowedHosts;
use aviary_plugins::recording::{Expectation, Recorder, Recording, Replay};
use aviary_plugins::{CallContext, HttpMode, Measurement, Phase, PluginHost};
use serde::Serialize;

use super::super::output::{OutputFormat, print_json};
use super::super::plugins::PluginOptions;
use super::{RunOutput, judged, read_config, resolve};

/// Flags of `plugin test`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["replay", "record"])))]
pub struct TestArgs {
    /// A registered name, a first-party provider (`web`, `datadog`, ...), or a .wasm path.
    plugin: String,
    /// The provider's config as JSON, or `@FILE`.
    #[arg(long)]
    config: String,
    /// Answer the plugin's requests from this recording; nothing reaches the network.
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
    /// Run against the real hosts (those allowed) and write what happened to this file.
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// With --record: how many measurements to take.
    #[arg(long, default_value_t = 1, requires = "record")]
    count: u32,
    /// With --record: the time between two measurements (a Go duration: `10s`, `1m`).
    #[arg(long, default_value = "10s", value_parser = go_duration, requires = "record")]
    interval: Duration,
    /// Let the plugin reach this host (`host`, `host:port`, `*.domain`); repeatable. The
    /// allow-list is enforced when replaying too.
    #[arg(long = "allow-host", value_name = "HOST")]
    allow_hosts: Vec<String>,
    #[command(flatten)]
    conditions: ConditionFlags,
    #[command(flatten)]
    plugins: PluginOptions,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    output: OutputFormat,
}

fn go_duration(s: &str) -> Result<Duration, String> {
    let nanos = aviary_api::duration::parse_go_duration(s).map_err(|e| e.to_string())?;
    u64::try_from(nanos).map(Duration::from_nanos).map_err(|_| format!("{s:?} is negative"))
}

/// One measurement of a test, as printed.
#[derive(Debug, Serialize)]
struct TestedMeasurement {
    #[serde(flatten)]
    outcome: RunOutput,
    /// Why this measurement fails the test (empty: it passes).
    problems: Vec<String>,
}

/// The JSON printed by `plugin test`.
#[derive(Debug, Serialize)]
struct TestOutput {
    measurements: Vec<TestedMeasurement>,
    passed: usize,
    failed: usize,
}

/// A plugin left running is resumed at most this often during a replay (where nothing waits).
const MAX_REPLAYED_RESUMES: usize = 100;

pub fn run(args: TestArgs) -> anyhow::Result<ExitCode> {
    let config = read_config(&args.config)?;
    let extra = AllowedHosts::parse(&args.allow_hosts)?;
    let runtime = super::super::runtime()?;
    let out = runtime.block_on(async {
        let host = args.plugins.host().await?;
        let name = resolve(&host, &args.plugin, extra)?;
        match (&args.replay, &args.record) {
            (Some(file), _) => replay(&host, &name, &config, &args, file).await,
            (None, Some(file)) => record(&host, &name, &config, &args, file).await,
            (None, None) => unreachable!("clap requires --replay or --record"),
        }
    })?;
    match args.output {
        OutputFormat::Json => print_json(&out)?,
        OutputFormat::Text => {
            for (i, m) in out.measurements.iter().enumerate() {
                let o = &m.outcome;
                let value = o.value.as_deref().unwrap_or("<none>");
                let verdict = if m.problems.is_empty() { "ok" } else { "FAIL" };
                println!("measurement {}: {verdict}  phase={} value={value}", i + 1, o.phase);
                if !o.message.is_empty() {
                    println!("  message: {}", o.message);
                }
                for (k, v) in &o.metadata {
                    println!("  {k}: {v}");
                }
                for p in &m.problems {
                    println!("  FAIL: {p}");
                }
            }
            println!("{} passed, {} failed", out.passed, out.failed);
        }
    }
    Ok(if out.failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

async fn replay(
    host: &PluginHost,
    name: &str,
    config: &str,
    args: &TestArgs,
    file: &std::path::Path,
) -> anyhow::Result<TestOutput> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let recording = Recording::parse(&text).with_context(|| file.display().to_string())?;
    anyhow::ensure!(!recording.measurements.is_empty(), "{} holds no measurement", file.display());
    let mut measurements = Vec::new();
    for (i, recorded) in recording.measurements.iter().enumerate() {
        let replay =
            Arc::new(Replay::new(recorded).with_context(|| format!("{}: measurement {}", file.display(), i + 1))?);
        let replaying = host.with_http(HttpMode::Replay(replay.clone()));
        let ctx = context();
        let mut m = replaying.measure(name, &ctx, config).await;
        for _ in 0..MAX_REPLAYED_RESUMES {
            if m.phase != Phase::Running {
                break;
            }
            m = replaying.resume(name, &ctx, config, &m).await;
        }
        let outcome = judged(host, &args.conditions, m).await;
        let mut problems: Vec<String> =
            replay.misses().into_iter().map(|r| format!("request not in the recording: {r}")).collect();
        if let Some(expect) = &recorded.expect {
            problems.extend(expect.mismatches(outcome.phase, outcome.value.as_deref(), &outcome.message));
        }
        for unused in replay.unused() {
            eprintln!("warning: measurement {}: recorded exchange never requested: {unused}", i + 1);
        }
        measurements.push(TestedMeasurement { outcome, problems });
    }
    Ok(summarise(measurements))
}

async fn record(
    host: &PluginHost,
    name: &str,
    config: &str,
    args: &TestArgs,
    file: &std::path::Path,
) -> anyhow::Result<TestOutput> {
    let mut recording = Recording::default();
    let mut measurements = Vec::new();
    for i in 0..args.count {
        if i > 0 {
            tokio::time::sleep(args.interval).await;
        }
        let recorder = Arc::new(Recorder::new(SystemTime::now()));
        let recording_host = host.with_http(HttpMode::Record(recorder.clone()));
        let m = follow(&recording_host, name, config).await;
        let outcome = judged(host, &args.conditions, m).await;
        let expect = Expectation {
            phase: outcome.phase.to_string(),
            value: outcome.value.clone(),
            message: Some(outcome.message.clone()),
        };
        recording.measurements.push(recorder.measurement(Some(expect)));
        measurements.push(TestedMeasurement { outcome, problems: Vec::new() });
    }
    std::fs::write(file, recording.to_json() + "\n").with_context(|| format!("cannot write {}", file.display()))?;
    eprintln!("recorded {} measurement(s) to {}", recording.measurements.len(), file.display());
    Ok(summarise(measurements))
}

/// Takes a measurement and polls it, waiting as the plugin asks, until it is no longer running.
async fn follow(host: &PluginHost, name: &str, config: &str) -> Measurement {
    super::follow(host, name, &context(), config, super::MAX_FOLLOW).await
}

fn context() -> CallContext {
    CallContext {
        namespace: "default".into(),
        run_name: "aviary-plugin-test".into(),
        metric_name: "test".into(),
        ..Default::default()
    }
}

fn summarise(measurements: Vec<TestedMeasurement>) -> TestOutput {
    let failed = measurements.iter().filter(|m| !m.problems.is_empty()).count();
    TestOutput { passed: measurements.len() - failed, failed, measurements }
}

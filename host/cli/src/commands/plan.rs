//! `aviary plan -f SCENARIO [-o json]`: what the controller would do to a rollout's
//! ReplicaSets. With a `state`, the counts it wants now; without, the whole update walked step
//! by step (see `aviary_engine::plan`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use aviary_engine::plan::{Scenario, desired_now, render_desired_text, render_text, walk};
use aviary_engine::replay::default_start;

use super::output::{OutputFormat, print_json};

/// Flags of `aviary plan`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Scenario file:\n  \
    rollout: {...}            # a Rollout manifest\n  \
    state:                    # optional: the cluster now\n    \
    currentStepIndex: 0\n    \
    stable: {replicas: 10, available: 10}\n    \
    canary: {replicas: 0, available: 0}\n    \
    older: [{replicas: 3, available: 3}]\n    \
    weights: {canary: 10, stable: 90}\n\n\
    Without `state`, the whole update is walked from a fresh start.\n\n\
    Examples:\n  \
    aviary plan -f scenario.yaml            # every scaling action of a fresh update\n  \
    aviary plan -f scenario-with-state.yaml -o json")]
pub struct Args {
    /// The scenario (YAML): `rollout:` and optionally `state:`.
    #[arg(short = 'f', long = "file", value_name = "SCENARIO")]
    file: PathBuf,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    output: OutputFormat,
}

/// Runs `aviary plan`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let source = args.file.display().to_string();
    let text = std::fs::read_to_string(&args.file).with_context(|| format!("reading {source}"))?;
    let scenario = Scenario::from_yaml_checked(&text, &source)?;
    match &scenario.state {
        Some(state) => {
            let desired = desired_now(&scenario.rollout, state, chrono::Utc::now()).with_context(|| source.clone())?;
            match args.output {
                OutputFormat::Json => print_json(&desired)?,
                OutputFormat::Text => print!("{}", render_desired_text(&desired)),
            }
        }
        None => {
            let plan = walk(&scenario.rollout, default_start()).with_context(|| source.clone())?;
            match args.output {
                OutputFormat::Json => print_json(&plan)?,
                OutputFormat::Text => print!("{}", render_text(&plan)),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

//! `aviary condition eval`: judge a value with success/failure conditions, as an AnalysisRun
//! measurement would be judged.

use std::process::ExitCode;

use anyhow::Context as _;
use aviary_controller::judge::{Conditions, judge};
use aviary_plugins::builtin::DEFAULT_CONDITION;
use aviary_value::Value;
use clap::Subcommand;
use serde::Serialize;

use super::output::{OutputFormat, print_json};
use super::plugins::PluginOptions;

/// `aviary condition ...`
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: ConditionCommand,
}

#[derive(Debug, Subcommand)]
enum ConditionCommand {
    /// Evaluate conditions against a value; exits 0 whatever the phase.
    #[command(after_help = "Examples:\n  \
        aviary condition eval --value '[0.97]' --success 'result[0] >= 0.95'\n  \
        aviary condition eval --value NaN --success 'result >= 0.9' --failure 'result < 0.9' -o json")]
    Eval(EvalArgs),
}

/// The condition flags shared by `condition eval`, `plugin run` and `plugin test`.
#[derive(Debug, clap::Args)]
pub struct ConditionFlags {
    /// successCondition.
    #[arg(long)]
    pub success: Option<String>,
    /// failureCondition.
    #[arg(long)]
    pub failure: Option<String>,
    /// The condition plugin to evaluate with.
    #[arg(long, default_value = DEFAULT_CONDITION)]
    pub condition: String,
}

impl ConditionFlags {
    /// The conditions as the judge takes them.
    pub fn conditions(&self) -> Conditions<'_> {
        Conditions { success: self.success.as_deref(), failure: self.failure.as_deref() }
    }
}

/// Flags of `condition eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The measured value: JSON, plus the bare tokens NaN, Infinity and -Infinity.
    #[arg(long, allow_hyphen_values = true)]
    value: String,
    #[command(flatten)]
    conditions: ConditionFlags,
    #[command(flatten)]
    plugins: PluginOptions,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    output: OutputFormat,
}

/// The JSON printed by `condition eval` (DESIGN.md's CLI contract).
#[derive(Debug, Serialize)]
struct Verdict {
    phase: &'static str,
    message: String,
}

/// Runs `aviary condition ...`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let ConditionCommand::Eval(args) = args.command;
    Value::parse(&args.value)
        .with_context(|| format!("--value {:?} is not JSON (NaN, Infinity and -Infinity are allowed)", args.value))?;
    let runtime = super::runtime()?;
    let verdict = runtime.block_on(async {
        let host = args.plugins.host().await?;
        anyhow::Ok(judge(&host, &args.conditions.condition, Some(&args.value), args.conditions.conditions()).await)
    })?;
    let out = Verdict { phase: verdict.phase.as_str(), message: verdict.message };
    match args.output {
        OutputFormat::Json => print_json(&out)?,
        OutputFormat::Text if out.message.is_empty() => println!("{}", out.phase),
        OutputFormat::Text => println!("{}: {}", out.phase, out.message),
    }
    Ok(ExitCode::SUCCESS)
}

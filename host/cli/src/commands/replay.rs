//! `aviary replay -f TEMPLATE --measurements FILE [-o json]`: recorded measurements fed through
//! the analysis state machine (see `aviary_engine::replay`), with `{value: ...}` measurements
//! judged by the condition plugin, as the controller judges them.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use aviary_engine::replay::{Recording, load_template, render_text, replay};
use aviary_plugins::builtin::DEFAULT_CONDITION;

use super::output::{OutputFormat, print_json};
use super::plugins::PluginOptions;

/// Flags of `aviary replay`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Measurements file:\n  \
    success-rate:             # metric name: measurements in order\n  \
    - {value: [0.97]}         # judged by successCondition/failureCondition\n  \
    - {value: .nan}           # YAML NaN; or {text: NaN} (extended JSON text)\n  \
    - {phase: Error, message: connection refused}\n\n\
    or {measurements: {...}, args: {name: value}, start: 2024-05-01T10:00:00Z}\n\n\
    Examples:\n  \
    aviary replay -f analysis-template.yaml --measurements recorded.yaml\n  \
    aviary replay -f analysis-template.yaml --measurements recorded.yaml -o json")]
pub struct Args {
    /// The AnalysisTemplate, ClusterAnalysisTemplate or AnalysisRun (YAML).
    #[arg(short = 'f', long = "file", value_name = "TEMPLATE")]
    file: PathBuf,
    /// The recorded measurements (YAML).
    #[arg(long, value_name = "FILE")]
    measurements: PathBuf,
    /// The condition plugin that judges `{value: ...}` measurements.
    #[arg(long, default_value = DEFAULT_CONDITION)]
    condition: String,
    #[command(flatten)]
    plugins: PluginOptions,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    output: OutputFormat,
}

/// Runs `aviary replay`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let template_source = args.file.display().to_string();
    let text = std::fs::read_to_string(&args.file).with_context(|| format!("reading {template_source}"))?;
    let template = load_template(&text, &template_source)?;
    let rec_source = args.measurements.display().to_string();
    let rec_text = std::fs::read_to_string(&args.measurements).with_context(|| format!("reading {rec_source}"))?;
    let recording = Recording::from_yaml(&rec_text, &rec_source)?;

    let runtime = super::runtime()?;
    let host = runtime.block_on(args.plugins.host())?;
    let evaluate = |expression: &str, value: &str| -> Result<bool, String> {
        // As the controller: a condition may name its own plugin (`aviary/judge: {...}`).
        let (plugin, expression) = aviary_engine::analysis::measurement::condition_plugin(expression)
            .unwrap_or((args.condition.as_str(), expression));
        runtime.block_on(host.evaluate(plugin, expression, value)).map_err(|e| e.to_string())
    };
    let outcome = replay(&template, &recording, &evaluate);
    match args.output {
        OutputFormat::Json => print_json(&outcome)?,
        OutputFormat::Text => print!("{}", render_text(&outcome)),
    }
    Ok(ExitCode::SUCCESS)
}

//! `aviary demo [--fail] [--no-watch]`: see `crate::demo`.

use std::process::ExitCode;
use std::time::Duration;

use crate::demo::{Options, Outcome};

/// Flags of `demo`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Needs Rust and Go (the control plane is built from tests/cluster the first time, \
    ~15-20 min; seconds afterwards) and nothing else: no Docker, no existing cluster.\n\n\
    Exit status: 0 when the demo showed what it set out to (a promotion; an abort with --fail), \
    1 otherwise, 2 on timeout, 130 on Ctrl-C.\n\n\
    Examples:\n  \
    cargo run --release -p aviary-cli -- demo\n  \
    aviary demo --fail                # the analysis fails: watch the automatic abort\n  \
    aviary demo --blue-green          # preview, pre-promotion analysis, then the switch\n  \
    aviary demo --no-watch            # one line per change, for logs and CI")]
pub struct Args {
    /// Make the canary's analysis fail, so the update is aborted automatically.
    #[arg(long)]
    fail: bool,
    /// Release blue-green: the new version comes up behind a preview Service, a pre-promotion
    /// analysis runs, then the active Service switches to it.
    #[arg(long)]
    blue_green: bool,
    /// Print one line per change instead of the live view.
    #[arg(long)]
    no_watch: bool,
    /// Give up after this long.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    timeout: Duration,
}

/// Runs `aviary demo`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let options =
        Options { fail: args.fail, blue_green: args.blue_green, no_watch: args.no_watch, timeout: args.timeout };
    let outcome = super::runtime()?.block_on(crate::demo::run(options))?;
    Ok(match outcome {
        Outcome::Shown => ExitCode::SUCCESS,
        Outcome::Unexpected => ExitCode::from(1),
        Outcome::TimedOut => ExitCode::from(2),
        Outcome::Interrupted => ExitCode::from(130),
    })
}

//! `aviary`: the command line of the Aviary progressive-delivery controller.
//!
//! Offline commands (`condition eval`, `plugin run`, `plugin inspect`, `plan`, `replay`) call the
//! very same code as the controller, so what they print is what the controller would decide.
//! Their names, flags and JSON keys are a contract (see DESIGN.md, "The CLI contract").

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The Aviary command line.
#[derive(Debug, Parser)]
#[command(name = "aviary", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Evaluate success and failure conditions the way an AnalysisRun does.
    Condition(commands::condition::Args),
    /// Run, inspect and manage Wasm plugins.
    Plugin(commands::plugin::Args),
    /// Show the ReplicaSet changes the controller would make for a rollout (offline).
    Plan(commands::plan::Args),
    /// Replay recorded measurements through an AnalysisTemplate's state machine (offline).
    Replay(commands::replay::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    commands::init_logging();
    let result = match cli.command {
        Command::Condition(args) => commands::condition::run(args),
        Command::Plugin(args) => commands::plugin::run(args),
        Command::Plan(args) => commands::plan::run(args),
        Command::Replay(args) => commands::replay::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}

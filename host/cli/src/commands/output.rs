//! The `-o/--output` flag shared by every command whose output is data.

use clap::ValueEnum;
use serde::Serialize;

/// How a command prints its result: for people (`text`) or for programs (`json`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Human-readable text (the default).
    #[default]
    Text,
    /// One JSON document on stdout, with the keys of DESIGN.md's CLI contract.
    Json,
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

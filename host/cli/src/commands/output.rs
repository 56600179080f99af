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

/// `-o/--output` of the cluster commands, whose output is data as in kubectl: for people
/// (`text`), or the same data as `json` or `yaml`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum DataFormat {
    /// Human-readable text (the default).
    #[default]
    Text,
    /// One JSON document on stdout.
    Json,
    /// One YAML document on stdout.
    Yaml,
}

/// Prints `value` as JSON or YAML; `false` for `text`, which the caller renders itself.
pub fn print_data<T: Serialize>(format: DataFormat, value: &T) -> anyhow::Result<bool> {
    match format {
        DataFormat::Text => return Ok(false),
        DataFormat::Json => print_json(value)?,
        DataFormat::Yaml => print!("{}", serde_norway::to_string(value)?),
    }
    Ok(true)
}

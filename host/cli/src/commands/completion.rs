//! `aviary completion SHELL`: the shell completion script, generated from the same clap
//! definition as the commands themselves, so it never falls behind them.

use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

/// Flags of `completion`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    source <(aviary completion bash)                     # this shell\n  \
    aviary completion bash > /etc/bash_completion.d/aviary\n  \
    aviary completion zsh > \"${fpath[1]}/_aviary\"\n  \
    aviary completion fish > ~/.config/fish/completions/aviary.fish")]
pub struct Args {
    /// The shell.
    #[arg(value_enum)]
    shell: Shell,
}

/// Prints the completion script for `args.shell` on stdout.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut command = crate::Cli::command();
    clap_complete::generate(args.shell, &mut command, "aviary", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}

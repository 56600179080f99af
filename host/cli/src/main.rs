//! `aviary`: the command line of the Aviary progressive-delivery controller.
//!
//! Offline commands (`condition eval`, `plugin run`, `plugin inspect`, `plan`, `replay`) call the
//! very same code as the controller, so what they print is what the controller would decide.
//! Their names, flags and JSON keys are a contract (see DESIGN.md, "The CLI contract").

mod commands;
mod demo;
mod render;
mod yamlpos;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The Aviary command line.
#[derive(Debug, Parser)]
#[command(
    name = "aviary",
    version,
    about,
    propagate_version = true,
    after_help = "Examples:\n  \
    aviary demo                                   # the whole product on this machine\n  \
    aviary controller --kubeconfig ~/.kube/config # the controller itself (aviary-controller's flags)\n  \
    aviary get rollout guestbook -n shop --watch  # the live view of a rollout\n  \
    aviary promote guestbook\n  \
    aviary lint -f rollout.yaml\n\n\
    Installed as `kubectl-aviary` on PATH, it also runs as `kubectl aviary ...`."
)]
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
    /// Show a rollout or an experiment as a tree (revisions, ReplicaSets, pods, analysis), once or live.
    Get(commands::get::Args),
    /// List rollouts or experiments.
    List(commands::list::Args),
    /// Promote a paused rollout to its next step, or fully with --full.
    Promote(commands::ops::PromoteArgs),
    /// Abort an update: the stable version takes all traffic back.
    Abort(commands::ops::AbortArgs),
    /// Retry an aborted rollout or a failed experiment.
    Retry(commands::ops::RetryArgs),
    /// Terminate a running AnalysisRun or Experiment.
    Terminate(commands::ops::TerminateArgs),
    /// Roll back to a previous revision's pod template.
    Undo(commands::ops::UndoArgs),
    /// Pause a rollout (resume it with `promote`).
    Pause(commands::ops::PauseArgs),
    /// Restart the pods of a rollout.
    Restart(commands::ops::RestartArgs),
    /// Change a rollout (`set image`).
    Set(commands::ops::SetArgs),
    /// Wait for a rollout to finish; exit 0 Healthy, 1 Degraded, 2 timed out.
    Status(commands::status::Args),
    /// Check manifests against the CRD schemas and Argo's validation, every error with its line.
    Lint(commands::lint::Args),
    /// Print a shell completion script.
    Completion(commands::completion::Args),
    /// Serve a web dashboard on localhost: rollouts, their trees, analysis charts and plugins, with the actions.
    Dashboard(commands::dashboard::Args),
    /// Run the whole product on this machine: a cluster, the controller and a canary to watch.
    Demo(commands::demo::Args),
}

fn main() -> ExitCode {
    // `aviary controller [flags]` is `aviary-controller [flags]`, run in this process: the demo
    // runs it so, and an operator may too. Its flags are the controller's own (Argo's included),
    // so it is dispatched before this CLI's parser sees them.
    let mut argv = std::env::args_os();
    if argv.nth(1).is_some_and(|a| a == "controller") {
        let program = std::iter::once(std::ffi::OsString::from("aviary controller"));
        return match aviary_controller::cli::main(program.chain(argv)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("Error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    quiet_on_broken_pipe();
    let cli = Cli::parse();
    commands::init_logging();
    let result = match cli.command {
        Command::Condition(args) => commands::condition::run(args),
        Command::Dashboard(args) => commands::dashboard::run(args),
        Command::Plugin(args) => commands::plugin::run(args),
        Command::Plan(args) => commands::plan::run(args),
        Command::Replay(args) => commands::replay::run(args),
        Command::Get(args) => commands::get::run(args),
        Command::List(args) => commands::list::run(args),
        Command::Promote(args) => commands::ops::promote(args),
        Command::Abort(args) => commands::ops::abort(args),
        Command::Retry(args) => commands::ops::retry(args),
        Command::Terminate(args) => commands::ops::terminate(args),
        Command::Undo(args) => commands::ops::undo(args),
        Command::Pause(args) => commands::ops::pause(args),
        Command::Restart(args) => commands::ops::restart(args),
        Command::Set(args) => commands::ops::set(args),
        Command::Status(args) => commands::status::run(args),
        Command::Lint(args) => commands::lint::run(args),
        Command::Completion(args) => commands::completion::run(args),
        Command::Demo(args) => commands::demo::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", report(&err));
            ExitCode::from(1)
        }
    }
}

/// The error with its causes, as `{:#}` joins them, but without a cause whose text the message
/// already holds: the libraries' typed errors keep their cause as `source()` and also say it in
/// their own message (so that a log line or a condition message is whole on its own), which
/// `{:#}` would print twice.
fn report(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// `aviary ... | head` closes stdout before the command is done: end quietly with the status a
/// shell reports for a process stopped by SIGPIPE (141), as other command-line tools do, instead of
/// panicking with a backtrace (Rust ignores SIGPIPE, so `println!` meets the closed pipe as an
/// error and panics).
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message =
            payload.downcast_ref::<String>().map(String::as_str).or_else(|| payload.downcast_ref::<&str>().copied());
        if message.is_some_and(|m| m.starts_with("failed printing to stdout") && m.contains("Broken pipe")) {
            std::process::exit(141);
        }
        default(info);
    }));
}

#[cfg(test)]
mod tests {
    use anyhow::Context;

    #[test]
    fn a_report_says_each_cause_once() {
        // A typed error that says its cause and keeps it as its source.
        let err = aviary_plugins::capability::AllowedHosts::parse(&["a b"]).context("--allow-host").unwrap_err();
        assert_eq!(err.chain().count(), 3);
        assert_eq!(super::report(&err), "--allow-host: allowedHosts entry \"a b\": invalid domain character");
        // Context over an error that does not repeat its source: every layer is said.
        let err = Err::<(), _>(std::io::Error::other("gone")).context("cannot read x").unwrap_err();
        assert_eq!(super::report(&err), "cannot read x: gone");
    }
}

//! `aviary get rollout NAME [--watch [--until healthy|degraded|paused]]`: the tree users know
//! from `kubectl argo rollouts get rollout`, with what the rollout waits for and each metric's
//! latest measurements; `aviary get experiment NAME [--watch]`: the experiment's status, images
//! and its tree of ReplicaSets, pods and AnalysisRuns, as `kubectl argo rollouts get experiment`
//! prints them.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Subcommand, ValueEnum};

use super::follow::{Ended, Flow, fetch, fetch_experiment, follow, follow_experiment};
use super::kubeargs::{Connection, KubeArgs};
use super::output::{DataFormat, print_data};
use crate::render::info::{experiment_view, rollout_info};
use crate::render::screen::Screen;
use crate::render::tree::{Style, render, render_experiment};
use crate::render::{stdout_color, stdout_width};

/// `aviary get ...`
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: GetCommand,
    #[command(flatten)]
    kube: KubeArgs,
}

#[derive(Debug, Subcommand)]
enum GetCommand {
    /// Show a rollout: status, step, weights, and its revisions, ReplicaSets, pods and analysis.
    #[command(
        visible_aliases = ["ro", "rollouts"],
        after_help = "Examples:\n  \
        aviary get rollout guestbook\n  \
        aviary get rollout guestbook --watch\n  \
        aviary get rollout guestbook -w --until healthy --timeout 10m\n  \
        aviary get rollout guestbook -n prod -o yaml"
    )]
    Rollout(RolloutArgs),
    /// Show an experiment: status, images, and its ReplicaSets (one per template), pods and
    /// AnalysisRuns.
    #[command(
        visible_aliases = ["exp", "experiments"],
        after_help = "Examples:\n  \
        aviary get experiment my-experiment\n  \
        aviary get experiment my-experiment --watch\n  \
        aviary get experiment my-experiment -o json\n\n\
        Tree view icons: Σ Experiment, ⧉ ReplicaSet, □ Pod, α AnalysisRun, ⊞ Job."
    )]
    Experiment(ExperimentArgs),
}

/// When `--watch` ends by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Until {
    /// The rollout is Healthy.
    Healthy,
    /// The rollout is Degraded.
    Degraded,
    /// The rollout is Paused.
    Paused,
}

impl Until {
    fn status(self) -> &'static str {
        match self {
            Until::Healthy => "Healthy",
            Until::Degraded => "Degraded",
            Until::Paused => "Paused",
        }
    }
}

/// Flags of `get rollout`.
#[derive(Debug, clap::Args)]
pub struct RolloutArgs {
    /// The rollout.
    name: String,
    /// Keep the view up to date, redrawn in place, until Ctrl-C (or `--until`).
    #[arg(short = 'w', long)]
    watch: bool,
    /// With --watch: stop once the rollout reaches this status.
    #[arg(long, value_enum, requires = "watch")]
    until: Option<Until>,
    /// With --watch: stop after this long (e.g. 30s, 10m); exit code 2.
    #[arg(long, value_parser = humantime::parse_duration, requires = "watch")]
    timeout: Option<Duration>,
    /// Do not colour the output (colour is only used on a terminal anyway).
    #[arg(long)]
    no_color: bool,
    /// Output format: the view as text, or its data as json or yaml.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    output: DataFormat,
}

/// Flags of `get experiment`.
#[derive(Debug, clap::Args)]
pub struct ExperimentArgs {
    /// The experiment.
    name: String,
    /// Keep the view up to date, redrawn in place, until Ctrl-C.
    #[arg(short = 'w', long)]
    watch: bool,
    /// With --watch: stop after this long (e.g. 30s, 10m); exit code 2.
    #[arg(long, value_parser = humantime::parse_duration, requires = "watch")]
    timeout: Option<Duration>,
    /// Do not colour the output (colour is only used on a terminal anyway).
    #[arg(long)]
    no_color: bool,
    /// Output format: the view as text, or its data as json or yaml.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    output: DataFormat,
}

/// Runs `aviary get ...`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let ro = match args.command {
        GetCommand::Rollout(ro) => ro,
        GetCommand::Experiment(exp) => return get_experiment(&args.kube, exp),
    };
    super::runtime()?.block_on(async move {
        let conn = args.kube.connect().await?;
        let style = Style { width: stdout_width(), color: stdout_color() && !ro.no_color };
        if !ro.watch {
            let info = rollout_info(&fetch(&conn, &ro.name).await?, chrono::Utc::now());
            if !print_data(ro.output, &info)? {
                print!("{}", render(&info, style));
            }
            return Ok(ExitCode::SUCCESS);
        }
        let mut screen = Screen::new();
        let mut last = None;
        let ended = follow(&conn, &ro.name, ro.timeout, |objects| {
            let info = rollout_info(objects, chrono::Utc::now());
            match ro.output {
                DataFormat::Text => {
                    let style = Style { width: stdout_width(), ..style };
                    let key = if screen.is_live() { String::new() } else { render(&info.without_ages(), style) };
                    screen.draw_keyed(&render(&info, style), &key)?;
                }
                _ if last.as_ref() != Some(&info.without_ages()) => {
                    print_data(ro.output, &info)?;
                }
                _ => {}
            }
            let done = ro.until.is_some_and(|u| u.status() == info.status);
            last = Some(info.without_ages());
            Ok(if done { Flow::Stop } else { Flow::Continue })
        })
        .await?;
        screen.finish();
        Ok(match ended {
            Ended::Stopped | Ended::Interrupted => ExitCode::SUCCESS,
            Ended::TimedOut => ExitCode::from(2),
        })
    })
}

/// Runs `aviary get experiment`: once, or redrawn as in `get rollout --watch`.
fn get_experiment(kube: &KubeArgs, exp: ExperimentArgs) -> anyhow::Result<ExitCode> {
    super::runtime()?.block_on(async move {
        let conn: Connection = kube.connect().await?;
        let style = Style { width: stdout_width(), color: stdout_color() && !exp.no_color };
        if !exp.watch {
            let info = experiment_view(&fetch_experiment(&conn, &exp.name).await?, chrono::Utc::now());
            if !print_data(exp.output, &info)? {
                print!("{}", render_experiment(&info, style));
            }
            return Ok(ExitCode::SUCCESS);
        }
        let mut screen = Screen::new();
        let mut last = None;
        let ended = follow_experiment(&conn, &exp.name, exp.timeout, |objects| {
            let info = experiment_view(objects, chrono::Utc::now());
            match exp.output {
                DataFormat::Text => {
                    let style = Style { width: stdout_width(), ..style };
                    let key =
                        if screen.is_live() { String::new() } else { render_experiment(&info.without_ages(), style) };
                    screen.draw_keyed(&render_experiment(&info, style), &key)?;
                }
                _ if last.as_ref() != Some(&info.without_ages()) => {
                    print_data(exp.output, &info)?;
                }
                _ => {}
            }
            last = Some(info.without_ages());
            Ok(Flow::Continue)
        })
        .await?;
        screen.finish();
        Ok(match ended {
            Ended::Stopped | Ended::Interrupted => ExitCode::SUCCESS,
            Ended::TimedOut => ExitCode::from(2),
        })
    })
}

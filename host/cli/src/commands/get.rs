//! `aviary get rollout NAME [--watch [--until healthy|degraded|paused]]`: the tree users know
//! from `kubectl argo rollouts get rollout`, with what the rollout waits for and each metric's
//! latest measurements.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Subcommand, ValueEnum};

use super::follow::{Ended, Flow, fetch, follow};
use super::kubeargs::KubeArgs;
use super::output::{DataFormat, print_data};
use crate::render::info::rollout_info;
use crate::render::screen::Screen;
use crate::render::tree::{Style, render};
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

/// Runs `aviary get ...`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let GetCommand::Rollout(ro) = args.command;
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

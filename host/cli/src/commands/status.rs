//! `aviary status NAME`: waits for the rollout to finish, printing each change of its status,
//! and says how it ended in the exit code (0 Healthy, 1 Degraded, 2 timed out), so a deploy
//! script can simply run it after `set image`.

use std::process::ExitCode;
use std::time::Duration;

use super::follow::{Ended, Flow, fetch, follow};
use super::kubeargs::KubeArgs;
use crate::render::info::rollout_info;

/// Exit code of a Degraded rollout.
pub const EXIT_DEGRADED: u8 = 1;
/// Exit code when the timeout passed first.
pub const EXIT_TIMED_OUT: u8 = 2;

/// Flags of `status`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Exit status: 0 Healthy, 1 Degraded (or an error), 2 timed out.\n\n\
    Examples:\n  \
    aviary set image guestbook app=nginx:1.27 && aviary status guestbook --timeout 10m\n  \
    aviary status guestbook --watch=false     # print the status once")]
pub struct Args {
    /// The rollout.
    name: String,
    /// Wait until the rollout is Healthy or Degraded; `--watch=false` prints the status once.
    #[arg(short = 'w', long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", require_equals = true)]
    watch: bool,
    /// Give up after this long (e.g. 30s, 10m); exit code 2. Default: wait forever.
    #[arg(short = 't', long, value_parser = humantime::parse_duration)]
    timeout: Option<Duration>,
    #[command(flatten)]
    kube: KubeArgs,
}

fn line(status: &str, message: &str) -> String {
    if message.is_empty() { status.to_string() } else { format!("{status} - {message}") }
}

fn code_of(status: &str) -> Option<ExitCode> {
    match status {
        "Healthy" => Some(ExitCode::SUCCESS),
        "Degraded" => Some(ExitCode::from(EXIT_DEGRADED)),
        _ => None,
    }
}

/// Runs `aviary status`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    super::runtime()?.block_on(async move {
        let conn = args.kube.connect().await?;
        if !args.watch {
            let info = rollout_info(&fetch(&conn, &args.name).await?, chrono::Utc::now());
            println!("{}", line(&info.status, &info.message));
            return Ok(code_of(&info.status).unwrap_or(ExitCode::SUCCESS));
        }
        let mut last = String::new();
        let mut result = ExitCode::SUCCESS;
        let ended = follow(&conn, &args.name, args.timeout, |objects| {
            let info = rollout_info(objects, chrono::Utc::now());
            let now = line(&info.status, &info.message);
            if now != last {
                println!("{now}");
                last = now;
            }
            Ok(match code_of(&info.status) {
                Some(code) => {
                    result = code;
                    Flow::Stop
                }
                None => Flow::Continue,
            })
        })
        .await?;
        Ok(match ended {
            Ended::Stopped => result,
            Ended::TimedOut => {
                eprintln!("timed out waiting for rollout {:?} ({last})", args.name);
                ExitCode::from(EXIT_TIMED_OUT)
            }
            Ended::Interrupted => ExitCode::from(130),
        })
    })
}

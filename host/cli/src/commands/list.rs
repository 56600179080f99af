//! `aviary list rollouts [-A]`: one line per rollout, with the columns of `kubectl argo rollouts
//! list rollouts` (NAME STRATEGY STATUS STEP SET-WEIGHT READY DESIRED UP-TO-DATE AVAILABLE).

use std::process::ExitCode;

use aviary_api::Rollout;
use aviary_engine::phase::observed_phase;
use aviary_engine::weight::{current_set_weight, status};
use clap::Subcommand;
use kube::Api;
use kube::api::ListParams;
use serde::Serialize;

use super::kubeargs::KubeArgs;
use super::output::{DataFormat, print_data};

/// `aviary list ...`
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: ListCommand,
    #[command(flatten)]
    kube: KubeArgs,
}

#[derive(Debug, Subcommand)]
enum ListCommand {
    /// List rollouts with their status, step and weight.
    #[command(
        visible_aliases = ["rollout", "ro"],
        after_help = "Examples:\n  aviary list rollouts\n  aviary list rollouts -A -o json"
    )]
    Rollouts(RolloutsArgs),
}

/// Flags of `list rollouts`.
#[derive(Debug, clap::Args)]
pub struct RolloutsArgs {
    /// List the rollouts of every namespace.
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    output: DataFormat,
}

/// One row of the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    namespace: String,
    name: String,
    strategy: String,
    status: String,
    step: String,
    set_weight: String,
    ready: String,
    desired: i32,
    up_to_date: i32,
    available: i32,
}

/// The row of one rollout (Argo's `newRolloutInfo`).
pub fn row(ro: &Rollout) -> Row {
    let st = status(ro);
    let (strategy, step, set_weight) = match ro.spec.canary() {
        Some(c) => {
            let step = match st.current_step_index {
                Some(i) if !c.steps.is_empty() => format!("{i}/{}", c.steps.len()),
                _ => "-".to_string(),
            };
            ("Canary", step, current_set_weight(ro).to_string())
        }
        None if ro.spec.blue_green().is_some() => ("BlueGreen", "-".to_string(), "-".to_string()),
        None => ("unknown", "-".to_string(), "-".to_string()),
    };
    Row {
        namespace: ro.metadata.namespace.clone().unwrap_or_default(),
        name: ro.metadata.name.clone().unwrap_or_default(),
        strategy: strategy.to_string(),
        status: observed_phase(ro, None).phase.as_str().to_string(),
        step,
        set_weight,
        ready: format!("{}/{}", st.ready_replicas, st.replicas),
        desired: ro.spec.replicas_or_default(),
        up_to_date: st.updated_replicas,
        available: st.available_replicas,
    }
}

/// The table, columns aligned, two blanks apart.
pub fn render(rows: &[Row], with_namespace: bool) -> String {
    let mut table: Vec<Vec<String>> = vec![
        [
            "NAMESPACE",
            "NAME",
            "STRATEGY",
            "STATUS",
            "STEP",
            "SET-WEIGHT",
            "READY",
            "DESIRED",
            "UP-TO-DATE",
            "AVAILABLE",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for r in rows {
        table.push(vec![
            r.namespace.clone(),
            r.name.clone(),
            r.strategy.clone(),
            r.status.clone(),
            r.step.clone(),
            r.set_weight.clone(),
            r.ready.clone(),
            r.desired.to_string(),
            r.up_to_date.to_string(),
            r.available.to_string(),
        ]);
    }
    let skip = usize::from(!with_namespace);
    let columns = table[0].len();
    let widths: Vec<usize> =
        (0..columns).map(|c| table.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for r in &table {
        let cells: Vec<String> = (skip..columns).map(|c| format!("{:<w$}", r[c], w = widths[c])).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Runs `aviary list ...`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let ListCommand::Rollouts(list) = args.command;
    super::runtime()?.block_on(async move {
        let conn = args.kube.connect().await?;
        let api: Api<Rollout> = if list.all_namespaces {
            Api::all(conn.client.clone())
        } else {
            Api::namespaced(conn.client.clone(), &conn.namespace)
        };
        let mut rollouts = api.list(&ListParams::default()).await?.items;
        rollouts.sort_by_key(|r| (r.metadata.namespace.clone(), r.metadata.name.clone()));
        let rows: Vec<Row> = rollouts.iter().map(row).collect();
        if !print_data(list.output, &rows)? {
            if rows.is_empty() {
                eprintln!("No resources found.");
            } else {
                print!("{}", render(&rows, list.all_namespaces));
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

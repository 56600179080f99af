//! `aviary list rollouts [-A]`: one line per rollout, with the columns of `kubectl argo rollouts
//! list rollouts` (NAME STRATEGY STATUS STEP SET-WEIGHT READY DESIRED UP-TO-DATE AVAILABLE).
//! `aviary list experiments [-A]`: one line per experiment, laid out exactly as `kubectl argo
//! rollouts list experiments` lays it out (NAME STATUS DURATION REMAINING AGE).

use std::process::ExitCode;

use aviary_api::duration::parse_go_duration_chrono;
use aviary_api::{Experiment, Rollout};
use aviary_engine::phase::observed_phase;
use aviary_engine::weight::{current_set_weight, status};
use chrono::{DateTime, Utc};
use clap::Subcommand;
use kube::Api;
use kube::api::ListParams;
use serde::Serialize;

use super::kubeargs::KubeArgs;
use super::output::{DataFormat, print_data};
use crate::render::info::human_duration;

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
    /// List experiments with their status, duration, time remaining and age.
    #[command(
        visible_aliases = ["experiment", "exp"],
        after_help = "Examples:\n  aviary list experiments\n  aviary list experiments -A -o json"
    )]
    Experiments(RolloutsArgs),
}

/// Flags of `list rollouts` and `list experiments`.
#[derive(Debug, clap::Args)]
pub struct RolloutsArgs {
    /// List those of every namespace.
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

/// One row of `list experiments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExperimentRow {
    /// The experiment's namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its phase; empty before the controller wrote one.
    pub status: String,
    /// spec.duration as a human duration; `-` when it has none (or not a valid one).
    pub duration: String,
    /// Time left once every template is available and until the duration has passed; `-`
    /// otherwise, and once the experiment completed.
    pub remaining: String,
    /// Age.
    pub age: String,
}

/// The row of one experiment at `now` (Argo's `PrintExperimentTable`).
pub fn experiment_row(exp: &Experiment, now: DateTime<Utc>) -> ExperimentRow {
    let st = exp.status.clone().unwrap_or_default();
    let phase = st.phase;
    let (mut duration, mut remaining) = ("-".to_string(), "-".to_string());
    if !exp.spec.duration.is_empty()
        && let Ok(d) = parse_go_duration_chrono(&exp.spec.duration)
    {
        duration = human_duration(d);
        let running = !phase.is_some_and(|p| p.is_completed());
        if let Some(available) = st.available_at.filter(|_| running) {
            let left = available.0 + d - now;
            if left > chrono::Duration::zero() {
                remaining = human_duration(left);
            }
        }
    }
    let created = exp.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let age = created
        .and_then(|t| DateTime::from_timestamp(t.as_second(), t.subsec_nanosecond().max(0) as u32))
        .map_or_else(|| human_duration(chrono::Duration::zero()), |t| human_duration(now - t));
    ExperimentRow {
        namespace: exp.metadata.namespace.clone().unwrap_or_default(),
        name: exp.metadata.name.clone().unwrap_or_default(),
        status: phase.map(|p| p.as_str().to_string()).unwrap_or_default(),
        duration,
        remaining,
        age,
    }
}

/// The experiments table, byte for byte as Argo prints it but for trailing blanks: Argo pads each
/// cell to a least width (`%-10s` for NAME, `%-6s` STATUS, `%-8s` DURATION, `%-9s` REMAINING,
/// `%-9s` NAMESPACE) and then aligns the columns two blanks apart with a tabwriter, so a column
/// is as wide as its widest cell or its least width, whichever is more; the header is not padded.
pub fn render_experiments(rows: &[ExperimentRow], with_namespace: bool) -> String {
    let mut table: Vec<Vec<String>> =
        vec![["NAMESPACE", "NAME", "STATUS", "DURATION", "REMAINING", "AGE"].map(String::from).to_vec()];
    let least = [9, 10, 6, 8, 9, 3];
    for r in rows {
        let cells = [&r.namespace, &r.name, &r.status, &r.duration, &r.remaining, &r.age];
        table.push(cells.iter().zip(least).map(|(c, w)| format!("{c:<w$}")).collect());
    }
    let skip = usize::from(!with_namespace);
    let columns = table[0].len();
    // The last cell of a line is not a column of the tabwriter: it is printed as it is.
    let widths: Vec<usize> =
        (0..columns - 1).map(|c| table.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for r in &table {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate().skip(skip) {
            match widths.get(c) {
                Some(w) => line.push_str(&format!("{cell:<w$}  ")),
                None => line.push_str(cell),
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Runs `aviary list ...`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        ListCommand::Rollouts(list) => list_rollouts(&args.kube, list),
        ListCommand::Experiments(list) => list_experiments(&args.kube, list),
    }
}

fn list_experiments(kube: &KubeArgs, list: RolloutsArgs) -> anyhow::Result<ExitCode> {
    super::runtime()?.block_on(async move {
        let conn = kube.connect().await?;
        let api: Api<Experiment> = if list.all_namespaces {
            Api::all(conn.client.clone())
        } else {
            Api::namespaced(conn.client.clone(), &conn.namespace)
        };
        let mut experiments = api.list(&ListParams::default()).await?.items;
        experiments.sort_by_key(|e| (e.metadata.namespace.clone(), e.metadata.name.clone()));
        let now = Utc::now();
        let rows: Vec<ExperimentRow> = experiments.iter().map(|e| experiment_row(e, now)).collect();
        if !print_data(list.output, &rows)? {
            if rows.is_empty() {
                eprintln!("No resources found.");
            } else {
                print!("{}", render_experiments(&rows, list.all_namespaces));
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn list_rollouts(kube: &KubeArgs, list: RolloutsArgs) -> anyhow::Result<ExitCode> {
    super::runtime()?.block_on(async move {
        let conn = kube.connect().await?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-01T12:10:00Z").unwrap().with_timezone(&Utc)
    }

    fn experiment(name: &str, phase: Option<&str>, duration: &str, available_at: Option<&str>) -> Experiment {
        let mut status = json!({});
        if let Some(p) = phase {
            status["phase"] = json!(p);
        }
        if let Some(a) = available_at {
            status["availableAt"] = json!(a);
        }
        serde_json::from_value(json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Experiment",
            "metadata": {"name": name, "namespace": "shop", "creationTimestamp": "2026-03-01T12:00:00Z"},
            "spec": {"duration": duration, "templates": []},
            "status": status
        }))
        .unwrap()
    }

    #[test]
    fn remaining_time_counts_from_available_at_while_the_experiment_runs() {
        let row = experiment_row(&experiment("a", Some("Running"), "1h", Some("2026-03-01T12:05:00Z")), now());
        assert_eq!(
            (row.status.as_str(), row.duration.as_str(), row.remaining.as_str(), row.age.as_str()),
            ("Running", "60m", "55m", "10m")
        );
        // Not yet available, completed, past its duration, without a duration, or with one that
        // is not a Go duration: no time remaining.
        for (phase, duration, available) in [
            (Some("Running"), "1h", None),
            (Some("Successful"), "1h", Some("2026-03-01T12:05:00Z")),
            (Some("Running"), "1m", Some("2026-03-01T12:05:00Z")),
        ] {
            assert_eq!(experiment_row(&experiment("a", phase, duration, available), now()).remaining, "-");
        }
        let row = experiment_row(&experiment("a", None, "", None), now());
        assert_eq!((row.status.as_str(), row.duration.as_str(), row.remaining.as_str()), ("", "-", "-"));
        assert_eq!(experiment_row(&experiment("a", None, "5 minutes", None), now()).duration, "-");
    }

    #[test]
    fn the_experiments_table_has_argos_least_column_widths() {
        let rows = vec![
            experiment_row(&experiment("a", Some("Running"), "1h", Some("2026-03-01T12:05:00Z")), now()),
            experiment_row(&experiment("an-experiment-name", None, "", None), now()),
        ];
        // Argo: "%-10s\t%-6s\t%-8s\t%-9s\t%-3s\n" through a tabwriter with padding 2.
        assert_eq!(
            render_experiments(&rows, false),
            "\
NAME                STATUS   DURATION  REMAINING  AGE
a                   Running  60m       55m        10m
an-experiment-name           -         -          10m
"
        );
        let short = vec![experiment_row(&experiment("a", Some("Error"), "", None), now())];
        assert_eq!(
            render_experiments(&short, true),
            "\
NAMESPACE  NAME        STATUS  DURATION  REMAINING  AGE
shop       a           Error   -         -          10m
"
        );
    }
}

//! `get rollout` and `get experiment` as text: the summary block and the tree of revisions,
//! ReplicaSets, pods, Experiments, AnalysisRuns and their metrics, laid out as Argo's CLI lays
//! them out (same icons, same columns: NAME KIND STATUS AGE INFO).
//!
//! Every line is cut to the terminal's width: a wrapped line would push the frame down and break
//! the in-place redraw of `--watch`. Colours are applied after the layout is computed, so they
//! never change a column's width.

use crossterm::style::{Color, Stylize};

use super::info::{AnalysisRunInfo, ExperimentInfo, ImageInfo, MetricInfo, ReplicaSetInfo, RolloutInfo};

/// How to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Cut lines to this many characters (the terminal's width).
    pub width: Option<usize>,
    /// Emit ANSI colours.
    pub color: bool,
}

const ICON_ROLLOUT: &str = "⟳";
const ICON_REVISION: &str = "#";
const ICON_REPLICA_SET: &str = "⧉";
const ICON_POD: &str = "□";
const ICON_EXPERIMENT: &str = "Σ";
const ICON_ANALYSIS: &str = "α";
const ICON_METRIC: &str = "⊙";
const ICON_JOB: &str = "⊞";

/// The icon of a status word (Argo's `info` package).
pub fn status_icon(status: &str) -> &'static str {
    match status {
        "Progressing" | "Pending" | "Running" | "Terminating" | "ContainerCreating" => "◌",
        "Healthy" | "Successful" | "Completed" => "✔",
        "Degraded" | "Failed" | "ReplicaFailure" | "CrashLoopBackOff" | "InvalidImageName" => "✖",
        "Paused" => "॥",
        "Error" | "InvalidSpec" | "ImagePullBackOff" | "ErrImagePull" => "⚠",
        "Inconclusive" | "Unknown" => "?",
        "ScaledDown" => "•",
        _ => " ",
    }
}

/// The icon of an AnalysisRun's, a Job's or an Experiment's phase (Argo's `analysisIcon`):
/// unlike a rollout, a Pending run has not started yet, so it waits (◷) rather than progresses.
pub fn analysis_icon(phase: &str) -> &'static str {
    match phase {
        "Successful" => "✔",
        "Inconclusive" => "?",
        "Failed" => "✖",
        "Error" => "⚠",
        "Running" => "◌",
        "Pending" => "◷",
        _ => " ",
    }
}

fn icon_color(icon: &str) -> Option<Color> {
    match icon {
        "◌" => Some(Color::Blue),
        "◷" => Some(Color::Yellow),
        "✔" => Some(Color::Green),
        "✖" | "⚠" => Some(Color::Red),
        "?" => Some(Color::Yellow),
        _ => None,
    }
}

fn tag_color(tag: &str) -> Option<Color> {
    match tag {
        "canary" => Some(Color::Yellow),
        "stable" | "active" => Some(Color::Green),
        "preview" => Some(Color::Cyan),
        "ping" | "pong" => Some(Color::Blue),
        _ => None,
    }
}

/// A piece of a line with an optional colour.
#[derive(Debug, Clone)]
struct Span {
    text: String,
    color: Option<Color>,
}

fn plain(text: impl Into<String>) -> Span {
    Span { text: text.into(), color: None }
}

fn colored(text: impl Into<String>, color: Option<Color>) -> Span {
    Span { text: text.into(), color }
}

type Line = Vec<Span>;

/// A status cell: the coloured icon, then the word.
fn status_cell(status: &str) -> Line {
    icon_cell(status_icon(status), status)
}

fn icon_cell(icon: &'static str, status: &str) -> Line {
    vec![colored(icon, icon_color(icon)), plain(format!(" {status}"))]
}

/// A pod's icon: a running pod is fine (✔), unlike a running analysis (◌); waiting reasons
/// ending in `Error` or starting with `Err` are warnings (Argo's `podIcon`).
pub fn pod_icon(status: &str) -> &'static str {
    match status {
        "Running" | "Completed" => "✔",
        s if s.starts_with("Init:") => "◌",
        s if s.starts_with("Signal:") || s.starts_with("ExitCode:") => "✖",
        s if s.ends_with("Error") || s.starts_with("Err") => "⚠",
        s => status_icon(s),
    }
}

fn width_of(line: &Line) -> usize {
    line.iter().map(|s| s.text.chars().count()).sum()
}

/// Renders the whole view; each line ends with `\n`.
pub fn render(info: &RolloutInfo, style: Style) -> String {
    let mut lines: Vec<Line> = summary(info);
    lines.push(Vec::new());
    lines.extend(table(tree_rows(info)));
    finish_all(lines, style)
}

/// Renders `get experiment` (Argo's `PrintExperiment`): name, namespace, status, message and
/// images, then the tree of the experiment's ReplicaSets, pods and AnalysisRuns.
pub fn render_experiment(info: &ExperimentInfo, style: Style) -> String {
    let mut lines = vec![
        field("Name:", vec![plain(&info.name)]),
        field("Namespace:", vec![plain(&info.namespace)]),
        field("Status:", icon_cell(analysis_icon(&info.status), &info.status)),
    ];
    if !info.message.is_empty() {
        lines.push(field("Message:", vec![plain(&info.message)]));
    }
    image_lines(&mut lines, &info.images);
    lines.push(Vec::new());
    let mut rows = Vec::new();
    experiment_rows(&mut rows, info, "", "");
    lines.extend(table(rows));
    finish_all(lines, style)
}

fn finish_all(lines: Vec<Line>, style: Style) -> String {
    let mut out = String::new();
    for line in lines {
        out.push_str(&finish(line, style));
        out.push('\n');
    }
    out
}

/// Cuts a line to the width (with `…`) and paints it.
fn finish(line: Line, style: Style) -> String {
    let mut budget = style.width.unwrap_or(usize::MAX);
    let total = width_of(&line);
    let cut = total > budget;
    if cut {
        budget = budget.saturating_sub(1);
    }
    let mut out = String::new();
    for span in line {
        if budget == 0 {
            break;
        }
        let text: String = span.text.chars().take(budget).collect();
        budget -= text.chars().count();
        match span.color {
            Some(c) if style.color => out.push_str(&text.with(c).to_string()),
            _ => out.push_str(&text),
        }
    }
    if cut {
        out.push('…');
    }
    // Trailing blanks are padding, never content.
    out.truncate(out.trim_end().len());
    out
}

fn field(label: &str, value: Line) -> Line {
    let mut line = vec![plain(format!("{label:<17}"))];
    line.extend(value);
    line
}

fn summary(info: &RolloutInfo) -> Vec<Line> {
    let mut lines = vec![
        field("Name:", vec![plain(&info.name)]),
        field("Namespace:", vec![plain(&info.namespace)]),
        field("Status:", status_cell(&info.status)),
    ];
    if !info.message.is_empty() {
        lines.push(field("Message:", vec![plain(&info.message)]));
    }
    if let Some(w) = &info.waiting_for {
        lines.push(field("Waiting for:", vec![plain(w)]));
    }
    lines.push(field("Strategy:", vec![plain(&info.strategy)]));
    if info.strategy == "Canary" {
        lines.push(field("  Step:", vec![plain(info.step.clone().unwrap_or_default())]));
        lines.push(field("  SetWeight:", vec![plain(info.set_weight.unwrap_or(0).to_string())]));
        lines.push(field("  ActualWeight:", vec![plain(info.actual_weight.unwrap_or(0).to_string())]));
    }
    image_lines(&mut lines, &info.images);
    lines.push(vec![plain("Replicas:")]);
    let r = info.replicas;
    for (label, n) in
        [("  Desired:", r.desired), ("  Current:", r.current), ("  Updated:", r.updated), ("  Ready:", r.ready)]
    {
        lines.push(field(label, vec![plain(n.to_string())]));
    }
    lines.push(field("  Available:", vec![plain(r.available.to_string())]));
    lines
}

/// `Images:` and one image a line, each with its tags (Argo's `formatImage`).
fn image_lines(lines: &mut Vec<Line>, images: &[ImageInfo]) {
    for (i, image) in images.iter().enumerate() {
        let mut value = vec![plain(&image.image)];
        if !image.tags.is_empty() {
            value.push(plain(" ("));
            for (j, tag) in image.tags.iter().enumerate() {
                if j > 0 {
                    value.push(plain(", "));
                }
                value.push(colored(tag, tag_color(tag)));
            }
            value.push(plain(")"));
        }
        lines.push(field(if i == 0 { "Images:" } else { "" }, value));
    }
}

/// One row of the tree table: NAME (with the tree prefix), KIND, STATUS, AGE, INFO.
struct Row {
    name: Line,
    kind: &'static str,
    status: Line,
    age: String,
    info: Line,
}

/// Argo's tree prefixes: `├──` and `│  ` for all but the last child, `└──` and `   ` for it.
fn prefixes(is_last: bool, parent: &str) -> (String, String) {
    if is_last {
        (format!("{parent}└──"), format!("{parent}   "))
    } else {
        (format!("{parent}├──"), format!("{parent}│  "))
    }
}

fn tree_rows(info: &RolloutInfo) -> Vec<Row> {
    let mut rows = vec![Row {
        name: vec![plain(format!("{ICON_ROLLOUT} {}", info.name))],
        kind: "Rollout",
        status: status_cell(&info.status),
        age: info.age.clone(),
        info: Vec::new(),
    }];
    for (i, rev) in info.revisions.iter().enumerate() {
        let (prefix, sub) = prefixes(i + 1 == info.revisions.len(), "");
        rows.push(Row {
            name: vec![plain(format!("{prefix}{ICON_REVISION} revision:{}", rev.revision))],
            kind: "",
            status: Vec::new(),
            age: String::new(),
            info: Vec::new(),
        });
        // Argo's `PrintRevision`: ReplicaSets, then experiments, then AnalysisRuns.
        let total = rev.replica_sets.len() + rev.experiments.len() + rev.analysis_runs.len();
        let mut n = 0;
        for rs in &rev.replica_sets {
            n += 1;
            let (p, s) = prefixes(n == total, &sub);
            replica_set_rows(&mut rows, rs, &p, &s);
        }
        for exp in &rev.experiments {
            n += 1;
            let (p, s) = prefixes(n == total, &sub);
            experiment_rows(&mut rows, exp, &p, &s);
        }
        for run in &rev.analysis_runs {
            n += 1;
            let (p, s) = prefixes(n == total, &sub);
            analysis_run_rows(&mut rows, run, &p, &s);
        }
    }
    rows
}

/// Argo's `PrintExperimentInfo`: the experiment, then its ReplicaSets and AnalysisRuns.
fn experiment_rows(rows: &mut Vec<Row>, exp: &ExperimentInfo, prefix: &str, sub: &str) {
    let name_color = matches!(exp.status.as_str(), "Pending" | "Running").then_some(Color::Blue);
    rows.push(Row {
        name: vec![plain(format!("{prefix}{ICON_EXPERIMENT} ")), colored(&exp.name, name_color)],
        kind: "Experiment",
        status: icon_cell(analysis_icon(&exp.status), &exp.status),
        age: exp.age.clone(),
        info: Vec::new(),
    });
    let total = exp.replica_sets.len() + exp.analysis_runs.len();
    for (n, rs) in exp.replica_sets.iter().enumerate() {
        let (p, s) = prefixes(n + 1 == total, sub);
        replica_set_rows(rows, rs, &p, &s);
    }
    for (n, run) in exp.analysis_runs.iter().enumerate() {
        let (p, s) = prefixes(exp.replica_sets.len() + n + 1 == total, sub);
        analysis_run_rows(rows, run, &p, &s);
    }
}

fn replica_set_rows(rows: &mut Vec<Row>, rs: &ReplicaSetInfo, prefix: &str, sub: &str) {
    // Argo's order: stable, then canary, active or preview, then ping or pong; the name takes the
    // last one's colour.
    let mut tags: Vec<Span> = Vec::new();
    let second = if rs.canary {
        Some("canary")
    } else if rs.active {
        Some("active")
    } else if rs.preview {
        Some("preview")
    } else {
        None
    };
    let ping_pong = [rs.ping.then_some("ping"), rs.pong.then_some("pong")];
    let roles: Vec<&str> =
        rs.stable.then_some("stable").into_iter().chain(second).chain(ping_pong.into_iter().flatten()).collect();
    for (i, role) in roles.iter().enumerate() {
        if i > 0 {
            tags.push(plain(","));
        }
        tags.push(colored(*role, tag_color(role)));
    }
    let role = roles.last().copied();
    if let Some(delay) = &rs.scale_down_delay {
        if !tags.is_empty() {
            tags.push(plain(","));
        }
        tags.push(plain(format!("delay:{delay}")));
    }
    rows.push(Row {
        name: vec![plain(format!("{prefix}{ICON_REPLICA_SET} ")), colored(&rs.name, role.and_then(tag_color))],
        kind: "ReplicaSet",
        status: status_cell(&rs.status),
        age: rs.age.clone(),
        info: tags,
    });
    for (k, pod) in rs.pods.iter().enumerate() {
        let (p, _) = prefixes(k + 1 == rs.pods.len(), sub);
        let mut info = format!("ready:{}", pod.ready);
        if pod.restarts > 0 {
            info.push_str(&format!(",restarts:{}", pod.restarts));
        }
        rows.push(Row {
            name: vec![plain(format!("{p}{ICON_POD} {}", pod.name))],
            kind: "Pod",
            status: icon_cell(pod_icon(&pod.status), &pod.status),
            age: pod.age.clone(),
            info: vec![plain(info)],
        });
    }
}

fn analysis_run_rows(rows: &mut Vec<Row>, run: &AnalysisRunInfo, prefix: &str, sub: &str) {
    let mut info: Vec<Span> = Vec::new();
    for (icon, n) in [("✔", run.successful), ("✖", run.failed), ("?", run.inconclusive), ("⚠", run.error)] {
        if n > 0 {
            if !info.is_empty() {
                info.push(plain(","));
            }
            info.push(colored(icon, icon_color(icon)));
            info.push(plain(format!(" {n}")));
        }
    }
    let name_color = matches!(run.status.as_str(), "Pending" | "Running").then_some(Color::Blue);
    rows.push(Row {
        name: vec![plain(format!("{prefix}{ICON_ANALYSIS} ")), colored(&run.name, name_color)],
        kind: "AnalysisRun",
        status: icon_cell(analysis_icon(&run.status), &run.status),
        age: run.age.clone(),
        info,
    });
    let children = run.metrics.len() + run.jobs.len();
    for (k, metric) in run.metrics.iter().enumerate() {
        let (p, _) = prefixes(k + 1 == children, sub);
        rows.push(metric_row(metric, &p));
    }
    // Argo's `PrintJob`: the Jobs of `job` metrics, each with its measurement's phase.
    for (k, job) in run.jobs.iter().enumerate() {
        let (p, _) = prefixes(run.metrics.len() + k + 1 == children, sub);
        let color = matches!(job.status.as_str(), "Pending" | "Running").then_some(Color::Blue);
        rows.push(Row {
            name: vec![plain(format!("{p}{ICON_JOB} ")), colored(&job.name, color)],
            kind: "Job",
            status: icon_cell(analysis_icon(&job.status), &job.status),
            age: job.age.clone(),
            info: Vec::new(),
        });
    }
}

fn metric_row(metric: &MetricInfo, prefix: &str) -> Row {
    let mut info: Vec<Span> = Vec::new();
    if !metric.last.is_empty() {
        info.push(plain("last: "));
        for (i, m) in metric.last.iter().enumerate() {
            if i > 0 {
                info.push(plain(", "));
            }
            let icon = status_icon(&m.phase);
            let text = if m.value.is_empty() { m.phase.clone() } else { m.value.clone() };
            info.push(colored(text, icon_color(icon)));
        }
    } else if !metric.message.is_empty() {
        info.push(plain(&metric.message));
    }
    Row {
        name: vec![plain(format!("{prefix}{ICON_METRIC} {}", metric.name))],
        kind: "Metric",
        status: icon_cell(analysis_icon(&metric.status), &metric.status),
        age: String::new(),
        info,
    }
}

/// Lays the rows out in aligned columns, two blanks apart (Argo uses a tabwriter the same way).
fn table(rows: Vec<Row>) -> Vec<Line> {
    let header = Row {
        name: vec![plain("NAME")],
        kind: "KIND",
        status: vec![plain("STATUS")],
        age: "AGE".to_string(),
        info: vec![plain("INFO")],
    };
    let rows: Vec<Row> = std::iter::once(header).chain(rows).collect();
    let w_name = rows.iter().map(|r| width_of(&r.name)).max().unwrap_or(0);
    let w_kind = rows.iter().map(|r| r.kind.chars().count()).max().unwrap_or(0);
    let w_status = rows.iter().map(|r| width_of(&r.status)).max().unwrap_or(0);
    let w_age = rows.iter().map(|r| r.age.chars().count()).max().unwrap_or(0);
    rows.into_iter()
        .map(|r| {
            let mut line = Vec::new();
            let pad = |line: &mut Line, used: usize, width: usize| line.push(plain(" ".repeat(width - used + 2)));
            let used = width_of(&r.name);
            line.extend(r.name);
            pad(&mut line, used, w_name);
            line.push(plain(r.kind));
            pad(&mut line, r.kind.chars().count(), w_kind);
            let used = width_of(&r.status);
            line.extend(r.status);
            pad(&mut line, used, w_status);
            let used = r.age.chars().count();
            line.push(plain(r.age));
            pad(&mut line, used, w_age);
            line.extend(r.info);
            line
        })
        .collect()
}

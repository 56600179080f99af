//! `aviary lint -f FILE`: every problem of every Argo Rollouts object in a manifest file at once,
//! each with its field path and line: what the API server would reject (unknown fields, wrong
//! types, missing required fields: the CRD schema check) and what Argo's validation rejects
//! (`validate_rollout`, `validate_analysis_template`, ...). Other kinds are skipped.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use aviary_api::validation::{FieldError, validate_analysis_run, validate_analysis_template, validate_rollout};
use aviary_api::{AnalysisRun, AnalysisTemplate, ClusterAnalysisTemplate, Rollout};
use serde::Serialize;
use serde_json::Value;

use super::output::{DataFormat, print_data};
use crate::yamlpos::{Positions, positions};

/// Flags of `lint`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Exit status: 0 when every object is valid, 1 otherwise.\n\n\
    Examples:\n  \
    aviary lint -f rollout.yaml\n  \
    aviary lint -f manifests.yaml -o json")]
pub struct Args {
    /// The manifest file (YAML, several documents allowed, or JSON).
    #[arg(short = 'f', long = "filename", visible_alias = "file", value_name = "FILE")]
    file: PathBuf,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    output: DataFormat,
}

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The document's index in the file (0-based).
    pub document: usize,
    /// The object's kind.
    pub kind: String,
    /// The object's name.
    pub name: String,
    /// The field's path, e.g. `spec.strategy.canary.steps[0].setWeight`.
    pub field: String,
    /// The line of the field, or of its closest ancestor present in the file (1-based).
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// The kinds lint checks.
const KINDS: [&str; 4] = ["Rollout", "AnalysisTemplate", "ClusterAnalysisTemplate", "AnalysisRun"];

/// Lints `text` (the whole file): every problem of every document, in file order.
pub fn lint_text(text: &str) -> anyhow::Result<(usize, Vec<Problem>)> {
    let docs: Vec<Value> = serde_norway::Deserializer::from_str(text)
        .map(|d| <Value as serde::Deserialize>::deserialize(d).map_err(|e| anyhow::anyhow!(yaml_error(&e))))
        .collect::<anyhow::Result<_>>()?;
    let positions = positions(text);
    let mut problems = Vec::new();
    let mut checked = 0;
    for (i, doc) in docs.iter().enumerate().filter(|(_, d)| !d.is_null()) {
        let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default();
        if !KINDS.contains(&kind) {
            continue;
        }
        checked += 1;
        let name = doc.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
        let empty = Positions::default();
        let pos = positions.get(i).unwrap_or(&empty);
        let mut push = |field: &str, message: String| {
            let field = field.trim_start_matches('.').to_string();
            problems.push(Problem {
                document: i,
                kind: kind.to_string(),
                name: name.clone(),
                line: pos.line_of(&field),
                field,
                message,
            });
        };
        let schema_errors = aviary_api::crd::check_manifest(doc).unwrap_or_default();
        for e in &schema_errors {
            push(&e.path, e.reason.clone());
        }
        // Argo's validation needs a typed object: validate what the API server would keep of it
        // (its fields that fit the schema), so that both kinds of errors are reported at once.
        let mut pruned = doc.clone();
        for e in &schema_errors {
            remove_path(&mut pruned, &e.path);
        }
        match validation_errors(kind, &pruned) {
            Ok(errors) => {
                for e in errors {
                    let message = e.to_string();
                    let message = message.strip_prefix(&format!("{}: ", e.field)).unwrap_or(&message).to_string();
                    push(&e.field, message);
                }
            }
            // Already reported by the schema check; otherwise say why it could not be read.
            Err(e) if schema_errors.is_empty() => push(&e.path().to_string(), e.into_inner().to_string()),
            Err(_) => {}
        }
    }
    problems.sort_by_key(|p| (p.document, p.line));
    Ok((checked, problems))
}

/// Argo's validation of one object of `kind`, once it reads as that kind.
fn validation_errors(
    kind: &str,
    doc: &Value,
) -> Result<Vec<FieldError>, serde_path_to_error::Error<serde_json::Error>> {
    fn read<T: serde::de::DeserializeOwned>(doc: &Value) -> Result<T, serde_path_to_error::Error<serde_json::Error>> {
        serde_path_to_error::deserialize(doc)
    }
    Ok(match kind {
        "Rollout" => validate_rollout(&read::<Rollout>(doc)?),
        "AnalysisTemplate" => validate_analysis_template(&read::<AnalysisTemplate>(doc)?.spec),
        "ClusterAnalysisTemplate" => validate_analysis_template(&read::<ClusterAnalysisTemplate>(doc)?.spec),
        "AnalysisRun" => validate_analysis_run(&read::<AnalysisRun>(doc)?.spec),
        _ => Vec::new(),
    })
}

/// Removes the node at `path` (`.spec.steps[2].setWieght`) from `value`, if it is there.
fn remove_path(value: &mut Value, path: &str) {
    let mut segments: Vec<Segment> = Vec::new();
    for part in path.trim_start_matches('.').split('.').filter(|p| !p.is_empty()) {
        let mut rest = part;
        if let Some(i) = rest.find('[') {
            segments.push(Segment::Key(rest[..i].to_string()));
            rest = &rest[i..];
            while let Some(end) = rest.find(']') {
                if let Ok(n) = rest[1..end].parse() {
                    segments.push(Segment::Index(n));
                }
                rest = &rest[end + 1..];
            }
        } else {
            segments.push(Segment::Key(rest.to_string()));
        }
    }
    let Some((last, parents)) = segments.split_last() else { return };
    let mut node = value;
    for s in parents {
        let next = match s {
            Segment::Key(k) => node.get_mut(k.as_str()),
            Segment::Index(i) => node.get_mut(*i),
        };
        let Some(next) = next else { return };
        node = next;
    }
    match (last, node) {
        (Segment::Key(k), Value::Object(map)) => {
            map.remove(k);
        }
        // Removing an item would shift the indices of the others: null it instead.
        (Segment::Index(i), Value::Array(items)) if *i < items.len() => items[*i] = Value::Null,
        _ => {}
    }
}

enum Segment {
    Key(String),
    Index(usize),
}

fn yaml_error(e: &serde_norway::Error) -> String {
    match e.location() {
        Some(l) => format!("line {}: {e}", l.line()),
        None => e.to_string(),
    }
}

/// Runs `aviary lint`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let source = args.file.display().to_string();
    let text = std::fs::read_to_string(&args.file).with_context(|| format!("reading {source}"))?;
    let (checked, problems) = lint_text(&text).with_context(|| format!("{source} is not valid YAML"))?;
    if !print_data(args.output, &problems)? {
        for p in &problems {
            let at = p.line.map(|l| format!("{source}:{l}")).unwrap_or_else(|| source.clone());
            let field = if p.field.is_empty() { String::new() } else { format!("{}: ", p.field) };
            println!("{at}: {} {}: {field}{}", p.kind, p.name, p.message);
        }
        if problems.is_empty() {
            println!("{source}: {checked} object{} checked, no errors", if checked == 1 { "" } else { "s" });
        } else {
            eprintln!("{} error{} in {source}", problems.len(), if problems.len() == 1 { "" } else { "s" });
        }
    }
    Ok(if problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

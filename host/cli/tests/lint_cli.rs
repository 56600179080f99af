//! `aviary lint -f FILE`, run as a user runs it: every error of every object at once, each with
//! its field path and line; exit 0 for a valid file, 1 otherwise.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn lint(file: &str, extra: &[&str]) -> Output {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lint").join(file);
    Command::new(env!("CARGO_BIN_EXE_aviary")).arg("lint").arg("-f").arg(path).args(extra).output().expect("run aviary")
}

/// `(line, field)` of every problem `aviary lint -o json` reports for `file`; asserts exit 1.
fn problems(file: &str) -> Vec<(u64, String)> {
    let out = lint(file, &["-o", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let problems: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    problems
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["line"].as_u64().unwrap(), p["field"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn a_valid_file_passes_with_exit_code_0() {
    let out = lint("valid.yaml", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("valid.yaml: 2 objects checked, no errors\n"));
}

#[test]
fn every_error_is_reported_at_once_with_its_field_and_line() {
    let got = problems("invalid.yaml");
    let got: Vec<(u64, &str)> = got.iter().map(|(l, f)| (*l, f.as_str())).collect();
    assert_eq!(
        got,
        vec![
            // Schema: a string where an integer belongs; an unknown (misspelt) field.
            (6, "spec.replicas"),
            // Argo's validation, on what the schema keeps: labels, weight, the emptied step.
            (11, "spec.template.metadata.labels"),
            (19, "spec.strategy.canary.steps[0].setWeight"),
            (20, "spec.strategy.canary.steps[1].setWieght"),
            (20, "spec.strategy.canary.steps[1]"),
            (30, "spec.metrics[0].provider"),
        ]
    );
}

#[test]
fn text_output_names_file_line_object_and_field() {
    let out = lint("invalid.yaml", &[]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap();
    assert!(
        first.ends_with("invalid.yaml:6: Rollout guestbook: spec.replicas: expected integer, got string"),
        "{first}"
    );
    assert!(
        text.contains(":19: Rollout guestbook: spec.strategy.canary.steps[0].setWeight: Invalid value: 150"),
        "{text}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("6 errors"));
}

#[test]
fn a_blue_green_rollout_with_every_option_passes() {
    let out = lint("bluegreen-valid.yaml", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn a_blue_green_rollout_s_errors_name_their_fields() {
    let got = problems("bluegreen-invalid.yaml");
    let got: Vec<(u64, &str)> = got.iter().map(|(l, f)| (*l, f.as_str())).collect();
    assert_eq!(
        got,
        vec![
            (21, "spec.strategy.blueGreen.activeService"),
            (23, "spec.strategy.blueGreen.autoPromotionSeconds"),
            (24, "spec.strategy.blueGreen.scaleDownDelayRevisionLimit"),
            (25, "spec.strategy.blueGreen.antiAffinity"),
        ]
    );
}

//! `aviary/judge` from the CLI, as docs/judge.md shows it: `condition eval --condition
//! aviary/judge`, and a recorded analysis replayed with it (`replay --condition aviary/judge`),
//! where Pass, Marginal and Fail become Argo's Successful, Inconclusive and Failed.

mod common;

use common::{aviary, json};

const UP: &str = r#"{"canary": [212, 230, 251, 224, 240, 236], "baseline": [180, 176, 191, 185, 179, 188]}"#;

fn eval(value: &str, extra: &str) -> serde_json::Value {
    let success = format!(r#"{{"is": "pass", "pass": 95, "marginal": 75{extra}}}"#);
    let failure = format!(r#"{{"is": "fail", "pass": 95, "marginal": 75{extra}}}"#);
    json(&aviary(&[
        "condition",
        "eval",
        "--condition",
        "aviary/judge",
        "--value",
        value,
        "--success",
        &success,
        "--failure",
        &failure,
        "-o",
        "json",
    ]))
}

#[test]
fn condition_eval_judges_canary_against_baseline() {
    // The docs' example: every canary value above every baseline value, an increase counts.
    assert_eq!(eval(UP, r#", "direction": "increase""#)["phase"], "Failed");
    assert_eq!(eval(UP, r#", "direction": "decrease""#)["phase"], "Successful");
    let v = eval(UP, r#", "direction": "sideways""#);
    assert_eq!(v["phase"], "Error");
    let message = v["message"].as_str().unwrap();
    assert!(message.contains("aviary/judge settings: field direction: unknown variant `sideways`"), "{message}");
}

#[test]
fn replay_turns_pass_marginal_and_fail_into_argo_phases() {
    let dir = tempfile::tempdir().unwrap();
    let settings = r#""pass": 90, "marginal": 40, "metrics": {"latency": {"direction": "increase"}, "errors": {"direction": "increase"}}"#;
    let template = format!(
        "apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {{name: judged}}
spec:
  metrics:
  - name: judge
    interval: 1m
    count: 3
    inconclusiveLimit: 1
    successCondition: '{{\"is\": \"pass\", {settings}}}'
    failureCondition: '{{\"is\": \"fail\", {settings}}}'
    provider: {{web: {{url: http://compare.example/, jsonPath: '{{$}}'}}}}
"
    );
    let same = "[180, 176, 191, 185, 179, 188]";
    let up = "[212, 230, 251, 224, 240, 236]";
    let value = |latency: &str, errors: &str| {
        format!(
            "- {{value: {{metrics: {{latency: {{canary: {latency}, baseline: {same}}}, errors: {{canary: {errors}, baseline: {same}}}}}}}}}\n"
        )
    };
    let measurements = format!("judge:\n{}{}{}", value(same, same), value(up, same), value(up, up));
    let t = dir.path().join("template.yaml");
    let m = dir.path().join("m.yaml");
    std::fs::write(&t, template).unwrap();
    std::fs::write(&m, measurements).unwrap();
    let v = json(&aviary(&[
        "replay",
        "-f",
        t.to_str().unwrap(),
        "--measurements",
        m.to_str().unwrap(),
        "--condition",
        "aviary/judge",
        "-o",
        "json",
    ]));
    let phases: Vec<&str> = v["timeline"].as_array().unwrap().iter().map(|e| e["phase"].as_str().unwrap()).collect();
    // 100 (both Pass), 50 (latency High: Marginal), 0 (both High: Fail).
    assert_eq!(phases, ["Successful", "Inconclusive", "Failed"], "{v}");
    assert_eq!(v["phase"], "Failed");
}

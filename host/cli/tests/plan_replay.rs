//! `aviary plan` and `aviary replay`, run as a user runs them.

mod common;

use std::path::{Path, PathBuf};

use common::{aviary, json};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const ROLLOUT: &str = "
rollout:
  apiVersion: argoproj.io/v1alpha1
  kind: Rollout
  metadata: {name: demo}
  spec:
    replicas: 10
    selector: {matchLabels: {app: demo}}
    template:
      metadata: {labels: {app: demo}}
      spec: {containers: [{name: app, image: nginx}]}
    strategy:
      canary:
        steps:
        - setWeight: 25
        - pause: {}
";

#[test]
fn plan_walks_the_reference_rollout() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "scenario.yaml", ROLLOUT);
    let v = json(&aviary(&["plan", "-f", f.to_str().unwrap(), "-o", "json"]));
    let step0 = &v["steps"][0];
    assert_eq!(step0["index"], 0);
    assert_eq!(step0["step"], serde_json::json!({"setWeight": 25}));
    assert_eq!(
        step0["actions"],
        serde_json::json!([{"replicaSet": "stable", "from": 10, "to": 8}, {"replicaSet": "canary", "from": 0, "to": 3}])
    );
    assert_eq!((step0["canary"].as_i64(), step0["stable"].as_i64()), (Some(3), Some(8)));
    assert_eq!(v["promotion"]["canary"], 10);

    let text = aviary(&["plan", "-f", f.to_str().unwrap()]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("stable 10→8, canary 0→3") && text.contains("27.3% / 25.0%"), "{text}");
}

#[test]
fn plan_with_a_state_prints_the_desired_counts() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = format!(
        "{ROLLOUT}state:\n  currentStepIndex: 0\n  stable: {{replicas: 10, available: 10}}\n  canary: {{replicas: 0, available: 0}}\n"
    );
    let f = write(dir.path(), "scenario.yaml", &scenario);
    let v = json(&aviary(&["plan", "-f", f.to_str().unwrap(), "-o", "json"]));
    assert_eq!((v["stable"].as_i64(), v["canary"].as_i64()), (Some(8), Some(3)));
}

#[test]
fn plan_reports_bad_input_with_file_field_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "weight.yaml",
            ROLLOUT.replace("setWeight: 25", "setWeight: 120"),
            vec!["weight.yaml", "spec.strategy.canary.steps[0].setWeight", "SetWeight needs to be between 0 and 100"],
        ),
        (
            "step.yaml",
            ROLLOUT.replace("setWeight: 25", "setWieght: 25"),
            vec!["step.yaml", "rollout.spec.strategy.canary.steps[0].setWieght", "field not declared in schema"],
        ),
        ("yaml.yaml", "rollout: [\n".to_string(), vec!["yaml.yaml"]),
    ];
    for (name, text, wants) in cases {
        let f = write(dir.path(), name, &text);
        let out = aviary(&["plan", "-f", f.to_str().unwrap()]);
        assert!(!out.status.success(), "{name} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        for w in wants {
            assert!(err.contains(w), "{name}: {w:?} not in {err}");
        }
    }
}

const TEMPLATE: &str = "
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: success-rate}
spec:
  metrics:
  - name: success-rate
    interval: 1m
    count: 3
    failureLimit: 1
    successCondition: result[0] >= 0.95
    failureCondition: result[0] < 0.9
    provider: {prometheus: {address: http://prom, query: q}}
";

#[test]
fn replay_judges_values_with_the_condition_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let t = write(dir.path(), "template.yaml", TEMPLATE);
    let m = write(
        dir.path(),
        "m.yaml",
        "success-rate:\n- {value: [0.97]}\n- {value: [0.92]}\n- {value: [0.5]}\n- {value: [0.3]}\n",
    );
    let v = json(&aviary(&["replay", "-f", t.to_str().unwrap(), "--measurements", m.to_str().unwrap(), "-o", "json"]));
    let phases: Vec<_> =
        v["timeline"].as_array().unwrap().iter().map(|e| e["phase"].as_str().unwrap().to_string()).collect();
    assert_eq!(phases, vec!["Successful", "Inconclusive"]);
    // Inconclusive (1) > inconclusiveLimit (0) ends the run: the last two values are not needed.
    assert_eq!(v["phase"], "Inconclusive");
    assert_eq!(v["metrics"]["success-rate"]["inconclusive"], 1);
    assert_eq!(v["unused"]["success-rate"], 2);
}

#[test]
fn replay_of_an_invalid_template_is_an_error_run() {
    let dir = tempfile::tempdir().unwrap();
    let t = write(dir.path(), "template.yaml", &TEMPLATE.replace("    interval: 1m\n", ""));
    let m = write(dir.path(), "m.yaml", "success-rate: [{phase: Successful}]\n");
    let v = json(&aviary(&["replay", "-f", t.to_str().unwrap(), "--measurements", m.to_str().unwrap(), "-o", "json"]));
    assert_eq!(v["phase"], "Error");
    assert_eq!(v["message"], "Analysis spec invalid: metrics[0]: interval must be specified when count > 1");
}

//! Realistic Argo manifests: every valid one round-trips without losing a field, matches the
//! generated CRD schema and passes Argo's validation; every invalid one is rejected by the schema
//! or by validation with the expected message.

use std::path::{Path, PathBuf};

use aviary_api::crd::{check_against_schema, schema_of};
use aviary_api::validation::{validate_analysis_run, validate_analysis_template, validate_rollout};
use aviary_api::{AnalysisRun, AnalysisTemplate, ClusterAnalysisTemplate, Experiment, Rollout};
use serde_json::Value;

fn fixtures(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {}", root.display());
    files
}

fn load(path: &Path) -> (String, Value) {
    let text = std::fs::read_to_string(path).unwrap();
    let value: Value = serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (text, value)
}

fn kind(v: &Value) -> String {
    v["kind"].as_str().unwrap_or_default().to_string()
}

/// Parses with the typed API and serializes back.
fn round_trip(v: &Value) -> Result<Value, String> {
    fn rt<T: serde::de::DeserializeOwned + serde::Serialize>(v: &Value) -> Result<Value, String> {
        let typed: T = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
        serde_json::to_value(typed).map_err(|e| e.to_string())
    }
    match kind(v).as_str() {
        "Rollout" => rt::<Rollout>(v),
        "AnalysisTemplate" => rt::<AnalysisTemplate>(v),
        "ClusterAnalysisTemplate" => rt::<ClusterAnalysisTemplate>(v),
        "AnalysisRun" => rt::<AnalysisRun>(v),
        "Experiment" => rt::<Experiment>(v),
        other => Err(format!("unknown kind {other:?}")),
    }
}

fn validation_errors(v: &Value) -> Vec<String> {
    let errs = match kind(v).as_str() {
        "Rollout" => validate_rollout(&serde_json::from_value(v.clone()).unwrap()),
        "AnalysisTemplate" => {
            validate_analysis_template(&serde_json::from_value::<AnalysisTemplate>(v.clone()).unwrap().spec)
        }
        "ClusterAnalysisTemplate" => validate_analysis_template(
            &serde_json::from_value::<ClusterAnalysisTemplate>(v.clone()).unwrap().spec.template,
        ),
        "AnalysisRun" => validate_analysis_run(&serde_json::from_value::<AnalysisRun>(v.clone()).unwrap().spec),
        _ => vec![],
    };
    errs.iter().map(|e| e.to_string()).collect()
}

fn schema_errors(v: &Value) -> Vec<String> {
    let crd = aviary_api::crd::all()
        .into_iter()
        .map(|(_, c)| c)
        .find(|c| c.spec.names.kind == kind(v))
        .unwrap_or_else(|| panic!("no CRD for kind {}", kind(v)));
    check_against_schema(v, &schema_of(&crd).unwrap()).iter().map(|e| e.to_string()).collect()
}

#[test]
fn valid_fixtures_round_trip_without_losing_a_field() {
    for path in fixtures("valid") {
        let (_, original) = load(&path);
        let mut back = round_trip(&original).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // A Rollout status always carries its `canary` and `blueGreen` blocks, `{}` when empty,
        // as Argo writes it (Go holds them by value): the one thing a round trip adds.
        if kind(&original) == "Rollout"
            && let Some(status) = back.get_mut("status").and_then(Value::as_object_mut)
        {
            for block in ["canary", "blueGreen"] {
                if status.get(block) == Some(&serde_json::json!({}))
                    && original.pointer(&format!("/status/{block}")).is_none()
                {
                    status.remove(block);
                }
            }
        }
        // An Experiment spec always carries `analysisRunMetadata`, `{}` when empty, as Argo's
        // Go struct does.
        if kind(&original) == "Experiment"
            && let Some(spec) = back.get_mut("spec").and_then(Value::as_object_mut)
            && spec.get("analysisRunMetadata") == Some(&serde_json::json!({}))
            && original.pointer("/spec/analysisRunMetadata").is_none()
        {
            spec.remove("analysisRunMetadata");
        }
        assert_eq!(back, original, "{} did not round-trip", path.display());
    }
}

#[test]
fn valid_fixtures_match_the_generated_schemas() {
    for path in fixtures("valid") {
        let (_, v) = load(&path);
        let errs = schema_errors(&v);
        assert!(errs.is_empty(), "{}: {errs:#?}", path.display());
    }
}

#[test]
fn valid_fixtures_pass_argo_validation() {
    for path in fixtures("valid") {
        let (_, v) = load(&path);
        let errs = validation_errors(&v);
        assert!(errs.is_empty(), "{}: {errs:#?}", path.display());
    }
}

fn header(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("# {key}: ")))
        .unwrap_or_else(|| panic!("fixture lacks a `# {key}:` line"))
        .to_string()
}

#[test]
fn invalid_fixtures_are_rejected_with_the_expected_message() {
    for path in fixtures("invalid") {
        let (text, v) = load(&path);
        let by = header(&text, "by");
        let expect = header(&text, "expect");
        let schema = schema_errors(&v);
        match by.as_str() {
            "schema" => {
                assert!(
                    schema.iter().any(|e| e.contains(&expect)),
                    "{}: expected {expect:?} in {schema:#?}",
                    path.display()
                );
            }
            "validation" => {
                assert!(schema.is_empty(), "{}: the schema should accept it: {schema:#?}", path.display());
                let errs = validation_errors(&v);
                assert!(
                    errs.iter().any(|e| e == &expect || e.contains(&expect)),
                    "{}: expected {expect:?} in {errs:#?}",
                    path.display()
                );
            }
            other => panic!("{}: unknown `by: {other}`", path.display()),
        }
    }
}

#[test]
fn argo_style_empty_status_objects_parse() {
    // Go writes struct fields without omitempty effect: `canary: {}`, `blueGreen: {}`.
    let v = serde_json::json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "x"},
        "spec": {"strategy": {"canary": {}}},
        "status": {"canary": {}, "blueGreen": {}, "phase": "Healthy"}
    });
    let ro: Rollout = serde_json::from_value(v).unwrap();
    assert_eq!(ro.status.unwrap().phase, Some(aviary_api::RolloutPhase::Healthy));
}

#[test]
fn defaults_are_never_written() {
    let v = serde_json::json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "x"},
        "spec": {"strategy": {"canary": {"steps": [{"pause": {}}]}}}
    });
    let ro: Rollout = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(ro.spec.replicas_or_default(), 1);
    assert_eq!(serde_json::to_value(&ro).unwrap(), v);
}

/// A workloadRef Rollout with a template of its own is refused before resolving; once the
/// controller resolved the workload's template into it, that template is validated like an
/// inline one instead (its labels must match the selector, it needs containers).
#[test]
fn a_resolved_workload_template_is_validated_as_a_template() {
    use aviary_api::validation::{validate_resolved_rollout, validate_rollout};
    let rollout: aviary_api::Rollout = serde_json::from_value(serde_json::json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "r"},
        "spec": {
            "replicas": 1,
            "workloadRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "a", "image": "i"}]}},
            "strategy": {"canary": {}}
        }
    }))
    .unwrap();
    let raw: Vec<String> = validate_rollout(&rollout).iter().map(ToString::to_string).collect();
    assert!(raw.iter().any(|e| e.contains("template must be empty for workload reference rollout")), "{raw:?}");
    assert!(validate_resolved_rollout(&rollout).is_empty(), "{:?}", validate_resolved_rollout(&rollout));
    let mut mismatched = rollout.clone();
    mismatched.spec.selector.as_mut().unwrap().match_labels = Some([("app".to_string(), "other".to_string())].into());
    let errs: Vec<String> = validate_resolved_rollout(&mismatched).iter().map(ToString::to_string).collect();
    assert!(errs.iter().any(|e| e.contains("`selector` does not match template `labels`")), "{errs:?}");
}

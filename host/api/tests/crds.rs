//! The CRDs under deploy/crds are generated from the types and must stay in step with them.

use std::path::Path;

use aviary_api::crd::{all, render, schema_of};
use serde_json::Value;

const REGENERATE: &str = "cargo run -p aviary-api --bin aviary-gen-crds";

fn deploy() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

#[test]
fn checked_in_crds_are_up_to_date() {
    let dir = deploy().join("crds");
    for (file, crd) in all() {
        let text = render(&crd).unwrap();
        let on_disk = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        assert!(on_disk == text, "deploy/crds/{file} is stale or missing: run `{REGENERATE}` and commit the result");
    }
    // Only CRDs: `kubectl apply -f deploy/crds/` applies every file there.
    let mut on_disk: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    on_disk.sort();
    let mut expected: Vec<String> = all().into_iter().map(|(f, _)| f.to_string()).collect();
    expected.sort();
    assert_eq!(on_disk, expected, "deploy/crds/ must hold the CRDs and nothing else");
}

#[test]
fn everything_generated_under_deploy_is_up_to_date() {
    let crds: Vec<(String, String)> = all().into_iter().map(|(f, c)| (f.to_string(), render(&c).unwrap())).collect();
    let generated = aviary_api::install::generated(&deploy(), &crds).unwrap();
    for want in [
        "install.yaml",
        "namespace-install.yaml",
        "helm/aviary/files/cluster-rules.yaml",
        "helm/aviary/crds/rollout-crd.yaml",
    ] {
        assert!(generated.iter().any(|(p, _)| p == Path::new(want)), "{want} is not generated");
    }
    for (relative, text) in generated {
        let on_disk = std::fs::read_to_string(deploy().join(&relative)).unwrap_or_default();
        assert!(
            on_disk == text,
            "deploy/{} is stale or missing: run `{REGENERATE}` and commit the result",
            relative.display()
        );
    }
}

/// Every document of the single-file installs parses, the cluster-wide one holds the CRDs and
/// the kustomize install's objects, and the namespaced one names no namespace (so `-n` places
/// it) and runs the controller with `--namespaced`.
#[test]
fn single_file_installs_hold_what_they_say() {
    let docs = |file: &str| -> Vec<Value> {
        let text = std::fs::read_to_string(deploy().join(file)).unwrap();
        serde_norway::Deserializer::from_str(&text)
            .map(|d| <Value as serde::Deserialize>::deserialize(d).unwrap())
            .filter(|v| !v.is_null())
            .collect()
    };
    let kinds = |docs: &[Value]| -> Vec<String> {
        docs.iter()
            .map(|d| format!("{}/{}", d["kind"].as_str().unwrap(), d["metadata"]["name"].as_str().unwrap()))
            .collect()
    };
    let cluster = docs("install.yaml");
    let names = kinds(&cluster);
    for crd in all() {
        assert!(names.contains(&format!("CustomResourceDefinition/{}", crd.1.metadata.name.unwrap())), "{names:?}");
    }
    for object in [
        "Namespace/argo-rollouts",
        "ServiceAccount/aviary-controller",
        "ClusterRole/aviary-controller",
        "ClusterRoleBinding/aviary-controller",
        "ConfigMap/aviary-config",
        "Deployment/aviary-controller",
    ] {
        assert!(names.contains(&object.to_string()), "install.yaml lacks {object}: {names:?}");
    }
    let namespaced = docs("namespace-install.yaml");
    let names = kinds(&namespaced);
    assert!(!names.iter().any(|n| n.starts_with("CustomResourceDefinition/") || n.starts_with("Cluster")), "{names:?}");
    fn names_a_namespace(v: &Value) -> bool {
        match v {
            Value::Object(m) => m.iter().any(|(k, v)| k == "namespace" && v.is_string() || names_a_namespace(v)),
            Value::Array(a) => a.iter().any(names_a_namespace),
            _ => false,
        }
    }
    for d in &namespaced {
        assert!(!names_a_namespace(d), "namespace-install.yaml names a namespace: {d}");
    }
    let deployment = namespaced.iter().find(|d| d["kind"] == "Deployment").unwrap();
    let args = deployment["spec"]["template"]["spec"]["containers"][0]["args"].as_array().unwrap();
    assert!(args.contains(&Value::from("--namespaced")), "{args:?}");
}

/// Kubernetes' structural-schema rules: a type everywhere (except int-or-string and
/// preserve-unknown-fields nodes), no `$ref`, no defaults (Argo never writes defaults).
fn check_structural(schema: &Value, path: &str, errs: &mut Vec<String>) {
    let Some(obj) = schema.as_object() else {
        errs.push(format!("{path}: not an object"));
        return;
    };
    for banned in ["$ref", "default", "oneOf", "allOf", "not", "definitions", "$defs"] {
        if obj.contains_key(banned) {
            errs.push(format!("{path}: has {banned}"));
        }
    }
    let exempt = obj.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true))
        || obj.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    if !exempt && !obj.contains_key("type") {
        errs.push(format!("{path}: no type"));
    }
    if let Some(any_of) = obj.get("anyOf") {
        if obj.get("x-kubernetes-int-or-string") != Some(&Value::Bool(true)) {
            errs.push(format!("{path}: anyOf outside int-or-string"));
        }
        let _ = any_of;
    }
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            check_structural(v, &format!("{path}.{k}"), errs);
        }
    }
    if let Some(items) = obj.get("items") {
        check_structural(items, &format!("{path}[]"), errs);
    }
    if let Some(ap) = obj.get("additionalProperties").filter(|v| v.is_object()) {
        check_structural(ap, &format!("{path}{{}}"), errs);
    }
}

#[test]
fn crds_are_structural_schemas() {
    for (file, crd) in all() {
        let schema = schema_of(&crd).unwrap_or_else(|| panic!("{file}: no schema"));
        let mut errs = Vec::new();
        check_structural(&schema, "", &mut errs);
        assert!(errs.is_empty(), "{file}: {errs:#?}");
    }
}

#[test]
fn crd_names_scopes_and_subresources_match_argo() {
    let by_kind = |k: &str| all().into_iter().map(|(_, c)| c).find(|c| c.spec.names.kind == k).unwrap();
    let ro = by_kind("Rollout");
    assert_eq!(ro.metadata.name.as_deref(), Some("rollouts.argoproj.io"));
    assert_eq!(ro.spec.scope, "Namespaced");
    assert_eq!(ro.spec.names.short_names, Some(vec!["ro".to_string()]));
    let sub = ro.spec.versions[0].subresources.as_ref().unwrap();
    assert!(sub.status.is_some());
    let scale = sub.scale.as_ref().unwrap();
    assert_eq!(scale.spec_replicas_path, ".spec.replicas");
    assert_eq!(scale.status_replicas_path, ".status.HPAReplicas");
    assert_eq!(scale.label_selector_path.as_deref(), Some(".status.selector"));
    let cat = by_kind("ClusterAnalysisTemplate");
    assert_eq!(cat.spec.scope, "Cluster");
    assert_eq!(cat.spec.names.short_names, Some(vec!["cat".to_string()]));
    assert_eq!(by_kind("AnalysisTemplate").spec.names.short_names, Some(vec!["at".to_string()]));
    assert_eq!(by_kind("AnalysisRun").spec.names.short_names, Some(vec!["ar".to_string()]));
    assert_eq!(by_kind("Experiment").spec.names.short_names, Some(vec!["exp".to_string()]));
}

#[test]
fn pod_templates_and_plugin_configs_keep_unknown_fields() {
    let ro = all().into_iter().find(|(f, _)| *f == "rollout-crd.yaml").unwrap().1;
    let schema = schema_of(&ro).unwrap();
    let template = &schema["properties"]["spec"]["properties"]["template"];
    assert_eq!(template["x-kubernetes-preserve-unknown-fields"], Value::Bool(true));
    let plugins = &schema["properties"]["spec"]["properties"]["strategy"]["properties"]["canary"]["properties"]["trafficRouting"]
        ["properties"]["plugins"];
    assert_eq!(plugins["x-kubernetes-preserve-unknown-fields"], Value::Bool(true));
    let surge =
        &schema["properties"]["spec"]["properties"]["strategy"]["properties"]["canary"]["properties"]["maxSurge"];
    assert_eq!(surge["x-kubernetes-int-or-string"], Value::Bool(true));
}

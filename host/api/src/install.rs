//! The single-file installs, `deploy/install.yaml` and `deploy/namespace-install.yaml`, as Argo
//! Rollouts publishes its own: what an Argo user applies with `kubectl apply -f` (or
//! `kubectl apply -n argo-rollouts -f`), built from the files `kubectl apply -k deploy/` uses, so
//! that the two ways install the same objects.
//!
//! - `install.yaml`: the CRDs, the `argo-rollouts` Namespace, the cluster-wide RBAC, the plugin
//!   registry ConfigMap and the Deployment.
//! - `namespace-install.yaml`: for one namespace, applied with `-n NAMESPACE` (nothing in it
//!   names a namespace): the Role-based RBAC, the ConfigMap and the Deployment with
//!   `--namespaced`. Like Argo's, it has no CRDs (they are cluster-wide: `kubectl apply -f
//!   deploy/crds/` by a cluster administrator).
//!
//! The sources are text, joined and not re-serialised, so that the comments explaining each RBAC
//! rule and each setting stay in the file an operator reads.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::ApiError;

/// The manifests under `deploy/` the installs are made of, in apply order.
const CLUSTER_SOURCES: &[&str] =
    &["namespace.yaml", "rbac.yaml", "controller/configmap.yaml", "controller/deployment.yaml"];

/// The namespaced install's sources.
const NAMESPACED_SOURCES: &[&str] =
    &["namespaced/rbac.yaml", "controller/configmap.yaml", "controller/deployment.yaml"];

/// The namespace the sources are written for (Argo's), removed for the namespaced install.
const NAMESPACE_LINE: &str = "namespace: argo-rollouts";

/// The Deployment's argument list in `controller/deployment.yaml`; the namespaced install adds
/// `--namespaced` to it.
const ARGS_LINE: &str = r#"args: ["--loglevel=info", "--logformat=json"]"#;

fn header(what: &str, apply: &str) -> String {
    format!(
        "# Aviary {what}: `{apply}`.\n\
         # Generated from deploy/ by `cargo run -p aviary-api --bin aviary-gen-crds`. Do not edit.\n"
    )
}

fn read(deploy: &Path, file: &str) -> Result<String, ApiError> {
    std::fs::read_to_string(deploy.join(file)).map_err(|e| ApiError::Parse {
        source_name: format!("deploy/{file}"),
        field: ".".into(),
        reason: e.to_string(),
    })
}

/// Joins YAML documents with `---`, each ending with one newline.
fn join(docs: &[String]) -> String {
    docs.iter().map(|d| format!("{}\n", d.trim_end())).collect::<Vec<_>>().join("---\n")
}

/// `deploy/install.yaml`: the CRDs (`crds`, rendered as in `deploy/crds/`) and the cluster-wide
/// install.
pub fn cluster_install(deploy: &Path, crds: &[String]) -> Result<String, ApiError> {
    let mut docs: Vec<String> = crds.to_vec();
    for file in CLUSTER_SOURCES {
        docs.push(read(deploy, file)?);
    }
    Ok(format!(
        "{}{}",
        header(
            "installed cluster-wide in Argo Rollouts' namespace",
            "kubectl apply -f install.yaml` (or `kubectl apply -n argo-rollouts -f install.yaml"
        ),
        join(&docs)
    ))
}

/// `deploy/namespace-install.yaml`: the namespaced install, with no namespace named in it.
pub fn namespace_install(deploy: &Path) -> Result<String, ApiError> {
    let mut docs = Vec::new();
    for file in NAMESPACED_SOURCES {
        let text = read(deploy, file)?;
        let kept: Vec<&str> = text.lines().filter(|l| l.trim() != NAMESPACE_LINE).collect();
        let mut text = kept.join("\n");
        if *file == "controller/deployment.yaml" {
            if !text.contains(ARGS_LINE) {
                return Err(ApiError::Parse {
                    source_name: format!("deploy/{file}"),
                    field: "spec.template.spec.containers[0].args".into(),
                    reason: format!("expected the line `{ARGS_LINE}`, to which --namespaced is added"),
                });
            }
            text = text.replace(ARGS_LINE, r#"args: ["--loglevel=info", "--logformat=json", "--namespaced"]"#);
        }
        docs.push(text);
    }
    Ok(format!(
        "{}{}",
        header(
            "for one namespace (the controller runs with --namespaced under a Role; install the CRDs first with `kubectl apply -f deploy/crds/`)",
            "kubectl apply -n NAMESPACE -f namespace-install.yaml"
        ),
        join(&docs)
    ))
}

/// The RBAC rules the Helm chart (`deploy/helm/aviary`) grants, taken from the kustomize
/// install's manifests so that every install grants the same: (file under the chart's `files/`,
/// source manifest, kind, name).
const CHART_RULES: &[(&str, &str, &str, &str)] = &[
    ("cluster-rules.yaml", "rbac.yaml", "ClusterRole", "aviary-controller"),
    ("config-rules.yaml", "rbac.yaml", "Role", "aviary-controller-config"),
    ("namespaced-rules.yaml", "namespaced/rbac.yaml", "Role", "aviary-controller"),
];

/// The `rules` of the object `kind`/`name` in a manifest of `deploy/`, as YAML.
fn rules(deploy: &Path, file: &str, kind: &str, name: &str) -> Result<String, ApiError> {
    let text = read(deploy, file)?;
    let parse_error =
        |reason: String| ApiError::Parse { source_name: format!("deploy/{file}"), field: ".".into(), reason };
    for document in serde_norway::Deserializer::from_str(&text) {
        let doc: Value = serde::Deserialize::deserialize(document).map_err(|e| parse_error(e.to_string()))?;
        let named = doc.pointer("/metadata/name").and_then(Value::as_str) == Some(name);
        if doc.get("kind").and_then(Value::as_str) == Some(kind) && named {
            let header = format!("# The rules of {kind} {name} in deploy/{file} (generated; do not edit).\n");
            let body = serde_norway::to_string(doc.get("rules").unwrap_or(&Value::Null))
                .map_err(|e| ApiError::Render { what: format!("the rules of {kind} {name}"), reason: e.to_string() })?;
            return Ok(format!("{header}{body}"));
        }
    }
    Err(parse_error(format!("no {kind} named {name}")))
}

/// Everything generated under `deploy/`, as (path relative to `deploy/`, text): the CRDs
/// (`crds`: file name and rendered text), the single-file installs, and the Helm chart's copies
/// of the CRDs and RBAC rules (a chart may read only its own files).
pub fn generated(deploy: &Path, crds: &[(String, String)]) -> Result<Vec<(PathBuf, String)>, ApiError> {
    let mut out: Vec<(PathBuf, String)> = Vec::new();
    for (file, text) in crds {
        out.push((Path::new("crds").join(file), text.clone()));
        out.push((Path::new("helm/aviary/crds").join(file), text.clone()));
    }
    let texts: Vec<String> = crds.iter().map(|(_, t)| t.clone()).collect();
    out.push(("install.yaml".into(), cluster_install(deploy, &texts)?));
    out.push(("namespace-install.yaml".into(), namespace_install(deploy)?));
    for (target, file, kind, name) in CHART_RULES {
        out.push((Path::new("helm/aviary/files").join(target), rules(deploy, file, kind, name)?));
    }
    Ok(out)
}

//! `workloadRef` (Argo's `templateref.go`): the pod template (and, when the Rollout has none, the
//! selector) taken from the referenced Deployment, ReplicaSet or PodTemplate on every reconcile,
//! kept in memory only (never written back to the Rollout), the object's generation recorded in
//! the `rollout.argoproj.io/workload-generation` annotation, and the Deployment scaled down as
//! `scaleDown` says.

use aviary_api::Rollout;
use aviary_api::rollout::ObjectRef;
use aviary_engine::rollout::workload::WORKLOAD_GENERATION;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::ResourceExt;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::{Value, json};

use crate::context::Context;
use crate::error::{Error, is_not_found};

/// The kinds a workloadRef may name: (group, kind, plural, template path, selector path).
const SUPPORTED: &[(&str, &str, &str, &str, Option<&str>)] = &[
    ("", "PodTemplate", "podtemplates", "/template", None),
    ("apps", "Deployment", "deployments", "/spec/template", Some("/spec/selector")),
    ("apps", "ReplicaSet", "replicasets", "/spec/template", Some("/spec/selector")),
];

/// What resolving the reference gave.
pub enum Resolved {
    /// The rollout with the workload's template (and selector), and the workload's generation.
    Rollout(Box<Rollout>, i64),
    /// Why the reference cannot be used: the InvalidSpec message's tail (Argo's words).
    Invalid(String),
}

/// Resolves the rollout's `workloadRef`; a rollout without one is returned as it is.
pub async fn resolve(ctx: &Context, rollout: &Rollout) -> Result<Resolved, Error> {
    let Some(reference) = &rollout.spec.workload_ref else {
        return Ok(Resolved::Rollout(Box::new(rollout.clone()), 0));
    };
    let has_metadata = rollout.spec.template.as_ref().and_then(|t| t.metadata.as_ref()).is_some_and(|m| {
        m.labels.as_ref().is_some_and(|l| !l.is_empty()) || m.annotations.as_ref().is_some_and(|a| !a.is_empty())
    });
    if has_metadata {
        return Ok(Resolved::Invalid(invalid(reference, "template must be empty for workload reference rollout")));
    }
    let (group, version) = match reference.api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", reference.api_version.as_str()),
    };
    let Some(&(_, kind, plural, template_path, selector_path)) =
        SUPPORTED.iter().find(|(g, k, ..)| *g == group && *k == reference.kind)
    else {
        return Ok(Resolved::Invalid(invalid(
            reference,
            &format!("workload of type {group}/{} is not supported", reference.kind),
        )));
    };
    let ns = rollout.namespace().unwrap_or_default();
    let resource = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ns, &resource);
    let object = match api.get_opt(&reference.name).await {
        Ok(Some(o)) => o,
        Ok(None) => {
            let what = if group.is_empty() { plural.to_string() } else { format!("{plural}.{group}") };
            return Ok(Resolved::Invalid(invalid(reference, &format!("{what} \"{ns}/{}\" not found", reference.name))));
        }
        Err(e) => return Err(Error::kube(format!("reading the workload {}/{}", reference.kind, reference.name))(e)),
    };
    let generation = object.metadata.generation.unwrap_or(0);
    let data = serde_json::to_value(&object).map_err(Error::serde("the workload"))?;
    let template: PodTemplateSpec = match data.pointer(template_path).cloned().map(serde_json::from_value) {
        Some(Ok(t)) => t,
        Some(Err(e)) => return Ok(Resolved::Invalid(invalid(reference, &format!("its pod template: {e}")))),
        None => PodTemplateSpec::default(),
    };
    let mut resolved = rollout.clone();
    resolved.spec.template = Some(template);
    if resolved.spec.selector.is_none()
        && let Some(path) = selector_path
        && let Some(Ok(selector)) = data.pointer(path).cloned().map(serde_json::from_value::<LabelSelector>)
    {
        resolved.spec.selector = Some(selector);
    }
    resolved
        .metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(WORKLOAD_GENERATION.into(), generation.to_string());
    Ok(Resolved::Rollout(Box::new(resolved), generation))
}

/// Argo's field error on `spec.workloadRef`: the reference as JSON, then why.
fn invalid(reference: &ObjectRef, why: &str) -> String {
    let shown = serde_json::to_string(reference).unwrap_or_default();
    format!("spec.workloadRef: Invalid value: {shown}: {why}")
}

/// Records the workload's generation in the Rollout's annotation when it changed (what Argo's
/// workload informer does), so that clients see which generation the status reflects. Returns
/// the Rollout as written, when it wrote.
pub async fn record_generation(ctx: &Context, stored: &Rollout, generation: i64) -> Result<Option<Rollout>, Error> {
    let current = stored.annotations().get(WORKLOAD_GENERATION).cloned().unwrap_or_default();
    if current == generation.to_string() {
        return Ok(None);
    }
    let api: Api<Rollout> = Api::namespaced(ctx.client.clone(), &stored.namespace().unwrap_or_default());
    let patch = json!({"metadata": {"annotations": {WORKLOAD_GENERATION: generation.to_string()}}});
    let written = api
        .patch(&stored.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(Error::kube("recording the workload generation"))?;
    ctx.wrote_rollout(stored, &written);
    Ok(Some(written))
}

/// Argo's `scaleDeployment`: the Deployment `workloadRef.name` to `replicas` (at least zero),
/// when it is not there already.
pub async fn scale_deployment(ctx: &Context, rollout: &Rollout, replicas: i32) -> Result<(), Error> {
    let Some(reference) = &rollout.spec.workload_ref else { return Ok(()) };
    let api: Api<Deployment> = Api::namespaced(ctx.client.clone(), &rollout.namespace().unwrap_or_default());
    let deployment = match api.get(&reference.name).await {
        Ok(d) => d,
        Err(e) if is_not_found(&e) => return Ok(()),
        Err(e) => return Err(Error::kube(format!("reading Deployment {}", reference.name))(e)),
    };
    let target = replicas.max(0);
    if deployment.spec.as_ref().and_then(|s| s.replicas) == Some(target) {
        return Ok(());
    }
    let patch: Value = json!({"spec": {"replicas": target}});
    api.patch(&reference.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(Error::kube(format!("scaling Deployment {}", reference.name)))?;
    tracing::info!(deployment = %reference.name, replicas = target, "scaled the referenced Deployment");
    Ok(())
}

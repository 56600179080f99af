//! Ephemeral metadata applied: each ReplicaSet's pod template and running pods get the labels and
//! annotations of their role (Argo's `reconcileEphemeralMetadata`); the decisions are
//! `aviary_engine::ephemeral`'s.

use std::collections::BTreeMap;

use aviary_api::{PodTemplateMetadata, Rollout};
use aviary_engine::ephemeral::{self, ANNOTATION, Metadata};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::{Map, Value, json};

use super::replicasets::{Roles, hash, selector_string};
use crate::context::{Context, controlled_by};
use crate::error::Error;

/// Syncs every ReplicaSet of the rollout to the metadata of its role, and their pods with them.
pub async fn reconcile(ctx: &Context, rollout: &Rollout, roles: &Roles, stable_hash: &str) -> Result<(), Error> {
    let new_hash = roles.new_rs.as_deref().map(hash);
    let Some(plan) = ephemeral::plan(rollout, new_hash, stable_hash) else { return Ok(()) };
    if let Some(rs) = &roles.new_rs {
        sync(ctx, rs, plan.new).await?;
    }
    if plan.sync_stable
        && let Some(rs) = &roles.stable_rs
    {
        sync(ctx, rs, plan.stable).await?;
    }
    for rs in &roles.older {
        sync(ctx, rs, None).await?;
    }
    Ok(())
}

/// Argo's `syncEphemeralMetadata`: the template first, then each running pod.
async fn sync(ctx: &Context, rs: &ReplicaSet, desired: Option<&PodTemplateMetadata>) -> Result<(), Error> {
    let ns = rs.namespace().unwrap_or_default();
    let recorded = rs.annotations().get(ANNOTATION).cloned();
    let template_meta = rs.spec.as_ref().and_then(|s| s.template.as_ref()).and_then(|t| t.metadata.as_ref());
    let template = Metadata {
        labels: template_meta.and_then(|m| m.labels.clone()).unwrap_or_default(),
        annotations: template_meta.and_then(|m| m.annotations.clone()).unwrap_or_default(),
    };
    if let Some((metadata, record)) = ephemeral::sync_replica_set(&template, recorded.as_deref(), desired) {
        let patch = json!({
            "metadata": {"annotations": {ANNOTATION: record}},
            "spec": {"template": {"metadata": diff(&template, &metadata)}},
        });
        let api: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), &ns);
        let written = api
            .patch(&rs.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(Error::kube(format!("syncing the ephemeral metadata of ReplicaSet {}", rs.name_any())))?;
        ctx.wrote_replica_set(Some(rs), written);
    }
    if rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1) == 0 {
        return Ok(());
    }
    let existing = recorded.as_deref().and_then(ephemeral::parse);
    let selector = rs.spec.as_ref().map(|s| selector_string(&s.selector)).unwrap_or_default();
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let uid = rs.metadata.uid.clone().unwrap_or_default();
    let listed = pods
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(Error::kube(format!("listing the pods of ReplicaSet {}", rs.name_any())))?;
    for pod in listed.items.iter().filter(|p| controlled_by(&p.metadata, &uid)) {
        let current = Metadata {
            labels: pod.metadata.labels.clone().unwrap_or_default(),
            annotations: pod.metadata.annotations.clone().unwrap_or_default(),
        };
        let Some(metadata) = ephemeral::sync(&current, existing.as_ref(), desired) else { continue };
        let patch = json!({"metadata": diff(&current, &metadata)});
        match pods.patch(&pod.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => {}
            // A pod that is gone needs no metadata (Argo skips it too).
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => {
                return Err(Error::kube(format!("syncing the ephemeral metadata of pod {}", pod.name_any()))(e));
            }
        }
    }
    Ok(())
}

/// A merge patch from `from` to `to`: changed keys set, removed keys null.
fn diff(from: &Metadata, to: &Metadata) -> Value {
    let field = |a: &BTreeMap<String, String>, b: &BTreeMap<String, String>| {
        let mut out = Map::new();
        for (k, v) in b.iter().filter(|(k, v)| a.get(*k) != Some(*v)) {
            out.insert(k.clone(), Value::String(v.clone()));
        }
        for k in a.keys().filter(|k| !b.contains_key(*k)) {
            out.insert(k.clone(), Value::Null);
        }
        Value::Object(out)
    };
    json!({"labels": field(&from.labels, &to.labels), "annotations": field(&from.annotations, &to.annotations)})
}

//! `aviary/nginx` (Argo Rollouts' NGINX Ingress traffic router): for each stable Ingress, a
//! canary Ingress `<rollout>-<stable ingress>-canary` that ingress-nginx reads as the canary of
//! the stable one, with the desired weight in its `canary-weight` annotation.
//!
//! Config: the Rollout's `trafficRouting.nginx` block: `stableIngress` or `stableIngresses` (the
//! latter wins when set, as in Argo), `annotationPrefix` (default `nginx.ingress.kubernetes.io`),
//! `additionalIngressAnnotations` (prefixed with the prefix unless they already start with it)
//! and `canaryIngressAnnotations` (written as they are, over the former). The maxTrafficWeight
//! comes from the Rollout.
//!
//! The canary Ingress is Argo's, field for field: the stable Ingress's rules that have a path to
//! the stable Service, those paths switched to the canary Service (other rules are left out), its
//! TLS and `ingressClassName`, its `kubernetes.io/ingress.class` annotation, the additional
//! annotations, then `<prefix>/canary: "true"`, `<prefix>/canary-weight` and, when the Rollout
//! sets `maxTrafficWeight`, `<prefix>/canary-weight-total`; no labels, no default backend; a
//! controller owner reference to the Rollout. An existing canary Ingress is patched (a merge
//! patch of its annotations, labels and spec) only when it differs, keeping annotations other
//! controllers added; one the Rollout does not control is an error, never taken over. Like
//! Argo's, the name is cut to 253 characters. Only `networking.k8s.io/v1` Ingresses are handled
//! (`extensions/v1beta1` left Kubernetes in 1.22).
//!
//! Header routes: Argo's NGINX router has none (`setHeaderRoute` and `setMirrorRoute` do nothing);
//! header-based canaries are configured statically with
//! `additionalIngressAnnotations: {canary-by-header: X-Canary}`. Hashes: not used.
//! Verification: not implemented. The router keeps no state.
//!
//! Events on the Rollout, Argo's: a Normal `CreatingCanaryIngress`
//! (`` Creating canary ingress `<name>` with weight `<w>` ``) before creating a canary Ingress,
//! and a Normal `PatchingCanaryIngress` (`` Updating Ingress `<name>` to desiredWeight '<w>' ``)
//! before patching one that differs; both whatever the write's outcome, as Argo records them.
//!
//! Kubernetes grants (registry entry `kubernetes:`), exactly [`GRANTS`]:
//!
//! | apiGroup            | kinds   | verbs              |
//! |---------------------|---------|--------------------|
//! | `networking.k8s.io` | Ingress | get, create, patch |

use std::collections::BTreeMap;

use aviary_plugin_sdk::export_router;
use aviary_plugin_sdk::kubernetes::{Grant, ObjectRef, PatchType, Verb, merge_patch};
use aviary_plugin_sdk::router::{Context, Error, Router, StateUpdate, WeightDestination, log};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The Kubernetes grants this router needs, no more.
pub const GRANTS: &[Grant] =
    &[Grant { api_group: "networking.k8s.io", kinds: &["Ingress"], verbs: &[Verb::Get, Verb::Create, Verb::Patch] }];

const INGRESS_API: &str = "networking.k8s.io/v1";
const DEFAULT_PREFIX: &str = "nginx.ingress.kubernetes.io";
const CANARY_SUFFIX: &str = "-canary";

/// `trafficRouting.nginx`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Config {
    /// The stable Ingress.
    pub stable_ingress: String,
    /// Several stable Ingresses; used instead of `stableIngress` when set.
    pub stable_ingresses: Option<Vec<String>>,
    /// The prefix of ingress-nginx's annotations.
    pub annotation_prefix: String,
    /// Annotations for the canary Ingress, prefixed with `annotationPrefix` unless they start
    /// with it.
    pub additional_ingress_annotations: BTreeMap<String, String>,
    /// Annotations for the canary Ingress, written as they are.
    pub canary_ingress_annotations: BTreeMap<String, String>,
}

impl Config {
    fn prefix(&self) -> &str {
        if self.annotation_prefix.is_empty() { DEFAULT_PREFIX } else { &self.annotation_prefix }
    }

    fn stable_ingresses(&self) -> Vec<String> {
        match &self.stable_ingresses {
            Some(ingresses) => ingresses.clone(),
            None => vec![self.stable_ingress.clone()],
        }
    }
}

/// The canary Ingress's name: Argo's `GetCanaryIngressName`, cut to 253 characters.
pub fn canary_ingress_name(rollout: &str, stable_ingress: &str) -> String {
    let mut prefix = format!("{rollout}-{stable_ingress}");
    let max = 253 - CANARY_SUFFIX.len();
    if prefix.len() > max {
        let mut cut = max;
        while !prefix.is_char_boundary(cut) {
            cut -= 1;
        }
        prefix.truncate(cut);
    }
    prefix + CANARY_SUFFIX
}

/// The NGINX router.
pub struct Nginx;

/// The canary Ingress Argo's `buildCanaryIngress` makes of `stable`.
fn desired_canary(
    ctx: &Context<'_>,
    config: &Config,
    stable: &Value,
    stable_name: &str,
    name: &str,
    desired_weight: i32,
) -> Result<Value, Error> {
    let stable_service = ctx.stable_service();
    let canary_service = ctx.canary_service();
    let prefix = config.prefix();

    let mut spec = Map::new();
    if let Some(tls) = stable.pointer("/spec/tls").filter(|t| !t.is_null()) {
        spec.insert("tls".into(), tls.clone());
    }
    if let Some(class) = stable.pointer("/spec/ingressClassName").filter(|c| !c.is_null()) {
        spec.insert("ingressClassName".into(), class.clone());
    }
    let mut rules = Vec::new();
    for rule in stable.pointer("/spec/rules").and_then(Value::as_array).into_iter().flatten() {
        let mut rule = rule.clone();
        let mut uses_stable = false;
        for path in rule.pointer_mut("/http/paths").and_then(Value::as_array_mut).into_iter().flatten() {
            if let Some(service) = path.pointer_mut("/backend/service/name")
                && service.as_str() == Some(stable_service)
            {
                *service = Value::String(canary_service.to_string());
                uses_stable = true;
            }
        }
        if uses_stable {
            rules.push(rule);
        }
    }
    if rules.is_empty() {
        return Err(Error(format!("ingress `{stable_name}` has no rules using service {stable_service} backend")));
    }
    spec.insert("rules".into(), Value::Array(rules));

    let mut annotations = BTreeMap::new();
    if let Some(class) = stable.pointer("/metadata/annotations/kubernetes.io~1ingress.class").and_then(Value::as_str) {
        annotations.insert("kubernetes.io/ingress.class".to_string(), class.to_string());
    }
    for (key, value) in &config.additional_ingress_annotations {
        let key = if key.starts_with(prefix) { key.clone() } else { format!("{prefix}/{key}") };
        annotations.insert(key, value.clone());
    }
    for (key, value) in &config.canary_ingress_annotations {
        annotations.insert(key.clone(), value.clone());
    }
    annotations.insert(format!("{prefix}/canary"), "true".into());
    annotations.insert(format!("{prefix}/canary-weight"), desired_weight.to_string());
    if let Some(total) = ctx.max_traffic_weight_setting() {
        annotations.insert(format!("{prefix}/canary-weight-total"), total.to_string());
    }

    Ok(json!({
        "apiVersion": INGRESS_API,
        "kind": "Ingress",
        "metadata": {"name": name, "annotations": annotations, "ownerReferences": [ctx.controller_reference()]},
        "spec": spec,
    }))
}

/// The parts of an Ingress Argo's patch compares (annotations, labels, spec), empty maps left
/// out as Go's `omitempty` leaves them out.
fn compared(ingress: &Value) -> Value {
    let mut metadata = Map::new();
    for key in ["annotations", "labels"] {
        if let Some(map) =
            ingress.pointer(&format!("/metadata/{key}")).filter(|m| m.as_object().is_some_and(|m| !m.is_empty()))
        {
            metadata.insert(key.into(), map.clone());
        }
    }
    let mut out = Map::new();
    if !metadata.is_empty() {
        out.insert("metadata".into(), Value::Object(metadata));
    }
    out.insert("spec".into(), ingress.get("spec").cloned().unwrap_or_else(|| json!({})));
    Value::Object(out)
}

/// Sets one canary Ingress to `desired_weight` (Argo's `SetWeightPerIngress`, one iteration).
fn set_weight_for(ctx: &Context<'_>, config: &Config, stable_name: &str, desired_weight: i32) -> Result<(), Error> {
    let name = canary_ingress_name(&ctx.rollout_name, stable_name);
    let stable = ctx
        .cluster
        .get(&ObjectRef::new(INGRESS_API, "Ingress", stable_name))
        .map_err(|e| Error(format!("error retrieving stableIngress `{stable_name}`: {e}")))?;
    let canary_ref = ObjectRef::new(INGRESS_API, "Ingress", name.as_str());
    let existing = match ctx.cluster.get(&canary_ref) {
        Ok(existing) => Some(existing),
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(Error(format!("error retrieving canary ingress `{name}`: {e}"))),
    };
    let mut desired = desired_canary(ctx, config, &stable, stable_name, &name, desired_weight)?;

    let existing = match existing {
        Some(existing) => existing,
        None => {
            // Argo records it before the create, whatever the create's outcome.
            ctx.event(
                "CreatingCanaryIngress",
                format!("Creating canary ingress `{name}` with weight `{desired_weight}`"),
            );
            match ctx.cluster.create(&desired) {
                Ok(_) => {
                    log::info(&format!("created canary ingress `{name}` with weight `{desired_weight}`"));
                    return Ok(());
                }
                // Created by a racing reconcile: read it and patch it as if it had been there.
                Err(e) if e.is_conflict() => ctx
                    .cluster
                    .get(&canary_ref)
                    .map_err(|e| Error(format!("error retrieving canary ingress `{name}` from api: {e}")))?,
                Err(e) => return Err(Error(format!("error creating canary ingress `{name}`: {e}"))),
            }
        }
    };

    if !ctx.controls(&existing) {
        return Err(Error(format!(
            "canary ingress `{name}` controlled by different object: its controller owner reference is not Rollout {:?}",
            ctx.rollout_name
        )));
    }
    // Annotations other controllers put on the canary Ingress stay (Argo's getDesiredAnnotations).
    if let (Some(current), Some(wanted)) = (
        existing.pointer("/metadata/annotations").and_then(Value::as_object),
        desired.pointer_mut("/metadata/annotations").and_then(Value::as_object_mut),
    ) {
        for (key, value) in current {
            wanted.entry(key.clone()).or_insert_with(|| value.clone());
        }
    }
    let Some(patch) = merge_patch(&compared(&existing), &compared(&desired)) else {
        return Ok(());
    };
    log::info(&format!("updating canary ingress `{name}` to desiredWeight '{desired_weight}'"));
    // Argo records it before the patch, whatever the patch's outcome.
    ctx.event("PatchingCanaryIngress", format!("Updating Ingress `{name}` to desiredWeight '{desired_weight}'"));
    ctx.cluster
        .patch(&canary_ref, PatchType::Merge, &patch)
        .map_err(|e| Error(format!("error patching canary ingress `{name}`: {e}")))?;
    Ok(())
}

impl Router for Nginx {
    type Config = Config;

    fn set_weight(
        ctx: &Context<'_>,
        config: Config,
        desired_weight: i32,
        _additional: &[WeightDestination],
    ) -> Result<StateUpdate, Error> {
        let ingresses = config.stable_ingresses();
        if ingresses.iter().all(String::is_empty) {
            return Err(Error::msg("trafficRouting.nginx: neither stableIngress nor stableIngresses names an Ingress"));
        }
        for stable in &ingresses {
            set_weight_for(ctx, &config, stable, desired_weight)?;
        }
        Ok(None)
    }
}

export_router!(Nginx);

#[cfg(test)]
mod tests;

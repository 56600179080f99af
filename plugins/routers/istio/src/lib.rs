//! `aviary/istio` (Argo Rollouts' Istio traffic router): weights on the destinations of
//! VirtualService routes, the pod-template hashes of DestinationRule subsets, and header and
//! mirror routes.
//!
//! Config: the Rollout's `trafficRouting.istio` block: `virtualService` or `virtualServices`
//! (`{name, routes, tlsRoutes: [{port, sniHosts}], tcpRoutes: [{port}]}`) and `destinationRule`
//! (`{name, canarySubsetName, stableSubsetName, additionalSubsetNames}`). A VirtualService named
//! `name.namespace` must be in the Rollout's namespace: a router acts only there.
//!
//! As Argo's reconciler does:
//!
//! - **Weights** (`setWeight`): in the HTTP routes named in `routes` (or the only route, or the
//!   first unnamed one), the TLS routes of `tlsRoutes` (or the first) and the TCP routes of
//!   `tcpRoutes` (or the first), the destination whose host is the canary Service (or whose
//!   subset is the canary subset) gets the desired weight, additional destinations (experiments)
//!   theirs, added when missing, destinations of `additionalSubsetNames` keep theirs, the stable
//!   gets the rest of 100, and any other destination of those routes is removed (an ended
//!   experiment's). The routes are validated first, with Argo's messages. Host-level splitting
//!   uses `canaryService`/`stableService` (or the ping/pong Services); subset-level splitting uses
//!   the DestinationRule's subsets. Mirror routes named in `managedRoutes` are weighed too.
//! - **Hashes** (`updateHash`): the DestinationRule's canary and stable subsets get the
//!   `rollouts-pod-template-hash` label of the canary and stable ReplicaSets (removed when there is
//!   none), subsets named after additional destinations get theirs (and are added), and the
//!   DestinationRule is annotated `argo-rollouts.argoproj.io/managed-by-rollouts: <rollout>`. When
//!   the Rollout has neither `canaryService` nor `stableService`, the switch waits until the
//!   ReplicaSets that are to take traffic are fully available (argo-rollouts#2507).
//! - **Header routes** (`setHeaderRoute`): an HTTP route named after the step sending the
//!   matching headers to the canary (the DestinationRule's host and canary subset with subsets),
//!   on the port of the set-weight route's first destination. **Mirror routes**
//!   (`setMirrorRoute`): an HTTP route named after the step, first, matching the step's method,
//!   path and headers, sending where the set-weight route sends and mirroring `percentage` percent
//!   (100 by default) to the canary. Managed routes are ordered as in `managedRoutes`, before the
//!   other routes. A step without match removes its route.
//! - **Removal** (`removeManagedRoutes`): the routes named by the Rollout's setHeaderRoute and
//!   setMirrorRoute steps and by `managedRoutes` are removed; a missing VirtualService is skipped.
//!
//! Events on the Rollout, Argo's (reason, type, message and when): `UpdatedDestinationRule`
//! (`DestinationRule <name> subset updated (<canarySubset>: <hash>, <stableSubset>: <hash>)`)
//! when `updateHash` changes the DestinationRule; `Updated VirtualService` (with its space) when
//! `setWeight` changes a VirtualService (`` VirtualService `<name>` set to desiredWeight '<w>' ``),
//! after every `setHeaderRoute` and `setMirrorRoute` write of one (`` set headerRoute '<route>' ``,
//! `` set mirrorRoute '<route>' ``: Argo writes in every call of the step), and when
//! `removeManagedRoutes` removes routes (`` removed all managed routes. ``: Argo's condition,
//! the Rollout has route steps or the VirtualService a managed route); Warnings
//! `VirtualServiceNotFound` and `DestinationRuleNotFound` (`` VirtualService `<name>` not found ``)
//! when one is missing. So that a missing VirtualService is warned about as Argo does,
//! `removeManagedRoutes` reads the VirtualServices even when the Rollout has no routes, up to
//! the first one that exists.
//!
//! Where this router differs from Argo's, it is to touch less: a DestinationRule subset that is
//! neither the canary's, the stable's nor an additional destination's is kept (Argo's reconciler
//! drops it), and only the experiment subsets the router added itself are removed when the
//! experiment ends (they are listed in the DestinationRule's [`MANAGED_SUBSETS_ANNOTATION`]).
//! Every write is a merge patch carrying the object's `resourceVersion` (Argo writes with an
//! update, which has the same guard), retried on a conflict, and nothing is written when nothing
//! changes. The router keeps no state. Verification: not implemented. The `networking.istio.io`
//! version is `v1alpha3`, Argo's default.
//!
//! Kubernetes grants (registry entry `kubernetes:`), exactly [`GRANTS`] (the ReplicaSet `list` is
//! only used by Rollouts without canary and stable Services):
//!
//! | apiGroup             | kinds                           | verbs      |
//! |----------------------|---------------------------------|------------|
//! | `networking.istio.io`| VirtualService, DestinationRule | get, patch |
//! | `apps`               | ReplicaSet                      | list       |

mod virtual_service;

use std::collections::BTreeSet;

use aviary_plugin_sdk::export_router;
use aviary_plugin_sdk::kubernetes::{Grant, ObjectRef, PatchType, Verb, merge_patch};
use aviary_plugin_sdk::router::{
    Context, Error, Router, SetHeaderRoute, SetMirrorRoute, StateUpdate, WeightDestination, log,
};
use serde::Deserialize;
use serde_json::{Value, json};

use virtual_service::{SPEC_HTTP_NOT_FOUND, Targets};

/// The Kubernetes grants this router needs, no more.
pub const GRANTS: &[Grant] = &[
    Grant {
        api_group: "networking.istio.io",
        kinds: &["VirtualService", "DestinationRule"],
        verbs: &[Verb::Get, Verb::Patch],
    },
    Grant { api_group: "apps", kinds: &["ReplicaSet"], verbs: &[Verb::List] },
];

/// The Istio API version the router reads and writes (Argo's default).
pub const ISTIO_API: &str = "networking.istio.io/v1alpha3";
/// The label of a ReplicaSet's pods Argo routes subsets by.
pub const HASH_LABEL: &str = "rollouts-pod-template-hash";
/// The annotation Argo puts on the DestinationRule it manages.
pub const MANAGED_BY_ANNOTATION: &str = "argo-rollouts.argoproj.io/managed-by-rollouts";
/// The annotation listing the experiment subsets this router added to a DestinationRule (a JSON
/// list of names): the only subsets it ever removes.
pub const MANAGED_SUBSETS_ANNOTATION: &str = "aviary.dev/istio-managed-subsets";

const ATTEMPTS: usize = 5;

/// A TLS route of the config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TlsRouteRef {
    /// The port its match has.
    pub port: i64,
    /// Its SNI hosts.
    pub sni_hosts: Vec<String>,
}

/// A TCP route of the config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct TcpRouteRef {
    /// The port its match has.
    pub port: i64,
}

/// One VirtualService of the config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VirtualServiceRef {
    /// `name` or `name.namespace`.
    pub name: String,
    /// The HTTP routes to weigh.
    pub routes: Vec<String>,
    /// The TLS routes to weigh.
    pub tls_routes: Vec<TlsRouteRef>,
    /// The TCP routes to weigh.
    pub tcp_routes: Vec<TcpRouteRef>,
}

/// The DestinationRule of subset-level splitting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DestinationRuleRef {
    /// Its name.
    pub name: String,
    /// The canary's subset.
    pub canary_subset_name: String,
    /// The stable's subset.
    pub stable_subset_name: String,
    /// Subsets whose weight is kept.
    pub additional_subset_names: Vec<String>,
}

/// `trafficRouting.istio`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Config {
    /// One VirtualService.
    pub virtual_service: Option<VirtualServiceRef>,
    /// Several VirtualServices (used when set).
    pub virtual_services: Option<Vec<VirtualServiceRef>>,
    /// The DestinationRule of subset-level splitting.
    pub destination_rule: Option<DestinationRuleRef>,
}

impl Config {
    fn virtual_services(&self) -> Result<Vec<VirtualServiceRef>, Error> {
        match (&self.virtual_services, &self.virtual_service) {
            (Some(list), _) => Ok(list.clone()),
            (None, Some(one)) => Ok(vec![one.clone()]),
            (None, None) => Err(Error::msg("trafficRouting.istio: neither virtualService nor virtualServices is set")),
        }
    }
}

/// The name of a VirtualService of the config, checked to be of the Rollout's namespace
/// (Argo's `GetVirtualServiceNamespaceName`: `name.namespace`, `.cluster.local` ignored).
fn virtual_service_name(ctx: &Context<'_>, configured: &str) -> Result<String, Error> {
    let trimmed = configured.strip_suffix(".cluster.local").unwrap_or(configured);
    match trimmed.rsplit_once('.') {
        Some((name, namespace)) if namespace != ctx.namespace => Err(Error(format!(
            "VirtualService {configured:?} is in namespace {namespace:?}: aviary/istio acts only in the Rollout's namespace {:?} ({name:?} there)",
            ctx.namespace
        ))),
        Some((name, _)) => Ok(name.to_string()),
        None => Ok(trimmed.to_string()),
    }
}

fn vs_ref(name: &str) -> ObjectRef {
    ObjectRef::new(ISTIO_API, "VirtualService", name)
}

/// Reads an object, lets `change` return the new values of some of its top-level-spec fields
/// and metadata, and writes them with the object's resourceVersion, again from the read when
/// another writer won the race. `change` returns the desired object; `None` writes nothing.
/// A missing object is Argo's Warning event (`VirtualServiceNotFound`, `DestinationRuleNotFound`).
fn update(
    ctx: &Context<'_>,
    object: &ObjectRef,
    missing_ok: bool,
    mut change: impl FnMut(&Value) -> Result<Option<Value>, Error>,
) -> Result<bool, Error> {
    let what = format!("{} {:?}", object.kind, object.name);
    for attempt in 1..=ATTEMPTS {
        let current = match ctx.cluster.get(object) {
            Ok(current) => current,
            Err(e) => {
                if e.is_not_found() {
                    not_found_event(ctx, object);
                }
                if missing_ok && e.is_not_found() {
                    return Ok(false);
                }
                return Err(Error(format!("{what}: {e}")));
            }
        };
        let Some(desired) = change(&current).map_err(|e| Error(format!("{what}: {}", e.0)))? else {
            return Ok(false);
        };
        let compared = |o: &Value| json!({"metadata": {"annotations": o.pointer("/metadata/annotations").cloned().unwrap_or(json!({}))}, "spec": o.get("spec").cloned().unwrap_or(json!({}))});
        let Some(mut patch) = merge_patch(&compared(&current), &compared(&desired)) else {
            return Ok(false);
        };
        if let Some(version) = current.pointer("/metadata/resourceVersion") {
            patch["metadata"]["resourceVersion"] = version.clone();
        }
        match ctx.cluster.patch(object, PatchType::Merge, &patch) {
            Ok(_) => return Ok(true),
            Err(e) if e.is_conflict() && attempt < ATTEMPTS => {
                log::debug(&format!("{what} changed while being updated; reading it again"));
            }
            Err(e) => return Err(Error(format!("{what}: {e}"))),
        }
    }
    unreachable!("the last attempt returns")
}

/// Argo's Warning when a VirtualService or DestinationRule is missing.
fn not_found_event(ctx: &Context<'_>, object: &ObjectRef) {
    ctx.warning_event(&format!("{}NotFound", object.kind), format!("{} `{}` not found", object.kind, object.name));
}

/// Argo's Normal event on a VirtualService write (its reason has a space, as Argo's has).
fn updated_event(ctx: &Context<'_>, name: &str, what: &str) {
    ctx.event("Updated VirtualService", format!("VirtualService `{name}` {what}"));
}

fn array_mut<'v>(object: &'v mut Value, key: &str) -> Option<&'v mut Vec<Value>> {
    object.get_mut("spec")?.get_mut(key)?.as_array_mut()
}

/// The Istio router.
pub struct Istio;

impl Istio {
    /// The canary host and subset of header and mirror routes: the DestinationRule's host and
    /// canary subset when there is one, the canary Service otherwise.
    fn canary_target(ctx: &Context<'_>, config: &Config) -> Result<(String, String), Error> {
        let (_, canary) = ctx.stable_and_canary_services();
        let Some(rule) = &config.destination_rule else {
            return Ok((canary, String::new()));
        };
        let object = ObjectRef::new(ISTIO_API, "DestinationRule", rule.name.as_str());
        let dr = ctx.cluster.get(&object).map_err(|e| {
            if e.is_not_found() {
                not_found_event(ctx, &object);
            }
            Error(format!("DestinationRule {:?}: {e}", rule.name))
        })?;
        let host = dr.pointer("/spec/host").and_then(Value::as_str).unwrap_or("");
        let host = if host.is_empty() { canary } else { host.to_string() };
        Ok((host, rule.canary_subset_name.clone()))
    }

    /// Argo's `shouldDelayDestinationRuleUpdate`: with neither canary nor stable Service, a
    /// ReplicaSet that is to take traffic and is not fully available delays the switch.
    fn delay(ctx: &Context<'_>, canary_hash: &str, stable_hash: &str) -> Result<(), Error> {
        if !ctx.canary_service().is_empty() || !ctx.stable_service().is_empty() {
            return Ok(());
        }
        let owned: Vec<Value> = ctx
            .cluster
            .list("apps/v1", "ReplicaSet", None)
            .map_err(|e| Error(format!("listing the Rollout's ReplicaSets: {e}")))?
            .into_iter()
            .filter(|rs| ctx.controls(rs))
            .collect();
        let hash_of = |rs: &Value| {
            rs.pointer(&format!("/metadata/labels/{HASH_LABEL}")).and_then(Value::as_str).unwrap_or("").to_string()
        };
        let rolling_back = ctx.rollout.pointer("/status/abort").and_then(Value::as_bool) == Some(true)
            || owned
                .iter()
                .find(|rs| hash_of(rs) == stable_hash)
                .is_some_and(|stable| dynamically_rolling_back(ctx, stable));
        for rs in &owned {
            let replicas = rs.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
            if replicas == 0 {
                continue;
            }
            let hash = hash_of(rs);
            if hash.is_empty() || (hash != stable_hash && hash != canary_hash) || (rolling_back && hash == canary_hash)
            {
                continue;
            }
            let available = rs.pointer("/status/availableReplicas").and_then(Value::as_i64).unwrap_or(0);
            if available == 0 || replicas > available {
                let name = rs.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
                log::info(&format!("delaying destination rule switch: ReplicaSet {name} not fully available"));
                return Err(Error(format!("delaying destination rule switch: ReplicaSet {name} not fully available")));
            }
        }
        Ok(())
    }
}

/// Argo's `IsDynamicallyRollingBackToStable` for the stable ReplicaSet.
fn dynamically_rolling_back(ctx: &Context<'_>, stable: &Value) -> bool {
    let r = &ctx.rollout;
    let fully_promoted = {
        let stable_rs = r.pointer("/status/stableRS").and_then(Value::as_str);
        stable_rs.is_some() && stable_rs == r.pointer("/status/currentPodHash").and_then(Value::as_str)
    };
    let dynamic = r.pointer("/spec/strategy/canary/dynamicStableScale").and_then(Value::as_bool) == Some(true);
    if !fully_promoted || !dynamic {
        return false;
    }
    let Some(current) = r.pointer("/status/canary/weights/canary/podTemplateHash").and_then(Value::as_str) else {
        return false;
    };
    let desired = stable.pointer(&format!("/metadata/labels/{HASH_LABEL}")).and_then(Value::as_str).unwrap_or("");
    let available = stable.pointer("/status/availableReplicas").and_then(Value::as_i64).unwrap_or(0);
    let replicas = r.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
    current != desired && available < replicas
}

/// The names of the subsets the router added (the annotation's list).
fn managed_subsets(dr: &Value) -> BTreeSet<String> {
    let pointer = format!("/metadata/annotations/{}", MANAGED_SUBSETS_ANNOTATION.replace('/', "~1"));
    dr.pointer(&pointer).and_then(Value::as_str).and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default()
}

/// The DestinationRule Argo's `UpdateHash` makes, keeping the subsets it does not manage.
fn hashed_destination_rule(
    dr: &Value,
    rule: &DestinationRuleRef,
    rollout: &str,
    canary_hash: &str,
    stable_hash: &str,
    additional: &[WeightDestination],
) -> Value {
    let mut desired = dr.clone();
    let mut managed = managed_subsets(dr);
    let mut pending: Vec<&WeightDestination> = additional.iter().collect();
    let set = |subset: &mut Value, hash: &str| {
        if !subset.get("labels").is_some_and(Value::is_object) {
            subset["labels"] = json!({});
        }
        let labels = subset["labels"].as_object_mut().expect("labels is an object");
        if hash.is_empty() {
            labels.remove(HASH_LABEL);
        } else {
            labels.insert(HASH_LABEL.into(), json!(hash));
        }
    };
    let mut subsets = Vec::new();
    for mut subset in dr.pointer("/spec/subsets").and_then(Value::as_array).cloned().unwrap_or_default() {
        let name = subset.get("name").and_then(Value::as_str).unwrap_or("").to_string();
        if name == rule.canary_subset_name {
            set(&mut subset, canary_hash);
        } else if name == rule.stable_subset_name {
            set(&mut subset, stable_hash);
        } else if let Some(i) = pending.iter().position(|d| d.service_name == name) {
            set(&mut subset, &pending.remove(i).pod_template_hash);
        } else if managed.contains(&name) {
            // An ended experiment's subset, added by this router: removed.
            managed.remove(&name);
            continue;
        }
        subsets.push(subset);
    }
    for d in pending {
        subsets.push(json!({"name": d.service_name, "labels": {HASH_LABEL: d.pod_template_hash}}));
        managed.insert(d.service_name.clone());
    }
    desired["spec"]["subsets"] = Value::Array(subsets);
    if !desired.pointer("/metadata/annotations").is_some_and(Value::is_object) {
        desired["metadata"]["annotations"] = json!({});
    }
    let annotations = desired["metadata"]["annotations"].as_object_mut().expect("annotations is an object");
    annotations.insert(MANAGED_BY_ANNOTATION.into(), json!(rollout));
    if managed.is_empty() {
        annotations.remove(MANAGED_SUBSETS_ANNOTATION);
    } else {
        annotations.insert(
            MANAGED_SUBSETS_ANNOTATION.into(),
            json!(serde_json::to_string(&managed).expect("names serialize")),
        );
    }
    desired
}

/// The names of the Rollout's setHeaderRoute and setMirrorRoute steps.
fn step_route_names(ctx: &Context<'_>) -> Vec<String> {
    let steps = ctx.rollout.pointer("/spec/strategy/canary/steps").and_then(Value::as_array);
    steps
        .into_iter()
        .flatten()
        .flat_map(|s| [s.pointer("/setHeaderRoute/name"), s.pointer("/setMirrorRoute/name")])
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

impl Router for Istio {
    type Config = Config;

    fn update_hash(
        ctx: &Context<'_>,
        config: Config,
        canary_hash: &str,
        stable_hash: &str,
        additional: &[WeightDestination],
    ) -> Result<StateUpdate, Error> {
        let Some(rule) = &config.destination_rule else {
            return Ok(None);
        };
        Self::delay(ctx, canary_hash, stable_hash)?;
        let object = ObjectRef::new(ISTIO_API, "DestinationRule", rule.name.as_str());
        let updated = update(ctx, &object, false, |dr| {
            Ok(Some(hashed_destination_rule(dr, rule, &ctx.rollout_name, canary_hash, stable_hash, additional)))
        })?;
        if updated {
            let message = format!(
                "DestinationRule {} subset updated ({}: {canary_hash}, {}: {stable_hash})",
                rule.name, rule.canary_subset_name, rule.stable_subset_name
            );
            log::info(&message);
            ctx.event("UpdatedDestinationRule", message);
        }
        Ok(None)
    }

    fn set_weight(
        ctx: &Context<'_>,
        config: Config,
        desired_weight: i32,
        additional: &[WeightDestination],
    ) -> Result<StateUpdate, Error> {
        let (stable, canary) = ctx.stable_and_canary_services();
        let targets = Targets::new(&stable, &canary, config.destination_rule.as_ref());
        let subsets = config.destination_rule.is_some();
        let managed = ctx.managed_routes();
        for vs in config.virtual_services()? {
            let name = virtual_service_name(ctx, &vs.name)?;
            let updated = update(ctx, &vs_ref(&name), false, |current| {
                let mut desired = current.clone();
                if let Some(http) = array_mut(&mut desired, "http") {
                    virtual_service::validate_http(&vs.routes, http, &targets, subsets, &managed)?;
                    // Mirror routes among the managed routes follow the weights too.
                    let mut names = vs.routes.clone();
                    for r in http.iter() {
                        let n = virtual_service::route_name(r);
                        if r.get("mirror").is_some_and(|m| !m.is_null()) && managed.iter().any(|m| m == n) {
                            names.push(n.to_string());
                        }
                    }
                    for i in virtual_service::http_indexes(&names, http).unwrap_or_default() {
                        virtual_service::weigh(&mut http[i], desired_weight.into(), &targets, additional);
                    }
                }
                if let Some(tls) = array_mut(&mut desired, "tls") {
                    let indexes = virtual_service::tls_indexes(&vs.tls_routes, tls)?;
                    virtual_service::validate_l4("tls", !vs.tls_routes.is_empty(), &indexes, tls, &targets, subsets)?;
                    for i in indexes {
                        if let Some(route) = tls.get_mut(i) {
                            virtual_service::weigh(route, desired_weight.into(), &targets, additional);
                        }
                    }
                }
                if let Some(tcp) = array_mut(&mut desired, "tcp") {
                    let indexes = virtual_service::tcp_indexes(&vs.tcp_routes, tcp)?;
                    virtual_service::validate_l4("tcp", !vs.tcp_routes.is_empty(), &indexes, tcp, &targets, subsets)?;
                    for i in indexes {
                        if let Some(route) = tcp.get_mut(i) {
                            virtual_service::weigh(route, desired_weight.into(), &targets, additional);
                        }
                    }
                }
                if desired == *current {
                    return Ok(None);
                }
                if let Some(http) = array_mut(&mut desired, "http") {
                    virtual_service::order_routes(http, &managed);
                }
                Ok(Some(desired))
            })?;
            if updated {
                updated_event(ctx, &name, &format!("set to desiredWeight '{desired_weight}'"));
            }
        }
        Ok(None)
    }

    fn set_header_route(ctx: &Context<'_>, config: Config, step: &SetHeaderRoute) -> Result<StateUpdate, Error> {
        let (host, subset) = Self::canary_target(ctx, &config)?;
        let managed = ctx.managed_routes();
        for vs in config.virtual_services()? {
            let name = virtual_service_name(ctx, &vs.name)?;
            update(ctx, &vs_ref(&name), false, |current| {
                let mut desired = current.clone();
                let http = array_mut(&mut desired, "http").ok_or_else(|| Error::msg(SPEC_HTTP_NOT_FOUND))?;
                virtual_service::remove_route(http, &step.name);
                if let Some(matches) = step.active_matches() {
                    let route = virtual_service::header_route(&step.name, matches, &vs.routes, http, &host, &subset);
                    http.push(route);
                }
                virtual_service::order_routes(http, &managed);
                Ok(Some(desired))
            })?;
            // Argo writes the VirtualService in every call of the step, and records this then.
            updated_event(ctx, &name, &format!("set headerRoute '{}'", step.name));
        }
        Ok(None)
    }

    fn set_mirror_route(ctx: &Context<'_>, config: Config, step: &SetMirrorRoute) -> Result<StateUpdate, Error> {
        let (host, subset) = Self::canary_target(ctx, &config)?;
        let managed = ctx.managed_routes();
        for vs in config.virtual_services()? {
            let name = virtual_service_name(ctx, &vs.name)?;
            update(ctx, &vs_ref(&name), false, |current| {
                let mut desired = current.clone();
                let http = array_mut(&mut desired, "http").ok_or_else(|| Error::msg(SPEC_HTTP_NOT_FOUND))?;
                virtual_service::remove_route(http, &step.name);
                if let Some(matches) = step.active_matches() {
                    let route = virtual_service::mirror_route(
                        &step.name,
                        matches,
                        step.percentage,
                        &vs.routes,
                        http,
                        &host,
                        &subset,
                    )?;
                    http.insert(0, route);
                }
                virtual_service::order_routes(http, &managed);
                Ok(Some(desired))
            })?;
            // Argo writes the VirtualService in every call of the step, and records this then.
            updated_event(ctx, &name, &format!("set mirrorRoute '{}'", step.name));
        }
        Ok(None)
    }

    fn remove_managed_routes(ctx: &Context<'_>, config: Config) -> Result<StateUpdate, Error> {
        let steps = step_route_names(ctx);
        let managed = ctx.managed_routes();
        for vs in config.virtual_services()? {
            let name = virtual_service_name(ctx, &vs.name)?;
            // As Argo: `removes` when the Rollout has route steps or the VirtualService has a
            // managed route (Argo then writes and records its event, even if nothing changed);
            // `done` when it has no HTTP routes or the Rollout no routes at all (Argo stops there).
            let (mut removes, mut done) = (false, false);
            // A VirtualService that is gone (Argo warns), or has no HTTP routes, has nothing of
            // ours left.
            update(ctx, &vs_ref(&name), true, |current| {
                let mut desired = current.clone();
                let Some(http) = array_mut(&mut desired, "http") else {
                    done = true;
                    return Ok(None);
                };
                removes = !steps.is_empty()
                    || http.iter().any(|r| managed.iter().any(|m| m == virtual_service::route_name(r)));
                done = steps.is_empty() && managed.is_empty();
                if !removes {
                    return Ok(None);
                }
                for n in steps.iter().chain(&managed) {
                    virtual_service::remove_route(http, n);
                }
                Ok(Some(desired))
            })?;
            if removes {
                updated_event(ctx, &name, "removed all managed routes.");
            }
            if done {
                break;
            }
        }
        Ok(None)
    }
}

export_router!(Istio);

#[cfg(test)]
mod tests;

//! Traffic routing (Argo's `reconcileTrafficRouting`): the engine's plan run on every router of
//! a canary, each a Wasm component called through the plugin host, whose Kubernetes calls go
//! through [`crate::kube_access::KubeAccess`], confined to the Rollout's namespace and the router's grants.
//!
//! Argo's routers map to first-party components: `trafficRouting.smi` → `aviary/smi`,
//! `nginx` → `aviary/nginx`, `istio` → `aviary/istio`, and the `argoproj-labs/gatewayAPI`
//! plugin → `aviary/gateway-api`. Any other `trafficRouting.plugins` key names a registry entry
//! of that name, so a team ports its router as a component without changing its manifests.

use std::sync::Arc;

use aviary_api::Rollout;
use aviary_api::rollout::RolloutTrafficRouting;
use aviary_api::rollout_status::WeightDestination;
use aviary_api::validation::FieldError;
use aviary_engine::rollout::traffic::{self, TrafficOperation, TrafficPlan};
use aviary_plugins::kubernetes::KubernetesApi;
use aviary_plugins::{RouterCall, RouterError, RouterOperation};
use kube::ResourceExt;

use crate::context::Context;
use crate::error::Error;

/// One router of a rollout: the plugin that serves it and its configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Router {
    /// The registry name (or first-party name) of the component.
    pub plugin: String,
    /// Its configuration: Argo's block for the router.
    pub config: serde_json::Value,
}

/// Argo's routers Aviary has no component for, by field.
const NOT_SHIPPED: &[&str] = &["alb", "ambassador", "appMesh", "traefik", "apisix"];

/// The routers of `trafficRouting`, in Argo's order (istio, nginx, smi, then the plugins by
/// name); `Err` names the first router field no component serves.
pub fn routers(tr: &RolloutTrafficRouting) -> Result<Vec<Router>, FieldError> {
    let shipped = [
        ("alb", tr.alb.is_some()),
        ("ambassador", tr.ambassador.is_some()),
        ("appMesh", tr.app_mesh.is_some()),
        ("traefik", tr.traefik.is_some()),
        ("apisix", tr.apisix.is_some()),
    ];
    if let Some((field, _)) = shipped.iter().find(|(_, set)| *set) {
        debug_assert!(NOT_SHIPPED.contains(field));
        return Err(FieldError::forbidden(
            format!("spec.strategy.canary.trafficRouting.{field}"),
            format!(
                "aviary-controller has no {field} router yet; register a traffic-router component and name it under trafficRouting.plugins"
            ),
        ));
    }
    let mut out = Vec::new();
    if let Some(istio) = &tr.istio {
        out.push(Router { plugin: "aviary/istio".into(), config: value(istio) });
    }
    if let Some(nginx) = &tr.nginx {
        out.push(Router { plugin: "aviary/nginx".into(), config: value(nginx) });
    }
    if let Some(smi) = &tr.smi {
        out.push(Router { plugin: "aviary/smi".into(), config: value(smi) });
    }
    for (name, config) in &tr.plugins {
        // A first-party router answers to Argo's plugin name (`argoproj-labs/gatewayAPI`).
        let plugin = aviary_plugins::builtin::find(name).map_or_else(|| name.clone(), |b| b.name.to_string());
        out.push(Router { plugin, config: config.clone() });
    }
    Ok(out)
}

/// Adds the controller's TrafficSplit version (`--traffic-split-api-version`) to `aviary/smi`'s
/// config: Argo's `smi` block has no version, its controller flag decides.
fn pin_traffic_split_version(router: &mut Router, version: Option<&str>) {
    if let (Some(version), "aviary/smi", serde_json::Value::Object(config)) =
        (version, router.plugin.as_str(), &mut router.config)
    {
        config.entry("apiVersion").or_insert_with(|| version.into());
    }
}

/// A router block as JSON (the API types always serialise).
fn value<T: serde::Serialize>(block: &T) -> serde_json::Value {
    serde_json::to_value(block).unwrap_or(serde_json::Value::Null)
}

/// Whether every router of the rollout is served by a loaded component; `Err` is the
/// InvalidSpec message naming the plugin.
pub fn check_available(ctx: &Context, rollout: &Rollout) -> Result<(), String> {
    let Some(tr) = rollout.spec.canary().and_then(|c| c.traffic_routing.as_ref()) else { return Ok(()) };
    for router in routers(tr).map_err(|e| e.to_string())? {
        if let Err(reason) = ctx.plugins.router_available(&router.plugin) {
            return Err(format!("spec.strategy.canary.trafficRouting: router {:?}: {reason}", router.plugin));
        }
    }
    Ok(())
}

/// What the routers answered, for the rest of the reconcile.
#[derive(Debug, Default)]
pub struct Outcome {
    /// `verify-weight`'s answer (`None`: not asked, or the routers cannot tell).
    pub verified: Option<bool>,
}

/// Runs `plan` on every router of the rollout. The first failing operation ends the reconcile
/// with an error (after a `TrafficRoutingError` event when it was a weight), before anything is
/// scaled: a router that fails never leaves the rollout half-routed by a later step.
pub async fn run(ctx: &Context, rollout: &Rollout, plan: &TrafficPlan) -> Result<Outcome, Error> {
    let Some(tr) = rollout.spec.canary().and_then(|c| c.traffic_routing.as_ref()) else {
        return Ok(Outcome::default());
    };
    let routers = routers(tr).map_err(|e| Error::Invalid(e.to_string()))?;
    let namespace = rollout.namespace().unwrap_or_default();
    let name = rollout.name_any();
    let json = serde_json::to_string(rollout).map_err(Error::serde("serialising the Rollout for its routers"))?;
    let api: Arc<dyn KubernetesApi> = ctx.kube_access.clone();
    let uid = rollout.metadata.uid.clone().unwrap_or_default();
    let mut outcome = Outcome::default();
    for mut router in routers {
        pin_traffic_split_version(&mut router, ctx.traffic_split_api_version.as_deref());
        let config = router.config.to_string();
        let key = format!("{uid}/{}", router.plugin);
        for op in &plan.operations {
            let operation = operation(op).map_err(Error::serde("serialising a route step for a router"))?;
            let state = ctx.router_state(&key);
            let call = RouterCall {
                namespace: &namespace,
                rollout_name: &name,
                rollout: &json,
                config: &config,
                state: state.as_deref(),
            };
            let answer = ctx.plugins.route(&router.plugin, call, &operation, api.clone()).await;
            // The router's own events (Argo's routers record theirs on the Rollout), on success
            // and before a failure is reported.
            let events = match &answer {
                Ok(reply) => reply.events.clone(),
                Err(e) => e.events().to_vec(),
            };
            for e in events {
                ctx.event(rollout, e.warning, &e.reason, e.message).await;
            }
            let reply = match answer {
                Ok(reply) => reply,
                Err(e) if matches!(op, TrafficOperation::VerifyWeight { .. }) => {
                    // Argo carries on after a failed verification: the weight is set.
                    let message = format!("Failed to verify weight: {e}");
                    ctx.event(rollout, true, traffic::WEIGHT_VERIFY_ERROR, message).await;
                    return Ok(outcome);
                }
                Err(e) => {
                    let weight = matches!(op, TrafficOperation::SetWeight { .. });
                    return Err(failed(ctx, rollout, &router.plugin, operation.name(), weight, e).await);
                }
            };
            if let Some(state) = reply.state {
                ctx.set_router_state(key.clone(), state);
            }
            if let Some(v) = reply.verification {
                outcome.verified = v.as_status();
            }
        }
    }
    if plan.verify_blocks && outcome.verified == Some(false) {
        return Err(Error::Router(format!("end of rollout, desired weight {} not yet verified", plan.desired_weight)));
    }
    Ok(outcome)
}

/// The error of a failed operation. Recorded as a `TrafficRoutingError` event on the Rollout
/// where Argo records one: a weight that could not be set. A router's error in any other
/// operation (Istio's `delaying destination rule switch` while a ReplicaSet comes up) is only
/// logged and retried, as under Argo, so the Rollout's Events stay Argo's. A call the sandbox
/// ended (deadline, memory, trap) has no Argo counterpart and is always recorded, so that a
/// rollout stuck on a broken plugin says why; a refused Kubernetes request has its own event
/// (`PluginAccessDenied`, from the call's Events).
async fn failed(
    ctx: &Context,
    rollout: &Rollout,
    plugin: &str,
    operation: &str,
    weight: bool,
    e: RouterError,
) -> Error {
    let message = match &e {
        RouterError::Router { .. } => e.to_string(),
        RouterError::Plugin(_) => format!("{plugin} {operation}: {e}"),
    };
    if weight || matches!(e, RouterError::Plugin(_)) {
        ctx.event(rollout, true, traffic::ROUTING_ERROR, message.clone()).await;
    } else {
        tracing::info!(target: "aviary::routing", rollout = %rollout.name_any(), "{message}");
    }
    Error::Router(message)
}

fn destinations(d: &[WeightDestination]) -> Vec<aviary_plugins::WeightDestination> {
    d.iter()
        .map(|d| aviary_plugins::WeightDestination {
            service_name: d.service_name.clone(),
            pod_template_hash: d.pod_template_hash.clone(),
            weight: d.weight,
        })
        .collect()
}

/// The plugin host's form of an engine operation.
fn operation(op: &TrafficOperation) -> Result<RouterOperation, serde_json::Error> {
    Ok(match op {
        TrafficOperation::RemoveManagedRoutes => RouterOperation::RemoveManagedRoutes,
        TrafficOperation::SetHeaderRoute(h) => RouterOperation::SetHeaderRoute(serde_json::to_string(h)?),
        TrafficOperation::SetMirrorRoute(m) => RouterOperation::SetMirrorRoute(serde_json::to_string(m)?),
        TrafficOperation::UpdateHash { canary_hash, stable_hash, additional } => RouterOperation::UpdateHash {
            canary_hash: canary_hash.clone(),
            stable_hash: stable_hash.clone(),
            additional: destinations(additional),
        },
        TrafficOperation::SetWeight { weight, additional } => {
            RouterOperation::SetWeight { weight: *weight, additional: destinations(additional) }
        }
        TrafficOperation::VerifyWeight { weight, additional } => {
            RouterOperation::VerifyWeight { weight: *weight, additional: destinations(additional) }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aviary_api::rollout::{NginxTrafficRouting, SmiTrafficRouting};

    #[test]
    fn argo_routers_map_to_first_party_components_and_plugins_to_their_entries() {
        let tr = RolloutTrafficRouting {
            nginx: Some(NginxTrafficRouting { stable_ingress: "web".into(), ..Default::default() }),
            smi: Some(SmiTrafficRouting { root_service: "root".into(), ..Default::default() }),
            plugins: [
                ("argoproj-labs/gatewayAPI".to_string(), serde_json::json!({"httpRoute": "r"})),
                ("acme/mesh".to_string(), serde_json::json!({"x": 1})),
            ]
            .into(),
            ..Default::default()
        };
        let got: Vec<(String, serde_json::Value)> =
            routers(&tr).unwrap().into_iter().map(|r| (r.plugin, r.config)).collect();
        assert_eq!(
            got,
            vec![
                ("aviary/nginx".to_string(), serde_json::json!({"stableIngress": "web"})),
                ("aviary/smi".to_string(), serde_json::json!({"rootService": "root"})),
                // The plugins by name (Argo iterates its map in no set order).
                ("acme/mesh".to_string(), serde_json::json!({"x": 1})),
                ("aviary/gateway-api".to_string(), serde_json::json!({"httpRoute": "r"})),
            ]
        );
        let alb = RolloutTrafficRouting { alb: Some(Default::default()), ..Default::default() };
        let err = routers(&alb).unwrap_err().to_string();
        assert!(err.starts_with("spec.strategy.canary.trafficRouting.alb: "), "{err}");
        assert!(err.contains("aviary-controller has no alb router yet"), "{err}");
    }

    /// `--traffic-split-api-version` reaches `aviary/smi` only, and never overrides a version the
    /// config already names.
    #[test]
    fn the_traffic_split_version_flag_pins_the_smi_router_only() {
        let smi = || Router { plugin: "aviary/smi".into(), config: serde_json::json!({"rootService": "root"}) };
        let mut pinned = smi();
        pin_traffic_split_version(&mut pinned, Some("v1alpha3"));
        assert_eq!(pinned.config, serde_json::json!({"rootService": "root", "apiVersion": "v1alpha3"}));
        let mut unpinned = smi();
        pin_traffic_split_version(&mut unpinned, None);
        assert_eq!(unpinned.config, smi().config);
        let mut named = Router { plugin: "aviary/smi".into(), config: serde_json::json!({"apiVersion": "v1alpha2"}) };
        pin_traffic_split_version(&mut named, Some("v1alpha3"));
        assert_eq!(named.config, serde_json::json!({"apiVersion": "v1alpha2"}));
        let mut nginx = Router { plugin: "aviary/nginx".into(), config: serde_json::json!({}) };
        pin_traffic_split_version(&mut nginx, Some("v1alpha3"));
        assert_eq!(nginx.config, serde_json::json!({}));
    }
}

//! Traffic routers: the [`Router`] trait and the glue that exports it as the `traffic-router`
//! world of `aviary:plugin@0.2.0` (feature `router`).
//!
//! A router shifts a canary's traffic by editing routing objects through the [`Cluster`] of its
//! [`Context`]. The controller calls the operations in Argo Rollouts' order, in every reconcile:
//! [`Router::update_hash`], [`Router::set_weight`], [`Router::set_header_route`] and
//! [`Router::set_mirror_route`] (during their steps), [`Router::verify_weight`], and
//! [`Router::remove_managed_routes`] (at the end of a rollout, on abort, when the canary has no
//! pods). Each must be idempotent and touch only what the router manages.
//!
//! ```ignore
//! use aviary_plugin_sdk::router::{Context, Error, Router, StateUpdate, WeightDestination};
//! use aviary_plugin_sdk::export_router;
//!
//! #[derive(serde::Deserialize)]
//! struct Config { route: String }
//!
//! struct MyRouter;
//! impl Router for MyRouter {
//!     type Config = Config;
//!     fn set_weight(ctx: &Context<'_>, config: Config, weight: i32, _: &[WeightDestination]) -> Result<StateUpdate, Error> {
//!         let route = ctx.cluster.get(&ObjectRef::new("example.com/v1", "Route", &config.route))?;
//!         // ... patch it
//!         Ok(None)
//!     }
//! }
//! export_router!(MyRouter);
//! ```
//!
//! The state: what an operation returns as `Some(state)` is handed back in [`Context::state`]
//! on the next call for the same Rollout, until the controller restarts. A router must be able
//! to rebuild everything it needs from the objects it manages; the state is a cache, never the
//! only record of what the router did.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

pub use crate::kubernetes::Event;
use crate::kubernetes::{self, Cluster};

/// Bindings generated from `wit/v0.2` for the `traffic-router` world. Public so that
/// [`crate::export_router!`] can name them from the router's crate; not meant for direct use.
#[doc(hidden)]
#[allow(missing_docs, clippy::too_many_arguments)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/v0.2",
        world: "traffic-router",
        pub_export_macro: true,
        export_macro_name: "__aviary_export_traffic_router",
        default_bindings_module: "aviary_plugin_sdk::router::bindings",
    });
}

use bindings::aviary::plugin::routing as wit;

/// The contract version of the `traffic-router` world this SDK builds against.
pub const CONTRACT_VERSION: &str = "0.2.0";

/// What an operation keeps for the next call on the same Rollout: `None` keeps the old state.
pub type StateUpdate = Option<Value>;

/// Why a router operation failed: the message is reported on the Rollout (a
/// `TrafficRoutingError` event) and the operation is retried. Name the object and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Error(pub String);

impl Error {
    /// An error with the given message.
    pub fn msg(message: impl std::fmt::Display) -> Self {
        Error(message.to_string())
    }
}

impl From<kubernetes::Error> for Error {
    fn from(e: kubernetes::Error) -> Self {
        Error(e.to_string())
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error(e.to_string())
    }
}

/// One destination of traffic besides the canary and the stable (an experiment's template).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WeightDestination {
    /// The Service that selects its pods.
    pub service_name: String,
    /// The pod-template-hash of its ReplicaSet.
    pub pod_template_hash: String,
    /// Its weight, out of the rollout's maxTrafficWeight.
    pub weight: i32,
}

/// Whether a router confirmed a weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The router cannot tell (most routers).
    NotImplemented,
    /// The traffic is split as asked.
    Verified,
    /// Not yet: the controller asks again later.
    NotVerified,
}

/// Argo's `StringMatch`: one of `exact`, `prefix`, `regex` (empty strings are unset).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StringMatch {
    /// Exact value.
    pub exact: String,
    /// Prefix.
    pub prefix: String,
    /// Regular expression.
    pub regex: String,
}

/// One header of a `setHeaderRoute` step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HeaderRoutingMatch {
    /// The header's name.
    pub header_name: String,
    /// How its value matches.
    pub header_value: StringMatch,
}

/// A `setHeaderRoute` step: requests matching the headers go to the canary. No match (or an
/// empty list) removes the route.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct SetHeaderRoute {
    /// The route's name (one of `trafficRouting.managedRoutes`).
    pub name: String,
    /// The headers; `None` or empty removes the route.
    #[serde(rename = "match")]
    pub matches: Option<Vec<HeaderRoutingMatch>>,
}

impl SetHeaderRoute {
    /// The matches when the step sets the route; `None` when it removes it.
    pub fn active_matches(&self) -> Option<&[HeaderRoutingMatch]> {
        self.matches.as_deref().filter(|m| !m.is_empty())
    }
}

/// One match of a `setMirrorRoute` step; all given parts must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct RouteMatch {
    /// The HTTP method.
    pub method: Option<StringMatch>,
    /// The request path.
    pub path: Option<StringMatch>,
    /// Headers by name.
    pub headers: Option<BTreeMap<String, StringMatch>>,
}

/// A `setMirrorRoute` step: matching requests are copied to the canary. No match (or an empty
/// list) removes the route.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct SetMirrorRoute {
    /// The route's name (one of `trafficRouting.managedRoutes`).
    pub name: String,
    /// The matches; `None` or empty removes the route.
    #[serde(rename = "match")]
    pub matches: Option<Vec<RouteMatch>>,
    /// The share of matching requests copied, in percent (100 when unset).
    pub percentage: Option<i32>,
}

impl SetMirrorRoute {
    /// The matches when the step sets the route; `None` when it removes it.
    pub fn active_matches(&self) -> Option<&[RouteMatch]> {
        self.matches.as_deref().filter(|m| !m.is_empty())
    }
}

/// What every router operation gets: the Rollout, the router's previous state, and the cluster
/// to act on.
pub struct Context<'a> {
    /// Namespace of the Rollout; every cluster call is confined to it.
    pub namespace: String,
    /// Name of the Rollout.
    pub rollout_name: String,
    /// The whole Rollout (spec and status) as the controller sees it in this reconcile.
    pub rollout: Value,
    /// What this router returned as its state for this Rollout last time; `None` at first and
    /// after a controller restart.
    pub state: Option<Value>,
    /// Where Kubernetes calls go: the host in the component, a fake in tests.
    pub cluster: &'a dyn Cluster,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("namespace", &self.namespace)
            .field("rollout_name", &self.rollout_name)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

fn str_at<'v>(value: &'v Value, pointer: &str) -> &'v str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

impl<'a> Context<'a> {
    /// A context for `rollout` (its namespace and name from its metadata), without state: what
    /// tests build.
    pub fn new(rollout: Value, cluster: &'a dyn Cluster) -> Self {
        Self {
            namespace: str_at(&rollout, "/metadata/namespace").to_string(),
            rollout_name: str_at(&rollout, "/metadata/name").to_string(),
            rollout,
            state: None,
            cluster,
        }
    }

    /// The same context with a previous state.
    pub fn with_state(mut self, state: Option<Value>) -> Self {
        self.state = state;
        self
    }

    /// Records a Kubernetes Event on the Rollout (a `Warning` one when `warning`), as Argo's
    /// built-in routers do: through the host in the component (which records it after the call,
    /// even when the operation answers an error), into the fake cluster in tests
    /// (`FakeCluster::events`). The host drops an event whose reason is not a short word (see
    /// [`kubernetes::valid_event_reason`]) and those past [`kubernetes::MAX_EVENTS_PER_CALL`] in
    /// a call, and cuts messages to [`kubernetes::MAX_EVENT_MESSAGE`] bytes.
    pub fn record_event(&self, warning: bool, reason: &str, message: impl Into<String>) {
        self.cluster.record_event(Event { warning, reason: reason.to_string(), message: message.into() });
    }

    /// Records a `Normal` Event on the Rollout (see [`Context::record_event`]).
    pub fn event(&self, reason: &str, message: impl Into<String>) {
        self.record_event(false, reason, message);
    }

    /// Records a `Warning` Event on the Rollout (see [`Context::record_event`]).
    pub fn warning_event(&self, reason: &str, message: impl Into<String>) {
        self.record_event(true, reason, message);
    }

    /// A string at a JSON pointer into the Rollout (`/spec/strategy/canary/canaryService`);
    /// empty when absent.
    pub fn rollout_str(&self, pointer: &str) -> &str {
        str_at(&self.rollout, pointer)
    }

    /// `spec.strategy.canary.canaryService`.
    pub fn canary_service(&self) -> &str {
        self.rollout_str("/spec/strategy/canary/canaryService")
    }

    /// `spec.strategy.canary.stableService`.
    pub fn stable_service(&self) -> &str {
        self.rollout_str("/spec/strategy/canary/stableService")
    }

    /// The stable and canary Services as Argo's `GetStableAndCanaryServices(rollout, false)`
    /// picks them: the `stableService` and `canaryService`, or, when neither is set and
    /// `pingPong` is, the ping and pong Services in the roles `status.canary.stablePingPong`
    /// gives them.
    pub fn stable_and_canary_services(&self) -> (String, String) {
        let (stable, canary) = (self.stable_service(), self.canary_service());
        let ping = self.rollout_str("/spec/strategy/canary/pingPong/pingService");
        let pong = self.rollout_str("/spec/strategy/canary/pingPong/pongService");
        let ping_pong = self.rollout.pointer("/spec/strategy/canary/pingPong").is_some_and(|p| !p.is_null());
        if ping_pong && stable.is_empty() && canary.is_empty() {
            if self.rollout_str("/status/canary/stablePingPong") == "ping" {
                return (ping.to_string(), pong.to_string());
            }
            return (pong.to_string(), ping.to_string());
        }
        (stable.to_string(), canary.to_string())
    }

    /// `spec.strategy.canary.trafficRouting.maxTrafficWeight`, when set.
    pub fn max_traffic_weight_setting(&self) -> Option<i32> {
        self.rollout
            .pointer("/spec/strategy/canary/trafficRouting/maxTrafficWeight")
            .and_then(Value::as_i64)
            .and_then(|w| i32::try_from(w).ok())
    }

    /// The weight that means all traffic: `maxTrafficWeight`, 100 when unset.
    pub fn max_traffic_weight(&self) -> i32 {
        self.max_traffic_weight_setting().unwrap_or(100)
    }

    /// The names of `spec.strategy.canary.trafficRouting.managedRoutes`, in order.
    pub fn managed_routes(&self) -> Vec<String> {
        self.rollout
            .pointer("/spec/strategy/canary/trafficRouting/managedRoutes")
            .and_then(Value::as_array)
            .map(|routes| {
                routes.iter().filter_map(|r| r.get("name").and_then(Value::as_str)).map(str::to_string).collect()
            })
            .unwrap_or_default()
    }

    /// The Rollout's `metadata.uid`.
    pub fn uid(&self) -> &str {
        self.rollout_str("/metadata/uid")
    }

    /// The owner reference that makes the Rollout the controller of an object (Argo's
    /// `metav1.NewControllerRef(rollout, Rollout kind)`): the object is deleted with the Rollout.
    pub fn controller_reference(&self) -> Value {
        json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Rollout",
            "name": self.rollout_name,
            "uid": self.uid(),
            "controller": true,
            "blockOwnerDeletion": true,
        })
    }

    /// Whether this Rollout is the controller of `object` (Argo's `metav1.IsControlledBy`: the
    /// controller owner reference carries the Rollout's uid).
    pub fn controls(&self, object: &Value) -> bool {
        kubernetes::controller_of(object).and_then(|r| r.get("uid")).and_then(Value::as_str) == Some(self.uid())
    }
}

/// A traffic router. Implement it for a unit type and export it with
/// [`crate::export_router!`]. Every operation but [`Router::set_weight`] has a default that does
/// nothing (Argo's built-in routers do nothing for the operations they do not support).
pub trait Router {
    /// The router's configuration: the value of its key under `trafficRouting.plugins`, or the
    /// block of a built-in router (`trafficRouting.smi`). A config that does not deserialize is an
    /// error naming the problem, before the operation is called.
    type Config: DeserializeOwned;

    /// Points the routing at the canary and stable ReplicaSets of these pod-template hashes
    /// (empty when there is none), for routers that route by hash (subsets).
    fn update_hash(
        ctx: &Context<'_>,
        config: Self::Config,
        canary_hash: &str,
        stable_hash: &str,
        additional: &[WeightDestination],
    ) -> Result<StateUpdate, Error> {
        let _ = (ctx, config, canary_hash, stable_hash, additional);
        Ok(None)
    }

    /// Sends `desired_weight` (out of maxTrafficWeight) to the canary, each additional
    /// destination its own weight, and the rest to the stable.
    fn set_weight(
        ctx: &Context<'_>,
        config: Self::Config,
        desired_weight: i32,
        additional: &[WeightDestination],
    ) -> Result<StateUpdate, Error>;

    /// Applies a `setHeaderRoute` step.
    fn set_header_route(ctx: &Context<'_>, config: Self::Config, route: &SetHeaderRoute) -> Result<StateUpdate, Error> {
        let _ = (ctx, config, route);
        Ok(None)
    }

    /// Applies a `setMirrorRoute` step.
    fn set_mirror_route(ctx: &Context<'_>, config: Self::Config, route: &SetMirrorRoute) -> Result<StateUpdate, Error> {
        let _ = (ctx, config, route);
        Ok(None)
    }

    /// Whether the weight set last is in effect. The default cannot tell.
    fn verify_weight(
        ctx: &Context<'_>,
        config: Self::Config,
        desired_weight: i32,
        additional: &[WeightDestination],
    ) -> Result<(Verification, StateUpdate), Error> {
        let _ = (ctx, config, desired_weight, additional);
        Ok((Verification::NotImplemented, None))
    }

    /// Removes every header and mirror route the router added.
    fn remove_managed_routes(ctx: &Context<'_>, config: Self::Config) -> Result<StateUpdate, Error> {
        let _ = (ctx, config);
        Ok(None)
    }
}

/// Records an Event on the Rollout of the current call through the host (the component's
/// `record-event` import); prefer [`Context::record_event`], which tests can observe.
pub fn event(warning: bool, reason: &str, message: &str) {
    kubernetes::Host.record_event(Event { warning, reason: reason.to_string(), message: message.to_string() });
}

/// Logging into the host's logs through the `aviary:plugin/log@0.2.0` import (a router must not
/// use [`crate::log`], which is the 0.1.0 import). Natively (in unit tests) lines go to stderr.
pub mod log {
    world_log!();
}

// ---- export glue ----

fn call<R: Router, T>(
    ctx: wit::RouterContext,
    f: impl FnOnce(&Context<'_>, R::Config) -> Result<T, Error>,
) -> Result<T, String> {
    let rollout: Value =
        serde_json::from_str(&ctx.rollout).map_err(|e| format!("invalid Rollout JSON from the host: {e}"))?;
    let state = match ctx.state {
        Some(text) => {
            Some(serde_json::from_str::<Value>(&text).map_err(|e| format!("invalid state JSON from the host: {e}"))?)
        }
        None => None,
    };
    let config: R::Config = serde_json::from_str(&ctx.config).map_err(|e| format!("invalid config: {e}"))?;
    let host = kubernetes::Host;
    let context = Context { namespace: ctx.namespace, rollout_name: ctx.rollout_name, rollout, state, cluster: &host };
    f(&context, config).map_err(|e| e.0)
}

fn state_out(state: StateUpdate) -> Option<String> {
    state.map(|s| s.to_string())
}

fn destinations(additional: Vec<wit::WeightDestination>) -> Vec<WeightDestination> {
    additional
        .into_iter()
        .map(|d| WeightDestination {
            service_name: d.service_name,
            pod_template_hash: d.pod_template_hash,
            weight: d.weight,
        })
        .collect()
}

fn step<T: DeserializeOwned>(what: &str, json: &str) -> Result<T, String> {
    serde_json::from_str(json).map_err(|e| format!("invalid {what} from the host: {e}"))
}

/// Runs [`Router::update_hash`] for the exported glue.
#[doc(hidden)]
pub fn run_update_hash<R: Router>(
    ctx: wit::RouterContext,
    canary_hash: String,
    stable_hash: String,
    additional: Vec<wit::WeightDestination>,
) -> Result<Option<String>, String> {
    let additional = destinations(additional);
    call::<R, _>(ctx, |c, config| R::update_hash(c, config, &canary_hash, &stable_hash, &additional)).map(state_out)
}

/// Runs [`Router::set_weight`] for the exported glue.
#[doc(hidden)]
pub fn run_set_weight<R: Router>(
    ctx: wit::RouterContext,
    desired_weight: i32,
    additional: Vec<wit::WeightDestination>,
) -> Result<Option<String>, String> {
    let additional = destinations(additional);
    call::<R, _>(ctx, |c, config| R::set_weight(c, config, desired_weight, &additional)).map(state_out)
}

/// Runs [`Router::set_header_route`] for the exported glue.
#[doc(hidden)]
pub fn run_set_header_route<R: Router>(ctx: wit::RouterContext, route: String) -> Result<Option<String>, String> {
    let route: SetHeaderRoute = step("setHeaderRoute", &route)?;
    call::<R, _>(ctx, |c, config| R::set_header_route(c, config, &route)).map(state_out)
}

/// Runs [`Router::set_mirror_route`] for the exported glue.
#[doc(hidden)]
pub fn run_set_mirror_route<R: Router>(ctx: wit::RouterContext, route: String) -> Result<Option<String>, String> {
    let route: SetMirrorRoute = step("setMirrorRoute", &route)?;
    call::<R, _>(ctx, |c, config| R::set_mirror_route(c, config, &route)).map(state_out)
}

/// Runs [`Router::verify_weight`] for the exported glue.
#[doc(hidden)]
pub fn run_verify_weight<R: Router>(
    ctx: wit::RouterContext,
    desired_weight: i32,
    additional: Vec<wit::WeightDestination>,
) -> Result<(wit::Verification, Option<String>), String> {
    let additional = destinations(additional);
    let (verification, state) =
        call::<R, _>(ctx, |c, config| R::verify_weight(c, config, desired_weight, &additional))?;
    let verification = match verification {
        Verification::NotImplemented => wit::Verification::NotImplemented,
        Verification::Verified => wit::Verification::Verified,
        Verification::NotVerified => wit::Verification::NotVerified,
    };
    Ok((verification, state_out(state)))
}

/// Runs [`Router::remove_managed_routes`] for the exported glue.
#[doc(hidden)]
pub fn run_remove_managed_routes<R: Router>(ctx: wit::RouterContext) -> Result<Option<String>, String> {
    call::<R, _>(ctx, |c, config| R::remove_managed_routes(c, config)).map(state_out)
}

/// Exports a [`Router`] implementation as this component's `traffic-router` world.
#[macro_export]
macro_rules! export_router {
    ($router:ty) => {
        #[doc(hidden)]
        struct __AviaryRouterExport;

        impl $crate::router::bindings::Guest for __AviaryRouterExport {
            fn update_hash(
                context: $crate::router::bindings::RouterContext,
                canary_hash: ::std::string::String,
                stable_hash: ::std::string::String,
                additional: ::std::vec::Vec<$crate::router::bindings::WeightDestination>,
            ) -> ::std::result::Result<::std::option::Option<::std::string::String>, ::std::string::String> {
                $crate::router::run_update_hash::<$router>(context, canary_hash, stable_hash, additional)
            }
            fn set_weight(
                context: $crate::router::bindings::RouterContext,
                desired_weight: i32,
                additional: ::std::vec::Vec<$crate::router::bindings::WeightDestination>,
            ) -> ::std::result::Result<::std::option::Option<::std::string::String>, ::std::string::String> {
                $crate::router::run_set_weight::<$router>(context, desired_weight, additional)
            }
            fn set_header_route(
                context: $crate::router::bindings::RouterContext,
                route: ::std::string::String,
            ) -> ::std::result::Result<::std::option::Option<::std::string::String>, ::std::string::String> {
                $crate::router::run_set_header_route::<$router>(context, route)
            }
            fn set_mirror_route(
                context: $crate::router::bindings::RouterContext,
                route: ::std::string::String,
            ) -> ::std::result::Result<::std::option::Option<::std::string::String>, ::std::string::String> {
                $crate::router::run_set_mirror_route::<$router>(context, route)
            }
            fn verify_weight(
                context: $crate::router::bindings::RouterContext,
                desired_weight: i32,
                additional: ::std::vec::Vec<$crate::router::bindings::WeightDestination>,
            ) -> ::std::result::Result<
                ($crate::router::bindings::Verification, ::std::option::Option<::std::string::String>),
                ::std::string::String,
            > {
                $crate::router::run_verify_weight::<$router>(context, desired_weight, additional)
            }
            fn remove_managed_routes(
                context: $crate::router::bindings::RouterContext,
            ) -> ::std::result::Result<::std::option::Option<::std::string::String>, ::std::string::String> {
                $crate::router::run_remove_managed_routes::<$router>(context)
            }
        }

        $crate::router::bindings::__aviary_export_traffic_router!(
            __AviaryRouterExport with_types_in $crate::router::bindings
        );
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_decode_as_argo_writes_them() {
        let header: SetHeaderRoute = serde_json::from_value(json!({
            "name": "canary-header",
            "match": [{"headerName": "x-canary", "headerValue": {"exact": "yes"}}]
        }))
        .unwrap();
        assert_eq!(header.active_matches().unwrap()[0].header_value.exact, "yes");
        let removal: SetHeaderRoute = serde_json::from_value(json!({"name": "canary-header"})).unwrap();
        assert!(removal.active_matches().is_none());
        let mirror: SetMirrorRoute = serde_json::from_value(json!({
            "name": "m", "percentage": 20,
            "match": [{"method": {"exact": "GET"}, "path": {"prefix": "/api"}, "headers": {"a": {"regex": "b.*"}}}]
        }))
        .unwrap();
        assert_eq!(mirror.percentage, Some(20));
        assert_eq!(mirror.active_matches().unwrap()[0].path.as_ref().unwrap().prefix, "/api");
    }

    #[cfg(feature = "testing")]
    #[test]
    fn the_context_reads_the_rollout_as_argo_does() {
        let cluster = crate::kubernetes::fake::FakeCluster::new("ns");
        let rollout = json!({
            "metadata": {"name": "web", "namespace": "ns", "uid": "u-1"},
            "spec": {"strategy": {"canary": {
                "pingPong": {"pingService": "ping", "pongService": "pong"},
                "trafficRouting": {"maxTrafficWeight": 1000, "managedRoutes": [{"name": "a"}, {"name": "b"}]}
            }}},
            "status": {"canary": {"stablePingPong": "ping"}}
        });
        let ctx = Context::new(rollout, &cluster);
        assert_eq!((ctx.namespace.as_str(), ctx.rollout_name.as_str()), ("ns", "web"));
        assert_eq!(ctx.stable_and_canary_services(), ("ping".to_string(), "pong".to_string()));
        assert_eq!(ctx.max_traffic_weight(), 1000);
        assert_eq!(ctx.managed_routes(), ["a", "b"]);
        let owned = json!({"metadata": {"ownerReferences": [ctx.controller_reference()]}});
        assert!(ctx.controls(&owned));
        let other = json!({"metadata": {"ownerReferences": [{"uid": "u-2", "controller": true}]}});
        assert!(!ctx.controls(&other));
        assert!(!ctx.controls(&json!({})));
    }

    #[cfg(feature = "testing")]
    #[test]
    fn events_reach_the_fake_cluster_cut_as_the_host_cuts_them() {
        let cluster = crate::kubernetes::fake::FakeCluster::new("ns");
        let ctx = Context::new(json!({"metadata": {"name": "web", "namespace": "ns"}}), &cluster);
        ctx.event("Updated VirtualService", "VirtualService `vs` set to desiredWeight '5'");
        ctx.warning_event("VirtualServiceNotFound", "é".repeat(600));
        let events = cluster.take_events();
        assert_eq!(events[0], Event::normal("Updated VirtualService", "VirtualService `vs` set to desiredWeight '5'"));
        assert!(events[1].warning && events[1].message.len() == 1024, "{}", events[1].message.len());
        assert!(cluster.events().is_empty());
        assert!(!kubernetes::valid_event_reason("no!") && !kubernetes::valid_event_reason(""));
    }

    #[cfg(feature = "testing")]
    #[test]
    #[should_panic(expected = "the host would drop")]
    fn the_fake_cluster_refuses_reasons_the_host_would_drop() {
        let cluster = crate::kubernetes::fake::FakeCluster::new("ns");
        Context::new(json!({}), &cluster).event("not a reason!", "m");
    }
}

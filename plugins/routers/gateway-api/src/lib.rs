//! `aviary/gateway-api` (Argo's `argoproj-labs/gatewayAPI` router plugin): the canary's weight on
//! the backendRefs of Gateway API routes, and header and mirror routes as rules of their own.
//!
//! Config: the value under `trafficRouting.plugins["argoproj-labs/gatewayAPI"]`, as Argo's plugin
//! reads it: `httpRoute`, `grpcRoute`, `tcpRoute`, `tlsRoute` (each with header routes), the
//! lists `httpRoutes`, `grpcRoutes`, `tcpRoutes`, `tlsRoutes` of `{name, useHeaderRoutes}`, the
//! label selectors `httpRouteSelector`, ... (the routes they find take no header routes), and
//! `disableInProgressLabel`, `inProgressLabelKey`, `inProgressLabelValue` (the label the route
//! carries while the canary has traffic; `rollouts.argoproj.io/gatewayapi-canary: in-progress` by
//! default). `namespace` may only be the Rollout's: a router acts in the Rollout's namespace.
//!
//! **Weights.** In every rule that has backendRefs to both the canary and the stable Service
//! (Services of the Rollout's namespace), the canary's weight becomes the desired weight and the
//! stable's the rest of maxTrafficWeight (Argo's plugin uses 100, which is the same unless
//! maxTrafficWeight is set). Other backendRefs and other rules are left as they are. A route
//! without such a rule is an error naming it.
//!
//! **Header routes** (`setHeaderRoute`, HTTPRoutes and GRPCRoutes with header routes): for each
//! rule with both Services, a rule named after the step (`<name>`, then `<name>-1`, ...) with the
//! rule's matches and the step's headers (exact; prefix and regex as regular expressions, as in
//! Argo's plugin), the rule's filters, and one backendRef to the canary on the canary's port.
//! **Mirror routes** (`setMirrorRoute`, HTTPRoutes with header routes): for each such rule, a rule
//! named after the step matching the step's method, path and headers within the rule's matches,
//! sending to the rule's backends (their weights follow `setWeight`) and mirroring `percentage`
//! percent of the requests to the canary (a `RequestMirror` filter). A step without match removes
//! its rules; `removeManagedRoutes` removes all of them.
//!
//! **What is ours.** The router never touches a rule it did not create (Argo's plugin deleted
//! rules it only guessed were its own: argo-rollouts#1438, rollouts-plugin-trafficrouter-gatewayapi
//! #217). A route carries the annotation [`MANAGED_RULES_ANNOTATION`], written in the same patch as
//! the rules: for each Rollout, for each header or mirror route name, the rules it added, as
//! written. A rule is the Rollout's when its `name` is one of those rules' names, or, where the
//! API server drops rule names (a Gateway API older than named rules), when it has no name and
//! holds everything a recorded rule holds. Nothing else is ever removed or changed but the
//! weights above. Every write is a merge patch carrying the route's `resourceVersion`, retried on
//! a conflict: a concurrent edit is never overwritten. The router keeps no state: everything it
//! needs is on the routes.
//!
//! HTTPRoutes and GRPCRoutes are read and written as `gateway.networking.k8s.io/v1`; TCPRoutes
//! and TLSRoutes as `v1` (Gateway API 1.5 and later), or `v1alpha2` (Argo's plugin's version)
//! where `v1` is not served.
//!
//! Not supported (a clear error rather than half of it): additional destinations (experiment
//! steps with weights); mirror routes on GRPCRoutes. Verification: not implemented.
//!
//! Events: none. Argo's Gateway API router is an out-of-process plugin, which cannot record
//! events on the Rollout; this one records none either, so the two agree.
//!
//! Kubernetes grants (registry entry `kubernetes:`), exactly [`GRANTS`] (`list` only for the
//! selectors):
//!
//! | apiGroup                    | kinds                                    | verbs            |
//! |-----------------------------|------------------------------------------|------------------|
//! | `gateway.networking.k8s.io` | HTTPRoute, GRPCRoute, TCPRoute, TLSRoute | get, list, patch |

mod rules;

use std::collections::BTreeMap;

use aviary_plugin_sdk::export_router;
use aviary_plugin_sdk::kubernetes::{Grant, ObjectRef, PatchType, Verb};
use aviary_plugin_sdk::router::{
    Context, Error, Router, SetHeaderRoute, SetMirrorRoute, StateUpdate, StringMatch, WeightDestination, log,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

pub use rules::MANAGED_RULES_ANNOTATION;
use rules::{Edit, is_service_ref};

/// The Kubernetes grants this router needs, no more.
pub const GRANTS: &[Grant] = &[Grant {
    api_group: "gateway.networking.k8s.io",
    kinds: &["HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute"],
    verbs: &[Verb::Get, Verb::List, Verb::Patch],
}];

/// The in-progress label of Argo's plugin.
pub const IN_PROGRESS_LABEL_KEY: &str = "rollouts.argoproj.io/gatewayapi-canary";
/// Its value.
pub const IN_PROGRESS_LABEL_VALUE: &str = "in-progress";

/// How many times a write that lost a race is read and tried again within one call.
const ATTEMPTS: usize = 5;

/// One route of the config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RouteRef {
    /// The route's name.
    pub name: String,
    /// Whether header (and mirror) routes are added to it.
    pub use_header_routes: bool,
}

/// A Kubernetes label selector.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LabelSelector {
    /// Labels that must have these values.
    pub match_labels: BTreeMap<String, String>,
    /// Set-based requirements.
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

/// One set-based requirement of a label selector.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct LabelSelectorRequirement {
    /// The label.
    pub key: String,
    /// `In`, `NotIn`, `Exists`, `DoesNotExist`.
    pub operator: String,
    /// The values of `In` and `NotIn`.
    pub values: Vec<String>,
}

impl LabelSelector {
    /// The selector's string form, as the `list` call takes it.
    pub fn to_query(&self) -> Result<String, Error> {
        let mut parts: Vec<String> = self.match_labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        for r in &self.match_expressions {
            parts.push(match r.operator.as_str() {
                "In" => format!("{} in ({})", r.key, r.values.join(",")),
                "NotIn" => format!("{} notin ({})", r.key, r.values.join(",")),
                "Exists" => r.key.clone(),
                "DoesNotExist" => format!("!{}", r.key),
                other => return Err(Error(format!("label selector: unknown operator {other:?} for key {:?}", r.key))),
            });
        }
        Ok(parts.join(","))
    }
}

/// Argo's plugin config (`GatewayAPITrafficRouting`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Config {
    /// One HTTPRoute, with header routes.
    pub http_route: String,
    /// One GRPCRoute, with header routes.
    pub grpc_route: String,
    /// One TCPRoute.
    pub tcp_route: String,
    /// One TLSRoute.
    pub tls_route: String,
    /// The routes' namespace: empty or the Rollout's.
    pub namespace: String,
    /// HTTPRoutes.
    pub http_routes: Vec<RouteRef>,
    /// GRPCRoutes.
    pub grpc_routes: Vec<RouteRef>,
    /// TCPRoutes.
    pub tcp_routes: Vec<RouteRef>,
    /// TLSRoutes.
    pub tls_routes: Vec<RouteRef>,
    /// HTTPRoutes found by label.
    pub http_route_selector: Option<LabelSelector>,
    /// GRPCRoutes found by label.
    pub grpc_route_selector: Option<LabelSelector>,
    /// TCPRoutes found by label.
    pub tcp_route_selector: Option<LabelSelector>,
    /// TLSRoutes found by label.
    pub tls_route_selector: Option<LabelSelector>,
    /// No in-progress label.
    pub disable_in_progress_label: bool,
    /// The in-progress label's key.
    pub in_progress_label_key: String,
    /// The in-progress label's value.
    pub in_progress_label_value: String,
}

/// The route kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// `HTTPRoute` (gateway.networking.k8s.io/v1).
    Http,
    /// `GRPCRoute` (gateway.networking.k8s.io/v1).
    Grpc,
    /// `TCPRoute` (gateway.networking.k8s.io/v1, or v1alpha2 where only that is served).
    Tcp,
    /// `TLSRoute` (gateway.networking.k8s.io/v1, or v1alpha2 where only that is served).
    Tls,
}

impl Kind {
    /// The kind's name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Http => "HTTPRoute",
            Kind::Grpc => "GRPCRoute",
            Kind::Tcp => "TCPRoute",
            Kind::Tls => "TLSRoute",
        }
    }

    /// The API versions the router reads and writes it with, in the order it tries them:
    /// TCPRoute and TLSRoute are `v1` since Gateway API 1.5 and `v1alpha2` before (Argo's
    /// plugin's only version), where only one of them is served.
    pub fn api_versions(self) -> &'static [&'static str] {
        match self {
            Kind::Http | Kind::Grpc => &["gateway.networking.k8s.io/v1"],
            Kind::Tcp | Kind::Tls => &["gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1alpha2"],
        }
    }

    /// The first API version the router tries.
    pub fn api_version(self) -> &'static str {
        self.api_versions()[0]
    }
}

/// One route the router manages.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Route {
    kind: Kind,
    name: String,
    header_routes: bool,
}

impl Route {
    /// Reads the route with the first of its kind's API versions that has it.
    fn read(&self, ctx: &Context<'_>) -> Result<(ObjectRef, Value), aviary_plugin_sdk::kubernetes::Error> {
        let mut last = None;
        for version in self.kind.api_versions() {
            let object = ObjectRef::new(*version, self.kind.name(), self.name.as_str());
            match ctx.cluster.get(&object) {
                Ok(current) => return Ok((object, current)),
                Err(e) if e.is_not_found() => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.expect("every kind has an API version"))
    }

    fn describe(&self) -> String {
        format!("{} {:?}", self.kind.name(), self.name)
    }
}

impl Config {
    /// The routes of the config, selectors resolved: Argo's `getGatewayAPIConfigWithDiscovery`.
    fn routes(&self, ctx: &Context<'_>) -> Result<Vec<Route>, Error> {
        if !self.namespace.is_empty() && self.namespace != ctx.namespace {
            return Err(Error(format!(
                "namespace {:?}: aviary/gateway-api acts only in the Rollout's namespace {:?}",
                self.namespace, ctx.namespace
            )));
        }
        let mut routes: Vec<Route> = Vec::new();
        let mut add = |kind: Kind, name: &str, header_routes: bool| {
            if name.is_empty() {
                return;
            }
            match routes.iter_mut().find(|r| r.kind == kind && r.name == name) {
                Some(r) => r.header_routes |= header_routes,
                None => routes.push(Route { kind, name: name.to_string(), header_routes }),
            }
        };
        for (kind, list, single) in [
            (Kind::Http, &self.http_routes, &self.http_route),
            (Kind::Grpc, &self.grpc_routes, &self.grpc_route),
            (Kind::Tcp, &self.tcp_routes, &self.tcp_route),
            (Kind::Tls, &self.tls_routes, &self.tls_route),
        ] {
            for r in list {
                add(kind, &r.name, r.use_header_routes);
            }
            add(kind, single, true);
        }
        for (kind, selector) in [
            (Kind::Http, &self.http_route_selector),
            (Kind::Grpc, &self.grpc_route_selector),
            (Kind::Tcp, &self.tcp_route_selector),
            (Kind::Tls, &self.tls_route_selector),
        ] {
            let Some(selector) = selector else { continue };
            let query = selector.to_query()?;
            let mut found = Err(Error::msg("no API version"));
            for version in kind.api_versions() {
                found = ctx
                    .cluster
                    .list(version, kind.name(), Some(&query))
                    .map_err(|e| Error(format!("listing {}s with selector {query:?}: {e}", kind.name())));
                if found.is_ok() {
                    break;
                }
            }
            let found = found?;
            for route in &found {
                add(kind, route.pointer("/metadata/name").and_then(Value::as_str).unwrap_or(""), false);
            }
        }
        Ok(routes)
    }

    fn label(&self) -> Option<(String, String)> {
        if self.disable_in_progress_label {
            return None;
        }
        let key =
            if self.in_progress_label_key.is_empty() { IN_PROGRESS_LABEL_KEY } else { &self.in_progress_label_key };
        let value = if self.in_progress_label_value.is_empty() {
            IN_PROGRESS_LABEL_VALUE
        } else {
            &self.in_progress_label_value
        };
        Some((key.to_string(), value.to_string()))
    }
}

const NO_ROUTES: &str = "No routes configured. At least one of 'httpRoutes', 'grpcRoutes', 'tcpRoutes', 'tlsRoutes', \
                         'httpRoute', 'grpcRoute', 'tcpRoute' or 'tlsRoute' must be set";

/// Reads a route, lets `change` edit it, and writes what changed with the route's
/// resourceVersion, again from the read when another writer won the race.
/// A route that does not exist is an error, or nothing to do when `missing_ok`.
fn update_route(
    ctx: &Context<'_>,
    route: &Route,
    missing_ok: bool,
    mut change: impl FnMut(&mut Edit) -> Result<(), Error>,
) -> Result<(), Error> {
    for attempt in 1..=ATTEMPTS {
        let (object, current) = match route.read(ctx) {
            Ok(read) => read,
            Err(e) if missing_ok && e.is_not_found() => return Ok(()),
            Err(e) => return Err(Error(format!("{}: {e}", route.describe()))),
        };
        let mut edit =
            Edit::read(&current, &ctx.rollout_name).map_err(|e| Error(format!("{}: {e}", route.describe())))?;
        change(&mut edit).map_err(|e| Error(format!("{}: {}", route.describe(), e.0)))?;
        let Some(patch) = edit.patch(&current, &ctx.rollout_name) else {
            return Ok(());
        };
        match ctx.cluster.patch(&object, PatchType::Merge, &patch) {
            Ok(_) => return Ok(()),
            Err(e) if e.is_conflict() && attempt < ATTEMPTS => {
                log::debug(&format!("{} changed while being updated; reading it again", route.describe()));
            }
            Err(e) => return Err(Error(format!("{}: {e}", route.describe()))),
        }
    }
    unreachable!("the last attempt returns")
}

/// The Gateway API router.
pub struct GatewayApi;

impl Router for GatewayApi {
    type Config = Config;

    fn set_weight(
        ctx: &Context<'_>,
        config: Config,
        desired_weight: i32,
        additional: &[WeightDestination],
    ) -> Result<StateUpdate, Error> {
        if !additional.is_empty() {
            return Err(Error::msg(
                "aviary/gateway-api does not route to additional destinations (an experiment step with weights)",
            ));
        }
        let routes = config.routes(ctx)?;
        if routes.is_empty() {
            return Err(Error::msg(NO_ROUTES));
        }
        let (stable, canary) = (ctx.stable_service(), ctx.canary_service());
        let rest = ctx.max_traffic_weight() - desired_weight;
        let label = config.label();
        for route in &routes {
            update_route(ctx, route, false, |edit| {
                edit.set_weights(&ctx.namespace, canary, stable, desired_weight, rest)?;
                if let Some((key, value)) = &label {
                    edit.set_label(key, (desired_weight != 0).then_some(value.as_str()));
                }
                Ok(())
            })?;
        }
        Ok(None)
    }

    fn set_header_route(ctx: &Context<'_>, config: Config, step: &SetHeaderRoute) -> Result<StateUpdate, Error> {
        for route in config.routes(ctx)? {
            if !route.header_routes || !matches!(route.kind, Kind::Http | Kind::Grpc) {
                continue;
            }
            update_route(ctx, &route, false, |edit| match step.active_matches() {
                None => {
                    edit.remove_managed(&step.name);
                    Ok(())
                }
                Some(matches) => {
                    let headers = header_matches(matches)?;
                    let new = edit
                        .sources(&ctx.namespace, ctx.canary_service(), ctx.stable_service())?
                        .iter()
                        .enumerate()
                        .map(|(i, source)| header_rule(route.kind, &rule_name(&step.name, i), source, &headers, ctx))
                        .collect();
                    edit.replace_managed(&step.name, new)
                }
            })?;
        }
        Ok(None)
    }

    fn set_mirror_route(ctx: &Context<'_>, config: Config, step: &SetMirrorRoute) -> Result<StateUpdate, Error> {
        for route in config.routes(ctx)? {
            if !route.header_routes || route.kind != Kind::Http {
                continue;
            }
            update_route(ctx, &route, false, |edit| match step.active_matches() {
                None => {
                    edit.remove_managed(&step.name);
                    Ok(())
                }
                Some(matches) => {
                    let sources = edit.sources(&ctx.namespace, ctx.canary_service(), ctx.stable_service())?;
                    let mut new = Vec::new();
                    for (i, source) in sources.iter().enumerate() {
                        new.push(mirror_rule(&rule_name(&step.name, i), source, matches, step.percentage, ctx)?);
                    }
                    edit.replace_managed(&step.name, new)
                }
            })?;
        }
        Ok(None)
    }

    fn remove_managed_routes(ctx: &Context<'_>, config: Config) -> Result<StateUpdate, Error> {
        for route in config.routes(ctx)? {
            // A route that is gone has nothing of ours left on it.
            update_route(ctx, &route, true, |edit| {
                edit.remove_all_managed();
                Ok(())
            })?;
        }
        Ok(None)
    }
}

/// `<name>` for the first source rule, `<name>-<i>` for the others (Argo's plugin's names).
fn rule_name(name: &str, index: usize) -> String {
    if index == 0 { name.to_string() } else { format!("{name}-{index}") }
}

/// A header match of the step, as the route kind writes it: exact, or a regular expression for
/// prefixes (`<prefix>.*`, as Argo's plugin) and regexes.
fn string_match(kind: &str, name: &str, value: &StringMatch) -> Result<Value, Error> {
    let (ty, v) = if !value.exact.is_empty() {
        ("Exact", value.exact.clone())
    } else if !value.prefix.is_empty() {
        ("RegularExpression", format!("{}.*", value.prefix))
    } else if !value.regex.is_empty() {
        ("RegularExpression", value.regex.clone())
    } else {
        return Err(Error(format!("invalid header match type: {kind} {name:?} has no exact, prefix or regex value")));
    };
    Ok(json!({"name": name, "type": ty, "value": v}))
}

fn header_matches(matches: &[aviary_plugin_sdk::router::HeaderRoutingMatch]) -> Result<Vec<Value>, Error> {
    matches.iter().map(|m| string_match("header", &m.header_name, &m.header_value)).collect()
}

/// The canary backendRef of a managed rule: the canary Service on the port the source rule
/// sends to it.
fn canary_backend(source: &Value, ctx: &Context<'_>) -> Value {
    let mut backend = json!({"group": "", "kind": "Service", "name": ctx.canary_service()});
    let port = source
        .get("backendRefs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|r| is_service_ref(r, &ctx.namespace, ctx.canary_service()))
        .and_then(|r| r.get("port"));
    if let Some(port) = port {
        backend["port"] = port.clone();
    }
    backend
}

/// A header rule made of a source rule (Argo's plugin's `setHTTPHeaderRoute` per source rule).
fn header_rule(kind: Kind, name: &str, source: &Value, headers: &[Value], ctx: &Context<'_>) -> Value {
    let source_matches: &[Value] = source.get("matches").and_then(Value::as_array).map_or(&[], Vec::as_slice);
    let matches: Vec<Value> = if source_matches.is_empty() {
        vec![json!({"headers": headers})]
    } else {
        source_matches
            .iter()
            .map(|m| {
                let mut merged = Map::new();
                let keep: &[&str] = match kind {
                    Kind::Http => &["path", "queryParams", "method"],
                    _ => &["method"],
                };
                for key in keep {
                    if let Some(v) = m.get(*key) {
                        merged.insert((*key).to_string(), v.clone());
                    }
                }
                let mut all: Vec<Value> = m.get("headers").and_then(Value::as_array).cloned().unwrap_or_default();
                all.extend(headers.iter().cloned());
                merged.insert("headers".into(), Value::Array(all));
                Value::Object(merged)
            })
            .collect()
    };
    let mut rule = json!({"name": name, "matches": matches, "backendRefs": [canary_backend(source, ctx)]});
    if let Some(filters) = source.get("filters").filter(|f| f.as_array().is_some_and(|a| !a.is_empty())) {
        rule["filters"] = filters.clone();
    }
    rule
}

/// An HTTPRoute match of a mirror step's match, within a source match.
fn mirror_match(source: &Value, step: &aviary_plugin_sdk::router::RouteMatch) -> Result<Value, Error> {
    let mut m = source.as_object().cloned().unwrap_or_default();
    if let Some(path) = &step.path {
        let (ty, value) = if !path.exact.is_empty() {
            ("Exact", &path.exact)
        } else if !path.prefix.is_empty() {
            ("PathPrefix", &path.prefix)
        } else if !path.regex.is_empty() {
            ("RegularExpression", &path.regex)
        } else {
            return Err(Error::msg("invalid mirror match: the path has no exact, prefix or regex value"));
        };
        m.insert("path".into(), json!({"type": ty, "value": value}));
    }
    if let Some(method) = &step.method {
        if method.exact.is_empty() {
            return Err(Error::msg("invalid mirror match: Gateway API matches methods exactly (method.exact)"));
        }
        m.insert("method".into(), Value::String(method.exact.clone()));
    }
    if let Some(headers) = &step.headers {
        let mut all: Vec<Value> = m.get("headers").and_then(Value::as_array).cloned().unwrap_or_default();
        for (name, value) in headers {
            all.push(string_match("header", name, value)?);
        }
        m.insert("headers".into(), Value::Array(all));
    }
    Ok(Value::Object(m))
}

/// A mirror rule made of a source rule: the step's matches within the rule's, the rule's backends,
/// and a copy of the traffic to the canary.
fn mirror_rule(
    name: &str,
    source: &Value,
    matches: &[aviary_plugin_sdk::router::RouteMatch],
    percentage: Option<i32>,
    ctx: &Context<'_>,
) -> Result<Value, Error> {
    let source_matches: Vec<Value> = match source.get("matches").and_then(Value::as_array) {
        Some(m) if !m.is_empty() => m.clone(),
        _ => vec![json!({})],
    };
    let mut rule_matches = Vec::new();
    for s in &source_matches {
        for m in matches {
            rule_matches.push(mirror_match(s, m)?);
        }
    }
    let mut mirror = json!({"backendRef": canary_backend(source, ctx)});
    match percentage {
        None | Some(100) => {}
        Some(p) if (0..=100).contains(&p) => mirror["percent"] = json!(p),
        Some(p) => return Err(Error(format!("invalid mirror percentage {p}: between 0 and 100"))),
    }
    let mut filters: Vec<Value> = source.get("filters").and_then(Value::as_array).cloned().unwrap_or_default();
    filters.push(json!({"type": "RequestMirror", "requestMirror": mirror}));
    Ok(json!({
        "name": name,
        "matches": rule_matches,
        "filters": filters,
        "backendRefs": source.get("backendRefs").cloned().unwrap_or_else(|| json!([])),
    }))
}

export_router!(GatewayApi);

#[cfg(test)]
mod tests;

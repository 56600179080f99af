//! A VirtualService's routes: which ones the Rollout weighs (Argo's route selection and
//! validation), their new weights, header and mirror routes, and the order of managed routes.

use std::collections::BTreeMap;

use aviary_plugin_sdk::router::{Error, HeaderRoutingMatch, RouteMatch, StringMatch, WeightDestination};
use serde_json::{Map, Value, json};

use crate::{DestinationRuleRef, TcpRouteRef, TlsRouteRef};

/// Argo's error when `spec.http` is missing.
pub(crate) const SPEC_HTTP_NOT_FOUND: &str = "spec.http not found";

/// The Services and subsets a route's destinations are weighed by.
#[derive(Debug, Clone, Default)]
pub(crate) struct Targets {
    pub canary_service: String,
    pub stable_service: String,
    pub canary_subset: String,
    pub stable_subset: String,
    pub additional_subsets: Vec<String>,
}

impl Targets {
    pub(crate) fn new(stable: &str, canary: &str, rule: Option<&DestinationRuleRef>) -> Self {
        Targets {
            canary_service: canary.to_string(),
            stable_service: stable.to_string(),
            canary_subset: rule.map(|r| r.canary_subset_name.clone()).unwrap_or_default(),
            stable_subset: rule.map(|r| r.stable_subset_name.clone()).unwrap_or_default(),
            additional_subsets: rule.map(|r| r.additional_subset_names.clone()).unwrap_or_default(),
        }
    }

    fn is_additional_subset(&self, subset: &str) -> bool {
        !subset.is_empty() && self.additional_subsets.iter().any(|s| s == subset)
    }
}

fn str_at<'v>(value: &'v Value, pointer: &str) -> &'v str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The Service name of a destination's host: what comes before the first dot (`svc.ns.svc` →
/// `svc`); empty for a host that starts with a dot (Argo's `getHost`).
pub(crate) fn host_of(destination: &Value) -> &str {
    let host = str_at(destination, "/destination/host");
    match host.find('.') {
        Some(0) => "",
        Some(i) => &host[..i],
        None => host,
    }
}

fn subset_of(destination: &Value) -> &str {
    str_at(destination, "/destination/subset")
}

fn weight_of(destination: &Value) -> i64 {
    destination.get("weight").and_then(Value::as_i64).unwrap_or(0)
}

pub(crate) fn route_name(route: &Value) -> &str {
    str_at(route, "/name")
}

fn destinations(route: &Value) -> &[Value] {
    route.get("route").and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// The indexes of the HTTP routes set-weight changes (Argo's `getHttpRouteIndexesToPatch`):
/// the named routes, or, when none is named, the only route or the first unnamed one.
pub(crate) fn http_indexes(names: &[String], http: &[Value]) -> Result<Vec<usize>, Error> {
    if names.is_empty() {
        if http.len() == 1 {
            return Ok(vec![0]);
        }
        if let Some(i) = http.iter().position(|r| route_name(r).is_empty()) {
            return Ok(vec![i]);
        }
    }
    names
        .iter()
        .map(|name| {
            http.iter()
                .position(|r| route_name(r) == name)
                .ok_or_else(|| Error(format!("HTTP Route '{name}' is not found in the defined Virtual Service.")))
        })
        .collect()
}

fn ports_of(route: &Value) -> Vec<i64> {
    let mut ports: Vec<i64> = route
        .get("match")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|m| m.get("port").and_then(Value::as_i64).unwrap_or(0))
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// The single port a TLS or TCP route matches (0 when none), or `None` for several.
fn single_port(route: &Value) -> Option<i64> {
    match ports_of(route).as_slice() {
        [] => Some(0),
        [port] => Some(*port),
        _ => None,
    }
}

/// Argo's `getTlsRouteIndexesToPatch`: the first TLS route when none is configured, else the
/// routes of each configured port and SNI hosts.
pub(crate) fn tls_indexes(refs: &[TlsRouteRef], tls: &[Value]) -> Result<Vec<usize>, Error> {
    if refs.is_empty() {
        return Ok(vec![0]);
    }
    let mut indexes = Vec::new();
    for r in refs {
        let found: Vec<usize> = tls
            .iter()
            .enumerate()
            .filter(|(_, route)| {
                let mut snis: Vec<&str> = route
                    .get("match")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .flat_map(|m| m.get("sniHosts").and_then(Value::as_array).into_iter().flatten())
                    .filter_map(Value::as_str)
                    .collect();
                snis.sort_unstable();
                snis.dedup();
                single_port(route) == Some(r.port)
                    && snis.len() == r.sni_hosts.len()
                    && snis.iter().all(|s| r.sni_hosts.iter().any(|h| h == s))
            })
            .map(|(i, _)| i)
            .collect();
        if found.is_empty() {
            return Err(Error::msg("No matching TLS routes found in the defined Virtual Service."));
        }
        indexes.extend(found);
    }
    Ok(indexes)
}

/// Argo's `getTcpRouteIndexesToPatch`: the first TCP route when none is configured, else the
/// routes of each configured port.
pub(crate) fn tcp_indexes(refs: &[TcpRouteRef], tcp: &[Value]) -> Result<Vec<usize>, Error> {
    if refs.is_empty() {
        return Ok(vec![0]);
    }
    let mut indexes = Vec::new();
    for r in refs {
        let found: Vec<usize> =
            tcp.iter().enumerate().filter(|(_, route)| single_port(route) == Some(r.port)).map(|(i, _)| i).collect();
        if found.is_empty() {
            return Err(Error::msg("No matching TCP routes found in the defined Virtual Service."));
        }
        indexes.extend(found);
    }
    Ok(indexes)
}

/// Argo's `validateVirtualServiceRouteDestinations`: the route has the canary and the stable, by
/// subset when there is a DestinationRule, by Service otherwise.
fn validate_destinations(route: &Value, targets: &Targets, subsets: bool) -> Result<(), Error> {
    let has = |f: &dyn Fn(&Value) -> bool| destinations(route).iter().any(f);
    if subsets {
        if !has(&|d| !targets.canary_subset.is_empty() && subset_of(d) == targets.canary_subset) {
            return Err(Error(format!("Canary DestinationRule subset '{}' not found in route", targets.canary_subset)));
        }
        if !has(&|d| !targets.stable_subset.is_empty() && subset_of(d) == targets.stable_subset) {
            return Err(Error(format!("Stable DestinationRule subset '{}' not found in route", targets.stable_subset)));
        }
    } else {
        if !has(&|d| !targets.canary_service.is_empty() && host_of(d) == targets.canary_service) {
            return Err(Error(format!("Canary Service '{}' not found in route", targets.canary_service)));
        }
        if !has(&|d| !targets.stable_service.is_empty() && host_of(d) == targets.stable_service) {
            return Err(Error(format!("Stable Service '{}' not found in route", targets.stable_service)));
        }
    }
    Ok(())
}

/// Argo's `ValidateHTTPRoutes`.
pub(crate) fn validate_http(
    names: &[String],
    http: &[Value],
    targets: &Targets,
    subsets: bool,
    managed: &[String],
) -> Result<(), Error> {
    for i in http_indexes(names, http)? {
        validate_destinations(&http[i], targets, subsets)?;
    }
    let unmanaged = http.iter().filter(|r| !managed.iter().any(|m| m == route_name(r))).count();
    if names.is_empty() && unmanaged > 1 {
        return Err(Error::msg(
            "spec.http[] should be set in VirtualService and it must have exactly one route when omitting \
             spec.strategy.canary.trafficRouting.istio.virtualService.routes",
        ));
    }
    Ok(())
}

/// Argo's `ValidateTlsRoutes` and `ValidateTcpRoutes`.
pub(crate) fn validate_l4(
    what: &str,
    configured: bool,
    indexes: &[usize],
    routes: &[Value],
    targets: &Targets,
    subsets: bool,
) -> Result<(), Error> {
    for &i in indexes {
        if let Some(route) = routes.get(i) {
            validate_destinations(route, targets, subsets)?;
        }
    }
    if !configured && routes.len() > 1 {
        return Err(Error(format!(
            "spec.{what}[] should be set in VirtualService and it must have exactly one route when omitting \
             spec.strategy.canary.trafficRouting.istio.virtualService.{what}Routes"
        )));
    }
    Ok(())
}

/// The destinations of a weighed route after Argo's `processRoutes`: the canary gets the desired
/// weight, additional destinations theirs (added when missing), additional subsets keep theirs,
/// the stable gets the rest of 100 (never below 0), and any other destination is removed.
pub(crate) fn weigh(route: &mut Value, desired: i64, targets: &Targets, additional: &[WeightDestination]) {
    let current = destinations(route).to_vec();
    let mut stable_weight = 100 - desired - additional.iter().map(|d| i64::from(d.weight)).sum::<i64>();
    for d in &current {
        if targets.is_additional_subset(subset_of(d)) {
            stable_weight -= weight_of(d);
        }
    }
    let stable_weight = stable_weight.max(0);
    let mut pending: Vec<&WeightDestination> = Vec::new();
    for d in additional {
        match pending.iter().position(|p| p.service_name == d.service_name) {
            Some(i) => pending[i] = d,
            None => pending.push(d),
        }
    }
    let set = |mut d: Value, w: i64| {
        if weight_of(&d) != w {
            d["weight"] = json!(w);
        }
        d
    };
    let mut new = Vec::with_capacity(current.len() + pending.len());
    for d in current {
        let host = host_of(&d).to_string();
        let subset = subset_of(&d).to_string();
        if host.is_empty() {
            new.push(d);
        } else if host == targets.canary_service || (!subset.is_empty() && subset == targets.canary_subset) {
            new.push(set(d, desired));
        } else if host == targets.stable_service || (!subset.is_empty() && subset == targets.stable_subset) {
            new.push(set(d, stable_weight));
        } else if let Some(i) = pending.iter().position(|p| p.service_name == host) {
            let w = i64::from(pending.remove(i).weight);
            new.push(set(d, w));
        } else if targets.is_additional_subset(&subset) {
            new.push(d);
        }
        // Anything else is an old experiment's destination: removed, as in Argo.
    }
    for p in pending {
        new.push(json!({"weight": p.weight, "destination": {"host": p.service_name}}));
    }
    route["route"] = Value::Array(new);
}

/// Removes the HTTP routes named `name`.
pub(crate) fn remove_route(http: &mut Vec<Value>, name: &str) {
    http.retain(|r| route_name(r) != name);
}

/// Argo's `orderRoutes`: the managed routes first, in the order of `managedRoutes`, then the
/// others in their order.
pub(crate) fn order_routes(http: &mut Vec<Value>, managed: &[String]) {
    if managed.is_empty() {
        return;
    }
    let mut ordered = Vec::with_capacity(http.len());
    for name in managed {
        ordered.extend(http.iter().filter(|r| route_name(r) == name).cloned());
    }
    ordered.extend(http.iter().filter(|r| !managed.iter().any(|m| m == route_name(r))).cloned());
    *http = ordered;
}

fn string_match(m: &StringMatch) -> Value {
    let mut out = Map::new();
    for (key, value) in [("exact", &m.exact), ("regex", &m.regex), ("prefix", &m.prefix)] {
        if !value.is_empty() {
            out.insert(key.into(), Value::String(value.clone()));
        }
    }
    Value::Object(out)
}

/// The destination of managed routes: the canary host, its port and subset.
fn canary_destination(host: &str, port: Option<i64>, subset: &str) -> Value {
    let mut destination = json!({"host": host});
    if let Some(p) = port.filter(|p| *p > 0) {
        destination["port"] = json!({"number": p});
    }
    if !subset.is_empty() {
        destination["subset"] = json!(subset);
    }
    destination
}

/// The set-weight route's destinations (Argo's `getVirtualServiceSetWeightRoute`).
pub(crate) fn set_weight_route(names: &[String], http: &[Value]) -> Result<Vec<Value>, Error> {
    let indexes = http_indexes(names, http)?;
    Ok(indexes.first().map(|&i| destinations(&http[i]).to_vec()).unwrap_or_default())
}

/// The port of the set-weight route's first destination (Argo's `getVirtualServiceCanaryPort`).
fn canary_port(names: &[String], http: &[Value]) -> Option<i64> {
    set_weight_route(names, http).ok()?.first()?.pointer("/destination/port/number")?.as_i64()
}

/// Argo's `createHeaderRoute`: the headers to the canary, at weight 100.
pub(crate) fn header_route(
    name: &str,
    matches: &[HeaderRoutingMatch],
    names: &[String],
    http: &[Value],
    host: &str,
    subset: &str,
) -> Value {
    let matches: Vec<Value> =
        matches.iter().map(|m| json!({"headers": {m.header_name.as_str(): string_match(&m.header_value)}})).collect();
    let destination = canary_destination(host, canary_port(names, http), subset);
    json!({"name": name, "match": matches, "route": [{"weight": 100, "destination": destination}]})
}

/// Argo's `createMirrorRoute`: the matching requests go where the set-weight route sends them,
/// and `percentage` of them (100 by default) are copied to the canary.
pub(crate) fn mirror_route(
    name: &str,
    matches: &[RouteMatch],
    percentage: Option<i32>,
    names: &[String],
    http: &[Value],
    host: &str,
    subset: &str,
) -> Result<Value, Error> {
    let route = set_weight_route(names, http)?;
    if route.is_empty() {
        return Err(Error::msg(
            "no HTTP route with destinations is the one setWeight changes (name it in virtualService.routes): \
             nothing to send mirrored requests to",
        ));
    }
    let port = route.first().and_then(|d| d.pointer("/destination/port/number")).and_then(Value::as_i64);
    let matches: Vec<Value> = matches
        .iter()
        .map(|m| {
            let mut out = Map::new();
            if let Some(method) = &m.method {
                out.insert("method".into(), string_match(method));
            }
            if let Some(path) = &m.path {
                out.insert("uri".into(), string_match(path));
            }
            if let Some(headers) = &m.headers {
                let headers: BTreeMap<&str, Value> =
                    headers.iter().map(|(k, v)| (k.as_str(), string_match(v))).collect();
                out.insert("headers".into(), json!(headers));
            }
            Value::Object(out)
        })
        .collect();
    Ok(json!({
        "name": name,
        "match": matches,
        "route": route,
        "mirror": canary_destination(host, port, subset),
        "mirrorPercentage": {"value": percentage.unwrap_or(100)},
    }))
}

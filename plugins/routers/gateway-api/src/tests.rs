//! The cases of Argo's plugin_test.go against the fake cluster, and the cases Argo's plugin got
//! wrong: rules it did not create are never touched.

use super::*;
use aviary_plugin_sdk::kubernetes::fake::FakeCluster;
use aviary_plugin_sdk::kubernetes::{Cluster, Error as KubeError};
use aviary_plugin_sdk::router::{HeaderRoutingMatch, RouteMatch, Verification};

const STABLE: &str = "argo-rollouts-stable-service";
const CANARY: &str = "argo-rollouts-canary-service";
const HTTP_ROUTE: &str = "argo-rollouts-http-route";
const GRPC_ROUTE: &str = "argo-rollouts-grpc-route";
const TCP_ROUTE: &str = "argo-rollouts-tcp-route";
const TLS_ROUTE: &str = "argo-rollouts-tls-route";
const MANAGED: &str = "test-header-route";

fn rollout(config: Value) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "rollout", "namespace": "default", "uid": "rollout-uid"},
        "spec": {"strategy": {"canary": {
            "stableService": STABLE,
            "canaryService": CANARY,
            "trafficRouting": {
                "managedRoutes": [{"name": MANAGED}],
                "plugins": {"argoproj-labs/gatewayAPI": config},
            },
        }}},
    })
}

fn config(ro: &Value) -> Config {
    serde_json::from_value(
        ro["spec"]["strategy"]["canary"]["trafficRouting"]["plugins"]["argoproj-labs/gatewayAPI"].clone(),
    )
    .unwrap()
}

fn backend(name: &str, weight: Option<i64>) -> Value {
    let mut b = json!({"name": name, "port": 80});
    if let Some(w) = weight {
        b["weight"] = json!(w);
    }
    b
}

/// Argo's mocks: a route with one rule to the stable (100) and the canary (0).
fn route(kind: Kind, name: &str) -> Value {
    let mut rule = json!({"backendRefs": [backend(STABLE, Some(100)), backend(CANARY, Some(0))]});
    if kind == Kind::Http {
        rule["matches"] = json!([{"path": {"type": "PathPrefix", "value": "/"}}]);
    }
    json!({
        "apiVersion": kind.api_version(),
        "kind": kind.name(),
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"rules": [rule]},
    })
}

fn cluster() -> FakeCluster {
    FakeCluster::new("default")
        .granting(GRANTS)
        .with(route(Kind::Http, HTTP_ROUTE))
        .with(route(Kind::Grpc, GRPC_ROUTE))
        .with(route(Kind::Tcp, TCP_ROUTE))
        .with(route(Kind::Tls, TLS_ROUTE))
}

fn stored(cluster: &FakeCluster, kind: Kind, name: &str) -> Value {
    cluster.object(kind.api_version(), kind.name(), name).expect("the route exists")
}

fn rules(cluster: &FakeCluster, kind: Kind, name: &str) -> Vec<Value> {
    stored(cluster, kind, name)["spec"]["rules"].as_array().cloned().unwrap_or_default()
}

fn weights(rule: &Value) -> Vec<(String, Option<i64>)> {
    rule["backendRefs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["name"].as_str().unwrap().to_string(), b.get("weight").and_then(Value::as_i64)))
        .collect()
}

fn set_weight(cluster: &dyn Cluster, ro: &Value, weight: i32) -> Result<StateUpdate, Error> {
    GatewayApi::set_weight(&Context::new(ro.clone(), cluster), config(ro), weight, &[])
}

fn header_step(name: &str, header: &str, value: StringMatch) -> SetHeaderRoute {
    SetHeaderRoute {
        name: name.into(),
        matches: Some(vec![HeaderRoutingMatch { header_name: header.into(), header_value: value }]),
    }
}

fn prefix(p: &str) -> StringMatch {
    StringMatch { prefix: p.into(), ..Default::default() }
}

fn exact(e: &str) -> StringMatch {
    StringMatch { exact: e.into(), ..Default::default() }
}

fn set_header(cluster: &dyn Cluster, ro: &Value, step: &SetHeaderRoute) -> Result<StateUpdate, Error> {
    GatewayApi::set_header_route(&Context::new(ro.clone(), cluster), config(ro), step)
}

fn remove(cluster: &dyn Cluster, ro: &Value) -> Result<StateUpdate, Error> {
    GatewayApi::remove_managed_routes(&Context::new(ro.clone(), cluster), config(ro))
}

/// Argo's SetHTTPRouteWeight, SetGRPCRouteWeight, SetTCPRouteWeight, SetTLSRouteWeight.
#[test]
fn weights_are_set_on_every_route_kind() {
    for (kind, name, key) in [
        (Kind::Http, HTTP_ROUTE, "httpRoute"),
        (Kind::Grpc, GRPC_ROUTE, "grpcRoute"),
        (Kind::Tcp, TCP_ROUTE, "tcpRoute"),
        (Kind::Tls, TLS_ROUTE, "tlsRoute"),
    ] {
        let cluster = cluster();
        let ro = rollout(json!({"namespace": "default", key: name}));
        set_weight(&cluster, &ro, 30).unwrap();
        let rule = &rules(&cluster, kind, name)[0];
        assert_eq!(weights(rule), [(STABLE.into(), Some(70)), (CANARY.into(), Some(30))], "{kind:?}");
        assert_eq!(cluster.verbs(), [Verb::Get, Verb::Patch], "{kind:?}");
    }
}

/// Argo's Set*RouteWeightAddsAndRemovesLabel: the in-progress label while the canary has
/// traffic; a custom key, or none.
#[test]
fn the_in_progress_label_follows_the_weight() {
    let cluster = cluster();
    let ro = rollout(json!({"httpRoute": HTTP_ROUTE}));
    set_weight(&cluster, &ro, 25).unwrap();
    let labels = |c: &FakeCluster| stored(c, Kind::Http, HTTP_ROUTE)["metadata"]["labels"].clone();
    assert_eq!(labels(&cluster)[IN_PROGRESS_LABEL_KEY], IN_PROGRESS_LABEL_VALUE);
    set_weight(&cluster, &ro, 0).unwrap();
    assert!(labels(&cluster).get(IN_PROGRESS_LABEL_KEY).is_none());

    let cluster = self::cluster();
    let ro = rollout(json!({"httpRoute": HTTP_ROUTE, "inProgressLabelKey": "canary", "inProgressLabelValue": "yes"}));
    set_weight(&cluster, &ro, 25).unwrap();
    assert_eq!(labels(&cluster)["canary"], "yes");

    let cluster = self::cluster();
    let ro = rollout(json!({"httpRoute": HTTP_ROUTE, "disableInProgressLabel": true}));
    set_weight(&cluster, &ro, 25).unwrap();
    assert!(labels(&cluster).is_null());
}

/// Argo's SetWeightViaRoutes: lists of routes of several kinds.
#[test]
fn weights_are_set_on_every_listed_route() {
    let cluster = cluster();
    let ro = rollout(json!({
        "httpRoutes": [{"name": HTTP_ROUTE}],
        "grpcRoutes": [{"name": GRPC_ROUTE}],
        "tcpRoutes": [{"name": TCP_ROUTE}],
    }));
    set_weight(&cluster, &ro, 40).unwrap();
    for (kind, name) in [(Kind::Http, HTTP_ROUTE), (Kind::Grpc, GRPC_ROUTE), (Kind::Tcp, TCP_ROUTE)] {
        assert_eq!(weights(&rules(&cluster, kind, name)[0]), [(STABLE.into(), Some(60)), (CANARY.into(), Some(40))]);
    }
    assert_eq!(weights(&rules(&cluster, Kind::Tls, TLS_ROUTE)[0])[0].1, Some(100), "an unlisted route is untouched");
}

/// The same weight again writes nothing.
#[test]
fn the_same_weight_writes_nothing() {
    let cluster = cluster();
    let ro = rollout(json!({"httpRoute": HTTP_ROUTE}));
    set_weight(&cluster, &ro, 30).unwrap();
    cluster.clear_actions();
    set_weight(&cluster, &ro, 30).unwrap();
    assert_eq!(cluster.verbs(), [Verb::Get]);
}

/// maxTrafficWeight: the stable gets the rest of it.
#[test]
fn the_stable_gets_the_rest_of_max_traffic_weight() {
    let cluster = cluster();
    let mut ro = rollout(json!({"httpRoute": HTTP_ROUTE}));
    ro["spec"]["strategy"]["canary"]["trafficRouting"]["maxTrafficWeight"] = json!(1000);
    set_weight(&cluster, &ro, 300).unwrap();
    assert_eq!(
        weights(&rules(&cluster, Kind::Http, HTTP_ROUTE)[0]),
        [(STABLE.into(), Some(700)), (CANARY.into(), Some(300))]
    );
}

/// Argo's TestSetWeightPreservesUnmanagedHTTPBackends.
#[test]
fn other_backends_are_kept() {
    let cluster = cluster();
    let mut r = route(Kind::Http, HTTP_ROUTE);
    r["spec"]["rules"][0]["backendRefs"].as_array_mut().unwrap().push(backend("extra-pipeline-service", Some(1)));
    cluster.insert(r);
    let ro = rollout(json!({"httpRoute": HTTP_ROUTE}));
    set_weight(&cluster, &ro, 30).unwrap();
    assert_eq!(
        weights(&rules(&cluster, Kind::Http, HTTP_ROUTE)[0]),
        [(STABLE.into(), Some(70)), (CANARY.into(), Some(30)), ("extra-pipeline-service".into(), Some(1))]
    );
    set_weight(&cluster, &ro, 0).unwrap();
    assert_eq!(weights(&rules(&cluster, Kind::Http, HTTP_ROUTE)[0])[2], ("extra-pipeline-service".into(), Some(1)));
}

/// Rules that do not send to both Services are not weighted (a stable-only rule at weight 0
/// would fail its traffic); a route without any such rule is an error naming it.
#[test]
fn only_rules_with_both_services_are_weighted() {
    let cluster = cluster();
    let mut r = route(Kind::Http, HTTP_ROUTE);
    r["spec"]["rules"].as_array_mut().unwrap().push(json!({"backendRefs": [backend(STABLE, None)]}));
    cluster.insert(r);
    let ro = rollout(json!({"httpRoute": HTTP_ROUTE}));
    set_weight(&cluster, &ro, 100).unwrap();
    assert_eq!(weights(&rules(&cluster, Kind::Http, HTTP_ROUTE)[1]), [(STABLE.into(), None)]);

    let cluster = self::cluster();
    let mut r = route(Kind::Http, HTTP_ROUTE);
    r["spec"]["rules"] = json!([{"backendRefs": [backend(STABLE, Some(100))]}]);
    cluster.insert(r);
    let err = set_weight(&cluster, &ro, 10).unwrap_err();
    assert_eq!(
        err.0,
        format!(
            "HTTPRoute \"{HTTP_ROUTE}\": no rule has backendRefs to both the canary Service \"{CANARY}\" and the stable \
             Service \"{STABLE}\" (rule 0 has a backendRef to \"{STABLE}\" only)"
        )
    );
    assert_eq!(cluster.writes(), 0);
}

/// A backendRef to a Service of another namespace, or to another kind, is not the Rollout's.
#[test]
fn backend_refs_of_another_namespace_or_kind_are_not_the_services() {
    let cluster = cluster();
    let mut r = route(Kind::Http, HTTP_ROUTE);
    r["spec"]["rules"][0]["backendRefs"][1]["namespace"] = json!("other");
    cluster.insert(r);
    let err = set_weight(&cluster, &rollout(json!({"httpRoute": HTTP_ROUTE})), 10).unwrap_err();
    assert!(err.0.contains("no rule has backendRefs to both"), "{err}");
}

/// Errors: a missing route, no routes, another namespace, experiment destinations.
#[test]
fn configuration_errors_are_clear() {
    let cluster = cluster();
    let err = set_weight(&cluster, &rollout(json!({"httpRoute": "missing"})), 10).unwrap_err();
    assert!(err.0.starts_with("HTTPRoute \"missing\": not found"), "{err}");
    let err = set_weight(&cluster, &rollout(json!({})), 10).unwrap_err();
    assert_eq!(err.0, NO_ROUTES);
    let err = set_weight(&cluster, &rollout(json!({"namespace": "other", "httpRoute": HTTP_ROUTE})), 10).unwrap_err();
    assert!(err.0.contains("acts only in the Rollout's namespace \"default\""), "{err}");
    let ro = rollout(json!({"httpRoute": HTTP_ROUTE}));
    let additional = [WeightDestination { service_name: "exp".into(), pod_template_hash: "h".into(), weight: 5 }];
    let err = GatewayApi::set_weight(&Context::new(ro.clone(), &cluster), config(&ro), 10, &additional).unwrap_err();
    assert!(err.0.contains("additional destinations"), "{err}");
    assert_eq!(cluster.writes(), 0);
}

/// Argo's TestHTTPRouteWithSelector / TestCombinedSelectorAndExplicitRoute: routes found by label
/// get weights too.
#[test]
fn routes_are_found_by_label_selector() {
    let cluster = cluster();
    let mut labelled = route(Kind::Http, "selected");
    labelled["metadata"]["labels"] = json!({"app": "test-app", "canary-enabled": "true"});
    cluster.insert(labelled);
    let ro = rollout(json!({
        "httpRoute": HTTP_ROUTE,
        "httpRouteSelector": {"matchLabels": {"app": "test-app"}, "matchExpressions": [{"key": "canary-enabled", "operator": "In", "values": ["true"]}]},
    }));
    set_weight(&cluster, &ro, 20).unwrap();
    for name in [HTTP_ROUTE, "selected"] {
        assert_eq!(weights(&rules(&cluster, Kind::Http, name)[0])[1], (CANARY.into(), Some(20)), "{name}");
    }
    assert_eq!(cluster.verbs()[0], Verb::List);
}

/// Argo's SetHTTPHeaderRoute / SetGRPCHeaderRoute: a prefix becomes a regular expression; the
/// managed rule is named after the step and sends to the canary only.
#[test]
fn a_header_route_is_a_rule_of_its_own() {
    for (kind, name, key) in [(Kind::Http, HTTP_ROUTE, "httpRoute"), (Kind::Grpc, GRPC_ROUTE, "grpcRoute")] {
        let cluster = cluster();
        let ro = rollout(json!({key: name}));
        set_header(&cluster, &ro, &header_step(MANAGED, "X-Test", prefix("test"))).unwrap();
        let all = rules(&cluster, kind, name);
        assert_eq!(all.len(), 2);
        assert_eq!(all[1]["name"], MANAGED);
        assert_eq!(
            all[1]["matches"][0]["headers"][0],
            json!({"name": "X-Test", "type": "RegularExpression", "value": "test.*"})
        );
        assert_eq!(all[1]["backendRefs"], json!([{"group": "", "kind": "Service", "name": CANARY, "port": 80}]));
        if kind == Kind::Http {
            assert_eq!(all[1]["matches"][0]["path"], json!({"type": "PathPrefix", "value": "/"}));
        }
    }
}

/// Argo's Set*HeaderRouteWithFilters / WithoutFilters.
#[test]
fn a_header_rule_keeps_the_source_rules_filters() {
    let cluster = cluster();
    let mut r = route(Kind::Http, HTTP_ROUTE);
    let filters = json!([
        {"type": "RequestHeaderModifier", "requestHeaderModifier": {"add": [{"name": "X-Custom-Header", "value": "custom-value"}]}},
        {"type": "ResponseHeaderModifier", "responseHeaderModifier": {"set": [{"name": "X-Response-Header", "value": "response-value"}]}},
    ]);
    r["spec"]["rules"][0]["filters"] = filters.clone();
    cluster.insert(r);
    let ro = rollout(json!({"httpRoute": HTTP_ROUTE}));
    set_header(&cluster, &ro, &header_step(MANAGED, "X-Test", prefix("test"))).unwrap();
    assert_eq!(rules(&cluster, Kind::Http, HTTP_ROUTE)[1]["filters"], filters);

    let cluster = self::cluster();
    set_header(&cluster, &ro, &header_step(MANAGED, "X-Test", prefix("test"))).unwrap();
    assert!(rules(&cluster, Kind::Http, HTTP_ROUTE)[1].get("filters").is_none());
}

/// Argo's TestSetHTTPHeaderRouteWithExisting{Headers,Method,QueryParams}: the source match's parts
/// are kept and the step's headers added.
#[test]
fn a_header_rule_keeps_the_source_match() {
    let cluster = cluster();
    let mut r = route(Kind::Http, HTTP_ROUTE);
    r["spec"]["rules"][0]["matches"] = json!([{
        "path": {"type": "PathPrefix", "value": "/api"},
        "method": "GET",
        "queryParams": [{"name": "q", "value": "1"}],
        "headers": [{"name": "X-Existing", "value": "yes"}],
    }]);
    cluster.insert(r);
    let ro = rollout(json!({"httpRoute": HTTP_ROUTE}));
    set_header(&cluster, &ro, &header_step(MANAGED, "X-Canary", exact("true"))).unwrap();
    assert_eq!(
        rules(&cluster, Kind::Http, HTTP_ROUTE)[1]["matches"],
        json!([{
            "path": {"type": "PathPrefix", "value": "/api"},
            "method": "GET",
            "queryParams": [{"name": "q", "value": "1"}],
            "headers": [{"name": "X-Existing", "value": "yes"}, {"name": "X-Canary", "type": "Exact", "value": "true"}],
        }])
    );
}

/// Argo's TestSetHTTPHeaderRouteMultiRuleHTTPRoute: one managed rule per source rule,
/// `<name>`, `<name>-1`.
#[test]
fn each_source_rule_gets_its_header_rule() {
    let cluster = cluster();
    let mut r = route(Kind::Http, HTTP_ROUTE);
    let mut second = r["spec"]["rules"][0].clone();
    second["matches"] = json!([{"path": {"type": "PathPrefix", "value": "/b"}}]);
    r["spec"]["rules"].as_array_mut().unwrap().push(second);
    cluster.insert(r);
    let ro = rollout(json!({"httpRoute": HTTP_ROUTE}));
    set_header(&cluster, &ro, &header_step(MANAGED, "X-Canary", exact("true"))).unwrap();
    let all = rules(&cluster, Kind::Http, HTTP_ROUTE);
    assert_eq!(all.len(), 4);
    assert_eq!((all[2]["name"].as_str(), all[3]["name"].as_str()), (Some(MANAGED), Some("test-header-route-1")));
    assert_eq!(all[3]["matches"][0]["path"]["value"], "/b");
}

/// Argo's NoDuplicateOnRepeatedCall and TwoDistinctNamesAppendsBoth.
#[test]
fn header_routes_are_replaced_not_duplicated() {
    let cluster = cluster();
    let ro = rollout(json!({"httpRoute": HTTP_ROUTE}));
    set_header(&cluster, &ro, &header_step(MANAGED, "X-Canary", exact("true"))).unwrap();
    cluster.clear_actions();
    set_header(&cluster, &ro, &header_step(MANAGED, "X-Canary", exact("true"))).unwrap();
    assert_eq!(cluster.writes(), 0, "the same step again writes nothing");
    set_header(&cluster, &ro, &header_step(MANAGED, "X-Canary", exact("false"))).unwrap();
    let all = rules(&cluster, Kind::Http, HTTP_ROUTE);
    assert_eq!(all.len(), 2);
    assert_eq!(all[1]["matches"][0]["headers"][0]["value"], "false");
    set_header(&cluster, &ro, &header_step("second", "X-Other", exact("1"))).unwrap();
    let names: Vec<Value> = rules(&cluster, Kind::Http, HTTP_ROUTE).iter().map(|r| r["name"].clone()).collect();
    assert_eq!(names, [Value::Null, json!(MANAGED), json!("second")]);
}

/// Argo's SetWeightDoesNotClobber{HTTP,GRPC}HeaderRouteWeight (issues 158 and 169).
#[test]
fn set_weight_leaves_header_rules_alone() {
    for (kind, name, key) in [(Kind::Http, HTTP_ROUTE, "httpRoute"), (Kind::Grpc, GRPC_ROUTE, "grpcRoute")] {
        let cluster = cluster();
        let ro = rollout(json!({key: name}));
        set_header(&cluster, &ro, &header_step(MANAGED, "X-Canary", exact("true"))).unwrap();
        set_weight(&cluster, &ro, 0).unwrap();
        let all = rules(&cluster, kind, name);
        assert_eq!(weights(&all[0]), [(STABLE.into(), Some(100)), (CANARY.into(), Some(0))]);
        assert_eq!(weights(&all[1]), [(CANARY.into(), None)]);
    }
}

/// Argo's RemoveHTTPManagedRoutes / RemoveGRPCManagedRoutes, and a step without match.
#[test]
fn managed_rules_are_removed() {
    let cluster = cluster();
    let ro = rollout(json!({"httpRoute": HTTP_ROUTE, "grpcRoute": GRPC_ROUTE}));
    let original = (rules(&cluster, Kind::Http, HTTP_ROUTE), rules(&cluster, Kind::Grpc, GRPC_ROUTE));
    set_header(&cluster, &ro, &header_step(MANAGED, "X-Canary", exact("true"))).unwrap();
    set_header(&cluster, &ro, &header_step("second", "X-Other", exact("1"))).unwrap();
    set_header(&cluster, &ro, &SetHeaderRoute { name: "second".into(), matches: None }).unwrap();
    assert_eq!(rules(&cluster, Kind::Http, HTTP_ROUTE).len(), 2);
    remove(&cluster, &ro).unwrap();
    assert_eq!((rules(&cluster, Kind::Http, HTTP_ROUTE), rules(&cluster, Kind::Grpc, GRPC_ROUTE)), original);
    let annotations = stored(&cluster, Kind::Http, HTTP_ROUTE)["metadata"]["annotations"].clone();
    assert!(annotations.get(MANAGED_RULES_ANNOTATION).is_none(), "{annotations}");
}

/// argo-rollouts#1438 / rollouts-plugin-trafficrouter-gatewayapi#217: rules that look like the
/// plugin's (one backendRef to the canary, a name with the managed route's prefix) but that the
/// Rollout did not add are never removed nor changed.
#[test]
fn rules_it_did_not_create_are_never_touched() {
    let cluster = cluster();
    let mut r = route(Kind::Http, HTTP_ROUTE);
    let lookalikes = [
        json!({"backendRefs": [{"name": CANARY, "port": 80}]}),
        json!({"name": "test-header-route-1", "backendRefs": [{"name": CANARY, "port": 80}],
               "matches": [{"headers": [{"name": "X-Canary", "value": "true"}]}]}),
        json!({"name": "admin", "backendRefs": [{"name": STABLE, "port": 80}]}),
    ];
    r["spec"]["rules"].as_array_mut().unwrap().extend(lookalikes.iter().cloned());
    cluster.insert(r);
    let ro = rollout(json!({"httpRoute": HTTP_ROUTE}));
    set_header(&cluster, &ro, &header_step(MANAGED, "X-Canary", exact("true"))).unwrap();
    set_weight(&cluster, &ro, 100).unwrap();
    set_header(&cluster, &ro, &SetHeaderRoute { name: MANAGED.into(), matches: None }).unwrap();
    remove(&cluster, &ro).unwrap();
    let all = rules(&cluster, Kind::Http, HTTP_ROUTE);
    assert_eq!(all.len(), 4);
    assert_eq!(&all[1..], &lookalikes[..]);
}

/// A rule someone else named as the managed route needs is an error, not a takeover.
#[test]
fn a_foreign_rule_with_the_managed_name_is_an_error() {
    let cluster = cluster();
    let mut r = route(Kind::Http, HTTP_ROUTE);
    r["spec"]["rules"].as_array_mut().unwrap().push(json!({"name": MANAGED, "backendRefs": [{"name": CANARY}]}));
    cluster.insert(r.clone());
    let ro = rollout(json!({"httpRoute": HTTP_ROUTE}));
    let err = set_header(&cluster, &ro, &header_step(MANAGED, "X-Canary", exact("true"))).unwrap_err();
    assert!(err.0.starts_with(&format!("HTTPRoute \"{HTTP_ROUTE}\": rule 1 is named \"{MANAGED}\"")), "{err}");
    remove(&cluster, &ro).unwrap();
    assert_eq!(rules(&cluster, Kind::Http, HTTP_ROUTE), r["spec"]["rules"].as_array().unwrap().clone());
}

/// Two Rollouts sharing a route: each removes its own rules only.
#[test]
fn rollouts_sharing_a_route_keep_to_their_rules() {
    let cluster = cluster();
    let mut r = route(Kind::Http, HTTP_ROUTE);
    r["spec"]["rules"]
        .as_array_mut()
        .unwrap()
        .push(json!({"backendRefs": [backend("api-stable", Some(100)), backend("api-canary", Some(0))]}));
    cluster.insert(r);
    let web = rollout(json!({"httpRoute": HTTP_ROUTE}));
    let mut api = web.clone();
    api["metadata"]["name"] = json!("api");
    api["spec"]["strategy"]["canary"]["stableService"] = json!("api-stable");
    api["spec"]["strategy"]["canary"]["canaryService"] = json!("api-canary");
    set_header(&cluster, &web, &header_step(MANAGED, "X-Web", exact("1"))).unwrap();
    set_header(&cluster, &api, &header_step("api-header", "X-Api", exact("1"))).unwrap();
    assert_eq!(rules(&cluster, Kind::Http, HTTP_ROUTE).len(), 4);
    remove(&cluster, &web).unwrap();
    let names: Vec<Value> = rules(&cluster, Kind::Http, HTTP_ROUTE).iter().map(|r| r["name"].clone()).collect();
    assert_eq!(names, [Value::Null, Value::Null, json!("api-header")]);
    remove(&cluster, &api).unwrap();
    assert_eq!(rules(&cluster, Kind::Http, HTTP_ROUTE).len(), 2);
}

/// An API server without named rules drops `name` and defaults fields: the Rollout's rules are
/// still known by their recorded content, across a controller restart (no state at all).
#[test]
fn rules_are_recognised_where_the_api_server_drops_their_names() {
    let cluster = cluster();
    let old_api = OldGatewayApi(&cluster);
    let ro = rollout(json!({"httpRoute": HTTP_ROUTE}));
    let mut r = route(Kind::Http, HTTP_ROUTE);
    // A foreign rule of the same shape, with another header value.
    r["spec"]["rules"].as_array_mut().unwrap().push(json!({
        "matches": [{"path": {"type": "PathPrefix", "value": "/"}, "headers": [{"name": "X-Canary", "type": "Exact", "value": "other"}]}],
        "backendRefs": [{"group": "", "kind": "Service", "name": CANARY, "port": 80, "weight": 1}],
    }));
    cluster.insert(r);
    set_header(&old_api, &ro, &header_step(MANAGED, "X-Canary", exact("true"))).unwrap();
    let all = rules(&cluster, Kind::Http, HTTP_ROUTE);
    assert_eq!(all.len(), 3);
    assert!(all[2].get("name").is_none() && all[2]["backendRefs"][0]["weight"] == 1, "{}", all[2]);
    // Idempotent: the same step is recognised and writes nothing.
    cluster.clear_actions();
    set_header(&old_api, &ro, &header_step(MANAGED, "X-Canary", exact("true"))).unwrap();
    assert_eq!(cluster.writes(), 0);
    remove(&old_api, &ro).unwrap();
    let all = rules(&cluster, Kind::Http, HTTP_ROUTE);
    assert_eq!(all.len(), 2);
    assert_eq!(all[1]["matches"][0]["headers"][0]["value"], "other");
}

/// A cluster whose API server drops rule names and defaults backendRef weights to 1.
struct OldGatewayApi<'a>(&'a FakeCluster);

impl Cluster for OldGatewayApi<'_> {
    fn get(&self, object: &ObjectRef) -> Result<Value, KubeError> {
        self.0.get(object)
    }
    fn list(&self, api_version: &str, kind: &str, selector: Option<&str>) -> Result<Vec<Value>, KubeError> {
        self.0.list(api_version, kind, selector)
    }
    fn create(&self, object: &Value) -> Result<Value, KubeError> {
        self.0.create(object)
    }
    fn patch(&self, object: &ObjectRef, patch_type: PatchType, patch: &Value) -> Result<Value, KubeError> {
        let mut patch = patch.clone();
        for rule in patch.pointer_mut("/spec/rules").and_then(Value::as_array_mut).into_iter().flatten() {
            rule.as_object_mut().unwrap().remove("name");
            for b in rule.get_mut("backendRefs").and_then(Value::as_array_mut).into_iter().flatten() {
                b.as_object_mut().unwrap().entry("weight").or_insert(json!(1));
            }
        }
        self.0.patch(object, patch_type, &patch)
    }
    fn delete(&self, object: &ObjectRef) -> Result<(), KubeError> {
        self.0.delete(object)
    }
}

/// A write that lost a race is read and tried again; the other writer's change is kept.
#[test]
fn a_concurrent_change_is_kept() {
    let cluster = cluster();
    let ro = rollout(json!({"httpRoute": HTTP_ROUTE}));
    let racer = Racer { inner: &cluster, raced: std::cell::Cell::new(false) };
    set_header(&racer, &ro, &header_step(MANAGED, "X-Canary", exact("true"))).unwrap();
    assert_eq!(cluster.verbs(), [Verb::Get, Verb::Patch, Verb::Get, Verb::Patch]);
    let all = rules(&cluster, Kind::Http, HTTP_ROUTE);
    let names: Vec<Value> = all.iter().map(|r| r["name"].clone()).collect();
    assert_eq!(names, [Value::Null, json!("added-meanwhile"), json!(MANAGED)]);
}

/// A cluster where someone adds a rule between the router's first read and its write.
struct Racer<'a> {
    inner: &'a FakeCluster,
    raced: std::cell::Cell<bool>,
}

impl Cluster for Racer<'_> {
    fn get(&self, object: &ObjectRef) -> Result<Value, KubeError> {
        self.inner.get(object)
    }
    fn list(&self, api_version: &str, kind: &str, selector: Option<&str>) -> Result<Vec<Value>, KubeError> {
        self.inner.list(api_version, kind, selector)
    }
    fn create(&self, object: &Value) -> Result<Value, KubeError> {
        self.inner.create(object)
    }
    fn patch(&self, object: &ObjectRef, patch_type: PatchType, patch: &Value) -> Result<Value, KubeError> {
        if !self.raced.replace(true) {
            let mut route = self.inner.object(&object.api_version, &object.kind, &object.name).unwrap();
            route["spec"]["rules"]
                .as_array_mut()
                .unwrap()
                .push(json!({"name": "added-meanwhile", "backendRefs": [{"name": "x"}]}));
            route["metadata"].as_object_mut().unwrap().remove("resourceVersion");
            self.inner.insert(route);
        }
        self.inner.patch(object, patch_type, patch)
    }
    fn delete(&self, object: &ObjectRef) -> Result<(), KubeError> {
        self.inner.delete(object)
    }
}

/// Mirror routes: the step's matches within the source rule's, the source's backends (whose
/// weights follow setWeight), and a RequestMirror filter to the canary with the percentage.
#[test]
fn a_mirror_route_copies_traffic_to_the_canary() {
    let cluster = cluster();
    let ro = rollout(json!({"httpRoute": HTTP_ROUTE}));
    let step = SetMirrorRoute {
        name: "mirror".into(),
        percentage: Some(20),
        matches: Some(vec![RouteMatch {
            method: Some(exact("GET")),
            path: Some(prefix("/api")),
            headers: Some(BTreeMap::from([("X-Mirror".to_string(), exact("yes"))])),
        }]),
    };
    set_weight(&cluster, &ro, 10).unwrap();
    GatewayApi::set_mirror_route(&Context::new(ro.clone(), &cluster), config(&ro), &step).unwrap();
    let all = rules(&cluster, Kind::Http, HTTP_ROUTE);
    assert_eq!(
        all[1],
        json!({
            "name": "mirror",
            "matches": [{
                "path": {"type": "PathPrefix", "value": "/api"},
                "method": "GET",
                "headers": [{"name": "X-Mirror", "type": "Exact", "value": "yes"}],
            }],
            "filters": [{"type": "RequestMirror", "requestMirror": {
                "backendRef": {"group": "", "kind": "Service", "name": CANARY, "port": 80}, "percent": 20}}],
            "backendRefs": [backend(STABLE, Some(90)), backend(CANARY, Some(10))],
        })
    );
    set_weight(&cluster, &ro, 30).unwrap();
    assert_eq!(
        weights(&rules(&cluster, Kind::Http, HTTP_ROUTE)[1]),
        [(STABLE.into(), Some(70)), (CANARY.into(), Some(30))]
    );
    let removal = SetMirrorRoute { name: "mirror".into(), ..Default::default() };
    GatewayApi::set_mirror_route(&Context::new(ro.clone(), &cluster), config(&ro), &removal).unwrap();
    assert_eq!(rules(&cluster, Kind::Http, HTTP_ROUTE).len(), 1);
}

/// A regex method cannot be expressed: a clear error, nothing written.
#[test]
fn a_mirror_match_gateway_api_cannot_express_is_an_error() {
    let cluster = cluster();
    let ro = rollout(json!({"httpRoute": HTTP_ROUTE}));
    let step = SetMirrorRoute {
        name: "mirror".into(),
        matches: Some(vec![RouteMatch { method: Some(prefix("G")), ..Default::default() }]),
        ..Default::default()
    };
    let err = GatewayApi::set_mirror_route(&Context::new(ro.clone(), &cluster), config(&ro), &step).unwrap_err();
    assert!(err.0.contains("matches methods exactly"), "{err}");
    assert_eq!(cluster.writes(), 0);
}

/// Routes listed without header routes, and TCP routes, get no header rules; a missing route is
/// skipped by removeManagedRoutes; verification is not implemented.
#[test]
fn header_routes_only_where_asked() {
    let cluster = cluster();
    let ro =
        rollout(json!({"httpRoutes": [{"name": HTTP_ROUTE}], "tcpRoute": TCP_ROUTE, "grpcRoutes": [{"name": "gone"}]}));
    set_header(&cluster, &ro, &header_step(MANAGED, "X-Canary", exact("true"))).unwrap();
    assert_eq!(cluster.writes(), 0);
    remove(&cluster, &ro).unwrap();
    let ctx = Context::new(ro.clone(), &cluster);
    assert_eq!(GatewayApi::verify_weight(&ctx, config(&ro), 10, &[]), Ok((Verification::NotImplemented, None)));
    assert_eq!(GatewayApi::update_hash(&ctx, config(&ro), "a", "b", &[]), Ok(None));
}

/// A header match without a value is Argo's "invalid header match type".
#[test]
fn a_header_match_without_value_is_an_error() {
    let cluster = cluster();
    let ro = rollout(json!({"httpRoute": HTTP_ROUTE}));
    let err = set_header(&cluster, &ro, &header_step(MANAGED, "X-Canary", StringMatch::default())).unwrap_err();
    assert!(err.0.contains("invalid header match type"), "{err}");
}

/// An older Gateway API serves TCPRoute and TLSRoute as v1alpha2 only: read and written there.
#[test]
fn l4_routes_fall_back_to_v1alpha2() {
    let cluster = cluster();
    let old = OnlyV1alpha2(&cluster);
    let ro = rollout(json!({"tcpRoute": TCP_ROUTE, "tlsRoutes": [{"name": TLS_ROUTE}]}));
    // The v1 read and write are refused: the weights are there only if v1alpha2 was used.
    set_weight(&old, &ro, 30).unwrap();
    for (kind, name) in [(Kind::Tcp, TCP_ROUTE), (Kind::Tls, TLS_ROUTE)] {
        assert_eq!(weights(&rules(&cluster, kind, name)[0]), [(STABLE.into(), Some(70)), (CANARY.into(), Some(30))]);
    }
}

/// A cluster that serves layer-4 routes as v1alpha2 only.
struct OnlyV1alpha2<'a>(&'a FakeCluster);

impl OnlyV1alpha2<'_> {
    fn served(&self, api_version: &str, kind: &str) -> Result<(), KubeError> {
        if matches!(kind, "TCPRoute" | "TLSRoute") && api_version.ends_with("/v1") {
            return Err(KubeError::NotFound(format!(
                "the server could not find the requested resource ({kind} {api_version})"
            )));
        }
        Ok(())
    }
}

impl Cluster for OnlyV1alpha2<'_> {
    fn get(&self, object: &ObjectRef) -> Result<Value, KubeError> {
        self.served(&object.api_version, &object.kind)?;
        self.0.get(object)
    }
    fn list(&self, api_version: &str, kind: &str, selector: Option<&str>) -> Result<Vec<Value>, KubeError> {
        self.served(api_version, kind)?;
        self.0.list(api_version, kind, selector)
    }
    fn create(&self, object: &Value) -> Result<Value, KubeError> {
        self.0.create(object)
    }
    fn patch(&self, object: &ObjectRef, patch_type: PatchType, patch: &Value) -> Result<Value, KubeError> {
        self.served(&object.api_version, &object.kind)?;
        self.0.patch(object, patch_type, patch)
    }
    fn delete(&self, object: &ObjectRef) -> Result<(), KubeError> {
        self.0.delete(object)
    }
}

//! The cases of Argo's istio_test.go against the fake cluster.

use super::*;
use aviary_plugin_sdk::kubernetes::fake::FakeCluster;
use aviary_plugin_sdk::kubernetes::{Cluster, Error as KubeError};
use aviary_plugin_sdk::router::{Event, HeaderRoutingMatch, RouteMatch, StringMatch, Verification};

fn dest(host: &str, weight: i64) -> Value {
    json!({"destination": {"host": host}, "weight": weight})
}

fn subset_dest(host: &str, subset: &str, weight: i64) -> Value {
    json!({"destination": {"host": host, "subset": subset}, "weight": weight})
}

fn virtual_service(name: &str, spec: Value) -> Value {
    let mut spec = spec;
    spec["gateways"] = json!(["istio-rollout-gateway"]);
    spec["hosts"] = json!(["istio-rollout.dev.argoproj.io"]);
    json!({"apiVersion": ISTIO_API, "kind": "VirtualService", "metadata": {"name": name, "namespace": "default"}, "spec": spec})
}

/// Argo's `regularVsvc`: two named HTTP routes, stable 100 and canary 0.
fn regular_vsvc() -> Value {
    virtual_service(
        "vsvc",
        json!({"http": [
            {"name": "primary", "route": [dest("stable", 100), dest("canary", 0)]},
            {"name": "secondary", "route": [dest("stable", 100), dest("canary", 0)]},
        ]}),
    )
}

fn l4_routes() -> Value {
    json!([
        {"match": [{"port": 3000}], "route": [dest("stable", 100), dest("canary", 0)]},
        {"match": [{"port": 3001}], "route": [dest("stable", 100), dest("canary", 0)]},
    ])
}

fn rollout(istio: Value) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "rollout", "namespace": "default", "uid": "rollout-uid"},
        "spec": {"strategy": {"canary": {
            "stableService": "stable",
            "canaryService": "canary",
            "trafficRouting": {"istio": istio},
        }}},
    })
}

fn with_routes(routes: &[&str]) -> Value {
    rollout(json!({"virtualService": {"name": "vsvc", "routes": routes}}))
}

fn with_destination_rule(additional: &[&str]) -> Value {
    let mut ro = rollout(json!({
        "virtualService": {"name": "vsvc", "routes": ["primary"]},
        "destinationRule": {"name": "istio-destrule", "canarySubsetName": "canary", "stableSubsetName": "stable",
                            "additionalSubsetNames": additional},
    }));
    let canary = ro["spec"]["strategy"]["canary"].as_object_mut().unwrap();
    canary.remove("stableService");
    canary.remove("canaryService");
    ro
}

fn set_managed(ro: &mut Value, names: &[&str]) {
    let routes: Vec<Value> = names.iter().map(|n| json!({"name": n})).collect();
    ro["spec"]["strategy"]["canary"]["trafficRouting"]["managedRoutes"] = json!(routes);
}

fn config(ro: &Value) -> Config {
    serde_json::from_value(ro["spec"]["strategy"]["canary"]["trafficRouting"]["istio"].clone()).unwrap()
}

fn cluster(objects: &[Value]) -> FakeCluster {
    let cluster = FakeCluster::new("default").granting(GRANTS);
    for o in objects {
        cluster.insert(o.clone());
    }
    cluster
}

fn vs(cluster: &FakeCluster, name: &str) -> Value {
    cluster.object(ISTIO_API, "VirtualService", name).expect("the VirtualService exists")
}

fn dr(cluster: &FakeCluster) -> Value {
    cluster.object(ISTIO_API, "DestinationRule", "istio-destrule").expect("the DestinationRule exists")
}

fn http(cluster: &FakeCluster) -> Vec<Value> {
    vs(cluster, "vsvc")["spec"]["http"].as_array().cloned().unwrap_or_default()
}

/// The weight of the destination to `host` (or subset) in a route; `None` when it has none.
fn weight(route: &Value, host: &str) -> Option<i64> {
    route["route"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["destination"]["host"] == host || d["destination"]["subset"] == host)
        .map(|d| d.get("weight").and_then(Value::as_i64).unwrap_or(0))
}

fn names(routes: &[Value]) -> Vec<String> {
    routes.iter().map(|r| r["name"].as_str().unwrap_or("").to_string()).collect()
}

fn set_weight(
    cluster: &dyn Cluster,
    ro: &Value,
    w: i32,
    additional: &[WeightDestination],
) -> Result<StateUpdate, Error> {
    Istio::set_weight(&Context::new(ro.clone(), cluster), config(ro), w, additional)
}

fn update_hash(
    cluster: &dyn Cluster,
    ro: &Value,
    canary: &str,
    stable: &str,
    additional: &[WeightDestination],
) -> Result<StateUpdate, Error> {
    Istio::update_hash(&Context::new(ro.clone(), cluster), config(ro), canary, stable, additional)
}

fn header(cluster: &dyn Cluster, ro: &Value, step: &SetHeaderRoute) -> Result<StateUpdate, Error> {
    Istio::set_header_route(&Context::new(ro.clone(), cluster), config(ro), step)
}

fn mirror(cluster: &dyn Cluster, ro: &Value, step: &SetMirrorRoute) -> Result<StateUpdate, Error> {
    Istio::set_mirror_route(&Context::new(ro.clone(), cluster), config(ro), step)
}

fn remove(cluster: &dyn Cluster, ro: &Value) -> Result<StateUpdate, Error> {
    Istio::remove_managed_routes(&Context::new(ro.clone(), cluster), config(ro))
}

fn header_step(name: &str, header: &str, value: StringMatch) -> SetHeaderRoute {
    SetHeaderRoute {
        name: name.into(),
        matches: Some(vec![HeaderRoutingMatch { header_name: header.into(), header_value: value }]),
    }
}

fn exact(v: &str) -> StringMatch {
    StringMatch { exact: v.into(), ..Default::default() }
}

fn mirror_step(name: &str, method: &str, percentage: Option<i32>) -> SetMirrorRoute {
    SetMirrorRoute {
        name: name.into(),
        matches: Some(vec![RouteMatch { method: Some(exact(method)), ..Default::default() }]),
        percentage,
    }
}

fn experiment(weight: i32) -> WeightDestination {
    WeightDestination { service_name: "exp-svc".into(), pod_template_hash: String::new(), weight }
}

/// Argo's TestHttpReconcileWeightsBaseCase (HTTP and mixed VirtualServices).
#[test]
fn the_named_http_route_is_weighed() {
    let mut mixed = regular_vsvc();
    mixed["spec"]["tls"] = json!([{"match": [{"port": 3000}], "route": [dest("stable", 100), dest("canary", 0)]}]);
    for v in [regular_vsvc(), mixed] {
        let cluster = cluster(&[v]);
        set_weight(&cluster, &with_routes(&["primary"]), 10, &[]).unwrap();
        let routes = http(&cluster);
        assert_eq!((weight(&routes[0], "canary"), weight(&routes[0], "stable")), (Some(10), Some(90)));
        assert_eq!((weight(&routes[1], "canary"), weight(&routes[1], "stable")), (Some(0), Some(100)));
        assert_eq!(cluster.verbs(), [Verb::Get, Verb::Patch]);
    }
}

/// Argo's TestHttpReconcileMultipleDestRule: a destination of an additional subset keeps its
/// weight, and the stable gets what is left.
#[test]
fn additional_subsets_keep_their_weight() {
    let mut ro = with_destination_rule(&["stable-subset"]);
    ro["spec"]["strategy"]["canary"]["trafficRouting"]["istio"]["virtualService"]["routes"] = json!([]);
    let v = virtual_service(
        "vsvc",
        json!({"http": [{"route": [
            subset_dest("rollout-service", "stable", 100),
            subset_dest("rollout-service", "canary", 0),
            subset_dest("additional-service", "stable-subset", 20),
        ]}]}),
    );
    let cluster = cluster(&[v]);
    set_weight(&cluster, &ro, 10, &[]).unwrap();
    let route = &http(&cluster)[0];
    assert_eq!(
        route["route"].as_array().unwrap().iter().map(|d| d["weight"].as_i64().unwrap()).collect::<Vec<_>>(),
        [70, 10, 20]
    );
}

/// Argo's TestTlsReconcileWeightsBaseCase, TestTlsSniReconcileWeightsBaseCase,
/// TestTcpReconcileWeightsBaseCase: the configured port's route only.
#[test]
fn tls_and_tcp_routes_are_weighed_by_port_and_sni() {
    for kind in ["tls", "tcp"] {
        let cluster = cluster(&[virtual_service("vsvc", json!({kind: l4_routes()}))]);
        let key = if kind == "tls" { "tlsRoutes" } else { "tcpRoutes" };
        let ro = rollout(json!({"virtualService": {"name": "vsvc", key: [{"port": 3000}]}}));
        set_weight(&cluster, &ro, 30, &[]).unwrap();
        let routes = vs(&cluster, "vsvc")["spec"][kind].clone();
        assert_eq!((weight(&routes[0], "canary"), weight(&routes[0], "stable")), (Some(30), Some(70)), "{kind}");
        assert_eq!(weight(&routes[1], "canary"), Some(0), "{kind}");
    }
    let sni = json!([
        {"match": [{"port": 3000, "sniHosts": ["foo.bar.com", "bar.foo.com"]}], "route": [dest("stable", 100), dest("canary", 0)]},
        {"match": [{"port": 3000, "sniHosts": ["other.com"]}], "route": [dest("stable", 100), dest("canary", 0)]},
    ]);
    let cluster = cluster(&[virtual_service("vsvc", json!({"tls": sni}))]);
    let ro = rollout(
        json!({"virtualService": {"name": "vsvc", "tlsRoutes": [{"port": 3000, "sniHosts": ["bar.foo.com", "foo.bar.com"]}]}}),
    );
    set_weight(&cluster, &ro, 30, &[]).unwrap();
    let routes = vs(&cluster, "vsvc")["spec"]["tls"].clone();
    assert_eq!((weight(&routes[0], "canary"), weight(&routes[1], "canary")), (Some(30), Some(0)));
}

/// Argo's TestReconcileWeightsPingPongBaseCase: with ping-pong, the Services by role.
#[test]
fn ping_pong_services_are_weighed_by_role() {
    let v =
        virtual_service("vsvc", json!({"http": [{"name": "primary", "route": [dest("ping", 100), dest("pong", 0)]}]}));
    let cluster = cluster(&[v]);
    let mut ro = with_routes(&["primary"]);
    let canary = ro["spec"]["strategy"]["canary"].as_object_mut().unwrap();
    canary.remove("stableService");
    canary.remove("canaryService");
    canary.insert("pingPong".into(), json!({"pingService": "ping", "pongService": "pong"}));
    ro["status"] = json!({"canary": {"stablePingPong": "ping"}});
    set_weight(&cluster, &ro, 20, &[]).unwrap();
    let route = &http(&cluster)[0];
    assert_eq!((weight(route, "ping"), weight(route, "pong")), (Some(80), Some(20)));
}

/// Argo's TestReconcileNoChanges / TestTlsReconcileNoChanges: nothing to change, nothing written.
#[test]
fn the_same_weight_writes_nothing() {
    let cluster = cluster(&[regular_vsvc()]);
    set_weight(&cluster, &with_routes(&["primary"]), 0, &[]).unwrap();
    assert_eq!(cluster.verbs(), [Verb::Get]);
}

/// Argo's TestReconcileVirtualServiceExperimentStep / TestHostSplitExperimentStep.
#[test]
fn experiment_destinations_come_and_go() {
    let cluster = cluster(&[regular_vsvc()]);
    let ro = with_routes(&["primary"]);
    set_weight(&cluster, &ro, 10, &[experiment(20)]).unwrap();
    let route = &http(&cluster)[0];
    assert_eq!(
        (weight(route, "stable"), weight(route, "canary"), weight(route, "exp-svc")),
        (Some(70), Some(10), Some(20))
    );
    set_weight(&cluster, &ro, 10, &[experiment(10)]).unwrap();
    assert_eq!(weight(&http(&cluster)[0], "exp-svc"), Some(10));
    set_weight(&cluster, &ro, 10, &[]).unwrap();
    let route = &http(&cluster)[0];
    assert_eq!(
        (weight(route, "stable"), weight(route, "canary"), weight(route, "exp-svc")),
        (Some(90), Some(10), None)
    );
    assert_eq!(cluster.verbs(), [Verb::Get, Verb::Patch, Verb::Get, Verb::Patch, Verb::Get, Verb::Patch]);
}

/// Argo's Test*ReconcileInvalidValidation, TestReconcileVirtualServiceNotFound,
/// Test*ReconcileAmbiguousRoutes, and a route without the Services.
#[test]
fn invalid_virtual_services_are_errors_with_argos_messages() {
    let cases: Vec<(Value, Value, &str)> = vec![
        (
            regular_vsvc(),
            with_routes(&["route-not-found"]),
            "HTTP Route 'route-not-found' is not found in the defined Virtual Service.",
        ),
        (
            regular_vsvc(),
            with_routes(&[]),
            "spec.http[] should be set in VirtualService and it must have exactly one route",
        ),
        (
            virtual_service("vsvc", json!({"tls": l4_routes()})),
            rollout(json!({"virtualService": {"name": "vsvc", "tlsRoutes": [{"port": 1234}]}})),
            "No matching TLS routes found in the defined Virtual Service.",
        ),
        (
            virtual_service("vsvc", json!({"tcp": l4_routes()})),
            rollout(json!({"virtualService": {"name": "vsvc", "tcpRoutes": [{"port": 1234}]}})),
            "No matching TCP routes found in the defined Virtual Service.",
        ),
        (
            virtual_service("vsvc", json!({"tls": l4_routes()})),
            rollout(json!({"virtualService": {"name": "vsvc"}})),
            "spec.tls[] should be set in VirtualService and it must have exactly one route",
        ),
        (
            virtual_service("vsvc", json!({"http": [{"name": "primary", "route": [dest("stable", 100)]}]})),
            with_routes(&["primary"]),
            "Canary Service 'canary' not found in route",
        ),
        (virtual_service("other", json!({})), with_routes(&["primary"]), "VirtualService \"vsvc\": not found"),
    ];
    for (v, ro, message) in cases {
        let cluster = cluster(&[v]);
        let err = set_weight(&cluster, &ro, 10, &[]).unwrap_err();
        assert!(err.0.contains(message), "{err} does not say {message}");
        assert_eq!(cluster.writes(), 0);
    }
}

/// Argo's Test*ReconcileInferredSingleRoute: without route names, the only route.
#[test]
fn the_only_route_is_inferred() {
    let single = virtual_service("vsvc", json!({"http": [{"route": [dest("stable", 100), dest("canary", 0)]}]}));
    let cluster = cluster(&[single]);
    set_weight(&cluster, &with_routes(&[]), 10, &[]).unwrap();
    assert_eq!(weight(&http(&cluster)[0], "canary"), Some(10));
    let tls = virtual_service(
        "vsvc",
        json!({"tls": [{"match": [{"port": 3000}], "route": [dest("stable", 100), dest("canary", 0)]}]}),
    );
    let cluster = self::cluster(&[tls]);
    set_weight(&cluster, &rollout(json!({"virtualService": {"name": "vsvc"}})), 10, &[]).unwrap();
    assert_eq!(weight(&vs(&cluster, "vsvc")["spec"]["tls"][0], "canary"), Some(10));
}

/// Argo's TestMultipleVirtualService*: each VirtualService of the list; a missing one is an error.
#[test]
fn several_virtual_services_are_weighed() {
    let mut second = regular_vsvc();
    second["metadata"]["name"] = json!("vsvc2");
    let cluster = cluster(&[regular_vsvc(), second]);
    let ro = rollout(
        json!({"virtualServices": [{"name": "vsvc", "routes": ["primary"]}, {"name": "vsvc2", "routes": ["secondary"]}]}),
    );
    set_weight(&cluster, &ro, 10, &[]).unwrap();
    assert_eq!(weight(&http(&cluster)[0], "canary"), Some(10));
    assert_eq!(weight(&vs(&cluster, "vsvc2")["spec"]["http"][1], "canary"), Some(10));
    let ro = rollout(
        json!({"virtualServices": [{"name": "vsvc", "routes": ["primary"]}, {"name": "missing", "routes": ["primary"]}]}),
    );
    assert!(set_weight(&cluster, &ro, 20, &[]).unwrap_err().0.contains("VirtualService \"missing\": not found"));
}

/// A VirtualService of another namespace is refused; `name.<own namespace>` is fine.
#[test]
fn virtual_services_of_other_namespaces_are_refused() {
    let cluster = cluster(&[regular_vsvc()]);
    let ro = rollout(json!({"virtualService": {"name": "vsvc.other", "routes": ["primary"]}}));
    let err = set_weight(&cluster, &ro, 10, &[]).unwrap_err();
    assert!(err.0.contains("acts only in the Rollout's namespace \"default\""), "{err}");
    let ro = rollout(json!({"virtualService": {"name": "vsvc.default.svc.cluster.local", "routes": ["primary"]}}));
    assert!(set_weight(&cluster, &ro, 10, &[]).is_err(), "vsvc.default.svc is namespace svc");
    let ro = rollout(json!({"virtualService": {"name": "vsvc.default", "routes": ["primary"]}}));
    set_weight(&cluster, &ro, 10, &[]).unwrap();
}

/// Argo's TestHttpReconcileHeaderRouteHostBased: the header route first, to the canary only;
/// removed by a step without match.
#[test]
fn a_header_route_sends_the_headers_to_the_canary() {
    let cluster = cluster(&[regular_vsvc()]);
    let mut ro = with_routes(&["primary"]);
    set_managed(&mut ro, &["test-header-route"]);
    header(&cluster, &ro, &header_step("test-header-route", "agent", exact("firefox"))).unwrap();
    let routes = http(&cluster);
    assert_eq!(names(&routes), ["test-header-route", "primary", "secondary"]);
    assert_eq!(
        routes[0],
        json!({"name": "test-header-route", "match": [{"headers": {"agent": {"exact": "firefox"}}}],
               "route": [{"weight": 100, "destination": {"host": "canary"}}]})
    );
    header(&cluster, &ro, &SetHeaderRoute { name: "test-header-route".into(), matches: None }).unwrap();
    assert_eq!(names(&http(&cluster)), ["primary", "secondary"]);
}

/// Argo's TestHttpReconcileHeaderRouteSubsetBased: the DestinationRule's host and canary subset.
#[test]
fn a_header_route_uses_the_destination_rules_host_and_subset() {
    let mut ro = with_destination_rule(&[]);
    let istio = &mut ro["spec"]["strategy"]["canary"]["trafficRouting"]["istio"];
    istio["virtualService"]["routes"] = json!([]);
    istio["destinationRule"]["canarySubsetName"] = json!("canary-subset");
    istio["destinationRule"]["stableSubsetName"] = json!("stable-subset");
    set_managed(&mut ro, &["test-header-route"]);
    let rule = json!({"apiVersion": ISTIO_API, "kind": "DestinationRule", "metadata": {"name": "istio-destrule"},
                      "spec": {"host": "rollout-service", "subsets": [{"name": "stable-subset"}, {"name": "canary-subset"}]}});
    let v = virtual_service(
        "vsvc",
        json!({"http": [{"route": [
        subset_dest("rollout-service", "stable-subset", 100), subset_dest("rollout-service", "canary-subset", 0)]}]}),
    );
    let cluster = cluster(&[v, rule]);
    header(
        &cluster,
        &ro,
        &header_step("test-header-route", "agent", StringMatch { regex: "firefox".into(), ..Default::default() }),
    )
    .unwrap();
    let routes = http(&cluster);
    assert_eq!(routes[0]["route"][0]["destination"], json!({"host": "rollout-service", "subset": "canary-subset"}));
    assert_eq!(routes[0]["match"][0]["headers"]["agent"], json!({"regex": "firefox"}));
}

/// Argo's TestHttpReconcileHeaderRouteWithExtra: the canary port, and every other field of the
/// routes kept, also through RemoveManagedRoutes.
#[test]
fn header_routes_keep_ports_and_other_fields() {
    let extra = virtual_service(
        "vsvc",
        json!({"http": [
            {"name": "primary", "retries": {"attempts": 3, "perTryTimeout": "10s"},
             "route": [{"destination": {"host": "stable", "port": {"number": 8443}}, "weight": 100},
                       {"destination": {"host": "canary", "port": {"number": 8443}}, "weight": 0}]},
            {"name": "secondary", "retries": {"attempts": 3}, "corsPolicy": {"allowMethods": ["POST", "GET"], "maxAge": "24h"},
             "route": [{"destination": {"host": "stable", "port": {"number": 8443}}, "weight": 100},
                       {"destination": {"host": "canary", "port": {"number": 8443}}, "weight": 0}]},
        ]}),
    );
    let cluster = cluster(std::slice::from_ref(&extra));
    let mut ro = with_routes(&["primary"]);
    set_managed(&mut ro, &["test-header-route"]);
    header(&cluster, &ro, &header_step("test-header-route", "agent", exact("firefox"))).unwrap();
    let routes = http(&cluster);
    assert_eq!(routes[0]["route"][0]["destination"]["port"]["number"], 8443);
    assert_eq!(&routes[1..], extra["spec"]["http"].as_array().unwrap().as_slice());
    remove(&cluster, &ro).unwrap();
    assert_eq!(http(&cluster), extra["spec"]["http"].as_array().unwrap().clone());
}

/// Argo's TestReconcileUpdateHeader / TestReconcileHeaderRouteAvoidDuplicates.
#[test]
fn header_routes_are_replaced_not_duplicated() {
    let cluster = cluster(&[regular_vsvc()]);
    let mut ro = with_routes(&["primary"]);
    set_managed(&mut ro, &["test-header-route"]);
    header(&cluster, &ro, &header_step("test-header-route", "agent", exact("firefox"))).unwrap();
    cluster.clear_actions();
    header(&cluster, &ro, &header_step("test-header-route", "agent", exact("firefox"))).unwrap();
    assert_eq!(cluster.writes(), 0);
    header(&cluster, &ro, &header_step("test-header-route", "agent", exact("chrome"))).unwrap();
    let routes = http(&cluster);
    assert_eq!(names(&routes), ["test-header-route", "primary", "secondary"]);
    assert_eq!(routes[0]["match"][0]["headers"]["agent"]["exact"], "chrome");
}

/// Argo's TestHttpReconcileMirrorRoute: the mirror route first, with the set-weight route's
/// destinations and the canary as mirror; removal by step and by RemoveManagedRoutes.
#[test]
fn a_mirror_route_copies_traffic_to_the_canary() {
    let cluster = cluster(&[regular_vsvc()]);
    let mut ro = with_routes(&["primary"]);
    set_managed(&mut ro, &["test-mirror-1", "test-mirror-2"]);
    mirror(&cluster, &ro, &mirror_step("test-mirror-1", "GET", None)).unwrap();
    let routes = http(&cluster);
    assert_eq!(names(&routes), ["test-mirror-1", "primary", "secondary"]);
    assert_eq!(
        routes[0],
        json!({"name": "test-mirror-1", "match": [{"method": {"exact": "GET"}}],
               "route": [dest("stable", 100), dest("canary", 0)],
               "mirror": {"host": "canary"}, "mirrorPercentage": {"value": 100}})
    );
    mirror(&cluster, &ro, &SetMirrorRoute { name: "test-mirror-1".into(), ..Default::default() }).unwrap();
    assert_eq!(names(&http(&cluster)), ["primary", "secondary"]);
    mirror(&cluster, &ro, &mirror_step("test-mirror-1", "GET", None)).unwrap();
    mirror(&cluster, &ro, &mirror_step("test-mirror-2", "GET", Some(90))).unwrap();
    let routes = http(&cluster);
    assert_eq!(routes.len(), 4);
    assert_eq!(routes[1]["mirrorPercentage"]["value"], 90);
    remove(&cluster, &ro).unwrap();
    assert_eq!(names(&http(&cluster)), ["primary", "secondary"]);
}

/// Argo's TestHttpReconcileMirrorRouteOrder: managed routes in managedRoutes' order, and the
/// mirror routes' weights follow setWeight.
#[test]
fn managed_routes_are_ordered_and_mirror_routes_weighed() {
    let cluster = cluster(&[regular_vsvc()]);
    let mut ro = with_routes(&["primary", "secondary"]);
    set_managed(&mut ro, &["test-mirror-2", "test-mirror-3", "test-mirror-1"]);
    mirror(&cluster, &ro, &mirror_step("test-mirror-1", "GET", None)).unwrap();
    mirror(&cluster, &ro, &mirror_step("test-mirror-2", "POST", Some(90))).unwrap();
    mirror(&cluster, &ro, &mirror_step("test-mirror-3", "GET", Some(90))).unwrap();
    set_weight(&cluster, &ro, 40, &[]).unwrap();
    let routes = http(&cluster);
    assert_eq!(names(&routes), ["test-mirror-2", "test-mirror-3", "test-mirror-1", "primary", "secondary"]);
    assert_eq!((weight(&routes[0], "canary"), weight(&routes[0], "stable")), (Some(40), Some(60)));
    mirror(&cluster, &ro, &SetMirrorRoute { name: "test-mirror-3".into(), ..Default::default() }).unwrap();
    assert_eq!(names(&http(&cluster)), ["test-mirror-2", "test-mirror-1", "primary", "secondary"]);
    remove(&cluster, &ro).unwrap();
    assert_eq!(names(&http(&cluster)), ["primary", "secondary"]);
}

/// Argo's TestHttpReconcileMirrorRouteSubset: the mirror goes to the DestinationRule's host and
/// canary subset.
#[test]
fn a_mirror_route_uses_the_canary_subset() {
    let mut ro = with_destination_rule(&[]);
    set_managed(&mut ro, &["mirror"]);
    let rule = json!({"apiVersion": ISTIO_API, "kind": "DestinationRule", "metadata": {"name": "istio-destrule"},
                      "spec": {"host": "rollout-service", "subsets": [{"name": "stable"}, {"name": "canary"}]}});
    let v = virtual_service(
        "vsvc",
        json!({"http": [{"name": "primary", "route": [
        subset_dest("rollout-service", "stable", 100), subset_dest("rollout-service", "canary", 0)]}]}),
    );
    let cluster = cluster(&[v, rule]);
    mirror(&cluster, &ro, &mirror_step("mirror", "GET", None)).unwrap();
    assert_eq!(http(&cluster)[0]["mirror"], json!({"host": "rollout-service", "subset": "canary"}));
}

/// Argo's TestRemoveManagedRoutesWithHeaderRoutes (and ...VirtualServiceNotFound): the steps'
/// routes and the managed routes go, the others stay; a missing VirtualService is skipped.
#[test]
fn remove_managed_routes_removes_step_and_managed_routes_only() {
    let v = virtual_service(
        "vsvc",
        json!({"http": [
            {"name": "test-header-1", "match": [{"headers": {"x-test": {"exact": "test"}}}], "route": [dest("canary", 100)]},
            {"name": "test-header-2", "match": [{"headers": {"x-version": {"prefix": "v2"}}}], "route": [dest("canary", 100)]},
            {"name": "managed-route-1", "route": [dest("stable", 50), dest("canary", 50)]},
            {"name": "primary", "route": [dest("stable", 50), dest("canary", 50)]},
            {"name": "user-defined-route", "match": [{"uri": {"prefix": "/api"}}], "route": [dest("stable", 100)]},
        ]}),
    );
    let cluster = cluster(&[v]);
    let mut ro = with_routes(&["primary"]);
    ro["spec"]["strategy"]["canary"]["steps"] = json!([
        {"setWeight": 20},
        {"setHeaderRoute": {"name": "test-header-1", "match": [{"headerName": "x-test", "headerValue": {"exact": "test"}}]}},
        {"setWeight": 50},
        {"setHeaderRoute": {"name": "test-header-2", "match": [{"headerName": "x-version", "headerValue": {"prefix": "v2"}}]}},
    ]);
    set_managed(&mut ro, &["managed-route-1"]);
    remove(&cluster, &ro).unwrap();
    assert_eq!(names(&http(&cluster)), ["primary", "user-defined-route"]);
    let ro = rollout(json!({"virtualServices": [{"name": "missing"}, {"name": "vsvc", "routes": ["primary"]}]}));
    remove(&cluster, &ro).unwrap();
}

fn destination_rule(annotations: Value, subsets: Value) -> Value {
    json!({"apiVersion": ISTIO_API, "kind": "DestinationRule",
           "metadata": {"name": "istio-destrule", "namespace": "default", "annotations": annotations},
           "spec": {"host": "ratings.prod.svc.cluster.local", "subsets": subsets}})
}

/// Argo's TestUpdateHashAdditionalFieldsWithListers / WithoutListers: the hashes on the
/// subsets, the managed-by annotation, the subsets' other fields kept.
#[test]
fn update_hash_labels_the_subsets() {
    let rule = destination_rule(
        json!({}),
        json!([{"name": "stable", "labels": {"version": "v3"}},
               {"name": "canary", "trafficPolicy": {"loadBalancer": {"simple": "ROUND_ROBIN"}}}]),
    );
    let mut rule = rule;
    rule["spec"]["trafficPolicy"] = json!({"loadBalancer": {"simple": "LEAST_CONN"}});
    let cluster = cluster(&[rule]);
    let ro = with_destination_rule(&[]);
    let mut ro_with_services = ro.clone();
    ro_with_services["spec"]["strategy"]["canary"]["canaryService"] = json!("canary");
    update_hash(&cluster, &ro_with_services, "abc123", "def456", &[]).unwrap();
    assert_eq!(cluster.verbs(), [Verb::Get, Verb::Patch]);
    let stored = dr(&cluster);
    assert_eq!(stored["metadata"]["annotations"], json!({MANAGED_BY_ANNOTATION: "rollout"}));
    assert_eq!(
        stored["spec"]["subsets"],
        json!([{"name": "stable", "labels": {"version": "v3", HASH_LABEL: "def456"}},
               {"name": "canary", "labels": {HASH_LABEL: "abc123"}, "trafficPolicy": {"loadBalancer": {"simple": "ROUND_ROBIN"}}}])
    );
    assert_eq!(stored["spec"]["trafficPolicy"], json!({"loadBalancer": {"simple": "LEAST_CONN"}}));
    // TestUpdateHashNoChange: nothing more to do, nothing written.
    cluster.clear_actions();
    update_hash(&cluster, &ro_with_services, "abc123", "def456", &[]).unwrap();
    assert_eq!(cluster.verbs(), [Verb::Get]);
    // No hash: the label goes.
    update_hash(&cluster, &ro_with_services, "", "def456", &[]).unwrap();
    assert!(dr(&cluster)["spec"]["subsets"][1]["labels"].get(HASH_LABEL).is_none());
}

/// Argo's TestUpdateHashDestinationRuleNotFound; no DestinationRule configured is nothing to do.
#[test]
fn update_hash_needs_the_destination_rule() {
    let cluster = cluster(&[]);
    let mut ro = with_destination_rule(&[]);
    ro["spec"]["strategy"]["canary"]["canaryService"] = json!("canary");
    let err = update_hash(&cluster, &ro, "abc123", "def456", &[]).unwrap_err();
    assert!(err.0.starts_with("DestinationRule \"istio-destrule\": not found"), "{err}");
    assert_eq!(cluster.writes(), 0);
    assert_eq!(update_hash(&cluster, &with_routes(&["primary"]), "a", "b", &[]), Ok(None));
    assert!(cluster.actions().iter().all(|a| a.verb == Verb::Get));
}

/// Argo's TestUpdateHashWithAdditionalDestinations: experiment subsets are added, updated and
/// removed; a subset the router did not add is kept (Argo's reconciler drops it).
#[test]
fn experiment_subsets_come_and_go_others_stay() {
    let rule = destination_rule(
        json!({}),
        json!([{"name": "stable"}, {"name": "canary"}, {"name": "v3", "labels": {"version": "v3"}}]),
    );
    let cluster = cluster(&[rule]);
    let mut ro = with_destination_rule(&[]);
    ro["spec"]["strategy"]["canary"]["canaryService"] = json!("canary");
    let exp = |name: &str, hash: &str| WeightDestination {
        service_name: name.into(),
        pod_template_hash: hash.into(),
        weight: 20,
    };
    update_hash(&cluster, &ro, "abc123", "def456", &[exp("exp-svc", "exp-hash")]).unwrap();
    let subsets = |c: &FakeCluster| {
        dr(c)["spec"]["subsets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(subsets(&cluster), ["stable", "canary", "v3", "exp-svc"]);
    assert_eq!(dr(&cluster)["spec"]["subsets"][3]["labels"][HASH_LABEL], "exp-hash");
    update_hash(&cluster, &ro, "abc123", "def456", &[exp("exp-svc", "exp-hash"), exp("exp-svc2", "exp-hash2")])
        .unwrap();
    assert_eq!(subsets(&cluster), ["stable", "canary", "v3", "exp-svc", "exp-svc2"]);
    update_hash(&cluster, &ro, "abc123", "def456", &[exp("exp-svc2", "exp-hash2")]).unwrap();
    assert_eq!(subsets(&cluster), ["stable", "canary", "v3", "exp-svc2"]);
    update_hash(&cluster, &ro, "abc123", "def456", &[]).unwrap();
    assert_eq!(subsets(&cluster), ["stable", "canary", "v3"]);
    assert!(dr(&cluster)["metadata"]["annotations"].get(MANAGED_SUBSETS_ANNOTATION).is_none());
}

fn replica_set(name: &str, hash: &str, replicas: i64, available: i64, owner: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
           "metadata": {"name": name, "labels": {HASH_LABEL: hash},
                        "ownerReferences": [{"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "rollout", "uid": owner, "controller": true}]},
           "spec": {"replicas": replicas}, "status": {"replicas": replicas, "availableReplicas": available}})
}

/// Argo's TestUpdateHashNoReadyReplicaSets / ReadyReplicaSets / AbortScenarios: without Services,
/// the switch waits for the ReplicaSets that are to take traffic.
#[test]
fn update_hash_waits_for_available_replica_sets_without_services() {
    let rule = destination_rule(json!({}), json!([{"name": "stable"}, {"name": "canary"}]));
    let ro = with_destination_rule(&[]);
    let cluster = cluster(&[rule.clone(), replica_set("canary-rs", "abc123", 1, 0, "rollout-uid")]);
    let err = update_hash(&cluster, &ro, "abc123", "def456", &[]).unwrap_err();
    assert!(err.0.contains("delaying destination rule switch: ReplicaSet canary-rs not fully available"), "{err}");
    assert_eq!(cluster.writes(), 0);
    // Another Rollout's ReplicaSet, and scaled-down ones, do not count.
    let cluster = self::cluster(&[
        rule.clone(),
        replica_set("other-rs", "abc123", 1, 0, "other-uid"),
        replica_set("old-rs", "def456", 0, 0, "rollout-uid"),
    ]);
    update_hash(&cluster, &ro, "abc123", "def456", &[]).unwrap();
    // Aborted: only the stable must be available.
    let cluster = self::cluster(&[
        rule,
        replica_set("canary-rs", "abc123", 1, 0, "rollout-uid"),
        replica_set("stable-rs", "def456", 1, 1, "rollout-uid"),
    ]);
    let mut aborted = ro.clone();
    aborted["status"] = json!({"abort": true});
    update_hash(&cluster, &aborted, "abc123", "def456", &[]).unwrap();
    assert_eq!(dr(&cluster)["spec"]["subsets"][1]["labels"][HASH_LABEL], "abc123");
}

/// A write that lost a race is read and tried again.
#[test]
fn a_conflict_is_retried() {
    let cluster = cluster(&[regular_vsvc()]);
    cluster.fail_next(Verb::Patch, "VirtualService", KubeError::Conflict("the object has been modified".into()));
    set_weight(&cluster, &with_routes(&["primary"]), 10, &[]).unwrap();
    assert_eq!(cluster.verbs(), [Verb::Get, Verb::Patch, Verb::Get, Verb::Patch]);
    assert_eq!(weight(&http(&cluster)[0], "canary"), Some(10));
}

/// Verification is not implemented.
#[test]
fn verification_is_not_implemented() {
    let cluster = cluster(&[]);
    let ro = with_routes(&["primary"]);
    let answer = Istio::verify_weight(&Context::new(ro.clone(), &cluster), config(&ro), 10, &[]);
    assert_eq!(answer, Ok((Verification::NotImplemented, None)));
}

fn updated(message: &str) -> Event {
    Event::normal("Updated VirtualService", message)
}

/// Argo's events of `SetWeight`: one per VirtualService whose weights change, none when they
/// are already right; a missing VirtualService is a Warning, then the error.
#[test]
fn set_weight_records_argos_events() {
    let cluster = cluster(&[regular_vsvc()]);
    let ro = with_routes(&["primary"]);
    set_weight(&cluster, &ro, 25, &[]).unwrap();
    assert_eq!(cluster.take_events(), [updated("VirtualService `vsvc` set to desiredWeight '25'")]);
    set_weight(&cluster, &ro, 25, &[]).unwrap();
    assert_eq!(cluster.take_events(), []);
    let ro =
        rollout(json!({"virtualServices": [{"name": "vsvc", "routes": ["primary"]}, {"name": "missing.default"}]}));
    set_weight(&cluster, &ro, 40, &[]).unwrap_err();
    assert_eq!(
        cluster.take_events(),
        [
            updated("VirtualService `vsvc` set to desiredWeight '40'"),
            Event::warning("VirtualServiceNotFound", "VirtualService `missing` not found"),
        ]
    );
}

/// Argo's events of `UpdateHash`: `UpdatedDestinationRule` when the DestinationRule changes,
/// none when it does not; a missing DestinationRule is a Warning.
#[test]
fn update_hash_records_argos_events() {
    let rule = destination_rule(json!({}), json!([{"name": "stable"}, {"name": "canary"}]));
    let cluster = cluster(&[rule]);
    let mut ro = with_destination_rule(&[]);
    ro["spec"]["strategy"]["canary"]["canaryService"] = json!("canary");
    update_hash(&cluster, &ro, "5549dfb757", "5549dfb757", &[]).unwrap();
    assert_eq!(
        cluster.take_events(),
        [Event::normal(
            "UpdatedDestinationRule",
            "DestinationRule istio-destrule subset updated (canary: 5549dfb757, stable: 5549dfb757)"
        )]
    );
    update_hash(&cluster, &ro, "5549dfb757", "5549dfb757", &[]).unwrap();
    assert_eq!(cluster.take_events(), []);

    let cluster = self::cluster(&[]);
    update_hash(&cluster, &ro, "a", "b", &[]).unwrap_err();
    assert_eq!(
        cluster.take_events(),
        [Event::warning("DestinationRuleNotFound", "DestinationRule `istio-destrule` not found")]
    );
}

/// Argo's events of `SetHeaderRoute` and `SetMirrorRoute`: Argo writes the VirtualService in
/// every call of the step and records the event each time; a missing DestinationRule is a
/// Warning.
#[test]
fn header_and_mirror_routes_record_argos_events() {
    let cluster = cluster(&[regular_vsvc()]);
    let mut ro = with_routes(&["primary"]);
    set_managed(&mut ro, &["hdr", "mir"]);
    let step = header_step("hdr", "x-canary", exact("yes"));
    header(&cluster, &ro, &step).unwrap();
    header(&cluster, &ro, &step).unwrap();
    let set_header = updated("VirtualService `vsvc` set headerRoute 'hdr'");
    assert_eq!(cluster.take_events(), [set_header.clone(), set_header]);
    mirror(&cluster, &ro, &mirror_step("mir", "GET", Some(20))).unwrap();
    assert_eq!(cluster.take_events(), [updated("VirtualService `vsvc` set mirrorRoute 'mir'")]);

    let mut ro = with_destination_rule(&[]);
    ro["spec"]["strategy"]["canary"]["canaryService"] = json!("canary");
    header(&cluster, &ro, &step).unwrap_err();
    assert_eq!(
        cluster.take_events(),
        [Event::warning("DestinationRuleNotFound", "DestinationRule `istio-destrule` not found")]
    );
}

/// Argo's events of `RemoveManagedRoutes`: "removed all managed routes." when the Rollout has
/// route steps or the VirtualService a managed route; a missing VirtualService is a Warning and
/// skipped; nothing when there is nothing of the Rollout's.
#[test]
fn remove_managed_routes_records_argos_events() {
    let v = virtual_service(
        "vsvc",
        json!({"http": [
            {"name": "managed-route-1", "route": [dest("stable", 50), dest("canary", 50)]},
            {"name": "primary", "route": [dest("stable", 50), dest("canary", 50)]},
        ]}),
    );
    let cluster = cluster(&[v]);
    let mut ro = rollout(json!({"virtualServices": [{"name": "missing"}, {"name": "vsvc", "routes": ["primary"]}]}));
    set_managed(&mut ro, &["managed-route-1"]);
    remove(&cluster, &ro).unwrap();
    let removed = updated("VirtualService `vsvc` removed all managed routes.");
    let missing = Event::warning("VirtualServiceNotFound", "VirtualService `missing` not found");
    assert_eq!(cluster.take_events(), [missing.clone(), removed.clone()]);
    assert_eq!(names(&http(&cluster)), ["primary"]);
    // The managed route is gone: nothing more to remove, no event.
    remove(&cluster, &ro).unwrap();
    assert_eq!(cluster.take_events(), std::slice::from_ref(&missing));
    // Route steps: Argo removes their routes in every call, and records it every time.
    ro["spec"]["strategy"]["canary"]["steps"] = json!([{"setHeaderRoute": {"name": "hdr"}}]);
    remove(&cluster, &ro).unwrap();
    assert_eq!(cluster.take_events(), [missing.clone(), removed]);
    // No routes at all: Argo reads the VirtualServices up to the first it finds.
    let ro = rollout(json!({"virtualServices": [{"name": "missing"}, {"name": "vsvc"}, {"name": "gone"}]}));
    cluster.clear_actions();
    remove(&cluster, &ro).unwrap();
    assert_eq!(cluster.take_events(), [missing]);
    assert_eq!(cluster.verbs(), [Verb::Get, Verb::Get]);
}

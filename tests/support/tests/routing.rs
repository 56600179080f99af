//! The traffic routers' CRDs (tests/cluster/routing-crds.sh: Gateway API's standard channel,
//! Istio's, SMI's TrafficSplit) are served by the test control plane once a test asks for them:
//! the objects a traffic-routed canary writes are accepted, validated by the real schemas, and read
//! back with their weights.

use std::time::Duration;

use aviary_test_support::{TestNamespace, cluster, namespace};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, PostParams};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

fn api(ns: &TestNamespace, group: &str, version: &str, kind: &str, plural: &str) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
    Api::namespaced_with(ns.client().clone(), ns.name(), &resource)
}

/// Creates `object`; a 404 right after the CRD became established (its handler not yet in place)
/// is retried for a few seconds.
async fn create(api: &Api<DynamicObject>, object: Value) -> Result<DynamicObject, kube::Error> {
    let object: DynamicObject = serde_json::from_value(object).expect("a valid object");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match api.create(&PostParams::default(), &object).await {
            Err(kube::Error::Api(e)) if e.code == 404 && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            other => return other,
        }
    }
}

/// The `weight`s of `items` (backendRefs, routes, backends), in order.
fn weights(items: &Value) -> Vec<i64> {
    items.as_array().into_iter().flatten().map(|i| i["weight"].as_i64().unwrap_or(-1)).collect()
}

#[tokio::test]
async fn routing_crds_serve_weighted_routes_of_gateway_api_istio_and_smi() -> TestResult {
    let cluster = cluster().await?;
    let names = cluster.install_routing_crds().await?.to_vec();
    for crd in [
        "httproutes.gateway.networking.k8s.io",
        "grpcroutes.gateway.networking.k8s.io",
        "tcproutes.gateway.networking.k8s.io",
        "gateways.gateway.networking.k8s.io",
        "gatewayclasses.gateway.networking.k8s.io",
        "referencegrants.gateway.networking.k8s.io",
        "virtualservices.networking.istio.io",
        "destinationrules.networking.istio.io",
        "trafficsplits.split.smi-spec.io",
    ] {
        assert!(names.iter().any(|n| n == crd), "{crd} not installed; installed: {names:?}");
    }
    // Once per cluster: a second call installs nothing.
    assert_eq!(cluster.install_routing_crds().await?, names.as_slice());

    // Gateway API's standard channel, never replaced by the experimental one.
    let crds: Api<CustomResourceDefinition> = Api::all(cluster.client().await?);
    for name in names.iter().filter(|n| n.ends_with(".gateway.networking.k8s.io")) {
        let crd = crds.get(name).await?;
        assert_eq!(
            crd.annotations().get("gateway.networking.k8s.io/channel").map(String::as_str),
            Some("standard"),
            "{name}"
        );
    }

    let ns = namespace("routing-crds").await?;

    // Gateway API: an HTTPRoute splitting 80/20 between the stable and canary Services, as Argo's
    // Gateway API plugin writes it; and a TCPRoute, the same way.
    let routes = api(&ns, "gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes");
    let backends = json!([
        {"name": "app-stable", "port": 80, "weight": 80},
        {"name": "app-canary", "port": 80, "weight": 20},
    ]);
    create(
        &routes,
        json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "app"},
            "spec": {"parentRefs": [{"name": "gateway"}], "rules": [{"backendRefs": backends}]}
        }),
    )
    .await?;
    let route = routes.get("app").await?;
    assert_eq!(weights(&route.data["spec"]["rules"][0]["backendRefs"]), [80, 20]);
    // The real schema validates: a negative weight is refused.
    let refused = create(
        &routes,
        json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "negative"},
            "spec": {"rules": [{"backendRefs": [{"name": "app-stable", "port": 80, "weight": -1}]}]}
        }),
    )
    .await;
    assert!(matches!(&refused, Err(kube::Error::Api(e)) if e.code == 422), "{refused:?}");

    let tcp = api(&ns, "gateway.networking.k8s.io", "v1", "TCPRoute", "tcproutes");
    create(
        &tcp,
        json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "TCPRoute",
            "metadata": {"name": "app"},
            "spec": {"parentRefs": [{"name": "gateway"}], "rules": [{"backendRefs": backends}]}
        }),
    )
    .await?;
    assert_eq!(weights(&tcp.get("app").await?.data["spec"]["rules"][0]["backendRefs"]), [80, 20]);

    // Istio: a VirtualService routing 90/10 to the subsets of a DestinationRule, written through
    // v1beta1 and read back through v1 and through v1alpha3 (Argo's default Istio version).
    let virtual_services = api(&ns, "networking.istio.io", "v1beta1", "VirtualService", "virtualservices");
    create(
        &virtual_services,
        json!({
            "apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
            "metadata": {"name": "app"},
            "spec": {
                "hosts": ["app"],
                "http": [{"name": "primary", "route": [
                    {"destination": {"host": "app", "subset": "stable"}, "weight": 90},
                    {"destination": {"host": "app", "subset": "canary"}, "weight": 10},
                ]}]
            }
        }),
    )
    .await?;
    for version in ["v1", "v1alpha3"] {
        let vs = api(&ns, "networking.istio.io", version, "VirtualService", "virtualservices").get("app").await?;
        let http = &vs.data["spec"]["http"][0];
        assert_eq!(weights(&http["route"]), [90, 10], "through {version}");
        assert_eq!(http["route"][1]["destination"]["subset"], "canary", "through {version}");
    }
    let destination_rules = api(&ns, "networking.istio.io", "v1", "DestinationRule", "destinationrules");
    create(
        &destination_rules,
        json!({
            "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": {"name": "app"},
            "spec": {"host": "app", "subsets": [
                {"name": "stable", "labels": {"rollouts-pod-template-hash": "5d4f8b7c9"}},
                {"name": "canary", "labels": {"rollouts-pod-template-hash": "6b8d9f5c4"}},
            ]}
        }),
    )
    .await?;
    let rule = destination_rules.get("app").await?;
    let subsets: Vec<_> = rule.data["spec"]["subsets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| (s["name"].as_str().unwrap_or_default(), s["labels"]["rollouts-pod-template-hash"].clone()))
        .collect();
    assert_eq!(subsets, [("stable", json!("5d4f8b7c9")), ("canary", json!("6b8d9f5c4"))]);

    // SMI: the TrafficSplit CRD of Argo's e2e tests serves v1alpha4; routing-crds.sh serves
    // v1alpha3 beside it (the latest version Argo's controller writes; v1alpha2 stays listed,
    // not served; v1alpha1, Argo's default --traffic-split-api-version, is absent).
    let split_crd = crds.get("trafficsplits.split.smi-spec.io").await?;
    let served: Vec<_> = split_crd.spec.versions.iter().filter(|v| v.served).map(|v| v.name.as_str()).collect();
    assert_eq!(served, ["v1alpha4", "v1alpha3"]);
    let splits = api(&ns, "split.smi-spec.io", "v1alpha4", "TrafficSplit", "trafficsplits");
    create(
        &splits,
        json!({
            "apiVersion": "split.smi-spec.io/v1alpha4", "kind": "TrafficSplit",
            "metadata": {"name": "app"},
            "spec": {"service": "app", "backends": [
                {"service": "app-stable", "weight": 75},
                {"service": "app-canary", "weight": 25},
            ]}
        }),
    )
    .await?;
    let split = splits.get("app").await?;
    assert_eq!(weights(&split.data["spec"]["backends"]), [75, 25]);
    assert_eq!(split.data["spec"]["backends"][1]["service"], "app-canary");
    Ok(())
}

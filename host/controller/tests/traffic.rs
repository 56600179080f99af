//! Traffic-routed canaries on the real control plane, with the real routing CRDs (SMI, the
//! Gateway API, Istio) and the first-party routers: the routing objects are asserted after every
//! step, for canaries that are promoted, aborted and promoted with `--full`; and a hostile router
//! fails its operations with a clear event while the controller and other Rollouts carry on.
//!
//! Named after their Argo counterparts (test/e2e/smi_test.go, istio_test.go,
//! header_routing_test.go, mirror_route_test.go).

mod common;

use std::time::Duration;

use aviary_api::Rollout;
use aviary_test_support::{TestNamespace, cluster, namespace};
use common::*;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(120);

/// Starts the controller and makes sure the routing CRDs are served.
async fn routed_env() {
    env().await;
    cluster().await.expect("cluster").install_routing_crds().await.expect("routing CRDs");
}

fn dynamic(ns: &TestNamespace, group: &str, version: &str, kind: &str) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    Api::namespaced_with(ns.client().clone(), ns.name(), &ar)
}

async fn service(ns: &TestNamespace, name: &str, app: &str) {
    let _: Service = create(
        ns,
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
               "spec": {"selector": {"app": app}, "ports": [{"port": 80, "targetPort": 8080}]}}),
    )
    .await;
}

/// Reads an object as JSON, `None` while it does not exist.
async fn get(api: &Api<DynamicObject>, name: &str) -> Option<Value> {
    api.get_opt(name).await.ok().flatten().map(|o| serde_json::to_value(o).expect("json"))
}

/// Waits until `check` holds for the object, and returns it.
async fn wait_object(api: &Api<DynamicObject>, name: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let result = eventually_ok(what, T, || async {
        let o = get(api, name).await?;
        check(&o).then_some(o)
    })
    .await;
    match result {
        Ok(o) => o,
        Err(e) => panic!("{e}\nobject: {:#?}\ncontroller log:\n{}", get(api, name).await, env().await.log_tail(60)),
    }
}

/// The TrafficSplit's weights by service.
fn split_weights(split: &Value) -> Vec<(String, i64)> {
    let backends = split.pointer("/spec/backends").and_then(Value::as_array).cloned().unwrap_or_default();
    backends
        .iter()
        .map(|b| {
            let w = &b["weight"];
            let weight = w.as_i64().or_else(|| w.as_str().and_then(|s| s.parse().ok())).unwrap_or(-1);
            (b["service"].as_str().unwrap_or_default().to_string(), weight)
        })
        .collect()
}

async fn status(ns: &TestNamespace, name: &str) -> aviary_api::rollout_status::RolloutStatus {
    ns.api::<Rollout>().get(name).await.expect("rollout").status.unwrap_or_default()
}

/// Argo's TestSMIBasic with an abort: the TrafficSplit follows each setWeight; an abort sends
/// every request back to the stable before the canary is scaled down, and points the canary
/// Service at the stable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smi_basic_weights_follow_the_steps_and_an_abort_shifts_back() -> TestResult {
    routed_env().await;
    let ns = namespace("smi-basic").await?;
    for name in ["smi-root", "smi-canary", "smi-stable"] {
        service(&ns, name, "smi").await;
    }
    let steps = json!([{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]);
    let extra = json!({
        "canaryService": "smi-canary",
        "stableService": "smi-stable",
        "trafficRouting": {"smi": {"rootService": "smi-root", "trafficSplitName": "smi-split"}}
    });
    let _: Rollout = create(&ns, rollout("smi", 4, "nginx:1.19", steps, extra)).await;
    let first = wait_phase(&ns, "smi", "Healthy", T).await;
    let old = first.status.unwrap().stable_rs;
    let splits = dynamic(&ns, "split.smi-spec.io", "v1alpha4", "TrafficSplit");
    let split = wait_object(&splits, "smi-split", "all traffic to the stable", |s| {
        split_weights(s) == vec![("smi-canary".into(), 0), ("smi-stable".into(), 100)]
    })
    .await;
    assert_eq!(split.pointer("/spec/service"), Some(&json!("smi-root")));
    assert_eq!(split.pointer("/metadata/ownerReferences/0/kind"), Some(&json!("Rollout")));

    set_image(&ns, "smi", "nginx:1.20").await;
    wait_phase(&ns, "smi", "Paused", T).await;
    let split = get(&splits, "smi-split").await.unwrap();
    assert_eq!(split_weights(&split), vec![("smi-canary".into(), 25), ("smi-stable".into(), 75)]);
    let s = status(&ns, "smi").await;
    let w = s.canary.weights.clone().expect("status.canary.weights");
    assert_eq!((w.canary.weight, w.stable.weight), (25, 75));
    assert_eq!(
        (w.canary.pod_template_hash.as_str(), w.stable.pod_template_hash.as_str()),
        (s.current_pod_hash.as_str(), old.as_str())
    );
    assert_eq!((w.canary.service_name.as_str(), w.stable.service_name.as_str()), ("smi-canary", "smi-stable"));
    let rss = replica_sets(&ns, "smi").await;
    assert_eq!(rss.get(&old), Some(&(4, 4)), "with traffic routing the stable keeps its pods: {rss:?}");
    assert_eq!(rss.get(&s.current_pod_hash).map(|r| r.0), Some(1), "{rss:?}");

    patch_status(&ns, "smi", json!({"status": {"pauseConditions": null}})).await;
    wait_object(&splits, "smi-split", "50/50 at the second setWeight", |s| {
        split_weights(s) == vec![("smi-canary".into(), 50), ("smi-stable".into(), 50)]
    })
    .await;
    wait_phase(&ns, "smi", "Paused", T).await;

    patch_status(&ns, "smi", json!({"status": {"abort": true}})).await;
    wait_object(&splits, "smi-split", "all traffic back to the stable", |s| {
        split_weights(s) == vec![("smi-canary".into(), 0), ("smi-stable".into(), 100)]
    })
    .await;
    wait_phase(&ns, "smi", "Degraded", T).await;
    eventually_ok("the canary scaled down and its Service on the stable", T, || async {
        let rss = replica_sets(&ns, "smi").await;
        let canary: i32 = rss.iter().filter(|(h, _)| **h != old).map(|(_, r)| r.0).sum();
        let svc = ns.api::<Service>().get("smi-canary").await.ok()?;
        let selector = svc.spec?.selector?.get("rollouts-pod-template-hash").cloned();
        (canary == 0 && selector.as_deref() == Some(old.as_str())).then_some(())
    })
    .await?;
    Ok(())
}

fn http_route(name: &str) -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name},
        "spec": {
            "parentRefs": [{"name": "gw"}],
            "rules": [
                // Another team's rule: never touched.
                {"matches": [{"path": {"type": "PathPrefix", "value": "/admin"}}],
                 "backendRefs": [{"name": "admin", "port": 80}]},
                {"backendRefs": [
                    {"name": "gw-stable", "port": 80, "weight": 100},
                    {"name": "gw-canary", "port": 80, "weight": 0}
                ]}
            ]
        }
    })
}

/// The weights of the rule that routes to both Services, by Service.
fn route_weights(route: &Value) -> Vec<(String, i64)> {
    let rules = route.pointer("/spec/rules").and_then(Value::as_array).cloned().unwrap_or_default();
    let Some(rule) = rules.iter().find(|r| {
        let names: Vec<&str> =
            r["backendRefs"].as_array().into_iter().flatten().filter_map(|b| b["name"].as_str()).collect();
        // The API server defaults `matches` to a PathPrefix of "/": the weighted rule is the one
        // with no header or method match and no filter (not a header or mirror rule).
        let plain = r.get("filters").is_none()
            && !r["matches"].to_string().contains("headers")
            && !r["matches"].to_string().contains("method");
        names.contains(&"gw-stable") && names.contains(&"gw-canary") && plain
    }) else {
        return Vec::new();
    };
    rule["backendRefs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| (b["name"].as_str().unwrap_or_default().to_string(), b["weight"].as_i64().unwrap_or(1)))
        .collect()
}

fn rules(route: &Value) -> Vec<Value> {
    route.pointer("/spec/rules").and_then(Value::as_array).cloned().unwrap_or_default()
}

/// Argo's header_routing_test.go and mirror_route_test.go with the Gateway API plugin: the
/// HTTPRoute's weights follow the steps, the header and mirror rules are added as their own
/// rules, and `promote --full` removes them again; the foreign rule is never touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_api_header_and_mirror_routes_then_promote_full() -> TestResult {
    routed_env().await;
    let ns = namespace("gw-routes").await?;
    for name in ["gw-canary", "gw-stable"] {
        service(&ns, name, "gw").await;
    }
    let routes = dynamic(&ns, "gateway.networking.k8s.io", "v1", "HTTPRoute");
    routes.create(&Default::default(), &serde_json::from_value(http_route("gw-route"))?).await?;
    let steps = json!([
        {"setWeight": 20},
        {"setHeaderRoute": {"name": "canary-header", "match": [{"headerName": "X-Canary", "headerValue": {"exact": "yes"}}]}},
        {"setMirrorRoute": {"name": "canary-mirror", "percentage": 50, "match": [{"method": {"exact": "GET"}}]}},
        {"pause": {}},
        {"setWeight": 60},
        {"pause": {}}
    ]);
    let extra = json!({
        "canaryService": "gw-canary",
        "stableService": "gw-stable",
        "trafficRouting": {
            "managedRoutes": [{"name": "canary-header"}, {"name": "canary-mirror"}],
            "plugins": {"argoproj-labs/gatewayAPI": {"httpRoute": "gw-route", "namespace": ns.name()}}
        }
    });
    let _: Rollout = create(&ns, rollout("gw", 5, "nginx:1.19", steps, extra)).await;
    wait_phase(&ns, "gw", "Healthy", T).await;
    let foreign = rules(&get(&routes, "gw-route").await.unwrap())[0].clone();

    set_image(&ns, "gw", "nginx:1.20").await;
    wait_phase(&ns, "gw", "Paused", T).await;
    let route = get(&routes, "gw-route").await.unwrap();
    assert_eq!(route_weights(&route), vec![("gw-stable".into(), 80), ("gw-canary".into(), 20)], "{route:#}");
    let all = rules(&route);
    assert_eq!(all[0], foreign, "the foreign rule is untouched");
    let header =
        all.iter().find(|r| r.to_string().contains("X-Canary")).unwrap_or_else(|| panic!("no header rule: {route:#}"));
    assert!(header.to_string().contains("gw-canary"), "{header:#}");
    assert!(all.iter().any(|r| r.to_string().contains("RequestMirror")), "no mirror rule: {route:#}");

    // `kubectl argo rollouts promote --full`: all the weight to the canary, the managed rules go.
    patch_status(&ns, "gw", json!({"status": {"promoteFull": true}})).await;
    wait_phase(&ns, "gw", "Healthy", T).await;
    let route = wait_object(&routes, "gw-route", "managed rules removed, all on the stable", |r| {
        rules(r).len() == 2 && route_weights(r) == vec![("gw-stable".into(), 100), ("gw-canary".into(), 0)]
    })
    .await;
    assert_eq!(rules(&route)[0], foreign, "the foreign rule is untouched");
    let s = status(&ns, "gw").await;
    assert_eq!(s.stable_rs, s.current_pod_hash);
    Ok(())
}

/// Argo's TestIstioHostSplit: the VirtualService's route weights follow the steps, with
/// dynamicStableScale the stable scales down as the weight moves, and the rollout completes with
/// all the weight back on the (new) stable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn istio_host_split_with_dynamic_stable_scale() -> TestResult {
    routed_env().await;
    let ns = namespace("istio-host").await?;
    for name in ["istio-canary", "istio-stable"] {
        service(&ns, name, "istio").await;
    }
    let vss = dynamic(&ns, "networking.istio.io", "v1beta1", "VirtualService");
    let vs = json!({
        "apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
        "metadata": {"name": "istio-vs"},
        "spec": {"hosts": ["istio.local"], "http": [{"name": "primary", "route": [
            {"destination": {"host": "istio-stable"}, "weight": 100},
            {"destination": {"host": "istio-canary"}, "weight": 0}
        ]}]}
    });
    vss.create(&Default::default(), &serde_json::from_value(vs)?).await?;
    let steps = json!([{"setWeight": 50}, {"pause": {}}]);
    let extra = json!({
        "canaryService": "istio-canary",
        "stableService": "istio-stable",
        "dynamicStableScale": true,
        "trafficRouting": {"istio": {"virtualService": {"name": "istio-vs", "routes": ["primary"]}}}
    });
    let _: Rollout = create(&ns, rollout("istio", 4, "nginx:1.19", steps, extra)).await;
    let old = wait_phase(&ns, "istio", "Healthy", T).await.status.unwrap().stable_rs;
    let weights = |vs: &Value| -> Vec<(String, i64)> {
        vs.pointer("/spec/http/0/route")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|r| {
                (r["destination"]["host"].as_str().unwrap_or_default().to_string(), r["weight"].as_i64().unwrap_or(0))
            })
            .collect()
    };
    set_image(&ns, "istio", "nginx:1.20").await;
    wait_phase(&ns, "istio", "Paused", T).await;
    let vs = wait_object(&vss, "istio-vs", "50/50", |v| {
        weights(v) == vec![("istio-stable".into(), 50), ("istio-canary".into(), 50)]
    })
    .await;
    assert_eq!(vs.pointer("/spec/hosts/0"), Some(&json!("istio.local")));
    eventually_ok("the stable scaled down to its share", T, || async {
        (replica_sets(&ns, "istio").await.get(&old).map(|r| r.0) == Some(2)).then_some(())
    })
    .await?;
    patch_status(&ns, "istio", json!({"status": {"pauseConditions": null}})).await;
    wait_phase(&ns, "istio", "Healthy", T).await;
    wait_object(&vss, "istio-vs", "all on the stable after promotion", |v| {
        weights(v) == vec![("istio-stable".into(), 100), ("istio-canary".into(), 0)]
    })
    .await;
    Ok(())
}

/// A router that reaches for what it was not granted, loops or panics fails its operation with
/// an event naming the reason (`PluginAccessDenied` for a refused request, `TrafficRoutingError`
/// for a call the sandbox ended); its Rollout stays where it was (no canary pods, no weight),
/// and another Rollout routed by an honest router carries on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_router_fails_its_rollout_alone() -> TestResult {
    routed_env().await;
    let ns = namespace("hostile-router").await?;
    for name in ["h-canary", "h-stable", "h-root"] {
        service(&ns, name, "h").await;
    }
    let steps = json!([{"setWeight": 50}, {"pause": {}}]);
    let extra = json!({
        "canaryService": "h-canary",
        "stableService": "h-stable",
        "trafficRouting": {"plugins": {"acme/hostile-router": {"rootService": "h-root"}}}
    });
    let mut manifest = rollout("h", 2, "nginx:1.19", steps.clone(), extra);
    manifest["metadata"]["annotations"] = json!({"aviary.test/attack": "none"});
    let _: Rollout = create(&ns, manifest).await;
    let old = wait_phase(&ns, "h", "Healthy", T).await.status.unwrap().stable_rs;

    for (attack, reason, expected) in [
        ("kind", "PluginAccessDenied", "not granted to this plugin"),
        ("secret", "PluginAccessDenied", "plugins never read Secrets"),
        ("namespace", "PluginAccessDenied", "a plugin may only act in namespace"),
        ("loop", "TrafficRoutingError", "did not finish within its 2s deadline"),
    ] {
        let patch = json!({"metadata": {"annotations": {"aviary.test/attack": attack}}});
        patch_spec(&ns, "h", patch).await;
        set_image(&ns, "h", &format!("nginx:{attack}")).await;
        let found = eventually_ok(&format!("a {reason} for {attack}"), T, || async {
            let events = ns.api::<k8s_openapi::api::events::v1::Event>().list(&Default::default()).await.ok()?;
            events
                .items
                .into_iter()
                .filter(|e| e.reason.as_deref() == Some(reason) && e.type_.as_deref() == Some("Warning"))
                .filter_map(|e| e.note)
                .find(|n| n.contains(expected))
        })
        .await;
        let note = match found {
            Ok(note) => note,
            Err(e) => panic!("{e}\n{}", env().await.log_tail(60)),
        };
        assert!(!note.contains("NOT DENIED"), "{note}");
        // Not half-routed: the canary got no pods and no weight was recorded for it.
        let rss = replica_sets(&ns, "h").await;
        assert_eq!(rss.get(&old), Some(&(2, 2)), "{attack}: {rss:?}");
        let s = status(&ns, "h").await;
        assert!(s.canary.weights.as_ref().is_none_or(|w| w.canary.weight == 0), "{attack}: {:?}", s.canary.weights);
    }
    // The controller is fine: a new Rollout in the same namespace with an honest router goes on.
    for name in ["h2-canary", "h2-stable"] {
        service(&ns, name, "h2").await;
    }
    let honest = rollout(
        "h2",
        1,
        "nginx:1.19",
        json!([{"setWeight": 50}, {"pause": {}}]),
        json!({
            "canaryService": "h2-canary",
            "stableService": "h2-stable",
            "trafficRouting": {"smi": {"rootService": "h-root", "trafficSplitName": "h2-split"}}
        }),
    );
    wait_healthy_created(&ns, honest).await;
    set_image(&ns, "h2", "nginx:1.20").await;
    wait_phase(&ns, "h2", "Paused", T).await;
    Ok(())
}

async fn wait_healthy_created(ns: &TestNamespace, manifest: Value) {
    let name = manifest["metadata"]["name"].as_str().unwrap_or_default().to_string();
    let _: Rollout = create(ns, manifest).await;
    wait_phase(ns, &name, "Healthy", T).await;
}

/// Argo's NGINX canary (functional_test.go's nginx cases): the canary Ingress is created from
/// the stable one, its backend the canary Service, its weight the step's; after promotion it
/// carries no weight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_canary_ingress_follows_the_steps() -> TestResult {
    routed_env().await;
    let ns = namespace("nginx").await?;
    for name in ["ngx-canary", "ngx-stable"] {
        service(&ns, name, "ngx").await;
    }
    let _: k8s_openapi::api::networking::v1::Ingress = create(
        &ns,
        json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "web", "annotations": {"kubernetes.io/ingress.class": "nginx"}},
            "spec": {"rules": [{"host": "web.local", "http": {"paths": [{
                "path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": "ngx-stable", "port": {"number": 80}}}
            }]}}]}
        }),
    )
    .await;
    let steps = json!([{"setWeight": 30}, {"pause": {}}]);
    let extra = json!({
        "canaryService": "ngx-canary",
        "stableService": "ngx-stable",
        "trafficRouting": {"nginx": {"stableIngress": "web", "additionalIngressAnnotations": {"canary-by-header": "X-Canary"}}}
    });
    let _: Rollout = create(&ns, rollout("ngx", 3, "nginx:1.19", steps, extra)).await;
    wait_phase(&ns, "ngx", "Healthy", T).await;
    let ingresses = dynamic(&ns, "networking.k8s.io", "v1", "Ingress");
    let annotation = |i: &Value, key: &str| {
        i.pointer("/metadata/annotations").and_then(|a| a.get(format!("nginx.ingress.kubernetes.io/{key}"))).cloned()
    };
    wait_object(&ingresses, "ngx-web-canary", "the canary Ingress at weight 0", |i| {
        annotation(i, "canary-weight") == Some(json!("0"))
    })
    .await;
    set_image(&ns, "ngx", "nginx:1.20").await;
    wait_phase(&ns, "ngx", "Paused", T).await;
    let canary = get(&ingresses, "ngx-web-canary").await.unwrap();
    assert_eq!(annotation(&canary, "canary"), Some(json!("true")));
    assert_eq!(annotation(&canary, "canary-weight"), Some(json!("30")));
    assert_eq!(annotation(&canary, "canary-by-header"), Some(json!("X-Canary")));
    assert_eq!(
        canary.pointer("/spec/rules/0/http/paths/0/backend/service/name"),
        Some(&json!("ngx-canary")),
        "{canary:#}"
    );
    assert_eq!(canary.pointer("/metadata/ownerReferences/0/name"), Some(&json!("ngx")));
    let stable = get(&ingresses, "web").await.unwrap();
    assert_eq!(stable.pointer("/spec/rules/0/http/paths/0/backend/service/name"), Some(&json!("ngx-stable")));
    patch_status(&ns, "ngx", json!({"status": {"pauseConditions": null}})).await;
    wait_phase(&ns, "ngx", "Healthy", T).await;
    wait_object(&ingresses, "ngx-web-canary", "no weight once promoted", |i| {
        annotation(i, "canary-weight") == Some(json!("0"))
    })
    .await;
    Ok(())
}

/// Argo's TestSMIExperimentStep: at an experiment step whose template has a weight, the
/// TrafficSplit sends that weight to the experiment's Service (canary, experiment, stable); a
/// promote past the step takes it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smi_experiment_step() -> TestResult {
    routed_env().await;
    let ns = namespace("smi-experiment").await?;
    for name in ["smix-canary", "smix-stable"] {
        service(&ns, name, "smix").await;
    }
    let steps = json!([
        {"setWeight": 5},
        {"experiment": {"templates": [{"name": "experiment-smi", "specRef": "canary", "weight": 5}]}}
    ]);
    let extra = json!({
        "canaryService": "smix-canary",
        "stableService": "smix-stable",
        "trafficRouting": {"smi": {"trafficSplitName": "smix-split"}}
    });
    let mut manifest = rollout("smix", 1, "nginx:1.19", steps, extra);
    manifest["spec"]["template"]["spec"]["containers"][0]["ports"] = json!([{"name": "http", "containerPort": 8080}]);
    let _: Rollout = create(&ns, manifest).await;
    let old = wait_phase(&ns, "smix", "Healthy", T).await.status.unwrap().stable_rs;
    let splits = dynamic(&ns, "split.smi-spec.io", "v1alpha4", "TrafficSplit");
    wait_object(&splits, "smix-split", "all traffic to the stable", |s| {
        split_weights(s) == vec![("smix-canary".into(), 0), ("smix-stable".into(), 100)]
    })
    .await;
    let experiments = ns.api::<aviary_api::Experiment>();
    assert!(experiments.list(&Default::default()).await?.items.is_empty());

    // Argo's `UpdateSpec()`: a new revision through a template annotation (keeping the ports the
    // experiment's Service is made from).
    patch_spec(&ns, "smix", json!({"spec": {"template": {"metadata": {"annotations": {"update": "1"}}}}})).await;
    let exp_service = eventually_ok("the experiment running with its Service", T, || async {
        let s = status(&ns, "smix").await;
        let ex = experiments.get(&s.canary.current_experiment).await.ok()?;
        let st = ex.status?;
        (s.current_step_index == Some(1) && st.phase == Some(aviary_api::AnalysisPhase::Running))
            .then(|| st.template_statuses.first().map(|t| t.service_name.clone()))
            .flatten()
            .filter(|n| !n.is_empty())
    })
    .await;
    let exp_service = match exp_service {
        Ok(s) => s,
        Err(e) => {
            let exs = experiments.list(&Default::default()).await.map(|l| l.items).unwrap_or_default();
            panic!(
                "{e}\nrollout: {:?}\nexperiments: {}\ncontroller log:\n{}",
                status(&ns, "smix").await,
                serde_json::to_string_pretty(&exs.iter().map(|x| &x.status).collect::<Vec<_>>()).unwrap_or_default(),
                env().await.log_tail(60)
            )
        }
    };
    wait_object(&splits, "smix-split", "5 to the canary, 5 to the experiment, 90 to the stable", |s| {
        split_weights(s) == vec![("smix-canary".into(), 5), (exp_service.clone(), 5), ("smix-stable".into(), 90)]
    })
    .await;
    // The split is written before the status that records it (Argo's order too): wait for the
    // status rather than read it once.
    let additional = eventually_ok("status.canary.weights.additional", T, || async {
        let w = status(&ns, "smix").await.canary.weights?;
        (!w.additional.is_empty()).then_some(w.additional)
    })
    .await
    .unwrap();
    assert_eq!(additional.len(), 1);
    assert_eq!((additional[0].service_name.as_str(), additional[0].weight), (exp_service.as_str(), 5));

    // `kubectl argo rollouts promote` past a step with no pause: the next step index.
    patch_status(&ns, "smix", json!({"status": {"currentStepIndex": 2}})).await;
    wait_phase(&ns, "smix", "Healthy", T).await;
    wait_object(&splits, "smix-split", "all traffic to the new stable", |s| {
        split_weights(s) == vec![("smix-canary".into(), 0), ("smix-stable".into(), 100)]
    })
    .await;
    let new = status(&ns, "smix").await.stable_rs;
    assert_ne!(new, old);
    Ok(())
}

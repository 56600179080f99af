//! Argo's nginx_test.go cases, against the fake cluster (only `networking.k8s.io/v1`: Argo's
//! `extensions/v1beta1` variants are the same cases).

use super::*;
use aviary_plugin_sdk::kubernetes::Error as KubeError;
use aviary_plugin_sdk::kubernetes::fake::FakeCluster;
use aviary_plugin_sdk::router::{Event, SetHeaderRoute, SetMirrorRoute, Verification};

const STABLE_INGRESS: &str = "stable-ingress";
const CANARY_INGRESS: &str = "rollout-stable-ingress-canary";
const ADDITIONAL_INGRESS: &str = "additional-stable-ingress";
const ADDITIONAL_CANARY: &str = "rollout-additional-stable-ingress-canary";

/// One case of Argo's `generateMultiIngressTestData`: stableIngress, stableIngresses, the stable
/// Ingresses, their canaries.
type Case = (&'static str, Option<Vec<&'static str>>, Vec<&'static str>, Vec<&'static str>);

/// Argo's `generateMultiIngressTestData`.
fn cases() -> Vec<Case> {
    vec![
        (STABLE_INGRESS, None, vec![STABLE_INGRESS], vec![CANARY_INGRESS]),
        (
            "",
            Some(vec![STABLE_INGRESS, ADDITIONAL_INGRESS]),
            vec![STABLE_INGRESS, ADDITIONAL_INGRESS],
            vec![CANARY_INGRESS, ADDITIONAL_CANARY],
        ),
    ]
}

fn rollout(stable_ingress: &str, stable_ingresses: Option<Vec<&str>>) -> Value {
    let mut nginx = json!({"stableIngress": stable_ingress});
    if let Some(list) = stable_ingresses {
        nginx["stableIngresses"] = json!(list);
    }
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "rollout", "namespace": "default", "uid": "rollout-uid"},
        "spec": {"strategy": {"canary": {
            "stableService": "stable-service",
            "canaryService": "canary-service",
            "trafficRouting": {"nginx": nginx},
        }}},
    })
}

fn config(ro: &Value) -> Config {
    serde_json::from_value(ro["spec"]["strategy"]["canary"]["trafficRouting"]["nginx"].clone()).unwrap()
}

/// Argo's `networkingIngress`: an Ingress with a default backend, a rule to `service`, an
/// annotation, two labels and an ingress class.
fn ingress(name: &str, port: i64, service: &str) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": name,
            "namespace": "default",
            "annotations": {"annotation-key1": "annotation-value1"},
            "labels": {"label-key1": "label-value1", "label-key2": "label-value2"},
        },
        "spec": {
            "ingressClassName": "ingress-name",
            "defaultBackend": {"service": {"name": service, "port": {"name": "http", "number": port}}},
            "rules": [{
                "host": "fakehost.example.com",
                "http": {"paths": [{
                    "path": "/foo",
                    "pathType": "Prefix",
                    "backend": {"service": {"name": service, "port": {"name": "http", "number": port}}},
                }]},
            }],
        },
    })
}

/// A canary Ingress as this router made it for `ro` at `weight`.
fn owned_canary(ro: &Value, name: &str, weight: i32) -> Value {
    let cluster = FakeCluster::new("default");
    let ctx = Context::new(ro.clone(), &cluster);
    desired_canary(&ctx, &config(ro), &ingress(STABLE_INGRESS, 80, "stable-service"), STABLE_INGRESS, name, weight)
        .unwrap()
}

fn cluster() -> FakeCluster {
    FakeCluster::new("default").granting(GRANTS)
}

fn set_weight(cluster: &FakeCluster, ro: &Value, weight: i32) -> Result<StateUpdate, Error> {
    Nginx::set_weight(&Context::new(ro.clone(), cluster), config(ro), weight, &[])
}

fn canary(cluster: &FakeCluster, name: &str) -> Value {
    cluster.object(INGRESS_API, "Ingress", name).expect("the canary Ingress exists")
}

fn annotation(ingress: &Value, key: &str) -> Option<String> {
    ingress["metadata"]["annotations"].get(key).and_then(Value::as_str).map(str::to_string)
}

/// Argo's TestCanaryIngressCreate / TestReconciler_canaryIngress / TestReconcileStableIngressFound:
/// the canary Ingress is created, exactly Argo's object.
#[test]
fn the_canary_ingress_is_created_as_argo_makes_it() {
    for (single, multi, stables, canaries) in cases() {
        let cluster = cluster();
        for s in &stables {
            cluster.insert(ingress(s, 80, "stable-service"));
        }
        let ro = rollout(single, multi);
        set_weight(&cluster, &ro, 10).unwrap();
        let verbs: Vec<Verb> = stables.iter().flat_map(|_| [Verb::Get, Verb::Get, Verb::Create]).collect();
        assert_eq!(cluster.verbs(), verbs);
        for c in &canaries {
            let mut created = canary(&cluster, c);
            created["metadata"].as_object_mut().unwrap().remove("resourceVersion");
            assert_eq!(
                created,
                json!({
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "Ingress",
                    "metadata": {
                        "name": c,
                        "namespace": "default",
                        "annotations": {
                            "nginx.ingress.kubernetes.io/canary": "true",
                            "nginx.ingress.kubernetes.io/canary-weight": "10",
                        },
                        "ownerReferences": [{"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "rollout",
                                             "uid": "rollout-uid", "controller": true, "blockOwnerDeletion": true}],
                    },
                    "spec": {
                        "ingressClassName": "ingress-name",
                        "rules": [{
                            "host": "fakehost.example.com",
                            "http": {"paths": [{
                                "path": "/foo",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "canary-service", "port": {"name": "http", "number": 80}}},
                            }]},
                        }],
                    },
                })
            );
        }
    }
}

/// Argo's TestCanaryIngressPatchWeight / TestReconcileStableAndCanaryIngressFoundPatch: a new
/// weight is a patch of the weight annotation only.
#[test]
fn a_new_weight_patches_only_the_weight() {
    for (single, multi, stables, canaries) in cases() {
        let cluster = cluster();
        let ro = rollout(single, multi);
        for (s, c) in stables.iter().zip(&canaries) {
            cluster.insert(ingress(s, 80, "stable-service"));
            cluster.insert(owned_canary(&ro, c, 10));
        }
        set_weight(&cluster, &ro, 15).unwrap();
        assert_eq!(
            cluster.patches(),
            vec![
                json!({"metadata": {"annotations": {"nginx.ingress.kubernetes.io/canary-weight": "15"}}});
                canaries.len()
            ]
        );
        for c in &canaries {
            assert_eq!(
                annotation(&canary(&cluster, c), "nginx.ingress.kubernetes.io/canary-weight").as_deref(),
                Some("15")
            );
        }
    }
}

/// Argo's TestCanaryIngressUpdateRoute: a path changed on the stable Ingress is a patch of the
/// canary's rules.
#[test]
fn a_changed_stable_route_is_followed() {
    let cluster = cluster();
    let ro = rollout(STABLE_INGRESS, None);
    cluster.insert(owned_canary(&ro, CANARY_INGRESS, 15));
    let mut stable = ingress(STABLE_INGRESS, 80, "stable-service");
    stable["spec"]["rules"][0]["http"]["paths"][0]["path"] = json!("/bar");
    cluster.insert(stable);
    set_weight(&cluster, &ro, 15).unwrap();
    let patches = cluster.patches();
    assert_eq!(patches.len(), 1);
    assert_eq!(patches[0]["spec"]["rules"][0]["http"]["paths"][0]["path"], "/bar");
    assert!(patches[0].get("metadata").is_none(), "{}", patches[0]);
    assert_eq!(canary(&cluster, CANARY_INGRESS)["spec"]["rules"][0]["http"]["paths"][0]["path"], "/bar");
}

/// Argo's TestCanaryIngressRetainIngressClass: the `kubernetes.io/ingress.class` annotation is
/// kept, no other stable annotation is.
#[test]
fn the_ingress_class_annotation_is_kept() {
    let cluster = cluster();
    let mut stable = ingress(STABLE_INGRESS, 80, "stable-service");
    stable["metadata"]["annotations"] = json!({"kubernetes.io/ingress.class": "nginx-foo", "other": "x"});
    cluster.insert(stable);
    set_weight(&cluster, &rollout(STABLE_INGRESS, None), 15).unwrap();
    let created = canary(&cluster, CANARY_INGRESS);
    assert_eq!(annotation(&created, "kubernetes.io/ingress.class").as_deref(), Some("nginx-foo"));
    assert_eq!(annotation(&created, "nginx.ingress.kubernetes.io/canary-weight").as_deref(), Some("15"));
    assert_eq!(annotation(&created, "other"), None);
}

/// Argo's TestCanaryIngressRetainTLS, TestCanaryIngressRetainTLSWithMultipleStableIngresses and
/// TestCanaryIngressNotAddTLS.
#[test]
fn tls_is_copied_from_each_stable_ingress() {
    let cluster = cluster();
    let mut main = ingress(STABLE_INGRESS, 80, "stable-service");
    main["spec"]["tls"] = json!([
        {"hosts": ["fakehost.example.com"], "secretName": "tls-secret-name"},
        {"hosts": ["fakehost.example.com", "*.example.com"], "secretName": "tls-secret-name-two"},
    ]);
    let mut additional = ingress(ADDITIONAL_INGRESS, 80, "stable-service");
    additional["spec"]["tls"] =
        json!([{"hosts": ["fakehost-additional.example.com"], "secretName": "tls-secret-name-additional"}]);
    cluster.insert(main.clone());
    cluster.insert(additional.clone());
    set_weight(&cluster, &rollout("", Some(vec![STABLE_INGRESS, ADDITIONAL_INGRESS])), 15).unwrap();
    assert_eq!(canary(&cluster, CANARY_INGRESS)["spec"]["tls"], main["spec"]["tls"]);
    assert_eq!(canary(&cluster, ADDITIONAL_CANARY)["spec"]["tls"], additional["spec"]["tls"]);

    let cluster = self::cluster();
    cluster.insert(ingress(STABLE_INGRESS, 80, "stable-service"));
    set_weight(&cluster, &rollout(STABLE_INGRESS, None), 15).unwrap();
    assert!(canary(&cluster, CANARY_INGRESS)["spec"].get("tls").is_none());
}

/// Argo's TestCanaryIngressAdditionalAnnotations(NewIngress): additional annotations get the
/// prefix, canary annotations are written as they are.
#[test]
fn additional_annotations_are_prefixed_canary_annotations_are_not() {
    for prefix in [None, Some("custom.ingress.kubernetes.io")] {
        let cluster = cluster();
        cluster.insert(ingress(STABLE_INGRESS, 80, "stable-service"));
        let mut ro = rollout(STABLE_INGRESS, None);
        let nginx = &mut ro["spec"]["strategy"]["canary"]["trafficRouting"]["nginx"];
        nginx["additionalIngressAnnotations"] = json!({
            "canary-by-header": "X-Foo",
            "canary-by-header-value": "DoCanary",
            format!("{}/already-prefixed", prefix.unwrap_or(DEFAULT_PREFIX)): "kept",
        });
        nginx["canaryIngressAnnotations"] = json!({"annotation-prefix.some.group/some-key": "some-value"});
        if let Some(p) = prefix {
            nginx["annotationPrefix"] = json!(p);
        }
        set_weight(&cluster, &ro, 15).unwrap();
        let created = canary(&cluster, CANARY_INGRESS);
        let p = prefix.unwrap_or(DEFAULT_PREFIX);
        for (key, value) in [
            (format!("{p}/canary"), "true"),
            (format!("{p}/canary-weight"), "15"),
            (format!("{p}/canary-by-header"), "X-Foo"),
            (format!("{p}/canary-by-header-value"), "DoCanary"),
            (format!("{p}/already-prefixed"), "kept"),
            ("annotation-prefix.some.group/some-key".to_string(), "some-value"),
        ] {
            assert_eq!(annotation(&created, &key).as_deref(), Some(value), "{key}");
        }
    }
}

/// Argo's TestCanaryIngressRetainCurrentAnnotations: annotations someone else put on the canary
/// stay; ours win over theirs.
#[test]
fn annotations_of_other_controllers_are_kept() {
    let cluster = cluster();
    let ro = rollout(STABLE_INGRESS, None);
    cluster.insert(ingress(STABLE_INGRESS, 80, "stable-service"));
    let mut existing = owned_canary(&ro, CANARY_INGRESS, 15);
    existing["metadata"]["annotations"] = json!({
        "nginx.ingress.kubernetes.io/canary": "false",
        "nginx.ingress.kubernetes.io/canary-weight": "15",
        "annotation-prefix.some.group/some-key": "some-value",
    });
    cluster.insert(existing);
    set_weight(&cluster, &ro, 15).unwrap();
    assert_eq!(
        cluster.patches(),
        [json!({"metadata": {"annotations": {"nginx.ingress.kubernetes.io/canary": "true"}}})]
    );
    let patched = canary(&cluster, CANARY_INGRESS);
    assert_eq!(annotation(&patched, "annotation-prefix.some.group/some-key").as_deref(), Some("some-value"));
}

/// Argo's TestCanaryIngressMaxWeightInTrafficRouting: `canary-weight-total` when the Rollout
/// sets maxTrafficWeight.
#[test]
fn the_weight_total_follows_max_traffic_weight() {
    for max in [None, Some(1000)] {
        let cluster = cluster();
        let mut ro = rollout(STABLE_INGRESS, None);
        cluster.insert(ingress(STABLE_INGRESS, 80, "stable-service"));
        cluster.insert(owned_canary(&ro, CANARY_INGRESS, 10));
        if let Some(m) = max {
            ro["spec"]["strategy"]["canary"]["trafficRouting"]["maxTrafficWeight"] = json!(m);
        }
        set_weight(&cluster, &ro, 15).unwrap();
        let expected = match max {
            None => json!({"metadata": {"annotations": {"nginx.ingress.kubernetes.io/canary-weight": "15"}}}),
            Some(m) => json!({"metadata": {"annotations": {
                "nginx.ingress.kubernetes.io/canary-weight": "15",
                "nginx.ingress.kubernetes.io/canary-weight-total": m.to_string(),
            }}}),
        };
        assert_eq!(cluster.patches(), [expected]);
    }
}

/// Argo's TestReconcileStableIngressNotFound.
#[test]
fn a_missing_stable_ingress_is_an_error() {
    let cluster = cluster();
    let err = set_weight(&cluster, &rollout(STABLE_INGRESS, None), 10).unwrap_err();
    assert!(err.0.contains("stableIngress `stable-ingress`") && err.0.contains("not found"), "{err}");
    assert_eq!(cluster.writes(), 0);
}

/// Argo's TestReconcileStableIngressFoundWrongBackend.
#[test]
fn a_stable_ingress_without_the_stable_service_is_an_error() {
    for (single, multi, stables, _) in cases() {
        let cluster = cluster();
        for s in &stables {
            cluster.insert(ingress(s, 80, "other-service"));
        }
        let err = set_weight(&cluster, &rollout(single, multi), 10).unwrap_err();
        assert!(err.0.contains("has no rules using service"), "{err}");
        assert!(err.0.contains("ingress `stable-ingress`"), "{err}");
        assert_eq!(cluster.writes(), 0);
    }
}

/// Argo's TestReconcileStableAndCanaryIngressFoundNoOwner / BadOwner: never taken over.
#[test]
fn a_canary_ingress_of_someone_else_is_an_error() {
    let ro = rollout(STABLE_INGRESS, None);
    for owners in [
        json!(null),
        json!([{"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "other",
                                         "uid": "4b712b69-5de9-11ea-a10a-0a9ba5899dd2", "controller": true}]),
    ] {
        let cluster = cluster();
        cluster.insert(ingress(STABLE_INGRESS, 80, "stable-service"));
        let mut foreign = ingress(CANARY_INGRESS, 80, "canary-service");
        foreign["metadata"]["ownerReferences"] = owners;
        cluster.insert(foreign.clone());
        let err = set_weight(&cluster, &ro, 10).unwrap_err();
        assert!(
            err.0.starts_with("canary ingress `rollout-stable-ingress-canary` controlled by different object"),
            "{err}"
        );
        assert_eq!(cluster.writes(), 0);
    }
}

/// Argo's TestReconcileWillInvokeNetworkingIngress: Argo's patch also drops the labels and the
/// default backend a canary Ingress should not have.
#[test]
fn the_canary_ingress_is_brought_back_to_argos_shape() {
    let cluster = cluster();
    let ro = rollout(STABLE_INGRESS, None);
    cluster.insert(ingress(STABLE_INGRESS, 80, "stable-service"));
    let mut existing = ingress(CANARY_INGRESS, 80, "canary-service");
    existing["metadata"]["annotations"] =
        json!({"nginx.ingress.kubernetes.io/canary": "true", "nginx.ingress.kubernetes.io/canary-weight": "15"});
    existing["metadata"]["ownerReferences"] = json!([ro_owner(&ro)]);
    cluster.insert(existing);
    set_weight(&cluster, &ro, 10).unwrap();
    let patched = canary(&cluster, CANARY_INGRESS);
    assert!(patched["metadata"].get("labels").is_none(), "{patched}");
    assert!(patched["spec"].get("defaultBackend").is_none(), "{patched}");
    assert_eq!(annotation(&patched, "nginx.ingress.kubernetes.io/canary-weight").as_deref(), Some("10"));
}

fn ro_owner(ro: &Value) -> Value {
    let cluster = FakeCluster::new("default");
    Context::new(ro.clone(), &cluster).controller_reference()
}

/// Argo's TestReconcileStableAndCanaryIngressFoundNoChange: an unchanged weight writes nothing.
#[test]
fn the_same_weight_writes_nothing() {
    for (single, multi, stables, _) in cases() {
        let cluster = cluster();
        for s in &stables {
            cluster.insert(ingress(s, 80, "stable-service"));
        }
        let ro = rollout(single, multi);
        set_weight(&cluster, &ro, 10).unwrap();
        cluster.clear_actions();
        set_weight(&cluster, &ro, 10).unwrap();
        assert_eq!(cluster.writes(), 0);
    }
}

/// Argo's TestReconcileCanaryCreateError / ...AlreadyExistsPatch: a failed create is an error; a
/// create that lost a race reads the winner's Ingress and patches it.
#[test]
fn creation_errors_and_races() {
    let cluster = cluster();
    let ro = rollout(STABLE_INGRESS, None);
    cluster.insert(ingress(STABLE_INGRESS, 80, "stable-service"));
    cluster.fail_next(Verb::Create, "Ingress", KubeError::Rejected { status: 500, message: "fake error".into() });
    let err = set_weight(&cluster, &ro, 10).unwrap_err();
    assert!(err.0.starts_with("error creating canary ingress `rollout-stable-ingress-canary`"), "{err}");

    // A racing reconcile created the canary Ingress after our read of it: the create conflicts,
    // the router reads the winner's Ingress and patches it.
    let racing = self::cluster();
    racing.insert(ingress(STABLE_INGRESS, 80, "stable-service"));
    racing.insert(owned_canary(&ro, CANARY_INGRESS, 15));
    let raced = RacingCluster { inner: &racing, hide: CANARY_INGRESS, hidden: std::cell::Cell::new(false) };
    Nginx::set_weight(&Context::new(ro.clone(), &raced), config(&ro), 10, &[]).unwrap();
    assert_eq!(racing.verbs(), [Verb::Get, Verb::Create, Verb::Get, Verb::Patch]);
    assert_eq!(
        annotation(&canary(&racing, CANARY_INGRESS), "nginx.ingress.kubernetes.io/canary-weight").as_deref(),
        Some("10")
    );
}

/// A cluster whose first read of one object answers not found (a racing creator).
struct RacingCluster<'a> {
    inner: &'a FakeCluster,
    hide: &'static str,
    hidden: std::cell::Cell<bool>,
}

impl aviary_plugin_sdk::kubernetes::Cluster for RacingCluster<'_> {
    fn get(&self, object: &ObjectRef) -> Result<Value, KubeError> {
        if object.name == self.hide && !self.hidden.get() {
            self.hidden.set(true);
            return Err(KubeError::NotFound(format!("{object} not found")));
        }
        self.inner.get(object)
    }
    fn list(&self, api_version: &str, kind: &str, selector: Option<&str>) -> Result<Vec<Value>, KubeError> {
        self.inner.list(api_version, kind, selector)
    }
    fn create(&self, object: &Value) -> Result<Value, KubeError> {
        self.inner.create(object)
    }
    fn patch(&self, object: &ObjectRef, patch_type: PatchType, patch: &Value) -> Result<Value, KubeError> {
        self.inner.patch(object, patch_type, patch)
    }
    fn delete(&self, object: &ObjectRef) -> Result<(), KubeError> {
        self.inner.delete(object)
    }
    fn record_event(&self, event: Event) {
        self.inner.record_event(event);
    }
}

/// Argo's events, Normal ones recorded before the write whatever its outcome: one
/// `CreatingCanaryIngress` per canary Ingress created, one `PatchingCanaryIngress` per canary
/// Ingress patched, none when nothing changes.
#[test]
fn writes_record_argos_events() {
    for (single, multi, stables, canaries) in cases() {
        let cluster = cluster();
        for s in &stables {
            cluster.insert(ingress(s, 80, "stable-service"));
        }
        let ro = rollout(single, multi);
        set_weight(&cluster, &ro, 10).unwrap();
        let created: Vec<Event> = canaries
            .iter()
            .map(|c| Event::normal("CreatingCanaryIngress", format!("Creating canary ingress `{c}` with weight `10`")))
            .collect();
        assert_eq!(cluster.take_events(), created);
        set_weight(&cluster, &ro, 10).unwrap();
        assert_eq!(cluster.take_events(), [], "no change, no event");
        set_weight(&cluster, &ro, 25).unwrap();
        let patched: Vec<Event> = canaries
            .iter()
            .map(|c| Event::normal("PatchingCanaryIngress", format!("Updating Ingress `{c}` to desiredWeight '25'")))
            .collect();
        assert_eq!(cluster.take_events(), patched);
    }

    // A failed create or patch still has its event, as in Argo.
    let cluster = cluster();
    let ro = rollout(STABLE_INGRESS, None);
    cluster.insert(ingress(STABLE_INGRESS, 80, "stable-service"));
    cluster.fail_next(Verb::Create, "Ingress", KubeError::Rejected { status: 500, message: "fake error".into() });
    set_weight(&cluster, &ro, 10).unwrap_err();
    assert_eq!(cluster.take_events()[0].reason, "CreatingCanaryIngress");
    set_weight(&cluster, &ro, 10).unwrap();
    cluster.take_events();
    cluster.fail_next(Verb::Patch, "Ingress", KubeError::Rejected { status: 500, message: "fake error".into() });
    set_weight(&cluster, &ro, 20).unwrap_err();
    assert_eq!(
        cluster.take_events(),
        [Event::normal("PatchingCanaryIngress", format!("Updating Ingress `{CANARY_INGRESS}` to desiredWeight '20'"))]
    );
    // A missing stable Ingress: an error, no event.
    let cluster = self::cluster();
    set_weight(&cluster, &ro, 10).unwrap_err();
    assert_eq!(cluster.take_events(), []);
}

/// Argo's nginx router does nothing for header and mirror routes, hashes and managed routes, and
/// does not verify.
#[test]
fn other_operations_do_nothing() {
    let cluster = cluster();
    let ro = rollout(STABLE_INGRESS, None);
    let ctx = Context::new(ro.clone(), &cluster);
    let header: SetHeaderRoute =
        serde_json::from_value(json!({"name": "h", "match": [{"headerName": "x", "headerValue": {"exact": "y"}}]}))
            .unwrap();
    assert_eq!(Nginx::set_header_route(&ctx, config(&ro), &header), Ok(None));
    assert_eq!(Nginx::set_mirror_route(&ctx, config(&ro), &SetMirrorRoute::default()), Ok(None));
    assert_eq!(Nginx::update_hash(&ctx, config(&ro), "a", "b", &[]), Ok(None));
    assert_eq!(Nginx::remove_managed_routes(&ctx, config(&ro)), Ok(None));
    assert_eq!(Nginx::verify_weight(&ctx, config(&ro), 10, &[]), Ok((Verification::NotImplemented, None)));
    assert!(cluster.actions().is_empty());
}

/// Argo's GetCanaryIngressName: cut to 253 characters with the suffix kept.
#[test]
fn long_names_are_cut_to_253_characters() {
    assert_eq!(canary_ingress_name("rollout", "stable-ingress"), CANARY_INGRESS);
    let long = "a".repeat(300);
    let name = canary_ingress_name("rollout", &long);
    assert_eq!(name.len(), 253);
    assert!(name.starts_with("rollout-aaa") && name.ends_with("a-canary"));
}

/// No stable Ingress configured is a clear error.
#[test]
fn a_config_without_ingress_is_an_error() {
    let cluster = cluster();
    let err = set_weight(&cluster, &rollout("", None), 10).unwrap_err();
    assert!(err.0.contains("neither stableIngress nor stableIngresses"), "{err}");
}

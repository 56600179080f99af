//! A traffic router that misbehaves on request. Tests use it to prove that a router which
//! reaches for what its grants do not allow, loops, exhausts memory or panics costs one failed
//! operation (a `TrafficRoutingError` on its Rollout) and never the host or another namespace.
//!
//! The Rollout's annotation `aviary.test/attack` picks the behaviour, in every operation:
//!
//! | value       | what the router does                                                          |
//! |-------------|-------------------------------------------------------------------------------|
//! | `kind`      | patches the ConfigMap `aviary-test-victim` (not granted)                      |
//! | `namespace` | creates a TrafficSplit (granted) with `metadata.namespace: other`             |
//! | `secret`    | reads the Secret `aviary-test-secret`                                         |
//! | `loop`      | spins forever                                                                  |
//! | `explode`   | allocates until the memory cap stops it                                       |
//! | `panic`     | panics                                                                         |
//! | `events`    | records an event with an invalid reason, then 20 `Flood` events of 5000 bytes   |
//! | `none`      | (or no annotation) behaves: writes an SMI TrafficSplit as `aviary/smi` would  |
//!
//! The annotation `aviary.test/target` names another object for `kind` and `secret`. An attack
//! the host refuses ends the operation with `attack <value>: <the host's error>`; one it let
//! through ends it with `attack <value>: NOT DENIED: ...`, so a test tells both apart from the
//! Rollout's event alone. The honest mode answers state `{"writes": n}` (n TrafficSplit writes
//! so far for this Rollout, counted in the router's state), which shows that the host keeps a
//! router's state between calls, and records a Normal event for each write (`TrafficSplitCreated`
//! or `TrafficSplitUpdated`, naming the weight).
//!
//! Kubernetes grants it is meant to be registered with, exactly [`GRANTS`]:
//!
//! | apiGroup            | kinds        | verbs              |
//! |---------------------|--------------|--------------------|
//! | `split.smi-spec.io` | TrafficSplit | get, create, patch |

use aviary_plugin_sdk::export_router;
use aviary_plugin_sdk::kubernetes::{Grant, ObjectRef, PatchType, Verb};
use aviary_plugin_sdk::router::{
    Context, Error, Router, SetHeaderRoute, SetMirrorRoute, StateUpdate, Verification, WeightDestination, log,
};
use serde_json::{Value, json};

/// The grants the hostile router is registered with in tests.
pub const GRANTS: &[Grant] = &[Grant {
    api_group: "split.smi-spec.io",
    kinds: &["TrafficSplit"],
    verbs: &[Verb::Get, Verb::Create, Verb::Patch],
}];

/// The annotation that picks the attack.
pub const ATTACK_ANNOTATION: &str = "aviary.test/attack";
/// The annotation that names the attacked object.
pub const TARGET_ANNOTATION: &str = "aviary.test/target";

/// The version the SMI CRD of the test cluster (Argo's e2e CRD) serves.
const SPLIT_API: &str = "split.smi-spec.io/v1alpha4";

/// The hostile router.
pub struct Hostile;

fn annotation<'c>(ctx: &'c Context<'_>, key: &str) -> Option<&'c str> {
    ctx.rollout.pointer("/metadata/annotations").and_then(|a| a.get(key)).and_then(Value::as_str)
}

fn outcome(attack: &str, result: Result<Value, aviary_plugin_sdk::kubernetes::Error>, what: &str) -> Error {
    match result {
        Err(e) => Error(format!("attack {attack}: {e}")),
        Ok(_) => Error(format!("attack {attack}: NOT DENIED: the host let {what} through")),
    }
}

/// Runs the attack the Rollout asks for; `Ok(())` for `none`.
fn attack(ctx: &Context<'_>) -> Result<(), Error> {
    let attack = annotation(ctx, ATTACK_ANNOTATION).unwrap_or("none");
    match attack {
        "none" | "" => Ok(()),
        "kind" => {
            let name = annotation(ctx, TARGET_ANNOTATION).unwrap_or("aviary-test-victim");
            let victim = ObjectRef::new("v1", "ConfigMap", name);
            let result = ctx.cluster.patch(&victim, PatchType::Merge, &json!({"data": {"pwned": "true"}}));
            Err(outcome(attack, result, &format!("a patch of ConfigMap {name:?}")))
        }
        "namespace" => {
            let split = json!({
                "apiVersion": SPLIT_API,
                "kind": "TrafficSplit",
                "metadata": {"name": format!("{}-escape", ctx.rollout_name), "namespace": "other"},
                "spec": {"service": "x", "backends": []},
            });
            Err(outcome(attack, ctx.cluster.create(&split), "a TrafficSplit created in namespace \"other\""))
        }
        "secret" => {
            let name = annotation(ctx, TARGET_ANNOTATION).unwrap_or("aviary-test-secret");
            let result = ctx.cluster.get(&ObjectRef::new("v1", "Secret", name));
            Err(outcome(attack, result, &format!("a read of Secret {name:?}")))
        }
        "loop" => {
            log::info("looping forever");
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        "explode" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![0xA5; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        "panic" => panic!("the router panicked on purpose"),
        "events" => {
            ctx.event("not a reason!", "dropped by the host");
            for i in 0..20 {
                ctx.warning_event("Flood", format!("{i} {}", "x".repeat(5000)));
            }
            Err(Error(format!("attack {attack}: flooded")))
        }
        other => Err(Error(format!("unknown attack {other:?}"))),
    }
}

/// The honest mode: the weights into a TrafficSplit named after the Rollout.
fn honest_weight(ctx: &Context<'_>, weight: i32) -> Result<StateUpdate, Error> {
    let name = ctx.rollout_name.as_str();
    let spec = json!({
        "service": ctx.stable_service(),
        "backends": [
            {"service": ctx.canary_service(), "weight": weight},
            {"service": ctx.stable_service(), "weight": 100 - weight},
        ],
    });
    let split = ObjectRef::new(SPLIT_API, "TrafficSplit", name);
    let writes = ctx.state.as_ref().and_then(|s| s.get("writes")).and_then(Value::as_u64).unwrap_or(0);
    match ctx.cluster.get(&split) {
        Ok(existing) if existing.get("spec") == Some(&spec) => return Ok(None),
        Ok(_) => {
            ctx.cluster.patch(&split, PatchType::Merge, &json!({"spec": spec}))?;
            ctx.event("TrafficSplitUpdated", format!("TrafficSplit `{name}` set to weight {weight}"));
        }
        Err(e) if e.is_not_found() => {
            let object = json!({
                "apiVersion": SPLIT_API,
                "kind": "TrafficSplit",
                "metadata": {"name": name, "ownerReferences": [ctx.controller_reference()]},
                "spec": spec,
            });
            ctx.cluster.create(&object)?;
            ctx.event("TrafficSplitCreated", format!("TrafficSplit `{name}` created with weight {weight}"));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(Some(json!({"writes": writes + 1})))
}

impl Router for Hostile {
    type Config = Value;

    fn update_hash(
        ctx: &Context<'_>,
        _: Value,
        _: &str,
        _: &str,
        _: &[WeightDestination],
    ) -> Result<StateUpdate, Error> {
        attack(ctx)?;
        Ok(None)
    }

    fn set_weight(ctx: &Context<'_>, _: Value, weight: i32, _: &[WeightDestination]) -> Result<StateUpdate, Error> {
        attack(ctx)?;
        honest_weight(ctx, weight)
    }

    fn set_header_route(ctx: &Context<'_>, _: Value, _: &SetHeaderRoute) -> Result<StateUpdate, Error> {
        attack(ctx)?;
        Ok(None)
    }

    fn set_mirror_route(ctx: &Context<'_>, _: Value, _: &SetMirrorRoute) -> Result<StateUpdate, Error> {
        attack(ctx)?;
        Ok(None)
    }

    fn verify_weight(
        ctx: &Context<'_>,
        _: Value,
        _: i32,
        _: &[WeightDestination],
    ) -> Result<(Verification, StateUpdate), Error> {
        attack(ctx)?;
        Ok((Verification::NotImplemented, None))
    }

    fn remove_managed_routes(ctx: &Context<'_>, _: Value) -> Result<StateUpdate, Error> {
        attack(ctx)?;
        Ok(None)
    }
}

export_router!(Hostile);

#[cfg(test)]
mod tests {
    use super::*;
    use aviary_plugin_sdk::kubernetes::fake::FakeCluster;

    fn rollout(attack: Option<&str>) -> Value {
        let mut ro = json!({
            "metadata": {"name": "web", "namespace": "team", "uid": "u"},
            "spec": {"strategy": {"canary": {"stableService": "web-stable", "canaryService": "web-canary"}}},
        });
        if let Some(a) = attack {
            ro["metadata"]["annotations"] = json!({ATTACK_ANNOTATION: a});
        }
        ro
    }

    fn run(cluster: &FakeCluster, attack: Option<&str>) -> Result<StateUpdate, Error> {
        Hostile::set_weight(&Context::new(rollout(attack), cluster), Value::Null, 20, &[])
    }

    #[test]
    fn attacks_outside_the_grants_are_denied_and_reported() {
        let cluster = FakeCluster::new("team")
            .granting(GRANTS)
            .with(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "aviary-test-victim"}}));
        for (attack, denial) in [
            ("kind", "patch ConfigMap (core): not granted"),
            ("namespace", "namespace \"other\""),
            ("secret", "plugins never read Secrets"),
        ] {
            let err = run(&cluster, Some(attack)).unwrap_err();
            assert!(err.0.starts_with(&format!("attack {attack}: denied by the host: ")), "{err}");
            assert!(err.0.contains(denial), "{err}");
        }
        assert_eq!(cluster.writes(), 0);
        assert!(cluster.objects_of("TrafficSplit").is_empty());
    }

    #[test]
    fn an_attack_let_through_says_so() {
        let cluster = FakeCluster::new("team")
            .with(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "aviary-test-victim"}}));
        let err = run(&cluster, Some("kind")).unwrap_err();
        assert!(err.0.starts_with("attack kind: NOT DENIED"), "{err}");
    }

    #[test]
    fn the_honest_mode_writes_weights_and_counts_them_in_its_state() {
        let cluster = FakeCluster::new("team").granting(GRANTS);
        assert_eq!(run(&cluster, None), Ok(Some(json!({"writes": 1}))));
        let ctx = Context::new(rollout(Some("none")), &cluster).with_state(Some(json!({"writes": 1})));
        assert_eq!(Hostile::set_weight(&ctx, Value::Null, 20, &[]), Ok(None), "same weight: nothing written");
        assert_eq!(Hostile::set_weight(&ctx, Value::Null, 50, &[]), Ok(Some(json!({"writes": 2}))));
        let split = cluster.object(SPLIT_API, "TrafficSplit", "web").unwrap();
        assert_eq!(split["spec"]["backends"][0], json!({"service": "web-canary", "weight": 50}));
        assert_eq!(
            cluster.events(),
            [
                aviary_plugin_sdk::router::Event::normal(
                    "TrafficSplitCreated",
                    "TrafficSplit `web` created with weight 20"
                ),
                aviary_plugin_sdk::router::Event::normal("TrafficSplitUpdated", "TrafficSplit `web` set to weight 50"),
            ]
        );
    }

    #[test]
    #[should_panic(expected = "the router panicked on purpose")]
    fn panic_panics() {
        let cluster = FakeCluster::new("team");
        let _ = run(&cluster, Some("panic"));
    }

    #[test]
    fn an_unknown_attack_is_an_error() {
        let cluster = FakeCluster::new("team");
        assert!(run(&cluster, Some("teleport")).unwrap_err().0.contains("unknown attack"));
    }
}

//! {{name}}: an Aviary traffic router. It splits a canary's traffic with an SMI TrafficSplit
//! (`split.smi-spec.io/v1alpha2`) named after the Rollout: the canary Service gets the desired
//! weight, the stable Service the rest. Change `set_weight` to edit your own routing objects.
//!
//! Every call runs in a fresh sandbox: no files, no environment, no sockets. Kubernetes objects
//! are read and written through `ctx.cluster`, in the Rollout's namespace only, and only the
//! kinds and verbs of the registry entry's `kubernetes:` grants: list them in `GRANTS`, which the
//! tests hold the router to.

use aviary_plugin_sdk::export_router;
use aviary_plugin_sdk::kubernetes::{Grant, ObjectRef, PatchType, Verb};
use aviary_plugin_sdk::router::{Context, Error, Router, StateUpdate, WeightDestination, log};
use serde::Deserialize;
use serde_json::{Value, json};

/// The Kubernetes grants the router needs: copy them into its registry entry.
pub const GRANTS: &[Grant] =
    &[Grant { api_group: "split.smi-spec.io", kinds: &["TrafficSplit"], verbs: &[Verb::Get, Verb::Create, Verb::Patch] }];

/// The configuration: the value under `trafficRouting.plugins.<name>` in the Rollout.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Config {
    /// The Service clients call; the stable Service when empty.
    pub root_service: String,
}

struct Split;

impl Router for Split {
    type Config = Config;

    fn set_weight(
        ctx: &Context<'_>,
        config: Config,
        desired_weight: i32,
        _additional: &[WeightDestination],
    ) -> Result<StateUpdate, Error> {
        let root = if config.root_service.is_empty() { ctx.stable_service() } else { &config.root_service };
        let spec = json!({
            "service": root,
            "backends": [
                {"service": ctx.canary_service(), "weight": desired_weight},
                {"service": ctx.stable_service(), "weight": ctx.max_traffic_weight() - desired_weight},
            ],
        });
        let split = ObjectRef::new("split.smi-spec.io/v1alpha2", "TrafficSplit", ctx.rollout_name.as_str());
        match ctx.cluster.get(&split) {
            Ok(existing) if !ctx.controls(&existing) => {
                Err(Error::msg(format!("{split} is not this Rollout's: it is left alone")))
            }
            Ok(existing) if existing.get("spec") == Some(&spec) => Ok(None),
            Ok(_) => {
                ctx.cluster.patch(&split, PatchType::Merge, &json!({"spec": spec}))?;
                Ok(None)
            }
            Err(e) if e.is_not_found() => {
                let object = json!({
                    "apiVersion": split.api_version,
                    "kind": split.kind,
                    "metadata": {"name": split.name, "ownerReferences": [ctx.controller_reference()]},
                    "spec": spec,
                });
                ctx.cluster.create(&object)?;
                log::info(&format!("created {split}"));
                Ok(None)
            }
            Err(e) => Err(Error::msg(format!("{split}: {e}"))),
        }
    }
}

/// The weights of a TrafficSplit's backends, by Service.
pub fn weights(split: &Value) -> Vec<(String, i64)> {
    split["spec"]["backends"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| (b["service"].as_str().unwrap_or("").to_string(), b["weight"].as_i64().unwrap_or(0)))
        .collect()
}

export_router!(Split);

#[cfg(test)]
mod tests {
    use super::*;
    use aviary_plugin_sdk::kubernetes::fake::FakeCluster;

    fn rollout() -> Value {
        json!({
            "metadata": {"name": "web", "namespace": "shop", "uid": "web-uid"},
            "spec": {"strategy": {"canary": {"stableService": "web-stable", "canaryService": "web-canary"}}},
        })
    }

    #[test]
    fn the_split_is_created_then_patched_then_left_alone() {
        // The fake allows only what GRANTS allow, as the host does with the registry entry.
        let cluster = FakeCluster::new("shop").granting(GRANTS);
        let ctx = Context::new(rollout(), &cluster);
        Split::set_weight(&ctx, Config::default(), 10, &[]).unwrap();
        Split::set_weight(&ctx, Config::default(), 30, &[]).unwrap();
        Split::set_weight(&ctx, Config::default(), 30, &[]).unwrap();
        assert_eq!(cluster.verbs(), [Verb::Get, Verb::Create, Verb::Get, Verb::Patch, Verb::Get]);
        let split = cluster.object("split.smi-spec.io/v1alpha2", "TrafficSplit", "web").unwrap();
        assert_eq!(weights(&split), [("web-canary".to_string(), 30), ("web-stable".to_string(), 70)]);
    }

    #[test]
    fn a_split_of_someone_else_is_an_error() {
        let cluster = FakeCluster::new("shop").granting(GRANTS).with(json!({
            "apiVersion": "split.smi-spec.io/v1alpha2", "kind": "TrafficSplit", "metadata": {"name": "web"},
        }));
        let err = Split::set_weight(&Context::new(rollout(), &cluster), Config::default(), 10, &[]).unwrap_err();
        assert!(err.0.contains("is not this Rollout's"), "{err}");
        assert_eq!(cluster.writes(), 0);
    }
}

//! `antiAffinity` (canary and blue-green): while an update is under way, the new ReplicaSet's
//! pods are kept off the nodes that run the stable ReplicaSet's pods, so that a node failure
//! cannot take both versions down (Argo's `GenerateReplicaSetAffinity`). The rule is injected
//! into the new ReplicaSet's pod template when it is created, follows the stable ReplicaSet
//! when it changes (`IfInjectedAntiAffinityRuleNeedsUpdate`), and is ignored when an existing
//! ReplicaSet's template is compared with the Rollout's (`RemoveInjectedAntiAffinityRule`).

use aviary_api::Rollout;
use aviary_api::k8s_openapi::api::core::v1::{Affinity, PodAffinityTerm, WeightedPodAffinityTerm};
use aviary_api::k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use aviary_api::rollout::{AntiAffinity, POD_TEMPLATE_HASH_LABEL};

use crate::weight::status;

/// Argo's `GetRolloutAffinity`: the strategy's `antiAffinity`, when it asks for a rule.
fn strategy(rollout: &Rollout) -> Option<&AntiAffinity> {
    let canary = rollout.spec.canary().and_then(|c| c.anti_affinity.as_ref());
    let blue_green = rollout.spec.blue_green().and_then(|b| b.anti_affinity.as_ref());
    canary.or(blue_green).filter(|a| {
        a.preferred_during_scheduling_ignored_during_execution.is_some()
            || a.required_during_scheduling_ignored_during_execution.is_some()
    })
}

/// Argo's `CreateInjectedAntiAffinityRule`: avoid the nodes of the pods of `status.stableRS`.
fn injected_rule(rollout: &Rollout) -> PodAffinityTerm {
    PodAffinityTerm {
        label_selector: Some(LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: POD_TEMPLATE_HASH_LABEL.to_string(),
                operator: "In".to_string(),
                values: Some(vec![status(rollout).stable_rs.clone()]),
            }]),
            match_labels: None,
        }),
        namespaces: Some(vec![rollout.metadata.namespace.clone().unwrap_or_default()]),
        topology_key: "kubernetes.io/hostname".to_string(),
        ..Default::default()
    }
}

fn the_template_affinity(rollout: &Rollout) -> Option<Affinity> {
    rollout.spec.template.as_ref().and_then(|t| t.spec.as_ref()).and_then(|s| s.affinity.clone())
}

/// Argo's `GenerateReplicaSetAffinity`: the pod template's affinity, plus the injected rule when
/// the strategy asks for one and a stable ReplicaSet other than `current_hash` runs.
pub fn replica_set_affinity(rollout: &Rollout, current_hash: &str) -> Option<Affinity> {
    let mut affinity = the_template_affinity(rollout);
    let Some(aa) = strategy(rollout) else { return affinity };
    let stable = &status(rollout).stable_rs;
    if stable.is_empty() || stable == current_hash {
        return affinity;
    }
    let anti = affinity.get_or_insert_with(Default::default).pod_anti_affinity.get_or_insert_with(Default::default);
    let rule = injected_rule(rollout);
    match &aa.preferred_during_scheduling_ignored_during_execution {
        Some(p) => anti
            .preferred_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(WeightedPodAffinityTerm { weight: p.weight, pod_affinity_term: rule }),
        None => anti.required_during_scheduling_ignored_during_execution.get_or_insert_with(Vec::new).push(rule),
    }
    affinity
}

fn selects_hash(term: &PodAffinityTerm) -> bool {
    term.label_selector
        .as_ref()
        .and_then(|s| s.match_expressions.as_ref())
        .is_some_and(|e| e.iter().any(|r| r.key == POD_TEMPLATE_HASH_LABEL))
}

/// Argo's `HasInjectedAntiAffinityRule`: the index and the term of the injected rule.
fn injected<'a>(affinity: Option<&'a Affinity>, rollout: &Rollout) -> Option<(usize, &'a PodAffinityTerm)> {
    let aa = strategy(rollout)?;
    let anti = affinity?.pod_anti_affinity.as_ref()?;
    if aa.preferred_during_scheduling_ignored_during_execution.is_some() {
        let terms = anti.preferred_during_scheduling_ignored_during_execution.as_ref()?;
        terms
            .iter()
            .enumerate()
            .find(|(_, t)| selects_hash(&t.pod_affinity_term))
            .map(|(i, t)| (i, &t.pod_affinity_term))
    } else {
        let terms = anti.required_during_scheduling_ignored_during_execution.as_ref()?;
        terms.iter().enumerate().find(|(_, t)| selects_hash(t))
    }
}

/// Argo's `RemoveInjectedAntiAffinityRule`: `affinity` without the injected rule (emptied parts
/// dropped), for comparing a ReplicaSet's template with the Rollout's.
pub fn without_injected_rule(affinity: Option<&Affinity>, rollout: &Rollout) -> Option<Affinity> {
    let mut out = affinity.cloned();
    let Some((i, _)) = injected(affinity, rollout) else { return out };
    let Some(a) = out.as_mut() else { return out };
    if let Some(anti) = a.pod_anti_affinity.as_mut() {
        if let Some(terms) = anti.preferred_during_scheduling_ignored_during_execution.as_mut()
            && strategy(rollout).is_some_and(|s| s.preferred_during_scheduling_ignored_during_execution.is_some())
            && i < terms.len()
        {
            terms.remove(i);
        } else if let Some(terms) = anti.required_during_scheduling_ignored_during_execution.as_mut()
            && i < terms.len()
        {
            terms.remove(i);
        }
        if anti.required_during_scheduling_ignored_during_execution.as_ref().is_some_and(Vec::is_empty) {
            anti.required_during_scheduling_ignored_during_execution = None;
        }
        if anti.required_during_scheduling_ignored_during_execution.is_none()
            && anti.preferred_during_scheduling_ignored_during_execution.is_none()
        {
            a.pod_anti_affinity = None;
        }
    }
    if a.pod_anti_affinity.is_none() && a.pod_affinity.is_none() && a.node_affinity.is_none() {
        return None;
    }
    out
}

/// Argo's `IfInjectedAntiAffinityRuleNeedsUpdate`: the new ReplicaSet's injected rule names a
/// stable ReplicaSet that is no longer the stable one.
pub fn injected_rule_needs_update(affinity: Option<&Affinity>, rollout: &Rollout, current_hash: &str) -> bool {
    let stable = &status(rollout).stable_rs;
    let Some((_, term)) = injected(affinity, rollout) else { return false };
    if stable == current_hash {
        return false;
    }
    term.label_selector.as_ref().and_then(|s| s.match_expressions.as_ref()).is_some_and(|e| {
        e.iter().any(|r| {
            r.key == POD_TEMPLATE_HASH_LABEL
                && r.values.as_ref().and_then(|v| v.first()).is_some_and(|first| first != stable)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::RolloutBuilder;
    use aviary_api::rollout::{
        PreferredDuringSchedulingIgnoredDuringExecution, RequiredDuringSchedulingIgnoredDuringExecution,
    };

    fn with(aa: AntiAffinity, stable: &str) -> Rollout {
        let mut ro = RolloutBuilder::blue_green(3).build();
        ro.metadata.namespace = Some("ns".into());
        ro.spec.template = Some(Default::default());
        ro.spec.strategy.blue_green.as_mut().unwrap().anti_affinity = Some(aa);
        ro.status.as_mut().unwrap().stable_rs = stable.into();
        ro
    }

    fn required() -> AntiAffinity {
        AntiAffinity {
            required_during_scheduling_ignored_during_execution: Some(
                RequiredDuringSchedulingIgnoredDuringExecution {},
            ),
            ..Default::default()
        }
    }

    fn preferred(weight: i32) -> AntiAffinity {
        AntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(
                PreferredDuringSchedulingIgnoredDuringExecution { weight },
            ),
            ..Default::default()
        }
    }

    #[test]
    fn a_required_rule_avoids_the_stable_pods_nodes_during_an_update() {
        let ro = with(required(), "stable");
        let a = replica_set_affinity(&ro, "canary").unwrap();
        let terms = a.pod_anti_affinity.unwrap().required_during_scheduling_ignored_during_execution.unwrap();
        assert_eq!(terms.len(), 1);
        assert_eq!(terms[0].topology_key, "kubernetes.io/hostname");
        assert_eq!(terms[0].namespaces, Some(vec!["ns".to_string()]));
        let expr = &terms[0].label_selector.as_ref().unwrap().match_expressions.as_ref().unwrap()[0];
        assert_eq!((expr.key.as_str(), expr.operator.as_str()), (POD_TEMPLATE_HASH_LABEL, "In"));
        assert_eq!(expr.values, Some(vec!["stable".to_string()]));
    }

    #[test]
    fn a_preferred_rule_carries_its_weight() {
        let a = replica_set_affinity(&with(preferred(40), "stable"), "canary").unwrap();
        let terms = a.pod_anti_affinity.unwrap().preferred_during_scheduling_ignored_during_execution.unwrap();
        assert_eq!(terms[0].weight, 40);
    }

    #[test]
    fn no_rule_on_the_first_deploy_or_for_the_stable_itself_or_without_anti_affinity() {
        assert_eq!(replica_set_affinity(&with(required(), ""), "canary"), None);
        assert_eq!(replica_set_affinity(&with(required(), "canary"), "canary"), None);
        assert_eq!(replica_set_affinity(&with(AntiAffinity::default(), "stable"), "canary"), None);
    }

    #[test]
    fn the_injected_rule_is_ignored_when_templates_are_compared() {
        let ro = with(required(), "stable");
        let injected = replica_set_affinity(&ro, "canary");
        assert_eq!(without_injected_rule(injected.as_ref(), &ro), None);
        assert_eq!(without_injected_rule(None, &ro), None);
    }

    #[test]
    fn the_rule_follows_a_new_stable_replica_set() {
        let ro = with(required(), "stable");
        let injected = replica_set_affinity(&ro, "canary");
        assert!(!injected_rule_needs_update(injected.as_ref(), &ro, "canary"));
        let moved = with(required(), "newer");
        assert!(injected_rule_needs_update(injected.as_ref(), &moved, "canary"));
        // Once the ReplicaSet is the stable one, its rule is left as it is.
        let promoted = with(required(), "canary");
        assert!(!injected_rule_needs_update(injected.as_ref(), &promoted, "canary"));
    }
}

//! Which rules of a route are the Rollout's, and the edit of a route's rules, labels and
//! managed-rules annotation.

use std::collections::BTreeMap;
#[cfg(test)]
use std::collections::BTreeSet;

use aviary_plugin_sdk::router::Error;
use serde_json::{Map, Value, json};

/// The annotation on a route that records the rules each Rollout added to it: a JSON object
/// `{"<rollout>": {"<header or mirror route name>": [<rule as written>, ...]}}`.
pub const MANAGED_RULES_ANNOTATION: &str = "aviary.dev/gateway-api-managed-rules";

/// By Rollout, by managed route name, the rules as written.
type Record = BTreeMap<String, BTreeMap<String, Vec<Value>>>;

/// One rule of a route, and the managed route it belongs to when it is the Rollout's.
#[derive(Debug, Clone)]
struct Rule {
    owner: Option<String>,
    value: Value,
    /// For the Rollout's rules: the rule as recorded in the annotation (as written, before the
    /// API server's defaulting).
    recorded: Option<Value>,
}

/// Sets the weights of the canary and stable backendRefs of a rule.
fn weigh(rule: &mut Value, namespace: &str, canary: &str, stable: &str, weight: i32, rest: i32) {
    for backend in rule.get_mut("backendRefs").and_then(Value::as_array_mut).into_iter().flatten() {
        if is_service_ref(backend, namespace, canary) {
            backend["weight"] = json!(weight);
        } else if is_service_ref(backend, namespace, stable) {
            backend["weight"] = json!(rest);
        }
    }
}

/// Whether a stored rule is what `written` wrote (defaulting aside, its name dropped or not).
fn is_written(stored: &Value, written: &Value) -> bool {
    if rule_name(stored).is_some() { holds(stored, written) } else { holds(stored, &without_name(written)) }
}

/// A route being edited.
#[derive(Debug)]
pub(crate) struct Edit {
    rules: Vec<Rule>,
    /// The other Rollouts' entries of the annotation, kept as they are.
    others: Record,
    label: Option<(String, Option<String>)>,
}

/// Whether a backendRef is the Service `name` of namespace `namespace` (group and kind default
/// to the core Service, the namespace to the route's).
pub(crate) fn is_service_ref(backend: &Value, namespace: &str, name: &str) -> bool {
    let field = |k: &str| backend.get(k).and_then(Value::as_str);
    !name.is_empty()
        && field("name") == Some(name)
        && field("group").unwrap_or("").is_empty()
        && field("kind").unwrap_or("Service") == "Service"
        && field("namespace").is_none_or(|ns| ns == namespace)
}

fn refs_both(rule: &Value, namespace: &str, canary: &str, stable: &str) -> (bool, bool) {
    let refs = rule.get("backendRefs").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    (
        refs.iter().any(|r| is_service_ref(r, namespace, canary)),
        refs.iter().any(|r| is_service_ref(r, namespace, stable)),
    )
}

/// Whether everything `recorded` holds is in `stored` (what the API server added by defaulting is
/// allowed; nothing may differ or be missing).
fn holds(stored: &Value, recorded: &Value) -> bool {
    match (stored, recorded) {
        (Value::Object(s), Value::Object(r)) => r.iter().all(|(k, rv)| s.get(k).is_some_and(|sv| holds(sv, rv))),
        (Value::Array(s), Value::Array(r)) => s.len() == r.len() && s.iter().zip(r).all(|(sv, rv)| holds(sv, rv)),
        (s, r) => s == r,
    }
}

fn rule_name(rule: &Value) -> Option<&str> {
    rule.get("name").and_then(Value::as_str).filter(|n| !n.is_empty())
}

fn without_name(rule: &Value) -> Value {
    let mut rule = rule.clone();
    if let Some(o) = rule.as_object_mut() {
        o.remove("name");
    }
    rule
}

fn parse_record(route: &Value) -> Result<Record, Error> {
    let pointer = format!("/metadata/annotations/{}", MANAGED_RULES_ANNOTATION.replace('/', "~1"));
    match route.pointer(&pointer).and_then(Value::as_str) {
        None | Some("") => Ok(Record::new()),
        Some(text) => serde_json::from_str(text).map_err(|e| {
            Error(format!(
                "annotation {MANAGED_RULES_ANNOTATION} is not what aviary/gateway-api writes ({e}); fix or remove it"
            ))
        }),
    }
}

impl Edit {
    /// Reads a route: which of its rules are `rollout`'s, by the annotation.
    pub(crate) fn read(route: &Value, rollout: &str) -> Result<Self, Error> {
        let mut others = parse_record(route)?;
        let mine = others.remove(rollout).unwrap_or_default();
        let stored: &[Value] = route.pointer("/spec/rules").and_then(Value::as_array).map_or(&[], Vec::as_slice);
        // Each recorded rule is claimed by one stored rule at most: by name, or, for a stored
        // rule without a name (an API server that drops rule names), by content.
        let mut unclaimed: Vec<(String, Value)> =
            mine.iter().flat_map(|(name, rules)| rules.iter().map(move |r| (name.clone(), r.clone()))).collect();
        let mut rules = Vec::with_capacity(stored.len());
        for value in stored {
            let position = match rule_name(value) {
                Some(name) => unclaimed.iter().position(|(_, r)| rule_name(r) == Some(name)),
                None => unclaimed.iter().position(|(_, r)| holds(value, &without_name(r))),
            };
            let (owner, recorded) = match position.map(|i| unclaimed.remove(i)) {
                Some((owner, recorded)) => (Some(owner), Some(recorded)),
                None => (None, None),
            };
            rules.push(Rule { owner, value: value.clone(), recorded });
        }
        Ok(Edit { rules, others, label: None })
    }

    /// Sets the weights of the canary and stable backendRefs in every rule that has both; an
    /// error when no rule but the Rollout's own has both.
    pub(crate) fn set_weights(
        &mut self,
        namespace: &str,
        canary: &str,
        stable: &str,
        weight: i32,
        rest: i32,
    ) -> Result<(), Error> {
        let mut found = 0;
        let mut seen = Vec::new();
        for (i, rule) in self.rules.iter_mut().enumerate() {
            match refs_both(&rule.value, namespace, canary, stable) {
                (true, true) => {}
                (c, s) => {
                    if rule.owner.is_none() && (c || s) {
                        seen.push(format!("rule {i} has a backendRef to {:?} only", if c { canary } else { stable }));
                    }
                    continue;
                }
            }
            if rule.owner.is_none() {
                found += 1;
            }
            weigh(&mut rule.value, namespace, canary, stable, weight, rest);
            if let Some(recorded) = &mut rule.recorded {
                weigh(recorded, namespace, canary, stable, weight, rest);
            }
        }
        if found == 0 {
            let detail = if seen.is_empty() { String::new() } else { format!(" ({})", seen.join(", ")) };
            return Err(Error(format!(
                "no rule has backendRefs to both the canary Service {canary:?} and the stable Service {stable:?}{detail}"
            )));
        }
        Ok(())
    }

    /// Sets (`Some`) or removes (`None`) a label of the route.
    pub(crate) fn set_label(&mut self, key: &str, value: Option<&str>) {
        self.label = Some((key.to_string(), value.map(str::to_string)));
    }

    /// The rules that are not the Rollout's and have backendRefs to both Services: what header
    /// and mirror rules are made of.
    pub(crate) fn sources(&self, namespace: &str, canary: &str, stable: &str) -> Result<Vec<Value>, Error> {
        let sources: Vec<Value> = self
            .rules
            .iter()
            .filter(|r| r.owner.is_none() && refs_both(&r.value, namespace, canary, stable) == (true, true))
            .map(|r| r.value.clone())
            .collect();
        if sources.is_empty() {
            return Err(Error(format!(
                "no rule has backendRefs to both the canary Service {canary:?} and the stable Service {stable:?}"
            )));
        }
        Ok(sources)
    }

    /// Replaces the rules of the managed route `name` by `new` (appended after the others); rules
    /// that are already as `new` would write them are left in place.
    pub(crate) fn replace_managed(&mut self, name: &str, new: Vec<Value>) -> Result<(), Error> {
        for (i, rule) in self.rules.iter().enumerate() {
            if rule.owner.is_some() {
                continue;
            }
            if let Some(taken) = rule_name(&rule.value).filter(|n| new.iter().any(|r| rule_name(r) == Some(n))) {
                return Err(Error(format!(
                    "rule {i} is named {taken:?}, a name the managed route {name:?} needs, and it was not added by this \
                     Rollout: rename or remove that rule (aviary/gateway-api never changes rules it did not create)"
                )));
            }
        }
        let existing: Vec<&Rule> = self.rules.iter().filter(|r| r.owner.as_deref() == Some(name)).collect();
        if existing.len() == new.len() && existing.iter().zip(&new).all(|(r, n)| is_written(&r.value, n)) {
            return Ok(());
        }
        self.remove_managed(name);
        self.rules.extend(new.into_iter().map(|value| Rule {
            owner: Some(name.to_string()),
            recorded: Some(value.clone()),
            value,
        }));
        Ok(())
    }

    /// Removes the rules of the managed route `name`.
    pub(crate) fn remove_managed(&mut self, name: &str) {
        self.rules.retain(|r| r.owner.as_deref() != Some(name));
    }

    /// Removes every rule of the Rollout.
    pub(crate) fn remove_all_managed(&mut self) {
        self.rules.retain(|r| r.owner.is_none());
    }

    /// The merge patch that writes the edit over `current` (with its resourceVersion, so that a
    /// concurrent change is a conflict), or `None` when nothing changes.
    pub(crate) fn patch(&self, current: &Value, rollout: &str) -> Option<Value> {
        let rules: Vec<Value> = self.rules.iter().map(|r| r.value.clone()).collect();
        let mut record = self.others.clone();
        let mut mine: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for rule in &self.rules {
            if let Some(owner) = &rule.owner {
                let recorded = rule.recorded.clone().unwrap_or_else(|| rule.value.clone());
                mine.entry(owner.clone()).or_default().push(recorded);
            }
        }
        if !mine.is_empty() {
            record.insert(rollout.to_string(), mine);
        }

        let mut metadata = Map::new();
        let mut spec = Map::new();
        let current_rules = current.pointer("/spec/rules").and_then(Value::as_array).cloned().unwrap_or_default();
        if current_rules != rules {
            spec.insert("rules".into(), Value::Array(rules));
        }
        let current_record = parse_record(current).unwrap_or_default();
        if current_record != record {
            let value = if record.is_empty() {
                Value::Null
            } else {
                Value::String(serde_json::to_string(&record).expect("a record serializes"))
            };
            metadata.insert("annotations".into(), json!({ MANAGED_RULES_ANNOTATION: value }));
        }
        if let Some((key, value)) = &self.label {
            let now = current.pointer("/metadata/labels").and_then(|l| l.get(key)).and_then(Value::as_str);
            if now != value.as_deref() {
                metadata.insert("labels".into(), json!({ key.as_str(): value }));
            }
        }
        if metadata.is_empty() && spec.is_empty() {
            return None;
        }
        if let Some(version) = current.pointer("/metadata/resourceVersion") {
            metadata.insert("resourceVersion".into(), version.clone());
        }
        let mut patch = json!({"metadata": metadata});
        if !spec.is_empty() {
            patch["spec"] = Value::Object(spec);
        }
        Some(patch)
    }

    /// The names of the managed routes with rules on the route (for tests and logs).
    #[cfg(test)]
    pub(crate) fn managed_names(&self) -> BTreeSet<String> {
        self.rules.iter().filter_map(|r| r.owner.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_rule_is_recognised_by_name_or_by_content() {
        let mine = json!({"name": "h", "matches": [{"headers": [{"name": "x", "value": "1"}]}], "backendRefs": [{"name": "canary"}]});
        let record = json!({"web": {"h": [mine]}}).to_string();
        let route = |rules: Value| json!({"metadata": {"annotations": {MANAGED_RULES_ANNOTATION: record}}, "spec": {"rules": rules}});
        // By name.
        let edit = Edit::read(&route(json!([{"name": "h"}, {"name": "other"}])), "web").unwrap();
        assert_eq!(edit.managed_names(), BTreeSet::from(["h".to_string()]));
        // Without names, by content, with what defaulting added.
        let defaulted = json!({"matches": [{"headers": [{"name": "x", "value": "1", "type": "Exact"}]}],
                               "backendRefs": [{"name": "canary", "weight": 1, "kind": "Service"}]});
        let edit =
            Edit::read(&route(json!([defaulted.clone(), {"backendRefs": [{"name": "canary"}]}])), "web").unwrap();
        assert_eq!(edit.rules.iter().map(|r| r.owner.is_some()).collect::<Vec<_>>(), [true, false]);
        // A rule of the same shape but another header is someone else's.
        let foreign =
            json!({"matches": [{"headers": [{"name": "x", "value": "2"}]}], "backendRefs": [{"name": "canary"}]});
        let edit = Edit::read(&route(json!([foreign])), "web").unwrap();
        assert!(edit.managed_names().is_empty());
        // Another Rollout's record claims nothing for this one.
        let edit = Edit::read(&route(json!([{"name": "h"}])), "api").unwrap();
        assert!(edit.managed_names().is_empty());
    }

    #[test]
    fn service_refs_default_to_core_services_of_the_namespace() {
        assert!(is_service_ref(&json!({"name": "s"}), "ns", "s"));
        assert!(is_service_ref(&json!({"name": "s", "group": "", "kind": "Service", "namespace": "ns"}), "ns", "s"));
        assert!(!is_service_ref(&json!({"name": "s", "namespace": "other"}), "ns", "s"));
        assert!(!is_service_ref(
            &json!({"name": "s", "group": "multicluster.x-k8s.io", "kind": "ServiceImport"}),
            "ns",
            "s"
        ));
        assert!(!is_service_ref(&json!({"name": "s"}), "ns", ""));
    }
}

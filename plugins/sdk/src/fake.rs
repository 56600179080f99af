//! An in-memory [`Cluster`] for native unit tests of routers (feature `testing`).
//!
//! It behaves as the host and the API server do where a router can tell the difference:
//!
//! - calls are confined to one namespace: an object whose `metadata.namespace` names another is
//!   [`Error::Denied`], and so is every Secret;
//! - with [`FakeCluster::granting`], a call outside the grants is [`Error::Denied`] with the
//!   host's wording, so a router's tests prove that its documented grants are enough;
//! - merge patches (RFC 7386) and JSON patches (RFC 6902) are applied as the API server applies
//!   them; a merge patch carrying a `metadata.resourceVersion` other than the stored one is a
//!   [`Error::Conflict`] (the API server's optimistic concurrency), a failed JSON-patch `test`
//!   is [`Error::Rejected`] with 422;
//! - every stored object has a `resourceVersion`, bumped by each write that changes it;
//! - objects are keyed by API group, kind and name: any version of a group reads the same
//!   object, as with the API server's storage.
//!
//! Each call is recorded as an [`Action`], as client-go's fake clients record theirs, and a test
//! can make the next call of a verb on a kind fail with [`FakeCluster::fail_next`].

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{
    Cluster, Error, Event, Grant, MAX_EVENT_MESSAGE, ObjectRef, PatchType, Verb, granted, group_of, valid_event_reason,
};

/// One call made to a [`FakeCluster`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// The verb.
    pub verb: Verb,
    /// The kind.
    pub kind: String,
    /// The object's name (empty for `list`).
    pub name: String,
    /// What was sent: the object of a `create`, the document of a `patch`.
    pub body: Option<Value>,
}

type Key = (String, String, String);

/// An in-memory cluster namespace; see the module documentation.
#[derive(Debug)]
pub struct FakeCluster {
    namespace: String,
    grants: Option<Vec<Grant>>,
    objects: RefCell<BTreeMap<Key, Value>>,
    actions: RefCell<Vec<Action>>,
    failures: RefCell<Vec<(Verb, String, Error)>>,
    events: RefCell<Vec<Event>>,
    version: Cell<u64>,
}

impl FakeCluster {
    /// An empty namespace, every kind and verb allowed (but Secrets).
    pub fn new(namespace: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            grants: None,
            objects: RefCell::new(BTreeMap::new()),
            actions: RefCell::new(Vec::new()),
            failures: RefCell::new(Vec::new()),
            events: RefCell::new(Vec::new()),
            version: Cell::new(0),
        }
    }

    /// Allows only what `grants` allow, as the host does for a plugin's registry entry.
    pub fn granting(mut self, grants: &[Grant]) -> Self {
        self.grants = Some(grants.to_vec());
        self
    }

    /// Adds an object (see [`FakeCluster::insert`]).
    pub fn with(self, object: Value) -> Self {
        self.insert(object);
        self
    }

    /// Stores an object as it is, in this namespace, with a fresh `resourceVersion`; not
    /// recorded as an action.
    pub fn insert(&self, mut object: Value) {
        let key = key_of(&object).expect("a fake object needs apiVersion, kind and metadata.name");
        self.stamp(&mut object);
        self.objects.borrow_mut().insert(key, object);
    }

    /// The stored object, if any (not recorded as an action).
    pub fn object(&self, api_version: &str, kind: &str, name: &str) -> Option<Value> {
        self.objects.borrow().get(&key(api_version, kind, name)).cloned()
    }

    /// Every stored object of a kind, by name.
    pub fn objects_of(&self, kind: &str) -> Vec<Value> {
        self.objects.borrow().iter().filter(|((_, k, _), _)| k == kind).map(|(_, v)| v.clone()).collect()
    }

    /// The calls made so far.
    pub fn actions(&self) -> Vec<Action> {
        self.actions.borrow().clone()
    }

    /// The verbs of the calls made so far, in order.
    pub fn verbs(&self) -> Vec<Verb> {
        self.actions.borrow().iter().map(|a| a.verb).collect()
    }

    /// The number of writes (create, patch, delete) made so far.
    pub fn writes(&self) -> usize {
        self.actions.borrow().iter().filter(|a| matches!(a.verb, Verb::Create | Verb::Patch | Verb::Delete)).count()
    }

    /// The documents of the patches made so far, in order.
    pub fn patches(&self) -> Vec<Value> {
        self.actions.borrow().iter().filter(|a| a.verb == Verb::Patch).filter_map(|a| a.body.clone()).collect()
    }

    /// Forgets the calls made so far.
    pub fn clear_actions(&self) {
        self.actions.borrow_mut().clear();
    }

    /// The Events recorded so far, in order, with their messages cut as the host cuts them.
    pub fn events(&self) -> Vec<Event> {
        self.events.borrow().clone()
    }

    /// The Events recorded since the last call of `take_events` (or since the start), leaving
    /// none.
    pub fn take_events(&self) -> Vec<Event> {
        std::mem::take(&mut *self.events.borrow_mut())
    }

    /// Makes the next `verb` call on `kind` fail with `error` (after the host's checks pass).
    pub fn fail_next(&self, verb: Verb, kind: &str, error: Error) {
        self.failures.borrow_mut().push((verb, kind.to_string(), error));
    }

    fn stamp(&self, object: &mut Value) {
        self.version.set(self.version.get() + 1);
        let meta = object.as_object_mut().and_then(|o| {
            o.entry("metadata").or_insert_with(|| json!({}));
            o.get_mut("metadata").and_then(Value::as_object_mut)
        });
        if let Some(meta) = meta {
            meta.insert("namespace".into(), Value::String(self.namespace.clone()));
            meta.insert("resourceVersion".into(), Value::String(self.version.get().to_string()));
        }
    }

    /// The host's checks, then the recorded action, then an injected failure if any.
    fn call(&self, verb: Verb, api_version: &str, kind: &str, name: &str, body: Option<&Value>) -> Result<(), Error> {
        if kind == "Secret" && group_of(api_version).is_empty() {
            return Err(Error::Denied(format!(
                "{verb} Secret: plugins never read Secrets; credentials reach a plugin only through the host"
            )));
        }
        if let Some(grants) = &self.grants
            && !granted(grants, api_version, kind, verb)
        {
            let group = match group_of(api_version) {
                "" => "core",
                g => g,
            };
            return Err(Error::Denied(format!("{verb} {kind} ({group}): not granted to this plugin")));
        }
        self.actions.borrow_mut().push(Action {
            verb,
            kind: kind.to_string(),
            name: name.to_string(),
            body: body.cloned(),
        });
        let mut failures = self.failures.borrow_mut();
        if let Some(i) = failures.iter().position(|(v, k, _)| *v == verb && k == kind) {
            return Err(failures.remove(i).2);
        }
        Ok(())
    }

    fn check_namespace(&self, verb: Verb, kind: &str, object: &Value) -> Result<(), Error> {
        match object.pointer("/metadata/namespace").and_then(Value::as_str) {
            Some(ns) if ns != self.namespace => Err(Error::Denied(format!(
                "{verb} {kind} in namespace {ns:?}: a plugin may only act in namespace {:?}, the one of the object the call is for",
                self.namespace
            ))),
            _ => Ok(()),
        }
    }
}

fn key(api_version: &str, kind: &str, name: &str) -> Key {
    (group_of(api_version).to_string(), kind.to_string(), name.to_string())
}

fn key_of(object: &Value) -> Option<Key> {
    let r = ObjectRef::of(object)?;
    Some(key(&r.api_version, &r.kind, &r.name))
}

fn not_found(object: &ObjectRef) -> Error {
    Error::NotFound(format!("{} {:?} not found", object.kind, object.name))
}

fn with_version(mut object: Value, api_version: &str) -> Value {
    if let Some(o) = object.as_object_mut() {
        o.insert("apiVersion".into(), Value::String(api_version.to_string()));
    }
    object
}

impl Cluster for FakeCluster {
    /// Keeps the event; panics on a reason the host would drop, so that a test catches it.
    fn record_event(&self, mut event: Event) {
        assert!(valid_event_reason(&event.reason), "the host would drop an event with reason {:?}", event.reason);
        if event.message.len() > MAX_EVENT_MESSAGE {
            let mut cut = MAX_EVENT_MESSAGE;
            while !event.message.is_char_boundary(cut) {
                cut -= 1;
            }
            event.message.truncate(cut);
        }
        self.events.borrow_mut().push(event);
    }

    fn get(&self, object: &ObjectRef) -> Result<Value, Error> {
        self.call(Verb::Get, &object.api_version, &object.kind, &object.name, None)?;
        let stored = self.object(&object.api_version, &object.kind, &object.name).ok_or_else(|| not_found(object))?;
        Ok(with_version(stored, &object.api_version))
    }

    fn list(&self, api_version: &str, kind: &str, label_selector: Option<&str>) -> Result<Vec<Value>, Error> {
        self.call(Verb::List, api_version, kind, "", None)?;
        let selector = Selector::parse(label_selector.unwrap_or(""))
            .map_err(|e| Error::Rejected { status: 400, message: format!("invalid label selector: {e}") })?;
        let group = group_of(api_version);
        Ok(self
            .objects
            .borrow()
            .iter()
            .filter(|((g, k, _), v)| g == group && k == kind && selector.matches(v))
            .map(|(_, v)| with_version(v.clone(), api_version))
            .collect())
    }

    fn create(&self, object: &Value) -> Result<Value, Error> {
        let r = ObjectRef::of(object).ok_or_else(|| Error::Rejected {
            status: 400,
            message: "an object needs apiVersion, kind and metadata.name".into(),
        })?;
        self.check_namespace(Verb::Create, &r.kind, object)?;
        self.call(Verb::Create, &r.api_version, &r.kind, &r.name, Some(object))?;
        let key = key(&r.api_version, &r.kind, &r.name);
        if self.objects.borrow().contains_key(&key) {
            return Err(Error::Conflict(format!("{} {:?} already exists", r.kind, r.name)));
        }
        let mut stored = object.clone();
        self.stamp(&mut stored);
        self.objects.borrow_mut().insert(key, stored.clone());
        Ok(stored)
    }

    fn patch(&self, object: &ObjectRef, patch_type: PatchType, patch: &Value) -> Result<Value, Error> {
        self.call(Verb::Patch, &object.api_version, &object.kind, &object.name, Some(patch))?;
        let key = key(&object.api_version, &object.kind, &object.name);
        let current = self.objects.borrow().get(&key).cloned().ok_or_else(|| not_found(object))?;
        let mut patched = current.clone();
        match patch_type {
            PatchType::Merge => {
                let stored_version = current.pointer("/metadata/resourceVersion");
                if let Some(asked) = patch.pointer("/metadata/resourceVersion")
                    && Some(asked) != stored_version
                {
                    return Err(Error::Conflict(format!(
                        "Operation cannot be fulfilled on {} {:?}: the object has been modified; please apply your changes to the latest version and try again",
                        object.kind, object.name
                    )));
                }
                json_patch::merge(&mut patched, patch);
            }
            PatchType::Json => {
                let ops: json_patch::Patch = serde_json::from_value(patch.clone())
                    .map_err(|e| Error::Rejected { status: 400, message: format!("invalid JSON patch: {e}") })?;
                json_patch::patch(&mut patched, &ops)
                    .map_err(|e| Error::Rejected { status: 422, message: e.to_string() })?;
            }
        }
        self.check_namespace(Verb::Patch, &object.kind, &patched)?;
        if key_of(&patched).as_ref() != Some(&key) {
            return Err(Error::Rejected { status: 422, message: "a patch may not change the name or kind".into() });
        }
        // The stored version is what changed, not what the patch said.
        if let (Some(meta), Some(version)) = (
            patched.get_mut("metadata").and_then(Value::as_object_mut),
            current.pointer("/metadata/resourceVersion").cloned(),
        ) {
            meta.insert("resourceVersion".into(), version);
        }
        if patched != current {
            self.stamp(&mut patched);
            self.objects.borrow_mut().insert(key, patched.clone());
        }
        Ok(with_version(patched, &object.api_version))
    }

    fn delete(&self, object: &ObjectRef) -> Result<(), Error> {
        self.call(Verb::Delete, &object.api_version, &object.kind, &object.name, None)?;
        let key = key(&object.api_version, &object.kind, &object.name);
        self.objects.borrow_mut().remove(&key).map(drop).ok_or_else(|| not_found(object))
    }
}

/// A label selector in its string form: `a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`,
/// `a notin (x,y)`, comma-separated.
#[derive(Debug, Default)]
struct Selector(Vec<Requirement>);

#[derive(Debug)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

impl Selector {
    fn parse(text: &str) -> Result<Self, String> {
        // Split on commas outside parentheses.
        let mut parts = Vec::new();
        let (mut depth, mut start) = (0usize, 0usize);
        for (i, c) in text.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                ',' if depth == 0 => {
                    parts.push(&text[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        parts.push(&text[start..]);
        let mut requirements = Vec::new();
        for part in parts.into_iter().map(str::trim).filter(|p| !p.is_empty()) {
            let set = |rest: &str| -> Result<Vec<String>, String> {
                let inner = rest.trim().strip_prefix('(').and_then(|r| r.strip_suffix(')')).ok_or(part.to_string())?;
                Ok(inner.split(',').map(|v| v.trim().to_string()).collect())
            };
            let requirement = if let Some((k, v)) = part.split_once("!=") {
                Requirement::NotEquals(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                Requirement::Equals(k.trim().into(), v.trim().into())
            } else if let Some((k, rest)) = part.split_once(" notin ") {
                Requirement::NotIn(k.trim().into(), set(rest)?)
            } else if let Some((k, rest)) = part.split_once(" in ") {
                Requirement::In(k.trim().into(), set(rest)?)
            } else if let Some(k) = part.strip_prefix('!') {
                Requirement::NotExists(k.trim().into())
            } else {
                Requirement::Exists(part.into())
            };
            requirements.push(requirement);
        }
        Ok(Selector(requirements))
    }

    fn matches(&self, object: &Value) -> bool {
        let label = |k: &str| object.pointer("/metadata/labels").and_then(|l| l.get(k)).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            Requirement::Equals(k, v) => label(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => label(k) != Some(v.as_str()),
            Requirement::Exists(k) => label(k).is_some(),
            Requirement::NotExists(k) => label(k).is_none(),
            Requirement::In(k, vs) => label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            Requirement::NotIn(k, vs) => label(k).is_none_or(|l| vs.iter().all(|v| v != l)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cm(name: &str, labels: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": {"a": "1"}})
    }

    #[test]
    fn writes_are_applied_and_versioned() {
        let cluster = FakeCluster::new("ns").with(cm("x", json!({})));
        let r = ObjectRef::new("v1", "ConfigMap", "x");
        let before = cluster.get(&r).unwrap();
        let version = before["metadata"]["resourceVersion"].clone();
        let after = cluster.patch(&r, PatchType::Merge, &json!({"data": {"b": "2"}})).unwrap();
        assert_eq!(after["data"], json!({"a": "1", "b": "2"}));
        assert_ne!(after["metadata"]["resourceVersion"], version);
        // A no-op patch keeps the version.
        let again = cluster.patch(&r, PatchType::Merge, &json!({"data": {"b": "2"}})).unwrap();
        assert_eq!(again["metadata"]["resourceVersion"], after["metadata"]["resourceVersion"]);
        // A stale version is a conflict.
        let stale = json!({"metadata": {"resourceVersion": version}, "data": {"c": "3"}});
        assert!(cluster.patch(&r, PatchType::Merge, &stale).unwrap_err().is_conflict());
        let ops = json!([{"op": "test", "path": "/data/a", "value": "9"}, {"op": "remove", "path": "/data/a"}]);
        assert!(matches!(cluster.patch(&r, PatchType::Json, &ops), Err(Error::Rejected { status: 422, .. })));
        let ops = json!([{"op": "remove", "path": "/data/a"}]);
        assert_eq!(cluster.patch(&r, PatchType::Json, &ops).unwrap()["data"], json!({"b": "2"}));
        assert!(cluster.create(&cm("x", json!({}))).unwrap_err().is_conflict());
        cluster.delete(&r).unwrap();
        assert!(cluster.get(&r).unwrap_err().is_not_found());
        assert_eq!(
            cluster.verbs(),
            [
                Verb::Get,
                Verb::Patch,
                Verb::Patch,
                Verb::Patch,
                Verb::Patch,
                Verb::Patch,
                Verb::Create,
                Verb::Delete,
                Verb::Get
            ]
        );
    }

    #[test]
    fn the_hosts_confinement_is_kept() {
        let grants = [Grant { api_group: "", kinds: &["ConfigMap"], verbs: &[Verb::Get, Verb::Create] }];
        let cluster = FakeCluster::new("ns").granting(&grants);
        let mut other = cm("y", json!({}));
        other["metadata"]["namespace"] = json!("other");
        assert!(matches!(cluster.create(&other), Err(Error::Denied(m)) if m.contains("namespace \"other\"")));
        assert!(matches!(cluster.get(&ObjectRef::new("v1", "Secret", "s")), Err(Error::Denied(_))));
        let r = ObjectRef::new("v1", "ConfigMap", "y");
        assert!(
            matches!(cluster.patch(&r, PatchType::Merge, &json!({})), Err(Error::Denied(m)) if m.contains("not granted"))
        );
        cluster.create(&cm("y", json!({}))).unwrap();
        assert_eq!(cluster.object("v1", "ConfigMap", "y").unwrap()["metadata"]["namespace"], "ns");
        cluster.fail_next(Verb::Get, "ConfigMap", Error::Unavailable("timeout".into()));
        assert!(matches!(cluster.get(&r), Err(Error::Unavailable(_))));
        assert!(cluster.get(&r).is_ok());
    }

    #[test]
    fn lists_filter_by_label_selector() {
        let cluster = FakeCluster::new("ns")
            .with(cm("a", json!({"app": "web", "tier": "front"})))
            .with(cm("b", json!({"app": "web"})))
            .with(cm("c", json!({"app": "db"})));
        let names = |selector: Option<&str>| -> Vec<String> {
            cluster
                .list("v1", "ConfigMap", selector)
                .unwrap()
                .iter()
                .map(|o| o["metadata"]["name"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(names(None), ["a", "b", "c"]);
        assert_eq!(names(Some("app=web")), ["a", "b"]);
        assert_eq!(names(Some("app=web,tier")), ["a"]);
        assert_eq!(names(Some("app=web,!tier")), ["b"]);
        assert_eq!(names(Some("app!=web")), ["c"]);
        assert_eq!(names(Some("app in (db, cache)")), ["c"]);
        assert_eq!(names(Some("app notin (db)")), ["a", "b"]);
    }
}

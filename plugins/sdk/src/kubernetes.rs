//! Kubernetes objects through the host: the `kubernetes` import of `aviary:plugin@0.2.0`
//! (features `router`, `provider-v0-2` and `step`).
//!
//! Every call acts in the namespace of the object the call is for (the Rollout): a plugin never
//! names a namespace. The host allows only the API groups, kinds and verbs of the plugin's
//! registry entry (its `kubernetes:` grants) and never Secrets; anything else comes back as
//! [`Error::Denied`].
//!
//! Router logic is written against the [`Cluster`] trait, not against the import: in the
//! component the host's [`Host`] implements it, and in native unit tests an in-memory
//! `fake::FakeCluster` (feature `testing`) does, so that a router's whole behaviour is tested
//! with `cargo test` and no Wasm.
//!
//! ```ignore
//! use aviary_plugin_sdk::kubernetes::{self, ObjectRef, PatchType};
//!
//! let route = ObjectRef::new("gateway.networking.k8s.io/v1", "HTTPRoute", "web");
//! let object = kubernetes::get(&route)?;
//! kubernetes::patch(&route, PatchType::Merge, &serde_json::json!({"metadata": {"labels": {"a": "b"}}}))?;
//! ```

use std::fmt;

use serde_json::{Map, Value};

#[cfg(all(feature = "provider-v0-2", not(feature = "router")))]
use crate::provider2::bindings::aviary::plugin::kubernetes as wit;
#[cfg(feature = "router")]
use crate::router::bindings::aviary::plugin::kubernetes as wit;
#[cfg(all(feature = "step", not(feature = "router"), not(feature = "provider-v0-2")))]
use crate::step::bindings::aviary::plugin::kubernetes as wit;

// A file of src/ rather than src/kubernetes/: `aviary plugin new` vendors the files of src/.
#[cfg(feature = "testing")]
#[path = "fake.rs"]
pub mod fake;

/// One object of the call's namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectRef {
    /// `v1`, `networking.k8s.io/v1`, `gateway.networking.k8s.io/v1`, ...
    pub api_version: String,
    /// The kind, as in manifests (`HTTPRoute`).
    pub kind: String,
    /// The object's name.
    pub name: String,
}

impl ObjectRef {
    /// A reference by API version, kind and name.
    pub fn new(api_version: impl Into<String>, kind: impl Into<String>, name: impl Into<String>) -> Self {
        Self { api_version: api_version.into(), kind: kind.into(), name: name.into() }
    }

    /// The reference of an object's JSON (its `apiVersion`, `kind` and `metadata.name`).
    pub fn of(object: &Value) -> Option<Self> {
        Some(Self::new(
            object.get("apiVersion")?.as_str()?,
            object.get("kind")?.as_str()?,
            object.pointer("/metadata/name")?.as_str()?,
        ))
    }

    /// The API group of the reference (`networking.k8s.io`; empty for the core group).
    pub fn group(&self) -> &str {
        group_of(&self.api_version)
    }
}

/// `HTTPRoute "web"`: how error messages name an object.
impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}", self.kind, self.name)
    }
}

/// The API group of an `apiVersion` (`apps/v1` → `apps`, `v1` → the core group, empty).
pub fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

/// How [`Cluster::patch`] applies its document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// A JSON merge patch (RFC 7386). A `metadata.resourceVersion` in it makes the write
    /// conditional: the API server answers [`Error::Conflict`] if the object changed since.
    Merge,
    /// A JSON patch (RFC 6902): a list of operations.
    Json,
}

/// Why a Kubernetes call failed. The texts are stable: they end up in the Rollout's events.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The host refused the call: the kind or verb is not granted, the object is in another
    /// namespace, or it is a Secret.
    #[error("denied by the host: {0}")]
    Denied(String),
    /// The object (or its kind) does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A create of an object that exists, or a write that lost a race.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The API server refused the request (an invalid object, a forbidden verb).
    #[error("rejected by the API server (HTTP {status}): {message}")]
    Rejected {
        /// The HTTP status code.
        status: u16,
        /// The API server's message.
        message: String,
    },
    /// No answer: transport failure, timeout, or the call budget of this call is spent.
    #[error("API server unavailable: {0}")]
    Unavailable(String),
    /// The host answered with something that is not JSON (a host bug, never expected).
    #[error("the host answered invalid JSON: {0}")]
    InvalidJson(String),
}

impl Error {
    /// True for [`Error::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound(_))
    }

    /// True for [`Error::Conflict`].
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Conflict(_))
    }
}

/// A verb of a Kubernetes grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verb {
    /// Read one object.
    Get,
    /// Read the objects of a kind in the namespace.
    List,
    /// Create an object.
    Create,
    /// Change an object (merge or JSON patch).
    Patch,
    /// Delete an object.
    Delete,
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Create => "create",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
        })
    }
}

/// One `kubernetes:` grant of a registry entry: these verbs on these kinds of one API group. A
/// plugin lists the grants it needs as a `const` so that its tests (through
/// `fake::FakeCluster::granting`) and its documentation cannot drift apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// The API group (`gateway.networking.k8s.io`; empty for the core group).
    pub api_group: &'static str,
    /// The kinds, as in manifests.
    pub kinds: &'static [&'static str],
    /// The verbs.
    pub verbs: &'static [Verb],
}

impl Grant {
    /// Whether this grant allows `verb` on `kind` of `api_version`'s group.
    pub fn allows(&self, api_version: &str, kind: &str, verb: Verb) -> bool {
        self.api_group == group_of(api_version) && self.kinds.contains(&kind) && self.verbs.contains(&verb)
    }
}

/// Whether any of `grants` allows `verb` on `kind` of `api_version`'s group.
pub fn granted(grants: &[Grant], api_version: &str, kind: &str, verb: Verb) -> bool {
    grants.iter().any(|g| g.allows(api_version, kind, verb))
}

/// A Kubernetes Event on the Rollout a router call is for (the `record-event` import).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// A `Warning` event when true, a `Normal` one otherwise.
    pub warning: bool,
    /// The reason: a short word (see [`valid_event_reason`]).
    pub reason: String,
    /// The message (the host cuts it to [`MAX_EVENT_MESSAGE`] bytes).
    pub message: String,
}

impl Event {
    /// A `Normal` event.
    pub fn normal(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self { warning: false, reason: reason.into(), message: message.into() }
    }

    /// A `Warning` event.
    pub fn warning(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self { warning: true, reason: reason.into(), message: message.into() }
    }
}

/// The host records at most this many Events per call and drops the rest.
pub const MAX_EVENTS_PER_CALL: usize = 16;
/// The host cuts an Event's message to this many bytes.
pub const MAX_EVENT_MESSAGE: usize = 1024;

/// Whether the host accepts `reason` as an Event's reason (it drops the event otherwise): 1 to
/// 128 characters, starting with an ASCII letter, of ASCII letters, digits, `_`, `-`, `.`, `:`
/// and single inner spaces (`UpdatedDestinationRule`, Argo's `Updated VirtualService`).
pub fn valid_event_reason(reason: &str) -> bool {
    !reason.is_empty()
        && reason.len() <= 128
        && reason.starts_with(|c: char| c.is_ascii_alphabetic())
        && !reason.ends_with(' ')
        && !reason.contains("  ")
        && reason.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | ' '))
}

/// The Kubernetes calls a router makes. [`Host`] sends them through the host; tests use
/// `fake::FakeCluster`.
pub trait Cluster {
    /// Reads one object.
    fn get(&self, object: &ObjectRef) -> Result<Value, Error>;

    /// Lists the objects of a kind in the namespace, optionally filtered by a label selector
    /// (`app=web,tier!=db`).
    fn list(&self, api_version: &str, kind: &str, label_selector: Option<&str>) -> Result<Vec<Value>, Error>;

    /// Creates an object from its JSON (apiVersion, kind and metadata.name required); returns
    /// the created object.
    fn create(&self, object: &Value) -> Result<Value, Error>;

    /// Patches an object; returns it as stored after the patch.
    fn patch(&self, object: &ObjectRef, patch_type: PatchType, patch: &Value) -> Result<Value, Error>;

    /// Deletes an object; one that does not exist is [`Error::NotFound`].
    fn delete(&self, object: &ObjectRef) -> Result<(), Error>;

    /// Records an Event on the Rollout the call is for. [`Host`] hands it to the host,
    /// `fake::FakeCluster` keeps it for the test to read. The default drops it: a `Cluster`
    /// wrapping another one (in tests) forwards it.
    fn record_event(&self, event: Event) {
        let _ = event;
    }
}

/// The host's `kubernetes` import. Only usable inside the component: natively, calls panic
/// (tests use `fake::FakeCluster`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Host;

fn from_wit(e: wit::Error) -> Error {
    match e {
        wit::Error::Denied(m) => Error::Denied(m),
        wit::Error::NotFound(m) => Error::NotFound(m),
        wit::Error::Conflict(m) => Error::Conflict(m),
        wit::Error::Rejected((status, message)) => Error::Rejected { status, message },
        wit::Error::Unavailable(m) => Error::Unavailable(m),
    }
}

fn to_wit(object: &ObjectRef) -> wit::ObjectRef {
    wit::ObjectRef { api_version: object.api_version.clone(), kind: object.kind.clone(), name: object.name.clone() }
}

fn parse(text: &str) -> Result<Value, Error> {
    serde_json::from_str(text).map_err(|e| Error::InvalidJson(e.to_string()))
}

impl Cluster for Host {
    fn get(&self, object: &ObjectRef) -> Result<Value, Error> {
        parse(&wit::get(&to_wit(object)).map_err(from_wit)?)
    }

    fn list(&self, api_version: &str, kind: &str, label_selector: Option<&str>) -> Result<Vec<Value>, Error> {
        wit::list(api_version, kind, label_selector).map_err(from_wit)?.iter().map(|t| parse(t)).collect()
    }

    fn create(&self, object: &Value) -> Result<Value, Error> {
        parse(&wit::create(&object.to_string()).map_err(from_wit)?)
    }

    fn patch(&self, object: &ObjectRef, patch_type: PatchType, patch: &Value) -> Result<Value, Error> {
        let patch_type = match patch_type {
            PatchType::Merge => wit::PatchType::Merge,
            PatchType::Json => wit::PatchType::Json,
        };
        parse(&wit::patch(&to_wit(object), patch_type, &patch.to_string()).map_err(from_wit)?)
    }

    fn delete(&self, object: &ObjectRef) -> Result<(), Error> {
        wit::delete(&to_wit(object)).map_err(from_wit)
    }

    fn record_event(&self, event: Event) {
        #[cfg(all(target_arch = "wasm32", feature = "router"))]
        crate::router::bindings::aviary::plugin::routing::record_event(event.warning, &event.reason, &event.message);
        // A metric provider has no object to record Events on, and the step world no
        // `record-event` import: their log is where Events go.
        #[cfg(all(target_arch = "wasm32", not(feature = "router"), feature = "provider-v0-2"))]
        crate::provider2::bindings::aviary::plugin::log::log(
            crate::provider2::bindings::aviary::plugin::log::Level::Info,
            &format!("{}: {}", event.reason, event.message),
        );
        #[cfg(all(target_arch = "wasm32", not(feature = "router"), not(feature = "provider-v0-2")))]
        crate::step::log::info(&format!("{}: {}", event.reason, event.message));
        #[cfg(not(target_arch = "wasm32"))]
        eprintln!("[event] {} {}: {}", if event.warning { "Warning" } else { "Normal" }, event.reason, event.message);
    }
}

/// Reads one object through the host.
pub fn get(object: &ObjectRef) -> Result<Value, Error> {
    Host.get(object)
}

/// Lists the objects of a kind in the call's namespace through the host.
pub fn list(api_version: &str, kind: &str, label_selector: Option<&str>) -> Result<Vec<Value>, Error> {
    Host.list(api_version, kind, label_selector)
}

/// Creates an object through the host.
pub fn create(object: &Value) -> Result<Value, Error> {
    Host.create(object)
}

/// Patches an object through the host.
pub fn patch(object: &ObjectRef, patch_type: PatchType, patch: &Value) -> Result<Value, Error> {
    Host.patch(object, patch_type, patch)
}

/// Deletes an object through the host.
pub fn delete(object: &ObjectRef) -> Result<(), Error> {
    Host.delete(object)
}

/// The JSON merge patch (RFC 7386) that turns `current` into `desired`, or `None` when they are
/// equal. Keys of `current` missing from `desired` become `null` (removed); arrays and scalars are
/// replaced whole. A `null` inside `desired` cannot be expressed by a merge patch and is written
/// as a removal.
pub fn merge_patch(current: &Value, desired: &Value) -> Option<Value> {
    match (current, desired) {
        (Value::Object(c), Value::Object(d)) => {
            let mut patch = Map::new();
            for (key, dv) in d {
                match c.get(key) {
                    Some(cv) => {
                        if let Some(p) = merge_patch(cv, dv) {
                            patch.insert(key.clone(), p);
                        }
                    }
                    None => {
                        patch.insert(key.clone(), dv.clone());
                    }
                }
            }
            for key in c.keys() {
                if !d.contains_key(key) {
                    patch.insert(key.clone(), Value::Null);
                }
            }
            (!patch.is_empty()).then_some(Value::Object(patch))
        }
        (c, d) if c == d => None,
        (_, d) => Some(d.clone()),
    }
}

/// The owner reference with `controller: true` of an object, if any.
pub fn controller_of(object: &Value) -> Option<&Value> {
    object
        .pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_merge_patch_holds_only_the_differences() {
        let current = json!({"a": 1, "b": {"c": [1, 2], "d": "x"}, "gone": true});
        let desired = json!({"a": 1, "b": {"c": [1, 2, 3], "d": "x"}, "new": {"k": "v"}});
        let patch = merge_patch(&current, &desired).unwrap();
        assert_eq!(patch, json!({"b": {"c": [1, 2, 3]}, "gone": null, "new": {"k": "v"}}));
        assert_eq!(merge_patch(&desired, &desired), None);
    }

    #[test]
    fn grants_match_group_kind_and_verb() {
        let grant = Grant { api_group: "networking.k8s.io", kinds: &["Ingress"], verbs: &[Verb::Get, Verb::Patch] };
        assert!(grant.allows("networking.k8s.io/v1", "Ingress", Verb::Get));
        assert!(!grant.allows("networking.k8s.io/v1", "Ingress", Verb::Delete));
        assert!(!grant.allows("extensions/v1beta1", "Ingress", Verb::Get));
        assert!(!grant.allows("networking.k8s.io/v1", "IngressClass", Verb::Get));
        assert_eq!(group_of("v1"), "");
    }

    #[test]
    fn objects_are_named_by_kind_and_name() {
        let r = ObjectRef::of(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})).unwrap();
        assert_eq!(r.to_string(), "ConfigMap \"x\"");
        assert_eq!(r.group(), "");
    }
}

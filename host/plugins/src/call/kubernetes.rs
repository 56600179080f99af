//! The `kubernetes` import of `aviary:plugin@0.2.0`: Kubernetes calls a plugin asks the host to
//! make, checked against its grants before anything is sent.
//!
//! The plugin host knows nothing of Kubernetes clients: the embedder (the controller) hands each
//! call a [`KubernetesApi`], which performs a checked request with its own client. So the
//! sandbox's rules live here, in one place, and the controller's RBAC applies on top of them.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use aviary_boundary::kubernetes::{Denied, KubernetesGrants, KubernetesRequest};

pub use aviary_boundary::kubernetes::Verb;

use crate::metrics::PluginMetrics;

/// At most this many Kubernetes calls per plugin call: a router patches a handful of objects; a
/// plugin looping on the API server is stopped long before it could load it.
pub(crate) const MAX_KUBERNETES_CALLS_PER_CALL: u32 = 64;

/// How a patch document is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    /// RFC 7386 merge patch.
    Merge,
    /// RFC 6902 JSON patch.
    Json,
}

/// One checked call, confined to `namespace`.
#[derive(Debug, Clone, PartialEq)]
pub struct KubernetesCall {
    /// What it does.
    pub verb: Verb,
    /// `gateway.networking.k8s.io/v1`, `v1`, ...
    pub api_version: String,
    /// The kind.
    pub kind: String,
    /// The namespace of the object the plugin call is for; every call stays in it.
    pub namespace: String,
    /// The object's name (empty for `list` and `create`).
    pub name: String,
    /// The label selector of a `list`.
    pub label_selector: Option<String>,
    /// The object of a `create`, or the patch document of a `patch`.
    pub body: Option<serde_json::Value>,
    /// How a `patch` applies.
    pub patch: Option<PatchKind>,
}

/// Why a call the host allowed still failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KubernetesError {
    /// The object or its kind does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// Already exists, or a write lost a race.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The API server refused the request.
    #[error("rejected ({code}): {message}")]
    Rejected {
        /// HTTP status code.
        code: u16,
        /// The server's message.
        message: String,
    },
    /// No answer.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// The answer to a call: the object (get, create, patch), an array of objects (list), or null
/// (delete).
pub type KubernetesResult = Result<serde_json::Value, KubernetesError>;

/// Performs checked calls; implemented by the controller with its Kubernetes client.
pub trait KubernetesApi: Send + Sync + 'static {
    /// Sends one call that the host has already checked against the plugin's grants.
    fn call(&self, call: KubernetesCall) -> Pin<Box<dyn Future<Output = KubernetesResult> + Send + '_>>;
}

/// Why a call got no answer, as the guest sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CallError {
    /// Refused by the host before anything was sent.
    Denied(String),
    /// Sent, and failed.
    Failed(KubernetesError),
}

/// A plugin call's access to Kubernetes: the grants of its entry, the namespace it is confined
/// to, and the embedder's client.
#[derive(Clone)]
pub(crate) struct KubernetesGrant {
    pub(crate) plugin: Arc<str>,
    pub(crate) metrics: Arc<PluginMetrics>,
    pub(crate) grants: Arc<KubernetesGrants>,
    pub(crate) namespace: String,
    pub(crate) api: Arc<dyn KubernetesApi>,
    /// Cap on the bytes of one answer (a `list` of big objects).
    pub(crate) max_response_bytes: u64,
}

impl KubernetesGrant {
    /// Checks `call` (its namespace, verb, kind, and for a create the object's own namespace)
    /// and sends it. `calls` is the number of calls made so far in this plugin call, this one
    /// included.
    pub(crate) async fn send(&self, mut call: KubernetesCall, calls: u32) -> Result<serde_json::Value, CallError> {
        if calls > MAX_KUBERNETES_CALLS_PER_CALL {
            self.metrics.denied_budget(&self.plugin);
            return Err(CallError::Failed(KubernetesError::Unavailable(format!(
                "call budget spent: at most {MAX_KUBERNETES_CALLS_PER_CALL} Kubernetes calls per plugin call"
            ))));
        }
        // A created object names its own namespace, if any: it must be the call's. The call's
        // is filled in where the object names none, so the plugin never picks one.
        let asked = match (&call.verb, call.body.as_mut()) {
            (Verb::Create, Some(object)) => match object.pointer("/metadata/namespace") {
                Some(serde_json::Value::String(ns)) if !ns.is_empty() => ns.clone(),
                _ => {
                    if let Some(meta) = object.get_mut("metadata").and_then(|m| m.as_object_mut()) {
                        meta.insert("namespace".into(), serde_json::Value::String(self.namespace.clone()));
                    }
                    self.namespace.clone()
                }
            },
            // Every other call names no namespace: it is the call's.
            _ => self.namespace.clone(),
        };
        let request =
            KubernetesRequest { api_version: &call.api_version, kind: &call.kind, namespace: &asked, verb: call.verb };
        if let Err(denied) = self.grants.check(&self.namespace, &request) {
            return Err(self.denied(denied));
        }
        call.namespace = self.namespace.clone();
        let answer = self.api.call(call).await.map_err(CallError::Failed)?;
        let size = serde_json::to_vec(&answer).map(|b| b.len()).unwrap_or(0);
        if u64::try_from(size).unwrap_or(u64::MAX) > self.max_response_bytes {
            return Err(CallError::Failed(KubernetesError::Unavailable(format!(
                "the answer is {size} bytes, over the plugin's cap of {} bytes",
                self.max_response_bytes
            ))));
        }
        Ok(answer)
    }

    fn denied(&self, denied: Denied) -> CallError {
        tracing::warn!(target: "aviary::plugins::kubernetes", plugin = %self.plugin, "refused: {denied}");
        self.metrics.denied_kubernetes(&self.plugin);
        CallError::Denied(denied.to_string())
    }
}

/// The call's object, from the guest's `apiVersion`/`kind`/`name`.
pub(crate) fn object_call(verb: Verb, api_version: String, kind: String, name: String) -> KubernetesCall {
    KubernetesCall {
        verb,
        api_version,
        kind,
        namespace: String::new(),
        name,
        label_selector: None,
        body: None,
        patch: None,
    }
}

/// A `create` call for the guest's object text; `Err` names what is missing.
pub(crate) fn create_call(object: &str) -> Result<KubernetesCall, String> {
    let value: serde_json::Value = serde_json::from_str(object).map_err(|e| format!("the object is not JSON: {e}"))?;
    let field = |pointer: &str| value.pointer(pointer).and_then(|v| v.as_str()).unwrap_or_default().to_string();
    let (api_version, kind, name) = (field("/apiVersion"), field("/kind"), field("/metadata/name"));
    for (v, f) in [(&api_version, "apiVersion"), (&kind, "kind"), (&name, "metadata.name")] {
        if v.is_empty() {
            return Err(format!("the object has no {f}"));
        }
    }
    let mut call = object_call(Verb::Create, api_version, kind, name);
    call.body = Some(value);
    Ok(call)
}

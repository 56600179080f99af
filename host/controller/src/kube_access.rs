//! The controller's side of the `kubernetes` import of contract 0.2.0: the calls of traffic
//! routers (for a Rollout) and of metric providers such as `job` (for an AnalysisRun), already
//! checked by the plugin host against the plugin's grants and the object's namespace, made with
//! the controller's client, whose RBAC applies on top.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use aviary_plugins::kubernetes::{KubernetesApi, KubernetesCall, KubernetesError, KubernetesResult, PatchKind};
use kube::Client;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;

/// Kinds resolved to their API resource (plural, scope), shared by every call.
pub type Discovery = Arc<Mutex<HashMap<(String, String), ApiResource>>>;

/// The controller's side of the `kubernetes` import: a call the plugin host has checked, made
/// with the controller's client (its RBAC applies on top of the grant).
pub struct KubeAccess {
    client: Client,
    discovery: Discovery,
}

impl KubeAccess {
    /// Calls through `client`, resolving kinds with (and into) `discovery`.
    pub fn new(client: Client, discovery: Discovery) -> Self {
        Self { client, discovery }
    }

    async fn resource(&self, api_version: &str, kind: &str) -> Result<ApiResource, KubernetesError> {
        let key = (api_version.to_string(), kind.to_string());
        if let Some(found) = self.discovery.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(found.clone());
        }
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (resource, caps) = kube::discovery::pinned_kind(&self.client, &gvk).await.map_err(|e| match &e {
            kube::Error::Api(s) if s.code == 404 => {
                KubernetesError::NotFound(format!("no kind {kind} in {api_version}"))
            }
            _ => from_kube(e),
        })?;
        if caps.scope != kube::discovery::Scope::Namespaced {
            return Err(KubernetesError::Rejected {
                code: 403,
                message: format!("{kind} is cluster-scoped; plugins only reach objects of their namespace"),
            });
        }
        self.discovery.lock().unwrap_or_else(|p| p.into_inner()).insert(key, resource.clone());
        Ok(resource)
    }

    async fn send(&self, call: KubernetesCall) -> KubernetesResult {
        use aviary_plugins::kubernetes::Verb;
        let resource = self.resource(&call.api_version, &call.kind).await?;
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), &call.namespace, &resource);
        let object =
            |o: DynamicObject| serde_json::to_value(o).map_err(|e| KubernetesError::Unavailable(e.to_string()));
        match call.verb {
            Verb::Get => object(api.get(&call.name).await.map_err(from_kube)?),
            Verb::List => {
                let mut params = ListParams::default();
                if let Some(selector) = &call.label_selector {
                    params = params.labels(selector);
                }
                let list = api.list(&params).await.map_err(from_kube)?;
                let items: Result<Vec<serde_json::Value>, _> = list.items.into_iter().map(object).collect();
                Ok(serde_json::Value::Array(items?))
            }
            Verb::Create => {
                let body = call.body.unwrap_or_default();
                let o: DynamicObject = serde_json::from_value(body)
                    .map_err(|e| KubernetesError::Rejected { code: 400, message: e.to_string() })?;
                object(api.create(&PostParams::default(), &o).await.map_err(from_kube)?)
            }
            Verb::Patch => {
                let body = call.body.unwrap_or_default();
                let params = PatchParams::default();
                let patched = match call.patch {
                    Some(PatchKind::Json) => {
                        let p: json_patch::Patch = serde_json::from_value(body).map_err(|e| {
                            KubernetesError::Rejected { code: 400, message: format!("not a JSON patch: {e}") }
                        })?;
                        api.patch(&call.name, &params, &Patch::<()>::Json(p)).await
                    }
                    _ => api.patch(&call.name, &params, &Patch::Merge(body)).await,
                };
                object(patched.map_err(from_kube)?)
            }
            Verb::Delete => {
                // What the object owns goes first, as Argo deletes its Jobs: a Job's own default
                // (batch/v1) would orphan its pods.
                api.delete(&call.name, &DeleteParams::foreground()).await.map_err(from_kube)?;
                Ok(serde_json::Value::Null)
            }
        }
    }
}

impl KubernetesApi for KubeAccess {
    fn call(&self, call: KubernetesCall) -> Pin<Box<dyn Future<Output = KubernetesResult> + Send + '_>> {
        Box::pin(self.send(call))
    }
}

fn from_kube(e: kube::Error) -> KubernetesError {
    match e {
        kube::Error::Api(s) if s.code == 404 => KubernetesError::NotFound(s.message.clone()),
        kube::Error::Api(s) if s.code == 409 => KubernetesError::Conflict(s.message.clone()),
        kube::Error::Api(s) => KubernetesError::Rejected { code: s.code, message: s.message.clone() },
        other => KubernetesError::Unavailable(other.to_string()),
    }
}

//! An API server in memory for plugin tests that run a component's `kubernetes` calls without a
//! cluster: objects by kind and name, created as given, merge patches applied, listed by equality
//! label selectors, deleted, every call that reaches it recorded (so a test also sees what the host refused: it never arrives here).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use aviary_plugins::kubernetes::{KubernetesApi, KubernetesCall, KubernetesError, KubernetesResult, Verb};
use serde_json::Value;

/// See the module.
#[derive(Default)]
pub struct MemoryApi {
    calls: Mutex<Vec<KubernetesCall>>,
    objects: Mutex<HashMap<(String, String), Value>>,
}

impl MemoryApi {
    /// The calls that reached it, in order.
    pub fn calls(&self) -> Vec<KubernetesCall> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The object of `kind` named `name`, as stored.
    pub fn object(&self, kind: &str, name: &str) -> Option<Value> {
        self.objects.lock().unwrap_or_else(|p| p.into_inner()).get(&(kind.to_string(), name.to_string())).cloned()
    }

    /// Stores `object` under its `kind` and `metadata.name`, as if created by someone else (what
    /// a test sets up before the plugin reads it); no call is recorded.
    pub fn insert(&self, object: Value) {
        let kind = object["kind"].as_str().unwrap_or_default().to_string();
        let name = object["metadata"]["name"].as_str().unwrap_or_default().to_string();
        self.objects.lock().unwrap_or_else(|p| p.into_inner()).insert((kind, name), object);
    }

    fn answer(&self, call: KubernetesCall) -> KubernetesResult {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).push(call.clone());
        let key = (call.kind.clone(), call.name.clone());
        let mut objects = self.objects.lock().unwrap_or_else(|p| p.into_inner());
        match call.verb {
            Verb::Get => objects.get(&key).cloned().ok_or(KubernetesError::NotFound(call.name)),
            Verb::Create => {
                let body = call.body.unwrap_or_default();
                objects.insert(key, body.clone());
                Ok(body)
            }
            Verb::Patch => {
                let Some(o) = objects.get_mut(&key) else { return Err(KubernetesError::NotFound(call.name)) };
                json_patch::merge(o, &call.body.unwrap_or_default());
                Ok(o.clone())
            }
            Verb::List => {
                // Equality selectors (`a=b,c=d`), what the first-party plugins send.
                let wanted: Vec<(&str, &str)> = call
                    .label_selector
                    .as_deref()
                    .unwrap_or_default()
                    .split(',')
                    .filter_map(|term| term.split_once('='))
                    .collect();
                let mut items: Vec<&Value> = objects
                    .iter()
                    .filter(|((kind, _), o)| {
                        *kind == call.kind
                            && wanted.iter().all(|(k, v)| o["metadata"]["labels"][*k].as_str() == Some(*v))
                    })
                    .map(|(_, o)| o)
                    .collect();
                items.sort_by_key(|o| o["metadata"]["name"].as_str().unwrap_or_default().to_string());
                Ok(Value::Array(items.into_iter().cloned().collect()))
            }
            Verb::Delete => objects.remove(&key).map(|_| Value::Null).ok_or(KubernetesError::NotFound(call.name)),
        }
    }
}

impl KubernetesApi for MemoryApi {
    fn call(&self, call: KubernetesCall) -> Pin<Box<dyn Future<Output = KubernetesResult> + Send + '_>> {
        Box::pin(async move { self.answer(call) })
    }
}

//! Objects kept in a watch cache as their JSON, decoded when a reconcile needs them.
//!
//! A decoded object weighs far more than its JSON: k8s-openapi's `Container` is 2 KiB of
//! mostly-empty `Option`s before any of its strings, a `ReplicaSet` 2.3 KiB plus one such
//! container per container, a `Rollout` 5 KiB plus its template's. Kept decoded, the Rollouts
//! and ReplicaSets of 3,000 one-container canaries took about 70 MiB; kept as JSON (without
//! `managedFields`), under a third of that. LZ4-compressed, a canary's Rollout JSON takes half
//! of that again and a ReplicaSet's three quarters (1,606 → 812 and 712 → 530 bytes). A
//! reconcile decodes only the objects it acts on (one Rollout and its few ReplicaSets, some
//! microseconds each); the metadata stays decoded, since the cache's own lookups (owner
//! references, names, labels) need it.

use std::fmt;
use std::marker::PhantomData;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// An object of kind `K` as cached: its metadata, and the rest as JSON, LZ4-compressed (about
/// 1 KiB saved per canary and its two ReplicaSets; compressing one as it arrives and
/// decompressing it for a reconcile take microseconds).
pub struct Compact<K> {
    metadata: ObjectMeta,
    compressed: Box<[u8]>,
    kind: PhantomData<fn() -> K>,
}

impl<K> Clone for Compact<K> {
    fn clone(&self) -> Self {
        Self { metadata: self.metadata.clone(), compressed: self.compressed.clone(), kind: PhantomData }
    }
}

impl<K> fmt::Debug for Compact<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compact")
            .field("name", &self.metadata.name)
            .field("namespace", &self.metadata.namespace)
            .field("compressed", &self.compressed.len())
            .finish()
    }
}

impl<K> Compact<K> {
    /// The object's JSON without its metadata. A cached object that does not decompress (never
    /// expected: the cache compressed it) reads as `{}`.
    fn json(&self) -> Vec<u8> {
        lz4_flex::decompress_size_prepended(&self.compressed).unwrap_or_else(|e| {
            tracing::error!(name = self.metadata.name.as_deref().unwrap_or_default(), "cached object damaged: {e}");
            b"{}".to_vec()
        })
    }
}

impl<K: DeserializeOwned> Compact<K> {
    /// The object, decoded (with the metadata as cached, which the watch stream may have
    /// trimmed).
    pub fn decode(&self) -> Result<K, serde_json::Error> {
        // The metadata spliced in front of the other fields, decoded in one pass (no `Value`
        // tree in between): the JSON is an object, `{}` or `{"k":v,...}`.
        let metadata = serde_json::to_vec(&self.metadata)?;
        let json = self.json();
        let mut whole = Vec::with_capacity(metadata.len().saturating_add(json.len()).saturating_add(16));
        whole.extend_from_slice(b"{\"metadata\":");
        whole.extend_from_slice(&metadata);
        match json.get(1..).filter(|rest| rest.len() > 1) {
            Some(rest) => {
                whole.push(b',');
                whole.extend_from_slice(rest);
            }
            None => whole.push(b'}'),
        }
        serde_json::from_slice(&whole)
    }

    /// The object decoded and shared; one that does not decode (never expected: the API server
    /// sent it) is logged, naming it, and left out.
    pub fn decoded(&self) -> Option<std::sync::Arc<K>>
    where
        K: Resource<DynamicType = ()>,
    {
        match self.decode() {
            Ok(k) => Some(std::sync::Arc::new(k)),
            Err(e) => {
                tracing::error!(
                    kind = %K::kind(&()),
                    namespace = self.metadata.namespace.as_deref().unwrap_or_default(),
                    name = self.metadata.name.as_deref().unwrap_or_default(),
                    "cannot decode a cached object: {e}"
                );
                None
            }
        }
    }

    /// One top-level field of the object (`spec`, `status`) as received, fields the decoded
    /// type does not know included; `Null` when absent.
    pub fn field(&self, name: &str) -> Result<Value, serde_json::Error> {
        let mut value: Value = serde_json::from_slice(&self.json())?;
        Ok(value.as_object_mut().and_then(|o| o.remove(name)).unwrap_or(Value::Null))
    }

    /// Whether the object's JSON (outside its metadata) holds `needle`: a cheap test before a
    /// decode, for lookups over the whole cache.
    pub fn mentions(&self, needle: &str) -> bool {
        let needle = needle.as_bytes();
        !needle.is_empty() && self.json().windows(needle.len()).any(|w| w == needle)
    }
}

impl<'de, K> Deserialize<'de> for Compact<K> {
    /// One pass over the object: the metadata decoded, every other field kept as the text it
    /// arrived as (no `serde_json::Value` tree in between: that tree was a sixth of the
    /// controller's allocations during an update, one per watch event).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(CompactVisitor(PhantomData))
    }
}

struct CompactVisitor<K>(PhantomData<fn() -> K>);

impl<'de, K> serde::de::Visitor<'de> for CompactVisitor<K> {
    type Value = Compact<K>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Kubernetes object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut metadata = None;
        let mut json = Vec::with_capacity(1024);
        json.push(b'{');
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "metadata" {
                metadata = Some(map.next_value::<ObjectMeta>()?);
                continue;
            }
            let raw = map.next_value::<Box<serde_json::value::RawValue>>()?;
            if json.len() > 1 {
                json.push(b',');
            }
            serde_json::to_writer(&mut json, &key).map_err(serde::de::Error::custom)?;
            json.push(b':');
            json.extend_from_slice(raw.get().as_bytes());
        }
        json.push(b'}');
        let compressed = lz4_flex::compress_prepend_size(&json).into_boxed_slice();
        Ok(Compact { metadata: metadata.unwrap_or_default(), compressed, kind: PhantomData })
    }
}

impl<K: Resource<DynamicType = ()>> Resource for Compact<K> {
    type DynamicType = ();
    type Scope = K::Scope;

    fn kind(dt: &()) -> std::borrow::Cow<'_, str> {
        K::kind(dt)
    }

    fn group(dt: &()) -> std::borrow::Cow<'_, str> {
        K::group(dt)
    }

    fn version(dt: &()) -> std::borrow::Cow<'_, str> {
        K::version(dt)
    }

    fn plural(dt: &()) -> std::borrow::Cow<'_, str> {
        K::plural(dt)
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::ReplicaSet;
    use serde_json::json;

    #[test]
    fn an_object_decodes_as_it_was_received() {
        let rs = json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "a", "namespace": "n", "resourceVersion": "7", "labels": {"x": "y"}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"x": "y"}},
                     "template": {"spec": {"containers": [{"name": "app", "image": "nginx"}]}}},
            "status": {"replicas": 1}
        });
        let compact: Compact<ReplicaSet> = serde_json::from_str(&rs.to_string()).unwrap();
        assert_eq!(compact.meta().resource_version.as_deref(), Some("7"));
        assert!(compact.mentions("nginx") && !compact.mentions("resourceVersion"));
        let decoded = compact.decode().unwrap();
        assert_eq!(decoded, serde_json::from_value::<ReplicaSet>(rs.clone()).unwrap());
        assert_eq!(compact.field("status").unwrap(), rs["status"]);
        assert_eq!(compact.field("nothing").unwrap(), Value::Null);
        assert_eq!(<Compact<ReplicaSet> as Resource>::kind(&()), "ReplicaSet");
    }

    #[test]
    fn an_object_of_metadata_alone_decodes() {
        let compact: Compact<ReplicaSet> = serde_json::from_str(r#"{"metadata": {"name": "a"}}"#).unwrap();
        assert_eq!(compact.decode().unwrap().metadata.name.as_deref(), Some("a"));
    }

    #[test]
    fn trimmed_metadata_is_what_decodes() {
        let mut compact: Compact<ReplicaSet> =
            serde_json::from_str(r#"{"metadata": {"name": "a", "annotations": {"k": "v"}}}"#).unwrap();
        compact.meta_mut().annotations = None;
        assert_eq!(compact.decode().unwrap().metadata.annotations, None);
    }
}

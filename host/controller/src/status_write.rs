//! Status writes under optimistic concurrency.
//!
//! A status is written whole, with the resourceVersion of the object it was computed from, so a
//! concurrent change is a 409 conflict rather than a lost update. Most conflicts in practice come
//! from another writer touching only metadata (Argo CD's tracking annotation, `kubectl annotate`,
//! a label); a controller that answered each of them with a full re-reconcile could starve behind a
//! busy writer. So on a conflict the current object is read: when its generation and status are
//! still the ones the decision was made from, the same status is written again on the current
//! version; when the spec or the status changed (a user's promote, abort, terminate), the conflict
//! goes back to the caller, which decides again from the current object. Nothing is overwritten.

use kube::api::PostParams;
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Writes again on a metadata-only conflict at most this many times before giving the conflict
/// back to the caller (a reconcile then starts over).
const METADATA_ONLY_RETRIES: usize = 10;

/// Replaces the status of `base` with `next`'s, retrying a conflict caused by metadata alone.
pub async fn replace_status<K>(api: &Api<K>, base: &K, mut next: K) -> Result<K, kube::Error>
where
    K: Resource + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
{
    let name = base.name_any();
    let mut attempts = 0;
    loop {
        match api.replace_status(&name, &PostParams::default(), &next).await {
            Err(kube::Error::Api(s)) if s.code == 409 && attempts < METADATA_ONLY_RETRIES => {
                attempts = attempts.saturating_add(1);
                let Some(current) = api.get_opt(&name).await? else { return Err(kube::Error::Api(s)) };
                if !same_decision_inputs(base, &current) {
                    return Err(kube::Error::Api(s));
                }
                tracing::debug!(object = %name, attempts, "status conflict on a metadata-only change; writing again");
                next.meta_mut().resource_version = current.meta().resource_version.clone();
            }
            other => return other,
        }
    }
}

/// Whether `current` differs from `base` in metadata only (same generation, same status).
fn same_decision_inputs<K: Resource + Serialize>(base: &K, current: &K) -> bool {
    let status =
        |k: &K| serde_json::to_value(k).ok().and_then(|mut v| v.get_mut("status").map(serde_json::Value::take));
    base.meta().generation == current.meta().generation && status(base) == status(current)
}

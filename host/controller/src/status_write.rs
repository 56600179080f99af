//! Status writes as Argo makes them, under optimistic concurrency.
//!
//! Argo writes a status as a JSON merge patch of what changed (a two-way diff of the old and the
//! new status), and replaces it whole only where it creates a ReplicaSet. The difference shows:
//! a field nobody changed stays as written (the `abort: false` a `retry` leaves, a field of a
//! newer Argo), and the empty `canary: {}` / `blueGreen: {}` blocks appear with the first full
//! write. Aviary writes the same way ([`Write::Patch`], [`Write::Replace`]), so the stored status is
//! the one Argo would store.
//!
//! Every write carries the resourceVersion of the object it was computed from, so a concurrent
//! change is a 409 conflict rather than a lost update. Most conflicts in practice come from another
//! writer touching only metadata (Argo CD's tracking annotation, `kubectl annotate`, a label); a
//! controller that answered each of them with a full re-reconcile could starve behind a busy
//! writer. So on a conflict the current object is read: when its generation and status are still
//! the ones the decision was made from, the same change is written again on the current version;
//! when the spec or the status changed (a user's promote, abort, terminate), the conflict goes back
//! to the caller, which decides again from the current object. Nothing is overwritten.
//!
//! A status lives in a subresource only when the CRD says so: Argo's CRDs (and Aviary's, which
//! match them) give AnalysisRuns and Experiments none (`subresources: {}`); CRDs of another
//! origin may. [`Subresource`] learns which from the API server's answer (a 404 from `/status` of
//! an object that exists) and writes there.

use std::sync::atomic::{AtomicU8, Ordering};

use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Writes again on a metadata-only conflict at most this many times before giving the conflict
/// back to the caller (a reconcile then starts over).
const METADATA_ONLY_RETRIES: usize = 10;

/// How a status is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// A merge patch of what changed (Argo's `persistRolloutStatus`, `persistAnalysisRunStatus`).
    Patch,
    /// The whole status (Argo's `UpdateStatus` where it creates a ReplicaSet).
    Replace,
}

/// Whether a kind's status is a subresource, as learnt from the API server.
#[derive(Debug, Default)]
pub struct Subresource(AtomicU8);

const UNKNOWN: u8 = 0;
const YES: u8 = 1;
const NO: u8 = 2;

impl Subresource {
    fn has(&self) -> bool {
        self.0.load(Ordering::Relaxed) != NO
    }

    fn set(&self, yes: bool) {
        self.0.store(if yes { YES } else { NO }, Ordering::Relaxed);
    }

    fn known(&self) -> bool {
        self.0.load(Ordering::Relaxed) != UNKNOWN
    }
}

/// A kind's status as Go's zero value serialises it: Argo diffs Go structs, in which a struct
/// held by value is never absent (`canary: {}`), so a missing status or a missing block of one
/// counts as that block empty, and an empty block is never written by a patch.
pub trait ZeroStatus {
    /// The zero status, as JSON (`null` when nothing is held by value).
    fn zero_status() -> Value {
        Value::Null
    }

    /// The object's status as JSON (`null` when it has none): serialized alone, since a whole
    /// object's encoding (its spec, template and all) was a tenth of a reconcile's allocations.
    fn status_json(&self) -> Value;

    /// Whether a status computed before a spec change is still written over it. `false` (a
    /// Rollout's status is a decision about its spec: a promote or an abort must be decided
    /// again); `true` where the status records what already happened outside the object (an
    /// AnalysisRun's measurements: a Job created, a query answered), which a later `terminate`
    /// does not undo and which would be lost if the reconcile started over.
    fn status_survives_spec_change() -> bool {
        false
    }
}

impl ZeroStatus for aviary_api::Rollout {
    fn zero_status() -> Value {
        serde_json::to_value(aviary_api::rollout_status::RolloutStatus::default()).unwrap_or(Value::Null)
    }

    fn status_json(&self) -> Value {
        json_or_null(self.status.as_ref())
    }
}

impl ZeroStatus for aviary_api::AnalysisRun {
    fn status_json(&self) -> Value {
        json_or_null(self.status.as_ref())
    }

    /// Argo writes a run's status as a merge patch without a resourceVersion, so a measurement
    /// taken while the run was being terminated is recorded and then terminated; so here.
    fn status_survives_spec_change() -> bool {
        true
    }
}

/// A status as JSON, `null` when absent.
fn json_or_null<S: Serialize>(status: Option<&S>) -> Value {
    status.and_then(|s| serde_json::to_value(s).ok()).unwrap_or(Value::Null)
}

/// `status` with the zero status's keys it lacks.
fn over_zero(status: Value, zero: &Value) -> Value {
    match (status, zero) {
        (Value::Null, z) => z.clone(),
        (Value::Object(mut m), Value::Object(z)) => {
            for (k, v) in z {
                m.entry(k.clone()).or_insert_with(|| v.clone());
            }
            Value::Object(m)
        }
        (other, _) => other,
    }
}

/// What a status write stored, and every resourceVersion it was written over: `base`'s, and
/// those of the metadata-only changes a conflict made it write over again. A watch cache showing
/// any of them is behind the write (see [`crate::own_writes`]); an intermediate one (another
/// writer's annotation, the status not yet ours) would otherwise look newer than it.
#[derive(Debug)]
pub struct Stored<K> {
    /// The object as the API server stored it.
    pub object: K,
    /// The versions written over, oldest first (empty when nothing was written).
    pub replaced: Vec<String>,
}

/// Writes `next`'s status over `base`'s (the object it was computed from) and returns what the
/// API server stored. Nothing is written when the status is unchanged.
pub async fn write_status<K>(
    api: &Api<K>,
    base: &K,
    next: &K,
    how: Write,
    subresource: &Subresource,
) -> Result<Stored<K>, kube::Error>
where
    K: Resource + Clone + Serialize + DeserializeOwned + std::fmt::Debug + ZeroStatus,
{
    let name = base.name_any();
    let zero = K::zero_status();
    let (old, new) = (over_zero(base.status_json(), &zero), over_zero(next.status_json(), &zero));
    let diff = match how {
        Write::Patch => match merge_diff(&old, &new) {
            None => return Ok(Stored { object: base.clone(), replaced: Vec::new() }),
            Some(d) => d,
        },
        Write::Replace if old == new => return Ok(Stored { object: base.clone(), replaced: Vec::new() }),
        Write::Replace => Value::Null,
    };
    tracing::debug!(object = %name, ?how, change = %diff, "writing status");
    let mut version = base.meta().resource_version.clone();
    let mut replaced: Vec<String> = version.iter().cloned().collect();
    let mut attempts = 0;
    loop {
        let result = match how {
            Write::Replace => {
                let mut whole = next.clone();
                whole.meta_mut().resource_version = version.clone();
                if subresource.has() {
                    api.replace_status(&name, &PostParams::default(), &whole).await
                } else {
                    // Without a subresource a status is written with the object; a merge patch of
                    // the whole status leaves the spec alone.
                    let body = serde_json::json!({"metadata": {"resourceVersion": version}, "status": new});
                    api.patch(&name, &PatchParams::default(), &Patch::Merge(&body)).await
                }
            }
            Write::Patch => {
                let body = serde_json::json!({"metadata": {"resourceVersion": version}, "status": diff});
                if subresource.has() {
                    api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&body)).await
                } else {
                    api.patch(&name, &PatchParams::default(), &Patch::Merge(&body)).await
                }
            }
        };
        match result {
            Err(kube::Error::Api(s)) if s.code == 404 && subresource.has() && !subresource.known() => {
                // `/status` answered 404: either the object is gone, or its CRD has no status
                // subresource (Argo's CRDs for AnalysisRuns and Experiments).
                if api.get_opt(&name).await?.is_none() {
                    return Err(kube::Error::Api(s));
                }
                tracing::info!(object = %name, "no status subresource: writing status with the object");
                subresource.set(false);
            }
            Err(kube::Error::Api(s)) if s.code == 409 && attempts < METADATA_ONLY_RETRIES => {
                attempts = attempts.saturating_add(1);
                let Some(current) = api.get_opt(&name).await? else { return Err(kube::Error::Api(s)) };
                if !same_decision_inputs(base, &current) {
                    return Err(kube::Error::Api(s));
                }
                tracing::debug!(object = %name, attempts, "status conflict on a metadata-only change; writing again");
                version = current.meta().resource_version.clone();
                replaced.extend(version.iter().cloned());
            }
            Ok(stored) => {
                if !subresource.known() {
                    subresource.set(true);
                }
                return Ok(Stored { object: stored, replaced });
            }
            Err(e) => return Err(e),
        }
    }
}

/// The JSON merge patch (RFC 7386) that turns `old` into `new`: changed and added keys, removed
/// keys as `null`, objects compared key by key, anything else replaced whole. `None` when equal.
pub fn merge_diff(old: &Value, new: &Value) -> Option<Value> {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            let mut patch = serde_json::Map::new();
            for (k, nv) in n {
                match o.get(k) {
                    Some(ov) => {
                        if let Some(d) = merge_diff(ov, nv) {
                            patch.insert(k.clone(), d);
                        }
                    }
                    None => {
                        patch.insert(k.clone(), nv.clone());
                    }
                }
            }
            for k in o.keys().filter(|k| !n.contains_key(*k)) {
                patch.insert(k.clone(), Value::Null);
            }
            (!patch.is_empty()).then_some(Value::Object(patch))
        }
        (o, n) if o == n => None,
        (_, n) => Some(n.clone()),
    }
}

/// Whether the decision made from `base` still holds on `current`: the status is the same and
/// so is the spec (its generation), unless the kind's status survives a spec change.
fn same_decision_inputs<K: Resource + ZeroStatus>(base: &K, current: &K) -> bool {
    (K::status_survives_spec_change() || base.meta().generation == current.meta().generation)
        && base.status_json() == current.status_json()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patches_carry_only_what_changed() {
        let old =
            json!({"phase": "Paused", "canary": {}, "abort": false, "pauseConditions": [{"reason": "a"}], "x": 1});
        let new = json!({"phase": "Healthy", "canary": {}, "abort": false, "y": {"z": 2}});
        assert_eq!(
            merge_diff(&old, &new),
            Some(json!({"phase": "Healthy", "pauseConditions": null, "x": null, "y": {"z": 2}}))
        );
        assert_eq!(merge_diff(&old, &old), None);
        // Lists are replaced whole, as RFC 7386 says.
        assert_eq!(merge_diff(&json!({"l": [1, 2]}), &json!({"l": [1]})), Some(json!({"l": [1]})));
    }

    #[test]
    fn a_missing_status_counts_as_go_zero_value() {
        let zero = <aviary_api::Rollout as ZeroStatus>::zero_status();
        assert_eq!(zero, json!({"canary": {}, "blueGreen": {}}));
        let old = over_zero(Value::Null, &zero);
        let new = over_zero(json!({"phase": "Degraded", "canary": {}, "blueGreen": {}}), &zero);
        // The empty blocks are not part of the patch, as in Argo's condition patches.
        assert_eq!(merge_diff(&old, &new), Some(json!({"phase": "Degraded"})));
    }
}

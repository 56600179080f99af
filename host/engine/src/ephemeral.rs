//! Ephemeral metadata: the labels and annotations a canary's (`canaryMetadata`, `stableMetadata`)
//! or a blue-green's (`previewMetadata`, `activeMetadata`) pods carry only while they hold that
//! role (Argo's `reconcileEphemeralMetadata`, `SyncEphemeralPodMetadata`).
//!
//! What was injected is remembered on the ReplicaSet, in the `rollout.argoproj.io/ephemeral-metadata`
//! annotation, so that a role change removes exactly the keys the previous role added and nothing a
//! user set. Pods keep their labels when their ReplicaSet's template changes, so the same sync runs
//! on each pod as well as on the template.

use std::collections::BTreeMap;

use aviary_api::{PodTemplateMetadata, Rollout};

/// The annotation on a ReplicaSet recording the metadata injected into its pods.
pub const ANNOTATION: &str = "rollout.argoproj.io/ephemeral-metadata";

/// Labels and annotations of one object (a pod template's, or a pod's).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    /// The object's labels.
    pub labels: BTreeMap<String, String>,
    /// The object's annotations.
    pub annotations: BTreeMap<String, String>,
}

/// Argo's `SyncEphemeralPodMetadata`: `metadata` with `desired` injected and what `existing` had
/// injected but `desired` no longer has removed; `None` when nothing changes.
pub fn sync(
    metadata: &Metadata,
    existing: Option<&PodTemplateMetadata>,
    desired: Option<&PodTemplateMetadata>,
) -> Option<Metadata> {
    let mut out = metadata.clone();
    if let Some(d) = desired {
        out.annotations.extend(d.annotations.clone());
        out.labels.extend(d.labels.clone());
    }
    if let Some(e) = existing {
        let wanted = |key: &String, pick: fn(&PodTemplateMetadata) -> &BTreeMap<String, String>| {
            desired.is_some_and(|d| pick(d).contains_key(key))
        };
        for key in e.annotations.keys() {
            if !wanted(key, |d| &d.annotations) {
                out.annotations.remove(key);
            }
        }
        for key in e.labels.keys() {
            if !wanted(key, |d| &d.labels) {
                out.labels.remove(key);
            }
        }
    }
    (out != *metadata).then_some(out)
}

/// What a ReplicaSet's pods should carry, and the annotation that records it: Argo's
/// `SyncReplicaSetEphemeralPodMetadata`. `None` when the template already has it; otherwise the
/// new template metadata and the annotation's new value (`None`: remove the annotation).
pub fn sync_replica_set(
    template: &Metadata,
    recorded: Option<&str>,
    desired: Option<&PodTemplateMetadata>,
) -> Option<(Metadata, Option<String>)> {
    let existing = recorded.and_then(parse);
    let metadata = sync(template, existing.as_ref(), desired)?;
    Some((metadata, desired.map(annotation)))
}

/// The annotation's value for `metadata`: Go's `json.Marshal` of a `PodTemplateMetadata`
/// (`labels` then `annotations`, empty maps left out).
pub fn annotation(metadata: &PodTemplateMetadata) -> String {
    serde_json::to_string(metadata).unwrap_or_default()
}

/// The annotation read back; an unreadable one counts as none (Argo logs it and goes on).
pub fn parse(recorded: &str) -> Option<PodTemplateMetadata> {
    serde_json::from_str(recorded).ok()
}

/// The roles' metadata of a rollout: (new ReplicaSet while updating, stable ReplicaSet). `None`
/// when neither is configured (Argo's `hasEphemeralMetadataConfigured`): then nothing is synced.
pub fn configured(rollout: &Rollout) -> Option<(Option<&PodTemplateMetadata>, Option<&PodTemplateMetadata>)> {
    let (new, stable) = if let Some(c) = rollout.spec.canary() {
        (c.canary_metadata.as_ref(), c.stable_metadata.as_ref())
    } else if let Some(b) = rollout.spec.blue_green() {
        (b.preview_metadata.as_ref(), b.active_metadata.as_ref())
    } else {
        return None;
    };
    (new.is_some() || stable.is_some()).then_some((new, stable))
}

/// The metadata each ReplicaSet's pods should carry, by role: when fully rolled out (no stable
/// yet, or the new ReplicaSet is the stable one) the new ReplicaSet gets the stable metadata;
/// otherwise the new one gets the canary's and the stable one the stable's. Every other
/// ReplicaSet gets none (what it had is removed).
pub fn plan<'a>(rollout: &'a Rollout, new_hash: Option<&str>, stable_hash: &str) -> Option<EphemeralPlan<'a>> {
    let (new, stable) = configured(rollout)?;
    let fully_rolled_out = stable_hash.is_empty() || Some(stable_hash) == new_hash;
    Some(if fully_rolled_out {
        EphemeralPlan { new: stable, stable: None, sync_stable: false }
    } else {
        EphemeralPlan { new, stable, sync_stable: true }
    })
}

/// The outcome of [`plan`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EphemeralPlan<'a> {
    /// The new ReplicaSet's metadata.
    pub new: Option<&'a PodTemplateMetadata>,
    /// The stable ReplicaSet's metadata (when `sync_stable`).
    pub stable: Option<&'a PodTemplateMetadata>,
    /// Whether the stable ReplicaSet is synced separately (it is not the new one).
    pub sync_stable: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> Metadata {
        Metadata {
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            annotations: annotations.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    fn p(labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> PodTemplateMetadata {
        let x = m(labels, annotations);
        PodTemplateMetadata { labels: x.labels, annotations: x.annotations }
    }

    #[test]
    fn injects_the_desired_keys_and_removes_only_what_was_injected_before() {
        let canary = p(&[("role", "canary"), ("track", "c")], &[("note", "x")]);
        let stable = p(&[("role", "stable")], &[]);
        let pod = m(&[("app", "a"), ("role", "canary"), ("track", "c")], &[("note", "x"), ("user", "u")]);
        let out = sync(&pod, Some(&canary), Some(&stable)).unwrap();
        assert_eq!(out, m(&[("app", "a"), ("role", "stable")], &[("user", "u")]));
    }

    #[test]
    fn nothing_to_change_is_none() {
        let canary = p(&[("role", "canary")], &[]);
        let pod = m(&[("app", "a"), ("role", "canary")], &[]);
        assert_eq!(sync(&pod, Some(&canary), Some(&canary)), None);
        assert_eq!(sync(&pod, None, None), None);
    }

    #[test]
    fn no_desired_metadata_removes_every_injected_key() {
        let canary = p(&[("role", "canary")], &[("note", "x")]);
        let pod = m(&[("app", "a"), ("role", "canary")], &[("note", "x")]);
        assert_eq!(sync(&pod, Some(&canary), None), Some(m(&[("app", "a")], &[])));
    }

    #[test]
    fn the_annotation_is_go_json_without_empty_maps() {
        assert_eq!(annotation(&p(&[("role", "stable")], &[])), r#"{"labels":{"role":"stable"}}"#);
        assert_eq!(annotation(&p(&[("a", "1")], &[("b", "2")])), r#"{"labels":{"a":"1"},"annotations":{"b":"2"}}"#);
        assert_eq!(annotation(&p(&[], &[])), "{}");
    }

    #[test]
    fn a_replica_set_records_what_it_injected_or_drops_the_record() {
        let canary = p(&[("role", "canary")], &[]);
        let template = m(&[("app", "a"), ("role", "canary")], &[]);
        let recorded = annotation(&canary);
        let (meta, record) = sync_replica_set(&template, Some(&recorded), None).unwrap();
        assert_eq!((meta, record), (m(&[("app", "a")], &[]), None));
        assert_eq!(sync_replica_set(&template, Some(&recorded), Some(&canary)), None);
        // An unreadable record counts as none: nothing is removed.
        let (meta, _) = sync_replica_set(&template, Some("not json"), Some(&p(&[("x", "1")], &[]))).unwrap();
        assert_eq!(meta, m(&[("app", "a"), ("role", "canary"), ("x", "1")], &[]));
    }
}

//! A Rollout's ReplicaSets: which one belongs to the current pod template, creating it,
//! scaling one, revisions, and the revision-history clean-up.

use std::sync::Arc;

use aviary_api::Rollout;
use aviary_engine::observed::{ObservedReplicaSets, ReplicaSetState};
use chrono::{DateTime, Utc};
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Resource, ResourceExt};
use serde_json::{Value, json};

use aviary_engine::conditions::reason;
use aviary_engine::rollout::revision::{AnnotationSync, copied_annotations, history_to_delete, sync_annotations};

use crate::context::Context;
use crate::error::{Error, is_already_exists};

/// When the previous stable may be scaled down (traffic routing).
pub use aviary_api::rollout::SCALE_DOWN_DEADLINE_ANNOTATION as SCALE_DOWN_DEADLINE;
pub use aviary_engine::rollout::revision::{DESIRED_REPLICAS, REVISION};
/// The label that ties ReplicaSets and pods to their pod template.
pub use aviary_engine::rollout::runs::HASH_LABEL;
/// The ephemeral labels and annotations injected into a ReplicaSet's pods.
pub const EPHEMERAL_METADATA: &str = aviary_engine::ephemeral::ANNOTATION;
/// Annotation: the Experiment a ReplicaSet belongs to (not part of the Rollout's history).
pub const EXPERIMENT_NAME: &str = "experiment.argoproj.io/name";

/// The pod template hash label of a ReplicaSet.
pub fn hash(rs: &ReplicaSet) -> &str {
    rs.metadata.labels.as_ref().and_then(|l| l.get(HASH_LABEL)).map(String::as_str).unwrap_or("")
}

/// The revision annotation of an object, 0 when absent or unparsable.
pub fn revision(meta: &ObjectMeta) -> i64 {
    meta.annotations.as_ref().and_then(|a| a.get(REVISION)).and_then(|r| r.parse().ok()).unwrap_or(0)
}

pub use aviary_engine::rollout::selector_string;

/// The Rollout's ReplicaSets sorted into the roles the decisions use.
#[derive(Debug, Default, Clone)]
pub struct Roles {
    /// Every owned ReplicaSet that is not being deleted.
    pub all: Vec<Arc<ReplicaSet>>,
    /// The ReplicaSet of the current template.
    pub new_rs: Option<Arc<ReplicaSet>>,
    /// The ReplicaSet whose hash is `status.stableRS`.
    pub stable_rs: Option<Arc<ReplicaSet>>,
    /// The others, newest revision first.
    pub older: Vec<Arc<ReplicaSet>>,
}

impl Roles {
    /// Sorts `all` given the new ReplicaSet and the stable hash.
    pub fn new(all: Vec<Arc<ReplicaSet>>, new_rs: Option<Arc<ReplicaSet>>, stable_hash: &str) -> Self {
        let new_name = new_rs.as_ref().map(|r| r.name_any());
        let stable_rs =
            (!stable_hash.is_empty()).then(|| all.iter().find(|r| hash(r) == stable_hash).cloned()).flatten();
        let stable_name = stable_rs.as_ref().map(|r| r.name_any());
        let mut older: Vec<Arc<ReplicaSet>> = all
            .iter()
            .filter(|r| Some(r.name_any()) != new_name && Some(r.name_any()) != stable_name)
            .cloned()
            .collect();
        older.sort_by_key(|r| std::cmp::Reverse(revision(&r.metadata)));
        Self { all, new_rs, stable_rs, older }
    }

    /// The summaries the engine decides on.
    pub fn observed(&self) -> ObservedReplicaSets {
        ObservedReplicaSets {
            new_rs: self.new_rs.as_deref().map(state),
            stable_rs: self.stable_rs.as_deref().map(state),
            older: self.older.iter().map(|r| state(r)).collect(),
        }
    }

    /// The ReplicaSet of a role.
    pub fn get(&self, which: aviary_engine::reconcile_order::ReplicaSetRole) -> Option<Arc<ReplicaSet>> {
        use aviary_engine::reconcile_order::ReplicaSetRole;
        match which {
            ReplicaSetRole::Stable => self.stable_rs.clone(),
            ReplicaSetRole::Canary => self.new_rs.clone(),
            ReplicaSetRole::Older(i) => self.older.get(i).cloned(),
        }
    }

    /// Highest revision among the ReplicaSets other than the new one.
    pub fn max_old_revision(&self) -> i64 {
        let new_name = self.new_rs.as_ref().map(|r| r.name_any());
        self.all.iter().filter(|r| Some(r.name_any()) != new_name).map(|r| revision(&r.metadata)).max().unwrap_or(0)
    }
}

/// A ReplicaSet as the engine sees it.
pub fn state(rs: &ReplicaSet) -> ReplicaSetState {
    let status = rs.status.as_ref();
    ReplicaSetState {
        pod_template_hash: hash(rs).to_string(),
        spec_replicas: rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
        status_replicas: status.map_or(0, |s| s.replicas),
        available: status.and_then(|s| s.available_replicas).unwrap_or(0),
        scale_down_deadline: rs
            .annotations()
            .get(SCALE_DOWN_DEADLINE)
            .and_then(|d| DateTime::parse_from_rfc3339(d).ok())
            .map(|d| d.with_timezone(&Utc)),
        name: rs.name_any(),
        ready: status.and_then(|s| s.ready_replicas).unwrap_or(0),
        created: rs.metadata.creation_timestamp.as_ref().and_then(|t| DateTime::from_timestamp(t.0.as_second(), 0)),
        from_experiment: rs.annotations().get(EXPERIMENT_NAME).is_some_and(|n| !n.is_empty()),
        revision: revision(&rs.metadata),
        deleting: rs.metadata.deletion_timestamp.is_some(),
        caught_up: status.and_then(|s| s.observed_generation) >= rs.metadata.generation,
        desired_replicas: rs.annotations().get(DESIRED_REPLICAS).and_then(|d| d.parse().ok()),
    }
}

/// The pod template of a Rollout (workloadRef is not supported: validation rejects it earlier).
pub fn template(rollout: &Rollout) -> Result<&PodTemplateSpec, Error> {
    rollout.spec.template.as_ref().ok_or_else(|| Error::Invalid("spec.template: required".into()))
}

/// The hash of the Rollout's current template.
pub fn desired_hash(rollout: &Rollout) -> Result<String, Error> {
    aviary_api::hash::pod_template_hash(template(rollout)?, rollout.status.as_ref().and_then(|s| s.collision_count))
        .map_err(|e| Error::Invalid(format!("spec.template: {e}")))
}

/// Finds the ReplicaSet of the current pod template among `owned`:
/// 1. the one labelled with the template's hash (Aviary made it for this template);
/// 2. after a switch from Argo, the one labelled with `status.currentPodHash` when the status was
///    written for the current generation (and the current workload generation);
/// 3. one whose template equals the current template as the API server defaults it (a rollback
///    or `undo` to an older revision reuses that ReplicaSet, as in Argo).
pub async fn find_new(
    ctx: &Context,
    rollout: &Rollout,
    owned: &[Arc<ReplicaSet>],
) -> Result<Option<Arc<ReplicaSet>>, Error> {
    let desired = desired_hash(rollout)?;
    if let Some(rs) = owned.iter().find(|r| hash(r) == desired) {
        return Ok(Some(rs.clone()));
    }
    if let Some(status) = &rollout.status {
        // With a workloadRef, the template can change without the Rollout's generation: the
        // workload's generation must have been observed too.
        let observed_current = status.observed_generation == rollout.metadata.generation.unwrap_or(0).to_string()
            && status.workload_observed_generation == aviary_engine::rollout::workload::observed_generation(rollout);
        if observed_current
            && !status.current_pod_hash.is_empty()
            && let Some(rs) = owned.iter().find(|r| hash(r) == status.current_pod_hash)
        {
            return Ok(Some(rs.clone()));
        }
    }
    // The API server's defaulting (a dry-run create) is only needed when some ReplicaSet could
    // hold this template: an image update, the usual change, has none.
    let Some(spec) = rollout.spec.template.as_ref().and_then(|t| t.spec.as_ref()) else { return Ok(None) };
    let candidates = owned.iter().filter(|rs| {
        rs.spec
            .as_ref()
            .and_then(|s| s.template.as_ref())
            .and_then(|t| t.spec.as_ref())
            .is_some_and(|have| undefaulted_parts(have) == undefaulted_parts(spec))
    });
    if candidates.count() == 0 {
        return Ok(None);
    }
    let wanted = defaulted_template(ctx, rollout, &desired).await?;
    Ok(owned.iter().find(|rs| comparable(rs, rollout).is_some_and(|t| t == wanted)).cloned())
}

/// A container's name, image, command and arguments.
type ContainerIdentity<'a> = (&'a str, Option<&'a str>, Option<&'a [String]>, Option<&'a [String]>);

/// What the API server never defaults in a pod spec: each container's name, image, command and
/// arguments. Two templates that differ here differ after defaulting too.
fn undefaulted_parts(spec: &k8s_openapi::api::core::v1::PodSpec) -> Vec<ContainerIdentity<'_>> {
    spec.init_containers
        .iter()
        .flatten()
        .chain(&spec.containers)
        .map(|c| (c.name.as_str(), c.image.as_deref(), nonempty(&c.command), nonempty(&c.args)))
        .collect()
}

fn nonempty(v: &Option<Vec<String>>) -> Option<&[String]> {
    v.as_deref().filter(|v| !v.is_empty())
}

/// A ReplicaSet's pod template with what Aviary adds removed (the hash label, ephemeral
/// metadata, the injected anti-affinity rule), for comparison with the Rollout's template.
fn comparable(rs: &ReplicaSet, rollout: &Rollout) -> Option<Value> {
    let mut template = rs.spec.as_ref()?.template.clone()?;
    if let Some(spec) = template.spec.as_mut() {
        spec.affinity = aviary_engine::affinity::without_injected_rule(spec.affinity.as_ref(), rollout);
    }
    let mut v = serde_json::to_value(template).ok()?;
    strip_label(&mut v, HASH_LABEL);
    if let Some(eph) = rs.annotations().get(EPHEMERAL_METADATA)
        && let Ok(eph) = serde_json::from_str::<Value>(eph)
    {
        for (field, key) in [("labels", "labels"), ("annotations", "annotations")] {
            if let Some(keys) = eph.get(key).and_then(Value::as_object) {
                for k in keys.keys() {
                    if let Some(m) = v.pointer_mut(&format!("/metadata/{field}")).and_then(Value::as_object_mut) {
                        m.remove(k);
                    }
                }
            }
        }
    }
    normalise(&mut v);
    Some(v)
}

fn strip_label(v: &mut Value, label: &str) {
    if let Some(labels) = v.pointer_mut("/metadata/labels").and_then(Value::as_object_mut) {
        labels.remove(label);
    }
}

/// Empty maps and lists mean the same as absent ones (Go's semantic equality).
fn normalise(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for child in map.values_mut() {
                normalise(child);
            }
            map.retain(|_, c| {
                !matches!(c, Value::Null)
                    && !matches!(c, Value::Object(m) if m.is_empty())
                    && !matches!(c, Value::Array(a) if a.is_empty())
            });
        }
        Value::Array(items) => items.iter_mut().for_each(normalise),
        _ => {}
    }
}

/// The Rollout's template as the API server defaults it, from a dry-run create of the ReplicaSet
/// (cached per template: one call per template change).
async fn defaulted_template(ctx: &Context, rollout: &Rollout, desired: &str) -> Result<Value, Error> {
    let key = (rollout.metadata.uid.clone().unwrap_or_default(), desired.to_string());
    if let Some(v) = ctx.defaulted_templates.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Ok(v.clone());
    }
    let mut rs = desired_replica_set(rollout, desired, 0, 0, None)?;
    rs.metadata.name = None;
    rs.metadata.generate_name = Some(format!("{}-", rollout.name_any()));
    rs.metadata.owner_references = None;
    let api: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), &rollout.namespace().unwrap_or_default());
    let created = api
        .create(&PostParams { dry_run: true, ..Default::default() }, &rs)
        .await
        .map_err(Error::kube("dry-run create of the ReplicaSet to default its pod template"))?;
    let mut v = created
        .spec
        .and_then(|s| s.template)
        .map(serde_json::to_value)
        .transpose()
        .map_err(Error::serde("pod template"))?
        .unwrap_or(Value::Null);
    strip_label(&mut v, HASH_LABEL);
    normalise(&mut v);
    let mut cache = ctx.defaulted_templates.lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() > 10_000 {
        cache.clear();
    }
    cache.insert(key, v.clone());
    Ok(v)
}

/// The ReplicaSet the controller creates for the current template.
pub fn desired_replica_set(
    rollout: &Rollout,
    hash_value: &str,
    replicas: i32,
    revision: i64,
    ephemeral: Option<&aviary_api::PodTemplateMetadata>,
) -> Result<ReplicaSet, Error> {
    let mut template = template(rollout)?.clone();
    // `antiAffinity`: the new pods avoid the stable pods' nodes while an update is under way.
    if let Some(spec) = template.spec.as_mut() {
        spec.affinity = aviary_engine::affinity::replica_set_affinity(rollout, hash_value);
    }
    let meta = template.metadata.get_or_insert_with(Default::default);
    meta.labels.get_or_insert_with(Default::default).insert(HASH_LABEL.into(), hash_value.into());
    let mut annotations = copied_annotations(rollout.annotations());
    annotations.insert(REVISION.to_string(), revision.to_string());
    annotations.insert(DESIRED_REPLICAS.to_string(), rollout.spec.replicas_or_default().to_string());
    // The ReplicaSet's own labels are the template's before the ephemeral ones are added (Argo
    // injects them into the pod template only).
    let labels = meta.labels.clone();
    if let Some(eph) = ephemeral.filter(|e| !e.is_empty()) {
        meta.labels.get_or_insert_with(Default::default).extend(eph.labels.clone());
        if !eph.annotations.is_empty() {
            meta.annotations.get_or_insert_with(Default::default).extend(eph.annotations.clone());
        }
        annotations.insert(EPHEMERAL_METADATA.into(), aviary_engine::ephemeral::annotation(eph));
    }
    let mut selector = rollout.spec.selector.clone().unwrap_or_default();
    selector.match_labels.get_or_insert_with(Default::default).insert(HASH_LABEL.into(), hash_value.into());
    Ok(ReplicaSet {
        metadata: ObjectMeta {
            name: Some(format!("{}-{hash_value}", rollout.name_any())),
            namespace: rollout.namespace(),
            labels,
            annotations: Some(annotations),
            owner_references: Some(vec![owner_reference(rollout)]),
            ..Default::default()
        },
        spec: Some(ReplicaSetSpec {
            replicas: Some(replicas),
            min_ready_seconds: (rollout.spec.min_ready_seconds > 0).then_some(rollout.spec.min_ready_seconds),
            selector: LabelSelector {
                match_expressions: selector.match_expressions,
                match_labels: selector.match_labels,
            },
            template: Some(template),
        }),
        status: None,
    })
}

/// The controller owner reference to a Rollout.
pub fn owner_reference(rollout: &Rollout) -> OwnerReference {
    OwnerReference {
        api_version: aviary_api::API_VERSION.into(),
        kind: "Rollout".into(),
        name: rollout.name_any(),
        uid: rollout.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// What creating the new ReplicaSet gave.
pub enum Created {
    /// The ReplicaSet (new, or found already there and ours).
    ReplicaSet(Arc<ReplicaSet>),
    /// A different ReplicaSet already has the name: the collision count must be bumped.
    Collision,
}

/// Creates the ReplicaSet of the current template, with no pods yet (Argo's
/// `createDesiredReplicaSet`: the scaling that follows in the same reconcile sizes it).
pub async fn create(
    ctx: &Context,
    rollout: &Rollout,
    revision: i64,
    ephemeral: Option<&aviary_api::PodTemplateMetadata>,
) -> Result<Created, Error> {
    let hash_value = desired_hash(rollout)?;
    let rs = desired_replica_set(rollout, &hash_value, 0, revision, ephemeral)?;
    let api: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), &rollout.namespace().unwrap_or_default());
    match api.create(&PostParams::default(), &rs).await {
        Ok(created) => {
            let created = ctx.wrote_replica_set(None, created);
            ctx.event(
                rollout,
                false,
                reason::NEW_REPLICA_SET_CREATED,
                format!("Created ReplicaSet {} (revision {revision})", created.name_any()),
            )
            .await;
            Ok(Created::ReplicaSet(created))
        }
        Err(e) if is_already_exists(&e) => {
            let existing = api.get(&rs.name_any()).await.map_err(Error::kube("reading the existing ReplicaSet"))?;
            let uid = rollout.metadata.uid.clone().unwrap_or_default();
            let ours = crate::context::controlled_by(&existing.metadata, &uid);
            // The desired ReplicaSet records its ephemeral metadata as the existing one does, so
            // `comparable` strips the same keys from both.
            let same = comparable(&existing, rollout) == comparable(&rs, rollout);
            if ours && (same || hash(&existing) == hash_value) {
                Ok(Created::ReplicaSet(Arc::new(existing)))
            } else {
                Ok(Created::Collision)
            }
        }
        Err(e) => Err(Error::kube(format!("creating ReplicaSet {}", rs.name_any()))(e)),
    }
}

/// Scales one ReplicaSet and records Argo's `ScalingReplicaSet` event. Also keeps the
/// desired-replicas annotation in step with the Rollout. Returns whether the size changed.
///
/// Scaling to zero removes the `scale-down-deadline` annotation unless `keep_deadline` (see
/// [`aviary_engine::rollout::RolloutDecision::keep_scale_down_deadline`]).
pub async fn scale(
    ctx: &Context,
    rollout: &Rollout,
    rs: &ReplicaSet,
    to: i32,
    keep_deadline: bool,
) -> Result<bool, Error> {
    let from = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let desired = rollout.spec.replicas_or_default().to_string();
    let annotation_ok = rs.annotations().get(DESIRED_REPLICAS) == Some(&desired);
    if from == to && annotation_ok {
        return Ok(false);
    }
    let mut annotations = json!({ DESIRED_REPLICAS: desired });
    if to == 0
        && !keep_deadline
        && let Some(map) = annotations.as_object_mut()
    {
        map.insert(SCALE_DOWN_DEADLINE.into(), Value::Null);
    }
    let patch = json!({"metadata": {"annotations": annotations}, "spec": {"replicas": to}});
    let api: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), &rs.namespace().unwrap_or_default());
    let written = api
        .patch(&rs.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(Error::kube(format!("scaling ReplicaSet {}", rs.name_any())))?;
    ctx.wrote_replica_set(Some(rs), written);
    if from != to {
        let direction = if to > from { "up" } else { "down" };
        tracing::info!(replicaset = %rs.name_any(), from, to, "scaled {direction}");
        ctx.event(
            rollout,
            false,
            reason::SCALING,
            format!(
                "Scaled {direction} ReplicaSet {} (revision {}) from {from} to {to}",
                rs.name_any(),
                revision(&rs.metadata)
            ),
        )
        .await;
    }
    Ok(from != to)
}

/// Sets (`Some`) or removes (`None`) a ReplicaSet's `scale-down-deadline` annotation (Argo's
/// `addScaleDownDelay`, `removeScaleDownDelay`), written RFC 3339 to the second as Argo does.
pub async fn set_scale_down_deadline(ctx: &Context, rs: &ReplicaSet, at: Option<DateTime<Utc>>) -> Result<(), Error> {
    let value = at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    let patch = json!({"metadata": {"annotations": {SCALE_DOWN_DEADLINE: value}}});
    let api: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), &rs.namespace().unwrap_or_default());
    let written = api
        .patch(&rs.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(Error::kube(format!("writing the scale-down deadline of ReplicaSet {}", rs.name_any())))?;
    ctx.wrote_replica_set(Some(rs), written);
    Ok(())
}

/// Argo's `syncReplicaSetRevision` for an existing new ReplicaSet: it carries the Rollout's
/// annotations and the newest revision (a rollback to an older ReplicaSet makes it the newest
/// again, its earlier revisions kept in `rollout.argoproj.io/revision-history`); once it does, the
/// Rollout's revision annotation follows ([`set_rollout_revision`]).
/// Returns the Rollout as written when its revision changed.
pub async fn sync_revision(ctx: &Context, rollout: &Rollout, roles: &Roles) -> Result<Option<Rollout>, Error> {
    let Some(new_rs) = &roles.new_rs else { return Ok(None) };
    let annotations = match sync_annotations(new_rs.annotations(), rollout.annotations(), roles.max_old_revision()) {
        AnnotationSync::Unreadable => return Ok(None),
        AnnotationSync::Write(a) => a,
    };
    // Argo's update also brings `minReadySeconds` and the injected anti-affinity rule (after a
    // new stable ReplicaSet) up to date.
    let spec = new_rs.spec.as_ref();
    let min_ready = rollout.spec.min_ready_seconds;
    let min_ready_changed = spec.and_then(|s| s.min_ready_seconds).unwrap_or(0) != min_ready;
    let affinity =
        spec.and_then(|s| s.template.as_ref()).and_then(|t| t.spec.as_ref()).and_then(|s| s.affinity.as_ref());
    let affinity_changed = aviary_engine::affinity::injected_rule_needs_update(affinity, rollout, hash(new_rs));
    if !annotations.is_empty() || min_ready_changed || affinity_changed {
        let api: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), &new_rs.namespace().unwrap_or_default());
        let mut patch = json!({"metadata": {"annotations": annotations}});
        if min_ready_changed || affinity_changed {
            let affinity = aviary_engine::affinity::replica_set_affinity(rollout, hash(new_rs));
            patch = json!({
                "metadata": {"annotations": annotations},
                "spec": {"minReadySeconds": min_ready, "template": {"spec": {"affinity": affinity}}},
            });
        }
        let written = api
            .patch(&new_rs.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(Error::kube(format!("updating the annotations of ReplicaSet {}", new_rs.name_any())))?;
        let written = ctx.wrote_replica_set(Some(new_rs), written);
        // Argo syncs twice in one reconcile (`isScalingEvent`, then the strategy), so the
        // Rollout's revision follows the ReplicaSet's in the same reconcile: the events of that
        // reconcile (`RolloutNotCompleted`) already name the new revision.
        return set_rollout_revision(ctx, rollout, revision(&written.metadata)).await;
    }
    set_rollout_revision(ctx, rollout, revision(&new_rs.metadata)).await
}

/// How often a revision write that lost to another writer's metadata change is tried again.
const REVISION_WRITE_RETRIES: usize = 10;

/// Argo's `setRolloutRevision`: when the Rollout's revision annotation is not `rev`, Argo writes
/// the whole Rollout back as its Go types read it, which also normalises the spec: the pod
/// template as Go writes it (`resources: {}` on every container, canonical quantities: a new
/// generation when that changes it) and `spec.paused: false` dropped. Aviary writes the same
/// changes, as a merge patch on the version it read. Records `RolloutUpdated`; returns the Rollout
/// as written, when it wrote.
pub async fn set_rollout_revision(ctx: &Context, rollout: &Rollout, rev: i64) -> Result<Option<Rollout>, Error> {
    if revision(&rollout.metadata) == rev {
        return Ok(None);
    }
    // Argo records a revision with an update of the whole Rollout, so its spec is stored as Go
    // writes it back. The stored spec is read as it is (fields Aviary's types do not model
    // included) and patched to that form.
    let ns = rollout.namespace().unwrap_or_default();
    let resource = kube::api::ApiResource::erase::<Rollout>(&());
    let raw: Api<kube::api::DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ns, &resource);
    let api: Api<Rollout> = Api::namespaced(ctx.client.clone(), &ns);
    // The stored spec comes from the cache when it holds the version this reconcile acts on
    // (the usual case: the spec change that woke it); read from the API server otherwise.
    let cached = ctx
        .rollouts
        .get(&kube::runtime::reflector::ObjectRef::new(&rollout.name_any()).within(&ns))
        .filter(|c| c.meta().resource_version == rollout.metadata.resource_version)
        .and_then(|c| c.field("spec").ok());
    let mut from_cache =
        cached.map(|spec| (rollout.metadata.generation, rollout.metadata.resource_version.clone(), spec));
    let mut attempts = 0;
    let written = loop {
        let (generation, resource_version, stored_spec) = match from_cache.take() {
            Some(c) => c,
            None => {
                let stored = raw.get(&rollout.name_any()).await.map_err(Error::kube("reading the Rollout"))?;
                let spec = stored.data.get("spec").cloned().unwrap_or(Value::Null);
                (stored.metadata.generation, stored.metadata.resource_version, spec)
            }
        };
        // Written over the version just read when only its metadata moved since this reconcile
        // read the Rollout (another writer's labels or annotations: the decision still holds);
        // over the reconcile's version otherwise, so that a changed spec is a conflict and is
        // decided again.
        let spec_unchanged = generation == rollout.metadata.generation;
        let version = if spec_unchanged { resource_version } else { rollout.metadata.resource_version.clone() };
        let spec = aviary_api::hash::normalized_spec(&stored_spec).map_err(|e| Error::Invalid(format!("spec: {e}")))?;
        let patch = json!({
            "metadata": {"resourceVersion": version, "annotations": {REVISION: rev.to_string()}},
            "spec": keep_unknown(&stored_spec, crate::status_write::merge_diff(&stored_spec, &spec).unwrap_or(json!({}))),
        });
        match api.patch(&rollout.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(written) => break written,
            Err(kube::Error::Api(s)) if s.code == 409 && spec_unchanged && attempts < REVISION_WRITE_RETRIES => {
                attempts = attempts.saturating_add(1);
            }
            Err(e) => return Err(Error::kube("updating the Rollout's revision")(e)),
        }
    };
    ctx.wrote_rollout(rollout, &written);
    ctx.event(rollout, false, reason::UPDATED, format!("Rollout updated to revision {rev}")).await;
    Ok(Some(written))
}

/// Leaves out of `patch` the removal of stored fields that hold something: Go drops a field
/// it writes as empty (those removals stay) and one its types do not know, which may be a
/// newer Argo's field with the user's data; that one is kept.
fn keep_unknown(stored: &Value, patch: Value) -> Value {
    let (Value::Object(stored), Value::Object(patch)) = (stored, &patch) else { return patch };
    let mut out = serde_json::Map::new();
    for (k, v) in patch {
        let before = stored.get(k).unwrap_or(&Value::Null);
        match v {
            Value::Null if !is_empty(before) => {}
            Value::Object(_) if before.is_object() => {
                out.insert(k.clone(), keep_unknown(before, v.clone()));
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// Deletes the old ReplicaSets the revision history no longer keeps
/// ([`aviary_engine::rollout::revision::history_to_delete`]) and returns the hashes of those
/// deleted (their AnalysisRuns go with them).
pub async fn cleanup_history(ctx: &Context, rollout: &Rollout, roles: &Roles) -> Result<Vec<String>, Error> {
    let older: Vec<ReplicaSetState> = roles.older.iter().map(|r| state(r)).collect();
    let api: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), &rollout.namespace().unwrap_or_default());
    let mut deleted = Vec::new();
    for rs in history_to_delete(&older, rollout.spec.revision_history_limit_or_default()) {
        match api.delete(&rs.name, &DeleteParams::background()).await {
            Ok(_) => {
                if let Some(cached) = roles.older.iter().find(|r| r.name_any() == rs.name) {
                    ctx.own_replica_sets.deleted(cached);
                }
                deleted.push(rs.pod_template_hash.clone());
            }
            Err(e) if crate::error::is_not_found(&e) => {}
            Err(e) => return Err(Error::kube(format!("deleting old ReplicaSet {}", rs.name))(e)),
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revision_write_drops_empty_fields_and_keeps_unknown_ones() {
        let stored =
            json!({"paused": false, "strategy": {"canary": {"steps": [], "futureField": {"x": 1}}}, "replicas": 2});
        let normalized = json!({"strategy": {"canary": {}}, "replicas": 2});
        let patch = keep_unknown(&stored, crate::status_write::merge_diff(&stored, &normalized).unwrap());
        assert_eq!(patch, json!({"paused": null, "strategy": {"canary": {"steps": null}}}));
    }

    #[test]
    fn empty_and_absent_fields_compare_equal() {
        let mut a = json!({"metadata": {"labels": {"app": "x"}, "annotations": {}}, "spec": {"volumes": [], "containers": [{"name": "a", "env": null}]}});
        let mut b = json!({"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "a"}]}});
        normalise(&mut a);
        normalise(&mut b);
        assert_eq!(a, b);
    }

    #[test]
    fn the_hash_label_is_not_part_of_the_comparison() {
        let mut v = json!({"metadata": {"labels": {"app": "x", HASH_LABEL: "abc"}}});
        strip_label(&mut v, HASH_LABEL);
        assert_eq!(v, json!({"metadata": {"labels": {"app": "x"}}}));
    }
}

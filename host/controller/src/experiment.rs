//! The Experiment controller (Argo's `experiments` package): each template runs as a ReplicaSet
//! named `<experiment>-<template>` (with a Service when asked), each analysis as an AnalysisRun
//! named `<experiment>-<analysis>`, and the status follows them. The decisions (how many pods,
//! each template's status, the phase, the condition, when to look again) are the engine's
//! ([`aviary_engine::experiment::status`]); this module claims, creates, scales and writes.
//! Experiments have no status subresource (Argo's CRD): the status is merge-patched on the object.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aviary_api::experiment::{
    Experiment, ExperimentAnalysisRunStatus, ExperimentAnalysisTemplateRef, ExperimentCondition, ExperimentStatus,
    TemplateSpec, TemplateStatus, TemplateStatusCode,
};
use aviary_api::{AnalysisPhase, AnalysisRun, Time};
use aviary_engine::conditions::Event;
use aviary_engine::experiment::status::{self as decide, Counts};
use aviary_engine::experiment::{TemplateReplicaSet, resolve_args};
use chrono::{DateTime, SubsecRound, Utc};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use serde_json::json;
use tracing::instrument;

use crate::context::{Context, controlled_by};
use crate::error::{Error, is_already_exists, is_not_found};
use crate::rollout::replicasets::{HASH_LABEL, SCALE_DOWN_DEADLINE};

/// The annotation naming a child's experiment.
pub const EXPERIMENT_NAME: &str = "experiment.argoproj.io/name";
/// The annotation naming a child's template.
pub const TEMPLATE_NAME: &str = "experiment.argoproj.io/template-name";

/// Reconciles one Experiment.
#[instrument(skip_all, fields(experiment = %ex.name_any(), namespace = ex.namespace().unwrap_or_default()))]
pub async fn reconcile(ex: Arc<Experiment>, ctx: Arc<Context>) -> Result<Action, Error> {
    if ex.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let ns = ex.namespace().unwrap_or_default();
    let api: Api<Experiment> = Api::namespaced(ctx.client.clone(), &ns);
    let Some(ex) = api.get_opt(&ex.name_any()).await.map_err(Error::kube("reading the Experiment"))? else {
        return Ok(Action::await_change());
    };
    let now = Utc::now().trunc_subsecs(0);
    if let Some(message) = decide::invalid_spec(&ex) {
        return write_invalid(&ctx, &ex, message, now).await;
    }
    let mut r = Reconcile::new(&ctx, &ex, now)?;
    for template in &ex.spec.templates {
        r.template(template).await;
    }
    for analysis in &ex.spec.analyses {
        r.analysis(analysis).await;
    }
    let Reconcile { status, events, requeue, .. } = r;
    let (status, phase_event) = decide::finish_status(&ex, status, now);
    let requeue = [requeue, decide::requeue_after(&ex, &status, now)].into_iter().flatten().min();
    write_status(&ctx, &ex, &status).await?;
    for e in events.into_iter().chain(phase_event) {
        tracing::info!(reason = e.reason, "{}", e.message);
        ctx.event(&ex, e.warning, e.reason, e.message).await;
    }
    Ok(requeue.map_or_else(Action::await_change, Action::requeue))
}

/// Backs off on errors.
pub fn error_policy(ex: Arc<Experiment>, error: &Error, ctx: Arc<Context>) -> Action {
    tracing::warn!(experiment = %ex.name_any(), "reconcile failed: {error}");
    Action::requeue(error.retry_after(&ctx))
}

/// The state of one reconcile.
struct Reconcile<'a> {
    ctx: &'a Context,
    ex: &'a Experiment,
    now: DateTime<Utc>,
    /// The claimed ReplicaSet of each template.
    replica_sets: BTreeMap<String, Arc<ReplicaSet>>,
    /// The claimed Service of each template.
    services: BTreeMap<String, Arc<Service>>,
    /// The status being built.
    status: ExperimentStatus,
    events: Vec<Event>,
    /// Look again this soon (a scale-down delay running out).
    requeue: Option<Duration>,
}

impl<'a> Reconcile<'a> {
    /// Claims the experiment's ReplicaSets and Services (controller owner, both annotations, a
    /// template of the spec); two for one template fail the reconcile, as in Argo.
    fn new(ctx: &'a Context, ex: &'a Experiment, now: DateTime<Utc>) -> Result<Self, Error> {
        let uid = ex.metadata.uid.clone().unwrap_or_default();
        let name = ex.name_any();
        let ns = ex.namespace().unwrap_or_default();
        let template_of = |meta: &ObjectMeta| -> Option<String> {
            if meta.namespace.as_deref() != Some(&ns) || !controlled_by(meta, &uid) {
                return None;
            }
            let a = meta.annotations.as_ref()?;
            if a.get(EXPERIMENT_NAME) != Some(&name) {
                return None;
            }
            let t = a.get(TEMPLATE_NAME)?;
            ex.spec.templates.iter().any(|s| &s.name == t).then(|| t.clone())
        };
        let mut replica_sets = BTreeMap::new();
        let owned = crate::context::owned(&ctx.replica_sets, &ctx.replica_set_owners, &uid);
        for cached in owned.filter(|r| r.meta().deletion_timestamp.is_none()) {
            if let Some(t) = template_of(cached.meta())
                && let Some(rs) = cached.decoded()
                && replica_sets.insert(t.clone(), rs).is_some()
            {
                return Err(Error::Invalid(format!("multiple ReplicaSets match single experiment template: {t}")));
            }
        }
        let mut services = BTreeMap::new();
        for svc in ctx.services.state() {
            if let Some(t) = template_of(&svc.metadata)
                && services.insert(t.clone(), svc).is_some()
            {
                return Err(Error::Invalid(format!("multiple Services match single experiment template: {t}")));
            }
        }
        Ok(Self {
            ctx,
            ex,
            now,
            replica_sets,
            services,
            status: ex.status.clone().unwrap_or_default(),
            events: Vec::new(),
            requeue: None,
        })
    }

    fn ns(&self) -> String {
        self.ex.namespace().unwrap_or_default()
    }

    fn owner(&self) -> OwnerReference {
        OwnerReference {
            api_version: aviary_api::API_VERSION.into(),
            kind: "Experiment".into(),
            name: self.ex.name_any(),
            uid: self.ex.metadata.uid.clone().unwrap_or_default(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }

    fn annotations(&self, template: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            (EXPERIMENT_NAME.to_string(), self.ex.name_any()),
            (TEMPLATE_NAME.to_string(), template.to_string()),
        ])
    }

    fn requeue_in(&mut self, d: Duration) {
        self.requeue = Some(self.requeue.map_or(d, |r| r.min(d)));
    }

    /// Argo's `reconcileTemplate`: the ReplicaSet created (with no pods) or scaled, the Service
    /// kept while the template wants pods, and the template's status.
    async fn template(&mut self, template: &TemplateSpec) {
        let previous =
            decide::template_status(self.ex.status.as_ref().unwrap_or(&ExperimentStatus::default()), &template.name)
                .cloned();
        let mut ts =
            previous.clone().unwrap_or_else(|| TemplateStatus { name: template.name.clone(), ..Default::default() });
        let desired = decide::desired_replicas(self.ex, template);
        let now = Time(self.now);
        match self.replica_sets.get(&template.name).cloned() {
            None => match self.create_replica_set(template, &ts).await {
                Ok(rs) => {
                    self.replica_sets.insert(template.name.clone(), rs);
                    ts.last_transition_time = Some(now);
                }
                Err(e) => {
                    let name = format!("{}-{}", self.ex.name_any(), template.name);
                    self.events.push(Event::warning(
                        "ReplicaSetCreateError",
                        format!("Failed to create new replica set {name:?}: {e}"),
                    ));
                    ts.status = Some(TemplateStatusCode::Error);
                    ts.message = format!("Failed to create ReplicaSet for template '{}': {e}", template.name);
                }
            },
            Some(mut rs) => {
                if template.service.is_some() {
                    if desired != 0 {
                        self.ensure_service(template, &mut ts, &rs).await;
                    } else if rs.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0) == 0 {
                        self.delete_service(&template.name, &mut ts).await;
                    }
                } else {
                    self.delete_service(&template.name, &mut ts).await;
                }
                if desired == 0 {
                    match self.add_scale_down_delay(&rs).await {
                        Ok(Some(updated)) => rs = updated,
                        Ok(None) => {}
                        Err(e) => tracing::warn!(template = %template.name, "scale-down delay: {e}"),
                    }
                }
                let current = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                if current != desired {
                    match self.scale(&rs, template, desired).await {
                        Ok(Some(updated)) => rs = updated,
                        Ok(None) => {}
                        Err(e) => {
                            let direction = if desired > current { "up" } else { "down" };
                            self.events.push(Event::warning(
                                "ReplicaSetUpdateError",
                                format!("Failed to scale {} {direction}: {e}", rs.name_any()),
                            ));
                            ts.status = Some(TemplateStatusCode::Error);
                            ts.message = format!(
                                "Unable to scale ReplicaSet for template '{}' to desired replica count '{desired}': {e}",
                                template.name
                            );
                        }
                    }
                    ts.last_transition_time = Some(now);
                }
                self.replica_sets.insert(template.name.clone(), rs);
            }
        }
        let counts =
            self.replica_sets.get(&template.name).and_then(|rs| rs.status.as_ref()).map_or_else(Counts::default, |s| {
                Counts {
                    replicas: s.replicas,
                    ready: s.ready_replicas.unwrap_or(0),
                    available: s.available_replicas.unwrap_or(0),
                }
            });
        let (ts, event) = decide::next_template_status(self.ex, template, previous.as_ref(), ts, counts, self.now);
        self.events.extend(event);
        match self.status.template_statuses.iter_mut().find(|t| t.name == template.name) {
            Some(t) => *t = ts,
            None => self.status.template_statuses.push(ts),
        }
    }

    /// Argo's `newReplicaSetFromTemplate` and `createReplicaSet`: `<experiment>-<template>`, no
    /// pods yet, the template's hash in its labels and selector. An existing one that is ours and
    /// equal is taken; another of the name bumps the template's collision count.
    async fn create_replica_set(
        &mut self,
        template: &TemplateSpec,
        ts: &TemplateStatus,
    ) -> Result<Arc<ReplicaSet>, String> {
        let mut pod = template.template.clone();
        if let Some(labels) = pod.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
            labels.remove(HASH_LABEL);
        }
        let hash = aviary_api::hash::pod_template_hash(&pod, ts.collision_count).map_err(|e| e.to_string())?;
        let meta = pod.metadata.get_or_insert_with(Default::default);
        meta.labels.get_or_insert_with(BTreeMap::new).insert(HASH_LABEL.into(), hash.clone());
        let labels = meta.labels.clone();
        let mut selector = template.selector.clone().unwrap_or_default();
        selector.match_labels.get_or_insert_with(BTreeMap::new).insert(HASH_LABEL.into(), hash);
        let name = format!("{}-{}", self.ex.name_any(), template.name);
        let rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(self.ns()),
                labels,
                annotations: Some(self.annotations(&template.name)),
                owner_references: Some(vec![self.owner()]),
                ..Default::default()
            },
            spec: Some(k8s_openapi::api::apps::v1::ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: Some(template.min_ready_seconds),
                selector,
                template: Some(pod),
            }),
            status: None,
        };
        let api: Api<ReplicaSet> = Api::namespaced(self.ctx.client.clone(), &self.ns());
        match api.create(&PostParams::default(), &rs).await {
            Ok(created) => Ok(Arc::new(created)),
            Err(e) if is_already_exists(&e) => {
                let existing = api.get(&name).await.map_err(|e| e.to_string())?;
                let uid = self.ex.metadata.uid.clone().unwrap_or_default();
                let strip = |r: &ReplicaSet| {
                    let mut t = r.spec.as_ref().and_then(|s| s.template.clone()).unwrap_or_default();
                    if let Some(l) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
                        l.remove(HASH_LABEL);
                    }
                    t
                };
                let same_annotations = existing.metadata.annotations.as_ref().is_some_and(|a| {
                    a.get(EXPERIMENT_NAME) == Some(&self.ex.name_any()) && a.get(TEMPLATE_NAME) == Some(&template.name)
                });
                if controlled_by(&existing.metadata, &uid) && same_annotations && strip(&existing) == strip(&rs) {
                    return Ok(Arc::new(existing));
                }
                // Argo records a collision and fails this reconcile; the name has no hash, so
                // the next attempt collides again: the template stays without pods, and says so.
                self.bump_collision(&template.name);
                Err(e.to_string())
            }
            Err(e) => Err(e.to_string()),
        }
    }

    fn bump_collision(&mut self, template: &str) {
        let entry = match self.status.template_statuses.iter_mut().find(|t| t.name == template) {
            Some(t) => t,
            None => {
                self.status.template_statuses.push(TemplateStatus { name: template.into(), ..Default::default() });
                let last = self.status.template_statuses.len().saturating_sub(1);
                let Some(t) = self.status.template_statuses.get_mut(last) else { return };
                t
            }
        };
        entry.collision_count = Some(entry.collision_count.unwrap_or(0).saturating_add(1));
    }

    /// Argo's `addScaleDownDelay`: with a delay, the `scale-down-deadline` annotation once
    /// (never refreshed); with none, the annotation removed. The ReplicaSet as written, if it was.
    async fn add_scale_down_delay(&self, rs: &ReplicaSet) -> Result<Option<Arc<ReplicaSet>>, kube::Error> {
        let delay = decide::scale_down_delay(self.ex);
        let has = rs.annotations().contains_key(SCALE_DOWN_DEADLINE);
        let value = if delay == 0 {
            if !has {
                return Ok(None);
            }
            serde_json::Value::Null
        } else {
            if has {
                return Ok(None);
            }
            let at = self.now.checked_add_signed(chrono::Duration::seconds(i64::from(delay))).unwrap_or(self.now);
            json!(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        };
        let api: Api<ReplicaSet> = Api::namespaced(self.ctx.client.clone(), &self.ns());
        let patch = json!({"metadata": {"annotations": {SCALE_DOWN_DEADLINE: value}}});
        let updated = api.patch(&rs.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await?;
        Ok(Some(Arc::new(updated)))
    }

    /// Argo's `scaleTemplateRS`: to `desired`, except that a scale-down waits for the
    /// scale-down deadline (keeping `replicas` pods and looking again when it passes).
    async fn scale(
        &mut self,
        rs: &ReplicaSet,
        template: &TemplateSpec,
        desired: i32,
    ) -> Result<Option<Arc<ReplicaSet>>, kube::Error> {
        let mut target = desired;
        if desired == 0
            && let Some(deadline) = rs.annotations().get(SCALE_DOWN_DEADLINE)
            && let Ok(at) = DateTime::parse_from_rfc3339(deadline)
            && at.to_utc() > self.now
        {
            target = template.replicas.unwrap_or(1);
            let left = at.to_utc().signed_duration_since(self.now).to_std().unwrap_or_default();
            self.requeue_in(left.saturating_add(Duration::from_secs(1)));
        }
        let current = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        if current == target {
            return Ok(None);
        }
        let api: Api<ReplicaSet> = Api::namespaced(self.ctx.client.clone(), &self.ns());
        let patch = json!({"spec": {"replicas": target}});
        let updated = api.patch(&rs.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await?;
        let direction = if target > current { "up" } else { "down" };
        self.events.push(Event::normal(
            "ScalingReplicaSet",
            format!("Scaled {direction} ReplicaSet {} from {current} to {target}", rs.name_any()),
        ));
        Ok(Some(Arc::new(updated)))
    }

    /// Argo's `createTemplateService`: one port per container port, selecting the ReplicaSet's
    /// labels; the template status names it and its pod-template hash.
    async fn ensure_service(&mut self, template: &TemplateSpec, ts: &mut TemplateStatus, rs: &ReplicaSet) {
        let name = template
            .service
            .as_ref()
            .map(|s| s.name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| rs.name_any());
        if self.services.get(&template.name).is_some_and(|s| s.name_any() == name) {
            return;
        }
        let pod = rs.spec.as_ref().and_then(|s| s.template.as_ref()).and_then(|t| t.spec.as_ref());
        let ports: Vec<ServicePort> = pod
            .map(|p| p.containers.iter().flat_map(|c| c.ports.iter().flatten()).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .map(|p| ServicePort {
                name: p.name.clone(),
                protocol: p.protocol.clone(),
                port: p.container_port,
                target_port: Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(p.container_port)),
                ..Default::default()
            })
            .collect();
        if ports.is_empty() {
            return;
        }
        let svc = Service {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(self.ns()),
                annotations: Some(self.annotations(&template.name)),
                owner_references: Some(vec![self.owner()]),
                ..Default::default()
            },
            spec: Some(ServiceSpec { selector: rs.metadata.labels.clone(), ports: Some(ports), ..Default::default() }),
            status: None,
        };
        let api: Api<Service> = Api::namespaced(self.ctx.client.clone(), &self.ns());
        let created = match api.create(&PostParams::default(), &svc).await {
            Ok(s) => Ok(s),
            Err(e) if is_already_exists(&e) => match api.get(&name).await {
                Ok(existing)
                    if controlled_by(&existing.metadata, self.ex.metadata.uid.as_deref().unwrap_or_default())
                        && existing.metadata.annotations.as_ref() == Some(&self.annotations(&template.name)) =>
                {
                    Ok(existing)
                }
                Ok(_) => Err(format!(
                    "service {name} already exists and is not owned by experiment template {}",
                    template.name
                )),
                Err(e) => Err(e.to_string()),
            },
            Err(e) => Err(format!("cannot create service: {e}")),
        };
        match created {
            Ok(s) => {
                ts.service_name = s.name_any();
                ts.pod_template_hash = rs.labels().get(HASH_LABEL).cloned().unwrap_or_default();
                self.services.insert(template.name.clone(), Arc::new(s));
            }
            Err(e) => {
                ts.status = Some(TemplateStatusCode::Error);
                ts.message = format!("Failed to create Service {name} for template '{}': {e}", template.name);
            }
        }
    }

    /// Argo's `deleteTemplateService`: the claimed Service deleted, the status no longer names it.
    async fn delete_service(&mut self, template: &str, ts: &mut TemplateStatus) {
        let Some(svc) = self.services.get(template).cloned() else { return };
        let api: Api<Service> = Api::namespaced(self.ctx.client.clone(), &self.ns());
        match api.delete(&svc.name_any(), &DeleteParams::default()).await {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => {
                ts.status = Some(TemplateStatusCode::Error);
                ts.message = format!("Failed to delete Service for template '{template}': {e}");
                return;
            }
        }
        self.services.remove(template);
        ts.service_name.clear();
        ts.pod_template_hash.clear();
    }

    /// Argo's `reconcileAnalysisRun` for one analysis.
    async fn analysis(&mut self, analysis: &ExperimentAnalysisTemplateRef) {
        let stored = self.ex.status.clone().unwrap_or_default();
        let previous = decide::analysis_status(&stored, &analysis.name).cloned();
        let mut entry = decide::analysis_status(&self.status, &analysis.name)
            .cloned()
            .unwrap_or_else(|| ExperimentAnalysisRunStatus { name: analysis.name.clone(), ..Default::default() });
        let terminating = decide::terminating(self.ex);
        if stored.available_at.is_none() {
            // Before the templates are available, only check that the template exists.
            if let Err(e) = self.template_exists(analysis).await {
                entry.phase = Some(AnalysisPhase::Error);
                entry.message = e;
            }
        } else if entry.analysis_run.is_empty() {
            if !terminating {
                match self.create_run(analysis).await {
                    Ok(run) => {
                        entry.analysis_run = run.name_any();
                        entry.phase = Some(AnalysisPhase::Pending);
                    }
                    Err(e) => {
                        entry.phase = Some(AnalysisPhase::Error);
                        entry.message = format!("Failed to create AnalysisRun for analysis '{}': {e}", analysis.name);
                    }
                }
            }
        } else if !entry.phase.is_some_and(AnalysisPhase::is_completed) {
            match self.run(&entry.analysis_run).await {
                Ok(None) => {
                    entry.phase = Some(AnalysisPhase::Error);
                    entry.message = format!("analysisruns.argoproj.io {:?} not found", entry.analysis_run);
                }
                Err(e) => {
                    entry.phase = Some(AnalysisPhase::Error);
                    entry.message = e.to_string();
                }
                Ok(Some(run)) if terminating => {
                    let completed = run.status.as_ref().is_some_and(|s| s.phase.is_completed());
                    if !completed && !run.spec.terminate {
                        if let Err(e) = crate::rollout::analysis::cancel(self.ctx, std::slice::from_ref(&run)).await {
                            tracing::warn!(run = %run.name_any(), "terminating: {e}");
                        }
                        self.events.push(Event::normal(
                            "AnalysisRunTerminating",
                            format!("Terminating {} ({})", analysis.name, run.name_any()),
                        ));
                    }
                }
                Ok(Some(run)) => {
                    // A run its controller has not started yet has no phase (Argo copies `""`).
                    entry.phase = run.status.as_ref().map(|s| s.phase);
                    entry.message = run.status.as_ref().map(|s| s.message.clone()).unwrap_or_default();
                }
            }
        }
        let old_phase = previous.as_ref().and_then(|p| p.phase);
        if entry.phase.is_some() && entry.phase != old_phase {
            self.analysis_event(&analysis.name, old_phase, &entry).await;
        }
        match self.status.analysis_runs.iter_mut().find(|a| a.name == analysis.name) {
            Some(a) => *a = entry,
            None => self.status.analysis_runs.push(entry),
        }
    }

    /// `AnalysisRun<Phase>`, on the experiment and (always a Warning) on its Rollout.
    async fn analysis_event(&mut self, name: &str, old: Option<AnalysisPhase>, entry: &ExperimentAnalysisRunStatus) {
        let Some(phase) = entry.phase else { return };
        let mut message = format!(
            "AnalysisRun '{name}' transitioned from {} -> {}",
            old.map_or("", AnalysisPhase::as_str),
            phase.as_str()
        );
        if !entry.message.is_empty() {
            message.push_str(": ");
            message.push_str(&entry.message);
        }
        let reason: &'static str = match phase {
            AnalysisPhase::Pending => "AnalysisRunPending",
            AnalysisPhase::Running => "AnalysisRunRunning",
            AnalysisPhase::Successful => "AnalysisRunSuccessful",
            AnalysisPhase::Failed => "AnalysisRunFailed",
            AnalysisPhase::Error => "AnalysisRunError",
            AnalysisPhase::Inconclusive => "AnalysisRunInconclusive",
        };
        let warning = matches!(phase, AnalysisPhase::Failed | AnalysisPhase::Error | AnalysisPhase::Inconclusive);
        if let Some(owner) = self.ex.owner_references().iter().find(|o| o.kind == "Rollout") {
            let rollout = aviary_api::Rollout {
                metadata: ObjectMeta {
                    name: Some(owner.name.clone()),
                    namespace: Some(self.ns()),
                    uid: Some(owner.uid.clone()),
                    ..Default::default()
                },
                spec: Default::default(),
                status: None,
            };
            self.ctx.event(&rollout, true, reason, message.clone()).await;
        }
        self.events.push(if warning { Event::warning(reason, message) } else { Event::normal(reason, message) });
    }

    /// Whether the analysis's (Cluster)AnalysisTemplate exists, in Argo's words when not.
    async fn template_exists(&self, analysis: &ExperimentAnalysisTemplateRef) -> Result<(), String> {
        let found = if analysis.cluster_scope {
            let api: Api<aviary_api::ClusterAnalysisTemplate> = Api::all(self.ctx.client.clone());
            api.get(&analysis.template_name).await.map(|_| ()).map_err(|e| ("ClusterAnalysisTemplate", e))
        } else {
            let api: Api<aviary_api::AnalysisTemplate> = Api::namespaced(self.ctx.client.clone(), &self.ns());
            api.get(&analysis.template_name).await.map(|_| ()).map_err(|e| ("AnalysisTemplate", e))
        };
        found.map_err(|(kind, e)| {
            let detail = match &e {
                kube::Error::Api(s) => s.message.clone(),
                other => other.to_string(),
            };
            format!("{kind} verification failed for analysis '{}': {detail}", analysis.name)
        })
    }

    /// Argo's `createAnalysisRun`: `<experiment>-<analysis>`, the experiment's arguments resolved
    /// and merged with the templates', no rollout labels.
    async fn create_run(&self, analysis: &ExperimentAnalysisTemplateRef) -> Result<Arc<AnalysisRun>, String> {
        let replica_sets: BTreeMap<String, TemplateReplicaSet> = self
            .replica_sets
            .iter()
            .map(|(t, rs)| {
                let hash = rs.labels().get(HASH_LABEL).cloned().unwrap_or_default();
                (t.clone(), TemplateReplicaSet { name: rs.name_any(), pod_template_hash: hash })
            })
            .collect();
        let args = resolve_args(self.ex, &analysis.args, &replica_sets).map_err(|e| e.to_string())?;
        let refs = [aviary_api::rollout::AnalysisTemplateRef {
            template_name: analysis.template_name.clone(),
            cluster_scope: analysis.cluster_scope,
        }];
        let spec = crate::rollout::analysis::run_spec(
            self.ctx,
            &self.ns(),
            &refs,
            &args,
            &self.ex.spec.dry_run,
            &self.ex.spec.measurement_retention,
        )
        .await
        .map_err(|e| e.to_string())??;
        let mut labels = self.ex.spec.analysis_run_metadata.labels.clone();
        if let Some(id) = &self.ctx.instance_id {
            labels.insert(crate::INSTANCE_ID_LABEL.into(), id.clone());
        }
        let meta = ObjectMeta {
            name: Some(format!("{}-{}", self.ex.name_any(), analysis.name)),
            namespace: Some(self.ns()),
            labels: Some(labels),
            annotations: Some(self.ex.spec.analysis_run_metadata.annotations.clone()),
            owner_references: Some(vec![self.owner()]),
            ..Default::default()
        };
        crate::rollout::analysis::create_with_collisions(self.ctx, meta, spec).await.map_err(|e| e.to_string())
    }

    /// The run named `name`, from the cache, else from the API server.
    async fn run(&self, name: &str) -> Result<Option<Arc<AnalysisRun>>, kube::Error> {
        let ns = self.ns();
        if let Some(r) = self.ctx.analysis_runs.get(&kube::runtime::reflector::ObjectRef::new(name).within(&ns)) {
            return Ok(Some(r));
        }
        let api: Api<AnalysisRun> = Api::namespaced(self.ctx.client.clone(), &ns);
        Ok(api.get_opt(name).await?.map(Arc::new))
    }
}

/// Argo's invalid-spec handling: the InvalidSpec condition (replaced when the message changes),
/// nothing else reconciled.
async fn write_invalid(ctx: &Context, ex: &Experiment, message: String, now: DateTime<Utc>) -> Result<Action, Error> {
    let mut status = ex.status.clone().unwrap_or_default();
    let same = status.conditions.iter().find(|c| c.type_ == "InvalidSpec").is_some_and(|c| c.message == message);
    status.conditions.retain(|c| c.type_ != "InvalidSpec" || same);
    match status.conditions.iter_mut().find(|c| c.type_ == "InvalidSpec") {
        Some(c) => c.last_update_time = Time(now),
        None => status.conditions.push(ExperimentCondition {
            type_: "InvalidSpec".into(),
            status: "True".into(),
            last_update_time: Time(now),
            last_transition_time: Time(now),
            reason: "InvalidSpec".into(),
            message: message.clone(),
        }),
    }
    write_status(ctx, ex, &status).await?;
    tracing::warn!("{message}");
    Ok(Action::await_change())
}

/// Merge-patches the status (Argo's two-way merge patch; none when nothing changed).
async fn write_status(ctx: &Context, ex: &Experiment, status: &ExperimentStatus) -> Result<(), Error> {
    let old =
        serde_json::to_value(ex.status.clone().unwrap_or_default()).map_err(Error::serde("the Experiment status"))?;
    let new = serde_json::to_value(status).map_err(Error::serde("the Experiment status"))?;
    let Some(diff) = crate::status_write::merge_diff(&old, &new) else { return Ok(()) };
    let api: Api<Experiment> = Api::namespaced(ctx.client.clone(), &ex.namespace().unwrap_or_default());
    api.patch(&ex.name_any(), &PatchParams::default(), &Patch::Merge(json!({"status": diff})))
        .await
        .map_err(Error::kube(format!("writing the status of Experiment {}", ex.name_any())))?;
    Ok(())
}

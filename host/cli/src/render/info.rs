//! What `get rollout` and `get experiment` show, computed from the objects alone: a rollout (or
//! an experiment), the ReplicaSets, pods, Experiments and AnalysisRuns it owns, and the time now.
//! No I/O and no clock here, so the same objects always give the same view (snapshot tests), and
//! `-o json|yaml` prints this very model.
//!
//! The rules follow Argo's CLI (`pkg/kubectl-argo-rollouts/info`): a ReplicaSet's revision is its
//! `rollout.argoproj.io/revision` annotation, it is `stable` when its pod-template hash is
//! `status.stableRS` and `canary` when it is `status.currentPodHash`; the actual weight of a
//! basic canary is the canary's available pods over all available pods. An experiment belongs to
//! the revision of its own `rollout.argoproj.io/revision` annotation, and its ReplicaSets are
//! named by their `experiment.argoproj.io/template-name` annotation.

use std::collections::BTreeSet;

use aviary_api::rollout::{POD_TEMPLATE_HASH_LABEL, SCALE_DOWN_DEADLINE_ANNOTATION};
use aviary_api::rollout_status::{PauseReason, RolloutPhase};
use aviary_api::{AnalysisPhase, AnalysisRun, Experiment, Rollout};
use aviary_engine::phase::observed_phase;
use aviary_engine::steps::{PauseState, pause_step_ends_at};
use aviary_engine::weight::{current_set_weight, current_step, status};
use chrono::{DateTime, Utc};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use serde::Serialize;

/// The annotation holding a ReplicaSet's (and an AnalysisRun's) revision.
pub const REVISION_ANNOTATION: &str = "rollout.argoproj.io/revision";
/// The annotation naming the experiment template a ReplicaSet runs.
pub const TEMPLATE_NAME_ANNOTATION: &str = "experiment.argoproj.io/template-name";
/// How many of a metric's latest measurements the view shows.
pub const LAST_MEASUREMENTS: usize = 3;

/// Everything `get rollout` shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutInfo {
    /// The rollout's name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// Healthy, Progressing, Paused or Degraded, as `kubectl argo rollouts status` reads it.
    pub status: String,
    /// Why (empty when Healthy).
    pub message: String,
    /// Canary or BlueGreen.
    pub strategy: String,
    /// `N/M` for a canary with steps once the controller set an index.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The weight the current step sets (canary only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_weight: Option<i32>,
    /// The share of available pods that are canary pods (canary only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_weight: Option<i32>,
    /// What the rollout waits for now, in words; none when it is done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<String>,
    /// The images running, with `stable`/`canary` tags.
    pub images: Vec<ImageInfo>,
    /// Desired, current, updated, ready and available pods.
    pub replicas: Replicas,
    /// Age of the rollout.
    pub age: String,
    /// Newest first.
    pub revisions: Vec<RevisionInfo>,
}

impl RolloutInfo {
    /// The same view with every age blanked: what changed, for output that is not redrawn in
    /// place (a log gets a new frame when something happened, not every second).
    pub fn without_ages(&self) -> RolloutInfo {
        let mut info = self.clone();
        info.age.clear();
        for rev in &mut info.revisions {
            blank_ages(&mut rev.replica_sets, &mut rev.analysis_runs);
            for exp in &mut rev.experiments {
                *exp = exp.without_ages();
            }
        }
        if let Some(w) = &info.waiting_for
            && w.starts_with("the pause to end in ")
        {
            info.waiting_for = Some("the pause to end".to_string());
        }
        info
    }
}

/// One image and the ReplicaSet roles running it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageInfo {
    /// The image reference.
    pub image: String,
    /// `stable`, `canary`.
    pub tags: Vec<String>,
}

/// The rollout's pod counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Replicas {
    /// spec.replicas.
    pub desired: i32,
    /// status.replicas.
    pub current: i32,
    /// status.updatedReplicas.
    pub updated: i32,
    /// status.readyReplicas.
    pub ready: i32,
    /// status.availableReplicas.
    pub available: i32,
}

/// One revision and what belongs to it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RevisionInfo {
    /// The revision number (0 when unannotated).
    pub revision: i64,
    /// Its ReplicaSets.
    pub replica_sets: Vec<ReplicaSetInfo>,
    /// Its Experiments (those of its experiment steps), oldest first.
    pub experiments: Vec<ExperimentInfo>,
    /// Its AnalysisRuns, oldest first.
    pub analysis_runs: Vec<AnalysisRunInfo>,
}

/// Everything `get experiment` shows, and what `get rollout` shows of each experiment the
/// rollout owns (Argo's `ExperimentInfo`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExperimentInfo {
    /// The experiment's name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// Its phase (Pending, Running, Successful, Failed, Error, Inconclusive), empty before the
    /// controller wrote one.
    pub status: String,
    /// Why, as the controller wrote it.
    pub message: String,
    /// Its `rollout.argoproj.io/revision` annotation (0 when there is none).
    pub revision: i64,
    /// The images running, each tagged `Σ:TEMPLATE` with the templates running it.
    pub images: Vec<ImageInfo>,
    /// Age.
    pub age: String,
    /// Its ReplicaSets (one per template), by name.
    pub replica_sets: Vec<ReplicaSetInfo>,
    /// Its AnalysisRuns, oldest first.
    pub analysis_runs: Vec<AnalysisRunInfo>,
}

impl ExperimentInfo {
    /// The same view with every age blanked (see [`RolloutInfo::without_ages`]).
    pub fn without_ages(&self) -> ExperimentInfo {
        let mut info = self.clone();
        info.age.clear();
        blank_ages(&mut info.replica_sets, &mut info.analysis_runs);
        info
    }
}

fn blank_ages(replica_sets: &mut [ReplicaSetInfo], runs: &mut [AnalysisRunInfo]) {
    for rs in replica_sets {
        rs.age.clear();
        rs.scale_down_delay = rs.scale_down_delay.as_ref().map(|_| String::new());
        rs.pods.iter_mut().for_each(|p| p.age.clear());
    }
    for run in runs {
        run.age.clear();
        run.jobs.iter_mut().for_each(|j| j.age.clear());
    }
}

/// A ReplicaSet of the rollout or of an experiment.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaSetInfo {
    /// Its name.
    pub name: String,
    /// Healthy, Progressing, ScaledDown or ReplicaFailure.
    pub status: String,
    /// The stable ReplicaSet.
    pub stable: bool,
    /// The canary (current, not yet stable) ReplicaSet.
    pub canary: bool,
    /// Blue-green: the ReplicaSet the active Service selects.
    pub active: bool,
    /// Blue-green: the ReplicaSet the preview Service selects (when it is not the active one).
    pub preview: bool,
    /// Ping-pong: the stable or canary ReplicaSet the ping Service carries.
    pub ping: bool,
    /// Ping-pong: the stable or canary ReplicaSet the pong Service carries.
    pub pong: bool,
    /// The experiment template it runs (its `experiment.argoproj.io/template-name` annotation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Pods it has.
    pub replicas: i32,
    /// Pods available.
    pub available: i32,
    /// Time left before an old ReplicaSet is scaled down (`passed` once due).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale_down_delay: Option<String>,
    /// Age.
    pub age: String,
    /// Its containers' images.
    pub images: Vec<String>,
    /// Its pods, oldest first.
    pub pods: Vec<PodInfo>,
}

/// A pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PodInfo {
    /// Its name.
    pub name: String,
    /// Running, Pending, Terminating, a waiting reason...
    pub status: String,
    /// `ready/total` containers.
    pub ready: String,
    /// Container restarts.
    pub restarts: i32,
    /// Age.
    pub age: String,
}

/// An AnalysisRun of the rollout.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisRunInfo {
    /// Its name.
    pub name: String,
    /// Its phase.
    pub status: String,
    /// Successful, failed, inconclusive and errored measurements over its metrics.
    pub successful: i32,
    /// See `successful`.
    pub failed: i32,
    /// See `successful`.
    pub inconclusive: i32,
    /// See `successful`.
    pub error: i32,
    /// Age.
    pub age: String,
    /// Each metric's phase and latest measurements.
    pub metrics: Vec<MetricInfo>,
    /// The Jobs of its `job` measurements, from their `job-name` metadata (Argo's `JobInfo`).
    pub jobs: Vec<JobInfo>,
}

/// A Job an AnalysisRun's `job` metric ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobInfo {
    /// The Job's name.
    pub name: String,
    /// Its namespace (`job-namespace`, else the run's).
    pub namespace: String,
    /// The measurement's phase.
    pub status: String,
    /// The metric it measured.
    pub metric_name: String,
    /// Age, from the measurement's start.
    pub age: String,
}

/// A metric of an AnalysisRun.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricInfo {
    /// The metric's name.
    pub name: String,
    /// Its phase.
    pub status: String,
    /// Its latest measurements, oldest first (at most [`LAST_MEASUREMENTS`]).
    pub last: Vec<MeasurementInfo>,
    /// The metric's message, if any.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// One measurement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeasurementInfo {
    /// Its phase.
    pub phase: String,
    /// The measured value (empty while in flight or on error).
    pub value: String,
}

/// The objects one view is built from.
#[derive(Debug, Clone, Default)]
pub struct Objects {
    /// The rollout.
    pub rollout: Rollout,
    /// ReplicaSets in its namespace (those it does not own are ignored).
    pub replica_sets: Vec<ReplicaSet>,
    /// Pods in its namespace (those of other ReplicaSets are ignored).
    pub pods: Vec<Pod>,
    /// AnalysisRuns in its namespace (those it does not own are ignored).
    pub analysis_runs: Vec<AnalysisRun>,
    /// Experiments in its namespace (those it does not own are ignored); their ReplicaSets, pods
    /// and AnalysisRuns are among the lists above.
    pub experiments: Vec<Experiment>,
}

/// The objects `get experiment` is built from.
#[derive(Debug, Clone, Default)]
pub struct ExperimentObjects {
    /// The experiment.
    pub experiment: Experiment,
    /// ReplicaSets in its namespace (those it does not own are ignored).
    pub replica_sets: Vec<ReplicaSet>,
    /// Pods in its namespace (those of other ReplicaSets are ignored).
    pub pods: Vec<Pod>,
    /// AnalysisRuns in its namespace (those it does not own are ignored).
    pub analysis_runs: Vec<AnalysisRun>,
}

fn owned_by(meta: &ObjectMeta, uid: &str) -> bool {
    meta.owner_references.iter().flatten().any(|r: &OwnerReference| r.uid == uid)
}

fn revision_of(meta: &ObjectMeta) -> i64 {
    meta.annotations.as_ref().and_then(|a| a.get(REVISION_ANNOTATION)).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn created(meta: &ObjectMeta) -> Option<DateTime<Utc>> {
    // k8s-openapi's times are jiff timestamps; the rest of Aviary speaks chrono.
    let t = meta.creation_timestamp.as_ref()?.0;
    DateTime::from_timestamp(t.as_second(), t.subsec_nanosecond().max(0) as u32)
}

fn age(meta: &ObjectMeta, now: DateTime<Utc>) -> String {
    created(meta).map_or_else(|| "-".to_string(), |t| human_duration(now - t))
}

/// Kubernetes' `HumanDuration`: `42s`, `3m12s`, `25m`, `4h10m`, `30h`, `3d4h`, `120d`, `3y20d`.
pub fn human_duration(d: chrono::Duration) -> String {
    let secs = d.num_seconds();
    if secs < 0 {
        return "0s".to_string();
    }
    let (m, h, days) = (secs / 60, secs / 3600, secs / 86400);
    if secs < 120 {
        format!("{secs}s")
    } else if m < 10 {
        match secs % 60 {
            0 => format!("{m}m"),
            s => format!("{m}m{s}s"),
        }
    } else if h < 3 {
        format!("{m}m")
    } else if h < 8 {
        match m % 60 {
            0 => format!("{h}h"),
            mm => format!("{h}h{mm}m"),
        }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        match h % 24 {
            0 => format!("{days}d"),
            hh => format!("{days}d{hh}h"),
        }
    } else if days < 365 * 2 {
        format!("{days}d")
    } else {
        let years = days / 365;
        match days % 365 {
            0 => format!("{years}y"),
            dd if years < 8 => format!("{years}y{dd}d"),
            _ => format!("{years}y"),
        }
    }
}

/// Builds the view.
pub fn rollout_info(objects: &Objects, now: DateTime<Utc>) -> RolloutInfo {
    let ro = &objects.rollout;
    let st = status(ro);
    let uid = ro.metadata.uid.clone().unwrap_or_default();
    let replica_sets = replica_set_infos(objects, &uid, now);
    let analysis_runs = owned_analysis_runs(&objects.analysis_runs, &uid, now);
    // Argo's `getExperimentInfo`: the experiments the rollout owns, newest revision first, then
    // oldest first.
    let experiments: Vec<ExperimentInfo> = {
        let mut owned: Vec<&Experiment> = objects.experiments.iter().filter(|e| owned_by(&e.metadata, &uid)).collect();
        owned.sort_by(|a, b| {
            revision_of(&b.metadata)
                .cmp(&revision_of(&a.metadata))
                .then(created(&a.metadata).cmp(&created(&b.metadata)))
                .then(a.metadata.name.cmp(&b.metadata.name))
        });
        owned
            .into_iter()
            .map(|e| experiment_info(e, &objects.replica_sets, &objects.pods, &objects.analysis_runs, now))
            .collect()
    };

    let phase = observed_phase(ro, None);
    let (strategy, step, set_weight, actual_weight) = if let Some(canary) = ro.spec.canary() {
        let step = (st.current_step_index.is_some() && !canary.steps.is_empty())
            .then(|| format!("{}/{}", st.current_step_index.unwrap_or(0), canary.steps.len()));
        let set_weight = current_set_weight(ro);
        let actual = if current_step(ro).0.is_none() {
            100
        } else if st.available_replicas > 0 {
            if canary.traffic_routing.is_some() {
                set_weight
            } else {
                replica_sets.iter().filter(|r| r.1.canary).map(|r| r.1.available * 100 / st.available_replicas).sum()
            }
        } else {
            0
        };
        ("Canary", step, Some(set_weight), Some(actual))
    } else if ro.spec.blue_green().is_some() {
        ("BlueGreen", None, None, None)
    } else {
        ("Unknown", None, None, None)
    };

    let mut revisions: BTreeSet<i64> = replica_sets.iter().map(|r| r.0).collect();
    revisions.extend(experiments.iter().map(|e| e.revision));
    revisions.extend(analysis_runs.iter().map(|r| r.0));
    let revisions = revisions
        .into_iter()
        .rev()
        .map(|rev| RevisionInfo {
            revision: rev,
            replica_sets: replica_sets.iter().filter(|r| r.0 == rev).map(|r| r.1.clone()).collect(),
            experiments: experiments.iter().filter(|e| e.revision == rev).cloned().collect(),
            analysis_runs: analysis_runs.iter().filter(|r| r.0 == rev).map(|r| r.1.clone()).collect(),
        })
        .collect();

    let waiting_for = waiting_for(ro, phase.phase, &phase.message, &analysis_runs, now);
    RolloutInfo {
        name: ro.metadata.name.clone().unwrap_or_default(),
        namespace: ro.metadata.namespace.clone().unwrap_or_default(),
        status: phase.phase.as_str().to_string(),
        message: phase.message,
        strategy: strategy.to_string(),
        step,
        set_weight,
        actual_weight,
        waiting_for,
        images: images(&replica_sets, &experiments),
        replicas: Replicas {
            desired: ro.spec.replicas_or_default(),
            current: st.replicas,
            updated: st.updated_replicas,
            ready: st.ready_replicas,
            available: st.available_replicas,
        },
        age: age(&ro.metadata, now),
        revisions,
    }
}

/// The ReplicaSets the rollout owns with their revision, newest revision first.
fn replica_set_infos(objects: &Objects, uid: &str, now: DateTime<Utc>) -> Vec<(i64, ReplicaSetInfo)> {
    let st = status(&objects.rollout);
    let mut out = owned_replica_sets(&objects.replica_sets, &objects.pods, uid, now);
    for (_, info, rs) in &mut out {
        let hash =
            rs.metadata.labels.as_ref().and_then(|l| l.get(POD_TEMPLATE_HASH_LABEL)).cloned().unwrap_or_default();
        let stable = !hash.is_empty() && hash == st.stable_rs;
        let is_canary = objects.rollout.spec.canary().is_some() && !stable && hash == st.current_pod_hash;
        let blue_green = objects.rollout.spec.blue_green().is_some() && !hash.is_empty();
        let active = blue_green && hash == st.blue_green.active_selector;
        let preview = blue_green && !active && hash == st.blue_green.preview_selector;
        // Argo's replicaset_info: with ping-pong, the stable and canary ReplicaSets are also
        // tagged with the Service that carries them.
        let ping_pong = objects.rollout.spec.canary().is_some_and(|c| c.ping_pong.is_some());
        let stable_is_ping = aviary_engine::rollout::stable_is_ping(&objects.rollout);
        info.stable = stable;
        info.canary = is_canary;
        info.active = active;
        info.preview = preview;
        info.ping = ping_pong && ((stable && stable_is_ping) || (is_canary && !stable_is_ping));
        info.pong = ping_pong && ((stable && !stable_is_ping) || (is_canary && stable_is_ping));
    }
    out.into_iter().map(|(rev, info, _)| (rev, info)).collect()
}

/// The ReplicaSets among `all` that `uid` owns, with their pods, revision and object, without
/// roles (an experiment's have none), in Argo's order: newest revision first, then by name (its
/// comparator means to look at the creation time too, but never returns that comparison).
fn owned_replica_sets<'a>(
    all: &'a [ReplicaSet],
    pods: &[Pod],
    uid: &str,
    now: DateTime<Utc>,
) -> Vec<(i64, ReplicaSetInfo, &'a ReplicaSet)> {
    let mut out = Vec::new();
    for rs in all.iter().filter(|rs| owned_by(&rs.metadata, uid)) {
        let meta = &rs.metadata;
        let rs_status = rs.status.clone().unwrap_or_default();
        let rs_uid = meta.uid.clone().unwrap_or_default();
        let mut pods: Vec<&Pod> = pods.iter().filter(|p| owned_by(&p.metadata, &rs_uid)).collect();
        pods.sort_by_key(|p| (created(&p.metadata), p.metadata.name.clone()));
        let deadline = meta.annotations.as_ref().and_then(|a| a.get(SCALE_DOWN_DEADLINE_ANNOTATION));
        let scale_down_delay = deadline.and_then(|d| DateTime::parse_from_rfc3339(d).ok()).map(|d| {
            let d = d.with_timezone(&Utc);
            if d < now { "passed".to_string() } else { human_duration(d - now) }
        });
        let template = meta.annotations.as_ref().and_then(|a| a.get(TEMPLATE_NAME_ANNOTATION)).cloned();
        let info = ReplicaSetInfo {
            name: meta.name.clone().unwrap_or_default(),
            status: replica_set_health(rs).to_string(),
            stable: false,
            canary: false,
            active: false,
            preview: false,
            ping: false,
            pong: false,
            template: template.filter(|t| !t.is_empty()),
            replicas: rs_status.replicas,
            available: rs_status.available_replicas.unwrap_or(0),
            scale_down_delay,
            age: age(meta, now),
            images: rs
                .spec
                .as_ref()
                .and_then(|s| s.template.as_ref())
                .and_then(|t| t.spec.as_ref())
                .map(|s| s.containers.iter().filter_map(|c| c.image.clone()).collect())
                .unwrap_or_default(),
            pods: pods.into_iter().map(|p| pod_info(p, now)).collect(),
        };
        out.push((revision_of(meta), info, rs));
    }
    out.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.name.cmp(&b.1.name)));
    out
}

/// The AnalysisRuns among `all` that `uid` owns, with their revision, in Argo's order: newest
/// revision first, then oldest first, then by name backwards (as Argo's comparator has it).
fn owned_analysis_runs(all: &[AnalysisRun], uid: &str, now: DateTime<Utc>) -> Vec<(i64, AnalysisRunInfo)> {
    let mut runs: Vec<&AnalysisRun> = all.iter().filter(|r| owned_by(&r.metadata, uid)).collect();
    runs.sort_by(|a, b| {
        revision_of(&b.metadata)
            .cmp(&revision_of(&a.metadata))
            .then(created(&a.metadata).cmp(&created(&b.metadata)))
            .then(b.metadata.name.cmp(&a.metadata.name))
    });
    runs.into_iter().map(|r| (revision_of(&r.metadata), analysis_run_info(r, now))).collect()
}

/// Builds the view of one experiment (Argo's `NewExperimentInfo`): its ReplicaSets with their
/// pods, its AnalysisRuns, and the images its templates run.
pub fn experiment_info(
    experiment: &Experiment,
    replica_sets: &[ReplicaSet],
    pods: &[Pod],
    analysis_runs: &[AnalysisRun],
    now: DateTime<Utc>,
) -> ExperimentInfo {
    let meta = &experiment.metadata;
    let uid = meta.uid.clone().unwrap_or_default();
    let st = experiment.status.clone().unwrap_or_default();
    let replica_sets: Vec<ReplicaSetInfo> =
        owned_replica_sets(replica_sets, pods, &uid, now).into_iter().map(|(_, info, _)| info).collect();
    let mut images = Vec::new();
    for rs in replica_sets.iter().filter(|r| r.replicas > 0) {
        for image in &rs.images {
            let tags = rs.template.iter().map(|t| format!("Σ:{t}")).collect();
            merge_image(&mut images, ImageInfo { image: image.clone(), tags });
        }
    }
    ExperimentInfo {
        name: meta.name.clone().unwrap_or_default(),
        namespace: meta.namespace.clone().unwrap_or_default(),
        status: st.phase.map(|p| p.as_str().to_string()).unwrap_or_default(),
        message: st.message,
        revision: revision_of(meta),
        images,
        age: age(meta, now),
        replica_sets,
        analysis_runs: owned_analysis_runs(analysis_runs, &uid, now).into_iter().map(|(_, r)| r).collect(),
    }
}

/// [`experiment_info`] of [`ExperimentObjects`].
pub fn experiment_view(objects: &ExperimentObjects, now: DateTime<Utc>) -> ExperimentInfo {
    experiment_info(&objects.experiment, &objects.replica_sets, &objects.pods, &objects.analysis_runs, now)
}

/// Adds `image` to `images`, or its tags to the entry of the same image (Argo's
/// `mergeImageAndTags`): tags sorted and unique, images sorted.
fn merge_image(images: &mut Vec<ImageInfo>, image: ImageInfo) {
    match images.iter_mut().find(|i| i.image == image.image) {
        Some(existing) => {
            existing.tags.extend(image.tags);
            existing.tags.sort();
            existing.tags.dedup();
        }
        None => images.push(image),
    }
    images.sort_by(|a, b| a.image.cmp(&b.image));
}

/// Argo's ReplicaSet health: Progressing until observed and available, ScaledDown at 0.
fn replica_set_health(rs: &ReplicaSet) -> &'static str {
    let st = rs.status.clone().unwrap_or_default();
    let spec_replicas = rs.spec.as_ref().and_then(|s| s.replicas);
    if rs.metadata.generation.unwrap_or(0) > st.observed_generation.unwrap_or(0) {
        return "Progressing";
    }
    let failure = st.conditions.iter().flatten().any(|c| c.type_ == "ReplicaFailure" && c.status == "True");
    if failure {
        return "ReplicaFailure";
    }
    if spec_replicas.is_some_and(|r| st.available_replicas.unwrap_or(0) < r) {
        return "Progressing";
    }
    if spec_replicas == Some(0) {
        return "ScaledDown";
    }
    "Healthy"
}

/// kubectl's pod status column, reduced to what a canary shows: the phase, a container's waiting
/// or terminated reason, or Terminating.
fn pod_info(pod: &Pod, now: DateTime<Utc>) -> PodInfo {
    let spec_containers = pod.spec.as_ref().map_or(0, |s| s.containers.len());
    let st = pod.status.clone().unwrap_or_default();
    let mut reason = st.reason.clone().or(st.phase.clone()).unwrap_or_else(|| "Pending".to_string());
    let mut ready = 0;
    let mut restarts = 0;
    for c in st.container_statuses.iter().flatten().rev() {
        restarts += c.restart_count;
        let state = c.state.clone().unwrap_or_default();
        if let Some(r) = state.waiting.and_then(|w| w.reason).filter(|r| !r.is_empty()) {
            reason = r;
        } else if let Some(t) = state.terminated {
            reason = t.reason.filter(|r| !r.is_empty()).unwrap_or_else(|| format!("ExitCode:{}", t.exit_code));
        } else if c.ready && state.running.is_some() {
            ready += 1;
        }
    }
    if pod.metadata.deletion_timestamp.is_some() {
        reason = "Terminating".to_string();
    }
    PodInfo {
        name: pod.metadata.name.clone().unwrap_or_default(),
        status: reason,
        ready: format!("{ready}/{spec_containers}"),
        restarts,
        age: age(&pod.metadata, now),
    }
}

/// The measurement metadata Argo's `job` provider writes (and `get rollout` reads).
const JOB_NAME_KEY: &str = "job-name";
/// See [`JOB_NAME_KEY`].
const JOB_NAMESPACE_KEY: &str = "job-namespace";

fn analysis_run_info(run: &AnalysisRun, now: DateTime<Utc>) -> AnalysisRunInfo {
    let st = run.status.clone().unwrap_or_default();
    let sum = |f: fn(&aviary_api::MetricResult) -> i32| st.metric_results.iter().map(f).sum();
    let metrics = run
        .spec
        .metrics
        .iter()
        .map(|m| {
            let result = st.metric_results.iter().find(|r| r.name == m.name);
            let last = result
                .map(|r| {
                    let skip = r.measurements.len().saturating_sub(LAST_MEASUREMENTS);
                    r.measurements[skip..]
                        .iter()
                        .map(|x| MeasurementInfo { phase: x.phase.as_str().to_string(), value: x.value.clone() })
                        .collect()
                })
                .unwrap_or_default();
            MetricInfo {
                name: m.name.clone(),
                status: result.map_or(AnalysisPhase::Pending, |r| r.phase).as_str().to_string(),
                last,
                message: result.map(|r| r.message.clone()).unwrap_or_default(),
            }
        })
        .collect();
    // Argo's `getAnalysisRunInfo`: every measurement carrying `job-name` is a Job of the run.
    let jobs = st
        .metric_results
        .iter()
        .flat_map(|r| r.measurements.iter().map(move |m| (r, m)))
        .filter_map(|(r, m)| {
            let name = m.metadata.get(JOB_NAME_KEY)?;
            Some(JobInfo {
                name: name.clone(),
                namespace: m
                    .metadata
                    .get(JOB_NAMESPACE_KEY)
                    .cloned()
                    .unwrap_or_else(|| run.metadata.namespace.clone().unwrap_or_default()),
                status: m.phase.as_str().to_string(),
                metric_name: r.name.clone(),
                age: m.started_at.as_ref().map_or_else(|| "-".to_string(), |t| human_duration(now - t.0)),
            })
        })
        .collect();
    AnalysisRunInfo {
        name: run.metadata.name.clone().unwrap_or_default(),
        status: st.phase.as_str().to_string(),
        successful: sum(|r| r.successful),
        failed: sum(|r| r.failed),
        inconclusive: sum(|r| r.inconclusive),
        error: sum(|r| r.error),
        age: age(&run.metadata, now),
        metrics,
        jobs,
    }
}

/// Images of ReplicaSets with pods, sorted, each with the roles running it, then those of the
/// experiments with their `Σ:TEMPLATE` tags (Argo's `Images`).
fn images(replica_sets: &[(i64, ReplicaSetInfo)], experiments: &[ExperimentInfo]) -> Vec<ImageInfo> {
    let mut out: Vec<ImageInfo> = Vec::new();
    for (_, rs) in replica_sets.iter().filter(|r| r.1.replicas > 0) {
        let roles = [
            (rs.canary, "canary"),
            (rs.stable, "stable"),
            (rs.active, "active"),
            (rs.preview, "preview"),
            (rs.ping, "ping"),
            (rs.pong, "pong"),
        ];
        for image in &rs.images {
            let tags = roles.iter().filter(|r| r.0).map(|r| r.1.to_string()).collect();
            merge_image(&mut out, ImageInfo { image: image.clone(), tags });
        }
    }
    for image in experiments.iter().flat_map(|e| e.images.iter()) {
        merge_image(&mut out, image.clone());
    }
    out
}

/// What the rollout waits for, in words, from its phase and current step.
fn waiting_for(
    ro: &Rollout,
    phase: RolloutPhase,
    message: &str,
    runs: &[(i64, AnalysisRunInfo)],
    now: DateTime<Utc>,
) -> Option<String> {
    let st = status(ro);
    let name = ro.metadata.name.clone().unwrap_or_default();
    match phase {
        RolloutPhase::Healthy => None,
        RolloutPhase::Degraded => {
            Some(format!("a fix, then `aviary retry rollout {name}` (or `aviary undo {name}` to go back)"))
        }
        RolloutPhase::Paused if ro.spec.paused => Some(format!("a resume: `aviary promote {name}`")),
        RolloutPhase::Paused => {
            let reason = st.pause_conditions.first().map(|c| c.reason);
            if reason == Some(PauseReason::InconclusiveAnalysisRun) {
                return Some(format!("a decision on an inconclusive analysis: `aviary promote {name}` or `abort`"));
            }
            let pause = current_step(ro).0.and_then(|s| s.pause.as_ref());
            match pause.and_then(|p| pause_step_ends_at(p, PauseState::of(ro))) {
                Some(end) if end > now => Some(format!("the pause to end in {}", human_duration(end - now))),
                Some(_) => Some("the pause to end".to_string()),
                None => Some(format!("a promotion: `aviary promote {name}`")),
            }
        }
        RolloutPhase::Progressing => {
            let step = current_step(ro).0;
            // A step's analysis, or a blue-green promotion analysis still running.
            let step_run =
                step.filter(|s| s.analysis.is_some()).and(st.canary.current_step_analysis_run_status.as_ref());
            let promotion_run = ro.spec.blue_green().and_then(|_| {
                [&st.blue_green.post_promotion_analysis_run_status, &st.blue_green.pre_promotion_analysis_run_status]
                    .into_iter()
                    .flatten()
                    .find(|r| !r.phase().is_completed())
            });
            if let Some(run) = step_run.or(promotion_run) {
                let detail = runs
                    .iter()
                    .find(|r| r.1.name == run.name)
                    .map(|r| {
                        let done = r.1.successful + r.1.failed + r.1.inconclusive + r.1.error;
                        format!(", {done} measurement{} so far", if done == 1 { "" } else { "s" })
                    })
                    .unwrap_or_default();
                return Some(format!("analysis {} ({}{detail})", run.name, run.phase().as_str()));
            }
            if let Some(w) = step.and_then(|s| s.set_weight) {
                return Some(format!("canary pods for setWeight {w}: {message}"));
            }
            // The controller's messages read "waiting for X" or state what is missing.
            let message = message.strip_prefix("waiting for ").unwrap_or(message);
            (!message.is_empty()).then(|| message.to_string())
        }
    }
}

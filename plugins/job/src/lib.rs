//! `aviary/job` (Argo's `job` provider): a measurement is a Kubernetes Job; it succeeds when the
//! Job completes and fails when the Job fails.
//!
//! Argo's behaviour, through the host's `kubernetes` import (contract 0.2.0) instead of the
//! controller's own client, so the component reaches only what [`GRANTS`] lists, in the
//! AnalysisRun's namespace:
//!
//! - `measure` creates the Job `<run-uid>.<metric>.<n>` (`n` = the metric's measurements and
//!   errors so far + 1; the metric name cut so that the name fits 63 characters), with the
//!   metric's `metadata` labels and annotations plus Argo's (`analysisrun.argoproj.io/uid` label
//!   on the Job and its pods; `…/name`, `…/namespace`, `…/metric-name` annotations), owned by the
//!   AnalysisRun. A Job of that name that the run already owns (a measurement taken again after a
//!   controller restart) is adopted; one owned by another run is an error. The measurement is
//!   Running with the `job-name` and `job-namespace` metadata Argo writes.
//! - `resume` reads the Job: a `Complete` condition is Successful, `Failed` is Failed; a pod
//!   whose container waits with `ErrImagePull`, `ImagePullBackOff` or `InvalidImageName` is
//!   Inconclusive with the pod's message; otherwise it is polled again after √(2 × elapsed)
//!   seconds, Argo's back-off.
//! - `terminate` deletes the Job (its pods first, as Argo's foreground deletion) and is
//!   Inconclusive.
//! - Older Jobs of the same run and metric beyond the newest [`KEEP`] are deleted after each
//!   create (Argo's `GarbageCollect`, which counts the run's Jobs of every metric together; here
//!   each metric keeps its own, so one metric never deletes another's running Job).
//!
//! The only Argo difference: Jobs go in the AnalysisRun's namespace always (Argo's
//! `--analysis-jobs-namespace` and custom job kubeconfig are not supported: the host confines
//! every call to the run's namespace).

use std::time::Duration;

use aviary_plugin_sdk::kubernetes::{Error as KubeError, Grant, ObjectRef, Verb};
use aviary_plugin_sdk::provider2::{Context, Error, Measurement, Phase, Provider};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// `measurement.metadata` key of the Job's name (Argo's `JobNameKey`).
pub const JOB_NAME_KEY: &str = "job-name";
/// `measurement.metadata` key of the Job's namespace (Argo's `JobNamespaceKey`).
pub const JOB_NAMESPACE_KEY: &str = "job-namespace";
/// Label on the Job and its pods: the AnalysisRun's UID.
pub const RUN_UID_LABEL: &str = "analysisrun.argoproj.io/uid";
/// Annotation: the AnalysisRun's name.
pub const RUN_NAME_ANNOTATION: &str = "analysisrun.argoproj.io/name";
/// Annotation: the AnalysisRun's namespace.
pub const RUN_NAMESPACE_ANNOTATION: &str = "analysisrun.argoproj.io/namespace";
/// Annotation: the metric's name.
pub const METRIC_ANNOTATION: &str = "analysisrun.argoproj.io/metric-name";
/// Jobs kept per run and metric (Argo's default measurement history limit).
pub const KEEP: usize = 10;
/// Kubernetes' limit on a Job name (Argo's `Kubernetes_DNS_Limit`).
pub const NAME_LIMIT: usize = 63;

/// What the component's code needs, no more: the registry's default grants for `aviary/job`.
pub const GRANTS: &[Grant] = &[
    Grant { api_group: "batch", kinds: &["Job"], verbs: &[Verb::Get, Verb::List, Verb::Create, Verb::Delete] },
    Grant { api_group: "", kinds: &["Pod"], verbs: &[Verb::List] },
];

const JOB_API: &str = "batch/v1";

/// Container waiting reasons that never resolve on their own (Argo's `terminalWaitingReasons`).
const TERMINAL_WAITING: &[&str] = &["ErrImagePull", "ImagePullBackOff", "InvalidImageName"];

/// Argo's `JobMetric`: the Job's metadata and spec.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// Labels and annotations for the Job.
    #[serde(default)]
    pub metadata: JobMetadata,
    /// The Job's spec, as in a Job manifest.
    pub spec: Option<Value>,
}

/// The metadata a metric gives its Jobs.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct JobMetadata {
    /// Labels.
    #[serde(default)]
    pub labels: Map<String, Value>,
    /// Annotations.
    #[serde(default)]
    pub annotations: Map<String, Value>,
}

/// The provider.
pub struct Job;

impl Provider for Job {
    type Config = Config;

    fn measure(ctx: &Context<'_>, config: Config) -> Result<Measurement, Error> {
        let job = new_job(ctx, &config)?;
        let name = job["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let created = match ctx.cluster().create(&job) {
            Ok(created) => created,
            Err(KubeError::Conflict(reason)) => adopt(ctx, &name, &reason)?,
            Err(e) => return Err(Error::msg(format!("job create {name} failed: {e}"))),
        };
        collect_garbage(ctx)?;
        Ok(Measurement::running(Duration::ZERO)
            .with_metadata(JOB_NAME_KEY, created["metadata"]["name"].as_str().unwrap_or(&name))
            .with_metadata(JOB_NAMESPACE_KEY, ctx.namespace.as_str()))
    }

    fn resume(ctx: &Context<'_>, _config: Config, measurement: Measurement) -> Result<Measurement, Error> {
        let name = job_name(&measurement)?;
        let job = ctx.cluster().get(&ObjectRef::new(JOB_API, "Job", name.as_str()))?;
        if let Some(phase) = finished(&job) {
            return Ok(Measurement { phase, resume_after: None, ..measurement });
        }
        let selector = selector(&job);
        let pods = ctx.cluster().list("v1", "Pod", selector.as_deref())?;
        if let Some(message) = pods.iter().find_map(terminal_error) {
            return Ok(Measurement { phase: Phase::Inconclusive, message, resume_after: None, ..measurement });
        }
        Ok(Measurement { resume_after: Some(backoff(&job)), ..measurement })
    }

    fn terminate(ctx: &Context<'_>, _config: Config, measurement: Measurement) -> Result<Measurement, Error> {
        let name = job_name(&measurement)?;
        match ctx.cluster().delete(&ObjectRef::new(JOB_API, "Job", name.as_str())) {
            Ok(()) | Err(KubeError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(Measurement { phase: Phase::Inconclusive, resume_after: None, ..measurement })
    }
}

aviary_plugin_sdk::export_provider_v0_2!(Job);

/// Argo's `newJobName`: `<run-uid>.<metric>.<n>`, the metric name cut to fit [`NAME_LIMIT`].
pub fn job_name_for(run_uid: &str, metric: &str, sequence: u32) -> String {
    let sequence = sequence.max(1);
    let name = format!("{run_uid}.{metric}.{sequence}");
    if name.len() <= NAME_LIMIT {
        return name;
    }
    let over = name.len() - NAME_LIMIT;
    let mut keep = metric.len().saturating_sub(over);
    while !metric.is_char_boundary(keep) {
        keep -= 1;
    }
    format!("{run_uid}.{}.{sequence}", &metric[..keep])
}

/// Argo's `newMetricJob`.
fn new_job(ctx: &Context<'_>, config: &Config) -> Result<Value, Error> {
    let Some(Value::Object(spec)) = &config.spec else {
        return Err(Error::msg("provider.job.spec: a Job spec (with a pod template) is required"));
    };
    let mut spec = spec.clone();
    let mut labels = config.metadata.labels.clone();
    labels.insert(RUN_UID_LABEL.into(), ctx.run_uid.clone().into());
    let mut annotations = config.metadata.annotations.clone();
    annotations.insert(RUN_NAME_ANNOTATION.into(), ctx.run_name.clone().into());
    annotations.insert(RUN_NAMESPACE_ANNOTATION.into(), ctx.namespace.clone().into());
    annotations.insert(METRIC_ANNOTATION.into(), ctx.metric_name.clone().into());
    let template = spec.entry("template").or_insert_with(|| json!({}));
    let Some(template) = template.as_object_mut() else {
        return Err(Error::msg("provider.job.spec.template: must be a pod template object"));
    };
    let metadata = template.entry("metadata").or_insert_with(|| json!({}));
    if let Some(metadata) = metadata.as_object_mut() {
        let pod_labels = metadata.entry("labels").or_insert_with(|| json!({}));
        if let Some(pod_labels) = pod_labels.as_object_mut() {
            pod_labels.insert(RUN_UID_LABEL.into(), ctx.run_uid.clone().into());
        }
    }
    Ok(json!({
        "apiVersion": JOB_API,
        "kind": "Job",
        "metadata": {
            "name": job_name_for(&ctx.run_uid, &ctx.metric_name, ctx.sequence),
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [ctx.controller_reference()],
        },
        "spec": spec,
    }))
}

/// A Job of our name exists: ours (a measurement taken again) is adopted; another run's is the
/// create's error, as in Argo.
fn adopt(ctx: &Context<'_>, name: &str, reason: &str) -> Result<Value, Error> {
    let existing = ctx
        .cluster()
        .get(&ObjectRef::new(JOB_API, "Job", name))
        .map_err(|_| Error::msg(format!("job create {name} failed: {reason}")))?;
    let owner = existing["metadata"]["ownerReferences"]
        .as_array()
        .and_then(|refs| refs.iter().find(|r| r["controller"] == json!(true)))
        .and_then(|r| r["uid"].as_str())
        .unwrap_or_default();
    if owner != ctx.run_uid {
        return Err(Error::msg(format!("job create {name} failed: {reason}")));
    }
    Ok(existing)
}

/// Deletes this run's and metric's Jobs beyond the newest [`KEEP`] (by their number).
fn collect_garbage(ctx: &Context<'_>) -> Result<(), Error> {
    let selector = format!("{RUN_UID_LABEL}={}", ctx.run_uid);
    let jobs = ctx.cluster().list(JOB_API, "Job", Some(&selector))?;
    let mut ours: Vec<(u64, String)> = jobs
        .iter()
        .filter(|j| j["metadata"]["annotations"][METRIC_ANNOTATION] == json!(ctx.metric_name))
        .filter_map(|j| {
            let name = j["metadata"]["name"].as_str()?;
            let number = name.rsplit('.').next()?.parse().ok()?;
            Some((number, name.to_string()))
        })
        .collect();
    ours.sort();
    let excess = ours.len().saturating_sub(KEEP);
    for (_, name) in ours.into_iter().take(excess) {
        match ctx.cluster().delete(&ObjectRef::new(JOB_API, "Job", name.as_str())) {
            Ok(()) | Err(KubeError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Argo's `getJobNamespacedName`: the Job the measurement is about.
fn job_name(m: &Measurement) -> Result<String, Error> {
    m.metadata
        .get(JOB_NAME_KEY)
        .filter(|n| !n.is_empty())
        .cloned()
        .ok_or_else(|| Error::msg("job metadata reference missing"))
}

/// Argo reads the condition types only: `Complete` is success, `Failed` failure (the last one
/// listed wins, as in Argo's loop).
fn finished(job: &Value) -> Option<Phase> {
    let conditions = job["status"]["conditions"].as_array()?;
    conditions.iter().fold(None, |phase, c| match c["type"].as_str() {
        Some("Complete") => Some(Phase::Successful),
        Some("Failed") => Some(Phase::Failed),
        _ => phase,
    })
}

/// The Job's pod selector (`spec.selector.matchLabels`) as a label selector string.
fn selector(job: &Value) -> Option<String> {
    let labels = job["spec"]["selector"]["matchLabels"].as_object()?;
    let parts: Vec<String> = labels.iter().filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}"))).collect();
    (!parts.is_empty()).then(|| parts.join(","))
}

/// Argo's `processJobPods`: the first container (init containers first) waiting for a reason
/// that never resolves.
fn terminal_error(pod: &Value) -> Option<String> {
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    ["initContainerStatuses", "containerStatuses"].iter().find_map(|field| {
        pod["status"][field].as_array()?.iter().find_map(|cs| {
            let waiting = &cs["state"]["waiting"];
            let reason = waiting["reason"].as_str()?;
            TERMINAL_WAITING.contains(&reason).then(|| {
                format!(
                    "Pod {name}, container {} has terminal error ({reason}): {}",
                    cs["name"].as_str().unwrap_or_default(),
                    waiting["message"].as_str().unwrap_or_default()
                )
            })
        })
    })
}

/// Argo's back-off: √(2 × seconds since the Job was created), at least one second.
fn backoff(job: &Value) -> Duration {
    let created =
        job["metadata"]["creationTimestamp"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
    let elapsed = created.map_or(0.0, |c| {
        (chrono::Utc::now() - c.with_timezone(&chrono::Utc)).num_milliseconds().max(0) as f64 / 1000.0
    });
    Duration::from_secs_f64((2.0 * elapsed).sqrt().max(1.0))
}

#[cfg(test)]
mod tests;

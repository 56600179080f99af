//! The AnalysisRun controller: takes the measurements that are due, each through the provider
//! plugin the metric names, judges values with the condition plugin in force, and writes the
//! run's status as Argo does (reference §3). Metrics of one run are measured concurrently, and
//! runs are reconciled concurrently: a slow provider delays only its own run.

pub mod aws;
pub mod credentials;
pub mod judge;
pub mod profile_secrets;
pub mod providers;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aviary_api::analysis::{AnalysisRun, Argument, Measurement, Metric};
use aviary_api::{AnalysisPhase, Time};
use aviary_engine::analysis::args::{ArgsError, redact, resolve_metric_args, resolve_secrets};
use aviary_engine::analysis::measurement::{Answer, Running, settle_running, stored_measurement};
use aviary_engine::analysis::reconcile as reconcile_run;
use aviary_engine::analysis::retention::{Fit, MIN_STATUS_BUDGET_BYTES, fit_status, json_size};
use aviary_engine::analysis::run::{RunAssessment, apply_assessment, is_terminating, prepare};
use aviary_plugins::measurement::DEFAULT_RESUME_AFTER;
use aviary_plugins::{CallContext, Phase};
use chrono::{DateTime, Utc};
use judge::{Conditions, judge};
use k8s_openapi::api::core::v1::Secret;
use kube::api::DeleteParams;
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use tracing::instrument;

use crate::context::Context;
use crate::error::Error;

/// Reconciles one AnalysisRun.
#[instrument(skip_all, fields(
    run = %run.name_any(),
    namespace = run.namespace().unwrap_or_default(),
    rollout = run.owner_references().iter().find(|o| o.kind == "Rollout").map(|o| o.name.clone()),
    revision = run.labels().get("rollouts-pod-template-hash").cloned(),
    step = run.labels().get(crate::rollout::analysis::STEP_INDEX).cloned(),
))]
pub async fn reconcile(run: Arc<AnalysisRun>, ctx: Arc<Context>) -> Result<Action, Error> {
    let now = Utc::now();
    if run.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let status = run.status.clone().unwrap_or_default();
    if status.phase.is_completed() {
        return ttl(&ctx, &run, now).await;
    }
    let prepared = match prepare(&run.spec) {
        Ok(p) => p,
        Err(assessment) => return finish_error(&ctx, &run, assessment, now).await,
    };
    let (args, secrets) = match resolve_args(&ctx, &run).await? {
        Ok(resolved) => resolved,
        Err(message) => {
            let a = RunAssessment {
                phase: AnalysisPhase::Error,
                message: format!("Unable to resolve metric arguments: {message}"),
            };
            return finish_error(&ctx, &run, a, now).await;
        }
    };
    let terminating = is_terminating(run.spec.terminate, &status);
    let tasks = reconcile_run::due(&prepared, run.spec.terminate, &status, now);
    let condition_plugin = ctx.condition_plugin();
    // Each task with its metric, prepared and as written (same index in both lists).
    let due: Vec<_> = tasks
        .iter()
        .filter_map(|t| Some((t, prepared.metrics.get(t.metric_index)?, run.spec.metrics.get(t.metric_index)?)))
        .collect();
    let measured = futures::future::join_all(due.iter().map(|(task, metric, written)| {
        let in_flight = task
            .resume
            .then(|| status.metric_results.iter().find(|r| r.name == metric.name))
            .flatten()
            .and_then(|r| r.measurements.last())
            .cloned();
        let full = resolve_metric_args(written, &args);
        measure(&ctx, &run, metric.name.clone(), full, in_flight, terminating, &secrets, &condition_plugin)
    }))
    .await;
    let before = status.clone();
    let decision = reconcile_run::settle(
        &prepared,
        run.spec.terminate,
        status,
        due.iter().map(|(task, _, _)| *task).zip(measured),
        &secrets,
        now,
    );
    let written = write(&ctx, &run, decision.status, now).await?;
    for e in reconcile_run::events(&before, &written) {
        ctx.event(&*run, e.warning, &e.reason, e.message).await;
    }
    Ok(Action::requeue(reconcile_run::requeue_after(&prepared, &before, &written, now)))
}

/// Backs off on errors.
pub fn error_policy(run: Arc<AnalysisRun>, error: &Error, ctx: Arc<Context>) -> Action {
    tracing::warn!(run = %run.name_any(), "reconcile failed: {error}");
    Action::requeue(error.retry_after(&ctx))
}

/// Resolves `valueFrom.secretKeyRef` arguments from Secrets in the run's namespace. The outer
/// error is an API failure (retried); the inner one a missing secret or key (the run errors).
async fn resolve_args(
    ctx: &Context,
    run: &AnalysisRun,
) -> Result<Result<(Vec<Argument>, Vec<String>), ArgsError>, Error> {
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &run.namespace().unwrap_or_default());
    let mut secrets: BTreeMap<String, Option<Secret>> = BTreeMap::new();
    for arg in &run.spec.args {
        if let Some(r) = arg.value_from.as_ref().and_then(|v| v.secret_key_ref.as_ref())
            && !secrets.contains_key(&r.name)
        {
            let s = api.get_opt(&r.name).await.map_err(Error::kube(format!("reading Secret {}", r.name)))?;
            secrets.insert(r.name.clone(), s);
        }
    }
    let mut lookup = |name: &str, key: &str| -> Option<String> {
        let secret = secrets.get(name)?.as_ref()?;
        let bytes = secret.data.as_ref()?.get(key)?;
        String::from_utf8(bytes.0.clone()).ok()
    };
    Ok(resolve_secrets(&run.spec.args, &mut lookup))
}

/// Datadog's keys from the Secret its `secretRef` names (or the controller's environment, as
/// Argo does). Read for every measurement, so a rotated key applies at the next one.
async fn datadog_credentials(
    ctx: &Context,
    run: &AnalysisRun,
    secret_ref: &aviary_api::analysis::SecretRef,
) -> Result<credentials::DatadogCredentials, String> {
    use credentials::SecretLookup;
    let location =
        credentials::datadog_secret_location(secret_ref, &ctx.namespace, &run.namespace().unwrap_or_default());
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &location.0);
    let secret = api.get_opt(&location.1).await;
    let lookup = match &secret {
        Ok(Some(s)) => SecretLookup::Found(s.data.as_ref()),
        Ok(None) => SecretLookup::NotFound,
        Err(e) => SecretLookup::Unreadable(e.to_string()),
    };
    credentials::datadog_credentials(&location, lookup, |k| std::env::var(k).ok())
}

/// Takes (or resumes, or terminates) one measurement and judges it.
#[allow(clippy::too_many_arguments)]
async fn measure(
    ctx: &Context,
    run: &AnalysisRun,
    metric_name: String,
    metric: Result<Metric, ArgsError>,
    in_flight: Option<Measurement>,
    terminating: bool,
    secrets: &[String],
    condition_plugin: &str,
) -> Measurement {
    let started = Utc::now();
    let error = |message: String| Measurement {
        phase: AnalysisPhase::Error,
        message: redact(&message, secrets),
        started_at: Some(Time(started)),
        finished_at: Some(Time(Utc::now())),
        ..Default::default()
    };
    let metric = match metric {
        Ok(m) => m,
        Err(e) => return error(format!("Unable to resolve metric arguments: {e}")),
    };
    let (plugin, mut config) = match providers::plugin_for(&metric) {
        Ok(p) => p,
        Err(e) => return error(e),
    };
    // kayenta's `lookback` starts at the run's start (not set yet at its first reconcile: now).
    if metric.provider.kayenta.is_some() {
        let run_started = run.status.as_ref().and_then(|s| s.started_at).map_or(started, |t| t.0);
        match providers::with_run_started_at(&config, run_started) {
            Ok(with_start) => config = with_start,
            Err(e) => return error(e),
        }
    }
    let mut secrets = secrets.to_vec();
    if let Some(datadog) = &metric.provider.datadog {
        match datadog_credentials(ctx, run, &datadog.secret_ref).await.and_then(|c| {
            secrets.extend(c.secrets());
            c.merge_into(&config)
        }) {
            Ok(with_keys) => config = with_keys,
            Err(e) => return error(e),
        }
    }
    // influxdb, wavefront and newRelic: the Secret Argo reads, in the controller's namespace.
    match profile_secrets::resolve(&ctx.client, &ctx.namespace, &metric, &config).await {
        Some(Ok(resolved)) => {
            secrets.extend(resolved.secrets);
            config = resolved.config;
        }
        Some(Err(e)) => return error(e),
        None => {}
    }
    // cloudWatch and Amazon Managed Prometheus sign with the AWS SDK chain's credentials.
    if let Some((profile, role_arn)) = aws::source(&metric.provider) {
        match ctx.aws.keys(&profile, &role_arn).await.and_then(|keys| {
            secrets.extend(keys.secrets());
            aws::add_credentials(&metric.provider, &config, &keys)
        }) {
            Ok(Some(with_keys)) => config = with_keys,
            Ok(None) => {}
            Err(e) => return error(e),
        }
    }
    let secrets = secrets.as_slice();
    // Argo's job provider numbers a metric's Jobs `count + error + 1`.
    let sequence = run
        .status
        .as_ref()
        .and_then(|s| s.metric_results.iter().find(|r| r.name == metric_name))
        .map_or(1, |r| r.count.saturating_add(r.error).saturating_add(1));
    let call = CallContext {
        namespace: run.namespace().unwrap_or_default(),
        run_name: run.name_any(),
        metric_name: metric_name.clone(),
        run_uid: run.metadata.uid.clone().unwrap_or_default(),
        sequence: u32::try_from(sequence).unwrap_or(0),
    };
    let span = tracing::info_span!("measurement", metric = %metric_name, plugin = %plugin);
    let _enter = span.enter();
    let started_at = in_flight.as_ref().and_then(|p| p.started_at).unwrap_or(Time(started));
    // A measurement that has been Running for too long is terminated (the provider may clean up)
    // and ends as Error, whatever the provider answers.
    let overdue = match settle_running(started_at.0, started, Duration::ZERO, ctx.max_measurement_running) {
        Running::Overdue(reason) if in_flight.is_some() => Some(reason),
        _ => None,
    };
    let m = match &in_flight {
        Some(previous) => {
            let host_m = providers::to_host(previous);
            if terminating || overdue.is_some() {
                ctx.plugins.terminate(&plugin, &call, &config, &host_m).await
            } else {
                ctx.plugins.resume(&plugin, &call, &config, &host_m).await
            }
        }
        None => ctx.plugins.measure(&plugin, &call, &config).await,
    };
    let finished = Utc::now();
    let (phase, message) = match m.phase {
        Phase::Measured => {
            let conditions = Conditions {
                success: (!metric.success_condition.is_empty()).then_some(metric.success_condition.as_str()),
                failure: (!metric.failure_condition.is_empty()).then_some(metric.failure_condition.as_str()),
            };
            let verdict = judge(&ctx.plugins, condition_plugin, m.value.as_deref(), conditions).await;
            let message = if verdict.message.is_empty() { m.message.clone() } else { verdict.message };
            (verdict.phase, message)
        }
        Phase::Running => (AnalysisPhase::Running, m.message.clone()),
        Phase::Successful => (AnalysisPhase::Successful, m.message.clone()),
        Phase::Failed => (AnalysisPhase::Failed, m.message.clone()),
        Phase::Inconclusive => (AnalysisPhase::Inconclusive, m.message.clone()),
        Phase::Error => (AnalysisPhase::Error, m.message.clone()),
    };
    if let Some(f) = &m.failure {
        tracing::warn!(reason = f.reason(), "plugin call failed: {f}");
    }
    let answer = Answer {
        phase,
        message,
        value: m.value.unwrap_or_default(),
        metadata: m.metadata,
        resume_after: m.resume_after.unwrap_or(DEFAULT_RESUME_AFTER),
    };
    if let Some(reason) = &overdue {
        tracing::warn!("{reason}: terminated");
    }
    // An overdue measurement is Aviary's own Error; any other answer to resume or terminate
    // keeps what Argo keeps.
    let follow_up = in_flight.as_ref().filter(|_| overdue.is_none());
    let mut stored = stored_measurement(answer, started_at.0, finished, ctx.max_measurement_running, overdue);
    if let Some(previous) = follow_up {
        stored = aviary_engine::analysis::measurement::followed_up(previous, stored, terminating);
    }
    stored.message = redact(&stored.message, secrets);
    stored
}

async fn finish_error(
    ctx: &Context,
    run: &AnalysisRun,
    assessment: RunAssessment,
    now: DateTime<Utc>,
) -> Result<Action, Error> {
    let mut status = run.status.clone().unwrap_or_default();
    if status.started_at.is_none() {
        status.started_at = Some(Time(now));
    }
    apply_assessment(&mut status, &assessment, now);
    let status = write(ctx, run, status, now).await?;
    let e = reconcile_run::completion_event(status.phase);
    ctx.event(run, e.warning, &e.reason, e.message).await;
    Ok(Action::requeue(Duration::from_secs(1)))
}

/// A status refused as too large is fitted into half the budget and written again, this often.
const MAX_TOO_LARGE_RETRIES: u32 = 3;

/// Writes the whole status with the resourceVersion it was computed from (see [`status_write`]),
/// kept within what the API server accepts ([`fit_status`]); returns the status written.
///
/// The budget is the object's (`--analysis-run-budget`, by default
/// [`OBJECT_BUDGET_BYTES`](aviary_engine::analysis::retention::OBJECT_BUDGET_BYTES)) less what the rest of the object
/// weighs. Should the API server still refuse the write as too large (a smaller etcd limit than
/// the default), the status is fitted into half the budget and written again, down to an eighth,
/// so a run is never stuck behind a write that cannot succeed.
///
/// [`status_write`]: crate::status_write
async fn write(
    ctx: &Context,
    run: &AnalysisRun,
    mut status: aviary_api::AnalysisRunStatus,
    now: DateTime<Utc>,
) -> Result<aviary_api::AnalysisRunStatus, Error> {
    let mut rest = run.clone();
    rest.status = None;
    let mut budget = ctx.analysis_run_budget.saturating_sub(json_size(&rest)).max(MIN_STATUS_BUDGET_BYTES);
    let action = format!("writing the status of AnalysisRun {}", run.name_any());
    let api: Api<AnalysisRun> = Api::namespaced(ctx.client.clone(), &run.namespace().unwrap_or_default());
    let mut retries = 0u32;
    loop {
        fit(run, &mut status, budget, now);
        if run.status.as_ref() == Some(&status) {
            return Ok(status);
        }
        let mut next = run.clone();
        next.status = Some(status.clone());
        let how = crate::status_write::Write::Patch;
        match crate::status_write::write_status(&api, run, &next, how, &ctx.status_subresources.analysis_run).await {
            Ok(_) => return Ok(status),
            Err(e) if retries < MAX_TOO_LARGE_RETRIES && crate::error::is_too_large(&e) => {
                tracing::warn!(run = %run.name_any(), budget, "status refused as too large; fitting it into half");
                budget /= 2;
                retries = retries.saturating_add(1);
            }
            Err(e) => return Err(Error::kube(action)(e)),
        }
    }
}

/// Fits `status` into `budget` bytes; when even that needs the measurements emptied, the run ends
/// as Error with the reason.
fn fit(run: &AnalysisRun, status: &mut aviary_api::AnalysisRunStatus, budget: usize, now: DateTime<Utc>) {
    match fit_status(status, budget) {
        Fit::AsIs => {}
        Fit::Trimmed { dropped } => {
            tracing::info!(run = %run.name_any(), dropped, budget, "oldest measurements dropped to fit the status");
        }
        Fit::Shrunk { message } => {
            tracing::warn!(run = %run.name_any(), "{message}");
            if !status.phase.is_completed() {
                apply_assessment(status, &RunAssessment { phase: AnalysisPhase::Error, message }, now);
            }
        }
    }
}

/// Deletes a completed run once its `ttlStrategy` says so.
async fn ttl(ctx: &Context, run: &AnalysisRun, now: DateTime<Utc>) -> Result<Action, Error> {
    let Some(ttl) = &run.spec.ttl_strategy else { return Ok(Action::await_change()) };
    let status = run.status.clone().unwrap_or_default();
    let Some(completed) = status.completed_at else { return Ok(Action::await_change()) };
    let seconds = match status.phase {
        AnalysisPhase::Successful => ttl.seconds_after_success.or(ttl.seconds_after_completion),
        AnalysisPhase::Failed | AnalysisPhase::Error | AnalysisPhase::Inconclusive => {
            ttl.seconds_after_failure.or(ttl.seconds_after_completion)
        }
        _ => None,
    };
    let Some(seconds) = seconds else { return Ok(Action::await_change()) };
    let expires = aviary_engine::clock::after_seconds(completed.0, i64::from(seconds));
    if expires > now {
        return Ok(Action::requeue(aviary_engine::clock::until(now, expires)));
    }
    let api: Api<AnalysisRun> = Api::namespaced(ctx.client.clone(), &run.namespace().unwrap_or_default());
    match api.delete(&run.name_any(), &DeleteParams::default()).await {
        Ok(_) => Ok(Action::await_change()),
        Err(e) if crate::error::is_not_found(&e) => Ok(Action::await_change()),
        Err(e) => Err(Error::kube(format!("deleting expired AnalysisRun {}", run.name_any()))(e)),
    }
}

//! The AnalysisRun controller: takes the measurements that are due, each through the provider
//! plugin the metric names, judges values with the condition plugin in force, and writes the
//! run's status as Argo does (reference §3). Metrics of one run are measured concurrently, and
//! runs are reconciled concurrently: a slow provider delays only its own run.

pub mod credentials;
pub mod providers;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aviary_api::analysis::{AnalysisRun, Argument, Measurement, Metric};
use aviary_api::{AnalysisPhase, Time};
use aviary_engine::analysis::args::{redact, resolve_metric_args, resolve_secrets};
use aviary_engine::analysis::metric::{record_measurement, result_mut};
use aviary_engine::analysis::retention::trim_measurements;
use aviary_engine::analysis::run::{RunAssessment, apply_assessment, assess_run, is_terminating, prepare};
use aviary_engine::analysis::schedule::{metric_tasks, next_reconcile_time};
use aviary_plugins::judge::{Conditions, judge};
use aviary_plugins::{CallContext, Phase};
use chrono::{DateTime, Utc};
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
    let mut status = run.status.clone().unwrap_or_default();
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
    let tasks = metric_tasks(&prepared.metrics, &status, terminating, now);
    let condition_plugin = ctx.condition_plugin();
    let measured = futures::future::join_all(tasks.iter().map(|task| {
        let metric = &prepared.metrics[task.metric_index];
        let in_flight = task
            .resume
            .then(|| status.metric_results.iter().find(|r| r.name == metric.name))
            .flatten()
            .and_then(|r| r.measurements.last())
            .cloned();
        let full = resolve_metric_args(&run.spec.metrics[task.metric_index], &args);
        measure(&ctx, &run, metric.name.clone(), full, in_flight, terminating, &secrets, &condition_plugin)
    }))
    .await;
    for (task, measurement) in tasks.iter().zip(measured) {
        let metric = &prepared.metrics[task.metric_index];
        let is_dry = prepared.dry_run.contains(&metric.name);
        let resumed = task.resume;
        record_measurement(result_mut(&mut status, &metric.name, is_dry), measurement, resumed);
    }
    let before = status.phase;
    let assessment = assess_run(&prepared.metrics, run.spec.terminate, &prepared.dry_run, &mut status, now);
    apply_assessment(&mut status, &assessment, now);
    trim_measurements(&mut status, &prepared.retention);
    for r in &mut status.metric_results {
        r.message = redact(&r.message, &secrets);
    }
    status.message = redact(&status.message, &secrets);
    let completed_now = status.phase.is_completed() && !before.is_completed();
    write(&ctx, &run, status.clone()).await?;
    if completed_now {
        ctx.event(
            &*run,
            matches!(status.phase, AnalysisPhase::Failed | AnalysisPhase::Error),
            &format!("AnalysisRun{}", status.phase),
            format!("Analysis Run completed. Status: {}, Message: {}", status.phase, status.message),
        )
        .await;
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    let next = next_reconcile_time(&prepared.metrics, &status, now);
    let wait =
        next.map_or(Duration::from_secs(300), |t| (t - now).to_std().unwrap_or_default() + Duration::from_millis(50));
    Ok(Action::requeue(wait.max(Duration::from_millis(100))))
}

/// Backs off on errors.
pub fn error_policy(run: Arc<AnalysisRun>, error: &Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!(run = %run.name_any(), "reconcile failed: {error}");
    if error.is_conflict() {
        Action::requeue(Duration::from_millis(200))
    } else {
        Action::requeue(Duration::from_secs(5))
    }
}

/// Resolves `valueFrom.secretKeyRef` arguments from Secrets in the run's namespace. The outer
/// error is an API failure (retried); the inner one a missing secret or key (the run errors).
async fn resolve_args(ctx: &Context, run: &AnalysisRun) -> Result<Result<(Vec<Argument>, Vec<String>), String>, Error> {
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
    metric: Result<Metric, String>,
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
    let secrets = secrets.as_slice();
    let call = CallContext {
        namespace: run.namespace().unwrap_or_default(),
        run_name: run.name_any(),
        metric_name: metric_name.clone(),
    };
    let span = tracing::info_span!("measurement", metric = %metric_name, plugin = %plugin);
    let _enter = span.enter();
    let m = match &in_flight {
        Some(previous) => {
            let host_m = providers::to_host(previous);
            if terminating {
                ctx.plugins.terminate(&plugin, &call, &config, &host_m).await
            } else {
                ctx.plugins.resume(&plugin, &call, &config, &host_m).await
            }
        }
        None => ctx.plugins.measure(&plugin, &call, &config).await,
    };
    let started_at = in_flight.as_ref().and_then(|p| p.started_at).unwrap_or(Time(started));
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
    let running = phase == AnalysisPhase::Running;
    Measurement {
        phase,
        message: redact(&message, secrets),
        started_at: Some(started_at),
        finished_at: (!running).then_some(Time(finished)),
        value: m.value.clone().unwrap_or_default(),
        metadata: m.metadata.clone(),
        resume_at: running.then(|| {
            Time(
                finished
                    + chrono::Duration::from_std(m.resume_after.unwrap_or(Duration::from_secs(10))).unwrap_or_default(),
            )
        }),
    }
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
    write(ctx, run, status.clone()).await?;
    ctx.event(
        run,
        true,
        "AnalysisRunError",
        format!("Analysis Run completed. Status: Error, Message: {}", status.message),
    )
    .await;
    Ok(Action::requeue(Duration::from_secs(1)))
}

/// Writes the whole status with the resourceVersion it was computed from (see [`status_write`]).
///
/// [`status_write`]: crate::status_write
async fn write(ctx: &Context, run: &AnalysisRun, status: aviary_api::AnalysisRunStatus) -> Result<(), Error> {
    if run.status.as_ref() == Some(&status) {
        return Ok(());
    }
    let mut next = run.clone();
    next.status = Some(status);
    let api: Api<AnalysisRun> = Api::namespaced(ctx.client.clone(), &run.namespace().unwrap_or_default());
    crate::status_write::replace_status(&api, run, next)
        .await
        .map_err(Error::kube(format!("writing the status of AnalysisRun {}", run.name_any())))?;
    Ok(())
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
    let expires = completed.0 + chrono::Duration::seconds(i64::from(seconds));
    if expires > now {
        return Ok(Action::requeue((expires - now).to_std().unwrap_or_default()));
    }
    let api: Api<AnalysisRun> = Api::namespaced(ctx.client.clone(), &run.namespace().unwrap_or_default());
    match api.delete(&run.name_any(), &DeleteParams::default()).await {
        Ok(_) => Ok(Action::await_change()),
        Err(e) if crate::error::is_not_found(&e) => Ok(Action::await_change()),
        Err(e) => Err(Error::kube(format!("deleting expired AnalysisRun {}", run.name_any()))(e)),
    }
}

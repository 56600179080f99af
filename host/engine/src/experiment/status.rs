//! An Experiment's status, decided as Argo Rollouts' experiment controller does
//! (docs/design/argo-experiments-and-workloadref.md §A.3): when it is terminating, how many pods
//! each template wants, each template's status from its ReplicaSet, the phase from the templates
//! and the analyses, the Progressing condition, and when to look again.

use std::time::Duration;

use aviary_api::duration::parse_go_duration_chrono;
use aviary_api::experiment::{
    Experiment, ExperimentAnalysisRunStatus, ExperimentCondition, ExperimentStatus, TemplateSpec, TemplateStatus,
    TemplateStatusCode,
};
use aviary_api::{AnalysisPhase, Time};
use chrono::{DateTime, Utc};

use crate::analysis::run::severity;
use crate::conditions::Event;

/// Argo's default `progressDeadlineSeconds` of an experiment.
pub const DEFAULT_PROGRESS_DEADLINE: i32 = 600;
/// Argo's default `scaleDownDelaySeconds` of an experiment.
pub const DEFAULT_SCALE_DOWN_DELAY: i32 = 30;
/// The message of an experiment whose required analyses all succeeded.
pub const REQUIRED_ANALYSIS_COMPLETED: &str = "Required AnalysisRuns completed";

fn status(ex: &Experiment) -> ExperimentStatus {
    ex.status.clone().unwrap_or_default()
}

/// `spec.progressDeadlineSeconds`, defaulted.
pub fn progress_deadline(ex: &Experiment) -> i32 {
    ex.spec.progress_deadline_seconds.unwrap_or(DEFAULT_PROGRESS_DEADLINE)
}

/// `spec.scaleDownDelaySeconds`, defaulted.
pub fn scale_down_delay(ex: &Experiment) -> i32 {
    ex.spec.scale_down_delay_seconds.unwrap_or(DEFAULT_SCALE_DOWN_DELAY)
}

/// The template's status in `s`.
pub fn template_status<'a>(s: &'a ExperimentStatus, name: &str) -> Option<&'a TemplateStatus> {
    s.template_statuses.iter().find(|t| t.name == name)
}

/// The analysis's status in `s`.
pub fn analysis_status<'a>(s: &'a ExperimentStatus, name: &str) -> Option<&'a ExperimentAnalysisRunStatus> {
    s.analysis_runs.iter().find(|a| a.name == name)
}

/// Argo's `HasFinished`.
pub fn finished(ex: &Experiment) -> bool {
    status(ex).phase.is_some_and(AnalysisPhase::is_completed)
}

/// Argo's `RequiredAnalysisRunsSuccessful`: at least one analysis is required for completion and
/// every such one succeeded.
pub fn required_analyses_successful(ex: &Experiment, s: &ExperimentStatus) -> bool {
    let required: Vec<_> = ex.spec.analyses.iter().filter(|a| a.required_for_completion).collect();
    !required.is_empty()
        && required.iter().all(|a| analysis_status(s, &a.name).and_then(|r| r.phase) == Some(AnalysisPhase::Successful))
}

/// Argo's `IsTerminating`, on the stored status: terminated by the user, finished, a template
/// failed or erred, an analysis failed, erred or was inconclusive, or the required analyses all
/// succeeded.
pub fn terminating(ex: &Experiment) -> bool {
    let s = status(ex);
    ex.spec.terminate
        || finished(ex)
        || s.template_statuses
            .iter()
            .any(|t| matches!(t.status, Some(TemplateStatusCode::Failed | TemplateStatusCode::Error)))
        || s.analysis_runs.iter().any(|a| {
            matches!(a.phase, Some(AnalysisPhase::Failed | AnalysisPhase::Error | AnalysisPhase::Inconclusive))
        })
        || required_analyses_successful(ex, &s)
}

/// Argo's `PassedDurations`: whether the experiment ran for its `duration` since `availableAt`
/// (stored), and the time left otherwise.
pub fn passed_duration(ex: &Experiment, now: DateTime<Utc>) -> (bool, Option<Duration>) {
    let s = status(ex);
    let (Some(available), Ok(duration)) = (s.available_at, parse_go_duration_chrono(&ex.spec.duration)) else {
        return (false, None);
    };
    if ex.spec.duration.is_empty() {
        return (false, None);
    }
    let Some(end) = available.0.checked_add_signed(duration) else { return (false, None) };
    if now > end { (true, None) } else { (false, end.signed_duration_since(now).to_std().ok()) }
}

/// Argo's `CalculateTemplateReplicasCount`: none once the experiment finishes or terminates, or
/// the template completed; else `replicas` (default 1).
pub fn desired_replicas(ex: &Experiment, template: &TemplateSpec) -> i32 {
    if terminating(ex) {
        return 0;
    }
    if template_status(&status(ex), &template.name).and_then(|t| t.status).is_some_and(TemplateStatusCode::is_completed)
    {
        return 0;
    }
    template.replicas.unwrap_or(1)
}

/// What a template's ReplicaSet shows (zeros when it has none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// `status.replicas` (Argo reports it as replicas and updated replicas).
    pub replicas: i32,
    /// `status.readyReplicas`.
    pub ready: i32,
    /// `status.availableReplicas`.
    pub available: i32,
}

/// The template's status after this reconcile (Argo's end of `reconcileTemplate`), from its
/// status so far in this reconcile (`current`, which the reconcile's own writes may have moved),
/// the status it had (`previous`), and its ReplicaSet's counts; with the `Template<Status>` event
/// of a change.
pub fn next_template_status(
    ex: &Experiment,
    template: &TemplateSpec,
    previous: Option<&TemplateStatus>,
    mut current: TemplateStatus,
    counts: Counts,
    now: DateTime<Utc>,
) -> (TemplateStatus, Option<Event>) {
    let before =
        previous.cloned().unwrap_or_else(|| TemplateStatus { name: template.name.clone(), ..Default::default() });
    current.replicas = counts.replicas;
    current.updated_replicas = counts.replicas;
    current.ready_replicas = counts.ready;
    current.available_replicas = counts.available;
    if (before.replicas, before.updated_replicas, before.ready_replicas, before.available_replicas)
        != (current.replicas, current.updated_replicas, current.ready_replicas, current.available_replicas)
    {
        current.last_transition_time = Some(Time(now));
    }
    if !current.status.is_some_and(TemplateStatusCode::is_completed) {
        let desired = desired_replicas(ex, template);
        let stopping = terminating(ex);
        current.status = Some(if desired == current.available_replicas {
            if passed_duration(ex, now).0 || stopping {
                TemplateStatusCode::Successful
            } else {
                TemplateStatusCode::Running
            }
        } else {
            let from = current.last_transition_time.map_or(now, |t| t.0);
            let deadline = progress_deadline(ex);
            let at = from.checked_add_signed(chrono::Duration::seconds(i64::from(deadline))).unwrap_or(from);
            if now > at {
                current.message =
                    format!("Template '{}' exceeded its progressDeadlineSeconds ({deadline})", template.name);
                TemplateStatusCode::Failed
            } else if stopping {
                TemplateStatusCode::Successful
            } else {
                TemplateStatusCode::Progressing
            }
        });
    }
    let event = (before.status != current.status).then(|| {
        let name = |s: Option<TemplateStatusCode>| s.map_or("", TemplateStatusCode::as_str);
        let mut message = format!(
            "Template '{}' transitioned from {} -> {}",
            template.name,
            name(before.status),
            name(current.status)
        );
        if !current.message.is_empty() {
            message.push_str(": ");
            message.push_str(&current.message);
        }
        let reason = template_reason(current.status);
        if matches!(current.status, Some(TemplateStatusCode::Failed | TemplateStatusCode::Error)) {
            Event::warning(reason, message)
        } else {
            Event::normal(reason, message)
        }
    });
    (current, event)
}

fn template_reason(s: Option<TemplateStatusCode>) -> &'static str {
    match s {
        Some(TemplateStatusCode::Progressing) => "TemplateProgressing",
        Some(TemplateStatusCode::Running) => "TemplateRunning",
        Some(TemplateStatusCode::Successful) => "TemplateSuccessful",
        Some(TemplateStatusCode::Failed) => "TemplateFailed",
        Some(TemplateStatusCode::Error) => "TemplateError",
        None => "Template",
    }
}

/// Argo's template order, from best to worst: Successful, Running, Progressing, Error, Failed.
fn template_rank(s: TemplateStatusCode) -> u8 {
    match s {
        TemplateStatusCode::Successful => 0,
        TemplateStatusCode::Running => 1,
        TemplateStatusCode::Progressing => 2,
        TemplateStatusCode::Error => 3,
        TemplateStatusCode::Failed => 4,
    }
}

/// Argo's `assessTemplates`: the worst template status as an experiment phase (Progressing is
/// Pending), with its message; a template with no status counts as Progressing.
pub fn assess_templates(ex: &Experiment, s: &ExperimentStatus) -> (AnalysisPhase, String) {
    let mut worst = TemplateStatusCode::Successful;
    let mut message = String::new();
    for t in &ex.spec.templates {
        match template_status(s, &t.name).and_then(|ts| ts.status.map(|code| (code, &ts.message))) {
            None => {
                if template_rank(TemplateStatusCode::Progressing) > template_rank(worst) {
                    worst = TemplateStatusCode::Progressing;
                }
            }
            Some((code, msg)) => {
                if template_rank(code) > template_rank(worst) {
                    worst = code;
                    message = msg.clone();
                }
            }
        }
    }
    let phase = match worst {
        TemplateStatusCode::Progressing => AnalysisPhase::Pending,
        TemplateStatusCode::Running => AnalysisPhase::Running,
        TemplateStatusCode::Successful => AnalysisPhase::Successful,
        TemplateStatusCode::Failed => AnalysisPhase::Failed,
        TemplateStatusCode::Error => AnalysisPhase::Error,
    };
    (phase, message)
}

/// Argo's `assessAnalysisRuns`: the worst analysis phase (an empty one ranks as Successful),
/// Successful with [`REQUIRED_ANALYSIS_COMPLETED`] once the required analyses succeeded and none
/// is worse than Running, and Running for Pending.
pub fn assess_analyses(ex: &Experiment, s: &ExperimentStatus) -> (AnalysisPhase, String) {
    let mut worst = AnalysisPhase::Successful;
    let mut message = String::new();
    for a in &ex.spec.analyses {
        let Some(status) = analysis_status(s, &a.name) else { continue };
        let phase = status.phase.unwrap_or(AnalysisPhase::Successful);
        if severity(phase) > severity(worst) {
            worst = phase;
            message = status.message.clone();
        }
    }
    if required_analyses_successful(ex, s) && severity(worst) <= severity(AnalysisPhase::Running) {
        return (AnalysisPhase::Successful, REQUIRED_ANALYSIS_COMPLETED.to_string());
    }
    if worst == AnalysisPhase::Pending {
        worst = AnalysisPhase::Running;
    }
    (worst, message)
}

/// Argo's `calculateStatus`: the phase and message of `s` (the status this reconcile built:
/// templates and analyses), `availableAt` once every template runs, and the Progressing
/// condition; with the `Experiment<Phase>` event of a phase change.
pub fn finish_status(
    ex: &Experiment,
    mut s: ExperimentStatus,
    now: DateTime<Utc>,
) -> (ExperimentStatus, Option<Event>) {
    let old = status(ex);
    match s.phase {
        None => s.phase = Some(AnalysisPhase::Pending),
        Some(AnalysisPhase::Pending | AnalysisPhase::Running) => {
            let (templates, template_message) = assess_templates(ex, &s);
            let (analyses, analyses_message) = assess_analyses(ex, &s);
            if templates == AnalysisPhase::Running && s.available_at.is_none() {
                s.available_at = Some(Time(now));
            }
            let has_required = ex.spec.analyses.iter().any(|a| a.required_for_completion);
            let (phase, message) = if templates.is_completed() {
                if templates == AnalysisPhase::Successful && (analyses.is_completed() || has_required) {
                    (analyses, analyses_message)
                } else {
                    (templates, template_message)
                }
            } else if (analyses.is_completed() && analyses != AnalysisPhase::Successful)
                || required_analyses_successful(ex, &s)
            {
                (analyses, analyses_message)
            } else {
                (templates, template_message)
            };
            s.phase = Some(phase);
            s.message = message;
        }
        Some(_) => {}
    }
    set_progressing(ex, &old, &mut s, now);
    let event = (old.phase != s.phase).then(|| {
        let name = |p: Option<AnalysisPhase>| p.map_or("", AnalysisPhase::as_str);
        let message = format!("Experiment transitioned from {} -> {}", name(old.phase), name(s.phase));
        let reason = phase_reason(s.phase);
        if matches!(s.phase, Some(AnalysisPhase::Error | AnalysisPhase::Failed | AnalysisPhase::Inconclusive)) {
            Event::warning(reason, message)
        } else {
            Event::normal(reason, message)
        }
    });
    (s, event)
}

fn phase_reason(p: Option<AnalysisPhase>) -> &'static str {
    match p {
        Some(AnalysisPhase::Pending) => "ExperimentPending",
        Some(AnalysisPhase::Running) => "ExperimentRunning",
        Some(AnalysisPhase::Successful) => "ExperimentSuccessful",
        Some(AnalysisPhase::Failed) => "ExperimentFailed",
        Some(AnalysisPhase::Error) => "ExperimentError",
        Some(AnalysisPhase::Inconclusive) => "ExperimentInconclusive",
        None => "Experiment",
    }
}

/// Argo's `calculateExperimentConditions`: the one condition, Progressing.
fn set_progressing(ex: &Experiment, old: &ExperimentStatus, s: &mut ExperimentStatus, now: DateTime<Utc>) {
    let name = ex.metadata.name.clone().unwrap_or_default();
    let progressed = s.template_statuses.len() > old.template_statuses.len()
        || s.template_statuses.iter().any(|t| {
            template_status(old, &t.name).is_some_and(|o| {
                (o.replicas, o.updated_replicas, o.ready_replicas, o.available_replicas)
                    != (t.replicas, t.updated_replicas, t.ready_replicas, t.available_replicas)
            })
        });
    let (status, reason, message, force) = if s.phase == Some(AnalysisPhase::Successful) {
        ("False", "ExperimentCompleted", format!("Experiment {name:?} has successfully ran and completed."), false)
    } else if progressed {
        ("True", "ReplicaSetUpdated", format!("Experiment {name:?} is progressing."), true)
    } else if old.available_at.is_some() && !passed_duration(ex, now).0 {
        ("True", "NewReplicaSetAvailable", format!("Experiment {name:?} is running."), false)
    } else {
        return;
    };
    let existing = s.conditions.iter().position(|c| c.type_ == "Progressing");
    if let Some(i) = existing
        && let Some(c) = s.conditions.get(i)
        && c.status == status
        && c.reason == reason
        && !force
    {
        return;
    }
    let transition = match existing.and_then(|i| s.conditions.get(i)) {
        Some(c) if c.status == status => c.last_transition_time,
        _ => Time(now),
    };
    let condition = ExperimentCondition {
        type_: "Progressing".into(),
        status: status.into(),
        last_update_time: Time(now),
        last_transition_time: transition,
        reason: reason.into(),
        message,
    };
    match existing {
        Some(i) => {
            if let Some(c) = s.conditions.get_mut(i) {
                *c = condition;
            }
        }
        None => s.conditions.push(condition),
    }
}

/// Argo's `calculateEnqueueDuration`: the end of the duration, or the earliest progress deadline
/// of a template short of its pods; none while terminating.
pub fn requeue_after(ex: &Experiment, s: &ExperimentStatus, now: DateTime<Utc>) -> Option<Duration> {
    let next = Experiment { status: Some(s.clone()), ..ex.clone() };
    if terminating(&next) {
        return None;
    }
    let mut wait = match passed_duration(&next, now) {
        (false, Some(left)) if s.available_at.is_some() => Some(left),
        _ => None,
    };
    let deadline = chrono::Duration::seconds(i64::from(progress_deadline(ex)));
    for t in &ex.spec.templates {
        let Some(ts) = template_status(s, &t.name) else { continue };
        if !matches!(ts.status, Some(TemplateStatusCode::Progressing | TemplateStatusCode::Running)) {
            continue;
        }
        if ts.available_replicas == desired_replicas(&next, t) {
            continue;
        }
        let Some(at) = ts.last_transition_time.and_then(|l| l.0.checked_add_signed(deadline)) else { continue };
        let left = at.signed_duration_since(now).to_std().unwrap_or_default();
        wait = Some(wait.map_or(left, |w: Duration| w.min(left)));
    }
    wait
}

/// Argo's `VerifyExperimentSpec`: the first problem with the templates, as Argo words it.
pub fn invalid_spec(ex: &Experiment) -> Option<String> {
    let name = ex.metadata.name.clone().unwrap_or_default();
    let deadline = progress_deadline(ex);
    for (i, t) in ex.spec.templates.iter().enumerate() {
        let Some(selector) = &t.selector else {
            return Some(format!("Rollout has missing field '.Spec.Templates[{i}].Selector'"));
        };
        if selector.match_labels.as_ref().is_none_or(|m| m.is_empty())
            && selector.match_expressions.as_ref().is_none_or(|m| m.is_empty())
        {
            return Some(format!(
                "This experiment is selecting all pods at index {i}. A non-empty selector is required."
            ));
        }
        if t.min_ready_seconds > deadline {
            return Some(format!(
                "MinReadySeconds cannot be longer than ProgressDeadlineSeconds. Check template index {i}"
            ));
        }
        if t.name.is_empty() {
            return Some(format!("Experiment {name} has empty template name at index {i}"));
        }
        if ex.spec.templates.iter().take(i).any(|o| o.name == t.name) {
            return Some(format!("Experiment {name} has repeated template name '{}' in templates", t.name));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use aviary_api::experiment::{ExperimentAnalysisTemplateRef, ExperimentSpec};
    use aviary_api::k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().to_utc()
    }

    fn at(s: i64) -> DateTime<Utc> {
        t0() + chrono::Duration::seconds(s)
    }

    fn template(name: &str) -> TemplateSpec {
        let selector = LabelSelector { match_labels: Some([("app".into(), name.into())].into()), ..Default::default() };
        TemplateSpec { name: name.into(), selector: Some(selector), ..Default::default() }
    }

    fn ex(duration: &str, analyses: &[(&str, bool)]) -> Experiment {
        let mut e = Experiment::new(
            "ex",
            ExperimentSpec {
                duration: duration.into(),
                templates: vec![template("baseline"), template("canary")],
                analyses: analyses
                    .iter()
                    .map(|(n, required)| ExperimentAnalysisTemplateRef {
                        name: (*n).into(),
                        template_name: "t".into(),
                        required_for_completion: *required,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            },
        );
        e.status = Some(ExperimentStatus { phase: Some(AnalysisPhase::Running), ..Default::default() });
        e
    }

    fn ts(name: &str, code: TemplateStatusCode) -> TemplateStatus {
        TemplateStatus { name: name.into(), status: Some(code), ..Default::default() }
    }

    fn run(name: &str, phase: Option<AnalysisPhase>, message: &str) -> ExperimentAnalysisRunStatus {
        ExperimentAnalysisRunStatus {
            name: name.into(),
            analysis_run: format!("ex-{name}"),
            phase,
            message: message.into(),
        }
    }

    use AnalysisPhase as P;
    use TemplateStatusCode as T;

    /// Argo's `calculateStatus` table: templates × analyses → phase and message.
    #[test]
    fn the_phase_follows_the_worst_template_then_the_analyses() {
        /// (name, template statuses, analysis statuses, analyses (name, required), phase, message)
        type Row<'a> = (&'a str, [T; 2], Vec<ExperimentAnalysisRunStatus>, &'a [(&'a str, bool)], P, &'a str);
        let rows: Vec<Row<'_>> = vec![
            ("templates progressing", [T::Running, T::Progressing], vec![], &[], P::Pending, ""),
            ("all running", [T::Running, T::Running], vec![], &[], P::Running, ""),
            ("done without analyses", [T::Successful, T::Successful], vec![], &[], P::Successful, ""),
            ("a failed template wins", [T::Failed, T::Running], vec![], &[], P::Failed, ""),
            (
                "an analysis fails early",
                [T::Running, T::Running],
                vec![run("a", Some(P::Failed), "metric failed")],
                &[("a", false)],
                P::Failed,
                "metric failed",
            ),
            (
                "done while an unrequired analysis runs",
                [T::Successful, T::Successful],
                vec![run("a", Some(P::Running), "")],
                &[("a", false)],
                P::Successful,
                "",
            ),
            (
                "done, a required analysis still running",
                [T::Successful, T::Successful],
                vec![run("a", Some(P::Running), "")],
                &[("a", true)],
                P::Running,
                "",
            ),
            (
                "required analyses succeed before the duration",
                [T::Running, T::Running],
                vec![run("a", Some(P::Successful), "")],
                &[("a", true)],
                P::Successful,
                REQUIRED_ANALYSIS_COMPLETED,
            ),
            (
                "an inconclusive analysis",
                [T::Running, T::Running],
                vec![run("a", Some(P::Inconclusive), "unsure")],
                &[("a", false)],
                P::Inconclusive,
                "unsure",
            ),
            (
                "pending analyses read as running",
                [T::Running, T::Running],
                vec![run("a", Some(P::Pending), "")],
                &[("a", false)],
                P::Running,
                "",
            ),
        ];
        for (name, [b, c], runs, analyses, phase, message) in rows {
            let e = ex("", analyses);
            let s = ExperimentStatus {
                phase: Some(P::Running),
                template_statuses: vec![ts("baseline", b), ts("canary", c)],
                analysis_runs: runs,
                available_at: Some(Time(t0())),
                ..Default::default()
            };
            let (got, _) = finish_status(&e, s, at(10));
            assert_eq!((got.phase, got.message.as_str()), (Some(phase), message), "{name}");
        }
    }

    #[test]
    fn a_new_experiment_is_pending_first_and_available_once_every_template_runs() {
        let mut e = ex("1m", &[]);
        e.status = None;
        let (s, event) = finish_status(&e, ExperimentStatus::default(), t0());
        assert_eq!(s.phase, Some(P::Pending));
        assert_eq!(
            event.map(|e| (e.reason, e.message)),
            Some(("ExperimentPending", "Experiment transitioned from  -> Pending".into()))
        );
        e.status = Some(s.clone());
        let running =
            ExperimentStatus { template_statuses: vec![ts("baseline", T::Running), ts("canary", T::Running)], ..s };
        let (s, _) = finish_status(&e, running, at(5));
        assert_eq!((s.phase, s.available_at), (Some(P::Running), Some(Time(at(5)))));
        let c = s.conditions.iter().find(|c| c.type_ == "Progressing").unwrap();
        assert_eq!((c.status.as_str(), c.reason.as_str()), ("True", "ReplicaSetUpdated"));
    }

    #[test]
    fn a_template_runs_when_available_fails_past_its_deadline_and_succeeds_after_the_duration() {
        let mut e = ex("1m", &[]);
        e.spec.progress_deadline_seconds = Some(30);
        let t = template("baseline");
        let counts = |available| Counts { replicas: 1, ready: available, available };
        let fresh = TemplateStatus { name: "baseline".into(), ..Default::default() };
        let (s, event) = next_template_status(&e, &t, None, fresh.clone(), counts(0), t0());
        assert_eq!((s.status, s.last_transition_time), (Some(T::Progressing), Some(Time(t0()))));
        assert_eq!(event.unwrap().message, "Template 'baseline' transitioned from  -> Progressing");
        // Short of pods past the deadline.
        let (late, event) = next_template_status(&e, &t, Some(&s), s.clone(), counts(0), at(31));
        assert_eq!(late.status, Some(T::Failed));
        assert_eq!(late.message, "Template 'baseline' exceeded its progressDeadlineSeconds (30)");
        let event = event.unwrap();
        assert!(event.warning);
        assert_eq!(
            event.message,
            "Template 'baseline' transitioned from Progressing -> Failed: Template 'baseline' exceeded its progressDeadlineSeconds (30)"
        );
        // Available: running, then successful once the duration since availableAt passed.
        let (up, _) = next_template_status(&e, &t, Some(&s), s.clone(), counts(1), at(5));
        assert_eq!(up.status, Some(T::Running));
        e.status.as_mut().unwrap().available_at = Some(Time(at(5)));
        let (done, _) = next_template_status(&e, &t, Some(&up), up.clone(), counts(1), at(66));
        assert_eq!(done.status, Some(T::Successful));
        // A completed template never changes again.
        e.status.as_mut().unwrap().template_statuses = vec![done.clone()];
        let (still, event) = next_template_status(&e, &t, Some(&done), done.clone(), counts(0), at(500));
        assert_eq!((still.status, event), (Some(T::Successful), None));
    }

    #[test]
    fn terminating_scales_every_template_to_zero_and_completes_live_ones() {
        let mut e = ex("", &[]);
        let t = template("canary");
        assert_eq!(desired_replicas(&e, &t), 1);
        e.spec.terminate = true;
        assert!(terminating(&e));
        assert_eq!(desired_replicas(&e, &t), 0);
        let running = ts("canary", T::Running);
        let counts = Counts { replicas: 1, ready: 1, available: 1 };
        let (s, _) = next_template_status(&e, &t, Some(&running), running.clone(), counts, t0());
        assert_eq!(s.status, Some(T::Successful), "terminated templates count as successful");
        // A required analysis that succeeded terminates the experiment too.
        let mut r = ex("", &[("a", true)]);
        r.status.as_mut().unwrap().analysis_runs = vec![run("a", Some(P::Successful), "")];
        assert!(terminating(&r));
    }

    #[test]
    fn the_spec_is_checked_as_argo_words_it() {
        let mut e = ex("", &[]);
        assert_eq!(invalid_spec(&e), None);
        e.spec.templates[1].name = "baseline".into();
        assert_eq!(invalid_spec(&e).unwrap(), "Experiment ex has repeated template name 'baseline' in templates");
        e.spec.templates[1].selector = None;
        assert_eq!(invalid_spec(&e).unwrap(), "Rollout has missing field '.Spec.Templates[1].Selector'");
        e.spec.templates[0].selector = Some(LabelSelector::default());
        assert_eq!(
            invalid_spec(&e).unwrap(),
            "This experiment is selecting all pods at index 0. A non-empty selector is required."
        );
    }

    #[test]
    fn it_looks_again_at_the_end_of_the_duration_or_a_template_deadline() {
        let e = ex("1m", &[]);
        let s = ExperimentStatus {
            phase: Some(P::Running),
            available_at: Some(Time(t0())),
            template_statuses: vec![ts("baseline", T::Running), ts("canary", T::Running)]
                .into_iter()
                .map(|t| TemplateStatus { available_replicas: 1, ..t })
                .collect(),
            ..Default::default()
        };
        let mut stored = e.clone();
        stored.status = Some(s.clone());
        assert_eq!(requeue_after(&stored, &s, at(20)), Some(Duration::from_secs(40)));
        let short = ExperimentStatus {
            template_statuses: vec![TemplateStatus {
                last_transition_time: Some(Time(at(15))),
                ..ts("baseline", T::Progressing)
            }],
            ..s.clone()
        };
        assert_eq!(requeue_after(&stored, &short, at(20)), Some(Duration::from_secs(40)), "600 s deadline is later");
        let terminated = Experiment { spec: ExperimentSpec { terminate: true, ..e.spec.clone() }, ..stored };
        assert_eq!(requeue_after(&terminated, &s, at(20)), None);
    }
}

//! One measurement's phase from its conditions (reference §3.1; Argo `EvaluateResult`).
//!
//! The engine does not evaluate expressions: the caller evaluates `successCondition` and
//! `failureCondition` (with the condition plugin) and hands over the outcomes: [`Judge`] says
//! which to evaluate, in Argo's order (success first; failure only if success evaluated), and
//! folds the outcomes into a [`Verdict`]; [`judge`] drives it with a synchronous evaluator.

use chrono::{DateTime, Utc};
use serde_json::Value;

use aviary_api::{AnalysisPhase, Measurement, Time};

/// The message suffix Argo uses when a condition could not be evaluated against no data.
pub const NO_DATA_MESSAGE: &str = "metric result is nil or empty: no data returned from the metric provider";

/// A condition and what evaluating it gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConditionEval<'a> {
    /// The expression, as written in the metric.
    pub expression: &'a str,
    /// `Ok(bool)`, or the evaluator's error (compile error, runtime error, non-bool result).
    pub outcome: Result<bool, String>,
}

/// A measurement's phase and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Successful, Failed, Inconclusive or Error.
    pub phase: AnalysisPhase,
    /// The error message, empty unless the phase is Error.
    pub message: String,
}

/// Whether a provider value is "no data": JSON null or an empty array.
pub fn value_is_nil_or_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// Argo's `EvaluateResult` (reference §3.1). `None` means the condition is not set.
///
/// - An evaluation error gives Error with `could not evaluate successCondition "<expr>": <err>`
///   (or failureCondition), the expression between quotes as written (Go's `"%s"`, no escaping);
///   over no data the reason is [`NO_DATA_MESSAGE`], for either condition (`formatEvalError`).
///   The success condition is looked at first.
/// - No condition: Successful. Only success: true → Successful, false → Failed. Only failure:
///   true → Failed, false → Successful. Both: failure true → Failed; success true → Successful;
///   both false → Inconclusive.
pub fn measurement_phase(
    success: Option<ConditionEval<'_>>,
    failure: Option<ConditionEval<'_>>,
    result_is_empty: bool,
) -> Verdict {
    let mut success_value = false;
    let mut failure_value = false;
    if let Some(s) = &success {
        match &s.outcome {
            Ok(b) => success_value = *b,
            Err(e) => {
                let reason = if result_is_empty { NO_DATA_MESSAGE } else { e.as_str() };
                return error(format!("could not evaluate successCondition \"{}\": {reason}", s.expression));
            }
        }
    }
    if let Some(f) = &failure {
        match &f.outcome {
            Ok(b) => failure_value = *b,
            Err(e) => {
                let reason = if result_is_empty { NO_DATA_MESSAGE } else { e.as_str() };
                return error(format!("could not evaluate failureCondition \"{}\": {reason}", f.expression));
            }
        }
    }
    match (success.is_some(), failure.is_some()) {
        (false, false) => return ok(AnalysisPhase::Successful),
        (true, false) => failure_value = !success_value,
        (false, true) => success_value = !failure_value,
        (true, true) => {}
    }
    if failure_value {
        ok(AnalysisPhase::Failed)
    } else if !success_value {
        ok(AnalysisPhase::Inconclusive)
    } else {
        ok(AnalysisPhase::Successful)
    }
}

fn ok(phase: AnalysisPhase) -> Verdict {
    Verdict { phase, message: String::new() }
}

fn error(message: String) -> Verdict {
    Verdict { phase: AnalysisPhase::Error, message }
}

/// Which condition a [`Judge`] waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Success,
    Failure,
    Done,
}

/// Judging one measured value against a metric's conditions, without evaluating anything
/// itself: it says which expression to evaluate next ([`Judge::next`]), takes the outcome
/// ([`Judge::record`]) and folds the outcomes into the verdict ([`Judge::verdict`]), in Argo's
/// order (`EvaluateResult`): the success condition first, the failure condition only when the
/// success condition could be evaluated. A state machine rather than a function taking an
/// evaluator, so that the async plugin host (the controller, the CLI) and the synchronous
/// replay drive the very same rules.
#[derive(Clone, Debug)]
pub struct Judge<'a> {
    success: Option<&'a str>,
    failure: Option<&'a str>,
    value_is_empty: bool,
    stage: Stage,
    success_eval: Option<ConditionEval<'a>>,
    failure_eval: Option<ConditionEval<'a>>,
}

impl<'a> Judge<'a> {
    /// A judge of one value; an empty condition is not set. `value_is_empty` (a nil or empty
    /// result) turns an evaluation error into Argo's "no data" message.
    pub fn new(success_condition: &'a str, failure_condition: &'a str, value_is_empty: bool) -> Self {
        let success = Some(success_condition).filter(|s| !s.is_empty());
        let failure = Some(failure_condition).filter(|s| !s.is_empty());
        let mut judge =
            Judge { success, failure, value_is_empty, stage: Stage::Success, success_eval: None, failure_eval: None };
        judge.skip_unset();
        judge
    }

    fn skip_unset(&mut self) {
        if self.stage == Stage::Success && self.success.is_none() {
            self.stage = Stage::Failure;
        }
        if self.stage == Stage::Failure && self.failure.is_none() {
            self.stage = Stage::Done;
        }
    }

    /// The expression to evaluate next; `None` once the verdict is known.
    pub fn next(&self) -> Option<&'a str> {
        match self.stage {
            Stage::Success => self.success,
            Stage::Failure => self.failure,
            Stage::Done => None,
        }
    }

    /// Records the outcome of evaluating [`Judge::next`] (ignored once done).
    pub fn record(&mut self, outcome: Result<bool, String>) {
        match (self.stage, self.next()) {
            (Stage::Success, Some(expression)) => {
                let failed = outcome.is_err();
                self.success_eval = Some(ConditionEval { expression, outcome });
                // The failure condition is not evaluated when the success condition could not be.
                self.stage = if failed { Stage::Done } else { Stage::Failure };
                self.skip_unset();
            }
            (Stage::Failure, Some(expression)) => {
                self.failure_eval = Some(ConditionEval { expression, outcome });
                self.stage = Stage::Done;
            }
            _ => {}
        }
    }

    /// The verdict from the outcomes recorded (Argo's `EvaluateResult`).
    pub fn verdict(self) -> Verdict {
        measurement_phase(self.success_eval, self.failure_eval, self.value_is_empty)
    }
}

/// The condition plugin a condition names for itself, and the expression it hands that plugin:
/// `aviary/judge: {"is": "pass", ...}` is evaluated by `aviary/judge` with the text after the
/// colon. A condition that names none (every expr condition: `name/name: ` is no valid
/// expression) is `None`, and goes to the controller's condition plugin. This is how one metric
/// uses a condition plugin other than the default while the others keep theirs.
pub fn condition_plugin(expression: &str) -> Option<(&str, &str)> {
    let (name, rest) = expression.trim_start().split_once(':')?;
    let (org, plugin) = name.split_once('/')?;
    let part = |p: &str| {
        !p.is_empty()
            && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'))
    };
    (part(org) && part(plugin) && (rest.is_empty() || rest.starts_with(char::is_whitespace)))
        .then(|| (name, rest.trim()))
}

/// [`Judge`] driven by a synchronous evaluator (replay, tests).
pub fn judge(
    success_condition: &str,
    failure_condition: &str,
    value_is_empty: bool,
    mut evaluate: impl FnMut(&str) -> Result<bool, String>,
) -> Verdict {
    let mut judge = Judge::new(success_condition, failure_condition, value_is_empty);
    while let Some(expression) = judge.next() {
        judge.record(evaluate(expression));
    }
    judge.verdict()
}

/// A completed measurement taken at `now` with the given verdict and value text.
pub fn completed_measurement(verdict: Verdict, value: String, now: DateTime<Utc>) -> Measurement {
    Measurement {
        phase: verdict.phase,
        message: verdict.message,
        started_at: Some(Time(now)),
        finished_at: Some(Time(now)),
        value,
        ..Default::default()
    }
}

/// What becomes of a measurement a provider left `Running`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Running {
    /// Poll it again at this time: after the provider's (already bounded) resume delay, but never
    /// past the moment the measurement has run too long.
    ResumeAt(DateTime<Utc>),
    /// It started too long ago: it ends as `Error`, with this message.
    Overdue(String),
}

/// Settles a `Running` answer: a measurement started at `started` may run for `max_running`
/// (`aviary_boundary::measurement::MAX_RUNNING` unless the operator changed it); before that it
/// is resumed after `resume_after`, at the latest when that time is up; after it, it is `Error`.
/// A provider that answers `Running` forever thus holds its metric for a bounded time, and no
/// delay it asks for can overflow the clock.
pub fn settle_running(
    started: DateTime<Utc>,
    now: DateTime<Utc>,
    resume_after: std::time::Duration,
    max_running: std::time::Duration,
) -> Running {
    let later = |from: DateTime<Utc>, by: std::time::Duration| {
        crate::clock::after(from, chrono::TimeDelta::from_std(by).unwrap_or(chrono::TimeDelta::MAX))
    };
    let deadline = later(started, max_running);
    if now >= deadline {
        return Running::Overdue(format!(
            "measurement still Running after {} (the longest one measurement may run)",
            aviary_api::duration::format_go_duration(max_running)
        ));
    }
    Running::ResumeAt(later(now, resume_after).min(deadline))
}

/// A provider's answer, judged (a `Measured` value has become Successful, Failed, Inconclusive
/// or Error by its conditions), as the controller hands it to [`stored_measurement`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The phase after judging; `Running` while the provider is still at it.
    pub phase: AnalysisPhase,
    /// The message (the provider's, or the judgement's error).
    pub message: String,
    /// The value text (canonical extended JSON), empty when there is none.
    pub value: String,
    /// The provider's metadata.
    pub metadata: std::collections::BTreeMap<String, String>,
    /// With `Running`: the (bounded) delay the provider asked for.
    pub resume_after: std::time::Duration,
}

/// The measurement stored in the run's status for an answer to a call that started the
/// measurement at `started` and returned at `finished`: a final answer is finished; a `Running`
/// one resumes as [`settle_running`] says, or ends as `Error` once it has run for `max_running`
/// (or when the caller already found it `overdue` and terminated it), keeping what the provider
/// said last in the message.
pub fn stored_measurement(
    answer: Answer,
    started: DateTime<Utc>,
    finished: DateTime<Utc>,
    max_running: std::time::Duration,
    overdue: Option<String>,
) -> Measurement {
    let settled = (answer.phase == AnalysisPhase::Running)
        .then(|| settle_running(started, finished, answer.resume_after, max_running));
    let (phase, message, resume_at) = match (overdue, settled) {
        (Some(reason), _) | (None, Some(Running::Overdue(reason))) => {
            let said = if answer.message.is_empty() {
                String::new()
            } else {
                format!("; the provider said: {}", answer.message)
            };
            (AnalysisPhase::Error, format!("{reason}{said}"), None)
        }
        (None, Some(Running::ResumeAt(at))) => (answer.phase, answer.message, Some(Time(at))),
        (None, None) => (answer.phase, answer.message, None),
    };
    Measurement {
        phase,
        message,
        started_at: Some(Time(started)),
        finished_at: resume_at.is_none().then_some(Time(finished)),
        value: answer.value,
        metadata: answer.metadata,
        resume_at,
    }
}

/// Argo's message on a measurement its provider terminated as Successful or Inconclusive.
pub const METRIC_TERMINATED: &str = "Metric Terminated";

/// What Argo's controller keeps of an in-flight measurement when its provider answers `resume`
/// or `terminate`: Argo's providers change the measurement they are given, so a completed one
/// still carries the `resumeAt` it was polled for; and a terminated one that is Successful or
/// Inconclusive says [`METRIC_TERMINATED`] (Argo's `runMeasurements`).
pub fn followed_up(previous: &Measurement, mut stored: Measurement, terminated: bool) -> Measurement {
    if stored.phase.is_completed() && stored.resume_at.is_none() {
        stored.resume_at = previous.resume_at;
    }
    if terminated && matches!(stored.phase, AnalysisPhase::Successful | AnalysisPhase::Inconclusive) {
        stored.message = METRIC_TERMINATED.into();
    }
    stored
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A condition may name its plugin (`org/name: expression`); expr conditions never do, even
    /// those with a `/` or a `:` of their own.
    #[test]
    fn a_condition_may_name_its_plugin() {
        assert_eq!(
            condition_plugin(r#"aviary/judge: {"is": "pass", "pass": 95, "marginal": 75}"#),
            Some(("aviary/judge", r#"{"is": "pass", "pass": 95, "marginal": 75}"#))
        );
        assert_eq!(condition_plugin("acme/rank-1.2: top(3)"), Some(("acme/rank-1.2", "top(3)")));
        for expr in [
            "result[0] > 0.9",
            "result / 2 > 1",
            "a/b ? c : d",
            "{\"a\": 1}.a == 1",
            "result/total:x",
            "Org/Name: x",
            "",
        ] {
            assert_eq!(condition_plugin(expr), None, "{expr}");
        }
    }

    /// A completed answer to `resume` keeps the `resumeAt` it was polled for; a terminated one
    /// that is Successful or Inconclusive says "Metric Terminated", a Failed or Error one keeps
    /// its own message; a measurement still Running takes its new `resumeAt`.
    #[test]
    fn follow_ups_keep_what_argo_keeps() {
        let at = |s: i64| Some(Time(DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()));
        let previous = Measurement { phase: AnalysisPhase::Running, resume_at: at(10), ..Default::default() };
        let answer = |phase, message: &str, resume_at| Measurement {
            phase,
            message: message.into(),
            resume_at,
            ..Default::default()
        };
        let done = followed_up(&previous, answer(AnalysisPhase::Successful, "", None), false);
        assert_eq!((done.resume_at, done.message.as_str()), (at(10), ""));
        let again = followed_up(&previous, answer(AnalysisPhase::Running, "", at(20)), false);
        assert_eq!(again.resume_at, at(20));
        let stopped = followed_up(&previous, answer(AnalysisPhase::Inconclusive, "", None), true);
        assert_eq!((stopped.resume_at, stopped.message.as_str()), (at(10), METRIC_TERMINATED));
        let failed = followed_up(&previous, answer(AnalysisPhase::Failed, "exit 1", None), true);
        assert_eq!(failed.message, "exit 1");
    }

    fn c<'a>(expr: &'a str, outcome: Result<bool, &str>) -> Option<ConditionEval<'a>> {
        Some(ConditionEval { expression: expr, outcome: outcome.map_err(str::to_string) })
    }

    /// E1-E8 of reference §4 (the evaluator's part is the plugin's; here its outcomes).
    #[test]
    fn condition_outcome_rows_e1_to_e8() {
        use AnalysisPhase::*;
        assert_eq!(measurement_phase(c("true", Ok(true)), c("false", Ok(false)), false).phase, Successful); // E1
        assert_eq!(measurement_phase(c("true", Ok(true)), c("true", Ok(true)), false).phase, Failed); // E2
        assert_eq!(measurement_phase(c("false", Ok(false)), c("false", Ok(false)), false).phase, Inconclusive); // E3
        assert_eq!(measurement_phase(None, c("false", Ok(false)), false).phase, Successful); // E4
        assert_eq!(measurement_phase(c("false", Ok(false)), None, false).phase, Failed); // E5
        assert_eq!(measurement_phase(None, None, false).phase, Successful); // E6
        let e7 = measurement_phase(c("a == true", Err("unknown name a")), c("true", Ok(true)), false);
        assert_eq!(
            e7,
            Verdict {
                phase: Error,
                message: "could not evaluate successCondition \"a == true\": unknown name a".into()
            }
        );
        let e8 = measurement_phase(c("true", Ok(true)), c("a == true", Err("unknown name a")), false);
        assert_eq!(
            e8,
            Verdict {
                phase: Error,
                message: "could not evaluate failureCondition \"a == true\": unknown name a".into()
            }
        );
    }

    #[test]
    fn prometheus_nan_rows_p3_to_p5() {
        use AnalysisPhase::*;
        // NaN comparisons are false.
        assert_eq!(
            measurement_phase(c("result >= 0.9", Ok(false)), c("result < 0.9", Ok(false)), false).phase,
            Inconclusive
        );
        assert_eq!(measurement_phase(c("result >= 0.9 || isNaN(result)", Ok(true)), None, false).phase, Successful);
        assert_eq!(measurement_phase(c("result >= 0.9", Ok(false)), None, false).phase, Failed);
    }

    #[test]
    fn no_data_replaces_the_error_of_the_success_condition() {
        let v = measurement_phase(c("result[0] >= 0.95", Err("index out of range")), None, true);
        assert_eq!(
            v.message,
            "could not evaluate successCondition \"result[0] >= 0.95\": metric result is nil or empty: no data returned from the metric provider"
        );
        assert!(value_is_nil_or_empty(&Value::Null));
        assert!(value_is_nil_or_empty(&serde_json::json!([])));
        assert!(!value_is_nil_or_empty(&serde_json::json!([0])));
    }

    #[test]
    fn messages_quote_the_expression_as_argo_does() {
        // Go's `"%s"`: the expression as written, quotes and backslashes included.
        let v = measurement_phase(c(r#"result == "ok\n""#, Err("x")), None, false);
        assert_eq!(v.message, r#"could not evaluate successCondition "result == "ok\n"": x"#);
        // No data replaces the error of either condition (Argo's formatEvalError).
        let v = measurement_phase(None, c("result[0] > 1", Err("x")), true);
        assert_eq!(v.message, format!("could not evaluate failureCondition \"result[0] > 1\": {NO_DATA_MESSAGE}"));
    }

    #[test]
    fn judge_does_not_evaluate_failure_after_a_success_error() {
        let mut calls = Vec::new();
        let v = judge("bad", "x", false, |e| {
            calls.push(e.to_string());
            Err("boom".to_string())
        });
        assert_eq!(v.phase, AnalysisPhase::Error);
        assert_eq!(calls, vec!["bad".to_string()]);
    }

    /// The order of evaluation, table-tested: (success, failure, outcomes in order) → the
    /// expressions asked for and the phase.
    #[test]
    fn judge_asks_for_conditions_in_argos_order() {
        use AnalysisPhase::*;
        /// (success, failure, outcomes in order, expressions asked for, phase).
        type Row<'a> = (&'a str, &'a str, &'a [Result<bool, &'a str>], &'a [&'a str], AnalysisPhase);
        let rows: &[Row] = &[
            ("", "", &[], &[], Successful),
            ("s", "", &[Ok(true)], &["s"], Successful),
            ("s", "", &[Ok(false)], &["s"], Failed),
            ("", "f", &[Ok(true)], &["f"], Failed),
            ("", "f", &[Ok(false)], &["f"], Successful),
            ("s", "f", &[Ok(true), Ok(false)], &["s", "f"], Successful),
            ("s", "f", &[Ok(false), Ok(false)], &["s", "f"], Inconclusive),
            ("s", "f", &[Ok(true), Ok(true)], &["s", "f"], Failed),
            ("s", "f", &[Err("bad")], &["s"], Error),
            ("s", "f", &[Ok(true), Err("bad")], &["s", "f"], Error),
            // The same text for both conditions is still asked for twice.
            ("x", "x", &[Ok(true), Ok(false)], &["x", "x"], Successful),
        ];
        for (success, failure, outcomes, asked, phase) in rows {
            let mut outcomes = outcomes.iter();
            let mut calls = Vec::new();
            let v = judge(success, failure, false, |e| {
                calls.push(e.to_string());
                outcomes.next().expect("asked once too often").map_err(str::to_string)
            });
            assert_eq!(&calls, asked, "{success:?} / {failure:?}: asked");
            assert_eq!(v.phase, *phase, "{success:?} / {failure:?}: phase");
        }
    }

    #[test]
    fn a_running_measurement_resumes_within_its_time_and_ends_after_it() {
        use std::time::Duration as D;
        let t = |s: i64| DateTime::from_timestamp(s, 0).unwrap();
        let six_hours = D::from_secs(6 * 3600);
        assert_eq!(settle_running(t(0), t(100), D::from_secs(10), six_hours), Running::ResumeAt(t(110)));
        // Never polled later than the moment it runs out of time.
        assert_eq!(settle_running(t(0), t(21_000), D::from_secs(3600), six_hours), Running::ResumeAt(t(21_600)));
        assert_eq!(
            settle_running(t(0), t(21_600), D::from_secs(10), six_hours),
            Running::Overdue("measurement still Running after 6h0m0s (the longest one measurement may run)".into())
        );
        // No delay overflows the clock.
        assert_eq!(settle_running(t(0), t(5), D::MAX, D::MAX), Running::ResumeAt(crate::clock::end_of_time()));
        assert!(matches!(
            settle_running(DateTime::<Utc>::MAX_UTC, t(5), D::MAX, D::from_secs(1)),
            Running::ResumeAt(_)
        ));
    }

    #[test]
    fn answers_become_stored_measurements() {
        use std::time::Duration as D;
        let t = |s: i64| DateTime::from_timestamp(s, 0).unwrap();
        let answer = |phase| Answer {
            phase,
            message: "working".into(),
            value: "1".into(),
            metadata: [("job".to_string(), "j1".to_string())].into(),
            resume_after: D::from_secs(10),
        };
        let hour = D::from_secs(3600);
        let done = stored_measurement(answer(AnalysisPhase::Successful), t(0), t(2), hour, None);
        assert_eq!((done.finished_at, done.resume_at), (Some(Time(t(2))), None));
        let running = stored_measurement(answer(AnalysisPhase::Running), t(0), t(2), hour, None);
        assert_eq!(
            (running.phase, running.finished_at, running.resume_at),
            (AnalysisPhase::Running, None, Some(Time(t(12))))
        );
        assert_eq!(running.metadata.get("job").map(String::as_str), Some("j1"));
        let late = stored_measurement(answer(AnalysisPhase::Running), t(0), t(3600), hour, None);
        assert_eq!(late.phase, AnalysisPhase::Error);
        assert_eq!(
            late.message,
            "measurement still Running after 1h0m0s (the longest one measurement may run); the provider said: working"
        );
        assert_eq!(late.finished_at, Some(Time(t(3600))));
        let terminated =
            stored_measurement(answer(AnalysisPhase::Successful), t(0), t(5), hour, Some("overdue".into()));
        assert_eq!(
            (terminated.phase, terminated.message.as_str()),
            (AnalysisPhase::Error, "overdue; the provider said: working")
        );
    }
}

//! `aviary/wait-for-http`: a canary step that waits until an HTTP endpoint answers as expected
//! (a smoke test of the canary, a dependency being ready, a feature flag service agreeing)
//! before the rollout moves on.
//!
//! ```yaml
//! - plugin:
//!     name: aviary/wait-for-http
//!     config:
//!       url: http://web-canary.shop.svc/healthz
//!       expectedStatus: [200]
//!       jsonPath: "{$.status}"
//!       expectedValue: ready
//!       interval: 15s
//!       timeout: 5m
//! ```
//!
//! Each `run` sends ONE request and answers:
//! - Successful when the response matches: its status is one of `expectedStatus` (any 2xx when
//!   empty) and, with `expectedValue`, the value at `jsonPath` (or the whole body without one)
//!   equals it;
//! - Failed at once when the status is one of `failOnStatus`;
//! - Running, to be called again after `interval` (default 30s), when it does not match yet or
//!   got no response (a transport error, a timeout, a host the registry entry does not allow:
//!   each may be fixed while the step waits);
//! - Failed, naming what was expected and what came last, when that was the `maxAttempts`-th
//!   attempt or `timeout` has passed since the first one. Without either the step waits for as
//!   long as the rollout's `progressDeadlineSeconds` lets it.
//!
//! A config that does not parse is an error (phase Error, retried in 30 s as Argo retries a
//! plugin's error) naming the field.
//!
//! Fields (camelCase, unknown ones refused so that a typo is not silently ignored): `url`
//! (required), `method` (default GET), `headers` (`[{key, value}]`, as Argo's web provider),
//! `body`, `expectedStatus`, `failOnStatus`, `jsonPath` (a Kubernetes JSONPath template, read
//! as `aviary/web` reads it), `expectedValue` (a string: a JSON string matches by its text, any
//! other value by its JSON), `interval`, `timeout` (Go durations), `maxAttempts`.
//!
//! The step keeps its progress in its status: `{attempts, firstAttemptAt, lastStatus,
//! lastValue}` (`firstAttemptAt` in RFC 3339, read from WASI's wall clock, which the host's
//! sandbox provides), so that the limits hold across calls and the Rollout shows how far the
//! wait got.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aviary_plugin_sdk::civil::{civil_from_days, days_from_civil};
use aviary_plugin_sdk::duration::parse_go_duration;
use aviary_plugin_sdk::export_step;
use aviary_plugin_sdk::http::{self, Request, Response, status_line};
use aviary_plugin_sdk::jsonpath;
use aviary_plugin_sdk::step::{Context, Error, Step, StepResult, log};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The requeue when `interval` is not given: Argo's default for a running step plugin.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// The last value kept in the status and quoted in messages is cut to this many bytes.
const MAX_VALUE: usize = 256;

/// A header, as Argo's web provider writes them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Name.
    pub key: String,
    /// Value.
    pub value: String,
}

/// The step's `plugin.config`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// The endpoint (http:// or https://; its host must be allowed by the registry entry).
    pub url: String,
    /// The HTTP method (default GET).
    #[serde(default)]
    pub method: Option<String>,
    /// Request headers.
    #[serde(default)]
    pub headers: Vec<Header>,
    /// A request body.
    #[serde(default)]
    pub body: Option<String>,
    /// The statuses that match; empty: any 2xx.
    #[serde(default)]
    pub expected_status: Vec<u16>,
    /// Statuses that fail the step at once (a 404 that will not go away by waiting).
    #[serde(default)]
    pub fail_on_status: Vec<u16>,
    /// Where the compared value is in the JSON body (`{$.status}`); needs `expectedValue`.
    #[serde(default)]
    pub json_path: Option<String>,
    /// The value that matches, compared as text.
    #[serde(default)]
    pub expected_value: Option<String>,
    /// How long to wait between attempts (Go duration; default 30s).
    #[serde(default)]
    pub interval: Option<String>,
    /// How long after the first attempt the step gives up (Go duration).
    #[serde(default)]
    pub timeout: Option<String>,
    /// How many attempts the step makes before it gives up.
    #[serde(default)]
    pub max_attempts: Option<u32>,
}

/// A config checked and made ready to use: what every attempt needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The request's method, upper-case.
    pub method: String,
    /// The config it was made from.
    pub config: Config,
    /// The requeue between attempts.
    pub interval: Duration,
    /// The limit since the first attempt.
    pub timeout: Option<Duration>,
}

fn go_duration(field: &str, text: &str) -> Result<Duration, Error> {
    let nanos = parse_go_duration(text).map_err(|e| Error(format!("invalid config: {field}: {e}")))?;
    let nanos = u64::try_from(nanos).map_err(|_| Error(format!("invalid config: {field}: {text:?} is negative")))?;
    Ok(Duration::from_nanos(nanos))
}

impl Plan {
    /// Checks what serde cannot: durations, the method, and that the fields that go together
    /// are given together. Each error names the field.
    pub fn new(config: Config) -> Result<Plan, Error> {
        if !(config.url.starts_with("http://") || config.url.starts_with("https://")) {
            return Err(Error(format!("invalid config: url: {:?} is not an http:// or https:// URL", config.url)));
        }
        let method = config.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(Error(format!("invalid config: method: {method:?} is not an HTTP method")));
        }
        let interval = match &config.interval {
            Some(text) => go_duration("interval", text)?,
            None => DEFAULT_INTERVAL,
        };
        if interval.is_zero() {
            return Err(Error("invalid config: interval: must be more than 0".into()));
        }
        let timeout = config.timeout.as_deref().map(|t| go_duration("timeout", t)).transpose()?;
        if config.max_attempts == Some(0) {
            return Err(Error("invalid config: maxAttempts: must be at least 1".into()));
        }
        if let Some(path) = &config.json_path {
            if config.expected_value.is_none() {
                return Err(Error("invalid config: jsonPath: needs expectedValue (the value it must have)".into()));
            }
            jsonpath::query(&Value::Null, path)
                .map_err(|e| Error(format!("invalid config: jsonPath: {path:?} is not a JSONPath: {e}")))?;
        }
        Ok(Plan { method, config, interval, timeout })
    }

    /// The one request of an attempt.
    pub fn request(&self) -> Request {
        let mut request = Request::new(self.method.clone(), self.config.url.clone());
        for h in &self.config.headers {
            request = request.header(h.key.clone(), h.value.clone());
        }
        if let Some(body) = &self.config.body {
            request = request.body(body.clone().into_bytes());
        }
        request
    }

    /// What the step waits for, in words, for messages.
    fn expectation(&self) -> String {
        let status = match self.config.expected_status.as_slice() {
            [] => "a 2xx status".to_string(),
            [one] => format!("status {one}"),
            many => format!("a status in {many:?}"),
        };
        match (&self.config.expected_value, &self.config.json_path) {
            (Some(value), Some(path)) => format!("{status} with {path} = {value:?}"),
            (Some(value), None) => format!("{status} with the body {value:?}"),
            _ => status,
        }
    }
}

/// What the step keeps between calls, in `stepPluginStatuses[].status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// Attempts made so far, this one included.
    #[serde(default)]
    pub attempts: u32,
    /// When the first attempt was made (RFC 3339, UTC); absent when the clock could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_attempt_at: Option<String>,
    /// The status code of the last response; absent when the last attempt got none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<u16>,
    /// The value compared last (cut to 256 bytes), or why there was none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_value: Option<String>,
}

/// How one attempt's response compares with the expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    /// It matches: the step is done.
    Matches(String),
    /// Not yet: why not.
    NotYet(String),
    /// A `failOnStatus` status: the step fails now.
    Fails(String),
}

fn cut(text: &str) -> String {
    if text.len() <= MAX_VALUE {
        return text.to_string();
    }
    let mut end = MAX_VALUE;
    while !text.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    format!("{}...", &text[..end])
}

/// The text a value compares by: a JSON string by its contents, anything else by its JSON.
fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn compare(plan: &Plan, response: &Response, state: &mut State) -> Verdict {
    let status = response.status;
    state.last_status = Some(status);
    state.last_value = None;
    let line = status_line(status);
    if plan.config.fail_on_status.contains(&status) {
        return Verdict::Fails(format!("answered {line}, one of failOnStatus {:?}", plan.config.fail_on_status));
    }
    let status_ok = if plan.config.expected_status.is_empty() {
        (200..300).contains(&status)
    } else {
        plan.config.expected_status.contains(&status)
    };
    if !status_ok {
        return Verdict::NotYet(format!("answered {line}"));
    }
    let Some(expected) = &plan.config.expected_value else {
        return Verdict::Matches(format!("answered {line}"));
    };
    let actual = match &plan.config.json_path {
        None => String::from_utf8_lossy(&response.body).trim().to_string(),
        Some(path) => {
            let body: Value = match serde_json::from_slice(&response.body) {
                Ok(body) => body,
                Err(e) => {
                    state.last_value = Some(format!("(the body is not JSON: {e})"));
                    return Verdict::NotYet(format!("answered {line} with a body that is not JSON: {e}"));
                }
            };
            match jsonpath::select(&body, path) {
                Ok(Some(value)) => as_text(&value),
                Ok(None) => {
                    state.last_value = Some(format!("({path} not found)"));
                    return Verdict::NotYet(format!("answered {line} without {path} in the body"));
                }
                Err(e) => return Verdict::NotYet(format!("invalid jsonPath {path:?}: {e}")),
            }
        }
    };
    let shown = cut(&actual);
    state.last_value = Some(shown.clone());
    let what = plan.config.json_path.as_deref().unwrap_or("the body");
    if actual == *expected {
        Verdict::Matches(format!("answered {line} with {what} = {shown:?}"))
    } else {
        Verdict::NotYet(format!("answered {line} with {what} = {shown:?}"))
    }
}

/// One attempt, judged: the pure logic of `run`. `previous` is the kept status, `now` the wall
/// clock (seconds since the Unix epoch; `None` if it cannot be read, which turns `timeout` off),
/// `outcome` the attempt's response or why there was none.
pub fn judge(
    plan: &Plan,
    previous: Option<State>,
    now: Option<u64>,
    outcome: Result<Response, http::Error>,
) -> StepResult {
    let mut state = previous.unwrap_or_default();
    state.attempts = state.attempts.saturating_add(1);
    if state.first_attempt_at.is_none() {
        state.first_attempt_at = now.map(rfc3339);
    }
    let target = format!("{} {}", plan.method, plan.config.url);
    let verdict = match outcome {
        Ok(response) => compare(plan, &response, &mut state),
        Err(e) => {
            state.last_status = None;
            state.last_value = None;
            Verdict::NotYet(format!("got no response: {e}"))
        }
    };
    let attempts = state.attempts;
    let status = serde_json::to_value(&state).unwrap_or(Value::Null);
    let attempt_word = if attempts == 1 { "attempt" } else { "attempts" };
    match verdict {
        Verdict::Matches(how) => StepResult::successful()
            .with_message(format!("{target} {how} after {attempts} {attempt_word}"))
            .with_status(status),
        Verdict::Fails(how) => StepResult::failed(format!("{target} {how}")).with_status(status),
        Verdict::NotYet(why) => {
            let elapsed = match (now, state.first_attempt_at.as_deref().and_then(parse_rfc3339)) {
                (Some(now), Some(first)) => Some(Duration::from_secs(now.saturating_sub(first))),
                _ => None,
            };
            let out_of_attempts = plan.config.max_attempts.is_some_and(|max| attempts >= max);
            let out_of_time = matches!((plan.timeout, elapsed), (Some(limit), Some(e)) if e >= limit);
            if out_of_attempts || out_of_time {
                let spent = match elapsed {
                    Some(e) => format!(" in {}", human(e)),
                    None => String::new(),
                };
                StepResult::failed(format!(
                    "gave up after {attempts} {attempt_word}{spent}: expected {}, but {target} {why}",
                    plan.expectation()
                ))
                .with_status(status)
            } else {
                StepResult::running(Some(plan.interval))
                    .with_message(format!(
                        "waiting for {}: {target} {why} (attempt {attempts}{})",
                        plan.expectation(),
                        plan.config.max_attempts.map(|m| format!(" of {m}")).unwrap_or_default()
                    ))
                    .with_status(status)
            }
        }
    }
}

/// `1h2m3s`, `5m0s`, `7s`: a duration as Go prints it, to the second.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, min, sec) => format!("{min}m{sec}s"),
        (h, min, sec) => format!("{h}h{min}m{sec}s"),
    }
}

/// Seconds since the Unix epoch as RFC 3339 in UTC (`2025-01-02T03:04:05Z`).
pub fn rfc3339(secs: u64) -> String {
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest % 3600 / 60, rest % 60)
}

/// The seconds since the Unix epoch of an RFC 3339 UTC time exactly as [`rfc3339`] writes it;
/// `None` for anything else (the step reads back only what it wrote).
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<u64> {
        let part = text.get(range)?;
        if part.bytes().all(|c| c.is_ascii_digit()) { part.parse().ok() } else { None }
    };
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if b[19] != b'Z' {
        return None;
    }
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, min, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || h > 23 || min > 59 || s > 60 || y < 1970 {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400 + h * 3600 + min * 60 + s)
}

/// The step.
pub struct WaitForHttp;

impl Step for WaitForHttp {
    type Config = Config;

    fn run(ctx: &Context<'_>, config: Config) -> Result<StepResult, Error> {
        let plan = Plan::new(config)?;
        let previous = ctx.status_as::<State>()?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs());
        let outcome = plan.request().send();
        if let Err(e) = &outcome {
            log::info(&format!("{} {}: {e}", plan.method, plan.config.url));
        }
        Ok(judge(&plan, previous, now, outcome))
    }
}

export_step!(WaitForHttp);

#[cfg(test)]
mod tests {
    use super::*;
    use aviary_plugin_sdk::step::Phase;
    use serde_json::json;

    fn plan(config: Value) -> Plan {
        Plan::new(serde_json::from_value(config).unwrap()).unwrap()
    }

    fn response(status: u16, body: &str) -> Result<Response, http::Error> {
        Ok(Response { status, headers: Vec::new(), body: body.as_bytes().to_vec() })
    }

    const T0: u64 = 1_750_000_000;

    #[test]
    fn configs_are_checked_naming_the_field() {
        let cases: &[(Value, &str)] = &[
            (json!({}), "missing field `url`"),
            (json!({"url": "ftp://x"}), "url: \"ftp://x\" is not an http"),
            (json!({"url": "http://x", "interval": "soon"}), "interval: "),
            (json!({"url": "http://x", "interval": "0s"}), "interval: must be more than 0"),
            (json!({"url": "http://x", "timeout": "-5s"}), "timeout: \"-5s\" is negative"),
            (json!({"url": "http://x", "maxAttempts": 0}), "maxAttempts: must be at least 1"),
            (json!({"url": "http://x", "jsonPath": "{$.a}"}), "jsonPath: needs expectedValue"),
            (json!({"url": "http://x", "jsonPath": "{$..[}", "expectedValue": "a"}), "jsonPath: \"{$..[}\" is not"),
            (json!({"url": "http://x", "method": "GE T"}), "method: \"GE T\" is not an HTTP method"),
            (json!({"url": "http://x", "expectedStatuses": [200]}), "unknown field `expectedStatuses`"),
            (json!({"url": "http://x", "expectedStatus": ["ok"]}), "expectedStatus[0]: invalid type"),
        ];
        for (config, expected) in cases {
            let text = config.to_string();
            let err = aviary_plugin_sdk::step::parse_config::<Config>(&text).and_then(Plan::new).unwrap_err().0;
            assert!(err.starts_with("invalid config: "), "{text}: {err}");
            assert!(err.contains(expected), "{text}: {err:?} does not contain {expected:?}");
        }
        let p = plan(json!({"url": "http://x", "method": "post", "interval": "15s", "timeout": "5m"}));
        assert_eq!(
            (p.method.as_str(), p.interval, p.timeout),
            ("POST", Duration::from_secs(15), Some(Duration::from_secs(300)))
        );
        assert_eq!(plan(json!({"url": "https://x"})).interval, DEFAULT_INTERVAL);
    }

    #[test]
    fn the_request_carries_the_method_headers_and_body() {
        let p =
            plan(json!({"url": "http://x/y", "method": "PUT", "headers": [{"key": "A", "value": "1"}], "body": "b"}));
        let expected = Request::new("PUT", "http://x/y").header("A", "1").body(b"b".to_vec());
        assert_eq!(p.request(), expected);
        assert_eq!(plan(json!({"url": "http://x"})).request(), Request::get("http://x"));
    }

    /// One attempt of a table: the config, the response, and the phase and message expected.
    struct Case {
        config: Value,
        outcome: Result<Response, http::Error>,
        phase: Phase,
        message: &'static str,
        last_status: Option<u16>,
        last_value: Option<&'static str>,
    }

    #[test]
    fn one_attempt_is_judged_by_status_and_value() {
        let url = "http://svc/health";
        let cases = vec![
            Case {
                config: json!({"url": url}),
                outcome: response(204, ""),
                phase: Phase::Successful,
                message: "GET http://svc/health answered 204 No Content after 1 attempt",
                last_status: Some(204),
                last_value: None,
            },
            Case {
                config: json!({"url": url}),
                outcome: response(503, "busy"),
                phase: Phase::Running,
                message: "waiting for a 2xx status: GET http://svc/health answered 503 Service Unavailable (attempt 1)",
                last_status: Some(503),
                last_value: None,
            },
            Case {
                config: json!({"url": url, "expectedStatus": [200, 404]}),
                outcome: response(404, ""),
                phase: Phase::Successful,
                message: "GET http://svc/health answered 404 Not Found after 1 attempt",
                last_status: Some(404),
                last_value: None,
            },
            Case {
                config: json!({"url": url, "expectedStatus": [200]}),
                outcome: response(201, ""),
                phase: Phase::Running,
                message: "waiting for status 200: GET http://svc/health answered 201 Created (attempt 1)",
                last_status: Some(201),
                last_value: None,
            },
            Case {
                config: json!({"url": url, "failOnStatus": [404], "maxAttempts": 5}),
                outcome: response(404, ""),
                phase: Phase::Failed,
                message: "GET http://svc/health answered 404 Not Found, one of failOnStatus [404]",
                last_status: Some(404),
                last_value: None,
            },
            Case {
                config: json!({"url": url, "jsonPath": "{$.status}", "expectedValue": "ready"}),
                outcome: response(200, r#"{"status": "ready"}"#),
                phase: Phase::Successful,
                message: "GET http://svc/health answered 200 OK with {$.status} = \"ready\" after 1 attempt",
                last_status: Some(200),
                last_value: Some("ready"),
            },
            Case {
                config: json!({"url": url, "jsonPath": "{$.replicas}", "expectedValue": "3", "maxAttempts": 3}),
                outcome: response(200, r#"{"replicas": 2}"#),
                phase: Phase::Running,
                message: "waiting for a 2xx status with {$.replicas} = \"3\": GET http://svc/health answered 200 OK with {$.replicas} = \"2\" (attempt 1 of 3)",
                last_status: Some(200),
                last_value: Some("2"),
            },
            Case {
                config: json!({"url": url, "jsonPath": "{$.ok}", "expectedValue": "true"}),
                outcome: response(200, r#"{"ok": true}"#),
                phase: Phase::Successful,
                message: "GET http://svc/health answered 200 OK with {$.ok} = \"true\" after 1 attempt",
                last_status: Some(200),
                last_value: Some("true"),
            },
            Case {
                config: json!({"url": url, "jsonPath": "{$.ok}", "expectedValue": "true"}),
                outcome: response(200, "<html>"),
                phase: Phase::Running,
                message: "waiting for a 2xx status with {$.ok} = \"true\": GET http://svc/health answered 200 OK with a body that is not JSON: expected value at line 1 column 1 (attempt 1)",
                last_status: Some(200),
                last_value: Some("(the body is not JSON: expected value at line 1 column 1)"),
            },
            Case {
                config: json!({"url": url, "jsonPath": "{$.ok}", "expectedValue": "true"}),
                outcome: response(200, "{}"),
                phase: Phase::Running,
                message: "waiting for a 2xx status with {$.ok} = \"true\": GET http://svc/health answered 200 OK without {$.ok} in the body (attempt 1)",
                last_status: Some(200),
                last_value: Some("({$.ok} not found)"),
            },
            Case {
                config: json!({"url": url, "expectedValue": "pong"}),
                outcome: response(200, "pong\n"),
                phase: Phase::Successful,
                message: "GET http://svc/health answered 200 OK with the body = \"pong\" after 1 attempt",
                last_status: Some(200),
                last_value: Some("pong"),
            },
            Case {
                config: json!({"url": url}),
                outcome: Err(http::Error::Transport("connection refused".into())),
                phase: Phase::Running,
                message: "waiting for a 2xx status: GET http://svc/health got no response: transport error: connection refused (attempt 1)",
                last_status: None,
                last_value: None,
            },
            Case {
                config: json!({"url": url}),
                outcome: Err(http::Error::DeniedHost("svc:80".into())),
                phase: Phase::Running,
                message: "waiting for a 2xx status: GET http://svc/health got no response: denied host: svc:80 is not in the plugin's allowed hosts (attempt 1)",
                last_status: None,
                last_value: None,
            },
            Case {
                config: json!({"url": url, "maxAttempts": 1}),
                outcome: Err(http::Error::Timeout),
                phase: Phase::Failed,
                message: "gave up after 1 attempt in 0s: expected a 2xx status, but GET http://svc/health got no response: timeout",
                last_status: None,
                last_value: None,
            },
        ];
        for case in cases {
            let p = plan(case.config.clone());
            let result = judge(&p, None, Some(T0), case.outcome);
            assert_eq!((result.phase, result.message.as_str()), (case.phase, case.message), "{}", case.config);
            match case.phase {
                Phase::Running => assert_eq!(result.requeue_after, Some(p.interval), "{}", case.config),
                _ => assert_eq!(result.requeue_after, None, "{}", case.config),
            }
            let state: State = serde_json::from_value(result.status.clone().unwrap()).unwrap();
            assert_eq!(state.attempts, 1);
            assert_eq!(state.first_attempt_at.as_deref(), Some("2025-06-15T15:06:40Z"));
            assert_eq!(
                (state.last_status, state.last_value.as_deref()),
                (case.last_status, case.last_value),
                "{}",
                case.config
            );
        }
    }

    #[test]
    fn the_limits_hold_across_attempts() {
        let p = plan(json!({"url": "http://svc/", "interval": "10s", "maxAttempts": 3}));
        let mut state = None;
        for attempt in 1..=3u32 {
            let now = T0 + u64::from(attempt) * 10;
            let result = judge(&p, state.take(), Some(now), response(503, ""));
            let kept: State = serde_json::from_value(result.status.clone().unwrap()).unwrap();
            assert_eq!(kept.attempts, attempt);
            // The first attempt's time is kept, not overwritten.
            assert_eq!(kept.first_attempt_at.as_deref(), Some(rfc3339(T0 + 10).as_str()));
            if attempt < 3 {
                assert_eq!(result.phase, Phase::Running);
                assert!(result.message.ends_with(&format!("(attempt {attempt} of 3)")), "{}", result.message);
            } else {
                assert_eq!(result.phase, Phase::Failed);
                assert_eq!(
                    result.message,
                    "gave up after 3 attempts in 20s: expected a 2xx status, but GET http://svc/ answered 503 Service Unavailable"
                );
            }
            state = Some(kept);
        }

        let p = plan(json!({"url": "http://svc/", "timeout": "1m"}));
        let first = judge(&p, None, Some(T0), response(500, ""));
        let kept: State = serde_json::from_value(first.status.unwrap()).unwrap();
        let before = judge(&p, Some(kept.clone()), Some(T0 + 59), response(500, ""));
        assert_eq!(before.phase, Phase::Running);
        let after = judge(&p, Some(kept.clone()), Some(T0 + 60), response(500, ""));
        assert_eq!(after.phase, Phase::Failed);
        assert!(after.message.starts_with("gave up after 2 attempts in 1m0s: "), "{}", after.message);
        // A response that matches after the limit still counts: it came.
        assert_eq!(judge(&p, Some(kept.clone()), Some(T0 + 3600), response(200, "")).phase, Phase::Successful);
        // Without a clock the timeout cannot be told, and the step keeps waiting.
        assert_eq!(
            judge(&p, Some(State { attempts: 9, ..State::default() }), None, response(500, "")).phase,
            Phase::Running
        );
    }

    #[test]
    fn long_values_are_cut_in_the_status() {
        let p = plan(json!({"url": "http://svc/", "jsonPath": "{$.v}", "expectedValue": "x"}));
        let body = json!({"v": "é".repeat(300)}).to_string();
        let result = judge(&p, None, Some(T0), response(200, &body));
        let state: State = serde_json::from_value(result.status.unwrap()).unwrap();
        let value = state.last_value.unwrap();
        assert!(value.len() <= MAX_VALUE + 3 && value.ends_with("..."), "{}", value.len());
    }

    #[test]
    fn times_round_trip_through_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        for secs in [0, 951_782_400, T0, 4_102_444_799] {
            assert_eq!(parse_rfc3339(&rfc3339(secs)), Some(secs));
        }
        assert_eq!(parse_rfc3339("2025-06-15T15:06:40.123Z"), None, "only what rfc3339 writes");
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(human(Duration::from_secs(3725)), "1h2m5s");
    }
}

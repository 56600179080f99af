//! Recorded HTTP exchanges: how a plugin is tested without the network, and how such a test is
//! made from a real run.
//!
//! A plugin's only way out of its sandbox is the `http` import, so its behaviour is fully
//! determined by its config, the answers it gets and the time it reads. A [`Recording`] holds,
//! per measurement, the wall-clock time the plugin saw, every request it sent with the response
//! it got, and optionally the outcome expected from it. The host can then answer the `http`
//! import from the recording instead of the network ([`HttpMode::Replay`]) or write one while
//! talking to the real hosts ([`HttpMode::Record`]). In both modes the host's allow-list is still
//! checked before a request is answered, and the guest's wall clock is pinned to the
//! measurement's time, so a query built from "now" (Datadog's `from`/`to`) is the same on every
//! replay.
//!
//! The file is JSON (`aviary plugin test --record` writes it; people write it by hand too):
//!
//! ```json
//! {
//!   "measurements": [{
//!     "at": "2025-01-01T00:00:00Z",
//!     "exchanges": [{
//!       "request": {"method": "GET", "url": "http://metrics.example/stats"},
//!       "response": {"status": 200, "headers": {"content-type": "application/json"},
//!                    "json": {"hits": 42}}
//!     }],
//!     "expect": {"phase": "Successful", "value": "42"}
//!   }]
//! }
//! ```
//!
//! A request matches an unused exchange with the same method, the same URL (query parameters in
//! any order) and, when the recording holds a request body, the same body (compared as JSON when
//! both sides are JSON). Request headers are never recorded: they are where credentials travel.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use url::Url;

use crate::contract::v0_1::http::{Error as HttpError, Response};

/// Why a recording cannot be replayed: the file, or one measurement's time, is unreadable.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    /// The file is not a recording (JSON syntax, a missing or unknown field); the text names
    /// the field and the line.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// A measurement's `at` is not an RFC 3339 time.
    #[error("{text:?} is not an RFC 3339 time: {source}")]
    Time {
        /// The time as written.
        text: String,
        /// What the time parser refused.
        #[source]
        source: humantime::TimestampError,
    },
}

/// Where the `http` import of a host's calls goes.
#[derive(Debug, Clone, Default)]
pub enum HttpMode {
    /// The real network (what the controller always uses).
    #[default]
    Network,
    /// Answers from one recorded measurement; nothing leaves the process.
    Replay(Arc<Replay>),
    /// The real network, with every exchange kept for a recording.
    Record(Arc<Recorder>),
}

impl HttpMode {
    /// The wall-clock time guests see in this mode (`None`: the real clock).
    pub(crate) fn pinned_time(&self) -> Option<SystemTime> {
        match self {
            HttpMode::Network => None,
            HttpMode::Replay(r) => Some(r.at),
            HttpMode::Record(r) => Some(r.at),
        }
    }
}

/// A recording file: the measurements of one run of a plugin, in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recording {
    /// One entry per measurement.
    pub measurements: Vec<RecordedMeasurement>,
}

impl Recording {
    /// Parses a recording.
    pub fn parse(text: &str) -> Result<Self, RecordingError> {
        Ok(serde_json::from_str(text)?)
    }

    /// The recording as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// One measurement: when it was taken, what the plugin asked and got, what it should yield.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedMeasurement {
    /// RFC 3339 time the plugin's wall clock reads during the measurement.
    pub at: String,
    /// The requests, in the order they were sent.
    #[serde(default)]
    pub exchanges: Vec<Exchange>,
    /// The outcome the measurement must have; none: anything goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expectation>,
}

/// A request and what came back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exchange {
    /// What the plugin sent.
    pub request: RecordedRequest,
    /// The response, or the reason there was none (`error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<RecordedResponse>,
    /// `timeout`, or a transport error's text, when there was no response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A recorded request (no headers: they carry credentials).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// GET, POST, ...
    pub method: String,
    /// The absolute URL.
    pub url: String,
    /// The body; when absent from a hand-written recording, any body matches.
    #[serde(flatten)]
    pub body: Body,
}

/// A recorded response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedResponse {
    /// Status code.
    pub status: u16,
    /// Headers (a repeated header is joined with ", ").
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The body.
    #[serde(flatten)]
    pub body: Body,
}

/// A body, written in the most readable form that holds it: `json`, `text` or `hex`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Body {
    /// A JSON body (replayed as compact JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<serde_json::Value>,
    /// A UTF-8 body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Any other body, hex-encoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hex: Option<String>,
}

impl Body {
    /// The most readable form of `bytes`: empty bodies are left out.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        if bytes.is_empty() {
            return Self::default();
        }
        if let Ok(json) = serde_json::from_slice::<serde_json::Value>(bytes) {
            return Self { json: Some(json), ..Self::default() };
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => Self { text: Some(text.to_string()), ..Self::default() },
            Err(_) => Self { hex: Some(hex::encode(bytes)), ..Self::default() },
        }
    }

    /// The bytes, or `None` when no form is given.
    pub fn to_bytes(&self) -> Result<Option<Vec<u8>>, String> {
        if let Some(json) = &self.json {
            return Ok(Some(json.to_string().into_bytes()));
        }
        if let Some(text) = &self.text {
            return Ok(Some(text.clone().into_bytes()));
        }
        match &self.hex {
            Some(h) => hex::decode(h).map(Some).map_err(|e| format!("invalid hex body: {e}")),
            None => Ok(None),
        }
    }

    fn matches(&self, sent: Option<&[u8]>) -> bool {
        let sent = sent.unwrap_or_default();
        if let Some(json) = &self.json {
            return serde_json::from_slice::<serde_json::Value>(sent).is_ok_and(|s| &s == json);
        }
        match self.to_bytes() {
            Ok(Some(bytes)) => bytes == sent,
            Ok(None) => true,
            Err(_) => false,
        }
    }
}

/// The outcome a measurement must have.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// The phase after the conditions were applied: `Successful`, `Failed`, `Error`, ...
    pub phase: String,
    /// The value as extended JSON text (compared as values: `1` equals `1.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The message, exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Expectation {
    /// What differs between this expectation and an outcome; empty when it is met.
    pub fn mismatches(&self, phase: &str, value: Option<&str>, message: &str) -> Vec<String> {
        let mut out = Vec::new();
        if self.phase != phase {
            out.push(format!("phase is {phase}, expected {}", self.phase));
        }
        if let Some(want) = &self.value {
            let same = match (aviary_value::Value::parse(want), value.map(aviary_value::Value::parse)) {
                (Ok(w), Some(Ok(got))) => w.to_string() == got.to_string(),
                _ => value == Some(want.as_str()),
            };
            if !same {
                out.push(format!("value is {}, expected {want}", value.unwrap_or("<none>")));
            }
        }
        if let Some(want) = &self.message
            && want != message
        {
            out.push(format!("message is {message:?}, expected {want:?}"));
        }
        out
    }
}

/// Parses an RFC 3339 time such as `2025-01-01T00:00:00Z`.
pub fn parse_time(text: &str) -> Result<SystemTime, RecordingError> {
    humantime::parse_rfc3339_weak(text).map_err(|source| RecordingError::Time { text: text.to_string(), source })
}

/// Formats a time as RFC 3339 with whole seconds.
pub fn format_time(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Answers requests from one recorded measurement, each exchange at most once, and remembers
/// the requests it could not answer.
#[derive(Debug)]
pub struct Replay {
    at: SystemTime,
    exchanges: Mutex<Vec<(Exchange, bool)>>,
    misses: Mutex<Vec<String>>,
}

impl Replay {
    /// A replay of `m`; fails on an unreadable `at`.
    pub fn new(m: &RecordedMeasurement) -> Result<Self, RecordingError> {
        Ok(Self {
            at: parse_time(&m.at)?,
            exchanges: Mutex::new(m.exchanges.iter().cloned().map(|e| (e, false)).collect()),
            misses: Mutex::new(Vec::new()),
        })
    }

    /// Requests that had no exchange in the recording, as `METHOD URL`.
    pub fn misses(&self) -> Vec<String> {
        lock(&self.misses).clone()
    }

    /// Recorded exchanges the plugin never asked for, as `METHOD URL`.
    pub fn unused(&self) -> Vec<String> {
        lock(&self.exchanges)
            .iter()
            .filter(|(_, used)| !used)
            .map(|(e, _)| format!("{} {}", e.request.method, e.request.url))
            .collect()
    }

    /// The answer to one request (one hop: redirects come back as 3xx responses).
    pub(crate) fn answer(&self, method: &str, url: &Url, body: Option<&[u8]>) -> Result<Response, HttpError> {
        let mut exchanges = lock(&self.exchanges);
        let found = exchanges.iter_mut().find(|(e, used)| {
            !*used
                && e.request.method.eq_ignore_ascii_case(method)
                && same_url(&e.request.url, url)
                && e.request.body.matches(body)
        });
        let Some((exchange, used)) = found else {
            let mut what = format!("{method} {url}");
            if let Some(b) = body.filter(|b| !b.is_empty()) {
                what.push_str(&format!(" with body {}", excerpt(b)));
            }
            lock(&self.misses).push(what.clone());
            return Err(HttpError::Transport(format!("not in the recording: {what}")));
        };
        *used = true;
        if let Some(error) = &exchange.error {
            return Err(if error == "timeout" { HttpError::Timeout } else { HttpError::Transport(error.clone()) });
        }
        let Some(r) = &exchange.response else {
            return Err(HttpError::Transport(format!(
                "the recording of {method} {url} has neither response nor error"
            )));
        };
        let body = r.body.to_bytes().map_err(HttpError::Transport)?.unwrap_or_default();
        Ok(Response { status: r.status, headers: r.headers.clone().into_iter().collect(), body })
    }
}

/// Keeps the exchanges of one measurement taken on the real network.
#[derive(Debug)]
pub struct Recorder {
    at: SystemTime,
    exchanges: Mutex<Vec<Exchange>>,
}

impl Recorder {
    /// A recorder whose guests see `at` on their wall clock.
    pub fn new(at: SystemTime) -> Self {
        // Whole seconds, so that the recording's `at` is exactly what the guest saw.
        let secs = at.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs();
        Self {
            at: SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs)).unwrap_or(SystemTime::UNIX_EPOCH),
            exchanges: Mutex::new(Vec::new()),
        }
    }

    /// The measurement recorded so far.
    pub fn measurement(&self, expect: Option<Expectation>) -> RecordedMeasurement {
        RecordedMeasurement { at: format_time(self.at), exchanges: lock(&self.exchanges).clone(), expect }
    }

    pub(crate) fn keep(&self, method: &str, url: &Url, body: Option<&[u8]>, outcome: &Result<Response, HttpError>) {
        let request = RecordedRequest {
            method: method.to_string(),
            url: url.to_string(),
            body: body.map(Body::from_bytes).unwrap_or_default(),
        };
        let (response, error) = match outcome {
            Ok(r) => {
                let mut headers: BTreeMap<String, String> = BTreeMap::new();
                for (name, value) in &r.headers {
                    if SKIPPED_RESPONSE_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                        continue;
                    }
                    headers
                        .entry(name.to_ascii_lowercase())
                        .and_modify(|v| {
                            v.push_str(", ");
                            v.push_str(value);
                        })
                        .or_insert_with(|| value.clone());
                }
                (Some(RecordedResponse { status: r.status, headers, body: Body::from_bytes(&r.body) }), None)
            }
            Err(HttpError::Timeout) => (None, Some("timeout".to_string())),
            Err(HttpError::Transport(m)) => (None, Some(m.clone())),
            // Refusals are the host's own decisions, made again on replay: nothing to keep.
            Err(HttpError::DeniedHost(_) | HttpError::TooLarge(_)) => return,
        };
        lock(&self.exchanges).push(Exchange { request, response, error });
    }
}

/// Response headers left out of recordings: session cookies, and what changes on every call.
const SKIPPED_RESPONSE_HEADERS: &[&str] = &["set-cookie", "date", "x-request-id", "traceparent"];

/// Same scheme, host, port and path, and the same query parameters in any order.
fn same_url(recorded: &str, sent: &Url) -> bool {
    let Ok(recorded) = Url::parse(recorded) else { return false };
    let mut a: Vec<(String, String)> = recorded.query_pairs().into_owned().collect();
    let mut b: Vec<(String, String)> = sent.query_pairs().into_owned().collect();
    a.sort();
    b.sort();
    recorded.scheme() == sent.scheme()
        && recorded.host_str() == sent.host_str()
        && recorded.port_or_known_default() == sent.port_or_known_default()
        && recorded.path() == sent.path()
        && a == b
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    if text.chars().count() > 200 { format!("{}…", text.chars().take(200).collect::<String>()) } else { text.into() }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A wall clock stopped at one instant: what guests see while replaying or recording.
pub(crate) struct PinnedClock(pub(crate) SystemTime);

impl wasmtime_wasi::HostWallClock for PinnedClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn now(&self) -> Duration {
        self.0.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measurement(json: serde_json::Value) -> RecordedMeasurement {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn requests_match_by_method_url_in_any_query_order_and_body() {
        let m = measurement(serde_json::json!({
            "at": "2025-01-01T00:00:00Z",
            "exchanges": [
                {"request": {"method": "GET", "url": "http://m.example/q?a=1&b=2"},
                 "response": {"status": 200, "json": {"n": 1}}},
                {"request": {"method": "POST", "url": "http://m.example/q", "json": {"x": [1, 2]}},
                 "response": {"status": 201, "text": "made"}},
            ]
        }));
        let replay = Replay::new(&m).unwrap();
        let url = Url::parse("http://m.example/q?b=2&a=1").unwrap();
        let r = replay.answer("get", &url, None).unwrap();
        assert_eq!((r.status, r.body), (200, br#"{"n":1}"#.to_vec()));
        // Each exchange answers once.
        assert!(replay.answer("GET", &url, None).is_err());
        let post = Url::parse("http://m.example/q").unwrap();
        assert!(replay.answer("POST", &post, Some(br#"{"x": [1, 3]}"#)).is_err());
        let r = replay.answer("POST", &post, Some(br#"{ "x" : [1, 2] }"#)).unwrap();
        assert_eq!((r.status, r.body), (201, b"made".to_vec()));
        assert_eq!(replay.unused(), Vec::<String>::new());
    }

    #[test]
    fn a_request_the_recording_lacks_is_named() {
        let m = measurement(serde_json::json!({"at": "2025-01-01T00:00:00Z", "exchanges": []}));
        let replay = Replay::new(&m).unwrap();
        let url = Url::parse("http://m.example/other?x=1").unwrap();
        let err = replay.answer("POST", &url, Some(b"{}")).unwrap_err();
        assert!(
            matches!(&err, HttpError::Transport(m) if m == "not in the recording: POST http://m.example/other?x=1 with body {}"),
            "{err:?}"
        );
        assert_eq!(replay.misses(), vec!["POST http://m.example/other?x=1 with body {}".to_string()]);
    }

    #[test]
    fn recorded_errors_replay_as_errors() {
        let m = measurement(serde_json::json!({
            "at": "2025-01-01T00:00:00Z",
            "exchanges": [{"request": {"method": "GET", "url": "http://m.example/"}, "error": "timeout"}]
        }));
        let replay = Replay::new(&m).unwrap();
        let answer = replay.answer("GET", &Url::parse("http://m.example/").unwrap(), None);
        assert!(matches!(answer, Err(HttpError::Timeout)), "{answer:?}");
    }

    #[test]
    fn recordings_keep_bodies_readable_and_drop_volatile_headers() {
        let rec = Recorder::new(parse_time("2025-01-01T00:00:00.700Z").unwrap());
        let url = Url::parse("http://m.example/q").unwrap();
        let response = Response {
            status: 200,
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("Set-Cookie".into(), "s=1".into()),
                ("Vary".into(), "a".into()),
                ("vary".into(), "b".into()),
            ],
            body: br#"{"v": 2}"#.to_vec(),
        };
        rec.keep("POST", &url, Some(b"plain text"), &Ok(response));
        rec.keep("GET", &url, None, &Err(HttpError::DeniedHost("x:1".into())));
        let m = rec.measurement(Some(Expectation { phase: "Successful".into(), ..Default::default() }));
        assert_eq!(m.at, "2025-01-01T00:00:00Z");
        assert_eq!(m.exchanges.len(), 1);
        let e = &m.exchanges[0];
        assert_eq!(e.request.body.text.as_deref(), Some("plain text"));
        let r = e.response.as_ref().unwrap();
        assert_eq!(r.body.json, Some(serde_json::json!({"v": 2})));
        assert_eq!(r.headers.keys().collect::<Vec<_>>(), ["content-type", "vary"]);
        assert_eq!(r.headers["vary"], "a, b");
        // And it reads back.
        let file = Recording { measurements: vec![m] };
        assert_eq!(Recording::parse(&file.to_json()).unwrap(), file);
        assert_eq!(Body::from_bytes(&[0xff, 0]).hex.as_deref(), Some("ff00"));
    }

    #[test]
    fn expectations_compare_values_as_values() {
        let e = Expectation { phase: "Successful".into(), value: Some("1".into()), message: None };
        assert!(e.mismatches("Successful", Some("1.0"), "whatever").is_empty());
        assert_eq!(
            e.mismatches("Failed", Some("2"), ""),
            ["phase is Failed, expected Successful", "value is 2, expected 1"]
        );
        let e = Expectation { phase: "Error".into(), value: None, message: Some("boom".into()) };
        assert_eq!(e.mismatches("Error", None, "bang"), ["message is \"bang\", expected \"boom\""]);
    }

    #[test]
    fn unreadable_recordings_name_the_field() {
        let err = Recording::parse(r#"{"measurements": [{"at": "x", "exchanges": [{"request": {"url": "u"}}]}]}"#)
            .unwrap_err();
        assert!(matches!(err, RecordingError::Json(_)), "{err:?}");
        assert!(err.to_string().contains("missing field `method`"), "{err}");
        let err = Replay::new(&measurement(serde_json::json!({"at": "yesterday"}))).unwrap_err();
        assert!(matches!(err, RecordingError::Time { .. }), "{err:?}");
        assert!(err.to_string().starts_with("\"yesterday\" is not an RFC 3339 time: "), "{err}");
    }
}

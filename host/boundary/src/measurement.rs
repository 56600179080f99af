//! A provider's answer, as the host hands it on: validated and bounded.
//!
//! Nothing a plugin returns reaches the engine, the API server or a log line before
//! [`RawMeasurement::validate`] has checked it against the bounds below (docs/plugin-boundary.md
//! says why each one is what it is):
//!
//! | field            | bound                                                               |
//! |------------------|---------------------------------------------------------------------|
//! | `value`          | extended JSON ([`aviary_value`]), at most [`MAX_VALUE_BYTES`], nesting ≤ 128, every number a finite-or-NaN/±Inf `f64` (a literal too large for one, such as `1e400`, is refused as Go's `encoding/json` refuses it); stored in canonical form |
//! | `message`        | at most [`MAX_MESSAGE_BYTES`]                                        |
//! | `metadata`       | at most [`MAX_METADATA_ENTRIES`] entries, keys non-empty, unique and at most [`MAX_METADATA_KEY_BYTES`], keys and values together at most [`MAX_METADATA_BYTES`] |
//! | `resume-after-ms`| only with `running`; clamped to [[`MIN_RESUME_AFTER`], [`MAX_RESUME_AFTER`]], [`DEFAULT_RESUME_AFTER`] when absent |
//!
//! A value, message or metadata past its bound is not truncated: the whole answer becomes an
//! `Error` measurement whose message names the field and the bound (`invalid value: ...`), so a
//! lying plugin costs one `Error` measurement, counted against the metric's
//! `consecutiveErrorLimit`, and nothing it said is silently changed. The resume delay is the one
//! field that is clamped rather than refused: polling sooner or later than asked is harmless, and
//! a provider that legitimately asks for a day should still finish.
//!
//! With these bounds one measurement is at most about 52 KiB in an AnalysisRun's status; the
//! controller also keeps the whole status under the API server's request limit (see
//! `aviary_engine::analysis::retention::fit_status`).

use std::collections::BTreeMap;
use std::time::Duration;

use aviary_value::Value;

use crate::failure::Failure;

/// Largest value text accepted from a plugin.
pub const MAX_VALUE_BYTES: usize = 32 << 10;
/// Largest message accepted from a plugin.
pub const MAX_MESSAGE_BYTES: usize = 4 << 10;
/// Most metadata entries accepted from a plugin.
pub const MAX_METADATA_ENTRIES: usize = 64;
/// Longest metadata key accepted from a plugin (a Kubernetes label key is at most 317 bytes; keys
/// here are names, not documents).
pub const MAX_METADATA_KEY_BYTES: usize = 256;
/// Largest total of metadata keys and values accepted from a plugin.
pub const MAX_METADATA_BYTES: usize = 16 << 10;
/// The earliest a `running` measurement is polled again: a provider asking for `0` cannot make
/// the controller spin.
pub const MIN_RESUME_AFTER: Duration = Duration::from_secs(1);
/// The latest a `running` measurement is polled again: a provider asking for 9·10¹⁵ ms (or
/// `u64::MAX`) is polled after an hour, not never, and no time arithmetic can overflow.
pub const MAX_RESUME_AFTER: Duration = Duration::from_secs(3600);
/// When a `running` measurement is polled again if the provider does not say (Argo's default).
pub const DEFAULT_RESUME_AFTER: Duration = Duration::from_secs(10);
/// How long one measurement may stay `running` before the host ends it as `Error`: a provider
/// that answers `running` forever holds a metric (and the Rollout behind it) for at most this
/// long. Six hours is longer than any Kayenta judgement or smoke-test Job in Argo's examples; the
/// controller's `--max-measurement-running` changes it.
pub const MAX_RUNNING: Duration = Duration::from_secs(6 * 3600);

/// Which analysis asks for a measurement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallContext {
    /// Namespace of the AnalysisRun.
    pub namespace: String,
    /// Name of the AnalysisRun.
    pub run_name: String,
    /// Name of the metric.
    pub metric_name: String,
    /// UID of the AnalysisRun (contract 0.2.0): the owner of what a provider creates.
    pub run_uid: String,
    /// The 1-based number of this measurement of the metric, errors included (Argo's
    /// `count + error + 1`); 0 when not known.
    pub sequence: u32,
}

/// Where a measurement stands after the provider call (before conditions are applied).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// A value to be judged by the metric's conditions.
    Measured,
    /// In flight: resume later.
    Running,
    /// Judged by the provider: passed.
    Successful,
    /// Judged by the provider: failed.
    Failed,
    /// Judged by the provider: neither.
    Inconclusive,
    /// Not measured; see the message (and [`Measurement::failure`] when the host caused it).
    Error,
}

impl Phase {
    /// Argo's name of a final phase; `Measured` has none (it still needs judging).
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Measured => "Measured",
            Phase::Running => "Running",
            Phase::Successful => "Successful",
            Phase::Failed => "Failed",
            Phase::Inconclusive => "Inconclusive",
            Phase::Error => "Error",
        }
    }
}

/// One provider measurement, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// Where it stands.
    pub phase: Phase,
    /// The value in canonical extended-JSON text, if any.
    pub value: Option<String>,
    /// Explanation.
    pub message: String,
    /// Details shown with the measurement.
    pub metadata: BTreeMap<String, String>,
    /// With `Running`: when to resume, within [[`MIN_RESUME_AFTER`], [`MAX_RESUME_AFTER`]].
    pub resume_after: Option<Duration>,
    /// Set when the call itself failed (timeout, trap, ...), for metrics and tests.
    pub failure: Option<Failure>,
}

impl Measurement {
    /// An `Error` measurement caused by a failed call.
    pub fn from_failure(failure: Failure) -> Self {
        Self {
            phase: Phase::Error,
            value: None,
            message: failure.to_string(),
            metadata: BTreeMap::new(),
            resume_after: None,
            failure: Some(failure),
        }
    }

    /// The decoded value (`null` when there is none): what conditions see as `result`.
    pub fn result(&self) -> Value {
        self.value.as_deref().and_then(|v| Value::parse(v).ok()).unwrap_or(Value::Null)
    }
}

/// A measurement exactly as a guest returned it (the WIT record, without the Wasm runtime's
/// types): untrusted until [`RawMeasurement::validate`] has checked it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMeasurement {
    /// The phase the guest claims.
    pub phase: Phase,
    /// The value text, if any.
    pub value: Option<String>,
    /// The message.
    pub message: String,
    /// Metadata pairs, in the guest's order (a key may repeat).
    pub metadata: Vec<(String, String)>,
    /// The resume delay the guest asks for, in milliseconds.
    pub resume_after_ms: Option<u64>,
}

impl RawMeasurement {
    /// Checks a guest's answer against the bounds of this module: a valid one becomes a
    /// [`Measurement`] (value in canonical form, resume delay clamped), anything else an `Error`
    /// measurement with an `invalid value` failure naming the field and the bound.
    pub fn validate(self, plugin: &str) -> Measurement {
        match self.check() {
            Ok(m) => m,
            Err(detail) => Measurement::from_failure(Failure::InvalidValue { plugin: plugin.to_string(), detail }),
        }
    }

    fn check(self) -> Result<Measurement, String> {
        if self.message.len() > MAX_MESSAGE_BYTES {
            return Err(format!("message of {} bytes exceeds {MAX_MESSAGE_BYTES}", self.message.len()));
        }
        let metadata = check_metadata(self.metadata)?;
        let value = match self.value {
            None => None,
            Some(text) if text.len() > MAX_VALUE_BYTES => {
                return Err(format!("value of {} bytes exceeds {MAX_VALUE_BYTES}", text.len()));
            }
            Some(text) => match Value::parse(&text) {
                Ok(v) => Some(v.to_string()),
                Err(e) => return Err(format!("the value is not JSON: {e}: {}", preview(&text))),
            },
        };
        let resume_after = (self.phase == Phase::Running).then(|| clamp_resume_after(self.resume_after_ms));
        Ok(Measurement { phase: self.phase, value, message: self.message, metadata, resume_after, failure: None })
    }
}

fn check_metadata(pairs: Vec<(String, String)>) -> Result<BTreeMap<String, String>, String> {
    if pairs.len() > MAX_METADATA_ENTRIES {
        return Err(format!("metadata of {} entries exceeds {MAX_METADATA_ENTRIES}", pairs.len()));
    }
    let size = pairs.iter().fold(0usize, |n, (k, v)| n.saturating_add(k.len()).saturating_add(v.len()));
    if size > MAX_METADATA_BYTES {
        return Err(format!("metadata of {size} bytes exceeds {MAX_METADATA_BYTES}"));
    }
    let mut out = BTreeMap::new();
    for (key, value) in pairs {
        if key.is_empty() {
            return Err("metadata has an empty key".to_string());
        }
        if key.len() > MAX_METADATA_KEY_BYTES {
            return Err(format!(
                "metadata key {} of {} bytes exceeds {MAX_METADATA_KEY_BYTES}",
                preview(&key),
                key.len()
            ));
        }
        if out.contains_key(&key) {
            return Err(format!("metadata key {} appears twice", preview(&key)));
        }
        out.insert(key, value);
    }
    Ok(out)
}

/// The resume delay of a `running` measurement: what the plugin asked for, within
/// [[`MIN_RESUME_AFTER`], [`MAX_RESUME_AFTER`]]; [`DEFAULT_RESUME_AFTER`] when it did not ask.
pub fn clamp_resume_after(asked_ms: Option<u64>) -> Duration {
    asked_ms.map_or(DEFAULT_RESUME_AFTER, |ms| Duration::from_millis(ms).clamp(MIN_RESUME_AFTER, MAX_RESUME_AFTER))
}

/// The start of a text, quoted, for error messages: at most 40 characters, and at most 160
/// bytes once escaped (a run of control characters escapes to six bytes each), with `…` when
/// cut. A refusal names what it refused without echoing a megabyte of it.
pub fn preview(text: &str) -> String {
    let head: String = text.chars().take(40).collect();
    let mut quoted = format!("{head:?}");
    let mut cut = head.len() < text.len();
    if quoted.len() > 160 {
        let mut end = 160;
        while !quoted.is_char_boundary(end) {
            end = end.saturating_sub(1);
        }
        quoted.truncate(end);
        cut = true;
    }
    if cut {
        quoted.push('…');
    }
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(value: Option<&str>) -> RawMeasurement {
        RawMeasurement {
            phase: Phase::Measured,
            value: value.map(str::to_string),
            message: String::new(),
            metadata: vec![],
            resume_after_ms: None,
        }
    }

    fn refusal(r: RawMeasurement) -> String {
        let m = r.validate("p");
        assert_eq!(m.phase, Phase::Error, "{m:?}");
        assert_eq!(m.failure.as_ref().map(Failure::reason), Some("invalid_value"));
        m.message
    }

    #[test]
    fn values_are_rewritten_canonically() {
        let m = raw(Some(" [ 10.0 , NaN ] ")).validate("p");
        assert_eq!(m.phase, Phase::Measured);
        assert_eq!(m.value.as_deref(), Some("[10,NaN]"));
    }

    #[test]
    fn garbage_values_are_invalid_value_errors() {
        let message = refusal(raw(Some("{not json")));
        assert!(message.starts_with("invalid value: plugin \"p\": the value is not JSON"), "{message}");
    }

    #[test]
    fn values_at_the_limits_of_a_64_bit_float_are_kept_and_past_them_refused() {
        let m = raw(Some("[1.7976931348623157e308,-1.7976931348623157e308,5e-324,-0,9007199254740993]")).validate("p");
        assert_eq!(
            m.value.as_deref(),
            Some("[1.7976931348623157e+308,-1.7976931348623157e+308,5e-324,-0,9007199254740992]")
        );
        for too_large in [
            "1e400",
            "-1e400",
            "[1, 2e308]",
            "{\"a\": 179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792}",
        ] {
            let message = refusal(raw(Some(too_large)));
            assert!(message.contains("does not fit a 64-bit float"), "{too_large}: {message}");
        }
    }

    #[test]
    fn each_bound_is_enforced_and_named() {
        let big_value = format!("\"{}\"", "x".repeat(MAX_VALUE_BYTES));
        assert!(refusal(raw(Some(&big_value))).contains("value of"));
        let mut r = raw(None);
        r.message = "m".repeat(MAX_MESSAGE_BYTES + 1);
        assert!(refusal(r).contains("message of"));
        let mut r = raw(None);
        r.metadata = vec![("k".into(), "v".repeat(MAX_METADATA_BYTES))];
        assert!(refusal(r).contains("metadata of"));
        let mut r = raw(None);
        r.metadata = (0..=MAX_METADATA_ENTRIES).map(|i| (format!("k{i}"), String::new())).collect();
        assert!(refusal(r).contains(&format!("exceeds {MAX_METADATA_ENTRIES}")));
        let mut r = raw(None);
        r.metadata = vec![("k".repeat(MAX_METADATA_KEY_BYTES + 1), String::new())];
        assert!(refusal(r).contains("metadata key"));
        let mut r = raw(None);
        r.metadata = vec![("k".into(), "1".into()), ("k".into(), "2".into())];
        assert!(refusal(r).contains("appears twice"));
        let mut r = raw(None);
        r.metadata = vec![(String::new(), "v".into())];
        assert!(refusal(r).contains("empty key"));
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        assert!(refusal(raw(Some(&deep))).contains("nesting too deep"));
    }

    #[test]
    fn answers_just_inside_every_bound_are_accepted() {
        let mut r = raw(Some(&format!("\"{}\"", "x".repeat(MAX_VALUE_BYTES - 2))));
        r.message = "m".repeat(MAX_MESSAGE_BYTES);
        r.metadata = (0..MAX_METADATA_ENTRIES).map(|i| (format!("k{i:0>3}"), "v".repeat(200))).collect();
        let m = r.validate("p");
        assert_eq!(m.phase, Phase::Measured, "{:?}", m.failure);
        assert_eq!(m.metadata.len(), MAX_METADATA_ENTRIES);
    }

    #[test]
    fn resume_delays_are_clamped_to_the_documented_range() {
        let table = [
            (None, DEFAULT_RESUME_AFTER),
            (Some(0), MIN_RESUME_AFTER),
            (Some(999), MIN_RESUME_AFTER),
            (Some(1500), Duration::from_millis(1500)),
            (Some(9_000_000_000_000_000), MAX_RESUME_AFTER),
            (Some(u64::MAX), MAX_RESUME_AFTER),
        ];
        for (asked, want) in table {
            let mut r = raw(None);
            r.phase = Phase::Running;
            r.resume_after_ms = asked;
            assert_eq!(r.validate("p").resume_after, Some(want), "{asked:?}");
        }
        let mut r = raw(Some("1"));
        r.resume_after_ms = Some(u64::MAX);
        assert_eq!(r.validate("p").resume_after, None, "only a running measurement resumes");
    }

    #[test]
    fn missing_values_read_as_null() {
        assert_eq!(raw(None).validate("p").result(), Value::Null);
    }

    #[test]
    fn previews_are_short_whatever_they_quote() {
        assert_eq!(preview("short"), "\"short\"");
        assert_eq!(preview(&"é".repeat(100)), format!("{:?}…", "é".repeat(40)));
        let controls = preview(&"\u{16}".repeat(1000));
        assert!(controls.len() <= 164 && controls.ends_with('…'), "{controls}");
    }

    proptest::proptest! {
        /// Whatever a guest answers, what the host hands on is within every bound, or an Error
        /// that does not echo the answer. (The fuzz target `plugin_answer` explores the same
        /// property coverage-guided; this keeps it in every `cargo test`.)
        #[test]
        fn any_answer_comes_out_bounded(
            phase in 0usize..6,
            value in proptest::option::of(".{0,64}|[\\[\\]0-9eE.,+\\- ]{0,64}|(NaN|-?Infinity|null|true)"),
            message in ".{0,64}",
            metadata in proptest::collection::vec((".{0,8}", ".{0,16}"), 0..80),
            resume_after_ms in proptest::option::of(proptest::num::u64::ANY),
        ) {
            let phases = [Phase::Measured, Phase::Running, Phase::Successful, Phase::Failed, Phase::Inconclusive, Phase::Error];
            let raw = RawMeasurement { phase: phases[phase], value, message, metadata, resume_after_ms };
            let m = raw.validate("p");
            match &m.failure {
                None => {
                    proptest::prop_assert!(m.metadata.len() <= MAX_METADATA_ENTRIES);
                    if let Some(v) = &m.value {
                        proptest::prop_assert_eq!(&Value::parse(v).unwrap().to_string(), v);
                    }
                    match m.resume_after {
                        Some(r) => proptest::prop_assert!(m.phase == Phase::Running && (MIN_RESUME_AFTER..=MAX_RESUME_AFTER).contains(&r)),
                        None => proptest::prop_assert!(m.phase != Phase::Running),
                    }
                }
                Some(f) => {
                    proptest::prop_assert_eq!(f.reason(), "invalid_value");
                    proptest::prop_assert!(m.message.len() < 512);
                }
            }
        }
    }
}

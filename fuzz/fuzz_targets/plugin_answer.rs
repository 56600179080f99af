//! Any answer a provider can return, through everything the host does with it: validation
//! against the boundary's bounds, the measurement stored in the run's status (resume delays,
//! the Running limit, time arithmetic), the metric's counters and the run's assessment, and the
//! status kept under the API server's limit. Nothing may panic, and every bound must hold.
#![no_main]

use arbitrary::Arbitrary;
use aviary_api::{AnalysisPhase, AnalysisRunStatus, Metric};
use aviary_boundary::measurement::*;
use aviary_engine::analysis::measurement::{Answer as Judged, stored_measurement};
use aviary_engine::analysis::metric::{assess_metric, record_measurement, result_mut};
use aviary_engine::analysis::retention::{Fit, fit_status, json_size};
use aviary_value::Value;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    phase: u8,
    value: Option<String>,
    message: String,
    metadata: Vec<(String, String)>,
    resume_after_ms: Option<u64>,
    /// Seconds since the epoch at which the measurement started, and how long the call took.
    started: i64,
    took: u32,
    /// How often the answer is recorded, and the status budget.
    repeat: u8,
    budget: u32,
    count: Option<u16>,
}

const PHASES: [Phase; 6] =
    [Phase::Measured, Phase::Running, Phase::Successful, Phase::Failed, Phase::Inconclusive, Phase::Error];

fuzz_target!(|input: Input| {
    let raw = RawMeasurement {
        phase: PHASES[usize::from(input.phase) % PHASES.len()],
        value: input.value,
        message: input.message,
        metadata: input.metadata,
        resume_after_ms: input.resume_after_ms,
    };
    let m = raw.validate("fuzz/provider");
    if m.failure.is_none() {
        assert!(m.message.len() <= MAX_MESSAGE_BYTES);
        assert!(m.metadata.len() <= MAX_METADATA_ENTRIES);
        assert!(m.metadata.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>() <= MAX_METADATA_BYTES);
        if let Some(v) = &m.value {
            let again = Value::parse(v).expect("a validated value parses").to_string();
            assert_eq!(&again, v, "validated values are canonical");
        }
        match m.phase {
            Phase::Running => {
                let r = m.resume_after.expect("a running measurement resumes");
                assert!((MIN_RESUME_AFTER..=MAX_RESUME_AFTER).contains(&r));
            }
            _ => assert!(m.resume_after.is_none()),
        }
    } else {
        assert_eq!(m.phase, Phase::Error);
        assert!(m.message.len() < 512, "a refusal does not echo the answer");
    }

    // Judged as the controller judges it (the condition plugin's verdict stands in as Successful).
    let phase = match m.phase {
        Phase::Measured | Phase::Successful => AnalysisPhase::Successful,
        Phase::Running => AnalysisPhase::Running,
        Phase::Failed => AnalysisPhase::Failed,
        Phase::Inconclusive => AnalysisPhase::Inconclusive,
        Phase::Error => AnalysisPhase::Error,
    };
    // A start as the API can hand it back: a Kubernetes timestamp (years 1 to 9999).
    let (first, last) = (aviary_engine::clock::start_of_time(), aviary_engine::clock::end_of_time());
    let span = last.timestamp() - first.timestamp();
    let started =
        chrono::DateTime::from_timestamp(first.timestamp() + input.started.rem_euclid(span), 0).unwrap_or_default();
    let finished = aviary_engine::clock::after_seconds(started, i64::from(input.took));
    let answer = Judged {
        phase,
        message: m.message,
        value: m.value.unwrap_or_default(),
        metadata: m.metadata,
        resume_after: m.resume_after.unwrap_or(DEFAULT_RESUME_AFTER),
    };
    let stored = stored_measurement(answer, started, finished, MAX_RUNNING, None);
    if let Some(at) = stored.resume_at {
        assert!(at.0 >= finished.min(last) && at.0 <= last);
    }

    let count = input.count.map(|c| aviary_api::IntOrString::Int(i32::from(c)));
    let metric = Metric { name: "m".into(), count, ..Default::default() };
    let mut status = AnalysisRunStatus::default();
    for _ in 0..=input.repeat % 64 {
        record_measurement(result_mut(&mut status, "m", false), stored.clone(), false);
    }
    let _ = assess_metric(&metric, &status.metric_results[0], false);
    let budget = 4096 + input.budget as usize % (2 << 20);
    match fit_status(&mut status, budget) {
        Fit::AsIs | Fit::Trimmed { .. } => assert!(json_size(&status) <= budget),
        Fit::Shrunk { .. } => assert!(json_size(&status) <= 4096, "{}", json_size(&status)),
    }
    let text = serde_json::to_string(&status).expect("a status serialises");
    let back: AnalysisRunStatus = serde_json::from_str(&text).expect("and reads back");
    assert_eq!(back.metric_results.len(), status.metric_results.len());
});

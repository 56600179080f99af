//! `aviary plugin test --replay` of the recorded exchanges shipped next to the kayenta and
//! skywalking providers (`plugins/<name>/test/`): each recording has a passing, a failing and an
//! erroring measurement (kayenta's first judgement is polled once before Kayenta completes it),
//! and the first-party provider, addressed by Argo's provider name, must give exactly the
//! recorded outcomes without reaching the network.

mod common;

use common::{aviary, fixture, text};

/// Replays `plugins/<name>/test/replay.json` through `name` with its `config.json` and `extra`
/// flags; returns stdout when all three measurements are as recorded.
fn replays(name: &str, extra: &[&str]) -> String {
    common::replays_shipped(name, &format!("{name}/test"), extra, 3)
}

#[test]
fn kayenta_replays_its_recorded_judgements() {
    let stdout = replays("kayenta", &[]);
    assert!(stdout.contains("measurement 1: ok  phase=Successful value=95"), "{stdout}");
    assert!(stdout.contains("measurement 2: ok  phase=Failed value=61"), "{stdout}");
    assert!(stdout.contains("measurement 3: ok  phase=Error"), "{stdout}");
}

#[test]
fn skywalking_replays_its_recorded_queries_with_argos_documented_condition() {
    let stdout =
        replays("skywalking", &["--success", "all(result.service_apdex.values.values, {asFloat(.value) >= 9900})"]);
    assert!(stdout.contains("measurement 2: ok  phase=Failed"), "{stdout}");
}

#[test]
fn a_kayenta_replay_with_other_thresholds_fails_the_test() {
    // The thresholds travel in the start request: the recording does not hold that request.
    let config = std::fs::read_to_string(fixture("kayenta/test", "config.json"))
        .unwrap()
        .replace("\"pass\": 90", "\"pass\": 96");
    let out = aviary(&[
        "plugin",
        "test",
        "kayenta",
        "--config",
        &config,
        "--replay",
        &fixture("kayenta/test", "replay.json"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("request not in the recording: POST https://kayenta.example.com/canary/"),
        "{}",
        text(&out)
    );
}

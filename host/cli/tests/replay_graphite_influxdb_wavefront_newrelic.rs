//! `aviary plugin test --replay` of the recorded exchanges shipped next to the graphite, influxdb,
//! wavefront and newRelic providers (`plugins/<name>/test/`): each recording has a passing, a
//! failing and an erroring measurement, and the first-party provider, addressed by Argo's
//! provider name, must give exactly the recorded outcomes without reaching the network.

mod common;

use common::{aviary, fixture, text};

/// Replays `plugins/<dir>/test/replay.json` through `plugin` with its `config.json` and the
/// metric's conditions; all three measurements must be as recorded.
fn replays(plugin: &str, dir: &str, extra: &[&str]) {
    common::replays_shipped(plugin, &format!("{dir}/test"), extra, 3);
}

#[test]
fn graphite_replays_its_recording() {
    replays("graphite", "graphite", &["--success", "all(result, {# < 5})", "--failure", "any(result, {# >= 5})"]);
}

#[test]
fn influxdb_replays_its_recording() {
    replays("influxdb", "influxdb", &["--success", "all(result, {# < 0.05})", "--failure", "any(result, {# >= 0.05})"]);
}

#[test]
fn wavefront_replays_its_recording() {
    replays("wavefront", "wavefront", &["--success", "result < 0.1", "--failure", "result >= 0.1"]);
}

#[test]
fn newrelic_replays_its_recording_against_the_region_of_its_config() {
    // `region: eu` picks api.eu.newrelic.com; without the controller's baseUrlNerdgraph the
    // plugin may reach only the default (US) site unless allowed.
    let conditions = ["--success", "result.errorRate < 1", "--failure", "result.errorRate >= 1"];
    replays("newRelic", "newrelic", &[&conditions[..], &["--allow-host", "api.eu.newrelic.com"]].concat());
}

#[test]
fn a_replay_of_another_request_fails_the_test() {
    // The graphite recording, replayed with another query, names the unrecorded request.
    let replay = fixture("graphite/test", "replay.json");
    let config = r#"{"address": "http://graphite.monitoring:8080", "query": "target=other.metric&from=-2min"}"#;
    let out = aviary(&["plugin", "test", "graphite", "--config", config, "--replay", &replay]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("request not in the recording: GET http://graphite.monitoring:8080/render?"),
        "{}",
        text(&out)
    );
}

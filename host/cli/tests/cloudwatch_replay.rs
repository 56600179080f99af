//! `aviary plugin test cloudWatch --replay`: the first-party CloudWatch provider replays the
//! recorded GetMetricData exchanges of plugins/cloudwatch/tests/replay (Argo's documented
//! template, one measurement under the 1% error rate and one over it) and judges them with
//! Argo's documented success condition, without the network.

mod common;

#[test]
fn the_recorded_cloudwatch_exchange_replays_green() {
    let stdout = common::replays_shipped(
        "cloudWatch",
        "cloudwatch/tests/replay",
        &["--success", "len(result[0].Values) >= 5 and all(result[0].Values, {# <= 0.01})"],
        2,
    );
    assert!(stdout.contains("measurement 1: ok  phase=Successful"), "{stdout}");
    assert!(stdout.contains("measurement 2: ok  phase=Failed"), "{stdout}");
}

//! `aviary/judge` through the host: the embedded component judges canary and baseline series
//! with Kayenta's statistics, called as the controller calls a condition
//! (`PluginHost::evaluate`, twice per measurement through the engine's `Judge`), including on the
//! value the `web` provider measured from a loopback service.

mod common;

use aviary_api::AnalysisPhase;
use aviary_engine::analysis::measurement::Judge;
use aviary_plugins::{CallContext, EvalError, Phase, PluginHost};
use axum::Json;
use axum::routing::get;
use serde_json::{Value, json};

/// Kayenta's ClassifierSuite samples: a baseline, a canary about twice as high, and a canary
/// from the same distribution as the baseline.
const BASELINE: [f64; 12] = [11.15, 9.96, 7.07, 7.30, 9.79, 9.60, 6.19, 12.35, 10.37, 8.61, 9.91, 10.36];
const HIGHER: [f64; 12] = [20.88, 21.79, 19.71, 15.86, 19.51, 19.39, 22.93, 17.16, 18.66, 23.42, 24.06, 22.63];
const SIMILAR: [f64; 12] = [9.78, 10.59, 7.84, 9.32, 8.38, 8.94, 8.27, 9.75, 11.62, 9.28, 8.15, 10.56];

fn conditions(extra: &str) -> (String, String) {
    (
        format!(r#"{{"is": "pass", "pass": 90, "marginal": 40{extra}}}"#),
        format!(r#"{{"is": "fail", "pass": 90, "marginal": 40{extra}}}"#),
    )
}

/// The phase of a measurement of `value`, judged as the controller judges it.
async fn verdict(host: &PluginHost, value: &str, success: &str, failure: &str) -> (AnalysisPhase, String) {
    let mut judge = Judge::new(success, failure, false);
    while let Some(expression) = judge.next() {
        judge.record(host.evaluate("aviary/judge", expression, value).await.map_err(|e| e.to_string()));
    }
    let v = judge.verdict();
    (v.phase, v.message)
}

fn metrics(latency: &[f64], errors: &[f64]) -> String {
    json!({"metrics": {
        "latency": {"canary": latency, "baseline": BASELINE},
        "errors": {"canary": errors, "baseline": BASELINE},
    }})
    .to_string()
}

#[tokio::test]
async fn pass_marginal_and_fail_are_successful_inconclusive_and_failed() {
    let host = common::host();
    let (success, failure) = conditions(r#", "direction": "increase""#);
    // Both metrics like the baseline: 100, Pass.
    assert_eq!(verdict(&host, &metrics(&SIMILAR, &SIMILAR), &success, &failure).await.0, AnalysisPhase::Successful);
    // Latency High: 50, Marginal, so neither condition holds.
    assert_eq!(verdict(&host, &metrics(&HIGHER, &SIMILAR), &success, &failure).await.0, AnalysisPhase::Inconclusive);
    // Both High: 0, Fail.
    assert_eq!(verdict(&host, &metrics(&HIGHER, &HIGHER), &success, &failure).await.0, AnalysisPhase::Failed);
    // Only a decrease counts against the canary: both High metrics pass.
    let (success, failure) = conditions(r#", "direction": "decrease""#);
    assert_eq!(verdict(&host, &metrics(&HIGHER, &HIGHER), &success, &failure).await.0, AnalysisPhase::Successful);
    // Weights: errors carries 80 of the score, so a High latency leaves 80: Marginal under 90.
    let (success, failure) = conditions(r#", "groupWeights": {"latency": 20, "errors": 80}"#);
    assert_eq!(verdict(&host, &metrics(&HIGHER, &SIMILAR), &success, &failure).await.0, AnalysisPhase::Inconclusive);
    assert_eq!(
        host.evaluate(
            "aviary/judge",
            r#"{"is": "marginal", "pass": 81, "marginal": 79, "groupWeights": {"latency": 20, "errors": 80}}"#,
            &metrics(&HIGHER, &SIMILAR)
        )
        .await
        .ok(),
        Some(true)
    );
    assert_eq!(
        host.evaluate(
            "aviary/judge",
            r#"{"is": "pass", "pass": 80, "marginal": 75, "groupWeights": {"latency": 20}}"#,
            &metrics(&HIGHER, &SIMILAR)
        )
        .await
        .ok(),
        Some(true)
    );
    // A critical metric that is High fails the canary whatever the weights.
    let (success, failure) =
        conditions(r#", "groupWeights": {"latency": 1, "errors": 99}, "metrics": {"latency": {"critical": true}}"#);
    assert_eq!(verdict(&host, &metrics(&HIGHER, &SIMILAR), &success, &failure).await.0, AnalysisPhase::Failed);
}

#[tokio::test]
async fn bad_settings_or_values_are_errors_naming_the_field() {
    let host = common::host();
    let value = metrics(&SIMILAR, &SIMILAR);
    let message = |r: Result<bool, EvalError>| match r {
        Err(EvalError::Expression(m)) => m,
        other => panic!("expected the plugin's error, got {other:?}"),
    };
    let m = message(
        host.evaluate(
            "aviary/judge",
            r#"{"is": "pass", "pass": 95, "marginal": 75, "metrics": {"latency": {"direction": "up"}}}"#,
            &value,
        )
        .await,
    );
    assert!(m.starts_with("aviary/judge settings: field metrics.latency.direction: unknown variant `up`"), "{m}");
    let m = message(host.evaluate("aviary/judge", "result[0] > 1", &value).await);
    assert!(m.contains("must be a JSON object of the judge's settings"), "{m}");
    let m = message(
        host.evaluate(
            "aviary/judge",
            r#"{"is": "pass", "pass": 95, "marginal": 75}"#,
            r#"{"canary": [1, "x"], "baseline": [1]}"#,
        )
        .await,
    );
    assert_eq!(m, "aviary/judge value: field canary[1]: expected a number or null, got a string");
    // In a measurement, Argo's wording around it and the phase Error.
    let (phase, message) = verdict(&host, "[0.5]", r#"{"is": "pass", "pass": 95, "marginal": 75}"#, "").await;
    assert_eq!(phase, AnalysisPhase::Error);
    assert!(message.contains("aviary/judge value: expected {\"canary\""), "{message}");
}

#[tokio::test]
async fn a_web_measurement_of_both_series_is_judged() {
    // A service that serves both series, as a team's comparison endpoint would.
    let router = axum::Router::new()
        .route(
            "/compare/good",
            get(|| async { Json(json!({"window": "5m", "canary": SIMILAR, "baseline": BASELINE})) }),
        )
        .route("/compare/bad", get(|| async { Json(json!({"window": "5m", "canary": HIGHER, "baseline": BASELINE})) }));
    let addr = common::serve("127.0.0.1", router).await;
    let host = common::host();
    let (success, failure) = conditions(r#", "direction": "increase""#);
    for (path, want) in [("good", AnalysisPhase::Successful), ("bad", AnalysisPhase::Failed)] {
        let config: Value = json!({"url": format!("http://{addr}/compare/{path}"), "jsonPath": "{$}"});
        let m = host.measure("web", &CallContext::default(), &config.to_string()).await;
        assert_eq!(m.phase, Phase::Measured, "{path}: {}", m.message);
        let value = m.value.expect("a value");
        assert_eq!(verdict(&host, &value, &success, &failure).await.0, want, "{path}: {value}");
    }
}

#[tokio::test]
async fn the_judge_is_a_first_party_condition() {
    let host = common::host();
    // A condition, not a provider: measuring with it is refused.
    let m = host.measure("aviary/judge", &CallContext::default(), "{}").await;
    assert_eq!(m.phase, Phase::Error);
    // Judging is deterministic across calls, Kayenta's noise on constant series included.
    let value = r#"{"canary": [10, 10, 10, 10, 10, 10], "baseline": [9, 9, 9, 9, 9, 9]}"#;
    for _ in 0..3 {
        assert_eq!(
            host.evaluate("aviary/judge", r#"{"is": "fail", "pass": 95, "marginal": 75}"#, value).await.ok(),
            Some(true)
        );
    }
}

#[tokio::test]
async fn a_value_at_the_size_cap_is_judged_within_the_condition_deadline() {
    // About 5000 points in 32 KiB, the most a measured value can hold: the judgement (sorting
    // the pooled sample some hundred times for the interval's roots) fits the 1 s deadline.
    let series = |offset: f64| -> Vec<f64> { (0..2500).map(|i| offset + ((i * 7919) % 1000) as f64 / 100.0).collect() };
    let value = json!({"canary": series(1.0), "baseline": series(0.0)}).to_string();
    assert!(value.len() <= 32 * 1024, "{} bytes", value.len());
    let host = common::host();
    // Loading (compiling) the component is not part of an evaluation's deadline.
    let small = r#"{"canary": [1, 2], "baseline": [1, 2]}"#;
    assert_eq!(host.evaluate("aviary/judge", r#"{"is": "pass", "pass": 95, "marginal": 75}"#, small).await, Ok(true));
    let started = std::time::Instant::now();
    let r = host.evaluate("aviary/judge", r#"{"is": "fail", "pass": 95, "marginal": 75}"#, &value).await;
    // Ok at all means within the deadline: the host stops a call at it (a timeout error).
    assert_eq!(r, Ok(true), "a shift of 1 in 0..10 over 2500 points each is High");
    assert!(started.elapsed() < std::time::Duration::from_secs(1), "{:?}", started.elapsed());
}

//! Every condition row of the reference (§4: E1-E16, P1-P5) through `aviary condition eval`,
//! which evaluates with the `aviary/expr` Wasm component and judges as an AnalysisRun does.

use std::process::Command;

use serde_json::Value;

/// Runs `aviary condition eval -o json` and returns (phase, message).
fn eval(value: &str, success: Option<&str>, failure: Option<&str>) -> (String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aviary"));
    cmd.args(["condition", "eval", "-o", "json", "--value", value]);
    cmd.env("AVIARY_CACHE_DIR", std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("aviary-plugin-cache"));
    if let Some(s) = success {
        cmd.args(["--success", s]);
    }
    if let Some(f) = failure {
        cmd.args(["--failure", f]);
    }
    let out = cmd.output().expect("run aviary");
    assert!(out.status.success(), "exit {:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    (v["phase"].as_str().unwrap().to_string(), v["message"].as_str().unwrap().to_string())
}

fn phase(value: &str, success: Option<&str>, failure: Option<&str>) -> String {
    eval(value, success, failure).0
}

#[test]
fn e1_to_e8_combine_success_and_failure_as_argo_does() {
    let rows: &[(&str, &str, &str, &str)] = &[
        ("E1", "true", "false", "Successful"),
        ("E2", "true", "true", "Failed"),
        ("E3", "false", "false", "Inconclusive"),
        ("E4", "", "false", "Successful"),
        ("E5", "false", "", "Failed"),
        ("E6", "", "", "Successful"),
        ("E7", "a == true", "true", "Error"),
        ("E8", "true", "a == true", "Error"),
    ];
    for (id, success, failure, want) in rows {
        let s = (!success.is_empty()).then_some(*success);
        let f = (!failure.is_empty()).then_some(*failure);
        assert_eq!(phase("true", s, f), *want, "{id}");
    }
    assert_eq!(
        eval("true", Some("a == true"), Some("true")).1,
        "could not evaluate successCondition \"a == true\": unknown name a"
    );
    assert_eq!(
        eval("true", Some("true"), Some("a == true")).1,
        "could not evaluate failureCondition \"a == true\": unknown name a"
    );
}

#[test]
fn e9_to_e16_evaluate_single_conditions() {
    assert_eq!(phase("true", Some("result == true"), None), "Successful"); // E9
    assert_eq!(phase("true", Some("result == false"), None), "Failed"); // E10
    assert_eq!(
        eval("true", Some("1"), None),
        ("Error".into(), "could not evaluate successCondition \"1\": expected bool, but got int".into())
    ); // E11
    assert_eq!(
        eval("true", Some("invalidVariable"), None),
        (
            "Error".into(),
            "could not evaluate successCondition \"invalidVariable\": unknown name invalidVariable".into()
        )
    ); // E12
    let apdex = r#"{"service_apdex": {"label": null, "values": {"values": [2.0, 2.0]}}}"#;
    assert_eq!(phase(apdex, Some("all(result.service_apdex.values.values, {# > 1})"), None), "Successful"); // E13
    assert_eq!(phase("[2, 2]", Some("2 in result"), None), "Successful"); // E14
    assert_eq!(phase("5.0", Some("result > 1"), None), "Successful"); // E15
    assert_eq!(phase("true", Some("result.Name() == 'hi'"), None), "Error"); // E16
}

#[test]
fn p1_to_p5_keep_prometheus_nan_and_vectors_intact() {
    assert_eq!(phase("10", Some("result == 10"), Some("result != 10")), "Successful"); // P1
    assert_eq!(phase("[11,12,13,14]", Some("all(result, # > 10)"), Some("all(result, # < 10)")), "Successful"); // P2
    assert_eq!(phase("NaN", Some("result >= 0.9"), Some("result < 0.9")), "Inconclusive"); // P3
    assert_eq!(phase("NaN", Some("result >= 0.9 || isNaN(result)"), None), "Successful"); // P4
    assert_eq!(phase("NaN", Some("result >= 0.9"), None), "Failed"); // P5
}

#[test]
fn a_condition_that_fails_on_no_data_says_so() {
    for value in ["[]", "null"] {
        let (phase, message) = eval(value, Some("result[0] >= 0.95"), None);
        assert_eq!(phase, "Error", "{value}");
        assert_eq!(
            message,
            "could not evaluate successCondition \"result[0] >= 0.95\": metric result is nil or empty: no data returned from the metric provider"
        );
    }
    // The documented idiom handles it.
    assert_eq!(phase("[]", Some("len(result) == 0 || result[0] >= 0.95"), None), "Successful");
    assert_eq!(phase("null", Some("default(result, 0) < 1"), None), "Successful");
}

#[test]
fn a_value_that_is_not_json_is_a_usage_error_not_a_phase() {
    let out = Command::new(env!("CARGO_BIN_EXE_aviary"))
        .args(["condition", "eval", "--value", "{oops", "--success", "true"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--value \"{oops\" is not JSON"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn text_output_is_one_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_aviary"))
        .args(["condition", "eval", "--value", "NaN", "--success", "result >= 0.9", "--failure", "result < 0.9"])
        .env("AVIARY_CACHE_DIR", std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("aviary-plugin-cache"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Inconclusive\n");
}

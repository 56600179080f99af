//! aviary/expr against Argo Rollouts itself: every case of `fixtures/conditions.json`.
//!
//! That file is written by tests/argo/golden.sh: tests/argo/cmd/golden runs each condition of
//! tests/argo/golden-conditions.txt through Argo's own `evaluate.EvalCondition` (expr-lang/expr's
//! type checker and VM, with Argo's helpers) and `evaluate.EvaluateResult`, at the version
//! tests/argo pins. Each case must give the same boolean, or the same error; and the measurement
//! Aviary would record (its phase and message, formatted as Argo's `formatEvalError` does) must be
//! Argo's. A case that cannot match is listed in [`EXCEPTIONS`] with its reason, and a listed case
//! that does match fails the test too, so that the list stays true.

use std::collections::BTreeMap;

use aviary_plugin_expr::evaluate;
use aviary_plugin_sdk::Value;

/// The suffix of Argo's message when a condition cannot be evaluated against no data (null or an
/// empty array), whatever the error (`formatEvalError`).
const NO_DATA: &str = "metric result is nil or empty: no data returned from the metric provider";

/// A Prometheus vector: Argo hands it to the condition as a `[]float64`, so to Go's checker its
/// elements are float64s; the plugin receives the values only, as the JSON array a web metric
/// also gives (`[]interface {}`, elements unknown). Telling them apart needs the provider's Go
/// type in the condition interface.
const VECTOR: &str = "a Prometheus vector is a []float64 to Argo, a JSON array ([]interface {}) to the plugin";

/// expr-lang has no function values: a helper named alone is not a value it can compare.
const FUNCTION_VALUE: &str = "expr-lang has no function values (`asInt` alone is an unknown variable to it)";

/// The workspace builds expr-lang without its `json` feature (root Cargo.toml).
const NO_JSON: &str = "expr-lang is built without its `json` feature: toJSON/fromJSON fail";

/// Cases that do not match Argo, as (result, expression, reason).
const EXCEPTIONS: &[(&str, &str, &str)] = &[
    ("[]float64 [0.99, 1]", "result[0] == \"x\"", VECTOR),
    ("[]float64 [0.99, 1]", "result[0] + \"x\" == 1", VECTOR),
    ("[]float64 [0.99, 1]", "all(result, # == \"a\")", VECTOR),
    ("[]float64 [0.99, 1]", "asInt(result) == 1", VECTOR),
    ("[]float64 [0.99, 1]", "result", VECTOR),
    ("1", "asInt == nil", FUNCTION_VALUE),
    ("[1, 2]", "toJSON(result) != \"\"", NO_JSON),
    ("[1, 2]", "fromJSON(\"[1]\")[0] == 1", NO_JSON),
    (
        "1",
        "1 < 2 < 3",
        "Go's parser reads a chain of comparisons as `1 < 2 && 2 < 3`; expr-lang's AST keeps no \
         parentheses, so the chain cannot be told from `(1 < 2) < 3`, which Go refuses as well",
    ),
    (
        "[{\"value\": \"9950\"}, {\"value\": \"9999\"}]",
        "filter(result, .value == \"9999\")[0].value == \"9999\"",
        "expr-lang's grammar takes the `.name` shorthand as a whole predicate only (`map(xs, .name)`), \
         not inside one (`{#.value == ...}` and `#.value == ...` work)",
    ),
];

/// One golden case.
struct Case {
    expression: String,
    result: String,
    value: Option<bool>,
    error: Option<String>,
    phase: String,
    message: String,
}

fn cases() -> Vec<Case> {
    let text = include_str!("fixtures/conditions.json");
    let Value::Array(items) = Value::parse(text).expect("conditions.json is JSON") else {
        panic!("conditions.json is not an array");
    };
    let string = |o: &BTreeMap<String, Value>, key: &str| match o.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    items
        .into_iter()
        .map(|item| {
            let Value::Object(o) = item else { panic!("a case is not an object") };
            Case {
                expression: string(&o, "expression").expect("expression"),
                result: string(&o, "result").expect("result"),
                value: match o.get("value") {
                    Some(Value::Bool(b)) => Some(*b),
                    _ => None,
                },
                error: string(&o, "error"),
                phase: string(&o, "phase").expect("phase"),
                message: string(&o, "message").unwrap_or_default(),
            }
        })
        .collect()
}

/// The value the plugin receives for a case's result. A Prometheus vector (`[]float64 [...]`) is,
/// to Aviary, the array of numbers it carries.
fn plugin_value(result: &str) -> Value {
    let text = result.strip_prefix("[]float64 ").unwrap_or(result);
    Value::parse(text).unwrap_or_else(|e| panic!("result {result:?}: {e}"))
}

/// The phase and message Argo's `EvaluateResult` records for a metric whose only condition is
/// the success condition `expression`, from what evaluating it gave.
fn measurement(expression: &str, value: &Value, outcome: &Result<bool, String>) -> (String, String) {
    match outcome {
        Ok(true) => ("Successful".into(), String::new()),
        Ok(false) => ("Failed".into(), String::new()),
        Err(e) => {
            let reason = if value.is_empty_result() { NO_DATA } else { e.as_str() };
            ("Error".into(), format!("could not evaluate successCondition \"{expression}\": {reason}"))
        }
    }
}

#[test]
fn every_condition_evaluates_as_argo_does() {
    let cases = cases();
    assert!(cases.len() >= 150, "the corpus has {} cases", cases.len());
    let mut mismatches = Vec::new();
    for case in &cases {
        let value = plugin_value(&case.result);
        let got = evaluate(&case.expression, &value);
        let expected = match (&case.value, &case.error) {
            (Some(b), None) => Ok(*b),
            (None, Some(e)) => Err(e.clone()),
            _ => panic!("case {:?}: neither a value nor an error", case.expression),
        };
        let (phase, message) = measurement(&case.expression, &value, &got);
        if got != expected || phase != case.phase || message != case.message {
            mismatches.push((case.result.as_str(), case.expression.as_str(), got, expected));
        }
    }
    let listed = |r: &str, e: &str| EXCEPTIONS.iter().any(|(result, expression, _)| *result == r && *expression == e);
    let unexpected: Vec<String> = mismatches
        .iter()
        .filter(|(r, e, ..)| !listed(r, e))
        .map(|(r, e, got, expected)| format!("result {r}, {e:?}:\n    aviary {got:?}\n    argo   {expected:?}"))
        .collect();
    let stale: Vec<String> = EXCEPTIONS
        .iter()
        .filter(|(r, e, _)| !mismatches.iter().any(|(mr, me, ..)| mr == r && me == e))
        .map(|(r, e, _)| format!("result {r}, {e:?}"))
        .collect();
    let missing: Vec<String> = EXCEPTIONS
        .iter()
        .filter(|(r, e, _)| !cases.iter().any(|c| c.result == *r && c.expression == *e))
        .map(|(r, e, _)| format!("result {r}, {e:?}"))
        .collect();
    assert!(
        unexpected.is_empty() && stale.is_empty() && missing.is_empty(),
        "{} of {} cases differ from Argo:\n{}\n\nlisted as exceptions but matching Argo:\n{}\n\nlisted but not in the corpus:\n{}",
        unexpected.len(),
        cases.len(),
        unexpected.join("\n"),
        stale.join("\n"),
        missing.join("\n"),
    );
}

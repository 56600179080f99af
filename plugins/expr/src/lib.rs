//! `aviary/expr`: the default condition evaluator, Argo Rollouts' condition language.
//!
//! Argo evaluates `successCondition` and `failureCondition` with the Go library expr-lang/expr;
//! this plugin does it with the Rust implementation (`expr-lang`) and adds Argo's helpers with
//! Argo's semantics, quirks included (reference §4):
//!
//! - `result` is the measured value; every number is a float, as Go decodes JSON.
//! - `asInt(x)` / `asFloat(x)` accept numbers and numeric strings and fail on anything else.
//! - `isNaN(f)`, `isInf(f)` (either sign).
//! - `isNil(_)` and `default(_, d)` IGNORE their first argument and look at the whole `result`:
//!   `default(result[0], 0)` is not element-wise, exactly as in Argo.
//! - The expression must yield a bool: otherwise `expected bool, but got int` (Go's type names).
//! - An unknown identifier is `unknown name X`, Argo's wording.
//!
//! The evaluator is a plain function ([`evaluate`]) so that it is unit-tested natively; the
//! component export is a thin wrapper around it. Expressions are compiled by `parse::compile`, a
//! hand-written fast path for the common subset that builds the same program as `expr::compile`
//! (whose pest parser was most of an evaluation's time) and falls back to it for everything else.

mod parse;

use std::sync::OnceLock;

use aviary_plugin_sdk::{Condition, Value, export_condition, export_initialize};
use expr::{Context, Environment, Value as ExprValue};

/// Evaluates an Argo condition with `result` bound to `value`.
pub fn evaluate(expression: &str, value: &Value) -> Result<bool, String> {
    let program = parse::compile(expression).map_err(|e| compile_message(&e.to_string()))?;
    let mut ctx = Context::default();
    ctx.insert("result", to_expr(value));
    let out = environment().run(&program, &ctx).map_err(|e| runtime_message(&e.to_string()))?;
    match out {
        ExprValue::Bool(b) => Ok(b),
        other => Err(format!("expected bool, but got {}", go_type_name(&other))),
    }
}

/// The call's arguments. Go's expr lets a closure's member shorthand stand as an argument
/// (`all(result.x, {asFloat(.value) >= 9900})`); expr-lang parses `asFloat(.value)` as a call
/// whose only "argument" is a predicate, so evaluate that predicate against the current element.
/// (A macro because expr-lang does not export the call type's name.)
macro_rules! args {
    ($c:expr) => {
        match ($c.args.is_empty(), $c.predicate) {
            (true, Some(member)) => vec![$c.env.run(member, $c.ctx)?],
            _ => $c.args.clone(),
        }
    };
}

/// The expr environment, built once per instance. The host pre-initialises this component
/// ([`initialize`]), so in practice it is built once at load time and every call finds it in the
/// snapshot it starts from: building it (about a hundred boxed functions) cost more than the
/// whole rest of an evaluation.
fn environment() -> &'static Environment<'static> {
    static ENVIRONMENT: OnceLock<Environment<'static>> = OnceLock::new();
    ENVIRONMENT.get_or_init(build_environment)
}

/// Run once by the host when it loads the component; what it leaves in memory is where every
/// call starts. Builds the environment, and compiles and runs one expression through expr-lang's
/// own parser so that its lazily built tables (the Pratt operator table) are in the snapshot too.
fn initialize() {
    let warm = Value::parse("[1]").unwrap_or(Value::Null);
    let _ = evaluate("result[0] >= 0.5", &warm);
    let _ = expr::compile("result[0] >= 0.5 ? true : false");
}

/// expr's built-ins plus Argo's helpers.
fn build_environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.add_function("asInt", |c| match args!(c).as_slice() {
        [ExprValue::Integer(i)] => Ok(ExprValue::Integer(*i)),
        [ExprValue::Float(f)] => Ok(ExprValue::Integer(*f as i64)),
        [ExprValue::String(s)] => s
            .parse::<i64>()
            .map(ExprValue::Integer)
            .map_err(|_| format!("strconv.ParseInt: parsing {s:?}: invalid syntax").into()),
        [other] => Err(format!("asInt: unsupported type {}", go_type_name(other)).into()),
        args => Err(format!("asInt: expected 1 argument, got {}", args.len()).into()),
    });
    env.add_function("asFloat", |c| match args!(c).as_slice() {
        [ExprValue::Integer(i)] => Ok(ExprValue::Float(*i as f64)),
        [ExprValue::Float(f)] => Ok(ExprValue::Float(*f)),
        [ExprValue::String(s)] => parse_go_float(s)
            .map(ExprValue::Float)
            .ok_or_else(|| format!("strconv.ParseFloat: parsing {s:?}: invalid syntax").into()),
        [other] => Err(format!("asFloat: unsupported type {}", go_type_name(other)).into()),
        args => Err(format!("asFloat: expected 1 argument, got {}", args.len()).into()),
    });
    env.add_function("isNaN", |c| match args!(c).as_slice() {
        [ExprValue::Float(f)] => Ok(ExprValue::Bool(f.is_nan())),
        [ExprValue::Integer(_)] => Ok(ExprValue::Bool(false)),
        [other] => Err(format!("isNaN: expected float64, got {}", go_type_name(other)).into()),
        args => Err(format!("isNaN: expected 1 argument, got {}", args.len()).into()),
    });
    env.add_function("isInf", |c| match args!(c).as_slice() {
        [ExprValue::Float(f)] => Ok(ExprValue::Bool(f.is_infinite())),
        [ExprValue::Integer(_)] => Ok(ExprValue::Bool(false)),
        [other] => Err(format!("isInf: expected float64, got {}", go_type_name(other)).into()),
        args => Err(format!("isInf: expected 1 argument, got {}", args.len()).into()),
    });
    // Argo's isNil and default look at the whole result, whatever their first argument says.
    env.add_function("isNil", |c| Ok(ExprValue::Bool(matches!(c.ctx.get("result"), None | Some(ExprValue::Nil)))));
    env.add_function("default", |c| match c.args.as_slice() {
        [_, fallback] => Ok(match c.ctx.get("result") {
            None | Some(ExprValue::Nil) => fallback.clone(),
            Some(result) => result.clone(),
        }),
        args => Err(format!("default: expected 2 arguments, got {}", args.len()).into()),
    });
    env
}

/// Go's ParseFloat also accepts "NaN", "Inf", "+Inf", "-Inf", "Infinity" (any case).
fn parse_go_float(s: &str) -> Option<f64> {
    match s.to_ascii_lowercase().as_str() {
        "nan" => Some(f64::NAN),
        "inf" | "+inf" | "infinity" | "+infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        _ => s.parse::<f64>().ok(),
    }
}

/// Converts the plugin value to expr's value, Go-style: numbers are floats.
fn to_expr(v: &Value) -> ExprValue {
    match v {
        Value::Null => ExprValue::Nil,
        Value::Bool(b) => ExprValue::Bool(*b),
        Value::Number(n) => ExprValue::Float(*n),
        Value::String(s) => ExprValue::String(s.clone()),
        Value::Array(a) => ExprValue::Array(a.iter().map(to_expr).collect()),
        Value::Object(o) => {
            let mut map = expr::__private::IndexMap::new();
            for (k, v) in o {
                map.insert(k.clone(), to_expr(v));
            }
            ExprValue::Map(map)
        }
    }
}

/// The Go type name Argo's messages use for a value of this kind.
fn go_type_name(v: &ExprValue) -> &'static str {
    match v {
        ExprValue::Integer(_) => "int",
        ExprValue::Float(_) => "float64",
        ExprValue::Bool(_) => "bool",
        ExprValue::String(_) => "string",
        ExprValue::Nil => "nil",
        ExprValue::Array(_) => "[]interface {}",
        ExprValue::Map(_) | ExprValue::KeyedMap(_) => "map[string]interface {}",
        _ => "interface {}",
    }
}

/// Rewrites a compile error into Argo's wording where one exists.
fn compile_message(message: &str) -> String {
    message.trim().to_string()
}

/// Rewrites a runtime error into Argo's wording: expr-lang says `unknown variable: x` where Go's
/// expr says `unknown name x`.
fn runtime_message(message: &str) -> String {
    match message.strip_prefix("unknown variable: ") {
        Some(name) => format!("unknown name {name}"),
        None => message.to_string(),
    }
}

struct Expr;

impl Condition for Expr {
    fn evaluate(expression: &str, result: Value) -> Result<bool, String> {
        evaluate(expression, &result)
    }
}

export_condition!(Expr);
export_initialize!(initialize);

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(expr: &str, value: &str) -> Result<bool, String> {
        evaluate(expr, &Value::parse(value).unwrap())
    }

    #[test]
    fn results_and_comparisons_follow_go_semantics() {
        assert_eq!(eval("result == true", "true"), Ok(true)); // E9
        assert_eq!(eval("result == false", "true"), Ok(false)); // E10
        assert_eq!(eval("2 in result", "[2, 2]"), Ok(true)); // E14
        assert_eq!(eval("result > 1", "5"), Ok(true)); // E15
        assert_eq!(eval("result == 10", "10"), Ok(true)); // P1
        assert_eq!(eval("all(result, # > 10)", "[11,12,13,14]"), Ok(true)); // P2
        assert_eq!(eval("all(result, {# > 1})", "[2,3]"), Ok(true));
        assert_eq!(eval("result[0] >= 0.95", "[0.99]"), Ok(true));
        assert_eq!(eval("len(result) == 0 || result[0] >= 0.95", "[]"), Ok(true));
    }

    #[test]
    fn non_bool_results_and_unknown_names_use_argos_messages() {
        assert_eq!(eval("1", "true"), Err("expected bool, but got int".into())); // E11
        assert_eq!(eval("invalidVariable", "true"), Err("unknown name invalidVariable".into())); // E12
        assert_eq!(eval("a == true", "true"), Err("unknown name a".into())); // E7
        assert!(eval("result.Name() == 'hi'", "true").is_err()); // E16
    }

    #[test]
    fn nested_objects_and_member_predicates_work() {
        // E13
        let v = r#"{"service_apdex": {"label": null, "values": {"values": [2.0, 2.0]}}}"#;
        assert_eq!(eval("all(result.service_apdex.values.values, {# > 1})", v), Ok(true));
        let v = r#"{"x": [{"value": "9950"}, {"value": "9999"}]}"#;
        assert_eq!(eval("all(result.x, {asFloat(.value) >= 9900})", v), Ok(true));
    }

    #[test]
    fn nan_compares_false_and_is_detected() {
        assert_eq!(eval("result >= 0.9", "NaN"), Ok(false)); // P3, P5
        assert_eq!(eval("result < 0.9", "NaN"), Ok(false)); // P3
        assert_eq!(eval("result >= 0.9 || isNaN(result)", "NaN"), Ok(true)); // P4
        assert_eq!(eval("isInf(result)", "Infinity"), Ok(true));
        assert_eq!(eval("isInf(result)", "-Infinity"), Ok(true));
        assert_eq!(eval("isInf(result)", "1"), Ok(false));
    }

    #[test]
    fn as_int_and_as_float_accept_numbers_and_numeric_strings_only() {
        assert_eq!(eval("asInt(result) == 3", "3.9"), Ok(true));
        assert_eq!(eval("asInt(result) == 42", "\"42\""), Ok(true));
        assert!(eval("asInt(result) == 1", "\"1.5\"").unwrap_err().contains("invalid syntax"));
        assert_eq!(eval("asFloat(result) == 1.5", "\"1.5\""), Ok(true));
        assert!(eval("asFloat(result) > 0", "\"abc\"").is_err());
        assert!(eval("asInt(result) > 0", "[1]").is_err());
    }

    #[test]
    fn default_and_is_nil_look_at_the_whole_result_as_argo_does() {
        assert_eq!(eval("default(result, 0) < 1", "null"), Ok(true));
        assert_eq!(eval("default(result, 0) < 1", "0.5"), Ok(true));
        assert_eq!(eval("isNil(result)", "null"), Ok(true));
        assert_eq!(eval("isNil(result)", "[]"), Ok(false));
        // The quirk: the first argument is ignored, so this is the whole array, not element 0,
        // and comparing an array with a number is an error, exactly as in Argo.
        assert!(eval("default(result[0], 0) < 1", "[0.5]").is_err());
        assert_eq!(eval("isNil(123)", "null"), Ok(true));
    }

    #[test]
    fn indexing_an_empty_result_is_an_error() {
        assert!(eval("result[0] >= 0.95", "[]").is_err());
    }
}

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
//! - Argo compiles a condition against the result's Go type, so Go's type checker refuses what
//!   the types rule out (`result == "x"` with a numeric result is an error, never `false`):
//!   `check` is that checker. Where Go's evaluation differs from expr-lang's (an index out of
//!   range is an error, not `nil`), `runtime` lowers the program to functions with Go's
//!   semantics and words expr-lang's runtime errors as Go's VM does; `syntax` words syntax
//!   errors as Go's parser does. tests/conditions.rs holds all of it to Argo's own verdicts.
//!
//! The evaluator is a plain function ([`evaluate`]) so that it is unit-tested natively; the
//! component export is a thin wrapper around it. Expressions are compiled by `parse::compile`, a
//! hand-written fast path for the common subset that builds the same program as `expr::compile`
//! (whose pest parser was most of an evaluation's time) and falls back to it for everything else.

mod builtins;
mod check;
mod parse;
mod runtime;
mod syntax;

use std::sync::OnceLock;

use aviary_plugin_sdk::{Condition, Value, export_condition, export_initialize};
use expr::{Context, Environment, Value as ExprValue};

/// Evaluates an Argo condition with `result` bound to `value`.
pub fn evaluate(expression: &str, value: &Value) -> Result<bool, String> {
    let program = parse::compile(expression).map_err(|e| syntax::message(expression, &e.to_string()))?;
    // Argo's compile step type-checks the condition against the result's type (check.rs), and
    // where Go's evaluation differs from expr-lang's the program says so (runtime.rs).
    let nature = check::check(&program, expression, value)?;
    if let Some(function) = nature.function() {
        return Err(format!("expected bool, but got {function}"));
    }
    let program = runtime::lower(&program);
    let mut ctx = Context::default();
    ctx.insert("result", to_expr(value));
    let env = environment();
    let out = match env.run(&program, &ctx) {
        Ok(out) => out,
        // Where expr-lang fails, Go may not (`nil contains "x"` is false), or fails in its words.
        Err(e) => {
            return runtime::explain(env, &ctx, &program)
                .map_err(|m| m.unwrap_or_else(|| runtime_message(&e.to_string())));
        }
    };
    match out {
        ExprValue::Bool(b) => Ok(b),
        // Go's `%T` of the value; of an integer, its static type (`asInt` gives an int64, which
        // expr-lang's integer does not tell).
        other => Err(format!(
            "expected bool, but got {}",
            match (&other, nature.concrete()) {
                (ExprValue::Integer(_), Some(ty)) => ty.to_string(),
                _ => runtime::type_name(&other).to_string(),
            }
        )),
    }
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

/// expr's built-ins plus Argo's helpers, with Go's semantics and messages (evaluate.go). The
/// checker has already refused every call Go's would (argument counts, `isNaN("x")`), so these
/// only meet what Go's functions meet at runtime.
fn build_environment() -> Environment<'static> {
    let mut env = Environment::new();
    runtime::add_functions(&mut env);
    env.add_function("asInt", |c| match c.args.as_slice() {
        [ExprValue::Integer(i)] => Ok(ExprValue::Integer(*i)),
        [ExprValue::Float(f)] => Ok(ExprValue::Integer(runtime::go_int64(*f))),
        [ExprValue::String(s)] => parse_go_int(s).map(ExprValue::Integer).map_err(Into::into),
        [other] => Err(not_supported("asInt", other).into()),
        args => Err(format!("asInt: expected 1 argument, got {}", args.len()).into()),
    });
    env.add_function("asFloat", |c| match c.args.as_slice() {
        [ExprValue::Integer(i)] => Ok(ExprValue::Float(*i as f64)),
        [ExprValue::Float(f)] => Ok(ExprValue::Float(*f)),
        [ExprValue::String(s)] => parse_go_float(s).map(ExprValue::Float).map_err(Into::into),
        [other] => Err(not_supported("asFloat", other).into()),
        args => Err(format!("asFloat: expected 1 argument, got {}", args.len()).into()),
    });
    // The argument is a float64: runtime::lower makes it one, or fails as Go does.
    env.add_function("isNaN", |c| match c.args.as_slice() {
        [ExprValue::Float(f)] => Ok(ExprValue::Bool(f.is_nan())),
        _ => Err(String::from("isNaN: expected a float64").into()),
    });
    env.add_function("isInf", |c| match c.args.as_slice() {
        [ExprValue::Float(f)] => Ok(ExprValue::Bool(f.is_infinite())),
        _ => Err(String::from("isInf: expected a float64").into()),
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

/// Argo's panic for a value asInt/asFloat does not take: `asInt() not supported on %v %v` of
/// its `reflect.TypeOf` and value.
fn not_supported(name: &str, v: &ExprValue) -> String {
    format!("{name}() not supported on {} {}", runtime::type_name(v), runtime::text(v))
}

/// Go's `strconv.ParseInt(s, 10, 64)`, with its error.
fn parse_go_int(s: &str) -> Result<i64, String> {
    s.parse::<i64>().map_err(|e| {
        let reason = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => "value out of range",
            _ => "invalid syntax",
        };
        format!("strconv.ParseInt: parsing {s:?}: {reason}")
    })
}

/// Go's `strconv.ParseFloat(s, 64)`: also "NaN", "Inf", "+Inf", "-Inf", "Infinity" (any case);
/// a finite number too large for a float64 is out of range.
fn parse_go_float(s: &str) -> Result<f64, String> {
    let error = |reason: &str| format!("strconv.ParseFloat: parsing {s:?}: {reason}");
    match s.to_ascii_lowercase().as_str() {
        "nan" => Ok(f64::NAN),
        "inf" | "+inf" | "infinity" | "+infinity" => Ok(f64::INFINITY),
        "-inf" | "-infinity" => Ok(f64::NEG_INFINITY),
        lower if lower.contains("inf") || lower.contains("nan") => Err(error("invalid syntax")),
        _ => match go_float_literal(s).and_then(|digits| digits.parse::<f64>().ok()).ok_or(()) {
            Ok(f) if f.is_infinite() => Err(error("value out of range")),
            Ok(f) => Ok(f),
            Err(()) => Err(error("invalid syntax")),
        },
    }
}

/// `s` without the underscores Go's number syntax allows (between digits), or `None` if one is
/// elsewhere.
fn go_float_literal(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.char_indices() {
        if c == '_' {
            let digit = |j: Option<&u8>| j.is_some_and(u8::is_ascii_digit);
            if !(i > 0 && digit(bytes.get(i - 1)) && digit(bytes.get(i + 1))) {
                return None;
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
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

    #[test]
    fn argos_type_check_refuses_what_would_otherwise_be_false() {
        // tests/conditions.rs holds the corpus; these are the shapes that motivated the checker.
        let mismatch = "invalid operation: == (mismatched types float64 and string)";
        assert_eq!(eval("result == \"5\"", "5"), Err(mismatch.into()));
        assert_eq!(eval("result[0] == \"x\"", "[1]"), Ok(false)); // an element is interface {}
        assert_eq!(eval("result[3] == 3", "[1, 2, 3]"), Err("index out of range: 3 (array length is 3)".into()));
        assert_eq!(eval("foo(1)", "1"), Err("unknown name foo".into()));
        assert_eq!(eval("asInt(result)", "1"), Err("expected bool, but got int64".into()));
    }

    #[test]
    fn deep_and_odd_expressions_do_not_panic() {
        let deep = format!("{}result{} > 1", "(".repeat(300), ")".repeat(300));
        assert_eq!(eval(&deep, "5"), Ok(true));
        let negations = format!("{}true", "!(".repeat(200)) + &")".repeat(200);
        assert_eq!(eval(&negations, "1"), Ok(true));
        for odd in ["\"\\é\" == result", "'é\\' + \"\\\"é\"", "result ?? ", "`é", "#", ".x", "$env", "$env.$env"] {
            let _ = eval(odd, "\"é\"");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Random token soup over every result kind: an answer or an error, never a panic.
        #[test]
        fn evaluation_never_panics(
            tokens in proptest::collection::vec(proptest::sample::select(&[
                "result", "#", "#index", ".", "[", "]", "(", ")", "{", "}", ",", ":", "?", "??", "?.", "|",
                "&&", "||", "!", "==", "<", "+", "-", "*", "/", "%", "**", "0", "1", "-1", "2.5", "\"a\"",
                "'é'", "nil", "true", "in", "not", "and", "contains", "matches", "\"(\"", "len", "all",
                "filter", "map", "count", "sum", "max", "asInt", "asFloat", "isNaN", "isNil", "default",
                "upper", "split", "let x = 1;", "x", "if", "else", "$env", "..", "[1, 2]", "{a: 1}", "1 < 2 < 3",
            ][..]), 0..10),
            value in proptest::sample::select(&[
                "null", "1", "NaN", "\"s\"", "true", "[]", "[1, \"a\", null]", "[[1]]",
                "{\"a\": 1, \"b\": [null]}",
            ][..]),
        ) {
            let _ = eval(&tokens.join(" "), value);
        }
    }
}

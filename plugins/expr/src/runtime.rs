//! Go expr's runtime where expr-lang's differs: what a condition the checker accepted gives.
//!
//! Three parts, each for Argo's measurement to be the same:
//!
//! - [`lower`] rewrites the few AST shapes whose evaluation differs into calls of functions with
//!   Go's semantics ([`add_functions`]): indexing and `.field` (Go's `runtime.Fetch`: an index out
//!   of range, or a field of `nil`, is an error where expr-lang gives `nil`, so `result[3] == 3` is
//!   Error, not `false`), a predicate that is not a boolean (an error in Go), a predicate given as
//!   a plain argument (`all(xs, true)`), `isNaN`/`isInf`'s `float64` parameter (Go turns integer
//!   literals into floats at compile time and fails on any other integer), `contains`,
//!   `startsWith` and `endsWith` (`false` for a nil side, an error for a side that is not a
//!   string, where expr-lang's `contains` also looks into arrays), and Go's folding of `x and
//!   true` into `x`.
//! - [`explain`] rewords a runtime error, when there is one, as Go's VM words it: `invalid
//!   operation: float64 + string` where expr-lang says `Invalid operands for operator +`. It
//!   replays the failed program with expr-lang's own evaluators, node by node in evaluation order,
//!   to find the operation that failed and the values it failed on; successful runs never get here.
//! - Go's `%T` and `%v` of a value ([`type_name`], [`text`]), for these messages.

use std::collections::BTreeMap;

use expr::ast::node::Node;
use expr::ast::operator::Operator;
use expr::ast::postfix_operator::PostfixOperator;
use expr::ast::unary_operator::UnaryOperator;
use expr::{ContextProvider, Environment, Program, Value};

use crate::check::{self, is_env};

/// Go's `%T` of a value as Go's VM would hold it (every number of a result is a float64).
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Integer(_) => "int",
        Value::Float(_) => "float64",
        Value::Bool(_) => "bool",
        Value::String(_) => "string",
        Value::Nil => "<nil>",
        Value::Array(_) => "[]interface {}",
        Value::Bytes(_) => "[]uint8",
        Value::Map(_) => "map[string]interface {}",
        Value::KeyedMap(_) => "map[interface {}]interface {}",
    }
}

/// Go's `%v` of a value: `1`, `0.5`, `1e+06`, `[1 a]`, `map[a:1 b:<nil>]` (keys sorted).
pub(crate) fn text(v: &Value) -> String {
    match v {
        Value::Integer(i) => i.to_string(),
        Value::Float(f) => float_text(*f),
        Value::Bool(b) => b.to_string(),
        Value::String(s) => s.clone(),
        Value::Nil => "<nil>".into(),
        Value::Array(items) => format!("[{}]", items.iter().map(text).collect::<Vec<_>>().join(" ")),
        Value::Bytes(bytes) => format!("{bytes:?}").replace(',', ""),
        Value::Map(map) => {
            let sorted: BTreeMap<&String, &Value> = map.iter().collect();
            let items: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}:{}", text(v))).collect();
            format!("map[{}]", items.join(" "))
        }
        Value::KeyedMap(pairs) => {
            let items: Vec<String> = pairs.iter().map(|(k, v)| format!("{}:{}", text(k), text(v))).collect();
            format!("map[{}]", items.join(" "))
        }
    }
}

/// Go's `%v` of a float64 (`strconv.FormatFloat(f, 'g', -1, 64)`): the shortest digits, with an
/// exponent when it is below -4 or at least 6.
pub(crate) fn float_text(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // Rust's `{:e}` is the shortest round-trip form: `1.2345e6`.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.unsigned_abs());
    }
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let point = exp + 1;
    let body = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        format!("{}.{}", &digits[..point as usize], &digits[point as usize..])
    };
    if negative { format!("-{body}") } else { body }
}

/// Go's message for a type assertion that failed (`v.(bool)` on a float64).
fn conversion(v: &Value, to: &str) -> String {
    let from = if matches!(v, Value::Nil) { "nil" } else { type_name(v) };
    format!("interface conversion: interface {{}} is {from}, not {to}")
}

/// Go's `runtime.ToInt` of an index.
fn to_int(v: &Value) -> Result<i64, String> {
    match v {
        Value::Integer(i) => Ok(*i),
        Value::Float(f) => Ok(go_int64(*f)),
        other => Err(format!("invalid operation: int({})", type_name(other))),
    }
}

/// Go's `int64(f)` on amd64 (where Argo's images mostly run): NaN and out-of-range values give
/// the minimum int64, where Rust's `as` saturates.
pub(crate) fn go_int64(f: f64) -> i64 {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if (-LIMIT..LIMIT).contains(&f) { f as i64 } else { i64::MIN }
}

/// Go's `runtime.Fetch(from, i)`, the value of `from[i]` and `from.i`; `optional` is `?.`, which
/// gives nil for a nil `from`.
fn fetch(from: &Value, key: &Value, optional: bool) -> Result<Value, String> {
    let len_error = |index: i64, len: usize| format!("index out of range: {index} (array length is {len})");
    let position = |key: &Value, len: usize| -> Result<usize, String> {
        let mut index = to_int(key)?;
        if index < 0 {
            index = index.saturating_add(len as i64);
        }
        usize::try_from(index).ok().filter(|i| *i < len).ok_or_else(|| len_error(index, len))
    };
    match from {
        Value::Nil if optional => Ok(Value::Nil),
        Value::Array(items) => Ok(items[position(key, items.len())?].clone()),
        Value::String(s) => Ok(Value::Integer(s.as_bytes()[position(key, s.len())?].into())),
        Value::Bytes(bytes) => Ok(Value::Integer(bytes[position(key, bytes.len())?].into())),
        Value::Map(map) => match key {
            Value::String(k) => Ok(map.get(k).cloned().unwrap_or(Value::Nil)),
            Value::Nil => Ok(Value::Nil),
            other => Err(format!(
                "reflect.Value.MapIndex: value of type {} is not assignable to type string",
                type_name(other)
            )),
        },
        Value::KeyedMap(pairs) => Ok(pairs
            .iter()
            .find(|(k, _)| std::mem::discriminant(k) == std::mem::discriminant(key) && k == key)
            .map_or(Value::Nil, |(_, v)| v.clone())),
        other => Err(format!("cannot fetch {} from {}", text(key), type_name(other))),
    }
}

/// The functions [`lower`] calls. Their names start with `$`, which no name of Argo's
/// environment does, so the checker refuses them in a condition (`unknown name $fetch`).
pub(crate) fn add_functions(env: &mut Environment<'_>) {
    env.add_function("$fetch", |c| match c.args.as_slice() {
        [from, key, Value::Bool(optional)] => fetch(from, key, *optional).map_err(Into::into),
        _ => Err(String::from("$fetch: expected 3 arguments").into()),
    });
    // Go's strings.Split/SplitN and SplitAfter/SplitAfterN (expr-lang's differ on an empty
    // separator and on a trailing one).
    for (name, keep) in [("split", false), ("splitAfter", true)] {
        env.add_function(name, move |c| match c.args.as_slice() {
            [Value::String(s), Value::String(sep)] => Ok(Value::Array(go_split(s, sep, keep, -1))),
            [Value::String(s), Value::String(sep), n] => Ok(Value::Array(go_split(s, sep, keep, to_int(n)?))),
            args => Err(builtin_error(name, args).unwrap_or_else(|| format!("{name}: invalid arguments")).into()),
        });
    }
    for name in ["$contains", "$startsWith", "$endsWith"] {
        env.add_function(name, move |c| match c.args.as_slice() {
            [a, b] => string_operation(name, a, b).map_err(Into::into),
            _ => Err(format!("{name}: expected 2 arguments").into()),
        });
    }
    // A predicate's value, which Go asserts to be a bool.
    env.add_function("$bool", |c| match c.args.as_slice() {
        [Value::Bool(b)] => Ok(Value::Bool(*b)),
        [other] => Err(conversion(other, "bool").into()),
        _ => Err(String::from("$bool: expected 1 argument").into()),
    });
    // The argument of a `func(float64)` (isNaN, isInf); the second argument is the Go type of an
    // integer there (`int64` from asInt, else `int`).
    env.add_function("$float64", |c| match c.args.as_slice() {
        [Value::Float(f), _] => Ok(Value::Float(*f)),
        [Value::Integer(_), Value::String(ty)] => {
            Err(format!("interface conversion: interface {{}} is {ty}, not float64").into())
        }
        [other, _] => Err(conversion(other, "float64").into()),
        _ => Err(String::from("$float64: expected 2 arguments").into()),
    });
}

/// Go's `strings.genSplit`: `s` cut at each `sep` (keeping `keep` bytes of it), at most `n`
/// pieces when `n` is positive; an empty `sep` splits into characters.
fn go_split(s: &str, sep: &str, keep: bool, n: i64) -> Vec<Value> {
    if n == 0 {
        return Vec::new();
    }
    if sep.is_empty() {
        let chars: Vec<&str> = s.char_indices().map(|(i, c)| &s[i..i + c.len_utf8()]).collect();
        let n = if n < 0 || n as usize > chars.len() { chars.len() } else { n as usize };
        let mut out: Vec<Value> = chars[..n.saturating_sub(1)].iter().map(|c| Value::String((*c).into())).collect();
        if n > 0 {
            let taken: usize = chars[..n - 1].iter().map(|c| c.len()).sum();
            out.push(Value::String(s[taken..].into()));
        }
        return out;
    }
    let n = if n < 0 { s.matches(sep).count() as i64 + 1 } else { n };
    let mut out = Vec::new();
    let mut rest = s;
    while (out.len() as i64) < n - 1 {
        let Some(at) = rest.find(sep) else { break };
        let end = if keep { at + sep.len() } else { at };
        out.push(Value::String(rest[..end].into()));
        rest = &rest[at + sep.len()..];
    }
    out.push(Value::String(rest.into()));
    out
}

/// Go's VM on `a contains b`, `startsWith` and `endsWith`: `false` when either side is nil, else
/// both must be strings (expr-lang's `contains` also looks into an array).
fn string_operation(name: &str, a: &Value, b: &Value) -> Result<Value, String> {
    if matches!(a, Value::Nil) || matches!(b, Value::Nil) {
        return Ok(Value::Bool(false));
    }
    let (Value::String(a), Value::String(b)) = (a, b) else {
        let bad = if matches!(a, Value::String(_)) { b } else { a };
        return Err(conversion(bad, "string"));
    };
    Ok(Value::Bool(match name {
        "$contains" => a.contains(b.as_str()),
        "$startsWith" => a.starts_with(b.as_str()),
        _ => a.ends_with(b.as_str()),
    }))
}

/// The predicate builtins whose predicate Go asserts to be a bool.
fn boolean_predicate(name: &str) -> bool {
    matches!(
        name,
        "all" | "none" | "any" | "one" | "filter" | "find" | "findIndex" | "findLast" | "findLastIndex" | "count"
    )
}

fn predicate_builtin(name: &str) -> bool {
    boolean_predicate(name) || matches!(name, "map" | "sum" | "groupBy" | "sortBy" | "reduce")
}

fn call(ident: &str, args: Vec<Node>) -> Node {
    Node::Func { ident: ident.into(), args, predicate: None }
}

fn string(s: &str) -> Node {
    Node::Value(Value::String(s.into()))
}

/// `#.name`, as Go reads the `.name` shorthand.
fn field(name: &str) -> Node {
    call("$fetch", vec![Node::Ident("#".into()), string(name), Node::Value(Value::Bool(false))])
}

/// A program that is only `.name` (`#.name`; `{result}` is the result).
fn shorthand(program: &Program) -> Option<&str> {
    check::shorthand(program).filter(|name| !is_env(name))
}

/// The program with Go's semantics where expr-lang's differ (see the module's documentation).
pub(crate) fn lower(program: &Program) -> Program {
    let lines = program.lines().iter().map(|(name, node)| (name.clone(), lower_node(node))).collect();
    Program::new(lines, lower_node(program.expr()))
}

fn lower_node(node: &Node) -> Node {
    match node {
        Node::Ident(_) | Node::Value(_) => node.clone(),
        Node::Array(items) => Node::Array(items.iter().map(lower_node).collect()),
        Node::Range(a, b) => Node::Range(Box::new(lower_node(a)), Box::new(lower_node(b))),
        Node::Unary { operator, node } => Node::Unary { operator: operator.clone(), node: Box::new(lower_node(node)) },
        Node::Operation { operator, left, right, compiled_regex } => {
            let (left, right) = (lower_node(left), lower_node(right));
            let string_operation = match operator {
                Operator::Contains => Some("$contains"),
                Operator::StartsWith => Some("$startsWith"),
                Operator::EndsWith => Some("$endsWith"),
                // `matches` stays expr-lang's, with the regex compiled once at parse time; how
                // Go's differs (nil, not a string) is an error to expr-lang, see `Replay`.
                _ => None,
            };
            if let Some(name) = string_operation {
                return call(name, vec![left, right]);
            }
            match fold(operator, &left, &right) {
                Some(folded) => folded,
                None => Node::Operation {
                    operator: operator.clone(),
                    left: Box::new(left),
                    right: Box::new(right),
                    compiled_regex: compiled_regex.clone(),
                },
            }
        }
        Node::Conditional { condition, consequent, alternative } => Node::Conditional {
            condition: Box::new(lower_node(condition)),
            consequent: Box::new(lower(consequent)),
            alternative: Box::new(lower(alternative)),
        },
        Node::Func { ident, args, predicate } => lower_call(ident, args, predicate.as_deref(), false),
        Node::Postfix { operator, node: base } => {
            let base = lower_node(base);
            match operator {
                PostfixOperator::Index { idx, optional } => {
                    call("$fetch", vec![base, lower_node(idx), Node::Value(Value::Bool(*optional))])
                }
                PostfixOperator::Pipe(func) => {
                    let func = match func.as_ref() {
                        Node::Func { ident, args, predicate } => lower_call(ident, args, predicate.as_deref(), true),
                        other => lower_node(other),
                    };
                    Node::Postfix { operator: PostfixOperator::Pipe(Box::new(func)), node: Box::new(base) }
                }
                other => {
                    let operator = match other {
                        PostfixOperator::Range { start, end } => PostfixOperator::Range {
                            start: start.as_deref().map(|n| Box::new(lower_node(n))),
                            end: end.as_deref().map(|n| Box::new(lower_node(n))),
                        },
                        PostfixOperator::Default(right) => PostfixOperator::Default(Box::new(lower_node(right))),
                        PostfixOperator::Ternary { left, right } => PostfixOperator::Ternary {
                            left: Box::new(lower_node(left)),
                            right: Box::new(lower_node(right)),
                        },
                        PostfixOperator::Method { ident, args } => PostfixOperator::Method {
                            ident: ident.clone(),
                            args: args.iter().map(lower_node).collect(),
                        },
                        PostfixOperator::Index { .. } | PostfixOperator::Pipe(_) => other.clone(),
                    };
                    Node::Postfix { operator, node: Box::new(base) }
                }
            }
        }
    }
}

/// Go's optimizer folds `and`/`or` with a literal bool (`x and true` is `x`, whatever `x` gives;
/// `x and false` is `false`, `x` unevaluated).
fn fold(operator: &Operator, left: &Node, right: &Node) -> Option<Node> {
    let literal = |n: &Node| match n {
        Node::Value(Value::Bool(b)) => Some(*b),
        _ => None,
    };
    let (a, b) = (literal(left), literal(right));
    let (keep, absorb) = match operator {
        Operator::And => (true, false),
        Operator::Or => (false, true),
        _ => return None,
    };
    if a == Some(keep) {
        Some(right.clone())
    } else if b == Some(keep) {
        Some(left.clone())
    } else if a == Some(absorb) || b == Some(absorb) {
        Some(Node::Value(Value::Bool(absorb)))
    } else {
        None
    }
}

/// A call, `piped` when it follows `|` (its first argument is then the piped value).
fn lower_call(ident: &str, args: &[Node], predicate: Option<&Program>, piped: bool) -> Node {
    let mut args: Vec<Node> = args.iter().map(lower_node).collect();
    let mut predicate = predicate.map(|p| match shorthand(p) {
        Some(name) => Program::new(Vec::new(), field(name)),
        None => lower(p),
    });
    if predicate_builtin(ident) && !is_env(ident) {
        // Go's second argument is the predicate, `#` or not (`all(xs, true)`); `count(xs)` counts
        // the elements that are true.
        let second = 1 - usize::from(piped);
        if predicate.is_none() && args.len() > second {
            predicate = Some(Program::new(Vec::new(), args.remove(second)));
        } else if predicate.is_none() && ident == "count" {
            predicate = Some(Program::new(Vec::new(), Node::Ident("#".into())));
        }
        if boolean_predicate(ident) {
            predicate = predicate.map(|p| {
                let body = call("$bool", vec![p.expr().clone()]);
                Program::new(p.lines().to_vec(), body)
            });
        }
    } else if let Some(p) = predicate.take() {
        // `f(.name)`: Go's `f(#.name)`.
        args.push(p.expr().clone());
        if !p.lines().is_empty() {
            predicate = Some(p);
        }
    }
    if matches!(ident, "isNaN" | "isInf") {
        args = args
            .into_iter()
            .map(|arg| {
                let arg = integers_to_floats(arg);
                let ty = if matches!(&arg, Node::Func { ident, .. } if ident == "asInt") { "int64" } else { "int" };
                call("$float64", vec![arg, string(ty)])
            })
            .collect();
    }
    Node::Func { ident: ident.into(), args, predicate: predicate.map(Box::new) }
}

/// Go's `traverseAndReplaceIntegerNodesWithFloatNodes`: the integer literals of an argument a
/// `float64` parameter receives, through signs and `+ - *`, become floats.
fn integers_to_floats(node: Node) -> Node {
    match node {
        Node::Value(Value::Integer(i)) => Node::Value(Value::Float(i as f64)),
        Node::Unary { operator, node } => Node::Unary { operator, node: Box::new(integers_to_floats(*node)) },
        Node::Operation { operator, left, right, compiled_regex }
            if matches!(operator, Operator::Add | Operator::Subtract | Operator::Multiply) =>
        {
            Node::Operation {
                operator,
                left: Box::new(integers_to_floats(*left)),
                right: Box::new(integers_to_floats(*right)),
                compiled_regex,
            }
        }
        other => other,
    }
}

/// A context with bindings over another (`#`, `#index`, `let` names).
struct Scope<'a> {
    parent: &'a dyn ContextProvider,
    values: Vec<(String, Value)>,
}

impl ContextProvider for Scope<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.values.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v).or_else(|| self.parent.get(key))
    }

    fn to_context(&self) -> expr::Context {
        let mut context = self.parent.to_context();
        for (k, v) in &self.values {
            context.insert(k.clone(), v.clone());
        }
        context
    }

    fn environment(&self) -> expr::Context {
        self.parent.environment()
    }
}

/// What Go gives for `program` (lowered), which expr-lang failed to run: its boolean, or its
/// error in Go's words, or `Err(None)` when that cannot be told (expr-lang's error stands).
pub(crate) fn explain(
    env: &Environment<'_>,
    ctx: &dyn ContextProvider,
    program: &Program,
) -> Result<bool, Option<String>> {
    let replay = Replay { env };
    match replay.program(ctx, program)? {
        Value::Bool(b) => Ok(b),
        // Go's `and`/`or` give their right operand as is: not a bool, it is the program's value.
        other => Err(Some(format!("expected bool, but got {}", type_name(&other)))),
    }
}

/// Evaluation in Go's order with expr-lang's evaluators, to find where and on what it failed.
/// `Err(Some(message))` is Go's message for the failure, `Err(None)` a failure it cannot word.
struct Replay<'e, 'a> {
    env: &'e Environment<'a>,
}

type Step = Result<Value, Option<String>>;

fn binary_symbol(op: &Operator) -> Option<&'static str> {
    Some(match op {
        Operator::Add => "+",
        Operator::Subtract => "-",
        Operator::Multiply => "*",
        Operator::Divide => "/",
        Operator::Modulo => "%",
        Operator::GreaterThan => ">",
        Operator::GreaterThanOrEqual => ">=",
        Operator::LessThan => "<",
        Operator::LessThanOrEqual => "<=",
        _ => return None,
    })
}

impl Replay<'_, '_> {
    fn program(&self, ctx: &dyn ContextProvider, program: &Program) -> Step {
        let mut scope = Scope { parent: ctx, values: Vec::new() };
        for (name, node) in program.lines() {
            let value = self.node(&scope, node)?;
            scope.values.push((name.clone(), value));
        }
        self.node(&scope, program.expr())
    }

    fn node(&self, ctx: &dyn ContextProvider, node: &Node) -> Step {
        match node {
            Node::Operation { operator: operator @ (Operator::And | Operator::Or), left, right, .. } => {
                let stop = matches!(operator, Operator::Or);
                match self.node(ctx, left)? {
                    Value::Bool(b) if b == stop => Ok(Value::Bool(b)),
                    Value::Bool(_) => self.node(ctx, right),
                    other => Err(Some(conversion(&other, "bool"))),
                }
            }
            Node::Operation { operator, left, right, compiled_regex } => {
                let l = self.node(ctx, left)?;
                let r = self.node(ctx, right)?;
                // Go's `matches` (like `contains`) is false, not an error, with a nil side.
                if matches!(operator, Operator::Matches) && (matches!(l, Value::Nil) || matches!(r, Value::Nil)) {
                    return Ok(Value::Bool(false));
                }
                let (lv, rv) = (Node::Value(l.clone()), Node::Value(r.clone()));
                self.env
                    .eval_operator(ctx, operator, &lv, &rv, compiled_regex.as_ref())
                    .map_err(|_| self.operation_error(operator, &l, &r))
            }
            Node::Unary { operator, node: operand } => {
                let v = self.node(ctx, operand)?;
                self.env.eval_unary_operator(ctx, operator, &Node::Value(v.clone())).map_err(|_| match operator {
                    UnaryOperator::Not => Some(conversion(&v, "bool")),
                    UnaryOperator::Negative => Some(format!("invalid operation: - {}", type_name(&v))),
                    UnaryOperator::Positive => None,
                })
            }
            Node::Postfix { operator, node: base } => {
                let b = self.node(ctx, base)?;
                match operator {
                    PostfixOperator::Ternary { left, right } => match b {
                        Value::Bool(true) => self.node(ctx, left),
                        Value::Bool(false) => self.node(ctx, right),
                        other => Err(Some(conversion(&other, "bool"))),
                    },
                    PostfixOperator::Default(right) => match b {
                        Value::Nil => self.node(ctx, right),
                        other => Ok(other),
                    },
                    PostfixOperator::Pipe(func) => match func.as_ref() {
                        Node::Func { ident, args, predicate } => {
                            let mut values = vec![b];
                            for arg in args {
                                values.push(self.node(ctx, arg)?);
                            }
                            self.call(ctx, ident, values, predicate.as_deref())
                        }
                        _ => Err(None),
                    },
                    PostfixOperator::Method { args, ident } => {
                        for arg in args {
                            self.node(ctx, arg)?;
                        }
                        // Go fetches the member and calls it: a map's field is never a function.
                        match b {
                            Value::Map(map) => Err(Some(match map.get(ident) {
                                None | Some(Value::Nil) => "invalid operation: cannot call nil".into(),
                                Some(v) => {
                                    format!("invalid operation: cannot call non-function of type {}", type_name(v))
                                }
                            })),
                            _ => Err(None),
                        }
                    }
                    other => self.env.eval_postfix_operator(ctx, other, &Node::Value(b)).map_err(|_| None),
                }
            }
            Node::Func { ident, args, predicate } => {
                let mut values = Vec::with_capacity(args.len());
                for arg in args {
                    values.push(self.node(ctx, arg)?);
                }
                self.call(ctx, ident, values, predicate.as_deref())
            }
            Node::Array(items) => {
                let mut values = Vec::with_capacity(items.len());
                for item in items {
                    values.push(self.node(ctx, item)?);
                }
                Ok(Value::Array(values))
            }
            Node::Conditional { condition, consequent, alternative } => match self.node(ctx, condition)? {
                Value::Bool(true) => self.program(ctx, consequent),
                Value::Bool(false) => self.program(ctx, alternative),
                other => Err(Some(conversion(&other, "bool"))),
            },
            Node::Range(..) | Node::Ident(_) | Node::Value(_) => self.env.eval_expr(ctx, node).map_err(|_| None),
        }
    }

    /// Go's runtime message for `l op r` that failed.
    fn operation_error(&self, operator: &Operator, l: &Value, r: &Value) -> Option<String> {
        if let (Operator::Modulo, Value::Integer(_), Value::Integer(0)) = (operator, l, r) {
            return Some("runtime error: integer divide by zero".into());
        }
        if let Some(symbol) = binary_symbol(operator) {
            return Some(format!("invalid operation: {} {symbol} {}", type_name(l), type_name(r)));
        }
        match operator {
            Operator::Pow => {
                let bad = [l, r].into_iter().find(|v| !matches!(v, Value::Integer(_) | Value::Float(_)))?;
                Some(format!("invalid operation: float({})", type_name(bad)))
            }
            Operator::In | Operator::NotIn => Some(format!("operator \"in\" not defined on {}", type_name(r))),
            // Go asserts the pattern to a string, then the text to a string or else to bytes.
            Operator::Matches => match (l, r) {
                (_, Value::String(pattern)) if check::go_regexp(pattern).is_err() => check::go_regexp(pattern).err(),
                (Value::String(_), Value::String(_)) => None,
                (_, Value::String(_)) => Some(conversion(l, "[]uint8")),
                _ => Some(conversion(r, "string")),
            },
            _ => None,
        }
    }

    fn call(&self, ctx: &dyn ContextProvider, ident: &str, args: Vec<Value>, predicate: Option<&Program>) -> Step {
        let error = match self.env.eval_func(ctx, ident, args.clone(), predicate) {
            Ok(v) => return Ok(v),
            Err(e) => e.to_string(),
        };
        // Errors of Argo's helpers and of the lowered functions are in Go's words already.
        if ident.starts_with('$') || is_env(ident) {
            return Err(Some(error));
        }
        if let (Some(predicate), Some(Value::Array(items))) = (predicate, args.first()) {
            for (index, item) in items.iter().enumerate() {
                let scope = Scope {
                    parent: ctx,
                    values: vec![("#".into(), item.clone()), ("#index".into(), Value::Integer(index as i64))],
                };
                self.program(&scope, predicate)?;
            }
        }
        Err(builtin_error(ident, &args))
    }
}

/// Go's runtime message for a builtin given values it cannot take (its type check let them
/// through as `interface {}`).
fn builtin_error(ident: &str, args: &[Value]) -> Option<String> {
    let number = |v: &Value| matches!(v, Value::Integer(_) | Value::Float(_));
    match ident {
        "max" | "min" | "mean" | "median" => {
            let mut flat = Vec::new();
            for arg in args {
                match arg {
                    Value::Array(items) => flat.extend(items.iter()),
                    other => flat.push(other),
                }
            }
            let bad = flat.into_iter().find(|v| !number(v))?;
            Some(format!("invalid argument for {ident} (type {})", type_name(bad)))
        }
        "sum" => {
            // Go adds each element to the running sum, element first.
            let Some(Value::Array(items)) = args.first() else { return None };
            let mut total = Value::Integer(0);
            for item in items {
                if !number(item) || !number(&total) {
                    return Some(format!("invalid operation: {} + {}", type_name(item), type_name(&total)));
                }
                total = match (&total, item) {
                    (Value::Integer(a), Value::Integer(b)) => Value::Integer(a.wrapping_add(*b)),
                    (Value::Integer(a), Value::Float(b)) | (Value::Float(b), Value::Integer(a)) => {
                        Value::Float(*a as f64 + b)
                    }
                    (Value::Float(a), Value::Float(b)) => Value::Float(a + b),
                    _ => total,
                };
            }
            None
        }
        "len" | "abs" | "ceil" | "floor" | "round" => {
            Some(format!("invalid argument for {ident} (type {})", type_name(args.first()?)))
        }
        "int" | "float" => match args.first()? {
            Value::String(s) => Some(format!("invalid operation: {ident}({s})")),
            other => Some(format!("invalid operation: {ident}({})", type_name(other))),
        },
        "join" => {
            let Some(Value::Array(items)) = args.first() else { return None };
            items.iter().find(|v| !matches!(v, Value::String(_))).map(|v| conversion(v, "string"))
        }
        // The string builtins assert their arguments to strings (`strings.ToUpper(arg.(string))`).
        "upper" | "lower" | "trim" | "trimPrefix" | "trimSuffix" | "split" | "splitAfter" | "replace" | "repeat"
        | "indexOf" | "lastIndexOf" | "hasPrefix" | "hasSuffix" | "fromJSON" | "toBase64" | "fromBase64" => {
            let strings = match ident {
                "repeat" => 1,
                "split" | "splitAfter" => 2,
                "replace" => 3,
                _ => args.len(),
            };
            args.iter().take(strings).find(|v| !matches!(v, Value::String(_))).map(|v| conversion(v, "string"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_go_prints_them() {
        let cases = [
            (1.0, "1"),
            (0.5, "0.5"),
            (100000.0, "100000"),
            (1e6, "1e+06"),
            (123456789.0, "1.23456789e+08"),
            (1e20, "1e+20"),
            (1e21, "1e+21"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (-2.5, "-2.5"),
            (9950.0, "9950"),
            (1.23456789012345, "1.23456789012345"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ];
        for (f, go) in cases {
            assert_eq!(float_text(f), go, "{f}");
        }
        assert_eq!(float_text(f64::NAN), "NaN");
    }

    #[test]
    fn values_print_as_go_prints_them() {
        let v = Value::Array(vec![Value::Float(1.0), "a".into(), Value::Bool(true), Value::Nil]);
        assert_eq!(text(&v), "[1 a true <nil>]");
    }

    #[test]
    fn int64_conversion_is_amd64s() {
        assert_eq!(go_int64(f64::NAN), i64::MIN);
        assert_eq!(go_int64(f64::INFINITY), i64::MIN);
        assert_eq!(go_int64(-2.5), -2);
    }
}

//! Go expr's compile-time type checker, which every Argo condition goes through before it runs.
//!
//! Argo compiles a condition with `expr.Compile(condition, expr.Env(env))`, `env` being a
//! `map[string]any`, so the checker of github.com/expr-lang/expr (v1.17.7, `checker/checker.go`)
//! takes each name's static type from the *dynamic* type of its value: `result` is `float64`,
//! `string`, `bool`, `nil`, `[]interface {}` or `map[string]interface {}` as the metric gave it, and
//! Argo's helpers are typed Go functions. A condition the checker refuses is a compile error and
//! the measurement is `Error` (`result == "x"` with a numeric result, `unknown name foo`, wrong
//! arguments to a builtin); expr-lang has no such pass and would run it, often to `false`, which
//! Argo never gives. [`check`] is that pass over expr-lang's AST, with Go's natures, order of
//! visits (the first error is the one reported) and messages. Unknown and `interface {}` values
//! (an element of an array result, a field of an object result) pass, as in Go.
//!
//! Before it, `syntax::Syntax` reports the few errors Go's parser raises on an AST expr-lang
//! accepts (`#` outside a predicate, a predicate builtin's argument count, `??` mixed with another
//! operator) and tells how the source spells `and`/`&&`, `or`/`||`, `not`/`!` and `**`/`^`; after
//! it, the one error of Go's optimizer a condition can meet (an integer `%` by a constant zero).
//! The builtins' signatures are in `builtins`.

use std::collections::HashMap;
use std::fmt;

use aviary_plugin_sdk::Value;
use expr::Program;

use crate::builtins::{Builtin, builtin, builtin_type};
use crate::syntax::Syntax;
use expr::Value as ExprValue;
use expr::ast::node::Node;
use expr::ast::operator::Operator;
use expr::ast::postfix_operator::PostfixOperator;
use expr::ast::unary_operator::UnaryOperator;

/// A Go type, as far as conditions can meet one; [`fmt::Display`] is `reflect.Type.String()`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Type {
    Bool,
    Int,
    Int64,
    Uint8,
    Float64,
    String,
    /// `interface {}`.
    Any,
    /// `error`, the second result of some builtins.
    Error,
    /// `time.Time`, `time.Duration` and `*time.Location`, from the temporal builtins.
    Time,
    Duration,
    Location,
    Slice(Box<Type>),
    Map(Box<Type>, Box<Type>),
    /// Parameters, results, and whether the last parameter is variadic (`...T`, held as `[]T`).
    Func(Vec<Type>, Vec<Type>, bool),
}

/// `reflect.Kind`, the part of a type most of the checker's rules look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Invalid,
    Bool,
    Int,
    Int64,
    Uint8,
    Float64,
    String,
    Interface,
    Struct,
    Ptr,
    Slice,
    Map,
    Func,
}

impl Type {
    pub(crate) fn kind(&self) -> Kind {
        match self {
            Type::Bool => Kind::Bool,
            Type::Int => Kind::Int,
            Type::Int64 | Type::Duration => Kind::Int64,
            Type::Uint8 => Kind::Uint8,
            Type::Float64 => Kind::Float64,
            Type::String => Kind::String,
            Type::Any | Type::Error => Kind::Interface,
            Type::Time => Kind::Struct,
            Type::Location => Kind::Ptr,
            Type::Slice(_) => Kind::Slice,
            Type::Map(..) => Kind::Map,
            Type::Func(..) => Kind::Func,
        }
    }

    /// `reflect.Type.AssignableTo` for these types: identical, or to the empty interface.
    fn assignable_to(&self, target: &Type) -> bool {
        self == target || *target == Type::Any
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Bool => f.write_str("bool"),
            Type::Int => f.write_str("int"),
            Type::Int64 => f.write_str("int64"),
            Type::Uint8 => f.write_str("uint8"),
            Type::Float64 => f.write_str("float64"),
            Type::String => f.write_str("string"),
            Type::Any => f.write_str("interface {}"),
            Type::Error => f.write_str("error"),
            Type::Time => f.write_str("time.Time"),
            Type::Duration => f.write_str("time.Duration"),
            Type::Location => f.write_str("*time.Location"),
            Type::Slice(elem) => write!(f, "[]{elem}"),
            Type::Map(key, value) => write!(f, "map[{key}]{value}"),
            Type::Func(params, results, variadic) => {
                f.write_str("func(")?;
                for (i, param) in params.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    match param {
                        Type::Slice(elem) if *variadic && i == params.len() - 1 => write!(f, "...{elem}")?,
                        param => write!(f, "{param}")?,
                    }
                }
                f.write_str(")")?;
                match results.as_slice() {
                    [] => Ok(()),
                    [one] => write!(f, " {one}"),
                    many => {
                        f.write_str(" (")?;
                        for (i, result) in many.iter().enumerate() {
                            if i > 0 {
                                f.write_str(", ")?;
                            }
                            write!(f, "{result}")?;
                        }
                        f.write_str(")")
                    }
                }
            }
        }
    }
}

/// What the checker knows of a value (Go's `nature.Nature`): a type, or nothing (unknown), or
/// the untyped `nil`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Nature {
    ty: Option<Type>,
    nil: bool,
    /// Go's `Ref`: the nature of an array's elements, or of what a predicate's body gives.
    elem: Option<Box<Nature>>,
}

impl Nature {
    fn unknown() -> Nature {
        Nature::default()
    }

    fn nil() -> Nature {
        Nature { nil: true, ..Nature::default() }
    }

    fn of(ty: Type) -> Nature {
        Nature { ty: Some(ty), ..Nature::default() }
    }

    fn array_of(elem: Nature) -> Nature {
        Nature { ty: Some(Type::Slice(Box::new(Type::Any))), nil: false, elem: Some(Box::new(elem)) }
    }

    fn func(params: &[Type], results: &[Type]) -> Nature {
        Nature::of(Type::Func(params.to_vec(), results.to_vec(), false))
    }

    /// The static type, unless unknown, `interface {}` or nil. It says what the value alone may
    /// not: an integer of expr-lang's is Go's `int` or `int64` (`asInt`).
    pub(crate) fn concrete(&self) -> Option<&Type> {
        self.ty.as_ref().filter(|ty| **ty != Type::Any)
    }

    /// The type of a function value (`asInt` named alone): Go's VM has function values,
    /// expr-lang has none, so a program whose value is one is told apart before it runs.
    pub(crate) fn function(&self) -> Option<&Type> {
        self.ty.as_ref().filter(|ty| matches!(ty, Type::Func(..)))
    }

    fn kind(&self) -> Kind {
        self.ty.as_ref().map_or(Kind::Invalid, Type::kind)
    }

    fn is_unknown(&self) -> bool {
        (self.ty.is_none() && !self.nil) || self.ty == Some(Type::Any)
    }

    fn is_integer(&self) -> bool {
        matches!(self.ty, Some(Type::Int | Type::Int64 | Type::Uint8))
    }

    fn is_float(&self) -> bool {
        self.ty == Some(Type::Float64)
    }

    fn is_number(&self) -> bool {
        self.is_integer() || self.is_float()
    }

    fn is_bool(&self) -> bool {
        self.kind() == Kind::Bool
    }

    fn is_string(&self) -> bool {
        self.kind() == Kind::String
    }

    fn is_array(&self) -> bool {
        self.kind() == Kind::Slice
    }

    fn is_map(&self) -> bool {
        self.kind() == Kind::Map
    }

    fn is_time(&self) -> bool {
        self.ty == Some(Type::Time)
    }

    fn is_duration(&self) -> bool {
        self.ty == Some(Type::Duration)
    }

    fn is(&self, check: Check) -> bool {
        match check {
            Check::Bool => self.is_bool(),
            Check::String => self.is_string(),
            Check::Integer => self.is_integer(),
            Check::Number => self.is_number(),
            Check::Map => self.is_map(),
            Check::Array => self.is_array(),
            Check::Time => self.is_time(),
            Check::Duration => self.is_duration(),
        }
    }

    fn is_any_of(&self, checks: &[Check]) -> bool {
        checks.iter().any(|c| self.is(*c))
    }

    fn elem(&self) -> Nature {
        match &self.ty {
            Some(Type::Slice(elem)) => self.elem.as_deref().cloned().unwrap_or_else(|| Nature::of((**elem).clone())),
            Some(Type::Map(_, value)) => Nature::of((**value).clone()),
            _ => Nature::unknown(),
        }
    }

    fn key(&self) -> Nature {
        match &self.ty {
            Some(Type::Map(key, _)) => Nature::of((**key).clone()),
            _ => Nature::unknown(),
        }
    }

    fn assignable_to(&self, target: &Nature) -> bool {
        if self.nil && matches!(target.kind(), Kind::Ptr | Kind::Interface | Kind::Func | Kind::Map | Kind::Slice) {
            return true;
        }
        match (&self.ty, &target.ty) {
            (Some(ty), Some(target_ty)) => {
                (ty.kind() == target_ty.kind() || target_ty.kind() == Kind::Interface) && ty.assignable_to(target_ty)
            }
            _ => false,
        }
    }

    fn comparable_to(&self, rhs: &Nature) -> bool {
        self.is_unknown()
            || rhs.is_unknown()
            || self.nil
            || rhs.nil
            || self.is_number() && rhs.is_number()
            || self.is_duration() && rhs.is_duration()
            || self.is_time() && rhs.is_time()
            || self.is_array() && rhs.is_array()
            || self.assignable_to(rhs)
    }

    fn maybe_compatible(&self, rhs: &Nature, checks: &[Check]) -> bool {
        let (l, r) = (self.is_unknown(), rhs.is_unknown());
        (l && (r || rhs.is_any_of(checks))) || (r && self.is_any_of(checks))
    }

    fn promote_numeric(&self, rhs: &Nature) -> Nature {
        if self.is_unknown() || rhs.is_unknown() {
            Nature::unknown()
        } else if self.is_float() || rhs.is_float() {
            Nature::of(Type::Float64)
        } else {
            Nature::of(Type::Int)
        }
    }

    fn signature(&self) -> Option<(&[Type], &[Type], bool)> {
        match &self.ty {
            Some(Type::Func(params, results, variadic)) => Some((params, results, *variadic)),
            _ => None,
        }
    }

    /// A function's first result, as a nature.
    fn out(&self) -> Nature {
        match self.signature() {
            Some((_, [first, ..], _)) => Nature::of(first.clone()),
            _ => Nature::unknown(),
        }
    }
}

impl fmt::Display for Nature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.ty {
            Some(ty) => write!(f, "{ty}"),
            None => f.write_str("unknown"),
        }
    }
}

/// Go's `NatureCheck`s, for `MaybeCompatible` and `IsAnyOf`.
#[derive(Clone, Copy)]
enum Check {
    Bool,
    String,
    Integer,
    Number,
    Map,
    Array,
    Time,
    Duration,
}

/// The nature of the metric's result: the dynamic type of the value Go decoded.
fn nature_of(value: &Value) -> Nature {
    match value {
        Value::Null => Nature::nil(),
        Value::Bool(_) => Nature::of(Type::Bool),
        Value::Number(_) => Nature::of(Type::Float64),
        Value::String(_) => Nature::of(Type::String),
        Value::Array(_) => Nature::of(Type::Slice(Box::new(Type::Any))),
        Value::Object(_) => Nature::of(any_map()),
    }
}

pub(crate) fn any_map() -> Type {
    Type::Map(Box::new(Type::String), Box::new(Type::Any))
}

pub(crate) fn any_slice() -> Type {
    Type::Slice(Box::new(Type::Any))
}

/// The names Argo's environment defines besides `result`, with their Go types (evaluate.go:
/// `asInt`, `asFloat`, `math.IsNaN`, `isInf`, and the closures of `isNilFunc`/`defaultFunc`).
fn helper(name: &str) -> Option<Nature> {
    Some(match name {
        "asInt" => Nature::func(&[Type::Any], &[Type::Int64]),
        "asFloat" => Nature::func(&[Type::Any], &[Type::Float64]),
        "isNaN" | "isInf" => Nature::func(&[Type::Float64], &[Type::Bool]),
        "isNil" => Nature::func(&[Type::Any], &[Type::Bool]),
        "default" => Nature::func(&[Type::Any, Type::Any], &[Type::Any]),
        _ => return None,
    })
}

/// An argument of a call as Go's parser sees it. expr-lang's AST holds a call's predicate apart
/// from its arguments, and a `.name` shorthand as a predicate; Go has one list.
#[derive(Clone, Copy)]
enum Arg<'a> {
    Node(&'a Node),
    /// `.name` in a predicate: `#.name`.
    Field(&'a str),
    /// A predicate (`{...}`, `.name`, or an argument with `#` that expr-lang promoted).
    Predicate(&'a Program),
    /// A predicate written as a plain argument (`all(xs, true)`): expr-lang did not promote it.
    PredicateNode(&'a Node),
}

/// A program that is a bare identifier: the `.name` shorthand (expr-lang parses `.name` and
/// `{name}` alike; Go takes the former as `#.name`, and only a program it does not know the name
/// of can be the latter).
pub(crate) fn shorthand(program: &Program) -> Option<&str> {
    match (program.lines(), program.expr()) {
        ([], Node::Ident(name)) if !name.starts_with('#') && name != "$env" => Some(name),
        _ => None,
    }
}

/// A call's arguments in Go's order: the piped value first (`x | f(y)` is `f(x, y)`), then the
/// predicate where Go's parser has it: second for a predicate builtin, last for another call.
fn go_args<'a>(
    ident: &str,
    args: &'a [Node],
    predicate: Option<&'a Program>,
    piped: Option<&'a Node>,
    predicate_builtin: bool,
) -> Vec<Arg<'a>> {
    let mut out: Vec<Arg<'a>> = piped.into_iter().chain(args).map(Arg::Node).collect();
    match predicate {
        Some(p) if predicate_builtin => {
            let at = if ident == "reduce" { out.len().min(1) } else { out.len() };
            out.insert(at, Arg::Predicate(p));
        }
        Some(p) => out.push(shorthand(p).map_or(Arg::Predicate(p), Arg::Field)),
        None if predicate_builtin => {
            if let Some(Arg::Node(node)) = out.get(1).copied() {
                out[1] = Arg::PredicateNode(node);
            }
        }
        None => {}
    }
    out
}

/// The names a program can use: Argo's environment (`result` and the helpers).
pub(crate) fn is_env(name: &str) -> bool {
    name == "result" || helper(name).is_some()
}

/// Type-checks `program` (compiled from `source`) as Go's `expr.Compile` with Argo's environment
/// for this `result`: the first error, in Go's words, or the nature of the program's value.
pub(crate) fn check(program: &Program, source: &str, result: &Value) -> Result<Nature, String> {
    let mut syntax = Syntax::new(source);
    syntax.program(program);
    let spelling = syntax.finish()?;
    let mut checker =
        Checker { result: nature_of(result), spelling, vars: Vec::new(), predicates: Vec::new(), err: None };
    let nature = checker.program(program);
    if let Some(error) = checker.err {
        return Err(error);
    }
    let nodes = program.lines().iter().map(|(_, node)| node).chain([program.expr()]);
    if nodes.into_iter().any(constant_modulo_by_zero) {
        return Err("integer divide by zero".into());
    }
    Ok(nature)
}

/// A predicate's scope: the collection `#` ranges over and its extra pointers (`#index`, `#acc`).
struct Scope {
    collection: Nature,
    vars: Vec<(&'static str, Nature)>,
}

/// The walk of Go's `Checker.visit`, over expr-lang's AST.
struct Checker<'a> {
    /// The nature of `result`.
    result: Nature,
    /// How each `and`, `or`, `not` and `**` of the source is spelled (expr-lang's AST does not
    /// say, Go's messages do).
    spelling: HashMap<*const Node, &'a str>,
    /// `let` bindings in scope, innermost last.
    vars: Vec<(String, Nature)>,
    predicates: Vec<Scope>,
    /// The first error, which is the one Go reports; the walk goes on, as Go's does.
    err: Option<String>,
}

impl Checker<'_> {
    fn error(&mut self, message: String) -> Nature {
        if self.err.is_none() {
            self.err = Some(message);
        }
        Nature::unknown()
    }

    fn spelled(&self, node: &Node, default: &'static str) -> String {
        self.spelling.get(&(node as *const Node)).copied().unwrap_or(default).to_string()
    }

    /// A program: its `let` lines (Go's `VariableDeclaratorNode`s, each scoping the rest) and its
    /// expression.
    fn program(&mut self, program: &Program) -> Nature {
        self.lines(program.lines(), program.expr())
    }

    fn lines(&mut self, lines: &[(String, Node)], expr: &Node) -> Nature {
        let Some(((name, value), rest)) = lines.split_first() else { return self.visit(expr) };
        if is_env(name) {
            return self.error(format!("cannot redeclare {name}"));
        }
        if builtin(name).is_some() {
            return self.error(format!("cannot redeclare builtin {name}"));
        }
        if self.vars.iter().any(|(v, _)| v == name) {
            return self.error(format!("cannot redeclare variable {name}"));
        }
        let nature = self.visit(value);
        self.vars.push((name.clone(), nature));
        let out = self.lines(rest, expr);
        self.vars.pop();
        out
    }

    fn visit(&mut self, node: &Node) -> Nature {
        match node {
            Node::Ident(name) => self.ident(name),
            Node::Value(value) => match value {
                ExprValue::Integer(_) => Nature::of(Type::Int),
                ExprValue::Float(_) => Nature::of(Type::Float64),
                ExprValue::Bool(_) => Nature::of(Type::Bool),
                ExprValue::String(_) => Nature::of(Type::String),
                ExprValue::Nil => Nature::nil(),
                ExprValue::Array(_) => Nature::of(any_slice()),
                ExprValue::Bytes(_) => Nature::of(Type::Slice(Box::new(Type::Uint8))),
                ExprValue::Map(_) => Nature::of(any_map()),
                _ => Nature::unknown(),
            },
            Node::Array(items) => {
                let mut prev = Nature::unknown();
                let mut same = true;
                for (i, item) in items.iter().enumerate() {
                    let current = self.visit(item);
                    if i > 0 && current.kind() != prev.kind() {
                        same = false;
                    }
                    prev = current;
                }
                if same { Nature::array_of(prev) } else { Nature::of(any_slice()) }
            }
            Node::Range(from, to) => {
                let (l, r) = (self.visit(from), self.visit(to));
                if l.is_integer() && r.is_integer() || l.maybe_compatible(&r, &[Check::Integer]) {
                    Nature::array_of(Nature::of(Type::Int))
                } else {
                    self.mismatch("..", &l, &r)
                }
            }
            Node::Unary { operator, node: operand } => {
                let nt = self.visit(operand);
                let op = match operator {
                    UnaryOperator::Not => {
                        if nt.is_bool() || nt.is_unknown() {
                            return Nature::of(Type::Bool);
                        }
                        self.spelled(node, "!")
                    }
                    UnaryOperator::Positive | UnaryOperator::Negative => {
                        if nt.is_number() {
                            return nt;
                        }
                        if nt.is_unknown() {
                            return Nature::unknown();
                        }
                        if matches!(operator, UnaryOperator::Positive) { "+" } else { "-" }.to_string()
                    }
                };
                self.error(format!("invalid operation: {op} (mismatched type {nt})"))
            }
            Node::Operation { operator, left, right, .. } => self.binary(node, operator, left, right),
            Node::Postfix { operator, node: base } => self.postfix(operator, base),
            Node::Func { ident, args, predicate } => self.call(ident, args, predicate.as_deref(), None),
            Node::Conditional { condition, consequent, alternative } => {
                let c = self.visit(condition);
                self.conditional(c, Branch::Program(consequent), Branch::Program(alternative))
            }
        }
    }

    fn visit_arg(&mut self, arg: Arg<'_>) -> Nature {
        match arg {
            Arg::Node(node) => self.visit(node),
            Arg::Field(name) => self.field(name),
            Arg::Predicate(program) => {
                let body = match shorthand(program) {
                    Some(name) if !self.resolves(name) => self.field(name),
                    _ => self.program(program),
                };
                predicate_nature(body)
            }
            Arg::PredicateNode(node) => {
                let body = self.visit(node);
                predicate_nature(body)
            }
        }
    }

    /// `#.name`.
    fn field(&mut self, name: &str) -> Nature {
        let base = self.pointer("");
        self.member(base, Nature::of(Type::String), Some(name), false)
    }

    fn resolves(&self, name: &str) -> bool {
        self.vars.iter().any(|(v, _)| v == name) || is_env(name) || builtin(name).is_some()
    }

    fn ident(&mut self, name: &str) -> Nature {
        if let Some(pointer) = name.strip_prefix('#') {
            return self.pointer(pointer);
        }
        if let Some((_, nature)) = self.vars.iter().rev().find(|(v, _)| v == name) {
            return nature.clone();
        }
        if name == "$env" {
            return Nature::unknown();
        }
        self.global(name, true).unwrap_or_else(|| self.error(format!("unknown name {name}")))
    }

    /// A name of the environment, or (`builtins`) a builtin named as a value.
    fn global(&self, name: &str, builtins: bool) -> Option<Nature> {
        if name == "result" {
            return Some(self.result.clone());
        }
        if let Some(nature) = helper(name) {
            return Some(nature);
        }
        match builtin(name) {
            Some(b) if builtins => Some(Nature::of(builtin_type(name, &b))),
            _ => None,
        }
    }

    fn pointer(&mut self, name: &str) -> Nature {
        let Some(scope) = self.predicates.last() else {
            return self.error("cannot use pointer accessor outside predicate".into());
        };
        if name.is_empty() {
            if scope.collection.is_unknown() {
                return Nature::unknown();
            }
            if scope.collection.is_array() {
                return scope.collection.elem();
            }
            let collection = scope.collection.clone();
            return self.error(format!("cannot use {collection} as array"));
        }
        match scope.vars.iter().find(|(v, _)| *v == name) {
            Some((_, nature)) => nature.clone(),
            None => self.error(format!("unknown pointer #{name}")),
        }
    }

    fn mismatch(&mut self, op: &str, l: &Nature, r: &Nature) -> Nature {
        self.error(format!("invalid operation: {op} (mismatched types {l} and {r})"))
    }

    fn binary(&mut self, node: &Node, operator: &Operator, left: &Node, right: &Node) -> Nature {
        let l = self.visit(left);
        let r = self.visit(right);
        let boolean = Nature::of(Type::Bool);
        use Check as C;
        let op = match operator {
            Operator::Equal | Operator::NotEqual => {
                if l.comparable_to(&r) {
                    return boolean;
                }
                operator.to_string()
            }
            Operator::And | Operator::Or => {
                if l.is_bool() && r.is_bool() || l.maybe_compatible(&r, &[C::Bool]) {
                    return boolean;
                }
                self.spelled(node, if matches!(operator, Operator::And) { "and" } else { "or" })
            }
            Operator::LessThan | Operator::LessThanOrEqual | Operator::GreaterThan | Operator::GreaterThanOrEqual => {
                if l.is_number() && r.is_number()
                    || l.is_string() && r.is_string()
                    || l.is_time() && r.is_time()
                    || l.is_duration() && r.is_duration()
                    || l.maybe_compatible(&r, &[C::Number, C::String, C::Time, C::Duration])
                {
                    return boolean;
                }
                operator.to_string()
            }
            Operator::Subtract => {
                if l.is_number() && r.is_number() {
                    return l.promote_numeric(&r);
                }
                if l.is_time() && r.is_time() || l.is_duration() && r.is_duration() {
                    return Nature::of(Type::Duration);
                }
                if l.is_time() && r.is_duration() {
                    return Nature::of(Type::Time);
                }
                if l.maybe_compatible(&r, &[C::Number, C::Time, C::Duration]) {
                    return Nature::unknown();
                }
                operator.to_string()
            }
            Operator::Multiply => {
                if l.is_number() && r.is_number() {
                    return l.promote_numeric(&r);
                }
                if l.is_number() && r.is_duration()
                    || l.is_duration() && r.is_number()
                    || l.is_duration() && r.is_duration()
                {
                    return Nature::of(Type::Duration);
                }
                if l.maybe_compatible(&r, &[C::Number, C::Duration]) {
                    return Nature::unknown();
                }
                operator.to_string()
            }
            Operator::Divide => {
                if l.is_number() && r.is_number() || l.maybe_compatible(&r, &[C::Number]) {
                    return Nature::of(Type::Float64);
                }
                operator.to_string()
            }
            Operator::Pow => {
                if l.is_number() && r.is_number() || l.maybe_compatible(&r, &[C::Number]) {
                    return Nature::of(Type::Float64);
                }
                self.spelled(node, "**")
            }
            Operator::Modulo => {
                if l.is_integer() && r.is_integer() || l.maybe_compatible(&r, &[C::Integer]) {
                    return Nature::of(Type::Int);
                }
                operator.to_string()
            }
            Operator::Add => {
                if l.is_number() && r.is_number() {
                    return l.promote_numeric(&r);
                }
                if l.is_string() && r.is_string() {
                    return Nature::of(Type::String);
                }
                if l.is_time() && r.is_duration() || l.is_duration() && r.is_time() {
                    return Nature::of(Type::Time);
                }
                if l.is_duration() && r.is_duration() {
                    return Nature::of(Type::Duration);
                }
                if l.maybe_compatible(&r, &[C::Number, C::String, C::Time, C::Duration]) {
                    return Nature::unknown();
                }
                operator.to_string()
            }
            // `a not in b` is Go's `not (a in b)`: the `in` is checked, and its bool negated.
            Operator::In | Operator::NotIn => {
                if r.is_map() {
                    let key = r.key();
                    if !l.is_unknown() && !l.assignable_to(&key) {
                        return self.error(format!("cannot use {l} as type {key} in map key"));
                    }
                    return boolean;
                }
                if r.is_array() {
                    let elem = r.elem();
                    if !l.comparable_to(&elem) {
                        return self.error(format!("cannot use {l} as type {elem} in array"));
                    }
                    return boolean;
                }
                if l.is_unknown() && r.is_any_of(&[C::String, C::Array, C::Map]) || r.is_unknown() {
                    return boolean;
                }
                "in".to_string()
            }
            Operator::Matches => {
                if let Node::Value(ExprValue::String(pattern)) = right
                    && let Err(e) = go_regexp(pattern)
                {
                    return self.error(e);
                }
                if l.is_string() && r.is_string()
                    || l.ty == Some(Type::Slice(Box::new(Type::Uint8))) && r.is_string()
                    || l.maybe_compatible(&r, &[C::String])
                {
                    return boolean;
                }
                operator.to_string()
            }
            Operator::Contains | Operator::StartsWith | Operator::EndsWith => {
                if l.is_string() && r.is_string() || l.maybe_compatible(&r, &[C::String]) {
                    return boolean;
                }
                operator.to_string()
            }
        };
        self.mismatch(&op, &l, &r)
    }

    fn postfix(&mut self, operator: &PostfixOperator, base: &Node) -> Nature {
        match operator {
            PostfixOperator::Index { idx, .. } => {
                // `$env.name`: a name of the environment, builtins excluded (`ident(.., false)`).
                if let Node::Ident(env) = base
                    && env == "$env"
                {
                    return match idx.as_ref() {
                        Node::Value(ExprValue::String(name)) => {
                            self.global(name, false).unwrap_or_else(|| self.error(format!("unknown name {name}")))
                        }
                        _ => Nature::unknown(),
                    };
                }
                let b = self.visit(base);
                let prop = self.visit(idx);
                let name = match idx.as_ref() {
                    Node::Value(ExprValue::String(name)) => Some(name.as_str()),
                    _ => None,
                };
                self.member(b, prop, name, false)
            }
            PostfixOperator::Method { ident, args } => {
                // Go: a call whose callee is the member `base.ident` (a method).
                let b = self.visit(base);
                let callee = self.member(b, Nature::of(Type::String), Some(ident), true);
                if callee.is_unknown() {
                    return Nature::unknown();
                }
                let args: Vec<Arg<'_>> = args.iter().map(Arg::Node).collect();
                self.call_value(ident, callee, &args)
            }
            PostfixOperator::Range { start, end } => {
                let nt = self.visit(base);
                if nt.is_unknown() {
                    return Nature::unknown();
                }
                if !matches!(nt.kind(), Kind::String | Kind::Slice) {
                    return self.error(format!("cannot slice {nt}"));
                }
                for bound in [start, end].into_iter().flatten() {
                    let b = self.visit(bound);
                    if !b.is_integer() && !b.is_unknown() {
                        return self.error(format!("non-integer slice index {b}"));
                    }
                }
                nt
            }
            PostfixOperator::Default(right) => {
                let l = self.visit(base);
                let r = self.visit(right);
                match (l.nil, r.nil) {
                    (true, false) => r,
                    (false, true) | (true, true) => l,
                    (false, false) if r.assignable_to(&l) => l,
                    _ => Nature::unknown(),
                }
            }
            PostfixOperator::Ternary { left, right } => {
                let c = self.visit(base);
                self.conditional(c, Branch::Node(left), Branch::Node(right))
            }
            PostfixOperator::Pipe(func) => match func.as_ref() {
                Node::Func { ident, args, predicate } => self.call(ident, args, predicate.as_deref(), Some(base)),
                other => {
                    self.visit(base);
                    self.visit(other)
                }
            },
        }
    }

    /// Go's `memberNode` after its operands are visited: `base[prop]`, `base.name` (`name`), or
    /// the method `base.name()` (`method`).
    fn member(&mut self, base: Nature, prop: Nature, name: Option<&str>, method: bool) -> Nature {
        if base.is_unknown() {
            return Nature::unknown();
        }
        if let Some(name) = name
            && base.nil
        {
            return self.error(format!("type nil has no field {name}"));
        }
        match base.kind() {
            Kind::Map => {
                let key = base.key();
                if !prop.assignable_to(&key) && !prop.is_unknown() {
                    return self.error(format!("cannot use {prop} to get an element from {base}"));
                }
                return base.elem();
            }
            Kind::Slice => {
                if !prop.is_integer() && !prop.is_unknown() {
                    return self.error(format!("array elements can only be selected using an integer (got {prop})"));
                }
                return base.elem();
            }
            _ => {}
        }
        match (name, method) {
            (Some(name), true) => self.error(format!("type {base} has no method {name}")),
            (Some(name), false) => self.error(format!("type {base} has no field {name}")),
            (None, _) => self.error(format!("type {base}[{prop}] is undefined")),
        }
    }

    fn conditional(&mut self, c: Nature, consequent: Branch<'_>, alternative: Branch<'_>) -> Nature {
        if !c.is_bool() && !c.is_unknown() {
            return self.error(format!("non-bool expression (type {c}) used as condition"));
        }
        let t1 = self.branch(consequent);
        let t2 = self.branch(alternative);
        match (t1.nil, t2.nil) {
            (true, false) => t2,
            (false, true) => t1,
            (true, true) => Nature::nil(),
            (false, false) if t1.assignable_to(&t2) => {
                if t1.is_array() && t2.is_array() {
                    let (e1, e2) = (t1.elem(), t2.elem());
                    if !e1.assignable_to(&e2) || !e2.assignable_to(&e1) {
                        return Nature::of(any_slice());
                    }
                }
                t1
            }
            _ => Nature::unknown(),
        }
    }

    fn branch(&mut self, branch: Branch<'_>) -> Nature {
        match branch {
            Branch::Node(node) => self.visit(node),
            Branch::Program(program) => self.program(program),
        }
    }

    /// A call `ident(args)` (after `piped |`), which Go parses as a predicate builtin, another
    /// builtin, or a call of whatever `ident` names.
    fn call(&mut self, ident: &str, args: &[Node], predicate: Option<&Program>, piped: Option<&Node>) -> Nature {
        let builtin = if is_env(ident) { None } else { builtin(ident) };
        let predicate_builtin = matches!(builtin, Some(Builtin::Predicate(..)));
        let go_args = go_args(ident, args, predicate, piped, predicate_builtin);
        match builtin {
            Some(Builtin::Predicate(..)) => self.predicate_builtin(ident, &go_args),
            Some(Builtin::Get) => self.get(&go_args),
            Some(Builtin::Validate(validate)) => {
                let types: Vec<Option<Type>> = go_args
                    .iter()
                    .map(|arg| {
                        let nature = self.visit_arg(*arg);
                        if nature.is_unknown() { Some(Type::Any) } else { nature.ty }
                    })
                    .collect();
                match validate(ident, &types) {
                    Ok(ty) => Nature::of(ty),
                    Err(e) => self.error(e),
                }
            }
            Some(Builtin::Types(types)) => {
                let mut last = None;
                for ty in types {
                    match self.arguments(ident, &Nature::of(ty), &go_args) {
                        Ok(out) => return out,
                        Err(e) => last = Some(e),
                    }
                }
                let message = last.unwrap_or_else(|| format!("no matching overload for {ident}"));
                self.error(message)
            }
            None => {
                let callee = self.ident(ident);
                if callee.is_unknown() {
                    return Nature::unknown();
                }
                self.call_value(ident, callee, &go_args)
            }
        }
    }

    /// Go's `callNode` for a callee that is a value of the environment (or a method).
    fn call_value(&mut self, name: &str, callee: Nature, args: &[Arg<'_>]) -> Nature {
        if callee.nil {
            return self.error(format!("{name} is nil; cannot call nil as function"));
        }
        if callee.kind() != Kind::Func {
            return self.error(format!("{callee} is not callable"));
        }
        match self.arguments(name, &callee, args) {
            Ok(out) => out,
            Err(e) => self.error(e),
        }
    }

    /// Go's `checkArguments`: the arguments against the function type `func`.
    fn arguments(&mut self, name: &str, func: &Nature, args: &[Arg<'_>]) -> Result<Nature, String> {
        let Some((params, results, variadic)) = func.signature() else { return Ok(Nature::unknown()) };
        if results.is_empty() {
            return Err(format!("func {name} doesn't return value"));
        }
        if results.len() > 2 {
            return Err(format!("func {name} returns more then two values"));
        }
        let n = params.len();
        let count = if variadic {
            (args.len() + 1 < n).then(|| format!("not enough arguments to call {name}"))
        } else if args.len() > n {
            Some(format!("too many arguments to call {name}"))
        } else if args.len() < n {
            Some(format!("not enough arguments to call {name}"))
        } else {
            None
        };
        if let Some(e) = count {
            for arg in args {
                self.visit_arg(*arg);
            }
            return Err(e);
        }
        for (i, arg) in args.iter().enumerate() {
            let nature = self.visit_arg(*arg);
            let param = match &params[i.min(n - 1)] {
                Type::Slice(elem) if variadic && i + 1 >= n => Nature::of((**elem).clone()),
                param => Nature::of(param.clone()),
            };
            // An integer where a float is expected: Go turns integer literals into floats.
            if param.is_float() && nature.is_integer() || param.is_integer() && nature.is_integer() {
                continue;
            }
            if nature.nil {
                if matches!(param.kind(), Kind::Ptr | Kind::Interface) {
                    continue;
                }
                return Err(format!("cannot use nil as argument (type {param}) to call {name}"));
            }
            if !nature.assignable_to(&param) && !nature.is_unknown() {
                return Err(format!("cannot use {nature} as argument (type {param}) to call {name} "));
            }
        }
        Ok(func.out())
    }

    /// `all`, `filter`, `map`...: Go's `builtinNode` cases for predicate builtins.
    fn predicate_builtin(&mut self, name: &str, args: &[Arg<'_>]) -> Nature {
        let Some(first) = args.first() else { return Nature::unknown() };
        let collection = self.visit_arg(*first);
        if !collection.is_array() && !collection.is_unknown() {
            return self.error(format!("builtin {name} takes only array (got {collection})"));
        }
        if name == "count" && args.len() == 1 {
            return Nature::of(Type::Int);
        }
        if name == "sum" && args.len() == 1 {
            return if collection.is_unknown() { Nature::unknown() } else { collection.elem() };
        }
        let vars = match name {
            "map" => vec![("index", Nature::of(Type::Int))],
            "reduce" => vec![("index", Nature::of(Type::Int)), ("acc", Nature::unknown())],
            _ => Vec::new(),
        };
        self.predicates.push(Scope { collection: collection.clone(), vars });
        let predicate = args.get(1).map(|arg| self.visit_arg(*arg)).unwrap_or_default();
        self.predicates.pop();
        if let Some(third) = args.get(2)
            && matches!(name, "sortBy" | "reduce")
        {
            self.visit_arg(*third);
        }
        let one_in_one_out = matches!(predicate.signature(), Some(([Type::Any], [_], _)));
        if name == "reduce" {
            return match predicate.signature() {
                Some((_, [_], _)) => predicate.elem.as_deref().cloned().unwrap_or_default(),
                _ => self.error("predicate should has two input and one output param".into()),
            };
        }
        if !one_in_one_out {
            if name == "sum" {
                return Nature::unknown();
            }
            return self.error("predicate should has one input and one output param".into());
        }
        let out = predicate.out();
        let body = predicate.elem.as_deref().cloned().unwrap_or_default();
        let must_be_bool = !matches!(name, "map" | "sum" | "groupBy" | "sortBy");
        if must_be_bool && !out.is_bool() && !out.is_unknown() {
            return self.error(format!("predicate should return boolean (got {out})"));
        }
        match name {
            "all" | "none" | "any" | "one" => Nature::of(Type::Bool),
            "filter" if collection.is_unknown() => Nature::of(any_slice()),
            "filter" => Nature::array_of(collection.elem()),
            "map" => Nature::array_of(body),
            "count" | "findIndex" | "findLastIndex" => Nature::of(Type::Int),
            "sum" => out,
            "find" | "findLast" if collection.is_unknown() => Nature::unknown(),
            "find" | "findLast" => collection.elem(),
            "groupBy" => Nature {
                ty: Some(Type::Map(Box::new(Type::Any), Box::new(any_slice()))),
                nil: false,
                elem: Some(Box::new(Nature::array_of(collection.elem()))),
            },
            _ => collection,
        }
    }

    /// Go's `checkBuiltinGet`.
    fn get(&mut self, args: &[Arg<'_>]) -> Nature {
        let [base, prop] = args else {
            return self.error(format!("invalid number of arguments (expected 2, got {})", args.len()));
        };
        let b = self.visit_arg(*base);
        let p = self.visit_arg(*prop);
        if let Arg::Node(Node::Ident(env)) = base
            && env == "$env"
        {
            return match prop {
                Arg::Node(Node::Value(ExprValue::String(name))) => self.global(name, false).unwrap_or_default(),
                _ => Nature::unknown(),
            };
        }
        if b.is_unknown() {
            return Nature::unknown();
        }
        match b.kind() {
            Kind::Slice if !p.is_integer() && !p.is_unknown() => self.error(format!("non-integer slice index {p}")),
            Kind::Map if !p.assignable_to(&b.key()) && !p.is_unknown() => {
                self.error(format!("cannot use {p} to get an element from {b}"))
            }
            Kind::Slice | Kind::Map => b.elem(),
            _ => self.error(format!("type {b} does not support indexing")),
        }
    }
}

#[derive(Clone, Copy)]
enum Branch<'a> {
    Node(&'a Node),
    Program(&'a Program),
}

/// Go's `predicateNode`: a `func(interface {}) T` whose `T` is what the body gives (none for a
/// body that is `nil`), with the body's nature kept as the `Ref`.
fn predicate_nature(body: Nature) -> Nature {
    let results = if body.is_unknown() {
        vec![Type::Any]
    } else if body.nil {
        Vec::new()
    } else {
        body.ty.clone().into_iter().collect()
    };
    Nature { ty: Some(Type::Func(vec![Type::Any], results, false)), nil: false, elem: Some(Box::new(body)) }
}

/// Whether Go's optimizer folds an integer `%` by a constant zero (`5 % 0`), a compile error.
fn constant_modulo_by_zero(node: &Node) -> bool {
    fn constant(node: &Node) -> Option<i64> {
        match node {
            Node::Value(ExprValue::Integer(i)) => Some(*i),
            Node::Unary { operator: UnaryOperator::Negative, node } => constant(node).map(i64::wrapping_neg),
            Node::Unary { operator: UnaryOperator::Positive, node } => constant(node),
            Node::Operation { operator, left, right, .. } => {
                let (l, r) = (constant(left)?, constant(right)?);
                match operator {
                    Operator::Add => Some(l.wrapping_add(r)),
                    Operator::Subtract => Some(l.wrapping_sub(r)),
                    Operator::Multiply => Some(l.wrapping_mul(r)),
                    Operator::Modulo if r != 0 => Some(l.wrapping_rem(r)),
                    _ => None,
                }
            }
            _ => None,
        }
    }
    let mut found = false;
    walk(node, &mut |n| {
        if let Node::Operation { operator: Operator::Modulo, left, right, .. } = n
            && constant(left).is_some()
            && constant(right) == Some(0)
        {
            found = true;
        }
    });
    found
}

/// Calls `f` on every node of the tree, predicates and branches included.
fn walk(node: &Node, f: &mut dyn FnMut(&Node)) {
    f(node);
    let program = |p: &Program, f: &mut dyn FnMut(&Node)| {
        for (_, line) in p.lines() {
            walk(line, f);
        }
        walk(p.expr(), f);
    };
    match node {
        Node::Ident(_) | Node::Value(_) => {}
        Node::Array(items) => items.iter().for_each(|i| walk(i, f)),
        Node::Range(a, b) => {
            walk(a, f);
            walk(b, f);
        }
        Node::Func { args, predicate, .. } => {
            args.iter().for_each(|a| walk(a, f));
            if let Some(p) = predicate {
                program(p, f);
            }
        }
        Node::Unary { node, .. } => walk(node, f),
        Node::Operation { left, right, .. } => {
            walk(left, f);
            walk(right, f);
        }
        Node::Postfix { operator, node } => {
            walk(node, f);
            match operator {
                PostfixOperator::Index { idx, .. } => walk(idx, f),
                PostfixOperator::Range { start, end } => [start, end].into_iter().flatten().for_each(|b| walk(b, f)),
                PostfixOperator::Default(n) | PostfixOperator::Pipe(n) => walk(n, f),
                PostfixOperator::Ternary { left, right } => {
                    walk(left, f);
                    walk(right, f);
                }
                PostfixOperator::Method { args, .. } => args.iter().for_each(|a| walk(a, f)),
            }
        }
        Node::Conditional { condition, consequent, alternative } => {
            walk(condition, f);
            program(consequent, f);
            program(alternative, f);
        }
    }
}

/// Go's `regexp.Compile` verdict on a `matches` pattern, in Go's words for the errors people
/// make (an unclosed group or class, a repetition of nothing); Rust's regex syntax is RE2's.
pub(crate) fn go_regexp(pattern: &str) -> Result<(), String> {
    let Err(e) = regex::Regex::new(pattern) else { return Ok(()) };
    let text = e.to_string();
    let (code, arg) = if text.contains("unclosed group") {
        ("missing closing )", pattern.to_string())
    } else if text.contains("unclosed character class") {
        ("missing closing ]", pattern.get(pattern.rfind('[').unwrap_or(0)..).unwrap_or(pattern).to_string())
    } else if text.contains("unopened group") {
        ("unexpected )", pattern.to_string())
    } else if text.contains("repetition operator missing expression") {
        let op = pattern.chars().find(|c| matches!(c, '*' | '+' | '?')).unwrap_or('*');
        ("missing argument to repetition operator", op.to_string())
    } else {
        let detail = text.lines().rev().find(|l| l.starts_with("error:")).unwrap_or("invalid regexp").trim();
        return Err(format!("error parsing regexp: {}: `{pattern}`", detail.trim_start_matches("error: ")));
    };
    Err(format!("error parsing regexp: {code}: `{arg}`"))
}

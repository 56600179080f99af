//! Go expr's builtins (v1.17.7, `builtin/builtin.go`): their names, and how the checker types a
//! call of each, as Go's does: the predicate builtins by the checker's own rules, the others by
//! their `Validate` function or their typed overloads, with Go's messages.

use crate::check::{Kind, Type, any_slice};

/// How the checker types a call of a builtin (expr's `builtin.Builtins`).
pub(crate) enum Builtin {
    /// `all`, `filter`, `map`...: a collection and a predicate, checked by `builtinNode` itself;
    /// the minimum and maximum number of arguments the parser takes.
    Predicate(usize, usize),
    /// `get`: `checkBuiltinGet`.
    Get,
    /// A `Validate` function over the arguments' types.
    Validate(fn(&str, &[Option<Type>]) -> Result<Type, String>),
    /// Typed overloads, tried in order (`Types`).
    Types(Vec<Type>),
}

pub(crate) fn sig(params: &[Type], results: &[Type]) -> Type {
    Type::Func(params.to_vec(), results.to_vec(), false)
}

/// The builtins of expr v1.17.7 (`builtin/builtin.go`), by name.
pub(crate) fn builtin(name: &str) -> Option<Builtin> {
    use Type::{Any, Bool, Int, String as Str};
    let strs = || Type::Slice(Box::new(Str));
    Some(match name {
        "all" | "none" | "any" | "one" | "filter" | "map" | "find" | "findIndex" | "findLast" | "findLastIndex"
        | "groupBy" => Builtin::Predicate(2, 2),
        "count" | "sum" => Builtin::Predicate(1, 2),
        "sortBy" | "reduce" => Builtin::Predicate(2, 3),
        "get" => Builtin::Get,
        "len" => Builtin::Validate(validate_len),
        "abs" => Builtin::Validate(validate_abs),
        "ceil" | "floor" | "round" => Builtin::Validate(validate_round),
        "int" => Builtin::Validate(|name, args| validate_convert(name, args, Int)),
        "float" => Builtin::Validate(|name, args| validate_convert(name, args, Type::Float64)),
        "max" | "min" | "mean" | "median" => Builtin::Validate(validate_aggregate),
        "first" | "last" => Builtin::Validate(validate_first_last),
        "take" => Builtin::Validate(validate_take),
        "keys" | "values" | "toPairs" | "fromPairs" | "reverse" | "uniq" | "flatten" => {
            Builtin::Validate(validate_one_collection)
        }
        "concat" => Builtin::Validate(validate_concat),
        "now" => Builtin::Validate(validate_now),
        "date" => Builtin::Validate(validate_date),
        "type" | "string" | "toJSON" => Builtin::Types(vec![sig(&[Any], &[Str])]),
        "fromJSON" => Builtin::Types(vec![sig(&[Str], &[Any])]),
        "toBase64" | "fromBase64" | "upper" | "lower" => Builtin::Types(vec![sig(&[Str], &[Str])]),
        "trim" => Builtin::Types(vec![sig(&[Str], &[Str]), sig(&[Str, Str], &[Str])]),
        "trimPrefix" | "trimSuffix" => Builtin::Types(vec![sig(&[Str, Str], &[Str]), sig(&[Str], &[Str])]),
        "split" | "splitAfter" => Builtin::Types(vec![sig(&[Str, Str], &[strs()]), sig(&[Str, Str, Int], &[strs()])]),
        "replace" => Builtin::Types(vec![sig(&[Str, Str, Str, Int], &[Str]), sig(&[Str, Str, Str], &[Str])]),
        "repeat" => Builtin::Types(vec![sig(&[Str, Int], &[Str])]),
        "join" => Builtin::Types(vec![
            sig(&[strs(), Str], &[Str]),
            sig(&[any_slice(), Str], &[Str]),
            sig(&[any_slice()], &[Str]),
            sig(&[strs(), Str], &[Str]),
            sig(&[strs()], &[Str]),
        ]),
        "indexOf" | "lastIndexOf" => Builtin::Types(vec![sig(&[Str, Str], &[Int])]),
        "hasPrefix" | "hasSuffix" => Builtin::Types(vec![sig(&[Str, Str], &[Bool])]),
        "duration" => Builtin::Types(vec![sig(&[Str], &[Type::Duration, Type::Error])]),
        "timezone" => Builtin::Types(vec![sig(&[Str], &[Type::Location, Type::Error])]),
        "sort" => {
            let slice = |t: Type| Type::Slice(Box::new(t));
            let elems = [Any, Int, Type::Float64, Str];
            let mut types: Vec<Type> = elems.iter().map(|e| sig(&[slice(e.clone()), Str], &[any_slice()])).collect();
            types.extend([Any, Type::Float64, Str, Int].map(|e| sig(&[slice(e)], &[any_slice()])));
            Builtin::Types(types)
        }
        "bitand" | "bitor" | "bitxor" | "bitnand" | "bitshl" | "bitshr" | "bitushr" => {
            Builtin::Types(vec![sig(&[Int, Int], &[Int])])
        }
        "bitnot" => Builtin::Types(vec![sig(&[Int], &[Int])]),
        _ => return None,
    })
}

/// The type of a builtin named as a value (`len` alone): its first overload, else the type of
/// its untyped Go function, `func(...interface {}) (interface {}, error)`.
pub(crate) fn builtin_type(name: &str, builtin: &Builtin) -> Type {
    let predicate = |out: Type| sig(&[any_slice(), sig(&[Type::Any], &[Type::Bool])], &[out]);
    match (name, builtin) {
        ("all" | "none" | "any" | "one", _) => predicate(Type::Bool),
        ("filter", _) => predicate(any_slice()),
        ("map", _) => sig(&[any_slice(), sig(&[Type::Any], &[Type::Any])], &[any_slice()]),
        ("find" | "findLast", _) => predicate(Type::Any),
        ("findIndex" | "findLastIndex" | "count" | "sum", _) => predicate(Type::Int),
        ("groupBy", _) => sig(
            &[any_slice(), sig(&[Type::Any], &[Type::Any])],
            &[Type::Map(Box::new(Type::Any), Box::new(any_slice()))],
        ),
        ("sortBy", _) => sig(&[any_slice(), sig(&[Type::Any], &[Type::Bool]), Type::String], &[any_slice()]),
        ("reduce", _) => sig(&[any_slice(), sig(&[Type::Any, Type::Any], &[Type::Any]), Type::Any], &[Type::Any]),
        (_, Builtin::Types(types)) => types[0].clone(),
        _ => Type::Func(vec![any_slice()], vec![Type::Any, Type::Error], true),
    }
}

/// `%s` of a `reflect.Type`, which prints `%!s(<nil>)` for the nil one (an argument that is `nil`).
fn type_arg(ty: &Option<Type>) -> String {
    ty.as_ref().map_or_else(|| "%!s(<nil>)".to_string(), Type::to_string)
}

fn arity(args: &[Option<Type>], n: usize) -> Result<(), String> {
    if args.len() == n {
        Ok(())
    } else {
        Err(format!("invalid number of arguments (expected {n}, got {})", args.len()))
    }
}

fn kind(ty: &Option<Type>) -> Kind {
    ty.as_ref().map_or(Kind::Invalid, Type::kind)
}

fn numeric(kind: Kind) -> bool {
    matches!(kind, Kind::Int | Kind::Int64 | Kind::Uint8 | Kind::Float64)
}

fn validate_len(_: &str, args: &[Option<Type>]) -> Result<Type, String> {
    arity(args, 1)?;
    match kind(&args[0]) {
        Kind::Slice | Kind::Map | Kind::String | Kind::Interface => Ok(Type::Int),
        _ => Err(format!("invalid argument for len (type {})", type_arg(&args[0]))),
    }
}

fn validate_abs(_: &str, args: &[Option<Type>]) -> Result<Type, String> {
    arity(args, 1)?;
    match (&args[0], kind(&args[0])) {
        (Some(ty), k) if numeric(k) || k == Kind::Interface => Ok(ty.clone()),
        _ => Err(format!("invalid argument for abs (type {})", type_arg(&args[0]))),
    }
}

fn validate_round(name: &str, args: &[Option<Type>]) -> Result<Type, String> {
    arity(args, 1)?;
    match kind(&args[0]) {
        k if numeric(k) || k == Kind::Interface => Ok(Type::Float64),
        _ => Err(format!("invalid argument for {name} (type {})", type_arg(&args[0]))),
    }
}

fn validate_convert(name: &str, args: &[Option<Type>], to: Type) -> Result<Type, String> {
    arity(args, 1)?;
    match kind(&args[0]) {
        k if numeric(k) || k == Kind::Interface || k == Kind::String => Ok(to),
        _ => Err(format!("invalid argument for {name} (type {})", type_arg(&args[0]))),
    }
}

fn validate_aggregate(name: &str, args: &[Option<Type>]) -> Result<Type, String> {
    if args.is_empty() {
        return Err(format!("not enough arguments to call {name}"));
    }
    for arg in args {
        match kind(arg) {
            Kind::Interface | Kind::Slice => return Ok(Type::Any),
            k if numeric(k) => {}
            _ => return Err(format!("invalid argument for {name} (type {})", type_arg(arg))),
        }
    }
    Ok(args[0].clone().unwrap_or(Type::Any))
}

fn validate_first_last(name: &str, args: &[Option<Type>]) -> Result<Type, String> {
    arity(args, 1)?;
    match &args[0] {
        Some(Type::Slice(elem)) => Ok((**elem).clone()),
        ty if kind(ty) == Kind::Interface => Ok(Type::Any),
        ty => Err(format!("cannot get {name} element from {}", type_arg(ty))),
    }
}

fn validate_take(_: &str, args: &[Option<Type>]) -> Result<Type, String> {
    arity(args, 2)?;
    if !matches!(kind(&args[0]), Kind::Interface | Kind::Slice) {
        return Err(format!("cannot take from {}", type_arg(&args[0])));
    }
    if !matches!(kind(&args[1]), Kind::Interface | Kind::Int | Kind::Int64) {
        return Err(format!("cannot take {} elements", type_arg(&args[1])));
    }
    Ok(args[0].clone().unwrap_or(Type::Any))
}

/// `keys`, `values`, `toPairs`, `fromPairs`, `reverse`, `uniq`, `flatten`: one collection.
fn validate_one_collection(name: &str, args: &[Option<Type>]) -> Result<Type, String> {
    arity(args, 1)?;
    let k = kind(&args[0]);
    let (ok, out, what) = match name {
        "keys" => (matches!(k, Kind::Interface | Kind::Map), any_slice(), "cannot get keys from"),
        "values" => (matches!(k, Kind::Interface | Kind::Map), any_slice(), "cannot get values from"),
        "toPairs" => (matches!(k, Kind::Interface | Kind::Map), any_slice(), "cannot transform"),
        "fromPairs" => (
            matches!(k, Kind::Interface | Kind::Slice),
            Type::Map(Box::new(Type::Any), Box::new(Type::Any)),
            "cannot transform",
        ),
        "reverse" => (matches!(k, Kind::Interface | Kind::Slice), any_slice(), "cannot reverse"),
        "uniq" => (matches!(k, Kind::Interface | Kind::Slice), any_slice(), "cannot uniq"),
        _ => (matches!(k, Kind::Interface | Kind::Slice), any_slice(), "cannot flatten"),
    };
    match (ok, name) {
        (true, _) => Ok(out),
        (false, "toPairs") => Err(format!("{what} {} to pairs", type_arg(&args[0]))),
        (false, "fromPairs") => Err(format!("{what} {} from pairs", type_arg(&args[0]))),
        (false, _) => Err(format!("{what} {}", type_arg(&args[0]))),
    }
}

fn validate_concat(_: &str, args: &[Option<Type>]) -> Result<Type, String> {
    if args.is_empty() {
        return Err("invalid number of arguments (expected at least 1, got 0)".into());
    }
    match args.iter().find(|arg| !matches!(kind(arg), Kind::Interface | Kind::Slice)) {
        Some(arg) => Err(format!("cannot concat {}", type_arg(arg))),
        None => Ok(any_slice()),
    }
}

fn validate_now(_: &str, args: &[Option<Type>]) -> Result<Type, String> {
    match args {
        [] | [Some(Type::Location)] => Ok(Type::Time),
        _ => Err(format!("invalid number of arguments (expected 0, got {})", args.len())),
    }
}

fn validate_date(_: &str, args: &[Option<Type>]) -> Result<Type, String> {
    if args.is_empty() {
        return Err("invalid number of arguments (expected at least 1, got 0)".into());
    }
    let rest = if args[0] == Some(Type::Location) { &args[1..] } else { args };
    if rest.len() > 3 {
        return Err(format!("invalid number of arguments (expected at most 3, got {})", rest.len()));
    }
    Ok(Type::Time)
}

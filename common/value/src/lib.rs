//! The value that crosses the plugin boundary.
//!
//! A metric provider hands its result to the host, and the host hands it to a condition plugin, as
//! **JSON text extended with the bare tokens `NaN`, `Infinity` and `-Infinity`**. Plain JSON cannot
//! carry a Prometheus `NaN` or `+Inf`, and Argo's conditions depend on them (`isNaN(result)`,
//! `result >= 0.9` being false for NaN), so the wire format keeps them intact.
//!
//! The data model is Go's `encoding/json` model, because Argo's conditions were written against it:
//! every number is an `f64`, objects are maps with sorted keys. [`Value::to_string`] writes the
//! canonical text that Argo stores in `measurement.value` (`10`, `[10,11]`, `NaN`).
//!
//! This crate is shared by the host and by guests (it has no dependency beyond `serde_json`, which
//! it uses to decode string escapes), so both sides read and write exactly the same format.

// No panic reachable from input (plugin answers, object content, API responses): see
// docs/plugin-boundary.md. Tests may unwrap.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

pub mod duration;

use std::collections::BTreeMap;
use std::fmt;

/// A decoded plugin value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// JSON `null`: "no data" to a condition (`isNil(result)`, `default(result, 0)`).
    Null,
    /// JSON `true` / `false`.
    Bool(bool),
    /// Every number, as in Go's `encoding/json`; may be NaN or infinite.
    Number(f64),
    /// A JSON string.
    String(String),
    /// A JSON array.
    Array(Vec<Value>),
    /// A JSON object; keys sorted, as Go marshals maps.
    Object(BTreeMap<String, Value>),
}

/// Why a text is not a valid extended-JSON value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value at byte {offset}: {reason}")]
pub struct ParseError {
    /// Byte offset in the input where the problem was found.
    pub offset: usize,
    /// What was expected or found.
    pub reason: String,
}

/// Nesting deeper than this is refused, so that a hostile plugin cannot overflow the host's stack.
pub const MAX_DEPTH: usize = 128;

impl Value {
    /// Parses extended JSON: standard JSON plus the bare tokens `NaN`, `Infinity`, `-Infinity`.
    /// Leading and trailing whitespace is allowed; anything else after the value is an error.
    pub fn parse(text: &str) -> Result<Value, ParseError> {
        let mut p = Parser { s: text.as_bytes(), text, pos: 0 };
        p.ws();
        let v = p.value(0)?;
        p.ws();
        if p.pos != p.s.len() {
            return Err(p.err("unexpected trailing characters"));
        }
        Ok(v)
    }

    /// True for `null`, an empty array and an empty object: what Argo reports as "no data returned
    /// from the metric provider" when a condition cannot be evaluated.
    pub fn is_empty_result(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Array(a) => a.is_empty(),
            _ => false,
        }
    }

    /// Converts from `serde_json`, which has no NaN; used for values decoded from HTTP bodies.
    pub fn from_json(v: serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Value::String(s),
            serde_json::Value::Array(a) => Value::Array(a.into_iter().map(Value::from_json).collect()),
            serde_json::Value::Object(o) => {
                Value::Object(o.into_iter().map(|(k, v)| (k, Value::from_json(v))).collect())
            }
        }
    }
}

/// Writes a number as Go's `encoding/json` does, which is how Argo stores values: integers
/// without a fraction (`10`, not `10.0`), shortest round-trip digits, and exponent form
/// (`1e+21`, `1e-7`) outside [1e-6, 1e21).
pub fn format_number(f: f64, out: &mut impl fmt::Write) -> fmt::Result {
    if f.is_nan() {
        out.write_str("NaN")
    } else if f.is_infinite() {
        out.write_str(if f > 0.0 { "Infinity" } else { "-Infinity" })
    } else if f != 0.0 && (f.abs() >= 1e21 || f.abs() < 1e-6) {
        let e = format!("{f:e}");
        match e.split_once('e') {
            Some((mantissa, exp)) if !exp.starts_with('-') => write!(out, "{mantissa}e+{exp}"),
            _ => out.write_str(&e),
        }
    } else {
        // Rust's shortest round-trip form prints 10.0 as "10", like Go.
        write!(out, "{f}")
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => format_number(*n, f),
            Value::String(s) => write_string(s, f),
            Value::Array(a) => {
                f.write_str("[")?;
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Object(o) => {
                f.write_str("{")?;
                for (i, (k, v)) in o.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write_string(k, f)?;
                    write!(f, ":{v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

fn write_string(s: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    // serde_json's string encoder is the reference JSON escaper; it cannot fail on a &str.
    f.write_str(&serde_json::to_string(s).map_err(|_| fmt::Error)?)
}

/// A long literal cut to 40 bytes for an error message (numbers are ASCII).
fn preview(literal: &str) -> String {
    match literal.get(..40) {
        Some(head) if literal.len() > 40 => format!("{head}..."),
        _ => literal.to_string(),
    }
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn err(&self, reason: &str) -> ParseError {
        ParseError { offset: self.pos.min(self.s.len()), reason: reason.to_string() }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.pos) {
            self.pos = self.pos.saturating_add(1);
        }
    }

    fn eat(&mut self, lit: &str) -> bool {
        if self.s.get(self.pos..).is_some_and(|rest| rest.starts_with(lit.as_bytes())) {
            self.pos = self.pos.saturating_add(lit.len());
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        match self.s.get(self.pos) {
            None => Err(self.err("unexpected end of input")),
            Some(b'n') if self.eat("null") => Ok(Value::Null),
            Some(b't') if self.eat("true") => Ok(Value::Bool(true)),
            Some(b'f') if self.eat("false") => Ok(Value::Bool(false)),
            Some(b'N') if self.eat("NaN") => Ok(Value::Number(f64::NAN)),
            Some(b'I') if self.eat("Infinity") => Ok(Value::Number(f64::INFINITY)),
            Some(b'-') if self.eat("-Infinity") => Ok(Value::Number(f64::NEG_INFINITY)),
            Some(b'"') => self.string().map(Value::String),
            Some(b'[') => self.array(depth),
            Some(b'{') => self.object(depth),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err("expected a value")),
        }
    }

    fn string(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        self.pos = self.pos.saturating_add(1);
        loop {
            match self.s.get(self.pos) {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => break,
                Some(b'\\') => self.pos = self.pos.saturating_add(2),
                Some(_) => self.pos = self.pos.saturating_add(1),
            }
        }
        self.pos = self.pos.saturating_add(1);
        let slice = self.text.get(start..self.pos).ok_or_else(|| self.err("invalid string"))?;
        serde_json::from_str::<String>(slice).map_err(|e| ParseError { offset: start, reason: e.to_string() })
    }

    fn number(&mut self) -> Result<Value, ParseError> {
        let start = self.pos;
        let digits = |p: &mut Self| {
            let s = p.pos;
            while let Some(b'0'..=b'9') = p.s.get(p.pos) {
                p.pos = p.pos.saturating_add(1);
            }
            p.pos.saturating_sub(s)
        };
        if self.s.get(self.pos) == Some(&b'-') {
            self.pos = self.pos.saturating_add(1);
        }
        let int_start = self.pos;
        let n = digits(self);
        if n == 0 || (n > 1 && self.s.get(int_start) == Some(&b'0')) {
            return Err(self.err("invalid number"));
        }
        if self.s.get(self.pos) == Some(&b'.') {
            self.pos = self.pos.saturating_add(1);
            if digits(self) == 0 {
                return Err(self.err("invalid number: digits expected after '.'"));
            }
        }
        if let Some(b'e' | b'E') = self.s.get(self.pos) {
            self.pos = self.pos.saturating_add(1);
            if let Some(b'+' | b'-') = self.s.get(self.pos) {
                self.pos = self.pos.saturating_add(1);
            }
            if digits(self) == 0 {
                return Err(self.err("invalid number: digits expected in exponent"));
            }
        }
        let literal = self.text.get(start..self.pos).unwrap_or_default();
        match literal.parse::<f64>() {
            // Go's encoding/json refuses a literal beyond the float64 range rather than reading it
            // as an infinity; so does the boundary (`Infinity` is spelled out when meant).
            Ok(f) if f.is_infinite() => Err(ParseError {
                offset: start,
                reason: format!("number {} does not fit a 64-bit float", preview(literal)),
            }),
            Ok(f) => Ok(Value::Number(f)),
            Err(e) => Err(ParseError { offset: start, reason: e.to_string() }),
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, ParseError> {
        self.pos = self.pos.saturating_add(1);
        let mut items = Vec::new();
        self.ws();
        if self.eat("]") {
            return Ok(Value::Array(items));
        }
        loop {
            self.ws();
            items.push(self.value(depth.saturating_add(1))?);
            self.ws();
            if self.eat(",") {
                continue;
            }
            if self.eat("]") {
                return Ok(Value::Array(items));
            }
            return Err(self.err("expected ',' or ']'"));
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, ParseError> {
        self.pos = self.pos.saturating_add(1);
        let mut map = BTreeMap::new();
        self.ws();
        if self.eat("}") {
            return Ok(Value::Object(map));
        }
        loop {
            self.ws();
            if self.s.get(self.pos) != Some(&b'"') {
                return Err(self.err("expected a string key"));
            }
            let key = self.string()?;
            self.ws();
            if !self.eat(":") {
                return Err(self.err("expected ':'"));
            }
            self.ws();
            let v = self.value(depth.saturating_add(1))?;
            map.insert(key, v);
            self.ws();
            if self.eat(",") {
                continue;
            }
            if self.eat("}") {
                return Ok(Value::Object(map));
            }
            return Err(self.err("expected ',' or '}'"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn nan_and_infinities_survive_the_round_trip() {
        for (text, check) in [
            ("NaN", (|v: f64| v.is_nan()) as fn(f64) -> bool),
            ("Infinity", |v| v == f64::INFINITY),
            ("-Infinity", |v| v == f64::NEG_INFINITY),
        ] {
            let Value::Number(n) = Value::parse(text).unwrap() else { panic!("{text} is not a number") };
            assert!(check(n), "{text}");
            assert_eq!(Value::parse(text).unwrap().to_string(), text);
        }
        let v = Value::parse("[1, NaN, -Infinity, {\"a\": Infinity}]").unwrap();
        assert_eq!(v.to_string(), "[1,NaN,-Infinity,{\"a\":Infinity}]");
    }

    #[test]
    fn numbers_print_as_argo_stores_them() {
        assert_eq!(Value::parse("10").unwrap().to_string(), "10");
        assert_eq!(Value::parse("10.0").unwrap().to_string(), "10");
        assert_eq!(Value::parse("0.95").unwrap().to_string(), "0.95");
        assert_eq!(Value::parse("[10, 11]").unwrap().to_string(), "[10,11]");
        assert_eq!(Value::parse("-2.5e3").unwrap().to_string(), "-2500");
        assert_eq!(Value::parse("1e21").unwrap().to_string(), "1e+21");
        assert_eq!(Value::parse("1.5e-7").unwrap().to_string(), "1.5e-7");
        assert_eq!(Value::parse("0.000001").unwrap().to_string(), "0.000001");
    }

    #[test]
    fn objects_are_written_with_sorted_keys() {
        let v = Value::parse(r#"{"b": 1, "a": "x\"y", "c": null}"#).unwrap();
        assert_eq!(v.to_string(), r#"{"a":"x\"y","b":1,"c":null}"#);
    }

    #[test]
    fn malformed_text_is_refused_with_an_offset() {
        for bad in ["", "nan", "01", "1.", "[1,", "{\"a\" 1}", "\"abc", "[1] x", "{1: 2}", "- 1", "Inf"] {
            let e = Value::parse(bad).expect_err(bad);
            assert!(e.offset <= bad.len(), "{bad}: {e}");
        }
        assert_eq!(Value::parse("[1] x").unwrap_err().reason, "unexpected trailing characters");
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let deep = "[".repeat(100_000);
        assert_eq!(Value::parse(&deep).unwrap_err().reason, "nesting too deep");
    }

    #[test]
    fn empty_results_are_null_and_empty_arrays() {
        assert!(Value::Null.is_empty_result());
        assert!(Value::parse("[]").unwrap().is_empty_result());
        assert!(!Value::parse("[NaN]").unwrap().is_empty_result());
        assert!(!Value::parse("0").unwrap().is_empty_result());
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<f64>().prop_map(Value::Number),
            ".*".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(".*", inner, 0..6).prop_map(Value::Object),
            ]
        })
    }

    fn same(a: &Value, b: &Value) -> bool {
        same_within(a, b, 0.0)
    }

    /// Structural equality, numbers equal within `rel` relative error (NaN equals NaN).
    fn same_within(a: &Value, b: &Value, rel: f64) -> bool {
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => {
                (x.is_nan() && y.is_nan()) || x == y || (x - y).abs() <= rel * x.abs().max(y.abs())
            }
            (Value::Array(x), Value::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_within(a, b, rel))
            }
            (Value::Object(x), Value::Object(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|((ka, a), (kb, b))| ka == kb && same_within(a, b, rel))
            }
            _ => a == b,
        }
    }

    proptest! {
        #[test]
        fn every_value_round_trips_through_its_text(v in arb_value()) {
            let text = v.to_string();
            let back = Value::parse(&text).unwrap();
            prop_assert!(same(&v, &back), "{text}");
        }

        #[test]
        fn plain_json_reads_as_serde_json_reads_it(v in arb_value()) {
            // Whatever serde_json accepts (no NaN/Infinity) we read the same way. serde_json's
            // default float parser may be off by an ulp (it is exact only with its
            // `float_roundtrip` feature); ours uses the standard library's exact one.
            let text = v.to_string();
            if let Ok(j) = serde_json::from_str::<serde_json::Value>(&text) {
                prop_assert!(same_within(&Value::from_json(j), &Value::parse(&text).unwrap(), 1e-15));
            }
        }

        #[test]
        fn parse_never_panics(s in ".{0,64}") {
            let _ = Value::parse(&s);
        }
    }
}

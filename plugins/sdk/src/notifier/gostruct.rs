//! Go's `encoding/json` over Go structs, as far as a notifier needs it to decode what a Go
//! library decodes and to send what it re-encodes: a struct is described by a table of its
//! fields (JSON name, kind, `omitempty`), values are decoded as Go decodes them (keys matched
//! exactly, else ASCII case-insensitively; the last of duplicate keys wins; unknown keys
//! ignored; `null` leaves a value alone and clears a pointer, slice or map; a type error is Go's
//! `UnmarshalTypeError` text and decoding goes on, the first error kept) and encoded as
//! `json.Marshal` writes them (fields in struct order, `omitempty` as Go reads it, strings with
//! Go's escapes, HTML characters escaped or not as the encoder is set).
//!
//! Built on [`crate::gojson`], which reads the JSON text with Go's syntax errors.
//!
//! ```
//! use aviary_plugin_sdk::notifier::gostruct::{self, Field, Go, Kind, Struct};
//!
//! static STATUS: Struct = Struct {
//!     name: "Status",
//!     go_type: "pkg.Status",
//!     fields: &[
//!         Field { name: "state", kind: Kind::Str("string"), omitempty: false },
//!         Field { name: "id", kind: Kind::Int("int64"), omitempty: true },
//!     ],
//! };
//! let kind = Kind::Struct(&STATUS);
//! let status = gostruct::decode_text(r#"{"STATE":"ok","other":1}"#, &kind).unwrap().unwrap();
//! assert_eq!(status.field(&STATUS, "state"), Some(&Go::Str("ok".into())));
//! assert_eq!(gostruct::to_string(&status, &kind, true), r#"{"state":"ok"}"#);
//! assert_eq!(
//!     gostruct::decode_text(r#"{"id":"7"}"#, &kind).unwrap_err(),
//!     "json: cannot unmarshal string into Go struct field Status.id of type int64"
//! );
//! ```

use crate::gojson::{self, Value};
use std::fmt::Write as _;

/// The Go type a JSON value is decoded into.
#[derive(Debug)]
pub enum Kind {
    /// A string type (`string`, or a named one: `models.AttachmentActionType`).
    Str(&'static str),
    /// `bool`.
    Bool,
    /// A signed integer type (`int`, `int64`).
    Int(&'static str),
    /// `float64`.
    Float,
    /// `time.Time` (or go-github's `Timestamp`, named by the string): an RFC 3339 string.
    Time(&'static str),
    /// `interface{}` / `json.RawMessage`: any JSON, kept as it is.
    Any,
    /// A struct.
    Struct(&'static Struct),
    /// A slice of the element kind, and the slice type's Go name (`[]models.AttachmentField`).
    Slice(&'static Kind, &'static str),
    /// A `map[string]<kind>`, and the map type's Go name.
    Map(&'static Kind, &'static str),
    /// A pointer to the kind (`null` is `nil`).
    Ptr(&'static Kind),
}

/// A Go struct: its name in errors (`Attachment`), its type's name (`models.Attachment`) and its
/// fields in order.
#[derive(Debug)]
pub struct Struct {
    /// The struct's name, as Go's errors name the struct holding a field.
    pub name: &'static str,
    /// The type's qualified name, as Go's errors name a value of it.
    pub go_type: &'static str,
    /// The fields, in declaration order.
    pub fields: &'static [Field],
}

/// A struct field: its JSON name, its kind and whether it is `omitempty`.
#[derive(Debug)]
pub struct Field {
    /// The JSON name.
    pub name: &'static str,
    /// The Go type.
    pub kind: Kind,
    /// `omitempty`.
    pub omitempty: bool,
}

/// A decoded Go value.
#[derive(Debug, Clone, PartialEq)]
pub enum Go {
    /// A nil pointer, slice, map or interface.
    Nil,
    /// A string.
    Str(String),
    /// A bool.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A time, as Go's `MarshalJSON` writes it back (RFC 3339, the fraction's trailing zeros
    /// dropped, `Z` for UTC).
    Time(String),
    /// Any JSON (an `interface{}`).
    Any(Value),
    /// A struct's fields (`None`: never set, the zero value).
    Struct(Vec<Option<Go>>),
    /// A slice.
    Slice(Vec<Go>),
    /// A map.
    Map(Vec<(String, Go)>),
}

impl Go {
    /// Field `name` of a decoded struct of `strukt`, if set.
    pub fn field<'a>(&'a self, strukt: &Struct, name: &str) -> Option<&'a Go> {
        let Go::Struct(values) = self else { return None };
        let i = strukt.fields.iter().position(|f| f.name == name)?;
        values.get(i)?.as_ref()
    }

    /// The string of a set string (or `""`).
    pub fn as_str(&self) -> &str {
        match self {
            Go::Str(s) => s,
            _ => "",
        }
    }

    /// Sets field `name` of a decoded struct of `strukt`.
    pub fn set_field(&mut self, strukt: &Struct, name: &str, value: Go) {
        if let Go::Struct(values) = self
            && let Some(i) = strukt.fields.iter().position(|f| f.name == name)
            && let Some(slot) = values.get_mut(i)
        {
            *slot = Some(value);
        }
    }
}

/// Where decoding is, for Go's error texts.
struct Context {
    strukt: &'static str,
    path: Vec<&'static str>,
    first: Option<String>,
}

impl Context {
    fn error(&mut self, what: &str, go_type: &str) {
        if self.first.is_some() {
            return;
        }
        self.first = Some(if self.path.is_empty() {
            format!("json: cannot unmarshal {what} into Go value of type {go_type}")
        } else {
            format!(
                "json: cannot unmarshal {what} into Go struct field {}.{} of type {go_type}",
                self.strukt,
                self.path.join(".")
            )
        });
    }
}

/// Decodes `value` into a fresh Go value of `kind`: the value (`None` when nothing was stored:
/// `null` into a non-nullable kind, or a type error) and Go's first type error.
pub fn decode(value: &Value, kind: &Kind) -> (Option<Go>, Option<String>) {
    let mut ctx = Context { strukt: "", path: Vec::new(), first: None };
    let decoded = decode_in(value, kind, &mut ctx);
    (decoded, ctx.first)
}

/// Decodes JSON text into `kind`: Go's syntax errors first, then its first type error.
pub fn decode_text(text: &str, kind: &Kind) -> Result<Option<Go>, String> {
    let value = gojson::parse(text)?;
    match decode(&value, kind) {
        (_, Some(e)) => Err(e),
        (v, None) => Ok(v),
    }
}

/// Go's `json.NewDecoder(body).Decode(&v)` into `kind`: the first value only (`None` for an
/// empty body, Go's `EOF`), Go's syntax errors ([`gojson::decode_stream`]), then its first type
/// error.
pub fn decode_stream(body: &[u8], kind: &Kind) -> Result<Option<Go>, String> {
    let Some(value) = gojson::decode_stream(body)? else { return Ok(None) };
    match decode(&value, kind) {
        (_, Some(e)) => Err(e),
        (v, None) => Ok(v),
    }
}

fn decode_in(value: &Value, kind: &Kind, ctx: &mut Context) -> Option<Go> {
    if let Value::Null = value {
        return match kind {
            Kind::Ptr(_) | Kind::Slice(..) | Kind::Map(..) | Kind::Any => Some(Go::Nil),
            _ => None,
        };
    }
    match kind {
        Kind::Ptr(inner) => decode_in(value, inner, ctx),
        Kind::Any => Some(Go::Any(value.clone())),
        Kind::Str(name) => match value {
            Value::String(s) => Some(Go::Str(s.clone())),
            other => {
                ctx.error(other.kind(), name);
                None
            }
        },
        Kind::Bool => match value {
            Value::Bool(b) => Some(Go::Bool(*b)),
            other => {
                ctx.error(other.kind(), "bool");
                None
            }
        },
        Kind::Int(name) => match value {
            Value::Number(text) => match text.parse::<i64>() {
                Ok(n) => Some(Go::Int(n)),
                Err(_) => {
                    ctx.error(&format!("number {text}"), name);
                    None
                }
            },
            other => {
                ctx.error(other.kind(), name);
                None
            }
        },
        Kind::Float => match value {
            Value::Number(text) => match gojson::number(text) {
                Ok(f) => Some(Go::Float(f)),
                Err(_) => {
                    ctx.error(&format!("number {text}"), "float64");
                    None
                }
            },
            other => {
                ctx.error(other.kind(), "float64");
                None
            }
        },
        Kind::Time(name) => match value {
            Value::String(s) => match rfc3339(s) {
                Some(t) => Some(Go::Time(t)),
                None => {
                    ctx.error(&format!("string {}", quote(s)), name);
                    None
                }
            },
            Value::Number(text) if *name != "time.Time" => match text.parse::<i64>() {
                Ok(seconds) => Some(Go::Time(unix_time(seconds))),
                Err(_) => {
                    ctx.error(&format!("number {text}"), name);
                    None
                }
            },
            other => {
                ctx.error(other.kind(), name);
                None
            }
        },
        Kind::Slice(element, name) => match value {
            Value::Array(items) => Some(Go::Slice(
                items.iter().map(|item| decode_in(item, element, ctx).unwrap_or_else(|| zero(element))).collect(),
            )),
            other => {
                ctx.error(other.kind(), name);
                None
            }
        },
        Kind::Map(element, name) => match value {
            Value::Object(members) => {
                let mut out: Vec<(String, Go)> = Vec::new();
                for (k, v) in members {
                    let decoded = decode_in(v, element, ctx).unwrap_or_else(|| zero(element));
                    match out.iter_mut().find(|(key, _)| key == k) {
                        Some(slot) => slot.1 = decoded,
                        None => out.push((k.clone(), decoded)),
                    }
                }
                Some(Go::Map(out))
            }
            other => {
                ctx.error(other.kind(), name);
                None
            }
        },
        Kind::Struct(strukt) => match value {
            Value::Object(members) => {
                let mut values: Vec<Option<Go>> = vec![None; strukt.fields.len()];
                for (key, item) in members {
                    let index = strukt
                        .fields
                        .iter()
                        .position(|f| f.name == key)
                        .or_else(|| strukt.fields.iter().position(|f| f.name.eq_ignore_ascii_case(key)));
                    let Some(index) = index else { continue };
                    let field = &strukt.fields[index];
                    let saved = ctx.strukt;
                    ctx.strukt = strukt.name;
                    ctx.path.push(field.name);
                    let decoded = decode_in(item, &field.kind, ctx);
                    ctx.path.pop();
                    ctx.strukt = saved;
                    if let Some(decoded) = decoded {
                        values[index] = Some(decoded);
                    }
                }
                Some(Go::Struct(values))
            }
            other => {
                ctx.error(other.kind(), strukt.go_type);
                None
            }
        },
    }
}

/// The zero value of `kind`, as a value (a nil for pointers, slices, maps and interfaces).
pub fn zero(kind: &Kind) -> Go {
    match kind {
        Kind::Str(_) => Go::Str(String::new()),
        Kind::Bool => Go::Bool(false),
        Kind::Int(_) => Go::Int(0),
        Kind::Float => Go::Float(0.0),
        Kind::Time(_) => Go::Time("0001-01-01T00:00:00Z".to_string()),
        Kind::Struct(s) => Go::Struct(vec![None; s.fields.len()]),
        Kind::Any | Kind::Slice(..) | Kind::Map(..) | Kind::Ptr(_) => Go::Nil,
    }
}

/// Whether `omitempty` leaves the value out: `false`, `0`, `""`, nil, an empty slice or map (a
/// pointer only when nil: a pointer to `false` is sent).
fn is_empty(value: &Go, kind: &Kind) -> bool {
    if matches!(kind, Kind::Ptr(_) | Kind::Any) {
        return *value == Go::Nil;
    }
    match value {
        Go::Nil => true,
        Go::Str(s) => s.is_empty(),
        Go::Bool(b) => !b,
        Go::Int(n) => *n == 0,
        Go::Float(f) => *f == 0.0,
        Go::Slice(items) => items.is_empty(),
        Go::Map(members) => members.is_empty(),
        Go::Time(_) | Go::Struct(_) | Go::Any(_) => false,
    }
}

/// Encodes `value` (of `kind`) as `json.Marshal` does; `html`: escape `<`, `>` and `&` (Go's
/// default; go-github's encoder turns it off).
pub fn encode(out: &mut String, value: &Go, kind: &Kind, html: bool) {
    match (value, kind) {
        (Go::Nil, _) => out.push_str("null"),
        (v, Kind::Ptr(inner)) => encode(out, v, inner, html),
        (Go::Str(s), _) => write_string(out, s, html),
        (Go::Bool(b), _) => out.push_str(if *b { "true" } else { "false" }),
        (Go::Int(n), _) => {
            let _ = write!(out, "{n}");
        }
        (Go::Float(f), _) => gojson::write_float(out, *f),
        (Go::Time(t), _) => write_string(out, t, html),
        (Go::Any(v), _) => write_any(out, v, html),
        (Go::Slice(items), Kind::Slice(element, _)) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                encode(out, item, element, html);
            }
            out.push(']');
        }
        (Go::Map(members), Kind::Map(element, _)) => {
            let mut sorted: Vec<&(String, Go)> = members.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            out.push('{');
            for (i, (k, v)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k, html);
                out.push(':');
                encode(out, v, element, html);
            }
            out.push('}');
        }
        (Go::Struct(values), Kind::Struct(strukt)) => {
            out.push('{');
            let mut first = true;
            for (field, value) in strukt.fields.iter().zip(values) {
                let value = value.clone().unwrap_or_else(|| zero(&field.kind));
                if field.omitempty && is_empty(&value, &field.kind) {
                    continue;
                }
                if !first {
                    out.push(',');
                }
                first = false;
                write_string(out, field.name, html);
                out.push(':');
                encode(out, &value, &field.kind, html);
            }
            out.push('}');
        }
        // A value that does not fit its kind is not made by `decode`.
        _ => out.push_str("null"),
    }
}

/// `value` as `json.Marshal` writes it into a new string.
pub fn to_string(value: &Go, kind: &Kind, html: bool) -> String {
    let mut out = String::new();
    encode(&mut out, value, kind, html);
    out
}

/// Any JSON as Go re-encodes an `interface{}`: keys sorted, numbers as `float64`.
fn write_any(out: &mut String, value: &Value, html: bool) {
    if html {
        gojson::write(out, value);
        return;
    }
    match value {
        Value::String(s) => write_string(out, s, false),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_any(out, item, false);
            }
            out.push(']');
        }
        Value::Object(members) => {
            let sorted: std::collections::BTreeMap<&str, &Value> =
                members.iter().map(|(k, v)| (k.as_str(), v)).collect();
            out.push('{');
            for (i, (k, v)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k, false);
                out.push(':');
                write_any(out, v, false);
            }
            out.push('}');
        }
        other => gojson::write(out, other),
    }
}

/// A string as Go's encoder writes it: `"` and `\` escaped, `\b \f \n \r \t`, other control
/// characters as `\u00XX`, U+2028 and U+2029 always as `\u2028` and `\u2029`, and with `html`,
/// `<`, `>` and `&` as `\u003c`, `\u003e` and `\u0026`.
pub fn write_string(out: &mut String, s: &str, html: bool) {
    if html {
        gojson::write_string(out, s);
        return;
    }
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn quote(s: &str) -> String {
    let mut out = String::new();
    write_string(&mut out, s, false);
    out
}

/// An RFC 3339 time as Go's `time.Parse(time.RFC3339, ...)` reads it, written back as
/// `MarshalJSON` writes it (RFC 3339 with nanoseconds, trailing zeros dropped, `Z` for a zero
/// offset). `None` when Go would not parse it.
pub fn rfc3339(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r.clone()).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if b.len() < 20 || !digits(0..4) || b[4] != b'-' || !digits(5..7) || b[7] != b'-' || !digits(8..10) {
        return None;
    }
    if b[10] != b'T' || !digits(11..13) || b[13] != b':' || !digits(14..16) || b[16] != b':' || !digits(17..19) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|t| t.parse::<u32>().ok()).unwrap_or(99);
    let (month, day, hour, minute, second) = (num(5..7), num(8..10), num(11..13), num(14..16), num(17..19));
    let year = num(0..4);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&month)
        || day < 1
        || day > days[(month - 1) as usize]
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut i = 19;
    let mut fraction = String::new();
    if matches!(b.get(i), Some(b'.' | b',')) {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
        fraction = s[start..i.min(start + 9)].trim_end_matches('0').to_string();
    }
    let zone = &s[i..];
    let zone = match zone {
        "Z" => "Z".to_string(),
        z if z.len() == 6
            && matches!(z.as_bytes()[0], b'+' | b'-')
            && z.as_bytes()[3] == b':'
            && z[1..3].bytes().all(|d| d.is_ascii_digit())
            && z[4..6].bytes().all(|d| d.is_ascii_digit()) =>
        {
            let (h, m) = (z[1..3].parse::<u32>().unwrap_or(99), z[4..6].parse::<u32>().unwrap_or(99));
            if h > 23 || m > 59 {
                return None;
            }
            if h == 0 && m == 0 { "Z".to_string() } else { z.to_string() }
        }
        _ => return None,
    };
    let dot = if fraction.is_empty() { String::new() } else { format!(".{fraction}") };
    Some(format!("{}{dot}{zone}", &s[..19]))
}

/// A Unix time in seconds as go-github's `Timestamp` reads it (`time.Unix`, in UTC: the
/// controller's zone), written back as RFC 3339.
fn unix_time(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest % 3600 / 60, rest % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    static INNER: Struct = Struct {
        name: "Inner",
        go_type: "pkg.Inner",
        fields: &[Field { name: "short", kind: Kind::Bool, omitempty: false }],
    };
    static OUTER: Struct = Struct {
        name: "Outer",
        go_type: "pkg.Outer",
        fields: &[
            Field { name: "name", kind: Kind::Str("string"), omitempty: true },
            Field { name: "n", kind: Kind::Int("int"), omitempty: true },
            Field { name: "inner", kind: Kind::Slice(&Kind::Struct(&INNER), "[]pkg.Inner"), omitempty: true },
            Field { name: "at", kind: Kind::Ptr(&Kind::Time("github.Timestamp")), omitempty: true },
            Field { name: "flag", kind: Kind::Bool, omitempty: false },
        ],
    };
    static LIST: Kind = Kind::Slice(&Kind::Struct(&OUTER), "[]pkg.Outer");

    #[test]
    fn structs_decode_and_encode_as_gos() {
        let v = decode_text(r#"[{"NAME":"a","name":"<b>","x":1,"inner":[{"Short":true},null],"at":"2020-01-02T03:04:05.500+00:00"},null]"#, &LIST)
            .unwrap()
            .unwrap();
        assert_eq!(
            to_string(&v, &LIST, true),
            r#"[{"name":"\u003cb\u003e","inner":[{"short":true},{"short":false}],"at":"2020-01-02T03:04:05.5Z","flag":false},{"flag":false}]"#
        );
        assert_eq!(
            to_string(&v, &LIST, false),
            r#"[{"name":"<b>","inner":[{"short":true},{"short":false}],"at":"2020-01-02T03:04:05.5Z","flag":false},{"flag":false}]"#
        );
        assert_eq!(
            decode_text(r#"[{"inner":[{"short":"yes"}]}]"#, &LIST).unwrap_err(),
            "json: cannot unmarshal string into Go struct field Inner.inner.short of type bool"
        );
        assert_eq!(
            decode_text(r#"[{"n":1.5}]"#, &LIST).unwrap_err(),
            "json: cannot unmarshal number 1.5 into Go struct field Outer.n of type int"
        );
        assert_eq!(
            decode_text("[5]", &LIST).unwrap_err(),
            "json: cannot unmarshal number into Go value of type pkg.Outer"
        );
        assert_eq!(
            decode_text("{}", &LIST).unwrap_err(),
            "json: cannot unmarshal object into Go value of type []pkg.Outer"
        );
        assert_eq!(decode_text("[1,", &LIST).unwrap_err(), "unexpected end of JSON input");
        let (partial, error) = decode(&gojson::parse(r#"{"name":5,"flag":true}"#).unwrap(), &Kind::Struct(&OUTER));
        assert!(error.is_some());
        assert_eq!(partial.unwrap().field(&OUTER, "flag"), Some(&Go::Bool(true)));
    }

    #[test]
    fn times_are_gos() {
        assert_eq!(rfc3339("2024-01-01T10:00:00+02:00").as_deref(), Some("2024-01-01T10:00:00+02:00"));
        assert_eq!(rfc3339("2024-01-01T10:00:00.120Z").as_deref(), Some("2024-01-01T10:00:00.12Z"));
        assert_eq!(rfc3339("2024-01-01T10:00:00.000-00:00").as_deref(), Some("2024-01-01T10:00:00Z"));
        assert_eq!(rfc3339("2024-02-30T10:00:00Z"), None);
        assert_eq!(rfc3339("2024-01-01 10:00:00Z"), None);
        assert_eq!(unix_time(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}

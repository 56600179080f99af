//! A template's cards as Argo's googlechat service sends them: the rendered YAML (or JSON) is
//! read by `sigs.k8s.io/yaml` into Go's `[]chat.Card` (`googlechat.cards`) or
//! `[]chat.GoogleAppsCardV1Card` (`googlechat.cardsV2`) of google.golang.org/api's Chat API,
//! then written back by `json.Marshal`. What that does to the cards, and so to what Google
//! receives, is done here the same way, over the layout of those Go types (`chat_schema.json`,
//! generated from them by `schema/gen.go`):
//!
//! - a scalar written for a string field becomes its text, as sigs.k8s.io/yaml turns it
//!   (`title: 12` is `"12"`, `title: yes` is `"true"`, `title: 1.10` is `"1.1"`: floats in
//!   `float32` precision);
//! - fields are matched to the JSON names of the Go fields exactly, else ignoring case (a
//!   `Header` and a `header` fill the same header); unknown fields are dropped;
//! - a value of the wrong type fails with Go's message (`json: cannot unmarshal string into Go
//!   struct field GoogleAppsCardV1Section.sections.collapsible of type bool`; the first one in
//!   the order Go decodes, except that an error inside an `Image`, a `Color` or an
//!   `ImageCropStyle`, which decode themselves, stops the decoding at once, as in Go);
//! - empty values (`""`, `false`, `0`, empty lists, absent objects) are left out, fields are
//!   written in the Go types' order (alphabetical), `valueMsEpoch` as a string, numbers and
//!   strings as Go writes them.

use std::collections::HashMap;

use serde_json::Value as Json;

use crate::yaml::Node;
use aviary_plugin_sdk::gojson::{self, Value};

/// The layout of the Chat API's card types: `chat_schema.json`.
pub const SCHEMA_JSON: &str = include_str!("chat_schema.json");

/// One field of a struct type: its JSON name, its type, whether it has the `,string` option.
#[derive(Debug, Clone)]
struct Field {
    json: String,
    ty: String,
    string: bool,
}

/// One struct type of the layout.
#[derive(Debug, Clone)]
struct Struct {
    fields: Vec<Field>,
    unmarshaler: bool,
}

/// The layout of the Chat API's card types.
#[derive(Debug, Clone)]
pub struct Schema {
    types: HashMap<String, Struct>,
}

/// A type of the layout, from its text (`*Image`, `[]*Section`, `string`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty<'a> {
    Str,
    Bool,
    Int,
    Float,
    Ptr(&'a str),
    Slice(&'a str),
    Struct(&'a str),
}

fn ty(text: &str) -> Ty<'_> {
    if let Some(inner) = text.strip_prefix('*') {
        return Ty::Ptr(inner);
    }
    if let Some(inner) = text.strip_prefix("[]") {
        return Ty::Slice(inner);
    }
    match text {
        "string" => Ty::Str,
        "bool" => Ty::Bool,
        "int64" => Ty::Int,
        "float64" => Ty::Float,
        name => Ty::Struct(name),
    }
}

/// Go's name of a type of the layout, as its messages print it (`[]*chat.Section`).
fn go_name(text: &str) -> String {
    match ty(text) {
        Ty::Ptr(inner) => format!("*{}", go_name(inner)),
        Ty::Slice(inner) => format!("[]{}", go_name(inner)),
        Ty::Struct(name) => format!("chat.{name}"),
        _ => text.to_string(),
    }
}

impl Schema {
    /// The layout of `chat_schema.json`.
    pub fn load() -> Schema {
        Schema::parse(SCHEMA_JSON).expect("chat_schema.json is valid")
    }

    /// A layout from its JSON.
    fn parse(text: &str) -> Result<Schema, String> {
        let json: Json = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let object = json.as_object().ok_or("not an object")?;
        let mut types = HashMap::new();
        for (name, entry) in object {
            // A struct without fields (`GoogleAppsCardV1Divider`) has `"fields": null`.
            let fields = entry
                .get("fields")
                .and_then(Json::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|f| {
                    let parts: Vec<&str> = f.as_array().into_iter().flatten().filter_map(Json::as_str).collect();
                    match parts.as_slice() {
                        [json, ty] => Ok(Field { json: json.to_string(), ty: ty.to_string(), string: false }),
                        [json, ty, "string"] => Ok(Field { json: json.to_string(), ty: ty.to_string(), string: true }),
                        _ => Err(format!("{name}: bad field {f}")),
                    }
                })
                .collect::<Result<_, String>>()?;
            let unmarshaler = entry.get("unmarshaler").and_then(Json::as_bool).unwrap_or(false);
            types.insert(name.clone(), Struct { fields, unmarshaler });
        }
        Ok(Schema { types })
    }

    fn get(&self, name: &str) -> &Struct {
        self.types.get(name).unwrap_or_else(|| panic!("chat_schema.json has no type {name}"))
    }

    /// The type behind pointers.
    fn deref<'a>(&self, mut text: &'a str) -> &'a str {
        while let Ty::Ptr(inner) = ty(text) {
            text = inner;
        }
        text
    }

    /// Whether a type (behind pointers) decodes itself (`UnmarshalJSON`).
    fn is_unmarshaler(&self, text: &str) -> bool {
        matches!(ty(self.deref(text)), Ty::Struct(name) if self.get(name).unmarshaler)
    }
}

/// Go's field lookup: the field named exactly `key`, else one whose name equals it ignoring case.
fn find_field<'a>(fields: impl Iterator<Item = (usize, &'a Field)> + Clone, key: &str) -> Option<(usize, &'a Field)> {
    fields
        .clone()
        .find(|(_, f)| f.json == key)
        .or_else(|| fields.clone().find(|(_, f)| f.json.to_lowercase() == key.to_lowercase()))
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 32)`: what sigs.k8s.io/yaml writes for a float given
/// to a string field or used as a key.
pub fn format_g32(f: f64) -> String {
    let f = f as f32;
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let e = format!("{f:e}");
    let (mantissa, exponent) = e.split_once('e').unwrap_or((&e, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    if !(-4..6).contains(&exponent) {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        let esign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{first}{rest}e{esign}{:02}", exponent.abs());
    }
    // Plain notation with the shortest digits.
    let point = exponent + 1;
    if point <= 0 {
        format!("{sign}0.{}{digits}", "0".repeat((-point) as usize))
    } else if (point as usize) >= digits.len() {
        format!("{sign}{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        let (int, frac) = digits.split_at(point as usize);
        format!("{sign}{int}.{frac}")
    }
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)` for the values `json.Marshal` refuses.
fn unsupported(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f > 0.0 {
        "+Inf".into()
    } else {
        "-Inf".into()
    }
}

/// A JSON number's text for a float, as `json.Marshal` writes it; a NaN or an infinity is kept
/// as Go prints it, for [`first_unsupported`] to report.
fn float_text(f: f64) -> String {
    if f.is_finite() {
        let mut s = String::new();
        gojson::write_float(&mut s, f);
        s
    } else {
        unsupported(f)
    }
}

/// The first NaN or infinity `json.Marshal` meets in a converted value (keys sorted).
pub(crate) fn first_unsupported(value: &Value) -> Option<String> {
    match value {
        Value::Number(text) if matches!(text.as_str(), "NaN" | "+Inf" | "-Inf") => Some(text.clone()),
        Value::Array(items) => items.iter().find_map(first_unsupported),
        Value::Object(members) => members.iter().find_map(|(_, v)| first_unsupported(v)),
        _ => None,
    }
}

/// A Go-syntax rendering of a YAML value for sigs.k8s.io/yaml's key error (`%+#v`), close to Go's.
fn go_syntax(node: &Node) -> String {
    match node {
        Node::Null => "<nil>".into(),
        Node::Bool(b) => b.to_string(),
        Node::Int(i) => i.to_string(),
        Node::Uint(u) => format!("0x{u:x}"),
        Node::Float(f) => f.to_string(),
        Node::Str(s) => format!("{s:?}"),
        Node::Seq(_) => "[]interface {}{...}".into(),
        Node::Map(_) => "map[interface {}]interface {}{...}".into(),
    }
}

/// sigs.k8s.io/yaml's `convertToJSONableObject` and `json.Marshal`: a YAML node as the JSON
/// value it is turned into for the Go type `target` (`None`: no type, as inside a type that
/// decodes itself). Objects come out with their keys sorted and unique.
pub(crate) fn jsonable(schema: &Schema, node: &Node, target: Option<&str>) -> Result<Value, String> {
    let target = target.filter(|t| !schema.is_unmarshaler(t)).map(|t| schema.deref(t));
    match node {
        Node::Map(entries) => {
            let mut members: std::collections::BTreeMap<String, Value> = std::collections::BTreeMap::new();
            for (key, value) in entries {
                let key = match key {
                    Node::Str(s) => s.clone(),
                    Node::Int(i) => i.to_string(),
                    Node::Float(f) => match format_g32(*f).as_str() {
                        "+Inf" => ".inf".into(),
                        "-Inf" => "-.inf".into(),
                        "NaN" => ".nan".into(),
                        s => s.to_string(),
                    },
                    Node::Bool(b) => b.to_string(),
                    other => {
                        let kind = match other {
                            Node::Null => "%!s(<nil>)",
                            Node::Uint(_) => "uint64",
                            _ => "interface {}",
                        };
                        return Err(format!(
                            "unsupported map key of type: {kind}, key: {}, value: {}",
                            go_syntax(other),
                            go_syntax(value)
                        ));
                    }
                };
                let field_type = match target.map(ty) {
                    Some(Ty::Struct(name)) => {
                        find_field(schema.get(name).fields.iter().enumerate(), &key).map(|(_, f)| f.ty.as_str())
                    }
                    _ => None,
                };
                members.insert(key, jsonable(schema, value, field_type)?);
            }
            Ok(Value::Object(members.into_iter().collect()))
        }
        Node::Seq(items) => {
            let elem = match target.map(ty) {
                Some(Ty::Slice(elem)) => Some(elem),
                _ => None,
            };
            Ok(Value::Array(items.iter().map(|item| jsonable(schema, item, elem)).collect::<Result<_, _>>()?))
        }
        scalar if target.map(ty) == Some(Ty::Str) => Ok(match scalar {
            Node::Int(i) => Value::String(i.to_string()),
            Node::Uint(u) => Value::String(u.to_string()),
            Node::Float(f) => Value::String(format_g32(*f)),
            Node::Bool(b) => Value::String(b.to_string()),
            Node::Str(s) => Value::String(s.clone()),
            _ => Value::Null,
        }),
        Node::Null => Ok(Value::Null),
        Node::Bool(b) => Ok(Value::Bool(*b)),
        Node::Int(i) => Ok(Value::Number(i.to_string())),
        Node::Uint(u) => Ok(Value::Number(u.to_string())),
        Node::Float(f) => Ok(Value::Number(float_text(*f))),
        Node::Str(s) => Ok(Value::String(s.clone())),
    }
}

/// A value of a Go type of the layout, as decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum Typed {
    /// A `string`.
    Str(String),
    /// A `bool`.
    Bool(bool),
    /// An `int64`.
    Int(i64),
    /// A `float64`.
    Float(f64),
    /// A pointer: nil or what it points to.
    Ptr(Option<Box<Typed>>),
    /// A slice: nil or its elements.
    Slice(Option<Vec<Typed>>),
    /// A struct: its fields in the layout's order.
    Struct(Vec<Typed>),
}

/// Why decoding failed: Go's `UnmarshalTypeError` (which gets the struct and field path of where
/// it happened), or another error as it is.
#[derive(Debug, Clone, PartialEq)]
enum DecodeError {
    Type { value: String, ty: String, strukt: Option<String>, field: String },
    Plain(String),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Type { value, ty, strukt: Some(strukt), field } => {
                write!(f, "json: cannot unmarshal {value} into Go struct field {strukt}.{field} of type {ty}")
            }
            DecodeError::Type { value, ty, strukt: None, field } if !field.is_empty() => {
                write!(f, "json: cannot unmarshal {value} into Go struct field .{field} of type {ty}")
            }
            DecodeError::Type { value, ty, .. } => {
                write!(f, "json: cannot unmarshal {value} into Go value of type {ty}")
            }
            DecodeError::Plain(message) => f.write_str(message),
        }
    }
}

/// Go's `encoding/json` decoder over the layout: errors of the wrong type are saved (the first
/// is the result), an error of a type that decodes itself stops it (an `Err`).
struct Decoder<'s> {
    schema: &'s Schema,
    path: Vec<String>,
    strukt: Option<String>,
    saved: Option<DecodeError>,
}

fn zero(schema: &Schema, text: &str) -> Typed {
    match ty(text) {
        Ty::Str => Typed::Str(String::new()),
        Ty::Bool => Typed::Bool(false),
        Ty::Int => Typed::Int(0),
        Ty::Float => Typed::Float(0.0),
        Ty::Ptr(_) => Typed::Ptr(None),
        Ty::Slice(_) => Typed::Slice(None),
        Ty::Struct(name) => Typed::Struct(schema.get(name).fields.iter().map(|f| zero(schema, &f.ty)).collect()),
    }
}

/// The Go type of the struct a type that decodes itself decodes into (its float fields as
/// `gensupport.JSONFloat64`, the rest through an embedded `*chat.NoMethod`).
fn unmarshaler_struct(def: &Struct) -> String {
    let mut parts: Vec<String> = def
        .fields
        .iter()
        .filter(|f| f.ty == "float64")
        .map(|f| {
            let mut go = f.json.clone();
            go[..1].make_ascii_uppercase();
            format!("{go} gensupport.JSONFloat64 \"json:\\\"{}\\\"\"", f.json)
        })
        .collect();
    parts.push("*chat.NoMethod".into());
    format!("struct {{ {} }}", parts.join("; "))
}

impl<'s> Decoder<'s> {
    fn new(schema: &'s Schema) -> Self {
        Decoder { schema, path: Vec::new(), strukt: None, saved: None }
    }

    fn type_error(&self, value: impl Into<String>, ty: impl Into<String>) -> DecodeError {
        DecodeError::Type {
            value: value.into(),
            ty: ty.into(),
            strukt: self.strukt.clone(),
            field: self.path.join("."),
        }
    }

    fn save(&mut self, error: DecodeError) {
        if self.saved.is_none() {
            self.saved = Some(error);
        }
    }

    /// Go's `addErrorContext` for an error coming out of a nested decoding.
    fn with_context(&self, error: DecodeError) -> DecodeError {
        match error {
            DecodeError::Type { value, ty, field, .. } if self.strukt.is_some() || !self.path.is_empty() => {
                let mut path = self.path.clone();
                if !field.is_empty() {
                    path.push(field);
                }
                DecodeError::Type { value, ty, strukt: self.strukt.clone(), field: path.join(".") }
            }
            other => other,
        }
    }

    fn decode(&mut self, value: &Value, text: &str, slot: &mut Typed) -> Result<(), DecodeError> {
        let schema = self.schema;
        match (ty(text), value) {
            (Ty::Ptr(_), Value::Null) => *slot = Typed::Ptr(None),
            (Ty::Ptr(inner), _) => {
                if !matches!(slot, Typed::Ptr(Some(_))) {
                    *slot = Typed::Ptr(Some(Box::new(zero(schema, inner))));
                }
                let Typed::Ptr(Some(target)) = slot else { unreachable!() };
                if schema.is_unmarshaler(inner) {
                    return self.unmarshal_itself(value, schema.deref(inner), target);
                }
                return self.decode(value, inner, target);
            }
            (Ty::Slice(_), Value::Null) => *slot = Typed::Slice(None),
            (Ty::Slice(elem), Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    let mut e = zero(schema, elem);
                    self.decode(item, elem, &mut e)?;
                    out.push(e);
                }
                *slot = Typed::Slice(Some(out));
            }
            (Ty::Struct(_), Value::Null) => {}
            (Ty::Struct(name), Value::Object(members)) => {
                let def = schema.get(name);
                let Typed::Struct(fields) = slot else { unreachable!() };
                for (key, v) in members {
                    let Some((i, field)) = find_field(def.fields.iter().enumerate(), key) else { continue };
                    let (saved_strukt, depth) = (self.strukt.replace(name.to_string()), self.path.len());
                    self.path.push(field.json.clone());
                    let result = if field.string {
                        self.decode_string_option(v, &field.ty, &mut fields[i])
                    } else {
                        self.decode(v, &field.ty, &mut fields[i])
                    };
                    result?;
                    self.strukt = saved_strukt;
                    self.path.truncate(depth);
                }
            }
            (_, Value::Null) => {}
            (Ty::Str, Value::String(s)) => *slot = Typed::Str(s.clone()),
            (Ty::Bool, Value::Bool(b)) => *slot = Typed::Bool(*b),
            (Ty::Int, Value::Number(n)) => match n.parse::<i64>() {
                Ok(i) => *slot = Typed::Int(i),
                Err(_) => self.save(self.type_error(format!("number {n}"), "int64")),
            },
            (Ty::Float, Value::Number(n)) => match gojson::number(n) {
                Ok(f) => *slot = Typed::Float(f),
                Err(_) => self.save(self.type_error(format!("number {n}"), "float64")),
            },
            (_, other) => self.save(self.type_error(other.kind(), go_name(text))),
        }
        Ok(())
    }

    /// An `int64` field with the `,string` option (`valueMsEpoch`): a JSON string holding the
    /// number.
    fn decode_string_option(&mut self, value: &Value, text: &str, slot: &mut Typed) -> Result<(), DecodeError> {
        let go = go_name(text);
        match value {
            Value::Null => Ok(()),
            Value::String(s) if s == "null" => Ok(()),
            Value::String(s) if s.is_empty() => {
                self.save(DecodeError::Plain(format!(
                    "json: invalid use of ,string struct tag, trying to unmarshal \"\" into {go}"
                )));
                Ok(())
            }
            Value::String(s) => match gojson::parse(s) {
                Ok(number @ Value::Number(_)) => self.decode(&number, text, slot),
                Ok(Value::Bool(_)) => {
                    self.save(DecodeError::Plain(format!(
                        "json: invalid use of ,string struct tag, trying to unmarshal {s:?} into {go}"
                    )));
                    Ok(())
                }
                _ => Err(DecodeError::Plain(format!(
                    "json: invalid use of ,string struct tag, trying to unmarshal {s:?} into {go}"
                ))),
            },
            _ => {
                self.save(DecodeError::Plain(format!(
                    "json: invalid use of ,string struct tag, trying to unmarshal unquoted value into {go}"
                )));
                Ok(())
            }
        }
    }

    /// A type with its own `UnmarshalJSON` (`Image`, `Color`, `ImageCropStyle`): its float fields
    /// are `gensupport.JSONFloat64` (a number, `null`, or "NaN", "Infinity", "-Infinity"), the
    /// others decoded by a nested `json.Unmarshal`; any error ends the whole decoding.
    fn unmarshal_itself(&mut self, value: &Value, name: &str, slot: &mut Typed) -> Result<(), DecodeError> {
        let def = self.schema.get(name);
        let mut inner = Decoder::new(self.schema);
        let result = match value {
            Value::Object(members) => {
                let Typed::Struct(fields) = slot else { unreachable!() };
                let floats = def.fields.iter().enumerate().filter(|(_, f)| f.ty == "float64");
                let others = def.fields.iter().enumerate().filter(|(_, f)| f.ty != "float64");
                let mut result = Ok(());
                for (key, v) in members {
                    if let Some((i, _)) = find_field(floats.clone(), key) {
                        let bad = "google.golang.org/api/internal: data not float or string";
                        let f = match v {
                            Value::Null => Ok(0.0),
                            Value::Number(n) => gojson::number(n).map_err(|_| DecodeError::Plain(bad.into())),
                            Value::String(s) => match s.as_str() {
                                "NaN" => Ok(f64::NAN),
                                "Infinity" => Ok(f64::INFINITY),
                                "-Infinity" => Ok(f64::NEG_INFINITY),
                                _ => Err(DecodeError::Plain(format!(
                                    "google.golang.org/api/internal: bad float string {s:?}"
                                ))),
                            },
                            _ => Err(DecodeError::Plain(bad.into())),
                        };
                        match f {
                            Ok(f) => fields[i] = Typed::Float(f),
                            Err(e) => {
                                result = Err(e);
                                break;
                            }
                        }
                    } else if let Some((i, field)) = find_field(others.clone(), key) {
                        inner.strukt = Some(String::new());
                        inner.path = vec!["NoMethod".into(), field.json.clone()];
                        if let Err(e) = inner.decode(v, &field.ty, &mut fields[i]) {
                            result = Err(e);
                            break;
                        }
                    }
                }
                result
            }
            other => {
                inner.save(DecodeError::Type {
                    value: other.kind().into(),
                    ty: unmarshaler_struct(def),
                    strukt: None,
                    field: String::new(),
                });
                Ok(())
            }
        };
        match result.err().or(inner.saved) {
            Some(error) => Err(self.with_context(error)),
            None => Ok(()),
        }
    }
}

/// Decodes `value` into the Go slice type `[]<element>` (`element` a struct of the layout), as
/// `json.Unmarshal` does: `None` for `null`.
fn decode_cards(schema: &Schema, value: &Value, element: &str) -> Result<Option<Vec<Typed>>, DecodeError> {
    let text = format!("[]{element}");
    let mut slot = Typed::Slice(None);
    let mut decoder = Decoder::new(schema);
    decoder.decode(value, &text, &mut slot)?;
    if let Some(error) = decoder.saved {
        return Err(error);
    }
    let Typed::Slice(cards) = slot else { unreachable!() };
    Ok(cards)
}

/// Reads rendered cards text as Argo does (`yaml.Unmarshal(text, &[]element)`): `None` for
/// nothing or `null`; errors in sigs.k8s.io/yaml's words.
pub fn read_cards(schema: &Schema, text: &str, element: &str) -> Result<Option<Vec<Typed>>, String> {
    let node = crate::yaml::parse(text).map_err(|e| format!("error converting YAML to JSON: {e}"))?;
    let target = format!("[]{element}");
    let value = jsonable(schema, &node, Some(&target)).map_err(|e| format!("error converting YAML to JSON: {e}"))?;
    if let Some(bad) = first_unsupported(&value) {
        return Err(format!("error converting YAML to JSON: json: unsupported value: {bad}"));
    }
    decode_cards(schema, &value, element).map_err(|e| format!("error unmarshaling JSON: while decoding JSON: {e}"))
}

fn is_empty(value: &Typed) -> bool {
    match value {
        Typed::Str(s) => s.is_empty(),
        Typed::Bool(b) => !b,
        Typed::Int(i) => *i == 0,
        Typed::Float(f) => *f == 0.0,
        Typed::Ptr(p) => p.is_none(),
        Typed::Slice(s) => s.as_ref().is_none_or(Vec::is_empty),
        Typed::Struct(_) => false,
    }
}

/// Writes a value of type `text` as Go's `json.Marshal` does through the Chat types'
/// `MarshalJSON`: fields in order, empty ones left out. An error is Go's, wrapped in the
/// `MarshalJSON` calls it went through.
pub fn write_typed(schema: &Schema, out: &mut String, value: &Typed, text: &str) -> Result<(), String> {
    match (ty(text), value) {
        (_, Typed::Str(s)) => gojson::write_string(out, s),
        (_, Typed::Bool(b)) => out.push_str(if *b { "true" } else { "false" }),
        (_, Typed::Int(i)) => out.push_str(&i.to_string()),
        (_, Typed::Float(f)) if !f.is_finite() => return Err(format!("json: unsupported value: {}", unsupported(*f))),
        (_, Typed::Float(f)) => gojson::write_float(out, *f),
        (_, Typed::Ptr(None)) | (_, Typed::Slice(None)) => out.push_str("null"),
        (Ty::Ptr(inner), Typed::Ptr(Some(target))) => {
            let name = schema.deref(inner);
            write_typed(schema, out, target, inner)
                .map_err(|e| format!("json: error calling MarshalJSON for type *chat.{name}: {e}"))?;
        }
        (Ty::Slice(elem), Typed::Slice(Some(items))) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_typed(schema, out, item, elem)?;
            }
            out.push(']');
        }
        (Ty::Struct(name), Typed::Struct(fields)) => {
            out.push('{');
            let mut first = true;
            for (field, value) in schema.get(name).fields.iter().zip(fields) {
                if is_empty(value) {
                    continue;
                }
                if !first {
                    out.push(',');
                }
                first = false;
                gojson::write_string(out, &field.json);
                out.push(':');
                if field.string
                    && let Typed::Int(i) = value
                {
                    out.push_str(&format!("\"{i}\""));
                } else {
                    write_typed(schema, out, value, &field.ty)?;
                }
            }
            out.push('}');
        }
        (t, v) => return Err(format!("internal: {v:?} is not a {t:?}")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_loads_and_knows_the_card_types() {
        let schema = Schema::load();
        assert_eq!(schema.types.len(), 62);
        let card = schema.get("Card");
        assert_eq!(
            card.fields.iter().map(|f| f.json.as_str()).collect::<Vec<_>>(),
            ["cardActions", "header", "name", "sections"]
        );
        assert!(schema.get("Image").unmarshaler && schema.get("Color").unmarshaler);
        assert!(!schema.get("GoogleAppsCardV1Card").unmarshaler);
        let epoch =
            schema.get("GoogleAppsCardV1DateTimePicker").fields.iter().find(|f| f.json == "valueMsEpoch").unwrap();
        assert!(epoch.string && epoch.ty == "int64");
        // Every type a field names is in the layout.
        for def in schema.types.values() {
            for f in &def.fields {
                if let Ty::Struct(name) = ty(schema.deref(f.ty.trim_start_matches("[]"))) {
                    schema.get(name);
                }
            }
        }
        assert_eq!(go_name("[]*Section"), "[]*chat.Section");
        assert_eq!(
            unmarshaler_struct(schema.get("Image")),
            r#"struct { AspectRatio gensupport.JSONFloat64 "json:\"aspectRatio\""; *chat.NoMethod }"#
        );
    }

    #[test]
    fn floats_for_strings_are_formatted_as_gos_g_in_float32() {
        let cases = [
            (1.1, "1.1"),
            (1.23456789012345, "1.2345679"),
            (1.2345678901234568e23, "1.2345679e+23"),
            (1.5e-7, "1.5e-07"),
            (-9.223372036854776e18, "-9.223372e+18"),
            (1e21, "1e+21"),
            (1000.0, "1000"),
            (1234567.0, "1.234567e+06"),
            (123456.7, "123456.7"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (8.0, "8"),
            (0.5, "0.5"),
            (-500.0, "-500"),
            (0.0, "0"),
            (1.8446744073709552e19, "1.8446744e+19"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
            (1e300, "+Inf"),
        ];
        for (f, expected) in cases {
            assert_eq!(format_g32(f), expected, "{f}");
        }
    }
}

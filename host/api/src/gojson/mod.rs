//! Go's `encoding/json`, for the two things Argo hashes (a pod template and a canary's steps) and
//! the ones it writes whole (a Rollout's spec, when it records a new revision; an AnalysisRun's
//! spec, when it creates the run).
//!
//! Argo's `rollouts-pod-template-hash` is FNV-32a over `json.Marshal(&rollout.Spec.Template)`,
//! and `status.currentStepHash` over `json.Marshal(rollout.Spec.Strategy.Canary.Steps)`, with the
//! Go structs of k8s.io/api and argo-rollouts at the versions Argo is built with. Go writes
//! struct fields in declaration order (not alphabetically), drops `omitempty` fields only when
//! they are empty *and not structs*, always writes fields without `omitempty` (`"resources":{}`,
//! `"containers":null`), writes quantities in canonical form and escapes `<`, `>` and `&`. To
//! compute the same hash, and so recognise Argo's ReplicaSets and steps as its own (and leave
//! Aviary's recognisable by Argo), Aviary writes the same bytes.
//!
//! The Go side of this is data, not code: `layout.json` is generated from the Go types themselves
//! by `tests/argo`'s `golden layout` (reflection over `corev1.PodTemplateSpec` and
//! `[]v1alpha1.CanaryStep` at the versions tests/argo pins; see tests/argo/README.md). This module
//! walks a serde value (the Rust types' JSON) along that layout. The tests compare the hashes
//! with the ones Argo's own functions compute for the same manifests.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;

/// The layout's roots: what is hashed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Root {
    /// `corev1.PodTemplateSpec` (k8s.io/api).
    PodTemplateSpec,
    /// `[]v1alpha1.CanaryStep` (argo-rollouts).
    CanarySteps,
    /// `v1alpha1.RolloutSpec` (argo-rollouts): what Argo writes back when it updates a Rollout.
    RolloutSpec,
    /// `v1alpha1.AnalysisRunSpec` (argo-rollouts): what Argo writes when it creates an
    /// AnalysisRun (a job metric's Job spec with Go's `"metadata":{}` and `"resources":{}`).
    AnalysisRunSpec,
}

/// Why a value could not be written as Go would.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot write {path} as Go's encoding/json would: {reason}")]
pub struct GoJsonError {
    /// The JSON path of the value.
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

#[derive(Debug, Deserialize)]
struct Layout {
    roots: HashMap<String, String>,
    types: Vec<TypeEntry>,
}

#[derive(Debug, Deserialize)]
struct TypeEntry {
    name: String,
    kind: String,
    #[serde(default)]
    elem: Option<String>,
    #[serde(default)]
    fields: Vec<Field>,
    #[serde(default)]
    underlying: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Field {
    json: String,
    #[serde(rename = "type")]
    type_: String,
    #[serde(default)]
    omitempty: bool,
    #[serde(default)]
    omitzero: bool,
    #[serde(default)]
    inline: bool,
}

struct Types {
    roots: HashMap<String, String>,
    by_name: HashMap<String, TypeEntry>,
}

fn types() -> Result<&'static Types, GoJsonError> {
    static TYPES: OnceLock<Result<Types, String>> = OnceLock::new();
    TYPES
        .get_or_init(|| {
            let layout: Layout = serde_json::from_str(include_str!("layout.json")).map_err(|e| e.to_string())?;
            let by_name = layout.types.into_iter().map(|t| (t.name.clone(), t)).collect();
            Ok(Types { roots: layout.roots, by_name })
        })
        .as_ref()
        .map_err(|reason| GoJsonError { path: "layout.json".into(), reason: reason.clone() })
}

/// Writes `value` (the JSON of the Rust type) as Go's `json.Marshal` writes the root type.
pub fn encode(root: Root, value: &Value) -> Result<String, GoJsonError> {
    let types = types()?;
    let key = match root {
        Root::PodTemplateSpec => "PodTemplateSpec",
        Root::CanarySteps => "CanarySteps",
        Root::RolloutSpec => "RolloutSpec",
        Root::AnalysisRunSpec => "AnalysisRunSpec",
    };
    let name = types.roots.get(key).ok_or_else(|| err(&Path::Root, format!("layout.json has no root {key}")))?;
    let mut out = String::new();
    let mut w = Writer { types, out: &mut out };
    w.value(name, Some(value), &Path::Root)?;
    Ok(out)
}

fn err(path: &Path<'_>, reason: String) -> GoJsonError {
    GoJsonError { path: path.to_string(), reason }
}

/// Where in the value the writer is, for an error: built as the walk descends and written out
/// only when an error names it (formatting each field's path eagerly was most of a pod
/// template hash's allocations, computed on every reconcile).
enum Path<'a> {
    Root,
    Field(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Path::Root => f.write_str("$"),
            Path::Field(parent, name) => write!(f, "{parent}.{name}"),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

struct Writer<'a> {
    types: &'static Types,
    out: &'a mut String,
}

impl Writer<'_> {
    fn entry(&self, name: &str, path: &Path<'_>) -> Result<&'static TypeEntry, GoJsonError> {
        self.types.by_name.get(name).ok_or_else(|| err(path, format!("type {name} is not in layout.json")))
    }

    /// Whether Go's `omitempty` drops a field of type `name` holding `v` (absent = Go's zero value).
    fn is_empty(&self, name: &str, v: Option<&Value>, path: &Path<'_>) -> Result<bool, GoJsonError> {
        let t = self.entry(name, path)?;
        let v = v.filter(|v| !v.is_null());
        Ok(match t.kind.as_str() {
            "pointer" => v.is_none(),
            "struct" => false,
            "marshaler" => match t.underlying.as_deref() {
                Some("struct") => false,
                _ => v.is_none_or(|v| v.as_array().is_some_and(Vec::is_empty) || v.as_str() == Some("")),
            },
            "slice" | "bytes" => {
                v.is_none_or(|v| v.as_array().is_some_and(Vec::is_empty) || v.as_str().is_some_and(str::is_empty))
            }
            "map" => v.is_none_or(|v| v.as_object().is_some_and(serde_json::Map::is_empty)),
            "string" => v.is_none_or(|v| v.as_str() == Some("")),
            "bool" => v.is_none_or(|v| v.as_bool() == Some(false)),
            "int" | "uint" | "float" => v.is_none_or(|v| v.as_f64() == Some(0.0)),
            other => return Err(err(path, format!("unknown kind {other}"))),
        })
    }

    fn value(&mut self, name: &str, v: Option<&Value>, path: &Path<'_>) -> Result<(), GoJsonError> {
        let t = self.entry(name, path)?;
        let v = v.filter(|v| !v.is_null());
        match t.kind.as_str() {
            "pointer" => match v {
                None => self.out.push_str("null"),
                Some(_) => {
                    let elem = t.elem.as_deref().ok_or_else(|| err(path, format!("pointer {name} has no elem")))?;
                    self.value(elem, v, path)?;
                }
            },
            "struct" => {
                let object = match v {
                    None => None,
                    Some(Value::Object(o)) => Some(o),
                    Some(other) => return Err(err(path, format!("expected an object for {name}, found {other}"))),
                };
                self.out.push('{');
                let mut first = true;
                self.fields(name, object, path, &mut first)?;
                self.out.push('}');
            }
            "marshaler" => self.marshaler(name, v, path)?,
            "slice" => match v {
                None => self.out.push_str("null"),
                Some(Value::Array(items)) => {
                    let elem = t.elem.as_deref().ok_or_else(|| err(path, format!("slice {name} has no elem")))?;
                    self.out.push('[');
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            self.out.push(',');
                        }
                        self.value(elem, Some(item), &Path::Index(path, i))?;
                    }
                    self.out.push(']');
                }
                Some(other) => return Err(err(path, format!("expected an array for {name}, found {other}"))),
            },
            "bytes" => match v {
                None => self.out.push_str("null"),
                Some(Value::String(s)) => write_string(self.out, s),
                Some(other) => return Err(err(path, format!("expected base64 text, found {other}"))),
            },
            "map" => match v {
                None => self.out.push_str("null"),
                Some(Value::Object(map)) => {
                    let elem = t.elem.as_deref().ok_or_else(|| err(path, format!("map {name} has no elem")))?;
                    // Go sorts map keys; serde_json's map is sorted by the same byte order.
                    self.out.push('{');
                    for (i, (k, item)) in map.iter().enumerate() {
                        if i > 0 {
                            self.out.push(',');
                        }
                        write_string(self.out, k);
                        self.out.push(':');
                        self.value(elem, Some(item), &Path::Field(path, k))?;
                    }
                    self.out.push('}');
                }
                Some(other) => return Err(err(path, format!("expected an object for {name}, found {other}"))),
            },
            "string" => match v {
                None => self.out.push_str("\"\""),
                Some(Value::String(s)) => write_string(self.out, s),
                Some(other) => return Err(err(path, format!("expected a string, found {other}"))),
            },
            "bool" => match v {
                None => self.out.push_str("false"),
                Some(Value::Bool(b)) => self.out.push_str(if *b { "true" } else { "false" }),
                Some(other) => return Err(err(path, format!("expected a bool, found {other}"))),
            },
            "int" | "uint" => match v {
                None => self.out.push('0'),
                Some(Value::Number(n)) if n.is_i64() || n.is_u64() => {
                    let _ = write!(self.out, "{n}");
                }
                Some(other) => return Err(err(path, format!("expected an integer, found {other}"))),
            },
            other => return Err(err(path, format!("kind {other} of {name} is not written by this encoder"))),
        }
        Ok(())
    }

    /// The fields of struct `name`, inlined structs spliced in place.
    fn fields(
        &mut self,
        name: &str,
        object: Option<&serde_json::Map<String, Value>>,
        path: &Path<'_>,
        first: &mut bool,
    ) -> Result<(), GoJsonError> {
        let t = self.entry(name, path)?;
        for f in &t.fields {
            if f.inline {
                let inner = match self.entry(&f.type_, path)?.kind.as_str() {
                    "struct" => f.type_.as_str(),
                    _ => return Err(err(path, format!("inline field of {name} is not a struct"))),
                };
                self.fields(inner, object, path, first)?;
                continue;
            }
            let v = object.and_then(|o| o.get(&f.json)).filter(|v| !v.is_null());
            let field_path = Path::Field(path, &f.json);
            if f.omitzero && v.is_none() {
                continue;
            }
            if f.omitempty && self.is_empty(&f.type_, v, &field_path)? {
                continue;
            }
            if !*first {
                self.out.push(',');
            }
            *first = false;
            write_string(self.out, &f.json);
            self.out.push(':');
            self.value(&f.type_, v, &field_path)?;
        }
        Ok(())
    }

    /// Types with their own `MarshalJSON`.
    fn marshaler(&mut self, name: &str, v: Option<&Value>, path: &Path<'_>) -> Result<(), GoJsonError> {
        match name.rsplit('.').next().unwrap_or(name) {
            // Go's zero Quantity writes "0"; others their canonical form.
            "Quantity" => {
                let text = match v {
                    None => "0".to_string(),
                    Some(Value::String(s)) => crate::quantity::canonical(s).unwrap_or_else(|| s.clone()),
                    Some(Value::Number(n)) => {
                        let s = n.to_string();
                        crate::quantity::canonical(&s).unwrap_or(s)
                    }
                    Some(other) => return Err(err(path, format!("expected a quantity, found {other}"))),
                };
                write_string(self.out, &text);
            }
            // An int as a number, a string as a string; the zero value is the int 0.
            "IntOrString" => match v {
                None => self.out.push('0'),
                Some(Value::String(s)) => write_string(self.out, s),
                Some(Value::Number(n)) => {
                    let _ = write!(self.out, "{n}");
                }
                Some(other) => return Err(err(path, format!("expected an int or a string, found {other}"))),
            },
            // RFC 3339 at second precision; the zero time is null.
            "Time" => match v {
                None => self.out.push_str("null"),
                Some(Value::String(s)) => write_string(self.out, s),
                Some(other) => return Err(err(path, format!("expected a time, found {other}"))),
            },
            // Raw JSON, compacted (and HTML-escaped) by encoding/json.
            "RawMessage" | "FieldsV1" => match v {
                None => self.out.push_str("null"),
                Some(raw) => write_compact(self.out, raw),
            },
            other => return Err(err(path, format!("no encoder for the Go marshaler {other}"))),
        }
        Ok(())
    }
}

/// Any JSON value, compact, strings escaped as Go escapes them (object keys sorted).
fn write_compact(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_compact(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                write_compact(out, item);
            }
            out.push('}');
        }
    }
}

/// A string as Go's encoding/json writes it with HTML escaping on (the default of
/// `json.Marshal`): `<`, `>`, `&`, U+2028 and U+2029 as `\u` escapes, `\b \f \n \r \t` short,
/// other control characters as `\u00XX` (lower-case hex).
pub fn write_string(out: &mut String, s: &str) {
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
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_go_escapes_them() {
        let mut out = String::new();
        write_string(&mut out, "a<b>&\"\\\n\t\u{1}\u{2028}é");
        assert_eq!(out, r#""a\u003cb\u003e\u0026\"\\\n\t\u0001\u2028é""#);
    }

    #[test]
    fn an_error_names_the_path_of_the_bad_value() {
        let template = serde_json::json!({"spec": {"containers": [{"name": "a"}, {"name": 5}]}});
        let e = encode(Root::PodTemplateSpec, &template).unwrap_err();
        assert_eq!(e.path, "$.spec.containers[1].name");
        assert!(e.reason.contains("expected a string"), "{}", e.reason);
    }

    #[test]
    fn the_zero_pod_template_is_written_as_go_writes_it() {
        let json = encode(Root::PodTemplateSpec, &serde_json::json!({})).unwrap();
        assert_eq!(json, r#"{"metadata":{},"spec":{"containers":null}}"#);
    }

    #[test]
    fn structs_keep_go_field_order_and_empty_resources() {
        let template = serde_json::json!({
            "metadata": {"labels": {"foo": "bar"}},
            "spec": {"containers": [{"image": "foo/bar", "name": "container-name",
                "resources": {"requests": {"memory": "8192M", "cpu": "0.15"}, "limits": {"cpu": "2000m", "memory": "8192M"}}}]}
        });
        assert_eq!(
            encode(Root::PodTemplateSpec, &template).unwrap(),
            r#"{"metadata":{"labels":{"foo":"bar"}},"spec":{"containers":[{"name":"container-name","image":"foo/bar","resources":{"limits":{"cpu":"2","memory":"8192M"},"requests":{"cpu":"150m","memory":"8192M"}}}]}}"#
        );
    }
}

//! Templates rendered as Argo's notifications engine renders them: Go's `text/template` syntax
//! (the `gotmpl` crate, a port of Go's package) with the part of sprig that notification
//! templates use, over the variables Argo Rollouts gives them (`rollout`, `analysisRuns`,
//! `secrets`).
//!
//! A template (`template.<name>` in the ConfigMap) is YAML: `message` and one block per service
//! (`webhook.<name>.body`, `slack.attachments`, `email.subject`, ...). Every string in it is a
//! template, rendered here; several templates sent for one trigger merge in order, a later one's
//! fields over an earlier one's, as the engine's templaters fill one notification in turn.
//!
//! Not provided (an error naming the function, at render time): `time` values with Go methods
//! (`(call .time.Now).Format ...`) and the sprig functions not listed in [`funcs`].

use std::sync::Arc;

use gotmpl::{FuncMap, TemplateError, Value};
use serde_json::Value as Json;

/// The variables of one notification, as Argo Rollouts builds them (`NewAPIFactorySettings`).
pub fn vars(rollout: &Json, analysis_runs: &Json, secrets: &Json) -> Result<Value, String> {
    let all = serde_json::json!({
        "rollout": rollout,
        "analysisRuns": analysis_runs,
        "secrets": secrets,
    });
    gotmpl::to_value(&all).map_err(|e| e.to_string())
}

/// Renders templates `chosen` (in order) with `vars` into one notification as JSON.
pub fn render(chosen: &[(&str, &Json)], vars: &Value) -> Result<Json, String> {
    let mut out = Json::Object(serde_json::Map::new());
    for (name, template) in chosen {
        let mut rendered = render_value(template, vars).map_err(|e| format!("template {name}: {e}"))?;
        alertmanager_rules(name, template, &mut rendered).map_err(|e| format!("template {name}: {e}"))?;
        merge(&mut out, rendered);
    }
    Ok(out)
}

/// What Argo's Alertmanager templater adds to plain rendering: at least one label is required,
/// a label or annotation that renders empty keeps its text as written, and `alertname` is the
/// template's name unless a label sets it.
fn alertmanager_rules(name: &str, written: &Json, rendered: &mut Json) -> Result<(), String> {
    let Some(block) = rendered.get_mut("alertmanager").and_then(Json::as_object_mut) else { return Ok(()) };
    let original = written.get("alertmanager");
    for field in ["labels", "annotations"] {
        if let Some(Json::Object(map)) = block.get_mut(field) {
            for (k, v) in map.iter_mut() {
                if v.as_str() == Some("")
                    && let Some(text) = original.and_then(|o| o.get(field)).and_then(|m| m.get(k))
                {
                    *v = text.clone();
                }
            }
        }
    }
    let labels = block.entry("labels").or_insert_with(|| Json::Object(serde_json::Map::new()));
    let Json::Object(labels) = labels else { return Err("alertmanager.labels is not a map".into()) };
    if labels.is_empty() {
        return Err("at least one label pair required".into());
    }
    labels.entry("alertname").or_insert_with(|| Json::String(name.to_string()));
    Ok(())
}

fn render_value(value: &Json, vars: &Value) -> Result<Json, String> {
    Ok(match value {
        Json::String(text) => Json::String(render_text(text, vars)?),
        Json::Array(items) => Json::Array(items.iter().map(|v| render_value(v, vars)).collect::<Result<_, _>>()?),
        Json::Object(map) => Json::Object(
            map.iter().map(|(k, v)| Ok((k.clone(), render_value(v, vars)?))).collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// Renders one template text.
pub fn render_text(text: &str, vars: &Value) -> Result<String, String> {
    if !text.contains("{{") {
        return Ok(text.to_string());
    }
    gotmpl::Template::new("notification")
        .funcs(funcs())
        .max_range_iters(100_000)
        .parse(text)
        .and_then(|t| t.execute_to_string(vars))
        .map_err(|e| e.to_string())
}

/// Later objects' keys over earlier ones', recursively.
fn merge(into: &mut Json, from: Json) {
    match (into, from) {
        (Json::Object(a), Json::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (slot, other) => *slot = other,
    }
}

/// A template function, as gotmpl's `FuncMap` holds them.
type TemplateFn = Arc<dyn Fn(&[Value]) -> gotmpl::Result<Value> + Send + Sync>;

fn err(name: &str, detail: impl std::fmt::Display) -> TemplateError {
    TemplateError::Exec(format!("{name}: {detail}"))
}

fn arg<'a>(name: &str, args: &'a [Value], i: usize) -> Result<&'a Value, TemplateError> {
    args.get(i).ok_or_else(|| err(name, format!("wants at least {} arguments", i.saturating_add(1))))
}

/// A number as sprig's `toInt64`/`toFloat64` read one (strings parse; nil is 0).
fn number(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Uint(u) => *u as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::String(s) => s.trim().parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

/// Sprig's integer arithmetic (`add`, `sub`, `mul`, `div`, `mod`): integers in, an integer out.
fn arith(name: &'static str, op: fn(i64, i64) -> Option<i64>) -> impl Fn(&[Value]) -> gotmpl::Result<Value> {
    move |args| {
        let mut it = args.iter().map(|v| number(v) as i64);
        let first = it.next().ok_or_else(|| err(name, "wants arguments"))?;
        it.try_fold(first, op).map(Value::Int).ok_or_else(|| err(name, "overflow or division by zero"))
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::Nil => String::new(),
        Value::String(s) => s.to_string(),
        other => other.to_string(),
    }
}

fn to_json(v: &Value) -> Json {
    match v {
        Value::Nil => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::Uint(u) => Json::from(*u),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::String(s) => Json::String(s.to_string()),
        Value::List(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(m) => Json::Object(m.iter().map(|(k, v)| (k.to_string(), to_json(v))).collect()),
        other => Json::String(other.to_string()),
    }
}

fn string_fn(f: fn(&str) -> String) -> impl Fn(&[Value]) -> gotmpl::Result<Value> {
    move |args| Ok(Value::String(f(&args.last().map(text).unwrap_or_default()).into()))
}

/// The sprig functions provided: arithmetic (`add`, `sub`, `mul`, `div`, `mod`, `max`, `min`,
/// `add1`), strings (`upper`, `lower`, `title`, `trim`, `trimPrefix`, `trimSuffix`, `trunc`,
/// `replace`, `contains`, `hasPrefix`, `hasSuffix`, `quote`, `squote`, `repeat`, `nospace`),
/// lists (`join`, `splitList`, `list`, `first`, `last`), defaults (`default`, `empty`,
/// `coalesce`, `ternary`) and encodings (`toJson`, `toPrettyJson`, `b64enc`, `b64dec`).
pub fn funcs() -> FuncMap {
    let mut f = FuncMap::new();
    let mut add = |name: &str, func: TemplateFn| {
        f.insert(name.into(), func);
    };
    add("add", Arc::new(arith("add", i64::checked_add)));
    add("sub", Arc::new(arith("sub", i64::checked_sub)));
    add("mul", Arc::new(arith("mul", i64::checked_mul)));
    add("div", Arc::new(arith("div", i64::checked_div)));
    add("mod", Arc::new(arith("mod", i64::checked_rem)));
    add("max", Arc::new(arith("max", |a, b| Some(a.max(b)))));
    add("min", Arc::new(arith("min", |a, b| Some(a.min(b)))));
    add("add1", Arc::new(|args: &[Value]| Ok(Value::Int((number(arg("add1", args, 0)?) as i64).saturating_add(1)))));
    add("addf", Arc::new(|args: &[Value]| Ok(Value::Float(args.iter().map(number).sum()))));
    add("upper", Arc::new(string_fn(|s| s.to_uppercase())));
    add("lower", Arc::new(string_fn(|s| s.to_lowercase())));
    add("trim", Arc::new(string_fn(|s| s.trim().to_string())));
    add("nospace", Arc::new(string_fn(|s| s.chars().filter(|c| !c.is_whitespace()).collect())));
    add(
        "title",
        Arc::new(string_fn(|s| {
            s.split(' ')
                .map(|w| {
                    let mut c = w.chars();
                    c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default()
                })
                .collect::<Vec<_>>()
                .join(" ")
        })),
    );
    add(
        "quote",
        Arc::new(|args: &[Value]| {
            Ok(Value::String(args.iter().map(|a| format!("{:?}", text(a))).collect::<Vec<_>>().join(" ").into()))
        }),
    );
    add(
        "squote",
        Arc::new(|args: &[Value]| {
            Ok(Value::String(args.iter().map(|a| format!("'{}'", text(a))).collect::<Vec<_>>().join(" ").into()))
        }),
    );
    add(
        "trimPrefix",
        Arc::new(|args: &[Value]| {
            let (p, s) = (text(arg("trimPrefix", args, 0)?), text(arg("trimPrefix", args, 1)?));
            Ok(Value::String(s.strip_prefix(p.as_str()).unwrap_or(&s).into()))
        }),
    );
    add(
        "trimSuffix",
        Arc::new(|args: &[Value]| {
            let (p, s) = (text(arg("trimSuffix", args, 0)?), text(arg("trimSuffix", args, 1)?));
            Ok(Value::String(s.strip_suffix(p.as_str()).unwrap_or(&s).into()))
        }),
    );
    add(
        "trunc",
        Arc::new(|args: &[Value]| {
            let (n, s) = (number(arg("trunc", args, 0)?) as i64, text(arg("trunc", args, 1)?));
            let len = i64::try_from(s.chars().count()).unwrap_or(i64::MAX);
            let out: String = if n >= 0 {
                s.chars().take(usize::try_from(n).unwrap_or(usize::MAX)).collect()
            } else {
                s.chars().skip(usize::try_from(len.saturating_add(n)).unwrap_or(0)).collect()
            };
            Ok(Value::String(out.into()))
        }),
    );
    add(
        "replace",
        Arc::new(|args: &[Value]| {
            let (old, new, s) =
                (text(arg("replace", args, 0)?), text(arg("replace", args, 1)?), text(arg("replace", args, 2)?));
            Ok(Value::String(s.replace(&old, &new).into()))
        }),
    );
    add(
        "repeat",
        Arc::new(|args: &[Value]| {
            let (n, s) = (number(arg("repeat", args, 0)?), text(arg("repeat", args, 1)?));
            Ok(Value::String(s.repeat((n as usize).min(10_000)).into()))
        }),
    );
    add(
        "contains",
        Arc::new(|args: &[Value]| {
            Ok(Value::Bool(text(arg("contains", args, 1)?).contains(&text(arg("contains", args, 0)?))))
        }),
    );
    add(
        "hasPrefix",
        Arc::new(|args: &[Value]| {
            Ok(Value::Bool(text(arg("hasPrefix", args, 1)?).starts_with(&text(arg("hasPrefix", args, 0)?))))
        }),
    );
    add(
        "hasSuffix",
        Arc::new(|args: &[Value]| {
            Ok(Value::Bool(text(arg("hasSuffix", args, 1)?).ends_with(&text(arg("hasSuffix", args, 0)?))))
        }),
    );
    add(
        "join",
        Arc::new(|args: &[Value]| {
            let sep = text(arg("join", args, 0)?);
            let items = match arg("join", args, 1)? {
                Value::List(items) => items.iter().map(text).collect::<Vec<_>>(),
                other => vec![text(other)],
            };
            Ok(Value::String(items.join(&sep).into()))
        }),
    );
    add(
        "splitList",
        Arc::new(|args: &[Value]| {
            let (sep, s) = (text(arg("splitList", args, 0)?), text(arg("splitList", args, 1)?));
            Ok(Value::List(s.split(sep.as_str()).map(|p| Value::String(p.into())).collect()))
        }),
    );
    add("list", Arc::new(|args: &[Value]| Ok(Value::List(args.to_vec().into()))));
    add(
        "first",
        Arc::new(|args: &[Value]| match arg("first", args, 0)? {
            Value::List(items) => Ok(items.first().cloned().unwrap_or(Value::Nil)),
            _ => Ok(Value::Nil),
        }),
    );
    add(
        "last",
        Arc::new(|args: &[Value]| match arg("last", args, 0)? {
            Value::List(items) => Ok(items.last().cloned().unwrap_or(Value::Nil)),
            _ => Ok(Value::Nil),
        }),
    );
    add("empty", Arc::new(|args: &[Value]| Ok(Value::Bool(!args.first().is_some_and(gotmpl::is_true)))));
    add(
        "default",
        Arc::new(|args: &[Value]| {
            let fallback = arg("default", args, 0)?;
            Ok(match args.get(1) {
                Some(v) if gotmpl::is_true(v) => v.clone(),
                _ => fallback.clone(),
            })
        }),
    );
    add(
        "coalesce",
        Arc::new(|args: &[Value]| Ok(args.iter().find(|v| gotmpl::is_true(v)).cloned().unwrap_or(Value::Nil))),
    );
    add(
        "ternary",
        Arc::new(|args: &[Value]| {
            let (yes, no, cond) = (arg("ternary", args, 0)?, arg("ternary", args, 1)?, arg("ternary", args, 2)?);
            Ok(if gotmpl::is_true(cond) { yes.clone() } else { no.clone() })
        }),
    );
    add("toJson", Arc::new(|args: &[Value]| Ok(Value::String(to_json(arg("toJson", args, 0)?).to_string().into()))));
    add(
        "toPrettyJson",
        Arc::new(|args: &[Value]| {
            let pretty = serde_json::to_string_pretty(&to_json(arg("toPrettyJson", args, 0)?))
                .map_err(|e| err("toPrettyJson", e))?;
            Ok(Value::String(pretty.into()))
        }),
    );
    add(
        "b64enc",
        Arc::new(|args: &[Value]| {
            use base64::Engine;
            Ok(Value::String(base64::engine::general_purpose::STANDARD.encode(text(arg("b64enc", args, 0)?)).into()))
        }),
    );
    add(
        "b64dec",
        Arc::new(|args: &[Value]| {
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text(arg("b64dec", args, 0)?))
                .map_err(|e| err("b64dec", e))?;
            Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned().into()))
        }),
    );
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rollout() -> Json {
        json!({
            "metadata": {"name": "shop", "namespace": "prod"},
            "spec": {
                "replicas": 3,
                "strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}, {"setWeight": 60}]}},
                "template": {"spec": {"containers": [{"name": "web", "image": "shop:2"}, {"name": "proxy", "image": "envoy:1"}]}}
            },
            "status": {"currentStepIndex": 1, "updatedReplicas": 1}
        })
    }

    /// The constructs of Argo's default catalog (notifications-install.yaml): `range $i, $c`,
    /// `if not $index`, `len`, sprig's `add`, nested `if` over maps.
    #[test]
    fn argos_catalog_constructs_render_as_go_renders_them() {
        let vars = vars(&rollout(), &Json::Null, &json!({"token": "s3"})).unwrap();
        let cases = [
            (
                "Rollout {{.rollout.metadata.name}} step {{add .rollout.status.currentStepIndex 1}}/{{len .rollout.spec.strategy.canary.steps}}",
                "Rollout shop step 2/3",
            ),
            (
                "{{if .rollout.spec.strategy.blueGreen}}BlueGreen{{end}}{{if .rollout.spec.strategy.canary}}Canary{{end}}",
                "Canary",
            ),
            (
                "[{{range $index, $c := .rollout.spec.template.spec.containers}}{{if not $index}}first{{end}}{{if $index}},{{end}}{{$c.name}}={{$c.image}}{{end}}]",
                "[firstweb=shop:2,proxy=envoy:1]",
            ),
            ("{{.rollout.spec.replicas}} {{.rollout.status.updatedReplicas}}", "3 1"),
            ("{{ .rollout.metadata.name | upper | printf \"%s!\" }}", "SHOP!"),
            ("{{ .secrets.token }}", "s3"),
            (
                "{{ default \"none\" .rollout.spec.nothing }} {{ toJson .rollout.metadata }}",
                "none {\"name\":\"shop\",\"namespace\":\"prod\"}",
            ),
            ("{{ .rollout.spec.nothing }}", "<no value>"),
            ("no template at all", "no template at all"),
        ];
        for (template, expected) in cases {
            assert_eq!(render_text(template, &vars).as_deref(), Ok(expected), "{template}");
        }
        let e = render_text("{{ nosuchfunc 1 }}", &vars).unwrap_err();
        assert!(e.contains("nosuchfunc"), "{e}");
    }

    #[test]
    fn templates_merge_in_order_and_every_string_is_rendered() {
        let vars = vars(&rollout(), &Json::Null, &Json::Null).unwrap();
        let a = json!({"message": "A {{.rollout.metadata.name}}", "webhook": {"hook": {"method": "POST", "body": "{\"n\": \"{{.rollout.metadata.name}}\"}"}}});
        let b = json!({"message": "B", "slack": {"attachments": "[{\"title\": \"{{.rollout.metadata.namespace}}\"}]", "notifyBroadcast": true}});
        let out = render(&[("a", &a), ("b", &b)], &vars).unwrap();
        assert_eq!(
            out,
            json!({"message": "B", "webhook": {"hook": {"method": "POST", "body": "{\"n\": \"shop\"}"}},
                   "slack": {"attachments": "[{\"title\": \"prod\"}]", "notifyBroadcast": true}})
        );
        let e = render(&[("bad", &json!({"message": "{{ if }}"}))], &vars).unwrap_err();
        assert!(e.starts_with("template bad:"), "{e}");
    }

    #[test]
    fn alertmanager_labels_follow_argos_templater() {
        let vars = vars(&rollout(), &Json::Null, &Json::Null).unwrap();
        let t = json!({"alertmanager": {"labels": {"rollout": "{{.rollout.metadata.name}}", "empty": "{{.rollout.spec.none | default \"\"}}"},
                                         "annotations": {"summary": "{{.rollout.metadata.namespace}}"}}});
        let out = render(&[("rollout-aborted", &t)], &vars).unwrap();
        assert_eq!(
            out["alertmanager"],
            json!({"labels": {"rollout": "shop", "empty": "{{.rollout.spec.none | default \"\"}}", "alertname": "rollout-aborted"},
                   "annotations": {"summary": "prod"}})
        );
        let named = json!({"alertmanager": {"labels": {"alertname": "Custom"}}});
        assert_eq!(render(&[("t", &named)], &vars).unwrap()["alertmanager"]["labels"]["alertname"], "Custom");
        let none = json!({"alertmanager": {"annotations": {"a": "b"}}});
        assert!(render(&[("t", &none)], &vars).unwrap_err().contains("at least one label pair required"));
    }

    #[test]
    fn sprig_functions_behave_as_sprigs() {
        let vars = vars(&Json::Null, &Json::Null, &Json::Null).unwrap();
        let cases = [
            ("{{ add 1 2 3 }}", "6"),
            ("{{ sub 5 2 }}", "3"),
            ("{{ mul 2 3 }}", "6"),
            ("{{ div 7 2 }}", "3"),
            ("{{ mod 7 2 }}", "1"),
            ("{{ add1 4 }}", "5"),
            ("{{ max 1 9 3 }} {{ min 4 2 }}", "9 2"),
            ("{{ \"a b\" | title }}", "A B"),
            ("{{ trim \"  x \" }}", "x"),
            ("{{ trunc 3 \"abcdef\" }} {{ trunc -2 \"abcdef\" }}", "abc ef"),
            ("{{ replace \"a\" \"b\" \"banana\" }}", "bbnbnb"),
            (
                "{{ contains \"an\" \"banana\" }} {{ hasPrefix \"ba\" \"banana\" }} {{ hasSuffix \"x\" \"banana\" }}",
                "true true false",
            ),
            ("{{ quote \"x\" }} {{ squote \"y\" }}", "\"x\" 'y'"),
            ("{{ join \",\" (list 1 2 3) }}", "1,2,3"),
            ("{{ splitList \",\" \"a,b\" | last }}", "b"),
            ("{{ coalesce \"\" \"b\" }} {{ ternary \"y\" \"n\" true }} {{ empty \"\" }}", "b y true"),
            ("{{ b64enc \"hi\" }} {{ b64dec \"aGk=\" }}", "aGk= hi"),
            ("{{ trimPrefix \"v\" \"v1.2\" }} {{ trimSuffix \".2\" \"v1.2\" }}", "1.2 v1"),
        ];
        for (template, expected) in cases {
            assert_eq!(render_text(template, &vars).as_deref(), Ok(expected), "{template}");
        }
        assert!(render_text("{{ div 1 0 }}", &vars).unwrap_err().contains("division by zero"));
    }
}

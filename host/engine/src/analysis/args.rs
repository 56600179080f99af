//! Arguments: merging, building them from a Rollout, and substituting `{{args.NAME}}`
//! (reference §1.5; Argo `MergeArgs`, `BuildArgumentsForRolloutAnalysisRun`, `ResolveArgs`,
//! `getResolvedMetricsWithoutSecrets`).

use std::num::ParseIntError;

use aviary_api::analysis::{Argument, Metric};
use aviary_api::rollout::{AnalysisRunArgument, Rollout, ValueFromPodTemplateHash};
use aviary_api::validation::rollout_downward_api;
use serde_json::Value;

/// The placeholder Argo substitutes for secret arguments when it only needs the metric's shape
/// (validation, scheduling), never for a real measurement.
pub const SECRET_PLACEHOLDER: &str = "temp-for-secret";

/// Why a metric's `{{args.NAME}}` could not be substituted, or a Rollout field read for an
/// argument. The messages are Argo's: they end up in an AnalysisRun's status, where users and
/// tools compare them with Argo's.
#[derive(Debug, thiserror::Error)]
pub enum ArgsError {
    /// An argument has no value (after merging, and secrets resolved).
    #[error("argument \"{name}\" was not supplied")]
    NotSupplied {
        /// The argument's name.
        name: String,
    },
    /// A `{{...}}` tag that names no argument.
    #[error("failed to resolve {{{{{tag}}}}}")]
    Unresolved {
        /// The tag, as written between the braces.
        tag: String,
    },
    /// A field path indexes an array with something that is not an index.
    #[error("invalid index '{index}'")]
    InvalidIndex {
        /// The path section.
        index: String,
        /// The integer parser's error.
        #[source]
        source: ParseIntError,
    },
    /// A field path indexes past the end of an array.
    #[error("index {index} out of range")]
    IndexOutOfRange {
        /// The path section.
        index: String,
    },
    /// A field path that leads nowhere in the Rollout.
    #[error("invalid path {path} in rollout")]
    InvalidPath {
        /// The field path.
        path: String,
    },
    /// A field path that ends at an object or an array, which has no value to print.
    #[error("path {path} in rollout must terminate in a primitive value")]
    NotAPrimitive {
        /// The field path.
        path: String,
    },
    /// After merging, an argument has neither a value nor a valueFrom (Argo's `MergeArgs`).
    #[error("args.{name} was not resolved")]
    NotResolved {
        /// The argument's name.
        name: String,
    },
    /// A secret-backed argument names a key its Secret does not have (or a missing Secret).
    #[error("key '{key}' does not exist in secret '{secret}'")]
    NoSecretKey {
        /// The Secret.
        secret: String,
        /// The key.
        key: String,
    },
    /// A `fieldRef` under `metadata` that the downward API does not offer.
    #[error("unsupported fieldPath: {path}")]
    UnsupportedFieldPath {
        /// The field path.
        path: String,
    },
    /// The Rollout or the metric could not go through JSON: a metric whose substituted strings
    /// no longer fit its schema (a count that is not a number...).
    #[error("{0}")]
    Json(#[from] serde_json::Error),
}

/// Argo's `MergeArgs`: the template's arguments, with values (or valueFrom) supplied by the
/// caller replacing them by name; every argument must end with a value or a valueFrom.
pub fn merge_args(incoming: &[Argument], template: &[Argument]) -> Result<Vec<Argument>, ArgsError> {
    let mut out = template.to_vec();
    for arg in incoming {
        if let Some(existing) = out.iter_mut().find(|a| a.name == arg.name) {
            if arg.value.is_some() {
                existing.value = arg.value.clone();
            } else if arg.value_from.is_some() {
                existing.value_from = arg.value_from.clone();
            }
        }
    }
    if let Some(missing) = out.iter().find(|a| a.value.is_none() && a.value_from.is_none()) {
        return Err(ArgsError::NotResolved { name: missing.name.clone() });
    }
    Ok(out)
}

/// Argo's `getResolvedMetricsWithoutSecrets` step: secret-backed arguments get a placeholder.
pub fn without_secrets(args: &[Argument]) -> Vec<Argument> {
    args.iter()
        .map(|a| {
            if a.value_from.as_ref().is_some_and(|v| v.secret_key_ref.is_some()) {
                Argument { name: a.name.clone(), value: Some(SECRET_PLACEHOLDER.to_string()), value_from: None }
            } else {
                a.clone()
            }
        })
        .collect()
}

/// Resolves secret-backed arguments with `lookup(secret, key)`. Returns the arguments and the
/// secret values, which must be redacted (`*****`) from measurement messages.
pub fn resolve_secrets(
    args: &[Argument],
    lookup: &mut dyn FnMut(&str, &str) -> Option<String>,
) -> Result<(Vec<Argument>, Vec<String>), ArgsError> {
    let mut secrets = Vec::new();
    let mut out = Vec::with_capacity(args.len());
    for a in args {
        match a.value_from.as_ref().and_then(|v| v.secret_key_ref.as_ref()) {
            Some(r) => {
                let Some(v) = lookup(&r.name, &r.key) else {
                    return Err(ArgsError::NoSecretKey { secret: r.name.clone(), key: r.key.clone() });
                };
                secrets.push(v.clone());
                out.push(Argument { name: a.name.clone(), value: Some(v), value_from: None });
            }
            None => out.push(a.clone()),
        }
    }
    Ok((out, secrets))
}

/// Replaces each secret value in `message` with `*****`.
pub fn redact(message: &str, secrets: &[String]) -> String {
    let mut m = message.to_string();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        m = m.replace(s.as_str(), "*****");
    }
    m
}

/// Argo's `BuildArgumentsForRolloutAnalysisRun`: a Rollout's analysis arguments as run
/// arguments, taking pod template hashes from the stable and latest ReplicaSets and field refs
/// from the Rollout (`metadata.*` through the downward API, other paths through the Rollout's
/// JSON).
pub fn build_rollout_args(
    args: &[AnalysisRunArgument],
    stable_hash: &str,
    latest_hash: &str,
    rollout: &Rollout,
) -> Result<Vec<Argument>, ArgsError> {
    let mut out = Vec::with_capacity(args.len());
    let mut deferred_err = None;
    for a in args {
        let mut value = a.value.clone();
        if let Some(vf) = &a.value_from {
            if let Some(which) = vf.pod_template_hash_value {
                value = match which {
                    ValueFromPodTemplateHash::Latest => latest_hash.to_string(),
                    ValueFromPodTemplateHash::Stable => stable_hash.to_string(),
                };
            } else if let Some(fr) = &vf.field_ref {
                if fr.field_path.starts_with("metadata") {
                    value = rollout_downward_api(rollout, &fr.field_path)
                        .ok_or_else(|| ArgsError::UnsupportedFieldPath { path: fr.field_path.clone() })?;
                } else {
                    match extract_value_from_rollout(rollout, &fr.field_path) {
                        Ok(v) => value = v,
                        Err(e) => {
                            value = String::new();
                            deferred_err = Some(e);
                        }
                    }
                }
            }
        }
        out.push(Argument { name: a.name.clone(), value: Some(value), value_from: None });
    }
    match deferred_err {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// Argo's `extractValueFromRollout`: walks a dotted/bracketed path through the Rollout's JSON
/// and prints the primitive at its end.
pub fn extract_value_from_rollout(rollout: &Rollout, path: &str) -> Result<String, ArgsError> {
    let mut v = serde_json::to_value(rollout)?;
    for section in path.split(['.', '[', ']']).filter(|s| !s.is_empty()) {
        v = match v {
            Value::Array(items) => {
                let i: usize =
                    section.parse().map_err(|source| ArgsError::InvalidIndex { index: section.to_string(), source })?;
                items.into_iter().nth(i).ok_or_else(|| ArgsError::IndexOutOfRange { index: section.to_string() })?
            }
            Value::Object(mut map) => map.remove(section).unwrap_or(Value::Null),
            _ => return Err(ArgsError::InvalidPath { path: path.to_string() }),
        };
    }
    match v {
        Value::Null => Err(ArgsError::InvalidPath { path: path.to_string() }),
        Value::Array(_) | Value::Object(_) => Err(ArgsError::NotAPrimitive { path: path.to_string() }),
        Value::String(s) => Ok(s),
        other => Ok(other.to_string()),
    }
}

/// Argo's `ResolveArgs` over one string: every argument must have a value
/// (`argument "X" was not supplied`), and every `{{...}}` tag must name one
/// (`failed to resolve {{tag}}`).
pub fn resolve_template(template: &str, args: &[Argument]) -> Result<String, ArgsError> {
    if let Some(a) = args.iter().find(|a| a.value.is_none()) {
        return Err(ArgsError::NotSupplied { name: a.name.clone() });
    }
    resolve_tags(template, |key| {
        key.strip_prefix("args.").and_then(|name| args.iter().find(|a| a.name == name)).and_then(|a| a.value.clone())
    })
}

/// Argo's `resolve`: every `{{...}}` tag of `template` replaced by what `lookup` gives for it
/// (whitespace trimmed), the first tag it knows nothing of an error (`failed to resolve {{tag}}`).
pub fn resolve_tags(template: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, ArgsError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    let mut unresolved = None;
    while let Some((before, after)) = rest.split_once("{{") {
        out.push_str(before);
        let Some((tag, next)) = after.split_once("}}") else {
            out.push_str("{{");
            out.push_str(after);
            rest = "";
            break;
        };
        match lookup(tag.trim()) {
            Some(value) => out.push_str(&value),
            None => {
                if unresolved.is_none() {
                    unresolved = Some(ArgsError::Unresolved { tag: tag.to_string() });
                }
            }
        }
        rest = next;
    }
    out.push_str(rest);
    match unresolved {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

fn resolve_value(v: &mut Value, args: &[Argument]) -> Result<(), ArgsError> {
    match v {
        Value::String(s) => {
            if s.contains("{{") {
                *s = resolve_template(s, args)?;
            }
            Ok(())
        }
        Value::Array(items) => items.iter_mut().try_for_each(|i| resolve_value(i, args)),
        Value::Object(map) => map.values_mut().try_for_each(|i| resolve_value(i, args)),
        _ => Ok(()),
    }
}

/// Argo's `ResolveMetricArgs`: the metric with every `{{args.NAME}}` substituted, in every
/// string field (conditions, provider config, counts and limits written as strings).
pub fn resolve_metric_args(metric: &Metric, args: &[Argument]) -> Result<Metric, ArgsError> {
    if let Some(a) = args.iter().find(|a| a.value.is_none()) {
        return Err(ArgsError::NotSupplied { name: a.name.clone() });
    }
    let mut v = serde_json::to_value(metric)?;
    resolve_value(&mut v, args)?;
    Ok(serde_json::from_value(v)?)
}

/// Resolves every metric, as Argo does before validating a run (secrets replaced by a
/// placeholder).
pub fn resolve_metrics_without_secrets(metrics: &[Metric], args: &[Argument]) -> Result<Vec<Metric>, ArgsError> {
    let args = without_secrets(args);
    metrics.iter().map(|m| resolve_metric_args(m, &args)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aviary_api::analysis::{SecretKeyRef, ValueFrom};
    use aviary_api::rollout::{ArgumentValueFrom, FieldRef};

    fn arg(name: &str, value: Option<&str>) -> Argument {
        Argument { name: name.into(), value: value.map(str::to_string), value_from: None }
    }

    #[test]
    fn substitutes_args_in_every_string() {
        let metric: Metric = serde_json::from_value(serde_json::json!({
            "name": "success-rate",
            "successCondition": "result[0] >= {{args.threshold}}",
            "count": "{{ args.count }}",
            "provider": {"prometheus": {"query": "sum(rate(x{service=\"{{args.service-name}}\"}[5m]))"}}
        }))
        .unwrap();
        let args = [arg("threshold", Some("0.95")), arg("count", Some("5")), arg("service-name", Some("web"))];
        let got = resolve_metric_args(&metric, &args).unwrap();
        assert_eq!(got.success_condition, "result[0] >= 0.95");
        assert_eq!(got.count, Some(aviary_api::IntOrString::String("5".into())));
        assert_eq!(got.effective_count(), Some(5));
        assert_eq!(got.provider.prometheus.unwrap().query, "sum(rate(x{service=\"web\"}[5m]))");
    }

    #[test]
    fn missing_values_and_unknown_tags_are_argo_errors() {
        let metric = Metric { success_condition: "result > {{args.t}}".into(), ..Default::default() };
        let err = resolve_metric_args(&metric, &[arg("t", None)]).unwrap_err();
        assert_eq!(err.to_string(), "argument \"t\" was not supplied");
        let err = resolve_metric_args(&metric, &[]).unwrap_err();
        assert!(matches!(&err, ArgsError::Unresolved { tag } if tag == "args.t"), "{err:?}");
        assert_eq!(err.to_string(), "failed to resolve {{args.t}}");
        assert_eq!(resolve_template("{{ args.t }}", &[]).unwrap_err().to_string(), "failed to resolve {{ args.t }}");
    }

    #[test]
    fn merge_args_takes_supplied_values_and_requires_all() {
        let template = [arg("a", None), arg("b", Some("default"))];
        let merged = merge_args(&[arg("a", Some("x"))], &template).unwrap();
        assert_eq!(merged, vec![arg("a", Some("x")), arg("b", Some("default"))]);
        assert_eq!(merge_args(&[], &template).unwrap_err().to_string(), "args.a was not resolved");
    }

    #[test]
    fn secrets_are_placeholders_for_validation_and_redacted_from_messages() {
        let secret = Argument {
            name: "token".into(),
            value: None,
            value_from: Some(ValueFrom {
                secret_key_ref: Some(SecretKeyRef { name: "s".into(), key: "k".into() }),
                field_ref: None,
            }),
        };
        assert_eq!(without_secrets(std::slice::from_ref(&secret))[0].value.as_deref(), Some(SECRET_PLACEHOLDER));
        let (resolved, secrets) = resolve_secrets(std::slice::from_ref(&secret), &mut |n, k| {
            (n == "s" && k == "k").then(|| "hunter2".to_string())
        })
        .unwrap();
        assert_eq!(resolved[0].value.as_deref(), Some("hunter2"));
        assert_eq!(redact("auth hunter2 failed", &secrets), "auth ***** failed");
        let err = resolve_secrets(&[secret], &mut |_, _| None).unwrap_err();
        assert_eq!(err.to_string(), "key 'k' does not exist in secret 's'");
    }

    #[test]
    fn rollout_args_from_hashes_and_field_refs() {
        let mut ro = crate::testing::RolloutBuilder::canary(3).build();
        ro.metadata.namespace = Some("prod".into());
        ro.metadata.labels = Some([("app".to_string(), "web".to_string())].into());
        let args = vec![
            AnalysisRunArgument {
                name: "canary-hash".into(),
                value_from: Some(ArgumentValueFrom {
                    pod_template_hash_value: Some(ValueFromPodTemplateHash::Latest),
                    field_ref: None,
                }),
                ..Default::default()
            },
            AnalysisRunArgument {
                name: "ns".into(),
                value_from: Some(ArgumentValueFrom {
                    field_ref: Some(FieldRef { field_path: "metadata.namespace".into() }),
                    pod_template_hash_value: None,
                }),
                ..Default::default()
            },
            AnalysisRunArgument {
                name: "app".into(),
                value_from: Some(ArgumentValueFrom {
                    field_ref: Some(FieldRef { field_path: "metadata.labels['app']".into() }),
                    pod_template_hash_value: None,
                }),
                ..Default::default()
            },
            AnalysisRunArgument {
                name: "replicas".into(),
                value_from: Some(ArgumentValueFrom {
                    field_ref: Some(FieldRef { field_path: "spec.replicas".into() }),
                    pod_template_hash_value: None,
                }),
                ..Default::default()
            },
        ];
        let got = build_rollout_args(&args, "abc", "def", &ro).unwrap();
        let values: Vec<_> = got.iter().map(|a| a.value.clone().unwrap()).collect();
        assert_eq!(values, vec!["def", "prod", "web", "3"]);
        assert_eq!(
            extract_value_from_rollout(&ro, "spec.strategy").unwrap_err().to_string(),
            "path spec.strategy in rollout must terminate in a primitive value"
        );
        assert_eq!(
            extract_value_from_rollout(&ro, "spec.nope").unwrap_err().to_string(),
            "invalid path spec.nope in rollout"
        );
        let stepped = crate::testing::RolloutBuilder::canary(3).canary_scale_weight(20).build();
        assert_eq!(
            extract_value_from_rollout(&stepped, "spec.strategy.canary.steps[0].setCanaryScale.weight").unwrap(),
            "20"
        );
        let err = extract_value_from_rollout(&stepped, "spec.strategy.canary.steps[x]").unwrap_err();
        assert!(matches!(err, ArgsError::InvalidIndex { .. }), "{err:?}");
        assert_eq!(err.to_string(), "invalid index 'x'");
        let err = extract_value_from_rollout(&stepped, "spec.strategy.canary.steps[1]").unwrap_err();
        assert_eq!(err.to_string(), "index 1 out of range");
    }
}

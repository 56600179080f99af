//! Argo Rollouts' notification configuration, read as Argo's notifications engine reads it
//! (`api.ParseConfig`): the ConfigMap `argo-rollouts-notification-configmap` and the Secret
//! `argo-rollouts-notification-secret` in the controller's namespace.
//!
//! Keys: `service.<type>` (a service named after its type) and `service.<type>.<name>`,
//! `template.<name>`, `trigger.<name>`, `defaultTriggers`, `defaultTriggers.<service>` and
//! `subscriptions`. A service's YAML may name Secret keys as `$key`, replaced by their values
//! when it is sent. Unlike Argo, which refuses the whole ConfigMap for one bad key, a key that
//! does not parse is reported (naming the key) and the others keep working.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// The ConfigMap's name (Argo's `NotificationConfigMap`).
pub const CONFIG_MAP: &str = "argo-rollouts-notification-configmap";
/// The Secret's name (Argo's `NotificationSecret`).
pub const SECRET: &str = "argo-rollouts-notification-secret";

/// One configured service.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    /// Its type (`webhook`, `slack`, ...).
    pub service_type: String,
    /// Its configuration, `$key` references not yet replaced.
    pub config: Value,
}

/// One condition of a trigger (`triggers.Condition`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// An expr expression over the notification's variables; empty: always.
    #[serde(default)]
    pub when: String,
    /// The templates to send.
    #[serde(default)]
    pub send: Vec<String>,
    /// Accepted and ignored (Argo Rollouts' triggers fire per event, not once per value).
    #[serde(default)]
    pub once_per: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
}

/// One entry of `subscriptions` (`subscriptions.DefaultSubscription`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct GlobalSubscription {
    /// `service:recipient` (or `service`).
    #[serde(default)]
    pub recipients: Vec<String>,
    /// The triggers; empty: the default triggers.
    #[serde(default)]
    pub triggers: Vec<String>,
    /// A label selector (`team=shop,tier in (web)`) the Rollout's labels must match.
    #[serde(default)]
    pub selector: String,
}

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    /// Services by name.
    pub services: BTreeMap<String, Service>,
    /// Templates by name, as JSON (every string a template).
    pub templates: BTreeMap<String, Value>,
    /// Triggers by name.
    pub triggers: BTreeMap<String, Vec<Condition>>,
    /// `defaultTriggers`.
    pub default_triggers: Vec<String>,
    /// `defaultTriggers.<service>`.
    pub service_default_triggers: BTreeMap<String, Vec<String>>,
    /// `subscriptions`.
    pub subscriptions: Vec<GlobalSubscription>,
}

/// A key of the ConfigMap that could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    /// The key.
    pub key: String,
    /// Why.
    pub reason: String,
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ConfigMap {CONFIG_MAP}, key {:?}: {}", self.key, self.reason)
    }
}

fn yaml<T: serde::de::DeserializeOwned>(key: &str, text: &str) -> Result<T, KeyError> {
    serde_norway::from_str(text).map_err(|e| KeyError { key: key.to_string(), reason: e.to_string() })
}

/// Parses the ConfigMap's data; the keys that do not parse come back beside what did.
pub fn parse(data: &BTreeMap<String, String>) -> (Config, Vec<KeyError>) {
    let mut cfg = Config::default();
    let mut errors = Vec::new();
    for (key, text) in data {
        let result: Result<(), KeyError> = (|| {
            if key == "subscriptions" {
                cfg.subscriptions = yaml(key, text)?;
            } else if key == "defaultTriggers" {
                cfg.default_triggers = yaml(key, text)?;
            } else if let Some(name) = key.strip_prefix("template.") {
                cfg.templates.insert(name.to_string(), yaml(key, text)?);
            } else if let Some(name) = key.strip_prefix("trigger.") {
                cfg.triggers.insert(name.to_string(), yaml(key, text)?);
            } else if let Some(service) = key.strip_prefix("defaultTriggers.") {
                cfg.service_default_triggers.insert(service.to_string(), yaml(key, text)?);
            } else if let Some(rest) = key.strip_prefix("service.") {
                let (service_type, name) = match rest.split('.').collect::<Vec<_>>()[..] {
                    [t] => (t, t),
                    [t, n] => (t, n),
                    _ => {
                        return Err(KeyError { key: key.clone(), reason: "expected 'service.<type>(.<name>)'".into() });
                    }
                };
                let config: Value = yaml(key, text)?;
                cfg.services.insert(name.to_string(), Service { service_type: service_type.to_string(), config });
            }
            Ok(())
        })();
        if let Err(e) = result {
            errors.push(e);
        }
    }
    (cfg, errors)
}

/// Replaces `$key` references in every string of a service's configuration by the Secret's
/// values (`replaceStringSecret`: a reference to a key the Secret lacks stays as written).
pub fn resolve_secrets(config: &Value, secret: &BTreeMap<String, String>) -> Value {
    match config {
        Value::String(s) => Value::String(replace_refs(s, secret)),
        Value::Array(items) => Value::Array(items.iter().map(|v| resolve_secrets(v, secret)).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), resolve_secrets(v, secret))).collect()),
        other => other.clone(),
    }
}

fn replace_refs(text: &str, secret: &BTreeMap<String, String>) -> String {
    static KEY: std::sync::LazyLock<Option<regex::Regex>> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"[$][\w-]+").ok());
    let Some(re) = KEY.as_ref() else { return text.to_string() };
    re.replace_all(text, |c: &regex::Captures<'_>| {
        let whole = c.get(0).map_or("", |m| m.as_str());
        secret.get(whole.get(1..).unwrap_or_default()).cloned().unwrap_or_else(|| whole.to_string())
    })
    .into_owned()
}

/// A label selector string (`a=b,c!=d,e in (f,g),!h`) as Kubernetes parses one, checked
/// against `labels`. An empty selector matches everything; one that does not parse, nothing.
pub fn selector_matches(selector: &str, labels: &BTreeMap<String, String>) -> bool {
    split_requirements(selector).iter().all(|r| requirement_matches(r.trim(), labels).unwrap_or(false))
}

/// Splits at commas outside parentheses.
fn split_requirements(selector: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in selector.char_indices() {
        match c {
            '(' => depth = depth.saturating_add(1),
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(selector.get(start..i).unwrap_or_default());
                start = i.saturating_add(1);
            }
            _ => {}
        }
    }
    out.push(selector.get(start..).unwrap_or_default());
    out.into_iter().filter(|r| !r.trim().is_empty()).collect()
}

fn requirement_matches(r: &str, labels: &BTreeMap<String, String>) -> Option<bool> {
    let set = |rest: &str| -> Option<Vec<String>> {
        let inner = rest.trim().strip_prefix('(')?.strip_suffix(')')?;
        Some(inner.split(',').map(|v| v.trim().to_string()).collect())
    };
    if let Some(key) = r.strip_prefix('!') {
        return Some(!labels.contains_key(key.trim()));
    }
    if let Some((k, v)) = r.split_once("!=") {
        return Some(labels.get(k.trim()).map(String::as_str) != Some(v.trim()));
    }
    if let Some((k, v)) = r.split_once("==").or_else(|| r.split_once('=')) {
        return Some(labels.get(k.trim()).map(String::as_str) == Some(v.trim()));
    }
    if let Some((k, rest)) = r.split_once(" notin ") {
        let values = set(rest)?;
        return Some(!labels.get(k.trim()).is_some_and(|v| values.contains(v)));
    }
    if let Some((k, rest)) = r.split_once(" in ") {
        let values = set(rest)?;
        return Some(labels.get(k.trim()).is_some_and(|v| values.contains(v)));
    }
    let valid = !r.is_empty() && r.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    valid.then(|| labels.contains_key(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn services_keys_triggers_and_bad_keys() {
        let data: BTreeMap<String, String> = [
            ("service.slack", "token: $slack-token\n"),
            (
                "service.webhook.hook",
                "url: http://127.0.0.1:1/x\nheaders:\n- name: Authorization\n  value: Bearer $tok\n",
            ),
            ("service.a.b.c", "{}"),
            (
                "trigger.on-x",
                "- when: rollout.status.phase == 'Healthy'\n  send: [t]\n  oncePer: rollout.metadata.generation\n",
            ),
            ("template.t", "message: hi {{.rollout.metadata.name}}\n"),
            ("trigger.broken", "send: not-a-list"),
            ("defaultTriggers", "- on-rollout-completed\n"),
            ("defaultTriggers.slack", "- on-rollout-aborted\n"),
            ("subscriptions", "- recipients: [slack:deploys]\n  selector: team=shop\n"),
            ("unrelated", "ignored"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let (cfg, errors) = parse(&data);
        let bad: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(bad, vec!["service.a.b.c", "trigger.broken"]);
        assert!(errors[0].to_string().contains("argo-rollouts-notification-configmap"));
        assert_eq!(cfg.services["slack"].service_type, "slack");
        assert_eq!(cfg.services["hook"].service_type, "webhook");
        assert_eq!(cfg.triggers["on-x"][0].when, "rollout.status.phase == 'Healthy'");
        assert_eq!(cfg.default_triggers, vec!["on-rollout-completed"]);
        assert_eq!(cfg.service_default_triggers["slack"], vec!["on-rollout-aborted"]);
        assert_eq!(cfg.subscriptions[0].recipients, vec!["slack:deploys"]);
        let secret = labels(&[("slack-token", "xoxb-1"), ("tok", "s3")]);
        assert_eq!(resolve_secrets(&cfg.services["slack"].config, &secret)["token"], "xoxb-1");
        let hook = resolve_secrets(&cfg.services["hook"].config, &secret);
        assert_eq!(hook["headers"][0]["value"], "Bearer s3");
        // A missing key stays as written, as in Argo.
        assert_eq!(resolve_secrets(&Value::String("$nope and $tok".into()), &secret), "$nope and s3");
    }

    #[test]
    fn label_selectors_as_kubernetes_reads_them() {
        let l = labels(&[("team", "shop"), ("tier", "web")]);
        let cases = [
            ("", true),
            ("team=shop", true),
            ("team==shop", true),
            ("team=other", false),
            ("team!=other", true),
            ("team,tier=web", true),
            ("missing", false),
            ("!missing", true),
            ("!team", false),
            ("tier in (web, api)", true),
            ("tier notin (web)", false),
            ("team=shop,tier in (api)", false),
            ("tier in web", false),
        ];
        for (selector, expected) in cases {
            assert_eq!(selector_matches(selector, &l), expected, "{selector}");
        }
    }
}

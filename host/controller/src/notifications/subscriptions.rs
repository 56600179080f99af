//! Who is told about which trigger: the Rollout's subscription annotations and the
//! ConfigMap's `subscriptions`, as Argo's notifications engine reads them
//! (`subscriptions.Annotations.GetDestinations`, `Config.GetGlobalDestinations`), and the
//! trigger an Event's reason fires (`translateReasonToTrigger`).

use std::collections::BTreeMap;

use super::config::{Config, selector_matches};

/// The annotations' prefix.
pub const PREFIX: &str = "notifications.argoproj.io/subscribe.";
/// The YAML form's key.
pub const SUBSCRIPTIONS: &str = "notifications.argoproj.io/subscriptions";

/// One destination: a service by name and a recipient (empty for none).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Destination {
    /// The service's name.
    pub service: String,
    /// The recipient.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub recipient: String,
}

/// Whether an object's annotations subscribe it to anything.
pub fn subscribed(annotations: &BTreeMap<String, String>) -> bool {
    annotations.keys().any(|k| k.starts_with(PREFIX) || k.starts_with(SUBSCRIPTIONS))
}

/// The trigger of an Event reason: `RolloutStepCompleted` is `on-rollout-step-completed`.
pub fn trigger_of(reason: &str) -> String {
    static FIRST: std::sync::LazyLock<Option<regex::Regex>> =
        std::sync::LazyLock::new(|| regex::Regex::new("(.)([A-Z][a-z]+)").ok());
    static ALL: std::sync::LazyLock<Option<regex::Regex>> =
        std::sync::LazyLock::new(|| regex::Regex::new("([a-z0-9])([A-Z])").ok());
    let (Some(first), Some(all)) = (FIRST.as_ref(), ALL.as_ref()) else { return format!("on-{reason}") };
    let t = first.replace_all(reason, "${1}-${2}");
    let t = all.replace_all(&t, "${1}-${2}");
    format!("on-{}", t.to_lowercase())
}

#[derive(serde::Deserialize)]
struct YamlSubscription {
    #[serde(default)]
    trigger: Vec<String>,
    #[serde(default)]
    destinations: Vec<YamlDestination>,
}

#[derive(serde::Deserialize)]
struct YamlDestination {
    #[serde(default)]
    service: String,
    #[serde(default)]
    recipients: Vec<String>,
}

fn recipients(v: &str) -> Vec<String> {
    if v.is_empty() {
        return vec![String::new()];
    }
    v.split(';').map(str::trim).filter(|r| !r.is_empty()).map(str::to_string).collect()
}

/// The destinations of `trigger` for an object with these labels and annotations, sorted and
/// without repeats (one notification per destination).
pub fn destinations(
    config: &Config,
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
    trigger: &str,
) -> Vec<Destination> {
    let mut out = Vec::new();
    // Annotations: `subscribe.<trigger>.<service>: r1;r2`, `subscribe.<service>` (default
    // triggers) and the YAML list under `subscriptions`.
    let mut add = |t: &str, service: &str, rs: Vec<String>| {
        let triggers: Vec<String> = if !t.is_empty() {
            vec![t.to_string()]
        } else if let Some(d) = config.service_default_triggers.get(service) {
            d.clone()
        } else {
            config.default_triggers.clone()
        };
        if triggers.iter().any(|x| x == trigger) && !service.is_empty() {
            out.extend(rs.into_iter().map(|recipient| Destination { service: service.to_string(), recipient }));
        }
    };
    for (k, v) in annotations {
        if let Some(rest) = k.strip_prefix(PREFIX) {
            match rest.split_once('.') {
                Some((t, service)) => add(t, service.split('.').next().unwrap_or_default(), recipients(v)),
                None => add("", rest, recipients(v)),
            }
        } else if k.starts_with(SUBSCRIPTIONS) {
            let Ok(list) = serde_norway::from_str::<Vec<YamlSubscription>>(v) else {
                tracing::warn!(annotation = %k, "notification subscriptions do not parse");
                continue;
            };
            for s in list {
                let triggers = if s.trigger.is_empty() { vec![String::new()] } else { s.trigger };
                for t in &triggers {
                    for d in &s.destinations {
                        add(t, &d.service, d.recipients.clone());
                    }
                }
            }
        }
    }
    // The ConfigMap's `subscriptions`.
    for s in &config.subscriptions {
        let triggers = if s.triggers.is_empty() { &config.default_triggers } else { &s.triggers };
        if triggers.iter().any(|t| t == trigger) && selector_matches(&s.selector, labels) {
            for r in &s.recipients {
                let (service, recipient) = r.split_once(':').unwrap_or((r.as_str(), ""));
                out.push(Destination { service: service.to_string(), recipient: recipient.to_string() });
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn event_reasons_name_argos_triggers() {
        // Every reason of Argo's default catalog, and the odd ones of its regexes.
        let cases = [
            ("RolloutCompleted", "on-rollout-completed"),
            ("RolloutStepCompleted", "on-rollout-step-completed"),
            ("RolloutUpdated", "on-rollout-updated"),
            ("RolloutAborted", "on-rollout-aborted"),
            ("RolloutPaused", "on-rollout-paused"),
            ("AnalysisRunRunning", "on-analysis-run-running"),
            ("AnalysisRunError", "on-analysis-run-error"),
            ("AnalysisRunFailed", "on-analysis-run-failed"),
            ("ScalingReplicaSet", "on-scaling-replica-set"),
            ("RolloutNotCompleted", "on-rollout-not-completed"),
            ("TrafficWeightUpdated", "on-traffic-weight-updated"),
            ("SwitchService", "on-switch-service"),
            ("HPA", "on-hpa"),
        ];
        for (reason, trigger) in cases {
            assert_eq!(trigger_of(reason), trigger, "{reason}");
        }
    }

    #[test]
    fn annotations_default_triggers_and_global_subscriptions() {
        let config = Config {
            default_triggers: vec!["on-rollout-completed".into()],
            service_default_triggers: [("slack".to_string(), vec!["on-rollout-aborted".to_string()])].into(),
            subscriptions: vec![super::super::config::GlobalSubscription {
                recipients: vec!["slack:deploys".into(), "hook".into()],
                triggers: vec![],
                selector: "team=shop".into(),
            }],
            ..Default::default()
        };
        let annotations = map(&[
            ("notifications.argoproj.io/subscribe.on-rollout-updated.slack", "a; b;"),
            ("notifications.argoproj.io/subscribe.hook", ""),
            ("notifications.argoproj.io/subscribe.slack", "c"),
            (
                "notifications.argoproj.io/subscriptions",
                "- trigger: [on-rollout-updated]\n  destinations:\n  - service: other\n    recipients: [x]\n",
            ),
            ("unrelated", "x"),
        ]);
        let shop = map(&[("team", "shop")]);
        let d = |s: &str, r: &str| Destination { service: s.into(), recipient: r.into() };
        assert_eq!(
            destinations(&config, &BTreeMap::new(), &annotations, "on-rollout-updated"),
            vec![d("other", "x"), d("slack", "a"), d("slack", "b")]
        );
        // `subscribe.hook` has no trigger: the default triggers; `subscribe.slack` the slack ones.
        assert_eq!(destinations(&config, &BTreeMap::new(), &annotations, "on-rollout-completed"), vec![d("hook", "")]);
        assert_eq!(destinations(&config, &BTreeMap::new(), &annotations, "on-rollout-aborted"), vec![d("slack", "c")]);
        // The global subscription applies to labels it selects, on its (default) triggers.
        assert_eq!(
            destinations(&config, &shop, &BTreeMap::new(), "on-rollout-completed"),
            vec![d("hook", ""), d("slack", "deploys")]
        );
        assert!(destinations(&config, &BTreeMap::new(), &BTreeMap::new(), "on-rollout-completed").is_empty());
        assert!(subscribed(&annotations));
        assert!(!subscribed(&map(&[("a", "b")])));
    }
}

//! First-party plugins, embedded in the binary so that Argo templates run unchanged.
//!
//! `web`, `prometheus` and `datadog` are Argo's provider names; every first-party plugin is also addressable
//! as `aviary/<name>`. They are ordinary components built from `plugins/` by this crate's build
//! script: they get the same sandbox, deadline and memory cap as anyone's plugin. By default they
//! may reach exactly the host named in their own config (`url` or `address`), unless a registry
//! entry with `location: builtin:aviary/<name>` says otherwise.

use url::Url;

use aviary_boundary::kubernetes::{KubernetesGrant, KubernetesGrants, Verb};

use crate::capability::AllowedHosts;
use crate::registry::PluginKind;

/// One embedded plugin.
#[derive(Debug)]
pub struct Builtin {
    /// `aviary/<name>`.
    pub name: &'static str,
    /// Argo's provider name, when the plugin replaces one of Argo's built-in providers.
    pub argo_name: Option<&'static str>,
    /// The world.
    pub kind: PluginKind,
    /// The component.
    pub bytes: &'static [u8],
    /// The config field holding the one host the plugin may reach by default.
    pub host_field: Option<&'static str>,
    /// The URL the plugin calls when its config has no `host_field` (Datadog's default site).
    pub default_url: Option<&'static str>,
    /// The Kubernetes objects it may touch (a router's routing objects), unless a registry
    /// entry for it lists its own grants.
    pub kubernetes: &'static [BuiltinGrant],
}

/// One Kubernetes grant of a first-party plugin: what its code needs, no more.
#[derive(Debug)]
pub struct BuiltinGrant {
    /// The API group (empty: core).
    pub api_group: &'static str,
    /// The kinds.
    pub kinds: &'static [&'static str],
    /// The verbs.
    pub verbs: &'static [Verb],
}

/// The default condition evaluator.
pub const DEFAULT_CONDITION: &str = "aviary/expr";

/// Every first-party plugin.
pub static BUILTINS: &[Builtin] = &[
    Builtin {
        name: "aviary/expr",
        argo_name: None,
        kind: PluginKind::Condition,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_plugin_expr.wasm")),
        host_field: None,
        default_url: None,
        kubernetes: &[],
    },
    // Kayenta's NetflixACAJudge (canary versus baseline, Mann–Whitney); selected as the
    // condition plugin in force (`conditionPlugin`, `--condition`), never by a provider name.
    Builtin {
        name: "aviary/judge",
        argo_name: None,
        kind: PluginKind::Condition,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_plugin_judge.wasm")),
        host_field: None,
        default_url: None,
        kubernetes: &[],
    },
    Builtin {
        name: "aviary/web",
        argo_name: Some("web"),
        kind: PluginKind::MetricProvider,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_plugin_web.wasm")),
        host_field: Some("url"),
        default_url: None,
        kubernetes: &[],
    },
    Builtin {
        name: "aviary/prometheus",
        argo_name: Some("prometheus"),
        kind: PluginKind::MetricProvider,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_plugin_prometheus.wasm")),
        host_field: Some("address"),
        default_url: None,
        kubernetes: &[],
    },
    Builtin {
        name: "aviary/datadog",
        argo_name: Some("datadog"),
        kind: PluginKind::MetricProvider,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_plugin_datadog.wasm")),
        // `address` comes from the Secret named by Argo's secretRef (the controller adds it).
        host_field: Some("address"),
        default_url: Some("https://api.datadoghq.com"),
        kubernetes: &[],
    },
    Builtin {
        name: "aviary/cloudwatch",
        argo_name: Some("cloudWatch"),
        kind: PluginKind::MetricProvider,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_plugin_cloudwatch.wasm")),
        // The controller adds `endpoint` (https://monitoring.<region>.amazonaws.com, or the AWS
        // SDK's AWS_ENDPOINT_URL_CLOUDWATCH / AWS_ENDPOINT_URL) with the credentials.
        host_field: Some("endpoint"),
        default_url: None,
        kubernetes: &[],
    },
    Builtin {
        name: "aviary/graphite",
        argo_name: Some("graphite"),
        kind: PluginKind::MetricProvider,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_plugin_graphite.wasm")),
        host_field: Some("address"),
        default_url: None,
        kubernetes: &[],
    },
    Builtin {
        name: "aviary/influxdb",
        argo_name: Some("influxdb"),
        kind: PluginKind::MetricProvider,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_plugin_influxdb.wasm")),
        // `address` comes from the Secret named by Argo's `profile` (the controller adds it).
        host_field: Some("address"),
        default_url: None,
        kubernetes: &[],
    },
    Builtin {
        name: "aviary/wavefront",
        argo_name: Some("wavefront"),
        kind: PluginKind::MetricProvider,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_plugin_wavefront.wasm")),
        // A bare host, as Argo writes it: reached over https (see `default_hosts`).
        host_field: Some("address"),
        default_url: None,
        kubernetes: &[],
    },
    Builtin {
        name: "aviary/newrelic",
        argo_name: Some("newRelic"),
        kind: PluginKind::MetricProvider,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_plugin_newrelic.wasm")),
        // The controller sets it from the Secret's `base-url-nerdgraph` or `region`.
        host_field: Some("baseUrlNerdgraph"),
        default_url: Some("https://api.newrelic.com/graphql"),
        kubernetes: &[],
    },
    Builtin {
        name: "aviary/kayenta",
        argo_name: Some("kayenta"),
        kind: PluginKind::MetricProvider,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_plugin_kayenta.wasm")),
        host_field: Some("address"),
        default_url: None,
        kubernetes: &[],
    },
    Builtin {
        name: "aviary/skywalking",
        argo_name: Some("skywalking"),
        kind: PluginKind::MetricProvider,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_plugin_skywalking.wasm")),
        host_field: Some("address"),
        default_url: None,
        kubernetes: &[],
    },
    Builtin {
        name: "aviary/job",
        argo_name: Some("job"),
        kind: PluginKind::MetricProvider,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_plugin_job.wasm")),
        host_field: None,
        default_url: None,
        // Jobs of the AnalysisRun's namespace and the pods it reads their state from: the
        // grants of plugins/job (`GRANTS`), nothing else.
        kubernetes: &[
            BuiltinGrant {
                api_group: "batch",
                kinds: &["Job"],
                verbs: &[Verb::Get, Verb::List, Verb::Create, Verb::Delete],
            },
            BuiltinGrant { api_group: "", kinds: &["Pod"], verbs: &[Verb::List] },
        ],
    },
    // Traffic routers (contract 0.2.0): Argo's routers, each reaching exactly the routing
    // objects its code needs (the grants listed in each crate's documentation).
    Builtin {
        name: "aviary/gateway-api",
        argo_name: Some("argoproj-labs/gatewayAPI"),
        kind: PluginKind::TrafficRouter,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_router_gateway_api.wasm")),
        host_field: None,
        default_url: None,
        kubernetes: &[BuiltinGrant {
            api_group: "gateway.networking.k8s.io",
            kinds: &["HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute"],
            verbs: &[Verb::Get, Verb::List, Verb::Patch],
        }],
    },
    Builtin {
        name: "aviary/nginx",
        argo_name: None,
        kind: PluginKind::TrafficRouter,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_router_nginx.wasm")),
        host_field: None,
        default_url: None,
        kubernetes: &[BuiltinGrant {
            api_group: "networking.k8s.io",
            kinds: &["Ingress"],
            verbs: &[Verb::Get, Verb::Create, Verb::Patch],
        }],
    },
    Builtin {
        name: "aviary/smi",
        argo_name: None,
        kind: PluginKind::TrafficRouter,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_router_smi.wasm")),
        host_field: None,
        default_url: None,
        kubernetes: &[BuiltinGrant {
            api_group: "split.smi-spec.io",
            kinds: &["TrafficSplit"],
            verbs: &[Verb::Get, Verb::Create, Verb::Patch],
        }],
    },
    Builtin {
        name: "aviary/istio",
        argo_name: None,
        kind: PluginKind::TrafficRouter,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_router_istio.wasm")),
        host_field: None,
        default_url: None,
        kubernetes: &[
            BuiltinGrant {
                api_group: "networking.istio.io",
                kinds: &["VirtualService", "DestinationRule"],
                verbs: &[Verb::Get, Verb::Patch],
            },
            BuiltinGrant { api_group: "apps", kinds: &["ReplicaSet"], verbs: &[Verb::List] },
        ],
    },
    // A canary `plugin:` step that waits for an HTTP endpoint to answer as expected. It may
    // reach the host of its `url` only, and no Kubernetes object.
    Builtin {
        name: "aviary/wait-for-http",
        argo_name: None,
        kind: PluginKind::Step,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_step_wait_for_http.wasm")),
        host_field: Some("url"),
        default_url: None,
        kubernetes: &[],
    },
    // Argo notifications' `webhook` service: may reach the host of the service's `url` only.
    Builtin {
        name: "aviary/webhook",
        argo_name: None,
        kind: PluginKind::Notifier,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_notifier_webhook.wasm")),
        host_field: Some("url"),
        default_url: None,
        kubernetes: &[],
    },
    // Argo notifications' `slack` service (the token API): may reach the host of the service's
    // `apiURL`, Slack's own API when it names none.
    Builtin {
        name: "aviary/slack",
        argo_name: None,
        kind: PluginKind::Notifier,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_notifier_slack.wasm")),
        host_field: Some("apiURL"),
        default_url: Some("https://slack.com/api/"),
        kubernetes: &[],
    },
    // Argo notifications' `pagerdutyv2` service. May reach: PagerDuty Events API v2: the service's `apiURL` (an Aviary addition), PagerDuty's own by default.
    Builtin {
        name: "aviary/pagerdutyv2",
        argo_name: None,
        kind: PluginKind::Notifier,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_notifier_pagerdutyv2.wasm")),
        host_field: Some("apiURL"),
        default_url: Some("https://events.pagerduty.com"),
        kubernetes: &[],
    },
    // Argo notifications' `opsgenie` service. May reach: Opsgenie: the host of the service's `apiUrl`, Opsgenie's API by default.
    Builtin {
        name: "aviary/opsgenie",
        argo_name: None,
        kind: PluginKind::Notifier,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_notifier_opsgenie.wasm")),
        host_field: Some("apiUrl"),
        default_url: Some("https://api.opsgenie.com"),
        kubernetes: &[],
    },
    // Argo notifications' `alertmanager` service. May reach: Alertmanager: every entry of the service's `targets`, over its `scheme` (http by default).
    Builtin {
        name: "aviary/alertmanager",
        argo_name: None,
        kind: PluginKind::Notifier,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_notifier_alertmanager.wasm")),
        host_field: Some("targets"),
        default_url: Some("http://127.0.0.1:9093"),
        kubernetes: &[],
    },
    // Argo notifications' `telegram` service. May reach: Telegram: the service's `apiUrl` (an Aviary addition), Telegram's Bot API by default.
    Builtin {
        name: "aviary/telegram",
        argo_name: None,
        kind: PluginKind::Notifier,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_notifier_telegram.wasm")),
        host_field: Some("apiUrl"),
        default_url: Some("https://api.telegram.org"),
        kubernetes: &[],
    },
    // Argo notifications' `pushover` service. May reach: Pushover: the service's `apiURL` (an Aviary addition), Pushover's API by default.
    Builtin {
        name: "aviary/pushover",
        argo_name: None,
        kind: PluginKind::Notifier,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_notifier_pushover.wasm")),
        host_field: Some("apiURL"),
        default_url: Some("https://api.pushover.net"),
        kubernetes: &[],
    },
    // Argo notifications' `teams` service. May reach: Microsoft Teams (incoming webhooks): every URL of the service's `recipientUrls`.
    Builtin {
        name: "aviary/teams",
        argo_name: None,
        kind: PluginKind::Notifier,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_notifier_teams.wasm")),
        host_field: Some("recipientUrls"),
        default_url: None,
        kubernetes: &[],
    },
    // Argo notifications' `mattermost` service. May reach: Mattermost: the host of the service's `apiURL`.
    Builtin {
        name: "aviary/mattermost",
        argo_name: None,
        kind: PluginKind::Notifier,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_notifier_mattermost.wasm")),
        host_field: Some("apiURL"),
        default_url: None,
        kubernetes: &[],
    },
    // Argo notifications' `webex` service. May reach: Webex: the host of the service's `apiURL`, Webex's API by default.
    Builtin {
        name: "aviary/webex",
        argo_name: None,
        kind: PluginKind::Notifier,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_notifier_webex.wasm")),
        host_field: Some("apiURL"),
        default_url: Some("https://webexapis.com"),
        kubernetes: &[],
    },
    // Argo notifications' `googlechat` service. May reach: Google Chat: every URL of the
    // service's `webhooks`.
    Builtin {
        name: "aviary/googlechat",
        argo_name: None,
        kind: PluginKind::Notifier,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_notifier_googlechat.wasm")),
        host_field: Some("webhooks"),
        default_url: None,
        kubernetes: &[],
    },
    // Argo notifications' `teams-workflows` service. May reach: Power Automate workflows: every
    // URL of the service's `recipientUrls`.
    Builtin {
        name: "aviary/teams-workflows",
        argo_name: None,
        kind: PluginKind::Notifier,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_notifier_teams_workflows.wasm")),
        host_field: Some("recipientUrls"),
        default_url: None,
        kubernetes: &[],
    },
    // Argo notifications' `grafana` service. May reach: Grafana: the host of the service's
    // `apiUrl` (no default, as in Argo).
    Builtin {
        name: "aviary/grafana",
        argo_name: None,
        kind: PluginKind::Notifier,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_notifier_grafana.wasm")),
        host_field: Some("apiUrl"),
        default_url: None,
        kubernetes: &[],
    },
    // Argo notifications' `newrelic` service (`aviary/newrelic` is Argo's New Relic metric
    // provider). May reach: New Relic's REST API: the host of the service's `apiURL`,
    // api.newrelic.com by default.
    Builtin {
        name: "aviary/newrelic-notifier",
        argo_name: None,
        kind: PluginKind::Notifier,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_notifier_newrelic.wasm")),
        host_field: Some("apiURL"),
        default_url: Some("https://api.newrelic.com"),
        kubernetes: &[],
    },
    // Argo notifications' `pagerduty` service (REST API incidents). May reach: the service's
    // `apiURL` (an Aviary addition), PagerDuty's API by default.
    Builtin {
        name: "aviary/pagerduty",
        argo_name: None,
        kind: PluginKind::Notifier,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_notifier_pagerduty.wasm")),
        host_field: Some("apiURL"),
        default_url: Some("https://api.pagerduty.com"),
        kubernetes: &[],
    },
    // Argo notifications' `rocketchat` service. May reach: the host of the service's `serverUrl`.
    Builtin {
        name: "aviary/rocketchat",
        argo_name: None,
        kind: PluginKind::Notifier,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_notifier_rocketchat.wasm")),
        host_field: Some("serverUrl"),
        default_url: None,
        kubernetes: &[],
    },
    // Argo notifications' `github` service (a GitHub App). May reach: the service's
    // `enterpriseBaseURL`, GitHub's API by default.
    Builtin {
        name: "aviary/github",
        argo_name: None,
        kind: PluginKind::Notifier,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_notifier_github.wasm")),
        host_field: Some("enterpriseBaseURL"),
        default_url: Some("https://api.github.com"),
        kubernetes: &[],
    },
    // Argo notifications' `awssqs` service. May reach: the service's `endpointUrl`, else the SQS
    // endpoint of its `region`.
    Builtin {
        name: "aviary/awssqs",
        argo_name: None,
        kind: PluginKind::Notifier,
        bytes: include_bytes!(concat!(env!("AVIARY_WASM_DIR"), "/aviary_notifier_awssqs.wasm")),
        host_field: Some("endpointUrl"),
        default_url: Some("https://sqs.{region}.amazonaws.com"),
        kubernetes: &[],
    },
];

/// Finds a first-party plugin by `aviary/<name>` or by its Argo provider name.
pub fn find(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name || b.argo_name == Some(name))
}

impl Builtin {
    /// Its Kubernetes grants, validated like an entry's (a bad one is a bug caught by the
    /// tests, and grants nothing).
    pub fn grants(&self) -> KubernetesGrants {
        let grants: Vec<KubernetesGrant> = self
            .kubernetes
            .iter()
            .map(|g| KubernetesGrant {
                api_group: g.api_group.to_string(),
                kinds: g.kinds.iter().map(|k| k.to_string()).collect(),
                verbs: g.verbs.to_vec(),
            })
            .collect();
        KubernetesGrants::parse(&grants).unwrap_or_default()
    }

    /// The hosts the plugin may reach for this config: the one in its `url`/`address` field, or
    /// for a notifier every URL of that field when it holds a list (Alertmanager's `targets`) or
    /// a map (Teams' `recipientUrls`); its default URL when the field is absent or empty. A bare
    /// host (Wavefront's `address`, Alertmanager's `host:port`) is reached over the config's
    /// `scheme` when it has one, else over the default URL's, else https.
    pub fn default_hosts(&self, config: &serde_json::Value) -> AllowedHosts {
        // A bare host's scheme: the config's `scheme`, else that of the default URL, else https.
        let default_scheme = self.default_url.and_then(|u| u.split_once("://")).map_or("https", |(s, _)| s);
        let scheme = config.get("scheme").and_then(|v| v.as_str()).filter(|s| !s.is_empty()).unwrap_or(default_scheme);
        let mut targets: Vec<&str> = match self.host_field.and_then(|f| config.get(f)) {
            Some(serde_json::Value::String(s)) => vec![s.as_str()],
            Some(serde_json::Value::Array(items)) => items.iter().filter_map(|v| v.as_str()).collect(),
            Some(serde_json::Value::Object(map)) => map.values().filter_map(|v| v.as_str()).collect(),
            _ => Vec::new(),
        };
        targets.retain(|s| !s.is_empty());
        // A default URL may depend on the config's `region` (`https://sqs.{region}.amazonaws.com`):
        // a region that is not a plain DNS label gives no default.
        let regional;
        if targets.is_empty() {
            match self.default_url {
                Some(url) if url.contains("{region}") => {
                    let region = config.get("region").and_then(|v| v.as_str()).unwrap_or_default();
                    if !region.is_empty() && region.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                        regional = url.replace("{region}", region);
                        targets.push(&regional);
                    }
                }
                Some(url) => targets.push(url),
                None => {}
            }
        }
        let hosts: Vec<String> = targets
            .into_iter()
            .filter_map(|s| {
                if s.contains("://") { Url::parse(s).ok() } else { Url::parse(&format!("{scheme}://{s}")).ok() }
            })
            .filter_map(|u| Some(format!("{}://{}:{}", u.scheme(), u.host_str()?, u.port_or_known_default()?)))
            .collect();
        if hosts.is_empty() {
            return AllowedHosts::none();
        }
        AllowedHosts::parse(&hosts).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notifier_may_reach_every_url_of_its_field() {
        let notifier = |field: &'static str, default_url: Option<&'static str>| Builtin {
            name: "aviary/test",
            argo_name: None,
            kind: PluginKind::Notifier,
            bytes: &[],
            host_field: Some(field),
            default_url,
            kubernetes: &[],
        };
        let teams = notifier("recipientUrls", None);
        let hosts = teams.default_hosts(&serde_json::json!({"recipientUrls": {
            "a": "https://acme.webhook.office.com/webhookb2/1", "b": "http://127.0.0.1:8080/x"}}));
        assert!(hosts.allows("acme.webhook.office.com", 443) && hosts.allows("127.0.0.1", 8080));
        assert!(!hosts.allows("example.com", 443));
        let alertmanager = notifier("targets", None);
        let hosts = alertmanager
            .default_hosts(&serde_json::json!({"targets": ["127.0.0.1:9093", "am.example:9093"], "scheme": "http"}));
        assert!(hosts.allows("127.0.0.1", 9093) && hosts.allows("am.example", 9093));
        let opsgenie = notifier("apiUrl", Some("https://api.opsgenie.com"));
        assert!(opsgenie.default_hosts(&serde_json::json!({})).allows("api.opsgenie.com", 443));
        assert!(opsgenie.default_hosts(&serde_json::json!({"apiUrl": ""})).allows("api.opsgenie.com", 443));
        assert!(notifier("webhooks", None).default_hosts(&serde_json::json!({"webhooks": {}})).is_empty());
        // SQS's endpoint follows the region; a region that is not a DNS label gives none.
        let sqs = find("aviary/awssqs").unwrap();
        let regional = sqs.default_hosts(&serde_json::json!({"region": "eu-west-1"}));
        assert!(
            regional.allows("sqs.eu-west-1.amazonaws.com", 443) && !regional.allows("sqs.us-east-1.amazonaws.com", 443)
        );
        assert!(sqs.default_hosts(&serde_json::json!({"region": "evil.com/x"})).is_empty());
        assert!(sqs.default_hosts(&serde_json::json!({})).is_empty());
        let local =
            sqs.default_hosts(&serde_json::json!({"region": "us-east-1", "endpointUrl": "http://127.0.0.1:4566"}));
        assert!(local.allows("127.0.0.1", 4566) && !local.allows("sqs.us-east-1.amazonaws.com", 443));
    }

    #[test]
    fn argo_names_and_aviary_names_both_resolve() {
        assert_eq!(find("web").map(|b| b.name), Some("aviary/web"));
        assert_eq!(find("aviary/web").map(|b| b.name), Some("aviary/web"));
        assert_eq!(find("prometheus").map(|b| b.name), Some("aviary/prometheus"));
        assert_eq!(find("aviary/expr").map(|b| b.kind), Some(PluginKind::Condition));
        assert_eq!(find("aviary/judge").map(|b| b.kind), Some(PluginKind::Condition));
        assert!(find("datadog-nope").is_none());
    }

    #[test]
    fn a_provider_may_reach_exactly_the_host_in_its_config() {
        let web = find("web").unwrap();
        let hosts = web.default_hosts(&serde_json::json!({"url": "http://127.0.0.1:8080/metrics"}));
        assert!(hosts.allows("127.0.0.1", 8080));
        assert!(!hosts.allows("127.0.0.1", 8081));
        assert!(!hosts.allows("127.0.0.2", 8080));
        let prom = find("prometheus").unwrap();
        assert!(
            prom.default_hosts(&serde_json::json!({"address": "https://prom.example"})).allows("prom.example", 443)
        );
        assert!(prom.default_hosts(&serde_json::json!({"query": "up"})).is_empty());
        let datadog = find("datadog").unwrap();
        let site = datadog.default_hosts(&serde_json::json!({"query": "q"}));
        assert!(site.allows("api.datadoghq.com", 443) && !site.allows("api.datadoghq.eu", 443));
        assert!(
            datadog
                .default_hosts(&serde_json::json!({"address": "https://api.datadoghq.eu"}))
                .allows("api.datadoghq.eu", 443)
        );
    }

    #[test]
    fn argos_graphite_influxdb_wavefront_and_newrelic_reach_their_configured_host() {
        let graphite = find("graphite").unwrap();
        assert!(
            graphite.default_hosts(&serde_json::json!({"address": "http://graphite:8080"})).allows("graphite", 8080)
        );
        let influx = find("aviary/influxdb").unwrap();
        assert!(
            influx
                .default_hosts(&serde_json::json!({"address": "https://influx.example"}))
                .allows("influx.example", 443)
        );
        let wavefront = find("wavefront").unwrap();
        let bare = wavefront.default_hosts(&serde_json::json!({"address": "acme.wavefront.com"}));
        assert!(bare.allows("acme.wavefront.com", 443) && !bare.allows("acme.wavefront.com", 80));
        assert!(wavefront.default_hosts(&serde_json::json!({"address": "http://127.0.0.1:9"})).allows("127.0.0.1", 9));
        let newrelic = find("newRelic").unwrap();
        assert!(newrelic.default_hosts(&serde_json::json!({})).allows("api.newrelic.com", 443));
        let eu =
            newrelic.default_hosts(&serde_json::json!({"baseUrlNerdgraph": "https://api.eu.newrelic.com/graphql"}));
        assert!(eu.allows("api.eu.newrelic.com", 443) && !eu.allows("api.newrelic.com", 443));
    }

    #[test]
    fn argos_kayenta_and_skywalking_reach_only_their_address() {
        for (argo, name) in [("kayenta", "aviary/kayenta"), ("skywalking", "aviary/skywalking")] {
            let b = find(argo).unwrap();
            assert_eq!(b.name, name);
            let hosts = b.default_hosts(&serde_json::json!({"address": "http://judge.example:8090"}));
            assert!(hosts.allows("judge.example", 8090) && !hosts.allows("judge.example", 80), "{name}");
            assert!(b.default_hosts(&serde_json::json!({})).is_empty(), "{name}: no address, no network");
        }
    }

    #[test]
    fn every_builtin_is_a_component_with_valid_grants() {
        for b in BUILTINS {
            assert_eq!(&b.bytes[..8], b"\0asm\x0d\0\x01\0", "{} is not a component", b.name);
            assert_eq!(b.grants().is_empty(), b.kubernetes.is_empty(), "{}: a grant is invalid", b.name);
        }
    }

    #[test]
    fn wait_for_http_is_a_step_that_reaches_the_host_of_its_url_only() {
        let step = find("aviary/wait-for-http").unwrap();
        assert_eq!((step.kind, step.argo_name), (PluginKind::Step, None));
        assert!(step.kubernetes.is_empty() && step.grants().is_empty());
        let hosts = step.default_hosts(&serde_json::json!({"url": "http://web-canary.shop.svc:8080/healthz"}));
        assert!(hosts.allows("web-canary.shop.svc", 8080));
        assert!(!hosts.allows("web-canary.shop.svc", 80));
        assert!(step.default_hosts(&serde_json::json!({})).is_empty());
    }

    #[test]
    fn cloudwatch_reaches_the_endpoint_the_controller_gives_it() {
        let cw = find("cloudWatch").unwrap();
        assert_eq!(cw.name, "aviary/cloudwatch");
        let hosts = cw.default_hosts(&serde_json::json!({"endpoint": "https://monitoring.eu-west-1.amazonaws.com"}));
        assert!(hosts.allows("monitoring.eu-west-1.amazonaws.com", 443));
        assert!(!hosts.allows("monitoring.us-east-1.amazonaws.com", 443));
        assert!(cw.default_hosts(&serde_json::json!({"region": "eu-west-1"})).is_empty());
    }
}

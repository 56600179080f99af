//! `aviary/pagerdutyv2`: Argo notifications-engine's `pagerdutyv2` service
//! (`pkg/services/pagerdutyv2.go`, over go-pagerduty's `ManageEventWithContext`): triggers a
//! PagerDuty incident through the Events API v2.
//!
//! ```yaml
//! # argo-rollouts-notification-configmap
//! service.pagerdutyv2: |
//!   serviceKeys:
//!     my-service: $pagerduty-routing-key
//! template.rollout-aborted: |
//!   message: Rollout {{.rollout.metadata.name}} has been aborted.
//!   pagerdutyv2:
//!     summary: "Rollout {{.rollout.metadata.name}} is aborted."
//!     severity: "critical"
//!     source: "{{.rollout.metadata.name}}"
//! # a subscription: notifications.argoproj.io/subscribe.on-rollout-aborted.pagerdutyv2: my-service
//! ```
//!
//! # Config (`service.pagerdutyv2`)
//!
//! - `serviceKeys`: `{<recipient>: <routing key>}`: the integration (routing) key of each
//!   recipient a subscription may name (values are usually `$key`s of the notification secret,
//!   resolved by the host). A recipient without one is
//!   `no API key configured for recipient <recipient>`, as in Argo.
//! - `apiURL` (an Aviary addition, absent from Argo, whose library has the endpoint built in):
//!   the Events API's base URL, default `https://events.pagerduty.com`; the event goes to
//!   `<apiURL>/v2/enqueue` (a trailing `/` of `apiURL` is dropped). Its host must be allowed by
//!   the plugin's registry entry (the host grants a first-party notifier the host of its `apiURL`,
//!   or events.pagerduty.com); it exists so that tests can point the service at loopback.
//! - Any other field is ignored, as Go's `encoding/json` ignores it.
//!
//! # The request
//!
//! As Argo's `buildEvent` and go-pagerduty's `ManageEventWithContext`: `POST <apiURL>/v2/enqueue`
//! with `User-Agent: go-pagerduty/1.8.0` and `Content-Type: application/json`, and the body
//! (go-pagerduty's `V2Event`, fields in its order, encoded as Go's `encoding/json` does, `<`, `>`
//! and `&` escaped as `\u003c`, `\u003e` and `\u0026`):
//!
//! ```json
//! {"routing_key":"<serviceKeys[recipient]>","event_action":"trigger","dedup_key":"<dedupKey>",
//!  "client":"ArgoCD","client_url":"<url>",
//!  "payload":{"summary":"<summary>","source":"<source>","severity":"<severity>",
//!             "component":"<component>","group":"<group>","class":"<class>"}}
//! ```
//!
//! from the template's rendered `pagerdutyv2` block (`summary`, `severity`, `source`,
//! `component`, `group`, `class`, `url`, `dedupKey`). `summary`, `source` and `severity` are
//! always sent (even empty); `dedup_key`, `client_url`, `component`, `group` and `class` only
//! when not empty. `client` is always `ArgoCD`, as Argo sends it. A template without a
//! `pagerdutyv2` block is `no config found for pagerdutyv2`; the message is not sent.
//!
//! # The answer
//!
//! A 2xx answer is delivered (go-pagerduty accepts exactly 202, which is what PagerDuty answers;
//! its body is only logged). Any other is
//! `request to POST <url> has failed with error code <status> : <body>` (the body's first KiB,
//! PagerDuty's `{"status", "message", "errors"}`); no response is `Post "<url>": <why>`. Nothing
//! is retried, as in Argo.
//!
//! # Not supported
//!
//! Only `trigger` events are sent, as Argo sends only those: the Events API's other fields
//! (`images`, `links`, `timestamp`, `custom_details`) are never set by Argo and are not here.

use aviary_plugin_sdk::export_notifier;
use aviary_plugin_sdk::http::{self, Request, Response};
use aviary_plugin_sdk::notifier::{Error, Notification, Notifier, api_base, log, post_answer};
pub use aviary_plugin_sdk::notifier::{MAX_QUOTED_BODY, quote_body};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The Events API's base URL when the config has no `apiURL`: go-pagerduty's endpoint's.
pub const DEFAULT_API_URL: &str = "https://events.pagerduty.com";
/// go-pagerduty's `User-Agent` (its version 1.8.0 is the one Argo builds with).
pub const USER_AGENT: &str = "go-pagerduty/1.8.0";

/// The service's config: `service.pagerdutyv2`, as Argo's `PagerDutyV2Options` plus `apiURL`.
/// Unknown fields are ignored; `null` reads as absent, as in Go.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// The routing key of each recipient.
    #[serde(default)]
    pub service_keys: Option<BTreeMap<String, String>>,
    /// The Events API's base URL; absent or empty: [`DEFAULT_API_URL`].
    #[serde(default, rename = "apiURL")]
    pub api_url: Option<String>,
}

impl Config {
    /// The enqueue endpoint: `<apiURL>/v2/enqueue`.
    pub fn endpoint(&self) -> String {
        let base = api_base(self.api_url.as_deref(), DEFAULT_API_URL);
        format!("{}/v2/enqueue", base.trim_end_matches('/'))
    }

    /// The routing key of `recipient`, or Argo's error when the config has none for it.
    pub fn routing_key(&self, recipient: &str) -> Result<String, Error> {
        self.service_keys
            .as_ref()
            .and_then(|keys| keys.get(recipient))
            .cloned()
            .ok_or_else(|| Error(format!("no API key configured for recipient {recipient}")))
    }
}

/// The template's `pagerdutyv2` block, as Argo's `PagerDutyV2Notification` (rendered).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PagerDutyV2Template {
    /// The incident's summary.
    #[serde(default)]
    pub summary: Option<String>,
    /// `critical`, `error`, `warning` or `info` (not checked here, as in Argo).
    #[serde(default)]
    pub severity: Option<String>,
    /// The affected system.
    #[serde(default)]
    pub source: Option<String>,
    /// The affected component.
    #[serde(default)]
    pub component: Option<String>,
    /// The logical group of the source.
    #[serde(default)]
    pub group: Option<String>,
    /// The event's class or type.
    #[serde(default)]
    pub class: Option<String>,
    /// A link sent as the event's `client_url`.
    #[serde(default)]
    pub url: Option<String>,
    /// The deduplication key.
    #[serde(default)]
    pub dedup_key: Option<String>,
}

/// go-pagerduty's `V2Payload`, the fields Argo sets, in the library's order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Payload {
    /// The summary (always sent).
    pub summary: String,
    /// The source (always sent).
    pub source: String,
    /// The severity (always sent).
    pub severity: String,
    /// The component, when not empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub component: String,
    /// The group, when not empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub group: String,
    /// The class, when not empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub class: String,
}

/// go-pagerduty's `V2Event`, the fields Argo sets, in the library's order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Event {
    /// The recipient's routing key.
    pub routing_key: String,
    /// Always `trigger`.
    pub event_action: String,
    /// The deduplication key, when not empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub dedup_key: String,
    /// Always `ArgoCD`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client: String,
    /// The template's `url`, when not empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_url: String,
    /// The payload.
    pub payload: Payload,
}

pub use aviary_plugin_sdk::notifier::template_block;

pub use aviary_plugin_sdk::notifier::go_json;

/// The event of the template's block `block` for the routing key `routing_key`, as Argo's
/// `buildEvent`.
pub fn build_event(routing_key: &str, block: &PagerDutyV2Template) -> Event {
    let text = |s: &Option<String>| s.clone().unwrap_or_default();
    Event {
        routing_key: routing_key.to_string(),
        event_action: "trigger".to_string(),
        dedup_key: text(&block.dedup_key),
        client: "ArgoCD".to_string(),
        client_url: text(&block.url),
        payload: Payload {
            summary: text(&block.summary),
            source: text(&block.source),
            severity: text(&block.severity),
            component: text(&block.component),
            group: text(&block.group),
            class: text(&block.class),
        },
    }
}

/// One enqueue call, before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enqueue {
    /// The endpoint.
    pub url: String,
    /// The event.
    pub event: Event,
}

impl Enqueue {
    /// The call for `notification` under `config`, checked as Argo's `Send` checks it: the
    /// recipient's routing key first, then the template's block.
    pub fn new(notification: &Notification, config: &Config) -> Result<Enqueue, Error> {
        let routing_key = config.routing_key(&notification.recipient)?;
        let block: PagerDutyV2Template = template_block(notification, "pagerdutyv2")?
            .ok_or_else(|| Error::msg("no config found for pagerdutyv2"))?;
        Ok(Enqueue { url: config.endpoint(), event: build_event(&routing_key, &block) })
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        go_json(&self.event)
    }

    /// The HTTP request.
    pub fn request(&self) -> Request {
        Request::post(self.url.clone())
            .header("User-Agent", USER_AGENT)
            .header("Content-Type", "application/json")
            .body(self.body().into_bytes())
    }
}

/// PagerDuty's answer, the part that is logged.
#[derive(Debug, Default, Deserialize)]
struct Answer {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// The verdict on the answer to a call to `url`: `Ok` for a 2xx, an error naming the status and
/// the body otherwise.
pub fn verdict(url: &str, outcome: Result<Response, http::Error>) -> Result<(), Error> {
    let response = post_answer(url, outcome)?;
    let answer = response.json::<Answer>().unwrap_or_default();
    log::debug(&format!(
        "PagerDuty event triggered successfully. Status: {}, Message: {}",
        answer.status.unwrap_or_default(),
        answer.message.unwrap_or_default()
    ));
    Ok(())
}

/// The service.
pub struct PagerDutyV2;

impl Notifier for PagerDutyV2 {
    fn send(notification: Notification) -> Result<(), Error> {
        let config: Config = notification.config_as()?;
        let enqueue = Enqueue::new(&notification, &config)?;
        verdict(&enqueue.url, enqueue.request().send())
    }
}

export_notifier!(PagerDutyV2);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn notification(config: Value, template: Value) -> Notification {
        Notification::new("pagerdutyv2", "pagerdutyv2")
            .with_config(config)
            .with_template(template)
            .with_recipient("test-service")
    }

    fn enqueue(config: Value, template: Value) -> Result<Enqueue, Error> {
        let n = notification(config, template);
        Enqueue::new(&n, &n.config_as()?)
    }

    fn response(status: u16, body: &str) -> Response {
        Response { status, headers: Vec::new(), body: body.as_bytes().to_vec() }
    }

    fn keys() -> Value {
        json!({"serviceKeys": {"test-service": "routing-key"}})
    }

    #[test]
    fn configs_parse_and_default_to_pagerduty() {
        let config: Config = notification(
            json!({"serviceKeys": {"a": "k"}, "apiURL": "http://127.0.0.1:9/", "somethingNew": 1}),
            json!({}),
        )
        .config_as()
        .unwrap();
        assert_eq!(config.endpoint(), "http://127.0.0.1:9/v2/enqueue");
        assert_eq!(config.routing_key("a"), Ok("k".to_string()));
        let absent: Config = notification(Value::Null, json!({})).config_as().unwrap();
        assert_eq!(absent.endpoint(), "https://events.pagerduty.com/v2/enqueue");
        let empty = Config { api_url: Some(String::new()), ..Config::default() };
        assert_eq!(empty.endpoint(), "https://events.pagerduty.com/v2/enqueue");
        let wrong = notification(json!({"serviceKeys": {"a": 1}}), json!({})).config_as::<Config>().unwrap_err().0;
        assert!(wrong.starts_with("invalid config: serviceKeys.a: invalid type: integer `1`"), "{wrong}");
        let wrong = notification(json!({"serviceKeys": ["a"]}), json!({})).config_as::<Config>().unwrap_err().0;
        assert!(wrong.starts_with("invalid config: serviceKeys: invalid type: sequence"), "{wrong}");
    }

    /// Argo's `TestSend_PagerDuty/builds event with full payload`, byte for byte as go-pagerduty
    /// sends it (checked against the Go code).
    #[test]
    fn the_full_event_is_go_pagerdutys() {
        let template = json!({"message": "message", "pagerdutyv2": {
            "summary": "test-app <failed> & deployed", "severity": "error", "source": "test-app",
            "component": "test-component", "group": "platform", "class": "test-class",
            "url": "https://www.example.com/", "dedupKey": "app-123",
        }});
        let e = enqueue(keys(), template).unwrap();
        assert_eq!(e.event.routing_key, "routing-key");
        assert_eq!(e.event.payload.summary, "test-app <failed> & deployed");
        assert_eq!(e.event.client_url, "https://www.example.com/");
        assert_eq!(e.event.dedup_key, "app-123");
        let body = r#"{"routing_key":"routing-key","event_action":"trigger","dedup_key":"app-123","client":"ArgoCD","client_url":"https://www.example.com/","payload":{"summary":"test-app \u003cfailed\u003e \u0026 deployed","source":"test-app","severity":"error","component":"test-component","group":"platform","class":"test-class"}}"#;
        assert_eq!(e.body(), body);
        assert_eq!(
            e.request(),
            Request::post("https://events.pagerduty.com/v2/enqueue")
                .header("User-Agent", "go-pagerduty/1.8.0")
                .header("Content-Type", "application/json")
                .body(body)
        );
    }

    /// Argo's templater test `only required parameters specified`: the optional fields are left
    /// out of the body.
    #[test]
    fn only_the_required_fields_are_sent_when_the_others_are_empty() {
        let template = json!({"pagerdutyv2": {
            "summary": "s", "severity": "critical", "source": "src", "component": "", "group": null,
            "url": "", "dedupKey": "",
        }});
        let e = enqueue(keys(), template).unwrap();
        assert_eq!(
            e.body(),
            r#"{"routing_key":"routing-key","event_action":"trigger","client":"ArgoCD","payload":{"summary":"s","source":"src","severity":"critical"}}"#
        );
        // Even the required ones empty are sent (PagerDuty rejects them, as it does Argo's).
        let e = enqueue(keys(), json!({"pagerdutyv2": {}})).unwrap();
        assert_eq!(
            e.body(),
            r#"{"routing_key":"routing-key","event_action":"trigger","client":"ArgoCD","payload":{"summary":"","source":"","severity":""}}"#
        );
    }

    /// Argo's `missing config` and `missing apiKey`, checked in Argo's order.
    #[test]
    fn a_missing_block_or_key_is_argos_error() {
        let err = enqueue(keys(), json!({"message": "message"})).unwrap_err();
        assert_eq!(err.0, "no config found for pagerdutyv2");
        let err = enqueue(keys(), json!({"message": "message", "pagerdutyv2": null})).unwrap_err();
        assert_eq!(err.0, "no config found for pagerdutyv2");
        let err = enqueue(json!({}), json!({"message": "message"})).unwrap_err();
        assert_eq!(err.0, "no API key configured for recipient test-service");
        let err = enqueue(json!({"serviceKeys": {"other": "k"}}), json!({"pagerdutyv2": {}})).unwrap_err();
        assert_eq!(err.0, "no API key configured for recipient test-service");
    }

    #[test]
    fn a_bad_block_names_the_field() {
        let err = enqueue(keys(), json!({"pagerdutyv2": {"summary": 5}})).unwrap_err().0;
        assert!(err.starts_with("invalid template: pagerdutyv2: summary: invalid type: integer `5`"), "{err}");
        let err = enqueue(keys(), json!({"pagerdutyv2": "x"})).unwrap_err().0;
        assert!(err.starts_with("invalid template: pagerdutyv2: invalid type: string \"x\""), "{err}");
    }

    #[test]
    fn the_api_url_moves_the_endpoint() {
        let e = enqueue(
            json!({"serviceKeys": {"test-service": "k"}, "apiURL": "http://127.0.0.1:8080"}),
            json!({"pagerdutyv2": {"summary": "s"}}),
        )
        .unwrap();
        assert_eq!(e.url, "http://127.0.0.1:8080/v2/enqueue");
        assert_eq!(
            e.request(),
            Request::post("http://127.0.0.1:8080/v2/enqueue")
                .header("User-Agent", "go-pagerduty/1.8.0")
                .header("Content-Type", "application/json")
                .body(e.body())
        );
    }

    #[test]
    fn json_is_escaped_as_go_escapes_it() {
        assert_eq!(go_json(&"a<b>&c\u{2028}\u{2029}\"\n"), r#""a\u003cb\u003e\u0026c\u2028\u2029\"\n""#);
    }

    #[test]
    fn answers_are_judged_by_their_status() {
        let url = "https://events.pagerduty.com/v2/enqueue";
        let accepted = r#"{"status":"success","message":"Event processed","dedup_key":"x"}"#;
        assert_eq!(verdict(url, Ok(response(202, accepted))), Ok(()));
        assert_eq!(verdict(url, Ok(response(200, ""))), Ok(()));
        let invalid = r#"{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect (should be 32 characters)"]}"#;
        assert_eq!(
            verdict(url, Ok(response(400, invalid))).unwrap_err().0,
            format!("request to POST {url} has failed with error code 400 : {invalid}")
        );
        let long = "x".repeat(3000);
        let err = verdict(url, Ok(response(500, &long))).unwrap_err().0;
        assert_eq!(err.len(), format!("request to POST {url} has failed with error code 500 : ").len() + 1024);
        assert_eq!(
            verdict(url, Err(http::Error::Transport("connection refused".into()))).unwrap_err().0,
            "Post \"https://events.pagerduty.com/v2/enqueue\": transport error: connection refused"
        );
    }

    #[test]
    fn quoted_bodies_are_cut_at_a_character() {
        let long = "é".repeat(600);
        let quoted = quote_body(long.as_bytes());
        assert_eq!(quoted.len(), 1024);
        assert!(long.starts_with(&quoted));
    }
}

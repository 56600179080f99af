//! `aviary/opsgenie`: Argo notifications-engine's `opsgenie` service (`pkg/services/opsgenie.go`,
//! over opsgenie-go-sdk-v2's `alert.Client.Create`): creates an Opsgenie alert for a team.
//!
//! ```yaml
//! # argo-rollouts-notification-configmap
//! service.opsgenie: |
//!   apiUrl: api.opsgenie.com
//!   apiKeys:
//!     my-team: $opsgenie-api-key
//! template.rollout-aborted: |
//!   message: Rollout {{.rollout.metadata.name}} has been aborted.
//!   opsgenie:
//!     description: The rollout {{.rollout.metadata.name}} was aborted.
//!     priority: P1
//!     tags: [rollouts]
//! # a subscription: notifications.argoproj.io/subscribe.on-rollout-aborted.opsgenie: my-team
//! ```
//!
//! # Config (`service.opsgenie`)
//!
//! - `apiUrl`: where the Alert API is, default `api.opsgenie.com`. As in Argo it is a host
//!   (`api.opsgenie.com`, `api.eu.opsgenie.com`, `host:port`), reached over https; Aviary also
//!   takes a URL with a scheme (`http://127.0.0.1:8080`, a trailing `/` dropped), which is how a
//!   test points it at loopback. The alert goes to `https://<apiUrl>/v2/alerts` (or
//!   `<apiUrl>/v2/alerts` for a URL). Its host must be allowed by the plugin's registry entry (the
//!   host grants a first-party notifier the host of its `apiUrl`, or api.opsgenie.com).
//!   Not reproduced: the SDK's "test purposes only" rule that sends to a host without `api` in its
//!   name over plain http; write `http://...` for that.
//! - `apiKeys`: `{<recipient>: <API key>}`: the integration key of each team a subscription may
//!   name (usually `$key`s of the notification secret, resolved by the host). A recipient without
//!   one is `no API key configured for recipient <recipient>`, as in Argo; an empty key is the
//!   SDK's `API key cannot be blank.` (Argo ignores that error and crashes).
//! - `insecureSkipVerify`: accepted, but only `false` is honoured: the host always verifies TLS
//!   certificates, so `true` logs a warning and the request is still verified.
//! - Accepted and ignored: `maxIdleConns`, `maxIdleConnsPerHost`, `maxConnsPerHost`,
//!   `idleConnTimeout` (Argo's client tuning), and any other unknown field, as Go's
//!   `encoding/json` ignores it.
//!
//! # The request
//!
//! As Argo's `Send` and the SDK's `Exec`: `POST <endpoint>` with
//! `Content-Type: application/json; charset=utf-8`, `Accept: application/json`,
//! `Authorization: GenieKey <apiKeys[recipient]>` and a `User-Agent` of the SDK's form
//! ([`USER_AGENT`]), and the body the SDK's `CreateAlertRequest` (fields in its order, encoded as
//! Go's `json.Encoder` does: `<`, `>` and `&` escaped as `\u003c`, `\u003e` and `\u0026`, and a
//! final newline):
//!
//! ```json
//! {"message":"<message>","alias":"<alias>","description":"<description>",
//!  "responders":[{"type":"team","id":"<recipient>","username":""}],
//!  "visibleTo":[{"type":"user","id":"<id>","username":""}],"actions":["..."],"tags":["..."],
//!  "details":{"<key>":"<value>"},"entity":"<entity>","source":"Argo CD","priority":"<priority>",
//!  "user":"<user>","note":"<note>"}
//! ```
//!
//! - `message` is the template's `message`; an empty one is the SDK's
//!   `message can not be empty`, and nothing is sent.
//! - The template's rendered `opsgenie` block gives `description`, `priority`, `alias`, `note`,
//!   `actions`, `tags`, `details` (a string map, sent with its keys sorted), `entity`, `user` and
//!   `visibleTo` (`[{type, id, name, username}]`); each is sent only when not empty. With a block,
//!   an empty `description` is `opsgenie notification description is missing`, as in Argo;
//!   without one, the message alone is sent.
//! - The responder is always the recipient as a team, and the source `Argo CD`, as Argo sends
//!   them. A responder's `type` and `username` are always written (even empty) and its `name` and
//!   `id` only when not empty: the SDK's JSON tags (`"type, omitempty"`, with a space, is not
//!   `omitempty` for Go).
//!
//! # The answer
//!
//! A 2xx answer is delivered (Opsgenie answers 202; the SDK's reading of the body, its request
//! id, is not needed). As the SDK's retrying client does, a transport error, a 429 and a 5xx other
//! than 501 are retried (the SDK's 4 retries at most), waiting 1 s, then 2 s (a `Retry-After` in
//! seconds on a 429 or 503 instead, capped at 2 s), while the waits add up to at most 4 s: the
//! call has a deadline. Not retried: a timeout and a host the registry entry does not allow.
//! When the answer is final, any status but a 2xx is
//! `request to POST <url> has failed with error code <status> : <body>` (the body's first KiB,
//! Opsgenie's `{"message", "errors", "took", "requestId"}`), and no response
//! `POST <url> giving up after <n> attempt(s): <why>`.
//!
//! # Not supported
//!
//! The SDK's proxy settings and its follow-up reading of the request's status are not used by
//! Argo and are not here.

use std::collections::BTreeMap;
use std::time::Duration;

use aviary_plugin_sdk::export_notifier;
use aviary_plugin_sdk::http::{self, Request, Response};
use aviary_plugin_sdk::notifier::retry;
pub use aviary_plugin_sdk::notifier::retry::{FIRST_WAIT, MAX_WAIT, WAIT_BUDGET, backoff, retry_after, retryable};
use aviary_plugin_sdk::notifier::{Error, Notification, Notifier, api_base, warn_insecure_skip_verify};
pub use aviary_plugin_sdk::notifier::{MAX_QUOTED_BODY, quote_body};
use serde::{Deserialize, Serialize};

/// The Alert API's host when the config has no `apiUrl`: the SDK's `API_URL`.
pub const DEFAULT_API_URL: &str = "api.opsgenie.com";
/// The `User-Agent`, of the SDK's form (`opsgenie-go-sdk-2.0.0 <go version> (<os>/<arch>)`).
pub const USER_AGENT: &str = "opsgenie-go-sdk-2.0.0 aviary (wasm32/wasip2)";
/// The SDK's retries after the first attempt.
pub const RETRY_MAX: u32 = 4;

/// The service's config: `service.opsgenie`, as Argo's `OpsgenieOptions`. Fields Aviary does not
/// implement are accepted and ignored (see the crate docs); `null` reads as absent, as in Go.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// The Alert API's host (or, in Aviary, its URL); absent or empty: [`DEFAULT_API_URL`].
    #[serde(default)]
    pub api_url: Option<String>,
    /// The API key of each recipient.
    #[serde(default)]
    pub api_keys: Option<BTreeMap<String, String>>,
    /// Argo's switch to skip TLS verification: accepted, never honoured (the host verifies).
    #[serde(default)]
    pub insecure_skip_verify: Option<bool>,
}

impl Config {
    /// The alerts endpoint: `https://<apiUrl>/v2/alerts` for a host, `<apiUrl>/v2/alerts` for a
    /// URL with a scheme.
    pub fn endpoint(&self) -> String {
        let base = api_base(self.api_url.as_deref().map(str::trim), DEFAULT_API_URL);
        let base = base.trim_end_matches('/');
        if base.contains("://") { format!("{base}/v2/alerts") } else { format!("https://{base}/v2/alerts") }
    }

    /// The API key of `recipient`, or Argo's (and the SDK's) error.
    pub fn api_key(&self, recipient: &str) -> Result<String, Error> {
        match self.api_keys.as_ref().and_then(|keys| keys.get(recipient)) {
            None => Err(Error(format!("no API key configured for recipient {recipient}"))),
            Some(key) if key.is_empty() => Err(Error::msg("API key cannot be blank.")),
            Some(key) => Ok(key.clone()),
        }
    }
}

use aviary_plugin_sdk::notifier::or_default;

/// An alert's responder, as the SDK's `alert.Responder`: read from the template's `visibleTo`
/// and written with the SDK's JSON tags (`type` and `username` always, `name` and `id` when not
/// empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct Responder {
    /// `user`, `team`, `escalation` or `schedule`.
    #[serde(rename = "type", deserialize_with = "or_default")]
    pub kind: String,
    /// The responder's name.
    #[serde(deserialize_with = "or_default", skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The responder's id.
    #[serde(deserialize_with = "or_default", skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// The user's name.
    #[serde(deserialize_with = "or_default")]
    pub username: String,
}

/// The template's `opsgenie` block, as Argo's `OpsgenieNotification` (rendered).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OpsgenieTemplate {
    /// The alert's description (required with a block).
    #[serde(deserialize_with = "or_default")]
    pub description: String,
    /// `P1` to `P5` (not checked here, as in Argo).
    #[serde(deserialize_with = "or_default")]
    pub priority: String,
    /// The alert's alias (Opsgenie deduplicates by it).
    #[serde(deserialize_with = "or_default")]
    pub alias: String,
    /// A note added to the alert.
    #[serde(deserialize_with = "or_default")]
    pub note: String,
    /// Custom actions.
    #[serde(deserialize_with = "or_default")]
    pub actions: Vec<String>,
    /// Tags.
    #[serde(deserialize_with = "or_default")]
    pub tags: Vec<String>,
    /// Custom properties.
    #[serde(deserialize_with = "or_default")]
    pub details: BTreeMap<String, String>,
    /// The alert's entity.
    #[serde(deserialize_with = "or_default")]
    pub entity: String,
    /// Who may see the alert.
    #[serde(deserialize_with = "or_default")]
    pub visible_to: Vec<Responder>,
    /// The user shown as the alert's creator.
    #[serde(deserialize_with = "or_default")]
    pub user: String,
}

/// The SDK's `CreateAlertRequest`, the fields Argo sets, in the SDK's order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// The message (always sent).
    pub message: String,
    /// The alias, when not empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub alias: String,
    /// The description, when not empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The responders: the recipient as a team.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub responders: Vec<Responder>,
    /// Who may see the alert, when not empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub visible_to: Vec<Responder>,
    /// Custom actions, when not empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<String>,
    /// Tags, when not empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Custom properties, when not empty.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, String>,
    /// The entity, when not empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub entity: String,
    /// Always `Argo CD`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source: String,
    /// The priority, when not empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub priority: String,
    /// The user, when not empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    /// The note, when not empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
}

pub use aviary_plugin_sdk::notifier::template_block;

pub use aviary_plugin_sdk::notifier::go_json;

/// The alert of `notification` (for its recipient), as Argo's `Send` builds it and the SDK checks
/// it.
pub fn build_alert(notification: &Notification) -> Result<Alert, Error> {
    let mut alert = Alert {
        message: notification.message().to_string(),
        responders: vec![Responder { kind: "team".into(), id: notification.recipient.clone(), ..Responder::default() }],
        source: "Argo CD".to_string(),
        ..Alert::default()
    };
    if let Some(block) = template_block::<OpsgenieTemplate>(notification, "opsgenie")? {
        if block.description.is_empty() {
            return Err(Error::msg("opsgenie notification description is missing"));
        }
        alert.description = block.description;
        alert.alias = block.alias;
        alert.note = block.note;
        alert.entity = block.entity;
        alert.user = block.user;
        alert.priority = block.priority;
        alert.actions = block.actions;
        alert.tags = block.tags;
        alert.details = block.details;
        alert.visible_to = block.visible_to;
    }
    if alert.message.is_empty() {
        return Err(Error::msg("message can not be empty"));
    }
    Ok(alert)
}

/// One alert creation, before it is sent (and each time it is retried).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Create {
    /// The endpoint.
    pub url: String,
    /// The recipient's API key.
    pub api_key: String,
    /// The alert.
    pub alert: Alert,
}

impl Create {
    /// The creation for `notification` under `config`, checked in Argo's order: the recipient's
    /// key, then the template's block, then the message.
    pub fn new(notification: &Notification, config: &Config) -> Result<Create, Error> {
        let api_key = config.api_key(&notification.recipient)?;
        Ok(Create { url: config.endpoint(), api_key, alert: build_alert(notification)? })
    }

    /// The JSON body, with the final newline of Go's `json.Encoder`.
    pub fn body(&self) -> String {
        go_json(&self.alert) + "\n"
    }

    /// The HTTP request, built afresh for each attempt.
    pub fn request(&self) -> Request {
        Request::post(self.url.clone())
            .header("Content-Type", "application/json; charset=utf-8")
            .header("Accept", "application/json")
            .header("Authorization", format!("GenieKey {}", self.api_key))
            .header("User-Agent", USER_AGENT)
            .body(self.body().into_bytes())
    }
}

/// The verdict on the last attempt's outcome, after `attempts` attempts: the SDK's
/// [`retry::verdict`] at `POST <url>`.
pub fn verdict(url: &str, outcome: Result<Response, http::Error>, attempts: u32) -> Result<(), Error> {
    retry::verdict(&format!("POST {url}"), outcome, attempts)
}

/// Sends `create` with `send`, retrying as the crate docs say (up to [`RETRY_MAX`] retries) and
/// waiting with `sleep` between attempts: the whole of a notification's delivery, with the
/// network and the clock passed in so that tests run it natively.
pub fn deliver(
    create: &Create,
    send: impl FnMut(Request) -> Result<Response, http::Error>,
    sleep: impl FnMut(Duration),
) -> Result<(), Error> {
    retry::deliver(&format!("POST {}", create.url), RETRY_MAX, || create.request(), send, sleep)
}

/// The service.
pub struct Opsgenie;

impl Notifier for Opsgenie {
    fn send(notification: Notification) -> Result<(), Error> {
        let config: Config = notification.config_as()?;
        let create = Create::new(&notification, &config)?;
        warn_insecure_skip_verify("opsgenie", config.insecure_skip_verify);
        deliver(&create, Request::send, std::thread::sleep)
    }
}

export_notifier!(Opsgenie);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn notification(config: Value, template: Value) -> Notification {
        Notification::new("opsgenie", "opsgenie")
            .with_config(config)
            .with_template(template)
            .with_recipient("testRecipient")
    }

    fn keys() -> Value {
        json!({"apiKeys": {"testRecipient": "testApiKey"}})
    }

    fn create(config: Value, template: Value) -> Result<Create, Error> {
        let n = notification(config, template);
        Create::new(&n, &n.config_as()?)
    }

    fn response(status: u16, body: &str) -> Response {
        Response { status, headers: Vec::new(), body: body.as_bytes().to_vec() }
    }

    fn request(url: &str, body: &str) -> Request {
        Request::post(url)
            .header("Content-Type", "application/json; charset=utf-8")
            .header("Accept", "application/json")
            .header("Authorization", "GenieKey testApiKey")
            .header("User-Agent", USER_AGENT)
            .body(body)
    }

    #[test]
    fn configs_parse_with_argo_fields() {
        let config: Config = notification(
            json!({
                "apiUrl": "api.eu.opsgenie.com", "apiKeys": {"a": "k"}, "insecureSkipVerify": false,
                "maxIdleConns": 3, "idleConnTimeout": "90s", "somethingNew": [1],
            }),
            json!({}),
        )
        .config_as()
        .unwrap();
        assert_eq!(config.endpoint(), "https://api.eu.opsgenie.com/v2/alerts");
        assert_eq!(config.api_key("a"), Ok("k".to_string()));
        let absent: Config = notification(Value::Null, json!({})).config_as().unwrap();
        assert_eq!(absent, Config::default());
        let wrong = notification(json!({"apiKeys": {"a": true}}), json!({})).config_as::<Config>().unwrap_err().0;
        assert!(wrong.starts_with("invalid config: apiKeys.a: invalid type: boolean `true`"), "{wrong}");
        let wrong = notification(json!({"apiUrl": 5}), json!({})).config_as::<Config>().unwrap_err().0;
        assert!(wrong.starts_with("invalid config: apiUrl: invalid type: integer `5`"), "{wrong}");
    }

    #[test]
    fn the_api_url_is_a_host_or_a_url() {
        let endpoint = |url: Option<&str>| Config { api_url: url.map(str::to_string), ..Config::default() }.endpoint();
        assert_eq!(endpoint(None), "https://api.opsgenie.com/v2/alerts");
        assert_eq!(endpoint(Some("")), "https://api.opsgenie.com/v2/alerts");
        assert_eq!(endpoint(Some("api.opsgenie.com")), "https://api.opsgenie.com/v2/alerts");
        assert_eq!(endpoint(Some("127.0.0.1:8443")), "https://127.0.0.1:8443/v2/alerts");
        assert_eq!(endpoint(Some("http://127.0.0.1:8080/")), "http://127.0.0.1:8080/v2/alerts");
        assert_eq!(endpoint(Some("https://opsgenie.proxy/base")), "https://opsgenie.proxy/base/v2/alerts");
    }

    /// Argo's `TestOpsgenie_SendNotification_MissingAPIKey`, and the SDK's blank key.
    #[test]
    fn a_recipient_without_a_key_is_argos_error() {
        let err = create(json!({"apiUrl": "127.0.0.1:1", "apiKeys": {}}), json!({"message": "Test message"}));
        assert_eq!(err.unwrap_err().0, "no API key configured for recipient testRecipient");
        let err = create(json!({}), json!({"message": "m"})).unwrap_err();
        assert_eq!(err.0, "no API key configured for recipient testRecipient");
        let err = create(json!({"apiKeys": {"testRecipient": ""}}), json!({"message": "m"})).unwrap_err();
        assert_eq!(err.0, "API key cannot be blank.");
    }

    /// Argo's `WithMessageOnly` (whose mock refuses it: Argo's service itself sends the message
    /// alone, checked against the Go code).
    #[test]
    fn without_a_block_the_message_alone_is_sent() {
        let c = create(keys(), json!({"message": "Test <message>"})).unwrap();
        let body = "{\"message\":\"Test \\u003cmessage\\u003e\",\"responders\":[{\"type\":\"team\",\"id\":\"testRecipient\",\"username\":\"\"}],\"source\":\"Argo CD\"}\n";
        assert_eq!(c.body(), body);
        assert_eq!(c.request(), request("https://api.opsgenie.com/v2/alerts", body));
    }

    /// Argo's `WithDescriptionOnly` and `WithDescriptionAndPriority`.
    #[test]
    fn description_and_priority_are_sent() {
        let template = json!({"message": "Test message", "opsgenie": {"description": "Test Opsgenie alert: bar"}});
        let c = create(keys(), template).unwrap();
        assert_eq!(
            c.body(),
            "{\"message\":\"Test message\",\"description\":\"Test Opsgenie alert: bar\",\"responders\":[{\"type\":\"team\",\"id\":\"testRecipient\",\"username\":\"\"}],\"source\":\"Argo CD\"}\n"
        );
        let template = json!({"message": "Test message", "opsgenie": {"description": "d", "priority": "P1"}});
        let c = create(keys(), template).unwrap();
        assert_eq!(
            c.body(),
            "{\"message\":\"Test message\",\"description\":\"d\",\"responders\":[{\"type\":\"team\",\"id\":\"testRecipient\",\"username\":\"\"}],\"source\":\"Argo CD\",\"priority\":\"P1\"}\n"
        );
    }

    /// Argo's `WithAllFields`, byte for byte as the SDK sends it (checked against the Go code).
    #[test]
    fn all_fields_are_sent_in_the_sdks_order() {
        let template = json!({"message": "Test message", "opsgenie": {
            "description": "desc", "priority": "P1", "alias": "alias", "note": "note",
            "actions": ["a1", "a2"], "tags": ["t1"], "details": {"b": "2", "a": "1"},
            "entity": "ent", "user": "usr",
            "visibleTo": [{"type": "user", "id": "uid"}, {"type": "team", "name": "tn", "username": "un"}],
        }});
        let c =
            create(json!({"apiUrl": "http://127.0.0.1:8080", "apiKeys": {"testRecipient": "testApiKey"}}), template)
                .unwrap();
        let body = "{\"message\":\"Test message\",\"alias\":\"alias\",\"description\":\"desc\",\"responders\":[{\"type\":\"team\",\"id\":\"testRecipient\",\"username\":\"\"}],\"visibleTo\":[{\"type\":\"user\",\"id\":\"uid\",\"username\":\"\"},{\"type\":\"team\",\"name\":\"tn\",\"username\":\"un\"}],\"actions\":[\"a1\",\"a2\"],\"tags\":[\"t1\"],\"details\":{\"a\":\"1\",\"b\":\"2\"},\"entity\":\"ent\",\"source\":\"Argo CD\",\"priority\":\"P1\",\"user\":\"usr\",\"note\":\"note\"}\n";
        assert_eq!(c.body(), body);
        assert_eq!(c.request(), request("http://127.0.0.1:8080/v2/alerts", body));
    }

    #[test]
    fn empty_fields_are_left_out() {
        let template = json!({"message": "m", "opsgenie": {
            "description": "d", "priority": "", "alias": null, "actions": [], "tags": null, "details": {},
            "visibleTo": [],
        }});
        let c = create(keys(), template).unwrap();
        assert_eq!(
            c.body(),
            "{\"message\":\"m\",\"description\":\"d\",\"responders\":[{\"type\":\"team\",\"id\":\"testRecipient\",\"username\":\"\"}],\"source\":\"Argo CD\"}\n"
        );
    }

    #[test]
    fn a_block_needs_a_description_and_the_alert_a_message() {
        let err = create(keys(), json!({"message": "m", "opsgenie": {}})).unwrap_err();
        assert_eq!(err.0, "opsgenie notification description is missing");
        let err = create(keys(), json!({"message": "m", "opsgenie": {"description": ""}})).unwrap_err();
        assert_eq!(err.0, "opsgenie notification description is missing");
        let err = create(keys(), json!({"opsgenie": {"description": "d"}})).unwrap_err();
        assert_eq!(err.0, "message can not be empty");
        let err = create(keys(), json!({})).unwrap_err();
        assert_eq!(err.0, "message can not be empty");
        // A null block is no block.
        assert!(create(keys(), json!({"message": "m", "opsgenie": null})).is_ok());
    }

    #[test]
    fn a_bad_block_names_the_field() {
        let err = create(keys(), json!({"message": "m", "opsgenie": {"description": "d", "details": {"a": 1}}}));
        let err = err.unwrap_err().0;
        assert!(err.starts_with("invalid template: opsgenie: details.a: invalid type: integer `1`"), "{err}");
        let err = create(keys(), json!({"message": "m", "opsgenie": {"description": "d", "tags": "x"}}));
        let err = err.unwrap_err().0;
        assert!(err.starts_with("invalid template: opsgenie: tags: invalid type: string \"x\""), "{err}");
    }

    #[test]
    fn errors_name_the_status_and_the_body() {
        let url = "https://api.opsgenie.com/v2/alerts";
        let accepted = r#"{"result":"Request will be processed","took":0.302,"requestId":"43a29c5c"}"#;
        assert_eq!(verdict(url, Ok(response(202, accepted)), 1), Ok(()));
        let unprocessable = r#"{"message":"Request body is not processable","took":0.001,"requestId":"rid","errors":{"message":"Message can not be empty."}}"#;
        assert_eq!(
            verdict(url, Ok(response(422, unprocessable)), 1).unwrap_err().0,
            format!("request to POST {url} has failed with error code 422 : {unprocessable}")
        );
        let err = verdict(url, Ok(response(400, &"é".repeat(600))), 1).unwrap_err().0;
        assert_eq!(err.len(), format!("request to POST {url} has failed with error code 400 : ").len() + 1024);
        assert_eq!(
            verdict(url, Err(http::Error::Transport("refused".into())), 5).unwrap_err().0,
            "POST https://api.opsgenie.com/v2/alerts giving up after 5 attempt(s): transport error: refused"
        );
    }

    #[test]
    fn what_is_retried_is_the_sdks() {
        for status in [429, 500, 502, 503, 599] {
            assert!(retryable(&Ok(response(status, ""))), "{status}");
        }
        for status in [200, 202, 400, 401, 422, 501] {
            assert!(!retryable(&Ok(response(status, ""))), "{status}");
        }
        assert!(retryable(&Err(http::Error::Transport("reset".into()))));
        assert!(!retryable(&Err(http::Error::Timeout)));
        assert!(!retryable(&Err(http::Error::DeniedHost("h:443".into()))));
        let s = Duration::from_secs;
        assert_eq!(backoff(0, None, s(0)), Some(s(1)));
        assert_eq!(backoff(1, None, s(1)), Some(s(2)));
        assert_eq!(backoff(2, None, s(3)), Some(s(1)));
        assert_eq!(backoff(3, None, s(4)), None);
        assert_eq!(backoff(0, Some(s(30)), s(0)), Some(MAX_WAIT));
        let limited = Response { status: 429, headers: vec![("retry-after".into(), "1".into())], body: Vec::new() };
        assert_eq!(retry_after(&limited), Some(s(1)));
        assert_eq!(retry_after(&Response { status: 500, ..limited }), None);
    }

    /// Runs [`deliver`] against canned outcomes, returning its verdict, the attempts and the waits.
    fn run(outcomes: Vec<Result<Response, http::Error>>) -> (Result<(), Error>, usize, Vec<Duration>) {
        let c = create(keys(), json!({"message": "m"})).unwrap();
        let mut outcomes = outcomes.into_iter();
        let (mut attempts, mut waits) = (0, Vec::new());
        let result = deliver(
            &c,
            |request| {
                assert_eq!(request, c.request());
                attempts += 1;
                outcomes.next().expect("no more outcomes")
            },
            |d| waits.push(d),
        );
        (result, attempts, waits)
    }

    #[test]
    fn delivery_retries_within_the_budget() {
        let (result, attempts, waits) = run(vec![Ok(response(503, "")), Ok(response(202, "{}"))]);
        assert_eq!((result, attempts, waits), (Ok(()), 2, vec![Duration::from_secs(1)]));
        let (result, attempts, waits) = run((0..5).map(|_| Ok(response(500, "oops"))).collect());
        assert_eq!(
            result.unwrap_err().0,
            "request to POST https://api.opsgenie.com/v2/alerts has failed with error code 500 : oops"
        );
        assert_eq!((attempts, waits.iter().sum::<Duration>()), (4, WAIT_BUDGET));
        let (result, attempts, _) = run(vec![Ok(response(401, "unauthorized"))]);
        assert!(result.unwrap_err().0.contains("error code 401 : unauthorized"));
        assert_eq!(attempts, 1);
        let (result, attempts, _) = run(vec![Err(http::Error::Timeout)]);
        assert_eq!(
            result.unwrap_err().0,
            "POST https://api.opsgenie.com/v2/alerts giving up after 1 attempt(s): timeout"
        );
        assert_eq!(attempts, 1);
    }

    #[test]
    fn json_is_escaped_as_go_escapes_it() {
        assert_eq!(go_json(&"a<b>&c\u{2028}"), r#""a\u003cb\u003e\u0026c\u2028""#);
    }
}

//! Notification services: the [`Notifier`] trait and the glue that exports it as the `notifier`
//! world of `aviary:plugin@0.2.0` (feature `notifier`).
//!
//! A notifier is one of Argo's notifications-engine services (`webhook`, `slack`, ...): the
//! controller reads `argo-rollouts-notification-configmap` (its `$key` references resolved from
//! `argo-rollouts-notification-secret`), renders the triggered template for a subscribed
//! destination, and calls [`Notifier::send`] with the result, a [`Notification`]. The notifier
//! turns it into the service's request (through [`crate::http`], to the hosts its registry entry
//! allows) and answers whether it was delivered. An [`Error`] is recorded on the Rollout (an
//! Event and a metric) and never delays a reconcile; the controller does not retry it.
//!
//! ```ignore
//! use aviary_plugin_sdk::notifier::{Error, Notification, Notifier};
//! use aviary_plugin_sdk::{export_notifier, http};
//!
//! #[derive(serde::Deserialize)]
//! struct Config { url: String }
//!
//! struct Hook;
//! impl Notifier for Hook {
//!     fn send(notification: Notification) -> Result<(), Error> {
//!         let config: Config = notification.config_as()?;
//!         let response = http::Request::post(&config.url).body(notification.message()).send()?;
//!         if response.is_success() { Ok(()) } else { Err(Error::msg(format!("status {}", response.status))) }
//!     }
//! }
//! export_notifier!(Hook);
//! ```
//!
//! Every call runs in a fresh sandboxed instance with a deadline: nothing is kept between calls,
//! so what a service does with state across notifications (Slack's threads by `groupingKey`)
//! cannot be done, and retries must fit in the call's deadline. Keep the request building in
//! pure functions of the [`Notification`] so that it is tested natively, without the host.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// Bindings generated from `wit/v0.2` for the `notifier` world. Public so that
/// [`crate::export_notifier!`] can name them from the plugin's crate; not meant for direct use.
#[doc(hidden)]
#[allow(missing_docs, clippy::too_many_arguments)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/v0.2",
        world: "notifier",
        pub_export_macro: true,
        export_macro_name: "__aviary_export_notifier",
        default_bindings_module: "aviary_plugin_sdk::notifier::bindings",
    });
}

use bindings::aviary::plugin::notifications as wit;

/// How much of a service's answer an error quotes: enough to read the service's reason, never a
/// whole page.
pub const MAX_QUOTED_BODY: usize = 1024;

/// The first [`MAX_QUOTED_BODY`] bytes of an answer's body as text, cut at a character boundary:
/// what a notifier's error quotes of the service's answer.
pub fn quote_body(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut end = text.len().min(MAX_QUOTED_BODY);
    while !text.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    text.get(..end).unwrap_or_default().to_string()
}

/// `value` as JSON text, as Go's `encoding/json` writes it (the body Argo's services send):
/// serde_json's encoding with `<`, `>`, `&`, U+2028 and U+2029 escaped as `\u003c`, ... (they
/// only occur inside strings), so that a request is byte for byte the one Argo's sends.
pub fn go_json<T: serde::Serialize>(value: &T) -> String {
    let text = serde_json::to_string(value).unwrap_or_default();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// A field's value, `null` read as the type's zero value, as Go's `encoding/json` leaves it:
/// `#[serde(default, deserialize_with = "aviary_plugin_sdk::notifier::or_default")]` on a field
/// of a config or a template block, so that every notifier reads Argo's YAML alike.
pub fn or_default<'de, D: serde::Deserializer<'de>, T: Default + serde::Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(<Option<T> as serde::Deserialize>::deserialize(d)?.unwrap_or_default())
}

/// Go's `url.QueryEscape`: letters, digits and `-_.~` as they are, a space as `+`, every other
/// byte as `%XX` (upper case). The form bodies of Argo's services (Slack, Telegram, Pushover) are
/// escaped this way, and a request must be byte for byte the one Argo's sends.
pub fn query_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Go's `url.Values.Encode`: `key=value` pairs sorted by key (stable), escaped with
/// [`query_escape`], joined by `&`: the `application/x-www-form-urlencoded` body Argo's services
/// send.
pub fn form_encode(fields: &[(&str, String)]) -> String {
    let mut sorted: Vec<&(&str, String)> = fields.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    sorted.iter().map(|(k, v)| format!("{}={}", query_escape(k), query_escape(v))).collect::<Vec<_>>().join("&")
}

/// The base URL a config's `apiURL` names, or `default` when it is absent or empty, as Argo's
/// services default it (each then joins its own path).
pub fn api_base<'a>(api_url: Option<&'a str>, default: &'a str) -> &'a str {
    match api_url {
        None | Some("") => default,
        Some(url) => url,
    }
}

/// A config's `basicAuth`, as Argo's `BasicAuth` (`webhook`, `alertmanager`): `null` fields read
/// as empty, as in Go.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default)]
pub struct BasicAuth {
    /// The user name.
    #[serde(deserialize_with = "or_default")]
    pub username: String,
    /// The password (a `$key` of the notification secret, resolved by the host).
    #[serde(deserialize_with = "or_default")]
    pub password: String,
}

impl BasicAuth {
    /// The `Authorization` value, as Go's `SetBasicAuth` writes it: `Basic
    /// base64(username:password)` (standard base64, padded).
    pub fn authorization(&self) -> String {
        format!("Basic {}", base64(format!("{}:{}", self.username, self.password).as_bytes()))
    }
}

/// Standard base64 with padding (Go's `base64.StdEncoding`), as `SetBasicAuth` encodes the
/// credentials: one encoder for every notifier, so none needs its own.
pub fn base64(bytes: &[u8]) -> String {
    use ::base64::Engine;
    ::base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Logs that `insecureSkipVerify: true` is not honoured (the host always verifies TLS
/// certificates) when `insecure_skip_verify` says so: `<who>: insecureSkipVerify is not
/// supported; the TLS certificate is verified`. Every service of Argo that takes the switch
/// warns alike.
pub fn warn_insecure_skip_verify(who: &str, insecure_skip_verify: Option<bool>) {
    if insecure_skip_verify == Some(true) {
        log::warn(&format!("{who}: insecureSkipVerify is not supported; the TLS certificate is verified"));
    }
}

/// Argo's error for an answer that is not the service's success: `request to <target> has failed
/// with error code <status> : <body>` (the body's first [`MAX_QUOTED_BODY`] bytes), where
/// `target` is what the service names the request by (`POST <url>`, or the URL alone).
pub fn status_error(target: &str, response: &crate::http::Response) -> Error {
    Error(format!(
        "request to {target} has failed with error code {} : {}",
        response.status,
        quote_body(&response.body)
    ))
}

/// The answer to a `POST` to `url` when it is a 2xx, as most of Argo's services judge it: a
/// transport error is `Post "<url>": <why>` (Go's `*url.Error`), any other status the
/// [`status_error`] of `POST <url>`. The service then reads the body as it needs.
pub fn post_answer(
    url: &str,
    outcome: Result<crate::http::Response, crate::http::Error>,
) -> Result<crate::http::Response, Error> {
    let response = outcome.map_err(|e| Error(format!("Post {url:?}: {e}")))?;
    if !response.is_success() {
        return Err(status_error(&format!("POST {url}"), &response));
    }
    Ok(response)
}

/// Decodes the template's block `key` as `T` (`None` when absent or null), naming the field that
/// does not fit: `invalid template: <key>: <field>: <why>`. Each service reads its own block of
/// the rendered template (`opsgenie`, `pagerdutyv2`, ...) this way.
pub fn template_block<T: DeserializeOwned>(notification: &Notification, key: &str) -> Result<Option<T>, Error> {
    block_as(key, notification.template.get(key))
}

/// Decodes `block` (a template's block, named `what` in errors) as `T`: `None` when absent or
/// null, else [`template_block`]'s decoding and errors. For a block found deeper than the
/// template's top level (`webhook.<name>`).
pub fn block_as<T: DeserializeOwned>(what: &str, block: Option<&Value>) -> Result<Option<T>, Error> {
    match block {
        None | Some(Value::Null) => Ok(None),
        Some(block) => {
            decode::<T>(block.clone()).map(Some).map_err(|why| Error(format!("invalid template: {what}: {why}")))
        }
    }
}

pub mod gostruct;
pub mod gourl;
pub mod retry;

/// The contract version of the `notifier` world this SDK builds against.
pub const CONTRACT_VERSION: &str = "0.2.0";

/// Why a notification was not delivered. The message is what the controller records on the
/// Rollout (the host cuts it to 1 KiB): say what was sent where and what came back, as Argo's
/// services do (`request to POST https://... has failed with error code 500 : ...`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Error(pub String);

impl Error {
    /// An error with the given message.
    pub fn msg(message: impl std::fmt::Display) -> Self {
        Error(message.to_string())
    }
}

impl From<crate::http::Error> for Error {
    fn from(e: crate::http::Error) -> Self {
        Error(e.to_string())
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error(e.to_string())
    }
}

/// One rendered notification for one destination: Argo's `Notification` and `Destination` as
/// the engine hands them to a service's `Send`.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The service's name as subscriptions name it: `slack` for `service.slack`, `<name>` for
    /// `service.webhook.<name>` (a webhook template's block is looked up by it).
    pub service: String,
    /// The service's type: `webhook`, `slack`, ... (one plugin may serve several names of one
    /// type).
    pub service_type: String,
    /// The service's configuration: the YAML of `service.<type>[.<name>]` as JSON, its `$key`
    /// references already replaced by the secret's values. `Null` when the service has none.
    /// Decode it with [`Notification::config_as`].
    pub config: Value,
    /// The subscription's recipient (a Slack channel); empty when the subscription names none.
    pub recipient: String,
    /// The rendered template: `message` and each service's block as Argo's templates write them
    /// (`webhook: {<name>: {method, path, body}}`, `slack: {attachments, blocks, username, icon,
    /// groupingKey, notifyBroadcast}`, ...), every string in it already rendered.
    pub template: Value,
}

impl Notification {
    /// A notification for the service `service` of type `service_type` with no config, no
    /// recipient and an empty template: what tests build, then fill in with the `with_` methods.
    pub fn new(service: impl Into<String>, service_type: impl Into<String>) -> Self {
        Self {
            service: service.into(),
            service_type: service_type.into(),
            config: Value::Null,
            recipient: String::new(),
            template: Value::Object(serde_json::Map::new()),
        }
    }

    /// The same notification with the service's config.
    pub fn with_config(mut self, config: Value) -> Self {
        self.config = config;
        self
    }

    /// The same notification for the recipient `recipient`.
    pub fn with_recipient(mut self, recipient: impl Into<String>) -> Self {
        self.recipient = recipient.into();
        self
    }

    /// The same notification with the rendered template `template`.
    pub fn with_template(mut self, template: Value) -> Self {
        self.template = template;
        self
    }

    /// The template's `message` (empty when it has none): the text every Argo service sends by
    /// default.
    pub fn message(&self) -> &str {
        self.template.get("message").and_then(Value::as_str).unwrap_or("")
    }

    /// The config decoded as the service's own type. An absent config (`Null`) is read as `{}`
    /// when the type does not take `null`, so a config whose fields all have defaults may be
    /// left out; a config that does not decode is `invalid config: <field>: <why>`, naming the
    /// field. Unknown fields are accepted unless the type says otherwise (Argo's configs carry
    /// fields a service may not implement).
    pub fn config_as<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let result = match &self.config {
            Value::Null => decode(Value::Null).or_else(|_| decode(Value::Object(serde_json::Map::new()))),
            config => decode(config.clone()),
        };
        result.map_err(|e| Error(format!("invalid config: {e}")))
    }
}

/// Decodes `value` as `T`, naming the path of the field that does not fit
/// (`headers[1].name: invalid type: integer `5`, expected a string`).
fn decode<T: DeserializeOwned>(value: Value) -> Result<T, String> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." { inner.to_string() } else { format!("{path}: {inner}") }
    })
}

/// A notification service. Implement it for a unit type and export it with
/// [`crate::export_notifier!`].
pub trait Notifier {
    /// Delivers one notification: `Ok` when the service accepted it, an [`Error`] saying why
    /// not otherwise. Called once per notification and destination; the controller does not
    /// retry, so a service that retries (Argo's webhook) does it here, within the call's
    /// deadline.
    fn send(notification: Notification) -> Result<(), Error>;
}

/// Logging into the host's logs through the `aviary:plugin/log@0.2.0` import. Natively (in unit
/// tests) lines go to stderr.
pub mod log {
    world_log!();
}

// ---- export glue ----

/// The notification the host handed over, its JSON decoded.
fn from_wit(n: wit::Notification) -> Result<Notification, String> {
    let json = |what: &str, text: &str| -> Result<Value, String> {
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(text).map_err(|e| format!("invalid {what} JSON from the host: {e}"))
    };
    Ok(Notification {
        config: json("config", &n.config)?,
        template: json("template", &n.template)?,
        service: n.service,
        service_type: n.service_type,
        recipient: n.recipient,
    })
}

/// Runs [`Notifier::send`] for the exported glue.
#[doc(hidden)]
pub fn run_send<N: Notifier>(notification: wit::Notification) -> Result<(), String> {
    N::send(from_wit(notification)?).map_err(|e| e.0)
}

/// Exports a [`Notifier`] implementation as this component's `notifier` world:
/// `export_notifier!(MyService);` once, at the crate's root.
#[macro_export]
macro_rules! export_notifier {
    ($notifier:ty) => {
        #[doc(hidden)]
        struct __AviaryNotifierExport;

        impl $crate::notifier::bindings::Guest for __AviaryNotifierExport {
            fn notify(
                notification: $crate::notifier::bindings::aviary::plugin::notifications::Notification,
            ) -> ::std::result::Result<(), ::std::string::String> {
                $crate::notifier::run_send::<$notifier>(notification)
            }
        }

        $crate::notifier::bindings::__aviary_export_notifier!(
            __AviaryNotifierExport with_types_in $crate::notifier::bindings
        );
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Config {
        url: String,
        #[serde(default)]
        retry_max: i64,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    struct Optional {
        fail: bool,
    }

    fn wit_notification(config: &str, template: &str) -> wit::Notification {
        wit::Notification {
            service: "hook".into(),
            service_type: "webhook".into(),
            config: config.into(),
            recipient: "#ops".into(),
            template: template.into(),
        }
    }

    #[test]
    fn configs_decode_naming_the_field_and_accept_unknown_fields() {
        let n = Notification::new("hook", "webhook").with_config(json!({"url": "u", "retryWaitMin": "1s"}));
        let config: Config = n.config_as().unwrap();
        assert_eq!((config.url.as_str(), config.retry_max), ("u", 0));
        let wrong = n.with_config(json!({"url": "u", "retryMax": "x"})).config_as::<Config>().unwrap_err().0;
        assert!(wrong.starts_with("invalid config: retryMax: invalid type: string \"x\""), "{wrong}");
        let missing = Notification::new("hook", "webhook").config_as::<Config>().unwrap_err().0;
        assert!(missing.starts_with("invalid config: missing field `url`"), "{missing}");
        assert!(!Notification::new("s", "slack").config_as::<Optional>().unwrap().fail);
    }

    #[test]
    fn the_message_is_the_templates() {
        let n = Notification::new("slack", "slack").with_template(json!({"message": "hi"}));
        assert_eq!(n.message(), "hi");
        assert_eq!(Notification::new("slack", "slack").message(), "");
    }

    struct Echo;
    impl Notifier for Echo {
        fn send(n: Notification) -> Result<(), Error> {
            let config: Optional = n.config_as()?;
            if config.fail {
                return Err(Error::msg(format!("{} {} {} {}", n.service, n.service_type, n.recipient, n.message())));
            }
            Ok(())
        }
    }

    #[test]
    fn the_glue_decodes_the_hosts_json() {
        assert_eq!(run_send::<Echo>(wit_notification("null", "{}")), Ok(()));
        assert_eq!(run_send::<Echo>(wit_notification("", "")), Ok(()));
        assert_eq!(
            run_send::<Echo>(wit_notification(r#"{"fail":true}"#, r#"{"message":"m"}"#)),
            Err("hook webhook #ops m".to_string())
        );
        let bad = run_send::<Echo>(wit_notification("{", "{}")).unwrap_err();
        assert!(bad.starts_with("invalid config JSON from the host: "), "{bad}");
        let bad = run_send::<Echo>(wit_notification("{}", "[")).unwrap_err();
        assert!(bad.starts_with("invalid template JSON from the host: "), "{bad}");
    }

    #[test]
    fn forms_are_encoded_as_gos_url_values() {
        assert_eq!(query_escape("a b&c/é~"), "a+b%26c%2F%C3%A9~");
        let fields = [("text", "hi there".to_string()), ("channel", "#ops".to_string()), ("as_user", "1".to_string())];
        assert_eq!(form_encode(&fields), "as_user=1&channel=%23ops&text=hi+there");
    }

    #[test]
    fn template_blocks_decode_naming_the_field() {
        #[derive(Debug, Default, Deserialize)]
        #[serde(default)]
        struct Block {
            #[serde(deserialize_with = "or_default")]
            summary: String,
        }
        let n = Notification::new("p", "pagerdutyv2").with_template(json!({"p": {"summary": null}, "q": null}));
        assert_eq!(template_block::<Block>(&n, "p").unwrap().unwrap().summary, "");
        assert!(template_block::<Block>(&n, "q").unwrap().is_none());
        assert!(template_block::<Block>(&n, "absent").unwrap().is_none());
        let n = n.with_template(json!({"p": {"summary": 5}}));
        let err = template_block::<Block>(&n, "p").unwrap_err().0;
        assert!(err.starts_with("invalid template: p: summary: invalid type: integer `5`"), "{err}");
    }

    #[test]
    fn answers_are_judged_as_argos_services_do() {
        let answer = |status| crate::http::Response { status, headers: Vec::new(), body: b"nope".to_vec() };
        assert_eq!(status_error("POST u", &answer(500)).0, "request to POST u has failed with error code 500 : nope");
        assert!(post_answer("u", Ok(answer(202))).is_ok());
        assert_eq!(
            post_answer("u", Ok(answer(400))).unwrap_err().0,
            "request to POST u has failed with error code 400 : nope"
        );
        let refused = post_answer("u", Err(crate::http::Error::Transport("refused".into()))).unwrap_err().0;
        assert!(refused.starts_with("Post \"u\": "), "{refused}");
        assert_eq!(api_base(None, "d"), "d");
        assert_eq!(api_base(Some(""), "d"), "d");
        assert_eq!(api_base(Some("x"), "d"), "x");
    }

    #[test]
    fn retries_follow_go_retryablehttp_within_the_budget() {
        let answer = |status| crate::http::Response { status, headers: Vec::new(), body: Vec::new() };
        assert!(retry::retryable(&Ok(answer(503))) && retry::retryable(&Ok(answer(429))));
        assert!(!retry::retryable(&Ok(answer(501))) && !retry::retryable(&Ok(answer(400))));
        let mut waits = Vec::new();
        let mut attempts = 0;
        let result = retry::deliver(
            "GET u",
            3,
            || crate::http::Request::get("u"),
            |_| {
                attempts += 1;
                Ok(answer(500))
            },
            |d| waits.push(d.as_secs()),
        );
        assert_eq!(result.unwrap_err().0, "request to GET u has failed with error code 500 : ");
        assert_eq!((attempts, waits), (4, vec![1, 2, 1]));
    }
}

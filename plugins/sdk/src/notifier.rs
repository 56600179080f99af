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
    #[cfg(target_arch = "wasm32")]
    use super::bindings::aviary::plugin::log::{Level, log};

    #[cfg(not(target_arch = "wasm32"))]
    enum Level {
        Debug,
        Info,
        Warn,
        Error,
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn log(level: Level, message: &str) {
        let level = match level {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        };
        eprintln!("[{level}] {message}");
    }

    /// Logs at debug level.
    pub fn debug(message: &str) {
        log(Level::Debug, message);
    }

    /// Logs at info level.
    pub fn info(message: &str) {
        log(Level::Info, message);
    }

    /// Logs at warn level.
    pub fn warn(message: &str) {
        log(Level::Warn, message);
    }

    /// Logs at error level.
    pub fn error(message: &str) {
        log(Level::Error, message);
    }
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
}

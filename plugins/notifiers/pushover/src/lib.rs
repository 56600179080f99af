//! `aviary/pushover`: Argo notifications-engine's `pushover` service (`pkg/services/pushover.go`,
//! over gregdel/pushover's `SendMessage`): pushes the notification's message to a user or a group.
//!
//! ```yaml
//! # argo-rollouts-notification-configmap
//! service.pushover: |
//!   token: $pushover-token
//! # a subscription: notifications.argoproj.io/subscribe.on-rollout-completed.pushover: <user key>
//! ```
//!
//! # Config (`service.pushover`)
//!
//! - `token`: the application's API token (a `$key` of the notification secret, resolved by the
//!   host).
//! - `apiURL` (an Aviary addition, absent from Argo, whose library has the endpoint built in):
//!   the Message API's base URL, default `https://api.pushover.net`; messages go to
//!   `<apiURL>/1/messages.json` (a trailing `/` of `apiURL` is dropped). Its host must be allowed
//!   by the plugin's registry entry (the host grants a first-party notifier the host of its
//!   `apiURL`, or api.pushover.net); it exists so that tests can point the service at loopback.
//! - Any other field is ignored, as Go's `encoding/json` ignores it.
//!
//! # The request
//!
//! Checked first as the library does, with its errors: the token (`pushover: empty API token`,
//! and `pushover: invalid API token` unless it is 30 letters and digits), the recipient, a user
//! or group key (`pushover: empty recipient token`, `pushover: invalid recipient token`, the same
//! rule), the message (`pushover: message empty`, and `pushover: message too long` over 1024
//! characters). Then `POST <apiURL>/1/messages.json` with
//! `Content-Type: application/x-www-form-urlencoded` and the form (keys sorted, Go's
//! `url.QueryEscape`) `message=<message>&priority=0&token=<token>&user=<recipient>`.
//!
//! Only the message is sent: Argo's Pushover service has no template block (no title, URL, sound
//! or priority), and neither has this one.
//!
//! # The answer
//!
//! A 2xx whose JSON has `"status": 1` is delivered; one with another status is the library's
//! `Errors:\n<error>\n<error>...` (Pushover's `errors`); one that is not JSON is
//! `pushover: invalid response: <why>`. Any other status is
//! `request to POST <url> has failed with error code <status> : <body>` (the body's first KiB,
//! Pushover's `{"status":0, "errors":[...]}`), and no response `Post "<url>": <why>`. Nothing is
//! retried, as in Argo.
//!
//! # Not supported
//!
//! The library reads the application's limits from the answer's `X-Limit-App-*` headers and fails
//! the notification when they are missing; they are not read, and their absence is not an error.

use aviary_plugin_sdk::export_notifier;
use aviary_plugin_sdk::http::{self, Request, Response};
use aviary_plugin_sdk::notifier::{Error, Notification, Notifier, api_base, post_answer};
pub use aviary_plugin_sdk::notifier::{MAX_QUOTED_BODY, quote_body};
use serde::Deserialize;

/// The Message API's base URL when the config has no `apiURL`: the library's endpoint's.
pub const DEFAULT_API_URL: &str = "https://api.pushover.net";
/// The most characters a message may have: the library's `MessageMaxLength`.
pub const MESSAGE_MAX_LENGTH: usize = 1024;

/// The service's config: `service.pushover`, as Argo's `PushoverOptions` plus `apiURL`. Unknown
/// fields are ignored; `null` reads as absent, as in Go.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// The application's API token.
    #[serde(default)]
    pub token: Option<String>,
    /// The Message API's base URL; absent or empty: [`DEFAULT_API_URL`].
    #[serde(default, rename = "apiURL")]
    pub api_url: Option<String>,
}

impl Config {
    /// The messages endpoint: `<apiURL>/1/messages.json`.
    pub fn endpoint(&self) -> String {
        let base = api_base(self.api_url.as_deref(), DEFAULT_API_URL);
        format!("{}/1/messages.json", base.trim_end_matches('/'))
    }
}

/// Whether `key` is a Pushover token or user key: the library's `^[A-Za-z0-9]{30}$`.
pub fn is_key(key: &str) -> bool {
    key.len() == 30 && key.bytes().all(|b| b.is_ascii_alphanumeric())
}

pub use aviary_plugin_sdk::notifier::{form_encode, query_escape};

/// One message, before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The endpoint.
    pub url: String,
    /// The form fields, in the library's `toMap` order (the body sorts them).
    pub fields: Vec<(&'static str, String)>,
}

impl Message {
    /// The message of `notification` under `config`, checked as the library's `SendMessage`
    /// checks it.
    pub fn new(notification: &Notification, config: &Config) -> Result<Message, Error> {
        let token = config.token.clone().unwrap_or_default();
        if token.is_empty() {
            return Err(Error::msg("pushover: empty API token"));
        }
        if !is_key(&token) {
            return Err(Error::msg("pushover: invalid API token"));
        }
        let user = &notification.recipient;
        if user.is_empty() {
            return Err(Error::msg("pushover: empty recipient token"));
        }
        if !is_key(user) {
            return Err(Error::msg("pushover: invalid recipient token"));
        }
        let message = notification.message();
        if message.is_empty() {
            return Err(Error::msg("pushover: message empty"));
        }
        if message.chars().count() > MESSAGE_MAX_LENGTH {
            return Err(Error::msg("pushover: message too long"));
        }
        Ok(Message {
            url: config.endpoint(),
            fields: vec![
                ("token", token),
                ("user", user.clone()),
                ("message", message.to_string()),
                ("priority", "0".to_string()),
            ],
        })
    }

    /// The form body.
    pub fn body(&self) -> String {
        form_encode(&self.fields)
    }

    /// The HTTP request.
    pub fn request(&self) -> Request {
        Request::post(self.url.clone())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(self.body().into_bytes())
    }
}

/// Pushover's answer, the part that says whether the message was taken.
#[derive(Debug, Default, Deserialize)]
struct Answer {
    #[serde(default)]
    status: i64,
    #[serde(default)]
    errors: Option<Vec<String>>,
}

/// The verdict on the answer to a post to `url`, as the crate docs say.
pub fn verdict(url: &str, outcome: Result<Response, http::Error>) -> Result<(), Error> {
    let response = post_answer(url, outcome)?;
    match response.json::<Answer>() {
        Err(e) => Err(Error(format!("pushover: invalid response: {e}"))),
        Ok(Answer { status: 1, .. }) => Ok(()),
        Ok(Answer { status, errors }) => match errors.unwrap_or_default() {
            errors if errors.is_empty() => Err(Error(format!("pushover: status {status}"))),
            errors => Err(Error(format!("Errors:\n{}", errors.join("\n")))),
        },
    }
}

/// The service.
pub struct Pushover;

impl Notifier for Pushover {
    fn send(notification: Notification) -> Result<(), Error> {
        let config: Config = notification.config_as()?;
        let message = Message::new(&notification, &config)?;
        verdict(&message.url, message.request().send())
    }
}

export_notifier!(Pushover);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const TOKEN: &str = "azGDORePK8gMaC0QOYAMyEEuzJnyUi";
    const USER: &str = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG";

    fn message(config: Value, recipient: &str, text: &str) -> Result<Message, Error> {
        let n = Notification::new("pushover", "pushover")
            .with_config(config)
            .with_template(json!({"message": text}))
            .with_recipient(recipient);
        Message::new(&n, &n.config_as()?)
    }

    fn response(status: u16, body: &str) -> Response {
        Response { status, headers: Vec::new(), body: body.as_bytes().to_vec() }
    }

    #[test]
    fn configs_parse_and_default_to_pushover() {
        let config: Config = Notification::new("p", "pushover")
            .with_config(json!({"token": TOKEN, "apiURL": "http://127.0.0.1:8080/", "x": 1}))
            .config_as()
            .unwrap();
        assert_eq!(config.endpoint(), "http://127.0.0.1:8080/1/messages.json");
        assert_eq!(Config::default().endpoint(), "https://api.pushover.net/1/messages.json");
        let wrong = message(json!({"token": ["x"]}), USER, "m").unwrap_err().0;
        assert!(wrong.starts_with("invalid config: token: invalid type: sequence"), "{wrong}");
    }

    /// The request byte for byte as the library sends it (checked against the Go code).
    #[test]
    fn the_form_is_the_librarys() {
        let m = message(json!({"token": TOKEN}), USER, "Rollout web: 50% & <ok>").unwrap();
        let body = format!("message=Rollout+web%3A+50%25+%26+%3Cok%3E&priority=0&token={TOKEN}&user={USER}");
        assert_eq!(m.body(), body);
        assert_eq!(
            m.request(),
            Request::post("https://api.pushover.net/1/messages.json")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body)
        );
        let m = message(json!({"token": TOKEN, "apiURL": "http://127.0.0.1:9"}), USER, "m").unwrap();
        assert_eq!(
            m.request(),
            Request::post("http://127.0.0.1:9/1/messages.json")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(m.body())
        );
    }

    #[test]
    fn tokens_recipients_and_messages_are_checked_as_the_library_does() {
        let err = |config: Value, recipient: &str, text: &str| message(config, recipient, text).unwrap_err().0;
        assert_eq!(err(json!({}), USER, "m"), "pushover: empty API token");
        assert_eq!(err(json!({"token": "short"}), USER, "m"), "pushover: invalid API token");
        assert_eq!(err(json!({"token": format!("{TOKEN}x")}), USER, "m"), "pushover: invalid API token");
        assert_eq!(err(json!({"token": TOKEN}), "", "m"), "pushover: empty recipient token");
        assert_eq!(err(json!({"token": TOKEN}), "short", "m"), "pushover: invalid recipient token");
        assert_eq!(err(json!({"token": TOKEN}), &"é".repeat(15), "m"), "pushover: invalid recipient token");
        assert_eq!(err(json!({"token": TOKEN}), USER, ""), "pushover: message empty");
        assert_eq!(err(json!({"token": TOKEN}), USER, &"é".repeat(1025)), "pushover: message too long");
        assert!(message(json!({"token": TOKEN}), USER, &"é".repeat(1024)).is_ok());
    }

    #[test]
    fn answers_are_judged_as_the_library_does() {
        let url = "https://api.pushover.net/1/messages.json";
        assert_eq!(verdict(url, Ok(response(200, r#"{"status":1,"request":"r"}"#))), Ok(()));
        assert_eq!(
            verdict(url, Ok(response(200, r#"{"status":0,"errors":["a","b"],"request":"r"}"#))),
            Err(Error::msg("Errors:\na\nb"))
        );
        assert_eq!(verdict(url, Ok(response(200, r#"{"status":0}"#))), Err(Error::msg("pushover: status 0")));
        let invalid = verdict(url, Ok(response(200, "ok"))).unwrap_err().0;
        assert!(invalid.starts_with("pushover: invalid response: "), "{invalid}");
        let bad = r#"{"user":"invalid","errors":["user identifier is not a valid user, group, or subscribed user key"],"status":0,"request":"r"}"#;
        assert_eq!(
            verdict(url, Ok(response(400, bad))).unwrap_err().0,
            format!("request to POST {url} has failed with error code 400 : {bad}")
        );
        let err = verdict(url, Ok(response(500, &"x".repeat(2000)))).unwrap_err().0;
        assert_eq!(err.len(), format!("request to POST {url} has failed with error code 500 : ").len() + 1024);
        assert_eq!(
            verdict(url, Err(http::Error::Transport("refused".into()))).unwrap_err().0,
            "Post \"https://api.pushover.net/1/messages.json\": transport error: refused"
        );
    }

    #[test]
    fn keys_are_30_letters_and_digits() {
        assert!(is_key(TOKEN));
        assert!(!is_key(&TOKEN[1..]));
        assert!(!is_key("azGDORePK8gMaC0QOYAMyEEuzJny-i"));
        assert_eq!(query_escape("a b~*"), "a+b~%2A");
    }
}

//! `aviary/webex`: Argo notifications-engine's `webex` service (`pkg/services/webex.go`): posts
//! the notification's message as Markdown to a Webex person or room with a bot token.
//!
//! ```yaml
//! # argo-rollouts-notification-configmap
//! service.webex: |
//!   token: $webex-token
//! template.rollout-completed: |
//!   message: Rollout **{{.rollout.metadata.name}}** has been completed.
//! # subscription: notifications.argoproj.io/subscribe.on-rollout-completed.webex: ops@example.com
//! ```
//!
//! # Config (`service.webex`)
//!
//! - `token`: the bot's access token (a `$key` of the notification secret, resolved by the
//!   host), sent as `Authorization: Bearer <token>` (`Bearer ` alone without one, as Argo does;
//!   Webex answers 401).
//! - `apiURL`: Webex's API (default `https://webexapis.com`; one trailing `/` is dropped, as Argo
//!   drops it). Its host must be allowed by the plugin's registry entry (the host grants this
//!   component the host of its `apiURL`, or webexapis.com).
//! - `insecureSkipVerify`: accepted, but only `false` is honoured: the host always verifies TLS
//!   certificates, so `true` logs a warning and the request is still verified.
//! - Accepted and ignored (Argo's client tuning): `maxIdleConns`, `maxIdleConnsPerHost`,
//!   `maxConnsPerHost`, `idleConnTimeout`, and any other unknown field, as Go ignores it.
//!
//! # The request
//!
//! `POST <apiURL>/v1/messages` with `Content-Type: application/json`,
//! `Authorization: Bearer <token>` and the JSON of Argo's `webexMessage`, its fields in Go's
//! order and each left out when empty: `toPersonEmail` (the recipient, when it looks like an
//! email address: Argo's `^\S+@\S+\.\S+$`), else `roomId` (the recipient), then `markdown` (the
//! template's `message`). Strings are escaped as Go's `encoding/json` escapes them (`<`, `>` and
//! `&` as `\u003c`, `\u003e`, `\u0026`): the same bytes as Argo's.
//!
//! # The answer
//!
//! As webex.go reads it: only a `200` is delivered (even another 2xx is not); any other status
//! is `request to <apiURL>/v1/messages has failed with error code <status> : <body>` (the body
//! cut to 1 KiB). No response is `Post "<url>": <why>`. Not retried, as in Argo.
//!
//! # Not supported
//!
//! Nothing of Argo's service is left out. The template has no `webex` block in Argo (cards and
//! files cannot be sent), and neither here.

use aviary_plugin_sdk::export_notifier;
use aviary_plugin_sdk::http::{self, Request, Response};
use aviary_plugin_sdk::notifier::{
    Error, Notification, Notifier, api_base, go_json, status_error, warn_insecure_skip_verify,
};
use serde::{Deserialize, Serialize};

/// Webex's API when the config names none: Argo's default.
pub const DEFAULT_API_URL: &str = "https://webexapis.com";

/// The service's config: `service.webex`. Fields Aviary does not implement are accepted and
/// ignored (see the crate docs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// The bot's access token.
    #[serde(default)]
    pub token: Option<String>,
    /// Webex's API base URL; absent or empty: [`DEFAULT_API_URL`].
    #[serde(default, rename = "apiURL")]
    pub api_url: Option<String>,
    /// Argo's switch to skip TLS verification: accepted, never honoured (the host verifies).
    #[serde(default)]
    pub insecure_skip_verify: Option<bool>,
}

impl Config {
    /// The messages endpoint: `apiURL` (or the default) without one trailing `/`, and
    /// `/v1/messages`, as Argo's `NewWebexService` and `Send` build it.
    pub fn endpoint(&self) -> String {
        let base = api_base(self.api_url.as_deref(), DEFAULT_API_URL);
        let base = base.strip_suffix('/').unwrap_or(base);
        format!("{base}/v1/messages")
    }
}

/// Go's regexp `\s`: the ASCII whitespace `[\t\n\f\r ]`.
fn is_go_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{c}' | '\r' | ' ')
}

/// Whether a recipient is an email address, as Argo's `^\S+@\S+\.\S+$` tells: no whitespace, an
/// `@` after at least one character, then at least one character, a `.` and at least one more.
pub fn is_email(recipient: &str) -> bool {
    if recipient.chars().any(is_go_space) {
        return false;
    }
    let Some(at) = recipient.char_indices().skip(1).find(|&(_, c)| c == '@').map(|(i, _)| i) else {
        return false;
    };
    let after = &recipient[at + 1..];
    // `\S+\.\S+`: a `.` that is neither the first nor the last character of what follows the `@`.
    after.char_indices().skip(1).any(|(i, c)| c == '.' && i + 1 < after.len())
}

/// Argo's `webexMessage`: its fields in Go's order, each left out when empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebexMessage<'a> {
    /// The person's email address, when the recipient is one.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub to_person_email: &'a str,
    /// The room's id, when the recipient is not an email address.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub room_id: &'a str,
    /// The message, as Markdown.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub markdown: &'a str,
}

/// Go's `json.Marshal(webexMessage{...})`: `toPersonEmail` or `roomId` for `recipient`, then
/// `markdown`, each left out when empty.
pub fn body(recipient: &str, markdown: &str) -> String {
    let (to_person_email, room_id) = if is_email(recipient) { (recipient, "") } else { ("", recipient) };
    go_json(&WebexMessage { to_person_email, room_id, markdown })
}

/// The request of one notification, before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The messages endpoint.
    pub url: String,
    /// The bot token (empty when the config has none).
    pub token: String,
    /// The JSON body.
    pub body: String,
}

impl Plan {
    /// The request of `notification` under `config`, as webex.go's `Send` builds it.
    pub fn new(notification: &Notification, config: &Config) -> Plan {
        Plan {
            url: config.endpoint(),
            token: config.token.clone().unwrap_or_default(),
            body: body(&notification.recipient, notification.message()),
        }
    }

    /// The HTTP request, its headers set in Go's order.
    pub fn request(&self) -> Request {
        Request::post(self.url.clone())
            .header("Content-Type", "application/json")
            .header("Authorization", format!("Bearer {}", self.token))
            .body(self.body.clone().into_bytes())
    }
}

/// Judges the outcome of the post as webex.go does: delivered on a `200` only.
pub fn verdict(url: &str, outcome: Result<Response, http::Error>) -> Result<(), Error> {
    let response = outcome.map_err(|e| Error(format!("Post {url:?}: {e}")))?;
    if response.status == 200 {
        return Ok(());
    }
    Err(status_error(url, &response))
}

/// The service.
pub struct Webex;

impl Notifier for Webex {
    fn send(notification: Notification) -> Result<(), Error> {
        let config: Config = notification.config_as()?;
        let plan = Plan::new(&notification, &config);
        warn_insecure_skip_verify("webex", config.insecure_skip_verify);
        verdict(&plan.url, plan.request().send())
    }
}

export_notifier!(Webex);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const TOKEN: &str = "NRAK-5F2FIVA5UTA4FFDD11XCXVA7WPJ";

    fn plan(config: Value, recipient: &str, template: Value) -> Plan {
        let n =
            Notification::new("webex", "webex").with_config(config).with_recipient(recipient).with_template(template);
        Plan::new(&n, &n.config_as().unwrap())
    }

    fn response(status: u16, body: &str) -> Response {
        Response { status, headers: Vec::new(), body: body.as_bytes().to_vec() }
    }

    // The expected requests below are what Argo's webex service sent for the same notification
    // (notifications-engine at the version Argo Rollouts v1.10.1 uses, to a test server).

    #[test]
    fn emails_are_told_as_argos_regexp_tells_them() {
        // TestValidEmail.
        assert!(is_email("test@test.com"));
        assert!(is_email("test.test@test.com"));
        assert!(!is_email("notAnEmail"));
        assert!(!is_email("notAnEmail@"));
        assert!(is_email("a@b.c"));
        assert!(is_email("@@b.c"));
        assert!(is_email("a@.b.c"));
        assert!(is_email("é@ü.ß"));
        assert!(!is_email("@b.c"));
        assert!(!is_email("a@.c"));
        assert!(!is_email("a@b."));
        assert!(!is_email("a@bc"));
        assert!(!is_email("a b@c.d"));
        assert!(!is_email("a@b.c\n"));
        assert!(is_email("a@b.c\u{b}"));
    }

    #[test]
    fn an_email_recipient_is_a_person() {
        // TestSend_Webex: successful attempt - email.
        let p = plan(
            json!({"token": TOKEN, "apiURL": "http://127.0.0.1:8080"}),
            "test@test.com",
            json!({"message": "message"}),
        );
        assert_eq!(
            p.request(),
            Request::post("http://127.0.0.1:8080/v1/messages")
                .header("Content-Type", "application/json")
                .header("Authorization", format!("Bearer {TOKEN}"))
                .body(r#"{"toPersonEmail":"test@test.com","markdown":"message"}"#)
        );
    }

    #[test]
    fn another_recipient_is_a_room() {
        // TestSend_Webex: successful attempt - room; one trailing slash of apiURL is dropped.
        let p = plan(
            json!({"token": TOKEN, "apiURL": "http://127.0.0.1:8080/"}),
            "roomId123",
            json!({"message": "**a** <b> & c"}),
        );
        assert_eq!(p.url, "http://127.0.0.1:8080/v1/messages");
        assert_eq!(p.body, r#"{"roomId":"roomId123","markdown":"**a** \u003cb\u003e \u0026 c"}"#);
    }

    #[test]
    fn empty_fields_are_left_out() {
        let p = plan(json!({}), "", json!({}));
        assert_eq!(p.body, "{}");
        assert_eq!(
            p.request(),
            Request::post("https://webexapis.com/v1/messages")
                .header("Content-Type", "application/json")
                .header("Authorization", "Bearer ")
                .body("{}")
        );
        assert_eq!(body("", "m"), r#"{"markdown":"m"}"#);
        assert_eq!(body("r", ""), r#"{"roomId":"r"}"#);
        // Strings are escaped as Go escapes them (DEL as it is).
        assert_eq!(
            body("a@b.c", "a <b> & \"c\"\n\t\u{1}\u{8}\u{c}\u{7f}\u{2028}\\ é"),
            format!(
                r#"{{"toPersonEmail":"a@b.c","markdown":"a \u003cb\u003e \u0026 \"c\"\n\t\u0001\b\f{}\u2028\\ é"}}"#,
                '\u{7f}'
            )
        );
    }

    #[test]
    fn the_api_url_defaults_to_webex() {
        let endpoint = |url: Option<&str>| Config { api_url: url.map(str::to_string), ..Config::default() }.endpoint();
        assert_eq!(endpoint(None), "https://webexapis.com/v1/messages");
        assert_eq!(endpoint(Some("")), "https://webexapis.com/v1/messages");
        assert_eq!(endpoint(Some("https://w.example//")), "https://w.example//v1/messages");
    }

    #[test]
    fn configs_accept_argos_fields_and_name_a_bad_one() {
        let n = Notification::new("webex", "webex").with_config(json!({
            "token": "t", "apiURL": "https://w", "insecureSkipVerify": false, "maxConnsPerHost": 2,
        }));
        let config: Config = n.config_as().unwrap();
        assert_eq!((config.token.as_deref(), config.endpoint().as_str()), (Some("t"), "https://w/v1/messages"));
        let wrong = n.with_config(json!({"token": 5})).config_as::<Config>().unwrap_err().0;
        assert!(wrong.starts_with("invalid config: token: invalid type: integer `5`"), "{wrong}");
    }

    #[test]
    fn only_a_200_is_delivered() {
        // TestSend_Webex: auth error.
        let url = "https://webexapis.com/v1/messages";
        assert_eq!(verdict(url, Ok(response(200, "{}"))), Ok(()));
        assert_eq!(
            verdict(url, Ok(response(401, r#"{"message":"unauthorized"}"#))).unwrap_err().0,
            r#"request to https://webexapis.com/v1/messages has failed with error code 401 : {"message":"unauthorized"}"#
        );
        assert_eq!(
            verdict(url, Ok(response(204, ""))).unwrap_err().0,
            "request to https://webexapis.com/v1/messages has failed with error code 204 : "
        );
        let long = verdict(url, Ok(response(500, &"é".repeat(1000)))).unwrap_err().0;
        assert!(long.ends_with(&format!(" : {}", "é".repeat(512))), "{long}");
        assert_eq!(
            verdict(url, Err(http::Error::Timeout)).unwrap_err().0,
            "Post \"https://webexapis.com/v1/messages\": timeout"
        );
    }
}

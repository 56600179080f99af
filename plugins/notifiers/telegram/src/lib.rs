//! `aviary/telegram`: Argo notifications-engine's `telegram` service (`pkg/services/telegram.go`,
//! over OvyFlash/telegram-bot-api's `sendMessage`): posts the notification to a chat or a channel
//! with a bot token.
//!
//! ```yaml
//! # argo-rollouts-notification-configmap
//! service.telegram: |
//!   token: $telegram-token
//! # subscriptions: notifications.argoproj.io/subscribe.on-rollout-completed.telegram: my-channel
//! #                (a channel's username), or -1000000000000 (a chat's id), or -1000000000000|42
//! #                (a topic of a forum chat)
//! ```
//!
//! # Config (`service.telegram`)
//!
//! - `token` (required): the bot's token (a `$key` of the notification secret, resolved by the
//!   host). An absent or empty one is `invalid config: token: must be set`.
//! - `apiUrl` (an Aviary addition, absent from Argo, whose library has the endpoint built in):
//!   the Bot API's base URL, default `https://api.telegram.org`; messages go to
//!   `<apiUrl>/bot<token>/sendMessage` (a trailing `/` of `apiUrl` is dropped). Its host must be
//!   allowed by the plugin's registry entry (the host grants a first-party notifier the host of
//!   its `apiUrl`, or api.telegram.org); it exists so that tests can point the service at loopback.
//! - Any other field is ignored, as Go's `encoding/json` ignores it.
//!
//! # The request
//!
//! As Argo's `buildTelegramMessageOptions` and the library's `MessageConfig`: the recipient names
//! the chat:
//! - one starting with `-` is a chat id, optionally followed by `|<topic id>`: `-1001234` sends
//!   `chat_id=-1001234`, `-1001234|42` also `message_thread_id=42` (a topic id of 0 is not sent).
//!   An id that is not a 64-bit integer is Go's `strconv.ParseInt: parsing "<id>": invalid syntax`
//!   (or `value out of range`), a topic that is not one `strconv.Atoi: parsing ...`;
//! - any other is a channel's username, sent as `chat_id=@<recipient>` (a positive chat id is
//!   therefore a username too, as in Argo).
//!
//! The request is `POST <apiUrl>/bot<token>/sendMessage` with
//! `Content-Type: application/x-www-form-urlencoded` and the form the library sends (keys sorted,
//! Go's `url.QueryEscape`): `business_connection_id=` (empty), `chat_id`, `entities=null`,
//! `link_preview_options={}`, `message_thread_id` (when set), `parse_mode=Markdown`,
//! `reply_parameters={"message_id":0}`, and `text`: the template's `message`, left out when empty.
//!
//! # The answer
//!
//! As the library reads it: a 2xx whose JSON has `"ok": true` is delivered; one whose `ok` is
//! false is the answer's `description` (`Bad Request: chat not found`), Argo's error; one that is
//! not JSON is `telegram: invalid response: <why>`. Any other status is
//! `request to POST <url> has failed with error code <status> : <body>` (the body's first KiB,
//! Telegram's `{"ok":false,"error_code","description"}`), and no response `Post "<url>": <why>`,
//! where `<url>` is `<apiUrl>/bot<redacted>/sendMessage`: the token is never shown. Nothing is
//! retried, as in Argo.
//!
//! # Not supported
//!
//! The library first calls `getMe` to check the token; that call is not made: a bad token fails
//! `sendMessage` the same way (`Unauthorized`).

use aviary_plugin_sdk::export_notifier;
use aviary_plugin_sdk::http::{self, Request, Response};
use aviary_plugin_sdk::notifier::{Error, Notification, Notifier, api_base, post_answer};
pub use aviary_plugin_sdk::notifier::{MAX_QUOTED_BODY, quote_body};
use serde::Deserialize;
use std::num::IntErrorKind;

/// The Bot API's base URL when the config has no `apiUrl`: the library's.
pub const DEFAULT_API_URL: &str = "https://api.telegram.org";
/// What stands for the token in the URLs that messages show.
pub const REDACTED: &str = "<redacted>";

/// The service's config: `service.telegram`, as Argo's `TelegramOptions` plus `apiUrl`. Unknown
/// fields are ignored; `null` reads as absent, as in Go.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// The bot's token.
    #[serde(default)]
    pub token: Option<String>,
    /// The Bot API's base URL; absent or empty: [`DEFAULT_API_URL`].
    #[serde(default)]
    pub api_url: Option<String>,
}

impl Config {
    /// The Bot API's base URL, without a trailing `/`.
    pub fn base(&self) -> &str {
        api_base(self.api_url.as_deref(), DEFAULT_API_URL).trim_end_matches('/')
    }

    /// The token, or an error naming the field when there is none.
    pub fn token(&self) -> Result<&str, Error> {
        match self.token.as_deref() {
            None | Some("") => Err(Error::msg("invalid config: token: must be set")),
            Some(token) => Ok(token),
        }
    }
}

/// Go's `strconv.ParseInt(text, 10, 64)`, failing with Go's message (`function` names the Go
/// function).
pub fn parse_go_int(function: &str, text: &str) -> Result<i64, Error> {
    text.parse::<i64>().map_err(|e| {
        let why = match e.kind() {
            IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => "value out of range",
            _ => "invalid syntax",
        };
        Error(format!("strconv.{function}: parsing {text:?}: {why}"))
    })
}

pub use aviary_plugin_sdk::notifier::{form_encode, query_escape};

/// Where a message goes, as Argo reads the recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chat {
    /// A chat by id (the recipient started with `-`), and a topic id (0 for none).
    Id {
        /// The chat's id.
        chat: i64,
        /// The forum topic's id; 0 for none.
        thread: i64,
    },
    /// A channel by username (`@` and the recipient).
    Channel(String),
}

impl Chat {
    /// The chat the recipient `recipient` names, as Argo's `buildTelegramMessageOptions`.
    pub fn parse(recipient: &str) -> Result<Chat, Error> {
        if !recipient.starts_with('-') {
            return Ok(Chat::Channel(format!("@{recipient}")));
        }
        let mut parts = recipient.split('|');
        let chat = parse_go_int("ParseInt", parts.next().unwrap_or_default())?;
        let thread = match parts.next() {
            Some(thread) => parse_go_int("Atoi", thread)?,
            None => 0,
        };
        Ok(Chat::Id { chat, thread })
    }
}

/// One `sendMessage` call, before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The Bot API's base URL.
    pub base: String,
    /// The bot's token.
    pub token: String,
    /// The form fields, in the order they were added (the body sorts them).
    pub fields: Vec<(&'static str, String)>,
}

impl Message {
    /// The message of `notification` under `config`, as Argo and the library's `MessageConfig`
    /// build it.
    pub fn new(notification: &Notification, config: &Config) -> Result<Message, Error> {
        let token = config.token()?.to_string();
        let mut fields: Vec<(&'static str, String)> = Vec::new();
        // `ChatConfig.params`: the first of the id (when not 0) and the channel's username.
        match Chat::parse(&notification.recipient)? {
            Chat::Id { chat, thread } => {
                if chat != 0 {
                    fields.push(("chat_id", chat.to_string()));
                }
                if thread != 0 {
                    fields.push(("message_thread_id", thread.to_string()));
                }
            }
            Chat::Channel(username) => fields.push(("chat_id", username)),
        }
        // `BaseChat.params`: an empty business connection and the zero `ReplyParameters`.
        fields.push(("business_connection_id", String::new()));
        fields.push(("reply_parameters", r#"{"message_id":0}"#.to_string()));
        // `MessageConfig.params`: the text when not empty, Argo's parse mode, no entities, the
        // zero `LinkPreviewOptions`.
        if !notification.message().is_empty() {
            fields.push(("text", notification.message().to_string()));
        }
        fields.push(("parse_mode", "Markdown".to_string()));
        fields.push(("entities", "null".to_string()));
        fields.push(("link_preview_options", "{}".to_string()));
        Ok(Message { base: config.base().to_string(), token, fields })
    }

    /// The endpoint, token included.
    pub fn url(&self) -> String {
        format!("{}/bot{}/sendMessage", self.base, self.token)
    }

    /// The endpoint as messages show it: the token replaced by [`REDACTED`].
    pub fn shown_url(&self) -> String {
        format!("{}/bot{REDACTED}/sendMessage", self.base)
    }

    /// The form body.
    pub fn body(&self) -> String {
        form_encode(&self.fields)
    }

    /// The HTTP request.
    pub fn request(&self) -> Request {
        Request::post(self.url())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(self.body().into_bytes())
    }
}

/// The Bot API's answer, the part that says whether the message was sent.
#[derive(Debug, Default, Deserialize)]
struct Answer {
    #[serde(default)]
    ok: bool,
    #[serde(default)]
    description: Option<String>,
}

/// The verdict on the answer to `message`, as the crate docs say.
pub fn verdict(message: &Message, outcome: Result<Response, http::Error>) -> Result<(), Error> {
    let response = post_answer(&message.shown_url(), outcome)?;
    match response.json::<Answer>() {
        Err(e) => Err(Error(format!("telegram: invalid response: {e}"))),
        Ok(Answer { ok: true, .. }) => Ok(()),
        Ok(Answer { description, .. }) => Err(Error(description.unwrap_or_default())),
    }
}

/// The service.
pub struct Telegram;

impl Notifier for Telegram {
    fn send(notification: Notification) -> Result<(), Error> {
        let config: Config = notification.config_as()?;
        let message = Message::new(&notification, &config)?;
        verdict(&message, message.request().send())
    }
}

export_notifier!(Telegram);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn message(config: Value, recipient: &str, text: &str) -> Result<Message, Error> {
        let n = Notification::new("telegram", "telegram")
            .with_config(config)
            .with_template(json!({"message": text}))
            .with_recipient(recipient);
        Message::new(&n, &n.config_as()?)
    }

    fn token() -> Value {
        json!({"token": "123:abc"})
    }

    fn response(status: u16, body: &str) -> Response {
        Response { status, headers: Vec::new(), body: body.as_bytes().to_vec() }
    }

    #[test]
    fn configs_need_a_token_and_default_to_telegram() {
        let config: Config =
            Notification::new("t", "telegram").with_config(json!({"token": "t", "x": 1})).config_as().unwrap();
        assert_eq!((config.token(), config.base()), (Ok("t"), "https://api.telegram.org"));
        let config = Config { token: Some("t".into()), api_url: Some("http://127.0.0.1:8080/".into()) };
        assert_eq!(config.base(), "http://127.0.0.1:8080");
        assert_eq!(message(json!({}), "-1", "m").unwrap_err().0, "invalid config: token: must be set");
        assert_eq!(message(json!({"token": ""}), "-1", "m").unwrap_err().0, "invalid config: token: must be set");
        let wrong = message(json!({"token": 5}), "-1", "m").unwrap_err().0;
        assert!(wrong.starts_with("invalid config: token: invalid type: integer `5`"), "{wrong}");
    }

    /// Argo's `TestBuildTelegramMessageOptions`: a chat, a chat's topic, a channel.
    #[test]
    fn recipients_name_chats_topics_and_channels() {
        assert_eq!(Chat::parse("-123456"), Ok(Chat::Id { chat: -123456, thread: 0 }));
        assert_eq!(Chat::parse("-123456|1"), Ok(Chat::Id { chat: -123456, thread: 1 }));
        assert_eq!(Chat::parse("123456"), Ok(Chat::Channel("@123456".into())));
        assert_eq!(Chat::parse("my-channel|1"), Ok(Chat::Channel("@my-channel|1".into())));
        assert_eq!(Chat::parse("-1|2|3"), Ok(Chat::Id { chat: -1, thread: 2 }));
        assert_eq!(Chat::parse("-abc").unwrap_err().0, "strconv.ParseInt: parsing \"-abc\": invalid syntax");
        assert_eq!(Chat::parse("-1|t").unwrap_err().0, "strconv.Atoi: parsing \"t\": invalid syntax");
        assert_eq!(Chat::parse("-1|").unwrap_err().0, "strconv.Atoi: parsing \"\": invalid syntax");
        assert_eq!(
            Chat::parse("-99999999999999999999").unwrap_err().0,
            "strconv.ParseInt: parsing \"-99999999999999999999\": value out of range"
        );
    }

    /// The requests of Argo's test cases, byte for byte as the library sends them (checked
    /// against the Go code).
    #[test]
    fn the_form_is_the_librarys() {
        let m = message(token(), "-123456|1", "Test *message* & more").unwrap();
        let body = "business_connection_id=&chat_id=-123456&entities=null&link_preview_options=%7B%7D\
                    &message_thread_id=1&parse_mode=Markdown&reply_parameters=%7B%22message_id%22%3A0%7D\
                    &text=Test+%2Amessage%2A+%26+more";
        assert_eq!(m.body(), body);
        assert_eq!(
            m.request(),
            Request::post("https://api.telegram.org/bot123:abc/sendMessage")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body)
        );
        let m = message(token(), "channel", "Test message").unwrap();
        assert_eq!(
            m.body(),
            "business_connection_id=&chat_id=%40channel&entities=null&link_preview_options=%7B%7D\
             &parse_mode=Markdown&reply_parameters=%7B%22message_id%22%3A0%7D&text=Test+message"
        );
        // An empty message sends no text; a chat id of 0 no chat, as the library's params do.
        let m = message(token(), "-100", "").unwrap();
        assert_eq!(
            m.body(),
            "business_connection_id=&chat_id=-100&entities=null&link_preview_options=%7B%7D\
             &parse_mode=Markdown&reply_parameters=%7B%22message_id%22%3A0%7D"
        );
        let m = message(token(), "-0|0", "x").unwrap();
        assert!(!m.fields.iter().any(|(k, _)| *k == "chat_id" || *k == "message_thread_id"));
    }

    #[test]
    fn the_api_url_moves_the_endpoint_and_the_token_is_never_shown() {
        let m = message(json!({"token": "123:abc", "apiUrl": "http://127.0.0.1:8080/"}), "-1", "m").unwrap();
        assert_eq!(m.url(), "http://127.0.0.1:8080/bot123:abc/sendMessage");
        assert_eq!(m.shown_url(), "http://127.0.0.1:8080/bot<redacted>/sendMessage");
        let err = verdict(&m, Err(http::Error::Transport("connection refused".into()))).unwrap_err().0;
        assert_eq!(
            err,
            "Post \"http://127.0.0.1:8080/bot<redacted>/sendMessage\": transport error: connection refused"
        );
        assert!(!err.contains("abc"));
    }

    #[test]
    fn answers_are_judged_as_the_library_does() {
        let m = message(token(), "-1", "m").unwrap();
        assert_eq!(verdict(&m, Ok(response(200, r#"{"ok":true,"result":{"message_id":1}}"#))), Ok(()));
        assert_eq!(
            verdict(&m, Ok(response(200, r#"{"ok":false,"error_code":400,"description":"Bad Request: x"}"#))),
            Err(Error::msg("Bad Request: x"))
        );
        let invalid = verdict(&m, Ok(response(200, "<html>"))).unwrap_err().0;
        assert!(invalid.starts_with("telegram: invalid response: "), "{invalid}");
        let not_found = r#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#;
        assert_eq!(
            verdict(&m, Ok(response(400, not_found))).unwrap_err().0,
            format!(
                "request to POST https://api.telegram.org/bot<redacted>/sendMessage has failed with error code 400 : \
                 {not_found}"
            )
        );
        let err = verdict(&m, Ok(response(502, &"é".repeat(1000)))).unwrap_err().0;
        assert!(err.ends_with(&"é".repeat(512)) && !err.ends_with(&"é".repeat(513)), "{err}");
    }

    #[test]
    fn form_encoding_is_gos() {
        assert_eq!(query_escape("a b~c*d/é_-."), "a+b~c%2Ad%2F%C3%A9_-.");
        assert_eq!(form_encode(&[("text", "x".into()), ("chat_id", "c".into())]), "chat_id=c&text=x");
    }
}

//! `aviary/slack`: Argo notifications-engine's `slack` service (`pkg/services/slack.go` and
//! `pkg/util/slack/client.go`, over slack-go's `chat.postMessage`): posts the notification to a
//! channel with a bot token.
//!
//! ```yaml
//! # argo-rollouts-notification-configmap
//! service.slack: |
//!   token: $slack-token
//!   username: rollouts
//!   icon: ":rocket:"
//! template.rollout-completed: |
//!   message: Rollout {{.rollout.metadata.name}} has been completed.
//!   slack:
//!     attachments: |
//!       [{"title": "{{.rollout.metadata.name}}", "color": "#18be52"}]
//! ```
//!
//! # Config (`service.slack`)
//!
//! - `token`: the bot token (`xoxb-...`, a `$key` of the notification secret, resolved by the
//!   host).
//! - `apiURL`: Slack's Web API (default `https://slack.com/api/`); the request goes to
//!   `<apiURL>chat.postMessage`, a `/` added to `apiURL` when it lacks one (slack-go would
//!   concatenate without it). Its host must be allowed by the plugin's registry entry (the host
//!   grants a first-party notifier the host of its `apiURL`, or slack.com).
//! - `username`, `icon`: the defaults of the template's `slack.username` and `slack.icon`.
//! - `channels`: the channel used when the subscription names no recipient (its first one);
//!   Argo itself always has a recipient.
//! - `disableUnfurl`: sends `unfurl_links=false` and `unfurl_media=false`.
//! - `insecureSkipVerify`: accepted, but only `false` is honoured: the host always verifies TLS
//!   certificates, so `true` logs a warning and the request is still verified.
//! - Accepted and ignored: `signingSecret` (for Slack's interactive callbacks, which Aviary does
//!   not serve), `maxIdleConns`, `maxIdleConnsPerHost`, `maxConnsPerHost`, `idleConnTimeout`
//!   (Argo's client tuning), and any other unknown field, as Go's `encoding/json` ignores it.
//!
//! # The request
//!
//! `POST <apiURL>chat.postMessage` with `Content-Type: application/x-www-form-urlencoded`,
//! `Authorization: Bearer <token>` (when a token is set) and, as slack-go encodes them (keys in
//! order, Go's `url.QueryEscape`):
//! - `token`, and `channel`: the recipient;
//! - `text`: the template's `message` (sent even empty);
//! - `username`: the template's `slack.username`, else the config's, when not empty;
//! - `icon_emoji` or `icon_url`: the template's `slack.icon`, else the config's: an emoji when it
//!   matches `^:.+:$`, a URL when it is an absolute http(s) URL with a host; anything else is
//!   logged as Argo logs it (`Icon reference '...' is not a valid emoji or url`) and not sent;
//! - `attachments` and `blocks`: the template's rendered `slack.attachments` and `slack.blocks`
//!   JSON, when not empty. Each must be a JSON array, else the notification fails with Argo's
//!   `failed to unmarshal attachments '<text>' : <why>`. They are sent as written (Argo decodes
//!   them into slack-go's types and encodes them again, which drops fields slack-go does not
//!   know; and it sends `[]` for an empty one, which Slack reads as none);
//! - `reply_broadcast=true` when the template's `slack.notifyBroadcast` is set;
//! - `unfurl_links=false` and `unfurl_media=false` with `disableUnfurl`.
//!
//! # The answer
//!
//! As slack-go reads it: a status other than 200 is `slack server error: <status>` (Go's status
//! line, `500 Internal Server Error`); a 200 is JSON whose `ok: false` with an `error` is
//! `slack: <error>` (`slack: channel_not_found`); no response is
//! `Post "<url>": <why>`. A 429 with `Retry-After` seconds is retried after that wait, as Argo's
//! rate-limited loop does, while the waits add up to at most 5 s (the call has a deadline); past
//! that it is slack-go's `slack rate limit exceeded, retry after <d>`.
//!
//! # Not supported
//!
//! Threads and updates (the template's `slack.groupingKey` and `slack.deliveryPolicy`) need
//! what Argo keeps in memory across notifications (the thread timestamp of each grouping key),
//! and every call here runs in a fresh instance: each notification is posted as a new message,
//! which is what Argo does for the first notification of a grouping key, whatever the policy.
//! Slack webhooks (`service.slack` with a `webhook` URL instead of a token) are not implemented.

use std::time::Duration;

use aviary_plugin_sdk::export_notifier;
use aviary_plugin_sdk::http::{self, Request, Response, status_line};
use aviary_plugin_sdk::notifier::{
    Error, Notification, Notifier, api_base, log, template_block, warn_insecure_skip_verify,
};
use serde::Deserialize;
use serde_json::Value;

/// slack-go's `APIURL`.
pub const DEFAULT_API_URL: &str = "https://slack.com/api/";
/// The most the waits on rate limits may add up to in one notification.
pub const RATE_LIMIT_BUDGET: Duration = Duration::from_secs(5);

/// The service's config: `service.slack`. Fields Aviary does not implement are accepted and
/// ignored (see the crate docs); `null` reads as absent, as in Go.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// The bot token.
    #[serde(default)]
    pub token: Option<String>,
    /// Slack's Web API base URL; absent or empty: [`DEFAULT_API_URL`].
    #[serde(default, rename = "apiURL")]
    pub api_url: Option<String>,
    /// The default user name.
    #[serde(default)]
    pub username: Option<String>,
    /// The default icon (an emoji or a URL).
    #[serde(default)]
    pub icon: Option<String>,
    /// Channels; the first is used when the subscription names no recipient.
    #[serde(default)]
    pub channels: Option<Vec<String>>,
    /// Turns link and media unfurling off.
    #[serde(default)]
    pub disable_unfurl: Option<bool>,
    /// Argo's switch to skip TLS verification: accepted, never honoured (the host verifies).
    #[serde(default)]
    pub insecure_skip_verify: Option<bool>,
}

impl Config {
    /// The `chat.postMessage` endpoint.
    pub fn endpoint(&self) -> String {
        let base = api_base(self.api_url.as_deref(), DEFAULT_API_URL);
        if base.ends_with('/') { format!("{base}chat.postMessage") } else { format!("{base}/chat.postMessage") }
    }
}

/// The template's `slack` block, as Argo's `SlackNotification` (rendered).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlackTemplate {
    /// The user name to post as.
    #[serde(default)]
    pub username: Option<String>,
    /// The icon: an emoji or a URL.
    #[serde(default)]
    pub icon: Option<String>,
    /// Attachments: rendered JSON text (a JSON array is accepted as well).
    #[serde(default)]
    pub attachments: Option<Value>,
    /// Blocks: rendered JSON text (a JSON array is accepted as well).
    #[serde(default)]
    pub blocks: Option<Value>,
    /// Threads messages by this key in Argo: not supported, the message is posted anew.
    #[serde(default)]
    pub grouping_key: Option<String>,
    /// Broadcasts a thread reply to the channel.
    #[serde(default)]
    pub notify_broadcast: Option<bool>,
    /// Post, update or both in Argo: not supported, the message is posted anew.
    #[serde(default)]
    pub delivery_policy: Option<Value>,
}

/// Whether an icon is an emoji, as Argo's `^:.+:$` (`.` matches anything but a newline).
pub fn is_emoji(icon: &str) -> bool {
    icon.len() >= 3 && icon.starts_with(':') && icon.ends_with(':') && !icon[1..icon.len() - 1].contains('\n')
}

/// Whether an icon is a URL, as Argo's `isValidIconURL`: an absolute http or https URL (any case)
/// with a host, without control characters or a space in its host.
pub fn is_icon_url(icon: &str) -> bool {
    if icon.chars().any(|c| c.is_ascii_control()) {
        return false;
    }
    let Some((scheme, rest)) = icon.split_once("://") else { return false };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return false;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    !host.is_empty() && !host.contains(' ')
}

/// The form field for an icon: `icon_emoji` or `icon_url`, or `None` (logged) for neither.
pub fn icon_field(icon: &str) -> Option<(&'static str, String)> {
    if is_emoji(icon) {
        Some(("icon_emoji", icon.to_string()))
    } else if is_icon_url(icon) {
        Some(("icon_url", icon.to_string()))
    } else {
        log::warn(&format!("Icon reference '{icon}' is not a valid emoji or url"));
        None
    }
}

/// Rendered `attachments` or `blocks` as the text to send: `None` when empty, an error in Argo's
/// words when it is not a JSON array.
pub fn json_field(name: &str, value: Option<&Value>) -> Result<Option<String>, Error> {
    let text = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(text)) if text.trim().is_empty() => return Ok(None),
        Some(Value::String(text)) => text.clone(),
        Some(other @ Value::Array(_)) => return Ok(Some(other.to_string())),
        Some(other) => other.to_string(),
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Array(_)) => Ok(Some(text)),
        Ok(_) => Err(Error(format!("failed to unmarshal {name} '{text}' : not a JSON array"))),
        Err(e) => Err(Error(format!("failed to unmarshal {name} '{text}' : {e}"))),
    }
}

pub use aviary_plugin_sdk::notifier::{form_encode, query_escape};

/// One `chat.postMessage` call, before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The endpoint.
    pub url: String,
    /// The bot token (empty when the config has none).
    pub token: String,
    /// The form fields, in the order they were added (the body sorts them).
    pub fields: Vec<(&'static str, String)>,
}

impl Message {
    /// The message of `notification` under `config`, as Argo's `buildMessageOptions` and
    /// slack-go's `chat.postMessage` build it.
    pub fn new(notification: &Notification, config: &Config) -> Result<Message, Error> {
        let channel = if notification.recipient.is_empty() {
            match config.channels.as_deref().and_then(<[String]>::first) {
                Some(first) if !first.is_empty() => first.clone(),
                _ => {
                    return Err(Error::msg(
                        "slack: no channel: the subscription names no recipient and the config has no channels",
                    ));
                }
            }
        } else {
            notification.recipient.clone()
        };
        let slack: SlackTemplate = template_block(notification, "slack")?.unwrap_or_default();
        let token = config.token.clone().unwrap_or_default();
        let mut fields: Vec<(&'static str, String)> =
            vec![("token", token.clone()), ("channel", channel), ("text", notification.message().to_string())];
        let pick = |template: &Option<String>, config: &Option<String>| -> Option<String> {
            [template, config].into_iter().flatten().find(|s| !s.is_empty()).cloned()
        };
        if let Some(username) = pick(&slack.username, &config.username) {
            fields.push(("username", username));
        }
        if let Some(icon) = pick(&slack.icon, &config.icon) {
            fields.extend(icon_field(&icon));
        }
        if let Some(attachments) = json_field("attachments", slack.attachments.as_ref())? {
            fields.push(("attachments", attachments));
        }
        if let Some(blocks) = json_field("blocks", slack.blocks.as_ref())? {
            fields.push(("blocks", blocks));
        }
        if slack.notify_broadcast == Some(true) {
            fields.push(("reply_broadcast", "true".to_string()));
        }
        if config.disable_unfurl == Some(true) {
            fields.push(("unfurl_links", "false".to_string()));
            fields.push(("unfurl_media", "false".to_string()));
        }
        Ok(Message { url: config.endpoint(), token, fields })
    }

    /// The form body.
    pub fn body(&self) -> String {
        form_encode(&self.fields)
    }

    /// The HTTP request, built afresh for each attempt.
    pub fn request(&self) -> Request {
        let mut request = Request::post(self.url.clone()).header("Content-Type", "application/x-www-form-urlencoded");
        if !self.token.is_empty() {
            request = request.header("Authorization", format!("Bearer {}", self.token));
        }
        request.body(self.body().into_bytes())
    }
}

/// Slack's answer to `chat.postMessage`, the part that says whether it was posted.
#[derive(Debug, Default, Deserialize)]
struct Answer {
    #[serde(default)]
    ok: Option<bool>,
    #[serde(default)]
    error: Option<String>,
}

/// What one attempt's outcome means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Posted.
    Posted,
    /// Rate limited: Slack asks to retry after this long.
    RateLimited(Duration),
    /// Not posted, and retrying would not help.
    Failed(Error),
}

/// `30s`, `1m30s`, `1h0m0s`: whole seconds as Go prints a `time.Duration`.
pub fn go_duration(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, min, sec) => format!("{min}m{sec}s"),
        (h, min, sec) => format!("{h}h{min}m{sec}s"),
    }
}

/// Judges one attempt's outcome as slack-go does (`checkStatusCode`, then the JSON's `ok` and
/// `error`). `url` names the endpoint in a transport error.
pub fn judge(url: &str, outcome: Result<Response, http::Error>) -> Verdict {
    let response = match outcome {
        Ok(response) => response,
        Err(e) => return Verdict::Failed(Error(format!("Post {url:?}: {e}"))),
    };
    if response.status == 429
        && let Some(after) = response.header("retry-after")
    {
        return match after.trim().parse::<u64>() {
            Ok(secs) => Verdict::RateLimited(Duration::from_secs(secs)),
            Err(e) => Verdict::Failed(Error(format!("slack: invalid Retry-After {after:?}: {e}"))),
        };
    }
    if response.status != 200 {
        return Verdict::Failed(Error(format!("slack server error: {}", status_line(response.status))));
    }
    match response.json::<Answer>() {
        Err(e) => Verdict::Failed(Error(format!("slack: invalid response: {e}"))),
        Ok(Answer { ok: Some(false), error: Some(error) }) if !error.trim().is_empty() => {
            Verdict::Failed(Error(format!("slack: {error}")))
        }
        Ok(_) => Verdict::Posted,
    }
}

/// Posts `message` with `send`, waiting with `sleep` and retrying while Slack rate-limits and the
/// waits fit in [`RATE_LIMIT_BUDGET`]: the whole of a notification's delivery, with the network
/// and the clock passed in so that tests run it natively.
pub fn deliver(
    message: &Message,
    mut send: impl FnMut(Request) -> Result<Response, http::Error>,
    mut sleep: impl FnMut(Duration),
) -> Result<(), Error> {
    let mut waited = Duration::ZERO;
    loop {
        match judge(&message.url, send(message.request())) {
            Verdict::Posted => return Ok(()),
            Verdict::Failed(e) => return Err(e),
            Verdict::RateLimited(after) if waited + after <= RATE_LIMIT_BUDGET => {
                log::debug(&format!("slack: rate limited, retrying in {}", go_duration(after)));
                sleep(after);
                waited += after;
            }
            Verdict::RateLimited(after) => {
                return Err(Error(format!("slack rate limit exceeded, retry after {}", go_duration(after))));
            }
        }
    }
}

/// The service.
pub struct Slack;

impl Notifier for Slack {
    fn send(notification: Notification) -> Result<(), Error> {
        let config: Config = notification.config_as()?;
        let message = Message::new(&notification, &config)?;
        warn_insecure_skip_verify("slack", config.insecure_skip_verify);
        let grouping = notification.template.pointer("/slack/groupingKey").and_then(Value::as_str).unwrap_or("");
        if !grouping.is_empty() {
            log::debug(&format!("slack: groupingKey {grouping:?} is not supported; posting a new message"));
        }
        deliver(&message, Request::send, std::thread::sleep)
    }
}

export_notifier!(Slack);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn notification(config: Value, template: Value) -> Notification {
        Notification::new("slack", "slack").with_config(config).with_template(template).with_recipient("#deploys")
    }

    fn message(config: Value, template: Value) -> Message {
        let n = notification(config, template);
        Message::new(&n, &n.config_as().unwrap()).unwrap()
    }

    fn response(status: u16, body: &str) -> Response {
        Response { status, headers: Vec::new(), body: body.as_bytes().to_vec() }
    }

    #[test]
    fn configs_parse_with_argo_fields() {
        let n = notification(
            json!({
                "token": "xoxb-1", "apiURL": "https://slack.example/api/", "username": "bot", "icon": ":ghost:",
                "channels": ["#a"], "disableUnfurl": true, "signingSecret": "s", "insecureSkipVerify": false,
                "maxIdleConns": 5, "idleConnTimeout": "90s", "somethingNew": [1],
            }),
            json!({}),
        );
        let config: Config = n.config_as().unwrap();
        assert_eq!(config.token.as_deref(), Some("xoxb-1"));
        assert_eq!(config.endpoint(), "https://slack.example/api/chat.postMessage");
        assert_eq!(config.channels, Some(vec!["#a".to_string()]));
        let absent: Config = notification(Value::Null, json!({})).config_as().unwrap();
        assert_eq!(absent, Config::default());
        let wrong = notification(json!({"channels": "#a"}), json!({})).config_as::<Config>().unwrap_err().0;
        assert!(wrong.starts_with("invalid config: channels: invalid type: string \"#a\""), "{wrong}");
    }

    #[test]
    fn the_endpoint_defaults_to_slack_and_gets_a_slash() {
        let endpoint = |url: Option<&str>| Config { api_url: url.map(str::to_string), ..Config::default() }.endpoint();
        assert_eq!(endpoint(None), "https://slack.com/api/chat.postMessage");
        assert_eq!(endpoint(Some("")), "https://slack.com/api/chat.postMessage");
        assert_eq!(endpoint(Some("http://mock:8080/api")), "http://mock:8080/api/chat.postMessage");
    }

    #[test]
    fn a_plain_message_is_token_channel_and_text() {
        let m = message(json!({"token": "xoxb-1"}), json!({"message": "Rollout web: 50% & healthy"}));
        assert_eq!(m.body(), "channel=%23deploys&text=Rollout+web%3A+50%25+%26+healthy&token=xoxb-1");
        assert_eq!(
            m.request(),
            Request::post("https://slack.com/api/chat.postMessage")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header("Authorization", "Bearer xoxb-1")
                .body("channel=%23deploys&text=Rollout+web%3A+50%25+%26+healthy&token=xoxb-1")
        );
        // Without a token: no Authorization header, an empty token field (Slack answers not_authed).
        let m = message(json!({}), json!({}));
        assert_eq!(m.body(), "channel=%23deploys&text=&token=");
        assert_eq!(
            m.request(),
            Request::post("https://slack.com/api/chat.postMessage")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body("channel=%23deploys&text=&token=")
        );
    }

    #[test]
    fn form_encoding_is_gos() {
        assert_eq!(query_escape("a b~c*d/é"), "a+b~c%2Ad%2F%C3%A9");
        assert_eq!(
            form_encode(&[("text", "x".into()), ("channel", "c".into()), ("blocks", "[]".into())]),
            "blocks=%5B%5D&channel=c&text=x"
        );
    }

    #[test]
    fn the_template_overrides_the_configs_username_and_icon() {
        let config = json!({"token": "t", "username": "config-bot", "icon": ":config:"});
        let m = message(config.clone(), json!({"message": "m"}));
        assert!(m.fields.contains(&("username", "config-bot".into())));
        assert!(m.fields.contains(&("icon_emoji", ":config:".into())));
        let m = message(config.clone(), json!({"slack": {"username": "tpl", "icon": "https://x/i.png"}}));
        assert!(m.fields.contains(&("username", "tpl".into())));
        assert!(m.fields.contains(&("icon_url", "https://x/i.png".into())));
        assert!(!m.fields.iter().any(|(k, _)| *k == "icon_emoji"));
        // An empty template value keeps the config's.
        let m = message(config, json!({"slack": {"username": "", "icon": ""}}));
        assert!(m.fields.contains(&("username", "config-bot".into())));
        assert!(m.fields.contains(&("icon_emoji", ":config:".into())));
        let m = message(json!({}), json!({"slack": {"icon": "rocket"}}));
        assert!(!m.fields.iter().any(|(k, _)| k.starts_with("icon")));
    }

    #[test]
    fn icons_are_emojis_or_urls_as_argo_tells_them() {
        assert!(is_emoji(":rocket:"));
        assert!(is_emoji(":::"));
        assert!(!is_emoji("::"));
        assert!(!is_emoji(":a\nb:"));
        assert!(!is_emoji("rocket"));
        assert!(is_icon_url("https://example.com/i.png"));
        assert!(is_icon_url("HTTP://example.com"));
        assert!(!is_icon_url("ftp://example.com/i.png"));
        assert!(!is_icon_url("https:///i.png"));
        assert!(!is_icon_url("/i.png"));
        assert!(!is_icon_url("https://exa mple.com/"));
        assert_eq!(icon_field(":x:"), Some(("icon_emoji", ":x:".to_string())));
        assert_eq!(icon_field("http://h/i"), Some(("icon_url", "http://h/i".to_string())));
        assert_eq!(icon_field("x"), None);
    }

    #[test]
    fn attachments_and_blocks_are_sent_when_not_empty() {
        let attachments = r##"[{"title":"web","color":"#18be52"}]"##;
        let m = message(
            json!({"token": "t"}),
            json!({"message": "m", "slack": {"attachments": attachments, "blocks": "", "notifyBroadcast": true}}),
        );
        assert!(m.fields.contains(&("attachments", attachments.to_string())));
        assert!(!m.fields.iter().any(|(k, _)| *k == "blocks"));
        assert!(m.fields.contains(&("reply_broadcast", "true".into())));
        assert_eq!(
            m.body(),
            "attachments=%5B%7B%22title%22%3A%22web%22%2C%22color%22%3A%22%2318be52%22%7D%5D&channel=%23deploys\
             &reply_broadcast=true&text=m&token=t"
        );
        let m = message(json!({}), json!({"slack": {"blocks": [{"type": "divider"}], "attachments": null}}));
        assert!(m.fields.contains(&("blocks", r#"[{"type":"divider"}]"#.to_string())));
        assert!(!m.fields.iter().any(|(k, _)| *k == "attachments"));
    }

    #[test]
    fn attachments_that_are_not_a_json_array_fail_as_in_argo() {
        let n = notification(json!({}), json!({"slack": {"attachments": "[{"}}));
        let err = Message::new(&n, &n.config_as().unwrap()).unwrap_err().0;
        assert!(err.starts_with("failed to unmarshal attachments '[{' : "), "{err}");
        let n = notification(json!({}), json!({"slack": {"blocks": "{\"type\":\"divider\"}"}}));
        let err = Message::new(&n, &n.config_as().unwrap()).unwrap_err().0;
        assert_eq!(err, r#"failed to unmarshal blocks '{"type":"divider"}' : not a JSON array"#);
        let n = notification(json!({}), json!({"slack": "nope"}));
        let err = Message::new(&n, &n.config_as().unwrap()).unwrap_err().0;
        assert!(err.starts_with("invalid template: slack: invalid type: string \"nope\""), "{err}");
    }

    #[test]
    fn disable_unfurl_sends_both_switches() {
        let m = message(json!({"disableUnfurl": true}), json!({}));
        assert_eq!(m.body(), "channel=%23deploys&text=&token=&unfurl_links=false&unfurl_media=false");
        let m = message(json!({"disableUnfurl": false}), json!({}));
        assert!(!m.fields.iter().any(|(k, _)| k.starts_with("unfurl")));
    }

    #[test]
    fn without_a_recipient_the_first_channel_is_used() {
        let n = notification(json!({"channels": ["#ops", "#other"]}), json!({})).with_recipient("");
        let m = Message::new(&n, &n.config_as().unwrap()).unwrap();
        assert!(m.fields.contains(&("channel", "#ops".into())));
        let n = notification(json!({"channels": []}), json!({})).with_recipient("");
        let err = Message::new(&n, &n.config_as().unwrap()).unwrap_err().0;
        assert!(err.starts_with("slack: no channel"), "{err}");
        // A recipient wins over the channels.
        let n = notification(json!({"channels": ["#ops"]}), json!({}));
        assert!(Message::new(&n, &n.config_as().unwrap()).unwrap().fields.contains(&("channel", "#deploys".into())));
    }

    #[test]
    fn answers_are_judged_as_slack_go_does() {
        let url = "https://slack.com/api/chat.postMessage";
        assert_eq!(judge(url, Ok(response(200, r#"{"ok":true,"channel":"C1","ts":"1.2"}"#))), Verdict::Posted);
        assert_eq!(
            judge(url, Ok(response(200, r#"{"ok":false,"error":"channel_not_found"}"#))),
            Verdict::Failed(Error::msg("slack: channel_not_found"))
        );
        // slack-go takes ok:false without an error as posted.
        assert_eq!(judge(url, Ok(response(200, r#"{"ok":false}"#))), Verdict::Posted);
        assert_eq!(
            judge(url, Ok(response(500, "<html>"))),
            Verdict::Failed(Error::msg("slack server error: 500 Internal Server Error"))
        );
        assert_eq!(judge(url, Ok(response(201, "{}"))), Verdict::Failed(Error::msg("slack server error: 201 Created")));
        let Verdict::Failed(Error(invalid)) = judge(url, Ok(response(200, "ok"))) else { panic!() };
        assert!(invalid.starts_with("slack: invalid response: "), "{invalid}");
        assert_eq!(
            judge(url, Err(http::Error::Transport("connection refused".into()))),
            Verdict::Failed(Error::msg(
                "Post \"https://slack.com/api/chat.postMessage\": transport error: connection refused"
            ))
        );
        let limited = Response { status: 429, headers: vec![("retry-after".into(), "3".into())], body: Vec::new() };
        assert_eq!(judge(url, Ok(limited)), Verdict::RateLimited(Duration::from_secs(3)));
        assert_eq!(
            judge(url, Ok(response(429, ""))),
            Verdict::Failed(Error::msg("slack server error: 429 Too Many Requests"))
        );
    }

    fn run(outcomes: Vec<Result<Response, http::Error>>) -> (Result<(), Error>, usize, Vec<Duration>) {
        let m = message(json!({"token": "t"}), json!({"message": "m"}));
        let mut outcomes = outcomes.into_iter();
        let (mut attempts, mut waits) = (0, Vec::new());
        let result = deliver(
            &m,
            |request| {
                assert_eq!(request, m.request());
                attempts += 1;
                outcomes.next().expect("no more outcomes")
            },
            |d| waits.push(d),
        );
        (result, attempts, waits)
    }

    fn limited(secs: u32) -> Result<Response, http::Error> {
        Ok(Response { status: 429, headers: vec![("Retry-After".into(), secs.to_string())], body: Vec::new() })
    }

    #[test]
    fn rate_limits_are_waited_out_within_the_budget() {
        let (result, attempts, waits) = run(vec![limited(1), limited(2), Ok(response(200, r#"{"ok":true}"#))]);
        assert_eq!((result, attempts), (Ok(()), 3));
        assert_eq!(waits, vec![Duration::from_secs(1), Duration::from_secs(2)]);
        let (result, attempts, waits) = run(vec![limited(3), limited(3)]);
        assert_eq!(result.unwrap_err().0, "slack rate limit exceeded, retry after 3s");
        assert_eq!((attempts, waits.len()), (2, 1));
        let (result, _, _) = run(vec![limited(90)]);
        assert_eq!(result.unwrap_err().0, "slack rate limit exceeded, retry after 1m30s");
        let (result, attempts, _) = run(vec![Ok(response(200, r#"{"ok":false,"error":"invalid_auth"}"#))]);
        assert_eq!((result.unwrap_err().0.as_str(), attempts), ("slack: invalid_auth", 1));
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(Duration::from_secs(0)), "0s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
    }
}

//! `aviary/rocketchat`: Argo notifications-engine's `rocketchat` service
//! (`pkg/services/rocketchat.go`, over the Rocket.Chat Go SDK's REST client): logs in with an
//! email and a password, then posts the message to a channel, a user or a room.
//!
//! ```yaml
//! # argo-rollouts-notification-configmap
//! service.rocketchat: |
//!   email: $rocketchat-email
//!   password: $rocketchat-password
//!   serverUrl: https://chat.example.com
//!   alias: Argo Rollouts
//!   icon: ":rocket:"
//! template.rollout-completed: |
//!   message: Rollout {{.rollout.metadata.name}} has been completed.
//!   rocketchat:
//!     attachments: |
//!       [{"title": "{{.rollout.metadata.name}}", "color": "#18be52"}]
//! # a subscription: notifications.argoproj.io/subscribe.on-rollout-completed.rocketchat: "#deploys"
//! ```
//!
//! # Config (`service.rocketchat`)
//!
//! - `serverUrl`: the server, `http(s)://host[:port][/path]`. Its host must be allowed by the
//!   plugin's registry entry (the host grants this component the host of `serverUrl`). As the
//!   Go SDK builds them, the endpoints are `<protocol>://<host>:<port><path>/api/v1/<method>`:
//!   the protocol is `https` for an `https` URL and `http` otherwise, the port is the URL's, else
//!   443 or 80, always written out (`https://chat.example.com:443/api/v1/login`).
//! - `email`, `password`: the bot user's credentials (usually `$key`s of the notification
//!   secret, resolved by the host).
//! - `alias`: the name the message is posted under.
//! - `icon`: an emoji (`:rocket:`, Go's `^:.+:$`) for the message; any other value is logged as
//!   not a valid emoji and not sent.
//! - `avatar`: an image URL (an `http` or `https` URL with a host, checked as Go's
//!   `url.ParseRequestURI` and `url.Parse` check it); any other value is logged and not sent.
//! - Any other field is ignored, as Go's `encoding/json` ignores it.
//!
//! # The requests
//!
//! As Argo's `Send` does, each notification logs in, then posts; nothing is kept between
//! notifications (Argo too makes a new client, and so a new login, for every `Send`):
//!
//! 1. `POST .../api/v1/login`, `Content-Type: application/x-www-form-urlencoded`, the body
//!    `password=<password>&user=<email>` (Go's `url.Values` encoding). The answer's
//!    `data.authToken` and `data.userId` authenticate the post.
//! 2. `POST .../api/v1/chat.postMessage`, `Content-Type: application/json`, `X-Auth-Token` and
//!    `X-User-Id`, and the body (the SDK's `PostMessage`, fields in its order, each left out when
//!    empty, encoded as Go's `json.Marshal` does, `<`, `>` and `&` escaped as `\u003c`, ...):
//!    `{"roomId":...,"channel":...,"text":<message>,"alias":...,"emoji":<icon>,"avatar":...,
//!    "attachments":[...]}`. A recipient starting with `#` or `@` is the `channel`, any other the
//!    `roomId`. The attachments are the template's `rocketchat.attachments`, a JSON array of
//!    Rocket.Chat attachments decoded and re-encoded as Go does it (the SDK's `Attachment`
//!    fields in its order, unknown keys dropped, `collapsed`, `short`, `is_webview` and
//!    `msg_in_chat_window` always sent); text that does not decode is `failed to unmarshal
//!    attachments '<text>' : <Go's error>` (after the login, as in Argo).
//!
//! # The answers
//!
//! As the Go SDK judges them: a 200 whose JSON says `success: true` (or `status: "success"`) is
//! accepted; otherwise the error is the answer's `error`, else `status: <status>, message:
//! <message>` (the login's answer), else `got false response`. Another status is judged the same
//! when its body decodes into the SDK's answer type, else it is `Request error: <status line>`
//! (`Request error: 401 Unauthorized`). A post accepted with `success` not `true` is the
//! answer's `error` (possibly empty), as in Argo. No response is `Post "<url>": <why>`. Nothing is
//! retried, as in Argo.
//!
//! # Not as in Argo
//!
//! - A `serverUrl` without a host (`""`): Argo dials port 80 of its own machine; here it is
//!   `Post "<url>": serverUrl names no host`.
//! - Argo also sends Go's `User-Agent: Go-http-client/1.1`; the host's own is sent here. An
//!   answer's status line is Go's text for the code (`401 Unauthorized`), not the reason phrase
//!   the server sent.
//! - The post's answer is checked as Go decodes it (which decides between `Request error` and
//!   the answer's own error on a status other than 200) except that a malformed time in it does
//!   not stop the decoding, as Go's `time.Time` does.

use aviary_plugin_sdk::export_notifier;
use aviary_plugin_sdk::gojson::{self, Value as GoValue};
use aviary_plugin_sdk::http::{self, Request, Response, status_line};
use aviary_plugin_sdk::notifier::gostruct::{self, Field, Go, Kind, Struct};
use aviary_plugin_sdk::notifier::{Error, Notification, Notifier, form_encode, gourl, log, or_default, template_block};
use serde::Deserialize;

/// The service's config: `service.rocketchat`, as Argo's `RocketChatOptions`. Unknown fields are
/// ignored; `null` reads as empty, as in Go.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Config {
    /// The name the message is posted under.
    #[serde(deserialize_with = "or_default")]
    pub alias: String,
    /// The bot user's email.
    #[serde(deserialize_with = "or_default")]
    pub email: String,
    /// Its password.
    #[serde(deserialize_with = "or_default")]
    pub password: String,
    /// An emoji for the message.
    #[serde(deserialize_with = "or_default")]
    pub icon: String,
    /// An image URL for the message.
    #[serde(deserialize_with = "or_default")]
    pub avatar: String,
    /// The server's URL.
    #[serde(rename = "serverUrl", deserialize_with = "or_default")]
    pub server_url: String,
}

/// The template's `rocketchat` block, as Argo's `RocketChatNotification` (rendered).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct RocketChatTemplate {
    /// A JSON array of attachments.
    #[serde(deserialize_with = "or_default")]
    pub attachments: String,
}

/// The SDK's `models.AttachmentField`.
pub static ATTACHMENT_FIELD: Struct = Struct {
    name: "AttachmentField",
    go_type: "models.AttachmentField",
    fields: &[
        Field { name: "short", kind: Kind::Bool, omitempty: false },
        Field { name: "title", kind: Kind::Str("string"), omitempty: true },
        Field { name: "value", kind: Kind::Str("string"), omitempty: true },
    ],
};

/// The SDK's `models.AttachmentAction`.
pub static ATTACHMENT_ACTION: Struct = Struct {
    name: "AttachmentAction",
    go_type: "models.AttachmentAction",
    fields: &[
        Field { name: "type", kind: Kind::Str("models.AttachmentActionType"), omitempty: true },
        Field { name: "text", kind: Kind::Str("string"), omitempty: true },
        Field { name: "url", kind: Kind::Str("string"), omitempty: true },
        Field { name: "image_url", kind: Kind::Str("string"), omitempty: true },
        Field { name: "is_webview", kind: Kind::Bool, omitempty: false },
        Field { name: "webview_height_ratio", kind: Kind::Str("string"), omitempty: true },
        Field { name: "msg", kind: Kind::Str("string"), omitempty: true },
        Field { name: "msg_in_chat_window", kind: Kind::Bool, omitempty: false },
        Field { name: "msg_processing_type", kind: Kind::Str("models.MessageProcessingType"), omitempty: true },
    ],
};

/// The SDK's `models.Attachment`.
pub static ATTACHMENT: Struct = Struct {
    name: "Attachment",
    go_type: "models.Attachment",
    fields: &[
        Field { name: "color", kind: Kind::Str("string"), omitempty: true },
        Field { name: "text", kind: Kind::Str("string"), omitempty: true },
        Field { name: "ts", kind: Kind::Str("string"), omitempty: true },
        Field { name: "thumb_url", kind: Kind::Str("string"), omitempty: true },
        Field { name: "message_link", kind: Kind::Str("string"), omitempty: true },
        Field { name: "collapsed", kind: Kind::Bool, omitempty: false },
        Field { name: "author_name", kind: Kind::Str("string"), omitempty: true },
        Field { name: "author_link", kind: Kind::Str("string"), omitempty: true },
        Field { name: "author_icon", kind: Kind::Str("string"), omitempty: true },
        Field { name: "title", kind: Kind::Str("string"), omitempty: true },
        Field { name: "title_link", kind: Kind::Str("string"), omitempty: true },
        Field { name: "title_link_download", kind: Kind::Str("string"), omitempty: true },
        Field { name: "image_url", kind: Kind::Str("string"), omitempty: true },
        Field { name: "audio_url", kind: Kind::Str("string"), omitempty: true },
        Field { name: "video_url", kind: Kind::Str("string"), omitempty: true },
        Field {
            name: "actions",
            kind: Kind::Slice(&Kind::Struct(&ATTACHMENT_ACTION), "[]models.AttachmentAction"),
            omitempty: true,
        },
        Field { name: "button_alignment", kind: Kind::Str("models.AttachmentActionButtonsAlignment"), omitempty: true },
        Field {
            name: "fields",
            kind: Kind::Slice(&Kind::Struct(&ATTACHMENT_FIELD), "[]models.AttachmentField"),
            omitempty: true,
        },
    ],
};

/// `[]models.Attachment`: what the template's `attachments` decode into.
pub static ATTACHMENTS: Kind = Kind::Slice(&Kind::Struct(&ATTACHMENT), "[]models.Attachment");

/// The SDK's `models.User`.
static USER: Struct = Struct {
    name: "User",
    go_type: "models.User",
    fields: &[
        Field { name: "_id", kind: Kind::Str("string"), omitempty: false },
        Field { name: "name", kind: Kind::Str("string"), omitempty: false },
        Field { name: "username", kind: Kind::Str("string"), omitempty: false },
        Field { name: "status", kind: Kind::Str("string"), omitempty: false },
        Field { name: "token", kind: Kind::Str("string"), omitempty: false },
        Field { name: "tokenExpires", kind: Kind::Int("int64"), omitempty: false },
    ],
};

/// The SDK's `models.Message` (its embedded `PostMessage`'s fields included).
static MESSAGE: Struct = Struct {
    name: "Message",
    go_type: "models.Message",
    fields: &[
        Field { name: "_id", kind: Kind::Str("string"), omitempty: false },
        Field { name: "rid", kind: Kind::Str("string"), omitempty: false },
        Field { name: "msg", kind: Kind::Str("string"), omitempty: false },
        Field { name: "editedBy", kind: Kind::Str("string"), omitempty: true },
        Field { name: "t", kind: Kind::Str("string"), omitempty: true },
        Field { name: "groupable", kind: Kind::Bool, omitempty: true },
        Field { name: "editedAt", kind: Kind::Ptr(&Kind::Time("time.Time")), omitempty: true },
        Field { name: "ts", kind: Kind::Ptr(&Kind::Time("time.Time")), omitempty: true },
        Field { name: "_updatedAt", kind: Kind::Ptr(&Kind::Time("time.Time")), omitempty: true },
        Field { name: "mentions", kind: Kind::Slice(&Kind::Struct(&USER), "[]models.User"), omitempty: true },
        Field { name: "u", kind: Kind::Ptr(&Kind::Struct(&USER)), omitempty: true },
        Field { name: "roomId", kind: Kind::Str("string"), omitempty: true },
        Field { name: "channel", kind: Kind::Str("string"), omitempty: true },
        Field { name: "text", kind: Kind::Str("string"), omitempty: true },
        Field { name: "parseUrls", kind: Kind::Bool, omitempty: true },
        Field { name: "alias", kind: Kind::Str("string"), omitempty: true },
        Field { name: "emoji", kind: Kind::Str("string"), omitempty: true },
        Field { name: "avatar", kind: Kind::Str("string"), omitempty: true },
        Field {
            name: "attachments",
            kind: Kind::Slice(&Kind::Struct(&ATTACHMENT), "[]models.Attachment"),
            omitempty: true,
        },
    ],
};

/// The login's `data`.
static LOGIN_DATA: Struct = Struct {
    name: "",
    go_type: "struct { Token string \"json:\\\"authToken\\\"\"; UserID string \"json:\\\"userID\\\"\" }",
    fields: &[
        Field { name: "authToken", kind: Kind::Str("string"), omitempty: false },
        Field { name: "userID", kind: Kind::Str("string"), omitempty: false },
    ],
};

/// The SDK's `logonResponse`: its `Status` and `data`.
pub static LOGON_RESPONSE: Struct = Struct {
    name: "logonResponse",
    go_type: "rest.logonResponse",
    fields: &[
        Field { name: "success", kind: Kind::Bool, omitempty: false },
        Field { name: "error", kind: Kind::Str("string"), omitempty: false },
        Field { name: "status", kind: Kind::Str("string"), omitempty: false },
        Field { name: "message", kind: Kind::Str("string"), omitempty: false },
        Field { name: "data", kind: Kind::Struct(&LOGIN_DATA), omitempty: false },
    ],
};

/// The SDK's `MessageResponse`: its `Status` (whose `message` the response's own `message`, a
/// `models.Message`, shadows).
pub static MESSAGE_RESPONSE: Struct = Struct {
    name: "MessageResponse",
    go_type: "rest.MessageResponse",
    fields: &[
        Field { name: "success", kind: Kind::Bool, omitempty: false },
        Field { name: "error", kind: Kind::Str("string"), omitempty: false },
        Field { name: "status", kind: Kind::Str("string"), omitempty: false },
        Field { name: "message", kind: Kind::Struct(&MESSAGE), omitempty: false },
    ],
};

/// One HTTP call, before it is sent: what the tests compare with Argo's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The URL.
    pub url: String,
    /// The headers, in the order the SDK sets them.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl Call {
    /// The HTTP request (always a `POST`).
    pub fn request(&self) -> Request {
        let mut request = Request::post(self.url.clone());
        for (name, value) in &self.headers {
            request = request.header(name.clone(), value.clone());
        }
        request.body(self.body.clone().into_bytes())
    }
}

/// The Go SDK's REST client: the endpoints of one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    protocol: &'static str,
    host: String,
    port: String,
    path: String,
}

impl Client {
    /// The client of `server_url`, as Argo's `url.Parse` and the SDK's `NewClient` make it.
    pub fn new(server_url: &str) -> Result<Client, Error> {
        let url = gourl::parse(server_url).map_err(Error)?;
        let (protocol, default_port) = if url.scheme == "https" { ("https", "443") } else { ("http", "80") };
        let port = if url.port().is_empty() { default_port.to_string() } else { url.port().to_string() };
        Ok(Client { protocol, host: url.hostname().to_string(), port, path: url.path.clone() })
    }

    /// The URL of the REST method `api`, as the SDK formats it and Go's `http.NewRequest` parses
    /// it (its error is Go's).
    pub fn url(&self, api: &str) -> Result<String, Error> {
        let raw = format!("{}://{}:{}{}/api/v1/{api}", self.protocol, self.host, self.port, self.path);
        let url = gourl::parse(&raw).map_err(Error)?;
        let text = url.to_string();
        if url.hostname().is_empty() {
            return Err(Error(format!("Post {}: serverUrl names no host", gourl::go_quote(&text))));
        }
        Ok(text)
    }
}

/// The login call: the credentials as a form.
pub fn login_call(client: &Client, config: &Config) -> Result<Call, Error> {
    Ok(Call {
        url: client.url("login")?,
        headers: vec![("Content-Type".into(), "application/x-www-form-urlencoded".into())],
        body: form_encode(&[("user", config.email.clone()), ("password", config.password.clone())]),
    })
}

/// Whether `icon` is an emoji as Argo's `^:.+:$` says: `:`, at least one character but a
/// newline, `:`.
pub fn valid_emoji(icon: &str) -> bool {
    icon.len() >= 3
        && icon.starts_with(':')
        && icon.ends_with(':')
        && icon.get(1..icon.len() - 1).is_some_and(|middle| !middle.is_empty() && !middle.contains('\n'))
}

/// Argo's `isValidAvatarURL`: a request URI, and an `http` or `https` URL with a host.
pub fn valid_avatar_url(avatar: &str) -> bool {
    if gourl::parse_request_uri(avatar).is_err() {
        return false;
    }
    match gourl::parse(avatar) {
        Ok(u) => (u.scheme == "http" || u.scheme == "https") && !u.host.is_empty(),
        Err(_) => false,
    }
}

/// The post's body: the SDK's `PostMessage` as `json.Marshal` writes it (empty fields left out).
pub fn message_body(notification: &Notification, config: &Config) -> Result<String, Error> {
    let recipient = notification.recipient.as_str();
    let (room_id, channel) =
        if recipient.starts_with('#') || recipient.starts_with('@') { ("", recipient) } else { (recipient, "") };
    let mut emoji = "";
    if !config.icon.is_empty() {
        if valid_emoji(&config.icon) {
            emoji = &config.icon;
        } else {
            log::warn(&format!("Icon reference '{}' is not a valid emoji", config.icon));
        }
    }
    let mut avatar = "";
    if !config.avatar.is_empty() {
        if valid_avatar_url(&config.avatar) {
            avatar = &config.avatar;
        } else {
            log::warn(&format!("Avatar reference '{}' is not a valid URL", config.avatar));
        }
    }
    let mut attachments = Go::Nil;
    if let Some(block) = template_block::<RocketChatTemplate>(notification, "rocketchat")? {
        attachments = Go::Slice(Vec::new());
        if !block.attachments.is_empty() {
            attachments = gostruct::decode_text(&block.attachments, &ATTACHMENTS)
                .map_err(|e| Error(format!("failed to unmarshal attachments '{}' : {e}", block.attachments)))?
                .unwrap_or(Go::Nil);
        }
    }
    let mut out = String::from("{");
    let mut field = |name: &str, value: &str| {
        if !value.is_empty() {
            if out.len() > 1 {
                out.push(',');
            }
            gojson::write_string(&mut out, name);
            out.push(':');
            gojson::write_string(&mut out, value);
        }
    };
    field("roomId", room_id);
    field("channel", channel);
    field("text", notification.message());
    field("alias", &config.alias);
    field("emoji", emoji);
    field("avatar", avatar);
    if matches!(&attachments, Go::Slice(items) if !items.is_empty()) {
        if out.len() > 1 {
            out.push(',');
        }
        out.push_str("\"attachments\":");
        gostruct::encode(&mut out, &attachments, &ATTACHMENTS, true);
    }
    out.push('}');
    Ok(out)
}

/// The post call, authenticated with the login's `token` and `user_id`.
pub fn post_call(client: &Client, token: &str, user_id: &str, body: String) -> Result<Call, Error> {
    Ok(Call {
        url: client.url("chat.postMessage")?,
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("X-Auth-Token".into(), token.into()),
            ("X-User-Id".into(), user_id.into()),
        ],
        body,
    })
}

/// The SDK's `Status.OK()`: `success`, else the `error`, else `status: "success"`, else the
/// `message`, else `got false response`.
fn status_ok(answer: &Go, strukt: &Struct) -> Result<(), String> {
    let text = |name| answer.field(strukt, name).map(Go::as_str).unwrap_or_default().to_string();
    if answer.field(strukt, "success") == Some(&Go::Bool(true)) {
        return Ok(());
    }
    let error = text("error");
    if !error.is_empty() {
        return Err(error);
    }
    let status = text("status");
    if status == "success" {
        return Ok(());
    }
    let message = if strukt.fields.iter().any(|f| f.name == "message" && matches!(f.kind, Kind::Str(_))) {
        text("message")
    } else {
        String::new()
    };
    if !message.is_empty() {
        return Err(format!("status: {status}, message: {message}"));
    }
    Err("got false response".to_string())
}

/// The SDK's `doRequest` verdict on an answer, decoded into `strukt`: the decoded answer, or the
/// error the SDK returns.
pub fn judge(url: &str, outcome: Result<Response, http::Error>, strukt: &'static Struct) -> Result<Go, Error> {
    let response = outcome.map_err(|e| Error(format!("Post {}: {e}", gourl::go_quote(url))))?;
    let kind = Kind::Struct(strukt);
    let (answer, parsed) = match gojson::parse(&String::from_utf8_lossy(&response.body)) {
        Err(_) => (None, false),
        Ok(GoValue::Null) => (None, true),
        Ok(value) => {
            let (decoded, error) = gostruct::decode(&value, &kind);
            (decoded, error.is_none())
        }
    };
    let answer = answer.unwrap_or_else(|| gostruct::zero(&kind));
    if response.status != 200 && !parsed {
        return Err(Error(format!("Request error: {}", status_line(response.status))));
    }
    status_ok(&answer, strukt).map_err(Error)?;
    Ok(answer)
}

/// Sends `notification` as Argo's `Send` does, each call through `send`: the login, then the
/// post. The network is passed in so that tests run it natively.
pub fn deliver(
    notification: &Notification,
    config: &Config,
    mut send: impl FnMut(&Call) -> Result<Response, http::Error>,
) -> Result<(), Error> {
    let client = Client::new(&config.server_url)?;
    let login = login_call(&client, config)?;
    let answer = judge(&login.url, send(&login), &LOGON_RESPONSE)?;
    let data = answer.field(&LOGON_RESPONSE, "data");
    let data_text = |name| data.and_then(|d| d.field(&LOGIN_DATA, name)).map(Go::as_str).unwrap_or_default();
    let (token, user_id) = (data_text("authToken").to_string(), data_text("userID").to_string());
    let body = message_body(notification, config)?;
    let post = post_call(&client, &token, &user_id, body)?;
    let answer = judge(&post.url, send(&post), &MESSAGE_RESPONSE)?;
    if answer.field(&MESSAGE_RESPONSE, "success") != Some(&Go::Bool(true)) {
        let error = answer.field(&MESSAGE_RESPONSE, "error").map(Go::as_str).unwrap_or_default();
        return Err(Error(error.to_string()));
    }
    Ok(())
}

/// The service.
pub struct RocketChat;

impl Notifier for RocketChat {
    fn send(notification: Notification) -> Result<(), Error> {
        let config: Config = notification.config_as()?;
        deliver(&notification, &config, |call| call.request().send())
    }
}

export_notifier!(RocketChat);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// The stand-in server's URL in the tests; the recordings name it `SERVER`.
    const SERVER: &str = "http://127.0.0.1:9";

    /// Argo's inputs (`testdata/cases.json`) and what Argo's service did with them
    /// (`testdata/golden.json`), recorded by `plugins/notifiers/pagerduty/schema/golden`
    /// (Argo's `rocketchat` service against a loopback server).
    fn golden() -> Vec<(Value, Value)> {
        let cases: Vec<Value> = serde_json::from_str(include_str!("testdata/cases.json")).unwrap();
        let golden: Vec<Value> = serde_json::from_str(include_str!("testdata/golden.json")).unwrap();
        assert_eq!(cases.len(), golden.len());
        cases.into_iter().zip(golden).collect()
    }

    fn notification(config: &Value, recipient: &str, template: &Value) -> Notification {
        let text = config.to_string().replace("HOSTPORT", SERVER.trim_start_matches("http://"));
        let config = serde_json::from_str(&text.replace("SERVER", SERVER)).unwrap();
        Notification::new("rocketchat", "rocketchat")
            .with_config(config)
            .with_template(template.clone())
            .with_recipient(recipient)
    }

    /// The scripted answers of a case, picked as the recording server picks them: the first
    /// unused one for the method and path, else the last used, else `200 {}`.
    struct Server {
        answers: Vec<Value>,
        used: Vec<bool>,
        seen: Vec<Call>,
    }

    impl Server {
        fn new(case: &Value) -> Server {
            let answers = case["responses"].as_array().cloned().unwrap_or_default();
            Server { used: vec![false; answers.len()], answers, seen: Vec::new() }
        }

        fn answer(&mut self, call: &Call) -> Response {
            self.seen.push(call.clone());
            let path = call.url.strip_prefix(SERVER).unwrap_or(&call.url);
            let path = percent_decode(path.split('?').next().unwrap_or_default());
            let mut pick = None;
            for (i, a) in self.answers.iter().enumerate() {
                if a["method"] == "POST" && a["path"] == path {
                    pick = Some(i);
                    if !self.used[i] {
                        break;
                    }
                }
            }
            let Some(i) = pick else {
                return Response { status: 200, headers: Vec::new(), body: b"{}".to_vec() };
            };
            self.used[i] = true;
            let a = &self.answers[i];
            Response {
                status: a["status"].as_u64().unwrap() as u16,
                headers: vec![("content-type".into(), a["contentType"].as_str().unwrap_or_default().into())],
                body: a["body"].as_str().unwrap_or_default().as_bytes().to_vec(),
            }
        }
    }

    /// The path as Go's server reads it (`%XX` decoded).
    fn percent_decode(path: &str) -> String {
        let b = path.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' && i + 2 < b.len() {
                out.push(u8::from_str_radix(&path[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }

    /// A recorded request as a `Call`: Go's transport headers (`User-Agent`) left out.
    fn argos_call(recorded: &Value, order: &[(String, String)]) -> Call {
        let headers = recorded["headers"].as_object().unwrap();
        let mut expected: Vec<(String, String)> = Vec::new();
        for (name, _) in order {
            if let Some(v) = headers.get(name) {
                expected.push((name.clone(), v.as_str().unwrap().to_string()));
            }
        }
        let extra: Vec<&String> =
            headers.keys().filter(|k| *k != "User-Agent" && !order.iter().any(|(n, _)| n == *k)).collect();
        assert!(extra.is_empty(), "Argo sent more headers: {extra:?}");
        assert_eq!(headers["User-Agent"], "Go-http-client/1.1");
        assert_eq!(recorded["method"], "POST");
        Call {
            url: format!("{SERVER}{}", recorded["uri"].as_str().unwrap()),
            headers: expected,
            body: recorded["body"].as_str().unwrap().to_string(),
        }
    }

    #[test]
    fn requests_and_errors_are_argos() {
        let mut checked = 0;
        for (case, argo) in golden() {
            let name = case["name"].as_str().unwrap();
            let n = notification(&case["config"], case["recipient"].as_str().unwrap(), &case["template"]);
            let config: Config = n.config_as().unwrap();
            let mut server = Server::new(&case);
            let down = case["down"] == true;
            let result = deliver(&n, &config, |call| {
                if down {
                    server.seen.push(call.clone());
                    return Err(http::Error::Transport("connection refused".into()));
                }
                Ok(server.answer(call))
            });
            let error = argo["error"].as_str();
            if down {
                let got = result.unwrap_err().0;
                let prefix = format!("Post \"{SERVER}/api/v1/login\": ");
                assert!(got.starts_with(&prefix), "{name}: {got}");
                assert!(error.unwrap().starts_with("Post \"SERVER/api/v1/login\": "), "{name}");
                checked += 1;
                continue;
            }
            assert_eq!(result.err().map(|e| e.0).as_deref(), error, "{name}");
            let recorded = argo["requests"].as_array().cloned().unwrap_or_default();
            assert_eq!(server.seen.len(), recorded.len(), "{name}");
            for (call, recorded) in server.seen.iter().zip(&recorded) {
                assert_eq!(call, &argos_call(recorded, &call.headers), "{name}");
            }
            checked += 1;
        }
        assert_eq!(checked, 72);
    }

    #[test]
    fn endpoints_are_the_go_sdks() {
        let client = Client::new("https://chat.example.com").unwrap();
        assert_eq!(client.url("login").unwrap(), "https://chat.example.com:443/api/v1/login");
        let client = Client::new("http://chat.example.com:3000/rc").unwrap();
        assert_eq!(client.url("chat.postMessage").unwrap(), "http://chat.example.com:3000/rc/api/v1/chat.postMessage");
        let client = Client::new("ws://chat.example.com/a%20b").unwrap();
        assert_eq!(client.url("login").unwrap(), "http://chat.example.com:80/a%20b/api/v1/login");
        // No scheme: Go's path, then its failing re-parse.
        let client = Client::new("chat.example.com").unwrap();
        assert_eq!(
            client.url("login").unwrap_err().0,
            "parse \"http://:80chat.example.com/api/v1/login\": invalid port \":80chat.example.com\" after host"
        );
        assert_eq!(
            Client::new("").unwrap().url("login").unwrap_err().0,
            "Post \"http://:80/api/v1/login\": serverUrl names no host"
        );
        // Go cannot write an IPv6 host back: the re-parse fails.
        assert_eq!(
            Client::new("http://[::1]:3000").unwrap().url("login").unwrap_err().0,
            "parse \"http://::1:3000/api/v1/login\": invalid port \"::1:3000\" after host"
        );
    }

    #[test]
    fn configs_and_blocks_name_the_bad_field() {
        let n = notification(&json!({"serverUrl": 5}), "#c", &json!({}));
        let err = n.config_as::<Config>().unwrap_err().0;
        assert!(err.starts_with("invalid config: serverUrl: invalid type: integer `5`"), "{err}");
        let n =
            notification(&json!({"serverUrl": null, "alias": null}), "#c", &json!({"rocketchat": {"attachments": 5}}));
        let config: Config = n.config_as().unwrap();
        assert_eq!(config, Config::default());
        let err = message_body(&n, &config).unwrap_err().0;
        assert!(err.starts_with("invalid template: rocketchat: attachments: invalid type: integer `5`"), "{err}");
    }

    #[test]
    fn emoji_and_avatars_are_checked_as_argo_checks_them() {
        assert!(valid_emoji(":slack:") && valid_emoji(":chart_with_upwards_trend:"));
        assert!(!valid_emoji("http://lorempixel.com/48/48") && !valid_emoji("::") && !valid_emoji(":"));
        assert!(valid_avatar_url("http://lorempixel.com/48/48") && valid_avatar_url("https://lorempixel.com/48/48"));
        assert!(!valid_avatar_url("favicon.ico") && !valid_avatar_url("ftp://favicon.ico"));
        assert!(!valid_avatar_url("ftp://lorempixel.com/favicon.ico"));
    }
}

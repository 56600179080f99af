//! `aviary/googlechat`: Argo notifications-engine's `googlechat` service
//! (`pkg/services/googlechat.go`): posts a text or cards message to a Google Chat space through
//! the recipient's incoming webhook.
//!
//! ```yaml
//! # argo-rollouts-notification-configmap
//! service.googlechat: |
//!   webhooks:
//!     spaceName: $space-webhook-url
//! template.rollout-completed: |
//!   message: Rollout {{.rollout.metadata.name}} has been completed.
//!   googlechat:
//!     threadKey: "{{.rollout.metadata.name}}"
//!     cardsV2: |
//!       - header:
//!           title: Rollout {{.rollout.metadata.name}}
//!         sections:
//!           - widgets:
//!               - decoratedText:
//!                   text: completed
//! ```
//!
//! # Config (`service.googlechat`)
//!
//! - `webhooks`: the webhook URL of each recipient (`{recipient: url}`, usually `$key`s of the
//!   notification secret, resolved by the host). A subscription's recipient not in it is
//!   `googlechat: no webhook URL for recipient "<r>" in webhooks`. Every URL's host must be
//!   allowed by the plugin's registry entry (the host grants this component the hosts of all the
//!   values of `webhooks`, normally chat.googleapis.com).
//! - `insecureSkipVerify`: accepted, but only `false` is honoured: the host always verifies TLS
//!   certificates, so `true` logs a warning and the request is still verified.
//! - Accepted and ignored (Argo's client tuning): `maxIdleConns`, `maxIdleConnsPerHost`,
//!   `maxConnsPerHost`, `idleConnTimeout`, and any other unknown field, as Go ignores it.
//!
//! # The request
//!
//! `POST <webhooks[recipient]>` with `Content-Type: application/json` and, as googlechat.go
//! builds it, Go's `json.Marshal` of `{"text": ..., "cards": [...], "cardsV2": [...]}`:
//! - without the template's `googlechat.cards` and `googlechat.cardsV2`, `{"text":<message>}`
//!   (the text is sent even empty);
//! - with either, `text` is empty (the message is not sent) and `cards` and `cardsV2` are the
//!   template's rendered YAML (or JSON), read as Argo reads them (`cardsV2` first, so its errors
//!   come first): see [`cards`] for exactly how (unknown fields dropped, scalars made
//!   strings for string fields, empty values left out, type errors in Go's words, `yaml:`
//!   errors). Each card of `cardsV2` is sent as `{"card": <card>, "cardId": <a random UUID v4>}`,
//!   as Argo does. A list that comes out empty is left out.
//!
//! With the template's `googlechat.threadKey`, the webhook URL's query gets
//! `threadKey=<key>&messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD` and is re-encoded as
//! Go's `url.Values.Encode` does it (keys sorted, values escaped with `QueryEscape`); without
//! one the URL is sent as configured.
//!
//! # The answer
//!
//! As googlechat.go reads it: the body must be JSON (else
//! `cannot send message: <Go's JSON syntax error>`), and an `error` object in it is
//! `error with message: code=<code> status=<status> message=<message>` (what Google answers a bad
//! request). Unlike Argo, which takes any other answer as delivered, a status other than 2xx is
//! `cannot send message: request to POST <url> has failed with error code <status> : <body>`
//! (the body cut to 1 KiB). URLs in messages are shown without their query (a webhook URL's
//! `key` and `token` are its secret): no response is
//! `cannot send message: Post "<url>?...": <why>`. Not retried, as in Argo.
//!
//! # Not supported
//!
//! The YAML is read by `yaml-rust2` (see [`yaml`]), a YAML 1.2 reader fitted to go-yaml v2's
//! YAML 1.1 where they differ, checked against sigs.k8s.io/yaml on the recorded cases of
//! `testdata/yaml.json`. Differences: collections nest at most 200 deep (go-yaml: 10000); a plain
//! scalar in a flow collection ending in `:` before the flow indicator (`[x:]`) is read as
//! go-yaml reads it only on one line; error messages are go-yaml's words, but their line numbers
//! may differ.

pub mod cards;
use aviary_plugin_sdk::gojson;
pub mod yaml;

use std::collections::BTreeMap;

use aviary_plugin_sdk::export_notifier;
use aviary_plugin_sdk::http::{self, Request, Response};
use aviary_plugin_sdk::notifier::{Error, Notification, Notifier, quote_body, warn_insecure_skip_verify};
use serde::Deserialize;
use serde_json::Value;

/// The reply option Argo asks for with a thread key.
pub const REPLY_OPTION: &str = "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD";

/// The service's config: `service.googlechat`. Fields Aviary does not implement are accepted and
/// ignored (see the crate docs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// The webhook URL of each recipient.
    #[serde(default)]
    pub webhooks: Option<BTreeMap<String, String>>,
    /// Argo's switch to skip TLS verification: accepted, never honoured (the host verifies).
    #[serde(default)]
    pub insecure_skip_verify: Option<bool>,
}

impl Config {
    /// The webhook URL of `recipient`, or an error naming the recipient and the field.
    pub fn webhook_url(&self, recipient: &str) -> Result<&str, Error> {
        match self.webhooks.as_ref().and_then(|urls| urls.get(recipient)) {
            None => Err(Error(format!("googlechat: no webhook URL for recipient {recipient:?} in webhooks"))),
            Some(url) if url.trim().is_empty() => {
                Err(Error(format!("googlechat: empty webhook URL for recipient {recipient:?} in webhooks")))
            }
            Some(url) => Ok(url),
        }
    }
}

/// The template's `googlechat` block, as Argo's `GoogleChatNotification` (rendered); an absent
/// field is empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoogleChatTemplate {
    /// Legacy cards: YAML (or JSON) of a list of `chat.Card`.
    pub cards: String,
    /// Cards v2: YAML (or JSON) of a list of `chat.GoogleAppsCardV1Card`.
    pub cards_v2: String,
    /// The thread to post in.
    pub thread_key: String,
}

/// A string field of a template block: `null` or absent is empty, a number or a boolean its JSON
/// text, anything else an error naming `block.name`.
pub fn string_field(block: &Value, block_name: &str, name: &str) -> Result<String, Error> {
    match block.get(name) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(v.to_string()),
        Some(other) => Err(Error(format!(
            "invalid template: {block_name}.{name}: expected a string, found {}",
            if other.is_array() { "an array (write the cards as YAML text: `cards: |`)" } else { "an object" }
        ))),
    }
}

impl GoogleChatTemplate {
    /// The `googlechat` block of a rendered template: `None` when the template has none.
    pub fn of(template: &Value) -> Result<Option<GoogleChatTemplate>, Error> {
        let block = match template.get("googlechat") {
            None | Some(Value::Null) => return Ok(None),
            Some(block @ Value::Object(_)) => block,
            Some(_) => return Err(Error::msg("invalid template: googlechat: expected an object")),
        };
        let field = |name: &str| string_field(block, "googlechat", name);
        Ok(Some(GoogleChatTemplate {
            cards: field("cards")?,
            cards_v2: field("cardsV2")?,
            thread_key: field("threadKey")?,
        }))
    }
}

/// The body googlechat.go sends for `message` and the template's `googlechat` block, each card
/// of `cardsV2` given the id `card_id()` returns.
pub fn body(
    message: &str,
    block: Option<&GoogleChatTemplate>,
    mut card_id: impl FnMut() -> String,
) -> Result<String, Error> {
    let cards_mode = block.is_some_and(|b| !b.cards.is_empty() || !b.cards_v2.is_empty());
    let mut out = String::from("{\"text\":");
    let Some(block) = block.filter(|_| cards_mode) else {
        gojson::write_string(&mut out, message);
        out.push('}');
        return Ok(out);
    };
    let schema = cards::Schema::load();
    let create = |e: String| Error(format!("cannot create message: {e}"));
    let cards_v2 = if block.cards_v2.is_empty() {
        None
    } else {
        cards::read_cards(&schema, &block.cards_v2, "GoogleAppsCardV1Card").map_err(create)?
    };
    let cards =
        if block.cards.is_empty() { None } else { cards::read_cards(&schema, &block.cards, "Card").map_err(create)? };
    gojson::write_string(&mut out, "");
    let send = |e: String| Error(format!("cannot send message: {e}"));
    if let Some(cards) = cards.filter(|c| !c.is_empty()) {
        out.push_str(",\"cards\":[");
        for (i, card) in cards.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            cards::write_typed(&schema, &mut out, card, "Card")
                .map_err(|e| send(format!("json: error calling MarshalJSON for type chat.Card: {e}")))?;
        }
        out.push(']');
    }
    if let Some(cards) = cards_v2.filter(|c| !c.is_empty()) {
        out.push_str(",\"cardsV2\":[");
        for (i, card) in cards.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"card\":");
            cards::write_typed(&schema, &mut out, card, "GoogleAppsCardV1Card").map_err(|e| {
                send(format!(
                    "json: error calling MarshalJSON for type chat.CardWithId: json: error calling MarshalJSON for type \
                     *chat.GoogleAppsCardV1Card: {e}"
                ))
            })?;
            out.push_str(",\"cardId\":");
            gojson::write_string(&mut out, &card_id());
            out.push('}');
        }
        out.push(']');
    }
    out.push('}');
    Ok(out)
}

/// A random UUID v4 (Go's `uuid.New()`), from the sandbox's random source (through the keys std
/// draws for its hash maps).
pub fn random_uuid() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut bytes = [0u8; 16];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_usize(i);
        chunk.copy_from_slice(&hasher.finish().to_le_bytes());
    }
    format_uuid(bytes)
}

/// A UUID v4 of 16 random bytes: version 4, RFC 4122 variant, in Go's lower-case form.
pub fn format_uuid(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// Go's `url.QueryEscape` of bytes: letters, digits and `-_.~` as they are, a space as `+`,
/// every other byte as `%XX`.
pub fn query_escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Go's `url.QueryUnescape`: `+` is a space, `%XX` a byte; `None` for a bad escape.
pub fn query_unescape(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok().filter(|_| hex.bytes().all(|b| b.is_ascii_hexdigit()))?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    Some(out)
}

/// The webhook URL with a thread key, as Argo's `sendMessage` builds it: the query parsed as
/// Go's `url.ParseQuery` (pairs it cannot read dropped), `threadKey` and `messageReplyOption`
/// added, and encoded again as `url.Values.Encode` (keys sorted). Without a key, the URL as it is.
pub fn thread_url(url: &str, thread_key: &str) -> String {
    if thread_key.is_empty() {
        return url.to_string();
    }
    let (before_fragment, fragment) = match url.split_once('#') {
        Some((before, fragment)) => (before, Some(fragment)),
        None => (url, None),
    };
    let (base, query) = before_fragment.split_once('?').unwrap_or((before_fragment, ""));
    let mut values: BTreeMap<Vec<u8>, Vec<Vec<u8>>> = BTreeMap::new();
    for pair in query.split('&') {
        if pair.is_empty() || pair.contains(';') {
            continue;
        }
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if let (Some(key), Some(value)) = (query_unescape(key), query_unescape(value)) {
            values.entry(key).or_default().push(value);
        }
    }
    values.entry(b"threadKey".to_vec()).or_default().push(thread_key.as_bytes().to_vec());
    values.entry(b"messageReplyOption".to_vec()).or_default().push(REPLY_OPTION.as_bytes().to_vec());
    let encoded: Vec<String> = values
        .iter()
        .flat_map(|(key, values)| values.iter().map(move |v| format!("{}={}", query_escape(key), query_escape(v))))
        .collect();
    let mut out = format!("{base}?{}", encoded.join("&"));
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// A URL as messages show it: without its query (a webhook's `key` and `token`) or fragment.
pub fn shown_url(url: &str) -> String {
    match url.find(['?', '#']) {
        Some(at) => format!("{}?...", &url[..at]),
        None => url.to_string(),
    }
}

/// The request of one notification, before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The webhook URL, with the thread key.
    pub url: String,
    /// The JSON body.
    pub body: String,
}

impl Plan {
    /// The request of `notification` under `config`, as googlechat.go's `Send` builds it, each
    /// card of `cardsV2` given the id `card_id()` returns.
    pub fn new(notification: &Notification, config: &Config, card_id: impl FnMut() -> String) -> Result<Plan, Error> {
        let url = config.webhook_url(&notification.recipient)?;
        let block = GoogleChatTemplate::of(&notification.template)?;
        let body = body(notification.message(), block.as_ref(), card_id)?;
        let thread_key = block.as_ref().map_or("", |b| b.thread_key.as_str());
        Ok(Plan { url: thread_url(url, thread_key), body })
    }

    /// The HTTP request: Go's `client.Post(url, "application/json", body)`.
    pub fn request(&self) -> Request {
        Request::post(self.url.clone()).header("Content-Type", "application/json").body(self.body.clone().into_bytes())
    }
}

/// The `error` object of Google's answer (`webhookError`), as Go decodes it leniently.
fn webhook_error(error: &gojson::Value) -> Result<String, Error> {
    let gojson::Value::Object(members) = error else {
        return Err(Error(format!(
            "cannot send message: json: cannot unmarshal {} into Go struct field webhookReturn.error of type \
             services.webhookError",
            error.kind()
        )));
    };
    let field = |name: &str| {
        members
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .or_else(|| members.iter().rev().find(|(k, _)| k.eq_ignore_ascii_case(name)))
            .map(|(_, v)| v)
    };
    let code = match field("code") {
        Some(gojson::Value::Number(n)) => n.parse::<i64>().unwrap_or(0),
        _ => 0,
    };
    let text = |name: &str| match field(name) {
        Some(gojson::Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    Ok(format!("error with message: code={code} status={} message={}", text("status"), text("message")))
}

/// Judges the outcome of the post as googlechat.go does (the body must be JSON; an `error`
/// object in it is a failure) and, unlike Argo, a status other than 2xx as a failure too.
pub fn verdict(url: &str, outcome: Result<Response, http::Error>) -> Result<(), Error> {
    let response = outcome.map_err(|e| Error(format!("cannot send message: Post {:?}: {e}", shown_url(url))))?;
    let status_error = || {
        Error(format!(
            "cannot send message: request to POST {} has failed with error code {} : {}",
            shown_url(url),
            response.status,
            quote_body(&response.body)
        ))
    };
    let text = String::from_utf8_lossy(&response.body);
    match gojson::parse(&text) {
        Err(_) if !response.is_success() => Err(status_error()),
        Err(e) => Err(Error(format!("cannot send message: {e}"))),
        Ok(gojson::Value::Object(members)) => {
            let error = members
                .iter()
                .rev()
                .find(|(k, _)| k == "error")
                .or_else(|| members.iter().rev().find(|(k, _)| k.eq_ignore_ascii_case("error")))
                .map(|(_, v)| v);
            match error {
                Some(gojson::Value::Null) | None if response.is_success() => Ok(()),
                Some(gojson::Value::Null) | None => Err(status_error()),
                Some(error) => Err(Error(webhook_error(error)?)),
            }
        }
        Ok(gojson::Value::Null) if response.is_success() => Ok(()),
        Ok(_) if !response.is_success() => Err(status_error()),
        Ok(other) => Err(Error(format!(
            "cannot send message: json: cannot unmarshal {} into Go value of type services.webhookReturn",
            other.kind()
        ))),
    }
}

/// The service.
pub struct GoogleChat;

impl Notifier for GoogleChat {
    fn send(notification: Notification) -> Result<(), Error> {
        let config: Config = notification.config_as()?;
        let plan = Plan::new(&notification, &config, random_uuid)?;
        warn_insecure_skip_verify("googlechat", config.insecure_skip_verify);
        verdict(&plan.url, plan.request().send())
    }
}

export_notifier!(GoogleChat);

#[cfg(test)]
mod tests;

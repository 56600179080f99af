//! `aviary/mattermost`: Argo notifications-engine's `mattermost` service
//! (`pkg/services/mattermost.go`): creates a post in a Mattermost channel with a bot or personal
//! access token.
//!
//! ```yaml
//! # argo-rollouts-notification-configmap
//! service.mattermost: |
//!   apiURL: https://mattermost.example.com
//!   token: $mattermost-token
//! template.rollout-completed: |
//!   message: Rollout {{.rollout.metadata.name}} has been completed.
//!   mattermost:
//!     attachments: |
//!       [{"title": "{{.rollout.metadata.name}}", "color": "#18be52"}]
//! # a Rollout's annotation, the recipient a channel's id:
//! # notifications.argoproj.io/subscribe.on-rollout-completed.mattermost: 4xp9fdt7pbgium38k2a6
//! ```
//!
//! # Config (`service.mattermost`)
//!
//! - `apiURL` (required): the Mattermost server; the request goes to `<apiURL>/api/v4/posts`
//!   (concatenated as Argo does: a trailing `/` of `apiURL` makes a `//`). Its host must be
//!   allowed by the plugin's registry entry (the host grants this component the host of its
//!   `apiURL`). Without one the notification fails with `mattermost: apiURL: must be set` (Argo
//!   fails to send to a URL without a host).
//! - `token`: the access token (a `$key` of the notification secret, resolved by the host), sent
//!   as `Authorization: Bearer <token>` (`Bearer ` alone without one, as Argo does).
//! - `insecureSkipVerify`: accepted, but only `false` is honoured: the host always verifies TLS
//!   certificates, so `true` logs a warning and the request is still verified.
//! - Accepted and ignored (Argo's client tuning): `maxIdleConns`, `maxIdleConnsPerHost`,
//!   `maxConnsPerHost`, `idleConnTimeout`, and any other unknown field, as Go ignores it.
//!
//! # The request
//!
//! `POST <apiURL>/api/v4/posts` with `Content-Type: application/json`,
//! `Authorization: Bearer <token>` and, as Go's `json.Marshal` writes Argo's
//! `map[string]any` (keys sorted):
//! `{"channel_id":<recipient>,"message":<message>,"props":{"attachments":<attachments>}}`, where
//! `attachments` is the JSON array of the template's `mattermost.attachments` (`[]` when it is
//! absent or empty; `null` when it is `null`). The attachments are decoded and re-encoded as Go
//! does it (`[]any`): object keys sorted, numbers as `float64` in Go's format, strings escaped as
//! Go's `encoding/json` escapes them (`<`, `>` and `&` as `\u003c`, `\u003e`, `\u0026`): the
//! same bytes as Argo's. Attachments that do not decode fail as in Argo, with Go's message:
//! `failed to unmarshal attachments '<text>' : <why>`.
//!
//! # The answer
//!
//! A 2xx is delivered. Any other status is
//! `request to POST <apiURL>/api/v4/posts has failed with error code <status> : <body>` (the
//! body cut to 1 KiB; where Argo prints the whole post as a Go map, this names the endpoint). No
//! response is `failed to request: Post "<url>": <why>`. Not retried, as in Argo.
//!
//! # Not supported
//!
//! Nothing of Argo's service is left out; attachments' JSON nested deeper than 1000 levels fails
//! (Go allows 10000).

use aviary_plugin_sdk::export_notifier;
use aviary_plugin_sdk::gojson;
use aviary_plugin_sdk::http::{self, Request, Response};
use aviary_plugin_sdk::notifier::{Error, Notification, Notifier, status_error, warn_insecure_skip_verify};
use serde::Deserialize;
use serde_json::Value;

/// The path of the create-post API, appended to `apiURL`.
pub const POSTS_PATH: &str = "/api/v4/posts";

/// The service's config: `service.mattermost`. Fields Aviary does not implement are accepted and
/// ignored (see the crate docs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// The Mattermost server's URL.
    #[serde(default, rename = "apiURL")]
    pub api_url: Option<String>,
    /// The access token.
    #[serde(default)]
    pub token: Option<String>,
    /// Argo's switch to skip TLS verification: accepted, never honoured (the host verifies).
    #[serde(default)]
    pub insecure_skip_verify: Option<bool>,
}

impl Config {
    /// The create-post endpoint: `apiURL` and [`POSTS_PATH`], or an error naming `apiURL`.
    pub fn endpoint(&self) -> Result<String, Error> {
        match self.api_url.as_deref() {
            None | Some("") => Err(Error::msg("mattermost: apiURL: must be set")),
            Some(url) => Ok(format!("{url}{POSTS_PATH}")),
        }
    }
}

/// The template's `mattermost.attachments`: empty when the template has no `mattermost` block or
/// the block has no attachments; an error naming the field when it is not text.
pub fn attachments_text(template: &Value) -> Result<String, Error> {
    let block = match template.get("mattermost") {
        None | Some(Value::Null) => return Ok(String::new()),
        Some(block @ Value::Object(_)) => block,
        Some(_) => return Err(Error::msg("invalid template: mattermost: expected an object")),
    };
    match block.get("attachments") {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(v.to_string()),
        Some(_) => {
            Err(Error::msg("invalid template: mattermost.attachments: expected a string (the attachments' JSON text)"))
        }
    }
}

/// The post's JSON for `channel_id`, `message` and the attachments' text, as Argo's `Send`
/// builds and Go's `json.Marshal` writes it.
pub fn body(channel_id: &str, message: &str, attachments: &str) -> Result<String, Error> {
    let attachments = if attachments.is_empty() {
        gojson::Value::Array(Vec::new())
    } else {
        gojson::decode_array(attachments, "[]interface {}", gojson::Value::check_any)
            .map_err(|e| Error(format!("failed to unmarshal attachments '{attachments}' : {e}")))?
            .map_or(gojson::Value::Null, gojson::Value::Array)
    };
    let post = gojson::Value::Object(vec![
        ("channel_id".to_string(), gojson::Value::String(channel_id.to_string())),
        ("message".to_string(), gojson::Value::String(message.to_string())),
        ("props".to_string(), gojson::Value::Object(vec![("attachments".to_string(), attachments)])),
    ]);
    Ok(gojson::to_string(&post))
}

/// The request of one notification, before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The create-post endpoint.
    pub url: String,
    /// The access token (empty when the config has none).
    pub token: String,
    /// The JSON body.
    pub body: String,
}

impl Plan {
    /// The request of `notification` under `config`, as mattermost.go's `Send` builds it: the
    /// recipient is the channel's id.
    pub fn new(notification: &Notification, config: &Config) -> Result<Plan, Error> {
        let url = config.endpoint()?;
        let attachments = attachments_text(&notification.template)?;
        Ok(Plan {
            url,
            token: config.token.clone().unwrap_or_default(),
            body: body(&notification.recipient, notification.message(), &attachments)?,
        })
    }

    /// The HTTP request, its headers set in Go's order.
    pub fn request(&self) -> Request {
        Request::post(self.url.clone())
            .header("Content-Type", "application/json")
            .header("Authorization", format!("Bearer {}", self.token))
            .body(self.body.clone().into_bytes())
    }
}

/// Judges the outcome of the post as mattermost.go does: delivered on a 2xx.
pub fn verdict(url: &str, outcome: Result<Response, http::Error>) -> Result<(), Error> {
    let response = outcome.map_err(|e| Error(format!("failed to request: Post {url:?}: {e}")))?;
    if response.is_success() {
        return Ok(());
    }
    Err(status_error(&format!("POST {url}"), &response))
}

/// The service.
pub struct Mattermost;

impl Notifier for Mattermost {
    fn send(notification: Notification) -> Result<(), Error> {
        let config: Config = notification.config_as()?;
        let plan = Plan::new(&notification, &config)?;
        warn_insecure_skip_verify("mattermost", config.insecure_skip_verify);
        verdict(&plan.url, plan.request().send())
    }
}

export_notifier!(Mattermost);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn notification(config: Value, recipient: &str, template: Value) -> Notification {
        Notification::new("mattermost", "mattermost")
            .with_config(config)
            .with_recipient(recipient)
            .with_template(template)
    }

    fn plan(config: Value, recipient: &str, template: Value) -> Result<Plan, Error> {
        let n = notification(config, recipient, template);
        Plan::new(&n, &n.config_as().unwrap())
    }

    fn response(status: u16, body: &str) -> Response {
        Response { status, headers: Vec::new(), body: body.as_bytes().to_vec() }
    }

    fn config() -> Value {
        json!({"apiURL": "https://mm.example.com", "token": "t"})
    }

    // The expected requests below are what Argo's mattermost service sent for the same
    // notification (notifications-engine at the version Argo Rollouts v1.10.1 uses, to a test
    // server).

    #[test]
    fn a_post_carries_the_attachments_as_go_encodes_them() {
        // TestSend_Mattermost.
        let attachments = "[{\n\t\t\t\t\"title\": \"title\",\n\t\t\t\t\"title_link\": \"https://argocd.example.com/applications/argocd-notifications\",\n\t\t\t\t\"color\": \"#18be52\",\n\t\t\t\t\"fields\": [{\n\t\t\t\t\t\"title\": \"Sync Status\",\n\t\t\t\t\t\"value\": \"Synced\",\n\t\t\t\t\t\"short\": true\n\t\t\t\t}, {\n\t\t\t\t\t\"title\": \"Repository\",\n\t\t\t\t\t\"value\": \"https://example.com\",\n\t\t\t\t\t\"short\": true\n\t\t\t\t}]\n\t\t\t}]";
        let p = plan(
            json!({"apiURL": "http://127.0.0.1:8065", "token": "token", "insecureSkipVerify": true}),
            "channel",
            json!({"message": "message", "mattermost": {"attachments": attachments}}),
        )
        .unwrap();
        let body = r##"{"channel_id":"channel","message":"message","props":{"attachments":[{"color":"#18be52","fields":[{"short":true,"title":"Sync Status","value":"Synced"},{"short":true,"title":"Repository","value":"https://example.com"}],"title":"title","title_link":"https://argocd.example.com/applications/argocd-notifications"}]}}"##;
        assert_eq!(
            p.request(),
            Request::post("http://127.0.0.1:8065/api/v4/posts")
                .header("Content-Type", "application/json")
                .header("Authorization", "Bearer token")
                .body(body)
        );
    }

    #[test]
    fn without_attachments_the_list_is_empty() {
        let p = plan(json!({"apiURL": "https://mm.example.com/"}), "", json!({"message": "a <b> & c"})).unwrap();
        assert_eq!(p.url, "https://mm.example.com//api/v4/posts");
        assert_eq!(p.body, r#"{"channel_id":"","message":"a \u003cb\u003e \u0026 c","props":{"attachments":[]}}"#);
        assert_eq!(
            p.request(),
            Request::post("https://mm.example.com//api/v4/posts")
                .header("Content-Type", "application/json")
                .header("Authorization", "Bearer ")
                .body(p.body.clone())
        );
        let p = plan(config(), "c", json!({"mattermost": {"attachments": ""}})).unwrap();
        assert_eq!(p.body, r#"{"channel_id":"c","message":"","props":{"attachments":[]}}"#);
        let p = plan(config(), "c", json!({"mattermost": {"attachments": "null"}})).unwrap();
        assert_eq!(p.body, r#"{"channel_id":"c","message":"","props":{"attachments":null}}"#);
        let p = plan(config(), "c", json!({"mattermost": {}})).unwrap();
        assert_eq!(p.body, r#"{"channel_id":"c","message":"","props":{"attachments":[]}}"#);
    }

    #[test]
    fn attachments_that_do_not_decode_fail_as_in_argo() {
        let err =
            |attachments: &str| plan(config(), "c", json!({"mattermost": {"attachments": attachments}})).unwrap_err().0;
        assert_eq!(
            err(r#"{"a":1}"#),
            r#"failed to unmarshal attachments '{"a":1}' : json: cannot unmarshal object into Go value of type []interface {}"#
        );
        assert_eq!(
            err("1"),
            "failed to unmarshal attachments '1' : json: cannot unmarshal number into Go value of type []interface {}"
        );
        assert_eq!(err("  "), "failed to unmarshal attachments '  ' : unexpected end of JSON input");
        assert_eq!(
            err("[1e999]"),
            "failed to unmarshal attachments '[1e999]' : json: cannot unmarshal number 1e999 into Go value of type float64"
        );
        let wrong = plan(config(), "c", json!({"mattermost": {"attachments": [{"title": "t"}]}})).unwrap_err().0;
        assert_eq!(wrong, "invalid template: mattermost.attachments: expected a string (the attachments' JSON text)");
        let wrong = plan(config(), "c", json!({"mattermost": "x"})).unwrap_err().0;
        assert_eq!(wrong, "invalid template: mattermost: expected an object");
    }

    #[test]
    fn the_api_url_is_required() {
        assert_eq!(plan(json!({"token": "t"}), "c", json!({})).unwrap_err().0, "mattermost: apiURL: must be set");
        assert_eq!(plan(json!({"apiURL": ""}), "c", json!({})).unwrap_err().0, "mattermost: apiURL: must be set");
        assert_eq!(plan(Value::Null, "c", json!({})).unwrap_err().0, "mattermost: apiURL: must be set");
        let wrong = notification(json!({"apiURL": 1}), "c", json!({})).config_as::<Config>().unwrap_err().0;
        assert!(wrong.starts_with("invalid config: apiURL: invalid type: integer `1`"), "{wrong}");
        let config: Config =
            notification(json!({"apiURL": "u", "idleConnTimeout": "1m", "maxIdleConns": 1}), "c", json!({}))
                .config_as()
                .unwrap();
        assert_eq!(config.endpoint().unwrap(), "u/api/v4/posts");
    }

    #[test]
    fn a_2xx_is_delivered() {
        let url = "https://mm.example.com/api/v4/posts";
        assert_eq!(verdict(url, Ok(response(201, "{}"))), Ok(()));
        assert_eq!(verdict(url, Ok(response(200, ""))), Ok(()));
        assert_eq!(
            verdict(url, Ok(response(500, "boom"))).unwrap_err().0,
            "request to POST https://mm.example.com/api/v4/posts has failed with error code 500 : boom"
        );
        let long = verdict(url, Ok(response(403, &"x".repeat(2000)))).unwrap_err().0;
        assert!(long.ends_with(&format!(" : {}", "x".repeat(1024))), "{long}");
        assert_eq!(
            verdict(url, Err(http::Error::DeniedHost("mm.example.com:443".into()))).unwrap_err().0,
            "failed to request: Post \"https://mm.example.com/api/v4/posts\": denied host: mm.example.com:443 is not in the plugin's allowed hosts"
        );
    }
}

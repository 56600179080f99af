//! `aviary/teams`: Argo notifications-engine's `teams` service (`pkg/services/teams.go`): posts
//! an Office 365 connector `MessageCard` to the recipient's Microsoft Teams incoming webhook.
//!
//! ```yaml
//! # argo-rollouts-notification-configmap
//! service.teams: |
//!   recipientUrls:
//!     channelName: $channel-teams-url
//! template.rollout-completed: |
//!   message: Rollout {{.rollout.metadata.name}} has been completed.
//!   teams:
//!     title: Rollout completed
//!     themeColor: "#000080"
//!     facts: |
//!       [{"name": "Rollout", "value": "{{.rollout.metadata.name}}"}]
//! ```
//!
//! # Config (`service.teams`)
//!
//! - `recipientUrls`: the webhook URL of each recipient (`{recipient: url}`, usually `$key`s of
//!   the notification secret, resolved by the host). A subscription's recipient not in it is
//!   `teams: no webhook URL for recipient "<r>" in recipientUrls`. Every URL's host must be
//!   allowed by the plugin's registry entry (the host grants this component the hosts of all the
//!   values of `recipientUrls`).
//! - `insecureSkipVerify`: accepted, but only `false` is honoured: the host always verifies TLS
//!   certificates, so `true` logs a warning and the request is still verified.
//! - Accepted and ignored (Argo's client tuning): `maxIdleConns`, `maxIdleConnsPerHost`,
//!   `maxConnsPerHost`, `idleConnTimeout`, and any other unknown field, as Go ignores it.
//!
//! # The request
//!
//! `POST <recipientUrls[recipient]>` with `Content-Type: application/json` and, as teams.go
//! builds it (`teamsNotificationToReader`):
//! - when the template's `teams.template` is not empty, that text, as it is (a whole card the
//!   template wrote itself);
//! - otherwise the JSON of a `MessageCard`, in Go's field order:
//!   `{"@type":"MessageCard","context":"https://schema.org/extensions","title":...,"summary":...,
//!   "text":...}` (`title` and `summary` from `teams.title` and `teams.summary`, sent even empty;
//!   `text` is `teams.text`, else the template's `message`), then, when not empty, `themeColor`
//!   (`teams.themeColor`), `potentialAction` (the JSON array of `teams.potentialAction`) and
//!   `sections` (the JSON array of `teams.sections`, followed by one more section
//!   `{"facts": <the JSON array of teams.facts>}` when `teams.facts` is set).
//!
//! `sections`, `facts` and `potentialAction` are decoded and re-encoded as Go does it (arrays of
//! `map[string]any`): keys sorted, numbers as `float64` in Go's format, `<`, `>` and `&` escaped
//! as `\u003c`, `\u003e`, `\u0026`, every string escaped as Go's `encoding/json` escapes it: the
//! same bytes as Argo's. Text that does not decode fails as in Argo, with Go's message
//! (`teams sections unmarshalling error invalid character '}' after array element`).
//!
//! # The answer
//!
//! As teams.go reads it: the notification is delivered when the answer's body is exactly `1`
//! (what an Office 365 connector webhook answers), whatever the status; any other body is
//! `teams webhook post error: <body> (status <status>)`, the body cut to 1 KiB. No response is
//! `Post "<scheme>://<host>/...": <why>` (the rest of a webhook URL is its secret, so it is not
//! shown). Not retried, as in Argo.
//!
//! # Not supported
//!
//! JSON nested deeper than 1000 levels fails (Go allows 10000). Power Automate "Workflows"
//! webhooks, which answer `202` with an empty body, are Argo's separate `teams-workflows` service
//! (Adaptive Cards), not this one: through `teams` they fail as they do in Argo.

use std::collections::BTreeMap;

use aviary_plugin_sdk::export_notifier;
use aviary_plugin_sdk::gojson;
use aviary_plugin_sdk::http::{self, Request, Response, status_line};
use aviary_plugin_sdk::notifier::{Error, Notification, Notifier, quote_body, warn_insecure_skip_verify};
use serde::Deserialize;
use serde_json::Value;

/// The card's `@type`.
pub const CARD_TYPE: &str = "MessageCard";
/// The card's `context`.
pub const CARD_CONTEXT: &str = "https://schema.org/extensions";

/// The service's config: `service.teams`. Fields Aviary does not implement are accepted and
/// ignored (see the crate docs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// The webhook URL of each recipient.
    #[serde(default, rename = "recipientUrls")]
    pub recipient_urls: Option<BTreeMap<String, String>>,
    /// Argo's switch to skip TLS verification: accepted, never honoured (the host verifies).
    #[serde(default)]
    pub insecure_skip_verify: Option<bool>,
}

impl Config {
    /// The webhook URL of `recipient`, or an error naming the recipient and the field.
    pub fn webhook_url(&self, recipient: &str) -> Result<&str, Error> {
        match self.recipient_urls.as_ref().and_then(|urls| urls.get(recipient)) {
            None => Err(Error(format!("teams: no webhook URL for recipient {recipient:?} in recipientUrls"))),
            Some(url) if url.trim().is_empty() => {
                Err(Error(format!("teams: empty webhook URL for recipient {recipient:?} in recipientUrls")))
            }
            Some(url) => Ok(url),
        }
    }
}

/// The template's `teams` block, as Argo's `TeamsNotification` (rendered); an absent field is
/// empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeamsTemplate {
    /// A whole card, sent as it is.
    pub template: String,
    /// The card's title.
    pub title: String,
    /// The card's summary.
    pub summary: String,
    /// The card's text, over the message.
    pub text: String,
    /// The card's theme color.
    pub theme_color: String,
    /// JSON: the facts of an extra last section.
    pub facts: String,
    /// JSON: the card's sections.
    pub sections: String,
    /// JSON: the card's actions.
    pub potential_action: String,
}

/// A string field of a template block: `null` or absent is empty, a number or a boolean its JSON
/// text (as Go's YAML decoding turns a scalar into the string field's text), anything else an
/// error naming `block.name`.
pub fn string_field(block: &Value, block_name: &str, name: &str) -> Result<String, Error> {
    match block.get(name) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(v.to_string()),
        Some(other) => Err(Error(format!(
            "invalid template: {block_name}.{name}: expected a string, found {}",
            if other.is_array() { "an array" } else { "an object" }
        ))),
    }
}

impl TeamsTemplate {
    /// The `teams` block of a rendered template: `None` when the template has none.
    pub fn of(template: &Value) -> Result<Option<TeamsTemplate>, Error> {
        let block = match template.get("teams") {
            None | Some(Value::Null) => return Ok(None),
            Some(block @ Value::Object(_)) => block,
            Some(_) => return Err(Error::msg("invalid template: teams: expected an object")),
        };
        let field = |name: &str| string_field(block, "teams", name);
        Ok(Some(TeamsTemplate {
            template: field("template")?,
            title: field("title")?,
            summary: field("summary")?,
            text: field("text")?,
            theme_color: field("themeColor")?,
            facts: field("facts")?,
            sections: field("sections")?,
            potential_action: field("potentialAction")?,
        }))
    }
}

/// Go's name of a section's type (`teamsSection = map[string]any`).
const SECTION: &str = "map[string]interface {}";
/// Go's name of an action's type (`teamsAction map[string]any`, a named type).
const ACTION: &str = "services.teamsAction";

/// The body teams.go sends for `message` and the template's `teams` block (see the crate docs).
pub fn body(message: &str, teams: Option<&TeamsTemplate>) -> Result<String, Error> {
    let Some(teams) = teams else { return Ok(card(message, &TeamsTemplate::default(), None, None)) };
    if !teams.template.is_empty() {
        return Ok(teams.template.clone());
    }
    let mut sections: Option<Vec<gojson::Value>> = None;
    if !teams.sections.is_empty() {
        sections = gojson::decode_array(&teams.sections, &format!("[]{SECTION}"), gojson::check_map(SECTION))
            .map_err(|e| Error(format!("teams sections unmarshalling error {e}")))?;
    }
    if !teams.facts.is_empty() {
        let facts = gojson::decode_array(&teams.facts, &format!("[]{SECTION}"), gojson::check_map(SECTION))
            .map_err(|e| Error(format!("teams facts unmarshalling error {e}")))?;
        let facts = facts.map_or(gojson::Value::Null, gojson::Value::Array);
        sections.get_or_insert_with(Vec::new).push(gojson::Value::Object(vec![("facts".to_string(), facts)]));
    }
    let mut actions = None;
    if !teams.potential_action.is_empty() {
        actions = gojson::decode_array(&teams.potential_action, &format!("[]{ACTION}"), gojson::check_map(ACTION))
            .map_err(|e| Error(format!("teams potential action unmarshalling error {e}")))?;
    }
    Ok(card(message, teams, actions.as_deref(), sections.as_deref()))
}

/// Go's `json.Marshal(teamsMessage)`: the fields in the struct's order, `themeColor`,
/// `potentialAction` and `sections` left out when empty.
fn card(
    message: &str,
    teams: &TeamsTemplate,
    actions: Option<&[gojson::Value]>,
    sections: Option<&[gojson::Value]>,
) -> String {
    let text = if teams.text.is_empty() { message } else { &teams.text };
    let mut out = String::from("{\"@type\":");
    gojson::write_string(&mut out, CARD_TYPE);
    out.push_str(",\"context\":");
    gojson::write_string(&mut out, CARD_CONTEXT);
    for (name, value) in [("title", &teams.title), ("summary", &teams.summary), ("text", &text.to_string())] {
        out.push_str(&format!(",\"{name}\":"));
        gojson::write_string(&mut out, value);
    }
    if !teams.theme_color.is_empty() {
        out.push_str(",\"themeColor\":");
        gojson::write_string(&mut out, &teams.theme_color);
    }
    for (name, items) in [("potentialAction", actions), ("sections", sections)] {
        if let Some(items) = items.filter(|items| !items.is_empty()) {
            out.push_str(&format!(",\"{name}\":"));
            gojson::write(&mut out, &gojson::Value::Array(items.to_vec()));
        }
    }
    out.push('}');
    out
}

/// The request of one notification, before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The recipient's webhook URL.
    pub url: String,
    /// The JSON body.
    pub body: String,
}

impl Plan {
    /// The request of `notification` under `config`, as teams.go's `Send` builds it.
    pub fn new(notification: &Notification, config: &Config) -> Result<Plan, Error> {
        let url = config.webhook_url(&notification.recipient)?.to_string();
        let teams = TeamsTemplate::of(&notification.template)?;
        Ok(Plan { url, body: body(notification.message(), teams.as_ref())? })
    }

    /// The HTTP request: Go's `client.Post(url, "application/json", body)`.
    pub fn request(&self) -> Request {
        Request::post(self.url.clone()).header("Content-Type", "application/json").body(self.body.clone().into_bytes())
    }
}

/// `<scheme>://<host>/...`: a URL shown without what follows its host (a webhook URL's path and
/// query are its secret).
pub fn shown_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return "...".to_string() };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, host)| host);
    format!("{scheme}://{host}/...")
}

/// Judges the outcome of the post as teams.go does: delivered when the body is exactly `1`,
/// whatever the status.
pub fn verdict(url: &str, outcome: Result<Response, http::Error>) -> Result<(), Error> {
    let response = outcome.map_err(|e| Error(format!("Post {:?}: {e}", shown_url(url))))?;
    if response.body == b"1" {
        return Ok(());
    }
    Err(Error(format!(
        "teams webhook post error: {} (status {})",
        quote_body(&response.body),
        status_line(response.status)
    )))
}

/// The service.
pub struct Teams;

impl Notifier for Teams {
    fn send(notification: Notification) -> Result<(), Error> {
        let config: Config = notification.config_as()?;
        let plan = Plan::new(&notification, &config)?;
        warn_insecure_skip_verify("teams", config.insecure_skip_verify);
        verdict(&plan.url, plan.request().send())
    }
}

export_notifier!(Teams);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const URL: &str = "https://example.webhook.office.com/webhookb2/g@t/IncomingWebhook/i/s";

    fn notification(template: Value) -> Notification {
        Notification::new("teams", "teams")
            .with_config(json!({"recipientUrls": {"test": URL}}))
            .with_recipient("test")
            .with_template(template)
    }

    fn plan(template: Value) -> Plan {
        let n = notification(template);
        Plan::new(&n, &n.config_as().unwrap()).unwrap()
    }

    fn plan_err(template: Value) -> String {
        let n = notification(template);
        Plan::new(&n, &n.config_as().unwrap()).unwrap_err().0
    }

    fn response(status: u16, body: &str) -> Response {
        Response { status, headers: Vec::new(), body: body.as_bytes().to_vec() }
    }

    // The expected bodies below are what Argo's teams service sent for the same template
    // (notifications-engine at the version Argo Rollouts v1.10.1 uses, to a test server).

    #[test]
    fn the_default_message_is_a_message_card() {
        // TestTeams_DefaultMessage.
        let p = plan(json!({"message": "simple message"}));
        let body = r#"{"@type":"MessageCard","context":"https://schema.org/extensions","title":"","summary":"","text":"simple message"}"#;
        assert_eq!(p.url, URL);
        assert_eq!(p.body, body);
        assert_eq!(p.request(), Request::post(URL).header("Content-Type", "application/json").body(body));
        // An empty block is the same card; no message is an empty text.
        assert_eq!(plan(json!({"message": "simple message", "teams": {}})).body, body);
        assert_eq!(
            plan(json!({"teams": null})).body,
            r#"{"@type":"MessageCard","context":"https://schema.org/extensions","title":"","summary":"","text":""}"#
        );
    }

    #[test]
    fn a_template_is_sent_as_it_is() {
        // TestTeams_TemplateMessage.
        let p = plan(json!({"message": "m", "teams": {"template": "template body", "title": "ignored"}}));
        assert_eq!(p.body, "template body");
        assert_eq!(p.request(), Request::post(URL).header("Content-Type", "application/json").body("template body"));
    }

    #[test]
    fn the_blocks_fields_fill_the_card() {
        // TestTeams_MessageFields.
        let p = plan(json!({
            "message": "welcome message",
            "teams": {
                "text": "Text", "facts": "[{\"facts\": true}]", "sections": "[{\"sections\": true}]",
                "potentialAction": "[{\"actions\": true}]", "title": "Title", "summary": "Summary",
                "themeColor": "#000080",
            },
        }));
        assert_eq!(
            p.body,
            r##"{"@type":"MessageCard","context":"https://schema.org/extensions","title":"Title","summary":"Summary","text":"Text","themeColor":"#000080","potentialAction":[{"actions":true}],"sections":[{"sections":true},{"facts":[{"facts":true}]}]}"##
        );
        let p = plan(json!({"teams": {
            "facts": "[{\"name\":\"Sync\",\"value\":\"ok\"}]",
            "sections": "[{\"activityTitle\":\"t\"},{\"text\":\"x\"}]",
        }}));
        assert_eq!(
            p.body,
            r#"{"@type":"MessageCard","context":"https://schema.org/extensions","title":"","summary":"","text":"","sections":[{"activityTitle":"t"},{"text":"x"},{"facts":[{"name":"Sync","value":"ok"}]}]}"#
        );
    }

    #[test]
    fn json_is_re_encoded_as_go_encodes_it() {
        let p = plan(json!({
            "message": "a <b> & \"c\"\n\t\u{1}\u{2028} é",
            "teams": {
                "facts": "[{\"name\":\"n\",\"value\":1.5e21,\"z\":1,\"a\":{\"y\":2,\"b\":1e-7,\"c\":12345678901234567890,\"d\":0.1,\"e\":-0,\"f\":1e20,\"g\":[null,\"<x>\"]}}]",
                "sections": "null",
                "potentialAction": "[]",
            },
        }));
        assert_eq!(
            p.body,
            r#"{"@type":"MessageCard","context":"https://schema.org/extensions","title":"","summary":"","text":"a \u003cb\u003e \u0026 \"c\"\n\t\u0001\u2028 é","sections":[{"facts":[{"a":{"b":1e-7,"c":12345678901234567000,"d":0.1,"e":-0,"f":100000000000000000000,"g":[null,"\u003cx\u003e"],"y":2},"name":"n","value":1.5e+21,"z":1}]}]}"#
        );
        let p = plan(json!({"teams": {"sections": "[null, {\"a\":\"\\ud83d\\ude00\\ud800x\"}]"}}));
        assert_eq!(
            p.body,
            r#"{"@type":"MessageCard","context":"https://schema.org/extensions","title":"","summary":"","text":"","sections":[null,{"a":"😀�x"}]}"#
        );
        // Facts of `null` are a section of null facts.
        let p = plan(json!({"teams": {"facts": "null"}}));
        assert!(p.body.ends_with(r#""text":"","sections":[{"facts":null}]}"#), "{}", p.body);
    }

    #[test]
    fn bad_json_fails_with_gos_messages() {
        assert_eq!(
            plan_err(json!({"teams": {"sections": "{}"}})),
            "teams sections unmarshalling error json: cannot unmarshal object into Go value of type []map[string]interface {}"
        );
        assert_eq!(
            plan_err(json!({"teams": {"facts": "[1]"}})),
            "teams facts unmarshalling error json: cannot unmarshal number into Go value of type map[string]interface {}"
        );
        assert_eq!(
            plan_err(json!({"teams": {"potentialAction": "[{"}})),
            "teams potential action unmarshalling error unexpected end of JSON input"
        );
        assert_eq!(
            plan_err(json!({"teams": {"potentialAction": "[1]"}})),
            "teams potential action unmarshalling error json: cannot unmarshal number into Go value of type services.teamsAction"
        );
        assert_eq!(
            plan_err(json!({"teams": {"potentialAction": "{}"}})),
            "teams potential action unmarshalling error json: cannot unmarshal object into Go value of type []services.teamsAction"
        );
        assert_eq!(
            plan_err(json!({"teams": {"sections": "[{\"a\" 1}]"}})),
            "teams sections unmarshalling error invalid character '1' after object key"
        );
        assert_eq!(
            plan_err(json!({"teams": {"sections": "[{\"a\":1e400}]"}})),
            "teams sections unmarshalling error json: cannot unmarshal number 1e400 into Go value of type float64"
        );
        assert_eq!(
            plan_err(json!({"teams": {"sections": " "}})),
            "teams sections unmarshalling error unexpected end of JSON input"
        );
        // Sections are decoded first, as in Go.
        assert!(plan_err(json!({"teams": {"facts": "x", "sections": "y"}})).starts_with("teams sections"));
    }

    #[test]
    fn template_blocks_of_the_wrong_shape_name_the_field() {
        assert_eq!(
            plan_err(json!({"teams": {"facts": [{"name": "n"}]}})),
            "invalid template: teams.facts: expected a string, found an array"
        );
        assert_eq!(plan_err(json!({"teams": "x"})), "invalid template: teams: expected an object");
        // A scalar is its text, as Go's YAML decoding makes it.
        assert!(plan(json!({"teams": {"title": 12}})).body.contains(r#""title":"12""#));
    }

    #[test]
    fn the_recipient_must_have_a_webhook_url() {
        let n = notification(json!({"message": "m"})).with_recipient("other");
        assert_eq!(
            Plan::new(&n, &n.config_as().unwrap()).unwrap_err().0,
            r#"teams: no webhook URL for recipient "other" in recipientUrls"#
        );
        let n = n.with_config(json!({"recipientUrls": {"other": ""}}));
        assert_eq!(
            Plan::new(&n, &n.config_as().unwrap()).unwrap_err().0,
            r#"teams: empty webhook URL for recipient "other" in recipientUrls"#
        );
        let n = n.with_config(Value::Null);
        assert_eq!(
            Plan::new(&n, &n.config_as().unwrap()).unwrap_err().0,
            r#"teams: no webhook URL for recipient "other" in recipientUrls"#
        );
        let wrong = n.with_config(json!({"recipientUrls": ["u"]})).config_as::<Config>().unwrap_err().0;
        assert!(wrong.starts_with("invalid config: recipientUrls: invalid type: sequence"), "{wrong}");
    }

    #[test]
    fn configs_accept_argos_fields() {
        let n = notification(json!({})).with_config(json!({
            "recipientUrls": {"a": "https://a"}, "insecureSkipVerify": true, "maxIdleConns": 3,
            "idleConnTimeout": "90s",
        }));
        let config: Config = n.config_as().unwrap();
        assert_eq!(config.webhook_url("a").unwrap(), "https://a");
        assert_eq!(config.insecure_skip_verify, Some(true));
    }

    #[test]
    fn only_a_body_of_1_is_delivered() {
        // TestTeams_Office365Connector_Success, _Error, _NonOneResponse, _WorkflowsWebhook_StatusError.
        assert_eq!(verdict(URL, Ok(response(200, "1"))), Ok(()));
        assert_eq!(verdict(URL, Ok(response(400, "1"))), Ok(()));
        assert_eq!(
            verdict(URL, Ok(response(200, "error message"))).unwrap_err().0,
            "teams webhook post error: error message (status 200 OK)"
        );
        assert_eq!(
            verdict(URL, Ok(response(200, "not one"))).unwrap_err().0,
            "teams webhook post error: not one (status 200 OK)"
        );
        assert_eq!(
            verdict(URL, Ok(response(202, ""))).unwrap_err().0,
            "teams webhook post error:  (status 202 Accepted)"
        );
        let long = verdict(URL, Ok(response(500, &"x".repeat(5000)))).unwrap_err().0;
        assert_eq!(long, format!("teams webhook post error: {} (status 500 Internal Server Error)", "x".repeat(1024)));
        assert_eq!(
            verdict(URL, Err(http::Error::Transport("connection refused".into()))).unwrap_err().0,
            "Post \"https://example.webhook.office.com/...\": transport error: connection refused"
        );
        assert_eq!(shown_url("https://u:p@h:8443/x?y"), "https://h:8443/...");
        assert_eq!(shown_url("nope"), "...");
    }
}
